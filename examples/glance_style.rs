//! A Glance-style image registry: a Routes `Mapper` under Glance's `Router`, `Resource` and
//! `RejectMethodController`, two middlewares, JSON in and out, 404 / 405 / 501, ported line
//! by line from `examples/ports/glance_style.py` with `may_wsgi::routes` and
//! `may_wsgi::webob`.
//! The Python is 160 lines of code, this 190 (not blank, not only a comment: the table in
//! docs/porting.md, "Three ports, measured", says where the lines go).
//!
//! The Python carries Glance's `Router`, `Resource`, `RejectMethodController` and
//! `Middleware` classes (copied from glance/common/wsgi.py, shortened); here they come from
//! the kit, so what is left is the service: the controller (one method per action, given to
//! the `Resource` by name where Python used `getattr`), the JSON deserializer and the
//! serializer (Glance's two hooks, as `Deserializer` and `Serializer` impls), the two
//! middlewares (`process_request` / `process_response` become one `webob::middleware`
//! closure around `req.get_response(app)`), and the route table. `raise
//! webob.exc.HTTPNotFound(explanation=...)` is `Err(Fault::new(404, ...))`; every error is
//! answered with WebOb's body for the request's Accept, as in the Python.
//!
//! Run: `cargo run --example glance_style [PORT]`, then
//! `curl -i -H 'X-Roles: admin' -d '{"name": "cirros"}' http://127.0.0.1:8000/images`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use may_wsgi::routes::{Deserializer, Fault, Mapper, RejectMethodController, Resource, RouteMatch, Router, Serializer};
use may_wsgi::webob::{exc, middleware, Request, Response};
use may_wsgi::{make_server, Application, Body, Environ, StartResponse};
use serde::Serialize;
use serde_json::{json, Value};

struct JSONRequestDeserializer;

impl Deserializer for JSONRequestDeserializer {
    type Output = Option<Value>;

    fn deserialize(&self, _action: &str, request: &mut Environ) -> Result<Option<Value>, Fault> {
        if !self.has_body(request) {
            return Ok(None);
        }
        let body = Request::new(request).json();
        body.map(Some)
            .map_err(|_| Fault::bad_request("Malformed JSON in request body."))
    }
}

#[derive(Clone, Serialize)]
struct Image {
    id: String,
    name: String,
    status: &'static str,
    tags: Vec<String>,
}

#[derive(Default)]
struct ImagesController {
    images: Mutex<Vec<Image>>,
    next_id: AtomicU64,
}

/// Where the image is, or Python's `raise webob.exc.HTTPNotFound(explanation=...)`.
fn position(images: &[Image], image_id: &str) -> Result<usize, Fault> {
    let found = images.iter().position(|i| i.id == image_id);
    found.ok_or_else(|| Fault::new(404, format!("No image found with ID {image_id}")))
}

impl ImagesController {
    fn index(&self, req: &mut Environ, _args: &RouteMatch, _body: Option<Value>) -> Result<Value, Fault> {
        let name = Request::new(req).get_params().get_text("name").map(str::to_owned);
        let images = self.images.lock().unwrap();
        let found: Vec<&Image> = images
            .iter()
            .filter(|i| name.as_ref().is_none_or(|n| *n == i.name))
            .collect();
        Ok(json!({ "images": found }))
    }

    fn create(&self, _req: &mut Environ, _args: &RouteMatch, body: Option<Value>) -> Result<Value, Fault> {
        let body = body.ok_or_else(|| Fault::bad_request("Body expected in request."))?;
        let name = body.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
        let name = name.ok_or_else(|| Fault::bad_request("An image needs a name."))?;
        let mut images = self.images.lock().unwrap();
        let id = (self.next_id.fetch_add(1, Ordering::SeqCst) + 1).to_string();
        let image = Image {
            id,
            name: name.to_owned(),
            status: "queued",
            tags: vec![],
        };
        images.push(image.clone());
        Ok(json!(image))
    }

    fn show(&self, _req: &mut Environ, args: &RouteMatch, _body: Option<Value>) -> Result<Value, Fault> {
        let images = self.images.lock().unwrap();
        Ok(json!(images[position(&images, &args["image_id"])?]))
    }

    fn delete(&self, _req: &mut Environ, args: &RouteMatch, _body: Option<Value>) -> Result<Value, Fault> {
        let mut images = self.images.lock().unwrap();
        let at = position(&images, &args["image_id"])?;
        images.remove(at);
        Ok(Value::Null)
    }

    fn add_tag(&self, _req: &mut Environ, args: &RouteMatch, _body: Option<Value>) -> Result<Value, Fault> {
        let mut images = self.images.lock().unwrap();
        let at = position(&images, &args["image_id"])?;
        let (tags, tag_value) = (&mut images[at].tags, &args["tag_value"]);
        if !tags.iter().any(|t| t == tag_value) {
            tags.push(tag_value.to_owned());
        }
        Ok(Value::Null)
    }
}

struct ImagesSerializer;

impl ImagesSerializer {
    fn default(&self, response: &mut Response, result: &Value) {
        response.set_content_type("application/json");
        response.set_body(result.to_string());
    }
}

impl Serializer for ImagesSerializer {
    type Input = Value;

    fn serialize(
        &self,
        action: &str,
        result: Value,
        request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body {
        let mut response = Response::new();
        match action {
            "create" => {
                response.set_status_code(201);
                response.set_location(&format!("/images/{}", result["id"].as_str().unwrap_or_default()));
                self.default(&mut response, &result);
            }
            "delete" | "add_tag" => response.set_status_code(204),
            _ => self.default(&mut response, &result),
        }
        response.call(request, start_response)
    }
}

fn admin_only_writes<A: Application>(app: A) -> impl Application {
    middleware(app, |req: &mut Request, app: &A| {
        if req.method() != "GET" && req.header("X-Roles") != Some("admin") {
            return Response::from(exc::HTTPForbidden().with_explanation("Only admins may change images."));
        }
        req.get_response(app)
    })
}

fn request_id<A: Application>(app: A) -> impl Application {
    let served = AtomicU64::new(0);
    middleware(app, move |req: &mut Request, app: &A| {
        let mut response = req.get_response(app);
        let n = served.fetch_add(1, Ordering::SeqCst) + 1;
        response.set_header("x-openstack-request-id", format!("req-{n}"));
        response
    })
}

fn api(mut mapper: Mapper) -> Router {
    let reject_method_resource = Arc::new(RejectMethodController::resource());
    let images_resource = Arc::new(
        Resource::new(ImagesController::default(), JSONRequestDeserializer, ImagesSerializer)
            .action("index", ImagesController::index)
            .action("create", ImagesController::create)
            .action("show", ImagesController::show)
            .action("delete", ImagesController::delete)
            .action("add_tag", ImagesController::add_tag),
    );
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
        .connect(None, "/images/{image_id}")
        .controller(images_resource.clone())
        .action("delete")
        .conditions(&["DELETE"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "GET, DELETE");
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(images_resource.clone())
        .action("add_tag")
        .conditions(&["PUT"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(reject_method_resource.clone())
        .action("reject")
        .arg("allowed_methods", "PUT");
    Router::new(mapper)
}

fn main() {
    let application = request_id(admin_only_writes(api(Mapper::new())));
    let port = std::env::args()
        .nth(1)
        .map_or(8000, |p| p.parse().expect("PORT must be a number"));
    let httpd = make_server("127.0.0.1", port, application).expect("cannot listen");
    println!("Serving on port {}...", httpd.local_addr().unwrap().port());
    httpd.serve_forever().unwrap();
}
