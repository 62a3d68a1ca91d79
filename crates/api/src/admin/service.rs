//! The admin flows, independent of HTTP: the admin check, an account change with its session
//! revocation and audit records in one transaction, and `api create-admin`.

use shared::api::{Role, UpdateUserRequest, User};
use sqlx::PgPool;
use uuid::Uuid;

use crate::admin::queries;
use crate::audit::{self, AuthAction};
use crate::auth::AuthUser;
use crate::auth::extractor::UNAUTHORIZED;
use crate::auth::password::{self, Password};
use crate::auth::tokens;
use crate::auth::types::FullName;
use crate::domain::email::Email;
use crate::http::error::{ApiError, ApiResult};

/// Fails unless the caller is an active admin right now.
pub async fn require_admin(db: &PgPool, user: AuthUser) -> ApiResult<()> {
    let row = queries::status(db, user.id).await?.ok_or(UNAUTHORIZED)?;
    if !row.is_active {
        return Err(UNAUTHORIZED);
    }
    if row.role != "admin" {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// Changes an account's role or active flag on behalf of `admin` (already checked).
pub async fn update_user(db: &PgPool, admin: AuthUser, id: Uuid, body: &UpdateUserRequest) -> ApiResult<User> {
    if id == admin.id && (body.is_active == Some(false) || body.role == Some(Role::User)) {
        // An admin locking themselves out (possibly the last admin) is refused.
        return Err(ApiError::conflict(
            "cannot_demote_self",
            "You cannot deactivate or demote your own account.",
        ));
    }
    let mut tx = crate::db::begin(db).await?;
    let updated = queries::update(&mut tx, id, body.role, body.is_active)
        .await?
        .ok_or(ApiError::NotFound)?;
    if body.is_active == Some(false) {
        // Deactivation ends every session: refresh fails at once, access tokens on their next use.
        tokens::revoke_all_for_user(&mut tx, id, "deactivated").await?;
    }
    // The trail: the admin who acted, and each change on the account concerned (same request id).
    audit::record(&mut *tx, Some(admin.id), AuthAction::AdminUserUpdate, None).await?;
    if updated.old_role != updated.user.role {
        audit::record(&mut *tx, Some(id), AuthAction::RoleChanged, None).await?;
    }
    if updated.old_is_active != updated.user.is_active {
        let action = if updated.user.is_active {
            AuthAction::Reactivated
        } else {
            AuthAction::Deactivated
        };
        audit::record(&mut *tx, Some(id), action, None).await?;
    }
    tx.commit().await?;
    tracing::info!(admin = %admin.id, target = %id, role = ?body.role, is_active = ?body.is_active, "account updated by admin");
    Ok(updated.user.into())
}

/// Creates an admin account, or promotes (and reactivates) an existing one, setting its password and
/// revoking its sessions. Used by `api create-admin`.
pub async fn create_admin(db: &PgPool, email: &str, full_name: &str, password: String) -> anyhow::Result<Uuid> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!("email: {}", e.message()))?;
    let full_name = FullName::parse(full_name).map_err(|e| anyhow::anyhow!("full name: {}", e.message))?;
    let password = Password::parse(password, &[email.as_str(), full_name.as_str()])
        .map_err(|e| anyhow::anyhow!("password: {}", e.message()))?;
    let hash = password::hash_blocking(password.expose())?;
    let mut tx = crate::db::begin(db).await.map_err(ApiError::from)?;
    let id = queries::upsert_admin(&mut *tx, &email, &hash, full_name.as_str())
        .await
        .map_err(ApiError::from)?;
    // The password was just reset from the command line: every session of the account ends (a new
    // account has none), so whoever held one must sign in with the new password.
    tokens::revoke_all_for_user(&mut tx, id, "create_admin")
        .await
        .map_err(ApiError::from)?;
    tx.commit().await.map_err(ApiError::from)?;
    Ok(id)
}
