//! `webob.dec.wsgify`: a function from a request to a response, made a WSGI application.
//!
//! ```python
//! @wsgify
//! def app(req):
//!     if req.method != 'GET':
//!         raise exc.HTTPMethodNotAllowed()
//!     return Response('hi')
//! ```
//!
//! ```
//! use may_wsgi::webob::{exc, wsgify, HTTPError, Request, Response};
//! let app = wsgify(|req: &mut Request| -> Result<Response, HTTPError> {
//!     if req.method() != "GET" {
//!         return Err(exc::HTTPMethodNotAllowed());
//!     }
//!     Ok(Response::text("hi"))
//! });
//! # fn is_app(_: &impl may_wsgi::Application) {}
//! # is_app(&app);
//! ```
//!
//! The handler returns anything that is `Into<Response>`: a [`Response`], an
//! [`HTTPError`](super::HTTPError) (served with the body the request's Accept asks for), a
//! `Result` of the two (so `?` works on everything that fails with an `HTTPError`), or a
//! `String` / `&'static str` / `Vec<u8>` (a `text/html` body, as WebOb writes a returned
//! string into `req.response`). [`middleware`] is `wsgify.middleware`: the handler also
//! gets the wrapped application, to call with `req.get_response(app)`.

use super::request::Request;
use super::response::Response;
use crate::wsgi::{Application, Body, Environ, StartResponse};

/// An application made from a request handler: see [`wsgify`].
pub struct Wsgify<F> {
    func: F,
}

/// `@wsgify`: `func` becomes an [`Application`].
pub fn wsgify<F, R>(func: F) -> Wsgify<F>
where
    F: Fn(&mut Request<'_>) -> R + Send + Sync + 'static,
    R: Into<Response>,
{
    Wsgify { func }
}

impl<F, R> Application for Wsgify<F>
where
    F: Fn(&mut Request<'_>) -> R + Send + Sync + 'static,
    R: Into<Response>,
{
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let response: Response = {
            let mut req = Request::new(environ);
            (self.func)(&mut req).into()
        };
        response.call(environ, start_response)
    }
}

/// Middleware made from a handler that also gets the wrapped application: see
/// [`middleware`].
pub struct WsgifyMiddleware<A, F> {
    app: A,
    func: F,
}

/// `@wsgify.middleware`: `func(req, app)` runs for every request in front of `app`; it may
/// answer itself, or call `req.get_response(app)` and return (a changed) response.
///
/// ```
/// use may_wsgi::webob::{middleware, wsgify, Request, Response};
/// let app = wsgify(|_req: &mut Request| Response::text("hi"));
/// let shouting = middleware(app, |req: &mut Request, app: &_| {
///     let mut resp = req.get_response(app);
///     let upper = resp.body().map(|b| b.to_ascii_uppercase()).unwrap_or_default();
///     resp.set_body(upper);
///     resp
/// });
/// # fn is_app(_: &impl may_wsgi::Application) {}
/// # is_app(&shouting);
/// ```
pub fn middleware<A, F, R>(app: A, func: F) -> WsgifyMiddleware<A, F>
where
    A: Application,
    F: Fn(&mut Request<'_>, &A) -> R + Send + Sync + 'static,
    R: Into<Response>,
{
    WsgifyMiddleware { app, func }
}

impl<A, F, R> Application for WsgifyMiddleware<A, F>
where
    A: Application,
    F: Fn(&mut Request<'_>, &A) -> R + Send + Sync + 'static,
    R: Into<Response>,
{
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let response: Response = {
            let mut req = Request::new(environ);
            (self.func)(&mut req, &self.app).into()
        };
        response.call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webob::{exc, HTTPError};
    use crate::wsgi::Input;

    fn run(app: &impl Application, method: &str, target: &str, headers: &[(&str, &str)]) -> (String, Vec<u8>) {
        let mut all = vec![("Host", "h")];
        all.extend_from_slice(headers);
        let mut environ = Environ::for_request(method, target, &all, Input::empty());
        let mut req = Request::new(&mut environ);
        let mut resp = req.get_response(app);
        (resp.status().to_owned(), resp.body().unwrap().to_vec())
    }

    #[test]
    fn handlers_return_responses_errors_and_strings() {
        let app = wsgify(|req: &mut Request| -> Result<Response, HTTPError> {
            match req.path_info().as_ref() {
                "/ok" => Ok(Response::text("fine")),
                "/gone" => Err(exc::HTTPGone().with_detail("bye")),
                _ => Err(exc::HTTPNotFound()),
            }
        });
        assert_eq!(run(&app, "GET", "/ok", &[]), ("200 OK".into(), b"fine".to_vec()));
        let (status, body) = run(&app, "GET", "/gone", &[("Accept", "application/json")]);
        assert_eq!(status, "410 Gone");
        assert!(String::from_utf8(body).unwrap().contains("bye"));
        assert_eq!(run(&app, "GET", "/x", &[]).0, "404 Not Found");
        let strings = wsgify(|_req: &mut Request| "plain string");
        assert_eq!(
            run(&strings, "GET", "/", &[]),
            ("200 OK".into(), b"plain string".to_vec())
        );
    }

    #[test]
    fn middleware_sees_and_changes_the_response() {
        let app = wsgify(|_req: &mut Request| Response::text("hi").with_header("X-Inner", "1"));
        let wrapped = middleware(app, |req: &mut Request, app: &_| {
            if req.path_info() == "/blocked" {
                return Err(exc::HTTPForbidden());
            }
            let mut resp = req.get_response(app);
            let upper = resp.body().map(|b| b.to_ascii_uppercase()).unwrap_or_default();
            resp.set_body(upper);
            resp.set_header("X-Outer", "2");
            Ok::<_, HTTPError>(resp)
        });
        let mut environ = Environ::for_request("GET", "/", &[("Host", "h")], Input::empty());
        let mut resp = Request::new(&mut environ).get_response(&wrapped);
        assert_eq!(resp.body().unwrap(), b"HI");
        assert_eq!((resp.header("x-inner"), resp.header("x-outer")), (Some("1"), Some("2")));
        assert_eq!(resp.content_length(), Some(2));
        assert_eq!(run(&wrapped, "GET", "/blocked", &[]).0, "403 Forbidden");
    }
}
