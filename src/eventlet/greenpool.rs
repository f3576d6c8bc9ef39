//! eventlet's `GreenPool`: a bound on how many green threads run at once, for porting
//! green-thread code that is not WSGI. Its `spawn` hands back the same
//! [`GreenThread`] as [`spawn`](super::spawn), so a pooled thread can be waited on or
//! killed; its place in the pool travels with the coroutine and is freed when it ends,
//! however it ends.
//!
//! A pool bounds how many run at once; `spawn` waits (yields) for a free place when the
//! pool is full, which is how a server pushes back on too many clients.
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::sync::{Condvar, Mutex, Semphore};

use super::greenthread::{launch, GreenThread};

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
            // Taking the lock orders this wake-up after a waiter's check of `in_use`. The
            // place may be dropped by a killed green thread's unwinding, where a park
            // would abort: hence the lock that never parks.
            let _guard = super::lock_in_drop(&self.inner.idle_lock);
            self.inner.idle.notify_all();
        }
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

    /// Runs `f` in a new coroutine holding `slot`, which is freed when `f` ends, panics or
    /// is killed.
    pub(crate) fn spawn_in<F, T>(&self, mut slot: Slot, f: F) -> GreenThread<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.inner.in_use.fetch_add(1, Ordering::AcqRel);
        slot.running = true;
        launch(None, slot, f)
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
        let mut guard = super::lock(&self.inner.idle_lock);
        while self.running() > 0 {
            guard = self.inner.idle.wait(guard).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Like [`GreenPool::waitall`], giving up after `timeout`; true when all finished.
    pub fn waitall_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = super::lock(&self.inner.idle_lock);
        while self.running() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = match self.inner.idle.wait_timeout(guard, super::park_time(left)) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::{sleep, Event, GreenletExit};

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

    #[test]
    fn a_killed_pool_thread_gives_its_place_back() {
        let pool = GreenPool::new(1);
        let started = Event::new();
        let s = started.clone();
        let gt = pool.spawn(move || {
            s.send(()).unwrap();
            sleep(Duration::from_secs(60));
        });
        started.wait();
        assert_eq!(pool.free(), 0);
        gt.kill();
        assert_eq!(gt.wait_result(), Err(GreenletExit));
        assert!(pool.waitall_timeout(Duration::from_secs(5)));
        assert_eq!(pool.free(), 1);
        assert_eq!(pool.spawn(|| "next").wait(), "next");
    }
}
