//! The Redis side of reply jobs, so that any api instance can reattach to a reply and stop it.
//!
//! Keys (all under the configured prefix, e.g. `dental:rl:chat:`), named by the message id and holding
//! no patient data but the reply's text while it is generated:
//! - `job:{messageId}`: a Redis stream of the job's events, entry id `0-<seq>` so `Last-Event-ID` maps to
//!   an `XREAD` cursor; `MAXLEN` bounded, expiring [`JOB_BOUND`] + [`LINGER`] after its last write and
//!   the linger after the job's end.
//! - `job:{messageId}:live`: present while the job runs, refreshed every [`HEARTBEAT`] with a
//!   [`LIVE_TTL`] expiry, so followers on other instances notice a job whose instance died.
//! - channel `stop:{messageId}`: the job subscribes before it starts; a stop anywhere publishes to it.
//!
//! Redis failing never fails a reply: the job goes on and saves, this process's followers are served
//! from memory, and other instances' followers end and fall back to the database.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::streams::StreamReadReply;
use secrecy::{ExposeSecret as _, SecretString};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{JOB_BOUND, LINGER, Sequenced, StopOutcome, StreamEvent};

/// Budget of one Redis command of a job (an append, a stop).
const TIMEOUT: Duration = Duration::from_millis(500);
/// How long a follower's `XREAD` waits for new entries before it checks that the job is still alive.
const BLOCK: Duration = Duration::from_secs(2);
/// How often a running job says it is alive, and how long that lasts.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
pub const LIVE_TTL: Duration = Duration::from_secs(15);
/// The stream's length bound: more than a reply can have events (`MAX_REPLY_CHARS` deltas + 1).
const MAXLEN: usize = 110_000;
/// Entries read per `XREAD`.
const BATCH: usize = 512;

pub struct RemoteJobs {
    client: redis::Client,
    conn: ConnectionManager,
    prefix: String,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RemoteJobs {
    /// Connects lazily: a Redis that is down at start-up does not stop the api.
    pub fn new(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
        Ok(Self {
            client,
            conn,
            prefix: prefix.to_owned(),
        })
    }

    fn log_key(&self, id: Uuid) -> String {
        format!("{}job:{id}", self.prefix)
    }

    fn live_key(&self, id: Uuid) -> String {
        format!("{}job:{id}:live", self.prefix)
    }

    fn stop_channel(&self, id: Uuid) -> String {
        format!("{}stop:{id}", self.prefix)
    }

    /// Subscribes the job to its stop channel and marks it live. `None` (logged) when Redis cannot be
    /// reached: the job then runs for this instance only.
    pub async fn open(&self, id: Uuid, cancel: CancellationToken) -> Option<RemoteWriter> {
        let opened = tokio::time::timeout(TIMEOUT * 2, async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(self.stop_channel(id)).await?;
            let mut conn = self.conn.clone();
            redis::cmd("SET")
                .arg(self.live_key(id))
                .arg(1)
                .arg("PX")
                .arg(ms(LIVE_TTL))
                .query_async::<()>(&mut conn)
                .await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        let pubsub = match opened {
            Ok(Ok(pubsub)) => pubsub,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis unavailable for a reply job; it can be reattached and stopped on this instance only");
                return None;
            }
            Err(_) => {
                tracing::warn!(
                    "redis timed out for a reply job; it can be reattached and stopped on this instance only"
                );
                return None;
            }
        };
        let finished = CancellationToken::new();
        tokio::spawn(control(
            pubsub.into_on_message(),
            self.conn.clone(),
            self.live_key(id),
            cancel,
            finished.clone(),
        ));
        Some(RemoteWriter {
            conn: self.conn.clone(),
            log_key: self.log_key(id),
            live_key: self.live_key(id),
            finished,
            broken: false,
        })
    }

    /// Publishes a stop when the job is live somewhere.
    pub async fn stop(&self, id: Uuid) -> StopOutcome {
        let mut conn = self.conn.clone();
        let asked = tokio::time::timeout(TIMEOUT, async {
            let live: bool = redis::cmd("EXISTS")
                .arg(self.live_key(id))
                .query_async(&mut conn)
                .await?;
            if live {
                redis::cmd("PUBLISH")
                    .arg(self.stop_channel(id))
                    .arg("stop")
                    .query_async::<()>(&mut conn)
                    .await?;
            }
            Ok::<_, redis::RedisError>(live)
        })
        .await;
        match asked {
            Ok(Ok(true)) => StopOutcome::Stopping,
            Ok(Ok(false)) => StopOutcome::NotRunning,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "redis unavailable: a stop cannot reach other instances");
                StopOutcome::NotRunning
            }
            Err(_) => {
                tracing::warn!("redis timed out: a stop cannot reach other instances");
                StopOutcome::NotRunning
            }
        }
    }

    /// Follows a job's Redis stream from `after`, if it is live or its log still lingers. Ends at the
    /// terminal event, or without one when the job is no longer live and nothing more was written.
    pub async fn follow(&self, id: Uuid, after: u64) -> Option<impl Stream<Item = Sequenced> + Send + 'static> {
        // Its own connection: a blocking `XREAD` would hold up every other command multiplexed with it.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(BLOCK + TIMEOUT));
        let mut conn = match self.client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "redis unavailable: cannot reattach to a reply of another instance");
                return None;
            }
        };
        let (log_key, live_key) = (self.log_key(id), self.live_key(id));
        let known: u32 = redis::cmd("EXISTS")
            .arg(&log_key)
            .arg(&live_key)
            .query_async(&mut conn)
            .await
            .ok()?;
        if known == 0 {
            return None;
        }
        let follower = Follower {
            conn,
            log_key,
            live_key,
            last: after,
            buffer: VecDeque::new(),
            ended: false,
        };
        Some(futures::stream::unfold(follower, |mut f| async move {
            let next = f.next().await?;
            Some((next, f))
        }))
    }
}

/// Waits for a stop on the job's channel (and cancels the job), and keeps its live mark fresh, until
/// the job finishes.
async fn control(
    mut messages: redis::aio::PubSubStream,
    mut conn: ConnectionManager,
    live_key: String,
    cancel: CancellationToken,
    finished: CancellationToken,
) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut listening = true;
    loop {
        tokio::select! {
            () = finished.cancelled() => return,
            message = messages.next(), if listening => {
                if message.is_some() {
                    cancel.cancel();
                } else {
                    tracing::warn!("redis stop channel closed; the reply can be stopped on this instance only");
                    listening = false;
                }
            },
            _ = heartbeat.tick() => {
                let mut refresh = redis::cmd("SET");
                refresh.arg(&live_key).arg(1).arg("PX").arg(ms(LIVE_TTL));
                if !matches!(tokio::time::timeout(TIMEOUT, refresh.query_async::<()>(&mut conn)).await, Ok(Ok(()))) {
                    tracing::warn!("redis heartbeat of a reply job failed");
                }
            }
        }
    }
}

/// The Redis end of a job's writer.
pub struct RemoteWriter {
    conn: ConnectionManager,
    log_key: String,
    live_key: String,
    finished: CancellationToken,
    /// Set after a failed append: later events are not written (followers elsewhere fall back).
    broken: bool,
}

impl RemoteWriter {
    pub async fn push(&mut self, seq: u64, event: &StreamEvent) {
        if self.broken {
            return;
        }
        let Ok(data) = serde_json::to_string(event) else {
            return;
        };
        let mut pipe = redis::pipe();
        pipe.cmd("XADD")
            .arg(&self.log_key)
            .arg("MAXLEN")
            .arg("~")
            .arg(MAXLEN)
            .arg(format!("0-{seq}"))
            .arg("e")
            .arg(data)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&self.log_key)
            .arg(ms(JOB_BOUND + LINGER))
            .ignore();
        let written = tokio::time::timeout(TIMEOUT, pipe.query_async::<()>(&mut self.conn)).await;
        if !matches!(written, Ok(Ok(()))) {
            tracing::warn!(
                "redis append of a reply job failed; other instances' followers will fall back to the database"
            );
            self.broken = true;
        }
    }

    /// The end: the log lingers a little, the live mark goes, the control task stops.
    pub async fn finish(self, linger: Duration) {
        self.finished.cancel();
        let mut pipe = redis::pipe();
        pipe.cmd("PEXPIRE")
            .arg(&self.log_key)
            .arg(ms(linger))
            .ignore()
            .cmd("DEL")
            .arg(&self.live_key)
            .ignore();
        let mut conn = self.conn.clone();
        let cleaned = tokio::time::timeout(TIMEOUT, pipe.query_async::<()>(&mut conn)).await;
        if !matches!(cleaned, Ok(Ok(()))) {
            tracing::warn!("redis clean-up of a reply job failed; its keys expire by themselves");
        }
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        self.finished.cancel();
    }
}

struct Follower {
    conn: MultiplexedConnection,
    log_key: String,
    live_key: String,
    last: u64,
    buffer: VecDeque<Sequenced>,
    ended: bool,
}

impl Follower {
    async fn next(&mut self) -> Option<Sequenced> {
        loop {
            if let Some(next) = self.buffer.pop_front() {
                if next.event.is_terminal() {
                    self.ended = true;
                    self.buffer.clear();
                }
                return Some(next);
            }
            if self.ended {
                return None;
            }
            if self.read(Some(BLOCK)).await? == 0 {
                let live: bool = redis::cmd("EXISTS")
                    .arg(&self.live_key)
                    .query_async(&mut self.conn)
                    .await
                    .ok()?;
                // Not live: one last look for what was written just before the end.
                if !live && self.read(None).await? == 0 {
                    return None;
                }
            }
        }
    }

    /// Reads the entries after `last` into the buffer; `None` on a Redis error.
    async fn read(&mut self, block: Option<Duration>) -> Option<usize> {
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(BATCH);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(ms(block));
        }
        cmd.arg("STREAMS").arg(&self.log_key).arg(format!("0-{}", self.last));
        let reply: Option<StreamReadReply> = match cmd.query_async(&mut self.conn).await {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(error = %e, "redis read of a reply job failed");
                return None;
            }
        };
        let mut read = 0;
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            let Some(seq) = entry.id.strip_prefix("0-").and_then(|n| n.parse::<u64>().ok()) else {
                continue;
            };
            let Some(event) = entry
                .get::<String>("e")
                .and_then(|data| serde_json::from_str::<StreamEvent>(&data).ok())
            else {
                continue;
            };
            if seq > self.last {
                self.last = seq;
                self.buffer.push_back(Sequenced { seq, event });
                read += 1;
            }
        }
        Some(read)
    }
}
