//! The database ceilings: pgbench running the very statements a handler runs, as the api's role, and the
//! plain query alone (no transaction, no membership check, no audit row) as the floor of what any api could do.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::rows::Bench;
use super::setup::Account;

/// The statement `db::ClinicTx::begin` runs (`clinic_gate`: membership, MFA policy, the three `set_config`, the
/// audit row), for the audit `action` and with `:pid` as the patient when `patient` is set.
pub(super) fn clinic_tx_statement(action: &str, patient: bool) -> String {
    let patient_sql = if patient { ":pid::uuid" } else { "null::uuid" };
    format!(
        "select clinic_gate(:uid::uuid, :cid::uuid, array['owner','clinician'], '{action}', {patient_sql}, \
         'pgbench', true);"
    )
}

/// The one statement a one-round-trip read sends (`db::read_once`): the route function `function` with the gate's
/// arguments (audit on, as on the primary) followed by `args`.
pub(super) fn route_call(function: &str, args: &str) -> String {
    format!(
        "select * from {function}(:uid::uuid, :cid::uuid, array['owner','clinician','reception'], 'pgbench', true, \
         {args});\n"
    )
}

/// One handler transaction: `begin`, the `ClinicTx` statement, the handler's statements, `commit`.
pub(super) fn handler_tx(action: &str, patient: bool, statements: &str) -> String {
    format!(
        "begin;\n{}\n{statements}\ncommit;\n",
        clinic_tx_statement(action, patient)
    )
}

impl Bench<'_> {
    /// The ceiling of `script`: pgbench at `conns` connections and, when the api's pool is smaller, at the pool's
    /// size too, the better of the two. On a small machine PostgreSQL serves more with fewer backends than
    /// requests in flight (README, *Performance*), so a ceiling taken only at `conns` would flatter an api that
    /// queues its requests in its pool.
    // Each argument is one pgbench setting a caller varies; a struct for them would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pgbench(
        &self,
        label: &str,
        account: &Account,
        patient: Option<&str>,
        script: &str,
        conns: u32,
        role: bool,
        vars: &[(&str, String)],
    ) -> Result<f64> {
        // One pgbench run (one transaction of pgbench per line group, see [`handler_tx`]) as the application
        // role (with `role`) at `conns` connections: transactions per second.
        let run = |label: &str, conns: u32| -> Result<f64> {
            let path = self.out.join(format!("{label}.pgbench.sql"));
            std::fs::write(&path, script).context("writing a pgbench script")?;
            let seconds = self.plan.duration.as_secs().max(1).to_string();
            let mut cmd = Command::new(&self.pgbench);
            cmd.args(["-n", "-M", "prepared", "-j", "2", "-c"])
                .arg(conns.to_string())
                .args(["-T", &seconds, "-f"])
                .arg(&path)
                .arg("-D")
                .arg(format!("uid={}", account.id))
                .arg("-D")
                .arg(format!("cid={}", account.clinic));
            // E.g. the search pattern as the api builds it (`like_pattern`), bound as a parameter as sqlx does.
            for (name, value) in vars {
                cmd.arg("-D").arg(format!("{name}={value}"));
            }
            if let Some(pid) = patient {
                cmd.arg("-D").arg(format!("pid={pid}"));
            }
            // The chat script spreads its messages over the same patients the api's run does (`:pids[:k]`).
            cmd.arg("-D")
                .arg(format!("pids={{{}}}", self.fixture.patient_ids.join(",")));
            // Every connection runs as the application role, as the api's pool does (`set role dental_app`), so
            // row-level security applies to pgbench too; the plain ceiling runs as the owner (no policy at all).
            if role {
                cmd.env("PGOPTIONS", "-c role=dental_app");
            }
            let out = cmd.arg(self.url).output().context("running pgbench")?;
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
        };
        let wide = run(label, conns)?;
        let pool = self.plan.pool;
        if pool >= conns {
            return Ok(wide);
        }
        let narrow = run(&format!("{label}-c{pool}"), pool)?;
        eprintln!("xtask:   pgbench {label}: {wide:.0} tps at -c{conns}, {narrow:.0} at -c{pool}");
        Ok(wide.max(narrow))
    }

    /// The handler's SQL (`handler`: what it sends, e.g. [`handler_tx`] or [`route_call`]) as the application
    /// role, and, when the bench connects as a superuser, the plain `query` alone as the table's owner (no
    /// row-level security, no audit row, no transaction block): the second is the ceiling of any api serving this
    /// request, the first what ours asks of PostgreSQL.
    pub(super) fn ceilings(
        &self,
        label: &str,
        account: &Account,
        patient: Option<&str>,
        handler: &str,
        query: &str,
        vars: &[(&str, String)],
    ) -> Result<(Option<f64>, Option<f64>)> {
        let conns = self.plan.conns;
        let full = self.pgbench(label, account, patient, handler, conns, true, vars)?;
        if !self.superuser {
            return Ok((Some(full), None));
        }
        let plain = self.pgbench(
            &format!("{label}-plain"),
            account,
            patient,
            &format!("{query}\n"),
            conns,
            false,
            vars,
        )?;
        Ok((Some(full), Some(plain)))
    }
}
