use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{PASSWORD, TestApp, json, problem};

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.http
        .post(app.url("/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .post(app.url("/auth/refresh"))
        .json(&json!({"refreshToken": token}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[sqlx::test(migrations = "../../migrations")]
async fn register_returns_a_session_with_a_refresh_cookie(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"email": "  Jane.Doe@Clinic.Example ", "password": PASSWORD, "fullName": " Jane Doe "}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap_or_default().to_owned();
    assert!(cookie.starts_with("refresh_token="));
    for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    let body = json(r, 201).await;
    assert_eq!(body["tokenType"], "Bearer");
    assert_eq!(body["expiresIn"], 900);
    assert_eq!(body["user"]["email"], "jane.doe@clinic.example");
    assert_eq!(body["user"]["fullName"], "Jane Doe");
    assert_eq!(body["user"]["role"], "user");
    assert_eq!(body["user"]["isActive"], true);
    let token = body["accessToken"].as_str().unwrap_or_default();
    let me = json(app.get(token, "/auth/me").await, 200).await;
    assert_eq!(me["id"], body["user"]["id"]);

    // Stored only as an argon2id hash.
    let hash: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    assert!(hash.starts_with("$argon2id$"));
}

#[sqlx::test(migrations = "../../migrations")]
async fn weak_passwords_and_bad_fields_are_422_naming_each_field(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"email": "a@clinic.example", "password": "Password1234!", "fullName": "A"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = problem(r, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    assert_eq!(body["errors"][0]["code"], "too_weak");
    let r = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"email": "nope", "password": "short", "fullName": ""}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = problem(r, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "fullName", "password"]);
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_duplicate_email_in_any_case_is_409(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default().to_uppercase();
    let r = app
        .http
        .post(app.url("/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "fullName": "X"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 409, "email_taken").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn login_with_wrong_password_returns_401_and_same_body_as_unknown_email(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default();

    let t = Instant::now();
    let wrong = problem(
        login(&app, email, "wrong horse battery staple").await,
        401,
        "invalid_credentials",
    )
    .await;
    let wrong_time = t.elapsed();
    let t = Instant::now();
    let unknown = problem(
        login(&app, "nobody@clinic.example", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let unknown_time = t.elapsed();
    let strip = |mut v: Value| {
        v["requestId"] = Value::Null;
        v
    };
    assert_eq!(strip(wrong), strip(unknown));
    // Both paths run one argon2 verification; neither is an order of magnitude faster.
    assert!(
        unknown_time * 5 > wrong_time && wrong_time * 5 > unknown_time,
        "{wrong_time:?} vs {unknown_time:?}"
    );

    let ok = json(login(&app, email, PASSWORD).await, 200).await;
    assert!(ok["accessToken"].is_string());
}

#[sqlx::test(migrations = "../../migrations")]
async fn forged_expired_and_garbage_tokens_are_401(_: PgPoolOptions, options: PgConnectOptions) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = TestApp::spawn(options).await;
    let (token, session) = app.register().await;
    let user_id: uuid::Uuid = session["user"]["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_default();
    let parts: Vec<&str> = token.split('.').collect();

    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let other_key = api::auth::jwt::JwtKeys::new(b"some-other-key-some-other-key-123")
        .issue(user_id, shared::api::Role::User, None, chrono::Utc::now().timestamp())
        .unwrap_or_default();
    let expired = app
        .state
        .jwt
        .issue(
            user_id,
            shared::api::Role::User,
            None,
            chrono::Utc::now().timestamp() - 3600,
        )
        .unwrap_or_default();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default()).unwrap_or_default();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.replace("\"user\"", "\"admin\"")),
        parts[2]
    );
    for (what, bad) in [
        ("alg none", none),
        ("wrong key", other_key),
        ("expired", expired),
        ("tampered", tampered),
        ("garbage", "garbage".to_owned()),
    ] {
        let r = app.get(&bad, "/auth/me").await;
        assert_eq!(r.status(), 401, "{what}");
        problem(r, 401, "invalid_token").await;
    }
    let r = app
        .http
        .get(app.url("/auth/me"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(r, 401, "invalid_token").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn refresh_rotates_and_reuse_revokes_the_whole_family(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let first = session["refreshToken"].as_str().unwrap_or_default().to_owned();

    let second = json(refresh(&app, &first).await, 200).await;
    let second_token = second["refreshToken"].as_str().unwrap_or_default().to_owned();
    assert_ne!(first, second_token);
    let third = json(refresh(&app, &second_token).await, 200).await;
    let third_token = third["refreshToken"].as_str().unwrap_or_default().to_owned();

    // The first token is replayed (stolen) after the two-tab grace: 401, and the family, including
    // the newest token, is dead.
    sqlx::query("update refresh_tokens set used_at = used_at - interval '1 minute' where used_at is not null")
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(refresh(&app, &first).await, 401, "refresh_token_reused").await;
    problem(refresh(&app, &third_token).await, 401, "invalid_refresh_token").await;

    // Only hashes are stored.
    let stored: i64 =
        sqlx::query_scalar("select count(*) from refresh_tokens where token_hash = convert_to($1, 'UTF8')")
            .bind(&first)
            .fetch_one(&app.admin_db)
            .await
            .unwrap_or(-1);
    assert_eq!(stored, 0);
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_refresh_cookie_works_for_the_browser_and_logout_clears_it(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let token = session["refreshToken"].as_str().unwrap_or_default();
    let r = app
        .http
        .post(app.url("/auth/refresh"))
        .header("cookie", format!("refresh_token={token}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let rotated = json(r, 200).await;
    let new_token = rotated["refreshToken"].as_str().unwrap_or_default();

    let r = app
        .http
        .post(app.url("/auth/logout"))
        .header("cookie", format!("refresh_token={new_token}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 204);
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap_or_default()
            .contains("Max-Age=0")
    );
    problem(refresh(&app, new_token).await, 401, "invalid_refresh_token").await;
    problem(refresh(&app, "").await, 401, "invalid_refresh_token").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn repeated_failed_logins_lock_the_account_for_that_ip_even_with_the_right_password(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default();
    for _ in 0..5 {
        problem(
            login(&app, email, "wrong horse battery staple").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let r = login(&app, email, PASSWORD).await;
    assert!(r.headers().contains_key("retry-after"));
    problem(r, 429, "rate_limited").await;
    // Another account from the same IP is unaffected.
    let (_, other) = app.register().await;
    let other_email = other["user"]["email"].as_str().unwrap_or_default();
    json(login(&app, other_email, PASSWORD).await, 200).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_per_ip_auth_limit_answers_429_with_retry_after(_: PgPoolOptions, options: PgConnectOptions) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options, ai, |c| c.rate_limits.auth_per_ip.limit = 3).await;
    for _ in 0..3 {
        let r = login(&app, "x@clinic.example", "whatever whatever").await;
        assert_eq!(r.status(), 401);
    }
    let r = login(&app, "x@clinic.example", "whatever whatever").await;
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!((1..=60).contains(&retry));
    problem(r, 429, "rate_limited").await;
}

async fn make_admin(app: &TestApp) -> String {
    let (_, session) = app.register().await;
    sqlx::query("update users set role = 'admin' where id = $1::uuid")
        .bind(session["user"]["id"].as_str().unwrap_or_default())
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    session["accessToken"].as_str().unwrap_or_default().to_owned()
}

#[sqlx::test(migrations = "../../migrations")]
async fn admins_list_and_deactivate_users_and_users_get_403(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let admin = make_admin(&app).await;
    let (user_token, user) = app.register().await;
    let user_id = user["user"]["id"].as_str().unwrap_or_default();

    problem(app.get(&user_token, "/admin/users").await, 403, "forbidden").await;
    let page = json(app.get(&admin, "/admin/users?page=1&limit=1").await, 200).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    problem(app.get(&admin, "/admin/users?limit=0").await, 422, "validation_failed").await;

    let updated = json(
        app.patch(&admin, &format!("/admin/users/{user_id}"), json!({"isActive": false}))
            .await,
        200,
    )
    .await;
    assert_eq!(updated["isActive"], false);
    // Takes effect on the very next request, and refresh and login are refused.
    problem(app.get(&user_token, "/auth/me").await, 401, "invalid_token").await;
    problem(app.get(&user_token, "/patients").await, 401, "invalid_token").await;
    problem(
        refresh(&app, user["refreshToken"].as_str().unwrap_or_default()).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let email = user["user"]["email"].as_str().unwrap_or_default();
    // The right password for a deactivated account is told so (issue 17), not "wrong password".
    problem(login(&app, email, PASSWORD).await, 403, "account_inactive").await;

    let promoted = json(
        app.patch(
            &admin,
            &format!("/admin/users/{user_id}"),
            json!({"role": "admin", "isActive": true}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(promoted["role"], "admin");
    problem(
        app.patch(
            &admin,
            &format!("/admin/users/{}", uuid::Uuid::new_v4()),
            json!({"isActive": true}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.patch(&admin, "/admin/users/not-a-uuid", json!({})).await,
        400,
        "invalid_path",
    )
    .await;
    problem(
        app.patch(&admin, &format!("/admin/users/{user_id}"), json!({"role": "root"}))
            .await,
        400,
        "invalid_body",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn create_admin_promotes_from_the_command_line(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let id = api::admin::create_admin(&app.state.db, "boss@clinic.example", "The Boss", PASSWORD.to_owned())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let role: String = sqlx::query_scalar("select role from users where id = $1")
        .bind(id)
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    assert_eq!(role, "admin");
    assert!(
        api::admin::create_admin(&app.state.db, "x@clinic.example", "X", "Password1234!".into())
            .await
            .is_err()
    );
    let _ = Duration::ZERO;
}
