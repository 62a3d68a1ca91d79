//! Resumable reply streams and stop (issue 16): two api instances on one Redis and one database, the real
//! ai service in front of a fake OpenAI-compatible model that reports when its connection is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventsource_stream::Eventsource as _;
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::helpers::{AI_TOKEN, TestApp, json, problem};
use crate::ratelimit::{REDIS_URL, redis_available};

/// What the fake model saw of one call: how many chunks it sent before its body was dropped, and when.
struct Closed {
    sent: usize,
    at: Instant,
}

/// Sends `Closed` when the response body is dropped (the connection closed or the stream finished).
struct CloseProbe {
    sent: Arc<AtomicUsize>,
    tx: mpsc::UnboundedSender<Closed>,
}

impl Drop for CloseProbe {
    fn drop(&mut self) {
        let _ = self.tx.send(Closed {
            sent: self.sent.load(Ordering::SeqCst),
            at: Instant::now(),
        });
    }
}

/// A fake OpenAI-compatible server streaming `chunks` words one every `pause`; reports each body's end.
async fn model(chunks: usize, pause: Duration) -> (String, mpsc::UnboundedReceiver<Closed>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || {
            let tx = tx.clone();
            async move {
                let sent = Arc::new(AtomicUsize::new(0));
                let probe = CloseProbe { sent: sent.clone(), tx };
                let words = futures::stream::iter(0..chunks).then(move |i| {
                    let sent = sent.clone();
                    async move {
                        tokio::time::sleep(pause).await;
                        sent.fetch_add(1, Ordering::SeqCst);
                        let chunk = json!({"choices": [{"index": 0, "delta": {"content": format!("word{i} ")}}]});
                        Ok::<_, std::convert::Infallible>(format!("data: {chunk}\n\n"))
                    }
                });
                let end = futures::stream::iter([
                    Ok(format!(
                        "data: {}\n\n",
                        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 42, "completion_tokens": chunks}})
                    )),
                    Ok("data: [DONE]\n\n".to_owned()),
                ]);
                let body = words.chain(end).map(move |item| {
                    let _alive = &probe;
                    item
                });
                axum::response::IntoResponse::into_response((
                    [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
                    axum::body::Body::from_stream(body),
                ))
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), rx)
}

/// The ai service on port 0 in front of `model_url`.
async fn ai_for(model_url: String) -> reqwest::Url {
    let mut config = ai::Config::for_tests(AI_TOKEN);
    config.provider = ai::config::ProviderConfig::OpenAi {
        base_url: model_url,
        api_key: None,
        model: "stream-test-model".to_owned(),
    };
    let state = ai::AppState::new(&config).unwrap_or_else(|e| panic!("ai state: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(ai::serve(listener, state, std::future::pending()));
    reqwest::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}"))
}

/// Two api instances sharing the database, the ai service and one Redis namespace.
async fn two_instances(options: PgConnectOptions, ai: reqwest::Url) -> (TestApp, TestApp) {
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let shared = |c: &mut api::config::Config| {
        c.redis_url = Some(secrecy::SecretString::from(REDIS_URL));
        c.rate_limit_prefix.clone_from(&prefix);
    };
    let a = TestApp::spawn_with(options.clone(), ai.clone(), shared).await;
    let b = TestApp::spawn_with(options, ai, shared).await;
    (a, b)
}

/// One SSE event: (id, event, data).
type Sse = (String, String, Value);

fn events(r: reqwest::Response) -> impl Stream<Item = Sse> + Unpin {
    r.bytes_stream().eventsource().filter_map(|e| {
        futures::future::ready(
            e.ok()
                .map(|e| (e.id, e.event, serde_json::from_str(&e.data).unwrap_or(Value::Null))),
        )
    })
}

fn seq(id: &str) -> u64 {
    id.rsplit_once(':')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or(u64::MAX)
}

async fn setup(app: &TestApp) -> (String, String) {
    let (token, _) = app.register().await;
    let p = app.create_patient(&token, json!({"name": "Stream Patient"})).await;
    (token, p["id"].as_str().unwrap_or_default().to_owned())
}

async fn start_stream(app: &TestApp, token: &str, patient: &str) -> reqwest::Response {
    let r = app
        .post(
            token,
            &format!("/patients/{patient}/messages/stream"),
            json!({"content": "How often should I floss?"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r
}

async fn reattach(app: &TestApp, token: &str, patient: &str, message: &str, last: Option<&str>) -> reqwest::Response {
    let mut request = app
        .http
        .get(app.url(&format!("/patients/{patient}/messages/{message}/stream")))
        .bearer_auth(token);
    if let Some(last) = last {
        request = request.header("Last-Event-ID", last);
    }
    request.send().await.unwrap_or_else(|e| panic!("reattach: {e}"))
}

/// Reads events until `n` deltas have arrived (after the `user` event); returns them all.
async fn read_deltas(stream: &mut (impl Stream<Item = Sse> + Unpin), n: usize) -> Vec<Sse> {
    let mut out = Vec::new();
    while out.iter().filter(|(_, e, _)| e == "delta").count() < n {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(event)) => out.push(event),
            _ => panic!("the stream ended early: {out:?}"),
        }
    }
    out
}

async fn read_all(stream: &mut (impl Stream<Item = Sse> + Unpin)) -> Vec<Sse> {
    let mut out = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(15), stream.next()).await {
        out.push(event);
    }
    out
}

fn text_of(events: &[Sse]) -> String {
    events
        .iter()
        .filter(|(_, e, _)| e == "delta")
        .filter_map(|(_, _, d)| d["text"].as_str())
        .collect()
}

async fn saved_reply(app: &TestApp, user_message: &str) -> (String, Value) {
    sqlx::query_as("select content, metadata from chat_messages where reply_to = $1::uuid")
        .bind(user_message)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("the reply was not saved: {e}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_reply_dropped_on_one_instance_reattaches_on_another_after_last_event_id_without_gaps_or_repeats(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    if !redis_available().await {
        eprintln!("SKIP: no Redis at {REDIS_URL}");
        return;
    }
    let (model_url, _closed) = model(10, Duration::from_millis(150)).await;
    let (a, b) = two_instances(options, ai_for(model_url).await).await;
    let (token, patient) = setup(&a).await;

    let mut first = events(start_stream(&a, &token, &patient).await);
    let head = read_deltas(&mut first, 3).await;
    drop(first);
    let (user_id, user_event, user_data) = &head[0];
    assert_eq!(user_event, "user");
    let message = user_data["messageId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(user_data["id"], message.as_str());
    assert_eq!(user_id, &format!("{message}:0"));
    let last = head.last().map(|(id, _, _)| id.clone()).unwrap_or_default();
    assert_eq!(last, format!("{message}:3"));

    let rest = read_all(&mut events(reattach(&b, &token, &patient, &message, Some(&last)).await)).await;
    let seqs: Vec<u64> = rest.iter().map(|(id, _, _)| seq(id)).collect();
    assert_eq!(seqs, (4..=11).collect::<Vec<_>>(), "{rest:?}");
    let (_, last_event, done) = rest.last().cloned().unwrap_or_default();
    assert_eq!(last_event, "done", "{rest:?}");
    let whole = format!("{}{}", text_of(&head), text_of(&rest));
    let expected: Vec<String> = (0..10).map(|i| format!("word{i} ")).collect();
    assert_eq!(whole, expected.concat());
    assert_eq!(done["assistantMessage"]["content"], whole.as_str());
    let (content, metadata) = saved_reply(&a, &message).await;
    assert_eq!(content, whole);
    assert_eq!(metadata["streamSeq"], 11);

    // Once saved, a reattach on either instance answers the `done` at once, with the same id.
    for app in [&a, &b] {
        let started = Instant::now();
        let again = read_all(&mut events(reattach(app, &token, &patient, &message, None).await)).await;
        assert_eq!(again.len(), 1, "{again:?}");
        assert_eq!(again[0].0, format!("{message}:11"));
        assert_eq!(again[0].1, "done");
        assert_eq!(again[0].2["assistantMessage"]["content"], whole.as_str());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_stop_on_one_instance_closes_the_model_connection_of_a_stream_running_on_another_and_saves_the_partial_reply(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    if !redis_available().await {
        eprintln!("SKIP: no Redis at {REDIS_URL}");
        return;
    }
    let (model_url, mut closed) = model(40, Duration::from_millis(100)).await;
    let (a, b) = two_instances(options, ai_for(model_url).await).await;
    let (token, patient) = setup(&a).await;

    let mut running = events(start_stream(&b, &token, &patient).await);
    let head = read_deltas(&mut running, 2).await;
    let message = head[0].2["messageId"].as_str().unwrap_or_default().to_owned();

    let stopped_at = Instant::now();
    let r = a
        .post(
            &token,
            &format!("/patients/{patient}/messages/{message}/stop"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let gone = tokio::time::timeout(Duration::from_secs(2), closed.recv())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("the model's connection was not closed"));
    assert!(gone.sent < 40, "the model ran to its end");
    assert!(
        gone.at.duration_since(stopped_at) < Duration::from_secs(1),
        "closed {:?} after the stop",
        gone.at.duration_since(stopped_at)
    );

    let tail = read_all(&mut running).await;
    let (_, last_event, done) = tail.last().cloned().unwrap_or_default();
    assert_eq!(last_event, "done", "{tail:?}");
    let partial = format!("{}{}", text_of(&head), text_of(&tail));
    assert_eq!(done["assistantMessage"]["metadata"]["status"], "stopped");
    assert_eq!(done["assistantMessage"]["content"], partial.as_str());
    let (content, metadata) = saved_reply(&a, &message).await;
    assert_eq!(content, partial);
    assert_eq!(metadata["status"], "stopped");
    assert!(
        partial.starts_with("word0 word1 ") && !partial.contains("word39"),
        "{partial}"
    );

    // Stopped is answered: a second stop is 409 on either instance.
    for app in [&a, &b] {
        problem(
            app.post(
                &token,
                &format!("/patients/{patient}/messages/{message}/stop"),
                json!({}),
            )
            .await,
            409,
            "already_answered",
        )
        .await;
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_redis_a_reply_reattaches_from_the_start_and_stops_within_one_instance(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let (model_url, mut closed) = model(30, Duration::from_millis(100)).await;
    let app = TestApp::spawn_with(options, ai_for(model_url).await, |_| {}).await;
    let (token, patient) = setup(&app).await;

    let mut first = events(start_stream(&app, &token, &patient).await);
    let head = read_deltas(&mut first, 2).await;
    drop(first);
    let message = head[0].2["messageId"].as_str().unwrap_or_default().to_owned();

    // No Last-Event-ID: everything from the first delta, then live.
    let mut again = events(reattach(&app, &token, &patient, &message, None).await);
    let replay = read_deltas(&mut again, 4).await;
    let seqs: Vec<u64> = replay.iter().map(|(id, _, _)| seq(id)).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert!(text_of(&replay).starts_with(&text_of(&head)));

    let r = app
        .post(
            &token,
            &format!("/patients/{patient}/messages/{message}/stop"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let gone = tokio::time::timeout(Duration::from_secs(1), closed.recv())
        .await
        .ok()
        .flatten();
    assert!(
        gone.is_some_and(|c| c.sent < 30),
        "the model's connection was not closed within a second"
    );
    let tail = read_all(&mut again).await;
    let (_, last_event, done) = tail.last().cloned().unwrap_or_default();
    assert_eq!(last_event, "done");
    assert_eq!(done["assistantMessage"]["metadata"]["status"], "stopped");
    let partial = format!("{}{}", text_of(&replay), text_of(&tail));
    assert_eq!(saved_reply(&app, &message).await.0, partial);
}

#[sqlx::test(migrations = "../../migrations")]
async fn reattach_and_stop_are_404_for_unknown_or_another_users_messages_and_409_when_nothing_is_generated(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options.clone()).await;
    let (token, patient) = setup(&app).await;
    let mut stream = events(start_stream(&app, &token, &patient).await);
    let all = read_all(&mut stream).await;
    let message = all[0].2["messageId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(all.last().map(|e| e.1.as_str()), Some("done"));
    let ids: Vec<u64> = all.iter().map(|(id, _, _)| seq(id)).collect();
    assert_eq!(ids, (0..u64::try_from(all.len()).unwrap_or(0)).collect::<Vec<_>>());

    let (stranger, _) = app.register().await;
    for (who, path) in [
        (&stranger, format!("/patients/{patient}/messages/{message}")),
        (&token, format!("/patients/{patient}/messages/{}", uuid::Uuid::now_v7())),
    ] {
        problem(app.get(who, &format!("{path}/stream")).await, 404, "not_found").await;
        problem(
            app.post(who, &format!("{path}/stop"), json!({})).await,
            404,
            "not_found",
        )
        .await;
    }

    // A saved message whose reply failed (the ai service down), so nothing is being generated: 409 on both.
    let down = TestApp::spawn_with(options, crate::helpers::dead_url().await, |_| {}).await;
    let r = down
        .post(
            &token,
            &format!("/patients/{patient}/messages"),
            json!({"content": "Hello there"}),
        )
        .await;
    assert_eq!(r.status(), 503);
    let unanswered: String = sqlx::query_scalar(
        "select m.id::text from chat_messages m where m.role = 'user'
           and not exists (select 1 from chat_messages r where r.reply_to = m.id)",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let path = format!("/patients/{patient}/messages/{unanswered}");
    problem(app.get(&token, &format!("{path}/stream")).await, 409, "not_generating").await;
    problem(
        app.post(&token, &format!("{path}/stop"), json!({})).await,
        409,
        "not_generating",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn past_the_chat_budget_a_flagged_message_still_gets_its_first_aid_saved_and_audited(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options, ai, |c| c.rate_limits.chat_per_user.limit = 20).await;
    let (token, patient) = setup(&app).await;
    let path = format!("/patients/{patient}/messages");
    for _ in 0..20 {
        json(app.post(&token, &path, json!({"content": "Hello there"})).await, 201).await;
    }
    problem(
        app.post(&token, &path, json!({"content": "Hello there"})).await,
        429,
        "rate_limited",
    )
    .await;

    let sent = json(
        app.post(
            &token,
            &path,
            json!({"content": "my son's tooth got knocked out playing football"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(sent["emergency"]["detected"], true);
    let first_aid = sent["assistantMessage"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(first_aid.contains("milk") || first_aid.contains("crown"), "{first_aid}");

    // The streamed route too.
    let streamed = read_all(&mut events(
        app.post(
            &token,
            &format!("{path}/stream"),
            json!({"content": "I knocked out a tooth and it is bleeding"}),
        )
        .await,
    ))
    .await;
    let (_, last_event, done) = streamed.last().cloned().unwrap_or_default();
    assert_eq!(last_event, "done", "{streamed:?}");
    assert_eq!(done["emergency"]["detected"], true);

    let (answers, audited): (i64, i64) = sqlx::query_as(
        "select (select count(*) from chat_messages where role = 'assistant'),
                (select count(*) from audit_events where action = 'message.send')",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answers, 22);
    assert!(audited >= 22, "{audited}");
}
