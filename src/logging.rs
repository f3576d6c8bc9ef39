//! The error log: a small `log` backend that writes gunicorn-style lines to stderr,
//! and local-time formatting shared with the access log.
//!
//! `[2026-11-25 15:22:15 +0000] [4242] [ERROR] message` — one `write` per line, so lines
//! from many coroutines (and later many worker processes) never interleave.

use std::ffi::CStr;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Formats the current local time with a C `strftime` format (libc's `localtime_r`, so
/// the `TZ` environment variable is honoured, as in Python's `time.strftime`).
pub fn local_time(format: &CStr) -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as libc::time_t;
    // Safety: `tm` is plain data filled by localtime_r; strftime writes at most buf.len().
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return String::from("-");
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), format.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

/// Parses a gunicorn log level name.
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    Some(match name.to_ascii_lowercase().as_str() {
        "debug" => LevelFilter::Debug,
        "info" => LevelFilter::Info,
        "warning" | "warn" => LevelFilter::Warn,
        "error" => LevelFilter::Error,
        "critical" => LevelFilter::Error,
        _ => return None,
    })
}

struct StderrLogger;

/// Whether a record is written. may reports every socket it registers at info level: that is
/// debug detail here, so may's own records below warnings count as debug.
fn shown(target: &str, level: Level, max: LevelFilter) -> bool {
    let from_may = target == "may" || target.starts_with("may::");
    let level = if from_may && level > Level::Warn {
        Level::Debug
    } else {
        level
    };
    level <= max
}

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        shown(metadata.target(), metadata.level(), log::max_level())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        };
        let line = format!(
            "[{}] [{}] [{}] {}\n",
            local_time(c"%Y-%m-%d %H:%M:%S %z"),
            std::process::id(),
            level,
            record.args()
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// A panic as one log line: where it happened and what it said.
pub fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-text panic payload");
    match info.location() {
        Some(at) => log::error!("panic at {}:{}: {msg}", at.file(), at.line()),
        None => log::error!("panic: {msg}"),
    }
}

/// Installs the stderr logger at `level`. A second call only changes the level.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&StderrLogger);
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(parse_level("INFO"), Some(LevelFilter::Info));
        assert_eq!(parse_level("critical"), Some(LevelFilter::Error));
        assert_eq!(parse_level("loud"), None);
    }

    #[test]
    fn may_chatter_is_debug_but_ours_is_not() {
        assert!(!shown("may::io::sys::select", Level::Info, LevelFilter::Info));
        assert!(shown("may::io::sys::select", Level::Info, LevelFilter::Debug));
        assert!(shown("may::scheduler", Level::Error, LevelFilter::Info));
        assert!(shown("may_wsgi::cli", Level::Info, LevelFilter::Info));
        assert!(!shown("may_wsgi::cli", Level::Debug, LevelFilter::Info));
    }

    #[test]
    fn local_time_formats() {
        let year = local_time(c"%Y");
        assert_eq!(year.len(), 4);
        assert!(year.chars().all(|c| c.is_ascii_digit()));
    }
}
