//! Passwords: strength rules at registration, argon2id hashing off the async runtime.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. See DESIGN.md for the throughput it buys.
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;
pub const MIN_SCORE: u8 = 3;

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password that passed the strength rules. Never printed.
pub struct Password(SecretString);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordError {
    TooShort,
    TooLong,
    TooWeak(String),
}

impl PasswordError {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::TooShort => "too_short",
            PasswordError::TooLong => "too_long",
            PasswordError::TooWeak(_) => "too_weak",
        }
    }

    pub fn message(&self) -> String {
        match self {
            PasswordError::TooShort => {
                format!("Password must be at least {MIN_LENGTH} characters.")
            }
            PasswordError::TooLong => format!("Password must be at most {MAX_LENGTH} characters."),
            PasswordError::TooWeak(why) => format!("Password is too easy to guess. {why}"),
        }
    }
}

impl Password {
    /// Applies the length rule and a zxcvbn score of at least 3, with the user's own email and name as
    /// known inputs (a password built from them is weak).
    pub fn parse(raw: String, user_inputs: &[&str]) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < MIN_LENGTH {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_LENGTH {
            return Err(PasswordError::TooLong);
        }
        let estimate = zxcvbn::zxcvbn(&raw, user_inputs);
        if u8::from(estimate.score()) < MIN_SCORE {
            let mut why = String::new();
            if let Some(feedback) = estimate.feedback() {
                if let Some(warning) = feedback.warning() {
                    why.push_str(&warning.to_string());
                    why.push(' ');
                }
                for suggestion in feedback.suggestions() {
                    why.push_str(&suggestion.to_string());
                    why.push(' ');
                }
            }
            if why.is_empty() {
                why.push_str("Use a longer passphrase of several unrelated words.");
            }
            return Err(PasswordError::TooWeak(why.trim_end().to_owned()));
        }
        Ok(Self(SecretString::from(raw)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Hashing and verification for the request path: on the blocking pool (argon2 takes tens of milliseconds of
/// CPU by design) and at most one per core at a time. Each run holds 19 MiB, so without the bound a burst of
/// logins would grow the process by 19 MiB per concurrent request (measured: 640 MB at 32 concurrent logins)
/// and could be used to exhaust memory; with it, extra logins queue.
pub struct Passwords {
    permits: tokio::sync::Semaphore,
    /// Verified against when a login names an unknown account, so timing does not reveal which exist.
    dummy_hash: String,
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Ok(Self {
            permits: tokio::sync::Semaphore::new(cores),
            dummy_hash: hash_blocking(&uuid::Uuid::new_v4().to_string())?,
        })
    }

    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await?;
        tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
            .await
            .map_err(|e| anyhow::anyhow!("hashing task failed: {e}"))?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let stored = stored.unwrap_or_else(|| self.dummy_hash.clone());
        tokio::task::spawn_blocking(move || verify_blocking(password.expose_secret(), &stored))
            .await
            .unwrap_or(false)
    }
}

pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify_blocking(password: &str, stored: &str) -> bool {
    if let Ok(parsed) = PasswordHash::new(stored) {
        hasher().verify_password(password.as_bytes(), &parsed).is_ok()
    } else {
        tracing::error!("a stored password hash is malformed");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_common_passwords_are_refused() {
        assert_eq!(
            Password::parse("short".into(), &[]).err(),
            Some(PasswordError::TooShort)
        );
        let weak = Password::parse("Password1234!".into(), &[]).err();
        assert_eq!(weak.as_ref().map(PasswordError::code), Some("too_weak"));
    }

    #[test]
    fn passwords_built_from_the_users_own_details_are_weak() {
        let r = Password::parse("janedoe@clinic.com".into(), &["janedoe@clinic.com", "Jane Doe"]);
        assert!(r.is_err());
    }

    #[test]
    fn a_passphrase_is_accepted() {
        assert!(Password::parse("correct horse battery staple lamp".into(), &[]).is_ok());
    }

    #[test]
    fn hashes_verify_and_use_argon2id() {
        let h = hash_blocking("correct horse battery staple lamp").unwrap_or_default();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_blocking("correct horse battery staple lamp", &h));
        assert!(!verify_blocking("wrong horse battery staple lamp", &h));
        assert!(!verify_blocking("x", "not a hash"));
    }
}
