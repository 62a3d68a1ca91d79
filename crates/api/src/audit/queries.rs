//! Audit SQL: appending events (in the caller's transaction when there is one) and the admin listing.

use std::net::IpAddr;

use shared::api::AuditEvent;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::audit::types::{AuthAction, Cursor, Filter};

/// Appends one event for `user_id` (the account concerned; `None` for an unknown email), with the
/// current request id and, for sign-in events, the client's IP address.
pub async fn record(
    conn: impl PgExecutor<'_>,
    user_id: Option<Uuid>,
    action: AuthAction,
    ip: Option<IpAddr>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into audit_events (user_id, action, request_id, ip) values ($1, $2, $3, $4::text::inet)",
        user_id,
        action.as_str(),
        plumbing::request_id::current(),
        ip.map(|ip| ip.to_string())
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a refresh-token reuse for the account owning the presented token, if it is known.
pub async fn record_refresh_reuse(conn: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query!(
        r#"insert into audit_events (user_id, action, request_id)
           select f.user_id, $2, $3
           from refresh_tokens t join refresh_token_families f on f.id = t.family_id
           where t.token_hash = $1"#,
        token_hash,
        AuthAction::RefreshReused.as_str(),
        plumbing::request_id::current()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One page of events matching `filter`, newest first, and where the next (older) page starts. Keyset pages over
/// `audit_events_occurred_idx` (`occurred_at desc, id desc`): no `count(*)`, so a page costs the same at the
/// millionth event as at the first (`limit + 1` rows are read to know whether there is a next page). `offset` is
/// for clients that number pages and is 0 with a cursor.
pub async fn page(
    db: &sqlx::PgPool,
    filter: &Filter,
    after: Option<Cursor>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AuditEvent>, Option<Cursor>)> {
    let rows = sqlx::query!(
        r#"select id, occurred_at, user_id, action, patient_id, request_id
           from audit_events
           where ($1::uuid is null or user_id = $1)
             and ($2::uuid is null or patient_id = $2)
             and ($3::text is null or action = $3)
             and ($4::timestamptz is null or (occurred_at, id) < ($4, $5))
           order by occurred_at desc, id desc
           limit $6 offset $7"#,
        filter.user_id,
        filter.patient_id,
        filter.action.as_deref(),
        after.map(|c| c.at),
        after.map_or(0, |c| c.id),
        limit + 1,
        offset
    )
    .fetch_all(db)
    .await?;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    let mut last = None;
    let items = rows
        .into_iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|r| {
            last = Some(Cursor {
                at: r.occurred_at,
                id: r.id,
            });
            AuditEvent {
                id: r.id,
                occurred_at: r.occurred_at,
                user_id: r.user_id,
                action: r.action,
                patient_id: r.patient_id,
                request_id: r.request_id,
            }
        })
        .collect();
    Ok((items, last.filter(|_| more)))
}
