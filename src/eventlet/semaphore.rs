//! eventlet.semaphore: [`Semaphore`] and [`BoundedSemaphore`], limits on how many green
//! threads do something at once (two database calls, ten downloads).
//!
//! Python's `with sem:` is `let _guard = sem.acquire();`: the [`SemaphoreGuard`] releases
//! when dropped, however the block is left (a return, a panic, a kill). The manual style,
//! `sem.acquire()` here and `sem.release()` elsewhere, is `sem.acquire().forget()` and
//! `sem.release()`. `acquire(blocking=False)` is `try_acquire`, `acquire(timeout=t)` is
//! `acquire_timeout`. The waiting is may's `Semphore`, which parks the green thread (or
//! blocks a plain OS thread); releasing never waits, so a guard dropped while a killed
//! green thread unwinds is safe. Every handle is a `Clone` of one shared semaphore.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use may::sync::Semphore;

use super::{park_time, ValueError};

struct Core {
    permits: Semphore,
    /// The value given to `new`: the most a `BoundedSemaphore` may hold.
    original: usize,
    bounded: bool,
    /// Permits taken and not given back: a bounded release needs one to give back, which
    /// a compare-and-swap checks even when several threads release at once.
    taken: AtomicUsize,
    /// Green threads waiting in `acquire` (eventlet's `balance`).
    waiting: AtomicUsize,
}

impl Core {
    fn new(value: usize, bounded: bool) -> Arc<Core> {
        Arc::new(Core {
            permits: Semphore::new(value),
            original: value,
            bounded,
            taken: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
        })
    }

    /// Takes a permit, waiting up to `timeout` (`None`: without limit).
    fn acquire(self: &Arc<Self>, timeout: Option<Duration>) -> Option<SemaphoreGuard> {
        if !self.permits.try_wait() {
            self.waiting.fetch_add(1, Ordering::AcqRel);
            // Counted down however the wait ends, a kill's unwinding included.
            let _waiting = Uncount(&self.waiting);
            let got = match timeout {
                None => {
                    self.permits.wait();
                    true
                }
                Some(timeout) if timeout.is_zero() => false,
                Some(timeout) => self.permits.wait_timeout(park_time(timeout)),
            };
            if !got {
                return None;
            }
        }
        self.taken.fetch_add(1, Ordering::AcqRel);
        Some(SemaphoreGuard {
            core: Some(self.clone()),
        })
    }

    fn try_acquire(self: &Arc<Self>) -> Option<SemaphoreGuard> {
        if !self.permits.try_wait() {
            return None;
        }
        self.taken.fetch_add(1, Ordering::AcqRel);
        Some(SemaphoreGuard {
            core: Some(self.clone()),
        })
    }

    /// Gives a permit back. A bounded semaphore refuses to go above its original value,
    /// as eventlet's raises ValueError.
    fn release(&self) -> Result<(), ValueError> {
        let give_back = self
            .taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        if give_back.is_err() && self.bounded {
            return Err(ValueError("Semaphore released too many times"));
        }
        // Unbounded: a release with nothing taken raises the count, as in eventlet.
        self.permits.post();
        Ok(())
    }

    fn counter(&self) -> usize {
        self.permits.get_value()
    }
}

/// Counts a waiter down when dropped.
struct Uncount<'a>(&'a AtomicUsize);

impl Drop for Uncount<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A permit of a [`Semaphore`] or [`BoundedSemaphore`]: the `with sem:` block. Dropping it
/// releases the permit.
#[must_use = "the permit is released as soon as the guard is dropped"]
pub struct SemaphoreGuard {
    core: Option<Arc<Core>>,
}

impl SemaphoreGuard {
    /// Keeps the permit taken without a guard: Python's bare `sem.acquire()`, to be given
    /// back by a later `sem.release()`.
    pub fn forget(mut self) {
        self.core = None;
    }
}

impl Drop for SemaphoreGuard {
    fn drop(&mut self) {
        if let Some(core) = self.core.take() {
            // Refused only if extra releases gave this permit back already: then it is.
            let _ = core.release();
        }
    }
}

impl fmt::Debug for SemaphoreGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphoreGuard")
    }
}

/// The methods both semaphores have, written once.
macro_rules! semaphore_api {
    ($name:ident, $bounded:expr) => {
        impl $name {
            /// eventlet's `Semaphore(value)`: `value` permits (1 makes it a lock).
            pub fn new(value: usize) -> Self {
                $name {
                    core: Core::new(value, $bounded),
                }
            }

            /// eventlet's `acquire()` / `with sem:`: waits for a permit; the guard gives
            /// it back.
            pub fn acquire(&self) -> SemaphoreGuard {
                self.core
                    .acquire(None)
                    .expect("an acquire without a timeout waits for a permit")
            }

            /// eventlet's `acquire(timeout=t)`: `None` if no permit came within `timeout`.
            pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphoreGuard> {
                self.core.acquire(Some(timeout))
            }

            /// eventlet's `acquire(blocking=False)`: a permit only if one is free now.
            pub fn try_acquire(&self) -> Option<SemaphoreGuard> {
                self.core.try_acquire()
            }

            /// eventlet's `locked()`: no permit is free.
            pub fn locked(&self) -> bool {
                self.core.counter() == 0
            }

            /// eventlet's `counter`: free permits.
            pub fn counter(&self) -> usize {
                self.core.counter()
            }

            /// eventlet's `balance`: free permits less waiting green threads; negative when
            /// that many releases are needed before an acquire goes through.
            pub fn balance(&self) -> isize {
                self.core.counter() as isize - self.core.waiting.load(Ordering::Acquire) as isize
            }
        }

        impl Clone for $name {
            /// Another handle to the same semaphore.
            fn clone(&self) -> Self {
                $name {
                    core: self.core.clone(),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("counter", &self.counter())
                    .field("balance", &self.balance())
                    .finish()
            }
        }
    };
}

/// eventlet's `Semaphore(value=1)`. `release()` may raise the count above `value`, as in
/// eventlet; [`BoundedSemaphore`] refuses.
pub struct Semaphore {
    core: Arc<Core>,
}
semaphore_api!(Semaphore, false);

impl Semaphore {
    /// eventlet's `release()`: one more free permit, waking a waiter.
    pub fn release(&self) {
        let _ = self.core.release();
    }
}

/// eventlet's `BoundedSemaphore(value=1)`: a [`Semaphore`] whose count never goes above
/// `value`.
pub struct BoundedSemaphore {
    core: Arc<Core>,
}
semaphore_api!(BoundedSemaphore, true);

impl BoundedSemaphore {
    /// eventlet's `release()`: [`ValueError`] if no permit is taken (the count would go
    /// above its original value), as eventlet raises one.
    pub fn release(&self) -> Result<(), ValueError> {
        self.core.release()
    }

    /// The value given to `new`, which the count never exceeds.
    pub fn original(&self) -> usize {
        self.core.original
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::{sleep, spawn, Event};
    use std::time::Instant;

    const NEVER: Duration = Duration::from_secs(60);

    #[test]
    fn bound_holds_among_many_green_threads() {
        let sem = Semaphore::new(2);
        let now = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (sem, now, peak) = (sem.clone(), now.clone(), peak.clone());
                spawn(move || {
                    let _permit = sem.acquire();
                    let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(n, Ordering::SeqCst);
                    sleep(Duration::from_millis(2));
                    now.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.wait());
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert!(peak.load(Ordering::SeqCst) >= 1);
        assert_eq!(sem.counter(), 2);
    }

    #[test]
    fn acquire_timeout_fires_and_does_not_fire() {
        let sem = Semaphore::new(1);
        let held = sem.acquire();
        assert!(sem.locked());
        assert!(sem.acquire_timeout(Duration::from_millis(20)).is_none());
        assert!(sem.try_acquire().is_none());
        let s2 = sem.clone();
        let waiter = spawn(move || s2.acquire_timeout(NEVER).map(|_permit| "got it"));
        let deadline = Instant::now() + NEVER;
        while sem.balance() != -1 {
            assert!(Instant::now() < deadline, "the waiter never waited");
            sleep(Duration::from_millis(1));
        }
        drop(held);
        assert_eq!(waiter.wait(), Some("got it"));
        assert_eq!(sem.balance(), 1);
    }

    #[test]
    fn guard_release_and_manual_release() {
        let sem = Semaphore::new(1);
        {
            let _permit = sem.acquire();
            assert_eq!(sem.counter(), 0);
        }
        assert_eq!(sem.counter(), 1);
        // Python's bare acquire()/release().
        sem.acquire().forget();
        assert!(sem.locked());
        sem.release();
        assert!(!sem.locked());
        // An unbounded semaphore may go above its value.
        sem.release();
        assert_eq!(sem.counter(), 2);
    }

    #[test]
    fn bounded_semaphore_refuses_to_release_above_its_value() {
        let sem = BoundedSemaphore::new(1);
        assert_eq!(sem.release(), Err(ValueError("Semaphore released too many times")));
        assert_eq!(sem.counter(), 1);
        sem.acquire().forget();
        assert_eq!(sem.release(), Ok(()));
        assert!(sem.release().is_err());
        {
            let _permit = sem.acquire();
        }
        assert_eq!(sem.counter(), sem.original());
    }

    #[test]
    fn a_waiter_in_another_thread_gets_a_released_permit() {
        let sem = BoundedSemaphore::new(1);
        let permit = sem.acquire();
        let started = Event::new();
        let (s2, st) = (sem.clone(), started.clone());
        // A plain OS thread waits on the same semaphore.
        let thread = std::thread::spawn(move || {
            st.send(()).unwrap();
            let _permit = s2.acquire();
            "acquired"
        });
        started.wait();
        drop(permit);
        assert_eq!(thread.join().unwrap(), "acquired");
        assert_eq!(sem.counter(), 1);
    }
}
