//! The front desk's patient records: phones as typed per clinic country, accent-free and digit search,
//! duplicates on create, every sort key, and `lastEmergencyAt` from a flagged message.

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{TestApp, json, problem};

/// Sets the country of every clinic in this test's database (each test registers its own).
async fn set_country(app: &TestApp, country: &str) {
    sqlx::query("update clinics set country = $1")
        .bind(country)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("set country: {e}"));
}

fn names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[sqlx::test(migrations = "../../migrations")]
async fn phones_typed_in_the_clinics_country_are_stored_in_e164(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let cases = [
        ("US", "(555) 010-2000", "+15550102000"),
        ("US", "011 44 20 7946 0958", "+442079460958"),
        ("ES", "612 345 678", "+34612345678"),
        ("ES", "0034 91 123 45 67", "+34911234567"),
        ("GB", "020 7946 0958", "+442079460958"),
        ("PT", "912 345 678", "+351912345678"),
        ("BR", "(11) 91234-5678", "+5511912345678"),
        ("DE", "030 12345678", "+493012345678"),
        ("DE", "+55 21 2345-6789", "+552123456789"),
    ];
    for (i, (country, typed, e164)) in cases.into_iter().enumerate() {
        set_country(&app, country).await;
        let created = app
            .create_patient(&token, json!({"name": format!("Phone {i}"), "phone": typed}))
            .await;
        assert_eq!(created["phone"], e164, "{country} {typed}");
        let id = created["id"].as_str().unwrap_or_default();
        let got = json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
        assert_eq!(got["phone"], e164);
    }

    // PATCH reads the clinic's country too; a number that is not one of it is refused, naming the field.
    set_country(&app, "ES").await;
    let created = app.create_patient(&token, json!({"name": "Patch me"})).await;
    let id = created["id"].as_str().unwrap_or_default();
    let patched = json(
        app.patch(&token, &format!("/patients/{id}"), json!({"phone": "612-34-56-78"}))
            .await,
        200,
    )
    .await;
    assert_eq!(patched["phone"], "+34612345678");
    for garbage in ["(555) 010-2000", "12", "call me", "+999 1234 5678"] {
        let body = problem(
            app.patch(&token, &format!("/patients/{id}"), json!({"phone": garbage}))
                .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "phone", "{garbage}");
        assert_eq!(body["errors"][0]["code"], "invalid_phone", "{garbage}");
        let body = problem(
            app.post(&token, "/patients", json!({"name": "Garbage", "phone": garbage}))
                .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["code"], "invalid_phone", "{garbage}");
    }
    let unchanged = json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    assert_eq!(unchanged["phone"], "+34612345678");
}

#[sqlx::test(migrations = "../../migrations")]
async fn search_ignores_case_and_accents_and_finds_phones_by_digits(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    set_country(&app, "ES").await;
    app.create_patient(
        &token,
        json!({"name": "María Fernández", "email": "maria@clinic.example", "phone": "612 345 678"}),
    )
    .await;
    app.create_patient(&token, json!({"name": "Joao Fernandez", "phone": "+351 912 345 678"}))
        .await;
    app.create_patient(&token, json!({"name": "Ana Pérez", "email": "ana@mail.example"}))
        .await;

    for (q, expected) in [
        ("Fernandez", vec!["Joao Fernandez", "María Fernández"]),
        ("FERNÁNDEZ", vec!["Joao Fernandez", "María Fernández"]),
        ("maria fern", vec!["María Fernández"]),
        ("perez", vec!["Ana Pérez"]),
        ("MARIA@CLINIC", vec!["María Fernández"]),
        ("612 345", vec!["María Fernández"]),
        ("+34 612-345-678", vec!["María Fernández"]),
        ("(912) 345", vec!["Joao Fernandez"]),
        ("345 678", vec!["Joao Fernandez", "María Fernández"]),
        ("nobody", vec![]),
    ] {
        let path = format!("/patients?sort=name&q={}", urlencode(q));
        let page = json(app.get(&token, &path).await, 200).await;
        assert_eq!(names(&page), expected, "{q}");
        assert_eq!(page["total"], expected.len(), "{q}");
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_likely_duplicate_is_409_until_confirmed(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let first = app
        .create_patient(
            &token,
            json!({"name": "José Núñez", "email": "jose@mail.example", "dateOfBirth": "1980-02-03"}),
        )
        .await;
    let first_id = first["id"].clone();

    // Same email (in any case), different name.
    let body = problem(
        app.post(
            &token,
            "/patients",
            json!({"name": "Pepe", "email": "JOSE@mail.example"}),
        )
        .await,
        409,
        "possible_duplicate",
    )
    .await;
    assert_eq!(body["duplicates"], json!([first_id]));
    // Same name ignoring case and accents, same date of birth, no email.
    let same_person = json!({"name": "  jose nunez ", "dateOfBirth": "1980-02-03"});
    let body = problem(
        app.post(&token, "/patients", same_person.clone()).await,
        409,
        "possible_duplicate",
    )
    .await;
    assert_eq!(body["duplicates"], json!([first_id]));
    let page = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(page["total"], 1, "a refused duplicate stores nothing");

    // Same name, another date of birth: a different person.
    app.create_patient(&token, json!({"name": "José Núñez", "dateOfBirth": "1990-02-03"}))
        .await;
    // Confirmed: saved anyway; the next one then names both.
    let saved = json(
        app.post(&token, "/patients?confirmDuplicate=true", same_person.clone())
            .await,
        201,
    )
    .await;
    assert_eq!(saved["name"], "jose nunez");
    let body = problem(
        app.post(&token, "/patients", same_person.clone()).await,
        409,
        "possible_duplicate",
    )
    .await;
    assert_eq!(body["duplicates"], json!([first_id, saved["id"]]));
    problem(
        app.post(&token, "/patients?confirmDuplicate=maybe", same_person.clone())
            .await,
        400,
        "invalid_query",
    )
    .await;

    // A patient in the trash is no duplicate; another clinic's never is.
    for id in [first_id.as_str(), saved["id"].as_str()] {
        let r = app
            .delete(&token, &format!("/patients/{}", id.unwrap_or_default()))
            .await;
        assert_eq!(r.status(), 204);
    }
    json(app.post(&token, "/patients", same_person.clone()).await, 201).await;
    let (other, _) = app.register().await;
    json(app.post(&other, "/patients", same_person).await, 201).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_sort_key_orders_the_list_and_the_search(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let mut ids = Vec::new();
    for (name, dob) in [
        ("Óscar Smith", Some("1990-05-01")),
        ("ana Smith", None),
        ("Bea Smith", Some("1950-01-01")),
        ("Álvaro Smith", Some("1970-03-03")),
    ] {
        let created = app
            .create_patient(&token, json!({"name": name, "dateOfBirth": dob}))
            .await;
        ids.push(created["id"].as_str().unwrap_or_default().to_owned());
    }
    // Edited last, so first by -updatedAt although created first.
    json(
        app.patch(
            &token,
            &format!("/patients/{}", ids[0]),
            json!({"email": "oscar@mail.example"}),
        )
        .await,
        200,
    )
    .await;

    for (sort, expected) in [
        ("-createdAt", ["Álvaro Smith", "Bea Smith", "ana Smith", "Óscar Smith"]),
        ("name", ["Álvaro Smith", "ana Smith", "Bea Smith", "Óscar Smith"]),
        ("-name", ["Óscar Smith", "Bea Smith", "ana Smith", "Álvaro Smith"]),
        ("dateOfBirth", ["Bea Smith", "Álvaro Smith", "Óscar Smith", "ana Smith"]),
        ("-updatedAt", ["Óscar Smith", "Álvaro Smith", "Bea Smith", "ana Smith"]),
    ] {
        let listed = json(
            app.get(&token, &format!("/patients?sort={}", urlencode(sort))).await,
            200,
        )
        .await;
        assert_eq!(names(&listed), expected, "list {sort}");
        let searched = json(
            app.get(&token, &format!("/patients?q=smith&sort={}", urlencode(sort)))
                .await,
            200,
        )
        .await;
        assert_eq!(names(&searched), expected, "search {sort}");
        // Paging keeps the order.
        let second = json(
            app.get(&token, &format!("/patients?sort={}&limit=2&page=2", urlencode(sort)))
                .await,
            200,
        )
        .await;
        assert_eq!(names(&second), expected[2..], "page 2 {sort}");
    }
    let default = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(names(&default)[0], "Álvaro Smith");

    for bad in ["createdAt", "random()", "-dateOfBirth", ""] {
        let body = problem(
            app.get(&token, &format!("/patients?sort={}", urlencode(bad))).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "sort", "{bad}");
        assert_eq!(body["errors"][0]["code"], "invalid_sort", "{bad}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_flagged_message_sets_last_emergency_at_without_touching_updated_at(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let created = app.create_patient(&token, json!({"name": "Swollen Face"})).await;
    assert_eq!(created["lastEmergencyAt"], Value::Null);
    let id = created["id"].as_str().unwrap_or_default();

    let calm = json(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "How often should I floss?"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(calm["emergency"], Value::Null);
    let after_calm = json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    assert_eq!(after_calm["lastEmergencyAt"], Value::Null);

    let flagged = json(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "my face is swollen and I can't swallow"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(flagged["emergency"]["detected"], true);
    let at = flagged["assistantMessage"]["createdAt"].clone();
    let after = json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    assert_eq!(after["lastEmergencyAt"], at);
    assert_eq!(after["updatedAt"], created["updatedAt"], "an emergency is not an edit");
    let listed = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(listed["items"][0]["lastEmergencyAt"], at);

    let stored: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("select last_emergency_at from patients where id = $1::uuid")
            .bind(id)
            .fetch_one(&app.admin_db)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
    assert!(stored.is_some());
}

/// An email-shaped term (`patient777@`) is served through the email key's b-tree, not the trigram index
/// (migration 20261215000001): the results must be exactly the substring match's, in every sort order and on
/// every page, including the rows the key cannot rank (a name with an `@`).
#[sqlx::test(migrations = "../../migrations")]
async fn email_shaped_terms_find_exactly_what_the_substring_match_finds(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let patients = [
        ("Ana Silva", Some("patient777@example.com"), "1980-01-01"),
        ("Bruno Costa", Some("xpatient777@example.com"), "1975-05-05"),
        ("Carla Novak", Some("patient7777@example.com"), "1990-09-09"),
        ("Diego Meyer", Some("patient777@other.org"), "1985-03-03"),
        ("José Núñez", Some("josé.núñez@mail.example"), "1970-07-07"),
        ("Elena@Home Rossi", None, "1960-06-06"),
        ("Felipe Dubois", None, "1999-12-12"),
        ("Gina a@b Smith", Some("gina@b.example"), "1995-02-02"),
    ];
    for (name, email, dob) in patients {
        let mut body = json!({"name": name, "dateOfBirth": dob});
        if let Some(email) = email {
            body["email"] = json!(email);
        }
        app.create_patient(&token, body).await;
    }
    let terms = [
        "patient777@",
        "atient777@ex",
        "777@",
        "7@example.c",
        "PATIENT777@OTHER",
        "JOSE.NUNEZ@",
        "núñez@mail",
        "a@home",
        "a@b",
        "a@b.ex",
        "zzz@",
        "777@nowhere",
    ];
    let orders = [
        ("name", "name_key, id"),
        ("-name", "name_key desc, id desc"),
        ("-createdAt", "created_at desc, id desc"),
        ("dateOfBirth", "date_of_birth, id"),
        ("-updatedAt", "updated_at desc, id desc"),
    ];
    for term in terms {
        let pattern = format!("%{term}%");
        for (sort, order) in orders {
            // `order` is one of the fixed strings above.
            let expected: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "select name from patients where search_text ilike patient_fold($1) and deleted_at is null order by {order}"
            )))
            .bind(&pattern)
            .fetch_all(&app.admin_db)
            .await
            .unwrap_or_else(|e| panic!("expected: {e}"));
            let path = format!("/patients?sort={sort}&q={}", urlencode(term));
            let page = json(app.get(&token, &path).await, 200).await;
            assert_eq!(names(&page), expected, "{term} {sort}");
            assert_eq!(page["total"], expected.len(), "{term} {sort}");
            // Pages of one: the same rows, one at a time, and the total past the end.
            let mut paged = Vec::new();
            for n in 1..=expected.len() + 1 {
                let page = json(app.get(&token, &format!("{path}&limit=1&page={n}")).await, 200).await;
                assert_eq!(page["total"], expected.len(), "{term} {sort} page {n}");
                paged.extend(names(&page));
            }
            assert_eq!(paged, expected, "{term} {sort} paged");
        }
    }
    // The cases above that must match something do (the comparison is not vacuous).
    let found = |term: &str| {
        let path = format!("/patients?q={}", urlencode(term));
        let app = &app;
        let token = &token;
        async move {
            json(app.get(token, &path).await, 200).await["total"]
                .as_u64()
                .unwrap_or(0)
        }
    };
    assert_eq!(found("patient777@").await, 3);
    assert_eq!(found("777@").await, 4);
    assert_eq!(found("JOSE.NUNEZ@").await, 1);
    assert_eq!(found("a@home").await, 1);
    assert_eq!(found("a@b").await, 1);
}
