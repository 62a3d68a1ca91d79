//! Prometheus export: the `metrics` facade's recorder rendered by `metrics-exporter-prometheus` (no
//! HTTP-listener feature: axum serves the text), on a listener of its own, never the public port.
//!
//! The facade's recorder is process-wide by design; it is installed once, and only by a service
//! whose `METRICS_BIND` is set (otherwise every `counter!` is a no-op).

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::net::TcpListener;

/// The process's recorder handle; `None` when another recorder was installed first.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// A recorder whose `*_seconds` histograms use `buckets` (upper bounds, in seconds). Tests record
/// into one of these through `metrics::with_local_recorder`.
pub fn recorder(buckets: &[f64]) -> Option<PrometheusRecorder> {
    Some(
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), buckets)
            .ok()?
            .build_recorder(),
    )
}

/// Installs the process-wide recorder (once; later calls return the same handle) and runs
/// `describe` to register the series' help texts.
pub fn install(buckets: &[f64], describe: fn()) -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = recorder(buckets)?;
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            Some(handle)
        })
        .clone()
}

/// The text exposition of `handle`.
pub fn render(handle: &PrometheusHandle) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        handle.render(),
    )
        .into_response()
}

/// Binds `bind` and serves `app` (the `/metrics` router) on it in the background; returns the bound
/// address.
pub async fn spawn(bind: SocketAddr, app: Router) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(bind).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(address)
}
