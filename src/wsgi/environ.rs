//! `environ`: the request as PEP 3333's dictionary of CGI and WSGI keys.
//!
//! A Python environ is a dict of strings built for every request. Building that here
//! would cost more than parsing the request, so [`Environ`] is a *view*: it keeps a copy of
//! the request head and answers `environ.get("HTTP_USER_AGENT")` by finding the field in
//! it. Only what cannot be a slice of the head is made into an owned string: a
//! percent-decoded PATH_INFO, repeated headers joined with ",", bytes outside ASCII
//! (decoded as latin-1, as PEP 3333 says). Keys an application or middleware sets or
//! removes live in an overlay that is consulted first.
//!
//! The connection loop owns one `Environ` per connection and refills it for every
//! request; the application gets `&mut Environ` and hands nothing on but what it returns.

use std::any::Any;
use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::io::{self, Write};

use crate::http::forwarded::Forwarded;
use crate::http::{Head, Span};
use crate::wsgi::Input;

/// What an environ knows about the connection and server rather than the request.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    pub server_name: String,
    pub server_port: String,
    pub remote_addr: String,
    pub remote_port: String,
    pub script_name: String,
    pub url_scheme: String,
    pub multiprocess: bool,
    /// The peer is a proxy named by `--forwarded-allow-ips` (or a Unix-domain peer): its
    /// `X-Forwarded-For` and scheme headers are believed.
    pub trusted_proxy: bool,
}

/// A string of the request: a slice of the head, owned when it had to be decoded, or a
/// constant the server supplies.
#[derive(Debug, Clone)]
enum Text {
    Span(Span),
    Owned(String),
    Static(&'static str),
}

impl Text {
    fn get<'a>(&'a self, head: &'a [u8]) -> &'a str {
        match self {
            Text::Span(span) => ascii(head, *span),
            Text::Owned(s) => s,
            Text::Static(s) => s,
        }
    }
}

/// The text of a span; spans are made only over ASCII bytes, so this never fails.
fn ascii(head: &[u8], span: Span) -> &str {
    std::str::from_utf8(span.get(head)).unwrap_or("")
}

/// Where a header field goes in the environ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKey {
    /// `HTTP_` + the name upper-cased, `-` as `_`.
    Http,
    ContentType,
    ContentLength,
    /// `HTTP_HOST`: the Host field, or the authority of an absolute-form target, which
    /// stands in for it (RFC 9112 3.2.2), even when the request had no Host field.
    Host,
}

#[derive(Debug, Clone)]
struct Field {
    key: FieldKey,
    name: Span,
    value: Text,
}

/// Decodes bytes as latin-1, borrowing the span when they are plain ASCII.
fn text_of(head: &[u8], span: Span) -> Text {
    let bytes = span.get(head);
    if bytes.is_ascii() {
        Text::Span(span)
    } else {
        Text::Owned(bytes.iter().map(|&b| b as char).collect())
    }
}

/// Percent-decodes a path and reads the resulting bytes as latin-1 (PEP 3333's rule for
/// PATH_INFO). Borrows the span when there is nothing to decode.
fn path_info_of(head: &[u8], span: Span) -> Text {
    let raw = span.get(head);
    if raw.is_ascii() && !raw.contains(&b'%') {
        return Text::Span(span);
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b == b'%' && i + 2 < raw.len() {
            let hi = (raw[i + 1] as char).to_digit(16);
            let lo = (raw[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(char::from((hi * 16 + lo) as u8));
                i += 3;
                continue;
            }
        }
        out.push(b as char);
        i += 1;
    }
    Text::Owned(out)
}

/// The WSGI environ of one request. See the module text for how it is stored.
pub struct Environ {
    head: Vec<u8>,
    method: Span,
    request_line: Span,
    raw_path: Text,
    path_info: Text,
    query: Text,
    http10: bool,
    /// The header fields' spans, as the parser found them.
    field_spans: Vec<(Span, Span)>,
    /// The parser's normalised Content-Length and an absolute-form target's authority.
    content_length: Option<Span>,
    authority: Option<Span>,
    /// The fields as environ keys, once one was asked for; the vector of an earlier request
    /// waits in `spare_fields`, so that building them allocates nothing once warm.
    fields: OnceCell<Vec<Field>>,
    spare_fields: Cell<Vec<Field>>,
    /// Boxed: a connection's identity moves in and out of an environ as a pointer.
    conn: Box<ConnInfo>,
    /// What a trusted proxy said of this request (`http::forwarded`), in place of the
    /// connection's own: kept apart from the overlay, and the address in a string reused
    /// from request to request, so that a proxied request allocates nothing for it.
    proxy_scheme: Option<&'static str>,
    /// The client's address from `X-Forwarded-For`; empty when there is none.
    proxy_client: String,
    overlay: Vec<(String, Option<String>)>,
    values: Vec<(String, Box<dyn Any>)>,
    input: Input,
    errors: Errors,
}

/// The keys every environ has besides the `HTTP_` ones, in the order `items()` lists them.
const BASE_KEYS: &[&str] = &[
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "RAW_PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
    "wsgi.input_terminated",
    "wsgi.file_wrapper",
];

impl Environ {
    /// An environ for requests on one connection.
    pub fn new(conn: ConnInfo) -> Environ {
        Environ {
            head: Vec::new(),
            method: Span::default(),
            request_line: Span::default(),
            raw_path: Text::Owned(String::new()),
            path_info: Text::Owned(String::new()),
            query: Text::Owned(String::new()),
            http10: false,
            field_spans: Vec::new(),
            content_length: None,
            authority: None,
            fields: OnceCell::new(),
            spare_fields: Cell::new(Vec::new()),
            conn: Box::new(conn),
            proxy_scheme: None,
            proxy_client: String::new(),
            overlay: Vec::new(),
            values: Vec::new(),
            input: Input::empty(),
            errors: Errors::default(),
        }
    }

    /// An environ for a `method` request of `target` ("/path?query") over HTTP/1.1, with
    /// the given headers and body: for testing an application or middleware without a
    /// server.
    pub fn for_request(method: &str, target: &str, headers: &[(&str, &str)], input: Input) -> Environ {
        let mut raw = format!("{method} {target} HTTP/1.1\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        let mut head = Head::default();
        let limits = crate::http::Limits::default();
        // Tests hand in what they mean to; a bad head becomes an empty request.
        let _ = crate::http::parse_head(raw.as_bytes(), &limits, &mut head);
        let mut environ = Environ::new(ConnInfo {
            server_name: "127.0.0.1".into(),
            server_port: "80".into(),
            remote_addr: "127.0.0.1".into(),
            remote_port: "0".into(),
            url_scheme: "http".into(),
            ..ConnInfo::default()
        });
        environ.begin(raw.as_bytes(), &head);
        environ.input = input;
        environ
    }

    /// Fills the environ from a parsed head (`head_bytes` is what the spans index).
    pub(crate) fn begin(&mut self, head_bytes: &[u8], head: &Head) {
        self.head.clear();
        self.head
            .extend_from_slice(&head_bytes[..head.len.min(head_bytes.len())]);
        self.method = head.method;
        self.request_line = head.request_line;
        self.http10 = head.minor_version == 0;

        // The parser found the path and query whatever the target's form: all of "/p?q",
        // the "/p?q" of "http://host/p?q", or "*".
        let path_start = head.path.start as usize;
        let target_end = head.path.end as usize;
        let q = self.head[path_start..target_end].iter().position(|&b| b == b'?');
        let path_end = q.map_or(target_end, |q| path_start + q);
        let raw_path = Span {
            start: path_start as u32,
            end: path_end as u32,
        };
        // "http://host" and "http://host?q" have an empty path, which means "/" (RFC 9110
        // 4.2.3); PEP 3333 would allow an empty PATH_INFO, but no app expects one here.
        let empty_absolute = raw_path.is_empty() && head.authority.is_some();
        self.raw_path = if empty_absolute {
            Text::Static("/")
        } else {
            text_of(&self.head, raw_path)
        };
        self.path_info = match path_info_of(&self.head, raw_path) {
            _ if empty_absolute => Text::Static("/"),
            // SCRIPT_NAME is where the app is mounted; PATH_INFO is what lies below it.
            Text::Span(span) if !self.conn.script_name.is_empty() => {
                let path = span.get(&self.head);
                match path.strip_prefix(self.conn.script_name.as_bytes()) {
                    Some(rest) => Text::Span(Span {
                        start: span.end - rest.len() as u32,
                        end: span.end,
                    }),
                    None => Text::Span(span),
                }
            }
            Text::Owned(s) if !self.conn.script_name.is_empty() => {
                Text::Owned(s.strip_prefix(self.conn.script_name.as_str()).unwrap_or(&s).to_owned())
            }
            other => other,
        };
        self.query = match q {
            Some(_) => text_of(
                &self.head,
                Span {
                    start: path_end as u32 + 1,
                    end: target_end as u32,
                },
            ),
            None => Text::Span(Span { start: 0, end: 0 }),
        };

        // The header fields become environ keys only when one is asked for: many
        // applications read none, or one or two, and this is the costliest part to build.
        self.field_spans.clear();
        self.field_spans.extend_from_slice(&head.headers);
        self.content_length = head.content_length;
        self.authority = head.authority;
        if let Some(mut built) = self.fields.take() {
            built.clear();
            self.spare_fields.set(built);
        }
        self.proxy_scheme = None;
        self.proxy_client.clear();
        self.overlay.clear();
        self.values.clear();
    }

    /// The header fields as environ keys, built on the first look (see `begin`): one entry
    /// per name, repeats joined with ",", names with "_" left out.
    fn fields(&self) -> &[Field] {
        self.fields.get_or_init(|| {
            let mut fields = self.spare_fields.take();
            for &(name, value) in &self.field_spans {
                let name_bytes = name.get(&self.head);
                // A name with "_" could pose as the "-" spelling of another header (a proxy may
                // have checked "X-Auth" while the app reads HTTP_X_AUTH); drop it, as gunicorn does.
                if name_bytes.contains(&b'_') {
                    continue;
                }
                let (key, value) = if name_bytes.eq_ignore_ascii_case(b"content-type") {
                    (FieldKey::ContentType, value)
                } else if name_bytes.eq_ignore_ascii_case(b"content-length") {
                    // The parser's normalised value: "5" for "5, 5".
                    (FieldKey::ContentLength, self.content_length.unwrap_or(value))
                } else if name_bytes.eq_ignore_ascii_case(b"host") {
                    (FieldKey::Host, self.authority.unwrap_or(value))
                } else {
                    (FieldKey::Http, value)
                };
                let earlier = fields
                    .iter()
                    .position(|f| f.key == key && f.name.get(&self.head).eq_ignore_ascii_case(name_bytes));
                match earlier {
                    // The parser already refused differing lengths; a repeat adds nothing.
                    Some(_) if key == FieldKey::ContentLength => {}
                    Some(i) => {
                        let mut joined = fields[i].value.get(&self.head).to_owned();
                        joined.push(',');
                        joined.push_str(text_of(&self.head, value).get(&self.head));
                        fields[i].value = Text::Owned(joined);
                    }
                    None => fields.push(Field {
                        key,
                        name,
                        value: text_of(&self.head, value),
                    }),
                }
            }
            if let Some(authority) = self.authority {
                if !fields.iter().any(|f| f.key == FieldKey::Host) {
                    fields.push(Field {
                        key: FieldKey::Host,
                        name: Span::default(),
                        value: text_of(&self.head, authority),
                    });
                }
            }
            fields
        })
    }

    /// What a trusted proxy said of this request: `https` for `wsgi.url_scheme`, and the
    /// client, whose address becomes REMOTE_ADDR. Its port is not known, so REMOTE_PORT
    /// (the proxy's) is left out, as gunicorn leaves it out for a peer without a port;
    /// unless REMOTE_ADDR was that client already (a PROXY protocol header named it, port
    /// and all).
    /// (`forwarded` was read from this request's head, whose spans index the environ's copy.)
    pub(crate) fn set_forwarded(&mut self, forwarded: &Forwarded) {
        if let Some(https) = forwarded.https {
            self.proxy_scheme = Some(if https { "https" } else { "http" });
        }
        if let Some(ip) = forwarded.client {
            self.proxy_client.clear();
            match forwarded.client_text {
                // Copied (dotted IPv4, so one char a byte): formatting an address costs
                // more than all the rest of this.
                Some(span) => self
                    .proxy_client
                    .extend(span.get(&self.head).iter().map(|&b| char::from(b))),
                None => {
                    let _ = std::fmt::Write::write_fmt(&mut self.proxy_client, format_args!("{ip}"));
                }
            }
            if self.proxy_client == self.conn.remote_addr {
                self.proxy_client.clear();
            }
        }
    }

    /// Ends the request: drops `wsgi.input` (handing the buffer back to the connection),
    /// the overlay and the typed values.
    pub(crate) fn end(&mut self) {
        if !self.input.is_pristine() {
            self.input = Input::empty();
        }
        self.overlay.clear();
        self.values.clear();
        let _ = self.errors.flush();
    }

    /// Serves another connection: its part of the environ and the last one's trade places
    /// (a swap, so that nothing is built or dropped).
    pub(crate) fn swap_conn_info(&mut self, conn: &mut Box<ConnInfo>) {
        std::mem::swap(&mut self.conn, conn);
    }

    /// The connection's part of the environ.
    pub(crate) fn conn_info(&self) -> &ConnInfo {
        &self.conn
    }

    /// The request line as it arrived ("GET /path?q HTTP/1.1"), for logs.
    pub fn request_line(&self) -> &[u8] {
        self.request_line.get(&self.head)
    }

    pub(crate) fn set_input(&mut self, input: Input) {
        self.input = input;
    }

    /// The value of a key, as `environ.get(key)` in Python.
    ///
    /// `wsgi.input`, `wsgi.errors` and `wsgi.file_wrapper` answer with a placeholder text
    /// so that `'wsgi.input' in environ` holds; use [`Environ::input`] and
    /// [`Environ::errors`] for the objects themselves.
    pub fn get(&self, key: &str) -> Option<&str> {
        if let Some((_, value)) = self.overlay.iter().find(|(k, _)| k == key) {
            return value.as_deref();
        }
        self.base(key)
    }

    /// Like `environ.get(key, default)`.
    pub fn get_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.get(key).unwrap_or(default)
    }

    /// True when the key is present (`key in environ`): a text value, or a typed value set
    /// with [`Environ::put`] (in Python both live in the one dict).
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some() || self.values.iter().any(|(k, _)| k == key)
    }

    /// The value's original bytes: Python's `environ[key].encode('latin-1')`.
    ///
    /// PEP 3333 hands bytes to the app as latin-1 text (a percent-decoded PATH_INFO, a header
    /// value with bytes above 0x7F), so each char up to U+00FF is one byte. A value a
    /// middleware set with chars beyond latin-1 (which PEP 3333 forbids, and Python's
    /// `encode('latin-1')` would raise on) is given as its UTF-8 bytes. Borrows when the
    /// value is ASCII, which is nearly always.
    pub fn get_bytes(&self, key: &str) -> Option<Cow<'_, [u8]>> {
        let value = self.get(key)?;
        if value.is_ascii() {
            return Some(Cow::Borrowed(value.as_bytes()));
        }
        if value.chars().all(|c| (c as u32) <= 0xFF) {
            return Some(Cow::Owned(value.chars().map(|c| c as u8).collect()));
        }
        Some(Cow::Borrowed(value.as_bytes()))
    }

    fn base(&self, key: &str) -> Option<&str> {
        let head = &self.head;
        Some(match key {
            "REQUEST_METHOD" => ascii(head, self.method),
            "SCRIPT_NAME" => &self.conn.script_name,
            "PATH_INFO" => self.path_info.get(head),
            "RAW_PATH_INFO" => self.raw_path.get(head),
            "QUERY_STRING" => self.query.get(head),
            "CONTENT_TYPE" => return self.field(FieldKey::ContentType, b""),
            "CONTENT_LENGTH" => return self.field(FieldKey::ContentLength, b""),
            "HTTP_HOST" => return self.field(FieldKey::Host, b""),
            "SERVER_NAME" => &self.conn.server_name,
            "SERVER_PORT" => &self.conn.server_port,
            "SERVER_PROTOCOL" if self.http10 => "HTTP/1.0",
            "SERVER_PROTOCOL" => "HTTP/1.1",
            "REMOTE_ADDR" if !self.proxy_client.is_empty() => &self.proxy_client,
            "REMOTE_ADDR" => &self.conn.remote_addr,
            "REMOTE_PORT" if !self.proxy_client.is_empty() => return None,
            "REMOTE_PORT" => &self.conn.remote_port,
            "wsgi.version" => "(1, 0)",
            "wsgi.url_scheme" => self.proxy_scheme.unwrap_or(&self.conn.url_scheme),
            "wsgi.input" => "<wsgi.input>",
            "wsgi.errors" => "<wsgi.errors>",
            "wsgi.multithread" => "True",
            "wsgi.multiprocess" if self.conn.multiprocess => "True",
            "wsgi.multiprocess" => "False",
            "wsgi.run_once" => "False",
            "wsgi.input_terminated" => "True",
            "wsgi.file_wrapper" => "<wsgi.file_wrapper>",
            _ => {
                return key
                    .strip_prefix("HTTP_")
                    .and_then(|name| self.field(FieldKey::Http, name.as_bytes()))
            }
        })
    }

    /// Finds a header by its environ spelling (upper case, `_` for `-`).
    fn field(&self, key: FieldKey, name: &[u8]) -> Option<&str> {
        let matches = |f: &&Field| {
            f.key == key
                && (key != FieldKey::Http || {
                    let raw = f.name.get(&self.head);
                    raw.len() == name.len()
                        && raw.iter().zip(name).all(|(&r, &k)| {
                            let r = if r == b'-' { b'_' } else { r.to_ascii_uppercase() };
                            r == k
                        })
                })
        };
        self.fields().iter().find(matches).map(|f| f.value.get(&self.head))
    }

    /// Sets a key (`environ[key] = value`), for middleware; it hides the request's own.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into();
        let value = Some(value.into());
        match self.overlay.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.overlay.push((key, value)),
        }
    }

    /// Removes a key (`environ.pop(key)`), returning what it held.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let old = self.get(key).map(str::to_owned);
        match self.overlay.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = None,
            None => self.overlay.push((key.to_owned(), None)),
        }
        old
    }

    /// Every key and value, as `environ.items()`: the CGI and WSGI keys, one `HTTP_` key per
    /// header, then what was set. Builds the `HTTP_` names, so it allocates.
    pub fn items(&self) -> Vec<(Cow<'_, str>, &str)> {
        let mut out: Vec<(Cow<'_, str>, &str)> = Vec::new();
        for key in BASE_KEYS {
            if let Some(value) = self.get(key) {
                out.push((Cow::Borrowed(*key), value));
            }
        }
        if self.field(FieldKey::Host, b"").is_some() {
            if let Some(value) = self.get("HTTP_HOST") {
                out.push((Cow::Borrowed("HTTP_HOST"), value));
            }
        }
        for f in self.fields().iter().filter(|f| f.key == FieldKey::Http) {
            let name: String = f
                .name
                .get(&self.head)
                .iter()
                .map(|&b| if b == b'-' { '_' } else { b.to_ascii_uppercase() as char })
                .collect();
            let key = format!("HTTP_{name}");
            if let Some(value) = self.get(&key) {
                out.push((Cow::Owned(key), value));
            }
        }
        for (key, value) in &self.overlay {
            let is_base = BASE_KEYS.contains(&key.as_str()) || self.base(key).is_some();
            if let (Some(value), false) = (value, is_base) {
                out.push((Cow::Borrowed(key.as_str()), value.as_str()));
            }
        }
        out
    }

    /// `environ['wsgi.input']`: the request body.
    pub fn input(&mut self) -> &mut Input {
        &mut self.input
    }

    /// Moves `wsgi.input` out, for a [`Body`](crate::wsgi::Body) that streams the request
    /// back; the environ keeps an empty one.
    pub fn take_input(&mut self) -> Input {
        std::mem::replace(&mut self.input, Input::empty())
    }

    /// `environ['wsgi.errors']`: lines written here go to the error log.
    pub fn errors(&mut self) -> &mut Errors {
        &mut self.errors
    }

    /// Stores a typed value under a key, as Python apps put objects in environ
    /// (`environ['glance.context'] = ctx`).
    pub fn put<T: Any>(&mut self, key: impl Into<String>, value: T) {
        let key = key.into();
        self.values.retain(|(k, _)| *k != key);
        self.values.push((key, Box::new(value)));
    }

    /// The typed value under `key`, if there is one of type `T`.
    pub fn value<T: Any>(&self, key: &str) -> Option<&T> {
        self.values
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.downcast_ref())
    }

    /// The typed value under `key`, mutably.
    pub fn value_mut<T: Any>(&mut self, key: &str) -> Option<&mut T> {
        self.values
            .iter_mut()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.downcast_mut())
    }

    /// Removes and returns the typed value under `key`.
    pub fn take_value<T: Any>(&mut self, key: &str) -> Option<T> {
        let i = self.values.iter().position(|(k, v)| k == key && v.is::<T>())?;
        self.values.remove(i).1.downcast().ok().map(|b| *b)
    }
}

impl std::fmt::Debug for Environ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.items()).finish()
    }
}

/// `wsgi.errors`: a text stream whose lines go to the error log (the `log` crate, target
/// `wsgi.errors`), as eventlet sends them to stderr.
#[derive(Debug, Default)]
pub struct Errors {
    pending: Vec<u8>,
}

impl Write for Errors {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            log::error!(target: "wsgi.errors", "{}", String::from_utf8_lossy(&line[..line.len() - 1]));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            log::error!(target: "wsgi.errors", "{}", String::from_utf8_lossy(&self.pending));
            self.pending.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn environ(target: &str, headers: &[(&str, &str)]) -> Environ {
        Environ::for_request("GET", target, headers, Input::empty())
    }

    #[test]
    fn cgi_keys() {
        let e = environ("/a%20b/c?x=1&y=%20", &[("Host", "h"), ("User-Agent", "t/1")]);
        assert_eq!(e.get("REQUEST_METHOD"), Some("GET"));
        assert_eq!(e.get("PATH_INFO"), Some("/a b/c"));
        assert_eq!(e.get("RAW_PATH_INFO"), Some("/a%20b/c"));
        assert_eq!(e.get("QUERY_STRING"), Some("x=1&y=%20"));
        assert_eq!(e.get("SERVER_PROTOCOL"), Some("HTTP/1.1"));
        assert_eq!(e.get("HTTP_USER_AGENT"), Some("t/1"));
        assert_eq!(e.get("HTTP_HOST"), Some("h"));
        assert_eq!(e.get("SCRIPT_NAME"), Some(""));
        assert_eq!(e.get("wsgi.url_scheme"), Some("http"));
        assert_eq!(e.get("CONTENT_TYPE"), None);
        assert_eq!(e.get("CONTENT_LENGTH"), None);
        assert_eq!(e.get("HTTP_NOPE"), None);
    }

    #[test]
    fn path_info_bytes_are_latin1() {
        let e = environ("/caf%C3%A9/%zz%", &[("Host", "h")]);
        assert_eq!(e.get("PATH_INFO"), Some("/caf\u{c3}\u{a9}/%zz%"));
    }

    #[test]
    fn absolute_form_target() {
        let e = environ("http://example.com/p/q?z", &[("Host", "example.com")]);
        assert_eq!(e.get("PATH_INFO"), Some("/p/q"));
        assert_eq!(e.get("QUERY_STRING"), Some("z"));
    }

    /// An environ for a raw head, with the server on 127.0.0.1:80.
    /// Parses `raw` and begins a request with it on `e`.
    fn begin_with(e: &mut Environ, raw: &[u8]) {
        let mut head = Head::default();
        crate::http::parse_head(raw, &Default::default(), &mut head)
            .unwrap()
            .unwrap();
        e.begin(raw, &head);
    }

    fn environ_of(raw: &[u8]) -> Environ {
        let mut e = Environ::new(ConnInfo {
            server_name: "127.0.0.1".into(),
            server_port: "80".into(),
            ..ConnInfo::default()
        });
        begin_with(&mut e, raw);
        e
    }

    #[test]
    fn each_request_sees_its_own_headers_on_a_reused_environ() {
        // The header keys are built on the first look and kept for the request: the next
        // request on the same environ must not see them.
        let first: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nX-One: 1\r\nAccept: x, y\r\nAccept: z\r\n\r\n";
        let second: &[u8] = b"GET /p HTTP/1.1\r\nHost: b\r\nX-Two: 2\r\n\r\n";
        let third: &[u8] = b"GET /q HTTP/1.1\r\nHost: c\r\nX-One: 3\r\n\r\n";
        let mut e = Environ::new(ConnInfo::default());
        for (raw, looked) in [(first, true), (second, false), (third, true)] {
            begin_with(&mut e, raw);
            if looked {
                // Build the keys (or not) before the next request comes.
                let _ = e.get("HTTP_HOST");
            }
        }
        assert_eq!(e.get("HTTP_HOST"), Some("c"));
        assert_eq!(e.get("HTTP_X_ONE"), Some("3"));
        assert_eq!(e.get("HTTP_X_TWO"), None);
        assert_eq!(e.get("HTTP_ACCEPT"), None);
        assert_eq!(e.get("PATH_INFO"), Some("/q"));
        let keys: Vec<String> = e.items().into_iter().map(|(k, _)| k.into_owned()).collect();
        assert!(keys.contains(&"HTTP_X_ONE".to_owned()) && !keys.contains(&"HTTP_X_TWO".to_owned()));

        begin_with(&mut e, first);
        assert_eq!(e.get("HTTP_ACCEPT"), Some("x, y,z"));
        assert_eq!(e.get("HTTP_X_ONE"), Some("1"));
    }

    #[test]
    fn a_trusted_proxy_s_word_replaces_the_peer_until_the_next_request() {
        let allow = crate::http::ForwardedAllow::parse("10.0.0.0/8").unwrap();
        for (xff, client) in [("203.0.113.7", "203.0.113.7"), (" [2001:DB8::7]:80", "2001:db8::7")] {
            let raw =
                format!("GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 10.0.0.1, {xff}\r\nX-Forwarded-Ssl: on\r\n\r\n");
            let mut head = Head::default();
            crate::http::parse_head(raw.as_bytes(), &Default::default(), &mut head).unwrap();
            let mut e = Environ::new(ConnInfo {
                remote_addr: "127.0.0.1".into(),
                remote_port: "4242".into(),
                url_scheme: "http".into(),
                ..ConnInfo::default()
            });
            e.begin(raw.as_bytes(), &head);
            let forwarded = crate::http::forwarded::read(raw.as_bytes(), &head, &allow).unwrap();
            e.set_forwarded(&forwarded);
            assert_eq!(e.get("REMOTE_ADDR"), Some(client));
            assert_eq!(e.get("REMOTE_PORT"), None);
            assert_eq!(e.get("wsgi.url_scheme"), Some("https"));
            assert!(e.items().iter().all(|(k, _)| k != "REMOTE_PORT"));
            // Middleware still has the last word.
            e.set("REMOTE_ADDR", "192.0.2.1");
            assert_eq!(e.get("REMOTE_ADDR"), Some("192.0.2.1"));
            // The next request on the connection starts from the peer again.
            let next = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
            crate::http::parse_head(next, &Default::default(), &mut head).unwrap();
            e.begin(next, &head);
            assert_eq!(
                (e.get("REMOTE_ADDR"), e.get("REMOTE_PORT")),
                (Some("127.0.0.1"), Some("4242"))
            );
            assert_eq!(e.get("wsgi.url_scheme"), Some("http"));
        }
    }

    #[test]
    fn absolute_form_authority_is_the_host() {
        let e = environ_of(b"GET http://example.com:8080/p%20q?z=1 HTTP/1.1\r\nHost: other\r\n\r\n");
        assert_eq!(e.get("HTTP_HOST"), Some("example.com:8080"));
        assert_eq!(e.get("PATH_INFO"), Some("/p q"));
        assert_eq!(e.get("RAW_PATH_INFO"), Some("/p%20q"));
        assert_eq!(e.get("QUERY_STRING"), Some("z=1"));
        // SERVER_NAME and SERVER_PORT stay the server's own, as before.
        assert_eq!(e.get("SERVER_NAME"), Some("127.0.0.1"));
        let hosts: Vec<_> = e.items().into_iter().filter(|(k, _)| k == "HTTP_HOST").collect();
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].1, "example.com:8080");

        // HTTP/1.0 needs no Host; the authority still gives one.
        let e = environ_of(b"GET HTTP://[::1]?x HTTP/1.0\r\n\r\n");
        assert_eq!(e.get("HTTP_HOST"), Some("[::1]"));
        assert_eq!(e.get("PATH_INFO"), Some("/"), "an empty path is /");
        assert_eq!(e.get("RAW_PATH_INFO"), Some("/"));
        assert_eq!(e.get("QUERY_STRING"), Some("x"));
        assert!(e.items().iter().any(|(k, v)| k == "HTTP_HOST" && *v == "[::1]"));
    }

    #[test]
    fn host_field_and_its_overlay() {
        let mut e = environ_of(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
        assert_eq!(e.get("HTTP_HOST"), Some("example.com"));
        e.set("HTTP_HOST", "proxy.example");
        assert_eq!(e.get("HTTP_HOST"), Some("proxy.example"));
        let hosts: Vec<_> = e.items().into_iter().filter(|(k, _)| k == "HTTP_HOST").collect();
        assert_eq!(hosts, vec![(Cow::Borrowed("HTTP_HOST"), "proxy.example")]);
        e.remove("HTTP_HOST");
        assert!(!e.items().iter().any(|(k, _)| k == "HTTP_HOST"));

        let mut e = environ_of(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(e.get("HTTP_HOST"), None);
        e.set("HTTP_HOST", "set.example");
        assert!(e.items().iter().any(|(k, v)| k == "HTTP_HOST" && *v == "set.example"));
    }

    #[test]
    fn options_asterisk_is_path_info_asterisk() {
        let e = environ_of(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(e.get("REQUEST_METHOD"), Some("OPTIONS"));
        assert_eq!(e.get("PATH_INFO"), Some("*"));
        assert_eq!(e.get("QUERY_STRING"), Some(""));
    }

    #[test]
    fn a_repeated_content_length_is_one_number() {
        for raw in [
            &b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  5 ,5\r\n\r\n",
        ] {
            let e = environ_of(raw);
            assert_eq!(e.get("CONTENT_LENGTH"), Some("5"), "{:?}", String::from_utf8_lossy(raw));
            let lengths: Vec<_> = e.items().into_iter().filter(|(k, _)| k == "CONTENT_LENGTH").collect();
            assert_eq!(lengths.len(), 1);
        }
    }

    #[test]
    fn content_headers_are_cgi_keys_not_http_keys() {
        let e = environ(
            "/",
            &[("Host", "h"), ("Content-Type", "text/plain"), ("Content-Length", "3")],
        );
        assert_eq!(e.get("CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(e.get("CONTENT_LENGTH"), Some("3"));
        assert_eq!(e.get("HTTP_CONTENT_TYPE"), None);
        assert_eq!(e.get("HTTP_CONTENT_LENGTH"), None);
    }

    #[test]
    fn repeated_headers_join_and_underscores_drop() {
        let e = environ(
            "/",
            &[
                ("Host", "h"),
                ("X-A", "1"),
                ("x-a", "2"),
                ("X_Auth", "evil"),
                ("X-Auth", "good"),
            ],
        );
        assert_eq!(e.get("HTTP_X_A"), Some("1,2"));
        assert_eq!(e.get("HTTP_X_AUTH"), Some("good"));
        let keys: Vec<String> = e.items().into_iter().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(keys.iter().filter(|k| *k == "HTTP_X_AUTH").count(), 1);
        assert_eq!(keys.iter().filter(|k| *k == "HTTP_X_A").count(), 1);
    }

    #[test]
    fn set_remove_and_overlay() {
        let mut e = environ("/p", &[("Host", "h")]);
        e.set("PATH_INFO", "/other");
        e.set("myapp.flag", "yes");
        assert_eq!(e.get("PATH_INFO"), Some("/other"));
        assert_eq!(e.remove("HTTP_HOST"), Some("h".to_owned()));
        assert_eq!(e.get("HTTP_HOST"), None);
        let items = e.items();
        assert!(items.iter().any(|(k, v)| k == "myapp.flag" && *v == "yes"));
        assert!(items.iter().any(|(k, v)| k == "PATH_INFO" && *v == "/other"));
        assert!(!items.iter().any(|(k, _)| k == "HTTP_HOST"));
        assert_eq!(items.iter().filter(|(k, _)| k == "PATH_INFO").count(), 1);
    }

    #[test]
    fn contains_key_counts_typed_values() {
        let mut e = environ("/", &[("Host", "h")]);
        assert!(!e.contains_key("glance.context"));
        e.put("glance.context", 7u32);
        assert!(e.contains_key("glance.context"));
        assert!(e.contains_key("PATH_INFO"));
        e.take_value::<u32>("glance.context");
        assert!(!e.contains_key("glance.context"));
    }

    #[test]
    fn get_bytes_gives_the_original_bytes() {
        let mut raw = b"GET /caf%C3%A9 HTTP/1.1\r\nHost: h\r\nX-Name: caf".to_vec();
        raw.push(0xE9);
        raw.extend_from_slice(b"\r\n\r\n");
        let mut head = Head::default();
        crate::http::parse_head(&raw, &Default::default(), &mut head)
            .unwrap()
            .unwrap();
        let mut e = Environ::new(ConnInfo::default());
        e.begin(&raw, &head);
        assert_eq!(e.get_bytes("HTTP_X_NAME").unwrap().as_ref(), b"caf\xE9");
        assert_eq!(e.get_bytes("PATH_INFO").unwrap().as_ref(), "/café".as_bytes());
        assert!(matches!(e.get_bytes("HTTP_HOST"), Some(Cow::Borrowed(b"h"))));
        assert_eq!(e.get_bytes("HTTP_NOPE"), None);
        e.set("X_WIDE", "\u{20ac}");
        assert_eq!(e.get_bytes("X_WIDE").unwrap().as_ref(), "\u{20ac}".as_bytes());
    }

    #[test]
    fn typed_values() {
        #[derive(Debug, PartialEq)]
        struct Ctx(u32);
        let mut e = environ("/", &[("Host", "h")]);
        e.put("glance.context", Ctx(7));
        assert_eq!(e.value::<Ctx>("glance.context"), Some(&Ctx(7)));
        assert_eq!(e.value::<String>("glance.context"), None);
        e.value_mut::<Ctx>("glance.context").unwrap().0 = 8;
        assert_eq!(e.take_value::<Ctx>("glance.context"), Some(Ctx(8)));
        assert_eq!(e.value::<Ctx>("glance.context"), None);
    }

    #[test]
    fn non_ascii_header_value_is_latin1() {
        let mut raw = b"GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf".to_vec();
        raw.push(0xE9);
        raw.extend_from_slice(b"\r\n\r\n");
        let mut head = Head::default();
        crate::http::parse_head(&raw, &Default::default(), &mut head)
            .unwrap()
            .unwrap();
        let mut e = Environ::new(ConnInfo::default());
        e.begin(&raw, &head);
        assert_eq!(e.get("HTTP_X_NAME"), Some("caf\u{e9}"));
    }

    #[test]
    fn script_name_is_stripped_from_path_info() {
        let mut e = Environ::new(ConnInfo {
            script_name: "/app".into(),
            ..ConnInfo::default()
        });
        begin_with(&mut e, b"GET /app/x HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(e.get("SCRIPT_NAME"), Some("/app"));
        assert_eq!(e.get("PATH_INFO"), Some("/x"));
    }
}
