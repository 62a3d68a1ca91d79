//! Wire types of the records routes: the trash, a patient's access log and the clinic overview (CONTRACT.md,
//! "Clinics, roles and records").

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::Patient;

/// A patient in the trash: the patient's fields and when it was deleted.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrashedPatient {
    #[serde(flatten)]
    pub patient: Patient,
    pub deleted_at: DateTime<Utc>,
}

impl std::fmt::Debug for TrashedPatient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrashedPatient")
            .field("id", &self.patient.id)
            .field("deletedAt", &self.deleted_at)
            .finish_non_exhaustive()
    }
}

/// `GET /patients/trash`: most recently deleted first.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrashPage {
    pub items: Vec<TrashedPatient>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
    /// How long a deleted patient stays restorable (`PATIENT_RETENTION_DAYS`).
    pub retention_days: u32,
}

/// One access to a patient's record, as its access log shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccessEvent {
    pub at: DateTime<Utc>,
    /// The member who acted (`null` for the system).
    pub user_id: Option<Uuid>,
    /// Their name now (`null` if the account is gone).
    pub user_name: Option<String>,
    /// `patient.read`, `patient.update`, `patient.delete`, `patient.restore`, `message.list`, `message.send`,
    /// `patient.export` or `access.denied`.
    pub action: String,
    pub request_id: Option<String>,
}

/// `GET /patients/{id}/access-log`: newest first. Pass `nextCursor` as `cursor` for the next (older) page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AccessEventPage {
    pub items: Vec<AccessEvent>,
    pub page: u32,
    pub limit: u32,
    /// Whether older events exist.
    pub has_more: bool,
    /// Opaque; `null` when there is no older page.
    pub next_cursor: Option<String>,
}

/// One day of the clinic overview.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DayStats {
    pub date: NaiveDate,
    /// Messages staff sent to the assistant that day.
    pub messages: i64,
    /// Replies flagged as emergencies that day, by triage category (categories with none are absent).
    pub emergencies: std::collections::BTreeMap<String, i64>,
}

/// One month of model usage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MonthStats {
    /// `YYYY-MM`.
    pub month: String,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

/// `GET /clinic/stats`: every day and every month of the range, zeros included.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClinicStats {
    pub days: Vec<DayStats>,
    pub months: Vec<MonthStats>,
}
