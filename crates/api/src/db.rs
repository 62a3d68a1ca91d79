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
use sqlx::{Connection as _, Executor, PgPool, Postgres, Transaction};
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
        // A connection broken by a server restart is found before a request uses it: one idle for longer than
        // any restart takes is pinged first (a failed ping discards it and the pool opens another). sqlx already
        // pings every connection as it comes back to the pool, so a connection in steady use is not pinged again
        // on its way out (one round trip less per request; DESIGN.md, "Round trips per request").
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                conn.execute("set role dental_app").await?;
                Ok(())
            })
        })
}

/// A pooled connection idle this long is pinged before use. PostgreSQL cannot stop and start again in less (a fast
/// restart of an idle server takes a few hundred milliseconds), so a connection a restart broke is always among them.
pub const PING_WHEN_IDLE_FOR: Duration = Duration::from_millis(50);

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
        let gate = Gate::new(caller, permission, action, patient_id)?;
        let mut tx = crate::db::begin(db).await?;
        let role = match gate.check(&mut tx, true).await {
            Ok(role) => role,
            Err(e) => {
                // The refusal's own record (`access.denied`) is written once the transaction is gone.
                drop(tx);
                return Err(gate.refused(db, e).await);
            }
        };
        let clinic_id = gate.clinic_id;
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
        // No action of its own: nothing is recorded (see above), so no patient and no `access.denied` either.
        let gate = Gate::new(caller, permission, Action::PatientExport, None)?;
        let mut tx = crate::db::begin(db).await?;
        let role = match gate.check(&mut tx, false).await {
            Ok(role) => role,
            Err(e) => return Err(gate.refused(db, e).await),
        };
        let clinic_id = gate.clinic_id;
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
        let gate = Gate::new(caller, permission, action, patient_id)?;
        if let Some(mut tx) = reads.replica_tx(caller.id).await {
            // The gate as the replica sees it only lets the read start; the primary checks it again at commit (a
            // policy turned on a moment ago is not missed), and a refusal is the primary's `begin`, with its record.
            match gate.check(&mut tx, false).await {
                Ok(role) => {
                    reads.count(replica::Target::Replica);
                    return Ok(Self {
                        tx,
                        user_id: caller.id,
                        clinic_id: gate.clinic_id,
                        role,
                        patient_id,
                        db: reads.primary().clone(),
                        on_replica: Some((permission, action)),
                    });
                }
                Err(e) if refusal(&e).is_some() => {}
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
        let gate = Gate {
            user_id: self.user_id,
            clinic_id: self.clinic_id,
            permission,
            action,
            patient_id: self.patient_id,
        };
        gate.audit_on_primary(&self.db).await
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

/// Who asks for what in which clinic: the arguments of the `clinic_gate` SQL function (migration
/// 20261214000001), the one clinic check every route runs, either at the start of a [`ClinicTx`] or as the first
/// step of a route function ([`read_once`]). In one statement it checks that the account is active and still a
/// member, the clinic's two-step sign-in policy, and the member's current role against [`allows`]; sets
/// `app.user_id`, `app.clinic_id` and `app.clinic_role` for the transaction; and writes the audit row.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    pub user_id: Uuid,
    pub clinic_id: Uuid,
    pub permission: Permission,
    pub action: Action,
    /// The patient the route concerns: recorded in the audit row, and an `access.denied` row on a refusal.
    pub patient_id: Option<Uuid>,
}

/// The roles that have `permission`, as `clinic_gate` takes them.
pub fn allowed_roles(permission: Permission) -> Vec<&'static str> {
    ClinicRole::ALL
        .into_iter()
        .filter(|r| allows(*r, permission))
        .map(ClinicRole::as_str)
        .collect()
}

/// The answer to a refusal `clinic_gate` raised (its SQLSTATEs), or `None` for any other error.
pub fn refusal(error: &sqlx::Error) -> Option<ApiError> {
    let sqlx::Error::Database(e) = error else {
        return None;
    };
    match e.code().as_deref() {
        Some("DA401") => Some(crate::auth::extractor::UNAUTHORIZED),
        Some("DA403") => Some(NO_CLINIC),
        // The clinic requires two-step sign-in and this member has not set it up: nothing of the clinic's until
        // done. The MFA and session routes do not come through the gate.
        Some("DA428") => Some(MFA_SETUP_REQUIRED),
        Some("DA4FB") => Some(ApiError::Forbidden),
        _ => None,
    }
}

impl Gate {
    /// 403 `no_clinic` when the token names no clinic.
    pub fn new(
        caller: &AuthUser,
        permission: Permission,
        action: Action,
        patient_id: Option<Uuid>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            user_id: caller.id,
            clinic_id: caller.clinic_id.ok_or(NO_CLINIC)?,
            permission,
            action,
            patient_id,
        })
    }

    /// The roles that may pass.
    pub fn allowed(&self) -> Vec<&'static str> {
        allowed_roles(self.permission)
    }

    /// Runs the gate on `conn` (inside the caller's transaction); `audit` writes the audit row. The role, or the
    /// error to hand to [`Gate::refused`].
    async fn check(&self, conn: &mut sqlx::PgConnection, audit: bool) -> sqlx::Result<ClinicRole> {
        let allowed = self.allowed();
        let role = sqlx::query_scalar!(
            r#"select clinic_gate($1, $2, $3, $4, $5, $6, $7) as "role!""#,
            self.user_id,
            self.clinic_id,
            &allowed as &[&str],
            self.action.as_str(),
            self.patient_id,
            plumbing::request_id::current(),
            audit,
        )
        .fetch_one(conn)
        .await?;
        Ok(Self::role(&role))
    }

    /// A role `clinic_gate` returned (one of `clinic_members.role`, which its check constraint bounds).
    fn role(raw: &str) -> ClinicRole {
        ClinicRole::parse(raw).unwrap_or(ClinicRole::Reception)
    }

    /// Turns an error from the gate (or a route function) into the answer: a refusal as `clinic_gate` raised it,
    /// recorded as `access.denied` on `primary` when a patient route was refused for the role; anything else as
    /// the database error it is.
    pub async fn refused(&self, primary: &PgPool, error: sqlx::Error) -> ApiError {
        let Some(answer) = refusal(&error) else {
            return error.into();
        };
        if matches!(answer, ApiError::Forbidden)
            && let Some(patient) = self.patient_id
            && let Err(e) = record_denied(primary, self.user_id, self.clinic_id, patient).await
        {
            return e;
        }
        answer
    }

    /// After a read on the replica: the gate again on the primary, writing the audit row (one autocommit
    /// statement). The caller gets the data only once the access is recorded, as with a read on the primary, and a
    /// member removed a moment ago gets the primary's refusal.
    pub async fn audit_on_primary(&self, primary: &PgPool) -> Result<(), ApiError> {
        let mut conn = primary.acquire().await?;
        match self.check(&mut conn, true).await {
            Ok(_) => Ok(()),
            Err(e) => {
                drop(conn);
                Err(self.refused(primary, e).await)
            }
        }
    }
}

/// A read in one round trip: `run(pool, audit)` calls a route function (which runs `clinic_gate` first) as one
/// autocommit statement. On the replica when it has replayed the caller's last write (`audit` false: the audit
/// row is then written on the primary by [`Gate::audit_on_primary`] before the data is returned), else on the
/// primary with `audit` true. `recorded` names the action the primary's row records for what was read (the route
/// function records the same itself: a read, or `access.denied` for a patient that is not there). Anything but a
/// success on the replica is done again on the primary, so a refusal and its record are always the primary's.
/// Counted in `db_reads_total` where it was served.
pub async fn read_once<T, F, Fut>(
    reads: &replica::Reads,
    gate: &Gate,
    recorded: impl Fn(&T) -> Action,
    run: F,
) -> Result<(ClinicRole, T), ApiError>
where
    F: Fn(PgPool, bool) -> Fut,
    Fut: std::future::Future<Output = sqlx::Result<(String, T)>>,
{
    if let Some(replica) = reads.replica_pool(gate.user_id).await {
        match run(replica.clone(), false).await {
            Ok((role, value)) => {
                let gate = Gate {
                    action: recorded(&value),
                    ..*gate
                };
                // Counted where the read ran, also when the primary then refuses to hand it out.
                reads.count(replica::Target::Replica);
                gate.audit_on_primary(reads.primary()).await?;
                return Ok((Gate::role(&role), value));
            }
            Err(e) if refusal(&e).is_some() => {}
            Err(e) => reads.replica_failed(&e),
        }
    }
    reads.count(replica::Target::Primary);
    match run(reads.primary().clone(), true).await {
        Ok((role, value)) => Ok((Gate::role(&role), value)),
        Err(e) => Err(gate.refused(reads.primary(), e).await),
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
