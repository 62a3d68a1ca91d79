//! Members and invitations: invite, register or accept from the link, list, revoke, change roles, remove, the
//! last-owner rule, the clinic's settings, and `REGISTRATION=invite`.

use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::helpers::{PASSWORD, TestApp, json, problem};

async fn register_with(app: &TestApp, body: Value) -> reqwest::Response {
    app.http
        .post(app.url("/auth/register"))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("register: {e}"))
}

/// Registers `email` with a clinic of its own; returns (token, session).
async fn owner(app: &TestApp, email: &str, clinic: &str) -> (String, Value) {
    let s = json(
        register_with(
            app,
            json!({"email": email, "password": PASSWORD, "fullName": "Dr Owner", "clinicName": clinic}),
        )
        .await,
        201,
    )
    .await;
    (s["accessToken"].as_str().unwrap_or_default().to_owned(), s)
}

fn token_of(session: &Value) -> String {
    session["accessToken"].as_str().unwrap_or_default().to_owned()
}

async fn invite(app: &TestApp, token: &str, email: &str, role: &str) -> Value {
    json(
        app.post(token, "/clinic/invitations", json!({"email": email, "role": role}))
            .await,
        201,
    )
    .await
}

#[sqlx::test(migrations = "../../migrations")]
async fn an_invited_receptionist_registers_from_the_link_and_joins_in_that_role(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (owner_token, owner_session) = owner(&app, &app.unique_email(), "Smile Dental").await;
    let clinic_id = owner_session["clinic"]["id"].clone();
    let desk_email = app.unique_email();
    let inv = invite(&app, &owner_token, &desk_email.to_uppercase(), "reception").await;
    let link = inv["token"].as_str().unwrap_or_default().to_owned();
    assert_eq!(link.len(), 43);
    assert_eq!(inv["role"], "reception");
    assert_eq!(inv["email"], desk_email.to_lowercase());
    // The token is stored only as its hash, and the list never shows it.
    let stored: i64 = sqlx::query_scalar("select count(*) from invitations where token_hash = sha256($1::bytea)")
        .bind(link.as_bytes())
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(stored, 1);
    let list = json(app.get(&owner_token, "/clinic/invitations").await, 200).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    assert!(list["items"][0].get("token").is_none(), "{list}");

    // Another email cannot use it.
    problem(
        register_with(
            &app,
            json!({"email": app.unique_email(), "password": PASSWORD, "fullName": "Eve", "invitationToken": link}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let session = json(
        register_with(
            &app,
            json!({"email": desk_email, "password": PASSWORD, "fullName": "Rita Desk", "invitationToken": link}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(session["clinic"]["id"], clinic_id);
    assert_eq!(session["clinic"]["role"], "reception");
    assert_eq!(
        session["user"]["clinics"].as_array().map(Vec::len),
        Some(1),
        "no clinic of her own"
    );
    let desk = token_of(&session);
    let clinic = json(app.get(&desk, "/clinic").await, 200).await;
    assert_eq!(
        (clinic["name"].clone(), clinic["myRole"].clone()),
        (json!("Smile Dental"), json!("reception"))
    );
    // Single use: gone from the list, refused a second time.
    let list = json(app.get(&owner_token, "/clinic/invitations").await, 200).await;
    assert_eq!(list["items"], json!([]));
    problem(
        register_with(
            &app,
            json!({"email": app.unique_email(), "password": PASSWORD, "fullName": "Late", "invitationToken": link}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let members = json(app.get(&owner_token, "/clinic/members").await, 200).await;
    let roles: Vec<(Value, Value)> = members["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| (m["fullName"].clone(), m["role"].clone()))
        .collect();
    assert_eq!(
        roles,
        [
            (json!("Dr Owner"), json!("owner")),
            (json!("Rita Desk"), json!("reception"))
        ]
    );
    // The receptionist manages nothing.
    problem(
        app.post(
            &desk,
            "/clinic/invitations",
            json!({"email": "x@y.example", "role": "owner"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    problem(app.get(&desk, "/clinic/invitations").await, 403, "forbidden").await;
    problem(
        app.patch(&desk, "/clinic", json!({"name": "Mine"})).await,
        403,
        "forbidden",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn a_signed_in_user_accepts_once_and_only_as_the_invited_email(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (owner_token, owner_session) = owner(&app, &app.unique_email(), "Clinic A").await;
    let clinic_a = owner_session["clinic"]["id"].clone();
    let invited_email = app.unique_email();
    let (invited, _) = owner(&app, &invited_email, "Own Practice").await;
    let (stranger, _) = owner(&app, &app.unique_email(), "Elsewhere").await;
    let link = invite(&app, &owner_token, &invited_email, "clinician").await["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!("/invitations/{link}/accept");
    problem(app.post(&stranger, &path, json!({})).await, 404, "not_found").await;
    problem(
        app.post(&invited, "/invitations/not-a-token/accept", json!({})).await,
        404,
        "not_found",
    )
    .await;
    let session = json(app.post(&invited, &path, json!({})).await, 200).await;
    assert_eq!(session["clinic"]["id"], clinic_a);
    assert_eq!(session["clinic"]["role"], "clinician");
    assert_eq!(session["user"]["clinics"].as_array().map(Vec::len), Some(2));
    problem(app.post(&invited, &path, json!({})).await, 404, "not_found").await;
    // As a clinician of A, the new token reaches A's patients and chat.
    let token = token_of(&session);
    let p = app
        .create_patient(&owner_token, json!({"name": "Shared Patient"}))
        .await;
    let id = p["id"].as_str().unwrap_or_default();
    json(app.get(&token, &format!("/patients/{id}/messages")).await, 200).await;
    let joined: i64 = sqlx::query_scalar("select count(*) from audit_events where action = 'clinic.joined'")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(joined, 1);

    // An expired invitation and a revoked one are 404; revoking twice is 404.
    let late_email = app.unique_email();
    let (late, _) = owner(&app, &late_email, "Late Practice").await;
    let expired = invite(&app, &owner_token, &late_email, "reception").await;
    sqlx::query("update invitations set expires_at = now() - interval '1 second' where id = $1::uuid")
        .bind(expired["id"].as_str().unwrap_or_default())
        .execute(&app.admin_db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let expired_path = format!("/invitations/{}/accept", expired["token"].as_str().unwrap_or_default());
    problem(app.post(&late, &expired_path, json!({})).await, 404, "not_found").await;
    let revoked = invite(&app, &owner_token, &late_email, "reception").await;
    let revoke_path = format!("/clinic/invitations/{}", revoked["id"].as_str().unwrap_or_default());
    assert_eq!(app.delete(&owner_token, &revoke_path).await.status(), 204);
    problem(app.delete(&owner_token, &revoke_path).await, 404, "not_found").await;
    let revoked_path = format!("/invitations/{}/accept", revoked["token"].as_str().unwrap_or_default());
    problem(app.post(&late, &revoked_path, json!({})).await, 404, "not_found").await;
    // Inviting someone who is already a member is 409.
    problem(
        app.post(
            &owner_token,
            "/clinic/invitations",
            json!({"email": invited_email, "role": "owner"}),
        )
        .await,
        409,
        "already_member",
    )
    .await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn role_changes_and_removals_apply_on_the_next_request_and_the_last_owner_stays(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let app = TestApp::spawn(options).await;
    let (owner_token, owner_session) = owner(&app, &app.unique_email(), "Clinic A").await;
    let owner_id = owner_session["user"]["id"].as_str().unwrap_or_default().to_owned();
    let email = app.unique_email();
    let link = invite(&app, &owner_token, &email, "clinician").await["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let s = json(
        register_with(
            &app,
            json!({"email": email, "password": PASSWORD, "fullName": "Dr Colleague", "invitationToken": link}),
        )
        .await,
        201,
    )
    .await;
    let colleague = token_of(&s);
    let colleague_id = s["user"]["id"].as_str().unwrap_or_default().to_owned();
    let p = app
        .create_patient(&owner_token, json!({"name": "P", "medicalNotes": "n"}))
        .await;
    let pid = p["id"].as_str().unwrap_or_default();
    json(app.get(&colleague, &format!("/patients/{pid}/messages")).await, 200).await;

    // The sole owner can neither demote nor remove themself.
    let me = format!("/clinic/members/{owner_id}");
    problem(
        app.patch(&owner_token, &me, json!({"role": "clinician"})).await,
        409,
        "last_owner",
    )
    .await;
    problem(app.delete(&owner_token, &me).await, 409, "last_owner").await;
    problem(
        app.patch(
            &owner_token,
            &format!("/clinic/members/{}", uuid::Uuid::new_v4()),
            json!({"role": "owner"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    problem(
        app.patch(&owner_token, &me, json!({"role": "boss"})).await,
        400,
        "invalid_body",
    )
    .await;

    // Demoted to reception: the same token loses chat and notes at once.
    let them = format!("/clinic/members/{colleague_id}");
    let changed = json(app.patch(&owner_token, &them, json!({"role": "reception"})).await, 200).await;
    assert_eq!(changed["role"], "reception");
    assert_eq!(changed["mfaEnabled"], false);
    problem(
        app.get(&colleague, &format!("/patients/{pid}/messages")).await,
        403,
        "forbidden",
    )
    .await;
    let seen = json(app.get(&colleague, &format!("/patients/{pid}")).await, 200).await;
    assert!(seen.get("medicalNotes").is_none());
    // Promoted to owner, the colleague may demote the first owner, who is then no longer the last.
    json(app.patch(&owner_token, &them, json!({"role": "owner"})).await, 200).await;
    let demoted = json(app.patch(&colleague, &me, json!({"role": "clinician"})).await, 200).await;
    assert_eq!(demoted["role"], "clinician");
    problem(app.get(&owner_token, "/clinic/invitations").await, 403, "forbidden").await;
    problem(app.delete(&colleague, &them).await, 409, "last_owner").await;
    // Removed: the next request with the same token has no clinic.
    assert_eq!(app.delete(&colleague, &me).await.status(), 204);
    problem(app.get(&owner_token, "/patients").await, 403, "no_clinic").await;
    problem(app.delete(&colleague, &me).await, 404, "not_found").await;
    let members = json(app.get(&colleague, "/clinic/members").await, 200).await;
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1));
}

#[sqlx::test(migrations = "../../migrations")]
async fn the_owner_changes_the_clinic_settings_within_their_rules(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = owner(&app, &app.unique_email(), "Old Name").await;
    let clinic = json(app.get(&token, "/clinic").await, 200).await;
    assert_eq!(
        (clinic["country"].clone(), clinic["requireMfa"].clone()),
        (json!("US"), json!(false))
    );
    assert_eq!(clinic["myRole"], "owner");
    let changed = json(
        app.patch(&token, "/clinic", json!({"name": "  New Name ", "country": "es"}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (
            changed["name"].clone(),
            changed["country"].clone(),
            changed["requireMfa"].clone()
        ),
        (json!("New Name"), json!("ES"), json!(false))
    );
    let bad = problem(
        app.patch(&token, "/clinic", json!({"name": "", "country": "Spain"}))
            .await,
        422,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["clinicName", "country"]);
    let me = json(app.get(&token, "/auth/me").await, 200).await;
    assert_eq!(me["clinic"]["name"], "New Name");
    // Requiring two-step sign-in binds the owner too: without a factor of their own, the clinic's routes now
    // send them to the set-up (which, like the rest of /auth, still works).
    let required = json(app.patch(&token, "/clinic", json!({"requireMfa": true})).await, 200).await;
    assert_eq!(required["requireMfa"], true);
    problem(app.get(&token, "/clinic").await, 403, "mfa_setup_required").await;
    json(app.get(&token, "/auth/me").await, 200).await;
}

#[sqlx::test(migrations = "../../migrations")]
async fn with_registration_by_invitation_only_strangers_cannot_sign_up(_: PgPoolOptions, options: PgConnectOptions) {
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(options, ai, |c| c.registration = api::config::Registration::Invite).await;
    let body = json!({"email": app.unique_email(), "password": PASSWORD, "fullName": "Stranger"});
    problem(register_with(&app, body).await, 403, "registration_closed").await;
    let bogus = json!({"email": app.unique_email(), "password": PASSWORD, "fullName": "Stranger", "invitationToken": "x".repeat(43)});
    problem(register_with(&app, bogus).await, 403, "registration_closed").await;
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.admin_db)
        .await
        .unwrap_or(-1);
    assert_eq!(users, 0);

    // A first owner (e.g. made by the operator) invites; the invitee can register.
    let owner_id = uuid::Uuid::new_v4();
    let clinic_id = uuid::Uuid::new_v4();
    sqlx::query(
        "with u as (insert into users (id, email, password_hash, full_name) values ($1, 'first@clinic.example', 'x', 'First') returning id),
              c as (insert into clinics (id, name) values ($2, 'Closed Clinic') returning id)
         insert into clinic_members (clinic_id, user_id, role) select c.id, u.id, 'owner' from u, c",
    )
    .bind(owner_id)
    .bind(clinic_id)
    .execute(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let caller = api::auth::AuthUser {
        id: owner_id,
        role: shared::api::Role::User,
        session: None,
        clinic_id: Some(clinic_id),
    };
    let owner_token = app
        .state
        .jwt
        .issue(caller.id, caller.role, caller.clinic_id, chrono::Utc::now().timestamp())
        .unwrap_or_default();
    let email = app.unique_email();
    let link = invite(&app, &owner_token, &email, "clinician").await["token"].clone();
    let session = json(
        register_with(
            &app,
            json!({"email": email, "password": PASSWORD, "fullName": "Invited", "invitationToken": link}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(session["clinic"]["id"], clinic_id.to_string());
    assert_eq!(session["clinic"]["role"], "clinician");
}
