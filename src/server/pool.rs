//! The request pool: how many requests one process handles at once, the workers
//! (coroutines or threads, see `executor`) that handle them, and the queue of complete
//! request heads waiting for a place.
//!
//! eventlet's server spawns a green thread per connection from a `GreenPool(1000)`
//! (Glance's `threads=1000`), so 1,000 idle keep-alive clients fill it and the next client
//! waits. Here the pool bounds *requests being handled*, not sockets: the waiting room
//! holds idle and slow connections without a place, and offers a connection to the pool
//! only once its request head is complete. When every place is taken the head queues, in
//! arrival order, and the coroutine that finishes next takes it.
//!
//! A coroutine that finishes with nothing queued does not end at once: it parks as an
//! *idle worker* (up to [`KEEP_IDLE`] of them) and the next head is handed to it. Handing
//! work to a parked coroutine puts it on the current scheduler thread's own queue, while
//! spawning a new one goes through may's global queue and wakes a thread with a system
//! call: on a keep-alive hot path, where every request passes through here, that
//! difference is most of the cost. A request *thread* parks the same way (with
//! `std::thread::park`); with 32 threads and 64 kept, the thread class's pool is a fixed set
//! of threads once warm, like gunicorn gthread's `ThreadPoolExecutor`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::executor::{self, Sleeper};

/// Most workers kept parked for the next request; more would pin stacks for nothing.
pub(crate) const KEEP_IDLE: usize = 64;

/// A parked worker's mailbox: the work handed to it, and the worker (coroutine or
/// thread) to wake.
pub(crate) struct Mailbox<T> {
    work: Mutex<Option<T>>,
    worker: Sleeper,
}

impl<T> Mailbox<T> {
    /// The calling worker's mailbox.
    pub fn current() -> Arc<Mailbox<T>> {
        Arc::new(Mailbox {
            work: Mutex::new(None),
            worker: Sleeper::current(),
        })
    }

    fn put(&self, work: Option<T>) {
        *self.work.lock().unwrap_or_else(|e| e.into_inner()) = work;
        self.worker.wake();
    }

    fn take(&self) -> Option<T> {
        self.work.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// What [`Pool::dispatch`] did with the work.
pub(crate) enum Dispatch<T> {
    /// A parked worker has it.
    Handed,
    /// A place is free but no worker is parked: spawn a worker for the work.
    Spawn(T),
    /// Every place is taken: it waits in the queue.
    Queued,
}

/// A bounded set of places, the workers parked between requests, and a first-in,
/// first-out queue of work waiting for a place.
pub(crate) struct Pool<T> {
    size: usize,
    state: Mutex<State<T>>,
    /// Places taken, readable without the lock (for `ServerHandle` and tests).
    running: AtomicUsize,
    /// Work waiting in the queue, readable without the lock (a worker about to stay with an
    /// idle connection gives way when work waits).
    queued: AtomicUsize,
    idle_signal: may::sync::Condvar,
    idle_lock: may::sync::Mutex<()>,
}

struct State<T> {
    running: usize,
    queue: VecDeque<T>,
    parked: Vec<Arc<Mailbox<T>>>,
    /// Mailboxes of workers that ended. may must not drop a coroutine's last handle
    /// while that coroutine is finishing inside a wake-up from `park` (its `Park` waits
    /// for the wake-up to end, on the same thread: a hang), so the last handle is dropped
    /// here, later, by whoever dispatches next.
    retired: Vec<Arc<Mailbox<T>>>,
    closed: bool,
}

impl<T> Pool<T> {
    pub fn new(size: usize) -> Pool<T> {
        Pool {
            size: size.max(1),
            state: Mutex::new(State {
                running: 0,
                queue: VecDeque::new(),
                parked: Vec::new(),
                retired: Vec::new(),
                closed: false,
            }),
            running: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            idle_signal: may::sync::Condvar::new(),
            idle_lock: may::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The lock is held only for a push or a pop: a panic cannot leave it half-done.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_running(&self, state: &mut State<T>, running: usize) {
        state.running = running;
        self.running.store(running, Ordering::Release);
    }

    /// Offers work to the pool: a parked worker gets it, or a free place, or the queue.
    pub fn dispatch(&self, work: T) -> Dispatch<T> {
        let mut state = self.lock();
        let retired = if state.retired.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut state.retired)
        };
        let outcome = if state.running >= self.size {
            state.queue.push_back(work);
            self.queued.store(state.queue.len(), Ordering::SeqCst);
            Dispatch::Queued
        } else {
            let running = state.running + 1;
            self.set_running(&mut state, running);
            match state.parked.pop() {
                Some(mailbox) => {
                    drop(state);
                    mailbox.put(Some(work));
                    drop(retired);
                    return Dispatch::Handed;
                }
                None => Dispatch::Spawn(work),
            }
        };
        drop(state);
        drop(retired);
        outcome
    }

    /// Called by a worker whose work is done: the next queued work, or — after parking
    /// as an idle worker — the next work handed to it. `None` means the worker ends.
    pub fn next(&self, mailbox: &Arc<Mailbox<T>>) -> Option<T> {
        let mut state = self.lock();
        if let Some(work) = state.queue.pop_front() {
            self.queued.store(state.queue.len(), Ordering::SeqCst);
            return Some(work);
        }
        let running = state.running - 1;
        self.set_running(&mut state, running);
        let park = !state.closed && state.parked.len() < KEEP_IDLE;
        if park {
            state.parked.push(mailbox.clone());
        } else {
            state.retired.push(mailbox.clone());
        }
        drop(state);
        if running == 0 {
            // Taking the lock orders this wake-up after a waiter's check of `running`.
            let _guard = self.idle_lock.lock();
            self.idle_signal.notify_all();
        }
        if !park {
            return None;
        }
        loop {
            executor::park();
            if let Some(work) = mailbox.take() {
                return Some(work);
            }
            if self.lock().closed {
                return None;
            }
        }
    }

    /// A worker died without giving its place back (its stack overflowed): the place
    /// goes to the next queued work, returned for a new worker, or is freed.
    pub fn abandon(&self) -> Option<T> {
        let mut state = self.lock();
        if let Some(work) = state.queue.pop_front() {
            self.queued.store(state.queue.len(), Ordering::SeqCst);
            return Some(work);
        }
        let running = state.running.saturating_sub(1);
        self.set_running(&mut state, running);
        drop(state);
        if running == 0 {
            let _guard = self.idle_lock.lock();
            self.idle_signal.notify_all();
        }
        None
    }

    /// No more work will come: parked workers end, finishing ones do not park.
    pub fn close(&self) {
        let parked = {
            let mut state = self.lock();
            state.closed = true;
            state.retired.clear();
            std::mem::take(&mut state.parked)
        };
        for mailbox in parked {
            mailbox.put(None);
        }
    }

    /// True when work waits for a place.
    pub fn has_queued(&self) -> bool {
        self.queued.load(Ordering::SeqCst) > 0
    }

    /// Places taken now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Waits up to `timeout` until no place is taken; true when none is.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.idle_lock.lock().unwrap_or_else(|e| e.into_inner());
        while self.running() > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = match self.idle_signal.wait_timeout(guard, super::timeouts::park_time(left)) {
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
    use std::sync::atomic::AtomicUsize;

    /// Work is held until the test opens the gate, so that the places stay taken for as
    /// long as the test needs, however slowly it runs.
    static GATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

    /// A worker as the server runs one: serve, then ask the pool for more.
    fn worker(pool: Arc<Pool<u32>>, first: u32, served: Arc<Mutex<Vec<u32>>>) {
        let mailbox = Mailbox::current();
        let mut work = first;
        loop {
            served.lock().unwrap().push(work);
            while !GATE.load(Ordering::SeqCst) {
                // A coroutine sleep, or a thread's outside a coroutine.
                may::coroutine::sleep(Duration::from_millis(1));
            }
            match pool.next(&mailbox) {
                Some(w) => work = w,
                None => return,
            }
        }
    }

    /// Coroutine workers and thread workers alike (they park and are woken differently).
    #[test]
    fn places_are_bounded_queued_work_keeps_order_and_workers_are_reused() {
        for class in [executor::WorkerClass::Coroutine, executor::WorkerClass::Thread] {
            pool_of(2, class);
            pool_of(1, class);
        }
    }

    fn pool_of(places: usize, class: executor::WorkerClass) {
        GATE.store(false, Ordering::SeqCst);
        let pool = Arc::new(Pool::new(places));
        let served = Arc::new(Mutex::new(Vec::new()));
        let spawned = Arc::new(AtomicUsize::new(0));
        let offer = |w: u32| match pool.dispatch(w) {
            Dispatch::Spawn(w) => {
                spawned.fetch_add(1, Ordering::SeqCst);
                let (pool, served) = (pool.clone(), served.clone());
                match class {
                    // Safety (may's rule for spawn): the coroutine owns all it uses.
                    executor::WorkerClass::Coroutine => {
                        drop(unsafe { may::coroutine::spawn(move || worker(pool, w, served)) })
                    }
                    executor::WorkerClass::Thread => drop(std::thread::spawn(move || worker(pool, w, served))),
                }
                true
            }
            Dispatch::Handed => true,
            Dispatch::Queued => false,
        };
        for w in 1..=places as u32 {
            assert!(offer(w));
        }
        assert!(!offer(3), "every place is taken");
        assert!(!offer(4));
        assert_eq!(pool.running(), places);
        GATE.store(true, Ordering::SeqCst);
        assert!(pool.wait_idle(Duration::from_secs(5)));
        // Everything was served; with one place, the queue in arrival order (with two, the
        // workers run at once and record their work in either order).
        let mut order = served.lock().unwrap().clone();
        if places == 1 {
            assert_eq!(order, [1, 3, 4]);
        } else {
            order.sort_unstable();
            assert_eq!(order, [1, 2, 3, 4]);
        }
        // The workers are parked now: new work reuses them without a spawn.
        assert!(offer(5));
        assert!(pool.wait_idle(Duration::from_secs(5)));
        assert_eq!(spawned.load(Ordering::SeqCst), places);
        assert_eq!(served.lock().unwrap().last(), Some(&5));
        pool.close();
    }
}
