//! A job's log mirrored to Redis, so that any api instance can follow and stop it.
//!
//! Keys (under the configured prefix, named by the message id only: no text, no names):
//! - `<prefix><id>:log`, a Redis stream whose entry ids are `0-<seq>`, so `Last-Event-ID`'s number is
//!   the id to read after. Bounded by `MAXLEN` and a TTL (the job's bound plus the linger, then only
//!   the linger once the job has ended).
//! - `<prefix><id>:run`, set while the job runs and refreshed by a heartbeat: its absence tells a
//!   follower that a job which never wrote its end is gone (its instance died).
//! - `<prefix>stop`, one pub/sub channel for every instance, carrying the id of the message to stop.
//!
//! Redis failures never fail a reply: the job keeps serving this instance's followers, and a follower
//! elsewhere sees its log end without a terminal event and falls back to the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{JOB_BOUND, LINGER, Sequenced, StopOutcome, StreamEvent};

/// Entries kept per log (a reply is at most `MAX_REPLY_CHARS` characters; deltas are rarely one).
const MAX_ENTRIES: usize = 20_000;
/// How long one Redis call may take before the job or the follower gives up on it.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// The running marker's lifetime, refreshed every third of it.
const RUN_TTL: Duration = Duration::from_secs(15);
/// How long a follower blocks on `XREAD` before it checks the job is still alive.
const BLOCK: Duration = Duration::from_secs(2);

/// The cancellation of each job this process runs, by message id, for the stop listener.
type Running = Arc<Mutex<HashMap<Uuid, CancellationToken>>>;

pub struct RemoteJobs {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
    running: Running,
    /// The stop listener, started with the first job of this process.
    listening: OnceCell<()>,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

async fn bounded<T>(call: impl std::future::Future<Output = redis::RedisResult<T>>) -> Option<T> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "redis call for a reply stream failed");
            None
        }
        Err(_) => {
            tracing::warn!("redis call for a reply stream timed out");
            None
        }
    }
}

impl RemoteJobs {
    pub(super) fn new(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
            running: Arc::default(),
            listening: OnceCell::new(),
        })
    }

    fn log_key(&self, id: Uuid) -> String {
        format!("{}{id}:log", self.prefix)
    }

    fn run_key(&self, id: Uuid) -> String {
        format!("{}{id}:run", self.prefix)
    }

    fn stop_channel(&self) -> String {
        format!("{}stop", self.prefix)
    }

    /// Starts the stop listener once (waiting up to a second for its subscription), then marks the job
    /// running and returns its writer.
    pub(super) async fn open(&self, id: Uuid, cancel: CancellationToken) -> Option<RemoteWriter> {
        self.listening
            .get_or_init(|| async {
                let (ready, subscribed) = tokio::sync::oneshot::channel();
                tokio::spawn(listen(
                    self.client.clone(),
                    self.stop_channel(),
                    Arc::downgrade(&self.running),
                    ready,
                ));
                let _ = tokio::time::timeout(Duration::from_secs(1), subscribed).await;
            })
            .await;
        let run_key = self.run_key(id);
        let mut conn = self.conn.clone();
        bounded(
            redis::cmd("PSETEX")
                .arg(&run_key)
                .arg(millis(RUN_TTL))
                .arg(1)
                .query_async::<()>(&mut conn),
        )
        .await?;
        lock(&self.running).insert(id, cancel);
        let heartbeat = {
            let mut conn = self.conn.clone();
            let run_key = run_key.clone();
            let ttl = millis(RUN_TTL);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(RUN_TTL / 3);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let _ = bounded(redis::cmd("PEXPIRE").arg(&run_key).arg(ttl).query_async::<()>(&mut conn)).await;
                }
            })
        };
        Some(RemoteWriter {
            id,
            conn: self.conn.clone(),
            log_key: self.log_key(id),
            run_key,
            running: self.running.clone(),
            heartbeat,
            healthy: true,
        })
    }

    /// Follows a job that runs on any instance (or ended within its linger): `None` when Redis knows
    /// no log for the message.
    pub(super) async fn follow(&self, id: Uuid, after: u64) -> Option<impl Stream<Item = Sequenced> + Send + 'static> {
        let log_key = self.log_key(id);
        let mut conn = self.conn.clone();
        // A job that has written nothing yet has only its running marker.
        let known: u32 = bounded(
            redis::cmd("EXISTS")
                .arg(&log_key)
                .arg(self.run_key(id))
                .query_async(&mut conn),
        )
        .await?;
        if known == 0 {
            return None;
        }
        // `XREAD BLOCK` holds its connection: each follower gets its own.
        // The default response timeout (500 ms) is shorter than the block.
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(BLOCK + CALL_TIMEOUT));
        let reader = bounded(self.client.get_multiplexed_async_connection_with_config(&config)).await?;
        let state = Follower {
            reader,
            conn,
            log_key,
            run_key: self.run_key(id),
            after,
            pending: std::collections::VecDeque::new(),
            done: false,
        };
        Some(futures::stream::unfold(state, Follower::next))
    }

    /// Publishes a stop for a job running anywhere; `NotRunning` when no instance runs one.
    pub(super) async fn stop(&self, id: Uuid) -> StopOutcome {
        let mut conn = self.conn.clone();
        let running: Option<bool> = bounded(redis::cmd("EXISTS").arg(self.run_key(id)).query_async(&mut conn)).await;
        if running != Some(true) {
            return StopOutcome::NotRunning;
        }
        let _ = bounded(
            redis::cmd("PUBLISH")
                .arg(self.stop_channel())
                .arg(id.to_string())
                .query_async::<()>(&mut conn),
        )
        .await;
        StopOutcome::Stopping
    }
}

fn lock(running: &Running) -> std::sync::MutexGuard<'_, HashMap<Uuid, CancellationToken>> {
    running.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Listens on the stop channel and cancels the local jobs named there; reconnects after a failure.
async fn listen(
    client: redis::Client,
    channel: String,
    registry: Weak<Mutex<HashMap<Uuid, CancellationToken>>>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            redis::RedisResult::Ok(pubsub)
        };
        match tokio::time::timeout(CALL_TIMEOUT * 2, subscribed).await {
            Ok(Ok(pubsub)) => {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(());
                }
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let Some(registry) = registry.upgrade() else { return };
                    let id = message
                        .get_payload::<String>()
                        .ok()
                        .and_then(|p| Uuid::parse_str(&p).ok());
                    let job = id.and_then(|id| lock(&registry).get(&id).cloned());
                    if let Some(cancel) = job {
                        tracing::info!("a reply is stopped from another instance");
                        cancel.cancel();
                    }
                }
                tracing::warn!("the redis stop channel closed; resubscribing");
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot subscribe to the redis stop channel"),
            Err(_) => tracing::warn!("subscribing to the redis stop channel timed out"),
        }
        if registry.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The Redis side of a job's writer.
pub struct RemoteWriter {
    id: Uuid,
    conn: ConnectionManager,
    log_key: String,
    run_key: String,
    running: Running,
    heartbeat: tokio::task::JoinHandle<()>,
    /// Cleared after a failed write: the remote log has a gap, so nothing more is written to it and
    /// remote followers end early (and fall back to the database) rather than read a hole.
    healthy: bool,
}

impl RemoteWriter {
    pub(super) async fn push(&mut self, seq: u64, event: &StreamEvent) {
        if !self.healthy {
            return;
        }
        let Ok(data) = serde_json::to_string(event) else {
            self.healthy = false;
            return;
        };
        let ttl = millis(JOB_BOUND + LINGER);
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(&self.log_key)
            .arg("MAXLEN")
            .arg(MAX_ENTRIES)
            .arg(format!("0-{seq}"))
            .arg("e")
            .arg(data)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&self.log_key)
            .arg(ttl)
            .ignore();
        let mut conn = self.conn.clone();
        if bounded(pipe.query_async::<()>(&mut conn)).await.is_none() {
            self.healthy = false;
            // Without a complete log the job must not look alive to other instances.
            let _ = bounded(redis::cmd("DEL").arg(&self.run_key).query_async::<()>(&mut conn)).await;
        }
    }

    /// The end: the log lingers a little for late followers, the running marker goes.
    pub(super) async fn finish(self, linger: Duration) {
        self.heartbeat.abort();
        lock(&self.running).remove(&self.id);
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.cmd("PEXPIRE")
            .arg(&self.log_key)
            .arg(millis(linger).max(1))
            .ignore()
            .cmd("DEL")
            .arg(&self.run_key)
            .ignore();
        let _ = bounded(pipe.query_async::<()>(&mut conn)).await;
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        self.heartbeat.abort();
        lock(&self.running).remove(&self.id);
    }
}

/// One follower's reading state.
struct Follower {
    reader: redis::aio::MultiplexedConnection,
    conn: ConnectionManager,
    log_key: String,
    run_key: String,
    after: u64,
    pending: std::collections::VecDeque<Sequenced>,
    done: bool,
}

/// `XREAD`'s answer: per stream, its entries as (id, [field, value, ...]).
type XreadReply = Option<Vec<(String, Vec<(String, Vec<String>)>)>>;

impl Follower {
    async fn next(mut self) -> Option<(Sequenced, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.event.is_terminal() {
                    self.done = true;
                    self.pending.clear();
                }
                return Some((item, self));
            }
            if self.done {
                return None;
            }
            let read = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(500)
                .arg("BLOCK")
                .arg(millis(BLOCK))
                .arg("STREAMS")
                .arg(&self.log_key)
                .arg(format!("0-{}", self.after))
                .query_async::<XreadReply>(&mut self.reader);
            let reply = match tokio::time::timeout(BLOCK + CALL_TIMEOUT, read).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "reading a reply stream from redis failed");
                    return None;
                }
                Err(_) => {
                    tracing::warn!("reading a reply stream from redis timed out");
                    return None;
                }
            };
            let entries: Vec<(String, Vec<String>)> = reply
                .into_iter()
                .flatten()
                .flat_map(|(_, entries)| entries)
                .collect();
            if entries.is_empty() {
                // Nothing new: still being generated somewhere, or lost with its instance.
                let alive: Option<bool> =
                    bounded(redis::cmd("EXISTS").arg(&self.run_key).query_async(&mut self.conn)).await;
                if alive != Some(true) {
                    // One last read: the end may have been written just before the marker went.
                    let rest: Option<Vec<(String, Vec<String>)>> = bounded(
                        redis::cmd("XRANGE")
                            .arg(&self.log_key)
                            .arg(format!("(0-{}", self.after))
                            .arg("+")
                            .query_async(&mut self.conn),
                    )
                    .await;
                    let after = self.after;
                    self.pending.extend(
                        rest.into_iter()
                            .flatten()
                            .filter_map(parse_entry)
                            .filter(|s| s.seq > after),
                    );
                    if let Some(last) = self.pending.back() {
                        self.after = last.seq;
                    }
                    // Lost or ended: deliver what there is, then end (with or without a terminal event).
                    self.done = true;
                }
                continue;
            }
            for entry in entries {
                if let Some(item) = parse_entry(entry)
                    && item.seq > self.after
                {
                    self.after = item.seq;
                    self.pending.push_back(item);
                }
            }
        }
    }
}

fn parse_entry((id, fields): (String, Vec<String>)) -> Option<Sequenced> {
    let seq = id.strip_prefix("0-")?.parse().ok()?;
    let data = fields.chunks(2).find(|kv| kv.first().is_some_and(|k| k == "e"))?.get(1)?;
    let event = serde_json::from_str(data).ok()?;
    Some(Sequenced { seq, event })
}
