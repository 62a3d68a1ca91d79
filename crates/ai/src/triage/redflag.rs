//! High-precision red flags: a present airway sign or uncontrolled bleeding is urgent whatever
//! the detector's score.
//!
//! They read one present clause at a time (negated words masked, hypothetical, resolved, past and
//! story/screen clauses left out, see [`super::text`]), so "no trouble breathing" and "in the film
//! he couldn't breathe" do not fire while "I was watching TV and now my throat is closing" does.
//! When the whole message is framed as fiction, a show or a game, a clause fires only if it is
//! about the writer or someone they care for ("my son", "I"), not "she" in a story.

use super::rules::expand;
use super::text::{Pattern, Prepared, compile};

/// Airway signs that are emergencies on their own.
const AIRWAY: &str = r"{BREATH_BAD}|throat [^.,]{0,20}(closing|tight|swelling shut)|cant (get|take) (a )?(breath|air)";
/// Airway signs that need swelling or infection beside them (babies drool, pills are hard to
/// swallow).
const AIRWAY_WITH_SWELLING: &str = r"drool\w*|dribbl\w*|cant swallow\w*|cant (tragar|engolir)|(spit|spitting) (out )?(my |his |her |their )?(own )?(saliva|spit)|tongue [^.,]{0,25}(pushed|lifted|raised|rising) up|voice [^.,]{0,30}(muffled|hot potato|changed|different|strange)|hot potato|(baba|babeando|babeo)|saliva [^.,]{0,15}(no baja|nao desce|no pasa|nao passa)|voz [^.,]{0,20}(rara|abafada|apagada|distinta|estranha|diferente)|(lengua|lingua) [^.,]{0,20}(levantad\w*|empurrad\w*|para cima|hacia arriba)|afog\w*|engasg\w*|atragant\w*|cant lie (down|flat)|propped up|(whistling|gurgling|rattling|snoring) (sound|noise|breath\w*)|ronquido|chiado|silbido|(falar|fala|falando) [^.,]{0,12}(arrastad\w*|enrolad\w*|abafad\w*|embolad\w*)|gangos\w*|cant swallow (even )?(my |his |her |their )?(own )?(spit|saliva)|(saliva|baba) [^.,]{0,15}(no baja|nao desce|no pasa|nao passa|escorr\w*)";
const SWELLING: &str = r"{SWELL}|abscess\w*|infect\w*|absceso|abscesso|flemon|lump|throat|neck|floor of|under (my|his|her|the|their) (tongue|jaw|chin)|cuello|pescoco|garganta";
const BLEEDING: &str = r"bleed\w*|blood\w*|bled|sangr\w*|sangue|hemorr\w*";
const UNCONTROLLED: &str = r"unstopped|nonstop|non stop|wont clot|sin parar|sem parar|no para|nao para|soaked|soaking|pouring|gushing|mouthful|full of blood|(\d+|two|three|four|five|several|many) hours|for hours|through (\d+|two|three|four|five|several|many|all|the|every) [^.,]{0,15}(gauze|pads?|towels?|tea ?bags?)|keeps? (on )?filling|no estanca|nao estanca|sigue (sangrando|saliendo sangre)|continua (a sangrar|sangrando)|lleno de sangre|cheia de sangue|cheio de sangue|whole (pack|box|packet) of gauze|gone through (the |a )?whole (pack|box|packet)|(gauze|pads?) [^.,]{0,20}(red|soaked) (within|in) (a )?(few )?(minutes|seconds|mins)|(gasa|gasas|gaze|gazes) [^.,]{0,20}(empapad\w*|encharcad\w*)";
/// Bleeding told by the gauze alone ("gone through the whole pack, each one red within
/// minutes"): fires only when the message names gauze, pads or tea bags, so a pack of tablets
/// or a red cheek does not.
const GAUZE: &str = r"gauze\w*|pads?|tea ?bags?|teabags?|gasas?|gazes?|compressas?";
const GAUZE_SOAKED: &str = r"(gone|going|went|been going|got|getting) through (the |a |my |an )?(whole|entire|full) (pack|box|packet|bag)|(gone|went|been going) through (\d+|two|three|four|five|six|seven|eight|nine|ten|several|many|loads)\b|(red|soaked|soaking( through)?|full|bright red) (within|in|after) (a |about |just )?(few |couple of )?(minutes|mins|seconds)|(se empapan|empapad\w*|encharcad\w*|encharca\w*|se encharcam|vermelh\w*|roj[ao]s?) (en|em) (unos |uns |poucos |pocos )?(minutos|segundos)|(gastei|he gastado|acabei|he acabado|gaste|acabe) (con |com )?(o pacote|el paquete|la caja|a caixa|todas|todo)";
const BRUSHING: &str = r"brush\w*|floss\w*|cepill\w*|escov\w*|hilo dental|fio dental";
const ALLERGY: &str = r"allerg\w*|hives|rash\w*|itch\w*|anaphyla\w*|epi ?pen|alergi\w*|urticaria|{DRUG}";
const FRAMED_MESSAGE: &str = r"quiz|exam|test question|course|class|first aid (course|training|class|kit)|what (to|do you|should (i|you|someone|one)) do (if|when)|hypothetical\w*|novel|story|book|character|fiction|writing|screenplay|script|movie|film|show|episode|series|tv|netflix|documentary|video|game|gaming|campaign|roleplay|novela|libro|personaje|livro|personagem|pelicula|serie|filme|juego|jogo";
const WRITER: &str = r"i|im|ive|me|my|mine|we|our|us|son|daughter|child|kid|baby|husband|wife|partner|boyfriend|girlfriend|mum|mom|dad|mother|father|caller|patient|resident|yo|mi|tengo|estoy|eu|meu|minha|tenho|estou|hijo|hija|filho|filha|marido|esposa|mujer|mulher";

/// Which emergency a red flag names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedFlag {
    Airway,
    AllergicAirway,
    Bleeding,
}

impl RedFlag {
    pub fn category(self) -> &'static str {
        match self {
            RedFlag::Airway => "airway_threatening_swelling",
            RedFlag::AllergicAirway => "allergic_swelling",
            RedFlag::Bleeding => "uncontrolled_bleeding",
        }
    }
}

/// The compiled red-flag rules.
pub struct RedFlags {
    airway: Pattern,
    airway_with_swelling: Pattern,
    swelling: Pattern,
    bleeding: Pattern,
    uncontrolled: Pattern,
    brushing: Pattern,
    gauze: Pattern,
    gauze_soaked: Pattern,
    allergy: Pattern,
    framed_message: Pattern,
    writer: Pattern,
}

impl std::fmt::Debug for RedFlags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedFlags").finish_non_exhaustive()
    }
}

impl Default for RedFlags {
    fn default() -> Self {
        Self::new()
    }
}

fn words(source: &str) -> Pattern {
    compile(&format!(r"\b(?:{})\b", expand(source)))
}

impl RedFlags {
    pub fn new() -> Self {
        Self {
            airway: words(AIRWAY),
            airway_with_swelling: words(AIRWAY_WITH_SWELLING),
            swelling: words(SWELLING),
            bleeding: words(BLEEDING),
            uncontrolled: words(UNCONTROLLED),
            brushing: words(BRUSHING),
            gauze: words(GAUZE),
            gauze_soaked: words(GAUZE_SOAKED),
            allergy: words(ALLERGY),
            framed_message: words(FRAMED_MESSAGE),
            writer: words(WRITER),
        }
    }

    /// The first red flag a present clause raises, if any.
    pub fn check(&self, prepared: &Prepared) -> Option<RedFlag> {
        let framed = self.framed_message.is_match(prepared.full.as_bytes());
        let live = prepared.live.as_bytes();
        let swollen = self.swelling.is_match(live);
        let brushing = self.brushing.is_match(prepared.full.as_bytes());
        let gauze = self.gauze.is_match(live);
        for clause in &prepared.clauses {
            let clause = clause.as_bytes();
            if framed && !self.writer.is_match(clause) {
                continue;
            }
            if self.airway.is_match(clause) || (swollen && self.airway_with_swelling.is_match(clause)) {
                return Some(if self.allergy.is_match(live) {
                    RedFlag::AllergicAirway
                } else {
                    RedFlag::Airway
                });
            }
            let bleeding = self.bleeding.is_match(clause) && self.uncontrolled.is_match(clause);
            if !brushing && (bleeding || (gauze && self.gauze_soaked.is_match(clause))) {
                return Some(RedFlag::Bleeding);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::super::text::TextRules;
    use super::*;

    fn flag(message: &str) -> Option<RedFlag> {
        RedFlags::new().check(&TextRules::new().prepare(message))
    }

    #[test]
    fn present_airway_and_bleeding_signs_fire() {
        assert_eq!(flag("my face is swollen and I can't breathe"), Some(RedFlag::Airway));
        assert_eq!(
            flag("jaw swollen, he's drooling and can't swallow his spit"),
            Some(RedFlag::Airway)
        );
        assert_eq!(
            flag("after the anaesthetic my throat feels tight"),
            Some(RedFlag::AllergicAirway)
        );
        assert_eq!(
            flag("it hasn't stopped bleeding since the extraction"),
            Some(RedFlag::Bleeding)
        );
        assert_eq!(flag("no para de sangrar desde la extracción"), Some(RedFlag::Bleeding));
        assert_eq!(flag("bled through 5 gauze pads since lunch"), Some(RedFlag::Bleeding));
        assert_eq!(
            flag("biting on gauze since 11, I've gone through the whole pack, they're red within a few minutes"),
            Some(RedFlag::Bleeding)
        );
        assert_eq!(
            flag("llevo mordiendo gasas desde las 11 y se empapan en minutos"),
            Some(RedFlag::Bleeding)
        );
    }

    #[test]
    fn negations_are_respected() {
        assert_eq!(flag("cheek a bit swollen, no trouble breathing or swallowing"), None);
        assert_eq!(flag("no bleeding at all and I can breathe fine"), None);
    }

    #[test]
    fn context_framing_of_the_clause_or_message_holds_it_back() {
        assert_eq!(
            flag("In the film the guy can't breathe because of a tooth abscess"),
            None
        );
        assert_eq!(
            flag("I'm writing a novel. Her face swells and she can't breathe. Realistic?"),
            None
        );
        assert_eq!(
            flag("If someone can't breathe after an extraction what should they do?"),
            None
        );
        assert_eq!(flag("my gums bleed when I brush and it won't stop for a minute"), None);
        assert_eq!(
            flag("Si algún día a mi hija le sacan una muela y no para de sangrar, ¿qué tendría que hacer?"),
            None
        );
        assert_eq!(flag("I've gone through the whole pack of ibuprofen this week"), None);
        assert_eq!(flag("the gauze had a little pink on it, stopped after an hour"), None);
    }

    #[test]
    fn context_never_hides_a_present_sign() {
        assert_eq!(
            flag("I was watching a movie and now my throat is closing up, my jaw is swollen"),
            Some(RedFlag::Airway)
        );
        assert_eq!(
            flag("Not an emergency I think, but my tongue is pushed up and my jaw is swollen, I can't swallow"),
            Some(RedFlag::Airway)
        );
    }
}
