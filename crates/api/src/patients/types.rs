//! Parsed patient fields: past the handler, no invalid value can exist.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use shared::FieldError;

use crate::domain::email::Email;
pub use crate::domain::phone::{Phone, PhoneRegion};
use crate::http::error::ApiError;

pub const NAME_MAX: usize = 200;
pub const NOTES_MAX: usize = 10_000;

fn field(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

/// Trimmed, 1-200 characters, no control characters.
#[derive(Clone)]
pub struct PatientName(String);

impl PatientName {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(field("name", "required", "Name is required."));
        }
        if s.chars().count() > NAME_MAX {
            return Err(field(
                "name",
                "too_long",
                format!("Name must be at most {NAME_MAX} characters."),
            ));
        }
        if s.chars().any(char::is_control) {
            return Err(field("name", "invalid", "Name must not contain control characters."));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `YYYY-MM-DD`, not in the future and not before 1900.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateOfBirth(NaiveDate);

impl DateOfBirth {
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, FieldError> {
        let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
            .ok()
            .filter(|_| raw.trim().len() == 10)
            .ok_or_else(|| {
                field(
                    "dateOfBirth",
                    "invalid_date",
                    "Date of birth must be a date like 1985-04-23.",
                )
            })?;
        if date > today {
            return Err(field(
                "dateOfBirth",
                "in_future",
                "Date of birth cannot be in the future.",
            ));
        }
        if date < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN) {
            return Err(field(
                "dateOfBirth",
                "too_early",
                "Date of birth cannot be before 1900-01-01.",
            ));
        }
        Ok(Self(date))
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

/// Free-text clinical notes, at most 10,000 characters. Kept as typed (only outer blank lines trimmed).
#[derive(Clone)]
pub struct MedicalNotes(String);

impl MedicalNotes {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.contains('\0') {
            // PostgreSQL text cannot hold NUL; refuse it rather than fail on insert.
            return Err(field(
                "medicalNotes",
                "invalid",
                "Medical notes must not contain NUL characters.",
            ));
        }
        if s.chars().count() > NOTES_MAX {
            return Err(field(
                "medicalNotes",
                "too_long",
                format!("Medical notes must be at most {NOTES_MAX} characters."),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `POST /patients` body as sent. Blank optional fields are stored as null.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Ana García", "email": "ana@example.com", "phone": "+34 911 234 567", "dateOfBirth": "1985-04-23", "medicalNotes": "Allergic to penicillin."}))]
pub struct PatientInput {
    /// Trimmed, 1-200 characters.
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    /// A number of the clinic's country as dialled there (`612 345 678` in Spain, `(555) 010-2000` in the US), or
    /// `+` (or `00`) and the country code; stored and returned in E.164 (`+34612345678`).
    #[serde(default)]
    pub phone: Option<String>,
    /// `YYYY-MM-DD`, not in the future, not before 1900-01-01.
    #[serde(default)]
    #[schema(format = Date)]
    pub date_of_birth: Option<String>,
    /// At most 10,000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub medical_notes: Option<String>,
}

/// A field of a partial update: absent (leave it), `null` (clear it) or a new value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Clear,
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Only called when the key is present; `#[serde(default)]` covers the absent case.
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Clear,
            Some(v) => Patch::Set(v),
        })
    }
}

/// `PATCH /patients/{id}` body as sent: any subset of the patient's fields; `null` (or blank) clears an optional one.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatientPatchInput {
    /// Cannot be cleared.
    #[serde(default)]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Email, max_length = 254)]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub phone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub date_of_birth: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub medical_notes: Patch<String>,
}

/// A patient to create.
pub struct NewPatient {
    pub name: PatientName,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub date_of_birth: Option<DateOfBirth>,
    pub medical_notes: Option<MedicalNotes>,
}

/// A validated partial update.
#[derive(Default)]
pub struct PatientUpdate {
    pub name: Option<PatientName>,
    pub email: Patch<Email>,
    pub phone: Patch<Phone>,
    pub date_of_birth: Patch<DateOfBirth>,
    pub medical_notes: Patch<MedicalNotes>,
}

impl<T> Patch<T> {
    /// Whether the request mentioned the field at all.
    pub fn is_present(&self) -> bool {
        !matches!(self, Patch::Absent)
    }

    /// The new value, when one was given.
    pub fn value(&self) -> Option<&T> {
        match self {
            Patch::Set(v) => Some(v),
            Patch::Absent | Patch::Clear => None,
        }
    }
}

/// Blank optional text is "no value": a form's empty box clears the field rather than failing it.
fn optional<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> Result<T, FieldError>,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let raw = raw.filter(|s| !s.trim().is_empty())?;
    parse(raw).map_err(|e| errors.push(e)).ok()
}

fn parse_email(raw: &str) -> Result<Email, FieldError> {
    Email::parse(raw).map_err(|e| field("email", e.code(), e.message()))
}

impl NewPatient {
    pub fn parse(input: &PatientInput, today: NaiveDate, region: PhoneRegion) -> Result<Self, ApiError> {
        Self::parse_fields(input, today, region).map_err(ApiError::Validation)
    }

    /// The rules of `POST /patients`, with every failing field named: also what each row of an import is held to
    /// (`portability`), so a file and the form accept exactly the same patients.
    pub fn parse_fields(input: &PatientInput, today: NaiveDate, region: PhoneRegion) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = if let Some(n) = input.name.as_deref() {
            PatientName::parse(n).map_err(|e| errors.push(e)).ok()
        } else {
            errors.push(field("name", "required", "Name is required."));
            None
        };
        let email = optional(input.email.as_deref(), parse_email, &mut errors);
        let phone = optional(input.phone.as_deref(), |s| Phone::parse(s, region), &mut errors);
        let date_of_birth = optional(
            input.date_of_birth.as_deref(),
            |s| DateOfBirth::parse(s, today),
            &mut errors,
        );
        let medical_notes = optional(input.medical_notes.as_deref(), MedicalNotes::parse, &mut errors);
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                name,
                email,
                phone,
                date_of_birth,
                medical_notes,
            }),
            _ => Err(errors),
        }
    }
}

/// Parses one optional field of a patch: blank or `null` clears it.
fn patch_field<T>(
    patch: &Patch<String>,
    parse: impl FnOnce(&str) -> Result<T, FieldError>,
    errors: &mut Vec<FieldError>,
) -> Patch<T> {
    match patch {
        Patch::Absent => Patch::Absent,
        Patch::Clear => Patch::Clear,
        Patch::Set(s) if s.trim().is_empty() => Patch::Clear,
        Patch::Set(s) => match parse(s) {
            Ok(v) => Patch::Set(v),
            Err(e) => {
                errors.push(e);
                Patch::Absent
            }
        },
    }
}

impl PatientUpdate {
    pub fn parse(input: PatientPatchInput, today: NaiveDate, region: PhoneRegion) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let name = match input.name {
            Patch::Absent => None,
            Patch::Clear => {
                errors.push(field("name", "required", "Name cannot be cleared."));
                None
            }
            Patch::Set(n) => PatientName::parse(&n).map_err(|e| errors.push(e)).ok(),
        };
        let update = Self {
            name,
            email: patch_field(&input.email, parse_email, &mut errors),
            phone: patch_field(&input.phone, |s| Phone::parse(s, region), &mut errors),
            date_of_birth: patch_field(&input.date_of_birth, |s| DateOfBirth::parse(s, today), &mut errors),
            medical_notes: patch_field(&input.medical_notes, MedicalNotes::parse, &mut errors),
        };
        if errors.is_empty() {
            Ok(update)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// A patient (or a page of them) as a role may see it: without `medicalNotes` (the key omitted, not `null`) for a
/// role without [`crate::db::Permission::ReadNotes`].
pub struct Visible<T> {
    inner: T,
    notes: bool,
}

impl<T> Visible<T> {
    pub fn new(inner: T, notes: bool) -> Self {
        Self { inner, notes }
    }
}

/// Removes `medicalNotes` from a patient object or from each of a page's `items`.
pub fn strip_notes(value: &mut serde_json::Value) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    object.remove("medicalNotes");
    if let Some(items) = object.get_mut("items").and_then(serde_json::Value::as_array_mut) {
        for item in items {
            if let Some(item) = item.as_object_mut() {
                item.remove("medicalNotes");
            }
        }
    }
}

impl<T: serde::Serialize> serde::Serialize for Visible<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.notes {
            return self.inner.serialize(serializer);
        }
        let mut value = serde_json::to_value(&self.inner).map_err(serde::ser::Error::custom)?;
        strip_notes(&mut value);
        value.serialize(serializer)
    }
}

/// 403 `forbidden_field`: a role without notes tried to write them.
pub const NOTES_FORBIDDEN: ApiError = ApiError::ForbiddenCode {
    code: "forbidden_field",
    detail: "Your role may not see or change medical notes.",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or_default()
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(PatientName::parse("  Ana  ").map(|n| n.0).ok().as_deref(), Some("Ana"));
        assert!(PatientName::parse("   ").is_err());
        assert!(PatientName::parse(&"a".repeat(201)).is_err());
        assert!(PatientName::parse(&"é".repeat(200)).is_ok());
        assert!(PatientName::parse("a\u{0}b").is_err());
    }

    #[test]
    fn dates_of_birth_are_bounded() {
        assert!(DateOfBirth::parse("1985-04-23", today()).is_ok());
        assert!(DateOfBirth::parse("2026-11-26", today()).is_ok());
        assert_eq!(
            DateOfBirth::parse("2026-11-27", today()).err().map(|e| e.code),
            Some("in_future".into())
        );
        assert_eq!(
            DateOfBirth::parse("1899-12-31", today()).err().map(|e| e.code),
            Some("too_early".into())
        );
        for bad in ["1985-4-23", "23/04/1985", "1985-02-30", "yesterday"] {
            assert!(DateOfBirth::parse(bad, today()).is_err(), "{bad}");
        }
    }

    #[test]
    fn notes_are_bounded() {
        assert!(MedicalNotes::parse(&"x".repeat(10_000)).is_ok());
        assert!(MedicalNotes::parse(&"x".repeat(10_001)).is_err());
    }

    #[test]
    fn every_failing_field_of_a_new_patient_is_named() {
        let input = PatientInput {
            name: None,
            email: Some("nope".into()),
            phone: Some("123".into()),
            date_of_birth: Some("2999-01-01".into()),
            medical_notes: Some("x".repeat(10_001)),
        };
        let Err(ApiError::Validation(errors)) = NewPatient::parse(&input, today(), PhoneRegion::from_code("US")) else {
            panic!("expected validation errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email", "phone", "dateOfBirth", "medicalNotes"]);
    }

    #[test]
    fn patch_distinguishes_absent_null_and_value() {
        let input: PatientPatchInput =
            serde_json::from_str(r#"{"email": null, "phone": "+34 911 234 567"}"#).unwrap_or_else(|_| panic!("parses"));
        let update =
            PatientUpdate::parse(input, today(), PhoneRegion::from_code("US")).unwrap_or_else(|_| panic!("valid"));
        assert!(update.name.is_none());
        assert!(matches!(update.email, Patch::Clear));
        assert!(matches!(update.phone, Patch::Set(_)));
        assert!(matches!(update.medical_notes, Patch::Absent));
    }

    #[test]
    fn patch_cannot_clear_the_name() {
        let input: PatientPatchInput = serde_json::from_str(r#"{"name": null}"#).unwrap_or_else(|_| panic!("parses"));
        assert!(PatientUpdate::parse(input, today(), PhoneRegion::from_code("US")).is_err());
    }
}
