//! Rate limits shared through Redis (the machine's Redis at 127.0.0.1:6379; each test skips, saying
//! why, when it does not answer) and failing open when Redis is gone.

use std::time::Duration;

use api::ratelimit::{Limiter, Rule};
use secrecy::SecretString;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{TestApp, json, problem};

pub(crate) const REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A key namespace of its own, so parallel tests (and earlier runs) never share counters.
fn unique_prefix() -> String {
    format!("test:{}:", uuid::Uuid::new_v4().simple())
}

/// Whether the local Redis answers a PING within a second.
pub(crate) async fn redis_available() -> bool {
    let Ok(client) = redis::Client::open(REDIS_URL) else {
        return false;
    };
    let ping = async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    matches!(tokio::time::timeout(Duration::from_secs(1), ping).await, Ok(Ok(_)))
}

macro_rules! require_redis {
    () => {
        if !redis_available().await {
            eprintln!("SKIPPED: no Redis answers at {REDIS_URL}; start one to run this test");
            return;
        }
    };
}

async fn me_without_token(app: &TestApp) -> reqwest::Response {
    app.http
        .get(app.url("/auth/me"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_redis_backend_has_the_in_memory_fixed_window_semantics_and_is_shared() {
    require_redis!();
    let prefix = unique_prefix();
    let url = SecretString::from(REDIS_URL);
    let a = Limiter::redis(&url, &prefix).unwrap_or_else(|e| panic!("{e}"));
    let b = Limiter::redis(&url, &prefix).unwrap_or_else(|e| panic!("{e}"));
    let rule = Rule::new("test_rule", 2, Duration::from_secs(60));

    // `check` never counts.
    assert!(a.check("k", rule).await.is_ok());
    assert!(b.check("k", rule).await.is_ok());
    // Two hits across the two instances fill the window; the third is refused on either.
    assert!(a.hit("k", rule).await.is_ok());
    assert!(b.hit("k", rule).await.is_ok());
    let refused = a.hit("k", rule).await.err().map(|r| r.0);
    assert!(
        refused.is_some_and(|d| d > Duration::from_secs(55) && d <= Duration::from_secs(60)),
        "{refused:?}"
    );
    assert!(b.check("k", rule).await.is_err());
    // Other keys are independent; a short window ends.
    assert!(b.hit("other", rule).await.is_ok());
    let short = Rule::new("test_short", 1, Duration::from_millis(300));
    assert!(a.hit("s", short).await.is_ok());
    assert!(b.hit("s", short).await.is_err());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(b.hit("s", short).await.is_ok());
    assert_eq!(a.redis_health().await, Some("ok"));
    assert_eq!(a.redis_up(), Some(true));
}

#[tokio::test]
async fn redis_keys_carry_the_prefix_and_no_email_or_ip() {
    require_redis!();
    let prefix = unique_prefix();
    let limiter = Limiter::redis(&SecretString::from(REDIS_URL), &prefix).unwrap_or_else(|e| panic!("{e}"));
    let rule = Rule::new("login_failures_per_account", 5, Duration::from_secs(60));
    assert!(limiter.hit("login-fail:acct:dr.who@clinic.example", rule).await.is_ok());
    let client = redis::Client::open(REDIS_URL).unwrap_or_else(|e| panic!("{e}"));
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].starts_with(&format!("{prefix}login_failures_per_account:")),
        "{keys:?}"
    );
    assert!(!keys[0].contains("clinic") && !keys[0].contains('@'), "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!((1..=60_000).contains(&ttl), "{ttl}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_api_instances_sharing_redis_enforce_one_limit(_: PgPoolOptions, options: PgConnectOptions) {
    require_redis!();
    let prefix = unique_prefix();
    let tweak = |c: &mut api::config::Config| {
        c.redis_url = Some(SecretString::from(REDIS_URL));
        c.rate_limit_prefix.clone_from(&prefix);
        c.rate_limits.auth_per_ip.limit = 4;
    };
    let one = TestApp::spawn_with(options.clone(), crate::helpers::spawn_ai().await, tweak).await;
    let two = TestApp::spawn_with(options, crate::helpers::spawn_ai().await, tweak).await;

    // Four requests in all, alternating between the instances, use the budget up...
    for app in [&one, &two, &one, &two] {
        problem(me_without_token(app).await, 401, "invalid_token").await;
    }
    // ...so each instance now refuses, although each saw only two.
    for app in [&one, &two] {
        let r = me_without_token(app).await;
        assert!(r.headers().contains_key("retry-after"));
        problem(r, 429, "rate_limited").await;
    }
    let health = json(
        one.http
            .get(one.url("/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        200,
    )
    .await;
    assert_eq!(health["checks"]["redis"], "ok", "{health}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn with_redis_down_the_api_serves_counts_locally_and_health_stays_200(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn_with(options, crate::helpers::spawn_ai().await, |c| {
        c.redis_url = Some(SecretString::from("redis://127.0.0.1:1"));
        c.rate_limit_prefix = unique_prefix();
        c.rate_limits.auth_per_ip.limit = 3;
    })
    .await;
    let (token, _) = app.register().await;
    json(app.get(&token, "/auth/me").await, 200).await;
    let page = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(page["total"], 0);
    // register + me used 2 of the 3 auth requests; the in-memory fallback still enforces the limit.
    json(app.get(&token, "/auth/me").await, 200).await;
    problem(app.get(&token, "/auth/me").await, 429, "rate_limited").await;

    let r = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let health: Value = json(r, 200).await;
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["checks"]["redis"], "unreachable", "{health}");
    assert_eq!(app.state.limiter.redis_up(), Some(false));
}

#[sqlx::test(migrations = "../../migrations")]
async fn without_redis_health_has_no_redis_check(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let health = json(
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        200,
    )
    .await;
    assert!(health["checks"].get("redis").is_none(), "{health}");
}
