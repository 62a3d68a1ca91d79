use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{TestApp, dead_url, json, problem};

#[sqlx::test(migrations = "../../migrations")]
async fn health_is_ok_when_database_and_ai_answer(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.headers().contains_key("x-request-id"));
    let body = json(r, 200).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "checks": {"database": "ok", "ai": "ok"}})
    );
    let head = app
        .http
        .head(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(head.status(), 200);
}

#[sqlx::test(migrations = "../../migrations")]
async fn health_is_503_naming_the_ai_check_when_the_ai_service_is_down(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn_with(options, dead_url().await, |_| {}).await;
    let r = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = json(r, 503).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["ai"], "unreachable");
    let head = app
        .http
        .head(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(head.status(), 503);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_well_formed_request_id_is_kept_and_a_bad_one_replaced(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "bad id!")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(r.headers()["x-request-id"], "bad id!");
}

#[sqlx::test(migrations = "../../migrations")]
async fn unknown_routes_methods_and_bad_bodies_get_problem_json(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .get(app.url("/nope"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 404, "not_found").await;
    let r = app
        .http
        .delete(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 405, "method_not_allowed").await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 400, "malformed_json").await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .body("email=a")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 415, "unsupported_media_type").await;
    let r = app
        .http
        .post(app.url("/auth/login"))
        .json(&serde_json::json!({"email": "a@b.co", "password": "x", "extra": 1}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = problem(r, 400, "invalid_body").await;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("extra")), "{body}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_oversized_body_is_413(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let notes = "x".repeat(2 * 1024 * 1024);
    let r = app
        .post(
            &token,
            "/patients",
            serde_json::json!({"name": "A", "medicalNotes": notes}),
        )
        .await;
    problem(r, 413, "payload_too_large").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn security_headers_are_on_every_response(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let h = r.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .starts_with("default-src 'none'")
    );
    assert!(h.contains_key("strict-transport-security"));
    assert_eq!(h["cache-control"], "no-store");
}

#[sqlx::test(migrations = "../../migrations")]
async fn cors_allows_only_configured_origins(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let allowed = app
        .http
        .get(app.url("/health"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let other = app
        .http
        .get(app.url("/health"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    let _: Value = other.json().await.unwrap_or_default();
}
