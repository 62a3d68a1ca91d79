//! The `ai` service: emergency triage, prompt building and model providers behind a small
//! internal HTTP API (see `CONTRACT.md`, "Internal API (ai)").
//!
//! [`app`] builds the router (used by the binary and by tests), [`serve`] runs it on a listener
//! until a shutdown future resolves, and [`run`] is the whole process: bind, metrics, signals and
//! a bounded graceful shutdown.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod config;
pub mod error;
pub mod marker;
pub mod metrics;
pub mod prompt;
pub mod providers;
pub mod redact;
pub mod routes;
pub mod state;
pub mod triage;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

pub use config::Config;
pub use state::AppState;

/// How long open requests and streams may run after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// The service's router.
pub fn app(state: AppState) -> Router {
    routes::router(state)
}

/// Serves the app on `listener` until `shutdown` resolves, then waits for open connections
/// (including streams) to finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(plumbing::listener::nodelay(listener), app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Installs the tracing subscriber (`RUST_LOG` syntax).
pub fn init_tracing(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs the whole process until SIGTERM / Ctrl-C, then drains for at most [`SHUTDOWN_GRACE`].
pub async fn run(config: Config) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let state = AppState::new(&config)?;
    let listener = TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on AI_BIND={}", config.bind))?;
    if let Some(metrics_bind) = config.metrics_bind {
        let app = match metrics::install() {
            Some(handle) => Router::new().route(
                "/metrics",
                get(move || std::future::ready(plumbing::prometheus::render(&handle))),
            ),
            None => Router::new(),
        };
        let address = plumbing::prometheus::spawn(metrics_bind, app)
            .await
            .with_context(|| format!("cannot listen on METRICS_BIND={metrics_bind}"))?;
        tracing::info!(metrics_bind = %address, "metrics listening");
    }
    let signal = plumbing::shutdown::signal();
    tracing::info!(
        bind = %listener.local_addr()?,
        provider = state.provider().name(),
        model = state.provider().model(),
        timeout_secs = config.timeout.as_secs(),
        redact_phi = state.redaction().is_some(),
        "ai service listening"
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    tokio::select! {
        result = &mut server => {
            result.context("server task failed")?.context("server failed")?;
            return Ok(());
        }
        () = signal => {
            tracing::info!(grace_secs = SHUTDOWN_GRACE.as_secs(), "shutdown signal received, draining");
            let _ = stop_tx.send(());
        }
    }
    if let Ok(result) = tokio::time::timeout(SHUTDOWN_GRACE, &mut server).await {
        result.context("server task failed")?.context("server failed")?;
    } else {
        tracing::warn!("grace period over, closing remaining connections");
        server.abort();
    }
    tracing::info!("stopped");
    Ok(())
}
