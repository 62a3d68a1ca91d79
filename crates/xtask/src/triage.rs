//! `cargo xtask triage train | eval`: the triage detector's training and evaluation.
//!
//! Both run examples of the ai crate in release mode, so the heavy training crates (linfa,
//! ndarray) stay behind the ai crate's `train` feature and out of xtask and the service.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use clap::Subcommand;

use crate::run;

#[derive(Subcommand)]
pub enum TriageCmd {
    /// Train on crates/ai/data/train/ (less its test split) and write crates/ai/data/triage_model.bin.
    Train,
    /// Recall, false alarms, category confusion and latency for the dev files, the test split and
    /// each blind set (blind sets as aggregates only).
    Eval {
        /// List misses and false alarms of the dev files and the test split (never of blind sets).
        #[arg(long)]
        texts: bool,
        /// Also print recall and false alarms at other thresholds (aggregates only).
        #[arg(long)]
        sweep: bool,
        /// Record the blind sets' figures as the baseline CI holds them to.
        #[arg(long)]
        write_baseline: bool,
    },
}

pub fn triage(root: &Path, cmd: &TriageCmd) -> Result<()> {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.current_dir(root).args(["run", "--release", "-p", "ai"]);
    match cmd {
        TriageCmd::Train => {
            cargo.args(["--features", "train", "--example", "triage_train"]);
            run(&mut cargo, "triage training")
        }
        TriageCmd::Eval {
            texts,
            sweep,
            write_baseline,
        } => {
            cargo.args(["--example", "triage_eval", "--"]);
            if *texts {
                cargo.arg("--texts");
            }
            if *sweep {
                cargo.arg("--sweep");
            }
            if *write_baseline {
                cargo.arg("--write-baseline");
            }
            run(&mut cargo, "triage evaluation")
        }
    }
}
