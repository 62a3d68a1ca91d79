use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{AI_TOKEN, TestApp, json, problem};

async fn patient(app: &TestApp, token: &str) -> String {
    let p = app
        .create_patient(
            token,
            json!({"name": "Maria Lopez", "medicalNotes": "Diabetic; takes metformin."}),
        )
        .await;
    p["id"].as_str().unwrap_or_default().to_owned()
}

async fn assistant_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from chat_messages where role = 'assistant'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from chat_messages where role = 'user'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

#[sqlx::test(migrations = "../../migrations")]
async fn sending_saves_both_messages_with_metadata_and_history_pages_oldest_first(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    let sent = json(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "  How often should I floss?  "}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(sent["userMessage"]["content"], "How often should I floss?");
    assert_eq!(sent["userMessage"]["role"], "user");
    assert_eq!(sent["assistantMessage"]["role"], "assistant");
    assert_eq!(sent["emergency"], Value::Null);
    let meta = &sent["assistantMessage"]["metadata"];
    assert_eq!(meta["provider"], "offline");
    assert!(meta["model"].is_string());
    assert!(meta["usage"]["inputTokens"].is_u64() && meta["usage"]["outputTokens"].is_u64());
    assert!(meta["latencyMs"].is_u64());
    assert_eq!(meta["emergency"]["detected"], false);
    assert!(meta["finishReason"].is_string());
    assert!(
        !sent["assistantMessage"]["content"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );

    for q in ["Is whitening safe with crowns?", "What about bad breath?"] {
        json(
            app.post(&token, &format!("/patients/{id}/messages"), json!({"content": q}))
                .await,
            201,
        )
        .await;
    }
    let page = json(app.get(&token, &format!("/patients/{id}/messages?limit=4")).await, 200).await;
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["content"], "Is whitening safe with crowns?");
    assert_eq!(items[3]["role"], "assistant");
    let before = page["nextBefore"].as_str().unwrap_or_default();
    let older = json(
        app.get(&token, &format!("/patients/{id}/messages?limit=4&before={before}"))
            .await,
        200,
    )
    .await;
    assert_eq!(older["items"].as_array().map(Vec::len), Some(2));
    assert_eq!(older["items"][0]["content"], "How often should I floss?");
    assert_eq!(older["nextBefore"], Value::Null);
    problem(
        app.get(&token, &format!("/patients/{id}/messages?limit=0")).await,
        422,
        "validation_failed",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_emergency_is_flagged_with_first_aid(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    let sent = json(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "my son's tooth got knocked out playing football"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(sent["emergency"]["detected"], true);
    assert!(sent["emergency"]["category"].is_string());
    assert_eq!(sent["assistantMessage"]["metadata"]["emergency"]["detected"], true);
    let reply = sent["assistantMessage"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(reply.contains("milk") || reply.contains("crown"), "{reply}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn empty_blank_and_overlong_content_is_422_and_nothing_is_saved(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    for (content, code) in [
        ("", "required"),
        ("   \n ", "required"),
        (&"a".repeat(4001) as &str, "too_long"),
    ] {
        for path in ["messages", "messages/stream"] {
            let p = problem(
                app.post(&token, &format!("/patients/{id}/{path}"), json!({"content": content}))
                    .await,
                422,
                "validation_failed",
            )
            .await;
            assert_eq!(p["errors"][0]["field"], "content");
            assert_eq!(p["errors"][0]["code"], code);
        }
    }
    problem(
        app.post(&token, &format!("/patients/{id}/messages"), json!({"text": "hi"}))
            .await,
        400,
        "invalid_body",
    )
    .await;
    assert_eq!(user_count(&app).await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_stream_sends_user_deltas_then_done_and_saves_the_reply(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "How do I care for my dentures?"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/event-stream")
    );
    let evs = crate::helpers::sse_events(r).await;
    let names: Vec<&str> = evs.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"user"));
    assert_eq!(names.last(), Some(&"done"));
    assert!(names.iter().filter(|n| **n == "delta").count() >= 2, "{names:?}");
    let streamed: String = evs
        .iter()
        .filter(|(e, _)| e == "delta")
        .filter_map(|(_, d)| d["text"].as_str())
        .collect();
    let done = &evs.last().map(|(_, d)| d.clone()).unwrap_or_default();
    assert_eq!(done["assistantMessage"]["content"], streamed.as_str());
    assert_eq!(done["emergency"], Value::Null);
    let saved: String = sqlx::query_scalar("select content from chat_messages where role = 'assistant'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    assert_eq!(saved, streamed);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_stream_emergency_is_flagged_in_done(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "I can't stop the bleeding after my extraction yesterday"}),
        )
        .await;
    let evs = crate::helpers::sse_events(r).await;
    let (name, done) = evs.last().cloned().unwrap_or_default();
    assert_eq!(name, "done");
    assert_eq!(done["emergency"]["detected"], true);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_reply_is_saved_even_when_the_client_disconnects_mid_stream(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "Tell me about dental implants"}),
        )
        .await;
    let mut stream = r.bytes_stream();
    let first = stream.next().await;
    assert!(first.is_some());
    drop(stream);
    for _ in 0..100 {
        if assistant_count(&app).await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the reply was not saved after the client disconnected");
}

#[sqlx::test(migrations = "../../migrations")]
async fn when_the_ai_is_down_the_message_is_kept_and_answered_later_without_duplicates(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    // Reserve the AI's address, then leave it empty: the service is down.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr = reserved.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(reserved);
    let ai_url = reqwest::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::spawn_with(options, ai_url, |_| {}).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;

    let p = problem(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "Is flossing important?"}),
        )
        .await,
        503,
        "ai_unavailable",
    )
    .await;
    assert!(p["detail"].as_str().unwrap_or_default().contains("saved"));
    assert_eq!(user_count(&app).await, 1);
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "And mouthwash?"}),
        )
        .await;
    let evs = crate::helpers::sse_events(r).await;
    assert_eq!(evs.first().map(|(e, _)| e.as_str()), Some("user"));
    let (last, data) = evs.last().cloned().unwrap_or_default();
    assert_eq!(last, "error");
    assert_eq!(data["code"], "ai_unavailable");
    assert_eq!(user_count(&app).await, 2);
    assert_eq!(assistant_count(&app).await, 0);

    // The AI service comes back.
    let config = ai::Config::for_tests(AI_TOKEN);
    let state = ai::AppState::new(&config).unwrap_or_else(|e| panic!("{e}"));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(ai::serve(listener, state, std::future::pending()));

    let history = json(app.get(&token, &format!("/patients/{id}/messages")).await, 200).await;
    let first_id = history["items"][0]["id"].as_str().unwrap_or_default().to_owned();
    let reply = json(
        app.post(&token, &format!("/patients/{id}/messages/{first_id}/reply"), json!({}))
            .await,
        201,
    )
    .await;
    assert_eq!(reply["assistantMessage"]["role"], "assistant");
    problem(
        app.post(&token, &format!("/patients/{id}/messages/{first_id}/reply"), json!({}))
            .await,
        409,
        "already_answered",
    )
    .await;
    let assistant_id = reply["assistantMessage"]["id"].as_str().unwrap_or_default();
    problem(
        app.post(
            &token,
            &format!("/patients/{id}/messages/{assistant_id}/reply"),
            json!({}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(user_count(&app).await, 2);
    assert_eq!(assistant_count(&app).await, 1);
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_idempotent_retry_returns_the_first_result_without_a_second_message(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    let send = |key: &'static str, content: &'static str| {
        app.http
            .post(app.url(&format!("/patients/{id}/messages")))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&json!({"content": content}))
            .send()
    };
    let first = json(
        send("key-1", "What is a crown?")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        201,
    )
    .await;
    let again = json(
        send("key-1", "What is a crown?")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        201,
    )
    .await;
    assert_eq!(first, again);
    assert_eq!(user_count(&app).await, 1);
    assert_eq!(assistant_count(&app).await, 1);
    let p = problem(
        send("key-1", "Something else").await.unwrap_or_else(|e| panic!("{e}")),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(p["errors"][0]["code"], "key_reused");
    json(
        send("key-2", "What is a crown?")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        201,
    )
    .await;
    assert_eq!(user_count(&app).await, 2);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_chat_rate_limit_is_per_user(_: PgPoolOptions, options: PgConnectOptions) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options, ai, |c| c.rate_limits.chat_per_user.limit = 2).await;
    let (token, _) = app.register().await;
    let id = patient(&app, &token).await;
    for _ in 0..2 {
        json(
            app.post(
                &token,
                &format!("/patients/{id}/messages"),
                json!({"content": "Hello there"}),
            )
            .await,
            201,
        )
        .await;
    }
    problem(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "Hello there"}),
        )
        .await,
        429,
        "rate_limited",
    )
    .await;
    assert_eq!(user_count(&app).await, 2);
    let (other, _) = app.register().await;
    let other_patient = patient(&app, &other).await;
    json(
        app.post(
            &other,
            &format!("/patients/{other_patient}/messages"),
            json!({"content": "Hello"}),
        )
        .await,
        201,
    )
    .await;
}

/// Two sends with one `Idempotency-Key` that both pass the lookup (a race the api cannot see from outside): the
/// second `chat_send` finds the key live, raises DA409, and saves neither its message nor its audit row; the first is
/// untouched. Run against the function itself, as the api's role, since the race is too narrow to hit over HTTP.
#[sqlx::test(migrations = "../../migrations")]
async fn a_second_send_racing_for_a_live_idempotency_key_saves_nothing(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, session) = app.register().await;
    let patient_id = patient(&app, &token).await;
    let user: uuid::Uuid = session["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("user id"));
    let patient_id: uuid::Uuid = patient_id.parse().unwrap_or_else(|e| panic!("patient id: {e}"));
    let clinic: uuid::Uuid = sqlx::query_scalar("select clinic_id from patients where id = $1")
        .bind(patient_id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("clinic: {e}"));
    let send = |id: uuid::Uuid| {
        let db = app.admin_db.clone();
        async move {
            let mut tx = db.begin().await.unwrap_or_else(|e| panic!("begin: {e}"));
            sqlx::Executor::execute(&mut *tx, "set local role dental_app")
                .await
                .unwrap_or_else(|e| panic!("role: {e}"));
            let rows = sqlx::query(
                "select * from chat_send($1, $2, array['owner'], 'race-test', $3, $4, 'Is this swelling normal?', 5,
                                         'race-key', '\\x01'::bytea)",
            )
            .bind(user)
            .bind(clinic)
            .bind(patient_id)
            .bind(id)
            .fetch_all(&mut *tx)
            .await;
            match rows {
                Ok(rows) => {
                    tx.commit().await.unwrap_or_else(|e| panic!("commit: {e}"));
                    Ok(rows.len())
                }
                Err(sqlx::Error::Database(e)) => Err(e.code().map(std::borrow::Cow::into_owned).unwrap_or_default()),
                Err(e) => panic!("chat_send: {e}"),
            }
        }
    };
    let (first, second) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    assert_eq!(
        send(first).await,
        Ok(1),
        "the first send saves its message (no history yet: one row)"
    );
    assert_eq!(send(second).await, Err("DA409".to_owned()));
    let saved: Vec<uuid::Uuid> = sqlx::query_scalar("select id from chat_messages where patient_id = $1")
        .bind(patient_id)
        .fetch_all(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("messages: {e}"));
    assert_eq!(saved, vec![first]);
    let sends: i64 = sqlx::query_scalar(
        "select count(*) from audit_events where action = 'message.send' and request_id = 'race-test'",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("audit: {e}"));
    assert_eq!(sends, 1, "the refused send's audit row went with it");
    let keyed: Option<uuid::Uuid> =
        sqlx::query_scalar("select user_message_id from idempotency_keys where key = 'race-key'")
            .fetch_optional(&app.admin_db)
            .await
            .unwrap_or_else(|e| panic!("key: {e}"));
    assert_eq!(keyed, Some(first));
}
