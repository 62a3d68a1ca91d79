//! Patients: records owned by one account, isolated by the query's owner parameter *and* by
//! PostgreSQL row-level security.

pub mod queries;
pub mod routes;
pub mod trash;
pub mod types;
