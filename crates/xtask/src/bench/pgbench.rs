//! The database ceilings: pgbench running the very statements a handler runs, as the api's role, and the
//! plain query alone (no transaction, no membership check, no audit row) as the floor of what any api could do.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::rows::Bench;
use super::setup::Account;

/// The statement `db::ClinicTx::begin` runs (membership, MFA policy, the three `set_config`, the audit row), kept
/// in step with it by hand, for the audit `action` and with `:pid` as the patient when `patient` is set.
pub(super) fn clinic_tx_statement(action: &str, patient: bool) -> String {
    let patient_sql = if patient { ":pid::uuid" } else { "null::uuid" };
    format!(
        "with member as (select m.role from clinic_members m join users u on u.id = m.user_id \
         where m.user_id = :uid::uuid and m.clinic_id = :cid::uuid and u.is_active), \
         audit as (insert into audit_events (user_id, clinic_id, action, patient_id, request_id) \
         select :uid::uuid, :cid::uuid, '{action}', {patient_sql}, 'pgbench' from member \
         where member.role = any(array['owner','clinician']) returning 1) \
         select (select is_active from users where id = :uid::uuid), (select role from member), \
         set_config('app.user_id', :uid::uuid::text, true), \
         set_config('app.clinic_id', :cid::uuid::text, true), \
         set_config('app.clinic_role', coalesce((select role from member), ''), true), \
         exists (select 1 from audit), \
         coalesce((select c.require_mfa from clinics c where c.id = :cid::uuid), false) \
         and not exists (select 1 from user_mfa f where f.user_id = :uid::uuid and f.enabled_at is not null);"
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
    /// pgbench running `script` (one transaction of pgbench per line group, see [`handler_tx`]) as the
    /// application role at `conns` connections: transactions per second.
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
    }

    /// The handler's transaction (the `ClinicTx` statement and `query`) as the application role, and the plain
    /// `query` alone as the table's owner (no row-level security, no audit row, no transaction block): the
    /// second is the ceiling of any api serving this read, the first what ours asks of PostgreSQL.
    pub(super) fn ceilings(
        &self,
        label: &str,
        account: &Account,
        action: &str,
        patient: Option<&str>,
        query: &str,
        vars: &[(&str, String)],
    ) -> Result<(f64, f64)> {
        let conns = self.plan.conns;
        let full = self.pgbench(
            label,
            account,
            patient,
            &handler_tx(action, patient.is_some(), query),
            conns,
            true,
            vars,
        )?;
        let plain = self.pgbench(
            &format!("{label}-plain"),
            account,
            patient,
            &format!("{query}\n"),
            conns,
            false,
            vars,
        )?;
        Ok((full, plain))
    }
}
