//! The free lists of read buffers: a connection holds one only while it has bytes of its
//! own (a head arriving, a request being handled), and gives it back when it returns to the
//! waiting room. (Write buffers live with the request kits, see `connection.rs`.)
//!
//! Allocating and zeroing 16 KiB per request would cost more than the request; keeping a
//! buffer per connection would cost 32 KiB per idle connection. So buffers circulate: a
//! request takes one from the list, hands it back when its connection goes idle, and the
//! list keeps what was in use at once lately (up to a cap): every second, the buffers
//! that lay unused in the list the whole second are freed.
//!
//! In front of the shared lists each scheduler thread keeps a few buffers of its own, so
//! a busy keep-alive loop, which takes and gives back its buffers on every request, does it
//! without a lock; and the shared lists are kept in per-thread slots (`slots`), so that two
//! threads taking buffers at once do not pass a lock's cache line between their cores.

use std::cell::RefCell;
use std::sync::Mutex;

use super::slots::{thread_slot, Padded, SLOTS};

/// A read buffer's size: a request head and the start of its body fit in one read.
pub(crate) const RBUF_SIZE: usize = 16 * 1024;

/// How many spare buffers of each kind one slot keeps at most. A keep-alive connection
/// gives its read buffer back while it waits for its next request, and takes one when that
/// arrives; under a thousand busy connections one epoll batch wakes a few hundred at once.
/// A list smaller than such a batch would free buffers only to allocate and zero 16 KiB
/// again for the next request: that cost more than the rest of a hello-world request. The
/// trim frees what a burst left unused within two seconds, so a high cap costs memory
/// only while it is in use.
const KEEP: usize = 512;
/// How many a scheduler thread keeps to itself.
const LOCAL_KEEP: usize = 4;

thread_local! {
    /// This thread's own spare buffers. Taken and given back without a yield in between,
    /// so a coroutine moving between threads does no harm.
    static LOCAL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Spare read buffers, shared by the waiting rooms and the request coroutines.
#[derive(Default)]
pub(crate) struct Buffers {
    read: Lists,
}

/// The free lists, a slot per thread.
#[derive(Default)]
struct Lists([Padded<Mutex<Spares>>; SLOTS]);

impl Lists {
    /// A spare from this thread's slot, or else from any other.
    fn take(&self) -> Option<Vec<u8>> {
        let mine = thread_slot();
        (0..SLOTS).find_map(|i| lock(&self.0[(mine + i) % SLOTS].0).pop())
    }

    /// Keeps `buf` in this thread's slot, if it has room.
    fn keep(&self, buf: Vec<u8>) {
        lock(&self.0[thread_slot()].0).push(buf);
    }

    fn len(&self) -> usize {
        self.0.iter().map(|slot| lock(&slot.0).list.len()).sum()
    }

    fn trim(&self) {
        for slot in &self.0 {
            lock(&slot.0).trim();
        }
    }
}

/// One free list, and the fewest it held since the last trim: that many went unused.
#[derive(Default)]
struct Spares {
    list: Vec<Vec<u8>>,
    low: usize,
}

impl Spares {
    fn pop(&mut self) -> Option<Vec<u8>> {
        let buf = self.list.pop();
        self.low = self.low.min(self.list.len());
        buf
    }

    fn push(&mut self, buf: Vec<u8>) {
        if self.list.len() < KEEP {
            self.list.push(buf);
        }
    }

    fn trim(&mut self) {
        let unused = self.low.min(self.list.len());
        self.list.truncate(self.list.len() - unused);
        self.list.shrink_to_fit();
        self.low = self.list.len();
    }
}

/// Keeps `buf` in this thread's list if it has room; otherwise hands it back.
fn keep_local(buf: Vec<u8>) -> Option<Vec<u8>> {
    LOCAL.with(|list| {
        let mut list = list.borrow_mut();
        if list.len() < LOCAL_KEEP {
            list.push(buf);
            None
        } else {
            Some(buf)
        }
    })
}

fn lock(m: &Mutex<Spares>) -> std::sync::MutexGuard<'_, Spares> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Buffers {
    /// A read buffer of `RBUF_SIZE` bytes (contents unspecified).
    pub fn read_buf(&self) -> Vec<u8> {
        let local = LOCAL.with(|l| l.borrow_mut().pop());
        local.or_else(|| self.read.take()).unwrap_or_else(|| vec![0; RBUF_SIZE])
    }

    /// Takes back a read buffer; one grown for a large head is freed instead, so the
    /// lists never pin more than `KEEP` ordinary buffers.
    pub fn give_read(&self, buf: Vec<u8>) {
        if buf.len() == RBUF_SIZE {
            if let Some(buf) = keep_local(buf) {
                self.read.keep(buf);
            }
        }
    }
}

impl Buffers {
    /// Frees the buffers that lay unused since the last trim; true when any were.
    pub fn trim(&self) -> bool {
        let before = self.read.len();
        self.read.trim();
        before > self.read.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills this thread's own list, so what is given next goes to the shared ones.
    fn fill_local(buffers: &Buffers) {
        for _ in 0..LOCAL_KEEP {
            buffers.give_read(vec![0; RBUF_SIZE]);
        }
    }

    #[test]
    fn buffers_circulate_and_oversized_ones_are_dropped() {
        let buffers = Buffers::default();
        let r = buffers.read_buf();
        assert_eq!(r.len(), RBUF_SIZE);
        let ptr = r.as_ptr();
        buffers.give_read(r);
        let again = buffers.read_buf();
        assert_eq!(again.as_ptr(), ptr, "the same buffer comes back");
        fill_local(&buffers);
        buffers.give_read(vec![0; RBUF_SIZE * 2]);
        assert_eq!(buffers.read.len(), 0, "an oversized buffer is not kept");
        buffers.give_read(again);
        assert_eq!(buffers.read.len(), 1, "past the thread's own, the shared list");
    }

    #[test]
    fn a_burst_of_waiting_connections_keeps_its_buffers() {
        // Hundreds of keep-alive connections give their read buffers back while they wait
        // and take one each when their next request arrives: every one taken is one that
        // was given, none allocated anew.
        let buffers = Buffers::default();
        let burst = 500;
        let given: Vec<Vec<u8>> = (0..burst).map(|_| buffers.read_buf()).collect();
        let addresses: std::collections::HashSet<usize> = given.iter().map(|b| b.as_ptr() as usize).collect();
        for buf in given {
            buffers.give_read(buf);
        }
        let taken: Vec<Vec<u8>> = (0..burst).map(|_| buffers.read_buf()).collect();
        assert!(taken.iter().all(|b| addresses.contains(&(b.as_ptr() as usize))));
        for buf in taken {
            buffers.give_read(buf);
        }
        // And what a burst left behind goes once it lay unused for a whole trim period.
        buffers.trim();
        buffers.trim();
        assert_eq!(buffers.read.len(), 0);
    }

    #[test]
    fn trim_frees_what_lay_unused_since_the_last_trim() {
        let buffers = Buffers::default();
        fill_local(&buffers);
        buffers.give_read(vec![0; RBUF_SIZE]);
        buffers.give_read(vec![0; RBUF_SIZE]);
        lock(&buffers.read.0[thread_slot()].0).low = 0;
        assert!(!buffers.trim());
        // Both had been in use since the list began: kept.
        assert_eq!(buffers.read.len(), 2);
        let c = lock(&buffers.read.0[thread_slot()].0).pop().unwrap();
        lock(&buffers.read.0[thread_slot()].0).push(c);
        assert!(buffers.trim());
        // One stayed in the list the whole time: freed.
        assert_eq!(buffers.read.len(), 1);
        buffers.trim();
        assert_eq!(buffers.read.len(), 0);
    }
}
