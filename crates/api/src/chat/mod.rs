//! Chat per patient: messages persisted before and after the AI call, streamed end to end, idempotent
//! retries, and replies that can be requested again when the AI service was down.

pub mod idempotency;
pub mod jobs;
pub mod queries;
pub mod routes;
pub mod service;
pub mod types;
