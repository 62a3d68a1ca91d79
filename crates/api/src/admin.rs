//! Administration: list accounts, change a role, deactivate or reactivate. Admins only; the admin
//! check reads the current role from the database, so a demotion takes effect at once.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, patch};
use serde::Deserialize;
use shared::api::{AuditEventPage, Role, UpdateUserRequest, User, UserPage};
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{self, AuthAction};
use crate::auth::AuthUser;
use crate::auth::extractor::UNAUTHORIZED;
use crate::auth::password::{self, Password};
use crate::auth::tokens;
use crate::auth::types::{FullName, UserRow};
use crate::email::Email;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users))
        .route("/admin/users/{id}", patch(update_user))
        .route("/admin/audit-events", get(list_audit_events))
}

/// `page` (from 1) and `limit` (1-100) of a listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl PageQuery {
    pub fn resolve(&self) -> ApiResult<(u32, u32)> {
        let page = self.page.unwrap_or(1);
        let limit = self.limit.unwrap_or(20);
        let mut errors = Vec::new();
        if page == 0 || page > 1_000_000 {
            errors.push(shared::FieldError::new(
                "page",
                "out_of_range",
                "page must be between 1 and 1000000.",
            ));
        }
        if !(1..=100).contains(&limit) {
            errors.push(shared::FieldError::new(
                "limit",
                "out_of_range",
                "limit must be between 1 and 100.",
            ));
        }
        if errors.is_empty() {
            Ok((page, limit))
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// Fails unless the caller is an active admin right now.
async fn require_admin(db: &PgPool, user: AuthUser) -> ApiResult<()> {
    let row = sqlx::query!("select role, is_active from users where id = $1", user.id)
        .fetch_optional(db)
        .await?
        .ok_or(UNAUTHORIZED)?;
    if !row.is_active {
        return Err(UNAUTHORIZED);
    }
    if row.role != "admin" {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// All accounts, newest first (admins only).
#[utoipa::path(operation_id = "listUsers", get, path = "/admin/users", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of accounts", body = UserPage),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::ParamErrors, crate::openapi::AuthErrors, crate::openapi::CommonErrors))]
pub async fn list_users(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<UserPage>> {
    require_admin(&state.db, user).await?;
    let (page, limit) = query.resolve()?;
    let offset = i64::from(page - 1) * i64::from(limit);
    let rows = sqlx::query!(
        r#"select id, email::text as "email!", full_name, role, is_active, created_at,
                  count(*) over () as "total!"
           from users order by created_at desc, id desc limit $1 offset $2"#,
        i64::from(limit),
        offset
    )
    .fetch_all(&state.db)
    .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None => {
            sqlx::query_scalar!(r#"select count(*) as "n!" from users"#)
                .fetch_one(&state.db)
                .await?
        }
    };
    let items = rows
        .into_iter()
        .map(|r| {
            User::from(UserRow {
                id: r.id,
                email: r.email,
                full_name: r.full_name,
                role: r.role,
                is_active: r.is_active,
                created_at: r.created_at,
            })
        })
        .collect();
    Ok(Json(UserPage {
        items,
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
        crate::openapi::BodyErrors, crate::openapi::AuthErrors, crate::openapi::CommonErrors))]
pub async fn update_user(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateUserRequest>,
) -> ApiResult<Json<User>> {
    require_admin(&state.db, user).await?;
    if id == user.id && (body.is_active == Some(false) || body.role == Some(Role::User)) {
        // An admin locking themselves out (possibly the last admin) is refused.
        return Err(ApiError::conflict(
            "cannot_demote_self",
            "You cannot deactivate or demote your own account.",
        ));
    }
    let mut tx = state.db.begin().await?;
    let updated = sqlx::query!(
        r#"with old as (select role, is_active from users where id = $1 for update)
           update users u set role = coalesce($2, u.role), is_active = coalesce($3, u.is_active)
           from old
           where u.id = $1
           returning u.id, u.email::text as "email!", u.full_name, u.role, u.is_active, u.created_at,
                     old.role as old_role, old.is_active as old_is_active"#,
        id,
        body.role.map(Role::as_str),
        body.is_active
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound)?;
    if body.is_active == Some(false) {
        // Deactivation ends every session: refresh fails at once, access tokens on their next use.
        tokens::revoke_all_for_user(&mut tx, id, "deactivated").await?;
    }
    // The trail: the admin who acted, and each change on the account concerned (same request id).
    audit::record(&mut *tx, Some(user.id), AuthAction::AdminUserUpdate, None).await?;
    if updated.old_role != updated.role {
        audit::record(&mut *tx, Some(id), AuthAction::RoleChanged, None).await?;
    }
    if updated.old_is_active != updated.is_active {
        let action = if updated.is_active {
            AuthAction::Reactivated
        } else {
            AuthAction::Deactivated
        };
        audit::record(&mut *tx, Some(id), action, None).await?;
    }
    tx.commit().await?;
    let row = UserRow {
        id: updated.id,
        email: updated.email,
        full_name: updated.full_name,
        role: updated.role,
        is_active: updated.is_active,
        created_at: updated.created_at,
    };
    tracing::info!(admin = %user.id, target = %id, role = ?body.role, is_active = ?body.is_active, "account updated by admin");
    Ok(Json(row.into()))
}

/// Filters and page of the audit listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct AuditQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Only events of this account.
    pub user_id: Option<Uuid>,
    /// Only events about this patient.
    pub patient_id: Option<Uuid>,
    /// Only this action (e.g. `patient.read`, `auth.login_failed`).
    #[param(pattern = "^[a-z_.]{1,64}$")]
    pub action: Option<String>,
}

/// The audit trail, newest first (admins only): every access to patient data, sign-ins, failed sign-ins, refresh
/// token reuse and account changes. Ids and actions only; never names, notes or message text.
#[utoipa::path(operation_id = "listAuditEvents", get, path = "/admin/audit-events", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "A page of audit events", body = AuditEventPage),
        (status = 403, description = "Not an admin", content_type = "application/problem+json", body = shared::Problem),
        crate::openapi::ParamErrors, crate::openapi::AuthErrors, crate::openapi::CommonErrors))]
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
    let valid_action =
        |a: &str| (1..=64).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.');
    if query.action.as_deref().is_some_and(|a| !valid_action(a)) {
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
    let offset = i64::from(page - 1) * i64::from(limit);
    let (items, total) = audit::page(&state.db, &filter, i64::from(limit), offset).await?;
    Ok(Json(AuditEventPage {
        items,
        page,
        limit,
        total,
    }))
}

/// Creates an admin account, or promotes (and reactivates) an existing one. Used by `api create-admin`.
pub async fn create_admin(db: &PgPool, email: &str, full_name: &str, password: String) -> anyhow::Result<Uuid> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("email: {}", e.message()))?;
    let full_name = FullName::parse(full_name).map_err(|e| anyhow::anyhow!("full name: {}", e.message))?;
    let password = Password::parse(password, &[email.as_str(), full_name.as_str()])
        .map_err(|e| anyhow::anyhow!("password: {}", e.message()))?;
    let hash = password::hash_blocking(password.expose())?;
    let id = sqlx::query_scalar!(
        r#"insert into users (email, password_hash, full_name, role) values ($1, $2, $3, 'admin')
           on conflict (email) do update set role = 'admin', is_active = true,
               password_hash = excluded.password_hash
           returning id"#,
        email.as_str() as _,
        hash,
        full_name.as_str()
    )
    .fetch_one(db)
    .await?;
    Ok(id)
}
