//! Administration: list accounts, change a role, deactivate or reactivate, read the audit trail.
//! Admins only; the admin check reads the current role from the database, so a demotion takes
//! effect at once.

pub mod queries;
pub mod routes;
pub mod service;
pub mod types;

pub use service::create_admin;
