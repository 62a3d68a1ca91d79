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
            &[("AI_SERVICE_TOKEN", "t"), ("AI_PROVIDER", "gemini")],
            "GEMINI_API_KEY",
        ),
        (
            &[("AI_SERVICE_TOKEN", "t"), ("AI_TIMEOUT_SECS", "soon")],
            "AI_TIMEOUT_SECS",
        ),
        (
            &[
                ("AI_SERVICE_TOKEN", "t"),
                ("AI_PROVIDER", "openai"),
                ("OPENAI_BASE_URL", "http://api.example.com"),
                ("OPENAI_MODEL", "m"),
            ],
            "OPENAI_BASE_URL",
        ),
        (
            &[("AI_SERVICE_TOKEN", "t"), ("AI_REDACT_PHI", "maybe")],
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
            ("AI_SERVICE_TOKEN", "t"),
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
