//! Middleware: a struct that holds an application and is one itself. This one mounts the
//! app under a prefix (moving it from PATH_INFO to SCRIPT_NAME, as Paste's URLMap does) and
//! times every response into an `X-Elapsed` header.
//!
//! ```python
//! import time
//!
//! class Mount:
//!     def __init__(self, prefix, app):
//!         self.prefix, self.app = prefix, app
//!     def __call__(self, environ, start_response):
//!         path = environ.get('PATH_INFO', '')
//!         if not path.startswith(self.prefix):
//!             start_response('404 Not Found', [('Content-Type', 'text/plain')])
//!             return [b'not mounted here\n']
//!         environ['SCRIPT_NAME'] += self.prefix
//!         environ['PATH_INFO'] = path[len(self.prefix):] or '/'
//!         return self.app(environ, start_response)
//!
//! class Timer:
//!     def __init__(self, app):
//!         self.app = app
//!     def __call__(self, environ, start_response):
//!         started = time.monotonic()
//!         def timed_start_response(status, headers, exc_info=None):
//!             headers.append(('X-Elapsed', '%.6f' % (time.monotonic() - started)))
//!             return start_response(status, headers, exc_info)
//!         return self.app(environ, timed_start_response)
//!
//! def app(environ, start_response):
//!     start_response('200 OK', [('Content-Type', 'text/plain')])
//!     return [('script=%s path=%s\n' % (environ['SCRIPT_NAME'], environ['PATH_INFO'])).encode()]
//!
//! application = Timer(Mount('/api', app))
//! ```
//!
//! In Rust the head goes out after the inner app returns, so the middleware adds its header
//! to `start_response` then, instead of wrapping the callable. Run:
//! `cargo run --example middleware [PORT]`, then `curl -i http://127.0.0.1:8000/api/items`.

use std::time::Instant;

use may_wsgi::{make_server, Application, Body, Environ, StartResponse};

struct Mount<A> {
    prefix: &'static str,
    app: A,
}

impl<A: Application> Application for Mount<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let path = environ.get_or("PATH_INFO", "").to_owned();
        let Some(rest) = path.strip_prefix(self.prefix) else {
            start_response.call("404 Not Found", [("Content-Type", "text/plain")]);
            return Body::from("not mounted here\n");
        };
        let script_name = format!("{}{}", environ.get_or("SCRIPT_NAME", ""), self.prefix);
        environ.set("SCRIPT_NAME", script_name);
        environ.set("PATH_INFO", if rest.is_empty() { "/" } else { rest });
        self.app.call(environ, start_response)
    }
}

struct Timer<A>(A);

impl<A: Application> Application for Timer<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let started = Instant::now();
        let body = self.0.call(environ, start_response);
        if !start_response.head_sent() {
            let elapsed = format!("{:.6}", started.elapsed().as_secs_f64());
            start_response
                .add_header("X-Elapsed", &elapsed)
                .expect("a valid header");
        }
        body
    }
}

fn app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    start_response.call("200 OK", [("Content-Type", "text/plain")]);
    Body::from(format!(
        "script={} path={}\n",
        environ.get_or("SCRIPT_NAME", ""),
        environ.get_or("PATH_INFO", "")
    ))
}

fn main() {
    let application = Timer(Mount { prefix: "/api", app });
    let port = std::env::args()
        .nth(1)
        .map_or(8000, |p| p.parse().expect("PORT must be a number"));
    let httpd = make_server("127.0.0.1", port, application).expect("cannot listen");
    println!("Serving on port {}...", httpd.local_addr().unwrap().port());
    httpd.serve_forever().unwrap();
}
