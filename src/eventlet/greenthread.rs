//! eventlet.greenthread: `sleep`, `spawn`, `spawn_n`, `spawn_after`, `kill`, and the
//! [`GreenThread`] handle they give back, whose `wait()` returns the function's value.
//!
//! A green thread is a may coroutine. This file owns the one way the kit starts one
//! (`launch`), which [`GreenPool`](super::GreenPool) (a place in the pool travels with the
//! coroutine) and [`Timeout`](super::Timeout) (it waits on the thread's end with a deadline,
//! then kills it) build on.
//!
//! `kill()` is may's coroutine cancel, which is what eventlet's kill is: an exception
//! (`GreenletExit`) thrown into the green thread at the point where it waits. may unwinds
//! the coroutine from its current or next blocking call (a sleep, a wait on a queue, event,
//! semaphore, lock or channel, socket I/O, a yield), running every destructor on the way, so
//! guards release and sockets close. Code that computes without blocking cannot be
//! interrupted, in eventlet or here: the kill lands when it next blocks, or never if it
//! returns first (then `wait()` gives its value, as eventlet's does for a thread that had
//! finished). What `wait()` reports after a kill is [`GreenletExit`].

use std::fmt;
use std::panic;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use may::coroutine::JoinHandle;
use may::sync::SyncFlag;

/// eventlet's `sleep(seconds)`: parks the current green thread for `seconds` while the
/// others run. `sleep(Duration::ZERO)` is `eventlet.sleep(0)`: a yield that lets the
/// other runnable green threads go first. Python's float seconds are
/// `Duration::from_secs_f64(seconds)`. From a plain OS thread it sleeps that thread.
pub fn sleep(seconds: Duration) {
    if seconds.is_zero() {
        may::coroutine::yield_now();
    } else {
        may::coroutine::sleep(seconds);
    }
}

/// eventlet's `spawn(func, *args)`: runs `f` in a new green thread and hands back its
/// [`GreenThread`]. Unbounded, as eventlet's module-level spawn is; bound with a
/// [`GreenPool`](super::GreenPool). Python's arguments are captured by the closure.
pub fn spawn<F, T>(f: F) -> GreenThread<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    launch(None, (), f)
}

/// eventlet's `spawn_n(func, *args)`: [`spawn`] without a handle (the thread runs on; a
/// panic in it is reported on stderr, not raised anywhere).
pub fn spawn_n<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    drop(spawn(f));
}

/// eventlet's `spawn_after(seconds, func, *args)`: runs `f` in a new green thread once
/// `seconds` have passed. [`GreenThread::cancel`] or [`GreenThread::kill`] before then and
/// `f` never runs.
pub fn spawn_after<F, T>(seconds: Duration, f: F) -> GreenThread<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    launch(Some(seconds), (), f)
}

/// eventlet's `kill(gt)`: [`GreenThread::kill`].
pub fn kill<T>(green_thread: &GreenThread<T>) {
    green_thread.kill();
}

/// What [`GreenThread::wait`] raises for a killed green thread, and
/// [`GreenThread::wait_result`] returns: eventlet's `greenlet.GreenletExit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GreenletExit;

impl fmt::Display for GreenletExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the green thread was killed (GreenletExit)")
    }
}

impl std::error::Error for GreenletExit {}

/// The function has not started (a `spawn_after` still waiting, or not yet scheduled).
const PENDING: u8 = 0;
/// The function runs (or ran).
const RUNNING: u8 = 1;
/// `kill` or `cancel` was called before the thread had finished.
const KILLED: u8 = 2;

/// What a green thread shares with its handle.
struct Life {
    state: AtomicU8,
    /// Fired as the coroutine leaves, however it leaves; `Timeout` waits on it with a
    /// deadline (may's `JoinHandle` can only wait without one).
    ended: SyncFlag,
}

/// Fires [`Life::ended`] when dropped: last thing in the coroutine, on return or unwind.
/// Firing is lock-free, so it is safe while a killed thread unwinds.
struct FireOnDrop(Arc<Life>);

impl Drop for FireOnDrop {
    fn drop(&mut self) {
        self.0.ended.fire();
    }
}

/// eventlet's `GreenThread`: the handle of a green thread from [`spawn`],
/// [`spawn_after`] or [`GreenPool::spawn`](super::GreenPool::spawn). Dropping it leaves the
/// thread running (detached); only [`kill`](GreenThread::kill) stops one.
pub struct GreenThread<T> {
    handle: JoinHandle<T>,
    life: Arc<Life>,
}

/// Starts `f` in a new coroutine after `delay`, holding `keep` (a pool's place) until it
/// ends. The one spawn of the kit.
pub(crate) fn launch<F, T, K>(delay: Option<Duration>, keep: K, f: F) -> GreenThread<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
    K: Send + 'static,
{
    let life = Arc::new(Life {
        state: AtomicU8::new(PENDING),
        ended: SyncFlag::new(),
    });
    let theirs = life.clone();
    // Safety (may's rule for spawn): the closure owns everything it uses and keeps no
    // reference to thread-local storage across a yield; the function it runs is the
    // porter's, under the same rule (docs/porting.md).
    let handle = unsafe {
        may::coroutine::spawn(move || {
            // Declared first, dropped last: `ended` fires after the pool's place is free.
            let _ended = FireOnDrop(theirs.clone());
            let _keep = keep;
            if let Some(delay) = delay {
                sleep(delay); // a kill here unwinds the sleep: `f` never runs
            }
            if theirs
                .state
                .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                // Killed before it started: eventlet never runs it. may's own cancel
                // panic ends the coroutine quietly (its panic hook skips it).
                may::coroutine::trigger_cancel_panic();
            }
            f()
        })
    };
    GreenThread { handle, life }
}

impl<T> GreenThread<T> {
    /// eventlet's `wait()`: waits for the function to return and gives its value. A
    /// panic in the green thread is raised again here, as eventlet re-raises the
    /// exception; a killed thread raises [`GreenletExit`] (as a panic whose payload is
    /// `GreenletExit`, found with `downcast_ref`). [`wait_result`](Self::wait_result)
    /// returns the kill instead.
    pub fn wait(self) -> T {
        match self.wait_result() {
            Ok(value) => value,
            Err(exit) => panic::resume_unwind(Box::new(exit)),
        }
    }

    /// Like [`wait`](Self::wait), with a kill as `Err(GreenletExit)`: Python's
    /// `try: gt.wait() except GreenletExit: ...`. A panic is still raised again.
    pub fn wait_result(self) -> Result<T, GreenletExit> {
        match self.handle.join() {
            Ok(value) => Ok(value),
            // The unwinding of a kill. (A thread that panicked on its own in the instant
            // it was killed is reported as killed too: its panic and the kill raced.)
            Err(_) if self.life.state.load(Ordering::Acquire) == KILLED => Err(GreenletExit),
            Err(panic) => panic::resume_unwind(panic),
        }
    }

    /// eventlet's `kill()`: stops the green thread and returns once it has ended, its
    /// destructors run. One that has not started never runs; one that waits is unwound
    /// from that wait at once; one that computes is unwound when it next blocks (until
    /// then `kill` waits). A finished thread is left alone and keeps its value. Called by
    /// the green thread on itself, it unwinds the caller there and then.
    ///
    /// While a killed thread unwinds, its destructors must not wait for anything: a
    /// sleep returns at once, and a wait that must block (a contended `may::sync::Mutex`,
    /// a `Condvar`, a channel `recv`, a `get` on an empty queue) aborts the process, as may
    /// raises its cancel again inside the unwinding. What does not wait is fine: guards
    /// dropped, an `Event` sent, a `put` into a queue with room, a channel `send` (the
    /// kit's own locks never park during an unwinding).
    pub fn kill(&self) {
        if self.handle.is_done() {
            return;
        }
        self.request_kill();
        // Parks this coroutine (or blocks this OS thread) until the unwinding is over.
        self.handle.wait();
    }

    /// eventlet's `cancel()`: kills the green thread only if its function has not started
    /// (a [`spawn_after`] still waiting); true if it was cancelled, false if it had started
    /// and was left running.
    pub fn cancel(&self) -> bool {
        let cancelled = self
            .life
            .state
            .compare_exchange(PENDING, KILLED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok();
        if cancelled {
            // Safety: as in `request_kill`.
            unsafe { self.handle.coroutine().cancel() };
            self.handle.wait();
        }
        cancelled
    }

    /// True once the green thread has ended (returned, panicked or been killed).
    pub fn is_done(&self) -> bool {
        self.handle.is_done()
    }

    /// Marks the thread killed and has may cancel it, without waiting for the unwinding:
    /// safe inside a destructor.
    pub(crate) fn request_kill(&self) {
        self.life.state.store(KILLED, Ordering::Release);
        // Safety: may marks cancel unsafe because it unwinds the coroutine from its next
        // blocking point, dropping what it holds, which may surprise code not written for
        // it. That unwinding is exactly what kill promises (documented above); it runs
        // only destructors, and may's blocking calls are written to be cancelled there.
        unsafe { self.handle.coroutine().cancel() };
    }

    /// Waits up to `timeout` for the thread to end; true if it did.
    pub(crate) fn ended_within(&self, timeout: Duration) -> bool {
        if timeout.is_zero() {
            return self.life.ended.is_fired();
        }
        self.life.ended.wait_timeout(super::park_time(timeout))
    }
}

impl<T> fmt::Debug for GreenThread<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.life.state.load(Ordering::Acquire) {
            PENDING => "pending",
            RUNNING => "running",
            _ => "killed",
        };
        f.debug_struct("GreenThread")
            .field("state", &state)
            .field("done", &self.is_done())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::{Event, LightQueue, Semaphore};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::AtomicBool;

    /// Far longer than any test should wait: only a bug reaches it.
    const NEVER: Duration = Duration::from_secs(60);

    #[test]
    fn spawn_returns_the_value() {
        assert_eq!(spawn(|| 6 * 7).wait(), 42);
        let gt = spawn(|| "done");
        assert_eq!(gt.wait_result(), Ok("done"));
    }

    #[test]
    fn wait_reraises_a_panic() {
        let gt = spawn(|| -> u32 { panic!("boom in a green thread") });
        let caught = catch_unwind(AssertUnwindSafe(|| gt.wait())).unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"boom in a green thread"));
        // wait_result raises it too: a panic is not a kill.
        let gt = spawn(|| -> u32 { panic!("again") });
        assert!(catch_unwind(AssertUnwindSafe(|| gt.wait_result())).is_err());
    }

    #[test]
    fn kill_of_a_sleeping_green_thread() {
        let started = Event::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let (s, d) = (started.clone(), dropped.clone());
        let gt = spawn(move || {
            struct Flag(Arc<AtomicBool>);
            impl Drop for Flag {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _flag = Flag(d);
            s.send(()).unwrap();
            sleep(NEVER);
            "woke"
        });
        started.wait();
        assert!(!gt.is_done());
        gt.kill();
        // kill returns once the thread has unwound: its destructors ran.
        assert!(gt.is_done());
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(gt.wait_result(), Err(GreenletExit));
    }

    #[test]
    fn a_killed_thread_raises_greenlet_exit_from_wait() {
        let gt = spawn(|| sleep(NEVER));
        sleep(Duration::from_millis(1));
        kill(&gt);
        let caught = catch_unwind(AssertUnwindSafe(|| gt.wait())).unwrap_err();
        assert_eq!(caught.downcast_ref::<GreenletExit>(), Some(&GreenletExit));
    }

    #[test]
    fn kill_releases_what_the_thread_held_and_works_from_a_coroutine() {
        let sem = Semaphore::new(1);
        let holding = Event::new();
        let (s, h) = (sem.clone(), holding.clone());
        let holder = spawn(move || {
            let _permit = s.acquire();
            h.send(()).unwrap();
            sleep(NEVER);
        });
        holding.wait();
        assert!(sem.locked());
        // Killed from another green thread, not from this OS thread.
        let killer = spawn(move || {
            holder.kill();
            holder.wait_result()
        });
        assert_eq!(killer.wait(), Err(GreenletExit));
        assert!(!sem.locked());
    }

    #[test]
    fn kill_of_a_thread_blocked_on_a_queue() {
        let q: LightQueue<u32> = LightQueue::new(None);
        let q2 = q.clone();
        let gt = spawn(move || q2.get());
        while q.getting() == 0 {
            sleep(Duration::from_millis(1));
        }
        gt.kill();
        assert_eq!(gt.wait_result(), Err(GreenletExit));
        assert_eq!(q.getting(), 0);
        // The queue still works for the living.
        q.put(7);
        assert_eq!(q.get(), 7);
    }

    #[test]
    fn kill_of_a_finished_thread_keeps_its_value() {
        let gt = spawn(|| 5);
        while !gt.is_done() {
            sleep(Duration::from_millis(1));
        }
        gt.kill();
        assert_eq!(gt.wait_result(), Ok(5));
    }

    #[test]
    fn a_green_thread_can_kill_itself() {
        let me: Arc<std::sync::OnceLock<GreenThread<()>>> = Arc::default();
        let go = Event::new();
        let after = Arc::new(AtomicBool::new(false));
        let (me2, go2, after2) = (me.clone(), go.clone(), after.clone());
        let gt = spawn(move || {
            go2.wait();
            me2.get().unwrap().kill();
            after2.store(true, Ordering::SeqCst);
        });
        assert!(me.set(gt).is_ok());
        go.send(()).unwrap();
        let gt = loop {
            if me.get().unwrap().is_done() {
                break Arc::try_unwrap(me).ok().unwrap().into_inner().unwrap();
            }
            sleep(Duration::from_millis(1));
        };
        assert!(!after.load(Ordering::SeqCst), "kill returned in the killed thread");
        assert_eq!(gt.wait_result(), Err(GreenletExit));
    }

    #[test]
    fn spawn_after_runs_in_deadline_order() {
        let order = LightQueue::new(None);
        // Spawned in the wrong order, 100 ms apart: they run in the order of their delays.
        let threads: Vec<_> = [(200, 'c'), (0, 'a'), (100, 'b')]
            .into_iter()
            .map(|(ms, name)| {
                let order = order.clone();
                spawn_after(Duration::from_millis(ms), move || order.put(name))
            })
            .collect();
        for gt in threads {
            gt.wait();
        }
        let got: Vec<char> = (0..3).map(|_| order.get_nowait().unwrap()).collect();
        assert_eq!(got, ['a', 'b', 'c']);
    }

    #[test]
    fn spawn_after_cancelled_or_killed_never_runs() {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let gt = spawn_after(NEVER, move || r.store(true, Ordering::SeqCst));
        assert!(gt.cancel());
        assert!(gt.is_done());
        assert_eq!(gt.wait_result(), Err(GreenletExit));

        let r = ran.clone();
        let gt = spawn_after(NEVER, move || r.store(true, Ordering::SeqCst));
        gt.kill();
        assert_eq!(gt.wait_result(), Err(GreenletExit));
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[test]
    fn cancel_leaves_a_started_thread_alone() {
        let (started, release) = (Event::new(), Event::new());
        let (s, r) = (started.clone(), release.clone());
        let gt = spawn(move || {
            s.send(()).unwrap();
            r.wait();
            9
        });
        started.wait();
        assert!(!gt.cancel());
        release.send(()).unwrap();
        assert_eq!(gt.wait(), 9);
    }

    #[test]
    fn sleep_zero_yields_and_sleep_works_on_a_plain_thread() {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        spawn(move || {
            let other = spawn(move || f.store(true, Ordering::SeqCst));
            while !other.is_done() {
                sleep(Duration::ZERO); // lets `other` run even on one scheduler thread
            }
        })
        .wait();
        assert!(flag.load(Ordering::SeqCst));
        // On this test's own OS thread.
        sleep(Duration::from_millis(1));
        sleep(Duration::ZERO);
    }

    #[test]
    fn spawn_n_runs_detached() {
        let done = Event::new();
        let d = done.clone();
        spawn_n(move || d.send("ran").unwrap());
        assert_eq!(done.wait_timeout(NEVER), Some("ran"));
    }
}
