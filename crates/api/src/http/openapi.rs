//! The OpenAPI 3.1 description, generated from the handlers' annotations and the wire types, and the
//! interactive docs page (Swagger UI, vendored under `assets/swagger-ui/`, so the page loads nothing from the
//! internet; the page, its set-up and its accessible colours are in `assets/docs/`).

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
        description = "Clinic staff keep their patients' records and chat about each patient with an AI dental \
assistant that recognises dental emergencies.\n\n\
- Bodies are JSON with camelCase names.\n\
- Every error is `application/problem+json` (RFC 9457) with a stable, machine-readable `code`, for example \
`validation_failed` (422, with `errors` naming each failing field), `invalid_credentials` and `invalid_token` (401), \
`not_found` (404), `rate_limited` (429) and `ai_unavailable` (503). Each operation below lists the errors it can give.\n\
- Every response carries `x-request-id`; quote it when reporting a problem.\n\
- Access tokens are bearer JWTs that live 15 minutes. Refresh tokens rotate on every use and are also set as an \
HttpOnly cookie scoped to `/api/v1/auth`.\n\
- Rate-limited requests get 429 with `Retry-After` (seconds).\n\
- A patient you may not see is indistinguishable from one that does not exist: 404 on every route."
    ),
    servers((url = "/api/v1")),
    paths(
        crate::health::health,
        crate::auth::routes::register,
        crate::auth::routes::login,
        crate::auth::routes::refresh,
        crate::auth::routes::logout,
        crate::auth::routes::me,
        crate::auth::routes::login_mfa,
        crate::auth::mfa::setup,
        crate::auth::mfa::enable,
        crate::auth::mfa::disable,
        crate::auth::sessions::list,
        crate::auth::sessions::revoke,
        crate::auth::password_change::change_password,
        crate::auth::routes::switch_clinic,
        crate::admin::routes::list_users,
        crate::admin::routes::update_user,
        crate::admin::routes::list_audit_events,
        crate::patients::routes::create,
        crate::patients::routes::list,
        crate::patients::routes::read,
        crate::patients::routes::update,
        crate::patients::routes::remove,
        crate::patients::trash::list,
        crate::patients::trash::restore,
        crate::audit::access_log::access_log,
        crate::stats::stats,
        crate::chat::routes::list,
        crate::chat::routes::send,
        crate::chat::routes::stream,
        crate::chat::routes::reply,
        crate::clinic::routes::read,
        crate::clinic::routes::update,
        crate::clinic::routes::members,
        crate::clinic::routes::change_member,
        crate::clinic::routes::remove_member,
        crate::clinic::routes::invite,
        crate::clinic::routes::list_invitations,
        crate::clinic::routes::revoke_invitation,
        crate::clinic::routes::accept,
        crate::chat::jobs::routes::reattach,
        crate::chat::jobs::routes::stop,
        crate::portability::routes::export,
        crate::portability::routes::import,
        openapi_json,
        docs,
    ),
    components(schemas(shared::ai::StreamDelta, shared::ai::StreamError, shared::api::StreamDonePublic, shared::api::ChatMessage, shared::api::ClinicRef, shared::api::ClinicRole)),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "For uptime monitors"),
        (name = "auth", description = "Accounts and sessions"),
        (name = "admin", description = "Administration (admins only)"),
        (name = "patients", description = "The caller's patients"),
        (name = "chat", description = "Chat with the AI dental assistant about a patient"),
        (name = "clinic", description = "The active clinic: settings, members, invitations"),
        (name = "portability", description = "The clinic's patients out (FHIR R4 NDJSON, CSV) and in (import with a dry run)"),
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

/// Errors of the routes that act in the caller's active clinic (each opens a `ClinicTx`).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ClinicErrors {
    /// Refused in the active clinic: the role may not do this (`forbidden`; `forbidden_field` for `medicalNotes`
    /// sent by reception), the caller is in no clinic (`no_clinic`), or the clinic requires two-step sign-in and
    /// the caller has not set it up (`mfa_setup_required`: `POST /auth/mfa/setup`).
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
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
        .route("/docs/theme.css", get(theme_css))
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

/// The page: Swagger UI's stylesheet, then `theme.css` (colours at WCAG AA contrast), the bundle and `init.js`.
const DOCS_HTML: &str = include_str!("../../assets/docs/index.html");

/// Swagger UI's configuration, with the accessibility fixes the e2e axe check asks for (see the file's header).
const INIT_JS: &str = include_str!("../../assets/docs/init.js");

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

async fn theme_css() -> impl IntoResponse {
    static_file("text/css; charset=utf-8", include_bytes!("../../assets/docs/theme.css"))
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
