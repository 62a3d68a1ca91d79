//! Emergency triage, run before any model call: is this message urgent, which CATEGORIES.md
//! category is it, and what first aid to send, in the message's language.
//!
//! The primary reader is a learned detector ([`model`]): a logistic regression over hashed word
//! n-grams, character n-grams and concept features ([`features`]) of the normalised text
//! ([`text`]), trained by `cargo xtask triage train` on `crates/ai/data/train/` and compiled in.
//! A message is urgent when its probability reaches [`THRESHOLD`], or when a high-precision red
//! flag ([`redflag`]: a present airway sign, uncontrolled bleeding) fires: context lowers the
//! detector's score but cannot hide those. A second, multinomial head names the category; a red
//! flag names its own. First aid comes from [`first_aid`], in the language [`detect_language`]
//! finds.

pub mod corpus;
pub mod eval;
pub mod features;
pub mod first_aid;
pub mod language;
pub mod model;
pub mod redflag;
pub mod rules;
pub mod text;
#[cfg(feature = "train")]
pub mod train;

use shared::ai::{Language, Severity, Triage, TriageSource};

pub use language::{decide_language, detect_language};

use features::Featuriser;
use model::Model;
use redflag::{RedFlag, RedFlags};

/// The committed weights (see [`model`] for the format).
pub static MODEL_BYTES: &[u8] = include_bytes!("../../data/triage_model.bin");

/// Probability from which a message is urgent. Chosen for recall (see README: "Triage").
pub const THRESHOLD: f32 = 0.4;

/// A triage decision with the reply to send when something urgent was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageResult {
    pub triage: Triage,
    /// The category's first aid in the message's language.
    pub first_aid: Option<&'static str>,
}

impl TriageResult {
    pub fn none() -> Self {
        Self::none_in(Language::En)
    }

    pub fn none_in(language: Language) -> Self {
        Self {
            triage: Triage::none_in(language),
            first_aid: None,
        }
    }

    pub fn detected(&self) -> bool {
        self.triage.detected
    }

    pub fn severity(&self) -> Option<Severity> {
        self.triage.severity
    }
}

/// Everything the triage worked out about one message (for evaluation and tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The detector's probability that the message is urgent.
    pub probability: f32,
    pub red_flag: Option<RedFlag>,
    /// The category the message would get if urgent.
    pub category: Option<&'static str>,
    pub language: Language,
}

impl Assessment {
    /// Urgent at `threshold` (the service uses [`THRESHOLD`]).
    pub fn urgent_at(&self, threshold: f32) -> bool {
        self.red_flag.is_some() || self.probability >= threshold
    }
}

/// The triage engine: featuriser, red flags and the compiled-in model. Build once and share.
pub struct Triager {
    featuriser: Featuriser,
    red_flags: RedFlags,
    model: Model,
}

impl std::fmt::Debug for Triager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triager")
            .field("features", &self.model.hashes.len())
            .field("categories", &self.model.categories.len())
            .finish_non_exhaustive()
    }
}

impl Default for Triager {
    fn default() -> Self {
        Self::new()
    }
}

impl Triager {
    /// Compiles the lexicons and reads the compiled-in model.
    pub fn new() -> Self {
        match Model::from_bytes(MODEL_BYTES) {
            Ok(model) => Self::with_model(model),
            // The file is compiled in and a test reads it: a damaged one is a build bug.
            Err(err) => panic!("crates/ai/data/triage_model.bin: {err}"),
        }
    }

    /// A triager with other weights (the trainer evaluates its model before writing it).
    pub fn with_model(model: Model) -> Self {
        Self {
            featuriser: Featuriser::new(),
            red_flags: RedFlags::new(),
            model,
        }
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn featuriser(&self) -> &Featuriser {
        &self.featuriser
    }

    /// Scores one message without deciding.
    pub fn assess(&self, message: &str) -> Assessment {
        let language = detect_language(message);
        let prepared = self.featuriser.prepare(message);
        let features = self.featuriser.features(&prepared);
        let probability = self.model.urgency(&features);
        let red_flag = self.red_flags.check(&prepared);
        let category = match red_flag {
            Some(flag) => Some(flag.category()),
            None => self
                .model
                .categories(&features)
                .first()
                .and_then(|(name, _)| first_aid::lookup(name))
                .map(|entry| entry.category),
        };
        Assessment {
            probability,
            red_flag,
            category,
            language,
        }
    }

    /// Classifies one message.
    pub fn classify(&self, message: &str) -> TriageResult {
        let assessment = self.assess(message);
        let entry = assessment.category.and_then(first_aid::lookup);
        match entry {
            Some(entry) if assessment.urgent_at(THRESHOLD) => TriageResult {
                triage: Triage {
                    detected: true,
                    category: Some(entry.category.to_owned()),
                    severity: Some(entry.severity),
                    source: Some(TriageSource::Triage),
                    language: assessment.language,
                },
                first_aid: Some(entry.text(assessment.language)),
            },
            _ => TriageResult::none_in(assessment.language),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(message: &str) -> TriageResult {
        Triager::new().classify(message)
    }

    #[test]
    fn the_committed_model_reads_and_matches_this_featuriser() {
        let model = Model::from_bytes(MODEL_BYTES).expect("model file");
        assert_eq!(model.featuriser_version, features::FEATURISER_VERSION);
        assert_eq!(model.categories.len(), first_aid::CATEGORIES.len());
    }

    #[test]
    fn detects_emergencies_and_urgent_cases() {
        for (message, category) in [
            ("My face is swollen and I can't breathe", "airway_threatening_swelling"),
            ("it won't stop bleeding since the extraction", "uncontrolled_bleeding"),
            (
                "my tooth got knocked out playing football, I have it in milk",
                "avulsion",
            ),
            (
                "dor de dente insuportável, não consigo dormir, nenhum remédio ajuda",
                "severe_pain",
            ),
        ] {
            let result = classify(message);
            assert!(result.detected(), "{message}");
            assert_eq!(result.triage.category.as_deref(), Some(category), "{message}");
            assert_eq!(result.triage.source, Some(TriageSource::Triage));
        }
    }

    #[test]
    fn ignores_negated_resolved_and_hypothetical_mentions() {
        for message in [
            "No bleeding or pain at all since the surgery, all good",
            "The swelling went down completely, thank you",
            "What should someone do if a tooth gets knocked out?",
            "NOT AN EMERGENCY, just need to change the time of my cleaning",
            "Is flossing really necessary?",
        ] {
            let result = classify(message);
            assert!(!result.detected(), "{message}");
            assert_eq!(result.triage.source, None);
        }
    }

    #[test]
    fn red_flags_decide_even_when_the_score_is_low() {
        let triager = Triager::new();
        let assessment = triager
            .assess("Not an emergency really, but my tongue is pushed up and my jaw is swollen, I can't swallow");
        assert_eq!(assessment.red_flag, Some(RedFlag::Airway));
        assert!(assessment.urgent_at(1.1));
        let result = triager.classify("honestly its probably nothing but it hasn't stopped bleeding for 4 hours");
        assert_eq!(result.triage.category.as_deref(), Some("uncontrolled_bleeding"));
        assert_eq!(result.severity(), Some(Severity::Emergency));
    }

    #[test]
    fn first_aid_and_language_follow_the_message() {
        let result = classify("Se me cayó un diente de un golpe jugando al fútbol, lo tengo en leche");
        assert_eq!(result.triage.language, Language::Es);
        assert!(result.first_aid.is_some_and(|text| text.contains("clínica")));
        let result = classify("meu filho bateu a boca e o dente saiu inteiro");
        assert_eq!(result.triage.language, Language::Pt);
        assert!(result.first_aid.is_some_and(|text| text.contains("clínica")));
        let result = classify("obrigada, até amanhã");
        assert!(!result.detected());
        assert_eq!(result.triage.language, Language::Pt);
    }
}
