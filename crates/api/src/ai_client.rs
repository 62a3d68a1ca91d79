//! The HTTP client for the internal AI service: one pooled reqwest client, timeouts on every call,
//! and the AI service's failures mapped to the public error codes.

use std::time::Duration;

use eventsource_stream::Eventsource;
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
        response.json::<ChatResponse>().await.map_err(|e| {
            if e.is_timeout() {
                timeout_error()
            } else {
                tracing::warn!(error = %e, "ai service sent an unreadable chat response");
                bad_gateway()
            }
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
        let events = response.bytes_stream().eventsource();
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
