//! The one error type of the service and its problem+json rendering.
//!
//! Every non-2xx response is an RFC 9457 body (`shared::Problem`) with a stable `code` and the
//! `requestId` of the request (from the request-id task-local, as in the api).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plumbing::json::JsonRejection;
use shared::{FieldError, Problem};

use crate::providers::UpstreamError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// The body was not the JSON the route takes (the codes both services share).
    #[error("unusable JSON body: {0}")]
    Body(#[from] JsonRejection),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl AppError {
    /// Status, stable code, title and client-facing detail.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "Send Authorization: Bearer <AI_SERVICE_TOKEN>.".to_owned(),
            ),
            Self::Body(rejection) => rejection.parts(),
            Self::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
                "One or more fields are invalid.".to_owned(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "No such route.".to_owned(),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
                "This route does not accept that method.".to_owned(),
            ),
            Self::Upstream(err) => {
                let (status, title, detail) = match err {
                    UpstreamError::RateLimited { .. } => (
                        StatusCode::TOO_MANY_REQUESTS,
                        "Model rate limited",
                        "The model provider is rate limiting requests; retry after the indicated delay.",
                    ),
                    UpstreamError::Unavailable(_) => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Model unavailable",
                        "The model provider is overloaded or unavailable; try again shortly.",
                    ),
                    UpstreamError::Timeout => (
                        StatusCode::GATEWAY_TIMEOUT,
                        "Model timeout",
                        "The model did not answer in time.",
                    ),
                    UpstreamError::BadGateway(_) => (
                        StatusCode::BAD_GATEWAY,
                        "Model error",
                        "The model provider returned an unusable answer.",
                    ),
                };
                (status, err.code(), title, detail.to_owned())
            }
        }
    }

    /// The problem body this error renders to, with the current request id.
    pub fn problem(&self) -> Problem {
        let (status, code, title, detail) = self.parts();
        let mut problem = Problem::new(status.as_u16(), code, title, detail);
        if let Self::Validation(errors) = self {
            problem.errors = Some(errors.clone());
        }
        plumbing::problem::with_request_id(problem)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status >= 500 {
            tracing::warn!(code = %problem.code, error = %self, "request failed");
        }
        let extra = match &self {
            Self::Unauthorized => Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))),
            Self::Upstream(UpstreamError::RateLimited { retry_after_secs }) => {
                Some((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)))
            }
            _ => None,
        };
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = plumbing::problem::response(status, &problem);
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
