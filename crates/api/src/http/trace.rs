//! The request span and the response log line (`TraceLayer`).

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use plumbing::request_id::RequestId;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, MakeSpan, OnResponse, TraceLayer};

/// One span per request carrying the method, the matched route and the request id, and one
/// `response` line with the status and latency.
pub fn layer() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    RequestSpan,
    DefaultOnRequest,
    ResponseLog,
    DefaultOnBodyChunk,
    DefaultOnEos,
    (),
> {
    TraceLayer::new_for_http()
        .make_span_with(RequestSpan)
        .on_response(ResponseLog)
        .on_failure(())
}

#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        // The matched route, never the raw URI: query strings may carry a patient's name.
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        let request_id = request.extensions().get::<RequestId>().map_or("", |id| id.0.as_str());
        tracing::info_span!("request", method = %request.method(), route, request_id)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ResponseLog;

impl<B> OnResponse<B> for ResponseLog {
    fn on_response(self, response: &Response<B>, latency: Duration, _span: &tracing::Span) {
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            "response"
        );
    }
}
