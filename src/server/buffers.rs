//! The free lists of read and write buffers: a connection holds buffers only while one of
//! its requests is being handled, and gives them back when it returns to the waiting room.
//!
//! Allocating and zeroing 16 KiB per request would cost more than the request; keeping a
//! buffer per connection would cost 32 KiB per idle connection. So buffers circulate: a
//! request takes one from the list, hands it back when its connection goes idle, and the
//! list keeps at most as many as were in use at once (up to a cap), freeing the rest.

use std::sync::Mutex;

use crate::wsgi::exchange::WBUF_SOFT;

/// A read buffer's size: a request head and the start of its body fit in one read.
pub(crate) const RBUF_SIZE: usize = 16 * 1024;

/// How many spare buffers of each kind a process keeps.
const KEEP: usize = 256;

/// Spare read and write buffers, shared by the waiting room and the request coroutines.
#[derive(Default)]
pub(crate) struct Buffers {
    read: Mutex<Vec<Vec<u8>>>,
    write: Mutex<Vec<Vec<u8>>>,
}

impl Buffers {
    /// A read buffer of `RBUF_SIZE` bytes (contents unspecified).
    pub fn read_buf(&self) -> Vec<u8> {
        let spare = self.read.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_else(|| vec![0; RBUF_SIZE])
    }

    /// An empty write buffer with room for a head and a small body.
    pub fn write_buf(&self) -> Vec<u8> {
        let spare = self.write.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_else(|| Vec::with_capacity(WBUF_SOFT))
    }

    /// Takes back a read buffer; one grown for a large head is freed instead, so the
    /// list never pins more than `KEEP` ordinary buffers.
    pub fn give_read(&self, buf: Vec<u8>) {
        if buf.len() == RBUF_SIZE {
            let mut list = self.read.lock().unwrap_or_else(|e| e.into_inner());
            if list.len() < KEEP {
                list.push(buf);
            }
        }
    }

    pub fn give_write(&self, mut buf: Vec<u8>) {
        if buf.capacity() <= 4 * WBUF_SOFT {
            buf.clear();
            let mut list = self.write.lock().unwrap_or_else(|e| e.into_inner());
            if list.len() < KEEP {
                list.push(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_circulate_and_oversized_ones_are_dropped() {
        let buffers = Buffers::default();
        let r = buffers.read_buf();
        assert_eq!(r.len(), RBUF_SIZE);
        let ptr = r.as_ptr();
        buffers.give_read(r);
        let again = buffers.read_buf();
        assert_eq!(again.as_ptr(), ptr, "the same buffer comes back");
        buffers.give_read(vec![0; RBUF_SIZE * 2]);
        assert_eq!(buffers.read.lock().unwrap().len(), 0);
        let mut w = buffers.write_buf();
        w.extend_from_slice(b"abc");
        buffers.give_write(w);
        assert!(buffers.write_buf().is_empty());
    }
}
