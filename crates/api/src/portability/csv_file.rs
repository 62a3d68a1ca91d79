//! The CSV format, both ways, through the `csv` crate (RFC 4180 quoting: a cell with a comma, a quote or a line
//! break is quoted, quotes doubled; a quoted cell may span lines).
//!
//! Columns, by the API's JSON names: `id, name, email, phone, dateOfBirth, [medicalNotes,] createdAt, updatedAt`.
//! An import's header names them in any order and any letter case; `name` is required; `id`, `createdAt`,
//! `updatedAt`, `createdBy` and `lastEmergencyAt` are read-only facts of the exporting clinic and are ignored (the
//! importing clinic assigns its own); any other column is an error (`unknown_column`): its data would be lost.
//!
//! Spreadsheet formulas: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return (after any number
//! of `'`) is written with one more `'` in front, so Excel, LibreOffice and Google Sheets show it as text rather
//! than run it (OWASP's "CSV injection" advice). The import removes exactly that one `'`, so an export imports
//! back to the same text, and a cell typed as `'=x` in a spreadsheet (shown there as `=x`) imports as `=x`.

use std::borrow::Cow;

use shared::FieldError;

use crate::patients::types::PatientInput;
use crate::portability::types::{ExportRow, instant};

/// What a cell may not start with unprotected.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The prefix that marks a cell as text in every spreadsheet.
const TEXT_MARK: char = '\'';

/// `s` as a cell no spreadsheet evaluates.
pub fn escape_cell(s: &str) -> Cow<'_, str> {
    if s.trim_start_matches(TEXT_MARK).starts_with(FORMULA_START) {
        Cow::Owned(format!("{TEXT_MARK}{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The inverse of [`escape_cell`]: one `'` removed from a cell it would have protected.
pub fn unescape_cell(s: &str) -> &str {
    match s.strip_prefix(TEXT_MARK) {
        Some(rest) if rest.trim_start_matches(TEXT_MARK).starts_with(FORMULA_START) => rest,
        _ => s,
    }
}

/// The export's header.
pub fn header(include_notes: bool) -> Vec<&'static str> {
    let mut columns = vec!["id", "name", "email", "phone", "dateOfBirth"];
    if include_notes {
        columns.push("medicalNotes");
    }
    columns.extend(["createdAt", "updatedAt"]);
    columns
}

/// Appends `rows` (and first the header, when `with_header`) to `out`.
pub fn write(out: Vec<u8>, rows: &[ExportRow], include_notes: bool, with_header: bool) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if with_header {
        writer.write_record(header(include_notes))?;
    }
    for r in rows {
        let id = r.id.to_string();
        let date_of_birth = r.date_of_birth.map(|d| d.to_string()).unwrap_or_default();
        let (created_at, updated_at) = (instant(r.created_at), instant(r.updated_at));
        let mut cells: Vec<Cow<'_, str>> = vec![
            Cow::Borrowed(id.as_str()),
            escape_cell(&r.name),
            escape_cell(r.email.as_deref().unwrap_or_default()),
            escape_cell(r.phone.as_deref().unwrap_or_default()),
            Cow::Borrowed(date_of_birth.as_str()),
        ];
        if include_notes {
            cells.push(escape_cell(r.medical_notes.as_deref().unwrap_or_default()));
        }
        cells.push(Cow::Borrowed(created_at.as_str()));
        cells.push(Cow::Borrowed(updated_at.as_str()));
        writer.write_record(cells.iter().map(|c| c.as_bytes()))?;
    }
    writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("flushing CSV: {}", e.error()))
}

/// A field of a patient a column fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Name,
    Email,
    Phone,
    DateOfBirth,
    MedicalNotes,
}

impl Field {
    fn json_name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::DateOfBirth => "dateOfBirth",
            Field::MedicalNotes => "medicalNotes",
        }
    }

    fn set(self, input: &mut PatientInput, value: String) {
        let slot = match self {
            Field::Name => &mut input.name,
            Field::Email => &mut input.email,
            Field::Phone => &mut input.phone,
            Field::DateOfBirth => &mut input.date_of_birth,
            Field::MedicalNotes => &mut input.medical_notes,
        };
        *slot = Some(value);
    }
}

const FIELDS: [Field; 5] = [
    Field::Name,
    Field::Email,
    Field::Phone,
    Field::DateOfBirth,
    Field::MedicalNotes,
];

/// Columns an export writes that an import does not take (the importing clinic assigns its own).
const READ_ONLY: [&str; 5] = ["id", "createdAt", "updatedAt", "createdBy", "lastEmergencyAt"];

/// Column names are echoed in errors only this long.
const NAME_SHOWN: usize = 100;

/// An empty patient (every field absent).
pub fn empty_input() -> PatientInput {
    PatientInput {
        name: None,
        email: None,
        phone: None,
        date_of_birth: None,
        medical_notes: None,
    }
}

/// Reads a CSV file: the header's problems are returned (row 0 of the report); each data row is handed to `row`
/// with its number (from 1), the patient its cells describe and the problems found reading them. `row` may stop
/// the reading with an error (too many rows).
pub fn read<E>(
    body: &[u8],
    mut row: impl FnMut(u32, PatientInput, Vec<FieldError>) -> Result<(), E>,
) -> Result<Vec<FieldError>, E> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    let mut file_errors = Vec::new();
    // The header: each column's field, or `None` for one that is ignored or unknown.
    let columns: Vec<Option<Field>> = match reader.read_byte_record(&mut record) {
        Ok(true) => {
            let mut seen: Vec<&'static str> = Vec::new();
            let mut columns = Vec::with_capacity(record.len());
            for (i, raw) in record.iter().enumerate() {
                let raw = if i == 0 {
                    raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
                } else {
                    raw
                };
                let name = String::from_utf8_lossy(raw);
                let name = name.trim();
                let field = FIELDS.into_iter().find(|f| f.json_name().eq_ignore_ascii_case(name));
                let known = field
                    .map(Field::json_name)
                    .or_else(|| READ_ONLY.into_iter().find(|c| c.eq_ignore_ascii_case(name)));
                let column = match known {
                    Some(column) if seen.contains(&column) => {
                        file_errors.push(FieldError::new(
                            column,
                            "duplicate_column",
                            format!("The header names {column} twice."),
                        ));
                        None
                    }
                    Some(column) => {
                        seen.push(column);
                        field
                    }
                    None => {
                        let shown: String = name.chars().take(NAME_SHOWN).collect();
                        file_errors.push(FieldError::new(
                            shown.clone(),
                            "unknown_column",
                            format!(
                                "Column \"{shown}\" is not a patient field; its data would be lost. Remove or rename it (columns: name, email, phone, dateOfBirth, medicalNotes)."
                            ),
                        ));
                        None
                    }
                };
                columns.push(column);
            }
            if !seen.contains(&"name") {
                file_errors.push(FieldError::new(
                    "name",
                    "missing_column",
                    "The header has no name column (the first line must name the columns, e.g. name,email,phone,dateOfBirth).",
                ));
            }
            columns
        }
        Ok(false) => {
            file_errors.push(FieldError::new(
                "name",
                "missing_column",
                "The file is empty: the first line must name the columns, e.g. name,email,phone,dateOfBirth.",
            ));
            return Ok(file_errors);
        }
        Err(_) => {
            file_errors.push(FieldError::new(
                "",
                "malformed_row",
                "The header line could not be read.",
            ));
            return Ok(file_errors);
        }
    };

    let mut number = 0u32;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => {
                // Reading from memory, the crate only fails on input it cannot continue through.
                number += 1;
                row(
                    number,
                    empty_input(),
                    vec![FieldError::new(
                        "",
                        "malformed_row",
                        "This row could not be read as CSV.",
                    )],
                )?;
                break;
            }
        }
        number += 1;
        let mut input = empty_input();
        let mut errors = Vec::new();
        if record.len() != columns.len() {
            errors.push(FieldError::new(
                "",
                "malformed_row",
                format!(
                    "This row has {} cell(s); the header has {}.",
                    record.len(),
                    columns.len()
                ),
            ));
            row(number, input, errors)?;
            continue;
        }
        for (cell, field) in record.iter().zip(&columns) {
            let Some(field) = field else { continue };
            match std::str::from_utf8(cell) {
                Ok(text) => {
                    let text = unescape_cell(text);
                    if !text.trim().is_empty() {
                        field.set(&mut input, text.to_owned());
                    }
                }
                Err(_) => errors.push(FieldError::new(
                    field.json_name(),
                    "invalid_encoding",
                    "This cell is not UTF-8 text. Save the file as CSV UTF-8.",
                )),
            }
        }
        row(number, input, errors)?;
    }
    Ok(file_errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as the tests look at it: number, name, notes, error codes.
    type Seen = (u32, Option<String>, Option<String>, Vec<String>);

    fn rows(body: &str) -> (Vec<FieldError>, Vec<Seen>) {
        let mut out = Vec::new();
        let file = read::<()>(body.as_bytes(), |n, input, errors| {
            out.push((
                n,
                input.name,
                input.medical_notes,
                errors.into_iter().map(|e| e.code).collect(),
            ));
            Ok(())
        })
        .unwrap_or_default();
        (file, out)
    }

    #[test]
    fn formula_cells_are_escaped_and_unescaped_exactly() {
        for (plain, written) in [
            ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
            ("+34612345678", "'+34612345678"),
            ("-2", "'-2"),
            ("@cmd", "'@cmd"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("''+x", "'''+x"),
            ("Ana", "Ana"),
            ("'quoted'", "'quoted'"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(escape_cell(plain), written, "{plain:?}");
            assert_eq!(unescape_cell(written), plain, "{written:?}");
        }
        // Typed in a spreadsheet as text: the mark goes, the formula characters stay.
        assert_eq!(unescape_cell("'=1+1"), "=1+1");
        assert_eq!(unescape_cell("'Ana"), "'Ana");
    }

    #[test]
    fn quoted_cells_keep_commas_quotes_line_breaks_and_unicode() {
        let (file, out) =
            rows("name,medicalNotes\r\n\"García, Ana \"\"Anita\"\"\",\"line one\nline two\"\r\nZoë 山田,\r\n");
        assert!(file.is_empty(), "{file:?}");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1.as_deref(), Some("García, Ana \"Anita\""));
        assert_eq!(out[0].2.as_deref(), Some("line one\nline two"));
        assert_eq!(out[1].1.as_deref(), Some("Zoë 山田"));
        assert_eq!(out[1].2, None, "a blank cell is no value");
    }

    #[test]
    fn the_header_is_checked_and_read_only_columns_are_ignored() {
        let (file, out) = rows("\u{feff}ID,Name,colour,name,createdAt\r\nx,Ana,blue,Ana,y\r\n");
        let codes: Vec<(&str, &str)> = file.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(codes, [("colour", "unknown_column"), ("name", "duplicate_column")]);
        assert_eq!(out[0].1.as_deref(), Some("Ana"));
        let (file, _) = rows("email\r\na@b.example\r\n");
        assert_eq!(file[0].code, "missing_column");
        let (file, out) = rows("");
        assert_eq!((file[0].code.as_str(), out.len()), ("missing_column", 0));
    }

    #[test]
    fn rows_are_numbered_from_one_after_the_header_and_short_rows_are_reported() {
        let (_, out) = rows("name,email\r\nAna,a@b.example\r\nBruno\r\n\r\nCarla,c@d.example\r\n");
        let summary: Vec<(u32, Vec<String>)> = out.into_iter().map(|(n, _, _, e)| (n, e)).collect();
        assert_eq!(
            summary,
            [(1, vec![]), (2, vec!["malformed_row".to_owned()]), (3, vec![])]
        );
    }

    #[test]
    fn a_cell_that_is_not_utf8_is_named() {
        let mut out = Vec::new();
        let body = b"name,email\r\nAna,\xff\xfe\r\n";
        let _ = read::<()>(body, |_, _, errors| {
            out.extend(errors);
            Ok(())
        });
        assert_eq!(
            (out[0].field.as_str(), out[0].code.as_str()),
            ("email", "invalid_encoding")
        );
    }

    #[test]
    fn the_writer_quotes_what_needs_it() {
        let row = ExportRow {
            id: uuid::Uuid::nil(),
            name: "García, \"Ana\"".to_owned(),
            email: None,
            phone: Some("+34612345678".to_owned()),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1985, 4, 23),
            medical_notes: Some("a\nb".to_owned()),
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        };
        let out = write(Vec::new(), &[row], true, true).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&out),
            "id,name,email,phone,dateOfBirth,medicalNotes,createdAt,updatedAt\r\n\
             00000000-0000-0000-0000-000000000000,\"García, \"\"Ana\"\"\",,'+34612345678,1985-04-23,\"a\nb\",\
             1970-01-01T00:00:00.000000Z,1970-01-01T00:00:00.000000Z\r\n"
        );
    }
}
