//! Query parameters of the admin listings.

use serde::Deserialize;
use uuid::Uuid;

/// Filters and page of the audit listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditQuery {
    /// Page number, from 1 (ignored when `cursor` is given; deep numbered pages cost an offset scan, cursors do not).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The previous page's `nextCursor`: the events older than that page.
    #[param(max_length = 64)]
    pub cursor: Option<String>,
    /// Only events of this account.
    pub user_id: Option<Uuid>,
    /// Only events about this patient.
    pub patient_id: Option<Uuid>,
    /// Only this action (e.g. `patient.read`, `auth.login_failed`).
    #[param(pattern = "^[a-z_.]{1,64}$")]
    pub action: Option<String>,
}

impl AuditQuery {
    /// Whether `action` has the shape of an action name (1-64 characters of a-z, '_' and '.').
    pub fn action_is_valid(&self) -> bool {
        self.action.as_deref().is_none_or(|a| {
            (1..=64).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')
        })
    }
}
