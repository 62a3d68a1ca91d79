//! `Phone`: a number as a front desk types it, read in the clinic's country and kept in E.164.
//!
//! Parsing (national formats, trunk prefixes such as the UK's `0`, international prefixes such as `00` or the
//! US `011`) is Google's libphonenumber metadata through the `phonenumber` crate, the same data the web app's
//! `libphonenumber-js` uses, so both sides read a typed number alike. A number is accepted when its length is
//! possible for its country (what the web checks too), not only when it falls in a range allocated today: the
//! fictional `(555) 010-2000` of the contract and numbers from ranges newer than the bundled metadata still save.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id;
use phonenumber::{Mode, PhoneNumber};
use shared::FieldError;

/// Longer input is refused before parsing (a formatted E.164 number is at most about 25 characters).
const TYPED_MAX_CHARS: usize = 40;

/// The country whose national numbers a clinic types: `clinics.country` (ISO 3166-1 alpha-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhoneRegion(Option<Id>);

impl PhoneRegion {
    /// A region the metadata does not know reads only international numbers.
    pub fn from_code(code: &str) -> Self {
        Self(Id::from_str(code.trim()).ok())
    }

    /// No national numbers at all: `+` (or `00`) and the country code only.
    pub const INTERNATIONAL_ONLY: Self = Self(None);
}

/// A phone number in E.164 (`+34612345678`).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(..)")
    }
}

fn invalid(message: &str) -> FieldError {
    FieldError::new("phone", "invalid_phone", message)
}

const HOW: &str = "Type a local number as you dial it, or + and the country code, e.g. +44 20 7946 0958.";

impl Phone {
    /// Reads `raw` as a number of `region` unless it starts with `+` or `00` (then the country code follows).
    pub fn parse(raw: &str, region: PhoneRegion) -> Result<Self, FieldError> {
        let typed = raw.trim();
        if typed.chars().count() > TYPED_MAX_CHARS {
            return Err(invalid(&format!("This is not a phone number. {HOW}")));
        }
        // Digits and the separators people type; no letters (vanity numbers), no extensions.
        let mut compact = String::with_capacity(typed.len());
        for (i, c) in typed.chars().enumerate() {
            match c {
                '0'..='9' => compact.push(c),
                '+' if i == 0 => compact.push(c),
                ' ' | '-' | '.' | '(' | ')' | '/' | '\u{a0}' => {}
                _ => return Err(invalid(&format!("Use digits, spaces, dashes or brackets only. {HOW}"))),
            }
        }
        // `00` is the international prefix of most of the world; read it as `+` whatever the clinic's country
        // (no national number starts with `00`), so `0044 ...` works in a US clinic too.
        let international = match compact.strip_prefix("00") {
            Some(rest) => Some(format!("+{rest}")),
            None => compact.starts_with('+').then(|| compact.clone()),
        };
        let parsed = match (&international, region.0) {
            (Some(number), _) => phonenumber::parse(None, number),
            (None, Some(country)) => phonenumber::parse(Some(country), &compact),
            (None, None) => {
                return Err(invalid("Phone must include the country code, e.g. +44 20 7946 0958."));
            }
        };
        let number = parsed.map_err(|_| invalid(&format!("This is not a valid phone number. {HOW}")))?;
        if !possible_length(&number) {
            return Err(invalid(&format!(
                "This number has too many or too few digits for its country. {HOW}"
            )));
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        let digits = e164.len().saturating_sub(1);
        if !(8..=15).contains(&digits) || !e164.starts_with('+') {
            return Err(invalid(&format!("This is not a valid phone number. {HOW}")));
        }
        Ok(Self(e164))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether the national number has a length some number of its country has (libphonenumber's "possible"). The
/// countries sharing a code (`+1`: US, CA, ...; `+44`: GB, JE, ...) are all asked: the crate names the region only
/// for numbers in an allocated range, which this check deliberately does not require.
fn possible_length(number: &PhoneNumber) -> bool {
    let db = &*phonenumber::metadata::DATABASE;
    let Ok(length) = u16::try_from(number.national().to_string().len()) else {
        return false;
    };
    let metas = match number.metadata(db) {
        Some(meta) => vec![meta],
        None => db.by_code(&number.code().value()).unwrap_or_default(),
    };
    number.extension().is_none() && metas.into_iter().any(|meta| has_length(meta, length))
}

fn has_length(meta: &phonenumber::Metadata, length: u16) -> bool {
    // The bundled metadata lists possible lengths per number type (the general descriptor's list is empty).
    let d = meta.descriptors();
    let kinds = [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ];
    d.general().possible_length().contains(&length)
        || kinds
            .into_iter()
            .flatten()
            .any(|k| k.possible_length().contains(&length))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str, country: &str) -> Option<String> {
        Phone::parse(raw, PhoneRegion::from_code(country)).ok().map(|p| p.0)
    }

    #[test]
    fn spanish_numbers_read_in_a_spanish_clinic() {
        for typed in [
            "612 345 678",
            "612-34-56-78",
            "+34 612 345 678",
            "0034 612 345 678",
            "(91) 123 45 67",
        ] {
            let expected = if typed.contains("91") {
                "+34911234567"
            } else {
                "+34612345678"
            };
            assert_eq!(read(typed, "ES").as_deref(), Some(expected), "{typed}");
        }
    }

    #[test]
    fn us_numbers_read_in_a_us_clinic() {
        for typed in [
            "(555) 010-2000",
            "555-010-2000",
            "555.010.2000",
            "1 555 010 2000",
            "+1 (555) 010-2000",
        ] {
            assert_eq!(read(typed, "US").as_deref(), Some("+15550102000"), "{typed}");
        }
        // The US international prefix and the worldwide `00` both reach another country.
        assert_eq!(read("011 44 20 7946 0958", "US").as_deref(), Some("+442079460958"));
        assert_eq!(read("0044 20 7946 0958", "US").as_deref(), Some("+442079460958"));
    }

    #[test]
    fn british_numbers_drop_the_trunk_zero() {
        assert_eq!(read("020 7946 0958", "GB").as_deref(), Some("+442079460958"));
        assert_eq!(read("07700 900123", "GB").as_deref(), Some("+447700900123"));
        assert_eq!(read("+44 (0)20 7946 0958", "US").as_deref(), Some("+442079460958"));
    }

    #[test]
    fn portuguese_brazilian_and_german_numbers() {
        assert_eq!(read("912 345 678", "PT").as_deref(), Some("+351912345678"));
        assert_eq!(read("21 123 4567", "PT").as_deref(), Some("+351211234567"));
        assert_eq!(read("(11) 91234-5678", "BR").as_deref(), Some("+5511912345678"));
        assert_eq!(read("+55 21 2345-6789", "ES").as_deref(), Some("+552123456789"));
        assert_eq!(read("030 12345678", "DE").as_deref(), Some("+493012345678"));
        assert_eq!(read("0151 23456789", "DE").as_deref(), Some("+4915123456789"));
        assert_eq!(read("0049 30 12345678", "PT").as_deref(), Some("+493012345678"));
    }

    #[test]
    fn the_same_digits_mean_different_numbers_in_different_clinics() {
        assert_eq!(read("612 345 678", "ES").as_deref(), Some("+34612345678"));
        assert_eq!(read("612 345 678", "PT").as_deref(), Some("+351612345678"));
        assert_eq!(read("612 345 678", "US"), None);
        assert_eq!(read("020 7946 0958", "US"), None);
    }

    #[test]
    fn garbage_is_refused_with_invalid_phone() {
        for bad in [
            "",
            "12",
            "abc",
            "555-FLOWERS",
            "+",
            "+12",
            "++34 612 345 678",
            "612 345 678 ext 5",
            "+999 1234 5678",
            "+34 612 345 6789 0",
            "1".repeat(41).as_str(),
            "612 + 345",
        ] {
            let err = Phone::parse(bad, PhoneRegion::from_code("ES")).err();
            assert_eq!(
                err.map(|e| (e.field, e.code)),
                Some(("phone".into(), "invalid_phone".into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn without_a_known_country_only_international_numbers_are_read() {
        assert_eq!(
            Phone::parse("+34 612 345 678", PhoneRegion::INTERNATIONAL_ONLY)
                .ok()
                .map(|p| p.0)
                .as_deref(),
            Some("+34612345678")
        );
        assert!(Phone::parse("612 345 678", PhoneRegion::from_code("ZZ")).is_err());
    }

    #[test]
    fn debug_hides_the_number() {
        let phone = Phone::parse("+34 612 345 678", PhoneRegion::INTERNATIONAL_ONLY).ok();
        assert!(!format!("{phone:?}").contains("612"));
    }
}
