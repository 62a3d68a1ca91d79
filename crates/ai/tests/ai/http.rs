//! Routes, authentication, validation, request ids and the offline provider end to end.

use serde_json::{Value, json};

use crate::support::{TOKEN, TestApp, chat_body, stream_outcome};

#[tokio::test]
async fn health_needs_no_token_and_names_the_provider() {
    let app = TestApp::offline().await;
    let response = app.client.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"status": "ok", "provider": "offline"}));
    let head = app.client.head(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(head.status(), 200);
}

#[tokio::test]
async fn every_v1_route_refuses_a_missing_or_wrong_token_with_problem_json() {
    let app = TestApp::offline().await;
    for path in ["/v1/triage", "/v1/chat", "/v1/chat/stream"] {
        for auth in [None, Some("Bearer wrong-token"), Some("Basic dGVzdA=="), Some(TOKEN)] {
            let mut request = app.client.post(format!("{}{path}", app.base)).json(&chat_body("hello"));
            if let Some(auth) = auth {
                request = request.header("authorization", auth);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path} {auth:?}");
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "unauthorized");
            assert_eq!(body["status"], 401);
            assert_eq!(body["requestId"], request_id.as_str());
        }
    }
}

#[tokio::test]
async fn a_well_formed_request_id_is_kept_and_a_bad_one_replaced() {
    let app = TestApp::offline().await;
    let kept = app
        .post("/v1/triage")
        .header("x-request-id", "abc-123:x.y_z")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "abc-123:x.y_z");
    let replaced = app
        .post("/v1/triage")
        .header("x-request-id", "bad id with spaces")
        .json(&json!({"message": "hi"}))
        .send()
        .await
        .unwrap();
    let id = replaced.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[tokio::test]
async fn malformed_bodies_get_400_415_422_problems() {
    let app = TestApp::offline().await;
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            app.post("/v1/chat")
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "malformed_json",
        ),
        (
            app.post("/v1/chat").header("content-type", "text/plain").body("hello"),
            415,
            "unsupported_media_type",
        ),
        (
            app.post("/v1/chat").json(&json!({"message": "hi"})),
            400,
            "invalid_body",
        ),
        (
            app.post("/v1/chat")
                .json(&json!({"patient": {"name": "A"}, "message": "hi", "extra": 1})),
            400,
            "invalid_body",
        ),
        (
            app.post("/v1/chat")
                .json(&json!({"patient": {"name": "A"}, "message": 5})),
            400,
            "invalid_body",
        ),
        (
            app.post("/v1/triage").json(&json!({"message": "hi", "other": true})),
            400,
            "invalid_body",
        ),
        (
            app.post("/v1/chat")
                .json(&json!({"patient": {"name": "A"}, "message": "   "})),
            422,
            "validation_failed",
        ),
        (
            app.post("/v1/chat/stream")
                .json(&json!({"patient": {"name": "A"}, "message": ""})),
            422,
            "validation_failed",
        ),
        (
            app.post("/v1/triage").json(&json!({"message": "x".repeat(16_001)})),
            422,
            "validation_failed",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{code}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code);
        if status == 422 {
            assert_eq!(body["errors"][0]["field"], "message");
        }
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let app = TestApp::offline().await;
    let response = app.client.get(format!("{}/nope", app.base)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let response = app
        .client
        .get(format!("{}/v1/chat", app.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn triage_route_classifies_messages() {
    let app = TestApp::offline().await;
    let urgent: Value = app
        .post("/v1/triage")
        .json(&json!({"message": "My tooth got knocked out during football"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        urgent,
        json!({"detected": true, "category": "avulsion", "severity": "urgent", "source": "triage", "language": "en"})
    );
    let emergency: Value = app
        .post("/v1/triage")
        .json(&json!({"message": "Swelling under my tongue makes it hard to breathe"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(emergency["severity"], "emergency");
    let routine: Value = app
        .post("/v1/triage")
        .json(&json!({"message": "Is flossing really necessary?"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        routine,
        json!({"detected": false, "category": null, "severity": null, "source": null, "language": "en"})
    );
}

#[tokio::test]
async fn offline_chat_answers_from_the_knowledge_base_and_streams_the_same_text() {
    let app = TestApp::offline().await;
    let (status, _, body) = app.chat("Is it okay to use whitening strips with a crown?").await;
    assert_eq!(status, 200);
    assert_eq!(body["provider"], "offline");
    assert_eq!(body["model"], "offline-kb-v1");
    assert_eq!(body["finishReason"], "stop");
    assert_eq!(
        body["emergency"],
        json!({"detected": false, "category": null, "severity": null, "source": null, "language": "en"})
    );
    let reply = body["reply"].as_str().unwrap();
    assert!(reply.contains("crown"), "{reply}");
    assert!(body["usage"]["inputTokens"].as_u64().unwrap() > 0);
    assert!(body["usage"]["outputTokens"].as_u64().unwrap() > 0);

    let (status, events) = app.stream("Is it okay to use whitening strips with a crown?").await;
    assert_eq!(status, 200);
    assert!(events.len() > 3, "streams in several chunks");
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(name, "done");
    assert_eq!(text, reply);
    assert_eq!(done["provider"], "offline");
    assert_eq!(done["usage"], body["usage"]);
}

#[tokio::test]
async fn offline_chat_falls_back_for_unrelated_questions() {
    let app = TestApp::offline().await;
    let (status, _, body) = app.chat("Can you recommend a good pizza place nearby?").await;
    assert_eq!(status, 200);
    assert!(body["reply"].as_str().unwrap().contains("I can help with"));
}

#[tokio::test]
async fn emergencies_get_first_aid_without_a_model_call_on_both_routes() {
    let app = TestApp::offline().await;
    let (status, _, body) = app
        .chat("It's been bleeding nonstop since the extraction yesterday")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["emergency"]["detected"], true);
    assert_eq!(body["emergency"]["category"], "uncontrolled_bleeding");
    assert_eq!(body["emergency"]["severity"], "emergency");
    assert_eq!(body["model"], "triage");
    assert_eq!(body["finishReason"], "triage");
    assert_eq!(body["usage"], json!({"inputTokens": 0, "outputTokens": 0}));
    let reply = body["reply"].as_str().unwrap();
    assert!(reply.contains("911/999/112"));

    let (status, events) = app
        .stream("It's been bleeding nonstop since the extraction yesterday")
        .await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(name, "done");
    assert_eq!(text, reply);
    assert_eq!(done["emergency"]["category"], "uncontrolled_bleeding");
}
