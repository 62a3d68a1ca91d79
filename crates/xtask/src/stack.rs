//! Running the whole system: database, AI service, API (serving the web app).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::pg::Database;
use crate::{have, run};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

fn port_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A random secret for this machine, kept in `.data/` so sessions survive a restart of `up`.
fn secret(root: &Path, name: &str) -> Result<String> {
    let path = root.join(".data").join(name);
    if let Ok(s) = std::fs::read_to_string(&path)
        && s.trim().len() >= 32
    {
        return Ok(s.trim().to_owned());
    }
    let mut bytes = [0u8; 32];
    {
        use std::io::Read as _;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .context("reading /dev/urandom")?;
    }
    let s = bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    });
    std::fs::create_dir_all(root.join(".data"))?;
    std::fs::write(&path, &s)?;
    Ok(s)
}

/// Cargo's target folder: `CARGO_TARGET_DIR` when set, else `target/` of the checkout.
pub fn target_dir(root: &Path) -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), std::path::PathBuf::from)
}

/// Builds `web/` when Node.js is present (npm ci only when the lock file changed). With `check_types`, first
/// regenerates `web/src/api/schema.d.ts` from the api's own description (`api openapi`), so the type check of the
/// build fails if the app and the api have drifted apart.
pub fn build_web(root: &Path, check_types: bool) -> Result<()> {
    let web = root.join("web");
    let stamp = web.join("node_modules/.package-lock.json");
    let lock = web.join("package-lock.json");
    let stale = match (std::fs::metadata(&stamp), std::fs::metadata(&lock)) {
        (Ok(s), Ok(l)) => s.modified().ok() < l.modified().ok(),
        _ => true,
    };
    if stale {
        run(
            Command::new("npm")
                .current_dir(&web)
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]),
            "npm ci",
        )?;
    }
    if check_types {
        let out = Command::new(target_dir(root).join("debug/api"))
            .arg("openapi")
            .output()
            .context("running `api openapi`")?;
        if !out.status.success() {
            bail!("`api openapi` failed");
        }
        // `npm run gen:api` reads ../target/openapi.json (the checkout's target/, even under CARGO_TARGET_DIR).
        std::fs::create_dir_all(root.join("target"))?;
        std::fs::write(root.join("target/openapi.json"), &out.stdout)?;
        run(
            Command::new("npm")
                .current_dir(&web)
                .args(["run", "gen:api", "--silent"]),
            "npm run gen:api",
        )?;
    }
    run(
        Command::new("npm").current_dir(&web).args(["run", "build", "--silent"]),
        "web build",
    )
}

pub struct Services {
    children: Vec<(String, Child)>,
    pub api_url: String,
    api: ApiSpec,
}

/// What every api instance of a stack shares (one database, one ai service, the same secrets).
struct ApiSpec {
    bin: std::path::PathBuf,
    database_url: String,
    jwt: String,
    token: String,
    ai_port: u16,
    web_dir: Option<std::path::PathBuf>,
    env: Vec<(String, String)>,
}

impl ApiSpec {
    fn command(&self, port: u16, extra: &[(&str, &str)]) -> Command {
        let mut api = Command::new(&self.bin);
        api.env("DATABASE_URL", &self.database_url)
            .env("JWT_SECRET", &self.jwt)
            .env("API_BIND", format!("127.0.0.1:{port}"))
            .env("AI_SERVICE_URL", format!("http://127.0.0.1:{}", self.ai_port))
            .env("AI_SERVICE_TOKEN", &self.token)
            .env(
                "CORS_ALLOWED_ORIGINS",
                std::env::var("CORS_ALLOWED_ORIGINS").unwrap_or_else(|_| "http://localhost:5173".into()),
            );
        if let Some(web_dir) = &self.web_dir {
            api.env("WEB_DIR", web_dir);
        }
        for (k, v) in &self.env {
            api.env(k, v);
        }
        for (k, v) in extra {
            api.env(k, v);
        }
        api
    }
}

impl Services {
    /// Builds and starts ai and api against `database_url`, waiting until the API's health answers.
    pub fn start(root: &Path, database_url: &str, release: bool, api_port: u16, ai_port: u16) -> Result<Self> {
        Self::start_with(root, database_url, release, api_port, ai_port, &[], &[], true)
    }

    /// As [`Services::start`], with extra environment for the api (e.g. rate limits for a load run) and for the ai
    /// service (e.g. a fake model). `build: false` uses the binaries already in `target/` (after
    /// `cargo test --all-targets`, which builds them too).
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        root: &Path,
        database_url: &str,
        release: bool,
        api_port: u16,
        ai_port: u16,
        api_env: &[(&str, &str)],
        ai_env: &[(&str, &str)],
        build: bool,
    ) -> Result<Self> {
        let mut build_cmd = Command::new(env!("CARGO"));
        build_cmd
            .current_dir(root)
            .args(["build", "-p", "api", "-p", "ai"])
            .env("SQLX_OFFLINE", "true");
        if release {
            build_cmd.arg("--release");
        }
        if build {
            run(&mut build_cmd, "cargo build")?;
        }
        let bin_dir = target_dir(root).join(if release { "release" } else { "debug" });
        let token = secret(root, "ai_service_token")?;
        let jwt = secret(root, "jwt_secret")?;
        let web_dir = root.join("web/dist");
        let api_url = format!("http://127.0.0.1:{api_port}");

        let mut ai = Command::new(bin_dir.join("ai"));
        ai.env("AI_BIND", format!("127.0.0.1:{ai_port}"))
            .env("AI_SERVICE_TOKEN", &token)
            .env(
                "AI_PROVIDER",
                std::env::var("AI_PROVIDER").unwrap_or_else(|_| "offline".into()),
            );
        for (k, v) in ai_env {
            ai.env(k, v);
        }
        let ai = ai.spawn().context("starting the ai service")?;
        let children = vec![("ai".to_owned(), ai)];

        let spec = ApiSpec {
            bin: bin_dir.join("api"),
            database_url: database_url.to_owned(),
            jwt,
            token,
            ai_port,
            web_dir: web_dir.join("index.html").is_file().then_some(web_dir),
            env: api_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let mut services = Self {
            children,
            api_url,
            api: spec,
        };
        match services.api.command(api_port, &[]).spawn() {
            Ok(child) => services.children.push(("api".to_owned(), child)),
            Err(e) => {
                services.stop();
                return Err(e).context("starting the api");
            }
        }
        let addr = services.api_url.trim_start_matches("http://").to_owned();
        if let Err(e) = services.wait_healthy(&addr, Duration::from_secs(90)) {
            services.stop();
            return Err(e);
        }
        Ok(services)
    }

    /// Starts one more api instance of this stack (same database, ai service and secrets) with `extra` environment,
    /// e.g. `REGISTRATION=invite`; returns its URL once healthy. Stopped with the others.
    pub fn add_api(&mut self, name: &str, extra: &[(&str, &str)]) -> Result<String> {
        let port = free_port();
        let child = self
            .api
            .command(port, extra)
            .spawn()
            .with_context(|| format!("starting the {name} api"))?;
        self.children.push((name.to_owned(), child));
        self.wait_healthy(&format!("127.0.0.1:{port}"), Duration::from_secs(90))?;
        Ok(format!("http://127.0.0.1:{port}"))
    }

    fn wait_healthy(&mut self, addr: &str, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    bail!("the {name} service exited during start-up ({status})");
                }
            }
            if health_ok(addr) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("the API did not become healthy within {limit:?}")
    }

    /// The process id of the service named `name` (`ai` or `api`), e.g. for a test that stops the ai service.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children.iter().find(|(n, _)| n == name).map(|(_, c)| c.id())
    }

    /// Whether any service has exited.
    pub fn exited(&mut self) -> Option<String> {
        self.children
            .iter_mut()
            .find_map(|(name, c)| matches!(c.try_wait(), Ok(Some(_))).then(|| name.clone()))
    }

    /// SIGTERM to every child (graceful), then wait.
    pub fn stop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        }
        for (_, child) in &mut self.children {
            let deadline = Instant::now() + Duration::from_secs(35);
            while Instant::now() < deadline {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A minimal HTTP/1.1 health probe (keeps xtask free of an HTTP client).
fn health_ok(addr: &str) -> bool {
    use std::io::{Read as _, Write as _};
    let Ok(mut stream) = std::net::TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let request = format!("GET /api/v1/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    stream
        .read(&mut buf)
        .is_ok_and(|n| buf[..n].starts_with(b"HTTP/1.1 200"))
}

pub fn up(root: &Path, release: bool) -> Result<()> {
    let db = Database::resolve(root, "dental")?;
    let url = db.url("dental");
    let result = (|| -> Result<()> {
        if root.join("web/package.json").is_file() {
            if have("npm") {
                build_web(root, false)?;
            } else {
                eprintln!("xtask: Node.js not found; serving the API without the web app");
            }
        }
        let api_port = if port_free(8080) { 8080 } else { free_port() };
        let ai_port = if port_free(8001) { 8001 } else { free_port() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
        let mut services = Services::start(root, &url, release, api_port, ai_port)?;
        println!();
        println!("  Dental patient assistant is running: {}/", services.api_url);
        println!(
            "  API: {}/api/v1   docs: {}/api/v1/docs",
            services.api_url, services.api_url
        );
        println!("  Press Ctrl-C to stop.");
        println!();
        while !stop.load(Ordering::SeqCst) {
            if let Some(name) = services.exited() {
                eprintln!("xtask: the {name} service stopped; shutting down");
                break;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        services.stop();
        Ok(())
    })();
    db.release();
    eprintln!("xtask: stopped");
    result
}

/// The web app's browser tests against a real stack (api + ai + database), in headless Chromium.
pub fn e2e(root: &Path, database_url_base: &str, build: bool) -> Result<()> {
    if !Path::new("/usr/bin/chromium").is_file() {
        bail!("Chromium is needed for the browser tests: install it with `apt-get install chromium`");
    }
    // A database of its own, so the scenario starts from empty tables.
    let url = database_url_base.rsplit_once('/').map_or_else(
        || database_url_base.to_owned(),
        |(base, _)| format!("{base}/dental_e2e"),
    );
    let psql = crate::pg::find_bindir()?.join("psql");
    let _ = Command::new(&psql)
        .args([
            database_url_base,
            "-qc",
            "drop database if exists dental_e2e with (force)",
        ])
        .status();
    run(
        Command::new(&psql).args([database_url_base, "-qc", "create database dental_e2e"]),
        "create e2e database",
    )?;
    // One browser on 127.0.0.1 plays a whole clinic's staff (several sign-ups, sign-ins, clinic switches and
    // refreshes within a minute), so the per-client auth limit is raised; the limits themselves are tested in
    // tests/api (ratelimit.rs, hardening.rs), and the sign-in pause the screens show is the failed-login rule's.
    let env = [("RATE_LIMIT_AUTH_PER_MINUTE", "1000")];
    // The model: an OpenAI-compatible fake that answers at once, except that a message saying "slowly" streams for
    // about 12 s, so the steps that reload or press Stop during a reply find one half written (the offline provider
    // answers in milliseconds). `AI_PROVIDER` set in the environment keeps that provider instead.
    let fake_url;
    let mut ai_env: Vec<(&str, &str)> = Vec::new();
    if std::env::var_os("AI_PROVIDER").is_none() {
        let port = crate::bench::fake_openai::start_paced(Duration::from_millis(400))?;
        fake_url = format!("http://127.0.0.1:{port}");
        ai_env = vec![
            ("AI_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", fake_url.as_str()),
            ("OPENAI_MODEL", crate::bench::fake_openai::FAKE_MODEL),
        ];
    }
    let mut services = Services::start_with(root, &url, false, free_port(), free_port(), &env, &ai_env, build)?;
    // A second api on the same database with registration by invitation only (`REGISTRATION=invite`): the
    // invite-only steps and the sign-in lock-out run there, so the lock-out's per-client counters (in memory, per
    // instance, without Redis) do not hold back the sign-ins of the rest of the run.
    let invite_url = match services.add_api("api-invite", &[("REGISTRATION", "invite")]) {
        Ok(url) => url,
        Err(e) => {
            services.stop();
            return Err(e);
        }
    };
    let mut node = Command::new("node");
    node.current_dir(root.join("web"))
        .arg("e2e/run.mjs")
        .env("BASE_URL", &services.api_url)
        .env("E2E_INVITE_ONLY_URL", &invite_url)
        .stdin(Stdio::null());
    if !ai_env.is_empty() {
        // Reattaching and Stop must then be shown, not skipped as "the reply was too fast".
        node.env("E2E_SLOW_MODEL", "1");
    }
    // The step that leaves a message unanswered stops the ai service (it runs after every other chat step).
    if let Some(pid) = services.pid("ai") {
        node.env("E2E_AI_PID", pid.to_string());
    }
    let result = run(&mut node, "browser tests");
    services.stop();
    result
}

/// One HTTP/1.1 request without a client library; returns the status and the body.
pub fn http(addr: &str, method: &str, path: &str, body: &str, headers: &[(&str, &str)]) -> Result<(u16, String)> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        use std::fmt::Write as _;
        let _ = write!(request, "{k}: {v}\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    Ok((status, body))
}

/// The value of a top-level string field in a small JSON object (enough for a token).
pub fn json_string_field(body: &str, field: &str) -> Option<String> {
    let key = format!("\"{field}\":\"");
    let start = body.find(&key)? + key.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_owned())
}

/// Contract fuzzing: schemathesis (in `.venv`, created when missing) against a running stack with a signed-in user.
pub fn fuzz(root: &Path, database_url_base: &str, build: bool) -> Result<()> {
    let venv = root.join(".venv");
    let schemathesis = venv.join("bin/schemathesis");
    if !schemathesis.is_file() {
        if !have("python3") {
            bail!("Python 3 is needed for the contract fuzzing (schemathesis): install python3 and python3-venv");
        }
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 -m venv (install python3-venv)",
        )?;
        run(
            Command::new(venv.join("bin/pip")).args(["install", "-q", "schemathesis>=4,<5"]),
            "pip install schemathesis",
        )?;
    }
    let url = fresh_database(database_url_base, "dental_fuzz")?;
    let limits = [
        ("RATE_LIMIT_AUTH_PER_MINUTE", "100000"),
        ("RATE_LIMIT_LOGIN_FAILURES_PER_IP", "100000"),
        ("RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT", "100000"),
        ("RATE_LIMIT_GLOBAL_PER_MINUTE", "1000000"),
        ("RATE_LIMIT_CHAT_PER_15_MINUTES", "100000"),
    ];
    let mut services = Services::start_with(root, &url, false, free_port(), free_port(), &limits, &[], build)?;
    let result = (|| -> Result<()> {
        let addr = services.api_url.trim_start_matches("http://").to_owned();
        let (status, body) = http(
            &addr,
            "POST",
            "/api/v1/auth/register",
            r#"{"email":"fuzz@clinic.example","password":"correct horse battery staple lamp","fullName":"Fuzz"}"#,
            &[],
        )?;
        if status != 201 {
            bail!("registering the fuzzing user failed ({status})");
        }
        let token = json_string_field(&body, "accessToken").context("no access token in the session")?;
        let report = root.join("target/schemathesis");
        std::fs::create_dir_all(&report)?;
        std::fs::write(report.join("dental_fuzz_hooks.py"), include_str!("fuzz_hooks.py"))?;
        run(
            Command::new(&schemathesis)
                .current_dir(&report)
                .env("SCHEMATHESIS_HOOKS", "dental_fuzz_hooks")
                .env("PYTHONPATH", &report)
                .arg("run")
                .arg(format!("{}/api/v1/openapi.json", services.api_url))
                .args(["--url", &format!("{}/api/v1", services.api_url)])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                ])
                // One worker: hypothesis parses lambdas with `ast` and CPython 3.11 can fail doing that from two
                // threads at once ("AST constructor recursion depth mismatch"), which made runs flaky.
                .args(["--max-examples", "80", "--seed", "20261126", "--workers", "1"])
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .stdin(Stdio::null()),
            "schemathesis",
        )
    })();
    services.stop();
    result
}

/// Drops and recreates `name` next to the database of `base`; returns its URL.
pub fn fresh_database(base: &str, name: &str) -> Result<String> {
    let url = base
        .rsplit_once('/')
        .map_or_else(|| base.to_owned(), |(b, _)| format!("{b}/{name}"));
    let psql = crate::pg::find_bindir()?.join("psql");
    let _ = Command::new(&psql)
        .args([base, "-qc", &format!("drop database if exists {name} with (force)")])
        .status();
    run(
        Command::new(&psql).args([base, "-qc", &format!("create database {name}")]),
        "create database",
    )?;
    Ok(url)
}
