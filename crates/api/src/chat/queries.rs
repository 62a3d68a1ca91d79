//! Chat SQL; every function takes the clinic's id (see `patients::queries`). A patient in the trash has no
//! reachable messages.

use chrono::{DateTime, Utc};
use shared::ai::{HistoryTurn, PatientContext, TurnRole};
use shared::api::{ChatMessage, MessageRole};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::Gate;

/// How many earlier messages the model sees.
pub const HISTORY_TURNS: i64 = 5;

/// A `chat_messages` row as every query here selects it (`id, role, content, metadata, created_at`).
struct MessageRow {
    id: Uuid,
    role: String,
    content: String,
    metadata: serde_json::Value,
    created_at: DateTime<Utc>,
}

impl From<MessageRow> for ChatMessage {
    fn from(r: MessageRow) -> Self {
        ChatMessage {
            id: r.id,
            role: if r.role == "assistant" {
                MessageRole::Assistant
            } else {
                MessageRole::User
            },
            content: r.content,
            metadata: r.metadata,
            created_at: r.created_at,
        }
    }
}

/// What [`send`] saved and gathered: the user's message as stored, and the patient's context and history for the
/// model call.
pub struct Sent {
    pub message: ChatMessage,
    pub patient: PatientContext,
    pub history: Vec<HistoryTurn>,
}

/// Why [`send`] saved nothing: the gate's refusal (or another database error), or a live record of the idempotency
/// key.
pub enum SendError {
    Database(sqlx::Error),
    KeyInUse,
}

impl From<sqlx::Error> for SendError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some("DA409") => Self::KeyInUse,
            _ => Self::Database(e),
        }
    }
}

/// Saves the user's message `id` through `chat_send` (migration 20261214000003) in one committed round trip: the
/// gate, the audit row, the message, the idempotency key (`key` with the request's hash), and the patient's context
/// with the [`HISTORY_TURNS`] messages before this one. `None` when the patient is not the clinic's (or is in the
/// trash); the function then recorded `access.denied`.
pub async fn send(
    pool: &PgPool,
    gate: &Gate,
    id: Uuid,
    content: &str,
    key: Option<(&str, &[u8])>,
) -> Result<Option<Sent>, SendError> {
    let allowed = gate.allowed();
    let rows = sqlx::query!(
        r#"select created_at as "created_at!", metadata as "metadata!", name as "name!", medical_notes,
                  turn_role, turn_content
           from chat_send($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"#,
        gate.user_id,
        gate.clinic_id,
        &allowed as &[&str],
        plumbing::request_id::current(),
        gate.patient_id,
        id,
        content,
        HISTORY_TURNS,
        key.map(|(k, _)| k),
        key.map(|(_, h)| h),
    )
    .fetch_all(pool)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let message = ChatMessage {
        id,
        role: MessageRole::User,
        content: content.to_owned(),
        metadata: first.metadata.clone(),
        created_at: first.created_at,
    };
    let (name, notes) = (first.name.clone(), first.medical_notes.clone());
    let (patient, history) = context_of(name, notes, rows.into_iter().map(|r| (r.turn_role, r.turn_content)));
    Ok(Some(Sent {
        message,
        patient,
        history,
    }))
}

/// Saves the reply to `reply_to` through `chat_reply` (migration 20261214000003): the gate with its audit row and the
/// insert, in one committed round trip. A second reply to the same message violates the unique key (409).
pub async fn reply(
    pool: &PgPool,
    gate: &Gate,
    reply_to: Uuid,
    content: &str,
    metadata: &serde_json::Value,
) -> sqlx::Result<ChatMessage> {
    let allowed = gate.allowed();
    let id = Uuid::now_v7();
    let created_at = sqlx::query_scalar!(
        r#"select chat_reply($1, $2, $3, $4, $5, $6, $7, $8, $9) as "created_at!""#,
        gate.user_id,
        gate.clinic_id,
        &allowed as &[&str],
        plumbing::request_id::current(),
        gate.patient_id,
        reply_to,
        id,
        content,
        metadata,
    )
    .fetch_one(pool)
    .await?;
    Ok(ChatMessage {
        id,
        role: MessageRole::Assistant,
        content: content.to_owned(),
        metadata: metadata.clone(),
        created_at,
    })
}

/// The model's context from a patient's name and notes and the (role, content) of each row; a row without a turn
/// (a patient with no history yet) adds none.
fn context_of(
    name: String,
    notes: Option<String>,
    turns: impl Iterator<Item = (Option<String>, Option<String>)>,
) -> (PatientContext, Vec<HistoryTurn>) {
    let patient = PatientContext {
        name,
        medical_notes: notes,
        ..PatientContext::default()
    };
    let history = turns
        .filter_map(|(role, content)| {
            Some(HistoryTurn {
                role: if role? == "assistant" {
                    TurnRole::Assistant
                } else {
                    TurnRole::User
                },
                content: content?,
            })
        })
        .collect();
    (patient, history)
}

/// The patient's name and notes plus the last [`HISTORY_TURNS`] messages before `before`, oldest first: everything
/// the AI call needs to answer a saved message (`/reply`), in one round trip.
/// `None` when the patient is not the clinic's (or does not exist, or is in the trash).
pub async fn context(
    conn: &mut PgConnection,
    clinic: Uuid,
    patient_id: Uuid,
    before: Uuid,
) -> sqlx::Result<Option<(PatientContext, Vec<HistoryTurn>)>> {
    // `chat_context` (migration 20261216000001) keeps the plan that reads the history's index, whatever the
    // statistics say.
    let rows = sqlx::query!(
        r#"select name as "name!", medical_notes, turn_role as "role?", turn_content as "content?"
           from chat_context($2, $1, $3, $4)"#,
        patient_id,
        clinic,
        before,
        HISTORY_TURNS
    )
    .fetch_all(conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (name, notes) = (first.name.clone(), first.medical_notes.clone());
    let (patient, history) = context_of(name, notes, rows.into_iter().map(|r| (r.role, r.content)));
    Ok(Some((patient, history)))
}

/// A page of history, oldest first, ending just before `before` (or at the newest message).
pub async fn page(
    conn: &mut PgConnection,
    clinic: Uuid,
    patient_id: Uuid,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<(Vec<ChatMessage>, Option<Uuid>)> {
    // `chat_page` (migration 20261216000001): the history's index, whatever the statistics say.
    let mut rows = sqlx::query_as!(
        MessageRow,
        r#"select id as "id!", role as "role!", content as "content!", metadata as "metadata!",
                  created_at as "created_at!"
           from chat_page($2, $1, $3, $4)"#,
        patient_id,
        clinic,
        before,
        limit + 1
    )
    .fetch_all(conn)
    .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    rows.reverse();
    let next_before = if more { rows.first().map(|r| r.id) } else { None };
    Ok((rows.into_iter().map(ChatMessage::from).collect(), next_before))
}

/// One message of this patient. (The patient's by-id lookup says `(deleted_at is null) is true` so that only
/// the primary key can serve it: `patients::queries::exists`.)
pub async fn message(
    conn: &mut PgConnection,
    clinic: Uuid,
    patient_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ChatMessage>> {
    let row = sqlx::query_as!(
        MessageRow,
        r#"select id, role, content, metadata, created_at from chat_messages m
           where m.clinic_id = $3 and m.id = $1 and m.patient_id = $2
             and exists (select 1 from patients p
                         where p.clinic_id = $3 and p.id = $2 and (p.deleted_at is null) is true)"#,
        id,
        patient_id,
        clinic
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ChatMessage::from))
}

/// A user message of this patient, with whether it already has a reply.
pub struct PendingMessage {
    pub content: String,
    pub answered: bool,
}

pub async fn user_message(
    conn: &mut PgConnection,
    clinic: Uuid,
    patient_id: Uuid,
    message_id: Uuid,
) -> sqlx::Result<Option<PendingMessage>> {
    let row = sqlx::query!(
        r#"select m.content,
                  exists (select 1 from chat_messages r where r.clinic_id = $3 and r.reply_to = m.id) as "answered!"
           from chat_messages m
           where m.clinic_id = $3 and m.id = $1 and m.patient_id = $2 and m.role = 'user'
             and exists (select 1 from patients p
                         where p.clinic_id = $3 and p.id = $2 and (p.deleted_at is null) is true)"#,
        message_id,
        patient_id,
        clinic
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| PendingMessage {
        content: r.content,
        answered: r.answered,
    }))
}

/// The reply to a user message of this patient, if it has one (a reattach to a finished reply).
pub async fn reply_to(
    conn: &mut PgConnection,
    clinic: Uuid,
    patient_id: Uuid,
    user_message_id: Uuid,
) -> sqlx::Result<Option<ChatMessage>> {
    let row = sqlx::query_as!(
        MessageRow,
        r#"select id, role, content, metadata, created_at from chat_messages
           where clinic_id = $3 and reply_to = $1 and patient_id = $2"#,
        user_message_id,
        patient_id,
        clinic
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ChatMessage::from))
}
