//! A private PostgreSQL for development and tests, started from the machine's own binaries.
//!
//! Used whenever `DATABASE_URL` is unset or does not answer. The cluster lives in `.data/pg` (git-ignored),
//! listens on 127.0.0.1 on a free port, and is reused by the next command. PostgreSQL refuses to run
//! as root, so as root every server command runs as the `postgres` system user through `runuser`.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub struct PrivatePg {
    bin: PathBuf,
    data: PathBuf,
    dir: PathBuf,
    pub port: u16,
    as_postgres: bool,
    /// Whether this process started the server (and so should stop it).
    pub started: bool,
}

/// The directory holding `initdb` and `pg_ctl`.
pub fn find_bindir() -> Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            return Ok(dir);
        }
    }
    let mut candidates: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((major, bin))
        })
        .collect();
    candidates.sort();
    match candidates.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL's server binaries (initdb, pg_ctl) were not found: install PostgreSQL (e.g. `apt-get install postgresql`) or set DATABASE_URL"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port(preferred: u16) -> u16 {
    (preferred..preferred + 200)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .unwrap_or(preferred)
}

impl PrivatePg {
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn server_cmd(&self, program: &str) -> Command {
        server_cmd(&self.bin, self.as_postgres, program)
    }

    /// Starts (or reuses) the private cluster under `root/.data/pg`.
    pub fn ensure(root: &Path) -> Result<Self> {
        let bin = find_bindir()?;
        let dir = root.join(".data").join("pg");
        let data = dir.join("data");
        let as_postgres = is_root();
        fs::create_dir_all(&dir).context("creating .data/pg")?;
        if as_postgres {
            // The postgres user must reach the folder: open the parents for traversal, give it the cluster.
            let _ = Command::new("chmod").arg("755").arg(root.join(".data")).status();
            // Only the execute (traverse) bit, and only on folders the postgres user cannot pass yet (a checkout
            // under a private home or temporary folder).
            for ancestor in dir.ancestors().skip(1) {
                let passable = Command::new("runuser")
                    .args(["-u", "postgres", "--", "test", "-x"])
                    .arg(ancestor)
                    .status()
                    .is_ok_and(|s| s.success());
                if !passable {
                    eprintln!("xtask: letting the postgres user traverse {}", ancestor.display());
                    let _ = Command::new("chmod").arg("o+x").arg(ancestor).status();
                }
            }
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status();
            if !status.is_ok_and(|s| s.success()) {
                bail!(
                    "cannot give .data/pg to the `postgres` system user (does it exist? install PostgreSQL's server package)"
                );
            }
        }
        let port_file = dir.join("port");
        let port = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .unwrap_or_else(|| free_port(55432));
        let mut pg = Self {
            bin,
            data,
            dir,
            port,
            as_postgres,
            started: false,
        };
        if !pg.data.join("PG_VERSION").is_file() {
            eprintln!("xtask: creating a private PostgreSQL cluster in .data/pg");
            let out = pg
                .server_cmd("initdb")
                .arg("-D")
                .arg(&pg.data)
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-instructions"])
                .stdout(Stdio::null())
                .output()
                .context("running initdb")?;
            if !out.status.success() {
                bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr).trim());
            }
        }
        if pg.is_running() {
            return Ok(pg);
        }
        // The recorded port may have been taken by something else since.
        if TcpListener::bind(("127.0.0.1", pg.port)).is_err() {
            pg.port = free_port(pg.port + 1);
        }
        fs::write(&port_file, pg.port.to_string())?;
        let log = pg.dir.join("server.log");
        let options = format!(
            // wal_level, max_wal_senders and wal_keep_size serve the streaming replica (initdb's pg_hba.conf already
            // trusts replication connections from 127.0.0.1); the first two are PostgreSQL's defaults, stated here.
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c synchronous_commit=off \
             -c wal_level=replica -c max_wal_senders=10 -c wal_keep_size=256MB",
            pg.port,
            pg.dir.display()
        );
        let out = pg
            .server_cmd("pg_ctl")
            .arg("-D")
            .arg(&pg.data)
            .args(["-o", &options, "-l"])
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .output()
            .context("running pg_ctl start")?;
        if !out.status.success() {
            let tail = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            bail!(
                "the private PostgreSQL did not start: {} {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        pg.started = true;
        eprintln!("xtask: private PostgreSQL listening on 127.0.0.1:{}", pg.port);
        Ok(pg)
    }

    pub fn is_running(&self) -> bool {
        self.server_cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            && ready(&self.bin, &self.url("postgres"))
    }

    /// Creates `name` if it does not exist.
    pub fn create_database(&self, name: &str) -> Result<()> {
        let exists = Command::new(self.bin.join("psql"))
            .args([&self.url("postgres"), "-tAc"])
            .arg(format!("select 1 from pg_database where datname = '{name}'"))
            .output()
            .context("running psql")?;
        if String::from_utf8_lossy(&exists.stdout).trim() != "1" {
            let status = Command::new(self.bin.join("psql"))
                .args([&self.url("postgres"), "-qc"])
                .arg(format!("create database {name}"))
                .status()?;
            if !status.success() {
                bail!("could not create database {name}");
            }
        }
        Ok(())
    }

    pub fn stop(&self) {
        let _ = self
            .server_cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A hot standby of the private cluster, streaming from it.
pub struct Replica {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    as_postgres: bool,
    /// Whether this process started the replica (and so should stop it).
    pub started: bool,
}

impl Replica {
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn server_cmd(&self, program: &str) -> Command {
        server_cmd(&self.bin, self.as_postgres, program)
    }

    fn is_running(&self) -> bool {
        self.server_cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            && ready(&self.bin, &self.url("postgres"))
    }

    /// Whether it is a standby that receives the primary's WAL right now.
    fn streaming(&self) -> bool {
        psql_value(
            &self.bin,
            &self.url("postgres"),
            "select pg_is_in_recovery() and exists (select 1 from pg_stat_wal_receiver where status = 'streaming')",
        )
        .is_some_and(|v| v == "t")
    }

    pub fn stop(&self) {
        let _ = self
            .server_cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn server_cmd(bin: &Path, as_postgres: bool, program: &str) -> Command {
    let path = bin.join(program);
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn psql_value(bin: &Path, url: &str, sql: &str) -> Option<String> {
    let out = Command::new(bin.join("psql"))
        .args([url, "-XtAc", sql])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl PrivatePg {
    /// Starts (or reuses) a streaming replica of this cluster in `.data/pg/replica`. A replica that does not
    /// start or does not stream (the primary was re-created, or it fell behind the WAL the primary keeps) is
    /// taken again with `pg_basebackup`.
    pub fn ensure_replica(&self) -> Result<Replica> {
        let wal_level = psql_value(&self.bin, &self.url("postgres"), "show wal_level").unwrap_or_default();
        if wal_level == "minimal" {
            bail!("the private PostgreSQL runs with wal_level=minimal: restart it (stop it, then run xtask again)");
        }
        let dir = self.dir.join("replica");
        let port_file = self.dir.join("replica-port");
        let port = fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
            .filter(|p| *p != self.port)
            .unwrap_or_else(|| free_port(self.port + 1));
        let mut replica = Replica {
            bin: self.bin.clone(),
            data: dir.join("data"),
            port,
            as_postgres: self.as_postgres,
            started: false,
        };
        if replica.is_running() {
            if replica.streaming() {
                return Ok(replica);
            }
            replica.stop();
        }
        for attempt in 0..2 {
            if attempt == 1 || !replica.data.join("PG_VERSION").is_file() {
                let _ = fs::remove_dir_all(&dir);
                fs::create_dir_all(&dir).context("creating .data/pg/replica")?;
                if self.as_postgres {
                    let _ = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status();
                }
                eprintln!("xtask: taking a base backup of the private PostgreSQL for its streaming replica");
                let out = self
                    .server_cmd("pg_basebackup")
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres"])
                    .arg("-D")
                    .arg(&replica.data)
                    .args(["-R", "-X", "stream", "-c", "fast"])
                    .stdout(Stdio::null())
                    .output()
                    .context("running pg_basebackup")?;
                if !out.status.success() {
                    bail!("pg_basebackup failed: {}", String::from_utf8_lossy(&out.stderr).trim());
                }
            }
            if TcpListener::bind(("127.0.0.1", replica.port)).is_err() {
                replica.port = free_port(replica.port + 1);
            }
            fs::write(&port_file, replica.port.to_string())?;
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=300 -c hot_standby=on",
                replica.port,
                dir.display()
            );
            let started = replica
                .server_cmd("pg_ctl")
                .arg("-D")
                .arg(&replica.data)
                .args(["-o", &options, "-l"])
                .arg(dir.join("server.log"))
                .args(["-w", "-t", "60", "start"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if started {
                // Catching up after a while away can take a moment; a replica that never streams is re-taken.
                for _ in 0..50 {
                    if replica.streaming() {
                        replica.started = true;
                        eprintln!(
                            "xtask: streaming replica of the private PostgreSQL on 127.0.0.1:{}",
                            replica.port
                        );
                        return Ok(replica);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                replica.stop();
            }
        }
        bail!(
            "the streaming replica did not start (see {})",
            dir.join("server.log").display()
        )
    }
}

/// Whether a server answers at `url` (pg_isready).
pub fn ready(bin: &Path, url: &str) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["-q", "-t", "3", "-d", url])
        .status()
        .is_ok_and(|s| s.success())
}

/// The database to use: `DATABASE_URL` when set and answering, else the private cluster.
pub enum Database {
    External(String),
    Private(PrivatePg),
}

impl Database {
    pub fn resolve(root: &Path, database: &str) -> Result<Self> {
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.trim().is_empty()
        {
            let bin = find_bindir().ok();
            let answers = bin.as_deref().is_some_and(|b| ready(b, &url));
            if answers {
                eprintln!("xtask: using DATABASE_URL");
                return Ok(Self::External(url));
            }
            eprintln!("xtask: DATABASE_URL does not answer; using a private PostgreSQL instead");
        }
        let pg = PrivatePg::ensure(root)?;
        pg.create_database(database)?;
        Ok(Self::Private(pg))
    }

    pub fn url(&self, database: &str) -> String {
        match self {
            Self::External(url) => url.clone(),
            Self::Private(pg) => pg.url(database),
        }
    }

    /// Stops the private server if this process started it.
    pub fn release(&self) {
        if let Self::Private(pg) = self
            && pg.started
        {
            pg.stop();
        }
    }
}
