//! Process supervision: Glance's `Server.start()` / `wait()` with gunicorn's arbiter.
//!
//! The master binds the listening socket, then forks `--workers` children that all accept
//! on it, and from then on only supervises: it sleeps on its signal pipe, reaps children,
//! respawns the dead (slowing down a crash loop), aborts workers whose heartbeat stopped,
//! and acts on signals (see docs/signals.md). It knows nothing of HTTP and never starts the
//! may runtime: fork copies only the calling thread, so each worker configures may after
//! fork, in `worker_main`.
//!
//! `--workers 0` serves in the one process instead, with the same signals for stopping.

mod heartbeat;
mod memory;
mod pidfile;
mod signals;
mod sock;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{self, Config};
pub use crate::config::{BindAddr, SocketOptions, MAX_WORKERS};
use crate::server::Listener;
use crate::wsgi::Application;
use heartbeat::Board;
use pidfile::PidFile;
pub use sock::{bind, bind_with_retry, sd_notify, systemd_listener};

/// The exit status of a worker that could not start serving (gunicorn's WORKER_BOOT_ERROR):
/// the master stops instead of respawning it forever.
const BOOT_ERROR: i32 = 3;

/// A worker that dies sooner than this after booting counts towards the crash backoff.
const UNSTABLE: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// After SIGABRT, how long a hung worker gets before SIGKILL.
const ABORT_GRACE: Duration = Duration::from_secs(2);
/// How long a quick stop (INT, QUIT) waits before SIGKILL.
const QUICK_STOP: Duration = Duration::from_secs(2);

/// Glance's `Server`: made from a configuration, `start`ed with an app, then `wait`ed on.
pub struct Server {
    config: Config,
    argv: Vec<String>,
}

/// A started server: the bound socket and pidfile; [`Started::wait`] serves or supervises.
pub struct Started {
    config: Config,
    argv: Vec<String>,
    app: Arc<dyn Application>,
    /// The shared socket; `None` with `--reuse-port`, where each worker binds its own.
    listener: Option<Listener>,
    addr: crate::server::LocalAddr,
    _pidfile: Option<PidFile>,
}

impl Server {
    /// `argv` is the command line, read again on HUP to reload the configuration.
    pub fn new(config: Config, argv: Vec<String>) -> Server {
        Server { config, argv }
    }

    /// Sets the umask, takes the socket (systemd's, or binds one, retrying while it is in
    /// use) and writes the pidfile. Nothing is forked yet.
    pub fn start(self, app: impl Application) -> io::Result<Started> {
        let mut config = self.config;
        // Safety: umask(2) only sets this process's mask.
        unsafe { libc::umask(config.umask as libc::mode_t) };
        let (listener, from_systemd) = match systemd_listener()? {
            Some(l) => {
                log::info!("using the socket systemd passed");
                (l, true)
            }
            None => (bind_with_retry(&config.bind, &config.socket, config.bind_retry)?, false),
        };
        let addr = listener.local_addr()?;
        let mut listener = Some(listener);
        if config.socket.reuse_port && config.workers > 0 && !from_systemd {
            if let crate::server::LocalAddr::Tcp(actual) = addr {
                // The kernel spreads connections over every socket bound with SO_REUSEPORT,
                // and the master never accepts: its socket only proved the address free
                // (and chose the port, for port 0). Workers bind their own to that address.
                config.bind = BindAddr::Tcp(actual);
                listener = None;
            }
        }
        let pidfile = config.pidfile.as_deref().map(PidFile::create).transpose()?;
        Ok(Started {
            config,
            argv: self.argv,
            app: Arc::new(app),
            listener,
            addr,
            _pidfile: pidfile,
        })
    }
}

impl Started {
    /// Where the server listens.
    pub fn listen_addr(&self) -> &crate::server::LocalAddr {
        &self.addr
    }

    /// Serves until stopped; returns the process's exit status.
    pub fn wait(self) -> i32 {
        let addr = self.addr.to_string();
        // Said only once the signal handlers are in place: whoever reads the line may
        // signal at once, and a HUP before the handler would end the process.
        let announce = format!(
            "{} {} listening at {addr} ({} workers, worker class {}, {} scheduler threads, {} connections and {} requests at once each)",
            self.config.program.name,
            self.config.program.version,
            self.config.workers,
            self.config.server.worker_class,
            self.config.scheduler_threads,
            self.config.server.worker_connections,
            self.config.server.pool_size,
        );
        let unix_path = match &self.config.bind {
            BindAddr::Unix(p) => Some(p.clone()),
            BindAddr::Tcp(_) => None,
        };
        let code = if self.config.workers == 0 {
            signals::install_single();
            log::info!("{announce}");
            sd_notify("READY=1");
            worker_main(&self.config, self.app.clone(), self.listener.as_ref(), None)
        } else {
            match Arbiter::new(self) {
                Ok(arbiter) => {
                    log::info!("{announce}");
                    arbiter.run()
                }
                Err(e) => {
                    log::error!("cannot start the master: {e}");
                    1
                }
            }
        };
        if let Some(path) = unix_path {
            let _ = std::fs::remove_file(path);
        }
        code
    }
}

/// How a worker reports to the master: its heartbeat slot.
struct Beat {
    /// The master's pid, taken before fork: a worker whose parent is no longer this
    /// process has lost its master.
    master: libc::pid_t,
    board: &'static Board,
    slot: usize,
    interval: Duration,
}

/// A worker's life (or the single process's): configure may, serve on the inherited
/// socket, beat, and stop when told. Returns the exit status.
fn worker_main(config: &Config, app: Arc<dyn Application>, listener: Option<&Listener>, beat: Option<Beat>) -> i32 {
    crate::server::configure_may(config.scheduler_threads, config.workers == 0);
    let listener = match listener {
        Some(shared) => shared.try_clone(),
        None => bind(&config.bind, &config.socket),
    };
    let started = listener
        .and_then(|l| crate::server::Server::from_listener(l, app, config.server.clone()))
        .and_then(crate::server::Server::start);
    let handle = match started {
        Ok(h) => h,
        Err(e) => {
            log::error!("worker {} failed to boot: {e}", std::process::id());
            return BOOT_ERROR;
        }
    };
    if let Some(beat) = &beat {
        let (board, slot, interval) = (beat.board, beat.slot, beat.interval);
        board.beat(slot);
        // The beat comes from a coroutine, so it stops when the scheduler stops turning.
        // may resumes a sleeping coroutine on its timer thread, which an app cannot
        // block; yielding first puts the beat back in a scheduler thread's queue.
        // Safety (may's rule for spawn): the closure owns what it uses.
        let spawned = unsafe {
            may::coroutine::spawn(move || -> () {
                loop {
                    may::coroutine::sleep(interval);
                    may::coroutine::yield_now();
                    board.beat(slot);
                }
            })
        };
        drop(spawned);
    }
    // Retiring needs a master to put a fresh worker in its place; alone, it would stop
    // the service.
    let limit = if beat.is_some() { retire_after(config) } else { None };
    if beat.is_none() && config.max_requests > 0 {
        log::warn!("--max-requests needs a master (--workers 1 or more); ignored");
    }
    let memory_limit = if beat.is_some() { config.max_worker_memory } else { None };
    if beat.is_none() && config.max_worker_memory.is_some() {
        log::warn!("--max-worker-memory needs a master (--workers 1 or more); ignored");
    }
    let mut lost_logged = false;
    // Whether this worker is being replaced (a reload, its request or memory limit, a
    // lost coroutine), and so drains rather than closing its idle connections.
    let mut tick = 0u64;
    let replaced = loop {
        tick += 1;
        std::thread::sleep(Duration::from_millis(100));
        if signals::take(libc::SIGUSR1) > 0 {
            if let Err(e) = handle.reopen_logs() {
                log::error!("cannot reopen the access log: {e}");
            }
        }
        if signals::take(libc::SIGINT) + signals::take(libc::SIGQUIT) > 0 {
            // Only a single process records these (a worker's handler exits at once).
            log::info!("quick stop");
            return 0;
        }
        if signals::take(libc::SIGHUP) > 0 {
            // The master's word for "you are replaced" (a reload, one worker fewer).
            if beat.is_some() {
                break true;
            }
            log::warn!("HUP: reloading needs a master (--workers 1 or more); ignored");
        }
        if signals::take(libc::SIGTERM) > 0 {
            break false;
        }
        if handle.must_retire() && !lost_logged {
            lost_logged = true;
            if beat.is_some() {
                log::warn!(
                    "worker {}: retiring after losing a request coroutine",
                    std::process::id()
                );
                break true;
            }
            // Alone, retiring would stop the service: go on, and say what is gone.
            log::warn!(
                "a request coroutine was lost: its frames (buffers, environ, one socket) stay allocated; \
                 run with --workers to have such a process replaced"
            );
        }
        if limit.is_some_and(|n| handle.requests() >= n) {
            log::info!(
                "worker {} retiring after {} requests",
                std::process::id(),
                handle.requests()
            );
            break true;
        }
        // Once a second: reading /proc costs a system call or three.
        if let (Some(limit), 0) = (memory_limit, tick % 10) {
            if let Some(rss) = memory::resident_bytes().filter(|&rss| rss > limit) {
                log::warn!(
                    "worker {} retiring: its resident memory, {} MiB, passed --max-worker-memory {} MiB",
                    std::process::id(),
                    rss >> 20,
                    limit >> 20
                );
                break true;
            }
        }
        if beat.as_ref().is_some_and(|b| unsafe { libc::getppid() } != b.master) {
            log::warn!("worker {}: the master is gone; stopping", std::process::id());
            break false;
        }
    };
    // Replaced, it leaves its idle keep-alive connections to their clients (a proxy
    // closes them before --keep-alive, or sends one more request, served with
    // Connection: close) instead of closing one under a request (see ServerHandle::retire).
    let finished = if replaced {
        handle.retire(config.graceful_timeout)
    } else {
        handle.shutdown(config.graceful_timeout)
    };
    if !finished {
        log::warn!(
            "worker {}: connections still open after the graceful timeout",
            std::process::id()
        );
    }
    0
}

/// The request count after which this worker retires: max-requests plus its share of jitter.
fn retire_after(config: &Config) -> Option<u64> {
    if config.max_requests == 0 {
        return None;
    }
    let jitter = if config.max_requests_jitter > 0 {
        // Enough randomness to spread workers apart: the clock and the pid.
        let seed = heartbeat::now_ms() ^ (u64::from(std::process::id()) << 17);
        seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % (config.max_requests_jitter + 1)
    } else {
        0
    };
    Some(config.max_requests + jitter)
}

/// How long to wait before the next respawn after `failures` workers in a row died soon
/// after starting: doubling from 0.2 s, at most 10 s, so a crash loop is never a fork loop.
fn crash_backoff(failures: u32) -> Duration {
    Duration::from_millis(100 * (1u64 << failures.min(7))).min(MAX_BACKOFF)
}

/// One worker process, as the master tracks it.
struct Worker {
    pid: libc::pid_t,
    slot: usize,
    generation: u64,
    booted_at: Option<Instant>,
    /// Told to stop (old generation, TTOU, max-requests, shutdown).
    retiring: bool,
    aborted_at: Option<Instant>,
}

/// How the master is stopping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Graceful,
    Quick,
}

/// gunicorn's arbiter: the master's state and loop.
struct Arbiter {
    started: Started,
    board: &'static Board,
    workers: Vec<Worker>,
    free_slots: Vec<usize>,
    pid: libc::pid_t,
    wanted: usize,
    generation: u64,
    stopping: Option<(Stop, Instant)>,
    halt: Option<i32>,
    failures: u32,
    next_spawn: Instant,
}

impl Arbiter {
    fn new(started: Started) -> io::Result<Arbiter> {
        signals::install_master()?;
        let board: &'static Board = Box::leak(Box::new(Board::new()?));
        Ok(Arbiter {
            wanted: started.config.workers,
            started,
            board,
            workers: Vec::new(),
            free_slots: (0..heartbeat::SLOTS).rev().collect(),
            pid: std::process::id() as libc::pid_t,
            generation: 0,
            stopping: None,
            halt: None,
            failures: 0,
            next_spawn: Instant::now(),
        })
    }

    fn run(mut self) -> i32 {
        log::info!("master {} starting {} workers", std::process::id(), self.wanted);
        self.manage();
        sd_notify("READY=1");
        loop {
            signals::wait(Duration::from_millis(200));
            self.handle_signals();
            self.reap();
            if let Some(code) = self.halt {
                self.kill_all(libc::SIGKILL);
                self.wait_all();
                return code;
            }
            match self.stopping {
                Some(_) if self.workers.is_empty() => {
                    log::info!("master {} stopped", std::process::id());
                    return 0;
                }
                Some((_, deadline)) => {
                    if Instant::now() >= deadline {
                        log::warn!("killing {} workers still running", self.workers.len());
                        self.kill_all(libc::SIGKILL);
                    }
                }
                None => {
                    self.murder();
                    self.manage();
                }
            }
        }
    }

    fn handle_signals(&mut self) {
        if signals::take(libc::SIGINT) + signals::take(libc::SIGQUIT) > 0 {
            self.stop(Stop::Quick);
        }
        if signals::take(libc::SIGTERM) > 0 {
            self.stop(Stop::Graceful);
        }
        if self.stopping.is_some() {
            return;
        }
        if signals::take(libc::SIGHUP) > 0 {
            self.reload();
        }
        for _ in 0..signals::take(libc::SIGTTIN) {
            if self.wanted < MAX_WORKERS {
                self.wanted += 1;
            }
            log::info!("TTIN: {} workers wanted", self.wanted);
        }
        for _ in 0..signals::take(libc::SIGTTOU) {
            self.wanted = (self.wanted - 1).max(1);
            log::info!("TTOU: {} workers wanted", self.wanted);
        }
        if signals::take(libc::SIGUSR1) > 0 {
            log::info!("USR1: workers reopen their log files");
            for w in &self.workers {
                signals::send(w.pid, libc::SIGUSR1);
            }
        }
        signals::take(libc::SIGCHLD);
    }

    fn stop(&mut self, how: Stop) {
        if self.stopping.is_some_and(|(s, _)| s == Stop::Quick) {
            return;
        }
        sd_notify("STOPPING=1");
        let (sig, wait) = match how {
            Stop::Graceful => (
                libc::SIGTERM,
                self.started.config.graceful_timeout + Duration::from_secs(1),
            ),
            Stop::Quick => (libc::SIGQUIT, QUICK_STOP),
        };
        log::info!(
            "{} stop: {} workers",
            if how == Stop::Quick { "quick" } else { "graceful" },
            self.workers.len()
        );
        self.stopping = Some((how, Instant::now() + wait));
        self.kill_all(sig);
    }

    /// HUP: read the configuration again; start a new generation of workers with it, then
    /// stop the old one gracefully. The socket stays open throughout, so no request fails.
    fn reload(&mut self) {
        let program = self.started.argv.first().cloned().unwrap_or_default();
        let args = &self.started.argv[1.min(self.started.argv.len())..];
        let config = match self.started.config.program.parse(&program, args) {
            Ok(config::Command::Serve(c)) => *c,
            Ok(_) => return,
            Err(e) => {
                log::error!("HUP: configuration not reloaded, keeping the running one: {e}");
                return;
            }
        };
        sd_notify(&sock::reloading_message());
        if config.bind != self.started.config.bind {
            log::warn!("HUP: the bind address changed to {}; that takes a restart", config.bind);
        }
        log::info!("HUP: reloading with {} workers", config.workers.max(1));
        crate::logging::init(config.log_level);
        self.wanted = config.workers.max(1);
        self.started.config = Config {
            bind: self.started.config.bind.clone(),
            ..config
        };
        self.generation += 1;
        for w in &mut self.workers {
            w.retiring = true;
        }
        self.next_spawn = Instant::now();
        self.manage();
        for w in self.workers.iter().filter(|w| w.generation < self.generation) {
            // HUP, not TERM: the worker is replaced, and drains (see worker_main).
            signals::send(w.pid, libc::SIGHUP);
        }
        sd_notify("READY=1");
    }

    /// Starts workers until the current generation has as many as wanted; retires the
    /// oldest when it has more.
    fn manage(&mut self) {
        let current = |a: &Arbiter| a.workers.iter().filter(|w| !w.retiring).count();
        while current(self) < self.wanted && Instant::now() >= self.next_spawn {
            if let Err(e) = self.spawn() {
                log::error!("cannot fork a worker: {e}");
                self.next_spawn = Instant::now() + Duration::from_secs(1);
                break;
            }
        }
        while current(self) > self.wanted {
            if let Some(w) = self.workers.iter_mut().find(|w| !w.retiring) {
                log::info!("retiring worker {}", w.pid);
                w.retiring = true;
                signals::send(w.pid, libc::SIGHUP);
            }
        }
    }

    fn spawn(&mut self) -> io::Result<()> {
        let slot = self
            .free_slots
            .pop()
            .ok_or_else(|| io::Error::other("no heartbeat slot left"))?;
        self.board.clear(slot);
        // The handled signals wait, blocked, from before the fork until the child has its
        // own handlers: a TERM sent to a worker the moment it is born (a stop right after
        // a reload) would otherwise be counted by the master's handler in the child's
        // memory, then cleared with the master's other counts, and lost.
        let unblock = signals::block_handled();
        // Safety: the master is single-threaded (it never starts may), so the child gets a
        // consistent copy of everything; it runs worker_main and exits without returning.
        let pid = unsafe { libc::fork() };
        if pid != 0 {
            unblock.restore();
        }
        if pid < 0 {
            self.free_slots.push(slot);
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            signals::install_worker();
            unblock.restore();
            let config = &self.started.config;
            let interval = if config.timeout.is_zero() {
                Duration::from_secs(1)
            } else {
                (config.timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
            };
            log::info!("booting worker with pid {}", std::process::id());
            let beat = Beat {
                master: self.pid,
                board: self.board,
                slot,
                interval,
            };
            let code = worker_main(
                config,
                self.started.app.clone(),
                self.started.listener.as_ref(),
                Some(beat),
            );
            std::process::exit(code);
        }
        self.workers.push(Worker {
            pid,
            slot,
            generation: self.generation,
            booted_at: None,
            retiring: false,
            aborted_at: None,
        });
        Ok(())
    }

    /// Collects dead workers and decides what each death means.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // Safety: waitpid on our own children, without blocking.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            let Some(i) = self.workers.iter().position(|w| w.pid == pid) else {
                continue;
            };
            let w = self.workers.swap_remove(i);
            self.free_slots.push(w.slot);
            let (how, failed) = if libc::WIFSIGNALED(status) {
                let sig = libc::WTERMSIG(status);
                (format!("was killed by signal {sig}"), true)
            } else {
                let code = libc::WEXITSTATUS(status);
                if code == BOOT_ERROR && self.stopping.is_none() {
                    // Respawning would fail the same way, forever: stop instead.
                    log::error!("worker {pid} failed to boot; stopping the master");
                    self.halt = Some(BOOT_ERROR);
                    continue;
                }
                (format!("exited with code {code}"), code != 0)
            };
            let expected = w.retiring || self.stopping.is_some();
            if expected && !failed {
                log::info!("worker {pid} {how}");
                continue;
            }
            if w.aborted_at.is_some() {
                log::error!("worker {pid} {how} after its timeout; respawning");
            } else if failed && !expected {
                log::error!("worker {pid} {how}; respawning");
                let short_lived = w.booted_at.is_none_or(|t| t.elapsed() < UNSTABLE);
                if short_lived {
                    self.failures += 1;
                    let backoff = crash_backoff(self.failures);
                    log::warn!(
                        "workers are crashing soon after start; next respawn in {:.1} s",
                        backoff.as_secs_f64()
                    );
                    self.next_spawn = Instant::now() + backoff;
                } else {
                    self.failures = 0;
                }
            } else if expected {
                // Told to stop (retiring or shutting down) and failed on the way: nothing to respawn.
                log::warn!("worker {pid} {how}");
            } else {
                log::info!("worker {pid} {how}; respawning");
            }
        }
    }

    /// Aborts workers whose heartbeat stopped for longer than the timeout.
    fn murder(&mut self) {
        let timeout = self.started.config.timeout;
        let now = heartbeat::now_ms();
        for w in &mut self.workers {
            let last = self.board.last(w.slot);
            if last > 0 && w.booted_at.is_none() {
                w.booted_at = Some(Instant::now());
            }
            if let Some(at) = w.aborted_at {
                if at.elapsed() >= ABORT_GRACE {
                    signals::send(w.pid, libc::SIGKILL);
                }
                continue;
            }
            if timeout.is_zero() || last == 0 || now.saturating_sub(last) <= timeout.as_millis() as u64 {
                continue;
            }
            log::error!("WORKER TIMEOUT (pid:{})", w.pid);
            w.aborted_at = Some(Instant::now());
            signals::send(w.pid, libc::SIGABRT);
        }
    }

    fn kill_all(&self, sig: libc::c_int) {
        for w in &self.workers {
            signals::send(w.pid, sig);
        }
    }

    fn wait_all(&mut self) {
        for w in self.workers.drain(..) {
            let mut status = 0;
            // Safety: waiting for our own child.
            unsafe { libc::waitpid(w.pid, &mut status, 0) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_backoff_doubles_up_to_a_limit() {
        assert_eq!(crash_backoff(1), Duration::from_millis(200));
        assert_eq!(crash_backoff(2), Duration::from_millis(400));
        assert_eq!(crash_backoff(6), Duration::from_millis(6400));
        assert_eq!(crash_backoff(7), MAX_BACKOFF);
        assert_eq!(crash_backoff(1000), MAX_BACKOFF);
    }

    #[test]
    fn retirement_spreads_by_jitter() {
        let mut config = match config::parse_args("t", &["--max-requests".into(), "100".into()]).unwrap() {
            config::Command::Serve(c) => *c,
            _ => unreachable!(),
        };
        assert_eq!(retire_after(&config), Some(100));
        config.max_requests_jitter = 10;
        let n = retire_after(&config).unwrap();
        assert!((100..=110).contains(&n));
        config.max_requests = 0;
        assert_eq!(retire_after(&config), None);
    }
}
