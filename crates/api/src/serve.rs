//! Serving with graceful shutdown: stop accepting, let in-flight requests and open streams finish
//! within a grace period, and let background saves complete.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::state::AppState;

pub const GRACE_PERIOD: Duration = Duration::from_secs(30);
/// The end of the grace period left to stopped reply jobs to save their partial replies.
const JOB_SAVE_MARGIN: Duration = Duration::from_secs(5);

/// Serves `state` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = state.tasks.clone();
    let jobs = state.jobs.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tasks.spawn(crate::retention::run(
        state.db.clone(),
        state.config.patient_retention_days,
        state.config.retention_interval,
        stop_rx.clone(),
    ));
    let app = crate::app(state).into_make_service_with_connect_info::<SocketAddr>();
    // Small SSE writes (one delta each) must leave at once rather than wait for Nagle's algorithm.
    let listener = plumbing::listener::nodelay(listener);
    let mut drain_rx = stop_rx.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let deadline = async move {
        let _ = drain_rx.wait_for(|stopped| *stopped).await;
        // Replies still being generated near the end of the grace period are stopped and saved as they
        // are, which also ends their open streams with `done` before the connections are closed.
        tokio::time::sleep(GRACE_PERIOD.saturating_sub(JOB_SAVE_MARGIN)).await;
        jobs.stop_all();
        tokio::time::sleep(JOB_SAVE_MARGIN).await;
    };
    tokio::select! {
        result = server => result?,
        () = deadline => tracing::warn!("grace period over; closing the remaining connections"),
    }
    drop(stop_rx);
    tasks.close();
    if tokio::time::timeout(GRACE_PERIOD, tasks.wait()).await.is_err() {
        tracing::warn!("background tasks still running at exit");
    }
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (the handlers are registered when this is called, so a signal
/// sent right after start-up is not missed).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send {
    let signal = plumbing::shutdown::signal();
    async move {
        signal.await;
        tracing::info!("shutdown requested");
    }
}
