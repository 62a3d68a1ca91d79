//! Developer commands: `cargo xtask up | test | bench | triage train | triage eval`.
//!
//! Nothing to install by hand beyond Rust, PostgreSQL's binaries and Node.js: a private PostgreSQL is
//! started when `DATABASE_URL` is unset, the AI service runs its offline provider unless a model is
//! configured, and the web app is built when Node.js is present.

mod bench;
mod pg;
mod stack;
mod triage;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Developer commands for the dental patient assistant")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build and run the whole system (database, AI service, API, web app) and print the URL.
    Up {
        /// Build and run optimised binaries.
        #[arg(long)]
        release: bool,
    },
    /// Run every test: the Rust workspace, then the web app's unit and browser tests.
    Test {
        /// Skip the web app's tests (Rust only).
        #[arg(long, conflicts_with = "web_only")]
        rust_only: bool,
        /// Only the web app's tests, the browser run and the contract fuzzing (the Rust tests skipped).
        #[arg(long)]
        web_only: bool,
    },
    /// Contract fuzzing only: schemathesis against a running stack (part of `test`).
    Fuzz,
    /// Regenerate the committed sqlx query metadata (.sqlx/) against a migrated database.
    Prepare,
    /// Measure the system against its own physical limit (wrk, pgbench) and print one table.
    Bench {
        /// A shorter run (under 4 minutes): 5 s per row, no million-patient account.
        #[arg(long)]
        quick: bool,
        /// Only the login flood (32 connections, argon2id): logins/s and the api's peak RSS, nothing written.
        #[arg(long, conflicts_with = "chat_only")]
        login_only: bool,
        /// Only the chat rows with the zero-latency model (unary at 32 and 16 connections, the second beside its
        /// pgbench ceiling, with their CPU split; then streamed) and the api's peak, printed, not written.
        #[arg(long)]
        chat_only: bool,
        /// Only the patient export and import: bytes, time and the api's peak RSS, at 10k and `--patients`.
        #[arg(long, conflicts_with_all = ["quick", "login_only", "chat_only"])]
        portability_only: bool,
        /// The big clinic's size for `--portability-only`.
        #[arg(long, default_value_t = 100_000, requires = "portability_only")]
        patients: u64,
        /// The api's database pool (`DATABASE_MAX_CONNECTIONS`) for the run; twice this machine's cores by default.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=256))]
        pool: Option<u32>,
    },
    /// Train or evaluate the emergency triage detector.
    Triage {
        #[command(subcommand)]
        command: triage::TriageCmd,
    },
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Up { release } => stack::up(&root(), release),
        Cmd::Test { rust_only, web_only } => test(&root(), rust_only, web_only),
        Cmd::Prepare => prepare(&root()),
        Cmd::Bench {
            quick,
            login_only,
            chat_only,
            portability_only,
            patients,
            pool,
        } => {
            let scope = if login_only {
                bench::Scope::Login
            } else if chat_only {
                bench::Scope::Chat
            } else {
                bench::Scope::All
            };
            bench::bench(&root(), quick, scope, pool, portability_only.then_some(patients))
        }
        Cmd::Fuzz => fuzz(&root()),
        Cmd::Triage { command } => triage::triage(&root(), &command),
    };
    if let Err(e) = result {
        eprintln!("xtask: {e:#}");
        std::process::exit(1);
    }
}

pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

pub fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn test(root: &Path, rust_only: bool, web_only: bool) -> Result<()> {
    let started = Instant::now();
    let db = pg::Database::resolve(root, "postgres")?;
    let url = db.url("postgres");
    // The read-replica tests need a streaming replica of the same cluster: started here for the private one; with
    // an external DATABASE_URL they use TEST_REPLICA_URL when it is set and skip (saying why) when it is not.
    let replica = match &db {
        pg::Database::Private(pg) if !web_only => match pg.ensure_replica() {
            Ok(replica) => Some(replica),
            Err(e) => {
                eprintln!("xtask: no streaming replica ({e:#}); the replica tests will skip");
                None
            }
        },
        _ => None,
    };
    let result = (|| -> Result<()> {
        if !web_only {
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .current_dir(root)
                .args(["test", "--workspace", "--all-targets"])
                .env("DATABASE_URL", &url)
                .env("SQLX_OFFLINE", "true");
            if let Some(replica) = &replica {
                cargo.env("TEST_REPLICA_URL", replica.url("postgres"));
            }
            run(&mut cargo, "cargo test")?;
        }
        if !rust_only && root.join("web/package.json").is_file() {
            if !have("npm") {
                bail!("Node.js and npm are needed for the web app's tests: install Node.js 20+ (or pass --rust-only)");
            }
            stack::build_web(root, true)?;
            run(
                Command::new("npm").current_dir(root.join("web")).args(["test"]),
                "web unit tests",
            )?;
            // Without the Rust tests nothing has built the binaries the browser run starts.
            stack::e2e(root, &url, web_only)?;
        }
        if !rust_only {
            stack::fuzz(root, &url, web_only)?;
        }
        Ok(())
    })();
    if let Some(replica) = replica.filter(|r| r.started) {
        replica.stop();
    }
    db.release();
    result?;
    eprintln!("xtask: all tests passed in {:.0?}", started.elapsed());
    Ok(())
}

fn fuzz(root: &Path) -> Result<()> {
    let db = pg::Database::resolve(root, "postgres")?;
    let result = stack::fuzz(root, &db.url("postgres"), true);
    db.release();
    result
}

fn prepare(root: &Path) -> Result<()> {
    let db = pg::Database::resolve(root, "postgres")?;
    let result = (|| -> Result<()> {
        // A scratch database next to the configured one: nothing else is touched.
        let url = stack::fresh_database(&db.url("postgres"), "dental_prepare")?;
        // Apply the migrations through the api itself would need its config; sqlx's macros only need
        // the schema, so the files are applied in order with psql.
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("migrations"))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        let psql = pg::find_bindir()?.join("psql");
        for f in files {
            run(
                Command::new(&psql)
                    .args([&url, "-q", "-v", "ON_ERROR_STOP=1", "-f"])
                    .arg(&f),
                "migration",
            )?;
        }
        let sqlx_dir = root.join(".sqlx");
        let _ = std::fs::remove_dir_all(&sqlx_dir);
        std::fs::create_dir_all(&sqlx_dir)?;
        run(
            Command::new(env!("CARGO"))
                .current_dir(root)
                .args(["clean", "-p", "api"]),
            "cargo clean",
        )?;
        run(
            Command::new(env!("CARGO"))
                .current_dir(root)
                .args(["check", "--workspace", "--all-targets"])
                .env("DATABASE_URL", &url)
                .env("SQLX_OFFLINE", "false")
                .env("SQLX_OFFLINE_DIR", &sqlx_dir),
            "cargo check",
        )
    })();
    db.release();
    result
}
