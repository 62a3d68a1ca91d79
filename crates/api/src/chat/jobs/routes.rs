//! `GET .../messages/{messageId}/stream` (reattach) and `POST .../messages/{messageId}/stop`, and the SSE
//! form of a job's events that the first `POST .../messages/stream` shares.

use std::convert::Infallible;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt as _};
use shared::ai::{StreamError, Triage};
use shared::api::{ChatMessage, StreamDonePublic};
use uuid::Uuid;

use super::{Sequenced, StopOutcome, StreamEvent, last_event_seq, with_fallback};
use crate::auth::AuthUser;
use crate::chat::queries;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patients/{id}/messages/{message_id}/stream", get(reattach))
        .route("/patients/{id}/messages/{message_id}/stop", post(stop))
}

/// The SSE form of a job's event: `id: <messageId>:<seq>`.
pub fn sse_event(message_id: Uuid, item: Sequenced) -> Option<Event> {
    let event = match item.event {
        StreamEvent::Delta(text) => Event::default()
            .event("delta")
            .json_data(shared::ai::StreamDelta { text }),
        StreamEvent::Done(done) => Event::default().event("done").json_data(done),
        StreamEvent::Error(error) => Event::default().event("error").json_data(error),
    };
    event.ok().map(|event| event.id(format!("{message_id}:{}", item.seq)))
}

/// A job's events as an SSE response body.
pub fn sse_body(
    message_id: Uuid,
    events: impl Stream<Item = Sequenced> + Send + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    events
        .filter_map(move |item| futures::future::ready(sse_event(message_id, item)))
        .map(Ok::<_, Infallible>)
}

/// Where a [`lookup`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadFrom {
    /// The replica when it has the caller's last write (`ClinicTx::begin_read`): a reattach's first look.
    Reads,
    /// The primary: a stop, and every answer that says "no reply saved" (a replica may not have replayed a reply
    /// another member's job saved a moment ago).
    Primary,
}

/// The user message (404 when it is not one of this patient's, for this caller) and its reply if saved.
async fn lookup(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    message_id: Uuid,
    action: Action,
    from: ReadFrom,
) -> ApiResult<Option<ChatMessage>> {
    let mut tx = match from {
        ReadFrom::Reads => {
            ClinicTx::begin_read(&state.reads, &caller, Permission::Chat, action, Some(patient_id)).await?
        }
        ReadFrom::Primary => ClinicTx::begin(&state.db, &caller, Permission::Chat, action, Some(patient_id)).await?,
    };
    let clinic = tx.clinic_id;
    if queries::user_message(tx.conn(), clinic, patient_id, message_id)
        .await?
        .is_none()
    {
        return Err(tx.not_found().await);
    }
    let reply = queries::reply_to(tx.conn(), clinic, patient_id, message_id).await?;
    tx.commit().await?;
    Ok(reply)
}

/// The `done` of a saved reply, numbered after anything the client has seen.
fn saved_done(reply: ChatMessage, after: u64) -> Sequenced {
    let seq = reply
        .metadata
        .get("streamSeq")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
        .max(after + 1);
    let emergency = reply
        .metadata
        .get("emergency")
        .and_then(|e| serde_json::from_value::<Triage>(e.clone()).ok())
        .and_then(Triage::into_emergency);
    Sequenced {
        seq,
        event: StreamEvent::Done(Box::new(StreamDonePublic {
            assistant_message: reply,
            emergency,
        })),
    }
}

fn not_generating() -> ApiError {
    ApiError::conflict(
        "not_generating",
        "No reply is being generated for this message; ask for one with .../reply.",
    )
}

/// Reattach to a reply: the deltas after `Last-Event-ID` (all of them without it), then live, then `done`
/// or `error`. A saved reply answers its `done` at once. Every event has an `id:` `<messageId>:<n>`.
#[utoipa::path(operation_id = "reattachStream", get, path = "/patients/{id}/messages/{messageId}/stream", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"), ("messageId" = Uuid, Path, description = "The user message whose reply to follow"),
        ("Last-Event-ID" = Option<String>, Header, description = "The last event seen, `<messageId>:<n>`: replay starts after it")),
    responses((status = 200, description = "An SSE stream of `delta`..., then `done` or `error` events", content_type = "text/event-stream", body = crate::http::openapi::ChatStreamEvent),
        (status = 404, description = "Unknown message or patient", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`not_generating`: no reply saved and none being generated (ask `.../reply`)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn reattach(
    State(state): State<AppState>,
    user: AuthUser,
    Path((patient_id, message_id)): Path<(Uuid, Uuid)>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let after = last_event_seq(last_event_id, message_id);
    let saved = lookup(
        &state,
        user,
        patient_id,
        message_id,
        Action::MessagesRead,
        ReadFrom::Reads,
    )
    .await?;
    let events: BoxStream<'static, Sequenced> = if let Some(reply) = saved {
        futures::stream::iter([saved_done(reply, after)]).boxed()
    } else {
        let live = match state.jobs.follow(message_id, after).await {
            Some(live) => live,
            // No job: the replica may not have the reply yet; the primary decides between `done` and 409.
            None => match lookup(
                &state,
                user,
                patient_id,
                message_id,
                Action::MessagesRead,
                ReadFrom::Primary,
            )
            .await?
            {
                Some(reply) => futures::stream::iter([saved_done(reply, after)]).boxed(),
                None => return Err(not_generating()),
            },
        };
        // A job lost on another instance (or Redis lost): whatever the database holds ends the stream.
        with_fallback(live, after, move |last| async move {
            match lookup(
                &state,
                user,
                patient_id,
                message_id,
                Action::MessagesRead,
                ReadFrom::Primary,
            )
            .await
            {
                Ok(Some(reply)) => Some(saved_done(reply, last)),
                Ok(None) | Err(_) => Some(Sequenced {
                    seq: last + 1,
                    event: StreamEvent::Error(StreamError {
                        code: "stream_lost".into(),
                        detail: "The reply stopped being generated; your message is saved, ask for the reply again."
                            .into(),
                    }),
                }),
            }
        })
        .boxed()
    };
    Ok(Sse::new(sse_body(message_id, events)).keep_alive(KeepAlive::new().interval(super::super::routes::KEEP_ALIVE)))
}

/// Stop a reply being generated: the model call is cancelled (on whichever instance runs it), the partial
/// reply saved with `metadata.status = "stopped"`, and every open stream of it ends with `done`. A reply
/// already saved is 409 `already_answered`; a message with no reply being generated is 409 `not_generating`.
#[utoipa::path(operation_id = "stopReply", post, path = "/patients/{id}/messages/{messageId}/stop", tag = "chat", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"), ("messageId" = Uuid, Path, description = "The user message whose reply to stop")),
    request_body(content = Object, description = "`{}`"),
    responses((status = 202, description = "The stop was sent; the open streams end with the stopped reply's `done`"),
        (status = 404, description = "Unknown message or patient", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`already_answered` or `not_generating`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn stop(
    State(state): State<AppState>,
    user: AuthUser,
    Path((patient_id, message_id)): Path<(Uuid, Uuid)>,
    Json(_body): Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<StatusCode> {
    if lookup(
        &state,
        user,
        patient_id,
        message_id,
        Action::MessageReply,
        ReadFrom::Primary,
    )
    .await?
    .is_some()
    {
        return Err(ApiError::conflict(
            "already_answered",
            "This message already has a reply.",
        ));
    }
    match state.jobs.stop(message_id).await {
        StopOutcome::Stopping => Ok(StatusCode::ACCEPTED),
        StopOutcome::NotRunning => Err(not_generating()),
    }
}
