//! `AuthUser`: a verified bearer token. The role and id come from the signed claims only; routes that
//! need the current state of the account (active, admin) re-read it from the database.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use shared::api::Role;
use uuid::Uuid;

use crate::auth::jwt::JwtKeys;
use crate::http::error::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
    pub role: Role,
    /// The session (refresh-token family) the token was issued for, when it names one.
    pub session: Option<Uuid>,
    /// The active clinic the token names (membership is re-checked by `db::ClinicTx`).
    pub clinic_id: Option<Uuid>,
}

pub const UNAUTHORIZED: ApiError = ApiError::Unauthorized {
    code: "invalid_token",
    detail: "Missing, malformed, expired or revoked access token.",
};

/// The bearer token of a request, if it has one.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

impl<S> FromRequestParts<S> for AuthUser
where
    Arc<JwtKeys>: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<AuthUser>() {
            return Ok(*user);
        }
        let keys = Arc::<JwtKeys>::from_ref(state);
        let claims = bearer(parts).and_then(|t| keys.verify(t)).ok_or(UNAUTHORIZED)?;
        let user = AuthUser {
            id: claims.sub,
            role: claims.role,
            session: claims.sid,
            clinic_id: claims.cid,
        };
        parts.extensions.insert(user);
        Ok(user)
    }
}
