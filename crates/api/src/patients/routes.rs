//! `/patients` handlers: parse, open the user's transaction, query, shape.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use shared::api::{Patient, PatientPage};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{self, Action, ClinicTx, Gate, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::patients::queries;
use crate::patients::queries::{PatientSort, SearchTerm};
use crate::patients::types::{
    NOTES_FORBIDDEN, NewPatient, Patch, PatientInput, PatientPatchInput, PatientUpdate, PhoneRegion, Visible,
};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patients", get(list).post(create))
        .route("/patients/{id}", get(read).patch(update).delete(remove))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Substring of name or email, ignoring case and accents (`fernandez` finds `Fernández`), or of the phone's
    /// digits when the term has 3 or more digits and no letters (`612 345` finds `+34612345678`). A term shaped like
    /// part of an email (no whitespace, one `@` with something before it: `ana.silva@`) finds the same patients
    /// through an index on the emails. At most 200 characters.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Order: `-createdAt` (newest first, the default), `name`, `-name` (ignoring case and accents), `dateOfBirth`
    /// (oldest first, patients without one last), `-updatedAt`. Anything else is 422.
    #[param(value_type = Option<String>, example = "name")]
    pub sort: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct CreateQuery {
    /// Save even though the patient looks like one already in the clinic (after a 409 `possible_duplicate`).
    pub confirm_duplicate: Option<bool>,
}

/// The clinic's country, which national phone numbers are read in (looked up only when a phone was sent).
async fn phone_region(tx: &mut ClinicTx, phone_sent: bool) -> ApiResult<PhoneRegion> {
    if !phone_sent {
        return Ok(PhoneRegion::INTERNATIONAL_ONLY);
    }
    let clinic = tx.clinic_id;
    Ok(PhoneRegion::from_code(
        &queries::clinic_country(tx.conn(), clinic).await?,
    ))
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Create a patient. A national phone number is read in the clinic's country. A likely duplicate (same email, or
/// same name and date of birth, in the clinic) is 409 `possible_duplicate` with `duplicates`, unless
/// `?confirmDuplicate=true`.
#[utoipa::path(operation_id = "createPatient", post, path = "/patients", tag = "patients", security(("bearer" = [])), request_body = PatientInput,
    params(CreateQuery),
    responses((status = 201, description = "The new patient", body = Patient),
        (status = 409, description = "`possible_duplicate`: the clinic has a patient with the same email, or the same name and date of birth; `duplicates` lists their ids", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<CreateQuery>,
    Json(input): Json<PatientInput>,
) -> ApiResult<(StatusCode, Json<Visible<Patient>>)> {
    let id = Uuid::now_v7();
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::WritePatients,
        Action::PatientCreate,
        Some(id),
    )
    .await?;
    let phone_sent = input.phone.as_deref().is_some_and(|p| !p.trim().is_empty());
    let patient = NewPatient::parse(&input, today(), phone_region(&mut tx, phone_sent).await?)?;
    let notes = tx.may(Permission::ReadNotes);
    if !notes && patient.medical_notes.is_some() {
        return Err(NOTES_FORBIDDEN);
    }
    let (clinic, author) = (tx.clinic_id, tx.user_id);
    if query.confirm_duplicate != Some(true) {
        let duplicates = queries::possible_duplicates(tx.conn(), clinic, &patient).await?;
        if !duplicates.is_empty() {
            return Err(ApiError::PossibleDuplicate(duplicates));
        }
    }
    let created = queries::insert(tx.conn(), clinic, author, id, &patient).await?;
    tx.commit().await?;
    state.reads.wrote(user.id).await;
    Ok((StatusCode::CREATED, Json(Visible::new(created, notes))))
}

/// The clinic's patients in `sort` order (newest first by default), with an optional search.
#[utoipa::path(operation_id = "listPatients", get, path = "/patients", tag = "patients", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of patients", body = PatientPage), crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Visible<PatientPage>>> {
    let (page, limit) = crate::http::pagination::PageQuery {
        page: query.page,
        limit: query.limit,
    }
    .resolve()?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.contains('\0')) {
        return Err(ApiError::validation(
            "q",
            "invalid",
            "The search text must not contain NUL characters.",
        ));
    }
    if q.is_some_and(|q| q.chars().count() > 200) {
        return Err(ApiError::validation(
            "q",
            "too_long",
            "The search text must be at most 200 characters.",
        ));
    }
    let sort = match query.sort.as_deref() {
        None => PatientSort::default(),
        Some(raw) => PatientSort::parse(raw).ok_or_else(|| {
            ApiError::validation(
                "sort",
                "invalid_sort",
                format!("sort must be one of {}.", PatientSort::ALL.join(", ")),
            )
        })?,
    };
    let offset = i64::from(page - 1) * i64::from(limit);
    let gate = Gate::new(&user, Permission::ReadPatients, Action::PatientList, None)?;
    let term = q.map(SearchTerm::new);
    let (role, (items, total)) = db::read_once(
        &state.reads,
        &gate,
        |_| Action::PatientList,
        |pool, audit| queries::page(pool, &gate, audit, sort, term.as_ref(), i64::from(limit), offset),
    )
    .await?;
    let notes = db::allows(role, Permission::ReadNotes);
    Ok(Json(Visible::new(
        PatientPage {
            items,
            page,
            limit,
            total,
        },
        notes,
    )))
}

/// One patient.
#[utoipa::path(operation_id = "getPatient", get, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    responses((status = 200, description = "The patient", body = Patient), crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Visible<Patient>>> {
    let gate = Gate::new(&user, Permission::ReadPatients, Action::PatientRead, Some(id))?;
    let (role, patient) = db::read_once(
        &state.reads,
        &gate,
        |found: &Option<shared::api::Patient>| {
            if found.is_some() {
                Action::PatientRead
            } else {
                Action::AccessDenied
            }
        },
        |pool, audit| queries::read(pool, &gate, audit),
    )
    .await?;
    // Not in this clinic (or in the trash): the attempt is already recorded as `access.denied`.
    let Some(patient) = patient else {
        return Err(ApiError::NotFound);
    };
    Ok(Json(Visible::new(patient, db::allows(role, Permission::ReadNotes))))
}

/// Change some fields of a patient: an absent field is untouched, `null` clears an optional one.
#[utoipa::path(operation_id = "updatePatient", patch, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")), request_body = PatientPatchInput,
    responses((status = 200, description = "The updated patient", body = Patient),
        (status = 404, description = "Unknown, or another user's", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<PatientPatchInput>,
) -> ApiResult<Json<Visible<Patient>>> {
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::WritePatients,
        Action::PatientUpdate,
        Some(id),
    )
    .await?;
    let phone_sent = matches!(&input.phone, Patch::Set(p) if !p.trim().is_empty());
    let changes = PatientUpdate::parse(input, today(), phone_region(&mut tx, phone_sent).await?)?;
    let notes = tx.may(Permission::ReadNotes);
    if !notes && changes.medical_notes.is_present() {
        return Err(NOTES_FORBIDDEN);
    }
    let clinic = tx.clinic_id;
    let Some(patient) = queries::update(tx.conn(), clinic, id, &changes).await? else {
        return Err(tx.not_found().await);
    };
    tx.commit().await?;
    state.reads.wrote(user.id).await;
    Ok(Json(Visible::new(patient, notes)))
}

/// Move a patient (and so its messages) to the trash; it is then 404 everywhere.
#[utoipa::path(operation_id = "deletePatient", delete, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    responses((status = 204, description = "Deleted"), crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::WritePatients,
        Action::PatientDelete,
        Some(id),
    )
    .await?;
    let clinic = tx.clinic_id;
    if !queries::delete(tx.conn(), clinic, id).await? {
        return Err(tx.not_found().await);
    }
    tx.commit().await?;
    state.reads.wrote(user.id).await;
    Ok(StatusCode::NO_CONTENT)
}
