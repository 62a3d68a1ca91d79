//! The binary: usage, one-line configuration errors, graceful shutdown.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ai");

fn command() -> Command {
    let mut command = Command::new(BIN);
    // Run from an empty directory so no .env is picked up, with a clean environment.
    command.current_dir(std::env::temp_dir()).env_clear();
    command
}

#[test]
fn help_describes_every_variable() {
    let output = command().arg("--help").output().unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for variable in [
        "AI_BIND",
        "AI_SERVICE_TOKEN",
        "AI_PROVIDER",
        "GEMINI_API_KEY",
        "GEMINI_MODEL",
        "GEMINI_BASE_URL",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_MODEL",
        "AI_TIMEOUT_SECS",
        "AI_REDACT_PHI",
        "METRICS_BIND",
        "RUST_LOG",
    ] {
        assert!(help.contains(variable), "{variable} missing from --help");
    }
}

#[test]
fn invalid_configuration_exits_non_zero_with_one_line_naming_the_variable() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[], "AI_SERVICE_TOKEN"),
        (
            &[
                ("AI_SERVICE_TOKEN", "t-0123456789-0123456789-0123456789"),
                ("AI_PROVIDER", "gemini"),
            ],
            "GEMINI_API_KEY",
        ),
        (
            &[
                ("AI_SERVICE_TOKEN", "t-0123456789-0123456789-0123456789"),
                ("AI_TIMEOUT_SECS", "soon"),
            ],
            "AI_TIMEOUT_SECS",
        ),
        (
            &[
                ("AI_SERVICE_TOKEN", "t-0123456789-0123456789-0123456789"),
                ("AI_PROVIDER", "openai"),
                ("OPENAI_BASE_URL", "http://api.example.com"),
                ("OPENAI_MODEL", "m"),
            ],
            "OPENAI_BASE_URL",
        ),
        (
            &[
                ("AI_SERVICE_TOKEN", "t-0123456789-0123456789-0123456789"),
                ("AI_REDACT_PHI", "maybe"),
            ],
            "AI_REDACT_PHI",
        ),
    ];
    for (env, variable) in cases {
        let output = command().envs(env.iter().copied()).output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(variable) && stderr.starts_with("invalid configuration:"),
            "{stderr}"
        );
    }
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_service_with_exit_code_zero() {
    let mut child = command()
        .envs([
            ("AI_SERVICE_TOKEN", "t-0123456789-0123456789-0123456789"),
            ("AI_BIND", "127.0.0.1:0"),
            ("RUST_LOG", "info"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let started = Instant::now();
    loop {
        let line = lines.next().expect("service exited early").unwrap();
        if line.contains("ai service listening") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "service did not start");
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// VmRSS and VmHWM (peak) of a process, in KiB.
#[cfg(target_os = "linux")]
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The probe of issue #14 with the real binary: a provider that streams 30 MB without a newline
/// grows the process by less than 16 MB (peak RSS against RSS before), and the caller gets an
/// `error` event. Prints the figures (`-- --nocapture`); `AI_PROBE_BIN=target/release/ai` runs
/// it against another build.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_30_mb_line_grows_the_real_process_by_less_than_16_mb() {
    use crate::support::{FakeServer, Reply, TOKEN, chat_body, parse_sse};

    let normal = Reply::raw(
        200,
        "text/event-stream",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Floss daily.\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    );
    let mut endless = b"data: ".to_vec();
    endless.resize(30 * 1024 * 1024, b'a');
    let mut endless = Reply::raw(200, "text/event-stream", endless);
    endless.pieces = vec![256 * 1024];
    let fake = FakeServer::start_sequence(vec![normal.clone(), normal, endless]).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(std::env::var("AI_PROBE_BIN").unwrap_or_else(|_| BIN.to_owned()));
    let mut child = child
        .current_dir(std::env::temp_dir())
        .env_clear()
        .envs([
            ("AI_SERVICE_TOKEN", TOKEN),
            ("AI_BIND", &format!("127.0.0.1:{port}")),
            ("AI_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", &fake.base()),
            ("OPENAI_MODEL", "m"),
            ("RUST_LOG", "warn"),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "service did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stream = || async {
        let response = client
            .post(format!("{base}/v1/chat/stream"))
            .bearer_auth(TOKEN)
            .json(&chat_body("How often should I floss?"))
            .send()
            .await
            .unwrap();
        parse_sse(&response.text().await.unwrap())
    };
    // Warm up: allocator arenas, connection pools, the redaction-free prompt path.
    for _ in 0..2 {
        assert_eq!(stream().await.last().unwrap().0, "done");
    }
    let (before, _) = memory_kib(child.id());
    let probe_started = Instant::now();
    let events = stream().await;
    let elapsed = probe_started.elapsed();
    let (after, peak) = memory_kib(child.id());
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let _ = child.wait();
    let (name, data) = events.last().unwrap();
    assert_eq!(name, "error", "{events:?}");
    assert_eq!(data["code"], "ai_bad_gateway");
    let growth = peak.saturating_sub(before);
    println!(
        "30 MB line probe: RSS before {before} KiB, after {after} KiB, peak {peak} KiB, peak growth {growth} KiB, \
         {} bytes sent by the fake before the service hung up, {elapsed:?}",
        fake.bytes_written()
    );
    assert!(growth < 16 * 1024, "grew by {growth} KiB");
}
