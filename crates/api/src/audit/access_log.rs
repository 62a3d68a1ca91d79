//! `GET /patients/{id}/access-log` (owners only): who read, changed, deleted, restored, exported or was refused one
//! patient's record, newest first, from the audit trail. Reading it is itself an audit event (shown in the log as a
//! `patient.read`). Pages are keyset pages over `audit_events_clinic_patient_idx`
//! (`clinic_id, patient_id, occurred_at desc, id desc`), so a page costs the same at the millionth row as at the
//! first; `page` without a cursor is accepted (an offset, for clients that number pages).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use shared::records::{AccessEvent, AccessEventPage};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::types::Cursor;
use crate::auth::AuthUser;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::http::pagination::PageQuery;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/patients/{id}/access-log", get(access_log))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// Page number, from 1 (ignored when `cursor` is given).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Items per page, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The previous page's `nextCursor`: the events older than that page.
    #[param(max_length = 64)]
    pub cursor: Option<String>,
}

/// The internal actions a patient's log shows, each with the contract's name for it (creating a record is a change
/// to it; a reply is part of sending; reading the log reads the record). Anything else (auth events, listings)
/// never concerns one patient or is left out.
const SHOWN: [(&str, &str); 11] = [
    ("patient.read", "patient.read"),
    ("patient.create", "patient.update"),
    ("patient.update", "patient.update"),
    ("patient.delete", "patient.delete"),
    ("patient.restore", "patient.restore"),
    ("message.list", "message.list"),
    ("message.send", "message.send"),
    ("message.reply", "message.send"),
    ("patient.export", "patient.export"),
    ("access.denied", "access.denied"),
    ("patient.access_log", "patient.read"),
];

/// The contract's name for an internal action, if the log shows it.
pub fn public_action(internal: &str) -> Option<&'static str> {
    SHOWN.iter().find(|(i, _)| *i == internal).map(|(_, public)| *public)
}

struct EventRow {
    id: i64,
    occurred_at: DateTime<Utc>,
    user_id: Option<Uuid>,
    user_name: Option<String>,
    action: String,
    request_id: Option<String>,
}

/// One page, newest first, and where the next (older) one starts (`limit + 1` rows are read to know whether there
/// is one). With a cursor and without are two statements, so the cursor's bound is an index condition rather than
/// a filter behind an `is null or`.
pub async fn fetch_page(
    conn: &mut PgConnection,
    clinic: Uuid,
    patient: Uuid,
    after: Option<Cursor>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<AccessEvent>, Option<Cursor>)> {
    let actions: Vec<&str> = SHOWN.iter().map(|(internal, _)| *internal).collect();
    let rows = match after {
        Some(after) => {
            sqlx::query_as!(
                EventRow,
                r#"select a.id, a.occurred_at, a.user_id, u.full_name as "user_name?", a.action, a.request_id
                   from audit_events a left join users u on u.id = a.user_id
                   where a.clinic_id = $1 and a.patient_id = $2
                     and (a.occurred_at, a.id) < ($3, $4)
                     and a.action = any($5::text[])
                   order by a.occurred_at desc, a.id desc
                   limit $6"#,
                clinic,
                patient,
                after.at,
                after.id,
                &actions as &[&str],
                limit + 1,
            )
            .fetch_all(conn)
            .await?
        }
        None => {
            sqlx::query_as!(
                EventRow,
                r#"select a.id, a.occurred_at, a.user_id, u.full_name as "user_name?", a.action, a.request_id
                   from audit_events a left join users u on u.id = a.user_id
                   where a.clinic_id = $1 and a.patient_id = $2
                     and a.action = any($3::text[])
                   order by a.occurred_at desc, a.id desc
                   limit $4 offset $5"#,
                clinic,
                patient,
                &actions as &[&str],
                limit + 1,
                offset
            )
            .fetch_all(conn)
            .await?
        }
    };
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for r in rows.into_iter().take(usize::try_from(limit).unwrap_or(0)) {
        last = Some(Cursor {
            at: r.occurred_at,
            id: r.id,
        });
        items.push(AccessEvent {
            at: r.occurred_at,
            user_id: r.user_id,
            user_name: r.user_name,
            action: public_action(&r.action).unwrap_or("patient.read").to_owned(),
            request_id: r.request_id,
        });
    }
    Ok((items, last.filter(|_| more)))
}

/// A patient's access log, newest first (owners only; reading it is itself logged). Works for a patient in the trash.
#[utoipa::path(operation_id = "getAccessLog", get, path = "/patients/{id}/access-log", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The patient's id"), AccessLogQuery),
    responses((status = 200, description = "A page of access events, newest first", body = AccessEventPage),
        (status = 403, description = "Not an owner (`forbidden`), in no clinic (`no_clinic`), or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        (status = 404, description = "Unknown, purged, or another clinic's", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn access_log(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<Uuid>,
    Query(query): Query<AccessLogQuery>,
) -> ApiResult<Json<AccessEventPage>> {
    let (page, limit) = PageQuery {
        page: query.page,
        limit: query.limit,
    }
    .resolve()?;
    let cursor = Cursor::from_query(query.cursor.as_deref())?;
    let offset = if cursor.is_some() {
        0
    } else {
        i64::from(page - 1) * i64::from(limit)
    };
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::AccessLog, Action::AccessLogRead, Some(id)).await?;
    let clinic = tx.clinic_id;
    if !crate::patients::queries::exists_or_trashed(tx.conn(), clinic, id).await? {
        return Err(tx.not_found().await);
    }
    let (items, next) = fetch_page(tx.conn(), clinic, id, cursor, i64::from(limit), offset).await?;
    tx.commit().await?;
    Ok(Json(AccessEventPage {
        has_more: next.is_some(),
        next_cursor: next.map(Cursor::encode),
        items,
        page,
        limit,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let c = Cursor {
            at: DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap_or_default(),
            id: 42,
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in ["", "1", "x.1", "1.x", "1.0", "1.-3", "99999999999999999999.1"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn internal_actions_map_to_the_contract_names() {
        assert_eq!(public_action("message.reply"), Some("message.send"));
        assert_eq!(public_action("patient.access_log"), Some("patient.read"));
        assert_eq!(public_action("access.denied"), Some("access.denied"));
        assert_eq!(public_action("auth.login"), None);
        let contract = [
            "patient.read",
            "patient.update",
            "patient.delete",
            "patient.restore",
            "message.list",
            "message.send",
            "patient.export",
            "access.denied",
        ];
        assert!(SHOWN.iter().all(|(_, public)| contract.contains(public)));
    }
}
