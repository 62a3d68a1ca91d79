//! The OpenAI-compatible provider against fakes of OpenAI, llama.cpp, vLLM and Ollama.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{FakeServer, OPENAI_KEY, Reply, TestApp, stream_outcome};

const T: Duration = Duration::from_secs(5);

fn completion(content: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": "local-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "reasoning_content": "hidden"},
                     "logprobs": null, "finish_reason": finish}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 7, "total_tokens": 27},
        "timings": {"predicted_ms": 12.5}, "system_fingerprint": "b1234"
    })
}

async fn chat_with(reply: Reply, base_suffix: &str) -> (FakeServer, u16, reqwest::header::HeaderMap, Value) {
    let fake = FakeServer::start(reply).await;
    let app = TestApp::openai(format!("{}{base_suffix}", fake.base()), T).await;
    let (status, headers, body) = app.chat("How often should I floss?").await;
    (fake, status, headers, body)
}

#[tokio::test]
async fn unary_reply_uses_the_chat_completions_path_and_bearer_key() {
    for suffix in ["", "/v1", "/v1/"] {
        let (fake, status, _, body) =
            chat_with(Reply::json(200, &completion(json!("Floss daily."), "stop")), suffix).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["reply"], "Floss daily.");
        assert_eq!(body["provider"], "openai");
        assert_eq!(body["model"], "local-model");
        assert_eq!(body["finishReason"], "stop");
        assert_eq!(body["usage"], json!({"inputTokens": 20, "outputTokens": 7}));
        let request = &fake.requests()[0];
        assert_eq!(request.target, "/v1/chat/completions", "base suffix {suffix:?}");
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {OPENAI_KEY}").as_str())
        );
        assert_eq!(request.body["model"], "local-model");
        assert_eq!(request.body["stream"], false);
        let messages = request.body["messages"].as_array().unwrap();
        assert_eq!(messages[0]["role"], "system");
        assert!(!messages[0]["content"].as_str().unwrap().contains("Test Patient"));
        assert!(messages[1]["content"].as_str().unwrap().contains("Test Patient"));
        assert_eq!(messages.last().unwrap()["content"], "How often should I floss?");
    }
}

#[tokio::test]
async fn unary_errors_of_every_server_map_to_the_contract() {
    let cases: Vec<(&str, Reply, u16, &str)> = vec![
        (
            "null content",
            Reply::json(200, &completion(Value::Null, "length")),
            502,
            "ai_bad_gateway",
        ),
        (
            "openai bad key",
            Reply::json(
                401,
                &json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}),
            ),
            502,
            "ai_bad_gateway",
        ),
        (
            "openai quota",
            Reply::json(
                429,
                &json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
            ),
            502,
            "ai_bad_gateway",
        ),
        (
            "llama.cpp loading",
            Reply::json(
                503,
                &json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
            ),
            503,
            "ai_unavailable",
        ),
        (
            "llama.cpp context exceeded",
            Reply::json(
                400,
                &json!({"error": {"code": 400, "message": "the request exceeds the available context size", "type": "exceed_context_size_error", "n_prompt_tokens": 5000, "n_ctx": 4096}}),
            ),
            502,
            "ai_bad_gateway",
        ),
        (
            "vllm flat error",
            Reply::json(
                404,
                &json!({"object": "error", "message": "The model `x` does not exist.", "type": "NotFoundError", "param": null, "code": 404}),
            ),
            502,
            "ai_bad_gateway",
        ),
        (
            "ollama not found",
            Reply::json(
                404,
                &json!({"error": {"message": "model 'x' not found", "type": "not_found_error", "param": null, "code": null}}),
            ),
            502,
            "ai_bad_gateway",
        ),
        // A proxy's own 502/504 page says nothing about the model's load: bad gateway, not 503.
        (
            "nginx 502 html",
            Reply::raw(502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>"),
            502,
            "ai_bad_gateway",
        ),
        (
            "nginx 504 html",
            Reply::raw(
                504,
                "text/html",
                "<html><body><h1>504 Gateway Time-out</h1></body></html>",
            ),
            502,
            "ai_bad_gateway",
        ),
        ("empty 502", Reply::raw(502, "text/plain", ""), 502, "ai_bad_gateway"),
        ("empty 504", Reply::raw(504, "text/plain", ""), 502, "ai_bad_gateway"),
        (
            "envoy plain-text 503",
            Reply::raw(
                503,
                "text/plain",
                "upstream connect error or disconnect/reset before headers",
            ),
            503,
            "ai_unavailable",
        ),
        (
            "llama.cpp 503 json",
            Reply::json(
                503,
                &json!({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
            ),
            503,
            "ai_unavailable",
        ),
        (
            "json 502 naming an overloaded model",
            Reply::json(
                502,
                &json!({"error": {"message": "The server is overloaded or not ready yet.", "type": "server_error", "param": null, "code": null}}),
            ),
            503,
            "ai_unavailable",
        ),
        (
            "json 502 without an overload",
            Reply::json(
                502,
                &json!({"error": {"message": "Bad gateway.", "type": "server_error", "param": null, "code": null}}),
            ),
            502,
            "ai_bad_gateway",
        ),
        (
            "html 200",
            Reply::raw(200, "text/html", "<html>captive portal</html>"),
            502,
            "ai_bad_gateway",
        ),
    ];
    for (name, reply, status, code) in cases {
        let (_fake, got, headers, body) = chat_with(reply, "").await;
        assert_eq!(got, status, "{name}: {body}");
        assert_eq!(body["code"], code, "{name}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(
            !body.to_string().contains("Incorrect API key"),
            "{name}: upstream body leaked"
        );
    }
}

#[tokio::test]
async fn rate_limit_headers_set_retry_after() {
    let body = json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}});
    let (_fake, status, headers, problem) = chat_with(Reply::json(429, &body).header("retry-after", "7"), "").await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(problem["code"], "ai_rate_limited");
    let (_fake, _, headers, _) = chat_with(Reply::json(429, &body).header("retry-after-ms", "1500"), "").await;
    assert_eq!(headers["retry-after"], "2");
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let value = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null});
    format!("data: {}\n\n", serde_json::to_string(&value).unwrap())
}

fn usage_chunk() -> String {
    let value = json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [],
        "usage": {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39}});
    format!("data: {}\n\n", serde_json::to_string(&value).unwrap())
}

async fn stream_with(body: String) -> (FakeServer, u16, Vec<(String, Value)>) {
    let fake = FakeServer::start(Reply::sse(body)).await;
    let app = TestApp::openai(fake.base(), T).await;
    let (status, events) = app.stream("How often should I floss?").await;
    (fake, status, events)
}

#[tokio::test]
async fn openai_style_stream_with_usage_chunk_is_reassembled() {
    let body = [
        chunk(json!({"role": "assistant", "content": "", "refusal": null}), None),
        chunk(json!({"content": "Flossing "}), None),
        chunk(json!({"content": "daily — ótimo 👍"}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let (fake, status, events) = stream_with(body).await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(text, "Flossing daily — ótimo 👍");
    assert_eq!(name, "done");
    assert_eq!(done["usage"], json!({"inputTokens": 30, "outputTokens": 9}));
    assert_eq!(done["finishReason"], "stop");
    let request = &fake.requests()[0];
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
}

#[tokio::test]
async fn llama_cpp_stream_with_keepalives_null_content_and_reasoning_is_clean() {
    let body = [
        ":\n\n".to_owned(),
        chunk(json!({"role": "assistant", "content": null}), None),
        chunk(json!({"reasoning_content": "thinking hard"}), None),
        ":\n\n".to_owned(),
        chunk(json!({"content": "Brush twice."}), None),
        chunk(json!({"reasoning": "more thoughts"}), None),
        chunk(json!({}), Some("stop")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat()
    .replace("\n\n", "\r\n\r\n");
    let (_fake, status, events) = stream_with(body).await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(text, "Brush twice.");
    assert_eq!(name, "done");
    assert_eq!(done["usage"], json!({"inputTokens": 0, "outputTokens": 0}));
}

#[tokio::test]
async fn stream_errors_of_each_server_end_with_one_error_event() {
    let start = chunk(json!({"content": "Partial "}), None);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "vllm error then DONE",
            format!(
                "{start}data: {{\"error\": {{\"message\": \"boom\", \"type\": \"InternalServerError\", \"param\": null, \"code\": 500}}}}\n\ndata: [DONE]\n\n"
            ),
            "ai_bad_gateway",
        ),
        (
            "llama.cpp error without DONE",
            format!(
                "{start}data: {{\"error\": {{\"code\": 503, \"message\": \"busy\", \"type\": \"unavailable_error\"}}}}\n\n"
            ),
            "ai_unavailable",
        ),
        (
            "ollama bare error line",
            format!("{start}{{\"error\":\"an error was encountered while running the model\"}}\n"),
            "ai_bad_gateway",
        ),
        (
            "openai in-band rate limit",
            format!(
                "{start}data: {{\"error\": {{\"message\": \"slow down\", \"type\": \"requests\", \"code\": \"rate_limit_exceeded\"}}}}\n\n"
            ),
            "ai_rate_limited",
        ),
        ("truncated", start.clone(), "ai_bad_gateway"),
        ("DONE without any text", "data: [DONE]\n\n".to_owned(), "ai_bad_gateway"),
    ];
    for (name, body, code) in cases {
        let (_fake, status, events) = stream_with(body).await;
        assert_eq!(status, 200, "{name}");
        let (_, (event, data)) = stream_outcome(&events);
        assert_eq!(event, "error", "{name}: {events:?}");
        assert_eq!(data["code"], code, "{name}");
    }
}

#[tokio::test]
async fn finish_chunk_without_done_is_still_a_success() {
    let body = [chunk(json!({"content": "Hi"}), None), chunk(json!({}), Some("length"))].concat();
    let (_fake, _, events) = stream_with(body).await;
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!((text.as_str(), name.as_str()), ("Hi", "done"));
    assert_eq!(done["finishReason"], "length");
}

#[tokio::test]
async fn emergencies_never_reach_the_openai_server() {
    let fake = FakeServer::start(Reply::json(200, &completion(json!("model"), "stop"))).await;
    let app = TestApp::openai(fake.base(), T).await;
    let (status, _, body) = app.chat("Yawned and now my jaw's stuck open").await;
    assert_eq!(status, 200);
    assert_eq!(body["emergency"]["category"], "jaw_dislocation");
    assert_eq!(body["provider"], "openai");
    let (_, events) = app.stream("Yawned and now my jaw's stuck open").await;
    assert_eq!(events.last().unwrap().0, "done");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn long_medical_notes_reach_the_model_whole_and_a_cut_is_said() {
    let fake = FakeServer::start(Reply::json(200, &completion(json!("Noted."), "stop"))).await;
    let app = TestApp::openai(fake.base(), T).await;
    let notes = format!(
        "{} Severe allergy to latex and articaine.",
        "Check-up 2019, no caries, gums healthy, reviewed hygiene routine with the patient. ".repeat(12)
    );
    assert!(notes.find("latex").unwrap() > 900);
    let body = json!({"patient": {"name": "Test Patient", "medicalNotes": notes}, "message": "Can I have a filling?"});
    let (status, _, _) = app.chat_with(&body).await;
    assert_eq!(status, 200);
    let context = fake.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(context.contains("Severe allergy to latex and articaine."), "{context}");
    assert!(!context.contains("Left out for length"));

    let huge = "Tooth 46 crown, bite adjusted, patient content with the result. ".repeat(400);
    let body = json!({"patient": {"name": "Test Patient", "medicalNotes": huge}, "message": "Can I have a filling?"});
    app.chat_with(&body).await;
    let context = fake.requests()[1].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        context.contains("Left out for length: the medical notes are cut after"),
        "{context}"
    );
    assert!(context.len() < huge.len() / 2);
}
