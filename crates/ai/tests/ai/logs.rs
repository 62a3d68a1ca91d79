//! No patient data in logs: run the real binary at `RUST_LOG=trace` against a fake Gemini, send
//! patient data through every route (success, model failure, emergency, rejected body) and search
//! everything it wrote. With the default `AI_REDACT_PHI=auto`, the fake Gemini must not have
//! received the patient's identifiers either.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{FakeServer, GEMINI_KEY, Reply, TOKEN};

const NAME: &str = "Zebulon Quixote";
const NOTES: &str =
    "notes-marker-7781 takes warfarin; reach Zebulon at zeb.quixote@example.net or (555) 010-4477, born 23/11/1979";
const EMAIL: &str = "zeb.quixote@example.net";
const PHONE: &str = "+15550104477";
const BIRTH_DATE: &str = "1979-11-23";
const MESSAGE: &str = "message-marker-5512 how often should I floss?";
const EMERGENCY: &str = "marker-9931 my face is swollen and I can't breathe";

fn body(message: &str) -> serde_json::Value {
    json!({
        "patient": {"name": NAME, "medicalNotes": NOTES, "email": EMAIL, "phone": PHONE, "dateOfBirth": BIRTH_DATE},
        "history": [{"role": "user", "content": "history-marker-4410"}],
        "message": message,
    })
}

async fn exercise(fake: &FakeServer, provider: &str) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ai"))
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs([
            ("AI_SERVICE_TOKEN", TOKEN),
            ("AI_BIND", &format!("127.0.0.1:{port}")),
            ("AI_PROVIDER", provider),
            ("GEMINI_API_KEY", GEMINI_KEY),
            ("GEMINI_MODEL", "gemini-test"),
            ("GEMINI_BASE_URL", &fake.base()),
            ("RUST_LOG", "trace"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let captured = Arc::new(Mutex::new(Vec::new()));
    let mut readers = Vec::new();
    for mut pipe in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let captured = captured.clone();
        readers.push(std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                captured.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        }));
    }
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "service did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for path in ["/v1/chat", "/v1/chat/stream", "/v1/triage"] {
        for message in [MESSAGE, EMERGENCY] {
            let payload = if path == "/v1/triage" {
                json!({"message": message})
            } else {
                body(message)
            };
            let response = client
                .post(format!("{base}{path}"))
                .bearer_auth(TOKEN)
                .json(&payload)
                .send()
                .await
                .unwrap();
            let _ = response.text().await.unwrap();
        }
    }
    let rejected = json!({"patient": {"name": NAME}, "message": MESSAGE, "bogus": NOTES});
    let _ = client
        .post(format!("{base}/v1/chat"))
        .bearer_auth(TOKEN)
        .json(&rejected)
        .send()
        .await
        .unwrap();
    let _ = client
        .post(format!("{base}/v1/chat"))
        .json(&body(MESSAGE))
        .send()
        .await
        .unwrap();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    for reader in readers {
        reader.join().unwrap();
    }
    String::from_utf8_lossy(&captured.lock().unwrap()).into_owned()
}

#[tokio::test]
async fn no_patient_name_notes_or_message_text_reaches_the_logs() {
    let failing = FakeServer::start(Reply::json(
        500,
        &json!({"error": {"code": 500, "message": "internal", "status": "INTERNAL"}}),
    ))
    .await;
    let ok = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Floss daily.\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n";
    let streaming = FakeServer::start(Reply::sse(ok)).await;
    let mut logs = exercise(&failing, "gemini").await;
    logs.push_str(&exercise(&streaming, "gemini").await);
    logs.push_str(&exercise(&streaming, "offline").await);
    assert!(logs.contains("request finished"), "nothing was captured: {logs}");
    assert!(logs.contains("model call failed"));
    assert!(logs.contains("triage detected"));
    let identifiers = [
        NAME,
        "Zebulon",
        "Quixote",
        EMAIL,
        "zeb.quixote",
        PHONE,
        "010-4477",
        "4477",
        BIRTH_DATE,
        "1979",
    ];
    // Bare four-digit fragments ("4477", "1979") also turn up by chance in request ids, ports and
    // timestamps, so the log check looks for the longer forms; the cloud-body check below takes them all.
    for secret in identifiers.iter().filter(|s| s.len() > 4).chain(&[
        "notes-marker-7781",
        "warfarin",
        "message-marker-5512",
        "marker-9931",
        "history-marker-4410",
        "floss",
        GEMINI_KEY,
        TOKEN,
    ]) {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs:\n{logs}");
    }
    // Gemini is a cloud model: the prompts it received name the patient by placeholder only.
    let received: Vec<String> = failing
        .requests()
        .iter()
        .chain(streaming.requests().iter())
        .map(|request| request.body.to_string())
        .collect();
    assert!(!received.is_empty());
    for body in &received {
        assert!(body.contains("⟦NAME_1⟧") && body.contains("warfarin"), "{body}");
        for secret in identifiers {
            assert!(!body.contains(secret), "{secret:?} reached the cloud model: {body}");
        }
    }
}
