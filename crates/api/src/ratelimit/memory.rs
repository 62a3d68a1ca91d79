//! The in-process backend: a map of fixed windows, also the fallback while Redis is unreachable.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{RetryAfter, Rule};

#[derive(Default)]
pub(super) struct MemoryLimiter {
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
    pub(super) fn add(&self, key: &str, rule: Rule, n: u32, now: Instant) -> Result<(), RetryAfter> {
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
    use std::time::{Duration, Instant};

    use super::*;
    use crate::ratelimit::{RetryAfter, Rule};

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
