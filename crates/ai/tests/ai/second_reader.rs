//! The model as a second reader: its urgency marker at the start of a reply becomes
//! `emergency` with `source: "model"`, and the patient never sees the marker.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{FakeServer, Reply, TestApp, stream_outcome};

const T: Duration = Duration::from_secs(5);
/// Triage does not flag this; a model might.
const MESSAGE: &str = "It has been bothering me since Sunday, what do you think?";

fn gemini_unary(text: &str) -> Reply {
    Reply::json(
        200,
        &json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 12}}),
    )
}

fn gemini_stream(pieces: &[&str]) -> Reply {
    let mut body = String::new();
    for (index, text) in pieces.iter().enumerate() {
        let mut candidate = json!({"content": {"role": "model", "parts": [{"text": text}]}, "index": 0});
        if index + 1 == pieces.len() {
            candidate["finishReason"] = json!("STOP");
        }
        let event = json!({"candidates": [candidate], "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": index + 1}});
        body.push_str(&format!("data: {event}\r\n\r\n"));
    }
    Reply::sse(body)
}

fn openai_unary(text: &str) -> Reply {
    Reply::json(
        200,
        &json!({"id": "c", "object": "chat.completion", "created": 1, "model": "local-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52}}),
    )
}

fn openai_stream(pieces: &[&str]) -> Reply {
    let mut body = String::new();
    for text in pieces {
        let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let finish = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    body.push_str(&format!("data: {finish}\n\ndata: [DONE]\n\n"));
    Reply::sse(body)
}

fn assert_model_flag(emergency: &Value, category: &str, severity: &str) {
    assert_eq!(
        emergency,
        &json!({"detected": true, "category": category, "severity": severity, "source": "model", "language": "en"})
    );
}

fn assert_no_flag(emergency: &Value) {
    assert_eq!(
        emergency,
        &json!({"detected": false, "category": null, "severity": null, "source": null, "language": "en"})
    );
}

#[tokio::test]
async fn a_gemini_marker_is_stripped_and_flags_the_reply_without_a_second_call() {
    let fake = FakeServer::start(gemini_unary(
        "[[URGENT: abscess]]\nA bad taste near a tooth can mean an infection. Please contact the clinic today.",
    ))
    .await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, _, body) = app.chat(MESSAGE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["reply"],
        "A bad taste near a tooth can mean an infection. Please contact the clinic today."
    );
    assert_model_flag(&body["emergency"], "abscess", "urgent");
    assert_eq!(body["model"], "gemini-test");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "one model call, no extra classification call");
    let system = requests[0].body["systemInstruction"]["parts"][0]["text"]
        .as_str()
        .unwrap();
    assert!(system.contains("[[URGENT:category]]") && system.contains("airway_threatening_swelling"));
}

#[tokio::test]
async fn a_marker_split_across_gemini_stream_events_never_reaches_the_client() {
    let fake = FakeServer::start(gemini_stream(&[
        "  [[",
        "Urg",
        "ent : Uncontrolled",
        " bleeding]",
        "]\n",
        "\nPress firmly on the spot with gauze. ",
        "Call the clinic now.",
    ]))
    .await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, events) = app.stream(MESSAGE).await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(name, "done");
    assert_eq!(text, "Press firmly on the spot with gauze. Call the clinic now.");
    assert!(
        events.iter().all(|(_, data)| !data.to_string().contains("[[")),
        "{events:?}"
    );
    assert_model_flag(&done["emergency"], "uncontrolled_bleeding", "emergency");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_model_flag_on_a_spanish_message_carries_the_message_language() {
    let fake = FakeServer::start(gemini_stream(&[
        "[[URG",
        "ENT: severe_pa",
        "in]]\nLlame hoy a la clínica.",
    ]))
    .await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, events) = app
        .stream("Me molesta desde el domingo por la tarde, ¿qué opinas de esto?")
        .await;
    assert_eq!(status, 200);
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!(name, "done");
    assert_eq!(text, "Llame hoy a la clínica.");
    assert_eq!(
        done["emergency"],
        json!({"detected": true, "category": "severe_pain", "severity": "urgent", "source": "model", "language": "es"})
    );
}

#[tokio::test]
async fn openai_compatible_markers_are_read_unary_and_split_in_a_stream() {
    let fake = FakeServer::start(openai_unary(
        "**[[URGENT:knocked out tooth]]**\n\nKeep the tooth in milk and come in now.",
    ))
    .await;
    let app = TestApp::openai(fake.base(), T).await;
    let (status, _, body) = app.chat(MESSAGE).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reply"], "Keep the tooth in milk and come in now.");
    assert_model_flag(&body["emergency"], "avulsion", "urgent");
    let system = fake.requests()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(system.contains("[[URGENT:category]]"));

    let fake = FakeServer::start(openai_stream(&[
        "[",
        "[URGENT:",
        "some",
        "thing new]]",
        " Please",
        " call us.",
    ]))
    .await;
    let app = TestApp::openai(fake.base(), T).await;
    let (_, events) = app.stream(MESSAGE).await;
    let (text, (name, done)) = stream_outcome(&events);
    assert_eq!((name.as_str(), text.as_str()), ("done", "Please call us."));
    // A name that is no category falls back to an urgent one.
    assert_model_flag(&done["emergency"], "severe_pain", "urgent");
}

#[tokio::test]
async fn marker_text_later_in_a_reply_stays_and_flags_nothing() {
    let later = "Thanks for asking. Clinics sometimes write [[URGENT:abscess]] in a chart, but yours sounds routine.";
    let fake = FakeServer::start(gemini_unary(later)).await;
    let app = TestApp::gemini(&fake, T).await;
    let (_, _, body) = app.chat(MESSAGE).await;
    assert_eq!(body["reply"], later);
    assert_no_flag(&body["emergency"]);

    let fake = FakeServer::start(openai_stream(&[
        "Thanks. Clinics write [[URG",
        "ENT:abscess]] in charts.",
    ]))
    .await;
    let app = TestApp::openai(fake.base(), T).await;
    let (_, events) = app.stream(MESSAGE).await;
    let (text, (_, done)) = stream_outcome(&events);
    assert_eq!(text, "Thanks. Clinics write [[URGENT:abscess]] in charts.");
    assert_no_flag(&done["emergency"]);
}

#[tokio::test]
async fn a_reply_without_a_marker_is_passed_on_exactly() {
    let fake = FakeServer::start(gemini_stream(&["[Tip] ", "Brush twice ", "a day."])).await;
    let app = TestApp::gemini(&fake, T).await;
    let (_, events) = app.stream(MESSAGE).await;
    let (text, (_, done)) = stream_outcome(&events);
    assert_eq!(text, "[Tip] Brush twice a day.");
    assert_no_flag(&done["emergency"]);
    let fake = FakeServer::start(openai_unary("  Brush twice a day.")).await;
    let app = TestApp::openai(fake.base(), T).await;
    let (_, _, body) = app.chat(MESSAGE).await;
    assert_eq!(body["reply"], "  Brush twice a day.");
    assert_no_flag(&body["emergency"]);
}

#[tokio::test]
async fn a_reply_that_is_only_a_marker_is_a_bad_gateway() {
    let fake = FakeServer::start(gemini_unary("[[URGENT:abscess]]")).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, _, body) = app.chat(MESSAGE).await;
    assert_eq!((status, body["code"].as_str()), (502, Some("ai_bad_gateway")));
    let fake = FakeServer::start(gemini_stream(&["[[URGENT:", "abscess]]\n"])).await;
    let app = TestApp::gemini(&fake, T).await;
    let (_, events) = app.stream(MESSAGE).await;
    let (text, (name, data)) = stream_outcome(&events);
    assert_eq!((text.as_str(), name.as_str()), ("", "error"));
    assert_eq!(data["code"], "ai_bad_gateway");
}

#[tokio::test]
async fn triage_answers_first_with_source_triage_and_the_model_is_not_called() {
    let fake = FakeServer::start(gemini_unary("[[URGENT:abscess]] model text")).await;
    let app = TestApp::gemini(&fake, T).await;
    let (status, _, body) = app.chat("Yawned and now my jaw's stuck open").await;
    assert_eq!(status, 200);
    assert_eq!(body["emergency"]["source"], "triage");
    assert_eq!(body["emergency"]["category"], "jaw_dislocation");
    assert_eq!(body["model"], "triage");
    assert!(fake.requests().is_empty());
}
