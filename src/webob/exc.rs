//! `webob.exc`: HTTP errors (and the other statuses WebOb models the same way) as values
//! that are responses.
//!
//! In Python `raise exc.HTTPNotFound()` unwinds to `wsgify`, which serves the exception as a
//! response. Here the exception is a value, [`HTTPError`], that a handler returns
//! (`Err(exc::HTTPNotFound())`, or `?` on anything that yields one); [`wsgify`] serves it, a
//! `Response` can be made from it, and it is an [`Application`] itself (mount
//! `exc::HTTPNotFound()` as a fallback app, as WebOb allows).
//!
//! The body is WebOb's, to the byte: chosen by the request's `Accept` among `text/html`
//! and `application/json` (WebOb's `acceptable_offers`, so no Accept header, or one
//! accepting neither, gets `text/plain`), filled from the class's templates with its title,
//! explanation, detail and comment, and for the classes whose template names environ keys
//! (`${REQUEST_METHOD}` in 405 and 501, `${CONTENT_TYPE}` in 415, `${HTTP_ACCEPT}` in 406,
//! `${location}` in redirects), from the environ and the headers. A HEAD request gets the
//! head alone.
//!
//! The constructors are named as WebOb's classes are (`HTTPNotFound()`), so a port reads as
//! the Python did.
//!
//! [`wsgify`]: super::wsgify
//! [`Application`]: crate::wsgi::Application

#![allow(non_snake_case)]

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use super::accept::Accept;
use super::response::Response;
use super::util::{html_escape, push_json_str, template_substitute, url_quote, urljoin, PATH_SAFE};
use crate::wsgi::{Application, Body, Environ, StartResponse};

/// WebOb's default `body_template_obj`.
const DEFAULT_TEMPLATE: &str = "${explanation}<br /><br />\n${detail}\n${html_comment}\n";

/// `_HTTPMove.body_template_obj`.
const MOVE_TEMPLATE: &str = "${explanation} <a href=\"${location}\">${location}</a>;\nyou should be redirected automatically.\n${detail}\n${html_comment}";

const PLAIN_TEMPLATE: &str = "${status}\n\n${body}";

const HTML_TEMPLATE: &str = "<html>\n <head>\n  <title>${status}</title>\n </head>\n <body>\n  <h1>${status}</h1>\n  ${body}\n </body>\n</html>";

/// A JSON formatter: `(body, status, title, environ)` to the JSON text of the body (WebOb's
/// `json_formatter`, which returns a dict for `json.dumps`).
pub type JsonFormatter = Arc<dyn Fn(&str, &str, &str, &Environ) -> String + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    /// 204, 205, 304: no body, no Content-Type (`empty_body = True`).
    EmptyBody,
    /// 300, 301, 302, 303, 305, 307, 308 (`_HTTPMove`): a Location made absolute.
    Move,
}

/// An HTTP status as a value that is also a response: WebOb's `WSGIHTTPException` (whose
/// subclasses are `HTTPError` for 4xx/5xx, `HTTPRedirection`, `HTTPOk`). Make one with the
/// function named after the WebOb class, then add to it:
///
/// ```
/// use may_wsgi::webob::exc;
/// let e = exc::HTTPNotFound().with_detail("No image found with ID 42");
/// assert_eq!(e.code, 404);
/// assert_eq!(e.to_string(), "No image found with ID 42");
/// let e = exc::HTTPMethodNotAllowed().with_allow(&["GET", "HEAD"]);
/// assert_eq!(e.header("allow"), Some("GET, HEAD"));
/// ```
#[derive(Clone)]
pub struct HTTPError {
    /// The status code.
    pub code: u16,
    /// The rest, boxed: an `HTTPError` travels in `Result`s, which should stay small.
    d: Box<Details>,
}

#[derive(Clone)]
struct Details {
    title: Cow<'static, str>,
    explanation: Cow<'static, str>,
    detail: Option<String>,
    comment: Option<String>,
    headers: Vec<(String, String)>,
    body_template: Option<Cow<'static, str>>,
    kind: Kind,
    add_slash: bool,
    json_formatter: Option<JsonFormatter>,
}

impl fmt::Debug for HTTPError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HTTPError")
            .field("code", &self.code)
            .field("title", &self.d.title)
            .field("detail", &self.d.detail)
            .field("headers", &self.d.headers)
            .finish()
    }
}

/// `str(exc)`: the detail, or the explanation.
impl fmt::Display for HTTPError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.d.detail {
            Some(d) if !d.is_empty() => f.write_str(d),
            _ => f.write_str(&self.d.explanation),
        }
    }
}

impl std::error::Error for HTTPError {}

fn class(
    code: u16,
    title: &'static str,
    explanation: &'static str,
    kind: Kind,
    template: Option<&'static str>,
) -> HTTPError {
    HTTPError {
        code,
        d: Box::new(Details {
            title: Cow::Borrowed(title),
            explanation: Cow::Borrowed(explanation),
            detail: None,
            comment: None,
            headers: Vec::new(),
            body_template: template.map(Cow::Borrowed),
            kind,
            add_slash: false,
            json_formatter: None,
        }),
    }
}

macro_rules! classes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $title:literal, $expl:literal, $kind:ident, $tmpl:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name() -> HTTPError {
                class($code, $title, $expl, Kind::$kind, $tmpl)
            }
        )*

        /// WebOb's `status_map[code]()`: the class of a status code, when WebOb has one.
        pub fn status_map(code: u16) -> Option<HTTPError> {
            match code {
                $($code => Some($name()),)*
                _ => None,
            }
        }
    };
}

// The explanations are as WebOb serves them: its module joins each one's words with single
// spaces when it loads.
classes! {
    /// 200.
    HTTPOk = 200, "OK", "", Normal, None;
    /// 201.
    HTTPCreated = 201, "Created", "", Normal, None;
    /// 202.
    HTTPAccepted = 202, "Accepted", "The request is accepted for processing.", Normal, None;
    /// 203.
    HTTPNonAuthoritativeInformation = 203, "Non-Authoritative Information", "", Normal, None;
    /// 204: no body.
    HTTPNoContent = 204, "No Content", "", EmptyBody, None;
    /// 205: no body.
    HTTPResetContent = 205, "Reset Content", "", EmptyBody, None;
    /// 206.
    HTTPPartialContent = 206, "Partial Content", "", Normal, None;
    /// 300, with a location.
    HTTPMultipleChoices = 300, "Multiple Choices", "The resource has been moved to", Move, Some(MOVE_TEMPLATE);
    /// 301, with a location.
    HTTPMovedPermanently = 301, "Moved Permanently", "The resource has been moved to", Move, Some(MOVE_TEMPLATE);
    /// 302, with a location.
    HTTPFound = 302, "Found", "The resource was found at", Move, Some(MOVE_TEMPLATE);
    /// 303, with a location.
    HTTPSeeOther = 303, "See Other", "The resource has been moved to", Move, Some(MOVE_TEMPLATE);
    /// 304: no body.
    HTTPNotModified = 304, "Not Modified", "", EmptyBody, None;
    /// 305, with a location.
    HTTPUseProxy = 305, "Use Proxy", "The resource must be accessed through a proxy located at", Move, Some(MOVE_TEMPLATE);
    /// 307, with a location.
    HTTPTemporaryRedirect = 307, "Temporary Redirect", "The resource has been moved to", Move, Some(MOVE_TEMPLATE);
    /// 308, with a location.
    HTTPPermanentRedirect = 308, "Permanent Redirect", "The resource has been moved to", Move, Some(MOVE_TEMPLATE);
    /// 400 (also WebOb's `HTTPClientError`).
    HTTPBadRequest = 400, "Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect.", Normal, None;
    /// 401.
    HTTPUnauthorized = 401, "Unauthorized", "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.", Normal, None;
    /// 402.
    HTTPPaymentRequired = 402, "Payment Required", "Access was denied for financial reasons.", Normal, None;
    /// 403.
    HTTPForbidden = 403, "Forbidden", "Access was denied to this resource.", Normal, None;
    /// 404.
    HTTPNotFound = 404, "Not Found", "The resource could not be found.", Normal, None;
    /// 405: its body names the request method; send `Allow` with [`HTTPError::with_allow`].
    HTTPMethodNotAllowed = 405, "Method Not Allowed", "The server could not comply with the request since it is either malformed or otherwise incorrect.", Normal,
        Some("The method ${REQUEST_METHOD} is not allowed for this resource. <br /><br />\n${detail}");
    /// 406: its body names the Accept header.
    HTTPNotAcceptable = 406, "Not Acceptable", "The server could not comply with the request since it is either malformed or otherwise incorrect.", Normal,
        Some("The resource could not be generated that was acceptable to your browser\n(content of type ${HTTP_ACCEPT}. <br /><br />\n${detail}");
    /// 407.
    HTTPProxyAuthenticationRequired = 407, "Proxy Authentication Required", "Authentication with a local proxy is needed.", Normal, None;
    /// 408.
    HTTPRequestTimeout = 408, "Request Timeout", "The server has waited too long for the request to be sent by the client.", Normal, None;
    /// 409.
    HTTPConflict = 409, "Conflict", "There was a conflict when trying to complete your request.", Normal, None;
    /// 410.
    HTTPGone = 410, "Gone", "This resource is no longer available. No forwarding address is given.", Normal, None;
    /// 411.
    HTTPLengthRequired = 411, "Length Required", "Content-Length header required.", Normal, None;
    /// 412.
    HTTPPreconditionFailed = 412, "Precondition Failed", "Request precondition failed.", Normal, None;
    /// 413.
    HTTPRequestEntityTooLarge = 413, "Request Entity Too Large", "The body of your request was too large for this server.", Normal, None;
    /// 414.
    HTTPRequestURITooLong = 414, "Request-URI Too Long", "The request URI was too long for this server.", Normal, None;
    /// 415: its body names the request's Content-Type.
    HTTPUnsupportedMediaType = 415, "Unsupported Media Type", "The server could not comply with the request since it is either malformed or otherwise incorrect.", Normal,
        Some("The request media type ${CONTENT_TYPE} is not supported by this server.\n<br /><br />\n${detail}");
    /// 416.
    HTTPRequestRangeNotSatisfiable = 416, "Request Range Not Satisfiable", "The Range requested is not available.", Normal, None;
    /// 417.
    HTTPExpectationFailed = 417, "Expectation Failed", "Expectation failed.", Normal, None;
    /// 422.
    HTTPUnprocessableEntity = 422, "Unprocessable Entity", "Unable to process the contained instructions", Normal, None;
    /// 423.
    HTTPLocked = 423, "Locked", "The resource is locked", Normal, None;
    /// 424.
    HTTPFailedDependency = 424, "Failed Dependency", "The method could not be performed because the requested action dependended on another action and that action failed", Normal, None;
    /// 428.
    HTTPPreconditionRequired = 428, "Precondition Required", "This request is required to be conditional", Normal, None;
    /// 429.
    HTTPTooManyRequests = 429, "Too Many Requests", "The client has sent too many requests in a given amount of time", Normal, None;
    /// 431.
    HTTPRequestHeaderFieldsTooLarge = 431, "Request Header Fields Too Large", "The request header fields were too large", Normal, None;
    /// 451.
    HTTPUnavailableForLegalReasons = 451, "Unavailable For Legal Reasons", "The resource is not available due to legal reasons.", Normal, None;
    /// 500 (also WebOb's `HTTPServerError`).
    HTTPInternalServerError = 500, "Internal Server Error", "The server has either erred or is incapable of performing the requested operation.", Normal, None;
    /// 501: its body names the request method.
    HTTPNotImplemented = 501, "Not Implemented", "The server has either erred or is incapable of performing the requested operation.", Normal,
        Some("\nThe request method ${REQUEST_METHOD} is not implemented for this server. <br /><br />\n${detail}");
    /// 502.
    HTTPBadGateway = 502, "Bad Gateway", "Bad gateway.", Normal, None;
    /// 503.
    HTTPServiceUnavailable = 503, "Service Unavailable", "The server is currently unavailable. Please try again at a later time.", Normal, None;
    /// 504.
    HTTPGatewayTimeout = 504, "Gateway Timeout", "The gateway has timed out.", Normal, None;
    /// 505.
    HTTPVersionNotSupported = 505, "HTTP Version Not Supported", "The HTTP version is not supported.", Normal, None;
    /// 507.
    HTTPInsufficientStorage = 507, "Insufficient Storage", "There was not enough space to save the resource", Normal, None;
    /// 511.
    HTTPNetworkAuthenticationRequired = 511, "Network Authentication Required", "Network authentication is required", Normal, None;
}

/// WebOb's `HTTPClientError` base class: a 400.
pub fn HTTPClientError() -> HTTPError {
    HTTPBadRequest()
}

/// WebOb's `HTTPServerError` base class: a 500.
pub fn HTTPServerError() -> HTTPError {
    HTTPInternalServerError()
}

impl HTTPError {
    /// The class of `code` (see [`status_map`]), or for a code WebOb has no class for, an
    /// error with the generic title of its hundred.
    pub fn new(code: u16) -> HTTPError {
        status_map(code).unwrap_or_else(|| {
            let kind = if (300..400).contains(&code) {
                Kind::Move
            } else {
                Kind::Normal
            };
            let template = (kind == Kind::Move).then_some(MOVE_TEMPLATE);
            class(code, super::util::status_reason(code), "", kind, template)
        })
    }

    /// `detail=`: text for this occurrence, shown under the explanation.
    pub fn with_detail(mut self, detail: impl Into<String>) -> HTTPError {
        self.d.detail = Some(detail.into());
        self
    }

    /// `explanation=`: text in place of the class's stock sentence (Glance raises most of
    /// its errors as `HTTPNotFound(explanation=msg)`, and the body then shows `msg` alone).
    pub fn with_explanation(mut self, explanation: impl Into<String>) -> HTTPError {
        self.d.explanation = Cow::Owned(explanation.into());
        self
    }

    /// `comment=`: an HTML comment in the HTML body, plain text in the others.
    pub fn with_comment(mut self, comment: impl Into<String>) -> HTTPError {
        self.d.comment = Some(comment.into());
        self
    }

    /// Adds a header (`headers=[...]`).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> HTTPError {
        self.d.headers.push((name.into(), value.into()));
        self
    }

    /// The `Allow` header a 405 should carry: the methods, joined by `, `.
    pub fn with_allow(self, methods: &[&str]) -> HTTPError {
        let allow = methods.join(", ");
        self.with_header("Allow", allow)
    }

    /// `location=`: where a redirect points; a relative one is resolved against the
    /// request's `path_url` when served. Control characters are refused, as WebOb refuses
    /// them (they are dropped here).
    pub fn with_location(mut self, location: impl Into<String>) -> HTTPError {
        let location: String = location.into().chars().filter(|c| *c != '\r' && *c != '\n').collect();
        self.d.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("location"));
        self.d.headers.push(("Location".to_owned(), location));
        self
    }

    /// `add_slash=True`: redirect to the request's own URL with a `/` added.
    pub fn with_add_slash(mut self) -> HTTPError {
        self.d.add_slash = true;
        self
    }

    /// `body_template=`: a `string.Template` for the body (HTML) in place of the class's;
    /// it may name `${explanation}`, `${detail}`, `${comment}`, `${html_comment}`, any
    /// environ key and any header (lower case).
    pub fn with_body_template(mut self, template: impl Into<String>) -> HTTPError {
        self.d.body_template = Some(Cow::Owned(template.into()));
        self
    }

    /// `json_formatter=`: builds the JSON body from `(body, status, title, environ)`.
    pub fn with_json_formatter(
        mut self,
        f: impl Fn(&str, &str, &str, &Environ) -> String + Send + Sync + 'static,
    ) -> HTTPError {
        self.d.json_formatter = Some(Arc::new(f));
        self
    }

    /// The reason phrase (`title` in WebOb).
    pub fn title(&self) -> &str {
        &self.d.title
    }

    /// The class's default text (`explanation`), not subject to substitution.
    pub fn explanation(&self) -> &str {
        &self.d.explanation
    }

    /// The text for this occurrence (`detail`).
    pub fn detail(&self) -> Option<&str> {
        self.d.detail.as_deref()
    }

    /// The comment (`comment`): an HTML comment in the HTML body, plain text elsewhere.
    pub fn comment(&self) -> Option<&str> {
        self.d.comment.as_deref()
    }

    /// The headers sent with it (`headers`).
    pub fn headers(&self) -> &[(String, String)] {
        &self.d.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut Vec<(String, String)> {
        &mut self.d.headers
    }

    /// The status line text: `404 Not Found`.
    pub fn status(&self) -> String {
        format!("{} {}", self.code, self.d.title)
    }

    /// The first header of that name, any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.d
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for the statuses that have no body (204, 205, 304).
    pub fn is_empty_body(&self) -> bool {
        self.d.kind == Kind::EmptyBody
    }

    /// `_make_body`: the template filled, each value passed through `escape`.
    fn make_body(&self, environ: &Environ, escape: fn(&str) -> String) -> String {
        let template = self.d.body_template.as_deref().unwrap_or(DEFAULT_TEMPLATE);
        let custom = self.d.body_template.is_some();
        let lookup = |name: &str| -> Option<String> {
            if custom {
                if let Some((_, v)) = self
                    .d
                    .headers
                    .iter()
                    .rev()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name) && n.to_ascii_lowercase() == name)
                {
                    return Some(escape(v));
                }
                if let Some(v) = environ.get(name) {
                    return Some(escape(v));
                }
            }
            match name {
                "explanation" => Some(escape(&self.d.explanation)),
                "detail" => Some(escape(self.d.detail.as_deref().unwrap_or(""))),
                "comment" => Some(escape(self.d.comment.as_deref().unwrap_or(""))),
                "html_comment" => Some(match self.d.comment.as_deref() {
                    Some(c) if !c.is_empty() => format!("<!-- {} -->", escape(c)),
                    _ => String::new(),
                }),
                _ => None,
            }
        };
        template_substitute(template, &lookup)
    }

    /// The `text/plain` body WebOb sends (`plain_body`).
    pub fn plain_body(&self, environ: &Environ) -> String {
        let body = strip_tags(&self.make_body(environ, |s| s.to_owned()));
        let status = self.status();
        template_substitute(PLAIN_TEMPLATE, &|name| match name {
            "status" => Some(status.clone()),
            "body" => Some(body.clone()),
            _ => None,
        })
    }

    /// The `text/html` body WebOb sends (`html_body`).
    pub fn html_body(&self, environ: &Environ) -> String {
        let body = self.make_body(environ, html_escape);
        let status = self.status();
        template_substitute(HTML_TEMPLATE, &|name| match name {
            "status" => Some(status.clone()),
            "body" => Some(body.clone()),
            _ => None,
        })
    }

    /// The `application/json` body WebOb sends (`json_body`): by default
    /// `{"message": body, "code": "404 Not Found", "title": "Not Found"}`, written as
    /// Python's `json.dumps` writes it.
    pub fn json_body(&self, environ: &Environ) -> String {
        let body = self.make_body(environ, |s| s.to_owned());
        let status = self.status();
        if let Some(f) = &self.d.json_formatter {
            return f(&body, &status, &self.d.title, environ);
        }
        let mut out = String::from("{\"message\": ");
        push_json_str(&mut out, &body);
        out.push_str(", \"code\": ");
        push_json_str(&mut out, &status);
        out.push_str(", \"title\": ");
        push_json_str(&mut out, &self.d.title);
        out.push('}');
        out
    }

    /// The redirect's Location for this request (`_HTTPMove.__call__`).
    fn resolve_location(&mut self, environ: &Environ) {
        if self.d.kind != Kind::Move {
            return;
        }
        let path_url = path_url(environ);
        let mut location = self.header("location").map(str::to_owned);
        if self.d.add_slash {
            let mut url = format!("{path_url}/");
            if let Some(qs) = environ.get("QUERY_STRING").filter(|q| !q.is_empty()) {
                url.push('?');
                url.push_str(qs);
            }
            location = Some(url);
        }
        if let Some(location) = location {
            let absolute = urljoin(&path_url, &location);
            self.d.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("location"));
            self.d.headers.push(("Location".to_owned(), absolute));
        }
    }

    /// The response this error is for `environ`'s request: WebOb's `__call__` and
    /// `generate_response`. `extra` are headers the response already carried.
    pub(crate) fn response_for(mut self, environ: &Environ) -> Response {
        self.resolve_location(environ);
        let status = self.status();
        let is_head = environ.get("REQUEST_METHOD") == Some("HEAD");
        let mut headers: Vec<(String, String)> = Vec::new();
        if self.d.kind == Kind::EmptyBody || is_head {
            if self.d.kind != Kind::EmptyBody {
                headers.push(("Content-Type".into(), "text/html; charset=UTF-8".into()));
                headers.push(("Content-Length".into(), "0".into()));
            }
            headers.extend(self.d.headers.iter().cloned());
            return Response::from_parts(status, headers, Body::Empty);
        }
        let accept = environ.get("HTTP_ACCEPT").unwrap_or("");
        let offers = Accept::parse(Some(accept)).acceptable_offers(&["text/html", "application/json"]);
        let (content_type, body) = match offers.first().map(|(o, _)| *o) {
            Some("text/html") => ("text/html; charset=UTF-8", self.html_body(environ)),
            Some("application/json") => ("application/json", self.json_body(environ)),
            _ => ("text/plain; charset=UTF-8", self.plain_body(environ)),
        };
        headers.extend(
            self.d
                .headers
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("content-type"))
                .cloned(),
        );
        headers.push(("Content-Length".into(), body.len().to_string()));
        headers.push(("Content-Type".into(), content_type.into()));
        Response::from_parts(status, headers, Body::from(body))
    }

    /// Starts this error's response to `environ`'s request and returns its body: what
    /// serving it as an application does, for a caller that holds the environ shared
    /// (the routes module's error answers).
    pub fn respond(self, environ: &Environ, start_response: &mut StartResponse) -> Body {
        let (status, headers, body) = self.response_for(environ).into_parts();
        let headers: Vec<(&str, &str)> = headers.iter().collect();
        start_response.call(&status, headers);
        body
    }

    /// The headers WebOb's exception response starts with (before its body is chosen).
    pub(crate) fn initial_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if self.d.kind != Kind::EmptyBody {
            headers.push(("Content-Type".into(), "text/html; charset=UTF-8".into()));
            headers.push(("Content-Length".into(), "0".into()));
        }
        headers.extend(self.d.headers.iter().cloned());
        headers
    }
}

/// `req.path_url` from an environ (the error bodies need it without a `Request`).
fn path_url(environ: &Environ) -> String {
    let script = super::util::latin1_bytes(environ.get_or("SCRIPT_NAME", ""));
    let path = super::util::latin1_bytes(environ.get_or("PATH_INFO", ""));
    format!(
        "{}{}{}",
        super::request::host_url_of(environ),
        url_quote(&script, PATH_SAFE),
        url_quote(&path, PATH_SAFE)
    )
}

/// `strip_tags`: newlines to spaces, `<br ...>` to newlines, comments markers and other
/// tags removed.
fn strip_tags(value: &str) -> String {
    let value = value.replace('\n', " ").replace('\r', "");
    let mut out = String::with_capacity(value.len());
    let bytes = value.as_bytes();
    let mut i = 0;
    let mut copied = 0;
    // `<br.*?>` (any case) becomes a newline.
    while i < bytes.len() {
        if bytes[i] == b'<' && bytes.len() >= i + 3 && bytes[i + 1..i + 3].eq_ignore_ascii_case(b"br") {
            if let Some(close) = value[i..].find('>') {
                out.push_str(&value[copied..i]);
                out.push('\n');
                i += close + 1;
                copied = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&value[copied..]);
    let out = out.replace("<!--", "").replace("-->", "");
    // `<.*?>` removed.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(open) = rest.find('<') {
        match rest[open..].find('>') {
            Some(close) => {
                result.push_str(&rest[..open]);
                rest = &rest[open + close + 1..];
            }
            None => break,
        }
    }
    result.push_str(rest);
    result
}

/// A cookie that cannot be written (`resp.set_cookie(...)?` in a handler) is the
/// programmer's error, which WebOb raises as a `ValueError`: a 500 naming it.
impl From<super::cookies::CookieError> for HTTPError {
    fn from(e: super::cookies::CookieError) -> HTTPError {
        HTTPInternalServerError().with_detail(e.to_string())
    }
}

/// An `HTTPError` serves itself, as a WebOb exception is a WSGI app.
impl Application for HTTPError {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        self.clone().response_for(environ).call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsgi::Input;

    fn environ(method: &str, target: &str, headers: &[(&str, &str)]) -> Environ {
        let mut all = vec![("Host", "localhost:8080")];
        all.extend_from_slice(headers);
        Environ::for_request(method, target, &all, Input::empty())
    }

    fn rendered(e: HTTPError, env: &Environ) -> (String, Vec<(String, String)>, String) {
        let mut resp = e.response_for(env);
        let body = String::from_utf8(resp.body().unwrap().to_vec()).unwrap();
        (resp.status().to_owned(), resp.headers().as_slice().to_vec(), body)
    }

    #[test]
    fn explanation_replaces_the_stock_sentence() {
        // Glance: `raise webob.exc.HTTPNotFound(explanation=msg)`.
        let e = HTTPNotFound().with_explanation("No image found with ID 7");
        let (_, _, body) = rendered(e.clone(), &environ("GET", "/x", &[]));
        assert_eq!(body, "404 Not Found\n\nNo image found with ID 7\n\n   ");
        let (_, _, body) = rendered(e, &environ("GET", "/x", &[("Accept", "application/json")]));
        assert_eq!(
            body,
            r#"{"message": "No image found with ID 7<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}"#
        );
        // With a detail too, as Glance's 409s: the sentence, then the detail.
        let e = HTTPConflict().with_detail("Property nope does not exist.");
        let (_, _, body) = rendered(e, &environ("PATCH", "/x", &[]));
        assert_eq!(
            body,
            "409 Conflict\n\nThere was a conflict when trying to complete your request.\n\n Property nope does not exist.  "
        );
    }

    #[test]
    fn not_found_bodies_are_webobs() {
        let plain = environ("GET", "/x", &[]);
        let (status, headers, body) = rendered(HTTPNotFound(), &plain);
        assert_eq!(status, "404 Not Found");
        assert_eq!(body, "404 Not Found\n\nThe resource could not be found.\n\n   ");
        assert!(headers.contains(&("Content-Type".into(), "text/plain; charset=UTF-8".into())));
        assert!(headers.contains(&("Content-Length".into(), body.len().to_string())));

        let html = environ("GET", "/x", &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")]);
        let (_, headers, body) = rendered(HTTPNotFound(), &html);
        assert_eq!(
            body,
            "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  <h1>404 Not Found</h1>\n  The resource could not be found.<br /><br />\n\n\n\n </body>\n</html>"
        );
        assert!(headers.contains(&("Content-Type".into(), "text/html; charset=UTF-8".into())));

        let json = environ("GET", "/x", &[("Accept", "application/json")]);
        let (_, headers, body) = rendered(HTTPNotFound().with_detail("No image \"42\""), &json);
        assert_eq!(
            body,
            r#"{"message": "The resource could not be found.<br /><br />\nNo image \"42\"\n\n", "code": "404 Not Found", "title": "Not Found"}"#
        );
        assert!(headers.contains(&("Content-Type".into(), "application/json".into())));
        // `*/*` prefers the first offer: HTML, as WebOb does.
        let any = environ("GET", "/x", &[("Accept", "*/*")]);
        assert!(rendered(HTTPNotFound(), &any).2.starts_with("<html>"));
    }

    #[test]
    fn detail_and_comment() {
        let env = environ("GET", "/", &[]);
        let e = HTTPBadRequest().with_detail("Bad <thing> & co").with_comment("from db");
        assert_eq!(
            e.plain_body(&env),
            "400 Bad Request\n\nThe server could not comply with the request since it is either malformed or otherwise incorrect.\n\n Bad  & co  from db  "
        );
        let html = e.html_body(&env);
        assert!(
            html.contains("incorrect.<br /><br />\nBad &lt;thing&gt; &amp; co\n<!-- from db -->\n"),
            "{html}"
        );
    }

    #[test]
    fn templates_with_environ_keys() {
        let env = environ("DELETE", "/images", &[]);
        let e = HTTPMethodNotAllowed().with_allow(&["GET", "HEAD"]);
        let (status, headers, body) = rendered(e, &env);
        assert_eq!(status, "405 Method Not Allowed");
        assert_eq!(
            body,
            "405 Method Not Allowed\n\nThe method DELETE is not allowed for this resource. \n\n "
        );
        assert!(headers.contains(&("Allow".into(), "GET, HEAD".into())));

        let env = environ("PUT", "/", &[("Content-Type", "text/csv")]);
        assert_eq!(
            HTTPUnsupportedMediaType().plain_body(&env),
            "415 Unsupported Media Type\n\nThe request media type text/csv is not supported by this server. \n\n "
        );
        // A key the environ lacks stays as written, as safe_substitute leaves it.
        let env = environ("PUT", "/", &[]);
        assert!(HTTPUnsupportedMediaType().plain_body(&env).contains("${CONTENT_TYPE}"));
        assert_eq!(
            HTTPNotImplemented().plain_body(&env),
            "501 Not Implemented\n\n The request method PUT is not implemented for this server. \n\n "
        );
    }

    #[test]
    fn redirects_resolve_their_location() {
        let env = environ("GET", "/a/b?x=1", &[]);
        let (status, headers, body) = rendered(HTTPFound().with_location("c"), &env);
        assert_eq!(status, "302 Found");
        assert!(headers.contains(&("Location".into(), "http://localhost:8080/a/c".into())));
        assert_eq!(
            body,
            "302 Found\n\nThe resource was found at http://localhost:8080/a/c; you should be redirected automatically.  "
        );
        let (_, headers, _) = rendered(HTTPMovedPermanently().with_add_slash(), &env);
        assert!(headers.contains(&("Location".into(), "http://localhost:8080/a/b/?x=1".into())));
        let html =
            HTTPSeeOther()
                .with_location("/z?a=1&b=2")
                .response_for(&environ("GET", "/", &[("Accept", "text/html")]));
        let mut html = html;
        let text = String::from_utf8(html.body().unwrap().to_vec()).unwrap();
        assert!(
            text.contains("<a href=\"http://localhost:8080/z?a=1&amp;b=2\">"),
            "{text}"
        );
    }

    #[test]
    fn empty_bodies_and_head() {
        let env = environ("GET", "/", &[]);
        let (status, headers, body) = rendered(HTTPNoContent(), &env);
        assert_eq!(
            (status.as_str(), headers.len(), body.as_str()),
            ("204 No Content", 0, "")
        );
        let head = environ("HEAD", "/", &[]);
        let (_, headers, body) = rendered(HTTPNotFound(), &head);
        assert_eq!(body, "");
        assert!(headers.contains(&("Content-Length".into(), "0".into())));
    }

    #[test]
    fn json_formatter_and_status_map() {
        let env = environ("GET", "/", &[("Accept", "application/json")]);
        let e = HTTPConflict().with_json_formatter(|body, status, title, environ| {
            format!(
                "{{\"error\": \"{title}\", \"status\": \"{status}\", \"len\": {}, \"m\": \"{}\"}}",
                body.len(),
                environ.get_or("REQUEST_METHOD", "")
            )
        });
        assert_eq!(
            e.json_body(&env),
            "{\"error\": \"Conflict\", \"status\": \"409 Conflict\", \"len\": 73, \"m\": \"GET\"}"
        );
        assert_eq!(status_map(416).unwrap().title(), "Request Range Not Satisfiable");
        assert!(status_map(299).is_none());
        assert_eq!(HTTPError::new(499).status(), "499 Unknown Client Error");
        assert_eq!(HTTPUnauthorized().to_string(), HTTPUnauthorized().explanation());
    }

    #[test]
    fn strip_tags_like_webob() {
        assert_eq!(strip_tags("a<br />b<BR>c\n<!-- x --><b>d</b>\r"), "a\nb\nc  x d");
    }

    #[test]
    fn explanation_replaces_the_class_s() {
        let env = environ("GET", "/", &[]);
        let e = HTTPBadRequest().with_explanation("Malformed JSON in request body.");
        assert_eq!(e.to_string(), "Malformed JSON in request body.");
        assert_eq!(
            e.plain_body(&env),
            "400 Bad Request\n\nMalformed JSON in request body.\n\n   "
        );
    }

    #[test]
    fn a_cookie_error_is_a_500_naming_it() {
        let e = HTTPError::from(crate::webob::SetCookie::new("bad name", "x").to_header().unwrap_err());
        assert_eq!((e.code, e.detail()), (500, Some("invalid cookie name \"bad name\"")));
    }
}
