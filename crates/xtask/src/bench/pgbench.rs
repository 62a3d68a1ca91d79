//! The database ceilings: pgbench running the very statements a handler runs, as the api's role.

use std::process::Command;

use anyhow::{Context, Result, bail};

use super::SEARCH;
use super::rows::Bench;
use super::setup::Account;

impl Bench<'_> {
    /// pgbench running the handler's statements, as the application role, at the same concurrency.
    pub(super) fn ceiling(
        &self,
        label: &str,
        account: &Account,
        action: &str,
        patient: Option<&str>,
        query: &str,
    ) -> Result<f64> {
        let patient_sql = if patient.is_some() { ":pid::uuid" } else { "null::uuid" };
        // The statement `db::ClinicTx::begin` runs, then the handler's query, in one transaction.
        let script = format!(
            "begin;\n\
             with member as (select m.role from clinic_members m join users u on u.id = m.user_id \
             where m.user_id = :uid::uuid and m.clinic_id = :cid::uuid and u.is_active), \
             audit as (insert into audit_events (user_id, clinic_id, action, patient_id, request_id) \
             select :uid::uuid, :cid::uuid, '{action}', {patient_sql}, 'pgbench' from member \
             where member.role = any(array['owner','clinician']) returning 1) \
             select (select role from member), set_config('app.user_id', :uid::uuid::text, true), \
             set_config('app.clinic_id', :cid::uuid::text, true), \
             set_config('app.clinic_role', coalesce((select role from member), ''), true), \
             exists (select 1 from audit);\n\
             {query}\n\
             commit;\n"
        );
        let path = self.out.join(format!("{label}.pgbench.sql"));
        std::fs::write(&path, script).context("writing a pgbench script")?;
        let seconds = self.plan.duration.as_secs().max(1).to_string();
        let mut cmd = Command::new(&self.pgbench);
        cmd.args(["-n", "-M", "prepared", "-j", "2", "-c"])
            .arg(self.plan.conns.to_string())
            .args(["-T", &seconds, "-f"])
            .arg(&path)
            .arg("-D")
            .arg(format!("uid={}", account.id))
            .arg("-D")
            .arg(format!("cid={}", account.clinic));
        // The search pattern as the api builds it (`like_pattern`), bound as a parameter as sqlx does.
        cmd.arg("-D").arg(format!("pat=%{SEARCH}%"));
        if let Some(pid) = patient {
            cmd.arg("-D").arg(format!("pid={pid}"));
        }
        // Every connection runs as the application role, as the api's pool does (`set role dental_app`),
        // so row-level security applies to pgbench too.
        let out = cmd
            .arg(self.url)
            .env("PGOPTIONS", "-c role=dental_app")
            .output()
            .context("running pgbench")?;
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
}
