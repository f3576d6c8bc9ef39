//! `routes.util`: [`URLGenerator`] (the `url` object Routes puts in the environ as
//! `routes.url` and in `wsgiorg.routing_args`), and the quoting Routes borrows from
//! `urllib.parse` (`quote`, `urlencode`, `parse_qsl`), so generated URLs and parsed query
//! strings come out byte for byte as in Python.
//!
//! It hands on `URLGenerator` to `middleware.rs` and the quoting helpers to `route.rs`.

use std::sync::Arc;

use super::mapper::{to_dict, Mapper};
use crate::wsgi::Environ;

/// Bytes `urllib.parse.quote` never escapes.
fn always_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~')
}

fn quote_with(s: &str, safe: &[u8], plus: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if always_safe(b) || safe.contains(&b) {
            out.push(b as char);
        } else if plus && b == b' ' {
            out.push('+');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `urllib.parse.quote(s.encode('utf-8'), '/')`: Routes' `_url_quote`, for path variables
/// (and the query of a literal URL, which Routes quotes the same way).
pub fn url_quote(s: &str) -> String {
    quote_with(s, b"/", false)
}

/// `urllib.parse.urlencode(pairs)`: `quote_plus` on keys and values.
pub fn urlencode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", quote_with(k, b"", true), quote_with(v, b"", true)))
        .collect::<Vec<_>>()
        .join("&")
}

/// `urllib.parse.unquote_plus(s)`: `+` is a space, `%XX` a byte; the bytes are read as
/// UTF-8, a bad sequence replaced (Python's `errors='replace'`).
pub fn unquote_plus(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]));
                i += 3;
                continue;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `urllib.parse.parse_qsl(qs, keep_blank_values=True)`: the pairs of a query string or a
/// urlencoded form, in order.
pub fn parse_qsl(qs: &str) -> Vec<(String, String)> {
    qs.split('&')
        .filter(|field| !field.is_empty())
        .map(|field| {
            let (k, v) = field.split_once('=').unwrap_or((field, ""));
            (unquote_plus(k), unquote_plus(v))
        })
        .collect()
}

/// `routes.util.URLGenerator`: makes URLs for the mapper's routes from inside a request,
/// with the request's SCRIPT_NAME in front (so an app mounted at `/v2` links to `/v2/...`).
#[derive(Clone)]
pub struct URLGenerator {
    mapper: Arc<Mapper>,
    script_name: String,
}

impl std::fmt::Debug for URLGenerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("URLGenerator")
            .field("script_name", &self.script_name)
            .finish()
    }
}

impl URLGenerator {
    /// `URLGenerator(mapper, environ)`.
    pub fn new(mapper: Arc<Mapper>, environ: &Environ) -> URLGenerator {
        URLGenerator {
            mapper,
            script_name: environ.get_or("SCRIPT_NAME", "").to_owned(),
        }
    }

    /// The SCRIPT_NAME put in front of generated paths.
    pub fn script_name(&self) -> &str {
        &self.script_name
    }

    /// Routes keeps the environ itself and reads SCRIPT_NAME when it generates, so a
    /// `path_info` route that moves part of the path into SCRIPT_NAME changes later URLs;
    /// the middleware tells the generator here.
    pub(crate) fn set_script_name(&mut self, script_name: &str) {
        script_name.clone_into(&mut self.script_name);
    }

    /// The mapper it generates from.
    pub fn mapper(&self) -> &Arc<Mapper> {
        &self.mapper
    }

    /// `url(name, **kargs)` or, with `name` `None`, `url(**kargs)`.
    ///
    /// A `name` that is a route's generates from that route, its defaults filled in; any
    /// other `name` is a literal URL (SCRIPT_NAME in front when it starts with `/`) and the
    /// arguments become its query. `anchor` (or `anchor_` for a query argument of that
    /// name) adds a `#fragment`. Routes' `host`, `protocol` and `qualified` are not ported.
    /// `None` when no route can make the URL (Routes raises `GenerationException`).
    pub fn url_for(&self, name: Option<&str>, kargs: &[(&str, &str)]) -> Option<String> {
        let mut kargs = to_dict(kargs);
        let anchor = match kargs
            .iter()
            .position(|(k, v)| k == "anchor" && v.as_deref().is_some_and(|a| !a.is_empty()))
        {
            Some(i) => kargs.remove(i).1,
            None => None,
        };
        if let Some(slot) = kargs.iter_mut().find(|(k, _)| k == "anchor_") {
            slot.0 = "anchor".to_owned();
        }
        let mut url = match name {
            Some(name) => match self.mapper.route(name) {
                Some(route) => self.mapper.generate_named(route, kargs, &self.script_name)?,
                None => {
                    let mut url = name.to_owned();
                    if url.starts_with('/') {
                        url.insert_str(0, &self.script_name);
                    }
                    if !kargs.is_empty() {
                        let query: Vec<String> = kargs
                            .iter()
                            .map(|(k, v)| format!("{}={}", url_quote(k), url_quote(v.as_deref().unwrap_or("None"))))
                            .collect();
                        url.push('?');
                        url.push_str(&query.join("&"));
                    }
                    url
                }
            },
            None => self.mapper.generate_from(None, kargs, &self.script_name)?,
        };
        if let Some(anchor) = anchor {
            url.push('#');
            url.push_str(&url_quote(&anchor));
        }
        Some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsgi::Input;

    #[test]
    fn quoting_as_urllib() {
        assert_eq!(url_quote("a b/c~d_e.f-g"), "a%20b/c~d_e.f-g");
        assert_eq!(url_quote("caf\u{e9}"), "caf%C3%A9");
        assert_eq!(url_quote("?#&=+%"), "%3F%23%26%3D%2B%25");
        assert_eq!(urlencode(&[("q", "a b"), ("x/y", "1&2")]), "q=a+b&x%2Fy=1%262");
        assert_eq!(unquote_plus("a+b%20c%2Fd%zz%"), "a b c/d%zz%");
        assert_eq!(unquote_plus("caf%C3%A9"), "caf\u{e9}");
        assert_eq!(
            parse_qsl("_method=put&a=1&&b&c=%20"),
            vec![
                ("_method".to_owned(), "put".to_owned()),
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), " ".to_owned())
            ]
        );
    }

    fn generator(script_name: &str) -> URLGenerator {
        let mut mapper = Mapper::new();
        mapper.connect(Some("image"), "/images/{image_id}").action("show");
        mapper.connect(None, "/hi/{fred}");
        mapper.connect_static("google-jp", "http://www.google.co.jp/search");
        let mut environ = Environ::for_request("GET", "/", &[("Host", "h")], Input::empty());
        environ.set("SCRIPT_NAME", script_name);
        URLGenerator::new(Arc::new(mapper), &environ)
    }

    #[test]
    fn urls_carry_script_name() {
        let url = generator("/v2");
        assert_eq!(
            url.url_for(Some("image"), &[("image_id", "abc")]).as_deref(),
            Some("/v2/images/abc")
        );
        assert_eq!(url.url_for(None, &[("fred", "smith")]).as_deref(), Some("/v2/hi/smith"));
        // test_explicit_use.test_anchor
        assert_eq!(
            url.url_for(None, &[("fred", "smith"), ("anchor", "here")]).as_deref(),
            Some("/v2/hi/smith#here")
        );
        // A name that is no route is a literal URL (test_explicit_use.test_static_args).
        assert_eq!(
            generator("").url_for(Some("/here"), &[("q", "here now")]).as_deref(),
            Some("/here?q=here%20now")
        );
        assert_eq!(url.url_for(Some("/here"), &[]).as_deref(), Some("/v2/here"));
        // An external static route has no SCRIPT_NAME (test_nonminimization.test_unicode_static).
        assert_eq!(
            url.url_for(Some("google-jp"), &[("q", "\u{30c6}\u{30b9}\u{30c8}")])
                .as_deref(),
            Some("http://www.google.co.jp/search?q=%E3%83%86%E3%82%B9%E3%83%88")
        );
        assert_eq!(url.url_for(Some("image"), &[]), None);
    }
}
