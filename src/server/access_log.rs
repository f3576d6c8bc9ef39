//! The access log, one line per request in eventlet's default format:
//!
//! ```text
//! 127.0.0.1 - - [25/Nov/2026 15:22:15] "GET / HTTP/1.1" 200 11 0.000120
//! client_ip       date_time              request_line  status body_length wall_seconds
//! ```
//!
//! Lines go to stderr or to a file opened for appending, each in one `write`. The file can be
//! reopened (after logrotate moved it) with [`AccessLog::reopen`].

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use super::AccessLogTarget;
use crate::logging::local_time;

/// An open access log.
pub struct AccessLog {
    path: Option<PathBuf>,
    file: Mutex<Option<File>>,
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl AccessLog {
    /// Opens the log the target names; `None` when it is off.
    pub fn open(target: &AccessLogTarget) -> io::Result<Option<AccessLog>> {
        Ok(match target {
            AccessLogTarget::Off => None,
            AccessLogTarget::Stderr => Some(AccessLog {
                path: None,
                file: Mutex::new(None),
            }),
            AccessLogTarget::File(path) => Some(AccessLog {
                file: Mutex::new(Some(open_append(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot open access log {}: {e}", path.display()))
                })?)),
                path: Some(path.clone()),
            }),
        })
    }

    /// Opens the file again by its name, so lines go to the new file after a rotation.
    pub fn reopen(&self) -> io::Result<()> {
        if let Some(path) = &self.path {
            let file = open_append(path)?;
            *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some(file);
        }
        Ok(())
    }

    /// Writes one line. `forwarded` (X-Forwarded-For) goes in front of the client address.
    pub fn log(
        &self,
        client: &str,
        forwarded: Option<&str>,
        request_line: &[u8],
        status: u16,
        body_len: u64,
        wall: Duration,
    ) {
        // A Unix-domain client has no address: "-", as for any absent field.
        let client = if client.is_empty() { "-" } else { client };
        let client_ip = match forwarded {
            Some(f) => format!("{f},{client}"),
            None => client.to_owned(),
        };
        let line = format!(
            "{} - - [{}] \"{}\" {} {} {:.6}\n",
            client_ip,
            local_time(c"%d/%b/%Y %H:%M:%S"),
            String::from_utf8_lossy(request_line),
            status,
            body_len,
            wall.as_secs_f64()
        );
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = match file.as_mut() {
            Some(f) => f.write_all(line.as_bytes()),
            None => io::stderr().write_all(line.as_bytes()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_eventlet_lines_and_reopens() {
        let dir = std::env::temp_dir().join(format!("may_wsgi_access_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("access.log");
        let log = AccessLog::open(&AccessLogTarget::File(path.clone())).unwrap().unwrap();
        log.log(
            "10.0.0.1",
            Some("1.2.3.4"),
            b"GET / HTTP/1.1",
            200,
            11,
            Duration::from_micros(120),
        );
        let rotated = dir.join("access.log.1");
        std::fs::rename(&path, &rotated).unwrap();
        log.reopen().unwrap();
        log.log("10.0.0.1", None, b"GET /x HTTP/1.0", 404, 0, Duration::ZERO);
        let old = std::fs::read_to_string(&rotated).unwrap();
        let new = std::fs::read_to_string(&path).unwrap();
        assert!(old.starts_with("1.2.3.4,10.0.0.1 - - ["), "{old}");
        assert!(old.ends_with("] \"GET / HTTP/1.1\" 200 11 0.000120\n"), "{old}");
        assert!(new.ends_with("\"GET /x HTTP/1.0\" 404 0 0.000000\n"), "{new}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
