//! Rate limits behind one small interface, so the backend (in-process, or Redis shared by every
//! instance when `REDIS_URL` is set) can change without touching the routes that use it.
//!
//! Fixed windows: simple to reason about, identical in memory and in a Redis script, and cheap
//! (one map entry or one key per client and rule).
//!
//! Redis failing open: every Redis call has a 50 ms budget. When it fails, the limiter counts in
//! this process's memory instead (the limits then hold per instance, as without Redis), logs the
//! outage once, reports it in health and metrics, and tries Redis again after a short pause. Refusing
//! every request because a counter store is down would turn a Redis outage into a full outage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::ExposeSecret as _;
use sha2::{Digest as _, Sha256};

/// `limit` events per `window`; `name` labels the rule in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    pub limit: u32,
    pub window: Duration,
}

impl Rule {
    pub const fn new(name: &'static str, limit: u32, window: Duration) -> Self {
        Self { name, limit, window }
    }
}

/// Every configured limit (see `RATE_LIMIT_*` in `--help`).
#[derive(Debug, Clone, Copy)]
pub struct RuleSet {
    pub auth_per_ip: Rule,
    pub login_failures_per_ip: Rule,
    pub login_failures_per_account: Rule,
    pub global_per_client: Rule,
    pub chat_per_user: Rule,
}

/// Time until the client may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// Budget of one Redis call: a rate-limit check must never be what makes a request slow.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// After a failure, Redis is left alone this long (requests use the in-memory fallback meanwhile).
const REDIS_RETRY_AFTER: Duration = Duration::from_secs(1);
/// Budget of the health probe's `PING`.
const REDIS_HEALTH_TIMEOUT: Duration = Duration::from_millis(500);

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

pub struct Limiter {
    memory: MemoryLimiter,
    redis: Option<RedisLimiter>,
}

impl Default for Limiter {
    fn default() -> Self {
        Self::in_memory()
    }
}

impl Limiter {
    pub fn in_memory() -> Self {
        Self {
            memory: MemoryLimiter::default(),
            redis: None,
        }
    }

    /// A limiter shared through Redis at `url`; keys are `prefix` + a hash of the logical key (so no
    /// email or IP address is stored in Redis). Connects lazily: a Redis that is down at start-up
    /// does not stop the api.
    pub fn redis(url: &secrecy::SecretString, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url.expose_secret())
            .map_err(|_| anyhow::anyhow!("REDIS_URL is not a valid Redis URL"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(REDIS_TIMEOUT * 4))
            .set_response_timeout(Some(REDIS_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("cannot set up the Redis connection: {e}"))?;
        Ok(Self {
            memory: MemoryLimiter::default(),
            redis: Some(RedisLimiter {
                conn,
                prefix: prefix.to_owned(),
                hit: redis::Script::new(HIT_SCRIPT),
                check: redis::Script::new(CHECK_SCRIPT),
                up: AtomicBool::new(true),
                retry_at: Mutex::new(None),
            }),
        })
    }

    /// Counts one event for `key` and refuses it when the window is already full.
    pub async fn hit(&self, key: &str, rule: Rule) -> Result<(), RetryAfter> {
        self.count(key, rule, true).await
    }

    /// Refuses when `key` has already used the window up, without counting anything.
    pub async fn check(&self, key: &str, rule: Rule) -> Result<(), RetryAfter> {
        self.count(key, rule, false).await
    }

    async fn count(&self, key: &str, rule: Rule, hit: bool) -> Result<(), RetryAfter> {
        let shared = match &self.redis {
            Some(redis) => redis.count(key, rule, hit).await,
            None => None,
        };
        let result = shared.unwrap_or_else(|| self.memory.add(key, rule, u32::from(hit), Instant::now()));
        if result.is_err() {
            crate::metrics::rate_limited(rule.name);
        }
        result
    }

    /// `None` without Redis; otherwise `ok` or `unreachable` (a fresh `PING`, for the health route).
    pub async fn redis_health(&self) -> Option<&'static str> {
        let redis = self.redis.as_ref()?;
        let mut conn = redis.conn.clone();
        let ping = tokio::time::timeout(
            REDIS_HEALTH_TIMEOUT,
            redis::cmd("PING").query_async::<String>(&mut conn),
        )
        .await;
        if matches!(ping, Ok(Ok(_))) {
            redis.mark_up();
            Some("ok")
        } else {
            redis.mark_down("ping");
            Some("unreachable")
        }
    }

    /// Whether Redis is configured, and if so whether it answered last time (for the metrics gauge).
    pub fn redis_up(&self) -> Option<bool> {
        self.redis.as_ref().map(|r| r.up.load(Ordering::Relaxed))
    }
}

struct RedisLimiter {
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
    /// The shared decision, or `None` when Redis cannot give one in time (the caller falls back).
    async fn count(&self, key: &str, rule: Rule, hit: bool) -> Option<Result<(), RetryAfter>> {
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
        match tokio::time::timeout(REDIS_TIMEOUT, call).await {
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
        *self.retry_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + REDIS_RETRY_AFTER);
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                reason,
                "redis unreachable; failing open: rate limits are counted per instance until it returns"
            );
            crate::metrics::redis_up(false);
        }
    }
}

#[derive(Default)]
struct MemoryLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    length: Duration,
    count: u32,
}

/// Entries beyond this trigger a sweep of expired windows, bounding memory under an IP spray.
const SWEEP_AT: usize = 100_000;

impl MemoryLimiter {
    fn add(&self, key: &str, rule: Rule, n: u32, now: Instant) -> Result<(), RetryAfter> {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| now.duration_since(w.started) < w.length);
        }
        let window = windows.entry(key.to_owned()).or_insert(Window {
            started: now,
            length: rule.window,
            count: 0,
        });
        if now.duration_since(window.started) >= rule.window {
            *window = Window {
                started: now,
                length: rule.window,
                count: 0,
            };
        }
        let retry = RetryAfter(rule.window.saturating_sub(now.duration_since(window.started)));
        // `check` (n == 0) refuses once the window is full; `hit` refuses the event that would overflow it.
        if window.count >= rule.limit {
            return Err(retry);
        }
        window.count += n;
        Ok(())
    }
}

/// The global budget of one client: the signed-in user when the bearer token verifies, else the IP.
pub async fn limit_per_client(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let (parts, body) = request.into_parts();
    let key = match crate::auth::extractor::bearer(&parts).and_then(|t| state.jwt.verify(t)) {
        Some(claims) => format!("global:user:{}", claims.sub),
        None => format!(
            "global:ip:{}",
            crate::client_ip::client_ip(&parts, state.config.trust_forwarded_for)
        ),
    };
    if let Err(retry) = state
        .limiter
        .hit(&key, state.config.rate_limits.global_per_client)
        .await
    {
        return crate::error::ApiError::RateLimited { retry_after: retry.0 }.into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_beyond_the_limit_are_refused_until_the_window_ends() {
        let limiter = MemoryLimiter::default();
        let rule = Rule::new("t", 2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.add("k", rule, 1, t0).is_ok());
        assert!(limiter.add("k", rule, 1, t0).is_ok());
        let refused = limiter.add("k", rule, 1, t0 + Duration::from_secs(10));
        assert_eq!(refused, Err(RetryAfter(Duration::from_secs(50))));
        assert!(limiter.add("other", rule, 1, t0).is_ok());
        assert!(limiter.add("k", rule, 1, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn check_does_not_count() {
        let limiter = MemoryLimiter::default();
        let rule = Rule::new("t", 1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.add("k", rule, 0, t0).is_ok());
        assert!(limiter.add("k", rule, 0, t0).is_ok());
        assert!(limiter.add("k", rule, 1, t0).is_ok());
        assert!(limiter.add("k", rule, 0, t0).is_err());
    }
}
