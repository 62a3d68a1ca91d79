//! Refresh tokens: 256-bit random values, stored only as SHA-256 hashes, rotated on every use and
//! grouped in families so that a reused (stolen) token revokes every token descended from the same login.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::keys::SubKey;
use crate::auth::sessions::SessionClient;
use crate::auth::types::UserRow;

/// Absolute lifetime of a login: rotation never extends it.
pub const FAMILY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// A freshly minted token (the only time its value exists outside the client), with the family (the
/// session) it belongs to.
pub struct NewToken {
    pub value: String,
    pub hash: Vec<u8>,
    pub family_id: Uuid,
}

/// A random token value and its hash, not yet in any family (a refresh token before it joins one, or an
/// invitation's one-time token).
pub struct Minted {
    pub value: String,
    pub hash: Vec<u8>,
}

impl Minted {
    fn into_family(self, family_id: Uuid) -> NewToken {
        NewToken {
            value: self.value,
            hash: self.hash,
            family_id,
        }
    }
}

pub fn mint() -> Minted {
    let value = random_token();
    let hash = hash(&value);
    Minted { value, hash }
}

/// 256 random bits, base64url: a refresh token, or the `mfaToken` of a sign-in's second step.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// Starts a new family (a login, a session) with its first token, recording where it came from;
/// `clinic_id` is the session's active clinic, kept across rotations.
pub async fn create_family(
    conn: &mut PgConnection,
    user_id: Uuid,
    clinic_id: Option<Uuid>,
    client: &SessionClient,
) -> sqlx::Result<NewToken> {
    let token = mint();
    let family_id = sqlx::query_scalar!(
        r#"with family as (
               insert into refresh_token_families (user_id, expires_at, clinic_id, ip, user_agent, last_used_at)
               values ($1, now() + make_interval(secs => $2), $4, $5::text::inet, $6, now())
               returning id
           ), first as (
               insert into refresh_tokens (token_hash, family_id) select $3, id from family
           )
           select id as "id!" from family"#,
        user_id,
        FAMILY_TTL.as_secs_f64(),
        &token.hash,
        clinic_id,
        client.ip.to_string(),
        client.user_agent.as_deref()
    )
    .fetch_one(conn)
    .await?;
    Ok(token.into_family(family_id))
}

/// Marks a family as just used from `client` (a refresh).
async fn touch_family(conn: &mut PgConnection, family_id: Uuid, client: &SessionClient) -> sqlx::Result<()> {
    sqlx::query!(
        r#"update refresh_token_families set last_used_at = now(), ip = $2::text::inet,
                  user_agent = coalesce($3, user_agent)
           where id = $1"#,
        family_id,
        client.ip.to_string(),
        client.user_agent.as_deref()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// What presenting a refresh token led to.
pub enum Rotation {
    /// The token was current (or rotated within [`REFRESH_GRACE`]): `token` is its successor.
    Rotated {
        user: UserRow,
        token: NewToken,
        /// The family's active clinic (re-checked against the memberships when the session is built).
        clinic_id: Option<Uuid>,
    },
    /// The token was already spent: its family is now revoked.
    Reused,
    /// Unknown, expired, revoked, or the account is deactivated.
    Invalid,
}

/// How long a just-rotated token still answers with the same successor instead of counting as
/// reuse: two tabs (or a retried request) refreshing at once stay signed in. Short, because a
/// thief who presents the old token within it gets the successor too.
pub const REFRESH_GRACE: Duration = Duration::from_secs(5);
/// How many rotations within the grace are followed to the newest token (three quick tabs).
const MAX_GRACE_HOPS: usize = 4;

/// The one-time pad that seals `presented`'s successor: `HMAC(key, presented)`. Each token seals
/// exactly one successor (the spending update runs once), so the pad is never reused.
fn pad(key: &SubKey, presented: &str) -> [u8; 32] {
    key.mac(&[b"successor", presented.as_bytes()])
}

fn seal(key: &SubKey, presented: &str, successor: &str) -> Option<Vec<u8>> {
    let bytes = URL_SAFE_NO_PAD.decode(successor).ok().filter(|b| b.len() == 32)?;
    Some(bytes.iter().zip(pad(key, presented)).map(|(b, p)| b ^ p).collect())
}

fn unseal(key: &SubKey, presented: &str, sealed: &[u8]) -> Option<String> {
    if sealed.len() != 32 {
        return None;
    }
    let bytes: Vec<u8> = sealed.iter().zip(pad(key, presented)).map(|(b, p)| b ^ p).collect();
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Spends `presented` and issues its successor in one transaction (`conn` must be inside one). A
/// token spent less than [`REFRESH_GRACE`] ago returns the successor it was rotated to (followed
/// to the newest one); after that, presenting it again is reuse and revokes the family.
pub async fn rotate(
    conn: &mut PgConnection,
    seal_key: &SubKey,
    presented: &str,
    client: &SessionClient,
) -> sqlx::Result<Rotation> {
    let presented_hash = hash(presented);
    let successor = mint();
    let sealed = seal(seal_key, presented, &successor.value);
    // Exactly one concurrent caller can spend a token: the `used_at is null` guard. A second one
    // waits for the first to commit, then finds it spent.
    let spent = sqlx::query!(
        r#"update refresh_tokens set used_at = now(), successor_sealed = $2
           where token_hash = $1 and used_at is null
           returning family_id"#,
        &presented_hash,
        sealed
    )
    .fetch_optional(&mut *conn)
    .await?;

    let Some(spent) = spent else {
        return spent_again(conn, seal_key, presented, &presented_hash).await;
    };

    let Some((user, clinic_id)) = live_family_user(conn, spent.family_id).await? else {
        return Ok(Rotation::Invalid);
    };
    sqlx::query!(
        "insert into refresh_tokens (token_hash, family_id) values ($1, $2)",
        &successor.hash,
        spent.family_id
    )
    .execute(&mut *conn)
    .await?;
    // Sealed successors are only needed during the grace.
    sqlx::query!(
        r#"update refresh_tokens set successor_sealed = null
           where family_id = $1 and successor_sealed is not null
             and used_at < now() - make_interval(secs => $2)"#,
        spent.family_id,
        REFRESH_GRACE.as_secs_f64()
    )
    .execute(&mut *conn)
    .await?;
    touch_family(conn, spent.family_id, client).await?;
    Ok(Rotation::Rotated {
        user,
        token: successor.into_family(spent.family_id),
        clinic_id,
    })
}

/// `presented` was already spent: within the grace, its successor (or the newest token it led to
/// within the grace); else reuse, and the family is revoked. Unknown tokens are invalid.
async fn spent_again(
    conn: &mut PgConnection,
    seal_key: &SubKey,
    presented: &str,
    presented_hash: &[u8],
) -> sqlx::Result<Rotation> {
    let Some(first) = spent_row(conn, presented_hash).await? else {
        return Ok(Rotation::Invalid);
    };
    let family_id = first.family_id;
    let mut current = presented.to_owned();
    let mut row = first;
    for _ in 0..MAX_GRACE_HOPS {
        let Some(sealed) = row.successor_sealed.as_deref().filter(|_| row.in_grace) else {
            break;
        };
        let Some(successor) = unseal(seal_key, &current, sealed) else {
            break;
        };
        let successor_hash = hash(&successor);
        let Some(next) = spent_row(conn, &successor_hash)
            .await?
            .filter(|r| r.family_id == family_id)
        else {
            break;
        };
        if !next.used {
            let Some((user, clinic_id)) = live_family_user(conn, family_id).await? else {
                return Ok(Rotation::Invalid);
            };
            tracing::info!("refresh token presented again within the grace; the same successor is returned");
            return Ok(Rotation::Rotated {
                user,
                token: NewToken {
                    value: successor,
                    hash: successor_hash,
                    family_id,
                },
                clinic_id,
            });
        }
        current = successor;
        row = next;
    }
    revoke_family(conn, family_id, "reuse").await?;
    Ok(Rotation::Reused)
}

struct SpentRow {
    family_id: Uuid,
    used: bool,
    in_grace: bool,
    successor_sealed: Option<Vec<u8>>,
}

async fn spent_row(conn: &mut PgConnection, token_hash: &[u8]) -> sqlx::Result<Option<SpentRow>> {
    sqlx::query_as!(
        SpentRow,
        r#"select family_id, used_at is not null as "used!",
                  coalesce(used_at > now() - make_interval(secs => $2), false) as "in_grace!",
                  successor_sealed
           from refresh_tokens where token_hash = $1"#,
        token_hash,
        REFRESH_GRACE.as_secs_f64()
    )
    .fetch_optional(conn)
    .await
}

/// The family's account and active clinic, when the family is live and the account active.
async fn live_family_user(conn: &mut PgConnection, family_id: Uuid) -> sqlx::Result<Option<(UserRow, Option<Uuid>)>> {
    let row = sqlx::query!(
        r#"select u.id, u.email::text as "email!", u.full_name, u.role, u.is_active, u.created_at, f.clinic_id
           from refresh_token_families f
           join users u on u.id = f.user_id
           where f.id = $1 and f.revoked_at is null and f.expires_at > now() and u.is_active"#,
        family_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        (
            UserRow {
                id: r.id,
                email: r.email,
                full_name: r.full_name,
                role: r.role,
                is_active: r.is_active,
                created_at: r.created_at,
            },
            r.clinic_id,
        )
    }))
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

    #[test]
    fn a_sealed_successor_opens_only_with_its_predecessor_and_the_key() {
        let key = SubKey::derive(b"root-secret-root-secret-root-secret!", "seal");
        let (old, new) = (mint(), mint());
        let sealed = seal(&key, &old.value, &new.value).unwrap_or_default();
        assert_eq!(sealed.len(), 32);
        assert_ne!(URL_SAFE_NO_PAD.decode(&new.value).ok(), Some(sealed.clone()));
        assert_eq!(unseal(&key, &old.value, &sealed), Some(new.value.clone()));
        assert_ne!(unseal(&key, &mint().value, &sealed), Some(new.value.clone()));
        let other = SubKey::derive(b"another-root-another-root-another!!", "seal");
        assert_ne!(unseal(&other, &old.value, &sealed), Some(new.value));
    }
}
