//! The failed-sign-in policy, the same in memory and in the Redis script.
//!
//! Two counters per attempt, both taken *before* the password is checked (a reservation) and
//! given back when the sign-in succeeds, so thirty parallel guesses meet the limit instead of all
//! passing a check that none of them has counted yet:
//! - **per (account, client)**: a fixed window (`RATE_LIMIT_LOGIN_FAILURES_PER_IP`, 5 per 15
//!   minutes). The client is a known device (its signed cookie, see `auth::device`) or else the IP
//!   bucket. A guesser is stopped; the owner on another device or network is not.
//! - **per account, from everywhere**: the first `RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT` failures
//!   (10) are free; after that each attempt from an *unknown* client must wait
//!   `BASE_DELAY * 2^(failures - free)` since the last failure, at most [`MAX_DELAY`]. A distributed
//!   guesser gets a few guesses an hour; nobody can lock the account for longer than
//!   [`MAX_DELAY`] at a time, and a device the owner signed in from before skips the delay
//!   entirely. The count is forgotten `window` (1 hour) after the last failure.

use std::time::Duration;

use super::{Key, RetryAfter, Rule, digest};

/// The first delay once an account's free failures are used up.
pub const BASE_DELAY: Duration = Duration::from_secs(1);
/// The longest an unknown client waits between two attempts on one account.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);

/// The failed-sign-in rules (from the configuration) and the delay curve.
#[derive(Debug, Clone, Copy)]
pub struct LoginPolicy {
    pub per_client: Rule,
    pub per_account: Rule,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl LoginPolicy {
    pub fn new(per_client: Rule, per_account: Rule) -> Self {
        Self {
            per_client,
            per_account,
            base_delay: BASE_DELAY,
            max_delay: MAX_DELAY,
        }
    }

    /// How long an unknown client must wait after the last failure when the account has `failures`.
    pub fn delay(&self, failures: u32) -> Duration {
        let Some(over) = failures.checked_sub(self.per_account.limit) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(over.min(31)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// The two counters of one attempt: the account (a digest of the normalised email) and the
/// (account, client) pair. Fixed-size whatever the email was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginKeys {
    pub account: [u8; 16],
    pub client: [u8; 16],
}

impl LoginKeys {
    /// `account` is the normalised email (or whatever was typed, when it is not one); `client` is
    /// `dev:<device id>` for a known device or `ip:<bucket>`.
    pub fn new(account: &str, client: &str) -> Self {
        let account = digest(&[b"login-account", account.as_bytes()]);
        let client = digest(&[b"login-client", &account, client.as_bytes()]);
        Self { account, client }
    }

    pub(super) fn account_key(&self) -> Key {
        Key::from_digest(self.account)
    }

    pub(super) fn client_key(&self) -> Key {
        Key::from_digest(self.client)
    }
}

/// A counted attempt, to give back with `Limiter::release_login` when it was not a wrong password.
#[derive(Debug, Clone, Copy)]
pub struct LoginReservation {
    pub(super) keys: LoginKeys,
    /// Taken in Redis (else in this process's memory).
    pub(super) shared: bool,
    /// This client's attempts on the account in the current window, this one included.
    pub(super) attempts: u32,
    pub(super) limit: u32,
}

impl LoginReservation {
    /// How many more failures this client may have on the account before it is held back, if this
    /// attempt turns out to be one.
    pub fn remaining_after_failure(&self) -> u32 {
        self.limit.saturating_sub(self.attempts)
    }
}

/// Why a sign-in attempt was refused before the password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// This client used up its failures on this account.
    Client(RetryAfter),
    /// The account has many recent failures; an unknown client waits.
    Account(RetryAfter),
}

impl LoginRefusal {
    pub fn retry_after(self) -> Duration {
        match self {
            LoginRefusal::Client(r) | LoginRefusal::Account(r) => r.0,
        }
    }

    pub(super) fn rule_name(self) -> &'static str {
        match self {
            LoginRefusal::Client(_) => "login_failures_per_ip",
            LoginRefusal::Account(_) => "login_failures_per_account",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LoginPolicy {
        LoginPolicy::new(
            Rule::new("c", 5, Duration::from_secs(900)),
            Rule::new("a", 10, Duration::from_secs(3600)),
        )
    }

    #[test]
    fn the_delay_starts_after_the_free_failures_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay(0), Duration::ZERO);
        assert_eq!(p.delay(9), Duration::ZERO);
        assert_eq!(p.delay(10), Duration::from_secs(1));
        assert_eq!(p.delay(11), Duration::from_secs(2));
        assert_eq!(p.delay(14), Duration::from_secs(16));
        assert_eq!(p.delay(20), MAX_DELAY);
        assert_eq!(p.delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn keys_separate_accounts_and_clients() {
        let a = LoginKeys::new("a@x.example", "ip:1.2.3.4");
        let b = LoginKeys::new("a@x.example", "ip:5.6.7.8");
        let c = LoginKeys::new("b@x.example", "ip:1.2.3.4");
        assert_eq!(a.account, b.account);
        assert_ne!(a.client, b.client);
        assert_ne!(a.account, c.account);
        assert_ne!(a.client, c.client);
    }
}
