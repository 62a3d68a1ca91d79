//! Prints recall, false alarms, category confusion and latency of the triage for every
//! labelled file: the dev files, the test split of the training corpus and each blind set.
//!
//! `cargo xtask triage eval [--texts] [--sweep]`. `--texts` lists misses and false alarms of the
//! dev files and the test split; blind sets are only ever reported as aggregates. `--sweep`
//! prints recall and false alarms at other thresholds (aggregates only), which is how the
//! threshold was chosen. `--write-baseline` records the blind sets' figures in
//! `crates/ai/data/eval_baseline.json`, the floor the blind-baseline test holds them to.

use ai::triage::corpus::{self, Case};
use ai::triage::eval::Report;
use ai::triage::{THRESHOLD, Triager};

const SWEEP: [f32; 10] = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7];

fn sweep(report: &Report) {
    let line: Vec<String> = SWEEP
        .iter()
        .map(|threshold| {
            let counts = report.counts_at(*threshold);
            format!(
                "{threshold:.2}: {:.3}/{:.3}",
                counts.recall(),
                counts.false_alarm_rate()
            )
        })
        .collect();
    println!("  sweep (threshold: recall/false alarms) {}", line.join("  "));
}

/// Four decimals, rounded towards the side the test allows (recall down, false alarms up), so a
/// baseline is never missed by its own run through a rounding error.
fn floor4(value: f64) -> f64 {
    (value * 10_000.0).floor() / 10_000.0
}

fn ceil4(value: f64) -> f64 {
    (value * 10_000.0).ceil() / 10_000.0
}

fn main() -> anyhow::Result<()> {
    let texts = std::env::args().any(|arg| arg == "--texts");
    let sweeping = std::env::args().any(|arg| arg == "--sweep");
    let write_baseline = std::env::args().any(|arg| arg == "--write-baseline");
    let mut baseline = serde_json::Map::new();
    let data = corpus::data_dir();
    let triager = Triager::new();
    println!("threshold {THRESHOLD}");
    for file in corpus::jsonl_files(&data.join("dev")) {
        let cases = corpus::load(&file)?;
        let name = format!(
            "dev/{}",
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        let report = Report::run(&name, &cases, &triager);
        print!("{}", report.render(texts.then_some(cases.as_slice())));
        if sweeping {
            sweep(&report);
        }
    }
    let mut test: Vec<Case> = Vec::new();
    for file in corpus::jsonl_files(&data.join("train")) {
        test.extend(
            corpus::load(&file)?
                .into_iter()
                .filter(|case| corpus::in_test_split(&case.text)),
        );
    }
    let report = Report::run("test split of train/", &test, &triager);
    print!("{}", report.render(texts.then_some(test.as_slice())));
    if sweeping {
        sweep(&report);
    }
    let blind = corpus::jsonl_files(&data.join("blind"));
    if blind.is_empty() {
        println!("== blind sets: none under {}", data.join("blind").display());
    }
    for file in blind {
        let cases = corpus::load(&file)?;
        let name = format!(
            "blind/{}",
            file.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        // Aggregates only: never a blind set's texts, misses or per-category lines.
        let report = Report::run(&name, &cases, &triager);
        print!("{}", report.render_summary());
        if sweeping {
            sweep(&report);
        }
        let counts = report.counts();
        let key = name.trim_start_matches("blind/").to_owned();
        baseline.insert(
            key,
            serde_json::json!({"recall": floor4(counts.recall()), "false_alarm_rate": ceil4(counts.false_alarm_rate())}),
        );
    }
    if write_baseline {
        let path = data.join("eval_baseline.json");
        let threshold = (f64::from(THRESHOLD) * 1e4).round() / 1e4;
        let body = serde_json::json!({"threshold": threshold, "sets": baseline});
        std::fs::write(&path, format!("{}\n", serde_json::to_string_pretty(&body)?))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
