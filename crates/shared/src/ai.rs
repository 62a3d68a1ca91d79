//! The internal API of the `ai` service (called by `api` only).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Call emergency services / go to A&E now.
    Emergency,
    /// Contact the clinic now for a same-day appointment.
    Urgent,
}

/// Who found the emergency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TriageSource {
    /// The ai service's own triage, before any model call (the reply is the category's first aid).
    Triage,
    /// The model's urgency marker at the start of its reply, when triage had not flagged the message.
    Model,
}

/// The languages first aid is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Es,
    Pt,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
            Language::Pt => "pt",
        }
    }
}

/// The triage result. `detected == false` implies `category`, `severity` and `source` are `null`;
/// `language` is the message's language either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Triage {
    pub detected: bool,
    pub category: Option<String>,
    pub severity: Option<Severity>,
    /// Rows saved before the second wave have no source: read as `null`.
    #[serde(default)]
    pub source: Option<TriageSource>,
    #[serde(default)]
    pub language: Language,
}

impl Triage {
    pub fn none() -> Self {
        Self::none_in(Language::En)
    }

    /// Nothing urgent, in a message written in `language`.
    pub fn none_in(language: Language) -> Self {
        Self {
            detected: false,
            category: None,
            severity: None,
            source: None,
            language,
        }
    }

    /// The public API's `emergency` field: `null` unless something urgent was found.
    pub fn into_emergency(self) -> Option<Triage> {
        self.detected.then_some(self)
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriageRequest {
    pub message: String,
}

/// What the ai service knows about the patient. The model sees the name, the medical notes and
/// an age derived from `date_of_birth`, as data, never as instructions. `email`, `phone` and
/// `date_of_birth` are never put in a prompt: they are the identifiers the ai service replaces
/// by placeholders before a prompt leaves for a cloud model (`AI_REDACT_PHI`), wherever the
/// patient or the notes mention them. All three are optional, so a caller that does not send
/// them keeps working. No `Debug`: every field is patient data.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatientContext {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medical_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// As the api stores it (E.164), though any format is matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TurnRole {
    User,
    Assistant,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryTurn {
    pub role: TurnRole,
    pub content: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatRequest {
    pub patient: PatientContext,
    #[serde(default)]
    pub history: Vec<HistoryTurn>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    pub reply: String,
    pub provider: String,
    pub model: String,
    pub emergency: Triage,
    pub usage: Usage,
    pub finish_reason: String,
}

/// `delta` event of both streams.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamDelta {
    pub text: String,
}

/// `done` event of the ai stream.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamDone {
    pub provider: String,
    pub model: String,
    pub emergency: Triage,
    pub usage: Usage,
    pub finish_reason: String,
}

/// `error` event of both streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StreamError {
    pub code: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiHealth {
    pub status: String,
    pub provider: String,
}
