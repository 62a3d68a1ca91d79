use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{TestApp, json, problem};

fn full_patient() -> Value {
    json!({
        "name": "  Ana García ",
        "email": "Ana@Example.com",
        "phone": "+34 911 234-567",
        "dateOfBirth": "1985-04-23",
        "medicalNotes": "Allergic to penicillin."
    })
}

#[sqlx::test(migrations = "../../migrations")]
async fn create_get_patch_delete_round_trip(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let created = app.create_patient(&token, full_patient()).await;
    assert_eq!(created["name"], "Ana García");
    assert_eq!(created["email"], "ana@example.com");
    assert_eq!(created["phone"], "+34911234567");
    assert_eq!(created["dateOfBirth"], "1985-04-23");
    let id = created["id"].as_str().unwrap_or_default();

    let got = json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    assert_eq!(got, created);

    // Partial: absent fields untouched, null clears.
    let patched = json(
        app.patch(
            &token,
            &format!("/patients/{id}"),
            json!({"email": null, "medicalNotes": "Now fine."}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["email"], Value::Null);
    assert_eq!(patched["phone"], "+34911234567");
    assert_eq!(patched["medicalNotes"], "Now fine.");
    assert_eq!(patched["name"], "Ana García");

    let r = app.delete(&token, &format!("/patients/{id}")).await;
    assert_eq!(r.status(), 204);
    problem(app.get(&token, &format!("/patients/{id}")).await, 404, "not_found").await;
    problem(app.delete(&token, &format!("/patients/{id}")).await, 404, "not_found").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn each_validation_rule_is_a_422_naming_the_field(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let cases = [
        (json!({"name": "   "}), "name", "required"),
        (json!({}), "name", "required"),
        (json!({"name": "a".repeat(201)}), "name", "too_long"),
        (json!({"name": "A", "email": "nope"}), "email", "invalid_email"),
        (json!({"name": "A", "phone": "020 7946 0958"}), "phone", "invalid_phone"),
        (
            json!({"name": "A", "dateOfBirth": "2999-01-01"}),
            "dateOfBirth",
            "in_future",
        ),
        (
            json!({"name": "A", "dateOfBirth": "1899-12-31"}),
            "dateOfBirth",
            "too_early",
        ),
        (
            json!({"name": "A", "dateOfBirth": "23/04/1985"}),
            "dateOfBirth",
            "invalid_date",
        ),
        (
            json!({"name": "A", "medicalNotes": "x".repeat(10_001)}),
            "medicalNotes",
            "too_long",
        ),
    ];
    for (body, field, code) in cases {
        let r = app.post(&token, "/patients", body).await;
        let p = problem(r, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{p}");
        assert_eq!(p["errors"][0]["code"], code, "{p}");
    }
    // Several failures at once are all named.
    let p = problem(
        app.post(&token, "/patients", json!({"email": "x", "phone": "1"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"].as_array().map(Vec::len), Some(3));
    // Unknown fields and wrong types are 400; a malformed id is 400; never a 500.
    problem(
        app.post(&token, "/patients", json!({"name": "A", "ssn": "1"})).await,
        400,
        "invalid_body",
    )
    .await;
    let p = problem(
        app.post(&token, "/patients", json!({"name": 42})).await,
        400,
        "invalid_body",
    )
    .await;
    assert!(
        !p["detail"].as_str().unwrap_or_default().contains("42")
            || p["detail"].as_str().unwrap_or_default().contains("integer")
    );
    problem(app.get(&token, "/patients/not-a-uuid").await, 400, "invalid_path").await;
    problem(
        app.patch(
            &token,
            &format!("/patients/{}", uuid::Uuid::new_v4()),
            json!({"name": null}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    // Nothing was stored by any of the rejected requests.
    let page = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(page["total"], 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn listing_is_newest_first_paginated_and_searchable(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    for i in 0..25 {
        app.create_patient(&token, json!({"name": format!("Patient {i:02}"), "email": format!("p{i}@mail.example"), "phone": format!("+4420794600{i:02}")})).await;
    }
    app.create_patient(&token, json!({"name": "Zoë 50%_off"})).await;

    let page1 = json(app.get(&token, "/patients?page=1&limit=10").await, 200).await;
    assert_eq!(page1["total"], 26);
    assert_eq!(page1["page"], 1);
    assert_eq!(page1["limit"], 10);
    assert_eq!(page1["items"][0]["name"], "Zoë 50%_off");
    assert_eq!(page1["items"][1]["name"], "Patient 24");
    let page3 = json(app.get(&token, "/patients?page=3&limit=10").await, 200).await;
    assert_eq!(page3["items"].as_array().map(Vec::len), Some(6));
    let beyond = json(app.get(&token, "/patients?page=9&limit=10").await, 200).await;
    assert_eq!(beyond["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(beyond["total"], 26);

    problem(app.get(&token, "/patients?limit=0").await, 422, "validation_failed").await;
    problem(app.get(&token, "/patients?limit=101").await, 422, "validation_failed").await;
    problem(app.get(&token, "/patients?page=0").await, 422, "validation_failed").await;
    problem(app.get(&token, "/patients?page=abc").await, 400, "invalid_query").await;

    let by_name = json(app.get(&token, "/patients?q=patient%201").await, 200).await;
    assert_eq!(by_name["total"], 10);
    let by_email = json(app.get(&token, "/patients?q=P7@MAIL").await, 200).await;
    assert_eq!(by_email["total"], 1);
    let by_phone = json(app.get(&token, "/patients?q=79460007").await, 200).await;
    assert_eq!(by_phone["total"], 1);
    // LIKE metacharacters are literal.
    let literal = json(app.get(&token, "/patients?q=50%25_").await, 200).await;
    assert_eq!(literal["total"], 1);
    let none = json(app.get(&token, "/patients?q=nobody").await, 200).await;
    assert_eq!(none["total"], 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn another_users_patient_is_404_on_every_route_and_unchanged(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (alice, _) = app.register().await;
    let (bob, _) = app.register().await;
    let patient = app.create_patient(&alice, full_patient()).await;
    let id = patient["id"].as_str().unwrap_or_default();
    let msg = json(
        app.post(
            &alice,
            &format!("/patients/{id}/messages"),
            json!({"content": "How often should I floss?"}),
        )
        .await,
        201,
    )
    .await;
    let msg_id = msg["userMessage"]["id"].as_str().unwrap_or_default();

    problem(app.get(&bob, &format!("/patients/{id}")).await, 404, "not_found").await;
    problem(
        app.patch(&bob, &format!("/patients/{id}"), json!({"name": "Hacked"}))
            .await,
        404,
        "not_found",
    )
    .await;
    problem(app.delete(&bob, &format!("/patients/{id}")).await, 404, "not_found").await;
    problem(
        app.get(&bob, &format!("/patients/{id}/messages")).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(&bob, &format!("/patients/{id}/messages"), json!({"content": "hi"}))
            .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(
            &bob,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "hi"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(&bob, &format!("/patients/{id}/messages/{msg_id}/reply"), json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
    let bobs_list = json(app.get(&bob, "/patients").await, 200).await;
    assert_eq!(bobs_list["total"], 0);
    let bobs_search = json(app.get(&bob, "/patients?q=Ana").await, 200).await;
    assert_eq!(bobs_search["total"], 0);

    let after = json(app.get(&alice, &format!("/patients/{id}")).await, 200).await;
    assert_eq!(after, patient);
    let history = json(app.get(&alice, &format!("/patients/{id}/messages")).await, 200).await;
    assert_eq!(history["items"].as_array().map(Vec::len), Some(2));
}

#[sqlx::test(migrations = "../../migrations")]
async fn row_level_security_hides_rows_from_a_query_that_forgets_the_clinic(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (alice, _) = app.register().await;
    app.create_patient(&alice, full_patient()).await;

    // As the superuser that owns the tables (RLS bypassed): the row exists.
    let all: i64 = sqlx::query_scalar("select count(*) from patients")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(all, 1);
    // Through the api's pool (role dental_app), without `app.clinic_id`: nothing is visible.
    let mut conn = app.state.db.acquire().await.unwrap_or_else(|e| panic!("{e}"));
    let role: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_default();
    assert_eq!(role, "dental_app");
    let visible: i64 = sqlx::query_scalar("select count(*) from patients")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(-1);
    assert_eq!(visible, 0);
    let messages: i64 = sqlx::query_scalar("select count(*) from chat_messages")
        .fetch_one(&mut *conn)
        .await
        .unwrap_or(-1);
    assert_eq!(messages, 0);
    // With another clinic's id set, still nothing; and writing a row for another clinic is refused.
    let mut tx = app.state.db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::query("select set_config('app.clinic_id', $1, true)")
        .bind(uuid::Uuid::new_v4().to_string())
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let visible: i64 = sqlx::query_scalar("select count(*) from patients")
        .fetch_one(&mut *tx)
        .await
        .unwrap_or(-1);
    assert_eq!(visible, 0);
    let clinic: uuid::Uuid = sqlx::query_scalar("select id from clinics")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    let insert = sqlx::query("insert into patients (clinic_id, name) values ($1, 'x')")
        .bind(clinic)
        .execute(&mut *tx)
        .await;
    assert!(insert.is_err(), "RLS must refuse a row for another clinic");
}

#[sqlx::test(migrations = "../../migrations")]
async fn deleting_a_patient_moves_it_and_its_messages_to_the_trash(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, json!({"name": "To Delete"})).await;
    let id = patient["id"].as_str().unwrap_or_default();
    json(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "What is a bridge?"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(app.delete(&token, &format!("/patients/{id}")).await.status(), 204);
    // Gone from every route (404), a second delete included...
    problem(app.get(&token, &format!("/patients/{id}")).await, 404, "not_found").await;
    problem(
        app.get(&token, &format!("/patients/{id}/messages")).await,
        404,
        "not_found",
    )
    .await;
    problem(app.delete(&token, &format!("/patients/{id}")).await, 404, "not_found").await;
    let page = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(page["total"], 0);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
    // ...but kept, with its messages, in the trash until the purge.
    let kept: i64 = sqlx::query_scalar("select count(*) from chat_messages where patient_id = $1::uuid")
        .bind(id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(kept, 2);
    let trashed: bool = sqlx::query_scalar("select deleted_at is not null from patients where id = $1::uuid")
        .bind(id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(false);
    assert!(trashed);
    let count: i64 = sqlx::query_scalar("select coalesce(sum(n), 0)::bigint from patient_counts")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(count, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_patient_access_is_audited_without_phi(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, full_patient()).await;
    let id = patient["id"].as_str().unwrap_or_default();
    json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_events where patient_id = $1::uuid order by id")
            .bind(id)
            .fetch_all(&app.admin_db)
            .await
            .unwrap_or_default();
    assert_eq!(actions, ["patient.create", "patient.read"]);
    // Append-only, whoever connects (here: the superuser).
    let update = sqlx::query("update audit_events set action = 'x'")
        .execute(&app.admin_db)
        .await;
    assert!(update.is_err());
    let delete = sqlx::query("delete from audit_events").execute(&app.admin_db).await;
    assert!(delete.is_err());
}
