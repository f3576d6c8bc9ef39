//! The configuration: every setting the server takes, the flags that set it (getopts,
//! named like gunicorn's, with their help text) and the `--config` file that can set it too
//! (`file.rs`: `key = value`, glance-api.conf `[DEFAULT]` keys).
//!
//! [`parse_args`] turns the arguments into a [`Command`]: help text, the version, or a
//! [`Config`] to serve. The `Config` is handed on to `master::Server` (through `cli::serve`)
//! and, per process, to `server::Server` as its [`ServerConfig`]; [`BindAddr`] and
//! [`SocketOptions`] are what `master`'s socket code binds. A bad flag, value or file is a
//! [`UsageError`] naming the flag (and the file and line); the caller shows it.
//!
//! Plain data and parsing only: this module starts nothing and imports nothing from `cli`
//! or `master`, which both build on it.

mod file;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use getopts::{Matches, Options};
use log::LevelFilter;

use crate::http::{ForwardedAllow, Limits};
use crate::logging;
use crate::server::{AccessLogTarget, ServerConfig, WorkerClass};
use file::Entry;

/// Where the demo binary listens unless told otherwise (gunicorn's default).
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";

/// Most worker processes a master runs (the heartbeat board has one slot for each).
pub const MAX_WORKERS: usize = 1024;

/// What `--bind` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for BindAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindAddr::Tcp(a) => write!(f, "{a}"),
            BindAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Socket settings from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    pub backlog: i32,
    /// TCP_KEEPIDLE: idle time before the kernel probes a silent peer (Glance's tcp_keepidle).
    pub tcp_keepidle: Duration,
    /// SO_REUSEPORT: each worker binds its own socket and the kernel spreads connections.
    pub reuse_port: bool,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            backlog: 4096,
            tcp_keepidle: Duration::from_secs(600),
            reuse_port: false,
        }
    }
}

/// Everything the command line (and the config file) sets.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: BindAddr,
    /// Worker processes; 0 serves in this one process (Glance's `workers=0`).
    pub workers: usize,
    /// may scheduler threads per process: the OS threads that run coroutines (the request
    /// coroutines of the coroutine class, the waiting rooms of both classes).
    pub scheduler_threads: usize,
    pub log_level: LevelFilter,
    pub server: ServerConfig,
    pub socket: SocketOptions,
    /// How long to keep trying a busy address before giving up.
    pub bind_retry: Duration,
    pub umask: u32,
    pub pidfile: Option<PathBuf>,
    /// A worker whose scheduler stops turning this long is aborted; zero turns it off.
    pub timeout: Duration,
    /// How long a graceful stop waits for in-flight requests before killing.
    pub graceful_timeout: Duration,
    /// A worker retires after this many requests (plus up to the jitter); 0 = never.
    pub max_requests: u64,
    pub max_requests_jitter: u64,
    /// A worker whose resident memory passes this many bytes retires gracefully, as after
    /// `max_requests`, and the master starts a fresh one; `None` = never.
    pub max_worker_memory: Option<u64>,
    pub config_file: Option<PathBuf>,
    /// The program being served: its name, version and options (for `--help`, and to read
    /// the arguments again on HUP).
    pub program: Program,
    /// The application's own options, as the command line and config file set them.
    pub app: AppOptions,
    /// What the settings deserve a word about (a deprecated spelling), for the error log
    /// once it is set up.
    pub warnings: Vec<String>,
}

/// An option of the application's own, beside the server's flags: merged into `--help`,
/// set by `--NAME VALUE` (or `--NAME` for a flag) or by `NAME = value` in the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOption {
    pub name: String,
    /// The value's placeholder in `--help` ("DIR"); `None` for a true/false flag.
    pub hint: Option<String>,
    pub help: String,
    pub default: Option<String>,
}

/// A ported application's program: what `--help` and `--version` say of it, and its own
/// options (see `cli::Program::run`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub name: String,
    pub version: String,
    /// A sentence for `--help`.
    pub about: Option<String>,
    pub options: Vec<AppOption>,
}

impl Default for Program {
    fn default() -> Self {
        Program {
            name: "may-wsgi".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            about: None,
            options: Vec::new(),
        }
    }
}

impl Program {
    pub fn new(name: &str, version: &str) -> Program {
        Program {
            name: name.to_owned(),
            version: version.to_owned(),
            ..Program::default()
        }
    }

    /// The sentence `--help` shows under the usage line.
    pub fn about(mut self, text: &str) -> Program {
        self.about = Some(text.to_owned());
        self
    }

    /// An option that takes a value. Panics if the name is one of the server's flags (a
    /// mistake in the program, not in its use).
    pub fn option(mut self, name: &str, hint: &str, help: &str, default: Option<&str>) -> Program {
        self.declare(name, Some(hint), help, default);
        self
    }

    /// A true/false option: `--NAME` on the command line, `NAME = true` in a file.
    pub fn flag(mut self, name: &str, help: &str) -> Program {
        self.declare(name, None, help, None);
        self
    }

    fn declare(&mut self, name: &str, hint: Option<&str>, help: &str, default: Option<&str>) {
        let taken = VALUE_FLAGS.contains(&name)
            || BOOL_FLAGS.contains(&name)
            || ["config", "help", "version"].contains(&name)
            || self.options.iter().any(|o| o.name == name);
        assert!(!taken, "the option --{name} is taken");
        self.options.push(AppOption {
            name: name.to_owned(),
            hint: hint.map(str::to_owned),
            help: help.to_owned(),
            default: default.map(str::to_owned),
        });
    }

    /// Parses the arguments after the program name (and the config file they name);
    /// `invoked` is how the program was called, for the usage line.
    pub fn parse(&self, invoked: &str, args: &[String]) -> Result<Command, UsageError> {
        parse_program(self, invoked, args)
    }
}

/// The application's own options as given (see [`AppOption`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppOptions {
    values: std::collections::BTreeMap<String, String>,
}

impl AppOptions {
    /// An option's value: from the command line, else the config file, else its default.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A true/false option.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(Box<Config>),
    Help(String),
    Version,
}

/// A flag, value or config file the server cannot use; shown to the user, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Flags that take a value, and may be set in a config file by the same name.
const VALUE_FLAGS: &[&str] = &[
    "bind",
    "workers",
    "worker-class",
    "threads",
    "scheduler-threads",
    "worker-connections",
    "pool-size",
    "stack-size",
    "keep-alive",
    "client-timeout",
    "limit-request-line",
    "limit-request-fields",
    "limit-request-field-size",
    "limit-request-head-size",
    "limit-request-body",
    "forwarded-allow-ips",
    "access-logfile",
    "log-level",
    "backlog",
    "tcp-keepidle",
    "bind-retry",
    "umask",
    "pid",
    "timeout",
    "graceful-timeout",
    "max-requests",
    "max-requests-jitter",
    "max-worker-memory",
];

/// Flags without a value; `true`/`false` in a config file.
const BOOL_FLAGS: &[&str] = &[
    "no-access-log",
    "log-x-forwarded-for",
    "debug",
    "reuse-port",
    "proxy-protocol",
];

/// The server's flags and then the application's.
fn options(extra: &[AppOption]) -> Options {
    let mut o = server_options();
    for opt in extra {
        match &opt.hint {
            Some(hint) => o.optopt("", &opt.name, &opt.help, hint),
            None => o.optflag("", &opt.name, &opt.help),
        };
    }
    o
}

fn server_options() -> Options {
    let mut o = Options::new();
    o.optopt(
        "b",
        "bind",
        "address: HOST:PORT, [IPv6]:PORT or unix:PATH (default 127.0.0.1:8000)",
        "ADDRESS",
    );
    o.optopt(
        "w",
        "workers",
        "worker processes; 0 serves in one process (default: number of CPUs)",
        "N",
    );
    o.optopt(
        "k",
        "worker-class",
        "what runs a request: coroutine (may coroutines, eventlet's model) or thread (a pool of OS threads, gunicorn's gthread) (default coroutine)",
        "CLASS",
    );
    o.optopt(
        "",
        "threads",
        "request threads per process with --worker-class thread, gunicorn's --threads (the same as --pool-size; default 32). With the coroutine class, the old meaning: --scheduler-threads (deprecated)",
        "N",
    );
    o.optopt(
        "",
        "scheduler-threads",
        "may scheduler threads per process: the OS threads that run coroutines and the waiting rooms (default 1 with workers, CPUs without)",
        "N",
    );
    o.optopt(
        "",
        "worker-connections",
        "most client connections a process holds open, idle or busy (gunicorn's worker_connections; default 10000, within the open-file limit)",
        "N",
    );
    o.optopt(
        "",
        "pool-size",
        "most requests a process handles at once, coroutines or threads; more complete requests queue (eventlet's GreenPool size, Glance's threads, gunicorn gthread's --threads; default 1000 coroutines, 32 threads)",
        "N",
    );
    o.optopt(
        "",
        "stack-size",
        "stack of each request coroutine or thread in KiB (default 128 for a coroutine, 2048 for a thread)",
        "KIB",
    );
    o.optopt(
        "",
        "keep-alive",
        "seconds an idle keep-alive connection is kept; 0 disables keep-alive (default 5)",
        "SECS",
    );
    o.optopt(
        "",
        "client-timeout",
        "seconds a client may take to send a request head or stall in a body; 0 = no limit (default 60)",
        "SECS",
    );
    o.optopt(
        "",
        "limit-request-line",
        "longest request line in bytes (default 8190)",
        "BYTES",
    );
    o.optopt(
        "",
        "limit-request-fields",
        "most header fields in a request (default 100)",
        "N",
    );
    o.optopt(
        "",
        "limit-request-field-size",
        "longest header field line in bytes, name to CRLF (default 8190)",
        "BYTES",
    );
    o.optopt(
        "",
        "limit-request-head-size",
        "largest request head in bytes, request line and fields together (default 65536, eventlet's MAX_TOTAL_HEADER_SIZE)",
        "BYTES",
    );
    o.optopt(
        "",
        "limit-request-body",
        "largest request body in bytes: a larger Content-Length is answered 413 before the app runs, a chunked body that grows past it fails wsgi.input (nginx's client_max_body_size; default 0, no limit)",
        "BYTES",
    );
    o.optopt(
        "",
        "forwarded-allow-ips",
        "proxies whose X-Forwarded-For (REMOTE_ADDR) and X-Forwarded-Proto/-Ssl/-Protocol (wsgi.url_scheme) are believed: addresses and networks, comma-separated, or '*' for all; Unix-domain peers always are (gunicorn's; default $FORWARDED_ALLOW_IPS or 127.0.0.1,::1)",
        "IPS",
    );
    o.optflag(
        "",
        "proxy-protocol",
        "every connection starts with a PROXY protocol v1 or v2 header (HAProxy's send-proxy, nginx's proxy_protocol) from a peer in --forwarded-allow-ips, whose client address becomes REMOTE_ADDR; a connection without one is closed",
    );
    o.optopt(
        "",
        "access-logfile",
        "access log file, '-' for stderr (default '-')",
        "PATH",
    );
    o.optflag("", "no-access-log", "do not write an access log");
    o.optflag(
        "",
        "log-x-forwarded-for",
        "log X-Forwarded-For in front of the client address",
    );
    o.optopt(
        "",
        "log-level",
        "debug, info, warning, error or critical (default info)",
        "LEVEL",
    );
    o.optflag(
        "",
        "debug",
        "put panic messages in 500 responses (eventlet's debug=True)",
    );
    o.optopt("", "backlog", "listen backlog (default 4096)", "N");
    o.optopt("", "tcp-keepidle", "TCP keepalive idle seconds (default 600)", "SECS");
    o.optopt(
        "",
        "bind-retry",
        "seconds to keep retrying an address in use (default 30)",
        "SECS",
    );
    o.optflag("", "reuse-port", "each worker binds its own SO_REUSEPORT socket");
    o.optopt("", "umask", "file mode creation mask, octal (default 027)", "MASK");
    o.optopt("", "pid", "write the master's pid to FILE", "FILE");
    o.optopt(
        "",
        "timeout",
        "abort a worker whose scheduler is stuck this long; 0 = off (default 30)",
        "SECS",
    );
    o.optopt(
        "",
        "graceful-timeout",
        "seconds a graceful stop waits for requests in flight (default 30)",
        "SECS",
    );
    o.optopt(
        "",
        "max-requests",
        "a worker retires after this many requests; 0 = never (default 0)",
        "N",
    );
    o.optopt(
        "",
        "max-requests-jitter",
        "up to this many more, at random, per worker (default 0)",
        "N",
    );
    o.optopt(
        "",
        "max-worker-memory",
        "a worker whose resident memory passes this many MiB retires gracefully and is replaced, as with --max-requests; 0 = never (default 0)",
        "MIB",
    );
    o.optopt(
        "c",
        "config",
        "read settings from FILE (key = value; glance-api.conf keys too)",
        "FILE",
    );
    o.optflag("h", "help", "print this help and exit");
    o.optflag("V", "version", "print the version and exit");
    o
}

fn usage(program: &Program, invoked: &str) -> String {
    let about = program.about.as_deref().unwrap_or(
        "Serves a WSGI-style application over HTTP/1.1 on may coroutines (or, with -k thread, a pool of OS threads), in one process or a master with forked workers.",
    );
    let brief = format!(
        "Usage: {invoked} [OPTIONS]\n\n{about}\nSignals to the master: TERM graceful stop, \
         INT/QUIT quick stop, HUP reload, TTIN/TTOU one worker more/fewer, USR1 reopen logs."
    );
    let mut text = server_options().usage(&brief);
    if !program.options.is_empty() {
        let mut own = Options::new();
        for opt in &program.options {
            let help = match &opt.default {
                Some(d) => format!("{} (default {d})", opt.help),
                None => opt.help.clone(),
            };
            match &opt.hint {
                Some(hint) => own.optopt("", &opt.name, &help, hint),
                None => own.optflag("", &opt.name, &help),
            };
        }
        text.push_str(&own.usage(&format!(
            "\n{} options (also in its config file section [{}]):",
            program.name, program.name
        )));
    }
    text
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("expected a whole number, got {text:?}"))
}

fn number_in(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let value: u64 = number(text)?;
    if value < min || value > max {
        return Err(format!("{value} is out of range {min}..={max}"));
    }
    Ok(value)
}

fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected seconds, got {text:?}"))?;
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return Err(format!("{text} is not between 0 and 31536000 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn octal(text: &str) -> Result<u32, String> {
    let digits = text.trim().trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(mask) if mask <= 0o777 => Ok(mask),
        _ => Err(format!("expected an octal mask like 027, got {text:?}")),
    }
}

/// Resolves `HOST:PORT`, `[::1]:PORT`, a bare `HOST` (port 8000) or `unix:PATH`.
pub fn parse_bind(text: &str) -> Result<BindAddr, String> {
    if let Some(path) = text.strip_prefix("unix:") {
        if path.is_empty() {
            return Err("unix: needs a path".into());
        }
        return Ok(BindAddr::Unix(PathBuf::from(path)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(BindAddr::Tcp(addr));
    }
    let with_port = match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.ends_with(':') => {
            port.parse::<u16>().map_err(|_| format!("bad port {port:?}"))?;
            text.to_owned()
        }
        Some(("", port)) => {
            port.parse::<u16>().map_err(|_| format!("bad port {port:?}"))?;
            format!("0.0.0.0:{port}")
        }
        _ if text.is_empty() => return Err("empty address".into()),
        _ => format!("{text}:8000"),
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .map(BindAddr::Tcp)
        .ok_or_else(|| "no address found".into())
}

/// Settings from the command line and the config file, the command line winning.
struct Sources {
    m: Matches,
    file: Vec<Entry>,
}

impl Sources {
    /// A flag's value and, when it came from the file, where in it.
    fn get(&self, flag: &str) -> Option<(String, Option<&str>)> {
        if let Some(v) = self.m.opt_str(flag) {
            return Some((v, None));
        }
        self.file
            .iter()
            .rev()
            .find(|e| e.flag == flag)
            .map(|e| (e.value.clone(), Some(e.origin.as_str())))
    }

    fn present(&self, flag: &str) -> bool {
        self.m.opt_present(flag) || self.file.iter().any(|e| e.flag == flag)
    }

    /// Parses a flag's value, naming the flag (and file and line) when it is bad.
    fn parse<T>(&self, flag: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, UsageError> {
        let Some((value, origin)) = self.get(flag) else {
            return Ok(None);
        };
        parse(&value).map(Some).map_err(|why| {
            UsageError(match origin {
                Some(origin) => format!("{origin}: {flag}: {why}"),
                None => format!("--{flag}: {why}"),
            })
        })
    }
}

/// Parses the arguments after the program name (and the config file they name), for the
/// `may-wsgi` program itself; a ported application's program uses [`Program::parse`].
pub fn parse_args(program: &str, args: &[String]) -> Result<Command, UsageError> {
    parse_program(&Program::default(), program, args)
}

fn parse_program(program: &Program, invoked: &str, args: &[String]) -> Result<Command, UsageError> {
    let m = options(&program.options)
        .parse(args)
        .map_err(|e| UsageError(e.to_string()))?;
    if m.opt_present("help") {
        return Ok(Command::Help(usage(program, invoked)));
    }
    if m.opt_present("version") {
        return Ok(Command::Version);
    }
    if let Some(extra) = m.free.first() {
        return Err(UsageError(format!("unexpected argument {extra:?}")));
    }
    let config_file = m.opt_str("config").map(PathBuf::from);
    let app_values: Vec<&str> = program
        .options
        .iter()
        .filter(|o| o.hint.is_some())
        .map(|o| o.name.as_str())
        .collect();
    let app_bools: Vec<&str> = program
        .options
        .iter()
        .filter(|o| o.hint.is_none())
        .map(|o| o.name.as_str())
        .collect();
    let app_keys = file::AppKeys {
        section: if program.options.is_empty() { "" } else { &program.name },
        options: &app_values,
        bool_options: &app_bools,
    };
    let file = match &config_file {
        Some(path) => file::load(path, VALUE_FLAGS, BOOL_FLAGS, app_keys).map_err(UsageError)?,
        None => Vec::new(),
    };
    let src = Sources { m, file };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    let class = src
        .parse("worker-class", |t| {
            WorkerClass::parse(t).ok_or_else(|| format!("expected coroutine or thread, got {t:?}"))
        })?
        .unwrap_or_default();
    let mut warnings = Vec::new();
    let mut server = ServerConfig::for_class(class);
    let mut limits = Limits::default();
    if let Some(n) = src.parse("worker-connections", |t| number_in(t, 1, 1_000_000))? {
        server.worker_connections = n as usize;
    }
    if let Some(n) = src.parse("pool-size", |t| number_in(t, 1, 1_000_000))? {
        server.pool_size = n as usize;
    }
    // `--threads` is gunicorn's: the request threads of the thread class. It used to name
    // the scheduler threads, and with the coroutine class it still does, with a warning.
    let threads = src.parse("threads", |t| number_in(t, 1, 1024))?;
    let mut scheduler_threads = src.parse("scheduler-threads", |t| number_in(t, 1, 1024))?;
    if let Some(n) = threads {
        match class {
            WorkerClass::Thread if src.present("pool-size") => {
                return Err(UsageError(
                    "--threads and --pool-size both size the thread pool: give one".into(),
                ))
            }
            WorkerClass::Thread => server.pool_size = n as usize,
            WorkerClass::Coroutine if scheduler_threads.is_some() => {
                return Err(UsageError(
                    "--threads with the coroutine class is the old spelling of --scheduler-threads: give one".into(),
                ))
            }
            WorkerClass::Coroutine => {
                warnings.push(format!(
                    "--threads {n} with the coroutine class sets {n} scheduler threads, as it used to; \
                     that spelling is deprecated: write --scheduler-threads {n} (with --worker-class thread, \
                     --threads is the request threads, as in gunicorn)"
                ));
                scheduler_threads = Some(n);
            }
        }
    }
    if let Some(n) = src.parse("stack-size", |t| number_in(t, 16, 64 * 1024))? {
        server.stack_size = n as usize * 1024;
    }
    if let Some(d) = src.parse("keep-alive", seconds)? {
        server.keep_alive = d;
    }
    if let Some(d) = src.parse("client-timeout", seconds)? {
        server.client_timeout = d;
    }
    if let Some(n) = src.parse("limit-request-line", |t| number_in(t, 16, 1 << 20))? {
        limits.request_line = n as usize;
    }
    if let Some(n) = src.parse("limit-request-fields", |t| number_in(t, 1, 32768))? {
        limits.fields = n as usize;
    }
    if let Some(n) = src.parse("limit-request-field-size", |t| number_in(t, 16, 1 << 20))? {
        limits.field_size = n as usize;
    }
    if let Some(n) = src.parse("limit-request-head-size", |t| number_in(t, 256, 1 << 24))? {
        limits.head_total = n as usize;
    }
    server.limits = limits;
    if let Some(allow) = src.parse("forwarded-allow-ips", ForwardedAllow::parse)? {
        server.forwarded_allow_ips = allow;
    } else if let Ok(from_env) = std::env::var("FORWARDED_ALLOW_IPS") {
        // gunicorn's default comes from the environment too.
        server.forwarded_allow_ips =
            ForwardedAllow::parse(&from_env).map_err(|why| UsageError(format!("FORWARDED_ALLOW_IPS: {why}")))?;
    }
    if let Some(n) = src.parse("limit-request-body", |t| number_in(t, 0, u64::MAX / 2))? {
        server.limit_request_body = (n > 0).then_some(n);
    }
    if src.present("no-access-log") {
        if src.get("access-logfile").is_some() {
            return Err(UsageError(
                "--no-access-log and --access-logfile contradict each other".into(),
            ));
        }
        server.access_log = AccessLogTarget::Off;
    } else if let Some(target) = src.parse("access-logfile", |p| match p {
        "-" => Ok(AccessLogTarget::Stderr),
        "" => Err("empty path".to_owned()),
        _ => Ok(AccessLogTarget::File(PathBuf::from(p))),
    })? {
        server.access_log = target;
    }
    server.log_x_forwarded_for = src.present("log-x-forwarded-for");
    server.proxy_protocol = src.present("proxy-protocol");
    server.debug = src.present("debug");
    let log_level = src
        .parse("log-level", |v| {
            logging::parse_level(v)
                .ok_or_else(|| format!("unknown level {v:?} (debug, info, warning, error, critical)"))
        })?
        .unwrap_or(LevelFilter::Info);
    let workers = src
        .parse("workers", |t| number_in(t, 0, MAX_WORKERS as u64))?
        .map_or(cpus, |n| n as usize);
    let scheduler_threads = scheduler_threads.map_or(if workers == 0 { cpus } else { 1 }, |n| n as usize);
    server.multiprocess = workers > 0;
    let mut socket = SocketOptions::default();
    if let Some(n) = src.parse("backlog", |t| number_in(t, 1, 65535))? {
        socket.backlog = n as i32;
    }
    if let Some(d) = src.parse("tcp-keepidle", seconds)? {
        socket.tcp_keepidle = d;
    }
    socket.reuse_port = src.present("reuse-port");
    let max_requests = src
        .parse("max-requests", |t| number_in(t, 0, u64::MAX / 2))?
        .unwrap_or(0);
    let max_requests_jitter = src
        .parse("max-requests-jitter", |t| number_in(t, 0, u64::MAX / 2))?
        .unwrap_or(0);
    let max_worker_memory = src
        .parse("max-worker-memory", |t| number_in(t, 0, 1 << 30))?
        .filter(|&mib| mib > 0)
        .map(|mib| mib << 20);
    let bind = src
        .parse("bind", parse_bind)?
        .map_or_else(|| parse_bind(DEFAULT_BIND), Ok)
        .map_err(UsageError)?;
    Ok(Command::Serve(Box::new(Config {
        bind,
        workers,
        scheduler_threads,
        log_level,
        server,
        socket,
        bind_retry: src.parse("bind-retry", seconds)?.unwrap_or(Duration::from_secs(30)),
        umask: src.parse("umask", octal)?.unwrap_or(0o027),
        pidfile: src.parse("pid", |p| {
            if p.is_empty() {
                Err("empty path".to_owned())
            } else {
                Ok(PathBuf::from(p))
            }
        })?,
        timeout: src.parse("timeout", seconds)?.unwrap_or(Duration::from_secs(30)),
        graceful_timeout: src
            .parse("graceful-timeout", seconds)?
            .unwrap_or(Duration::from_secs(30)),
        max_requests,
        max_requests_jitter,
        max_worker_memory,
        config_file,
        app: app_options(program, &src),
        program: program.clone(),
        warnings,
    })))
}

/// The application's options: the command line over the file over the defaults.
fn app_options(program: &Program, src: &Sources) -> AppOptions {
    let mut values = std::collections::BTreeMap::new();
    for opt in &program.options {
        let value = if opt.hint.is_none() {
            if src.m.opt_present(&opt.name) {
                Some("true".to_owned())
            } else {
                src.get(&opt.name).map(|(v, _)| v)
            }
        } else {
            src.get(&opt.name).map(|(v, _)| v).or_else(|| opt.default.clone())
        };
        if let Some(v) = value {
            values.insert(opt.name.clone(), v);
        }
    }
    AppOptions { values }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, UsageError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse_args("may-wsgi", &args)? {
            Command::Serve(c) => Ok(*c),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.bind, BindAddr::Tcp("127.0.0.1:8000".parse().unwrap()));
        assert!(c.workers >= 1);
        assert_eq!(c.scheduler_threads, 1, "one scheduler thread per worker by default");
        assert_eq!(c.server.worker_class, WorkerClass::Coroutine);
        assert!(c.warnings.is_empty());
        assert_eq!(c.socket, SocketOptions::default());
        assert_eq!(c.umask, 0o027);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.server.worker_connections, 10_000);
        assert_eq!(c.server.pool_size, 1000);
        assert_eq!(c.server.stack_size, 128 * 1024);
        assert_eq!(c.server.limits, Limits::default());
        assert_eq!(c.server.access_log, AccessLogTarget::Stderr);
        assert_eq!(c.server.limit_request_body, None, "no body limit unless asked");
        assert_eq!(
            parse(&["--limit-request-body", "0"]).unwrap().server.limit_request_body,
            None
        );
    }

    #[test]
    fn worker_classes_and_the_names_of_their_threads() {
        let err = |args: &[&str]| parse(args).unwrap_err().0;
        let t = parse(&["--worker-class", "thread"]).unwrap();
        assert_eq!(t.server.worker_class, WorkerClass::Thread);
        assert_eq!((t.server.pool_size, t.server.stack_size), (32, 2048 * 1024));
        assert_eq!(t.scheduler_threads, 1);
        // gunicorn's spellings: -k gthread --threads N.
        let t = parse(&["-k", "gthread", "--threads", "8", "--scheduler-threads", "2"]).unwrap();
        assert_eq!(t.server.worker_class, WorkerClass::Thread);
        assert_eq!((t.server.pool_size, t.scheduler_threads), (8, 2));
        assert!(t.warnings.is_empty());
        assert!(err(&["-k", "thread", "--threads", "8", "--pool-size", "9"]).contains("give one"));
        // The old spelling, with the coroutine class: scheduler threads, and a warning.
        let c = parse(&["--threads", "3"]).unwrap();
        assert_eq!((c.scheduler_threads, c.server.pool_size), (3, 1000));
        assert!(c.warnings[0].contains("--scheduler-threads 3"), "{:?}", c.warnings);
        assert!(err(&["--threads", "3", "--scheduler-threads", "3"]).contains("give one"));
        assert!(err(&["--worker-class", "sync"]).contains("--worker-class"));
    }

    #[test]
    fn every_flag() {
        let c = parse(&[
            "-b",
            "[::1]:9000",
            "--scheduler-threads",
            "3",
            "--worker-connections",
            "50",
            "--pool-size",
            "8",
            "--stack-size",
            "256",
            "--keep-alive",
            "0",
            "--client-timeout",
            "2.5",
            "--limit-request-line",
            "100",
            "--limit-request-fields",
            "7",
            "--limit-request-field-size",
            "200",
            "--limit-request-head-size",
            "4096",
            "--limit-request-body",
            "1048576",
            "--forwarded-allow-ips",
            "10.0.0.0/8, 192.168.0.1",
            "--access-logfile",
            "/tmp/a.log",
            "--log-level",
            "debug",
            "--debug",
            "--log-x-forwarded-for",
            "--proxy-protocol",
        ])
        .unwrap();
        assert_eq!(c.bind, BindAddr::Tcp("[::1]:9000".parse().unwrap()));
        assert_eq!(c.scheduler_threads, 3);
        assert_eq!(c.server.worker_connections, 50);
        assert_eq!(c.server.pool_size, 8);
        assert_eq!(c.server.stack_size, 256 * 1024);
        assert_eq!(c.server.keep_alive, Duration::ZERO);
        assert_eq!(c.server.client_timeout, Duration::from_millis(2500));
        assert_eq!(
            c.server.limits,
            Limits {
                request_line: 100,
                fields: 7,
                field_size: 200,
                head_total: 4096,
            }
        );
        assert_eq!(c.server.limit_request_body, Some(1 << 20));
        assert_eq!(
            c.server.forwarded_allow_ips,
            ForwardedAllow::parse("10.0.0.0/8,192.168.0.1").unwrap()
        );
        assert_eq!(
            parse(&["--forwarded-allow-ips", "*"])
                .unwrap()
                .server
                .forwarded_allow_ips,
            ForwardedAllow::All
        );
        assert_eq!(c.server.access_log, AccessLogTarget::File("/tmp/a.log".into()));
        assert_eq!(c.log_level, LevelFilter::Debug);
        assert!(c.server.debug && c.server.log_x_forwarded_for && c.server.proxy_protocol);
        assert!(!parse(&[]).unwrap().server.proxy_protocol);
        assert_eq!(
            parse(&["--no-access-log"]).unwrap().server.access_log,
            AccessLogTarget::Off
        );
    }

    #[test]
    fn bind_forms() {
        let tcp = |s: &str| BindAddr::Tcp(s.parse().unwrap());
        assert_eq!(parse_bind("0.0.0.0:80").unwrap(), tcp("0.0.0.0:80"));
        assert_eq!(parse_bind(":8080").unwrap(), tcp("0.0.0.0:8080"));
        assert_eq!(parse_bind("127.0.0.1").unwrap(), tcp("127.0.0.1:8000"));
        assert!(matches!(parse_bind("localhost:81").unwrap(), BindAddr::Tcp(a) if a.port() == 81));
        assert_eq!(
            parse_bind("unix:/run/x.sock").unwrap(),
            BindAddr::Unix("/run/x.sock".into())
        );
        assert!(parse_bind("unix:").is_err());
        assert!(parse_bind("127.0.0.1:http").is_err());
        assert!(parse_bind("127.0.0.1:70000").is_err());
        assert!(parse_bind("").is_err());
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        let err = |args: &[&str]| parse(args).unwrap_err().0;
        assert!(err(&["--threads", "many"]).contains("--threads"));
        assert!(err(&["--threads", "0"]).contains("out of range"));
        assert!(err(&["--keep-alive", "-1"]).contains("--keep-alive"));
        assert!(err(&["--bogus"]).contains("bogus"));
        assert!(err(&["--log-level", "loud"]).contains("loud"));
        assert!(err(&["stray"]).contains("stray"));
        assert!(err(&["--limit-request-body", "1M"]).contains("--limit-request-body"));
        assert!(err(&["--limit-request-body", "-1"]).contains("--limit-request-body"));
        assert!(err(&["--forwarded-allow-ips", "localhost"]).contains("--forwarded-allow-ips"));
        assert!(err(&["--no-access-log", "--access-logfile", "x"]).contains("contradict"));
    }

    #[test]
    fn master_flags() {
        let c = parse(&[
            "-w",
            "3",
            "--backlog",
            "64",
            "--tcp-keepidle",
            "30",
            "--bind-retry",
            "2",
            "--reuse-port",
            "--umask",
            "0o077",
            "--pid",
            "/tmp/x.pid",
            "--timeout",
            "0",
            "--graceful-timeout",
            "5",
            "--max-requests",
            "1000",
            "--max-requests-jitter",
            "50",
            "--max-worker-memory",
            "512",
            "-b",
            "unix:/tmp/s.sock",
        ])
        .unwrap();
        assert_eq!(c.workers, 3);
        assert_eq!(
            c.socket,
            SocketOptions {
                backlog: 64,
                tcp_keepidle: Duration::from_secs(30),
                reuse_port: true
            }
        );
        assert_eq!(c.bind_retry, Duration::from_secs(2));
        assert_eq!(c.umask, 0o077);
        assert_eq!(c.pidfile, Some(PathBuf::from("/tmp/x.pid")));
        assert_eq!(c.timeout, Duration::ZERO);
        assert_eq!(c.graceful_timeout, Duration::from_secs(5));
        assert_eq!((c.max_requests, c.max_requests_jitter), (1000, 50));
        assert_eq!(c.max_worker_memory, Some(512 << 20));
        assert_eq!(parse(&[]).unwrap().max_worker_memory, None);
        assert_eq!(parse(&["--max-worker-memory", "0"]).unwrap().max_worker_memory, None);
        assert!(parse(&["--max-worker-memory", "1G"])
            .unwrap_err()
            .0
            .contains("--max-worker-memory"));
        assert_eq!(c.bind, BindAddr::Unix("/tmp/s.sock".into()));
        assert!(c.server.multiprocess);
        let single = parse(&["--workers", "0"]).unwrap();
        assert!(!single.server.multiprocess);
        assert!(single.scheduler_threads >= 1);
        assert!(parse(&["--umask", "999"]).unwrap_err().0.contains("--umask"));
    }

    #[test]
    fn config_file_under_the_flags() {
        let path = std::env::temp_dir().join(format!("may_wsgi_config_{}.conf", std::process::id()));
        std::fs::write(&path, "workers = 4\nkeep-alive = 9\ndebug = true\n").unwrap();
        let file = path.to_string_lossy().into_owned();
        let c = parse(&["--config", &file, "--workers", "2"]).unwrap();
        assert_eq!(c.workers, 2, "the flag wins");
        assert_eq!(c.server.keep_alive, Duration::from_secs(9), "the file fills in");
        assert!(c.server.debug);
        assert_eq!(c.config_file, Some(path.clone()));
        std::fs::write(&path, "threads = 0\n").unwrap();
        assert_eq!(
            parse(&["--config", &file]).unwrap_err().0,
            format!("{file}:1: threads: 0 is out of range 1..=1024")
        );
        std::fs::remove_file(&path).unwrap();
        assert!(parse(&["--config", &file])
            .unwrap_err()
            .0
            .contains("cannot read config file"));
    }

    #[test]
    fn production_keys_in_a_config_file() {
        let path = std::env::temp_dir().join(format!("may_wsgi_prod_{}.conf", std::process::id()));
        std::fs::write(
            &path,
            "[may-wsgi]\nlimit_request_body = 1000\nforwarded-allow-ips = 10.0.0.0/8\n\
             proxy_protocol = true\nmax_worker_memory = 256\n",
        )
        .unwrap();
        let file = path.to_string_lossy().into_owned();
        let c = parse(&["--config", &file]).unwrap();
        assert_eq!(c.server.limit_request_body, Some(1000));
        assert_eq!(
            c.server.forwarded_allow_ips,
            ForwardedAllow::parse("10.0.0.0/8").unwrap()
        );
        assert!(c.server.proxy_protocol);
        assert_eq!(c.max_worker_memory, Some(256 << 20));
        std::fs::write(&path, "forwarded_allow_ips = 10.0.0.0/40\n").unwrap();
        let err = parse(&["--config", &file]).unwrap_err().0;
        assert!(err.starts_with(&format!("{file}:1: forwarded-allow-ips:")), "{err}");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn every_config_file_key_is_a_flag() {
        // VALUE_FLAGS and BOOL_FLAGS repeat names from options(): keep the two lists true.
        for flag in VALUE_FLAGS {
            let args = vec![format!("--{flag}"), "x".to_owned()];
            let m = options(&[]).parse(&args).unwrap_or_else(|e| panic!("--{flag}: {e}"));
            assert_eq!(m.opt_str(flag).as_deref(), Some("x"), "--{flag} takes a value");
        }
        for flag in BOOL_FLAGS {
            let args = vec![format!("--{flag}")];
            let m = options(&[]).parse(&args).unwrap_or_else(|e| panic!("--{flag}: {e}"));
            assert!(
                m.opt_present(flag) && m.opt_str(flag).is_none(),
                "--{flag} takes no value"
            );
        }
    }

    #[test]
    fn help_and_version() {
        let args = vec!["--help".to_string()];
        assert!(matches!(parse_args("p", &args), Ok(Command::Help(t)) if t.contains("--worker-connections")));
        let args = vec!["-V".to_string()];
        assert!(matches!(parse_args("p", &args), Ok(Command::Version)));
    }

    #[test]
    fn a_program_s_own_options_join_the_flags_the_help_and_the_config_file() {
        let program = Program::new("glance-api", "33.0.0")
            .about("Glance's Images API.")
            .option("data-dir", "DIR", "where images live", Some("/var/lib/glance"))
            .flag("show-image-direct-url", "show the location");
        let Ok(Command::Help(help)) = program.parse("glance-api", &["--help".to_owned()]) else {
            panic!("help")
        };
        assert!(help.contains("Usage: glance-api [OPTIONS]"), "{help}");
        assert!(help.contains("Glance's Images API."), "{help}");
        assert!(help.contains("--workers"), "{help}");
        assert!(
            help.contains("--data-dir DIR") && help.contains("(default /var/lib/glance)"),
            "{help}"
        );
        let serve = |args: &[&str]| match program
            .parse("glance-api", &args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
        {
            Ok(Command::Serve(c)) => c,
            other => panic!("{other:?}"),
        };
        let c = serve(&[]);
        assert_eq!(c.app.get("data-dir"), Some("/var/lib/glance"), "the default");
        assert!(!c.app.flag("show-image-direct-url"));
        let c = serve(&["--data-dir", "/srv", "--show-image-direct-url", "--workers", "2"]);
        assert_eq!(c.app.get("data-dir"), Some("/srv"));
        assert!(c.app.flag("show-image-direct-url"));
        assert_eq!(c.workers, 2);
        assert_eq!(c.program.name, "glance-api", "kept for HUP's second reading");

        let dir = std::env::temp_dir().join(format!("may_wsgi_program_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("glance-api.conf");
        std::fs::write(
            &conf,
            "[DEFAULT]\nworkers = 3\nenabled_backends = fs:file\nshow_image_direct_url = True\n\
             [glance-api]\ndata_dir = /from/file\n[glance_store]\nfilesystem_store_datadir = /x\n",
        )
        .unwrap();
        let c = serve(&["--config", conf.to_str().unwrap()]);
        assert_eq!(c.workers, 3);
        assert_eq!(c.app.get("data-dir"), Some("/from/file"));
        assert!(c.app.flag("show-image-direct-url"));
        let c = serve(&["--config", conf.to_str().unwrap(), "--data-dir", "/flag"]);
        assert_eq!(c.app.get("data-dir"), Some("/flag"), "the flag overrides the file");
        std::fs::write(&conf, "[glance-api]\ndata_dirr = /x\n").unwrap();
        let err = program
            .parse(
                "glance-api",
                &["--config".to_owned(), conf.to_str().unwrap().to_owned()],
            )
            .unwrap_err();
        assert!(err.0.contains("did you mean \"data-dir\""), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "the option --workers is taken")]
    fn a_program_cannot_take_a_server_flag() {
        let _ = Program::new("p", "1").option("workers", "N", "clash", None);
    }
}
