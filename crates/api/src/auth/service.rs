//! Accounts, independent of HTTP: registration, sign-in behind the failed-login locks, refresh-token
//! rotation with its audit record. The handlers in `routes` parse, call these, and shape the session.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};
use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::{self, AuthAction};
use crate::auth::clinics;
use crate::auth::device;
use crate::auth::tokens::{self, NewToken, Rotation};
use crate::auth::types::{Registration, UserRow};
use crate::domain::email::{EMAIL_MAX_CHARS, Email, EmailError};
use crate::http::error::{ApiError, ApiResult, LockScope};
use crate::ratelimit::{self, LoginKeys, LoginRefusal};
use crate::state::AppState;

pub const INVALID_CREDENTIALS: ApiError = ApiError::Unauthorized {
    code: "invalid_credentials",
    detail: "The email or password is incorrect.",
};

/// Creates the account and its first refresh-token family.
pub async fn register(state: &AppState, registration: Registration) -> ApiResult<(UserRow, NewToken, Option<Uuid>)> {
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
    let clinic_id = clinics::create(&mut tx, user.id, &registration.clinic_name).await?;
    let refresh = tokens::create_family(&mut tx, user.id, Some(clinic_id)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, %clinic_id, "account registered with a new clinic");
    Ok((user, refresh, Some(clinic_id)))
}

/// Who is signing in: the client's address and the request's headers (a known-device cookie).
pub struct LoginClient<'a> {
    pub ip: IpAddr,
    pub headers: &'a HeaderMap,
}

/// A successful sign-in: the account, its new refresh-token family, and the known-device cookie.
pub struct SignedIn {
    pub user: UserRow,
    pub refresh: NewToken,
    /// The session's active clinic: the most recently joined one.
    pub clinic_id: Option<Uuid>,
    pub device_cookie: HeaderValue,
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Signs in: a wrong password, a deactivated account and an unknown email all give
/// [`INVALID_CREDENTIALS`] after the same work.
///
/// The failed-login policy (`ratelimit::login`) is applied *before* the password is checked: the
/// attempt takes a reservation on the (account, client) window and the account's count, which is
/// given back unless the password turns out wrong, so parallel guesses meet the limit. The client
/// is this browser's known-device cookie for the account when it has a valid one, else the IP.
pub async fn login(
    state: &AppState,
    client: LoginClient<'_>,
    raw_email: &str,
    password: SecretString,
) -> ApiResult<SignedIn> {
    // Refused before any limiter, hash or database work: no account has a longer address.
    if raw_email.trim().chars().count() > EMAIL_MAX_CHARS {
        let e = EmailError::TooLong;
        return Err(ApiError::validation("email", e.code(), e.message()));
    }
    // A malformed email cannot match an account; it is answered exactly like an unknown one.
    let email = Email::parse(raw_email).ok();
    let account = email
        .as_ref()
        .map_or_else(|| raw_email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let now = now_secs();
    let device = device::recognise(&state.keys.device, client.headers, &account, now);
    let client_id = match device {
        Some(d) => format!("dev:{}", d.hex()),
        None => format!("ip:{}", ratelimit::ip_bucket(client.ip)),
    };
    let keys = LoginKeys::new(&account, &client_id);
    let policy = state.config.rate_limits.login_policy();
    let reservation = state
        .limiter
        .reserve_login(&keys, &policy, device.is_some())
        .await
        .map_err(|refusal| {
            tracing::warn!(
                known_device = device.is_some(),
                "login refused: too many failed attempts"
            );
            let scope = match refusal {
                LoginRefusal::Client(_) => LockScope::Client,
                LoginRefusal::Account(_) => LockScope::Account,
            };
            ApiError::LoginLocked {
                retry_after: refusal.retry_after(),
                scope,
            }
        })?;

    let checked = check_password(state, email.as_ref(), password, client.ip).await;
    match checked {
        // A wrong password keeps its reservation: that is the failure being counted.
        Err(e @ ApiError::Unauthorized { .. }) => return Err(e),
        // Anything else (success, or the database failing) gives it back.
        Err(e) => {
            state.limiter.release_login(reservation, &policy).await;
            return Err(e);
        }
        Ok(_) => state.limiter.release_login(reservation, &policy).await,
    }
    let user = checked?;
    let mut tx = state.db.begin().await?;
    let clinic_id = clinics::memberships(&mut tx, user.id, None).await?.active.map(|c| c.id);
    let refresh = tokens::create_family(&mut tx, user.id, clinic_id).await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::Login, Some(client.ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, known_device = device.is_some(), "login succeeded");
    let device_cookie = device::cookie(&state.keys.device, &account, device, now, state.config.cookie_secure);
    Ok(SignedIn {
        user,
        refresh,
        clinic_id,
        device_cookie,
    })
}

/// The account when `password` is right and the account active; else [`INVALID_CREDENTIALS`]
/// (audited) after the same argon2 work, whether or not the email is known.
async fn check_password(
    state: &AppState,
    email: Option<&Email>,
    password: SecretString,
    ip: IpAddr,
) -> ApiResult<UserRow> {
    let row = match email {
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
    match row {
        Some(r) if matches && r.is_active => Ok(UserRow {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            role: r.role,
            is_active: r.is_active,
            created_at: r.created_at,
        }),
        other => {
            // The account concerned when the email is known (wrong password or deactivated), else none.
            audit::record(&state.db, other.map(|r| r.id), AuthAction::LoginFailed, Some(ip)).await?;
            tracing::info!("login failed");
            Err(INVALID_CREDENTIALS)
        }
    }
}

/// Spends `presented` and issues its successor; a reuse revokes the family and is audited.
pub async fn refresh(state: &AppState, presented: &str) -> ApiResult<Rotation> {
    let mut tx = state.db.begin().await?;
    let outcome = tokens::rotate(&mut tx, &state.keys.refresh_seal, presented).await?;
    if matches!(outcome, Rotation::Reused) {
        audit::record_refresh_reuse(&mut *tx, &tokens::hash(presented)).await?;
    }
    // Commit in every case: a detected reuse must leave its family revoked.
    tx.commit().await?;
    Ok(outcome)
}
