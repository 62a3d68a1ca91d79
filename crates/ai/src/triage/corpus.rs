//! The labelled messages under `crates/ai/data/`, read by the trainer, the evaluation and tests.
//!
//! ```text
//! data/train/*.jsonl   the training corpus; a fixed fifth of it (by a hash of the normalised
//!                      text) is the test split, never trained on
//! data/dev/*.jsonl     the development files (shared/triage/dev_cases*.jsonl and the first
//!                      wave's held-out cases): evaluated, never trained on
//! data/blind/*.jsonl   written blind by authors who never saw the rest; evaluated as aggregates
//!                      only, never trained on, never read by anyone tuning the detector
//! ```
//!
//! One JSON object a line: `{"text", "urgent", "cat", "lang"?, "voice"?, "context"?}`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::features::Fnv;
use super::first_aid;
use super::text::normalise;

/// One labelled message.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub text: String,
    pub urgent: bool,
    pub cat: String,
    #[serde(default)]
    pub lang: Option<String>,
}

impl Case {
    /// The urgent category this case is labelled with, as the triage names it.
    pub fn category(&self) -> Option<&'static str> {
        if self.urgent { category_key(&self.cat) } else { None }
    }
}

/// Labels of older files, mapped as CATEGORIES.md says.
const OLD_LABELS: &[(&str, &str)] = &[
    ("airway", "airway_threatening_swelling"),
    ("infection", "spreading_infection"),
    ("swelling", "spreading_infection"),
    ("infection, swelling", "spreading_infection"),
    ("fracture", "fracture_with_pain"),
    ("fracture, pulp exposure", "fracture_pulp_exposure"),
    ("post-operative complication", "post_operative_complication"),
];

/// An urgent label ("airway-threatening swelling", "dry socket") as a category key
/// (`airway_threatening_swelling`), or `None` for a label that is not an urgent category.
pub fn category_key(label: &str) -> Option<&'static str> {
    let label = label.trim().to_lowercase();
    if let Some((_, key)) = OLD_LABELS.iter().find(|(old, _)| *old == label) {
        return Some(key);
    }
    let key: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    first_aid::lookup(&key).map(|entry| entry.category)
}

/// Whether a training-corpus message belongs to the fixed test split (one in five, chosen by a
/// hash of its normalised text, so a copy with other case or accents lands on the same side).
pub fn in_test_split(text: &str) -> bool {
    Fnv::new().write(normalise(text).as_bytes()).finish().is_multiple_of(5)
}

/// Why a data file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {source}")]
    Json {
        path: PathBuf,
        line: usize,
        source: serde_json::Error,
    },
}

/// Reads one JSONL file (blank lines skipped).
pub fn load(path: &Path) -> Result<Vec<Case>, CorpusError> {
    let text = std::fs::read_to_string(path).map_err(|source| CorpusError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<Case>, CorpusError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|source| CorpusError::Json {
                path: path.to_owned(),
                line: i + 1,
                source,
            })
        })
        .collect()
}

/// The `*.jsonl` files of a folder, sorted by name (empty when the folder is absent).
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// `crates/ai/data`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// FNV-1a over the training files' names and bytes, in name order: what the committed model
/// records, so a test can tell when the corpus changed without retraining.
pub fn training_hash(files: &[PathBuf]) -> Result<u64, CorpusError> {
    let mut hash = Fnv::new();
    for path in files {
        let bytes = std::fs::read(path).map_err(|source| CorpusError::Io {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        hash = hash.write(name.as_bytes()).write(b"\0").write(&bytes).write(b"\0");
    }
    Ok(hash.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_category_keys() {
        assert_eq!(
            category_key("airway-threatening swelling"),
            Some("airway_threatening_swelling")
        );
        assert_eq!(category_key("fracture, pulp exposure"), Some("fracture_pulp_exposure"));
        assert_eq!(
            category_key("post-operative complication"),
            Some("post_operative_complication")
        );
        assert_eq!(category_key("infection, swelling"), Some("spreading_infection"));
        assert_eq!(category_key("Dry socket"), Some("dry_socket"));
        assert_eq!(category_key("hygiene"), None);
    }

    #[test]
    fn the_test_split_is_about_a_fifth_and_ignores_case_and_accents() {
        let texts: Vec<String> = (0..1000).map(|i| format!("message number {i}")).collect();
        let test = texts.iter().filter(|text| in_test_split(text)).count();
        assert!((150..250).contains(&test), "{test}");
        assert_eq!(in_test_split("Me DUELE la muela"), in_test_split("me duele la muela"));
    }

    #[test]
    fn bad_lines_name_their_file_and_line() {
        let err = parse(
            Path::new("x.jsonl"),
            "{\"text\":\"a\",\"urgent\":true,\"cat\":\"abscess\"}\n\n{oops}\n",
        )
        .err()
        .map(|err| err.to_string());
        assert!(err.is_some_and(|err| err.starts_with("x.jsonl:3:")));
    }
}
