//! Model providers: one trait, one implementation per file.
//!
//! A provider turns a [`Prompt`] into a reply, whole ([`Provider::complete`]) or as a stream of
//! [`StreamChunk`]s ([`Provider::stream`]). Failures are [`UpstreamError`]s, already classified
//! into the contract's four outcomes; the upstream body never leaves this module.

pub mod gemini;
pub mod offline;
pub mod openai;
pub mod sse;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;
use shared::ai::Usage;

use crate::config::{Config, ProviderConfig};
use crate::prompt::Prompt;

/// A reply produced in one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    pub usage: Usage,
    /// `stop`, `length`, `content_filter` or another lower-case reason.
    pub finish_reason: String,
}

/// One item of a streamed reply. A stream yields deltas, then exactly one `Done` or one error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamChunk {
    Delta(String),
    Done { usage: Usage, finish_reason: String },
}

/// A streamed reply; ends after `Done` or the first error.
pub type ChunkStream = BoxStream<'static, Result<StreamChunk, UpstreamError>>;

/// Why a model call failed, in the contract's terms. The payload is a short reason for the log,
/// never an upstream body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("model rate limited, retry after {retry_after_secs}s")]
    RateLimited { retry_after_secs: u64 },
    #[error("model unavailable: {0}")]
    Unavailable(String),
    #[error("model call timed out")]
    Timeout,
    #[error("unusable model response: {0}")]
    BadGateway(String),
}

impl UpstreamError {
    /// The stable `code` of the problem body or stream `error` event.
    pub fn code(&self) -> &'static str {
        match self {
            Self::RateLimited { .. } => "ai_rate_limited",
            Self::Unavailable(_) => "ai_unavailable",
            Self::Timeout => "ai_timeout",
            Self::BadGateway(_) => "ai_bad_gateway",
        }
    }

    /// A client-facing sentence (no upstream text).
    pub fn detail(&self) -> String {
        match self {
            Self::RateLimited { retry_after_secs } => {
                format!("The model provider is rate limiting requests; retry after {retry_after_secs} seconds.")
            }
            Self::Unavailable(_) => "The model provider is overloaded or unavailable; try again shortly.".to_owned(),
            Self::Timeout => "The model did not answer in time.".to_owned(),
            Self::BadGateway(_) => "The model provider returned an unusable answer.".to_owned(),
        }
    }

    pub(crate) fn bad(reason: impl Into<String>) -> Self {
        Self::BadGateway(reason.into())
    }
}

/// A model backend.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The contract's provider name: `offline`, `gemini` or `openai`.
    fn name(&self) -> &'static str;
    /// The configured model name.
    fn model(&self) -> &str;
    /// Answers in one piece.
    async fn complete(&self, prompt: &Prompt) -> Result<Completion, UpstreamError>;
    /// Answers as a stream. An error before any byte of the reply is returned directly so the
    /// route can still answer with a status code.
    async fn stream(&self, prompt: &Prompt) -> Result<ChunkStream, UpstreamError>;
}

/// Builds the configured provider, sharing one HTTP client for its whole life.
pub fn from_config(config: &Config) -> anyhow::Result<Arc<dyn Provider>> {
    let provider: Arc<dyn Provider> = match &config.provider {
        ProviderConfig::Offline => Arc::new(offline::OfflineProvider::new()),
        ProviderConfig::Gemini {
            api_key,
            model,
            base_url,
        } => Arc::new(gemini::GeminiProvider::new(
            http_client(config.timeout)?,
            base_url,
            model,
            api_key.clone(),
        )),
        ProviderConfig::OpenAi {
            base_url,
            api_key,
            model,
        } => Arc::new(openai::OpenAiProvider::new(
            http_client(config.timeout)?,
            base_url,
            model,
            api_key.clone(),
        )),
    };
    Ok(provider)
}

/// The one reqwest client. The whole-call deadline is enforced by the caller (one timeout per
/// call, streaming included); the client only bounds connecting.
///
/// Redirects are never followed: a 3xx from the configured base URL would otherwise resend the
/// prompt (patient data) and, for a same-host redirect, the API key to wherever it points. A
/// redirect is an unusable answer (502) instead.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .pool_idle_timeout(POOL_IDLE)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dental-assistant-ai/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// How long an idle pooled connection to the model server is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// Largest error body read from an upstream (bodies are classified, never passed on).
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// Largest unary success body accepted. A 2,048-token answer is a few tens of kilobytes of JSON.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Retry-After sent when the upstream gives no delay.
const DEFAULT_RETRY_AFTER: u64 = 30;

/// Classifies a transport failure.
pub(crate) fn transport_error(err: &reqwest::Error) -> UpstreamError {
    if err.is_timeout() {
        UpstreamError::Timeout
    } else if err.is_connect() {
        UpstreamError::Unavailable("cannot connect to the model server".to_owned())
    } else if err.is_decode() || err.is_body() {
        UpstreamError::bad("model response body was cut off or unreadable")
    } else {
        UpstreamError::Unavailable("model request failed before a response".to_owned())
    }
}

/// Reads a body up to `limit` bytes. A declared or actual length above the limit ends the read
/// at once (the connection is dropped, not drained), so a hostile upstream cannot make the
/// service buffer more than `limit`.
pub(crate) async fn read_body(response: reqwest::Response, limit: usize) -> Result<Vec<u8>, UpstreamError> {
    use futures::StreamExt;
    let declared = response.content_length();
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(UpstreamError::bad("model response body too large (declared length)"));
    }
    let capacity = declared.map_or(0, |length| usize::try_from(length).unwrap_or(limit).min(limit));
    let mut body = Vec::with_capacity(capacity);
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        let piece = piece.map_err(|err| transport_error(&err))?;
        if body.len() + piece.len() > limit {
            return Err(UpstreamError::bad("model response body too large"));
        }
        body.extend_from_slice(&piece);
    }
    Ok(body)
}

/// Reads and parses a 2xx unary JSON body.
pub(crate) async fn read_json(response: reqwest::Response) -> Result<Value, UpstreamError> {
    let body = read_body(response, BODY_LIMIT).await?;
    serde_json::from_slice(&body).map_err(|_| UpstreamError::bad("model response is not JSON"))
}

/// What an error body says, read leniently from every known shape (Gemini canonical and
/// list-wrapped, OpenAI, llama.cpp, vLLM nested and flat, Ollama string).
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ErrorInfo {
    pub code: Option<i64>,
    pub status: Option<String>,
    pub kind: Option<String>,
    /// A string `code` (OpenAI: `rate_limit_exceeded`, `insufficient_quota`, ...).
    pub code_text: Option<String>,
    pub message: Option<String>,
    pub retry_delay_secs: Option<u64>,
    /// The body was a JSON error object written by the model server itself (not an HTML page,
    /// plain text or nothing, which is what a proxy in front of it writes).
    pub from_json: bool,
}

impl ErrorInfo {
    /// Reads an error object from a body, or `None` when the body holds none.
    pub(crate) fn from_value(value: &Value) -> Option<Self> {
        let value = match value {
            Value::Array(items) if items.len() == 1 => &items[0],
            other => other,
        };
        let object = value.as_object()?;
        match object.get("error") {
            Some(Value::Object(error)) => {
                let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_owned);
                let code = error
                    .get("code")
                    .and_then(|code| code.as_i64().or_else(|| code.as_str().and_then(|s| s.parse().ok())));
                let code_text = error.get("code").and_then(Value::as_str).map(str::to_owned);
                let message = text("message");
                let retry_delay_secs = retry_delay_from_details(error.get("details"))
                    .or_else(|| message.as_deref().and_then(retry_delay_from_message));
                Some(Self {
                    code,
                    status: text("status"),
                    kind: text("type"),
                    code_text,
                    message,
                    retry_delay_secs,
                    from_json: true,
                })
            }
            Some(Value::String(message)) => Some(Self {
                message: Some(message.clone()),
                from_json: true,
                ..Self::default()
            }),
            Some(other) if !other.is_null() && other != &Value::Bool(false) => Some(Self {
                from_json: true,
                ..Self::default()
            }),
            _ if object.get("object").and_then(Value::as_str) == Some("error") => Some(Self {
                code: object.get("code").and_then(Value::as_i64),
                kind: object.get("type").and_then(Value::as_str).map(str::to_owned),
                message: object.get("message").and_then(Value::as_str).map(str::to_owned),
                from_json: true,
                ..Self::default()
            }),
            _ => None,
        }
    }

    /// A short, single-line excerpt of the upstream message for the log.
    pub(crate) fn log_excerpt(&self) -> String {
        let message: String = self
            .message
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(160)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!(
            "code={} status={} type={} message={message:?}",
            self.code.map_or_else(|| "-".to_owned(), |c| c.to_string()),
            self.status.as_deref().unwrap_or("-"),
            self.kind.as_deref().unwrap_or("-"),
        )
    }
}

/// `details[@type=...RetryInfo].retryDelay` ("26s", "1.2036s").
fn retry_delay_from_details(details: Option<&Value>) -> Option<u64> {
    details?.as_array()?.iter().find_map(|detail| {
        let kind = detail.get("@type")?.as_str()?;
        if !kind.ends_with("RetryInfo") {
            return None;
        }
        parse_seconds(detail.get("retryDelay")?.as_str()?)
    })
}

/// "... Please retry in 53.016342224s."
fn retry_delay_from_message(message: &str) -> Option<u64> {
    let lower = message.to_ascii_lowercase();
    let start = lower.find("retry in ")? + "retry in ".len();
    let rest = &lower[start..];
    let end = rest.find('s')?;
    parse_seconds(&rest[..=end])
}

/// "12s", "1.5s", "12" -> whole seconds rounded up.
fn parse_seconds(text: &str) -> Option<u64> {
    let number: f64 = text.trim().trim_end_matches('s').trim().parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(number.ceil().min(86_400.0) as u64)
}

/// `retry-after-ms`, then `retry-after` (seconds; an HTTP date is not worth parsing here).
fn retry_after_from_headers(headers: &HeaderMap) -> Option<u64> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Some((ms / 1000.0).ceil() as u64);
    }
    text("retry-after").and_then(parse_seconds)
}

fn clamp_retry(secs: Option<u64>) -> u64 {
    secs.unwrap_or(DEFAULT_RETRY_AFTER).clamp(1, 3600)
}

/// Maps an upstream error (HTTP status or in-band code/status) to the contract's outcomes.
///
/// Overloaded / unavailable (503) is what the model server itself says: HTTP 503, or its JSON
/// error naming `UNAVAILABLE`, `unavailable_error`, "overloaded" or "Loading model". A 502 or 504
/// with an HTML, plain-text or empty body comes from a proxy in front of the server and says
/// nothing about the model's load: it is a bad gateway (502), like any other unusable answer.
pub(crate) fn classify(
    http_status: Option<StatusCode>,
    info: &ErrorInfo,
    headers: Option<&HeaderMap>,
) -> UpstreamError {
    let status_text = info.status.as_deref().unwrap_or("").to_ascii_uppercase();
    let kind = info.kind.as_deref().unwrap_or("").to_ascii_lowercase();
    let code_text = info.code_text.as_deref().unwrap_or("").to_ascii_lowercase();
    let kind_is = |name: &str| kind == name || code_text == name;
    let code = http_status.map(|s| i64::from(s.as_u16())).or(info.code).unwrap_or(0);
    let reason = info.log_excerpt();
    let message = info.message.as_deref().unwrap_or("").to_ascii_lowercase();
    if kind_is("insufficient_quota") || code == 402 {
        return UpstreamError::bad(format!("quota exhausted or billing problem ({reason})"));
    }
    if code == 429 || status_text == "RESOURCE_EXHAUSTED" || kind_is("rate_limit_exceeded") {
        let delay = headers.and_then(retry_after_from_headers).or(info.retry_delay_secs);
        return UpstreamError::RateLimited {
            retry_after_secs: clamp_retry(delay),
        };
    }
    if http_status.is_some() && !info.from_json && matches!(code, 502 | 504) {
        return UpstreamError::bad(format!("a proxy answered {code} without a model error body ({reason})"));
    }
    if (300..400).contains(&code) {
        return UpstreamError::bad(format!("redirect {code} refused (redirects are never followed)"));
    }
    if code == 504 || code == 408 || status_text == "DEADLINE_EXCEEDED" {
        return UpstreamError::Timeout;
    }
    if code == 503
        || status_text == "UNAVAILABLE"
        || kind_is("unavailable_error")
        || message.contains("overloaded")
        || message.contains("loading model")
    {
        return UpstreamError::Unavailable(reason);
    }
    UpstreamError::BadGateway(reason)
}

/// Turns a non-2xx response into an error, reading (never forwarding) its body.
pub(crate) async fn error_from_response(response: reqwest::Response) -> UpstreamError {
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body(response, ERROR_BODY_LIMIT).await.unwrap_or_default();
    let info = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| ErrorInfo::from_value(&value))
        .unwrap_or_else(|| ErrorInfo {
            message: Some(if body.is_empty() {
                "empty body".to_owned()
            } else {
                "non-JSON body".to_owned()
            }),
            ..ErrorInfo::default()
        });
    let err = classify(Some(status), &info, Some(&headers));
    tracing::warn!(http_status = status.as_u16(), outcome = err.code(), upstream = %info.log_excerpt(), "model call failed");
    err
}

/// Rough token estimate: about four tokens per three words (used when a provider reports none,
/// and by the offline provider).
pub fn estimate_tokens(text: &str) -> u32 {
    let words = text.split_whitespace().count();
    u32::try_from(words.saturating_mul(4).div_ceil(3)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_error_shape() {
        let gemini = json!({"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26.2s"}]}});
        let info = ErrorInfo::from_value(&gemini).unwrap();
        assert_eq!(info.retry_delay_secs, Some(27));
        let wrapped = json!([{"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}]);
        assert_eq!(ErrorInfo::from_value(&wrapped).unwrap().code, Some(400));
        let flat = json!({"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "code": 404});
        assert_eq!(ErrorInfo::from_value(&flat).unwrap().code, Some(404));
        let ollama = json!({"error": "model 'x' not found"});
        assert!(
            ErrorInfo::from_value(&ollama)
                .unwrap()
                .message
                .unwrap()
                .contains("not found")
        );
        let openai = json!({"error": {"message": "quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}});
        assert_eq!(
            ErrorInfo::from_value(&openai).unwrap().code_text.as_deref(),
            Some("insufficient_quota")
        );
        assert!(ErrorInfo::from_value(&json!({"choices": []})).is_none());
        assert!(ErrorInfo::from_value(&json!({"error": null})).is_none());
    }

    #[test]
    fn retry_delay_comes_from_the_message_too() {
        assert_eq!(
            retry_delay_from_message("Quota exceeded. Please retry in 53.016342224s."),
            Some(54)
        );
        assert_eq!(parse_seconds("12"), Some(12));
        assert_eq!(parse_seconds("-1s"), None);
    }

    #[test]
    fn classification_follows_the_contract() {
        let none = ErrorInfo::default();
        let of = |code: u16| classify(Some(StatusCode::from_u16(code).unwrap()), &none, None);
        assert_eq!(of(429), UpstreamError::RateLimited { retry_after_secs: 30 });
        assert!(matches!(of(503), UpstreamError::Unavailable(_)));
        assert_eq!(of(408), UpstreamError::Timeout);
        // A proxy's page (no JSON error body) for 502/504 says nothing about the model.
        for code in [301, 307, 400, 401, 403, 404, 500, 502, 504] {
            assert!(matches!(of(code), UpstreamError::BadGateway(_)), "{code}");
        }
        let json = |code: i64, status: &str, message: &str| ErrorInfo {
            code: Some(code),
            status: Some(status.to_owned()),
            message: Some(message.to_owned()),
            from_json: true,
            ..ErrorInfo::default()
        };
        let http = |code: u16| Some(StatusCode::from_u16(code).unwrap());
        assert_eq!(
            classify(http(504), &json(504, "DEADLINE_EXCEEDED", "Deadline exceeded"), None),
            UpstreamError::Timeout
        );
        assert!(matches!(
            classify(http(502), &json(502, "UNAVAILABLE", "The model is overloaded."), None),
            UpstreamError::Unavailable(_)
        ));
        assert!(matches!(
            classify(http(502), &json(502, "", "Bad gateway."), None),
            UpstreamError::BadGateway(_)
        ));
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(
            classify(Some(StatusCode::TOO_MANY_REQUESTS), &none, Some(&headers)),
            UpstreamError::RateLimited { retry_after_secs: 7 }
        );
        let quota = ErrorInfo {
            kind: Some("insufficient_quota".into()),
            ..ErrorInfo::default()
        };
        assert!(matches!(
            classify(Some(StatusCode::TOO_MANY_REQUESTS), &quota, None),
            UpstreamError::BadGateway(_)
        ));
        let midstream = ErrorInfo {
            code: Some(503),
            status: Some("UNAVAILABLE".into()),
            ..ErrorInfo::default()
        };
        assert!(matches!(
            classify(None, &midstream, None),
            UpstreamError::Unavailable(_)
        ));
    }

    #[test]
    fn token_estimate_is_four_thirds_of_words() {
        assert_eq!(estimate_tokens("one two three"), 4);
        assert_eq!(estimate_tokens(""), 0);
    }
}
