//! `paste.urlmap.URLMap`: applications mounted at URL prefixes (and optionally at host
//! names), the composite Glance's paste pipeline ends in:
//!
//! ```ini
//! [composite:rootapp]
//! use = egg:Paste#urlmap
//! / = apiversions
//! /v2 = apiv2app
//! ```
//!
//! ```
//! use may_wsgi::urlmap::URLMap;
//! use may_wsgi::{Body, Environ, StartResponse};
//!
//! fn apiversions(_: &mut Environ, sr: &mut StartResponse) -> Body {
//!     sr.call("300 Multiple Choices", [("Content-Type", "application/json")]);
//!     Body::from("{\"versions\": []}")
//! }
//! fn apiv2app(environ: &mut Environ, sr: &mut StartResponse) -> Body {
//!     // GET /v2/images arrives with SCRIPT_NAME "/v2" and PATH_INFO "/images".
//!     let path = format!("{} {}", environ.get_or("SCRIPT_NAME", ""), environ.get_or("PATH_INFO", ""));
//!     sr.call("200 OK", [("Content-Type", "text/plain")]);
//!     Body::from(path)
//! }
//!
//! let mut rootapp = URLMap::new();
//! rootapp.insert("/", apiversions);
//! rootapp.insert("/v2", apiv2app);
//! ```
//!
//! A key is a path prefix (`/v2`; `/` and `` are the same, the root) or a URL with a host
//! (`http://images.example.com/v2`), or, through [`parse_path_expression`], paste deploy's
//! `domain images.example.com port 8080 /v2`. Requests go to the longest prefix that is the
//! whole path or is followed by `/` in it (so `/v2` takes `/v2` and `/v2/images` but not
//! `/v2images`); host keys are tried before the others. The prefix moves from PATH_INFO to
//! the end of SCRIPT_NAME, so mounts stack. Nothing matched: the not-found application,
//! a 404 by default. It hands on the request, re-rooted, to the mounted application.

use std::fmt;
use std::sync::Arc;

use crate::routes::error_response;
use crate::wsgi::{Application, Body, Environ, StartResponse};

/// A normalized key: the host (when the key named one) and the path prefix.
type Key = (Option<String>, String);

/// `URLMap(not_found_app=None)`.
pub struct URLMap {
    applications: Vec<(Key, Arc<dyn Application>)>,
    /// What answers a request no prefix takes (`not_found_application`).
    pub not_found_application: Arc<dyn Application>,
}

impl Default for URLMap {
    fn default() -> URLMap {
        URLMap::new()
    }
}

impl fmt::Debug for URLMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.applications.iter().map(|(key, _)| key))
            .finish()
    }
}

/// URLMap's own `not_found_app`: a 404 naming the path.
fn not_found_app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let path = environ.get_or("PATH_INFO", "").to_owned();
    error_response(environ, start_response, 404, &[], &path)
}

/// Collapses runs of `/` (URLMap's `norm_url_re`).
fn collapse_slashes(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        if !(c == '/' && out.ends_with('/')) {
            out.push(c);
        }
    }
    out
}

/// The host and path of a URL that starts with `http://` or `https://` (the
/// `domain_url_re`), or `None` for a plain path.
fn split_domain(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"))?;
    Some(match rest.split_once('/') {
        Some((domain, path)) => (domain.to_owned(), format!("/{path}")),
        None => (rest.to_owned(), String::new()),
    })
}

impl URLMap {
    /// An empty map whose misses are answered 404.
    pub fn new() -> URLMap {
        URLMap {
            applications: Vec::new(),
            not_found_application: Arc::new(not_found_app),
        }
    }

    /// `URLMap(not_found_app=app)`.
    pub fn with_not_found_app(app: impl Application) -> URLMap {
        URLMap {
            applications: Vec::new(),
            not_found_application: Arc::new(app),
        }
    }

    /// URLMap's `normalize_url(url, trim)`: `(domain, path)`, runs of `/` collapsed, and
    /// (with `trim`) trailing `/` removed, so `/` is the empty root prefix.
    ///
    /// An error (Python's assertion) for a key that is neither empty, nor a path starting
    /// with `/`, nor an `http://` or `https://` URL.
    pub fn normalize_url(url: &str, trim: bool) -> Result<Key, String> {
        let (domain, path) = match split_domain(url) {
            Some((domain, path)) => (Some(domain), path),
            None if url.is_empty() || url.starts_with('/') => (None, url.to_owned()),
            None => return Err(format!("URL fragments must start with / or http:// (you gave {url:?})")),
        };
        let mut path = collapse_slashes(&path);
        if trim {
            path.truncate(path.trim_end_matches('/').len());
        }
        Ok((domain, path))
    }

    /// `urlmap[url] = app`.
    ///
    /// # Panics
    ///
    /// On a key [`URLMap::normalize_url`] refuses (Python asserts); see
    /// [`URLMap::try_insert`].
    pub fn insert(&mut self, url: &str, app: impl Application) {
        if let Err(e) = self.try_insert(url, app) {
            panic!("{e}");
        }
    }

    /// `urlmap[url] = app`, with the error for a bad key returned.
    pub fn try_insert(&mut self, url: &str, app: impl Application) -> Result<(), String> {
        let key = URLMap::normalize_url(url, true)?;
        self.set(key, Arc::new(app));
        Ok(())
    }

    /// `urlmap[(domain, url)] = app`: the tuple form of a host key.
    pub fn insert_domain(&mut self, domain: &str, url: &str, app: impl Application) -> Result<(), String> {
        let (_, path) = URLMap::normalize_url(url, true)?;
        self.set((Some(domain.to_owned()), path), Arc::new(app));
        Ok(())
    }

    fn set(&mut self, key: Key, app: Arc<dyn Application>) {
        self.applications.retain(|(k, _)| *k != key);
        self.applications.push((key, app));
        self.sort_apps();
    }

    /// Longest URLs first, host keys before the others (URLMap's `sort_apps`).
    fn sort_apps(&mut self) {
        self.applications.sort_by(|((da, ua), _), ((db, ub), _)| {
            // Python sorts a key without a domain as '\xff', after every host name.
            let ka = (
                da.as_deref().unwrap_or("\u{ff}"),
                std::cmp::Reverse(ua.chars().count()),
                ua,
            );
            let kb = (
                db.as_deref().unwrap_or("\u{ff}"),
                std::cmp::Reverse(ub.chars().count()),
                ub,
            );
            ka.cmp(&kb)
        });
    }

    /// `urlmap[url]`.
    pub fn get(&self, url: &str) -> Option<&Arc<dyn Application>> {
        let key = URLMap::normalize_url(url, true).ok()?;
        self.applications.iter().find(|(k, _)| *k == key).map(|(_, app)| app)
    }

    /// `del urlmap[url]`, returning what was mounted there.
    pub fn remove(&mut self, url: &str) -> Option<Arc<dyn Application>> {
        let key = URLMap::normalize_url(url, true).ok()?;
        let i = self.applications.iter().position(|(k, _)| *k == key)?;
        Some(self.applications.remove(i).1)
    }

    /// The keys in the order they are tried: `(domain, path)`.
    pub fn keys(&self) -> Vec<(Option<&str>, &str)> {
        self.applications
            .iter()
            .map(|((d, u), _)| (d.as_deref(), u.as_str()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.applications.len()
    }

    pub fn is_empty(&self) -> bool {
        self.applications.is_empty()
    }
}

impl Application for URLMap {
    fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Body {
        let host = environ
            .get("HTTP_HOST")
            .or_else(|| environ.get("SERVER_NAME"))
            .unwrap_or("")
            .to_lowercase();
        let (host, port) = match host.split_once(':') {
            Some((h, p)) => (h.to_owned(), p.to_owned()),
            None if environ.get("wsgi.url_scheme") == Some("http") => (host, "80".to_owned()),
            None => (host, "443".to_owned()),
        };
        // Python asserts the path is a path; "*" (OPTIONS *) would fail there with a 500.
        // It matches no prefix here and gets the 404.
        let raw = environ.get_or("PATH_INFO", "");
        let path_info = match split_domain(raw) {
            Some((_, path)) => collapse_slashes(&path),
            None => collapse_slashes(raw),
        };
        let host_port = format!("{host}:{port}");
        for ((domain, app_url), app) in &self.applications {
            if let Some(domain) = domain {
                if *domain != host && *domain != host_port {
                    continue;
                }
            }
            let rest = match path_info.strip_prefix(app_url.as_str()) {
                Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.to_owned(),
                _ => continue,
            };
            let script_name = format!("{}{app_url}", environ.get_or("SCRIPT_NAME", ""));
            environ.set("SCRIPT_NAME", script_name);
            environ.set("PATH_INFO", rest);
            return app.call(environ, start_response);
        }
        // Python puts the map itself here for the not-found app to list; its keys will do.
        let keys: Vec<(Option<String>, String)> = self.applications.iter().map(|(k, _)| k.clone()).collect();
        environ.put("paste.urlmap_object", keys);
        self.not_found_application.call(environ, start_response)
    }
}

/// paste's `parse_path_expression`: a paste deploy key such as `/v2` or
/// `domain images.example.com port 8080 /v2`, as a key [`URLMap::insert`] takes.
pub fn parse_path_expression(path: &str) -> Result<String, String> {
    let mut parts = path.split_whitespace();
    let (mut domain, mut port, mut path): (Option<&str>, Option<&str>, Option<&str>) = (None, None, None);
    while let Some(part) = parts.next() {
        match part {
            "domain" => {
                let Some(d) = parts.next() else {
                    return Err("'domain' must be followed with a domain name".into());
                };
                if domain.is_some() {
                    return Err("'domain' given twice".into());
                }
                domain = Some(d);
            }
            "port" => {
                let Some(p) = parts.next() else {
                    return Err("'port' must be followed with a port number".into());
                };
                if port.is_some() {
                    return Err("'port' given twice".into());
                }
                port = Some(p);
            }
            other => {
                if let Some(have) = path {
                    return Err(format!("more than one path given (have {have:?}, got {other:?})"));
                }
                path = Some(other);
            }
        }
    }
    let mut s = String::new();
    if let Some(domain) = domain {
        s = format!("http://{domain}");
    }
    if let Some(port) = port {
        if domain.is_none() {
            return Err("If you give a port, you must also give a domain".into());
        }
        s.push(':');
        s.push_str(port);
    }
    if let Some(path) = path {
        if !s.is_empty() {
            s.push('/');
        }
        s.push_str(path);
    }
    Ok(s)
}

/// paste's `urlmap_factory`, what `use = egg:Paste#urlmap` runs: each `key = app` line of
/// the section (its key through [`parse_path_expression`]), and `not_found_app` if given.
pub fn urlmap_factory<'a>(
    not_found_app: Option<Arc<dyn Application>>,
    local_conf: impl IntoIterator<Item = (&'a str, Arc<dyn Application>)>,
) -> Result<URLMap, String> {
    let mut urlmap = URLMap::new();
    if let Some(app) = not_found_app {
        urlmap.not_found_application = app;
    }
    for (path, app) in local_conf {
        let key = parse_path_expression(path)?;
        let key = URLMap::normalize_url(&key, true)?;
        urlmap.set(key, app);
    }
    Ok(urlmap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::testing::{call, environ};

    /// paste's `make_app`: answers with its name, SCRIPT_NAME and PATH_INFO.
    fn make_app(name: &'static str) -> impl Application {
        move |environ: &mut Environ, start_response: &mut StartResponse| {
            let body = format!(
                "{name} script_name=\"{}\" path_info=\"{}\"",
                environ.get_or("SCRIPT_NAME", ""),
                environ.get_or("PATH_INFO", "")
            );
            start_response.call("200 OK", [("Content-type", "text/html")]);
            Body::from(body)
        }
    }

    fn get(app: &impl Application, path: &str) -> String {
        call(app, environ("GET", path, &[])).2
    }

    #[test]
    fn paste_test_map() {
        // paste's tests/test_urlmap.py test_map, line for line.
        let mut mapper = URLMap::new();
        mapper.insert("", make_app("root"));
        mapper.insert("/foo", make_app("foo-only"));
        mapper.insert("/foo/bar", make_app("foo:bar"));
        mapper.insert("/f", make_app("f-only"));
        let table: &[(&str, &str)] = &[
            ("/", "root script_name=\"\" path_info=\"/\""),
            ("/blah", "root script_name=\"\" path_info=\"/blah\""),
            ("/foo/and/more", "foo-only script_name=\"/foo\" path_info=\"/and/more\""),
            ("/foo/bar/baz", "foo:bar script_name=\"/foo/bar\" path_info=\"/baz\""),
            ("/fffzzz", "root script_name=\"\" path_info=\"/fffzzz\""),
            ("/f/z/y", "f-only script_name=\"/f\" path_info=\"/z/y\""),
            // The whole prefix alone leaves an empty PATH_INFO.
            ("/foo", "foo-only script_name=\"/foo\" path_info=\"\""),
            ("/foo/", "foo-only script_name=\"/foo\" path_info=\"/\""),
            // Runs of slashes count as one.
            ("//foo//bar", "foo:bar script_name=\"/foo/bar\" path_info=\"\""),
        ];
        for (path, want) in table {
            assert_eq!(get(&mapper, path), *want, "{path}");
        }
    }

    #[test]
    fn glance_rootapp() {
        // [composite:rootapp] / = apiversions, /v2 = apiv2app
        let rootapp = urlmap_factory(
            None,
            [
                ("/", Arc::new(make_app("apiversions")) as Arc<dyn Application>),
                ("/v2", Arc::new(make_app("apiv2app")) as Arc<dyn Application>),
            ],
        )
        .unwrap();
        assert_eq!(rootapp.keys(), vec![(None, "/v2"), (None, "")]);
        let table: &[(&str, &str)] = &[
            ("/v2/images", "apiv2app script_name=\"/v2\" path_info=\"/images\""),
            ("/v2", "apiv2app script_name=\"/v2\" path_info=\"\""),
            ("/v2/", "apiv2app script_name=\"/v2\" path_info=\"/\""),
            ("/v2images", "apiversions script_name=\"\" path_info=\"/v2images\""),
            ("/v21/images", "apiversions script_name=\"\" path_info=\"/v21/images\""),
            ("/versions", "apiversions script_name=\"\" path_info=\"/versions\""),
            ("/", "apiversions script_name=\"\" path_info=\"/\""),
        ];
        for (path, want) in table {
            assert_eq!(get(&rootapp, path), *want, "{path}");
        }
    }

    #[test]
    fn script_name_stacks_through_nested_maps() {
        let mut inner = URLMap::new();
        inner.insert("/images", make_app("images"));
        let mut outer = URLMap::new();
        outer.insert("/v2", inner);
        let mut e = environ("GET", "/v2/images/abc", &[]);
        e.set("SCRIPT_NAME", "/glance");
        assert_eq!(
            call(&outer, e).2,
            "images script_name=\"/glance/v2/images\" path_info=\"/abc\""
        );
    }

    #[test]
    fn nothing_matched_is_404() {
        let mut mapper = URLMap::new();
        mapper.insert("/v2", make_app("v2"));
        let (status, headers, body) = call(&mapper, environ("GET", "/v1/x", &[]));
        assert_eq!(status, "404 Not Found");
        assert!(headers.contains(&("Content-Type".into(), "text/plain; charset=UTF-8".into())));
        assert_eq!(body, "404 Not Found\n\nThe resource could not be found.\n\n /v1/x  ");
        let (status, _, _) = call(&mapper, environ("OPTIONS", "*", &[]));
        assert_eq!(status, "404 Not Found");
        // Another not-found app sees the keys.
        fn mine(environ: &mut Environ, sr: &mut StartResponse) -> Body {
            let keys = environ
                .value::<Vec<(Option<String>, String)>>("paste.urlmap_object")
                .unwrap();
            sr.call("418 Teapot", [("Content-Type", "text/plain")]);
            Body::from(format!("{keys:?}"))
        }
        let mut mapper = URLMap::with_not_found_app(mine);
        mapper.insert("/v2", make_app("v2"));
        let (status, _, body) = call(&mapper, environ("GET", "/x", &[]));
        assert_eq!((status.as_str(), body.as_str()), ("418 Teapot", "[(None, \"/v2\")]"));
    }

    #[test]
    fn host_keys() {
        let mut mapper = URLMap::new();
        mapper.insert("/", make_app("any"));
        mapper.insert("http://images.example.com/", make_app("images-host"));
        mapper.insert("http://images.example.com:8080/v2", make_app("images-8080-v2"));
        mapper.insert("http://api.example.com:8080/", make_app("api-8080"));
        mapper
            .insert_domain("other.example.com", "/v2", make_app("other-v2"))
            .unwrap();
        let get_host = |h: &str, path: &str| {
            let e = Environ::for_request("GET", path, &[("Host", h)], crate::wsgi::Input::empty());
            call(&mapper, e).2
        };
        assert!(get_host("images.example.com", "/v2/x").starts_with("images-host "));
        assert!(
            get_host("IMAGES.example.com:80", "/v2/x").starts_with("images-host "),
            "hosts compare lower-cased"
        );
        // A key without a port takes every port, and sorts before the same host with one,
        // so "images.example.com:8080/v2" is never reached: as in Paste.
        assert!(get_host("images.example.com:8080", "/v2/x").starts_with("images-host "));
        assert!(get_host("api.example.com:8080", "/x").starts_with("api-8080 "));
        assert!(
            get_host("api.example.com", "/x").starts_with("any "),
            "port 80 is not 8080"
        );
        assert!(get_host("other.example.com", "/v2/x").starts_with("other-v2 "));
        assert!(get_host("other.example.com", "/v3").starts_with("any "));
        assert!(get_host("elsewhere", "/v2/x").starts_with("any "));
        assert_eq!(
            mapper.keys(),
            vec![
                (Some("api.example.com:8080"), ""),
                (Some("images.example.com"), ""),
                (Some("images.example.com:8080"), "/v2"),
                (Some("other.example.com"), "/v2"),
                (None, "")
            ]
        );
    }

    #[test]
    fn keys_normalize_and_replace() {
        assert_eq!(URLMap::normalize_url("/", true).unwrap(), (None, String::new()));
        assert_eq!(URLMap::normalize_url("/v2/", true).unwrap(), (None, "/v2".to_owned()));
        assert_eq!(
            URLMap::normalize_url("//v2//x//", false).unwrap(),
            (None, "/v2/x/".to_owned())
        );
        assert_eq!(
            URLMap::normalize_url("https://h.example:443", true).unwrap(),
            (Some("h.example:443".to_owned()), String::new())
        );
        assert!(URLMap::normalize_url("v2", true).is_err());
        let mut mapper = URLMap::new();
        mapper.insert("/v2/", make_app("first"));
        mapper.insert("/v2", make_app("second"));
        assert_eq!(mapper.len(), 1, "/v2/ and /v2 are one key");
        assert!(get(&mapper, "/v2").starts_with("second "));
        assert!(mapper.get("/v2/").is_some());
        assert!(mapper.remove("/v2").is_some());
        assert!(mapper.is_empty());
        assert!(mapper.try_insert("nope", make_app("x")).is_err());
    }

    #[test]
    #[should_panic(expected = "URL fragments must start with / or http://")]
    fn a_bad_key_panics_like_the_assertion() {
        URLMap::new().insert("v2", make_app("x"));
    }

    #[test]
    fn path_expressions() {
        assert_eq!(parse_path_expression("/v2").unwrap(), "/v2");
        assert_eq!(parse_path_expression("/").unwrap(), "/");
        assert_eq!(
            parse_path_expression("domain foobar.com port 20 /").unwrap(),
            "http://foobar.com:20//"
        );
        assert_eq!(
            parse_path_expression("domain foobar.com /v2").unwrap(),
            "http://foobar.com//v2"
        );
        assert_eq!(parse_path_expression("domain foobar.com").unwrap(), "http://foobar.com");
        assert!(parse_path_expression("port 20 /").is_err());
        assert!(parse_path_expression("domain").is_err());
        assert!(parse_path_expression("domain a domain b").is_err());
        assert!(parse_path_expression("/a /b").is_err());
        // What the factory makes of a domain key: its host and the path, slashes collapsed.
        let key = parse_path_expression("domain foobar.com port 20 /v2").unwrap();
        assert_eq!(
            URLMap::normalize_url(&key, true).unwrap(),
            (Some("foobar.com:20".to_owned()), "/v2".to_owned())
        );
    }
}
