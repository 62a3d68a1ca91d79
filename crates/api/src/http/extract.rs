//! Extractor wrappers whose rejections are problem+json like every other error.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

/// The JSON body extractor shared with the ai service (`plumbing::json`): 415 for a wrong content
/// type, 400 for malformed JSON (`malformed_json`) or a well-formed body with a wrong or unknown field
/// (`invalid_body`, with the field named), 413 past the body limit; rejected into [`ApiError`].
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(plumbing::json::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Path` with problem+json rejections (a malformed id is 400, not a 500 or plain text).
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        match rejection {
            PathRejection::FailedToDeserializePathParams(e) => {
                ApiError::bad_request("invalid_path", format!("Invalid path parameter: {}", e.body_text()))
            }
            _ => ApiError::bad_request("invalid_path", "Invalid path parameter."),
        }
    }
}

/// `axum::extract::Query` with problem+json rejections.
#[derive(Debug, Clone, Copy, Default, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(
            "invalid_query",
            format!("Invalid query string: {}", rejection.body_text()),
        )
    }
}
