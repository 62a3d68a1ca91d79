//! Normalised text, split into what is happening now and what is not.
//!
//! 1. Normalise: strip accents, lower-case, drop apostrophes, split hyphens, keep `.`/`?` as
//!    sentence marks and `,` as clause marks, correct typos towards a small dental vocabulary
//!    (one edit, same first letter) and map slang ("gnasher" -> "tooth").
//! 2. Rewrite phrases whose negative words are not negations ("won't stop" -> `unstopped`,
//!    "can't breathe" -> `cant breathe`, "painkillers don't help" -> `unrelieved`).
//! 3. Set aside what is not happening now: a whole message flagged as hypothetical ("for future
//!    reference"), conditional or general sentences ("If a tooth gets knocked out...", "What does
//!    an abscess look like?"), and clauses that report a symptom as resolved or long past, or that
//!    sit in a story, a show or a game.
//! 4. Mark words within four words after a negator ("no bleeding or pain").
//!
//! The detector reads all three views ([`Prepared`]): the live text (present, not negated), the
//! same with negated words kept, and the full text, so a concept can be present, negated or only
//! mentioned in context.

use std::sync::{Mutex, OnceLock};

use regex::bytes::{Regex, RegexBuilder};
use regex_automata::util::prefilter::Prefilter;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind, hybrid, nfa::thompson};
use unicode_normalization::UnicodeNormalization;

use super::rules::{
    GENERAL_QUESTION, HYPOTHETICAL_MESSAGE, HYPOTHETICAL_SENTENCE, NEGATORS, NO_CORRECTION, PERSONAL, RESOLUTION,
    REWRITES, SCOPE_BREAKS, SCOPE_FILLERS, SYNONYMS, VOCABULARY,
};

/// How far a negator reaches.
const NEGATION_REACH: usize = 4;
/// Mask left where a negated word was.
pub const MASK: &str = "_";

/// Clauses framed as a story, a screen, a game, someone else's old case or the distant past: their
/// symptoms are not the writer's present emergency.
pub const FRAMED_CLAUSE: &str = r"\b(in|on) (the|a|my|this|that|an) (movie|film|show|series|episode|book|novel|story|video ?game|video|documentary|play|comic|manga|anime|cartoon|soap|podcast|scene|chapter)\b|\bmy (character|protagonist|hero|heroine|villain|story|novel|book|screenplay|script|fanfic|campaign)\b|\b(character|protagonist)s?\b|\b(years?|decades?|months?) ago\b|\bwhen i was (a |little|young|small|younger|\d)|\bas a (kid|child|teen|teenager)\b|\bback in (19|20)\d\d\b|\b(en|na|no) (la |el |a |o |mi |minha |meu )?(pelicula|serie|novela|libro|livro|filme|historia|videojuego|videogame|episodio)\b|\bmi personaje\b|\bmeu personagem\b|\bpersonaje\b|\bpersonagem\b|\bhace (\w+ )?(anos|decadas|meses)\b|\bha (\w+ )?(anos|decadas|meses)\b|\bhace (un|una) (mes|ano)\b|\bha (um|uma) (mes|ano)\b|\bquando (eu )?era (crianca|pequen\w*|mais nov\w*)\b|\bcuando (yo )?era (nino|nina|pequen\w*)\b";

/// The normalised message in three views (see the module docs).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Normalised and rewritten, nothing removed.
    pub full: String,
    /// Present clauses only, negated words kept.
    pub unmasked: String,
    /// Present clauses only, negated words masked.
    pub live: String,
    /// The present clauses one by one (live view), for rules that must not join two clauses.
    pub clauses: Vec<String>,
    /// The whole message is flagged as hypothetical or for the future.
    pub hypothetical: bool,
    /// Tokens of the present clauses (`unmasked`) with their negation flag, for word features.
    pub tokens: Vec<(String, bool)>,
    /// Words of what was set aside (hypothetical, general, resolved, past or framed parts): the
    /// detector reads them as their own features, so "knocked out" in a story last year is not
    /// the same evidence as "knocked out" now.
    pub aside: Vec<String>,
}

/// Compiled regexes for [`prepare`](TextRules::prepare); build once.
pub struct TextRules {
    rewrites: Vec<(Regex, &'static str)>,
    hypothetical_message: Pattern,
    hypothetical_sentence: Pattern,
    general_question: Pattern,
    personal: Pattern,
    resolution: Pattern,
    framed: Pattern,
    clause_split: Regex,
}

impl std::fmt::Debug for TextRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextRules").finish_non_exhaustive()
    }
}

/// Byte regexes without Unicode classes: the normalised text is ASCII, and ASCII `\w`/`\b` keep
/// the compiled automata (and the process's memory) small. For the few regexes that rewrite or
/// split text; everything that only asks "does it occur" is a [`Pattern`].
pub fn compile_regex(source: &str) -> Regex {
    match RegexBuilder::new(source)
        .unicode(false)
        .dfa_size_limit(REWRITE_DFA_CACHE)
        .build()
    {
        Ok(regex) => regex,
        // Every pattern is compiled into the binary and covered by tests; a broken one is a bug.
        Err(err) => panic!("invalid triage regex {source:?}: {err}"),
    }
}

/// Lazy-DFA cache bound of one rewriting regex (per thread that uses it, as `regex` keeps them).
const REWRITE_DFA_CACHE: usize = 64 << 10;

/// Lazy-DFA cache of one [`Pattern`], in bytes: the most it holds, whatever the messages.
/// A pattern whose automaton needs more clears its cache and goes on (slower, never bigger).
pub const PATTERN_CACHE: usize = 24 << 10;

/// A pattern that only answers "does it occur anywhere": one forward lazy DFA with a literal
/// prefilter and one bounded cache shared by every thread (behind a mutex held for one search).
///
/// Why not `regex::bytes::Regex`: each of the ~220 triage patterns then keeps several engines'
/// caches (lazy DFA up to 2 MiB, bounded backtracker up to 256 KiB, ...) per thread, and they
/// grow with every new message: the process went from 20 to ~60 MiB after 4,000 distinct
/// messages. Here the bound is `PATTERN_CACHE` per pattern, for the whole process.
pub struct Pattern {
    dfa: hybrid::dfa::DFA,
    cache: Mutex<hybrid::dfa::Cache>,
    source: String,
    /// Built only if the lazy DFA ever reports an error (it cannot with these settings).
    fallback: OnceLock<Regex>,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern").finish_non_exhaustive()
    }
}

impl Pattern {
    /// Compiles `source` (the regex syntax, without Unicode classes; see [`compile_regex`]).
    pub fn new(source: &str) -> Self {
        let syntax = syntax::Config::new().unicode(false).utf8(false);
        let prefilter = match syntax::parse_with(source, &syntax) {
            Ok(hir) => Prefilter::from_hir_prefix(MatchKind::LeftmostFirst, &hir),
            Err(err) => panic!("invalid triage regex {source:?}: {err}"),
        };
        let config = hybrid::dfa::Config::new()
            .prefilter(prefilter)
            .cache_capacity(PATTERN_CACHE)
            .skip_cache_capacity_check(true)
            .minimum_cache_clear_count(None);
        let dfa = match hybrid::dfa::Builder::new()
            .configure(config)
            .syntax(syntax)
            .thompson(thompson::Config::new().utf8(false))
            .build(source)
        {
            Ok(dfa) => dfa,
            Err(err) => panic!("invalid triage regex {source:?}: {err}"),
        };
        let cache = Mutex::new(dfa.create_cache());
        Self {
            dfa,
            cache,
            source: source.to_owned(),
            fallback: OnceLock::new(),
        }
    }

    /// Whether the pattern occurs anywhere in `haystack`.
    pub fn is_match(&self, haystack: &[u8]) -> bool {
        let input = Input::new(haystack).earliest(true);
        let found = {
            let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.dfa.try_search_fwd(&mut cache, &input)
        };
        match found {
            Ok(found) => found.is_some(),
            Err(_) => self
                .fallback
                .get_or_init(|| compile_regex(&self.source))
                .is_match(haystack),
        }
    }

    /// Bytes held by this pattern's cache now (at most about [`PATTERN_CACHE`]).
    pub fn cache_bytes(&self) -> usize {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .memory_usage()
    }
}

/// A [`Pattern`]; see there.
pub fn compile(source: &str) -> Pattern {
    Pattern::new(source)
}

/// Many patterns, each its own small regex (see [`compile`]): [`Lexicons::matches`] says which
/// of them occur anywhere in a text, as a `RegexSet` would.
///
/// Not a `RegexSet` on purpose: one automaton over ~70 lexicons has a huge state space, so its
/// lazy DFA keeps building states for every new message (megabytes of cache per thread, or a
/// thrashing cache and a slow fallback when capped). Each lexicon alone has a literal prefilter
/// and a small state space, so its cache stays small.
pub struct Lexicons {
    regexes: Vec<Pattern>,
}

impl Lexicons {
    pub fn len(&self) -> usize {
        self.regexes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.regexes.is_empty()
    }

    /// Which patterns occur in `haystack`.
    pub fn matches(&self, haystack: &[u8]) -> LexiconMatches {
        LexiconMatches(self.regexes.iter().map(|regex| regex.is_match(haystack)).collect())
    }
}

/// The answer of [`Lexicons::matches`].
pub struct LexiconMatches(Vec<bool>);

impl LexiconMatches {
    pub fn matched(&self, index: usize) -> bool {
        self.0.get(index).copied().unwrap_or(false)
    }

    /// Indices of the patterns that occur, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|(_, hit)| **hit)
            .map(|(index, _)| index)
    }
}

/// Compiles every pattern of a lexicon set: see [`Lexicons`].
pub fn compile_set(sources: impl IntoIterator<Item = String>) -> Lexicons {
    Lexicons {
        regexes: sources.into_iter().map(|source| compile(&source)).collect(),
    }
}

impl Default for TextRules {
    fn default() -> Self {
        Self::new()
    }
}

impl TextRules {
    pub fn new() -> Self {
        Self {
            rewrites: REWRITES.iter().map(|(from, to)| (compile_regex(from), *to)).collect(),
            hypothetical_message: compile(HYPOTHETICAL_MESSAGE),
            hypothetical_sentence: compile(HYPOTHETICAL_SENTENCE),
            general_question: compile(GENERAL_QUESTION),
            personal: compile(PERSONAL),
            resolution: compile(RESOLUTION),
            framed: compile(FRAMED_CLAUSE),
            clause_split: compile_regex(
                r" , | but | pero | mas | porem | however | though | although | yet | and now | y ahora | e agora | now | ahora | agora | whereas ",
            ),
        }
    }

    /// Normalises, rewrites and splits a message (see the module docs).
    pub fn prepare(&self, message: &str) -> Prepared {
        let mut text = normalise(message);
        for (regex, replacement) in &self.rewrites {
            if regex.is_match(text.as_bytes()) {
                text =
                    String::from_utf8_lossy(&regex.replace_all(text.as_bytes(), replacement.as_bytes())).into_owned();
            }
        }
        let hypothetical = self.hypothetical_message.is_match(text.as_bytes());
        let mut clauses: Vec<String> = Vec::new();
        let mut kept: Vec<String> = Vec::new();
        let mut aside: Vec<&str> = Vec::new();
        if hypothetical {
            aside.push(&text);
        } else {
            for sentence in text.split(['.', '?']) {
                let sentence = sentence.trim().trim_matches(',').trim();
                if sentence.is_empty() {
                    continue;
                }
                if self.hypothetical_sentence.is_match(sentence.as_bytes())
                    || (self.general_question.is_match(sentence.as_bytes())
                        && !self.personal.is_match(sentence.as_bytes()))
                {
                    aside.push(sentence);
                    continue;
                }
                let padded = format!(" {sentence} ");
                let mut present: Vec<&str> = Vec::new();
                for clause in self
                    .clause_split
                    .split(padded.as_bytes())
                    .filter_map(|clause| std::str::from_utf8(clause).ok())
                    .map(str::trim)
                    .filter(|clause| !clause.is_empty())
                {
                    if self.resolution.is_match(clause.as_bytes()) || self.framed.is_match(clause.as_bytes()) {
                        // Borrowed from `padded`, which dies with this loop turn: copy below.
                        aside.push(sentence_part(sentence, clause));
                    } else {
                        present.push(clause);
                    }
                }
                if !present.is_empty() {
                    clauses.extend(present.iter().map(|clause| mask_negations(clause)));
                    kept.push(present.join(" , "));
                }
            }
        }
        let unmasked = kept.join(" . ");
        let live = mask_negations(&unmasked);
        let tokens = mark_negations(&unmasked)
            .into_iter()
            .map(|(token, negated)| (token.to_owned(), negated))
            .collect();
        let aside = aside
            .iter()
            .flat_map(|part| part.split(' '))
            .filter(|word| !word.is_empty() && !matches!(*word, "." | "?" | ","))
            .map(str::to_owned)
            .collect();
        Prepared {
            full: text,
            unmasked,
            live,
            clauses,
            hypothetical,
            tokens,
            aside,
        }
    }
}

/// The part of `sentence` that `clause` (cut from a padded copy of it) is, so it can outlive
/// the copy; the whole sentence when it cannot be found (never in practice).
fn sentence_part<'a>(sentence: &'a str, clause: &str) -> &'a str {
    sentence
        .find(clause)
        .map_or(sentence, |start| &sentence[start..start + clause.len()])
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
pub fn osa_distance(a: &[u8], b: &[u8]) -> usize {
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

/// Each token with whether a negator before it (within reach, same clause) covers it.
pub fn mark_negations(text: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let mut reach = 0usize;
    for token in text.split(' ').filter(|token| !token.is_empty()) {
        if SCOPE_BREAKS.contains(&token) {
            reach = 0;
            out.push((token, false));
        } else if NEGATORS.contains(&token) {
            reach = NEGATION_REACH;
            out.push((token, false));
        } else if reach > 0 {
            if !SCOPE_FILLERS.contains(&token) {
                reach -= 1;
            }
            out.push((token, true));
        } else {
            out.push((token, false));
        }
    }
    out
}

/// Replaces words within reach of a negator with a mask.
pub fn mask_negations(text: &str) -> String {
    mark_negations(text)
        .into_iter()
        .map(|(token, negated)| if negated { MASK } else { token })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn osa_distance_counts_transpositions_as_one() {
        assert_eq!(osa_distance(b"gaurd", b"guard"), 1);
        assert_eq!(osa_distance(b"abcess", b"abscess"), 1);
        assert_eq!(osa_distance(b"kitten", b"sitting"), 3);
    }

    #[test]
    fn present_text_leaves_out_hypotheticals_resolved_and_framed_clauses() {
        let rules = TextRules::new();
        let prepared = rules.prepare("If a tooth gets knocked out what do I do? The swelling went down, thanks");
        assert_eq!(prepared.live, "thanks");
        assert!(prepared.full.contains("knocked out"));
        let prepared = rules.prepare("In the movie the guy cant breathe. My tooth hurts");
        assert_eq!(prepared.live, "my tooth hurts");
        let prepared = rules.prepare("no trouble breathing, but my cheek is swollen");
        assert_eq!(prepared.clauses, ["no _ _", "but my cheek is swollen"]);
        assert!(rules.prepare("Just curious: what if a jaw locks open?").hypothetical);
    }

    #[test]
    fn rewrites_keep_wont_stop_and_cant_out_of_negation() {
        let prepared = TextRules::new().prepare("it won't stop bleeding and I can't swallow");
        assert_eq!(prepared.live, "it unstopped bleeding and i cant swallow");
    }
}
