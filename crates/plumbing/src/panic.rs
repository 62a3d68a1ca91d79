//! A panicking handler becomes a problem+json 500 like every other failure, instead of a dropped
//! connection.

use std::any::Any;

use axum::http::StatusCode;
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;

use crate::problem;

/// What [`layer`] calls with the panic's payload.
pub type PanicHandler = fn(Box<dyn Any + Send + 'static>) -> Response;

/// Catches panics of the inner service. Layer it inside the request-id middleware so the body can
/// quote the request id.
pub fn layer() -> CatchPanicLayer<PanicHandler> {
    CatchPanicLayer::custom(on_panic as PanicHandler)
}

fn on_panic(_payload: Box<dyn Any + Send + 'static>) -> Response {
    // The payload is not logged: a panic message may quote the data being handled.
    tracing::error!("request handler panicked");
    problem::response(StatusCode::INTERNAL_SERVER_ERROR, &problem::internal())
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt as _;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_problem_json_500_with_the_request_id() {
        let app = Router::new()
            .route("/boom", get(boom))
            .layer(super::layer())
            .layer(axum::middleware::from_fn(crate::request_id::middleware));
        let request = Request::get("/boom")
            .header("x-request-id", "req-1")
            .body(Body::empty())
            .unwrap_or_default();
        let response = app.oneshot(request).await.unwrap_or_default();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        assert_eq!(problem["code"], "internal_error");
        assert_eq!(problem["requestId"], "req-1");
    }
}
