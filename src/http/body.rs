//! The request body decoder: framed bytes in, body bytes out.
//!
//! A [`Decoder`] is made from the head's [`Framing`] and then fed whatever bytes the
//! socket produced. Each [`Decoder::decode`] call consumes framing and hands back where the
//! next run of body bytes lies in the input, so the caller (`wsgi.input`) can give them to the
//! application without copying. It never buffers: a 1 GiB upload passes through in
//! read-buffer-sized pieces. Chunked coding follows RFC 9112 section 7.1, strictly:
//!
//! ```text
//! chunk-size line = 1*HEXDIG *( ";" token [ "=" ( token / quoted-string ) ] ) CRLF
//! ```
//!
//! RFC 9112 also lets "bad whitespace" (BWS) stand around `;` and `=`, which senders must
//! not generate. It is refused here, as is any whitespace after the size (`0 \r\n`): parsers
//! that disagree on where a chunk-size ends are how a body gets smuggled past a proxy, and
//! a strict one never disagrees with a correct sender.

use super::grammar::{is_qdtext, is_quoted_pair_byte, is_tchar};
use super::request::{Framing, HttpError};

/// Longest chunk extension or trailer section we read past before refusing.
const MAX_EXTENSION: usize = 4096;
const MAX_TRAILERS: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size; `digits` counted to refuse an empty size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Inside the chunk extensions after the size, at `at`; `len` bytes of them so far.
    /// They are checked, then ignored: no application asks for them.
    Extension {
        value: u64,
        len: usize,
        at: Ext,
    },
    /// Saw the CR ending the size line; the LF must follow.
    SizeLf {
        value: u64,
    },
    /// Inside chunk data.
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// In the trailer section; `line` is the current line's length.
    Trailer {
        line: usize,
        total: usize,
    },
    TrailerLf {
        line: usize,
        total: usize,
    },
    /// Plain Content-Length body.
    Length {
        remaining: u64,
    },
    Done,
}

/// Where in `*( ";" chunk-ext-name [ "=" chunk-ext-val ] )` (RFC 9112 7.1.1) the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    /// Just after `;`: a name must start.
    NameStart,
    /// In a name (a token).
    Name,
    /// Just after `=`: a token or a quoted-string must start.
    ValueStart,
    /// In a token value.
    Token,
    /// In a quoted-string, after its opening quote.
    Quoted,
    /// After a backslash in a quoted-string: the escaped byte comes next.
    QuotedPair,
    /// After a quoted-string's closing quote.
    QuotedEnd,
}

/// What one call to [`Decoder::decode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Body bytes lie at `input[start..end]`.
    Data { start: usize, end: usize },
    /// The input was all framing (or empty): feed more bytes.
    NeedMore,
    /// The body is complete; bytes after `consumed` belong to the next request.
    Done,
}

/// The state of one request body as it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    state: State,
    /// Most body bytes accepted (`--limit-request-body`); `u64::MAX` for no limit.
    limit: u64,
    /// Body bytes announced so far: the sum of the chunk sizes read.
    announced: u64,
}

/// The refusal of a body past `--limit-request-body` (nginx's `client_max_body_size`).
pub const BODY_TOO_LARGE: HttpError = HttpError::new(413, "request body larger than the server accepts");

impl Decoder {
    /// A decoder for a body framed as `framing` says; `None` is a request without a body.
    pub fn new(framing: Option<Framing>) -> Decoder {
        let state = match framing {
            None | Some(Framing::Length(0)) => State::Done,
            Some(Framing::Length(n)) => State::Length { remaining: n },
            Some(Framing::Chunked) => State::Size { value: 0, digits: 0 },
        };
        Decoder {
            state,
            limit: u64::MAX,
            announced: 0,
        }
    }

    /// The same decoder, refusing a chunked body (413) as soon as a chunk-size line takes
    /// the body past `limit` bytes: before the first byte of that chunk reaches the
    /// application, however the bytes arrive. A Content-Length body is the caller's to
    /// check against the limit, from the head, before the application runs.
    pub fn with_limit(mut self, limit: Option<u64>) -> Decoder {
        self.limit = limit.unwrap_or(u64::MAX);
        self
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes still owed by a Content-Length body (`None` when chunked).
    pub fn remaining_length(&self) -> Option<u64> {
        match self.state {
            State::Length { remaining } => Some(remaining),
            State::Done => Some(0),
            _ => None,
        }
    }

    /// Tells the decoder that `n` body bytes were read straight from the socket, past the
    /// buffer (only for Content-Length bodies, whose bytes need no decoding).
    pub fn consumed_directly(&mut self, n: u64) {
        if let State::Length { remaining } = self.state {
            self.state = if remaining <= n {
                State::Done
            } else {
                State::Length {
                    remaining: remaining - n,
                }
            };
        }
    }

    /// Consumes framing from `input` up to the next run of body bytes.
    ///
    /// Returns how many bytes of `input` were consumed (body bytes included) and what was
    /// found. After a chunk's data, the framing that follows it is checked at once when it
    /// is already in `input`, so a malformed body is refused before its first bytes reach
    /// the application whenever the client sent it in one piece. An error is a framing
    /// error: answer 400 and close.
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Step), HttpError> {
        let mut i = self.skip_framing(input)?;
        match self.state {
            State::Done => Ok((i, Step::Done)),
            State::Length { remaining } => {
                let n = ((input.len() - i) as u64).min(remaining) as usize;
                self.state = if remaining == n as u64 {
                    State::Done
                } else {
                    State::Length {
                        remaining: remaining - n as u64,
                    }
                };
                Ok((i + n, Step::Data { start: i, end: i + n }))
            }
            State::Data { remaining } if i < input.len() => {
                let start = i;
                let n = ((input.len() - i) as u64).min(remaining) as usize;
                i += n;
                if remaining == n as u64 {
                    self.state = State::DataCr;
                    i += self.skip_framing(&input[i..])?;
                } else {
                    self.state = State::Data {
                        remaining: remaining - n as u64,
                    };
                }
                Ok((i, Step::Data { start, end: start + n }))
            }
            _ => Ok((i, Step::NeedMore)),
        }
    }

    /// Steps through framing bytes until body data starts, the body ends, or the input
    /// runs out; returns how many bytes that took.
    fn skip_framing(&mut self, input: &[u8]) -> Result<usize, HttpError> {
        for (i, &b) in input.iter().enumerate() {
            self.state = match self.state {
                State::Done | State::Length { .. } | State::Data { .. } => return Ok(i),
                State::Size { value, digits } => match hex(b) {
                    Some(d) => {
                        let value = value
                            .checked_mul(16)
                            .and_then(|v| v.checked_add(d))
                            .ok_or(HttpError::new(400, "chunk size overflow"))?;
                        State::Size {
                            value,
                            digits: digits.saturating_add(1),
                        }
                    }
                    None if digits == 0 => return Err(HttpError::new(400, "invalid chunk size")),
                    None => match b {
                        b';' => State::Extension {
                            value,
                            len: 0,
                            at: Ext::NameStart,
                        },
                        b'\r' => State::SizeLf { value },
                        b' ' | b'\t' => return Err(HttpError::new(400, "whitespace in a chunk size line")),
                        _ => return Err(HttpError::new(400, "invalid chunk size")),
                    },
                },
                State::Extension { value, len, at } => {
                    if len >= MAX_EXTENSION && b != b'\r' {
                        return Err(HttpError::new(400, "chunk extension too long"));
                    }
                    let next = |at| State::Extension {
                        value,
                        len: len + 1,
                        at,
                    };
                    match (at, b) {
                        // The line may end, or another extension start, only after a whole one.
                        (Ext::Name | Ext::Token | Ext::QuotedEnd, b'\r') => State::SizeLf { value },
                        (Ext::Name | Ext::Token | Ext::QuotedEnd, b';') => next(Ext::NameStart),
                        (Ext::NameStart | Ext::Name, b) if is_tchar(b) => next(Ext::Name),
                        (Ext::Name, b'=') => next(Ext::ValueStart),
                        (Ext::ValueStart | Ext::Token, b) if is_tchar(b) => next(Ext::Token),
                        (Ext::ValueStart, b'"') => next(Ext::Quoted),
                        (Ext::Quoted, b'"') => next(Ext::QuotedEnd),
                        (Ext::Quoted, b'\\') => next(Ext::QuotedPair),
                        (Ext::Quoted, b) if is_qdtext(b) => next(Ext::Quoted),
                        (Ext::QuotedPair, b) if is_quoted_pair_byte(b) => next(Ext::Quoted),
                        _ => return Err(HttpError::new(400, "invalid chunk extension")),
                    }
                }
                State::SizeLf { value } => match b {
                    b'\n' if value == 0 => State::Trailer { line: 0, total: 0 },
                    b'\n' => {
                        self.announced = self.announced.saturating_add(value);
                        if self.announced > self.limit {
                            return Err(BODY_TOO_LARGE);
                        }
                        State::Data { remaining: value }
                    }
                    _ => return Err(HttpError::new(400, "invalid chunk size line ending")),
                },
                State::DataCr => match b {
                    b'\r' => State::DataLf,
                    _ => return Err(HttpError::new(400, "missing CRLF after chunk data")),
                },
                State::DataLf => match b {
                    b'\n' => State::Size { value: 0, digits: 0 },
                    _ => return Err(HttpError::new(400, "missing CRLF after chunk data")),
                },
                State::Trailer { line, total } => match b {
                    b'\r' => State::TrailerLf { line, total },
                    b'\n' | 0 => return Err(HttpError::new(400, "invalid trailer")),
                    _ if total >= MAX_TRAILERS => return Err(HttpError::new(431, "trailer section too large")),
                    _ => State::Trailer {
                        line: line + 1,
                        total: total + 1,
                    },
                },
                State::TrailerLf { line, total } => match b {
                    b'\n' if line == 0 => {
                        self.state = State::Done;
                        return Ok(i + 1);
                    }
                    b'\n' => State::Trailer { line: 0, total },
                    _ => return Err(HttpError::new(400, "invalid trailer line ending")),
                },
            };
        }
        Ok(input.len())
    }
}

fn hex(b: u8) -> Option<u64> {
    (b as char).to_digit(16).map(u64::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{decode_in, ways_to_cut, Rng};

    /// Every way of cutting the input must give the same answer.
    fn decode_all_ways(framing: Framing, raw: &[u8]) -> Result<(Vec<u8>, usize), HttpError> {
        let whole = decode_in(framing, raw, &[]);
        for cuts in ways_to_cut(raw, &mut Rng::new(7), 30) {
            assert_eq!(
                whole,
                decode_in(framing, raw, &cuts),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        whole
    }

    #[test]
    fn chunked_body_every_way() {
        let raw = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\n\r\nGET /next";
        let (body, taken) = decode_all_ways(Framing::Chunked, raw).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(&raw[taken..], b"GET /next");
    }

    #[test]
    fn chunked_with_trailers_and_hex_sizes() {
        let raw = b"A\r\n0123456789\r\n1a;x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n";
        let (body, taken) = decode_all_ways(Framing::Chunked, raw).unwrap();
        assert_eq!(body, b"0123456789abcdefghijklmnopqrstuvwxyz");
        assert_eq!(taken, raw.len());
    }

    #[test]
    fn a_chunked_body_past_the_limit_is_refused_at_the_size_line_every_way() {
        use crate::http::testing::decode_with;
        let raw = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let limited = |limit| Decoder::new(Some(Framing::Chunked)).with_limit(Some(limit));
        for cuts in std::iter::once(Vec::new()).chain(ways_to_cut(raw, &mut Rng::new(11), 30)) {
            // Exactly at the limit is allowed; the body is whole.
            let (body, taken) = decode_with(limited(11), raw, &cuts).unwrap();
            assert_eq!((body.as_slice(), taken), (&b"hello world"[..], raw.len()));
            // One byte less: the second size line is refused, before its data.
            assert_eq!(decode_with(limited(10), raw, &cuts), Err(BODY_TOO_LARGE));
            assert_eq!(decode_with(limited(0), raw, &cuts), Err(BODY_TOO_LARGE));
        }
        // A huge announced chunk is refused on its size line, with no data sent at all.
        let mut dec = limited(1024);
        assert_eq!(dec.decode(b"ffffffff\r\n"), Err(BODY_TOO_LARGE));
        // No limit: the same decoder as before.
        assert_eq!(
            Decoder::new(Some(Framing::Chunked)).with_limit(None),
            Decoder::new(Some(Framing::Chunked))
        );
    }

    #[test]
    fn content_length_body_every_way() {
        let raw = b"hello worldEXTRA";
        let (body, taken) = decode_all_ways(Framing::Length(11), raw).unwrap();
        assert_eq!(body, b"hello world");
        assert_eq!(taken, 11);
    }

    #[test]
    fn chunked_framing_errors() {
        let cases: &[&[u8]] = &[
            b"zz\r\nhello\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"10000000000000000\r\n",
            b"fffffffffffffffff\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"0\r\nX: 1\nY\r\n\r\n",
        ];
        for raw in cases {
            let err = decode_all_ways(Framing::Chunked, raw).unwrap_err();
            assert_eq!(err.status, 400, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn chunk_extensions_are_tokens_or_quoted_strings() {
        let ok: &[&[u8]] = &[
            b"5;a\r\nhello\r\n0\r\n\r\n",
            b"5;a=b\r\nhello\r\n0\r\n\r\n",
            b"5;name=value;flag;x=1\r\nhello\r\n0;last=yes\r\n\r\n",
            b"5;a=\"\"\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"quoted; with = specials\"\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"esc\\\"aped\\\\\";b\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"tab\there\"\r\nhello\r\n0\r\n\r\n",
            b"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n",
        ];
        for raw in ok {
            let (body, taken) = decode_all_ways(Framing::Chunked, raw)
                .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(raw)));
            assert_eq!((body.as_slice(), taken), (&b"hello"[..], raw.len()));
        }
        let bad: &[&[u8]] = &[
            // No whitespace after the size, nor around ";" and "=" (BWS is refused).
            b"0 \r\n\r\n",
            b"0\t\r\n\r\n",
            b"5 ;a\r\nhello\r\n0\r\n\r\n",
            b"5; a\r\nhello\r\n0\r\n\r\n",
            b"5;a =b\r\nhello\r\n0\r\n\r\n",
            b"5;a= b\r\nhello\r\n0\r\n\r\n",
            b"5;a=b \r\nhello\r\n0\r\n\r\n",
            b" 5\r\nhello\r\n0\r\n\r\n",
            // A bare ";", an empty name or value, a name that is not a token.
            b"5;\r\nhello\r\n0\r\n\r\n",
            b"5;;a\r\nhello\r\n0\r\n\r\n",
            b"5;a;\r\nhello\r\n0\r\n\r\n",
            b"5;=b\r\nhello\r\n0\r\n\r\n",
            b"5;a=\r\nhello\r\n0\r\n\r\n",
            b"5;a==b\r\nhello\r\n0\r\n\r\n",
            b"5;a(b\r\nhello\r\n0\r\n\r\n",
            b"5;a/b=c\r\nhello\r\n0\r\n\r\n",
            b"5;a=b/c\r\nhello\r\n0\r\n\r\n",
            b"5;a=b\"c\"\r\nhello\r\n0\r\n\r\n",
            // Quoted strings: closed, no control bytes, escapes of visible bytes only.
            b"5;a=\"open\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"x\"y\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"x\x00\"\r\nhello\r\n0\r\n\r\n",
            b"5;a=\"x\\\r\"\r\nhello\r\n0\r\n\r\n",
            // A bare CR or LF in an extension (gunicorn's chunked_14 and chunked_11).
            b"5;ext=val\rue\r\nhello\r\n0\r\n\r\n",
            b"5\n;\r\nhello\r\n0\r\n\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            // gunicorn's chunked_01, chunked_12, chunked_13: no size, or a size with junk.
            b"6_0\r\n world\r\n0\r\n\r\n",
            b";foo=bar\r\nhello\r\n0\r\n\r\n",
            b"\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
        ];
        for raw in bad {
            let err = decode_all_ways(Framing::Chunked, raw).unwrap_err();
            assert_eq!(err.status, 400, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn whitespace_after_the_size_is_named() {
        let err = decode_in(Framing::Chunked, b"0 \r\n\r\n", &[]).unwrap_err();
        assert_eq!(err.reason, "whitespace in a chunk size line");
        let err = decode_in(Framing::Chunked, b"5;\r\n", &[]).unwrap_err();
        assert_eq!(err.reason, "invalid chunk extension");
    }

    #[test]
    fn overflow_is_named() {
        let err = decode_in(Framing::Chunked, b"10000000000000000\r\n", &[]).unwrap_err();
        assert_eq!(err.reason, "chunk size overflow");
        // The largest size that fits is not an overflow.
        let mut dec = Decoder::new(Some(Framing::Chunked));
        assert!(dec.decode(b"ffffffffffffffff\r\n").is_ok());
    }

    #[test]
    fn missing_crlf_after_data_is_named() {
        let err = decode_in(Framing::Chunked, b"5\r\nhelloX\r\n", &[]).unwrap_err();
        assert_eq!(err.reason, "missing CRLF after chunk data");
    }

    #[test]
    fn long_extension_and_trailers_are_refused() {
        let mut raw = b"5;".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_EXTENSION + 10));
        raw.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(decode_in(Framing::Chunked, &raw, &[]).unwrap_err().status, 400);
        let mut raw = b"0\r\nX: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_TRAILERS + 10));
        assert_eq!(decode_in(Framing::Chunked, &raw, &[]).unwrap_err().status, 431);
    }

    #[test]
    fn garbage_never_panics() {
        let mut rng = Rng::new(9);
        let alphabet = b"0123456789abcdefABCDEFxz;= \t\r\n\0";
        for _ in 0..3000 {
            let raw: Vec<u8> = (0..rng.below(80))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let mut dec = Decoder::new(Some(Framing::Chunked));
            let mut rest: &[u8] = &raw;
            while let Ok((used, step)) = dec.decode(rest) {
                assert!(used <= rest.len());
                if let Step::Data { start, end } = step {
                    assert!(start <= end && end <= used);
                }
                rest = &rest[used..];
                if used == 0 || matches!(step, Step::Done | Step::NeedMore) {
                    break;
                }
            }
        }
    }

    #[test]
    fn no_body_is_done_at_once() {
        let mut dec = Decoder::new(None);
        assert!(dec.is_done());
        assert_eq!(dec.decode(b"GET").unwrap(), (0, Step::Done));
        assert!(Decoder::new(Some(Framing::Length(0))).is_done());
    }

    #[test]
    fn direct_reads_count_against_the_length() {
        let mut dec = Decoder::new(Some(Framing::Length(10)));
        dec.consumed_directly(4);
        assert_eq!(dec.remaining_length(), Some(6));
        dec.consumed_directly(6);
        assert!(dec.is_done());
    }
}
