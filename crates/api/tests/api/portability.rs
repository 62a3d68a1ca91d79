//! Records that move: the export (FHIR R4 NDJSON and CSV, streamed in batches, one clinic's only, audited per
//! patient) and the import (every row's errors, dry run, duplicates, all or nothing, limits), by role.

use std::fmt::Write as _;

use axum::body::Body;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt as _;
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, json, problem};

struct Member {
    token: String,
    user_id: Uuid,
    clinic: Uuid,
}

fn uuid_of(v: &Value) -> Uuid {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

async fn owner(app: &TestApp, name: &str) -> Member {
    let r = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"email": app.unique_email(), "password": PASSWORD, "fullName": format!("Dr {name}"), "clinicName": name}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("register: {e}"));
    let session = json(r, 201).await;
    Member {
        token: session["accessToken"].as_str().unwrap_or_default().to_owned(),
        user_id: uuid_of(&session["user"]["id"]),
        clinic: uuid_of(&session["clinic"]["id"]),
    }
}

/// A new account made a member of `clinic` in `role`, signed into it.
async fn member(app: &TestApp, clinic: Uuid, role: &str) -> Member {
    let (token, session) = app.register().await;
    let user_id = uuid_of(&session["user"]["id"]);
    sqlx::query("insert into clinic_members (clinic_id, user_id, role) values ($1, $2, $3)")
        .bind(clinic)
        .bind(user_id)
        .bind(role)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let switched = json(
        app.post(&token, "/auth/switch-clinic", json!({"clinicId": clinic}))
            .await,
        200,
    )
    .await;
    Member {
        token: switched["accessToken"].as_str().unwrap_or_default().to_owned(),
        user_id,
        clinic,
    }
}

async fn export(app: &TestApp, m: &Member, query: &str) -> reqwest::Response {
    app.get(&m.token, &format!("/export/patients?{query}")).await
}

async fn export_text(app: &TestApp, m: &Member, query: &str) -> String {
    let r = export(app, m, query).await;
    assert_eq!(r.status(), 200, "export {query}");
    r.text().await.unwrap_or_else(|e| panic!("export body: {e}"))
}

async fn import(
    app: &TestApp,
    m: &Member,
    query: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.http
        .post(app.url(&format!("/import/patients{query}")))
        .bearer_auth(&m.token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("import: {e}"))
}

async fn count(app: &TestApp, sql: &str, clinic: Uuid) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(clinic)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

async fn patients_in(app: &TestApp, clinic: Uuid) -> i64 {
    count(
        app,
        "select count(*) from patients where clinic_id = $1 and deleted_at is null",
        clinic,
    )
    .await
}

/// The patients of `m`'s clinic as the API shows them (name order), without ids and timestamps.
async fn fields(app: &TestApp, m: &Member) -> Vec<Value> {
    let page = json(app.get(&m.token, "/patients?limit=100&sort=name").await, 200).await;
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            json!({"name": p["name"], "email": p["email"], "phone": p["phone"],
                   "dateOfBirth": p["dateOfBirth"], "medicalNotes": p["medicalNotes"]})
        })
        .collect()
}

/// Patients whose text is hard to carry: quotes, commas, line breaks, unicode, formula-looking cells.
fn awkward_patients() -> Vec<Value> {
    vec![
        json!({"name": "García, Ana \"Anita\"", "email": "ana@example.com", "phone": "+34 612 345 678",
               "dateOfBirth": "1985-04-23", "medicalNotes": "Allergic to penicillin,\nlatex.\r\n\"Severe\" reaction."}),
        json!({"name": "=HYPERLINK(\"http://evil.example\",\"click\")", "medicalNotes": "+1 crown; -2 fillings; @dentist"}),
        json!({"name": "Zoë 山田 Ñúñez", "email": "zoe@example.com", "phone": "(555) 010-2000"}),
        json!({"name": "-Minus", "medicalNotes": "=1+1"}),
        json!({"name": "@At 'quoted'", "dateOfBirth": "2001-12-31"}),
        json!({"name": "'=already marked"}),
    ]
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_export_imported_into_another_clinic_gives_the_same_patients_field_for_field(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let source = owner(&app, "Source").await;
    for p in awkward_patients() {
        app.create_patient(&source.token, p).await;
    }
    let original = fields(&app, &source).await;
    assert_eq!(original.len(), 6);
    for format in ["csv", "fhir"] {
        let file = export_text(&app, &source, &format!("format={format}&includeNotes=true")).await;
        let target = owner(&app, &format!("Target {format}")).await;
        let content_type = if format == "csv" {
            "text/csv"
        } else {
            "application/fhir+ndjson"
        };
        let dry = json(
            import(&app, &target, "?dryRun=true", content_type, file.clone()).await,
            200,
        )
        .await;
        assert_eq!(
            dry,
            json!({"rows": 6, "valid": 6, "invalid": 0, "errors": [], "created": 0}),
            "{format}"
        );
        assert_eq!(patients_in(&app, target.clinic).await, 0, "a dry run creates nothing");
        let report = json(import(&app, &target, "", content_type, file).await, 200).await;
        assert_eq!(report["created"], 6, "{format}: {report}");
        assert_eq!(fields(&app, &target).await, original, "{format}");
        // The imported rows belong to the importing clinic and member, with new ids.
        assert_eq!(
            count(
                &app,
                "select count(*) from patients where clinic_id = $1 and created_by is not null",
                target.clinic
            )
            .await,
            6
        );
        assert_eq!(
            count(
                &app,
                "select count(*) from audit_events where clinic_id = $1 and action = 'patient.create'",
                target.clinic
            )
            .await,
            6,
            "each created patient is in its access log"
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_csv_export_quotes_cells_and_disarms_formulas(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let m = owner(&app, "Csv").await;
    for p in awkward_patients() {
        app.create_patient(&m.token, p).await;
    }
    let r = export(&app, &m, "format=csv&includeNotes=true").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"patients-") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let body = r.text().await.unwrap_or_default();
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map(|h| h.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    assert_eq!(
        header,
        [
            "id",
            "name",
            "email",
            "phone",
            "dateOfBirth",
            "medicalNotes",
            "createdAt",
            "updatedAt"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap_or_default).collect();
    assert_eq!(rows.len(), 6);
    // Oldest first: the order they were created in.
    let names: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(
        names,
        [
            "García, Ana \"Anita\"",
            "'=HYPERLINK(\"http://evil.example\",\"click\")",
            "Zoë 山田 Ñúñez",
            "'-Minus",
            "'@At 'quoted'",
            "''=already marked",
        ]
    );
    assert_eq!(&rows[0][3], "'+34612345678", "a phone starting with + is disarmed too");
    assert_eq!(&rows[0][5], "Allergic to penicillin,\nlatex.\r\n\"Severe\" reaction.");
    assert_eq!(&rows[1][5], "'+1 crown; -2 fillings; @dentist");
    assert_eq!(&rows[3][5], "'=1+1");
    // On the wire: RFC 4180 quoting (doubled quotes, CRLF records) with the line breaks inside the quotes.
    assert!(body.starts_with("id,name,email,phone,dateOfBirth,medicalNotes,createdAt,updatedAt\r\n"));
    assert!(body.contains(",\"García, Ana \"\"Anita\"\"\",ana@example.com,'+34612345678,1985-04-23,\"Allergic to penicillin,\nlatex.\r\n\"\"Severe\"\" reaction.\","));
    // No cell a spreadsheet would evaluate: every cell starts with something other than = + - @.
    for row in &rows {
        for cell in row {
            assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
        }
    }
    // Without includeNotes there is no notes column at all.
    let plain = export_text(&app, &m, "format=csv").await;
    assert!(plain.starts_with("id,name,email,phone,dateOfBirth,createdAt,updatedAt\r\n"));
    assert!(!plain.contains("penicillin"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_fhir_export_is_one_patient_resource_a_line(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let m = owner(&app, "Fhir").await;
    let created = app
        .create_patient(
            &m.token,
            json!({"name": "Ana García", "email": "ana@example.com", "phone": "+34 612 345 678",
                   "dateOfBirth": "1985-04-23", "medicalNotes": "Allergic to penicillin."}),
        )
        .await;
    app.create_patient(&m.token, json!({"name": "Bruno"})).await;
    let r = export(&app, &m, "format=fhir").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/fhir+ndjson");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap_or_default()
            .ends_with(".ndjson\"")
    );
    let body = r.text().await.unwrap_or_default();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(body.ends_with('\n'));
    let id = created["id"].as_str().unwrap_or_default();
    assert_eq!(
        lines[0],
        json!({
            "resourceType": "Patient",
            "id": id,
            "meta": {"lastUpdated": lines[0]["meta"]["lastUpdated"]},
            "identifier": [{"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")}],
            "name": [{"text": "Ana García"}],
            "telecom": [{"system": "phone", "value": "+34612345678"}, {"system": "email", "value": "ana@example.com"}],
            "birthDate": "1985-04-23"
        }),
        "no notes without includeNotes"
    );
    let updated = chrono::DateTime::parse_from_rfc3339(lines[0]["meta"]["lastUpdated"].as_str().unwrap_or_default())
        .map(|d| d.with_timezone(&chrono::Utc));
    let api_updated = chrono::DateTime::parse_from_rfc3339(created["updatedAt"].as_str().unwrap_or_default())
        .map(|d| d.with_timezone(&chrono::Utc));
    assert_eq!(updated.ok(), api_updated.ok(), "meta.lastUpdated is updatedAt");
    assert_eq!(
        lines[1],
        json!({
            "resourceType": "Patient", "id": lines[1]["id"], "meta": lines[1]["meta"],
            "identifier": lines[1]["identifier"], "name": [{"text": "Bruno"}]
        }),
        "absent fields are left out, not null"
    );
    let with_notes = export_text(&app, &m, "format=fhir&includeNotes=true").await;
    let first: Value = serde_json::from_str(with_notes.lines().next().unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        first["extension"],
        json!([{"url": "urn:dental-assistant:fhir:StructureDefinition:medical-notes", "valueString": "Allergic to penicillin."}])
    );
    // A bad format is a precise 422, an unknown parameter a 400.
    let bad = problem(export(&app, &m, "format=xml").await, 422, "validation_failed").await;
    assert_eq!(bad["errors"][0]["field"], "format");
    problem(export(&app, &m, "").await, 422, "validation_failed").await;
    problem(export(&app, &m, "format=csv&limit=3").await, 400, "invalid_query").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_export_streams_every_patient_of_the_clinic_once_and_no_other_clinics(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "A").await;
    let b = owner(&app, "B").await;
    let clinician = member(&app, a.clinic, "clinician").await;
    // More than two batches, with equal creation times across a batch boundary (ties broken by id).
    for (clinic, author, n, label) in [(a.clinic, a.user_id, 1203, "a"), (b.clinic, b.user_id, 7, "b")] {
        sqlx::query(
            "insert into patients (clinic_id, created_by, name, email, created_at)
             select $1, $2, $4 || '-patient-' || g, $4 || g || '@example.com',
                    timestamptz '2026-01-01' + make_interval(secs => g / 3)
             from generate_series(1, $3) g",
        )
        .bind(clinic)
        .bind(author)
        .bind(n)
        .bind(label)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    // A trashed patient is not exported.
    let trashed = app.create_patient(&a.token, json!({"name": "a-trashed"})).await;
    let r = app
        .delete(
            &a.token,
            &format!("/patients/{}", trashed["id"].as_str().unwrap_or_default()),
        )
        .await;
    assert_eq!(r.status(), 204);
    let audit_before = count(
        &app,
        "select count(*) from audit_events where clinic_id = $1 and action = 'patient.export'",
        a.clinic,
    )
    .await;

    let csv = export_text(&app, &clinician, "format=csv").await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let ids: Vec<String> = reader
        .records()
        .map(|r| r.map(|r| r[0].to_owned()).unwrap_or_default())
        .collect();
    let names: Vec<String> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(|r| r.map(|r| r[1].to_owned()).unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), 1203);
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 1203, "no patient twice across batches");
    assert!(
        names.iter().all(|n| n.starts_with("a-patient-")),
        "only clinic A's, no trashed one"
    );
    let stored: Vec<String> = sqlx::query_scalar(
        "select id::text from patients where clinic_id = $1 and deleted_at is null order by created_at, id",
    )
    .bind(a.clinic)
    .fetch_all(&app.admin_db)
    .await
    .unwrap_or_default();
    assert_eq!(ids, stored, "oldest first, each exactly once");

    let fhir = export_text(&app, &clinician, "format=fhir").await;
    assert_eq!(fhir.lines().count(), 1203);
    assert!(fhir.lines().all(|l| l.contains("a-patient-")));

    // Two exports: each wrote one event for the request and one per patient it contained.
    let per_patient = count(
        &app,
        "select count(*) from audit_events where clinic_id = $1 and action = 'patient.export' and patient_id is not null",
        a.clinic,
    )
    .await;
    let per_request = count(
        &app,
        "select count(*) from audit_events where clinic_id = $1 and action = 'patient.export' and patient_id is null",
        a.clinic,
    )
    .await;
    assert_eq!((audit_before, per_patient, per_request), (0, 2 * 1203, 2));
    // The access log of an exported patient shows the exports, by the clinician.
    let log = json(
        app.get(&a.token, &format!("/patients/{}/access-log", ids[700])).await,
        200,
    )
    .await;
    let exports: Vec<&Value> = log["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["action"] == "patient.export")
        .collect();
    assert_eq!(exports.len(), 2, "{log}");
    assert!(exports.iter().all(|e| e["userId"] == clinician.user_id.to_string()));
    // Clinic B sees its own 7 only.
    let b_export = export_text(&app, &b, "format=fhir").await;
    assert_eq!(b_export.lines().count(), 7);
    assert!(b_export.lines().all(|l| l.contains("b-patient-")));
}

#[sqlx::test(migrations = "../../migrations")]
async fn reception_can_neither_export_nor_import(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "A").await;
    app.create_patient(&a.token, json!({"name": "Ana"})).await;
    let desk = member(&app, a.clinic, "reception").await;
    for format in ["csv", "fhir"] {
        problem(export(&app, &desk, &format!("format={format}")).await, 403, "forbidden").await;
    }
    problem(
        import(&app, &desk, "?dryRun=true", "text/csv", "name\r\nBruno\r\n").await,
        403,
        "forbidden",
    )
    .await;
    problem(
        import(&app, &desk, "", "text/csv", "name\r\nBruno\r\n").await,
        403,
        "forbidden",
    )
    .await;
    assert_eq!(patients_in(&app, a.clinic).await, 1);
    assert_eq!(
        count(
            &app,
            "select count(*) from audit_events where clinic_id = $1 and action like 'patient.%port%'",
            a.clinic
        )
        .await,
        0,
        "a refused request leaves no export or import event"
    );
    // A clinician may do both.
    let clinician = member(&app, a.clinic, "clinician").await;
    let report = json(import(&app, &clinician, "", "text/csv", "name\r\nBruno\r\n").await, 200).await;
    assert_eq!(report["created"], 1);
    assert_eq!(export_text(&app, &clinician, "format=csv").await.lines().count(), 3);
    // Without a token: 401.
    let r = app
        .http
        .get(app.url("/export/patients?format=csv"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 401, "invalid_token").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_row_error_is_reported_with_its_row_field_and_code(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let m = owner(&app, "Errors").await;
    // National numbers are read in the clinic's country.
    json(app.patch(&m.token, "/clinic", json!({"country": "ES"})).await, 200).await;
    let existing = app
        .create_patient(
            &m.token,
            json!({"name": "Existing Person", "email": "taken@example.com", "dateOfBirth": "1970-01-01"}),
        )
        .await;
    let existing_id = existing["id"].as_str().unwrap_or_default().to_owned();
    let file = "name,email,phone,dateOfBirth,colour\r\n\
        Ana Lima,ana@example.com,612 345 678,1985-04-23,blue\r\n\
        ,nobody@example.com,,,\r\n\
        Bruno,not-an-email,12,1985-02-30,\r\n\
        Carla,,,2999-01-01,\r\n\
        Short row\r\n\
        Dup Email,ANA@example.com,,,\r\n\
        existing person,,,1970-01-01,\r\n\
        Again,taken@example.com,,,\r\n\
        \"Line\nbreak\",,,,\r\n";
    let report = json(import(&app, &m, "?dryRun=true", "text/csv", file).await, 200).await;
    let found: Vec<(u64, String, String)> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
            (
                e["row"].as_u64().unwrap_or(99),
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, &str, &str)> = vec![
        (0, "colour", "unknown_column"),
        (2, "name", "required"),
        (3, "email", "invalid_email"),
        (3, "phone", "invalid_phone"),
        (3, "dateOfBirth", "invalid_date"),
        (4, "dateOfBirth", "in_future"),
        (5, "", "malformed_row"),
        (6, "email", "possible_duplicate"),
        (7, "name", "possible_duplicate"),
        (8, "email", "possible_duplicate"),
        (9, "name", "invalid"),
    ];
    let expected: Vec<(u64, String, String)> = expected
        .into_iter()
        .map(|(r, f, c)| (r, f.to_owned(), c.to_owned()))
        .collect();
    assert_eq!(found, expected, "{report}");
    let whole_row = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["code"] == "malformed_row");
    assert!(
        whole_row.is_some_and(|e| e["field"].is_null()),
        "a whole-row problem has field null"
    );
    assert_eq!(
        (
            report["rows"].as_u64(),
            report["valid"].as_u64(),
            report["invalid"].as_u64()
        ),
        (Some(9), Some(1), Some(8))
    );
    assert_eq!(report["created"], 0);
    let messages: Vec<&str> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["message"].as_str())
        .collect();
    assert!(messages.contains(&"Row 1 has the same email."), "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains(&existing_id)),
        "names the existing patient"
    );

    // The same file without the dry run: 422 with the same report, and nothing written.
    let refused = problem(import(&app, &m, "", "text/csv", file).await, 422, "import_invalid").await;
    assert_eq!(refused["errors"], report["errors"]);
    assert_eq!(
        (refused["rows"].clone(), refused["created"].clone()),
        (json!(9), json!(0))
    );
    assert_eq!(patients_in(&app, m.clinic).await, 1);

    // FHIR: each line's problems, the same field names.
    let ndjson = concat!(
        r#"{"resourceType":"Patient","name":[{"text":"Ok One"}],"telecom":[{"system":"phone","value":"612 345 679"}]}"#,
        "\n",
        "{not json\n",
        r#"{"resourceType":"Observation"}"#,
        "\n",
        r#"{"resourceType":"Patient","name":[{"text":"X"}],"gender":"female","birthDate":"1985"}"#,
        "\n",
        "\n",
        r#"{"resourceType":"Patient","telecom":[{"system":"email","value":"a@b.example"},{"system":"email","value":"c@d.example"}]}"#,
        "\n",
    );
    let report = json(
        import(&app, &m, "?dryRun=true", "application/fhir+ndjson", ndjson).await,
        200,
    )
    .await;
    let found: Vec<(u64, String, String)> = report["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["row"].as_u64().unwrap_or(99),
                e["field"].as_str().unwrap_or_default().to_owned(),
                e["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(u64, String, String)> = [
        (2, "", "malformed_json"),
        (3, "resourceType", "unsupported_resource"),
        (4, "gender", "unknown_field"),
        (4, "dateOfBirth", "invalid_date"),
        (5, "email", "multiple_values"),
        (5, "name", "required"),
    ]
    .into_iter()
    .map(|(r, f, c)| (r, f.to_owned(), c.to_owned()))
    .collect();
    assert_eq!(found, expected, "{report}");
    assert_eq!(report["rows"], 5, "the blank line is not a row");
    // The valid row was read in the clinic's country.
    let only_ok = format!("{}\n", ndjson.lines().next().unwrap_or_default());
    json(import(&app, &m, "", "application/fhir+ndjson", only_ok).await, 200).await;
    let phones: Vec<Option<String>> = sqlx::query_scalar("select phone from patients where name = 'Ok One'")
        .fetch_all(&app.admin_db)
        .await
        .unwrap_or_default();
    assert_eq!(phones, [Some("+34612345679".to_owned())]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_import_is_all_or_nothing_and_duplicates_can_be_confirmed(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let m = owner(&app, "Bulk").await;
    // More rows than one insert statement takes, and one bad row at the very end.
    let mut file = String::from("dateOfBirth,name,email\r\n");
    for i in 1..=2500 {
        let _ = write!(file, "1980-01-01,Patient {i},p{i}@example.com\r\n");
    }
    let bad = format!("{file}1980-01-01,Last,not-an-email\r\n");
    let refused = problem(import(&app, &m, "", "text/csv", bad).await, 422, "import_invalid").await;
    assert_eq!(
        (
            refused["rows"].clone(),
            refused["valid"].clone(),
            refused["invalid"].clone()
        ),
        (json!(2501), json!(2500), json!(1))
    );
    assert_eq!(
        refused["errors"],
        json!([{"row": 2501, "field": "email", "code": "invalid_email", "message": refused["errors"][0]["message"]}])
    );
    assert_eq!(
        patients_in(&app, m.clinic).await,
        0,
        "not one of the 2,500 valid rows was kept"
    );

    let report = json(import(&app, &m, "", "text/csv", file.clone()).await, 200).await;
    assert_eq!(
        report,
        json!({"rows": 2500, "valid": 2500, "invalid": 0, "errors": [], "created": 2500})
    );
    assert_eq!(patients_in(&app, m.clinic).await, 2500);
    let listed = json(app.get(&m.token, "/patients?limit=1").await, 200).await;
    assert_eq!(listed["total"], 2500, "the clinic's counter followed");

    // The same file again: every row is a possible duplicate of a patient now in the clinic.
    let again = problem(
        import(&app, &m, "", "text/csv", file.clone()).await,
        422,
        "import_invalid",
    )
    .await;
    assert_eq!(again["invalid"], 2500);
    assert!(
        again["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|e| e["code"] == "possible_duplicate")
    );
    // Confirmed: imported anyway.
    let small = "name,email\r\nPatient 1,p1@example.com\r\nPatient 1,p1@example.com\r\n";
    let dry = json(
        import(&app, &m, "?dryRun=true&confirmDuplicates=true", "text/csv", small).await,
        200,
    )
    .await;
    assert_eq!((dry["valid"].clone(), dry["created"].clone()), (json!(2), json!(0)));
    let confirmed = json(
        import(&app, &m, "?confirmDuplicates=true", "text/csv", small).await,
        200,
    )
    .await;
    assert_eq!(confirmed["created"], 2);
    assert_eq!(patients_in(&app, m.clinic).await, 2502);
}

/// Sends a request through the router itself (no socket), for bodies a client might not finish sending once
/// the server has answered.
async fn oneshot(app: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> axum::response::Response {
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/import/patients?dryRun=true")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap_or_else(|e| panic!("{e}"));
    api::app(app.state.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn problem_code(r: axum::response::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[sqlx::test(migrations = "../../migrations")]
async fn oversized_bodies_and_other_media_types_are_refused(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let m = owner(&app, "Limits").await;
    for content_type in [
        "application/json",
        "text/plain",
        "text/csv; charset=latin1",
        "multipart/form-data",
    ] {
        problem(
            import(&app, &m, "", content_type, "name\r\nAna\r\n").await,
            415,
            "unsupported_media_type",
        )
        .await;
    }
    let r = app
        .http
        .post(app.url("/import/patients"))
        .bearer_auth(&m.token)
        .body("name\r\nAna\r\n")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 415, "unsupported_media_type").await;

    // Exactly 10 MiB is taken; one byte more is 413, with or without a Content-Length.
    let limit = 10 * 1024 * 1024;
    let mut exact = b"name\r\n".to_vec();
    while exact.len() < limit {
        exact.extend_from_slice(b"Ana Lima Silva\r\n");
    }
    exact.truncate(limit - 2);
    exact.extend_from_slice(b"\r\n");
    let (status, code) = problem_code(oneshot(&app, &m.token, "text/csv", exact.clone()).await).await;
    assert_eq!(
        (status, code.as_str()),
        (413, "too_many_rows"),
        "10 MiB of short rows is past 50,000 rows"
    );
    let mut over = exact;
    over.push(b'x');
    assert_eq!(
        problem_code(oneshot(&app, &m.token, "text/csv", over.clone()).await).await,
        (413, "payload_too_large".to_owned())
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = over.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/api/v1/import/patients")
        .header("authorization", format!("Bearer {}", m.token))
        .header("content-type", "application/fhir+ndjson")
        .body(Body::from_stream(futures::stream::iter(chunks)))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = api::app(app.state.clone())
        .oneshot(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        problem_code(r).await,
        (413, "payload_too_large".to_owned()),
        "streamed, no Content-Length"
    );

    // 50,000 rows are taken, 50,001 are not.
    let rows = |n: usize| {
        let mut body = String::from("name\n");
        for i in 0..n {
            let _ = writeln!(body, "P{i}");
        }
        body
    };
    let ok = json(import(&app, &m, "?dryRun=true", "text/csv", rows(50_000)).await, 200).await;
    assert_eq!(
        (ok["rows"].clone(), ok["valid"].clone()),
        (json!(50_000), json!(50_000))
    );
    let too_many = problem(
        import(&app, &m, "?dryRun=true", "text/csv", rows(50_001)).await,
        413,
        "too_many_rows",
    )
    .await;
    assert!(
        too_many["detail"].as_str().is_some_and(|d| d.contains("50000")),
        "{too_many}"
    );
    // An empty file is a report, not an error page.
    let empty = json(import(&app, &m, "?dryRun=true", "text/csv", "").await, 200).await;
    assert_eq!(empty["errors"][0]["code"], "missing_column");
    let empty = json(import(&app, &m, "", "application/fhir+ndjson", "").await, 200).await;
    assert_eq!(
        empty,
        json!({"rows": 0, "valid": 0, "invalid": 0, "errors": [], "created": 0})
    );
    assert_eq!(patients_in(&app, m.clinic).await, 0);
}
