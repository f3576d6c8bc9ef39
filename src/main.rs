//! `may-wsgi`: serves the demo application (see `demo.rs`) from the command line.
//! A ported application's binary looks just like this, with its own `app`.

fn main() {
    may_wsgi::cli::run(may_wsgi::demo::app)
}
