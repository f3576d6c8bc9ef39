//! One request through the application, the same for the server and for a test client:
//! the environ and `wsgi.input` made for it, `app(environ, start_response)` run inside
//! `catch_unwind`, the response it returns sent with the framing `start_response` decides,
//! and what the app left of the body drained.
//!
//! The server's connection loop (`server/connection.rs`) calls [`serve_request`] over a
//! socket; `testing::TestApp` calls it over bytes in memory. Both reach their transport
//! only through the [`Exchange`], so the application cannot tell them apart.

use std::any::Any;
use std::cell::RefCell;
use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use super::exchange::{Exchange, Expect};
use super::start_response::{ExcInfoAbort, RequestInfo, SendError};
use super::{Application, Body, Environ, Input, StartResponse};
use crate::http::forwarded::{self, Forwarded, ForwardedAllow};
use crate::http::{Decoder, Framing, Head, BODY_TOO_LARGE};

/// How the request's connection goes on.
pub(crate) enum Next {
    KeepAlive,
    Close,
    /// Close, but read what the client still sends for a moment first.
    Linger,
}

/// What the server decides for every request.
pub(crate) struct Settings<'a> {
    /// The connection may carry another request (keep-alive is on, no stop under way).
    pub keep_alive: bool,
    /// Put the panic message in the 500 body (eventlet's `debug=True`).
    pub debug: bool,
    /// Most request-body bytes read and thrown away after a response so the connection can
    /// be kept; beyond this it is closed instead.
    pub max_drain: u64,
    /// Most request-body bytes accepted (`--limit-request-body`); more is a 413.
    pub limit_request_body: Option<u64>,
    /// The trusted proxies (`--forwarded-allow-ips`); `None` reads no forwarding headers.
    pub forwarded_allow: Option<&'a ForwardedAllow>,
}

/// Serves the request whose head (`head`, parsed from the start of the exchange's unread
/// bytes) has arrived: environ and `wsgi.input` for it, the application inside
/// `catch_unwind`, the response out, the unread body drained. `begun` is told once the
/// environ is ready, `ended` once the response is out (for the access log).
#[allow(clippy::too_many_arguments)]
pub(crate) fn serve_request(
    app: &dyn Application,
    core: &Rc<RefCell<Exchange>>,
    environ: &mut Environ,
    start_response: &mut StartResponse,
    head: &Head,
    settings: &Settings<'_>,
    begun: impl FnOnce(&Environ),
    ended: impl FnOnce(&Environ, &StartResponse),
) -> Next {
    let is_head;
    let forwarded;
    {
        let mut c = core.borrow_mut();
        let Some(rb) = c.rbuf.as_mut() else {
            return Next::Close;
        };
        let head_bytes = &rb.buf[rb.pos..rb.pos + head.len];
        is_head = head.is_head_method(head_bytes);
        environ.begin(head_bytes, head);
        forwarded = match settings.forwarded_allow {
            Some(allow) if head.forwarding && environ.conn_info().trusted_proxy => {
                forwarded::read(head_bytes, head, allow)
            }
            _ => Ok(Forwarded::default()),
        };
        rb.pos += head.len;
        c.decoder = Decoder::new(head.framing).with_limit(settings.limit_request_body);
        c.expect = if head.expect_continue {
            Expect::Pending
        } else {
            Expect::No
        };
        c.head_sent = false;
        c.body_error = None;
        c.body_broken = false;
    }
    // A request without a body keeps the empty `wsgi.input` the last one left (reads end
    // at once), and the read buffer stays with the connection.
    if head.framing.is_some() {
        let Some(input) = Input::attach(core) else {
            return Next::Close;
        };
        environ.set_input(input);
    }
    begun(environ);
    start_response.begin(RequestInfo {
        head: is_head,
        http10: head.minor_version == 0,
        keep_alive: head.keep_alive && settings.keep_alive,
        keep_alive_requested: head.keep_alive_requested,
    });

    let refused = match forwarded {
        Ok(forwarded) => {
            environ.set_forwarded(&forwarded);
            too_large(head, settings).then_some(BODY_TOO_LARGE)
        }
        Err(e) => Some(e),
    };
    if let Some(e) = refused {
        // Refused before the application runs (a body past the limit, as nginx's
        // client_max_body_size; conflicting scheme headers, as gunicorn's
        // InvalidSchemeHeaders): the answer goes out at once (a client waiting on
        // `Expect: 100-continue` never sends the body), and the connection closes with a
        // linger so the answer is not lost to a reset while the client is still sending.
        start_response.send_error(e.status, e.reason);
        ended(environ, start_response);
        environ.end();
        return Next::Linger;
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        let body = app.call(environ, start_response);
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
                let detail = if settings.debug {
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
    ended(environ, start_response);
    // Dropping wsgi.input hands the read buffer back to the connection.
    environ.end();

    // What the app did not read of the body must not be parsed as the next request.
    let (failed, expect_pending, body_done, buffer_home) = {
        let c = core.borrow();
        let failed = c.body_error.is_some() || c.body_broken;
        (
            failed,
            c.expect == Expect::Pending,
            c.decoder.is_done(),
            c.rbuf.is_some(),
        )
    };
    if failed {
        return Next::Linger;
    }
    if !buffer_home {
        // The app kept `wsgi.input` past the response: the connection cannot go on.
        return Next::Close;
    }
    if !body_done {
        if let Some(mut input) = Input::attach(core) {
            let drained = matches!(next, Next::KeepAlive) && !expect_pending && input.drain(settings.max_drain);
            if !drained {
                next = Next::Linger;
            }
        }
    }
    next
}

/// A Content-Length past `--limit-request-body`.
fn too_large(head: &Head, settings: &Settings) -> bool {
    matches!((head.framing, settings.limit_request_body), (Some(Framing::Length(n)), Some(limit)) if n > limit)
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
