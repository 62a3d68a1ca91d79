//! The public JSON API of the dental patient assistant.
//!
//! [`app`] builds the whole router; `main.rs` only reads the configuration and serves it, and the
//! integration tests drive the very same router.
//!
//! Layout: the capabilities (`auth`, `patients`, `chat`, `admin`, `audit`, `health`, `ratelimit`, `portability`),
//! each owning its routes, service, queries and types; `http` for what every route shares (errors,
//! extractors, middleware, static files, OpenAPI); `domain` for value types several capabilities
//! parse; and at the top the process: `config`, `state`, `db`, `serve`, `telemetry`, `metrics`, and
//! `ai_client` (the one outbound client).

pub mod admin;
pub mod ai_client;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod clinic;
pub mod config;
pub mod db;
pub mod domain;
pub mod health;
pub mod http;
pub mod metrics;
pub mod patients;
pub mod portability;
pub mod ratelimit;
pub mod retention;
pub mod serve;
pub mod state;
pub mod stats;
pub mod telemetry;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::get;

use crate::http::error::ApiError;
use crate::state::AppState;

pub use crate::state::AppState as State;

/// Largest request body accepted (patient notes are at most 10,000 characters; this leaves room).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The complete application: `/api/v1/*`, the web app at `/`, and every cross-cutting layer.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .merge(auth::routes::router(&state))
        .merge(admin::routes::router())
        .merge(patients::routes::router())
        .merge(patients::trash::router())
        .merge(audit::access_log::router())
        .merge(stats::router())
        .merge(chat::routes::router())
        .merge(clinic::routes::router())
        .merge(portability::routes::router())
        .merge(http::openapi::router())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::ratelimit::limit_per_client,
        ))
        // Outermost route layer: sees the matched route and every status, 429s included.
        .route_layer(middleware::from_fn(http::metrics::track_http));

    let request_timeout = state.config.ai_timeout + Duration::from_secs(15);
    Router::new()
        .nest("/api/v1", api)
        .merge(http::web::router(state.config.web_dir.as_deref()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Inside the request-id scope, so the 500 quotes the id; inside the headers and the trace.
        .layer(plumbing::panic::layer())
        .layer(middleware::from_fn_with_state(request_timeout, http::security::timeout))
        .layer(http::security::cors(&state.config.cors_allowed_origins))
        .layer(middleware::from_fn(http::security::headers))
        .layer(http::trace::layer())
        .layer(middleware::from_fn(plumbing::request_id::middleware))
        .with_state(state)
}
