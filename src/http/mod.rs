//! Sans-IO HTTP/1.x: bytes in, request heads and body framing out; response heads and
//! chunked encoding out.
//!
//! Nothing in this module owns a socket, so every rule is unit-tested by feeding bytes:
//! whole, line by line, byte by byte and in random splits. The server's connection loop
//! (`server::connection`) is the only caller that moves these bytes to and from the network.
//!
//! - [`request`]: the head parser and the RFC 9112 checks (limits, version, request-target,
//!   Host, framing, Expect).
//! - [`body`]: the Content-Length / chunked body decoder behind `wsgi.input`.
//! - [`response`]: status reasons, the cached Date, chunk lines, the server's own errors.
//! - [`forwarded`]: `X-Forwarded-For` and the scheme headers of a trusted proxy.
//! - [`proxy_protocol`]: the PROXY protocol header (v1 and v2) before a connection's first
//!   request.
//! - `grammar`: the ABNF rules both check by hand (token, quoted-string, host).
//!
//! What a request may be, in short: a request line `method SP request-target SP HTTP/1.x`
//! within `Limits::request_line`; a target in origin-form (`/p?q`), absolute-form
//! (`http://host/p?q`, whose authority stands for Host), asterisk-form (`*`, OPTIONS only);
//! no fragment, no byte outside visible ASCII; exactly one valid `Host` on HTTP/1.1; at
//! most one Content-Type; Content-Length a number or a list of one number repeated; a
//! chunked body whose size lines are `HEXDIG+ (;token[=token|quoted-string])* CRLF`, with
//! no whitespace anywhere. CONNECT is 501. The whole head is at most `Limits::head_total`.

pub mod body;
pub mod forwarded;
pub(crate) mod grammar;
pub mod proxy_protocol;
pub mod request;
pub mod response;

#[cfg(test)]
mod fuzz;

pub use body::{Decoder, Step, BODY_TOO_LARGE};
pub use forwarded::ForwardedAllow;
pub use request::{parse_head, Framing, Head, HttpError, Limits, Span, TargetForm};

/// Helpers the parser tests share: a small deterministic random source, cut points, and
/// feeding bytes to the parser and the decoder in pieces, as a socket would.
#[cfg(test)]
pub(crate) mod testing {
    use super::{parse_head, Decoder, Framing, Head, HttpError, Limits, Step};

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
        /// True one time in `n`.
        pub fn one_in(&mut self, n: usize) -> bool {
            self.below(n) == 0
        }
        /// One of `items`.
        pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())]
        }
    }

    /// Sorted random cut points inside `0..len`: the input split into random pieces.
    pub fn splits(rng: &mut Rng, len: usize) -> Vec<usize> {
        let mut cuts: Vec<usize> = (0..rng.below(6) + 1).map(|_| rng.below(len)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        cuts
    }

    /// The ways every test cuts an input: after each line, after each byte, and `random`
    /// random ways.
    pub fn ways_to_cut(raw: &[u8], rng: &mut Rng, random: usize) -> Vec<Vec<usize>> {
        let lines = (0..raw.len()).filter(|&i| raw[i] == b'\n').map(|i| i + 1).collect();
        let bytes = (1..raw.len()).collect();
        let mut ways = vec![lines, bytes];
        ways.extend((0..random).map(|_| splits(rng, raw.len())));
        ways
    }

    /// Feeds `raw` to the head parser the way a socket might deliver it, in the pieces
    /// `cuts` gives, and returns what parsing the growing buffer ends with.
    pub fn feed_head(raw: &[u8], cuts: &[usize], limits: &Limits) -> Result<Option<Head>, HttpError> {
        let mut buf = Vec::new();
        let mut head = Head::default();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&raw.len())) {
            buf.extend_from_slice(&raw[last..cut]);
            last = cut;
            if let Some(len) = parse_head(&buf, limits, &mut head)? {
                assert_eq!(len, head.len);
                assert!(len <= buf.len());
                return Ok(Some(head));
            }
        }
        Ok(None)
    }

    /// Decodes `raw` delivered in the pieces `cuts` gives, as the socket loop would: unread
    /// input is kept and extended. Returns the body and how many bytes of `raw` it took;
    /// an error with status 0 when the input ran out first.
    pub fn decode_in(framing: Framing, raw: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, usize), HttpError> {
        decode_with(Decoder::new(Some(framing)), raw, cuts)
    }

    /// [`decode_in`] with a decoder made beforehand (one with a body limit, say).
    pub fn decode_with(mut dec: Decoder, raw: &[u8], cuts: &[usize]) -> Result<(Vec<u8>, usize), HttpError> {
        let mut body = Vec::new();
        let mut pending: Vec<u8> = Vec::new();
        let mut taken = 0;
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&raw.len())) {
            pending.extend_from_slice(&raw[last..cut]);
            last = cut;
            loop {
                let (used, step) = dec.decode(&pending)?;
                assert!(used <= pending.len(), "consumed more than it was given");
                if let Step::Data { start, end } = step {
                    assert!(start <= end && end <= used, "data outside what was consumed");
                    body.extend_from_slice(&pending[start..end]);
                }
                // The server reads more only when the decoder asks for it: "need more" must
                // have taken every byte, or the connection would wait for bytes it has.
                if step == Step::NeedMore {
                    assert_eq!(used, pending.len(), "need more, with input left over");
                }
                pending.drain(..used);
                taken += used;
                if dec.is_done() {
                    return Ok((body, taken));
                }
                match step {
                    Step::Done => return Ok((body, taken)),
                    Step::NeedMore => break,
                    Step::Data { .. } if pending.is_empty() => break,
                    Step::Data { start, end } => assert!(start < end, "no progress"),
                }
            }
        }
        Err(HttpError::new(0, "incomplete"))
    }
}
