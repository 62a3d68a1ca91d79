//! Passwords: strength rules at registration, argon2id hashing off the async runtime.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Argon2id at 9 MiB, 4 passes, 1 lane: one of OWASP's five equivalent configurations (19 MiB/t=2, 12 MiB/t=3,
/// 9 MiB/t=4, 7 MiB/t=5, 6 MiB/t=6 give an attacker the same cost), chosen for the api's memory: a hash holds 9 MiB
/// instead of 19 for about the same CPU time. Hashes made with other parameters (the 19 MiB/t=2 ones made before)
/// still verify, from the parameters their PHC string carries, and are rehashed at the next login
/// ([`Passwords::verify_and_upgrade`]). DESIGN.md, "Password hashing", has the trade-off.
pub const MEMORY_KIB: u32 = 9 * 1024;
pub const ITERATIONS: u32 = 4;
pub const PARALLELISM: u32 = 1;

/// The largest working memory a buffer grows to for an older hash; a stored hash asking for more is verified in
/// an allocation of its own (none does: the only older parameters are 19 MiB).
const MAX_REUSED_BLOCKS: usize = 64 * 1024;

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 1024;
pub const MIN_SCORE: u8 = 3;

fn params() -> Params {
    Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default()
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
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
/// CPU by design), at most one per core at a time, each in one of as many block buffers (9 MiB at today's
/// parameters) allocated once and reused. Without the bound a burst of logins grew the process by one hash's
/// memory per concurrent request (640 MB at 32 concurrent logins at the earlier 19 MiB) and could be used to
/// exhaust memory; with the bound alone, glibc still kept a freed block in each blocking thread's arena (512-653 MB
/// peak run directly). Reused buffers are never freed, so the api's memory for hashing is `cores x 9 MiB`
/// (19 MiB per buffer that verified an older hash), whatever the allocator does; extra logins queue.
///
/// The permit and the buffer belong to the blocking task, not to the request: a client that disconnects while
/// its password is being hashed drops the request's future, but the hash runs on to its end, and only then are
/// its buffer given back and its permit released. Held by the future instead (as before), a disconnect let the
/// next login start a third hash beside the two still running and allocate a third buffer, and dropped the
/// finished task's buffer, which glibc kept: 46-62 MiB peaks in the same login flood, depending on how many
/// requests the load generator's warm-up left in flight.
pub struct Passwords {
    permits: Arc<tokio::sync::Semaphore>,
    /// Block buffers not in use; at most one per permit exists (a buffer lost to a panicking task is
    /// allocated again on demand).
    buffers: Arc<Buffers>,
    /// Verified against when a login names an unknown account, so timing does not reveal which exist.
    dummy_hash: String,
}

/// The free buffers, and how many were ever allocated (for tests: reuse means the count stops growing).
#[derive(Default)]
struct Buffers {
    free: std::sync::Mutex<Vec<Memory>>,
    allocated: AtomicUsize,
}

impl Buffers {
    /// A free buffer, or a new one when none is free (only until each permit's buffer exists, or after a task
    /// holding one panicked).
    fn take(&self) -> Memory {
        if let Some(memory) = self.free.lock().ok().and_then(|mut free| free.pop()) {
            return memory;
        }
        self.allocated.fetch_add(1, Ordering::Relaxed);
        Memory::new()
    }

    fn give_back(&self, memory: Memory) {
        if let Ok(mut free) = self.free.lock() {
            free.push(memory);
        }
    }
}

/// Argon2's working memory for one hash at today's parameters (`MEMORY_KIB` blocks of 1 KiB), or more once it
/// verified an older, larger hash (it then stays that size, so the next one reuses it instead of allocating).
pub struct Memory(Box<[Block]>);

impl Memory {
    pub fn new() -> Self {
        Self::with_blocks(params().block_count())
    }

    fn with_blocks(blocks: usize) -> Self {
        Self(vec![Block::new(); blocks].into_boxed_slice())
    }
}

/// What a login's verification found.
#[derive(Debug, Default)]
pub struct Verified {
    pub matches: bool,
    /// A hash of the same password at today's parameters, when it matched a hash made with other ones (to store
    /// in place of the old one).
    pub upgraded: Option<String>,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Passwords {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::with_concurrency(cores)
    }

    /// At most `concurrency` hashes at once (and as many buffers).
    pub fn with_concurrency(concurrency: usize) -> anyhow::Result<Self> {
        let concurrency = concurrency.max(1);
        let buffers = Buffers::default();
        let mut memory = buffers.take();
        let dummy_hash = hash_with(&mut memory, &uuid::Uuid::new_v4().to_string())?;
        buffers.give_back(memory);
        Ok(Self {
            permits: Arc::new(tokio::sync::Semaphore::new(concurrency)),
            buffers: Arc::new(buffers),
            dummy_hash,
        })
    }

    /// Runs `work` on the blocking pool with a permit and a buffer, both owned by the task (see the type's
    /// comment); `None` when the semaphore is closed or the task panicked.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Memory) -> T + Send + 'static) -> Option<T> {
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok()?;
        let buffers = Arc::clone(&self.buffers);
        tokio::task::spawn_blocking(move || {
            let mut memory = buffers.take();
            let out = work(&mut memory);
            buffers.give_back(memory);
            drop(permit);
            out
        })
        .await
        .ok()
    }

    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        self.run(move |memory| hash_with(memory, password.expose_secret()))
            .await
            .ok_or_else(|| anyhow::anyhow!("hashing task failed"))?
    }

    /// Verifies `password` against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(&self, password: SecretString, stored: Option<String>) -> bool {
        self.check(password, stored, false).await.matches
    }

    /// As [`Passwords::verify`], and when the password matches a hash made with other parameters than today's,
    /// also hashes it at today's (in the same permit and buffer), for the caller to store.
    pub async fn verify_and_upgrade(&self, password: SecretString, stored: Option<String>) -> Verified {
        self.check(password, stored, true).await
    }

    async fn check(&self, password: SecretString, stored: Option<String>, upgrade: bool) -> Verified {
        let stored = stored.unwrap_or_else(|| self.dummy_hash.clone());
        self.run(move |memory| {
            let matches = verify_with(memory, password.expose_secret(), &stored);
            let upgraded = (matches && upgrade && needs_rehash(&stored))
                .then(|| hash_with(memory, password.expose_secret()).ok())
                .flatten();
            Verified { matches, upgraded }
        })
        .await
        .unwrap_or_default()
    }

    /// Buffers currently allocated and free (for tests).
    pub fn free_buffers(&self) -> usize {
        self.buffers.free.lock().map_or(0, |free| free.len())
    }

    /// Buffers allocated since start-up (for tests).
    pub fn buffers_allocated(&self) -> usize {
        self.buffers.allocated.load(Ordering::Relaxed)
    }
}

/// Hashes with a fresh allocation (the CLI's `create-admin`, benchmarks); the request path uses
/// [`Passwords`].
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    hash_with(&mut Memory::new(), password)
}

pub fn verify_blocking(password: &str, stored: &str) -> bool {
    verify_with(&mut Memory::new(), password, stored)
}

/// Argon2id at today's parameters in `memory`, as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`),
/// the same string `PasswordHasher::hash_password` produces.
pub fn hash_with(memory: &mut Memory, password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let params = params();
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    hasher()
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut memory.0[..])
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(hash.to_string())
}

/// Whether `stored` was made with other parameters than today's (it verifies, and is replaced at the next login).
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let current = params();
    parsed.algorithm != Algorithm::Argon2id.ident()
        || parsed.version != Some(Version::V0x13.into())
        || Params::try_from(&parsed).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost()) != (current.m_cost(), current.t_cost(), current.p_cost())
        })
}

/// Verifies against a stored PHC string in `memory`. A hash stored with more memory than today's parameters (the
/// 19 MiB ones made before 9 MiB became the default) grows `memory` to its size, once: the buffer is kept at that
/// size and reused, so the process holds at most `concurrency` such buffers instead of the allocator keeping a
/// freed one per thread. Past [`MAX_REUSED_BLOCKS`] it is verified in an allocation of its own.
pub fn verify_with(memory: &mut Memory, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::error!("a stored password hash is malformed");
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        tracing::error!("a stored password hash has no salt or output");
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(stored_params)) = (
        Algorithm::try_from(parsed.algorithm),
        parsed.version.map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&parsed),
    ) else {
        tracing::error!("a stored password hash has unknown parameters");
        return false;
    };
    if stored_params.block_count() > MAX_REUSED_BLOCKS {
        return Argon2::new(algorithm, version, stored_params)
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
    }
    if stored_params.block_count() > memory.0.len() {
        *memory = Memory::with_blocks(stored_params.block_count());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_raw) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(algorithm, version, stored_params)
        .hash_password_into_with_memory(password.as_bytes(), salt_raw, &mut out, &mut memory.0[..])
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
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
        assert!(h.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{h}");
        assert!(!needs_rehash(&h));
        assert!(verify_blocking("correct horse battery staple lamp", &h));
        assert!(!verify_blocking("wrong horse battery staple lamp", &h));
        assert!(!verify_blocking("x", "not a hash"));
    }

    #[test]
    fn reused_memory_hashes_are_the_same_format_as_argon2s_own() {
        let mut memory = Memory::new();
        let ours = hash_with(&mut memory, "correct horse battery staple lamp").unwrap_or_default();
        // Verified by the crate's own verifier: existing hashes and ours are interchangeable.
        let parsed = PasswordHash::new(&ours);
        assert!(parsed.is_ok_and(|p| {
            hasher()
                .verify_password(b"correct horse battery staple lamp", &p)
                .is_ok()
        }));
        // And a hash made by the crate's own hasher verifies in reused (already dirty) memory.
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2::password_hash::PasswordHasher::hash_password(
            &hasher(),
            b"correct horse battery staple lamp",
            &salt,
        )
        .map(|h| h.to_string())
        .unwrap_or_default();
        assert!(verify_with(&mut memory, "correct horse battery staple lamp", &theirs));
        assert!(!verify_with(&mut memory, "correct horse battery staple lamb", &theirs));
        assert!(verify_with(&mut memory, "correct horse battery staple lamp", &ours));
    }

    #[test]
    fn a_hash_with_smaller_or_larger_parameters_still_verifies() {
        let mut memory = Memory::new();
        for m in [8 * 1024, 24 * 1024] {
            let other = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(m, 1, 1, None).unwrap_or_default(),
            );
            let salt = SaltString::generate(&mut OsRng);
            let stored = argon2::password_hash::PasswordHasher::hash_password(&other, b"tulip granite quasar", &salt)
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(stored.contains(&format!("m={m},")), "{stored}");
            assert!(verify_with(&mut memory, "tulip granite quasar", &stored));
            assert!(!verify_with(&mut memory, "tulip granite quasa", &stored));
        }
    }

    #[tokio::test]
    async fn a_hash_made_with_the_old_19_mib_parameters_verifies_and_is_upgraded() {
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19 * 1024, 2, 1, None).unwrap_or_default(),
        );
        let salt = SaltString::generate(&mut OsRng);
        let stored = argon2::password_hash::PasswordHasher::hash_password(&old, b"tulip granite quasar", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default();
        assert!(needs_rehash(&stored));
        let passwords = Passwords::with_concurrency(1).unwrap_or_else(|e| panic!("{e}"));
        let wrong = passwords
            .verify_and_upgrade(SecretString::from("tulip granite quasa"), Some(stored.clone()))
            .await;
        assert!(!wrong.matches && wrong.upgraded.is_none());
        let right = passwords
            .verify_and_upgrade(SecretString::from("tulip granite quasar"), Some(stored))
            .await;
        assert!(right.matches);
        let upgraded = right.upgraded.unwrap_or_default();
        assert!(upgraded.starts_with("$argon2id$v=19$m=9216,t=4,p=1$"), "{upgraded}");
        assert!(!needs_rehash(&upgraded));
        assert!(
            passwords
                .verify(SecretString::from("tulip granite quasar"), Some(upgraded))
                .await
        );
        // A current hash is not rehashed.
        let current = passwords
            .hash(SecretString::from("tulip granite quasar"))
            .await
            .unwrap_or_default();
        let again = passwords
            .verify_and_upgrade(SecretString::from("tulip granite quasar"), Some(current))
            .await;
        assert!(again.matches && again.upgraded.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_logins_share_at_most_one_buffer_per_permit() {
        let passwords = std::sync::Arc::new(Passwords::with_concurrency(2).unwrap_or_else(|e| panic!("{e}")));
        let stored = passwords
            .hash(SecretString::from("correct horse battery staple lamp"))
            .await
            .unwrap_or_default();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let passwords = passwords.clone();
            let stored = stored.clone();
            tasks.push(tokio::spawn(async move {
                let guess = if i % 2 == 0 {
                    "correct horse battery staple lamp"
                } else {
                    "wrong"
                };
                (
                    i % 2 == 0,
                    passwords.verify(SecretString::from(guess), Some(stored)).await,
                )
            }));
        }
        for task in tasks {
            let (expected, got) = task.await.unwrap_or((true, false));
            assert_eq!(expected, got);
        }
        assert!(!passwords.verify(SecretString::from("anything at all"), None).await);
        let free = passwords.free_buffers();
        assert!((1..=2).contains(&free), "{free} buffers for 2 permits");
        assert!(
            passwords.buffers_allocated() <= 2,
            "{} buffers made",
            passwords.buffers_allocated()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_login_dropped_mid_hash_keeps_its_permit_and_buffer_until_the_hash_ends() {
        let passwords = Arc::new(Passwords::with_concurrency(1).unwrap_or_else(|e| panic!("{e}")));
        let stored = passwords
            .hash(SecretString::from("correct horse battery staple lamp"))
            .await
            .unwrap_or_default();
        assert_eq!(passwords.buffers_allocated(), 1);
        // A client that disconnects 1 ms into its login: the request's future is dropped mid-hash.
        let dropped = tokio::time::timeout(
            std::time::Duration::from_millis(1),
            passwords.verify(
                SecretString::from("correct horse battery staple lamp"),
                Some(stored.clone()),
            ),
        )
        .await;
        assert!(dropped.is_err(), "the hash took under 1 ms");
        // The next login waits for that hash's permit and then reuses its buffer: no second one is made.
        assert!(
            passwords
                .verify(SecretString::from("correct horse battery staple lamp"), Some(stored))
                .await
        );
        assert_eq!(passwords.buffers_allocated(), 1);
        assert_eq!(passwords.free_buffers(), 1);
    }
}
