//! Integration tests of the api: real PostgreSQL (a fresh database per test), the real AI service on
//! its own socket, and HTTP over real sockets.

mod accounts;
mod audit;
mod auth;
mod chat;
mod clinics;
mod faults;
mod foundation;
mod frontdesk;
mod hardening;
mod helpers;
mod members;
mod metrics;
mod openapi;
mod patients;
mod plans;
mod portability;
mod ratelimit;
mod records;
mod replica;
mod streams;
