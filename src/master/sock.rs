//! The listening socket, made the way Glance's `get_socket` makes it, before any fork:
//! SO_REUSEADDR, a backlog, TCP keepalive with an idle time, IPv4, IPv6 or `unix:/path`;
//! retried while the address is in use. Also systemd's side of it: a socket handed over
//! with LISTEN_FDS, and `READY=1` sent to NOTIFY_SOCKET.
//!
//! Takes the address and options as `config` parsed them ([`BindAddr`], [`SocketOptions`])
//! and hands the master a bound, listening [`Listener`] for its workers to accept on.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{BindAddr, SocketOptions};
use crate::server::Listener;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // Safety: a plain int option on a socket we own.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// The C form of a socket address.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // Safety: sockaddr_storage is plain data, large enough for either family.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // Safety: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // Safety: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Binds and listens once.
pub fn bind(addr: &BindAddr, opts: &SocketOptions) -> io::Result<Listener> {
    match addr {
        BindAddr::Tcp(a) => bind_tcp(a, opts).map(Listener::Tcp),
        BindAddr::Unix(path) => bind_unix(path, opts).map(Listener::Unix),
    }
}

fn bind_tcp(addr: &SocketAddr, opts: &SocketOptions) -> io::Result<std::net::TcpListener> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // Safety: socket() returns a new fd or -1; OwnedFd closes it on every error path.
    let fd = unsafe { OwnedFd::from_raw_fd(check(libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0))?) };
    let raw = fd.as_raw_fd();
    set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if opts.reuse_port {
        set_int(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    // Accepted sockets inherit these: dead peers are found after tcp_keepidle.
    set_int(raw, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    let idle = opts.tcp_keepidle.as_secs().clamp(1, i32::MAX as u64) as libc::c_int;
    set_int(raw, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, idle)?;
    let (storage, len) = sockaddr(addr);
    // Safety: storage holds a valid address of length len.
    check(unsafe { libc::bind(raw, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    check(unsafe { libc::listen(raw, opts.backlog) })?;
    Ok(std::net::TcpListener::from(fd))
}

fn bind_unix(path: &Path, opts: &SocketOptions) -> io::Result<std::os::unix::net::UnixListener> {
    if path.exists() {
        // A socket file left by a crashed server is stale when nobody answers on it; one
        // that answers is in use.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AddrInUse));
        }
        std::fs::remove_file(path)?;
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    // Listening again only sets the backlog.
    check(unsafe { libc::listen(listener.as_raw_fd(), opts.backlog) })?;
    Ok(listener)
}

/// Binds, retrying every 0.1 s for up to `retry` while the address is in use (Glance
/// waits 30 s for an old server to let go of its port).
pub fn bind_with_retry(addr: &BindAddr, opts: &SocketOptions, retry: Duration) -> io::Result<Listener> {
    let give_up = Instant::now() + retry;
    let mut warned = false;
    loop {
        match bind(addr, opts) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < give_up => {
                if !warned {
                    log::warn!("{addr} is in use; retrying for up to {} s", retry.as_secs());
                    warned = true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                return Err(io::Error::new(
                    e.kind(),
                    format!(
                        "could not bind to {addr} after trying for {} seconds: address in use",
                        retry.as_secs()
                    ),
                ))
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))),
            Ok(l) => return Ok(l),
        }
    }
}

/// The socket systemd passed (LISTEN_FDS / LISTEN_PID, first fd 3), if it passed one to
/// this process. The variables are removed so that workers do not take them as theirs.
pub fn systemd_listener() -> io::Result<Option<Listener>> {
    let pid_ok = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok()) == Some(std::process::id());
    let fds = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    std::env::remove_var("LISTEN_PID");
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    if !pid_ok || fds == 0 {
        return Ok(None);
    }
    if fds > 1 {
        log::warn!("systemd passed {fds} sockets; serving the first");
    }
    const SD_LISTEN_FDS_START: RawFd = 3;
    let fd = SD_LISTEN_FDS_START;
    // Safety: systemd hands fd 3 to this process; from here on we own it.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    // Safety: sockaddr_storage is plain data filled by getsockname.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    check(unsafe { libc::getsockname(fd, (&mut storage as *mut libc::sockaddr_storage).cast(), &mut len) })?;
    // Safety: the fd is a listening socket of the family getsockname reported.
    Ok(Some(if libc::c_int::from(storage.ss_family) == libc::AF_UNIX {
        Listener::Unix(unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) })
    } else {
        Listener::Tcp(unsafe { std::net::TcpListener::from_raw_fd(fd) })
    }))
}

/// The message that tells systemd a reload began: `RELOADING=1` with the monotonic clock
/// in microseconds, which systemd 253 and later require (`Type=notify-reload`) to tell this
/// reload from an earlier one; older versions ignore the field.
pub fn reloading_message() -> String {
    // Safety: clock_gettime fills the timespec it is given.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let usec = now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000;
    format!("RELOADING=1\nMONOTONIC_USEC={usec}")
}

/// Tells systemd (a `Type=notify` service) how the service is doing, when NOTIFY_SOCKET
/// is set: "READY=1", `reloading_message()`, "STOPPING=1".
pub fn sd_notify(state: &str) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};
    let Ok(target) = std::env::var("NOTIFY_SOCKET") else {
        return;
    };
    let addr = match target.strip_prefix('@') {
        Some(name) => UnixAddr::from_abstract_name(name.as_bytes()),
        None => UnixAddr::from_pathname(&target),
    };
    let sent = addr.and_then(|addr| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr));
    if let Err(e) = sent {
        log::warn!("could not notify systemd at {target}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_with_options_and_refuses_a_busy_port() {
        let opts = SocketOptions {
            backlog: 16,
            ..SocketOptions::default()
        };
        let first = bind(&BindAddr::Tcp("127.0.0.1:0".parse().unwrap()), &opts).unwrap();
        let Listener::Tcp(l) = &first else { panic!() };
        let addr = l.local_addr().unwrap();
        let again = bind(&BindAddr::Tcp(addr), &opts).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AddrInUse);
        let err = bind_with_retry(&BindAddr::Tcp(addr), &opts, Duration::from_millis(300)).unwrap_err();
        assert!(err.to_string().contains("address in use"), "{err}");
        // A client can connect: it listens.
        std::net::TcpStream::connect(addr).unwrap();
    }

    #[test]
    fn reuse_port_lets_two_sockets_share() {
        let opts = SocketOptions {
            reuse_port: true,
            ..SocketOptions::default()
        };
        let first = bind(&BindAddr::Tcp("127.0.0.1:0".parse().unwrap()), &opts).unwrap();
        let Listener::Tcp(l) = &first else { panic!() };
        bind(&BindAddr::Tcp(l.local_addr().unwrap()), &opts).unwrap();
    }

    #[test]
    fn unix_socket_replaces_a_stale_file_but_not_a_live_one() {
        let path = std::env::temp_dir().join(format!("may_wsgi_sock_{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let opts = SocketOptions::default();
        let live = bind(&BindAddr::Unix(path.clone()), &opts).unwrap();
        assert_eq!(
            bind(&BindAddr::Unix(path.clone()), &opts).unwrap_err().kind(),
            io::ErrorKind::AddrInUse
        );
        drop(live);
        // The file stays behind, stale: binding again replaces it.
        assert!(path.exists());
        bind(&BindAddr::Unix(path.clone()), &opts).unwrap();
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn ipv6_sockaddr() {
        let opts = SocketOptions::default();
        let Listener::Tcp(l) = bind(&BindAddr::Tcp("[::1]:0".parse().unwrap()), &opts).unwrap() else {
            panic!()
        };
        assert!(l.local_addr().unwrap().is_ipv6());
    }
}
