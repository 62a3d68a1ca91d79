//! Typed configuration, read once from the environment (and `.env`) at start-up.
//!
//! clap documents every variable in `--help`; validation is ours so that a bad value stops the
//! process with one line naming the variable, as the contract asks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

use crate::http::client_ip::TrustedProxies;
use crate::ratelimit::{Rule, RuleSet};

/// Raw settings as clap reads them. Every field is optional here so that *we* produce the error.
#[derive(Debug, Args, Default, Clone)]
pub struct RawConfig {
    /// PostgreSQL connection string (required).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A streaming read replica of DATABASE_URL. Reads go there once it has replayed the caller's last write;
    /// a replica that is down or lagging is skipped (health reports `checks.replica`). Unset: every read on the
    /// primary.
    #[arg(long, env = "DATABASE_REPLICA_URL", hide_env_values = true)]
    pub database_replica_url: Option<String>,
    /// HS256 signing key for access tokens, at least 32 bytes (required).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Key that encrypts two-factor (TOTP) secrets at rest, at least 32 bytes. Unset: derived from JWT_SECRET
    /// (HKDF with its own label), so rotating JWT_SECRET then makes every enrolled authenticator unreadable.
    #[arg(long, env = "MFA_ENCRYPTION_KEY", hide_env_values = true)]
    pub mfa_encryption_key: Option<String>,
    /// Listen address.
    #[arg(long, env = "API_BIND", default_value = "127.0.0.1:8080")]
    pub api_bind: String,
    /// Where the AI service listens.
    #[arg(long, env = "AI_SERVICE_URL", default_value = "http://127.0.0.1:8001")]
    pub ai_service_url: String,
    /// Shared secret presented to the AI service (required, at least 32 bytes).
    #[arg(long, env = "AI_SERVICE_TOKEN", hide_env_values = true)]
    pub ai_service_token: Option<String>,
    /// End-to-end limit of one model call, in seconds.
    #[arg(long, env = "AI_TIMEOUT_SECS", default_value = "60")]
    pub ai_timeout_secs: String,
    /// Comma-separated exact origins allowed by CORS (credentials allowed).
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "http://localhost:5173")]
    pub cors_allowed_origins: String,
    /// When set, Prometheus text at http://METRICS_BIND/metrics (never on the public port).
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// When set, rate limits are shared by every api instance through this Redis (redis:// or rediss://).
    /// If Redis stops answering, the api fails open: it keeps serving and counts per instance until Redis
    /// returns (health reports `redis: unreachable`, still 200). Unset: limits are per process.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Prefix of every rate-limit key in Redis (lets several deployments share one Redis).
    #[arg(long, env = "RATE_LIMIT_REDIS_PREFIX", default_value = "dental:rl:")]
    pub rate_limit_redis_prefix: String,
    /// The built web app served at `/` (default: web/dist of the source tree, when present).
    #[arg(long, env = "WEB_DIR")]
    pub web_dir: Option<String>,
    /// Requests per minute per client IP on /auth/*.
    #[arg(long, env = "RATE_LIMIT_AUTH_PER_MINUTE", default_value = "30")]
    pub rate_limit_auth_per_minute: String,
    /// Failed logins per account from one client per 15 minutes before that client is held back for
    /// the rest of the window. The client is a device that signed in before (its cookie), else the IP.
    #[arg(long, env = "RATE_LIMIT_LOGIN_FAILURES_PER_IP", default_value = "5")]
    pub rate_limit_login_failures_per_ip: String,
    /// Failed logins per account from anywhere before each further attempt from an unknown client
    /// waits 1 s, 2 s, 4 s, ... (at most 15 minutes) after the last failure; forgotten an hour after
    /// the last failure. Devices that signed in before are never delayed by it.
    #[arg(long, env = "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT", default_value = "10")]
    pub rate_limit_login_failures_per_account: String,
    /// Requests per minute per client (the user when signed in, else the IP).
    #[arg(long, env = "RATE_LIMIT_GLOBAL_PER_MINUTE", default_value = "600")]
    pub rate_limit_global_per_minute: String,
    /// Chat messages per user per 15 minutes (AI cost control).
    #[arg(long, env = "RATE_LIMIT_CHAT_PER_15_MINUTES", default_value = "20")]
    pub rate_limit_chat_per_15_minutes: String,
    /// Comma-separated CIDRs (or addresses) of the deployment's own proxies. Unset: the socket peer
    /// is the client. Set: for requests from those proxies, the client is the right-most
    /// `X-Forwarded-For` entry that is not one of them (entries left of it are the client's to forge).
    #[arg(long, env = "TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Removed: refused at start-up in favour of TRUSTED_PROXIES.
    #[arg(long, env = "TRUST_FORWARDED_FOR", hide = true, hide_env_values = true)]
    pub trust_forwarded_for: Option<String>,
    /// Set the refresh cookie's `Secure` flag (turn off only for plain-http development).
    #[arg(long, env = "COOKIE_SECURE", default_value = "true")]
    pub cookie_secure: String,
    /// Maximum database connections of this instance.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "16")]
    pub database_max_connections: String,
    /// `open`: anyone may register (creating a clinic); `invite`: registering needs a valid invitation.
    #[arg(long, env = "REGISTRATION", default_value = "open")]
    pub registration: String,
    /// Days a deleted patient stays in the trash (restorable) before the retention job purges it.
    #[arg(long, env = "PATIENT_RETENTION_DAYS", default_value = "30")]
    pub patient_retention_days: String,
    /// Seconds between two runs of the retention job (the first runs a minute after start).
    #[arg(long, env = "RETENTION_INTERVAL_SECS", default_value = "600")]
    pub retention_interval_secs: String,
}

/// Validated configuration.
#[derive(Clone)]
pub struct Config {
    pub database: PgConnectOptions,
    /// `DATABASE_REPLICA_URL`.
    pub database_replica: Option<PgConnectOptions>,
    pub database_max_connections: u32,
    pub patient_retention_days: u32,
    pub retention_interval: Duration,
    pub jwt_secret: SecretString,
    /// `MFA_ENCRYPTION_KEY` when set (else the TOTP key is derived from `jwt_secret`).
    pub mfa_encryption_key: Option<SecretString>,
    pub api_bind: SocketAddr,
    pub ai_service_url: reqwest::Url,
    pub ai_service_token: SecretString,
    pub ai_timeout: Duration,
    pub cors_allowed_origins: Vec<axum::http::HeaderValue>,
    pub metrics_bind: Option<SocketAddr>,
    pub redis_url: Option<SecretString>,
    /// Prefix of the rate-limit keys in Redis.
    pub rate_limit_prefix: String,
    pub web_dir: Option<PathBuf>,
    pub rate_limits: RuleSet,
    pub trusted_proxies: TrustedProxies,
    pub cookie_secure: bool,
    /// Who may register.
    pub registration: Registration,
}

/// `REGISTRATION`: self-service sign-up, or only by invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    Invite,
}

/// A configuration error: always names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var} {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn err(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

fn parse<T: FromStr>(var: &'static str, value: &str, what: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| err(var, format!("must be {what} (got {value:?})")))
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(err(var, format!("must be true or false (got {value:?})"))),
    }
}

fn positive(var: &'static str, value: &str) -> Result<u32, ConfigError> {
    let n: u32 = parse(var, value, "a positive integer")?;
    if n == 0 {
        return Err(err(var, "must be at least 1"));
    }
    Ok(n)
}

impl RawConfig {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let database_url = self
            .database_url
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| err("DATABASE_URL", "is required"))?;
        // Never echo the URL: it may hold a password.
        let database = PgConnectOptions::from_str(database_url.trim())
            .map_err(|_| err("DATABASE_URL", "is not a valid PostgreSQL connection string"))?;
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(err("DATABASE_URL", "must start with postgres:// or postgresql://"));
        }

        let database_replica = self
            .database_replica_url
            .filter(|v| !v.trim().is_empty())
            .map(|url| {
                let url = url.trim();
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(err(
                        "DATABASE_REPLICA_URL",
                        "must start with postgres:// or postgresql://",
                    ));
                }
                PgConnectOptions::from_str(url)
                    .map_err(|_| err("DATABASE_REPLICA_URL", "is not a valid PostgreSQL connection string"))
            })
            .transpose()?;

        let jwt_secret = self.jwt_secret.ok_or_else(|| err("JWT_SECRET", "is required"))?;
        if jwt_secret.len() < 32 {
            return Err(err("JWT_SECRET", "must be at least 32 bytes"));
        }
        let mfa_encryption_key = match self.mfa_encryption_key.filter(|v| !v.is_empty()) {
            Some(key) if key.len() < 32 => return Err(err("MFA_ENCRYPTION_KEY", "must be at least 32 bytes")),
            other => other.map(SecretString::from),
        };
        let ai_service_token = self
            .ai_service_token
            .filter(|v| !v.is_empty())
            .ok_or_else(|| err("AI_SERVICE_TOKEN", "is required"))?;
        if ai_service_token.len() < 32 {
            return Err(err("AI_SERVICE_TOKEN", "must be at least 32 bytes"));
        }

        let api_bind = parse("API_BIND", &self.api_bind, "a socket address like 127.0.0.1:8080")?;
        let ai_service_url = reqwest::Url::parse(self.ai_service_url.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| err("AI_SERVICE_URL", "must be an http(s) URL"))?;
        let ai_timeout_secs: u64 = parse("AI_TIMEOUT_SECS", &self.ai_timeout_secs, "a number of seconds")?;
        if ai_timeout_secs == 0 || ai_timeout_secs > 3600 {
            return Err(err("AI_TIMEOUT_SECS", "must be between 1 and 3600"));
        }

        let mut cors_allowed_origins = Vec::new();
        for origin in self
            .cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            let url = reqwest::Url::parse(origin)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.path() == "/")
                .ok_or_else(|| err("CORS_ALLOWED_ORIGINS", format!("has an invalid origin {origin:?}")))?;
            let normalised = url.origin().ascii_serialization();
            let value = axum::http::HeaderValue::from_str(&normalised)
                .map_err(|_| err("CORS_ALLOWED_ORIGINS", format!("has an invalid origin {origin:?}")))?;
            cors_allowed_origins.push(value);
        }

        let metrics_bind = self
            .metrics_bind
            .filter(|v| !v.trim().is_empty())
            .map(|v| parse("METRICS_BIND", &v, "a socket address like 127.0.0.1:9100"))
            .transpose()?;
        let redis_url = self
            .redis_url
            .filter(|v| !v.trim().is_empty())
            .map(|v| {
                if v.starts_with("redis://") || v.starts_with("rediss://") {
                    Ok(SecretString::from(v))
                } else {
                    Err(err("REDIS_URL", "must start with redis:// or rediss://"))
                }
            })
            .transpose()?;

        let web_dir = match self.web_dir.filter(|v| !v.trim().is_empty()) {
            Some(dir) => Some(PathBuf::from(dir)),
            // The source tree's build output, when the binary runs from a checkout.
            None => Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/dist")))
                .filter(|p| p.join("index.html").is_file()),
        };

        if self.trust_forwarded_for.is_some() {
            return Err(err(
                "TRUST_FORWARDED_FOR",
                "is no longer read: set TRUSTED_PROXIES to the CIDRs of your own proxies (comma-separated) and remove TRUST_FORWARDED_FOR",
            ));
        }
        let trusted_proxies = TrustedProxies::parse(self.trusted_proxies.as_deref().unwrap_or_default())
            .map_err(|reason| err("TRUSTED_PROXIES", reason))?;

        let patient_retention_days: u32 = positive("PATIENT_RETENTION_DAYS", &self.patient_retention_days)?;
        if patient_retention_days > 3650 {
            return Err(err("PATIENT_RETENTION_DAYS", "must be between 1 and 3650"));
        }
        let retention_interval_secs: u64 = parse(
            "RETENTION_INTERVAL_SECS",
            &self.retention_interval_secs,
            "a number of seconds",
        )?;
        if !(10..=86_400).contains(&retention_interval_secs) {
            return Err(err("RETENTION_INTERVAL_SECS", "must be between 10 and 86400"));
        }

        let minute = Duration::from_secs(60);
        let rate_limits = RuleSet {
            auth_per_ip: Rule::new(
                "auth_per_ip",
                positive("RATE_LIMIT_AUTH_PER_MINUTE", &self.rate_limit_auth_per_minute)?,
                minute,
            ),
            login_failures_per_ip: Rule::new(
                "login_failures_per_ip",
                positive(
                    "RATE_LIMIT_LOGIN_FAILURES_PER_IP",
                    &self.rate_limit_login_failures_per_ip,
                )?,
                15 * minute,
            ),
            login_failures_per_account: Rule::new(
                "login_failures_per_account",
                positive(
                    "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT",
                    &self.rate_limit_login_failures_per_account,
                )?,
                60 * minute,
            ),
            global_per_client: Rule::new(
                "global_per_client",
                positive("RATE_LIMIT_GLOBAL_PER_MINUTE", &self.rate_limit_global_per_minute)?,
                minute,
            ),
            chat_per_user: Rule::new(
                "chat_per_user",
                positive("RATE_LIMIT_CHAT_PER_15_MINUTES", &self.rate_limit_chat_per_15_minutes)?,
                15 * minute,
            ),
        };

        Ok(Config {
            database,
            database_replica,
            database_max_connections: positive("DATABASE_MAX_CONNECTIONS", &self.database_max_connections)?,
            patient_retention_days,
            retention_interval: Duration::from_secs(retention_interval_secs),
            jwt_secret: SecretString::from(jwt_secret),
            mfa_encryption_key,
            api_bind,
            ai_service_url,
            ai_service_token: SecretString::from(ai_service_token),
            ai_timeout: Duration::from_secs(ai_timeout_secs),
            cors_allowed_origins,
            metrics_bind,
            redis_url,
            rate_limit_prefix: self.rate_limit_redis_prefix,
            web_dir,
            rate_limits,
            trusted_proxies,
            cookie_secure: parse_bool("COOKIE_SECURE", &self.cookie_secure)?,
            registration: match self.registration.trim().to_ascii_lowercase().as_str() {
                "" | "open" => Registration::Open,
                "invite" => Registration::Invite,
                _ => {
                    return Err(err(
                        "REGISTRATION",
                        format!("must be open or invite (got {:?})", self.registration),
                    ));
                }
            },
        })
    }
}

impl Config {
    /// A configuration for tests and embedding: every default of `--help`, the given database and
    /// AI service, and a fixed JWT key.
    pub fn for_tests(database: PgConnectOptions, ai_service_url: reqwest::Url, ai_service_token: &str) -> Self {
        let minute = Duration::from_secs(60);
        Self {
            database,
            database_replica: None,
            database_max_connections: 8,
            patient_retention_days: 30,
            retention_interval: Duration::from_secs(600),
            jwt_secret: SecretString::from("test-secret-test-secret-test-secret!"),
            mfa_encryption_key: None,
            api_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ai_service_url,
            ai_service_token: SecretString::from(ai_service_token.to_owned()),
            ai_timeout: Duration::from_secs(60),
            cors_allowed_origins: vec![axum::http::HeaderValue::from_static("http://localhost:5173")],
            metrics_bind: None,
            redis_url: None,
            rate_limit_prefix: "dental:rl:".to_owned(),
            web_dir: None,
            rate_limits: RuleSet {
                auth_per_ip: Rule::new("auth_per_ip", 30, minute),
                login_failures_per_ip: Rule::new("login_failures_per_ip", 5, 15 * minute),
                login_failures_per_account: Rule::new("login_failures_per_account", 10, 60 * minute),
                global_per_client: Rule::new("global_per_client", 600, minute),
                chat_per_user: Rule::new("chat_per_user", 20, 15 * minute),
            },
            trusted_proxies: TrustedProxies::default(),
            cookie_secure: true,
            registration: Registration::Open,
        }
    }

    /// The JWT key bytes.
    pub fn jwt_key(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }

    /// The root of the TOTP-secret encryption key: `MFA_ENCRYPTION_KEY`, else `JWT_SECRET` (with a distinct
    /// HKDF label, `auth::keys::MfaKeySource`).
    pub fn mfa_key_source(&self) -> crate::auth::keys::MfaKeySource<'_> {
        match &self.mfa_encryption_key {
            Some(key) => crate::auth::keys::MfaKeySource::Configured(key.expose_secret().as_bytes()),
            None => crate::auth::keys::MfaKeySource::FromJwtSecret(self.jwt_key()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> RawConfig {
        RawConfig {
            database_url: Some("postgres://u@127.0.0.1:5432/db".into()),
            jwt_secret: Some("x".repeat(32)),
            ai_service_token: Some("t".repeat(32)),
            api_bind: "127.0.0.1:8080".into(),
            ai_service_url: "http://127.0.0.1:8001".into(),
            ai_timeout_secs: "60".into(),
            cors_allowed_origins: "http://localhost:5173".into(),
            rate_limit_auth_per_minute: "30".into(),
            rate_limit_login_failures_per_ip: "5".into(),
            rate_limit_login_failures_per_account: "10".into(),
            rate_limit_global_per_minute: "600".into(),
            rate_limit_chat_per_15_minutes: "20".into(),
            cookie_secure: "true".into(),
            database_max_connections: "16".into(),
            patient_retention_days: "30".into(),
            retention_interval_secs: "600".into(),
            rate_limit_redis_prefix: "dental:rl:".into(),
            ..RawConfig::default()
        }
    }

    #[test]
    fn a_valid_environment_parses() {
        assert!(valid().validate().is_ok());
    }

    #[test]
    fn missing_jwt_secret_names_the_variable() {
        let e = RawConfig {
            jwt_secret: None,
            ..valid()
        }
        .validate()
        .err()
        .map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("invalid configuration: JWT_SECRET is required"));
    }

    #[test]
    fn short_jwt_secret_is_refused() {
        let e = RawConfig {
            jwt_secret: Some("short".into()),
            ..valid()
        }
        .validate()
        .err();
        assert_eq!(e.map(|e| e.var), Some("JWT_SECRET"));
    }

    #[test]
    fn short_mfa_encryption_key_is_refused_and_unset_falls_back_to_jwt_secret() {
        let e = RawConfig {
            mfa_encryption_key: Some("short".into()),
            ..valid()
        }
        .validate()
        .err();
        assert_eq!(e.map(|e| e.var), Some("MFA_ENCRYPTION_KEY"));
        let fallback = valid().validate().ok().map(|c| c.mfa_encryption_key.is_none());
        assert_eq!(fallback, Some(true));
    }

    #[test]
    fn malformed_database_url_names_the_variable_without_echoing_it() {
        let e = RawConfig {
            database_url: Some("mysql://secret@x".into()),
            ..valid()
        }
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("DATABASE_URL"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn a_short_ai_service_token_is_refused() {
        let e = RawConfig {
            ai_service_token: Some("t".repeat(31)),
            ..valid()
        }
        .validate()
        .err()
        .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("invalid configuration: AI_SERVICE_TOKEN must be at least 32 bytes")
        );
    }

    #[test]
    fn trust_forwarded_for_is_refused_naming_trusted_proxies() {
        for value in ["true", "false", ""] {
            let e = RawConfig {
                trust_forwarded_for: Some(value.into()),
                ..valid()
            }
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
            assert!(
                e.contains("TRUST_FORWARDED_FOR") && e.contains("TRUSTED_PROXIES"),
                "{e}"
            );
        }
    }

    #[test]
    fn trusted_proxies_are_parsed_and_a_bad_entry_is_named() {
        let c = RawConfig {
            trusted_proxies: Some("10.0.0.0/8, 2001:db8::/32".into()),
            ..valid()
        }
        .validate();
        assert!(c.is_ok_and(|c| !c.trusted_proxies.is_empty()));
        let e = RawConfig {
            trusted_proxies: Some("10.0.0.0/8, example.com".into()),
            ..valid()
        }
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            e.starts_with("invalid configuration: TRUSTED_PROXIES") && e.contains("example.com"),
            "{e}"
        );
    }

    #[test]
    fn cors_origins_are_normalised_and_validated() {
        let c = RawConfig {
            cors_allowed_origins: "https://a.example, http://localhost:5173".into(),
            ..valid()
        }
        .validate()
        .ok()
        .map(|c| c.cors_allowed_origins);
        assert_eq!(c.map(|v| v.len()), Some(2));
        let e = RawConfig {
            cors_allowed_origins: "not an origin".into(),
            ..valid()
        }
        .validate()
        .err();
        assert_eq!(e.map(|e| e.var), Some("CORS_ALLOWED_ORIGINS"));
    }

    #[test]
    fn retention_settings_are_bounded_and_named() {
        let c = valid().validate().map_err(|e| e.to_string());
        assert_eq!(c.as_ref().map(|c| c.patient_retention_days), Ok(30));
        assert_eq!(c.map(|c| c.retention_interval), Ok(Duration::from_secs(600)));
        for (days, interval, var) in [
            ("0", "600", "PATIENT_RETENTION_DAYS"),
            ("3651", "600", "PATIENT_RETENTION_DAYS"),
            ("x", "600", "PATIENT_RETENTION_DAYS"),
            ("30", "5", "RETENTION_INTERVAL_SECS"),
        ] {
            let raw = RawConfig {
                patient_retention_days: days.into(),
                retention_interval_secs: interval.into(),
                ..valid()
            };
            assert_eq!(raw.validate().err().map(|e| e.var), Some(var), "{days} {interval}");
        }
    }
}
