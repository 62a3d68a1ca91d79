//! The chat flow, independent of HTTP: save the user's message (its own committed transaction), ask
//! the AI service, save the reply. A failure in between leaves the user's message saved and
//! answerable later.

use std::time::Instant;

use shared::ai::{ChatRequest, ChatResponse, StreamDone, Triage, Usage};
use shared::api::ChatMessage;
use uuid::Uuid;

use crate::chat::idempotency::{self, IdempotencyKey};
use crate::chat::queries;
use crate::chat::types::MessageContent;
use crate::db::{Action, UserTx};
use crate::error::{ApiError, ApiResult};
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

/// Saves the user's message and gathers the AI request (patient context + last messages) in one
/// committed transaction.
pub async fn save_user_message(
    state: &AppState,
    owner: Uuid,
    patient_id: Uuid,
    content: &MessageContent,
    guard: Option<Guard<'_>>,
) -> ApiResult<Saved> {
    let mut tx = UserTx::begin(&state.db, owner, Action::MessageSend, Some(patient_id)).await?;
    let (patient, history) = queries::context(tx.conn(), owner, patient_id, None)
        .await?
        .ok_or(ApiError::NotFound)?;
    let user_message =
        queries::insert_user_message(tx.conn(), owner, patient_id, Uuid::now_v7(), content.as_str()).await?;
    if let Some(guard) = guard
        && !idempotency::record(tx.conn(), owner, guard.key, guard.hash, user_message.id).await?
    {
        return Err(ApiError::conflict(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still being processed.",
        ));
    }
    tx.commit().await?;
    let request = ChatRequest {
        patient,
        history,
        message: content.as_str().to_owned(),
    };
    Ok(Saved { user_message, request })
}

/// Loads a saved, unanswered user message and the request to answer it (`/reply`, idempotent retry).
pub async fn load_unanswered(
    state: &AppState,
    owner: Uuid,
    patient_id: Uuid,
    message_id: Uuid,
) -> ApiResult<ChatRequest> {
    let mut tx = UserTx::begin(&state.db, owner, Action::MessageReply, Some(patient_id)).await?;
    let message = queries::user_message(tx.conn(), owner, patient_id, message_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if message.answered {
        return Err(ApiError::conflict(
            "already_answered",
            "This message already has a reply.",
        ));
    }
    let (patient, history) = queries::context(tx.conn(), owner, patient_id, Some(message_id))
        .await?
        .ok_or(ApiError::NotFound)?;
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
    owner: Uuid,
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
    let message = save_reply(state, owner, patient_id, user_message_id, &reply, &meta).await?;
    Ok((message, emergency))
}

/// Saves an assistant reply in its own transaction.
pub async fn save_reply(
    state: &AppState,
    owner: Uuid,
    patient_id: Uuid,
    user_message_id: Uuid,
    reply: &str,
    metadata: &serde_json::Value,
) -> ApiResult<ChatMessage> {
    let mut tx = UserTx::begin(&state.db, owner, Action::MessageReply, Some(patient_id)).await?;
    let message =
        queries::insert_assistant_message(tx.conn(), owner, patient_id, user_message_id, reply, metadata).await?;
    tx.commit().await?;
    Ok(message)
}

/// Saves the reply of a finished stream.
pub async fn save_streamed(
    state: &AppState,
    owner: Uuid,
    patient_id: Uuid,
    user_message_id: Uuid,
    reply: &str,
    done: &StreamDone,
    started: Instant,
) -> ApiResult<ChatMessage> {
    crate::metrics::ai_call(&done.provider, started.elapsed(), Ok(done.usage));
    let meta = metadata(
        &done.provider,
        &done.model,
        done.usage,
        elapsed_ms(started),
        &done.emergency,
        &done.finish_reason,
    );
    save_reply(state, owner, patient_id, user_message_id, reply, &meta).await
}

/// Stores the 201 body under the idempotency key.
pub async fn complete_key(
    state: &AppState,
    owner: Uuid,
    patient_id: Uuid,
    key: &IdempotencyKey,
    response: &serde_json::Value,
) -> ApiResult<()> {
    let mut tx = UserTx::begin(&state.db, owner, Action::MessageSend, Some(patient_id)).await?;
    idempotency::complete(tx.conn(), owner, key, response).await?;
    tx.commit().await
}
