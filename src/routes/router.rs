//! Glance's routing layer on top of Routes (`glance.common.wsgi.Router`), and the one place
//! its error answers are made.
//!
//! [`Router`] holds a [`Mapper`], runs it through [`RoutesMiddleware`] and calls the
//! `controller` application of the route that matched (a [`Resource`](super::Resource),
//! usually). When none matched it answers as Glance does: 501 for a method the server does
//! not implement, else 404; and, before the 404, 405 with an `Allow` header when the path
//! matches routes of other methods (Glance writes a `RejectMethodController` route for
//! that after each group of routes; this does it for the paths that have none).
//!
//! [`Fault`] is what a controller, a deserializer or the router raises instead of a
//! response (webob's `HTTPException`s), and [`error_response`] answers with one: webob's
//! body (`webob.exc`), plain text, HTML or JSON as the request's Accept asks.
//! It hands on to the controllers the request with `wsgiorg.routing_args` set.

use std::fmt;
use std::sync::Arc;

use super::mapper::Mapper;
use super::middleware::{RoutesMiddleware, RoutingArgs};
use crate::webob::HTTPError;
use crate::wsgi::{Application, Body, Environ, StartResponse};

/// The reason phrase of a status (webob's `status_reasons`, the common ones).
pub fn reason(code: u16) -> &'static str {
    match code {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        other => crate::http::response::reason(other),
    }
}

/// Answers with an HTTP error: status `code`, the extra `headers` (such as `Allow`), and
/// webob's body for it (`webob.exc`: plain text, HTML or JSON as the request's Accept
/// asks), its stock explanation followed by `detail`.
///
/// Every error of the router, the resources and URLMap comes through here or through
/// [`Fault::respond`], which is the same with an explanation of its own.
pub fn error_response(
    environ: &Environ,
    start_response: &mut StartResponse,
    code: u16,
    headers: &[(&str, &str)],
    detail: &str,
) -> Body {
    let mut fault = Fault::new(code, "").with_detail(detail);
    for (name, value) in headers {
        fault = fault.with_header(name, value);
    }
    fault.respond(environ, start_response)
}

/// An HTTP error raised instead of a response: webob's `HTTPException` (`HTTPBadRequest`,
/// `HTTPNotFound`, `HTTPMethodNotAllowed(headers=[('Allow', ...)])`, ...), as a value.
/// A webob [`HTTPError`] converts into one (`?` in a controller method), and it renders
/// as that `HTTPError` does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: u16,
    /// webob's `explanation=`: the text in place of the status's stock sentence (empty:
    /// the stock sentence), as Glance raises `HTTPNotFound(explanation=msg)`.
    pub explanation: String,
    /// webob's `detail=`: shown after the explanation (Glance's 409 and 415 use it).
    pub detail: String,
    pub headers: Vec<(String, String)>,
}

impl Fault {
    pub fn new(code: u16, explanation: impl Into<String>) -> Fault {
        Fault {
            code,
            explanation: explanation.into(),
            detail: String::new(),
            headers: Vec::new(),
        }
    }

    /// `webob.exc.HTTPBadRequest(explanation=...)`.
    pub fn bad_request(explanation: impl Into<String>) -> Fault {
        Fault::new(400, explanation)
    }

    /// `webob.exc.HTTPNotFound()`.
    pub fn not_found() -> Fault {
        Fault::new(404, "")
    }

    /// `webob.exc.HTTPMethodNotAllowed(headers=[('Allow', allowed_methods)])`.
    pub fn method_not_allowed(allowed_methods: &str) -> Fault {
        Fault::new(405, "").with_header("Allow", allowed_methods)
    }

    /// `webob.exc.HTTPInternalServerError()`.
    pub fn internal_server_error() -> Fault {
        Fault::new(500, "")
    }

    /// `webob.exc.HTTPNotImplemented()`.
    pub fn not_implemented() -> Fault {
        Fault::new(501, "")
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `detail=`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Fault {
        self.detail = detail.into();
        self
    }

    /// The webob error this stands for.
    pub fn to_http_error(&self) -> HTTPError {
        let mut error = HTTPError::new(self.code);
        if !self.explanation.is_empty() {
            error = error.with_explanation(self.explanation.clone());
        }
        if !self.detail.is_empty() {
            error = error.with_detail(self.detail.clone());
        }
        for (name, value) in &self.headers {
            error = error.with_header(name.clone(), value.clone());
        }
        error
    }

    /// The response for this error: webob's, chosen by the request's Accept.
    pub fn respond(&self, environ: &Environ, start_response: &mut StartResponse) -> Body {
        self.to_http_error().respond(environ, start_response)
    }
}

/// `raise webob.exc.HTTPConflict(explanation=...)` in a controller: `Err(exc::...)?`.
impl From<HTTPError> for Fault {
    fn from(error: HTTPError) -> Fault {
        let stock = HTTPError::new(error.code);
        Fault {
            code: error.code,
            explanation: if error.explanation() == stock.explanation() {
                String::new()
            } else {
                error.explanation().to_owned()
            },
            detail: error.detail().unwrap_or("").to_owned(),
            headers: error.headers().to_vec(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, reason(self.code))?;
        for text in [&self.explanation, &self.detail] {
            if !text.is_empty() {
                write!(f, ": {text}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Fault {}

/// Glance's `implemented_http_methods`: a request with another method that matches no
/// route is answered 501.
pub const IMPLEMENTED_HTTP_METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"];

/// Glance's `Router._dispatch`: called by the middleware after matching.
pub struct Dispatch {
    map: Arc<Mapper>,
    /// The methods this server implements (Glance's list by default).
    pub implemented_http_methods: Vec<String>,
    /// Answer 405 with `Allow` for a path that matches routes of other methods only
    /// (true by default); false answers 404 there, exactly as Glance without its
    /// `RejectMethodController` routes.
    pub reject_other_methods: bool,
}

impl Application for Dispatch {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let matched = environ
            .value::<RoutingArgs>("wsgiorg.routing_args")
            .map(|args| args.1.clone())
            .unwrap_or_default();
        if matched.is_empty() {
            let method = environ.get_or("REQUEST_METHOD", "");
            if !self.implemented_http_methods.iter().any(|m| m == method) {
                return Fault::not_implemented().respond(environ, start_response);
            }
            if self.reject_other_methods {
                let allowed = self.map.allowed_methods(environ.get_or("PATH_INFO", ""));
                if !allowed.is_empty() {
                    log::debug!("The method {method} is not allowed for this resource");
                    return Fault::method_not_allowed(&allowed.join(", ")).respond(environ, start_response);
                }
            }
            return Fault::not_found().respond(environ, start_response);
        }
        match matched.controller() {
            Some(app) => app.clone().call(environ, start_response),
            // Glance's `match['controller']` raises KeyError: the server's 500.
            None => {
                log::error!("route {:?} has no controller", matched.route().map(|r| &r.routepath));
                Fault::internal_server_error().respond(environ, start_response)
            }
        }
    }
}

/// `glance.common.wsgi.Router`: maps requests to the `controller` applications of a
/// [`Mapper`]'s routes.
///
/// ```
/// use may_wsgi::routes::{Mapper, Router};
/// # use may_wsgi::{Body, Environ, StartResponse};
/// # fn images_resource(_: &mut Environ, sr: &mut StartResponse) -> Body {
/// #     sr.call("200 OK", [("Content-Type", "text/plain")]); Body::Empty }
/// let mut mapper = Mapper::new();
/// mapper.connect(None, "/images").controller(images_resource).action("index").conditions(&["GET"]);
/// let app = Router::new(mapper); // an Application
/// ```
pub struct Router {
    /// Glance's `self.map`.
    pub map: Arc<Mapper>,
    /// Glance's `self._router`: the middleware around the dispatcher.
    _router: RoutesMiddleware<Dispatch>,
}

impl Router {
    /// `Router(mapper)`: adds Routes' `mapper.redirect("", "/")` (an app mounted at `/v2`
    /// answers `/v2` with a redirect to `/v2/`), as Glance does.
    pub fn new(mut mapper: Mapper) -> Router {
        mapper.redirect("", "/");
        let map = Arc::new(mapper);
        let dispatch = Dispatch {
            map: map.clone(),
            implemented_http_methods: IMPLEMENTED_HTTP_METHODS.iter().map(|m| (*m).to_owned()).collect(),
            reject_other_methods: true,
        };
        Router {
            _router: RoutesMiddleware::new(dispatch, map.clone()),
            map,
        }
    }

    /// The methods answered 501 when nothing matches are those not in `methods`.
    pub fn implemented_http_methods(mut self, methods: &[&str]) -> Router {
        self._router.app.implemented_http_methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// Whether a path that matches only other methods' routes is answered 405 (true) or
    /// 404 (false, Glance's own answer where it wrote no reject route).
    pub fn reject_other_methods(mut self, reject: bool) -> Router {
        self._router.app.reject_other_methods = reject;
        self
    }

    /// The middleware, to set Routes' `use_method_override` or `path_info`.
    pub fn middleware(&mut self) -> &mut RoutesMiddleware<Dispatch> {
        &mut self._router
    }
}

/// Glance's `Router.__call__` is a `webob.dec.wsgify`: its answer goes out as a webob
/// `Response`, which makes a relative `Location` (the `/v2` -> `/v2/` redirect's) absolute
/// from the request's URL, as clients of Glance see it.
impl Application for Router {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let body = self._router.call(environ, start_response);
        if !start_response.head_sent() {
            if let Some(location) = start_response.header("Location").map(str::to_owned) {
                if !has_scheme(&location) {
                    let absolute = crate::webob::Request::new(environ).relative_url(&location, false);
                    let _ = start_response.set_header("Location", &absolute);
                }
            }
        }
        body
    }
}

/// Whether a URL starts with `scheme:` (RFC 3986's scheme characters).
fn has_scheme(url: &str) -> bool {
    url.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::testing::{call, environ};

    fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let args = environ.value::<RoutingArgs>("wsgiorg.routing_args").unwrap();
        let mut items: Vec<String> = args
            .1
            .iter()
            .map(|(k, v)| format!("{k}={}", v.unwrap_or("None")))
            .collect();
        items.sort();
        let body = format!(
            "{} script={} path={}",
            items.join(","),
            environ.get_or("SCRIPT_NAME", ""),
            environ.get_or("PATH_INFO", "")
        );
        start_response.call("200 OK", [("Content-Type", "text/plain")]);
        Body::from(body)
    }

    fn router() -> Router {
        let mut mapper = Mapper::new();
        mapper
            .connect(None, "/images")
            .controller(echo)
            .action("index")
            .conditions(&["GET"]);
        mapper
            .connect(None, "/images")
            .controller(echo)
            .action("create")
            .conditions(&["POST"]);
        mapper
            .connect(None, "/images/{image_id}")
            .controller(echo)
            .action("update")
            .conditions(&["PATCH"]);
        mapper
            .connect(None, "/images/{image_id}")
            .controller(echo)
            .action("show")
            .conditions(&["GET"]);
        mapper
            .connect(None, "/images/{image_id}")
            .controller(echo)
            .action("delete")
            .conditions(&["DELETE"]);
        mapper.connect(None, "/nocontroller").action("x");
        Router::new(mapper)
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn dispatches_to_the_controller() {
        let r = router();
        let (status, _, body) = call(&r, environ("GET", "/images/abc", &[]));
        assert_eq!(status, "200 OK");
        assert_eq!(body, "action=show,image_id=abc script= path=/images/abc");
        let (_, _, body) = call(&r, environ("POST", "/images", &[]));
        assert!(body.starts_with("action=create "), "{body}");
    }

    #[test]
    fn misses_are_404_405_or_501() {
        let r = router();
        let (status, headers, body) = call(&r, environ("GET", "/nowhere", &[]));
        assert_eq!(status, "404 Not Found");
        assert_eq!(header(&headers, "Content-Type"), Some("text/plain; charset=UTF-8"));
        assert_eq!(body, "404 Not Found\n\nThe resource could not be found.\n\n   ");

        let (status, headers, body) = call(&r, environ("POST", "/images/abc", &[]));
        assert_eq!(status, "405 Method Not Allowed");
        assert_eq!(header(&headers, "Allow"), Some("PATCH, GET, DELETE"));
        assert!(
            body.contains("The method POST is not allowed for this resource."),
            "{body}"
        );
        let (status, headers, _) = call(&r, environ("HEAD", "/images", &[]));
        assert_eq!(status, "405 Method Not Allowed", "Routes does not map HEAD to GET");
        assert_eq!(header(&headers, "Allow"), Some("GET, POST"));

        // An unknown method is 501 whether or not the path is known.
        for path in ["/images/abc", "/nowhere"] {
            let (status, headers, body) = call(&r, environ("BREW", path, &[]));
            assert_eq!(status, "501 Not Implemented", "{path}");
            assert_eq!(header(&headers, "Allow"), None);
            assert!(body.contains("The request method BREW is not implemented"), "{body}");
        }
        // OPTIONS is not in Glance's list.
        let (status, _, _) = call(&r, environ("OPTIONS", "/images", &[]));
        assert_eq!(status, "501 Not Implemented");
        let r = router().implemented_http_methods(&["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
        let (status, headers, _) = call(&r, environ("OPTIONS", "/images", &[]));
        assert_eq!(status, "405 Method Not Allowed");
        assert_eq!(header(&headers, "Allow"), Some("GET, POST"));

        let r = router().reject_other_methods(false);
        let (status, _, _) = call(&r, environ("POST", "/images/abc", &[]));
        assert_eq!(status, "404 Not Found", "Glance's answer without a reject route");
    }

    #[test]
    fn an_empty_path_redirects_to_slash() {
        // Mounted at /v2 by URLMap, a request for /v2 has PATH_INFO "".
        let r = router();
        let mut e = environ("GET", "/", &[]);
        e.set("SCRIPT_NAME", "/v2");
        e.set("PATH_INFO", "");
        let (status, headers, _) = call(&r, e);
        assert_eq!(status, "302 Found");
        assert_eq!(
            header(&headers, "Location"),
            Some("http://h/v2/"),
            "made absolute, as webob does"
        );
    }

    #[test]
    fn a_route_without_controller_is_a_500() {
        let (status, _, _) = call(&router(), environ("GET", "/nocontroller", &[]));
        assert_eq!(status, "500 Internal Server Error");
    }

    #[test]
    fn faults_render_through_one_function() {
        let f = Fault::bad_request("A body is not expected with this request.");
        assert_eq!(
            f.to_string(),
            "400 Bad Request: A body is not expected with this request."
        );
        let e = environ("GET", "/", &[]);
        let mut sr = crate::routes::testing::start_response();
        let body = f.respond(&e, &mut sr);
        assert_eq!(sr.status(), "400 Bad Request");
        assert_eq!(
            crate::routes::testing::body_text(body),
            "400 Bad Request\n\nA body is not expected with this request.\n\n   "
        );
        // webob's bodies, chosen by Accept; a detail follows the stock sentence.
        let e = environ("GET", "/", &[("Accept", "application/json")]);
        let mut sr = crate::routes::testing::start_response();
        let f = Fault::new(409, "").with_detail("Property nope does not exist.");
        let body = crate::routes::testing::body_text(f.respond(&e, &mut sr));
        assert_eq!(sr.status(), "409 Conflict");
        assert_eq!(
            body,
            r#"{"message": "There was a conflict when trying to complete your request.<br /><br />\nProperty nope does not exist.\n\n", "code": "409 Conflict", "title": "Conflict"}"#
        );
        // From a webob error, as a controller's `?` makes it.
        let f: Fault = crate::webob::exc::HTTPNotFound()
            .with_explanation("No image found with ID 7")
            .into();
        assert_eq!(f, Fault::new(404, "No image found with ID 7"));
        let f: Fault = crate::webob::exc::HTTPConflict().with_detail("d").into();
        assert_eq!(f, Fault::new(409, "").with_detail("d"));
        assert_eq!(
            Fault::method_not_allowed("GET, PUT").headers,
            vec![("Allow".to_owned(), "GET, PUT".to_owned())]
        );
    }
}
