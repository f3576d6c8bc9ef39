//! `webob.Request`: the request as a view over the environ, with WebOb's accessors.
//!
//! A [`Request`] borrows the server's `&mut Environ` for as long as the app needs it
//! (`Request::new(environ)` inside `Application::call`, or the `&mut Request` that
//! [`wsgify`](super::wsgify) hands a handler) and keeps nothing the environ does not: what
//! it parses once is stored in the environ under WebOb's keys (`webob._parsed_post_vars`,
//! the body under `webob._body`), so middleware and app, each with its own `Request` over
//! the same environ, share it, as WebOb requests do.
//!
//! Reading the whole body ([`Request::body`]) is capped (`body_limit`, 10 MiB by default;
//! more is a 413) and leaves `wsgi.input` readable again from the start, as WebOb's
//! `make_body_seekable` does. A multipart form streams through its parser instead: its
//! files go to memory or a temporary file within [`FormLimits`]. Everything that can fail
//! on a client's input fails with an [`HTTPError`], ready to be returned.

use std::borrow::Cow;
use std::io::Read;
use std::rc::Rc;
use std::time::SystemTime;

use super::accept::Accept;
use super::exc::{self, HTTPError};
use super::form::{parse_multipart, FormLimits, FormValue};
use super::headers::{environ_key, EnvironHeaders};
use super::multidict::{parse_qsl, parse_qsl_bytes, MultiDict};
use super::multipart::boundary_of;
use super::range::Range;
use super::response::Response;
use super::util::{decode_native, encode_native, latin1_bytes, parse_http_date, url_quote, urljoin, PATH_SAFE};
use crate::http::Framing;
use crate::wsgi::{Application, Body, Environ, Input, StartResponse};

/// Where the parsed form is kept in the environ (WebOb's key).
const POST_KEY: &str = "webob._parsed_post_vars";
/// Where the whole body is kept once read.
const BODY_KEY: &str = "webob._body";
/// Set when a streaming parse consumed the body without keeping it.
const CONSUMED_KEY: &str = "webob._body_consumed";

/// The default cap on [`Request::body`]: 10 MiB.
pub const DEFAULT_BODY_LIMIT: u64 = 10 * 1024 * 1024;

/// A request over a borrowed environ, `webob.Request`. See the module text.
pub struct Request<'e> {
    environ: &'e mut Environ,
    body_limit: u64,
    form_limits: FormLimits,
}

/// `req.host_url` from an environ.
pub(crate) fn host_url_of(environ: &Environ) -> String {
    let scheme = environ.get_or("wsgi.url_scheme", "http");
    let (host, port) = match environ.get("HTTP_HOST") {
        Some(host) => match host.rsplit_once(':') {
            Some((h, p)) if !host.ends_with(']') => (h, Some(p)),
            _ => (host, None),
        },
        None => (environ.get_or("SERVER_NAME", ""), environ.get("SERVER_PORT")),
    };
    let port = match (scheme, port) {
        ("https", Some("443")) | ("http", Some("80")) => None,
        (_, p) => p.filter(|p| !p.is_empty()),
    };
    match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    }
}

impl<'e> Request<'e> {
    /// `Request(environ)`.
    pub fn new(environ: &'e mut Environ) -> Request<'e> {
        Request {
            environ,
            body_limit: DEFAULT_BODY_LIMIT,
            form_limits: FormLimits::default(),
        }
    }

    /// `req.environ`.
    pub fn environ(&self) -> &Environ {
        self.environ
    }

    /// `req.environ`, to change.
    pub fn environ_mut(&mut self) -> &mut Environ {
        self.environ
    }

    /// The most [`Request::body`] reads before answering 413.
    pub fn set_body_limit(&mut self, limit: u64) {
        self.body_limit = limit;
    }

    /// Bounds on parsing `req.POST`.
    pub fn set_form_limits(&mut self, limits: FormLimits) {
        self.form_limits = limits;
    }

    // ---- the request line and the server ----

    /// `req.method`.
    pub fn method(&self) -> &str {
        self.environ.get_or("REQUEST_METHOD", "GET")
    }

    /// `req.scheme`: `http` or `https`.
    pub fn scheme(&self) -> &str {
        self.environ.get_or("wsgi.url_scheme", "http")
    }

    /// `req.http_version`: `HTTP/1.1`.
    pub fn http_version(&self) -> &str {
        self.environ.get_or("SERVER_PROTOCOL", "")
    }

    /// `req.script_name`: where the app is mounted, decoded as UTF-8.
    pub fn script_name(&self) -> Cow<'_, str> {
        decode_native(self.environ.get_or("SCRIPT_NAME", ""))
    }

    /// `req.path_info`: the path below the mount point, decoded as UTF-8 (U+FFFD for bytes
    /// that are not; WebOb raises).
    pub fn path_info(&self) -> Cow<'_, str> {
        decode_native(self.environ.get_or("PATH_INFO", ""))
    }

    /// `req.script_name = value`.
    pub fn set_script_name(&mut self, value: &str) {
        self.environ.set("SCRIPT_NAME", encode_native(value).into_owned());
    }

    /// `req.path_info = value`.
    pub fn set_path_info(&mut self, value: &str) {
        self.environ.set("PATH_INFO", encode_native(value).into_owned());
    }

    /// `req.path_info_pop()`: moves the next segment of PATH_INFO (with the slashes before
    /// it) onto SCRIPT_NAME and returns it; `None` when PATH_INFO is empty. Empty segments
    /// (`//`) are skipped.
    pub fn path_info_pop(&mut self) -> Option<String> {
        self.path_info_pop_if(|_| true)
    }

    /// `req.path_info_pop(pattern)`: pops only when `accept(segment)` holds (WebOb takes a
    /// regular expression); otherwise changes nothing and returns `None`.
    pub fn path_info_pop_if(&mut self, accept: impl Fn(&str) -> bool) -> Option<String> {
        let path = self.environ.get("PATH_INFO").filter(|p| !p.is_empty())?.to_owned();
        let rest = path.trim_start_matches('/');
        let slashes = &path[..path.len() - rest.len()];
        let end = rest.find('/').unwrap_or(rest.len());
        let segment = &rest[..end];
        let decoded = decode_native(segment).into_owned();
        if !accept(&decoded) {
            return None;
        }
        let script = format!("{}{slashes}{segment}", self.environ.get_or("SCRIPT_NAME", ""));
        let remaining = rest[end..].to_owned();
        self.environ.set("SCRIPT_NAME", script);
        self.environ.set("PATH_INFO", remaining);
        Some(decoded)
    }

    /// `req.path_info_peek()`: the next segment of PATH_INFO, without moving it.
    pub fn path_info_peek(&self) -> Option<String> {
        let path = self.environ.get("PATH_INFO").filter(|p| !p.is_empty())?;
        let rest = path.trim_start_matches('/');
        Some(decode_native(rest.split('/').next().unwrap_or("")).into_owned())
    }

    /// `req.query_string`.
    pub fn query_string(&self) -> &str {
        self.environ.get_or("QUERY_STRING", "")
    }

    /// `req.remote_addr`.
    pub fn remote_addr(&self) -> Option<&str> {
        self.environ.get("REMOTE_ADDR")
    }

    /// `req.remote_user`.
    pub fn remote_user(&self) -> Option<&str> {
        self.environ.get("REMOTE_USER")
    }

    /// `req.client_addr`: the first X-Forwarded-For address, or REMOTE_ADDR.
    pub fn client_addr(&self) -> Option<&str> {
        match self.environ.get("HTTP_X_FORWARDED_FOR") {
            Some(xff) => Some(xff.split(',').next().unwrap_or("").trim()),
            None => self.environ.get("REMOTE_ADDR"),
        }
    }

    /// `req.server_name`.
    pub fn server_name(&self) -> &str {
        self.environ.get_or("SERVER_NAME", "")
    }

    /// `req.server_port`.
    pub fn server_port(&self) -> Option<u16> {
        self.environ.get("SERVER_PORT").and_then(|p| p.parse().ok())
    }

    // ---- URLs ----

    /// `req.host`: HTTP_HOST, or `SERVER_NAME:SERVER_PORT`.
    pub fn host(&self) -> Cow<'_, str> {
        match self.environ.get("HTTP_HOST") {
            Some(h) => Cow::Borrowed(h),
            None => Cow::Owned(format!(
                "{}:{}",
                self.server_name(),
                self.environ.get_or("SERVER_PORT", "")
            )),
        }
    }

    /// `req.domain`: the host without its port.
    pub fn domain(&self) -> String {
        let host = self.host();
        match host.rsplit_once(':') {
            Some((d, _)) if !host.ends_with(']') => d.to_owned(),
            _ => host.into_owned(),
        }
    }

    /// `req.host_port`: the port of HTTP_HOST (80 or 443 by scheme when it has none), or
    /// SERVER_PORT.
    pub fn host_port(&self) -> String {
        match self.environ.get("HTTP_HOST") {
            Some(host) => match host.rsplit_once(':') {
                Some((_, port)) if !host.ends_with(']') => port.to_owned(),
                _ if self.scheme() == "https" => "443".to_owned(),
                _ => "80".to_owned(),
            },
            None => self.environ.get_or("SERVER_PORT", "").to_owned(),
        }
    }

    /// `req.host_url`: `scheme://host[:port]`, the default port left out.
    pub fn host_url(&self) -> String {
        host_url_of(self.environ)
    }

    /// `req.application_url`: the host URL and SCRIPT_NAME.
    pub fn application_url(&self) -> String {
        format!(
            "{}{}",
            self.host_url(),
            url_quote(&latin1_bytes(self.environ.get_or("SCRIPT_NAME", "")), PATH_SAFE)
        )
    }

    /// `req.path_url`: the application URL and PATH_INFO, no query.
    pub fn path_url(&self) -> String {
        format!(
            "{}{}",
            self.application_url(),
            url_quote(&latin1_bytes(self.environ.get_or("PATH_INFO", "")), PATH_SAFE)
        )
    }

    /// `req.path`: SCRIPT_NAME and PATH_INFO, quoted.
    pub fn path(&self) -> String {
        format!(
            "{}{}",
            url_quote(&latin1_bytes(self.environ.get_or("SCRIPT_NAME", "")), PATH_SAFE),
            url_quote(&latin1_bytes(self.environ.get_or("PATH_INFO", "")), PATH_SAFE)
        )
    }

    /// `req.path_qs`: the path and the query string.
    pub fn path_qs(&self) -> String {
        with_query(self.path(), self.query_string())
    }

    /// `req.url`: the whole URL.
    pub fn url(&self) -> String {
        with_query(self.path_url(), self.query_string())
    }

    /// `req.relative_url(other, to_application)`.
    pub fn relative_url(&self, other: &str, to_application: bool) -> String {
        let base = if to_application {
            let mut url = self.application_url();
            if !url.ends_with('/') {
                url.push('/');
            }
            url
        } else {
            self.path_url()
        };
        urljoin(&base, other)
    }

    // ---- headers ----

    /// `req.headers`: a case-insensitive view of the environ's headers.
    pub fn headers(&self) -> EnvironHeaders<'_> {
        EnvironHeaders::new(self.environ)
    }

    /// `req.headers[name]`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.environ.get(&environ_key(name))
    }

    /// `req.headers[name] = value`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.environ.set(environ_key(name), value);
    }

    /// `del req.headers[name]`.
    pub fn remove_header(&mut self, name: &str) -> Option<String> {
        self.environ.remove(&environ_key(name))
    }

    /// `req.content_type`: the media type, parameters left off.
    pub fn content_type(&self) -> &str {
        self.environ
            .get_or("CONTENT_TYPE", "")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
    }

    /// `req.charset`: the Content-Type's charset, `UTF-8` when it names none.
    pub fn charset(&self) -> String {
        self.environ
            .get_or("CONTENT_TYPE", "")
            .split(';')
            .skip(1)
            .find_map(|p| {
                let (k, v) = p.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("charset")
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| "UTF-8".to_owned())
    }

    /// `req.content_length` (`None` when absent or not a number).
    pub fn content_length(&self) -> Option<u64> {
        self.environ.get("CONTENT_LENGTH").and_then(|v| v.trim().parse().ok())
    }

    /// `req.accept`.
    pub fn accept(&self) -> Accept {
        Accept::parse(self.environ.get("HTTP_ACCEPT"))
    }

    /// `req.range` (`None` when absent or not understood).
    pub fn range(&self) -> Option<Range> {
        self.environ.get("HTTP_RANGE").and_then(Range::parse)
    }

    /// `req.if_none_match`, as sent.
    pub fn if_none_match(&self) -> Option<&str> {
        self.environ.get("HTTP_IF_NONE_MATCH")
    }

    /// `req.if_match`, as sent.
    pub fn if_match(&self) -> Option<&str> {
        self.environ.get("HTTP_IF_MATCH")
    }

    /// `req.if_modified_since`.
    pub fn if_modified_since(&self) -> Option<SystemTime> {
        self.environ.get("HTTP_IF_MODIFIED_SINCE").and_then(parse_http_date)
    }

    /// `req.if_unmodified_since`.
    pub fn if_unmodified_since(&self) -> Option<SystemTime> {
        self.environ.get("HTTP_IF_UNMODIFIED_SINCE").and_then(parse_http_date)
    }

    /// `req.user_agent`.
    pub fn user_agent(&self) -> Option<&str> {
        self.environ.get("HTTP_USER_AGENT")
    }

    /// `req.referer`.
    pub fn referer(&self) -> Option<&str> {
        self.environ.get("HTTP_REFERER")
    }

    /// `req.authorization`, as sent.
    pub fn authorization(&self) -> Option<&str> {
        self.environ.get("HTTP_AUTHORIZATION")
    }

    /// `req.is_xhr`.
    pub fn is_xhr(&self) -> bool {
        self.environ.get("HTTP_X_REQUESTED_WITH") == Some("XMLHttpRequest")
    }

    /// `req.cookies`: name to value, a later cookie of a name winning (WebOb's dict).
    pub fn cookies(&self) -> MultiDict {
        let mut out = MultiDict::new();
        for (name, value) in super::cookies::parse_cookie(self.environ.get_or("HTTP_COOKIE", "")) {
            if out.contains_key(&name) {
                // Keep the first position, as a dict does, with the last value.
                let mut items = out.into_vec();
                if let Some(slot) = items.iter_mut().find(|(k, _)| *k == name) {
                    slot.1 = value;
                }
                out = items.into_iter().collect();
            } else {
                out.add(name, value);
            }
        }
        out
    }

    // ---- parameters ----

    /// `req.GET`: the query string's parameters, in order.
    pub fn get_params(&self) -> MultiDict {
        parse_qsl(self.query_string())
    }

    /// `req.GET`, by another name.
    pub fn query(&self) -> MultiDict {
        self.get_params()
    }

    /// `req.POST`: the form in the body, for a POST (or any method) whose Content-Type is
    /// `application/x-www-form-urlencoded` or `multipart/form-data` (or a POST with none);
    /// empty for other requests. Parsed once per environ.
    pub fn post(&mut self) -> Result<Rc<MultiDict<FormValue>>, HTTPError> {
        if let Some(vars) = self.environ.value::<Rc<MultiDict<FormValue>>>(POST_KEY) {
            return Ok(vars.clone());
        }
        let content_type = self.content_type().to_ascii_lowercase();
        let is_form = matches!(
            content_type.as_str(),
            "" | "application/x-www-form-urlencoded" | "multipart/form-data"
        );
        if !is_form || (self.method() != "POST" && content_type.is_empty()) {
            return Ok(Rc::new(MultiDict::new()));
        }
        let charset = self.charset();
        if !charset.eq_ignore_ascii_case("utf-8") && !charset.eq_ignore_ascii_case("utf8") {
            return Err(exc::HTTPBadRequest()
                .with_detail(format!("Requests are expected to be submitted in UTF-8, not {charset}")));
        }
        let vars: MultiDict<FormValue> = if content_type == "multipart/form-data" {
            let boundary = boundary_of(self.environ.get_or("CONTENT_TYPE", ""))
                .ok_or_else(|| exc::HTTPBadRequest().with_detail("multipart/form-data without a boundary"))?;
            if let Some(body) = self.environ.value::<Rc<[u8]>>(BODY_KEY).cloned() {
                parse_multipart(&body[..], &boundary, &self.form_limits)?
            } else if !self.is_body_readable() {
                MultiDict::new()
            } else {
                let limits = self.form_limits;
                let parsed = parse_multipart(self.environ.input(), &boundary, &limits);
                // The body streamed through the parser and is not kept.
                self.environ.set_input(Input::empty());
                self.environ.put(CONSUMED_KEY, ());
                parsed?
            }
        } else {
            let limit = self.form_limits.max_fields_bytes.min(self.body_limit);
            let body = self.read_body(limit)?;
            parse_qsl_bytes(&body)
                .into_iter()
                .map(|(k, v)| (k, FormValue::Text(v)))
                .collect()
        };
        let vars = Rc::new(vars);
        self.environ.put(POST_KEY, vars.clone());
        Ok(vars)
    }

    /// `req.params`: the query string's parameters, then the form's.
    pub fn params(&mut self) -> Result<MultiDict<FormValue>, HTTPError> {
        let mut all: MultiDict<FormValue> = self
            .get_params()
            .into_iter()
            .map(|(k, v)| (k, FormValue::Text(v)))
            .collect();
        let post = self.post()?;
        all.extend(post.items().map(|(k, v)| (k.to_owned(), v.clone())));
        Ok(all)
    }

    // ---- the body ----

    /// `req.is_body_readable`: a non-zero Content-Length, or a body framed some other way
    /// (chunked: `wsgi.input_terminated`).
    pub fn is_body_readable(&self) -> bool {
        match self.environ.get("CONTENT_LENGTH").map(|v| v.trim().parse::<u64>()) {
            Some(Ok(n)) => n != 0,
            Some(Err(_)) => false,
            None => self.environ.get("wsgi.input_terminated") == Some("True"),
        }
    }

    /// `req.body_file`: `wsgi.input`, to stream the body.
    pub fn body_file(&mut self) -> &mut Input {
        self.environ.input()
    }

    /// `req.body`: the whole body, read once (up to the body limit: more is a 413) and
    /// kept; `wsgi.input` then reads it again from the start.
    pub fn body(&mut self) -> Result<Rc<[u8]>, HTTPError> {
        self.read_body(self.body_limit)
    }

    fn read_body(&mut self, limit: u64) -> Result<Rc<[u8]>, HTTPError> {
        if let Some(body) = self.environ.value::<Rc<[u8]>>(BODY_KEY) {
            return Ok(body.clone());
        }
        if self.environ.contains_key(CONSUMED_KEY) {
            return Err(exc::HTTPInternalServerError().with_detail("the request body was consumed by parsing the form"));
        }
        let mut bytes = Vec::new();
        if self.is_body_readable() {
            if self.content_length().is_some_and(|n| n > limit) {
                return Err(exc::HTTPRequestEntityTooLarge());
            }
            let read = self
                .environ
                .input()
                .take(limit.saturating_add(1))
                .read_to_end(&mut bytes);
            if let Err(e) = read {
                let error = if e.kind() == std::io::ErrorKind::TimedOut {
                    exc::HTTPRequestTimeout()
                } else {
                    exc::HTTPBadRequest().with_detail(format!("The request body could not be read: {e}"))
                };
                return Err(error);
            }
            if bytes.len() as u64 > limit {
                return Err(exc::HTTPRequestEntityTooLarge());
            }
        }
        let len = bytes.len();
        let body: Rc<[u8]> = bytes.into();
        // As WebOb's make_body_seekable: wsgi.input reads the body again from its start.
        self.environ
            .set_input(Input::from_bytes(body.to_vec(), Some(Framing::Length(len as u64))));
        self.environ.set("CONTENT_LENGTH", len.to_string());
        self.environ.put(BODY_KEY, body.clone());
        Ok(body)
    }

    /// `req.text`: the body decoded by the request's charset (UTF-8 or latin-1; bad UTF-8
    /// becomes U+FFFD).
    pub fn text(&mut self) -> Result<String, HTTPError> {
        let charset = self.charset().to_ascii_lowercase();
        let body = self.body()?;
        Ok(match charset.as_str() {
            "latin-1" | "iso-8859-1" | "latin1" => super::util::latin1_text(&body),
            _ => String::from_utf8_lossy(&body).into_owned(),
        })
    }

    /// `req.json`: the body parsed as JSON into `T`; a body that is not JSON (or not a
    /// `T`) is a 400.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, HTTPError> {
        let body = self.body()?;
        serde_json::from_slice(&body)
            .map_err(|e| exc::HTTPBadRequest().with_detail(format!("Malformed JSON in request body: {e}")))
    }

    // ---- calling other applications ----

    /// `req.call_application(app)`: calls `app` with this request's environ and a
    /// `start_response` that only records, and returns its status, headers and body. Bytes
    /// the app pushed through the legacy `write()` come first in the body; the rest stays
    /// as lazy as the app made it. An app that never called `start_response` answers 500.
    pub fn call_application<A: Application + ?Sized>(&mut self, app: &A) -> (String, Vec<(String, String)>, Body) {
        let (mut start_response, written) = StartResponse::capturing();
        let body = app.call(self.environ, &mut start_response);
        if !start_response.is_called() {
            drop(body);
            let error =
                exc::HTTPInternalServerError().with_detail("the application returned without calling start_response");
            let (status, headers, body) = error.response_for(self.environ).into_parts();
            return (status, headers.as_slice().to_vec(), body);
        }
        let status = start_response.status().to_owned();
        let headers = start_response
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let written = std::mem::take(&mut *written.borrow_mut());
        let body = if written.is_empty() {
            body
        } else {
            Body::Iter(Box::new(std::iter::once(written).chain(body)))
        };
        (status, headers, body)
    }

    /// `req.get_response(app)` (`req.send(app)`): [`Request::call_application`] as a
    /// [`Response`], which middleware may read and change (status, headers, body) before
    /// returning it; a streamed body stays streamed until someone reads it.
    pub fn get_response<A: Application + ?Sized>(&mut self, app: &A) -> Response {
        let (status, headers, body) = self.call_application(app);
        Response::from_parts(status, headers, body)
    }
}

fn with_query(mut url: String, query: &str) -> String {
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Request {} {}>", self.method(), self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Framing;

    fn environ(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Environ {
        let mut all = vec![("Host", "example.com:8080")];
        all.extend_from_slice(headers);
        let len = body.len().to_string();
        if !body.is_empty() {
            all.push(("Content-Length", &len));
        }
        let input = Input::from_bytes(body.to_vec(), Some(Framing::Length(body.len() as u64)));
        Environ::for_request(method, target, &all, input)
    }

    #[test]
    fn urls_like_webob() {
        let mut e = environ("GET", "/app/caf%C3%A9/x%20y?a=1&b=2", &[], b"");
        e.set("SCRIPT_NAME", "/app");
        e.set("PATH_INFO", "/caf\u{c3}\u{a9}/x y");
        let req = Request::new(&mut e);
        assert_eq!(req.method(), "GET");
        assert_eq!(req.script_name(), "/app");
        assert_eq!(req.path_info(), "/café/x y");
        assert_eq!(req.host(), "example.com:8080");
        assert_eq!(req.domain(), "example.com");
        assert_eq!(req.host_port(), "8080");
        assert_eq!(req.host_url(), "http://example.com:8080");
        assert_eq!(req.application_url(), "http://example.com:8080/app");
        assert_eq!(req.path_url(), "http://example.com:8080/app/caf%C3%A9/x%20y");
        assert_eq!(req.path(), "/app/caf%C3%A9/x%20y");
        assert_eq!(req.path_qs(), "/app/caf%C3%A9/x%20y?a=1&b=2");
        assert_eq!(req.url(), "http://example.com:8080/app/caf%C3%A9/x%20y?a=1&b=2");
        assert_eq!(
            req.relative_url("other", false),
            "http://example.com:8080/app/caf%C3%A9/other"
        );
        assert_eq!(req.relative_url("other", true), "http://example.com:8080/app/other");
        let mut e = environ("GET", "/", &[("Host", "h:80")], b"");
        e.set("HTTP_HOST", "h:80");
        assert_eq!(Request::new(&mut e).host_url(), "http://h");
        let mut e = environ("GET", "/", &[], b"");
        e.remove("HTTP_HOST");
        let req = Request::new(&mut e);
        assert_eq!(req.host(), "127.0.0.1:80");
        assert_eq!(req.host_url(), "http://127.0.0.1");
    }

    #[test]
    fn path_info_shifting() {
        let mut e = environ("GET", "/a//b/c/", &[], b"");
        let mut req = Request::new(&mut e);
        assert_eq!(req.path_info_peek().as_deref(), Some("a"));
        assert_eq!(req.path_info_pop().as_deref(), Some("a"));
        assert_eq!((req.script_name().as_ref(), req.path_info().as_ref()), ("/a", "//b/c/"));
        assert_eq!(req.path_info_pop_if(|s| s == "x"), None);
        assert_eq!(req.path_info_pop().as_deref(), Some("b"));
        assert_eq!((req.script_name().as_ref(), req.path_info().as_ref()), ("/a//b", "/c/"));
        assert_eq!(req.path_info_pop().as_deref(), Some("c"));
        assert_eq!(req.path_info_pop().as_deref(), Some(""));
        assert_eq!((req.script_name().as_ref(), req.path_info().as_ref()), ("/a//b/c/", ""));
        assert_eq!(req.path_info_pop(), None);
        assert_eq!(req.path_info_peek(), None);
    }

    #[test]
    fn get_post_params() {
        let mut e = environ(
            "POST",
            "/?a=1&a=2&q=x+y",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            b"name=caf%C3%A9&a=3",
        );
        let mut req = Request::new(&mut e);
        assert_eq!(req.get_params().getall("a"), vec!["1", "2"]);
        assert_eq!(req.query().get("q").map(String::as_str), Some("x y"));
        let post = req.post().unwrap();
        assert_eq!(post.get("name"), Some(&FormValue::Text("café".into())));
        let params = req.params().unwrap();
        assert_eq!(
            params
                .getall("a")
                .into_iter()
                .filter_map(FormValue::as_text)
                .collect::<Vec<_>>(),
            vec!["1", "2", "3"]
        );
        // The body is still there, and wsgi.input reads it again.
        assert_eq!(&*req.body().unwrap(), b"name=caf%C3%A9&a=3");
        let mut again = String::new();
        req.body_file().read_to_string(&mut again).unwrap();
        assert_eq!(again, "name=caf%C3%A9&a=3");
        // A second Request over the same environ shares the parse.
        assert!(Request::new(&mut e).post().unwrap().contains_key("name"));
    }

    #[test]
    fn post_is_empty_for_non_forms() {
        let mut e = environ("PUT", "/", &[("Content-Type", "application/json")], b"{}");
        let mut req = Request::new(&mut e);
        assert!(req.post().unwrap().is_empty());
        assert_eq!(&*req.body().unwrap(), b"{}");
        let mut e = environ("POST", "/", &[("Content-Type", "text/plain; charset=latin-1")], b"x=1");
        assert!(Request::new(&mut e).post().unwrap().is_empty());
        let mut e = environ(
            "POST",
            "/",
            &[("Content-Type", "application/x-www-form-urlencoded; charset=latin-1")],
            b"x=1",
        );
        assert_eq!(Request::new(&mut e).post().unwrap_err().code, 400);
    }

    #[test]
    fn multipart_posts_stream() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhi\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n--XX--\r\n";
        let mut e = environ(
            "POST",
            "/",
            &[("Content-Type", "multipart/form-data; boundary=XX")],
            body,
        );
        let mut req = Request::new(&mut e);
        let post = req.post().unwrap();
        assert_eq!(post.get("title").and_then(FormValue::as_text), Some("hi"));
        let f = post.get("f").and_then(FormValue::as_file).unwrap();
        assert_eq!(
            (f.filename.as_str(), f.bytes().unwrap()),
            ("a.txt", b"file body".to_vec())
        );
        assert_eq!(req.body().unwrap_err().code, 500);
        // Read first, then parsed from the kept body.
        let mut e = environ(
            "POST",
            "/",
            &[("Content-Type", "multipart/form-data; boundary=XX")],
            body,
        );
        let mut req = Request::new(&mut e);
        assert_eq!(req.body().unwrap().len(), body.len());
        assert_eq!(req.post().unwrap().len(), 2);
        let mut e = environ("POST", "/", &[("Content-Type", "multipart/form-data")], body);
        assert_eq!(Request::new(&mut e).post().unwrap_err().code, 400);
    }

    #[test]
    fn body_limits() {
        let mut e = environ("PUT", "/", &[], &[b'x'; 100]);
        let mut req = Request::new(&mut e);
        req.set_body_limit(99);
        assert_eq!(req.body().unwrap_err().code, 413);
        let mut e = environ("PUT", "/", &[], &[b'x'; 100]);
        let mut req = Request::new(&mut e);
        req.set_body_limit(100);
        assert_eq!(req.body().unwrap().len(), 100);
        assert_eq!(req.content_length(), Some(100));
        // Chunked: no length ahead, the cap still holds.
        let raw = b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n".to_vec();
        let mut e = Environ::for_request(
            "PUT",
            "/",
            &[("Host", "h")],
            Input::from_bytes(raw.clone(), Some(Framing::Chunked)),
        );
        let mut req = Request::new(&mut e);
        req.set_body_limit(9);
        assert_eq!(req.body().unwrap_err().code, 413);
        let mut e = Environ::for_request(
            "PUT",
            "/",
            &[("Host", "h")],
            Input::from_bytes(raw, Some(Framing::Chunked)),
        );
        assert_eq!(&*Request::new(&mut e).body().unwrap(), b"helloworld");
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_bodies() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Image {
            name: String,
        }
        let mut e = environ(
            "POST",
            "/",
            &[("Content-Type", "application/json")],
            br#"{"name": "cirros"}"#,
        );
        assert_eq!(
            Request::new(&mut e).json::<Image>().unwrap(),
            Image { name: "cirros".into() }
        );
        let mut e = environ("POST", "/", &[("Content-Type", "application/json")], b"{nope");
        let err = Request::new(&mut e).json::<Image>().unwrap_err();
        assert_eq!(err.code, 400);
        assert!(err.to_string().starts_with("Malformed JSON in request body"));
    }

    #[test]
    fn headers_cookies_accept_range() {
        let mut e = environ(
            "GET",
            "/",
            &[
                ("Cookie", "a=1; b=2; a=3"),
                ("Accept", "application/json;q=0.9, text/html"),
                ("Range", "bytes=0-9"),
                ("X-Auth-Token", "secret"),
                ("Content-Type", "text/plain; charset=latin-1"),
            ],
            b"",
        );
        let mut req = Request::new(&mut e);
        let cookies = req.cookies();
        assert_eq!(
            cookies.items().map(|(k, v)| (k, v.as_str())).collect::<Vec<_>>(),
            vec![("a", "3"), ("b", "2")]
        );
        assert_eq!(
            req.accept().best_match(&["application/json", "text/html"]),
            Some("text/html")
        );
        assert_eq!(req.range().unwrap().range_for_length(100), Some((0, 10)));
        assert_eq!(req.header("x-auth-token"), Some("secret"));
        assert_eq!(req.headers().get("X-AUTH-TOKEN"), Some("secret"));
        assert_eq!(req.content_type(), "text/plain");
        assert_eq!(req.charset(), "latin-1");
        req.set_header("X-Auth-Token", "other");
        assert_eq!(req.environ().get("HTTP_X_AUTH_TOKEN"), Some("other"));
        assert_eq!(req.remove_header("x-auth-token").as_deref(), Some("other"));
        assert!(!req.headers().contains("X-Auth-Token"));
    }

    #[test]
    fn get_response_captures_the_inner_app() {
        fn inner(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
            let mut write = start_response.call("201 Created", [("Content-Type", "text/plain"), ("X-Inner", "1")]);
            std::io::Write::write_all(&mut write, b"written;").unwrap();
            let path = environ.get_or("PATH_INFO", "").to_owned();
            Body::iter(vec![format!("lazy {path}")])
        }
        let mut e = environ("GET", "/p", &[], b"");
        let mut req = Request::new(&mut e);
        let mut resp = req.get_response(&inner);
        assert_eq!(resp.status(), "201 Created");
        assert_eq!(resp.header("x-inner"), Some("1"));
        assert_eq!(resp.body().unwrap(), b"written;lazy /p");

        fn silent(_: &mut Environ, _: &mut StartResponse) -> Body {
            Body::from("never started")
        }
        let resp = Request::new(&mut e).get_response(&silent);
        assert_eq!(resp.status_code(), 500);
    }
}
