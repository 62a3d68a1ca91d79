//! Shared application state, cloned into every handler and middleware: one reference count, not one per part.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::PgPool;

use crate::ai_client::AiClient;
use crate::auth::jwt::JwtKeys;
use crate::auth::keys::DerivedKeys;
use crate::config::Config;
use crate::ratelimit::Limiter;

/// A handle on [`Shared`]: axum clones the state for each extractor and middleware that takes it, several times a
/// request, so it is one `Arc` rather than a dozen.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What every request shares (read through [`AppState`]'s `Deref`).
pub struct Shared {
    pub db: PgPool,
    /// Where reads go: the replica (`DATABASE_REPLICA_URL`) once it has the caller's last write, else `db`.
    pub reads: crate::db::replica::Reads,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    /// Keys derived from `JWT_SECRET` for the device cookie and the refresh grace.
    pub keys: Arc<DerivedKeys>,
    /// Seals TOTP secrets at rest (`MFA_ENCRYPTION_KEY`, or derived from `JWT_SECRET`).
    pub mfa_seal: Arc<crate::auth::mfa::SecretSeal>,
    pub ai: AiClient,
    pub limiter: Arc<Limiter>,
    /// Password hashing, bounded to one argon2 run per core.
    pub passwords: Arc<crate::auth::password::Passwords>,
    /// Background work that must outlive its request (a stream's reply being saved after the client left).
    pub tasks: tokio_util::task::TaskTracker,
    /// Streamed replies being generated (`chat::jobs`): reattach and stop, across instances with Redis.
    pub jobs: Arc<crate::chat::jobs::Jobs>,
    /// Renders the Prometheus text; `Some` only when `METRICS_BIND` is set.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl AppState {
    pub fn new(config: Config, db: PgPool) -> anyhow::Result<Self> {
        let jwt = JwtKeys::new(config.jwt_key());
        let keys = Arc::new(DerivedKeys::new(config.jwt_key()));
        let mfa_seal = Arc::new(crate::auth::mfa::SecretSeal::new(config.mfa_key_source()));
        let ai = AiClient::new(&config)?;
        let passwords = Arc::new(crate::auth::password::Passwords::new()?);
        let limiter = match &config.redis_url {
            Some(url) => Limiter::redis(url, &config.rate_limit_prefix)?,
            None => Limiter::in_memory(),
        };
        let jobs = Arc::new(crate::chat::jobs::Jobs::new(&config)?);
        let metrics = config.metrics_bind.and_then(|_| crate::metrics::install());
        let reads = match &config.database_replica {
            Some(replica) => crate::db::replica::Reads::with_replica(
                db.clone(),
                replica.clone(),
                config.database_max_connections,
                config.redis_url.as_ref(),
                &config.rate_limit_prefix,
            )?,
            None => crate::db::replica::Reads::primary_only(db.clone()),
        };
        Ok(Self(Arc::new(Shared {
            db,
            reads,
            jwt: Arc::new(jwt),
            keys,
            mfa_seal,
            ai,
            limiter: Arc::new(limiter),
            metrics,
            jobs,
            passwords,
            config: Arc::new(config),
            tasks: tokio_util::task::TaskTracker::new(),
        })))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for PgPool {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}

impl FromRef<AppState> for Arc<JwtKeys> {
    fn from_ref(state: &AppState) -> Self {
        state.jwt.clone()
    }
}
