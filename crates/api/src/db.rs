//! The database: the pool, migrations, and the one place that opens a tenant transaction.
//!
//! Every pooled connection runs `set role dental_app`, a role that owns nothing, so PostgreSQL's
//! row-level security binds every query even when `DATABASE_URL` names a superuser. Clinic-scoped
//! queries only run inside [`ClinicTx`], which checks the caller's membership and permission and sets
//! `app.user_id`, `app.clinic_id` and `app.clinic_role` for the transaction; without them the
//! policies show nothing.

use std::time::Duration;

use shared::api::ClinicRole;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::AuthUser;

use crate::http::error::ApiError;

pub mod replica;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// The application role queries run as (created by the first migration).
pub const APP_ROLE: &str = "dental_app";

/// Opens a transaction on `pool` that a cancelled request cannot leave open.
///
/// sqlx 0.9 raises a connection's transaction depth only after `BEGIN`'s answer arrives (sqlx issues
/// #4385 and #4393): a future dropped while `BEGIN` is on the wire, as when a client goes away mid-request,
/// returns the connection to the pool inside a transaction nothing will end. The next borrower's statements
/// then run in it ("there is already a transaction in progress"), an autocommit write such as an audit row
/// is not committed, and the first error leaves the connection failing every query. Opening the transaction
/// in its own task lets `BEGIN` finish whatever happens to the caller; a transaction nobody awaits any more
/// is dropped there, which queues its `ROLLBACK` as usual. The cost is one task spawn per transaction.
pub async fn begin(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    joined(tokio::spawn(async move { pool.begin().await }).await)
}

/// [`begin`] for a read-only transaction (the replica, and reads that fall back to the primary).
pub async fn begin_read_only(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let pool = pool.clone();
    joined(tokio::spawn(async move { pool.begin_with("begin read only").await }).await)
}

fn joined<T>(result: Result<sqlx::Result<T>, tokio::task::JoinError>) -> sqlx::Result<T> {
    // The task only awaits sqlx; it ends early only if the runtime is shutting down or sqlx panicked.
    result.unwrap_or(Err(sqlx::Error::WorkerCrashed))
}

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
        // A connection broken by a server restart is found before a request uses it. Pinging only connections
        // idle past a few milliseconds was tried (issue 20) and reverted: DESIGN.md, "Round trips per request".
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
    ClinicRead,
    ClinicUpdate,
    MemberList,
    MemberUpdate,
    MemberRemove,
    InvitationCreate,
    InvitationList,
    InvitationRevoke,
    /// A refused access to a patient route (another clinic's id, a trashed one, or a role without the permission).
    AccessDenied,
    /// An owner listed the trash.
    TrashList,
    PatientRestore,
    /// An owner read a patient's access log (itself shown in that log).
    AccessLogRead,
    /// An owner read the clinic overview.
    StatsRead,
    /// An export of the clinic's patients: once for the request (no patient), and once per patient it contained.
    PatientExport,
    /// An import of patients (each one created is also recorded as `patient.create`).
    PatientImport,
    /// A dry run of an import (nothing written).
    PatientImportCheck,
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
            Action::AccessDenied => "access.denied",
            Action::ClinicRead => "clinic.read",
            Action::ClinicUpdate => "clinic.update",
            Action::MemberList => "member.list",
            Action::MemberUpdate => "member.update",
            Action::MemberRemove => "member.remove",
            Action::InvitationCreate => "invitation.create",
            Action::InvitationList => "invitation.list",
            Action::InvitationRevoke => "invitation.revoke",
            Action::TrashList => "patient.trash_list",
            Action::PatientRestore => "patient.restore",
            Action::AccessLogRead => "patient.access_log",
            Action::StatsRead => "clinic.stats",
            Action::PatientExport => "patient.export",
            Action::PatientImport => "patient.import",
            Action::PatientImportCheck => "patient.import_check",
        }
    }
}

/// What a route needs; [`allows`] is the one place that says which role has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// List, search and read patients (without notes for reception: see [`Permission::ReadNotes`]).
    ReadPatients,
    /// Create, change and delete (to the trash) patients.
    WritePatients,
    /// See and write `medicalNotes`.
    ReadNotes,
    /// Every `/patients/{id}/messages*` route.
    Chat,
    /// See the clinic and its members.
    ViewClinic,
    /// Change the clinic, its members and invitations.
    ManageClinic,
    Trash,
    AccessLog,
    Export,
    Import,
    Stats,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::ReadPatients,
        Permission::WritePatients,
        Permission::ReadNotes,
        Permission::Chat,
        Permission::ViewClinic,
        Permission::ManageClinic,
        Permission::Trash,
        Permission::AccessLog,
        Permission::Export,
        Permission::Import,
        Permission::Stats,
    ];
}

/// The permission matrix (README, "Roles").
pub fn allows(role: ClinicRole, permission: Permission) -> bool {
    use Permission as P;
    match role {
        ClinicRole::Owner => true,
        ClinicRole::Clinician => matches!(
            permission,
            P::ReadPatients | P::WritePatients | P::ReadNotes | P::Chat | P::ViewClinic | P::Export | P::Import
        ),
        ClinicRole::Reception => matches!(permission, P::ReadPatients | P::WritePatients | P::ViewClinic),
    }
}

/// 403 `no_clinic`: the caller belongs to no clinic (or the token names none).
pub const NO_CLINIC: ApiError = ApiError::ForbiddenCode {
    code: "no_clinic",
    detail: "You are not a member of any clinic. Ask a clinic owner for an invitation.",
};

/// 403 `mfa_setup_required`: the active clinic requires two-step sign-in (`requireMfa`) and the caller has none.
/// The web app reads the code and sends the user to the set-up.
pub const MFA_SETUP_REQUIRED: ApiError = ApiError::ForbiddenCode {
    code: "mfa_setup_required",
    detail: "This clinic requires two-step sign-in. Set it up under Security (POST /auth/mfa/setup) to continue.",
};

/// A transaction in which row-level security sees exactly one clinic's rows (and chat only for roles that have
/// it), opened for a caller whose membership and permission were checked, and which has already recorded its
/// audit event (committed with the data it reads or writes, or not at all).
pub struct ClinicTx {
    pub tx: Transaction<'static, Postgres>,
    pub user_id: Uuid,
    pub clinic_id: Uuid,
    /// The member's role as `clinic_members` says now (not as the token said), so a change applies at once.
    pub role: ClinicRole,
    patient_id: Option<Uuid>,
    /// The primary (where `access.denied` and, for a replica read, the audit row are written).
    db: PgPool,
    /// Set when the transaction runs on the read replica: its audit row is written on the primary at commit.
    on_replica: Option<(Permission, Action)>,
}

impl ClinicTx {
    /// Opens the transaction in the caller's active clinic. In one round trip: checks the account is active and
    /// still a member (reading the current role), sets `app.user_id`, `app.clinic_id`, `app.clinic_role`, and
    /// writes the audit event. A role without `permission` gets 403 `forbidden` (recorded as `access.denied` when
    /// the route concerns a patient); a removed member 403 `no_clinic`; a deactivated account 401.
    pub async fn begin(
        db: &PgPool,
        caller: &AuthUser,
        permission: Permission,
        action: Action,
        patient_id: Option<Uuid>,
    ) -> Result<Self, ApiError> {
        let clinic_id = caller.clinic_id.ok_or(NO_CLINIC)?;
        let mut tx = crate::db::begin(db).await?;
        let allowed: Vec<&str> = ClinicRole::ALL
            .into_iter()
            .filter(|r| allows(*r, permission))
            .map(ClinicRole::as_str)
            .collect();
        let row = sqlx::query!(
            r#"with member as (
                   select m.role from clinic_members m join users u on u.id = m.user_id
                   where m.user_id = $1 and m.clinic_id = $2 and u.is_active
               ),
               audit as (
                   insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
                   select $1, $2, $3, $4, $5 from member where member.role = any($6::text[])
                   returning 1
               )
               select (select is_active from users where id = $1) as "active?",
                      (select role from member) as "role?",
                      set_config('app.user_id', $1::text, true) as "uid!",
                      set_config('app.clinic_id', $2::text, true) as "cid!",
                      set_config('app.clinic_role', coalesce((select role from member), ''), true) as "crole!",
                      exists (select 1 from audit) as "audited!",
                      coalesce((select c.require_mfa from clinics c where c.id = $2), false)
                        and not exists (select 1 from user_mfa f where f.user_id = $1 and f.enabled_at is not null)
                        as "mfa_missing!""#,
            caller.id,
            clinic_id,
            action.as_str(),
            patient_id,
            plumbing::request_id::current(),
            &allowed as &[&str],
        )
        .fetch_one(&mut *tx)
        .await?;
        if row.active != Some(true) {
            return Err(crate::auth::extractor::UNAUTHORIZED);
        }
        let Some(role) = row.role.as_deref().and_then(ClinicRole::parse) else {
            return Err(NO_CLINIC);
        };
        // The clinic requires two-step sign-in and this member has not set it up: nothing of the clinic's until
        // done (the transaction, with its audit row, is rolled back). The MFA and session routes do not come here.
        if row.mfa_missing {
            drop(tx);
            return Err(MFA_SETUP_REQUIRED);
        }
        if !row.audited {
            drop(tx);
            if let Some(patient) = patient_id {
                record_denied(db, caller.id, clinic_id, patient).await?;
            }
            return Err(ApiError::Forbidden);
        }
        Ok(Self {
            tx,
            user_id: caller.id,
            clinic_id,
            role,
            patient_id,
            db: db.clone(),
            on_replica: None,
        })
    }

    /// The next transaction of a long operation split into several (an export's keyset batches, so that what
    /// each batch sends is recorded before it is sent): checks the account, the membership and `permission`
    /// again, as [`ClinicTx::begin`] does, and sets the same settings, but writes no audit row of its own: the
    /// operation's first transaction (`begin`) recorded the request, and each step's statements record the
    /// patients they touch. A member removed or demoted meanwhile gets the refusal `begin` would give.
    pub async fn resume(db: &PgPool, caller: &AuthUser, permission: Permission) -> Result<Self, ApiError> {
        let clinic_id = caller.clinic_id.ok_or(NO_CLINIC)?;
        let mut tx = crate::db::begin(db).await?;
        let row = sqlx::query!(
            r#"with member as (
                   select m.role from clinic_members m join users u on u.id = m.user_id
                   where m.user_id = $1 and m.clinic_id = $2 and u.is_active
               )
               select (select is_active from users where id = $1) as "active?",
                      (select role from member) as "role?",
                      set_config('app.user_id', $1::text, true) as "uid!",
                      set_config('app.clinic_id', $2::text, true) as "cid!",
                      set_config('app.clinic_role', coalesce((select role from member), ''), true) as "crole!",
                      coalesce((select c.require_mfa from clinics c where c.id = $2), false)
                        and not exists (select 1 from user_mfa f where f.user_id = $1 and f.enabled_at is not null)
                        as "mfa_missing!""#,
            caller.id,
            clinic_id,
        )
        .fetch_one(&mut *tx)
        .await?;
        if row.active != Some(true) {
            return Err(crate::auth::extractor::UNAUTHORIZED);
        }
        let Some(role) = row.role.as_deref().and_then(ClinicRole::parse) else {
            return Err(NO_CLINIC);
        };
        // A clinic that started requiring two-step sign-in meanwhile stops the operation, as `begin` would.
        if row.mfa_missing {
            return Err(MFA_SETUP_REQUIRED);
        }
        if !allows(role, permission) {
            return Err(ApiError::Forbidden);
        }
        Ok(Self {
            tx,
            user_id: caller.id,
            clinic_id,
            role,
            patient_id: None,
            db: db.clone(),
            on_replica: None,
        })
    }

    /// As [`ClinicTx::begin`] for a read: on the replica when it has replayed the caller's last write (see
    /// `replica`), else exactly `begin` on the primary. On the replica the transaction is read-only and sets the
    /// same `app.*` settings; the membership seen there only lets the read start, and the audit row is written on the
    /// primary at [`ClinicTx::commit`], which checks the membership and permission again there (a member removed a
    /// moment ago gets the same refusal as from `begin`, and no data).
    pub async fn begin_read(
        reads: &replica::Reads,
        caller: &AuthUser,
        permission: Permission,
        action: Action,
        patient_id: Option<Uuid>,
    ) -> Result<Self, ApiError> {
        let clinic_id = caller.clinic_id.ok_or(NO_CLINIC)?;
        if let Some(mut tx) = reads.replica_tx(caller.id).await {
            let row = sqlx::query!(
                r#"with member as (
                       select m.role from clinic_members m join users u on u.id = m.user_id
                       where m.user_id = $1 and m.clinic_id = $2 and u.is_active
                   )
                   select (select role from member) as "role?",
                          set_config('app.user_id', $1::text, true) as "uid!",
                          set_config('app.clinic_id', $2::text, true) as "cid!",
                          set_config('app.clinic_role', coalesce((select role from member), ''), true) as "crole!",
                          coalesce((select c.require_mfa from clinics c where c.id = $2), false)
                            and not exists (select 1 from user_mfa f where f.user_id = $1 and f.enabled_at is not null)
                            as "mfa_missing!""#,
                caller.id,
                clinic_id,
            )
            .fetch_one(&mut *tx)
            .await;
            // The clinic's MFA policy as the replica sees it only lets the read start; the primary checks it again
            // at commit (a policy turned on a moment ago is not missed), and a refusal is the primary's `begin`.
            match row.map(|r| (r.role.as_deref().and_then(ClinicRole::parse), r.mfa_missing)) {
                Ok((Some(role), false)) if allows(role, permission) => {
                    reads.count(replica::Target::Replica);
                    return Ok(Self {
                        tx,
                        user_id: caller.id,
                        clinic_id,
                        role,
                        patient_id,
                        db: reads.primary().clone(),
                        on_replica: Some((permission, action)),
                    });
                }
                // A refusal (or a replica error) is decided on the primary, with its exact answer and record.
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "replica: a read failed to start; reading from the primary"),
            }
        }
        reads.count(replica::Target::Primary);
        Self::begin(reads.primary(), caller, permission, action, patient_id).await
    }

    /// Commits. For a read on the replica, then writes its audit row on the primary (one autocommit statement that
    /// checks the account, the membership and the permission again): the caller gets the data only once the access
    /// is recorded, as with a transaction on the primary.
    pub async fn commit(self) -> Result<(), ApiError> {
        let Some((permission, action)) = self.on_replica else {
            self.tx.commit().await?;
            return Ok(());
        };
        self.tx.commit().await?;
        let allowed: Vec<&str> = ClinicRole::ALL
            .into_iter()
            .filter(|r| allows(*r, permission))
            .map(ClinicRole::as_str)
            .collect();
        let row = sqlx::query!(
            r#"with member as (
                   select m.role from clinic_members m join users u on u.id = m.user_id
                   where m.user_id = $1 and m.clinic_id = $2 and u.is_active
               ),
               mfa as (
                   select coalesce((select c.require_mfa from clinics c where c.id = $2), false)
                          and not exists (select 1 from user_mfa f where f.user_id = $1 and f.enabled_at is not null)
                          as missing
               ),
               audit as (
                   insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
                   select $1, $2, $3, $4, $5 from member
                   where member.role = any($6::text[]) and not (select missing from mfa)
                   returning 1
               )
               select (select is_active from users where id = $1) as "active?",
                      (select role from member) as "role?",
                      (select missing from mfa) as "mfa_missing!",
                      exists (select 1 from audit) as "audited!""#,
            self.user_id,
            self.clinic_id,
            action.as_str(),
            self.patient_id,
            plumbing::request_id::current(),
            &allowed as &[&str],
        )
        .fetch_one(&self.db)
        .await?;
        if row.active != Some(true) {
            return Err(crate::auth::extractor::UNAUTHORIZED);
        }
        if row.role.as_deref().and_then(ClinicRole::parse).is_none() {
            return Err(NO_CLINIC);
        }
        if row.mfa_missing {
            return Err(MFA_SETUP_REQUIRED);
        }
        if !row.audited {
            if let Some(patient) = self.patient_id {
                record_denied(&self.db, self.user_id, self.clinic_id, patient).await?;
            }
            return Err(ApiError::Forbidden);
        }
        Ok(())
    }

    /// The connection to hand to clinic-scoped queries.
    pub fn conn(&mut self) -> &mut sqlx::PgConnection {
        &mut self.tx
    }

    /// Whether this member may do `permission` (e.g. see notes).
    pub fn may(&self, permission: Permission) -> bool {
        allows(self.role, permission)
    }

    /// 404 for a patient (or message) that is not there for this clinic: the transaction is rolled back and the
    /// attempt recorded as `access.denied` in its own statement, so it is kept although the request fails.
    pub async fn not_found(self) -> ApiError {
        let Self {
            tx,
            user_id,
            clinic_id,
            patient_id,
            db,
            ..
        } = self;
        // On the replica too: the refusal is recorded on the primary (`db`), the read transaction only ends.
        if let Err(e) = tx.rollback().await {
            return e.into();
        }
        if let Some(patient) = patient_id
            && let Err(e) = record_denied(&db, user_id, clinic_id, patient).await
        {
            return e;
        }
        ApiError::NotFound
    }
}

/// Writes one `access.denied` row outside any request transaction (autocommit).
pub async fn record_denied(db: &PgPool, user_id: Uuid, clinic_id: Uuid, patient_id: Uuid) -> Result<(), ApiError> {
    sqlx::query!(
        "insert into audit_events (user_id, clinic_id, action, patient_id, request_id) values ($1, $2, $3, $4, $5)",
        user_id,
        clinic_id,
        Action::AccessDenied.as_str(),
        patient_id,
        plumbing::request_id::current()
    )
    .execute(db)
    .await?;
    Ok(())
}
