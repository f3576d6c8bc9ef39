//! wsgiref's hello world, translated line by line.
//!
//! ```python
//! from wsgiref.simple_server import make_server
//!
//! def hello_world_app(environ, start_response):
//!     status = '200 OK'  # HTTP Status
//!     headers = [('Content-type', 'text/plain; charset=utf-8')]  # HTTP Headers
//!     start_response(status, headers)
//!
//!     # The returned object is going to be printed
//!     return [b"Hello World"]
//!
//! with make_server('', 8000, hello_world_app) as httpd:
//!     print("Serving on port 8000...")
//!
//!     # Serve until process is killed
//!     httpd.serve_forever()
//! ```
//!
//! Run: `cargo run --example hello_world [PORT]` (PORT 0 picks a free one).

use may_wsgi::{make_server, Body, Environ, StartResponse};

fn hello_world_app(_environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let status = "200 OK"; // HTTP Status
    let headers = [("Content-type", "text/plain; charset=utf-8")]; // HTTP Headers
    start_response.call(status, headers);

    // The returned object is going to be printed
    Body::from(vec![b"Hello World".to_vec()])
}

fn main() {
    let port = std::env::args()
        .nth(1)
        .map_or(8000, |p| p.parse().expect("PORT must be a number"));
    let httpd = make_server("", port, hello_world_app).expect("cannot listen");
    println!("Serving on port {}...", httpd.local_addr().unwrap().port());

    // Serve until process is killed
    httpd.serve_forever().unwrap();
}
