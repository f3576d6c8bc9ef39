//! eventlet.event: [`Event`], a value sent once and received by every green thread (or OS
//! thread) that waits for it. The usual way to hand a result, or a "done" signal, to many.
//!
//! Python's `Event()` with `send()` and no value is `Event<()>` with `send(())`;
//! `send_exception(e)` is an `Event<Result<T, E>>` sent `Err(e)`. Sending twice is an
//! error in eventlet (an `AssertionError`); here it is [`AlreadySent`], with the value
//! back, so "the first to answer wins" needs no lock of its own. Every handle is a
//! `Clone` of one shared event.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::sync::{Condvar, Mutex};

use super::{lock, park_time};

/// [`Event::send`] on an event already sent (and not reset): the value comes back.
pub struct AlreadySent<T>(pub T);

impl<T> fmt::Debug for AlreadySent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AlreadySent(..)")
    }
}

impl<T> fmt::Display for AlreadySent<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Trying to re-send() an already-triggered event.")
    }
}

impl<T> std::error::Error for AlreadySent<T> {}

struct State<T> {
    /// Sent and not reset since.
    ready: bool,
    /// The last value sent. Kept through a `reset` while someone waits, since eventlet
    /// delivers a send to every green thread waiting at that moment, reset or not.
    value: Option<T>,
    /// How many sends so far: a waiter wakes when it changes.
    sends: u64,
}

struct Inner<T> {
    state: Mutex<State<T>>,
    sent: Condvar,
    /// Green threads in `wait`. Atomic so that a killed waiter, unwinding without the
    /// lock, can leave without parking.
    waiting: AtomicUsize,
}

/// eventlet's `Event`: `send(value)` once, `wait()` anywhere for it.
pub struct Event<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Event<T> {
    /// Another handle to the same event.
    fn clone(&self) -> Self {
        Event {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Event<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts a waiter while it waits (see [`Inner::waiting`]).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl<T> Event<T> {
    /// A fresh event, not sent.
    pub fn new() -> Self {
        Event {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    ready: false,
                    value: None,
                    sends: 0,
                }),
                sent: Condvar::new(),
                waiting: AtomicUsize::new(0),
            }),
        }
    }

    /// eventlet's `send(value)`: wakes every waiter with `value`; later waits return it
    /// at once. [`AlreadySent`] (with `value` back) if the event was sent and not reset.
    pub fn send(&self, value: T) -> Result<(), AlreadySent<T>> {
        let mut state = lock(&self.inner.state);
        if state.ready {
            return Err(AlreadySent(value));
        }
        state.ready = true;
        state.value = Some(value);
        state.sends += 1;
        drop(state);
        self.inner.sent.notify_all();
        Ok(())
    }

    /// eventlet's `ready()`: true once sent (until a reset).
    pub fn ready(&self) -> bool {
        lock(&self.inner.state).ready
    }

    /// eventlet's `reset()`: makes the event fresh again, to be sent anew. Green threads
    /// waiting when it was sent still get that value. (eventlet refuses to reset a fresh
    /// event; here that does nothing.)
    pub fn reset(&self) {
        let mut state = lock(&self.inner.state);
        state.ready = false;
        if self.inner.waiting.load(Ordering::Acquire) == 0 {
            state.value = None;
        }
    }

    /// Waits until a send newer than `seen` (or the current value, if `ready`), up to
    /// `deadline`; then hands the value to `take`.
    fn wait_until<R>(&self, deadline: Option<Instant>, take: impl Fn(&T) -> R) -> Option<R> {
        let mut state = lock(&self.inner.state);
        if !state.ready {
            let seen = state.sends;
            self.inner.waiting.fetch_add(1, Ordering::AcqRel);
            let _waiting = Waiting(&self.inner.waiting);
            while state.sends == seen {
                state = match deadline {
                    None => self.inner.sent.wait(state).unwrap_or_else(|e| e.into_inner()),
                    Some(deadline) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return None;
                        }
                        match self.inner.sent.wait_timeout(state, park_time(left)) {
                            Ok((state, _)) => state,
                            Err(e) => e.into_inner().0,
                        }
                    }
                };
            }
        }
        state.value.as_ref().map(take)
    }
}

impl<T: Clone> Event<T> {
    /// eventlet's `wait()`: the value sent, waiting for the send if need be.
    pub fn wait(&self) -> T {
        self.wait_until(None, T::clone).expect("a send leaves its value")
    }

    /// eventlet's `wait(timeout)`: the value, or `None` if it was not sent within
    /// `timeout` (eventlet returns None too).
    pub fn wait_timeout(&self, timeout: Duration) -> Option<T> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_until(Some(deadline), T::clone),
            None => Some(self.wait()),
        }
    }

    /// eventlet's `poll()`: the value if the event is ready, without waiting.
    pub fn poll(&self) -> Option<T> {
        let state = lock(&self.inner.state);
        if state.ready {
            state.value.clone()
        } else {
            None
        }
    }
}

impl<T> fmt::Debug for Event<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("ready", &self.ready())
            .field("waiting", &self.inner.waiting.load(Ordering::Acquire))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::{sleep, spawn};

    const NEVER: Duration = Duration::from_secs(60);

    fn until_waiting<T>(event: &Event<T>, n: usize) {
        let deadline = Instant::now() + NEVER;
        while event.inner.waiting.load(Ordering::Acquire) < n {
            assert!(Instant::now() < deadline, "waited a minute: a bug");
            sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn wait_from_several_coroutines() {
        let event = Event::new();
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let event = event.clone();
                spawn(move || event.wait() + i)
            })
            .collect();
        until_waiting(&event, 5);
        assert!(!event.ready());
        event.send(40).unwrap();
        let got: Vec<_> = waiters.into_iter().map(|w| w.wait()).collect();
        assert_eq!(got, [40, 41, 42, 43, 44]);
        // Later waits return at once, from a plain thread too.
        assert_eq!(event.wait(), 40);
        assert!(event.ready());
    }

    #[test]
    fn wait_timeout_fires_and_does_not_fire() {
        let event: Event<&str> = Event::new();
        assert_eq!(event.wait_timeout(Duration::from_millis(20)), None);
        let e2 = event.clone();
        let waiter = spawn(move || e2.wait_timeout(NEVER));
        until_waiting(&event, 1);
        event.send("sent").unwrap();
        assert_eq!(waiter.wait(), Some("sent"));
        assert_eq!(event.wait_timeout(Duration::ZERO), Some("sent"));
    }

    #[test]
    fn send_twice_is_an_error_and_reset_allows_another() {
        let event = Event::new();
        assert_eq!(event.poll(), None);
        event.send(1).unwrap();
        match event.send(2) {
            Err(AlreadySent(value)) => assert_eq!(value, 2),
            Ok(()) => panic!("sent twice"),
        }
        assert_eq!(event.poll(), Some(1));
        event.reset();
        assert!(!event.ready());
        assert_eq!(event.poll(), None);
        event.send(3).unwrap();
        assert_eq!(event.wait(), 3);
    }

    #[test]
    fn a_waiter_gets_the_value_even_if_reset_follows_the_send() {
        let event = Event::new();
        let e2 = event.clone();
        let waiter = spawn(move || e2.wait());
        until_waiting(&event, 1);
        event.send("kept").unwrap();
        event.reset();
        assert_eq!(waiter.wait(), "kept");
    }

    #[test]
    fn a_killed_waiter_leaves_the_count() {
        let event: Event<()> = Event::new();
        let e2 = event.clone();
        let waiter = spawn(move || e2.wait());
        until_waiting(&event, 1);
        waiter.kill();
        assert_eq!(event.inner.waiting.load(Ordering::Acquire), 0);
        event.send(()).unwrap();
    }
}
