//! `POST /auth/password`: a new password with the current one (ASVS 7.5.1), under the registration's strength
//! rules; every other session is ended (their refresh tokens fail), the caller's own stays signed in.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use secrecy::SecretString;
use serde::Deserialize;

use crate::audit::{self, AuthAction};
use crate::auth::password::Password;
use crate::auth::{AuthUser, reauth, sessions};
use crate::http::client_ip::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/auth/password", post(change_password))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// The same rules as at registration (length, strength, not built from the email or name).
    pub new_password: String,
}

/// Change the password. The current one is asked again (a wrong one is 401 `invalid_credentials` and counts
/// against the failed-sign-in limits); every other session is signed out.
#[utoipa::path(operation_id = "changePassword", post, path = "/auth/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204, description = "Changed; every other session ended"),
        (status = 401, description = "`invalid_credentials`: the current password is wrong", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let same = body.new_password == body.current_password;
    let current = SecretString::from(body.current_password);
    let account = reauth::confirm_password(&state, user.id, ip, current).await?;
    if same {
        return Err(ApiError::validation(
            "newPassword",
            "same_as_current",
            "The new password must differ from the current one.",
        ));
    }
    let new = Password::parse(body.new_password, &[account.email.as_str(), account.full_name.as_str()])
        .map_err(|e| ApiError::validation("newPassword", e.code(), e.message()))?;
    let hash = state
        .passwords
        .hash(SecretString::from(new.expose().to_owned()))
        .await?;
    let mut tx = crate::db::begin(&state.db).await?;
    sqlx::query!("update users set password_hash = $2 where id = $1", user.id, hash)
        .execute(&mut *tx)
        .await?;
    let ended = sessions::revoke_all_but(&mut tx, user.id, user.session, "password_changed").await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::PasswordChanged, Some(ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, ended, "password changed; other sessions ended");
    Ok(StatusCode::NO_CONTENT)
}
