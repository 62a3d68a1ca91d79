//! Rate limits behind one small interface, so the backend (in-process, or Redis shared by every
//! instance when `REDIS_URL` is set) can change without touching the routes that use it.
//!
//! Fixed windows: simple to reason about, identical in memory and in a Redis script, and cheap
//! (one map entry or one key per client and rule). Failed sign-ins have a policy of their own
//! ([`login`]): a reservation taken before the password is checked, per (account, client) windows
//! and a per-account exponential delay that a known device skips.
//!
//! Memory an outsider controls: every key is a 16-byte digest of the rule and the logical key
//! ([`Key`]), never the text a client sent, and the in-process store is a bounded LRU map
//! ([`memory::CAPACITY`] entries), so no traffic grows it past a fixed size.
//!
//! Redis failing open: every Redis call has a 50 ms budget. When it fails, the limiter counts in
//! this process's memory instead (the limits then hold per instance, as without Redis), logs the
//! outage once, reports it in health and metrics, and tries Redis again after a short pause. Refusing
//! every request because a counter store is down would turn a Redis outage into a full outage.
//!
//! The store lives here (`memory`, `redis`); the HTTP middleware that applies the per-client and
//! per-IP budgets is in `http::ratelimit`, the failed-login rule in `auth::service`, the chat budget
//! in `chat::service`.

pub mod login;
mod memory;
mod redis;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use self::memory::MemoryLimiter;
use self::redis::RedisLimiter;

pub use self::login::{LoginKeys, LoginPolicy, LoginRefusal, LoginReservation};
pub use self::memory::CAPACITY as MEMORY_CAPACITY;

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
    /// Failed sign-ins per (account, client) per window; the client is a known device or the IP.
    pub login_failures_per_ip: Rule,
    /// Failed sign-ins per account (from anywhere) before each further attempt from an unknown
    /// client waits an exponentially growing delay; `window` is how long the count is remembered
    /// after the last failure.
    pub login_failures_per_account: Rule,
    pub global_per_client: Rule,
    pub chat_per_user: Rule,
}

impl RuleSet {
    /// The failed-sign-in policy built from the two login rules.
    pub fn login_policy(&self) -> LoginPolicy {
        LoginPolicy::new(self.login_failures_per_ip, self.login_failures_per_account)
    }
}

/// Time until the client may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

/// A counter's identity: the first 16 bytes of SHA-256 over the rule name and the logical key.
/// Fixed-size whatever the client sent, and it holds no email or IP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 16]);

impl Key {
    pub fn new(rule: &str, logical: &str) -> Self {
        Self(digest(&[rule.as_bytes(), logical.as_bytes()]))
    }

    pub(crate) fn from_digest(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Lower-case hex, for Redis key names.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// SHA-256 over length-prefixed parts (so `("ab", "c")` and `("a", "bc")` differ), cut to 16 bytes.
pub(crate) fn digest(parts: &[&[u8]]) -> [u8; 16] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let full = hasher.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// The bucket an IP address is counted in: the address itself for IPv4, its /64 for IPv6 (one
/// host usually holds a whole /64, so per-address buckets would let it spray fresh addresses).
pub fn ip_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

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
        self.count(Key::new(rule.name, key), rule, true).await
    }

    /// Refuses when `key` has already used the window up, without counting anything.
    pub async fn check(&self, key: &str, rule: Rule) -> Result<(), RetryAfter> {
        self.count(Key::new(rule.name, key), rule, false).await
    }

    async fn count(&self, key: Key, rule: Rule, hit: bool) -> Result<(), RetryAfter> {
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

    /// Takes one failed-sign-in reservation for `keys` before the password is checked, or refuses
    /// (see [`login`]). Atomic in memory (one lock) and in Redis (one script), so parallel attempts
    /// meet the limit instead of all passing a check that none has counted yet.
    pub async fn reserve_login(
        &self,
        keys: &LoginKeys,
        policy: &LoginPolicy,
        known_device: bool,
    ) -> Result<LoginReservation, LoginRefusal> {
        let shared = match &self.redis {
            Some(redis) => redis.reserve_login(keys, policy, known_device).await,
            None => None,
        };
        let (result, shared) = match shared {
            Some(result) => (result, true),
            None => (
                self.memory.reserve_login(keys, policy, known_device, Instant::now()),
                false,
            ),
        };
        match result {
            Ok(attempts) => Ok(LoginReservation {
                keys: *keys,
                shared,
                attempts,
                limit: policy.per_client.limit,
            }),
            Err(refusal) => {
                crate::metrics::rate_limited(refusal.rule_name());
                Err(refusal)
            }
        }
    }

    /// Gives a reservation back (the sign-in succeeded, or failed for a reason that is not a
    /// wrong password). Best effort: a release that cannot reach Redis leaves one failure counted.
    pub async fn release_login(&self, reservation: LoginReservation, policy: &LoginPolicy) {
        if reservation.shared {
            if let Some(redis) = &self.redis {
                redis.release_login(&reservation.keys).await;
            }
        } else {
            self.memory.release_login(&reservation.keys, policy, Instant::now());
        }
    }

    /// How many counters the in-process store holds now (bounded by [`MEMORY_CAPACITY`]).
    pub fn memory_entries(&self) -> usize {
        self.memory.len()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fixed_size_and_do_not_collide_across_parts() {
        let long = "x".repeat(1_000_000);
        assert_eq!(Key::new("r", &long).hex().len(), 32);
        assert_ne!(Key::new("ab", "c"), Key::new("a", "bc"));
        assert_eq!(Key::new("r", "k"), Key::new("r", "k"));
    }

    #[test]
    fn ipv6_addresses_share_their_64_bit_prefix_and_ipv4_mapped_ones_are_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(ip_bucket(a), ip_bucket(b));
        assert_eq!(ip_bucket(a), "2001:db8:1:2::/64");
        let mapped: IpAddr = "::ffff:203.0.113.7".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(ip_bucket(mapped), "203.0.113.7");
    }
}
