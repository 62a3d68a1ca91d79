//! The Gemini provider against a protocol-faithful fake server.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{FakeServer, GEMINI_KEY, Reply, TestApp, closed_port, stream_outcome};

const T: Duration = Duration::from_secs(5);

fn candidate_body(parts: Value, finish: Option<&str>) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 5, "thoughtsTokenCount": 3, "totalTokenCount": 20},
        "modelVersion": "gemini-test", "responseId": "abc"
    })
}

async fn chat_with(reply: Reply) -> (FakeServer, u16, reqwest::header::HeaderMap, Value) {
    let fake = FakeServer::start(reply).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, headers, body) = app.chat("How often should I floss?").await;
    (fake, status, headers, body)
}

#[tokio::test]
async fn unary_reply_joins_text_parts_skips_thoughts_and_sends_the_key_in_a_header() {
    let body = candidate_body(
        json!([{"text": "Let me think...", "thought": true}, {"text": "Floss once "}, {"text": "a day. 😀 ñ"}]),
        Some("STOP"),
    );
    let (fake, status, headers, reply) = chat_with(Reply::json(200, &body)).await;
    assert_eq!(status, 200, "{reply}");
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(reply["reply"], "Floss once a day. 😀 ñ");
    assert_eq!(reply["provider"], "gemini");
    assert_eq!(reply["model"], "gemini-test");
    assert_eq!(reply["finishReason"], "stop");
    assert_eq!(reply["usage"], json!({"inputTokens": 12, "outputTokens": 8}));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/v1beta/models/gemini-test:generateContent");
    assert_eq!(request.header("x-goog-api-key"), Some(GEMINI_KEY));
    assert!(!request.target.contains("key="));
    let system = request.body["systemInstruction"]["parts"][0]["text"].as_str().unwrap();
    assert!(!system.contains("Test Patient"));
    let contents = request.body["contents"].as_array().unwrap();
    // Gemini is a cloud model: with the default AI_REDACT_PHI=auto the context turn names the
    // patient by placeholder only.
    let context = contents[0]["parts"][0]["text"].as_str().unwrap();
    assert!(context.contains("Patient name: ⟦NAME_1⟧"), "{context}");
    assert!(!request.body.to_string().contains("Test Patient"));
    let roles: Vec<_> = contents.iter().map(|c| c["role"].as_str().unwrap()).collect();
    assert_eq!(roles.last(), Some(&"user"));
    assert!(roles.windows(2).all(|w| w[0] != w[1]));
    assert!(request.body["generationConfig"].is_object());
}

#[tokio::test]
async fn unary_edge_cases_map_to_the_contract() {
    let max_tokens_text = candidate_body(json!([{"text": "Partial answer"}]), Some("MAX_TOKENS"));
    let unknown_finish = candidate_body(json!([{"text": "Answer"}]), Some("SOMETHING_NEW"));
    let mut no_usage = candidate_body(json!([{"text": "Answer"}]), Some("STOP"));
    no_usage.as_object_mut().unwrap().remove("usageMetadata");
    let cases: Vec<(&str, Reply, u16, Option<&str>)> = vec![
        ("max tokens with text", Reply::json(200, &max_tokens_text), 200, None),
        ("unknown finish reason", Reply::json(200, &unknown_finish), 200, None),
        ("missing usage", Reply::json(200, &no_usage), 200, None),
        (
            "blocked prompt",
            Reply::json(
                200,
                &json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "empty candidates",
            Reply::json(
                200,
                &json!({"candidates": [], "promptFeedback": {"blockReason": "OTHER"}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "safety without content",
            Reply::json(200, &json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]})),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "recitation without content",
            Reply::json(
                200,
                &json!({"candidates": [{"finishReason": "RECITATION", "content": {}}]}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "thinking used the whole budget",
            Reply::json(
                200,
                &json!({"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}],
                "usageMetadata": {"promptTokenCount": 5, "thoughtsTokenCount": 2048}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "bad key is a 400",
            Reply::json(
                400,
                &json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "no key",
            Reply::json(
                403,
                &json!({"error": {"code": 403, "message": "Method doesn't allow unregistered callers", "status": "PERMISSION_DENIED"}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "unknown model",
            Reply::json(
                404,
                &json!({"error": {"code": 404, "message": "models/x is not found for API version v1beta", "status": "NOT_FOUND"}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "html 404 from the front end",
            Reply::raw(
                404,
                "text/html; charset=UTF-8",
                "<!DOCTYPE html><html><body>Error 404 (Not Found)!!1</body></html>",
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "internal error",
            Reply::json(
                500,
                &json!({"error": {"code": 500, "message": "An internal error has occurred.", "status": "INTERNAL"}}),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "overloaded",
            Reply::json(
                503,
                &json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}),
            ),
            503,
            Some("ai_unavailable"),
        ),
        (
            "overloaded with an empty body",
            Reply::raw(503, "text/plain", ""),
            503,
            Some("ai_unavailable"),
        ),
        (
            "html 502 from a proxy",
            Reply::raw(
                502,
                "text/html; charset=UTF-8",
                "<html><head><title>502 Server Error</title></head><body>Error: Server Error</body></html>",
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "empty 504 from a proxy",
            Reply::raw(504, "text/html", ""),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "html 504 from a proxy",
            Reply::raw(
                504,
                "text/html",
                "<html><body><h1>504 Gateway Time-out</h1></body></html>",
            ),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "empty 502 from a proxy",
            Reply::raw(502, "text/plain", ""),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "deadline exceeded",
            Reply::json(
                504,
                &json!({"error": {"code": 504, "message": "Deadline exceeded", "status": "DEADLINE_EXCEEDED"}}),
            ),
            504,
            Some("ai_timeout"),
        ),
        (
            "html with a 200",
            Reply::raw(200, "text/html", "<html><body>Sign in to the Wi-Fi</body></html>"),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "empty 200",
            Reply::raw(200, "application/json", ""),
            502,
            Some("ai_bad_gateway"),
        ),
        (
            "list-wrapped error",
            Reply::json(
                400,
                &json!([{"error": {"code": 400, "message": "x", "status": "INVALID_ARGUMENT"}}]),
            ),
            502,
            Some("ai_bad_gateway"),
        ),
    ];
    for (name, reply, status, code) in cases {
        let (_fake, got, headers, body) = chat_with(reply).await;
        assert_eq!(got, status, "{name}: {body}");
        match code {
            Some(code) => {
                assert_eq!(body["code"], code, "{name}");
                assert_eq!(headers["content-type"], "application/problem+json", "{name}");
                let text = body.to_string();
                assert!(
                    !text.contains("API key not valid")
                        && !text.contains("The model is overloaded")
                        && !text.contains("html"),
                    "{name}: upstream body leaked: {text}"
                );
            }
            None => assert!(!body["reply"].as_str().unwrap().is_empty(), "{name}"),
        }
    }
}

#[tokio::test]
async fn finish_reasons_and_missing_usage_are_reported() {
    let (_fake, _, _, body) = chat_with(Reply::json(
        200,
        &candidate_body(json!([{"text": "Partial"}]), Some("MAX_TOKENS")),
    ))
    .await;
    assert_eq!(body["finishReason"], "length");
    let (_fake, _, _, body) = chat_with(Reply::json(
        200,
        &candidate_body(json!([{"text": "x"}]), Some("SOMETHING_NEW")),
    ))
    .await;
    assert_eq!(body["finishReason"], "something_new");
    let mut no_usage = candidate_body(json!([{"text": "Answer"}]), Some("STOP"));
    no_usage.as_object_mut().unwrap().remove("usageMetadata");
    let (_fake, _, _, body) = chat_with(Reply::json(200, &no_usage)).await;
    assert_eq!(body["usage"], json!({"inputTokens": 0, "outputTokens": 0}));
}

#[tokio::test]
async fn rate_limits_become_429_with_retry_after() {
    let detailed = json!({"error": {"code": 429, "message": "You exceeded your current quota. Please retry in 25.4s.", "status": "RESOURCE_EXHAUSTED",
        "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}]}});
    let (_fake, status, headers, body) = chat_with(Reply::json(429, &detailed)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "26");
    assert_eq!(body["code"], "ai_rate_limited");
    let minimal = json!({"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}});
    let (_fake, status, headers, _) = chat_with(Reply::json(429, &minimal)).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "30");
}

#[tokio::test]
async fn a_slow_model_times_out_with_504_and_a_dead_one_is_503() {
    let mut slow = Reply::json(200, &candidate_body(json!([{"text": "late"}]), Some("STOP")));
    slow.delay = Duration::from_secs(3);
    let fake = FakeServer::start(slow).await;
    let app = TestApp::gemini(&fake, Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    let (status, _, body) = app.chat("How often should I floss?").await;
    assert_eq!(status, 504);
    assert_eq!(body["code"], "ai_timeout");
    assert!(started.elapsed() < Duration::from_millis(2500));

    let app = TestApp::spawn(
        ai::config::ProviderConfig::Gemini {
            api_key: secrecy::SecretString::from(GEMINI_KEY),
            model: "gemini-test".into(),
            base_url: closed_port().await,
        },
        T,
    )
    .await;
    let (status, _, body) = app.chat("How often should I floss?").await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "ai_unavailable");
}

fn sse_event(value: &Value, crlf: bool) -> String {
    let line = serde_json::to_string(value).unwrap();
    if crlf {
        format!("data: {line}\r\n\r\n")
    } else {
        format!("data:{line}\n\n")
    }
}

fn text_event(text: &str, finish: Option<&str>, candidates_tokens: u32) -> Value {
    let mut value = candidate_body(json!([{"text": text}]), finish);
    value["usageMetadata"]["candidatesTokenCount"] = json!(candidates_tokens);
    value
}

async fn stream_with(reply: Reply) -> (FakeServer, u16, Vec<(String, Value)>) {
    let fake = FakeServer::start(reply).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, events) = app.stream("How often should I floss?").await;
    (fake, status, events)
}

#[tokio::test]
async fn stream_split_at_awkward_bytes_with_crlf_framing_is_reassembled_exactly() {
    let body = [
        sse_event(&text_event("Olá! Flossing ", None, 3), true),
        sse_event(&text_event("once a day 😀 keeps ", None, 7), true),
        sse_event(&text_event("gums healthy — ñandú.", Some("STOP"), 11), true),
    ]
    .concat();
    let (fake, status, events) = stream_with(Reply::sse(body)).await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(text, "Olá! Flossing once a day 😀 keeps gums healthy — ñandú.");
    assert_eq!(name, "done");
    assert_eq!(done["finishReason"], "stop");
    assert_eq!(done["provider"], "gemini");
    assert_eq!(done["usage"], json!({"inputTokens": 12, "outputTokens": 14}));
    assert_eq!(done["emergency"]["detected"], false);
    let request = &fake.requests()[0];
    assert_eq!(
        request.target,
        "/v1beta/models/gemini-test:streamGenerateContent?alt=sse"
    );
    assert_eq!(request.header("x-goog-api-key"), Some(GEMINI_KEY));
}

#[tokio::test]
async fn stream_with_lf_framing_no_space_thoughts_and_an_empty_final_chunk_succeeds() {
    let thought = candidate_body(json!([{"text": "**Planning**", "thought": true}]), None);
    let no_parts = json!({"candidates": [{"content": {"role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 4}, "someNewField": {"x": 1}});
    let body = [
        sse_event(&thought, false),
        sse_event(&text_event("Brush twice a day.", None, 4), false),
        sse_event(&candidate_body(json!([{"text": ""}]), None), false),
        sse_event(&no_parts, false),
    ]
    .concat();
    let (_fake, status, events) = stream_with(Reply::sse(body)).await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(text, "Brush twice a day.");
    assert_eq!(name, "done");
    assert_eq!(done["usage"]["outputTokens"], 4);
}

#[tokio::test]
async fn stream_failures_end_with_one_error_event() {
    let first = sse_event(&text_event("Partial ", None, 1), true);
    let raw_error = "{\n  \"error\": {\n    \"code\": 503,\n    \"message\": \"The model is overloaded.\",\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n";
    let cancelled = "{\n  \"error\": {\n    \"code\": 499,\n    \"message\": \"The operation was cancelled.\",\n    \"status\": \"CANCELLED\"\n  }\n}\n";
    let data_error = "data: {\"error\": {\"code\": 429, \"message\": \"Resource exhausted\", \"status\": \"RESOURCE_EXHAUSTED\"}}\r\n\r\n";
    let cases: Vec<(&str, String, &str)> = vec![
        ("raw mid-stream 503", format!("{first}{raw_error}"), "ai_unavailable"),
        ("raw mid-stream 499", format!("{first}{cancelled}"), "ai_bad_gateway"),
        ("data-line 429", format!("{first}{data_error}"), "ai_rate_limited"),
        ("cut before a finish reason", first.clone(), "ai_bad_gateway"),
        (
            "cut inside an event",
            format!("{first}data: {{\"candidates\": [{{\"content\""),
            "ai_bad_gateway",
        ),
        (
            "blocked prompt",
            sse_event(&json!({"promptFeedback": {"blockReason": "SAFETY"}}), true),
            "ai_bad_gateway",
        ),
        (
            "safety with no content",
            sse_event(&json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]}), true),
            "ai_bad_gateway",
        ),
        ("not json", "data: <html>\r\n\r\n".to_owned(), "ai_bad_gateway"),
    ];
    for (name, body, code) in cases {
        let (_fake, status, events) = stream_with(Reply::sse(body)).await;
        assert_eq!(status, 200, "{name}");
        let (_, (event, data)) = stream_outcome(&events);
        assert_eq!(event, "error", "{name}: {events:?}");
        assert_eq!(data["code"], code, "{name}");
        assert!(
            !data["detail"].as_str().unwrap().contains("The model is overloaded"),
            "{name}: upstream text leaked"
        );
    }
}

#[tokio::test]
async fn stream_errors_before_the_first_byte_are_problem_statuses() {
    let overloaded = json!({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}});
    let (_fake, status, events) = stream_with(Reply::json(503, &overloaded)).await;
    assert_eq!(status, 503);
    assert_eq!(events[0].1["code"], "ai_unavailable");
    let limited = Reply::json(
        429,
        &json!({"error": {"code": 429, "message": "x", "status": "RESOURCE_EXHAUSTED"}}),
    )
    .header("retry-after", "9");
    let fake = FakeServer::start(limited).await;
    let app = TestApp::gemini(&fake, T).await;
    let response = app
        .post("/v1/chat/stream")
        .json(&crate::support::chat_body("hello there"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "9");
}

#[tokio::test]
async fn a_stream_that_stalls_past_the_deadline_ends_with_a_timeout_event() {
    let body = [
        sse_event(&text_event("Hello ", None, 1), true),
        sse_event(&text_event("world", Some("STOP"), 2), true),
    ]
    .concat();
    let first_len = sse_event(&text_event("Hello ", None, 1), true).len();
    let mut reply = Reply::sse(body);
    reply.stall_after = Some(first_len);
    let fake = FakeServer::start(reply).await;
    let app = TestApp::gemini(&fake, Duration::from_secs(1)).await;
    let (status, events) = app.stream("How often should I floss?").await;
    assert_eq!(status, 200);
    let (text, (name, data)) = stream_outcome(&events);
    assert_eq!(text, "Hello ");
    assert_eq!(name, "error");
    assert_eq!(data["code"], "ai_timeout");
}

#[tokio::test]
async fn emergencies_never_reach_the_model() {
    let fake = FakeServer::start(Reply::json(
        200,
        &candidate_body(json!([{"text": "model"}]), Some("STOP")),
    ))
    .await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, _, body) = app
        .chat("My husband's jaw swelling has spread down his neck and his breathing sounds noisy")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["provider"], "gemini");
    assert_eq!(body["emergency"]["severity"], "emergency");
    assert_ne!(body["reply"], "model");
    let (status, events) = app
        .stream("Front tooth came out completely when I hit the handlebars")
        .await;
    assert_eq!(status, 200);
    let (_, (name, done)) = stream_outcome(&events);
    assert_eq!(name, "done");
    assert_eq!(done["emergency"]["category"], "avulsion");
    assert!(fake.requests().is_empty(), "the model was called for an emergency");
}
