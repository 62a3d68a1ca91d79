//! Setup and seed: the services this command starts (and stops), the accounts, and the patients
//! seeded with `generate_series`.

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::client::Client;
use super::report::fmt_mib;
use super::{PASSWORD, Plan, Row};
use crate::run;

/// A process this command started; stopped (SIGTERM, then SIGKILL) when dropped.
pub(super) struct Proc {
    pub(super) name: &'static str,
    pub(super) child: Child,
}

impl Proc {
    /// Peak resident set size so far, in KiB (`VmHWM`).
    pub(super) fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    pub(super) fn exited(&mut self) -> bool {
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

/// The identities and ids the load runs use.
pub(super) struct Fixture {
    pub(super) small: Account,
    pub(super) big: Option<Account>,
    pub(super) writer: Account,
    pub(super) patient_ids: Vec<String>,
}

pub(super) struct Account {
    pub(super) email: String,
    pub(super) id: String,
    /// The clinic the account's registration created (its patients live there).
    pub(super) clinic: String,
}

pub(super) fn with_rss(mut rows: Vec<Row>, api: &Proc) -> Vec<Row> {
    let rss = api.peak_rss_kib();
    for row in &mut rows {
        row.api_rss_kib = rss;
    }
    eprintln!("xtask:   api peak RSS so far: {}", fmt_mib(rss));
    rows
}

pub(super) fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

pub(super) fn spawn(name: &'static str, program: &Path, env: &[(String, String)], out: &Path) -> Result<Proc> {
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

pub(super) fn wait_ready(proc: &mut Proc, addr: &str, path: &str) -> Result<()> {
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

pub(super) fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

pub(super) fn psql_value(psql: &Path, url: &str, sql: &str) -> Result<String> {
    let out = Command::new(psql)
        .args([url, "-XtAc", sql])
        .output()
        .context("running psql")?;
    if !out.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub(super) fn register(api: &str, label: &str) -> Result<Account> {
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
    let clinic = text.rsplit_once(r#""clinic":"#).map_or("", |(_, c)| c);
    let clinic = json_string_field(clinic, "id").context("no clinic in the session")?;
    Ok(Account { email, id, clinic })
}

/// A fresh access token (they live 15 minutes; a full run takes longer).
pub(super) fn login(api: &str, account: &Account) -> Result<String> {
    let body = format!(r#"{{"email":"{}","password":"{PASSWORD}"}}"#, account.email);
    let (status, reply) = Client::new(api).fetch("POST", "/api/v1/auth/login", None, Some(&body))?;
    if status != 200 {
        bail!("logging in failed ({status}): {}", String::from_utf8_lossy(&reply));
    }
    json_string_field(&String::from_utf8_lossy(&reply), "accessToken").context("no access token in the session")
}

/// The value of the first `"field":"..."` in `json` (enough for ids and tokens, which need no escaping).
pub(super) fn json_string_field(json: &str, field: &str) -> Option<String> {
    let start = json.find(&format!(r#""{field}":""#))? + field.len() + 4;
    let end = json[start..].find('"')?;
    Some(json[start..start + end].to_owned())
}

pub(super) fn seed(plan: &Plan, api: &str, psql: &Path, url: &str, superuser: bool) -> Result<Fixture> {
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
        let (uid, cid) = (&account.id, &account.clinic);
        let sql = format!(
            "{replica}
            select set_config('app.clinic_id', '{cid}', false);
            insert into patients (clinic_id, created_by, name, email, phone, date_of_birth, medical_notes, created_at, updated_at)
            select '{cid}'::uuid, '{uid}'::uuid,
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
            insert into patient_counts (clinic_id, n)
            select '{cid}'::uuid, count(*) from patients where clinic_id = '{cid}'::uuid and deleted_at is null
            on conflict (clinic_id) do update set n = excluded.n;"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn fields_are_found_in_a_session() {
        let s = r#"{"accessToken":"abc.def","user":{"id":"42"}}"#;
        assert_eq!(json_string_field(s, "accessToken").as_deref(), Some("abc.def"));
        assert_eq!(json_string_field(s, "id").as_deref(), Some("42"));
    }
}
