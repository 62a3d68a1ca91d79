//! Account SQL for the admin routes and `api create-admin`. Accounts are not owner-scoped (no RLS):
//! only an admin, checked by `service::require_admin`, reaches these.

use shared::api::Role;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::auth::types::UserRow;
use crate::domain::email::Email;

/// The account's current role and active flag, if it exists.
pub struct AccountStatus {
    pub role: String,
    pub is_active: bool,
}

pub async fn status(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<AccountStatus>> {
    sqlx::query_as!(AccountStatus, "select role, is_active from users where id = $1", id)
        .fetch_optional(db)
        .await
}

/// One page of accounts, newest first, and the total.
pub async fn page(db: &PgPool, limit: i64, offset: i64) -> sqlx::Result<(Vec<UserRow>, i64)> {
    let rows = sqlx::query!(
        r#"select id, email::text as "email!", full_name, role, is_active, created_at,
                  count(*) over () as "total!"
           from users order by created_at desc, id desc limit $1 offset $2"#,
        limit,
        offset
    )
    .fetch_all(db)
    .await?;
    let total = match rows.first() {
        Some(r) => r.total,
        None => {
            sqlx::query_scalar!(r#"select count(*) as "n!" from users"#)
                .fetch_one(db)
                .await?
        }
    };
    let items = rows
        .into_iter()
        .map(|r| UserRow {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            role: r.role,
            is_active: r.is_active,
            created_at: r.created_at,
        })
        .collect();
    Ok((items, total))
}

/// An account after an update, with what its role and active flag were before.
pub struct Updated {
    pub user: UserRow,
    pub old_role: String,
    pub old_is_active: bool,
}

/// Sets the given fields (a `None` leaves one as it is), locking the row to read its old values.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    role: Option<Role>,
    is_active: Option<bool>,
) -> sqlx::Result<Option<Updated>> {
    let row = sqlx::query!(
        r#"with old as (select role, is_active from users where id = $1 for update)
           update users u set role = coalesce($2, u.role), is_active = coalesce($3, u.is_active)
           from old
           where u.id = $1
           returning u.id, u.email::text as "email!", u.full_name, u.role, u.is_active, u.created_at,
                     old.role as old_role, old.is_active as old_is_active"#,
        id,
        role.map(Role::as_str),
        is_active
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Updated {
        user: UserRow {
            id: r.id,
            email: r.email,
            full_name: r.full_name,
            role: r.role,
            is_active: r.is_active,
            created_at: r.created_at,
        },
        old_role: r.old_role,
        old_is_active: r.old_is_active,
    }))
}

/// Creates an admin account, or promotes (and reactivates) an existing one with a new password.
pub async fn upsert_admin(
    db: impl PgExecutor<'_>,
    email: &Email,
    password_hash: &str,
    full_name: &str,
) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        r#"insert into users (email, password_hash, full_name, role) values ($1, $2, $3, 'admin')
           on conflict (email) do update set role = 'admin', is_active = true,
               password_hash = excluded.password_hash
           returning id"#,
        email.as_str() as _,
        password_hash,
        full_name
    )
    .fetch_one(db)
    .await
}
