//! A hostile or broken upstream: redirects, endless lines, huge bodies, and a caller that goes
//! away mid-reply (the provider connection must close with it).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{FakeServer, Reply, TestApp, chat_body, parse_sse, stream_outcome};

const T: Duration = Duration::from_secs(10);

fn gemini_event(text: &str, finish: Option<&str>) -> String {
    let mut candidate = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    let value = json!({"candidates": [candidate], "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}});
    format!("data: {value}\r\n\r\n")
}

fn openai_chunk(text: &str) -> String {
    let value = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    format!("data: {value}\n\n")
}

#[tokio::test]
async fn a_redirect_from_the_base_url_is_not_followed_and_nothing_reaches_its_target() {
    let target = FakeServer::start(Reply::json(200, &json!({"ok": true}))).await;
    let redirect = |status: u16, path: &str| {
        Reply::raw(status, "text/html", "<a href=\"elsewhere\">moved</a>")
            .header("location", &format!("{}{path}", target.base()))
    };
    for status in [301, 302, 307, 308] {
        let origin = FakeServer::start(redirect(status, "/v1beta/models/gemini-test:generateContent")).await;
        let app = TestApp::gemini(&origin, T).await;
        let (got, _, body) = app.chat("How often should I floss?").await;
        assert_eq!(got, 502, "{status}: {body}");
        assert_eq!(body["code"], "ai_bad_gateway");
        let (got, events) = app.stream("How often should I floss?").await;
        assert_eq!(got, 502, "{status} stream");
        assert_eq!(events[0].1["code"], "ai_bad_gateway");
        assert_eq!(origin.requests().len(), 2);

        let origin = FakeServer::start(redirect(status, "/v1/chat/completions")).await;
        let app = TestApp::openai(origin.base(), T).await;
        let (got, _, _) = app.chat("How often should I floss?").await;
        assert_eq!(got, 502, "{status} openai");
    }
    assert!(
        target.requests().is_empty(),
        "a redirect was followed: the prompt (and maybe the key) reached another server"
    );
}

/// 30 MB of `data: aaaa...` without a newline.
fn endless_line() -> Vec<u8> {
    let mut body = b"data: ".to_vec();
    body.resize(30 * 1024 * 1024, b'a');
    body
}

#[tokio::test]
async fn a_stream_line_without_end_is_cut_at_the_limit_with_an_error_event() {
    let mut reply = Reply::raw(200, "text/event-stream", endless_line());
    reply.pieces = vec![64 * 1024];
    let fake = FakeServer::start(reply).await;
    let app = TestApp::openai(fake.base(), T).await;
    let started = Instant::now();
    let (status, events) = app.stream("How often should I floss?").await;
    assert_eq!(status, 200);
    let (text, (name, data)) = stream_outcome(&events);
    assert_eq!(text, "");
    assert_eq!(name, "error");
    assert_eq!(data["code"], "ai_bad_gateway");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The service stopped reading and dropped the connection long before the 30 MB were sent.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        fake.bytes_written() < 16 * 1024 * 1024,
        "{} bytes were written",
        fake.bytes_written()
    );
}

#[tokio::test]
async fn oversized_unary_and_error_bodies_are_clean_502s() {
    let huge_json = {
        let mut body = b"{\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"".to_vec();
        body.resize(30 * 1024 * 1024, b'a');
        body
    };
    let mut undeclared = Reply::raw(200, "application/json", huge_json.clone());
    undeclared.pieces = vec![64 * 1024];
    let declared =
        Reply::raw(200, "application/json", huge_json.clone()).header("content-length", &huge_json.len().to_string());
    let mut error_body = Reply::raw(500, "application/json", huge_json.clone());
    error_body.pieces = vec![64 * 1024];
    for (name, reply, status, code) in [
        ("unary body without a length", undeclared, 502, "ai_bad_gateway"),
        ("unary body with a declared length", declared, 502, "ai_bad_gateway"),
        ("huge error body", error_body, 502, "ai_bad_gateway"),
    ] {
        let fake = FakeServer::start(reply).await;
        let app = TestApp::gemini(&fake, T).await;
        let started = Instant::now();
        let (got, _, body) = app.chat("How often should I floss?").await;
        assert_eq!(got, status, "{name}: {body}");
        assert_eq!(body["code"], code, "{name}");
        assert!(started.elapsed() < Duration::from_secs(5), "{name}");
    }
}

#[tokio::test]
async fn oversized_events_raw_json_and_replies_end_with_an_error_event() {
    let many_data_lines = format!("{}\n", format!("data: {}\n", "b".repeat(1000)).repeat(1200));
    let raw_json = format!("{{\"error\": \"{}", "c".repeat(100 * 1024));
    let long_reply = openai_chunk(&"word ".repeat(200)).repeat(300);
    for (name, body) in [
        ("one event of 1.2 MB", many_data_lines),
        ("raw JSON that never closes", raw_json),
        ("a reply of 300 kB", long_reply),
    ] {
        let mut reply = Reply::raw(200, "text/event-stream", body);
        reply.pieces = vec![16 * 1024];
        let fake = FakeServer::start(reply).await;
        let app = TestApp::openai(fake.base(), T).await;
        let (status, events) = app.stream("How often should I floss?").await;
        assert_eq!(status, 200, "{name}");
        let (_, (event, data)) = stream_outcome(&events);
        assert_eq!(event, "error", "{name}");
        assert_eq!(data["code"], "ai_bad_gateway", "{name}");
    }
}

/// Reads the service's stream until the first `delta`, then drops the response (the api going
/// away mid-reply); returns when it dropped it.
async fn read_first_delta_then_hang_up(app: &TestApp) -> Instant {
    let mut response = app
        .post("/v1/chat/stream")
        .json(&chat_body("How often should I floss?"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut seen = String::new();
    while !seen.contains("event: delta") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("no delta in time")
            .unwrap()
            .expect("stream ended before a delta");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let events: Vec<(String, Value)> = parse_sse(&seen);
    assert_eq!(events[0].0, "delta");
    drop(response);
    Instant::now()
}

#[tokio::test]
async fn hanging_up_mid_stream_closes_the_gemini_connection_within_a_second() {
    let first = gemini_event("Floss once a day, ", None);
    let body = format!("{first}{}", gemini_event("gently.", Some("STOP")));
    let mut reply = Reply::raw(200, "text/event-stream", body);
    reply.stall_after = Some(first.len());
    let fake = FakeServer::start(reply).await;
    let app = TestApp::gemini(&fake, Duration::from_secs(30)).await;
    let hung_up = read_first_delta_then_hang_up(&app).await;
    let closed = fake
        .wait_closed(Duration::from_secs(3))
        .await
        .expect("the provider connection stayed open after the caller left");
    assert!(closed.saturating_duration_since(hung_up) < Duration::from_secs(1));
}

#[tokio::test]
async fn hanging_up_mid_stream_closes_the_openai_connection_within_a_second() {
    let first = openai_chunk("Floss once a day, ");
    let body = format!("{first}{}data: [DONE]\n\n", openai_chunk("gently."));
    let mut reply = Reply::raw(200, "text/event-stream", body);
    reply.stall_after = Some(first.len());
    let fake = FakeServer::start(reply).await;
    let app = TestApp::openai(fake.base(), Duration::from_secs(30)).await;
    let hung_up = read_first_delta_then_hang_up(&app).await;
    let closed = fake
        .wait_closed(Duration::from_secs(3))
        .await
        .expect("the provider connection stayed open after the caller left");
    assert!(closed.saturating_duration_since(hung_up) < Duration::from_secs(1));
}

#[tokio::test]
async fn hanging_up_on_a_unary_chat_closes_the_provider_connection() {
    let mut reply = Reply::json(200, &json!({"candidates": []}));
    reply.stall_after = Some(0);
    let fake = FakeServer::start(reply).await;
    let app = TestApp::gemini(&fake, Duration::from_secs(30)).await;
    let sent = app
        .post("/v1/chat")
        .timeout(Duration::from_millis(500))
        .json(&chat_body("How often should I floss?"))
        .send()
        .await;
    assert!(sent.is_err(), "the stalled model answered");
    let hung_up = Instant::now();
    let closed = fake
        .wait_closed(Duration::from_secs(3))
        .await
        .expect("the provider connection stayed open after the caller left");
    assert!(closed.saturating_duration_since(hung_up) < Duration::from_secs(1));
}
