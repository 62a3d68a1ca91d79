//! Invitations: a one-time token (256 random bits, base64url) bound to one email and one role, valid 7 days.
//! Only its SHA-256 is stored. Looking one up by token uses the `invitations_by_token` policy (the
//! transaction names the token's hash in `app.invitation_token`); accepting it sets the clinic and marks it used
//! in one guarded update, so a token works once even when two requests race.

use chrono::{DateTime, Utc};
use shared::api::ClinicRole;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::tokens;

/// How long an invitation stays valid.
pub const INVITATION_TTL_DAYS: i32 = 7;

/// A pending invitation found by its token.
pub struct Found {
    pub clinic_id: Uuid,
    pub id: Uuid,
    pub email: String,
    pub role: ClinicRole,
}

/// Whether `token` looks like one we issue (43 base64url characters); anything else cannot match.
fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The pending (not accepted, not revoked, not expired) invitation of `token`, if any.
pub async fn find_pending(conn: &mut PgConnection, token: &str) -> sqlx::Result<Option<Found>> {
    if !well_formed(token) {
        return Ok(None);
    }
    let hash = tokens::hash(token);
    sqlx::query_scalar!(
        r#"select set_config('app.invitation_token', encode($1::bytea, 'hex'), true) as "set!""#,
        &hash
    )
    .fetch_one(&mut *conn)
    .await?;
    let row = sqlx::query!(
        r#"select clinic_id, id, email::text as "email!", role from invitations
           where token_hash = $1 and accepted_at is null and revoked_at is null and expires_at > now()"#,
        &hash
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| {
        Some(Found {
            clinic_id: r.clinic_id,
            id: r.id,
            email: r.email,
            role: ClinicRole::parse(&r.role)?,
        })
    }))
}

/// Whether the invitation is for `email` (compared as the database compares emails: case-insensitively).
pub fn is_for(found: &Found, email: &str) -> bool {
    found.email.to_lowercase() == email.trim().to_lowercase()
}

/// Marks the invitation used and makes `user_id` a member in its role (an existing membership keeps its role).
/// `false` when a concurrent acceptance used it first.
pub async fn accept(conn: &mut PgConnection, found: &Found, user_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select set_config('app.clinic_id', $1::uuid::text, true) as "set!""#,
        found.clinic_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let used = sqlx::query_scalar!(
        r#"with used as (
               update invitations set accepted_at = now()
               where clinic_id = $1 and id = $2 and accepted_at is null and revoked_at is null and expires_at > now()
               returning clinic_id, role
           ),
           joined as (
               insert into clinic_members (clinic_id, user_id, role)
               select clinic_id, $3, role from used
               on conflict (clinic_id, user_id) do nothing
           ),
           audit as (
               insert into audit_events (user_id, clinic_id, action, request_id)
               select $3, clinic_id, 'clinic.joined', $4 from used
           )
           select exists (select 1 from used) as "used!""#,
        found.clinic_id,
        found.id,
        user_id,
        plumbing::request_id::current()
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(used)
}

/// A new invitation's row as the owner sees it once, with its token.
pub struct Created {
    pub id: Uuid,
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Creates an invitation (revoking earlier pending ones for the same email, so one link is live).
pub async fn create(
    conn: &mut PgConnection,
    clinic_id: Uuid,
    invited_by: Uuid,
    email: &str,
    role: ClinicRole,
) -> sqlx::Result<Created> {
    let token = tokens::mint();
    sqlx::query!(
        r#"update invitations set revoked_at = now()
           where clinic_id = $1 and email = $2 and accepted_at is null and revoked_at is null"#,
        clinic_id,
        email as _
    )
    .execute(&mut *conn)
    .await?;
    let row = sqlx::query!(
        r#"insert into invitations (clinic_id, email, role, token_hash, invited_by, expires_at)
           values ($1, $2, $3, $4, $5, now() + make_interval(days => $6))
           returning id, created_at, expires_at"#,
        clinic_id,
        email as _,
        role.as_str(),
        &token.hash,
        invited_by,
        INVITATION_TTL_DAYS
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Created {
        id: row.id,
        token: token.value,
        created_at: row.created_at,
        expires_at: row.expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::well_formed;

    #[test]
    fn only_tokens_of_our_shape_are_looked_up() {
        assert!(well_formed(&crate::auth::tokens::mint().value));
        assert!(!well_formed("short"));
        assert!(!well_formed(&"a".repeat(44)));
        assert!(!well_formed(&format!("{}%", "a".repeat(42))));
    }
}
