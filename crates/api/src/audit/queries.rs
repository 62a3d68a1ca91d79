//! Audit SQL: appending events (in the caller's transaction when there is one) and the admin listing.

use std::net::IpAddr;

use shared::api::AuditEvent;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::audit::types::{AuthAction, Filter};

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

/// One page of events, newest first, and the total matching `filter`.
pub async fn page(db: &sqlx::PgPool, filter: &Filter, limit: i64, offset: i64) -> sqlx::Result<(Vec<AuditEvent>, i64)> {
    let rows = sqlx::query!(
        r#"select id, occurred_at, user_id, action, patient_id, request_id, count(*) over () as "total!"
           from audit_events
           where ($1::uuid is null or user_id = $1)
             and ($2::uuid is null or patient_id = $2)
             and ($3::text is null or action = $3)
           order by occurred_at desc, id desc
           limit $4 offset $5"#,
        filter.user_id,
        filter.patient_id,
        filter.action.as_deref(),
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from audit_events
                   where ($1::uuid is null or user_id = $1)
                     and ($2::uuid is null or patient_id = $2)
                     and ($3::text is null or action = $3)"#,
                filter.user_id,
                filter.patient_id,
                filter.action.as_deref()
            )
            .fetch_one(db)
            .await?
        }
    };
    let items = rows
        .into_iter()
        .map(|r| AuditEvent {
            id: r.id,
            occurred_at: r.occurred_at,
            user_id: r.user_id,
            action: r.action,
            patient_id: r.patient_id,
            request_id: r.request_id,
        })
        .collect();
    Ok((items, total))
}
