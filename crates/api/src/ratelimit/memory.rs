//! The in-process backend, also the fallback while Redis is unreachable: fixed-size keys in an LRU
//! map of at most [`CAPACITY`] entries. When it is full, the least recently touched counter goes
//! (usually long expired); no traffic can grow it further.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use super::login::{LoginKeys, LoginPolicy, LoginRefusal};
use super::{Key, RetryAfter, Rule};

/// Hard bound on the number of counters. An entry is a 16-byte key and a 40-byte value in an LRU
/// node plus its hash-table slot: 300,000 distinct keys left the store full at 100,000 and the
/// process 12.9 MB larger (measured; see DESIGN.md).
pub const CAPACITY: usize = 100_000;

/// One counter: a fixed window (`started`, `count`) or an account's failures (`count`, `last`).
#[derive(Clone, Copy)]
struct Entry {
    started: Instant,
    last: Instant,
    count: u32,
}

pub(super) struct MemoryLimiter {
    entries: Mutex<LruCache<Key, Entry>>,
}

impl Default for MemoryLimiter {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl MemoryLimiter {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Key, Entry>> {
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(super) fn add(&self, key: Key, rule: Rule, n: u32, now: Instant) -> Result<(), RetryAfter> {
        let mut entries = self.lock();
        let window = window(&mut entries, key, rule.window, now);
        let retry = RetryAfter(rule.window.saturating_sub(now.duration_since(window.started)));
        // `check` (n == 0) refuses once the window is full; `hit` refuses the event that would overflow it.
        if window.count >= rule.limit {
            return Err(retry);
        }
        window.count = window.count.saturating_add(n);
        Ok(())
    }

    /// The failed-sign-in reservation (see `ratelimit::login`), under one lock.
    pub(super) fn reserve_login(
        &self,
        keys: &LoginKeys,
        policy: &LoginPolicy,
        known_device: bool,
        now: Instant,
    ) -> Result<u32, LoginRefusal> {
        let mut entries = self.lock();
        let client_rule = policy.per_client;
        let client = *window(&mut entries, keys.client_key(), client_rule.window, now);
        if client.count >= client_rule.limit {
            let left = client_rule.window.saturating_sub(now.duration_since(client.started));
            return Err(LoginRefusal::Client(RetryAfter(left)));
        }
        let account = *account(&mut entries, keys.account_key(), policy.per_account.window, now);
        if !known_device {
            let delay = policy.delay(account.count);
            let waited = now.duration_since(account.last);
            if waited < delay {
                return Err(LoginRefusal::Account(RetryAfter(delay.saturating_sub(waited))));
            }
        }
        let mut attempts = client.count.saturating_add(1);
        if let Some(client) = entries.get_mut(&keys.client_key()) {
            client.count = client.count.saturating_add(1);
            attempts = client.count;
        }
        if let Some(account) = entries.get_mut(&keys.account_key()) {
            account.count = account.count.saturating_add(1);
            account.last = now;
        }
        Ok(attempts)
    }

    pub(super) fn release_login(&self, keys: &LoginKeys, policy: &LoginPolicy, now: Instant) {
        let mut entries = self.lock();
        let client = window(&mut entries, keys.client_key(), policy.per_client.window, now);
        client.count = client.count.saturating_sub(1);
        let account = account(&mut entries, keys.account_key(), policy.per_account.window, now);
        account.count = account.count.saturating_sub(1);
    }
}

/// The live fixed window of `key` (a fresh one when absent or over).
fn window(entries: &mut LruCache<Key, Entry>, key: Key, length: Duration, now: Instant) -> &mut Entry {
    let fresh = Entry {
        started: now,
        last: now,
        count: 0,
    };
    let entry = entries.get_or_insert_mut(key, || fresh);
    if now.duration_since(entry.started) >= length {
        *entry = fresh;
    }
    entry
}

/// An account's failure count, forgotten `memory` after its last failure.
fn account(entries: &mut LruCache<Key, Entry>, key: Key, memory: Duration, now: Instant) -> &mut Entry {
    let fresh = Entry {
        started: now,
        last: now,
        count: 0,
    };
    let entry = entries.get_or_insert_mut(key, || fresh);
    if now.duration_since(entry.last) >= memory {
        *entry = fresh;
    }
    entry
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::ratelimit::{RetryAfter, Rule};

    fn key(s: &str) -> Key {
        Key::new("t", s)
    }

    #[test]
    fn hits_beyond_the_limit_are_refused_until_the_window_ends() {
        let limiter = MemoryLimiter::default();
        let rule = Rule::new("t", 2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.add(key("k"), rule, 1, t0).is_ok());
        assert!(limiter.add(key("k"), rule, 1, t0).is_ok());
        let refused = limiter.add(key("k"), rule, 1, t0 + Duration::from_secs(10));
        assert_eq!(refused, Err(RetryAfter(Duration::from_secs(50))));
        assert!(limiter.add(key("other"), rule, 1, t0).is_ok());
        assert!(limiter.add(key("k"), rule, 1, t0 + Duration::from_secs(60)).is_ok());
    }

    #[test]
    fn check_does_not_count() {
        let limiter = MemoryLimiter::default();
        let rule = Rule::new("t", 1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.add(key("k"), rule, 0, t0).is_ok());
        assert!(limiter.add(key("k"), rule, 0, t0).is_ok());
        assert!(limiter.add(key("k"), rule, 1, t0).is_ok());
        assert!(limiter.add(key("k"), rule, 0, t0).is_err());
    }

    #[test]
    fn a_spray_of_distinct_keys_never_grows_the_store_past_its_capacity() {
        let limiter = MemoryLimiter::with_capacity(1_000);
        let rule = Rule::new("t", 5, Duration::from_secs(60));
        let t0 = Instant::now();
        for i in 0..50_000 {
            let _ = limiter.add(key(&format!("spray-{i}")), rule, 1, t0);
        }
        assert_eq!(limiter.len(), 1_000);
        // The most recent counters survive; the oldest went first.
        assert!(limiter.add(key("spray-49999"), rule, 0, t0).is_ok());
        assert_eq!(limiter.lock().peek(&key("spray-0")).map(|e| e.count), None);
        assert_eq!(limiter.lock().peek(&key("spray-49999")).map(|e| e.count), Some(1));
    }

    fn policy() -> LoginPolicy {
        LoginPolicy::new(
            Rule::new("c", 5, Duration::from_secs(900)),
            Rule::new("a", 10, Duration::from_secs(3600)),
        )
    }

    #[test]
    fn a_client_gets_five_reservations_then_is_refused_until_its_window_ends() {
        let limiter = MemoryLimiter::default();
        let p = policy();
        let keys = LoginKeys::new("a@x.example", "ip:1.2.3.4");
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.reserve_login(&keys, &p, false, t0).is_ok());
        }
        let refused = limiter.reserve_login(&keys, &p, false, t0 + Duration::from_secs(100));
        assert_eq!(refused, Err(LoginRefusal::Client(RetryAfter(Duration::from_secs(800)))));
        // Another client of the same account is not held back (the account has 5 of 10 free).
        let other = LoginKeys::new("a@x.example", "ip:5.6.7.8");
        assert!(limiter.reserve_login(&other, &p, false, t0).is_ok());
        assert!(
            limiter
                .reserve_login(&keys, &p, false, t0 + Duration::from_secs(900))
                .is_ok()
        );
    }

    #[test]
    fn a_release_gives_the_reservation_back() {
        let limiter = MemoryLimiter::default();
        let p = policy();
        let keys = LoginKeys::new("a@x.example", "ip:1.2.3.4");
        let t0 = Instant::now();
        for _ in 0..20 {
            assert!(limiter.reserve_login(&keys, &p, false, t0).is_ok());
            limiter.release_login(&keys, &p, t0);
        }
        assert!(limiter.reserve_login(&keys, &p, false, t0).is_ok());
    }

    #[test]
    fn past_the_free_failures_unknown_clients_wait_longer_each_time_and_known_devices_do_not() {
        let limiter = MemoryLimiter::default();
        let p = policy();
        let t0 = Instant::now();
        // Ten failures from ten addresses: all free.
        for i in 0..10 {
            let keys = LoginKeys::new("a@x.example", &format!("ip:10.0.0.{i}"));
            assert!(limiter.reserve_login(&keys, &p, false, t0).is_ok());
        }
        let stranger = LoginKeys::new("a@x.example", "ip:198.51.100.1");
        assert_eq!(
            limiter.reserve_login(&stranger, &p, false, t0),
            Err(LoginRefusal::Account(RetryAfter(Duration::from_secs(1))))
        );
        let t1 = t0 + Duration::from_secs(1);
        assert!(limiter.reserve_login(&stranger, &p, false, t1).is_ok());
        // Eleven failures: the next needs 2 s after the last.
        assert_eq!(
            limiter.reserve_login(&stranger, &p, false, t1 + Duration::from_millis(500)),
            Err(LoginRefusal::Account(RetryAfter(Duration::from_millis(1_500))))
        );
        // The owner's known device is not delayed.
        let device = LoginKeys::new("a@x.example", "dev:abc");
        assert!(limiter.reserve_login(&device, &p, true, t1).is_ok());
        // The count is forgotten an hour after the last failure.
        let later = t1 + Duration::from_secs(3600);
        assert!(limiter.reserve_login(&stranger, &p, false, later).is_ok());
    }
}
