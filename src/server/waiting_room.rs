//! The waiting room: where a connection waits while none of its requests is being handled.
//!
//! A connection is idle between keep-alive requests, and a slow client may take seconds
//! to send its head. Neither needs a coroutine: like nginx's event loop, one coroutine per
//! process watches all those sockets through its own epoll set, reads what arrives into a
//! buffer sized to what came, feeds the sans-IO head parser, and keeps the deadlines
//! (keep-alive, head, lingering close). An idle connection costs its socket and one slab
//! entry; no stack, no buffers, no place in the pool.
//!
//! ```text
//!   accept ──> waiting room ── complete head ──> dispatch (pool place or queue)
//!                  ^                                  │
//!                  └──── go_home (nothing buffered) <─┘  request coroutine
//! ```
//!
//! Ownership moves with the connection, and the slab records where it is: `Home` (here,
//! with its socket) or `Away` (a request coroutine holds the socket). Each socket stays in
//! the epoll set, edge-triggered, for its whole life, so moving costs no system call.
//! Data that arrives while the connection is away only marks the entry (`event`); the
//! coroutine finds the mark when it comes home and the connection is read again.
//!
//! The waiting room also accepts: the listening socket is in the same epoll set, and
//! accepting pauses while the process holds its limit of open connections.
//!
//! There is one waiting room per scheduler thread, as nginx has one event loop per worker:
//! may resumes a coroutine parked on a socket on the thread whose selector watches that
//! socket, and a request coroutine handed work runs on the thread that handed it, so each
//! room and the requests it dispatches keep one thread busy, and the rooms share the
//! accepting between them (whichever is less busy takes the next connection).

use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use may::io::{WaitIo, WaitIoWaker};

use super::buffers::RBUF_SIZE;
use super::net::{Listener, Peer, Stream};
use super::timeouts::Timeouts;
use super::Shared;
use crate::http::response::push_error;
use crate::http::{parse_head, proxy_protocol, Head, HttpError};
use crate::wsgi::exchange::ReadBuf;
use crate::wsgi::ConnInfo;

/// The epoll token of the listening socket; client tokens are `generation << 32 | index`.
const LISTENER: u64 = u64::MAX;
/// Connections accepted in one go before the other events get a turn.
const ACCEPT_BATCH: usize = 64;
const MAX_EVENTS: usize = 256;
/// How long and how much a lingering close reads before it gives up (here, and in a
/// request coroutine that closes after a broken body).
pub(crate) const LINGER_TIME: Duration = Duration::from_secs(2);
pub(crate) const LINGER_BYTES: usize = 256 * 1024;
/// After accept fails for want of file descriptors, wait this long before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A connection's place in the slab: which entry, and which life of that entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    index: u32,
    generation: u32,
}

impl Token {
    #[cfg(test)]
    pub fn new(index: u32, generation: u32) -> Token {
        Token { index, generation }
    }

    fn epoll_data(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    fn from_epoll_data(data: u64) -> Token {
        Token {
            index: data as u32,
            generation: (data >> 32) as u32,
        }
    }
}

/// A connection with a complete request head, on its way to a request coroutine.
pub(crate) struct Ready {
    /// The waiting room the connection belongs to (an index into the server's rooms).
    pub room: usize,
    pub token: Token,
    pub stream: Stream,
    pub info: ConnInfo,
    /// The head starts at `rbuf.pos`; pipelined bytes may follow it.
    pub rbuf: ReadBuf,
    pub head: Head,
}

/// What the waiting room keeps of a connection that is at home.
struct Home {
    stream: Stream,
    info: ConnInfo,
    /// Bytes of a head still arriving, in a buffer of their own size (empty when idle).
    partial: Vec<u8>,
    /// When the current wait ends, on the `Timeouts` clock (milliseconds).
    deadline: u64,
    /// The head deadline is set (it runs from the head's first byte).
    head_started: bool,
    /// Idle after a response: when the process is out of connections, such a connection
    /// may be closed to let a new client in (nginx "reuses" keep-alive connections so).
    reusable: bool,
    /// When it came home, in arrival order: the longest idle is closed first.
    since: u64,
    /// Refused and half-closed: what still arrives is read and dropped until the client
    /// closes or the linger time is up.
    lingering: Option<usize>,
    /// `--proxy-protocol`: the proxy's PROXY header must come before the first head.
    proxy_pending: bool,
}

enum State {
    Free,
    Home(Box<Home>),
    /// A request coroutine holds the socket; `event` records data that arrived meanwhile.
    Away {
        event: bool,
    },
}

struct Entry {
    generation: u32,
    state: State,
}

#[derive(Default)]
struct Slab {
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Connections that came home with an event mark: the waiting room reads them next.
    recheck: Vec<Token>,
    /// The waiting room has closed its doors (the server stopped).
    closed: bool,
}

impl Slab {
    fn entry(&mut self, token: Token) -> Option<&mut Entry> {
        self.entries
            .get_mut(token.index as usize)
            .filter(|e| e.generation == token.generation)
    }
}

/// The count of open client connections of this process, shared by its waiting rooms.
pub(crate) struct Census {
    open: AtomicUsize,
    max_open: usize,
    /// Counts homecomings, to order idle connections across the rooms.
    arrivals: AtomicU64,
    /// When an accept error was last logged, on the `Timeouts` clock plus one (0: never):
    /// one line a second for the whole process, however many rooms meet it.
    accept_complaint: AtomicU64,
    /// The same for connections closed for a bad PROXY header.
    proxy_complaint: AtomicU64,
}

impl Census {
    pub fn new(max_open: usize) -> Census {
        Census {
            open: AtomicUsize::new(0),
            max_open: max_open.max(1),
            arrivals: AtomicU64::new(0),
            accept_complaint: AtomicU64::new(0),
            proxy_complaint: AtomicU64::new(0),
        }
    }

    /// Whether a complaint kept in `last` may be logged at `now_ms`: at most once a second.
    fn may_complain(last: &AtomicU64, now_ms: u64) -> bool {
        let seen = last.load(Ordering::Relaxed);
        let now = now_ms.saturating_add(1);
        (seen == 0 || now >= seen.saturating_add(1000))
            && last
                .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// Open client connections, at home or away.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    fn full(&self) -> bool {
        self.open() >= self.max_open
    }
}

/// The part of a waiting room that request coroutines and the server handle share.
pub(crate) struct WaitingRoom {
    id: usize,
    slab: Mutex<Slab>,
    census: Arc<Census>,
    /// Accepting stopped at the connection limit; a close must wake the waiting room
    /// (a close in another room wakes it at the next sweep).
    paused: AtomicBool,
    waker: OnceLock<WaitIoWaker>,
    /// The room's epoll set, for request coroutines to take a socket out and put it back.
    epfd: OnceLock<RawFd>,
    timeouts: Arc<Timeouts>,
}

impl WaitingRoom {
    pub fn new(id: usize, census: Arc<Census>, timeouts: Arc<Timeouts>) -> WaitingRoom {
        WaitingRoom {
            id,
            slab: Mutex::new(Slab::default()),
            census,
            paused: AtomicBool::new(false),
            waker: OnceLock::new(),
            epfd: OnceLock::new(),
            timeouts,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slab> {
        // Held only to move an entry in or out: a panic cannot leave it half-done.
        self.slab.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the waiting room's coroutine (for a deadline sweep, a stop, or accepting again).
    pub fn wake(&self) {
        if let Some(waker) = self.waker.get() {
            waker.wakeup();
        }
    }

    /// Takes a socket out of the room's epoll set while a request coroutine lingers on it
    /// (see `connection.rs`): its events then go to the coroutine alone.
    pub fn unwatch(&self, stream: &Stream) {
        // Under the lock: once the room has closed, its epoll set may be gone.
        let slab = self.lock();
        if let (false, Some(&epfd)) = (slab.closed, self.epfd.get()) {
            let _ = epoll_ctl(epfd, libc::EPOLL_CTL_DEL, stream.fd(), 0, 0);
        }
    }

    /// A request coroutine brings a connection back: nothing of a next request is
    /// buffered and the socket had nothing more. `partial` holds the start of a
    /// pipelined head, if any, which must then be complete within `client_timeout`;
    /// otherwise the connection may idle for `keep_alive`. `unwatched`: the socket was
    /// taken out of the epoll set and goes back in. A stopping server closes it instead.
    #[allow(clippy::too_many_arguments)]
    pub fn go_home(
        &self,
        token: Token,
        stream: Stream,
        info: ConnInfo,
        partial: &[u8],
        keep_alive: Duration,
        client_timeout: Duration,
        unwatched: bool,
    ) {
        let fd = stream.fd();
        let head_started = !partial.is_empty();
        let wait = if head_started { client_timeout } else { keep_alive };
        let deadline = self.timeouts.deadline_in(wait);
        let mut slab = self.lock();
        if slab.closed {
            drop(slab);
            drop(stream);
            self.forget(token);
            return;
        }
        let Some(entry) = slab.entry(token) else {
            return;
        };
        let event = matches!(entry.state, State::Away { event: true });
        entry.state = State::Home(Box::new(Home {
            stream,
            info,
            partial: partial.to_vec(),
            deadline,
            head_started,
            reusable: !head_started,
            since: self.census.arrivals.fetch_add(1, Ordering::Relaxed),
            lingering: None,
            proxy_pending: false,
        }));
        if unwatched {
            // Edge-triggered: if data came meanwhile, the set reports it at once.
            if let Some(&epfd) = self.epfd.get() {
                let _ = epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, CLIENT_EVENTS, token.epoll_data());
            }
        }
        if event {
            // Data came while the connection was away and its edge is spent: have the
            // waiting room read it now.
            slab.recheck.push(token);
            drop(slab);
            self.wake();
        }
    }

    /// A request coroutine closed its connection (it dropped the socket itself).
    pub fn forget(&self, token: Token) {
        let mut slab = self.lock();
        if let Some(entry) = slab.entry(token) {
            entry.state = State::Free;
            entry.generation = entry.generation.wrapping_add(1);
            slab.free.push(token.index);
        }
        drop(slab);
        self.census.open.fetch_sub(1, Ordering::AcqRel);
        if self.paused.swap(false, Ordering::AcqRel) {
            self.wake();
        }
    }
}

/// The waiting room's own coroutine: accept, read heads, keep deadlines, until the server
/// stops. `dispatch` hands a connection with a complete head to the pool.
pub(crate) fn run(room: Arc<WaitingRoom>, listener: Listener, shared: Arc<Shared>, dispatch: impl Fn(Ready)) {
    let mut lobby = match Lobby::new(room.clone(), listener, shared) {
        Ok(lobby) => lobby,
        Err(e) => {
            log::error!("the waiting room cannot start: {e}");
            return;
        }
    };
    lobby.serve(&dispatch);
}

/// An epoll set's fd, for may to watch like a socket.
struct EpollFd(OwnedFd);

impl AsRawFd for EpollFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// The waiting room's private state: its epoll set, the listener, and what it is doing.
struct Lobby {
    room: Arc<WaitingRoom>,
    shared: Arc<Shared>,
    epoll: may::io::CoIo<EpollFd>,
    /// None once the server stops accepting.
    listener: Option<Listener>,
    listener_ready: bool,
    accept_retry: Option<Instant>,
    last_reclaim_warning: Option<Instant>,
    last_sweep: u64,
    head: Head,
    server_name_port: Option<(String, String)>,
}

fn epoll_ctl(epfd: RawFd, op: libc::c_int, fd: RawFd, events: u32, data: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event { events, u64: data };
    // Safety: ev is a valid epoll_event for the duration of the call.
    if unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new epoll set whose fd may hands to scheduler thread `thread`'s selector. may picks
/// the selector of an fd as `fd % threads`, and resumes a coroutine parked on the fd on
/// that selector's thread: so choosing the fd's number places the waiting room.
fn epoll_for_thread(thread: usize) -> io::Result<EpollFd> {
    let threads = may::config().get_workers().max(1);
    // Safety: plain system call; the fd it returns is ours.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // Safety: epoll_create1 just returned this fd.
    let mut epfd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut spare = Vec::new();
    while epfd.as_raw_fd() as usize % threads != thread % threads {
        // F_DUPFD gives the lowest free number at or above the one asked for.
        let next = unsafe { libc::fcntl(epfd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, epfd.as_raw_fd() + 1) };
        if next < 0 {
            return Err(io::Error::last_os_error());
        }
        // Safety: fcntl just returned this fd; the old number is closed after the loop.
        spare.push(std::mem::replace(&mut epfd, unsafe { OwnedFd::from_raw_fd(next) }));
    }
    drop(spare);
    Ok(EpollFd(epfd))
}

const CLIENT_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

impl Lobby {
    fn new(room: Arc<WaitingRoom>, listener: Listener, shared: Arc<Shared>) -> io::Result<Lobby> {
        let epfd = epoll_for_thread(room.id)?;
        let fd = epfd.as_raw_fd();
        epoll_ctl(
            fd,
            libc::EPOLL_CTL_ADD,
            listener.fd(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            LISTENER,
        )?;
        // may watches the epoll fd itself: it is readable whenever a socket in the set has
        // an event, so one coroutine waits for all of them.
        let epoll = may::io::CoIo::new(epfd).map_err(io::Error::from)?;
        let _ = room.waker.set(epoll.waker());
        let _ = room.epfd.set(fd);
        let server_name_port = match &listener {
            // A listener bound to one address gives every connection that address; only a
            // wildcard one makes each connection ask the kernel.
            Listener::Tcp(l) => l
                .local_addr()
                .ok()
                .filter(|a| !a.ip().is_unspecified())
                .map(|a| (a.ip().to_string(), a.port().to_string())),
            Listener::Unix(_) => None,
        };
        Ok(Lobby {
            room,
            shared,
            epoll,
            listener: Some(listener),
            // Connections may have queued before we started watching.
            listener_ready: true,
            accept_retry: None,
            last_reclaim_warning: None,
            last_sweep: 0,
            head: Head::default(),
            server_name_port,
        })
    }

    fn serve(&mut self, dispatch: &dyn Fn(Ready)) {
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let mut busy_since = Instant::now();
        loop {
            if self.shared.stopping.load(Ordering::Acquire) {
                let draining = self.shared.draining.load(Ordering::Acquire);
                if self.listener.is_some() {
                    self.close_doors(draining);
                }
                if self.done(draining) {
                    return;
                }
            }
            self.accept_some();
            // Safety: events has room for MAX_EVENTS entries.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    MAX_EVENTS as libc::c_int,
                    0,
                )
            };
            let n = usize::try_from(n).unwrap_or(0);
            for ev in &events[..n] {
                let data = ev.u64;
                if data == LISTENER {
                    self.listener_ready = true;
                } else {
                    self.on_event(Token::from_epoll_data(data), dispatch);
                }
            }
            let recheck = std::mem::take(&mut self.room.lock().recheck);
            for token in recheck {
                self.on_event(token, dispatch);
            }
            self.sweep();
            if n == MAX_EVENTS || self.can_accept() {
                // More may be waiting: go round without parking.
                give_way(&mut busy_since);
                continue;
            }
            // Parks until a socket in the set has an event, or someone wakes us.
            self.epoll.wait_io();
            busy_since = Instant::now();
        }
    }

    fn can_accept(&self) -> bool {
        self.listener_ready && self.accept_retry.is_none() && !self.room.census.full()
    }

    /// Accepts up to a batch of connections, each straight into the epoll set.
    fn accept_some(&mut self) {
        if let Some(at) = self.accept_retry {
            if Instant::now() < at {
                return;
            }
            self.accept_retry = None;
        }
        for _ in 0..ACCEPT_BATCH {
            if !self.listener_ready {
                return;
            }
            // Out of connections: a client at the door may have the connection of this
            // room that has idled longest; without one, accepting waits.
            let mut make_room = None;
            if self.room.census.full() {
                make_room = self.longest_idle();
                if make_room.is_none() {
                    // Leave the rest in the kernel's backlog (where another worker may
                    // take them) until a close or the next sweep wakes us.
                    self.room.paused.store(true, Ordering::Release);
                    return;
                }
            }
            let Some(listener) = &self.listener else {
                return;
            };
            let accepted = listener.accept_now();
            if let Some((r, token, home)) = make_room {
                let room = self.shared.rooms[r].clone();
                match accepted {
                    Ok(_) => {
                        self.warn_reclaim();
                        drop(home);
                        room.forget(token);
                    }
                    Err(_) => {
                        if let Some(entry) = room.lock().entry(token) {
                            entry.state = State::Home(home);
                        }
                    }
                }
            }
            match accepted {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.listener_ready = false,
                Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted) => {}
                Err(e) => {
                    // Out of file descriptors, most likely: serve what we hold and try
                    // again shortly, logging at most once a second.
                    let now = Instant::now();
                    let census = &self.room.census;
                    if Census::may_complain(&census.accept_complaint, self.room.timeouts.now_ms()) {
                        log::error!(
                            "accept failed: {e}; serving the connections held and trying again every {} ms \
                             (out of descriptors? raise ulimit -n or LimitNOFILE=)",
                            ACCEPT_BACKOFF.as_millis()
                        );
                    }
                    self.accept_retry = Some(now + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
    }

    /// The connection of this process that has idled longest since a response, taken
    /// out of its room's slab: a client at the door gets its place, as nginx "reuses"
    /// keep-alive connections when its `worker_connections` run out. HTTP lets a server
    /// close an idle connection at any moment, and clients retry; a slow head or a
    /// request in flight is never chosen.
    fn longest_idle(&self) -> Option<(usize, Token, Box<Home>)> {
        // Another room may take the one found first: look again, a few times.
        (0..3).find_map(|_| self.take_longest_idle())
    }

    fn take_longest_idle(&self) -> Option<(usize, Token, Box<Home>)> {
        let mut best: Option<(u64, usize, Token)> = None;
        for (r, room) in self.shared.rooms.iter().enumerate() {
            let slab = room.lock();
            for (i, e) in slab.entries.iter().enumerate() {
                if let State::Home(h) = &e.state {
                    if h.reusable && best.is_none_or(|(since, _, _)| h.since < since) {
                        let token = Token {
                            index: i as u32,
                            generation: e.generation,
                        };
                        best = Some((h.since, r, token));
                    }
                }
            }
        }
        let (_, r, token) = best?;
        // Between the look and the taking, another room may have chosen the same one, and
        // its place gone to a new connection: take it only if it is still that idle one.
        let mut slab = self.shared.rooms[r].lock();
        let entry = slab.entry(token)?;
        if !matches!(&entry.state, State::Home(h) if h.reusable) {
            return None;
        }
        match std::mem::replace(&mut entry.state, State::Away { event: false }) {
            State::Home(home) => Some((r, token, home)),
            _ => None,
        }
    }

    fn warn_reclaim(&mut self) {
        let now = Instant::now();
        if self
            .last_reclaim_warning
            .is_none_or(|t| now - t >= Duration::from_secs(1))
        {
            log::warn!(
                "{} worker_connections are not enough: closing idle keep-alive connections for new clients",
                self.room.census.max_open
            );
            self.last_reclaim_warning = Some(now);
        }
    }

    fn admit(&mut self, stream: Stream, peer: Peer) {
        let cfg = &self.shared.config;
        let (server_name, server_port) = match &self.server_name_port {
            Some(pair) => pair.clone(),
            None => stream.server_name_port(),
        };
        let (remote_addr, remote_port, peer_ip) = match peer {
            Peer::Tcp(a) => (a.ip().to_string(), a.port().to_string(), Some(a.ip())),
            Peer::Unix => (String::new(), String::new(), None),
        };
        let info = ConnInfo {
            server_name,
            server_port,
            remote_addr,
            remote_port,
            script_name: cfg.script_name.clone(),
            url_scheme: cfg.url_scheme.clone(),
            multiprocess: cfg.multiprocess,
            trusted_proxy: cfg.forwarded_allow_ips.trusts(peer_ip),
        };
        let fd = stream.fd();
        let home = Box::new(Home {
            stream,
            info,
            partial: Vec::new(),
            deadline: self.room.timeouts.deadline_in(client_timeout(cfg.client_timeout)),
            head_started: false,
            reusable: false,
            since: 0,
            lingering: None,
            proxy_pending: cfg.proxy_protocol,
        });
        let token = {
            let mut slab = self.room.lock();
            let index = match slab.free.pop() {
                Some(i) => i,
                None => {
                    slab.entries.push(Entry {
                        generation: 0,
                        state: State::Free,
                    });
                    (slab.entries.len() - 1) as u32
                }
            };
            let entry = &mut slab.entries[index as usize];
            entry.state = State::Home(home);
            Token {
                index,
                generation: entry.generation,
            }
        };
        self.room.census.open.fetch_add(1, Ordering::AcqRel);
        // Edge-triggered: if the request is already there, the set reports it at once.
        if let Err(e) = epoll_ctl(
            self.epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd,
            CLIENT_EVENTS,
            token.epoll_data(),
        ) {
            log::error!("cannot watch a new connection: {e}");
            self.take(token);
            self.room.forget(token);
        }
    }

    /// Takes a connection that is at home out of the slab (it is then `Away`, ours).
    fn take(&self, token: Token) -> Option<Box<Home>> {
        let mut slab = self.room.lock();
        let entry = slab.entry(token)?;
        match std::mem::replace(&mut entry.state, State::Away { event: false }) {
            State::Home(home) => Some(home),
            State::Away { .. } => {
                entry.state = State::Away { event: true };
                None
            }
            State::Free => {
                entry.state = State::Free;
                None
            }
        }
    }

    fn put_back(&self, token: Token, home: Box<Home>) {
        let mut slab = self.room.lock();
        if let Some(entry) = slab.entry(token) {
            entry.state = State::Home(home);
        }
    }

    fn close(&self, token: Token, home: Box<Home>) {
        drop(home);
        self.room.forget(token);
    }

    /// A socket in the set has news.
    fn on_event(&mut self, token: Token, dispatch: &dyn Fn(Ready)) {
        let Some(mut home) = self.take(token) else {
            return;
        };
        if let Some(seen) = home.lingering {
            return self.linger(token, home, seen);
        }
        let cfg = &self.shared.config;
        let max_head = cfg.limits.max_head_len();
        let mut buf = self.shared.buffers.read_buf();
        let mut end = home.partial.len();
        if end > buf.len() {
            buf.resize(end.next_power_of_two(), 0);
        }
        buf[..end].copy_from_slice(&home.partial);
        loop {
            if end == buf.len() {
                if buf.len() >= max_head {
                    self.shared.buffers.give_read(buf);
                    return self.refuse(token, home, HttpError::new(431, "request head too large"));
                }
                buf.resize((buf.len() * 2).min(max_head.max(RBUF_SIZE)), 0);
            }
            match home.stream.read_now(&mut buf[end..]) {
                Ok(0) => {
                    self.shared.buffers.give_read(buf);
                    return self.close(token, home);
                }
                Ok(n) => {
                    let short = end + n < buf.len();
                    end += n;
                    if home.proxy_pending {
                        match proxy_header(&self.room, &mut home, &mut buf, &mut end) {
                            Err(()) => {
                                self.shared.buffers.give_read(buf);
                                return self.close(token, home);
                            }
                            Ok(()) if home.proxy_pending || end == 0 => {
                                if short {
                                    break;
                                }
                                continue;
                            }
                            Ok(()) => {}
                        }
                    }
                    match parse_head(&buf[..end], &cfg.limits, &mut self.head) {
                        Ok(Some(_)) => {
                            let Home { stream, info, .. } = *home;
                            let head = std::mem::take(&mut self.head);
                            return dispatch(Ready {
                                room: self.room.id,
                                token,
                                stream,
                                info,
                                rbuf: ReadBuf { buf, pos: 0, end },
                                head,
                            });
                        }
                        Ok(None) if short => break,
                        Ok(None) => {}
                        Err(e) => {
                            self.shared.buffers.give_read(buf);
                            return self.refuse(token, home, e);
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.shared.buffers.give_read(buf);
                    return self.close(token, home);
                }
            }
        }
        // The head is not complete: keep what came, in a buffer of its size, and start the
        // head's clock at its first byte (a slow-loris client gets the client timeout for
        // the whole head, however it dribbles).
        home.partial.clear();
        home.partial.extend_from_slice(&buf[..end]);
        home.partial.shrink_to_fit();
        self.shared.buffers.give_read(buf);
        if !home.partial.is_empty() && !home.head_started {
            home.reusable = false;
            home.head_started = true;
            home.deadline = self.room.timeouts.deadline_in(client_timeout(cfg.client_timeout));
        }
        self.put_back(token, home);
    }

    /// Answers a head that broke a rule, then closes without losing the answer: a client
    /// still sending would get a reset if we closed with its bytes unread, and the reset
    /// could destroy the answer in flight. So: send, shut our side, and read what still
    /// comes for a while (in the waiting room, not in a coroutine).
    fn refuse(&mut self, token: Token, mut home: Box<Home>, e: HttpError) {
        log::debug!("refused request from {}: {e}", display_addr(&home.info.remote_addr));
        let started = Instant::now();
        let mut answer = Vec::new();
        let body_len = push_error(&mut answer, e.status, e.reason);
        // The socket's send buffer is empty at this point: the short answer fits.
        let _ = home.stream.write_now(&[IoSlice::new(&answer)]);
        let _ = home.stream.shutdown(Shutdown::Write);
        if let Some(log) = &self.shared.access_log {
            log.log(
                display_addr(&home.info.remote_addr),
                None,
                b"-",
                e.status,
                body_len as u64,
                started.elapsed(),
            );
        }
        home.partial = Vec::new();
        home.reusable = false;
        home.deadline = self.room.timeouts.deadline_in(LINGER_TIME);
        self.linger(token, home, 0);
    }

    /// Reads and drops what a refused client still sends, until it closes.
    fn linger(&mut self, token: Token, mut home: Box<Home>, mut seen: usize) {
        let mut scratch = [0u8; 4096];
        loop {
            match home.stream.read_now(&mut scratch) {
                Ok(n) if n > 0 && seen + n < LINGER_BYTES => seen += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    home.lingering = Some(seen);
                    return self.put_back(token, home);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                _ => return self.close(token, home),
            }
        }
    }

    /// Every tick of the server's clock: closes idle connections past keep-alive, answers
    /// heads past the client timeout with 408, ends lingering closes.
    fn sweep(&mut self) {
        let now = self.room.timeouts.now_ms();
        if now == self.last_sweep {
            return;
        }
        self.last_sweep = now;
        // A connection closed in another room, or one here became idle: try again.
        self.room.paused.store(false, Ordering::Release);
        let mut expired = Vec::new();
        {
            let mut slab = self.room.lock();
            for (index, entry) in slab.entries.iter_mut().enumerate() {
                if let State::Home(home) = &entry.state {
                    if home.deadline <= now {
                        let token = Token {
                            index: index as u32,
                            generation: entry.generation,
                        };
                        if let State::Home(home) = std::mem::replace(&mut entry.state, State::Away { event: false }) {
                            expired.push((token, home));
                        }
                    }
                }
            }
        }
        for (token, home) in expired {
            if home.lingering.is_some() || home.partial.is_empty() || home.proxy_pending {
                // Idle past keep-alive (or a new connection that never spoke, or a proxy
                // that never finished its PROXY header): close quietly.
                self.close(token, home);
            } else {
                self.refuse(token, home, HttpError::new(408, "timed out reading the request head"));
            }
        }
    }

    /// The server is stopping: no more accepting, and every connection idle after a
    /// response closes now (HTTP lets a server close an idle connection at any moment,
    /// and a client retries). A connection whose first request is still to come, or whose
    /// head is arriving, stays until that request is served (within the client timeout),
    /// as nginx does: a client that connected before the stop loses nothing. So does an
    /// idle connection whose next request has arrived but is not read yet: a proxy sent
    /// it on its kept-alive connection, and would get a reset, and could not send a POST
    /// again. Connections away finish their request and are closed when they come back.
    ///
    /// `draining` (a process being replaced, see `ServerHandle::retire`): idle
    /// connections are not closed but left to their keep-alive, and connections away come
    /// home to do the same.
    fn close_doors(&mut self, draining: bool) {
        let homes: Vec<(Token, Box<Home>)> = {
            let mut slab = self.room.lock();
            slab.closed = !draining;
            let mut homes = Vec::new();
            for (index, entry) in slab.entries.iter_mut().enumerate() {
                if let State::Home(h) = &mut entry.state {
                    if h.reusable && (draining || h.stream.has_pending()) {
                        // Its event, if any, is in the epoll set or the recheck list:
                        // read soon; otherwise it idles out or its client closes it.
                        h.reusable = draining;
                        continue;
                    }
                }
                if matches!(&entry.state, State::Home(h) if h.reusable || h.lingering.is_some()) {
                    let token = Token {
                        index: index as u32,
                        generation: entry.generation,
                    };
                    if let State::Home(home) = std::mem::replace(&mut entry.state, State::Away { event: false }) {
                        homes.push((token, home));
                    }
                }
            }
            homes
        };
        for (token, home) in homes {
            self.close(token, home);
        }
        if let Some(listener) = self.listener.take() {
            let _ = epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, listener.fd(), 0, 0);
        }
    }

    /// Whether a stopping room is done: no connection at home. A draining room waits
    /// also for the connections away, which come home to idle out their keep-alive; once
    /// there is none, it closes (under the same lock, so none can come home after).
    fn done(&self, draining: bool) -> bool {
        if !draining {
            return self.homes() == 0;
        }
        let mut slab = self.room.lock();
        if slab.entries.iter().all(|e| matches!(e.state, State::Free)) {
            slab.closed = true;
            return true;
        }
        false
    }

    /// Connections at home in this room.
    fn homes(&self) -> usize {
        let slab = self.room.lock();
        slab.entries
            .iter()
            .filter(|e| matches!(e.state, State::Home(_)))
            .count()
    }
}

/// How long a waiting room that never parks goes round before it lets the coroutines
/// woken by timers run.
const BUSY_TURN: Duration = Duration::from_millis(50);

/// Lets the others on this scheduler thread run before the room goes round again.
/// `yield_now` puts the room back on its thread's own run queue, and may looks at the
/// queue of coroutines woken from elsewhere (by its timer thread: the sweeper, the
/// heartbeat) only once that one is empty: a room that never parks, as under a flood of
/// events when request threads (not coroutines) take the work, would starve them, and the
/// master would abort a worker that is serving well. So every [`BUSY_TURN`] the room sleeps
/// a millisecond instead, which brings it back through that queue.
fn give_way(busy_since: &mut Instant) {
    if busy_since.elapsed() < BUSY_TURN {
        may::coroutine::yield_now();
    } else {
        may::coroutine::sleep(Duration::from_millis(1));
        *busy_since = Instant::now();
    }
}

/// Reads the PROXY protocol header (`--proxy-protocol`) from the start of what a new
/// connection sent: once whole, its client address replaces the socket peer's and its
/// bytes are taken out of the buffer, so the request head starts at 0. Err: the
/// connection is closed without an answer, as HAProxy's `accept-proxy` and nginx's
/// `proxy_protocol` do (the peer speaks another protocol than HTTP, or is not a proxy
/// we trust: a header from any peer would let a client name its own REMOTE_ADDR).
fn proxy_header(room: &WaitingRoom, home: &mut Home, buf: &mut [u8], end: &mut usize) -> Result<(), ()> {
    let refuse = |why: &dyn std::fmt::Display| {
        // At most a line a second: a port scanner would otherwise fill the log.
        if Census::may_complain(&room.census.proxy_complaint, room.timeouts.now_ms()) {
            log::warn!(
                "closed a connection from {}: {why} (--proxy-protocol is on)",
                display_addr(&home.info.remote_addr)
            );
        }
        Err(())
    };
    let (len, header) = match proxy_protocol::parse(&buf[..*end]) {
        Ok(None) => return Ok(()),
        Ok(Some(found)) => found,
        Err(e) => return refuse(&e),
    };
    if !home.info.trusted_proxy {
        return refuse(&"a PROXY header from a peer not in --forwarded-allow-ips");
    }
    if let Some(source) = header.source {
        home.info.remote_addr = source.ip().to_canonical().to_string();
        home.info.remote_port = source.port().to_string();
    }
    buf.copy_within(len..*end, 0);
    *end -= len;
    home.proxy_pending = false;
    Ok(())
}

/// The client timeout as a wait: zero means none.
pub(crate) fn client_timeout(t: Duration) -> Duration {
    if t.is_zero() {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        t
    }
}

fn display_addr(addr: &str) -> &str {
    if addr.is_empty() {
        "-"
    } else {
        addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What an idle connection costs the process, besides the kernel's socket: these sizes
    /// are quoted in the README; the test keeps them true.
    #[test]
    fn an_idle_connection_is_a_slab_entry_and_a_small_box() {
        assert!(std::mem::size_of::<Entry>() <= 24, "{}", std::mem::size_of::<Entry>());
        assert!(std::mem::size_of::<Home>() <= 240, "{}", std::mem::size_of::<Home>());
    }

    #[test]
    fn complaints_at_most_once_a_second() {
        let last = AtomicU64::new(0);
        assert!(Census::may_complain(&last, 0), "the first, even at the clock's start");
        assert!(!Census::may_complain(&last, 500));
        assert!(!Census::may_complain(&last, 999));
        assert!(Census::may_complain(&last, 1000));
        assert!(!Census::may_complain(&last, 1999));
        assert!(Census::may_complain(&last, 5000));
    }

    #[test]
    fn tokens_round_trip_through_epoll_data() {
        for (index, generation) in [(0, 0), (7, 1), (u32::MAX - 1, u32::MAX)] {
            let token = Token::new(index, generation);
            assert_eq!(Token::from_epoll_data(token.epoll_data()), token);
            assert_ne!(token.epoll_data(), LISTENER);
        }
    }
}
