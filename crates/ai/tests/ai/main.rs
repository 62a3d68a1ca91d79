//! Integration tests of the `ai` service (one test binary).

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value, clippy::format_push_string)]

mod gemini;
mod http;
mod logs;
mod offline_eval;
mod openai;
mod process;
mod support;
mod triage_eval;
