//! `/admin/*` handlers: check the caller is an admin, parse, call `admin::service` or the queries.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch};
use shared::api::{AuditEventPage, UpdateUserRequest, User, UserPage};
use uuid::Uuid;

use crate::admin::queries;
use crate::admin::service::{self, require_admin};
use crate::admin::types::AuditQuery;
use crate::audit::{self, AuthAction};
use crate::auth::AuthUser;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageQuery;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", patch(update_user))
        .route("/admin/audit-events", get(list_audit_events))
}

/// All accounts, newest first (admins only).
#[utoipa::path(operation_id = "listUsers", get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of accounts", body = UserPage),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list_users(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<UserPage>> {
    require_admin(&state.db, user).await?;
    let (page, limit) = query.resolve()?;
    let offset = i64::from(page - 1) * i64::from(limit);
    let (rows, total) = queries::page(&state.db, i64::from(limit), offset).await?;
    Ok(Json(UserPage {
        items: rows.into_iter().map(User::from).collect(),
        page,
        limit,
        total,
    }))
}

/// Change an account's role or deactivate / reactivate it (admins only). Deactivation ends its sessions at once.
#[utoipa::path(operation_id = "updateUser", patch, path = "/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The account's id")), request_body = UpdateUserRequest,
    responses((status = 200, description = "The updated account", body = User),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = shared::Problem),
        (status = 404, description = "No such account", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`cannot_demote_self`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn update_user(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateUserRequest>,
) -> ApiResult<Json<User>> {
    require_admin(&state.db, user).await?;
    Ok(Json(service::update_user(&state.db, user, id, &body).await?))
}

/// The audit trail, newest first (admins only): every access to patient data, sign-ins, failed sign-ins, refresh
/// token reuse and account changes. Ids and actions only; never names, notes or message text.
#[utoipa::path(operation_id = "listAuditEvents", get, path = "/admin/audit-events", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "A page of audit events", body = AuditEventPage),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list_audit_events(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditEventPage>> {
    require_admin(&state.db, user).await?;
    let (page, limit) = PageQuery {
        page: query.page,
        limit: query.limit,
    }
    .resolve()?;
    if !query.action_is_valid() {
        return Err(ApiError::validation(
            "action",
            "invalid",
            "action is 1-64 characters of a-z, '_' and '.'.",
        ));
    }
    let filter = audit::Filter {
        user_id: query.user_id,
        patient_id: query.patient_id,
        action: query.action,
    };
    // Reading the trail is itself recorded.
    audit::record(&state.db, Some(user.id), AuthAction::AuditList, None).await?;
    let cursor = audit::types::Cursor::from_query(query.cursor.as_deref())?;
    let offset = if cursor.is_some() {
        0
    } else {
        i64::from(page - 1) * i64::from(limit)
    };
    let db = state.reads.for_user(user.id).await;
    let (items, next) = audit::page(db, &filter, cursor, i64::from(limit), offset).await?;
    Ok(Json(AuditEventPage {
        has_more: next.is_some(),
        next_cursor: next.map(audit::types::Cursor::encode),
        items,
        page,
        limit,
    }))
}
