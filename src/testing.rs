//! webtest's `TestApp`: drive an application with requests and read its responses, with no
//! socket and no server.
//!
//! ```python
//! from webtest import TestApp
//! app = TestApp(application)
//! res = app.get('/v2/images', headers={'Accept': 'application/json'}, status=200)
//! res = app.post_json('/v2/images', {'name': 'cirros'}, status=201)
//! app.put('/v2/images/%s/file' % image_id, params=data,
//!         content_type='application/octet-stream', status=204)
//! ```
//!
//! ```
//! use may_wsgi::testing::TestApp;
//! # use may_wsgi::{Body, Environ, StartResponse};
//! # fn application(_: &mut Environ, start_response: &mut StartResponse) -> Body {
//! #     start_response.call("200 OK", [("Content-Type", "application/json")]);
//! #     Body::from("[]")
//! # }
//! let mut app = TestApp::new(application);
//! let res = app.get("/v2/images").header("Accept", "application/json").expect_status(200);
//! assert_eq!(res.text(), "[]");
//! ```
//!
//! Each request is written out as HTTP/1.1 bytes, parsed by the server's own head parser,
//! and served by the same gateway code as on a socket (`wsgi::gateway`): the environ, the
//! `start_response` rules, HEAD, framing (Content-Length, chunked, 100-continue), the 500 for
//! a panic. The response bytes are parsed back, so what a test sees is what a client would.
//! Cookies set by responses are sent with later requests, as webtest does.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, IoSlice, Read};
use std::rc::Rc;

use crate::http::{parse_head, Head, Limits};
use crate::wsgi::exchange::{Exchange, ReadBuf, Transport};
use crate::wsgi::gateway::{self, Settings};
use crate::wsgi::{Application, ConnInfo, Environ, StartResponse};

/// Room for the head and the start of the body, as a connection's read buffer has.
const READ_BUFFER: usize = 16 * 1024;

/// An application under test (webtest's `TestApp`).
pub struct TestApp<A> {
    app: A,
    /// Cookies the responses set, sent back with every request (name → value).
    cookies: BTreeMap<String, String>,
    /// Headers added to every request, like webtest's `extra_environ` for HTTP_* keys.
    extra_headers: Vec<(String, String)>,
    debug: bool,
}

impl<A: Application> TestApp<A> {
    pub fn new(app: A) -> TestApp<A> {
        TestApp {
            app,
            cookies: BTreeMap::new(),
            extra_headers: Vec::new(),
            debug: true,
        }
    }

    /// Adds a header to every request from now on.
    pub fn with_header(mut self, name: &str, value: &str) -> TestApp<A> {
        self.extra_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The cookies kept so far.
    pub fn cookies(&self) -> &BTreeMap<String, String> {
        &self.cookies
    }

    /// Sets a cookie to send, as `app.set_cookie(name, value)`.
    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    /// Forgets every cookie (webtest's `reset()`).
    pub fn reset(&mut self) {
        self.cookies.clear();
    }

    /// A request with any method.
    pub fn request(&mut self, method: &str, path: &str) -> TestRequest<'_, A> {
        TestRequest {
            app: self,
            method: method.to_owned(),
            path: path.to_owned(),
            headers: Vec::new(),
            body: RequestBody::None,
        }
    }

    pub fn get(&mut self, path: &str) -> TestRequest<'_, A> {
        self.request("GET", path)
    }

    pub fn head(&mut self, path: &str) -> TestRequest<'_, A> {
        self.request("HEAD", path)
    }

    pub fn delete(&mut self, path: &str) -> TestRequest<'_, A> {
        self.request("DELETE", path)
    }

    pub fn options(&mut self, path: &str) -> TestRequest<'_, A> {
        self.request("OPTIONS", path)
    }

    /// A POST with `body` (set its type with [`TestRequest::content_type`]).
    pub fn post(&mut self, path: &str, body: impl Into<Vec<u8>>) -> TestRequest<'_, A> {
        self.request("POST", path).body(body)
    }

    pub fn put(&mut self, path: &str, body: impl Into<Vec<u8>>) -> TestRequest<'_, A> {
        self.request("PUT", path).body(body)
    }

    pub fn patch(&mut self, path: &str, body: impl Into<Vec<u8>>) -> TestRequest<'_, A> {
        self.request("PATCH", path).body(body)
    }

    /// webtest's `post_json`: `json` (already serialised) as `application/json`.
    pub fn post_json(&mut self, path: &str, json: impl Into<Vec<u8>>) -> TestRequest<'_, A> {
        self.post(path, json).content_type("application/json")
    }

    pub fn put_json(&mut self, path: &str, json: impl Into<Vec<u8>>) -> TestRequest<'_, A> {
        self.put(path, json).content_type("application/json")
    }

    pub fn patch_json(&mut self, path: &str, json: impl Into<Vec<u8>>) -> TestRequest<'_, A> {
        self.patch(path, json).content_type("application/json")
    }

    /// Remembers what the response's `Set-Cookie` fields say.
    fn keep_cookies(&mut self, response: &TestResponse) {
        for value in response.headers_all("Set-Cookie") {
            let mut attrs = value.split(';');
            let Some((name, val)) = attrs.next().and_then(|nv| nv.split_once('=')) else {
                continue;
            };
            let expired = attrs.any(|a| {
                let a = a.trim();
                a.eq_ignore_ascii_case("max-age=0")
                    || a.get(..8).is_some_and(|k| k.eq_ignore_ascii_case("expires=")) && a.contains("1970")
            });
            if expired {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_owned(), val.trim().to_owned());
            }
        }
    }
}

/// How a test request's body is sent.
enum RequestBody {
    None,
    /// With a Content-Length.
    Bytes(Vec<u8>),
    /// Streamed as it is read, chunked: for uploads too large to hold.
    Stream(Box<dyn Read>),
}

/// A request being built; [`TestRequest::send`] or [`TestRequest::expect_status`] runs it.
pub struct TestRequest<'a, A> {
    app: &'a mut TestApp<A>,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: RequestBody,
}

impl<A: Application> TestRequest<'_, A> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn content_type(self, value: &str) -> Self {
        self.header("Content-Type", value)
    }

    /// The body, sent with its Content-Length.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = RequestBody::Bytes(body.into());
        self
    }

    /// A body streamed from `reader` with `Transfer-Encoding: chunked`, read only as the
    /// application reads `wsgi.input`.
    pub fn body_reader(mut self, reader: impl Read + 'static) -> Self {
        self.body = RequestBody::Stream(Box::new(reader));
        self
    }

    /// Runs the request and returns the response, whatever its status.
    pub fn send(self) -> TestResponse {
        let TestRequest {
            app,
            method,
            path,
            headers,
            body,
        } = self;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
        let all = app.extra_headers.iter().chain(headers.iter());
        for (name, value) in all {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !app.cookies.is_empty() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("cookie")) {
            let cookies: Vec<String> = app.cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
            head.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        let input: Box<dyn Read> = match body {
            RequestBody::None => Box::new(io::empty()),
            RequestBody::Bytes(bytes) => {
                head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
                Box::new(io::Cursor::new(bytes))
            }
            RequestBody::Stream(reader) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                Box::new(Chunked::new(reader))
            }
        };
        head.push_str("\r\n");
        let raw = run(&app.app, head.as_bytes(), input, app.debug);
        let response = TestResponse::parse(&raw, method == "HEAD");
        app.keep_cookies(&response);
        response
    }

    /// Runs the request and checks its status (webtest's `status=`); panics with the
    /// response when it differs.
    pub fn expect_status(self, status: u16) -> TestResponse {
        let (method, path) = (self.method.clone(), self.path.clone());
        let response = self.send();
        assert!(
            response.status == status,
            "{method} {path}: expected status {status}, got {}\n{}",
            response.status_line,
            response.text()
        );
        response
    }
}

/// The request's bytes in, the response's bytes out: what a socket would carry.
struct Memory {
    input: Box<dyn Read>,
    output: Rc<RefCell<Vec<u8>>>,
}

impl Transport for Memory {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }

    fn write_all_vectored(&mut self, parts: &mut [IoSlice<'_>]) -> io::Result<()> {
        let mut out = self.output.borrow_mut();
        for part in parts.iter() {
            out.extend_from_slice(part);
        }
        Ok(())
    }
}

/// Serves one request whose head is `head`, its body read from `input`; returns the raw
/// response.
fn run(app: &dyn Application, head: &[u8], input: Box<dyn Read>, debug: bool) -> Vec<u8> {
    let mut parsed = Head::default();
    let limits = Limits::default();
    match parse_head(head, &limits, &mut parsed) {
        Ok(Some(_)) => {}
        Ok(None) => panic!("TestApp: incomplete request head {:?}", String::from_utf8_lossy(head)),
        Err(e) => {
            // The server would refuse it; so does the test client, with the same answer.
            let mut out = Vec::new();
            crate::http::response::push_error(&mut out, e.status, e.reason);
            return out;
        }
    }
    let mut buf = vec![0; READ_BUFFER.max(head.len())];
    buf[..head.len()].copy_from_slice(head);
    let output = Rc::new(RefCell::new(Vec::new()));
    let memory = Memory {
        input,
        output: output.clone(),
    };
    let rbuf = ReadBuf {
        buf,
        pos: 0,
        end: head.len(),
    };
    let x: Rc<RefCell<Exchange>> = Rc::new(RefCell::new(Exchange::new(memory, rbuf, Vec::new())));
    let mut environ = Environ::new(ConnInfo {
        server_name: "localhost".to_owned(),
        server_port: "80".to_owned(),
        remote_addr: "127.0.0.1".to_owned(),
        remote_port: "0".to_owned(),
        script_name: String::new(),
        url_scheme: "http".to_owned(),
        multiprocess: false,
        trusted_proxy: false,
    });
    let mut start_response = StartResponse::new(x.clone());
    let settings = Settings {
        keep_alive: true,
        debug,
        max_drain: u64::MAX,
        limit_request_body: None,
        forwarded_allow: None,
    };
    gateway::serve_request(
        app,
        &x,
        &mut environ,
        &mut start_response,
        &parsed,
        &settings,
        |_| {},
        |_, _| {},
    );
    drop(start_response);
    drop(environ);
    let out = output.borrow().clone();
    out
}

/// A reader's bytes as chunked transfer coding, produced as they are read.
struct Chunked {
    reader: Box<dyn Read>,
    pending: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Chunked {
    fn new(reader: Box<dyn Read>) -> Chunked {
        Chunked {
            reader,
            pending: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.pending.len() {
            if self.done {
                return Ok(0);
            }
            let mut piece = vec![0; 64 * 1024];
            let n = loop {
                match self.reader.read(&mut piece) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            self.pending.clear();
            self.pos = 0;
            if n == 0 {
                self.pending.extend_from_slice(b"0\r\n\r\n");
                self.done = true;
            } else {
                self.pending.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                self.pending.extend_from_slice(&piece[..n]);
                self.pending.extend_from_slice(b"\r\n");
            }
        }
        let n = buf.len().min(self.pending.len() - self.pos);
        buf[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A response as a client received it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    /// "200 OK".
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn headers_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The content type without parameters ("application/json").
    pub fn content_type(&self) -> Option<&str> {
        self.header("Content-Type")
            .map(|v| v.split(';').next().unwrap_or("").trim())
    }

    /// Parses the server's response bytes (the gateway writes one well-formed response).
    fn parse(raw: &[u8], head_request: bool) -> TestResponse {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("TestApp: no response head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..end]);
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let status_line = first.split_once(' ').map_or("", |(_, s)| s).to_owned();
        let status = status_line.get(..3).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let rest = &raw[end + 4..];
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let body = if head_request || matches!(status, 100..=199 | 204 | 304) {
            Vec::new()
        } else if find("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            dechunk(rest)
        } else if let Some(n) = find("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
            rest[..n.min(rest.len())].to_vec()
        } else {
            rest.to_vec()
        };
        TestResponse {
            status,
            status_line,
            headers,
            body,
        }
    }
}

/// The data of a chunked body (the gateway's own, well-formed output).
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let line = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        let take = size.min(rest.len());
        body.extend_from_slice(&rest[..take]);
        rest = &rest[(take + 2).min(rest.len())..];
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsgi::Body;

    fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let mut body = Vec::new();
        environ.input().read_to_end(&mut body).unwrap();
        let line = format!(
            "{} {} {} cookie={}\n",
            environ.get_or("REQUEST_METHOD", ""),
            environ.get_or("PATH_INFO", ""),
            body.len(),
            environ.get_or("HTTP_COOKIE", "-")
        );
        start_response.call(
            "200 OK",
            [("Content-Type", "text/plain"), ("Set-Cookie", "seen=yes; Path=/")],
        );
        Body::from(line)
    }

    #[test]
    fn requests_go_through_the_gateway_and_cookies_are_kept() {
        let mut app = TestApp::new(echo);
        let first = app.get("/a").expect_status(200);
        assert_eq!(first.text(), "GET /a 0 cookie=-\n");
        assert_eq!(first.content_type(), Some("text/plain"));
        assert_eq!(app.cookies().get("seen").map(String::as_str), Some("yes"));
        let second = app.post("/b", "hello").expect_status(200);
        assert_eq!(second.text(), "POST /b 5 cookie=seen=yes\n");
        let head = app.head("/c").expect_status(200);
        assert!(head.body.is_empty(), "HEAD gets the head alone");
        assert!(head.header("Content-Length").is_some());
    }

    #[test]
    fn a_streamed_body_arrives_whole() {
        let mut app = TestApp::new(echo);
        let data = vec![7u8; 300 * 1024];
        let res = app.request("PUT", "/big").body_reader(io::Cursor::new(data)).send();
        assert_eq!(res.status, 200);
        assert!(res.text().starts_with("PUT /big 307200 "), "{}", res.text());
    }

    #[test]
    fn a_panic_is_a_500_and_a_bad_request_is_refused_as_the_server_would() {
        fn panics(_: &mut Environ, _: &mut StartResponse) -> Body {
            panic!("boom in the app")
        }
        let mut app = TestApp::new(panics);
        let res = app.get("/").expect_status(500);
        assert!(
            res.text().contains("boom in the app"),
            "debug shows the panic: {}",
            res.text()
        );
        let mut app = TestApp::new(echo);
        assert_eq!(app.get("no-slash").send().status, 400);
    }

    #[test]
    #[should_panic(expected = "expected status 404, got 200 OK")]
    fn expect_status_says_what_came_instead() {
        TestApp::new(echo).get("/").expect_status(404);
    }

    #[test]
    fn chunked_responses_are_read_back() {
        fn stream(_: &mut Environ, start_response: &mut StartResponse) -> Body {
            start_response.call("200 OK", [("Content-Type", "text/plain")]);
            Body::Iter(Box::new(["ab", "", "cd"].into_iter().map(|s| s.as_bytes().to_vec())))
        }
        let res = TestApp::new(stream).get("/").expect_status(200);
        assert_eq!(res.header("Transfer-Encoding"), Some("chunked"));
        assert_eq!(res.text(), "abcd");
    }
}
