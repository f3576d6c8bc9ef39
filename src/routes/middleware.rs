//! `routes.middleware.RoutesMiddleware`: matches each request against a [`Mapper`] and
//! tells the wrapped application what matched, in the environ, as Routes does:
//!
//! | key | value |
//! |---|---|
//! | `wsgiorg.routing_args` | [`RoutingArgs`]: `(url, match)`, the match empty when nothing matched |
//! | `routes.route` | the `Arc<Route>` that matched (absent when none did: Python's `None`) |
//! | `routes.url` | the [`URLGenerator`] |
//!
//! Read them with `environ.value::<RoutingArgs>("wsgiorg.routing_args")`. Like Routes it
//! calls the application whether or not a route matched (the application decides what a
//! miss means: Glance's `Router` answers 404 or 501), answers redirect routes itself, and
//! for a route with a `path_info` variable moves the matched prefix from PATH_INFO to
//! SCRIPT_NAME, so a WSGI app mounted under `/blog/*path_info` sees its own paths.
//!
//! `use_method_override` (on by default, as in Routes) lets `?_method=PUT`, or a
//! `_method` field of an `application/x-www-form-urlencoded` POST, stand for the request
//! method while matching. (A `multipart/form-data` POST is not parsed for it: that needs
//! webob's form parser.) It hands on the matched request to the wrapped application.

use std::io::Read;
use std::sync::Arc;

use super::mapper::{Mapper, RouteMatch};
use super::route::Route;
use super::router::error_response;
use super::util::{parse_qsl, URLGenerator};
use crate::http::Framing;
use crate::wsgi::{Application, Body, Environ, Input, StartResponse};

/// `environ['wsgiorg.routing_args']`: Python's tuple `(url, match)`, so `[1]` reads `.1`.
#[derive(Debug, Clone)]
pub struct RoutingArgs(pub URLGenerator, pub RouteMatch);

/// `RoutesMiddleware(wsgi_app, mapper, use_method_override=True, path_info=True)`.
pub struct RoutesMiddleware<A> {
    pub app: A,
    pub mapper: Arc<Mapper>,
    pub use_method_override: bool,
    pub path_info: bool,
}

/// Routes' `is_form_post`: the request carries an HTML form.
fn is_form_post(environ: &Environ) -> bool {
    let content_type = environ.get_or("CONTENT_TYPE", "").to_ascii_lowercase();
    let content_type = content_type.split(';').next().unwrap_or("");
    content_type == "application/x-www-form-urlencoded" || content_type == "multipart/form-data"
}

/// The last `_method` of a query string or urlencoded form (webob's `MultiDict.get`).
fn method_field(qs: &str) -> Option<String> {
    parse_qsl(qs)
        .into_iter()
        .rev()
        .find(|(k, _)| k == "_method")
        .map(|(_, v)| v)
}

impl<A: Application> RoutesMiddleware<A> {
    pub fn new(wsgi_app: A, mapper: impl Into<Arc<Mapper>>) -> RoutesMiddleware<A> {
        RoutesMiddleware {
            app: wsgi_app,
            mapper: mapper.into(),
            use_method_override: true,
            path_info: true,
        }
    }

    /// The `_method` a request asks to be matched as, if any.
    fn method_override(&self, environ: &mut Environ) -> Option<String> {
        let qs = environ.get_or("QUERY_STRING", "");
        if qs.contains("_method") {
            return method_field(qs);
        }
        if environ.get("REQUEST_METHOD") != Some("POST") || !is_form_post(environ) {
            return None;
        }
        let content_type = environ.get_or("CONTENT_TYPE", "").to_ascii_lowercase();
        if !content_type.starts_with("application/x-www-form-urlencoded") {
            return None;
        }
        // webob reads the form and leaves the body readable again; so does this, by
        // putting what it read back as wsgi.input.
        let mut body = Vec::new();
        if environ.input().read_to_end(&mut body).is_err() {
            return None;
        }
        let len = body.len() as u64;
        let form = String::from_utf8_lossy(&body).into_owned();
        environ.set_input(Input::from_bytes(body, Some(Framing::Length(len))));
        method_field(&form)
    }
}

impl<A: Application> Application for RoutesMiddleware<A> {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let mut old_method = None;
        if self.use_method_override {
            if let Some(method) = self.method_override(environ).filter(|m| !m.is_empty()) {
                old_method = environ.get("REQUEST_METHOD").map(str::to_owned);
                log::debug!(target: "routes.middleware", "_method found, altering request method to {}", method.to_uppercase());
                environ.set("REQUEST_METHOD", method.to_uppercase());
            }
        }

        let matched = self.mapper.routematch_environ(environ);

        if let Some(old) = old_method {
            environ.set("REQUEST_METHOD", old);
        }

        let mut url = URLGenerator::new(self.mapper.clone(), environ);
        let (matched, route): (RouteMatch, Option<Arc<Route>>) = match matched {
            Some(m) => {
                let route = m.route().cloned();
                log::debug!(target: "routes.middleware", "Matched {} {}", environ.get_or("REQUEST_METHOD", ""), environ.get_or("PATH_INFO", ""));
                (m, route)
            }
            None => {
                log::debug!(target: "routes.middleware", "No route matched for {} {}", environ.get_or("REQUEST_METHOD", ""), environ.get_or("PATH_INFO", ""));
                (RouteMatch::default(), None)
            }
        };
        environ.put("wsgiorg.routing_args", RoutingArgs(url.clone(), matched.clone()));
        match &route {
            Some(route) => environ.put("routes.route", route.clone()),
            None => {
                environ.take_value::<Arc<Route>>("routes.route");
            }
        }
        environ.put("routes.url", url.clone());

        if let Some(redirect) = route.as_ref().and_then(|r| r.redirect.clone()) {
            let Some(destination) = self.mapper.route(&redirect.destination) else {
                return error_response(environ, start_response, 500, &[], "redirect route lost its destination");
            };
            let location = self
                .mapper
                .generate_named(destination, matched.dict().clone(), url.script_name());
            let Some(location) = location else {
                // Routes raises GenerationException here: the server's 500.
                log::error!(target: "routes.middleware", "cannot generate the redirect for {:?}", route.as_ref().map(|r| &r.routepath));
                return error_response(environ, start_response, 500, &[], "");
            };
            log::debug!(target: "routes.middleware", "Using redirect route, redirect to '{location}' with status code: {}", redirect.status);
            start_response.call(
                &redirect.status,
                [
                    ("Content-Type", "text/plain; charset=utf8"),
                    ("Location", location.as_str()),
                ],
            );
            return Body::Empty;
        }

        if self.path_info && matched.contains_key("path_info") {
            let oldpath = environ.get_or("PATH_INFO", "").to_owned();
            let newpath = matched.get("path_info").unwrap_or("").to_owned();
            environ.set(
                "PATH_INFO",
                if newpath.starts_with('/') {
                    newpath.clone()
                } else {
                    format!("/{newpath}")
                },
            );
            // re.sub(r'^(.*?)/' + re.escape(newpath) + '$', r'\1', oldpath): the part of the
            // old path before "/newpath", or all of it when it does not end so.
            let suffix = format!("/{newpath}");
            let moved = oldpath.strip_suffix(&suffix).unwrap_or(&oldpath);
            let script_name = format!("{}{moved}", environ.get_or("SCRIPT_NAME", ""));
            environ.set("SCRIPT_NAME", script_name.clone());
            url.set_script_name(&script_name);
            if let Some(args) = environ.value_mut::<RoutingArgs>("wsgiorg.routing_args") {
                args.0.set_script_name(&script_name);
            }
            environ.put("routes.url", url);
        }

        self.app.call(environ, start_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::testing::{call, environ};

    /// Routes' `simple_app`: answers with the match dict, SCRIPT_NAME and PATH_INFO.
    fn simple_app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let args = environ
            .value::<RoutingArgs>("wsgiorg.routing_args")
            .expect("routing args");
        let mut items: Vec<String> = args
            .1
            .iter()
            .map(|(k, v)| format!("{k}={}", v.unwrap_or("None")))
            .collect();
        items.sort();
        let route = environ.value::<Arc<Route>>("routes.route").map(|r| r.routepath.clone());
        let body = format!(
            "items=[{}] route={:?} SCRIPT_NAME={} PATH_INFO={} method={}",
            items.join(","),
            route,
            environ.get_or("SCRIPT_NAME", ""),
            environ.get_or("PATH_INFO", ""),
            environ.get_or("REQUEST_METHOD", ""),
        );
        start_response.call("200 OK", [("Content-type", "text/plain")]);
        Body::from(body)
    }

    fn mapper() -> Mapper {
        // tests/test_functional/test_middleware.py, non-minimized
        let mut map = Mapper::new();
        map.explicit = false;
        map.connect(None, "/myapp/*path_info").arg("controller", "myapp");
        map.connect(None, "/project/*path_info").arg("controller", "myapp");
        map.connect(None, "/blog/{path_info:.*}")
            .arg("controller", "blog")
            .arg("path_info", "");
        map.redirect("/faq/{section}", "/static/faq/{section}.html");
        map.redirect("/home/index", "/").redirect_code("301 Moved Permanently");
        map.connect(None, "/put/{id}").action("update").conditions(&["PUT"]);
        map.create_regs(&["content", "myapp", "blog"]);
        map
    }

    #[test]
    fn no_match_still_calls_the_app() {
        let app = RoutesMiddleware::new(simple_app, mapper());
        let (status, _, body) = call(&app, environ("GET", "/", &[]));
        assert_eq!(status, "200 OK");
        assert!(body.starts_with("items=[] route=None"), "{body}");
    }

    #[test]
    fn path_info_moves_to_script_name() {
        let app = RoutesMiddleware::new(simple_app, mapper());
        let (_, _, body) = call(&app, environ("GET", "/myapp/some/other/url", &[]));
        assert!(
            body.contains("items=[action=index,controller=myapp,path_info=some/other/url]"),
            "{body}"
        );
        assert!(body.contains("SCRIPT_NAME=/myapp PATH_INFO=/some/other/url"), "{body}");
        let long = "/project/pylonshq/browser/pylons/templates/default_project/+package+/controllers";
        let (_, _, body) = call(&app, environ("GET", long, &[]));
        assert!(
            body.contains("SCRIPT_NAME=/project PATH_INFO=/pylonshq/browser/pylons/templates/default_project/+package+/controllers"),
            "{body}"
        );
        // An empty path_info (its default) leaves PATH_INFO "/".
        let (_, _, body) = call(&app, environ("GET", "/blog/", &[]));
        assert!(body.contains("SCRIPT_NAME=/blog PATH_INFO=/"), "{body}");
    }

    #[test]
    fn script_name_stacks() {
        let app = RoutesMiddleware::new(simple_app, mapper());
        let mut e = environ("GET", "/myapp/x", &[]);
        e.set("SCRIPT_NAME", "/mount");
        let (_, _, body) = call(&app, e);
        assert!(body.contains("SCRIPT_NAME=/mount/myapp PATH_INFO=/x"), "{body}");
    }

    #[test]
    fn path_info_can_be_left_alone() {
        let mut app = RoutesMiddleware::new(simple_app, mapper());
        app.path_info = false;
        let (_, _, body) = call(&app, environ("GET", "/myapp/x", &[]));
        assert!(body.contains("SCRIPT_NAME= PATH_INFO=/myapp/x"), "{body}");
    }

    #[test]
    fn redirect_routes_answer_themselves() {
        // test_middleware.test_redirect_middleware
        let app = RoutesMiddleware::new(simple_app, mapper());
        let (status, headers, body) = call(&app, environ("GET", "/faq/home", &[]));
        assert_eq!(status, "302 Found", "{body}");
        assert!(
            headers.contains(&("Location".into(), "/static/faq/home.html".into())),
            "{headers:?}"
        );
        assert_eq!(body, "");
        let (status, headers, _) = call(&app, environ("GET", "/home/index", &[]));
        assert_eq!(status, "301 Moved Permanently");
        assert!(headers.contains(&("Location".into(), "/".into())), "{headers:?}");
        // SCRIPT_NAME goes in front of the destination.
        let mut e = environ("GET", "/faq/a%20b", &[]);
        e.set("SCRIPT_NAME", "/v2");
        let (_, headers, _) = call(&app, e);
        assert!(
            headers.contains(&("Location".into(), "/v2/static/faq/a%20b.html".into())),
            "{headers:?}"
        );
    }

    #[test]
    fn method_override_from_the_query_string() {
        let app = RoutesMiddleware::new(simple_app, mapper());
        let (_, _, body) = call(&app, environ("POST", "/put/7?_method=put", &[]));
        assert!(body.contains("action=update"), "{body}");
        // Only for matching: the app sees the real method.
        assert!(body.contains("method=POST"), "{body}");
        let mut off = RoutesMiddleware::new(simple_app, mapper());
        off.use_method_override = false;
        let (_, _, body) = call(&off, environ("POST", "/put/7?_method=put", &[]));
        assert!(body.contains("items=[]"), "{body}");
    }

    #[test]
    fn method_override_from_a_form_leaves_the_body_readable() {
        fn body_app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
            let matched = environ
                .value::<RoutingArgs>("wsgiorg.routing_args")
                .unwrap()
                .1
                .get("action")
                .map(str::to_owned);
            let mut body = String::new();
            environ.input().read_to_string(&mut body).unwrap();
            start_response.call("200 OK", [("Content-Type", "text/plain")]);
            Body::from(format!("{matched:?} {body}"))
        }
        let app = RoutesMiddleware::new(body_app, mapper());
        let form = b"name=x&_method=PUT".to_vec();
        let e = Environ::for_request(
            "POST",
            "/put/7",
            &[
                ("Host", "h"),
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Content-Length", "18"),
            ],
            Input::from_bytes(form, Some(Framing::Length(18))),
        );
        let (_, _, body) = call(&app, e);
        assert_eq!(body, "Some(\"update\") name=x&_method=PUT");
    }

    #[test]
    fn url_generator_follows_the_moved_script_name() {
        fn url_app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
            let url = environ.value::<URLGenerator>("routes.url").unwrap();
            let link = url.url_for(Some("/static/x"), &[]).unwrap();
            start_response.call("200 OK", [("Content-Type", "text/plain")]);
            Body::from(link)
        }
        let app = RoutesMiddleware::new(url_app, mapper());
        let (_, _, body) = call(&app, environ("GET", "/myapp/a/b", &[]));
        assert_eq!(body, "/myapp/static/x");
    }
}
