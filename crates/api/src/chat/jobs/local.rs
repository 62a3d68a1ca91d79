//! A job's log in this process: the events so far and a watch that wakes followers on each new one.

use std::sync::{Arc, Mutex, PoisonError};

use futures::Stream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{Sequenced, StreamEvent};

struct Log {
    events: Vec<StreamEvent>,
    ended: bool,
}

pub struct LocalJob {
    log: Mutex<Log>,
    /// The number of events, bumped on every push and at the end.
    changed: watch::Sender<u64>,
    pub(super) cancel: CancellationToken,
}

impl LocalJob {
    pub(super) fn new(cancel: CancellationToken) -> Self {
        Self {
            log: Mutex::new(Log {
                events: Vec::new(),
                ended: false,
            }),
            changed: watch::Sender::new(0),
            cancel,
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn len(&self) -> u64 {
        u64::try_from(self.log().events.len()).unwrap_or(u64::MAX)
    }

    /// Appends an event; returns its sequence number (from 1).
    pub(super) fn push(&self, event: StreamEvent) -> u64 {
        let seq = {
            let mut log = self.log();
            log.events.push(event);
            u64::try_from(log.events.len()).unwrap_or(u64::MAX)
        };
        self.changed.send_replace(seq);
        seq
    }

    pub(super) fn end(&self) {
        {
            let mut log = self.log();
            log.ended = true;
            // The log is read-only from here, and may linger: give back the growth room of its last doubling.
            log.events.shrink_to_fit();
        }
        self.changed.send_modify(|_| {});
    }

    /// Cancels a running job; `false` when it has already ended.
    pub(super) fn stop(&self) -> bool {
        if self.log().ended {
            return false;
        }
        self.cancel.cancel();
        true
    }
}

/// The events after `after`, then each new one, until the terminal event (or the job's end).
pub fn follow(job: Arc<LocalJob>, after: u64) -> impl Stream<Item = Sequenced> + Send + 'static {
    let changed = job.changed.subscribe();
    futures::stream::unfold((job, changed, after), |(job, mut changed, next)| async move {
        loop {
            let item = {
                let log = job.log();
                let index = usize::try_from(next).unwrap_or(usize::MAX);
                match log.events.get(index) {
                    Some(event) => Some(Some(event.clone())),
                    None if log.ended => Some(None),
                    None => None,
                }
            };
            match item {
                Some(Some(event)) => {
                    let seq = next + 1;
                    let terminal = event.is_terminal();
                    // After the terminal event nothing more is read: the next poll ends the stream.
                    let next = if terminal { u64::MAX } else { seq };
                    return Some((Sequenced { seq, event }, (job, changed, next)));
                }
                Some(None) => return None,
                None => {
                    if changed.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;
    use shared::ai::StreamError;

    use super::*;

    fn error() -> StreamEvent {
        StreamEvent::Error(StreamError {
            code: "x".into(),
            detail: "y".into(),
        })
    }

    #[tokio::test]
    async fn a_follower_replays_after_its_cursor_then_reads_live_to_the_terminal_event() {
        let job = Arc::new(LocalJob::new(CancellationToken::new()));
        job.push(StreamEvent::Delta("a".into()));
        job.push(StreamEvent::Delta("b".into()));
        let follower = tokio::spawn(follow(job.clone(), 1).map(|s| s.seq).collect::<Vec<_>>());
        tokio::task::yield_now().await;
        job.push(StreamEvent::Delta("c".into()));
        job.push(error());
        job.end();
        assert_eq!(follower.await.ok(), Some(vec![2, 3, 4]));
        assert!(!job.stop(), "an ended job cannot be stopped");
    }
}
