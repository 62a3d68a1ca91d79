//! Clinic and membership SQL; every function takes the clinic id (the caller's active clinic).

use shared::api::{Clinic, ClinicRole, Invitation, Member};
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn clinic(conn: &mut PgConnection, clinic_id: Uuid, my_role: ClinicRole) -> sqlx::Result<Option<Clinic>> {
    let row = sqlx::query!(
        "select id, name, require_mfa, country, created_at from clinics where id = $1",
        clinic_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Clinic {
        id: r.id,
        name: r.name,
        require_mfa: r.require_mfa,
        country: r.country,
        created_at: r.created_at,
        my_role,
    }))
}

pub async fn update_clinic(
    conn: &mut PgConnection,
    clinic_id: Uuid,
    name: Option<&str>,
    require_mfa: Option<bool>,
    country: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update clinics set name = coalesce($2, name), require_mfa = coalesce($3, require_mfa),
                  country = coalesce($4, country)
           where id = $1"#,
        clinic_id,
        name,
        require_mfa,
        country
    )
    .execute(conn)
    .await?;
    Ok(())
}

struct MemberRow {
    user_id: Uuid,
    email: String,
    full_name: String,
    role: String,
    joined_at: chrono::DateTime<chrono::Utc>,
    mfa_enabled: bool,
}

impl MemberRow {
    fn into_member(self) -> Option<Member> {
        Some(Member {
            user_id: self.user_id,
            email: self.email,
            full_name: self.full_name,
            role: ClinicRole::parse(&self.role)?,
            joined_at: self.joined_at,
            mfa_enabled: self.mfa_enabled,
        })
    }
}

/// The clinic's members, owners first, then by name.
pub async fn members(conn: &mut PgConnection, clinic_id: Uuid) -> sqlx::Result<Vec<Member>> {
    let rows = sqlx::query_as!(
        MemberRow,
        r#"select m.user_id, u.email::text as "email!", u.full_name, m.role, m.joined_at,
                  exists (select 1 from user_mfa f where f.user_id = m.user_id and f.enabled_at is not null)
                    as "mfa_enabled!"
           from clinic_members m join users u on u.id = m.user_id
           where m.clinic_id = $1
           order by m.role = 'owner' desc, u.full_name, m.user_id"#,
        clinic_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(MemberRow::into_member).collect())
}

pub async fn member(conn: &mut PgConnection, clinic_id: Uuid, user_id: Uuid) -> sqlx::Result<Option<Member>> {
    let row = sqlx::query_as!(
        MemberRow,
        r#"select m.user_id, u.email::text as "email!", u.full_name, m.role, m.joined_at,
                  exists (select 1 from user_mfa f where f.user_id = m.user_id and f.enabled_at is not null)
                    as "mfa_enabled!"
           from clinic_members m join users u on u.id = m.user_id
           where m.clinic_id = $1 and m.user_id = $2"#,
        clinic_id,
        user_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(MemberRow::into_member))
}

/// Serialises membership changes of one clinic (the last-owner rule is checked under this lock), and counts
/// its owners.
pub async fn lock_owners(conn: &mut PgConnection, clinic_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"with locked as (select id from clinics where id = $1 for update)
           select count(*) as "n!" from clinic_members
           where clinic_id = (select id from locked) and role = 'owner'"#,
        clinic_id
    )
    .fetch_one(conn)
    .await
}

pub async fn set_role(conn: &mut PgConnection, clinic_id: Uuid, user_id: Uuid, role: ClinicRole) -> sqlx::Result<()> {
    sqlx::query!(
        "update clinic_members set role = $3 where clinic_id = $1 and user_id = $2",
        clinic_id,
        user_id,
        role.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn remove(conn: &mut PgConnection, clinic_id: Uuid, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query!(
        "delete from clinic_members where clinic_id = $1 and user_id = $2",
        clinic_id,
        user_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an account with `email` is already a member.
pub async fn is_member_email(conn: &mut PgConnection, clinic_id: Uuid, email: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"select exists (select 1 from clinic_members m join users u on u.id = m.user_id
                          where m.clinic_id = $1 and u.email = $2) as "exists!""#,
        clinic_id,
        email as _
    )
    .fetch_one(conn)
    .await
}

/// Pending invitations (not accepted, revoked or expired), newest first; never their tokens.
pub async fn invitations(conn: &mut PgConnection, clinic_id: Uuid) -> sqlx::Result<Vec<Invitation>> {
    let rows = sqlx::query!(
        r#"select id, email::text as "email!", role, created_at, expires_at from invitations
           where clinic_id = $1 and accepted_at is null and revoked_at is null and expires_at > now()
           order by created_at desc, id desc"#,
        clinic_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(Invitation {
                id: r.id,
                email: r.email,
                role: ClinicRole::parse(&r.role)?,
                created_at: r.created_at,
                expires_at: r.expires_at,
                token: None,
            })
        })
        .collect())
}

/// Revokes a pending invitation; `false` when there is none with that id.
pub async fn revoke_invitation(conn: &mut PgConnection, clinic_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let result = sqlx::query!(
        r#"update invitations set revoked_at = now()
           where clinic_id = $1 and id = $2 and accepted_at is null and revoked_at is null"#,
        clinic_id,
        id
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}
