//! `/auth/*` handlers. Thin: parse, call `auth::service` (or the token module), shape the response.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use plumbing::json::JsonRejection;
use secrecy::SecretString;
use shared::api::{LoginRequest, RefreshRequest, RegisterRequest, Session, SwitchClinicRequest, User};

use crate::auth::clinics;
use crate::auth::jwt::ACCESS_TOKEN_TTL;
use crate::auth::service::{self, LoginOutcome};
use crate::auth::sessions::SessionClient;
use crate::auth::tokens::{self, FAMILY_TTL, NewToken, Rotation};
use crate::auth::types::{Registration, UserRow, parse_role};
use crate::auth::{AuthUser, cookie, extractor::UNAUTHORIZED};
use crate::auth::{mfa, password_change, sessions};
use crate::http::client_ip::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::http::origin;
use crate::http::ratelimit::limit_auth_per_ip;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/switch-clinic", post(switch_clinic))
        .route("/auth/login/mfa", post(login_mfa))
        .merge(mfa::router())
        .merge(sessions::router())
        .merge(password_change::router())
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_auth_per_ip))
}

const INVALID_REFRESH: ApiError = ApiError::Unauthorized {
    code: "invalid_refresh_token",
    detail: "The refresh token is missing, expired or revoked. Sign in again.",
};

/// Create an account and sign in.
#[utoipa::path(operation_id = "register", post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "Signed in; the refresh token is also set as a cookie", body = Session),
        (status = 409, description = "`email_taken`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<Response> {
    let registration = Registration::try_from(body)?;
    let (user, refresh, clinic_id) = service::register(&state, registration, &SessionClient::new(ip, &headers)).await?;
    session_response(&state, StatusCode::CREATED, user, &refresh, clinic_id).await
}

/// Sign in. A wrong password and an unknown email give the same 401 (`invalid_credentials`, with
/// `remainingAttempts` once three or fewer remain); a deactivated account with the right password gets 403
/// `account_inactive`. Too many failed attempts give 429 `rate_limited` with `Retry-After` and a message
/// saying when to retry; a device that signed in before (its `device_*` cookie) is not held back by other
/// clients' failures. With two-step sign-in on, the answer is `{mfaRequired: true, mfaToken, expiresIn}` and
/// no session: `POST /auth/login/mfa` completes it.
#[utoipa::path(operation_id = "login", post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in (the refresh token and a known-device cookie are set), or `MfaChallenge` when a code is needed", body = LoginAnswer),
        (status = 401, description = "`invalid_credentials`; `remainingAttempts` when few remain", content_type = "application/problem+json", body = shared::Problem),
        (status = 403, description = "`account_inactive`: the password is right but the account is deactivated", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let client = service::LoginClient { ip, headers: &headers };
    match service::login(&state, client, &body.email, SecretString::from(body.password)).await? {
        LoginOutcome::SignedIn(signed_in) => signed_in_response(&state, signed_in).await,
        LoginOutcome::MfaRequired(challenge) => {
            let body = MfaChallenge {
                mfa_required: true,
                mfa_token: challenge.token,
                expires_in: challenge.expires_in.as_secs(),
            };
            let mut response = (StatusCode::OK, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
    }
}

/// `POST /auth/login` when the account has two-step sign-in on: no session yet.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaChallenge {
    /// Always `true`.
    pub mfa_required: bool,
    /// Single use, bound to the account; send it with a code to `POST /auth/login/mfa`.
    pub mfa_token: String,
    /// Seconds the `mfaToken` stays valid (300).
    pub expires_in: u64,
}

/// What `POST /auth/login` answers with 200 (for the OpenAPI description: a `Session` or an `MfaChallenge`).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum LoginAnswer {
    Session(Box<Session>),
    MfaChallenge(MfaChallenge),
}

/// `POST /auth/login/mfa`.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginMfaRequest {
    pub mfa_token: String,
    /// A six-digit code from the authenticator app, or an unused recovery code.
    pub code: String,
}

/// Complete a two-step sign-in: the `mfaToken` from `POST /auth/login` and a code. A TOTP code is accepted once;
/// a recovery code works once. A wrong code counts against the failed-sign-in limits like a wrong password.
#[utoipa::path(operation_id = "loginMfa", post, path = "/auth/login/mfa", tag = "auth", request_body = LoginMfaRequest,
    responses((status = 200, description = "Signed in; the refresh token and a known-device cookie are set", body = Session),
        (status = 401, description = "`invalid_code` (with `remainingAttempts` when few remain), or `mfa_token_expired`: start again from the password", content_type = "application/problem+json", body = shared::Problem),
        (status = 403, description = "`account_inactive`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn login_mfa(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginMfaRequest>,
) -> ApiResult<Response> {
    let client = service::LoginClient { ip, headers: &headers };
    let signed_in = service::login_mfa(&state, client, &body.mfa_token, &body.code).await?;
    signed_in_response(&state, signed_in).await
}

async fn signed_in_response(state: &AppState, signed_in: service::SignedIn) -> ApiResult<Response> {
    let mut response = session_response(
        state,
        StatusCode::OK,
        signed_in.user,
        &signed_in.refresh,
        signed_in.clinic_id,
    )
    .await?;
    response
        .headers_mut()
        .append(header::SET_COOKIE, signed_in.device_cookie);
    Ok(response)
}

/// Exchange a refresh token (body or cookie) for a new session; the refresh token rotates. A reused token revokes its
/// whole family (`refresh_token_reused`).
#[utoipa::path(operation_id = "refreshSession", post, path = "/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Empty or `{}` when the cookie carries the token"),
    responses((status = 200, description = "A new session", body = Session),
        (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused`", content_type = "application/problem+json", body = shared::Problem),
        (status = 403, description = "`bad_origin`: the cookie was sent from a page that is not the app's", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let presented = presented_refresh_token(&state, &headers, &body)?.ok_or(INVALID_REFRESH)?;
    match service::refresh(&state, &presented, &SessionClient::new(ip, &headers)).await? {
        Rotation::Rotated { user, token, clinic_id } => {
            session_response(&state, StatusCode::OK, user, &token, clinic_id).await
        }
        Rotation::Reused => {
            tracing::warn!("refresh token reuse detected; family revoked");
            Err(ApiError::Unauthorized {
                code: "refresh_token_reused",
                detail: "This refresh token was already used; every session from that sign-in has been ended. Sign in again.",
            })
        }
        Rotation::Invalid => Err(INVALID_REFRESH),
    }
}

/// Sign out: the refresh token's whole family is revoked and the cookie cleared. Idempotent.
#[utoipa::path(operation_id = "logout", post, path = "/auth/logout", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Empty or `{}` when the cookie carries the token"),
    responses((status = 204, description = "Signed out"),
        (status = 403, description = "`bad_origin`: the cookie was sent from a page that is not the app's", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    if let Some(presented) = presented_refresh_token(&state, &headers, &body)? {
        let mut conn = state.db.acquire().await?;
        if let Some(user_id) = tokens::revoke_by_token(&mut conn, &presented).await? {
            tracing::info!(%user_id, "logged out");
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie::clear(state.config.cookie_secure));
    Ok(response)
}

/// The signed-in user, with the active clinic (the token's, while still a member) and every clinic.
#[utoipa::path(operation_id = "getMe", get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = User), crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<User>> {
    let row = active_user(&state, user.id).await?;
    let mut conn = state.db.acquire().await?;
    let mut memberships = clinics::memberships(&mut conn, user.id, user.clinic_id).await?;
    // The active clinic is the token's; a token naming a clinic the user has left has none active.
    if memberships.active.as_ref().map(|c| c.id) != user.clinic_id {
        memberships.active = None;
    }
    Ok(Json(row.with_clinics(memberships)))
}

pub(crate) async fn active_user(state: &AppState, id: uuid::Uuid) -> ApiResult<UserRow> {
    sqlx::query_as!(
        UserRow,
        r#"select id, email::text as "email!", full_name, role, is_active, created_at
           from users where id = $1 and is_active"#,
        id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(UNAUTHORIZED)
}

/// Make another of the caller's clinics the active one: a new session (access and refresh token) naming it. The
/// refresh token presented with the request (body or cookie), if any, is revoked.
#[utoipa::path(operation_id = "switchClinic", post, path = "/auth/switch-clinic", tag = "auth", security(("bearer" = [])),
    request_body = SwitchClinicRequest,
    responses((status = 200, description = "A session for that clinic; the refresh token is also set as a cookie", body = Session),
        (status = 403, description = "`forbidden`: not a member of that clinic", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn switch_clinic(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<SwitchClinicRequest>,
) -> ApiResult<Response> {
    let row = active_user(&state, user.id).await?;
    let mut conn = state.db.acquire().await?;
    let memberships = clinics::memberships(&mut conn, user.id, Some(body.clinic_id)).await?;
    drop(conn);
    if memberships.active.as_ref().map(|c| c.id) != Some(body.clinic_id) {
        return Err(ApiError::Forbidden);
    }
    tracing::info!(user_id = %user.id, clinic_id = %body.clinic_id, "switched clinic");
    session_in_clinic(&state, &headers, &SessionClient::new(ip, &headers), row, body.clinic_id).await
}

/// A new session (refresh family) acting for `clinic_id`, replacing the one whose refresh cookie the request
/// carries, if any (a foreign origin's cookie is ignored, not revoked).
pub(crate) async fn session_in_clinic(
    state: &AppState,
    headers: &HeaderMap,
    client: &SessionClient,
    user: UserRow,
    clinic_id: uuid::Uuid,
) -> ApiResult<Response> {
    let mut tx = crate::db::begin(&state.db).await?;
    let previous =
        cookie::read(headers).filter(|_| origin::cookie_request_allowed(headers, &state.config.cors_allowed_origins));
    if let Some(previous) = previous {
        tokens::revoke_by_token(&mut tx, &previous).await?;
    }
    let refresh = tokens::create_family(&mut tx, user.id, Some(clinic_id), client).await?;
    tx.commit().await?;
    session_response(state, StatusCode::OK, user, &refresh, Some(clinic_id)).await
}

/// The refresh token from the JSON body (`{"refreshToken": ...}`, non-browser clients) or else the
/// cookie (the browser app). An empty body is allowed. A token taken from the cookie must come from
/// an allowed origin (`http::origin`): 403 `bad_origin` otherwise.
fn presented_refresh_token(state: &AppState, headers: &HeaderMap, body: &Bytes) -> ApiResult<Option<String>> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(JsonRejection::UnsupportedMediaType.into());
        }
        let parsed: RefreshRequest = serde_json::from_slice(body).map_err(|e| {
            if e.is_data() {
                JsonRejection::Invalid("The body may only hold `refreshToken` (a string).".to_owned())
            } else {
                JsonRejection::Malformed
            }
        })?;
        parsed.refresh_token.filter(|t| !t.is_empty())
    };
    if from_body.is_some() {
        return Ok(from_body);
    }
    let from_cookie = cookie::read(headers);
    if from_cookie.is_some() && !origin::cookie_request_allowed(headers, &state.config.cors_allowed_origins) {
        tracing::warn!("refresh cookie presented from a foreign origin; refused");
        return Err(ApiError::BadOrigin);
    }
    Ok(from_cookie)
}

/// The session body and cookies. The active clinic is `preferred` while the user is still a member of it, else the
/// most recently joined (or none).
async fn session_response(
    state: &AppState,
    status: StatusCode,
    user: UserRow,
    refresh: &NewToken,
    preferred: Option<uuid::Uuid>,
) -> ApiResult<Response> {
    let mut conn = state.db.acquire().await?;
    let memberships = clinics::memberships(&mut conn, user.id, preferred).await?;
    drop(conn);
    let now = chrono::Utc::now().timestamp();
    let role = parse_role(&user.role);
    let clinic = memberships.active.clone();
    let access_token = state.jwt.issue_in_session(
        user.id,
        role,
        clinic.as_ref().map(|c| c.id),
        Some(refresh.family_id),
        now,
    )?;
    let session = Session {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        refresh_token: refresh.value.clone(),
        user: user.with_clinics(memberships),
        clinic,
    };
    let max_age = i64::try_from(FAMILY_TTL.as_secs()).unwrap_or(i64::MAX);
    let mut response = (status, Json(session)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie::set(&refresh.value, max_age, state.config.cookie_secure),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
