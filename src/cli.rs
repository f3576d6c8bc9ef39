//! The command line's entry points: [`run`], which parses the process's arguments and
//! serves an application from them, so a ported app's `main` is one line:
//!
//! ```no_run
//! # use may_wsgi::{Body, Environ, StartResponse};
//! # fn app(_: &mut Environ, _: &mut StartResponse) -> Body { Body::Empty }
//! fn main() {
//!     may_wsgi::cli::run(app)
//! }
//! ```
//!
//! and [`serve`], which hands a [`Config`] to `master::Server`. What the flags and config
//! file mean lives in `config`; this module prints help and the version, shows a bad flag,
//! and turns the outcome into the exit status: a bad flag or value prints what is wrong and
//! exits with status 2, as getopts-era tools and gunicorn do; `-h` prints the usage and
//! exits 0.
//!
//! The configuration's names are re-exported here, where they used to live.

pub use crate::config::{parse_args, parse_bind, Command, Config, UsageError, DEFAULT_BIND};
pub use crate::server::configure_may;

use crate::logging;
use crate::wsgi::Application;

/// Serves `app` as the configuration says, in one process or as a master with workers;
/// returns the process's exit status.
pub fn serve(app: impl Application, config: &Config, argv: Vec<String>) -> i32 {
    logging::init(config.log_level);
    std::panic::set_hook(Box::new(logging::log_panic));
    match crate::master::Server::new(config.clone(), argv).start(app) {
        Ok(started) => started.wait(),
        Err(e) => {
            log::error!("{e}");
            eprintln!("may-wsgi: {e}");
            1
        }
    }
}

/// Parses the process's command line and serves `app` from it. Exits 2 on a bad flag or
/// config file, 1 when the server cannot start, 0 after a clean stop.
pub fn run(app: impl Application) -> ! {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_else(|| "may-wsgi".to_owned());
    let args: Vec<String> = args.collect();
    match parse_args(&program, &args) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            std::process::exit(0)
        }
        Ok(Command::Version) => {
            println!("may-wsgi {}", env!("CARGO_PKG_VERSION"));
            std::process::exit(0)
        }
        Ok(Command::Serve(config)) => {
            let mut argv = vec![program];
            argv.extend(args);
            std::process::exit(serve(app, &config, argv))
        }
        Err(e) => {
            eprintln!("may-wsgi: {e}\nTry '{program} --help' for more information.");
            std::process::exit(2)
        }
    }
}
