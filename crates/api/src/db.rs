//! The database: the pool, migrations, and the one place that opens a transaction as a user.
//!
//! Every pooled connection runs `set role dental_app`, a role that owns nothing, so PostgreSQL's
//! row-level security binds every query even when `DATABASE_URL` names a superuser. Owner-scoped
//! queries only run inside [`UserTx`], which sets `app.user_id` for the transaction; without it the
//! policies show nothing.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::http::error::ApiError;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The application role queries run as (created by the first migration).
pub const APP_ROLE: &str = "dental_app";

/// Applies the embedded migrations as the connecting user (the owner), not as the application role.
/// sqlx's migrator takes an advisory lock, so instances starting together do not race.
pub async fn migrate(options: &PgConnectOptions) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone())
        .await
        .context("connecting to the database to migrate")?;
    MIGRATOR.run(&pool).await.context("applying migrations")?;
    pool.close().await;
    Ok(())
}

/// The request pool: every connection drops to the application role before first use.
pub fn pool(options: PgConnectOptions, max_connections: u32) -> PgPool {
    pool_options(max_connections).connect_lazy_with(options)
}

pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(Duration::from_secs(300))
        // A connection broken by a server restart is found before a request uses it.
        .test_before_acquire(true)
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("set role dental_app").await?;
                Ok(())
            })
        })
}

/// What an audited access did (the `action` column of `audit_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    PatientList,
    PatientCreate,
    PatientRead,
    PatientUpdate,
    PatientDelete,
    MessagesRead,
    MessageSend,
    MessageReply,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::PatientList => "patient.list",
            Action::PatientCreate => "patient.create",
            Action::PatientRead => "patient.read",
            Action::PatientUpdate => "patient.update",
            Action::PatientDelete => "patient.delete",
            Action::MessagesRead => "message.list",
            Action::MessageSend => "message.send",
            Action::MessageReply => "message.reply",
        }
    }
}

/// A transaction in which row-level security sees exactly one user's rows, and which has already
/// recorded its audit event (committed with the data it reads or writes, or not at all).
pub struct UserTx {
    pub tx: Transaction<'static, Postgres>,
    pub user_id: Uuid,
}

impl UserTx {
    /// Opens the transaction as `user_id`, checks that the account is still active (a deactivation
    /// takes effect on the next request) and writes the audit event, all in one round trip.
    pub async fn begin(db: &PgPool, user_id: Uuid, action: Action, patient_id: Option<Uuid>) -> Result<Self, ApiError> {
        let mut tx = db.begin().await?;
        let active = sqlx::query_scalar!(
            r#"with audit as (
                   insert into audit_events (user_id, action, patient_id, request_id)
                   select $1, $2, $3, $4
                   where exists (select 1 from users where id = $1 and is_active)
                   returning 1
               )
               select set_config('app.user_id', $1::text, true) is not null
                      and exists (select 1 from audit) as "active!""#,
            user_id,
            action.as_str(),
            patient_id,
            plumbing::request_id::current()
        )
        .fetch_one(&mut *tx)
        .await?;
        if !active {
            return Err(crate::auth::extractor::UNAUTHORIZED);
        }
        Ok(Self { tx, user_id })
    }

    pub async fn commit(self) -> Result<(), ApiError> {
        self.tx.commit().await?;
        Ok(())
    }

    /// The connection to hand to owner-scoped queries.
    pub fn conn(&mut self) -> &mut sqlx::PgConnection {
        &mut self.tx
    }
}
