//! Trains the triage detector and writes `crates/ai/data/triage_model.bin`.
//!
//! `cargo xtask triage train` runs this (`cargo run --release -p ai --features train --example
//! triage_train`). Deterministic: the same corpus gives the same bytes.

use ai::triage::corpus;
use ai::triage::train::{Options, train};
use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let data = corpus::data_dir();
    let started = std::time::Instant::now();
    let trained = train(&data, &Options::default())?;
    let bytes = trained.model.to_bytes();
    let path = data.join("triage_model.bin");
    std::fs::write(&path, &bytes).with_context(|| path.display().to_string())?;
    println!(
        "trained on {} rows ({} with a category; {} test-split messages held out) in {:.1} s: {} features, {} categories, {} bytes, corpus hash {:016x} -> {}",
        trained.rows,
        trained.category_rows,
        trained.test_rows,
        started.elapsed().as_secs_f64(),
        trained.model.hashes.len(),
        trained.model.categories.len(),
        bytes.len(),
        trained.model.corpus_hash,
        path.display()
    );
    Ok(())
}
