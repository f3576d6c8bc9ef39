//! `webob.Response`: a status, a header list and a body (`app_iter`), built by the app and
//! sent by calling it as a WSGI application ([`Response::call`]).
//!
//! The body is a [`Body`]: bytes, a list of pieces, a lazy iterator (streamed, never held
//! whole) or a reader (`wsgi.file_wrapper`), or a seekable file ([`Response::with_file`]),
//! whose ranges are served by seeking. Reading [`Response::body`] of a lazy body collects
//! it, as WebOb's `resp.body` joins the `app_iter`.
//!
//! With [`Response::with_conditional_response`] (WebOb's `conditional_response=True`),
//! calling it answers `If-None-Match` and `If-Modified-Since` with `304 Not Modified`, and
//! `Range` (respecting `If-Range`) with `206 Partial Content` or `416`, as WebOb's
//! `conditional_response_app` does; several ranges get one `multipart/byteranges` 206
//! (WebOb serves only the first).
//!
//! A `Response` holds the body of one request, which may be a lazy, non-`Send` iterator, so
//! it is an application for that request only: `resp.call(environ, start_response)`
//! consumes it. [`Response::into_app`] makes one whose body can be replayed (bytes, as
//! every constructor makes) a [`ResponseApp`], an `Application` to mount and share, as a
//! WebOb `Response` is a WSGI app; [`HTTPError`] values are shareable applications too.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::cookies::{set_cookie_name, CookieError, SetCookie};
use super::exc::HTTPError;
use super::headers::ResponseHeaders;
use super::range::{ContentRange, Range};
use super::util::{format_http_date, has_scheme, latin1_bytes, parse_http_date, status_reason, url_quote, urljoin};
use crate::wsgi::{Body, Environ, FileWrapper, StartResponse};

/// A seekable reader: what [`Response::with_file`] serves.
pub trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// The response body, `app_iter`.
enum AppIter {
    Body(Body),
    /// A seekable file: ranges seek instead of reading what they skip.
    Seekable(Box<dyn ReadSeek>, usize),
}

/// A status that is not `NNN` or `NNN reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStatus(pub String);

impl fmt::Display for InvalidStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid status {:?}: an integer code is required", self.0)
    }
}

impl std::error::Error for InvalidStatus {}

/// A WSGI response, `webob.Response`. See the module text.
pub struct Response {
    status: String,
    headers: ResponseHeaders,
    app_iter: AppIter,
    conditional: bool,
    /// A response made from an [`HTTPError`]: its body is chosen by the request it answers,
    /// unless a body is set meanwhile.
    pending: Option<Box<HTTPError>>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field(
                "body",
                &match &self.app_iter {
                    AppIter::Body(b) => format!("{b:?}"),
                    AppIter::Seekable(..) => "seekable file".to_owned(),
                },
            )
            .finish()
    }
}

impl Default for Response {
    fn default() -> Response {
        Response::new()
    }
}

/// True for `text/*` and XML types, which get a charset (`_content_type_has_charset`).
fn texty(content_type: &str) -> bool {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.starts_with("application/xml")
        || (ct.starts_with("application/") && ct.ends_with("+xml"))
        || (ct.starts_with("image/") && ct.ends_with("+xml"))
}

fn body_len(body: &Body) -> Option<u64> {
    body.known_len()
}

impl Response {
    /// `Response()`: `200 OK`, `text/html; charset=UTF-8`, an empty body.
    pub fn new() -> Response {
        let mut r = Response::from_parts("200 OK", Vec::new(), Body::Empty);
        r.headers.add("Content-Type", "text/html; charset=UTF-8");
        r.headers.add("Content-Length", "0");
        r
    }

    /// `Response(status=..., headerlist=..., app_iter=...)`: exactly these parts, no
    /// default header added.
    pub fn from_parts(status: impl Into<String>, headers: Vec<(String, String)>, body: Body) -> Response {
        Response {
            status: status.into(),
            headers: headers.into_iter().collect(),
            app_iter: AppIter::Body(body),
            conditional: false,
            pending: None,
        }
    }

    /// A `text/plain; charset=UTF-8` response.
    pub fn text(text: impl Into<String>) -> Response {
        Response::new().with_content_type("text/plain").with_body(text.into())
    }

    /// A `text/html; charset=UTF-8` response.
    pub fn html(html: impl Into<String>) -> Response {
        Response::new().with_body(html.into())
    }

    /// `Response(json=value)`: compact JSON (`separators=(",", ":")`), `application/json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Response {
        let body = serde_json::to_vec(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}").into_bytes());
        Response::new().with_content_type("application/json").with_body(body)
    }

    /// `Response(app_iter=reader)` for a seekable file: its length becomes the
    /// Content-Length, and a conditional response serves ranges by seeking.
    pub fn with_file(mut self, mut file: impl Read + Seek + 'static) -> io::Result<Response> {
        let len = file.seek(SeekFrom::End(0))?;
        file.seek(SeekFrom::Start(0))?;
        self.app_iter = AppIter::Seekable(Box::new(file), 64 * 1024);
        self.headers.set("Content-Length", len.to_string());
        Ok(self)
    }

    // ---- status ----

    /// `resp.status`: `"200 OK"`.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// `resp.status_code`.
    pub fn status_code(&self) -> u16 {
        self.status
            .split(' ')
            .next()
            .and_then(|c| c.parse().ok())
            .unwrap_or(500)
    }

    /// `resp.status = "404 Not Found"` (or `"404"`, given its reason as WebOb does for an
    /// integer).
    pub fn set_status(&mut self, status: &str) -> Result<(), InvalidStatus> {
        let code = status.split(' ').next().unwrap_or("");
        let parsed: u16 = code.parse().map_err(|_| InvalidStatus(status.to_owned()))?;
        if !(100..=999).contains(&parsed) || status.chars().any(|c| c.is_control()) {
            return Err(InvalidStatus(status.to_owned()));
        }
        if code.len() == status.trim_end().len() {
            self.set_status_code(parsed);
        } else {
            self.status = status.to_owned();
        }
        Ok(())
    }

    /// `resp.status_code = 404`: with WebOb's reason phrase.
    pub fn set_status_code(&mut self, code: u16) {
        self.status = format!("{code} {}", status_reason(code));
    }

    /// Builder form of [`Response::set_status_code`].
    pub fn with_status(mut self, code: u16) -> Response {
        self.set_status_code(code);
        self
    }

    // ---- headers ----

    /// `resp.headers`.
    pub fn headers(&self) -> &ResponseHeaders {
        &self.headers
    }

    pub fn headers_mut(&mut self) -> &mut ResponseHeaders {
        &mut self.headers
    }

    /// `resp.headers[name]`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// `resp.headers[name] = value`.
    pub fn set_header(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.headers.set(name, value);
    }

    /// Builder: adds a header (`headers.add`).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Response {
        self.headers.add(name, value);
        self
    }

    /// `resp.content_type`: the media type, without parameters.
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get("Content-Type")
            .map(|ct| ct.split(';').next().unwrap_or("").trim())
    }

    /// `resp.content_type = value`: a text or XML type without a charset gets
    /// `charset=UTF-8`, as WebOb's setter adds it.
    pub fn set_content_type(&mut self, content_type: &str) {
        if content_type.is_empty() {
            self.headers.remove("Content-Type");
            return;
        }
        let mut value = content_type.to_owned();
        if !content_type.contains("charset=") && (content_type == "text/html" || texty(content_type)) {
            value.push_str("; charset=UTF-8");
        }
        self.headers.set("Content-Type", value);
    }

    /// Builder form of [`Response::set_content_type`].
    pub fn with_content_type(mut self, content_type: &str) -> Response {
        self.set_content_type(content_type);
        self
    }

    /// `resp.charset`.
    pub fn charset(&self) -> Option<&str> {
        let ct = self.headers.get("Content-Type")?;
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"'))
        })
    }

    /// `resp.charset = value` (`None` removes it).
    pub fn set_charset(&mut self, charset: Option<&str>) {
        let Some(ct) = self.headers.get("Content-Type") else {
            return;
        };
        let mut parts: Vec<String> = ct
            .split(';')
            .filter(|p| !p.trim().to_ascii_lowercase().starts_with("charset="))
            .map(|p| p.trim().to_owned())
            .collect();
        if let Some(c) = charset {
            parts.push(format!("charset={c}"));
        }
        self.headers.set("Content-Type", parts.join("; "));
    }

    /// `resp.content_length`.
    pub fn content_length(&self) -> Option<u64> {
        self.headers.get("Content-Length").and_then(|v| v.trim().parse().ok())
    }

    /// `resp.content_length = n` (`None` removes it).
    pub fn set_content_length(&mut self, len: Option<u64>) {
        match len {
            Some(n) => self.headers.set("Content-Length", n.to_string()),
            None => {
                self.headers.remove("Content-Length");
            }
        }
    }

    /// `resp.location`.
    pub fn location(&self) -> Option<&str> {
        self.headers.get("Location")
    }

    /// `resp.location = url`; a relative URL is made absolute against the request when the
    /// response is sent.
    pub fn set_location(&mut self, url: &str) {
        self.headers.set("Location", url);
    }

    /// `resp.etag`: the entity tag, unquoted (weak or strong).
    pub fn etag(&self) -> Option<String> {
        parse_etag_response(self.headers.get("ETag")?, false)
    }

    /// `resp.etag_strong`: the tag when it is strong.
    pub fn etag_strong(&self) -> Option<String> {
        parse_etag_response(self.headers.get("ETag")?, true)
    }

    /// `resp.etag = tag` (quoted here unless already a quoted entity tag); `weak` gives
    /// `W/"tag"`.
    pub fn set_etag(&mut self, tag: &str, weak: bool) {
        let value = if !weak && etag_at(tag, 0).is_some() {
            tag.to_owned()
        } else {
            let quoted = format!("\"{}\"", tag.replace('"', "\\\""));
            if weak {
                format!("W/{quoted}")
            } else {
                quoted
            }
        };
        self.headers.set("ETag", value);
    }

    /// `resp.last_modified`.
    pub fn last_modified(&self) -> Option<SystemTime> {
        parse_http_date(self.headers.get("Last-Modified")?)
    }

    /// `resp.last_modified = time`.
    pub fn set_last_modified(&mut self, time: SystemTime) {
        self.headers.set("Last-Modified", format_http_date(time));
    }

    /// `resp.expires`.
    pub fn expires(&self) -> Option<SystemTime> {
        parse_http_date(self.headers.get("Expires")?)
    }

    /// `resp.expires = time`.
    pub fn set_expires(&mut self, time: SystemTime) {
        self.headers.set("Expires", format_http_date(time));
    }

    /// `resp.cache_control`, parsed.
    pub fn cache_control(&self) -> CacheControl {
        CacheControl::parse(self.headers.get("Cache-Control").unwrap_or(""))
    }

    /// `resp.cache_control = cc`; an empty one removes the header.
    pub fn set_cache_control(&mut self, cc: &CacheControl) {
        let value = cc.to_string();
        if value.is_empty() {
            self.headers.remove("Cache-Control");
        } else {
            self.headers.set("Cache-Control", value);
        }
    }

    /// `resp.cache_expires(seconds)`: `0` forbids caching (as WebOb sets it: no-store,
    /// no-cache, must-revalidate, max-age=0, an Expires of now, `Pragma: no-cache`);
    /// otherwise `max-age` and an Expires that far ahead.
    pub fn cache_expires(&mut self, seconds: u64) {
        let now = SystemTime::now();
        let mut cc = self.cache_control();
        if seconds == 0 {
            for flag in ["no-store", "no-cache", "must-revalidate"] {
                cc.set(flag, None);
            }
            for value in ["max-age", "post-check", "pre-check"] {
                cc.set(value, Some("0"));
            }
            self.set_expires(now);
            if !self.headers.contains("Last-Modified") {
                self.set_last_modified(now);
            }
            self.headers.set("Pragma", "no-cache");
        } else {
            cc = CacheControl::default();
            cc.set_max_age(Some(seconds));
            self.set_expires(now + std::time::Duration::from_secs(seconds));
            self.headers.remove("Pragma");
        }
        self.set_cache_control(&cc);
    }

    // ---- cookies ----

    /// `resp.set_cookie(...)`: adds a `Set-Cookie` header.
    pub fn set_cookie(&mut self, cookie: &SetCookie) -> Result<(), CookieError> {
        let value = cookie.to_header()?;
        self.headers.add("Set-Cookie", value);
        Ok(())
    }

    /// `resp.set_cookie(...)` that first removes earlier `Set-Cookie`s of the name
    /// (`overwrite=True`).
    pub fn set_cookie_overwrite(&mut self, cookie: &SetCookie) -> Result<(), CookieError> {
        self.unset_cookie(&cookie.name);
        self.set_cookie(cookie)
    }

    /// `resp.delete_cookie(name, path, domain)`: tells the client to drop it.
    pub fn delete_cookie(&mut self, name: &str, path: &str, domain: Option<&str>) -> Result<(), CookieError> {
        let mut cookie = SetCookie::delete(name).path(Some(path));
        cookie.domain = domain.map(str::to_owned);
        self.set_cookie(&cookie)
    }

    /// `resp.unset_cookie(name, strict=False)`: removes the `Set-Cookie`s of that name from
    /// this response; true when there were some.
    pub fn unset_cookie(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers
            .as_mut_vec()
            .retain(|(k, v)| !(k.eq_ignore_ascii_case("set-cookie") && set_cookie_name(v) == Some(name)));
        before != self.headers.len()
    }

    /// `resp.merge_cookies(other)`: copies this response's `Set-Cookie`s onto `other`.
    pub fn merge_cookies(&self, other: &mut Response) {
        for value in self.headers.get_all("Set-Cookie") {
            other.headers.add("Set-Cookie", value);
        }
    }

    // ---- body ----

    /// `resp.conditional_response = true`.
    pub fn set_conditional_response(&mut self, on: bool) {
        self.conditional = on;
    }

    /// Builder form of [`Response::set_conditional_response`].
    pub fn with_conditional_response(mut self, on: bool) -> Response {
        self.conditional = on;
        self
    }

    /// `resp.body = bytes` (or any [`Body`]: `resp.app_iter = ...`): sets Content-Length
    /// when the length is known, removes it otherwise.
    pub fn set_body(&mut self, body: impl Into<Body>) {
        let body = body.into();
        let len = body_len(&body);
        self.app_iter = AppIter::Body(body);
        self.pending = None;
        self.set_content_length(len);
    }

    /// Builder form of [`Response::set_body`].
    pub fn with_body(mut self, body: impl Into<Body>) -> Response {
        self.set_body(body);
        self
    }

    /// `resp.json = value`.
    #[cfg(feature = "json")]
    pub fn set_json<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        let body = serde_json::to_vec(value)?;
        self.set_body(body);
        Ok(())
    }

    /// `resp.has_body`: a body is set and not empty (a lazy body counts without being read).
    pub fn has_body(&self) -> bool {
        match &self.app_iter {
            AppIter::Body(Body::Empty) => false,
            AppIter::Body(Body::Bytes(b)) => !b.is_empty(),
            AppIter::Body(Body::Chunks(v)) => v.iter().any(|c| !c.is_empty()),
            _ => true,
        }
    }

    /// `resp.body`: the whole body. A lazy body is read (and kept) here; a Content-Length
    /// that disagrees with what was read is an error, as WebOb asserts.
    pub fn body(&mut self) -> io::Result<&[u8]> {
        let collected = match std::mem::replace(&mut self.app_iter, AppIter::Body(Body::Empty)) {
            AppIter::Body(Body::Bytes(b)) => b,
            AppIter::Body(Body::Empty) => Cow::Borrowed(&b""[..]),
            AppIter::Body(Body::Chunks(v)) => Cow::Owned(v.concat()),
            AppIter::Body(Body::Iter(it)) => Cow::Owned(it.flatten().collect()),
            AppIter::Body(Body::File(mut f)) => {
                let mut out = Vec::new();
                f.reader.read_to_end(&mut out)?;
                Cow::Owned(out)
            }
            AppIter::Seekable(mut f, _) => {
                let mut out = Vec::new();
                f.seek(SeekFrom::Start(0))?;
                f.read_to_end(&mut out)?;
                Cow::Owned(out)
            }
        };
        let len = collected.len() as u64;
        self.app_iter = AppIter::Body(Body::Bytes(collected));
        match self.content_length() {
            _ if len == 0 => {}
            None => self.set_content_length(Some(len)),
            Some(n) if n != len => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("Content-Length is different from actual app_iter length ({n}!={len})"),
                ))
            }
            Some(_) => {}
        }
        match &self.app_iter {
            AppIter::Body(Body::Bytes(b)) => Ok(b),
            _ => unreachable!("just set"),
        }
    }

    /// `resp.text`: the body decoded (as UTF-8; bad bytes become U+FFFD).
    pub fn text_body(&mut self) -> io::Result<String> {
        Ok(String::from_utf8_lossy(self.body()?).into_owned())
    }

    /// `resp.json`: the body parsed as JSON.
    #[cfg(feature = "json")]
    pub fn json_body<T: serde::de::DeserializeOwned>(&mut self) -> io::Result<T> {
        serde_json::from_slice(self.body()?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The body as it will be sent, moved out (an empty body stays behind).
    pub fn take_body(&mut self) -> Body {
        match std::mem::replace(&mut self.app_iter, AppIter::Body(Body::Empty)) {
            AppIter::Body(b) => b,
            AppIter::Seekable(f, block) => Body::File(FileWrapper::new(f, block)),
        }
    }

    /// Status, headers and body, for middleware that rebuilds a response.
    pub fn into_parts(mut self) -> (String, ResponseHeaders, Body) {
        let body = self.take_body();
        (
            std::mem::take(&mut self.status),
            std::mem::take(&mut self.headers),
            body,
        )
    }

    // ---- sending ----

    /// `resp(environ, start_response)`: starts the response and returns its body. A
    /// relative Location becomes absolute; a conditional response answers conditional and
    /// range requests; a response made from an [`HTTPError`] gets the body the request's
    /// Accept asks for.
    pub fn call(self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        self.respond(environ, start_response)
    }

    /// [`Response::call`] for callers that hold the environ shared (the router's errors).
    pub(crate) fn respond(mut self, environ: &Environ, start_response: &mut StartResponse) -> Body {
        if let Some(mut error) = self.pending.take() {
            if !self.has_body() {
                // What was added to the response since it was made from the error is kept.
                *error.headers_mut() = self
                    .headers
                    .iter()
                    .filter(|(n, _)| {
                        error.is_empty_body()
                            || !(n.eq_ignore_ascii_case("content-type") || n.eq_ignore_ascii_case("content-length"))
                    })
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect();
                return error.response_for(environ).respond(environ, start_response);
            }
        }
        let headers = self.absolute_headers(environ);
        if self.conditional {
            return self.conditional_call(environ, start_response, headers);
        }
        start_response.call(&self.status, &headers);
        self.take_body()
    }

    /// `_abs_headerlist`: the headers with Location made absolute.
    fn absolute_headers(&self, environ: &Environ) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("location") {
                    (k.to_owned(), make_location_absolute(environ, v))
                } else {
                    (k.to_owned(), v.to_owned())
                }
            })
            .collect()
    }

    /// `conditional_response_app`.
    fn conditional_call(
        mut self,
        environ: &Environ,
        start_response: &mut StartResponse,
        headers: Vec<(String, String)>,
    ) -> Body {
        let method = environ.get_or("REQUEST_METHOD", "GET");
        let safe = method == "GET" || method == "HEAD";
        if safe {
            // As WebOb: an If-None-Match decides when both it and an ETag are there ("*"
            // counts as absent), If-Modified-Since otherwise.
            let if_none_match = environ.get("HTTP_IF_NONE_MATCH").filter(|v| !v.is_empty() && *v != "*");
            let not_modified = match (if_none_match, self.etag()) {
                (Some(inm), Some(etag)) => etag_matcher(inm, false).contains(&etag),
                _ => match (
                    environ.get("HTTP_IF_MODIFIED_SINCE").and_then(parse_http_date),
                    self.last_modified(),
                ) {
                    (Some(since), Some(modified)) => modified <= since,
                    _ => false,
                },
            };
            if not_modified {
                start_response.call(
                    "304 Not Modified",
                    filter_headers(&headers, &["content-length", "content-type"]),
                );
                return Body::Empty;
            }
        }
        let range = environ.get("HTTP_RANGE").and_then(Range::parse);
        let length = self.content_length();
        if let (Some(range), Some(length), true) = (range, length, safe) {
            if self.status_code() == 200 && !self.headers.contains("Content-Range") && self.if_range_matches(environ) {
                let spans = range.satisfiable(length);
                if spans.is_empty() {
                    let body = format!("Requested range not satisfiable: {range}");
                    let mut list = vec![
                        ("Content-Length".to_owned(), body.len().to_string()),
                        (
                            "Content-Range".to_owned(),
                            ContentRange {
                                range: None,
                                length: Some(length),
                            }
                            .to_string(),
                        ),
                        ("Content-Type".to_owned(), "text/plain".to_owned()),
                    ];
                    list.extend(filter_headers(&headers, &["content-length", "content-type"]));
                    start_response.call("416 Requested Range Not Satisfiable", &list);
                    return Body::from(body);
                }
                let source = std::mem::replace(&mut self.app_iter, AppIter::Body(Body::Empty));
                if let [(start, stop)] = spans.as_slice() {
                    let mut list = vec![
                        ("Content-Length".to_owned(), (stop - start).to_string()),
                        (
                            "Content-Range".to_owned(),
                            ContentRange {
                                range: Some((*start, *stop)),
                                length: Some(length),
                            }
                            .to_string(),
                        ),
                    ];
                    list.extend(filter_headers(&headers, &["content-length"]));
                    start_response.call("206 Partial Content", &list);
                    return range_body(source, *start, *stop);
                }
                let content_type = self.headers.get("Content-Type").map(str::to_owned);
                let (body, total, boundary) = multi_range_body(source, &spans, length, content_type.as_deref());
                let mut list = vec![
                    ("Content-Length".to_owned(), total.to_string()),
                    (
                        "Content-Type".to_owned(),
                        format!("multipart/byteranges; boundary={boundary}"),
                    ),
                ];
                list.extend(filter_headers(&headers, &["content-length", "content-type"]));
                start_response.call("206 Partial Content", &list);
                return body;
            }
        }
        start_response.call(&self.status, &headers);
        self.take_body()
    }

    /// `self in req.if_range`: no If-Range, or one naming this response's strong ETag, or a
    /// date not before its Last-Modified.
    fn if_range_matches(&self, environ: &Environ) -> bool {
        match environ.get("HTTP_IF_RANGE").filter(|v| !v.is_empty()) {
            None => true,
            Some(value) if value.ends_with(" GMT") => match (parse_http_date(value), self.last_modified()) {
                (Some(date), Some(modified)) => modified <= date,
                _ => false,
            },
            Some(value) => match self.etag_strong() {
                Some(tag) => value == "*" || etag_matcher(value, true).contains(&tag),
                None => false,
            },
        }
    }
}

/// `filter_headers`: the headers without those names.
fn filter_headers(headers: &[(String, String)], remove: &[&str]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| !remove.iter().any(|r| k.eq_ignore_ascii_case(r)))
        .cloned()
        .collect()
}

/// `_rx_etag = (?:^|\s)(W/)?"((?:\\"|.)*?)"` matched at `at`: (weak, tag, end).
fn etag_at(value: &str, at: usize) -> Option<(bool, String, usize)> {
    let rest = &value[at..];
    let (weak, rest, offset) = match rest.strip_prefix("W/") {
        Some(r) => (true, r, at + 2),
        None => (false, rest, at),
    };
    let inner = rest.strip_prefix('"')?;
    let bytes = inner.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'"') => i += 2,
            b'"' => return Some((weak, inner[..i].replace("\\\"", "\""), offset + 1 + i + 1)),
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// `parse_etag_response`.
fn parse_etag_response(value: &str, strong: bool) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    match etag_at(value, 0) {
        None => Some(value.to_owned()),
        Some((true, _, _)) if strong => None,
        Some((_, tag, _)) => Some(tag),
    }
}

/// `ETagMatcher.parse(value, strong)`: the tags of an If-None-Match / If-Range list.
fn etag_matcher(value: &str, strong: bool) -> Vec<String> {
    let mut tags = Vec::new();
    let mut pos = 0;
    let mut found_any = false;
    while pos < value.len() {
        let at_start = pos == 0 || value[..pos].ends_with(|c: char| c.is_whitespace());
        if at_start {
            if let Some((weak, tag, end)) = etag_at(value, pos) {
                found_any = true;
                if !(strong && weak) {
                    tags.push(tag);
                }
                pos = end;
                continue;
            }
        }
        pos += value[pos..].chars().next().map_or(1, char::len_utf8);
    }
    if !found_any {
        tags.push(value.to_owned());
    }
    tags
}

/// `_request_uri(environ)`: the request's URL without the query.
fn request_uri(environ: &Environ) -> String {
    let scheme = environ.get_or("wsgi.url_scheme", "http");
    let mut url = format!("{scheme}://");
    match environ.get("HTTP_HOST").filter(|h| !h.is_empty()) {
        Some(host) => url.push_str(host),
        None => {
            url.push_str(environ.get_or("SERVER_NAME", ""));
            url.push(':');
            url.push_str(environ.get_or("SERVER_PORT", ""));
        }
    }
    if scheme == "http" && url.ends_with(":80") {
        url.truncate(url.len() - 3);
    } else if scheme == "https" && url.ends_with(":443") {
        url.truncate(url.len() - 4);
    }
    url.push_str(&url_quote(&latin1_bytes(environ.get_or("SCRIPT_NAME", "/")), "/"));
    url.push_str(&url_quote(&latin1_bytes(environ.get_or("PATH_INFO", "")), "/"));
    url
}

/// `_make_location_absolute`: tabs and line ends dropped (CVE-2024-42353), `//host` kept
/// on this host, relative URLs resolved against the request.
fn make_location_absolute(environ: &Environ, value: &str) -> String {
    let value: String = value.chars().filter(|c| !matches!(c, '\t' | '\r' | '\n')).collect();
    if has_scheme(&value)
        && value
            .split(':')
            .next()
            .is_some_and(|s| s.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return value;
    }
    let value = match value.strip_prefix("//") {
        Some(rest) => format!("/%2f{rest}"),
        None => value,
    };
    urljoin(&request_uri(environ), &value)
}

/// Produces a body's bytes from a position on, seeking when it can (`AppIterRange`).
struct Stream {
    src: Src,
    pos: u64,
    pending: Vec<u8>,
}

enum Src {
    Pieces(Box<dyn Iterator<Item = Vec<u8>>>),
    Reader(Box<dyn Read>, usize),
    Seek(Box<dyn ReadSeek>, usize),
}

impl Stream {
    fn new(app_iter: AppIter) -> Stream {
        let src = match app_iter {
            AppIter::Body(Body::Empty) => Src::Pieces(Box::new(std::iter::empty())),
            AppIter::Body(Body::Bytes(b)) => Src::Pieces(Box::new(std::iter::once(b.into_owned()))),
            AppIter::Body(Body::Chunks(v)) => Src::Pieces(Box::new(v.into_iter())),
            AppIter::Body(Body::Iter(it)) => Src::Pieces(it),
            AppIter::Body(Body::File(f)) => Src::Reader(f.reader, f.block_size),
            AppIter::Seekable(r, size) => Src::Seek(r, size),
        };
        Stream {
            src,
            pos: 0,
            pending: Vec::new(),
        }
    }

    fn next_piece(&mut self) -> Option<Vec<u8>> {
        if !self.pending.is_empty() {
            return Some(std::mem::take(&mut self.pending));
        }
        let read_block = |r: &mut dyn Read, size: usize| -> Option<Vec<u8>> {
            let mut block = vec![0; size];
            loop {
                match r.read(&mut block) {
                    Ok(0) => return None,
                    Ok(n) => {
                        block.truncate(n);
                        return Some(block);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log::error!("reading a response body for a range failed: {e}");
                        return None;
                    }
                }
            }
        };
        match &mut self.src {
            Src::Pieces(it) => it.next(),
            Src::Reader(r, size) => read_block(r.as_mut(), *size),
            Src::Seek(r, size) => read_block(r.as_mut(), *size),
        }
    }

    /// Moves to `target` (never backwards): seeks, or reads and drops what lies before.
    fn skip_to(&mut self, target: u64) -> bool {
        if let Src::Seek(r, _) = &mut self.src {
            if r.seek(SeekFrom::Start(target)).is_ok() {
                self.pending.clear();
                self.pos = target;
                return true;
            }
        }
        while self.pos < target {
            let Some(mut piece) = self.next_piece() else {
                return false;
            };
            let skip = (target - self.pos).min(piece.len() as u64) as usize;
            self.pos += skip as u64;
            if skip < piece.len() {
                self.pending = piece.split_off(skip);
            }
        }
        true
    }

    /// The next bytes, at most `max`.
    fn take(&mut self, max: u64) -> Option<Vec<u8>> {
        let mut piece = self.next_piece()?;
        if piece.len() as u64 > max {
            self.pending = piece.split_off(max as usize);
        }
        self.pos += piece.len() as u64;
        Some(piece)
    }
}

/// `app_iter_range(start, stop)`.
fn range_body(app_iter: AppIter, start: u64, stop: u64) -> Body {
    let (start_us, stop_us) = (start as usize, stop as usize);
    match app_iter {
        AppIter::Body(Body::Bytes(Cow::Borrowed(b))) => {
            Body::Bytes(Cow::Borrowed(&b[start_us.min(b.len())..stop_us.min(b.len())]))
        }
        AppIter::Body(Body::Bytes(Cow::Owned(mut v))) => {
            v.truncate(stop_us);
            v.drain(..start_us.min(v.len()));
            Body::from(v)
        }
        AppIter::Seekable(mut file, block) => match file.seek(SeekFrom::Start(start)) {
            Ok(_) => Body::File(FileWrapper::new(file.take(stop - start), block)),
            Err(e) => {
                // The short body makes the server close the connection and log it.
                log::error!("seeking a response file for a range failed: {e}");
                Body::Empty
            }
        },
        other => {
            let mut stream = Stream::new(other);
            let mut started = false;
            Body::Iter(Box::new(std::iter::from_fn(move || {
                if !started {
                    started = true;
                    if !stream.skip_to(start) {
                        return None;
                    }
                }
                let left = stop.saturating_sub(stream.pos);
                if left == 0 {
                    return None;
                }
                stream.take(left)
            })))
        }
    }
}

/// A `multipart/byteranges` body of `spans`, its length and its boundary.
fn multi_range_body(
    app_iter: AppIter,
    spans: &[(u64, u64)],
    length: u64,
    content_type: Option<&str>,
) -> (Body, u64, String) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let boundary = format!(
        "{:016x}{:08x}",
        nanos ^ 0x9e37_79b9_7f4a_7c15,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let part_head = |start: u64, stop: u64| -> Vec<u8> {
        let mut h = format!("\r\n--{boundary}\r\n");
        if let Some(ct) = content_type {
            h.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        h.push_str(&format!(
            "Content-Range: {}\r\n\r\n",
            ContentRange {
                range: Some((start, stop)),
                length: Some(length)
            }
        ));
        h.into_bytes()
    };
    let closing = format!("\r\n--{boundary}--\r\n").into_bytes();
    let total = spans
        .iter()
        .map(|&(a, b)| part_head(a, b).len() as u64 + (b - a))
        .sum::<u64>()
        + closing.len() as u64;
    let heads: Vec<Vec<u8>> = spans.iter().map(|&(a, b)| part_head(a, b)).collect();
    let spans = spans.to_vec();
    let mut stream = Stream::new(app_iter);
    let mut index = 0usize;
    let mut in_part = false;
    let mut closing = Some(closing);
    let body = Body::Iter(Box::new(std::iter::from_fn(move || loop {
        if index >= spans.len() {
            return closing.take();
        }
        let (start, stop) = spans[index];
        if !in_part {
            in_part = true;
            if !stream.skip_to(start) {
                return None;
            }
            return Some(heads[index].clone());
        }
        let left = stop.saturating_sub(stream.pos);
        if left == 0 {
            index += 1;
            in_part = false;
            continue;
        }
        return stream.take(left);
    })));
    (body, total, boundary)
}

/// The `Cache-Control` header, `webob.cachecontrol.CacheControl`: its directives in order,
/// each with an optional value; written back sorted by name, as WebOb writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheControl {
    directives: Vec<(String, Option<String>)>,
}

impl CacheControl {
    /// `CacheControl.parse(header)`.
    pub fn parse(header: &str) -> CacheControl {
        let mut directives: Vec<(String, Option<String>)> = Vec::new();
        for item in header.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (
                    n.trim(),
                    Some(v.trim().trim_matches('"').to_owned()).filter(|v| !v.is_empty()),
                ),
                None => (item, None),
            };
            if name.is_empty() || !name.as_bytes()[0].is_ascii_alphabetic() {
                continue;
            }
            directives.retain(|(n, _)| n != name);
            directives.push((name.to_owned(), value));
        }
        CacheControl { directives }
    }

    /// The directive's value: `Some(None)` when present without one.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_deref())
    }

    /// Sets a directive (a flag when `value` is `None`).
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        self.directives.retain(|(n, _)| n != name);
        self.directives.push((name.to_owned(), value.map(str::to_owned)));
    }

    /// Removes a directive.
    pub fn remove(&mut self, name: &str) {
        self.directives.retain(|(n, _)| n != name);
    }

    /// `max-age` in seconds.
    pub fn max_age(&self) -> Option<u64> {
        self.get("max-age").flatten().and_then(|v| v.parse().ok())
    }

    /// `cc.max_age = n` (`None` removes it).
    pub fn set_max_age(&mut self, seconds: Option<u64>) {
        match seconds {
            Some(s) => self.set("max-age", Some(&s.to_string())),
            None => self.remove("max-age"),
        }
    }

    /// A flag directive (`no-store`, `public`, `must-revalidate`, ...) is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl fmt::Display for CacheControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sorted: Vec<&(String, Option<String>)> = self.directives.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (name, value)) in sorted.into_iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(name)?;
            if let Some(v) = value {
                if v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
                    write!(f, "={v}")?;
                } else {
                    write!(f, "=\"{v}\"")?;
                }
            }
        }
        Ok(())
    }
}

/// A response that answers with an [`HTTPError`]: its body is chosen when it is sent,
/// by the Accept header of the request it answers.
impl From<HTTPError> for Response {
    fn from(error: HTTPError) -> Response {
        let mut r = Response::from_parts(error.status(), error.initial_headers(), Body::Empty);
        r.pending = Some(Box::new(error));
        r
    }
}

impl<T: Into<Response>, E: Into<Response>> From<Result<T, E>> for Response {
    fn from(result: Result<T, E>) -> Response {
        match result {
            Ok(r) => r.into(),
            Err(e) => e.into(),
        }
    }
}

/// A string is a `text/html` body, as `wsgify` writes a returned string into
/// `req.response`.
impl From<String> for Response {
    fn from(s: String) -> Response {
        Response::new().with_body(s)
    }
}

impl From<&'static str> for Response {
    fn from(s: &'static str) -> Response {
        Response::new().with_body(s)
    }
}

impl From<Vec<u8>> for Response {
    fn from(b: Vec<u8>) -> Response {
        Response::new().with_body(b)
    }
}

/// The body of a [`ResponseApp`]: what can be sent again and again.
#[derive(Clone)]
enum ReplayBody {
    Bytes(Cow<'static, [u8]>),
    Chunks(Vec<Vec<u8>>),
}

/// A [`Response`] as a shared application, served to every request that reaches it: WebOb's
/// `Response` is a WSGI app, and one mounted somewhere (`urlmap['/health'] = Response('OK')`)
/// answers each request with the same status, headers and body, because WebOb replays an
/// `app_iter` that is a list.
///
/// Made by [`Response::into_app`], for a response whose body can be replayed: bytes (every
/// constructor's body), a list of pieces, or nothing. A lazy body (an iterator, a reader, a
/// file) is one-shot, as a generator `app_iter` is in WebOb, where a second call sends
/// nothing: `into_app` gives such a response back rather than serve it once. Read it first
/// with [`Response::body`] (WebOb's `resp.body` joins the `app_iter` the same way) if it
/// should be kept, or make one response per request with a closure.
///
/// Each call serves a copy as [`Response::call`] would: a relative Location made absolute
/// for the request, conditional requests answered when the response is conditional, and a
/// response made from an [`HTTPError`] given the body the request's Accept asks for.
///
/// ```
/// use may_wsgi::urlmap::URLMap;
/// use may_wsgi::webob::Response;
///
/// let mut urlmap = URLMap::new();
/// let health = Response::text("OK").into_app().expect("a bytes body replays");
/// urlmap.insert("/health", health);
/// ```
#[derive(Clone)]
pub struct ResponseApp {
    status: String,
    headers: ResponseHeaders,
    body: ReplayBody,
    conditional: bool,
    pending: Option<Box<HTTPError>>,
}

impl fmt::Debug for ResponseApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseApp")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Response {
    /// This response as an application that serves it to every request: see
    /// [`ResponseApp`]. A lazy body cannot be replayed: the response comes back as the
    /// error.
    pub fn into_app(mut self) -> Result<ResponseApp, Response> {
        let body = match std::mem::replace(&mut self.app_iter, AppIter::Body(Body::Empty)) {
            AppIter::Body(Body::Empty) => ReplayBody::Bytes(Cow::Borrowed(b"")),
            AppIter::Body(Body::Bytes(b)) => ReplayBody::Bytes(b),
            AppIter::Body(Body::Chunks(v)) => ReplayBody::Chunks(v),
            lazy => {
                self.app_iter = lazy;
                return Err(self);
            }
        };
        Ok(ResponseApp {
            status: self.status,
            headers: self.headers,
            body,
            conditional: self.conditional,
            pending: self.pending,
        })
    }
}

impl TryFrom<Response> for ResponseApp {
    type Error = Response;

    fn try_from(response: Response) -> Result<ResponseApp, Response> {
        response.into_app()
    }
}

impl ResponseApp {
    /// A fresh [`Response`] for one request, to change before sending.
    pub fn response(&self) -> Response {
        let body = match &self.body {
            ReplayBody::Bytes(b) if b.is_empty() => Body::Empty,
            ReplayBody::Bytes(b) => Body::Bytes(b.clone()),
            ReplayBody::Chunks(v) => Body::Chunks(v.clone()),
        };
        Response {
            status: self.status.clone(),
            headers: self.headers.clone(),
            app_iter: AppIter::Body(body),
            conditional: self.conditional,
            pending: self.pending.clone(),
        }
    }
}

impl crate::wsgi::Application for ResponseApp {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        self.response().call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsgi::Input;

    /// Calls `resp` for a request and returns status, headers and the body bytes.
    pub(crate) fn serve(
        resp: Response,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
    ) -> (String, Vec<(String, String)>, Vec<u8>) {
        let mut all = vec![("Host", "example.com")];
        all.extend_from_slice(headers);
        let mut environ = Environ::for_request(method, target, &all, Input::empty());
        let (mut sr, _) = StartResponse::capturing();
        let body = resp.call(&mut environ, &mut sr);
        let status = sr.status().to_owned();
        let headers = sr.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
        let mut r = Response::from_parts(status.clone(), Vec::new(), body);
        (status, headers, r.body().unwrap().to_vec())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn defaults_like_webob() {
        let r = Response::new();
        assert_eq!(r.status(), "200 OK");
        assert_eq!(r.header("content-type"), Some("text/html; charset=UTF-8"));
        assert_eq!(r.content_length(), Some(0));
        let mut r = Response::text("hi");
        assert_eq!(r.content_type(), Some("text/plain"));
        assert_eq!(r.charset(), Some("UTF-8"));
        assert_eq!(r.content_length(), Some(2));
        assert_eq!(r.body().unwrap(), b"hi");
        r.set_content_type("application/octet-stream");
        assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
        r.set_content_type("application/atom+xml");
        assert_eq!(r.charset(), Some("UTF-8"));
        r.set_charset(Some("latin-1"));
        assert_eq!(r.header("Content-Type"), Some("application/atom+xml; charset=latin-1"));
        r.set_status("404").unwrap();
        assert_eq!(r.status(), "404 Not Found");
        r.set_status("499 Custom").unwrap();
        assert_eq!((r.status(), r.status_code()), ("499 Custom", 499));
        assert!(r.set_status("abc").is_err());
        r.set_status_code(416);
        assert_eq!(r.status(), "416 Requested Range Not Satisfiable");
    }

    #[test]
    fn lazy_bodies_collect_on_demand() {
        let mut r = Response::new().with_body(Body::iter(vec!["a", "bc"]));
        assert_eq!(r.content_length(), None);
        assert!(r.has_body());
        assert_eq!(r.body().unwrap(), b"abc");
        assert_eq!(r.content_length(), Some(3));
        let mut r = Response::new().with_body(Body::iter(vec!["abc"]));
        r.set_content_length(Some(5));
        assert!(r.body().is_err());
    }

    #[test]
    fn location_becomes_absolute() {
        let mut r = Response::new().with_status(302);
        r.set_location("../other");
        let (_, headers, _) = serve(r, "GET", "/a/b/c", &[]);
        assert_eq!(header(&headers, "location"), Some("http://example.com/a/other"));
        let mut r = Response::new().with_status(302);
        r.set_location("//evil.com/x");
        let (_, headers, _) = serve(r, "GET", "/", &[]);
        assert_eq!(header(&headers, "location"), Some("http://example.com/%2fevil.com/x"));
        let mut r = Response::new().with_status(302);
        r.set_location("https://elsewhere/\r\n");
        let (_, headers, _) = serve(r, "GET", "/", &[]);
        assert_eq!(header(&headers, "location"), Some("https://elsewhere/"));
    }

    fn tagged() -> Response {
        let mut r = Response::text("0123456789").with_conditional_response(true);
        r.set_etag("v1", false);
        r.set_last_modified(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
        r
    }

    #[test]
    fn conditional_304() {
        let (status, headers, body) = serve(tagged(), "GET", "/", &[("If-None-Match", "\"v0\", \"v1\"")]);
        assert_eq!(status, "304 Not Modified");
        assert!(header(&headers, "content-length").is_none() && header(&headers, "content-type").is_none());
        assert_eq!(header(&headers, "etag"), Some("\"v1\""));
        assert!(body.is_empty());
        assert_eq!(
            serve(tagged(), "GET", "/", &[("If-None-Match", "W/\"v1\"")]).0,
            "304 Not Modified"
        );
        assert_eq!(serve(tagged(), "GET", "/", &[("If-None-Match", "\"v2\"")]).0, "200 OK");
        assert_eq!(serve(tagged(), "POST", "/", &[("If-None-Match", "\"v1\"")]).0, "200 OK");
        assert_eq!(
            serve(
                tagged(),
                "GET",
                "/",
                &[("If-Modified-Since", "Sun, 09 Sep 2001 01:46:40 GMT")]
            )
            .0,
            "304 Not Modified"
        );
        assert_eq!(
            serve(
                tagged(),
                "GET",
                "/",
                &[("If-Modified-Since", "Sun, 09 Sep 2001 01:46:39 GMT")]
            )
            .0,
            "200 OK"
        );
        // No ETag: If-Modified-Since decides, even beside an If-None-Match.
        let mut untagged = tagged();
        untagged.headers_mut().remove("ETag");
        let since = [
            ("If-None-Match", "\"v1\""),
            ("If-Modified-Since", "Sun, 09 Sep 2001 01:46:40 GMT"),
        ];
        assert_eq!(serve(untagged, "GET", "/", &since).0, "304 Not Modified");
        assert_eq!(serve(tagged(), "GET", "/", &[("If-None-Match", "*")]).0, "200 OK");
        // Without conditional_response the headers are ignored.
        let plain = tagged().with_conditional_response(false);
        assert_eq!(serve(plain, "GET", "/", &[("If-None-Match", "\"v1\"")]).0, "200 OK");
    }

    #[test]
    fn ranges_206_and_416() {
        let (status, headers, body) = serve(tagged(), "GET", "/", &[("Range", "bytes=2-4")]);
        assert_eq!(status, "206 Partial Content");
        assert_eq!(body, b"234");
        assert_eq!(header(&headers, "content-range"), Some("bytes 2-4/10"));
        assert_eq!(header(&headers, "content-length"), Some("3"));
        let (status, headers, body) = serve(tagged(), "GET", "/", &[("Range", "bytes=20-")]);
        assert_eq!(status, "416 Requested Range Not Satisfiable");
        assert_eq!(header(&headers, "content-range"), Some("bytes */10"));
        assert_eq!(body, b"Requested range not satisfiable: bytes=20-");
        // If-Range with another tag: the whole body.
        let (status, _, body) = serve(tagged(), "GET", "/", &[("Range", "bytes=2-4"), ("If-Range", "\"v0\"")]);
        assert_eq!((status.as_str(), body.as_slice()), ("200 OK", &b"0123456789"[..]));
        let (status, _, _) = serve(tagged(), "GET", "/", &[("Range", "bytes=2-4"), ("If-Range", "\"v1\"")]);
        assert_eq!(status, "206 Partial Content");
    }

    #[test]
    fn ranges_of_every_body_kind() {
        let data: Vec<u8> = (0..100u8).collect();
        let make: Vec<Box<dyn Fn() -> Response>> = vec![
            Box::new({
                let d = data.clone();
                move || Response::new().with_body(d.clone())
            }),
            Box::new({
                let d = data.clone();
                move || {
                    let mut r =
                        Response::new().with_body(Body::iter(d.chunks(7).map(|c| c.to_vec()).collect::<Vec<_>>()));
                    r.set_content_length(Some(100));
                    r
                }
            }),
            Box::new({
                let d = data.clone();
                move || {
                    let mut r =
                        Response::new().with_body(Body::File(FileWrapper::new(std::io::Cursor::new(d.clone()), 9)));
                    r.set_content_length(Some(100));
                    r
                }
            }),
            Box::new({
                let d = data.clone();
                move || Response::new().with_file(std::io::Cursor::new(d.clone())).unwrap()
            }),
        ];
        for (kind, make) in make.iter().enumerate() {
            let (status, _, body) = serve(
                make().with_conditional_response(true),
                "GET",
                "/",
                &[("Range", "bytes=10-19")],
            );
            assert_eq!(status, "206 Partial Content", "kind {kind}");
            assert_eq!(body, &data[10..20], "kind {kind}");
            let (status, headers, body) = serve(
                make().with_conditional_response(true),
                "GET",
                "/",
                &[("Range", "bytes=0-1,50-52,-2")],
            );
            assert_eq!(status, "206 Partial Content", "kind {kind}");
            let ct = header(&headers, "content-type").unwrap();
            let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
            assert_eq!(
                header(&headers, "content-length").unwrap().parse::<usize>().unwrap(),
                body.len()
            );
            let parts = crate::webob::multipart::tests::read_all(&body, boundary);
            assert_eq!(parts.len(), 3, "kind {kind}");
            assert_eq!(parts[0].0.get("content-range"), Some("bytes 0-1/100"));
            assert_eq!(parts[0].0.get("content-type"), Some("text/html; charset=UTF-8"));
            assert_eq!(parts[0].1, &data[0..2]);
            assert_eq!(parts[1].1, &data[50..53]);
            assert_eq!(parts[2].0.get("content-range"), Some("bytes 98-99/100"));
            assert_eq!(parts[2].1, &data[98..100]);
        }
    }

    #[test]
    fn cookies() {
        let mut r = Response::new();
        r.set_cookie(&SetCookie::new("a", "1")).unwrap();
        r.set_cookie(&SetCookie::new("b", "2").http_only(true)).unwrap();
        r.delete_cookie("c", "/", Some("example.com")).unwrap();
        assert_eq!(
            r.headers().get_all("Set-Cookie"),
            vec![
                "a=1; Path=/",
                "b=2; Path=/; HttpOnly",
                "c=; Domain=example.com; Max-Age=0; Path=/; expires=Wed, 31-Dec-97 23:59:59 GMT"
            ]
        );
        assert!(r.unset_cookie("a"));
        assert!(!r.unset_cookie("a"));
        r.set_cookie_overwrite(&SetCookie::new("b", "3")).unwrap();
        assert_eq!(r.headers().get_all("set-cookie").len(), 2);
        let mut other = Response::new();
        r.merge_cookies(&mut other);
        assert_eq!(other.headers().get_all("Set-Cookie").len(), 2);
    }

    #[test]
    fn cache_control_and_etags() {
        let mut r = Response::new();
        let mut cc = r.cache_control();
        cc.set_max_age(Some(3600));
        cc.set("public", None);
        cc.set("no-cache", Some("Set-Cookie, X"));
        r.set_cache_control(&cc);
        assert_eq!(
            r.header("cache-control"),
            Some("max-age=3600, no-cache=\"Set-Cookie, X\", public")
        );
        assert_eq!(r.cache_control().max_age(), Some(3600));
        r.cache_expires(0);
        let cc = r.cache_control();
        assert!(cc.has("no-store") && cc.has("must-revalidate"));
        assert_eq!(r.header("pragma"), Some("no-cache"));
        r.set_etag("abc", true);
        assert_eq!(r.header("etag"), Some("W/\"abc\""));
        assert_eq!(r.etag().as_deref(), Some("abc"));
        assert_eq!(r.etag_strong(), None);
        r.set_etag("\"q\"", false);
        assert_eq!(r.etag_strong().as_deref(), Some("q"));
        assert_eq!(etag_matcher("\"a\", W/\"b\" \"c\"", false), vec!["a", "b", "c"]);
        assert_eq!(etag_matcher("\"a\", W/\"b\"", true), vec!["a"]);
        assert_eq!(etag_matcher("bare", true), vec!["bare"]);
    }

    #[test]
    fn errors_as_responses() {
        let r: Response = crate::webob::exc::HTTPNotFound().into();
        let (status, headers, body) = serve(r, "GET", "/x", &[("Accept", "application/json")]);
        assert_eq!(status, "404 Not Found");
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
        assert!(body.starts_with(b"{\"message\": "));
        // Headers added after the conversion are kept; a body set meanwhile wins.
        let mut r: Response = crate::webob::exc::HTTPForbidden().into();
        r.set_cookie(&SetCookie::new("k", "v")).unwrap();
        let (_, headers, _) = serve(r, "GET", "/", &[]);
        assert_eq!(header(&headers, "set-cookie"), Some("k=v; Path=/"));
        let mut r: Response = crate::webob::exc::HTTPForbidden().into();
        r.set_body("custom");
        let (status, _, body) = serve(r, "GET", "/", &[]);
        assert_eq!((status.as_str(), body.as_slice()), ("403 Forbidden", &b"custom"[..]));
    }
}
