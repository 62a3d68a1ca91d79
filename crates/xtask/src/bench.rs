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

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

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
const SEARCH: &str = "smith";
const FAKE_MODEL: &str = "bench-zero-latency";
/// The fake model's reply, one streamed delta per piece.
const REPLY_PIECES: [&str; 16] = [
    "Brushing ",
    "twice ",
    "a day ",
    "with ",
    "a fluoride ",
    "toothpaste ",
    "and ",
    "cleaning ",
    "between ",
    "your teeth ",
    "once a day ",
    "keeps ",
    "gums ",
    "healthy; ",
    "ask the clinic ",
    "if anything hurts.",
];

struct Plan {
    quick: bool,
    duration: Duration,
    warmup: Duration,
    conns: u32,
    wrk_threads: u32,
    fixed_rate: u32,
    big: Option<u64>,
}

impl Plan {
    fn new(quick: bool) -> Self {
        Self {
            quick,
            duration: Duration::from_secs(if quick { 5 } else { 15 }),
            warmup: Duration::from_secs(if quick { 1 } else { 3 }),
            conns: 32,
            wrk_threads: 1,
            fixed_rate: 500,
            big: (!quick).then_some(1_000_000),
        }
    }
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
    /// The api's peak RSS once this row had run (the peak only grows: a jump names the row).
    api_rss_kib: Option<u64>,
}

impl Row {
    fn pct(&self) -> Option<f64> {
        self.ceiling_tps.filter(|c| *c > 0.0).map(|c| 100.0 * self.rps / c)
    }
}

/// A process this command started; stopped (SIGTERM, then SIGKILL) when dropped.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Proc {
    /// Peak resident set size so far, in KiB (`VmHWM`).
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.exited() {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("xtask: the {} service did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn bench(root: &Path, quick: bool) -> Result<()> {
    let plan = Plan::new(quick);
    let out_dir = root.join("target").join("bench");
    std::fs::create_dir_all(&out_dir).context("creating target/bench")?;
    ensure_wrk()?;
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
        let results = measure(root, &plan, &bindir, &url, &out_dir)?;
        report(&plan, &results, &out_dir)
    })();
    db.release();
    result
}

fn ensure_wrk() -> Result<()> {
    if Command::new("wrk")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
    {
        return Ok(());
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root {
        bail!("the load generator `wrk` is missing: install it (e.g. `sudo apt-get install -y wrk`)");
    }
    eprintln!("xtask: installing wrk");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "wrk"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return Ok(());
    }
    let _ = Command::new("apt-get")
        .args(["update", "-q"])
        .stdout(Stdio::null())
        .status();
    if install() {
        Ok(())
    } else {
        bail!("could not install `wrk` with apt-get: install it by hand")
    }
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

/// The identities and ids the load runs use.
struct Fixture {
    small: Account,
    big: Option<Account>,
    writer: Account,
    patient_ids: Vec<String>,
}

struct Account {
    email: String,
    id: String,
}

fn measure(root: &Path, plan: &Plan, bindir: &Path, url: &str, out: &Path) -> Result<Results> {
    let bin = crate::stack::target_dir(root).join("release");
    let token = random_hex()?;
    let jwt = random_hex()?;
    let ai_port = free_port();
    let api_port = free_port();
    let api_addr = format!("127.0.0.1:{api_port}");
    let pool = plan.conns;
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
        // As in the Dockerfile: argon2's 19 MiB blocks go back to the OS when freed (see stack.rs).
        ("MALLOC_MMAP_THRESHOLD_".to_owned(), "1048576".to_owned()),
    ];
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
        out,
        pgbench: bindir.join("pgbench"),
        url,
        fixture: &fixture,
    };

    let mut rows = Vec::new();
    rows.extend(with_rss(vec![bench.login()?], &api));
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
    rows.extend(with_rss(vec![bench.search()?], &api));
    rows.extend(with_rss(vec![bench.chat_unary("zero-latency model")?], &api));
    rows.extend(with_rss(bench.chat_streamed("zero-latency model")?.to_vec(), &api));
    let ai_fake_rss_kib = ai.peak_rss_kib();

    drop(ai);
    let mut ai = spawn("ai", &bin.join("ai"), &ai_env("offline"), out)?;
    wait_ready(&mut ai, &format!("127.0.0.1:{ai_port}"), "/health")?;
    wait_ready(&mut api, &api_addr, "/api/v1/health")?;
    rows.extend(with_rss(vec![bench.chat_unary("offline provider")?], &api));
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

fn with_rss(mut rows: Vec<Row>, api: &Proc) -> Vec<Row> {
    let rss = api.peak_rss_kib();
    for row in &mut rows {
        row.api_rss_kib = rss;
    }
    eprintln!("xtask:   api peak RSS so far: {}", fmt_mib(rss));
    rows
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

fn spawn(name: &'static str, program: &Path, env: &[(String, String)], out: &Path) -> Result<Proc> {
    let log = std::fs::File::create(out.join(format!("{name}.log"))).context("creating a log file")?;
    let child = Command::new(program)
        // Not the source tree: a developer's `.env` there must not change what is measured.
        .current_dir(out)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("WEB_DIR")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    Ok(Proc { name, child })
}

fn wait_ready(proc: &mut Proc, addr: &str, path: &str) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if proc.exited() {
            bail!(
                "the {} service exited during start-up (see target/bench/{}.log)",
                proc.name,
                proc.name
            );
        }
        if Client::new(addr)
            .call("GET", path, None, None, &mut |_| {})
            .is_ok_and(|s| s == 200)
        {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
    bail!("the {} service did not become healthy within 60 s", proc.name)
}

fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn psql_value(psql: &Path, url: &str, sql: &str) -> Result<String> {
    let out = Command::new(psql)
        .args([url, "-XtAc", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn register(api: &str, label: &str) -> Result<Account> {
    let email = format!(
        "bench-{label}-{}@example.com",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros())
    );
    let body = format!(r#"{{"email":"{email}","password":"{PASSWORD}","fullName":"Bench {label}"}}"#);
    let (status, reply) = Client::new(api).fetch("POST", "/api/v1/auth/register", None, Some(&body))?;
    if status != 201 {
        bail!(
            "registering the bench user failed ({status}): {}",
            String::from_utf8_lossy(&reply)
        );
    }
    let text = String::from_utf8_lossy(&reply);
    let user = text.split_once(r#""user":"#).map_or("", |(_, u)| u);
    let id = json_string_field(user, "id").context("no user id in the session")?;
    Ok(Account { email, id })
}

/// A fresh access token (they live 15 minutes; a full run takes longer).
fn login(api: &str, account: &Account) -> Result<String> {
    let body = format!(r#"{{"email":"{}","password":"{PASSWORD}"}}"#, account.email);
    let (status, reply) = Client::new(api).fetch("POST", "/api/v1/auth/login", None, Some(&body))?;
    if status != 200 {
        bail!("logging in failed ({status}): {}", String::from_utf8_lossy(&reply));
    }
    json_string_field(&String::from_utf8_lossy(&reply), "accessToken").context("no access token in the session")
}

/// The value of the first `"field":"..."` in `json` (enough for ids and tokens, which need no escaping).
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let start = json.find(&format!(r#""{field}":""#))? + field.len() + 4;
    let end = json[start..].find('"')?;
    Some(json[start..start + end].to_owned())
}

fn seed(plan: &Plan, api: &str, psql: &Path, url: &str, superuser: bool) -> Result<Fixture> {
    let small = register(api, "1k")?;
    let writer = register(api, "writer")?;
    let big = plan.big.map(|_| register(api, "1m")).transpose()?;
    let mut jobs = vec![(&small, 1_000_u64)];
    if let (Some(big), Some(n)) = (&big, plan.big) {
        jobs.push((big, n));
    }
    for (account, n) in jobs {
        let started = Instant::now();
        eprintln!("xtask: seeding {n} patients for one user");
        // Superuser: the per-row counter trigger is skipped and the count fixed up once.
        let replica = if superuser {
            "set session_replication_role = replica;"
        } else {
            ""
        };
        let uid = &account.id;
        let sql = format!(
            "{replica}
            insert into patients (user_id, name, email, phone, date_of_birth, medical_notes, created_at, updated_at)
            select '{uid}'::uuid,
                   (array['Ana','Bruno','Carla','Diego','Elena','Felipe','Gina','Hugo','Ines','Jonas',
                           'Kira','Luis','Marta','Nico','Olga','Pablo'])[1 + g % 16]
                     || ' ' ||
                   (array['Silva','Smith','Garcia','Novak','Costa','Meyer','Rossi','Dubois','Kowalski',
                           'Jensen','Moreau','Santos','Fischer','Lopez','Walsh','Nagy','Horvat','Berg',
                           'Ortiz','Keller','Ward','Romero','Quinn','Vidal','Young'])[1 + (g / 16) % 25]
                     || ' ' || g,
                   'patient' || g || '@example.com',
                   '+1555' || lpad(g::text, 7, '0'),
                   date '1950-01-01' + (g % 20000),
                   case when g % 3 = 0 then 'Sensitive to cold; prefers morning appointments.' end,
                   now() - make_interval(secs => g),
                   now() - make_interval(secs => g)
            from generate_series(1, {n}) g;
            reset session_replication_role;
            insert into patient_counts (user_id, n)
            select '{uid}'::uuid, count(*) from patients where user_id = '{uid}'::uuid
            on conflict (user_id) do update set n = excluded.n;"
        );
        let sql = if superuser {
            sql
        } else {
            sql.replace("reset session_replication_role;", "")
        };
        run(
            Command::new(psql).args([
                url,
                "-Xq",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &sql,
                "-c",
                "vacuum analyze patients",
            ]),
            "seeding patients",
        )?;
        eprintln!("xtask: seeded in {:.1?}", started.elapsed());
    }
    // Ids of the small account's newest patients, through the API (works without superuser rights).
    let token = login(api, &small)?;
    let (status, body) = Client::new(api).fetch("GET", "/api/v1/patients?limit=20", Some(&token), None)?;
    if status != 200 {
        bail!("listing the seeded patients failed ({status})");
    }
    let text = String::from_utf8_lossy(&body);
    let patient_ids: Vec<String> = text
        .match_indices(r#""id":""#)
        .filter_map(|(i, _)| text.get(i + 6..i + 42).map(str::to_owned))
        .collect();
    if patient_ids.len() < 20 {
        bail!("the seeded account shows {} patients, expected 20", patient_ids.len());
    }
    Ok(Fixture {
        small,
        big,
        writer,
        patient_ids,
    })
}

/// What one load run measured.
struct Measured {
    requests: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
}

struct Bench<'a> {
    plan: &'a Plan,
    api: &'a str,
    out: &'a Path,
    pgbench: PathBuf,
    url: &'a str,
    fixture: &'a Fixture,
}

/// How a wrk run builds its requests.
struct WrkRequest<'a> {
    method: &'a str,
    paths: Vec<String>,
    body: Option<String>,
    token: Option<String>,
}

impl Bench<'_> {
    fn wrk_load(&self) -> String {
        format!("wrk -t{} -c{}", self.plan.wrk_threads, self.plan.conns)
    }

    fn row(name: &str, load: String, m: &Measured, ceiling_tps: Option<f64>) -> Row {
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
    fn wrk(&self, label: &str, request: &WrkRequest) -> Result<Measured> {
        let script = self.out.join(format!("{label}.lua"));
        std::fs::write(&script, wrk_script(request)).context("writing a wrk script")?;
        run_wrk(self.plan, self.api, &script, self.plan.warmup)?;
        run_wrk(self.plan, self.api, &script, self.plan.duration)
    }

    fn token(&self, account: &Account) -> Result<String> {
        login(self.api, account)
    }

    fn login(&self) -> Result<Row> {
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

    fn list(&self, account: &Account, name: &str) -> Result<Row> {
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
            "select id, name, email, phone, date_of_birth, medical_notes, created_at, updated_at, \
             coalesce((select n from patient_counts where user_id = :uid::uuid), 0) as total \
             from patients where user_id = :uid::uuid order by created_at desc, id desc limit 20 offset 0;",
        )?;
        Ok(Self::row(name, self.wrk_load(), &m, Some(ceiling)))
    }

    fn list_fixed_rate(&self) -> Result<Row> {
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

    fn get(&self) -> Result<Row> {
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
            "select id, name, email, phone, date_of_birth, medical_notes, created_at, updated_at \
             from patients where id = :pid::uuid and user_id = :uid::uuid;",
        )?;
        Ok(Self::row("get patient", self.wrk_load(), &m, Some(ceiling)))
    }

    fn create(&self) -> Result<Row> {
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
            "insert into patients (id, user_id, name, email, phone, date_of_birth, medical_notes) \
             values (gen_random_uuid(), :uid::uuid, 'Bench Patient', 'bench@example.com', '+15550001234', \
             date '1980-02-03', null) \
             returning id, name, email, phone, date_of_birth, medical_notes, created_at, updated_at;",
        )?;
        Ok(Self::row(
            "create patient (one account)",
            self.wrk_load(),
            &m,
            Some(ceiling),
        ))
    }

    fn search(&self) -> Result<Row> {
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
                 created_at, updated_at from patients where user_id = :uid::uuid and search_text ilike :pat) \
                 select id, name, email, phone, date_of_birth, medical_notes, created_at, updated_at, \
                 count(*) over () as total from matches order by created_at desc, id desc limit 20 offset 0;",
        )?;
        Ok(Self::row(
            &format!("search \"{SEARCH}\", 1k"),
            self.wrk_load(),
            &m,
            Some(ceiling),
        ))
    }

    fn chat_paths(&self, suffix: &str) -> Vec<String> {
        self.fixture
            .patient_ids
            .iter()
            .map(|id| format!("/api/v1/patients/{id}/messages{suffix}"))
            .collect()
    }

    fn chat_unary(&self, model: &str) -> Result<Row> {
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

    fn chat_streamed(&self, model: &str) -> Result<[Row; 2]> {
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

    /// pgbench running the handler's statements, as the application role, at the same concurrency.
    fn ceiling(&self, label: &str, account: &Account, action: &str, patient: Option<&str>, query: &str) -> Result<f64> {
        let patient_sql = if patient.is_some() { ":pid::uuid" } else { "null::uuid" };
        // The statement `db::UserTx::begin` runs, then the handler's query, in one transaction.
        let script = format!(
            "begin;\n\
             with audit as (insert into audit_events (user_id, action, patient_id, request_id) \
             select :uid::uuid, '{action}', {patient_sql}, 'pgbench' \
             where exists (select 1 from users where id = :uid::uuid and is_active) returning 1) \
             select set_config('app.user_id', :uid::uuid::text, true) is not null and exists (select 1 from audit);\n\
             {query}\n\
             commit;\n"
        );
        let path = self.out.join(format!("{label}.pgbench.sql"));
        std::fs::write(&path, script).context("writing a pgbench script")?;
        let seconds = self.plan.duration.as_secs().max(1).to_string();
        let mut cmd = Command::new(&self.pgbench);
        cmd.args(["-n", "-M", "prepared", "-j", "2", "-c"])
            .arg(self.plan.conns.to_string())
            .args(["-T", &seconds, "-f"])
            .arg(&path)
            .arg("-D")
            .arg(format!("uid={}", account.id));
        // The search pattern as the api builds it (`like_pattern`), bound as a parameter as sqlx does.
        cmd.arg("-D").arg(format!("pat=%{SEARCH}%"));
        if let Some(pid) = patient {
            cmd.arg("-D").arg(format!("pid={pid}"));
        }
        // Every connection runs as the application role, as the api's pool does (`set role dental_app`),
        // so row-level security applies to pgbench too.
        let out = cmd
            .arg(self.url)
            .env("PGOPTIONS", "-c role=dental_app")
            .output()
            .context("running pgbench")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let failed = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("number of failed transactions:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if !out.status.success() || failed > 0 {
            bail!(
                "pgbench failed for {label}: {} {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                text.trim()
            );
        }
        text.lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no tps in pgbench's output: {text}"))
    }
}

#[allow(clippy::cast_precision_loss)]
fn as_f64(n: u64) -> f64 {
    n as f64
}

/// A Lua string literal.
fn lua_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn wrk_script(r: &WrkRequest) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "wrk.method = {}", lua_string(r.method));
    if let Some(body) = &r.body {
        let _ = writeln!(s, "wrk.body = {}", lua_string(body));
        let _ = writeln!(s, "wrk.headers[\"Content-Type\"] = \"application/json\"");
    }
    if let Some(token) = &r.token {
        let _ = writeln!(
            s,
            "wrk.headers[\"Authorization\"] = {}",
            lua_string(&format!("Bearer {token}"))
        );
    }
    let paths: Vec<String> = r.paths.iter().map(|p| lua_string(p)).collect();
    let _ = writeln!(s, "local paths = {{{}}}", paths.join(", "));
    s.push_str(
        "local n = 0\n\
         request = function()\n\
         \x20 n = n + 1\n\
         \x20 return wrk.format(nil, paths[(n % #paths) + 1])\n\
         end\n\
         done = function(summary, latency, requests)\n\
         \x20 local e = summary.errors\n\
         \x20 io.write(string.format(\"BENCHRESULT %.0f %.0f %.0f %.0f %.0f\\n\", summary.requests, summary.duration,\n\
         \x20   latency:percentile(50), latency:percentile(99), e.status + e.connect + e.read + e.write + e.timeout))\n\
         end\n",
    );
    s
}

fn run_wrk(plan: &Plan, api: &str, script: &Path, duration: Duration) -> Result<Measured> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", plan.wrk_threads))
        .arg(format!("-c{}", plan.conns))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .args(["--timeout", "10s", "-s"])
        .arg(script)
        .arg(format!("http://{api}"))
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {} {}",
            String::from_utf8_lossy(&out.stderr).trim(),
            text.trim()
        );
    }
    let numbers: Vec<f64> = text
        .lines()
        .find_map(|l| l.strip_prefix("BENCHRESULT "))
        .map(|l| l.split_whitespace().filter_map(|v| v.parse().ok()).collect())
        .unwrap_or_default();
    let [requests, duration_us, p50_us, p99_us, errors] = numbers[..] else {
        bail!("unexpected wrk output: {text}");
    };
    Ok(Measured {
        requests: to_u64(requests),
        seconds: duration_us / 1e6,
        p50_us,
        p99_us,
        errors: to_u64(errors),
    })
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn to_u64(v: f64) -> u64 {
    v.max(0.0).round() as u64
}

/// The value at percentile `p` (0-100) of sorted microseconds.
fn percentile(sorted: &[u64], p: f64) -> f64 {
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

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Open-loop load at a fixed rate (what wrk2 does): each request's latency is measured from the moment
/// it was due, so a slow response also charges the requests queued behind it (no coordinated omission).
fn fixed_rate(api: &str, path: &str, token: &str, rate: u32, duration: Duration) -> Result<Measured> {
    const WORKERS: u32 = 16;
    let started = Instant::now() + Duration::from_millis(20);
    let end = started + duration;
    let handles: Vec<_> = (0..WORKERS)
        .map(|k| {
            let (api, path, token) = (api.to_owned(), path.to_owned(), token.to_owned());
            thread::spawn(move || {
                let mut client = Client::new(&api);
                let mut latencies = Vec::new();
                let mut errors = 0_u64;
                for i in 0_u32.. {
                    let n = f64::from(i) * f64::from(WORKERS) + f64::from(k);
                    let due = started + Duration::from_secs_f64(n / f64::from(rate));
                    if due >= end {
                        break;
                    }
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    match client.call("GET", &path, Some(&token), None, &mut |_| {}) {
                        Ok(200) => latencies.push(micros(due.elapsed())),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    Ok(Measured {
        requests: all.len() as u64 + errors,
        seconds: started.elapsed().as_secs_f64().min(duration.as_secs_f64()),
        p50_us: percentile(&all, 50.0),
        p99_us: percentile(&all, 99.0),
        errors,
    })
}

/// Closed-loop streamed chat: each connection sends, reads the SSE stream to its end, and sends again.
/// Returns the time to the first `delta` event and the time to the `done` event.
fn streamed(api: &str, paths: &[String], token: &str, conns: u32, duration: Duration) -> Result<(Measured, Measured)> {
    let started = Instant::now();
    let end = started + duration;
    let body = format!(r#"{{"content":"{CHAT_CONTENT}"}}"#);
    let handles: Vec<_> = (0..conns)
        .map(|k| {
            let (api, token, body) = (api.to_owned(), token.to_owned(), body.clone());
            let paths = paths.to_vec();
            thread::spawn(move || {
                let mut client = Client::new(&api);
                let (mut first, mut done, mut errors) = (Vec::new(), Vec::new(), 0_u64);
                let mut n = k as usize;
                while Instant::now() < end {
                    n += 1;
                    let path = &paths[n % paths.len()];
                    let sent = Instant::now();
                    let mut seen = String::new();
                    let (mut t_first, mut t_done, mut failed) = (None, None, false);
                    let status = client.call("POST", path, Some(&token), Some(&body), &mut |data| {
                        seen.push_str(&String::from_utf8_lossy(data));
                        if t_first.is_none() && seen.contains("event: delta") {
                            t_first = Some(sent.elapsed());
                        }
                        if t_done.is_none() && seen.contains("event: done") {
                            t_done = Some(sent.elapsed());
                        }
                        failed |= seen.contains("event: error");
                        // Keep only the tail, where the next event name may be split.
                        if seen.len() > 64 {
                            let cut = seen.len() - 32;
                            let cut = (cut..seen.len()).find(|i| seen.is_char_boundary(*i)).unwrap_or(0);
                            seen.drain(..cut);
                        }
                    });
                    match (status, t_first, t_done, failed) {
                        (Ok(200), Some(f), Some(d), false) => {
                            first.push(micros(f));
                            done.push(micros(d));
                        }
                        _ => errors += 1,
                    }
                }
                (first, done, errors)
            })
        })
        .collect();
    let (mut first, mut done, mut errors) = (Vec::new(), Vec::new(), 0);
    for h in handles {
        let (f, d, e) = h.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        first.extend(f);
        done.extend(d);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    first.sort_unstable();
    done.sort_unstable();
    let measured = |v: &[u64]| Measured {
        requests: v.len() as u64 + errors,
        seconds,
        p50_us: percentile(v, 50.0),
        p99_us: percentile(v, 99.0),
        errors,
    };
    Ok((measured(&first), measured(&done)))
}

/// A minimal blocking HTTP/1.1 client with keep-alive (enough for JSON and SSE from our own api).
struct Client {
    addr: String,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            conn: None,
        }
    }

    /// Sends one request; `on_data` sees the body as it arrives. A broken connection is dropped and
    /// the next call opens a new one.
    fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        on_data: &mut dyn FnMut(&[u8]),
    ) -> Result<u16> {
        let result = self.try_call(method, path, token, body, on_data);
        match &result {
            Ok((_, false)) => {}
            _ => self.conn = None,
        }
        result.map(|(status, _)| status)
    }

    fn fetch(&mut self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Result<(u16, Vec<u8>)> {
        let mut all = Vec::new();
        let status = self.call(method, path, token, body, &mut |d| all.extend_from_slice(d))?;
        Ok((status, all))
    }

    fn try_call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        on_data: &mut dyn FnMut(&[u8]),
    ) -> Result<(u16, bool)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr).with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(BufReader::new(stream));
        }
        let Some(reader) = self.conn.as_mut() else {
            bail!("no connection");
        };
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(token) = token {
            let _ = write!(request, "Authorization: Bearer {token}\r\n");
        }
        if let Some(body) = body {
            let _ = write!(
                request,
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        } else {
            request.push_str("\r\n");
        }
        reader.get_mut().write_all(request.as_bytes())?;
        read_response(reader, on_data)
    }
}

/// Reads one response: status, whether the server will close, the body passed to `on_data`.
fn read_response(reader: &mut BufReader<TcpStream>, on_data: &mut dyn FnMut(&[u8])) -> Result<(u16, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        bail!("the connection closed");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("not an HTTP status line")?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("the connection closed in the headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    if status == 204 || status == 304 {
        return Ok((status, close));
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size =
                usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).context("bad chunk size")?;
            if size == 0 {
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            on_data(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        on_data(&body);
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        on_data(&body);
        close = true;
    }
    Ok((status, close))
}

/// A zero-latency OpenAI-compatible server: answers `/v1/chat/completions` at once, unary or streamed
/// (`data:` chunks, a usage chunk, `data: [DONE]`), so a chat run measures our services and nothing else.
mod fake_openai {
    use super::{
        Arc, BufRead, BufReader, FAKE_MODEL, REPLY_PIECES, Read, Result, TcpListener, TcpStream, Write, thread,
    };
    use std::fmt::Write as _;

    struct Responses {
        unary: Vec<u8>,
        stream: Vec<u8>,
        not_found: Vec<u8>,
    }

    fn responses() -> Responses {
        let head = format!(r#""id":"chatcmpl-bench","created":1767225600,"model":"{FAKE_MODEL}""#);
        let text: String = REPLY_PIECES.concat();
        let usage = format!(
            r#"{{"prompt_tokens":180,"completion_tokens":{},"total_tokens":{}}}"#,
            REPLY_PIECES.len(),
            180 + REPLY_PIECES.len()
        );
        let unary_body = format!(
            r#"{{{head},"object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}","refusal":null}},"logprobs":null,"finish_reason":"stop"}}],"usage":{usage}}}"#
        );
        let unary = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{unary_body}",
            unary_body.len()
        );
        let chunk = |delta: &str, finish: &str| {
            format!(
                r#"data: {{{head},"object":"chat.completion.chunk","choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}],"usage":null}}"#
            ) + "\n\n"
        };
        let mut events = vec![chunk(r#"{"role":"assistant","content":""}"#, "null")];
        events.extend(
            REPLY_PIECES
                .iter()
                .map(|p| chunk(&format!(r#"{{"content":"{p}"}}"#), "null")),
        );
        events.push(chunk("{}", r#""stop""#));
        events.push(
            format!(r#"data: {{{head},"object":"chat.completion.chunk","choices":[],"usage":{usage}}}"#) + "\n\n",
        );
        events.push("data: [DONE]\n\n".to_owned());
        let mut stream =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_owned();
        for e in events {
            let _ = write!(stream, "{:x}\r\n{e}\r\n", e.len());
        }
        stream.push_str("0\r\n\r\n");
        let not_found_body =
            r#"{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}"#;
        let not_found = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{not_found_body}",
            not_found_body.len()
        );
        Responses {
            unary: unary.into_bytes(),
            stream: stream.into_bytes(),
            not_found: not_found.into_bytes(),
        }
    }

    /// Listens on a free port of 127.0.0.1 (a thread per connection) and returns the port.
    pub fn start() -> Result<u16> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let responses = Arc::new(responses());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let responses = responses.clone();
                thread::spawn(move || serve(stream, &responses));
            }
        });
        Ok(port)
    }

    fn serve(stream: TcpStream, responses: &Responses) {
        let _ = stream.set_nodelay(true);
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut body = Vec::new();
        loop {
            line.clear();
            if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                return;
            }
            let known = line
                .split_whitespace()
                .nth(1)
                .is_some_and(|p| p.ends_with("/v1/chat/completions"));
            let mut length = 0;
            loop {
                line.clear();
                if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                    return;
                }
                let header = line.trim_end();
                if header.is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            body.resize(length, 0);
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let streaming = body.windows(13).any(|w| w == br#""stream":true"#);
            let response = match (known, streaming) {
                (false, _) => &responses.not_found,
                (true, true) => &responses.stream,
                (true, false) => &responses.unary,
            };
            if writer.write_all(response).is_err() {
                return;
            }
        }
    }
}

fn fmt_ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn fmt_mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".to_owned(), |k| format!("{:.1} MiB", as_f64(k) / 1024.0))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn cpus() -> usize {
    thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time (Howard Hinnant's civil-from-days).
fn utc(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_number(v: Option<f64>) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "null".to_owned(), |v| format!("{v:.2}"))
}

/// The table, the settings it was measured with, and the targets it is read against.
fn table(plan: &Plan, r: &Results) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "| what | load | req/s | p50 ms | p99 ms | errors | pgbench ceiling (tps) | % of ceiling |"
    );
    let _ = writeln!(t, "|---|---|---:|---:|---:|---:|---:|---:|");
    for row in &r.rows {
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} |",
            row.name,
            row.load,
            row.rps,
            fmt_ms(row.p50_ms),
            fmt_ms(row.p99_ms),
            row.errors,
            row.ceiling_tps.map_or_else(|| "-".to_owned(), |c| format!("{c:.0}")),
            row.pct().map_or_else(|| "-".to_owned(), |p| format!("{p:.0}%")),
        );
    }
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "Peak RSS (VmHWM): api {}, ai {} (zero-latency model) / {} (offline provider).",
        fmt_mib(r.api_rss_kib),
        fmt_mib(r.ai_fake_rss_kib),
        fmt_mib(r.ai_offline_rss_kib)
    );
    let _ = writeln!(
        t,
        "{} mode, {} s per row after a {} s warm-up, on {} CPUs ({}); load generator, pgbench, PostgreSQL, api and ai share them. Load average (1 min) {:.1} before, {:.1} after.",
        if plan.quick { "Quick" } else { "Full" },
        plan.duration.as_secs(),
        plan.warmup.as_secs(),
        cpus(),
        cpu_model(),
        r.load.0,
        r.load.1
    );
    if r.load.0.max(r.load.1) > as_f64(cpus() as u64) {
        let _ = writeln!(
            t,
            "The machine was busy with other work during the run: read these numbers as a lower bound."
        );
    }
    let _ = writeln!(
        t,
        "api: DATABASE_MAX_CONNECTIONS={}, RUST_LOG={}, rate limits raised for the run: {}.",
        r.pool,
        r.rust_log,
        RATE_LIMITS
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        t,
        "pgbench: -M prepared -c{} -j2, the statement db::UserTx::begin runs (audit insert + active check + set_config) and the handler's query in one transaction, connected with PGOPTIONS='-c role=dental_app' (row-level security applies).{}",
        plan.conns,
        if r.superuser {
            ""
        } else {
            " Seeded without superuser rights (the counter trigger ran per row)."
        }
    );
    t
}

/// Targets from the issue, each with its measured value (reported, not asserted).
fn targets(r: &Results) -> String {
    let find = |prefix: &str| r.rows.iter().find(|row| row.name.starts_with(prefix));
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    let mut t = String::new();
    if let Some(list) = find("list patients, 1k of") {
        let _ = writeln!(
            t,
            "- list >= 5,000 req/s at 1k patients: {:.0} req/s, {}",
            list.rps,
            mark(list.rps >= 5000.0)
        );
        if let Some(pct) = list.pct() {
            let _ = writeln!(
                t,
                "- list >= 50% of its pgbench ceiling: {pct:.0}%, {}",
                mark(pct >= 50.0)
            );
        }
        if let Some(big) = r.rows.iter().find(|row| row.name.contains("M of theirs")) {
            let ratio = big.p50_ms / list.p50_ms.max(f64::MIN_POSITIVE);
            let ratio99 = big.p99_ms / list.p99_ms.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                t,
                "- list at 1M within 1.5x of 1k latency: p50 {ratio:.2}x, p99 {ratio99:.2}x, {}",
                mark(ratio <= 1.5)
            );
        }
    }
    if let Some(fixed) = find("list patients, 1k, at a fixed") {
        let _ = writeln!(
            t,
            "- p99 < 10 ms at 500 req/s (list): {} ms, {}",
            fmt_ms(fixed.p99_ms),
            mark(fixed.p99_ms < 10.0 && fixed.errors == 0)
        );
    }
    if let Some(chat) = find("chat unary, zero-latency") {
        let _ = writeln!(
            t,
            "- chat >= 1,000 msg/s with a zero-latency model: {:.0} msg/s, {}",
            chat.rps,
            mark(chat.rps >= 1000.0)
        );
        let _ = writeln!(
            t,
            "- chat p99 < 20 ms (same run, closed loop): {} ms, {}",
            fmt_ms(chat.p99_ms),
            mark(chat.p99_ms < 20.0)
        );
    }
    let mib = |k: Option<u64>| k.map_or(f64::INFINITY, |k| as_f64(k) / 1024.0);
    let _ = writeln!(
        t,
        "- api RSS < 50 MB: {}, {}",
        fmt_mib(r.api_rss_kib),
        mark(mib(r.api_rss_kib) < 50.0)
    );
    let ai = r.ai_fake_rss_kib.max(r.ai_offline_rss_kib);
    let _ = writeln!(t, "- ai RSS < 30 MB: {}, {}", fmt_mib(ai), mark(mib(ai) < 30.0));
    t
}

fn json(plan: &Plan, r: &Results, when: &str) -> String {
    let mut j = String::new();
    let _ = writeln!(j, "{{");
    let _ = writeln!(j, "  \"timestamp\": {},", json_string(when));
    let _ = writeln!(
        j,
        "  \"mode\": {},",
        json_string(if plan.quick { "quick" } else { "full" })
    );
    let _ = writeln!(
        j,
        "  \"machine\": {{\"cpus\": {}, \"cpu\": {}, \"load_average_before\": {:.2}, \"load_average_after\": {:.2}}},",
        cpus(),
        json_string(&cpu_model()),
        r.load.0,
        r.load.1
    );
    let _ = writeln!(
        j,
        "  \"settings\": {{\"seconds_per_row\": {}, \"warmup_seconds\": {}, \"connections\": {}, \"wrk_threads\": {}, \"fixed_rate\": {}, \"database_max_connections\": {}, \"rust_log\": {}, \"rate_limits\": {{{}}}}},",
        plan.duration.as_secs(),
        plan.warmup.as_secs(),
        plan.conns,
        plan.wrk_threads,
        plan.fixed_rate,
        r.pool,
        json_string(&r.rust_log),
        RATE_LIMITS
            .iter()
            .map(|(k, v)| format!("{}: {v}", json_string(k)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        j,
        "  \"peak_rss_kib\": {{\"api\": {}, \"ai_zero_latency_model\": {}, \"ai_offline\": {}}},",
        r.api_rss_kib.map_or_else(|| "null".to_owned(), |v| v.to_string()),
        r.ai_fake_rss_kib.map_or_else(|| "null".to_owned(), |v| v.to_string()),
        r.ai_offline_rss_kib
            .map_or_else(|| "null".to_owned(), |v| v.to_string()),
    );
    let _ = writeln!(j, "  \"rows\": [");
    for (i, row) in r.rows.iter().enumerate() {
        // One row per line, so `compare` (and grep) can read it back without a JSON parser.
        let _ = writeln!(
            j,
            "    {{\"name\": {}, \"load\": {}, \"requests\": {}, \"rps\": {:.1}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}, \"errors\": {}, \"ceiling_tps\": {}, \"pct_of_ceiling\": {}, \"api_peak_rss_kib\": {}}}{}",
            json_string(&row.name),
            json_string(&row.load),
            row.requests,
            row.rps,
            row.p50_ms,
            row.p99_ms,
            row.errors,
            json_number(row.ceiling_tps),
            json_number(row.pct()),
            row.api_rss_kib.map_or_else(|| "null".to_owned(), |v| v.to_string()),
            if i + 1 < r.rows.len() { "," } else { "" }
        );
    }
    let _ = writeln!(j, "  ]");
    let _ = writeln!(j, "}}");
    j
}

/// The number after `"key": ` on a JSON line written by [`json`].
fn json_line_number(line: &str, key: &str) -> Option<f64> {
    let start = line.find(&format!("\"{key}\": "))? + key.len() + 4;
    let rest = &line[start..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

/// Changes against the previous run's rows of the same name.
fn compare(previous: &str, r: &Results) -> String {
    let mut t = String::new();
    for row in &r.rows {
        let needle = format!("\"name\": {},", json_string(&row.name));
        let Some(line) = previous.lines().find(|l| l.contains(&needle)) else {
            continue;
        };
        let (Some(rps), Some(p99)) = (json_line_number(line, "rps"), json_line_number(line, "p99_ms")) else {
            continue;
        };
        let change = |now: f64, then: f64| {
            if then > 0.0 {
                format!("{:+.0}%", 100.0 * (now - then) / then)
            } else {
                "n/a".to_owned()
            }
        };
        let _ = writeln!(
            t,
            "  {:<46} req/s {:>8.0} -> {:>8.0} ({:>5})   p99 {:>7} -> {:>7} ms ({:>5})",
            row.name,
            rps,
            row.rps,
            change(row.rps, rps),
            fmt_ms(p99),
            fmt_ms(row.p99_ms),
            change(row.p99_ms, p99)
        );
    }
    t
}

fn report(plan: &Plan, r: &Results, out: &Path) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let when = utc(now);
    let json = json(plan, r, &when);
    let latest = out.join("latest.json");
    let previous = std::fs::read_to_string(&latest).ok();
    let file = out.join(format!(
        "bench-{}-{}.json",
        when.replace(':', ""),
        if plan.quick { "quick" } else { "full" }
    ));
    std::fs::write(&file, &json).with_context(|| format!("writing {}", file.display()))?;
    std::fs::write(&latest, &json).context("writing latest.json")?;

    println!();
    print!("{}", table(plan, r));
    println!();
    println!("Targets (reported, not asserted):");
    print!("{}", targets(r));
    if let Some(previous) = previous {
        let changes = compare(&previous, r);
        if !changes.is_empty() {
            println!();
            println!("Compared with the previous run (target/bench/latest.json before this one):");
            print!("{changes}");
        }
    }
    println!();
    println!("Written to {} and {}", file.display(), latest.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn percentile_picks_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert!((percentile(&v, 50.0) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 99.0) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&[], 99.0)).abs() < f64::EPSILON);
    }

    #[test]
    fn json_rows_can_be_read_back() {
        let line = r#"    {"name": "x", "rps": 123.4, "p99_ms": 5.000, "errors": 0}"#;
        assert_eq!(json_line_number(line, "rps"), Some(123.4));
        assert_eq!(json_line_number(line, "p99_ms"), Some(5.0));
    }

    #[test]
    fn fields_are_found_in_a_session() {
        let s = r#"{"accessToken":"abc.def","user":{"id":"42"}}"#;
        assert_eq!(json_string_field(s, "accessToken").as_deref(), Some("abc.def"));
        assert_eq!(json_string_field(s, "id").as_deref(), Some("42"));
    }
}
