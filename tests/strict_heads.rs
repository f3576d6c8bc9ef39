//! RFC 9112 strictness over real sockets, against the demo app: the request-target forms,
//! Host, versions, a repeated Content-Length, chunk-size lines, and the size limits.
//!
//! The sans-IO tests in `src/http` feed these rules to the parser whole, line by line, byte
//! by byte and in random pieces; here each goes through the server, to show the status
//! reaches the client, that a refusal is followed by a close, and what the app sees of a
//! request that passes.

#[macro_use]
mod common;

use common::*;
use may_wsgi::http::Limits;

/// One row: what it shows, the raw request, the status the client must get.
struct Case {
    what: &'static str,
    raw: Vec<u8>,
    status: u16,
}

fn case(what: &'static str, raw: impl Into<Vec<u8>>, status: u16) -> Case {
    Case {
        what,
        raw: raw.into(),
        status,
    }
}

/// A GET of `target` with the given version and header lines.
fn get_with(target: &str, version: &str, fields: &str) -> Vec<u8> {
    format!("GET {target} {version}\r\n{fields}\r\n").into_bytes()
}

fn cases() -> Vec<Case> {
    let host = "Host: t\r\n";
    let long_method = format!("{} / HTTP/1.1\r\n{host}\r\n", "A".repeat(9000));
    // --limit-request-field-size counts name, colon, whitespace, value and CRLF: 8190.
    let field_of = |value_len: usize| get_with("/", "HTTP/1.1", &format!("{host}X: {}\r\n", "b".repeat(value_len)));
    // Nine fields of 8000 bytes: each within its limit, together over the 64 KiB head.
    let big_head = get_with(
        "/",
        "HTTP/1.1",
        &format!("{host}{}", format!("X: {}\r\n", "c".repeat(8000)).repeat(9)),
    );
    let chunked =
        |body: &str| format!("POST /echo HTTP/1.1\r\n{host}Transfer-Encoding: chunked\r\n\r\n{body}").into_bytes();
    vec![
        // The request-target (RFC 9112 3.2).
        case("origin-form", get_with("/", "HTTP/1.1", host), 200),
        case("a fragment", get_with("/a#frag", "HTTP/1.1", host), 400),
        case(
            "origin-form without its slash",
            get_with("foo/bar", "HTTP/1.1", host),
            400,
        ),
        case("asterisk-form with GET", get_with("*", "HTTP/1.1", host), 400),
        case(
            "asterisk-form with OPTIONS",
            format!("OPTIONS * HTTP/1.1\r\n{host}\r\n"),
            200,
        ),
        case(
            "authority-form with GET",
            get_with("example.com:443", "HTTP/1.1", "Host: example.com:443\r\n"),
            400,
        ),
        case(
            "CONNECT",
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            501,
        ),
        case("CONNECT to a path", format!("CONNECT / HTTP/1.1\r\n{host}\r\n"), 400),
        case("absolute-form", get_with("http://t:8080/", "HTTP/1.1", host), 200),
        case(
            "absolute-form, empty path",
            get_with("https://t", "HTTP/1.1", host),
            200,
        ),
        case(
            "malformed absolute-form",
            format!("PUT s://]ufd/: HTTP/1.1\r\n{host}\r\n"),
            400,
        ),
        case(
            "userinfo in the target",
            get_with("http://u:p@t/", "HTTP/1.1", host),
            400,
        ),
        case("an ftp URI", get_with("ftp://t/", "HTTP/1.1", host), 400),
        case("a non-ASCII target", get_with("/caf\u{e9}", "HTTP/1.1", host), 400),
        case(
            "a control byte in the target",
            get_with("/a\x01b", "HTTP/1.1", host),
            400,
        ),
        case("DEL in the target", get_with("/a\x7fb", "HTTP/1.1", host), 400),
        // Host (RFC 9112 3.2, RFC 9110 7.2).
        case("no Host on HTTP/1.1", get_with("/", "HTTP/1.1", ""), 400),
        case("no Host on HTTP/1.0", get_with("/", "HTTP/1.0", ""), 200),
        case("two Hosts", get_with("/", "HTTP/1.1", "Host: a\r\nHost: a\r\n"), 400),
        case("an empty Host", get_with("/", "HTTP/1.1", "Host:\r\n"), 400),
        case("Host with userinfo", get_with("/", "HTTP/1.1", "Host: a@b\r\n"), 400),
        case("Host with a path", get_with("/", "HTTP/1.1", "Host: b/c\r\n"), 400),
        case("Host as a list", get_with("/", "HTTP/1.1", "Host: a, b\r\n"), 400),
        case(
            "Host with a bad port",
            get_with("/", "HTTP/1.1", "Host: a:http\r\n"),
            400,
        ),
        case(
            "Host an IPv6 literal",
            get_with("/", "HTTP/1.1", "Host: [::1]:8000\r\n"),
            200,
        ),
        case(
            "Host an unclosed literal",
            get_with("/", "HTTP/1.1", "Host: [::1\r\n"),
            400,
        ),
        // HTTP-version (RFC 9112 2.3, RFC 9110 2.5).
        case("HTTP/1", get_with("/", "HTTP/1", host), 400),
        case("HTTP/01.1", get_with("/", "HTTP/01.1", host), 400),
        case("HTTP/1.1x", get_with("/", "HTTP/1.1x", host), 400),
        case("lower-case http", get_with("/", "http/1.1", host), 400),
        case("HTTP/1.2, processed as HTTP/1.1", get_with("/", "HTTP/1.2", host), 200),
        case("HTTP/2.0", get_with("/", "HTTP/2.0", host), 505),
        case("HTTP/3.0", get_with("/", "HTTP/3.0", host), 505),
        // The method.
        case("a method longer than the request line", long_method, 501),
        // Singletons.
        case(
            "two Content-Types",
            get_with(
                "/",
                "HTTP/1.1",
                &format!("{host}Content-Type: a/b\r\nContent-Type: c/d\r\n"),
            ),
            400,
        ),
        case(
            "Content-Length: 5, 5",
            format!("POST /echo HTTP/1.1\r\n{host}Content-Length: 5, 5\r\n\r\nhello"),
            200,
        ),
        case(
            "Content-Length twice, the same",
            format!("POST /echo HTTP/1.1\r\n{host}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
            200,
        ),
        case(
            "Content-Length: 5, 6",
            format!("POST /echo HTTP/1.1\r\n{host}Content-Length: 5, 6\r\n\r\nhello"),
            400,
        ),
        // Chunk-size lines (RFC 9112 7.1).
        case(
            "chunk extensions",
            chunked("5;a=b;c\r\nhello\r\n0;d=\"e f\"\r\n\r\n"),
            200,
        ),
        case("whitespace after the size", chunked("0 \r\n\r\n"), 400),
        case("whitespace before the size", chunked(" 5\r\nhello\r\n0\r\n\r\n"), 400),
        case("whitespace around a ;", chunked("5 ; a\r\nhello\r\n0\r\n\r\n"), 400),
        case("a bare ;", chunked("5;\r\nhello\r\n0\r\n\r\n"), 400),
        case(
            "an extension that is not a token",
            chunked("5;a b\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "an unclosed quoted-string",
            chunked("5;a=\"b\r\nhello\r\n0\r\n\r\n"),
            400,
        ),
        case(
            "a bad last chunk after good data",
            chunked("5\r\nhello\r\n0 \r\n\r\n"),
            400,
        ),
        // The limits.
        case("a field line of 8190 bytes", field_of(8190 - 5), 200),
        case("a field line of 8191 bytes", field_of(8191 - 5), 431),
        case("a head over 64 KiB", big_head, 431),
    ]
}

fn each_rule_answers_its_status_and_refusals_close() {
    let server = start_demo();
    for Case { what, raw, status } in cases() {
        let mut c = Client::connect(server.local_addr());
        let _ = c.try_send(&raw);
        let r = c
            .response_to("GET")
            .unwrap_or_else(|e| panic!("{what}: no response: {e}"));
        assert_eq!(r.status, status, "{what}: {}", r.text());
        if status >= 400 {
            assert!(r.closes(), "{what}: a refusal says Connection: close");
            assert!(c.is_closed(), "{what}: and closes");
        }
    }
    // The server is unharmed.
    assert_eq!(get(server.local_addr(), "/").body, b"Hello World");
}

fn options_asterisk_reaches_the_app_which_lists_its_methods() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Allow"), Some("GET, HEAD, POST, PUT, OPTIONS"));
    assert_eq!(r.header("Content-Length"), Some("0"), "RFC 9110 9.3.7");
    assert!(r.body.is_empty());
    // The connection goes on.
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"Hello World");
}

fn connect_never_reaches_the_app() {
    let server = start_demo();
    // /environ would answer 200 to any method; CONNECT gets 501 from the server itself.
    let r = exchange(
        server.local_addr(),
        b"CONNECT t:80 HTTP/1.1\r\nHost: t:80\r\n\r\nGET /environ HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(r.status, 501);
    assert!(r.closes());
    assert!(!r.text().contains("REQUEST_METHOD"), "{}", r.text());
}

/// The demo's `/environ` as key=value pairs.
fn environ_of(raw: &[u8]) -> Vec<(String, String)> {
    let server = start_demo();
    let r = exchange(server.local_addr(), raw);
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn key<'a>(environ: &'a [(String, String)], name: &str) -> Option<&'a str> {
    environ.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn an_absolute_form_authority_overrides_host() {
    let environ = environ_of(
        b"GET http://example.com:8080/environ/x?q=1 HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(key(&environ, "HTTP_HOST"), Some("example.com:8080"));
    assert_eq!(key(&environ, "PATH_INFO"), Some("/environ/x"));
    assert_eq!(key(&environ, "QUERY_STRING"), Some("q=1"));
    assert_eq!(environ.iter().filter(|(k, _)| k == "HTTP_HOST").count(), 1);
    // HTTP/1.0 needs no Host field: the authority still gives HTTP_HOST.
    let environ = environ_of(b"GET HTTP://[::1]:9/environ HTTP/1.0\r\n\r\n");
    assert_eq!(key(&environ, "HTTP_HOST"), Some("[::1]:9"));
}

fn a_repeated_content_length_reaches_the_app_as_one_number() {
    let server = start_demo();
    for raw in [
        &b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello"[..],
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    ] {
        // /echo answers with the request's CONTENT_LENGTH as its Content-Length: before, "5, 5"
        // made that an invalid header and the answer a 500.
        let r = exchange(server.local_addr(), raw);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("Content-Length"), Some("5"));
        assert_eq!(r.body, b"hello");
    }
    let environ = environ_of(b"POST /environ HTTP/1.1\r\nHost: t\r\nContent-Length: 0, 0\r\nConnection: close\r\n\r\n");
    assert_eq!(key(&environ, "CONTENT_LENGTH"), Some("0"));
}

fn http_1_2_is_served_as_http_1_1() {
    let server = start_demo();
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET /environ HTTP/1.2\r\nHost: t\r\n\r\n");
    let r = c.response();
    assert!(r.head.starts_with("HTTP/1.1 200"), "{}", r.head);
    assert!(r.text().contains("SERVER_PROTOCOL=HTTP/1.1\n"), "{}", r.text());
    assert!(!r.closes(), "keep-alive, as for HTTP/1.1");
    c.send(b"GET / HTTP/1.2\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().body, b"Hello World");
}

fn head_total_is_configurable() {
    let mut cfg = config();
    cfg.limits = Limits {
        head_total: 200,
        ..Limits::default()
    };
    let server = start(may_wsgi::demo::app, cfg);
    let head_of = |len: usize| {
        let fixed = "GET / HTTP/1.1\r\nHost: t\r\nX: \r\n\r\n".len();
        get_with(
            "/",
            "HTTP/1.1",
            &format!("Host: t\r\nX: {}\r\n", "v".repeat(len - fixed)),
        )
    };
    assert_eq!(head_of(200).len(), 200);
    assert_eq!(exchange(server.local_addr(), &head_of(200)).status, 200);
    let r = exchange(server.local_addr(), &head_of(201));
    assert_eq!(r.status, 431);
    assert!(r.closes());
}

both_classes!(
    each_rule_answers_its_status_and_refusals_close,
    options_asterisk_reaches_the_app_which_lists_its_methods,
    connect_never_reaches_the_app,
    a_repeated_content_length_reaches_the_app_as_one_number,
    http_1_2_is_served_as_http_1_1,
    head_total_is_configurable,
);
