//! Sessions a user can see and end (ASVS 7.5.2). A session is a refresh-token family: one sign-in and every
//! token rotated from it. Each records where it was started (IP, user agent) and when it was last refreshed;
//! the access token names its family (`sid` claim), so the list marks the caller's own.
//!
//! Ending a session revokes its family: its refresh token then fails. An access token already issued for it
//! stays valid until it expires (at most 15 minutes): access tokens are checked by signature alone, so that no
//! request pays a database read for it.

use std::net::IpAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, AuthAction};
use crate::auth::AuthUser;
use crate::http::client_ip::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::AppState;

/// The longest user agent kept (longer ones are cut).
pub const USER_AGENT_MAX_CHARS: usize = 512;

/// Where a sign-in or a refresh came from, as a session records it.
#[derive(Clone)]
pub struct SessionClient {
    pub ip: IpAddr,
    pub user_agent: Option<String>,
}

impl SessionClient {
    /// The client's address and its `User-Agent`, without control characters and cut to
    /// [`USER_AGENT_MAX_CHARS`].
    pub fn new(ip: IpAddr, headers: &HeaderMap) -> Self {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_MAX_CHARS)
                    .collect::<String>()
            })
            .map(|ua| ua.trim().to_owned())
            .filter(|ua| !ua.is_empty());
        Self { ip, user_agent }
    }
}

/// One session as `GET /auth/sessions` lists it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The refresh-token family's id (what `DELETE /auth/sessions/{id}` takes).
    pub id: Uuid,
    /// When the sign-in happened.
    pub created_at: DateTime<Utc>,
    /// The last refresh (or the sign-in, when it was never refreshed).
    pub last_used_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// The session of the access token that asked.
    pub current: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    pub items: Vec<SessionInfo>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/sessions", get(list))
        .route("/auth/sessions/{id}", delete(revoke))
}

/// The caller's live sessions, most recently used first; `current` marks the one this access token belongs to.
#[utoipa::path(operation_id = "listSessions", get, path = "/auth/sessions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Live sessions", body = SessionList),
        crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<SessionList>> {
    let rows = sqlx::query!(
        r#"select id, created_at, coalesce(last_used_at, created_at) as "last_used_at!", user_agent,
                  host(ip) as ip
           from refresh_token_families
           where user_id = $1 and revoked_at is null and expires_at > now()
           order by coalesce(last_used_at, created_at) desc, id"#,
        user.id
    )
    .fetch_all(&state.db)
    .await?;
    let items = rows
        .into_iter()
        .map(|r| SessionInfo {
            current: user.session == Some(r.id),
            id: r.id,
            created_at: r.created_at,
            last_used_at: Some(r.last_used_at),
            user_agent: r.user_agent,
            ip: r.ip,
        })
        .collect();
    Ok(Json(SessionList { items }))
}

/// End one of the caller's sessions: its refresh token stops working. Another user's id is 404.
#[utoipa::path(operation_id = "revokeSession", delete, path = "/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "A session id from `GET /auth/sessions`")),
    responses((status = 204, description = "Ended (also when it had ended already)"),
        (status = 404, description = "`not_found`: no such session of the caller's", content_type = "application/problem+json", body = shared::Problem),
        (status = 400, description = "`invalid_path`: the id is not a UUID", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn revoke(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = crate::db::begin(&state.db).await?;
    let found = sqlx::query_scalar!(
        r#"update refresh_token_families set revoked_at = coalesce(revoked_at, now()),
                  revoked_reason = coalesce(revoked_reason, 'session_revoked')
           where id = $1 and user_id = $2
           returning id"#,
        id,
        user.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if found.is_none() {
        return Err(ApiError::NotFound);
    }
    audit::record(&mut *tx, Some(user.id), AuthAction::SessionRevoked, Some(ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, session = %id, "session revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every live family of `user_id` except `keep` (every one when `keep` is `None`). Returns how many.
pub async fn revoke_all_but(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
    reason: &str,
) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"update refresh_token_families set revoked_at = now(), revoked_reason = $3
           where user_id = $1 and revoked_at is null and ($2::uuid is null or id <> $2)"#,
        user_id,
        keep,
        reason
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_user_agent_is_cleaned_and_cut() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let mut headers = HeaderMap::new();
        headers.insert(header::USER_AGENT, HeaderValue::from_static("  Firefox\t/ 1.0 "));
        assert_eq!(
            SessionClient::new(ip, &headers).user_agent.as_deref(),
            Some("Firefox/ 1.0")
        );
        let long = "x".repeat(2000);
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&long).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(
            SessionClient::new(ip, &headers).user_agent.map(|u| u.len()),
            Some(USER_AGENT_MAX_CHARS)
        );
        assert_eq!(SessionClient::new(ip, &HeaderMap::new()).user_agent, None);
    }
}
