//! The trained weights and how they score a message.
//!
//! One file, `crates/ai/data/triage_model.bin`, compiled in with `include_bytes!` (no file or
//! network access at run time). Little-endian:
//!
//! ```text
//! "DTRIAGE1"                 magic
//! u32 featuriser version     must equal features::FEATURISER_VERSION
//! u64 corpus hash            FNV-1a of the training files (see corpus::training_hash)
//! u32 n features, u32 k categories
//! n x u64                    feature hashes, sorted (the vocabulary)
//! f32, n x f32               urgency head: bias, weights
//! k x (u8 len, bytes)        category names
//! k x f32                    category head: biases
//! n x k x i8, k x f32        category head: weights quantised per category, and their scales
//! ```
//!
//! The urgency head is a binary logistic regression; the category head a multinomial one, trained
//! on urgent messages only. Its weights are stored as 8-bit integers with one scale per category:
//! the head only ranks categories, and this keeps the file (and the process) small.

use super::features::Features;

const MAGIC: &[u8; 8] = b"DTRIAGE1";

/// Why a model file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("not a triage model file")]
    BadMagic,
    #[error("model file ends early")]
    Truncated,
    #[error("model file has {0} bytes after its end")]
    Trailing(usize),
    #[error("feature hashes are not sorted")]
    Unsorted,
    #[error("category name is not UTF-8")]
    BadName,
}

/// The detector's weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub featuriser_version: u32,
    pub corpus_hash: u64,
    pub hashes: Vec<u64>,
    pub urgent_bias: f32,
    pub urgent_weights: Vec<f32>,
    pub categories: Vec<String>,
    pub category_biases: Vec<f32>,
    /// Feature-major: the weights of feature `i` are `[i * k, (i + 1) * k)`.
    pub category_weights: Vec<i8>,
    pub category_scales: Vec<f32>,
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ModelError> {
        if self.bytes.len() < n {
            return Err(ModelError::Truncated);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ModelError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, ModelError> {
        self.array().map(u32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, ModelError> {
        self.array().map(u64::from_le_bytes)
    }

    fn f32(&mut self) -> Result<f32, ModelError> {
        self.array().map(f32::from_le_bytes)
    }

    fn count(&mut self) -> Result<usize, ModelError> {
        usize::try_from(self.u32()?).map_err(|_| ModelError::Truncated)
    }
}

impl Model {
    /// Reads a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        let mut reader = Reader { bytes };
        if reader.take(MAGIC.len())? != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let featuriser_version = reader.u32()?;
        let corpus_hash = reader.u64()?;
        let n = reader.count()?;
        let k = reader.count()?;
        let hashes = (0..n).map(|_| reader.u64()).collect::<Result<Vec<_>, _>>()?;
        if hashes.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(ModelError::Unsorted);
        }
        let urgent_bias = reader.f32()?;
        let urgent_weights = (0..n).map(|_| reader.f32()).collect::<Result<Vec<_>, _>>()?;
        let mut categories = Vec::with_capacity(k);
        for _ in 0..k {
            let len = usize::from(reader.take(1)?[0]);
            let name = std::str::from_utf8(reader.take(len)?).map_err(|_| ModelError::BadName)?;
            categories.push(name.to_owned());
        }
        let category_biases = (0..k).map(|_| reader.f32()).collect::<Result<Vec<_>, _>>()?;
        let category_weights = reader
            .take(n.checked_mul(k).ok_or(ModelError::Truncated)?)?
            .iter()
            .map(|byte| i8::from_le_bytes([*byte]))
            .collect();
        let category_scales = (0..k).map(|_| reader.f32()).collect::<Result<Vec<_>, _>>()?;
        if !reader.bytes.is_empty() {
            return Err(ModelError::Trailing(reader.bytes.len()));
        }
        Ok(Self {
            featuriser_version,
            corpus_hash,
            hashes,
            urgent_bias,
            urgent_weights,
            categories,
            category_biases,
            category_weights,
            category_scales,
        })
    }

    /// Writes the file [`Model::from_bytes`] reads.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.featuriser_version.to_le_bytes());
        out.extend_from_slice(&self.corpus_hash.to_le_bytes());
        for count in [self.hashes.len(), self.categories.len()] {
            out.extend_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes());
        }
        for hash in &self.hashes {
            out.extend_from_slice(&hash.to_le_bytes());
        }
        out.extend_from_slice(&self.urgent_bias.to_le_bytes());
        for weight in &self.urgent_weights {
            out.extend_from_slice(&weight.to_le_bytes());
        }
        for name in &self.categories {
            out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&name.as_bytes()[..name.len().min(255)]);
        }
        for bias in &self.category_biases {
            out.extend_from_slice(&bias.to_le_bytes());
        }
        out.extend(self.category_weights.iter().map(|weight| weight.to_le_bytes()[0]));
        for scale in &self.category_scales {
            out.extend_from_slice(&scale.to_le_bytes());
        }
        out
    }

    /// Indices into the vocabulary of a message's features that the model knows, with values.
    fn known<'a>(&'a self, features: &'a Features) -> impl Iterator<Item = (usize, f32)> + 'a {
        features
            .values
            .iter()
            .filter_map(|(hash, value)| self.hashes.binary_search(hash).ok().map(|index| (index, *value)))
    }

    /// The probability that the message is urgent.
    pub fn urgency(&self, features: &Features) -> f32 {
        let z = self.urgent_bias
            + self
                .known(features)
                .map(|(index, value)| self.urgent_weights[index] * value)
                .sum::<f32>();
        1.0 / (1.0 + (-z).exp())
    }

    /// Categories ranked by the category head, most likely first, with their softmax share.
    pub fn categories(&self, features: &Features) -> Vec<(&str, f32)> {
        let k = self.categories.len();
        let mut logits = self.category_biases.clone();
        for (index, value) in self.known(features) {
            let row = &self.category_weights[index * k..(index + 1) * k];
            for ((logit, weight), scale) in logits.iter_mut().zip(row).zip(&self.category_scales) {
                *logit += f32::from(*weight) * scale * value;
            }
        }
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = logits.iter().map(|logit| (logit - max).exp()).collect();
        let total: f32 = exps.iter().sum();
        let mut ranked: Vec<(&str, f32)> = self
            .categories
            .iter()
            .map(String::as_str)
            .zip(exps.iter().map(|e| e / total))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked
    }
}

/// Quantises one category's weights to `i8` with a scale (max |w| / 127).
pub fn quantise(weights: &[f32]) -> (Vec<i8>, f32) {
    let max = weights.iter().fold(0f32, |max, w| max.max(w.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    #[allow(clippy::cast_possible_truncation)]
    let quantised = weights
        .iter()
        .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (quantised, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Model {
        Model {
            featuriser_version: 7,
            corpus_hash: 42,
            hashes: vec![1, 5, 9],
            urgent_bias: -1.0,
            urgent_weights: vec![2.0, 0.5, -3.0],
            categories: vec!["abscess".to_owned(), "avulsion".to_owned()],
            category_biases: vec![0.0, 0.1],
            category_weights: vec![10, -10, 0, 0, -5, 5],
            category_scales: vec![0.1, 0.1],
        }
    }

    #[test]
    fn model_file_round_trips_and_rejects_damage() {
        let model = tiny();
        let bytes = model.to_bytes();
        assert_eq!(Model::from_bytes(&bytes), Ok(model));
        assert_eq!(Model::from_bytes(&bytes[..bytes.len() - 1]), Err(ModelError::Truncated));
        assert_eq!(Model::from_bytes(b"nonsense"), Err(ModelError::BadMagic));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(Model::from_bytes(&longer), Err(ModelError::Trailing(1)));
    }

    #[test]
    fn scores_only_known_features() {
        let model = tiny();
        let features = Features {
            values: vec![(1, 1.0), (3, 100.0)],
            present: Vec::new(),
            hurried: false,
        };
        let expected = 1.0 / (1.0 + (-1.0f32).exp());
        assert!((model.urgency(&features) - expected).abs() < 1e-6);
        assert_eq!(model.categories(&features)[0].0, "abscess");
    }

    #[test]
    fn quantising_keeps_the_largest_weight_exact() {
        let (q, scale) = quantise(&[0.5, -1.27, 0.0]);
        assert_eq!(q[1], -127);
        assert!((f32::from(q[0]) * scale - 0.5).abs() < 0.01);
    }
}
