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

/// `POST /import/patients`: what the file held and what was done with it. Also the body of the 422
/// `import_invalid` refusal (with the problem's `type`, `title`, `status`, `detail`, `code` and `requestId` beside).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    /// Data rows read (a CSV header is not a row; blank lines are not rows).
    pub rows: u32,
    /// Rows without any error.
    pub valid: u32,
    /// Rows with at least one error.
    pub invalid: u32,
    /// Every problem found, in row order; `row` 0 is the file itself (its CSV header: an unknown, repeated or
    /// missing column).
    pub errors: Vec<ImportError>,
    /// Patients inserted: 0 on a dry run or a refused import, else every row.
    pub created: u32,
}

/// One problem of one row of an imported file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportError {
    /// The data row, from 1 (0 for the file's header).
    pub row: u32,
    /// The field as the API's JSON names it (`name`, `email`, `phone`, `dateOfBirth`, `medicalNotes`), an unknown
    /// column or FHIR element as the file names it, or `null` for the row as a whole (unreadable JSON, a wrong
    /// number of CSV cells).
    pub field: Option<String>,
    /// Stable and machine-readable: the field codes of `POST /patients` (`required`, `too_long`, `invalid_email`,
    /// `invalid_phone`, `invalid_date`, `in_future`, ...) and `possible_duplicate`, `unknown_column`,
    /// `duplicate_column`, `missing_column`, `unknown_field`, `multiple_values`, `unsupported_value`,
    /// `unsupported_resource`, `invalid_type`, `malformed_json`, `malformed_row`, `invalid_encoding`,
    /// `forbidden_field`.
    pub code: String,
    pub message: String,
}
