//! How often the offline provider answers an everyday question on topic, per language.
//!
//! An answer is on topic when it contains at least one of the question's `expect_any` words (at the
//! start of a word, ignoring case and accents) and it is a knowledge-base answer, not the fallback;
//! questions labelled off-topic (`"topic": "none"`) are on topic when they get the fallback.
//!
//! - `data/offline/dev_questions.jsonl`: our own development set, tuned on. The misses are
//!   printed, and a committed floor per language is enforced.
//! - `data/offline/heldout_questions.jsonl`: our own questions written after that tuning (first-run
//!   figure in NOTES.md), printed and enforced the same way.
//! - `data/blind/questions_*.jsonl`: a blind set written by someone else and placed by the lead. It
//!   is read when present and only aggregates are printed (never a question, a topic or an
//!   answer), so nobody tunes on it; the test notes its absence and passes.
//!
//! `cargo test -p ai --test ai offline_eval -- --nocapture` prints the figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ai::prompt::Prompt;
use ai::providers::offline::KnowledgeBase;
use serde::Deserialize;
use shared::ai::{ChatRequest, PatientContext};
use unicode_normalization::UnicodeNormalization;

/// The share on topic the dev set must keep, per language.
const DEV_FLOOR: &[(&str, f64)] = &[("en", 0.9), ("es", 0.9), ("pt", 0.9)];
/// The share on topic the held-out set must keep, per language.
const HELDOUT_FLOOR: &[(&str, f64)] = &[("en", 0.85), ("es", 0.85), ("pt", 0.85)];

/// Topic labels that mean "nothing in the knowledge base should match".
const OFF_TOPIC: &[&str] = &["none", "off-topic", "off_topic", "other", "fallback", "unrelated"];

#[derive(Deserialize)]
struct Question {
    text: String,
    lang: String,
    topic: String,
    expect_any: Vec<String>,
}

fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// `needle` occurs in `haystack` at the start of a word.
fn contains_word_start(haystack: &str, needle: &str) -> bool {
    let needle = fold(needle);
    let needle = needle.trim_start();
    if needle.is_empty() {
        return false;
    }
    haystack
        .match_indices(needle)
        .any(|(at, _)| haystack[..at].chars().next_back().is_none_or(|c| !c.is_alphanumeric()))
}

/// Whether the answer is on topic, whether it is the fallback, and the topic id chosen.
fn on_topic<'k>(kb: &'k KnowledgeBase, question: &Question) -> (bool, bool, Option<&'k str>) {
    let request = ChatRequest {
        patient: PatientContext {
            name: "Eval".into(),
            ..PatientContext::default()
        },
        history: Vec::new(),
        message: question.text.clone(),
    };
    let (answer, topic) = kb.answer(&Prompt::build(&request));
    let fallback = topic.is_none();
    let answer = fold(answer);
    let hit = question
        .expect_any
        .iter()
        .any(|word| contains_word_start(&answer, word));
    let wants_fallback = OFF_TOPIC.contains(&question.topic.as_str());
    (hit && fallback == wants_fallback, fallback, topic)
}

#[derive(Default)]
struct Tally {
    asked: u32,
    on_topic: u32,
    fallbacks: u32,
}

impl Tally {
    fn share(&self) -> f64 {
        f64::from(self.on_topic) / f64::from(self.asked.max(1))
    }
}

fn print_tallies(name: &str, tallies: &BTreeMap<String, Tally>) {
    for (lang, tally) in tallies {
        println!(
            "{name} {lang}: {}/{} = {:.1}% on topic ({} fallbacks)",
            tally.on_topic,
            tally.asked,
            tally.share() * 100.0,
            tally.fallbacks
        );
    }
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Evaluates one of our own question files: prints the share on topic per language and every miss.
fn evaluate_own(file: &str) -> BTreeMap<String, Tally> {
    let path = data_dir().join("offline").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let kb = KnowledgeBase::load();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut misses = Vec::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let question: Question = serde_json::from_str(line).unwrap_or_else(|err| panic!("{err}: {line}"));
        let (hit, fallback, got) = on_topic(&kb, &question);
        let tally = tallies.entry(question.lang.clone()).or_default();
        tally.asked += 1;
        tally.on_topic += u32::from(hit);
        tally.fallbacks += u32::from(fallback);
        if !hit {
            misses.push(format!(
                "  MISS [{} {} -> {}] {}",
                question.lang,
                question.topic,
                got.unwrap_or("fallback"),
                question.text
            ));
        }
    }
    print_tallies(file, &tallies);
    for miss in &misses {
        println!("{miss}");
    }
    tallies
}

fn assert_floor(name: &str, tallies: &BTreeMap<String, Tally>, floors: &[(&str, f64)]) {
    for (lang, floor) in floors {
        let share = tallies.get(*lang).map_or(0.0, Tally::share);
        assert!(
            share >= *floor,
            "{name} {lang}: {share:.3} on topic is below the floor {floor}"
        );
    }
}

#[test]
fn offline_answers_the_dev_questions_on_topic_in_their_language() {
    let tallies = evaluate_own("dev_questions.jsonl");
    assert_floor("dev", &tallies, DEV_FLOOR);
}

/// Questions written after the tuning on the dev set, run once before any change: the first-run
/// figure is in NOTES.md; the floor keeps what was reached.
#[test]
fn offline_answers_the_held_out_questions_on_topic_in_their_language() {
    let tallies = evaluate_own("heldout_questions.jsonl");
    assert_floor("held-out", &tallies, HELDOUT_FLOOR);
}

/// Reads the blind files and prints only aggregates. Nothing about a single question may be printed
/// or put in a panic message.
#[test]
fn offline_blind_questions_report_only_aggregates() {
    let dir = data_dir().join("blind");
    let files = blind_files(&dir);
    if files.is_empty() {
        println!("blind: no data/blind/questions_*.jsonl present, skipped");
        return;
    }
    let kb = KnowledgeBase::load();
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut unreadable = 0u32;
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            unreadable += 1;
            continue;
        };
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let Ok(question) = serde_json::from_str::<Question>(line) else {
                unreadable += 1;
                continue;
            };
            let (hit, fallback, _) = on_topic(&kb, &question);
            let tally = tallies.entry(question.lang.clone()).or_default();
            tally.asked += 1;
            tally.on_topic += u32::from(hit);
            tally.fallbacks += u32::from(fallback);
        }
    }
    print_tallies("blind", &tallies);
    if unreadable > 0 {
        println!("blind: {unreadable} unreadable lines or files");
    }
}

fn blind_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("jsonl"))
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("questions_"))
        })
        .collect();
    files.sort();
    files
}
