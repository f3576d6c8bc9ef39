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
//! [`Program::run`], the same for a ported application with a name, a version and options
//! of its own (merged into `--help`, read from its config file section), and [`serve`],
//! which hands a [`Config`] to `master::Server`. What the flags and config
//! file mean lives in `config`; this module prints help and the version, shows a bad flag,
//! and turns the outcome into the exit status: a bad flag or value prints what is wrong and
//! exits with status 2, as getopts-era tools and gunicorn do; `-h` prints the usage and
//! exits 0.
//!
//! The configuration's names are re-exported here, where they used to live.

pub use crate::config::{
    parse_args, parse_bind, AppOption, AppOptions, Command, Config, Program, UsageError, DEFAULT_BIND,
};
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
            eprintln!("{}: {e}", config.program.name);
            1
        }
    }
}

/// Parses the process's command line and serves `app` from it, as the `may-wsgi` program.
/// Exits 2 on a bad flag or config file, 1 when the server cannot start, 0 after a clean
/// stop. A ported application with a name, a version and options of its own uses
/// [`Program::run`].
pub fn run(app: impl Application) -> ! {
    Program::default().run(|_| app)
}

impl Program {
    /// Parses the process's command line (the server's flags and this program's own
    /// options, in one `--help`), builds the application from the result, and serves it:
    /// a ported service's whole `main`.
    ///
    /// ```no_run
    /// # use may_wsgi::{Body, Environ, StartResponse};
    /// use may_wsgi::cli::Program;
    ///
    /// fn main() {
    ///     Program::new("glance-api", "33.0.0")
    ///         .about("OpenStack Glance's Images API v2, on may_wsgi.")
    ///         .option("data-dir", "DIR", "where images and their metadata live", Some("/var/lib/glance"))
    ///         .run(|config| {
    ///             let data_dir = config.app.get("data-dir").unwrap_or_default().to_owned();
    ///             move |_: &mut Environ, start_response: &mut StartResponse| {
    ///                 start_response.call("200 OK", [("Content-Type", "text/plain")]);
    ///                 Body::from(data_dir.clone())
    ///             }
    ///         })
    /// }
    /// ```
    ///
    /// The application is built once, in the process that reads the command line (the
    /// master), before workers fork: state it holds in memory is copied into each worker
    /// and from then on separate. Exits 2 on a bad flag or config file, 1 when the server
    /// cannot start, 0 after a clean stop.
    pub fn run<A: Application>(self, make_app: impl FnOnce(&Config) -> A) -> ! {
        let mut args = std::env::args();
        let invoked = args.next().unwrap_or_else(|| self.name.clone());
        let args: Vec<String> = args.collect();
        match self.parse(&invoked, &args) {
            Ok(Command::Help(text)) => {
                print!("{text}");
                std::process::exit(0)
            }
            Ok(Command::Version) => {
                println!("{} {}", self.name, self.version);
                std::process::exit(0)
            }
            Ok(Command::Serve(config)) => {
                let app = make_app(&config);
                let mut argv = vec![invoked];
                argv.extend(args);
                std::process::exit(serve(app, &config, argv))
            }
            Err(e) => {
                eprintln!("{}: {e}\nTry '{invoked} --help' for more information.", self.name);
                std::process::exit(2)
            }
        }
    }
}
