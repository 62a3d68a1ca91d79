//! The request/response rows: each drives the api with `wrk` (or the open-loop client) and is set
//! against its pgbench ceiling where the database bounds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::client::{fixed_rate, streamed};
use super::cpu;
use super::pgbench::{handler_tx, route_call};
use super::setup::{Account, Fixture, login};
use super::wrk::{WrkRequest, run_wrk, wrk_script};
use super::{CHAT_CONTENT, PASSWORD, Plan, Row};

/// What one load run measured.
pub(super) struct Measured {
    pub(super) requests: u64,
    pub(super) seconds: f64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) errors: u64,
    /// Where the run's CPU went per request (`cpu.rs`), for the runs that split it.
    pub(super) cpu: Option<String>,
}

pub(super) struct Bench<'a> {
    pub(super) plan: &'a Plan,
    pub(super) api: &'a str,
    pub(super) api_pid: u32,
    /// The ai service running beside the rows that are not chat (the zero-latency model's; idle there, counted so
    /// the split adds up to the machine's work).
    pub(super) ai_pid: u32,
    pub(super) out: &'a Path,
    pub(super) pgbench: PathBuf,
    pub(super) url: &'a str,
    pub(super) fixture: &'a Fixture,
    /// The bench connects as a superuser: the plain ceilings (as the owner, no row-level security) mean something.
    pub(super) superuser: bool,
}

/// The patient list's query (as in `patient_page`, newest first), kept in step with it by hand.
const LIST_SQL: &str = "select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, \
     updated_at, last_emergency_at, \
     coalesce((select n from patient_counts where clinic_id = :cid::uuid), 0) as total \
     from patients where clinic_id = :cid::uuid and deleted_at is null \
     order by created_at desc, id desc limit 20 offset 0;";

/// The create handler's insert (`patients::queries::insert`), kept in step with it by hand.
const CREATE_SQL: &str = "insert into patients (id, clinic_id, created_by, name, email, phone, date_of_birth, medical_notes) \
     values (gen_random_uuid(), :cid::uuid, :uid::uuid, 'Bench Patient', 'bench@example.com', \
     '+15550001234', date '1980-02-03', null) \
     returning id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, \
     last_emergency_at;";

impl Bench<'_> {
    pub(super) fn wrk_load(&self) -> String {
        format!("wrk -t{} -c{}", self.plan.wrk_threads, self.plan.conns)
    }

    pub(super) fn row(name: &str, load: String, m: &Measured, ceiling_tps: Option<f64>) -> Row {
        Self::row_with(name, load, m, ceiling_tps, None)
    }

    /// A row with the handler's SQL ceiling and the plain query's (`plain_tps`).
    pub(super) fn row_with(
        name: &str,
        load: String,
        m: &Measured,
        ceiling_tps: Option<f64>,
        plain_tps: Option<f64>,
    ) -> Row {
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
            plain_tps,
            api_rss_kib: None,
            cpu: m.cpu.clone(),
        };
        eprintln!(
            "xtask: {:<42} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}{}{}",
            row.name,
            row.rps,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            row.ceiling_tps
                .map(|c| format!("  pgbench {c:.0} tps ({:.0}%)", row.pct().unwrap_or(0.0)))
                .unwrap_or_default(),
            row.plain_tps
                .map(|c| format!("  plain {c:.0} tps ({:.0}%)", row.plain_pct().unwrap_or(0.0)))
                .unwrap_or_default()
        );
        if let Some(cpu) = &row.cpu {
            eprintln!("xtask:   {cpu}");
        }
        row
    }

    /// A warm-up run, then the measured one.
    pub(super) fn wrk(&self, label: &str, request: &WrkRequest) -> Result<Measured> {
        self.wrk_at(label, request, self.plan.conns, self.ai_pid)
    }

    /// As [`Bench::wrk`] at `conns` connections beside the ai service `ai_pid`. The measured run's CPU is split
    /// between the api, the ai service, PostgreSQL and this command: what the rest of the path costs per request
    /// bounds the api's share of a ceiling that pgbench measures with the machine to itself.
    pub(super) fn wrk_at(&self, label: &str, request: &WrkRequest, conns: u32, ai_pid: u32) -> Result<Measured> {
        let script = self.out.join(format!("{label}.lua"));
        std::fs::write(&script, wrk_script(request)).context("writing a wrk script")?;
        run_wrk(self.plan, self.api, &script, self.plan.warmup, conns)?;
        let before = cpu::Snapshot::take(self.api_pid, ai_pid);
        let mut m = run_wrk(self.plan, self.api, &script, self.plan.duration, conns)?;
        m.cpu = Some(before.per_request(&cpu::Snapshot::take(self.api_pid, ai_pid), m.requests));
        Ok(m)
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
        let (full, plain) = self.ceilings(
            &format!("list-{}", &account.id[..8]),
            account,
            None,
            &route_call("patient_page", "'-createdAt', 20, 0"),
            LIST_SQL,
            &[],
        )?;
        Ok(Self::row_with(name, self.wrk_load(), &m, full, plain))
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
        let (full, plain) = self.ceilings(
            "get",
            &self.fixture.small,
            Some(&ids[0]),
            &route_call("patient_read", ":pid::uuid"),
            "select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, \
             last_emergency_at from patients where clinic_id = :cid::uuid and id = :pid::uuid and deleted_at is null;",
            &[],
        )?;
        Ok(Self::row_with("get patient", self.wrk_load(), &m, full, plain))
    }

    pub(super) fn create(&self) -> Result<Row> {
        let m = self.wrk(
            "create",
            &WrkRequest {
                method: "POST",
                // The same patient each time: past the front desk's duplicate check, as a confirmed duplicate.
                paths: vec!["/api/v1/patients?confirmDuplicate=true".to_owned()],
                body: Some(
                    r#"{"name":"Bench Patient","email":"bench@example.com","phone":"+15550001234","dateOfBirth":"1980-02-03"}"#
                        .to_owned(),
                ),
                token: Some(self.token(&self.fixture.writer)?),
            },
        )?;
        let (full, plain) = self.ceilings(
            "create",
            &self.fixture.writer,
            Some("00000000-0000-7000-8000-000000000000"),
            &handler_tx("patient.create", true, CREATE_SQL),
            CREATE_SQL,
            &[],
        )?;
        Ok(Self::row_with(
            "create patient (one account)",
            self.wrk_load(),
            &m,
            full,
            plain,
        ))
    }

    /// A search for `term` in `account`'s clinic, beside the handler's query run by pgbench.
    pub(super) fn search(&self, account: &Account, term: &str, name: &str) -> Result<Row> {
        let m = self.wrk(
            &format!("search-{}", &account.id[..8]),
            &WrkRequest {
                method: "GET",
                paths: vec![format!("/api/v1/patients?limit=20&q={term}")],
                body: None,
                token: Some(self.token(account)?),
            },
        )?;
        // The search's query (as in `patient_search`, newest first), kept in step with it by hand, for the plain
        // ceiling. The digits arm is a parameter that is null at run time (`nullif`), as the api binds it for a
        // text term. An email-shaped term (`patient777@`) takes the email key's path there, and here.
        let email = !term.contains(char::is_whitespace)
            && term
                .split_once('@')
                .is_some_and(|(local, rest)| !local.is_empty() && !rest.contains('@'));
        let source = if email {
            "patient_email_matches(:cid::uuid, reverse(patient_fold(split_part(:email, '@', 1))), \
             reverse(patient_fold(split_part(:email, '@', 1))) || chr(1114111), patient_fold(:pat))"
        } else {
            "patients where clinic_id = :cid::uuid and deleted_at is null \
             and (search_text ilike patient_fold(:pat) or search_text ilike nullif(:nopat, '-'))"
        };
        let query = format!(
            "with matches as materialized (select id, name, email, phone, date_of_birth, medical_notes, \
             created_by, created_at, updated_at, last_emergency_at, name_key from {source}) \
             select id, name, email, phone, date_of_birth, medical_notes, created_by, created_at, updated_at, \
             last_emergency_at, count(*) over () as total from matches \
             order by created_at desc, id desc limit 20 offset 0;"
        );
        let args = if email {
            "'-createdAt', :pat, null, :email, 20, 0"
        } else {
            "'-createdAt', :pat, null, null, 20, 0"
        };
        let (full, plain) = self.ceilings(
            &format!("search-{}-{}", &account.id[..8], term.len()),
            account,
            None,
            &route_call("patient_search", args),
            &query,
            &[
                ("pat", format!("%{term}%")),
                ("nopat", "-".to_owned()),
                ("email", term.to_owned()),
            ],
        )?;
        Ok(Self::row_with(name, self.wrk_load(), &m, full, plain))
    }

    pub(super) fn chat_paths(&self, suffix: &str) -> Vec<String> {
        self.fixture
            .patient_ids
            .iter()
            .map(|id| format!("/api/v1/patients/{id}/messages{suffix}"))
            .collect()
    }

    /// Unary chat at `conns` connections; with `ceiling`, beside pgbench running the handler's two transactions.
    /// The measured run's CPU is split between the api, the ai service (`ai_pid`), PostgreSQL and this command.
    pub(super) fn chat_unary(&self, model: &str, conns: u32, ceiling: bool, ai_pid: u32) -> Result<Row> {
        let label = format!("chat-{}-{conns}", model.split(' ').next().unwrap_or("model"));
        let request = WrkRequest {
            method: "POST",
            paths: self.chat_paths(""),
            body: Some(format!(r#"{{"content":"{CHAT_CONTENT}"}}"#)),
            token: Some(self.token(&self.fixture.small)?),
        };
        let m = self.wrk_at(&label, &request, conns, ai_pid)?;
        let ceiling = if ceiling { Some(self.chat_ceiling(conns)?) } else { None };
        let name = if conns == self.plan.conns {
            format!("chat unary, {model}")
        } else {
            format!("chat unary, {model}, {conns} conns")
        };
        let load = format!("wrk -t{} -c{conns}", self.plan.wrk_threads);
        Ok(Self::row(&name, load, &m, ceiling))
    }

    /// What PostgreSQL does for one unary chat message, as the handler (`chat::service::send` without an
    /// idempotency key) runs it: the user's message saved by one call of `chat_send` (gate, audit row, insert,
    /// context and history), then the reply by one call of `chat_reply`, each committed on its own. Messages go round
    /// the same 20 patients as the api's run. pgbench counts a run of the whole script (both calls) as one: its tps
    /// are messages/s.
    fn chat_ceiling(&self, conns: u32) -> Result<f64> {
        // A time-ordered id like the api's `Uuid::now_v7()` (random ones would scatter the inserts over the index).
        let v7 = "(select (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-7' || substr(r, 1, 3) || '-8' \
                  || substr(r, 4, 3) || '-' || substr(r, 7, 12))::uuid \
                  from (select lpad(to_hex((extract(epoch from clock_timestamp()) * 1000)::bigint), 12, '0') as h, \
                  md5(random()::text) as r) s)";
        let roles = "array['owner','clinician']";
        // The id is made in the same statement (the api makes it in the process), and kept for the reply.
        let user = format!(
            "select m.id as msg_id from (select {v7} as id) m \
             cross join lateral chat_send(:uid::uuid, :cid::uuid, {roles}, 'pgbench', :pid::uuid, m.id, :content, \
             5, null, null) limit 1 \\gset\n"
        );
        let reply = format!(
            "select chat_reply(:uid::uuid, :cid::uuid, {roles}, 'pgbench', :pid::uuid, :msg_id::uuid, {v7}, \
             :reply, :meta::jsonb);\n"
        );
        let script = format!("\\set k random(1, {})\n{user}{reply}", self.fixture.patient_ids.len())
            .replace(":pid::uuid", "(:pids::uuid[])[:k::int]");
        let meta = r#"{"provider":"openai","model":"bench-zero-latency","usage":{"promptTokens":180,"completionTokens":16},"latencyMs":1,"emergency":{"detected":false,"severity":"none","categories":[]},"finishReason":"stop"}"#;
        let tps = self.pgbench(
            &format!("chat-{conns}"),
            &self.fixture.small,
            None,
            &script,
            conns,
            true,
            &[
                ("content", CHAT_CONTENT.to_owned()),
                ("reply", super::fake_openai::REPLY_PIECES.concat()),
                ("meta", meta.to_owned()),
            ],
        )?;
        Ok(tps)
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
