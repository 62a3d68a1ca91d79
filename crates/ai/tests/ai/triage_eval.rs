//! Triage recall and false-alarm rate on the labelled development files and the held-out cases.

use std::path::PathBuf;

use ai::triage::Triager;
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    text: String,
    urgent: bool,
    cat: String,
}

fn load(file: &str) -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

struct Report {
    recall: f64,
    false_alarm_rate: f64,
    misses: Vec<String>,
    false_alarms: Vec<String>,
}

fn evaluate(name: &str, cases: &[Case]) -> Report {
    let triager = Triager::new();
    let (mut urgent, mut caught, mut routine, mut alarms) = (0u32, 0u32, 0u32, 0u32);
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    for case in cases {
        let result = triager.classify(&case.text);
        if case.urgent {
            urgent += 1;
            if result.detected() {
                caught += 1;
            } else {
                misses.push(format!("[{}] {}", case.cat, case.text));
            }
        } else {
            routine += 1;
            if result.detected() {
                alarms += 1;
                false_alarms.push(format!("[{} -> {:?}] {}", case.cat, result.triage.category, case.text));
            }
        }
    }
    let recall = f64::from(caught) / f64::from(urgent.max(1));
    let false_alarm_rate = f64::from(alarms) / f64::from(routine.max(1));
    println!(
        "{name}: recall {caught}/{urgent} = {recall:.3}, false alarms {alarms}/{routine} = {:.1}%",
        false_alarm_rate * 100.0
    );
    for miss in &misses {
        println!("  MISS {miss}");
    }
    for alarm in &false_alarms {
        println!("  FALSE ALARM {alarm}");
    }
    Report {
        recall,
        false_alarm_rate,
        misses,
        false_alarms,
    }
}

#[test]
fn triage_catches_every_urgent_dev_case_with_few_false_alarms() {
    let mut cases = load("dev_cases.jsonl");
    cases.extend(load("dev_cases_more.jsonl"));
    assert!(cases.len() >= 170, "dev files missing: {}", cases.len());
    let report = evaluate("dev", &cases);
    assert!(report.misses.is_empty(), "missed: {:#?}", report.misses);
    assert!((report.recall - 1.0).abs() < f64::EPSILON);
    assert!(
        report.false_alarm_rate <= 0.05,
        "false alarms: {:#?}",
        report.false_alarms
    );
}

#[test]
fn triage_on_held_out_cases_is_reported() {
    let cases = load("heldout_cases.jsonl");
    let report = evaluate("held-out", &cases);
    // Held-out cases were written before tuning; the figures are reported in NOTES.md. Recall on
    // them must stay perfect; false alarms are allowed a little more slack than on the dev set.
    assert!(report.misses.is_empty(), "missed: {:#?}", report.misses);
    assert!(
        report.false_alarm_rate <= 0.10,
        "false alarms: {:#?}",
        report.false_alarms
    );
}
