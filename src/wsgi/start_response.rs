//! `start_response`: the application's status and headers, and how the response goes out.
//!
//! PEP 3333 lets an application call `start_response(status, headers)` and then either
//! return a body or push bytes through the `write()` callable it got back. The head is sent
//! lazily, with the first body bytes (or at the end, for an empty body), so that
//! `start_response(..., exc_info)` can still replace it after an error. This file decides the
//! framing of the response at that moment: the app's Content-Length, a length the server
//! knows, chunked for HTTP/1.1, or close-delimited for HTTP/1.0; HEAD and 1xx/204/304 get no
//! body. Status and headers are validated when given, so a CR or LF never reaches the wire.
//!
//! It writes through the request's `Exchange` (see `exchange.rs`); the connection loop
//! drives it with `send_head`, `send_body` and `finish` after the application returns.

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;

use super::exchange::{Capture, Exchange, Expect};
use crate::http::grammar::is_tchar;
use crate::http::response::{push_date_line, push_decimal, push_error, status_has_body, ChunkLine, LAST_CHUNK};

/// What the request asked of the response; set by the connection loop per request.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RequestInfo {
    pub head: bool,
    pub http10: bool,
    pub keep_alive: bool,
    pub keep_alive_requested: bool,
}

/// How body bytes go out once the head is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    NotStarted,
    Length(u64),
    Chunked,
    /// Until the connection closes (HTTP/1.0, length unknown).
    Close,
    /// HEAD or a status without a body: bytes are dropped.
    Discard,
}

/// A broken contract in a `start_response` call (Python raises for these).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartResponseError {
    /// The status is not "NNN Reason".
    Status(String),
    /// A header name is not an HTTP token.
    HeaderName(String),
    /// A header value has CR, LF, NUL or another control byte.
    HeaderValue(String),
    /// A Content-Length header that is not a number.
    ContentLength(String),
    /// Called a second time without `exc_info`.
    AlreadyCalled,
}

impl fmt::Display for StartResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartResponseError::Status(s) => write!(f, "invalid status {s:?}: want \"NNN Reason\""),
            StartResponseError::HeaderName(n) => write!(f, "invalid header name {n:?}"),
            StartResponseError::HeaderValue(n) => write!(f, "invalid value for header {n:?}: control characters"),
            StartResponseError::ContentLength(v) => write!(f, "invalid Content-Length {v:?}"),
            StartResponseError::AlreadyCalled => f.write_str("start_response called a second time without exc_info"),
        }
    }
}

impl std::error::Error for StartResponseError {}

/// Why sending a response stopped early; the connection is closed after any of these.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The socket failed: the client went away or stalled.
    Io(io::Error),
    /// The application broke the protocol (wrong length, no start_response).
    App(String),
    /// A request-body framing error was answered instead of the app's response.
    Replaced,
}

impl From<io::Error> for SendError {
    fn from(e: io::Error) -> SendError {
        SendError::Io(e)
    }
}

/// The panic payload that cuts a connection: `start_response` with `exc_info` after the
/// head was sent, which PEP 3333 says must re-raise.
#[derive(Debug)]
pub(crate) struct ExcInfoAbort(pub String);

/// What `start_response` takes as `response_headers`: `[(name, value), ...]`.
///
/// Arrays are taken as `[(&str, &str); N]` only, so that an empty list, `[]`, needs no type
/// annotation (`start_response.call("204 No Content", [])`); vectors and slices take any
/// string types (`Vec<(String, String)>`, `&[(&str, String)]`, ...).
///
/// ```
/// # use may_wsgi::{Body, Environ, StartResponse};
/// fn app(_environ: &mut Environ, start_response: &mut StartResponse) -> Body {
///     start_response.call("204 No Content", []);
///     Body::Empty
/// }
/// fn app2(_environ: &mut Environ, start_response: &mut StartResponse) -> Body {
///     let location = String::from("/elsewhere");
///     start_response.call("302 Found", vec![("Location", location)]);
///     Body::Empty
/// }
/// ```
pub trait HeaderList {
    /// Hands each `(name, value)` to `f`, stopping at its first error.
    fn each_header(
        self,
        f: &mut dyn FnMut(&str, &str) -> Result<(), StartResponseError>,
    ) -> Result<(), StartResponseError>;
}

impl<const N: usize> HeaderList for [(&str, &str); N] {
    fn each_header(
        self,
        f: &mut dyn FnMut(&str, &str) -> Result<(), StartResponseError>,
    ) -> Result<(), StartResponseError> {
        self.iter().try_for_each(|(k, v)| f(k, v))
    }
}

impl<const N: usize> HeaderList for &[(&str, &str); N] {
    fn each_header(
        self,
        f: &mut dyn FnMut(&str, &str) -> Result<(), StartResponseError>,
    ) -> Result<(), StartResponseError> {
        self.iter().try_for_each(|(k, v)| f(k, v))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderList for &[(K, V)] {
    fn each_header(
        self,
        f: &mut dyn FnMut(&str, &str) -> Result<(), StartResponseError>,
    ) -> Result<(), StartResponseError> {
        self.iter().try_for_each(|(k, v)| f(k.as_ref(), v.as_ref()))
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderList for Vec<(K, V)> {
    fn each_header(
        self,
        f: &mut dyn FnMut(&str, &str) -> Result<(), StartResponseError>,
    ) -> Result<(), StartResponseError> {
        self.as_slice().each_header(f)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderList for &Vec<(K, V)> {
    fn each_header(
        self,
        f: &mut dyn FnMut(&str, &str) -> Result<(), StartResponseError>,
    ) -> Result<(), StartResponseError> {
        self.as_slice().each_header(f)
    }
}

/// The `start_response` callable and the response it starts.
pub struct StartResponse {
    core: Rc<RefCell<Exchange>>,
    status: String,
    /// Reused between requests: the first `nheaders` are this response's.
    headers: Vec<(String, String)>,
    nheaders: usize,
    called: bool,
    req: RequestInfo,
    out: Out,
    pub(crate) status_code: u16,
    pub(crate) body_bytes: u64,
    pub(crate) must_close: bool,
    /// Sends no head and frames nothing: body bytes go to the exchange as they are (see
    /// [`StartResponse::capturing`]).
    capture: bool,
}

/// What the server makes of a response header the application gave.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderKind {
    ContentLength,
    Date,
    /// `Connection`: read for "close", then dropped with the other hop-by-hop fields.
    Connection,
    /// Hop-by-hop (RFC 9110 7.6.1): about this connection, which is the server's business;
    /// PEP 3333 forbids them to applications, so they are left out of the head.
    HopByHop,
    Other,
}

/// Sorts a header name by its length first: most names an application sends are none of
/// these, and are told so by one comparison.
fn header_kind(name: &str) -> HeaderKind {
    let is = |known: &str| name.eq_ignore_ascii_case(known);
    match name.len() {
        2 if is("te") => HeaderKind::HopByHop,
        4 if is("date") => HeaderKind::Date,
        7 if is("trailer") || is("upgrade") => HeaderKind::HopByHop,
        10 if is("connection") => HeaderKind::Connection,
        10 if is("keep-alive") => HeaderKind::HopByHop,
        14 if is("content-length") => HeaderKind::ContentLength,
        16 if is("proxy-connection") => HeaderKind::HopByHop,
        17 if is("transfer-encoding") => HeaderKind::HopByHop,
        _ => HeaderKind::Other,
    }
}

/// Control bytes other than HTAB: never allowed in a status or a header value, so a CR or LF
/// cannot end a line early and inject headers.
fn has_control(bytes: &[u8]) -> bool {
    // A fold without early exit, so the compiler can test many bytes at once: values are
    // short and almost always clean, so stopping early saves nothing.
    bytes.iter().fold(false, |bad, &b| bad | is_control(b))
}

fn is_control(b: u8) -> bool {
    // Bitwise, not short-circuit: the fold above stays one pass the compiler can widen.
    ((b < 0x20) & (b != b'\t')) | (b == 0x7f)
}

fn check_header(name: &str, value: &str) -> Result<(), StartResponseError> {
    if name.is_empty() || !name.bytes().all(is_tchar) {
        return Err(StartResponseError::HeaderName(name.to_owned()));
    }
    if has_control(value.as_bytes()) {
        return Err(StartResponseError::HeaderValue(name.to_owned()));
    }
    if header_kind(name) == HeaderKind::ContentLength && value.trim().parse::<u64>().is_err() {
        return Err(StartResponseError::ContentLength(value.to_owned()));
    }
    Ok(())
}

/// Checks "NNN Reason" (or a bare "NNN") and returns NNN.
fn check_status(status: &str) -> Result<u16, StartResponseError> {
    if status == "200 OK" {
        return Ok(200);
    }
    let bad = || StartResponseError::Status(status.to_owned());
    let bytes = status.as_bytes();
    if bytes.len() < 3 || !bytes[..3].iter().all(u8::is_ascii_digit) || bytes[0] == b'0' {
        return Err(bad());
    }
    match bytes.get(3) {
        None => {}
        Some(b' ') if !has_control(&bytes[4..]) => {}
        Some(_) => return Err(bad()),
    }
    Ok(bytes[..3].iter().fold(0, |code, &d| code * 10 + u16::from(d - b'0')))
}

impl StartResponse {
    pub(crate) fn new(core: Rc<RefCell<Exchange>>) -> StartResponse {
        StartResponse {
            core,
            status: String::new(),
            headers: Vec::new(),
            nheaders: 0,
            called: false,
            req: RequestInfo::default(),
            out: Out::NotStarted,
            status_code: 0,
            body_bytes: 0,
            must_close: false,
            capture: false,
        }
    }

    /// A `start_response` for calling an application in memory, with no socket: it records
    /// status and headers as usual, and what the app pushes through the legacy `write()`
    /// callable lands, unframed, in the returned buffer. Nothing is ever sent anywhere.
    /// WebOb's `Request.call_application` passes such a callable to the app it calls.
    pub(crate) fn capturing() -> (StartResponse, Rc<RefCell<Vec<u8>>>) {
        let written = Rc::new(RefCell::new(Vec::new()));
        let exchange: Rc<RefCell<Exchange>> = Rc::new(RefCell::new(Exchange::new(
            Capture(written.clone()),
            Default::default(),
            Vec::new(),
        )));
        let mut sr = StartResponse::new(exchange);
        sr.capture = true;
        (sr, written)
    }

    /// Readies for the next request on the connection.
    pub(crate) fn begin(&mut self, req: RequestInfo) {
        self.status.clear();
        self.nheaders = 0;
        self.called = false;
        self.req = req;
        self.out = Out::NotStarted;
        self.status_code = 0;
        self.body_bytes = 0;
        self.must_close = false;
    }

    /// `start_response(status, response_headers)`.
    ///
    /// Returns the legacy `write()` callable. Like Python, a broken contract (bad status,
    /// bad header, a second call) is raised: here it panics, which the server turns into a
    /// 500. Use [`StartResponse::try_call`] to handle it instead.
    pub fn call(&mut self, status: &str, headers: impl HeaderList) -> Writer<'_> {
        match self.try_call(status, headers) {
            Ok(writer) => writer,
            Err(e) => panic!("start_response: {e}"),
        }
    }

    /// `start_response` that reports a broken contract instead of panicking.
    pub fn try_call(&mut self, status: &str, headers: impl HeaderList) -> Result<Writer<'_>, StartResponseError> {
        if self.called {
            return Err(StartResponseError::AlreadyCalled);
        }
        self.set_response(status, headers)?;
        Ok(Writer { sr: self })
    }

    /// `start_response(status, response_headers, exc_info)`: after an error, replaces a
    /// response whose head has not gone out yet. If it has, the error is re-raised: the
    /// server cuts the connection, as PEP 3333 asks.
    pub fn call_with_exc_info(
        &mut self,
        status: &str,
        headers: impl HeaderList,
        exc_info: impl fmt::Display,
    ) -> Writer<'_> {
        if self.head_sent() {
            std::panic::resume_unwind(Box::new(ExcInfoAbort(exc_info.to_string())));
        }
        if let Err(e) = self.set_response(status, headers) {
            panic!("start_response: {e}");
        }
        Writer { sr: self }
    }

    fn set_response(&mut self, status: &str, headers: impl HeaderList) -> Result<(), StartResponseError> {
        let code = check_status(status)?;
        let old = self.nheaders;
        self.nheaders = 0;
        let added = headers.each_header(&mut |name, value| {
            check_header(name, value)?;
            self.push_header(name, value);
            Ok(())
        });
        if let Err(e) = added {
            self.nheaders = old.min(self.nheaders);
            return Err(e);
        }
        self.status.clear();
        self.status.push_str(status);
        self.status_code = code;
        self.called = true;
        Ok(())
    }

    fn push_header(&mut self, name: &str, value: &str) {
        // Reuse the strings of earlier requests: no allocation once a connection is warm.
        if self.nheaders < self.headers.len() {
            let slot = &mut self.headers[self.nheaders];
            slot.0.clear();
            slot.0.push_str(name);
            slot.1.clear();
            slot.1.push_str(value);
        } else {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        self.nheaders += 1;
    }

    /// True once `start_response` has been called for this request.
    pub fn is_called(&self) -> bool {
        self.called
    }

    /// True once the head is on its way to the client; status and headers are final.
    pub fn head_sent(&self) -> bool {
        self.out != Out::NotStarted
    }

    /// False for HEAD and for statuses without a body: the body need not be produced.
    pub(crate) fn wants_body(&self) -> bool {
        !self.req.head && status_has_body(self.status_code)
    }

    /// The status given to `start_response` ("200 OK").
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The headers given to `start_response`, as middleware sees them.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers[..self.nheaders]
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// For middleware: replaces the status before the head is sent.
    pub fn set_status(&mut self, status: &str) -> Result<(), StartResponseError> {
        self.status_code = check_status(status)?;
        self.status.clear();
        self.status.push_str(status);
        Ok(())
    }

    /// For middleware: adds a header before the head is sent.
    pub fn add_header(&mut self, name: &str, value: &str) -> Result<(), StartResponseError> {
        check_header(name, value)?;
        self.push_header(name, value);
        Ok(())
    }

    /// For middleware: removes every header of that name; returns how many there were.
    pub fn remove_header(&mut self, name: &str) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < self.nheaders {
            if self.headers[i].0.eq_ignore_ascii_case(name) {
                self.headers[i..self.nheaders].rotate_left(1);
                self.nheaders -= 1;
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// For middleware: sets a header, replacing any of the same name.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), StartResponseError> {
        check_header(name, value)?;
        self.remove_header(name);
        self.push_header(name, value);
        Ok(())
    }

    /// The legacy `write(data)` callable: sends the head if needed, then `data`, at once.
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.called {
            return Err(io::Error::other("write() before start_response"));
        }
        self.send_body(data, true).map_err(|e| match e {
            SendError::Io(e) => e,
            SendError::App(msg) => io::Error::other(msg),
            SendError::Replaced => io::Error::other("request body was malformed; response replaced"),
        })
    }

    /// Sends the head. `known_len` is the body length when the server knows it (a bytes
    /// body), used when the app gave no Content-Length.
    pub(crate) fn send_head(&mut self, known_len: Option<u64>) -> Result<(), SendError> {
        if self.head_sent() {
            return Ok(());
        }
        let core_rc = self.core.clone();
        let mut core = core_rc.borrow_mut();
        if let Some(e) = core.body_error {
            // The request body turned out malformed while the app read it: the app's
            // answer was built on a broken request, so the client gets the 400 instead.
            self.body_bytes = push_error(&mut core.wbuf, e.status, e.reason) as u64;
            core.head_sent = true;
            self.out = Out::Discard;
            self.status_code = e.status;
            self.must_close = true;
            return Err(SendError::Replaced);
        }
        if self.capture {
            // In memory: no head and no framing; body bytes are kept as they are.
            self.out = if status_has_body(self.status_code) {
                Out::Close
            } else {
                Out::Discard
            };
            core.head_sent = true;
            return Ok(());
        }
        let mut app_len = None;
        let mut has_date = false;
        let mut app_close = false;
        let expect_pending = core.expect == Expect::Pending;
        let w = &mut core.wbuf;
        if self.status == "200 OK" {
            w.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        } else {
            w.extend_from_slice(b"HTTP/1.1 ");
            w.extend_from_slice(self.status.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        for (name, value) in &self.headers[..self.nheaders] {
            match header_kind(name) {
                HeaderKind::ContentLength => app_len = value.trim().parse::<u64>().ok(),
                HeaderKind::Date => has_date = true,
                HeaderKind::Connection => {
                    app_close |= value.split(',').any(|t| t.trim().eq_ignore_ascii_case("close"));
                    continue;
                }
                HeaderKind::HopByHop => continue,
                HeaderKind::Other => {}
            }
            w.extend_from_slice(name.as_bytes());
            w.extend_from_slice(b": ");
            w.extend_from_slice(value.as_bytes());
            w.extend_from_slice(b"\r\n");
        }
        let has_body = status_has_body(self.status_code);
        // Without a 100 Continue the client may still be holding its body back; we
        // cannot tell, so the connection cannot carry another request.
        self.must_close |= !self.req.keep_alive || app_close || expect_pending;

        let framing = if !has_body {
            Out::Discard
        } else if let Some(n) = app_len {
            Out::Length(n)
        } else if let Some(n) = known_len {
            w.extend_from_slice(b"Content-Length: ");
            push_decimal(w, n);
            w.extend_from_slice(b"\r\n");
            Out::Length(n)
        } else if !self.req.http10 {
            w.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            Out::Chunked
        } else {
            if !self.req.head {
                self.must_close = true;
            }
            Out::Close
        };
        if !has_date {
            push_date_line(w);
        }
        if self.must_close {
            w.extend_from_slice(b"Connection: close\r\n");
        } else if self.req.keep_alive_requested {
            w.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        w.extend_from_slice(b"\r\n");
        core.head_sent = true;
        self.out = if self.req.head { Out::Discard } else { framing };
        Ok(())
    }

    /// Sends body bytes (the head first if it has not gone yet); `flush` pushes them to the
    /// socket now, for streamed bodies.
    pub(crate) fn send_body(&mut self, data: &[u8], flush: bool) -> Result<(), SendError> {
        if !self.head_sent() {
            self.send_head(None)?;
        }
        let mut core = self.core.borrow_mut();
        match self.out {
            Out::Discard | Out::NotStarted => return Ok(()),
            Out::Length(remaining) => {
                if data.len() as u64 > remaining {
                    self.must_close = true;
                    return Err(SendError::App(format!(
                        "application sent more than its Content-Length ({} bytes over)",
                        data.len() as u64 - remaining
                    )));
                }
                self.out = Out::Length(remaining - data.len() as u64);
                core.send(&[data])?;
            }
            Out::Chunked => {
                if data.is_empty() {
                    return Ok(());
                }
                core.send(&[ChunkLine::new(data.len()).as_bytes(), data, b"\r\n"])?;
            }
            Out::Close => core.send(&[data])?,
        }
        self.body_bytes += data.len() as u64;
        if flush {
            core.flush()?;
        }
        Ok(())
    }

    /// Ends the response: the last chunk, the length check, and a flush.
    pub(crate) fn finish(&mut self) -> Result<(), SendError> {
        if !self.head_sent() {
            self.send_head(Some(0))?;
        }
        let mut core = self.core.borrow_mut();
        if core.body_error.is_some() {
            // The request body was refused (malformed, or past --limit-request-body) after
            // the head went out: the response was built on a broken request, so it must
            // not look complete. No last chunk; the connection closes.
            core.flush()?;
            return Err(SendError::Replaced);
        }
        let result = match self.out {
            Out::Chunked => core.send(&[LAST_CHUNK]).map_err(SendError::Io),
            Out::Length(missing) if missing > 0 => {
                self.must_close = true;
                Err(SendError::App(format!(
                    "application sent less than its Content-Length ({missing} bytes short)"
                )))
            }
            _ => Ok(()),
        };
        core.flush()?;
        result
    }

    /// Answers with the server's own error instead of the application's response (a panic
    /// before the head went out). False when the head had already gone.
    pub(crate) fn send_error(&mut self, status: u16, detail: &str) -> bool {
        if self.head_sent() {
            return false;
        }
        let mut core = self.core.borrow_mut();
        self.body_bytes = push_error(&mut core.wbuf, status, detail) as u64;
        core.head_sent = true;
        self.out = Out::Discard;
        self.status_code = status;
        self.must_close = true;
        let _ = core.flush();
        true
    }
}

impl fmt::Debug for StartResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartResponse")
            .field("status", &self.status)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("head_sent", &self.head_sent())
            .finish()
    }
}

/// The `write()` callable `start_response` returns (the legacy, imperative body).
pub struct Writer<'a> {
    sr: &'a mut StartResponse,
}

impl io::Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sr.write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_are_found_wherever_they_are() {
        let plain = |bytes: &[u8]| bytes.iter().any(|&b| is_control(b));
        // Every byte value, at every place in values of every length around a word.
        for len in 1..=19 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut value = vec![b'a'; len];
                    value[at] = b;
                    assert_eq!(has_control(&value), plain(&value), "{b:#x} at {at} of {len}");
                    // Beside bytes that set the fast test off without being control bytes.
                    value.iter_mut().filter(|v| **v == b'a').for_each(|v| *v = b'\t');
                    assert_eq!(has_control(&value), plain(&value), "{b:#x} among tabs");
                    value.iter_mut().filter(|v| **v == b'\t').for_each(|v| *v = 0x80);
                    assert_eq!(has_control(&value), plain(&value), "{b:#x} among 0x80");
                }
            }
        }
        assert!(!has_control(b""));
    }

    #[test]
    fn status_validation() {
        assert_eq!(check_status("200 OK"), Ok(200));
        assert_eq!(check_status("404 Not Found"), Ok(404));
        assert_eq!(check_status("599"), Ok(599));
        for bad in ["", "20", "OK 200", "200OK", "200 OK\r\nX: y", "200 a\nb", "099 Low"] {
            assert!(check_status(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capturing_keeps_status_headers_and_written_bytes() {
        let (mut sr, written) = StartResponse::capturing();
        {
            let mut write = sr.call("200 OK", [("Content-Type", "text/plain")]);
            std::io::Write::write_all(&mut write, b"hello ").unwrap();
        }
        sr.write(b"world").unwrap();
        assert_eq!(sr.status(), "200 OK");
        assert_eq!(sr.header("content-type"), Some("text/plain"));
        assert!(sr.head_sent());
        assert_eq!(written.borrow().as_slice(), b"hello world");

        let (mut sr, written) = StartResponse::capturing();
        sr.call("204 No Content", []);
        sr.write(b"dropped").unwrap();
        assert!(written.borrow().is_empty());
    }

    #[test]
    fn header_lists_of_every_shape() {
        let (mut sr, _) = StartResponse::capturing();
        sr.call("200 OK", []);
        assert_eq!(sr.headers().count(), 0);
        let (mut sr, _) = StartResponse::capturing();
        let owned = vec![("X-A".to_owned(), "1".to_owned())];
        sr.call("200 OK", &owned);
        let (mut sr, _) = StartResponse::capturing();
        sr.call("200 OK", owned.as_slice());
        let (mut sr, _) = StartResponse::capturing();
        sr.call("200 OK", vec![("X-B", String::from("2"))]);
        assert_eq!(sr.header("x-b"), Some("2"));
        let (mut sr, _) = StartResponse::capturing();
        assert!(sr.try_call("200 OK", [("X", "ok"), ("Bad Name", "x")]).is_err());
        assert_eq!(sr.headers().count(), 0);
    }

    #[test]
    fn header_validation() {
        assert!(check_header("Content-Type", "text/plain").is_ok());
        assert!(check_header("X-Tab", "a\tb").is_ok());
        assert!(check_header("Bad Name", "x").is_err());
        assert!(check_header("", "x").is_err());
        assert!(check_header("X", "a\r\nInjected: 1").is_err());
        assert!(check_header("X", "a\nb").is_err());
        assert!(check_header("X", "a\0b").is_err());
        assert!(check_header("Content-Length", "ten").is_err());
        assert!(check_header("Content-Length", "10").is_ok());
    }
}
