//! The request cycle: the only code that reads and writes a client socket for a request.
//!
//! The waiting room hands over a connection whose request head is complete (a [`Ready`]),
//! and one worker from the pool (a coroutine, or an OS thread with `--worker-class thread`:
//! see `executor`) runs [`serve`] for it, request after request, for as long as the next
//! request is already there. This cycle is the same for both classes; where they differ
//! is only how a wait on the socket is made (`executor::SocketWait`):
//!
//! ```text
//! environ.begin + wsgi.input -> app.call(environ, start_response)
//!   -> send_response (head, body bytes, last chunk) -> drop body (close())
//!   -> drain what the app left of the request body -> access log
//!   -> next head buffered? serve it : go home to the waiting room (or close)
//! ```
//!
//! Then the worker takes the next connection queued for a place, parks, or ends.
//!
//! What a request is served with (the exchange, environ, `start_response` and head) is a
//! [`Kit`] kept per scheduler thread and lent to the connection being served, so that
//! every request writes memory the last one left in the core's cache.
//!
//! The socket and the request's buffers live in an [`Exchange`] shared
//! (`Rc<RefCell<_>>`, one worker, no locking) with `wsgi.input`, which reads the body
//! through it while the app runs, and with `start_response`, whose `write()` sends through
//! it. Reads and writes are tried at once; only when one would block does the worker wait
//! ([`Socket`]): a coroutine registers the socket with may and parks, a thread blocks in
//! `poll(2)`. A slow client delays nobody else, and a fast one costs no wait at all.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::buffers::RBUF_SIZE;
use super::crew::Note;
use super::executor::{Interest, SocketWait, WorkerClass};
use super::net::Stream;
use super::pool::Mailbox;
use super::timeouts::{Timeouts, Watch, SWEEP};
use super::waiting_room::{client_timeout, Ready, WaitingRoom, LINGER_BYTES, LINGER_TIME};
use super::Shared;
use crate::http::response::push_error;
use crate::http::{parse_head, Head, HttpError};
use crate::wsgi::exchange::{Exchange, ReadBuf, Transport, WBUF_SOFT};
use crate::wsgi::gateway;
use crate::wsgi::{ConnInfo, Environ, StartResponse};

/// How long a coroutine stays with a just-served connection for its next request before
/// it goes home to the waiting room (kept by the sweeper: 0.1 to 0.3 s). Measured on the
/// hello-world benchmark: a trip through the waiting room per request cost about 20 % of
/// the throughput; a busy client's next request comes well within this.
const STAY: Duration = Duration::from_millis(100);
/// The stay as a deadline on the sweeper's clock, which is up to a tick behind: a tick
/// more, so that no stay is cut short by a stale clock.
const STAY_MS: u64 = (STAY.as_millis() + SWEEP.as_millis()) as u64;

/// A client socket as a request worker uses it: non-blocking calls first, and a way to
/// wait (a may registration for a coroutine, `poll(2)` for a thread; a deadline the
/// sweeper keeps for both) only once a call would block. Boxed, so that moving it into a
/// kit and out again (see [`Kit`]) moves one pointer.
pub(crate) struct Socket(Box<SocketState>);

/// What a [`Socket`] holds: the stream, and how and how long its worker waits on it.
pub(crate) struct SocketState {
    /// The connection being served; none between connections.
    stream: Option<Stream>,
    class: WorkerClass,
    waiter: Option<Registration>,
    timeouts: Arc<Timeouts>,
    client_timeout: Duration,
}

/// The socket's wait and its deadline in the sweeper; dropping it undoes both.
struct Registration {
    waiter: SocketWait,
    watch: Arc<Watch>,
    timeouts: Arc<Timeouts>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.timeouts.unregister(&self.watch);
    }
}

impl std::ops::Deref for Socket {
    type Target = SocketState;
    fn deref(&self) -> &SocketState {
        &self.0
    }
}

impl std::ops::DerefMut for Socket {
    fn deref_mut(&mut self) -> &mut SocketState {
        &mut self.0
    }
}

impl Socket {
    /// A socket with no connection yet, for `shared`'s server.
    fn idle(shared: &Shared) -> Socket {
        Socket(Box::new(SocketState {
            stream: None,
            class: shared.config.worker_class,
            waiter: None,
            timeouts: shared.timeouts.clone(),
            client_timeout: client_timeout(shared.config.client_timeout),
        }))
    }

    fn stream(&self) -> io::Result<&Stream> {
        self.stream.as_ref().ok_or_else(|| io::ErrorKind::NotConnected.into())
    }

    /// The socket's wait, made on first need.
    fn registration(&mut self) -> io::Result<&Registration> {
        if self.waiter.is_none() {
            let waiter = SocketWait::new(self.class, self.stream()?)?;
            let watch = self.timeouts.register(waiter.waker());
            self.waiter = Some(Registration {
                waiter,
                watch,
                timeouts: self.timeouts.clone(),
            });
        }
        Ok(self.waiter.as_ref().expect("registered above"))
    }

    /// Parks until the socket has an event, or fails with `TimedOut` once the wait that
    /// began at the first `WouldBlock` has lasted `timeout`.
    fn wait(&mut self, timeout: Duration, interest: Interest) -> io::Result<()> {
        let deadline = self.timeouts.deadline_in(timeout);
        let Registration { waiter, watch, .. } = self.registration()?;
        if !watch.is_armed() {
            watch.arm(deadline);
        } else if watch.expired() {
            watch.disarm();
            return Err(io::ErrorKind::TimedOut.into());
        }
        waiter.wait(interest);
        Ok(())
    }

    /// Waits for the socket to have news, until `deadline` or until the stay is ended
    /// early (the pool needs the place; the server stops). True when the socket woke us.
    /// `give_way` is asked once the stay is armed: work already waiting for a place ends
    /// it before it starts (work that queues later ends it through the sweeper's
    /// `end_stays`).
    fn stay(&mut self, deadline: u64, give_way: impl Fn() -> bool) -> bool {
        let Ok(Registration { waiter, watch, .. }) = self.registration() else {
            return false;
        };
        watch.arm_stay(deadline);
        if give_way() {
            watch.disarm();
            return false;
        }
        waiter.wait(Interest::Read);
        let ended = watch.expired();
        watch.disarm();
        !ended
    }

    fn progress(&self) {
        if let Some(reg) = &self.waiter {
            reg.watch.disarm();
        }
    }

    /// Reads what arrives, waiting at most `timeout` for it.
    fn read_with(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        loop {
            match self.stream()?.read_now(buf) {
                Ok(n) => {
                    self.progress();
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(timeout, Interest::Read)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.progress();
                    return Err(e);
                }
            }
        }
    }

    /// The socket alone again, unregistered from may, for the waiting room.
    fn take_stream(&mut self) -> Option<Stream> {
        self.waiter = None;
        self.stream.take()
    }

    /// Closes so that a final answer is not lost: a client still sending gets a reset if
    /// we close with its bytes unread, and a reset can destroy our answer in flight. So:
    /// shut our side, and read what is still coming for a short while.
    /// (Never inlined: its scratch buffer would otherwise sit in the request loop's stack
    /// frame and push every request's deeper frames 8 KiB further down the stack.)
    #[inline(never)]
    fn lingering_close(&mut self) {
        if let Ok(stream) = self.stream() {
            let _ = stream.shutdown(Shutdown::Write);
        }
        let deadline = Instant::now() + LINGER_TIME;
        let mut scratch = [0u8; 8192];
        let mut seen = 0;
        while seen < LINGER_BYTES {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.read_with(&mut scratch, left) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen += n,
            }
        }
        drop(self.take_stream());
    }
}

impl Transport for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.client_timeout;
        self.read_with(buf, timeout)
    }

    fn write_all_vectored(&mut self, mut parts: &mut [IoSlice<'_>]) -> io::Result<()> {
        // Each stall may last the client timeout; progress starts the clock again.
        while !parts.is_empty() {
            match self.stream()?.write_now(parts) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.progress();
                    IoSlice::advance_slices(&mut parts, n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let timeout = self.client_timeout;
                    self.wait(timeout, Interest::Write)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.progress();
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Serves a connection whose head is complete, then whatever the pool hands this
/// coroutine next (queued heads, or new ones once it is parked as an idle worker).
/// Runs in a request coroutine.
pub(crate) fn serve(mut ready: Ready, shared: &Shared, note: &Note) {
    let mailbox = Mailbox::current();
    let mut worker = Worker::new(shared);
    loop {
        worker.serve_connection(ready, note);
        match shared.pool.next(&mailbox) {
            Some(next) => ready = next,
            None => break,
        }
    }
    note.ended();
}

/// How waiting for the next request head on a connection ended.
enum HeadOutcome {
    /// A head is parsed; it lies at the start of the unread bytes.
    Ready,
    /// Nothing more is buffered and the socket is drained: the connection goes home.
    Drained,
    /// The client closed, or the server is stopping.
    Closed,
    /// The head broke a rule: answer with this and close.
    Refused(HttpError),
}

/// What a request is served with: the exchange (around the connection's socket), the
/// environ, `start_response` and the parsed head; with their buffers some 1.5 KiB, all of
/// it written by every request. Kits are kept per scheduler thread, not per connection or
/// coroutine: the one the last request on this thread gave back is still in the core's
/// cache, where a hundred connections' own would each be a few dozen cold lines. A
/// coroutine holds a kit while it serves a connection (waits on a slow client included)
/// and lends it back while it stays for the next request.
struct Kit {
    x: Rc<RefCell<Exchange<Socket>>>,
    /// The same exchange as the gateway sees it: through its `Transport` alone.
    gateway: Rc<RefCell<Exchange>>,
    environ: Environ,
    start_response: StartResponse,
    head: Head,
}

thread_local! {
    /// This thread's spare kits, last given first taken. Boxed: a kit must not move, or it
    /// would be copied onto the coroutine's stack, cold lines again.
    #[allow(clippy::vec_box)]
    static KITS: RefCell<Vec<Box<Kit>>> = const { RefCell::new(Vec::new()) };
}

/// Spare kits a thread keeps: as many as requests it has in hand at once, usually.
const KEEP_KITS: usize = 64;

impl Kit {
    /// One of this thread's spares, or a new one. Its socket is an idle one, of whichever
    /// server used it last: [`Worker::hold_kit`] swaps the connection's in.
    fn take(shared: &Shared) -> Box<Kit> {
        KITS.with_borrow_mut(Vec::pop).unwrap_or_else(|| Kit::new(shared))
    }

    /// A new kit. Kept out of line: building one takes a large stack frame, which the
    /// common path through `take` should not carry.
    #[cold]
    #[inline(never)]
    fn new(shared: &Shared) -> Box<Kit> {
        let x = Rc::new(RefCell::new(Exchange::new(
            Socket::idle(shared),
            ReadBuf::default(),
            Vec::with_capacity(WBUF_SOFT),
        )));
        // No read buffer yet: `hold_kit` gives it the connection's, or takes one.
        x.borrow_mut().rbuf = None;
        let gateway: Rc<RefCell<Exchange>> = x.clone();
        Box::new(Kit {
            start_response: StartResponse::new(gateway.clone()),
            gateway,
            x,
            environ: Environ::new(ConnInfo::default()),
            head: Head::default(),
        })
    }

    /// True unless something of a request outlived it (an `Input` kept past the
    /// response), which still holds the exchange.
    fn is_whole(&self) -> bool {
        Rc::strong_count(&self.x) == 3
    }

    /// Back to this thread's spares (a kit not whole is left to what holds it).
    fn give(self: Box<Kit>) {
        if self.is_whole() {
            KITS.with_borrow_mut(|kits| {
                if kits.len() < KEEP_KITS {
                    kits.push(self);
                }
            });
        }
    }
}

/// A request coroutine's state between the connections it serves: its kit while it holds
/// one, and the connection's socket while it does not.
struct Worker<'s> {
    shared: &'s Shared,
    kit: Option<Box<Kit>>,
    /// The connection's socket (or an idle one of this server's) while no kit is held;
    /// while one is, the kit's own idle socket, which goes back in with it.
    socket: Socket,
    /// The same for the connection's identity (in the environ while a kit is held).
    info: Box<ConnInfo>,
}

impl<'s> Worker<'s> {
    fn new(shared: &'s Shared) -> Worker<'s> {
        Worker {
            shared,
            kit: None,
            socket: Socket::idle(shared),
            info: Box::default(),
        }
    }

    /// The kit in hand; there is one from `hold_kit` to `lend_kit`.
    fn kit(&mut self) -> &mut Kit {
        self.kit.as_mut().expect("a kit is held while a connection is served")
    }

    /// Takes a kit and puts the connection in it: its socket and identity, and `rbuf` when
    /// the connection has bytes of its own (a head, a pipelined start of one); without, the
    /// read buffer the kit carries serves, warm from the last request on this thread.
    fn hold_kit(&mut self, rbuf: Option<ReadBuf>) {
        let shared = self.shared;
        let mut kit = Kit::take(shared);
        {
            let mut x = kit.x.borrow_mut();
            std::mem::swap(&mut x.io, &mut self.socket);
            match rbuf {
                Some(rbuf) => {
                    if let Some(spare) = x.rbuf.replace(rbuf) {
                        shared.buffers.give_read(spare.buf);
                    }
                }
                // A kit's own is a standard buffer, kept empty; a new kit has none yet.
                None if x.rbuf.as_ref().is_some_and(|rb| rb.buf.len() == RBUF_SIZE) => {}
                None => {
                    x.rbuf = Some(ReadBuf {
                        buf: shared.buffers.read_buf(),
                        pos: 0,
                        end: 0,
                    });
                }
            }
        }
        kit.environ.swap_conn_info(&mut self.info);
        self.kit = Some(kit);
    }

    /// Takes the connection out of the kit (its socket and identity back to `self`) and
    /// gives the kit back to this thread's spares. Returns what the read buffer still
    /// holds for the connection, if anything: an empty buffer stays in the kit.
    fn lend_kit(&mut self, note: &Note) -> Option<ReadBuf> {
        let mut kit = self.kit.take().expect("a kit is held while a connection is served");
        note.between_requests();
        let rbuf = {
            let mut x = kit.x.borrow_mut();
            std::mem::swap(&mut x.io, &mut self.socket);
            match x.rbuf.take() {
                Some(rb) if rb.pos < rb.end => Some(rb),
                // Empty: a standard one stays with the kit, one grown for a large head goes.
                Some(rb) if rb.buf.len() == RBUF_SIZE => {
                    x.rbuf = Some(ReadBuf { pos: 0, end: 0, ..rb });
                    None
                }
                Some(rb) => {
                    self.shared.buffers.give_read(rb.buf);
                    None
                }
                None => None,
            }
        };
        kit.environ.swap_conn_info(&mut self.info);
        kit.give();
        rbuf
    }

    fn serve_connection(&mut self, ready: Ready, note: &Note) {
        let shared = self.shared;
        let cfg = &shared.config;
        let Ready {
            room,
            token,
            stream,
            info,
            mut rbuf,
            head,
        } = ready;
        if rbuf.buf.len() < RBUF_SIZE {
            // A queued head was kept in a buffer of its own size; the body needs room.
            let mut buf = shared.buffers.read_buf();
            let unread = rbuf.unread();
            buf[..unread.len()].copy_from_slice(unread);
            rbuf = ReadBuf {
                end: unread.len(),
                pos: 0,
                buf,
            };
        }
        note.connection(room, token, stream.fd());
        self.socket.stream = Some(stream);
        *self.info = info;
        self.hold_kit(Some(rbuf));
        self.kit().head = head;
        // Whether the socket may hold more than was read: the last read filled the buffer.
        let mut drained = true;
        let mut have_head = true;
        // Staying for the next request: until when, and whether the socket is out of the
        // waiting room's epoll set meanwhile.
        let mut stay_until = None;
        let mut unwatched = false;
        let room = &shared.rooms[room];
        let next = loop {
            if !have_head {
                let kit = self.kit();
                match next_head(&kit.x, &mut kit.head, shared, &mut drained) {
                    HeadOutcome::Ready => stay_until = None,
                    HeadOutcome::Drained => {
                        if self.stay(room, &mut stay_until, &mut unwatched, note) {
                            drained = false;
                            continue;
                        }
                        break Next::Home;
                    }
                    HeadOutcome::Closed => break Next::Close,
                    HeadOutcome::Refused(e) => {
                        refuse(&kit.x, e, &kit.environ, shared);
                        break Next::Linger;
                    }
                }
            }
            have_head = false;
            let kit = self.kit();
            let next = handle_request(
                &kit.gateway,
                &mut kit.environ,
                &mut kit.start_response,
                &kit.head,
                shared,
                note,
            );
            flush_wbuf(&kit.x);
            match next {
                Next::KeepAlive => {}
                other => break other,
            }
        };

        // Take the connection apart: the socket and its identity go home (or close),
        // the buffers back to the free lists, the kit to this thread's spares. (A kit that
        // something of the request outlived, an `Input` kept past the response, is left
        // to it with an idle socket, and the connection closes.)
        let whole = self.kit().is_whole();
        let rbuf = self.lend_kit(note);
        let info = std::mem::take(&mut *self.info);
        note.idle();
        let rb = rbuf.unwrap_or_default();
        let partial = &rb.buf[rb.pos.min(rb.end)..rb.end];
        match next {
            Next::Home if whole => match self.socket.take_stream() {
                Some(stream) => room.go_home(
                    token,
                    stream,
                    info,
                    partial,
                    cfg.keep_alive,
                    client_timeout(cfg.client_timeout),
                    unwatched,
                ),
                None => room.forget(token),
            },
            Next::Linger if whole => {
                self.socket.lingering_close();
                room.forget(token);
            }
            _ => {
                drop(self.socket.take_stream());
                room.forget(token);
            }
        }
        if !rb.buf.is_empty() {
            shared.buffers.give_read(rb.buf);
        }
    }

    /// After a response, with nothing of a next request buffered or on the socket: stay
    /// with the connection for up to [`STAY`] (parked on the socket alone, out of the
    /// waiting room's epoll set) before going home. A busy keep-alive client's next
    /// request then finds its coroutine waiting, as in a coroutine-per-connection server,
    /// and costs no trip through the waiting room. The stay ends early when the pool needs
    /// the place or the server stops. True when the socket woke us, or the server stops
    /// (`next_head` then has a last look for a request that arrived meanwhile): read again.
    fn stay(&mut self, room: &WaitingRoom, until: &mut Option<u64>, unwatched: &mut bool, note: &Note) -> bool {
        let shared = self.shared;
        let stopping = || shared.stopping.load(Ordering::Relaxed);
        let draining = shared.draining.load(Ordering::Relaxed);
        if stopping() {
            return !draining;
        }
        if STAY.is_zero() || shared.config.keep_alive.is_zero() {
            return false;
        }
        let deadline = *until.get_or_insert_with(|| shared.timeouts.now_ms() + STAY_MS);
        // The kit goes back to this thread's spares meanwhile, for the requests of other
        // connections; another (or the same) is taken when the next request comes.
        // (An empty read buffer stays with the kit; a partial pipelined head stays with
        // the connection.)
        let rbuf = self.lend_kit(note);
        if !*unwatched {
            if let Ok(stream) = self.socket.stream() {
                room.unwatch(stream);
                *unwatched = true;
            }
        }
        let woken =
            *unwatched && (self.socket.stay(deadline, || shared.pool.has_queued()) || (stopping() && !draining));
        self.hold_kit(rbuf);
        woken
    }
}

/// Finds the next request head after a response: in the buffer (pipelined), or by
/// reading what the socket has now. When neither has one, the connection goes home to
/// wait, so this never parks.
fn next_head(x: &RefCell<Exchange<Socket>>, head: &mut Head, shared: &Shared, drained: &mut bool) -> HeadOutcome {
    let cfg = &shared.config;
    let mut x = x.borrow_mut();
    let x = &mut *x;
    let Some(rb) = x.rbuf.as_mut() else {
        return HeadOutcome::Closed;
    };
    let mut looked = false;
    loop {
        if rb.pos < rb.end {
            match parse_head(&rb.buf[rb.pos..rb.end], &cfg.limits, head) {
                Ok(Some(_)) => return HeadOutcome::Ready,
                Ok(None) => {}
                Err(e) => return HeadOutcome::Refused(e),
            }
        } else {
            rb.pos = 0;
            rb.end = 0;
        }
        if cfg.keep_alive.is_zero() {
            return HeadOutcome::Closed;
        }
        if shared.stopping.load(Ordering::Relaxed) && !shared.draining.load(Ordering::Relaxed) {
            // A stopping server closes a kept-alive connection, but not under a request
            // that has already arrived: a proxy that sent it on its idle connection could
            // not send a POST again, and closing with it unread would reset the
            // connection. One more look at the socket, then close. (A draining server
            // lets the connection go home instead, to idle out its keep-alive.)
            if looked {
                return HeadOutcome::Closed;
            }
            looked = true;
        } else if *drained {
            return HeadOutcome::Drained;
        }
        if rb.end == rb.buf.len() {
            if rb.pos > 0 {
                rb.buf.copy_within(rb.pos..rb.end, 0);
                rb.end -= rb.pos;
                rb.pos = 0;
            } else if rb.buf.len() < cfg.limits.max_head_len() {
                let grown = (rb.buf.len() * 2).min(cfg.limits.max_head_len());
                rb.buf.resize(grown, 0);
            } else {
                return HeadOutcome::Refused(HttpError::new(431, "request head too large"));
            }
        }
        let end = rb.end;
        let Ok(stream) = x.io.stream() else {
            return HeadOutcome::Closed;
        };
        match stream.read_now(&mut rb.buf[end..]) {
            Ok(0) => return HeadOutcome::Closed,
            Ok(n) => {
                rb.end += n;
                *drained = rb.end < rb.buf.len();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *drained = true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return HeadOutcome::Closed,
        }
    }
}

/// Sends what is still queued (an answer that replaced the app's, say); `flush` leaves the
/// buffer empty. It stays with the kit, unless a large response grew it: that one is let go
/// for an ordinary one.
fn flush_wbuf(x: &RefCell<Exchange<Socket>>) {
    let mut x = x.borrow_mut();
    let _ = x.flush();
    if x.wbuf.capacity() > 4 * WBUF_SOFT {
        x.wbuf = Vec::with_capacity(WBUF_SOFT);
    }
}

/// Answers a head that broke a rule and logs it; the caller closes with a linger.
fn refuse(x: &RefCell<Exchange<Socket>>, e: HttpError, environ: &Environ, shared: &Shared) {
    log::debug!("refused request from {}: {e}", environ.get_or("REMOTE_ADDR", "-"));
    let started = Instant::now();
    let body_len = push_error(&mut x.borrow_mut().wbuf, e.status, e.reason);
    flush_wbuf(x);
    if let Some(log) = &shared.access_log {
        let client = environ.get_or("REMOTE_ADDR", "-");
        log.log(client, None, b"-", e.status, body_len as u64, started.elapsed());
    }
}

/// What the connection does after a request.
enum Next {
    KeepAlive,
    /// Nothing more to serve now: back to the waiting room.
    Home,
    Close,
    /// Close, but read what the client still sends for a moment first.
    Linger,
}

/// One request through the application (see `wsgi::gateway`), with what the server adds:
/// the request count, the crew's note, the access log, and the keep-alive decision.
fn handle_request(
    x: &Rc<RefCell<Exchange>>,
    environ: &mut Environ,
    start_response: &mut StartResponse,
    head: &Head,
    shared: &Shared,
    note: &Note,
) -> Next {
    let cfg = &shared.config;
    let started = shared.access_log.as_ref().map(|_| Instant::now());
    shared.requests.add_one();
    let settings = gateway::Settings {
        keep_alive: !cfg.keep_alive.is_zero() && !shared.stopping.load(Ordering::Relaxed),
        debug: cfg.debug,
        max_drain: cfg.max_drain,
        limit_request_body: cfg.limit_request_body,
        forwarded_allow: Some(&cfg.forwarded_allow_ips),
    };
    // The crew's note of what is being served (see `crew`): where the line is.
    let begun = |environ: &Environ| note.request(environ.request_line());
    let ended = |environ: &Environ, start_response: &StartResponse| {
        if let (Some(log), Some(started)) = (&shared.access_log, started) {
            let forwarded = if cfg.log_x_forwarded_for {
                environ.get("HTTP_X_FORWARDED_FOR")
            } else {
                None
            };
            // The client is REMOTE_ADDR (a trusted proxy's X-Forwarded-For, if it sent
            // one); with --log-x-forwarded-for, eventlet's "forwarded,peer" instead.
            let client = match forwarded {
                Some(_) => match environ.conn_info().remote_addr.as_str() {
                    "" => "-",
                    peer => peer,
                },
                None => environ.get_or("REMOTE_ADDR", "-"),
            };
            log.log(
                client,
                forwarded,
                environ.request_line(),
                start_response.status_code,
                start_response.body_bytes,
                started.elapsed(),
            );
        }
    };
    match gateway::serve_request(&*shared.app, x, environ, start_response, head, &settings, begun, ended) {
        gateway::Next::KeepAlive => Next::KeepAlive,
        gateway::Next::Close => Next::Close,
        gateway::Next::Linger => Next::Linger,
    }
}
