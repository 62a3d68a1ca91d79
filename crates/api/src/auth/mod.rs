//! Accounts and authentication: registration, login, refresh-token rotation with reuse detection,
//! logout, and the bearer-token extractor every protected route uses.

pub mod clinics;
pub mod cookie;
pub mod device;
pub mod extractor;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod routes;
pub mod service;
pub mod tokens;
pub mod types;

pub use extractor::AuthUser;
