//! The job that generates a streamed reply: relays the AI service's deltas into the job's log, then saves
//! the reply and appends `done` (or `error`). A stop (or the job's bound, or the shutdown) drops the
//! upstream call at once, which closes the connection to the AI service and so to the model, and saves
//! what was written so far, marked `stopped` (or `failed`).

use std::time::Instant;

use futures::StreamExt as _;
use shared::ai::{ChatRequest, StreamDone, StreamError, Triage, Usage};
use shared::api::StreamDonePublic;
use uuid::Uuid;

use super::{JobWriter, StreamEvent};
use crate::ai_client::{AiEvent, MAX_REPLY_CHARS, stream_error_of, too_long};
use crate::auth::AuthUser;
use crate::chat::service::{metadata, save_reply};
use crate::state::AppState;

/// The saved user message a streamed reply answers, and the request that answers it.
pub struct Answering {
    pub caller: AuthUser,
    pub patient_id: Uuid,
    pub user_message_id: Uuid,
    pub request: ChatRequest,
}

/// How the generation ended.
enum End {
    Done(StreamDone),
    Failed(StreamError),
    /// Asked to stop (a user, or the shutdown).
    Stopped,
    /// Past the job's bound.
    TimedOut,
}

/// What a reply cut short says when nothing was written yet (a message is never empty).
const NOTHING_WRITTEN: &str = "(No text was written before the reply ended.)";

/// Runs the job to its end; the job's log then holds exactly one terminal event.
pub async fn run(state: AppState, answering: Answering, mut job: JobWriter) {
    let started = Instant::now();
    let cancel = job.cancellation();
    let mut reply = String::new();
    let end = tokio::select! {
        biased;
        () = cancel.cancelled() => End::Stopped,
        () = tokio::time::sleep(state.jobs.bound) => End::TimedOut,
        end = generate(&state, &answering.request, &mut reply, &mut job) => end,
    };
    let last = finish(&state, &answering, &reply, end, started, job.next_seq()).await;
    job.push(last).await;
    job.finish().await;
}

/// Reads the AI service's stream into `reply` and the log. Dropped mid-way on a stop: the upstream
/// response goes with it.
async fn generate(state: &AppState, request: &ChatRequest, reply: &mut String, job: &mut JobWriter) -> End {
    let stream = match state.ai.chat_stream(request).await {
        Err(e) => return End::Failed(stream_error_of(&e)),
        Ok(stream) => stream,
    };
    let mut stream = std::pin::pin!(stream);
    let mut reply_chars = 0usize;
    while let Some(event) = stream.next().await {
        match event {
            AiEvent::Delta(text) => {
                reply_chars += text.chars().count();
                if reply_chars > MAX_REPLY_CHARS {
                    tracing::warn!(limit = MAX_REPLY_CHARS, "streamed reply over the length limit; dropped");
                    return End::Failed(stream_error_of(&too_long()));
                }
                reply.push_str(&text);
                job.push(StreamEvent::Delta(text)).await;
            }
            AiEvent::Done(done) => return End::Done(done),
            AiEvent::Error(e) => return End::Failed(e),
        }
    }
    End::Failed(StreamError {
        code: "ai_bad_gateway".into(),
        detail: "The AI service ended the stream early.".into(),
    })
}

/// Saves what the end calls for and returns the terminal event.
async fn finish(
    state: &AppState,
    answering: &Answering,
    reply: &str,
    end: End,
    started: Instant,
    seq: u64,
) -> StreamEvent {
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (content, mut meta, emergency) = match end {
        End::Done(done) => {
            crate::metrics::ai_call(&done.provider, started.elapsed(), Ok(done.usage));
            let meta = metadata(
                &done.provider,
                &done.model,
                done.usage,
                latency_ms,
                &done.emergency,
                &done.finish_reason,
            );
            (reply, meta, done.emergency.into_emergency())
        }
        End::Failed(e) => {
            crate::metrics::ai_call("unknown", started.elapsed(), Err(&e.code));
            tracing::warn!(code = %e.code, "chat stream ended with an error; the user's message is kept");
            return StreamEvent::Error(e);
        }
        End::Stopped | End::TimedOut => {
            let status = if matches!(end, End::Stopped) {
                "stopped"
            } else {
                "failed"
            };
            if status == "failed" {
                tracing::warn!(
                    bound_secs = state.jobs.bound.as_secs(),
                    "reply job over its bound; saved as failed"
                );
            }
            let mut meta = metadata(
                "unknown",
                "unknown",
                Usage::default(),
                latency_ms,
                &Triage::none(),
                status,
            );
            if let Some(object) = meta.as_object_mut() {
                object.insert("status".into(), status.into());
            }
            let content = if reply.trim().is_empty() {
                NOTHING_WRITTEN
            } else {
                reply
            };
            (content, meta, None)
        }
    };
    if let Some(object) = meta.as_object_mut() {
        // The terminal event's place, so a `done` read later from the database keeps the same `id:`.
        object.insert("streamSeq".into(), seq.into());
    }
    match save_reply(
        state,
        answering.caller,
        answering.patient_id,
        answering.user_message_id,
        content,
        &meta,
    )
    .await
    {
        Ok(assistant_message) => StreamEvent::Done(Box::new(StreamDonePublic {
            assistant_message,
            emergency,
        })),
        Err(e) => {
            tracing::error!(error = ?e, "saving a streamed reply failed");
            StreamEvent::Error(stream_error_of(&e))
        }
    }
}
