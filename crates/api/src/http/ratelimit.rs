//! The rate-limit middleware: the global budget of every client, and the per-IP budget of `/auth/*`.
//! The counting itself is `crate::ratelimit::Limiter`.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};

use crate::http::client_ip::client_ip;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The global budget of one client: the signed-in user when the bearer token verifies, else the IP.
pub async fn limit_per_client(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let key = match crate::auth::extractor::bearer(&parts).and_then(|t| state.jwt.verify(t)) {
        Some(claims) => format!("global:user:{}", claims.sub),
        None => format!("global:ip:{}", client_ip(&parts, state.config.trust_forwarded_for)),
    };
    if let Err(retry) = state
        .limiter
        .hit(&key, state.config.rate_limits.global_per_client)
        .await
    {
        return ApiError::RateLimited { retry_after: retry.0 }.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Per-IP budget for every `/auth/*` request (credential stuffing and registration spam).
pub async fn limit_auth_per_ip(State(state): State<AppState>, request: Request, next: Next) -> Response {
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
