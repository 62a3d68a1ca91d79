//! `api`: the public JSON API. Reads its configuration, migrates, serves.

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use api::config::RawConfig;
use api::state::AppState;
use clap::{Parser, Subcommand};

/// The dental patient assistant's public API. Every option can also be set by the environment
/// variable shown (or a `.env` file in the working directory).
#[derive(Parser)]
#[command(name = "api", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: RawConfig,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Create an admin account, or promote an existing one. The password is read from standard input
    /// (never an argument, so it stays out of shell history and process lists).
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        full_name: String,
    },
    /// Print the OpenAPI 3.1 description (the same as `GET /api/v1/openapi.json`) and exit. Needs no configuration.
    Openapi,
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Openapi)) {
        return match serde_json::to_string_pretty(&<api::http::openapi::ApiDoc as utoipa::OpenApi>::openapi()) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot serialise the description: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match cli.config.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    api::telemetry::init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::CreateAdmin { email, full_name } => create_admin(config, &email, &full_name).await,
            Command::Openapi => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Migrates, retrying for a while so a database that is still starting (compose, systemd) is waited for.
async fn migrate_with_retry(config: &api::config::Config) -> anyhow::Result<()> {
    let mut attempt = 0;
    loop {
        match api::db::migrate(&config.database).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 15 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "database not ready; retrying");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn serve(config: api::config::Config) -> anyhow::Result<()> {
    use anyhow::Context as _;
    migrate_with_retry(&config).await?;
    let pool = api::db::pool(config.database.clone(), config.database_max_connections);
    let bind = config.api_bind;
    let metrics_bind = config.metrics_bind;
    let state = AppState::new(config, pool)?;
    if let Some(bind) = metrics_bind {
        // A separate listener: the public port never serves metrics.
        let address = api::metrics::spawn(bind, state.clone()).await?;
        tracing::info!(%address, "metrics listening");
    }
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("cannot listen on API_BIND {bind}"))?;
    tracing::info!(address = %listener.local_addr()?, "api listening");
    api::serve::serve(listener, state, api::serve::shutdown_signal()).await?;
    tracing::info!("api stopped");
    Ok(())
}

async fn create_admin(config: api::config::Config, email: &str, full_name: &str) -> anyhow::Result<()> {
    eprintln!("Password for the admin account (read from standard input):");
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    migrate_with_retry(&config).await?;
    let pool = api::db::pool(config.database.clone(), 2);
    let id = api::admin::create_admin(&pool, email, full_name, password).await?;
    println!("admin account ready: {id}");
    Ok(())
}
