//! The HTTP metrics middleware: requests counted and timed by matched route template, method and
//! status (a route layer, so the template is known; streams are timed to their head). The series are
//! described in `crate::metrics`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Counts and times every routed request by its route template (`/api/v1/patients/{id}`).
pub async fn track_http(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("api_http_requests_total", &labels).increment(1);
    metrics::histogram!("api_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
