//! `/patients` handlers: parse, open the user's transaction, query, shape.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use shared::api::{Patient, PatientPage};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::patients::queries;
use crate::patients::types::{NOTES_FORBIDDEN, NewPatient, PatientInput, PatientPatchInput, PatientUpdate, Visible};
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
    /// Case-insensitive substring of name, email or phone (at most 200 characters).
    #[param(max_length = 200)]
    pub q: Option<String>,
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// Create a patient.
#[utoipa::path(operation_id = "createPatient", post, path = "/patients", tag = "patients", security(("bearer" = [])), request_body = PatientInput,
    responses((status = 201, description = "The new patient", body = Patient), crate::http::openapi::BodyErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(input): Json<PatientInput>,
) -> ApiResult<(StatusCode, Json<Visible<Patient>>)> {
    let patient = NewPatient::parse(&input, today())?;
    let id = Uuid::now_v7();
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::WritePatients,
        Action::PatientCreate,
        Some(id),
    )
    .await?;
    let notes = tx.may(Permission::ReadNotes);
    if !notes && patient.medical_notes.is_some() {
        return Err(NOTES_FORBIDDEN);
    }
    let (clinic, author) = (tx.clinic_id, tx.user_id);
    let created = queries::insert(tx.conn(), clinic, author, id, &patient).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Visible::new(created, notes))))
}

/// The caller's patients, newest first, with an optional search.
#[utoipa::path(operation_id = "listPatients", get, path = "/patients", tag = "patients", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of patients", body = PatientPage), crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
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
    let offset = i64::from(page - 1) * i64::from(limit);
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ReadPatients, Action::PatientList, None).await?;
    let clinic = tx.clinic_id;
    let (items, total) = match q {
        Some(q) => queries::search(tx.conn(), clinic, &queries::like_pattern(q), i64::from(limit), offset).await?,
        None => queries::list(tx.conn(), clinic, i64::from(limit), offset).await?,
    };
    let notes = tx.may(Permission::ReadNotes);
    tx.commit().await?;
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
    responses((status = 200, description = "The patient", body = Patient), crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Visible<Patient>>> {
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::ReadPatients,
        Action::PatientRead,
        Some(id),
    )
    .await?;
    let clinic = tx.clinic_id;
    let Some(patient) = queries::get(tx.conn(), clinic, id).await? else {
        return Err(tx.not_found().await);
    };
    let notes = tx.may(Permission::ReadNotes);
    tx.commit().await?;
    Ok(Json(Visible::new(patient, notes)))
}

/// Change some fields of a patient: an absent field is untouched, `null` clears an optional one.
#[utoipa::path(operation_id = "updatePatient", patch, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")), request_body = PatientPatchInput,
    responses((status = 200, description = "The updated patient", body = Patient),
        (status = 404, description = "Unknown, or another user's", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(input): Json<PatientPatchInput>,
) -> ApiResult<Json<Visible<Patient>>> {
    let changes = PatientUpdate::parse(input, today())?;
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::WritePatients,
        Action::PatientUpdate,
        Some(id),
    )
    .await?;
    let notes = tx.may(Permission::ReadNotes);
    if !notes && changes.medical_notes.is_present() {
        return Err(NOTES_FORBIDDEN);
    }
    let clinic = tx.clinic_id;
    let Some(patient) = queries::update(tx.conn(), clinic, id, &changes).await? else {
        return Err(tx.not_found().await);
    };
    tx.commit().await?;
    Ok(Json(Visible::new(patient, notes)))
}

/// Move a patient (and so its messages) to the trash; it is then 404 everywhere.
#[utoipa::path(operation_id = "deletePatient", delete, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    responses((status = 204, description = "Deleted"), crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
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
    Ok(StatusCode::NO_CONTENT)
}
