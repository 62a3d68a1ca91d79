//! Emergency triage: a rules table ([`rules`]) over normalised text, run before any model call.
//!
//! Steps, each cheap and deterministic:
//! 1. Normalise: strip accents, lower-case, drop apostrophes, split hyphens, keep `.`/`?` as
//!    sentence marks and `,` as clause marks, correct typos towards a small dental vocabulary
//!    (one edit, same first letter) and map slang ("gnasher" -> "tooth").
//! 2. Rewrite phrases whose negative words are not negations ("won't stop" -> `unstopped`,
//!    "can't breathe" -> `cant breathe`, "painkillers don't help" -> `unrelieved`).
//! 3. Drop what is not happening now: a whole message flagged as hypothetical ("for future
//!    reference"), conditional or general sentences ("If a tooth gets knocked out...", "What does
//!    an abscess look like?"), and clauses that report a symptom as resolved ("the swelling went
//!    down").
//! 4. Mask words within four words after a negator ("no bleeding or pain").
//! 5. The first matching rule, in priority order (emergencies first), decides.

pub mod rules;

use regex::bytes::{Regex, RegexBuilder};
use shared::ai::{Severity, Triage};
use unicode_normalization::UnicodeNormalization;

use rules::{
    FRAGMENTS, GENERAL_QUESTION, HYPOTHETICAL_MESSAGE, HYPOTHETICAL_SENTENCE, NEGATORS, NO_CORRECTION, PERSONAL,
    RESOLUTION, REWRITES, RULES, Rule, SCOPE_BREAKS, SCOPE_FILLERS, SYNONYMS, VOCABULARY,
};

/// How far a negator reaches.
const NEGATION_REACH: usize = 4;
/// Mask left where a negated word was.
const MASK: &str = "_";

/// A triage decision with the reply to send when something urgent was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageResult {
    pub triage: Triage,
    pub first_aid: Option<&'static str>,
}

impl TriageResult {
    pub fn none() -> Self {
        Self {
            triage: Triage::none(),
            first_aid: None,
        }
    }

    fn from_rule(rule: &Rule) -> Self {
        Self {
            triage: Triage {
                detected: true,
                category: Some(rule.category.to_owned()),
                severity: Some(rule.severity),
                source: Some(shared::ai::TriageSource::Triage),
                language: shared::ai::Language::En,
            },
            first_aid: Some(rule.first_aid),
        }
    }

    pub fn detected(&self) -> bool {
        self.triage.detected
    }

    pub fn severity(&self) -> Option<Severity> {
        self.triage.severity
    }
}

struct Pattern {
    parts: Vec<Regex>,
    unless: Option<Regex>,
}

impl Pattern {
    fn matches(&self, live: &[u8], unmasked: &[u8]) -> bool {
        self.parts.iter().all(|part| part.is_match(live))
            && !self.unless.as_ref().is_some_and(|re| re.is_match(unmasked))
    }
}

struct CompiledRule {
    rule: &'static Rule,
    patterns: Vec<Pattern>,
}

/// The compiled triage engine; build once and share.
pub struct Triager {
    rules: Vec<CompiledRule>,
    rewrites: Vec<(Regex, &'static str)>,
    hypothetical_message: Regex,
    hypothetical_sentence: Regex,
    general_question: Regex,
    personal: Regex,
    resolution: Regex,
    clause_split: Regex,
}

impl std::fmt::Debug for Triager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Triager")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

fn expand(pattern: &str) -> String {
    let mut out = pattern.to_owned();
    // Fragments may use other fragments; two passes are enough for this table.
    for _ in 0..2 {
        for (name, body) in FRAGMENTS {
            out = out.replace(&format!("{{{name}}}"), &format!("(?:{body})"));
        }
    }
    out
}

/// Byte regexes without Unicode classes: the normalised text is ASCII, and ASCII `\w`/`\b` keep
/// the compiled automata (and the process's memory) small.
fn compile(source: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(source).unicode(false).build()
}

fn word_regex(part: &str) -> Regex {
    let source = format!(r"\b(?:{})\b", expand(part.trim()));
    match compile(&source) {
        Ok(regex) => regex,
        // The table is compiled into the binary and covered by tests; a broken row is a bug.
        Err(err) => panic!("invalid triage pattern {part:?}: {err}"),
    }
}

fn plain_regex(source: &str) -> Regex {
    match compile(source) {
        Ok(regex) => regex,
        Err(err) => panic!("invalid triage regex {source:?}: {err}"),
    }
}

impl Default for Triager {
    fn default() -> Self {
        Self::new()
    }
}

impl Triager {
    /// Compiles the rules table.
    pub fn new() -> Self {
        let rules = RULES
            .iter()
            .map(|rule| CompiledRule {
                rule,
                patterns: rule
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
                    .collect(),
            })
            .collect();
        Self {
            rules,
            rewrites: REWRITES.iter().map(|(from, to)| (plain_regex(from), *to)).collect(),
            hypothetical_message: plain_regex(HYPOTHETICAL_MESSAGE),
            hypothetical_sentence: plain_regex(HYPOTHETICAL_SENTENCE),
            general_question: plain_regex(GENERAL_QUESTION),
            personal: plain_regex(PERSONAL),
            resolution: plain_regex(RESOLUTION),
            clause_split: plain_regex(
                r" , | but | pero | mas | porem | however | though | although | yet | and now | y ahora | e agora | now | whereas ",
            ),
        }
    }

    /// Classifies one message.
    pub fn classify(&self, message: &str) -> TriageResult {
        let analysis = self.analyse(message);
        if analysis.live.is_empty() {
            return TriageResult::none();
        }
        for compiled in &self.rules {
            if compiled
                .patterns
                .iter()
                .any(|pattern| pattern.matches(analysis.live.as_bytes(), analysis.unmasked.as_bytes()))
            {
                return TriageResult::from_rule(compiled.rule);
            }
        }
        TriageResult::none()
    }

    /// The normalised text the rules see (for tests and tuning).
    pub fn analyse(&self, message: &str) -> Analysis {
        let mut text = normalise(message);
        for (regex, replacement) in &self.rewrites {
            text = String::from_utf8_lossy(&regex.replace_all(text.as_bytes(), replacement.as_bytes())).into_owned();
        }
        if self.hypothetical_message.is_match(text.as_bytes()) {
            return Analysis::default();
        }
        let mut kept: Vec<String> = Vec::new();
        for sentence in text.split(['.', '?']) {
            let sentence = sentence.trim().trim_matches(',').trim();
            if sentence.is_empty() || self.hypothetical_sentence.is_match(sentence.as_bytes()) {
                continue;
            }
            if self.general_question.is_match(sentence.as_bytes()) && !self.personal.is_match(sentence.as_bytes()) {
                continue;
            }
            let padded = format!(" {sentence} ");
            let clauses: Vec<&str> = self
                .clause_split
                .split(padded.as_bytes())
                .filter_map(|clause| std::str::from_utf8(clause).ok())
                .map(str::trim)
                .filter(|clause| !clause.is_empty() && !self.resolution.is_match(clause.as_bytes()))
                .collect();
            if !clauses.is_empty() {
                kept.push(clauses.join(" , "));
            }
        }
        let unmasked = kept.join(" . ");
        let live = mask_negations(&unmasked);
        Analysis { live, unmasked }
    }
}

/// The text after filtering: `live` has negated words masked, `unmasked` does not.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub live: String,
    pub unmasked: String,
}

/// Lower-case, accent-free, apostrophe-free tokens with `.`/`?`/`,` marks, typos corrected.
pub fn normalise(message: &str) -> String {
    let mut spaced = String::with_capacity(message.len() + 16);
    for c in message.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            '\'' | '’' | '‘' | '`' | '´' => {}
            '.' | '!' | ';' | ':' | '\n' | '\r' | '¡' | '…' => spaced.push_str(" . "),
            '?' | '¿' => spaced.push_str(" ? "),
            ',' | '(' | ')' => spaced.push_str(" , "),
            '/' if spaced.ends_with(|d: char| d.is_ascii_digit()) => spaced.push_str(" out of "),
            // Letters left after stripping accents are kept only when ASCII (English, Spanish and
            // Portuguese all are), so the rules can use small ASCII regexes.
            c if c.is_ascii_alphanumeric() => spaced.push(c.to_ascii_lowercase()),
            _ => spaced.push(' '),
        }
    }
    let mut tokens: Vec<String> = Vec::new();
    for token in spaced.split_whitespace() {
        let token = correct(token);
        // Collapse repeated marks (". . ." -> ".").
        if matches!(token.as_str(), "." | "?" | ",")
            && tokens
                .last()
                .is_some_and(|last| matches!(last.as_str(), "." | "?" | ","))
        {
            if token != ","
                && let Some(last) = tokens.last_mut()
            {
                *last = token;
            }
            continue;
        }
        tokens.push(token);
    }
    tokens.join(" ")
}

/// Maps slang and corrects a typo towards the vocabulary.
fn correct(token: &str) -> String {
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == token) {
        return (*to).to_owned();
    }
    let length = token.chars().count();
    if length < 5
        || !token.chars().all(|c| c.is_ascii_lowercase())
        || VOCABULARY.contains(&token)
        || NO_CORRECTION.contains(&token)
    {
        return token.to_owned();
    }
    let budget = if length >= 9 { 2 } else { 1 };
    let first = token.as_bytes()[0];
    VOCABULARY
        .iter()
        .filter(|word| word.as_bytes()[0] == first && word.len().abs_diff(length) <= budget)
        .map(|word| (osa_distance(token.as_bytes(), word.as_bytes()), *word))
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map_or_else(|| token.to_owned(), |(_, word)| word.to_owned())
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
fn osa_distance(a: &[u8], b: &[u8]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut rows = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[n][m]
}

/// Replaces words within reach of a negator with a mask.
fn mask_negations(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut reach = 0usize;
    for token in text.split(' ') {
        if SCOPE_BREAKS.contains(&token) {
            reach = 0;
            out.push(token);
        } else if NEGATORS.contains(&token) {
            reach = NEGATION_REACH;
            out.push(token);
        } else if reach > 0 {
            if !SCOPE_FILLERS.contains(&token) {
                reach -= 1;
            }
            out.push(MASK);
        } else {
            out.push(token);
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(message: &str) -> Option<String> {
        Triager::new().classify(message).triage.category
    }

    #[test]
    fn every_rule_compiles_and_first_aid_sends_patients_to_care() {
        let triager = Triager::new();
        assert_eq!(triager.rules.len(), RULES.len());
        for rule in RULES {
            assert!(
                rule.first_aid.contains("contact the clinic now") || rule.severity == Severity::Emergency,
                "{}",
                rule.category
            );
            if rule.severity == Severity::Emergency {
                assert!(rule.first_aid.contains(rules::EMERGENCY_NUMBERS), "{}", rule.category);
            }
            assert!(rule.first_aid.contains("clinic"), "{}", rule.category);
        }
    }

    #[test]
    fn normalises_accents_case_apostrophes_and_typos() {
        assert_eq!(normalise("Se me HINCHÓ la mejilla!"), "se me hincho la mejilla .");
        assert_eq!(normalise("It's bleading & swolen"), "its bleeding swollen");
        assert_eq!(normalise("my gnasher"), "my tooth");
        assert_eq!(normalise("pain 10/10"), "pain 10 out of 10");
        assert_eq!(normalise("smelling"), "smelling");
    }

    #[test]
    fn negation_masks_the_following_words_only() {
        assert_eq!(
            mask_negations("no bleeding or pain at all , my face"),
            "no _ _ _ _ _ , my face"
        );
    }

    #[test]
    fn detects_emergencies_and_urgent_cases() {
        assert_eq!(
            category("My face is swollen and I can't breathe").as_deref(),
            Some("airway_threatening_swelling")
        );
        assert_eq!(
            category("it won't stop bleeding since the extraction").as_deref(),
            Some("uncontrolled_bleeding")
        );
        assert_eq!(category("my tooth got knocked out").as_deref(), Some("avulsion"));
        assert_eq!(
            category("Caller says her son's tooth was knocked out at rugby").as_deref(),
            Some("avulsion")
        );
        assert_eq!(
            category("dor de dente insuportável, não consigo dormir").as_deref(),
            Some("severe_pain")
        );
    }

    #[test]
    fn ignores_negated_resolved_and_hypothetical_mentions() {
        for message in [
            "No bleeding or pain at all since the surgery, all good",
            "The swelling went down completely, thank you",
            "What should someone do if a tooth gets knocked out?",
            "Do you offer emergency visits on Sundays?",
            "NOT AN EMERGENCY, just need to change the time of my cleaning",
            "what does a dental abscess look like?",
        ] {
            assert_eq!(category(message), None, "{message}");
        }
    }

    #[test]
    fn osa_distance_counts_transpositions_as_one() {
        assert_eq!(osa_distance(b"gaurd", b"guard"), 1);
        assert_eq!(osa_distance(b"abcess", b"abscess"), 1);
        assert_eq!(osa_distance(b"kitten", b"sitting"), 3);
    }
}
