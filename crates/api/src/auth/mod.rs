//! Accounts and authentication: registration, login, refresh-token rotation with reuse detection,
//! logout, the bearer-token extractor every protected route uses, two-factor sign-in (TOTP), sessions the
//! user can list and end, and password changes.

pub mod clinics;
pub mod cookie;
pub mod device;
pub mod extractor;
pub mod jwt;
pub mod keys;
pub mod mfa;
pub mod password;
pub mod password_change;
pub mod reauth;
pub mod routes;
pub mod service;
pub mod sessions;
pub mod tokens;
pub mod types;

pub use extractor::AuthUser;
