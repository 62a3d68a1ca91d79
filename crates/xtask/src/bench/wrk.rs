//! `wrk` (installed with apt when missing), its Lua request scripts, and reading its results.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::Plan;
use super::rows::{Measured, to_u64};

pub(super) fn ensure_wrk() -> Result<()> {
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

/// How a wrk run builds its requests.
pub(super) struct WrkRequest<'a> {
    pub(super) method: &'a str,
    pub(super) paths: Vec<String>,
    pub(super) body: Option<String>,
    pub(super) token: Option<String>,
}

/// A Lua string literal.
pub(super) fn lua_string(s: &str) -> String {
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

pub(super) fn wrk_script(r: &WrkRequest) -> String {
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

pub(super) fn run_wrk(plan: &Plan, api: &str, script: &Path, duration: Duration, conns: u32) -> Result<Measured> {
    let out = Command::new("wrk")
        .arg(format!("-t{}", plan.wrk_threads))
        .arg(format!("-c{conns}"))
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
        cpu: None,
    })
}
