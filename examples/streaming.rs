//! A streaming response: the body is an iterator, and each piece reaches the client as it is
//! produced (chunked, since its length is unknown), while the coroutine sleeps between
//! pieces without holding up its thread.
//!
//! ```python
//! import time
//!
//! def app(environ, start_response):
//!     start_response('200 OK', [('Content-Type', 'text/plain')])
//!     count = int(environ.get('QUERY_STRING') or 5)
//!     def ticks():
//!         for i in range(count):
//!             yield f"tick {i}\n".encode()
//!             time.sleep(0.1)   # eventlet.sleep under eventlet
//!     return ticks()
//! ```
//!
//! Run: `cargo run --example streaming [PORT]`, then `curl -N 'http://127.0.0.1:8000/?5'`.

use std::time::Duration;

use may_wsgi::{cli, make_server, Body, Environ, StartResponse};

fn app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    start_response.call("200 OK", [("Content-Type", "text/plain")]);
    let count: u32 = environ.get("QUERY_STRING").and_then(|q| q.parse().ok()).unwrap_or(5);
    Body::iter((0..count).map(|i| {
        if i > 0 {
            // Parks this coroutine only; the piece before is already on the wire.
            may::coroutine::sleep(Duration::from_millis(100));
        }
        format!("tick {i}\n")
    }))
}

fn main() {
    cli::configure_may(2, true);
    let port = std::env::args()
        .nth(1)
        .map_or(8000, |p| p.parse().expect("PORT must be a number"));
    let httpd = make_server("127.0.0.1", port, app).expect("cannot listen");
    println!("Serving on port {}...", httpd.local_addr().unwrap().port());
    httpd.serve_forever().unwrap();
}
