//! The two kinds of socket a server listens on: TCP (IPv4 or IPv6) and Unix-domain
//! (`unix:/path`, the usual way to sit behind nginx on the same host).
//!
//! [`Listener`] is what a server is built on (bound here, inherited from a master process,
//! or handed over by systemd); [`Stream`] is one accepted connection, with just the
//! operations the connection loop needs. Both wrap may's types, whose blocking calls yield
//! the coroutine instead of the thread.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::time::Duration;

use may::io::{WaitIo, WaitIoWaker};

/// A listening socket, before a server takes it.
#[derive(Debug)]
pub enum Listener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener),
}

impl From<std::net::TcpListener> for Listener {
    fn from(l: std::net::TcpListener) -> Listener {
        Listener::Tcp(l)
    }
}

impl From<std::os::unix::net::UnixListener> for Listener {
    fn from(l: std::os::unix::net::UnixListener) -> Listener {
        Listener::Unix(l)
    }
}

/// Where a server listens, as the environ and the logs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAddr {
    Tcp(std::net::SocketAddr),
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LocalAddr::Tcp(a) => write!(f, "http://{a}"),
            LocalAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl Listener {
    pub fn local_addr(&self) -> io::Result<LocalAddr> {
        Ok(match self {
            Listener::Tcp(l) => LocalAddr::Tcp(l.local_addr()?),
            Listener::Unix(l) => LocalAddr::Unix(l.local_addr()?.as_pathname().map(Into::into).unwrap_or_default()),
        })
    }

    /// A second handle on the same socket (for each worker process, or each server).
    pub fn try_clone(&self) -> io::Result<Listener> {
        Ok(match self {
            Listener::Tcp(l) => Listener::Tcp(l.try_clone()?),
            Listener::Unix(l) => Listener::Unix(l.try_clone()?),
        })
    }

    /// Hands the socket to may: from here on `accept` yields the coroutine.
    pub(crate) fn into_may(self) -> io::Result<MayListener> {
        Ok(match self {
            Listener::Tcp(l) => MayListener::Tcp(tcp_into_may(l)?),
            Listener::Unix(l) => {
                l.set_nonblocking(true)?;
                // Safety: the fd comes straight from a listener we own and give up here.
                MayListener::Unix(unsafe { may::os::unix::net::UnixListener::from_raw_fd(l.into_raw_fd()) })
            }
        })
    }
}

/// Hands a bound TCP listener to may (the server's, and `green::listen`'s).
pub(crate) fn tcp_into_may(l: std::net::TcpListener) -> io::Result<may::net::TcpListener> {
    l.set_nonblocking(true)?;
    // Safety: the fd comes straight from a listener we own and give up here.
    Ok(unsafe { may::net::TcpListener::from_raw_fd(l.into_raw_fd()) })
}

/// A listener in may's hands.
pub(crate) enum MayListener {
    Tcp(may::net::TcpListener),
    Unix(may::os::unix::net::UnixListener),
}

/// The other end of an accepted connection, for REMOTE_ADDR and REMOTE_PORT.
#[derive(Debug, Clone)]
pub(crate) enum Peer {
    Tcp(std::net::SocketAddr),
    Unix,
}

impl MayListener {
    pub fn accept(&self) -> io::Result<(Stream, Peer)> {
        Ok(match self {
            MayListener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                (Stream::Tcp(s), Peer::Tcp(peer))
            }
            MayListener::Unix(l) => (Stream::Unix(l.accept()?.0), Peer::Unix),
        })
    }
}

/// One client connection.
pub(crate) enum Stream {
    Tcp(may::net::TcpStream),
    Unix(may::os::unix::net::UnixStream),
}

impl Stream {
    /// Reads what the socket has now; `WouldBlock` when it has nothing (the socket is
    /// non-blocking underneath may).
    pub fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.inner_mut().read(buf),
            Stream::Unix(s) => s.inner_mut().read(buf),
        }
    }

    /// Parks the coroutine until the socket has an event (or its waker is woken).
    pub fn wait_io(&self) {
        match self {
            Stream::Tcp(s) => s.wait_io(),
            Stream::Unix(s) => s.wait_io(),
        };
    }

    pub fn waker(&self) -> WaitIoWaker {
        match self {
            Stream::Tcp(s) => s.waker(),
            Stream::Unix(s) => s.waker(),
        }
    }

    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.write_all(buf),
            Stream::Unix(s) => s.write_all(buf),
        }
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
        }
    }

    /// Readies a new connection: no Nagle delay for streamed pieces, and a limit on how
    /// long a write may wait for a client that stopped reading.
    pub fn prepare(&self, write_timeout: Option<Duration>) {
        match self {
            Stream::Tcp(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_write_timeout(write_timeout);
            }
            Stream::Unix(s) => {
                let _ = s.set_write_timeout(write_timeout);
            }
        }
    }

    /// SERVER_NAME and SERVER_PORT for this connection.
    pub fn server_name_port(&self) -> (String, String) {
        match self {
            Stream::Tcp(s) => s.local_addr().map_or_else(
                |_| (String::new(), String::new()),
                |a| (a.ip().to_string(), a.port().to_string()),
            ),
            Stream::Unix(s) => {
                let path = s
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(|p| p.display().to_string()));
                (path.unwrap_or_default(), String::new())
            }
        }
    }
}
