//! Tuning bench for the triage detector (`--features train`): never reads the blind sets.
//!
//! ```text
//! cargo run --release -p ai --features train --example triage_lab -- cv [--alpha A] [--weight W]
//!     [--iterations N] [--min-rows N] [--texts] [--without FILE]...
//! cargo run --release -p ai --features train --example triage_lab -- score FILE...
//! ```
//!
//! `cv` is leave-one-writer-out: for each `data/train/writers_*.jsonl` (three authors who never
//! saw the rest of the corpus), the urgency head is trained on the training split of every other
//! file and scored on the whole held-out file, the nearest thing to a blind set that may be
//! read. Then one model on every file's training split is scored on the test split and the dev
//! files. Recall and false alarms are printed at several thresholds; `--texts` lists the misses
//! and false alarms at 0.4. `score` runs the committed model on readable files.

use std::path::{Path, PathBuf};

use ai::triage::corpus::{self, Case};
use ai::triage::eval::Report;
use ai::triage::features::Featuriser;
use ai::triage::train::{Options, train_cases};
use ai::triage::{THRESHOLD, Triager};
use anyhow::{Context, bail};

const SWEEP: [f32; 9] = [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6];

fn readable(path: &Path) -> anyhow::Result<()> {
    if path
        .components()
        .any(|part| part.as_os_str().to_string_lossy().contains("blind"))
    {
        bail!("{}: blind sets are never read here", path.display());
    }
    Ok(())
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sweep_line(report: &Report) -> String {
    SWEEP
        .iter()
        .map(|t| {
            let c = report.counts_at(*t);
            format!("{t:.2}:{:.3}/{:.3}", c.recall(), c.false_alarm_rate())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn show(report: &Report, cases: &[Case], texts: bool, threshold: f32) {
    let c = report.counts_at(threshold);
    println!(
        "{:<28} recall {}/{} = {:.3}  FA {}/{} = {:.3}   sweep {}",
        report.name,
        c.caught,
        c.urgent,
        c.recall(),
        c.alarms,
        c.routine,
        c.false_alarm_rate(),
        sweep_line(report)
    );
    if texts {
        for (outcome, case) in report.outcomes.iter().zip(cases) {
            let flagged = outcome.flagged_at(threshold);
            if outcome.urgent != flagged {
                println!(
                    "    {} [{}] p={:.2}{} {}",
                    if outcome.urgent { "MISS" } else { "FA" },
                    case.cat,
                    outcome.assessment.probability,
                    if outcome.assessment.red_flag.is_some() {
                        " RF"
                    } else {
                        ""
                    },
                    case.text
                );
            }
        }
    }
}

/// The views, the score and the features that moved it most.
fn explain(triager: &Triager, text: &str) {
    let featuriser = triager.featuriser();
    let model = triager.model();
    let prepared = featuriser.prepare(text);
    let (features, names) = featuriser.named_features(&prepared);
    let assessment = triager.assess(text);
    println!("TEXT {text}");
    println!("  full:  {}", prepared.full);
    println!("  live:  {}", prepared.live);
    println!(
        "  hypothetical {} present {:?}",
        prepared.hypothetical, features.present
    );
    println!(
        "  p={:.3} red flag {:?} category {:?} bias {:.2}",
        assessment.probability, assessment.red_flag, assessment.category, model.urgent_bias
    );
    let mut parts: Vec<(f32, String)> = features
        .values
        .iter()
        .filter_map(|(hash, value)| {
            let index = model.hashes.binary_search(hash).ok()?;
            let name = names.get(hash).cloned().unwrap_or_default();
            Some((model.urgent_weights[index] * value, name))
        })
        .collect();
    parts.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    let line: Vec<String> = parts
        .iter()
        .filter(|(_, name)| !name.starts_with("c:"))
        .take(25)
        .map(|(w, name)| format!("{name}={w:+.2}"))
        .collect();
    let chars: f32 = parts.iter().filter(|(_, n)| n.starts_with("c:")).map(|(w, _)| w).sum();
    let words: f32 = parts
        .iter()
        .filter(|(_, n)| n.starts_with("w:") || n.starts_with("b:") || n.starts_with("n:"))
        .map(|(w, _)| w)
        .sum();
    let concepts: f32 = parts
        .iter()
        .filter(|(_, n)| !(n.starts_with("c:") || n.starts_with("w:") || n.starts_with("b:") || n.starts_with("n:")))
        .map(|(w, _)| w)
        .sum();
    println!("  sums: chars {chars:+.2} words {words:+.2} concepts/cues/rules {concepts:+.2}");
    println!("  {}", line.join(" "));
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> anyhow::Result<T> {
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{name} needs a value")),
        None => Ok(default),
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = corpus::data_dir();
    let texts = args.iter().any(|a| a == "--texts");
    let threshold = arg(&args, "--threshold", THRESHOLD)?;
    match args.first().map(String::as_str) {
        Some("score") => {
            let triager = Triager::new();
            for file in args.iter().skip(1).filter(|a| !a.starts_with("--")) {
                let path = PathBuf::from(file);
                readable(&path)?;
                let cases = corpus::load(&path)?;
                let report = Report::run(&name_of(&path), &cases, &triager);
                show(&report, &cases, texts, threshold);
            }
        }
        Some("cv") => {
            let options = Options {
                alpha_urgent: arg(&args, "--alpha", 1.0)?,
                max_iterations: arg(&args, "--iterations", 150)?,
                min_rows: arg(&args, "--min-rows", 3)?,
                urgent_weight: arg(&args, "--weight", 1)?,
                category_head: false,
                ..Options::default()
            };
            let only = args.iter().any(|a| a == "--full-only");
            println!("{options:?}");
            let featuriser = Featuriser::new();
            let mut files: Vec<(String, Vec<Case>)> = Vec::new();
            // `--without NAME` leaves a training file out of every fold and the full model, so
            // cases written after reading the writers' misses do not flatter the held-out figures.
            let without: Vec<&String> = args
                .iter()
                .zip(args.iter().skip(1))
                .filter(|(flag, _)| *flag == "--without")
                .map(|(_, name)| name)
                .collect();
            for path in corpus::jsonl_files(&data.join("train")) {
                readable(&path)?;
                if without.iter().any(|name| **name == name_of(&path)) {
                    println!("without {}", name_of(&path));
                    continue;
                }
                files.push((name_of(&path), corpus::load(&path)?));
            }
            let mut dev: Vec<(String, Vec<Case>)> = Vec::new();
            for path in corpus::jsonl_files(&data.join("dev")) {
                readable(&path)?;
                dev.push((format!("dev/{}", name_of(&path)), corpus::load(&path)?));
            }
            let split = |skip: Option<&str>| -> Vec<Case> {
                files
                    .iter()
                    .filter(|(name, _)| Some(name.as_str()) != skip)
                    .flat_map(|(_, cases)| cases.iter().filter(|c| !corpus::in_test_split(&c.text)).cloned())
                    .collect()
            };
            let mut held_total = (0usize, 0usize, 0usize, 0usize);
            let mut held_outcomes: Vec<ai::triage::eval::Outcome> = Vec::new();
            if !only {
                for (name, cases) in files.iter().filter(|(name, _)| name.starts_with("writers_")) {
                    let started = std::time::Instant::now();
                    let trained = train_cases(&featuriser, &split(Some(name)), &options)?;
                    let triager = Triager::with_model(trained.model);
                    let report = Report::run(&format!("held {name}"), cases, &triager);
                    show(&report, cases, texts, threshold);
                    held_outcomes.extend(report.outcomes.iter().cloned());
                    let c = report.counts_at(threshold);
                    held_total.0 += c.caught;
                    held_total.1 += c.urgent;
                    held_total.2 += c.alarms;
                    held_total.3 += c.routine;
                    eprintln!("  ({:.0} s)", started.elapsed().as_secs_f64());
                }
                #[allow(clippy::cast_precision_loss)]
                let (r, f) = (
                    held_total.0 as f64 / held_total.1.max(1) as f64,
                    held_total.2 as f64 / held_total.3.max(1) as f64,
                );
                println!(
                    "held-out writers total        recall {}/{} = {r:.3}  FA {}/{} = {f:.3}",
                    held_total.0, held_total.1, held_total.2, held_total.3
                );
                let all = Report {
                    name: "held total".to_owned(),
                    outcomes: held_outcomes,
                };
                println!("held total sweep {}", sweep_line(&all));
            }
            let trained = train_cases(&featuriser, &split(None), &options)?;
            println!("full model: {} features", trained.model.hashes.len());
            std::fs::write("/tmp/triage_lab_model.bin", trained.model.to_bytes())?;
            let triager = Triager::with_model(trained.model);
            let test: Vec<Case> = files
                .iter()
                .flat_map(|(_, cases)| cases.iter().filter(|c| corpus::in_test_split(&c.text)).cloned())
                .collect();
            let report = Report::run("test split", &test, &triager);
            show(&report, &test, texts, threshold);
            let all_dev: Vec<Case> = dev.iter().flat_map(|(_, cases)| cases.iter().cloned()).collect();
            let report = Report::run("dev files", &all_dev, &triager);
            show(&report, &all_dev, texts, threshold);
        }
        Some("explain") => {
            let triager = match args.iter().position(|a| a == "--model") {
                Some(i) => {
                    let path = args.get(i + 1).context("--model needs a path")?;
                    Triager::with_model(ai::triage::model::Model::from_bytes(&std::fs::read(path)?)?)
                }
                None => Triager::new(),
            };
            let skip: Vec<&String> = args.iter().skip_while(|a| *a != "--model").take(2).collect();
            for text in args
                .iter()
                .skip(1)
                .filter(|a| !a.starts_with("--") && !skip.contains(a))
            {
                explain(&triager, text);
            }
        }
        _ => bail!("usage: triage_lab cv [--alpha A] [--weight W] [--texts] | score FILE..."),
    }
    Ok(())
}
