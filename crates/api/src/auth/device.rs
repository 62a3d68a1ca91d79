//! Known devices: a signed, long-lived cookie set by every successful sign-in, which says "this
//! browser signed in as this account before". It grants nothing on its own: it only lets the
//! owner's own device skip the per-account delay that failed sign-ins from elsewhere build up
//! (`ratelimit::login`), and gives that device a failure window of its own instead of the IP's.
//!
//! One cookie per account, so a shared front-desk computer knows each person who signs in on it:
//! `device_<tag>=<value>` where `tag` is 8 bytes of `HMAC(key, email)` in hex (the email itself is
//! never in the browser's cookie list), and `value` is base64url(`device id` 16 || `issued`
//! 8, big-endian Unix seconds || `HMAC(key, tag || id || issued)` 16). `HttpOnly; Secure;
//! SameSite=Strict`, scoped to the sign-in route only, for [`DEVICE_TTL`].

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;

use crate::auth::keys::SubKey;

/// How long a device stays known after its last successful sign-in.
pub const DEVICE_TTL: Duration = Duration::from_secs(180 * 24 * 3600);
/// The only route the cookie is sent to.
pub const PATH: &str = "/api/v1/auth/login";
const PREFIX: &str = "device_";
const VALUE_LEN: usize = 16 + 8 + 16;

/// A known device's random id (the per-device failure window is keyed by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceId(pub [u8; 16]);

impl DeviceId {
    pub fn hex(&self) -> String {
        crate::ratelimit::hex(&self.0)
    }
}

fn tag(key: &SubKey, account: &str) -> String {
    crate::ratelimit::hex(&key.mac(&[b"tag", account.as_bytes()])[..8])
}

fn signature(key: &SubKey, tag: &str, id: &[u8; 16], issued: u64) -> [u8; 16] {
    let full = key.mac(&[b"device", tag.as_bytes(), id, &issued.to_be_bytes()]);
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The device id of a valid, unexpired cookie for `account` (the normalised email), if the
/// request carries one.
pub fn recognise(key: &SubKey, headers: &HeaderMap, account: &str, now_secs: u64) -> Option<DeviceId> {
    let name = format!("{PREFIX}{}", tag(key, account));
    let value = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)?;
    let bytes = URL_SAFE_NO_PAD.decode(value).ok().filter(|b| b.len() == VALUE_LEN)?;
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes[..16]);
    let mut issued = [0u8; 8];
    issued.copy_from_slice(&bytes[16..24]);
    let issued = u64::from_be_bytes(issued);
    let expected = signature(key, &name[PREFIX.len()..], &id, issued);
    if !bool::from(expected.ct_eq(&bytes[24..])) {
        return None;
    }
    let fresh = issued <= now_secs.saturating_add(300) && now_secs.saturating_sub(issued) < DEVICE_TTL.as_secs();
    fresh.then_some(DeviceId(id))
}

/// The `Set-Cookie` value that (re)marks this browser as a known device of `account`, keeping its
/// id when it already had one.
pub fn cookie(key: &SubKey, account: &str, existing: Option<DeviceId>, now_secs: u64, secure: bool) -> HeaderValue {
    let tag = tag(key, account);
    let id = existing.map_or_else(
        || {
            let mut id = [0u8; 16];
            rand::rng().fill_bytes(&mut id);
            id
        },
        |d| d.0,
    );
    let mut bytes = Vec::with_capacity(VALUE_LEN);
    bytes.extend_from_slice(&id);
    bytes.extend_from_slice(&now_secs.to_be_bytes());
    bytes.extend_from_slice(&signature(key, &tag, &id, now_secs));
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{PREFIX}{tag}={}; HttpOnly{secure}; SameSite=Strict; Path={PATH}; Max-Age={}",
        URL_SAFE_NO_PAD.encode(bytes),
        DEVICE_TTL.as_secs()
    );
    // Only base64url, hex and fixed text: always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("device_=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SubKey {
        SubKey::derive(b"root-secret-root-secret-root-secret!", "test")
    }

    fn headers_with(set_cookie: &HeaderValue) -> HeaderMap {
        let pair = set_cookie
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("refresh_token=x; {pair}")).unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn a_cookie_is_recognised_for_its_account_only_and_keeps_its_id() {
        let now = 1_800_000_000;
        let set = cookie(&key(), "a@x.example", None, now, true);
        let text = set.to_str().unwrap_or_default();
        assert!(text.contains("HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth/login"));
        assert!(!text.contains("a@x"));
        let headers = headers_with(&set);
        let id = recognise(&key(), &headers, "a@x.example", now + 60);
        assert!(id.is_some());
        assert_eq!(recognise(&key(), &headers, "b@x.example", now), None);
        let again = cookie(&key(), "a@x.example", id, now + 100, true);
        assert_eq!(recognise(&key(), &headers_with(&again), "a@x.example", now + 100), id);
    }

    #[test]
    fn forged_tampered_expired_and_foreign_key_cookies_are_not_recognised() {
        let now = 1_800_000_000;
        let set = cookie(&key(), "a@x.example", None, now, true);
        let headers = headers_with(&set);
        assert_eq!(
            recognise(&key(), &headers, "a@x.example", now + DEVICE_TTL.as_secs()),
            None
        );
        let other = SubKey::derive(b"another-root-another-root-another!!", "test");
        assert_eq!(recognise(&other, &headers, "a@x.example", now), None);
        let text = headers[header::COOKIE].to_str().unwrap_or_default().to_owned();
        let (name, value) = text
            .split("; ")
            .nth(1)
            .and_then(|p| p.split_once('='))
            .unwrap_or_default();
        let mut bytes = URL_SAFE_NO_PAD.decode(value).unwrap_or_default();
        bytes[0] ^= 1;
        let mut tampered = HeaderMap::new();
        tampered.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{name}={}", URL_SAFE_NO_PAD.encode(&bytes)))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(recognise(&key(), &tampered, "a@x.example", now), None);
        let mut garbage = HeaderMap::new();
        garbage.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{name}=!!!")).unwrap_or(HeaderValue::from_static("")),
        );
        assert_eq!(recognise(&key(), &garbage, "a@x.example", now), None);
    }
}
