//! Signals, the gunicorn way: a handler only counts the signal and writes a byte to a pipe
//! (both async-signal-safe); the master's loop sleeps on that pipe and does the work with no
//! restrictions, in the order signals came in kind. Workers use the counts alone and look at
//! them between their own waits.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::time::Duration;

/// The signals the master and workers act on.
pub const HANDLED: [libc::c_int; 8] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGHUP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGUSR1,
    libc::SIGCHLD,
];

const SLOTS: usize = 32;
#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU32 = AtomicU32::new(0);
static COUNTS: [AtomicU32; SLOTS] = [ZERO; SLOTS];
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
static READ_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn record(sig: libc::c_int) {
    if let Some(count) = COUNTS.get(sig as usize) {
        count.fetch_add(1, Ordering::SeqCst);
    }
    let fd = WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        // Safety: write(2) is async-signal-safe; a full pipe just means a wake-up is pending.
        unsafe { libc::write(fd, b"!".as_ptr().cast(), 1) };
    }
}

extern "C" fn exit_now(_sig: libc::c_int) {
    // Safety: _exit is async-signal-safe; a quick stop finishes nothing.
    unsafe { libc::_exit(0) };
}

fn set_handler(sig: libc::c_int, handler: libc::sighandler_t) {
    // Safety: a zeroed sigaction with our handler and an empty mask is valid.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        action.sa_flags = libc::SA_RESTART | if sig == libc::SIGCHLD { libc::SA_NOCLDSTOP } else { 0 };
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

/// The master's handlers: every handled signal is recorded and wakes [`wait`].
pub fn install_master() -> std::io::Result<()> {
    let mut fds = [0 as RawFd; 2];
    // Safety: pipe2 fills two fds; both ends are non-blocking and close on exec.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    READ_FD.store(fds[0], Ordering::SeqCst);
    WAKE_FD.store(fds[1], Ordering::SeqCst);
    for sig in HANDLED {
        set_handler(sig, record as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
    Ok(())
}

/// A worker's handlers: TERM and HUP are recorded for a graceful stop, USR1 for reopening
/// logs; INT and QUIT exit at once (the master cleans up); TTIN and TTOU mean nothing.
pub fn install_worker() {
    install_process(false);
}

/// A single process's handlers (`--workers 0`): as a worker's, except that INT and QUIT are
/// recorded too, so the process can remove its pidfile and socket file on the way out.
pub fn install_single() {
    install_process(true);
}

fn install_process(single: bool) {
    // The master's wake-up pipe is not ours to write to.
    for fd in [READ_FD.swap(-1, Ordering::SeqCst), WAKE_FD.swap(-1, Ordering::SeqCst)] {
        if fd >= 0 {
            // Safety: closing our copy of the inherited pipe.
            unsafe { libc::close(fd) };
        }
    }
    for sig in HANDLED {
        COUNTS[sig as usize].store(0, Ordering::SeqCst);
    }
    let record = record as extern "C" fn(libc::c_int) as libc::sighandler_t;
    let exit_now = exit_now as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for (sig, handler) in [
        (libc::SIGTERM, record),
        (libc::SIGHUP, record),
        (libc::SIGUSR1, record),
        (libc::SIGINT, if single { record } else { exit_now }),
        (libc::SIGQUIT, if single { record } else { exit_now }),
        (libc::SIGTTIN, libc::SIG_IGN),
        (libc::SIGTTOU, libc::SIG_IGN),
        (libc::SIGCHLD, libc::SIG_DFL),
    ] {
        set_handler(sig, handler);
    }
}

/// The signal mask as it was before [`block_handled`].
pub struct Blocked(libc::sigset_t);

impl Blocked {
    /// Puts the mask back: what arrived meanwhile is delivered now, to the handlers
    /// installed meanwhile.
    pub fn restore(&self) {
        // Safety: a mask sigprocmask gave us; the master is single-threaded.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Blocks the handled signals (they stay pending) until [`Blocked::restore`].
pub fn block_handled() -> Blocked {
    // Safety: sigset_t is plain data, filled by sigemptyset and sigprocmask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in HANDLED {
            libc::sigaddset(&mut set, sig);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        Blocked(old)
    }
}

/// Sleeps until a signal arrives or `timeout` passes.
pub fn wait(timeout: Duration) {
    let fd = READ_FD.load(Ordering::SeqCst);
    if fd < 0 {
        std::thread::sleep(timeout);
        return;
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // Safety: one valid pollfd; then drain the non-blocking pipe.
    unsafe {
        libc::poll(&mut pfd, 1, timeout.as_millis().min(i32::MAX as u128) as libc::c_int);
        let mut scratch = [0u8; 64];
        while libc::read(fd, scratch.as_mut_ptr().cast(), scratch.len()) > 0 {}
    }
}

/// How many times `sig` arrived since the last call (and resets the count).
pub fn take(sig: libc::c_int) -> u32 {
    COUNTS.get(sig as usize).map_or(0, |c| c.swap(0, Ordering::SeqCst))
}

/// Sends `sig` to `pid`, ignoring a process that is already gone.
pub fn send(pid: libc::pid_t, sig: libc::c_int) {
    // Safety: kill(2) with a pid we spawned.
    unsafe { libc::kill(pid, sig) };
}
