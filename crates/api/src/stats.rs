//! `GET /clinic/stats` (owners only): the clinic overview. Messages staff sent per day, replies flagged as
//! emergencies per day by triage category (from the assistant message's `metadata.emergency`), and model tokens per
//! month (from `metadata.usage`). One aggregate query over `chat_messages_clinic_created_idx`
//! (`clinic_id, created_at`), grouped by UTC day and category; months are summed from the days here. Patients in the
//! trash are left out, as everywhere else.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{Datelike as _, Days, NaiveDate, Utc};
use serde::Deserialize;
use shared::records::{ClinicStats, DayStats, MonthStats};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::db::{Action, ClinicTx, Permission};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};
use crate::state::AppState;

/// The longest range one request may ask for, in days (both ends included).
pub const MAX_DAYS: u64 = 366;

pub fn router() -> Router<AppState> {
    Router::new().route("/clinic/stats", get(stats))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day (`YYYY-MM-DD`, UTC); default 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    /// Last day, included (`YYYY-MM-DD`, UTC); default today.
    #[param(value_type = Option<String>, format = Date)]
    pub to: Option<NaiveDate>,
}

/// A validated range of at most [`MAX_DAYS`] days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    pub fn parse(from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> Result<Self, ApiError> {
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| to.checked_sub_days(Days::new(29)).unwrap_or(to));
        if from > to {
            return Err(ApiError::validation("from", "after_to", "from must not be after to."));
        }
        let days = u64::try_from((to - from).num_days())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if days > MAX_DAYS {
            return Err(ApiError::validation(
                "to",
                "range_too_long",
                format!("The range is at most {MAX_DAYS} days."),
            ));
        }
        Ok(Self { from, to })
    }

    fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while(move |d| *d <= self.to)
    }
}

struct DayRow {
    day: NaiveDate,
    category: Option<String>,
    messages: i64,
    emergencies: i64,
    input_tokens: i64,
    output_tokens: i64,
}

/// The figures of `range`: every day and every month in it, zeros included.
pub async fn compute(conn: &mut PgConnection, clinic: Uuid, range: Range) -> sqlx::Result<ClinicStats> {
    let start = range.from.and_time(chrono::NaiveTime::MIN).and_utc();
    let end = range
        .to
        .checked_add_days(Days::new(1))
        .unwrap_or(range.to)
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let rows = sqlx::query_as!(
        DayRow,
        r#"with m as (
               select (m.created_at at time zone 'UTC')::date as day, m.role,
                      case when m.role = 'assistant' and m.metadata->'emergency'->>'detected' = 'true'
                           then coalesce(m.metadata->'emergency'->>'category', 'other') end as category,
                      m.metadata->'usage' as usage
               from chat_messages m
               where m.clinic_id = $1 and m.created_at >= $2 and m.created_at < $3
                 and not exists (select 1 from patients p
                                 where p.clinic_id = m.clinic_id and p.id = m.patient_id and p.deleted_at is not null)
           )
           select day as "day!", category,
                  count(*) filter (where role = 'user') as "messages!",
                  count(*) filter (where category is not null) as "emergencies!",
                  coalesce(sum(case when jsonb_typeof(usage->'inputTokens') = 'number'
                                    then (usage->>'inputTokens')::numeric end), 0)::bigint as "input_tokens!",
                  coalesce(sum(case when jsonb_typeof(usage->'outputTokens') = 'number'
                                    then (usage->>'outputTokens')::numeric end), 0)::bigint as "output_tokens!"
           from m group by day, category"#,
        clinic,
        start,
        end
    )
    .fetch_all(conn)
    .await?;
    Ok(assemble(range, rows))
}

fn month_key(d: NaiveDate) -> String {
    format!("{:04}-{:02}", d.year(), d.month())
}

fn assemble(range: Range, rows: Vec<DayRow>) -> ClinicStats {
    let mut days: BTreeMap<NaiveDate, DayStats> = range
        .days()
        .map(|date| {
            (
                date,
                DayStats {
                    date,
                    messages: 0,
                    emergencies: BTreeMap::new(),
                },
            )
        })
        .collect();
    let mut months: BTreeMap<String, MonthStats> = BTreeMap::new();
    for date in range.days() {
        let key = month_key(date);
        months.entry(key.clone()).or_insert(MonthStats {
            month: key,
            input_tokens: 0,
            output_tokens: 0,
        });
    }
    for r in rows {
        if let Some(day) = days.get_mut(&r.day) {
            day.messages += r.messages;
            if let Some(category) = r.category.filter(|_| r.emergencies > 0) {
                *day.emergencies.entry(category).or_insert(0) += r.emergencies;
            }
        }
        if let Some(month) = months.get_mut(&month_key(r.day)) {
            month.input_tokens += r.input_tokens;
            month.output_tokens += r.output_tokens;
        }
    }
    ClinicStats {
        days: days.into_values().collect(),
        months: months.into_values().collect(),
    }
}

/// The clinic overview (owners only): messages per day, emergencies per day by category, tokens per month.
#[utoipa::path(operation_id = "getClinicStats", get, path = "/clinic/stats", tag = "clinic", security(("bearer" = [])), params(StatsQuery),
    responses((status = 200, description = "Every day and month of the range, zeros included", body = ClinicStats),
        (status = 403, description = "Not an owner (`forbidden`), in no clinic (`no_clinic`), or the clinic requires two-step sign-in and the caller has not set it up (`mfa_setup_required`)", content_type = "application/problem+json", body = shared::Problem),
        crate::http::openapi::ParamErrors, crate::http::openapi::AuthErrors, crate::http::openapi::CommonErrors))]
pub async fn stats(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Json<ClinicStats>> {
    let range = Range::parse(query.from, query.to, Utc::now().date_naive())?;
    let mut tx = ClinicTx::begin(&state.db, &user, Permission::Stats, Action::StatsRead, None).await?;
    let clinic = tx.clinic_id;
    let stats = compute(tx.conn(), clinic, range).await?;
    tx.commit().await?;
    Ok(Json(stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn ranges_are_at_most_366_days_and_in_order() {
        let today = d("2026-12-02");
        assert_eq!(
            Range::parse(None, None, today).ok(),
            Some(Range {
                from: d("2026-11-03"),
                to: today
            })
        );
        assert!(
            Range::parse(Some(d("2024-01-01")), Some(d("2024-12-31")), today).is_ok(),
            "a leap year: 366 days"
        );
        assert!(
            Range::parse(Some(d("2025-01-01")), Some(d("2026-01-02")), today).is_err(),
            "367 days"
        );
        assert!(Range::parse(Some(d("2026-02-02")), Some(d("2026-02-01")), today).is_err());
        assert!(Range::parse(Some(d("2026-02-01")), Some(d("2026-02-01")), today).is_ok());
    }

    #[test]
    fn every_day_and_month_is_present_and_rows_are_summed() {
        let range = Range {
            from: d("2026-01-30"),
            to: d("2026-02-02"),
        };
        let row = |day: &str, category: Option<&str>, messages, emergencies, tokens| DayRow {
            day: d(day),
            category: category.map(str::to_owned),
            messages,
            emergencies,
            input_tokens: tokens,
            output_tokens: tokens * 2,
        };
        let stats = assemble(
            range,
            vec![
                row("2026-01-31", None, 3, 0, 10),
                row("2026-01-31", Some("avulsed_tooth"), 0, 2, 0),
                row("2026-02-02", Some("swelling"), 1, 1, 5),
            ],
        );
        let dates: Vec<String> = stats.days.iter().map(|x| x.date.to_string()).collect();
        assert_eq!(dates, ["2026-01-30", "2026-01-31", "2026-02-01", "2026-02-02"]);
        assert_eq!(stats.days[1].messages, 3);
        assert_eq!(stats.days[1].emergencies.get("avulsed_tooth"), Some(&2));
        assert!(stats.days[0].emergencies.is_empty());
        let months: Vec<(&str, i64, i64)> = stats
            .months
            .iter()
            .map(|m| (m.month.as_str(), m.input_tokens, m.output_tokens))
            .collect();
        assert_eq!(months, [("2026-01", 10, 20), ("2026-02", 5, 10)]);
    }
}
