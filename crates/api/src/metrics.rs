//! Prometheus metrics, served only on `METRICS_BIND` (a second listener `main.rs` opens), never on
//! the public port. The series and their recording helpers live here; the HTTP middleware is
//! `http::metrics`, the recorder and the text export `plumbing::prometheus` (shared with the ai service).
//!
//! Recording goes through the `metrics` facade, whose recorder is process-wide by design; it is
//! installed once, and only when `METRICS_BIND` is set (otherwise every `counter!` is a no-op).
//! Labels are bounded and never carry PHI: the matched route template (never the raw URI), the
//! method, the status, a provider name from a fixed list, an error code, a rule name.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use shared::ai::Usage;

use crate::state::AppState;

/// Latency buckets (seconds): from a cached health check to a long model reply.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Installs the Prometheus recorder (once per process) and returns the handle that renders it.
pub fn install() -> Option<PrometheusHandle> {
    plumbing::prometheus::install(BUCKETS, describe)
}

fn describe() {
    metrics::describe_counter!(
        "api_http_requests_total",
        "HTTP requests by matched route, method and status"
    );
    metrics::describe_histogram!(
        "api_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to the response head by matched route, method and status"
    );
    metrics::describe_gauge!(
        "api_db_pool_connections",
        "Database pool connections by state (in_use, idle)"
    );
    metrics::describe_gauge!("api_db_pool_max_connections", "Database pool size limit");
    // The one series without the `api_` prefix: CONTRACT.md names it `db_reads_total` (dashboards that
    // compare replicas across deployments query that name).
    metrics::describe_counter!(
        "db_reads_total",
        "Reads by the database that served them (target: primary, replica)"
    );
    metrics::describe_histogram!(
        "api_ai_call_duration_seconds",
        metrics::Unit::Seconds,
        "AI service calls by provider and outcome (ok or an error code)"
    );
    metrics::describe_counter!(
        "api_ai_call_errors_total",
        "Failed AI service calls by provider and code"
    );
    metrics::describe_counter!(
        "api_ai_tokens_total",
        "Model tokens by provider and direction (input, output)"
    );
    metrics::describe_counter!(
        "api_rate_limit_rejections_total",
        "Requests refused by a rate limit, by rule"
    );
    metrics::describe_gauge!(
        "api_redis_up",
        "1 when the rate-limit Redis answers, 0 when the api fails open"
    );
}

/// A provider name safe to use as a label (the AI service's answer is not trusted to be bounded).
fn provider_label(provider: &str) -> &'static str {
    match provider {
        "offline" => "offline",
        "gemini" => "gemini",
        "openai" => "openai",
        _ => "unknown",
    }
}

/// An error code safe to use as a label: the public codes are `[a-z_]`, anything else is folded.
fn code_label(code: &str) -> String {
    if !code.is_empty() && code.len() <= 40 && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        code.to_owned()
    } else {
        "other".to_owned()
    }
}

/// One AI call: latency and tokens on success, the error code otherwise (provider `unknown` when the
/// AI service did not say, as on a transport failure).
pub fn ai_call(provider: &str, elapsed: Duration, outcome: Result<Usage, &str>) {
    let provider = provider_label(provider);
    match outcome {
        Ok(usage) => {
            metrics::histogram!("api_ai_call_duration_seconds", "provider" => provider, "outcome" => "ok")
                .record(elapsed.as_secs_f64());
            metrics::counter!("api_ai_tokens_total", "provider" => provider, "direction" => "input")
                .increment(u64::from(usage.input_tokens));
            metrics::counter!("api_ai_tokens_total", "provider" => provider, "direction" => "output")
                .increment(u64::from(usage.output_tokens));
        }
        Err(code) => {
            let code = code_label(code);
            metrics::histogram!("api_ai_call_duration_seconds", "provider" => provider, "outcome" => code.clone())
                .record(elapsed.as_secs_f64());
            metrics::counter!("api_ai_call_errors_total", "provider" => provider, "code" => code).increment(1);
        }
    }
}

/// A request refused by the rule named `rule`.
pub fn rate_limited(rule: &'static str) {
    metrics::counter!("api_rate_limit_rejections_total", "rule" => rule).increment(1);
}

/// Redis (the shared rate-limit store) went up or down.
pub fn redis_up(up: bool) {
    metrics::gauge!("api_redis_up").set(if up { 1.0 } else { 0.0 });
}

/// The `/metrics` router (for the `METRICS_BIND` listener only).
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(scrape)).with_state(state)
}

/// Binds `METRICS_BIND` and serves it in the background.
pub async fn spawn(bind: SocketAddr, state: AppState) -> anyhow::Result<SocketAddr> {
    use anyhow::Context as _;
    plumbing::prometheus::spawn(bind, router(state))
        .await
        .with_context(|| format!("cannot listen on METRICS_BIND {bind}"))
}

/// Prometheus text. Gauges that describe "now" (pool, Redis) are refreshed at scrape time.
async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = state.metrics.as_ref() else {
        return (axum::http::StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response();
    };
    let size = state.db.size();
    let idle = u32::try_from(state.db.num_idle()).unwrap_or(u32::MAX);
    metrics::gauge!("api_db_pool_connections", "state" => "in_use").set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!("api_db_pool_connections", "state" => "idle").set(f64::from(idle));
    metrics::gauge!("api_db_pool_max_connections").set(f64::from(state.config.database_max_connections));
    if let Some(up) = state.limiter.redis_up() {
        redis_up(up);
    }
    plumbing::prometheus::render(handle)
}
