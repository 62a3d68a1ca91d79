//! The rules as data: vocabulary fragments, phrase rewrites, and one pattern row per category.
//!
//! The learned detector reads these rows as features (which row matched), and reuses the
//! fragments as concept lexicons; no row decides on its own any more.
//!
//! Patterns run on normalised text (lower case, no accents or apostrophes, typos corrected,
//! `.` between sentences and `,` between clauses, negated words masked). A pattern is
//! `PART && PART ... !! UNLESS`: every part must match somewhere in the message's live text and the
//! optional unless-regex must not. Parts are wrapped in `\b(?:...)\b`; `{NAME}` inserts a fragment.

use shared::ai::Severity;

use super::text::{Pattern as Matcher, compile};

/// Reusable regex fragments.
pub const FRAGMENTS: &[(&str, &str)] = &[
    (
        "SWELL",
        r"swell\w*|swollen|puff\w*|ballooned|ballooning|blown up|blew up|bloated|(getting|got|gets|keeps getting|is getting|grown|growing|gone|went) (bigger|larger|huge)|hinch\w*|inchad\w*|inchac\w*|inchou|inchando|incha|inchar\w*|inche\w*|hinchar\w*|abultad\w*|inflam\w*",
    ),
    (
        "FACE",
        r"face|facial|cheek\w*|jaw\w*|chin|gob|eye\w*|eyelid\w*|neck|temple|lip|lips|cara|mejilla\w*|cachete\w*|rostro|bochecha\w*|rosto|mandibula|queixo|olho\w*|ojo\w*|parpado\w*|palpebra\w*|cuello|pescoco|labio\w*|maxilar|menton",
    ),
    (
        "BREATH_BAD",
        r"(cant|hard to|difficult to|difficulty|trouble|struggling to|struggle to|short of|out of|problems?|fighting to|laboured|labored|cant get) (breath\w*|respirar|air)|breath\w* (is |sounds |feels |has become |got |getting )?(noisy|hard|difficult|funny|weird|strange|tight|wheezy|shallow|laboured|labored|fast|rattly|raspy)|noisy breath\w*|(sit|sitting) up to breathe|gasping|choking|wheez\w*|stridor|throat\w* [^.]{0,25}(closing|tight|tightening|closed|swelling|swollen|narrow)|tight throat|closing (up )?throat|garganta [^.]{0,20}(cerrando|fechando|apretada|apertada|cerrada|fechada)|falta de ar|cant respirar|dificultad (para|al) respirar|dificuldade (para|de|em|a) respirar|me cuesta respirar|falta de aire|ahog\w*|sufoc\w*",
    ),
    (
        "SWALLOW_BAD",
        r"cant swallow\w*|(hard|difficult|difficulty|trouble|struggling|struggle|painful|hurts|hurting|problems?|pain|agony) (to |with |when |on )?swallow\w*|swallow\w* (is |are |has become )?(hard|difficult|painful|impossible|agony)|drool\w*|dribbl\w*|cant (tragar|engolir)|dificultad (para|al) tragar|dificuldade (para|de|em|a) engolir|me cuesta tragar",
    ),
    (
        "FEVER",
        r"fever\w*|feverish|temperature|a temp|high temp|temp of|running a temp|shiver\w*|chills|rigors|burning up|sweats|fiebre|febre|calentura|calafrio\w*|escalofrio\w*|3[89] ?(c|degrees|graus|grados)|10[0-4] ?(f|degrees)",
    ),
    (
        "CHILD",
        r"child|children|childs|kid|kids|son|sons|daughter\w*|boy|boys|girl|girls|toddler\w*|baby|babys|little one|\d+ ?(year|yr|yo)\w*|(aged|age) \d+|hijo\w*|hija\w*|nino\w*|nina\w*|nene|nena|bebe\w*|filho\w*|filha\w*|crianca\w*|menino\w*|menina\w*|nieto\w*|nieta\w*|neto\w*|neta\w*",
    ),
    (
        "PAIN",
        r"pain|pains|painful|painfull|hurt|hurts|hurting|ache|aches|aching|achy|toothache\w*|throb\w*|sore|soreness|agony|agonising|agonizing|excruciat\w*|unbearabl\w*|killing me|sting|stings|stinging|tender|dolor\w*|duele\w*|doliendo|dor|dores|doi|doem|doendo|dolorid\w*|latej\w*|punzante\w*|pulsa\w*",
    ),
    (
        "INTENSE",
        r"severe\w*|excruciat\w*|unbearabl\w*|agony|agonising|agonizing|killing me|worst|intense|horrible|horrendous|terrible|awful|extreme\w*|crippling|10 (out of )?10|ten out of ten|9 (out of )?10|cant sleep|cant get to sleep|cant dormir|kept me (up|awake)|keeping me (up|awake)|up all night|awake all night|pacing|screaming|crying|in tears|shaking|had to leave work|unrelieved|cant (even )?(think|concentrate|function|work|focus|eat|chew)|insoportabl\w*|horribl\w*|terribl\w*|fortisim\w*|muy fuerte|insuportavel|horrivel|terrivel|muito forte|intens\w*|(very|really|so|extremely|incredibly|super) (painful|bad|sore)|ridiculous|crazy|electric shocks?|shooting|desperate|no aguanto|nao aguento",
    ),
    (
        "TRAUMA",
        r"fell (off|over|down|on|onto|from|and|while|in|at|into|face|with|backwards|forward|hard|out of)|(a|the|his|her|my|bad|playground|nasty) fall|falling (off|over|down)|fall (off|over|down|from)|trip\w*|slipped|slip|hit|hits|struck|walked into|ran into|banged into|bumped into|door ?frame|punch\w*|kick\w*|knock\w*|elbow\w*|knee\w*|headbutt\w*|collid\w*|collision|crash\w*|accident|a blow|smack\w*|whack\w*|bang\w*|bumped|face ?plant\w*|assault\w*|attacked|fight|ball|bike|bicycle|scooter|handlebars?|skateboard\w*|trampoline|playground|football|rugby|hockey|boxing|basketball|cricket|baseball|softball|tackle\w*|golpe\w*|caida|cai|caiu|cayo|queda|pancada|batida|bati|bateu|soco|acidente|chute|tropec\w*",
    ),
    (
        "TOOTH",
        r"tooth|teeth|incisor\w*|canine|molar\w*|premolar\w*|front one|diente\w*|dente\w*|muela\w*|colmillo|presa",
    ),
    (
        "BROKE",
        r"broke|broken|break|breaking|cracked|crack|chipped|chip|snapped|split|half (of )?(my|the|his|her|a)|piece (off|of|broke)|chunk|fractur\w*|partid\w*|parti|partiu|quebr\w*|rachad\w*|rachou|lasc\w*|roto|rota|rompi\w*|rompio",
    ),
    (
        "EXTRACTED",
        r"extract\w*|socket|pulled|removed|removal|taken out|(tooth|teeth|molar|molars) (out|pulled|removed)|sacaron|saco|sacar|extraccion|extracao|extrai\w*|arrancad\w*|arrancar\w*|tirei|tirou|tiraram",
    ),
    (
        "MILD",
        r"slight\w*|mild\w*|bocadinho|nada demais|nada grave|nada serio|se aguanta|aguentavel|soportable|molestia\w*|incomod\w*|desconforto|tantito|a (tiny |little |wee )?bit|a little|little bit|tiny|minor|not (too|that|very|so) bad|not bad|nothing (major|serious)|barely|dull|faint|un poco|leve\w*|ligeir\w*|um pouco|pouquinho|poquito|a touch",
    ),
    (
        "BABY",
        r"baby tooth|baby teeth|milk tooth|milk teeth|primary (tooth|teeth)|on (its|their) own|by itself|naturally|first (one|tooth|wobbly)|let it fall out|(dente|diente)s? de (leche|leite)|tooth fairy|wobbl\w* for",
    ),
    (
        "RESTORATION",
        r"temp|temporary|temporaries|provisional\w*|provisori\w*|crown|crowns|cap|filling\w*|bridge|onlay|inlay|veneer|corona|empaste|obturacion|coroa|obturacao|restauracao|ponte|puente|carilla|faceta|tapon",
    ),
    (
        "CAME_OUT",
        r"(came|come|comes|coming|fell|falls|fallen|popped|dropped|broke|has come|has fallen) (out|off|loose|away)|is out|missing|lost|se (me |le )?(cayo|salio|despego)|caiu|saiu|soltou|descolou|quebrou",
    ),
    (
        "PROCEDURE",
        r"extract\w*|socket|pulled|removed|removal|taken out|(tooth|teeth|molar) (out|pulled)|implant\w*|root canal|(o|um|el|un|do|del|de) canal|tratamento de canal|tratamiento de conducto|endodoncia|surgery|surgical|operation|graft\w*|stitch\w*|sutur\w*|implante\w*|cirugia|cirurgia|endodon\w*|enxerto|injerto|pontos|puntos|sacaron|extraccion|extracao|tiraram",
    ),
    (
        "DRUG",
        r"antibiotic\w*|amoxi\w*|penicillin\w*|clindamycin|metronidazole|cephalexin|anaesthe\w*|anesthe\w*|numbing|injection|jab|the shot|a shot|medicine|medication|tablet\w*|pill\w*|mouthwash|toothpaste|gel|latex|gloves|ibuprofen|aspirin|paracetamol|product|drug|antibiotico\w*|anestesi\w*|remedio|medicamento\w*|enxaguante|colutorio|enjuague|pastilla\w*|comprimido\w*|amoxicilina|penicilina",
    ),
];

/// Phrase rewrites applied (in order) before negation masking, so that "won't stop", "can't
/// breathe" or "painkillers don't help" are not mistaken for negated symptoms.
pub const REWRITES: &[(&str, &str)] = &[
    // "the pain stays after the cold is gone" is not a resolved symptom.
    (
        r"\b(after|once|when) (the )?(cold|heat|drink|ice|food|sweet|sweets|coffee|tea|water|stimulus|sweetness) (is |has |goes |went )?(gone|away)\b",
        "after the stimulus",
    ),
    (
        r"\b(cannot|can not|couldnt|could not|unable to|no puedo|no puede|no pueden|no podemos|no consigo|no consigue|nao consigo|nao consegue|nao conseguem|nao conseguimos|nao posso|nao pode|nao da para|no me deja|nao me deixa)\b",
        "cant",
    ),
    (
        r"\b(not sure|unsure|dont know|do not know|no idea|not certain|no se|nao sei)\b",
        "unsure",
    ),
    (r"\b(whether or not|if not)\b", "whether"),
    (r"\b(no|zero|without|sin|sem) sleep\b", "cant sleep"),
    (
        r"\bnever (had|felt|experienced) (\w+ )?(pain|anything) like\b",
        "worst pain",
    ),
    (
        r"\b(painkillers?|pain killers?|paracetamol|ibuprofen|advil|tylenol|nurofen|tablets?|pills?|medicine|meds|medication|analgesicos?|remedios?|pastillas?)\s+(\w+\s+){0,2}(dont|doesnt|arent|isnt|not|wont|barely|hardly|do not|does not|are not|is not|havent|have not|no|nao)\s+(\w+\s+)?(help\w*|work\w*|touch\w*|dent\w*|do\w*|effect|ayuda\w*|funciona\w*|sirve\w*|resolve\w*|ajuda\w*|hace\w*|faz\w*)\b",
        "unrelieved",
    ),
    (
        r"\b(nothing|nada)\s+(\w+\s+)?(helps?|helping|works?|working|touches|ayuda|funciona|sirve|resolve|ajuda|me ayuda)\b",
        "unrelieved",
    ),
    (r"\b(not|isnt|arent|doesnt|dont) (helping|working)\b", "unrelieved"),
    (
        r"\b(hasnt|has not|havent|have not|hadnt|wont|will not|doesnt|does not|didnt|did not|isnt|is not|arent|are not|not|never|cant|still hasnt|still not)\s+(\w+\s+)?(stop\w*|clot\w*|settl\w*|eas\w*|go(ne)? down|gone away|go away|going away|get(ting)? better|improv\w*|heal\w*|clear\w*|subsid\w*|better|calm\w* down)\b",
        "unstopped",
    ),
    (r"\b(no|nao) (para|paro|parou|deja|pasa|passa)\b", "unstopped"),
    (
        r"\b(teeth|bite|bites|jaw|mouth)\s+(wont|dont|doesnt|do not|does not|cant|no longer|arent|are not|isnt|is not|will not)\s+(meet\w*|fit\w*|close|come together|line up|bite together|match|touch|feel right|sit right|go together)\b",
        "bite_off",
    ),
    (
        r"\bbite (is |feels |seems |looks |has gone |went )?(off|wrong|different|weird|strange|out|uneven|funny|not right)\b",
        "bite_off",
    ),
    (
        r"\b(mordida|oclusion|oclusao) [^.,]{0,20}(torcida|errada|desviada|rara|diferente|cambio|mudou)\b",
        "bite_off",
    ),
];

/// Whole-message cues that the writer is asking in general or for the future.
pub const HYPOTHETICAL_MESSAGE: &str = r"\b(hypothetical\w*|hipotetic\w*|for future reference|for the future|just curious|out of curiosity|asking as a|asking for (a|my) (class|course|project|school|presentation|essay)|in case it ever|just to be prepared|to be prepared|para estar preparad\w*|por curiosidad|por curiosidade|so (para|pra) saber|solo para saber|first aid (course|class|training))\b";

/// Sentence openers of a conditional or general question (the sentence is ignored).
pub const HYPOTHETICAL_SENTENCE: &str = r"^(hi |hello |hey |quick question |question |also |and |so |ok |okay )?(if|hypothetically|suppose|supposing|imagine|in case|what if|say|si (a|al|mi|mis|un|una|alguien|algun|alguna|el|la|los|las|yo|tu|se)|se (meu|minha|um|uma|alguem|algum|alguma|eu|voce|o|a|os|as))\b|\bwhat (should|would|do|does|can|must) (someone|somebody|one|a person|people|you|parents|a parent|we|i|they|a patient) do (if|when)\b|\b(in general|generally speaking|in theory|en general|em geral)\b";

/// Openers of a general, impersonal question ("what does an abscess look like?").
pub const GENERAL_QUESTION: &str = r"^(hi |hello |quick question |just curious |also )?(what (is|are|does|do|causes|happens|exactly)|whats (a|an|the)|how (does|do|is|are|much|long|often|common|can you tell)|why (do|does|is|are|would)|is it (true|normal for people|common)|can you explain|tell me about|que es|o que e|como se|por que)\b";

/// Words showing the sentence is about a real person (not a general question).
pub const PERSONAL: &str = r"\b(i|im|ive|id|ill|me|my|mine|myself|we|our|ours|us|he|hes|him|his|she|shes|her|hers|theyre|son|daughter|child|kid|baby|husband|wife|partner|mum|mom|dad|mother|father|caller|patient|gran|grandma|grandpa|grandmother|grandfather|friend|yo|mi|mis|tengo|estoy|eu|meu|minha|tenho|estou|ele|ela|nuestro|nossa|nosso)\b";

/// Clause-level cues that a symptom has resolved or was treated.
pub const RESOLUTION: &str = r"\b(swelling|swollen|pain|ache|aching|bleeding|blood|numbness|numb|throbbing|soreness|infection|toothache|abscess|sensitivity|it|everything|dolor|hinchazon|sangrado|dor|inchaco|sangramento)\b[^.,]{0,40}\b(stopped|has stopped|went down|gone down|has gone|is gone|gone away|went away|wore off|worn off|settled|cleared|cleared up|eased|has eased|subsided|disappeared|healed|resolved|better now|improved|is better|much better|fine now|under control)\b|\b(stopped|stop) (bleeding|hurting|swelling|throbbing|aching)\b|\b(all|feeling|feel|its|everything|all is|is) (good|fine|normal|ok|okay|better) now\b|\ball (good|normal|fine)\b|\bhealing (fine|well|nicely|ok|okay|great|up)\b|\b(getting|already|feeling|feels|much|lot) better\b|\bimproving\b|\bno longer\b|\bse (me |le )?(quito|paso|fue|bajo)\b|\bya no (me |le )?(duele|sangra|esta)\b|\bdesaparecio\b|\b(paro|dejo) de (sangrar|doler)\b|\bpassou\b|\bparou de (sangrar|doer)\b|\bja nao (doi|sangra|esta)\b|\bsumiu\b|\bdesinchou\b|\bdeshincho\b|\bmelhorou\b|\b(was|were|got|been) (put back|reimplanted|replanted|splinted|treated|fixed|sorted|stitched|seen)\b|\b(dentist|doctor|er|hospital|surgeon) (says|said) (it|its|is|everything|all)\b[^.,]{0,20}\b(fine|ok|okay|good|healing|normal)\b|\bya (bajo|se fue|paso|cicatrizo|sano|se curo|no (me )?(duele|sangra))\b|\b(se )?(cicatrizo|curo|deshincho|desinflamo)\b|\b(ja|ta|esta|fica\w*) (melhor\w*|otim\w*|bem|perfeit\w*|bom|boa)\b|\bja (passou|sarou|cicatrizou|desinchou|parou|melhor\w*)\b|\bsarou\b|\bcicatriz(ou|o)\b|\bresolv(eram|eu|ido|ida|ieron|io|ed)\b|\b(come|juega|brinca|joga) (normal|bien|bem)\b|\besta (perfecto|perfecta|bien|mejor|genial)\b|\bmejorando\b|\bmelhorando\b|\b(is|its|was|looks|feels|are) (totally |completely |absolutely |all |perfectly )?(perfect|fine|great|healed|back to normal)\b|\bturned out\b|\bsmaller than (it was|before|yesterday)\b|\beasing\b|\bsettling\b|\b(esta|ficou|fica|ta|anda) (tudo )?(bem|otim\w*|perfeit\w*|bom|boa|normal)\b|\btudo (bem|certo|otimo|normal) (com|desde|agora)\b|\btodo (curado|bien|normal)\b|\b(hes|shes|theyre|he is|she is|they are) (doing )?(great|fine|well|comfortable|delighted)\b|\bdoing (great|fine|well|really well)\b|\b(fully|completely|totally) (healed|recovered|better|fine)\b|\brecovered\b|\b(ya |ja )?(esta|estan) (completamente |totalmente )?recuperad\w*\b|\bni una gota\b|\bnem uma gota\b|\bdesde entonces (bien|nada|ni)\b|\bdesde entao (bem|nada|nem)\b|\b(ya )?(come|esta) (normal|bien)\b|\b(colaram|recolocaram|reimplantar\w*|reimplantad\w*|drenaron|drenou|drenaram|dreno|le drenaron|clipped|was drained|got drained|put it back|put back in|recolocad\w*|colocaron|colocaram)\b|\bparo a (la|los) \w+\b|\bparou (em|depois de|ao fim de)\b|\bstopped (after|within|in) \w+\b";

/// Words that negate what follows (within a clause, up to four words).
pub const NEGATORS: &[&str] = &[
    "no", "not", "zero", "without", "never", "none", "nothing", "isnt", "arent", "wasnt", "werent", "doesnt", "dont",
    "didnt", "hasnt", "havent", "hadnt", "neither", "nor", "sin", "ni", "nunca", "ningun", "ninguna", "nao", "sem",
    "nem", "nenhum", "nenhuma", "nada",
];

/// Words that end a negation's scope.
pub const SCOPE_BREAKS: &[&str] = &[
    ",", ".", "?", "but", "and", "pero", "y", "mas", "e", "however", "though", "although", "so", "because", "now",
    "then", "yet", "while", "except", "apart", "just", "only", "ahora", "agora", "porque",
];

/// Words inside a negation's scope that don't use up its four-word reach.
pub const SCOPE_FILLERS: &[&str] = &[
    "or", "o", "ou", "ni", "nem", "nor", "any", "a", "an", "the", "more", "real", "at", "all",
];

/// Words typos are corrected towards (at most one edit, two for long words; same first letter).
pub const VOCABULARY: &[&str] = &[
    "abscess",
    "accident",
    "agonising",
    "agonizing",
    "allergic",
    "allergy",
    "anaesthetic",
    "anesthetic",
    "antibiotic",
    "antibiotics",
    "bleeding",
    "bleeds",
    "blood",
    "bracket",
    "brackets",
    "breathe",
    "breathing",
    "broken",
    "cheek",
    "chipped",
    "cracked",
    "denture",
    "dentures",
    "dislocated",
    "drooling",
    "emergency",
    "excruciating",
    "extraction",
    "extracted",
    "fever",
    "feverish",
    "fracture",
    "fractured",
    "infected",
    "infection",
    "knocked",
    "mouth",
    "numbness",
    "painful",
    "pregnant",
    "puffed",
    "retainer",
    "severe",
    "socket",
    "stitches",
    "swallow",
    "swallowing",
    "swelling",
    "swollen",
    "swelled",
    "temperature",
    "temporary",
    "throat",
    "throbbing",
    "throbs",
    "tongue",
    "tooth",
    "teeth",
    "toothache",
    "unbearable",
    "wisdom",
    "wobbly",
    "sensitive",
    "sensitivity",
    "appointment",
    "ulcers",
    "bleeding",
    "gauze",
    "crown",
    "filling",
    "swollen",
    "horrible",
    "terrible",
    "agony",
    "abscessed",
    "stopped",
    "bleed",
];

/// Words never corrected even though they are one edit from the vocabulary.
pub const NO_CORRECTION: &[&str] = &[
    "selling",
    "smelling",
    "spelling",
    "shelling",
    "blending",
    "breeding",
    "bleeping",
    "shallow",
    "threat",
    "cracker",
    "fewer",
    "drooping",
    "blond",
    "bloody",
    "teach",
    "tenth",
    "touch",
    "trough",
    "mouths",
    "month",
    "months",
    "moth",
    "blend",
    "brown",
    "brow",
    "cheer",
    "check",
    "crowd",
    "crows",
    "crowns",
    "filing",
    "felling",
    "falling",
    "severs",
    "socks",
    "stopper",
    "swallows",
    "swells",
    "tongs",
    "though",
    "through",
    "throw",
    "thread",
    "throats",
    "wisdoms",
    "grown",
    "frown",
    "brokers",
    "stroke",
    "tooths",
    "seven",
    "never",
    "cheeky",
    "teethe",
    "breed",
    "bleep",
    "bloom",
    "fiver",
    "throws",
    "clipped",
    "shipped",
    "switches",
    "witches",
    "toothpaste",
    "toothbrush",
    "clown",
    "retained",
    "retains",
];

/// Slang and fixed misspellings.
pub const SYNONYMS: &[(&str, &str)] = &[
    ("gnasher", "tooth"),
    ("gnashers", "teeth"),
    ("choppers", "teeth"),
    ("toof", "tooth"),
    ("tooh", "tooth"),
    ("toth", "tooth"),
    ("teef", "teeth"),
    ("gob", "gob"),
    ("feaver", "fever"),
    ("fevor", "fever"),
    ("bleading", "bleeding"),
    ("bledding", "bleeding"),
    ("blooding", "bleeding"),
    ("swolen", "swollen"),
    ("swolled", "swollen"),
    ("sweling", "swelling"),
    ("abcess", "abscess"),
    ("absess", "abscess"),
    ("abses", "abscess"),
    ("abscesses", "abscess"),
    ("brethe", "breathe"),
    ("breath", "breath"),
    ("cant", "cant"),
    ("wont", "wont"),
    ("agonny", "agony"),
    ("temp", "temp"),
];

/// One triage category.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable machine-readable category (snake_case of the CATEGORIES.md name).
    pub category: &'static str,
    pub severity: Severity,
    pub patterns: &'static [&'static str],
}

/// Every urgent category, in priority order (emergencies first).
pub const RULES: &[Rule] = &[
    Rule {
        category: "allergic_swelling",
        severity: Severity::Emergency,
        patterns: &[
            r"{DRUG} && hives|rash\w*|itch\w*|blotch\w*|welts|urticari\w*|tongue\w* [^.]{0,25}({SWELL}|thick\w*)|({SWELL}|thick\w*) [^.]{0,25}(lip|lips|tongue|throat|face)|(lip|lips|face) [^.]{0,25}{SWELL}|{BREATH_BAD}",
            r"allerg\w*|alergi\w*|anaphyla\w* && {SWELL}|hives|rash\w*|itch\w*|{BREATH_BAD}|{SWALLOW_BAD}|faint\w*|dizzy",
        ],
    },
    Rule {
        category: "airway_threatening_swelling",
        severity: Severity::Emergency,
        patterns: &[
            r"{SWELL}|abscess\w*|infect\w*|lump && {BREATH_BAD}",
            r"{SWELL}|abscess\w*|infect\w*|{TOOTH}|lump && drool\w*|dribbl\w*|cant swallow\w*|cant (tragar|engolir)|throat [^.]{0,25}(closing|closed)|feels like (its|it is) closing",
            r"{SWELL} && {SWALLOW_BAD} && neck|throat|tongue|floor of|under (my|his|her|the) (tongue|jaw|chin)|garganta|cuello|pescoco|lengua|lingua",
        ],
    },
    Rule {
        category: "jaw_dislocation",
        severity: Severity::Emergency,
        patterns: &[
            r"jaw\w*|mouth|mandibula|boca|queixo && stuck (half |wide )?open|locked (half |wide )?open|stuck [^.]{0,10}open|(half|wide) open|wont (close|shut|go back)|cant (close|shut|fechar|cerrar)|popped out|went out|came out of (place|joint)|out of (place|joint|socket)|dislocat\w*|deslocad\w*|desencaj\w*|dislocad\w*|no cierra|nao fecha",
        ],
    },
    Rule {
        category: "uncontrolled_bleeding",
        severity: Severity::Emergency,
        patterns: &[
            r"bleed\w*|blood\w*|bled|sangr\w*|sangue|hemorrag\w* && unstopped|nonstop|non stop|soaked|soaking|pouring|gushing|heav\w*|full of blood|mouth full|mouthful|boca llena|boca cheia|for hours|\d+ hours|hours later|all (day|night)|sin parar|sem parar|muito sangue|mucha sangre|so much blood|everywhere|warfarin|blood thinners?|anticoagul\w*|apixaban|rivaroxaban|clopidogrel",
            r"bleed\w*|blood\w*|bled|sangr\w*|sangue && constant\w*|continu\w*|keeps? (on )?(bleeding|coming|oozing|filling)|still (bleeding|bleeds|coming|oozing|pouring|going)|a lot|lots of|loads of|pressure|pressing|gauze|tea ?bag|clot\w*|sigue (saliendo|sangrando)|continua (sangrando|saindo) !! {MILD}|(when|while|after) (i |he |she )?(brush|floss)\w*|brushing|flossing",
        ],
    },
    Rule {
        category: "facial_trauma",
        severity: Severity::Emergency,
        patterns: &[
            r"(jaw|mandible|cheekbone|face|facial|maxilla|mandibula|queixo|maxilar|eye socket)\w* [^.]{0,30}(broken|broke|fractur\w*|break|cracked|shattered|smashed|quebrad\w*|fraturad\w*|fracturad\w*|roto|rota|partid\w*)|(broken|broke|fractured|fracture|cracked) (my |his |her |their |the |a )?(jaw|cheekbone|cheek bone|face)",
            r"{TRAUMA} && numb\w*|dormente\w*|adormecid\w*|entumecid\w*|bite_off|move\w* together|as one (piece|block|unit)|as a (block|unit)|whole (row|top|upper|bottom|lower)|cheekbone|cheek bone|cant (open|close) (my |his |her )?(mouth|jaw) && jaw\w*|chin|face|cheek\w*|lip|lips|numb\w*|clicks?|mandibula|queixo|rosto|cara|maxilar|menton",
        ],
    },
    Rule {
        category: "spreading_infection",
        severity: Severity::Emergency,
        patterns: &[
            r"{SWELL}|infect\w*|abscess\w*|pus|red|lump|redness && spread\w*|tracking|moving (down|up|to|into)|extend\w*|extendiendo|espalh\w*|se esta pasando",
            r"{SWELL}|infect\w*|abscess\w* && eye|eyes|eyelid\w*|neck|under (my|his|her) eye|ojo\w*|parpado\w*|olho\w*|palpebra\w*|cuello|pescoco !! keep an eye|eye on it",
            r"{SWELL} && {FEVER} !! {CHILD}",
            r"infect\w*|abscess\w*|{SWELL} && (very|really|extremely|so) (unwell|ill|sick|poorly)|vomit\w*|being sick|confus\w*",
        ],
    },
    Rule {
        category: "pericoronitis",
        severity: Severity::Urgent,
        patterns: &[
            r"wisdom|third molar|last molar|back molar|behind (my|his|her|the) (last|back) (molar|tooth|teeth)|muela del juicio|cordal|siso|terceiro molar && gum\w*|flap|encia\w*|gengiva\w*|capuchon|capuz|back of (my|his|her|the) mouth && {SWELL}|inflam\w*|{PAIN}|ooz\w*|pus|red|angry|bad taste|{FEVER} !! {MILD}|coming (in|through) fine|(tooth|teeth) out|removed|extract\w*|extration|taken out|pulled|removal",
        ],
    },
    Rule {
        category: "infection_child",
        severity: Severity::Urgent,
        patterns: &[
            r"{CHILD} && {SWELL}|pus|abscess\w*|{FEVER}|(he|she|hes|shes|they) (is |s |feels |seems )?(hot|burning) && {TOOTH}|gum\w*|cheek\w*|face|jaw\w*|lip|chin|cara|mejilla\w*|bochecha\w*|rosto|encia\w*|gengiva\w* !! teething|wobbl\w*|(coming|come) (in|through)|erupt\w*",
        ],
    },
    Rule {
        category: "orthodontic_wire_trauma",
        severity: Severity::Urgent,
        patterns: &[
            r"wire\w*|bracket\w*|brace|braces|retainer\w*|archwire|hook|alambre|fio|arame|aparelho|frenillo\w*|ortodon\w* && pok\w*|stab\w*|stick\w* (in|into|out|through)|sticking|digging|dig\w* (in|into)|pierc\w*|jab\w*|spik\w*|cut\w* (my|his|her|into|open|the inside|it)|cut it open|ulcer\w*|lacerat\w*|scratch\w*|rubbing [^.]{0,15}raw|tearing|espet\w*|machuc\w*|cortando|clavando|clava|pinch\w*|furando|ferindo|perfur\w*",
        ],
    },
    Rule {
        category: "denture_ulcer",
        severity: Severity::Urgent,
        patterns: &[
            r"denture\w*|plate|false teeth|partial|dentadura\w*|protese|placa|dentier && sore\w*|ulcer\w*|raw|rub\w*|blister\w*|wound|cut\w*|llaga\w*|ulcera\w*|ferida\w*|machuc\w*|afta\w* && cant (eat|chew|drink|wear|comer)|stopped eating|wont eat|not eating|(so|too|really|very) (sore|painful)|painful|agony|unbearabl\w*|hurts? (to|when) (eat|chew)|open sore|bleed\w*",
        ],
    },
    Rule {
        category: "lost_temporary_with_pain",
        severity: Severity::Urgent,
        patterns: &[r"{RESTORATION} && {CAME_OUT} && {PAIN}|sensitiv\w*|{INTENSE}"],
    },
    Rule {
        category: "dry_socket",
        severity: Severity::Urgent,
        patterns: &[
            r"dry socket|dry sockets|alveolitis|alveolite !! avoid|prevent|risk|chance|tomorrow|next week|scheduled|upcoming|before (my|the)|worried (about|i might)",
            r"{EXTRACTED} && {PAIN}|{INTENSE} && worse|worsening|more pain|more painful|bone|empty|hole looks|smell\w*|stink\w*|foul|awful taste|bad taste|rotten|clot [^.]{0,20}(fell|came|washed|gone|dislodged|out)|washed out|radiat\w*|ear|earache|[2-9] days (later|after|ago|since|out)|(two|three|four|five|six) days (later|after|ago|since|out)|day (2|3|4|5|two|three|four|five)|days after !! {MILD}|getting better|improv\w*",
        ],
    },
    Rule {
        category: "post_operative_complication",
        severity: Severity::Urgent,
        patterns: &[
            r"{PROCEDURE} && pus|{FEVER}|infect\w*|{SWELL}|(getting|got|gets|keeps getting|is getting|gotten) (worse|bigger|more painful|more swollen)|more (painful|swollen|sore)|worse (than|every|each|and)|worsening|unstopped|stitch\w* [^.]{0,30}(open\w*|apart|undone|came out|fell out|broke|loose|burst)|(open\w*|apart|undone|burst) [^.]{0,20}stitch\w*|wound [^.]{0,15}open|sutur\w* [^.]{0,20}(open|apart)|pontos [^.]{0,20}(abri\w*|solt\w*)|puntos [^.]{0,20}(abri\w*|solt\w*) !! {MILD}|normal|expected|usual|how long|should i expect|is it ok",
        ],
    },
    Rule {
        category: "avulsion",
        severity: Severity::Urgent,
        patterns: &[
            r"{TOOTH} [^.,]{0,30}(knocked|came|come|fell|popped|got knocked|was knocked|has been knocked|flew|fallen|pulled|came clean|got) (clean |right |completely )?out !! {BABY}|filling|crown|temp\w*|veneer|onlay|inlay|bridge|bracket|cap",
            r"knocked (out )?(my|his|her|their|a|the|one of)? ?[^.]{0,15}{TOOTH}( clean| right)? out|knocked out {TOOTH}|{TOOTH} knocked out|avuls\w*|avulsion !! {BABY}",
            r"se (le |me )?(salio|cayo)|caiu|saiu|arranc\w*|perdi && diente\w*|dente\w*|muela\w* && golpe\w*|caida|pancada|queda|batida|acidente|inteir\w*|entero|raiz|permanente|leche|leite !! (dente|diente)s? de (leche|leite)",
            r"{TOOTH} && (in|en|no|em|into|num|numa|en un|en una|in a|into a) (a )?(cup of |glass of |vaso de |copo de |taza de |some )?(milk|leche|leite) !! {BABY}",
        ],
    },
    Rule {
        category: "luxation",
        severity: Severity::Urgent,
        patterns: &[
            r"{TOOTH}|front one && pushed (in|back|up|out|into|forward|sideways|inwards|backwards)|shoved (up|in|back|into)|knocked (loose|back|sideways|crooked|out of (line|place))|(sits?|sitting|sticks?|sticking) (lower|higher|out|further|forward)|out of (line|place|position)|looks? (shorter|longer|crooked|lower|higher)|moved|displaced|bent (back|in|forward)|wobbl\w*|loose|wiggl\w*|mobile|movendo|mole|mexendo|floj\w*|se mueve|suelto|torto|empurrad\w*|deslocad\w* && {TRAUMA} !! {BABY}|fall out",
            r"(pushed|shoved) (up )?into (the|my|his|her) gum",
        ],
    },
    Rule {
        category: "fracture_pulp_exposure",
        severity: Severity::Urgent,
        patterns: &[
            r"{BROKE}|gone && nerve|pulp|pink (dot|spot)|red (dot|spot)|(dot|spot) [^.]{0,30}(bleed\w*|pink|red|blood)|bleed\w* from (the|inside) (tooth|middle)|nervio|nervo|pulpa|polpa",
        ],
    },
    Rule {
        category: "fracture_with_pain",
        severity: Severity::Urgent,
        patterns: &[
            r"{BROKE} && {TOOTH}|filling|crown|cusp && {PAIN}|{INTENSE}|sensitiv\w*|sharp|jagged|cut\w*|slic\w* !! {MILD}|never hurt|painless|cosmetic|old chip|smooth it|bonding",
        ],
    },
    Rule {
        category: "soft_tissue_trauma",
        severity: Severity::Urgent,
        patterns: &[
            r"deep cut|bad cut|big cut|nasty cut|a cut|cut (my|his|her|their|the|inside|into|open|through|right)|gash\w*|(a|big|deep|large|nasty|bad) (tear|rip)|torn|ripped|lacerat\w*|split (my|his|her|the|open)|bit (through|into|right through|straight through)|flap of skin|wound|corte\w*|cortad\w*|rasgad\w*|rasgo|herida|ferida && lip|lips|tongue|cheek\w*|palate|roof of (my|his|her|the) mouth|gum\w*|inside (of )?(my|his|her|the) (mouth|cheek|lip)|labio\w*|lengua|lingua|bochecha|mejilla|paladar|encia|gengiva|boca && deep|gaping|gape\w*|gash\w*|bleed\w*|blood\w*|hanging|big|large|wide|open|stitches|nasty|bad|pouring|profund\w*|sangr\w*|abiert\w*|abert\w* !! {MILD}|small|tiny|minor|paper|ulcer",
        ],
    },
    Rule {
        category: "trismus",
        severity: Severity::Urgent,
        patterns: &[
            r"(cant|barely|hardly|only|struggl\w* to|hard to|difficult to|trouble|(can|could) only) (open|get|fit|abrir) [^.]{0,40}(mouth|jaw|finger\w*|spoon|fork|food|wide|crack|more than|boca)|lock ?jaw|jaw (has |is |feels )?(seized|locked|stuck)( up| shut| closed)?|seized up|trismus|trismo|cant abrir|boca (trabada|travada)",
        ],
    },
    Rule {
        category: "abscess",
        severity: Severity::Urgent,
        patterns: &[
            r"abscess\w*|absceso\w*|abscesso\w*|pus|gum ?boil|boil on (my|his|her|the) gum|fistul\w*|postema|flemon|flegmao",
            r"pimple|bump|lump|boil|spot|blister|bubble|bolinha|bolita|grano|caroco && gum\w*|encia\w*|gengiva\w* && {PAIN}|pus|pops|popped|taste|{SWELL}|bigger|growing|ooz\w* !! {MILD}|small|tiny",
            r"ooz\w* && gum\w*|{TOOTH}|socket",
            r"(foul|bad|nasty|awful|horrible|disgusting|salty|metallic|rotten|gross) (taste|tastes|tasting)|tastes? (nasty|foul|bad|awful|horrible|disgusting|salty|rotten|gross)|mal sabor|gosto ruim|sabor ruim && gum\w*|{SWELL}|throb\w*|{PAIN} !! halitosis|breath",
            r"(gum|gums|encia|encias|gengiva|gengivas) [^.]{0,25}({SWELL}) && {PAIN}|throb\w*|taste|pus !! {MILD}",
            r"({SWELL}) [^.]{0,25}(gum|gums|encia|encias|gengiva|gengivas) && {PAIN}|throb\w*|taste|pus !! {MILD}",
        ],
    },
    Rule {
        category: "facial_swelling",
        severity: Severity::Urgent,
        patterns: &[
            r"({SWELL}) [^.?]{0,60}\b({FACE})|({FACE}) [^.?]{0,60}\b({SWELL}) !! (a bit|a little|a little bit|slightly|mildly|a tiny bit) (swollen|puffy|swelling)[^?]{0,60}({PROCEDURE}|filling|cleaning|treatment|procedure)|({PROCEDURE}|filling|cleaning|treatment|procedure)[^?]{0,60}(a bit|a little|slightly|mildly) (swollen|puffy)",
        ],
    },
    Rule {
        category: "pulpitis",
        severity: Severity::Urgent,
        patterns: &[
            r"{PAIN}|pulsing|pounding|pulsating && linger\w*|lasts? (for )?(minutes|ages|a while|long)|stays? for|for minutes|wakes? (me|him|her|us)|woke (me|him|her|us)|waking (me|him|her|us)|kept me awake|at night|in the night|lie down|lying down|out of nowhere|on its own|by itself|all by itself|spontaneous\w*|constant\w*|pounding|pulsing|pulsating|throbbing|throbs|throb|cold water [^.]{0,20}(help|only)|latej\w*|pulsatil|punzante|de noche|a noite|me despierta|me acorda !! {MILD}|twinge|grind\w*|clench\w*|brux\w*",
        ],
    },
    Rule {
        category: "severe_pain",
        severity: Severity::Urgent,
        patterns: &[
            r"{PAIN} && severe\w*|excruciat\w*|unbearabl\w*|agony|agonising|agonizing|killing me|worst|crippling|10 (out of )?10|ten out of ten|9 (out of )?10|unrelieved|insoportabl\w*|insuportavel|no aguanto|nao aguento|electric shocks?|shooting|cant sleep|cant dormir|kept me (up|awake)|keeping me (up|awake)|up all night|awake all night|pacing|screaming|had to leave work|desperate|cant (even )?(think|concentrate|function|work|focus)|intense|horrible|horrendous|terrible|awful|extreme\w*|horribl\w*|terribl\w*|horrivel|terrivel|muy fuerte|muito forte|intens\w*|ridiculous",
            r"{PAIN} && crying|in tears|shaking|cant (eat|chew)|(very|really|so|extremely|incredibly|super) (painful|bad|sore) !! {MILD}",
        ],
    },
];

/// `{NAME}` replaced by its fragment (fragments may use other fragments: two passes suffice).
pub fn expand(pattern: &str) -> String {
    let mut out = pattern.to_owned();
    for _ in 0..2 {
        for (name, body) in FRAGMENTS {
            out = out.replace(&format!("{{{name}}}"), &format!("(?:{body})"));
        }
    }
    out
}

fn word_regex(part: &str) -> Matcher {
    compile(&format!(r"\b(?:{})\b", expand(part.trim())))
}

struct Pattern {
    parts: Vec<Matcher>,
    unless: Option<Matcher>,
}

impl Pattern {
    fn matches(&self, live: &[u8], unmasked: &[u8]) -> bool {
        self.parts.iter().all(|part| part.is_match(live))
            && !self.unless.as_ref().is_some_and(|re| re.is_match(unmasked))
    }
}

/// The rows compiled; [`RuleMatcher::matches`] says which rows a message's present text fits.
pub struct RuleMatcher {
    rules: Vec<(&'static Rule, Vec<Pattern>)>,
}

impl std::fmt::Debug for RuleMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleMatcher").field("rules", &self.rules.len()).finish()
    }
}

impl Default for RuleMatcher {
    fn default() -> Self {
        Self::new()
    }
}

impl RuleMatcher {
    pub fn new() -> Self {
        let rules = RULES
            .iter()
            .map(|rule| {
                let patterns = rule
                    .patterns
                    .iter()
                    .map(|pattern| {
                        let (all, unless) = match pattern.split_once(" !! ") {
                            Some((all, unless)) => (all, Some(unless)),
                            None => (*pattern, None),
                        };
                        Pattern {
                            parts: all.split(" && ").map(word_regex).collect(),
                            unless: unless.map(word_regex),
                        }
                    })
                    .collect();
                (rule, patterns)
            })
            .collect();
        Self { rules }
    }

    /// Every row whose pattern fits the present text, in priority order.
    pub fn matches<'a>(&'a self, live: &'a str, unmasked: &'a str) -> impl Iterator<Item = &'static Rule> + 'a {
        self.rules
            .iter()
            .filter(move |(_, patterns)| {
                !live.is_empty()
                    && patterns
                        .iter()
                        .any(|pattern| pattern.matches(live.as_bytes(), unmasked.as_bytes()))
            })
            .map(|(rule, _)| *rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_compiles_and_names_an_urgent_category() {
        let matcher = RuleMatcher::new();
        assert_eq!(matcher.rules.len(), RULES.len());
        for rule in RULES {
            assert!(
                super::super::first_aid::lookup(rule.category).is_some(),
                "{}",
                rule.category
            );
        }
    }
}
