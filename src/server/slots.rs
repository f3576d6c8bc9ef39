//! Per-thread slots for state every request touches: a counter, the buffer free lists.
//!
//! State shared by all scheduler threads and written on every request passes its cache
//! line from core to core at each write, which on the hello-world benchmark cost more than
//! parsing the request. So such state is kept in [`SLOTS`] copies, each on cache lines of
//! its own ([`Padded`]), and each thread uses the one [`thread_slot`] gives it; whoever
//! needs the whole (a total, a trim) visits them all. With more threads than slots
//! (request threads) a few threads share one, which is correct, just less quiet.

use std::sync::atomic::{AtomicUsize, Ordering};

/// How many copies: at least the scheduler threads of a process, in the common case.
pub(crate) const SLOTS: usize = 8;

/// A value alone on its cache line (two lines: adjacent-line prefetch pairs them).
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub T);

/// This thread's slot, the same for its whole life; threads take them in turn.
pub(crate) fn thread_slot() -> usize {
    thread_local! {
        static SLOT: usize = {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            NEXT.fetch_add(1, Ordering::Relaxed) % SLOTS
        };
    }
    SLOT.with(|slot| *slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_slot_and_threads_spread() {
        let mine = thread_slot();
        assert_eq!(thread_slot(), mine);
        let others: std::collections::HashSet<usize> = (0..SLOTS)
            .map(|_| std::thread::spawn(thread_slot).join().unwrap())
            .collect();
        assert!(others.len() > 1, "{others:?}");
        assert!(others.iter().all(|&s| s < SLOTS));
        assert!(std::mem::align_of::<Padded<u8>>() >= 128);
    }
}
