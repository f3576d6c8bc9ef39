//! The gateway contract over real sockets: environ keys, wsgi.input, start_response with
//! exc_info and write(), the body kinds, close() on Drop, Content-Length mismatches,
//! header validation and the access log.

#[macro_use]
mod common;

use std::io::{BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use may_wsgi::{AccessLogTarget, Body, Environ, ServerConfig, StartResponse};

/// Answers with the value of the environ key named by the query string.
fn key_app(environ: &mut Environ, sr: &mut StartResponse) -> Body {
    let key = environ.get_or("QUERY_STRING", "").to_owned();
    match environ.get(&key) {
        Some(v) => {
            let v = v.to_owned();
            sr.call("200 OK", [("Content-Type", "text/plain")]);
            Body::from(v)
        }
        None => {
            sr.call("404 Not Found", [("Content-Type", "text/plain")]);
            Body::from("absent")
        }
    }
}

fn key(addr: std::net::SocketAddr, raw_head_rest: &str, key: &str) -> Option<String> {
    let r = exchange(
        addr,
        format!("GET /p%41th?{key} HTTP/1.1\r\nHost: example:80\r\n{raw_head_rest}\r\n").as_bytes(),
    );
    (r.status == 200).then(|| r.text())
}

fn environ_keys_over_a_socket() {
    let server = start(key_app, config());
    let addr = server.local_addr();
    assert_eq!(key(addr, "", "REQUEST_METHOD").as_deref(), Some("GET"));
    assert_eq!(key(addr, "", "PATH_INFO").as_deref(), Some("/pAth"));
    assert_eq!(key(addr, "", "SERVER_PORT"), Some(addr.port().to_string()));
    assert_eq!(key(addr, "", "SERVER_NAME").as_deref(), Some("127.0.0.1"));
    assert_eq!(key(addr, "", "REMOTE_ADDR").as_deref(), Some("127.0.0.1"));
    assert!(key(addr, "", "REMOTE_PORT").unwrap().parse::<u16>().is_ok());
    assert_eq!(key(addr, "", "HTTP_HOST").as_deref(), Some("example:80"));
    assert_eq!(
        key(addr, "X-Multi: a\r\nX-Multi: b\r\n", "HTTP_X_MULTI").as_deref(),
        Some("a,b")
    );
    assert_eq!(key(addr, "X_Forged: evil\r\n", "HTTP_X_FORGED"), None);
    assert_eq!(
        key(addr, "Content-Type: text/x\r\n", "CONTENT_TYPE").as_deref(),
        Some("text/x")
    );
    assert_eq!(key(addr, "Content-Type: text/x\r\n", "HTTP_CONTENT_TYPE"), None);
    assert_eq!(key(addr, "", "CONTENT_LENGTH"), None);
    assert_eq!(key(addr, "", "wsgi.url_scheme").as_deref(), Some("http"));
    assert_eq!(key(addr, "", "wsgi.multithread").as_deref(), Some("True"));
    assert_eq!(key(addr, "", "wsgi.multiprocess").as_deref(), Some("False"));
    assert_eq!(key(addr, "", "wsgi.run_once").as_deref(), Some("False"));
    assert_eq!(key(addr, "", "wsgi.input_terminated").as_deref(), Some("True"));
    assert_eq!(key(addr, "", "wsgi.version").as_deref(), Some("(1, 0)"));
}

fn wsgi_input_lines_from_a_chunked_body() {
    fn app(environ: &mut Environ, sr: &mut StartResponse) -> Body {
        let lines: Vec<Vec<u8>> = environ.input().iter_lines().map(|l| l.unwrap()).collect();
        sr.call("200 OK", [("Content-Type", "text/plain")]);
        Body::from(format!(
            "{} lines, last {:?}",
            lines.len(),
            String::from_utf8_lossy(lines.last().unwrap())
        ))
    }
    let server = start(app, config());
    let r = exchange(
        server.local_addr(),
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab\nc\r\n5\r\nd\nef\n\r\n3\r\nend\r\n0\r\n\r\n",
    );
    assert_eq!(r.text(), "4 lines, last \"end\"");
}

fn exc_info_replaces_a_response_not_yet_sent() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("Content-Type", "text/plain")]);
        // Something failed after start_response; the app reports it instead.
        sr.call_with_exc_info("503 Service Unavailable", [("Content-Type", "text/plain")], "db down");
        Body::from("try later")
    }
    let server = start(app, config());
    let r = get(server.local_addr(), "/");
    assert_eq!(r.status, 503);
    assert_eq!(r.body, b"try later");
}

fn exc_info_after_the_head_cuts_the_connection() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        let mut write = sr.call("200 OK", [("Content-Type", "text/plain")]);
        write.write_all(b"partial").unwrap();
        sr.call_with_exc_info(
            "500 Internal Server Error",
            [("Content-Type", "text/plain")],
            "late failure",
        );
        Body::from("never sent")
    }
    let server = start(app, config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let all = c.read_to_close();
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("partial"));
    assert!(!text.contains("never sent"));
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "no last chunk: the response is visibly broken"
    );
}

fn a_second_start_response_without_exc_info_is_an_error() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("Content-Type", "text/plain")]);
        let second = sr.try_call("201 Created", [("Content-Type", "text/plain")]).is_err();
        sr.call("202 Accepted", Vec::<(String, String)>::new());
        Body::from(format!("second refused: {second}"))
    }
    let server = start(app, config());
    assert_eq!(
        get(server.local_addr(), "/").status,
        500,
        "the third call panicked: 500"
    );
}

fn legacy_write_streams_before_the_body() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        let mut write = sr.call("200 OK", [("Content-Type", "text/plain")]);
        write.write_all(b"one ").unwrap();
        write.write_all(b"two ").unwrap();
        Body::from("three")
    }
    let server = start(app, config());
    let r = get(server.local_addr(), "/");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.body, b"one two three");
}

fn headers_with_cr_or_lf_never_reach_the_wire() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("X-Evil", "a\r\nSet-Cookie: stolen=1")]);
        Body::from("x")
    }
    let server = start(app, config());
    let r = get(server.local_addr(), "/");
    assert_eq!(r.status, 500);
    assert!(!r.head.contains("stolen"));
}

fn content_length_too_short_closes_the_connection() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("Content-Length", "10")]);
        Body::iter(vec!["12345"])
    }
    let server = start(app, config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let all = c.read_to_close();
    let text = String::from_utf8_lossy(&all);
    assert!(text.ends_with("\r\n\r\n12345"), "{text}");
    assert_eq!(
        text.matches("HTTP/1.1").count(),
        1,
        "no second response after a short one"
    );
}

fn content_length_too_long_never_corrupts_the_stream() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("Content-Length", "3")]);
        Body::iter(vec!["ab", "cdefgh"])
    }
    let server = start(app, config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let all = c.read_to_close();
    let text = String::from_utf8_lossy(&all);
    assert!(!text.contains("cdefgh"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
}

fn missing_start_response_is_a_500() {
    fn app(_: &mut Environ, _: &mut StartResponse) -> Body {
        Body::from("forgot")
    }
    let server = start(app, config());
    assert_eq!(get(server.local_addr(), "/").status, 500);
}

fn body_kinds() {
    fn app(environ: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("Content-Type", "application/octet-stream")]);
        match environ.get_or("PATH_INFO", "") {
            "/empty" => Body::Empty,
            "/list" => Body::from(vec!["ab".to_owned(), "cd".to_owned()]),
            "/file" => Body::File(may_wsgi::wsgi::FileWrapper::new(
                std::io::Cursor::new(vec![7u8; 100_000]),
                4096,
            )),
            _ => Body::from(&b"static"[..]),
        }
    }
    let server = start(app, config());
    let addr = server.local_addr();
    let r = get(addr, "/empty");
    assert_eq!(r.header("Content-Length"), Some("0"));
    assert!(r.body.is_empty());
    let r = get(addr, "/list");
    assert_eq!(r.header("Content-Length"), Some("4"));
    assert_eq!(r.body, b"abcd");
    let r = get(addr, "/file");
    assert_eq!(r.body, vec![7u8; 100_000]);
    assert_eq!(get(addr, "/").body, b"static");
}

/// Counts how many bodies were closed (dropped).
struct Closing {
    left: usize,
    closed: Arc<AtomicUsize>,
}

impl Iterator for Closing {
    type Item = Vec<u8>;
    fn next(&mut self) -> Option<Vec<u8>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        may::coroutine::sleep(Duration::from_millis(1));
        Some(vec![b'y'; 16 * 1024])
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

fn drop_is_close_also_when_the_client_goes_away() {
    let closed = Arc::new(AtomicUsize::new(0));
    let app_closed = closed.clone();
    let app = move |_: &mut Environ, sr: &mut StartResponse| {
        sr.call("200 OK", [("Content-Type", "text/plain")]);
        Body::Iter(Box::new(Closing {
            left: 10_000,
            closed: app_closed.clone(),
        }))
    };
    let server = start(app, config());
    // One client reads a little and leaves.
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut some = [0u8; 1000];
    c.reader.read_exact(&mut some).unwrap();
    drop(c);
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while closed.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "close() ran for the abandoned response"
    );
}

fn middleware_wraps_an_app() {
    struct AddHeader<A>(A);
    impl<A: may_wsgi::Application> may_wsgi::Application for AddHeader<A> {
        fn call(&self, environ: &mut Environ, sr: &mut StartResponse) -> Body {
            environ.set("middleware.seen", "yes");
            let body = self.0.call(environ, sr);
            sr.add_header("X-Middleware", "1").unwrap();
            body
        }
    }
    let server = start(AddHeader(key_app), config());
    let r = exchange(
        server.local_addr(),
        b"GET /?middleware.seen HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(r.text(), "yes");
    assert_eq!(r.header("X-Middleware"), Some("1"));
}

fn access_log_lines_in_eventlet_format() {
    // The class in the name: both variants of this test run at once in this process.
    let dir = std::env::temp_dir().join(format!("may_wsgi_log_{}_{}", class().name(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("access.log");
    let _ = std::fs::remove_file(&path);
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            access_log: AccessLogTarget::File(path.clone()),
            log_x_forwarded_for: true,
            ..config()
        },
    );
    let addr = server.local_addr();
    get(addr, "/status/404");
    exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 10.1.2.3\r\nConnection: close\r\n\r\n",
    );
    // The line is written just after the response is flushed: wait for it.
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    let mut text = String::new();
    while text.lines().count() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        text = std::fs::read_to_string(&path).unwrap();
    }
    drop(server);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    // 127.0.0.1 - - [25/Nov/2026 15:22:15] "GET /status/404 HTTP/1.1" 404 4 0.000120
    let first = lines.iter().find(|l| l.contains("/status/404")).unwrap();
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(first.contains("] \"GET /status/404 HTTP/1.1\" 404 4 "), "{first}");
    let seconds = first.rsplit(' ').next().unwrap();
    assert!(
        seconds.parse::<f64>().is_ok() && seconds.split('.').nth(1).unwrap().len() == 6,
        "{first}"
    );
    let second = lines.iter().find(|l| l.contains("\"GET / HTTP/1.1\"")).unwrap();
    assert!(second.starts_with("10.1.2.3,127.0.0.1 - - ["), "{second}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn wsgi_errors_goes_to_the_log_without_failing_the_request() {
    fn app(environ: &mut Environ, sr: &mut StartResponse) -> Body {
        writeln!(environ.errors(), "something odd").unwrap();
        sr.call("200 OK", [("Content-Type", "text/plain")]);
        Body::from("ok")
    }
    let server = start(app, config());
    assert_eq!(get(server.local_addr(), "/").body, b"ok");
}

fn expect_continue_is_not_sent_after_the_response_started() {
    static SAW_BODY: AtomicBool = AtomicBool::new(false);
    fn app(environ: &mut Environ, sr: &mut StartResponse) -> Body {
        let mut write = sr.call("200 OK", [("Content-Type", "text/plain")]);
        write.write_all(b"started").unwrap();
        let mut line = String::new();
        let _ = environ.input().read_line(&mut line);
        SAW_BODY.store(line == "data", Ordering::SeqCst);
        Body::Empty
    }
    let server = start(app, config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let mut status = String::new();
    c.reader.read_line(&mut status).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK\r\n", "the final status, never an interim 100");
    c.send(b"data");
    let rest = c.read_to_close();
    assert!(String::from_utf8_lossy(&rest).contains("started"));
    assert!(SAW_BODY.load(Ordering::SeqCst));
}

fn the_demo_s_environ_gives_header_bytes_back_as_they_came() {
    // A raw 0xE9 in a header value is read as latin-1 ("é") and written back as 0xE9, as
    // the Python demo's environ[k].encode('latin-1') would.
    let server = start_demo();
    let r = exchange(
        server.local_addr(),
        b"GET /environ HTTP/1.1\r\nHost: t\r\nX-Name: caf\xe9\r\n\r\n",
    );
    assert!(
        r.body.windows(17).any(|w| w == b"HTTP_X_NAME=caf\xe9\n"),
        "{}",
        r.text()
    );
}

both_classes!(
    environ_keys_over_a_socket,
    wsgi_input_lines_from_a_chunked_body,
    exc_info_replaces_a_response_not_yet_sent,
    exc_info_after_the_head_cuts_the_connection,
    a_second_start_response_without_exc_info_is_an_error,
    legacy_write_streams_before_the_body,
    headers_with_cr_or_lf_never_reach_the_wire,
    content_length_too_short_closes_the_connection,
    content_length_too_long_never_corrupts_the_stream,
    missing_start_response_is_a_500,
    body_kinds,
    drop_is_close_also_when_the_client_goes_away,
    middleware_wraps_an_app,
    access_log_lines_in_eventlet_format,
    wsgi_errors_goes_to_the_log_without_failing_the_request,
    expect_continue_is_not_sent_after_the_response_started,
    the_demo_s_environ_gives_header_bytes_back_as_they_came,
);
