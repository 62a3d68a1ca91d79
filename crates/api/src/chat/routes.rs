//! `/patients/{id}/messages*` handlers: parse, call `chat::service`, shape the response (JSON or SSE).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use shared::api::{MessagePage, ReplyResponse, SendMessageRequest, SendMessageResponse};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::chat::idempotency::IdempotencyKey;
use crate::chat::queries;
use crate::chat::service::{self, Sent};
use crate::chat::types::MessageContent;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patients/{id}/messages", get(list).post(send))
        .route("/patients/{id}/messages/stream", post(stream))
        .route("/patients/{id}/messages/{message_id}/reply", post(reply))
        .merge(crate::chat::jobs::routes::router())
}

/// Comments sent on long pauses so proxies and browsers keep the stream open.
pub(crate) const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
    responses((status = 200, description = "A page of messages", body = MessagePage), crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
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
    let mut tx = ClinicTx::begin_read(
        &state.reads,
        &user,
        Permission::Chat,
        Action::MessagesRead,
        Some(patient_id),
    )
    .await?;
    let clinic = tx.clinic_id;
    let (items, next_before) = queries::page(tx.conn(), clinic, patient_id, query.before, i64::from(limit)).await?;
    if items.is_empty() && !crate::patients::queries::exists(tx.conn(), clinic, patient_id).await? {
        return Err(tx.not_found().await);
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
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::AiErrors, crate::http::openapi::CommonErrors))]
pub async fn send(
    State(state): State<AppState>,
    user: AuthUser,
    Path(patient_id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<SendMessageRequest>,
) -> ApiResult<Response> {
    let content = MessageContent::parse(&body.content)?;
    let key = IdempotencyKey::from_headers(&headers)?;
    Ok(
        match service::send(&state, user, patient_id, &content, key.as_ref()).await? {
            Sent::Replay(body) => (StatusCode::CREATED, Json(body)).into_response(),
            Sent::New(response) => (StatusCode::CREATED, Json(response)).into_response(),
        },
    )
}

/// Answer a saved user message that has no reply yet (after an AI failure).
#[utoipa::path(operation_id = "replyToMessage", post, path = "/patients/{id}/messages/{messageId}/reply", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"), ("messageId" = Uuid, Path, description = "The user message to answer")),
    request_body(content = Object, description = "`{}`"),
    responses((status = 201, description = "The reply", body = ReplyResponse),
        (status = 404, description = "Unknown message or patient", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`already_answered`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::AiErrors, crate::http::openapi::CommonErrors))]
pub async fn reply(
    State(state): State<AppState>,
    user: AuthUser,
    Path((patient_id, message_id)): Path<(Uuid, Uuid)>,
    Json(_body): Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<(StatusCode, Json<ReplyResponse>)> {
    let reply = service::reply(&state, user, patient_id, message_id).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Send a message and stream the reply as Server-Sent Events: `event: user` (the saved message, `ChatMessage`), then
/// `event: delta` (`{"text"}`, repeated), then exactly one of `event: done` (`StreamDonePublic`) or `event: error`
/// (`{"code","detail"}`). Comments (`:`) keep the connection alive. The reply is saved even if the client disconnects.
/// Every event has an `id:` `<messageId>:<n>` (the `user` event is `0`); `GET .../messages/{messageId}/stream`
/// reattaches with `Last-Event-ID`, `POST .../messages/{messageId}/stop` stops the reply.
#[utoipa::path(operation_id = "streamMessage", post, path = "/patients/{id}/messages/stream", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    request_body = SendMessageRequest,
    responses((status = 200, description = "An SSE stream of `user`, `delta`..., then `done` or `error` events", content_type = "text/event-stream", body = crate::http::openapi::ChatStreamEvent),
        (status = 404, description = "Unknown, or another user's patient", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn stream(
    State(state): State<AppState>,
    user: AuthUser,
    Path(patient_id): Path<Uuid>,
    Json(body): Json<SendMessageRequest>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let content = MessageContent::parse(&body.content)?;
    let (user_message, events) = service::stream(&state, user, patient_id, &content).await?;
    let message_id = user_message.id;
    // The `user` event names the message to reattach to and to stop (`id:` `<messageId>:0`, and `messageId`).
    let mut data = serde_json::to_value(&user_message).map_err(anyhow::Error::from)?;
    if let Some(object) = data.as_object_mut() {
        object.insert("messageId".into(), message_id.to_string().into());
    }
    let first = Event::default()
        .event("user")
        .id(format!("{message_id}:0"))
        .json_data(&data)
        .map_err(anyhow::Error::from)?;
    let body = futures::stream::once(futures::future::ready(Ok::<_, Infallible>(first)))
        .chain(crate::chat::jobs::routes::sse_body(message_id, events));
    Ok(Sse::new(body).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
