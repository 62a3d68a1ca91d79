//! The model's urgency marker: a second reader of the patient's message, in the same call.
//!
//! Triage runs first and answers what it recognises without calling a model. When it lets a
//! message through, the system instruction asks the model to begin its reply with
//! `[[URGENT:<category>]]` if the message describes an urgent situation after all, naming one of
//! [`CATEGORIES`]. This module reads that marker and takes it out of the reply, whole
//! ([`strip`]) or streamed ([`MarkerFilter`]), so the patient never sees it.
//!
//! - Only the start of the reply counts (after leading whitespace). The same text later in a
//!   reply is the model quoting or explaining, and stays.
//! - Lenient in what the model may vary: spaces anywhere inside the brackets, any case,
//!   `URGENT`/`URGENTE` (a model answering in Spanish or Portuguese may translate it), hyphens,
//!   spaces or CATEGORIES.md's display names ("post-operative complication"), `**`/`` ` ``
//!   around it, and no category at all (`[[URGENT]]`).
//! - A name that is not a category is mapped by a few keywords ("bleeding" ->
//!   `uncontrolled_bleeding`) and otherwise to [`FALLBACK`], the broadest urgent category, so a
//!   flag the model raised is never lost.
//! - An ordinary reply is never held back longer than it takes to see that it does not start
//!   like a marker (its first non-space character, unless that is `[`), and a would-be marker at
//!   most [`MAX_MARKER_CHARS`] characters.

use shared::ai::{Language, Triage, TriageSource};

/// The urgent categories are triage's own table (one list for the detector, its first aid and
/// this marker): a marker names one of them by its `category`.
pub use crate::triage::first_aid::{CATEGORIES, FirstAid as Category};

/// Where a name the model made up lands: the broadest urgent (same-day) category.
pub const FALLBACK: &str = "severe_pain";

/// Longest marker read, from its first `[` (and any `**` before it) to its last `]`.
pub const MAX_MARKER_CHARS: usize = 96;
/// Leading whitespace tolerated before the marker.
const MAX_LEADING_SPACE: usize = 64;

/// Old labels of the dev files and common synonyms, after [`normalise`].
const ALIASES: &[(&str, &str)] = &[
    ("airway", "airway_threatening_swelling"),
    ("airway_swelling", "airway_threatening_swelling"),
    ("infection", "spreading_infection"),
    ("swelling", "spreading_infection"),
    ("fracture", "fracture_with_pain"),
    ("fracture_pulp", "fracture_pulp_exposure"),
    ("pulp_exposure", "fracture_pulp_exposure"),
    ("knocked_out_tooth", "avulsion"),
    ("bleeding", "uncontrolled_bleeding"),
    ("anaphylaxis", "allergic_swelling"),
    ("allergic_reaction", "allergic_swelling"),
    ("toothache", "severe_pain"),
    ("post_op_complication", "post_operative_complication"),
    ("postoperative_complication", "post_operative_complication"),
    ("lost_temporary", "lost_temporary_with_pain"),
];

/// Keywords (in `normalise`d names, English, Spanish and Portuguese stems) for names that are
/// neither a category nor an alias. First match wins.
const KEYWORDS: &[(&[&str], &str)] = &[
    (
        &["airway", "breath", "swallow", "respir"],
        "airway_threatening_swelling",
    ),
    (&["allerg", "anaphyla"], "allergic_swelling"),
    (&["bleed", "hemorr", "haemorr", "sangr"], "uncontrolled_bleeding"),
    (&["dislocat", "stuck_open"], "jaw_dislocation"),
    (
        &["jaw_fract", "broken_jaw", "facial_fract", "face_trauma"],
        "facial_trauma",
    ),
    (&["knocked", "avuls"], "avulsion"),
    (&["absces", "pus"], "abscess"),
    (&["infect"], "spreading_infection"),
    (&["swell", "hinchaz", "inchac"], "facial_swelling"),
    (&["wisdom"], "pericoronitis"),
    (&["socket"], "dry_socket"),
    (&["wire", "bracket"], "orthodontic_wire_trauma"),
    (&["denture"], "denture_ulcer"),
    (&["fract", "broken", "crack", "chip"], "fracture_with_pain"),
    (&["cut", "lacerat", "lip", "tongue"], "soft_tissue_trauma"),
];

/// Lower-case ASCII letters and digits, everything else folded into single underscores.
fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_owned()
}

fn lookup(name: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|category| category.category == name)
}

/// The category a marker names: exact (after normalising), an alias, a keyword, else
/// [`FALLBACK`].
pub fn resolve(name: &str) -> &'static Category {
    let name = normalise(name);
    let by_alias = || {
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .and_then(|(_, target)| lookup(target))
    };
    let by_keyword = || {
        KEYWORDS
            .iter()
            .find(|(words, _)| words.iter().any(|word| name.contains(word)))
            .and_then(|(_, target)| lookup(target))
    };
    lookup(&name)
        .or_else(by_alias)
        .or_else(by_keyword)
        .or_else(|| lookup(FALLBACK))
        .unwrap_or(&CATEGORIES[0])
}

/// The `emergency` object for a reply whose marker named `category`.
pub fn triage(category: &Category, language: Language) -> Triage {
    Triage {
        detected: true,
        category: Some(category.category.to_owned()),
        severity: Some(category.severity),
        source: Some(TriageSource::Model),
        language,
    }
}

/// What the start of a reply is.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// Not a marker: pass everything on.
    Plain,
    /// Could still become a marker: wait for more text.
    Open,
    /// A marker ending at this byte offset (trailing whitespace not included), naming this.
    Marker { end: usize, name: String },
}

/// Characters a marker's name may contain.
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, ' ' | '_' | '-' | ',' | '/' | '\'' | '&' | '.')
}

/// Reads the start of a reply. With `complete`, the text is the whole reply: a marker still
/// waiting for its optional closing `**` is a marker.
fn scan(text: &str, complete: bool) -> Scan {
    #[derive(Clone, Copy, PartialEq)]
    enum At {
        Lead,
        Format,
        Open,
        Word(usize),
        AfterWord,
        Name,
        Close,
        Closer(usize),
    }
    const WORDS: [&[u8]; 2] = [b"urgent", b"urgente"];
    let mut at = At::Lead;
    let mut leading = 0usize;
    let mut marker_chars = 0usize;
    let mut opener: Vec<char> = Vec::new();
    let mut name = String::new();
    let mut end = 0usize;
    let marker = |end: usize, name: &str| Scan::Marker {
        end,
        name: name.trim().to_owned(),
    };
    for (index, c) in text.char_indices() {
        if at == At::Lead && c.is_whitespace() {
            leading += 1;
            if leading > MAX_LEADING_SPACE {
                return Scan::Plain;
            }
            continue;
        }
        marker_chars += 1;
        if marker_chars > MAX_MARKER_CHARS {
            return Scan::Plain;
        }
        at = match at {
            At::Lead | At::Format if matches!(c, '*' | '`') && opener.len() < 3 => {
                opener.push(c);
                At::Format
            }
            At::Lead | At::Format if c == '[' => At::Open,
            At::Open if c == ' ' => At::Open,
            At::Open if c == '[' => At::Word(0),
            At::Word(0) if c == ' ' => At::Word(0),
            At::Word(matched) => {
                let byte = u8::try_from(c.to_ascii_lowercase()).ok();
                if WORDS
                    .iter()
                    .any(|word| byte.is_some() && word.get(matched).copied() == byte)
                {
                    At::Word(matched + 1)
                } else if WORDS.iter().any(|word| word.len() == matched) {
                    // A whole word was read; what follows must continue the marker.
                    match c {
                        ' ' => At::AfterWord,
                        ':' => At::Name,
                        ']' => At::Close,
                        _ => return Scan::Plain,
                    }
                } else {
                    return Scan::Plain;
                }
            }
            At::AfterWord if c == ' ' => At::AfterWord,
            At::AfterWord if c == ':' => At::Name,
            At::AfterWord | At::Name if c == ']' => At::Close,
            At::Name if name_char(c) => {
                name.push(c);
                At::Name
            }
            At::Close if c == ' ' => At::Close,
            At::Close if c == ']' => {
                end = index + 1;
                if opener.is_empty() {
                    return marker(end, &name);
                }
                At::Closer(0)
            }
            At::Closer(matched) => {
                // `**[[URGENT:x]]**`: the closing formatting goes with the marker when it is
                // there; a marker without it still counts.
                if opener.iter().rev().nth(matched) != Some(&c) {
                    return marker(end, &name);
                }
                end = index + c.len_utf8();
                if matched + 1 == opener.len() {
                    return marker(end, &name);
                }
                At::Closer(matched + 1)
            }
            _ => return Scan::Plain,
        };
    }
    match at {
        At::Closer(_) if complete => marker(end, &name),
        _ if complete => Scan::Plain,
        _ => Scan::Open,
    }
}

/// A whole reply without its marker, and the category the marker named.
pub fn strip(reply: &str) -> (Option<&'static Category>, &str) {
    match scan(reply, true) {
        Scan::Marker { end, name } => (Some(resolve(&name)), reply[end..].trim_start()),
        // A reply that ends while it still looks like the start of a marker is kept as written.
        Scan::Open | Scan::Plain => (None, reply),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading the start of the reply.
    Deciding,
    /// A marker was taken out; dropping the whitespace after it.
    AfterMarker,
    /// Everything passes through.
    Passing,
}

/// Takes the marker out of a streamed reply, wherever the chunks split it.
#[derive(Debug)]
pub struct MarkerFilter {
    phase: Phase,
    held: String,
    category: Option<&'static Category>,
}

impl Default for MarkerFilter {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkerFilter {
    pub fn new() -> Self {
        Self {
            phase: Phase::Deciding,
            held: String::new(),
            category: None,
        }
    }

    /// Feeds one delta; returns the text to pass on now (possibly empty).
    pub fn push(&mut self, delta: &str) -> String {
        match self.phase {
            Phase::Passing => delta.to_owned(),
            Phase::AfterMarker => {
                let rest = delta.trim_start();
                if !rest.is_empty() {
                    self.phase = Phase::Passing;
                }
                rest.to_owned()
            }
            Phase::Deciding => {
                self.held.push_str(delta);
                match scan(&self.held, false) {
                    Scan::Open => String::new(),
                    Scan::Plain => {
                        self.phase = Phase::Passing;
                        std::mem::take(&mut self.held)
                    }
                    Scan::Marker { end, name } => {
                        self.category = Some(resolve(&name));
                        self.phase = Phase::AfterMarker;
                        let rest = self.held.split_off(end);
                        self.held.clear();
                        self.push(&rest)
                    }
                }
            }
        }
    }

    /// End of the reply: whatever is still held (a reply that only looked like a marker's start;
    /// a marker whose closing formatting never came is a marker).
    pub fn finish(&mut self) -> String {
        if self.phase != Phase::Deciding {
            return String::new();
        }
        self.phase = Phase::Passing;
        let held = std::mem::take(&mut self.held);
        match strip(&held) {
            (Some(category), rest) => {
                self.category = Some(category);
                rest.to_owned()
            }
            (None, _) => held,
        }
    }

    /// The category of the marker taken out, if any.
    pub fn category(&self) -> Option<&'static Category> {
        self.category
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ai::Severity;

    #[test]
    fn every_category_resolves_to_itself_and_display_names_too() {
        for category in CATEGORIES {
            assert_eq!(resolve(category.category), category);
            assert_eq!(resolve(&category.category.replace('_', " ").to_uppercase()), category);
        }
        assert_eq!(
            resolve("Airway-threatening swelling").category,
            "airway_threatening_swelling"
        );
        assert_eq!(resolve("fracture, pulp exposure").category, "fracture_pulp_exposure");
        assert_eq!(
            resolve("post-operative complication").category,
            "post_operative_complication"
        );
        assert_eq!(CATEGORIES.len(), 23);
        let emergencies = CATEGORIES.iter().filter(|c| c.severity == Severity::Emergency).count();
        assert_eq!(emergencies, 6);
    }

    #[test]
    fn unknown_names_map_by_keyword_or_fall_back_to_an_urgent_category() {
        assert_eq!(resolve("heavy bleeding").category, "uncontrolled_bleeding");
        assert_eq!(resolve("hemorragia").category, "uncontrolled_bleeding");
        assert_eq!(resolve("absceso dental").category, "abscess");
        assert_eq!(resolve("trouble breathing").category, "airway_threatening_swelling");
        assert_eq!(resolve("infection").category, "spreading_infection");
        let fallback = resolve("something new entirely");
        assert_eq!(fallback.category, FALLBACK);
        assert_eq!(fallback.severity, Severity::Urgent);
        assert_eq!(resolve("").category, FALLBACK);
    }

    #[test]
    fn a_marker_at_the_start_is_taken_out_in_any_spacing_and_case() {
        for reply in [
            "[[URGENT:abscess]]\nPlease call the clinic today.",
            "[[URGENT: abscess]] Please call the clinic today.",
            "  \n[[ urgent : Abscess ]]\n\nPlease call the clinic today.",
            "[[Urgente:abscess]]Please call the clinic today.",
            "**[[URGENT:abscess]]**\nPlease call the clinic today.",
            "`[[URGENT:abscess]]` Please call the clinic today.",
        ] {
            let (category, rest) = strip(reply);
            assert_eq!(category.map(|c| c.category), Some("abscess"), "{reply:?}");
            assert_eq!(rest, "Please call the clinic today.", "{reply:?}");
        }
        let (category, rest) = strip("[[URGENT]] Call us now.");
        assert_eq!(category.map(|c| c.category), Some(FALLBACK));
        assert_eq!(rest, "Call us now.");
    }

    #[test]
    fn text_that_is_not_a_marker_at_the_start_stays() {
        for reply in [
            "Floss once a day.",
            "[Note] Floss once a day.",
            "[[Floss]] once a day.",
            "[[URGENTLY]] floss.",
            "Some clinics write [[URGENT:abscess]] on a chart.",
            "[[URGENT:abscess",
            "",
        ] {
            assert_eq!(strip(reply), (None, reply), "{reply:?}");
        }
        let long = format!("[[URGENT:{}]] x", "a".repeat(MAX_MARKER_CHARS));
        assert_eq!(strip(&long).0, None);
    }

    fn filter_in_pieces(reply: &str, size: usize) -> (Option<&'static str>, String, usize) {
        let mut filter = MarkerFilter::new();
        let mut out = String::new();
        let mut most_held = 0;
        let chars: Vec<char> = reply.chars().collect();
        for piece in chars.chunks(size) {
            let piece: String = piece.iter().collect();
            out.push_str(&filter.push(&piece));
            most_held = most_held.max(filter.held.chars().count());
        }
        out.push_str(&filter.finish());
        (filter.category().map(|c| c.category), out, most_held)
    }

    #[test]
    fn a_streamed_marker_is_taken_out_wherever_the_chunks_split_it() {
        let reply = "**[[ Urgent : dry socket ]]**\n\nThat sounds painful. Contact the clinic [[URGENT:x]] today.";
        for size in 1..=reply.chars().count() {
            let (category, out, _) = filter_in_pieces(reply, size);
            assert_eq!(category, Some("dry_socket"), "piece size {size}");
            assert_eq!(
                out, "That sounds painful. Contact the clinic [[URGENT:x]] today.",
                "size {size}"
            );
        }
        let bare = "[[URGENT:avulsion]]";
        for size in 1..=bare.len() {
            let (category, out, _) = filter_in_pieces(bare, size);
            assert_eq!((category, out.as_str()), (Some("avulsion"), ""), "size {size}");
        }
        let unclosed_format = "**[[URGENT:avulsion]]";
        let (category, out, _) = filter_in_pieces(unclosed_format, 1);
        assert_eq!((category, out.as_str()), (Some("avulsion"), ""));
    }

    #[test]
    fn an_ordinary_stream_passes_at_once_and_a_marker_lookalike_is_held_no_longer_than_a_marker() {
        let plain = "Floss once a day, gently.";
        for size in 1..=plain.len() {
            let (category, out, most_held) = filter_in_pieces(plain, size);
            assert_eq!((category, out.as_str()), (None, plain));
            assert!(most_held <= size, "held {most_held} chars with pieces of {size}");
        }
        let lookalike = format!("[[urgent:{} and so on", "b".repeat(200));
        let (category, out, most_held) = filter_in_pieces(&lookalike, 1);
        assert_eq!((category, out.as_str()), (None, lookalike.as_str()));
        assert!(most_held <= MAX_MARKER_CHARS + 1, "{most_held}");
        let later = "Hello. [[URGENT:abscess]] is how we flag things.";
        assert_eq!(filter_in_pieces(later, 3).1, later);
    }
}
