//! The HTTP client for the internal AI service: one pooled reqwest client, timeouts on every call,
//! and the AI service's failures mapped to the public error codes.
//!
//! Every read is bounded, so a broken or hostile ai service cannot grow the api: the unary JSON
//! body ([`MAX_BODY_BYTES`]), each line and each event of the stream ([`MAX_SSE_LINE_BYTES`],
//! [`MAX_SSE_EVENT_BYTES`]) and the whole reply ([`MAX_REPLY_CHARS`], enforced here for the
//! unary reply and by the chat relay for the streamed one). Past a cap: 502 `ai_bad_gateway` (an
//! `error` event on a stream), and the connection is dropped.

use std::time::Duration;

use eventsource_stream::{EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use shared::ai::{ChatRequest, ChatResponse, StreamDelta, StreamDone, StreamError};

use crate::config::Config;
use crate::http::error::ApiError;

/// Time allowed for a health probe: uptime monitors want a quick answer, not a hung check.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Margin over AI_TIMEOUT_SECS so the AI service's own timeout (a precise 504) normally fires first.
const TIMEOUT_MARGIN: Duration = Duration::from_secs(2);

/// The longest reply kept: the `chat_messages.content` check of the first migration.
pub const MAX_REPLY_CHARS: usize = 100_000;
/// Largest unary `/v1/chat` body read (a maximal reply in 4-byte characters, JSON-escaped, fits).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Longest line of the ai service's stream (a delta is a few words; `done` is a few hundred bytes).
pub const MAX_SSE_LINE_BYTES: usize = 64 * 1024;
/// Largest event (its lines up to the blank line that ends it).
pub const MAX_SSE_EVENT_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct AiClient {
    http: reqwest::Client,
    base: reqwest::Url,
    auth: String,
    timeout: Duration,
}

/// One event of the AI service's stream.
pub enum AiEvent {
    Delta(String),
    Done(StreamDone),
    Error(StreamError),
}

impl AiClient {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            http,
            base: config.ai_service_url.clone(),
            auth: format!("Bearer {}", config.ai_service_token.expose_secret()),
            timeout: config.ai_timeout + TIMEOUT_MARGIN,
        })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        url
    }

    /// `Ok` when the AI service answers its health route; otherwise a short reason for the health body.
    pub async fn health(&self) -> Result<(), &'static str> {
        match self.http.get(self.url("/health")).timeout(HEALTH_TIMEOUT).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(_) => Err("unhealthy"),
            Err(e) if e.is_timeout() => Err("timeout"),
            Err(_) => Err("unreachable"),
        }
    }

    #[tracing::instrument(name = "ai.chat", skip_all)]
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, ApiError> {
        let response = self
            .http
            .post(self.url("/v1/chat"))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .json(request)
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, response.headers()));
        }
        let body = read_capped(response, MAX_BODY_BYTES).await?;
        let reply = serde_json::from_slice::<ChatResponse>(&body).map_err(|e| {
            tracing::warn!(error = %e, "ai service sent an unreadable chat response");
            bad_gateway()
        })?;
        if reply.reply.chars().count() > MAX_REPLY_CHARS {
            tracing::warn!(limit = MAX_REPLY_CHARS, "ai service sent a reply over the length limit");
            return Err(too_long());
        }
        Ok(reply)
    }

    /// Triage alone (`/v1/triage`, no model call): whether a message past the chat budget still gets
    /// its first aid. Bounded like every call; any failure is an `Err` the caller treats as "not flagged".
    #[tracing::instrument(name = "ai.triage", skip_all)]
    pub async fn triage(&self, message: &str) -> Result<shared::ai::Triage, ApiError> {
        let response = self
            .http
            .post(self.url("/v1/triage"))
            .header(reqwest::header::AUTHORIZATION, &self.auth)
            .json(&shared::ai::TriageRequest {
                message: message.to_owned(),
            })
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, response.headers()));
        }
        let body = read_capped(response, MAX_BODY_BYTES).await?;
        serde_json::from_slice(&body).map_err(|e| {
            tracing::warn!(error = %e, "ai service sent an unreadable triage response");
            bad_gateway()
        })
    }

    /// Opens the AI service's stream. Errors before the first event are returned as `Err`; later ones
    /// arrive as an [`AiEvent::Error`] item. The whole stream is bounded by the call timeout.
    #[tracing::instrument(name = "ai.chat_stream", skip_all)]
    pub async fn chat_stream(
        &self,
        request: &ChatRequest,
    ) -> Result<impl Stream<Item = AiEvent> + Send + 'static + use<>, ApiError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let response = tokio::time::timeout_at(
            deadline,
            self.http
                .post(self.url("/v1/chat/stream"))
                .header(reqwest::header::AUTHORIZATION, &self.auth)
                .header(reqwest::header::ACCEPT, "text/event-stream")
                .json(request)
                .send(),
        )
        .await
        .map_err(|_| timeout_error())?
        .map_err(|e| transport_error(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(status_error(status, response.headers()));
        }
        let mut bounds = SseBounds::default();
        let bytes = response.bytes_stream().map(move |chunk| match chunk {
            Ok(chunk) => bounds.feed(&chunk).map(|()| chunk),
            Err(e) => Err(StreamReadError::Transport(e)),
        });
        let events = bytes.eventsource();
        let stream = futures::stream::unfold((Box::pin(events), false), move |(mut events, finished)| async move {
            if finished {
                return None;
            }
            let next = tokio::time::timeout_at(deadline, events.next()).await;
            let item = match next {
                Err(_) => AiEvent::Error(StreamError {
                    code: "ai_timeout".into(),
                    detail: "The AI service did not finish in time.".into(),
                }),
                Ok(None) => AiEvent::Error(StreamError {
                    code: "ai_bad_gateway".into(),
                    detail: "The AI service ended the stream early.".into(),
                }),
                Ok(Some(Err(EventStreamError::Transport(StreamReadError::Oversized(what))))) => {
                    tracing::warn!(what, "ai service stream over its size limit; dropped");
                    AiEvent::Error(StreamError {
                        code: "ai_bad_gateway".into(),
                        detail: "The AI service sent an oversized event.".into(),
                    })
                }
                Ok(Some(Err(_))) => AiEvent::Error(StreamError {
                    code: "ai_bad_gateway".into(),
                    detail: "The AI service's stream broke off.".into(),
                }),
                Ok(Some(Ok(event))) => match parse_event(&event.event, &event.data) {
                    Some(item) => item,
                    // Unknown event types are ignored, as SSE clients should.
                    None => return Some((None, (events, false))),
                },
            };
            let finished = !matches!(item, AiEvent::Delta(_));
            Some((Some(item), (events, finished)))
        })
        .filter_map(futures::future::ready);
        Ok(stream)
    }
}

/// Why reading the ai service's stream stopped.
#[derive(Debug, thiserror::Error)]
enum StreamReadError {
    #[error("transport: {0}")]
    Transport(reqwest::Error),
    /// A line or an event passed its cap (`"line"` or `"event"`).
    #[error("oversized {0}")]
    Oversized(&'static str),
}

/// Counts the bytes of the current SSE line and event as chunks pass, so the parser behind never
/// buffers more than the caps. `\r` is not counted (so `\r\n` ends a line like `\n`); a stream
/// that ends lines with a lone `\r` reads as one long line and is refused, which the ai service
/// (axum's SSE, `\n` only) never sends.
#[derive(Default)]
struct SseBounds {
    line: usize,
    event: usize,
}

impl SseBounds {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), StreamReadError> {
        for &byte in chunk {
            match byte {
                b'\n' => {
                    if self.line == 0 {
                        // A blank line ends the event.
                        self.event = 0;
                    }
                    self.line = 0;
                }
                b'\r' => {}
                _ => {
                    self.line += 1;
                    self.event += 1;
                    if self.line > MAX_SSE_LINE_BYTES {
                        return Err(StreamReadError::Oversized("line"));
                    }
                    if self.event > MAX_SSE_EVENT_BYTES {
                        return Err(StreamReadError::Oversized("event"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The body, refused past `cap` bytes (by its `Content-Length` before reading, or while reading).
async fn read_capped(mut response: reqwest::Response, cap: usize) -> Result<Vec<u8>, ApiError> {
    let over = || {
        tracing::warn!(cap, "ai service response over its size limit; dropped");
        bad_gateway()
    };
    if response
        .content_length()
        .is_some_and(|n| n > u64::try_from(cap).unwrap_or(u64::MAX))
    {
        return Err(over());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    return Err(over());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(timeout_error()),
            Err(e) => {
                tracing::warn!(error = %e, "ai service chat response broke off");
                return Err(bad_gateway());
            }
        }
    }
}

fn parse_event(event: &str, data: &str) -> Option<AiEvent> {
    let malformed = || {
        AiEvent::Error(StreamError {
            code: "ai_bad_gateway".into(),
            detail: "The AI service sent an unreadable event.".into(),
        })
    };
    Some(match event {
        "delta" => serde_json::from_str::<StreamDelta>(data).map_or_else(|_| malformed(), |d| AiEvent::Delta(d.text)),
        "done" => serde_json::from_str::<StreamDone>(data).map_or_else(|_| malformed(), AiEvent::Done),
        "error" => serde_json::from_str::<StreamError>(data).map_or_else(|_| malformed(), AiEvent::Error),
        _ => return None,
    })
}

fn timeout_error() -> ApiError {
    ApiError::Upstream {
        status: StatusCode::GATEWAY_TIMEOUT,
        code: "ai_timeout",
        detail: "The AI assistant did not answer in time. Your message is saved; retry the reply later.",
        retry_after: None,
    }
}

fn bad_gateway() -> ApiError {
    ApiError::Upstream {
        status: StatusCode::BAD_GATEWAY,
        code: "ai_bad_gateway",
        detail: "The AI assistant gave an invalid answer. Your message is saved; retry the reply later.",
        retry_after: None,
    }
}

/// The reply passed [`MAX_REPLY_CHARS`].
pub fn too_long() -> ApiError {
    ApiError::Upstream {
        status: StatusCode::BAD_GATEWAY,
        code: "ai_bad_gateway",
        detail: "The AI assistant's reply was too long to keep. Your message is saved; retry the reply later.",
        retry_after: None,
    }
}

fn unavailable() -> ApiError {
    ApiError::Upstream {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "ai_unavailable",
        detail: "The AI assistant is unavailable right now. Your message is saved; retry the reply later.",
        retry_after: None,
    }
}

fn transport_error(e: &reqwest::Error) -> ApiError {
    if e.is_timeout() {
        timeout_error()
    } else {
        tracing::warn!(error = %e, "ai service unreachable");
        unavailable()
    }
}

/// Maps the AI service's status (itself already mapped from the model's) to the public error.
fn status_error(status: StatusCode, headers: &reqwest::header::HeaderMap) -> ApiError {
    match status {
        StatusCode::TOO_MANY_REQUESTS => ApiError::Upstream {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "ai_rate_limited",
            detail: "The AI model is receiving too many requests. Your message is saved; retry the reply later.",
            retry_after: Some(
                headers
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(Duration::from_secs(30), Duration::from_secs),
            ),
        },
        StatusCode::SERVICE_UNAVAILABLE => unavailable(),
        StatusCode::GATEWAY_TIMEOUT => timeout_error(),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            // Our own shared token was refused: a deployment error, worth an operator's attention.
            tracing::error!(%status, "the ai service refused AI_SERVICE_TOKEN");
            bad_gateway()
        }
        _ => {
            tracing::warn!(%status, "ai service error");
            bad_gateway()
        }
    }
}

/// Error code of the public stream's `error` event for a failure before the stream began.
pub fn stream_error_of(e: &ApiError) -> StreamError {
    let problem = e.to_problem();
    StreamError {
        code: problem.code,
        detail: problem.detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_bounds_pass_ordinary_events_and_refuse_an_endless_line_or_event() {
        let mut bounds = SseBounds::default();
        let event = b"event: delta\ndata: {\"text\":\"hello\"}\n\n";
        for _ in 0..100_000 {
            assert!(bounds.feed(event).is_ok());
        }
        // CRLF line endings are ordinary too.
        assert!(bounds.feed(b"event: delta\r\ndata: {}\r\n\r\n").is_ok());
        let mut bounds = SseBounds::default();
        assert!(bounds.feed(b"event: delta\ndata: ").is_ok());
        let chunk = vec![b'a'; 4096];
        let refused = (0..100).find_map(|_| bounds.feed(&chunk).err());
        assert!(
            matches!(refused, Some(StreamReadError::Oversized("line"))),
            "{refused:?}"
        );
        // Many short lines without the blank line that ends an event.
        let mut bounds = SseBounds::default();
        let refused = (0..100_000).find_map(|_| bounds.feed(b"data: xxxxxxxxxxxxxxxx\n").err());
        assert!(
            matches!(refused, Some(StreamReadError::Oversized("event"))),
            "{refused:?}"
        );
    }
}
