//! Refresh tokens: 256-bit random values, stored only as SHA-256 hashes, rotated on every use and
//! grouped in families so that a reused (stolen) token revokes every token descended from the same login.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::types::UserRow;

/// Absolute lifetime of a login: rotation never extends it.
pub const FAMILY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A freshly minted token (the only time its value exists outside the client).
pub struct NewToken {
    pub value: String,
    pub hash: Vec<u8>,
}

pub fn mint() -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let value = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&value);
    NewToken { value, hash }
}

pub fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Starts a new family (a login) with its first token.
pub async fn create_family(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<NewToken> {
    let token = mint();
    sqlx::query!(
        r#"with family as (
               insert into refresh_token_families (user_id, expires_at)
               values ($1, now() + make_interval(secs => $2))
               returning id
           )
           insert into refresh_tokens (token_hash, family_id) select $3, id from family"#,
        user_id,
        FAMILY_TTL.as_secs_f64(),
        &token.hash
    )
    .execute(conn)
    .await?;
    Ok(token)
}

/// What presenting a refresh token led to.
pub enum Rotation {
    /// The token was current: it is now spent and `token` replaces it.
    Rotated { user: UserRow, token: NewToken },
    /// The token was already spent: its family is now revoked.
    Reused,
    /// Unknown, expired, revoked, or the account is deactivated.
    Invalid,
}

/// Spends `presented` and issues its successor in one transaction (`conn` must be inside one).
pub async fn rotate(conn: &mut PgConnection, presented: &str) -> sqlx::Result<Rotation> {
    let presented_hash = hash(presented);
    // Exactly one concurrent caller can spend a token: the `used_at is null` guard.
    let spent = sqlx::query!(
        r#"update refresh_tokens set used_at = now()
           where token_hash = $1 and used_at is null
           returning family_id"#,
        &presented_hash
    )
    .fetch_optional(&mut *conn)
    .await?;

    let Some(spent) = spent else {
        let known = sqlx::query!(
            "select family_id from refresh_tokens where token_hash = $1",
            &presented_hash
        )
        .fetch_optional(&mut *conn)
        .await?;
        return Ok(match known {
            Some(row) => {
                revoke_family(conn, row.family_id, "reuse").await?;
                Rotation::Reused
            }
            None => Rotation::Invalid,
        });
    };

    let user = sqlx::query_as!(
        UserRow,
        r#"select u.id, u.email::text as "email!", u.full_name, u.role, u.is_active, u.created_at
           from refresh_token_families f
           join users u on u.id = f.user_id
           where f.id = $1 and f.revoked_at is null and f.expires_at > now() and u.is_active"#,
        spent.family_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(user) = user else {
        return Ok(Rotation::Invalid);
    };

    let token = mint();
    sqlx::query!(
        "insert into refresh_tokens (token_hash, family_id) values ($1, $2)",
        &token.hash,
        spent.family_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(Rotation::Rotated { user, token })
}

pub async fn revoke_family(conn: &mut PgConnection, family_id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update refresh_token_families set revoked_at = now(), revoked_reason = $2
           where id = $1 and revoked_at is null"#,
        family_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes the family of `presented` (logout). Unknown tokens are ignored: logout is idempotent.
/// Returns the family's user, if the token was known.
pub async fn revoke_by_token(conn: &mut PgConnection, presented: &str) -> sqlx::Result<Option<Uuid>> {
    let row = sqlx::query!(
        r#"update refresh_token_families f set revoked_at = coalesce(f.revoked_at, now()),
                  revoked_reason = coalesce(f.revoked_reason, 'logout')
           from refresh_tokens t
           where t.token_hash = $1 and t.family_id = f.id
           returning f.user_id"#,
        &hash(presented)
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.user_id))
}

/// Revokes every live family of a user (deactivation).
pub async fn revoke_all_for_user(conn: &mut PgConnection, user_id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update refresh_token_families set revoked_at = now(), revoked_reason = $2
           where user_id = $1 and revoked_at is null"#,
        user_id,
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_and_hashed() {
        let t = mint();
        assert_eq!(URL_SAFE_NO_PAD.decode(&t.value).map(|b| b.len()).ok(), Some(32));
        assert_eq!(t.hash, hash(&t.value));
        assert_eq!(t.hash.len(), 32);
        assert_ne!(mint().value, t.value);
    }
}
