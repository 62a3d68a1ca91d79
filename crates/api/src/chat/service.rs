//! The chat flow, independent of HTTP: save the user's message (its own committed transaction), ask
//! the AI service, save the reply. A failure in between leaves the user's message saved and
//! answerable later. The streamed variant relays the AI service's deltas as [`StreamEvent`]s, which
//! the route writes as Server-Sent Events.

use std::time::Instant;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use shared::ai::{ChatRequest, ChatResponse, Triage, Usage};
use shared::api::{ChatMessage, ReplyResponse, SendMessageResponse};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::chat::idempotency::{self, IdempotencyKey, Lookup};
use crate::chat::jobs::Sequenced;
use crate::chat::jobs::relay::{self, Answering};
use crate::chat::queries;
use crate::chat::types::MessageContent;
use crate::db::{Action, ClinicTx, Gate, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A saved user message and the request that will answer it.
pub struct Saved {
    pub user_message: ChatMessage,
    pub request: ChatRequest,
}

/// An idempotency key with the hash of the request it guards.
pub struct Guard<'a> {
    pub key: &'a IdempotencyKey,
    pub hash: &'a [u8],
}

/// Counts one chat call against the user's AI budget.
pub async fn charge(state: &AppState, user_id: Uuid) -> ApiResult<()> {
    state
        .limiter
        .hit(&format!("chat:user:{user_id}"), state.config.rate_limits.chat_per_user)
        .await
        .map_err(|retry| ApiError::RateLimited { retry_after: retry.0 })
}

/// Counts a chat call against the budget, except that a message past it which triage flags still goes
/// on: the AI service answers a flagged message with its first aid and calls no model, so the budget,
/// which exists to bound model calls, does not apply (CONTRACT: first aid past the budget). Only when
/// the budget is spent is triage asked; if it cannot answer, the 429 stands.
pub async fn charge_or_first_aid(state: &AppState, user_id: Uuid, message: &str) -> ApiResult<()> {
    match charge(state, user_id).await {
        Err(ApiError::RateLimited { retry_after }) => match state.ai.triage(message).await {
            Ok(triage) if triage.detected => {
                tracing::info!("chat budget spent; a flagged message is answered with its first aid");
                Ok(())
            }
            _ => Err(ApiError::RateLimited { retry_after }),
        },
        other => other,
    }
}

/// Saves the user's message and gathers the AI request (patient context + last messages): one committed call of
/// `chat_send` (`queries::send`), so the message is kept whatever happens to the model call.
pub async fn save_user_message(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    content: &MessageContent,
    guard: Option<Guard<'_>>,
) -> ApiResult<Saved> {
    let gate = Gate::new(&caller, Permission::Chat, Action::MessageSend, Some(patient_id))?;
    let key = guard.map(|g| (g.key.as_str(), g.hash));
    let sent = match queries::send(&state.db, &gate, Uuid::now_v7(), content.as_str(), key).await {
        Ok(Some(sent)) => sent,
        // `chat_send` recorded the attempt as `access.denied`.
        Ok(None) => return Err(ApiError::NotFound),
        Err(queries::SendError::KeyInUse) => {
            return Err(ApiError::conflict(
                "idempotency_in_progress",
                "A request with this Idempotency-Key is still being processed.",
            ));
        }
        Err(queries::SendError::Database(e)) => return Err(gate.refused(&state.db, e).await),
    };
    state.reads.wrote(caller.id).await;
    let request = ChatRequest {
        patient: sent.patient,
        history: sent.history,
        message: content.as_str().to_owned(),
    };
    Ok(Saved {
        user_message: sent.message,
        request,
    })
}

/// Loads a saved, unanswered user message and the request to answer it (`/reply`, idempotent retry).
pub async fn load_unanswered(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    message_id: Uuid,
) -> ApiResult<ChatRequest> {
    let mut tx = ClinicTx::begin(
        &state.db,
        &caller,
        Permission::Chat,
        Action::MessageReply,
        Some(patient_id),
    )
    .await?;
    let clinic = tx.clinic_id;
    let Some(message) = queries::user_message(tx.conn(), clinic, patient_id, message_id).await? else {
        return Err(tx.not_found().await);
    };
    if message.answered {
        return Err(ApiError::conflict(
            "already_answered",
            "This message already has a reply.",
        ));
    }
    let Some((patient, history)) = queries::context(tx.conn(), clinic, patient_id, message_id).await? else {
        return Err(tx.not_found().await);
    };
    tx.commit().await?;
    Ok(ChatRequest {
        patient,
        history,
        message: message.content,
    })
}

/// What is stored in an assistant message's `metadata`.
pub fn metadata(
    provider: &str,
    model: &str,
    usage: Usage,
    latency_ms: u64,
    emergency: &Triage,
    finish_reason: &str,
) -> serde_json::Value {
    serde_json::json!({
        "provider": provider,
        "model": model,
        "usage": usage,
        "latencyMs": latency_ms,
        "emergency": emergency,
        "finishReason": finish_reason,
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Asks the AI service (unary) and saves the reply to `user_message_id`.
pub async fn answer(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    user_message_id: Uuid,
    request: &ChatRequest,
) -> ApiResult<(ChatMessage, Triage)> {
    let started = Instant::now();
    let response = state.ai.chat(request).await;
    match &response {
        Ok(r) => crate::metrics::ai_call(&r.provider, started.elapsed(), Ok(r.usage)),
        Err(e) => crate::metrics::ai_call("unknown", started.elapsed(), Err(&e.to_problem().code)),
    }
    let ChatResponse {
        reply,
        provider,
        model,
        emergency,
        usage,
        finish_reason,
    } = response?;
    let meta = metadata(
        &provider,
        &model,
        usage,
        elapsed_ms(started),
        &emergency,
        &finish_reason,
    );
    let message = save_reply(state, caller, patient_id, user_message_id, &reply, &meta).await?;
    Ok((message, emergency))
}

/// Saves an assistant reply: one committed call of `chat_reply` (`queries::reply`).
pub async fn save_reply(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    user_message_id: Uuid,
    reply: &str,
    metadata: &serde_json::Value,
) -> ApiResult<ChatMessage> {
    let gate = Gate::new(&caller, Permission::Chat, Action::MessageReply, Some(patient_id))?;
    let message = match queries::reply(&state.db, &gate, user_message_id, reply, metadata).await {
        Ok(message) => message,
        Err(e) => return Err(gate.refused(&state.db, e).await),
    };
    state.reads.wrote(caller.id).await;
    Ok(message)
}

/// Stores the 201 body under the idempotency key.
pub async fn complete_key(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    key: &IdempotencyKey,
    response: &serde_json::Value,
) -> ApiResult<()> {
    let mut tx = ClinicTx::begin(
        &state.db,
        &caller,
        Permission::Chat,
        Action::MessageSend,
        Some(patient_id),
    )
    .await?;
    let (clinic, me) = (tx.clinic_id, tx.user_id);
    idempotency::complete(tx.conn(), clinic, me, key, response).await?;
    tx.commit().await
}

/// What a send answered.
pub enum Sent {
    /// A retry of a completed request: the first 201 body, as stored.
    Replay(serde_json::Value),
    /// Both messages, just saved.
    New(SendMessageResponse),
}

/// Sends a message and waits for the reply (`POST .../messages`). With an idempotency key, a retry
/// of a completed request replays its body, and a retry whose first attempt saved the message but
/// got no reply answers that message instead of saving it twice.
pub async fn send(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    content: &MessageContent,
    key: Option<&IdempotencyKey>,
) -> ApiResult<Sent> {
    let hash = idempotency::request_hash(patient_id, content.as_str());
    if let Some(key) = key {
        let mut tx = ClinicTx::begin(
            &state.db,
            &caller,
            Permission::Chat,
            Action::MessageSend,
            Some(patient_id),
        )
        .await?;
        let (clinic, me) = (tx.clinic_id, tx.user_id);
        let found = idempotency::lookup(tx.conn(), clinic, me, key, &hash).await?;
        tx.commit().await?;
        match found {
            Lookup::Replay(body) => return Ok(Sent::Replay(body)),
            Lookup::Pending { user_message_id } => {
                return finish_pending(state, caller, patient_id, user_message_id, key)
                    .await
                    .map(Sent::New);
            }
            Lookup::New => {}
        }
    }

    charge_or_first_aid(state, caller.id, content.as_str()).await?;
    let guard = key.map(|key| Guard { key, hash: &hash });
    let saved = save_user_message(state, caller, patient_id, content, guard).await?;
    let (assistant_message, triage) = answer(state, caller, patient_id, saved.user_message.id, &saved.request).await?;
    let response = SendMessageResponse {
        user_message: saved.user_message,
        assistant_message,
        emergency: triage.into_emergency(),
    };
    if let Some(key) = key {
        let body = serde_json::to_value(&response).map_err(anyhow::Error::from)?;
        complete_key(state, caller, patient_id, key, &body).await?;
    }
    Ok(Sent::New(response))
}

/// A retry whose first attempt saved the message but got no reply (the AI failed, or it is still in
/// flight): answer that message now, without saving it again.
async fn finish_pending(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    user_message_id: Uuid,
    key: &IdempotencyKey,
) -> ApiResult<SendMessageResponse> {
    let request = match load_unanswered(state, caller, patient_id, user_message_id).await {
        Err(ApiError::Conflict { .. }) => {
            return Err(ApiError::conflict(
                "idempotency_in_progress",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            ));
        }
        other => other?,
    };
    charge_or_first_aid(state, caller.id, &request.message).await?;
    let (assistant_message, triage) = answer(state, caller, patient_id, user_message_id, &request).await?;
    let mut tx = ClinicTx::begin(
        &state.db,
        &caller,
        Permission::Chat,
        Action::MessagesRead,
        Some(patient_id),
    )
    .await?;
    let clinic = tx.clinic_id;
    let Some(user_message) = queries::message(tx.conn(), clinic, patient_id, user_message_id).await? else {
        return Err(tx.not_found().await);
    };
    tx.commit().await?;
    let response = SendMessageResponse {
        user_message,
        assistant_message,
        emergency: triage.into_emergency(),
    };
    let body = serde_json::to_value(&response).map_err(anyhow::Error::from)?;
    complete_key(state, caller, patient_id, key, &body).await?;
    Ok(response)
}

/// Answers a saved user message that has no reply yet (after an AI failure).
pub async fn reply(state: &AppState, caller: AuthUser, patient_id: Uuid, message_id: Uuid) -> ApiResult<ReplyResponse> {
    let request = load_unanswered(state, caller, patient_id, message_id).await?;
    charge_or_first_aid(state, caller.id, &request.message).await?;
    let (assistant_message, triage) = answer(state, caller, patient_id, message_id, &request).await?;
    Ok(ReplyResponse {
        assistant_message,
        emergency: triage.into_emergency(),
    })
}

pub use crate::chat::jobs::StreamEvent;

/// Saves the user's message and starts the job that generates the reply (`chat::jobs`): the saved
/// message, and a follower of the job's events from the start (deltas, then exactly one `Done` or
/// `Error`). The job belongs to no connection: when the browser goes away mid-stream the reply is still
/// completed and saved, and `GET .../messages/{id}/stream` reattaches to it. The tracker lets graceful
/// shutdown wait for it.
pub async fn stream(
    state: &AppState,
    caller: AuthUser,
    patient_id: Uuid,
    content: &MessageContent,
) -> ApiResult<(ChatMessage, BoxStream<'static, Sequenced>)> {
    charge_or_first_aid(state, caller.id, content.as_str()).await?;
    let Saved { user_message, request } = save_user_message(state, caller, patient_id, content, None).await?;
    let job = state.jobs.start(user_message.id).await?;
    let events = state
        .jobs
        .follow(user_message.id, 0)
        .await
        .unwrap_or_else(|| futures::stream::empty().boxed());
    let answering = Answering {
        caller,
        patient_id,
        user_message_id: user_message.id,
        request,
    };
    state.tasks.spawn(relay::run(state.clone(), answering, job));
    Ok((user_message, events))
}
