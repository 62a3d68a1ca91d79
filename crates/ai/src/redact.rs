//! Less patient data to cloud models (`AI_REDACT_PHI`).
//!
//! Before a prompt leaves for a cloud model, [`Redactor`] replaces in the patient's name, notes,
//! history and message:
//! - the patient's known identifiers from [`PatientContext`]: the name as a whole and each of its
//!   parts (without particles such as "da" or "van"), the e-mail address, the phone number and
//!   the date of birth, in any case, accents, spacing or format ("ANA  souza", "José"/"jose",
//!   "+34 612 34 56 78"/"612345678", "7 March 1985"/"07/03/1985"/"1985-03-07");
//! - every e-mail address, phone number (7-15 digits in phone-like groups) and date (numeric or
//!   with an English, Spanish or Portuguese month name) found in that text, whoever's it is;
//!
//! by placeholders `⟦NAME_1⟧`, `⟦EMAIL_1⟧`, `⟦PHONE_1⟧`, `⟦DATE_1⟧`. One value (after folding
//! case, accents and spacing; a phone by its digits; the date of birth in any format) gets one
//! placeholder for the whole request. [`Restorer`] puts the values back in the reply, whole or
//! streamed ([`StreamRestorer`], which holds back a placeholder split across chunks, at most
//! [`MAX_PLACEHOLDER_CHARS`] characters).
//!
//! A placeholder cannot be confused with text the model writes on its own: the brackets are
//! U+27E6/U+27E7, which do not occur in ordinary writing, any that the patient or the clinic
//! typed are turned into `[`/`]` before redaction (so every `⟦` the model sees is ours), and only
//! the exact placeholders issued for this request are restored; anything else in those brackets
//! is left as written.
//!
//! Not caught (DESIGN.md says so too): names of other people and misspelt or shortened forms of
//! the patient's name ("Annie"), street addresses, postcodes, ID and insurance numbers shorter
//! than seven digits, free-text ages and places. Common words that are also name parts ("Will",
//! "May", "Rosa") are matched only when written with a capital letter, so "I will floss" stays
//! readable.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use regex::{Captures, Regex, RegexBuilder};
use shared::ai::{ChatRequest, HistoryTurn, PatientContext};
use unicode_normalization::UnicodeNormalization;

use crate::prompt::CivilDate;

/// Opens a placeholder.
pub const OPEN: char = '⟦';
/// Closes a placeholder.
pub const CLOSE: char = '⟧';
/// Longest placeholder looked for in a reply (brackets and any spaces the model adds included).
pub const MAX_PLACEHOLDER_CHARS: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Name,
    Email,
    Phone,
    Date,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Name => "NAME",
            Self::Email => "EMAIL",
            Self::Phone => "PHONE",
            Self::Date => "DATE",
        }
    }

    fn slot(self) -> usize {
        match self {
            Self::Name => 0,
            Self::Email => 1,
            Self::Phone => 2,
            Self::Date => 3,
        }
    }
}

/// Name particles never redacted on their own (they are common words).
const PARTICLES: &[&str] = &[
    "de", "da", "do", "das", "dos", "del", "della", "di", "du", "la", "le", "las", "los", "van", "von", "der", "den",
    "ten", "ter", "y", "e", "el", "al", "bin", "ibn", "st", "mr", "mrs", "ms", "dr", "jr", "sr", "sra", "dona",
];

/// Name parts that are also everyday words: redacted only where written with a capital.
const COMMON_WORDS: &[&str] = &[
    "will", "may", "june", "april", "august", "grace", "hope", "joy", "faith", "rose", "mark", "bill", "sunny",
    "summer", "dawn", "ray", "art", "pat", "sue", "guy", "don", "dean", "page", "case", "king", "love", "long",
    "young", "white", "black", "brown", "green", "price", "cook", "baker", "rich", "best", "paz", "luz", "sol", "rosa",
    "flor", "cruz", "mar", "santos", "bom", "franco", "leal",
];

/// Month names (case and accents folded) in English, Spanish and Portuguese, and the English
/// abbreviations that are not everyday words.
const MONTHS: &str = "january|february|march|april|may|june|july|august|september|october|november|december|\
jan|feb|apr|jun|jul|aug|sept|sep|oct|nov|dec|\
enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre|\
janeiro|fevereiro|marco|maio|junho|julho|setembro|outubro|novembro|dezembro";

/// The patterns that find identifiers nobody listed; compiled once per process.
pub struct Detectors {
    email: Regex,
    date: Regex,
    phone: Regex,
}

impl fmt::Debug for Detectors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detectors").finish_non_exhaustive()
    }
}

impl Default for Detectors {
    fn default() -> Self {
        Self::new()
    }
}

impl Detectors {
    /// Compiles the patterns (they are constants: a failure is a bug caught by the unit tests).
    pub fn new() -> Self {
        let build = |pattern: &str| {
            RegexBuilder::new(pattern)
                .size_limit(4 * 1024 * 1024)
                .build()
                .unwrap_or_else(|err| panic!("redaction pattern does not compile: {err}"))
        };
        let date = format!(
            r"\b(?P<iy>\d{{4}})[-/.](?P<im>\d{{1,2}})[-/.](?P<id>\d{{1,2}})\b|\b(?P<na>\d{{1,2}})[-/.](?P<nb>\d{{1,2}})[-/.](?P<nc>\d{{4}}|\d{{2}})\b|\b(?P<dd>\d{{1,2}})(?:st|nd|rd|th|º)?(?:\s+of)?\s+(?:de\s+)?(?P<dm>{MONTHS})\.?(?:,?\s+(?:de\s+|del\s+)?(?P<dy>\d{{4}}))?\b|\b(?P<mm>{MONTHS})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<my>\d{{4}})\b)?|\b(?P<ym>{MONTHS})\.?\s+(?:de\s+|del\s+)?(?P<yy>\d{{4}})\b"
        );
        Self {
            email: build(r"[a-z0-9._%+\-]+ ?@ ?[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b"),
            date: build(&date),
            phone: build(r"(?:\+|\()?\d(?:\)?[ .\-]?\(?\d){6,16}"),
        }
    }
}

/// Lower case without accents, one character for one character (so offsets map back).
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if matches!(c, '’' | '‘' | 'ʼ' | '`') {
        return '\'';
    }
    let base = std::iter::once(c).nfd().next().unwrap_or(c);
    let mut lower = base.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => base,
    }
}

/// The folded text and, for each of its bytes (and its end), the byte offset in `text`.
fn fold(text: &str) -> (String, Vec<usize>) {
    let mut folded = String::with_capacity(text.len());
    let mut map = Vec::with_capacity(text.len() + 1);
    for (offset, c) in text.char_indices() {
        let before = folded.len();
        folded.push(fold_char(c));
        map.resize(map.len() + (folded.len() - before), offset);
    }
    map.push(text.len());
    (folded, map)
}

fn fold_str(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// Runs of whitespace and hyphens as one space: the key of a name.
fn name_key(folded: &str) -> String {
    folded
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Two phone numbers are the same when one ends with the other, ignoring trunk and `00` zeros
/// (a national number inside an E.164 one).
fn same_phone(known: &str, found: &str) -> bool {
    let known = known.trim_start_matches('0');
    let found = found.trim_start_matches('0');
    known.len() >= 7 && found.len() >= 7 && (known.ends_with(found) || found.ends_with(known))
}

/// Digits in phone-like groups rather than a list of tooth numbers ("36 37 46 47").
fn plausible_phone(candidate: &str) -> bool {
    let count = candidate.chars().filter(char::is_ascii_digit).count();
    if !(7..=15).contains(&count) {
        return false;
    }
    if candidate.starts_with('+') || candidate.starts_with('(') {
        return true;
    }
    let groups: Vec<&str> = candidate
        .split(|c: char| !c.is_ascii_digit())
        .filter(|group| !group.is_empty())
        .collect();
    if groups.iter().all(|group| group.len() <= 2) {
        return groups.len() >= 5 && groups[0].starts_with('0');
    }
    true
}

fn month_number(name: &str) -> Option<u32> {
    let prefix: String = name.chars().take(3).collect();
    Some(match prefix.as_str() {
        "jan" | "ene" => 1,
        "feb" | "fev" => 2,
        "mar" => 3,
        "apr" | "abr" => 4,
        "may" | "mai" => 5,
        "jun" => 6,
        "jul" => 7,
        "aug" | "ago" => 8,
        "sep" | "set" => 9,
        "oct" | "out" => 10,
        "nov" => 11,
        "dec" | "dic" | "dez" => 12,
        _ => return None,
    })
}

/// Whether a date found in the text is the date of birth (any of its readings, for `03/07/85`).
fn is_birth_date(caps: &Captures<'_>, dob: CivilDate) -> bool {
    let number = |name: &str| caps.name(name).and_then(|m| m.as_str().parse::<i64>().ok());
    let year_matches = |name: &str| {
        caps.name(name).is_some_and(|m| match m.as_str().parse::<i64>() {
            Ok(year) if m.as_str().len() == 2 => year == i64::from(dob.year).rem_euclid(100),
            Ok(year) => year == i64::from(dob.year),
            Err(_) => false,
        })
    };
    let day_month =
        |day: Option<i64>, month: Option<i64>| day == Some(i64::from(dob.day)) && month == Some(i64::from(dob.month));
    let month_of = |name: &str| caps.name(name).and_then(|m| month_number(m.as_str())).map(i64::from);
    if caps.name("iy").is_some() {
        return year_matches("iy") && day_month(number("id"), number("im"));
    }
    if caps.name("na").is_some() {
        return year_matches("nc") && (day_month(number("na"), number("nb")) || day_month(number("nb"), number("na")));
    }
    if caps.name("dd").is_some() {
        return year_matches("dy") && day_month(number("dd"), month_of("dm"));
    }
    if caps.name("mm").is_some() {
        return year_matches("my") && day_month(number("md"), month_of("mm"));
    }
    false
}

/// One identifier found in a text (byte offsets in the text as given).
struct Span {
    start: usize,
    end: usize,
    kind: Kind,
    key: String,
}

/// The patient's name as a pattern, and the original spelling of each of its forms.
struct NamePattern {
    regex: Regex,
    /// The folded whole name, parts joined by single spaces.
    full: String,
    /// Folded key -> spelling in the patient record.
    spellings: HashMap<String, String>,
    /// Keys matched only where the text has a capital letter.
    capital_only: Vec<String>,
}

impl NamePattern {
    fn new(name: &str) -> Option<Self> {
        let name = name.trim();
        let tokens: Vec<&str> = name
            .split(|c: char| c.is_whitespace() || c == '-')
            .filter(|token| !token.is_empty())
            .collect();
        if tokens.is_empty() {
            return None;
        }
        let full = tokens.iter().map(|token| fold_str(token)).collect::<Vec<_>>().join(" ");
        let mut spellings = HashMap::new();
        spellings.insert(full.clone(), name.split_whitespace().collect::<Vec<_>>().join(" "));
        let mut parts: Vec<String> = Vec::new();
        for token in &tokens {
            let pieces: Vec<&str> = std::iter::once(*token)
                .chain(token.split(['\'', '’']).filter(|piece| piece.len() < token.len()))
                .collect();
            for piece in pieces {
                let key = fold_str(piece);
                if key.chars().filter(|c| c.is_alphanumeric()).count() < 2 || PARTICLES.contains(&key.as_str()) {
                    continue;
                }
                spellings.entry(key.clone()).or_insert_with(|| piece.to_owned());
                if !parts.contains(&key) {
                    parts.push(key);
                }
            }
        }
        parts.sort_by_key(|part| std::cmp::Reverse(part.chars().count()));
        let bounded = |pattern: String, text: &str| {
            let lead = if text.chars().next().is_some_and(char::is_alphanumeric) {
                r"\b"
            } else {
                ""
            };
            let tail = if text.chars().last().is_some_and(char::is_alphanumeric) {
                r"\b"
            } else {
                ""
            };
            format!("{lead}(?:{pattern}){tail}")
        };
        let full_pattern = full.split(' ').map(regex::escape).collect::<Vec<_>>().join(r"[\s\-]+");
        let mut alternatives = vec![bounded(full_pattern, &full)];
        alternatives.extend(
            parts
                .iter()
                .filter(|part| **part != full)
                .map(|part| bounded(regex::escape(part), part)),
        );
        let regex = RegexBuilder::new(&alternatives.join("|"))
            .size_limit(1024 * 1024)
            .build()
            .ok()?;
        let capital_only = parts
            .iter()
            .filter(|part| COMMON_WORDS.contains(&part.as_str()))
            .cloned()
            .collect();
        Some(Self {
            regex,
            full,
            spellings,
            capital_only,
        })
    }
}

/// Redacts the texts of one request and remembers what each placeholder stands for.
pub struct Redactor {
    detectors: Arc<Detectors>,
    name: Option<NamePattern>,
    email: Option<String>,
    phone: Option<String>,
    birth_date: Option<CivilDate>,
    /// Placeholder (without brackets) -> the value it stands for.
    values: HashMap<String, String>,
    issued: HashMap<(Kind, String), String>,
    counts: [usize; 4],
}

impl fmt::Debug for Redactor {
    // Counts only: the values are patient data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("placeholders", &self.counts)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    /// A redactor for one request about `patient`.
    pub fn new(detectors: Arc<Detectors>, patient: &PatientContext) -> Self {
        let mut redactor = Self {
            detectors,
            name: NamePattern::new(&patient.name),
            email: patient
                .email
                .as_deref()
                .map(|email| fold_str(email).split_whitespace().collect::<String>())
                .filter(|email| !email.is_empty()),
            phone: patient.phone.as_deref().map(digits).filter(|digits| digits.len() >= 7),
            birth_date: patient.date_of_birth.as_deref().and_then(CivilDate::parse),
            values: HashMap::new(),
            issued: HashMap::new(),
            counts: [0; 4],
        };
        // The whole name is always NAME_1, the placeholder the context turn names as the patient.
        if let Some(name) = &redactor.name {
            let key = name.full.clone();
            let spelling = name.spellings.get(&key).cloned().unwrap_or_default();
            redactor.placeholder(Kind::Name, key, spelling);
        }
        redactor
    }

    /// The request with every text redacted. Email and phone are dropped (a prompt never carries
    /// them); the date of birth stays for the age the prompt derives from it, and never appears
    /// in the prompt itself.
    pub fn redact_request(&mut self, request: &ChatRequest) -> ChatRequest {
        ChatRequest {
            patient: PatientContext {
                name: self.redact(&request.patient.name),
                medical_notes: request.patient.medical_notes.as_deref().map(|notes| self.redact(notes)),
                email: None,
                phone: None,
                date_of_birth: request.patient.date_of_birth.clone(),
            },
            history: request
                .history
                .iter()
                .map(|turn| HistoryTurn {
                    role: turn.role,
                    content: self.redact(&turn.content),
                })
                .collect(),
            message: self.redact(&request.message),
        }
    }

    /// How many distinct values were replaced, by kind (name, email, phone, date): for the log.
    pub fn counts(&self) -> [usize; 4] {
        self.counts
    }

    /// What restores this request's placeholders in the reply.
    pub fn into_restorer(self) -> Restorer {
        Restorer { values: self.values }
    }

    /// One text with every identifier replaced.
    pub fn redact(&mut self, text: &str) -> String {
        // Brackets the patient typed become plain ones: every ⟦ the model sees is a placeholder.
        let text: String = text
            .chars()
            .map(|c| match c {
                OPEN => '[',
                CLOSE => ']',
                other => other,
            })
            .collect();
        let (folded, map) = fold(&text);
        // Accepted spans by start; they never overlap, so the one starting last before `end` is
        // the only one that can overlap a new span.
        let mut spans: BTreeMap<usize, Span> = BTreeMap::new();
        let add = |spans: &mut BTreeMap<usize, Span>, start: usize, end: usize, kind: Kind, key: String| {
            let (start, end) = (map[start], map[end]);
            let overlaps = spans.range(..end).next_back().is_some_and(|(_, span)| span.end > start);
            if start < end && !overlaps {
                spans.insert(start, Span { start, end, kind, key });
            }
        };
        for found in self.detectors.email.find_iter(&folded) {
            let key: String = found.as_str().split_whitespace().collect();
            add(&mut spans, found.start(), found.end(), Kind::Email, key);
        }
        if let Some(email) = &self.email {
            for (start, matched) in folded.match_indices(email.as_str()) {
                add(&mut spans, start, start + matched.len(), Kind::Email, email.clone());
            }
        }
        for caps in self.detectors.date.captures_iter(&folded) {
            let Some(found) = caps.get(0) else { continue };
            let key = if self.birth_date.is_some_and(|dob| is_birth_date(&caps, dob)) {
                "birth date".to_owned()
            } else {
                found.as_str().split_whitespace().collect::<Vec<_>>().join(" ")
            };
            add(&mut spans, found.start(), found.end(), Kind::Date, key);
        }
        for found in self.detectors.phone.find_iter(&folded) {
            let before = folded[..found.start()].chars().next_back();
            let after = folded[found.end()..].chars().next();
            if before.is_some_and(char::is_alphanumeric)
                || after.is_some_and(char::is_alphanumeric)
                || !plausible_phone(found.as_str())
            {
                continue;
            }
            let found_digits = digits(found.as_str());
            let key = match &self.phone {
                Some(known) if same_phone(known, &found_digits) => known.clone(),
                _ => found_digits,
            };
            add(&mut spans, found.start(), found.end(), Kind::Phone, key);
        }
        if let Some(name) = &self.name {
            for found in name.regex.find_iter(&folded) {
                let key = name_key(found.as_str());
                if name.capital_only.contains(&key)
                    && !text[map[found.start()]..]
                        .chars()
                        .next()
                        .is_some_and(char::is_uppercase)
                {
                    continue;
                }
                add(&mut spans, found.start(), found.end(), Kind::Name, key);
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for span in spans.into_values() {
            out.push_str(&text[at..span.start]);
            let surface = &text[span.start..span.end];
            let value = match span.kind {
                Kind::Name => self
                    .name
                    .as_ref()
                    .and_then(|name| name.spellings.get(&span.key).cloned())
                    .unwrap_or_else(|| surface.to_owned()),
                _ => surface.to_owned(),
            };
            let placeholder = self.placeholder(span.kind, span.key, value);
            out.push(OPEN);
            out.push_str(&placeholder);
            out.push(CLOSE);
            at = span.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// The placeholder (without brackets) of a value, issuing the next one of its kind the first
    /// time the value is seen.
    fn placeholder(&mut self, kind: Kind, key: String, value: String) -> String {
        if let Some(existing) = self.issued.get(&(kind, key.clone())) {
            return existing.clone();
        }
        self.counts[kind.slot()] += 1;
        let placeholder = format!("{}_{}", kind.label(), self.counts[kind.slot()]);
        self.values.insert(placeholder.clone(), value);
        self.issued.insert((kind, key), placeholder.clone());
        placeholder
    }
}

/// Puts a request's values back where the model wrote their placeholders.
pub struct Restorer {
    values: HashMap<String, String>,
}

impl fmt::Debug for Restorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restorer")
            .field("placeholders", &self.values.len())
            .finish()
    }
}

impl Restorer {
    /// A whole reply with its placeholders restored. Brackets around anything that is not one
    /// of this request's placeholders stay as the model wrote them.
    pub fn restore(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find(OPEN) {
            out.push_str(&rest[..open]);
            let after = &rest[open + OPEN.len_utf8()..];
            if let Some(close) = after.find(CLOSE).filter(|close| *close <= 4 * MAX_PLACEHOLDER_CHARS)
                && let Some(value) = self.values.get(&after[..close].trim().to_ascii_uppercase())
            {
                out.push_str(value);
                rest = &after[close + CLOSE.len_utf8()..];
                continue;
            }
            out.push(OPEN);
            rest = after;
        }
        out.push_str(rest);
        out
    }

    /// A restorer for a streamed reply.
    pub fn streaming(self) -> StreamRestorer {
        StreamRestorer {
            restorer: self,
            held: String::new(),
        }
    }
}

/// Restores placeholders in a streamed reply, holding back a placeholder split across chunks.
#[derive(Debug)]
pub struct StreamRestorer {
    restorer: Restorer,
    held: String,
}

impl StreamRestorer {
    /// Feeds one delta; returns the text ready to pass on (possibly empty).
    pub fn push(&mut self, delta: &str) -> String {
        self.held.push_str(delta);
        let cut = match self.held.rfind(OPEN) {
            Some(open)
                if !self.held[open..].contains(CLOSE) && self.held[open..].chars().count() < MAX_PLACEHOLDER_CHARS =>
            {
                open
            }
            _ => self.held.len(),
        };
        let tail = self.held.split_off(cut);
        let ready = std::mem::replace(&mut self.held, tail);
        self.restorer.restore(&ready)
    }

    /// End of the reply: whatever is still held.
    pub fn finish(&mut self) -> String {
        let held = std::mem::take(&mut self.held);
        self.restorer.restore(&held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> PatientContext {
        PatientContext {
            name: "Ana María Souza-Lima".into(),
            medical_notes: None,
            email: Some("Ana.Souza@Example.com".into()),
            phone: Some("+34612345678".into()),
            date_of_birth: Some("1985-03-07".into()),
        }
    }

    fn redactor() -> Redactor {
        Redactor::new(Arc::new(Detectors::new()), &patient())
    }

    fn assert_clean(text: &str, forbidden: &[&str]) {
        let folded = fold_str(text);
        for value in forbidden {
            assert!(!folded.contains(&fold_str(value)), "{value:?} is still in {text:?}");
        }
    }

    #[test]
    fn the_patients_identifiers_are_replaced_in_any_case_spacing_and_format() {
        let mut redactor = redactor();
        let text = "ANA  MARIA souza lima here (ana maría), call +34 612 34 56 78 or 612-345-678, \
                    write to ana.souza@example.com or Ana.Souza @ Example.com; born 7 March 1985, \
                    07/03/1985, 1985-03-07 and March 7th, 1985. Jose says hi.";
        let out = redactor.redact(text);
        assert_clean(
            &out,
            &[
                "ana", "maria", "souza", "lima", "612", "345", "example", "1985", "march",
            ],
        );
        assert!(out.contains("⟦NAME_1⟧ here"), "{out}");
        assert!(
            out.contains("Jose says hi"),
            "another person's name is not known: {out}"
        );
        // One value, one placeholder.
        assert_eq!(out.matches("⟦PHONE_1⟧").count(), 2, "{out}");
        assert_eq!(out.matches("⟦EMAIL_1⟧").count(), 2, "{out}");
        assert_eq!(out.matches("⟦DATE_1⟧").count(), 4, "{out}");
        assert!(!out.contains("PHONE_2") && !out.contains("EMAIL_2") && !out.contains("DATE_2"));
        let restorer = redactor.into_restorer();
        let back = restorer.restore("Hello ⟦NAME_2⟧! We will call ⟦PHONE_1⟧ and write to ⟦EMAIL_1⟧.");
        assert_eq!(
            back,
            "Hello Ana! We will call +34 612 34 56 78 and write to ana.souza@example.com."
        );
    }

    #[test]
    fn other_emails_phones_and_dates_in_notes_are_replaced_too() {
        let mut redactor = redactor();
        let out = redactor.redact(
            "Husband: joe@mail.example.org, (555) 010-2000. Extraction on 12/01/2024, review 3 de março de 2024. \
             Teeth 36 37 46 47 fine; paracetamol 500 mg; 2 weeks.",
        );
        assert_clean(&out, &["joe@", "555", "010", "2024", "marco"]);
        assert!(out.contains("⟦EMAIL_1⟧") && out.contains("⟦PHONE_1⟧"));
        assert!(out.contains("⟦DATE_1⟧") && out.contains("⟦DATE_2⟧"));
        assert!(
            out.contains("Teeth 36 37 46 47 fine; paracetamol 500 mg; 2 weeks."),
            "{out}"
        );
    }

    #[test]
    fn particles_and_common_words_stay_readable() {
        let mut redactor = Redactor::new(
            Arc::new(Detectors::new()),
            &PatientContext {
                name: "Will da Silva".into(),
                ..PatientContext::default()
            },
        );
        let out = redactor.redact("I will floss da manhã. Will Silva, will da silva, Will asked.");
        assert_eq!(
            out,
            "I will floss da manhã. ⟦NAME_2⟧ ⟦NAME_3⟧, ⟦NAME_1⟧, ⟦NAME_2⟧ asked."
        );
    }

    #[test]
    fn typed_placeholder_brackets_cannot_pose_as_placeholders() {
        let mut redactor = redactor();
        let out = redactor.redact("My code is ⟦NAME_1⟧ and ⟦EMAIL_9⟧");
        assert_eq!(out, "My code is [NAME_1] and [EMAIL_9]");
        let restorer = redactor.into_restorer();
        // Only issued placeholders are restored; others stay as written.
        assert_eq!(
            restorer.restore("⟦NAME_1⟧ ⟦NAME_7⟧ ⟦ name_1 ⟧ ⟦"),
            "Ana María Souza-Lima ⟦NAME_7⟧ Ana María Souza-Lima ⟦"
        );
    }

    #[test]
    fn a_streamed_reply_is_restored_wherever_the_chunks_split_a_placeholder() {
        let mut redactor = redactor();
        redactor.redact("Ana, 612 345 678, born 07/03/1985");
        let reply = "Hi ⟦NAME_2⟧, we will ring ⟦PHONE_1⟧ (born ⟦DATE_1⟧). ⟦NOT_OURS⟧ stays ⟦";
        let expected = "Hi Ana, we will ring 612 345 678 (born 07/03/1985). ⟦NOT_OURS⟧ stays ⟦";
        let chars: Vec<char> = reply.chars().collect();
        for size in 1..=chars.len() {
            let mut stream = Redactor::new(Arc::new(Detectors::new()), &patient());
            stream.redact("Ana, 612 345 678, born 07/03/1985");
            let mut stream = stream.into_restorer().streaming();
            let mut out = String::new();
            for piece in chars.chunks(size) {
                out.push_str(&stream.push(&piece.iter().collect::<String>()));
                assert!(stream.held.chars().count() < MAX_PLACEHOLDER_CHARS + size);
            }
            out.push_str(&stream.finish());
            assert_eq!(out, expected, "piece size {size}");
        }
    }

    #[test]
    fn notes_full_of_identifiers_are_redacted_in_linear_time() {
        let mut redactor = redactor();
        let notes = "seen 1/2/24, call 612 345 678, ana@x.example.com; ".repeat(2_000);
        let started = std::time::Instant::now();
        let out = redactor.redact(&notes);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_clean(&out, &["612", "1/2/24", "x.example"]);
        assert_eq!(redactor.counts(), [1, 1, 1, 1]);
    }

    #[test]
    fn folding_keeps_offsets() {
        let (folded, map) = fold("Ã©İx");
        assert_eq!(folded.chars().count(), 4);
        assert_eq!(map.len(), folded.len() + 1);
        assert_eq!(*map.last().unwrap(), "Ã©İx".len());
        assert!(same_phone("34612345678", "612345678"));
        assert!(same_phone("34612345678", "0034612345678"));
        assert!(!same_phone("34612345678", "612345679"));
        assert!(!plausible_phone("36 37 46 47"));
        assert!(plausible_phone("06 12 34 56 78"));
        assert!(plausible_phone("555-0102"));
    }

    #[test]
    fn debug_shows_counts_not_values() {
        let mut redactor = redactor();
        redactor.redact("Ana Souza");
        let debug = format!("{redactor:?}");
        let debug = format!("{debug} {:?}", redactor.into_restorer());
        assert!(!debug.contains("Ana") && !debug.contains("Souza"), "{debug}");
    }
}
