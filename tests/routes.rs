//! Routes, Glance's Router and Resource, and Paste's URLMap over a real server: a
//! Glance-shaped API (`/versions` and `/` by the version app, `/v2` by the v2 router) with
//! the Images routes of glance/api/v2/router.py, checked for the matched ids, the body
//! passed to the controllers, SCRIPT_NAME from the mount, 404, 405 with its Allow, 501 and
//! the redirect of `/v2`.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use may_wsgi::routes::{
    BytesDeserializer, Fault, Mapper, RejectMethodController, Resource, RouteMatch, Router, Serializer, URLGenerator,
};
use may_wsgi::urlmap::URLMap;
use may_wsgi::{Body, Environ, StartResponse};

/// An image: its name, its data, its tags.
type Image = (String, Vec<u8>, Vec<String>);

/// What the controllers share: the images by id.
#[derive(Default)]
struct Store {
    images: Mutex<BTreeMap<String, Image>>,
}

/// glance.api.v2.images.ImagesController, reduced to what the routes exercise.
struct ImagesController {
    store: Arc<Store>,
}

/// Every action answers text; the serializer picks the status.
type Reply = Result<String, Fault>;

fn where_(req: &Environ) -> String {
    format!(
        "script={} path={}",
        req.get_or("SCRIPT_NAME", ""),
        req.get_or("PATH_INFO", "")
    )
}

impl ImagesController {
    fn index(&self, _req: &mut Environ, _args: &RouteMatch, _body: Vec<u8>) -> Reply {
        let images = self.store.images.lock().unwrap();
        Ok(format!(
            "images [{}]",
            images.keys().cloned().collect::<Vec<_>>().join(",")
        ))
    }

    fn create(&self, _req: &mut Environ, _args: &RouteMatch, body: Vec<u8>) -> Reply {
        let name = String::from_utf8(body).map_err(|_| Fault::bad_request("Malformed body."))?;
        let mut images = self.store.images.lock().unwrap();
        let id = format!("img{}", images.len() + 1);
        images.insert(id.clone(), (name, Vec::new(), Vec::new()));
        Ok(id)
    }

    fn show(&self, req: &mut Environ, args: &RouteMatch, _body: Vec<u8>) -> Reply {
        let id = args.get("image_id").unwrap_or("");
        let images = self.store.images.lock().unwrap();
        let (name, _, tags) = images.get(id).ok_or_else(Fault::not_found)?;
        // routes.url makes links with the mount's SCRIPT_NAME in front.
        let url = req.value::<URLGenerator>("routes.url").expect("routes.url");
        let link = url.url_for(Some("image"), &[("image_id", id)]).unwrap_or_default();
        Ok(format!(
            "show image_id={id} name={name} tags=[{}] self={link} {}",
            tags.join(","),
            where_(req)
        ))
    }

    fn update(&self, req: &mut Environ, args: &RouteMatch, body: Vec<u8>) -> Reply {
        let id = args.get("image_id").unwrap_or("");
        let mut images = self.store.images.lock().unwrap();
        let image = images.get_mut(id).ok_or_else(Fault::not_found)?;
        image.0 = String::from_utf8_lossy(&body).into_owned();
        Ok(format!("update image_id={id} name={} {}", image.0, where_(req)))
    }

    fn delete(&self, _req: &mut Environ, args: &RouteMatch, _body: Vec<u8>) -> Reply {
        let id = args.get("image_id").unwrap_or("");
        self.store
            .images
            .lock()
            .unwrap()
            .remove(id)
            .ok_or_else(Fault::not_found)?;
        Ok(String::new())
    }
}

/// glance.api.v2.image_data.ImageDataController.
struct ImageDataController {
    store: Arc<Store>,
}

impl ImageDataController {
    fn upload(&self, _req: &mut Environ, args: &RouteMatch, data: Vec<u8>) -> Reply {
        let id = args.get("image_id").unwrap_or("");
        let mut images = self.store.images.lock().unwrap();
        images.get_mut(id).ok_or_else(Fault::not_found)?.1 = data;
        Ok(String::new())
    }

    fn download(&self, _req: &mut Environ, args: &RouteMatch, _body: Vec<u8>) -> Reply {
        let id = args.get("image_id").unwrap_or("");
        let images = self.store.images.lock().unwrap();
        let (_, data, _) = images.get(id).ok_or_else(Fault::not_found)?;
        Ok(String::from_utf8_lossy(data).into_owned())
    }
}

/// glance.api.v2.image_tags.Controller.
struct TagsController {
    store: Arc<Store>,
}

impl TagsController {
    fn update(&self, _req: &mut Environ, args: &RouteMatch, _body: Vec<u8>) -> Reply {
        let (id, tag) = (args.get("image_id").unwrap_or(""), args.get("tag_value").unwrap_or(""));
        let mut images = self.store.images.lock().unwrap();
        let tags = &mut images.get_mut(id).ok_or_else(Fault::not_found)?.2;
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
        Ok(String::new())
    }

    fn delete(&self, _req: &mut Environ, args: &RouteMatch, _body: Vec<u8>) -> Reply {
        let (id, tag) = (args.get("image_id").unwrap_or(""), args.get("tag_value").unwrap_or(""));
        let mut images = self.store.images.lock().unwrap();
        let tags = &mut images.get_mut(id).ok_or_else(Fault::not_found)?.2;
        let before = tags.len();
        tags.retain(|t| t != tag);
        if tags.len() == before {
            return Err(Fault::not_found());
        }
        Ok(String::new())
    }
}

/// Glance's ResponseSerializers: 201 for create, 204 for what returns nothing.
struct GlanceSerializer;

impl Serializer for GlanceSerializer {
    type Input = String;

    fn serialize(
        &self,
        action: &str,
        result: String,
        _request: &mut Environ,
        start_response: &mut StartResponse,
    ) -> Body {
        match action {
            "create" => {
                start_response.call("201 Created", [("Content-Type", "text/plain")]);
                Body::from(result)
            }
            "delete" | "upload" => {
                start_response.call("204 No Content", [("Content-Type", "text/plain")]);
                Body::Empty
            }
            "update" if result.is_empty() => {
                start_response.call("204 No Content", [("Content-Type", "text/plain")]);
                Body::Empty
            }
            "download" => {
                start_response.call("200 OK", [("Content-Type", "application/octet-stream")]);
                Body::from(result)
            }
            _ => {
                start_response.call("200 OK", [("Content-Type", "text/plain")]);
                Body::from(result)
            }
        }
    }
}

/// glance/api/v2/router.py's API, for the Images routes.
fn api_v2() -> Router {
    let store = Arc::new(Store::default());
    let mut mapper = Mapper::new();
    let reject_method_resource = Arc::new(RejectMethodController::resource());

    let images_resource = Arc::new(
        Resource::new(
            ImagesController { store: store.clone() },
            BytesDeserializer,
            GlanceSerializer,
        )
        .action("index", ImagesController::index)
        .action("create", ImagesController::create)
        .action("show", ImagesController::show)
        .action("update", ImagesController::update)
        .action("delete", ImagesController::delete),
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
        .action("update")
        .conditions(&["PATCH"]);
    mapper
        .connect(Some("image"), "/images/{image_id}")
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
        .arg("allowed_methods", "GET, PATCH, DELETE");

    // The file and tag routes have no reject route here: the router's own 405 answers.
    let image_data_resource = Arc::new(
        Resource::new(
            ImageDataController { store: store.clone() },
            BytesDeserializer,
            GlanceSerializer,
        )
        .action("download", ImageDataController::download)
        .action("upload", ImageDataController::upload),
    );
    mapper
        .connect(None, "/images/{image_id}/file")
        .controller(image_data_resource.clone())
        .action("download")
        .conditions(&["GET"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}/file")
        .controller(image_data_resource.clone())
        .action("upload")
        .conditions(&["PUT"]);

    let image_tags_resource = Arc::new(
        Resource::new(TagsController { store }, BytesDeserializer, GlanceSerializer)
            .action("update", TagsController::update)
            .action("delete", TagsController::delete),
    );
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(image_tags_resource.clone())
        .action("update")
        .conditions(&["PUT"])
        .arg("body_reject", "True");
    mapper
        .connect(None, "/images/{image_id}/tags/{tag_value}")
        .controller(image_tags_resource.clone())
        .action("delete")
        .conditions(&["DELETE"])
        .arg("body_reject", "True");

    Router::new(mapper)
}

/// glance.api.versions: the version document at `/` (300) and `/versions` (200).
fn apiversions(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let (status, body) = match environ.get_or("PATH_INFO", "") {
        "/" | "" => ("300 Multiple Choices", "versions v2.17 (root)"),
        "/versions" => ("200 OK", "versions v2.17"),
        _ => ("404 Not Found", "no such version document"),
    };
    start_response.call(status, [("Content-Type", "application/json")]);
    Body::from(body)
}

/// [composite:rootapp] use = egg:Paste#urlmap, / = apiversions, /v2 = apiv2app
fn rootapp() -> URLMap {
    let mut rootapp = URLMap::new();
    rootapp.insert("/", apiversions);
    rootapp.insert("/v2", api_v2());
    rootapp
}

fn request(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> Response {
    let mut raw = format!("{method} {target} HTTP/1.1\r\nHost: glance.test\r\nConnection: close\r\n");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    bytes.extend_from_slice(body);
    let mut client = Client::connect(addr);
    client.send(&bytes);
    client.response_to(method).unwrap()
}

fn glance_images_api_over_a_server() {
    let server = start(rootapp(), config());
    let addr = server.local_addr();

    // The version documents, by URLMap's root.
    let r = request(addr, "GET", "/", b"");
    assert_eq!((r.status, r.text()), (300, "versions v2.17 (root)".to_owned()));
    let r = request(addr, "GET", "/versions", b"");
    assert_eq!((r.status, r.text()), (200, "versions v2.17".to_owned()));
    // "/v2images" is not under "/v2": the root app has it.
    let r = request(addr, "GET", "/v2images", b"");
    assert_eq!((r.status, r.text()), (404, "no such version document".to_owned()));

    // /v2 itself redirects to /v2/ (Router's mapper.redirect("", "/")).
    let r = request(addr, "GET", "/v2", b"");
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("Location"),
        Some("http://glance.test/v2/"),
        "absolute, as webob makes it"
    );

    // Create, list, show with the matched id echoed and SCRIPT_NAME from the mount.
    let r = request(addr, "POST", "/v2/images", b"cirros");
    assert_eq!((r.status, r.text()), (201, "img1".to_owned()));
    let r = request(addr, "POST", "/v2/images", b"fedora");
    assert_eq!((r.status, r.text()), (201, "img2".to_owned()));
    let r = request(addr, "GET", "/v2/images", b"");
    assert_eq!((r.status, r.text()), (200, "images [img1,img2]".to_owned()));
    let r = request(addr, "GET", "/v2/images/img1", b"");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        "show image_id=img1 name=cirros tags=[] self=/v2/images/img1 script=/v2 path=/images/img1"
    );

    // PATCH, then the tags and the file.
    let r = request(addr, "PATCH", "/v2/images/img1", b"cirros-0.6");
    assert_eq!(
        (r.status, r.text()),
        (
            200,
            "update image_id=img1 name=cirros-0.6 script=/v2 path=/images/img1".to_owned()
        )
    );
    let r = request(addr, "PUT", "/v2/images/img1/tags/small", b"");
    assert_eq!(r.status, 204);
    let r = request(addr, "PUT", "/v2/images/img1/tags/x%20y", b"");
    assert_eq!(r.status, 204, "a tag with a space, percent-encoded");
    let r = request(addr, "GET", "/v2/images/img1", b"");
    assert!(r.text().contains("tags=[small,x y]"), "{}", r.text());
    let r = request(addr, "DELETE", "/v2/images/img1/tags/small", b"");
    assert_eq!(r.status, 204);
    let r = request(addr, "DELETE", "/v2/images/img1/tags/small", b"");
    assert_eq!(r.status, 404, "the controller's HTTPNotFound");
    let data: Vec<u8> = (0..50_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let r = request(addr, "PUT", "/v2/images/img1/file", &data);
    assert_eq!(r.status, 204);
    let r = request(addr, "GET", "/v2/images/img1/file", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.body, data);

    // body_reject=True: a body on GET is a 400.
    let r = request(addr, "GET", "/v2/images/img1", b"{}");
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("A body is not expected with this request."),
        "{}",
        r.text()
    );

    // DELETE, then the image is gone.
    let r = request(addr, "DELETE", "/v2/images/img2", b"");
    assert_eq!(r.status, 204);
    let r = request(addr, "GET", "/v2/images/img2", b"");
    assert_eq!(r.status, 404);
}

fn misses_over_a_server() {
    let server = start(rootapp(), config());
    let addr = server.local_addr();

    // 404: no route for the path.
    for path in [
        "/v2/",
        "/v2/nothing",
        "/v2/images/abc/",
        "/v2/images/abc/file/x",
        "/v2/images/abc/tags",
    ] {
        let r = request(addr, "GET", path, b"");
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"), "{path}");
        assert!(r.text().starts_with("404 Not Found\n"), "{path}: {}", r.text());
    }

    // 405 from Glance's RejectMethodController routes...
    let r = request(addr, "PUT", "/v2/images", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, POST"));
    let r = request(addr, "POST", "/v2/images/abc", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, PATCH, DELETE"));
    // ... which match any method, an unknown one too, as in Glance.
    let r = request(addr, "BREW", "/v2/images/abc", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, PATCH, DELETE"));
    // 405 from the router for paths without a reject route: the methods that would match.
    let r = request(addr, "POST", "/v2/images/abc/file", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, PUT"));
    let r = request(addr, "HEAD", "/v2/images/abc/tags/t", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("PUT, DELETE"));
    assert!(r.body.is_empty(), "HEAD has no body");
    let r = request(addr, "GET", "/v2/images/abc/tags/t", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("PUT, DELETE"));

    // 501: a method the server does not implement, where no route matches.
    for path in ["/v2/images/abc/file", "/v2/nothing"] {
        let r = request(addr, "BREW", path, b"");
        assert_eq!(r.status, 501, "{path}");
        assert_eq!(r.header("Allow"), None);
        assert!(
            r.text().contains("The request method BREW is not implemented"),
            "{}",
            r.text()
        );
    }
}

fn keep_alive_through_the_router() {
    // Several routed requests on one connection, answers in order.
    let server = start(rootapp(), config());
    let mut client = Client::connect(server.local_addr());
    client.send(
        b"POST /v2/images HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nalpha\
          GET /v2/images/img1 HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /v2/images/img1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n\
          GET /versions HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    let r = client.response();
    assert_eq!((r.status, r.text()), (201, "img1".to_owned()));
    let r = client.response();
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("show image_id=img1 name=alpha"), "{}", r.text());
    let r = client.response();
    assert_eq!(r.status, 405);
    let r = client.response();
    assert_eq!((r.status, r.text()), (200, "versions v2.17".to_owned()));
    assert!(client.is_closed());
}

both_classes!(
    glance_images_api_over_a_server,
    misses_over_a_server,
    keep_alive_through_the_router,
);
