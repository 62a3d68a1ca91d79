//! Reads on a streaming replica (`DATABASE_REPLICA_URL`), with read-your-writes.
//!
//! After a user's write commits, [`Reads::wrote`] records the primary's WAL insert position (an LSN at or past
//! that commit record) for the user: in Redis when `REDIS_URL` is set (so every api instance sees it, with a
//! TTL), else in a bounded in-memory map. Before a read, [`Reads::for_user`] compares it with the replica's
//! `pg_last_wal_replay_lsn()`: the replica serves the read only once it has replayed the user's last commit, else
//! the primary does. The replay position is cached for a few milliseconds (one status query per
//! [`FRESH`] at most, plus one when a user is ahead of the cached value), so a read costs no extra round trip to
//! the replica in the common case.
//!
//! A replica that does not answer (`down`) or lags past [`MAX_LAG`] (`lagging`) is skipped and re-checked in the
//! background; health reports it as `checks.replica` and never turns 503 because of it. Reads are counted in
//! `db_reads_total{target="primary"|"replica"}`.
//!
//! Row-level security applies on the replica as on the primary: the same role drop per connection and the same
//! transaction-local `set_config` (a hot standby allows both inside a read-only transaction).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// How long a replay position (and the replica's health) is trusted before the next read asks again.
pub const FRESH: Duration = Duration::from_millis(5);
/// A user ahead of the cached replay position triggers a fresh look at most this often.
const FORCED_REFRESH_GAP: Duration = Duration::from_millis(1);
/// A replica whose last replayed transaction is older than this while it has WAL still to replay (or no WAL
/// receiver) is `lagging`: even users without a recent write would read data older than this.
pub const MAX_LAG: Duration = Duration::from_secs(5);
/// A down or lagging replica is asked again this often (in the background, never on a request's path).
const RECHECK: Duration = Duration::from_millis(500);
/// The status query's own limit; a replica slower than this is treated as down.
const STATUS_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a user's last commit position is kept. Far above `MAX_LAG`: once it expires, any replica that is not
/// `lagging` has long replayed it.
pub const LSN_TTL: Duration = Duration::from_secs(60);
/// Users whose last commit position is kept in memory (without Redis); least recently written first out.
const MEMORY_USERS: usize = 100_000;

/// Where a read went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Primary,
    Replica,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Primary => "primary",
            Target::Replica => "replica",
        }
    }
}

/// The replica as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaHealth {
    Ok,
    Lagging,
    Down,
}

impl ReplicaHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaHealth::Ok => "ok",
            ReplicaHealth::Lagging => "lagging",
            ReplicaHealth::Down => "down",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Status {
    health: ReplicaHealth,
    /// Bytes into the WAL (`pg_lsn - '0/0'`) the replica has replayed.
    replay_lsn: i64,
    at: Instant,
}

/// The read pools: the primary, and the replica when one is configured.
#[derive(Clone)]
pub struct Reads {
    primary: PgPool,
    replica: Option<Arc<Replica>>,
    /// Reads served by the primary and by the replica through this instance (the metric's per-instance twin).
    served: Arc<[AtomicU64; 2]>,
}

struct Replica {
    pool: PgPool,
    status: Mutex<Status>,
    /// One status query at a time; the others use the last answer.
    refreshing: tokio::sync::Mutex<()>,
    lsns: LsnStore,
}

impl Reads {
    /// Reads always on the primary (no replica configured).
    pub fn primary_only(primary: PgPool) -> Self {
        Self {
            primary,
            replica: None,
            served: Arc::default(),
        }
    }

    /// Reads on `replica` when it has caught up. The replica's pool is lazy: a replica that is down at start-up
    /// does not stop the api (it starts `down` and is asked again in the background). Commit positions go to Redis
    /// at `redis_url` under `prefix` when given.
    pub fn with_replica(
        primary: PgPool,
        replica: PgConnectOptions,
        max_connections: u32,
        redis_url: Option<&SecretString>,
        prefix: &str,
    ) -> anyhow::Result<Self> {
        let pool = super::pool_options(max_connections)
            // A replica that does not answer must not hold a request for the primary's 5 s.
            .acquire_timeout(STATUS_TIMEOUT)
            .connect_lazy_with(replica);
        let lsns = match redis_url {
            Some(url) => LsnStore::redis(url, prefix)?,
            None => LsnStore::memory(),
        };
        Ok(Self {
            primary,
            replica: Some(Arc::new(Replica {
                pool,
                status: Mutex::new(Status {
                    health: ReplicaHealth::Down,
                    replay_lsn: 0,
                    // Stale from the start: the first read asks.
                    at: Instant::now().checked_sub(RECHECK).unwrap_or_else(Instant::now),
                }),
                refreshing: tokio::sync::Mutex::new(()),
                lsns,
            })),
            served: Arc::default(),
        })
    }

    /// The primary, for writes and for reads that must see everything (and when no replica is configured).
    pub fn primary(&self) -> &PgPool {
        &self.primary
    }

    /// Whether a replica is configured.
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    /// The pool a read for `user_id` should use, counted in `db_reads_total`: the replica when it is up, not
    /// lagging, and has replayed the user's last commit; else the primary.
    pub async fn for_user(&self, user_id: Uuid) -> &PgPool {
        let (pool, _) = self.choose(user_id).await;
        pool
    }

    /// As [`Reads::for_user`], also saying which it is.
    pub async fn choose(&self, user_id: Uuid) -> (&PgPool, Target) {
        let (pool, target) = self.pick(user_id).await;
        self.count(target);
        (pool, target)
    }

    async fn pick(&self, user_id: Uuid) -> (&PgPool, Target) {
        match &self.replica {
            Some(replica) if replica.caught_up_for(user_id).await => (&replica.pool, Target::Replica),
            _ => (&self.primary, Target::Primary),
        }
    }

    /// The replica's pool when a read for `user_id` may run there (as [`Reads::replica_tx`] decides), else `None`.
    /// Not counted.
    pub async fn replica_pool(&self, user_id: Uuid) -> Option<&PgPool> {
        let replica = self.replica.as_ref()?;
        replica.caught_up_for(user_id).await.then_some(&replica.pool)
    }

    /// A read on the replica failed for a reason of the replica's (not a refusal): it is marked down until its
    /// next status check, as when it cannot open a transaction.
    pub fn replica_failed(&self, error: &sqlx::Error) {
        if let Some(replica) = &self.replica {
            tracing::warn!(error = %error, "replica: a read failed; reading from the primary");
            replica.mark_down();
        }
    }

    /// A read-only transaction on the replica for `user_id`, or `None` when the read belongs on the primary (no
    /// replica, down, lagging, or behind the user's last commit). A replica that fails to open it (it went away since
    /// its last status) is marked down, so a replica's failure costs a request no error. Not counted: the caller
    /// counts where the read finally ran ([`Reads::count`]).
    pub async fn replica_tx(&self, user_id: Uuid) -> Option<Transaction<'static, Postgres>> {
        let replica = self.replica.as_ref()?;
        if !replica.caught_up_for(user_id).await {
            return None;
        }
        match crate::db::begin_read_only(&replica.pool).await {
            Ok(tx) => Some(tx),
            Err(e) => {
                tracing::warn!(error = %e, "replica: cannot open a read; reading from the primary");
                replica.mark_down();
                None
            }
        }
    }

    /// A read-only transaction for `user_id`: on the replica when [`Reads::replica_tx`] gives one, else on the
    /// primary. Counted.
    pub async fn begin_read(&self, user_id: Uuid) -> Result<(Transaction<'static, Postgres>, Target), sqlx::Error> {
        let tx = match self.replica_tx(user_id).await {
            Some(tx) => (tx, Target::Replica),
            None => (crate::db::begin_read_only(&self.primary).await?, Target::Primary),
        };
        self.count(tx.1);
        Ok(tx)
    }

    /// Records that `user_id` has just committed a write, so their next reads wait for the replica to replay it.
    /// Call after the commit returned: the position is read then, so it lies at or past the commit record. If it
    /// cannot be read, the user's reads go to the primary for [`LSN_TTL`] (the safe side). No-op without a replica.
    pub async fn wrote(&self, user_id: Uuid) {
        let Some(replica) = &self.replica else {
            return;
        };
        let lsn = sqlx::query_scalar!(r#"select (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint as "lsn!""#)
            .fetch_one(&self.primary)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "replica: cannot read the commit position; this user reads from the primary for a while");
                i64::MAX
            });
        replica.lsns.raise(user_id, lsn).await;
    }

    /// `checks.replica` for the health route (a fresh look, bounded by its timeout); `None` without a replica.
    pub async fn health(&self) -> Option<&'static str> {
        let replica = self.replica.as_ref()?;
        Some(replica.refresh().await.health.as_str())
    }
}

impl Reads {
    /// Counts a read served by `target` (`db_reads_total` and [`Reads::served`]).
    pub fn count(&self, target: Target) {
        let i = usize::from(target == Target::Replica);
        self.served[i].fetch_add(1, Ordering::Relaxed);
        metrics::counter!("db_reads_total", "target" => target.as_str()).increment(1);
    }

    /// Reads served so far by this instance: (primary, replica).
    pub fn served(&self) -> (u64, u64) {
        (
            self.served[0].load(Ordering::Relaxed),
            self.served[1].load(Ordering::Relaxed),
        )
    }
}

impl Replica {
    fn snapshot(&self) -> Status {
        match self.status.lock() {
            Ok(s) => *s,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    fn store(&self, status: Status) {
        match self.status.lock() {
            Ok(mut s) => *s = status,
            Err(poisoned) => *poisoned.into_inner() = status,
        }
    }

    fn mark_down(&self) {
        self.store(Status {
            health: ReplicaHealth::Down,
            replay_lsn: self.snapshot().replay_lsn,
            at: Instant::now(),
        });
    }

    /// Whether a read for `user_id` may go to the replica now.
    async fn caught_up_for(self: &Arc<Self>, user_id: Uuid) -> bool {
        let mut status = self.snapshot();
        if status.health != ReplicaHealth::Ok {
            // Never on the request's path: a replica that is down could hold it for the whole timeout.
            if status.at.elapsed() >= RECHECK {
                let replica = Arc::clone(self);
                tokio::spawn(async move {
                    replica.refresh_once().await;
                });
            }
            return false;
        }
        if status.at.elapsed() >= FRESH {
            status = self.refresh_once().await;
            if status.health != ReplicaHealth::Ok {
                return false;
            }
        }
        let Some(needed) = self.lsns.get(user_id).await else {
            // The store did not answer: the primary is always right.
            return false;
        };
        if needed <= status.replay_lsn {
            return true;
        }
        if status.at.elapsed() >= FORCED_REFRESH_GAP {
            status = self.refresh_once().await;
        }
        status.health == ReplicaHealth::Ok && needed <= status.replay_lsn
    }

    /// A fresh status unless another task is already asking (then the last one).
    async fn refresh_once(&self) -> Status {
        match self.refreshing.try_lock() {
            Ok(_guard) => self.query_status().await,
            Err(_) => self.snapshot(),
        }
    }

    /// A fresh status, waiting for a concurrent one if need be (the health route).
    async fn refresh(&self) -> Status {
        let _guard = self.refreshing.lock().await;
        self.query_status().await
    }

    async fn query_status(&self) -> Status {
        let lag_bound = MAX_LAG.as_secs_f64();
        let query = sqlx::query!(
            r#"select pg_is_in_recovery() as "standby!",
                      coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0) as "replay_lsn!",
                      coalesce(
                          (pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()
                               or not exists (select 1 from pg_stat_wal_receiver))
                          and extract(epoch from now() - pg_last_xact_replay_timestamp()) > $1::float8,
                          false) as "behind!""#,
            lag_bound
        )
        .fetch_one(&self.pool);
        let previous = self.snapshot();
        let status = match tokio::time::timeout(STATUS_TIMEOUT, query).await {
            Ok(Ok(row)) => Status {
                health: if !row.standby || row.behind {
                    ReplicaHealth::Lagging
                } else {
                    ReplicaHealth::Ok
                },
                replay_lsn: row.replay_lsn,
                at: Instant::now(),
            },
            Ok(Err(_)) | Err(_) => Status {
                health: ReplicaHealth::Down,
                replay_lsn: previous.replay_lsn,
                at: Instant::now(),
            },
        };
        if status.health != previous.health {
            // Once per change; never a URL (it may hold a password).
            tracing::warn!(
                from = previous.health.as_str(),
                to = status.health.as_str(),
                "replica health changed"
            );
        }
        self.store(status);
        status
    }
}

/// Each user's last commit position: in this process, and in Redis when configured (shared by every instance).
/// The local copy covers this instance's own writes if Redis misses one.
struct LsnStore {
    local: Mutex<lru::LruCache<Uuid, (i64, Instant)>>,
    redis: Option<RedisLsns>,
}

struct RedisLsns {
    conn: ConnectionManager,
    prefix: String,
    raise: redis::Script,
}

/// Keeps the larger of the stored and the new position (two writes of one user may finish in either order).
const RAISE_SCRIPT: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

impl LsnStore {
    fn memory() -> Self {
        Self {
            local: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(MEMORY_USERS).unwrap_or(NonZeroUsize::MIN),
            )),
            redis: None,
        }
    }

    fn redis(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(400)))
            .set_response_timeout(Some(Duration::from_millis(100)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
        Ok(Self {
            redis: Some(RedisLsns {
                conn,
                prefix: format!("{prefix}lsn:"),
                raise: redis::Script::new(RAISE_SCRIPT),
            }),
            ..Self::memory()
        })
    }

    fn local(&self, user_id: Uuid) -> i64 {
        let Ok(mut map) = self.local.lock() else {
            return i64::MAX;
        };
        match map.peek(&user_id) {
            Some((lsn, at)) if at.elapsed() < LSN_TTL => *lsn,
            Some(_) => {
                map.pop(&user_id);
                0
            }
            None => 0,
        }
    }

    /// The user's last commit position (0 when none is known), or `None` when Redis is configured and does not
    /// answer (another instance may have recorded a write this one cannot see).
    async fn get(&self, user_id: Uuid) -> Option<i64> {
        let local = self.local(user_id);
        let Some(redis) = &self.redis else {
            return Some(local);
        };
        let mut conn = redis.conn.clone();
        let remote: Option<i64> = redis::cmd("GET")
            .arg(format!("{}{user_id}", redis.prefix))
            .query_async(&mut conn)
            .await
            .ok()?;
        Some(local.max(remote.unwrap_or_default()))
    }

    async fn raise(&self, user_id: Uuid, lsn: i64) {
        let kept = self.local(user_id).max(lsn);
        if let Ok(mut map) = self.local.lock() {
            map.put(user_id, (kept, Instant::now()));
        }
        if let Some(redis) = &self.redis {
            let mut conn = redis.conn.clone();
            let ttl_ms = u64::try_from(LSN_TTL.as_millis()).unwrap_or(u64::MAX);
            let done: Result<i64, _> = redis
                .raise
                .key(format!("{}{user_id}", redis.prefix))
                .arg(lsn)
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await;
            if done.is_err() {
                // Other instances may read this user's next request from a replica that has not replayed it yet;
                // this one will not (the local copy).
                tracing::warn!("replica: cannot record a commit position in Redis");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_store_keeps_the_highest_position_per_user() {
        let store = LsnStore::memory();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(store.get(a).await, Some(0));
        store.raise(a, 200).await;
        store.raise(a, 100).await;
        store.raise(b, 50).await;
        assert_eq!(store.get(a).await, Some(200));
        assert_eq!(store.get(b).await, Some(50));
    }

    #[test]
    fn labels_are_the_contracts() {
        assert_eq!(Target::Primary.as_str(), "primary");
        assert_eq!(Target::Replica.as_str(), "replica");
        let all = [ReplicaHealth::Ok, ReplicaHealth::Lagging, ReplicaHealth::Down].map(ReplicaHealth::as_str);
        assert_eq!(all, ["ok", "lagging", "down"]);
    }
}
