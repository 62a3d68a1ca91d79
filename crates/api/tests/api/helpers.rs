//! Test harness: spawns the real AI service and the real api on port 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use api::config::Config;
use api::state::AppState;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;

/// At least 32 bytes, as both services require.
pub const AI_TOKEN: &str = "test-ai-token-test-ai-token-0123456789";
pub const PASSWORD: &str = "correct horse battery staple lamp";

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    /// A superuser pool on the test database, for arranging and asserting.
    pub admin_db: PgPool,
    pub state: AppState,
    counter: Arc<AtomicU32>,
}

/// Starts the offline AI service on port 0 and returns its URL.
pub async fn spawn_ai() -> reqwest::Url {
    let config = ai::Config::for_tests(AI_TOKEN);
    let state = ai::AppState::new(&config).unwrap_or_else(|e| panic!("ai state: {e}"));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(ai::serve(listener, state, std::future::pending()));
    reqwest::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("url: {e}"))
}

/// A URL where nothing listens (the AI service is "down").
pub async fn dead_url() -> reqwest::Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    drop(listener);
    reqwest::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("url: {e}"))
}

impl TestApp {
    pub async fn spawn(options: PgConnectOptions) -> Self {
        let ai = spawn_ai().await;
        Self::spawn_with(options, ai, |_| {}).await
    }

    pub async fn spawn_with(options: PgConnectOptions, ai_url: reqwest::Url, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests(options.clone(), ai_url, AI_TOKEN);
        tweak(&mut config);
        let admin_db = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.clone())
            .await
            .unwrap_or_else(|e| panic!("admin pool: {e}"));
        let pool = api::db::pool(options, 8);
        let state = AppState::new(config, pool).unwrap_or_else(|e| panic!("state: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        tokio::spawn(api::serve::serve(listener, state.clone(), std::future::pending()));
        Self {
            base: format!("http://{addr}/api/v1"),
            http: reqwest::Client::new(),
            admin_db,
            state,
            counter: Arc::new(AtomicU32::new(0)),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn unique_email(&self) -> String {
        format!(
            "user{}-{}@clinic.example",
            self.counter.fetch_add(1, Ordering::SeqCst),
            uuid::Uuid::new_v4().simple()
        )
    }

    /// Registers a fresh account; returns (access token, the whole session body).
    pub async fn register(&self) -> (String, Value) {
        let email = self.unique_email();
        let r = self
            .http
            .post(self.url("/auth/register"))
            .json(&json!({"email": email, "password": PASSWORD, "fullName": "Dr Test"}))
            .send()
            .await
            .unwrap_or_else(|e| panic!("register: {e}"));
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap_or_else(|e| panic!("json: {e}"));
        let token = body["accessToken"].as_str().unwrap_or_default().to_owned();
        (token, body)
    }

    pub async fn create_patient(&self, token: &str, body: Value) -> Value {
        let r = self
            .http
            .post(self.url("/patients"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create patient: {e}"));
        assert_eq!(r.status(), 201, "create patient");
        r.json().await.unwrap_or_else(|e| panic!("json: {e}"))
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PATCH {path}: {e}"))
    }

    pub async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DELETE {path}: {e}"))
    }
}

/// Reads a body as JSON, asserting the problem+json media type when `problem` is set.
pub async fn problem(r: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "status");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    assert!(r.headers().contains_key("x-request-id"));
    let body: Value = r.json().await.unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert!(body["requestId"].is_string(), "{body}");
    body
}

pub async fn json(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status().as_u16(), status, "status");
    r.json().await.unwrap_or_else(|e| panic!("json: {e}"))
}

/// Reads a whole SSE response into (event, data) pairs.
pub async fn sse_events(r: reqwest::Response) -> Vec<(String, Value)> {
    use eventsource_stream::Eventsource as _;
    use futures::StreamExt as _;
    let mut out = Vec::new();
    let mut stream = r.bytes_stream().eventsource();
    while let Some(Ok(event)) = stream.next().await {
        out.push((event.event, serde_json::from_str(&event.data).unwrap_or(Value::Null)));
    }
    out
}
