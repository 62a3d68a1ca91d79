//! The `ai` binary: configuration from the environment, tracing, then [`ai::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported by the variables it fails to set.
    let _ = dotenvy::dotenv();
    let args = ai::config::Args::parse();
    let config = match ai::Config::try_from(args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    ai::init_tracing(&config.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(ai::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = format!("{err:#}"), "ai service failed");
            eprintln!("ai: {err:#}");
            ExitCode::FAILURE
        }
    }
}
