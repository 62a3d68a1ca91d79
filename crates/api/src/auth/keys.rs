//! Keys derived from `JWT_SECRET`, one per purpose (HMAC-SHA256 of a fixed label), so the device
//! cookie and the refresh-successor seal need no configuration of their own and no key serves two
//! purposes.

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A 256-bit key for one purpose. Never printed.
#[derive(Clone)]
pub struct SubKey([u8; 32]);

impl std::fmt::Debug for SubKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubKey(***)")
    }
}

impl SubKey {
    /// `HMAC-SHA256(root, label)`.
    pub fn derive(root: &[u8], label: &str) -> Self {
        Self(mac(root, &[label.as_bytes()]))
    }

    /// `HMAC-SHA256(self, part_1 || part_2 || ...)`, each part length-prefixed.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.0, parts)
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length.
    let Ok(mut m) = HmacSha256::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        m.update(&(part.len() as u64).to_be_bytes());
        m.update(part);
    }
    m.finalize().into_bytes().into()
}

/// Where the TOTP-secret encryption key comes from.
#[derive(Clone, Copy)]
pub enum MfaKeySource<'a> {
    /// `MFA_ENCRYPTION_KEY`: rotating `JWT_SECRET` leaves enrolled authenticators readable.
    Configured(&'a [u8]),
    /// No key configured: derived from `JWT_SECRET` under its own label, so no key serves two purposes, but
    /// rotating `JWT_SECRET` makes every stored secret unreadable (users must enrol again).
    FromJwtSecret(&'a [u8]),
}

impl MfaKeySource<'_> {
    /// A 256-bit AES key: HKDF-SHA256 (RFC 5869) of the source, with a label naming the source.
    pub fn derive(self) -> [u8; 32] {
        let (ikm, info): (&[u8], &[u8]) = match self {
            MfaKeySource::Configured(k) => (k, b"dental/mfa-secret-seal/v1"),
            MfaKeySource::FromJwtSecret(k) => (k, b"dental/mfa-secret-seal/from-jwt-secret/v1"),
        };
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32, so expand cannot fail.
        if hkdf::Hkdf::<Sha256>::new(Some(b"dental-mfa"), ikm)
            .expand(info, &mut okm)
            .is_err()
        {
            okm = mac(ikm, &[info]);
        }
        okm
    }
}

/// Every derived key the auth flows use.
#[derive(Debug, Clone)]
pub struct DerivedKeys {
    /// Signs the known-device cookies (`auth::device`).
    pub device: SubKey,
    /// Seals a rotated refresh token's successor for the grace period (`auth::tokens`).
    pub refresh_seal: SubKey,
}

impl DerivedKeys {
    pub fn new(root: &[u8]) -> Self {
        Self {
            device: SubKey::derive(root, "dental/device-cookie/v1"),
            refresh_seal: SubKey::derive(root, "dental/refresh-successor-seal/v1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_get_different_keys_and_parts_are_unambiguous() {
        let keys = DerivedKeys::new(b"root-secret-root-secret-root-secret!");
        assert_ne!(keys.device.mac(&[b"x"]), keys.refresh_seal.mac(&[b"x"]));
        assert_ne!(keys.device.mac(&[b"ab", b"c"]), keys.device.mac(&[b"a", b"bc"]));
        assert_eq!(format!("{:?}", keys.device), "SubKey(***)");
    }

    #[test]
    fn the_mfa_key_depends_on_its_source_and_label() {
        let root = b"root-secret-root-secret-root-secret!";
        let configured = MfaKeySource::Configured(root).derive();
        let fallback = MfaKeySource::FromJwtSecret(root).derive();
        assert_ne!(configured, fallback);
        assert_eq!(configured, MfaKeySource::Configured(root).derive());
        assert_ne!(fallback, DerivedKeys::new(root).device.mac(&[]));
    }
}
