//! Hardening (issue #14, the api side): what an outsider, a forged header, a hostile upstream and
//! two browser tabs can do. Each test here failed on the code before the fix.

use std::time::Duration;

use api::http::client_ip::TrustedProxies;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{PASSWORD, TestApp, json, problem};

const WRONG: &str = "wrong horse battery staple";

async fn login_from(app: &TestApp, email: &str, password: &str, headers: &[(&str, String)]) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({"email": email, "password": password}));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.unwrap_or_else(|e| panic!("{e}"))
}

/// The `device_*=...` pair a successful sign-in set, ready for a `Cookie` header.
fn device_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("device_"))
        .and_then(|v| v.split(';').next())
        .unwrap_or_else(|| panic!("no device cookie in {:?}", r.headers()))
        .to_owned()
}

fn retry_after(r: &reqwest::Response) -> u64 {
    r.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {:?}", r.headers()))
}

async fn failed_login_audits(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from audit_events where action = 'auth.login_failed'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

// --- memory an outsider controls -------------------------------------------------------------

#[sqlx::test(migrations = "../../migrations")]
async fn an_email_over_254_characters_is_422_before_any_limiter_or_password_work(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let huge = format!("{}@clinic.example", "a".repeat(1_000_000));
    let first = login_from(&app, &huge, WRONG, &[]).await;
    let body = problem(first, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "email", "{body}");
    assert_eq!(body["errors"][0]["code"], "too_long", "{body}");
    // The per-IP budgets hold their counters; nothing keyed by the email was added.
    let entries = app.state.limiter.memory_entries();
    for _ in 0..5 {
        problem(login_from(&app, &huge, WRONG, &[]).await, 422, "validation_failed").await;
    }
    assert_eq!(app.state.limiter.memory_entries(), entries);
    assert_eq!(failed_login_audits(&app).await, 0, "no password was checked");
    // 254 characters is still an (unknown) account, answered as usual.
    let edge = format!("{}@clinic.example", "a".repeat(254 - "@clinic.example".len()));
    problem(login_from(&app, &edge, WRONG, &[]).await, 401, "invalid_credentials").await;
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[sqlx::test(migrations = "../../migrations")]
async fn thirty_failed_logins_with_a_megabyte_email_grow_the_real_api_by_less_than_16_mb(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ai_url = crate::helpers::spawn_ai().await;
    let api = crate::faults::ApiProcess::start_with(
        &crate::faults::database_url(&options),
        ai_url.as_str().trim_end_matches('/'),
        &[("RATE_LIMIT_AUTH_PER_MINUTE", "1000")],
    )
    .await;
    let http = reqwest::Client::new();
    let login = |email: String| {
        let http = http.clone();
        let url = format!("{}/auth/login", api.base);
        async move {
            http.post(url)
                .json(&json!({"email": email, "password": WRONG}))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    // Warm up: one ordinary failed login (argon2's blocks, the pool, the runtime's threads).
    assert_eq!(login("warm@clinic.example".into()).await.status(), 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_kib(api.child.id());
    for i in 0..30 {
        let email = format!("{}{i}@clinic.example", "b".repeat(1_000_000));
        assert_eq!(login(email).await.status(), 422);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = rss_kib(api.child.id());
    let growth_mib = f64::from(u32::try_from(after.saturating_sub(before)).unwrap_or(u32::MAX)) / 1024.0;
    eprintln!("api RSS before {before} KiB, after 30 one-megabyte logins {after} KiB: +{growth_mib:.1} MiB");
    assert!(before > 0 && after > 0, "could not read the api's RSS");
    assert!(growth_mib < 16.0, "the api grew by {growth_mib:.1} MiB");
}

// --- lock-out raced ---------------------------------------------------------------------------

/// Registers an account, signs in once (so this client holds a device cookie), then sends 30 wrong
/// passwords for it at once from another client; returns (email, device cookie, 401s, 429s).
async fn thirty_parallel_wrong_passwords(app: &TestApp) -> (String, String, usize, usize) {
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default().to_owned();
    let signed_in = login_from(app, &email, PASSWORD, &[]).await;
    let device = device_cookie(&signed_in);
    json(signed_in, 200).await;
    let attempts = (0..30).map(|_| login_from(app, &email, WRONG, &[]));
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    eprintln!("30 parallel wrong passwords: {checked} checked (401), {refused} refused (429)");
    (email, device, checked, refused)
}

async fn the_lock_holds_in_parallel_and_the_owners_device_still_signs_in(app: &TestApp) {
    let (email, device, checked, refused) = thirty_parallel_wrong_passwords(app).await;
    assert_eq!(checked + refused, 30);
    assert!(checked <= 5, "{checked} of 30 parallel wrong passwords were checked");
    assert_eq!(failed_login_audits(app).await, i64::try_from(checked).unwrap_or(-1));
    // This network is now held back, even with the right password, with a message saying when...
    let r = login_from(app, &email, PASSWORD, &[]).await;
    let wait = retry_after(&r);
    assert!((1..=900).contains(&wait), "{wait}");
    let body = problem(r, 429, "rate_limited").await;
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("Try again in") && detail.contains("UTC"), "{detail}");
    // ...but the owner's known device is not.
    json(login_from(app, &email, PASSWORD, &[("cookie", device)]).await, 200).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn thirty_parallel_wrong_passwords_meet_the_lock_and_at_most_five_are_checked(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options, ai, |c| c.rate_limits.auth_per_ip.limit = 1000).await;
    the_lock_holds_in_parallel_and_the_owners_device_still_signs_in(&app).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_failed_login_reservation_is_atomic_through_redis_too(_: PgPoolOptions, options: PgConnectOptions) {
    if !crate::ratelimit::redis_available().await {
        eprintln!("SKIPPED: no Redis answers at {}", crate::ratelimit::REDIS_URL);
        return;
    }
    let ai = crate::helpers::spawn_ai().await;
    let prefix = format!("test:{}:", uuid::Uuid::new_v4().simple());
    let app = TestApp::spawn_with(options, ai, |c| {
        c.redis_url = Some(secrecy::SecretString::from(crate::ratelimit::REDIS_URL));
        c.rate_limit_prefix.clone_from(&prefix);
        c.rate_limits.auth_per_ip.limit = 1000;
    })
    .await;
    the_lock_holds_in_parallel_and_the_owners_device_still_signs_in(&app).await;
    assert_eq!(
        app.state.limiter.redis_up(),
        Some(true),
        "the test ran on the in-memory fallback"
    );
}

#[sqlx::test(migrations = "../../migrations")]
async fn past_the_free_failures_strangers_wait_exponentially_and_the_owners_known_device_does_not(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options, ai, |c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap_or_default();
        c.rate_limits.auth_per_ip.limit = 1000;
        c.rate_limits.login_failures_per_account.limit = 3;
    })
    .await;
    let from = |ip: &str| vec![("x-forwarded-for", ip.to_owned())];
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default().to_owned();
    let signed_in = login_from(&app, &email, PASSWORD, &from("203.0.113.10")).await;
    let device = device_cookie(&signed_in);
    json(signed_in, 200).await;

    // Three failures from three addresses are free.
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        problem(
            login_from(&app, &email, WRONG, &from(ip)).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    // Then a stranger anywhere waits 1 s after the last failure, then 2 s, ...
    let r = login_from(&app, &email, WRONG, &from("198.51.100.4")).await;
    assert_eq!(retry_after(&r), 1);
    let body = problem(r, 429, "rate_limited").await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("a device you have signed in from before")),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    problem(
        login_from(&app, &email, WRONG, &from("198.51.100.4")).await,
        401,
        "invalid_credentials",
    )
    .await;
    let r = login_from(&app, &email, WRONG, &from("198.51.100.5")).await;
    assert_eq!(retry_after(&r), 2);
    problem(r, 429, "rate_limited").await;
    // The owner's device signs in at once, from wherever it is now.
    let mut headers = from("192.0.2.77");
    headers.push(("cookie", device));
    json(login_from(&app, &email, PASSWORD, &headers).await, 200).await;
    // A device cookie for another account counts for nothing here.
    let (_, other) = app.register().await;
    let other_email = other["user"]["email"].as_str().unwrap_or_default().to_owned();
    let other_device = device_cookie(&login_from(&app, &other_email, PASSWORD, &from("192.0.2.78")).await);
    let r = login_from(
        &app,
        &email,
        PASSWORD,
        &[("x-forwarded-for", "192.0.2.78".into()), ("cookie", other_device)],
    )
    .await;
    problem(r, 429, "rate_limited").await;
}

// --- forged client address --------------------------------------------------------------------

#[sqlx::test(migrations = "../../migrations")]
async fn a_forged_left_most_forwarded_for_still_meets_the_limit_and_the_audit_records_the_real_client(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options.clone(), ai, |c| {
        c.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").unwrap_or_default();
        c.rate_limits.auth_per_ip.limit = 1000;
    })
    .await;
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default().to_owned();
    // The client writes a fresh address each time; our proxy (the socket peer) appends the real one.
    let mut statuses = Vec::new();
    for i in 0..6 {
        let chain = format!("10.{i}.{i}.{i}, 198.51.100.23");
        statuses.push(
            login_from(&app, &email, WRONG, &[("x-forwarded-for", chain)])
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 401, 401, 429],
        "the forged entry escaped the limit"
    );
    let ips: Vec<String> =
        sqlx::query_scalar("select host(ip) from audit_events where action = 'auth.login_failed' order by id")
            .fetch_all(&app.admin_db)
            .await
            .unwrap_or_default();
    assert_eq!(ips, vec!["198.51.100.23"; 5]);

    // Through a peer that is not a trusted proxy, the header is ignored altogether.
    let ai = crate::helpers::spawn_ai().await;
    let untrusted = TestApp::spawn_with(options, ai, |c| {
        c.trusted_proxies = TrustedProxies::parse("10.0.0.0/8").unwrap_or_default();
    })
    .await;
    let r = login_from(
        &untrusted,
        "nobody@clinic.example",
        WRONG,
        &[("x-forwarded-for", "198.51.100.99".into())],
    )
    .await;
    assert_eq!(r.status(), 401);
    let last: Option<String> = sqlx::query_scalar(
        "select host(ip) from audit_events where action = 'auth.login_failed' order by id desc limit 1",
    )
    .fetch_one(&untrusted.admin_db)
    .await
    .unwrap_or_default();
    assert_eq!(last.as_deref(), Some("127.0.0.1"));
}

// --- CSRF on the cookie -----------------------------------------------------------------------

async fn refresh_with_cookie(app: &TestApp, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app
        .http
        .post(app.url("/auth/refresh"))
        .header("cookie", format!("refresh_token={token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap_or_else(|e| panic!("{e}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_cookie_refresh_or_logout_from_a_foreign_origin_is_403_bad_origin(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let token = session["refreshToken"].as_str().unwrap_or_default().to_owned();

    problem(
        refresh_with_cookie(&app, &token, &[("origin", "https://evil.example")]).await,
        403,
        "bad_origin",
    )
    .await;
    problem(
        refresh_with_cookie(&app, &token, &[("sec-fetch-site", "cross-site")]).await,
        403,
        "bad_origin",
    )
    .await;
    problem(
        refresh_with_cookie(&app, &token, &[("origin", "null")]).await,
        403,
        "bad_origin",
    )
    .await;
    let r = app
        .http
        .post(app.url("/auth/logout"))
        .header("cookie", format!("refresh_token={token}"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 403, "bad_origin").await;

    // The refused requests spent and revoked nothing: the app's own origin refreshes with it.
    let listed = refresh_with_cookie(&app, &token, &[("origin", "http://localhost:5173")]).await;
    let listed = json(listed, 200).await;
    let next = listed["refreshToken"].as_str().unwrap_or_default().to_owned();
    let own = app.base.trim_end_matches("/api/v1").to_owned();
    let own = json(
        refresh_with_cookie(&app, &next, &[("origin", &own), ("sec-fetch-site", "same-origin")]).await,
        200,
    )
    .await;
    // A body token is not a cookie: a foreign Origin does not matter to an API client.
    let body_token = own["refreshToken"].as_str().unwrap_or_default();
    let r = app
        .http
        .post(app.url("/auth/refresh"))
        .header("origin", "https://evil.example")
        .json(&json!({"refreshToken": body_token}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let _: Value = json(r, 200).await;
}

// --- two tabs ---------------------------------------------------------------------------------

async fn refresh_body(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/auth/refresh"))
        .json(&json!({"refreshToken": token}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_parallel_refreshes_with_one_token_both_get_the_same_successor_which_then_works(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let first = session["refreshToken"].as_str().unwrap_or_default().to_owned();
    let (a, b) = tokio::join!(
        refresh_with_cookie(&app, &first, &[]),
        refresh_with_cookie(&app, &first, &[])
    );
    let (a, b) = (json(a, 200).await, json(b, 200).await);
    let successor = a["refreshToken"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        b["refreshToken"], a["refreshToken"],
        "both tabs hold the same new token"
    );
    assert_ne!(successor, first);
    assert!(a["accessToken"].is_string() && b["accessToken"].is_string());
    // The shared successor is live, and the family was not revoked.
    let next = json(refresh_body(&app, &successor).await, 200).await;
    assert!(next["refreshToken"].is_string());
    let revoked: i64 = sqlx::query_scalar("select count(*) from refresh_token_families where revoked_at is not null")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(revoked, 0);
    // The database holds hashes and a sealed value, never a token itself.
    let stored: Vec<Vec<u8>> =
        sqlx::query_scalar("select token_hash from refresh_tokens union all select successor_sealed from refresh_tokens where successor_sealed is not null")
            .fetch_all(&app.admin_db)
            .await
            .unwrap_or_default();
    for token in [&first, &successor] {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .unwrap_or_default();
        assert!(!stored.contains(&raw) && !stored.contains(&token.as_bytes().to_vec()));
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_late_tab_within_the_grace_reaches_the_newest_token_and_after_it_reuse_revokes_the_family(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let first = session["refreshToken"].as_str().unwrap_or_default().to_owned();
    // Tab A rotates twice in quick succession; tab B still holds the first token.
    let second = json(refresh_body(&app, &first).await, 200).await["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let third = json(refresh_body(&app, &second).await, 200).await["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let late = json(refresh_body(&app, &first).await, 200).await;
    assert_eq!(late["refreshToken"], third.as_str());

    // After the grace, the first token is reuse: the whole family goes, the newest token with it.
    sqlx::query("update refresh_tokens set used_at = used_at - interval '1 minute' where used_at is not null")
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(refresh_body(&app, &first).await, 401, "refresh_token_reused").await;
    problem(refresh_body(&app, &third).await, 401, "invalid_refresh_token").await;
}

// --- bounded reads of the ai service ----------------------------------------------------------

/// What the fake ai service does wrong.
#[derive(Clone, Copy)]
enum Upstream {
    /// `/v1/chat`: a 2 MB JSON body (never finished). `/v1/chat/stream`: one `data:` line of up to
    /// 30 MB that never ends.
    Endless,
    /// A reply one character over the limit: unary, and as 1,000-character deltas on the stream.
    TooLong,
    /// `/v1/chat/stream`: 400 deltas of 200 characters as fast as possible, then `done`.
    Fast,
}

/// A fake ai service speaking the real wire format; counts the bytes its streams produced.
async fn fake_ai(kind: Upstream) -> (reqwest::Url, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::response::IntoResponse as _;
    use futures::StreamExt as _;

    let sent = Arc::new(AtomicUsize::new(0));
    let done = json!({"provider": "openai", "model": "fake", "usage": {"inputTokens": 1, "outputTokens": 1},
        "finishReason": "stop", "emergency": {"detected": false, "category": null, "severity": null, "language": "en"}});
    let chat = {
        let done = done.clone();
        move || async move {
            let body = match kind {
                Upstream::Endless | Upstream::Fast => {
                    let head =
                        futures::stream::once(async { Ok::<_, std::convert::Infallible>(r#"{"reply":""#.to_owned()) });
                    let rest = futures::stream::iter(0..128).map(|_| Ok("a".repeat(16 * 1024)));
                    Body::from_stream(head.chain(rest))
                }
                Upstream::TooLong => {
                    let mut reply = done.clone();
                    reply["reply"] = Value::from("a".repeat(100_001));
                    Body::from(reply.to_string())
                }
            };
            ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
        }
    };
    let stream = {
        let sent = sent.clone();
        move || {
            let sent = sent.clone();
            let done = done.clone();
            async move {
                let count = move |s: String| {
                    sent.fetch_add(s.len(), Ordering::Relaxed);
                    Ok::<_, std::convert::Infallible>(s)
                };
                let body = match kind {
                    Upstream::Endless => {
                        let head = futures::stream::iter(["event: delta\ndata: {\"text\":\"".to_owned()]);
                        let line = futures::stream::iter(0..1920).map(|_| "a".repeat(16 * 1024));
                        Body::from_stream(head.chain(line).map(count))
                    }
                    Upstream::TooLong | Upstream::Fast => {
                        let (n, size) = if matches!(kind, Upstream::TooLong) {
                            (101, 1000)
                        } else {
                            (400, 200)
                        };
                        let delta = format!("event: delta\ndata: {}\n\n", json!({"text": "a".repeat(size)}));
                        let deltas = futures::stream::iter(0..n).map(move |_| delta.clone());
                        let end = futures::stream::iter([format!("event: done\ndata: {done}\n\n")]);
                        Body::from_stream(deltas.chain(end).map(count))
                    }
                };
                ([(axum::http::header::CONTENT_TYPE, "text/event-stream")], body).into_response()
            }
        }
    };
    let app = axum::Router::new()
        .route(
            "/health",
            axum::routing::get(|| async { axum::Json(json!({"status": "ok", "provider": "openai"})) }),
        )
        .route("/v1/chat", axum::routing::post(chat))
        .route("/v1/chat/stream", axum::routing::post(stream));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (
        reqwest::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}")),
        sent,
    )
}

async fn app_with_ai(
    options: PgConnectOptions,
    kind: Upstream,
) -> (TestApp, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let (url, sent) = fake_ai(kind).await;
    (TestApp::spawn_with(options, url, |_| {}).await, sent)
}

async fn messages_saved(app: &TestApp, role: &str) -> i64 {
    sqlx::query_scalar("select count(*) from chat_messages where role = $1")
        .bind(role)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1)
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_endless_line_from_the_ai_service_ends_in_a_clean_502_and_error_event(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let (app, sent) = app_with_ai(options, Upstream::Endless).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, json!({"name": "Bounded Reads"})).await;
    let id = patient["id"].as_str().unwrap_or_default();

    let r = app
        .post(&token, &format!("/patients/{id}/messages"), json!({"content": "hello"}))
        .await;
    problem(r, 502, "ai_bad_gateway").await;

    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "hello again"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = tokio::time::timeout(Duration::from_secs(20), crate::helpers::sse_events(r))
        .await
        .unwrap_or_else(|_| panic!("the stream did not end"));
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, ["user", "error"], "{events:?}");
    assert_eq!(events[1].1["code"], "ai_bad_gateway");
    // The api stopped reading early and dropped the connection: the fake did not get to send it all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "the endless line: the fake ai service produced {} KiB before the api hung up",
        sent / 1024
    );
    assert!(sent < 16 * 1024 * 1024, "{sent} bytes were read");
    // Both user messages are kept, for a later retry; no reply was saved.
    assert_eq!(messages_saved(&app, "user").await, 2);
    assert_eq!(messages_saved(&app, "assistant").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_reply_over_the_length_limit_is_a_502_unary_and_an_error_event_streamed(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let (app, _) = app_with_ai(options, Upstream::TooLong).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, json!({"name": "Long Reply"})).await;
    let id = patient["id"].as_str().unwrap_or_default();
    let r = app
        .post(&token, &format!("/patients/{id}/messages"), json!({"content": "hello"}))
        .await;
    problem(r, 502, "ai_bad_gateway").await;
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "hello"}),
        )
        .await;
    let events = crate::helpers::sse_events(r).await;
    assert_eq!(
        events.last().map(|(e, _)| e.as_str()),
        Some("error"),
        "{:?}",
        events.len()
    );
    assert_eq!(
        events.last().map(|(_, d)| d["code"].clone()),
        Some(json!("ai_bad_gateway"))
    );
    assert_eq!(messages_saved(&app, "assistant").await, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_client_that_stops_reading_does_not_hold_the_reply_which_is_saved(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let (app, _) = app_with_ai(options, Upstream::Fast).await;
    let (token, session) = app.register().await;
    let owner: uuid::Uuid = session["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let patient = app.create_patient(&token, json!({"name": "Slow Reader"})).await;
    let patient_id: uuid::Uuid = patient["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
    let content = api::chat::types::MessageContent::parse("tell me a long story").unwrap_or_else(|e| panic!("{e}"));
    // The relay's receiving end is held and never read, as a client whose socket is full.
    let clinic_id = session["clinic"]["id"].as_str().and_then(|s| s.parse().ok());
    let caller = api::auth::AuthUser {
        id: owner,
        role: shared::api::Role::User,
        clinic_id,
        session: None,
    };
    let (_, events) = api::chat::service::stream(&app.state, caller, patient_id, &content)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while messages_saved(&app, "assistant").await == 0 {
        assert!(std::time::Instant::now() < deadline, "the reply was never saved");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(events);
}

// --- no PHI in logs from database errors ------------------------------------------------------

/// A log sink shared with the test.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned()
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_constraint_violation_is_logged_by_name_and_sqlstate_never_with_the_failing_row(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    use axum::response::IntoResponse as _;

    let app = TestApp::spawn(options).await;
    // PostgreSQL leaves the row out of its message for tables under row-level security; `users`
    // is not one, so its `Failing row contains (...)` detail quotes the email and the name.
    let email = api::domain::email::Email::parse("zyxwvut.secret@clinic.example").unwrap_or_else(|e| panic!("{e:?}"));
    let too_long_name = "Zyxwvut Secretname ".repeat(12);

    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // A write over the name check, by the query `api create-admin` uses (its caller validates first).
    let err = api::admin::queries::upsert_admin(&app.state.db, &email, "not-a-hash", &too_long_name)
        .await
        .err()
        .unwrap_or_else(|| panic!("the oversize name was accepted"));
    // sqlx's own rendering carries the row: that is what must never be logged.
    assert!(format!("{err:?}").contains("zyxwvut.secret"), "{err:?}");
    let response = api::http::error::ApiError::from(err).into_response();
    drop(guard);

    assert_eq!(response.status(), 500);
    let logs = logs.text();
    assert!(
        logs.contains("23514") && logs.contains("users_full_name_check") && logs.contains("table users"),
        "{logs}"
    );
    assert!(
        !logs.to_lowercase().contains("zyxwvut") && !logs.contains("Failing row"),
        "{logs}"
    );
}

// --- create-admin ends the account's sessions -------------------------------------------------

#[sqlx::test(migrations = "../../migrations")]
async fn create_admin_on_an_existing_account_revokes_its_sessions(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default().to_owned();
    let refresh = session["refreshToken"].as_str().unwrap_or_default().to_owned();
    let new_password = "violet kettle parade harbour sixty";
    let id = api::admin::create_admin(&app.state.db, &email, "Dr Test", new_password.to_owned())
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(session["user"]["id"], id.to_string());
    problem(refresh_body(&app, &refresh).await, 401, "invalid_refresh_token").await;
    let signed_in = json(login_from(&app, &email, new_password, &[]).await, 200).await;
    assert_eq!(signed_in["user"]["role"], "admin");
}
