//! The admin audit listing and the auth events written to the trail.

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{PASSWORD, TestApp, json, problem};

async fn make_admin(app: &TestApp) -> (String, String) {
    let (_, session) = app.register().await;
    let id = session["user"]["id"].as_str().unwrap_or_default().to_owned();
    sqlx::query("update users set role = 'admin' where id = $1::uuid")
        .bind(&id)
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (session["accessToken"].as_str().unwrap_or_default().to_owned(), id)
}

async fn post_json(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[sqlx::test(migrations = "../../migrations")]
async fn auth_and_account_events_are_audited_and_admins_can_filter_them(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (admin, admin_id) = make_admin(&app).await;
    let (user_token, session) = app.register().await;
    let user_id = session["user"]["id"].as_str().unwrap_or_default().to_owned();
    let email = session["user"]["email"].as_str().unwrap_or_default().to_owned();

    // Sign-in, a wrong password, an unknown email.
    json(
        post_json(&app, "/auth/login", json!({"email": email, "password": PASSWORD})).await,
        200,
    )
    .await;
    problem(
        post_json(
            &app,
            "/auth/login",
            json!({"email": email, "password": "wrong password entirely"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    problem(
        post_json(
            &app,
            "/auth/login",
            json!({"email": "nobody@clinic.example", "password": PASSWORD}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    // Refresh-token reuse.
    let refresh = session["refreshToken"].as_str().unwrap_or_default().to_owned();
    json(
        post_json(&app, "/auth/refresh", json!({"refreshToken": refresh})).await,
        200,
    )
    .await;
    // Past the two-tab grace.
    sqlx::query("update refresh_tokens set used_at = used_at - interval '1 minute' where used_at is not null")
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    problem(
        post_json(&app, "/auth/refresh", json!({"refreshToken": refresh})).await,
        401,
        "refresh_token_reused",
    )
    .await;
    // Patient data access.
    let patient = app.create_patient(&user_token, json!({"name": "Ana Audit"})).await;
    let patient_id = patient["id"].as_str().unwrap_or_default().to_owned();
    json(app.get(&user_token, &format!("/patients/{patient_id}")).await, 200).await;
    // Role change and deactivation by the admin.
    json(
        app.patch(&admin, &format!("/admin/users/{user_id}"), json!({"role": "admin"}))
            .await,
        200,
    )
    .await;
    json(
        app.patch(
            &admin,
            &format!("/admin/users/{user_id}"),
            json!({"role": "user", "isActive": false}),
        )
        .await,
        200,
    )
    .await;

    // Everything about the user, newest first.
    let page = json(
        app.get(&admin, &format!("/admin/audit-events?userId={user_id}&limit=100"))
            .await,
        200,
    )
    .await;
    let got = actions(&page);
    for expected in [
        "auth.login",
        "auth.login_failed",
        "auth.refresh_reused",
        "patient.create",
        "patient.read",
        "account.role_changed",
        "account.deactivated",
    ] {
        assert!(got.iter().any(|a| a == expected), "{expected} missing from {got:?}");
    }
    assert_eq!(got.first().map(String::as_str), Some("account.deactivated"), "{got:?}");
    assert_eq!(
        got.iter().filter(|a| *a == "account.role_changed").count(),
        2,
        "{got:?}"
    );
    assert_eq!(
        (page["hasMore"].as_bool(), &page["nextCursor"]),
        (Some(false), &Value::Null),
        "{page}"
    );
    let items = page["items"].as_array().cloned().unwrap_or_default();
    assert!(items.iter().all(|i| i["userId"] == user_id.as_str()));
    assert!(
        items
            .iter()
            .all(|i| i["requestId"].is_string() && i["id"].is_i64() && i["occurredAt"].is_string())
    );
    let ids: Vec<i64> = items.iter().filter_map(|i| i["id"].as_i64()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    // Nothing in the body but ids and actions.
    let body = page.to_string();
    assert!(!body.contains(&email) && !body.contains("Ana Audit"), "{body}");

    // The failed login on an unknown email has no account.
    let failed = json(
        app.get(&admin, "/admin/audit-events?action=auth.login_failed").await,
        200,
    )
    .await;
    assert_eq!(failed["items"].as_array().map(Vec::len), Some(2), "{failed}");
    let users: Vec<&Value> = failed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| &i["userId"])
        .collect();
    assert!(
        users.contains(&&Value::Null) && users.contains(&&json!(user_id)),
        "{failed}"
    );
    let ip: Option<String> =
        sqlx::query_scalar("select host(ip) from audit_events where action = 'auth.login_failed' limit 1")
            .fetch_one(&app.admin_db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));

    // By patient; by action and user together; the admin's own actions.
    let by_patient = json(
        app.get(&admin, &format!("/admin/audit-events?patientId={patient_id}"))
            .await,
        200,
    )
    .await;
    assert_eq!(actions(&by_patient), ["patient.read", "patient.create"]);
    let combined = json(
        app.get(
            &admin,
            &format!("/admin/audit-events?userId={admin_id}&action=admin.user_update"),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(combined["items"].as_array().map(Vec::len), Some(2), "{combined}");

    // Pages.
    let first = json(
        app.get(&admin, &format!("/admin/audit-events?userId={user_id}&limit=2&page=1"))
            .await,
        200,
    )
    .await;
    let second = json(
        app.get(&admin, &format!("/admin/audit-events?userId={user_id}&limit=2&page=2"))
            .await,
        200,
    )
    .await;
    assert_eq!((first["page"].as_u64(), first["limit"].as_u64()), (Some(1), Some(2)));
    assert_eq!(actions(&first), got[..2]);
    assert_eq!(actions(&second), got[2..4]);
    assert_eq!(first["hasMore"], true, "{first}");
    // The keyset cursor gives the same next page as the numbered one, and walks to the end without gaps or repeats.
    let mut walked = actions(&first);
    let mut cursor = first["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let next = json(
            app.get(
                &admin,
                &format!("/admin/audit-events?userId={user_id}&limit=2&cursor={c}"),
            )
            .await,
            200,
        )
        .await;
        if walked.len() == 2 {
            assert_eq!(actions(&next), got[2..4]);
        }
        walked.extend(actions(&next));
        cursor = next["nextCursor"].as_str().map(str::to_owned);
        assert_eq!(next["hasMore"].as_bool(), Some(cursor.is_some()), "{next}");
    }
    assert_eq!(walked, got);
    problem(
        app.get(&admin, "/admin/audit-events?cursor=not-a-cursor").await,
        422,
        "validation_failed",
    )
    .await;
    let beyond = json(
        app.get(&admin, &format!("/admin/audit-events?userId={user_id}&page=999"))
            .await,
        200,
    )
    .await;
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["hasMore"], false, "{beyond}");

    // Reading the trail is itself on the trail.
    let reads = json(
        app.get(&admin, "/admin/audit-events?action=admin.audit_list&limit=1")
            .await,
        200,
    )
    .await;
    assert_eq!(reads["items"][0]["userId"], admin_id.as_str());
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_audit_listing_is_for_admins_only_and_validates_its_parameters(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (admin, _) = make_admin(&app).await;
    let (user_token, _) = app.register().await;
    problem(app.get(&user_token, "/admin/audit-events").await, 403, "forbidden").await;
    problem(
        app.get("not-a-token", "/admin/audit-events").await,
        401,
        "invalid_token",
    )
    .await;
    problem(
        app.get(&admin, "/admin/audit-events?limit=0").await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get(&admin, "/admin/audit-events?action=DROP%20TABLE").await,
        422,
        "validation_failed",
    )
    .await;
    problem(
        app.get(&admin, "/admin/audit-events?userId=nope").await,
        400,
        "invalid_query",
    )
    .await;
    problem(
        app.get(&admin, "/admin/audit-events?email=x").await,
        400,
        "invalid_query",
    )
    .await;
    // The user's 403 attempt is not an audit read; the admin's listings are.
    let page = json(app.get(&admin, "/admin/audit-events").await, 200).await;
    assert!(page["items"].as_array().is_some_and(|i| !i.is_empty()), "{page}");
}
