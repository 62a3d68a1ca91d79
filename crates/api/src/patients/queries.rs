//! Patient SQL. Every function takes the clinic's id: a query that forgets it does not compile, and
//! row-level security would hide other clinics' rows even if the `where` clause were wrong. Rows in
//! the trash (`deleted_at` set) are invisible to every query here.

use chrono::{DateTime, NaiveDate, Utc};
use shared::api::Patient;
use shared::records::TrashedPatient;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::Gate;
use crate::domain::email::Email;
use crate::patients::types::{DateOfBirth, MedicalNotes, NewPatient, PatientName, PatientUpdate, Phone};

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
           returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, last_emergency_at"#,
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

/// A patient row of `patient_page` / `patient_read`: the caller's role with a patient, or with nulls (an empty
/// page's total, or a patient that is not there).
struct GatedRow {
    role: String,
    id: Option<Uuid>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    date_of_birth: Option<NaiveDate>,
    medical_notes: Option<String>,
    created_by: Option<Uuid>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    last_emergency_at: Option<DateTime<Utc>>,
    total: i64,
}

impl GatedRow {
    /// The patient, when the row has one (its id, name and times are then set: the table's columns are not null).
    fn patient(self) -> Option<Patient> {
        Some(Patient {
            id: self.id?,
            name: self.name?,
            email: self.email,
            phone: self.phone,
            date_of_birth: self.date_of_birth,
            medical_notes: self.medical_notes,
            created_by: self.created_by,
            created_at: self.created_at?,
            updated_at: self.updated_at?,
            last_emergency_at: self.last_emergency_at,
        })
    }
}

/// One patient through `patient_read` (migration 20261214000001), in one round trip: the gate, the row, and its
/// audit row (`patient.read`, or `access.denied` when the patient is not in this clinic or in the trash) when
/// `audit` is set. The caller's role, and the patient if there.
pub async fn read(pool: PgPool, gate: &Gate, audit: bool) -> sqlx::Result<(String, Option<Patient>)> {
    let allowed = gate.allowed();
    let row = sqlx::query_as!(
        GatedRow,
        r#"select role as "role!", id, name, email, phone, date_of_birth, medical_notes, created_by, created_at,
                  updated_at, last_emergency_at, 0::bigint as "total!"
           from patient_read($1, $2, $3, $4, $5, $6)"#,
        gate.user_id,
        gate.clinic_id,
        &allowed as &[&str],
        plumbing::request_id::current(),
        audit,
        gate.patient_id,
    )
    .fetch_one(&pool)
    .await?;
    Ok((row.role.clone(), row.patient()))
}

/// Whether the patient exists in this clinic, outside the trash (cheaper than [`get`] when only access matters).
///
/// By-id lookups here say `(deleted_at is null) is true`, not `deleted_at is null`: the same rows, but a condition
/// the planner cannot serve from the table's partial indexes, which without statistics it took for as cheap as the
/// primary key and scanned the clinic with (migration 20261216000001).
pub async fn exists(conn: &mut PgConnection, clinic: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from patients where clinic_id = $2 and id = $1 and (deleted_at is null) is true) as "exists!""#,
        id,
        clinic
    )
    .fetch_one(conn)
    .await
}

/// The orders `GET /patients?sort=` takes. Each has an index `(clinic_id, key, id)` (migration 20261209000001), so
/// a page of the whole list is an index scan whatever the clinic's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PatientSort {
    /// `-createdAt`: newest first (the default).
    #[default]
    NewestFirst,
    /// `name`: A to Z, ignoring case and accents.
    Name,
    /// `-name`: Z to A.
    NameDescending,
    /// `dateOfBirth`: oldest patient first; patients without a date last.
    DateOfBirth,
    /// `-updatedAt`: most recently edited first.
    RecentlyUpdated,
}

impl PatientSort {
    pub const ALL: [&'static str; 5] = ["-createdAt", "name", "-name", "dateOfBirth", "-updatedAt"];

    /// The `sort` value (as `patient_page` takes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NewestFirst => "-createdAt",
            Self::Name => "name",
            Self::NameDescending => "-name",
            Self::DateOfBirth => "dateOfBirth",
            Self::RecentlyUpdated => "-updatedAt",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "-createdAt" => Self::NewestFirst,
            "name" => Self::Name,
            "-name" => Self::NameDescending,
            "dateOfBirth" => Self::DateOfBirth,
            "-updatedAt" => Self::RecentlyUpdated,
            _ => return None,
        })
    }
}

/// What `q` searches for. A term that looks like part of a phone number (at least three digits, no letters and
/// no `@`) is searched by its digits alone (`612 345` -> `%612345%`): the searched column ends with the phone's
/// digits, and the spaced text would only cost a second index probe that matches nothing. Any other term is
/// matched as typed, folded by `patient_fold` in SQL like the column. A term with letters (`ana1980@`) is not read
/// as digits, or it would find every phone containing `1980`. A term shaped like part of an email (no whitespace,
/// exactly one `@`, something before it: `patient777@`, `ana.silva@gm`) is also passed as `email`, and
/// `patient_search` then finds it through the email key's b-tree instead of the trigram index (migration
/// 20261215000001), with the same results.
pub struct SearchTerm {
    text: Option<String>,
    digits: Option<String>,
    email: Option<String>,
}

impl SearchTerm {
    pub fn new(q: &str) -> Self {
        let digits: String = q.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 3 && !q.chars().any(|c| c.is_alphabetic() || c == '@') {
            Self {
                text: None,
                digits: Some(like_pattern(&digits)),
                email: None,
            }
        } else {
            let email_shaped = !q.chars().any(char::is_whitespace)
                && q.split_once('@')
                    .is_some_and(|(local, rest)| !local.is_empty() && !rest.contains('@'));
            Self {
                text: Some(like_pattern(q)),
                digits: None,
                email: email_shaped.then(|| q.to_owned()),
            }
        }
    }
}

/// One page through `patient_page`, or with a search `patient_search` (migration 20261214000001), in one round trip: the gate (`patient.list`, with
/// its audit row when `audit` is set), then the page in `sort` order, of the whole clinic or of the matches of
/// `term`, with the listing's total (the trigger-maintained counter for the whole clinic: a million rows are not
/// counted per request; the count of the matches for a search). The caller's role, the patients and the total.
pub async fn page(
    pool: PgPool,
    gate: &Gate,
    audit: bool,
    sort: PatientSort,
    term: Option<&SearchTerm>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(String, (Vec<Patient>, i64))> {
    let allowed = gate.allowed();
    let rows = match term {
        None => {
            sqlx::query_as!(
                GatedRow,
                r#"select role as "role!", id, name, email, phone, date_of_birth, medical_notes, created_by,
                          created_at, updated_at, last_emergency_at, total as "total!"
                   from patient_page($1, $2, $3, $4, $5, $6, $7, $8)"#,
                gate.user_id,
                gate.clinic_id,
                &allowed as &[&str],
                plumbing::request_id::current(),
                audit,
                sort.as_str(),
                limit,
                offset,
            )
            .fetch_all(&pool)
            .await?
        }
        Some(term) => {
            sqlx::query_as!(
                GatedRow,
                r#"select role as "role!", id, name, email, phone, date_of_birth, medical_notes, created_by,
                          created_at, updated_at, last_emergency_at, total as "total!"
                   from patient_search($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
                gate.user_id,
                gate.clinic_id,
                &allowed as &[&str],
                plumbing::request_id::current(),
                audit,
                sort.as_str(),
                term.text.as_deref(),
                term.digits.as_deref(),
                term.email.as_deref(),
                limit,
                offset,
            )
            .fetch_all(&pool)
            .await?
        }
    };
    // The function returns at least one row (a page with no patients is its total alone).
    let role = rows.first().map(|r| r.role.clone()).unwrap_or_default();
    let total = rows.first().map_or(0, |r| r.total);
    Ok((role, (rows.into_iter().filter_map(GatedRow::patient).collect(), total)))
}

/// The clinic's country (`clinics.country`), which national phone numbers are read in.
pub async fn clinic_country(conn: &mut PgConnection, clinic: Uuid) -> sqlx::Result<String> {
    sqlx::query_scalar!("select country from clinics where id = $1", clinic)
        .fetch_one(conn)
        .await
}

/// Patients a new one looks like: the same email, or the same name (ignoring case and accents) and date of birth.
/// Both conditions are leakproof equalities on stored columns, so they use their indexes under row-level security.
pub async fn possible_duplicates(conn: &mut PgConnection, clinic: Uuid, p: &NewPatient) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        r#"select id from patients
           where clinic_id = $1 and deleted_at is null
             and (email = $2 or (name_key = patient_fold($3) and date_of_birth = $4))
           order by created_at, id
           limit 10"#,
        clinic,
        p.email.as_ref().map(Email::as_str),
        p.name.as_str(),
        p.date_of_birth.map(DateOfBirth::date),
    )
    .fetch_all(conn)
    .await
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
           where clinic_id = $2 and id = $1 and (deleted_at is null) is true
           returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, last_emergency_at"#,
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
        "update patients set deleted_at = now() where clinic_id = $2 and id = $1 and (deleted_at is null) is true",
        id,
        clinic
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

// ---- The trash (owners only): patients with `deleted_at`, restorable within the retention period ----

/// One page of the clinic's trash, most recently deleted first, without those past `retention_days` (the retention
/// job is about to purge them). Through `patients_clinic_deleted_idx`; the trash is small, so counting it is cheap.
pub async fn trash(
    conn: &mut PgConnection,
    clinic: Uuid,
    retention_days: i32,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<TrashedPatient>, i64)> {
    let rows = sqlx::query!(
        r#"select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at,
                  last_emergency_at, deleted_at as "deleted_at!", count(*) over () as "total!"
           from patients
           where clinic_id = $1 and deleted_at is not null and deleted_at > now() - make_interval(days => $2)
           order by deleted_at desc, id desc
           limit $3 offset $4"#,
        clinic,
        retention_days,
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
                   where clinic_id = $1 and deleted_at is not null and deleted_at > now() - make_interval(days => $2)"#,
                clinic,
                retention_days
            )
            .fetch_one(&mut *conn)
            .await?
        }
        None => 0,
    };
    let items = rows
        .into_iter()
        .map(|r| TrashedPatient {
            patient: Patient {
                id: r.id,
                name: r.name,
                email: r.email,
                phone: r.phone,
                date_of_birth: r.date_of_birth,
                medical_notes: r.medical_notes,
                created_by: r.created_by,
                created_at: r.created_at,
                updated_at: r.updated_at,
                last_emergency_at: r.last_emergency_at,
            },
            deleted_at: r.deleted_at,
        })
        .collect();
    Ok((items, total))
}

/// Takes a patient out of the trash, if it is there and still within `retention_days`.
pub async fn restore(
    conn: &mut PgConnection,
    clinic: Uuid,
    id: Uuid,
    retention_days: i32,
) -> sqlx::Result<Option<Patient>> {
    sqlx::query_as!(
        Patient,
        r#"update patients set deleted_at = null
           where clinic_id = $2 and id = $1 and deleted_at is not null
             and deleted_at > now() - make_interval(days => $3)
           returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at,
                     last_emergency_at"#,
        id,
        clinic,
        retention_days
    )
    .fetch_optional(conn)
    .await
}

/// Whether the patient exists in this clinic, in the trash or not (its access log outlives a deletion).
pub async fn exists_or_trashed(conn: &mut PgConnection, clinic: Uuid, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from patients where clinic_id = $2 and id = $1) as "exists!""#,
        id,
        clinic
    )
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::{PatientSort, SearchTerm, like_pattern};

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn a_term_with_three_digits_also_searches_its_digits() {
        let term = SearchTerm::new("612 345");
        assert_eq!(term.text, None);
        assert_eq!(term.digits.as_deref(), Some("%612345%"));
        assert_eq!(SearchTerm::new("+34").text.as_deref(), Some("%+34%"));
        assert_eq!(SearchTerm::new("+34").digits, None);
        assert_eq!(SearchTerm::new("Fernández").digits, None);
        assert_eq!(SearchTerm::new("ana1980@mail").digits, None);
        assert_eq!(SearchTerm::new("ana1980@mail").text.as_deref(), Some("%ana1980@mail%"));
        assert_eq!(SearchTerm::new("(555) 010").digits.as_deref(), Some("%555010%"));
    }

    #[test]
    fn email_shaped_terms_take_the_email_key_path() {
        assert_eq!(SearchTerm::new("ana1980@mail").email.as_deref(), Some("ana1980@mail"));
        assert_eq!(SearchTerm::new("patient777@").email.as_deref(), Some("patient777@"));
        // Nothing before the `@`: every email would be a candidate, so the trigram index serves it.
        assert_eq!(SearchTerm::new("@example.com").email, None);
        // Whitespace or a second `@`: not inside one email.
        assert_eq!(SearchTerm::new("ana @mail").email, None);
        assert_eq!(SearchTerm::new("a@b@c").email, None);
        assert_eq!(SearchTerm::new("ana").email, None);
        assert_eq!(SearchTerm::new("612 345").email, None);
    }

    #[test]
    fn every_contract_sort_key_parses_and_nothing_else() {
        for key in PatientSort::ALL {
            let sort = PatientSort::parse(key);
            assert!(sort.is_some(), "{key}");
            // What `patient_page` receives is the key itself (its branches test these strings).
            assert_eq!(sort.map(PatientSort::as_str), Some(key));
        }
        for bad in ["createdAt", "-dateOfBirth", "name ", "", "updatedAt", "random()"] {
            assert_eq!(PatientSort::parse(bad), None, "{bad}");
        }
    }
}
