//! The offline provider: a curated dental knowledge base in English, Spanish and Portuguese, with
//! BM25 retrieval.
//!
//! It needs no key and no network, so the product works (and tests run) anywhere. The knowledge
//! base is one file per language (`offline_kb.{en,es,pt}.txt`, compiled in), holding the same
//! topics with one short, patient-facing answer each. A reply is the best-matching topic's answer,
//! in the language of the patient's message, for the new message plus, at half weight, the
//! patient's two previous messages; below a score threshold the reply says what the assistant can
//! help with and points to the clinic.
//!
//! Text is analysed per language: accents folded, lower-cased, language-specific stop words
//! dropped, a few phrases and common misspellings rewritten, unknown words corrected towards the
//! knowledge base's vocabulary (one edit, two for long words), Snowball stems (`rust-stemmers`),
//! plus adjacent-word pairs so "dry mouth" or "muela del juicio" weigh more than either word.
//!
//! Token usage is an estimate (about four tokens per three words, see
//! [`super::estimate_tokens`]): input counts what a hosted model would have read (system
//! instruction and every turn), output counts the reply.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use futures::StreamExt;
use rust_stemmers::{Algorithm, Stemmer};
use shared::ai::{Language, TurnRole, Usage};
use unicode_normalization::UnicodeNormalization;

use super::{ChunkStream, Completion, Provider, StreamChunk, UpstreamError, estimate_tokens};
use crate::prompt::Prompt;
use crate::triage::decide_language;

/// The model name reported for offline answers.
pub const MODEL: &str = "offline-kb-v1";
const KB_EN: &str = include_str!("offline_kb.en.txt");
const KB_ES: &str = include_str!("offline_kb.es.txt");
const KB_PT: &str = include_str!("offline_kb.pt.txt");
/// The languages of the knowledge base, in index order.
const LANGUAGES: [Language; 3] = [Language::En, Language::Es, Language::Pt];
/// Minimum score for an answer; below it the fallback is used.
const MIN_SCORE: f64 = 2.0;
/// Minimum part of a topic's score that must come from its keyword line.
const MIN_KEYWORD_SCORE: f64 = 1.5;
/// Minimum share of the query's idf mass that a topic must contain.
const MIN_COVERAGE: f64 = 0.25;
/// Weight of a word corrected towards the knowledge base's vocabulary.
const CORRECTED_WEIGHT: f64 = 0.8;
/// Weight of the best score found in another language's index (loanwords, mixed messages).
const CROSS_LANGUAGE: f64 = 0.35;
/// Weight of the patient's previous messages.
const HISTORY_WEIGHT: f64 = 0.5;
/// Weight of a topic's keywords against its answer text.
const KEYWORD_WEIGHT: f64 = 3.0;
/// Weight of a topic's answer text.
const ANSWER_WEIGHT: f64 = 1.0;
/// Weight of a pair of adjacent words against a single word.
const PAIR_WEIGHT: f64 = 1.5;
/// Words per streamed chunk.
const WORDS_PER_CHUNK: usize = 4;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Reply when nothing in the knowledge base matches (English).
pub const FALLBACK: &str = "Thank you for your message. I'm the clinic's assistant, and I can help with general questions \
about looking after your teeth and gums, about treatments and what to expect from them, about recovery after a visit, \
and about children's teeth and dental care in pregnancy.\n\n\
I couldn't find a good answer to that particular question. Could you tell me a little more, or ask it another way? \
For appointments, prices and anything about your own treatment plan, the clinic's reception team will be glad to help.\n\n\
If you have severe pain, swelling of your face or neck, bleeding that won't stop, or trouble breathing or swallowing, \
please contact the clinic now or call emergency services (911/999/112).";

const FALLBACK_ES: &str = "Gracias por su mensaje. Soy el asistente de la clínica y puedo ayudarle con preguntas generales \
sobre el cuidado de los dientes y las encías, sobre los tratamientos y qué esperar de ellos, sobre la recuperación \
después de una visita, y sobre los dientes de los niños y la salud bucal en el embarazo.\n\n\
No he encontrado una buena respuesta a esa pregunta en concreto. ¿Podría contarme un poco más o preguntarlo de otra \
manera? Para citas, precios y cualquier duda sobre su propio tratamiento, el equipo de recepción de la clínica le \
atenderá con gusto.\n\n\
Si tiene un dolor fuerte, hinchazón en la cara o el cuello, un sangrado que no se detiene o dificultad para respirar \
o tragar, contacte con la clínica ahora o llame a emergencias (112/911).";

const FALLBACK_PT: &str = "Obrigado pela sua mensagem. Sou o assistente da clínica e posso ajudar com dúvidas gerais \
sobre o cuidado com os dentes e a gengiva, sobre tratamentos e o que esperar deles, sobre a recuperação depois de uma \
consulta, e sobre os dentes das crianças e a saúde bucal na gravidez.\n\n\
Não encontrei uma boa resposta para essa pergunta específica. Pode me contar um pouco mais ou perguntar de outro \
jeito? Para agendamentos, preços e qualquer dúvida sobre o seu próprio tratamento, a recepção da clínica terá prazer \
em ajudar.\n\n\
Se você estiver com dor forte, inchaço no rosto ou no pescoço, um sangramento que não para ou dificuldade para \
respirar ou engolir, entre em contato com a clínica agora ou ligue para a emergência (192/112).";

/// The fallback reply in `language`.
pub fn fallback(language: Language) -> &'static str {
    match language {
        Language::En => FALLBACK,
        Language::Es => FALLBACK_ES,
        Language::Pt => FALLBACK_PT,
    }
}

fn slot(language: Language) -> usize {
    match language {
        Language::En => 0,
        Language::Es => 1,
        Language::Pt => 2,
    }
}

const STOP_EN: &str = "\
a about after again all also am an and any anything are as at be been being but by can cant could did do does \
doing dont for from get getting got had has have having he her hers him his how i id if im in into is it its \
ive just know like may me might more most much my need no not now of off ok okay on or our over please really \
she should so some still than thank thanks that thats the their them then there these they this those to too \
up us very want was we were what whats when where which while who why will with would you your youre hi hello \
dear question dentist dentists dental wondering wonder tell ask asking actually honestly bit little lot think \
go going s t ll re ve d m normal normally ever anyway thing things year years yr yrs old";

const STOP_ES: &str = "\
a al algo alguna alguno algun ante aqui asi como con cual cuales cuando de del desde donde e el ella ellos en \
entre era es esa ese eso esta estan estar este esto estoy fue ha hay he hola la las le les lo los me mi mis \
muy mas nos o para pero por porque puede pueden puedo que se ser si sin sobre son soy su sus tambien te tengo \
tiene tienen tu tus u un una unos unas usted ustedes y ya yo dentista dental gracias buenas buenos dias tardes \
pregunta favor quiero quisiera debo deberia hacer hace vez veces normal bien mucho poco ahora todo toda todos \
nada saber duda consulta ayuda ir voy va van hay sea esos esas estas estos igual creo dia usar uso tan \
oye ano anos bueno buena buenos buenas siempre teniendo tienes tenia estaba siento senti hoy ayer \
manana alli entonces cosa gente hizo todavia aun ahi mucha muchos eres";

const STOP_PT: &str = "\
a ao aos as com como da das de do dos e ela ele eles em entre essa esse isso esta estao estar este estou eu \
foi ha isto ja lhe mais mas me meu meus minha minhas muito na nas no nos num numa o os ou para pela pelo pode \
podem posso pra pro pros pras que qual quais se ser sem seu sua seus suas sobre sou ta tambem te tem tenho tu \
um uma uns umas voce voces dentista dental obrigado obrigada oi ola bom boa dia tarde pergunta favor quero \
queria gostaria devo deveria fazer faz vez vezes normal bem pouco agora todo toda todos nada saber duvida \
ajuda ir vou vai vao seja acho usar uso tao mesmo aquele aquela dar ai ano anos bons boas tendo sempre fico \
ficou ficar sinto senti estava hoje ontem amanha aqui entao coisa gente tudo ne to tava dele dela nosso nossa \
vem ainda muita muitos";

const UNSTEMMED_EN: &[&str] = &["teething"];

/// Word rewrites applied before stemming, one `from = to` a line over folded words: misspellings,
/// spelling variants and synonyms that the knowledge base spells one way. Phrases are matched on
/// whole words; the knowledge base goes through the same rewrites.
const REWRITES_EN: &str = "\
x ray = xray\n\
how often = often\n\
x rays = xray\n\
xrays = xray\n\
radiographs = xray\n\
tooth pulled = extraction\n\
teeth pulled = extraction\n\
tooth out = extraction\n\
tooth removed = extraction\n\
taken out = extraction\n\
check up = checkup\n\
check ups = checkup\n\
mouth guard = mouthguard\n\
gum shield = mouthguard\n\
night guard = nightguard\n\
tooth paste = toothpaste\n\
tooth brush = toothbrush\n\
mouth wash = mouthwash\n\
e cigarette = vape\n\
e cigarettes = vape\n\
root canals = root canal\n\
invisalign = aligner\n\
waterpik = water flosser\n\
novocaine = anaesthetic\n\
novocain = anaesthetic\n\
anesthetic = anaesthetic\n\
anesthesia = anaesthetic\n\
anaesthesia = anaesthetic\n\
pacifier = dummy\n\
binky = dummy\n\
color = colour\n\
odor = odour\n\
pediatric = children\n\
kid = child\n\
kids = children\n\
brases = braces\n\
braises = braces\n\
wisdome = wisdom\n\
senstive = sensitive\n\
sensative = sensitive\n\
sensetive = sensitive\n\
teath = teeth\n\
teeths = teeth\n\
tooths = teeth\n\
gingivitus = gingivitis\n\
flouride = fluoride\n\
floride = fluoride\n\
denchers = dentures\n\
dentuers = dentures\n\
implnat = implant\n\
tmj = jaw joint\n\
tmd = jaw joint\n\
halitosis = bad breath\n\
bruxism = grinding\n\
preggers = pregnant\n\
insurence = insurance";

const REWRITES_ES: &str = "\
rayos x = radiografia\n\
cada cuanto tiempo = frecuencia\n\
cada cuanto = frecuencia\n\
con que frecuencia = frecuencia\n\
rayo x = radiografia\n\
rx = radiografia\n\
muela del juicio = cordal\n\
muelas del juicio = cordal\n\
cordales = cordal\n\
sacar la muela = extraccion\n\
sacar una muela = extraccion\n\
sacaron una muela = extraccion\n\
sacaron la muela = extraccion\n\
me sacaron = extraccion\n\
hilo dental = hilo\n\
seda dental = hilo\n\
cepillo de dientes = cepillo\n\
pasta dental = pasta\n\
pasta de dientes = pasta\n\
crema dental = pasta\n\
dentifrico = pasta\n\
enjuague bucal = enjuague\n\
colutorio = enjuague\n\
cigarrillo electronico = vapeo\n\
vapear = vapeo\n\
vapeador = vapeo\n\
vaper = vapeo\n\
vape = vapeo\n\
tratamiento de conducto = endodoncia\n\
matar el nervio = endodoncia\n\
invisalign = alineadores\n\
brackets = brackets\n\
frenos = brackets\n\
frenillos = brackets\n\
aparatos = brackets\n\
ortodoncia = brackets\n\
chupon = chupete\n\
tetina = chupete\n\
chupo = chupete\n\
protesis = dentadura\n\
placa dental = placa\n\
diabetica = diabetico\n\
embarazo = embarazada\n\
ortodonsia = brackets\n\
endodonsia = endodoncia\n\
enjuage = enjuague\n\
fluor = fluor\n\
encia = encias\n\
aliento = aliento\n\
halitosis = mal aliento\n\
bruxismo = rechinar\n\
apretar = rechinar\n\
rechino = rechinar\n\
rechina = rechinar\n\
dormido = anestesia\n\
dormida = anestesia\n\
adormecido = anestesia";

const REWRITES_PT: &str = "\
raio x = radiografia\n\
raios x = radiografia\n\
rx = radiografia\n\
dente do siso = siso\n\
dentes do siso = siso\n\
terceiro molar = siso\n\
arrancar o dente = extracao\n\
tirar o dente = extracao\n\
tirar um dente = extracao\n\
extrair = extracao\n\
extrai = extracao\n\
fio dental = fio\n\
escova de dente = escova\n\
escova de dentes = escova\n\
pasta de dente = pasta\n\
pasta de dentes = pasta\n\
creme dental = pasta\n\
dentifricio = pasta\n\
enxaguante bucal = enxaguante\n\
enxaguatorio = enxaguante\n\
elixir = enxaguante\n\
antisseptico bucal = enxaguante\n\
cigarro eletronico = vape\n\
pod = vape\n\
vaper = vape\n\
tratamento de canal = canal\n\
desvitalizar = canal\n\
invisalign = alinhadores\n\
aparelho ortodontico = aparelho\n\
aparelho fixo = aparelho\n\
lente de contato dental = faceta\n\
lentes de contato dental = faceta\n\
lente de contato = faceta\n\
lentes de contato = faceta\n\
lentes = faceta\n\
chupeta = chupeta\n\
bico = chupeta\n\
protese = dentadura\n\
chapa = dentadura\n\
diabetica = diabetico\n\
gravida = gravidez\n\
gestante = gravidez\n\
gestacao = gravidez\n\
amamentando = amamentacao\n\
halitose = mau halito\n\
bruxismo = ranger\n\
ranjo = ranger\n\
range = ranger\n\
apertar = ranger\n\
dormente = anestesia\n\
dormencia = anestesia\n\
anestesiado = anestesia\n\
convenio = convenio\n\
plano odontologico = convenio\n\
parcelar = parcelamento\n\
parcelado = parcelamento\n\
parcela = parcelamento\n\
parcelas = parcelamento\n\
pavor = ansiedade\n\
mole = amolecido\n\
molinho = amolecido\n\
moles = amolecido\n\
medo = ansiedade\n\
de quanto em quanto tempo = frequencia\n\
de quanto em quanto = frequencia\n\
com que frequencia = frequencia\n\
a cada quanto tempo = frequencia\n\
cada quanto tempo = frequencia\n\
remarcar = remarcar\n\
desmarcar = cancelar\n\
dentinhos = dentes\n\
dentinho = dente\n\
gengivas = gengiva";

/// A phrase rewrite: the words after the first, and what the phrase becomes.
struct Rewrite {
    rest: Vec<&'static str>,
    to: Vec<&'static str>,
}

/// One language's text pipeline.
struct Analyzer {
    stemmer: Stemmer,
    stop: HashSet<&'static str>,
    /// Words whose stem would merge them with an unrelated word ("teething" -> "teeth").
    unstemmed: HashSet<&'static str>,
    /// Rewrites keyed by their first word: (rest of the phrase, replacement words).
    rewrites: HashMap<&'static str, Vec<Rewrite>>,
}

/// Lower-case, accent-free words (letters and digits).
fn fold_words(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded.split_whitespace().map(str::to_owned).collect()
}

impl Analyzer {
    fn new(language: Language) -> Self {
        let (algorithm, stop, rewrite_table, unstemmed) = match language {
            Language::En => (Algorithm::English, STOP_EN, REWRITES_EN, UNSTEMMED_EN),
            Language::Es => (Algorithm::Spanish, STOP_ES, REWRITES_ES, &[][..]),
            Language::Pt => (Algorithm::Portuguese, STOP_PT, REWRITES_PT, &[][..]),
        };
        let mut rewrites: HashMap<&'static str, Vec<Rewrite>> = HashMap::new();
        for line in rewrite_table.lines() {
            let Some((from, to)) = line.split_once(" = ") else {
                continue;
            };
            let mut words = from.split_whitespace();
            let Some(first) = words.next() else { continue };
            rewrites.entry(first).or_default().push(Rewrite {
                rest: words.collect(),
                to: to.split_whitespace().collect(),
            });
        }
        // Longest phrases first, so "muelas del juicio" wins over a shorter rule.
        for rules in rewrites.values_mut() {
            rules.sort_by_key(|rule| std::cmp::Reverse(rule.rest.len()));
        }
        Self {
            stemmer: Stemmer::create(algorithm),
            stop: stop.split_whitespace().collect(),
            unstemmed: unstemmed.iter().copied().collect(),
            rewrites,
        }
    }

    /// Folded words with the rewrites applied (stop words kept).
    fn words(&self, text: &str) -> Vec<String> {
        let raw = fold_words(text);
        let mut out = Vec::with_capacity(raw.len());
        let mut i = 0;
        'outer: while i < raw.len() {
            if let Some(rules) = self.rewrites.get(raw[i].as_str()) {
                for rule in rules {
                    let end = i + 1 + rule.rest.len();
                    if end <= raw.len() && raw[i + 1..end].iter().zip(&rule.rest).all(|(a, b)| a == b) {
                        out.extend(rule.to.iter().map(|w| (*w).to_owned()));
                        i = end;
                        continue 'outer;
                    }
                }
            }
            out.push(raw[i].clone());
            i += 1;
        }
        out
    }

    fn stem(&self, word: &str) -> String {
        if self.unstemmed.contains(word) {
            return word.to_owned();
        }
        self.stemmer.stem(word).into_owned()
    }

    /// Content words of `text`, stemmed, in order (one-letter words and stop words dropped), each
    /// with its weight: 1, or [`CORRECTED_WEIGHT`] for a word spelling-corrected through
    /// `vocabulary`.
    fn stems(&self, text: &str, vocabulary: Option<&Vocabulary>) -> Vec<(String, f64)> {
        self.words(text)
            .into_iter()
            .filter(|word| word.len() > 1 && !self.stop.contains(word.as_str()))
            .map(|word| match vocabulary {
                Some(vocabulary) => vocabulary.correct(&word, self),
                None => (self.stem(&word), 1.0),
            })
            .collect()
    }
}

/// Stems plus adjacent pairs, each with its weight.
fn with_pairs(stems: &[(String, f64)]) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = stems.to_vec();
    out.extend(stems.windows(2).filter(|pair| pair[0].0 != pair[1].0).map(|pair| {
        (
            format!("{}_{}", pair[0].0, pair[1].0),
            PAIR_WEIGHT * pair[0].1.min(pair[1].1),
        )
    }));
    out
}

/// The folded words of one language's knowledge base, for spelling correction.
#[derive(Default)]
struct Vocabulary {
    /// word -> stem, for every word of length >= 4 in the knowledge base.
    words: HashMap<String, String>,
    /// Every stem of those words: a query word with a known stem needs no correction.
    stems: HashSet<String>,
    /// Words grouped by first letter.
    by_initial: HashMap<char, Vec<String>>,
}

impl Vocabulary {
    fn add(&mut self, word: &str, analyzer: &Analyzer) {
        if word.len() < 4 || word.chars().any(|c| c.is_ascii_digit()) || self.words.contains_key(word) {
            return;
        }
        let stem = analyzer.stem(word);
        self.stems.insert(stem.clone());
        self.words.insert(word.to_owned(), stem);
        if let Some(initial) = word.chars().next() {
            self.by_initial.entry(initial).or_default().push(word.to_owned());
        }
    }

    /// The stem of `word`, or of the knowledge-base word one edit away (two for long words) when
    /// `word` itself is unknown.
    fn correct(&self, word: &str, analyzer: &Analyzer) -> (String, f64) {
        if let Some(stem) = self.words.get(word) {
            return (stem.clone(), 1.0);
        }
        let stem = analyzer.stem(word);
        let length = word.chars().count();
        if length < 7 || self.stems.contains(&stem) {
            return (stem, 1.0);
        }
        let budget = if length >= 9 { 2 } else { 1 };
        let initial = word.chars().next().unwrap_or(' ');
        let best = self
            .by_initial
            .get(&initial)
            .into_iter()
            .flatten()
            .filter(|candidate| candidate.chars().count().abs_diff(length) <= budget)
            .map(|candidate| (strsim::osa_distance(word, candidate), candidate))
            .filter(|(distance, _)| *distance <= budget)
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        match best.and_then(|(_, candidate)| self.words.get(candidate.as_str())) {
            Some(corrected) => (corrected.clone(), CORRECTED_WEIGHT),
            None => (stem, 1.0),
        }
    }
}

/// One language's BM25 index over the topics.
struct Index {
    analyzer: Analyzer,
    vocabulary: Vocabulary,
    /// term -> its idf and the topics that hold it.
    postings: HashMap<Box<str>, Posting>,
    /// Per topic, `K1 * (1 - B + B * length / average length)`.
    norms: Vec<f64>,
}

struct Posting {
    idf: f64,
    hits: Box<[Hit]>,
}

struct Hit {
    topic: usize,
    /// Weighted term frequency.
    tf: f64,
    /// The term is on the topic's keyword lines (or in its id): a topic is only chosen when enough
    /// of its score comes from those, so an answer never wins on incidental words of its text.
    keyword: bool,
}

impl Index {
    fn build(language: Language, topics: &[(String, String, String)]) -> Self {
        let analyzer = Analyzer::new(language);
        let mut vocabulary = Vocabulary::default();
        let mut counts: Vec<HashMap<String, (f64, bool)>> = Vec::with_capacity(topics.len());
        for (id, keywords, answer) in topics {
            let mut tf: HashMap<String, (f64, bool)> = HashMap::new();
            let mut keyword_text = keywords.clone();
            if language == Language::En {
                keyword_text.push(' ');
                keyword_text.push_str(&id.replace('-', " "));
            }
            for (text, weight, keyword) in [(&keyword_text, KEYWORD_WEIGHT, true), (answer, ANSWER_WEIGHT, false)] {
                for word in analyzer.words(text) {
                    vocabulary.add(&word, &analyzer);
                }
                for (term, pair_weight) in with_pairs(&analyzer.stems(text, None)) {
                    let entry = tf.entry(term).or_default();
                    entry.0 += weight * pair_weight;
                    entry.1 |= keyword;
                }
            }
            counts.push(tf);
        }
        #[allow(clippy::cast_precision_loss)]
        let n = topics.len() as f64;
        let lengths: Vec<f64> = counts.iter().map(|tf| tf.values().map(|(f, _)| f).sum()).collect();
        let avg_length = if lengths.is_empty() {
            1.0
        } else {
            lengths.iter().sum::<f64>() / n
        };
        let mut hits: HashMap<String, Vec<Hit>> = HashMap::new();
        for (topic, tf) in counts.into_iter().enumerate() {
            for (term, (tf, keyword)) in tf {
                hits.entry(term).or_default().push(Hit { topic, tf, keyword });
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let postings = hits
            .into_iter()
            .map(|(term, hits)| {
                let df = hits.len() as f64;
                let posting = Posting {
                    idf: ((n - df + 0.5) / (df + 0.5) + 1.0).ln(),
                    hits: hits.into_boxed_slice(),
                };
                (term.into_boxed_str(), posting)
            })
            .collect();
        Self {
            analyzer,
            vocabulary,
            postings,
            norms: lengths
                .iter()
                .map(|length| K1 * (1.0 - B + B * length / avg_length))
                .collect(),
        }
    }

    /// Weighted query terms of the conversation's patient messages.
    fn query(&self, messages: &[(&str, f64)], correct: bool) -> Vec<(String, f64)> {
        let mut weights: HashMap<String, f64> = HashMap::new();
        for (text, weight) in messages {
            let stems = self.analyzer.stems(text, correct.then_some(&self.vocabulary));
            for (term, pair_weight) in with_pairs(&stems) {
                let entry = weights.entry(term).or_default();
                *entry = entry.max(weight * pair_weight);
            }
        }
        weights.into_iter().collect()
    }

    /// The BM25 score of every topic for `query`.
    fn scores(&self, query: &[(String, f64)]) -> Vec<TopicScore> {
        let mut scores = vec![TopicScore::default(); self.norms.len()];
        for (term, weight) in query {
            let Some(posting) = self.postings.get(term.as_str()) else {
                continue;
            };
            let single = !term.contains('_');
            for hit in &posting.hits {
                let score = weight * posting.idf * hit.tf * (K1 + 1.0) / (hit.tf + self.norms[hit.topic]);
                let entry = &mut scores[hit.topic];
                entry.total += score;
                if hit.keyword {
                    entry.keywords += score;
                }
                if single {
                    entry.matched += weight * posting.idf;
                }
            }
        }
        scores
    }

    /// The idf mass of the query's single words; a word the knowledge base lacks counts as the
    /// rarest word.
    fn query_mass(&self, query: &[(String, f64)]) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let n = self.norms.len() as f64;
        let rarest = ((n - 1.0 + 0.5) / 1.5 + 1.0).ln();
        query
            .iter()
            .filter(|(term, _)| !term.contains('_'))
            .map(|(term, weight)| weight * self.postings.get(term.as_str()).map_or(rarest, |p| p.idf))
            .sum()
    }
}

/// One topic's score for a query.
#[derive(Clone, Copy, Default)]
struct TopicScore {
    /// BM25 over keywords and answer text.
    total: f64,
    /// The part of `total` from the topic's keyword line.
    keywords: f64,
    /// The idf mass of the query's single words that the topic contains.
    matched: f64,
}

/// One knowledge-base topic, answered in every language.
#[derive(Debug)]
pub struct Topic {
    pub id: String,
    answers: [String; 3],
}

impl Topic {
    /// The answer in `language`.
    pub fn answer(&self, language: Language) -> &str {
        &self.answers[slot(language)]
    }
}

/// The parsed knowledge base with one BM25 index per language.
pub struct KnowledgeBase {
    topics: Vec<Topic>,
    indexes: [Index; 3],
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase")
            .field("topics", &self.topics.len())
            .finish_non_exhaustive()
    }
}

/// Parses `=== id` / `keywords: ...` / answer blocks into (id, keywords, answer).
fn parse_blocks(source: &str) -> Vec<(String, String, String)> {
    let mut blocks = Vec::new();
    for block in source.split("\n=== ").skip(1) {
        let mut lines = block.lines();
        let id = lines.next().unwrap_or("").trim().to_owned();
        let mut keywords = String::new();
        let mut answer = Vec::new();
        for line in lines {
            if let Some(rest) = line.strip_prefix("keywords:") {
                keywords.push(' ');
                keywords.push_str(rest);
            } else {
                answer.push(line);
            }
        }
        let answer = answer.join("\n").trim().to_owned();
        if !id.is_empty() && !answer.is_empty() {
            blocks.push((id, keywords, answer));
        }
    }
    blocks
}

impl KnowledgeBase {
    /// Parses the compiled-in knowledge base.
    pub fn load() -> Self {
        Self::parse([KB_EN, KB_ES, KB_PT])
    }

    /// Parses one source per language (English, Spanish, Portuguese). Topics are the English
    /// file's; a topic missing from another language answers in English there (the unit tests
    /// require every file to hold every topic).
    pub fn parse(sources: [&str; 3]) -> Self {
        let parsed = sources.map(parse_blocks);
        let topics: Vec<Topic> = parsed[0]
            .iter()
            .map(|(id, _, english)| {
                let answer_in = |slot: usize| {
                    parsed[slot]
                        .iter()
                        .find(|(other, _, _)| other == id)
                        .map_or_else(|| english.clone(), |(_, _, answer)| answer.clone())
                };
                Topic {
                    id: id.clone(),
                    answers: [english.clone(), answer_in(1), answer_in(2)],
                }
            })
            .collect();
        let indexes = LANGUAGES.map(|language| {
            let slot = slot(language);
            let aligned: Vec<(String, String, String)> = parsed[0]
                .iter()
                .map(|(id, english_keywords, english)| {
                    parsed[slot]
                        .iter()
                        .find(|(other, _, _)| other == id)
                        .cloned()
                        .unwrap_or_else(|| (id.clone(), english_keywords.clone(), english.clone()))
                })
                .collect();
            Index::build(language, &aligned)
        });
        Self { topics, indexes }
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The language to answer in (triage's detector, [`decide_language`]): the new message's, else
    /// the latest earlier patient message's that decides, else English.
    pub fn language(&self, prompt: &Prompt) -> Language {
        prompt
            .conversation
            .iter()
            .rev()
            .filter(|turn| turn.role == TurnRole::User)
            .take(3)
            .find_map(|turn| decide_language(&turn.text))
            .unwrap_or_default()
    }

    /// Scores the topics for the patient messages (with weights) in `language`, best first. A topic
    /// is left out when its keywords score below [`MIN_KEYWORD_SCORE`] or it knows less than
    /// [`MIN_COVERAGE`] of what the query says (by idf mass), so a question that is mostly about
    /// something else ("a good pizza place nearby") gets the fallback, not the topic that happens
    /// to mention "placed".
    pub fn rank(&self, messages: &[(&str, f64)], language: Language) -> Vec<(usize, f64)> {
        let main = &self.indexes[slot(language)];
        let query = main.query(messages, true);
        let mass = main.query_mass(&query).max(f64::EPSILON);
        let scores = main.scores(&query);
        let mut cross = vec![TopicScore::default(); scores.len()];
        for other in LANGUAGES.into_iter().filter(|&other| other != language) {
            let index = &self.indexes[slot(other)];
            for (best, score) in cross.iter_mut().zip(index.scores(&index.query(messages, false))) {
                if score.total > best.total {
                    *best = score;
                }
            }
        }
        let mut ranked: Vec<(usize, f64)> = scores
            .iter()
            .zip(cross)
            .enumerate()
            .filter_map(|(topic, (score, extra))| {
                let keywords = score.keywords + CROSS_LANGUAGE * extra.keywords;
                let eligible = keywords >= MIN_KEYWORD_SCORE && score.matched / mass >= MIN_COVERAGE;
                eligible.then_some((topic, score.total + CROSS_LANGUAGE * extra.total))
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
    }

    /// The answer for a conversation in the language of the patient's message, with the topic id
    /// (`None` for the fallback).
    pub fn answer(&self, prompt: &Prompt) -> (&str, Option<&str>) {
        self.answer_in(prompt, self.language(prompt))
    }

    /// The answer for a conversation in `language`: the new message, plus the two previous patient
    /// messages at half weight.
    pub fn answer_in(&self, prompt: &Prompt, language: Language) -> (&str, Option<&str>) {
        let mut user_turns = prompt.conversation.iter().rev().filter(|t| t.role == TurnRole::User);
        let mut messages: Vec<(&str, f64)> = Vec::with_capacity(3);
        if let Some(last) = user_turns.next() {
            messages.push((last.text.as_str(), 1.0));
        }
        messages.extend(user_turns.take(2).map(|turn| (turn.text.as_str(), HISTORY_WEIGHT)));
        match self.rank(&messages, language).first() {
            Some(&(index, score)) if score >= MIN_SCORE => {
                let topic = &self.topics[index];
                (topic.answer(language), Some(topic.id.as_str()))
            }
            _ => (fallback(language), None),
        }
    }
}

/// The offline provider.
pub struct OfflineProvider {
    kb: KnowledgeBase,
}

impl Default for OfflineProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl OfflineProvider {
    pub fn new() -> Self {
        Self {
            kb: KnowledgeBase::load(),
        }
    }

    fn reply(&self, prompt: &Prompt) -> Completion {
        // The chosen topic is not logged: it would reveal what the patient asked about.
        let (answer, _topic) = self.kb.answer(prompt);
        let input = estimate_tokens(prompt.system)
            + prompt
                .turns()
                .iter()
                .map(|turn| estimate_tokens(&turn.text))
                .sum::<u32>();
        Completion {
            text: answer.to_owned(),
            usage: Usage {
                input_tokens: input,
                output_tokens: estimate_tokens(answer),
            },
            finish_reason: "stop".to_owned(),
        }
    }
}

/// Splits text into groups of words, keeping every character, so the chunks join to the text.
pub fn word_groups(text: &str, words: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    let mut in_word = false;
    for c in text.chars() {
        let is_space = c.is_whitespace();
        if !is_space && !in_word {
            if count == words {
                chunks.push(std::mem::take(&mut current));
                count = 0;
            }
            count += 1;
        }
        in_word = !is_space;
        current.push(c);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[async_trait]
impl Provider for OfflineProvider {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn model(&self) -> &str {
        MODEL
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, UpstreamError> {
        Ok(self.reply(prompt))
    }

    async fn stream(&self, prompt: &Prompt) -> Result<ChunkStream, UpstreamError> {
        let completion = self.reply(prompt);
        let chunks: Vec<Result<StreamChunk, UpstreamError>> = word_groups(&completion.text, WORDS_PER_CHUNK)
            .into_iter()
            .map(|chunk| Ok(StreamChunk::Delta(chunk)))
            .chain(std::iter::once(Ok(StreamChunk::Done {
                usage: completion.usage,
                finish_reason: completion.finish_reason,
            })))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ai::{ChatRequest, HistoryTurn, PatientContext};
    use std::sync::LazyLock;

    /// One knowledge base for all tests (building it is the slow part in a debug build).
    static KB: LazyLock<KnowledgeBase> = LazyLock::new(KnowledgeBase::load);

    fn request(message: &str, history: &[&str]) -> ChatRequest {
        ChatRequest {
            patient: PatientContext {
                name: "Sam".into(),
                medical_notes: None,
                ..PatientContext::default()
            },
            history: history
                .iter()
                .map(|text| HistoryTurn {
                    role: TurnRole::User,
                    content: (*text).into(),
                })
                .collect(),
            message: message.into(),
        }
    }

    fn ask(message: &str, history: &[&str]) -> Option<String> {
        KB.answer(&Prompt::build(&request(message, history)))
            .1
            .map(str::to_owned)
    }

    fn language_of(message: &str) -> Language {
        KB.language(&Prompt::build(&request(message, &[])))
    }

    #[test]
    fn every_language_has_every_topic_in_two_or_three_paragraphs() {
        let parsed = [KB_EN, KB_ES, KB_PT].map(parse_blocks);
        let ids = |slot: usize| parsed[slot].iter().map(|(id, _, _)| id.clone()).collect::<Vec<_>>();
        assert!(ids(0).len() >= 60, "{}", ids(0).len());
        assert_eq!(ids(0), ids(1), "Spanish topics differ from English");
        assert_eq!(ids(0), ids(2), "Portuguese topics differ from English");
        for blocks in &parsed {
            for (id, keywords, answer) in blocks {
                let paragraphs = answer.split("\n\n").count();
                assert!((2..=3).contains(&paragraphs), "{id} has {paragraphs} paragraphs");
                assert!(!keywords.trim().is_empty(), "{id} has no keywords");
            }
        }
        let mut sorted = ids(0);
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids(0).len(), "duplicate topic ids");
    }

    #[test]
    fn retrieves_the_expected_topics() {
        let cases = [
            ("Is flossing really necessary?", "flossing"),
            ("Which floss is best for tight teeth?", "flossing"),
            (
                "Is it okay to use whitening strips with a crown?",
                "whitening-with-restorations",
            ),
            ("How long does professional whitening usually last?", "whitening"),
            ("Are veneers permanent?", "veneers"),
            ("What can I eat the first week with new dentures?", "dentures"),
            ("I've got bad breath even though I brush twice a day", "bad-breath"),
            ("What exactly happens during a root canal?", "root-canal"),
            (
                "How long will I need to wear a retainer after my braces come off?",
                "retainers",
            ),
            ("Is sparkling water bad for tooth enamel?", "acidic-drinks"),
            (
                "Can I have a filling with local anaesthetic in my first trimester?",
                "pregnancy",
            ),
            ("I clench my teeth at night, do you make night guards?", "grinding"),
            ("My child is teething, how can I soothe her?", "teething"),
            ("How much does an implant cost and how long does it last?", "implants"),
            ("What is a bridge?", "bridges"),
            ("Slight sensitivity to cold after my cleaning", "sensitivity"),
            ("¿Cada cuánto hay que cambiar el cepillo de dientes?", "brushing"),
            ("¿Qué puedo comer con brackets?", "braces-diet"),
            ("Posso usar fio dental todo dia?", "flossing"),
            ("O que é tratamento de canal?", "root-canal"),
        ];
        for (message, expected) in cases {
            assert_eq!(ask(message, &[]).as_deref(), Some(expected), "{message}");
        }
    }

    #[test]
    fn no_answer_quotes_a_price() {
        for topic in KB.topics() {
            for language in LANGUAGES {
                let answer = topic.answer(language);
                assert!(
                    !answer.chars().any(|c| matches!(c, '$' | '£' | '€')) && !answer.contains("R$"),
                    "{} ({}) mentions money",
                    topic.id,
                    language.as_str()
                );
            }
        }
    }

    #[test]
    fn answers_in_the_language_of_the_message() {
        let kb = &*KB;
        let (spanish, _) = kb.answer(&Prompt::build(&request(
            "¿Es malo el agua con gas para los dientes?",
            &[],
        )));
        let (portuguese, _) = kb.answer(&Prompt::build(&request("Água com gás faz mal para os dentes?", &[])));
        let (english, _) = kb.answer(&Prompt::build(&request("Is sparkling water bad for my teeth?", &[])));
        assert!(spanish.contains("esmalte") && spanish.contains(" los "), "{spanish}");
        assert!(
            portuguese.contains("esmalte") && portuguese.contains("refeições"),
            "{portuguese}"
        );
        assert!(english.contains("enamel"), "{english}");
    }

    #[test]
    fn detects_the_language_from_words_and_letters() {
        assert_eq!(language_of("how often should I floss"), Language::En);
        assert_eq!(language_of("cada cuanto tengo que ir al dentista"), Language::Es);
        assert_eq!(
            language_of("de quanto em quanto tempo devo ir ao dentista"),
            Language::Pt
        );
        assert_eq!(language_of("¿implantes?"), Language::Es);
        assert_eq!(language_of("implantes não"), Language::Pt);
        assert_eq!(language_of("ok"), Language::En);
    }

    #[test]
    fn a_short_follow_up_keeps_the_language_of_the_conversation() {
        let kb = &*KB;
        let prompt = Prompt::build(&request("y cuánto dura?", &["Estoy pensando en ponerme un implante"]));
        let (answer, topic) = kb.answer(&prompt);
        assert_eq!(topic, Some("implants"));
        assert!(answer.contains("implante"), "{answer}");
    }

    #[test]
    fn corrects_misspellings_towards_the_knowledge_base() {
        assert_eq!(ask("how do i clean my denturs", &[]).as_deref(), Some("denture-care"));
        assert_eq!(ask("is flosing necesary", &[]).as_deref(), Some("flossing"));
        assert_eq!(ask("wisdome teeth", &[]).as_deref(), Some("wisdom-teeth"));
    }

    #[test]
    fn history_helps_a_follow_up_question() {
        assert_eq!(
            ask(
                "and how long does that last?",
                &["I'm thinking about getting an implant"]
            )
            .as_deref(),
            Some("implants")
        );
    }

    #[test]
    fn unrelated_questions_fall_back_in_their_language() {
        let kb = &*KB;
        for (message, expected) in [
            ("What's the capital of France?", FALLBACK),
            ("¿Cuál es la capital de Francia?", FALLBACK_ES),
            ("Qual é a capital da França?", FALLBACK_PT),
        ] {
            let (answer, topic) = kb.answer(&Prompt::build(&request(message, &[])));
            assert_eq!(topic, None, "{message}");
            assert_eq!(answer, expected, "{message}");
        }
    }

    /// `OFFLINE_DEBUG='question|question' cargo test -p ai --lib debug_rank -- --ignored --nocapture`
    #[test]
    #[ignore = "a tuning aid: prints the best topics for OFFLINE_DEBUG"]
    fn debug_rank() {
        let kb = &*KB;
        for index in &kb.indexes {
            let hits: usize = index.postings.values().map(|p| p.hits.len()).sum();
            let pairs = index.postings.keys().filter(|t| t.contains('_')).count();
            println!(
                "index: {} terms ({pairs} pairs), {hits} hits, {} vocabulary words",
                index.postings.len(),
                index.vocabulary.words.len()
            );
        }
        for message in std::env::var("OFFLINE_DEBUG").unwrap_or_default().split('|') {
            let prompt = Prompt::build(&request(message, &[]));
            let language = kb.language(&prompt);
            let main = &kb.indexes[slot(language)];
            let terms = main.query(&[(message, 1.0)], true);
            let ranked = kb.rank(&[(message, 1.0)], language);
            let top: Vec<String> = ranked
                .iter()
                .take(3)
                .map(|&(i, score)| format!("{} {score:.2}", kb.topics[i].id))
                .collect();
            println!("{message} [{}] {terms:?}\n    {}", language.as_str(), top.join(", "));
        }
    }

    #[test]
    fn word_groups_join_back_to_the_text() {
        let text = "One two  three four five\n\nsix seven";
        let groups = word_groups(text, 2);
        assert_eq!(groups.concat(), text);
        assert_eq!(groups[0], "One two  ");
    }
}
