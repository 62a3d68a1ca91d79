//! Access tokens: HS256 JWTs with a pinned algorithm and a 15-minute life.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use shared::api::Role;
use uuid::Uuid;

pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    /// The active clinic; absent for a user who belongs to none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The session (refresh-token family) the token was issued for, so `GET /auth/sessions` can mark the
    /// caller's own. Absent in tokens minted outside a sign-in (tests, tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        // Only HS256 is accepted: `alg: none` or any other algorithm in a token's header fails.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        validation.leeway = 5;
        validation.validate_exp = true;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues an access token for `user` with `role` in `clinic`, valid from `now` (seconds since the epoch).
    pub fn issue(&self, user: Uuid, role: Role, clinic: Option<Uuid>, now: i64) -> anyhow::Result<String> {
        self.issue_in_session(user, role, clinic, None, now)
    }

    /// [`Self::issue`] naming the session (refresh-token family) it belongs to.
    pub fn issue_in_session(
        &self,
        user: Uuid,
        role: Role,
        clinic: Option<Uuid>,
        session: Option<Uuid>,
        now: i64,
    ) -> anyhow::Result<String> {
        let ttl = i64::try_from(ACCESS_TOKEN_TTL.as_secs()).unwrap_or(900);
        let claims = Claims {
            sub: user,
            role,
            cid: clinic,
            iat: now,
            exp: now + ttl,
            jti: Uuid::new_v4(),
            sid: session,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// Verifies signature, algorithm and expiry; any failure is `None` (the caller answers 401).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_token_round_trips() {
        let keys = JwtKeys::new(KEY);
        let user = Uuid::new_v4();
        let token = keys.issue(user, Role::Admin, None, now()).unwrap_or_default();
        let claims = keys.verify(&token);
        assert_eq!(claims.as_ref().map(|c| c.sub), Some(user));
        assert_eq!(claims.map(|c| c.role), Some(Role::Admin));
    }

    #[test]
    fn the_session_claim_round_trips_and_is_optional() {
        let keys = JwtKeys::new(KEY);
        let session = Uuid::new_v4();
        let token = keys
            .issue_in_session(Uuid::new_v4(), Role::User, None, Some(session), now())
            .unwrap_or_default();
        assert_eq!(keys.verify(&token).and_then(|c| c.sid), Some(session));
        let plain = keys.issue(Uuid::new_v4(), Role::User, None, now()).unwrap_or_default();
        assert_eq!(keys.verify(&plain).map(|c| c.sid), Some(None));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = JwtKeys::new(KEY);
        let token = keys
            .issue(Uuid::new_v4(), Role::User, None, now() - 3600)
            .unwrap_or_default();
        assert!(keys.verify(&token).is_none());
    }

    #[test]
    fn a_wrong_key_is_refused() {
        let token = JwtKeys::new(KEY)
            .issue(Uuid::new_v4(), Role::User, None, now())
            .unwrap_or_default();
        assert!(
            JwtKeys::new(b"another-key-another-key-another-k")
                .verify(&token)
                .is_none()
        );
    }

    #[test]
    fn alg_none_and_tampered_claims_are_refused() {
        let keys = JwtKeys::new(KEY);
        let token = keys.issue(Uuid::new_v4(), Role::User, None, now()).unwrap_or_default();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default()).unwrap_or_default();
        let elevated = URL_SAFE_NO_PAD.encode(payload.replace("\"user\"", "\"admin\""));
        let tampered = format!("{}.{}.{}", parts[0], elevated, parts[2]);
        assert!(keys.verify(&tampered).is_none());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{none_header}.{}.", parts[1])).is_none());
        assert!(keys.verify("garbage").is_none());
    }
}
