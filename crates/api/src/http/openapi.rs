//! The OpenAPI 3.1 description, generated from the handlers' annotations and the wire types, and the
//! interactive docs page (Swagger UI, vendored under `assets/`, so the page loads nothing from the internet).

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use shared::Problem;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dental patient assistant API",
        version = "1.0.0",
        description = "Clinic staff keep their own patients' records and chat about each patient with an AI dental \
assistant. All bodies are JSON (camelCase); every error is `application/problem+json` with a stable `code` \
(see README.md for the list). Every response carries `x-request-id`. Access tokens are 15-minute bearer JWTs; \
refresh tokens rotate and are also set as an HttpOnly cookie scoped to /api/v1/auth. Rate-limited requests get 429 \
with `Retry-After`. Another user's patient is indistinguishable from one that does not exist (404)."
    ),
    servers((url = "/api/v1")),
    paths(
        crate::health::health,
        crate::auth::routes::register,
        crate::auth::routes::login,
        crate::auth::routes::refresh,
        crate::auth::routes::logout,
        crate::auth::routes::me,
        crate::admin::routes::list_users,
        crate::admin::routes::update_user,
        crate::admin::routes::list_audit_events,
        crate::patients::routes::create,
        crate::patients::routes::list,
        crate::patients::routes::read,
        crate::patients::routes::update,
        crate::patients::routes::remove,
        crate::chat::routes::list,
        crate::chat::routes::send,
        crate::chat::routes::stream,
        crate::chat::routes::reply,
        openapi_json,
        docs,
    ),
    components(schemas(shared::ai::StreamDelta, shared::ai::StreamError, shared::api::StreamDonePublic, shared::api::ChatMessage)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "For uptime monitors"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "admin", description = "Administration (admins only)"),
        (name = "patients", description = "The caller's patients"),
        (name = "chat", description = "Chat with the AI dental assistant about a patient"),
        (name = "docs", description = "This description"),
    )
)]
pub struct ApiDoc;

/// One Server-Sent Event of `POST /patients/{id}/messages/stream`. `data` is one line of JSON: the saved
/// `ChatMessage` for `user`, a `StreamDelta` for each `delta`, then exactly one `StreamDonePublic` (`done`) or
/// `StreamError` (`error`). Comment lines (`:`) are keep-alives.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ChatStreamEvent {
    pub event: ChatStreamEventType,
    /// The event's JSON payload, as text.
    #[schema(content_media_type = "application/json")]
    pub data: String,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ChatStreamEventType {
    User,
    Delta,
    Done,
    Error,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Errors every route can give.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum CommonErrors {
    /// Too many requests; retry after `Retry-After` seconds.
    #[response(status = 429, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait")))]
    RateLimited(Problem),
    /// Unexpected failure; the cause is logged under the request id.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(Problem),
    /// A dependency (database) is unavailable; retry shortly.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// Errors of routes that need a bearer token.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum AuthErrors {
    /// Missing, malformed, expired or revoked access token (`invalid_token`).
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
}

/// Errors of routes that read a JSON body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum BodyErrors {
    /// Malformed JSON, a wrong type or an unknown field (`malformed_json`, `invalid_body`), or a bad parameter.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// The body is larger than 1 MiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// A field failed its rule; `errors` names each failing field (`validation_failed`).
    #[response(status = 422, content_type = "application/problem+json")]
    Validation(Problem),
}

/// Errors of routes with path or query parameters.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ParamErrors {
    /// A malformed id or query parameter (`invalid_path`, `invalid_query`).
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Unknown, or another user's (`not_found`).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// A parameter is out of range (`validation_failed`).
    #[response(status = 422, content_type = "application/problem+json")]
    Validation(Problem),
}

/// Errors of the routes that call the AI service.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum AiErrors {
    /// The AI service failed (`ai_bad_gateway`); the user's message is saved.
    #[response(status = 502, content_type = "application/problem+json")]
    BadGateway(Problem),
    /// The AI service took too long (`ai_timeout`); the user's message is saved.
    #[response(status = 504, content_type = "application/problem+json")]
    Timeout(Problem),
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
        .route("/docs/swagger-ui-bundle.js", get(swagger_js))
        .route("/docs/swagger-ui.css", get(swagger_css))
        .route("/docs/init.js", get(init_js))
}

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(operation_id = "getOpenApi", get, path = "/openapi.json", tag = "docs",
    responses((status = 200, description = "The OpenAPI 3.1 description", content_type = "application/json", body = Object), CommonErrors))]
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}

/// Interactive documentation (Swagger UI served by this API; nothing is loaded from the internet).
#[utoipa::path(operation_id = "getDocs", get, path = "/docs", tag = "docs",
    responses((status = 200, description = "The docs page", content_type = "text/html", body = String), CommonErrors))]
pub async fn docs() -> impl IntoResponse {
    static_file("text/html; charset=utf-8", DOCS_HTML.as_bytes())
}

const DOCS_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Dental patient assistant API</title>
<link rel="stylesheet" href="/api/v1/docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/api/v1/docs/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/init.js"></script>
</body>
</html>
"#;

const INIT_JS: &str = "window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#swagger-ui', \
deepLinking: true, validatorUrl: null, persistAuthorization: false });\n";

async fn swagger_js() -> impl IntoResponse {
    static_file(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js"),
    )
}

async fn swagger_css() -> impl IntoResponse {
    static_file(
        "text/css; charset=utf-8",
        include_bytes!("../../assets/swagger-ui/swagger-ui.css"),
    )
}

async fn init_js() -> impl IntoResponse {
    static_file("text/javascript; charset=utf-8", INIT_JS.as_bytes())
}

fn static_file(content_type: &'static str, body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        body,
    )
}
