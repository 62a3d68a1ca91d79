//! Integration tests of the `ai` service (one test binary).

#![allow(clippy::unwrap_used, clippy::needless_pass_by_value, clippy::format_push_string)]

mod gemini;
mod hostile;
mod http;
mod logs;
mod offline_eval;
mod openai;
mod process;
mod redaction;
mod second_reader;
mod support;
mod triage_eval;
