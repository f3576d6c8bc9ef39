//! The two kinds of socket a server listens on: TCP (IPv4 or IPv6) and Unix-domain
//! (`unix:/path`, the usual way to sit behind nginx on the same host).
//!
//! [`Listener`] is what a server is built on (bound here, inherited from a master process,
//! or handed over by systemd); [`Stream`] is one accepted connection, with just the
//! operations the connection loop needs. Both wrap may's types, whose blocking calls yield
//! the coroutine instead of the thread.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, RawFd};
use std::os::unix::net::UnixStream;

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

    /// Readies the socket for the waiting room: non-blocking, so `accept` never blocks a
    /// scheduler thread.
    pub(crate) fn into_nonblocking(self) -> io::Result<Listener> {
        match &self {
            Listener::Tcp(l) => l.set_nonblocking(true)?,
            Listener::Unix(l) => l.set_nonblocking(true)?,
        }
        Ok(self)
    }

    pub(crate) fn fd(&self) -> RawFd {
        match self {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }

    /// Takes one connection the kernel has ready; `WouldBlock` when there is none. The
    /// new socket is non-blocking and close-on-exec from the start (accept4), so a fork
    /// or exec never inherits a client.
    pub(crate) fn accept_now(&self) -> io::Result<(Stream, Peer)> {
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        // Safety: addr and len describe a buffer large enough for any socket address.
        let fd = unsafe {
            libc::accept4(
                self.fd(),
                (&mut addr as *mut libc::sockaddr_storage).cast(),
                &mut len,
                libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(match self {
            // Safety: accept4 just gave us this fd; it is ours alone.
            Listener::Tcp(_) => {
                let s = unsafe { std::net::TcpStream::from_raw_fd(fd) };
                let peer = peer_of(&addr).unwrap_or_else(|| s.peer_addr().ok().map_or(Peer::Unix, Peer::Tcp));
                let _ = s.set_nodelay(true);
                (Stream::Tcp(s), peer)
            }
            Listener::Unix(_) => (Stream::Unix(unsafe { UnixStream::from_raw_fd(fd) }), Peer::Unix),
        })
    }
}

/// The peer's address from what accept4 filled in.
fn peer_of(addr: &libc::sockaddr_storage) -> Option<Peer> {
    match addr.ss_family as libc::c_int {
        libc::AF_INET => {
            // Safety: the family says this storage holds a sockaddr_in.
            let a = unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(Peer::Tcp(SocketAddr::from((ip, u16::from_be(a.sin_port)))))
        }
        libc::AF_INET6 => {
            // Safety: the family says this storage holds a sockaddr_in6.
            let a = unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(Peer::Tcp(SocketAddr::from((ip, u16::from_be(a.sin6_port)))))
        }
        _ => None,
    }
}

/// Hands a bound TCP listener to may (the server's, and `green::listen`'s).
pub(crate) fn tcp_into_may(l: std::net::TcpListener) -> io::Result<may::net::TcpListener> {
    l.set_nonblocking(true)?;
    // Safety: the fd comes straight from a listener we own and give up here.
    Ok(unsafe { may::net::TcpListener::from_raw_fd(l.into_raw_fd()) })
}

/// The other end of an accepted connection, for REMOTE_ADDR and REMOTE_PORT.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    Tcp(SocketAddr),
    Unix,
}

/// One client connection: a non-blocking socket that no coroutine waits on by itself.
/// Who holds it decides how to wait: the waiting room through its epoll set, a request's
/// worker through the wait of its class (`executor::SocketWait`), made only when a read or
/// write would block.
pub(crate) enum Stream {
    Tcp(std::net::TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn fd(&self) -> RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Reads what the socket has now; `WouldBlock` when it has nothing.
    pub fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            Stream::Unix(s) => (&*s).read(buf),
        }
    }

    /// Writes what the socket takes now; `WouldBlock` when it takes nothing. One piece
    /// goes out with `send`, which costs the kernel less than `writev`.
    pub fn write_now(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if let [one] = bufs {
            return match self {
                Stream::Tcp(s) => (&*s).write(one),
                Stream::Unix(s) => (&*s).write(one),
            };
        }
        match self {
            Stream::Tcp(s) => (&*s).write_vectored(bufs),
            Stream::Unix(s) => (&*s).write_vectored(bufs),
        }
    }

    /// Whether the peer has sent bytes not yet read (not counting a close).
    pub fn has_pending(&self) -> bool {
        let mut byte = 0u8;
        // Safety: recv into one byte we own; MSG_PEEK leaves it in the socket.
        let n = unsafe {
            libc::recv(
                self.fd(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        n > 0
    }

    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(how),
            Stream::Unix(s) => s.shutdown(how),
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
