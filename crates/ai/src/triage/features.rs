//! What the detector sees of a message: hashed sparse features.
//!
//! Four groups, each cheap to compute on the normalised text ([`super::text`]):
//! - word unigrams (a negated word is its own feature, `!swelling`) and bigrams;
//! - character 3-5-grams of each word that is not negated (with `<`/`>` at the word's ends), so a
//!   typo still shares most of its grams with the word it misspells;
//! - concepts: small English/Spanish/Portuguese lexicons (body part, swelling, airway and
//!   swallowing signs, bleeding by quantity or time, failed painkillers, lost sleep...). Each fires
//!   in one of three states: present (`k:`), only negated (`k!`), or only in a clause that is not
//!   happening now (`k~`: hypothetical, resolved, past, in a story or on screen). A few pairs of
//!   present concepts (`j:`) give the linear model the conjunctions a rule would use;
//! - context cues about the whole message (`x:`): fiction, screen, games, planning, someone
//!   else's handled case, long past, "not an emergency"; and which rows of the old rules table fit
//!   its present text (`r:`), so the model can learn how far to trust each one.
//!
//! Features are 64-bit FNV-1a hashes of their names; the trainer keeps the ones seen in at least
//! two training messages (the vocabulary) and the model stores their hashes, so there is no string
//! table at run time and unseen features cost nothing. Values: 1 for concepts, cues and rule rows;
//! the n-gram groups are scaled by 1/sqrt(count) so long emails do not outweigh short texts.

use super::rules::{RuleMatcher, expand};
use super::text::{Lexicons, Prepared, TextRules, compile_set};

/// Bump whenever a change here (or in [`super::text`] or [`super::rules`]) changes the features a
/// message gets: the committed model records it and a test refuses a model built by another.
pub const FEATURISER_VERSION: u32 = 4;

/// Where a concept is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// In the live text (negated words masked).
    Live,
    /// In the present text with negated words kept: for concepts that contain a negation
    /// themselves ("nothing helps", "no sleep").
    Unmasked,
}

/// Concept lexicons (`{NAME}` inserts a fragment of [`super::rules::FRAGMENTS`]).
const CONCEPTS: &[(&str, Scope, &str)] = &[
    (
        "swell",
        Scope::Live,
        r"{SWELL}|lump\w*|bump|bulge|bulging|bola|bolinha|caroco|bulto",
    ),
    ("face", Scope::Live, r"{FACE}"),
    (
        "eye",
        Scope::Live,
        r"eye|eyes|eyelid\w*|ojo|ojos|parpado\w*|olho|olhos|palpebra\w*|cant see out of",
    ),
    (
        "neck",
        Scope::Live,
        r"neck|throat|under (my|the|his|her|their) (jaw|chin|tongue)|floor of (my|the|his|her) mouth|below (the|my|his|her) jaw|cuello|garganta|pescoco|debajo de la lengua|embaixo da lingua|debaixo da lingua|under (the |my |his |her )?chin|underneath (the|my|his|her) (jaw|chin|tongue)|adams apple|maca de adao|nuez|papo|papada|debaixo (do|da) (maxilar|queixo)|debajo de (la|el) (mandibula|barbilla|menton)|bajo la (mandibula|barbilla)",
    ),
    (
        "breath",
        Scope::Live,
        r"{BREATH_BAD}|breath\w*|respir\w*|airway|air way",
    ),
    ("breath_bad", Scope::Live, r"{BREATH_BAD}"),
    (
        "swallow_bad",
        Scope::Live,
        r"{SWALLOW_BAD}|(spit|saliva|drool|dribble)\w* (everywhere|out|running|pooling)|spitting (out )?(my |his |her )?(own )?saliva|(own|his|her) (spit|saliva)|saliva|baba\w*|babea\w*|escorr\w* (baba|saliva)|lean\w* over the (sink|bowl)|spit\w* into (a|the) (cup|bowl|sink|tissue|bucket)|refus\w* (sips|water|drinks|to drink|fluids)|wont (drink|swallow)|nao engole|no traga|nao desce|no baja",
    ),
    (
        "voice",
        Scope::Live,
        r"voice\w*|hot potato|muffled|talk\w* funny|speak\w* funny|sounds? (different|strange|weird|funny|muffled)|cant (talk|speak)|slurr\w*|voz|habla raro|fala estranh\w*|(falar|fala|falando) [^.,]{0,12}(esquisit\w*|estranh\w*|arrastad\w*|enrolad\w*|abafad\w*|embolad\w*|diferente)|(habla|hablar|hablando) [^.,]{0,12}(rar[oa]|gangos\w*|arrastrad\w*|distint\w*|como si)|gangos\w*|(boca|mouth) (cheia|llena|full)|como se tivesse|como si tuviera|talking like|sounds like (he|she|i|they)",
    ),
    (
        "tongue_up",
        Scope::Live,
        r"tongue [^.,]{0,30}(pushed|lifted|raised|rising|pushing up|sticking out|swollen|swelling|huge|big)|(raised|lifted|swollen) tongue|lengua [^.,]{0,30}(levantad\w*|hinchad\w*|sube)|lingua [^.,]{0,30}(levantad\w*|inchad\w*|sobe)",
    ),
    ("fever", Scope::Live, r"{FEVER}|hot to touch|burning hot|sweating"),
    (
        "unwell",
        Scope::Live,
        r"(very|really|so|extremely|quite) (unwell|ill|sick|poorly|weak)|unwell|poorly|feel\w* (awful|terrible|faint|dizzy|sick|rough|dreadful)|vomit\w*|throwing up|being sick|dizzy|faint\w*|letharg\w*|confus\w*|drowsy|floppy|out of it|muy mal|malestar|mareo|maread\w*|vomit\w*|muito mal|tont\w*|enjoad\w*|desmai\w*|fraco|fraca|debil",
    ),
    (
        "spread",
        Scope::Live,
        r"spread\w*|tracking|moving (up|down|to|into|towards)|creeping|going (up|down) (to|towards|into)|(up|down) (to|towards|into) (my|the|his|her) (eye|neck|ear|throat|temple)|getting bigger|bigger (by|every|each)|(worse|bigger) (by the|every|each) hour|extend\w*|se esta (extendiendo|pasando)|sube|subiendo|espalh\w*|alastr\w*|aumentando|crescendo|cada vez (mas|mais|maior|mayor)",
    ),
    (
        "asymmetry",
        Scope::Live,
        r"one side [^.]{0,30}(bigger|larger|swollen|puffy|fatter|higher|lower|different)|lopsided|twice the size|double the size|(bigger|larger|fatter) than (the other|my other|usual|normal|before|yesterday)|like a (golf ball|tennis ball|balloon|hamster|chipmunk|ping pong|grape|egg|marble|plum)|(hamster|chipmunk)|(cant|cannot) see (out of )?(my |his |her )?(eye|left eye|right eye)|eye [^.]{0,20}(shut|closing|closed|puffy)|asimetri\w*|assimetri\w*|un lado [^.]{0,20}(mas grande|hinchado)|um lado [^.]{0,20}(maior|inchado)|como una pelota|como uma bola|como un globo|como um balao|como uma bexiga|parece (una|uma) (pelota|bola)",
    ),
    (
        "bleed",
        Scope::Live,
        r"bleed\w*|blood\w*|bled|sangr\w*|sangue|hemorr\w*|haemorr\w*|oozing|ooze\w*",
    ),
    (
        "bleed_amount",
        Scope::Live,
        r"soaked|soaking|soak|drench\w*|pouring|gushing|streaming|dripping|full of blood|filling (up )?with blood|fills (up )?with blood|mouthful\w*|mouth full|cup\w* of blood|clots? (the size|like)|(pillow|sheet|shirt|towel|sink|floor)s? [^.]{0,20}(covered|soaked|red|full)|through (\d+|two|three|four|five|several|many|all|the|a|another|every) [^.]{0,15}(gauze|pads?|towel\w*|tissues?|tea ?bags?)|(\d+|two|three|four|five|six|several|many|loads of|lots of|box of|whole pack of) (gauze\w*|pads?|towels?|tissues?|tea ?bags?)|unstopped|nonstop|non stop|wont clot|constant\w*|continu\w*|keeps? (on )?(bleeding|coming|filling|oozing)|still (bleeding|bleeds|coming|oozing)|so much blood|a lot of blood|lots of blood|heav\w*|empapad\w*|encharcad\w*|lleno de sangre|llena de sangre|cheio de sangue|cheia de sangue|sin parar|sem parar|mucha sangre|muito sangue|no para|nao para|chorr\w*|whole (pack|box|packet)|(all|half) (the|my) gauze|(red|soaked|full) (within|in|after) (a |about )?(few |couple of )?(minutes|seconds|mins)|(gauze|pad|pads|tea bag|teabag)s? [^.]{0,25}(red|soaked|full|bright)|(chang|replac|swap)\w* (the )?(gauze|pad)\w* [^.]{0,20}(times|every)|(gasa|gasas|gaze|gazes|compressa\w*) [^.]{0,25}(empapad\w*|encharcad\w*|vermelh\w*|roj[ao]s?|llen[ao]s?|cheia\w*)|(cambi\w*|troc\w*) (la |a |de )?(gasa|gaze)\w* [^.]{0,20}(veces|vezes)",
    ),
    (
        "duration",
        Scope::Live,
        r"(\d+|one|two|three|four|five|six|several|few|couple of|many|24|48) (hours|hrs|hour|days|nights|weeks|horas|dias|noches|noites|semanas)|(all|whole) (day|night|morning|evening|weekend)|since (yesterday|last night|this morning|monday|tuesday|wednesday|thursday|friday|saturday|sunday|the weekend|lunch|breakfast|dinner)|desde (ayer|anoche|ontem|esta manana|esta manha|hace)|hours (now|later|ago|and)|for hours|overnight|toda la (noche|manana)|a noite toda|toda a noite|o dia todo|todo el dia|since (about |around )?(\d+|noon|midday)|(\d+|one|two|three|four|five|several) (hrs|hours) (now|straight|solid)|desde (las|as|a) \d+|desde (el|o) (lunes|martes|miercoles|jueves|viernes|sabado|domingo|segunda|terca|quarta|quinta|sexta)|(lleva|llevo|leva|levo) (\w+ )?(dias|horas|noches|noites|semanas)",
    ),
    ("pain", Scope::Live, r"{PAIN}"),
    (
        "intense",
        Scope::Live,
        r"{INTENSE}|worst|screaming|crying|in tears|cant (think|function|work|eat|cope|bear|stand it|take it)|beside myself|losing my mind|going mad|going crazy|through the roof|off the charts|(9|10|ten|nine) (out of|over) (10|ten)|sin poder|no aguanto|no puedo mas|nao aguento|nao suporto|desesperad\w*|llorando|chorando|chor\w*|llor\w*|cried|sobbing|mil veces peor|mil vezes pior|(much|way|ten times|a thousand times) worse|unbearable",
    ),
    (
        "painkiller_fail",
        Scope::Unmasked,
        r"unrelieved|(painkillers?|pain killers?|ibuprofen|paracetamol|tylenol|advil|nurofen|motrin|aleve|naproxen|co ?codamol|codeine|solpadeine|panadol|aspirin|pills|tablets|meds|medication|medicine|analgesic\w*|analgesico\w*|pastillas|remedios?|comprimidos?|dipirona|nolotil|ibuprofeno)\w* [^.]{0,40}(not|dont|doesnt|arent|isnt|wont|barely|hardly|no|nao|nothing|useless|inutil\w*|zero) [^.]{0,20}(help|work|touch|do|effect|differen|dent|ayud|funcion|sirv|hace|adiant|resolv|ajud|faz|efeito)\w*|(maxed out|max dose|maximum dose|double dosing|doubling up|taking loads of|alternating|every \d hours|around the clock|on top of)|nothing (helps|works|touches|is helping|is working)|nada (ayuda|funciona|sirve|adianta|resolve|ajuda)|(tomei|tome|tomado|took|tried|taken|probado|provei|probe|tomamos|tried) (de )?(tudo|todo|everything|all sorts|every (painkiller|tablet|pill))|(ya|ja) (tom\w*|prob\w*|provei) [^.]{0,30}(y nada|e nada|sin efecto|sem efeito|no (me )?(hace|hizo)|nao (fez|faz|adiant))|ni (el|la|los|las) \w+ (ayuda|funciona)|nem (o|a|os|as) \w+ (ajuda|resolve|adianta)",
    ),
    (
        "sleep_loss",
        Scope::Unmasked,
        r"(cant|couldnt|could not|unable to|didnt|did not|havent|have not|hasnt|not) (sleep|slept|get to sleep|get any sleep)|no sleep|zero sleep|sleepless|up all night|awake all night|(\d+|two|three|four) (nights|noches|noites) (without|sin|sem|of no)|sin dormir|sem dormir|no (puedo|pude|he podido|he) dormi\w*|nao (consigo|consegui|dormi|durmo)\w*|no he pegado ojo|nao preguei olho|pass\w* la noche|passei a noite|(no|nao) (durmo|duermo|dormi|dormiu|duerme|dorme)|sin pegar ojo|sem pregar (o )?olho|up (half|most of) the night",
    ),
    (
        "wakes",
        Scope::Live,
        r"(kept|keeps|keeping|woke|wakes|waking|waken\w*|wake) (me|him|her|us|them)? ?(up|awake)|woke (me|him|her) (up )?(at|in)|(le|lo|la|me|o|a) (despierta|desperto|desperto|acorda|acordou|acordava)|acordo (a noite|de noite|com dor)|wakes? (me|him|her|them) (up )?(at night|every night|in the night|several times)|waking (up )?(at night|in the night|every night)",
    ),
    (
        "throb",
        Scope::Live,
        r"throb\w*|pulsing|pulsating|pounding|heartbeat|pulsa\w*|latej\w*|late\w* (como|igual)|punzad\w*|pontad\w*",
    ),
    (
        "lingering",
        Scope::Live,
        r"linger\w*|lasts? (for )?(ages|minutes|a long time|\d+|several|a few)|for (minutes|ages) after|long after|stays? (for|after)|wont go away after|on its own|out of nowhere|for no reason|randomly|spontaneous\w*|wakes? me|woke me|sin motivo|de repente|do nada|sem motivo|sozinha|sola|dura (minutos|mucho|muito)|(por|durante|for) (varios |vários |several |a few )?minut\w*|(deixa|fica|queda|se queda) (a |la )?dor|stays (even )?after|(le|me) dura",
    ),
    (
        "hot_cold",
        Scope::Live,
        r"hot|cold|heat|ice|icy|warm|drinks?|caliente|frio|fria|calor|quente|gelad\w*|helad\w*",
    ),
    (
        "trauma",
        Scope::Live,
        r"{TRAUMA}|hit by|got hit|was hit|blow to|smashed|caiu|cayo|se cayo|levou|recibio un|codazo|cabezazo|pelotazo|balonazo|rodillazo|punetazo|patada|cotovelada|cabecada|bolada|joelhada|murro|(recibido|recibio|levou|levei|took) (un|uma|um|a) (golpe|pancada|codazo|cotovelada|cabecada|boot|knee|elbow|ball|stick|hit)",
    ),
    ("tooth", Scope::Live, r"{TOOTH}"),
    ("broke", Scope::Live, r"{BROKE}"),
    (
        "pulp",
        Scope::Live,
        r"(pink|red|bloody) (dot|spot|bit|centre|center|middle|thing)|nerve (is )?(showing|exposed|visible)|exposed nerve|see (the|a) (nerve|pink|red)|pulp|pulpa|polpa|nervio|nervo|punto (rosa|rojo)|ponto (rosa|vermelho)",
    ),
    (
        "knocked_out",
        Scope::Live,
        r"knocked out|came out (whole|completely|root and all|in one piece)|(fell|popped|came|come|flew) (right |clean |completely )?out|(whole|entire) tooth|root (and all|attached|still on|is on)|in (a |some )?(cup|glass|carton) of milk|in milk|(is|its|it|tooth) in (milk|saliva|my hand|a cup)|salio entero|se (me |le )?(cayo|salio) (el|un) diente|saiu inteiro|caiu (o|um) dente|dente caiu|diente se cayo|arrancou|(leche|leite)|(tooth|teeth|incisor|it) [^.,]{0,15}(completely|totally|right|clean|fully) out|(saltou|salto|salio|saiu|caiu|cayo) (inteir[oa]|enter[oa]|fuera|para fora)|(con|com) (la |a )?raiz|with (the |its )?root|(en|na) (la |a )?mano|na mao|in (my|his|her|their) hand|found (it|the tooth)|(meti|metemos|pus|puse|coloquei|coloque)\w* de (volta|vuelta)|put (it )?back in|knocked (his|her|my|their|a|the|one of) [^.,]{0,20}(tooth|teeth) out",
    ),
    ("baby", Scope::Live, r"{BABY}"),
    (
        "loose_moved",
        Scope::Live,
        r"loose|looser|wobbl\w*|wiggl\w*|moves? (when|if|back|forward)|moving|pushed (in|back|up|out|forward|into)|shoved (up|in|back)|(knocked|bent|tilted|pushed) (back|sideways|forward|out of (line|place))|out of (line|place|position)|sticking out|longer than (the|my) other|higher than|lower than|crooked now|sideways|displaced|flojo|suelto|se mueve|torcido|mole|bambo\w*|abanando|torto|empurrad\w*|fora do lugar|fuera de sitio|metido para dentro|entrou para dentro|pushed (right |further |way |all the way )?(in|back|up|out|forward|into)|hanging|hangs|can move it|moves? (with|when i touch|if i touch)|(sits|sitting|is|looks) (slightly |a bit |now )?(sideways|crooked|forward|further back|out of line)|se (mueve|menea|balancea) (mucho|un monton)|mexe (muito|bastante)|(torto|torcido) agora",
    ),
    (
        "bite_off",
        Scope::Live,
        r"bite_off|(teeth|bite) (dont|doesnt|wont|no longer|not) (meet|fit|line up|come together)",
    ),
    (
        "numb",
        Scope::Live,
        r"numb\w*|tingl\w*|no feeling|pins and needles|dormente\w*|dormid\w*|adormecid\w*|entumecid\w*|hormigue\w*|formigu\w*",
    ),
    (
        "jaw_stuck",
        Scope::Live,
        r"(stuck|locked|jammed) (half |wide )?open|wont (close|shut|go back)|cant (close|shut) (it|my|his|her|the)|cant (fechar|cerrar)|no (se )?cierra|nao fecha|out of (joint|socket)|dislocat\w*|popped out|desencaj\w*|deslocad\w*|dislocad\w*|travad\w*|trabad\w*|boca (abierta|aberta)",
    ),
    (
        "trismus",
        Scope::Live,
        r"cant open (it|my|his|her|the)? ?(mouth|jaw)? ?(wide|properly|more than|fully|all the way|at all)?|(mouth|jaw) (wont|will not|doesnt) open|only (open|opens|get) [^.]{0,20}(finger|fingers|bit|little|cm|inch|mm)|(one|two|1|2) fingers? (wide|width|gap)|lockjaw|trismus|cant (abrir)|no (puedo|puede) abrir|nao (consigo|consegue) abrir|abre (muy )?poco|abre pouco",
    ),
    (
        "soft_cut",
        Scope::Live,
        r"(cut|gash|split|tear|torn|ripped|sliced|slit|hole|wound|laceration|bit (right )?through)\w* [^.]{0,25}(lip|tongue|cheek|gum|palate|roof of)|(lip|tongue|cheek|gum|palate) [^.]{0,25}(cut|gash|split|torn|ripped|hole|wound|gaping|open|hanging)|gaping|stitches? (needed|for)|need\w* stitches|corte|cortad\w*|rasgad\w*|rasgou|ferida (funda|aberta|profunda)|herida (abierta|profunda)|labio partido|labio cortado",
    ),
    (
        "wire",
        Scope::Live,
        r"wire\w*|bracket\w*|brace|braces|band|archwire|retainer wire|orthodont\w*|alambre|arame|fio|fios|frenillo|aparelho|brackets?|ortodon\w*|frenos|ligas?",
    ),
    (
        "poke",
        Scope::Live,
        r"pok\w*|stab\w*|dig\w*|digging|stick\w* (in|into|out)|pierc\w*|spik\w*|scratch\w*|cutting (into|my)|rubbing|raw|pinch\w*|clav\w*|pincha\w*|espet\w*|machuc\w*|fere\w*|lastima\w*",
    ),
    (
        "denture",
        Scope::Live,
        r"denture\w*|false teeth|plate|partial|dentadura\w*|protesis|protese|placa|chapa|postiz\w*",
    ),
    (
        "ulcer",
        Scope::Live,
        r"ulcer\w*|sore spot\w*|sores|blister\w*|raw|rubbed raw|llaga\w*|afta\w*|ulcera\w*|ferida\w*|machucad\w*|rozadura\w*|herida\w*",
    ),
    (
        "cant_eat",
        Scope::Live,
        r"cant (eat|chew|wear)|not (been )?eating|stopped eating|wont eat|refus\w* (to eat|food|meals|to drink)|no (puede|puedo) comer|no come|nao (consegue|consigo) comer|nao come|sin comer|sem comer",
    ),
    ("restoration", Scope::Live, r"{RESTORATION}"),
    ("came_out", Scope::Live, r"{CAME_OUT}"),
    (
        "wisdom",
        Scope::Live,
        r"wisdom|third molar|back tooth coming|erupting|coming through|cutting through|flap|gum over|muela del juicio|muelas del juicio|cordal|siso|dente do juizo|juizo|tercer molar|terceiro molar|half (erupted|through|out|way through|in)|part(ly|ially)? erupted|(a )?medio salir|meio nascid\w*|nascendo pela metade|encia que (tapa|cubre)|gengiva (que cobre|por cima)",
    ),
    ("extracted", Scope::Live, r"{EXTRACTED}"),
    ("procedure", Scope::Live, r"{PROCEDURE}"),
    (
        "postop_days",
        Scope::Live,
        r"(\d|two|three|four|five|six|seven|a few|couple of) days (after|since|ago|post|later)|day (\d|two|three|four|five)|(since|after) (the|my|his|her) (extraction|surgery|operation|implant|root canal|procedure)|post ?op|getting worse (after|since)|worse (each|every) day|(dias|dia) (despues|depois|tras|apos)|desde (la|a) (extraccion|extracao|cirugia|cirurgia)",
    ),
    ("stitches", Scope::Live, r"stitch\w*|sutur\w*|puntos|pontos|points came"),
    (
        "empty_socket",
        Scope::Live,
        r"(empty|dry|white|hole|bone)\w* [^.]{0,20}(socket|hole)|socket [^.]{0,25}(empty|dry|white|bone|smell|stink|taste)|see (the )?bone|(bad|foul|awful|horrible|rotten|disgusting) (smell|taste|breath)|stinks?|smells?|hueco vacio|alveolo|buraco vazio|alveolit\w*|dry socket|alveolo seco|gosto ruim|mau gosto|mal sabor|mau cheiro|mal olor|fedor",
    ),
    (
        "pus",
        Scope::Live,
        r"pus|puss|pussy|abscess\w*|boil|pimple|zit|whitehead|blister on (my|the) gum|gum (boil|bubble|bump|pimple)|discharge|oozing|leaking|(salty|bad|nasty|foul|disgusting|metallic|rotten) (taste|tasting|stuff|liquid|fluid)|tastes? (bad|nasty|foul|salty|disgusting|rotten)|absceso|flemon|postemilla|abscesso|fleimao|pus|bolinha|espinilla|granito|grano|pus|sai (pus|liquido)|sale (pus|liquido)|supur\w*|(huele|cheira|smells|smelling) (mal|bad|horrible|awful|foul|rotten|off)|sabe a (rancio|podrido)|sabor (a podre|podrido|rancio)",
    ),
    (
        "tender_bite",
        Scope::Live,
        r"(hurts|painful|sore|agony|tender|pain|kills|killing me) (to|when|if|on) (i )?(bite|biting|chew|chewing|tap|tapping|touch|press)|(bite|biting|chew|chewing|tapping|touching) (on )?(it )?(hurts|is painful|kills|is agony)|tender|raised|feels (taller|high|higher|long)|doi (ao|para) (morder|mastigar)|duele (al|para) (morder|masticar)",
    ),
    (
        "allergy",
        Scope::Live,
        r"allerg\w*|hives|rash\w*|itch\w*|blotch\w*|welts|anaphyla\w*|epi ?pen|adrenaline|epinephrine|alergi\w*|alergic\w*|urticaria|ronchas|habones|coceira|picazon|comezon|manchas rojas|manchas vermelhas",
    ),
    (
        "drug",
        Scope::Live,
        r"{DRUG}|after (the|my|his|her) (injection|jab|anaesthetic|anesthetic|numbing|appointment|treatment|filling|cleaning)|despues de (la|el) (inyeccion|anestesia)|depois da (injecao|anestesia)",
    ),
    ("child", Scope::Live, r"{CHILD}"),
    (
        "frail",
        Scope::Live,
        r"elderly|frail|dementia|alzheimer\w*|nonverbal|non verbal|cant (speak|talk|tell|communicate|say)|cannot tell|doesnt speak|learning disabilit\w*|autis\w*|down syndrome|cerebral palsy|care home|nursing home|residential|resident|service user|client|gran|granny|grandma|grandad|grandpa|grandmother|grandfather|nan|nana|mum|mom|dad|father|mother|elderly|\d\d year old (man|woman|mother|father|gentleman|lady)|abuel\w*|avo|avozinha|idos\w*|ancian\w*|residente|demencia|mayor|mae|mama|pai|papa",
    ),
    (
        "carer_signs",
        Scope::Live,
        r"(pulling|pulls|pulled|rubbing|rubs|hitting|hits|slapping|banging|holding|clutching|grabbing|touching) (at )?(his|her|their|its|the) (face|jaw|cheek|mouth|ear|head|chin)|refus\w*|wont (eat|drink|let|open)|not eating|stopped eating|off (his|her|their) food|moaning|groaning|grimac\w*|wincing|flinch\w*|agitated|distressed|crying out|screaming|whimper\w*|not (himself|herself|themselves)|unsettled|restless|no quiere comer|nao quer comer|nao come|se queja|geme|gemendo|agitad\w*|se toca (la )?cara|mexe na (cara|boca)",
    ),
    (
        "choke",
        Scope::Live,
        r"chok\w*|gag\w*|afog\w*|engasg\w*|ahog\w*|atragant\w*|sufoc\w*|drown\w*|cant lie (down|flat)|(lying|lie|lay) (down|flat) [^.]{0,25}(choke|choking|cant breathe|drown\w*|worse)|propped up|(sit|sitting|sat) (up|upright) (to|or|because|all)|(whistl|snor|rattl|gurgl|crackl|squeak)\w* (sound|noise|breath\w*)|(whistling|gurgling|rattling|snoring|squeaky)|ronquido|ronca\w*|chiado|silbido|pitido|estertor|deitad\w* [^.]{0,25}(afog\w*|sufoc\w*|nao consegue)|acostad\w* [^.]{0,25}(ahog\w*|no puede)",
    ),
    (
        "anticoag",
        Scope::Live,
        r"warfarin|rivaroxaban|apixaban|dabigatran|edoxaban|xarelto|eliquis|pradaxa|clopidogrel|plavix|coumadin|sintrom|heparin\w*|blood thinner\w*|thin (my|his|her) blood|anticoag\w*|haemophilia|hemophilia|hemofilia|bleeding disorder|von willebrand|chemo\w*|quimio\w*|low platelets|plaquetas",
    ),
    (
        "stitch_problem",
        Scope::Live,
        r"(stitch\w*|sutur\w*|puntos|pontos) [^.]{0,40}(due|removed|come out|quitar\w*|retirar\w*|tirar\w*|opened|open|loose|came out|abiert\w*|abri\w*|solt\w*)|(quitar|retirar|tirar)\w* (los |os |me los |me os )?(puntos|pontos)|(se ha|se le ha|se me ha) abierto|(abriu|abrio|opened up|came open|split open)",
    ),
    (
        "grind",
        Scope::Live,
        r"grind\w*|clench\w*|bruxis\w*|(range|rangendo|ranger|rangia) (os )?dentes|aperta\w* (os )?dentes|apret\w* (los )?dientes|rechin\w*|night ?guard|mouth ?guard|goteira\w*|ferula\w*|placa de (descanso|bruxismo)",
    ),
    (
        "teething",
        Scope::Live,
        r"teething|teethe|dentici\w*|denticao|nascendo (os )?dentes|gnaw\w*|(le|me) (estan )?saliendo los dientes|baby tooth (is )?(wobbly|loose|wiggly)|wobbly (baby )?tooth|wiggly tooth|diente de leche (flojo|se mueve)|dente de leite (mole|abanando)",
    ),
    (
        "well_signs",
        Scope::Unmasked,
        r"otherwise (happy|fine|well|ok|okay)|happy (and|enough)|(eating|feeding|sleeping|playing|drinking) (fine|well|normally|normal|ok|okay|happily)|(come|duerme|juega|bebe) (normal|bien)|(come|dorme|brinca|bebe) (normal|bem)|no se queja|nao se queixa|not bothered|doesnt bother|(hes|shes|im|were) (happy|delighted|fine|ok|okay|comfortable)|nothing major|no big deal|nada demais|nada grave|no es nada",
    ),
    (
        "chronic",
        Scope::Live,
        r"for (weeks|months|years|ages|a long time)|(weeks|months|years) now|(been|had it|had this) (there )?(for )?(years|ages|months)|since (i was|forever|childhood)|always (had|been)|as long as i (can )?remember|comes and goes|on and off|off and on|va y viene|vai e volta|hace (meses|anos)|ha (meses|anos)|desde sempre|desde siempre|de vez en cuando|de vez em quando",
    ),
    (
        "urgent_words",
        Scope::Live,
        r"urgent\w*|emergenc\w*|asap|right now|immediately|help|please help|help me|scared|panick\w*|worried|terrified|socorro|ayuda|ajuda|urgencia|emergencia|ya mismo|agora mesmo|rapido|depressa",
    ),
    (
        "mild",
        Scope::Live,
        r"{MILD}|little|bit|small|occasional\w*|sometimes|now and then|on and off|only when|brief\w*|quick|second or two|fades?|goes away|manageable|fine otherwise|otherwise fine|pequen\w*|poco|pouco|as vezes|a veces|rapidinho|(pinchazo|dor|dolor|pontada|twinge|zing|calambre) (corto|curto|rapid\w*)|se va enseguida|passa logo|vai embora|(desaparece|se va|passa) (logo|rapido|enseguida|en seguida|na hora)|(un|um|a) (segundo|second)|seconds|segundos",
    ),
    (
        "improving",
        Scope::Live,
        r"better|improv\w*|settling|settled|easing|eased|going down|went down|less (than|each|every)|healing|mejor|mejorando|melhor|melhorando|passando|diminu\w*|bajando",
    ),
    (
        "sensitivity",
        Scope::Live,
        r"sensitiv\w*|twinge\w*|zing\w*|sensibil\w*|sensivel|sensible",
    ),
    (
        "gum_bleed_brush",
        Scope::Live,
        r"(when|while|after) (i |he |she )?(brush|floss)\w*|brushing|flossing|(al|ao) (cepillar|escovar|usar el hilo|passar o fio)|cepill\w*|escov\w*|fio dental|hilo dental",
    ),
    (
        "question_how",
        Scope::Live,
        r"how (do|does|can|should|often|long|much|many)|what (is|are|does|do|should|can|causes)|is it (normal|ok|okay|safe|true|bad)|can i|should i|do you|are there|como|que es|o que|puedo|posso|deberia|devo|es normal|e normal",
    ),
];

/// Context cues about the whole message (full text).
const CUES: &[(&str, &str)] = &[
    (
        "fiction",
        r"novel|story|stories|book|chapter|character\w*|fiction|writing (a|an|my|the|this) (novel|story|book|script|screenplay|scene|chapter|poem|play|fanfic|short story|thriller)|(im|was|been) reading|reading (a|the|this|that) (book|novel|story)|screenplay|script|fanfic|plot|protagonist|villain|hero|heroine|scene|narrat\w*|poem|short story|creative writing|novela|cuento|libro|personaje\w*|relato|livro|personage\w*|conto|roteiro|escrevendo|escribiendo",
    ),
    (
        "screen",
        r"tv|television|telly|movie|movies|film|films|show|shows|episode|series|season|netflix|hbo|documentary|youtube|tiktok|instagram|video|vlog|streamer|grey\w* anatomy|greys|house md|soap|sitcom|drama|medical drama|hospital drama|cartoon|anime|reality (show|tv)|watched|watching|saw (a|an|this|that) (video|clip|post|reel)|serie|pelicula|telenovela|documental|documentario|filme|assisti|vi (un|uma|um|una) (video|filme)|novela das",
    ),
    (
        "game",
        r"game|games|gaming|gamer|video ?game|rpg|dnd|d and d|dungeons|dungeon master|campaign|minecraft|sims|roblox|fortnite|zelda|role ?play\w*|larp|character sheet|npc|boss fight|hit points|juego|jogo|videojuego|partida",
    ),
    (
        "other_handled",
        r"(my|a) (friend|friends|colleague|coworker|co worker|neighbour|neighbor|cousin|uncle|aunt|classmate|roommate|flatmate|mate|boss|teacher)\w* (had|once had|got|went|was)|(happened|happen) to (my|a) |(dentist|doctor|er|a and e|hospital|surgeon|they) (fixed|sorted|treated|drained|stitched|saved|put it back|handled)|(was|were|got|been) (fixed|sorted|treated|drained|seen to|taken care of)|(mi|una|un) (amig\w*|compa\w*|vecin\w*|prim\w*) (tuvo|tenia)|(meu|minha|um|uma) (amig\w*|coleg\w*|vizinh\w*|prim\w*) (teve|tinha)",
    ),
    (
        "past",
        r"(years?|months?|decades?|weeks?) ago|last (year|month|summer|winter|spring|autumn|fall|christmas|easter|week|weekend|monday|tuesday|wednesday|thursday|friday|saturday|sunday|term)|(la|el) (semana|mes|lunes|martes|miercoles|jueves|viernes|sabado|domingo) pasad[oa]|(na|no|o|a) (semana|mes|segunda|terca|quarta|quinta|sexta|sabado|domingo) passad[oa]|hace (un|una|dos|tres|unos|unas) (mes|meses|semana|semanas|ano|anos)|ha (um|uma|dois|duas|tres|uns|umas) (mes|meses|semana|semanas|ano|anos)|in (january|february|march|april|june|july|august|september|october|november|december)|en (enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)|em (janeiro|fevereiro|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro)|when i was (a |little|young|small|younger|\d)|as a (kid|child|teen|teenager)|back in (19|20)\d\d|(in|em|en) (19|20)\d\d|once had|used to|years back|long time ago|a while (ago|back)|hace (\w+ )?(anos|meses|semanas)|el ano pasado|ha (\w+ )?(anos|meses|semanas)|ano passado|quando (eu )?era|cuando (yo )?era|antigamente",
    ),
    ("resolved", RESOLVED_CUE),
    (
        "hypothetical",
        r"hypothetical\w*|hipotetic\w*|for future reference|for the future|just curious|out of curiosity|curious|wondering|in case|just in case|what if|what would|what should (someone|somebody|one|a person|people|you|parents|a parent|we|i|they) do|what to do (if|when|in case)|what (would|could) (i|we|you|they|she|he) do|suppose|imagine|if (a|an|my|your|someone|somebody|you|i|he|she|they|the|ever|her|his|our|their|one|any|anyone)|should i ever|would i|would it|ever happen|por si acaso|en caso de|caso (aconteca|alguem)|e se|y si|por si (alguna|algun|alguien|acaso|mi|tu|su)|por se (algum|alguma|alguem)|si (alguna vez|algun dia|a mi|mi|a su|a tu|su|le|se le)|se (algum dia|alguma vez|meu|minha|o meu|a minha|o seu|a sua|um dia)|que (haria|harias|haremos|hariamos|tendria que hacer|hay que hacer) si|o que (faria|fariamos|tenho de fazer|devo fazer|deve fazer|se deve fazer) se|por curiosidad\w*|por curiosidade",
    ),
    (
        "planning",
        r"planning|plan to|going to (travel|be away|be abroad)|trip|travel\w*|holiday|vacation|abroad|before (my|our|the) (trip|flight|wedding|holiday|exam)|first aid (kit|box|course|class|training|card|poster|leaflet)|prepared|preparing|be ready|poster|leaflet|laminated|handout|advice sheet|info sheet|staffroom|staff room|policy|awareness|camp|what to (pack|bring|keep)|should i (bring|pack|keep|buy)|next (month|year|week)|coach|teacher|training|workshop|viaje|viagem|vacaciones|ferias|preparad\w*|botiquin|kit de primeiros",
    ),
    (
        "not_emergency",
        r"not (an |a )?(emergency|urgent)|no (emergency|rush|hurry)|nothing urgent|non ?urgent|not in (any )?pain|no pain|pain free|whenever (you|is)|when (its )?convenient|at (your|some) point|no es (una )?(urgencia|emergencia)|no es urgente|nada urgente|sin prisa|nao (e )?(uma )?(urgencia|emergencia)|nao e urgente|sem pressa|sem dor|sin dolor",
    ),
    (
        "nothing_happened",
        r"nothings? (has |had )?(happened|going on)|(nobody|no one|noone)s? (is |was |got )?(hurt|injured)|no (incident|injury|injuries|accident)|(hasnt|has not|havent|have not|hadnt) (happened|had one)|(he|she|it|nothing) hasnt|just (want|wanted|wants) to (know|be ready|be prepared|check|be sure)|just being (responsible|careful|prepared|cautious)|no ha pasado nada|no paso nada|no le ha pasado|nao aconteceu nada|nao aconteceu|nao houve nada|ninguem (se )?(machucou|magoou|feriu)|nadie (se ha hecho|se hizo|esta) (dano|herido)|(es|e) por prevenir|por prevencion|por precaucao|por precaucion|para prevenir|por las dudas|so por precaucao|(hasta ahora|ate agora|so far|until now|up to now) (ningun|nenhum|no|nothing|nada|none)\w*",
    ),
    (
        "help_question",
        r"what (do|should|can|shall) (i|we) do|what (do|should) (i|we) do with|what now|do (i|we) (need to|have to) (come|go|call)|should (i|we) (go|come|call|take|bring|head)|(can|could) (someone|you|anyone|a dentist|the dentist) see (me|him|her|us|them)|see (me|him|her|us|them) (today|now|tonight|this)|is (this|it) an emergency|do i (wash|put|keep|push)|(que|como) (hago|hacemos|hacer) (ahora|ya|con)|que (hago|hacemos)|que debo hacer|(lo|la|le) (empujo|metemos|llevo|traigo|traemos)|(podemos|puedo) (ir|llevarle|llevarla) (hoy|ya|ahora)|(me|le|la|lo) pueden (ver|atender)|(tem|ha) (horario|vaga|hora) (hoje|agora)|o que (faco|fazemos|eu faco)|(preciso|precisamos|devo|devemos) (de )?(ir|levar) (ja|hoje|agora|ao)|(faco|fazemos) bem|podem (ve lo|ve la|me ver|atender)",
    ),
    (
        "now_question",
        r"\b(today|now|tonight|asap|hoy|hoje|ya|ja|agora|ahora|this (afternoon|morning|evening|arvo)) \?",
    ),
    (
        "treated",
        r"(went|taken|took (him|her|them)|rushed|ended up) (to|in) (the )?(hospital|a and e|er|urgencias|emergency|emergencias)|(foi|fomos|fui|foram) (ao|para o|a) (hospital|urgencia\w*|pronto socorro)|(fuimos|fue|fui|fueron|acabe|acabo) (a|en) (urgencias|el hospital|emergencias)|(fez|tomou|tomo|hizo|took|finished) (o |el |the |a course of )?antibiotic\w*|(got|was|were|been) (seen|treated|sorted|drained|stitched|splinted|fixed|operated)|(foi|fue|fui) (operad|tratad|vist|atendid|drenad)\w*|discharg\w*|alta (medica|hospitalar)|le (dieron|pusieron|colocaron|drenaron)|they (fixed|sorted|drained|stitched|splinted|put it back|reattached)|(trate|tratei|tratou)\w*",
    ),
    (
        "past_tense",
        r"teve|tuvo|tive|tuve|tiveram|tuvieron|ficou com|estuvo|esteve|had had|used to (have|get)|once had",
    ),
    ("question", r"\?"),
    (
        "general",
        r"^(what (is|are|does|do|causes|happens)|how (does|do|is|are|long|often|much|common)|why (do|does|is|are)|can you explain|tell me about|que es|o que e|por que|como se)\b",
    ),
    ("first_person", super::rules::PERSONAL),
    (
        "relay",
        r"caller|calling (about|for|on behalf)|on the (phone|line)|reception\w*|front desk|patient (says|reports|called|rang|states)|(he|she|they) (says|said|report\w*)|mother (says|reports)|parent (says|reports)|school (nurse|office)|care (home|worker|staff)|support worker|carer|la paciente|el paciente|o paciente|a paciente|llamo|ligou|liga",
    ),
    (
        "admin",
        r"appointment|book|booking|reschedul\w*|cancel\w*|opening hours|open on|price|prices|cost|costs|how much|insurance|receipt|invoice|pay|payment|bill|form|paperwork|parking|address|referral|cita|reservar|seguro|precio|factura|consulta|marcar|preco|fatura|horario",
    ),
];

/// Cue for a symptom reported as over (same list the old rules used to drop clauses).
const RESOLVED_CUE: &str = super::rules::RESOLUTION;

/// Pairs of present concepts, the conjunctions a linear model cannot build alone.
const PAIRS: &[(&str, &str)] = &[
    ("swell", "face"),
    ("swell", "eye"),
    ("swell", "neck"),
    ("swell", "fever"),
    ("swell", "breath_bad"),
    ("swell", "swallow_bad"),
    ("swell", "voice"),
    ("swell", "spread"),
    ("swell", "child"),
    ("swell", "trismus"),
    ("swell", "asymmetry"),
    ("swell", "unwell"),
    ("swell", "allergy"),
    ("swell", "drug"),
    ("swell", "pain"),
    ("swell", "tooth"),
    ("swell", "mild"),
    ("fever", "tooth"),
    ("fever", "child"),
    ("fever", "pain"),
    ("bleed", "bleed_amount"),
    ("bleed", "duration"),
    ("bleed", "extracted"),
    ("bleed", "gum_bleed_brush"),
    ("bleed", "mild"),
    ("bleed", "soft_cut"),
    ("pain", "intense"),
    ("pain", "painkiller_fail"),
    ("pain", "sleep_loss"),
    ("pain", "duration"),
    ("pain", "throb"),
    ("pain", "lingering"),
    ("pain", "mild"),
    ("pain", "improving"),
    ("pain", "extracted"),
    ("pain", "broke"),
    ("pain", "restoration"),
    ("pain", "sensitivity"),
    ("hot_cold", "lingering"),
    ("trauma", "tooth"),
    ("trauma", "knocked_out"),
    ("trauma", "loose_moved"),
    ("trauma", "broke"),
    ("trauma", "face"),
    ("trauma", "bite_off"),
    ("trauma", "numb"),
    ("trauma", "soft_cut"),
    ("knocked_out", "baby"),
    ("broke", "pulp"),
    ("wire", "poke"),
    ("denture", "ulcer"),
    ("denture", "cant_eat"),
    ("restoration", "came_out"),
    ("wisdom", "pain"),
    ("wisdom", "swell"),
    ("extracted", "postop_days"),
    ("extracted", "empty_socket"),
    ("procedure", "fever"),
    ("procedure", "pus"),
    ("procedure", "stitches"),
    ("pus", "pain"),
    ("pus", "swell"),
    ("frail", "carer_signs"),
    ("child", "pus"),
    ("allergy", "drug"),
    ("jaw_stuck", "face"),
    ("breath_bad", "allergy"),
    ("swell", "choke"),
    ("neck", "voice"),
    ("neck", "swallow_bad"),
    ("bleed", "anticoag"),
    ("extracted", "anticoag"),
    ("extracted", "bleed_amount"),
    ("procedure", "stitch_problem"),
    ("pain", "chronic"),
    ("knocked_out", "child"),
];

/// A message turned into sparse features (hash, value), sorted by hash, plus what the rules saw.
#[derive(Debug, Clone, Default)]
pub struct Features {
    pub values: Vec<(u64, f32)>,
    /// Names of the concepts present in the live text (for tests and tuning).
    pub present: Vec<&'static str>,
    /// Made from the trainer's hurried copy of a message (see `train::hurried`).
    pub hurried: bool,
}

/// 64-bit FNV-1a: stable across platforms and releases, unlike `std`'s hasher.
#[derive(Clone, Copy)]
pub struct Fnv(u64);

impl Fnv {
    pub const fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    #[must_use]
    pub fn write(mut self, bytes: &[u8]) -> Self {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self
    }

    pub fn finish(self) -> u64 {
        self.0
    }
}

impl Default for Fnv {
    fn default() -> Self {
        Self::new()
    }
}

fn hash(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .fold(Fnv::new(), |h, part| h.write(part).write(b"\x1f"))
        .finish()
}

/// Turns a message into [`Features`]; build once and share.
pub struct Featuriser {
    text: TextRules,
    rules: RuleMatcher,
    /// Every concept lexicon, each its own bounded pattern (see [`Lexicons`]).
    concepts: Lexicons,
    cues: Lexicons,
    pairs: Vec<(usize, usize)>,
}

impl std::fmt::Debug for Featuriser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Featuriser")
            .field("concepts", &CONCEPTS.len())
            .finish_non_exhaustive()
    }
}

impl Default for Featuriser {
    fn default() -> Self {
        Self::new()
    }
}

fn word_pattern(source: &str) -> String {
    format!(r"\b(?:{})\b", expand(source))
}

impl Featuriser {
    pub fn new() -> Self {
        let index = |name: &str| match CONCEPTS.iter().position(|(concept, _, _)| *concept == name) {
            Some(index) => index,
            None => panic!("pair names unknown concept {name}"),
        };
        let pairs = PAIRS.iter().map(|(a, b)| (index(a), index(b))).collect();
        Self {
            text: TextRules::new(),
            rules: RuleMatcher::new(),
            concepts: compile_set(CONCEPTS.iter().map(|(_, _, source)| word_pattern(source))),
            cues: compile_set(CUES.iter().map(|(name, source)| {
                if matches!(*name, "question" | "now_question") {
                    (*source).to_owned()
                } else {
                    word_pattern(source)
                }
            })),
            pairs,
        }
    }

    /// The normalised views of a message (see [`super::text`]).
    pub fn prepare(&self, message: &str) -> Prepared {
        self.text.prepare(message)
    }

    /// Features of a prepared message.
    pub fn features(&self, prepared: &Prepared) -> Features {
        self.features_into(prepared, &mut Names(None))
    }

    /// Features with their readable names (for tuning: which features move a score).
    pub fn named_features(&self, prepared: &Prepared) -> (Features, std::collections::HashMap<u64, String>) {
        let mut names = Names(Some(std::collections::HashMap::new()));
        let features = self.features_into(prepared, &mut names);
        (features, names.0.unwrap_or_default())
    }

    fn features_into(&self, prepared: &Prepared, names: &mut Names) -> Features {
        let mut values: Vec<(u64, f32)> = Vec::with_capacity(256);
        push_ngrams(&mut values, prepared, names);
        let mut present = Vec::new();
        let in_live = self.concepts.matches(prepared.live.as_bytes());
        let in_unmasked = self.concepts.matches(prepared.unmasked.as_bytes());
        let in_full = self.concepts.matches(prepared.full.as_bytes());
        let mut live_flags = vec![false; CONCEPTS.len()];
        for (i, (name, scope, _)) in CONCEPTS.iter().enumerate() {
            let live = match scope {
                Scope::Live => in_live.matched(i),
                Scope::Unmasked => in_unmasked.matched(i),
            };
            let state: &[u8] = if live {
                live_flags[i] = true;
                present.push(*name);
                b"k:"
            } else if in_unmasked.matched(i) {
                b"k!"
            } else if in_full.matched(i) {
                b"k~"
            } else {
                continue;
            };
            values.push((names.hash(&[state, name.as_bytes()]), 1.0));
        }
        for &(a, b) in &self.pairs {
            if live_flags[a] && live_flags[b] {
                let (a, b) = (CONCEPTS[a].0, CONCEPTS[b].0);
                values.push((names.hash(&[b"j:", a.as_bytes(), b.as_bytes()]), 1.0));
            }
        }
        for i in self.cues.matches(prepared.full.as_bytes()).iter() {
            values.push((names.hash(&[b"x:", CUES[i].0.as_bytes()]), 1.0));
        }
        if prepared.hypothetical {
            values.push((names.hash(&[b"x:", b"hypothetical_message"]), 1.0));
        }
        if prepared.live.is_empty() {
            values.push((names.hash(&[b"x:", b"nothing_present"]), 1.0));
        }
        let mut matched = false;
        for rule in self.rules.matches(&prepared.live, &prepared.unmasked) {
            matched = true;
            values.push((names.hash(&[b"r:", rule.category.as_bytes()]), 1.0));
        }
        if matched {
            values.push((names.hash(&[b"r:", b"any"]), 1.0));
        }
        values.sort_unstable_by_key(|(hash, _)| *hash);
        values.dedup_by_key(|(hash, _)| *hash);
        Features {
            values,
            present,
            hurried: false,
        }
    }
}

/// Word unigrams/bigrams and character 3-5-grams, each group scaled to unit length.
fn push_ngrams(values: &mut Vec<(u64, f32)>, prepared: &Prepared, names: &mut Names) {
    let mut words: Vec<u64> = Vec::with_capacity(64);
    let mut chars: Vec<u64> = Vec::with_capacity(256);
    let mut previous: Option<&str> = None;
    for (token, negated) in &prepared.tokens {
        if matches!(token.as_str(), "." | "?" | ",") {
            previous = None;
            continue;
        }
        let prefix: &[u8] = if *negated { b"n:" } else { b"w:" };
        words.push(names.hash(&[prefix, token.as_bytes()]));
        if let Some(previous) = previous {
            words.push(names.hash(&[b"b:", previous.as_bytes(), token.as_bytes()]));
        }
        previous = Some(token);
        if !*negated && token.len() >= 2 {
            let padded = format!("<{token}>");
            let bytes = padded.as_bytes();
            for n in 3..=5 {
                for gram in bytes.windows(n) {
                    chars.push(names.hash(&[b"c:", gram]));
                }
            }
        }
    }
    // What was set aside (hypothetical, resolved, past, framed) as its own unigrams.
    let mut aside: Vec<u64> = prepared
        .aside
        .iter()
        .map(|word| names.hash(&[b"~:", word.as_bytes()]))
        .collect();
    for group in [&mut words, &mut chars, &mut aside] {
        group.sort_unstable();
        group.dedup();
        #[allow(clippy::cast_precision_loss)]
        let value = 1.0 / (group.len().max(1) as f32).sqrt();
        values.extend(group.iter().map(|hash| (*hash, value)));
    }
}

/// Optionally records each feature's name beside its hash (only [`Featuriser::named_features`]).
struct Names(Option<std::collections::HashMap<u64, String>>);

impl Names {
    fn hash(&mut self, parts: &[&[u8]]) -> u64 {
        let value = hash(parts);
        if let Some(names) = &mut self.0 {
            names.entry(value).or_insert_with(|| {
                parts
                    .iter()
                    .map(|part| String::from_utf8_lossy(part).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn present(message: &str) -> Vec<&'static str> {
        let featuriser = Featuriser::new();
        featuriser.features(&featuriser.prepare(message)).present
    }

    #[test]
    fn airway_signs_without_the_word_breathing_are_seen() {
        let concepts = present("his voice sounds like he has a hot potato in his mouth and he keeps drooling");
        assert!(concepts.contains(&"voice"), "{concepts:?}");
        assert!(concepts.contains(&"swallow_bad"), "{concepts:?}");
    }

    #[test]
    fn bleeding_by_quantity_and_time_is_seen() {
        let concepts = present("gone through 6 gauze pads in three hours, still bleeding");
        assert!(concepts.contains(&"bleed_amount"), "{concepts:?}");
        assert!(concepts.contains(&"duration"), "{concepts:?}");
    }

    #[test]
    fn failed_painkillers_and_lost_sleep_survive_their_own_negations() {
        let concepts = present("ibuprofen isn't touching it and I haven't slept in two nights");
        assert!(concepts.contains(&"painkiller_fail"), "{concepts:?}");
        assert!(concepts.contains(&"sleep_loss"), "{concepts:?}");
        let concepts = present("la pastilla no me hace nada y no he podido dormir");
        assert!(concepts.contains(&"sleep_loss"), "{concepts:?}");
    }

    #[test]
    fn negated_concepts_are_not_present() {
        let concepts = present("no swelling and no fever, just a question about floss");
        assert!(!concepts.contains(&"swell"), "{concepts:?}");
        assert!(!concepts.contains(&"fever"), "{concepts:?}");
    }

    #[test]
    fn features_are_sorted_unique_and_deterministic() {
        let featuriser = Featuriser::new();
        let message = "My cheek is swollen up like a golf ball";
        let a = featuriser.features(&featuriser.prepare(message));
        let b = featuriser.features(&featuriser.prepare(message));
        assert!(a.values.windows(2).all(|pair| pair[0].0 < pair[1].0));
        assert_eq!(a.values, b.values);
        assert_eq!(hash(&[b"k:", b"swell"]), hash(&[b"k:", b"swell"]));
    }

    #[test]
    fn fnv_matches_the_published_test_vector() {
        assert_eq!(Fnv::new().write(b"a").finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
