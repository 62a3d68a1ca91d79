//! `GET`/`HEAD /api/v1/health`: for uptime monitors and load balancers. Checks the database and the AI
//! service with short timeouts, concurrently, and answers 503 (same body shape) when either is down.
//!
//! Redis (only when `REDIS_URL` is set) is reported as `checks.redis` but never makes the answer 503:
//! the api fails open without it (rate limits fall back to per-instance counting), so a load balancer
//! must keep sending traffic. The same holds for `checks.replica` (only with `DATABASE_REPLICA_URL`): reads fall
//! back to the primary while the replica is `down` or `lagging`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use shared::api::{Health, HealthChecks};

use crate::http::extract::Json;
use crate::state::AppState;

const DB_TIMEOUT: Duration = Duration::from_secs(2);

/// Health of the api and its dependencies (database, AI service). `HEAD` answers the same status. `checks.redis`
/// appears only when Redis is configured and never causes a 503 (rate limits fail open without it); `checks.replica`
/// only with a read replica, never a 503 either (reads go to the primary meanwhile).
#[utoipa::path(operation_id = "getHealth", get, path = "/health", tag = "health",
    responses(
        (status = 200, description = "Everything is up", body = Health),
        (status = 503, description = "A dependency is down; `checks` names it", body = Health),
        (status = 429, description = "Rate limited", content_type = "application/problem+json", body = shared::Problem),
    ))]
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let database = async {
        match tokio::time::timeout(DB_TIMEOUT, sqlx::query!("select 1 as one").fetch_one(&state.db)).await {
            Ok(Ok(_)) => "ok",
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "health: database check failed");
                "unreachable"
            }
            Err(_) => "timeout",
        }
    };
    let ai = async { state.ai.health().await.map_or_else(|reason| reason, |()| "ok") };
    let (database, ai, redis, replica) = tokio::join!(database, ai, state.limiter.redis_health(), state.reads.health());
    let healthy = database == "ok" && ai == "ok";
    let body = Health {
        status: if healthy { "ok" } else { "degraded" }.to_owned(),
        checks: HealthChecks {
            database: database.to_owned(),
            ai: ai.to_owned(),
            redis: redis.map(str::to_owned),
            replica: replica.map(str::to_owned),
        },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
