//! `cargo xtask bench --portability-only`: the patient export and import, measured from outside.
//!
//! Starts the release `api` alone (no AI service: it serves without one), seeds two clinics by SQL (10,000 and
//! `--patients`, default 100,000; a third of them with notes), then streams each export (CSV and FHIR, with
//! notes) to its end through a plain HTTP/1.1 client while a thread samples the api's resident set every 10 ms,
//! and imports a file near the 10 MiB limit (50,000 rows) into an empty clinic, dry run then for real. Prints
//! bytes, time, throughput and the api's peak RSS during each step: an export whose memory does not grow with the
//! clinic's size shows the same peak at 10k and at 100k.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::client::Client;
use super::report::fmt_mib;
use super::rows::as_f64;
use super::setup::{Account, Proc, login, random_hex, register, spawn};
use crate::run;
use crate::stack::free_port;

/// The api's resident set now, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Samples a process's RSS until dropped; [`Sampler::peak`] is the largest value seen.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_kib(pid).unwrap_or(0)));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(now) = rss_kib(pid) {
                    p.fetch_max(now, Ordering::Relaxed);
                }
                thread::sleep(Duration::from_millis(10));
            }
        });
        Self {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    fn peak(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

struct Step {
    name: String,
    bytes: usize,
    rows: usize,
    seconds: f64,
    peak_kib: u64,
    before_kib: u64,
}

fn seed(psql: &Path, url: &str, account: &Account, n: u64) -> Result<()> {
    let started = Instant::now();
    let (uid, cid) = (&account.id, &account.clinic);
    let sql = format!(
        "select set_config('app.clinic_id', '{cid}', false);
         insert into patients (clinic_id, created_by, name, email, phone, date_of_birth, medical_notes, created_at, updated_at)
         select '{cid}'::uuid, '{uid}'::uuid,
                (array['Ana','Bruno','Carla','Diego','Elena','Felipe','Gina','Hugo'])[1 + g % 8] || ' ' ||
                (array['Silva','Smith','García','Novak','Costa','Meyer','Rossi','Dubois'])[1 + (g / 8) % 8] || ' ' || g,
                'patient' || g || '@example.com',
                '+1555' || lpad(g::text, 7, '0'),
                date '1950-01-01' + (g % 20000),
                case when g % 3 = 0 then 'Sensitive to cold, \"molar 36\"; prefers morning appointments.' end,
                now() - make_interval(secs => g), now() - make_interval(secs => g)
         from generate_series(1, {n}) g;"
    );
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
    eprintln!("xtask: seeded {n} patients in {:.1?}", started.elapsed());
    Ok(())
}

fn export(api: &str, pid: u32, token: &str, label: &str, format: &str) -> Result<Step> {
    let before_kib = rss_kib(pid).unwrap_or(0);
    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let (mut bytes, mut newlines) = (0usize, 0usize);
    let status = Client::new(api).call(
        "GET",
        &format!("/api/v1/export/patients?format={format}&includeNotes=true"),
        Some(token),
        None,
        &mut |chunk| {
            bytes += chunk.len();
            newlines += chunk.split(|b| *b == b'\n').count() - 1;
        },
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_kib = sampler.peak();
    if status != 200 {
        bail!("export {format} answered {status}");
    }
    // CSV: one line per row after the header (the seeded notes have no line breaks); FHIR: one line per patient.
    let rows = if format == "csv" {
        newlines.saturating_sub(1)
    } else {
        newlines
    };
    Ok(Step {
        name: format!("export {format} with notes, {label}"),
        bytes,
        rows,
        seconds,
        peak_kib,
        before_kib,
    })
}

/// A CSV of 50,000 rows just under 10 MiB (notes pad each row).
fn import_file() -> Vec<u8> {
    let mut file = b"name,email,phone,dateOfBirth,medicalNotes\r\n".to_vec();
    let rows = 50_000usize;
    let budget = 10 * 1024 * 1024 - file.len() - 1024;
    for i in 0..rows {
        let row = format!(
            "Imported Patient {i},imported{i}@example.com,(555) 010-{:04},1980-02-03,\"",
            i % 10_000
        );
        file.extend_from_slice(row.as_bytes());
        let pad = budget / rows - row.len() - 3;
        file.extend(std::iter::repeat_n(b'n', pad));
        file.extend_from_slice(b"\"\r\n");
    }
    file
}

fn import(api: &str, pid: u32, token: &str, file: &[u8], dry_run: bool) -> Result<Step> {
    let before_kib = rss_kib(pid).unwrap_or(0);
    let sampler = Sampler::start(pid);
    let started = Instant::now();
    let mut reply = Vec::new();
    let path = if dry_run {
        "/api/v1/import/patients?dryRun=true"
    } else {
        "/api/v1/import/patients"
    };
    let (status, _) = Client::new(api).send("POST", path, Some(token), Some(("text/csv", file)), &mut |chunk| {
        reply.extend_from_slice(chunk);
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let peak_kib = sampler.peak();
    let text = String::from_utf8_lossy(&reply);
    if status != 200 {
        bail!(
            "import answered {status}: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    let expected = if dry_run { "\"created\":0" } else { "\"created\":50000" };
    if !text.contains(expected) || !text.contains("\"valid\":50000") {
        bail!(
            "unexpected import report: {}",
            text.chars().take(300).collect::<String>()
        );
    }
    Ok(Step {
        name: format!("import csv, 50,000 rows{}", if dry_run { ", dry run" } else { "" }),
        bytes: file.len(),
        rows: 50_000,
        seconds,
        peak_kib,
        before_kib,
    })
}

pub(super) fn run_bench(root: &Path, bindir: &Path, url: &str, out: &Path, patients: u64) -> Result<()> {
    let bin = crate::stack::target_dir(root).join("release");
    let api_port = free_port();
    let api_addr = format!("127.0.0.1:{api_port}");
    let env: Vec<(String, String)> = vec![
        ("DATABASE_URL".to_owned(), url.to_owned()),
        ("JWT_SECRET".to_owned(), random_hex()?),
        ("API_BIND".to_owned(), api_addr.clone()),
        // Nothing listens there: the api serves without its AI service, and these routes never call it.
        ("AI_SERVICE_URL".to_owned(), format!("http://127.0.0.1:{}", free_port())),
        ("AI_SERVICE_TOKEN".to_owned(), random_hex()?),
        (
            "RUST_LOG".to_owned(),
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
        ),
        ("RATE_LIMIT_AUTH_PER_MINUTE".to_owned(), "100000".to_owned()),
        ("RATE_LIMIT_GLOBAL_PER_MINUTE".to_owned(), "100000".to_owned()),
    ];
    let mut api: Proc = spawn("api", &bin.join("api"), &env, out)?;
    // Health is 503 without the AI service; wait for the port to answer anything.
    wait_answering(&mut api, &api_addr)?;
    let pid = api.child.id();
    let psql = bindir.join("psql");
    let small = register(&api_addr, "export-10k")?;
    let big = register(&api_addr, "export-big")?;
    let target = register(&api_addr, "import")?;
    seed(&psql, url, &small, 10_000)?;
    seed(&psql, url, &big, patients)?;
    let idle_kib = rss_kib(pid).unwrap_or(0);

    let mut steps = Vec::new();
    let label = |n: u64| format!("{}k patients", n / 1000);
    for (account, n) in [(&small, 10_000), (&big, patients)] {
        let token = login(&api_addr, account)?;
        for format in ["csv", "fhir"] {
            let step = export(&api_addr, pid, &token, &label(n), format)?;
            if u64::try_from(step.rows).unwrap_or(0) != n {
                bail!("{}: {} rows, expected {n}", step.name, step.rows);
            }
            steps.push(step);
        }
    }
    let file = import_file();
    let token = login(&api_addr, &target)?;
    steps.push(import(&api_addr, pid, &token, &file, true)?);
    steps.push(import(&api_addr, pid, &token, &file, false)?);
    let hwm = api.peak_rss_kib();
    if api.exited() {
        bail!("the api exited during the run (see target/bench/api.log)");
    }

    println!();
    println!("| step | bytes | rows | time | rows/s | MiB/s | api RSS before | api peak RSS during |");
    println!("|---|---|---|---|---|---|---|---|");
    for s in &steps {
        let mib = as_f64(u64::try_from(s.bytes).unwrap_or(0)) / 1024.0 / 1024.0;
        let rows = as_f64(u64::try_from(s.rows).unwrap_or(0));
        println!(
            "| {} | {:.1} MiB | {} | {:.2} s | {:.0} | {:.1} | {} | {} |",
            s.name,
            mib,
            s.rows,
            s.seconds,
            rows / s.seconds,
            mib / s.seconds,
            fmt_mib(Some(s.before_kib)),
            fmt_mib(Some(s.peak_kib)),
        );
    }
    println!(
        "\napi RSS idle after start-up and seeding: {}; peak over the whole run (VmHWM): {}.",
        fmt_mib(Some(idle_kib)),
        fmt_mib(hwm)
    );
    Ok(())
}

/// Waits until the api accepts connections and answers `/health` (200, or 503 because no AI service runs).
fn wait_answering(api: &mut Proc, addr: &str) -> Result<()> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if api.exited() {
            bail!("the api exited during start-up (see target/bench/api.log)");
        }
        if Client::new(addr)
            .call("GET", "/api/v1/health", None, None, &mut |_| {})
            .is_ok_and(|s| s == 200 || s == 503)
        {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
    bail!("the api did not answer within 60 s (see target/bench/api.log)")
}
