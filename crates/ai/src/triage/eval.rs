//! Recall, false alarms, category confusion and latency of the triage on a labelled file.
//!
//! Used by `cargo xtask triage eval` (which prints every file) and by the tests that hold the dev
//! files and the blind sets to their baselines. For blind files only aggregates are ever rendered:
//! [`Report::render`] prints message texts only when asked to, and the callers never ask for a
//! blind file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use shared::ai::Language;

use super::corpus::Case;
use super::{Assessment, THRESHOLD, Triager, detect_language};

/// One message's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub urgent: bool,
    /// The labelled urgent category (`None` for routine messages or unknown labels).
    pub label: Option<&'static str>,
    /// The routine label as written ("hygiene").
    pub routine_label: String,
    pub language: Language,
    pub assessment: Assessment,
    pub latency: Duration,
}

impl Outcome {
    pub fn flagged_at(&self, threshold: f32) -> bool {
        self.assessment.urgent_at(threshold)
    }
}

/// Counts over one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub urgent: usize,
    pub caught: usize,
    pub routine: usize,
    pub alarms: usize,
}

impl Counts {
    #[allow(clippy::cast_precision_loss)]
    pub fn recall(&self) -> f64 {
        if self.urgent == 0 {
            1.0
        } else {
            self.caught as f64 / self.urgent as f64
        }
    }

    #[allow(clippy::cast_precision_loss)]
    pub fn false_alarm_rate(&self) -> f64 {
        if self.routine == 0 {
            0.0
        } else {
            self.alarms as f64 / self.routine as f64
        }
    }

    fn add(&mut self, outcome: &Outcome, threshold: f32) {
        let flagged = outcome.flagged_at(threshold);
        if outcome.urgent {
            self.urgent += 1;
            self.caught += usize::from(flagged);
        } else {
            self.routine += 1;
            self.alarms += usize::from(flagged);
        }
    }

    fn line(&self) -> String {
        format!(
            "recall {}/{} = {:.3}, false alarms {}/{} = {:.3}",
            self.caught,
            self.urgent,
            self.recall(),
            self.alarms,
            self.routine,
            self.false_alarm_rate()
        )
    }
}

/// The results on one file.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Triages every case once, timing each call.
    pub fn run(name: &str, cases: &[Case], triager: &Triager) -> Self {
        let outcomes = cases
            .iter()
            .map(|case| {
                let started = Instant::now();
                let assessment = triager.assess(&case.text);
                let latency = started.elapsed();
                let language = match case.lang.as_deref() {
                    Some("es") => Language::Es,
                    Some("pt") => Language::Pt,
                    Some(_) => Language::En,
                    None => detect_language(&case.text),
                };
                Outcome {
                    urgent: case.urgent,
                    label: case.category(),
                    routine_label: case.cat.clone(),
                    language,
                    assessment,
                    latency,
                }
            })
            .collect();
        Self {
            name: name.to_owned(),
            outcomes,
        }
    }

    pub fn counts_at(&self, threshold: f32) -> Counts {
        let mut counts = Counts::default();
        for outcome in &self.outcomes {
            counts.add(outcome, threshold);
        }
        counts
    }

    pub fn counts(&self) -> Counts {
        self.counts_at(THRESHOLD)
    }

    /// Share of caught urgent messages whose category matches the label.
    #[allow(clippy::cast_precision_loss)]
    pub fn category_accuracy(&self) -> (usize, usize) {
        let caught: Vec<&Outcome> = self
            .outcomes
            .iter()
            .filter(|outcome| outcome.urgent && outcome.label.is_some() && outcome.flagged_at(THRESHOLD))
            .collect();
        let right = caught
            .iter()
            .filter(|outcome| outcome.assessment.category == outcome.label)
            .count();
        (right, caught.len())
    }

    /// Latency percentile over the file's calls.
    pub fn latency(&self, p: f64) -> Duration {
        let mut samples: Vec<Duration> = self.outcomes.iter().map(|outcome| outcome.latency).collect();
        samples.sort();
        if samples.is_empty() {
            return Duration::ZERO;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[index]
    }

    /// The set's totals only (recall, false alarms, counts, latency): what a blind set shows.
    /// No per-category, per-language or per-message lines, so nothing points at its misses.
    pub fn render_summary(&self) -> String {
        let mut out = String::new();
        let counts = self.counts();
        let (right, caught) = self.category_accuracy();
        let _ = writeln!(
            out,
            "== {} ({} messages, aggregates only)",
            self.name,
            self.outcomes.len()
        );
        let _ = writeln!(out, "overall: {}", counts.line());
        let _ = writeln!(
            out,
            "category right for caught urgent messages: {right}/{caught}; latency p50 {:.3} ms, p99 {:.3} ms",
            self.latency(0.50).as_secs_f64() * 1e3,
            self.latency(0.99).as_secs_f64() * 1e3
        );
        // Per language is still an aggregate (counts of a few dozen messages, no text).
        let mut by_language: BTreeMap<&str, Counts> = BTreeMap::new();
        for outcome in &self.outcomes {
            by_language
                .entry(outcome.language.as_str())
                .or_default()
                .add(outcome, THRESHOLD);
        }
        for (language, counts) in &by_language {
            let _ = writeln!(out, "  lang {language}: {}", counts.line());
        }
        out
    }

    /// The figures as text. `texts` lists misses and false alarms with their messages: only ever
    /// for files the caller may read (never the blind sets).
    pub fn render(&self, cases: Option<&[Case]>) -> String {
        let mut out = String::new();
        let counts = self.counts();
        let (right, caught) = self.category_accuracy();
        let _ = writeln!(out, "== {} ({} messages)", self.name, self.outcomes.len());
        let _ = writeln!(out, "overall: {}", counts.line());
        let _ = writeln!(
            out,
            "category right for caught urgent messages: {right}/{caught}; latency p50 {:.3} ms, p99 {:.3} ms",
            self.latency(0.50).as_secs_f64() * 1e3,
            self.latency(0.99).as_secs_f64() * 1e3
        );
        let mut by_language: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut by_urgent: BTreeMap<&str, Counts> = BTreeMap::new();
        let mut by_routine: BTreeMap<String, Counts> = BTreeMap::new();
        let mut confusion: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for outcome in &self.outcomes {
            by_language
                .entry(outcome.language.as_str())
                .or_default()
                .add(outcome, THRESHOLD);
            if outcome.urgent {
                by_urgent
                    .entry(outcome.label.unwrap_or("(unknown label)"))
                    .or_default()
                    .add(outcome, THRESHOLD);
                if outcome.flagged_at(THRESHOLD) {
                    let predicted = outcome.assessment.category.unwrap_or("(none)");
                    let label = outcome.label.unwrap_or("(unknown label)");
                    if predicted != label {
                        *confusion.entry((label, predicted)).or_default() += 1;
                    }
                }
            } else {
                by_routine
                    .entry(outcome.routine_label.clone())
                    .or_default()
                    .add(outcome, THRESHOLD);
            }
        }
        for (language, counts) in &by_language {
            let _ = writeln!(out, "  lang {language}: {}", counts.line());
        }
        for (category, counts) in &by_urgent {
            let _ = writeln!(out, "  urgent {category}: recall {}/{}", counts.caught, counts.urgent);
        }
        for (category, counts) in &by_routine {
            let _ = writeln!(
                out,
                "  routine {category}: false alarms {}/{}",
                counts.alarms, counts.routine
            );
        }
        if !confusion.is_empty() {
            let _ = writeln!(
                out,
                "  category confusion (labelled -> predicted, caught urgent messages):"
            );
            for ((label, predicted), n) in &confusion {
                let _ = writeln!(out, "    {label} -> {predicted}: {n}");
            }
        }
        if let Some(cases) = cases {
            for (outcome, case) in self.outcomes.iter().zip(cases) {
                let flagged = outcome.flagged_at(THRESHOLD);
                if outcome.urgent && !flagged {
                    let _ = writeln!(
                        out,
                        "  MISS [{}] p={:.2} {}",
                        case.cat, outcome.assessment.probability, case.text
                    );
                } else if !outcome.urgent && flagged {
                    let _ = writeln!(
                        out,
                        "  FALSE ALARM [{} -> {}] p={:.2}{} {}",
                        case.cat,
                        outcome.assessment.category.unwrap_or("?"),
                        outcome.assessment.probability,
                        if outcome.assessment.red_flag.is_some() {
                            " red flag"
                        } else {
                            ""
                        },
                        case.text
                    );
                }
            }
        }
        out
    }
}
