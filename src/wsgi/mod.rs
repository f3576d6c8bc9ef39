//! The gateway contract, named after PEP 3333.
//!
//! A Python WSGI application is `app(environ, start_response) -> iterable of bytes`. Here it
//! is any `Fn(&mut Environ, &mut StartResponse) -> Body` (or a type implementing
//! [`Application`]), so a Python app ports line by line:
//!
//! ```python
//! def app(environ, start_response):
//!     start_response('200 OK', [('Content-Type', 'text/plain')])
//!     return [b'Hello World']
//! ```
//!
//! ```
//! use may_wsgi::{Body, Environ, StartResponse};
//! fn app(_environ: &mut Environ, start_response: &mut StartResponse) -> Body {
//!     start_response.call("200 OK", [("Content-Type", "text/plain")]);
//!     Body::from("Hello World")
//! }
//! ```
//!
//! - [`Environ`]: the CGI/WSGI keys, `wsgi.input` ([`Input`]) and `wsgi.errors` ([`Errors`]).
//! - [`StartResponse`]: status, headers, `exc_info` and the legacy `write()`.
//! - [`Body`]: what the app returns; its `Drop` is WSGI's `close()`.
//!
//! A struct that holds another application and implements [`Application`] is middleware.

mod body;
mod environ;
pub(crate) mod exchange;
pub(crate) mod gateway;
mod input;
mod start_response;

pub use body::{Body, FileWrapper};
pub use environ::{ConnInfo, Environ, Errors};
pub use input::Input;
pub use start_response::{HeaderList, StartResponse, StartResponseError, Writer};

/// A WSGI application: called once per request, from the request's own coroutine.
///
/// It is shared by every connection (and every scheduler thread), hence `Send + Sync`.
pub trait Application: Send + Sync + 'static {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body;
}

impl<F> Application for F
where
    F: Fn(&mut Environ, &mut StartResponse) -> Body + Send + Sync + 'static,
{
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        self(environ, start_response)
    }
}

impl<A: Application + ?Sized> Application for std::sync::Arc<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        (**self).call(environ, start_response)
    }
}

impl Application for Box<dyn Application> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        (**self).call(environ, start_response)
    }
}
