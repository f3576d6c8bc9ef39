//! One worker process's server: the listener, the bounded coroutine pool, the accept loop
//! and graceful stop. The connection loop lives in `connection.rs`.
//!
//! This is eventlet's `wsgi.server(sock, app, max_size=1000)` and wsgiref's
//! `make_server(host, port, app).serve_forever()`: an accept loop that waits for a free
//! place in a [`GreenPool`] *before* it accepts (so a full worker leaves new connections in
//! the kernel's backlog, where another worker can take them), and one coroutine per
//! connection. A [`Server`] can be made on an inherited listening socket
//! ([`Server::from_listener`]), which is how a pre-forked worker runs it, after setting up
//! may for its process with [`configure_may`].

pub(crate) mod access_log;
pub(crate) mod connection;
pub(crate) mod net;
pub(crate) mod timeouts;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::green::GreenPool;
use crate::http::Limits;
use crate::wsgi::Application;
pub use access_log::AccessLog;
use net::MayListener;
pub use net::{Listener, LocalAddr};
use timeouts::Timeouts;

/// Where the access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Off,
    Stderr,
    File(PathBuf),
}

/// Everything a server can be told; `Default` gives eventlet's and gunicorn's defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most connections served at once (the pool size; Glance's `threads=1000`).
    pub worker_connections: usize,
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            worker_connections: 1000,
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
        }
    }
}

/// What every connection coroutine of one server shares.
pub(crate) struct Shared {
    pub app: Box<dyn Application>,
    pub config: ServerConfig,
    pub access_log: Option<AccessLog>,
    pub stopping: AtomicBool,
    pub timeouts: Arc<Timeouts>,
    /// Requests served so far (for `--max-requests`).
    pub requests: AtomicU64,
}

/// Coroutine stack size in bytes: roomy enough for application code and a panic's unwind;
/// only the pages a coroutine touches cost memory.
const STACK_BYTES: usize = 128 * 1024;

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
        .set_stack_size(STACK_BYTES / std::mem::size_of::<usize>());
    config.set_worker_pin(pin);
}

/// A bound server, not yet serving.
pub struct Server {
    listener: MayListener,
    addr: LocalAddr,
    shared: Arc<Shared>,
}

/// wsgiref's `make_server(host, port, app)`: a server with the default configuration.
/// An empty host means every IPv4 interface, as in Python.
pub fn make_server(host: &str, port: u16, app: impl Application) -> io::Result<Server> {
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Server::bind((host, port), app, ServerConfig::default())
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
        Ok(Server {
            addr: listener.local_addr()?,
            listener: listener.into_may()?,
            shared: Arc::new(Shared {
                app: Box::new(app),
                config,
                access_log,
                stopping: AtomicBool::new(false),
                timeouts: Arc::new(Timeouts::new()),
                requests: AtomicU64::new(0),
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

    /// Starts the accept loop in its own coroutine and returns at once.
    pub fn start(self) -> io::Result<ServerHandle> {
        let addr = self.addr;
        let pool = GreenPool::new(self.shared.config.worker_connections);
        let shared = self.shared.clone();
        let listener = self.listener;
        let accept_pool = pool.clone();
        let sweeper_shared = Arc::downgrade(&self.shared);
        // Safety (may's rule for spawn): the sweeper owns all it uses.
        unsafe {
            may::coroutine::Builder::new()
                .name("sweeper".to_owned())
                .spawn(move || sweep_loop(sweeper_shared))?;
        }
        // Safety (may's rule for spawn): the accept loop owns all it uses.
        let acceptor = unsafe {
            may::coroutine::Builder::new()
                .name("accept".to_owned())
                .spawn(move || accept_loop(listener, accept_pool, shared))?
        };
        Ok(ServerHandle {
            shared: self.shared,
            acceptor: Some(acceptor),
            pool,
            addr,
        })
    }
}

fn accept_loop(listener: MayListener, pool: GreenPool, shared: Arc<Shared>) {
    loop {
        // Wait for room first: a full worker should not take connections it cannot serve.
        let slot = pool.reserve();
        if shared.stopping.load(Ordering::Acquire) {
            return;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                let shared = shared.clone();
                drop(pool.spawn_in(slot, move || connection::serve(stream, peer, &shared)));
            }
            Err(e) => {
                drop(slot);
                if shared.stopping.load(Ordering::Acquire) {
                    return;
                }
                log::error!("accept failed: {e}");
                // Out of file descriptors and the like: back off instead of spinning.
                may::coroutine::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Keeps the connections' deadlines (see `timeouts`) for as long as anything of the server
/// is alive.
fn sweep_loop(shared: std::sync::Weak<Shared>) {
    loop {
        may::coroutine::sleep(timeouts::SWEEP);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.timeouts.sweep(shared.stopping.load(Ordering::Acquire));
    }
}

/// A running server: its address, and the way to stop it.
pub struct ServerHandle {
    shared: Arc<Shared>,
    acceptor: Option<may::coroutine::JoinHandle<()>>,
    pool: GreenPool,
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
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Opens the access log file again by name (after logrotate moved it).
    pub fn reopen_logs(&self) -> io::Result<()> {
        match &self.shared.access_log {
            Some(log) => log.reopen(),
            None => Ok(()),
        }
    }

    /// Connections being served right now.
    pub fn connections(&self) -> usize {
        self.pool.running()
    }

    /// Stops accepting. Connections in flight finish their request; idle keep-alive
    /// connections close at the sweeper's next round (within 0.1 s); a connection accepted
    /// just before still gets its first request served.
    pub fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(acceptor) = self.acceptor.take() {
            // Cancelling wakes the accept loop out of its wait; may raises the cancel at
            // that blocking call, where the loop holds nothing but a pool slot.
            unsafe { acceptor.coroutine().cancel() };
            let _ = acceptor.join();
        }
    }

    /// Stops accepting and waits up to `grace` for open connections to finish; true when
    /// they all did.
    pub fn shutdown(mut self, grace: Duration) -> bool {
        self.stop();
        self.pool.waitall_timeout(grace)
    }

    /// Waits until the server stops accepting (for `serve_forever`, never).
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}
