//! FHIR R4 `Patient` resources as NDJSON (one resource a line, as FHIR bulk data writes them), both ways.
//!
//! | patient field | FHIR element |
//! |---|---|
//! | `id` | `id`, and `identifier[0]` = `{system: "urn:ietf:rfc:3986", value: "urn:uuid:<id>"}` |
//! | `name` | `name[0].text` (stored as one string, so not split into `family`/`given`) |
//! | `phone` | `telecom[]` with `system: "phone"` (E.164) |
//! | `email` | `telecom[]` with `system: "email"` |
//! | `dateOfBirth` | `birthDate` |
//! | `updatedAt` | `meta.lastUpdated` |
//! | `medicalNotes` (only with `includeNotes=true`) | `extension[]` with `url` [`NOTES_EXTENSION`], `valueString` |
//!
//! Reading takes the same elements back; a name given only as parts is joined (`prefix given family suffix`). `id`,
//! `identifier`, `meta` and `text` (the narrative) are ignored: the importing clinic assigns its own id. Anything
//! else is reported rather than dropped: an unknown element (`unknown_field`), a second name, phone or email
//! (`multiple_values`), a telecom system other than phone or email (`unsupported_value`), another resource type
//! (`unsupported_resource`).

use serde::Serialize;
use serde_json::Value;
use shared::FieldError;

use crate::patients::types::PatientInput;
use crate::portability::csv_file::empty_input;
use crate::portability::types::{ExportRow, instant};

/// The extension that carries a patient's free-text medical notes (this API's own; FHIR has no element for them on
/// `Patient`, and a `DocumentReference` per patient would break "one `Patient` a line").
pub const NOTES_EXTENSION: &str = "urn:dental-assistant:fhir:StructureDefinition:medical-notes";

/// The identifier system for ids that are URIs (RFC 3986): a patient's id as `urn:uuid:<id>`, globally unique.
pub const IDENTIFIER_SYSTEM: &str = "urn:ietf:rfc:3986";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PatientResource<'a> {
    resource_type: &'static str,
    id: String,
    meta: Meta,
    identifier: [Identifier; 1],
    name: [HumanName<'a>; 1],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    telecom: Vec<ContactPoint<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    birth_date: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extension: Vec<Extension<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    last_updated: String,
}

#[derive(Serialize)]
struct Identifier {
    system: &'static str,
    value: String,
}

#[derive(Serialize)]
struct HumanName<'a> {
    text: &'a str,
}

#[derive(Serialize)]
struct ContactPoint<'a> {
    system: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extension<'a> {
    url: &'static str,
    value_string: &'a str,
}

/// Appends one line per patient to `out`.
pub fn write(out: &mut Vec<u8>, rows: &[ExportRow], include_notes: bool) -> serde_json::Result<()> {
    for r in rows {
        let mut telecom = Vec::with_capacity(2);
        if let Some(phone) = r.phone.as_deref() {
            telecom.push(ContactPoint {
                system: "phone",
                value: phone,
            });
        }
        if let Some(email) = r.email.as_deref() {
            telecom.push(ContactPoint {
                system: "email",
                value: email,
            });
        }
        let extension = match r.medical_notes.as_deref() {
            Some(notes) if include_notes => vec![Extension {
                url: NOTES_EXTENSION,
                value_string: notes,
            }],
            _ => Vec::new(),
        };
        let resource = PatientResource {
            resource_type: "Patient",
            id: r.id.to_string(),
            meta: Meta {
                last_updated: instant(r.updated_at),
            },
            identifier: [Identifier {
                system: IDENTIFIER_SYSTEM,
                value: format!("urn:uuid:{}", r.id),
            }],
            name: [HumanName { text: &r.name }],
            telecom,
            birth_date: r.date_of_birth.map(|d| d.to_string()),
            extension,
        };
        serde_json::to_writer(&mut *out, &resource)?;
        out.push(b'\n');
    }
    Ok(())
}

/// Reads an NDJSON file: each non-blank line is a row (numbered from 1) handed to `row` with the patient it
/// describes and the problems found reading it.
pub fn read<E>(body: &[u8], mut row: impl FnMut(u32, PatientInput, Vec<FieldError>) -> Result<(), E>) -> Result<(), E> {
    let mut number = 0u32;
    for line in body.split(|b| *b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        number += 1;
        match serde_json::from_slice::<Value>(line) {
            Ok(value) => {
                let (input, errors) = decode(&value);
                row(number, input, errors)?;
            }
            Err(e) => row(
                number,
                empty_input(),
                vec![FieldError::new(
                    "",
                    "malformed_json",
                    format!(
                        "This line is not one JSON object (column {}). NDJSON has one resource per line.",
                        e.column()
                    ),
                )],
            )?,
        }
    }
    Ok(())
}

fn wrong_type(field: &str, what: &str) -> FieldError {
    FieldError::new(field, "invalid_type", format!("{field} must be {what}."))
}

fn several(field: &str, what: &str) -> FieldError {
    FieldError::new(
        field,
        "multiple_values",
        format!("This patient has more than one {what}; a patient here has one. Keep one and import again."),
    )
}

/// The patient a `Patient` resource describes, and what of it could not be taken.
pub fn decode(value: &Value) -> (PatientInput, Vec<FieldError>) {
    let mut input = empty_input();
    let mut errors = Vec::new();
    let Some(resource) = value.as_object() else {
        errors.push(FieldError::new("", "invalid_type", "This line is not a JSON object."));
        return (input, errors);
    };
    match resource.get("resourceType").and_then(Value::as_str) {
        Some("Patient") => {}
        Some(_) => {
            errors.push(FieldError::new(
                "resourceType",
                "unsupported_resource",
                "Only Patient resources can be imported.",
            ));
            return (input, errors);
        }
        None => {
            errors.push(FieldError::new(
                "resourceType",
                "required",
                "Each line must be a FHIR resource with \"resourceType\": \"Patient\".",
            ));
            return (input, errors);
        }
    }
    for (key, value) in resource {
        match key.as_str() {
            "resourceType" | "id" | "identifier" | "meta" | "text" => {}
            "name" => input.name = name(value, &mut errors),
            "telecom" => telecom(value, &mut input, &mut errors),
            "birthDate" => match value.as_str() {
                Some(date) => input.date_of_birth = Some(date.to_owned()),
                None => errors.push(wrong_type("dateOfBirth", "a date like 1985-04-23 (birthDate)")),
            },
            "extension" => extensions(value, &mut input, &mut errors),
            other => {
                let shown: String = other.chars().take(100).collect();
                errors.push(FieldError::new(
                    shown.clone(),
                    "unknown_field",
                    format!("{shown} has no place in a patient here; its data would be lost. Remove it to import this patient."),
                ));
            }
        }
    }
    (input, errors)
}

/// `name`: one HumanName, its `text` or else its parts joined.
fn name(value: &Value, errors: &mut Vec<FieldError>) -> Option<String> {
    let Some(names) = value.as_array() else {
        errors.push(wrong_type("name", "a list of HumanName"));
        return None;
    };
    if names.len() > 1 {
        errors.push(several("name", "name"));
        return None;
    }
    let human = names.first()?;
    let Some(human) = human.as_object() else {
        errors.push(wrong_type("name", "a list of HumanName"));
        return None;
    };
    if let Some(text) = human.get("text") {
        if let Some(text) = text.as_str() {
            return Some(text.to_owned());
        }
        errors.push(wrong_type("name", "text (name.text)"));
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for key in ["prefix", "given", "family", "suffix"] {
        match human.get(key) {
            None => {}
            Some(Value::String(s)) => parts.push(s),
            Some(Value::Array(list)) => {
                for part in list {
                    match part.as_str() {
                        Some(s) => parts.push(s),
                        None => errors.push(wrong_type("name", "text (name parts)")),
                    }
                }
            }
            Some(_) => errors.push(wrong_type("name", "text (name parts)")),
        }
    }
    let joined = parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>();
    (!joined.is_empty()).then(|| joined.join(" "))
}

/// `telecom`: at most one phone and one email.
fn telecom(value: &Value, input: &mut PatientInput, errors: &mut Vec<FieldError>) {
    let Some(points) = value.as_array() else {
        errors.push(wrong_type("telecom", "a list of ContactPoint"));
        return;
    };
    for point in points {
        let system = point.get("system").and_then(Value::as_str);
        let Some(value) = point.get("value").and_then(Value::as_str) else {
            errors.push(wrong_type("telecom", "a list of ContactPoint with a text value"));
            continue;
        };
        let (field, slot) = match system {
            Some("phone") => ("phone", &mut input.phone),
            Some("email") => ("email", &mut input.email),
            _ => {
                errors.push(FieldError::new(
                    "telecom",
                    "unsupported_value",
                    "Only phone and email contact points can be imported.",
                ));
                continue;
            }
        };
        if slot.is_some() {
            errors.push(several(field, field));
        } else {
            *slot = Some(value.to_owned());
        }
    }
}

/// `extension`: only this API's medical notes.
fn extensions(value: &Value, input: &mut PatientInput, errors: &mut Vec<FieldError>) {
    let Some(list) = value.as_array() else {
        errors.push(wrong_type("extension", "a list of Extension"));
        return;
    };
    for extension in list {
        if extension.get("url").and_then(Value::as_str) != Some(NOTES_EXTENSION) {
            errors.push(FieldError::new(
                "extension",
                "unknown_field",
                format!(
                    "Only the medical notes extension ({NOTES_EXTENSION}) can be imported; its data would be lost."
                ),
            ));
            continue;
        }
        match extension.get("valueString").and_then(Value::as_str) {
            Some(_) if input.medical_notes.is_some() => errors.push(several("medicalNotes", "set of medical notes")),
            Some(notes) => input.medical_notes = Some(notes.to_owned()),
            None => errors.push(wrong_type("medicalNotes", "text (valueString)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn codes(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect()
    }

    #[test]
    fn a_written_patient_reads_back_the_same() {
        let row = ExportRow {
            id: uuid::Uuid::nil(),
            name: "Ana García".to_owned(),
            email: Some("ana@example.com".to_owned()),
            phone: Some("+34612345678".to_owned()),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1985, 4, 23),
            medical_notes: Some("Allergic to penicillin.\nSecond line.".to_owned()),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        let mut out = Vec::new();
        write(&mut out, &[row], true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.split(|b| *b == b'\n').count(), 2, "one line, ended");
        let value: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(value["resourceType"], "Patient");
        assert_eq!(
            value["identifier"][0]["value"],
            "urn:uuid:00000000-0000-0000-0000-000000000000"
        );
        assert_eq!(value["meta"]["lastUpdated"], "1970-01-01T00:00:00.000000Z");
        assert_eq!(value["birthDate"], "1985-04-23");
        let (input, errors) = decode(&value);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(input.name.as_deref(), Some("Ana García"));
        assert_eq!(input.email.as_deref(), Some("ana@example.com"));
        assert_eq!(input.phone.as_deref(), Some("+34612345678"));
        assert_eq!(input.date_of_birth.as_deref(), Some("1985-04-23"));
        assert_eq!(
            input.medical_notes.as_deref(),
            Some("Allergic to penicillin.\nSecond line.")
        );
    }

    #[test]
    fn a_name_in_parts_is_joined() {
        let (input, errors) = decode(&json!({"resourceType": "Patient",
            "name": [{"use": "official", "prefix": ["Dr"], "given": ["Ana", "María"], "family": "García"}]}));
        assert_eq!(input.name.as_deref(), Some("Dr Ana María García"));
        assert_eq!(codes(&errors), [] as [(&str, &str); 0]);
    }

    #[test]
    fn what_cannot_be_kept_is_reported() {
        let (_, errors) = decode(&json!({"resourceType": "Patient", "gender": "female",
            "name": [{"text": "A"}, {"text": "B"}],
            "telecom": [{"system": "phone", "value": "1"}, {"system": "phone", "value": "2"}, {"system": "fax", "value": "3"}],
            "extension": [{"url": "http://example.org/race", "valueString": "x"}],
            "birthDate": 1985}));
        let mut found = codes(&errors);
        found.sort_unstable();
        assert_eq!(
            found,
            [
                ("dateOfBirth", "invalid_type"),
                ("extension", "unknown_field"),
                ("gender", "unknown_field"),
                ("name", "multiple_values"),
                ("phone", "multiple_values"),
                ("telecom", "unsupported_value"),
            ]
        );
        let (_, errors) = decode(&json!({"resourceType": "Observation"}));
        assert_eq!(codes(&errors), [("resourceType", "unsupported_resource")]);
        let (_, errors) = decode(&json!([1, 2]));
        assert_eq!(codes(&errors), [("", "invalid_type")]);
    }

    #[test]
    fn lines_are_numbered_without_blank_ones_and_bad_json_is_a_row_error() {
        let body = b"{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"A\"}]}\n\n{not json\r\n{\"resourceType\":\"Patient\"}\n";
        let mut seen = Vec::new();
        let _ = read::<()>(body, |n, input, errors| {
            seen.push((n, input.name, errors.into_iter().map(|e| e.code).collect::<Vec<_>>()));
            Ok(())
        });
        assert_eq!(
            seen,
            [
                (1, Some("A".to_owned()), vec![]),
                (2, None, vec!["malformed_json".to_owned()]),
                (3, None, vec![])
            ]
        );
    }
}
