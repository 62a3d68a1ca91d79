//! Rate limits behind one small interface, so the backend (in-process now, Redis when configured) can
//! change without touching the routes that use it.
//!
//! Fixed windows: simple to reason about, identical in memory and in a Redis script, and cheap
//! (one map entry or one key per client and rule).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `limit` events per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub window: Duration,
}

impl Rule {
    pub const fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
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
        }
    }

    /// Counts one event for `key` and refuses it when the window is already full.
    // `async` so that a shared (networked) backend can sit behind the same call sites.
    #[allow(clippy::unused_async)]
    pub async fn hit(&self, key: &str, rule: Rule) -> Result<(), RetryAfter> {
        self.memory.add(key, rule, 1, Instant::now())
    }

    /// Refuses when `key` has already used the window up, without counting anything.
    #[allow(clippy::unused_async)]
    pub async fn check(&self, key: &str, rule: Rule) -> Result<(), RetryAfter> {
        self.memory.add(key, rule, 0, Instant::now())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_beyond_the_limit_are_refused_until_the_window_ends() {
        let limiter = MemoryLimiter::default();
        let rule = Rule::new(2, Duration::from_secs(60));
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
        let rule = Rule::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.add("k", rule, 0, t0).is_ok());
        assert!(limiter.add("k", rule, 0, t0).is_ok());
        assert!(limiter.add("k", rule, 1, t0).is_ok());
        assert!(limiter.add("k", rule, 0, t0).is_err());
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
