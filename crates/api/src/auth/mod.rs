//! Accounts and authentication: registration, login, refresh-token rotation with reuse detection,
//! logout, and the bearer-token extractor every protected route uses.

pub mod cookie;
pub mod extractor;
pub mod jwt;
pub mod password;
pub mod routes;
pub mod service;
pub mod tokens;
pub mod types;

pub use extractor::AuthUser;
