//! The export stream and the import's steps.
//!
//! Export: keyset batches of [`EXPORT_BATCH`] patients, each read in its own clinic transaction that also writes
//! the batch's `patient.export` audit rows and commits before the batch's bytes are handed to the connection. The
//! first batch runs inside the request (so a refusal is a proper 403 and the request's own audit row, with no
//! patient, is written by [`ClinicTx::begin`]); the rest run as the client reads, each re-checking the membership
//! ([`ClinicTx::resume`]). Memory is one batch, whatever the clinic's size, and a client that stops reading stops
//! the export: the batch in flight is rolled back, so the audit trail names exactly the patients that were sent.
//!
//! Import: the body is read up to [`IMPORT_MAX_BYTES`], parsed row by row (the `csv` crate or `serde_json` per
//! line) off the async runtime, each row validated by `NewPatient::parse_fields` (the rules of `POST /patients`),
//! checked for duplicates against the clinic and the earlier rows, then either reported (a dry run, or any row
//! invalid: nothing written) or inserted in one transaction.

use std::collections::{BTreeSet, HashMap};

use axum::body::{Body, Bytes};
use chrono::NaiveDate;
use futures::StreamExt as _;
use shared::FieldError;
use shared::records::{ImportError, ImportReport};
use sqlx::PgPool;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::patients::types::{DateOfBirth, NOTES_FORBIDDEN, NewPatient, PatientInput, PhoneRegion};
use crate::portability::queries::{self, After};
use crate::portability::types::{EXPORT_BATCH, ExportRow, Format, IMPORT_CHUNK, IMPORT_MAX_BYTES, IMPORT_MAX_ROWS};
use crate::portability::{csv_file, fhir};
use crate::state::AppState;

/// The clinic's patients in `format`, as a body that is produced while the client reads it.
pub async fn export(db: &PgPool, user: AuthUser, format: Format, include_notes: bool) -> ApiResult<Body> {
    let request_id = plumbing::request_id::current();
    let mut tx = ClinicTx::begin(db, &user, Permission::Export, Action::PatientExport, None).await?;
    if include_notes && !tx.may(Permission::ReadNotes) {
        return Err(NOTES_FORBIDDEN);
    }
    let (clinic, user_id) = (tx.clinic_id, tx.user_id);
    let first = queries::export_batch(
        tx.conn(),
        clinic,
        user_id,
        None,
        EXPORT_BATCH,
        include_notes,
        request_id.as_deref(),
    )
    .await?;
    tx.commit().await?;
    let head = encode(format, &first, include_notes, true)?;
    let rest = Batches {
        db: db.clone(),
        user,
        format,
        include_notes,
        request_id,
        after: last(&first),
        done: batch_was_last(&first),
    };
    let rest = futures::stream::unfold(rest, |mut batches| async move {
        let chunk = batches.next().await?;
        Some((chunk, batches))
    });
    let body = futures::stream::once(std::future::ready(Ok(head))).chain(rest);
    Ok(Body::from_stream(body))
}

/// The export's remaining batches.
struct Batches {
    db: PgPool,
    user: AuthUser,
    format: Format,
    include_notes: bool,
    request_id: Option<String>,
    after: Option<After>,
    done: bool,
}

impl Batches {
    /// The next chunk of the body, `None` at the end. An error ends the body early (the client sees the
    /// connection close before the end of the chunked body, never a truncated file that looks complete).
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.done {
            return None;
        }
        match self.fetch().await {
            Ok(rows) if rows.is_empty() => {
                self.done = true;
                None
            }
            Ok(rows) => {
                self.done = batch_was_last(&rows);
                self.after = last(&rows);
                match encode(self.format, &rows, self.include_notes, false) {
                    Ok(bytes) => Some(Ok(bytes)),
                    Err(e) => Some(Err(self.stop(&e))),
                }
            }
            Err(e) => Some(Err(self.stop(&e))),
        }
    }

    async fn fetch(&self) -> ApiResult<Vec<ExportRow>> {
        let mut tx = ClinicTx::resume(&self.db, &self.user, Permission::Export).await?;
        let (clinic, user) = (tx.clinic_id, tx.user_id);
        let rows = queries::export_batch(
            tx.conn(),
            clinic,
            user,
            self.after,
            EXPORT_BATCH,
            self.include_notes,
            self.request_id.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(rows)
    }

    fn stop(&mut self, e: &ApiError) -> std::io::Error {
        self.done = true;
        // `ApiError`'s Debug holds no patient data: database errors keep only their SQLSTATE and constraint.
        tracing::warn!(error = ?e, request_id = self.request_id.as_deref(), "export stopped before its end");
        std::io::Error::other("export stopped")
    }
}

fn last(rows: &[ExportRow]) -> Option<After> {
    rows.last().map(|r| After {
        created_at: r.created_at,
        id: r.id,
    })
}

fn batch_was_last(rows: &[ExportRow]) -> bool {
    i64::try_from(rows.len()).unwrap_or(i64::MAX) < EXPORT_BATCH
}

fn encode(format: Format, rows: &[ExportRow], include_notes: bool, first: bool) -> ApiResult<Bytes> {
    let out = Vec::with_capacity(rows.len() * 256);
    let out = match format {
        Format::Csv => csv_file::write(out, rows, include_notes, first)?,
        Format::Fhir => {
            let mut out = out;
            fhir::write(&mut out, rows, include_notes).map_err(|e| anyhow::anyhow!("encoding FHIR: {e}"))?;
            out
        }
    };
    Ok(Bytes::from(out))
}

/// The request body, at most [`IMPORT_MAX_BYTES`] (413 `payload_too_large` as soon as it is known to be larger:
/// from `Content-Length`, or while reading).
pub async fn read_body(body: Body, content_length: Option<u64>) -> ApiResult<Bytes> {
    let too_large = || ApiError::TooLarge {
        code: "payload_too_large",
        detail: format!(
            "An import is at most {} MiB; split the file.",
            IMPORT_MAX_BYTES / (1024 * 1024)
        ),
    };
    let declared = content_length.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if declared.is_some_and(|n| n > IMPORT_MAX_BYTES) {
        return Err(too_large());
    }
    let mut out = Vec::with_capacity(declared.unwrap_or(64 * 1024));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::Body(plumbing::json::JsonRejection::Unreadable))?;
        if out.len() + chunk.len() > IMPORT_MAX_BYTES {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}

/// How an import runs.
#[derive(Clone, Copy, Debug)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub confirm_duplicates: bool,
}

/// Checks and (unless a dry run) imports a file: 200 with the report, or 422 `import_invalid` with it when any
/// row failed and this was not a dry run (then nothing was written).
pub async fn import(
    state: &AppState,
    user: &AuthUser,
    format: Format,
    body: Bytes,
    options: ImportOptions,
) -> ApiResult<ImportReport> {
    let action = if options.dry_run {
        Action::PatientImportCheck
    } else {
        Action::PatientImport
    };
    let mut tx = ClinicTx::begin(&state.db, user, Permission::Import, action, None).await?;
    let (clinic, author) = (tx.clinic_id, tx.user_id);
    let rules = Rules {
        today: chrono::Utc::now().date_naive(),
        region: PhoneRegion::from_code(&crate::patients::queries::clinic_country(tx.conn(), clinic).await?),
        notes: tx.may(Permission::ReadNotes),
    };
    // Parsing and phone rules for up to 50,000 rows is CPU work: off the runtime's threads.
    let mut parsed = tokio::task::spawn_blocking(move || parse(&body, format, rules))
        .await
        .map_err(|e| anyhow::anyhow!("the import parser stopped: {e}"))??;
    if !options.confirm_duplicates {
        duplicates(tx.conn(), clinic, &mut parsed).await?;
    }
    parsed.errors.sort_by_key(|e| e.row);
    let invalid = parsed
        .errors
        .iter()
        .filter(|e| e.row > 0)
        .map(|e| e.row)
        .collect::<BTreeSet<_>>();
    let invalid = u32::try_from(invalid.len()).unwrap_or(u32::MAX);
    let mut report = ImportReport {
        rows: parsed.rows,
        valid: parsed.rows.saturating_sub(invalid),
        invalid,
        errors: parsed.errors,
        created: 0,
    };
    if options.dry_run {
        // Nothing is written but the record that the clinic's patients were compared with the file.
        tx.commit().await?;
        return Ok(report);
    }
    if !report.errors.is_empty() {
        drop(tx);
        return Err(ApiError::ImportInvalid(Box::new(report)));
    }
    let request_id = plumbing::request_id::current();
    let mut created = 0u64;
    for chunk in parsed.valid.chunks(IMPORT_CHUNK) {
        let with_ids: Vec<(Uuid, &NewPatient)> = chunk.iter().map(|(_, p)| (Uuid::now_v7(), p)).collect();
        created += queries::insert_many(tx.conn(), clinic, author, &with_ids, request_id.as_deref()).await?;
    }
    tx.commit().await?;
    state.reads.wrote(user.id).await;
    report.created = u32::try_from(created).unwrap_or(u32::MAX);
    Ok(report)
}

/// What each row is held to.
#[derive(Clone, Copy)]
struct Rules {
    today: NaiveDate,
    region: PhoneRegion,
    /// Whether the member may write medical notes.
    notes: bool,
}

/// A file read and every row validated.
#[derive(Default)]
struct Parsed {
    rows: u32,
    /// The rows that passed, with their row numbers, in file order.
    valid: Vec<(u32, NewPatient)>,
    errors: Vec<ImportError>,
}

fn row_error(row: u32, e: FieldError) -> ImportError {
    ImportError {
        row,
        // The readers name a problem with the whole row with an empty field.
        field: Some(e.field).filter(|f| !f.is_empty()),
        code: e.code,
        message: e.message,
    }
}

fn parse(body: &[u8], format: Format, rules: Rules) -> ApiResult<Parsed> {
    let mut parsed = Parsed::default();
    let mut accept = |row: u32, input: PatientInput, mut errors: Vec<FieldError>| -> ApiResult<()> {
        if row > IMPORT_MAX_ROWS {
            return Err(ApiError::TooLarge {
                code: "too_many_rows",
                detail: format!("An import is at most {IMPORT_MAX_ROWS} rows; split the file."),
            });
        }
        parsed.rows = row;
        // A row that is not a patient at all (unreadable: field ""; another FHIR resource, or none: field
        // `resourceType`) has no fields to hold to the rules.
        if !errors.iter().any(|e| e.field.is_empty() || e.field == "resourceType") {
            if !rules.notes && input.medical_notes.is_some() {
                errors.push(FieldError::new(
                    "medicalNotes",
                    "forbidden_field",
                    "Your role may not write medical notes.",
                ));
            }
            match NewPatient::parse_fields(&input, rules.today, rules.region) {
                Ok(patient) if errors.is_empty() => parsed.valid.push((row, patient)),
                Ok(_) => {}
                Err(rule_errors) => errors.extend(rule_errors),
            }
        }
        parsed.errors.extend(errors.into_iter().map(|e| row_error(row, e)));
        Ok(())
    };
    let file_errors = match format {
        Format::Csv => csv_file::read(body, &mut accept)?,
        Format::Fhir => {
            fhir::read(body, &mut accept)?;
            Vec::new()
        }
    };
    parsed.errors.extend(file_errors.into_iter().map(|e| row_error(0, e)));
    Ok(parsed)
}

/// Reports (and takes out of `valid`) every row that looks like a patient already in the clinic or like an
/// earlier row of the file: the same email, or the same name (ignoring case and accents) and date of birth, the
/// rule of `POST /patients`.
async fn duplicates(conn: &mut sqlx::PgConnection, clinic: Uuid, parsed: &mut Parsed) -> ApiResult<()> {
    let mut by_email: HashMap<String, u32> = HashMap::new();
    let mut by_name: HashMap<(String, NaiveDate), u32> = HashMap::new();
    let mut flagged = BTreeSet::new();
    for chunk in parsed.valid.chunks(IMPORT_CHUNK) {
        let patients: Vec<&NewPatient> = chunk.iter().map(|(_, p)| p).collect();
        let found = queries::lookalikes(conn, clinic, &patients).await?;
        for ((row, patient), lookalike) in chunk.iter().zip(found) {
            let mut flag = |field: &str, message: String| {
                flagged.insert(*row);
                parsed.errors.push(ImportError {
                    row: *row,
                    field: Some(field.to_owned()),
                    code: "possible_duplicate".to_owned(),
                    message,
                });
            };
            if let Some(email) = patient.email.as_ref().map(|e| e.as_str().to_owned()) {
                if let Some(id) = lookalike.same_email {
                    flag(
                        "email",
                        format!("A patient with this email is already in the clinic ({id})."),
                    );
                } else if let Some(first) = by_email.get(&email) {
                    flag("email", format!("Row {first} has the same email."));
                }
                by_email.entry(email).or_insert(*row);
            }
            if let Some(birth) = patient.date_of_birth.map(DateOfBirth::date) {
                if let Some(id) = lookalike.same_name {
                    flag(
                        "name",
                        format!("A patient with this name and date of birth is already in the clinic ({id})."),
                    );
                } else if let Some(first) = by_name.get(&(lookalike.name_key.clone(), birth)) {
                    flag("name", format!("Row {first} has the same name and date of birth."));
                }
                by_name.entry((lookalike.name_key, birth)).or_insert(*row);
            }
        }
    }
    parsed.valid.retain(|(row, _)| !flagged.contains(row));
    Ok(())
}
