//! OpenAI-compatible Chat Completions provider (OpenAI, llama.cpp, vLLM, Ollama, ...).
//!
//! `OPENAI_BASE_URL` may be given with or without a trailing `/v1` (`http://host:8080` and
//! `http://host:11434/v1` both work); the service calls `<base>/v1/chat/completions`.
//! Streaming asks for `stream_options.include_usage`; `[DONE]` or a finish reason ends a stream
//! well, an in-band `{"error": ...}` (with or without `data:`) ends it with an error even when
//! `[DONE]` follows (vLLM), and EOF without either is a truncated reply. `reasoning_content` /
//! `reasoning` deltas are never part of the reply. `max_tokens` is sent (Ollama ignores
//! `max_completion_tokens`).

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

const MAX_TOKENS: u32 = 1024;
const TEMPERATURE: f64 = 0.4;

pub struct OpenAiProvider {
    client: reqwest::Client,
    url: String,
    model: String,
    api_key: Option<SecretString>,
}

/// `<base>/v1/chat/completions`, accepting a base that already ends in `/v1`.
pub fn completions_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    format!("{base}/v1/chat/completions")
}

impl OpenAiProvider {
    pub fn new(client: reqwest::Client, base_url: &str, model: &str, api_key: Option<SecretString>) -> Self {
        Self {
            client,
            url: completions_url(base_url),
            model: model.to_owned(),
            api_key,
        }
    }

    #[tracing::instrument(skip_all, fields(provider = "openai", stream = stream))]
    async fn send(&self, prompt: &Prompt, stream: bool) -> Result<reqwest::Response, UpstreamError> {
        let mut request = self
            .client
            .post(&self.url)
            .json(&request_body(&self.model, prompt, stream));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        if stream {
            request = request.header(reqwest::header::ACCEPT, "text/event-stream");
        }
        let response = request.send().await.map_err(|err| transport_error(&err))?;
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(error_from_response(response).await)
        }
    }
}

/// The chat-completions body for a prompt.
pub fn request_body(model: &str, prompt: &Prompt, stream: bool) -> Value {
    let mut messages = vec![json!({"role": "system", "content": prompt.system})];
    messages.extend(prompt.turns().into_iter().map(|turn| {
        json!({
            "role": match turn.role { TurnRole::User => "user", TurnRole::Assistant => "assistant" },
            "content": turn.text,
        })
    }));
    let mut body = json!({
        "model": model,
        "messages": messages,
        "temperature": TEMPERATURE,
        "max_tokens": MAX_TOKENS,
        "stream": stream,
    });
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

fn usage_of(value: &Value) -> Option<Usage> {
    let usage = value.get("usage").filter(|u| u.is_object())?;
    let count = |key: &str| {
        usage
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    };
    Some(Usage {
        input_tokens: count("prompt_tokens"),
        output_tokens: count("completion_tokens"),
    })
}

fn in_band_error(value: &Value) -> Option<UpstreamError> {
    let info = ErrorInfo::from_value(value)?;
    let err = classify(None, &info, None);
    tracing::warn!(outcome = err.code(), upstream = %info.log_excerpt(), "model stream failed");
    Some(err)
}

fn first_choice(value: &Value) -> Option<&Value> {
    let choices = value.get("choices")?.as_array()?;
    choices
        .iter()
        .find(|c| c.get("index").and_then(Value::as_u64).unwrap_or(0) == 0)
        .or_else(|| choices.first())
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, prompt: &Prompt) -> Result<Completion, UpstreamError> {
        let response = self.send(prompt, false).await?;
        let value = read_json(response).await?;
        if let Some(err) = in_band_error(&value) {
            return Err(err);
        }
        let choice = first_choice(&value).ok_or_else(|| UpstreamError::bad("response has no choices"))?;
        let text = choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let finish = choice
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("stop")
            .to_ascii_lowercase();
        if text.trim().is_empty() {
            return Err(UpstreamError::bad(format!("no reply text (finish reason {finish})")));
        }
        Ok(Completion {
            text,
            usage: usage_of(&value).unwrap_or_default(),
            finish_reason: finish,
        })
    }

    async fn stream(&self, prompt: &Prompt) -> Result<ChunkStream, UpstreamError> {
        let response = self.send(prompt, true).await?;
        Ok(drive(response, OpenAiStream::default()))
    }
}

/// Parser of chat-completion chunks.
#[derive(Debug, Default)]
pub struct OpenAiStream {
    usage: Option<Usage>,
    finish: Option<String>,
    emitted_text: bool,
}

impl OpenAiStream {
    fn done(&mut self) -> Result<StreamChunk, UpstreamError> {
        let finish = self.finish.take().unwrap_or_else(|| "stop".to_owned());
        if self.emitted_text {
            Ok(StreamChunk::Done {
                usage: self.usage.unwrap_or_default(),
                finish_reason: finish,
            })
        } else {
            Err(UpstreamError::bad(format!("no reply text (finish reason {finish})")))
        }
    }
}

impl EventParser for OpenAiStream {
    fn on_event(&mut self, data: &str) -> Vec<Result<StreamChunk, UpstreamError>> {
        if data.trim() == "[DONE]" {
            return vec![self.done()];
        }
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            return vec![Err(UpstreamError::bad("stream chunk is not JSON"))];
        };
        if let Some(err) = in_band_error(&value) {
            return vec![Err(err)];
        }
        if let Some(usage) = usage_of(&value) {
            self.usage = Some(usage);
        }
        let mut out = Vec::new();
        if let Some(choice) = first_choice(&value) {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
                && !text.is_empty()
            {
                self.emitted_text = true;
                out.push(Ok(StreamChunk::Delta(text.to_owned())));
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish = Some(reason.to_ascii_lowercase());
            }
        }
        out
    }

    fn on_raw(&mut self, value: &Value) -> Vec<Result<StreamChunk, UpstreamError>> {
        match in_band_error(value) {
            Some(err) => vec![Err(err)],
            None => vec![Err(UpstreamError::bad("unexpected JSON in the model stream"))],
        }
    }

    fn on_eof(&mut self) -> Result<StreamChunk, UpstreamError> {
        if self.finish.is_some() {
            self.done()
        } else {
            Err(UpstreamError::bad(
                "model stream ended before [DONE] or a finish reason",
            ))
        }
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
                ..PatientContext::default()
            },
            history: vec![HistoryTurn {
                role: TurnRole::User,
                content: "earlier question".into(),
            }],
            message: "and now?".into(),
        })
    }

    #[test]
    fn base_url_with_or_without_v1() {
        assert_eq!(completions_url("http://h:8080"), "http://h:8080/v1/chat/completions");
        assert_eq!(
            completions_url("http://h:11434/v1/"),
            "http://h:11434/v1/chat/completions"
        );
        assert_eq!(
            completions_url("https://h/proxy"),
            "https://h/proxy/v1/chat/completions"
        );
    }

    #[test]
    fn request_body_has_system_then_context_then_alternating_turns() {
        let body = request_body("m", &prompt(), true);
        let messages = body["messages"].as_array().unwrap();
        let roles: Vec<_> = messages.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, vec!["system", "user", "assistant", "user"]);
        assert!(!messages[0]["content"].as_str().unwrap().contains("Ana"));
        assert!(messages[1]["content"].as_str().unwrap().contains("Patient name: Ana"));
        assert_eq!(messages[3]["content"], "earlier question\n\nand now?");
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(body["model"], "m");
        let unary = request_body("m", &prompt(), false);
        assert!(unary.get("stream_options").is_none());
        assert_eq!(unary["stream"], false);
    }

    #[test]
    fn reasoning_deltas_are_skipped_and_done_after_error_is_not_success() {
        let mut parser = OpenAiStream::default();
        assert!(
            parser
                .on_event(r#"{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}"#)
                .is_empty()
        );
        assert_eq!(
            parser.on_event(r#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#),
            vec![Ok(StreamChunk::Delta("Hi".into()))]
        );
        let out = parser.on_event(r#"{"error":{"message":"boom","type":"InternalServerError","code":500}}"#);
        assert!(matches!(out[0], Err(UpstreamError::BadGateway(_))));
    }
}
