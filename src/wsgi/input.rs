//! `wsgi.input`: the request body as a stream the application reads.
//!
//! An [`Input`] owns the connection's read buffer while a request is being served and
//! decodes the body out of it (Content-Length or chunked) as the application asks, reading
//! the socket only when the buffer runs dry. Nothing buffers the whole body. On its first
//! socket read it answers `Expect: 100-continue`, unless the response has started.
//!
//! The application may move the `Input` out of the environ (into a streaming [`Body`],
//! say). When it is dropped it hands the buffer, with any pipelined bytes of the next
//! request, back to the connection, so the connection loop always gets its buffer back.
//!
//! [`Body`]: crate::wsgi::Body

use std::cell::RefCell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use super::exchange::{Exchange, Expect, ReadBuf};
use crate::http::{Decoder, Framing, HttpError, Step};

/// The request body stream (`environ['wsgi.input']`): [`Read`], [`BufRead`], lines.
pub struct Input {
    rb: ReadBuf,
    /// Decoded body bytes in `rb.buf` not yet given to the reader.
    window: (usize, usize),
    decoder: Decoder,
    /// The connection this body arrives on; `None` for an input made from bytes.
    core: Option<Rc<RefCell<Exchange>>>,
    error: Option<io::ErrorKind>,
}

impl Input {
    /// An input with no body at all (what remains in the environ after `take_input`).
    pub fn empty() -> Input {
        Input::detached(Vec::new(), None)
    }

    /// An input that reads `body` as if it had arrived framed as `framing`: handy for
    /// testing an application or middleware without a socket.
    pub fn from_bytes(body: Vec<u8>, framing: Option<Framing>) -> Input {
        Input::detached(body, framing)
    }

    fn detached(body: Vec<u8>, framing: Option<Framing>) -> Input {
        let end = body.len();
        Input {
            rb: ReadBuf { buf: body, pos: 0, end },
            window: (0, 0),
            decoder: Decoder::new(framing),
            core: None,
            error: None,
        }
    }

    /// Takes the connection's buffer and body state for one request.
    pub(crate) fn attach(core: &Rc<RefCell<Exchange>>) -> Option<Input> {
        let mut c = core.borrow_mut();
        let rb = c.rbuf.take()?;
        Some(Input {
            rb,
            window: (0, 0),
            decoder: c.decoder,
            core: Some(core.clone()),
            error: None,
        })
    }

    /// An input as `Input::empty()` makes it, untouched: nothing of any request in it.
    pub(crate) fn is_pristine(&self) -> bool {
        self.core.is_none()
            && self.rb.buf.capacity() == 0
            && self.window == (0, 0)
            && self.decoder.is_done()
            && self.error.is_none()
    }

    /// True once the whole body has been read (or there was none).
    pub fn is_done(&self) -> bool {
        self.window.0 == self.window.1 && self.decoder.is_done()
    }

    /// Reads one line, up to and including `\n`, as bytes (Python's `readline()`); empty
    /// at the end of the body.
    pub fn readline(&mut self) -> io::Result<Vec<u8>> {
        let mut line = Vec::new();
        self.read_until(b'\n', &mut line)?;
        Ok(line)
    }

    /// Iterates the body line by line, as `for line in environ['wsgi.input']`.
    pub fn iter_lines(&mut self) -> impl Iterator<Item = io::Result<Vec<u8>>> + '_ {
        std::iter::from_fn(move || match self.readline() {
            Ok(line) if line.is_empty() => None,
            other => Some(other),
        })
    }

    /// Reads and throws away what is left of the body, up to `limit` bytes. True when the
    /// body ended within the limit, so the connection can carry another request.
    pub(crate) fn drain(&mut self, limit: u64) -> bool {
        let mut seen = 0u64;
        loop {
            match self.fill_buf() {
                Ok([]) => return self.error.is_none(),
                Ok(data) => {
                    let n = data.len();
                    self.consume(n);
                    seen += n as u64;
                    if seen > limit {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }

    fn fail(&mut self, kind: io::ErrorKind, why: HttpError) -> io::Error {
        self.error = Some(kind);
        if let Some(core) = &self.core {
            let mut core = core.borrow_mut();
            if matches!(kind, io::ErrorKind::InvalidData | io::ErrorKind::FileTooLarge) {
                core.body_error.get_or_insert(why);
            } else {
                core.body_broken = true;
            }
        }
        io::Error::new(kind, why.reason)
    }

    /// Reads more framed bytes from the socket into the (drained) buffer.
    fn read_socket(&mut self, into_user: Option<&mut [u8]>) -> io::Result<usize> {
        let Some(core) = &self.core else {
            return Ok(0);
        };
        let mut core = core.borrow_mut();
        if core.expect == Expect::Pending && !core.head_sent {
            core.send_continue()?;
        }
        match into_user {
            Some(buf) => core.read_body(buf),
            None => {
                // Called only with the buffer drained, so it can be refilled from the start.
                self.rb.pos = 0;
                self.rb.end = 0;
                let n = core.read_body(&mut self.rb.buf)?;
                self.rb.end = n;
                Ok(n)
            }
        }
    }

    fn socket_error(&mut self, e: io::Error) -> io::Error {
        let why = if e.kind() == io::ErrorKind::TimedOut {
            HttpError::new(408, "timed out reading the request body")
        } else {
            HttpError::new(400, "connection failed while reading the request body")
        };
        self.fail(e.kind(), why)
    }
}

/// The kind of the error a read of `wsgi.input` returns for a body the server refuses:
/// `FileTooLarge` for one past `--limit-request-body` (answered 413), `InvalidData` for
/// broken chunked framing (answered 400). Either way the application's own response is
/// replaced by that answer if its head is not sent yet, and the connection is closed.
fn body_error_kind(why: &HttpError) -> io::ErrorKind {
    if why.status == 413 {
        io::ErrorKind::FileTooLarge
    } else {
        io::ErrorKind::InvalidData
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            if self.window.0 < self.window.1 {
                return Ok(&self.rb.buf[self.window.0..self.window.1]);
            }
            if let Some(kind) = self.error {
                return Err(io::Error::new(kind, "request body failed earlier"));
            }
            if self.decoder.is_done() {
                return Ok(&[]);
            }
            if self.rb.pos < self.rb.end {
                let pos = self.rb.pos;
                match self.decoder.decode(&self.rb.buf[pos..self.rb.end]) {
                    Ok((used, step)) => {
                        if let Step::Data { start, end } = step {
                            self.window = (pos + start, pos + end);
                        }
                        self.rb.pos += used;
                    }
                    Err(why) => return Err(self.fail(body_error_kind(&why), why)),
                }
                continue;
            }
            match self.read_socket(None) {
                Ok(0) => {
                    let why = HttpError::new(400, "client closed the connection before the body ended");
                    return Err(self.fail(io::ErrorKind::UnexpectedEof, why));
                }
                Ok(_) => {}
                Err(e) => return Err(self.socket_error(e)),
            }
        }
    }

    fn consume(&mut self, amt: usize) {
        self.window.0 = (self.window.0 + amt).min(self.window.1);
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A large read of a Content-Length body with nothing buffered goes straight from
        // the socket into the caller's buffer: one copy fewer for big uploads.
        if self.window.0 == self.window.1 && self.rb.pos == self.rb.end && self.error.is_none() {
            if let Some(remaining) = self.decoder.remaining_length() {
                if remaining > 0 && buf.len() >= self.rb.buf.len() && self.core.is_some() {
                    let want = (buf.len() as u64).min(remaining) as usize;
                    return match self.read_socket(Some(&mut buf[..want])) {
                        Ok(0) => {
                            let why = HttpError::new(400, "client closed the connection before the body ended");
                            Err(self.fail(io::ErrorKind::UnexpectedEof, why))
                        }
                        Ok(n) => {
                            self.decoder.consumed_directly(n as u64);
                            Ok(n)
                        }
                        Err(e) => Err(self.socket_error(e)),
                    };
                }
            }
        }
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if let Some(core) = self.core.take() {
            // Hand the buffer, with whatever follows this body in it, back to the connection.
            let mut core = core.borrow_mut();
            core.decoder = self.decoder;
            if self.error.is_some() {
                core.body_broken = true;
            }
            core.rbuf = Some(std::mem::take(&mut self.rb));
        }
    }
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("done", &self.is_done()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_content_length_body() {
        let mut input = Input::from_bytes(b"hello worldNEXT".to_vec(), Some(Framing::Length(11)));
        let mut body = String::new();
        input.read_to_string(&mut body).unwrap();
        assert_eq!(body, "hello world");
        assert!(input.is_done());
    }

    #[test]
    fn reads_lines_of_a_chunked_body() {
        let raw = b"4\r\nab\nc\r\n3\r\nd\ne\r\n0\r\n\r\n".to_vec();
        let mut input = Input::from_bytes(raw, Some(Framing::Chunked));
        let lines: Vec<Vec<u8>> = input.iter_lines().map(Result::unwrap).collect();
        assert_eq!(lines, vec![b"ab\n".to_vec(), b"cd\n".to_vec(), b"e".to_vec()]);
    }

    #[test]
    fn framing_error_is_invalid_data() {
        let mut input = Input::from_bytes(b"zz\r\n".to_vec(), Some(Framing::Chunked));
        let err = input.read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_body_past_the_limit_is_file_too_large() {
        let raw = b"4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n".to_vec();
        let mut input = Input::from_bytes(raw, Some(Framing::Chunked));
        input.decoder = input.decoder.with_limit(Some(6));
        let mut out = Vec::new();
        let err = input.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        // Framing that follows a chunk is checked with it, so the refusal may come first.
        assert!(out.len() <= 6, "nothing past the limit reached the reader");
        assert_eq!(
            input.read(&mut [0; 4]).unwrap_err().kind(),
            io::ErrorKind::FileTooLarge,
            "and it stays failed"
        );
    }

    #[test]
    fn truncated_body_is_an_error_not_an_end() {
        let mut input = Input::from_bytes(b"abc".to_vec(), Some(Framing::Length(10)));
        let mut out = Vec::new();
        assert_eq!(
            input.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn empty_input_is_at_its_end() {
        let mut input = Input::empty();
        assert_eq!(input.read(&mut [0; 4]).unwrap(), 0);
        assert!(input.readline().unwrap().is_empty());
    }
}
