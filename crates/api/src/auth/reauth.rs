//! Re-authentication (ASVS 7.5.1): the routes that change how an account signs in (the password, the second
//! factor) ask for the current password again, even with a valid access token. A wrong password here counts
//! against the same failed-sign-in limits as `POST /auth/login`, so a stolen access token is no way around them.

use std::net::IpAddr;

use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::{self, AuthAction};
use crate::http::error::{ApiError, ApiResult, LockScope};
use crate::ratelimit::{self, LoginKeys, LoginRefusal};
use crate::state::AppState;

/// 401 for a wrong current password. `invalid_credentials` is a code the web app reads as "what was typed
/// is wrong" (not "the session ended"), so it does not try to refresh.
pub const WRONG_PASSWORD: ApiError = ApiError::Unauthorized {
    code: "invalid_credentials",
    detail: "The password is incorrect.",
};

/// The account re-authenticated: what the caller needs next.
pub struct Reauthenticated {
    pub email: String,
    pub full_name: String,
}

/// Checks `password` for the signed-in `user_id`, behind the failed-login limits of its (account, IP) pair.
pub async fn confirm_password(
    state: &AppState,
    user_id: Uuid,
    ip: IpAddr,
    password: SecretString,
) -> ApiResult<Reauthenticated> {
    let row = sqlx::query!(
        r#"select email::text as "email!", full_name, password_hash from users where id = $1 and is_active"#,
        user_id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(crate::auth::extractor::UNAUTHORIZED)?;
    let keys = LoginKeys::new(&row.email, &format!("ip:{}", ratelimit::ip_bucket(ip)));
    let policy = state.config.rate_limits.login_policy();
    // The account is signed in on this client: it is a known client for the account-wide delay.
    let reservation = state
        .limiter
        .reserve_login(&keys, &policy, true)
        .await
        .map_err(|refusal| ApiError::LoginLocked {
            retry_after: refusal.retry_after(),
            scope: match refusal {
                LoginRefusal::Client(_) => LockScope::Client,
                LoginRefusal::Account(_) => LockScope::Account,
            },
        })?;
    if !state.passwords.verify(password, Some(row.password_hash)).await {
        audit::record(&state.db, Some(user_id), AuthAction::ReauthFailed, Some(ip)).await?;
        tracing::info!(%user_id, "re-authentication failed");
        return Err(WRONG_PASSWORD);
    }
    state.limiter.release_login(reservation, &policy).await;
    Ok(Reauthenticated {
        email: row.email,
        full_name: row.full_name,
    })
}
