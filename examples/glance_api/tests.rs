//! The port's behaviour, checked through `may_wsgi::testing::TestApp` (webtest's
//! `TestApp`) on the whole pipeline: every status and error body of the spec's Images API
//! subset (`/work/shared/glance-images-v2.md` sections 1-10), each against a fresh data
//! directory.

use std::path::PathBuf;

use may_wsgi::testing::{TestApp, TestResponse};
use serde_json::Value;

use super::*;

const V21: &str = "application/openstack-images-v2.1-json-patch";
const V20: &str = "application/openstack-images-v2.0-json-patch";

struct Fixture {
    app: TestApp<Box<dyn Application>>,
    dir: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(format!("glance-api-test-{}", timeutils::uuid4()));
    let app = app_on(&dir);
    Fixture { app, dir }
}

fn app_on(dir: &Path) -> TestApp<Box<dyn Application>> {
    let gateway = Arc::new(Gateway::open(dir).unwrap());
    let app: Box<dyn Application> = Box::new(init_app(gateway));
    TestApp::new(app)
}

fn json(r: &TestResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

/// webob's plain-text error body for an explanation.
fn plain(status: &str, explanation: &str) -> String {
    format!("{status}\n\n{explanation}\n\n   ")
}

/// webob's plain-text error body for a detail after the stock sentence.
fn plain_detail(status: &str, stock: &str, detail: &str) -> String {
    format!("{status}\n\n{stock}\n\n {detail}  ")
}

impl Fixture {
    fn create(&mut self, body: &str) -> Value {
        let r = self.app.post_json("/v2/images", body).expect_status(201);
        json(&r)
    }

    fn create_raw(&mut self) -> String {
        let image = self.create(r#"{"name": "cirros", "disk_format": "raw", "container_format": "bare"}"#);
        image["id"].as_str().unwrap().to_owned()
    }

    fn upload(&mut self, id: &str, data: &[u8]) -> TestResponse {
        self.app
            .put(&format!("/v2/images/{id}/file"), data.to_vec())
            .content_type("application/octet-stream")
            .send()
    }

    fn patch(&mut self, id: &str, body: &str) -> TestResponse {
        self.app
            .patch(&format!("/v2/images/{id}"), body)
            .content_type(V21)
            .send()
    }

    fn show(&mut self, id: &str) -> Value {
        json(&self.app.get(&format!("/v2/images/{id}")).expect_status(200))
    }
}

#[test]
fn versions_and_negotiation() {
    let mut f = fixture();
    let r = f.app.get("/versions").expect_status(200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert!(r.header("x-openstack-request-id").is_none());
    let doc = json(&r);
    let versions = doc["versions"].as_array().unwrap();
    assert_eq!(versions[0]["id"], "v2.18");
    assert_eq!(versions[0]["status"], "CURRENT");
    assert_eq!(versions[0]["links"][0]["href"], "http://localhost/v2/");
    assert_eq!(versions.last().unwrap()["id"], "v2.0");
    assert!(r.text().starts_with(r#"{"versions": [{"id": "v2.18", "status": "CURRENT", "links": [{"rel": "self", "href": "http://localhost/v2/"}]}, "#));
    for path in ["/", "/nope", "/v3/images", "/v1/images"] {
        let r = f.app.get(path).expect_status(300);
        assert_eq!(json(&r), doc, "{path}");
    }
    // `/v2` redirects to `/v2/`, which matches nothing.
    let r = f.app.get("/v2").expect_status(302);
    assert_eq!(r.header("Location"), Some("http://localhost/v2/"));
    let r = f.app.get("/v2/").expect_status(404);
    assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
    // Any allowed version in the path, or the vendor media type.
    f.app.get("/v2.1/images").expect_status(200);
    f.app
        .get("/images")
        .header("Accept", "application/vnd.openstack.images-v2.0")
        .expect_status(200);
}

#[test]
fn reject_routes_answer_405_with_allow() {
    let mut f = fixture();
    let id = f.create_raw();
    let cases = [
        ("PUT", "/v2/images".to_owned(), "GET, POST"),
        ("HEAD", format!("/v2/images/{id}"), "GET, PATCH, DELETE"),
        ("POST", format!("/v2/images/{id}"), "GET, PATCH, DELETE"),
        ("HEAD", format!("/v2/images/{id}/file"), "GET, PUT"),
        ("DELETE", format!("/v2/images/{id}/file"), "GET, PUT"),
        ("GET", format!("/v2/images/{id}/tags/x"), "PUT, DELETE"),
        ("POST", "/v2/schemas/image".to_owned(), "GET"),
        ("DELETE", "/v2/schemas/images".to_owned(), "GET"),
    ];
    for (method, path, allow) in cases {
        let r = f.app.request(method, &path).send();
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
        if method == "HEAD" {
            assert!(r.body.is_empty());
            assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
        } else {
            assert_eq!(
                r.text(),
                format!("405 Method Not Allowed\n\nThe method {method} is not allowed for this resource. \n\n ")
            );
        }
    }
    let r = f.app.request("BREW", "/v2/nowhere").send();
    assert_eq!(r.status, 501);
    let r = f.app.get("/v2/nowhere").expect_status(404);
    assert_eq!(r.text(), plain("404 Not Found", "The resource could not be found."));
}

#[test]
fn schemas_are_served() {
    let mut f = fixture();
    let r = f.app.get("/v2/schemas/image").expect_status(200);
    assert_eq!(r.body.len(), 4071);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(json(&r)["additionalProperties"]["type"], "string");
    let r = f.app.get("/v2/schemas/images").expect_status(200);
    assert_eq!(json(&r)["properties"]["images"]["items"]["name"], "image");
}

#[test]
fn create_and_show() {
    let mut f = fixture();
    let r = f
        .app
        .post(
            "/v2/images",
            r#"{"name": "cirros", "os_distro": "cirros", "tags": ["a"]}"#,
        )
        .expect_status(201);
    let image = json(&r);
    let id = image["id"].as_str().unwrap();
    assert_eq!(
        r.header("Location"),
        Some(format!("http://localhost/v2/images/{id}").as_str())
    );
    assert_eq!(
        r.header("OpenStack-image-import-methods"),
        Some("glance-direct,web-download,copy-image")
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
    for (k, v) in [
        ("status", "queued"),
        ("visibility", "shared"),
        ("self", &format!("/v2/images/{id}")),
        ("file", &format!("/v2/images/{id}/file")),
        ("schema", "/v2/schemas/image"),
        ("os_distro", "cirros"),
    ] {
        assert_eq!(image[k], v, "{k}");
    }
    for k in [
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
        "disk_format",
    ] {
        assert!(image[k].is_null(), "{k}");
    }
    assert_eq!(image["min_ram"], 0);
    assert_eq!(image["protected"], false);
    assert_eq!(image["tags"], serde_json::json!(["a"]));
    assert_eq!(image["created_at"].as_str().unwrap().len(), 20);
    // Glance's key order: custom properties first, the links last.
    let text = r.text();
    assert!(
        text.starts_with(r#"{"os_distro": "cirros", "name": "cirros", "disk_format": null, "#),
        "{text}"
    );
    assert!(text.ends_with(&format!(
        r#""self": "/v2/images/{id}", "file": "/v2/images/{id}/file", "schema": "/v2/schemas/image"}}"#
    )));
    assert_eq!(f.show(id), image);

    let chosen = "8a6a5a0e-2b3c-4d5e-8f90-123456789abc";
    let image = f.create(&format!(r#"{{"id": "{chosen}", "min_disk": 2}}"#));
    assert_eq!(image["id"], chosen);
    assert_eq!(image["min_disk"], 2);
}

#[test]
fn create_errors() {
    let mut f = fixture();
    let existing = f.create_raw();
    let cases: Vec<(String, u16, String)> = vec![
        (
            "{".into(),
            400,
            plain("400 Bad Request", "Malformed JSON in request body."),
        ),
        ("[1, 2]".into(), 400, String::new()),
        (r#"{"disk_format": "nope"}"#.into(), 400, String::new()),
        (r#"{"container_format": "nope"}"#.into(), 400, String::new()),
        (r#"{"prop": 5}"#.into(), 400, String::new()),
        (format!(r#"{{"name": "{}"}}"#, "x".repeat(256)), 400, String::new()),
        (r#"{"id": "abc"}"#.into(), 400, String::new()),
        (
            r#"{"min_disk": -1}"#.into(),
            400,
            plain(
                "400 Bad Request",
                "Invalid value '-1' for parameter 'min_disk': Cannot be a negative value",
            ),
        ),
        (
            r#"{"status": "active"}"#.into(),
            403,
            plain("403 Forbidden", "Attribute 'status' is read-only."),
        ),
        (
            r#"{"checksum": "abc"}"#.into(),
            403,
            plain("403 Forbidden", "Attribute 'checksum' is read-only."),
        ),
        (
            r#"{"self": "x"}"#.into(),
            403,
            plain("403 Forbidden", "Attribute 'self' is read-only."),
        ),
        (
            format!(r#"{{"id": "{existing}"}}"#),
            409,
            plain("409 Conflict", &format!("Image ID {existing} already exists!")),
        ),
    ];
    for (body, status, text) in cases {
        let r = f.app.post_json("/v2/images", body.as_str()).send();
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"));
        if !text.is_empty() {
            assert_eq!(r.text(), text, "{body}");
        }
    }
    let r = f.app.post_json("/v2/images", r#"{"disk_format": "nope"}"#).send();
    assert!(
        r.text().starts_with(
            "400 Bad Request\n\nProvided object does not match schema 'image': 'nope' is not one of [None, 'ami', "
        ),
        "{}",
        r.text()
    );
    let r = f.app.post_json("/v2/images", r#"{"prop": 5}"#).send();
    assert!(r.text().contains("5 is not of type 'string'"));
    // No body at all.
    let r = f.app.post("/v2/images", "").send();
    assert_eq!(r.text(), plain("400 Bad Request", "Body expected in request."));
    // Error bodies follow Accept.
    let r = f
        .app
        .get("/v2/images/missing")
        .header("Accept", "application/json")
        .expect_status(404);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.text(),
        r#"{"message": "No image found with ID missing<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}"#
    );
    let r = f
        .app
        .get("/v2/images/missing")
        .header("Accept", "text/html")
        .expect_status(404);
    assert!(r.text().contains("<title>404 Not Found</title>"));
    let r = f.app.get("/v2/images/missing").expect_status(404);
    assert_eq!(r.text(), plain("404 Not Found", "No image found with ID missing"));
    assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
}

#[test]
fn list_pages_sorts_and_filters() {
    let mut f = fixture();
    let mut ids = Vec::new();
    for (name, grp) in [("c", "g1"), ("a", "g2"), ("b", "g1"), ("d", "g2"), ("e", "g1")] {
        let image = f.create(&format!(r#"{{"name": "{name}", "grp": "{grp}"}}"#));
        ids.push(image["id"].as_str().unwrap().to_owned());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let names = |v: &Value| -> Vec<String> {
        v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = f.app.get("/v2/images").expect_status(200);
    let body = json(&r);
    assert_eq!(names(&body), ["e", "d", "b", "a", "c"], "created_at desc by default");
    assert_eq!(body["first"], "/v2/images");
    assert_eq!(body["schema"], "/v2/schemas/images");
    assert!(body.get("next").is_none());

    let body = json(&f.app.get("/v2/images?limit=2").expect_status(200));
    assert_eq!(names(&body), ["e", "d"]);
    assert_eq!(body["first"], "/v2/images?limit=2");
    assert_eq!(body["next"], format!("/v2/images?limit=2&marker={}", ids[3]));
    let body = json(&f.app.get(body["next"].as_str().unwrap()).expect_status(200));
    assert_eq!(names(&body), ["b", "a"]);
    let body = json(&f.app.get(body["next"].as_str().unwrap()).expect_status(200));
    assert_eq!(names(&body), ["c"]);
    assert!(body.get("next").is_none());
    // A full last page has a next, the page after is empty.
    let body = json(
        &f.app
            .get(&format!("/v2/images?limit=1&marker={}", ids[1]))
            .expect_status(200),
    );
    assert_eq!(names(&body), ["c"]);
    let body = json(&f.app.get(body["next"].as_str().unwrap()).expect_status(200));
    assert!(names(&body).is_empty() && body.get("next").is_none());

    let body = json(&f.app.get("/v2/images?sort=name:desc&limit=4").expect_status(200));
    assert_eq!(names(&body), ["e", "d", "c", "b"]);
    assert_eq!(body["first"], "/v2/images?sort=name%3Adesc&limit=4");
    assert!(body["next"]
        .as_str()
        .unwrap()
        .starts_with("/v2/images?sort=name%3Adesc&limit=4&marker="));
    let body = json(&f.app.get("/v2/images?sort_key=name&sort_dir=asc").expect_status(200));
    assert_eq!(names(&body), ["a", "b", "c", "d", "e"]);
    let body = json(&f.app.get("/v2/images?sort=name").expect_status(200));
    assert_eq!(names(&body), ["e", "d", "c", "b", "a"], "a key alone sorts desc");
    let body = json(&f.app.get("/v2/images?grp=g1&sort=name:asc").expect_status(200));
    assert_eq!(names(&body), ["b", "c", "e"]);
    let body = json(&f.app.get("/v2/images?name=in:a,b&sort=name:asc").expect_status(200));
    assert_eq!(names(&body), ["a", "b"]);
    let body = json(&f.app.get("/v2/images?name=a").expect_status(200));
    assert_eq!(names(&body), ["a"]);
    let body = json(&f.app.get("/v2/images?status=bogus").expect_status(200));
    assert!(names(&body).is_empty());
    let body = json(&f.app.get("/v2/images?limit=0").expect_status(200));
    assert!(names(&body).is_empty() && body.get("next").is_none());
    let body = json(&f.app.get("/v2/images?size_min=1").expect_status(200));
    assert!(names(&body).is_empty(), "images without data have no size");

    let bad = [
        ("limit=-1", "limit param must be positive".to_owned()),
        ("limit=abc", "limit param must be an integer".to_owned()),
        ("marker=nope", "No image found with ID nope".to_owned()),
        (
            "sort_key=bogus",
            "Invalid sort key: bogus. It must be one of the following: name, status, container_format, disk_format, size, id, created_at, updated_at.".to_owned(),
        ),
        ("sort=name:sideways", "Invalid sort direction: sideways".to_owned()),
        ("sort=name&sort_key=id", "Old and new sorting syntax cannot be combined".to_owned()),
        ("visibility=bogus", "Invalid visibility value: bogus".to_owned()),
        ("size_min=abc", "Unable to filter on a range with a non-numeric value.".to_owned()),
    ];
    for (query, msg) in bad {
        let r = f.app.get(&format!("/v2/images?{query}")).expect_status(400);
        assert_eq!(r.text(), plain("400 Bad Request", &msg), "{query}");
    }
}

#[test]
fn list_hides_deleted_hidden_and_community() {
    let mut f = fixture();
    let gone = f.create_raw();
    f.app.delete(&format!("/v2/images/{gone}")).expect_status(204);
    f.create(r#"{"name": "hidden", "os_hidden": true}"#);
    f.create(r#"{"name": "comm", "visibility": "community"}"#);
    f.create(r#"{"name": "pub", "visibility": "public"}"#);
    let names = |f: &mut Fixture, q: &str| -> Vec<String> {
        let body = json(&f.app.get(&format!("/v2/images{q}")).expect_status(200));
        body["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&mut f, ""), ["pub"]);
    assert_eq!(names(&mut f, "?os_hidden=true"), ["hidden"]);
    assert_eq!(names(&mut f, "?visibility=community"), ["comm"]);
    assert_eq!(names(&mut f, "?visibility=public"), ["pub"]);
    assert_eq!(names(&mut f, "?visibility=all&sort=name:asc"), ["comm", "pub"]);
}

#[test]
fn patch_ops_and_errors() {
    let mut f = fixture();
    let image = f.create(r#"{"name": "n", "grp": "g1"}"#);
    let id = image["id"].as_str().unwrap().to_owned();
    let r = f.patch(
        &id,
        r#"[{"op": "add", "path": "/os_distro", "value": "cirros"},
            {"op": "add", "path": "/grp", "value": "g2"},
            {"op": "replace", "path": "/disk_format", "value": "raw"},
            {"op": "add", "path": "/container_format", "value": "bare"},
            {"op": "add", "path": "/tags", "value": ["x", "y"]},
            {"op": "replace", "path": "/name", "value": "m"},
            {"op": "replace", "path": "/protected", "value": true}]"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let image = json(&r);
    assert_eq!(image["os_distro"], "cirros");
    assert_eq!(image["grp"], "g2");
    assert_eq!(image["disk_format"], "raw");
    assert_eq!(image["container_format"], "bare");
    assert_eq!(image["tags"], serde_json::json!(["x", "y"]));
    assert_eq!(image["name"], "m");
    assert_eq!(f.show(&id), image, "the update is stored");
    let r = f.patch(&id, r#"[{"op": "remove", "path": "/grp"}]"#);
    assert_eq!(r.status, 200);
    assert!(json(&r).get("grp").is_none());
    // The old media type.
    let r = f
        .app
        .patch(&format!("/v2/images/{id}"), r#"[{"replace": "/name", "value": "old"}]"#)
        .content_type(V20)
        .expect_status(200);
    assert_eq!(json(&r)["name"], "old");

    let conflict = "There was a conflict when trying to complete your request.";
    let forbidden = "Access was denied to this resource.";
    let cases = [
        (
            r#"[{"op": "replace", "path": "/nope", "value": "x"}]"#,
            409,
            plain_detail("409 Conflict", conflict, "Property nope does not exist."),
        ),
        (
            r#"[{"op": "remove", "path": "/nope"}]"#,
            409,
            plain_detail("409 Conflict", conflict, "Property nope does not exist."),
        ),
        (
            r#"[{"op": "remove", "path": "/name"}]"#,
            403,
            plain_detail("403 Forbidden", forbidden, "Property name may not be removed."),
        ),
        (
            r#"[{"op": "replace", "path": "/status", "value": "active"}]"#,
            403,
            plain("403 Forbidden", "Attribute 'status' is read-only."),
        ),
        (
            r#"[{"op": "replace", "path": "/id", "value": "x"}]"#,
            403,
            plain("403 Forbidden", "Attribute 'id' is read-only."),
        ),
        (
            r#"[{"op": "test", "path": "/name", "value": "x"}]"#,
            400,
            plain(
                "400 Bad Request",
                "Invalid operation: `test`. It must be one of the following: add, remove, replace.",
            ),
        ),
        (
            r#"{"op": "add"}"#,
            400,
            plain(
                "400 Bad Request",
                "Request body must be a JSON array of operation objects.",
            ),
        ),
        ("[", 400, plain("400 Bad Request", "Malformed JSON in request body.")),
        (
            r#"[{"op": "replace", "path": "/disk_format", "value": "bogus"}]"#,
            400,
            String::new(),
        ),
        (
            r#"[{"op": "replace", "path": "/min_disk", "value": "big"}]"#,
            400,
            String::new(),
        ),
        (r#"[{"op": "add", "path": "/prop", "value": 5}]"#, 400, String::new()),
        (
            r#"[{"op": "add", "path": "/a/b", "value": "x"}]"#,
            400,
            plain("400 Bad Request", "Invalid JSON pointer for this resource: '/a/b'"),
        ),
    ];
    for (body, status, text) in cases {
        let r = f.patch(&id, body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        if !text.is_empty() {
            assert_eq!(r.text(), text, "{body}");
        }
    }
    assert!(f
        .patch(&id, r#"[{"op": "replace", "path": "/min_disk", "value": "big"}]"#)
        .text()
        .contains("'big' is not of type 'integer'"));
    // v2.1 objects under the v2.0 type.
    let r = f
        .app
        .patch(
            &format!("/v2/images/{id}"),
            r#"[{"op": "add", "path": "/x", "value": "y"}]"#,
        )
        .content_type(V20)
        .expect_status(400);
    assert_eq!(
        r.text(),
        plain(
            "400 Bad Request",
            "Operation objects must contain exactly one member named \"add\", \"remove\", or \"replace\"."
        )
    );
    // Other media types: 415 with Accept-Patch.
    let r = f.app.patch_json(&format!("/v2/images/{id}"), "[]").expect_status(415);
    let both = format!("{V20}, {V21}");
    assert_eq!(r.header("Accept-Patch"), Some(both.as_str()));
    assert_eq!(
        r.text(),
        format!("415 Unsupported Media Type\n\nThe request media type application/json is not supported by this server. \n\n Image PATCH expects Content-Type one of: {both}")
    );
    let r = f.patch("00000000-0000-4000-8000-000000000000", "[]");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        plain(
            "404 Not Found",
            "No image found with ID 00000000-0000-4000-8000-000000000000"
        )
    );
    // protected: true refuses DELETE.
    let r = f.app.delete(&format!("/v2/images/{id}")).expect_status(403);
    assert_eq!(
        r.text(),
        plain(
            "403 Forbidden",
            &format!("Image {id} is protected and cannot be deleted.")
        )
    );
}

#[test]
fn upload_download_and_ranges() {
    let mut f = fixture();
    let id = f.create_raw();
    // Nothing to download yet: 204 without a Content-Type.
    let r = f.app.get(&format!("/v2/images/{id}/file")).expect_status(204);
    assert!(r.body.is_empty() && r.header("Content-Type").is_none());
    let r = f.upload(&id, b"hello world");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    assert_eq!(r.header("Content-Length"), Some("0"));
    assert!(r.header("x-openstack-request-id").is_some());
    let image = f.show(&id);
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], 11);
    assert_eq!(image["virtual_size"], 11);
    assert_eq!(image["checksum"], "5eb63bbbe01eeed093cb22bb8f5acdc3");
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(
        image["os_hash_value"],
        "309ecc489c12d6eb4cc40f50c902f2b4d0ed77ee511a7c7a9bcd3ca86d4cd86f989dd35bc5ff499670da34255b45b0cfd830e81f605dcf7dc5542e93ae9cd76f"
    );
    assert!(f.dir.join("images").join(&id).exists());

    let r = f.app.get(&format!("/v2/images/{id}/file")).expect_status(200);
    assert_eq!(r.body, b"hello world");
    assert_eq!(r.header("Content-Type"), Some("application/octet-stream"));
    assert_eq!(r.header("Content-MD5"), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    assert_eq!(r.header("Content-Length"), Some("11"));

    for (range, content_range, body) in [
        ("bytes=0-4", "bytes 0-4/11", &b"hello"[..]),
        ("bytes=6-", "bytes 6-10/11", b"world"),
        ("bytes=-5", "bytes 6-10/11", b"world"),
        ("bytes=3-100", "bytes 3-10/11", b"lo world"),
    ] {
        let r = f
            .app
            .get(&format!("/v2/images/{id}/file"))
            .header("Range", range)
            .expect_status(206);
        assert_eq!(r.header("Content-Range"), Some(content_range), "{range}");
        assert_eq!(r.body, body, "{range}");
        assert_eq!(r.header("Content-Length"), Some(body.len().to_string().as_str()));
        assert_eq!(r.header("Content-MD5"), Some("5eb63bbbe01eeed093cb22bb8f5acdc3"));
    }
    let stock = "The Range requested is not available.";
    let r = f
        .app
        .get(&format!("/v2/images/{id}/file"))
        .header("Range", "bytes=11-")
        .expect_status(416);
    assert_eq!(
        r.text(),
        plain_detail(
            &r.status_line,
            stock,
            "Invalid start position in Range header. Start position MUST be in the inclusive range [0, 10]."
        )
    );
    let r = f
        .app
        .get(&format!("/v2/images/{id}/file"))
        .header("Range", "garbage")
        .expect_status(416);
    assert_eq!(r.text(), plain_detail(&r.status_line, stock, "Invalid Range header."));
    let r = f
        .app
        .get(&format!("/v2/images/{id}/file"))
        .header("Range", "bytes=0-1,3-4")
        .expect_status(400);
    assert_eq!(
        r.text(),
        plain("400 Bad Request", "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.")
    );
    // The old Content-Range request header.
    let r = f
        .app
        .get(&format!("/v2/images/{id}/file"))
        .header("Content-Range", "bytes 1-3/11")
        .expect_status(206);
    assert_eq!(r.body, b"ell");

    // A second upload: 409.
    let r = f.upload(&id, b"again");
    assert_eq!(r.status, 409);
    assert_eq!(
        r.text(),
        plain(
            "409 Conflict",
            "Image status transition from active to saving is not allowed"
        )
    );
}

#[test]
fn upload_errors_restore_queued() {
    let mut f = fixture();
    let bare = f.create(r#"{"name": "x"}"#)["id"].as_str().unwrap().to_owned();
    let r = f.upload(&bare, b"data");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        plain(
            "400 Bad Request",
            "Properties disk_format, container_format must be set prior to saving data."
        )
    );
    assert_eq!(f.show(&bare)["status"], "queued");

    let id = f.create_raw();
    let path = format!("/v2/images/{id}/file");
    let r = f
        .app
        .put(&path, &b"hello"[..])
        .content_type("application/octet-stream")
        .header("x-openstack-image-size", "9")
        .send();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        plain("400 Bad Request", "Size mismatch: expected 9 bytes, got 5 bytes")
    );
    let r = f
        .app
        .put(&path, &b"hello world"[..])
        .content_type("application/octet-stream")
        .header("x-openstack-image-size", "9")
        .send();
    assert_eq!(
        r.text(),
        plain("400 Bad Request", "Size exceeds: expected 9 bytes, got 11 bytes")
    );
    let image = f.show(&id);
    assert_eq!(image["status"], "queued");
    assert!(image["size"].is_null());
    assert!(!f.dir.join("images").join(&id).exists(), "no partial file");
    let r = f
        .app
        .put(&path, &b"x"[..])
        .content_type("application/octet-stream")
        .header("x-openstack-image-size", "abc")
        .expect_status(400);
    assert_eq!(
        r.text(),
        plain("400 Bad Request", "Invalid or missing image size in request headers.")
    );
    let r = f
        .app
        .put(&path, &b"x"[..])
        .content_type("text/plain")
        .expect_status(415);
    assert_eq!(
        r.text(),
        "415 Unsupported Media Type\n\nThe request media type text/plain is not supported by this server. \n\n Invalid content type text/plain"
    );
    // No Content-Type at all: webob leaves the template's variable as it is.
    let r = f.app.put(&path, &b"x"[..]).expect_status(415);
    assert_eq!(
        r.text(),
        "415 Unsupported Media Type\n\nThe request media type ${CONTENT_TYPE} is not supported by this server. \n\n Invalid content type None"
    );
    let r = f.upload("00000000-0000-4000-8000-000000000000", b"x");
    assert_eq!(r.status, 404);

    // An empty upload succeeds: size 0, the md5 of "", no virtual size.
    let r = f
        .app
        .put(&path, Vec::new())
        .content_type("application/octet-stream")
        .header("Content-Length", "0")
        .send();
    assert_eq!(r.status, 204, "{}", r.text());
    let image = f.show(&id);
    assert_eq!(image["size"], 0);
    assert_eq!(image["checksum"], "d41d8cd98f00b204e9800998ecf8427e");
    assert!(image["virtual_size"].is_null());
}

#[test]
fn chunked_upload_streams() {
    let mut f = fixture();
    let id = f.create_raw();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let r = f
        .app
        .put(&format!("/v2/images/{id}/file"), Vec::new())
        .content_type("application/octet-stream")
        .header("x-openstack-image-size", &data.len().to_string())
        .body_reader(std::io::Cursor::new(data.clone()))
        .send();
    assert_eq!(r.status, 204, "{}", r.text());
    let r = f.app.get(&format!("/v2/images/{id}/file")).expect_status(200);
    assert!(r.body == data, "the download is byte for byte the upload");
}

#[test]
fn delete_then_everything_is_404() {
    let mut f = fixture();
    let id = f.create_raw();
    f.upload(&id, b"abc");
    let r = f.app.delete(&format!("/v2/images/{id}")).expect_status(204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    assert!(!f.dir.join("images").join(&id).exists(), "the data is unlinked");
    let r = f.app.delete(&format!("/v2/images/{id}")).expect_status(404);
    assert_eq!(
        r.text(),
        plain("404 Not Found", &format!("Failed to find image {id} to delete"))
    );
    let r = f.app.get(&format!("/v2/images/{id}")).expect_status(404);
    assert_eq!(
        r.text(),
        plain("404 Not Found", &format!("No image found with ID {id}"))
    );
    f.app.get(&format!("/v2/images/{id}/file")).expect_status(404);
    assert_eq!(f.upload(&id, b"x").status, 404);
    let body = json(&f.app.get("/v2/images").expect_status(200));
    assert!(body["images"].as_array().unwrap().is_empty());
    // A deleted id stays taken, as Glance's soft-deleted row keeps it.
    assert_eq!(
        f.app
            .post_json("/v2/images", format!(r#"{{"id": "{id}"}}"#))
            .send()
            .status,
        409
    );
}

#[test]
fn tags() {
    let mut f = fixture();
    let id = f.create_raw();
    let r = f
        .app
        .put(&format!("/v2/images/{id}/tags/blue"), Vec::new())
        .expect_status(204);
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    f.app
        .put(&format!("/v2/images/{id}/tags/blue"), Vec::new())
        .expect_status(204);
    assert_eq!(f.show(&id)["tags"], serde_json::json!(["blue"]));
    let body = json(&f.app.get("/v2/images?tag=blue").expect_status(200));
    assert_eq!(body["images"].as_array().unwrap().len(), 1);
    f.app.delete(&format!("/v2/images/{id}/tags/blue")).expect_status(204);
    f.app.delete(&format!("/v2/images/{id}/tags/blue")).expect_status(404);
    let r = f.app.put("/v2/images/nope/tags/x", Vec::new()).expect_status(404);
    assert_eq!(r.text(), plain("404 Not Found", "Image nope not found."));
    let long = "t".repeat(256);
    f.app
        .put(&format!("/v2/images/{id}/tags/{long}"), Vec::new())
        .expect_status(400);
}

#[test]
fn a_restart_finds_everything() {
    let dir = std::env::temp_dir().join(format!("glance-api-restart-{}", timeutils::uuid4()));
    let id = {
        let mut f = Fixture {
            app: app_on(&dir),
            dir: PathBuf::new(),
        };
        let id = f.create_raw();
        assert_eq!(f.upload(&id, b"persist me").status, 204);
        f.patch(&id, r#"[{"op": "add", "path": "/k", "value": "v"}]"#);
        id
    };
    let mut f = Fixture { app: app_on(&dir), dir };
    let image = f.show(&id);
    assert_eq!(image["status"], "active");
    assert_eq!(image["k"], "v");
    let r = f.app.get(&format!("/v2/images/{id}/file")).expect_status(200);
    assert_eq!(r.body, b"persist me");
}
