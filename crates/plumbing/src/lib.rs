//! What the api and the ai service do the same way, written once: request ids (validation, the
//! middleware and the task-local that lets errors quote the id), problem+json responses, the JSON
//! body extractor with one set of rejection codes, a panic turned into a problem+json 500, the
//! shutdown signal, TCP_NODELAY listeners and Prometheus export.
//!
//! Not the wire-types crate (`shared`): this one knows axum and tokio. Each service keeps its own
//! error enum; the pieces here produce `shared::Problem` bodies the same way for both.

pub mod json;
pub mod listener;
pub mod panic;
pub mod problem;
pub mod prometheus;
pub mod request_id;
pub mod shutdown;
