//! `glance.common.wsgi.Resource(controller, deserializer, serializer)`: the bridge between a
//! route's `action` and a controller method.
//!
//! In Glance a controller is an object with one method per action (`index`, `show`,
//! `update`...); `Resource` reads the match dict the middleware left in the environ, pops
//! `action` (and `body_reject`), asks the deserializer for the action's arguments from the
//! request, calls `getattr(controller, action)(req, **args)`, and hands the result to the
//! serializer, which makes the response. A webob HTTP error raised anywhere becomes the
//! response.
//!
//! Rust has no `getattr`, so a [`Resource`] is given its actions by name, each a method of
//! the controller (or any function of the same shape):
//!
//! ```
//! use may_wsgi::routes::{Fault, NoBodyDeserializer, Resource, RouteMatch, TextSerializer};
//! use may_wsgi::Environ;
//!
//! struct ImagesController;
//!
//! impl ImagesController {
//!     // def show(self, req, image_id):
//!     fn show(&self, _req: &mut Environ, args: &RouteMatch, _body: ()) -> Result<String, Fault> {
//!         match args.get("image_id") {
//!             Some(id) if id != "missing" => Ok(format!("image {id}")),
//!             _ => Err(Fault::not_found()),
//!         }
//!     }
//! }
//!
//! let images_resource = Resource::new(ImagesController, NoBodyDeserializer, TextSerializer)
//!     .action("show", ImagesController::show);
//! ```
//!
//! The deserializer ([`Deserializer`]) turns the request into one value of its `Output`
//! type, which every action of the resource receives; the serializer ([`Serializer`])
//! turns the actions' `Ok` value into the response, knowing the action (Glance's
//! serializers answer `create` with 201 and `delete` with 204). Both work on the plain
//! [`Environ`]/[`StartResponse`] API so that webob's `Request`/`Response` can implement
//! them later. An `Err(Fault)` is answered by [`error_response`](super::error_response).
//! A `Resource` is an [`Application`]: it is handed on as a route's `controller`, and hands
//! the request on to the controller method of the matched action.

use std::io::Read;

use super::mapper::RouteMatch;
use super::middleware::RoutingArgs;
use super::router::Fault;
use crate::wsgi::{Application, Body, Environ, StartResponse};

/// Turns a request into the arguments of the action (Glance's deserializer, whose per-action
/// methods or `default` return the dict merged into the action's keyword arguments).
pub trait Deserializer: Send + Sync + 'static {
    /// What every action of the resource is given.
    type Output;

    /// The arguments for `action` from `request` (its body, usually), or the HTTP error to
    /// answer with (`HTTPBadRequest` for a malformed body).
    fn deserialize(&self, action: &str, request: &mut Environ) -> Result<Self::Output, Fault>;

    /// Whether the request has a body: checked against a route's `body_reject=True`.
    fn has_body(&self, request: &Environ) -> bool {
        has_body(request)
    }
}

/// Turns an action's result into the response (Glance's serializer, whose per-action
/// methods or `default` fill a webob `Response`).
pub trait Serializer: Send + Sync + 'static {
    /// What the actions return.
    type Input;

    fn serialize(
        &self,
        action: &str,
        result: Self::Input,
        request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body;
}

/// Glance's `JSONRequestDeserializer.has_body`: a POST, PUT or PATCH with a valid
/// Transfer-Encoding, or any request with a Content-Length above zero.
pub fn has_body(request: &Environ) -> bool {
    const VALID_TRANSFER_ENCODING: [&str; 5] = ["chunked", "compress", "deflate", "gzip", "identity"];
    const HTTPVERB_MAY_HAVE_BODY: [&str; 3] = ["POST", "PUT", "PATCH"];
    let encoding = request.get_or("HTTP_TRANSFER_ENCODING", "").to_ascii_lowercase();
    let method = request.get_or("REQUEST_METHOD", "").to_ascii_uppercase();
    if VALID_TRANSFER_ENCODING.contains(&encoding.as_str()) && HTTPVERB_MAY_HAVE_BODY.contains(&method.as_str()) {
        return true;
    }
    request
        .get("CONTENT_LENGTH")
        .and_then(|l| l.trim().parse::<u64>().ok())
        .is_some_and(|l| l > 0)
}

/// oslo's `strutils.bool_from_string` (not strict, default False).
fn bool_from_string(value: Option<&str>) -> bool {
    let value = value.unwrap_or("").trim().to_ascii_lowercase();
    matches!(value.as_str(), "1" | "t" | "true" | "on" | "y" | "yes")
}

/// A deserializer for actions that take no body: `Output = ()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBodyDeserializer;

impl Deserializer for NoBodyDeserializer {
    type Output = ();

    fn deserialize(&self, _action: &str, _request: &mut Environ) -> Result<(), Fault> {
        Ok(())
    }
}

/// A deserializer that reads the whole body (empty when [`has_body`] says there is none).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDeserializer;

impl Deserializer for BytesDeserializer {
    type Output = Vec<u8>;

    fn deserialize(&self, _action: &str, request: &mut Environ) -> Result<Vec<u8>, Fault> {
        let mut body = Vec::new();
        if self.has_body(request) {
            request
                .input()
                .read_to_end(&mut body)
                .map_err(|e| Fault::bad_request(format!("Error reading the request body: {e}")))?;
        }
        Ok(body)
    }
}

/// A serializer for text results: `200 OK`, `text/plain; charset=UTF-8`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TextSerializer;

impl Serializer for TextSerializer {
    type Input = String;

    fn serialize(
        &self,
        _action: &str,
        result: String,
        _request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body {
        start_response.call("200 OK", [("Content-Type", "text/plain; charset=UTF-8")]);
        Body::from(result)
    }
}

/// A controller method: `def action(self, req, **args)`, the deserializer's output given
/// as `body`.
type Method<C, D, S> = Box<
    dyn Fn(&C, &mut Environ, &RouteMatch, <D as Deserializer>::Output) -> Result<<S as Serializer>::Input, Fault>
        + Send
        + Sync,
>;

/// `wsgi.Resource(controller, deserializer, serializer)`: an [`Application`] to connect as
/// a route's `controller`.
pub struct Resource<C, D: Deserializer, S: Serializer> {
    pub controller: C,
    pub deserializer: D,
    pub serializer: S,
    actions: Vec<(String, Method<C, D, S>)>,
    default: Option<Method<C, D, S>>,
}

impl<C, D, S> Resource<C, D, S>
where
    C: Send + Sync + 'static,
    D: Deserializer,
    S: Serializer,
{
    pub fn new(controller: C, deserializer: D, serializer: S) -> Resource<C, D, S> {
        Resource {
            controller,
            deserializer,
            serializer,
            actions: Vec::new(),
            default: None,
        }
    }

    /// Registers the controller method for `action` (what Python finds by `getattr`).
    pub fn action<F>(mut self, action: &str, method: F) -> Resource<C, D, S>
    where
        F: Fn(&C, &mut Environ, &RouteMatch, D::Output) -> Result<S::Input, Fault> + Send + Sync + 'static,
    {
        self.actions.retain(|(name, _)| name != action);
        self.actions.push((action.to_owned(), Box::new(method)));
        self
    }

    /// The controller's `default` method, for actions with no method of their own.
    pub fn default_action<F>(mut self, method: F) -> Resource<C, D, S>
    where
        F: Fn(&C, &mut Environ, &RouteMatch, D::Output) -> Result<S::Input, Fault> + Send + Sync + 'static,
    {
        self.default = Some(Box::new(method));
        self
    }

    /// Glance's `get_action_args`: the match dict without `controller` and `format`.
    pub fn get_action_args(request_environment: &Environ) -> RouteMatch {
        let Some(args) = request_environment.value::<RoutingArgs>("wsgiorg.routing_args") else {
            return RouteMatch::default();
        };
        let mut args = args.1.clone();
        args.remove("controller");
        args.remove("format");
        args
    }

    /// Glance's `dispatch`: the method for `action`, or `default`.
    fn method(&self, action: &str) -> Option<&Method<C, D, S>> {
        self.actions
            .iter()
            .find(|(name, _)| name == action)
            .map(|(_, m)| m)
            .or(self.default.as_ref())
    }

    fn run(
        &self,
        action: &str,
        body_reject: bool,
        request: &mut Environ,
        action_args: &RouteMatch,
    ) -> Result<S::Input, Fault> {
        if body_reject && self.deserializer.has_body(request) {
            return Err(Fault::bad_request("A body is not expected with this request."));
        }
        let deserialized = self.deserializer.deserialize(action, request)?;
        let Some(method) = self.method(action) else {
            // Python's AttributeError, caught by Resource as any Exception: a 500.
            log::error!("Caught error: the controller has no action {action:?} and no default");
            return Err(Fault::internal_server_error());
        };
        method(&self.controller, request, action_args, deserialized)
    }
}

impl<C, D, S> Application for Resource<C, D, S>
where
    C: Send + Sync + 'static,
    D: Deserializer,
    S: Serializer,
{
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let mut action_args = Self::get_action_args(environ);
        let action = action_args.remove("action").flatten().unwrap_or_default();
        let body_reject = bool_from_string(action_args.remove("body_reject").flatten().as_deref());
        match self.run(&action, body_reject, environ, &action_args) {
            Ok(result) => self.serializer.serialize(&action, result, environ, start_response),
            Err(fault) => fault.respond(environ, start_response),
        }
    }
}

/// `glance.common.wsgi.RejectMethodController`: connected after a path's routes with
/// `action='reject'` and `allowed_methods='GET, POST'`, it answers every other method with
/// 405 and that `Allow` header.
#[derive(Debug, Clone, Copy, Default)]
pub struct RejectMethodController;

impl RejectMethodController {
    /// `reject(self, req, allowed_methods, *args, **kwargs)`.
    pub fn reject(&self, req: &mut Environ, args: &RouteMatch, _body: ()) -> Result<String, Fault> {
        log::debug!(
            "The method {} is not allowed for this resource",
            req.get_or("REQUEST_METHOD", "")
        );
        Err(Fault::method_not_allowed(args.get("allowed_methods").unwrap_or("")))
    }

    /// `wsgi.Resource(wsgi.RejectMethodController())`.
    pub fn resource() -> Resource<RejectMethodController, NoBodyDeserializer, TextSerializer> {
        Resource::new(RejectMethodController, NoBodyDeserializer, TextSerializer)
            .action("reject", RejectMethodController::reject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Framing;
    use crate::routes::testing::call;
    use crate::routes::{Mapper, Router};
    use crate::wsgi::Input;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A Glance-shaped controller: a store and one method per action.
    #[derive(Default)]
    struct ImagesController {
        created: AtomicUsize,
    }

    impl ImagesController {
        fn index(&self, _req: &mut Environ, _args: &RouteMatch, _body: Vec<u8>) -> Result<String, Fault> {
            Ok(format!("{} images", self.created.load(Ordering::SeqCst)))
        }

        fn create(&self, _req: &mut Environ, _args: &RouteMatch, body: Vec<u8>) -> Result<String, Fault> {
            if body.is_empty() {
                return Err(Fault::bad_request("Body expected in request."));
            }
            self.created.fetch_add(1, Ordering::SeqCst);
            Ok(format!("created {}", String::from_utf8_lossy(&body)))
        }

        fn show(&self, _req: &mut Environ, args: &RouteMatch, _body: Vec<u8>) -> Result<String, Fault> {
            let id = args.get("image_id").unwrap_or("");
            if args.contains_key("action") || args.contains_key("controller") || args.contains_key("body_reject") {
                return Err(Fault::internal_server_error());
            }
            Ok(format!("image {id}"))
        }
    }

    /// Glance's serializers: 201 for create, 204 for delete, JSON-ish text otherwise.
    struct ImagesSerializer;

    impl Serializer for ImagesSerializer {
        type Input = String;

        fn serialize(
            &self,
            action: &str,
            result: String,
            _request: &mut Environ,
            start_response: &mut StartResponse,
        ) -> Body {
            let status = match action {
                "create" => "201 Created",
                "delete" => "204 No Content",
                _ => "200 OK",
            };
            start_response.call(status, [("Content-Type", "application/json")]);
            Body::from(format!("{{\"result\": \"{result}\"}}"))
        }
    }

    fn router() -> (
        Router,
        Arc<Resource<ImagesController, BytesDeserializer, ImagesSerializer>>,
    ) {
        let images_resource = Arc::new(
            Resource::new(ImagesController::default(), BytesDeserializer, ImagesSerializer)
                .action("index", ImagesController::index)
                .action("create", ImagesController::create)
                .action("show", ImagesController::show),
        );
        let reject_method_resource = Arc::new(RejectMethodController::resource());
        let mut mapper = Mapper::new();
        mapper
            .connect(None, "/images")
            .controller(images_resource.clone())
            .action("index")
            .conditions(&["GET"]);
        mapper
            .connect(None, "/images")
            .controller(images_resource.clone())
            .action("create")
            .conditions(&["POST"]);
        mapper
            .connect(None, "/images")
            .controller(reject_method_resource.clone())
            .action("reject")
            .arg("allowed_methods", "GET, POST");
        mapper
            .connect(None, "/images/{image_id}")
            .controller(images_resource.clone())
            .action("show")
            .conditions(&["GET"])
            .arg("body_reject", "True");
        mapper
            .connect(None, "/images/{image_id}/nothing")
            .controller(images_resource.clone())
            .action("nothing");
        (Router::new(mapper), images_resource)
    }

    fn request(method: &str, target: &str, body: &[u8]) -> Environ {
        let len = body.len().to_string();
        let mut headers = vec![("Host", "h")];
        if !body.is_empty() {
            headers.push(("Content-Length", len.as_str()));
        }
        Environ::for_request(
            method,
            target,
            &headers,
            Input::from_bytes(body.to_vec(), Some(Framing::Length(body.len() as u64))),
        )
    }

    #[test]
    fn actions_reach_controller_methods() {
        let (router, resource) = router();
        let (status, headers, body) = call(&router, request("POST", "/images", b"cirros"));
        assert_eq!(status, "201 Created");
        assert!(headers.contains(&("Content-Type".into(), "application/json".into())));
        assert_eq!(body, "{\"result\": \"created cirros\"}");
        assert_eq!(resource.controller.created.load(Ordering::SeqCst), 1);
        let (status, _, body) = call(&router, request("GET", "/images", b""));
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("200 OK", "{\"result\": \"1 images\"}")
        );
        // The action's arguments are the match without action, controller, body_reject.
        let (status, _, body) = call(&router, request("GET", "/images/abc", b""));
        assert_eq!(
            (status.as_str(), body.as_str()),
            ("200 OK", "{\"result\": \"image abc\"}")
        );
    }

    #[test]
    fn faults_become_responses() {
        let (router, _) = router();
        let (status, _, body) = call(&router, request("POST", "/images", b""));
        assert_eq!(status, "400 Bad Request");
        assert_eq!(body, "400 Bad Request\n\nBody expected in request.\n\n   ");
        // body_reject=True with a body.
        let (status, _, body) = call(&router, request("GET", "/images/abc", b"x"));
        assert_eq!(status, "400 Bad Request");
        assert!(body.contains("A body is not expected with this request."), "{body}");
        // An action the resource does not have: Python's AttributeError, a 500.
        let (status, _, _) = call(&router, request("GET", "/images/abc/nothing", b""));
        assert_eq!(status, "500 Internal Server Error");
    }

    #[test]
    fn reject_method_controller_lists_allowed_methods() {
        let (router, _) = router();
        for method in ["PUT", "DELETE", "HEAD", "BREW"] {
            let (status, headers, _) = call(&router, request(method, "/images", b""));
            assert_eq!(status, "405 Method Not Allowed", "{method}");
            assert!(headers.contains(&("Allow".into(), "GET, POST".into())), "{headers:?}");
        }
    }

    #[test]
    fn default_action_catches_the_rest() {
        let resource = Resource::new((), NoBodyDeserializer, TextSerializer).default_action(
            |_: &(), _req: &mut Environ, args: &RouteMatch, _: ()| Ok(format!("default for {:?}", args.get("x"))),
        );
        let mut mapper = Mapper::new();
        mapper.connect(None, "/{x}").controller(resource).action("anything");
        let (status, _, body) = call(&Router::new(mapper), request("GET", "/y", b""));
        assert_eq!((status.as_str(), body.as_str()), ("200 OK", "default for Some(\"y\")"));
    }

    #[test]
    fn has_body_as_glance() {
        let with = |method: &str, headers: &[(&str, &str)]| {
            let mut h = vec![("Host", "h")];
            h.extend_from_slice(headers);
            has_body(&Environ::for_request(method, "/", &h, Input::empty()))
        };
        assert!(!with("GET", &[]));
        assert!(with("GET", &[("Content-Length", "3")]));
        assert!(!with("GET", &[("Content-Length", "0")]));
        assert!(with("PUT", &[("Transfer-Encoding", "chunked")]));
        assert!(!with("GET", &[("Transfer-Encoding", "chunked")]));
        assert!(bool_from_string(Some(" Yes ")));
        assert!(bool_from_string(Some("True")));
        assert!(!bool_from_string(Some("False")));
        assert!(!bool_from_string(None));
    }
}
