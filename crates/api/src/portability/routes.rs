//! `GET /export/patients` and `POST /import/patients`.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use shared::records::ImportReport;

use crate::auth::AuthUser;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::portability::service::{self, ImportOptions};
use crate::portability::types::{ExportQuery, Format, ImportQuery};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/export/patients", get(export))
        .route("/import/patients", post(import))
}

/// Export the clinic's patients (owner and clinician), streamed: `format=fhir` gives one FHIR R4 `Patient` resource
/// per line (`application/fhir+ndjson`: `id`; `identifier` `urn:ietf:rfc:3986` / `urn:uuid:<id>`; `name[0].text`;
/// `telecom` phone (E.164) and email; `birthDate`; `meta.lastUpdated`), `format=csv` an RFC 4180 file (`text/csv`,
/// UTF-8, CRLF) with the header `id,name,email,phone,dateOfBirth,createdAt,updatedAt`.
///
/// Medical notes are left out unless `includeNotes=true`: then a `medicalNotes` CSV column after `dateOfBirth`,
/// and in FHIR an extension `{"url": "urn:dental-assistant:fhir:StructureDefinition:medical-notes",
/// "valueString": ...}`.
///
/// CSV cells starting with `=`, `+`, `-`, `@`, a tab or a carriage return (after any `'`) get one more leading `'`,
/// so spreadsheets show them as text instead of running them; the import removes it again.
///
/// Oldest patients first; patients created while the export runs may or may not be in it. Every exported patient
/// gets a `patient.export` event in its access log. If the export fails midway the connection closes before the
/// end of the body (curl: "transfer closed with outstanding read data remaining").
#[utoipa::path(operation_id = "exportPatients", get, path = "/export/patients", tag = "portability", security(("bearer" = [])),
    params(ExportQuery),
    responses(
        (status = 200, description = "The clinic's patients, streamed; `Content-Disposition: attachment`",
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"patients-YYYY-MM-DD.csv\"` (or `.ndjson`)")),
            content(
                (String = "application/fhir+ndjson", example = json!("{\"resourceType\":\"Patient\",\"id\":\"0193...\",\"meta\":{\"lastUpdated\":\"2026-12-10T09:30:00.000000Z\"},\"identifier\":[{\"system\":\"urn:ietf:rfc:3986\",\"value\":\"urn:uuid:0193...\"}],\"name\":[{\"text\":\"Ana García\"}],\"telecom\":[{\"system\":\"phone\",\"value\":\"+34612345678\"},{\"system\":\"email\",\"value\":\"ana@example.com\"}],\"birthDate\":\"1985-04-23\"}\n")),
                (String = "text/csv", example = json!("id,name,email,phone,dateOfBirth,createdAt,updatedAt\r\n0193...,Ana García,ana@example.com,'+34612345678,1985-04-23,2026-12-10T09:30:00.000000Z,2026-12-10T09:30:00.000000Z\r\n")),
            )),
        (status = 403, description = "Reception (`forbidden`), no clinic (`no_clinic`), or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 422, description = "`format` missing or not `fhir`/`csv` (`validation_failed`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 400, description = "An unknown or malformed query parameter (`invalid_query`)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn export(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let format = query
        .format
        .as_deref()
        .and_then(Format::from_query)
        .ok_or_else(|| ApiError::validation("format", "invalid_format", "format must be fhir or csv."))?;
    let body = service::export(&state.db, user, format, query.include_notes == Some(true)).await?;
    let filename = format!(
        "attachment; filename=\"patients-{}.{}\"",
        chrono::Utc::now().date_naive(),
        format.extension()
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Import patients (owner and clinician) from a CSV file (`text/csv`, the export's columns, any order; `name`
/// required; `id`, `createdAt`, `updatedAt` ignored) or FHIR R4 `Patient` NDJSON (`application/fhir+ndjson`), at
/// most 10 MiB and 50,000 rows.
///
/// Every row is held to the rules of `POST /patients` (a national phone number is read in the clinic's country)
/// and every problem is reported with its row (data rows from 1; a CSV header is not a row, row 0 is the header
/// itself), field (the API's JSON names) and `code`. A row like a patient already in the clinic or an earlier row
/// (same email, or same name and date of birth) is reported as `possible_duplicate`, unless
/// `confirmDuplicates=true`. Unknown columns or FHIR elements are reported, never silently dropped.
///
/// `dryRun=true` only reports. Otherwise all rows are inserted in one transaction and the report says how many
/// (`created`), or, if any row is invalid, none is: 422 `import_invalid` whose body is the report with the
/// problem's members.
#[utoipa::path(operation_id = "importPatients", post, path = "/import/patients", tag = "portability", security(("bearer" = [])),
    params(ImportQuery),
    request_body(description = "The file, at most 10 MiB and 50,000 rows", content(
        (String = "text/csv", example = json!("name,email,phone,dateOfBirth,medicalNotes\r\nAna García,ana@example.com,612 345 678,1985-04-23,\"Allergic to penicillin, latex.\"\r\n")),
        (String = "application/fhir+ndjson", example = json!("{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"Ana García\"}],\"birthDate\":\"1985-04-23\"}\n")),
    )),
    responses(
        (status = 200, description = "The report: on a dry run (`created` 0) or after the import (`created` = `rows`)", body = ImportReport),
        (status = 403, description = "Reception (`forbidden`), no clinic (`no_clinic`), or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 413, description = "Over 10 MiB (`payload_too_large`) or 50,000 rows (`too_many_rows`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 415, description = "Neither `text/csv` nor `application/fhir+ndjson` (UTF-8) (`unsupported_media_type`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 422, description = "`import_invalid`: rows failed, nothing was imported; the problem's members and the report's (`rows`, `valid`, `invalid`, `errors` with `row`, `created` 0)", content_type = "application/problem+json", body = ImportReport),
        (status = 400, description = "An unknown or malformed query parameter (`invalid_query`), or an unreadable body", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn import(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ImportQuery>,
    request: Request<Body>,
) -> ApiResult<Json<ImportReport>> {
    let headers = request.headers();
    let format = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(Format::from_content_type)
        .ok_or(ApiError::UnsupportedMediaType {
            detail: "Send the file as text/csv or application/fhir+ndjson (UTF-8).",
        })?;
    let content_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = service::read_body(request.into_body(), content_length).await?;
    let options = ImportOptions {
        dry_run: query.dry_run == Some(true),
        confirm_duplicates: query.confirm_duplicates == Some(true),
    };
    Ok(Json(service::import(&state, &user, format, body, options).await?))
}
