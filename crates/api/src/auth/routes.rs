//! `/auth/*` handlers. Thin: parse, call the token and password modules, shape the response.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use secrecy::SecretString;
use shared::api::{LoginRequest, RefreshRequest, RegisterRequest, Session, User};

use crate::audit::{self, AuthAction};
use crate::auth::jwt::ACCESS_TOKEN_TTL;
use crate::auth::tokens::{self, FAMILY_TTL, NewToken, Rotation};
use crate::auth::types::{Registration, UserRow, parse_role};
use crate::auth::{AuthUser, cookie, extractor::UNAUTHORIZED};
use crate::client_ip::{ClientIp, client_ip};
use crate::email::Email;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route_layer(middleware::from_fn_with_state(state.clone(), limit_per_ip))
}

/// Per-IP budget for every `/auth/*` request (credential stuffing and registration spam).
async fn limit_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let ip = client_ip(&parts, state.config.trust_forwarded_for);
    if let Err(retry) = state
        .limiter
        .hit(&format!("auth:ip:{ip}"), state.config.rate_limits.auth_per_ip)
        .await
    {
        return ApiError::RateLimited { retry_after: retry.0 }.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

const INVALID_CREDENTIALS: ApiError = ApiError::Unauthorized {
    code: "invalid_credentials",
    detail: "The email or password is incorrect.",
};

const INVALID_REFRESH: ApiError = ApiError::Unauthorized {
    code: "invalid_refresh_token",
    detail: "The refresh token is missing, expired or revoked. Sign in again.",
};

/// Create an account and sign in.
#[utoipa::path(operation_id = "register", post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "Signed in; the refresh token is also set as a cookie", body = Session),
        (status = 409, description = "`email_taken`", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::BodyErrors, crate::openapi::CommonErrors))]
pub async fn register(State(state): State<AppState>, Json(body): Json<RegisterRequest>) -> ApiResult<Response> {
    let registration = Registration::try_from(body)?;
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
    session_response(&state, StatusCode::CREATED, user, &refresh)
}

/// Sign in. A wrong password and an unknown email give the same 401 (`invalid_credentials`).
#[utoipa::path(operation_id = "login", post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Signed in", body = Session),
        (status = 401, description = "`invalid_credentials`", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::BodyErrors, crate::openapi::CommonErrors))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    // A malformed email cannot match an account; it is answered exactly like an unknown one.
    let email = Email::parse(&body.email).ok();
    let account = email
        .as_ref()
        .map_or_else(|| body.email.trim().to_lowercase(), |e| e.as_str().to_owned());
    let password = SecretString::from(body.password);
    let rules = state.config.rate_limits;
    let per_ip_key = format!("login-fail:ip:{ip}:{account}");
    let per_account_key = format!("login-fail:acct:{account}");
    // Locked accounts are refused before the password is even checked, so guessing gains nothing.
    for (key, rule) in [
        (&per_ip_key, rules.login_failures_per_ip),
        (&per_account_key, rules.login_failures_per_account),
    ] {
        if let Err(retry) = state.limiter.check(key, rule).await {
            tracing::warn!("login refused: too many failed attempts");
            return Err(ApiError::RateLimited { retry_after: retry.0 });
        }
    }

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
            let _ = state.limiter.hit(&per_ip_key, rules.login_failures_per_ip).await;
            let _ = state
                .limiter
                .hit(&per_account_key, rules.login_failures_per_account)
                .await;
            tracing::info!("login failed");
            return Err(INVALID_CREDENTIALS);
        }
    };
    let mut tx = state.db.begin().await?;
    let refresh = tokens::create_family(&mut tx, user.id).await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::Login, Some(ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "login succeeded");
    session_response(&state, StatusCode::OK, user, &refresh)
}

/// Exchange a refresh token (body or cookie) for a new session; the refresh token rotates. A reused token revokes its
/// whole family (`refresh_token_reused`).
#[utoipa::path(operation_id = "refreshSession", post, path = "/auth/refresh", tag = "auth", request_body(content = Option<RefreshRequest>, description = "Empty or `{}` when the cookie carries the token"),
    responses((status = 200, description = "A new session", body = Session),
        (status = 401, description = "`invalid_refresh_token` or `refresh_token_reused`", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::BodyErrors, crate::openapi::CommonErrors))]
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    let presented = presented_refresh_token(&headers, &body)?.ok_or(INVALID_REFRESH)?;
    let mut tx = state.db.begin().await?;
    let outcome = tokens::rotate(&mut tx, &presented).await?;
    if matches!(outcome, Rotation::Reused) {
        audit::record_refresh_reuse(&mut *tx, &tokens::hash(&presented)).await?;
    }
    // Commit in every case: a detected reuse must leave its family revoked.
    tx.commit().await?;
    match outcome {
        Rotation::Rotated { user, token } => session_response(&state, StatusCode::OK, user, &token),
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
    responses((status = 204, description = "Signed out"), crate::openapi::BodyErrors, crate::openapi::CommonErrors))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> ApiResult<Response> {
    if let Some(presented) = presented_refresh_token(&headers, &body)? {
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

/// The signed-in user.
#[utoipa::path(operation_id = "getMe", get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = User), crate::openapi::AuthErrors, crate::openapi::CommonErrors))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<User>> {
    let row = sqlx::query_as!(
        UserRow,
        r#"select id, email::text as "email!", full_name, role, is_active, created_at
           from users where id = $1 and is_active"#,
        user.id
    )
    .fetch_optional(&state.db)
    .await?
    .ok_or(UNAUTHORIZED)?;
    Ok(Json(row.into()))
}

/// The refresh token from the JSON body (`{"refreshToken": ...}`, non-browser clients) or else the
/// cookie (the browser app). An empty body is allowed.
fn presented_refresh_token(headers: &HeaderMap, body: &Bytes) -> ApiResult<Option<String>> {
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
            return Err(ApiError::UnsupportedMediaType);
        }
        let parsed: RefreshRequest = serde_json::from_slice(body).map_err(|e| {
            if e.is_data() {
                ApiError::bad_request("invalid_body", "The body may only hold `refreshToken` (a string).")
            } else {
                ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
            }
        })?;
        parsed.refresh_token.filter(|t| !t.is_empty())
    };
    Ok(from_body.or_else(|| cookie::read(headers)))
}

fn session_response(state: &AppState, status: StatusCode, user: UserRow, refresh: &NewToken) -> ApiResult<Response> {
    let now = chrono::Utc::now().timestamp();
    let role = parse_role(&user.role);
    let access_token = state.jwt.issue(user.id, role, now)?;
    let session = Session {
        access_token,
        token_type: "Bearer".to_owned(),
        expires_in: ACCESS_TOKEN_TTL.as_secs(),
        refresh_token: refresh.value.clone(),
        user: user.into(),
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
