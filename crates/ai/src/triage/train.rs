//! Training (`--features train`, run by `cargo xtask triage train`): corpus -> model file.
//!
//! Deterministic: files in name order, rows in file order, the vocabulary sorted by hash, no
//! random numbers anywhere, and `linfa-logistic`'s L-BFGS (full-batch, no sampling) starting
//! from zeros. Running it twice on the same corpus writes the same bytes.
//!
//! The rows are the training corpus minus its test split, each message once as written and once
//! as a deterministic "hurried" copy (lower case, no punctuation, a few adjacent letters swapped),
//! so the character n-grams see typos the authors did not make. Dev, test and blind messages are
//! never trained on.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use linfa::Dataset;
use linfa::traits::Fit;
use linfa_logistic::{LogisticRegression, MultiLogisticRegression};
use ndarray::{Array1, Array2};

use super::corpus::{self, Case};
use super::features::{FEATURISER_VERSION, Features, Featuriser, Fnv};
use super::first_aid;
use super::model::{Model, quantise};

/// Training settings (the defaults are what the committed model was trained with).
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// L2 weight of the urgency head (linfa's loss is a sum over rows, so this is absolute).
    pub alpha_urgent: f32,
    /// L2 weight of the category head.
    pub alpha_category: f32,
    pub max_iterations: u64,
    /// A feature enters the vocabulary when at least this many training rows have it.
    pub min_rows: usize,
    /// Add the hurried copy of every message.
    pub augment: bool,
    /// Each urgent message counts this many times in the urgency head's loss (a class weight,
    /// applied by repeating the row: linfa-logistic takes no sample weights).
    pub urgent_weight: usize,
    /// Fit the category head too (the lab's cross-validation only needs the urgency head).
    pub category_head: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha_urgent: 1.0,
            alpha_category: 1.0,
            max_iterations: 150,
            min_rows: 3,
            augment: false,
            urgent_weight: 1,
            category_head: true,
        }
    }
}

/// What training produced, with figures for the log.
#[derive(Debug)]
pub struct Trained {
    pub model: Model,
    pub rows: usize,
    pub category_rows: usize,
    pub test_rows: usize,
}

/// A lower-case, unpunctuated copy with every fourth long word's middle letters swapped (which
/// words is decided by a hash of the word and its position, not by chance).
pub fn hurried(text: &str) -> String {
    text.split_whitespace()
        .enumerate()
        .map(|(i, word)| {
            let word: String = word
                .chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect();
            let chars: Vec<char> = word.chars().collect();
            let pick = Fnv::new()
                .write(word.as_bytes())
                .write(&i.to_le_bytes())
                .finish()
                .is_multiple_of(4);
            if chars.len() >= 5 && pick {
                let mut chars = chars;
                let middle = chars.len() / 2;
                chars.swap(middle - 1, middle);
                chars.into_iter().collect()
            } else {
                word
            }
        })
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Trains both heads on `data/train/*.jsonl` (less the test split).
pub fn train(data_dir: &Path, options: &Options) -> Result<Trained> {
    let files = corpus::jsonl_files(&data_dir.join("train"));
    if files.is_empty() {
        bail!("no training files in {}", data_dir.join("train").display());
    }
    let mut cases: Vec<Case> = Vec::new();
    for file in &files {
        cases.extend(corpus::load(file)?);
    }
    let (test, train): (Vec<Case>, Vec<Case>) = cases.into_iter().partition(|case| corpus::in_test_split(&case.text));
    let featuriser = Featuriser::new();
    let mut trained = train_cases(&featuriser, &train, options)?;
    trained.model.corpus_hash = corpus::training_hash(&files)?;
    trained.test_rows = test.len();
    Ok(trained)
}

/// Trains on these cases exactly (no split: the caller chose them). The model's corpus hash is 0.
pub fn train_cases(featuriser: &Featuriser, train: &[Case], options: &Options) -> Result<Trained> {
    let mut rows: Vec<(Features, &Case)> = Vec::with_capacity(train.len() * 2);
    for case in train {
        rows.push((featuriser.features(&featuriser.prepare(&case.text)), case));
        if options.augment {
            let copy = hurried(&case.text);
            if copy != case.text {
                let mut features = featuriser.features(&featuriser.prepare(&copy));
                features.hurried = true;
                rows.push((features, case));
            }
        }
    }

    // The vocabulary: features seen in enough rows, sorted by hash.
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (features, _) in &rows {
        for (hash, _) in &features.values {
            *seen.entry(*hash).or_default() += 1;
        }
    }
    let mut hashes: Vec<u64> = seen
        .into_iter()
        .filter(|(_, count)| *count >= options.min_rows)
        .map(|(hash, _)| hash)
        .collect();
    hashes.sort_unstable();
    let index: HashMap<u64, usize> = hashes.iter().enumerate().map(|(i, hash)| (*hash, i)).collect();
    let matrix = |selected: &[&(Features, &Case)]| {
        let mut x = Array2::<f32>::zeros((selected.len(), hashes.len()));
        for (row, (features, _)) in selected.iter().enumerate() {
            for (hash, value) in &features.values {
                if let Some(column) = index.get(hash) {
                    x[[row, *column]] = *value;
                }
            }
        }
        x
    };

    // The urgency head's rows: urgent ones repeated `urgent_weight` times (in place, so the
    // order stays deterministic).
    let all: Vec<&(Features, &Case)> = rows
        .iter()
        .flat_map(|row| std::iter::repeat_n(row, if row.1.urgent { options.urgent_weight.max(1) } else { 1 }))
        .collect();
    // The category head reads each message once (the hurried copies add typos, not categories),
    // urgent rows only, one class per CATEGORIES.md urgent category.
    let names: Vec<&'static str> = first_aid::CATEGORIES.iter().map(|entry| entry.category).collect();
    let labelled: Vec<&(Features, &Case)> = rows
        .iter()
        .filter(|(features, case)| case.category().is_some() && !features.hurried)
        .collect();
    // Two independent fits, one thread each: still deterministic, half the wall time.
    let (urgent, category) = std::thread::scope(|scope| {
        let urgent = scope.spawn(|| {
            let x = matrix(&all);
            let y: Array1<usize> = all.iter().map(|(_, case)| usize::from(case.urgent)).collect();
            LogisticRegression::default()
                .alpha(options.alpha_urgent)
                .max_iterations(options.max_iterations)
                .fit(&Dataset::new(x, y))
        });
        let category = scope.spawn(|| {
            if !options.category_head {
                return None;
            }
            let x = matrix(&labelled);
            let y: Array1<usize> = labelled
                .iter()
                .filter_map(|(_, case)| case.category())
                .filter_map(|category| names.iter().position(|name| *name == category))
                .collect();
            Some(
                MultiLogisticRegression::default()
                    .alpha(options.alpha_category)
                    .max_iterations(options.max_iterations)
                    .fit(&Dataset::new(x, y)),
            )
        });
        (urgent.join(), category.join())
    });
    let urgent = urgent
        .map_err(|_| anyhow::anyhow!("the urgency fit panicked"))?
        .context("fitting the urgency head")?;
    let category = category
        .map_err(|_| anyhow::anyhow!("the category fit panicked"))?
        .transpose()
        .context("fitting the category head")?;

    // Classes the corpus never shows keep zero weights and a bias that keeps them last.
    let k = if category.is_some() { names.len() } else { 0 };
    let mut biases = vec![-30.0f32; k];
    let mut columns = vec![vec![0f32; hashes.len()]; k];
    if let Some(category) = &category {
        for (column, class) in category.classes().iter().enumerate() {
            biases[*class] = category.intercept()[column];
            for (feature, weight) in category.params().column(column).iter().enumerate() {
                columns[*class][feature] = *weight;
            }
        }
    }
    let mut scales = Vec::with_capacity(k);
    let mut quantised_columns = Vec::with_capacity(k);
    for column in &columns {
        let (quantised, scale) = quantise(column);
        quantised_columns.push(quantised);
        scales.push(scale);
    }
    let mut category_weights = Vec::with_capacity(hashes.len() * k);
    for feature in 0..hashes.len() {
        category_weights.extend(quantised_columns.iter().map(|column| column[feature]));
    }

    let model = Model {
        featuriser_version: FEATURISER_VERSION,
        corpus_hash: 0,
        urgent_bias: urgent.intercept(),
        urgent_weights: urgent.params().to_vec(),
        hashes,
        categories: names.iter().take(k).map(|name| (*name).to_owned()).collect(),
        category_biases: biases,
        category_weights,
        category_scales: scales,
    };
    Ok(Trained {
        model,
        rows: rows.len(),
        category_rows: labelled.len(),
        test_rows: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hurried_copy_is_deterministic() {
        let text = "My Cheek is SWOLLEN, and it throbs!";
        assert_eq!(hurried(text), hurried(text));
        assert!(!hurried(text).contains(','));
    }
}
