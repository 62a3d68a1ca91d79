//! The offline provider: a curated dental knowledge base with BM25 retrieval.
//!
//! It needs no key and no network, so the product works (and tests run) anywhere. The knowledge
//! base (`offline_kb.txt`, compiled in) holds one short, patient-facing answer per topic. A reply
//! is the best-matching topic's answer for the new message plus, at half weight, the patient's two
//! previous messages; below a score threshold the reply says what the assistant can help with.
//!
//! Token usage is an estimate (about four tokens per three words, see
//! [`super::estimate_tokens`]): input counts what a hosted model would have read (system
//! instruction and every turn), output counts the reply.

use std::collections::HashMap;

use async_trait::async_trait;
use futures::StreamExt;
use shared::ai::{TurnRole, Usage};
use unicode_normalization::UnicodeNormalization;

use super::{ChunkStream, Completion, Provider, StreamChunk, UpstreamError, estimate_tokens};
use crate::prompt::Prompt;

/// The model name reported for offline answers.
pub const MODEL: &str = "offline-kb-v1";
const KB_SOURCE: &str = include_str!("offline_kb.txt");
/// Minimum BM25 score for an answer; below it the fallback is used.
const MIN_SCORE: f64 = 3.5;
/// Words per streamed chunk.
const WORDS_PER_CHUNK: usize = 4;
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Reply when nothing in the knowledge base matches.
pub const FALLBACK: &str = "Thank you for your message. I'm the clinic's assistant, and I can help with questions about \
looking after your teeth and gums (brushing, flossing, bad breath, sensitivity, diet), about treatments such as \
fillings, crowns, bridges, implants, root canals, whitening, braces and dentures, about recovery after treatment, \
and about children's teeth and dental care in pregnancy.\n\n\
I couldn't find a good answer to that particular question. Could you tell me a little more, or ask it another way? \
For appointments, prices and anything about your own treatment plan, the clinic's reception team will be glad to help.\n\n\
If you have severe pain, swelling of your face or neck, bleeding that won't stop, or trouble breathing or swallowing, \
please contact the clinic now or call emergency services (911/999/112).";

/// One knowledge-base topic.
#[derive(Debug)]
pub struct Topic {
    pub id: String,
    pub answer: String,
    terms: HashMap<String, f64>,
    length: f64,
}

/// The parsed knowledge base with its BM25 statistics.
#[derive(Debug)]
pub struct KnowledgeBase {
    topics: Vec<Topic>,
    idf: HashMap<String, f64>,
    avg_length: f64,
}

const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "been", "before",
    "being", "but", "by", "can", "could", "did", "do", "does", "doing", "dont", "for", "from", "get", "got", "had",
    "has", "have", "having", "he", "her", "hers", "him", "his", "how", "i", "id", "if", "im", "in", "into", "is", "it",
    "its", "ive", "just", "know", "like", "may", "me", "might", "more", "most", "much", "my", "need", "no", "not",
    "now", "of", "off", "ok", "okay", "on", "one", "or", "our", "out", "over", "please", "really", "she", "should",
    "so", "some", "still", "than", "thank", "thanks", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "those", "to", "too", "up", "us", "very", "want", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "why", "will", "with", "would", "you", "your", "hi", "hello", "dear", "question", "tooth", "teeth",
    "dentist", "dental", "mouth", "de", "la", "el", "los", "las", "que", "en", "y", "o", "um", "uma", "os", "as", "e",
    "do", "da", "para", "por", "con", "com", "mi", "meu", "minha", "se", "es", "tengo", "tenho",
];

/// Lower-case, accent-free word stems.
pub fn terms(text: &str) -> Vec<String> {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    folded
        .split_whitespace()
        .filter(|word| !STOP_WORDS.contains(word))
        .map(stem)
        .filter(|word| word.len() > 1)
        .collect()
}

/// A deliberately light stemmer: enough to meet "flossing"/"floss" and "implants"/"implant".
fn stem(word: &str) -> String {
    for suffix in ["ing", "ies", "es", "ed", "s", "ly"] {
        if let Some(base) = word.strip_suffix(suffix)
            && base.len() >= 4
        {
            return match suffix {
                "ies" => format!("{base}y"),
                _ => base.to_owned(),
            };
        }
    }
    word.to_owned()
}

impl KnowledgeBase {
    /// Parses the compiled-in knowledge base.
    pub fn load() -> Self {
        Self::parse(KB_SOURCE)
    }

    /// Parses `=== id` / `keywords: ...` / answer blocks.
    pub fn parse(source: &str) -> Self {
        let mut topics = Vec::new();
        for block in source.split("\n=== ").skip(1) {
            let mut lines = block.lines();
            let id = lines.next().unwrap_or("").trim().to_owned();
            let mut keywords = String::new();
            let mut answer = Vec::new();
            for line in lines {
                if let Some(rest) = line.strip_prefix("keywords:") {
                    rest.clone_into(&mut keywords);
                } else {
                    answer.push(line);
                }
            }
            let answer = answer.join("\n").trim().to_owned();
            if id.is_empty() || answer.is_empty() {
                continue;
            }
            let mut counts: HashMap<String, f64> = HashMap::new();
            // Keywords and the id weigh three times the answer text.
            for term in terms(&format!("{keywords} {}", id.replace('-', " "))) {
                *counts.entry(term).or_default() += 3.0;
            }
            for term in terms(&answer) {
                *counts.entry(term).or_default() += 1.0;
            }
            let length = counts.values().sum();
            topics.push(Topic {
                id,
                answer,
                terms: counts,
                length,
            });
        }
        let mut document_frequency: HashMap<String, f64> = HashMap::new();
        for topic in &topics {
            for term in topic.terms.keys() {
                *document_frequency.entry(term.clone()).or_default() += 1.0;
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let n = topics.len() as f64;
        let idf = document_frequency
            .into_iter()
            .map(|(term, df)| (term, ((n - df + 0.5) / (df + 0.5) + 1.0).ln()))
            .collect();
        let avg_length = if topics.is_empty() {
            1.0
        } else {
            topics.iter().map(|t| t.length).sum::<f64>() / n
        };
        Self {
            topics,
            idf,
            avg_length,
        }
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// Scores every topic against weighted query terms; best first.
    pub fn rank(&self, query: &[(String, f64)]) -> Vec<(usize, f64)> {
        let mut scores: Vec<(usize, f64)> = self
            .topics
            .iter()
            .enumerate()
            .map(|(index, topic)| {
                let score = query
                    .iter()
                    .map(|(term, weight)| {
                        let tf = topic.terms.get(term).copied().unwrap_or(0.0);
                        if tf == 0.0 {
                            return 0.0;
                        }
                        let idf = self.idf.get(term).copied().unwrap_or(0.0);
                        weight * idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * topic.length / self.avg_length))
                    })
                    .sum();
                (index, score)
            })
            .collect();
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores
    }

    /// The answer for a conversation: the new message, plus the two previous patient messages at
    /// half weight.
    pub fn answer(&self, prompt: &Prompt) -> (&str, Option<&str>) {
        let mut weights: HashMap<String, f64> = HashMap::new();
        let mut user_turns = prompt.conversation.iter().rev().filter(|t| t.role == TurnRole::User);
        if let Some(last) = user_turns.next() {
            for term in terms(&last.text) {
                *weights.entry(term).or_default() += 1.0;
            }
        }
        for turn in user_turns.take(2) {
            for term in terms(&turn.text) {
                let weight = weights.entry(term).or_default();
                *weight = weight.max(0.5);
            }
        }
        let query: Vec<(String, f64)> = weights.into_iter().collect();
        match self.rank(&query).first() {
            Some(&(index, score)) if score >= MIN_SCORE => {
                let topic = &self.topics[index];
                (topic.answer.as_str(), Some(topic.id.as_str()))
            }
            _ => (FALLBACK, None),
        }
    }
}

/// The offline provider.
pub struct OfflineProvider {
    kb: KnowledgeBase,
}

impl Default for OfflineProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl OfflineProvider {
    pub fn new() -> Self {
        Self {
            kb: KnowledgeBase::load(),
        }
    }

    fn reply(&self, prompt: &Prompt) -> Completion {
        // The chosen topic is not logged: it would reveal what the patient asked about.
        let (answer, _topic) = self.kb.answer(prompt);
        let input = estimate_tokens(prompt.system)
            + prompt
                .turns()
                .iter()
                .map(|turn| estimate_tokens(&turn.text))
                .sum::<u32>();
        Completion {
            text: answer.to_owned(),
            usage: Usage {
                input_tokens: input,
                output_tokens: estimate_tokens(answer),
            },
            finish_reason: "stop".to_owned(),
        }
    }
}

/// Splits text into groups of words, keeping every character, so the chunks join to the text.
pub fn word_groups(text: &str, words: usize) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    let mut in_word = false;
    for c in text.chars() {
        let is_space = c.is_whitespace();
        if !is_space && !in_word {
            if count == words {
                chunks.push(std::mem::take(&mut current));
                count = 0;
            }
            count += 1;
        }
        in_word = !is_space;
        current.push(c);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[async_trait]
impl Provider for OfflineProvider {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn model(&self) -> &str {
        MODEL
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, UpstreamError> {
        Ok(self.reply(prompt))
    }

    async fn stream(&self, prompt: &Prompt) -> Result<ChunkStream, UpstreamError> {
        let completion = self.reply(prompt);
        let chunks: Vec<Result<StreamChunk, UpstreamError>> = word_groups(&completion.text, WORDS_PER_CHUNK)
            .into_iter()
            .map(|chunk| Ok(StreamChunk::Delta(chunk)))
            .chain(std::iter::once(Ok(StreamChunk::Done {
                usage: completion.usage,
                finish_reason: completion.finish_reason,
            })))
            .collect();
        Ok(futures::stream::iter(chunks).boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ai::{ChatRequest, HistoryTurn, PatientContext};

    fn ask(message: &str, history: &[&str]) -> Option<String> {
        let request = ChatRequest {
            patient: PatientContext {
                name: "Sam".into(),
                medical_notes: None,
                ..PatientContext::default()
            },
            history: history
                .iter()
                .map(|text| HistoryTurn {
                    role: TurnRole::User,
                    content: (*text).into(),
                })
                .collect(),
            message: message.into(),
        };
        KnowledgeBase::load()
            .answer(&Prompt::build(&request))
            .1
            .map(str::to_owned)
    }

    #[test]
    fn knowledge_base_has_at_least_forty_topics_of_two_or_three_paragraphs() {
        let kb = KnowledgeBase::load();
        assert!(kb.topics().len() >= 40, "{}", kb.topics().len());
        for topic in kb.topics() {
            let paragraphs = topic.answer.split("\n\n").count();
            assert!(
                (2..=3).contains(&paragraphs),
                "{} has {paragraphs} paragraphs",
                topic.id
            );
        }
        let mut ids: Vec<_> = kb.topics().iter().map(|t| t.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), kb.topics().len(), "duplicate topic ids");
    }

    #[test]
    fn retrieves_the_expected_topics() {
        let cases = [
            ("Is flossing really necessary?", "flossing"),
            ("Which floss is best for tight teeth?", "flossing"),
            (
                "Is it okay to use whitening strips with a crown?",
                "whitening-with-restorations",
            ),
            ("How long does professional whitening usually last?", "whitening"),
            ("Are veneers permanent?", "veneers"),
            ("What can I eat the first week with new dentures?", "dentures"),
            ("I've got bad breath even though I brush twice a day", "bad-breath"),
            ("What exactly happens during a root canal?", "root-canal"),
            (
                "How long will I need to wear a retainer after my braces come off?",
                "retainers",
            ),
            ("Is sparkling water bad for tooth enamel?", "acidic-drinks"),
            (
                "Can I have a filling with local anaesthetic in my first trimester?",
                "pregnancy",
            ),
            ("I clench my teeth at night, do you make night guards?", "grinding"),
            ("My child is teething, how can I soothe her?", "teething"),
            ("How much does an implant cost and how long does it last?", "implants"),
            ("What is a bridge?", "bridges"),
            ("Slight sensitivity to cold after my cleaning", "sensitivity"),
        ];
        for (message, expected) in cases {
            assert_eq!(ask(message, &[]).as_deref(), Some(expected), "{message}");
        }
    }

    #[test]
    fn history_helps_a_follow_up_question() {
        assert_eq!(
            ask(
                "and how long does that last?",
                &["I'm thinking about getting an implant"]
            )
            .as_deref(),
            Some("implants")
        );
    }

    #[test]
    fn unrelated_questions_fall_back() {
        assert_eq!(ask("What's the capital of France?", &[]), None);
    }

    #[test]
    fn word_groups_join_back_to_the_text() {
        let text = "One two  three four five\n\nsix seven";
        let groups = word_groups(text, 2);
        assert_eq!(groups.concat(), text);
        assert_eq!(groups[0], "One two  ");
    }
}
