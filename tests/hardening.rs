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

// --- trusted proxy headers (--forwarded-allow-ips) -------------------------------------

/// The environ the demo's `/environ` shows for a request with these extra header lines,
/// sent over `stream`.
fn environ_over(stream: impl std::io::Read + std::io::Write, extra: &str) -> (u16, Vec<(String, String)>) {
    let mut reader = std::io::BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("GET /environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut reader, false).unwrap();
    let keys = r
        .text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (r.status, keys)
}

fn value<'a>(keys: &'a [(String, String)], key: &str) -> Option<&'a str> {
    keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

const FORWARDED: &str = "X-Forwarded-For: 10.9.9.9, 203.0.113.7\r\nX-Forwarded-Proto: https\r\n";

fn demo_with(config: ServerConfig) -> may_wsgi::ServerHandle {
    start(may_wsgi::demo::app, config)
}

#[test]
fn a_trusted_proxy_sets_remote_addr_and_the_scheme() {
    // The default trusts 127.0.0.1, where the test's client is.
    let server = demo_with(config());
    let tcp = || std::net::TcpStream::connect(server.local_addr()).unwrap();
    let (status, keys) = environ_over(tcp(), FORWARDED);
    assert_eq!(status, 200);
    assert_eq!(
        value(&keys, "REMOTE_ADDR"),
        Some("203.0.113.7"),
        "the rightmost untrusted hop"
    );
    assert_eq!(value(&keys, "wsgi.url_scheme"), Some("https"));
    assert_eq!(
        value(&keys, "REMOTE_PORT"),
        None,
        "the proxy's port says nothing of the client"
    );
    assert_eq!(
        value(&keys, "HTTP_X_FORWARDED_FOR"),
        Some("10.9.9.9, 203.0.113.7"),
        "the header itself stays"
    );
    for ssl in ["X-Forwarded-Ssl: on\r\n", "X-Forwarded-Protocol: ssl\r\n"] {
        assert_eq!(
            value(&environ_over(tcp(), ssl).1, "wsgi.url_scheme"),
            Some("https"),
            "{ssl}"
        );
    }
    // Without the headers, the peer as before.
    let (_, keys) = environ_over(tcp(), "");
    assert_eq!(value(&keys, "REMOTE_ADDR"), Some("127.0.0.1"));
    assert!(value(&keys, "REMOTE_PORT").is_some_and(|p| p.parse::<u16>().is_ok()));
    assert_eq!(value(&keys, "wsgi.url_scheme"), Some("http"));
}

#[test]
fn conflicting_scheme_headers_from_a_trusted_proxy_are_400() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Ssl: on\r\nX-Forwarded-Proto: http\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 400, "{}", r.head);
    assert!(r.text().contains("scheme"), "{}", r.text());
    assert!(r.closes() && c.is_closed());
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0, "the app never ran");
}

#[test]
fn an_untrusted_peer_s_forwarding_headers_change_nothing() {
    let untrusted = ServerConfig {
        forwarded_allow_ips: may_wsgi::http::ForwardedAllow::parse("10.0.0.1").unwrap(),
        ..config()
    };
    let server = demo_with(untrusted.clone());
    let tcp = || std::net::TcpStream::connect(server.local_addr()).unwrap();
    let conflicting = "X-Forwarded-Ssl: on\r\nX-Forwarded-Proto: http\r\n";
    for extra in [FORWARDED, conflicting] {
        let (status, keys) = environ_over(tcp(), extra);
        assert_eq!(status, 200, "not even a conflict is looked at: {extra}");
        assert_eq!(value(&keys, "REMOTE_ADDR"), Some("127.0.0.1"));
        assert_eq!(value(&keys, "wsgi.url_scheme"), Some("http"));
    }
    // A Unix-domain peer is trusted whatever the list says (gunicorn's rule): only local
    // processes with the socket's permissions can connect.
    let dir = std::env::temp_dir().join(format!("may_wsgi_fwd_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let unix = may_wsgi::Server::from_listener(listener, may_wsgi::demo::app, untrusted)
        .unwrap()
        .start()
        .unwrap();
    let stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let (_, keys) = environ_over(stream, FORWARDED);
    assert_eq!(value(&keys, "REMOTE_ADDR"), Some("203.0.113.7"));
    assert_eq!(value(&keys, "wsgi.url_scheme"), Some("https"));
    drop(unix);
    let _ = std::fs::remove_dir_all(&dir);
}
