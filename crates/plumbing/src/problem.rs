//! problem+json responses (RFC 9457), the same bytes and media type from both services.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::problem::PROBLEM_JSON;

use crate::request_id;

/// `problem` with the id of the request being served on this task (if any), so a user can quote it.
pub fn with_request_id(mut problem: Problem) -> Problem {
    if problem.request_id.is_none() {
        problem.request_id = request_id::current();
    }
    problem
}

/// Serialises a problem with the right media type.
pub fn response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
        body,
    )
        .into_response()
}

/// The generic 500 body: no cause reaches the client, only the request id to quote.
pub fn internal() -> Problem {
    with_request_id(Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR.as_u16(),
        "internal_error",
        "Internal server error",
        "Something went wrong on our side. Quote the request id when reporting it.",
    ))
}
