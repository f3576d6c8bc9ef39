//! eventlet's vocabulary on may coroutines, for porting Python code that uses eventlet:
//! `use may_wsgi::eventlet::{...}` and the names read as they did in Python.
//!
//! | eventlet | here |
//! |---|---|
//! | `eventlet.sleep`, `spawn`, `spawn_n`, `spawn_after`, `kill`, `GreenThread`, `GreenletExit` | [`greenthread`] |
//! | `eventlet.GreenPool` | [`greenpool`] |
//! | `eventlet.queue`: `Queue`, `LightQueue`, `PriorityQueue`, `LifoQueue`, `Full`, `Empty` | [`queue`] |
//! | `eventlet.event.Event` | [`event`] |
//! | `eventlet.semaphore`: `Semaphore`, `BoundedSemaphore` | [`semaphore`] |
//! | `eventlet.Timeout`, `eventlet.timeout.with_timeout` | [`timeout`] |
//! | `eventlet.tpool.execute` | [`tpool`] |
//! | `eventlet.listen` | [`convenience`] |
//!
//! A green thread is a may coroutine, and every wait here parks the coroutine, never its
//! OS thread (they are built on `may::sync`); called from a plain OS thread, the same
//! calls block that thread, as Python's main greenlet blocks. Python's float seconds are
//! [`Duration`](std::time::Duration)s. Objects Python shares by reference (queues, events, semaphores, pools)
//! are cheap `Clone` handles to one shared object, so a clone moves into a spawned closure
//! as the Python object would be captured. Where eventlet raises an exception a caller
//! would catch, the call returns an error named after it ([`ValueError`], `queue::Full`,
//! `queue::Empty`, [`Timeout`], [`GreenletExit`]).
//!
//! Two may facts shape the code below: a killed coroutine must not park while it unwinds
//! (so the kit's locks spin then, see [`greenthread`]), and may's timeouts are whole
//! milliseconds with 0 meaning none (so every wait rounds up).
//!
//! `docs/porting.md` has the whole mapping, what a coroutine must not call, and a worked
//! example (`examples/eventlet_port.rs`). [`may`] itself is re-exported here, so a port
//! needs no dependency of its own for `may::net` or `may::sync`.

pub mod convenience;
pub mod event;
pub mod greenpool;
pub mod greenthread;
pub mod queue;
pub mod semaphore;
pub mod timeout;
pub mod tpool;

pub use may;

pub use convenience::listen;
pub use event::Event;
pub use greenpool::GreenPool;
pub use greenthread::{kill, sleep, spawn, spawn_after, spawn_n, GreenThread, GreenletExit};
pub use queue::{LifoQueue, LightQueue, PriorityQueue, Queue};
pub use semaphore::{BoundedSemaphore, Semaphore, SemaphoreGuard};
pub use timeout::{with_timeout, Timeout};

use std::fmt;
use std::sync::TryLockError;

use may::sync::{Mutex, MutexGuard};

/// Python's `ValueError`, where eventlet raises one: a `BoundedSemaphore` released above
/// its initial value, `Queue.task_done()` called more often than items were put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueError(pub &'static str);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ValueError {}

/// Locks `mutex` without ever parking, for destructors. A destructor may run while a
/// killed green thread unwinds, and there a park that has to wait makes may raise its
/// cancel again inside the unwinding, which aborts the process. The locks taken this way
/// are never held across a wait, so the spin is short.
pub(crate) fn lock_in_drop<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    loop {
        match mutex.try_lock() {
            Ok(guard) => return guard,
            Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
            // An OS-level yield: may's own yield would raise the cancel in a killed thread.
            Err(TryLockError::WouldBlock) => std::thread::yield_now(),
        }
    }
}

pub(crate) use crate::server::timeouts::park_time;

/// Locks `mutex`, parking the coroutine while another holds it, ignoring poison: the
/// state behind every lock here stays consistent even when a panic crossed it. During an
/// unwinding (a killed green thread's destructors sending an event, putting into a queue)
/// it spins instead, for the reason given at [`lock_in_drop`].
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    if std::thread::panicking() {
        return lock_in_drop(mutex);
    }
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The Rust blocks of `docs/porting.md`, compiled as doc tests so the porting guide stays
/// true.
#[cfg(doctest)]
#[doc = include_str!("../../docs/porting.md")]
pub struct PortingDoctests;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// may would park these forever (its timeouts are whole milliseconds, 0 = none).
    #[test]
    fn sub_millisecond_timeouts_end_in_green_threads() {
        let tiny = Duration::from_micros(300);
        let outcome = spawn(move || {
            let q: Queue<u8> = Queue::new(None);
            let full = LightQueue::new(0);
            let sem = BoundedSemaphore::new(1);
            let _held = sem.acquire();
            let event: Event<u8> = Event::new();
            (
                q.get_timeout(tiny).is_err(),
                full.put_timeout(1, tiny).is_err(),
                sem.acquire_timeout(tiny).is_none(),
                sem.acquire_timeout(Duration::ZERO).is_none(),
                event.wait_timeout(tiny).is_none(),
                with_timeout(tiny, || sleep(Duration::from_secs(60))).is_err(),
                GreenPool::new(1).waitall_timeout(tiny),
            )
        })
        .wait();
        assert_eq!(outcome, (true, true, true, true, true, true, true));
    }

    #[test]
    fn park_time_rounds_up_to_a_millisecond() {
        assert_eq!(park_time(Duration::ZERO), Duration::from_millis(1));
        assert_eq!(park_time(Duration::from_micros(1)), Duration::from_millis(1));
        assert_eq!(park_time(Duration::from_micros(1500)), Duration::from_millis(2));
        assert_eq!(park_time(Duration::from_secs(2)), Duration::from_secs(2));
    }
}
