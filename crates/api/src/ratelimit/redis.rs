//! The shared backend: one atomic Lua script per count, a 50 ms budget per call, and the up/down
//! state that makes the limiter fail open (see the module above).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret as _, SecretString};

use super::login::{LoginKeys, LoginPolicy, LoginRefusal};
use super::{Key, RetryAfter, Rule, hex};

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

/// The failed-sign-in reservation (`ratelimit::login`), atomically: refuse when the (account,
/// client) window is full, or when the client is unknown and the account's delay since its last
/// failure has not passed; otherwise count one on both. Returns `{0, count}` when reserved (the
/// client window's count with this attempt), `{1, ms}`
/// for the client rule and `{2, ms}` for the account rule.
///
/// KEYS: the (account, client) counter, the account hash (`n`, `last`). ARGV: client limit,
/// client window ms, free failures, account memory ms, base delay ms, max delay ms, now ms, known.
const RESERVE_LOGIN_SCRIPT: &str = r"
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c >= tonumber(ARGV[1]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {1, ttl}
end
local now = tonumber(ARGV[7])
if ARGV[8] == '0' then
  local n = tonumber(redis.call('HGET', KEYS[2], 'n') or '0')
  local free = tonumber(ARGV[3])
  if n >= free then
    local delay = math.min(tonumber(ARGV[5]) * 2 ^ math.min(n - free, 40), tonumber(ARGV[6]))
    local waited = now - tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
    if waited < delay then return {2, math.ceil(delay - waited)} end
  end
end
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('HSET', KEYS[2], 'last', now)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {0, count}
";

/// Gives a reservation back: one less on both counters, never below zero.
const RELEASE_LOGIN_SCRIPT: &str = r"
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
if tonumber(redis.call('HGET', KEYS[2], 'n') or '0') > 0 then redis.call('HINCRBY', KEYS[2], 'n', -1) end
return 1
";

pub(super) struct RedisLimiter {
    conn: ConnectionManager,
    prefix: String,
    hit: redis::Script,
    check: redis::Script,
    reserve_login: redis::Script,
    release_login: redis::Script,
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
            reserve_login: redis::Script::new(RESERVE_LOGIN_SCRIPT),
            release_login: redis::Script::new(RELEASE_LOGIN_SCRIPT),
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
    pub(super) async fn count(&self, key: Key, rule: Rule, hit: bool) -> Option<Result<(), RetryAfter>> {
        if self.resting() {
            return None;
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
        let (count, ttl_ms) = self.answer(call).await?;
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

    /// The shared reservation, or `None` when Redis cannot give one in time (the caller falls back).
    pub(super) async fn reserve_login(
        &self,
        keys: &LoginKeys,
        policy: &LoginPolicy,
        known_device: bool,
    ) -> Option<Result<u32, LoginRefusal>> {
        if self.resting() {
            return None;
        }
        let (client, account) = self.login_keys(keys);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, millis);
        let mut conn = self.conn.clone();
        let mut invocation = self.reserve_login.key(&client);
        invocation
            .key(&account)
            .arg(policy.per_client.limit)
            .arg(millis(policy.per_client.window).max(1))
            .arg(policy.per_account.limit)
            .arg(millis(policy.per_account.window).max(1))
            .arg(millis(policy.base_delay))
            .arg(millis(policy.max_delay))
            .arg(now_ms)
            .arg(u8::from(known_device));
        let (outcome, ms) = self.answer(invocation.invoke_async::<(u8, i64)>(&mut conn)).await?;
        let retry = RetryAfter(Duration::from_millis(u64::try_from(ms).unwrap_or(0).max(1)));
        Some(match outcome {
            0 => Ok(u32::try_from(ms).unwrap_or(u32::MAX)),
            1 => Err(LoginRefusal::Client(retry)),
            _ => Err(LoginRefusal::Account(retry)),
        })
    }

    pub(super) async fn release_login(&self, keys: &LoginKeys) {
        let (client, account) = self.login_keys(keys);
        let mut conn = self.conn.clone();
        let mut invocation = self.release_login.key(&client);
        invocation.key(&account);
        let _ = self.answer(invocation.invoke_async::<i64>(&mut conn)).await;
    }

    /// The two keys of one sign-in attempt. Both carry the account digest as a hash tag (`{...}`), so
    /// a Redis Cluster keeps them on one node, as a two-key script needs.
    fn login_keys(&self, keys: &LoginKeys) -> (String, String) {
        let account = hex(&keys.account);
        (
            format!(
                "{}login_failures_per_ip:{{{account}}}:{}",
                self.prefix,
                hex(&keys.client)
            ),
            format!("{}login_failures_per_account:{{{account}}}", self.prefix),
        )
    }

    /// Whether Redis is being left alone after a failure.
    fn resting(&self) -> bool {
        let retry_at = self.retry_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        retry_at.is_some_and(|at| Instant::now() < at)
    }

    /// The script's answer within the budget, marking Redis up or down.
    async fn answer<T>(&self, call: impl std::future::Future<Output = redis::RedisResult<T>>) -> Option<T> {
        match tokio::time::timeout(TIMEOUT, call).await {
            Ok(Ok(value)) => {
                self.mark_up();
                Some(value)
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

    /// `prefix` + rule + the key's digest: stable across instances, and no email or IP in Redis.
    fn key(&self, key: Key, rule: Rule) -> String {
        format!("{}{}:{}", self.prefix, rule.name, key.hex())
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

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
