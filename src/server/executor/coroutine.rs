//! The coroutine worker class: each request runs in a may coroutine (eventlet's green
//! thread), many on each scheduler thread.
//!
//! A coroutine that must wait for its socket registers the socket with may's selector and
//! parks ([`Waiter`]): its scheduler thread saves the coroutine's registers, switches to
//! the next runnable coroutine, and switches back when epoll reports the socket ready. No
//! system call is made for the switch itself, and a parked coroutine costs its stack (the
//! pages it touched) and nothing else. The price: a call that blocks the OS thread (a
//! `std::thread::sleep`, a C library's `read`) stops every coroutine on that thread.
//!
//! Compare `thread.rs`, the other class: the same two things done with an OS thread.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use may::io::{WaitIo, WaitIoWaker};

use super::super::crew::{Member, Note};
use super::super::net::Stream;
use super::super::waiting_room::Ready;
use super::super::{connection, stack_guard, Shared};

/// Starts a request coroutine for `ready`, enlisted in the crew.
pub(crate) fn spawn_worker(ready: Ready, shared: &Arc<Shared>) {
    let note = Arc::new(Note::default());
    let (worker_shared, worker_note) = (shared.clone(), note.clone());
    // A stack of the configured size, and never one may caches: see `stack_guard`.
    let words = stack_guard::worker_stack_words(shared.config.stack_size);
    // Safety (may's rule for spawn): the coroutine owns all it uses.
    let spawned = unsafe {
        may::coroutine::Builder::new().stack_size(words).spawn(move || {
            let _guard = stack_guard::Guard::watch(words);
            connection::serve(ready, &worker_shared, &worker_note)
        })
    };
    match spawned {
        Ok(handle) => shared.crew.enlist(Member::Coroutine(handle), note),
        Err(e) => log::error!("cannot start a request coroutine: {e}"),
    }
}

/// A borrowed fd for may to watch: registering it must not take ownership, since the
/// [`Stream`] goes on living after the coroutine stops waiting on it.
struct FdRef(RawFd);

impl AsRawFd for FdRef {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// A coroutine's way to wait on a [`Stream`]: the socket registered with may's selector,
/// made only when a read or write would block, and dropped (deregistered) before the
/// connection goes back to the waiting room.
pub(crate) struct Waiter {
    io: may::io::CoIo<FdRef>,
}

impl Waiter {
    pub fn new(stream: &Stream) -> io::Result<Waiter> {
        let io = may::io::CoIo::new(FdRef(stream.fd())).map_err(io::Error::from)?;
        Ok(Waiter { io })
    }

    /// Parks the coroutine until the socket has an event (or the waker is woken). may
    /// registers a socket for reading and writing at once, edge-triggered, so one wait
    /// serves both directions.
    pub fn wait(&self) {
        self.io.wait_io();
    }

    pub fn waker(&self) -> WaitIoWaker {
        self.io.waker()
    }
}
