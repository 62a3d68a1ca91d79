//! The api's one error type. Every failure a handler can meet ends here and leaves as
//! `application/problem+json` with a stable `code`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plumbing::json::JsonRejection;
use shared::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body or a parameter could not be read.
    #[error("bad request: {code}")]
    BadRequest { code: &'static str, detail: String },
    /// 422: fields failed their rules; every failing field is named.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {code}")]
    Unauthorized { code: &'static str, detail: &'static str },
    /// 401 for a wrong password or code at sign-in, saying how many attempts remain when few do.
    #[error("credentials refused: {code}")]
    CredentialsRefused {
        code: &'static str,
        detail: &'static str,
        remaining_attempts: Option<u32>,
    },
    #[error("forbidden")]
    Forbidden,
    /// 403 with a more precise code: `no_clinic`, `forbidden_field`, `registration_closed`.
    #[error("forbidden: {code}")]
    ForbiddenCode { code: &'static str, detail: &'static str },
    /// 403 `bad_origin`: a cookie-authenticated request from a page that is not the app's.
    #[error("bad origin")]
    BadOrigin,
    #[error("not found")]
    NotFound,
    /// No route matches the path (the router's fallback).
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {code}")]
    Conflict { code: &'static str, detail: String },
    /// 409 `possible_duplicate`: a new patient looks like these existing ones (`duplicates` in the body).
    #[error("possible duplicate")]
    PossibleDuplicate(Vec<uuid::Uuid>),
    /// The body was not the JSON the route takes: 400, 413 or 415 with the codes both services share.
    #[error("unusable JSON body: {0}")]
    Body(#[from] JsonRejection),
    /// 413 past a route's own limit (the import's 10 MiB and 50,000 rows: `payload_too_large`, `too_many_rows`).
    #[error("payload too large: {code}")]
    TooLarge { code: &'static str, detail: String },
    /// 415 `unsupported_media_type` from a route that takes other media types than JSON (the import).
    #[error("unsupported media type")]
    UnsupportedMediaType { detail: &'static str },
    /// 422 `import_invalid`: rows of an import failed, so none was inserted; the body is the problem and the report.
    #[error("import invalid")]
    ImportInvalid(Box<shared::records::ImportReport>),
    #[error("rate limited")]
    RateLimited { retry_after: Duration },
    /// 429 `rate_limited` for a sign-in held back by the failed-login policy, saying when to retry.
    #[error("sign-in held back")]
    LoginLocked { retry_after: Duration, scope: LockScope },
    /// The AI service failed: 502/503/504 (or 429 passed on from the model) with a precise code.
    #[error("ai upstream: {code}")]
    Upstream {
        status: StatusCode,
        code: &'static str,
        detail: &'static str,
        retry_after: Option<Duration>,
    },
    /// A dependency (database) is unreachable right now: 503, the client may retry.
    #[error("service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// Anything else: 500, a generic message; the cause is logged with its whole chain.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Which failed-login rule held a sign-in back (`ratelimit::login`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockScope {
    /// This device or network used up its failures on the account.
    Client,
    /// The account has many recent failures; clients it does not know wait.
    Account,
}

impl ApiError {
    pub fn validation(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    /// The status, code, title and client-facing detail of this error.
    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        match self {
            ApiError::BadRequest { code, detail } => (StatusCode::BAD_REQUEST, code, "Bad request", detail.clone()),
            ApiError::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Validation failed",
                format!(
                    "{} field(s) failed validation: {}",
                    errors.len(),
                    errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ),
            ApiError::Unauthorized { code, detail } | ApiError::CredentialsRefused { code, detail, .. } => {
                (StatusCode::UNAUTHORIZED, code, "Unauthorized", (*detail).to_owned())
            }
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Forbidden",
                "You are signed in but not allowed to do this.".to_owned(),
            ),
            ApiError::ForbiddenCode { code, detail } => {
                (StatusCode::FORBIDDEN, code, "Forbidden", (*detail).to_owned())
            }
            ApiError::BadOrigin => (
                StatusCode::FORBIDDEN,
                "bad_origin",
                "Forbidden",
                "This request came from a page that is not allowed to use the sign-in cookie.".to_owned(),
            ),
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "No such resource.".to_owned(),
            ),
            ApiError::RouteNotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not found",
                "No such route. The API lives under /api/v1; see /api/v1/docs.".to_owned(),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
                "This route does not support that method.".to_owned(),
            ),
            ApiError::Conflict { code, detail } => (StatusCode::CONFLICT, code, "Conflict", detail.clone()),
            ApiError::PossibleDuplicate(ids) => (
                StatusCode::CONFLICT,
                "possible_duplicate",
                "Possible duplicate",
                format!(
                    "{} patient(s) in this clinic have the same email, or the same name and date of birth. Open one of them, or send again with ?confirmDuplicate=true to save anyway.",
                    ids.len()
                ),
            ),
            ApiError::Body(rejection) => rejection.parts(),
            ApiError::TooLarge { code, detail } => {
                (StatusCode::PAYLOAD_TOO_LARGE, code, "Payload too large", detail.clone())
            }
            ApiError::UnsupportedMediaType { detail } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
                (*detail).to_owned(),
            ),
            ApiError::ImportInvalid(report) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "import_invalid",
                "Import refused",
                format!(
                    "{} of {} row(s) failed (see errors); nothing was imported. Correct the file and send it again.",
                    report.invalid, report.rows
                ),
            ),
            ApiError::RateLimited { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
                format!("Too many requests; retry after {} second(s).", retry_secs(*retry_after)),
            ),
            ApiError::LoginLocked { retry_after, scope } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many failed sign-ins",
                match scope {
                    LockScope::Client => format!(
                        "Too many failed sign-in attempts for this account from this device or network. Try again in {}. If you cannot sign in, your clinic's owner can help.",
                        when(*retry_after)
                    ),
                    LockScope::Account => format!(
                        "Too many failed sign-in attempts for this account. Try again in {}, or sign in from a device you have signed in from before. If you cannot sign in, your clinic's owner can help.",
                        when(*retry_after)
                    ),
                },
            ),
            ApiError::Upstream {
                status, code, detail, ..
            } => (*status, code, "AI service error", (*detail).to_owned()),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Service unavailable",
                "A dependency is unavailable; please retry shortly.".to_owned(),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal server error",
                "Something went wrong on our side. Quote the request id when reporting it.".to_owned(),
            ),
        }
    }

    /// The problem body for this error (also used for SSE `error` events).
    pub fn to_problem(&self) -> Problem {
        let (status, code, title, detail) = self.parts();
        let mut problem = Problem::new(status.as_u16(), code, title, detail);
        if let ApiError::Validation(errors) = self {
            problem.errors = Some(errors.clone());
        }
        if let ApiError::PossibleDuplicate(ids) = self {
            problem.duplicates = Some(ids.clone());
        }
        if let ApiError::CredentialsRefused { remaining_attempts, .. } = self {
            problem.remaining_attempts = *remaining_attempts;
        }
        plumbing::problem::with_request_id(problem)
    }
}

fn retry_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// "42 seconds (after 14:03:12 UTC)" or "15 minutes (after 14:18 UTC)".
fn when(d: Duration) -> String {
    let secs = retry_secs(d).max(1);
    let at = chrono::Utc::now() + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX / 1000));
    if secs < 120 {
        let unit = if secs == 1 { "second" } else { "seconds" };
        format!("{secs} {unit} (after {} UTC)", at.format("%H:%M:%S"))
    } else {
        format!("{} minutes (after {} UTC)", secs.div_ceil(60), at.format("%H:%M"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Internal(e) => tracing::error!(error = ?e, "request failed"),
            ApiError::Unavailable(e) => tracing::warn!(error = ?e, "dependency unavailable"),
            _ => {}
        }
        let problem = self.to_problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match &self {
            ApiError::ImportInvalid(report) => with_report(status, &problem, report),
            _ => plumbing::problem::response(status, &problem),
        };
        let retry_after = match &self {
            ApiError::RateLimited { retry_after } | ApiError::LoginLocked { retry_after, .. } => Some(*retry_after),
            ApiError::Upstream { retry_after, .. } => *retry_after,
            _ => None,
        };
        if let Some(d) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_secs(d).max(1)));
        }
        if matches!(self, ApiError::RouteNotFound | ApiError::MethodNotAllowed) {
            // Lets the route-coverage test tell "no such route" from a handler's 404.
            response.extensions_mut().insert(UnmatchedRoute);
        }
        if matches!(
            self,
            ApiError::Unauthorized { .. } | ApiError::CredentialsRefused { .. }
        ) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The 422 `import_invalid` body: the problem's members and the report's side by side, so a client reads it as
/// either (the problem's own `errors` is absent; the report's, with row numbers, takes its place).
fn with_report(status: StatusCode, problem: &Problem, report: &shared::records::ImportReport) -> Response {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        #[serde(flatten)]
        problem: &'a Problem,
        #[serde(flatten)]
        report: &'a shared::records::ImportReport,
    }
    let body = serde_json::to_vec(&Body { problem, report }).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(shared::problem::PROBLEM_JSON),
        )],
        body,
    )
        .into_response()
}

/// Marks a response produced by the router's fallbacks (unknown path or method).
#[derive(Debug, Clone, Copy)]
pub struct UnmatchedRoute;

/// A database error as it may be logged: the SQLSTATE, the constraint and the table, never the
/// message or the detail, which quote values (`Failing row contains (...)`, `Key (email)=(...)`,
/// `invalid input syntax for type uuid: "..."`), so patient data cannot reach the logs through them.
#[derive(Debug, thiserror::Error)]
#[error("database error {code} (constraint {constraint}, table {table})")]
pub struct DbError {
    pub code: String,
    pub constraint: String,
    pub table: String,
}

impl DbError {
    fn of(db: &dyn sqlx::error::DatabaseError) -> Self {
        let or_dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
        Self {
            code: or_dash(db.code().as_deref()),
            constraint: or_dash(db.constraint()),
            table: or_dash(db.table()),
        }
    }
}

/// What of a non-database sqlx error may be logged: decoding and encoding errors may quote a value,
/// so only their kind is kept.
fn loggable(e: sqlx::Error) -> anyhow::Error {
    match e {
        sqlx::Error::ColumnDecode { index, .. } => anyhow::anyhow!("could not decode column {index}"),
        sqlx::Error::Decode(_) => anyhow::anyhow!("could not decode a value"),
        sqlx::Error::Encode(_) => anyhow::anyhow!("could not encode a value"),
        other => other.into(),
    }
}

/// A sqlx error as background work (no response to render) may log it: see [`DbError`].
pub fn log_safe(e: sqlx::Error) -> anyhow::Error {
    match &e {
        sqlx::Error::Database(db) => DbError::of(db.as_ref()).into(),
        _ => loggable(e),
    }
}

/// Database facts that are client errors map here, in one place.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => ApiError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => ApiError::Unavailable(e.into()),
            sqlx::Error::Database(db) => match (db.code().as_deref(), db.constraint()) {
                (Some("23505"), Some("users_email_key")) => {
                    ApiError::conflict("email_taken", "An account with this email already exists.")
                }
                (Some("23505"), Some("chat_messages_reply_to_key")) => {
                    ApiError::conflict("already_answered", "This message already has a reply.")
                }
                // The server is shutting down or restarting: the client may retry.
                (Some(code), _) if code.starts_with("57P") || code.starts_with("08") => {
                    ApiError::Unavailable(DbError::of(db.as_ref()).into())
                }
                _ => ApiError::Internal(DbError::of(db.as_ref()).into()),
            },
            _ => ApiError::Internal(loggable(e)),
        }
    }
}
