//! The command line: getopts flags, named like gunicorn's, into one [`Config`]; and
//! [`run`], which serves an application from it, so a ported app's `main` is one line:
//!
//! ```no_run
//! # use may_wsgi::{Body, Environ, StartResponse};
//! # fn app(_: &mut Environ, _: &mut StartResponse) -> Body { Body::Empty }
//! fn main() {
//!     may_wsgi::cli::run(app)
//! }
//! ```
//!
//! A bad flag or value prints what is wrong and exits with status 2, as getopts-era
//! tools and gunicorn do; `-h` prints the usage and exits 0.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use getopts::Options;
use log::LevelFilter;

use crate::http::Limits;
use crate::logging;
use crate::server::{AccessLogTarget, Server, ServerConfig};
use crate::wsgi::Application;

/// Where the demo binary listens unless told otherwise (gunicorn's default).
pub const DEFAULT_BIND: &str = "127.0.0.1:8000";

/// Coroutine stack size in bytes: roomy enough for application code and a panic's unwind;
/// only the pages a coroutine touches cost memory.
const STACK_BYTES: usize = 128 * 1024;

/// Everything the command line sets.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// may scheduler threads (OS threads running coroutines).
    pub threads: usize,
    pub log_level: LevelFilter,
    pub server: ServerConfig,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    Serve(Box<Config>),
    Help(String),
    Version,
}

/// A flag or value the server cannot use; shown to the user, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn options() -> Options {
    let mut o = Options::new();
    o.optopt(
        "b",
        "bind",
        "address to listen on: HOST:PORT, [IPv6]:PORT (default 127.0.0.1:8000)",
        "ADDRESS",
    );
    o.optopt("", "threads", "may scheduler threads (default: number of CPUs)", "N");
    o.optopt(
        "",
        "worker-connections",
        "most connections served at once (default 1000)",
        "N",
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
        "longest header field in bytes (default 8190)",
        "BYTES",
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
    o.optflag("h", "help", "print this help and exit");
    o.optflag("V", "version", "print the version and exit");
    o
}

fn usage(program: &str) -> String {
    let brief =
        format!("Usage: {program} [OPTIONS]\n\nServes a WSGI-style application over HTTP/1.1 on may coroutines.");
    options().usage(&brief)
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, UsageError> {
    text.trim()
        .parse()
        .map_err(|_| UsageError(format!("--{flag}: expected a whole number, got {text:?}")))
}

fn in_range(flag: &str, value: usize, min: usize, max: usize) -> Result<usize, UsageError> {
    if value < min || value > max {
        return Err(UsageError(format!("--{flag}: {value} is out of range {min}..={max}")));
    }
    Ok(value)
}

fn seconds(flag: &str, text: &str) -> Result<Duration, UsageError> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| UsageError(format!("--{flag}: expected seconds, got {text:?}")))?;
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return Err(UsageError(format!(
            "--{flag}: {text} is not between 0 and 31536000 seconds"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Resolves `HOST:PORT`, `[::1]:PORT` or a bare `HOST` (port 8000) to one address.
pub fn parse_bind(text: &str) -> Result<SocketAddr, UsageError> {
    let bad = |why: String| UsageError(format!("--bind {text:?}: {why}"));
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let with_port = match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && !host.ends_with(':') => {
            port.parse::<u16>().map_err(|_| bad(format!("bad port {port:?}")))?;
            text.to_owned()
        }
        Some(("", port)) => {
            port.parse::<u16>().map_err(|_| bad(format!("bad port {port:?}")))?;
            format!("0.0.0.0:{port}")
        }
        _ if text.is_empty() => return Err(bad("empty address".into())),
        _ => format!("{text}:8000"),
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("no address found".into()))
}

/// Parses the arguments after the program name.
pub fn parse_args(program: &str, args: &[String]) -> Result<Command, UsageError> {
    let m = options().parse(args).map_err(|e| UsageError(e.to_string()))?;
    if m.opt_present("help") {
        return Ok(Command::Help(usage(program)));
    }
    if m.opt_present("version") {
        return Ok(Command::Version);
    }
    if let Some(extra) = m.free.first() {
        return Err(UsageError(format!("unexpected argument {extra:?}")));
    }
    let mut server = ServerConfig::default();
    let mut limits = Limits::default();
    if let Some(v) = m.opt_str("worker-connections") {
        server.worker_connections = in_range("worker-connections", number("worker-connections", &v)?, 1, 1_000_000)?;
    }
    if let Some(v) = m.opt_str("keep-alive") {
        server.keep_alive = seconds("keep-alive", &v)?;
    }
    if let Some(v) = m.opt_str("client-timeout") {
        server.client_timeout = seconds("client-timeout", &v)?;
    }
    if let Some(v) = m.opt_str("limit-request-line") {
        limits.request_line = in_range("limit-request-line", number("limit-request-line", &v)?, 16, 1 << 20)?;
    }
    if let Some(v) = m.opt_str("limit-request-fields") {
        limits.fields = in_range("limit-request-fields", number("limit-request-fields", &v)?, 1, 32768)?;
    }
    if let Some(v) = m.opt_str("limit-request-field-size") {
        limits.field_size = in_range(
            "limit-request-field-size",
            number("limit-request-field-size", &v)?,
            16,
            1 << 20,
        )?;
    }
    server.limits = limits;
    if m.opt_present("no-access-log") {
        if m.opt_present("access-logfile") {
            return Err(UsageError(
                "--no-access-log and --access-logfile contradict each other".into(),
            ));
        }
        server.access_log = AccessLogTarget::Off;
    } else if let Some(path) = m.opt_str("access-logfile") {
        server.access_log = match path.as_str() {
            "-" => AccessLogTarget::Stderr,
            "" => return Err(UsageError("--access-logfile: empty path".into())),
            _ => AccessLogTarget::File(PathBuf::from(path)),
        };
    }
    server.log_x_forwarded_for = m.opt_present("log-x-forwarded-for");
    server.debug = m.opt_present("debug");
    let log_level = match m.opt_str("log-level") {
        Some(v) => logging::parse_level(&v).ok_or_else(|| {
            UsageError(format!(
                "--log-level: unknown level {v:?} (debug, info, warning, error, critical)"
            ))
        })?,
        None => LevelFilter::Info,
    };
    let threads = match m.opt_str("threads") {
        Some(v) => in_range("threads", number("threads", &v)?, 1, 1024)?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let bind = parse_bind(&m.opt_str("bind").unwrap_or_else(|| DEFAULT_BIND.to_owned()))?;
    Ok(Command::Serve(Box::new(Config {
        bind,
        threads,
        log_level,
        server,
    })))
}

/// Configures may for this process. Must run before the first coroutine or may socket:
/// the scheduler reads it once when it starts.
pub fn configure_may(threads: usize) {
    may::config()
        .set_workers(threads)
        .set_stack_size(STACK_BYTES / std::mem::size_of::<usize>());
}

/// Serves `app` as the configuration says; returns only if the server cannot start.
pub fn serve(app: impl Application, config: &Config) -> std::io::Result<()> {
    logging::init(config.log_level);
    std::panic::set_hook(Box::new(logging::log_panic));
    configure_may(config.threads);
    let server = Server::bind(config.bind, app, config.server.clone())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", config.bind)))?;
    log::info!(
        "may-wsgi {} listening at http://{} ({} threads, {} connections)",
        env!("CARGO_PKG_VERSION"),
        server.local_addr()?,
        config.threads,
        config.server.worker_connections
    );
    server.serve_forever()
}

/// Parses the process's command line and serves `app` from it. Exits 2 on a bad flag and 1
/// when the server cannot start.
pub fn run(app: impl Application) -> ! {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_else(|| "may-wsgi".to_owned());
    let args: Vec<String> = args.collect();
    match parse_args(&program, &args) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Ok(Command::Version) => {
            println!("may-wsgi {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        Ok(Command::Serve(config)) => match serve(app, &config) {
            Ok(()) => std::process::exit(0),
            Err(e) => {
                eprintln!("may-wsgi: {e}");
                std::process::exit(1)
            }
        },
        Err(e) => {
            eprintln!("may-wsgi: {e}\nTry '{program} --help' for more information.");
            std::process::exit(2)
        }
    }
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
        assert_eq!(c.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(c.server.worker_connections, 1000);
        assert_eq!(c.server.limits, Limits::default());
        assert_eq!(c.server.access_log, AccessLogTarget::Stderr);
        assert!(c.threads >= 1);
    }

    #[test]
    fn every_flag() {
        let c = parse(&[
            "-b",
            "[::1]:9000",
            "--threads",
            "3",
            "--worker-connections",
            "50",
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
            "--access-logfile",
            "/tmp/a.log",
            "--log-level",
            "debug",
            "--debug",
            "--log-x-forwarded-for",
        ])
        .unwrap();
        assert_eq!(c.bind, "[::1]:9000".parse().unwrap());
        assert_eq!(c.threads, 3);
        assert_eq!(c.server.worker_connections, 50);
        assert_eq!(c.server.keep_alive, Duration::ZERO);
        assert_eq!(c.server.client_timeout, Duration::from_millis(2500));
        assert_eq!(
            c.server.limits,
            Limits {
                request_line: 100,
                fields: 7,
                field_size: 200
            }
        );
        assert_eq!(c.server.access_log, AccessLogTarget::File("/tmp/a.log".into()));
        assert_eq!(c.log_level, LevelFilter::Debug);
        assert!(c.server.debug && c.server.log_x_forwarded_for);
        assert_eq!(
            parse(&["--no-access-log"]).unwrap().server.access_log,
            AccessLogTarget::Off
        );
    }

    #[test]
    fn bind_forms() {
        assert_eq!(parse_bind("0.0.0.0:80").unwrap(), "0.0.0.0:80".parse().unwrap());
        assert_eq!(parse_bind(":8080").unwrap(), "0.0.0.0:8080".parse().unwrap());
        assert_eq!(parse_bind("127.0.0.1").unwrap(), "127.0.0.1:8000".parse().unwrap());
        assert_eq!(parse_bind("localhost:81").unwrap().port(), 81);
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
        assert!(err(&["--no-access-log", "--access-logfile", "x"]).contains("contradict"));
    }

    #[test]
    fn help_and_version() {
        let args = vec!["--help".to_string()];
        assert!(matches!(parse_args("p", &args), Ok(Command::Help(t)) if t.contains("--worker-connections")));
        let args = vec!["-V".to_string()];
        assert!(matches!(parse_args("p", &args), Ok(Command::Version)));
    }
}
