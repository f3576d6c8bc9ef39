//! Where a request runs: the two worker classes, and the few things that differ between
//! them.
//!
//! Everything else is shared. The waiting room (`waiting_room.rs`) accepts, reads heads and
//! keeps idle connections in an epoll set, on may's scheduler threads, for both classes;
//! the pool (`pool.rs`) counts places, queues complete heads and parks idle workers; the
//! request cycle (`connection.rs`) runs the application and keeps the connection. A worker
//! class only decides what a *worker* is:
//!
//! | | `coroutine` ([`coroutine`]) | `thread` ([`thread`]) |
//! |---|---|---|
//! | a worker is | a may coroutine (eventlet's green thread) | an OS thread (gunicorn gthread's pool thread) |
//! | started by | `may::coroutine::Builder::spawn` | `std::thread::Builder::spawn` |
//! | its stack | `--stack-size`, 128 KiB by default | `--stack-size`, 2 MiB by default |
//! | a wait on its socket | parks the coroutine in may's epoll set; the thread runs others | `poll(2)`: the kernel puts the thread to sleep |
//! | parked in the pool | `may::coroutine::park` | `std::thread::park` |
//! | a blocking call in the app | blocks its scheduler thread and every coroutine on it | blocks that one thread |
//! | pool size (`--pool-size`) | 1000 | 32 (`--threads`, gunicorn's name) |
//!
//! The three enums below are the seams: [`Sleeper`] (how a parked worker is woken),
//! [`SocketWait`] (how a worker waits for its socket) and [`Waker`] (how the sweeper ends
//! such a wait early). Each has one arm per class; the arms live in the two modules.

pub(crate) mod coroutine;
pub(crate) mod thread;

use std::io;
use std::sync::Arc;

use super::net::Stream;

/// What runs a request: gunicorn's `--worker-class`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerClass {
    /// may stackful coroutines, many per OS thread (eventlet's model).
    #[default]
    Coroutine,
    /// A bounded pool of OS threads, each doing blocking socket I/O (gunicorn's gthread).
    Thread,
}

impl WorkerClass {
    /// The name `--worker-class` takes.
    pub fn name(self) -> &'static str {
        match self {
            WorkerClass::Coroutine => "coroutine",
            WorkerClass::Thread => "thread",
        }
    }

    /// Reads a `--worker-class` value; gunicorn's `gthread` is `thread`, eventlet's
    /// `eventlet` is `coroutine`.
    pub fn parse(text: &str) -> Option<WorkerClass> {
        match text.trim() {
            "coroutine" | "eventlet" => Some(WorkerClass::Coroutine),
            "thread" | "gthread" => Some(WorkerClass::Thread),
            _ => None,
        }
    }

    /// Requests handled at once by default: eventlet's `GreenPool(1000)`, or a pool of
    /// threads small enough that each may have a real stack.
    pub fn default_pool_size(self) -> usize {
        match self {
            WorkerClass::Coroutine => 1000,
            WorkerClass::Thread => thread::POOL_SIZE,
        }
    }

    /// The stack of one worker by default, in bytes. Only the pages a worker touches
    /// cost memory; the size is how deep the application may recurse.
    pub fn default_stack_size(self) -> usize {
        match self {
            WorkerClass::Coroutine => super::STACK_BYTES,
            WorkerClass::Thread => thread::STACK_BYTES,
        }
    }
}

impl std::fmt::Display for WorkerClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A worker parked in the pool, as the one who hands it work wakes it.
pub(crate) enum Sleeper {
    Coroutine(may::coroutine::Coroutine),
    Thread(std::thread::Thread),
}

impl Sleeper {
    /// The calling worker.
    pub fn current() -> Sleeper {
        if may::coroutine::is_coroutine() {
            Sleeper::Coroutine(may::coroutine::current())
        } else {
            Sleeper::Thread(std::thread::current())
        }
    }

    pub fn wake(&self) {
        match self {
            Sleeper::Coroutine(co) => co.unpark(),
            Sleeper::Thread(t) => t.unpark(),
        }
    }
}

/// Parks the calling worker until [`Sleeper::wake`] (or spuriously: callers loop).
pub(crate) fn park() {
    if may::coroutine::is_coroutine() {
        may::coroutine::park();
    } else {
        std::thread::park();
    }
}

/// Which way a worker waits for its socket.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    Read,
    Write,
}

/// A worker's way of waiting for one socket: made when a read or write first would block.
pub(crate) enum SocketWait {
    Coroutine(coroutine::Waiter),
    Thread(thread::Poller),
}

impl SocketWait {
    /// The wait for `stream` in the calling worker's class.
    pub fn new(class: WorkerClass, stream: &Stream) -> io::Result<SocketWait> {
        Ok(match class {
            WorkerClass::Coroutine => SocketWait::Coroutine(coroutine::Waiter::new(stream)?),
            WorkerClass::Thread => SocketWait::Thread(thread::Poller::new(stream)?),
        })
    }

    /// Waits until the socket is ready for `interest`, or the waker is woken.
    pub fn wait(&self, interest: Interest) {
        match self {
            SocketWait::Coroutine(w) => w.wait(),
            SocketWait::Thread(p) => p.wait(interest),
        }
    }

    pub fn waker(&self) -> Waker {
        match self {
            SocketWait::Coroutine(w) => Waker::Coroutine(w.waker()),
            SocketWait::Thread(p) => Waker::Thread(p.doorbell()),
        }
    }
}

/// Ends a [`SocketWait`] from elsewhere (the sweeper, at a deadline or to end a stay).
pub(crate) enum Waker {
    Coroutine(may::io::WaitIoWaker),
    Thread(Arc<thread::Doorbell>),
}

impl Waker {
    pub fn wake(&self) {
        match self {
            Waker::Coroutine(w) => w.wakeup(),
            Waker::Thread(bell) => bell.ring(),
        }
    }
}
