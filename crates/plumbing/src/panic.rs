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
