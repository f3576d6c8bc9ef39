//! The request head: bytes in, a checked [`Head`] out.
//!
//! httparse does the tokenising; this file adds what httparse leaves to the server:
//! the size limits (414/431), the RFC 9112 framing rules for Content-Length and
//! Transfer-Encoding, Host, Expect, and the keep-alive decision. Nothing here touches a
//! socket: the connection loop hands in whatever bytes it has and gets back "need more",
//! a [`Head`] whose spans point into those bytes, or an [`HttpError`] to answer with.

use std::mem::MaybeUninit;

/// The limits gunicorn names `limit_request_line`, `limit_request_fields` and
/// `limit_request_field_size`, with gunicorn's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, in bytes, without its CRLF. Longer gets 414.
    pub request_line: usize,
    /// Most header fields in one request. More gets 431.
    pub fields: usize,
    /// Longest header field (name, colon, value), in bytes. Longer gets 431.
    pub field_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_line: 8190,
            fields: 100,
            field_size: 8190,
        }
    }
}

impl Limits {
    /// The most bytes a head within these limits can take: the read buffer never needs to
    /// grow past this to find the end of a head.
    pub fn max_head_len(&self) -> usize {
        self.request_line + 2 + self.fields * (self.field_size + 2) + 2
    }
}

/// A half-open byte range into the buffer the head was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    fn of(buf: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        Span {
            start: start as u32,
            end: (start + part.len()) as u32,
        }
    }

    /// The bytes this span covers in `buf`.
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// How the request body is delimited (RFC 9112 section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Content-Length: exactly this many bytes follow (0 for no body).
    Length(u64),
    /// Transfer-Encoding: chunked.
    Chunked,
}

/// A parsed, checked request head. Spans index the buffer given to [`parse_head`].
#[derive(Debug, Clone, Default)]
pub struct Head {
    /// Bytes the head took, blank line included; the body starts here.
    pub len: usize,
    pub method: Span,
    pub target: Span,
    /// The request line without its line ending, for the access log.
    pub request_line: Span,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor_version: u8,
    /// (name, value) of every field, in order.
    pub headers: Vec<(Span, Span)>,
    pub framing: Option<Framing>,
    /// The connection may carry another request after this one.
    pub keep_alive: bool,
    /// An HTTP/1.0 client asked for keep-alive, so the answer must say it back.
    pub keep_alive_requested: bool,
    /// `Expect: 100-continue` from an HTTP/1.1 client.
    pub expect_continue: bool,
}

impl Head {
    pub fn is_head_method(&self, buf: &[u8]) -> bool {
        self.method.get(buf) == b"HEAD"
    }
}

/// A request the server must refuse: the status to answer with, and why (for the body
/// and the error log). After any of these the connection is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub reason: &'static str,
}

impl HttpError {
    pub const fn new(status: u16, reason: &'static str) -> HttpError {
        HttpError { status, reason }
    }
    const fn bad(reason: &'static str) -> HttpError {
        HttpError::new(400, reason)
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

const STACK_FIELDS: usize = 128;

/// Parses a request head from the start of `buf`.
///
/// `Ok(None)` means the head is not complete yet and no limit is broken: read more and
/// call again with the longer buffer. `head` is filled only on `Ok(Some(len))`; its vectors
/// are reused, so one `Head` per connection serves every request.
pub fn parse_head(buf: &[u8], limits: &Limits, head: &mut Head) -> Result<Option<usize>, HttpError> {
    if limits.fields <= STACK_FIELDS {
        let mut fields = [MaybeUninit::<httparse::Header>::uninit(); STACK_FIELDS];
        parse_with(buf, limits, head, &mut fields[..limits.fields])
    } else {
        let mut fields = vec![MaybeUninit::<httparse::Header>::uninit(); limits.fields];
        parse_with(buf, limits, head, &mut fields)
    }
}

fn parse_with<'b>(
    buf: &'b [u8],
    limits: &Limits,
    head: &mut Head,
    fields: &mut [MaybeUninit<httparse::Header<'b>>],
) -> Result<Option<usize>, HttpError> {
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            check_partial(buf, limits)?;
            return Ok(None);
        }
        Err(e) => return Err(classify(buf, limits, e)),
    };
    let line = request_line(buf);
    if line.len() > limits.request_line {
        return Err(HttpError::new(414, "request line too long"));
    }
    head.len = len;
    head.method = Span::of(buf, req.method.unwrap_or_default().as_bytes());
    head.target = Span::of(buf, req.path.unwrap_or_default().as_bytes());
    head.request_line = Span::of(buf, line);
    head.minor_version = req.version.unwrap_or(1);
    head.headers.clear();
    for h in req.headers.iter() {
        if h.name.len() + 1 + h.value.len() > limits.field_size {
            return Err(HttpError::new(431, "header field too long"));
        }
        head.headers
            .push((Span::of(buf, h.name.as_bytes()), Span::of(buf, h.value)));
    }
    check_fields(buf, head)?;
    Ok(Some(len))
}

/// The request line, without leading blank lines (RFC 9112 2.2 lets a server skip them)
/// and without its line ending.
fn request_line(buf: &[u8]) -> &[u8] {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    let rest = &buf[start..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line = &rest[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// With an incomplete head, refuse early once a limit is already broken, so a client
/// cannot make the server buffer an endless line.
fn check_partial(buf: &[u8], limits: &Limits) -> Result<(), HttpError> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n').unwrap_or(buf.len());
    let mut lines = buf[start..].split(|&b| b == b'\n');
    let first = lines.next().unwrap_or_default();
    if first.strip_suffix(b"\r").unwrap_or(first).len() > limits.request_line {
        return Err(HttpError::new(414, "request line too long"));
    }
    let mut count = 0;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > limits.field_size + 1 {
            return Err(HttpError::new(431, "header field too long"));
        }
        if !line.is_empty() {
            count += 1;
        }
    }
    if count > limits.fields {
        return Err(HttpError::new(431, "too many header fields"));
    }
    Ok(())
}

/// Turns an httparse error into the status RFC 9112 asks for.
fn classify(buf: &[u8], limits: &Limits, e: httparse::Error) -> HttpError {
    match e {
        httparse::Error::TooManyHeaders => HttpError::new(431, "too many header fields"),
        httparse::Error::Version => {
            // A well-formed line naming a version we do not speak is 505; anything else
            // in that place is a malformed request line.
            let line = request_line(buf);
            let version = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
            let well_formed = line.split(|&b| b == b' ').count() == 3
                && version.len() > 5
                && version.starts_with(b"HTTP/")
                && version[5..].iter().all(|&b| b.is_ascii_digit() || b == b'.')
                && version[5].is_ascii_digit();
            if well_formed {
                HttpError::new(505, "HTTP version not supported")
            } else {
                HttpError::bad("malformed request line")
            }
        }
        _ if request_line(buf).len() > limits.request_line => HttpError::new(414, "request line too long"),
        httparse::Error::HeaderName => HttpError::bad("invalid header name"),
        httparse::Error::HeaderValue => HttpError::bad("invalid header value"),
        httparse::Error::NewLine => HttpError::bad("invalid line ending"),
        httparse::Error::Token | httparse::Error::Status => HttpError::bad("malformed request line"),
    }
}

/// The framing and connection rules of RFC 9112 over the parsed fields.
fn check_fields(buf: &[u8], head: &mut Head) -> Result<(), HttpError> {
    let http11 = head.minor_version == 1;
    let mut content_length: Option<u64> = None;
    let mut te_seen = false;
    let mut chunked_last = false;
    let mut chunked_count = 0;
    let mut unsupported_coding = false;
    let mut unknown_coding = false;
    let mut hosts = 0;
    let mut close = false;
    let mut keep_alive = false;
    let mut expect_continue = false;

    for &(name, value) in &head.headers {
        let name = name.get(buf);
        let value = value.get(buf);
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in value.split(|&b| b == b',') {
                let n = parse_content_length(trim(part))?;
                if content_length.is_some_and(|old| old != n) {
                    return Err(HttpError::bad("conflicting Content-Length values"));
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            te_seen = true;
            for coding in value.split(|&b| b == b',').map(trim).filter(|c| !c.is_empty()) {
                chunked_last = coding.eq_ignore_ascii_case(b"chunked");
                if chunked_last {
                    chunked_count += 1;
                } else if [
                    &b"gzip"[..],
                    b"x-gzip",
                    b"deflate",
                    b"compress",
                    b"x-compress",
                    b"identity",
                ]
                .iter()
                .any(|c| coding.eq_ignore_ascii_case(c))
                {
                    unsupported_coding = true;
                } else {
                    unknown_coding = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case(b"expect") {
            if trim(value).eq_ignore_ascii_case(b"100-continue") {
                // RFC 9110 10.1.1: an HTTP/1.0 client cannot mean it.
                expect_continue = http11;
            } else {
                return Err(HttpError::new(417, "unsupported expectation"));
            }
        }
    }

    if hosts > 1 {
        return Err(HttpError::bad("more than one Host header"));
    }
    if http11 && hosts == 0 {
        return Err(HttpError::bad("HTTP/1.1 request without Host"));
    }
    head.framing = if te_seen {
        if content_length.is_some() {
            return Err(HttpError::bad("both Content-Length and Transfer-Encoding"));
        }
        if !http11 {
            return Err(HttpError::bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        if chunked_count > 1 {
            return Err(HttpError::bad("chunked applied more than once"));
        }
        if unknown_coding {
            return Err(HttpError::new(501, "unknown transfer coding"));
        }
        if !chunked_last {
            return Err(HttpError::bad("final transfer coding is not chunked"));
        }
        if unsupported_coding {
            return Err(HttpError::new(501, "unsupported transfer coding"));
        }
        Some(Framing::Chunked)
    } else {
        content_length.map(Framing::Length)
    };
    head.keep_alive = !close && (http11 || keep_alive);
    head.keep_alive_requested = !http11 && keep_alive && !close;
    head.expect_continue = expect_continue && head.framing.is_some();
    Ok(())
}

fn parse_content_length(digits: &[u8]) -> Result<u64, HttpError> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(HttpError::bad("invalid Content-Length"));
    }
    let mut n: u64 = 0;
    for &d in digits {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or(HttpError::bad("Content-Length too large"))?;
    }
    Ok(n)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| b != b' ' && b != b'\t').unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::{splits, Rng};

    /// Feeds `raw` the way a socket might deliver it, in the pieces `cuts` gives, and
    /// returns what parsing the growing buffer ends with.
    fn feed(raw: &[u8], cuts: &[usize], limits: &Limits) -> Result<Option<Head>, HttpError> {
        let mut buf = Vec::new();
        let mut head = Head::default();
        let mut last = 0;
        for &cut in cuts.iter().chain(std::iter::once(&raw.len())) {
            buf.extend_from_slice(&raw[last..cut]);
            last = cut;
            if let Some(len) = parse_head(&buf, limits, &mut head)? {
                assert_eq!(len, raw.len().min(head.len));
                return Ok(Some(head));
            }
        }
        Ok(None)
    }

    /// Parses `raw` whole, line by line, byte by byte and in random splits, checks that
    /// every way gives the same answer, and returns it.
    fn parse_all_ways(raw: &[u8]) -> Result<Option<Head>, HttpError> {
        let limits = Limits::default();
        let whole = feed(raw, &[], &limits);
        let lines: Vec<usize> = raw
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        let bytes: Vec<usize> = (1..raw.len()).collect();
        let mut rng = Rng::new(raw.len() as u64);
        let mut ways = vec![feed(raw, &lines, &limits), feed(raw, &bytes, &limits)];
        for _ in 0..20 {
            ways.push(feed(raw, &splits(&mut rng, raw.len()), &limits));
        }
        for other in ways {
            match (&whole, &other) {
                (Ok(Some(a)), Ok(Some(b))) => {
                    assert_eq!(a.len, b.len);
                    assert_eq!(a.framing, b.framing);
                    assert_eq!(a.headers, b.headers);
                }
                (Err(a), Err(b)) => assert_eq!(a.status, b.status, "{raw:?}"),
                (a, b) => assert_eq!(a.is_ok(), b.is_ok(), "{raw:?}: {a:?} vs {b:?}"),
            }
        }
        whole
    }

    fn status_of(raw: &str) -> u16 {
        match parse_all_ways(raw.as_bytes()) {
            Ok(Some(_)) => 200,
            Ok(None) => 0,
            Err(e) => e.status,
        }
    }

    #[test]
    fn simple_get_parses_every_way() {
        let raw = b"GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n";
        let head = parse_all_ways(raw).unwrap().unwrap();
        assert_eq!(head.len, raw.len());
        assert_eq!(head.method.get(raw), b"GET");
        assert_eq!(head.target.get(raw), b"/a/b?x=1");
        assert_eq!(head.request_line.get(raw), b"GET /a/b?x=1 HTTP/1.1");
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.headers.len(), 2);
        assert_eq!(head.headers[1].1.get(raw), b"t");
        assert!(head.keep_alive);
        assert_eq!(head.framing, None);
    }

    #[test]
    fn pipelined_requests_parse_one_at_a_time() {
        let raw = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut head = Head::default();
        let first = parse_head(raw, &Limits::default(), &mut head).unwrap().unwrap();
        assert_eq!(head.target.get(raw), b"/1");
        let rest = &raw[first..];
        parse_head(rest, &Limits::default(), &mut head).unwrap().unwrap();
        assert_eq!(head.target.get(rest), b"/2");
    }

    #[test]
    fn leading_blank_line_is_skipped() {
        assert_eq!(status_of("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 200);
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |raw: &str| parse_all_ways(raw.as_bytes()).unwrap().unwrap();
        assert!(!ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!ka("GET / HTTP/1.0\r\n\r\n").keep_alive);
        let h = ka("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
        assert!(h.keep_alive && h.keep_alive_requested);
        assert!(!ka("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n").keep_alive_requested);
    }

    #[test]
    fn framing_rules() {
        let framing = |raw: &str| parse_all_ways(raw.as_bytes()).unwrap().unwrap().framing;
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"),
            Some(Framing::Length(5))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            Some(Framing::Length(5))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7, 7\r\n\r\n"),
            Some(Framing::Length(7))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(Framing::Chunked)
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Some(Framing::Chunked)
        );
    }

    #[test]
    fn rfc9112_refusals() {
        let cases: &[(&str, u16)] = &[
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: foo\r\n\r\n", 501),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nBad\x01: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
            ("GET / FOO/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET /\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417),
        ];
        for (raw, status) in cases {
            assert_eq!(status_of(raw), *status, "{raw:?}");
        }
    }

    #[test]
    fn http10_without_host_is_fine() {
        assert_eq!(status_of("GET / HTTP/1.0\r\n\r\n"), 200);
    }

    #[test]
    fn expect_continue_only_with_a_body_on_http11() {
        let h = |raw: &str| parse_all_ways(raw.as_bytes()).unwrap().unwrap();
        assert!(h("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n").expect_continue);
        assert!(!h("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").expect_continue);
        assert!(!h("PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n").expect_continue);
    }

    #[test]
    fn limits_give_414_and_431_whole_and_partial() {
        let limits = Limits {
            request_line: 30,
            fields: 3,
            field_size: 20,
        };
        let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(40));
        assert_eq!(feed(long_line.as_bytes(), &[], &limits).unwrap_err().status, 414);
        // Partial: the line never ends, and still the server refuses without waiting.
        let endless = format!("GET /{}", "a".repeat(40));
        assert_eq!(feed(endless.as_bytes(), &[], &limits).unwrap_err().status, 414);

        let long_field = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "b".repeat(30));
        assert_eq!(feed(long_field.as_bytes(), &[], &limits).unwrap_err().status, 431);
        let endless_field = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "b".repeat(30));
        assert_eq!(feed(endless_field.as_bytes(), &[], &limits).unwrap_err().status, 431);

        let many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(feed(many.as_bytes(), &[], &limits).unwrap_err().status, 431);
        let many_partial = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD";
        assert_eq!(feed(many_partial.as_bytes(), &[], &limits).unwrap_err().status, 431);

        let fits = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(feed(fits.as_bytes(), &[], &limits).unwrap().is_some());
    }

    #[test]
    fn garbage_never_panics() {
        // Random bytes, and valid requests with random bytes flipped: every input ends in a
        // head, "need more" or a refusal with a 4xx/5xx, never a panic.
        let mut rng = Rng::new(42);
        let valid = b"POST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: y\r\n\r\n";
        let alphabet = b"GET /HTP1.\r\n: \t\0\x7f\xffaZ,;=chunked";
        for round in 0..3000 {
            let raw: Vec<u8> = if round % 2 == 0 {
                (0..rng.below(120))
                    .map(|_| alphabet[rng.below(alphabet.len())])
                    .collect()
            } else {
                let mut v = valid.to_vec();
                for _ in 0..rng.below(4) + 1 {
                    let at = rng.below(v.len());
                    v[at] = alphabet[rng.below(alphabet.len())];
                }
                v
            };
            let mut head = Head::default();
            match parse_head(&raw, &Limits::default(), &mut head) {
                Ok(Some(len)) => assert!(len <= raw.len()),
                Ok(None) => {}
                Err(e) => assert!((400..=505).contains(&e.status), "{e:?}"),
            }
        }
    }

    #[test]
    fn more_fields_than_the_stack_holds() {
        let limits = Limits {
            fields: 300,
            ..Limits::default()
        };
        let mut raw = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..200 {
            raw.push_str(&format!("X-{i}: {i}\r\n"));
        }
        raw.push_str("\r\n");
        let head = feed(raw.as_bytes(), &[], &limits).unwrap().unwrap();
        assert_eq!(head.headers.len(), 201);
    }
}
