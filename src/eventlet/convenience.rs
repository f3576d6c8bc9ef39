//! eventlet.convenience: `listen(addr)`, the listening socket green threads accept on.
//! It hands on a `may::net::TcpListener`, whose `accept` parks the green thread.

use std::io;
use std::net::ToSocketAddrs;

/// eventlet's `listen(addr)`: a listening socket (SO_REUSEADDR) whose `accept` yields the
/// coroutine instead of blocking the thread. `addr` is resolved before the coroutine
/// could yield: give an IP address, not a host name (see docs/porting.md on DNS).
pub fn listen(addr: impl ToSocketAddrs) -> io::Result<may::net::TcpListener> {
    crate::server::net::tcp_into_may(std::net::TcpListener::bind(addr)?)
}
