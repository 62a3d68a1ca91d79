use std::collections::BTreeSet;

use axum::body::Body;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tower::ServiceExt as _;

use crate::helpers::{TestApp, json};

/// The routes of CONTRACT.md (relative to /api/v1), method and path.
const CONTRACT_ROUTES: &[(&str, &str)] = &[
    ("get", "/health"),
    ("post", "/auth/register"),
    ("post", "/auth/login"),
    ("post", "/auth/refresh"),
    ("post", "/auth/logout"),
    ("get", "/auth/me"),
    ("post", "/auth/login/mfa"),
    ("post", "/auth/mfa/setup"),
    ("post", "/auth/mfa/enable"),
    ("post", "/auth/mfa/disable"),
    ("get", "/auth/sessions"),
    ("delete", "/auth/sessions/{id}"),
    ("post", "/auth/password"),
    ("post", "/auth/switch-clinic"),
    ("get", "/admin/users"),
    ("patch", "/admin/users/{id}"),
    ("get", "/admin/audit-events"),
    ("post", "/patients"),
    ("get", "/patients"),
    ("get", "/patients/{id}"),
    ("patch", "/patients/{id}"),
    ("delete", "/patients/{id}"),
    ("get", "/patients/{id}/messages"),
    ("post", "/patients/{id}/messages"),
    ("post", "/patients/{id}/messages/stream"),
    ("post", "/patients/{id}/messages/{messageId}/reply"),
    ("get", "/clinic"),
    ("patch", "/clinic"),
    ("get", "/clinic/members"),
    ("patch", "/clinic/members/{userId}"),
    ("delete", "/clinic/members/{userId}"),
    ("post", "/clinic/invitations"),
    ("get", "/clinic/invitations"),
    ("delete", "/clinic/invitations/{id}"),
    ("post", "/invitations/{token}/accept"),
    ("get", "/patients/trash"),
    ("post", "/patients/{id}/restore"),
    ("get", "/patients/{id}/access-log"),
    ("get", "/clinic/stats"),
    ("get", "/patients/{id}/messages/{messageId}/stream"),
    ("post", "/patients/{id}/messages/{messageId}/stop"),
    ("get", "/export/patients"),
    ("post", "/import/patients"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
];

fn described(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().into_iter().flatten() {
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                out.insert((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_description_is_openapi_3_1_and_lists_exactly_the_contract_routes(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let spec = json(
        app.http
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        200,
    )
    .await;
    assert!(
        spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "{}",
        spec["openapi"]
    );
    let contract: BTreeSet<(String, String)> = CONTRACT_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(described(&spec), contract);
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
    let stream = &spec["paths"]["/patients/{id}/messages/stream"]["post"]["responses"]["200"]["content"];
    assert!(stream.get("text/event-stream").is_some(), "{stream}");
    let problem = &spec["paths"]["/patients"]["post"]["responses"]["422"]["content"];
    assert!(problem.get("application/problem+json").is_some(), "{problem}");
}

#[sqlx::test(migrations = "../../migrations")]
async fn every_described_route_exists_in_the_router_and_unknown_ones_do_not(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let router = api::app(app.state.clone());
    let spec = serde_json::to_value(<api::http::openapi::ApiDoc as utoipa::OpenApi>::openapi()).unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    let routes = described(&spec);
    assert!(!routes.is_empty());
    for (method, path) in routes
        .iter()
        .map(|(m, p)| (m.clone(), p.clone()))
        .chain([("get".to_owned(), "/no/such/route".to_owned())])
    {
        let uri = format!(
            "/api/v1{}",
            path.replace("{id}", &id)
                .replace("{messageId}", &id)
                .replace("{userId}", &id)
                .replace("{token}", &id)
        );
        let request = axum::http::Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&uri)
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let response = router.clone().oneshot(request).await.unwrap_or_else(|e| panic!("{e}"));
        let unmatched = response
            .extensions()
            .get::<api::http::error::UnmatchedRoute>()
            .is_some();
        assert_eq!(
            unmatched,
            path == "/no/such/route",
            "{method} {uri}: {}",
            response.status()
        );
    }
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_docs_page_is_served_locally_and_loads_nothing_from_elsewhere(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let r = app
        .http
        .get(app.url("/docs"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = r.text().await.unwrap_or_default();
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
    for asset in ["/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"] {
        let r = app
            .http
            .get(app.url(asset))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status(), 200, "{asset}");
        assert!(html.contains(&format!("/api/v1{asset}")), "{asset}");
    }
}
