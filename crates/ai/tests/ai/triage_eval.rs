//! The triage held to its figures: the dev files, the committed weights against the committed
//! corpus, and the blind sets against the committed baseline (aggregates only).

use std::collections::BTreeMap;
use std::path::Path;

use ai::triage::corpus::{self, Case};
use ai::triage::eval::Report;
use ai::triage::features::FEATURISER_VERSION;
use ai::triage::{THRESHOLD, Triager};
use serde::Deserialize;

fn load_dir(dir: &Path) -> Vec<(String, Vec<Case>)> {
    corpus::jsonl_files(dir)
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            let cases = corpus::load(&path).unwrap_or_else(|err| panic!("{err}"));
            (name, cases)
        })
        .collect()
}

#[test]
fn triage_catches_the_urgent_dev_cases_and_reports_false_alarms() {
    let triager = Triager::new();
    let files = load_dir(&corpus::data_dir().join("dev"));
    let cases: Vec<Case> = files.into_iter().flat_map(|(_, cases)| cases).collect();
    assert!(cases.len() >= 200, "dev files missing: {}", cases.len());
    let report = Report::run("dev files", &cases, &triager);
    // Dev files may be read: print the misses and false alarms with their texts.
    print!("{}", report.render(Some(&cases)));
    let counts = report.counts();
    assert!(counts.recall() >= 0.99, "dev recall {:.3}", counts.recall());
    assert!(
        counts.false_alarm_rate() <= 0.05,
        "dev false alarms {:.3}",
        counts.false_alarm_rate()
    );
}

#[test]
fn committed_weights_were_trained_on_the_committed_corpus() {
    let model = Triager::new().model().clone();
    let files = corpus::jsonl_files(&corpus::data_dir().join("train"));
    let hash = corpus::training_hash(&files).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(
        model.featuriser_version, FEATURISER_VERSION,
        "the featuriser changed since the model was trained: run `cargo xtask triage train`"
    );
    assert_eq!(
        model.corpus_hash, hash,
        "crates/ai/data/train/ changed since the model was trained: run `cargo xtask triage train`"
    );
}

#[derive(Deserialize)]
struct Baseline {
    threshold: f32,
    sets: BTreeMap<String, SetBaseline>,
}

#[derive(Deserialize)]
struct SetBaseline {
    recall: f64,
    false_alarm_rate: f64,
}

/// Never prints a blind message: only the file's aggregate figures.
#[test]
fn blind_sets_stay_at_or_above_the_committed_baseline() {
    let dir = corpus::data_dir().join("blind");
    if !dir.is_dir() {
        println!("note: {} is absent, blind baseline not checked", dir.display());
        return;
    }
    let path = corpus::data_dir().join("eval_baseline.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let baseline: Baseline = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    assert!(
        (baseline.threshold - THRESHOLD).abs() < f32::EPSILON,
        "baseline was measured at threshold {}, the triage uses {THRESHOLD}",
        baseline.threshold
    );
    let triager = Triager::new();
    let files = load_dir(&dir);
    assert!(!files.is_empty(), "no blind files in {}", dir.display());
    let mut failures = Vec::new();
    for (name, cases) in &files {
        let counts = Report::run(name, cases, &triager).counts();
        println!(
            "blind/{name}: recall {}/{} = {:.3}, false alarms {}/{} = {:.3}",
            counts.caught,
            counts.urgent,
            counts.recall(),
            counts.alarms,
            counts.routine,
            counts.false_alarm_rate()
        );
        match baseline.sets.get(name) {
            None => failures.push(format!("{name}: no baseline in eval_baseline.json")),
            Some(set) => {
                if counts.recall() + 1e-9 < set.recall {
                    failures.push(format!(
                        "{name}: recall {:.3} < baseline {:.3}",
                        counts.recall(),
                        set.recall
                    ));
                }
                if counts.false_alarm_rate() > set.false_alarm_rate + 1e-9 {
                    failures.push(format!(
                        "{name}: false alarms {:.3} > baseline {:.3}",
                        counts.false_alarm_rate(),
                        set.false_alarm_rate
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
