//! `--pid FILE`: the master's pid, written atomically (a temporary file renamed into
//! place), refused when a live process already owns the file, removed at exit.

use std::io;
use std::path::{Path, PathBuf};

/// A written pidfile; dropping it removes the file if it still names this process.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

fn alive(pid: i32) -> bool {
    // Safety: signal 0 only checks that the process exists.
    pid > 0 && (unsafe { libc::kill(pid, 0) } == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

impl PidFile {
    pub fn create(path: &Path) -> io::Result<PidFile> {
        let pid = std::process::id();
        if let Ok(old) = std::fs::read_to_string(path) {
            if let Ok(old) = old.trim().parse::<i32>() {
                if old as u32 != pid && alive(old) {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("pidfile {} names process {old}, which is still running", path.display()),
                    ));
                }
            }
        }
        let tmp = path.with_extension(format!("tmp.{pid}"));
        std::fs::write(&tmp, format!("{pid}\n"))
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write pidfile {}: {e}", path.display())))?;
        Ok(PidFile {
            path: path.to_owned(),
            pid,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path).is_ok_and(|s| s.trim() == self.pid.to_string());
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_refused_when_live_replaced_when_stale_removed_on_drop() {
        let dir = std::env::temp_dir().join(format!("may_wsgi_pid_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.pid");
        // A live process (our parent's init, pid 1) owns it: refused.
        std::fs::write(&path, "1\n").unwrap();
        assert_eq!(PidFile::create(&path).unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        // A dead one: replaced.
        std::fs::write(&path, "999999999\n").unwrap();
        let pidfile = PidFile::create(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(pidfile);
        assert!(!path.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
