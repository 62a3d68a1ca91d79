//! Where a row's CPU time goes: the api, the ai service, PostgreSQL's processes, and this command itself
//! (the fake model server runs in it; `wrk`, a waited-for child, is counted in its children's time). All of
//! them share the machine's cores, so the api's share of a database ceiling is bounded by how much CPU the
//! rest of the path costs per request; this splits it.

use std::fmt::Write as _;

/// Linux reports process times in clock ticks of `USER_HZ`, which is 100 on every architecture the kernel
/// exports to user space (`sysconf(_SC_CLK_TCK)`).
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU ticks (user + system) so far, per part of the path.
pub(super) struct Snapshot {
    api: u64,
    ai: u64,
    postgres: u64,
    /// This process and its waited-for children (the fake model server and `wrk`).
    bench: u64,
}

impl Snapshot {
    pub(super) fn take(api_pid: u32, ai_pid: u32) -> Self {
        Self {
            api: ticks(&format!("/proc/{api_pid}/stat"), false),
            ai: ticks(&format!("/proc/{ai_pid}/stat"), false),
            postgres: postgres_ticks(),
            bench: ticks("/proc/self/stat", true),
        }
    }

    /// One line: milliseconds of CPU per request for each part, from `self` to `after`, over `requests`.
    pub(super) fn per_request(&self, after: &Snapshot, requests: u64) -> String {
        let per = |before: u64, after: u64| {
            #[allow(clippy::cast_precision_loss)]
            let ticks = after.saturating_sub(before) as f64;
            #[allow(clippy::cast_precision_loss)]
            let n = requests.max(1) as f64;
            1000.0 * ticks / TICKS_PER_SECOND / n
        };
        let parts = [
            ("postgres", per(self.postgres, after.postgres)),
            ("api", per(self.api, after.api)),
            ("ai", per(self.ai, after.ai)),
            ("fake model + wrk", per(self.bench, after.bench)),
        ];
        let total: f64 = parts.iter().map(|(_, ms)| ms).sum();
        let mut line = String::from("CPU per request:");
        for (name, ms) in parts {
            let _ = write!(
                line,
                " {name} {ms:.3} ms ({:.0}%),",
                100.0 * ms / total.max(f64::EPSILON)
            );
        }
        let _ = write!(line, " total {total:.3} ms");
        line
    }
}

/// utime + stime (fields 14 and 15 of `/proc/<pid>/stat`), with cutime + cstime (16, 17) when `children`.
fn ticks(path: &str, children: bool) -> u64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0;
    };
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its `)`.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let own = fields.first().unwrap_or(&0) + fields.get(1).unwrap_or(&0);
    if children {
        own + fields.get(2).unwrap_or(&0) + fields.get(3).unwrap_or(&0)
    } else {
        own
    }
}

/// Every `postgres` process on the machine (the postmaster, its backends and background workers): the bench's
/// connections stay open through a row, so their time is all here.
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|e| ticks(&e.path().join("stat").to_string_lossy(), false))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_spent_some_cpu() {
        // Burn a little CPU so the count is above zero even at 100 ticks a second.
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        assert!(ticks("/proc/self/stat", false) > 0);
        assert!(ticks("/proc/self/stat", true) >= ticks("/proc/self/stat", false));
    }

    #[test]
    fn the_split_adds_up() {
        let before = Snapshot {
            api: 0,
            ai: 0,
            postgres: 0,
            bench: 0,
        };
        let after = Snapshot {
            api: 100,
            ai: 50,
            postgres: 200,
            bench: 50,
        };
        let line = before.per_request(&after, 1000);
        assert!(line.contains("postgres 2.000 ms (50%)"), "{line}");
        assert!(line.contains("api 1.000 ms (25%)"), "{line}");
        assert!(line.ends_with("total 4.000 ms"), "{line}");
    }
}
