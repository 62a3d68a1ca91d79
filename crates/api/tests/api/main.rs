//! Integration tests of the api: real PostgreSQL (a fresh database per test), the real AI service on
//! its own socket, and HTTP over real sockets.

mod auth;
mod chat;
mod foundation;
mod helpers;
mod openapi;
mod patients;
