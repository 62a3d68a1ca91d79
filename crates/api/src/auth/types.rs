//! Parsed account inputs: what a handler holds after the body passed every rule.

use shared::FieldError;
use shared::api::{RegisterRequest, Role, User};
use sqlx::types::chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::clinics::{ClinicName, Memberships};
use crate::auth::password::Password;
use crate::domain::email::Email;
use crate::http::error::ApiError;

/// A person's display name: trimmed, 1-200 characters, no control characters.
#[derive(Clone)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(FieldError::new("fullName", "required", "Full name is required."));
        }
        if s.chars().count() > 200 {
            return Err(FieldError::new(
                "fullName",
                "too_long",
                "Full name must be at most 200 characters.",
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(FieldError::new(
                "fullName",
                "invalid",
                "Full name must not contain control characters.",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registration that passed every rule.
pub struct Registration {
    pub email: Email,
    pub password: Password,
    pub full_name: FullName,
    /// The clinic to create (default "<full name>'s clinic").
    pub clinic_name: ClinicName,
    /// An invitation to join instead (accepted and checked by the invitation flow).
    pub invitation_token: Option<String>,
}

impl TryFrom<RegisterRequest> for Registration {
    type Error = ApiError;

    /// Collects every failing field, so the client can show all problems at once.
    fn try_from(req: RegisterRequest) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let email = Email::parse(&req.email)
            .map_err(|e| errors.push(FieldError::new("email", e.code(), e.message())))
            .ok();
        let full_name = FullName::parse(&req.full_name).map_err(|e| errors.push(e)).ok();
        let clinic_name = match req.clinic_name.as_deref() {
            Some(raw) => ClinicName::parse(raw).map_err(|e| errors.push(e)).ok(),
            None => full_name.as_ref().map(|n| ClinicName::default_for(n.as_str())),
        };
        let password = Password::parse(req.password, &[req.email.trim(), req.full_name.trim()])
            .map_err(|e| errors.push(FieldError::new("password", e.code(), e.message())))
            .ok();
        match (email, password, full_name, clinic_name) {
            (Some(email), Some(password), Some(full_name), Some(clinic_name)) if errors.is_empty() => Ok(Self {
                email,
                password,
                full_name,
                clinic_name,
                invitation_token: req.invitation_token.filter(|t| !t.is_empty()),
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// A user row as the auth queries read it.
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

pub fn parse_role(role: &str) -> Role {
    // The CHECK constraint allows only these two; anything else is treated as the lesser role.
    if role == "admin" { Role::Admin } else { Role::User }
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: row.id,
            email: row.email,
            full_name: row.full_name,
            role: parse_role(&row.role),
            is_active: row.is_active,
            created_at: row.created_at,
            clinic: None,
            clinics: Vec::new(),
        }
    }
}

impl UserRow {
    /// The public user with its clinics.
    pub fn with_clinics(self, memberships: Memberships) -> User {
        User {
            clinic: memberships.active,
            clinics: memberships.all,
            ..self.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failing_registration_field_is_named() {
        let req = RegisterRequest {
            email: "nope".into(),
            password: "short".into(),
            full_name: "  ".into(),
            clinic_name: None,
            invitation_token: None,
        };
        let Err(ApiError::Validation(errors)) = Registration::try_from(req) else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "fullName", "password"]);
    }
}
