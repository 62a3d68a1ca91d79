//! The message's language, among the three first aid is written in.
//!
//! Short WhatsApp-style texts ("dói mt o dente", "me duele la muela") are too short for a
//! trigram detector to tell Spanish from Portuguese, but they nearly always hold a word only one
//! of the three languages uses, or a letter (ñ, ¿, ã, ç). So: first count such words and letters;
//! when one language leads clearly, that is the answer. Otherwise `whatlang` (trigram statistics,
//! limited to English, Spanish and Portuguese) decides, and when it cannot (a single emoji, a
//! number), the lexicon's leader, else English, the clinic's default.

use shared::ai::Language;
use whatlang::{Detector, Lang};

use super::text::normalise;

/// Words (accents stripped) that, among the three, belong to one language only. Weight 2 for
/// words that settle it alone, 1 for hints.
const WORDS: &[(&str, Language, u8)] = &[
    ("the", Language::En, 2),
    ("my", Language::En, 2),
    ("is", Language::En, 2),
    ("i", Language::En, 2),
    ("im", Language::En, 2),
    ("it", Language::En, 2),
    ("its", Language::En, 2),
    ("and", Language::En, 2),
    ("to", Language::En, 1),
    ("of", Language::En, 2),
    ("have", Language::En, 2),
    ("has", Language::En, 2),
    ("tooth", Language::En, 2),
    ("teeth", Language::En, 2),
    ("with", Language::En, 2),
    ("what", Language::En, 2),
    ("you", Language::En, 2),
    ("this", Language::En, 2),
    ("hurts", Language::En, 2),
    ("pain", Language::En, 2),
    ("can", Language::En, 2),
    ("cant", Language::En, 2),
    ("was", Language::En, 2),
    ("gum", Language::En, 2),
    ("gums", Language::En, 2),
    ("face", Language::En, 2),
    ("help", Language::En, 2),
    ("please", Language::En, 2),
    ("hi", Language::En, 1),
    ("hello", Language::En, 2),
    ("thanks", Language::En, 2),
    ("swollen", Language::En, 2),
    ("bleeding", Language::En, 2),
    ("mouth", Language::En, 2),
    ("jaw", Language::En, 2),
    ("pls", Language::En, 2),
    ("plz", Language::En, 2),
    ("lol", Language::En, 1),
    ("u", Language::En, 1),
    ("he", Language::En, 1),
    ("she", Language::En, 2),
    ("do", Language::En, 1),
    ("el", Language::Es, 2),
    ("la", Language::Es, 1),
    ("los", Language::Es, 2),
    ("las", Language::Es, 2),
    ("mi", Language::Es, 2),
    ("mis", Language::Es, 2),
    ("es", Language::Es, 2),
    ("y", Language::Es, 2),
    ("del", Language::Es, 2),
    ("tengo", Language::Es, 2),
    ("muela", Language::Es, 2),
    ("muelas", Language::Es, 2),
    ("diente", Language::Es, 2),
    ("dientes", Language::Es, 2),
    ("duele", Language::Es, 2),
    ("me", Language::Es, 1),
    ("con", Language::Es, 2),
    ("una", Language::Es, 1),
    ("hijo", Language::Es, 2),
    ("hija", Language::Es, 2),
    ("muy", Language::Es, 2),
    ("pero", Language::Es, 2),
    ("hinchada", Language::Es, 2),
    ("hinchado", Language::Es, 2),
    ("hinchazon", Language::Es, 2),
    ("ayer", Language::Es, 2),
    ("noche", Language::Es, 2),
    ("hola", Language::Es, 2),
    ("gracias", Language::Es, 2),
    ("puedo", Language::Es, 2),
    ("dolor", Language::Es, 2),
    ("encia", Language::Es, 2),
    ("encias", Language::Es, 2),
    ("tiene", Language::Es, 2),
    ("hace", Language::Es, 2),
    ("cuando", Language::Es, 2),
    ("estoy", Language::Es, 2),
    ("porfa", Language::Es, 2),
    ("mucho", Language::Es, 2),
    ("usted", Language::Es, 2),
    ("sangrado", Language::Es, 2),
    ("sangre", Language::Es, 2),
    ("ahora", Language::Es, 2),
    ("tambien", Language::Es, 2),
    ("porque", Language::Es, 1),
    ("ayuda", Language::Es, 2),
    ("ajuda", Language::Pt, 2),
    ("o", Language::Pt, 1),
    ("os", Language::Pt, 2),
    ("meu", Language::Pt, 2),
    ("minha", Language::Pt, 2),
    ("e", Language::Pt, 1),
    ("do", Language::Pt, 1),
    ("da", Language::Pt, 2),
    ("dos", Language::Pt, 1),
    ("das", Language::Pt, 2),
    ("tenho", Language::Pt, 2),
    ("dente", Language::Pt, 2),
    ("dentes", Language::Pt, 2),
    ("doi", Language::Pt, 2),
    ("dor", Language::Pt, 2),
    ("com", Language::Pt, 2),
    ("um", Language::Pt, 2),
    ("uma", Language::Pt, 2),
    ("filho", Language::Pt, 2),
    ("filha", Language::Pt, 2),
    ("muito", Language::Pt, 2),
    ("mt", Language::Pt, 2),
    ("inchada", Language::Pt, 2),
    ("inchado", Language::Pt, 2),
    ("inchaco", Language::Pt, 2),
    ("ontem", Language::Pt, 2),
    ("noite", Language::Pt, 2),
    ("ola", Language::Pt, 1),
    ("oi", Language::Pt, 2),
    ("obrigado", Language::Pt, 2),
    ("obrigada", Language::Pt, 2),
    ("posso", Language::Pt, 2),
    ("gengiva", Language::Pt, 2),
    ("gengivas", Language::Pt, 2),
    ("tem", Language::Pt, 2),
    ("quando", Language::Pt, 2),
    ("estou", Language::Pt, 2),
    ("nao", Language::Pt, 2),
    ("voce", Language::Pt, 2),
    ("vc", Language::Pt, 2),
    ("sangue", Language::Pt, 2),
    ("sangramento", Language::Pt, 2),
    ("agora", Language::Pt, 2),
    ("tambem", Language::Pt, 2),
    ("pra", Language::Pt, 2),
    ("ta", Language::Pt, 1),
    ("hj", Language::Pt, 2),
    ("na", Language::Pt, 1),
    ("no", Language::Es, 1),
    ("ele", Language::Pt, 2),
    ("ela", Language::Pt, 2),
    ("ella", Language::Es, 2),
];

/// Letters only one of the three uses.
const LETTERS: &[(char, Language)] = &[
    ('ñ', Language::Es),
    ('¿', Language::Es),
    ('¡', Language::Es),
    ('ã', Language::Pt),
    ('õ', Language::Pt),
    ('ç', Language::Pt),
    ('ê', Language::Pt),
    ('ô', Language::Pt),
    ('â', Language::Pt),
];

const ORDER: [Language; 3] = [Language::En, Language::Es, Language::Pt];

fn slot(language: Language) -> usize {
    match language {
        Language::En => 0,
        Language::Es => 1,
        Language::Pt => 2,
    }
}

/// Fewer letters than this and `whatlang` is not asked.
const MIN_LETTERS_FOR_WHATLANG: usize = 8;

/// The language of `text`: `en`, `es` or `pt` (English when nothing says otherwise).
pub fn detect_language(text: &str) -> Language {
    decide_language(text).unwrap_or(Language::En)
}

/// The language of `text`, or `None` when neither the lexicon nor `whatlang` decides (the
/// offline provider then looks at earlier messages). One detector for triage, first aid and the
/// offline answer, so they never disagree on a message's language.
pub fn decide_language(text: &str) -> Option<Language> {
    let mut scores = [0u32; 3];
    for c in text.chars().flat_map(char::to_lowercase) {
        if let Some((_, language)) = LETTERS.iter().find(|(letter, _)| *letter == c) {
            scores[slot(*language)] += 3;
        }
    }
    for token in normalise(text).split(' ') {
        if let Some((_, language, weight)) = WORDS.iter().find(|(word, _, _)| *word == token) {
            scores[slot(*language)] += u32::from(*weight);
        }
    }
    let mut ranked = ORDER;
    ranked.sort_by_key(|language| std::cmp::Reverse(scores[slot(*language)]));
    let (top, second) = (scores[slot(ranked[0])], scores[slot(ranked[1])]);
    if top >= 2 && top >= second + 2 {
        return Some(ranked[0]);
    }
    // whatlang guesses on anything ("ok" comes out Spanish): only with enough letters to go on.
    if text.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS_FOR_WHATLANG {
        return (top > 0).then_some(ranked[0]);
    }
    let detector = Detector::with_allowlist(vec![Lang::Eng, Lang::Spa, Lang::Por]);
    match detector.detect_lang(text) {
        Some(Lang::Spa) => Some(Language::Es),
        Some(Lang::Por) => Some(Language::Pt),
        None if top > 0 => Some(ranked[0]),
        Some(_) => Some(Language::En),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_language_in_full_sentences() {
        assert_eq!(
            detect_language("My cheek has been swelling since yesterday and it throbs"),
            Language::En
        );
        assert_eq!(
            detect_language("Se me hinchó la cara desde ayer y me duele mucho la muela"),
            Language::Es
        );
        assert_eq!(
            detect_language("Meu rosto inchou desde ontem e o dente dói muito"),
            Language::Pt
        );
    }

    #[test]
    fn detects_short_whatsapp_style_messages() {
        assert_eq!(detect_language("dói mt o dente"), Language::Pt);
        assert_eq!(detect_language("me duele la muela"), Language::Es);
        assert_eq!(detect_language("tooth hurts lol"), Language::En);
        assert_eq!(detect_language("socorro, não para de sangrar"), Language::Pt);
        assert_eq!(detect_language("ayuda!! no para de sangrar"), Language::Es);
        assert_eq!(detect_language("¿puedo ir hoy?"), Language::Es);
        assert_eq!(detect_language("vc atende hj?"), Language::Pt);
    }

    #[test]
    fn falls_back_to_english_for_text_without_words() {
        assert_eq!(detect_language("😭😭"), Language::En);
        assert_eq!(detect_language("10/10"), Language::En);
        assert_eq!(detect_language(""), Language::En);
    }

    #[test]
    fn mixed_text_follows_the_language_that_carries_it() {
        assert_eq!(
            detect_language("Hola, my son fell and his tooth is out, what do I do?"),
            Language::En
        );
        assert_eq!(detect_language("ok, obrigada, o dente ainda dói"), Language::Pt);
    }
}
