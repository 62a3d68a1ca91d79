//! Gemini REST (v1beta) provider.
//!
//! `POST {base}/v1beta/models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, key in the `x-goog-api-key` header (never the URL).
//! Replies keep only non-thought text parts of the first candidate. A blocked prompt (200 with no
//! candidates), a blocked or empty answer, and a stream that ends before a finish reason are
//! errors (502); a mid-stream error (raw JSON without `data:`) is classified like an HTTP one.

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use shared::ai::{TurnRole, Usage};

use super::sse::{EventParser, drive};
use super::{
    ChunkStream, Completion, ErrorInfo, Provider, StreamChunk, UpstreamError, classify, error_from_response, read_json,
    transport_error,
};
use crate::prompt::Prompt;

/// Output budget; generous because 2.5 models spend part of it thinking.
const MAX_OUTPUT_TOKENS: u32 = 2048;
const TEMPERATURE: f64 = 0.4;

pub struct GeminiProvider {
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: SecretString,
}

impl GeminiProvider {
    pub fn new(client: reqwest::Client, base_url: &str, model: &str, api_key: SecretString) -> Self {
        Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}/v1beta/models/{}:{method}", self.base_url, self.model)
    }

    #[tracing::instrument(skip_all, fields(provider = "gemini", stream = stream))]
    async fn send(&self, prompt: &Prompt, stream: bool) -> Result<reqwest::Response, UpstreamError> {
        let request = self
            .client
            .post(if stream {
                format!("{}?alt=sse", self.url("streamGenerateContent"))
            } else {
                self.url("generateContent")
            })
            .header("x-goog-api-key", self.api_key.expose_secret())
            .json(&request_body(prompt));
        let response = request.send().await.map_err(|err| transport_error(&err))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_from_response(response).await)
        }
    }
}

/// The `generateContent` body for a prompt.
pub fn request_body(prompt: &Prompt) -> Value {
    let contents: Vec<Value> = prompt
        .turns()
        .into_iter()
        .map(|turn| {
            json!({
                "role": match turn.role { TurnRole::User => "user", TurnRole::Assistant => "model" },
                "parts": [{"text": turn.text}],
            })
        })
        .collect();
    json!({
        "systemInstruction": {"parts": [{"text": prompt.system}]},
        "contents": contents,
        "generationConfig": {
            "temperature": TEMPERATURE,
            "maxOutputTokens": MAX_OUTPUT_TOKENS,
            "candidateCount": 1,
        },
    })
}

/// The contract's finish reason for a Gemini one.
fn finish_reason(raw: &str) -> String {
    match raw {
        "STOP" => "stop".to_owned(),
        "MAX_TOKENS" => "length".to_owned(),
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "LANGUAGE"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => "content_filter".to_owned(),
        other => other.to_ascii_lowercase(),
    }
}

/// What one response object (unary body or stream event) holds.
#[derive(Debug, Default)]
struct Piece {
    text: String,
    finish: Option<String>,
    usage: Option<Usage>,
    blocked: Option<String>,
}

fn count(value: &Value, key: &str) -> u32 {
    value
        .get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

fn parse_piece(value: &Value) -> Piece {
    let mut piece = Piece::default();
    let candidates = value.get("candidates").and_then(Value::as_array);
    // Choose the candidate with index 0 (or the first one).
    let candidate = candidates.and_then(|list| {
        list.iter()
            .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
            .or_else(|| list.first())
    });
    if let Some(candidate) = candidate {
        if let Some(parts) = candidate.pointer("/content/parts").and_then(Value::as_array) {
            for part in parts {
                if part.get("thought").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                if let Some(text) = part.get("text").and_then(Value::as_str) {
                    piece.text.push_str(text);
                }
            }
        }
        piece.finish = candidate
            .get("finishReason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
    } else if let Some(reason) = value.pointer("/promptFeedback/blockReason").and_then(Value::as_str) {
        piece.blocked = Some(reason.to_owned());
    }
    if let Some(usage) = value.get("usageMetadata") {
        piece.usage = Some(Usage {
            input_tokens: count(usage, "promptTokenCount"),
            output_tokens: count(usage, "candidatesTokenCount").saturating_add(count(usage, "thoughtsTokenCount")),
        });
    }
    piece
}

fn in_band_error(value: &Value) -> Option<UpstreamError> {
    value.get("error")?;
    let info = ErrorInfo::from_value(value)?;
    let err = classify(None, &info, None);
    tracing::warn!(outcome = err.code(), upstream = %info.log_excerpt(), "model stream failed");
    Some(err)
}

#[async_trait]
impl Provider for GeminiProvider {
    fn name(&self) -> &'static str {
        "gemini"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, UpstreamError> {
        let response = self.send(prompt, false).await?;
        let value = read_json(response).await?;
        let value = match value {
            Value::Array(mut items) if items.len() == 1 => items.remove(0),
            other => other,
        };
        if let Some(err) = in_band_error(&value) {
            return Err(err);
        }
        let piece = parse_piece(&value);
        if let Some(reason) = piece.blocked {
            return Err(UpstreamError::bad(format!("prompt blocked ({reason})")));
        }
        let raw_finish = piece.finish.unwrap_or_else(|| "STOP".to_owned());
        if piece.text.trim().is_empty() {
            return Err(UpstreamError::bad(format!(
                "no reply text (finish reason {raw_finish})"
            )));
        }
        Ok(Completion {
            text: piece.text,
            usage: piece.usage.unwrap_or_default(),
            finish_reason: finish_reason(&raw_finish),
        })
    }

    async fn stream(&self, prompt: &Prompt) -> Result<ChunkStream, UpstreamError> {
        let response = self.send(prompt, true).await?;
        Ok(drive(response, GeminiStream::default()))
    }
}

/// Parser of `streamGenerateContent?alt=sse` events.
#[derive(Debug, Default)]
pub struct GeminiStream {
    usage: Usage,
    emitted_text: bool,
}

impl EventParser for GeminiStream {
    fn on_event(&mut self, data: &str) -> Vec<Result<StreamChunk, UpstreamError>> {
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            return vec![Err(UpstreamError::bad("stream event is not JSON"))];
        };
        if let Some(err) = in_band_error(&value) {
            return vec![Err(err)];
        }
        let piece = parse_piece(&value);
        if let Some(usage) = piece.usage {
            // Cumulative in every event: keep the last.
            self.usage = usage;
        }
        let mut out = Vec::new();
        if !piece.text.is_empty() {
            self.emitted_text = true;
            out.push(Ok(StreamChunk::Delta(piece.text)));
        }
        if let Some(reason) = piece.blocked {
            out.push(Err(UpstreamError::bad(format!("prompt blocked ({reason})"))));
        } else if let Some(raw) = piece.finish {
            if self.emitted_text {
                out.push(Ok(StreamChunk::Done {
                    usage: self.usage,
                    finish_reason: finish_reason(&raw),
                }));
            } else {
                out.push(Err(UpstreamError::bad(format!("no reply text (finish reason {raw})"))));
            }
        }
        out
    }

    fn on_raw(&mut self, value: &Value) -> Vec<Result<StreamChunk, UpstreamError>> {
        let value = match value {
            Value::Array(items) if items.len() == 1 => &items[0],
            other => other,
        };
        match in_band_error(value) {
            Some(err) => vec![Err(err)],
            // A raw response object (no SSE framing): treat it like an event.
            None if value.is_object() => self.on_event(&value.to_string()),
            None => vec![Err(UpstreamError::bad("unexpected JSON in the model stream"))],
        }
    }

    fn on_eof(&mut self) -> Result<StreamChunk, UpstreamError> {
        Err(UpstreamError::bad("model stream ended before a finish reason"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::ai::{ChatRequest, HistoryTurn, PatientContext};

    fn prompt() -> Prompt {
        Prompt::build(&ChatRequest {
            patient: PatientContext {
                name: "Ana".into(),
                medical_notes: Some("diabetic".into()),
                ..PatientContext::default()
            },
            history: vec![
                HistoryTurn {
                    role: TurnRole::User,
                    content: "hello".into(),
                },
                HistoryTurn {
                    role: TurnRole::Assistant,
                    content: "hi there".into(),
                },
            ],
            message: "How often should I floss?".into(),
        })
    }

    #[test]
    fn request_body_has_system_instruction_context_turn_and_alternating_roles() {
        let body = request_body(&prompt());
        let system = body["systemInstruction"]["parts"][0]["text"].as_str().unwrap();
        assert!(!system.contains("Ana") && !system.contains("diabetic"));
        let contents = body["contents"].as_array().unwrap();
        let roles: Vec<_> = contents.iter().map(|c| c["role"].as_str().unwrap()).collect();
        assert_eq!(roles, vec!["user", "model", "user", "model", "user"]);
        let context = contents[0]["parts"][0]["text"].as_str().unwrap();
        assert!(context.contains("<patient_context>") && context.contains("Ana") && context.contains("diabetic"));
        assert_eq!(contents[4]["parts"][0]["text"], "How often should I floss?");
        assert_eq!(body["generationConfig"]["maxOutputTokens"], MAX_OUTPUT_TOKENS);
        // Only fields Gemini knows (it rejects unknown ones).
        let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 3);
    }

    #[test]
    fn thought_parts_are_skipped_and_parts_joined() {
        let value = json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": true}, {"text": "Hello "}, {"functionCall": {}}, {"text": "world"}]},
            "finishReason": "STOP", "index": 0}], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "thoughtsTokenCount": 5}});
        let piece = parse_piece(&value);
        assert_eq!(piece.text, "Hello world");
        assert_eq!(
            piece.usage,
            Some(Usage {
                input_tokens: 3,
                output_tokens: 7
            })
        );
    }

    #[test]
    fn finish_reasons_map_to_contract_names() {
        assert_eq!(finish_reason("STOP"), "stop");
        assert_eq!(finish_reason("MAX_TOKENS"), "length");
        assert_eq!(finish_reason("RECITATION"), "content_filter");
        assert_eq!(finish_reason("SOMETHING_NEW"), "something_new");
    }

    #[test]
    fn stream_without_finish_reason_is_an_error() {
        let mut parser = GeminiStream::default();
        let out = parser.on_event(r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}"#);
        assert_eq!(out, vec![Ok(StreamChunk::Delta("Hi".into()))]);
        assert!(parser.on_eof().is_err());
    }
}
