//! Routes (`routes.Mapper`, `routes.middleware.RoutesMiddleware`) and the routing layer
//! Glance builds on it (`glance.common.wsgi`: `Router`, `Resource`,
//! `RejectMethodController`), so a Python router ports route for route.
//!
//! ```python
//! mapper = routes.Mapper()
//! images_resource = images.create_resource()
//! mapper.connect('/images/{image_id}',
//!                controller=images_resource,
//!                action='show',
//!                conditions={'method': ['GET']},
//!                body_reject=True)
//! mapper.connect('/images/{image_id}',
//!                controller=reject_method_resource,
//!                action='reject',
//!                allowed_methods='GET, PATCH, DELETE')
//! app = wsgi.Router(mapper)
//! ```
//!
//! ```
//! use may_wsgi::routes::{Fault, Mapper, NoBodyDeserializer, RejectMethodController, Resource,
//!                        RouteMatch, Router, TextSerializer};
//! use may_wsgi::Environ;
//! use std::sync::Arc;
//!
//! struct ImagesController;
//! impl ImagesController {
//!     fn show(&self, _req: &mut Environ, args: &RouteMatch, _: ()) -> Result<String, Fault> {
//!         Ok(format!("image {}", args.get("image_id").unwrap_or("")))
//!     }
//! }
//!
//! let mut mapper = Mapper::new();
//! let images_resource = Arc::new(
//!     Resource::new(ImagesController, NoBodyDeserializer, TextSerializer)
//!         .action("show", ImagesController::show),
//! );
//! let reject_method_resource = Arc::new(RejectMethodController::resource());
//! mapper
//!     .connect(None, "/images/{image_id}")
//!     .controller(images_resource.clone())
//!     .action("show")
//!     .conditions(&["GET"])
//!     .arg("body_reject", "True");
//! mapper
//!     .connect(None, "/images/{image_id}")
//!     .controller(reject_method_resource.clone())
//!     .action("reject")
//!     .arg("allowed_methods", "GET, PATCH, DELETE");
//! let app = Router::new(mapper);
//! ```
//!
//! The parts, each named after the Python it ports:
//! - [`Mapper`] and [`Route`] (`mapper.rs`, `route.rs`): templates, requirements (Python
//!   `re` syntax, matched by the regex-lite crate), method conditions, matching in
//!   Routes' order, generation ([`Mapper::generate`], [`Mapper::url_for`]).
//! - [`RoutesMiddleware`] (`middleware.rs`): puts [`RoutingArgs`] (`wsgiorg.routing_args`),
//!   `routes.route` and `routes.url` ([`URLGenerator`], `util.rs`) in the environ.
//! - [`Router`], [`Fault`], [`error_response`] (`router.rs`): Glance's dispatch and its
//!   404/405/501 answers.
//! - [`Resource`], [`Deserializer`], [`Serializer`], [`RejectMethodController`]
//!   (`resource.rs`): actions to controller methods.
//!
//! A [`Router`] is an `Application`: it is handed on to the server, or mounted in a
//! [`URLMap`](crate::urlmap::URLMap), and hands each request on to the `controller` of
//! the route that matched. `docs/porting-routes.md` has the full table of Python names and
//! their Rust forms.

mod mapper;
mod middleware;
mod resource;
mod route;
mod router;
mod util;

pub use mapper::{Mapper, RouteMatch};
pub use middleware::{RoutesMiddleware, RoutingArgs};
pub use resource::{
    has_body, BytesDeserializer, Deserializer, NoBodyDeserializer, RejectMethodController, Resource, Serializer,
    TextSerializer,
};
pub use route::{ConditionFunction, Part, Route, VarKind};
pub use router::{error_response, reason, Dispatch, Fault, Router, IMPLEMENTED_HTTP_METHODS};
pub use util::{parse_qsl, unquote_plus, url_quote, urlencode, URLGenerator};

/// Calling an application without a server, for the unit tests of this module and of
/// `urlmap.rs`.
#[cfg(test)]
pub(crate) mod testing {
    use std::cell::RefCell;
    use std::io::{self, IoSlice, Read};
    use std::rc::Rc;

    use crate::wsgi::exchange::{Exchange, ReadBuf, Transport};
    use crate::wsgi::{Application, Body, Environ, Input, StartResponse};

    /// A socket that is never used: the head is only sent by a server.
    struct Unused;

    impl Transport for Unused {
        fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn write_all_vectored(&mut self, _parts: &mut [IoSlice<'_>]) -> io::Result<()> {
            Ok(())
        }
    }

    pub fn start_response() -> StartResponse {
        let exchange: Rc<RefCell<Exchange>> =
            Rc::new(RefCell::new(Exchange::new(Unused, ReadBuf::default(), Vec::new())));
        StartResponse::new(exchange)
    }

    /// A `method` request of `target` with a Host header and `headers`, no body.
    pub fn environ(method: &str, target: &str, headers: &[(&str, &str)]) -> Environ {
        let mut all = vec![("Host", "h")];
        all.extend_from_slice(headers);
        Environ::for_request(method, target, &all, Input::empty())
    }

    pub fn body_text(body: Body) -> String {
        let bytes = match body {
            Body::Empty => Vec::new(),
            Body::Bytes(b) => b.into_owned(),
            Body::Chunks(v) => v.concat(),
            Body::Iter(it) => it.flatten().collect(),
            Body::File(mut f) => {
                let mut out = Vec::new();
                f.reader.read_to_end(&mut out).unwrap();
                out
            }
        };
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Calls `app`: (status, headers, body).
    pub fn call(app: &impl Application, mut environ: Environ) -> (String, Vec<(String, String)>, String) {
        let mut sr = start_response();
        let body = app.call(&mut environ, &mut sr);
        let headers = sr.headers().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
        (sr.status().to_owned(), headers, body_text(body))
    }
}
