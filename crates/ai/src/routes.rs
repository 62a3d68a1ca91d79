//! HTTP routes, authentication and the request log; request ids, the JSON extractor's rejections and
//! panics are handled by `plumbing`, as in the api.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::{Stream, StreamExt};
use plumbing::request_id::RequestId;
use serde::Deserialize;
use shared::FieldError;
use shared::ai::{
    AiHealth, ChatRequest, ChatResponse, HistoryTurn, PatientContext, StreamDelta, StreamDone, StreamError, Triage,
    TriageRequest, TurnRole, Usage,
};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::AppError;
use crate::marker::{self, MarkerFilter};
use crate::prompt::Prompt;
use crate::providers::offline::word_groups;
use crate::providers::{ChunkStream, StreamChunk, UpstreamError};
use crate::redact::{Redactor, Restorer, StreamRestorer};
use crate::state::AppState;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Longest accepted message, in characters (the api allows 4,000; this is a defensive bound).
pub const MESSAGE_LIMIT: usize = 16_000;
const NAME_LIMIT: usize = 1_000;
const NOTES_LIMIT: usize = 100_000;
const HISTORY_LIMIT: usize = 1_000;
/// Longest email, phone or date of birth accepted (an email address is at most 320 characters).
const IDENTIFIER_LIMIT: usize = 320;
/// `model` reported for triage answers (no model was called).
pub const TRIAGE_MODEL: &str = "triage";
/// `finishReason` of triage answers.
pub const TRIAGE_FINISH: &str = "triage";

/// Builds the service's router.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/triage", post(triage))
        .route("/v1/chat", post(chat))
        .route("/v1/chat/stream", post(chat_stream))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(plumbing::panic::layer())
        .layer(middleware::from_fn(request_log))
        .layer(middleware::from_fn(plumbing::request_id::middleware))
        .with_state(state)
}

/// The JSON body extractor shared with the api (one set of rejection codes), rejecting into [`AppError`].
#[derive(FromRequest)]
#[from_request(via(plumbing::json::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

/// Tracing span and request log line; the request id comes from the request-id middleware.
async fn request_log(req: Request, next: Next) -> Response {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map_or_else(String::new, |id| id.0.clone());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().clone();
    let span = tracing::info_span!("request", %method, %route, request_id = %id);
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "request finished"
        );
    });
    response
}

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match presented {
        Some(token) if state.token_matches(token) => next.run(req).await,
        _ => AppError::Unauthorized.into_response(),
    }
}

async fn health(State(state): State<AppState>) -> Json<AiHealth> {
    Json(AiHealth {
        status: "ok".to_owned(),
        provider: state.provider().name().to_owned(),
    })
}

fn check_message(field: &str, message: &str, errors: &mut Vec<FieldError>) {
    if message.trim().is_empty() {
        errors.push(FieldError::new(field, "required", "must not be empty"));
    } else if message.chars().count() > MESSAGE_LIMIT {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("must be at most {MESSAGE_LIMIT} characters"),
        ));
    }
}

#[tracing::instrument(skip_all)]
async fn triage(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TriageRequest>,
) -> Result<Json<Triage>, AppError> {
    let mut errors = Vec::new();
    check_message("message", &body.message, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Json(state.triage(&body.message).triage))
}

/// The chat body as received: unknown fields are rejected.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatBody {
    patient: PatientBody,
    #[serde(default)]
    history: Vec<HistoryBody>,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PatientBody {
    name: String,
    #[serde(default)]
    medical_notes: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    date_of_birth: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HistoryBody {
    role: TurnRole,
    content: String,
}

impl TryFrom<ChatBody> for ChatRequest {
    type Error = AppError;

    fn try_from(body: ChatBody) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        check_message("message", &body.message, &mut errors);
        if body.patient.name.chars().count() > NAME_LIMIT {
            errors.push(FieldError::new(
                "patient.name",
                "too_long",
                format!("must be at most {NAME_LIMIT} characters"),
            ));
        }
        if body
            .patient
            .medical_notes
            .as_ref()
            .is_some_and(|notes| notes.chars().count() > NOTES_LIMIT)
        {
            errors.push(FieldError::new(
                "patient.medicalNotes",
                "too_long",
                format!("must be at most {NOTES_LIMIT} characters"),
            ));
        }
        for (field, value) in [
            ("patient.email", &body.patient.email),
            ("patient.phone", &body.patient.phone),
            ("patient.dateOfBirth", &body.patient.date_of_birth),
        ] {
            if value
                .as_ref()
                .is_some_and(|value| value.chars().count() > IDENTIFIER_LIMIT)
            {
                errors.push(FieldError::new(
                    field,
                    "too_long",
                    format!("must be at most {IDENTIFIER_LIMIT} characters"),
                ));
            }
        }
        if body.history.len() > HISTORY_LIMIT {
            errors.push(FieldError::new(
                "history",
                "too_many",
                format!("at most {HISTORY_LIMIT} turns"),
            ));
        }
        for (index, turn) in body.history.iter().enumerate() {
            if turn.content.chars().count() > MESSAGE_LIMIT {
                errors.push(FieldError::new(
                    format!("history[{index}].content"),
                    "too_long",
                    format!("must be at most {MESSAGE_LIMIT} characters"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(Self {
            patient: PatientContext {
                name: body.patient.name,
                medical_notes: body.patient.medical_notes,
                email: body.patient.email,
                phone: body.patient.phone,
                date_of_birth: body.patient.date_of_birth,
            },
            history: body
                .history
                .into_iter()
                .map(|turn| HistoryTurn {
                    role: turn.role,
                    content: turn.content,
                })
                .collect(),
            message: body.message,
        })
    }
}

/// The prompt for a request and, when the service redacts, what restores the reply.
fn prepare(state: &AppState, request: &ChatRequest) -> (Prompt, Option<Restorer>) {
    match state.redaction() {
        Some(detectors) => {
            let mut redactor = Redactor::new(detectors.clone(), &request.patient);
            let redacted = redactor.redact_request(request);
            let [names, emails, phones, dates] = redactor.counts();
            tracing::debug!(names, emails, phones, dates, "prompt redacted");
            (
                Prompt::build(&redacted).with_placeholders(),
                Some(redactor.into_restorer()),
            )
        }
        None => (Prompt::build(request), None),
    }
}

/// The `emergency` of a model reply: the model's marker when it wrote one, else triage's answer
/// (nothing urgent, in the message's language).
fn reply_emergency(marked: Option<&'static marker::Category>, triage: Triage) -> Triage {
    match marked {
        Some(category) => {
            tracing::info!(
                category = category.category,
                severity = ?category.severity,
                "the model marked the message as urgent"
            );
            marker::triage(category, triage.language)
        }
        None => triage,
    }
}

/// A reply that was nothing but the marker has no text for the patient.
fn only_marker() -> UpstreamError {
    UpstreamError::bad("the reply held only the urgency marker")
}

#[tracing::instrument(skip_all)]
async fn chat(State(state): State<AppState>, ApiJson(body): ApiJson<ChatBody>) -> Result<Json<ChatResponse>, AppError> {
    let request = ChatRequest::try_from(body)?;
    let provider = state.provider();
    let triage = state.triage(&request.message);
    if let Some(first_aid) = triage.first_aid {
        return Ok(Json(ChatResponse {
            reply: first_aid.to_owned(),
            provider: provider.name().to_owned(),
            model: TRIAGE_MODEL.to_owned(),
            emergency: triage.triage,
            usage: Usage::default(),
            finish_reason: TRIAGE_FINISH.to_owned(),
        }));
    }
    let (prompt, restorer) = prepare(&state, &request);
    let started = Instant::now();
    let outcome = tokio::time::timeout(state.timeout(), provider.complete(&prompt))
        .await
        .unwrap_or(Err(UpstreamError::Timeout));
    state.record_call(
        started.elapsed(),
        outcome.as_ref().map(|c| c.usage).map_err(UpstreamError::code),
    );
    let completion = outcome?;
    let (marked, text) = marker::strip(&completion.text);
    if text.trim().is_empty() {
        return Err(only_marker().into());
    }
    let reply = restorer.map_or_else(|| text.to_owned(), |restorer| restorer.restore(text));
    Ok(Json(ChatResponse {
        reply,
        provider: provider.name().to_owned(),
        model: provider.model().to_owned(),
        emergency: reply_emergency(marked, triage.triage),
        usage: completion.usage,
        finish_reason: completion.finish_reason,
    }))
}

fn json_event(name: &'static str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .data(serde_json::to_string(data).unwrap_or_else(|_| "{}".to_owned()))
}

fn sse_response<S>(events: S) -> Response
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}

#[tracing::instrument(skip_all)]
async fn chat_stream(State(state): State<AppState>, ApiJson(body): ApiJson<ChatBody>) -> Result<Response, AppError> {
    let request = ChatRequest::try_from(body)?;
    let provider = state.provider();
    let triage = state.triage(&request.message);
    if let Some(first_aid) = triage.first_aid {
        let done = StreamDone {
            provider: provider.name().to_owned(),
            model: TRIAGE_MODEL.to_owned(),
            emergency: triage.triage,
            usage: Usage::default(),
            finish_reason: TRIAGE_FINISH.to_owned(),
        };
        let events: Vec<Result<Event, Infallible>> = word_groups(first_aid, 6)
            .into_iter()
            .map(|text| Ok(json_event("delta", &StreamDelta { text })))
            .chain(std::iter::once(Ok(json_event("done", &done))))
            .collect();
        return Ok(sse_response(futures::stream::iter(events)));
    }
    let (prompt, restorer) = prepare(&state, &request);
    let started = Instant::now();
    let deadline = started + state.timeout();
    let chunks = match tokio::time::timeout_at(deadline, provider.stream(&prompt)).await {
        Ok(Ok(chunks)) => chunks,
        Ok(Err(err)) => {
            state.record_call(started.elapsed(), Err(err.code()));
            return Err(err.into());
        }
        Err(_) => {
            state.record_call(started.elapsed(), Err(UpstreamError::Timeout.code()));
            return Err(UpstreamError::Timeout.into());
        }
    };
    let relay = Relay {
        chunks,
        deadline,
        started,
        state: state.clone(),
        finished: false,
        provider: provider.name(),
        model: provider.model().to_owned(),
        marker: MarkerFilter::new(),
        restorer: restorer.map(Restorer::streaming),
        triage: triage.triage,
        sent_text: false,
        pending: VecDeque::new(),
    };
    let span = tracing::Span::current();
    let events = futures::stream::unfold(relay, move |mut relay| {
        async move {
            let event = relay.next_event().await?;
            Some((Ok::<_, Infallible>(event), relay))
        }
        .instrument(span.clone())
    });
    Ok(sse_response(events))
}

/// Relays provider chunks as SSE events under the whole-call deadline, taking the urgency
/// marker out of the reply and restoring redacted values as they pass. Dropping it (the caller
/// went away) drops the provider stream, which closes the provider connection.
struct Relay {
    chunks: ChunkStream,
    deadline: Instant,
    started: Instant,
    state: AppState,
    finished: bool,
    provider: &'static str,
    model: String,
    marker: MarkerFilter,
    restorer: Option<StreamRestorer>,
    /// Triage's answer for the message (nothing urgent, and its language).
    triage: Triage,
    /// Whether any reply text reached the caller.
    sent_text: bool,
    /// Events decided but not yet sent (held text, then the final event).
    pending: VecDeque<Event>,
}

impl Relay {
    /// Reply text as it may be passed on now.
    fn pass(&mut self, text: &str) -> String {
        let text = self.marker.push(text);
        match &mut self.restorer {
            Some(restorer) => restorer.push(&text),
            None => text,
        }
    }

    /// Whatever the marker filter and the restorer still hold.
    fn flush(&mut self) -> String {
        let tail = self.marker.finish();
        match &mut self.restorer {
            Some(restorer) => {
                let mut out = restorer.push(&tail);
                out.push_str(&restorer.finish());
                out
            }
            None => tail,
        }
    }

    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            let next = tokio::time::timeout_at(self.deadline, self.chunks.next()).await;
            let mut outcome = match next {
                Ok(Some(Ok(StreamChunk::Delta(text)))) => {
                    let text = self.pass(&text);
                    if text.is_empty() {
                        continue;
                    }
                    self.sent_text = true;
                    return Some(json_event("delta", &StreamDelta { text }));
                }
                Ok(Some(Ok(StreamChunk::Done { usage, finish_reason }))) => Ok((usage, finish_reason)),
                Ok(Some(Err(err))) => Err(err),
                Ok(None) => Err(UpstreamError::bad("model stream ended without an outcome")),
                Err(_) => Err(UpstreamError::Timeout),
            };
            self.finished = true;
            // Let go of the provider now (on a timeout this closes its connection).
            self.chunks = futures::stream::empty().boxed();
            let tail = self.flush();
            if !tail.is_empty() {
                self.sent_text = true;
                self.pending.push_back(json_event("delta", &StreamDelta { text: tail }));
            }
            if outcome.is_ok() && !self.sent_text {
                outcome = Err(only_marker());
            }
            self.state.record_call(
                self.started.elapsed(),
                outcome.as_ref().map(|(usage, _)| *usage).map_err(UpstreamError::code),
            );
            let last = match outcome {
                Ok((usage, finish_reason)) => json_event(
                    "done",
                    &StreamDone {
                        provider: self.provider.to_owned(),
                        model: self.model.clone(),
                        emergency: reply_emergency(self.marker.category(), self.triage.clone()),
                        usage,
                        finish_reason,
                    },
                ),
                Err(err) => {
                    tracing::warn!(code = err.code(), error = %err, "model stream failed after the response started");
                    json_event(
                        "error",
                        &StreamError {
                            code: err.code().to_owned(),
                            detail: err.detail(),
                        },
                    )
                }
            };
            self.pending.push_back(last);
        }
    }
}
