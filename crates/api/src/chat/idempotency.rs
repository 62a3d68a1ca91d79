//! `Idempotency-Key` for sending a message: the same key and body within 24 hours returns the first
//! result, so a network retry from the app never saves the message twice.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::http::error::{ApiError, ApiResult};

pub const HEADER: &str = "idempotency-key";

/// 1-255 visible ASCII characters (UUIDs, ULIDs, random strings all fit).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn from_headers(headers: &HeaderMap) -> ApiResult<Option<Self>> {
        let Some(value) = headers.get(HEADER) else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1-255 visible ASCII characters.",
                )
            })?;
        Ok(Some(Self(key.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What identifies "the same request": the patient and the message text.
pub fn request_hash(patient_id: Uuid, content: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(patient_id.as_bytes());
    h.update(content.as_bytes());
    h.finalize().to_vec()
}

pub enum Lookup {
    /// Never seen (or expired): proceed.
    New,
    /// Completed before: return this 201 body.
    Replay(serde_json::Value),
    /// The first attempt saved the message but has no reply yet (in flight, or the AI failed).
    Pending { user_message_id: Uuid },
}

pub async fn lookup(
    conn: &mut PgConnection,
    clinic: Uuid,
    user: Uuid,
    key: &IdempotencyKey,
    hash: &[u8],
) -> ApiResult<Lookup> {
    let row = sqlx::query!(
        r#"select request_hash, user_message_id, response from idempotency_keys
           where clinic_id = $3 and user_id = $1 and key = $2 and created_at > now() - interval '24 hours'"#,
        user,
        key.as_str(),
        clinic
    )
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(Lookup::New);
    };
    if row.request_hash != hash {
        return Err(ApiError::Validation(vec![shared::FieldError::new(
            "Idempotency-Key",
            "key_reused",
            "This Idempotency-Key was already used with a different request.",
        )]));
    }
    Ok(match row.response {
        Some(response) => Lookup::Replay(response),
        None => Lookup::Pending {
            user_message_id: row.user_message_id,
        },
    })
}

/// The key is recorded with the saved user message by `chat_send` (`queries::send`), in the same statement.
pub async fn complete(
    conn: &mut PgConnection,
    clinic: Uuid,
    user: Uuid,
    key: &IdempotencyKey,
    response: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update idempotency_keys set response = $3 where clinic_id = $4 and user_id = $1 and key = $2",
        user,
        key.as_str(),
        response,
        clinic
    )
    .execute(conn)
    .await?;
    Ok(())
}
