//! What an audit row says: the action, and the filters an admin lists by.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::http::error::{ApiError, ApiResult};

/// What an authentication or account event was (the `action` column of `audit_events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthAction {
    Login,
    LoginFailed,
    RefreshReused,
    /// Recorded for the admin who changed an account.
    AdminUserUpdate,
    RoleChanged,
    Deactivated,
    Reactivated,
    /// An admin read the audit trail.
    AuditList,
    /// A wrong current password on a route that changes how the account signs in.
    ReauthFailed,
    PasswordChanged,
    MfaEnabled,
    MfaDisabled,
    /// A recovery code was spent to sign in.
    MfaRecoveryUsed,
    /// A wrong second-factor code at sign-in.
    MfaFailed,
    /// The user ended one of their sessions (or all the others).
    SessionRevoked,
}

impl AuthAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthAction::Login => "auth.login",
            AuthAction::LoginFailed => "auth.login_failed",
            AuthAction::RefreshReused => "auth.refresh_reused",
            AuthAction::AdminUserUpdate => "admin.user_update",
            AuthAction::RoleChanged => "account.role_changed",
            AuthAction::Deactivated => "account.deactivated",
            AuthAction::Reactivated => "account.reactivated",
            AuthAction::AuditList => "admin.audit_list",
            AuthAction::ReauthFailed => "auth.reauth_failed",
            AuthAction::PasswordChanged => "auth.password_changed",
            AuthAction::MfaEnabled => "auth.mfa_enabled",
            AuthAction::MfaDisabled => "auth.mfa_disabled",
            AuthAction::MfaRecoveryUsed => "auth.mfa_recovery_used",
            AuthAction::MfaFailed => "auth.mfa_failed",
            AuthAction::SessionRevoked => "auth.session_revoked",
        }
    }
}

/// Filters of the admin listing (each optional; all given ones must match).
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub user_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub action: Option<String>,
}

/// Where a keyset page starts: strictly older than this event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: DateTime<Utc>,
    pub id: i64,
}

impl Cursor {
    /// `<microseconds since the epoch>.<event id>`: opaque to clients, exact (PostgreSQL keeps microseconds).
    pub fn encode(self) -> String {
        format!("{}.{}", self.at.timestamp_micros(), self.id)
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (micros, id) = s.split_once('.')?;
        let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        let id = id.parse().ok().filter(|id| *id > 0)?;
        Some(Self { at, id })
    }

    /// A `cursor` query parameter: absent or empty is the first page; anything this api did not hand out is a 422
    /// naming the field.
    pub fn from_query(raw: Option<&str>) -> ApiResult<Option<Self>> {
        match raw.filter(|c| !c.is_empty()) {
            Some(c) => Self::parse(c).map(Some).ok_or_else(|| {
                ApiError::validation("cursor", "invalid", "cursor must be a nextCursor this api returned.")
            }),
            None => Ok(None),
        }
    }
}
