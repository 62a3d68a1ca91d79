//! Records: the trash and restore, the retention job (purge after the period, not before, once across concurrent
//! runs), a patient's access log (keyset pages, itself logged) and the clinic overview, each for every role and
//! another clinic's ids.

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
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
    Member {
        token: switched["accessToken"].as_str().unwrap_or_default().to_owned(),
        user_id,
        clinic,
    }
}

/// A patient with notes and one exchange; returns its id.
async fn patient_with_chat(app: &TestApp, m: &Member, name: &str) -> String {
    let p = app
        .create_patient(
            &m.token,
            json!({"name": name, "medicalNotes": "Allergic to penicillin."}),
        )
        .await;
    let id = p["id"].as_str().unwrap_or_default().to_owned();
    json(
        app.post(
            &m.token,
            &format!("/patients/{id}/messages"),
            json!({"content": "What is a crown?"}),
        )
        .await,
        201,
    )
    .await;
    id
}

async fn scalar(app: &TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(id.parse::<Uuid>().unwrap_or_default())
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

async fn age_deletion(app: &TestApp, id: &str, days: i32) {
    sqlx::query("update patients set deleted_at = now() - make_interval(days => $2) where id = $1")
        .bind(id.parse::<Uuid>().unwrap_or_default())
        .bind(days)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_deleted_patient_is_invisible_everywhere_until_an_owner_restores_it_from_the_trash(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let id = patient_with_chat(&app, &a, "Zélia Trash").await;
    let kept = app.create_patient(&a.token, json!({"name": "Kept Patient"})).await;

    assert_eq!(app.delete(&a.token, &format!("/patients/{id}")).await.status(), 204);

    // Gone from every other route, its messages included.
    problem(app.get(&a.token, &format!("/patients/{id}")).await, 404, "not_found").await;
    problem(
        app.get(&a.token, &format!("/patients/{id}/messages")).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.post(
            &a.token,
            &format!("/patients/{id}/messages"),
            json!({"content": "Still there?"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.patch(&a.token, &format!("/patients/{id}"), json!({"name": "X"}))
            .await,
        404,
        "not_found",
    )
    .await;
    problem(app.delete(&a.token, &format!("/patients/{id}")).await, 404, "not_found").await;
    let list = json(app.get(&a.token, "/patients").await, 200).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], kept["id"]);
    let search = json(app.get(&a.token, "/patients?q=zelia").await, 200).await;
    assert_eq!(search["items"].as_array().map(Vec::len), Some(0), "{search}");
    // Still in the database, with its messages, only marked.
    assert_eq!(
        scalar(&app, "select count(*) from chat_messages where patient_id = $1", &id).await,
        2
    );

    // The trash shows it, with notes (an owner) and when it was deleted.
    let trash = json(app.get(&a.token, "/patients/trash").await, 200).await;
    assert_eq!(trash["total"], 1, "{trash}");
    assert_eq!(trash["page"], 1);
    assert_eq!(trash["limit"], 20);
    assert_eq!(trash["retentionDays"], 30);
    let item = &trash["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["name"], "Zélia Trash");
    assert_eq!(item["medicalNotes"], "Allergic to penicillin.");
    assert!(
        item["deletedAt"]
            .as_str()
            .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()),
        "{item}"
    );

    // Restored: a Patient (no deletedAt), everywhere again, messages too.
    let back = json(
        app.post(&a.token, &format!("/patients/{id}/restore"), json!({})).await,
        200,
    )
    .await;
    assert_eq!(back["id"], id.as_str());
    assert_eq!(back["medicalNotes"], "Allergic to penicillin.");
    assert!(back.get("deletedAt").is_none(), "{back}");
    json(app.get(&a.token, &format!("/patients/{id}")).await, 200).await;
    let history = json(app.get(&a.token, &format!("/patients/{id}/messages")).await, 200).await;
    assert_eq!(history["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(json(app.get(&a.token, "/patients").await, 200).await["total"], 2);
    let trash = json(app.get(&a.token, "/patients/trash").await, 200).await;
    assert_eq!(trash["total"], 0);
    assert_eq!(trash["items"], json!([]));
    // Not in the trash any more: 404, recorded as a refusal.
    problem(
        app.post(&a.token, &format!("/patients/{id}/restore"), json!({})).await,
        404,
        "not_found",
    )
    .await;
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_events where patient_id = $1 and action in ('patient.delete', 'patient.restore', 'access.denied') order by id",
    )
    .bind(id.parse::<Uuid>().unwrap_or_default())
    .fetch_all(&app.admin_db)
    .await
    .unwrap_or_default();
    assert!(actions.starts_with(&["patient.delete".to_owned()]), "{actions:?}");
    assert!(actions.contains(&"patient.restore".to_owned()), "{actions:?}");
    assert_eq!(actions.last().map(String::as_str), Some("access.denied"), "{actions:?}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_trash_is_for_owners_and_another_clinics_trash_is_404(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let clinician = member(&app, a.clinic, "clinician").await;
    let reception = member(&app, a.clinic, "reception").await;
    let b = owner(&app, "Clinic B").await;
    let id = patient_with_chat(&app, &a, "Trashed One").await;
    // Reception may delete (a write), but not see the trash.
    assert_eq!(
        app.delete(&reception.token, &format!("/patients/{id}")).await.status(),
        204
    );

    for m in [&clinician, &reception] {
        problem(app.get(&m.token, "/patients/trash").await, 403, "forbidden").await;
        problem(
            app.post(&m.token, &format!("/patients/{id}/restore"), json!({})).await,
            403,
            "forbidden",
        )
        .await;
    }
    let denied = scalar(
        &app,
        "select count(*) from audit_events where action = 'access.denied' and patient_id = $1",
        &id,
    )
    .await;
    assert_eq!(denied, 2, "each refused restore is audited");

    // Clinic B sees an empty trash and cannot restore A's patient; A's row is unchanged.
    let b_trash = json(app.get(&b.token, "/patients/trash").await, 200).await;
    assert_eq!(b_trash["total"], 0);
    problem(
        app.post(&b.token, &format!("/patients/{id}/restore"), json!({})).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        scalar(
            &app,
            "select count(*) from patients where id = $1 and deleted_at is not null",
            &id
        )
        .await,
        1
    );
    let a_trash = json(app.get(&a.token, "/patients/trash").await, 200).await;
    assert_eq!(a_trash["items"][0]["id"], id.as_str());
    // Validation of the page like the patient list.
    problem(
        app.get(&a.token, "/patients/trash?limit=0").await,
        422,
        "validation_failed",
    )
    .await;
    problem(app.get(&a.token, "/patients/trash?sort=x").await, 400, "invalid_query").await;
    // The other routes still reach their ids.
    let _ = (b.user_id, clinician.user_id);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_retention_job_purges_after_the_period_and_not_before(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let old = patient_with_chat(&app, &a, "Old Deletion").await;
    let recent = patient_with_chat(&app, &a, "Recent Deletion").await;
    let live = patient_with_chat(&app, &a, "Live Patient").await;
    for id in [&old, &recent] {
        assert_eq!(app.delete(&a.token, &format!("/patients/{id}")).await.status(), 204);
    }
    age_deletion(&app, &old, 31).await;
    age_deletion(&app, &recent, 29).await;
    // An idempotency key past its day and a fresh one; an expired refresh family and the live session's.
    for k in ["stale-key", "fresh-key"] {
        let r = app
            .http
            .post(app.url(&format!("/patients/{live}/messages")))
            .bearer_auth(&a.token)
            .header("idempotency-key", k)
            .json(&json!({"content": format!("Question {k}")}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        json(r, 201).await;
    }
    sqlx::query("update idempotency_keys set created_at = now() - interval '25 hours' where key = 'stale-key'")
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sqlx::query(
        "insert into refresh_token_families (user_id, expires_at, clinic_id) values ($1, now() - interval '1 hour', $2)",
    )
    .bind(a.user_id)
    .bind(a.clinic)
    .execute(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let families_before: i64 = sqlx::query_scalar("select count(*) from refresh_token_families")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);

    // Past the period: not listed and not restorable, even before the job runs.
    let trash = json(app.get(&a.token, "/patients/trash").await, 200).await;
    let listed: Vec<&str> = trash["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(listed, [recent.as_str()]);
    problem(
        app.post(&a.token, &format!("/patients/{old}/restore"), json!({})).await,
        404,
        "not_found",
    )
    .await;

    let purged = api::retention::run_once(&app.state.db, 30)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(purged.patients, 1, "{purged:?}");
    assert_eq!(purged.idempotency_keys, 1, "{purged:?}");
    assert_eq!(purged.refresh_families, 1, "{purged:?}");
    assert!(!purged.contended);

    // The old one is gone with its messages; the recent one and the live one are whole.
    assert_eq!(
        scalar(&app, "select count(*) from patients where id = $1", &old).await,
        0
    );
    assert_eq!(
        scalar(&app, "select count(*) from chat_messages where patient_id = $1", &old).await,
        0
    );
    assert_eq!(
        scalar(
            &app,
            "select count(*) from chat_messages where patient_id = $1",
            &recent
        )
        .await,
        2
    );
    assert_eq!(
        scalar(
            &app,
            "select count(*) from patients where id = $1 and deleted_at is null",
            &live
        )
        .await,
        1
    );
    assert_eq!(
        scalar(&app, "select count(*) from chat_messages where patient_id = $1", &live).await,
        6
    );
    assert_eq!(
        scalar(
            &app,
            "select count(*) from audit_events where action = 'patient.purge' and patient_id = $1",
            &old
        )
        .await,
        1
    );
    let keys: Vec<String> = sqlx::query_scalar("select key from idempotency_keys order by key")
        .fetch_all(&app.admin_db)
        .await
        .unwrap_or_default();
    assert_eq!(keys, ["fresh-key"]);
    let families_after: i64 = sqlx::query_scalar("select count(*) from refresh_token_families")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(families_after, families_before - 1);
    // The live session still refreshes... and the owner still works.
    json(app.get(&a.token, &format!("/patients/{live}")).await, 200).await;
    // The recent one can still come back; a second run purges nothing more.
    json(
        app.post(&a.token, &format!("/patients/{recent}/restore"), json!({}))
            .await,
        200,
    )
    .await;
    let again = api::retention::run_once(&app.state.db, 30)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, api::retention::Purged::default());
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_concurrent_retention_runs_purge_each_patient_once(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let b = owner(&app, "Clinic B").await;
    // More than two batches, in two clinics, with a message each.
    let n: i64 = 1_300;
    sqlx::query(
        "with p as (
             insert into patients (id, clinic_id, name, deleted_at)
             select gen_random_uuid(), case when i % 2 = 0 then $1 else $2 end::uuid, 'Bulk ' || i,
                    now() - interval '40 days'
             from generate_series(1, $3) i
             returning clinic_id, id, created_by
         )
         insert into chat_messages (id, clinic_id, patient_id, user_id, role, content)
         select gen_random_uuid(), p.clinic_id, p.id, $4, 'user', 'hello' from p",
    )
    .bind(a.clinic)
    .bind(b.clinic)
    .bind(n)
    .bind(a.user_id)
    .execute(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let db = app.state.db.clone();
    let (one, two) = tokio::join!(api::retention::run_once(&db, 30), api::retention::run_once(&db, 30));
    let (one, two) = (
        one.unwrap_or_else(|e| panic!("{e}")),
        two.unwrap_or_else(|e| panic!("{e}")),
    );
    assert_eq!(one.patients + two.patients, n.unsigned_abs(), "{one:?} {two:?}");
    let left: i64 = sqlx::query_scalar("select count(*) from patients")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(left, 0);
    let messages: i64 = sqlx::query_scalar("select count(*) from chat_messages")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(messages, 0);
    let logged: (i64, i64) =
        sqlx::query_as("select count(*), count(distinct patient_id) from audit_events where action = 'patient.purge'")
            .fetch_one(&app.admin_db)
            .await
            .unwrap_or((-1, -1));
    assert_eq!(logged, (n, n), "one purge record per patient");
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_retention_role_sees_only_the_trash(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let live = patient_with_chat(&app, &a, "Live One").await;
    let trashed = patient_with_chat(&app, &a, "Trashed One").await;
    assert_eq!(
        app.delete(&a.token, &format!("/patients/{trashed}")).await.status(),
        204
    );
    let mut tx = app.state.db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    sqlx::Executor::execute(&mut *tx, "set local role dental_retention")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let seen: Vec<Uuid> = sqlx::query_scalar("select id from patients")
        .fetch_all(&mut *tx)
        .await
        .unwrap_or_default();
    assert_eq!(seen, [trashed.parse::<Uuid>().unwrap_or_default()]);
    let deleted = sqlx::query("delete from patients where id = $1")
        .bind(live.parse::<Uuid>().unwrap_or_default())
        .execute(&mut *tx)
        .await
        .map_or(99, |r| r.rows_affected());
    assert_eq!(deleted, 0, "a live patient cannot be deleted by the job's role");
    let messages = sqlx::query_scalar::<_, i64>("select count(*) from chat_messages")
        .fetch_one(&mut *tx)
        .await;
    assert!(messages.is_err(), "no access to messages at all");
}

/// Every page of the access log, following `nextCursor`.
async fn whole_log(app: &TestApp, token: &str, id: &str, limit: u32) -> (Vec<Value>, usize) {
    let mut events = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/patients/{id}/access-log?limit={limit}&cursor={c}"),
            None => format!("/patients/{id}/access-log?limit={limit}"),
        };
        let page = json(app.get(token, &path).await, 200).await;
        pages += 1;
        events.extend(page["items"].as_array().cloned().unwrap_or_default());
        assert_eq!(page["hasMore"], page["nextCursor"].is_string(), "{page}");
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages < 50, "the cursor ends");
    }
    (events, pages)
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_access_log_shows_who_did_what_newest_first_in_keyset_pages_and_is_itself_logged(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let clinician = member(&app, a.clinic, "clinician").await;
    let reception = member(&app, a.clinic, "reception").await;
    let b = owner(&app, "Clinic B").await;
    let id = patient_with_chat(&app, &a, "Logged Patient").await; // create + message.send
    json(app.get(&clinician.token, &format!("/patients/{id}")).await, 200).await;
    json(
        app.get(&clinician.token, &format!("/patients/{id}/messages")).await,
        200,
    )
    .await;
    json(
        app.patch(
            &reception.token,
            &format!("/patients/{id}"),
            json!({"phone": "+15550001111"}),
        )
        .await,
        200,
    )
    .await;
    problem(
        app.get(&reception.token, &format!("/patients/{id}/messages")).await,
        403,
        "forbidden",
    )
    .await;
    // Another clinic's attempt is in that clinic's trail, not in A's log (it names B's member).
    problem(app.get(&b.token, &format!("/patients/{id}")).await, 404, "not_found").await;

    // Owners only; another clinic's owner gets 404 (and the refusal is recorded).
    for m in [&clinician, &reception] {
        problem(
            app.get(&m.token, &format!("/patients/{id}/access-log")).await,
            403,
            "forbidden",
        )
        .await;
    }
    problem(
        app.get(&b.token, &format!("/patients/{id}/access-log")).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.get(&a.token, &format!("/patients/{}/access-log", Uuid::now_v7()))
            .await,
        404,
        "not_found",
    )
    .await;
    let b_denied: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where action = 'access.denied' and clinic_id = $1 and patient_id = $2",
    )
    .bind(b.clinic)
    .bind(id.parse::<Uuid>().unwrap_or_default())
    .fetch_one(&app.admin_db)
    .await
    .unwrap_or(-1);
    assert_eq!(b_denied, 2);

    let (events, pages) = whole_log(&app, &a.token, &id, 2).await;
    assert!(pages >= 4, "{pages} pages");
    let got: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("?").to_owned(),
                e["userId"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect();
    let (owner_id, clinician_id, reception_id) = (
        a.user_id.to_string(),
        clinician.user_id.to_string(),
        reception.user_id.to_string(),
    );
    // Newest first. The owner's own read of this log (as `patient.read`) heads it; refused roles' attempts count.
    let expected: Vec<(String, String)> = [
        ("patient.read", &owner_id),       // reading this log
        ("access.denied", &reception_id),  // access log, 403
        ("access.denied", &clinician_id),  // access log, 403
        ("access.denied", &reception_id),  // chat, 403
        ("patient.update", &reception_id), // phone
        ("message.list", &clinician_id),
        ("patient.read", &clinician_id),
        ("message.send", &owner_id), // the reply (internally message.reply)
        ("message.send", &owner_id),
        ("patient.update", &owner_id), // creation
    ]
    .into_iter()
    .map(|(a, u)| (a.to_owned(), u.clone()))
    .collect();
    assert_eq!(got, expected);
    let times: Vec<&str> = events.iter().filter_map(|e| e["at"].as_str()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(times, sorted, "newest first");
    assert!(events.iter().all(|e| e["requestId"].is_string()));
    assert_eq!(events[3]["userName"], "Dr Test");
    assert_eq!(events[9]["userName"], "Dr Clinic A");

    // Each read was itself recorded (internally as patient.access_log).
    let reads = scalar(
        &app,
        "select count(*) from audit_events where action = 'patient.access_log' and patient_id = $1",
        &id,
    )
    .await;
    assert_eq!(reads, i64::try_from(pages).unwrap_or(-1));

    // Numbered pages are offsets into the log as it is at that request (which its own read heads).
    let p2 = json(
        app.get(&a.token, &format!("/patients/{id}/access-log?page=2&limit=3"))
            .await,
        200,
    )
    .await;
    assert_eq!(p2["page"], 2);
    assert_eq!(p2["limit"], 3);
    let full = json(
        app.get(&a.token, &format!("/patients/{id}/access-log?limit=100")).await,
        200,
    )
    .await;
    assert_eq!(full["hasMore"], false);
    assert_eq!(full["nextCursor"], Value::Null);
    // `full` has one more read on top than the log `p2` was cut from.
    let full_items = full["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        p2["items"].as_array().cloned().unwrap_or_default(),
        full_items[4..7].to_vec()
    );
    assert!(p2["hasMore"] == true && p2["nextCursor"].is_string());

    // Bad input: 422 / 400, never 500.
    problem(
        app.get(&a.token, &format!("/patients/{id}/access-log?cursor=nope"))
            .await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get(&a.token, &format!("/patients/{id}/access-log?limit=101")).await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get(&a.token, "/patients/not-a-uuid/access-log").await,
        400,
        "invalid_path",
    )
    .await;

    // A patient in the trash keeps its log.
    assert_eq!(app.delete(&a.token, &format!("/patients/{id}")).await.status(), 204);
    let trashed = json(
        app.get(&a.token, &format!("/patients/{id}/access-log?limit=3")).await,
        200,
    )
    .await;
    assert_eq!(trashed["items"][0]["action"], "patient.read");
    assert_eq!(trashed["items"][1]["action"], "patient.delete");
}

/// Inserts an assistant message of `patient` dated `at` with the given usage and emergency category.
async fn backdated_reply(
    app: &TestApp,
    m: &Member,
    patient: &str,
    at: &str,
    tokens: (i64, i64),
    category: Option<&str>,
) {
    let emergency = match category {
        Some(c) => json!({"detected": true, "category": c, "severity": "urgent"}),
        None => json!({"detected": false, "category": null, "severity": null}),
    };
    let metadata = json!({"usage": {"inputTokens": tokens.0, "outputTokens": tokens.1}, "emergency": emergency});
    sqlx::query(
        "with q as (
             insert into chat_messages (id, clinic_id, patient_id, user_id, role, content, created_at)
             values (gen_random_uuid(), $1, $2, $3, 'user', 'question', $4::timestamptz)
             returning id
         )
         insert into chat_messages (id, clinic_id, patient_id, user_id, role, content, metadata, reply_to, created_at)
         select gen_random_uuid(), $1, $2, $3, 'assistant', 'answer', $5, q.id, $4::timestamptz + interval '1 second'
         from q",
    )
    .bind(m.clinic)
    .bind(patient.parse::<Uuid>().unwrap_or_default())
    .bind(m.user_id)
    .bind(at)
    .bind(metadata)
    .execute(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_overview_counts_messages_emergencies_and_tokens_of_the_clinic_only(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let a = owner(&app, "Clinic A").await;
    let clinician = member(&app, a.clinic, "clinician").await;
    let reception = member(&app, a.clinic, "reception").await;
    let b = owner(&app, "Clinic B").await;
    let p = app.create_patient(&a.token, json!({"name": "Stats Patient"})).await;
    let p = p["id"].as_str().unwrap_or_default().to_owned();
    let gone = app.create_patient(&a.token, json!({"name": "Trashed Stats"})).await;
    let gone = gone["id"].as_str().unwrap_or_default().to_owned();
    let other = app.create_patient(&b.token, json!({"name": "Other Clinic"})).await;
    let other = other["id"].as_str().unwrap_or_default().to_owned();

    backdated_reply(&app, &a, &p, "2026-01-30T23:59:00Z", (100, 20), None).await;
    backdated_reply(&app, &a, &p, "2026-01-31T08:00:00Z", (0, 0), Some("avulsed_tooth")).await;
    backdated_reply(&app, &a, &p, "2026-01-31T09:00:00Z", (0, 0), Some("avulsed_tooth")).await;
    backdated_reply(&app, &a, &p, "2026-02-01T10:00:00Z", (7, 3), Some("swelling")).await;
    backdated_reply(&app, &a, &gone, "2026-01-31T10:00:00Z", (1000, 1000), Some("bleeding")).await;
    backdated_reply(&app, &b, &other, "2026-01-31T10:00:00Z", (1000, 1000), Some("bleeding")).await;
    assert_eq!(app.delete(&a.token, &format!("/patients/{gone}")).await.status(), 204);

    let stats = json(
        app.get(&a.token, "/clinic/stats?from=2026-01-29&to=2026-02-02").await,
        200,
    )
    .await;
    assert_eq!(
        stats["days"],
        json!([
            {"date": "2026-01-29", "messages": 0, "emergencies": {}},
            {"date": "2026-01-30", "messages": 1, "emergencies": {}},
            {"date": "2026-01-31", "messages": 2, "emergencies": {"avulsed_tooth": 2}},
            {"date": "2026-02-01", "messages": 1, "emergencies": {"swelling": 1}},
            {"date": "2026-02-02", "messages": 0, "emergencies": {}},
        ])
    );
    assert_eq!(
        stats["months"],
        json!([
            {"month": "2026-01", "inputTokens": 100, "outputTokens": 20},
            {"month": "2026-02", "inputTokens": 7, "outputTokens": 3},
        ])
    );

    // Today's messages sent through the api count too (the offline model reports its usage).
    let sent = json(
        app.post(
            &a.token,
            &format!("/patients/{p}/messages"),
            json!({"content": "my son's tooth got knocked out playing football"}),
        )
        .await,
        201,
    )
    .await;
    let today = chrono::Utc::now().date_naive().to_string();
    let now = json(
        app.get(&a.token, &format!("/clinic/stats?from={today}&to={today}"))
            .await,
        200,
    )
    .await;
    assert_eq!(now["days"][0]["messages"], 1, "{now}");
    let category = sent["emergency"]["category"].as_str().unwrap_or("?");
    assert_eq!(now["days"][0]["emergencies"][category], 1, "{now}");
    let usage = &sent["assistantMessage"]["metadata"]["usage"];
    assert_eq!(now["months"][0]["inputTokens"], usage["inputTokens"]);
    // The default range is the last 30 days, ending today.
    let default = json(app.get(&a.token, "/clinic/stats").await, 200).await;
    assert_eq!(default["days"].as_array().map(Vec::len), Some(30));
    assert_eq!(default["days"][29]["date"], today.as_str());

    // Owners only; ranges of at most 366 days, in order; dates as dates.
    for m in [&clinician, &reception] {
        problem(app.get(&m.token, "/clinic/stats").await, 403, "forbidden").await;
    }
    let b_stats = json(
        app.get(&b.token, "/clinic/stats?from=2026-01-31&to=2026-01-31").await,
        200,
    )
    .await;
    assert_eq!(
        b_stats["days"][0]["emergencies"],
        json!({"bleeding": 1}),
        "B sees only its own"
    );
    json(
        app.get(&a.token, "/clinic/stats?from=2024-01-01&to=2024-12-31").await,
        200,
    )
    .await;
    let long = problem(
        app.get(&a.token, "/clinic/stats?from=2025-01-01&to=2026-01-02").await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(long["errors"][0]["code"], "range_too_long");
    problem(
        app.get(&a.token, "/clinic/stats?from=2026-02-02&to=2026-02-01").await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get(&a.token, "/clinic/stats?from=yesterday").await,
        400,
        "invalid_query",
    )
    .await;
}
