//! Accounts, independent of HTTP: registration, sign-in behind the failed-login locks, refresh-token
//! rotation with its audit record. The handlers in `routes` parse, call these, and shape the session.

use std::net::IpAddr;

use secrecy::SecretString;

use crate::audit::{self, AuthAction};
use crate::auth::tokens::{self, NewToken, Rotation};
use crate::auth::types::{Registration, UserRow};
use crate::domain::email::Email;
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const INVALID_CREDENTIALS: ApiError = ApiError::Unauthorized {
    code: "invalid_credentials",
    detail: "The email or password is incorrect.",
};

/// Creates the account and its first refresh-token family.
pub async fn register(state: &AppState, registration: Registration) -> ApiResult<(UserRow, NewToken)> {
    let hash = state
        .passwords
        .hash(SecretString::from(registration.password.expose().to_owned()))
        .await?;
    let mut tx = state.db.begin().await?;
    let user = sqlx::query_as!(
        UserRow,
        r#"insert into users (email, password_hash, full_name) values ($1, $2, $3)
           returning id, email::text as "email!", full_name, role, is_active, created_at"#,
        registration.email.as_str() as _,
        hash,
        registration.full_name.as_str()
    )
    .fetch_one(&mut *tx)
    .await?;
    let refresh = tokens::create_family(&mut tx, user.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "account registered");
    Ok((user, refresh))
}

/// The failed-login counters of one sign-in attempt: per (account, IP), so an attacker elsewhere
/// cannot lock the clinic out, and per account, so guessing from many IPs is bounded too.
struct LoginLocks {
    per_ip_key: String,
    per_account_key: String,
}

impl LoginLocks {
    fn new(ip: IpAddr, account: &str) -> Self {
        Self {
            per_ip_key: format!("login-fail:ip:{ip}:{account}"),
            per_account_key: format!("login-fail:acct:{account}"),
        }
    }

    /// Refuses a locked account without counting.
    async fn check(&self, state: &AppState) -> ApiResult<()> {
        let rules = state.config.rate_limits;
        for (key, rule) in [
            (&self.per_ip_key, rules.login_failures_per_ip),
            (&self.per_account_key, rules.login_failures_per_account),
        ] {
            if let Err(retry) = state.limiter.check(key, rule).await {
                tracing::warn!("login refused: too many failed attempts");
                return Err(ApiError::RateLimited { retry_after: retry.0 });
            }
        }
        Ok(())
    }

    /// Counts one failure on both.
    async fn fail(&self, state: &AppState) {
        let rules = state.config.rate_limits;
        let _ = state.limiter.hit(&self.per_ip_key, rules.login_failures_per_ip).await;
        let _ = state
            .limiter
            .hit(&self.per_account_key, rules.login_failures_per_account)
            .await;
    }
}

/// Signs in: a wrong password, a deactivated account and an unknown email all give
/// [`INVALID_CREDENTIALS`] after the same work; a locked account is refused first.
pub async fn login(
    state: &AppState,
    ip: IpAddr,
    raw_email: &str,
    password: SecretString,
) -> ApiResult<(UserRow, NewToken)> {
    // A malformed email cannot match an account; it is answered exactly like an unknown one.
    let email = Email::parse(raw_email).ok();
    let account = email
        .as_ref()
        .map_or_else(|| raw_email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let locks = LoginLocks::new(ip, &account);
    // Locked accounts are refused before the password is even checked, so guessing gains nothing.
    locks.check(state).await?;

    let row = match &email {
        Some(email) => {
            sqlx::query!(
                r#"select id, email::text as "email!", full_name, role, is_active, created_at, password_hash
                   from users where email = $1"#,
                email.as_str() as _
            )
            .fetch_optional(&state.db)
            .await?
        }
        None => None,
    };
    // Unknown emails are verified against a dummy hash so both cases take the same time.
    let stored = row.as_ref().map(|r| r.password_hash.clone());
    let matches = state.passwords.verify(password, stored).await;

    let user = match row {
        Some(r) if matches && r.is_active => UserRow {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            role: r.role,
            is_active: r.is_active,
            created_at: r.created_at,
        },
        other => {
            // The account concerned when the email is known (wrong password or deactivated), else none.
            audit::record(&state.db, other.map(|r| r.id), AuthAction::LoginFailed, Some(ip)).await?;
            locks.fail(state).await;
            tracing::info!("login failed");
            return Err(INVALID_CREDENTIALS);
        }
    };
    let mut tx = state.db.begin().await?;
    let refresh = tokens::create_family(&mut tx, user.id).await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::Login, Some(ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "login succeeded");
    Ok((user, refresh))
}

/// Spends `presented` and issues its successor; a reuse revokes the family and is audited.
pub async fn refresh(state: &AppState, presented: &str) -> ApiResult<Rotation> {
    let mut tx = state.db.begin().await?;
    let outcome = tokens::rotate(&mut tx, presented).await?;
    if matches!(outcome, Rotation::Reused) {
        audit::record_refresh_reuse(&mut *tx, &tokens::hash(presented)).await?;
    }
    // Commit in every case: a detected reuse must leave its family revoked.
    tx.commit().await?;
    Ok(outcome)
}
