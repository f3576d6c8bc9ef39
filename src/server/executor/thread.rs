//! The thread worker class: each request runs on an OS thread from a bounded pool
//! (gunicorn's gthread worker: a poller for idle keep-alive connections, which here is the
//! waiting room, and a pool of threads for requests).
//!
//! A thread that must wait for its socket asks the kernel with `poll(2)` ([`Poller`]): the
//! kernel takes the thread off the CPU and puts it back when the socket is ready, a switch
//! through the kernel's scheduler each way. A thread costs a kernel task and its stack (the
//! pages it touched), so the pool is small ([`POOL_SIZE`]); in exchange, a call that blocks
//! (a database driver, a slow disk, a C extension) stops only its own thread.
//!
//! Compare `coroutine.rs`, the other class: the same two things done with a coroutine.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::super::crew::{Member, Note};
use super::super::net::Stream;
use super::super::waiting_room::Ready;
use super::super::{connection, Shared};
use super::Interest;

/// Request threads per process by default: enough that a handful of blocking requests
/// leave the rest served, few enough that each has a real stack.
pub(crate) const POOL_SIZE: usize = 32;

/// A request thread's stack by default: Rust's own default for spawned threads. The
/// kernel maps the pages a thread touches, so the size is a ceiling, not a cost.
pub(crate) const STACK_BYTES: usize = 2 * 1024 * 1024;

/// Starts a request thread for `ready`, enlisted in the crew.
pub(crate) fn spawn_worker(ready: Ready, shared: &Arc<Shared>) {
    static NUMBER: AtomicUsize = AtomicUsize::new(0);
    let note = Arc::new(Note::default());
    let (worker_shared, worker_note) = (shared.clone(), note.clone());
    let spawned = std::thread::Builder::new()
        .name(format!("request-{}", NUMBER.fetch_add(1, Ordering::Relaxed)))
        .stack_size(shared.config.stack_size)
        .spawn(move || connection::serve(ready, &worker_shared, &worker_note));
    match spawned {
        Ok(handle) => shared.crew.enlist(Member::Thread(handle), note),
        Err(e) => log::error!("cannot start a request thread: {e}"),
    }
}

/// A thread's way to wait on a [`Stream`]: `poll(2)` on the socket and on the thread's
/// [`Doorbell`], which the sweeper rings at a deadline or to end a stay.
pub(crate) struct Poller {
    fd: RawFd,
    bell: Arc<Doorbell>,
}

thread_local! {
    /// Each request thread's doorbell, made once and kept for the thread's life.
    static BELL: Option<Arc<Doorbell>> = Doorbell::new().ok().map(Arc::new);
}

impl Poller {
    pub fn new(stream: &Stream) -> io::Result<Poller> {
        let bell = BELL
            .with(Clone::clone)
            .ok_or_else(|| io::Error::other("no eventfd for the request thread"))?;
        Ok(Poller { fd: stream.fd(), bell })
    }

    /// Blocks the thread until the socket is ready for `interest` or the doorbell rings.
    pub fn wait(&self, interest: Interest) {
        let events = match interest {
            Interest::Read => libc::POLLIN | libc::POLLRDHUP,
            Interest::Write => libc::POLLOUT,
        };
        let mut fds = [
            libc::pollfd {
                fd: self.fd,
                events,
                revents: 0,
            },
            libc::pollfd {
                fd: self.bell.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // No timeout of its own: deadlines are the sweeper's, as for coroutines. An
        // interrupted poll (EINTR) simply returns; the caller tries its read again.
        // Safety: fds is a valid array of two pollfd for the call.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if fds[1].revents != 0 {
            self.bell.silence();
        }
    }

    pub fn doorbell(&self) -> Arc<Doorbell> {
        self.bell.clone()
    }
}

/// An eventfd that wakes a thread blocked in [`Poller::wait`]: a ring stays until the
/// thread hears it, so a ring that comes just before the wait is not lost.
pub(crate) struct Doorbell {
    fd: OwnedFd,
}

impl Doorbell {
    fn new() -> io::Result<Doorbell> {
        // Safety: plain system call; the fd it returns is ours.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // Safety: eventfd just returned this fd.
        Ok(Doorbell {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    pub fn ring(&self) {
        let one = 1u64.to_ne_bytes();
        // Safety: writes 8 bytes from a live buffer; a full counter (EAGAIN) rings already.
        unsafe { libc::write(self.fd.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    fn silence(&self) {
        let mut count = [0u8; 8];
        // Safety: reads 8 bytes into a live buffer; non-blocking.
        unsafe { libc::read(self.fd.as_raw_fd(), count.as_mut_ptr().cast(), count.len()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Waits on `stream` in another thread; the receiver hears when the wait returned.
    fn wait_elsewhere(poller: Poller) -> mpsc::Receiver<()> {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            poller.wait(Interest::Read);
            let _ = tx.send(());
        });
        rx
    }

    #[test]
    fn a_wait_ends_at_the_doorbell_or_when_the_socket_has_data() {
        let (ours, mut peer) = UnixStream::pair().unwrap();
        let stream = Stream::Unix(ours);
        // The doorbell: made in the waiting thread, rung from here.
        let (bell_tx, bell_rx) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let fd = stream.fd();
        std::thread::spawn(move || {
            // Safety: dup gives this thread an fd of its own on the same socket, which
            // `mine` owns and keeps open while the wait lasts.
            let mine = Stream::Unix(unsafe { UnixStream::from_raw_fd(libc::dup(fd)) });
            let poller = Poller::new(&mine).unwrap();
            bell_tx.send(poller.doorbell()).unwrap();
            poller.wait(Interest::Read);
            done_tx.send(()).unwrap();
        });
        let bell = bell_rx.recv().unwrap();
        bell.ring();
        done.recv_timeout(Duration::from_secs(5))
            .expect("the doorbell ended the wait");
        // A ring before the wait is kept until the wait hears it.
        let early = Poller::new(&stream).unwrap();
        early.doorbell().ring();
        wait_elsewhere(early)
            .recv_timeout(Duration::from_secs(5))
            .expect("an early ring is not lost");
        // Data on the socket ends a wait for reading.
        let waiting = wait_elsewhere(Poller::new(&stream).unwrap());
        peer.write_all(b"x").unwrap();
        waiting
            .recv_timeout(Duration::from_secs(5))
            .expect("data ended the wait");
    }
}
