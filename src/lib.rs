//! may_wsgi: Python's WSGI (PEP 3333) and eventlet's WSGI server, rebuilt in Rust on
//! [`may`] stackful coroutines.
//!
//! An application is `fn(&mut Environ, &mut StartResponse) -> Body`, so a Python WSGI app
//! ports line by line; the server runs each request in a coroutine from a bounded pool, as
//! eventlet runs each in a green thread from a `GreenPool`, or, with
//! `--worker-class thread` ([`WorkerClass::Thread`]), on an OS thread from a small pool, as
//! gunicorn's gthread worker does. The two models side by side, measured and explained on
//! this code, for readers who know eventlet and Python's threading: [`coroutines_vs_threads`]
//! (`docs/coroutines-vs-threads.md`).
//!
//! ```no_run
//! use may_wsgi::{make_server, Body, Environ, StartResponse};
//!
//! fn hello_world_app(_environ: &mut Environ, start_response: &mut StartResponse) -> Body {
//!     start_response.call("200 OK", [("Content-type", "text/plain; charset=utf-8")]);
//!     Body::from("Hello World")
//! }
//!
//! let httpd = make_server("127.0.0.1", 8000, hello_world_app).unwrap();
//! httpd.serve_forever().unwrap();
//! ```
//!
//! The modules, in the order a request passes through them:
//! - [`server`]: the waiting rooms (accepting, idle and slow connections), the request
//!   pool, the request workers (coroutines or threads).
//! - [`http`]: sans-IO HTTP/1.x parsing and framing.
//! - [`wsgi`]: `Environ`, `StartResponse`, `Body`, `Application`.
//! - [`webob`]: WebOb's `Request`, `Response`, `exc` and `wsgify`, over [`wsgi`].
//! - [`green`]: eventlet's `GreenPool` and `listen()` for non-WSGI green-thread code.
//! - [`routes`]: Routes' `Mapper` and `RoutesMiddleware`, Glance's `Router` and `Resource`.
//! - [`urlmap`]: Paste's `URLMap`, applications mounted at path prefixes.
//! - [`eventlet`]: the porting kit's eventlet: green threads, queues, events, semaphores,
//!   timeouts (`docs/porting.md`).
//! - [`master`]: the pre-fork master: binding, forking, supervising, signals.
//! - [`config`]: the settings, their flags and help text, the config file: `Config`.
//! - [`cli`]: the command-line entry points (`cli::run`, `cli::Program`); [`demo`]: the
//!   demo app; [`logging`]: the error log.
//! - [`testing`]: webtest's `TestApp`, to drive an application without a socket;
//!   [`validate`]: `wsgiref.validate`'s checks as a middleware.

pub mod cli;
pub mod config;
pub mod demo;
pub mod eventlet;
pub mod green;
pub mod http;
pub mod logging;
pub mod master;
pub mod routes;
pub mod server;
pub mod testing;
pub mod urlmap;
pub mod validate;
pub mod webob;
pub mod wsgi;

pub use green::{listen, GreenPool, GreenThread};
pub use server::{make_server, AccessLogTarget, Server, ServerConfig, ServerHandle, WorkerClass};
pub use wsgi::{Application, Body, Environ, Input, StartResponse};

/// The README's Rust examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc = include_str!("../docs/coroutines-vs-threads.md")]
pub mod coroutines_vs_threads {}
