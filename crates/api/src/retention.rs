//! The retention job: a background task of every api instance that purges what the service promised not to keep.
//!
//! - patients in the trash for more than `PATIENT_RETENTION_DAYS`, with their messages and idempotency rows (by the
//!   cascading foreign keys), each purge recorded in the audit trail as `patient.purge`;
//! - idempotency keys older than 24 hours (a retry after that is a new message, as documented);
//! - refresh-token families that expired, or were revoked more than a day ago, with their tokens. A spent token of
//!   a live family is kept: presenting it again is how reuse is detected.
//!
//! It runs as the `dental_retention` role (`set local role` per transaction), whose row-level security policies show
//! it only trashed patients and stale idempotency keys (migration `20261207000001_records.sql`, DESIGN.md). Any number
//! of instances may run it: each batch is one transaction that first takes `pg_try_advisory_xact_lock`; an instance
//! that does not get it stops this round (another one is purging), so rows are purged once and no instance waits.
//! Batches are bounded, so no transaction holds locks on thousands of rows.

use std::time::Duration;

use sqlx::{Executor as _, PgPool};

/// The advisory lock key of the job ("dentalrt").
pub const LOCK_KEY: i64 = 0x6465_6e74_616c_7274;
/// Rows per transaction.
pub const BATCH: i64 = 500;
/// At most this many batches of each kind per run, so one run ends even while rows keep coming.
const MAX_BATCHES: usize = 200;
/// The first run after start.
pub const FIRST_RUN: Duration = Duration::from_secs(30);

/// What one run purged; `contended` when another instance held the lock.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub patients: u64,
    pub idempotency_keys: u64,
    pub refresh_families: u64,
    pub contended: bool,
}

#[derive(Clone, Copy)]
enum Kind {
    Patients,
    IdempotencyKeys,
    RefreshFamilies,
}

/// One batch of one kind in its own transaction: `None` if another instance holds the lock, else how many rows went.
async fn batch(db: &PgPool, kind: Kind, retention_days: i32) -> sqlx::Result<Option<u64>> {
    let mut tx = crate::db::begin(db).await?;
    tx.execute("set local role dental_retention").await?;
    let locked = sqlx::query_scalar!(r#"select pg_try_advisory_xact_lock($1) as "locked!""#, LOCK_KEY)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        tx.rollback().await?;
        return Ok(None);
    }
    let n = match kind {
        // The age is checked again in the delete itself: a restore that committed meanwhile wins.
        Kind::Patients => {
            sqlx::query_scalar!(
                r#"with doomed as (
                   select clinic_id, id from patients
                   where deleted_at < now() - make_interval(days => $1)
                   order by deleted_at
                   limit $2
               ),
               gone as (
                   delete from patients p using doomed d
                   where p.clinic_id = d.clinic_id and p.id = d.id
                     and p.deleted_at < now() - make_interval(days => $1)
                   returning p.clinic_id, p.id
               ),
               logged as (
                   insert into audit_events (clinic_id, action, patient_id)
                   select clinic_id, 'patient.purge', id from gone
                   returning 1
               )
               select count(*) as "n!" from logged"#,
                retention_days,
                BATCH
            )
            .fetch_one(&mut *tx)
            .await?
        }
        Kind::IdempotencyKeys => {
            sqlx::query_scalar!(
                r#"with doomed as (
                   select clinic_id, user_id, key from idempotency_keys
                   where created_at < now() - interval '24 hours'
                   order by created_at
                   limit $1
               ),
               gone as (
                   delete from idempotency_keys k using doomed d
                   where k.clinic_id = d.clinic_id and k.user_id = d.user_id and k.key = d.key
                   returning 1
               )
               select count(*) as "n!" from gone"#,
                BATCH
            )
            .fetch_one(&mut *tx)
            .await?
        }
        Kind::RefreshFamilies => {
            sqlx::query_scalar!(
                r#"with doomed as (
                   select id from refresh_token_families where expires_at < now()
                   union
                   select id from refresh_token_families where revoked_at < now() - interval '1 day'
                   limit $1
               ),
               gone as (
                   delete from refresh_token_families f using doomed d where f.id = d.id
                   returning 1
               )
               select count(*) as "n!" from gone"#,
                BATCH
            )
            .fetch_one(&mut *tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(Some(u64::try_from(n).unwrap_or(0)))
}

/// One run: every kind, batch after batch, until a batch comes back short (or another instance has the lock).
pub async fn run_once(db: &PgPool, retention_days: u32) -> sqlx::Result<Purged> {
    let days = i32::try_from(retention_days).unwrap_or(i32::MAX);
    let mut purged = Purged::default();
    for kind in [Kind::Patients, Kind::IdempotencyKeys, Kind::RefreshFamilies] {
        for _ in 0..MAX_BATCHES {
            let Some(n) = batch(db, kind, days).await? else {
                purged.contended = true;
                return Ok(purged);
            };
            match kind {
                Kind::Patients => purged.patients += n,
                Kind::IdempotencyKeys => purged.idempotency_keys += n,
                Kind::RefreshFamilies => purged.refresh_families += n,
            }
            if n < BATCH.unsigned_abs() {
                break;
            }
        }
    }
    Ok(purged)
}

/// Runs the job every `interval` (the first time [`FIRST_RUN`] after start) until `stop` turns true; a run in
/// progress then is abandoned (its open batch rolls back; the next start picks it up).
pub async fn run(db: PgPool, retention_days: u32, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut wait = FIRST_RUN.min(interval);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(wait) => {}
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            result = run_once(&db, retention_days) => match result {
                Ok(p) if p.patients + p.idempotency_keys + p.refresh_families > 0 => tracing::info!(
                    patients = p.patients,
                    idempotency_keys = p.idempotency_keys,
                    refresh_families = p.refresh_families,
                    "retention purge"
                ),
                Ok(p) => tracing::debug!(contended = p.contended, "retention: nothing to purge"),
                Err(e) => tracing::warn!(error = format!("{:#}", crate::http::error::log_safe(e)), "retention run failed"),
            },
        }
        wait = interval;
    }
}
