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
