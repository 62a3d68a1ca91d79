//! Prometheus metrics on their own listener: the expected series, route templates as labels, no PHI.

use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{TestApp, json, problem};

const NAME: &str = "Zebulon Metricsworth";
const NOTES: &str = "Allergic to xyzzy-penicillin";
const MESSAGE: &str = "My plughish molar aches when I drink cold water";

#[sqlx::test(migrations = "../../migrations")]
async fn metrics_are_served_on_their_own_port_with_route_templates_and_no_patient_data(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn_with(options, crate::helpers::spawn_ai().await, |c| {
        c.metrics_bind = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        c.rate_limits.chat_per_user.limit = 1;
    })
    .await;
    let metrics_addr = api::metrics::spawn(std::net::SocketAddr::from(([127, 0, 0, 1], 0)), app.state.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let (token, session) = app.register().await;
    let email = session["user"]["email"].as_str().unwrap_or_default().to_owned();
    let patient = app
        .create_patient(
            &token,
            json!({"name": NAME, "medicalNotes": NOTES, "phone": "+34 911 234 567"}),
        )
        .await;
    let id = patient["id"].as_str().unwrap_or_default().to_owned();
    json(app.get(&token, &format!("/patients/{id}")).await, 200).await;
    json(app.get(&token, "/patients?q=Zebulon").await, 200).await;
    json(
        app.post(&token, &format!("/patients/{id}/messages"), json!({"content": MESSAGE}))
            .await,
        201,
    )
    .await;
    // Past the budget (a message triage does not flag: a flagged one would still get its first aid).
    problem(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "Thank you, see you next week"}),
        )
        .await,
        429,
        "rate_limited",
    )
    .await;

    let r = app
        .http
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap_or_default();
    for name in [
        "api_http_requests_total",
        "api_http_request_duration_seconds_bucket",
        "api_db_pool_connections",
        "api_db_pool_max_connections",
        "api_ai_call_duration_seconds_bucket",
        "api_ai_tokens_total",
        "api_rate_limit_rejections_total",
    ] {
        assert!(text.contains(name), "{name} missing:\n{text}");
    }
    assert!(text.contains(r#"route="/api/v1/patients/{id}""#), "{text}");
    assert!(text.contains(r#"rule="chat_per_user""#), "{text}");
    assert!(text.contains(r#"provider="offline""#), "{text}");
    assert!(text.contains(r#"direction="output""#), "{text}");
    assert!(
        text.contains(r#"state="in_use""#) && text.contains(r#"state="idle""#),
        "{text}"
    );
    // Nothing a patient or user typed, and no concrete ids: labels are templates and fixed names.
    for secret in [
        NAME,
        "Zebulon",
        NOTES,
        "xyzzy",
        MESSAGE,
        "plughish",
        email.as_str(),
        id.as_str(),
        "+34911234567",
    ] {
        assert!(!text.contains(secret), "{secret:?} leaked into metrics");
    }

    // The public port does not serve them.
    let public = app.base.trim_end_matches("/api/v1");
    let r = app
        .http
        .get(format!("{public}/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(r.status(), 200);
    let r = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404);
}
