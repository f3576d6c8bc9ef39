//! What production does to a server (issue 9), over real sockets: bodies past
//! `--limit-request-body`, proxies that tell us who the client is (trusted
//! `X-Forwarded-*` headers, the PROXY protocol), and the faults a long-running server
//! meets (descriptors running out, a leaking worker, a client that stops reading).

mod common;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use may_wsgi::{Body, Environ, ServerConfig, StartResponse};

// --- --limit-request-body -------------------------------------------------------------

const LIMIT: u64 = 1000;

/// What the body-limit app saw: how often it ran, and how its read of wsgi.input ended.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    outcome: Mutex<Vec<Result<usize, std::io::ErrorKind>>>,
}

/// An app that reads the whole body (after sending its head first when the path is
/// `/stream-first`) and answers with its length.
fn body_app(seen: Arc<Seen>) -> impl Fn(&mut Environ, &mut StartResponse) -> Body + Send + Sync + 'static {
    move |environ: &mut Environ, sr: &mut StartResponse| {
        seen.calls.fetch_add(1, Ordering::SeqCst);
        let stream_first = environ.get("PATH_INFO") == Some("/stream-first");
        if stream_first {
            let mut write = sr.call("200 OK", [("Content-Type", "text/plain")]);
            use std::io::Write;
            let _ = write.write_all(b"started\n");
        }
        let mut body = Vec::new();
        let outcome = environ.input().read_to_end(&mut body).map_err(|e| e.kind());
        seen.outcome.lock().unwrap().push(outcome);
        if !stream_first {
            sr.call("200 OK", [("Content-Type", "text/plain")]);
        }
        Body::from(format!("{}\n", body.len()))
    }
}

fn limited() -> ServerConfig {
    ServerConfig {
        limit_request_body: Some(LIMIT),
        ..config()
    }
}

fn chunked(pieces: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for &n in pieces {
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'x', n));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[test]
fn a_content_length_past_the_limit_is_413_before_the_app_runs() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), limited());
    let addr = server.local_addr();
    for (len, expect) in [(LIMIT, ""), (LIMIT + 1, ""), (10 * LIMIT, "Expect: 100-continue\r\n")] {
        let mut c = Client::connect(addr);
        c.send(format!("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n{expect}\r\n").as_bytes());
        if expect.is_empty() {
            let _ = c.try_send(&vec![b'x'; len as usize]);
        }
        // A client waiting for 100 Continue gets the refusal instead (read_response
        // would skip a 100; the head must be the 413's own).
        let r = c.response();
        if len <= LIMIT {
            assert_eq!((r.status, r.text()), (200, format!("{len}\n")));
            continue;
        }
        assert_eq!(r.status, 413, "{}", r.head);
        assert!(r.head.starts_with("HTTP/1.1 413"), "no 100 Continue first: {}", r.head);
        assert!(r.closes(), "{}", r.head);
        assert!(c.is_closed(), "the connection ends after a 413");
    }
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        1,
        "the app ran only for the body within the limit"
    );
}

#[test]
fn a_chunked_body_growing_past_the_limit_fails_wsgi_input_and_is_413() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), limited());
    let addr = server.local_addr();
    let within = chunked(&[600, 400]);
    let past = chunked(&[600, 400, 1]);
    let r = exchange(
        addr,
        &[
            &b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            &within,
        ]
        .concat(),
    );
    assert_eq!((r.status, r.text()), (200, format!("{LIMIT}\n")));
    let mut c = Client::connect(addr);
    c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = c.try_send(&past);
    let r = c.response();
    assert_eq!(r.status, 413, "the app's 200 is replaced: {}", r.head);
    assert!(r.closes() && c.is_closed());
    assert_eq!(
        *seen.outcome.lock().unwrap(),
        vec![Ok(LIMIT as usize), Err(std::io::ErrorKind::FileTooLarge)],
        "the app saw the refusal as an io::Error of kind FileTooLarge"
    );
}

#[test]
fn a_chunked_body_past_the_limit_after_the_head_went_out_cuts_the_connection() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), limited());
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST /stream-first HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = c.try_send(&chunked(&[LIMIT as usize + 1]));
    // The 200 head and its first chunk went out before the body failed: the response
    // cannot become a 413, so it is cut short (no last chunk), which a client sees as an
    // error, never as a complete answer.
    let cut = c.response_to("GET");
    assert!(cut.is_err(), "{cut:?}");
    assert_eq!(
        *seen.outcome.lock().unwrap(),
        vec![Err(std::io::ErrorKind::FileTooLarge)]
    );
}
