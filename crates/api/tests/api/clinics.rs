//! Clinics: two clinics x three roles, the permission matrix, the cross-clinic 404s and their audit trail,
//! isolation in the database itself (RLS and composite foreign keys), switching clinics, and the migration
//! that moved the single-owner data.

use api::db::{Permission, allows};
use serde_json::{Value, json};
use shared::api::ClinicRole;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use uuid::Uuid;

use crate::helpers::{PASSWORD, TestApp, json, problem};

/// A signed-in member: the token names `clinic`.
struct Member {
    token: String,
    user_id: Uuid,
    clinic: Uuid,
}

fn uuid_of(v: &Value) -> Uuid {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

/// Registers an owner with a new clinic called `name`.
async fn owner(app: &TestApp, name: &str) -> Member {
    let r = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"email": app.unique_email(), "password": PASSWORD, "fullName": "Dr Owner", "clinicName": name}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("register: {e}"));
    let session = json(r, 201).await;
    assert_eq!(session["clinic"]["name"], name);
    assert_eq!(session["clinic"]["role"], "owner");
    assert_eq!(session["user"]["clinics"].as_array().map(Vec::len), Some(1));
    Member {
        token: session["accessToken"].as_str().unwrap_or_default().to_owned(),
        user_id: uuid_of(&session["user"]["id"]),
        clinic: uuid_of(&session["clinic"]["id"]),
    }
}

/// A new account made a member of `clinic` in `role` (as an accepted invitation would), signed into it.
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
    assert_eq!(switched["clinic"]["id"], clinic.to_string());
    assert_eq!(switched["clinic"]["role"], role);
    Member {
        token: switched["accessToken"].as_str().unwrap_or_default().to_owned(),
        user_id,
        clinic,
    }
}

async fn send(app: &TestApp, m: &Member, method: &str, path: &str, body: Option<Value>) -> reqwest::Response {
    let url = app.url(path);
    let req = match method {
        "GET" => app.http.get(url),
        "POST" => app.http.post(url),
        "PATCH" => app.http.patch(url),
        "DELETE" => app.http.delete(url),
        other => panic!("method {other}"),
    };
    let req = req.bearer_auth(&m.token);
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// A patient with a conversation (a user message and its reply) in `m`'s clinic: (patient id, user message id).
async fn patient_with_chat(app: &TestApp, m: &Member) -> (String, String) {
    let p = app
        .create_patient(
            &m.token,
            json!({"name": "Ana Lima", "medicalNotes": "Allergic to penicillin."}),
        )
        .await;
    let id = p["id"].as_str().unwrap_or_default().to_owned();
    let sent = json(
        app.post(
            &m.token,
            &format!("/patients/{id}/messages"),
            json!({"content": "What is a crown?"}),
        )
        .await,
        201,
    )
    .await;
    let message = sent["userMessage"]["id"].as_str().unwrap_or_default().to_owned();
    (id, message)
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

/// A fingerprint of every tenant row, to prove a refused request changed nothing.
async fn snapshot(app: &TestApp) -> String {
    sqlx::query_scalar(
        "select coalesce(string_agg(t, '|' order by t), '') from (
             select p::text as t from patients p union all
             select m::text from chat_messages m union all
             select k::text from idempotency_keys k) s",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap_or_default()
}

/// Every tenant route with a patient id (and a message id where it takes one), and whether it is a chat route.
fn tenant_routes(patient: &str, message: &str) -> Vec<(&'static str, String, Option<Value>, bool)> {
    vec![
        ("GET", format!("/patients/{patient}"), None, false),
        (
            "PATCH",
            format!("/patients/{patient}"),
            Some(json!({"phone": "+15550001111"})),
            false,
        ),
        ("GET", format!("/patients/{patient}/messages"), None, true),
        (
            "POST",
            format!("/patients/{patient}/messages"),
            Some(json!({"content": "Is it urgent?"})),
            true,
        ),
        (
            "POST",
            format!("/patients/{patient}/messages/stream"),
            Some(json!({"content": "Is it urgent?"})),
            true,
        ),
        (
            "POST",
            format!("/patients/{patient}/messages/{message}/reply"),
            Some(json!({})),
            true,
        ),
        (
            "GET",
            format!("/patients/{patient}/messages/{message}/stream"),
            None,
            true,
        ),
        (
            "POST",
            format!("/patients/{patient}/messages/{message}/stop"),
            Some(json!({})),
            true,
        ),
        ("DELETE", format!("/patients/{patient}"), None, false),
    ]
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_member_of_another_clinic_gets_404_everywhere_and_each_refusal_is_audited(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let (patient, message) = patient_with_chat(&app, &a).await;
    let b_owner = owner(&app, "Clinic B").await;
    let b_clinic = b_owner.clinic;
    let b_members = [
        ("owner", b_owner),
        ("clinician", member(&app, b_clinic, "clinician").await),
        ("reception", member(&app, b_clinic, "reception").await),
    ];
    let before = snapshot(&app).await;
    let mut refusals = 0;
    for (role, m) in &b_members {
        for (method, path, body, chat) in tenant_routes(&patient, &message) {
            let r = send(&app, m, method, &path, body).await;
            // Reception has no chat at all (403 before any lookup); everyone else learns nothing: 404.
            if chat && *role == "reception" {
                problem(r, 403, "forbidden").await;
            } else {
                problem(r, 404, "not_found").await;
            }
            refusals += 1;
        }
    }
    assert_eq!(snapshot(&app).await, before, "clinic A's rows are unchanged");
    let denied: Vec<(Uuid, Uuid, Option<Uuid>)> = sqlx::query_as(
        "select user_id, clinic_id, patient_id from audit_events where action = 'access.denied' order by id",
    )
    .fetch_all(&app.admin_db)
    .await
    .unwrap_or_default();
    assert_eq!(denied.len(), refusals, "every refusal is in the audit trail");
    let tried: Uuid = patient.parse().unwrap_or_default();
    assert!(
        denied
            .iter()
            .all(|(_, clinic, p)| *clinic == b_clinic && *p == Some(tried))
    );
    for (_, m) in &b_members {
        assert!(denied.iter().any(|(user, _, _)| *user == m.user_id));
    }
    // A's own owner still sees it all.
    json(app.get(&a.token, &format!("/patients/{patient}")).await, 200).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_permission_matrix_holds_for_every_route_role_and_clinic(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let a_clinic = a.clinic;
    let members = [
        ("owner", a),
        ("clinician", member(&app, a_clinic, "clinician").await),
        ("reception", member(&app, a_clinic, "reception").await),
    ];
    let other = owner(&app, "Clinic B").await;
    // (role, own clinic?) -> expected status, per route; chat routes differ for reception.
    for (role, m) in &members {
        for own in [true, false] {
            // Each combination gets fresh rows, so DELETE (last) and the sends do not disturb the others.
            let (patient, message) = patient_with_chat(&app, if own { &members[0].1 } else { &other }).await;
            // An unanswered message for `/reply` in the own clinic: the reply route answers 409 for an answered one.
            for (method, path, body, chat) in tenant_routes(&patient, &message) {
                let r = send(&app, m, method, &path, body).await;
                let status = r.status().as_u16();
                let expected: &[u16] = match (own, chat, *role) {
                    (_, true, "reception") => &[403],
                    (false, _, _) => &[404],
                    // The message has its reply: answering again or stopping it is a conflict.
                    (true, true, _) if path.ends_with("/reply") || path.ends_with("/stop") => &[409],
                    (true, _, _) => &[200, 201, 204],
                };
                assert!(
                    expected.contains(&status),
                    "{role} {method} {path} (own clinic: {own}): {status}, expected {expected:?}"
                );
            }
        }
        // The list and create routes have no id: always the caller's own clinic.
        json(send(&app, m, "GET", "/patients", None).await, 200).await;
        json(
            send(&app, m, "POST", "/patients", Some(json!({"name": "New One"}))).await,
            201,
        )
        .await;
    }
    // The matrix itself, as the code states it.
    for p in Permission::ALL {
        assert!(allows(ClinicRole::Owner, p), "{p:?}");
    }
    assert!(allows(ClinicRole::Clinician, Permission::Chat) && allows(ClinicRole::Clinician, Permission::ReadNotes));
    assert!(
        !allows(ClinicRole::Clinician, Permission::ManageClinic) && !allows(ClinicRole::Clinician, Permission::Trash)
    );
    assert!(!allows(ClinicRole::Reception, Permission::Chat) && !allows(ClinicRole::Reception, Permission::ReadNotes));
    assert!(
        allows(ClinicRole::Reception, Permission::ReadPatients)
            && allows(ClinicRole::Reception, Permission::WritePatients)
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn reception_never_sees_or_writes_medical_notes(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let desk = member(&app, a.clinic, "reception").await;
    let clinician = member(&app, a.clinic, "clinician").await;
    let (patient, _) = patient_with_chat(&app, &a).await;

    let seen = json(app.get(&desk.token, &format!("/patients/{patient}")).await, 200).await;
    assert!(seen.get("medicalNotes").is_none(), "{seen}");
    assert_eq!(seen["name"], "Ana Lima");
    assert_eq!(seen["createdBy"], a.user_id.to_string());
    let page = json(app.get(&desk.token, "/patients").await, 200).await;
    assert!(
        page["items"]
            .as_array()
            .is_some_and(|items| !items.is_empty() && items.iter().all(|i| i.get("medicalNotes").is_none()))
    );
    let found = json(app.get(&desk.token, "/patients?q=lima").await, 200).await;
    assert!(
        found["items"]
            .as_array()
            .is_some_and(|items| items.len() == 1 && items[0].get("medicalNotes").is_none())
    );

    problem(
        app.post(&desk.token, "/patients", json!({"name": "X", "medicalNotes": "secret"}))
            .await,
        403,
        "forbidden_field",
    )
    .await;
    problem(
        app.patch(
            &desk.token,
            &format!("/patients/{patient}"),
            json!({"medicalNotes": null}),
        )
        .await,
        403,
        "forbidden_field",
    )
    .await;
    // Reception may still change the front-desk fields; the notes stay as they were.
    let changed = json(
        app.patch(
            &desk.token,
            &format!("/patients/{patient}"),
            json!({"phone": "+15550002222"}),
        )
        .await,
        200,
    )
    .await;
    assert!(changed.get("medicalNotes").is_none());
    let full = json(app.get(&clinician.token, &format!("/patients/{patient}")).await, 200).await;
    assert_eq!(full["medicalNotes"], "Allergic to penicillin.");
    assert_eq!(full["phone"], "+15550002222");
    // Colleagues share the clinic's patients.
    let list = json(app.get(&clinician.token, "/patients").await, 200).await;
    assert_eq!(list["total"], 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_database_itself_isolates_every_tenant_table(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let (patient, message) = patient_with_chat(&app, &a).await;
    // An idempotency row too.
    let r = app
        .http
        .post(app.url(&format!("/patients/{patient}/messages")))
        .bearer_auth(&a.token)
        .header("Idempotency-Key", "k-1")
        .json(&json!({"content": "Again?"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 201);
    let b = owner(&app, "Clinic B").await;
    let tables = [
        "patients",
        "chat_messages",
        "idempotency_keys",
        "patient_counts",
        "invitations",
    ];
    for t in ["patients", "chat_messages", "idempotency_keys", "patient_counts"] {
        assert!(
            count(&app, &format!("select count(*) from {t}")).await > 0,
            "{t} has rows"
        );
    }

    // The api's role without any setting, then with clinic B's: nothing of A's is visible.
    for setting in [None, Some((b.clinic, "owner")), Some((a.clinic, "reception"))] {
        let mut tx = app.state.db.begin().await.unwrap_or_else(|e| panic!("{e}"));
        if let Some((clinic, role)) = setting {
            sqlx::query("select set_config('app.clinic_id', $1, true), set_config('app.clinic_role', $2, true)")
                .bind(clinic.to_string())
                .bind(role)
                .execute(&mut *tx)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for t in tables {
            // Reception in A's own clinic sees its patients and counts, never chat.
            if setting == Some((a.clinic, "reception")) && matches!(t, "patients" | "patient_counts") {
                continue;
            }
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {t}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap_or(-1);
            assert_eq!(n, 0, "{t} with {setting:?}");
        }
    }

    // Writing across clinics: as B, a message for A's patient, a reply to A's message, an idempotency row
    // pointing at A's message, a patient in A's clinic: all refused, by RLS or by the composite keys.
    let attempts = [
        "insert into chat_messages (clinic_id, id, patient_id, user_id, role, content) values ($1, gen_random_uuid(), $2, $4, 'user', 'x')",
        "insert into chat_messages (clinic_id, id, patient_id, user_id, role, content, reply_to) values ($1, gen_random_uuid(), $2, $4, 'assistant', 'x', $3)",
        "insert into idempotency_keys (clinic_id, user_id, key, request_hash, user_message_id) values ($1, $4, 'k', '\\x00', $3)",
        "insert into patients (clinic_id, name) values ($5, 'x')",
        "insert into chat_messages (clinic_id, id, patient_id, user_id, role, content) values ($5, gen_random_uuid(), $2, $4, 'user', 'x')",
    ];
    for sql in attempts {
        let mut tx = app.state.db.begin().await.unwrap_or_else(|e| panic!("{e}"));
        sqlx::query("select set_config('app.clinic_id', $1, true), set_config('app.clinic_role', 'owner', true)")
            .bind(b.clinic.to_string())
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let result = sqlx::query(sql)
            .bind(b.clinic)
            .bind(uuid_of(&json!(patient)))
            .bind(uuid_of(&json!(message)))
            .bind(b.user_id)
            .bind(a.clinic)
            .execute(&mut *tx)
            .await;
        assert!(result.is_err(), "refused: {sql}");
    }
    // Even the tables' owner (RLS bypassed) cannot attach a row of clinic B to A's patient or message.
    let fk = sqlx::query(
        "insert into chat_messages (clinic_id, id, patient_id, user_id, role, content) values ($1, gen_random_uuid(), $2, $3, 'user', 'x')",
    )
    .bind(b.clinic)
    .bind(uuid_of(&json!(patient)))
    .bind(b.user_id)
    .execute(&app.admin_db)
    .await;
    assert!(
        fk.is_err(),
        "the composite foreign key refuses another clinic's patient"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn switching_clinics_and_losing_membership(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let b = owner(&app, "Clinic B").await;
    let p = app.create_patient(&a.token, json!({"name": "Only In A"})).await;
    // B's owner joins A as a clinician: two clinics, the list and me show both.
    let in_a = member_existing(&app, &b, a.clinic, "clinician").await;
    let me = json(app.get(&in_a, "/auth/me").await, 200).await;
    assert_eq!(me["clinic"]["id"], a.clinic.to_string());
    assert_eq!(me["clinics"].as_array().map(Vec::len), Some(2));
    let id = p["id"].as_str().unwrap_or_default();
    json(app.get(&in_a, &format!("/patients/{id}")).await, 200).await;
    // Back in B, A's patient is 404; switching to a clinic one is not in is 403.
    problem(app.get(&b.token, &format!("/patients/{id}")).await, 404, "not_found").await;
    problem(
        app.post(&b.token, "/auth/switch-clinic", json!({"clinicId": Uuid::new_v4()}))
            .await,
        403,
        "forbidden",
    )
    .await;
    // A role change applies on the next request (the token still says clinician).
    sqlx::query("update clinic_members set role = 'reception' where clinic_id = $1 and user_id = $2")
        .bind(a.clinic)
        .bind(b.user_id)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(
        app.get(&in_a, &format!("/patients/{id}/messages")).await,
        403,
        "forbidden",
    )
    .await;
    // Removed from A: the next request with the same token is refused.
    sqlx::query("delete from clinic_members where clinic_id = $1 and user_id = $2")
        .bind(a.clinic)
        .bind(b.user_id)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(app.get(&in_a, "/patients").await, 403, "no_clinic").await;

    // A user with no clinic at all signs in with `clinic: null` and meets `no_clinic` on tenant routes.
    sqlx::query("delete from clinic_members where user_id = $1")
        .bind(b.user_id)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let email: String = sqlx::query_scalar("select email::text from users where id = $1")
        .bind(b.user_id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let session = json(r, 200).await;
    assert!(session["clinic"].is_null());
    assert_eq!(session["user"]["clinics"], json!([]));
    let token = session["accessToken"].as_str().unwrap_or_default();
    problem(app.get(token, "/patients").await, 403, "no_clinic").await;
}

/// `m` (already a member elsewhere) joins `clinic` in `role` and switches to it; returns the new token.
async fn member_existing(app: &TestApp, m: &Member, clinic: Uuid, role: &str) -> String {
    sqlx::query("insert into clinic_members (clinic_id, user_id, role) values ($1, $2, $3)")
        .bind(clinic)
        .bind(m.user_id)
        .bind(role)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let s = json(
        app.post(&m.token, "/auth/switch-clinic", json!({"clinicId": clinic}))
            .await,
        200,
    )
    .await;
    s["accessToken"].as_str().unwrap_or_default().to_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_refresh_keeps_the_active_clinic(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let b = owner(&app, "Clinic B").await;
    sqlx::query("insert into clinic_members (clinic_id, user_id, role) values ($1, $2, 'clinician')")
        .bind(a.clinic)
        .bind(b.user_id)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Switching to B (not the most recently joined) and refreshing that session stays in B.
    let s = json(
        app.post(&b.token, "/auth/switch-clinic", json!({"clinicId": b.clinic}))
            .await,
        200,
    )
    .await;
    let refresh = s["refreshToken"].as_str().unwrap_or_default();
    let r = app
        .http
        .post(app.url("/auth/refresh"))
        .json(&json!({"refreshToken": refresh}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refreshed = json(r, 200).await;
    assert_eq!(refreshed["clinic"]["id"], b.clinic.to_string());
    assert_eq!(refreshed["user"]["clinics"].as_array().map(Vec::len), Some(2));
}

#[sqlx::test(migrations = false)]
async fn the_clinics_migration_keeps_every_row_of_the_single_owner_schema(_: PgPoolOptions, options: PgConnectOptions) {
    let db = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let all = &api::db::MIGRATOR;
    let split = all
        .migrations
        .iter()
        .position(|m| m.version == 20_261_204_000_001)
        .unwrap_or_else(|| panic!("the clinics migration"));
    let mut before = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(all.migrations[..split].to_vec()),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before.set_locking(true);
    before.run(&db).await.unwrap_or_else(|e| panic!("{e}"));
    let user = Uuid::new_v4();
    let patient = Uuid::new_v4();
    let (question, answer) = (Uuid::new_v4(), Uuid::new_v4());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "insert into users (id, email, password_hash, full_name) values ('{user}', 'old@clinic.example', 'x', 'Dr Old');
         set app.user_id = '{user}';
         insert into patients (id, user_id, name, medical_notes) values ('{patient}', '{user}', 'Old Patient', 'notes');
         insert into chat_messages (id, patient_id, user_id, role, content) values ('{question}', '{patient}', '{user}', 'user', 'q');
         insert into chat_messages (id, patient_id, user_id, role, content, reply_to)
             values ('{answer}', '{patient}', '{user}', 'assistant', 'a', '{question}');
         insert into idempotency_keys (user_id, key, request_hash, user_message_id) values ('{user}', 'k', '\\x00', '{question}');
         insert into audit_events (user_id, action, patient_id) values ('{user}', 'patient.read', '{patient}');
         insert into refresh_token_families (user_id, expires_at) values ('{user}', now() + interval '1 day');"
    )))
    .execute(&db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    all.run(&db).await.unwrap_or_else(|e| panic!("{e}"));

    let (clinic, name, role): (Uuid, String, String) = sqlx::query_as(
        "select c.id, c.name, m.role from clinics c join clinic_members m on m.clinic_id = c.id where m.user_id = $1",
    )
    .bind(user)
    .fetch_one(&db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((name.as_str(), role.as_str()), ("Dr Old's clinic", "owner"));
    let checks = [
        format!(
            "select count(*) from patients where clinic_id = '{clinic}' and created_by = '{user}' and medical_notes = 'notes'"
        ),
        format!("select count(*) from chat_messages where clinic_id = '{clinic}'"),
        format!("select count(*) from idempotency_keys where clinic_id = '{clinic}'"),
        format!("select count(*) from audit_events where clinic_id = '{clinic}' and patient_id = '{patient}'"),
        format!("select count(*) from refresh_token_families where clinic_id = '{clinic}'"),
        format!("select n from patient_counts where clinic_id = '{clinic}'"),
    ];
    let expected = [1, 2, 1, 1, 1, 1];
    for (sql, want) in checks.iter().zip(expected) {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(&db)
            .await
            .unwrap_or(-1);
        assert_eq!(n, want, "{sql}");
    }
}
