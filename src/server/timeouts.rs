//! Connection timeouts without a timer per read.
//!
//! may can put a timeout on every socket read, but that registers a timer each time a read
//! has to wait, and in a keep-alive loop nearly every read waits: that cost ten percent of
//! the hello-world throughput. So, like nginx's timer tree or eventlet's hub timers, one
//! sweeper per server keeps time instead: a connection about to wait writes its deadline
//! into its [`Watch`] (an atomic store, on a coarse clock the sweeper advances), and waits
//! on the socket alone. Every [`SWEEP`] the sweeper marks the watches whose deadline has
//! passed and wakes their coroutines, which then report `TimedOut`. A wait marked as a
//! *stay* (a coroutine keeping a just-served connection for its next request, see
//! `connection.rs`) can also be ended early, when the pool needs the place or the server
//! stops. (Connections at rest are not here: the waiting room keeps their deadlines.)
//!
//! Deadlines are therefore kept to within one sweep (0.1 s), which is plenty for timeouts
//! measured in seconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::executor::Waker;

/// The time to give a may wait for `left`: rounded up to whole milliseconds, at least one.
/// may keeps a parked coroutine's timeout in whole milliseconds, cut down, and takes 0 for
/// "no timeout": a wait of less than a millisecond would never end. Waking up to a
/// millisecond late costs nothing; every caller loops on its own deadline.
pub(crate) fn park_time(left: Duration) -> Duration {
    let millis = left.as_nanos().div_ceil(1_000_000).max(1);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}

/// How often the sweeper looks at the deadlines.
pub(crate) const SWEEP: Duration = Duration::from_millis(100);

const NO_DEADLINE: u64 = u64::MAX;
const EXPIRED: u64 = u64::MAX - 1;

/// One connection's deadline, as the sweeper sees it.
pub(crate) struct Watch {
    deadline: AtomicU64,
    /// The wait is a stay, which may be cut short.
    staying: AtomicBool,
    waker: Waker,
    slot: usize,
}

impl Watch {
    /// Starts a wait that must end by `deadline_ms` (on the sweeper's clock).
    pub fn arm(&self, deadline_ms: u64) {
        self.staying.store(false, Ordering::Relaxed);
        self.deadline.store(deadline_ms.min(EXPIRED - 1), Ordering::Release);
    }

    /// Starts a stay: a wait that ends at `deadline_ms`, or earlier when
    /// [`Timeouts::end_stays`] is called.
    pub fn arm_stay(&self, deadline_ms: u64) {
        self.staying.store(true, Ordering::Relaxed);
        self.deadline.store(deadline_ms.min(EXPIRED - 1), Ordering::Release);
    }

    /// True when the sweeper found the armed deadline passed.
    pub fn expired(&self) -> bool {
        self.deadline.load(Ordering::Acquire) == EXPIRED
    }

    /// Ends the wait.
    pub fn disarm(&self) {
        self.deadline.store(NO_DEADLINE, Ordering::Release);
    }

    pub fn is_armed(&self) -> bool {
        self.deadline.load(Ordering::Relaxed) != NO_DEADLINE
    }
}

#[derive(Default)]
struct Slab {
    watches: Vec<Option<Arc<Watch>>>,
    free: Vec<usize>,
}

/// The coarse clock and the watches of one server's connections.
pub(crate) struct Timeouts {
    start: Instant,
    now_ms: AtomicU64,
    slab: Mutex<Slab>,
}

impl Timeouts {
    pub fn new() -> Timeouts {
        Timeouts {
            start: Instant::now(),
            now_ms: AtomicU64::new(0),
            slab: Mutex::new(Slab::default()),
        }
    }

    /// Milliseconds since the server started, as of the last sweep.
    pub fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    /// The deadline `timeout` from now, on this clock.
    pub fn deadline_in(&self, timeout: Duration) -> u64 {
        self.now_ms()
            .saturating_add(timeout.as_millis().min(u128::from(u64::MAX / 4)) as u64)
    }

    /// Starts watching a connection whose worker wakes with `waker` (a coroutine's may
    /// registration, or a request thread's doorbell).
    pub fn register(&self, waker: Waker) -> Arc<Watch> {
        let mut slab = self.slab.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slab.free.pop().unwrap_or(slab.watches.len());
        let watch = Arc::new(Watch {
            deadline: AtomicU64::new(NO_DEADLINE),
            staying: AtomicBool::new(false),
            waker,
            slot,
        });
        if slot == slab.watches.len() {
            slab.watches.push(Some(watch.clone()));
        } else {
            slab.watches[slot] = Some(watch.clone());
        }
        watch
    }

    pub fn unregister(&self, watch: &Watch) {
        let mut slab = self.slab.lock().unwrap_or_else(|e| e.into_inner());
        slab.watches[watch.slot] = None;
        slab.free.push(watch.slot);
    }

    /// Advances the clock and wakes every wait whose deadline passed.
    pub fn sweep(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.now_ms.store(now, Ordering::Relaxed);
        self.expire(|deadline, _| deadline <= now);
    }

    /// Ends every stay now: the pool needs the places, or the server is stopping.
    pub fn end_stays(&self) {
        self.expire(|_, staying| staying);
    }

    fn expire(&self, due: impl Fn(u64, bool) -> bool) {
        let slab = self.slab.lock().unwrap_or_else(|e| e.into_inner());
        for watch in slab.watches.iter().flatten() {
            let deadline = watch.deadline.load(Ordering::Acquire);
            if deadline >= EXPIRED {
                continue;
            }
            let due = due(deadline, watch.staying.load(Ordering::Relaxed));
            // Only the wait that was armed is expired: if the connection moved on to another
            // wait meanwhile, its new deadline makes this exchange fail.
            if due
                && watch
                    .deadline
                    .compare_exchange(deadline, EXPIRED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                watch.waker.wake();
            }
        }
    }
}
