//! Portability SQL, clinic-scoped like every patient query (the clinic id is a parameter, and row-level security
//! hides other clinics' rows regardless).

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::Action;
use crate::domain::email::Email;
use crate::patients::types::{DateOfBirth, MedicalNotes, NewPatient, Phone};
use crate::portability::types::ExportRow;

/// Where the next export batch starts: after this patient in `(created_at, id)` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct After {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// The next `limit` patients of the clinic after `after` (oldest first), and in the same statement one
/// `patient.export` audit row for each of them, so what a batch returns is recorded when its transaction commits.
/// A keyset page through `patients_clinic_created_idx` (scanned backward): each batch costs the same at the
/// millionth patient as at the first. `medical_notes` is read only when `include_notes`.
pub async fn export_batch(
    conn: &mut PgConnection,
    clinic: Uuid,
    user: Uuid,
    after: Option<After>,
    limit: i64,
    include_notes: bool,
    request_id: Option<&str>,
) -> sqlx::Result<Vec<ExportRow>> {
    sqlx::query_as!(
        ExportRow,
        r#"with batch as (
               select id, name, email, phone, date_of_birth, case when $5 then medical_notes end as medical_notes,
                      created_at, updated_at
               from patients
               where clinic_id = $1 and deleted_at is null
                 and (created_at, id) > (coalesce($2, '-infinity'::timestamptz),
                                         coalesce($3, '00000000-0000-0000-0000-000000000000'::uuid))
               order by created_at, id
               limit $4
           ),
           audit as (
               insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
               select $6, $1, $7, id, $8 from batch
           )
           select id as "id!", name as "name!", email, phone, date_of_birth, medical_notes,
                  created_at as "created_at!", updated_at as "updated_at!"
           from batch
           order by created_at, id"#,
        clinic,
        after.map(|a| a.created_at),
        after.map(|a| a.id),
        limit,
        include_notes,
        user,
        Action::PatientExport.as_str(),
        request_id,
    )
    .fetch_all(conn)
    .await
}

/// What the clinic already holds that a new patient looks like (the rule of `POST /patients`), and the patient's
/// folded name for the in-file comparison.
pub struct Lookalike {
    /// The name as `patients.name_key` folds it (lower case, accents removed).
    pub name_key: String,
    /// The first patient with the same email.
    pub same_email: Option<Uuid>,
    /// The first patient with the same folded name and date of birth.
    pub same_name: Option<Uuid>,
}

/// [`Lookalike`] for each of `patients`, in order, in one statement (both probes are index scans:
/// `patients_clinic_email_idx` and `patients_clinic_name_idx`).
pub async fn lookalikes(
    conn: &mut PgConnection,
    clinic: Uuid,
    patients: &[&NewPatient],
) -> sqlx::Result<Vec<Lookalike>> {
    let emails: Vec<Option<&str>> = patients.iter().map(|p| p.email.as_ref().map(Email::as_str)).collect();
    let names: Vec<&str> = patients.iter().map(|p| p.name.as_str()).collect();
    let births: Vec<Option<NaiveDate>> = patients
        .iter()
        .map(|p| p.date_of_birth.map(DateOfBirth::date))
        .collect();
    sqlx::query_as!(
        Lookalike,
        r#"select patient_fold(t.name) as "name_key!",
                  (select p.id from patients p
                   where p.clinic_id = $1 and p.deleted_at is null and p.email = t.email
                   order by p.created_at, p.id limit 1) as same_email,
                  (select p.id from patients p
                   where p.clinic_id = $1 and p.deleted_at is null
                     and p.name_key = patient_fold(t.name) and p.date_of_birth = t.birth
                   order by p.created_at, p.id limit 1) as same_name
           from unnest($2::text[], $3::text[], $4::date[]) with ordinality as t(email, name, birth, i)
           order by t.i"#,
        clinic,
        &emails as &[Option<&str>],
        &names as &[&str],
        &births as &[Option<NaiveDate>],
    )
    .fetch_all(conn)
    .await
}

/// Inserts `patients` (with their new ids) in one statement, and a `patient.create` audit row for each.
pub async fn insert_many(
    conn: &mut PgConnection,
    clinic: Uuid,
    author: Uuid,
    patients: &[(Uuid, &NewPatient)],
    request_id: Option<&str>,
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = patients.iter().map(|(id, _)| *id).collect();
    let names: Vec<&str> = patients.iter().map(|(_, p)| p.name.as_str()).collect();
    let emails: Vec<Option<&str>> = patients
        .iter()
        .map(|(_, p)| p.email.as_ref().map(Email::as_str))
        .collect();
    let phones: Vec<Option<&str>> = patients
        .iter()
        .map(|(_, p)| p.phone.as_ref().map(Phone::as_str))
        .collect();
    let births: Vec<Option<NaiveDate>> = patients
        .iter()
        .map(|(_, p)| p.date_of_birth.map(DateOfBirth::date))
        .collect();
    let notes: Vec<Option<&str>> = patients
        .iter()
        .map(|(_, p)| p.medical_notes.as_ref().map(MedicalNotes::as_str))
        .collect();
    let inserted = sqlx::query_scalar!(
        r#"with new as (
               insert into patients (id, clinic_id, created_by, name, email, phone, date_of_birth, medical_notes)
               select t.id, $1, $2, t.name, t.email, t.phone, t.birth, t.notes
               from unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::date[], $8::text[])
                    as t(id, name, email, phone, birth, notes)
               returning id
           ),
           audit as (
               insert into audit_events (user_id, clinic_id, action, patient_id, request_id)
               select $2, $1, $9, id, $10 from new
           )
           select count(*) as "n!" from new"#,
        clinic,
        author,
        &ids as &[Uuid],
        &names as &[&str],
        &emails as &[Option<&str>],
        &phones as &[Option<&str>],
        &births as &[Option<NaiveDate>],
        &notes as &[Option<&str>],
        Action::PatientCreate.as_str(),
        request_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(inserted).unwrap_or_default())
}
