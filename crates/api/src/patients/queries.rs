//! Patient SQL. Every function takes the clinic's id: a query that forgets it does not compile, and
//! row-level security would hide other clinics' rows even if the `where` clause were wrong. Rows in
//! the trash (`deleted_at` set) are invisible to every query here.

use chrono::{DateTime, NaiveDate, Utc};
use shared::api::Patient;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::email::Email;
use crate::patients::types::{DateOfBirth, MedicalNotes, NewPatient, PatientName, PatientUpdate, Phone};

/// A patient with the total of the listing it came from (the list and search queries).
struct PatientRow {
    id: Uuid,
    name: String,
    email: Option<String>,
    phone: Option<String>,
    date_of_birth: Option<NaiveDate>,
    medical_notes: Option<String>,
    created_by: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    total: i64,
}

impl From<PatientRow> for Patient {
    fn from(r: PatientRow) -> Self {
        Patient {
            id: r.id,
            name: r.name,
            email: r.email,
            phone: r.phone,
            date_of_birth: r.date_of_birth,
            medical_notes: r.medical_notes,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

pub async fn insert(
    conn: &mut PgConnection,
    clinic: Uuid,
    author: Uuid,
    id: Uuid,
    p: &NewPatient,
) -> sqlx::Result<Patient> {
    sqlx::query_as!(
        Patient,
        r#"insert into patients (id, clinic_id, created_by, name, email, phone, date_of_birth, medical_notes)
           values ($1, $2, $8, $3, $4, $5, $6, $7)
           returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at"#,
        id,
        clinic,
        p.name.as_str(),
        p.email.as_ref().map(Email::as_str),
        p.phone.as_ref().map(Phone::as_str),
        p.date_of_birth.map(DateOfBirth::date),
        p.medical_notes.as_ref().map(MedicalNotes::as_str),
        author,
    )
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, clinic: Uuid, id: Uuid) -> sqlx::Result<Option<Patient>> {
    sqlx::query_as!(
        Patient,
        r#"select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at
           from patients where clinic_id = $2 and id = $1 and deleted_at is null"#,
        id,
        clinic
    )
    .fetch_optional(conn)
    .await
}

/// Whether the patient exists in this clinic, outside the trash (cheaper than [`get`] when only access matters).
pub async fn exists(conn: &mut PgConnection, clinic: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from patients where clinic_id = $2 and id = $1 and deleted_at is null) as "exists!""#,
        id,
        clinic
    )
    .fetch_one(conn)
    .await
}

/// One page, newest first, with the clinic's total from the trigger-maintained counter (a million
/// rows are not counted per request).
pub async fn list(conn: &mut PgConnection, clinic: Uuid, limit: i64, offset: i64) -> sqlx::Result<(Vec<Patient>, i64)> {
    let rows = sqlx::query_as!(
        PatientRow,
        r#"select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at,
                  coalesce((select n from patient_counts where clinic_id = $1), 0) as "total!"
           from patients where clinic_id = $1 and deleted_at is null
           order by created_at desc, id desc
           limit $2 offset $3"#,
        clinic,
        limit,
        offset
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None => {
            sqlx::query_scalar!(
                r#"select coalesce((select n from patient_counts where clinic_id = $1), 0) as "n!""#,
                clinic
            )
            .fetch_one(&mut *conn)
            .await?
        }
    };
    Ok((rows.into_iter().map(Patient::from).collect(), total))
}

/// Case-insensitive substring search over name, email and phone through the trigram index.
/// `pattern` is a LIKE pattern already escaped by [`like_pattern`].
pub async fn search(
    conn: &mut PgConnection,
    clinic: Uuid,
    pattern: &str,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Patient>, i64)> {
    let rows = sqlx::query_as!(
        PatientRow,
        // Materialised so the planner picks the best path for the match itself (the trigram index),
        // not the ordered index scan that the LIMIT alone would suggest.
        r#"with matches as materialized (
               select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at
               from patients
               where clinic_id = $1 and deleted_at is null and search_text ilike $2
           )
           select id as "id!", name as "name!", email, phone, date_of_birth, medical_notes, created_by,
                  created_at as "created_at!", updated_at as "updated_at!", count(*) over () as "total!"
           from matches
           order by created_at desc, id desc
           limit $3 offset $4"#,
        clinic,
        pattern,
        limit,
        offset
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None if offset > 0 => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from patients
                   where clinic_id = $1 and deleted_at is null and search_text ilike $2"#,
                clinic,
                pattern
            )
            .fetch_one(&mut *conn)
            .await?
        }
        None => 0,
    };
    Ok((rows.into_iter().map(Patient::from).collect(), total))
}

/// `%q%` with LIKE's metacharacters escaped, so `50%` or `a_b` match literally.
pub fn like_pattern(q: &str) -> String {
    let mut pattern = String::with_capacity(q.len() + 2);
    pattern.push('%');
    for c in q.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub async fn update(
    conn: &mut PgConnection,
    clinic: Uuid,
    id: Uuid,
    u: &PatientUpdate,
) -> sqlx::Result<Option<Patient>> {
    sqlx::query_as!(
        Patient,
        r#"update patients set
               name = coalesce($3, name),
               email = case when $4 then $5 else email end,
               phone = case when $6 then $7 else phone end,
               date_of_birth = case when $8 then $9 else date_of_birth end,
               medical_notes = case when $10 then $11 else medical_notes end
           where clinic_id = $2 and id = $1 and deleted_at is null
           returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at"#,
        id,
        clinic,
        u.name.as_ref().map(PatientName::as_str),
        u.email.is_present(),
        u.email.value().map(Email::as_str),
        u.phone.is_present(),
        u.phone.value().map(Phone::as_str),
        u.date_of_birth.is_present(),
        u.date_of_birth.value().map(|d| d.date()),
        u.medical_notes.is_present(),
        u.medical_notes.value().map(MedicalNotes::as_str),
    )
    .fetch_optional(conn)
    .await
}

/// Moves the patient (and so its messages, which are only reachable through it) to the trash.
pub async fn delete(conn: &mut PgConnection, clinic: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        "update patients set deleted_at = now() where clinic_id = $2 and id = $1 and deleted_at is null",
        id,
        clinic
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
