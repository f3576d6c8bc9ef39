//! `may_wsgi::webob` over a real server: a small WebOb-style app (JSON in and out, errors
//! with WebOb's bodies chosen by Accept, a form, a multipart upload, cookies, a conditional
//! GET, ranges) behind `wsgify` middleware, driven over sockets; middleware that rewrites a
//! streamed response, buffered or wrapped; responses mounted as applications.

#![cfg(feature = "json")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::*;
use may_wsgi::routes::{Mapper, Router};
use may_wsgi::urlmap::URLMap;
use may_wsgi::webob::{exc, middleware, wsgify, FormValue, HTTPError, Request, Response, ResponseApp, SetCookie};
use may_wsgi::{Application, Body, Environ, StartResponse};

const FILE: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn api(req: &mut Request) -> Result<Response, HTTPError> {
    let first = req.path_info_pop();
    match (req.method(), first.as_deref(), req.path_info_peek().as_deref()) {
        ("GET", Some("images"), None) => Ok(Response::json(
            &serde_json::json!({"images": [{"id": "1", "name": "cirros"}]}),
        )),
        ("POST", Some("images"), None) => {
            let doc: serde_json::Value = req.json()?;
            let name = doc["name"]
                .as_str()
                .ok_or_else(|| exc::HTTPBadRequest().with_detail("name is required"))?;
            let mut resp = Response::json(&serde_json::json!({"id": "2", "name": name})).with_status(201);
            resp.set_location("images/2");
            Ok(resp)
        }
        (_, Some("images"), None) => Err(exc::HTTPMethodNotAllowed().with_allow(&["GET", "POST"])),
        ("GET", Some("images"), Some("1")) => Ok(Response::json(&serde_json::json!({"id": "1"}))),
        (_, Some("images"), Some(id)) => Err(exc::HTTPNotFound().with_detail(format!("No image found with ID {id}"))),
        ("POST", Some("form"), _) => {
            let form = req.post()?;
            let names: Vec<String> = form
                .getall("name")
                .into_iter()
                .filter_map(FormValue::as_text)
                .map(str::to_owned)
                .collect();
            Ok(Response::text(format!(
                "names={} q={}",
                names.join(","),
                req.get_params().get("q").cloned().unwrap_or_default()
            )))
        }
        ("POST", Some("upload"), _) => {
            let form = req.post()?;
            let file = form
                .get("file")
                .and_then(FormValue::as_file)
                .ok_or_else(|| exc::HTTPBadRequest().with_detail("no file"))?;
            let bytes = file
                .bytes()
                .map_err(|e| exc::HTTPInternalServerError().with_detail(e.to_string()))?;
            let sum: u64 = bytes.iter().map(|&b| u64::from(b)).sum();
            Ok(Response::text(format!(
                "{} {} {} {sum} title={}",
                file.filename,
                file.content_type.as_deref().unwrap_or("-"),
                bytes.len(),
                form.get("title").and_then(FormValue::as_text).unwrap_or("")
            )))
        }
        ("GET", Some("login"), _) => {
            let mut resp = Response::text("logged in");
            resp.set_cookie(&SetCookie::new("session", "s3cr3t").http_only(true).max_age(60))
                .map_err(|e| exc::HTTPInternalServerError().with_detail(e.to_string()))?;
            Ok(resp)
        }
        ("GET", Some("whoami"), _) => match req.cookies().get("session") {
            Some(s) => Ok(Response::text(format!("session {s}"))),
            None => Err(exc::HTTPUnauthorized()),
        },
        ("GET" | "HEAD", Some("file"), _) => {
            let mut resp = Response::new()
                .with_content_type("application/octet-stream")
                .with_body(FILE)
                .with_conditional_response(true);
            resp.set_etag("file-v1", false);
            resp.set_last_modified(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
            resp.headers_mut().set("Accept-Ranges", "bytes");
            Ok(resp)
        }
        ("GET", Some("stream"), _) => Ok(Response::new()
            .with_content_type("text/plain")
            .with_body(Body::iter((0..3).map(|i| format!("piece {i}\n"))))),
        _ => Err(exc::HTTPNotFound()),
    }
}

/// `wsgify.middleware`: stamps every response, and upper-cases streamed text bodies
/// without collecting them.
fn app() -> impl Application {
    middleware(wsgify(api), |req: &mut Request, app: &_| {
        // Read before the call: the app shifts PATH_INFO in the environ both share.
        let streaming = req.path_info() == "/stream";
        let mut resp = req.get_response(app);
        resp.set_header("X-Middleware", "seen");
        if streaming {
            let (status, headers, body) = resp.into_parts();
            let Body::Iter(pieces) = body else {
                return Response::text("expected a lazy body").with_status(500);
            };
            let upper = Body::iter(pieces.map(|p| p.to_ascii_uppercase()));
            return Response::from_parts(status, headers.as_slice().to_vec(), upper);
        }
        resp
    })
}

fn request(server: &may_wsgi::ServerHandle, raw: &str) -> Response_ {
    Response_(exchange(server.local_addr(), raw.as_bytes()))
}

/// The client's view of a response, with a few helpers.
struct Response_(common::Response);

impl std::ops::Deref for Response_ {
    type Target = common::Response;
    fn deref(&self) -> &common::Response {
        &self.0
    }
}

fn get(server: &may_wsgi::ServerHandle, path: &str, headers: &str) -> Response_ {
    request(
        server,
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}Connection: close\r\n\r\n"),
    )
}

fn post(server: &may_wsgi::ServerHandle, path: &str, content_type: &str, body: &[u8]) -> Response_ {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    Response_(exchange(server.local_addr(), &raw))
}

#[test]
fn json_in_and_out() {
    let server = start(app(), config());
    let r = get(&server, "/images", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"images":[{"id":"1","name":"cirros"}]}"#);
    assert_eq!(r.header("X-Middleware"), Some("seen"));

    let r = post(&server, "/images", "application/json", br#"{"name": "fedora"}"#);
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), r#"{"id":"2","name":"fedora"}"#);
    assert_eq!(r.header("Location"), Some("http://t/images/2"));

    let r = post(&server, "/images", "application/json", b"{broken");
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("400 Bad Request\n\nThe server could not comply"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("Malformed JSON in request body"));
}

#[test]
fn errors_have_webobs_bodies_by_accept() {
    let server = start(app(), config());
    let r = get(&server, "/nowhere", "");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"));
    assert_eq!(r.text(), "404 Not Found\n\nThe resource could not be found.\n\n   ");

    let r = get(&server, "/images/7", "Accept: application/json\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.text(),
        r#"{"message": "The resource could not be found.<br /><br />\nNo image found with ID 7\n\n", "code": "404 Not Found", "title": "Not Found"}"#
    );

    let r = get(&server, "/images/7", "Accept: text/html\r\n");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=UTF-8"));
    assert!(r.text().starts_with("<html>\n <head>\n  <title>404 Not Found</title>"));

    let r = request(
        &server,
        "DELETE /images HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, POST"));
    assert_eq!(
        r.text(),
        "405 Method Not Allowed\n\nThe method DELETE is not allowed for this resource. \n\n "
    );
    assert_eq!(r.header("X-Middleware"), Some("seen"));

    let r = request(
        &server,
        "HEAD /nowhere HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 404);
}

#[test]
fn form_post() {
    let server = start(app(), config());
    let r = post(
        &server,
        "/form?q=caf%C3%A9",
        "application/x-www-form-urlencoded",
        b"name=a+b&name=%C3%A9&other=1",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "names=a b,é q=café");
}

#[test]
fn multipart_upload() {
    let server = start(app(), config());
    let file: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut body = b"--b0undary\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n--b0undary\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"pic.raw\"\r\nContent-Type: image/x-raw\r\n\r\n"
        .to_vec();
    body.extend_from_slice(&file);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    let r = post(&server, "/upload", "multipart/form-data; boundary=b0undary", &body);
    let sum: u64 = file.iter().map(|&b| u64::from(b)).sum();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), format!("pic.raw image/x-raw 200000 {sum} title=holiday"));

    // The same body sent chunked, as curl -T would.
    let mut raw = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_vec();
    for piece in body.chunks(7777) {
        raw.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let r = exchange(server.local_addr(), &raw);
    assert_eq!(r.text(), format!("pic.raw image/x-raw 200000 {sum} title=holiday"));
}

#[test]
fn cookies() {
    let server = start(app(), config());
    let r = get(&server, "/login", "");
    let set = r.header("Set-Cookie").unwrap();
    assert!(set.starts_with("session=s3cr3t; Max-Age=60; Path=/; expires="), "{set}");
    assert!(set.ends_with("; HttpOnly"));
    let r = get(&server, "/whoami", "Cookie: theme=dark; session=s3cr3t\r\n");
    assert_eq!(r.text(), "session s3cr3t");
    assert_eq!(get(&server, "/whoami", "").status, 401);
}

#[test]
fn conditional_get_and_ranges() {
    let server = start(app(), config());
    let r = get(&server, "/file", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, FILE);
    assert_eq!(r.header("ETag"), Some("\"file-v1\""));

    let r = get(&server, "/file", "If-None-Match: \"file-v1\"\r\n");
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Length"), None);
    let r = get(&server, "/file", "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n");
    assert_eq!(r.status, 304);

    let r = get(&server, "/file", "Range: bytes=10-15\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"abcdef");
    assert_eq!(r.header("Content-Range"), Some("bytes 10-15/36"));

    let r = get(&server, "/file", "Range: bytes=-4\r\nIf-Range: \"file-v1\"\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &b"wxyz"[..]));

    let r = get(&server, "/file", "Range: bytes=0-1,-1\r\n");
    assert_eq!(r.status, 206);
    let ct = r.header("Content-Type").unwrap();
    let boundary = ct.strip_prefix("multipart/byteranges; boundary=").unwrap();
    let text = r.text();
    assert!(text.contains(&format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/36\r\n\r\n01\r\n"
    )));
    assert!(text.ends_with(&format!("Content-Range: bytes 35-35/36\r\n\r\nz\r\n--{boundary}--\r\n")));

    let r = get(&server, "/file", "Range: bytes=100-\r\n");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */36"));
    assert_eq!(r.text(), "Requested range not satisfiable: bytes=100-");
}

#[test]
fn middleware_rewrites_a_streamed_body() {
    let server = start(app(), config());
    let r = get(&server, "/stream", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Transfer-Encoding"),
        Some("chunked"),
        "the body stays streamed"
    );
    assert_eq!(r.text(), "PIECE 0\nPIECE 1\nPIECE 2\n");
    assert_eq!(r.header("X-Middleware"), Some("seen"));
}

#[test]
fn an_error_value_is_an_application() {
    let server = start(exc::HTTPServiceUnavailable().with_header("Retry-After", "5"), config());
    let r = get(&server, "/anything", "Accept: application/json\r\n");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("5"));
    assert_eq!(
        r.text(),
        r#"{"message": "The server is currently unavailable. Please try again at a later time.<br /><br />\n\n\n", "code": "503 Service Unavailable", "title": "Service Unavailable"}"#
    );
}

/// A plain WSGI app that streams three pieces, counting those it has produced.
struct Streamer(Arc<AtomicUsize>);

impl Application for Streamer {
    fn call(&self, _environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        start_response.call("200 OK", [("Content-Type", "text/plain"), ("X-Inner", "1")]);
        let produced = self.0.clone();
        Body::iter((0..3).map(move |i| {
            produced.fetch_add(1, Ordering::SeqCst);
            format!("piece {i}\n")
        }))
    }
}

#[test]
fn middleware_sees_and_changes_a_streamed_response_buffered_or_wrapped() {
    // Buffering: the whole body read, then status, headers and body replaced.
    let buffered = middleware(Streamer(Arc::default()), |req: &mut Request, app: &_| {
        let mut resp = req.get_response(app);
        let upper = resp.body().map(|b| b.to_ascii_uppercase()).unwrap_or_default();
        resp.set_status_code(203);
        resp.headers_mut().remove("X-Inner");
        resp.set_header("X-Outer", "buffered");
        resp.set_body(upper);
        resp
    });
    // Wrapping: the inner iterator wrapped, nothing produced before the middleware returns.
    let produced = Arc::new(AtomicUsize::new(0));
    let produced_when_returning = Arc::new(AtomicUsize::new(usize::MAX));
    let wrapped = {
        let (produced, seen) = (produced.clone(), produced_when_returning.clone());
        middleware(Streamer(produced.clone()), move |req: &mut Request, app: &_| {
            let mut resp = req.get_response(app);
            let pieces = resp.take_body();
            resp.set_body(Body::iter(pieces.into_iter().map(|p| p.to_ascii_uppercase())));
            resp.set_header("X-Outer", "wrapped");
            seen.store(produced.load(Ordering::SeqCst), Ordering::SeqCst);
            resp
        })
    };
    let mut urlmap = URLMap::new();
    urlmap.insert("/buffered", buffered);
    urlmap.insert("/wrapped", wrapped);
    let server = start(urlmap, config());

    let r = get(&server, "/buffered", "");
    assert_eq!(r.status, 203);
    assert_eq!(r.header("Content-Length"), Some("24"));
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert_eq!((r.header("X-Inner"), r.header("X-Outer")), (None, Some("buffered")));
    assert_eq!(r.text(), "PIECE 0\nPIECE 1\nPIECE 2\n");

    let r = get(&server, "/wrapped", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"), "still streamed");
    assert_eq!((r.header("X-Inner"), r.header("X-Outer")), (Some("1"), Some("wrapped")));
    assert_eq!(r.text(), "PIECE 0\nPIECE 1\nPIECE 2\n");
    assert_eq!(
        produced_when_returning.load(Ordering::SeqCst),
        0,
        "nothing was buffered"
    );
    assert_eq!(produced.load(Ordering::SeqCst), 3);
}

#[test]
fn a_response_is_an_application_mounted_and_served_again_and_again() {
    let mut mapper = Mapper::new();
    let pong = Response::text("pong").into_app().expect("a bytes body replays");
    mapper.connect(None, "/ping").controller(pong);
    let mut cached = Response::text("cached").with_conditional_response(true);
    cached.set_etag("v1", false);
    mapper.connect(None, "/cached").controller(cached.into_app().unwrap());
    let mut urlmap = URLMap::new();
    urlmap.insert("/api", Router::new(mapper));
    let mut moved = Response::from(exc::HTTPMovedPermanently().with_location("/api/ping"));
    moved.set_header("X-Why", "renamed");
    urlmap.insert("/old", moved.into_app().unwrap());
    urlmap.insert("/", ResponseApp::try_from(Response::html("<p>home</p>")).unwrap());
    let server = start(urlmap, config());

    for _ in 0..2 {
        let r = get(&server, "/api/ping", "");
        assert_eq!((r.status, r.text().as_str()), (200, "pong"));
        assert_eq!(r.header("Content-Type"), Some("text/plain; charset=UTF-8"));
        assert_eq!(r.header("Content-Length"), Some("4"));
        let r = get(&server, "/api/cached", "If-None-Match: \"v1\"\r\n");
        assert_eq!(r.status, 304);
        let r = get(&server, "/api/cached", "");
        assert_eq!((r.status, r.text().as_str()), (200, "cached"));
        let r = get(&server, "/", "");
        assert_eq!(r.text(), "<p>home</p>");
        // A response made from an error gets its body from each request's Accept.
        for (accept, content_type) in [
            ("application/json", "application/json"),
            ("text/html", "text/html; charset=UTF-8"),
        ] {
            let r = get(&server, "/old", &format!("Accept: {accept}\r\n"));
            assert_eq!(r.status, 301);
            assert_eq!(r.header("Content-Type"), Some(content_type));
            assert_eq!(r.header("X-Why"), Some("renamed"));
            assert_eq!(r.header("Location"), Some("http://t/api/ping"));
        }
    }
    // A lazy body is one-shot: into_app gives the response back; read, it replays.
    let lazy = Response::new().with_body(Body::iter(vec!["x", "y"]));
    let mut back = lazy.into_app().expect_err("an iterator cannot be replayed");
    assert_eq!(back.body().unwrap(), b"xy");
    let mut again = back.into_app().expect("read, it is bytes").response();
    assert_eq!(again.body().unwrap(), b"xy");
}
