//! What the two routes take: the formats and their media types, the limits, the query parameters, and one patient
//! as an export reads it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// Largest import body: 10 MiB. Bigger is 413 `payload_too_large`, before a byte past the limit is kept.
pub const IMPORT_MAX_BYTES: usize = 10 * 1024 * 1024;
/// Most data rows in one import. More is 413 `too_many_rows`.
pub const IMPORT_MAX_ROWS: u32 = 50_000;
/// Patients per export batch: each batch is one transaction (read, audit, commit) and one chunk of the body, so
/// this bounds what an export holds at once (about 100 KB of typical rows; notes at their 10,000-character maximum
/// would make it a few MB).
pub const EXPORT_BATCH: i64 = 500;
/// Valid rows per insert statement (and per duplicate-check statement) of an import.
pub const IMPORT_CHUNK: usize = 1000;

/// A file format both routes speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV, UTF-8, a header row, CRLF line ends.
    Csv,
    /// FHIR R4 `Patient` resources, one JSON object a line (bulk-data NDJSON).
    Fhir,
}

impl Format {
    pub const CSV_MEDIA_TYPE: &'static str = "text/csv";
    pub const FHIR_MEDIA_TYPE: &'static str = "application/fhir+ndjson";

    /// `?format=` of the export.
    pub fn from_query(raw: &str) -> Option<Self> {
        match raw {
            "csv" => Some(Self::Csv),
            "fhir" => Some(Self::Fhir),
            _ => None,
        }
    }

    /// The import's `Content-Type`: the media type (any case) and, if given, `charset=utf-8`; nothing else.
    pub fn from_content_type(value: &str) -> Option<Self> {
        let mut parts = value.split(';');
        let format = match parts.next()?.trim().to_ascii_lowercase().as_str() {
            Self::CSV_MEDIA_TYPE => Self::Csv,
            Self::FHIR_MEDIA_TYPE => Self::Fhir,
            _ => return None,
        };
        for param in parts {
            let (name, value) = param.split_once('=')?;
            let value = value.trim().trim_matches('"');
            if name.trim().eq_ignore_ascii_case("charset") && !value.eq_ignore_ascii_case("utf-8") {
                return None;
            }
        }
        Some(format)
    }

    /// The export's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Fhir => Self::FHIR_MEDIA_TYPE,
        }
    }

    /// The download's file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Fhir => "ndjson",
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ExportQuery {
    /// `fhir` (FHIR R4 `Patient` resources as NDJSON) or `csv`. Anything else, or none, is 422.
    #[param(value_type = String, example = "csv")]
    pub format: Option<String>,
    /// Include `medicalNotes` (a CSV column; in FHIR an extension, see the description). Default false.
    pub include_notes: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct ImportQuery {
    /// Only check the file and return the report; nothing is written.
    pub dry_run: Option<bool>,
    /// Import rows that look like a patient already in the clinic or an earlier row of the file (same email, or
    /// same name and date of birth) instead of reporting them as `possible_duplicate`.
    pub confirm_duplicates: Option<bool>,
}

/// One patient as the export reads it (`medical_notes` is `None` unless the export includes notes).
pub struct ExportRow {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub medical_notes: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ExportRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportRow")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Timestamps as both formats write them: RFC 3339 in UTC with microseconds (what PostgreSQL keeps).
pub fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_media_types_are_read_with_their_charset() {
        assert_eq!(Format::from_content_type("text/csv"), Some(Format::Csv));
        assert_eq!(Format::from_content_type("Text/CSV; charset=UTF-8"), Some(Format::Csv));
        assert_eq!(Format::from_content_type("application/fhir+ndjson"), Some(Format::Fhir));
        assert_eq!(
            Format::from_content_type("text/csv; charset=\"utf-8\""),
            Some(Format::Csv)
        );
        for bad in [
            "application/json",
            "text/csv; charset=latin1",
            "text/plain",
            "",
            "text/csv; nonsense",
            "application/ndjson",
        ] {
            assert_eq!(Format::from_content_type(bad), None, "{bad}");
        }
    }

    #[test]
    fn export_formats_are_exactly_fhir_and_csv() {
        assert_eq!(Format::from_query("csv"), Some(Format::Csv));
        assert_eq!(Format::from_query("fhir"), Some(Format::Fhir));
        assert_eq!(Format::from_query("CSV"), None);
        assert_eq!(Format::from_query("json"), None);
    }
}
