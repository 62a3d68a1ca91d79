//! The request/response rows: each drives the api with `wrk` (or the open-loop client) and is set
//! against its pgbench ceiling where the database bounds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::client::{fixed_rate, streamed};
use super::setup::{Account, Fixture, login};
use super::wrk::{WrkRequest, run_wrk, wrk_script};
use super::{CHAT_CONTENT, PASSWORD, Plan, Row, SEARCH};

/// What one load run measured.
pub(super) struct Measured {
    pub(super) requests: u64,
    pub(super) seconds: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) errors: u64,
}

pub(super) struct Bench<'a> {
    pub(super) plan: &'a Plan,
    pub(super) api: &'a str,
    pub(super) out: &'a Path,
    pub(super) pgbench: PathBuf,
    pub(super) url: &'a str,
    pub(super) fixture: &'a Fixture,
}

impl Bench<'_> {
    pub(super) fn wrk_load(&self) -> String {
        format!("wrk -t{} -c{}", self.plan.wrk_threads, self.plan.conns)
    }

    pub(super) fn row(name: &str, load: String, m: &Measured, ceiling_tps: Option<f64>) -> Row {
        let row = Row {
            name: name.to_owned(),
            load,
            rps: if m.seconds > 0.0 {
                as_f64(m.requests) / m.seconds
            } else {
                0.0
            },
            p50_ms: m.p50_us / 1000.0,
            p99_ms: m.p99_us / 1000.0,
            errors: m.errors,
            requests: m.requests,
            ceiling_tps,
            api_rss_kib: None,
        };
        eprintln!(
            "xtask: {:<42} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}",
            row.name,
            row.rps,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            row.ceiling_tps
                .map(|c| format!("  pgbench {c:.0} tps ({:.0}%)", row.pct().unwrap_or(0.0)))
                .unwrap_or_default()
        );
        row
    }

    /// A warm-up run, then the measured one.
    pub(super) fn wrk(&self, label: &str, request: &WrkRequest) -> Result<Measured> {
        let script = self.out.join(format!("{label}.lua"));
        std::fs::write(&script, wrk_script(request)).context("writing a wrk script")?;
        run_wrk(self.plan, self.api, &script, self.plan.warmup)?;
        run_wrk(self.plan, self.api, &script, self.plan.duration)
    }

    pub(super) fn token(&self, account: &Account) -> Result<String> {
        login(self.api, account)
    }

    pub(super) fn login(&self) -> Result<Row> {
        let body = format!(r#"{{"email":"{}","password":"{PASSWORD}"}}"#, self.fixture.small.email);
        let m = self.wrk(
            "login",
            &WrkRequest {
                method: "POST",
                paths: vec!["/api/v1/auth/login".to_owned()],
                body: Some(body),
                token: None,
            },
        )?;
        Ok(Self::row("login (argon2id)", self.wrk_load(), &m, None))
    }

    pub(super) fn list(&self, account: &Account, name: &str) -> Result<Row> {
        let m = self.wrk(
            &format!("list-{}", &account.id[..8]),
            &WrkRequest {
                method: "GET",
                paths: vec!["/api/v1/patients?limit=20".to_owned()],
                body: None,
                token: Some(self.token(account)?),
            },
        )?;
        let ceiling = self.ceiling(
            &format!("list-{}", &account.id[..8]),
            account,
            "patient.list",
            None,
            "select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, \
             coalesce((select n from patient_counts where clinic_id = :cid::uuid), 0) as total \
             from patients where clinic_id = :cid::uuid and deleted_at is null \
             order by created_at desc, id desc limit 20 offset 0;",
        )?;
        Ok(Self::row(name, self.wrk_load(), &m, Some(ceiling)))
    }

    pub(super) fn list_fixed_rate(&self) -> Result<Row> {
        let token = self.token(&self.fixture.small)?;
        let rate = self.plan.fixed_rate;
        let path = "/api/v1/patients?limit=20";
        fixed_rate(self.api, path, &token, rate, self.plan.warmup)?;
        let m = fixed_rate(self.api, path, &token, rate, self.plan.duration)?;
        Ok(Self::row(
            "list patients, 1k, at a fixed rate",
            format!("{rate} req/s open loop, 16 conns"),
            &m,
            None,
        ))
    }

    pub(super) fn get(&self) -> Result<Row> {
        let ids = &self.fixture.patient_ids;
        let m = self.wrk(
            "get",
            &WrkRequest {
                method: "GET",
                paths: ids.iter().map(|id| format!("/api/v1/patients/{id}")).collect(),
                body: None,
                token: Some(self.token(&self.fixture.small)?),
            },
        )?;
        let ceiling = self.ceiling(
            "get",
            &self.fixture.small,
            "patient.read",
            Some(&ids[0]),
            "select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at \
             from patients where clinic_id = :cid::uuid and id = :pid::uuid and deleted_at is null;",
        )?;
        Ok(Self::row("get patient", self.wrk_load(), &m, Some(ceiling)))
    }

    pub(super) fn create(&self) -> Result<Row> {
        let m = self.wrk(
            "create",
            &WrkRequest {
                method: "POST",
                paths: vec!["/api/v1/patients".to_owned()],
                body: Some(
                    r#"{"name":"Bench Patient","email":"bench@example.com","phone":"+15550001234","dateOfBirth":"1980-02-03"}"#
                        .to_owned(),
                ),
                token: Some(self.token(&self.fixture.writer)?),
            },
        )?;
        let ceiling = self.ceiling(
            "create",
            &self.fixture.writer,
            "patient.create",
            Some("00000000-0000-7000-8000-000000000000"),
            "insert into patients (id, clinic_id, created_by, name, email, phone, date_of_birth, medical_notes) \
             values (gen_random_uuid(), :cid::uuid, :uid::uuid, 'Bench Patient', 'bench@example.com', \
             '+15550001234', date '1980-02-03', null) \
             returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at;",
        )?;
        Ok(Self::row(
            "create patient (one account)",
            self.wrk_load(),
            &m,
            Some(ceiling),
        ))
    }

    pub(super) fn search(&self) -> Result<Row> {
        let m = self.wrk(
            "search",
            &WrkRequest {
                method: "GET",
                paths: vec![format!("/api/v1/patients?limit=20&q={SEARCH}")],
                body: None,
                token: Some(self.token(&self.fixture.small)?),
            },
        )?;
        let ceiling = self.ceiling(
            "search",
            &self.fixture.small,
            "patient.list",
            None,
            // The handler's query (patients::queries::search), kept in step with it by hand.
            "with matches as materialized (select id, name, email, phone, date_of_birth, medical_notes, \
                 created_by, created_at, updated_at from patients \
                 where clinic_id = :cid::uuid and deleted_at is null and search_text ilike :pat) \
                 select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, \
                 count(*) over () as total from matches order by created_at desc, id desc limit 20 offset 0;",
        )?;
        Ok(Self::row(
            &format!("search \"{SEARCH}\", 1k"),
            self.wrk_load(),
            &m,
            Some(ceiling),
        ))
    }

    pub(super) fn chat_paths(&self, suffix: &str) -> Vec<String> {
        self.fixture
            .patient_ids
            .iter()
            .map(|id| format!("/api/v1/patients/{id}/messages{suffix}"))
            .collect()
    }

    pub(super) fn chat_unary(&self, model: &str) -> Result<Row> {
        let m = self.wrk(
            &format!("chat-{}", model.split(' ').next().unwrap_or("model")),
            &WrkRequest {
                method: "POST",
                paths: self.chat_paths(""),
                body: Some(format!(r#"{{"content":"{CHAT_CONTENT}"}}"#)),
                token: Some(self.token(&self.fixture.small)?),
            },
        )?;
        Ok(Self::row(&format!("chat unary, {model}"), self.wrk_load(), &m, None))
    }

    pub(super) fn chat_streamed(&self, model: &str) -> Result<[Row; 2]> {
        let token = self.token(&self.fixture.small)?;
        let paths = self.chat_paths("/stream");
        let conns = self.plan.conns;
        streamed(self.api, &paths, &token, conns, self.plan.warmup)?;
        let (first, done) = streamed(self.api, &paths, &token, conns, self.plan.duration)?;
        let load = format!("xtask SSE client, {conns} conns");
        Ok([
            Self::row(
                &format!("chat streamed, {model}: first delta"),
                load.clone(),
                &first,
                None,
            ),
            Self::row(&format!("chat streamed, {model}: done"), load, &done, None),
        ])
    }
}
#[allow(clippy::cast_precision_loss)]
pub(super) fn as_f64(n: u64) -> f64 {
    n as f64
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub(super) fn to_u64(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

/// The value at percentile `p` (0-100) of sorted microseconds.
pub(super) fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * as_f64(sorted.len() as u64)).ceil();
    let index = usize::try_from(to_u64(rank))
        .unwrap_or(usize::MAX)
        .clamp(1, sorted.len())
        - 1;
    as_f64(sorted[index])
}

pub(super) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_picks_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert!((percentile(&v, 50.0) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 99.0) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&[], 99.0)).abs() < f64::EPSILON);
    }
}
