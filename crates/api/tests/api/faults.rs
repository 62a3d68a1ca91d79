//! Fault tests with real processes where it matters: the AI service going away and coming back,
//! SIGTERM to the real `api` binary during an open stream, a PostgreSQL restart under load (a
//! private cluster this test starts and stops), and no patient data in the api's logs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;

use crate::helpers::{AI_TOKEN, PASSWORD, TestApp, json, problem};

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or_else(|e| panic!("free port: {e}"), |a| a.port())
}

/// An in-process AI service on `addr` that can be stopped; returns its stop switch and task.
async fn start_ai_at(
    addr: SocketAddr,
    config: ai::Config,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let state = ai::AppState::new(&config).unwrap_or_else(|e| panic!("ai state: {e}"));
    let listener = TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = ai::serve(listener, state, async {
            let _ = stopped.await;
        })
        .await;
    });
    (stop, task)
}

// --- (a) the AI service dies and comes back -------------------------------------------------

#[sqlx::test(migrations = "../../migrations")]
async fn when_the_ai_service_dies_health_is_503_chat_is_a_clean_503_and_both_recover(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (stop, task) = start_ai_at(addr, ai::Config::for_tests(AI_TOKEN)).await;
    let ai_url = reqwest::Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}"));
    let app = TestApp::spawn_with(options, ai_url, |_| {}).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, json!({"name": "Fault Patient"})).await;
    let id = patient["id"].as_str().unwrap_or_default().to_owned();
    let health = || async {
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    json(health().await, 200).await;

    // Kill it.
    let _ = stop.send(());
    assert!(
        tokio::time::timeout(Duration::from_secs(5), task).await.is_ok(),
        "the ai service did not stop"
    );
    let body = json(health().await, 503).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"], "ok");
    assert_ne!(body["checks"]["ai"], "ok");
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "How often should I floss?"}),
        )
        .await;
    problem(r, 503, "ai_unavailable").await;
    let saved: Vec<(uuid::Uuid, String)> =
        sqlx::query_as("select id, role from chat_messages where patient_id = $1::uuid order by created_at")
            .bind(&id)
            .fetch_all(&app.admin_db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved.len(), 1, "the user's message is kept");
    assert_eq!(saved[0].1, "user");
    // The stream: the saved message, then one error event.
    let r = app
        .post(
            &token,
            &format!("/patients/{id}/messages/stream"),
            json!({"content": "And mouthwash?"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = crate::helpers::sse_events(r).await;
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names, ["user", "error"], "{events:?}");
    assert_eq!(events[1].1["code"], "ai_unavailable");

    // Bring it back on the same address: no api restart needed.
    let (stop, task) = start_ai_at(addr, ai::Config::for_tests(AI_TOKEN)).await;
    json(health().await, 200).await;
    let reply = app
        .post(
            &token,
            &format!("/patients/{id}/messages/{}/reply", saved[0].0),
            json!({}),
        )
        .await;
    let reply = json(reply, 201).await;
    assert_eq!(reply["assistantMessage"]["role"], "assistant");
    json(
        app.post(
            &token,
            &format!("/patients/{id}/messages"),
            json!({"content": "Thanks!"}),
        )
        .await,
        201,
    )
    .await;
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

// --- the real api binary --------------------------------------------------------------------

/// The test database's URL (the one `DATABASE_URL` names, with this test's database).
pub(crate) fn database_url(options: &PgConnectOptions) -> String {
    let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut url = reqwest::Url::parse(&base).unwrap_or_else(|e| panic!("DATABASE_URL: {e}"));
    url.set_path(&format!("/{}", options.get_database().unwrap_or("postgres")));
    url.to_string()
}

/// A spawned `api` process with its stderr captured to a file.
pub(crate) struct ApiProcess {
    pub(crate) child: std::process::Child,
    pub(crate) base: String,
    log: PathBuf,
    _dir: TempDir,
}

impl ApiProcess {
    pub(crate) async fn start(database_url: &str, ai_url: &str) -> Self {
        Self::start_with(database_url, ai_url, &[]).await
    }

    /// Like `start`, with extra environment variables.
    pub(crate) async fn start_with(database_url: &str, ai_url: &str, env: &[(&str, &str)]) -> Self {
        let dir = TempDir::new("api-proc");
        let log = dir.path().join("api.log");
        let port = free_port();
        let stderr = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(env!("CARGO_BIN_EXE_api"))
            // An empty working directory: no .env of the checkout is read.
            .current_dir(dir.path())
            .env("DATABASE_URL", database_url)
            .env("JWT_SECRET", "fault-test-secret-fault-test-secret!!")
            .env("AI_SERVICE_URL", ai_url)
            .env("AI_SERVICE_TOKEN", AI_TOKEN)
            .env("API_BIND", format!("127.0.0.1:{port}"))
            .env("COOKIE_SECURE", "false")
            .env("RUST_LOG", "info,api=debug,tower_http=debug")
            .env_remove("REDIS_URL")
            .env_remove("METRICS_BIND")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn api: {e}"));
        let process = Self {
            child,
            base: format!("http://127.0.0.1:{port}/api/v1"),
            log,
            _dir: dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/health", process.base)).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the api did not become healthy: {}",
                process.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        process
    }

    pub(crate) fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill: {e}"));
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit code.
    pub(crate) async fn wait(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    pub(crate) fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{e}"));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fake OpenAI-compatible server that streams `chunks` words, one every `pause`.
async fn slow_openai(chunks: usize, pause: Duration) -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move || async move {
            let words = futures::stream::iter(0..chunks).then(move |i| async move {
                tokio::time::sleep(pause).await;
                let chunk = json!({"choices": [{"index": 0, "delta": {"content": format!("word{i} ")}}]});
                Ok::<_, std::convert::Infallible>(format!("data: {chunk}\n\n"))
            });
            let end = futures::stream::iter([
                Ok(format!(
                    "data: {}\n\n",
                    json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 42, "completion_tokens": chunks}})
                )),
                Ok("data: [DONE]\n\n".to_owned()),
            ]);
            (
                [(axum::http::header::CONTENT_TYPE, "text/event-stream")],
                axum::body::Body::from_stream(words.chain(end)),
            )
                .into_response()
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub(crate) async fn register_and_patient(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    full_name: &str,
    patient: Value,
) -> (String, String) {
    let r = http
        .post(format!("{base}/auth/register"))
        .json(&json!({"email": email, "password": PASSWORD, "fullName": full_name}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let session = json(r, 201).await;
    let token = session["accessToken"].as_str().unwrap_or_default().to_owned();
    let r = http
        .post(format!("{base}/patients"))
        .bearer_auth(&token)
        .json(&patient)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let patient = json(r, 201).await;
    (token, patient["id"].as_str().unwrap_or_default().to_owned())
}

// --- (b) SIGTERM during an open stream --------------------------------------------------------

#[sqlx::test(migrations = "../../migrations")]
async fn sigterm_during_an_open_stream_lets_it_finish_saves_the_reply_and_exits_0(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let model = slow_openai(12, Duration::from_millis(250)).await;
    let mut ai_config = ai::Config::for_tests(AI_TOKEN);
    ai_config.provider = ai::config::ProviderConfig::OpenAi {
        base_url: model,
        api_key: None,
        model: "slow-test-model".to_owned(),
    };
    let ai_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let (_ai_stop, _ai_task) = start_ai_at(ai_addr, ai_config).await;
    let mut api = ApiProcess::start(&database_url(&options), &format!("http://{ai_addr}")).await;
    let http = reqwest::Client::new();
    let (token, id) = register_and_patient(
        &http,
        &api.base,
        "sigterm@clinic.example",
        "Dr Sigterm",
        json!({"name": "Stream Patient"}),
    )
    .await;

    let r = http
        .post(format!("{}/patients/{id}/messages/stream", api.base))
        .bearer_auth(&token)
        .json(&json!({"content": "How often should I replace my toothbrush?"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 200);
    let mut stream = r.bytes_stream().eventsource();
    let mut events = Vec::new();
    // Wait for the reply to be under way, then ask the process to stop.
    while let Some(Ok(event)) = stream.next().await {
        let is_delta = event.event == "delta";
        events.push((
            event.event,
            serde_json::from_str::<Value>(&event.data).unwrap_or(Value::Null),
        ));
        if is_delta {
            break;
        }
    }
    api.terminate();
    let signalled = Instant::now();
    while let Some(Ok(event)) = stream.next().await {
        events.push((
            event.event,
            serde_json::from_str::<Value>(&event.data).unwrap_or(Value::Null),
        ));
    }
    let names: Vec<&str> = events.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"user"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}\n{}", api.logs());
    assert_eq!(names.iter().filter(|n| **n == "delta").count(), 12, "{names:?}");
    assert!(
        signalled.elapsed() > Duration::from_millis(1500),
        "the stream went on after SIGTERM"
    );
    let done = &events.last().map(|(_, d)| d.clone()).unwrap_or_default();
    let reply = done["assistantMessage"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reply.starts_with("word0 ") && reply.contains("word11"), "{reply}");

    assert_eq!(api.wait(Duration::from_secs(35)).await, Some(0), "{}", api.logs());
    let pool = PgPoolOptions::new()
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let saved: Option<(String, Value)> = sqlx::query_as(
        "select content, metadata from chat_messages where role = 'assistant' and patient_id = $1::uuid",
    )
    .bind(&id)
    .fetch_optional(&pool)
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let (content, metadata) = saved.unwrap_or_else(|| panic!("the reply was not saved"));
    assert_eq!(content, reply);
    assert_eq!(metadata["provider"], "openai");
    assert_eq!(metadata["usage"]["outputTokens"], 12);
    let logs = api.logs();
    assert!(logs.contains("shutdown requested"), "{logs}");
}

// --- (d) no patient data in the logs ------------------------------------------------------------

#[sqlx::test(migrations = "../../migrations")]
async fn the_api_logs_carry_no_names_notes_emails_or_message_text(_: PgPoolOptions, options: PgConnectOptions) {
    let ai_url = crate::helpers::spawn_ai().await;
    let mut api = ApiProcess::start(&database_url(&options), ai_url.as_str().trim_end_matches('/')).await;
    let http = reqwest::Client::new();
    let base = api.base.clone();
    // Distinctive values, so any occurrence in the logs is ours.
    let email = "quentin.ojeda.logcheck@clinic.example";
    let staff_name = "Quentin Ojedalog";
    let patient_name = "Xiomara Pellegrinotest";
    let notes = "Penicillin allergy zzqv; bruxism nightguard";
    let patient_email = "xiomara.pellegrinotest@mail.example";
    let message = "My upper left wisdomtoothqq hurts when chewing";
    let streamed = "Is sensitivity after whiteningqq normal";
    let (token, id) = register_and_patient(
        &http,
        &base,
        email,
        staff_name,
        json!({"name": patient_name, "medicalNotes": notes, "email": patient_email, "phone": "+34 600 111 222"}),
    )
    .await;
    let send = |path: String, body: Value| {
        let http = http.clone();
        let token = token.clone();
        async move {
            http.post(path)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    // Reads, search (the name in the query string), an update, chat both ways.
    let get = |path: String| {
        let http = http.clone();
        let token = token.clone();
        async move {
            http.get(path)
                .bearer_auth(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        }
    };
    json(get(format!("{base}/patients/{id}")).await, 200).await;
    json(get(format!("{base}/patients?q=Pellegrinotest")).await, 200).await;
    let r = http
        .patch(format!("{base}/patients/{id}"))
        .bearer_auth(&token)
        .json(&json!({"medicalNotes": format!("{notes} (updated)")}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    json(r, 200).await;
    json(
        send(format!("{base}/patients/{id}/messages"), json!({"content": message})).await,
        201,
    )
    .await;
    let r = send(
        format!("{base}/patients/{id}/messages/stream"),
        json!({"content": streamed}),
    )
    .await;
    let events = crate::helpers::sse_events(r).await;
    assert_eq!(events.last().map(|(e, _)| e.as_str()), Some("done"));
    json(get(format!("{base}/patients/{id}/messages")).await, 200).await;
    // Failures that carry the values: validation, a wrong type, an unknown field, a failed login.
    let r = send(
        format!("{base}/patients"),
        json!({"name": patient_name, "email": "not-an-email zzqv"}),
    )
    .await;
    assert_eq!(r.status(), 422);
    let r = send(format!("{base}/patients"), json!({"name": 12, "medicalNotes": notes})).await;
    assert_eq!(r.status(), 400);
    let r = send(
        format!("{base}/patients"),
        json!({"name": patient_name, "diagnosis": notes}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "password": "not the password at all"}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 401);
    let r = send(
        format!("{base}/patients/{id}/messages"),
        json!({"content": "x".repeat(4001)}),
    )
    .await;
    assert_eq!(r.status(), 422);

    api.terminate();
    assert_eq!(api.wait(Duration::from_secs(35)).await, Some(0));
    let logs = api.logs();
    assert!(
        logs.contains("api listening") && logs.contains("response"),
        "logs were not captured: {logs}"
    );
    for secret in [
        email,
        "quentin",
        staff_name,
        "Ojedalog",
        patient_name,
        "Pellegrinotest",
        notes,
        "zzqv",
        patient_email,
        "+34600111222",
        message,
        "wisdomtoothqq",
        streamed,
        "whiteningqq",
    ] {
        assert!(
            !logs.to_lowercase().contains(&secret.to_lowercase()),
            "{secret:?} appears in the api's logs:\n{logs}"
        );
    }
}

// --- (c) PostgreSQL restart under load ---------------------------------------------------------

/// A private PostgreSQL cluster in a temporary directory (as the `postgres` user when root).
struct PrivatePg {
    dir: TempDir,
    port: u16,
    as_postgres: bool,
    bin: PathBuf,
}

/// The directory of `initdb` and `pg_ctl`: on PATH, else Debian's newest `/usr/lib/postgresql/N/bin`.
fn pg_bindir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file());
    on_path.or_else(|| {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").is_file().then_some((major, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, bin)| bin)
    })
}

impl PrivatePg {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Initialises and starts the cluster; `Err` (the reason) when this machine cannot run one.
    fn create() -> Result<Self, String> {
        let bin = pg_bindir().ok_or("PostgreSQL's server binaries (initdb, pg_ctl) were not found")?;
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let pg = Self {
            dir: TempDir::new("api-fault-pg"),
            port: free_port(),
            as_postgres: is_root,
            bin,
        };
        if is_root {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("cannot give the cluster directory to the postgres user".into());
            }
        }
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(pg.data())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        pg.start()?;
        Ok(pg)
    }

    fn start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &options, "-l"])
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .map_err(|e| format!("pg_ctl start: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }

    fn options(&self) -> PgConnectOptions {
        PgConnectOptions::new()
            .host("127.0.0.1")
            .port(self.port)
            .username("postgres")
            .database("postgres")
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug)]
struct Outcome {
    status: u16,
    problem_json: bool,
    code: String,
}

#[tokio::test]
async fn a_postgres_restart_under_load_gives_clean_503s_then_recovers_without_restarting_the_api() {
    let pg = match PrivatePg::create() {
        Ok(pg) => pg,
        Err(reason) => {
            eprintln!("SKIPPED: cannot run a private PostgreSQL here: {reason}");
            return;
        }
    };
    api::db::migrate(&pg.options())
        .await
        .unwrap_or_else(|e| panic!("migrate: {e}"));
    let ai = crate::helpers::spawn_ai().await;
    let app = TestApp::spawn_with(pg.options(), ai, |c| c.rate_limits.global_per_client.limit = 1_000_000).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, json!({"name": "Load Patient"})).await;
    let id = patient["id"].as_str().unwrap_or_default().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (http, url, token, stop) = (
            app.http.clone(),
            app.url(&format!("/patients/{id}")),
            token.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let r = http
                    .get(&url)
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await;
                let Ok(r) = r else {
                    seen.push((
                        started,
                        Outcome {
                            status: 0,
                            problem_json: false,
                            code: "transport".into(),
                        },
                    ));
                    continue;
                };
                let status = r.status().as_u16();
                let problem_json = r
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v.as_bytes() == b"application/problem+json");
                let body: Value = r.json().await.unwrap_or(Value::Null);
                let code = body["code"].as_str().unwrap_or_default().to_owned();
                seen.push((
                    started,
                    Outcome {
                        status,
                        problem_json,
                        code,
                    },
                ));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.stop();
    let stopped_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let health = app
        .http
        .get(app.url("/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let health = json(health, 503).await;
    assert_ne!(health["checks"]["database"], "ok", "{health}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.start().unwrap_or_else(|e| panic!("{e}"));
    // Recovery without touching the api.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app.get(&token, &format!("/patients/{id}")).await;
        if r.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the api did not recover: {}", r.status());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.unwrap_or_default());
    }
    let failures: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).filter(|o| o.status != 200).collect();
    eprintln!(
        "postgres restart: {} requests, {} answered 503 during the outage",
        outcomes.len(),
        failures.len()
    );
    assert!(!failures.is_empty(), "the outage was not observed");
    for o in &failures {
        assert!(
            o.status == 503 && o.problem_json,
            "an unclean failure during the outage: {o:?}"
        );
        assert!(o.code == "service_unavailable", "{o:?}");
    }
    assert!(outcomes.iter().any(|(at, o)| *at < stopped_at && o.status == 200));
    let after: Vec<&Outcome> = outcomes
        .iter()
        .filter(|(started, _)| *started > recovered_at)
        .map(|(_, o)| o)
        .collect();
    assert!(!after.is_empty() && after.iter().all(|o| o.status == 200), "{after:?}");
    json(
        app.http
            .get(app.url("/health"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        200,
    )
    .await;
}

/// Polls `fut` up to `polls` times, letting the server answer between polls, then drops it unless it
/// finished; returns whether it was dropped unfinished. (Tokio's timers round below a millisecond up,
/// too coarse to land inside a `BEGIN` round trip on loopback.)
async fn drop_after_polls<F: std::future::Future>(fut: F, polls: usize) -> bool {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        if futures::poll!(fut.as_mut()).is_ready() {
            return false;
        }
        // Blocking on purpose: the answer reaches the socket while nothing reads it, then `yield_now`
        // lets the runtime's driver see it before the next poll.
        std::thread::sleep(Duration::from_micros(300));
        tokio::task::yield_now().await;
    }
    true
}

/// Whether the pool's one connection is inside a transaction left open by someone else: in an open
/// transaction `now()` stays at its start while `statement_timestamp()` moves on (by the 2 ms slept here;
/// within one statement the two can differ by microseconds, hence the margin).
async fn left_in_a_transaction(pool: &sqlx::PgPool) -> bool {
    tokio::time::sleep(Duration::from_millis(2)).await;
    sqlx::query_scalar::<_, bool>("select now() < statement_timestamp() - interval '1 millisecond'")
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("probe: {e}"))
}

/// A request dropped while its `BEGIN` is on the wire (a client that goes away) must not hand the
/// next request a connection inside a transaction (sqlx issues #4385, #4393): `api::db::begin`
/// finishes the `BEGIN` in its own task and rolls back what nobody awaits.
#[sqlx::test(migrations = "../../migrations")]
async fn a_transaction_cancelled_while_it_begins_leaves_no_open_transaction_behind(
    _: PgPoolOptions,
    options: PgConnectOptions,
) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("pool: {e}"));
    let (mut cancelled, mut plain_cancelled, mut plain_left_open, mut rounds) = (0, 0, 0, 0);
    // Dropped after 1 to 6 polls: before the connection is acquired, during its ping, during `BEGIN`.
    for polls in 1..=6 {
        for _ in 0..10 {
            rounds += 1;
            if drop_after_polls(api::db::begin(&pool), polls).await {
                cancelled += 1;
            }
            assert!(
                !left_in_a_transaction(&pool).await,
                "api::db::begin dropped after {polls} polls left the connection in a transaction"
            );
            // The same with sqlx's own `begin`, counted (not asserted: a fixed sqlx would leave none).
            if drop_after_polls(pool.begin(), polls).await {
                plain_cancelled += 1;
            }
            if left_in_a_transaction(&pool).await {
                plain_left_open += 1;
                // So that the next round starts from a connection outside any transaction.
                sqlx::query("rollback")
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("rollback: {e}"));
            }
        }
    }
    println!(
        "dropped begins: api::db::begin {cancelled}/{rounds}, none left open; \
         sqlx's begin {plain_cancelled}/{rounds}, {plain_left_open} left open"
    );
    assert!(
        cancelled > 0,
        "no begin was dropped unfinished: the test proved nothing"
    );
}

/// Connections the server dropped while they sat in the pool (an administrator's `pg_terminate_backend`, as a
/// restart does to all of them) are found by the ping a connection idle past `PING_WHEN_IDLE_FOR` gets before
/// use, so no request fails, although a connection in steady use is no longer pinged on every acquire.
#[sqlx::test(migrations = "../../migrations")]
async fn connections_killed_while_idle_in_the_pool_cost_no_failed_request(_: PgPoolOptions, options: PgConnectOptions) {
    let app = TestApp::spawn(options).await;
    let (token, _) = app.register().await;
    let patient = app.create_patient(&token, json!({"name": "Idle Patient"})).await;
    let path = format!("/patients/{}", patient["id"].as_str().unwrap_or_default());
    // Several connections in the pool at once.
    let warm = futures::future::join_all((0..6).map(|_| app.get(&token, &path))).await;
    assert!(warm.iter().all(|r| r.status() == 200));
    let pooled = app.state.db.size();
    let killed: i64 = sqlx::query_scalar(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend') k",
    )
    .fetch_one(&app.admin_db)
    .await
    .unwrap_or_else(|e| panic!("terminate: {e}"));
    assert!(
        killed >= i64::from(pooled.min(2)),
        "killed {killed} of {pooled} pooled connections"
    );
    tokio::time::sleep(api::db::PING_WHEN_IDLE_FOR * 2).await;
    let after = futures::future::join_all((0..6).map(|_| app.get(&token, &path))).await;
    let statuses: Vec<u16> = after.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    for _ in 0..5 {
        assert_eq!(app.get(&token, &path).await.status(), 200);
    }
}
