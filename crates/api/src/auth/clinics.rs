//! A user's clinics as a session shows them: the memberships, the active one, and creating the clinic
//! a self-service registration starts with.

use shared::FieldError;
use shared::api::{ClinicRef, ClinicRole};
use sqlx::PgConnection;
use uuid::Uuid;

/// A clinic's name: trimmed, 1-200 characters, no control characters.
pub struct ClinicName(String);

impl ClinicName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new(
                "clinicName",
                "required",
                "Clinic name must not be empty.",
            ));
        }
        if s.chars().count() > 200 {
            return Err(FieldError::new(
                "clinicName",
                "too_long",
                "Clinic name must be at most 200 characters.",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(FieldError::new(
                "clinicName",
                "invalid",
                "Clinic name must not contain control characters.",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// "<full name>'s clinic", cut to 200 characters.
    pub fn default_for(full_name: &str) -> Self {
        Self(format!("{full_name}'s clinic").chars().take(200).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The memberships of a user and which one is active.
#[derive(Debug, Clone, Default)]
pub struct Memberships {
    pub active: Option<ClinicRef>,
    pub all: Vec<ClinicRef>,
}

/// Every clinic of `user_id`, most recently joined first; the active one is `preferred` when the user is
/// still a member of it, else the most recently joined (or none).
pub async fn memberships(conn: &mut PgConnection, user_id: Uuid, preferred: Option<Uuid>) -> sqlx::Result<Memberships> {
    let rows = sqlx::query!(
        r#"select c.id, c.name, m.role from clinic_members m join clinics c on c.id = m.clinic_id
           where m.user_id = $1 order by m.joined_at desc, c.id"#,
        user_id
    )
    .fetch_all(conn)
    .await?;
    let all: Vec<ClinicRef> = rows
        .into_iter()
        .filter_map(|r| {
            Some(ClinicRef {
                id: r.id,
                name: r.name,
                role: ClinicRole::parse(&r.role)?,
            })
        })
        .collect();
    let active = preferred
        .and_then(|p| all.iter().find(|c| c.id == p))
        .or_else(|| all.first())
        .cloned();
    Ok(Memberships { active, all })
}

/// Creates a clinic with `owner` as its only member (an `owner`).
pub async fn create(conn: &mut PgConnection, owner: Uuid, name: &ClinicName) -> sqlx::Result<Uuid> {
    sqlx::query_scalar!(
        r#"with clinic as (insert into clinics (name) values ($2) returning id),
                member as (insert into clinic_members (clinic_id, user_id, role) select id, $1, 'owner' from clinic)
           select id as "id!" from clinic"#,
        owner,
        name.as_str()
    )
    .fetch_one(conn)
    .await
}
