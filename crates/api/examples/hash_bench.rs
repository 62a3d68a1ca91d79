//! Login cost with the chosen argon2id parameters: hashes (and verifications) per second on this machine.
//! Run with `cargo run --release -p api --example hash_bench`. Prints figures; asserts nothing.

use std::time::Instant;

use api::auth::password::{ITERATIONS, MEMORY_KIB, PARALLELISM, hash_blocking, verify_blocking};

fn main() -> anyhow::Result<()> {
    let password = "correct horse battery staple lamp";
    let n = 40;
    let started = Instant::now();
    let mut last = String::new();
    for _ in 0..n {
        last = hash_blocking(password)?;
    }
    let hash_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..n {
        assert!(verify_blocking(password, &last));
    }
    let verify_secs = started.elapsed().as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    println!("argon2id m={MEMORY_KIB} KiB, t={ITERATIONS}, p={PARALLELISM}");
    println!(
        "hash:   {:.1} ms each, {:.1} per second on one core",
        hash_secs * 1000.0 / f64::from(n),
        f64::from(n) / hash_secs
    );
    println!(
        "verify: {:.1} ms each, {:.1} per second on one core, ~{:.0} logins/s on all {cores} cores",
        verify_secs * 1000.0 / f64::from(n),
        f64::from(n) / verify_secs,
        f64::from(n) / verify_secs * f64::from(u32::try_from(cores).unwrap_or(1))
    );
    Ok(())
}
