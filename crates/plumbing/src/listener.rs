//! The listener both services serve on.

use axum::serve::{ListenerExt as _, TapIo};
use tokio::net::{TcpListener, TcpStream};

/// A listener that sets TCP_NODELAY on every accepted connection.
pub type NoDelay = TapIo<TcpListener, fn(&mut TcpStream)>;

/// `listener` with TCP_NODELAY on every accepted connection: small SSE writes (one delta each) must
/// leave at once rather than wait for Nagle's algorithm (with delayed ACKs, ~40 ms per event).
/// A named type, so `ConnectInfo<SocketAddr>` still works on it.
pub fn nodelay(listener: TcpListener) -> NoDelay {
    listener.tap_io(set_nodelay as fn(&mut TcpStream))
}

fn set_nodelay(tcp: &mut TcpStream) {
    let _ = tcp.set_nodelay(true);
}
