//! `/patients/{id}/messages*` handlers.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use shared::ai::StreamError;
use shared::api::{MessagePage, ReplyResponse, SendMessageRequest, SendMessageResponse, StreamDonePublic};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::ai_client::{AiEvent, stream_error_of};
use crate::auth::AuthUser;
use crate::chat::idempotency::{self, IdempotencyKey, Lookup};
use crate::chat::queries;
use crate::chat::service::{self, Guard};
use crate::chat::types::MessageContent;
use crate::db::{Action, UserTx};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patients/{id}/messages", get(list).post(send))
        .route("/patients/{id}/messages/stream", post(stream))
        .route("/patients/{id}/messages/{message_id}/reply", post(reply))
}

/// Comments sent on long pauses so proxies and browsers keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Return messages older than this message (the previous page's `nextBefore`).
    pub before: Option<Uuid>,
    /// Messages per page, 1-100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// A patient's conversation, oldest first within the page; page backwards with `before`.
#[utoipa::path(operation_id = "listMessages", get, path = "/patients/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"), HistoryQuery),
    responses((status = 200, description = "A page of messages", body = MessagePage), crate::openapi::ParamErrors, crate::openapi::AuthErrors, crate::openapi::CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Path(patient_id): Path<Uuid>,
    Query(query): Query<HistoryQuery>,
) -> ApiResult<Json<MessagePage>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            "out_of_range",
            "limit must be between 1 and 100.",
        ));
    }
    let mut tx = UserTx::begin(&state.db, user.id, Action::MessagesRead, Some(patient_id)).await?;
    let (items, next_before) = queries::page(tx.conn(), user.id, patient_id, query.before, i64::from(limit)).await?;
    if items.is_empty() && !crate::patients::queries::exists(tx.conn(), user.id, patient_id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(Json(MessagePage { items, next_before }))
}

/// Send a message and get the assistant's reply. The message is saved before the AI is called; if the AI fails
/// it stays saved and `.../reply` answers it later. An `Idempotency-Key` makes retries safe for 24 hours.
#[utoipa::path(operation_id = "sendMessage", post, path = "/patients/{id}/messages", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "1-255 visible ASCII characters; the same key and body return the first result")),
    request_body = SendMessageRequest,
    responses((status = 201, description = "Both messages and the triage result", body = SendMessageResponse),
        (status = 404, description = "Unknown, or another user's patient", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`idempotency_in_progress`", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::BodyErrors, crate::openapi::AuthErrors, crate::openapi::AiErrors, crate::openapi::CommonErrors))]
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    Path(patient_id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<SendMessageRequest>,
) -> ApiResult<Response> {
    let content = MessageContent::parse(&body.content)?;
    let key = IdempotencyKey::from_headers(&headers)?;
    let hash = idempotency::request_hash(patient_id, content.as_str());

    if let Some(key) = &key {
        let mut tx = UserTx::begin(&state.db, user.id, Action::MessageSend, Some(patient_id)).await?;
        let found = idempotency::lookup(tx.conn(), user.id, key, &hash).await?;
        tx.commit().await?;
        match found {
            Lookup::Replay(body) => return Ok((StatusCode::CREATED, Json(body)).into_response()),
            Lookup::Pending { user_message_id } => {
                return finish_pending(&state, user, patient_id, user_message_id, key).await;
            }
            Lookup::New => {}
        }
    }

    service::charge(&state, user.id).await?;
    let guard = key.as_ref().map(|key| Guard { key, hash: &hash });
    let saved = service::save_user_message(&state, user.id, patient_id, &content, guard).await?;
    let (assistant_message, triage) =
        service::answer(&state, user.id, patient_id, saved.user_message.id, &saved.request).await?;
    let response = SendMessageResponse {
        user_message: saved.user_message,
        assistant_message,
        emergency: triage.into_emergency(),
    };
    if let Some(key) = &key {
        let body = serde_json::to_value(&response).map_err(anyhow::Error::from)?;
        service::complete_key(&state, user.id, patient_id, key, &body).await?;
    }
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

/// A retry whose first attempt saved the message but got no reply (the AI failed, or it is still in
/// flight): answer that message now, without saving it again.
async fn finish_pending(
    state: &AppState,
    user: AuthUser,
    patient_id: Uuid,
    user_message_id: Uuid,
    key: &IdempotencyKey,
) -> ApiResult<Response> {
    let request = match service::load_unanswered(state, user.id, patient_id, user_message_id).await {
        Err(ApiError::Conflict { .. }) => {
            return Err(ApiError::conflict(
                "idempotency_in_progress",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            ));
        }
        other => other?,
    };
    service::charge(state, user.id).await?;
    let (assistant_message, triage) = service::answer(state, user.id, patient_id, user_message_id, &request).await?;
    let mut tx = UserTx::begin(&state.db, user.id, Action::MessagesRead, Some(patient_id)).await?;
    let user_message = queries::message(tx.conn(), user.id, patient_id, user_message_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let response = SendMessageResponse {
        user_message,
        assistant_message,
        emergency: triage.into_emergency(),
    };
    let body = serde_json::to_value(&response).map_err(anyhow::Error::from)?;
    service::complete_key(state, user.id, patient_id, key, &body).await?;
    Ok((StatusCode::CREATED, Json(response)).into_response())
}

/// Answer a saved user message that has no reply yet (after an AI failure).
#[utoipa::path(operation_id = "replyToMessage", post, path = "/patients/{id}/messages/{messageId}/reply", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"), ("messageId" = Uuid, Path, description = "The user message to answer")),
    request_body(content = Object, description = "`{}`"),
    responses((status = 201, description = "The reply", body = ReplyResponse),
        (status = 404, description = "Unknown message or patient", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`already_answered`", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::BodyErrors, crate::openapi::AuthErrors, crate::openapi::AiErrors, crate::openapi::CommonErrors))]
pub async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    Path((patient_id, message_id)): Path<(Uuid, Uuid)>,
    Json(_body): Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<(StatusCode, Json<ReplyResponse>)> {
    let request = service::load_unanswered(&state, user.id, patient_id, message_id).await?;
    service::charge(&state, user.id).await?;
    let (assistant_message, triage) = service::answer(&state, user.id, patient_id, message_id, &request).await?;
    Ok((
        StatusCode::CREATED,
        Json(ReplyResponse {
            assistant_message,
            emergency: triage.into_emergency(),
        }),
    ))
}

/// Send a message and stream the reply as Server-Sent Events: `event: user` (the saved message, `ChatMessage`), then
/// `event: delta` (`{"text"}`, repeated), then exactly one of `event: done` (`StreamDonePublic`) or `event: error`
/// (`{"code","detail"}`). Comments (`:`) keep the connection alive. The reply is saved even if the client disconnects.
#[utoipa::path(operation_id = "streamMessage", post, path = "/patients/{id}/messages/stream", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    request_body = SendMessageRequest,
    responses((status = 200, description = "An SSE stream of `user`, `delta`..., then `done` or `error` events", content_type = "text/event-stream", body = crate::openapi::ChatStreamEvent),
        (status = 404, description = "Unknown, or another user's patient", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::BodyErrors, crate::openapi::AuthErrors, crate::openapi::CommonErrors))]
pub async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
    Path(patient_id): Path<Uuid>,
    Json(body): Json<SendMessageRequest>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let content = MessageContent::parse(&body.content)?;
    service::charge(&state, user.id).await?;
    let saved = service::save_user_message(&state, user.id, patient_id, &content, None).await?;

    let (events, receiver) = mpsc::channel::<Event>(64);
    let first = Event::default()
        .event("user")
        .json_data(&saved.user_message)
        .map_err(anyhow::Error::from)?;
    // The channel is empty, so this cannot wait.
    let _ = events.try_send(first);
    // The relay runs in a task the request does not own: when the browser goes away mid-stream the
    // reply is still completed and saved. The tracker lets graceful shutdown wait for it.
    state.tasks.spawn(relay(state.clone(), user, patient_id, saved, events));
    let body = ReceiverStream::new(receiver).map(Ok::<_, Infallible>);
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Relays the AI service's deltas as they arrive, then saves the complete reply and sends `done`
/// (or `error`). Sending fails silently once the client has gone; the work continues.
async fn relay(state: AppState, user: AuthUser, patient_id: Uuid, saved: service::Saved, events: mpsc::Sender<Event>) {
    let started = Instant::now();
    let mut reply = String::new();
    let outcome = match state.ai.chat_stream(&saved.request).await {
        Err(e) => Err(stream_error_of(&e)),
        Ok(stream) => {
            let mut stream = std::pin::pin!(stream);
            let mut outcome = Err(StreamError {
                code: "ai_bad_gateway".into(),
                detail: "The AI service ended the stream early.".into(),
            });
            while let Some(event) = stream.next().await {
                match event {
                    AiEvent::Delta(text) => {
                        reply.push_str(&text);
                        if let Ok(e) = Event::default()
                            .event("delta")
                            .json_data(shared::ai::StreamDelta { text })
                        {
                            let _ = events.send(e).await;
                        }
                    }
                    AiEvent::Done(done) => {
                        outcome = Ok(done);
                        break;
                    }
                    AiEvent::Error(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            outcome
        }
    };
    let last = match outcome {
        Ok(done) => {
            match service::save_streamed(
                &state,
                user.id,
                patient_id,
                saved.user_message.id,
                &reply,
                &done,
                started,
            )
            .await
            {
                Ok(assistant_message) => Event::default().event("done").json_data(StreamDonePublic {
                    assistant_message,
                    emergency: done.emergency.into_emergency(),
                }),
                Err(e) => {
                    tracing::error!(error = ?e, "saving a streamed reply failed");
                    Event::default().event("error").json_data(stream_error_of(&e))
                }
            }
        }
        Err(e) => {
            crate::metrics::ai_call("unknown", started.elapsed(), Err(&e.code));
            tracing::warn!(code = %e.code, "chat stream ended with an error; the user's message is kept");
            Event::default().event("error").json_data(e)
        }
    };
    if let Ok(event) = last {
        let _ = events.send(event).await;
    }
}
