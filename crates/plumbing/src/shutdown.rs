//! The shutdown signal both services stop on.

use std::future::Future;

/// Registers the Ctrl-C and SIGTERM handlers now (so a signal sent right after start-up is not
/// missed) and resolves when either arrives.
pub fn signal() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            result = ctrl_c => {
                if result.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            () = terminate => {}
        }
    }
}
