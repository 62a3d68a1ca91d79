//! The listener both services serve on.

use std::net::SocketAddr;

use axum::serve::{Listener, ListenerExt as _};
use tokio::net::{TcpListener, TcpStream};

/// `listener` with TCP_NODELAY on every accepted connection: small SSE writes (one delta each) must
/// leave at once rather than wait for Nagle's algorithm (with delayed ACKs, ~40 ms per event).
pub fn nodelay(listener: TcpListener) -> impl Listener<Io = TcpStream, Addr = SocketAddr> {
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}
