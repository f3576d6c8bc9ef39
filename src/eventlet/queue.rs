//! eventlet.queue: `Queue`, `LightQueue`, `PriorityQueue`, `LifoQueue` and the `Full` and
//! `Empty` errors, for green threads (and OS threads) handing work to each other.
//!
//! The size is eventlet's, not the standard library's: `new(None)` is unbounded (Python's
//! `Queue()`), `new(n)` holds at most `n` items (a `put` waits for room), and `new(0)` is a
//! channel: `put` waits until a `get` takes the item, and the queue is both `empty()` and
//! `full()`. Waiting parks the green thread on a `may::sync` lock and condition variable;
//! from a plain OS thread it blocks that thread. Python's `put(item, timeout=t)` and
//! `get(timeout=t)` are `put_timeout` and `get_timeout`, failing with [`Full`] (which hands
//! the item back) and [`Empty`]; `block=False` is `put_nowait` and `get_nowait`.
//!
//! The four types share one implementation (a store behind a lock, two condition
//! variables for "an item arrived" and "room appeared"); they differ in the store (first
//! in first out, lowest first, last in first out) and in that `LightQueue`, as in eventlet,
//! has no `task_done()`/`join()`. Every handle is a `Clone` of one shared queue.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::sync::{Condvar, Mutex, MutexGuard};

use super::{lock, park_time, ValueError};

/// eventlet's `queue.Full`: a `put` found no room in time. The item comes back in it.
pub struct Full<T>(pub T);

impl<T> fmt::Debug for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Full(..)")
    }
}

impl<T> fmt::Display for Full<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is full")
    }
}

impl<T> std::error::Error for Full<T> {}

/// eventlet's `queue.Empty`: a `get` found no item in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Empty;

impl fmt::Display for Empty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is empty")
    }
}

impl std::error::Error for Empty {}

/// How the items are kept: the one thing the queue types differ in.
trait Store: Default {
    type Item;
    fn push(&mut self, item: Self::Item);
    fn pop(&mut self) -> Option<Self::Item>;
    fn len(&self) -> usize;
}

/// First in, first out (`Queue`, `LightQueue`).
struct Fifo<T>(VecDeque<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Store for Fifo<T> {
    type Item = T;
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Last in, first out (`LifoQueue`).
struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Store for Lifo<T> {
    type Item = T;
    fn push(&mut self, item: T) {
        self.0.push(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Lowest first, and first in first out among equals (`PriorityQueue`): Python's heapq
/// does not promise the second, which is why each item carries its arrival number.
struct Heap<T> {
    heap: BinaryHeap<Ranked<T>>,
    arrivals: u64,
}

impl<T: Ord> Default for Heap<T> {
    fn default() -> Self {
        Heap {
            heap: BinaryHeap::new(),
            arrivals: 0,
        }
    }
}

/// An item and its arrival number, ordered so that `BinaryHeap` (a max-heap) pops the
/// lowest item, and the earliest among equal ones.
struct Ranked<T> {
    item: T,
    arrival: u64,
}

impl<T: Ord> Ord for Ranked<T> {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.item.cmp(&self.item).then(other.arrival.cmp(&self.arrival))
    }
}

impl<T: Ord> PartialOrd for Ranked<T> {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> PartialEq for Ranked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}

impl<T: Ord> Eq for Ranked<T> {}

impl<T: Ord> Store for Heap<T> {
    type Item = T;
    fn push(&mut self, item: T) {
        self.arrivals += 1;
        self.heap.push(Ranked {
            item,
            arrival: self.arrivals,
        });
    }
    fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|ranked| ranked.item)
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// What the lock guards.
struct State<S> {
    store: S,
    /// `None`: unbounded; `Some(0)`: a channel; `Some(n)`: at most n items.
    maxsize: Option<usize>,
    /// Items put and not yet marked `task_done` (Queue's `join`).
    unfinished: usize,
}

/// How long a `put` or `get` may wait.
#[derive(Clone, Copy)]
enum Wait {
    Forever,
    Until(Instant),
    Not,
}

impl Wait {
    fn after(timeout: Duration) -> Wait {
        Instant::now().checked_add(timeout).map_or(Wait::Forever, Wait::Until)
    }
}

/// Counts a waiting green thread while it waits. Atomic, not under the lock, because a
/// killed waiter leaves by unwinding out of the condition variable's wait, without the
/// lock, and must not park to take it there.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The queue every public type wraps.
struct Core<S> {
    state: Mutex<State<S>>,
    /// An item was put.
    not_empty: Condvar,
    /// Room appeared (an item was taken, a channel getter arrived, the queue grew).
    not_full: Condvar,
    /// Every task was marked done.
    all_done: Condvar,
    getters: AtomicUsize,
    putters: AtomicUsize,
}

impl<S: Store> Core<S> {
    fn new(maxsize: Option<usize>) -> Arc<Self> {
        Arc::new(Core {
            state: Mutex::new(State {
                store: S::default(),
                maxsize,
                unfinished: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            all_done: Condvar::new(),
            getters: AtomicUsize::new(0),
            putters: AtomicUsize::new(0),
        })
    }

    /// Whether a put could go in now. A channel takes an item only for a getter that
    /// waits and has none yet, so the item never sits in it.
    fn has_room(&self, state: &State<S>) -> bool {
        match state.maxsize {
            None => true,
            Some(0) => state.store.len() < self.getters.load(Ordering::Acquire),
            Some(n) => state.store.len() < n,
        }
    }

    /// Waits on `condvar` until `ready` or the wait runs out; the guard back, or None.
    fn wait_for<'a>(
        &self,
        condvar: &Condvar,
        mut state: MutexGuard<'a, State<S>>,
        wait: Wait,
        ready: impl Fn(&State<S>) -> bool,
    ) -> Option<MutexGuard<'a, State<S>>> {
        while !ready(&state) {
            state = match wait {
                Wait::Not => return None,
                Wait::Forever => condvar.wait(state).unwrap_or_else(|e| e.into_inner()),
                Wait::Until(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    match condvar.wait_timeout(state, park_time(left)) {
                        Ok((state, _)) => state,
                        Err(e) => e.into_inner().0,
                    }
                }
            };
        }
        Some(state)
    }

    fn put(&self, item: S::Item, wait: Wait, tasks: bool) -> Result<(), Full<S::Item>> {
        let mut state = lock(&self.state);
        if !self.has_room(&state) {
            let _waiting = Waiting::new(&self.putters);
            match self.wait_for(&self.not_full, state, wait, |s| self.has_room(s)) {
                Some(ready) => state = ready,
                None => return Err(Full(item)),
            }
        }
        state.store.push(item);
        if tasks {
            state.unfinished += 1;
        }
        drop(state);
        // A waiter is already in the condition variable's list (it enters before it
        // lets the lock go), so waking after unlocking loses no one.
        self.not_empty.notify_one();
        Ok(())
    }

    fn get(&self, wait: Wait) -> Result<S::Item, Empty> {
        let mut state = lock(&self.state);
        if state.store.len() == 0 {
            if matches!(wait, Wait::Not) {
                return Err(Empty);
            }
            let _waiting = Waiting::new(&self.getters);
            if state.maxsize == Some(0) {
                // A putter on a channel waits for a getter: here is one.
                self.not_full.notify_one();
            }
            match self.wait_for(&self.not_empty, state, wait, |s| s.store.len() > 0) {
                Some(ready) => state = ready,
                None => return Err(Empty),
            }
        }
        let item = state.store.pop().expect("an item is there");
        drop(state);
        self.not_full.notify_one();
        Ok(item)
    }

    fn qsize(&self) -> usize {
        lock(&self.state).store.len()
    }

    fn full(&self) -> bool {
        let state = lock(&self.state);
        state.maxsize.is_some_and(|max| state.store.len() >= max)
    }

    fn maxsize(&self) -> Option<usize> {
        lock(&self.state).maxsize
    }

    fn resize(&self, maxsize: Option<usize>) {
        lock(&self.state).maxsize = maxsize;
        // Room may have appeared for every waiting putter; each checks for itself.
        self.not_full.notify_all();
    }

    fn task_done(&self) -> Result<(), ValueError> {
        let mut state = lock(&self.state);
        if state.unfinished == 0 {
            return Err(ValueError("task_done() called too many times"));
        }
        state.unfinished -= 1;
        if state.unfinished == 0 {
            self.all_done.notify_all();
        }
        Ok(())
    }

    fn join(&self) {
        let state = lock(&self.state);
        let _ = self.wait_for(&self.all_done, state, Wait::Forever, |s| s.unfinished == 0);
    }
}

/// The methods every queue type has, written once.
macro_rules! queue_api {
    ($name:ident, $tasks:expr, [$($bound:tt)*]) => {
        impl<T: $($bound)*> $name<T> {
            /// A queue of at most `maxsize` items: `None` (or `Default`) is unbounded,
            /// `0` a channel whose `put` waits for a `get`. Python's `Queue(maxsize)`.
            pub fn new(maxsize: impl Into<Option<usize>>) -> Self {
                $name { core: Core::new(maxsize.into()) }
            }

            /// eventlet's `put(item)`: waits while the queue is full.
            pub fn put(&self, item: T) {
                if self.core.put(item, Wait::Forever, $tasks).is_err() {
                    unreachable!("a put without a deadline waits until there is room");
                }
            }

            /// eventlet's `put(item, timeout=t)`: [`Full`] with the item back if no
            /// room appeared within `timeout`.
            pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), Full<T>> {
                self.core.put(item, Wait::after(timeout), $tasks)
            }

            /// eventlet's `put_nowait(item)` (`put(item, block=False)`): [`Full`] unless
            /// it goes in at once (on a channel: a getter is waiting for it).
            pub fn put_nowait(&self, item: T) -> Result<(), Full<T>> {
                self.core.put(item, Wait::Not, $tasks)
            }

            /// eventlet's `get()`: waits for an item.
            pub fn get(&self) -> T {
                match self.core.get(Wait::Forever) {
                    Ok(item) => item,
                    Err(Empty) => unreachable!("a get without a deadline waits for an item"),
                }
            }

            /// eventlet's `get(timeout=t)`: [`Empty`] if no item came within `timeout`.
            pub fn get_timeout(&self, timeout: Duration) -> Result<T, Empty> {
                self.core.get(Wait::after(timeout))
            }

            /// eventlet's `get_nowait()` (`get(block=False)`): [`Empty`] unless an item
            /// is there.
            pub fn get_nowait(&self) -> Result<T, Empty> {
                self.core.get(Wait::Not)
            }

            /// How many items are in the queue (`qsize()`).
            pub fn qsize(&self) -> usize {
                self.core.qsize()
            }

            /// No items in the queue (`empty()`).
            pub fn empty(&self) -> bool {
                self.qsize() == 0
            }

            /// A `put` would wait (`full()`); never for an unbounded queue, always for a
            /// channel.
            pub fn full(&self) -> bool {
                self.core.full()
            }

            /// The bound given to `new` or `resize` (`maxsize`).
            pub fn maxsize(&self) -> Option<usize> {
                self.core.maxsize()
            }

            /// eventlet's `resize(size)`: a new bound; putters waiting for room that now
            /// exists go on.
            pub fn resize(&self, maxsize: impl Into<Option<usize>>) {
                self.core.resize(maxsize.into())
            }

            /// How many green threads wait in `put` (`putting()`).
            pub fn putting(&self) -> usize {
                self.core.putters.load(Ordering::Acquire)
            }

            /// How many green threads wait in `get` (`getting()`).
            pub fn getting(&self) -> usize {
                self.core.getters.load(Ordering::Acquire)
            }
        }

        impl<T> Clone for $name<T> {
            /// Another handle to the same queue.
            fn clone(&self) -> Self {
                $name { core: self.core.clone() }
            }
        }

        impl<T: $($bound)*> Default for $name<T> {
            /// An unbounded queue (`Queue()`).
            fn default() -> Self {
                Self::new(None)
            }
        }

        impl<T: $($bound)*> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("maxsize", &self.maxsize())
                    .field("qsize", &self.qsize())
                    .field("getting", &self.getting())
                    .field("putting", &self.putting())
                    .finish()
            }
        }
    };
}

/// The task accounting of `Queue`, `PriorityQueue` and `LifoQueue`.
macro_rules! task_api {
    ($name:ident, [$($bound:tt)*]) => {
        impl<T: $($bound)*> $name<T> {
            /// eventlet's `task_done()`: one item taken earlier has been dealt with.
            /// `ValueError` if called more times than items were put.
            pub fn task_done(&self) -> Result<(), ValueError> {
                self.core.task_done()
            }

            /// eventlet's `join()`: waits until every item put has been marked
            /// `task_done`.
            pub fn join(&self) {
                self.core.join()
            }
        }
    };
}

/// eventlet's `LightQueue`: a first-in-first-out queue without `task_done`/`join`.
pub struct LightQueue<T> {
    core: Arc<Core<Fifo<T>>>,
}
queue_api!(LightQueue, false, [Sized]);

/// eventlet's `Queue`: first in, first out, with `task_done()` and `join()`.
pub struct Queue<T> {
    core: Arc<Core<Fifo<T>>>,
}
queue_api!(Queue, true, [Sized]);
task_api!(Queue, [Sized]);

/// eventlet's `PriorityQueue`: the lowest item first (Python's `put((priority, data))`
/// works as a tuple here), and among equal items the first put.
pub struct PriorityQueue<T> {
    core: Arc<Core<Heap<T>>>,
}
queue_api!(PriorityQueue, true, [Ord]);
task_api!(PriorityQueue, [Ord]);

/// eventlet's `LifoQueue`: the last item put comes out first.
pub struct LifoQueue<T> {
    core: Arc<Core<Lifo<T>>>,
}
queue_api!(LifoQueue, true, [Sized]);
task_api!(LifoQueue, [Sized]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::{sleep, spawn};

    /// Only a bug waits this long.
    const NEVER: Duration = Duration::from_secs(60);
    const SHORT: Duration = Duration::from_millis(20);

    /// Yields until `ready` holds (a waiter has parked, say), giving up only on a bug.
    fn until(ready: impl Fn() -> bool) {
        let deadline = Instant::now() + NEVER;
        while !ready() {
            assert!(Instant::now() < deadline, "waited a minute: a bug");
            sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn fifo_with_sizes() {
        let q = Queue::new(None);
        assert!(q.empty() && !q.full());
        for i in 0..5 {
            q.put(i);
        }
        assert_eq!(q.qsize(), 5);
        assert!(!q.full(), "an unbounded queue is never full");
        assert_eq!((0..5).map(|_| q.get()).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(q.get_nowait(), Err(Empty));
        assert_eq!(Queue::<u8>::default().maxsize(), None);
    }

    #[test]
    fn bounded_put_waits_until_a_get() {
        let q = Queue::new(1);
        q.put(1);
        assert!(q.full());
        assert!(matches!(q.put_nowait(9), Err(Full(9))));
        let q2 = q.clone();
        let putter = spawn(move || q2.put(2));
        until(|| q.putting() == 1);
        // It waits, and its item is not in.
        assert!(!putter.is_done());
        assert_eq!(q.qsize(), 1);
        assert_eq!(q.get(), 1);
        putter.wait();
        assert_eq!(q.putting(), 0);
        assert_eq!(q.get(), 2);
    }

    #[test]
    fn put_timeout_fires_and_gives_the_item_back() {
        let q = LightQueue::new(1);
        q.put("in");
        match q.put_timeout("out", SHORT) {
            Err(Full(item)) => assert_eq!(item, "out"),
            Ok(()) => panic!("a full queue took an item"),
        }
        assert_eq!(q.putting(), 0);
        assert_eq!(q.qsize(), 1);
    }

    #[test]
    fn put_timeout_does_not_fire_when_room_appears() {
        let q = Queue::new(1);
        q.put(1);
        let q2 = q.clone();
        let putter = spawn(move || q2.put_timeout(2, NEVER).is_ok());
        until(|| q.putting() == 1);
        assert_eq!(q.get(), 1);
        assert!(putter.wait());
        assert_eq!(q.get(), 2);
    }

    #[test]
    fn get_timeout_fires_on_an_empty_queue() {
        let q: Queue<u32> = Queue::new(None);
        assert_eq!(q.get_timeout(SHORT), Err(Empty));
        assert_eq!(q.getting(), 0);
        // From a green thread too.
        let q2 = q.clone();
        assert_eq!(spawn(move || q2.get_timeout(SHORT)).wait(), Err(Empty));
    }

    #[test]
    fn get_timeout_does_not_fire_when_an_item_comes() {
        let q = Queue::new(None);
        let q2 = q.clone();
        let getter = spawn(move || q2.get_timeout(NEVER));
        until(|| q.getting() == 1);
        q.put("item");
        assert_eq!(getter.wait(), Ok("item"));
    }

    #[test]
    fn zero_is_a_channel() {
        let q = Queue::new(0);
        assert!(q.empty() && q.full());
        // No getter: nothing goes in.
        assert!(matches!(q.put_nowait("early"), Err(Full("early"))));
        assert!(q.put_timeout("early", SHORT).is_err());
        let q2 = q.clone();
        let putter = spawn(move || q2.put("handed over"));
        until(|| q.putting() == 1);
        assert!(!putter.is_done());
        assert_eq!(q.qsize(), 0, "a channel holds nothing");
        assert_eq!(q.get(), "handed over");
        putter.wait();
        // A waiting getter lets put_nowait through.
        let q2 = q.clone();
        let getter = spawn(move || q2.get());
        until(|| q.getting() == 1);
        assert!(q.put_nowait("direct").is_ok());
        assert_eq!(getter.wait(), "direct");
    }

    #[test]
    fn priority_lowest_first_and_fifo_among_equals() {
        /// Ordered by priority alone, so equal priorities are distinct but equal items.
        #[derive(Debug)]
        struct Job(u8, &'static str);
        impl Ord for Job {
            fn cmp(&self, other: &Self) -> CmpOrdering {
                self.0.cmp(&other.0)
            }
        }
        impl PartialOrd for Job {
            fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
                Some(self.cmp(other))
            }
        }
        impl PartialEq for Job {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }
        impl Eq for Job {}

        let q = PriorityQueue::new(None);
        for job in [
            Job(2, "late"),
            Job(1, "first"),
            Job(0, "urgent"),
            Job(1, "second"),
            Job(1, "third"),
        ] {
            q.put(job);
        }
        let names: Vec<_> = (0..5).map(|_| q.get().1).collect();
        assert_eq!(names, ["urgent", "first", "second", "third", "late"]);

        // Python's (priority, data) tuples.
        let q = PriorityQueue::new(None);
        q.put((3, "c"));
        q.put((1, "a"));
        q.put((2, "b"));
        assert_eq!(q.get(), (1, "a"));
    }

    #[test]
    fn lifo_last_first() {
        let q = LifoQueue::new(None);
        for i in 0..3 {
            q.put(i);
        }
        assert_eq!((0..3).map(|_| q.get()).collect::<Vec<_>>(), [2, 1, 0]);
    }

    #[test]
    fn task_done_and_join() {
        let q = Queue::new(None);
        assert!(q.task_done().is_err(), "nothing was put");
        q.put(1);
        q.put(2);
        let q2 = q.clone();
        let worker = spawn(move || {
            for _ in 0..2 {
                q2.get();
                sleep(Duration::from_millis(1));
                q2.task_done().unwrap();
            }
        });
        q.join();
        assert!(q.empty());
        worker.wait();
        assert_eq!(q.task_done(), Err(ValueError("task_done() called too many times")));
    }

    #[test]
    fn resize_lets_waiting_putters_in() {
        let q = LightQueue::new(1);
        q.put(0);
        let q2 = q.clone();
        let putter = spawn(move || q2.put(1));
        until(|| q.putting() == 1);
        q.resize(None);
        putter.wait();
        assert_eq!(q.qsize(), 2);
    }

    #[test]
    fn a_killed_threads_destructor_may_put_while_the_lock_is_taken() {
        use crate::eventlet::Event;
        /// Reports through the queue as its thread unwinds.
        struct Report(Queue<&'static str>, Event<()>);
        impl Drop for Report {
            fn drop(&mut self) {
                self.0.put("unwound");
                self.1.send(()).unwrap();
            }
        }
        let (q, reported, started) = (Queue::new(None), Event::new(), Event::new());
        let (q2, r2, s2) = (q.clone(), reported.clone(), started.clone());
        let victim = spawn(move || {
            let _report = Report(q2, r2);
            s2.send(()).unwrap();
            sleep(NEVER);
        });
        started.wait();
        // The queue's lock is held while the victim unwinds: a parking lock in its
        // destructor would abort the process (may's cancel raised inside the unwinding).
        let held = lock(&q.core.state);
        let killer = spawn(move || {
            victim.kill();
            victim.wait_result()
        });
        sleep(Duration::from_millis(20)); // time for the destructor to meet the lock
        drop(held);
        assert_eq!(killer.wait(), Err(crate::eventlet::GreenletExit));
        assert_eq!(q.get_nowait(), Ok("unwound"));
        assert!(reported.ready());
    }

    #[test]
    fn many_producers_and_consumers_across_coroutines_and_threads() {
        let q = Queue::new(3);
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let q = q.clone();
                spawn(move || (0..50).for_each(|i| q.put(p * 1000 + i)))
            })
            .collect();
        // One producer is a plain OS thread: the same queue blocks it instead.
        let q2 = q.clone();
        let thread = std::thread::spawn(move || (0..50).for_each(|i| q2.put(4000 + i)));
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                spawn(move || {
                    let mut sum = 0;
                    loop {
                        match q.get() {
                            u64::MAX => return sum,
                            item => sum += item,
                        }
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.wait());
        thread.join().unwrap();
        // Everything is in: one end marker per consumer.
        (0..3).for_each(|_| q.put(u64::MAX));
        let total: u64 = consumers.into_iter().map(|c| c.wait()).sum();
        let expected: u64 = (0..5u64).map(|p| (0..50).map(|i| p * 1000 + i).sum::<u64>()).sum();
        assert_eq!(total, expected);
    }
}
