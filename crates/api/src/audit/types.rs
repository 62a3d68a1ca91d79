//! What an audit row says: the action, and the filters an admin lists by.

use uuid::Uuid;

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
