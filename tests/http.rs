//! HTTP/1.1 and HTTP/1.0 behaviour of the server over real sockets on 127.0.0.1: keep-alive,
//! pipelining, 100-continue, HEAD, bodiless statuses, framing of unknown lengths, the
//! RFC 9112 refusals, timeouts, and what happens when a client misbehaves.

#[macro_use]
mod common;

use std::io::Read;
use std::time::Duration;

use common::*;
use may_wsgi::{Body, Environ, ServerConfig, StartResponse};

fn hello_world_with_keep_alive() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    for _ in 0..3 {
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"Hello World");
        assert_eq!(r.header("Content-Length"), Some("11"));
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert!(!r.closes());
        let date = r.header("Date").expect("Date header");
        assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    }
}

fn connection_close_is_honoured() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let r = c.response();
    assert!(r.closes());
    assert!(c.is_closed());
}

fn http10_closes_unless_keep_alive_is_asked_for() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    let r = c.response();
    assert_eq!(r.body, b"Hello World");
    assert!(c.is_closed());

    let mut c = Client::connect(server.local_addr());
    for _ in 0..2 {
        c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.response();
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        assert_eq!(r.body, b"Hello World");
    }
}

fn environ_reports_http10() {
    let server = start_demo();
    let r = exchange(server.local_addr(), b"GET /environ HTTP/1.0\r\n\r\n");
    assert!(r.text().contains("SERVER_PROTOCOL=HTTP/1.0\n"), "{}", r.text());
}

fn pipelined_requests_are_answered_in_order() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(
        b"GET /status/201 HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
          GET /status/202 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(c.response().status, 201);
    let echoed = c.response();
    assert_eq!(echoed.body, b"hello");
    assert_eq!(c.response().status, 202);
    assert_eq!(c.response().body, b"Hello World");
}

fn expect_100_continue_is_answered_on_first_read() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut c.reader, &mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
    let mut blank = String::new();
    std::io::BufRead::read_line(&mut c.reader, &mut blank).unwrap();
    assert_eq!(blank, "\r\n");
    c.send(b"ping");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ping");
    // The connection goes on.
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"Hello World");
}

fn no_100_continue_when_the_app_answers_without_reading() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"PUT / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200, "the final answer comes first, no interim 100");
    assert!(!r.head.contains("100 Continue"));
    assert!(
        r.closes(),
        "the body may never come, so the connection cannot be reused"
    );
    assert!(c.is_closed());
}

fn unknown_expectation_is_417() {
    let server = start_demo();
    let r = exchange(
        server.local_addr(),
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: something\r\n\r\nhi",
    );
    assert_eq!(r.status, 417);
    assert!(r.closes());
}

fn head_gets_the_get_head_and_no_body() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response_to("HEAD").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("11"));
    // Were a body sent, it would be read here as the next response's status line.
    c.send(b"HEAD /stream?chunks=2&size=3 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response_to("HEAD").unwrap();
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"Hello World");
}

fn bodiless_statuses_have_no_body() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    for code in ["204", "304"] {
        c.send(format!("GET /status/{code} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.status.to_string(), code);
        assert_eq!(r.header("Content-Length"), None);
        assert_eq!(r.header("Transfer-Encoding"), None);
    }
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"Hello World");
}

fn unknown_length_is_chunked_for_11_and_close_delimited_for_10() {
    let server = start_demo();
    let r = get(server.local_addr(), "/stream?chunks=4&size=3");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.body, b"xxxxxxxxxxxx");

    let mut c = Client::connect(server.local_addr());
    c.send(b"GET /stream?chunks=4&size=3 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let r = c.response();
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!(r.header("Content-Length"), None);
    assert!(r.closes());
    assert_eq!(r.body, b"xxxxxxxxxxxx");
}

fn chunked_request_body_is_decoded() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: 1\r\n\r\n");
    let r = c.response();
    assert_eq!(r.body, b"hello world");
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"Hello World");
}

fn unread_body_is_drained_not_parsed_as_a_request() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    let smuggled = b"GET /status/500 HTTP/1.1\r\nHost: t\r\n\r\n";
    c.send(
        format!(
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            smuggled.len()
        )
        .as_bytes(),
    );
    c.send(smuggled);
    assert_eq!(c.response().body, b"Hello World");
    c.send(b"GET /status/201 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 201, "the smuggled request was never answered");
}

fn an_unread_body_past_the_drain_limit_closes_the_connection() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            max_drain: 1000,
            ..config()
        },
    );
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    c.send(&[b'a'; 5000]);
    let r = c.response();
    assert_eq!(r.body, b"Hello World");
    assert!(c.is_closed());
}

/// Every refusal: the status, `Connection: close`, and the connection closed after it.
fn rfc9112_refusals_answer_then_close() {
    let server = start_demo();
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let long_field = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n", "b".repeat(9000));
    let mut many = String::from("GET / HTTP/1.1\r\nHost: t\r\n");
    for i in 0..101 {
        many.push_str(&format!("X-{i}: {i}\r\n"));
    }
    many.push_str("\r\n");
    let cases: Vec<(&[u8], u16)> = vec![
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            400,
        ),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nabc\r\n0\r\n\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
            400,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n",
            400,
        ),
        (b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nBad{Name: x\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            501,
        ),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: bogus\r\n\r\n",
            501,
        ),
        (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
        (long_target.as_bytes(), 414),
        (long_field.as_bytes(), 431),
        (many.as_bytes(), 431),
    ];
    for (raw, status) in cases {
        let mut c = Client::connect(server.local_addr());
        let _ = c.try_send(raw);
        let r = c.response();
        assert_eq!(
            r.status,
            status,
            "{:?}",
            String::from_utf8_lossy(&raw[..raw.len().min(80)])
        );
        assert!(r.closes(), "{:?}", String::from_utf8_lossy(&raw[..raw.len().min(80)]));
        assert!(c.is_closed());
    }
    // The server is unharmed.
    assert_eq!(get(server.local_addr(), "/").body, b"Hello World");
}

fn configured_limits_apply() {
    let mut cfg = config();
    cfg.limits.request_line = 64;
    cfg.limits.fields = 3;
    let server = start(may_wsgi::demo::app, cfg);
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(70));
    assert_eq!(exchange(server.local_addr(), long.as_bytes()).status, 414);
    let many = b"GET / HTTP/1.1\r\nHost: t\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(exchange(server.local_addr(), many).status, 431);
    assert_eq!(get(server.local_addr(), "/").status, 200);
}

fn the_answer_survives_a_client_still_sending() {
    // A framing error while the client keeps sending: lingering close means the client
    // still reads the 400 instead of a reset.
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nnothex\r\n");
    for _ in 0..20 {
        if c.try_send(&[b'z'; 4096]).is_err() {
            break;
        }
    }
    let r = c.response();
    assert_eq!(r.status, 400);
}

fn idle_keep_alive_connections_are_closed() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            keep_alive: Duration::from_millis(300),
            ..config()
        },
    );
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 200);
    assert!(c.is_closed(), "the idle connection was closed by the server");
}

fn keep_alive_zero_closes_after_each_response() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            keep_alive: Duration::ZERO,
            ..config()
        },
    );
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c.response().closes());
    assert!(c.is_closed());
}

fn a_stalled_head_gets_408_and_others_are_served_meanwhile() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            client_timeout: Duration::from_millis(500),
            worker_connections: 10,
            ..config()
        },
    );
    let mut slow = Client::connect(server.local_addr());
    slow.send(b"GET / HTTP/1.1\r\nHo");
    // Other clients are answered while the slow one stalls.
    for _ in 0..5 {
        assert_eq!(get(server.local_addr(), "/").body, b"Hello World");
    }
    let r = slow.response();
    assert_eq!(r.status, 408);
    assert!(slow.is_closed());
}

fn a_stalled_body_is_cut() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            client_timeout: Duration::from_millis(300),
            ..config()
        },
    );
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    // The head went out with the first piece; the rest never comes, so the server cuts the
    // response short rather than pretending it is complete.
    let mut all = Vec::new();
    let _ = c.reader.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nabc"), "{text}");
}

fn panics_become_500_and_the_server_goes_on() {
    let server = start_demo();
    let r = get(server.local_addr(), "/panic");
    assert_eq!(r.status, 500);
    assert!(r.closes());
    assert!(!r.text().contains("asked to panic"), "no details without --debug");
    assert_eq!(get(server.local_addr(), "/").body, b"Hello World");

    let debug = start(
        may_wsgi::demo::app,
        ServerConfig {
            debug: true,
            ..config()
        },
    );
    let r = get(debug.local_addr(), "/panic");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("asked to panic"), "{}", r.text());
}

fn a_panic_after_the_head_cuts_the_connection() {
    fn app(_: &mut Environ, sr: &mut StartResponse) -> Body {
        sr.call("200 OK", [("Content-Type", "text/plain")]);
        let mut n = 0;
        Body::iter(std::iter::from_fn(move || {
            n += 1;
            if n == 3 {
                panic!("failed half way");
            }
            Some(b"part ".to_vec())
        }))
    }
    let server = start(app, config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let err = c.response_to("GET").unwrap_err();
    assert_eq!(
        err.kind(),
        std::io::ErrorKind::UnexpectedEof,
        "no last chunk: the client sees the failure"
    );
}

fn a_disconnecting_client_costs_only_its_connection() {
    let server = start_demo();
    for _ in 0..5 {
        let mut c = Client::connect(server.local_addr());
        c.send(b"GET /stream?chunks=100000&size=1024 HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut some = [0u8; 4096];
        c.reader.read_exact(&mut some).unwrap();
        drop(c);
    }
    assert_eq!(get(server.local_addr(), "/").body, b"Hello World");
}

fn one_connection_per_coroutine_many_at_once() {
    let server = start_demo();
    let addr = server.local_addr();
    let clients: Vec<_> = (0..50)
        .map(|_| {
            std::thread::spawn(move || {
                let r = get(addr, "/sleep?seconds=0.2");
                r.status
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), 200);
    }
}

fn a_stopped_server_finishes_in_flight_requests() {
    let server = start_demo();
    let addr = server.local_addr();
    let in_flight = std::thread::spawn(move || get(addr, "/sleep?seconds=0.5"));
    // Wait until the request is being served.
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while server.connections() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(server.shutdown(Duration::from_secs(10)), "connections finished");
    assert_eq!(in_flight.join().unwrap().status, 200);
    assert!(std::net::TcpStream::connect(addr).is_err(), "no longer accepting");
}

fn demo_routes_refuse_bad_parameters() {
    let server = start_demo();
    let addr = server.local_addr();
    for target in [
        "/sleep?seconds=-1",
        "/sleep?seconds=x",
        "/block?seconds=9999",
        "/stream?chunks=x",
        "/status/99",
        "/status/abc",
        "/hash?kib=x",
        "/hash?kib=65537",
    ] {
        let r = get(addr, target);
        assert_eq!(r.status, 400, "{target}");
        assert!(!r.body.is_empty(), "{target}: says why");
    }
    assert_eq!(get(addr, "/nope").status, 404);
    assert_eq!(get(addr, "/pid").text().trim(), std::process::id().to_string());
    let hash = format!("{:016x}\n", may_wsgi::demo::fnv1a_kib(3));
    assert_eq!(get(addr, "/hash?kib=3").text(), hash);
}

both_classes!(
    hello_world_with_keep_alive,
    connection_close_is_honoured,
    http10_closes_unless_keep_alive_is_asked_for,
    environ_reports_http10,
    pipelined_requests_are_answered_in_order,
    expect_100_continue_is_answered_on_first_read,
    no_100_continue_when_the_app_answers_without_reading,
    unknown_expectation_is_417,
    head_gets_the_get_head_and_no_body,
    bodiless_statuses_have_no_body,
    unknown_length_is_chunked_for_11_and_close_delimited_for_10,
    chunked_request_body_is_decoded,
    unread_body_is_drained_not_parsed_as_a_request,
    an_unread_body_past_the_drain_limit_closes_the_connection,
    rfc9112_refusals_answer_then_close,
    configured_limits_apply,
    the_answer_survives_a_client_still_sending,
    idle_keep_alive_connections_are_closed,
    keep_alive_zero_closes_after_each_response,
    a_stalled_head_gets_408_and_others_are_served_meanwhile,
    a_stalled_body_is_cut,
    panics_become_500_and_the_server_goes_on,
    a_panic_after_the_head_cuts_the_connection,
    a_disconnecting_client_costs_only_its_connection,
    one_connection_per_coroutine_many_at_once,
    a_stopped_server_finishes_in_flight_requests,
    demo_routes_refuse_bad_parameters,
);
