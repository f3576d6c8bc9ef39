//! Sans-IO HTTP/1.x: bytes in, request heads and body framing out; response heads and
//! chunked encoding out.
//!
//! Nothing in this module owns a socket, so every rule is unit-tested by feeding bytes:
//! whole, line by line, byte by byte and in random splits. The server's connection loop
//! (`server::connection`) is the only caller that moves these bytes to and from the network.
//!
//! - [`request`]: the head parser and the RFC 9112 checks (limits, framing, Host, Expect).
//! - [`body`]: the Content-Length / chunked body decoder behind `wsgi.input`.
//! - [`response`]: status reasons, the cached Date, chunk lines, the server's own errors.

pub mod body;
pub mod request;
pub mod response;

pub use body::{Decoder, Step};
pub use request::{parse_head, Framing, Head, HttpError, Limits, Span};

/// Helpers the parser tests share: a small deterministic random source and cut points.
#[cfg(test)]
pub(crate) mod testing {
    /// xorshift64*: enough randomness to cut inputs, and the same cuts on every run.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
        }
    }

    /// Sorted random cut points inside `0..len`: the input split into random pieces.
    pub fn splits(rng: &mut Rng, len: usize) -> Vec<usize> {
        let mut cuts: Vec<usize> = (0..rng.below(6) + 1).map(|_| rng.below(len)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }
}
