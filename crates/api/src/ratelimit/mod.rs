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

//!
//! The store lives here (`memory`, `redis`); the HTTP middleware that applies the per-client and
//! per-IP budgets is in `http::ratelimit`, the failed-login rule in `auth::service`, the chat budget
//! in `chat::service`.

mod memory;
mod redis;

use std::time::{Duration, Instant};

use self::memory::MemoryLimiter;
use self::redis::RedisLimiter;

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
        Ok(Self {
            memory: MemoryLimiter::default(),
            redis: Some(RedisLimiter::new(url, prefix)?),
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
        Some(self.redis.as_ref()?.health().await)
    }

    /// Whether Redis is configured, and if so whether it answered last time (for the metrics gauge).
    pub fn redis_up(&self) -> Option<bool> {
        self.redis.as_ref().map(RedisLimiter::is_up)
    }
}
