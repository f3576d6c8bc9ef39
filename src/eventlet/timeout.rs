//! eventlet.timeout: [`Timeout`] and [`with_timeout`], a deadline on a piece of work.
//!
//! Python's
//!
//! ```python
//! with eventlet.Timeout(5):
//!     work()
//! ```
//!
//! is `Timeout::new(Duration::from_secs(5)).run(work)`, or `with_timeout(five, work)`,
//! giving `Ok(value)` or `Err(Timeout)`; `except eventlet.Timeout:` is the `Err` arm.
//! `Timeout(5, MyError())` is `.map_err(|_| MyError)`, and `Timeout(5, False)` (leave the
//! block quietly) is `.ok()`.
//!
//! The work runs in a green thread of its own: eventlet raises its Timeout inside the
//! current green thread, but may can only unwind a coroutine by cancelling it, and a
//! cancelled coroutine stays cancelled; so the work gets a coroutine that can be thrown
//! away, and the caller's goes on. Hence `F: Send + 'static` (move clones of `Arc`s, queues,
//! events into it) and hence the value comes back through the green thread's `wait`.
//!
//! When the deadline passes, the work is killed ([`GreenThread::kill`](super::GreenThread::kill)):
//! at its current or next blocking call (a sleep, a queue, event, semaphore, lock or
//! channel wait, socket I/O) it is unwound, every destructor on its stack runs (guards
//! release, sockets close, a transaction object rolls back), and only then does `run`
//! return `Err(Timeout)`, so nothing of the work goes on behind the caller's back. Work that
//! computes without blocking cannot be interrupted, in eventlet or here: `run` waits for it
//! to block (then it is unwound) or to finish (then its value is returned, as eventlet's
//! timer, which fires only when the green thread yields, would not have fired either).
//! If the work had not even started by the deadline, it never runs. If the caller is
//! itself killed while it waits, the work is killed with it. A panic in the work is raised
//! again in the caller.

use std::fmt;
use std::time::Duration;

use super::greenthread::{spawn, GreenThread, GreenletExit};

/// eventlet's `Timeout(seconds)`: a deadline for [`Timeout::run`], and the error it
/// returns when the deadline passed, as in Python the Timeout is its own exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    seconds: Duration,
}

impl Timeout {
    /// A deadline `seconds` from when [`run`](Timeout::run) starts (Python's float
    /// seconds: `Duration::from_secs_f64`).
    pub fn new(seconds: Duration) -> Timeout {
        Timeout { seconds }
    }

    /// The time the work is given (eventlet's `seconds`).
    pub fn seconds(&self) -> Duration {
        self.seconds
    }

    /// `with Timeout(seconds): return work()`: the work's value, or `Err(self)` if the
    /// deadline passed and the work was killed (see the module documentation for what
    /// happens to it).
    pub fn run<T, F>(self, work: F) -> Result<T, Timeout>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let work = spawn(work);
        let mut watch = KillOnUnwind(Some(&work));
        if !work.ended_within(self.seconds) {
            work.kill();
        }
        watch.0 = None; // ended or killed: nothing left to kill
        drop(watch);
        work.wait_result().map_err(|GreenletExit| self)
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timed out after {:?}", self.seconds)
    }
}

impl std::error::Error for Timeout {}

/// eventlet's `with_timeout(seconds, function)`: [`Timeout::run`]. Its `timeout_value=v`
/// keyword is `.unwrap_or(v)`.
pub fn with_timeout<T, F>(seconds: Duration, work: F) -> Result<T, Timeout>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Timeout::new(seconds).run(work)
}

/// Kills the work if `run` is left by unwinding (its caller killed while it waits). It
/// only asks: waiting for the work's end inside an unwinding green thread would abort.
struct KillOnUnwind<'a, T>(Option<&'a GreenThread<T>>);

impl<T> Drop for KillOnUnwind<'_, T> {
    fn drop(&mut self) {
        if let Some(work) = self.0 {
            work.request_kill();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::{sleep, spawn, Event, Semaphore};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    const NEVER: Duration = Duration::from_secs(60);
    const SHORT: Duration = Duration::from_millis(30);

    /// Sets its flag when dropped: shows the work's stack was unwound.
    struct Flag(Arc<AtomicBool>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn fires_and_the_work_is_unwound_before_run_returns() {
        let unwound = Arc::new(AtomicBool::new(false));
        let u = unwound.clone();
        let result = with_timeout(SHORT, move || {
            let _flag = Flag(u);
            sleep(NEVER);
            "finished"
        });
        assert_eq!(result, Err(Timeout::new(SHORT)));
        assert!(unwound.load(Ordering::SeqCst));
        assert_eq!(result.unwrap_err().seconds(), SHORT);
    }

    #[test]
    fn does_not_fire_when_the_work_is_quick() {
        assert_eq!(with_timeout(NEVER, || 6 * 7), Ok(42));
        let event = Event::new();
        let e2 = event.clone();
        spawn(move || {
            sleep(Duration::from_millis(1));
            e2.send("arrived").unwrap();
        });
        assert_eq!(Timeout::new(NEVER).run(move || event.wait()), Ok("arrived"));
    }

    #[test]
    fn a_timeout_releases_what_the_work_held() {
        let sem = Semaphore::new(1);
        let s2 = sem.clone();
        let result = with_timeout(SHORT, move || {
            let _permit = s2.acquire();
            sleep(NEVER);
        });
        assert!(result.is_err());
        assert!(!sem.locked());
    }

    #[test]
    fn work_that_never_blocks_finishes_with_its_value() {
        // It computes past its deadline without a blocking call: nothing can interrupt
        // it, and its value is returned, as eventlet's timer would not have fired. (The
        // deadline leaves it time to start: work not started by then never runs.)
        let result = with_timeout(Duration::from_millis(100), || {
            let start = Instant::now();
            let mut spins = 0u64;
            while start.elapsed() < Duration::from_millis(250) {
                spins += 1;
            }
            spins > 0
        });
        assert_eq!(result, Ok(true));
    }

    #[test]
    fn a_panic_in_the_work_is_raised_in_the_caller() {
        let caught = catch_unwind(AssertUnwindSafe(|| with_timeout(NEVER, || -> u8 { panic!("late") })));
        assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"late"));
    }

    #[test]
    fn from_a_green_thread_and_nested() {
        let outer = spawn(|| {
            let inner = with_timeout(SHORT, || sleep(NEVER));
            (inner.is_err(), with_timeout(NEVER, || "inner ok"))
        });
        assert_eq!(outer.wait(), (true, Ok("inner ok")));
    }

    #[test]
    fn killing_the_caller_kills_the_work() {
        let unwound = Arc::new(AtomicBool::new(false));
        let waiting = Event::new();
        let (u, w) = (unwound.clone(), waiting.clone());
        let caller = spawn(move || {
            with_timeout(NEVER, move || {
                let _flag = Flag(u);
                w.send(()).unwrap();
                sleep(NEVER);
            })
        });
        waiting.wait();
        caller.kill();
        let deadline = Instant::now() + NEVER;
        while !unwound.load(Ordering::SeqCst) {
            assert!(Instant::now() < deadline, "the work outlived its caller");
            sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_python_forms() {
        #[derive(Debug, PartialEq)]
        struct MyError;
        // Timeout(0.03, MyError())
        assert_eq!(with_timeout(SHORT, || sleep(NEVER)).map_err(|_| MyError), Err(MyError));
        // Timeout(0.03, False)
        assert_eq!(with_timeout(SHORT, || sleep(NEVER)).ok(), None);
        // with_timeout(0.03, f, timeout_value="late")
        assert_eq!(
            with_timeout(SHORT, || {
                sleep(NEVER);
                "on time"
            })
            .unwrap_or("late"),
            "late"
        );
        assert_eq!(Timeout::new(SHORT).to_string(), "timed out after 30ms");
    }
}
