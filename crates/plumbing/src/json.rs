//! The JSON body extractor both services use, with one set of rejection codes: 415
//! `unsupported_media_type` for a wrong content type, 400 `malformed_json` for bytes that are not
//! JSON, 400 `invalid_body` for well-formed JSON with a wrong or unknown field (the field named),
//! 413 `payload_too_large` past the body limit, 400 `unreadable_body` when the bytes could not be read.
//!
//! Each service turns a [`JsonRejection`] into its own error enum (`From`), which renders
//! [`JsonRejection::parts`]; the classification and the wording live here only.

use axum::extract::rejection::JsonRejection as AxumJsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::Problem;

use crate::problem;

/// `axum::Json` whose rejection is a [`JsonRejection`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = JsonRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(JsonRejection::from(rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Why a JSON body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonRejection {
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("malformed JSON")]
    Malformed,
    /// Well-formed, but a field is wrong or unknown; the detail says which (never the value).
    #[error("invalid body")]
    Invalid(String),
    #[error("payload too large")]
    TooLarge,
    #[error("unreadable body")]
    Unreadable,
}

impl JsonRejection {
    /// Status, stable code, title and client-facing detail.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        match self {
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as JSON with Content-Type: application/json.".to_owned(),
            ),
            Self::Malformed => (
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "Bad request",
                "The request body is not valid JSON.".to_owned(),
            ),
            Self::Invalid(detail) => (StatusCode::BAD_REQUEST, "invalid_body", "Bad request", detail.clone()),
            Self::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload too large",
                "The request body is larger than this API accepts.".to_owned(),
            ),
            Self::Unreadable => (
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "Bad request",
                "The request body could not be read.".to_owned(),
            ),
        }
    }

    /// The problem body, with the current request id.
    pub fn to_problem(&self) -> Problem {
        let (status, code, title, detail) = self.parts();
        problem::with_request_id(Problem::new(status.as_u16(), code, title, detail))
    }
}

impl From<AxumJsonRejection> for JsonRejection {
    fn from(rejection: AxumJsonRejection) -> Self {
        match rejection {
            AxumJsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            AxumJsonRejection::JsonDataError(e) => {
                // serde's message names the field and what was wrong with it (never the value's content
                // beyond its type), e.g. "unknown field `foo`, expected one of ...".
                let detail = std::error::Error::source(&e).map_or_else(|| e.body_text(), ToString::to_string);
                Self::Invalid(without_quoted_values(&detail))
            }
            AxumJsonRejection::JsonSyntaxError(_) => Self::Malformed,
            AxumJsonRejection::BytesRejection(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Self::TooLarge
                } else {
                    Self::Unreadable
                }
            }
            _ => Self::Invalid("The request body could not be read.".to_owned()),
        }
    }
}

impl IntoResponse for JsonRejection {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        problem::response(self.parts().0, &problem)
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
