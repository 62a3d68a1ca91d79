//! The trash (owners only): `DELETE /patients/{id}` moves a patient there (see `routes::remove`); here it is listed
//! and restored. A patient stays restorable for `PATIENT_RETENTION_DAYS`, then the retention job purges it with its
//! messages (`crate::retention`).

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use shared::api::Patient;
use shared::records::TrashPage;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageQuery;
use crate::patients::queries;
use crate::patients::types::Visible;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patients/trash", get(list))
        .route("/patients/{id}/restore", post(restore))
}

fn retention_days(state: &AppState) -> i32 {
    i32::try_from(state.config.patient_retention_days).unwrap_or(i32::MAX)
}

/// The clinic's deleted patients, most recently deleted first, while they can still be restored (owners only).
#[utoipa::path(operation_id = "listTrash", get, path = "/patients/trash", tag = "patients", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of deleted patients, each with `deletedAt`", body = TrashPage),
        (status = 403, description = "Not an owner (`forbidden`), in no clinic (`no_clinic`), or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<Visible<TrashPage>>> {
    let (page, limit) = query.resolve()?;
    let offset = i64::from(page - 1) * i64::from(limit);
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::Trash, Action::TrashList, None).await?;
    let clinic = tx.clinic_id;
    let (items, total) = queries::trash(tx.conn(), clinic, retention_days(&state), i64::from(limit), offset).await?;
    let notes = tx.may(Permission::ReadNotes);
    tx.commit().await?;
    Ok(Json(Visible::new(
        TrashPage {
            items,
            page,
            limit,
            total,
            retention_days: state.config.patient_retention_days,
        },
        notes,
    )))
}

/// Take a patient (and so its messages) out of the trash (owners only). 404 if it is not in the trash or its
/// retention period is over.
#[utoipa::path(operation_id = "restorePatient", post, path = "/patients/{id}/restore", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id")),
    responses((status = 200, description = "The restored patient", body = Patient),
        (status = 403, description = "Not an owner (`forbidden`), in no clinic (`no_clinic`), or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 404, description = "Not in the trash (never deleted, purged, or another clinic's)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn restore(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Visible<Patient>>> {
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::Trash, Action::PatientRestore, Some(id)).await?;
    let clinic = tx.clinic_id;
    let Some(patient) = queries::restore(tx.conn(), clinic, id, retention_days(&state)).await? else {
        return Err(tx.not_found().await);
    };
    let notes = tx.may(Permission::ReadNotes);
    tx.commit().await?;
    // The restored patient is in the owner's next list even when that list is read on the replica.
    state.reads.wrote(user.id).await;
    Ok(Json(Visible::new(patient, notes)))
}
