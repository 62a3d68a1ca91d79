//! Added latency of the service per chat, and RSS of the `ai` process.
//!
//! `cargo run --release -p ai --example bench` (after `cargo build --release -p ai` for the RSS
//! part). Prints figures; asserts nothing. The service runs in-process on 127.0.0.1:0 and is
//! called over HTTP with a keep-alive client, one request at a time:
//! - `offline`: the real offline provider (triage + prompt + BM25 retrieval + JSON);
//! - `zero-latency fake`: a provider that answers instantly, so the figure is the service's own
//!   overhead (routing, auth, validation, triage, prompt building, serialisation, HTTP).
//!
//! RSS is read from /proc for a separately started release binary (the triage model loaded at
//! start-up) after it served the same load plus 1,000 triage calls.
//!
//! Triage alone: `Triager::classify` in-process on every labelled message under
//! `crates/ai/data/` (train and dev, a few thousand), after one warm-up pass; its latency
//! distribution is the per-message cost with no HTTP around it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ai::config::Config;
use ai::prompt::Prompt;
use ai::providers::{ChunkStream, Completion, Provider, StreamChunk, UpstreamError};
use ai::triage::{Triager, corpus};
use ai::{AppState, serve};
use async_trait::async_trait;
use futures::StreamExt;
use shared::ai::Usage;

const REQUESTS: usize = 2_000;
const TOKEN: &str = "bench-token-0123456789-0123456789-0123";

struct InstantProvider;

#[async_trait]
impl Provider for InstantProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &'static str {
        "instant"
    }

    async fn complete(&self, _prompt: &Prompt) -> Result<Completion, UpstreamError> {
        Ok(Completion {
            text: "Brush twice a day with fluoride toothpaste and clean between your teeth once a day.".to_owned(),
            usage: Usage {
                input_tokens: 100,
                output_tokens: 20,
            },
            finish_reason: "stop".to_owned(),
        })
    }

    async fn stream(&self, prompt: &Prompt) -> Result<ChunkStream, UpstreamError> {
        let completion = self.complete(prompt).await?;
        Ok(futures::stream::iter(vec![
            Ok(StreamChunk::Delta(completion.text)),
            Ok(StreamChunk::Done {
                usage: completion.usage,
                finish_reason: completion.finish_reason,
            }),
        ])
        .boxed())
    }
}

fn body(message: &str) -> serde_json::Value {
    serde_json::json!({
        "patient": {"name": "Bench Patient", "medicalNotes": "Allergic to penicillin. Type 2 diabetes."},
        "history": [
            {"role": "user", "content": "Hello, I have a question about my teeth."},
            {"role": "assistant", "content": "Of course, how can I help?"}
        ],
        "message": message,
    })
}

const MESSAGES: &[&str] = &[
    "Is flossing really necessary?",
    "Is it okay to use whitening strips with a crown?",
    "How long will I need to wear a retainer after my braces come off?",
    "What can I eat the first week with new dentures?",
    "My gums bleed a little when I brush, what should I do?",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn run(name: &str, base: &str, path: &str, client: &reqwest::Client) {
    let mut samples = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS + 100 {
        let started = Instant::now();
        let response = client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&if path == "/v1/triage" {
                serde_json::json!({"message": MESSAGES[i % MESSAGES.len()]})
            } else {
                body(MESSAGES[i % MESSAGES.len()])
            })
            .send()
            .await
            .expect("request");
        assert!(response.status().is_success(), "{}", response.status());
        let _ = response.bytes().await.expect("body");
        if i >= 100 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    println!(
        "{name:<28} {path:<16} n={REQUESTS} p50={:>7.3} ms p99={:>7.3} ms max={:>7.3} ms",
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

async fn spawn(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener, state, std::future::pending()));
    format!("http://{addr}")
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn labelled_messages() -> Vec<String> {
    let data = corpus::data_dir();
    ["train", "dev"]
        .iter()
        .flat_map(|dir| corpus::jsonl_files(&data.join(dir)))
        .flat_map(|file| corpus::load(&file).unwrap_or_default())
        .map(|case| case.text)
        .collect()
}

fn triage_latency() {
    let messages = labelled_messages();
    let started = Instant::now();
    let triager = Triager::new();
    let load = started.elapsed();
    for message in &messages {
        std::hint::black_box(triager.classify(message));
    }
    // Each message is timed in three passes; its figure is the fastest of the three, so a pass
    // preempted by another process on this shared 2-core machine does not count as triage cost.
    // The single-pass figures are printed beside it.
    let mut passes: Vec<Vec<Duration>> = Vec::new();
    for _ in 0..3 {
        passes.push(
            messages
                .iter()
                .map(|message| {
                    let started = Instant::now();
                    std::hint::black_box(triager.classify(message));
                    started.elapsed()
                })
                .collect(),
        );
    }
    let mut single = passes[0].clone();
    single.sort();
    let mut samples: Vec<Duration> = (0..messages.len())
        .map(|i| passes.iter().map(|pass| pass[i]).min().unwrap_or_default())
        .collect();
    samples.sort();
    println!(
        "triage in-process, one pass: p50={:.3} ms p99={:.3} ms",
        percentile(&single, 0.50).as_secs_f64() * 1e3,
        percentile(&single, 0.99).as_secs_f64() * 1e3,
    );
    println!(
        "triage in-process, fastest of 3 (model built in {:.1} ms) n={} p50={:.3} ms p90={:.3} ms p99={:.3} ms max={:.3} ms",
        load.as_secs_f64() * 1e3,
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.90).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

#[allow(clippy::cast_precision_loss)]
async fn process_rss(client: &reqwest::Client) {
    let binary = std::env::var("AI_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release/ai").to_owned());
    if !std::path::Path::new(&binary).exists() {
        println!("RSS: {binary} not built (cargo build --release -p ai)");
        return;
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut child = std::process::Command::new(&binary)
        .env_clear()
        .env("AI_SERVICE_TOKEN", TOKEN)
        .env("AI_BIND", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .spawn()
        .expect("spawn ai");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let idle = rss_kib(child.id());
    for i in 0..1_000 {
        let path = if i % 2 == 0 { "/v1/chat" } else { "/v1/chat/stream" };
        let response = client
            .post(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .json(&body(MESSAGES[i % MESSAGES.len()]))
            .send()
            .await
            .expect("request");
        let _ = response.bytes().await;
    }
    // Every labelled message once: varied text is what grows the regex engines' lazy caches.
    let messages = labelled_messages();
    for message in &messages {
        let response = client
            .post(format!("{base}/v1/triage"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"message": message}))
            .send()
            .await
            .expect("request");
        let _ = response.bytes().await;
    }
    let loaded = rss_kib(child.id());
    println!(
        "RSS of the ai process (offline provider, triage model loaded): idle {} MiB, after 1,000 chats and {} triage calls (every labelled message) {} MiB",
        idle.map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
        messages.len(),
        loaded.map_or_else(|| "?".to_owned(), |k| format!("{:.1}", k as f64 / 1024.0)),
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::main]
async fn main() {
    triage_latency();
    let config = Config::for_tests(TOKEN);
    let client = reqwest::Client::new();
    let offline = spawn(AppState::new(&config).expect("state")).await;
    let instant = spawn(AppState::with_provider(&config, Arc::new(InstantProvider))).await;
    run("offline provider", &offline, "/v1/chat", &client).await;
    run("offline provider", &offline, "/v1/chat/stream", &client).await;
    run("zero-latency fake provider", &instant, "/v1/chat", &client).await;
    run("zero-latency fake provider", &instant, "/v1/chat/stream", &client).await;
    run("triage (no provider call)", &offline, "/v1/triage", &client).await;
    process_rss(&client).await;
}
