//! eventlet's `GreenPool` and `listen()`, on may coroutines, for porting green-thread code
//! that is not WSGI.
//!
//! A green thread in eventlet and a coroutine in may are the same idea: a function with its
//! own stack that gives up its OS thread whenever it would block on I/O. A pool bounds how
//! many run at once; `spawn` waits (yields) for a free slot when the pool is full, which
//! is how a server pushes back on too many clients. The WSGI server itself runs every
//! connection in one of these pools.
//!
//! ```python
//! pool = eventlet.GreenPool(10000)
//! server = eventlet.listen(('0.0.0.0', 6000))
//! while True:
//!     new_sock, address = server.accept()
//!     pool.spawn_n(handle, new_sock.makefile('rw'))
//! ```
//!
//! becomes `examples/echo_server.rs`.

use std::io;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::sync::{Condvar, Mutex, Semphore};

struct Inner {
    size: usize,
    slots: Semphore,
    in_use: AtomicUsize,
    idle_lock: Mutex<()>,
    idle: Condvar,
}

/// A bounded pool of coroutines (eventlet's `GreenPool(size)`). Cloning shares the pool.
#[derive(Clone)]
pub struct GreenPool {
    inner: Arc<Inner>,
}

/// A reserved place in a pool; dropping it gives the place back.
pub(crate) struct Slot {
    inner: Arc<Inner>,
    /// A coroutine runs in it (a place only reserved does not count as running).
    running: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let before = if self.running {
            self.inner.in_use.fetch_sub(1, Ordering::AcqRel)
        } else {
            0
        };
        self.inner.slots.post();
        if before == 1 {
            // Taking the lock orders this wake-up after a waiter's check of `in_use`.
            let _guard = self.inner.idle_lock.lock();
            self.inner.idle.notify_all();
        }
    }
}

/// A coroutine started by [`GreenPool::spawn`] (eventlet's `GreenThread`).
pub struct GreenThread<T> {
    handle: may::coroutine::JoinHandle<T>,
}

impl<T> GreenThread<T> {
    /// Waits for the result; a panic in the coroutine is raised again here, as eventlet's
    /// `GreenThread.wait()` re-raises the exception.
    pub fn wait(self) -> T {
        match self.handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// True once the coroutine has finished.
    pub fn is_done(&self) -> bool {
        self.handle.is_done()
    }
}

impl GreenPool {
    /// A pool that runs at most `size` coroutines at once (at least one).
    pub fn new(size: usize) -> GreenPool {
        let size = size.max(1);
        GreenPool {
            inner: Arc::new(Inner {
                size,
                slots: Semphore::new(size),
                in_use: AtomicUsize::new(0),
                idle_lock: Mutex::new(()),
                idle: Condvar::new(),
            }),
        }
    }

    /// The most coroutines the pool runs at once.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// How many are running now (eventlet's `running()`).
    pub fn running(&self) -> usize {
        self.inner.in_use.load(Ordering::Acquire)
    }

    /// How many more could start without waiting (eventlet's `free()`).
    pub fn free(&self) -> usize {
        self.size().saturating_sub(self.running())
    }

    /// Waits for a free place and reserves it.
    pub(crate) fn reserve(&self) -> Slot {
        self.inner.slots.wait();
        Slot {
            inner: self.inner.clone(),
            running: false,
        }
    }

    /// Runs `f` in a new coroutine holding `slot`, which is freed when `f` ends or panics.
    pub(crate) fn spawn_in<F, T>(&self, mut slot: Slot, f: F) -> GreenThread<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.inner.in_use.fetch_add(1, Ordering::AcqRel);
        slot.running = true;
        // Safety (may's rule for spawn): the closure does not keep thread-local references
        // across yields; it owns everything it uses.
        let handle = unsafe {
            may::coroutine::spawn(move || {
                let _slot = slot;
                f()
            })
        };
        GreenThread { handle }
    }

    /// Starts `f` in the pool, waiting for a free place first, and returns its handle.
    pub fn spawn<F, T>(&self, f: F) -> GreenThread<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = self.reserve();
        self.spawn_in(slot, f)
    }

    /// Starts `f` in the pool without a handle (eventlet's `spawn_n`).
    pub fn spawn_n<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        drop(self.spawn(f));
    }

    /// Waits until every coroutine of the pool has finished (eventlet's `waitall()`).
    pub fn waitall(&self) {
        let mut guard = self.inner.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.running() > 0 {
            guard = self.inner.idle.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Like [`GreenPool::waitall`], giving up after `timeout`; true when all finished.
    pub fn waitall_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.inner.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.running() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = match self.inner.idle.wait_timeout(guard, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

/// eventlet's `listen(addr)`: a listening socket (SO_REUSEADDR) whose `accept` yields the
/// coroutine instead of blocking the thread.
pub fn listen(addr: impl ToSocketAddrs) -> io::Result<may::net::TcpListener> {
    crate::server::net::tcp_into_may(std::net::TcpListener::bind(addr)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn pool_bounds_concurrency_and_waits_for_all() {
        let pool = GreenPool::new(3);
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for _ in 0..12 {
            let (now, peak) = (now.clone(), peak.clone());
            pool.spawn_n(move || {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                may::coroutine::sleep(Duration::from_millis(5));
                now.fetch_sub(1, Ordering::SeqCst);
            });
            assert!(pool.running() <= 3);
        }
        pool.waitall();
        assert_eq!(pool.running(), 0);
        assert_eq!(pool.free(), 3);
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(peak.load(Ordering::SeqCst) >= 1);
    }

    #[test]
    fn spawn_returns_the_value_and_reraises_panics() {
        let pool = GreenPool::new(2);
        assert_eq!(pool.spawn(|| 6 * 7).wait(), 42);
        let failing = pool.spawn(|| -> u32 { panic!("boom") });
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| failing.wait()));
        assert!(caught.is_err());
        assert!(pool.waitall_timeout(Duration::from_secs(5)));
        assert_eq!(pool.free(), 2);
    }
}
