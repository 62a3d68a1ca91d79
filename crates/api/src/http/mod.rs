//! The transport: what every route shares. The error type and its problem+json rendering, the
//! extractor wrappers, pagination parameters, the client's IP, security headers / CORS / the request
//! timeout, the rate-limit and metrics middleware, the request span, the web app's static files and
//! the OpenAPI description. The capabilities (`auth`, `patients`, `chat`, `admin`, ...) own their
//! routes; this module owns nothing a single capability could.

pub mod client_ip;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod pagination;
pub mod ratelimit;
pub mod security;
pub mod trace;
pub mod web;
