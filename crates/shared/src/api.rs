//! Public API bodies (`/api/v1`), camelCase on the wire.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ai::Triage;

/// `GET /health`: `status` is `ok` or `degraded`; each check is `ok` or a short reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub checks: HealthChecks,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthChecks {
    pub database: String,
    pub ai: String,
    /// Present only when `REDIS_URL` is configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<String>,
    /// Present only when `DATABASE_REPLICA_URL` is configured: `ok`, `lagging` or `down` (never a 503 alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

/// A member's role inside a clinic (the platform `Role` is separate: administration only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ClinicRole {
    Owner,
    Clinician,
    Reception,
}

impl ClinicRole {
    pub const ALL: [ClinicRole; 3] = [ClinicRole::Owner, ClinicRole::Clinician, ClinicRole::Reception];

    pub fn as_str(self) -> &'static str {
        match self {
            ClinicRole::Owner => "owner",
            ClinicRole::Clinician => "clinician",
            ClinicRole::Reception => "reception",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A clinic as a member sees it in a session: `{id, name, role}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClinicRef {
    pub id: Uuid,
    pub name: String,
    pub role: ClinicRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: Role,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    /// The active clinic (the one the access token names); `null` for a user who belongs to none.
    #[serde(default)]
    pub clinic: Option<ClinicRef>,
    /// Every clinic the user belongs to, most recently joined first.
    #[serde(default)]
    pub clinics: Vec<ClinicRef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    pub refresh_token: String,
    pub user: User,
    /// The active clinic (also in `user.clinic`); `null` for a user who belongs to none.
    #[serde(default)]
    pub clinic: Option<ClinicRef>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub full_name: String,
    /// The new clinic's name (default "`fullName`'s clinic"); ignored when joining by invitation.
    #[serde(default)]
    pub clinic_name: Option<String>,
    /// An invitation's one-time token: join its clinic in its role instead of creating one.
    #[serde(default)]
    pub invitation_token: Option<String>,
}

/// `POST /auth/switch-clinic`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchClinicRequest {
    pub clinic_id: Uuid,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /auth/refresh` and `/auth/logout`: the token in the body, or none when the cookie carries it.
#[derive(Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub is_active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserPage {
    pub items: Vec<User>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
}

/// A patient as stored. `Debug` is hand-written so PHI never reaches a log by accident.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Patient {
    pub id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    /// Omitted (not `null`) for a `reception` member.
    pub medical_notes: Option<String>,
    /// The user who created the record (`null` if that account is gone).
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When an assistant message flagged as an emergency was last saved for this patient; `null` if never.
    pub last_emergency_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Patient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patient").field("id", &self.id).finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PatientPage {
    pub items: Vec<Patient>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    User,
    Assistant,
}

impl MessageRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageRole::User => "user",
            MessageRole::Assistant => "assistant",
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub id: Uuid,
    pub role: MessageRole,
    pub content: String,
    /// For assistant messages: `provider`, `model`, `usage`, `latencyMs`, `emergency`, `finishReason`.
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, serde_json::Value>))]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for ChatMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatMessage")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MessagePage {
    pub items: Vec<ChatMessage>,
    /// Pass as `before` to load the previous (older) page; `null` when there is none.
    pub next_before: Option<Uuid>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageRequest {
    pub content: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SendMessageResponse {
    pub user_message: ChatMessage,
    pub assistant_message: ChatMessage,
    pub emergency: Option<Triage>,
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReplyResponse {
    pub assistant_message: ChatMessage,
    pub emergency: Option<Triage>,
}

/// `done` event of the public stream.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamDonePublic {
    pub assistant_message: ChatMessage,
    pub emergency: Option<Triage>,
}

/// One row of the audit trail: who did what, to which patient, in which request. Never names, notes or text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    /// The account concerned (the actor for patient-data access; the account signed into, failed on or changed for
    /// auth events); `null` for a failed login naming no known account.
    pub user_id: Option<Uuid>,
    /// E.g. `patient.read`, `message.send`, `auth.login`, `auth.login_failed`, `auth.refresh_reused`,
    /// `account.role_changed`, `account.deactivated`.
    pub action: String,
    pub patient_id: Option<Uuid>,
    pub request_id: Option<String>,
}

/// `GET /admin/audit-events`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEventPage {
    pub items: Vec<AuditEvent>,
    pub page: u32,
    pub limit: u32,
    /// Whether older events match.
    pub has_more: bool,
    /// Pass as `cursor` for the next (older) page; `null` on the last page. Opaque.
    pub next_cursor: Option<String>,
}

/// `GET /clinic`: the caller's active clinic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Clinic {
    pub id: Uuid,
    pub name: String,
    pub require_mfa: bool,
    /// ISO 3166-1 alpha-2: the region of phone numbers typed without a country code.
    pub country: String,
    pub created_at: DateTime<Utc>,
    pub my_role: ClinicRole,
}

/// `PATCH /clinic` (owner): absent fields are unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateClinicRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub require_mfa: Option<bool>,
    #[serde(default)]
    pub country: Option<String>,
}

/// A member of the caller's clinic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub full_name: String,
    pub role: ClinicRole,
    pub joined_at: DateTime<Utc>,
    pub mfa_enabled: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MemberList {
    pub items: Vec<Member>,
}

/// `PATCH /clinic/members/{userId}` (owner).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: ClinicRole,
}

/// `POST /clinic/invitations` (owner).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInvitationRequest {
    pub email: String,
    pub role: ClinicRole,
}

/// An invitation to join a clinic: one email, one role, 7 days, single use.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Invitation {
    pub id: Uuid,
    pub email: String,
    pub role: ClinicRole,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Only in the answer that created it (shown once; the server keeps its hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for Invitation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invitation")
            .field("id", &self.id)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct InvitationList {
    pub items: Vec<Invitation>,
}
