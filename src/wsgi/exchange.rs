//! The gateway's handle on the connection it serves: one request's buffers and body state,
//! and the [`Transport`] the connection layer gives it to reach the socket.
//!
//! `wsgi.input` reads the body through it and `start_response` writes the response
//! through it while the application runs, so both hold the same `Rc<RefCell<Exchange>>`
//! (one coroutine, no locking). The connection layer (`server/connection.rs`) makes the
//! exchange around its socket and implements [`Transport`]; the gateway never names a
//! socket type, so this layer only calls down.

use std::io::{self, IoSlice};

use crate::http::response::CONTINUE;
use crate::http::{Decoder, HttpError};

/// Bytes gathered before a write: a head and a small body go out in one `write`.
pub(crate) const WBUF_SOFT: usize = 16 * 1024;

/// What the gateway needs of a socket: read body bytes and write response bytes, each
/// waiting (the coroutine, not the thread) at most the client timeout.
pub(crate) trait Transport {
    /// Reads what arrives, at least one byte; 0 when the client closed.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes every byte of `parts`.
    fn write_all_vectored(&mut self, parts: &mut [IoSlice<'_>]) -> io::Result<()>;
}

/// The transport of an exchange with no socket (`StartResponse::capturing`): reads find the
/// end at once, writes land in a shared buffer.
pub(crate) struct Capture(pub std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl Transport for Capture {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }

    fn write_all_vectored(&mut self, parts: &mut [IoSlice<'_>]) -> io::Result<()> {
        let mut out = self.0.borrow_mut();
        for part in parts.iter() {
            out.extend_from_slice(part);
        }
        Ok(())
    }
}

/// The connection's read buffer: unread bytes are `buf[pos..end]`.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    pub buf: Vec<u8>,
    pub pos: usize,
    pub end: usize,
}

impl ReadBuf {
    /// The bytes read but not yet used.
    pub fn unread(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }
}

/// Where a request stands with `Expect: 100-continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    No,
    /// The client waits for "100 Continue" before it sends its body.
    Pending,
    Sent,
}

/// One request's I/O state, around the connection's transport `T` (the connection layer
/// knows `T`; `wsgi.input` and `start_response` see `Exchange<dyn Transport>`).
pub(crate) struct Exchange<T: ?Sized = dyn Transport> {
    pub wbuf: Vec<u8>,
    /// The read buffer, at home here between requests; `wsgi.input` holds it during one.
    pub rbuf: Option<ReadBuf>,
    pub decoder: Decoder,
    pub expect: Expect,
    pub head_sent: bool,
    /// A framing error found in the request body; answered instead of the app's response.
    pub body_error: Option<HttpError>,
    /// The body could not be read to its end (client gone, timed out).
    pub body_broken: bool,
    pub io: T,
}

impl<T> Exchange<T> {
    pub fn new(io: T, rbuf: ReadBuf, wbuf: Vec<u8>) -> Exchange<T> {
        Exchange {
            wbuf,
            rbuf: Some(rbuf),
            decoder: Decoder::new(None),
            expect: Expect::No,
            head_sent: false,
            body_error: None,
            body_broken: false,
            io,
        }
    }
}

impl<T: Transport + ?Sized> Exchange<T> {
    /// Reads request-body bytes.
    pub fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read(buf)
    }

    /// Queues bytes for the client; large ones go out at once with what is queued, in
    /// one vectored write and without copying.
    pub fn send(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if self.wbuf.len() + total <= WBUF_SOFT {
            for part in parts {
                self.wbuf.extend_from_slice(part);
            }
            return Ok(());
        }
        let mut slices = [IoSlice::new(&[]); 4];
        slices[0] = IoSlice::new(&self.wbuf);
        for (slot, part) in slices[1..].iter_mut().zip(parts) {
            *slot = IoSlice::new(part);
        }
        let n = parts.len().min(3) + 1;
        let result = self.io.write_all_vectored(&mut slices[..n]);
        self.wbuf.clear();
        result
    }

    /// Writes out everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let result = self.io.write_all_vectored(&mut [IoSlice::new(&self.wbuf)]);
        self.wbuf.clear();
        result
    }

    /// Answers `Expect: 100-continue`: the client may now send its body.
    pub fn send_continue(&mut self) -> io::Result<()> {
        self.expect = Expect::Sent;
        self.wbuf.extend_from_slice(CONTINUE);
        self.flush()
    }
}
