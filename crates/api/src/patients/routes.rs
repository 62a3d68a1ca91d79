//! `/patients` handlers: parse, open the user's transaction, query, shape.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use shared::api::{Patient, PatientPage};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{Action, UserTx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::patients::queries;
use crate::patients::types::{NewPatient, PatientInput, PatientPatchInput, PatientUpdate};
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
) -> ApiResult<(StatusCode, Json<Patient>)> {
    let patient = NewPatient::parse(&input, today())?;
    let id = Uuid::now_v7();
    let mut tx = UserTx::begin(&state.db, user.id, Action::PatientCreate, Some(id)).await?;
    let created = queries::insert(tx.conn(), user.id, id, &patient).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// The caller's patients, newest first, with an optional search.
#[utoipa::path(operation_id = "listPatients", get, path = "/patients", tag = "patients", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of patients", body = PatientPage), crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<PatientPage>> {
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
    let mut tx = UserTx::begin(&state.db, user.id, Action::PatientList, None).await?;
    let (items, total) = match q {
        Some(q) => queries::search(tx.conn(), user.id, &queries::like_pattern(q), i64::from(limit), offset).await?,
        None => queries::list(tx.conn(), user.id, i64::from(limit), offset).await?,
    };
    tx.commit().await?;
    Ok(Json(PatientPage {
        items,
        page,
        limit,
        total,
    }))
}

/// One patient.
#[utoipa::path(operation_id = "getPatient", get, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    responses((status = 200, description = "The patient", body = Patient), crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn read(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<Json<Patient>> {
    let mut tx = UserTx::begin(&state.db, user.id, Action::PatientRead, Some(id)).await?;
    let patient = queries::get(tx.conn(), user.id, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(patient))
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
) -> ApiResult<Json<Patient>> {
    let changes = PatientUpdate::parse(input, today())?;
    let mut tx = UserTx::begin(&state.db, user.id, Action::PatientUpdate, Some(id)).await?;
    let patient = queries::update(tx.conn(), user.id, id, &changes)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(patient))
}

/// Delete a patient and its messages.
#[utoipa::path(operation_id = "deletePatient", delete, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    responses((status = 204, description = "Deleted"), crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let mut tx = UserTx::begin(&state.db, user.id, Action::PatientDelete, Some(id)).await?;
    if !queries::delete(tx.conn(), user.id, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
