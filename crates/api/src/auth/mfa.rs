//! Two-factor sign-in with time-based one-time codes (RFC 6238, `totp-rs`) and one-time recovery codes.
//!
//! - The secret is 160 bits from the operating system's generator (ASVS 6.5.3), shown once at set-up (base32,
//!   `otpauth://` URI and a QR code as SVG), and stored sealed with AES-256-GCM under a key from configuration,
//!   the user id as associated data ([`SecretSeal`]). It is never logged, nor is any code.
//! - A code is accepted once (ASVS 6.5.1): the time step it matched is stored and a code for that step or an
//!   earlier one is refused, with one step of clock skew either side (RFC 6238 §5.2).
//! - Ten recovery codes of 80 random bits each, stored as SHA-256: with that much entropy a fast hash cannot be
//!   reversed by guessing, so argon2 (meant for low-entropy passwords) would only cost CPU. Each works once.
//! - Set-up and turning off ask for the password again (ASVS 7.5.1), and turning off also for a code.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rand::TryRngCore as _;
use rand::rngs::OsRng;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor};
use totp_rs::{Builder, Totp};
use uuid::Uuid;

use crate::audit::{self, AuthAction};
use crate::auth::keys::MfaKeySource;
use crate::auth::{AuthUser, reauth};
use crate::http::client_ip::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::AppState;

/// The name authenticator apps show beside the account.
pub const ISSUER: &str = "Dental Assistant";
/// Bytes of a TOTP secret: 160 bits, the size RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
/// How many recovery codes one enabling hands out.
pub const RECOVERY_CODES: usize = 10;
/// Bytes of randomness in one recovery code (80 bits).
const RECOVERY_BYTES: usize = 10;
const NONCE_BYTES: usize = 12;

/// 401 for a wrong, reused or unknown code. A code the web app reads as "what was typed is wrong".
pub const INVALID_CODE: ApiError = ApiError::Unauthorized {
    code: "invalid_code",
    detail: "The code is not correct or was already used. Wait for the next code in your app, or use a recovery code.",
};

/// Seals TOTP secrets at rest: AES-256-GCM with a random 96-bit nonce, the user id as associated data (a sealed
/// secret copied onto another account does not open). Never prints its key.
pub struct SecretSeal {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretSeal(***)")
    }
}

impl SecretSeal {
    pub fn new(source: MfaKeySource<'_>) -> Self {
        let key = source.derive();
        Self {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// `nonce || ciphertext || tag`.
    pub fn seal(&self, user_id: Uuid, secret: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.try_fill_bytes(&mut nonce)?;
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: user_id.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("could not seal a TOTP secret"))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// The secret, when `sealed` was sealed by this key for this user.
    pub fn open(&self, user_id: Uuid, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: user_id.as_bytes(),
                },
            )
            .ok()
    }
}

/// A new secret from the operating system's generator.
fn new_secret() -> anyhow::Result<Vec<u8>> {
    let mut secret = vec![0u8; SECRET_BYTES];
    OsRng.try_fill_bytes(&mut secret)?;
    Ok(secret)
}

/// The RFC 6238 parameters every authenticator app reads: SHA-1, 6 digits, 30 seconds, one step of skew.
fn totp(secret: Vec<u8>, account: &str) -> anyhow::Result<Totp> {
    // A colon separates issuer and account in the otpauth label; an address never needs one.
    let account = account.replace(':', "_");
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| anyhow::anyhow!("totp parameters refused: {e:?}"))
}

/// The QR code of `uri` as a standalone SVG document.
fn qr_svg(uri: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

fn now_secs() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// A code as typed: spaces and dashes dropped, lower-cased.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_totp_shaped(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Lower-case letters without i, l and o, and the digits 1-9: 32 symbols nobody misreads, 5 bits each.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz123456789";

/// Ten fresh recovery codes, `xxxx-xxxx-xxxx-xxxx` (16 symbols of 5 bits = 80 bits).
fn new_recovery_codes() -> anyhow::Result<Vec<String>> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = [0u8; RECOVERY_BYTES];
            OsRng.try_fill_bytes(&mut bytes)?;
            Ok(format_recovery(&bytes))
        })
        .collect()
}

fn format_recovery(bytes: &[u8; RECOVERY_BYTES]) -> String {
    let bits = bytes.iter().fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let symbol = ((bits >> (75 - 5 * i)) & 0x1f) as usize;
        out.push(char::from(RECOVERY_ALPHABET[symbol]));
    }
    out
}

fn recovery_hash(code: &str) -> Vec<u8> {
    Sha256::digest(normalise(code).as_bytes()).to_vec()
}

/// The account's factor as stored.
struct FactorRow {
    secret_sealed: Vec<u8>,
    enabled: bool,
    last_step: Option<i64>,
}

async fn factor(conn: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Option<FactorRow>> {
    sqlx::query_as!(
        FactorRow,
        r#"select secret_sealed, enabled_at is not null as "enabled!", last_step from user_mfa where user_id = $1"#,
        user_id
    )
    .fetch_optional(conn)
    .await
}

/// Whether the account signs in with a second factor.
pub async fn is_enabled(conn: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    let on = sqlx::query_scalar!(
        r#"select exists (select 1 from user_mfa where user_id = $1 and enabled_at is not null) as "on!""#,
        user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(on)
}

/// The time step `code` matches for `row`'s secret, if any (one step of skew either side).
fn matching_step(seal: &SecretSeal, user_id: Uuid, row: &FactorRow, code: &str) -> Option<i64> {
    let secret = seal.open(user_id, &row.secret_sealed)?;
    let totp = totp(secret, "-").ok()?;
    let step = totp.check(code, now_secs())?;
    i64::try_from(step).ok()
}

/// Takes `step` as the last accepted one, unless it (or a later one) was accepted before. Atomic: of two
/// requests with the same code, one wins.
async fn accept_step(conn: impl PgExecutor<'_>, user_id: Uuid, step: i64, require_enabled: bool) -> sqlx::Result<bool> {
    let updated = sqlx::query!(
        r#"update user_mfa set last_step = $2
           where user_id = $1 and (last_step is null or last_step < $2)
             and (enabled_at is not null or not $3)
           returning user_id"#,
        user_id,
        step,
        require_enabled
    )
    .fetch_optional(conn)
    .await?;
    Ok(updated.is_some())
}

/// Which kind of code was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    Recovery,
}

/// Checks a second-factor code for an account with MFA on: a six-digit TOTP code (once per time step) or an
/// unused recovery code (spent here). `None` for anything else. `conn` may be a transaction.
pub async fn verify_code(
    conn: &mut PgConnection,
    seal: &SecretSeal,
    user_id: Uuid,
    code: &str,
) -> sqlx::Result<Option<Factor>> {
    let code = normalise(code);
    if code.is_empty() || code.len() > 64 {
        return Ok(None);
    }
    if is_totp_shaped(&code) {
        let Some(row) = factor(&mut *conn, user_id).await?.filter(|r| r.enabled) else {
            return Ok(None);
        };
        let Some(step) = matching_step(seal, user_id, &row, &code) else {
            return Ok(None);
        };
        if row.last_step.is_some_and(|last| last >= step) {
            tracing::info!(%user_id, "a TOTP code was presented again; refused");
            return Ok(None);
        }
        return Ok(accept_step(&mut *conn, user_id, step, true)
            .await?
            .then_some(Factor::Totp));
    }
    let spent = sqlx::query!(
        r#"update mfa_recovery_codes set used_at = now()
           where code_hash = $1 and user_id = $2 and used_at is null
             and exists (select 1 from user_mfa m where m.user_id = $2 and m.enabled_at is not null)
           returning user_id"#,
        &recovery_hash(&code),
        user_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(spent.map(|_| Factor::Recovery))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/mfa/setup", post(setup))
        .route("/auth/mfa/enable", post(enable))
        .route("/auth/mfa/disable", post(disable))
}

/// `POST /auth/mfa/setup`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaSetupRequest {
    pub password: String,
}

/// A new TOTP secret, not active until `POST /auth/mfa/enable` confirms it with a first code. Shown once.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaSetup {
    /// Base32 (RFC 4648, no padding), for typing into an authenticator app by hand.
    pub secret: String,
    /// `otpauth://totp/...` with issuer, account, SHA1, 6 digits, 30 seconds.
    pub otpauth_uri: String,
    /// The QR code of `otpauthUri` as an SVG document.
    pub qr_svg: String,
}

/// `POST /auth/mfa/enable`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaEnableRequest {
    /// The six-digit code the authenticator app shows for the new secret.
    pub code: String,
}

/// The recovery codes, shown once: each signs in once in place of a TOTP code.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaRecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `POST /auth/mfa/disable`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MfaDisableRequest {
    pub password: String,
    /// A TOTP code or an unused recovery code.
    pub code: String,
}

const ALREADY_ENABLED: &str = "mfa_already_enabled";

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Start setting up two-step sign-in: a new secret (replacing an unconfirmed one). Asks for the password again.
#[utoipa::path(operation_id = "mfaSetup", post, path = "/auth/mfa/setup", tag = "auth", security(("bearer" = [])),
    request_body = MfaSetupRequest,
    responses((status = 200, description = "The new secret, its otpauth URI and QR code (shown once)", body = MfaSetup),
        (status = 401, description = "`invalid_credentials`: the password is wrong", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`mfa_already_enabled`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn setup(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<MfaSetupRequest>,
) -> ApiResult<Response> {
    let account = reauth::confirm_password(&state, user.id, ip, SecretString::from(body.password)).await?;
    let secret = new_secret()?;
    let sealed = state.mfa_seal.seal(user.id, &secret)?;
    let totp = totp(secret, &account.email)?;
    let otpauth_uri = totp.to_url().map_err(|e| anyhow::anyhow!("otpauth uri: {e:?}"))?;
    let qr = qr_svg(&otpauth_uri)?;
    let stored = sqlx::query!(
        r#"insert into user_mfa (user_id, secret_sealed) values ($1, $2)
           on conflict (user_id) do update set secret_sealed = excluded.secret_sealed, last_step = null
           where user_mfa.enabled_at is null
           returning user_id"#,
        user.id,
        &sealed
    )
    .fetch_optional(&state.db)
    .await?;
    if stored.is_none() {
        return Err(ApiError::conflict(
            ALREADY_ENABLED,
            "Two-step sign-in is already on for this account. Turn it off first to set it up again.",
        ));
    }
    tracing::info!(user_id = %user.id, "mfa set-up started");
    let body = MfaSetup {
        secret: totp.secret().to_base32(),
        otpauth_uri,
        qr_svg: qr,
    };
    Ok(no_store((StatusCode::OK, Json(body)).into_response()))
}

/// Turn two-step sign-in on with a first code for the secret from set-up; answers the ten recovery codes (shown
/// once; any earlier ones stop working).
#[utoipa::path(operation_id = "mfaEnable", post, path = "/auth/mfa/enable", tag = "auth", security(("bearer" = [])),
    request_body = MfaEnableRequest,
    responses((status = 200, description = "On; the recovery codes, shown once", body = MfaRecoveryCodes),
        (status = 401, description = "`invalid_code`", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`mfa_already_enabled`, or `mfa_setup_missing`: call `/auth/mfa/setup` first", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn enable(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<MfaEnableRequest>,
) -> ApiResult<Response> {
    let code = normalise(&body.code);
    let mut tx = crate::db::begin(&state.db).await?;
    // Locks the row: two enables racing cannot both hand out codes.
    let row = sqlx::query_as!(
        FactorRow,
        r#"select secret_sealed, enabled_at is not null as "enabled!", last_step
           from user_mfa where user_id = $1 for update"#,
        user.id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let row = match row {
        None => {
            return Err(ApiError::conflict(
                "mfa_setup_missing",
                "Start the set-up first: POST /auth/mfa/setup with your password.",
            ));
        }
        Some(r) if r.enabled => {
            return Err(ApiError::conflict(
                ALREADY_ENABLED,
                "Two-step sign-in is already on for this account.",
            ));
        }
        Some(r) => r,
    };
    let step = is_totp_shaped(&code)
        .then(|| matching_step(&state.mfa_seal, user.id, &row, &code))
        .flatten();
    let Some(step) = step else {
        tracing::info!(user_id = %user.id, "mfa enable refused: wrong code");
        return Err(INVALID_CODE);
    };
    if !accept_step(&mut *tx, user.id, step, false).await? {
        return Err(INVALID_CODE);
    }
    sqlx::query!("update user_mfa set enabled_at = now() where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?;
    let codes = new_recovery_codes()?;
    replace_recovery_codes(&mut tx, user.id, &codes).await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::MfaEnabled, Some(ip)).await?;
    tx.commit().await?;
    // A clinic that requires MFA lets this user's next reads run on the replica only once it has the factor.
    state.reads.wrote(user.id).await;
    tracing::info!(user_id = %user.id, "mfa enabled");
    Ok(no_store(
        (StatusCode::OK, Json(MfaRecoveryCodes { recovery_codes: codes })).into_response(),
    ))
}

async fn replace_recovery_codes(conn: &mut PgConnection, user_id: Uuid, codes: &[String]) -> sqlx::Result<()> {
    sqlx::query!("delete from mfa_recovery_codes where user_id = $1", user_id)
        .execute(&mut *conn)
        .await?;
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_hash(c)).collect();
    sqlx::query!(
        "insert into mfa_recovery_codes (code_hash, user_id) select h, $2 from unnest($1::bytea[]) as h",
        &hashes,
        user_id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Turn two-step sign-in off: the password and a code (TOTP or recovery). The secret and every recovery code
/// are deleted.
#[utoipa::path(operation_id = "mfaDisable", post, path = "/auth/mfa/disable", tag = "auth", security(("bearer" = [])),
    request_body = MfaDisableRequest,
    responses((status = 204, description = "Off"),
        (status = 401, description = "`invalid_credentials` (password) or `invalid_code`", content_type = "application/problem+json", body = shared::Problem),
        (status = 403, description = "`mfa_required_by_policy`: a clinic of the user's requires it", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`mfa_not_enabled`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::CommonErrors))]
pub async fn disable(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    Json(body): Json<MfaDisableRequest>,
) -> ApiResult<StatusCode> {
    reauth::confirm_password(&state, user.id, ip, SecretString::from(body.password)).await?;
    if required_by_a_clinic(&state.db, user.id).await? {
        return Err(REQUIRED_BY_POLICY);
    }
    let mut tx = crate::db::begin(&state.db).await?;
    if !is_enabled(&mut *tx, user.id).await? {
        return Err(ApiError::conflict(
            "mfa_not_enabled",
            "Two-step sign-in is not on for this account.",
        ));
    }
    if verify_code(&mut tx, &state.mfa_seal, user.id, &body.code)
        .await?
        .is_none()
    {
        tracing::info!(user_id = %user.id, "mfa disable refused: wrong code");
        return Err(INVALID_CODE);
    }
    sqlx::query!("delete from user_mfa where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query!("delete from mfa_recovery_codes where user_id = $1", user.id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, Some(user.id), AuthAction::MfaDisabled, Some(ip)).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "mfa disabled");
    Ok(StatusCode::NO_CONTENT)
}

/// 403 for turning MFA off while a clinic of the user's requires it.
pub const REQUIRED_BY_POLICY: ApiError = ApiError::ForbiddenCode {
    code: "mfa_required_by_policy",
    detail: "A clinic you belong to requires two-step sign-in, so it cannot be turned off. Ask its owner.",
};

/// Whether any clinic the user belongs to requires two-step sign-in.
pub async fn required_by_a_clinic(conn: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<bool> {
    let required = sqlx::query_scalar!(
        r#"select exists (
               select 1 from clinic_members m join clinics c on c.id = m.clinic_id
               where m.user_id = $1 and c.require_mfa
           ) as "required!""#,
        user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(required)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> SecretSeal {
        SecretSeal::new(MfaKeySource::Configured(b"mfa-key-mfa-key-mfa-key-mfa-key-!"))
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_user_and_key() {
        let s = seal();
        let user = Uuid::new_v4();
        let secret = new_secret().unwrap_or_default();
        assert_eq!(secret.len(), SECRET_BYTES);
        let sealed = s.seal(user, &secret).unwrap_or_default();
        assert!(!sealed.windows(secret.len()).any(|w| w == secret.as_slice()));
        assert_eq!(s.open(user, &sealed), Some(secret.clone()));
        assert_eq!(s.open(Uuid::new_v4(), &sealed), None);
        let other = SecretSeal::new(MfaKeySource::FromJwtSecret(b"mfa-key-mfa-key-mfa-key-mfa-key-!"));
        assert_eq!(other.open(user, &sealed), None);
        // A fresh nonce each time.
        assert_ne!(s.seal(user, &secret).unwrap_or_default(), sealed);
    }

    #[test]
    fn codes_match_rfc_6238_with_one_step_of_skew() {
        // RFC 6238 appendix B, SHA-1 seed, truncated to six digits.
        let totp = totp(b"12345678901234567890".to_vec(), "a@b.example").ok();
        let at = |t: u64| totp.as_ref().map(|x| x.generate(t).to_string());
        assert_eq!(at(59).as_deref(), Some("287082"));
        assert_eq!(at(1_111_111_109).as_deref(), Some("081804"));
        let check = |code: &str, t: u64| totp.as_ref().and_then(|x| x.check(code, t));
        assert_eq!(check("081804", 1_111_111_109), Some(1_111_111_109 / 30));
        assert!(check("081804", 1_111_111_109 + 30).is_some());
        assert!(check("081804", 1_111_111_109 + 90).is_none());
    }

    #[test]
    fn the_otpauth_uri_and_qr_name_the_issuer_and_account() {
        let totp = totp(vec![7; SECRET_BYTES], "jane:doe@clinic.example").ok();
        let uri = totp.and_then(|t| t.to_url().ok()).unwrap_or_default();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains("issuer=Dental%20Assistant"), "{uri}");
        assert!(uri.contains("jane_doe%40clinic.example"), "{uri}");
        let svg = qr_svg(&uri).unwrap_or_default();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn recovery_codes_are_distinct_80_bit_and_normalised_before_hashing() {
        let codes = new_recovery_codes().unwrap_or_default();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        for c in &codes {
            assert_eq!(c.len(), 19, "{c}");
            assert!(!is_totp_shaped(&normalise(c)));
        }
        let c = &codes[0];
        assert_eq!(
            recovery_hash(c),
            recovery_hash(&format!("  {} ", c.to_uppercase().replace('-', " ")))
        );
        assert_eq!(format_recovery(&[0; RECOVERY_BYTES]), "aaaa-aaaa-aaaa-aaaa");
    }
}
