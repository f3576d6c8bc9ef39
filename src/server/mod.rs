//! One worker process's server: the waiting rooms that accept and hold connections, the
//! request pool, the sweeper, and graceful stop; it hands each complete request to a
//! request worker (`connection.rs`): a coroutine, or an OS thread from a small pool with
//! [`WorkerClass::Thread`] (gunicorn's gthread design; the two are compared in `executor`).
//!
//! This is eventlet's `wsgi.server(sock, app, max_size=1000)` and wsgiref's
//! `make_server(host, port, app).serve_forever()`, rebuilt so that idle and slow clients
//! cost almost nothing: a connection waits in a waiting room (`waiting_room.rs`, one epoll
//! set per scheduler thread) until its request head is complete, and only then takes a
//! place in the pool (`pool.rs`, eventlet's `GreenPool(1000)`), queueing when all are taken.
//! At the `worker_connections` limit the connection idle longest makes room, or accept
//! waits and leaves new connections in the kernel's backlog, where another worker can take
//! them. A [`Server`] can be made on an inherited listening socket
//! ([`Server::from_listener`]), which is how a pre-forked worker runs it, after setting up
//! may for its process with [`configure_may`].

pub(crate) mod access_log;
pub(crate) mod buffers;
pub(crate) mod connection;
pub(crate) mod crew;
pub(crate) mod executor;
pub(crate) mod net;
pub(crate) mod pool;
pub(crate) mod slots;
pub(crate) mod stack_guard;
pub(crate) mod timeouts;
pub(crate) mod waiting_room;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::http::{ForwardedAllow, Limits};
use crate::wsgi::Application;
pub use access_log::AccessLog;
use buffers::Buffers;
use crew::{Crew, Death};
pub use executor::WorkerClass;
pub use net::{Listener, LocalAddr};
use pool::{Dispatch, Pool};
use slots::{thread_slot, Padded, SLOTS};
use timeouts::Timeouts;
use waiting_room::{Census, Ready, WaitingRoom};

/// Where the access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Off,
    Stderr,
    File(PathBuf),
}

/// Everything a server can be told; `Default` gives eventlet's and gunicorn's defaults,
/// [`ServerConfig::for_class`] those of a worker class.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// What runs a request: a coroutine or an OS thread (gunicorn's `worker_class`).
    pub worker_class: WorkerClass,
    /// Most client connections one process holds open, idle or busy (gunicorn's
    /// `worker_connections`); at the limit, accepting waits. Clipped to the open-file
    /// limit less a reserve.
    pub worker_connections: usize,
    /// Most requests one process handles at once: the pool (eventlet's
    /// `GreenPool(size)`, Glance's `threads=1000`; gunicorn gthread's `threads` for the
    /// thread class). Complete heads beyond it queue.
    pub pool_size: usize,
    /// Stack of each request worker, coroutine or thread, in bytes (the application runs
    /// on it).
    pub stack_size: usize,
    /// How long an idle keep-alive connection waits for its next request; 0 turns
    /// keep-alive off.
    pub keep_alive: Duration,
    /// How long a client may take to send a request head, or stall in a body or while
    /// receiving; 0 means no limit.
    pub client_timeout: Duration,
    pub limits: Limits,
    /// Put the panic message in the 500 body (eventlet's `debug=True`).
    pub debug: bool,
    pub access_log: AccessLogTarget,
    /// Log X-Forwarded-For in front of the peer address (eventlet's `log_x_forwarded_for`).
    pub log_x_forwarded_for: bool,
    /// Where the application is mounted (SCRIPT_NAME).
    pub script_name: String,
    /// `wsgi.url_scheme`.
    pub url_scheme: String,
    /// `wsgi.multiprocess`: true when several worker processes serve the same app.
    pub multiprocess: bool,
    /// Most request-body bytes read and thrown away after a response so the connection can
    /// be kept; beyond this it is closed instead.
    pub max_drain: u64,
    /// Most request-body bytes accepted (`--limit-request-body`, nginx's
    /// `client_max_body_size`): a larger Content-Length is answered 413 before the
    /// application runs; a chunked body that grows past it fails `wsgi.input` with
    /// `io::ErrorKind::FileTooLarge` and is answered 413 (or cut, if the response has
    /// begun). `None`, the default, accepts any size, as gunicorn and eventlet do.
    pub limit_request_body: Option<u64>,
    /// The proxies whose `X-Forwarded-For` (REMOTE_ADDR) and `X-Forwarded-Proto`,
    /// `X-Forwarded-Ssl`, `X-Forwarded-Protocol` (`wsgi.url_scheme`) are believed
    /// (gunicorn's `forwarded_allow_ips`, default `127.0.0.1,::1`; Unix-domain peers always
    /// are). From other peers those headers reach the app untouched and change nothing.
    pub forwarded_allow_ips: ForwardedAllow,
    /// Every connection starts with a PROXY protocol header, v1 or v2 (HAProxy's
    /// `send-proxy`, nginx's `proxy_protocol on`), from a peer in `forwarded_allow_ips`;
    /// its client address becomes REMOTE_ADDR and REMOTE_PORT for all the connection's
    /// requests. A connection without a valid one is closed.
    pub proxy_protocol: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig::for_class(WorkerClass::Coroutine)
    }
}

impl ServerConfig {
    /// The defaults, with the pool size and stack size of `class` (1000 coroutines of
    /// 128 KiB, or 32 threads of 2 MiB).
    pub fn for_class(class: WorkerClass) -> ServerConfig {
        ServerConfig {
            worker_class: class,
            worker_connections: 10_000,
            pool_size: class.default_pool_size(),
            stack_size: class.default_stack_size(),
            keep_alive: Duration::from_secs(5),
            client_timeout: Duration::from_secs(60),
            limits: Limits::default(),
            debug: false,
            access_log: AccessLogTarget::Stderr,
            log_x_forwarded_for: false,
            script_name: String::new(),
            url_scheme: "http".to_owned(),
            multiprocess: false,
            max_drain: 1024 * 1024,
            limit_request_body: None,
            forwarded_allow_ips: ForwardedAllow::default(),
            proxy_protocol: false,
        }
    }
}

/// What every connection coroutine of one server shares.
pub(crate) struct Shared {
    pub app: Box<dyn Application>,
    pub config: ServerConfig,
    pub access_log: Option<AccessLog>,
    pub stopping: AtomicBool,
    /// Set before a stop by a process being replaced ([`ServerHandle::retire`]): idle
    /// keep-alive connections stay open until their keep-alive runs out or the client
    /// closes them, and what arrives on them is served.
    pub draining: AtomicBool,
    pub timeouts: Arc<Timeouts>,
    /// Requests served so far (for `--max-requests`).
    pub requests: RequestCount,
    /// One waiting room per scheduler thread.
    pub rooms: Vec<Arc<WaitingRoom>>,
    pub census: Arc<Census>,
    pub pool: Pool<Ready>,
    pub buffers: Buffers,
    pub crew: Crew,
    /// A request coroutine was lost (stack overflow): this process should be replaced.
    pub retire: AtomicBool,
}

/// A count every request adds to, kept in one slot per scheduler thread (see `slots`).
#[derive(Default)]
pub(crate) struct RequestCount {
    slots: [Padded<AtomicU64>; SLOTS],
}

impl RequestCount {
    /// One more request, counted in this thread's slot.
    pub fn add_one(&self) {
        self.slots[thread_slot()].0.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted so far, all slots summed.
    pub fn total(&self) -> u64 {
        self.slots.iter().map(|slot| slot.0.load(Ordering::Relaxed)).sum()
    }
}

/// Coroutine stack size in bytes: roomy enough for application code and a panic's unwind;
/// only the pages a coroutine touches cost memory.
pub const STACK_BYTES: usize = 128 * 1024;

/// File descriptors kept back from client connections: the listener, log files, the
/// epoll sets, and whatever the application opens.
const FD_RESERVE: usize = 64;

/// Configures may for this process. Must run before the first coroutine or may socket:
/// the scheduler reads it once when it starts. In a pre-fork server that is in each worker,
/// after fork: fork copies only the calling thread, so a scheduler started in the master
/// would arrive in the children without its threads.
///
/// may pins its scheduler threads to cores 0, 1, ... by default. That suits one process; in
/// several worker processes it would pin every worker's first thread to core 0, so pinning
/// is left to a single process (`pin`) and the kernel balances workers.
pub fn configure_may(threads: usize, pin: bool) {
    let config = may::config();
    config
        .set_workers(threads)
        .set_stack_size(STACK_BYTES / std::mem::size_of::<usize>())
        .set_pool_capacity(COROUTINE_CACHE);
    config.set_worker_pin(pin);
}

/// Finished coroutines may keeps for reuse, stacks and all. may's default (1,000) keeps
/// every stack a burst of requests touched resident long after; the request pool parks
/// its own idle workers (`pool::KEEP_IDLE`), so a small cache is enough.
const COROUTINE_CACHE: usize = 64;

/// A bound server, not yet serving.
pub struct Server {
    listener: Listener,
    addr: LocalAddr,
    shared: Arc<Shared>,
}

/// wsgiref's `make_server(host, port, app)`: a server with the default configuration.
/// An empty host means every IPv4 interface, as in Python.
pub fn make_server(host: &str, port: u16, app: impl Application) -> io::Result<Server> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Server::bind((host, port), app, ServerConfig::default())
}

/// How many connections a process can really hold: the configured number, within the
/// open-file limit less a reserve. The soft limit is raised towards the hard one first
/// (as Go's runtime does), since an operator who asks for 10,000 connections means it.
fn connection_limit(wanted: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: getrlimit/setrlimit on a valid struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return wanted;
    }
    let need = (wanted + FD_RESERVE) as libc::rlim_t;
    if lim.rlim_cur < need && lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: need.min(lim.rlim_max),
            rlim_max: lim.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = raised.rlim_cur;
        }
    }
    let possible = (lim.rlim_cur as usize).saturating_sub(FD_RESERVE).max(1);
    if possible < wanted {
        log::warn!(
            "worker_connections {wanted} clipped to {possible}: the open-file limit is {} (raise it with ulimit -n or LimitNOFILE=)",
            lim.rlim_cur
        );
    }
    wanted.min(possible)
}

impl Server {
    /// Binds `addr` (SO_REUSEADDR, as std does on Unix) and readies a server on it.
    pub fn bind(addr: impl ToSocketAddrs, app: impl Application, config: ServerConfig) -> io::Result<Server> {
        let listener = std::net::TcpListener::bind(addr)?;
        Server::from_listener(listener, app, config)
    }

    /// A server on a socket that is already listening (TCP or Unix-domain): one inherited
    /// from a master process, or handed over by systemd.
    pub fn from_listener(
        listener: impl Into<Listener>,
        app: impl Application,
        config: ServerConfig,
    ) -> io::Result<Server> {
        let listener = listener.into();
        let access_log = AccessLog::open(&config.access_log)?;
        let timeouts = Arc::new(Timeouts::new());
        let census = Arc::new(Census::new(connection_limit(config.worker_connections)));
        let threads = may::config().get_workers().max(1);
        let rooms = (0..threads)
            .map(|id| Arc::new(WaitingRoom::new(id, census.clone(), timeouts.clone())))
            .collect();
        Ok(Server {
            addr: listener.local_addr()?,
            listener: listener.into_nonblocking()?,
            shared: Arc::new(Shared {
                app: Box::new(app),
                rooms,
                census,
                pool: Pool::new(config.pool_size),
                buffers: Buffers::default(),
                crew: Crew::default(),
                retire: AtomicBool::new(false),
                config,
                access_log,
                stopping: AtomicBool::new(false),
                draining: AtomicBool::new(false),
                timeouts,
                requests: RequestCount::default(),
            }),
        })
    }

    /// The TCP address the server listens on (the real port when bound to port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match &self.addr {
            LocalAddr::Tcp(a) => Ok(*a),
            LocalAddr::Unix(p) => Err(io::Error::other(format!("listening on unix:{}", p.display()))),
        }
    }

    /// Where the server listens, TCP or Unix-domain.
    pub fn listen_addr(&self) -> &LocalAddr {
        &self.addr
    }

    /// Serves until the process ends (wsgiref's `serve_forever()`).
    pub fn serve_forever(self) -> io::Result<()> {
        self.start()?.wait();
        Ok(())
    }

    /// Starts the waiting room (which accepts) in its own coroutine and returns at once.
    pub fn start(self) -> io::Result<ServerHandle> {
        let addr = self.addr;
        let shared = self.shared.clone();
        let listener = self.listener;
        let sweeper_shared = Arc::downgrade(&self.shared);
        fix_mmap_threshold();
        // Safety (may's rule for spawn): the sweeper owns all it uses.
        unsafe {
            may::coroutine::Builder::new()
                .name("sweeper".to_owned())
                .spawn(move || sweep_loop(sweeper_shared))?;
        }
        let mut rooms = Vec::new();
        for room in &shared.rooms {
            let (room, shared, listener) = (room.clone(), shared.clone(), listener.try_clone()?);
            // Safety (may's rule for spawn): the waiting room owns all it uses.
            let handle = unsafe {
                may::coroutine::Builder::new()
                    .name("waiting-room".to_owned())
                    .spawn(move || {
                        let dispatch_to = shared.clone();
                        waiting_room::run(room, listener, shared, move |ready| dispatch(ready, &dispatch_to))
                    })?
            };
            rooms.push(handle);
        }
        drop(listener);
        Ok(ServerHandle {
            shared: self.shared,
            rooms,
            addr,
        })
    }
}

/// Hands a connection with a complete head to a request coroutine, or queues it when the
/// pool is full (the coroutine that finishes next takes it).
fn dispatch(ready: Ready, shared: &Arc<Shared>) {
    let ready = match shared.pool.dispatch(ready) {
        Dispatch::Spawn(ready) => ready,
        Dispatch::Handed => return,
        Dispatch::Queued => {
            // Coroutines staying with idle connections give their places up.
            shared.timeouts.end_stays();
            return;
        }
    };
    spawn_worker(ready, shared);
}

/// Starts a request worker of the server's class for `ready`: the one place the two
/// classes part (see `executor`).
fn spawn_worker(ready: Ready, shared: &Arc<Shared>) {
    match shared.config.worker_class {
        WorkerClass::Coroutine => executor::coroutine::spawn_worker(ready, shared),
        WorkerClass::Thread => executor::thread::spawn_worker(ready, shared),
    }
}

/// Cleans up after request coroutines that died (see `crew`): the client's connection is
/// shut, the request named, the places given back, and the process asks to retire.
fn mourn(shared: &Arc<Shared>) {
    for casualty in shared.crew.check() {
        let request = casualty.current.as_ref().map_or("-", |c| c.request.as_str());
        match &casualty.death {
            Death::Overflow => {
                log::error!(
                    "Error handling request {request}: the request coroutine overflowed its {} KiB stack \
                     (raise --stack-size); connection closed, its frames abandoned",
                    shared.config.stack_size / 1024
                );
                if let Some(c) = &casualty.current {
                    // The socket belongs to the abandoned frames: shut it so the client
                    // sees the end at once, but leave the fd (nothing will close it).
                    // Safety: shutdown on an fd we know is still open.
                    unsafe { libc::shutdown(c.fd, libc::SHUT_RDWR) };
                }
            }
            Death::Panic(why) => log::error!("Error handling request {request}: the request coroutine panicked: {why}"),
        }
        if let Some(c) = &casualty.current {
            shared.rooms[c.room].forget(c.token);
        }
        if let Some(ready) = shared.pool.abandon() {
            spawn_worker(ready, shared);
        }
        shared.retire.store(true, Ordering::Release);
    }
}

/// Hands freed heap pages back to the kernel. glibc keeps freed memory in its arenas, so
/// after a burst the buffers it freed still count in RSS; `malloc_trim` returns the whole
/// free pages in every arena.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // Safety: malloc_trim only walks glibc's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Keeps glibc's threshold for serving an allocation by its own `mmap` at its default
/// (128 KiB) instead of letting it rise. glibc raises it to the size of each large block
/// freed, so after the first 1 MiB response piece all later ones come from the arenas;
/// with request threads those are per-thread arenas, whose freed middle `malloc_trim`
/// cannot give back, and a process that once had twenty stalled clients would keep their
/// memory. Blocks that big are few (buffers come from free lists), so their own `mmap`
/// costs little. An operator's `MALLOC_MMAP_THRESHOLD_` wins.
fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // Safety: mallopt only sets one of glibc's tunables.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

/// Keeps the deadlines of waits in requests (see `timeouts`) and wakes the waiting room
/// for its own, for as long as anything of the server is alive.
fn sweep_loop(shared: std::sync::Weak<Shared>) {
    for tick in 1u64.. {
        may::coroutine::sleep(timeouts::SWEEP);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.timeouts.sweep();
        if tick % 10 == 0 && shared.buffers.trim() {
            give_back_freed_memory();
        }
        for room in &shared.rooms {
            room.wake();
        }
        mourn(&shared);
    }
}

/// A running server: its address, and the way to stop it.
pub struct ServerHandle {
    shared: Arc<Shared>,
    rooms: Vec<may::coroutine::JoinHandle<()>>,
    addr: LocalAddr,
}

impl ServerHandle {
    /// The TCP address served; `0.0.0.0:0` for a Unix-domain socket (see [`ServerHandle::addr`]).
    pub fn local_addr(&self) -> SocketAddr {
        match &self.addr {
            LocalAddr::Tcp(a) => *a,
            LocalAddr::Unix(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> &LocalAddr {
        &self.addr
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.total()
    }

    /// Opens the access log file again by name (after logrotate moved it).
    pub fn reopen_logs(&self) -> io::Result<()> {
        match &self.shared.access_log {
            Some(log) => log.reopen(),
            None => Ok(()),
        }
    }

    /// Client connections open right now: idle in the waiting room, sending a head, or
    /// being served.
    pub fn connections(&self) -> usize {
        self.shared.census.open()
    }

    /// A request coroutine was lost to a stack overflow: its frames (and the memory and
    /// socket they hold) are abandoned, so a worker process should be replaced.
    pub fn must_retire(&self) -> bool {
        self.shared.retire.load(Ordering::Acquire)
    }

    /// Requests being handled right now (places taken in the pool).
    pub fn requests_in_flight(&self) -> usize {
        self.shared.pool.running()
    }

    /// Stops accepting, and returns at once. Connections idle after a response close
    /// now; requests in flight, complete heads queued for the pool, and connections
    /// whose first request is still arriving (within the client timeout) are served, and
    /// their connections then close.
    pub fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        for room in &self.shared.rooms {
            room.wake();
        }
        self.shared.timeouts.end_stays();
        self.shared.pool.close();
    }

    /// Stops accepting and waits up to `grace` for what is being served to finish; true
    /// when it all did.
    pub fn shutdown(mut self, grace: Duration) -> bool {
        let deadline = std::time::Instant::now() + grace;
        self.stop();
        while self.rooms.iter().any(|r| !r.is_done()) {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            if may::coroutine::is_coroutine() {
                may::coroutine::sleep(Duration::from_millis(10));
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.rooms.clear();
        self.shared
            .pool
            .wait_idle(deadline.saturating_duration_since(std::time::Instant::now()))
    }

    /// Stops as [`shutdown`](Self::shutdown) does, for a process that is being replaced
    /// (a reload, `--max-requests`): the difference is that connections idle after a
    /// response are not closed under their client. They stay open until their keep-alive
    /// runs out or the client closes them, and a request that arrives on one meanwhile is
    /// served (with `Connection: close`). A proxy keeps its idle connections open and may
    /// send a request on one at any moment; closing the connection under it would fail
    /// that request, and a POST whose body streamed cannot be sent again. A proxy that
    /// gives up an idle connection before `--keep-alive` (as `deploy/nginx` does) always
    /// closes first, so nothing is lost. The old process lingers at most `keep_alive`, and
    /// never past `grace`: what is still open then is closed, as `shutdown` does.
    pub fn retire(self, grace: Duration) -> bool {
        self.shared.draining.store(true, Ordering::Release);
        self.shutdown(grace)
    }

    /// Waits until the server stops accepting (for `serve_forever`, never).
    pub fn wait(mut self) {
        for room in self.rooms.drain(..) {
            let _ = room.join();
        }
    }
}
