//! Extractor wrappers whose rejections are problem+json like every other error.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// `axum::Json` with problem+json rejections: 415 for a wrong content type, 400 for malformed JSON,
/// 422 for a well-formed body with a wrong or unknown field (with the field named).
#[derive(Debug, Clone, Copy, Default, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::JsonDataError(e) => {
                // serde's message names the field and what was wrong with it (never the value's content
                // beyond its type), e.g. "unknown field `foo`, expected one of ...".
                let detail = std::error::Error::source(&e).map_or_else(|| e.body_text(), ToString::to_string);
                ApiError::bad_request("invalid_body", without_quoted_values(&detail))
            }
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::bad_request("malformed_json", "The request body is not valid JSON.")
            }
            JsonRejection::BytesRejection(e) => {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::bad_request("unreadable_body", "The request body could not be read.")
                }
            }
            _ => ApiError::bad_request("invalid_body", "The request body could not be read."),
        }
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

/// serde quotes the offending value in some messages (`invalid type: string "Jane", expected ...`);
/// what a user typed (possibly PHI) is not echoed in errors, so quoted values are dropped.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut in_quotes = false;
    for c in message.chars() {
        if c == '"' {
            if !in_quotes {
                out.push_str("(value)");
            }
            in_quotes = !in_quotes;
        } else if !in_quotes {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::without_quoted_values;

    #[test]
    fn quoted_values_are_removed_from_serde_messages() {
        assert_eq!(
            without_quoted_values("invalid type: string \"Jane Doe\", expected u32 at line 1 column 9"),
            "invalid type: string (value), expected u32 at line 1 column 9"
        );
        assert_eq!(without_quoted_values("unknown field `foo`"), "unknown field `foo`");
    }
}
