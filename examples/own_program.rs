//! A ported service's own program: `cli::Program` gives the binary its name, its version and
//! options of its own, merged with the server's flags into one `--help`, and read from its
//! config file, a Glance-style `glance-api.conf` included: the `[DEFAULT]` keys that are the
//! service's own pass, ours (`workers`, `bind_host`, ...) apply, and `[own-program]` is the
//! program's section. As the Python service's `main` would parse its options and serve.
//!
//! Run: `cargo run --example own_program -- --help`, or
//! `cargo run --example own_program -- --config tests/data/glance-api.conf --bind 127.0.0.1:8000`
//! then `curl http://127.0.0.1:8000/`.

use may_wsgi::cli::Program;
use may_wsgi::webob::{wsgify, Request, Response};

fn main() {
    Program::new("own-program", "2.1.0")
        .about("A ported image service, on may_wsgi.")
        .option("data-dir", "DIR", "where images live", Some("/var/lib/images"))
        .flag("show-image-direct-url", "show where each image is stored")
        .run(|config| {
            let data_dir = config.app.get("data-dir").unwrap_or_default().to_owned();
            let direct = config.app.flag("show-image-direct-url");
            let workers = config.workers;
            wsgify(move |_req: &mut Request| {
                Response::text(format!("data-dir={data_dir} direct={direct} workers={workers}\n"))
            })
        })
}
