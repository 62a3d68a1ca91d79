//! Wire types shared by the `api` and `ai` services.
//!
//! Everything here is what crosses a socket: field names are part of the contract
//! (`CONTRACT.md`), so they are fixed by serde attributes, not by Rust naming.
//! Validation lives in the services (parse, don't validate): these types only
//! describe shapes.

pub mod ai;
pub mod api;
pub mod problem;
pub mod records;

pub use problem::{FieldError, Problem};
