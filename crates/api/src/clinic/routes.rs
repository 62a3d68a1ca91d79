//! `/clinic*` handlers (through `db::ClinicTx`, so the caller's membership and role are checked first) and
//! `/invitations/{token}/accept`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, patch, post};
use shared::FieldError;
use shared::api::{
    Clinic, ClinicRole, CreateInvitationRequest, Invitation, InvitationList, Member, MemberList, UpdateClinicRequest,
    UpdateMemberRequest,
};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::auth::clinics::ClinicName;
use crate::clinic::{invitations, queries};
use crate::db::{Action, ClinicTx, Permission};
use crate::domain::email::Email;
use crate::http::client_ip::ClientIp;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clinic", get(read).patch(update))
        .route("/clinic/members", get(members))
        .route("/clinic/members/{user_id}", patch(change_member).delete(remove_member))
        .route("/clinic/invitations", get(list_invitations).post(invite))
        .route("/clinic/invitations/{id}", delete(revoke_invitation))
        .route("/invitations/{token}/accept", post(accept))
}

const LAST_OWNER: &str = "last_owner";

fn last_owner() -> ApiError {
    ApiError::conflict(
        LAST_OWNER,
        "A clinic keeps at least one owner: make someone else an owner first.",
    )
}

/// The caller's active clinic.
#[utoipa::path(operation_id = "getClinic", get, path = "/clinic", tag = "clinic", security(("bearer" = [])),
    responses((status = 200, description = "The active clinic", body = Clinic),
        (status = 403, description = "`no_clinic`, or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn read(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Clinic>> {
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ViewClinic, Action::ClinicRead, None).await?;
    let (clinic_id, role) = (tx.clinic_id, tx.role);
    let clinic = queries::clinic(tx.conn(), clinic_id, role)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(clinic))
}

/// Change the clinic's name, MFA requirement or country (owner).
#[utoipa::path(operation_id = "updateClinic", patch, path = "/clinic", tag = "clinic", security(("bearer" = [])),
    request_body = UpdateClinicRequest,
    responses((status = 200, description = "The clinic", body = Clinic),
        (status = 403, description = "`forbidden`: not an owner; `no_clinic`, or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<UpdateClinicRequest>,
) -> ApiResult<Json<Clinic>> {
    let mut errors = Vec::new();
    let name = body
        .name
        .as_deref()
        .map(ClinicName::parse)
        .transpose()
        .map_err(|e| errors.push(e))
        .ok()
        .flatten();
    let country = body.country.as_deref().map(|c| c.trim().to_ascii_uppercase());
    if country
        .as_deref()
        .is_some_and(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()))
    {
        errors.push(FieldError::new(
            "country",
            "invalid_country",
            "Country must be an ISO 3166-1 alpha-2 code such as US or ES.",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ManageClinic, Action::ClinicUpdate, None).await?;
    let (clinic_id, role) = (tx.clinic_id, tx.role);
    queries::update_clinic(
        tx.conn(),
        clinic_id,
        name.as_ref().map(ClinicName::as_str),
        body.require_mfa,
        country.as_deref(),
    )
    .await?;
    let clinic = queries::clinic(tx.conn(), clinic_id, role)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(clinic))
}

/// The clinic's members.
#[utoipa::path(operation_id = "listMembers", get, path = "/clinic/members", tag = "clinic", security(("bearer" = [])),
    responses((status = 200, description = "Every member, owners first", body = MemberList),
        crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn members(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<MemberList>> {
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ViewClinic, Action::MemberList, None).await?;
    let clinic_id = tx.clinic_id;
    let items = queries::members(tx.conn(), clinic_id).await?;
    tx.commit().await?;
    Ok(Json(MemberList { items }))
}

/// Change a member's role (owner). Demoting the last owner is 409 `last_owner`. Applies on the member's next request.
#[utoipa::path(operation_id = "updateMember", patch, path = "/clinic/members/{userId}", tag = "clinic", security(("bearer" = [])),
    params(("userId" = Uuid, Path, description = "The member's user id")), request_body = UpdateMemberRequest,
    responses((status = 200, description = "The member", body = Member),
        (status = 404, description = "Not a member of this clinic", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`last_owner`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn change_member(
    State(state): State<AppState>,
    user: AuthUser,
    Path(member_id): Path<Uuid>,
    Json(body): Json<UpdateMemberRequest>,
) -> ApiResult<Json<Member>> {
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ManageClinic, Action::MemberUpdate, None).await?;
    let clinic_id = tx.clinic_id;
    let owners = queries::lock_owners(tx.conn(), clinic_id).await?;
    let current = queries::member(tx.conn(), clinic_id, member_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.role == ClinicRole::Owner && body.role != ClinicRole::Owner && owners <= 1 {
        return Err(last_owner());
    }
    queries::set_role(tx.conn(), clinic_id, member_id, body.role).await?;
    let changed = queries::member(tx.conn(), clinic_id, member_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    tracing::info!(%clinic_id, member = %member_id, role = body.role.as_str(), "member role changed");
    Ok(Json(changed))
}

/// Remove a member (owner). Removing the last owner is 409 `last_owner`. Access ends on the member's next request.
#[utoipa::path(operation_id = "removeMember", delete, path = "/clinic/members/{userId}", tag = "clinic", security(("bearer" = [])),
    params(("userId" = Uuid, Path, description = "The member's user id")),
    responses((status = 204, description = "Removed"),
        (status = 404, description = "Not a member of this clinic", content_type = "application/problem+json", body = shared::Problem),
        (status = 409, description = "`last_owner`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn remove_member(
    State(state): State<AppState>,
    user: AuthUser,
    Path(member_id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ManageClinic, Action::MemberRemove, None).await?;
    let clinic_id = tx.clinic_id;
    let owners = queries::lock_owners(tx.conn(), clinic_id).await?;
    let current = queries::member(tx.conn(), clinic_id, member_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if current.role == ClinicRole::Owner && owners <= 1 {
        return Err(last_owner());
    }
    queries::remove(tx.conn(), clinic_id, member_id).await?;
    tx.commit().await?;
    tracing::info!(%clinic_id, member = %member_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

/// Invite someone by email to a role (owner): the answer holds the one-time `token` (7 days), shown only here.
#[utoipa::path(operation_id = "createInvitation", post, path = "/clinic/invitations", tag = "clinic", security(("bearer" = [])),
    request_body = CreateInvitationRequest,
    responses((status = 201, description = "The invitation, with its token", body = Invitation),
        (status = 409, description = "`already_member`", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn invite(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateInvitationRequest>,
) -> ApiResult<(StatusCode, Json<Invitation>)> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::validation("email", e.code(), e.message()))?;
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::ManageClinic,
        Action::InvitationCreate,
        None,
    )
    .await?;
    let (clinic_id, me) = (tx.clinic_id, tx.user_id);
    if queries::is_member_email(tx.conn(), clinic_id, email.as_str()).await? {
        return Err(ApiError::conflict(
            "already_member",
            "This person is already a member of the clinic.",
        ));
    }
    let created = invitations::create(tx.conn(), clinic_id, me, email.as_str(), body.role).await?;
    tx.commit().await?;
    tracing::info!(%clinic_id, invitation = %created.id, role = body.role.as_str(), "invitation created");
    Ok((
        StatusCode::CREATED,
        Json(Invitation {
            id: created.id,
            email: email.as_str().to_owned(),
            role: body.role,
            created_at: created.created_at,
            expires_at: created.expires_at,
            token: Some(created.token),
        }),
    ))
}

/// Pending invitations (owner), without their tokens.
#[utoipa::path(operation_id = "listInvitations", get, path = "/clinic/invitations", tag = "clinic", security(("bearer" = [])),
    responses((status = 200, description = "Pending invitations, newest first", body = InvitationList),
        crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn list_invitations(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<InvitationList>> {
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::ManageClinic, Action::InvitationList, None).await?;
    let clinic_id = tx.clinic_id;
    let items = queries::invitations(tx.conn(), clinic_id).await?;
    tx.commit().await?;
    Ok(Json(InvitationList { items }))
}

/// Revoke a pending invitation (owner): its link stops working.
#[utoipa::path(operation_id = "revokeInvitation", delete, path = "/clinic/invitations/{id}", tag = "clinic", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The invitation's id")),
    responses((status = 204, description = "Revoked"),
        (status = 404, description = "No pending invitation with that id", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::ClinicErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let mut tx = ClinicTx::begin(
        &state.db,
        &user,
        Permission::ManageClinic,
        Action::InvitationRevoke,
        None,
    )
    .await?;
    let clinic_id = tx.clinic_id;
    if !queries::revoke_invitation(tx.conn(), clinic_id, id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation while signed in as the invited email: join its clinic in its role and get a session acting
/// for it. An unknown, expired, used or revoked token, or one for another email, is 404.
#[utoipa::path(operation_id = "acceptInvitation", post, path = "/invitations/{token}/accept", tag = "clinic", security(("bearer" = [])),
    params(("token" = String, Path, description = "The invitation's one-time token")),
    request_body(content = Object, description = "`{}`"),
    responses((status = 200, description = "A session for the clinic joined; the refresh token is also set as a cookie", body = shared::api::Session),
        (status = 404, description = "Unknown, expired, used, revoked, or for another email", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::BodyErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn accept(
    State(state): State<AppState>,
    user: AuthUser,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Json(_body): Json<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult<Response> {
    let row = crate::auth::routes::active_user(&state, user.id).await?;
    let mut tx = crate::db::begin(&state.db).await?;
    let found = invitations::find_pending(&mut tx, &token).await?;
    let Some(found) = found.filter(|f| invitations::is_for(f, &row.email)) else {
        return Err(ApiError::NotFound);
    };
    if !invitations::accept(&mut tx, &found, user.id).await? {
        return Err(ApiError::NotFound);
    }
    tx.commit().await?;
    tracing::info!(user_id = %user.id, clinic_id = %found.clinic_id, "invitation accepted");
    let client = crate::auth::sessions::SessionClient::new(ip, &headers);
    crate::auth::routes::session_in_clinic(&state, &headers, &client, row, found.clinic_id).await
}
