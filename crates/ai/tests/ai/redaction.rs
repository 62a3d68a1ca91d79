//! `AI_REDACT_PHI`: a fake cloud provider must not receive the patient's identifiers (nor other
//! e-mails, phones and dates in the text), and the client must see them restored, unary and
//! streamed, also when a placeholder is split across stream chunks.

use std::time::Duration;

use ai::config::RedactMode;
use serde_json::{Value, json};

use crate::support::{FakeServer, Reply, TestApp, stream_outcome};

const T: Duration = Duration::from_secs(5);

fn body() -> Value {
    json!({
        "patient": {
            "name": "Ana María Souza-Lima",
            "email": "ana.souza@example.com",
            "phone": "+34612345678",
            "dateOfBirth": "1985-03-07",
            "medicalNotes": "Prefers e-mail: Ana.Souza@Example.com or phone +34 612 34 56 78. Born 07/03/1985. \
                Allergic to penicillin. Husband Joe: joe.lima@mail.example.org, (555) 010-2000. \
                Last extraction 12 January 2024."
        },
        "history": [
            {"role": "user", "content": "Hi, this is ana souza, my number is 612 345 678"},
            {"role": "assistant", "content": "Hello Ana! How can I help?"}
        ],
        "message": "Can I book a cleaning? I was born on March 7th, 1985 and my mobile is 0034 612-345-678, \
            email ANA.SOUZA@EXAMPLE.COM",
    })
}

/// Words (lower-case letters and digits, accents folded) that must not reach a cloud model.
const FORBIDDEN: &[&str] = &[
    "ana", "maria", "souza", "lima", "example", "612", "345", "678", "1985", "555", "010", "2000", "2024", "january",
    "march",
];

fn words_of(request: &Value) -> Vec<String> {
    request
        .to_string()
        .to_lowercase()
        .replace('í', "i")
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

fn assert_redacted(request: &Value) {
    let words = words_of(request);
    for value in FORBIDDEN {
        assert!(
            !words.iter().any(|word| word == value),
            "{value:?} reached the model: {request}"
        );
    }
    let text = request.to_string();
    // What the model needs stays, and the placeholders are consistent.
    assert!(text.contains("penicillin"));
    assert!(
        text.contains("Husband Joe"),
        "other people's names are not known to the redactor"
    );
    assert!(text.contains("Patient name: ⟦NAME_1⟧"));
    assert!(
        text.contains("born on ⟦DATE_1⟧ and my mobile is ⟦PHONE_1⟧, email ⟦EMAIL_1⟧"),
        "{text}"
    );
    assert!(
        text.contains("this is ⟦NAME_2⟧ ⟦NAME_3⟧, my number is ⟦PHONE_1⟧"),
        "{text}"
    );
    assert!(
        text.contains("⟦EMAIL_2⟧, ⟦PHONE_2⟧. Last extraction ⟦DATE_2⟧."),
        "{text}"
    );
    assert!(text.contains("Privacy placeholders"));
}

const MODEL_REPLY: &str = "Hello ⟦NAME_2⟧! We will call ⟦PHONE_1⟧ and write to ⟦EMAIL_1⟧. Your date of birth ⟦DATE_1⟧ is on file; ⟦NAME_9⟧ is not ours.";
const RESTORED: &str = "Hello Ana! We will call +34 612 34 56 78 and write to Ana.Souza@Example.com. \
    Your date of birth 07/03/1985 is on file; ⟦NAME_9⟧ is not ours.";
/// The reply cut inside placeholders.
const MODEL_PIECES: &[&str] = &[
    "Hello ⟦NA",
    "ME_2⟧! We will call ⟦",
    "PHONE_1",
    "⟧ and write to ⟦EMAIL_1⟧. Your date of birth ⟦DATE_",
    "1⟧ is on file; ⟦NAME_9⟧ is not ours.",
];

fn gemini_unary() -> Reply {
    Reply::json(
        200,
        &json!({"candidates": [{"content": {"role": "model", "parts": [{"text": MODEL_REPLY}]}, "finishReason": "STOP", "index": 0}]}),
    )
}

fn gemini_stream() -> Reply {
    let mut body = String::new();
    for (index, text) in MODEL_PIECES.iter().enumerate() {
        let mut candidate = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
        if index + 1 == MODEL_PIECES.len() {
            candidate["finishReason"] = json!("STOP");
        }
        body.push_str(&format!("data: {}\r\n\r\n", json!({"candidates": [candidate]})));
    }
    Reply::sse(body)
}

fn openai_unary(text: &str) -> Reply {
    Reply::json(
        200,
        &json!({"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}),
    )
}

fn openai_stream() -> Reply {
    let mut body = String::new();
    for text in MODEL_PIECES {
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    body.push_str(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    );
    Reply::sse(body)
}

fn assert_stream_restored(events: &[(String, Value)]) {
    let (text, (name, _)) = stream_outcome(events);
    assert_eq!(name, "done", "{events:?}");
    assert_eq!(text, RESTORED);
    for (_, data) in events.iter().filter(|(name, _)| name == "delta") {
        // `⟦NAME_9⟧` was never issued: it is the model's own text and stays.
        let delta = data["text"].as_str().unwrap().replace("⟦NAME_9⟧", "");
        assert!(
            !delta.contains("⟦NA") && !delta.contains("⟦PH") && !delta.ends_with('⟦'),
            "a placeholder leaked in a delta: {delta:?}"
        );
    }
}

#[tokio::test]
async fn gemini_never_sees_the_patients_identifiers_and_the_unary_reply_has_them_back() {
    let fake = FakeServer::start(gemini_unary()).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, _, reply) = app.chat_with(&body()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["reply"], RESTORED);
    assert_redacted(&fake.requests()[0].body);
}

#[tokio::test]
async fn gemini_stream_restores_placeholders_split_across_chunks() {
    let fake = FakeServer::start(gemini_stream()).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, events) = app.stream_with(&body()).await;
    assert_eq!(status, 200);
    assert_stream_restored(&events);
    assert_redacted(&fake.requests()[0].body);
}

#[tokio::test]
async fn a_cloud_openai_compatible_server_gets_the_redacted_prompt_unary_and_streamed() {
    let fake = FakeServer::start(openai_unary(MODEL_REPLY)).await;
    let app = TestApp::openai_redacting(fake.base(), T, RedactMode::Always).await;
    let (status, _, reply) = app.chat_with(&body()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["reply"], RESTORED);
    assert_redacted(&fake.requests()[0].body);

    let fake = FakeServer::start(openai_stream()).await;
    let app = TestApp::openai_redacting(fake.base(), T, RedactMode::Always).await;
    let (_, events) = app.stream_with(&body()).await;
    assert_stream_restored(&events);
    assert_redacted(&fake.requests()[0].body);
}

#[tokio::test]
async fn a_local_openai_compatible_server_gets_the_text_as_is_unless_always() {
    let fake = FakeServer::start(openai_unary("Hello ⟦NAME_1⟧, see you.")).await;
    let app = TestApp::openai(fake.base(), T).await;
    let (status, _, reply) = app.chat_with(&body()).await;
    assert_eq!(status, 200);
    // Nothing was redacted, so nothing is restored: the reply is exactly what the model wrote.
    assert_eq!(reply["reply"], "Hello ⟦NAME_1⟧, see you.");
    let request = fake.requests()[0].body.to_string();
    assert!(request.contains("Patient name: Ana María Souza-Lima"));
    assert!(request.contains("612 345 678") && request.contains("March 7th, 1985"));
    assert!(!request.contains('⟦') && !request.contains("Privacy placeholders"));
    // The email, phone and date-of-birth fields themselves are never put in a prompt.
    assert!(!request.contains("+34612345678") && !request.contains("1985-03-07"));

    let fake = FakeServer::start(openai_unary("ok")).await;
    let app = TestApp::openai_redacting(fake.base(), T, RedactMode::Never).await;
    app.chat_with(&body()).await;
    assert!(fake.requests()[0].body.to_string().contains("Ana María Souza-Lima"));
}

#[tokio::test]
async fn never_sends_gemini_the_text_as_is() {
    let fake = FakeServer::start(gemini_unary()).await;
    let app = TestApp::spawn_redacting(
        ai::config::ProviderConfig::Gemini {
            api_key: secrecy::SecretString::from(crate::support::GEMINI_KEY),
            model: "gemini-test".into(),
            base_url: fake.base(),
        },
        T,
        RedactMode::Never,
    )
    .await;
    let (_, _, reply) = app.chat_with(&body()).await;
    assert_eq!(reply["reply"], MODEL_REPLY);
    assert!(fake.requests()[0].body.to_string().contains("Ana María Souza-Lima"));
}

#[tokio::test]
async fn an_old_api_body_without_the_new_fields_still_works_redacted() {
    let fake = FakeServer::start(gemini_unary()).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, _, _) = app
        .chat_with(
            &json!({"patient": {"name": "Ana Souza", "medicalNotes": "ana@x.example.com"}, "message": "Hi, Ana here"}),
        )
        .await;
    assert_eq!(status, 200);
    let request = fake.requests()[0].body.to_string();
    assert!(!request.contains("Ana") && !request.contains("x.example"), "{request}");
}
