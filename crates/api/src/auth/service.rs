//! Accounts, independent of HTTP: registration, sign-in behind the failed-login locks, refresh-token
//! rotation with its audit record. The handlers in `routes` parse, call these, and shape the session.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::{self, AuthAction};
use crate::auth::clinics;
use crate::auth::device;
use crate::auth::mfa;
use crate::auth::sessions::SessionClient;
use crate::auth::tokens::{self, NewToken, Rotation};
use crate::auth::types::{Registration, UserRow};
use crate::clinic::invitations;
use crate::domain::email::{EMAIL_MAX_CHARS, Email, EmailError};
use crate::http::error::{ApiError, ApiResult, LockScope};
use crate::ratelimit::{self, LoginKeys, LoginRefusal, LoginReservation};
use crate::state::AppState;

pub const INVALID_CREDENTIALS: ApiError = ApiError::Unauthorized {
    code: "invalid_credentials",
    detail: "The email or password is incorrect.",
};

/// 403 `registration_closed`: `REGISTRATION=invite` and no valid invitation for this email.
pub const REGISTRATION_CLOSED: ApiError = ApiError::ForbiddenCode {
    code: "registration_closed",
    detail: "Sign-up is by invitation only. Ask a clinic owner to invite you.",
};

/// 403 after a correct password for an account an owner or admin deactivated: telling the person so (and who
/// can help) is worth more than hiding it from someone who already knows the password.
pub const ACCOUNT_INACTIVE: ApiError = ApiError::ForbiddenCode {
    code: "account_inactive",
    detail: "This account has been deactivated, so it cannot sign in. Ask your clinic's owner to reactivate it.",
};

/// 401 for an unknown, expired or already used `mfaToken`: the sign-in starts again from the password.
pub const MFA_TOKEN_EXPIRED: ApiError = ApiError::Unauthorized {
    code: "mfa_token_expired",
    detail: "The sign-in took too long or this step was already completed. Enter your password again.",
};

/// How long the second step of a sign-in may take.
pub const MFA_CHALLENGE_TTL: Duration = Duration::from_secs(5 * 60);

/// `remainingAttempts` is sent once this few (or fewer) failures are left before the client is held back.
const WARN_WHEN_REMAINING: u32 = 3;

/// A wrong password or code, counted on `reservation`, with the attempts left when few are.
fn refused_attempt(code: &'static str, detail: &'static str, reservation: &LoginReservation) -> ApiError {
    let left = reservation.remaining_after_failure();
    ApiError::CredentialsRefused {
        code,
        detail,
        remaining_attempts: (left <= WARN_WHEN_REMAINING).then_some(left),
    }
}

/// Creates the account, its clinic membership and its first refresh-token family. With a valid invitation for
/// this email the account joins that clinic in its role; otherwise (when `REGISTRATION=open`) it creates a clinic
/// of its own. Returns the account, its refresh token and the active clinic.
pub async fn register(
    state: &AppState,
    registration: Registration,
    client: &SessionClient,
) -> ApiResult<(UserRow, NewToken, Option<Uuid>)> {
    let invite_only = state.config.registration == crate::config::Registration::Invite;
    if invite_only && registration.invitation_token.is_none() {
        return Err(REGISTRATION_CLOSED);
    }
    let hash = state
        .passwords
        .hash(SecretString::from(registration.password.expose().to_owned()))
        .await?;
    let mut tx = crate::db::begin(&state.db).await?;
    let invitation = match registration.invitation_token.as_deref() {
        Some(token) => {
            let found = invitations::find_pending(&mut tx, token)
                .await?
                .filter(|f| invitations::is_for(f, registration.email.as_str()));
            match found {
                Some(found) => Some(found),
                None if invite_only => return Err(REGISTRATION_CLOSED),
                None => {
                    return Err(ApiError::validation(
                        "invitationToken",
                        "invalid_invitation",
                        "This invitation is unknown, expired, already used, or for another email.",
                    ));
                }
            }
        }
        None => None,
    };
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
    let clinic_id = match &invitation {
        Some(found) => {
            if !invitations::accept(&mut tx, found, user.id).await? {
                return Err(ApiError::validation(
                    "invitationToken",
                    "invalid_invitation",
                    "This invitation was used a moment ago.",
                ));
            }
            found.clinic_id
        }
        None => clinics::create(&mut tx, user.id, &registration.clinic_name).await?,
    };
    let refresh = tokens::create_family(&mut tx, user.id, Some(clinic_id), client).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, %clinic_id, invited = invitation.is_some(), "account registered");
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

/// The password was right and the account has two-step sign-in on: no session yet.
pub struct MfaChallenge {
    /// Single use, bound to the account, valid [`MFA_CHALLENGE_TTL`]; stored only as its SHA-256.
    pub token: String,
    pub expires_in: Duration,
}

/// What a correct password leads to.
pub enum LoginOutcome {
    SignedIn(SignedIn),
    MfaRequired(MfaChallenge),
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// Signs in: a wrong password and an unknown email give [`INVALID_CREDENTIALS`] after the same work
/// (with `remainingAttempts` when few remain); a deactivated account with the right password gets
/// [`ACCOUNT_INACTIVE`]; an account with MFA on gets an [`MfaChallenge`] instead of a session.
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
) -> ApiResult<LoginOutcome> {
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
    let reservation = reserve_attempt(state, &account, device, client.ip).await?;
    let policy = state.config.rate_limits.login_policy();

    let checked = check_password(state, email.as_ref(), password, client.ip).await;
    match checked {
        // A wrong password keeps its reservation: that is the failure being counted.
        Err(ApiError::Unauthorized { code, detail }) => return Err(refused_attempt(code, detail, &reservation)),
        // Anything else (success, a deactivated account, or the database failing) gives it back.
        Err(e) => {
            state.limiter.release_login(reservation, &policy).await;
            return Err(e);
        }
        Ok(_) => state.limiter.release_login(reservation, &policy).await,
    }
    let user = checked?;
    if mfa::is_enabled(&state.db, user.id).await? {
        let challenge = create_challenge(state, &user).await?;
        tracing::info!(user_id = %user.id, "password accepted; a second factor is required");
        return Ok(LoginOutcome::MfaRequired(challenge));
    }
    start_session(state, &client, user, &account, device, now, false)
        .await
        .map(LoginOutcome::SignedIn)
}

/// Takes a failed-sign-in reservation for (account, client) or refuses with 429; the client is the known
/// device when the request has its cookie, else the IP bucket.
async fn reserve_attempt(
    state: &AppState,
    account: &str,
    device: Option<device::DeviceId>,
    ip: IpAddr,
) -> ApiResult<LoginReservation> {
    let client_id = match device {
        Some(d) => format!("dev:{}", d.hex()),
        None => format!("ip:{}", ratelimit::ip_bucket(ip)),
    };
    let keys = LoginKeys::new(account, &client_id);
    let policy = state.config.rate_limits.login_policy();
    state
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
        })
}

/// The new session (refresh family, audit row, known-device cookie) of a completed sign-in.
async fn start_session(
    state: &AppState,
    client: &LoginClient<'_>,
    user: UserRow,
    account: &str,
    device: Option<device::DeviceId>,
    now: u64,
    with_mfa: bool,
) -> ApiResult<SignedIn> {
    let session_client = SessionClient::new(client.ip, client.headers);
    let mut tx = crate::db::begin(&state.db).await?;
    let clinic_id = clinics::memberships(&mut tx, user.id, None).await?.active.map(|c| c.id);
    let refresh = tokens::create_family(&mut tx, user.id, clinic_id, &session_client).await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::Login, Some(client.ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, known_device = device.is_some(), with_mfa, "login succeeded");
    let device_cookie = device::cookie(&state.keys.device, account, device, now, state.config.cookie_secure);
    Ok(SignedIn {
        user,
        refresh,
        clinic_id,
        device_cookie,
    })
}

/// Stores a new single-use challenge for `user` (its hash only) and returns the token.
async fn create_challenge(state: &AppState, user: &UserRow) -> ApiResult<MfaChallenge> {
    let token = tokens::random_token();
    sqlx::query!(
        r#"insert into mfa_challenges (token_hash, user_id, expires_at)
           values ($1, $2, now() + make_interval(secs => $3))"#,
        &tokens::hash(&token),
        user.id,
        MFA_CHALLENGE_TTL.as_secs_f64()
    )
    .execute(&state.db)
    .await?;
    // Expired challenges are of no use to anyone: drop this account's old ones.
    sqlx::query!(
        "delete from mfa_challenges where user_id = $1 and expires_at < now() - interval '1 hour'",
        user.id
    )
    .execute(&state.db)
    .await?;
    Ok(MfaChallenge {
        token,
        expires_in: MFA_CHALLENGE_TTL,
    })
}

/// The second step of a sign-in with MFA on: the challenge from [`login`] and a TOTP or recovery code. A wrong
/// code counts against the same failed-sign-in limits as a wrong password.
pub async fn login_mfa(state: &AppState, client: LoginClient<'_>, mfa_token: &str, code: &str) -> ApiResult<SignedIn> {
    let token_hash = tokens::hash(mfa_token);
    let challenge = sqlx::query!(
        r#"select c.user_id, u.email::text as "email!", u.is_active
           from mfa_challenges c join users u on u.id = c.user_id
           where c.token_hash = $1 and c.used_at is null and c.expires_at > now()"#,
        &token_hash
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(MFA_TOKEN_EXPIRED)?;
    if !challenge.is_active {
        return Err(ACCOUNT_INACTIVE);
    }
    let now = now_secs();
    let account = challenge.email;
    let device = device::recognise(&state.keys.device, client.headers, &account, now);
    let reservation = reserve_attempt(state, &account, device, client.ip).await?;
    let policy = state.config.rate_limits.login_policy();

    let mut tx = crate::db::begin(&state.db).await?;
    let factor = match mfa::verify_code(&mut tx, &state.mfa_seal, challenge.user_id, code).await {
        Ok(factor) => factor,
        Err(e) => {
            state.limiter.release_login(reservation, &policy).await;
            return Err(e.into());
        }
    };
    let Some(factor) = factor else {
        drop(tx);
        audit::record(
            &state.db,
            Some(challenge.user_id),
            AuthAction::MfaFailed,
            Some(client.ip),
        )
        .await?;
        tracing::info!(user_id = %challenge.user_id, "second factor refused");
        return Err(refused_attempt(
            "invalid_code",
            "The code is not correct or was already used. Wait for the next code in your app, or use a recovery code.",
            &reservation,
        ));
    };
    state.limiter.release_login(reservation, &policy).await;
    let spent = sqlx::query!(
        r#"update mfa_challenges set used_at = now()
           where token_hash = $1 and used_at is null and expires_at > now()
           returning user_id"#,
        &token_hash
    )
    .fetch_optional(&mut *tx)
    .await?;
    if spent.is_none() {
        // Another request completed this challenge first; the code stays unspent.
        return Err(MFA_TOKEN_EXPIRED);
    }
    if factor == mfa::Factor::Recovery {
        audit::record(
            &mut *tx,
            Some(challenge.user_id),
            AuthAction::MfaRecoveryUsed,
            Some(client.ip),
        )
        .await?;
    }
    let user = sqlx::query_as!(
        UserRow,
        r#"select id, email::text as "email!", full_name, role, is_active, created_at
           from users where id = $1 and is_active"#,
        challenge.user_id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ACCOUNT_INACTIVE)?;
    tx.commit().await?;
    start_session(state, &client, user, &account, device, now, true).await
}

/// The account when `password` is right and the account active; [`ACCOUNT_INACTIVE`] when it is right
/// and the account deactivated; else [`INVALID_CREDENTIALS`] (audited) after the same argon2 work,
/// whether or not the email is known.
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
    let verified = state.passwords.verify_and_upgrade(password, stored).await;
    let matches = verified.matches;
    if let (Some(r), Some(upgraded)) = (&row, verified.upgraded) {
        // A hash made with older parameters, replaced by today's; only if it is still the one verified (a
        // password change meanwhile wins). A failure costs nothing but another rehash at the next login.
        let done = sqlx::query!(
            "update users set password_hash = $2 where id = $1 and password_hash = $3",
            r.id,
            upgraded,
            r.password_hash
        )
        .execute(&state.db)
        .await;
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not store an upgraded password hash");
        }
    }
    match row {
        Some(r) if matches && r.is_active => Ok(UserRow {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            role: r.role,
            is_active: r.is_active,
            created_at: r.created_at,
        }),
        Some(r) if matches => {
            audit::record(&state.db, Some(r.id), AuthAction::LoginFailed, Some(ip)).await?;
            tracing::info!(user_id = %r.id, "login refused: account deactivated");
            Err(ACCOUNT_INACTIVE)
        }
        other => {
            // The account concerned when the email is known (wrong password or deactivated), else none.
            audit::record(&state.db, other.map(|r| r.id), AuthAction::LoginFailed, Some(ip)).await?;
            tracing::info!("login failed");
            Err(INVALID_CREDENTIALS)
        }
    }
}

/// Spends `presented` and issues its successor; a reuse revokes the family and is audited.
pub async fn refresh(state: &AppState, presented: &str, client: &SessionClient) -> ApiResult<Rotation> {
    let mut tx = crate::db::begin(&state.db).await?;
    let outcome = tokens::rotate(&mut tx, &state.keys.refresh_seal, presented, client).await?;
    if matches!(outcome, Rotation::Reused) {
        audit::record_refresh_reuse(&mut *tx, &tokens::hash(presented)).await?;
    }
    // Commit in every case: a detected reuse must leave its family revoked.
    tx.commit().await?;
    Ok(outcome)
}
