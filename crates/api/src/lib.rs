//! The public JSON API of the dental patient assistant.
//!
//! [`app`] builds the whole router; `main.rs` only reads the configuration and serves it, and the
//! integration tests drive the very same router.

pub mod admin;
pub mod ai_client;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod client_ip;
pub mod config;
pub mod db;
pub mod email;
pub mod error;
pub mod extract;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod patients;
pub mod ratelimit;
pub mod request_id;
pub mod security;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod web;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware;
use axum::routing::get;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

pub use crate::state::AppState as State;

/// Largest request body accepted (patient notes are at most 10,000 characters; this leaves room).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The complete application: `/api/v1/*`, the web app at `/`, and every cross-cutting layer.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .merge(auth::routes::router(&state))
        .merge(admin::router())
        .merge(patients::routes::router())
        .merge(chat::routes::router())
        .merge(openapi::router())
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            ratelimit::limit_per_client,
        ))
        // Outermost route layer: sees the matched route and every status, 429s included.
        .route_layer(middleware::from_fn(metrics::track_http));

    let request_timeout = state.config.ai_timeout + Duration::from_secs(15);
    Router::new()
        .nest("/api/v1", api)
        .merge(web::router(state.config.web_dir.as_deref()))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(request_timeout, security::timeout))
        .layer(security::cors(&state.config.cors_allowed_origins))
        .layer(middleware::from_fn(security::headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    // The matched route, never the raw URI: query strings may carry a patient's name.
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("unmatched", MatchedPath::as_str);
                    let request_id = request
                        .extensions()
                        .get::<request_id::RequestId>()
                        .map_or("", |id| id.0.as_str());
                    tracing::info_span!("request", method = %request.method(), route, request_id)
                })
                .on_response(
                    |response: &axum::response::Response, latency: Duration, _span: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
                            "response"
                        );
                    },
                )
                .on_failure(()),
        )
        .layer(middleware::from_fn(request_id::middleware))
        .with_state(state)
}
