//! The shared backend: one atomic Lua script per count, a 50 ms budget per call, and the up/down
//! state that makes the limiter fail open (see the module above).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::{RetryAfter, Rule};

/// Budget of one Redis call: a rate-limit check must never be what makes a request slow.
pub const TIMEOUT: Duration = Duration::from_millis(50);
/// After a failure, Redis is left alone this long (requests use the in-memory fallback meanwhile).
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Budget of the health probe's `PING`.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(500);

/// `INCR` the window's counter, start the window (`PEXPIRE`) on its first hit, and return the count
/// and the time left. A key without expiry (which the script never leaves) is given one.
const HIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// The count and time left of a window, without counting.
const CHECK_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
return {n, redis.call('PTTL', KEYS[1])}
";

pub(super) struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    hit: redis::Script,
    check: redis::Script,
    /// Whether the last call succeeded; flips are logged once each.
    up: AtomicBool,
    /// While set and in the future, Redis is not tried.
    retry_at: Mutex<Option<Instant>>,
}

impl RedisLimiter {
    /// Keys are `prefix` + a hash of the logical key (so no email or IP address is stored in Redis).
    /// Connects lazily: a Redis that is down at start-up does not stop the api.
    pub(super) fn new(url: &SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT * 4))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            hit: redis::Script::new(HIT_SCRIPT),
            check: redis::Script::new(CHECK_SCRIPT),
            up: AtomicBool::new(true),
            retry_at: Mutex::new(None),
        })
    }

    /// A fresh `PING` (for the health route): `ok` or `unreachable`.
    pub(super) async fn health(&self) -> &'static str {
        let mut conn = self.conn.clone();
        let ping = tokio::time::timeout(HEALTH_TIMEOUT, redis::cmd("PING").query_async::<String>(&mut conn)).await;
        if matches!(ping, Ok(Ok(_))) {
            self.mark_up();
            "ok"
        } else {
            self.mark_down("ping");
            "unreachable"
        }
    }

    /// Whether the last call succeeded.
    pub(super) fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// The shared decision, or `None` when Redis cannot give one in time (the caller falls back).
    pub(super) async fn count(&self, key: &str, rule: Rule, hit: bool) -> Option<Result<(), RetryAfter>> {
        {
            let retry_at = self.retry_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if retry_at.is_some_and(|at| Instant::now() < at) {
                return None;
            }
        }
        let redis_key = self.key(key, rule);
        let window_ms = u64::try_from(rule.window.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn.clone();
        let call = async {
            if hit {
                self.hit
                    .key(&redis_key)
                    .arg(window_ms)
                    .invoke_async::<(u64, i64)>(&mut conn)
                    .await
            } else {
                self.check.key(&redis_key).invoke_async::<(u64, i64)>(&mut conn).await
            }
        };
        match tokio::time::timeout(TIMEOUT, call).await {
            Ok(Ok((count, ttl_ms))) => {
                self.mark_up();
                let retry = RetryAfter(Duration::from_millis(
                    u64::try_from(ttl_ms).ok().filter(|t| *t > 0).unwrap_or(window_ms),
                ));
                // Same rule as in memory: `hit` refuses the event that overflows the window, `check`
                // refuses once it is full.
                let refused = if hit {
                    count > u64::from(rule.limit)
                } else {
                    count >= u64::from(rule.limit)
                };
                Some(if refused { Err(retry) } else { Ok(()) })
            }
            Ok(Err(e)) => {
                self.mark_down(e.category());
                None
            }
            Err(_) => {
                self.mark_down("timeout");
                None
            }
        }
    }

    /// `prefix` + rule + a hash of the logical key: stable across instances, and no email or IP in Redis.
    fn key(&self, key: &str, rule: Rule) -> String {
        let digest = Sha256::digest(key.as_bytes());
        let mut hex = String::with_capacity(32);
        for byte in &digest[..16] {
            use std::fmt::Write as _;
            let _ = write!(hex, "{byte:02x}");
        }
        format!("{}{}:{hex}", self.prefix, rule.name)
    }

    fn mark_up(&self) {
        *self.retry_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!("redis reachable again; rate limits are shared again");
            crate::metrics::redis_up(true);
        }
    }

    fn mark_down(&self, reason: &str) {
        *self.retry_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now() + RETRY_AFTER);
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                reason,
                "redis unreachable; failing open: rate limits are counted per instance until it returns"
            );
            crate::metrics::redis_up(false);
        }
    }
}
