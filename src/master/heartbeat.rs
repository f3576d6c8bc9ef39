//! The heartbeat board: one shared-memory slot per worker, in which the worker's scheduler
//! writes the time every beat, and where the master reads how long ago that was.
//!
//! gunicorn does this with a temporary file whose mtime the worker touches; a page of
//! shared memory mapped before fork does the same with no file and no system call. The beat
//! is written by a coroutine, so it stops when the worker's scheduler threads stop turning:
//! an application that blocks its threads (the demo's `/block`) is seen, and the master
//! aborts the worker after `--timeout`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Most workers the board has room for (TTIN beyond this is refused): `--workers`' ceiling.
pub const SLOTS: usize = crate::config::MAX_WORKERS;

/// Milliseconds on the system's monotonic clock, which every process shares.
pub fn now_ms() -> u64 {
    // Safety: clock_gettime fills a timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
}

/// Shared slots, mapped once in the master and inherited by every worker.
pub struct Board {
    slots: &'static [AtomicU64],
}

impl Board {
    pub fn new() -> std::io::Result<Board> {
        let bytes = SLOTS * std::mem::size_of::<AtomicU64>();
        // Safety: an anonymous shared mapping, zeroed by the kernel, never unmapped: it
        // lives as long as the process, in the master and in every forked worker.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // Safety: the mapping is SLOTS aligned, zeroed u64s, valid for 'static.
        let slots = unsafe { std::slice::from_raw_parts(ptr as *const AtomicU64, SLOTS) };
        Ok(Board { slots })
    }

    /// A worker says it is alive.
    pub fn beat(&self, slot: usize) {
        self.slots[slot].store(now_ms().max(1), Ordering::Release);
    }

    /// When the worker in `slot` last beat; 0 when it has not yet (still booting).
    pub fn last(&self, slot: usize) -> u64 {
        self.slots[slot].load(Ordering::Acquire)
    }

    /// Clears a slot for a new worker.
    pub fn clear(&self, slot: usize) {
        self.slots[slot].store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_in_a_child_is_seen_by_the_parent() {
        let board = Board::new().unwrap();
        board.clear(3);
        assert_eq!(board.last(3), 0);
        // Safety: the child only writes the board and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            board.beat(3);
            unsafe { libc::_exit(0) };
        }
        let mut status = 0;
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(board.last(3) > 0);
        assert!(board.last(3) <= now_ms());
    }
}
