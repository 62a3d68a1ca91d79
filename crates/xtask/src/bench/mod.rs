//! `cargo xtask bench`: measures the whole system against its own physical limit.
//!
//! Starts its own stack (release builds of `api` and `ai`, a fresh `dental_bench` database on the private
//! PostgreSQL or `DATABASE_URL`), seeds it with SQL, and drives it from outside: `wrk` (closed loop, Lua
//! scripts under `target/bench/`) for the request/response rows, and a small blocking HTTP/1.1 client
//! here for what `wrk` cannot measure (time to the first streamed delta, a fixed request rate). The
//! database-bound rows are set against `pgbench` running the very SQL the handler runs, as the same role,
//! at the same concurrency, on the same machine: that is the ceiling the api could reach if its own
//! overhead were zero. The AI rows run once against a zero-latency OpenAI-compatible fake served by this
//! process (so the numbers are the api's and the ai service's own cost) and once with the offline provider.
//!
//! Results are printed as one table and written to `target/bench/bench-<time>.json` and `latest.json`.
//!
//! By what each part measures or does: `setup` (the services, accounts and seeded patients), `rows`
//! (the request/response rows), `wrk` (the load generator's scripts and results), `client` (the
//! streamed chat rows and the fixed-rate row), `pgbench` (the database ceilings), `fake_openai` (the
//! zero-latency model) and `report` (table, targets, JSON, comparison). This file plans and runs them.

mod client;
mod cpu;
pub(crate) mod fake_openai;
mod pgbench;
mod portability;
mod report;
mod rows;
mod setup;
mod wrk;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use self::fake_openai::FAKE_MODEL;
use self::report::{fmt_mib, report};
use self::rows::Bench;
use self::setup::{Proc, load_average, psql_value, random_hex, seed, spawn, wait_ready, with_rss};
use self::wrk::ensure_wrk;
use crate::pg::{self, Database};
use crate::run;
use crate::stack::free_port;

/// Every limit far above what two cores can produce, so the run measures work, not refusals.
const RATE_LIMITS: [(&str, &str); 5] = [
    ("RATE_LIMIT_AUTH_PER_MINUTE", "100000000"),
    ("RATE_LIMIT_LOGIN_FAILURES_PER_IP", "100000000"),
    ("RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT", "100000000"),
    ("RATE_LIMIT_GLOBAL_PER_MINUTE", "100000000"),
    ("RATE_LIMIT_CHAT_PER_15_MINUTES", "100000000"),
];

const PASSWORD: &str = "Granite-Tulip-Quasar-7394-molar";
const CHAT_CONTENT: &str = "How often should I floss and brush my teeth?";
/// A common term: one patient in 25 has the surname (40 of the 1,000).
const SEARCH: &str = "smith";
/// A selective term: one patient's email in either clinic (the seed numbers each clinic's patients from 1).
const SELECTIVE: &str = "patient777@";
/// The chat row that the p99 target is read at.
const CHAT_CONNS: u32 = 16;
struct Plan {
    quick: bool,
    scope: Scope,
    duration: Duration,
    warmup: Duration,
    conns: u32,
    wrk_threads: u32,
    fixed_rate: u32,
    big: Option<u64>,
    /// The api's `DATABASE_MAX_CONNECTIONS` (`--pool`; twice the cores by default, see [`default_pool`]).
    pool: u32,
}

impl Plan {
    fn new(quick: bool, scope: Scope, pool: Option<u32>) -> Self {
        Self {
            quick,
            scope,
            duration: Duration::from_secs(if quick { 5 } else { 15 }),
            warmup: Duration::from_secs(if quick { 1 } else { 3 }),
            conns: 32,
            wrk_threads: 1,
            fixed_rate: 500,
            big: (!quick && scope == Scope::All).then_some(1_000_000),
            pool: pool.unwrap_or_else(default_pool),
        }
    }
}

/// The api's pool when `--pool` is not given: twice the machine's cores, as README recommends for the database
/// server's (the bench's PostgreSQL runs on this machine).
fn default_pool() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    u32::try_from(cores.saturating_mul(2)).unwrap_or(u32::MAX)
}

/// What a run measures: everything, or one part of it for quick iteration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    /// The login flood alone (`--login-only`).
    Login,
    /// The unary chat rows alone (`--chat-only`).
    Chat,
}

/// One line of the table.
#[derive(Clone, Default)]
struct Row {
    name: String,
    load: String,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
    requests: u64,
    ceiling_tps: Option<f64>,
    /// pgbench running the plain query alone (as the owner: no row-level security, no audit row, no transaction).
    plain_tps: Option<f64>,
    /// The api's peak RSS once this row had run (the peak only grows: a jump names the row).
    api_rss_kib: Option<u64>,
    /// Where the row's CPU went, per request (`cpu.rs`), for the rows that measure it.
    cpu: Option<String>,
}

impl Row {
    fn pct(&self) -> Option<f64> {
        self.ceiling_tps.filter(|c| *c > 0.0).map(|c| 100.0 * self.rps / c)
    }

    fn plain_pct(&self) -> Option<f64> {
        self.plain_tps.filter(|c| *c > 0.0).map(|c| 100.0 * self.rps / c)
    }
}

/// `portability`: only the export and import rows, with a clinic of that many patients (see `portability.rs`).
pub fn bench(root: &Path, quick: bool, scope: Scope, pool: Option<u32>, portability: Option<u64>) -> Result<()> {
    let plan = Plan::new(quick, scope, pool);
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir).context("creating target/bench")?;
    if portability.is_none() {
        ensure_wrk()?;
    }
    let bindir = pg::find_bindir()?;
    run(
        Command::new(env!("CARGO"))
            .current_dir(root)
            .args(["build", "--release", "-p", "api", "-p", "ai"])
            .env("SQLX_OFFLINE", "true"),
        "cargo build --release",
    )?;

    let db = Database::resolve(root, "postgres")?;
    let result = (|| -> Result<()> {
        let url = match &db {
            Database::Private(pg) => {
                let admin = pg.url("postgres");
                let psql = bindir.join("psql");
                run(
                    Command::new(&psql).args([&admin, "-qc", "drop database if exists dental_bench with (force)"]),
                    "drop the bench database",
                )?;
                run(
                    Command::new(&psql).args([&admin, "-qc", "create database dental_bench"]),
                    "create the bench database",
                )?;
                pg.url("dental_bench")
            }
            Database::External(url) => url.clone(),
        };
        if let Some(patients) = portability {
            return portability::run_bench(root, &bindir, &url, &out_dir, patients);
        }
        let results = measure(root, &plan, &bindir, &url, &out_dir)?;
        if plan.scope != Scope::All {
            partial_report(&results);
            return Ok(());
        }
        report(&plan, &results, &out_dir)
    })();
    db.release();
    result
}

/// `--login-only` and `--chat-only`: their rows and the api's peak, printed, not written (the full table's JSON
/// stays the last full or quick run).
fn partial_report(r: &Results) {
    println!();
    for row in &r.rows {
        println!(
            "{}: {:.1}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors ({}, {} requests)",
            row.name, row.rps, row.p50_ms, row.p99_ms, row.errors, row.load, row.requests
        );
        if let Some(tps) = row.ceiling_tps {
            println!(
                "  its SQL's ceiling (pgbench): {tps:.0}/s, the api at {:.0}%",
                row.rps / tps * 100.0
            );
        }
        if let Some(cpu) = &row.cpu {
            println!("  {cpu}");
        }
        if row.api_rss_kib.is_some() {
            println!("  api peak RSS after it: {}", fmt_mib(row.api_rss_kib));
        }
    }
    println!(
        "api peak RSS (VmHWM) over the whole run, startup and seeding included: {}; load average {:.1} before, {:.1} after.",
        fmt_mib(r.api_rss_kib),
        r.load.0,
        r.load.1
    );
}

/// Everything the run measured.
struct Results {
    rows: Vec<Row>,
    api_rss_kib: Option<u64>,
    ai_fake_rss_kib: Option<u64>,
    ai_offline_rss_kib: Option<u64>,
    pool: u32,
    rust_log: String,
    superuser: bool,
    /// One-minute load average before and after the run: other work on the machine skews everything.
    load: (f64, f64),
}

fn measure(root: &Path, plan: &Plan, bindir: &Path, url: &str, out: &Path) -> Result<Results> {
    let bin = crate::stack::target_dir(root).join("release");
    let token = random_hex()?;
    let jwt = random_hex()?;
    let ai_port = free_port();
    let api_port = free_port();
    let api_addr = format!("127.0.0.1:{api_port}");
    let pool = plan.pool;
    let rust_log = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let fake_port = fake_openai::start()?;
    let load_before = load_average();

    let ai_env = |provider: &str| -> Vec<(String, String)> {
        let mut env = vec![
            ("AI_BIND".to_owned(), format!("127.0.0.1:{ai_port}")),
            ("AI_SERVICE_TOKEN".to_owned(), token.clone()),
            ("AI_PROVIDER".to_owned(), provider.to_owned()),
            ("RUST_LOG".to_owned(), rust_log.clone()),
        ];
        if provider == "openai" {
            env.push(("OPENAI_BASE_URL".to_owned(), format!("http://127.0.0.1:{fake_port}")));
            env.push(("OPENAI_MODEL".to_owned(), FAKE_MODEL.to_owned()));
        }
        env
    };
    let mut ai = spawn("ai", &bin.join("ai"), &ai_env("openai"), out)?;
    wait_ready(&mut ai, &format!("127.0.0.1:{ai_port}"), "/health")?;

    let mut api_env = vec![
        ("DATABASE_URL".to_owned(), url.to_owned()),
        ("JWT_SECRET".to_owned(), jwt),
        ("API_BIND".to_owned(), api_addr.clone()),
        ("AI_SERVICE_URL".to_owned(), format!("http://127.0.0.1:{ai_port}")),
        ("AI_SERVICE_TOKEN".to_owned(), token.clone()),
        ("DATABASE_MAX_CONNECTIONS".to_owned(), pool.to_string()),
        ("RUST_LOG".to_owned(), rust_log.clone()),
    ];
    // The binary bounds its own memory (argon2's buffers are reused, see auth/password.rs): no allocator
    // tuning here, so the run measures what a systemd unit or a container gets.
    api_env.extend(RATE_LIMITS.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut api = spawn("api", &bin.join("api"), &api_env, out)?;
    wait_ready(&mut api, &api_addr, "/api/v1/health")?;

    let psql = bindir.join("psql");
    let superuser = psql_value(&psql, url, "select rolsuper from pg_roles where rolname = current_user")? == "t";
    // pgbench must run as the api's role, or its ceiling would skip row-level security.
    let role = Command::new(&psql)
        .args([url, "-XtAc", "select current_user"])
        .env("PGOPTIONS", "-c role=dental_app")
        .output()
        .context("running psql")?;
    if String::from_utf8_lossy(&role.stdout).trim() != "dental_app" {
        bail!(
            "cannot connect as the dental_app role for pgbench: {}",
            String::from_utf8_lossy(&role.stderr).trim()
        );
    }
    let fixture = seed(plan, &api_addr, &psql, url, superuser)?;
    let bench = Bench {
        plan,
        api: &api_addr,
        api_pid: api.child.id(),
        ai_pid: ai.child.id(),
        out,
        pgbench: bindir.join("pgbench"),
        url,
        fixture: &fixture,
        superuser,
    };

    let mut rows = Vec::new();
    let idle_rss_kib = api.peak_rss_kib();
    eprintln!(
        "xtask:   api peak RSS before the login flood: {}",
        fmt_mib(idle_rss_kib)
    );
    if plan.scope != Scope::Chat {
        rows.extend(with_rss(vec![bench.login()?], &api));
    }
    if plan.scope == Scope::Chat {
        rows.extend(zero_latency_chat(&bench, &api, ai.child.id())?);
    }
    if plan.scope != Scope::All {
        return Ok(Results {
            rows,
            api_rss_kib: api.peak_rss_kib(),
            ai_fake_rss_kib: ai.peak_rss_kib(),
            ai_offline_rss_kib: None,
            pool,
            rust_log,
            superuser,
            load: (load_before, load_average()),
        });
    }
    rows.extend(with_rss(
        vec![bench.list(&fixture.small, "list patients, 1k of theirs")?],
        &api,
    ));
    if let (Some(big), Some(n)) = (&fixture.big, plan.big) {
        let name = format!("list patients, {}M of theirs", n / 1_000_000);
        rows.extend(with_rss(vec![bench.list(big, &name)?], &api));
    }
    rows.extend(with_rss(vec![bench.list_fixed_rate()?], &api));
    rows.extend(with_rss(vec![bench.get()?], &api));
    rows.extend(with_rss(vec![bench.create()?], &api));
    let small = &fixture.small;
    rows.extend(with_rss(
        vec![bench.search(small, SEARCH, &format!("search \"{SEARCH}\", 1k"))?],
        &api,
    ));
    rows.extend(with_rss(
        vec![bench.search(small, SELECTIVE, &format!("search \"{SELECTIVE}\", 1k"))?],
        &api,
    ));
    if let (Some(big), Some(n)) = (&fixture.big, plan.big) {
        let name = format!("search \"{SELECTIVE}\", {}M", n / 1_000_000);
        rows.extend(with_rss(vec![bench.search(big, SELECTIVE, &name)?], &api));
    }
    rows.extend(zero_latency_chat(&bench, &api, ai.child.id())?);
    let ai_fake_rss_kib = ai.peak_rss_kib();

    drop(ai);
    let mut ai = spawn("ai", &bin.join("ai"), &ai_env("offline"), out)?;
    wait_ready(&mut ai, &format!("127.0.0.1:{ai_port}"), "/health")?;
    wait_ready(&mut api, &api_addr, "/api/v1/health")?;
    rows.extend(with_rss(
        vec![bench.chat_unary("offline provider", plan.conns, false, ai.child.id())?],
        &api,
    ));
    rows.extend(with_rss(bench.chat_streamed("offline provider")?.to_vec(), &api));
    let ai_offline_rss_kib = ai.peak_rss_kib();
    let api_rss_kib = api.peak_rss_kib();
    if api.exited() || ai.exited() {
        bail!("a service exited during the run (see target/bench/*.log)");
    }
    Ok(Results {
        rows,
        api_rss_kib,
        ai_fake_rss_kib,
        ai_offline_rss_kib,
        pool,
        rust_log,
        superuser,
        load: (load_before, load_average()),
    })
}

/// The chat rows against the zero-latency model, each with the api's peak after it: unary at the load's
/// connections, unary at [`CHAT_CONNS`] beside its pgbench ceiling, then streamed.
fn zero_latency_chat(bench: &Bench<'_>, api: &Proc, ai_pid: u32) -> Result<Vec<Row>> {
    let model = "zero-latency model";
    let mut rows = with_rss(vec![bench.chat_unary(model, bench.plan.conns, false, ai_pid)?], api);
    rows.extend(with_rss(vec![bench.chat_unary(model, CHAT_CONNS, true, ai_pid)?], api));
    rows.extend(with_rss(bench.chat_streamed(model)?.to_vec(), api));
    Ok(rows)
}
