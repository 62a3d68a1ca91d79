//! Test support: the service on port 0, fake model servers speaking raw HTTP/1.1 bytes, and an
//! SSE reader.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ai::config::{Config, ProviderConfig, RedactMode};
use ai::{AppState, serve};
use secrecy::SecretString;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const TOKEN: &str = "test-service-token-0123456789-0123456789";
pub const GEMINI_KEY: &str = "gemini-test-key";
pub const OPENAI_KEY: &str = "openai-test-key";

/// A running `ai` service.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
}

impl TestApp {
    pub async fn spawn(provider: ProviderConfig, timeout: Duration) -> Self {
        Self::spawn_redacting(provider, timeout, RedactMode::Auto).await
    }

    pub async fn spawn_redacting(provider: ProviderConfig, timeout: Duration, redact: RedactMode) -> Self {
        let mut config = Config::for_tests(TOKEN);
        config.provider = provider;
        config.timeout = timeout;
        config.redact_phi = redact;
        let state = AppState::new(&config).unwrap();
        Self::spawn_state(state).await
    }

    pub async fn spawn_state(state: AppState) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(listener, state, std::future::pending()));
        Self {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
        }
    }

    pub async fn offline() -> Self {
        Self::spawn(ProviderConfig::Offline, Duration::from_secs(5)).await
    }

    pub async fn gemini(fake: &FakeServer, timeout: Duration) -> Self {
        Self::spawn(
            ProviderConfig::Gemini {
                api_key: SecretString::from(GEMINI_KEY),
                model: "gemini-test".into(),
                base_url: fake.base(),
            },
            timeout,
        )
        .await
    }

    pub async fn openai(base_url: String, timeout: Duration) -> Self {
        Self::openai_redacting(base_url, timeout, RedactMode::Auto).await
    }

    /// An OpenAI-compatible provider (the fakes listen on loopback, which `auto` leaves
    /// unredacted; `Always` stands in for a cloud host).
    pub async fn openai_redacting(base_url: String, timeout: Duration, redact: RedactMode) -> Self {
        Self::spawn_redacting(
            ProviderConfig::OpenAi {
                base_url,
                api_key: Some(SecretString::from(OPENAI_KEY)),
                model: "local-model".into(),
            },
            timeout,
            redact,
        )
        .await
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.base)).bearer_auth(TOKEN)
    }

    pub async fn chat(&self, message: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        self.chat_with(&chat_body(message)).await
    }

    pub async fn chat_with(&self, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self.post("/v1/chat").json(body).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap();
        (status, headers, body)
    }

    pub async fn stream(&self, message: &str) -> (u16, Vec<(String, Value)>) {
        self.stream_with(&chat_body(message)).await
    }

    pub async fn stream_with(&self, body: &Value) -> (u16, Vec<(String, Value)>) {
        let response = self.post("/v1/chat/stream").json(body).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = response.text().await.unwrap();
        if !content_type.starts_with("text/event-stream") {
            return (status, vec![("problem".into(), serde_json::from_str(&text).unwrap())]);
        }
        (status, parse_sse(&text))
    }
}

pub fn chat_body(message: &str) -> Value {
    serde_json::json!({
        "patient": {"name": "Test Patient", "medicalNotes": "No known allergies."},
        "history": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Hi! How can I help?"}
        ],
        "message": message,
    })
}

/// Parses `event:`/`data:` blocks (the service writes LF framing and one-line JSON data).
pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(rest) = line.strip_prefix("event:") {
                    event = Some(rest.trim().to_owned());
                } else if let Some(rest) = line.strip_prefix("data:") {
                    data = Some(rest.trim().to_owned());
                }
            }
            Some((event?, serde_json::from_str(&data?).unwrap()))
        })
        .collect()
}

/// The concatenated `delta` text and the final event of a stream.
pub fn stream_outcome(events: &[(String, Value)]) -> (String, &(String, Value)) {
    let text = events
        .iter()
        .filter(|(name, _)| name == "delta")
        .map(|(_, data)| data["text"].as_str().unwrap())
        .collect();
    let last = events.last().unwrap();
    let finals = events
        .iter()
        .filter(|(name, _)| name == "done" || name == "error")
        .count();
    assert_eq!(finals, 1, "exactly one done or error event: {events:?}");
    (text, last)
}

/// A scripted reply of a fake model server.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Piece sizes the body is written in (cycled); empty = all at once.
    pub pieces: Vec<usize>,
    /// Wait before the status line.
    pub delay: Duration,
    /// Stop after this many body bytes and hold the connection open until the client closes it
    /// (for timeouts and cancellation; the moment of the close is recorded).
    pub stall_after: Option<usize>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Self {
        Self::raw(
            status,
            "application/json; charset=UTF-8",
            serde_json::to_string_pretty(body).unwrap() + "\n",
        )
    }

    pub fn raw(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
            pieces: Vec::new(),
            delay: Duration::ZERO,
            stall_after: None,
        }
    }

    pub fn sse(body: impl Into<Vec<u8>>) -> Self {
        Self::raw(200, "text/event-stream", body).awkward()
    }

    /// Irregular tiny pieces, so splits land inside `data:`, between CR and LF and inside
    /// multi-byte characters.
    pub fn awkward(mut self) -> Self {
        self.pieces = vec![1, 3, 2, 7, 1, 1, 5, 2, 11, 4, 1, 6];
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A fake model server on 127.0.0.1:0 answering every request with the same reply (or, from
/// [`FakeServer::start_sequence`], the n-th request with the n-th reply, the last one repeating).
pub struct FakeServer {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<Recorded>>>,
    /// When the client closed a stalled connection.
    pub closed: Arc<Mutex<Vec<Instant>>>,
    /// Body bytes written so far, over all connections.
    pub written: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Shared {
    log: Arc<Mutex<Vec<Recorded>>>,
    closed: Arc<Mutex<Vec<Instant>>>,
    written: Arc<AtomicU64>,
}

impl FakeServer {
    pub async fn start(reply: Reply) -> Self {
        Self::start_sequence(vec![reply]).await
    }

    pub async fn start_sequence(replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Shared {
            log: Arc::new(Mutex::new(Vec::new())),
            closed: Arc::new(Mutex::new(Vec::new())),
            written: Arc::new(AtomicU64::new(0)),
        };
        let task_shared = shared.clone();
        tokio::spawn(async move {
            let mut accepted = 0usize;
            while let Ok((socket, _)) = listener.accept().await {
                let reply = replies[accepted.min(replies.len() - 1)].clone();
                accepted += 1;
                let shared = task_shared.clone();
                tokio::spawn(async move {
                    let _ = handle(socket, reply, shared).await;
                });
            }
        });
        Self {
            addr,
            log: shared.log,
            closed: shared.closed,
            written: shared.written,
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to `limit` for a stalled connection to be closed by the client; when it was.
    pub async fn wait_closed(&self, limit: Duration) -> Option<Instant> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.closed.lock().unwrap().first().copied() {
                return Some(at);
            }
            if started.elapsed() > limit {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub fn bytes_written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

async fn handle(mut socket: TcpStream, reply: Reply, shared: Shared) -> std::io::Result<()> {
    let log = shared.log;
    socket.set_nodelay(true)?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = serde_json::from_slice(&buffer[header_end..]).unwrap_or(Value::Null);
    log.lock().unwrap().push(Recorded {
        method,
        target,
        headers,
        body,
    });

    tokio::time::sleep(reply.delay).await;
    let mut head = format!(
        "HTTP/1.1 {} Fake\r\ncontent-type: {}\r\nconnection: close\r\n",
        reply.status, reply.content_type
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    socket.write_all(head.as_bytes()).await?;
    socket.flush().await?;
    let limit = reply.stall_after.unwrap_or(reply.body.len()).min(reply.body.len());
    let body = &reply.body[..limit];
    if reply.pieces.is_empty() {
        socket.write_all(body).await?;
        shared.written.fetch_add(body.len() as u64, Ordering::Relaxed);
    } else {
        let mut offset = 0;
        for size in reply.pieces.iter().cycle() {
            if offset >= body.len() {
                break;
            }
            let end = (offset + size).min(body.len());
            socket.write_all(&body[offset..end]).await?;
            socket.flush().await?;
            shared.written.fetch_add((end - offset) as u64, Ordering::Relaxed);
            offset = end;
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
    }
    socket.flush().await?;
    if reply.stall_after.is_some() {
        // Hold the connection until the client closes it (EOF or reset), at most 30 s.
        let mut scratch = [0u8; 256];
        let closed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match socket.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        if closed.is_ok() {
            shared.closed.lock().unwrap().push(Instant::now());
            return Ok(());
        }
    }
    socket.shutdown().await?;
    Ok(())
}

/// An address where nothing listens.
pub async fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
