//! OpenStack Glance 33's Images API v2, ported to may_wsgi by direct translation: the
//! entry point `glance/wsgi/api.py` (`application = init_app()`) with the paste pipeline
//! of `glance-api-paste.ini` that an empty flavor selects,
//! `versionnegotiation unauthenticated-context rootapp`, and `rootapp`'s URLMap
//! (`/: apiversions`, `/v2: apiv2app`). `cors`, `http_proxy_to_wsgi` and `osprofiler` are
//! not ported.
//!
//! ```sh
//! cargo run --release --example glance_api -- --bind 127.0.0.1:9292 --workers 2 --data-dir /tmp/glance
//! ```
//!
//! The modules, each the translation of one Glance file (see README.md beside this file):
//! `router` (api/v2/router.py), `images` (api/v2/images.py), `image_data`
//! (api/v2/image_data.py), `image_tags`, `schemas` (api/v2/schemas.py and schema.py),
//! `versions` (api/versions.py and the version negotiation middleware), `context`
//! (api/middleware/context.py), `wsgi` (common/wsgi.py), `domain` (domain/__init__.py),
//! `location` (location.py), `db` (db/__init__.py and db/sqlalchemy/api.py) and `store`
//! (glance_store's filesystem driver). [`Gateway`] (glance/gateway.py, without its policy,
//! quota and notifier layers) hands the database and the store to the controllers.

mod context;
mod db;
mod domain;
mod image_data;
mod image_tags;
mod images;
mod location;
mod router;
mod schemas;
mod store;
#[cfg(test)]
mod tests;
mod timeutils;
mod versions;
mod wsgi;

use std::path::Path;
use std::sync::Arc;

use may_wsgi::cli::Program;
use may_wsgi::routes::Mapper;
use may_wsgi::urlmap::URLMap;
use may_wsgi::Application;

use db::{Database, ImageRepo};
use store::Store;

/// `glance.gateway.Gateway`: what the controllers reach the database and the store
/// through (Glance stacks policy, quota, notifier and location proxies here; the
/// unauthenticated admin passes every policy and no quota is configured).
pub struct Gateway {
    pub db: Arc<Database>,
    pub store: Store,
}

impl Gateway {
    /// Opens the database in `data_dir` and the store in `data_dir/images`.
    pub fn open(data_dir: &Path) -> Result<Gateway, String> {
        let db = Database::open(data_dir).map_err(|e| format!("{}: {}", data_dir.display(), e.msg()))?;
        let store = Store::new(data_dir.join("images")).map_err(|e| format!("{}/images: {e}", data_dir.display()))?;
        Ok(Gateway {
            db: Arc::new(db),
            store,
        })
    }

    /// `get_repo(context)`.
    pub fn get_repo(&self) -> ImageRepo {
        ImageRepo::new(self.db.clone())
    }
}

/// `init_app()`: the pipeline, outermost first.
pub fn init_app(gateway: Arc<Gateway>) -> impl Application {
    let mut rootapp = URLMap::new();
    rootapp.insert("/", versions::Controller);
    rootapp.insert("/v2", router::api(Mapper::new(), gateway));
    versions::VersionNegotiationFilter::new(context::UnauthenticatedContextMiddleware::new(rootapp))
}

fn main() {
    Program::new("glance-api", "33.0.0")
        .about("OpenStack Glance's Images API v2 (the image subset), ported to may_wsgi.")
        .option(
            "data-dir",
            "DIR",
            "where images (DIR/images/<id>) and their metadata (DIR/glance-images.json) live",
            Some("/var/lib/glance"),
        )
        .run(|config| {
            let data_dir = Path::new(config.app.get("data-dir").unwrap_or("/var/lib/glance")).to_owned();
            let gateway = match Gateway::open(&data_dir) {
                Ok(gateway) => gateway,
                Err(e) => {
                    // A bad --data-dir is a bad flag: status 2, as for the server's own.
                    eprintln!("glance-api: cannot use the data directory {e}");
                    std::process::exit(2);
                }
            };
            // Before the workers fork (and before the log is set up, hence stderr): what a
            // crashed upload left is removed.
            match gateway.store.remove_partial_files() {
                Ok(0) => {}
                Ok(n) => eprintln!("glance-api: removed {n} partial image files left by an interrupted upload"),
                Err(e) => eprintln!("glance-api: could not clean {}: {e}", gateway.store.datadir.display()),
            }
            init_app(Arc::new(gateway))
        })
}
