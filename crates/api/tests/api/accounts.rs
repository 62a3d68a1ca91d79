//! Accounts v2 (issue 17): two-factor sign-in, sessions, password change and the messages of a refused sign-in,
//! over real sockets.

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use totp_rs::{Builder, Secret};

use crate::helpers::{PASSWORD, TestApp, json, problem};

const NEW_PASSWORD: &str = "orbit lantern quietly mosaic thirty";

async fn post_anon(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    post_anon(app, "/auth/login", json!({"email": email, "password": password})).await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    post_anon(app, "/auth/refresh", json!({"refreshToken": token})).await
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// The code an authenticator app shows for `secret` (base32, as the set-up answered it) at `at`.
fn code_at(secret: &str, at: u64) -> String {
    let bytes = Secret::try_from_base32(secret)
        .unwrap_or_else(|e| panic!("secret: {e:?}"))
        .as_ref()
        .to_vec();
    let totp = Builder::new()
        .with_secret(bytes)
        .build()
        .unwrap_or_else(|e| panic!("totp: {e:?}"));
    totp.generate(at).to_string()
}

/// A registered account with MFA on: (email, access token, secret, recovery codes).
async fn account_with_mfa(app: &TestApp) -> (String, String, String, Vec<String>) {
    let (token, session) = app.register().await;
    let email = s(&session["user"]["email"]);
    let setup = json(
        app.post(&token, "/auth/mfa/setup", json!({"password": PASSWORD})).await,
        200,
    )
    .await;
    let secret = s(&setup["secret"]);
    let enabled = json(
        app.post(&token, "/auth/mfa/enable", json!({"code": code_at(&secret, now())}))
            .await,
        200,
    )
    .await;
    let codes: Vec<String> = enabled["recoveryCodes"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    (email, token, secret, codes)
}

/// Signs in with the password; the answer must be the MFA challenge. Returns its token.
async fn challenge(app: &TestApp, email: &str) -> String {
    let body = json(login(app, email, PASSWORD).await, 200).await;
    assert_eq!(body["mfaRequired"], true, "{body}");
    assert_eq!(body["expiresIn"], 300);
    assert!(
        body.get("accessToken").is_none() && body.get("refreshToken").is_none(),
        "{body}"
    );
    s(&body["mfaToken"])
}

async fn login_mfa(app: &TestApp, mfa_token: &str, code: &str) -> reqwest::Response {
    post_anon(app, "/auth/login/mfa", json!({"mfaToken": mfa_token, "code": code})).await
}

#[sqlx::test(migrations = "../../migrations")]
async fn setup_answers_a_secret_an_otpauth_uri_and_an_svg_qr_and_stores_the_secret_sealed(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (token, session) = app.register().await;
    problem(
        app.post(&token, "/auth/mfa/setup", json!({"password": "not my password at all"}))
            .await,
        401,
        "invalid_credentials",
    )
    .await;
    let r = app.post(&token, "/auth/mfa/setup", json!({"password": PASSWORD})).await;
    assert_eq!(r.headers()["cache-control"], "no-store");
    let setup = json(r, 200).await;
    let secret = s(&setup["secret"]);
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    let uri = s(&setup["otpauthUri"]);
    assert!(uri.starts_with("otpauth://totp/Dental%20Assistant:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(s(&setup["qrSvg"]).starts_with("<?xml") && s(&setup["qrSvg"]).contains("<svg"));

    // Not active until confirmed: the password alone still signs in.
    let email = s(&session["user"]["email"]);
    assert!(json(login(&app, &email, PASSWORD).await, 200).await["accessToken"].is_string());

    // Stored sealed: the raw secret is nowhere in the row.
    let sealed: Vec<u8> = sqlx::query_scalar("select secret_sealed from user_mfa")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    let raw = Secret::try_from_base32(&secret)
        .map(|s| s.as_ref().to_vec())
        .unwrap_or_default();
    assert_eq!(raw.len(), 20);
    assert!(!sealed.windows(raw.len()).any(|w| w == raw.as_slice()));
    assert!(!String::from_utf8_lossy(&sealed).contains(&secret));

    // A wrong first code does not enable it.
    let wrong = if code_at(&secret, now()) == "000000" {
        "111111"
    } else {
        "000000"
    };
    problem(
        app.post(&token, "/auth/mfa/enable", json!({"code": wrong})).await,
        401,
        "invalid_code",
    )
    .await;
    let enabled: Option<bool> = sqlx::query_scalar("select enabled_at is not null from user_mfa")
        .fetch_one(&app.admin_db)
        .await
        .ok();
    assert_eq!(enabled, Some(false));
}

#[sqlx::test(migrations = "../../migrations")]
async fn two_step_sign_in_accepts_a_code_once_and_each_recovery_code_once_then_disable(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (email, token, secret, codes) = account_with_mfa(&app).await;
    assert_eq!(codes.len(), 10);
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select code_hash from mfa_recovery_codes")
        .fetch_all(&app.admin_db)
        .await
        .unwrap_or_default();
    assert_eq!(stored.len(), 10);
    assert!(
        stored
            .iter()
            .all(|h| !codes.iter().any(|c| h.as_slice() == c.as_bytes()))
    );
    // Setting up again while on is a conflict.
    problem(
        app.post(&token, "/auth/mfa/setup", json!({"password": PASSWORD})).await,
        409,
        "mfa_already_enabled",
    )
    .await;

    // The code that enabled it (this time step) is spent: the next step's code signs in (one step of skew).
    let next = code_at(&secret, now() + 30);
    let mfa_token = challenge(&app, &email).await;
    let session = json(login_mfa(&app, &mfa_token, &next).await, 200).await;
    assert!(session["accessToken"].is_string() && session["refreshToken"].is_string());
    assert_eq!(session["user"]["email"], email.as_str());
    // The challenge is single use.
    problem(login_mfa(&app, &mfa_token, &next).await, 401, "mfa_token_expired").await;
    // The same code with a new challenge is a replay: refused.
    let again = challenge(&app, &email).await;
    problem(login_mfa(&app, &again, &next).await, 401, "invalid_code").await;
    // A code from an hour ago never works.
    problem(
        login_mfa(&app, &again, &code_at(&secret, now() - 3600)).await,
        401,
        "invalid_code",
    )
    .await;

    // A recovery code works once, typed in any case and spacing.
    let typed = format!(" {} ", codes[0].to_uppercase());
    json(login_mfa(&app, &again, &typed).await, 200).await;
    let third = challenge(&app, &email).await;
    problem(login_mfa(&app, &third, &codes[0]).await, 401, "invalid_code").await;
    let used: i64 = sqlx::query_scalar("select count(*) from mfa_recovery_codes where used_at is not null")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or_default();
    assert_eq!(used, 1);

    // Disable: password and a code, both checked.
    problem(
        app.post(
            &token,
            "/auth/mfa/disable",
            json!({"password": "wrong wrong wrong", "code": codes[1]}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        app.post(
            &token,
            "/auth/mfa/disable",
            json!({"password": PASSWORD, "code": codes[0]}),
        )
        .await,
        401,
        "invalid_code",
    )
    .await;
    let r = app
        .post(
            &token,
            "/auth/mfa/disable",
            json!({"password": PASSWORD, "code": codes[1]}),
        )
        .await;
    assert_eq!(r.status(), 204);
    let left: i64 =
        sqlx::query_scalar("select (select count(*) from user_mfa) + (select count(*) from mfa_recovery_codes)")
            .fetch_one(&app.admin_db)
            .await
            .unwrap_or(-1);
    assert_eq!(left, 0);
    // The password alone signs in again.
    assert!(json(login(&app, &email, PASSWORD).await, 200).await["accessToken"].is_string());
    let actions: Vec<String> =
        sqlx::query_scalar("select action from audit_events where action like 'auth.mfa%' order by occurred_at, id")
            .fetch_all(&app.admin_db)
            .await
            .unwrap_or_default();
    for expected in [
        "auth.mfa_enabled",
        "auth.mfa_failed",
        "auth.mfa_recovery_used",
        "auth.mfa_disabled",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{actions:?}");
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn wrong_codes_count_against_the_sign_in_limits_and_say_how_many_remain(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (email, _, secret, _) = account_with_mfa(&app).await;
    let mfa_token = challenge(&app, &email).await;
    let wrong = if code_at(&secret, now() + 30) == "999999" {
        "999998"
    } else {
        "999999"
    };
    // The per-client limit is 5 failures: the first says nothing, then 3, 2, 1 and 0 remain.
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let body = problem(login_mfa(&app, &mfa_token, wrong).await, 401, "invalid_code").await;
        remaining.push(body["remainingAttempts"].as_u64());
    }
    assert_eq!(remaining, [None, Some(3), Some(2), Some(1), Some(0)]);
    // Now even the right code (and the password step) waits.
    let r = login_mfa(&app, &mfa_token, &code_at(&secret, now() + 30)).await;
    assert!(r.headers().contains_key("retry-after"));
    let locked = problem(r, 429, "rate_limited").await;
    assert!(s(&locked["detail"]).contains("owner can help"), "{locked}");
    problem(login(&app, &email, PASSWORD).await, 429, "rate_limited").await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_wrong_password_says_how_many_attempts_remain_and_a_deactivated_account_is_told_so(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, session) = app.register().await;
    let email = s(&session["user"]["email"]);
    let first = problem(
        login(&app, &email, "not the password, no").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert!(first.get("remainingAttempts").is_none(), "{first}");
    // A success in between gives back its own attempt only: the failure stays counted.
    json(login(&app, &email, PASSWORD).await, 200).await;
    for expected in [Some(3), Some(2), Some(1), Some(0)] {
        let body = problem(
            login(&app, &email, "not the password, no").await,
            401,
            "invalid_credentials",
        )
        .await;
        assert_eq!(body["remainingAttempts"].as_u64(), expected, "{body}");
    }

    let (_, other) = app.register().await;
    let other_email = s(&other["user"]["email"]);
    sqlx::query("update users set is_active = false where email = $1")
        .bind(&other_email)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let inactive = problem(login(&app, &other_email, PASSWORD).await, 403, "account_inactive").await;
    assert!(s(&inactive["detail"]).contains("owner"), "{inactive}");
    // A wrong password for that account is still only "wrong".
    problem(
        login(&app, &other_email, "not the password, no").await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn sessions_are_listed_with_the_current_marked_and_a_revoked_one_cannot_refresh(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (_, registered) = app.register().await;
    let email = s(&registered["user"]["email"]);
    let laptop = app
        .http
        .post(app.url("/auth/login"))
        .header("user-agent", "Laptop Browser/1.0")
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let laptop = json(laptop, 200).await;
    let phone = json(login(&app, &email, PASSWORD).await, 200).await;
    let token = s(&laptop["accessToken"]);

    let list = json(app.get(&token, "/auth/sessions").await, 200).await;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 3, "{list}");
    let current: Vec<&Value> = items.iter().filter(|i| i["current"] == true).collect();
    assert_eq!(current.len(), 1, "{list}");
    assert_eq!(current[0]["userAgent"], "Laptop Browser/1.0");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    assert!(current[0]["createdAt"].is_string() && current[0]["lastUsedAt"].is_string());

    // Someone else cannot end it.
    let (stranger, _) = app.register().await;
    let phone_id = items
        .iter()
        .find(|i| i["current"] == false && i["userAgent"] != "Laptop Browser/1.0" && i["id"] != Value::Null)
        .map(|i| s(&i["id"]))
        .unwrap_or_default();
    problem(
        app.delete(&stranger, &format!("/auth/sessions/{phone_id}")).await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.delete(&token, &format!("/auth/sessions/{}", uuid::Uuid::new_v4()))
            .await,
        404,
        "not_found",
    )
    .await;

    // Revoke each non-current session by id: both refresh tokens then fail.
    for item in items.iter().filter(|i| i["current"] == false) {
        let r = app.delete(&token, &format!("/auth/sessions/{}", s(&item["id"]))).await;
        assert_eq!(r.status(), 204);
    }
    problem(
        refresh(&app, &s(&phone["refreshToken"])).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    problem(
        refresh(&app, &s(&registered["refreshToken"])).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    let list = json(app.get(&token, "/auth/sessions").await, 200).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "{list}");

    // The current one still refreshes; the new access token still marks it current.
    let refreshed = json(refresh(&app, &s(&laptop["refreshToken"])).await, 200).await;
    let list = json(app.get(&s(&refreshed["accessToken"]), "/auth/sessions").await, 200).await;
    assert_eq!(list["items"][0]["current"], true, "{list}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_password_change_needs_the_current_one_applies_the_rules_and_ends_the_other_sessions(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (token, registered) = app.register().await;
    let email = s(&registered["user"]["email"]);
    let other = json(login(&app, &email, PASSWORD).await, 200).await;

    problem(
        app.post(
            &token,
            "/auth/password",
            json!({"currentPassword": "nope nope nope", "newPassword": NEW_PASSWORD}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let weak = problem(
        app.post(
            &token,
            "/auth/password",
            json!({"currentPassword": PASSWORD, "newPassword": "password1"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(weak["errors"][0]["field"], "newPassword", "{weak}");
    // Nothing changed so far: the other session still refreshes (and rotates).
    let other = json(refresh(&app, &s(&other["refreshToken"])).await, 200).await;

    let r = app
        .post(
            &token,
            "/auth/password",
            json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 204);
    problem(
        refresh(&app, &s(&other["refreshToken"])).await,
        401,
        "invalid_refresh_token",
    )
    .await;
    json(refresh(&app, &s(&registered["refreshToken"])).await, 200).await;
    problem(login(&app, &email, PASSWORD).await, 401, "invalid_credentials").await;
    json(login(&app, &email, NEW_PASSWORD).await, 200).await;
}

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

#[sqlx::test(migrations = "../../migrations")]
async fn no_secret_code_recovery_code_or_mfa_token_reaches_a_log_line(_: PgPoolOptions, options: PgConnectOptions) {
    let logs = Captured::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have met these log call sites first, with no subscriber of its own, and cached
    // "never" for them: recompute with this one in place, so the capture sees the whole flow.
    tracing::callsite::rebuild_interest_cache();

    let app = TestApp::spawn(options).await;
    let (email, token, secret, codes) = account_with_mfa(&app).await;
    let next = code_at(&secret, now() + 30);
    let mfa_token = challenge(&app, &email).await;
    json(login_mfa(&app, &mfa_token, &next).await, 200).await;
    let again = challenge(&app, &email).await;
    problem(login_mfa(&app, &again, &next).await, 401, "invalid_code").await;
    json(login_mfa(&app, &again, &codes[2]).await, 200).await;
    let r = app
        .post(
            &token,
            "/auth/mfa/disable",
            json!({"password": PASSWORD, "code": codes[3]}),
        )
        .await;
    assert_eq!(r.status(), 204);
    drop(guard);

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned();
    assert!(
        // Call sites other tests hit at the same moment (`login succeeded`) may be missed: tracing caches a call
        // site's interest process-wide, racily across threads. These two only MFA flows reach.
        text.contains("mfa enabled") && text.contains("mfa disabled"),
        "the capture missed the requests ({} bytes): {}",
        text.len(),
        text.chars().take(800).collect::<String>()
    );
    let lower = text.to_lowercase();
    assert!(!text.contains(&secret), "the secret was logged");
    assert!(!text.contains(&next), "a TOTP code was logged");
    assert!(
        !text.contains(&mfa_token) && !text.contains(&again),
        "an mfaToken was logged"
    );
    for code in &codes {
        assert!(
            !lower.contains(code) && !lower.contains(&code.replace('-', "")),
            "a recovery code was logged"
        );
    }
    assert!(!text.contains(PASSWORD), "the password was logged");
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_clinic_that_requires_mfa_gets_members_without_it_nothing_but_the_setup(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (token, session) = app.register().await;
    let clinic_id: uuid::Uuid = session["clinic"]["id"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no active clinic: {session}"));
    app.create_patient(&token, json!({"name": "Before The Policy"})).await;
    sqlx::query("update clinics set require_mfa = true where id = $1")
        .bind(clinic_id)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // Tenant routes are refused with the code the web app sends to the set-up...
    let refused = problem(app.get(&token, "/patients").await, 403, "mfa_setup_required").await;
    assert!(s(&refused["detail"]).contains("two-step"), "{refused}");
    problem(
        app.post(&token, "/patients", json!({"name": "During The Policy"}))
            .await,
        403,
        "mfa_setup_required",
    )
    .await;
    // ...and nothing was written or audited for them.
    let patients: i64 = sqlx::query_scalar("select count(*) from patients")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(patients, 1);
    // The account, session and MFA routes still work.
    json(app.get(&token, "/auth/me").await, 200).await;
    json(app.get(&token, "/auth/sessions").await, 200).await;
    let setup = json(
        app.post(&token, "/auth/mfa/setup", json!({"password": PASSWORD})).await,
        200,
    )
    .await;
    let secret = s(&setup["secret"]);
    let enabled = app
        .post(&token, "/auth/mfa/enable", json!({"code": code_at(&secret, now())}))
        .await;
    let codes = json(enabled, 200).await;

    // Set up: the same access token now reaches the clinic's patients.
    let list = json(app.get(&token, "/patients").await, 200).await;
    assert_eq!(list["total"], 1, "{list}");
    // While the clinic requires it, it cannot be turned off.
    problem(
        app.post(
            &token,
            "/auth/mfa/disable",
            json!({"password": PASSWORD, "code": s(&codes["recoveryCodes"][0])}),
        )
        .await,
        403,
        "mfa_required_by_policy",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_member_list_shows_who_has_two_step_sign_in(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let mfa_of_the_only_member = |list: &Value| list["items"][0]["mfaEnabled"].clone();

    let before = json(app.get(&token, "/clinic/members").await, 200).await;
    assert_eq!(mfa_of_the_only_member(&before), false, "{before}");

    // Set up but not yet confirmed with a code: still off.
    let setup = json(
        app.post(&token, "/auth/mfa/setup", json!({"password": PASSWORD})).await,
        200,
    )
    .await;
    let pending = json(app.get(&token, "/clinic/members").await, 200).await;
    assert_eq!(mfa_of_the_only_member(&pending), false, "{pending}");

    let secret = s(&setup["secret"]);
    json(
        app.post(&token, "/auth/mfa/enable", json!({"code": code_at(&secret, now())}))
            .await,
        200,
    )
    .await;
    let after = json(app.get(&token, "/clinic/members").await, 200).await;
    assert_eq!(mfa_of_the_only_member(&after), true, "{after}");
}
