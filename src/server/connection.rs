//! The connection loop: the only code that reads and writes client sockets.
//!
//! One coroutine runs [`serve`] for one connection, request after request:
//!
//! ```text
//! read_head -> environ.begin + wsgi.input -> app.call(environ, start_response)
//!   -> send_response (head, body bytes, last chunk) -> drop body (close())
//!   -> drain what the app left of the request body -> access log -> keep-alive or close
//! ```
//!
//! The socket and its buffers live in a [`Core`] shared (`Rc<RefCell<_>>`, one coroutine,
//! no locking) with `wsgi.input`, which reads the body through it while the app runs, and
//! with `start_response`, whose `write()` sends through it. Blocking calls here yield the
//! coroutine, never the thread, so a slow client delays nobody else.

use std::any::Any;
use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::net::{Peer, Stream};
use super::timeouts::{Timeouts, Watch};
use super::Shared;
use crate::http::response::{push_error, CONTINUE};
use crate::http::{parse_head, Decoder, Head, HttpError};
use crate::wsgi::{Body, ConnInfo, Environ, ExcInfoAbort, Input, RequestInfo, SendError, StartResponse};

/// Bytes gathered before a write: a head and a small body go out in one `write`.
const WBUF_SOFT: usize = 16 * 1024;
/// The read buffer's starting size; it grows only for a head that needs more.
const RBUF_INITIAL: usize = 16 * 1024;
/// How long and how much a lingering close reads before it gives up.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 256 * 1024;

/// The connection's read buffer: unread bytes are `buf[pos..end]`.
#[derive(Debug, Default)]
pub(crate) struct ReadBuf {
    pub buf: Vec<u8>,
    pub pos: usize,
    pub end: usize,
}

/// Where a request stands with `Expect: 100-continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    No,
    /// The client waits for "100 Continue" before it sends its body.
    Pending,
    Sent,
}

/// One connection's socket and per-request I/O state.
pub(crate) struct Core {
    stream: Stream,
    timeouts: Arc<Timeouts>,
    watch: Arc<Watch>,
    client_timeout: Duration,
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
}

impl Core {
    fn new(stream: Stream, timeouts: Arc<Timeouts>, client_timeout: Duration) -> Core {
        let watch = timeouts.register(stream.waker());
        Core {
            stream,
            timeouts,
            watch,
            client_timeout,
            wbuf: Vec::with_capacity(WBUF_SOFT),
            rbuf: Some(ReadBuf {
                buf: vec![0; RBUF_INITIAL],
                pos: 0,
                end: 0,
            }),
            decoder: Decoder::new(None),
            expect: Expect::No,
            head_sent: false,
            body_error: None,
            body_broken: false,
        }
    }

    /// Reads what the socket has, or waits for it at most `timeout` (`idle`: between
    /// requests, so a stopping server may end the wait). The socket is non-blocking; a
    /// read that would block parks the coroutine on the socket, and the server's sweeper
    /// (see `timeouts`) wakes it if the deadline passes first.
    fn read_with(&mut self, buf: &mut [u8], timeout: Duration, idle: bool) -> io::Result<usize> {
        loop {
            match self.stream.read_now(buf) {
                Ok(n) => {
                    self.watch.disarm();
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.watch.is_armed() {
                        self.watch.arm(self.timeouts.deadline_in(timeout), idle);
                    } else if self.watch.expired() {
                        self.watch.disarm();
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    self.stream.wait_io();
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.watch.disarm();
                    return Err(e);
                }
            }
        }
    }

    /// Reads request-body bytes, waiting at most the client timeout for them.
    pub fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.client_timeout;
        self.read_with(buf, timeout, false)
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
        let mut slices = &mut slices[..parts.len().min(3) + 1];
        while !slices.is_empty() {
            let n = self.stream.write_vectored(slices)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        self.wbuf.clear();
        Ok(())
    }

    /// Writes out everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            let result = self.stream.write_all(&self.wbuf);
            self.wbuf.clear();
            result?;
        }
        Ok(())
    }

    /// Answers `Expect: 100-continue`: the client may now send its body.
    pub fn send_continue(&mut self) -> io::Result<()> {
        self.expect = Expect::Sent;
        self.wbuf.extend_from_slice(CONTINUE);
        self.flush()
    }

    /// Closes so that a final answer is not lost: a client still sending gets a reset if we
    /// close with its bytes unread, and a reset can destroy our answer in flight. So: send,
    /// shut our side, and read what is still coming for a short while.
    fn lingering_close(&mut self) {
        let _ = self.flush();
        let _ = self.stream.shutdown(Shutdown::Write);
        let deadline = Instant::now() + LINGER_TIME;
        let mut scratch = [0u8; 8192];
        let mut seen = 0;
        while seen < LINGER_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.read_with(&mut scratch, left, false) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen += n,
            }
        }
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.timeouts.unregister(&self.watch);
    }
}

/// How waiting for a request head ended.
enum HeadOutcome {
    /// A head is parsed; it lies at the start of the unread bytes.
    Ready,
    /// The client closed, stayed idle past keep-alive, or the server is stopping.
    Closed,
    /// The head broke a rule: answer with this and close.
    Refused(HttpError),
}

/// Serves one client connection until it closes. Runs in the connection's coroutine.
pub(crate) fn serve(stream: Stream, peer: Peer, shared: &Shared) {
    let cfg = &shared.config;
    stream.prepare((!cfg.client_timeout.is_zero()).then_some(cfg.client_timeout));
    let (server_name, server_port) = stream.server_name_port();
    let (remote_addr, remote_port) = match peer {
        Peer::Tcp(a) => (a.ip().to_string(), a.port().to_string()),
        Peer::Unix => (String::new(), String::new()),
    };
    let info = ConnInfo {
        server_name,
        server_port,
        remote_addr,
        remote_port,
        script_name: cfg.script_name.clone(),
        url_scheme: cfg.url_scheme.clone(),
        multiprocess: cfg.multiprocess,
    };
    let client_timeout = if cfg.client_timeout.is_zero() {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        cfg.client_timeout
    };
    let core = Rc::new(RefCell::new(Core::new(stream, shared.timeouts.clone(), client_timeout)));
    let mut environ = Environ::new(info);
    let mut start_response = StartResponse::new(core.clone());
    let mut head = Head::default();
    let mut first = true;
    loop {
        match read_head(&core, &mut head, shared, first) {
            HeadOutcome::Ready => {}
            HeadOutcome::Closed => return,
            HeadOutcome::Refused(e) => {
                refuse(&core, e, &environ, shared);
                return;
            }
        }
        first = false;
        match handle_request(&core, &mut environ, &mut start_response, &head, shared) {
            Next::KeepAlive => {}
            Next::Close => return,
            Next::Linger => {
                core.borrow_mut().lingering_close();
                return;
            }
        }
    }
}

/// Waits for and parses the next request head. The first request of a connection gets the
/// client timeout to arrive; later ones the keep-alive timeout. Once the first byte is in,
/// the whole head must arrive within the client timeout (a slow-loris defence).
fn read_head(core: &RefCell<Core>, head: &mut Head, shared: &Shared, first: bool) -> HeadOutcome {
    let cfg = &shared.config;
    let mut core = core.borrow_mut();
    let Some(mut rb) = core.rbuf.take() else {
        return HeadOutcome::Closed;
    };
    // The head's deadline is set only once a head turns out to need another read: the
    // common request, whole in one read, costs no clock reads here.
    let idle_limit = if first { core.client_timeout } else { cfg.keep_alive };
    let mut deadline: Option<Instant> = None;
    let max_head = cfg.limits.max_head_len();
    let outcome = loop {
        if rb.pos < rb.end {
            match parse_head(&rb.buf[rb.pos..rb.end], &cfg.limits, head) {
                Ok(Some(_)) => break HeadOutcome::Ready,
                Ok(None) => {
                    deadline.get_or_insert_with(|| Instant::now() + core.client_timeout);
                }
                Err(e) => break HeadOutcome::Refused(e),
            }
        } else {
            rb.pos = 0;
            rb.end = 0;
        }
        if rb.end == rb.buf.len() {
            if rb.pos > 0 {
                rb.buf.copy_within(rb.pos..rb.end, 0);
                rb.end -= rb.pos;
                rb.pos = 0;
            } else if rb.buf.len() < max_head {
                let grown = (rb.buf.len() * 2).min(max_head);
                rb.buf.resize(grown, 0);
            } else {
                break HeadOutcome::Refused(HttpError::new(431, "request head too large"));
            }
        }
        let (wait, idle) = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break HeadOutcome::Refused(HttpError::new(408, "timed out reading the request head"));
                }
                (left, false)
            }
            // Between requests a stopping server may close the connection; a new
            // connection's first request was accepted, so it is waited for and served.
            None if first => (idle_limit, false),
            None => {
                if shared.stopping.load(Ordering::Relaxed) || idle_limit.is_zero() {
                    break HeadOutcome::Closed;
                }
                (idle_limit, true)
            }
        };
        let end = rb.end;
        match core.read_with(&mut rb.buf[end..], wait, idle) {
            Ok(0) => break HeadOutcome::Closed,
            Ok(n) => rb.end += n,
            // An idle connection timed out (or the server is stopping), or a new one sent
            // nothing: close quietly. A head in progress goes round once more and meets
            // its deadline above.
            Err(e) if is_timeout(&e) && deadline.is_none() => break HeadOutcome::Closed,
            Err(e) if is_timeout(&e) => {}
            Err(_) => break HeadOutcome::Closed,
        }
    };
    core.rbuf = Some(rb);
    outcome
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// Answers a head that broke a rule, logs it, and closes without losing the answer.
fn refuse(core: &RefCell<Core>, e: HttpError, environ: &Environ, shared: &Shared) {
    log::debug!("refused request from {}: {e}", environ.get_or("REMOTE_ADDR", "-"));
    let mut c = core.borrow_mut();
    let started = Instant::now();
    let body_len = push_error(&mut c.wbuf, e.status, e.reason);
    c.lingering_close();
    if let Some(log) = &shared.access_log {
        let client = environ.get_or("REMOTE_ADDR", "-");
        log.log(client, None, b"-", e.status, body_len as u64, started.elapsed());
    }
}

/// What the connection does after a request.
enum Next {
    KeepAlive,
    Close,
    /// Close, but read what the client still sends for a moment first.
    Linger,
}

fn handle_request(
    core: &Rc<RefCell<Core>>,
    environ: &mut Environ,
    start_response: &mut StartResponse,
    head: &Head,
    shared: &Shared,
) -> Next {
    let cfg = &shared.config;
    let started = shared.access_log.as_ref().map(|_| Instant::now());
    let is_head;
    {
        let mut c = core.borrow_mut();
        let Some(rb) = c.rbuf.as_mut() else {
            return Next::Close;
        };
        let head_bytes = &rb.buf[rb.pos..rb.pos + head.len];
        is_head = head.is_head_method(head_bytes);
        environ.begin(head_bytes, head);
        rb.pos += head.len;
        c.decoder = Decoder::new(head.framing);
        c.expect = if head.expect_continue {
            Expect::Pending
        } else {
            Expect::No
        };
        c.head_sent = false;
        c.body_error = None;
        c.body_broken = false;
    }
    let Some(input) = Input::attach(core) else {
        return Next::Close;
    };
    environ.set_input(input);
    start_response.begin(RequestInfo {
        head: is_head,
        http10: head.minor_version == 0,
        keep_alive: head.keep_alive && !cfg.keep_alive.is_zero() && !shared.stopping.load(Ordering::Relaxed),
        keep_alive_requested: head.keep_alive_requested,
    });

    shared.requests.fetch_add(1, Ordering::Relaxed);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let body = shared.app.call(environ, start_response);
        send_response(start_response, body)
    }));
    let mut close = false;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(SendError::Io(e))) => {
            log::debug!("client {} went away: {e}", environ.get_or("REMOTE_ADDR", "-"));
            close = true;
        }
        Ok(Err(SendError::Replaced)) => close = true,
        Ok(Err(SendError::App(msg))) => {
            log::error!("Error handling request {}: {msg}", request_line(environ));
            start_response.send_error(500, "the application broke the WSGI contract");
            close = true;
        }
        Err(payload) => {
            close = true;
            let msg = panic_message(payload.as_ref());
            if payload.is::<ExcInfoAbort>() {
                log::error!(
                    "Error after the response started, connection cut: {}: {msg}",
                    request_line(environ)
                );
            } else {
                log::error!(
                    "Error handling request {}: application panicked: {msg}",
                    request_line(environ)
                );
                let detail = if cfg.debug {
                    msg.as_str()
                } else {
                    "the server could not complete the request"
                };
                start_response.send_error(500, detail);
            }
        }
    }
    let mut next = if close || start_response.must_close {
        Next::Close
    } else {
        Next::KeepAlive
    };
    if let (Some(log), Some(started)) = (&shared.access_log, started) {
        let forwarded = if cfg.log_x_forwarded_for {
            environ.get("HTTP_X_FORWARDED_FOR")
        } else {
            None
        };
        log.log(
            environ.get_or("REMOTE_ADDR", "-"),
            forwarded,
            environ.request_line(),
            start_response.status_code,
            start_response.body_bytes,
            started.elapsed(),
        );
    }
    // Dropping wsgi.input hands the read buffer back to the connection.
    environ.end();

    // What the app did not read of the body must not be parsed as the next request.
    let (failed, expect_pending) = {
        let c = core.borrow();
        (c.body_error.is_some() || c.body_broken, c.expect == Expect::Pending)
    };
    if failed {
        return Next::Linger;
    }
    if let Some(mut input) = Input::attach(core) {
        if !input.is_done() {
            let drained = matches!(next, Next::KeepAlive) && !expect_pending && input.drain(cfg.max_drain);
            if !drained {
                next = Next::Linger;
            }
        }
    } else {
        next = Next::Close;
    }
    next
}

/// Sends what the application returned. Dropping `body` afterwards is WSGI's close().
fn send_response(start_response: &mut StartResponse, body: Body) -> Result<(), SendError> {
    if !start_response.is_called() {
        drop(body);
        return Err(SendError::App(
            "application returned without calling start_response".into(),
        ));
    }
    match body {
        Body::Empty => {}
        Body::Bytes(bytes) => {
            start_response.send_head(Some(bytes.len() as u64))?;
            start_response.send_body(&bytes, false)?;
        }
        Body::Chunks(pieces) => {
            start_response.send_head(Some(pieces.iter().map(|p| p.len() as u64).sum()))?;
            for piece in &pieces {
                start_response.send_body(piece, false)?;
            }
        }
        Body::Iter(mut pieces) => {
            if start_response.wants_body() {
                for piece in &mut pieces {
                    if !piece.is_empty() {
                        start_response.send_body(&piece, true)?;
                    }
                }
            } else {
                start_response.send_head(None)?;
            }
            start_response.finish()?;
            drop(pieces);
            return Ok(());
        }
        Body::File(mut file) => {
            if start_response.wants_body() {
                let mut block = vec![0u8; file.block_size];
                loop {
                    let n = match file.reader.read(&mut block) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(SendError::App(format!("reading the file body failed: {e}"))),
                    };
                    start_response.send_body(&block[..n], false)?;
                }
            } else {
                start_response.send_head(None)?;
            }
        }
    }
    start_response.finish()
}

fn request_line(environ: &Environ) -> String {
    String::from_utf8_lossy(environ.request_line()).into_owned()
}

/// The text of a panic, whatever it was raised with.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(ExcInfoAbort(s)) = payload.downcast_ref::<ExcInfoAbort>() {
        s.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}
