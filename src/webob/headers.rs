//! `webob.headers`: the response's header list ([`ResponseHeaders`], multi-valued,
//! case-insensitive, in order) and the request's headers as a view of the environ
//! ([`EnvironHeaders`]: `User-Agent` is `HTTP_USER_AGENT`, `Content-Type` is
//! `CONTENT_TYPE`).

use crate::wsgi::Environ;

/// The response headers, `webob.headers.ResponseHeaders`: a list of `(name, value)` in the
/// order they will be sent; names compare case-insensitively.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseHeaders {
    items: Vec<(String, String)>,
}

impl ResponseHeaders {
    pub fn new() -> ResponseHeaders {
        ResponseHeaders::default()
    }

    /// `headers[name]`: the last value of that name, as WebOb gives it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.items
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `headers.getall(name)`: every value of that name, in order (`Set-Cookie`).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.items
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// `name in headers`.
    pub fn contains(&self, name: &str) -> bool {
        self.items.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// `headers.add(name, value)`: appends, keeping others of the name.
    pub fn add(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.items.push((name.into(), value.into()));
    }

    /// `headers[name] = value`: removes every header of the name and appends this one.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        self.remove(&name);
        self.items.push((name, value.into()));
    }

    /// `del headers[name]`: removes every header of the name; returns how many there were.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.items.len();
        self.items.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        before - self.items.len()
    }

    /// Every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.items.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The list itself (`response.headerlist`).
    pub fn as_slice(&self) -> &[(String, String)] {
        &self.items
    }

    /// The list, mutably, for edits the methods above do not cover.
    pub fn as_mut_vec(&mut self) -> &mut Vec<(String, String)> {
        &mut self.items
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl std::fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for ResponseHeaders {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        ResponseHeaders {
            items: iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }
}

/// The environ key of a header name (`webob.headers._trans_name`): `Content-Type` is
/// `CONTENT_TYPE`, `Content-Length` is `CONTENT_LENGTH`, others are `HTTP_` + upper case
/// with `-` as `_`.
pub fn environ_key(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| if c == '-' { '_' } else { c.to_ascii_uppercase() })
        .collect();
    match upper.as_str() {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => upper,
        _ => format!("HTTP_{upper}"),
    }
}

/// The header name of an environ key (`webob.headers._trans_key`): `HTTP_USER_AGENT` is
/// `User-Agent`; `None` for keys that are not headers.
pub fn header_name(key: &str) -> Option<String> {
    let raw = match key {
        "CONTENT_TYPE" | "CONTENT_LENGTH" => key,
        _ => key.strip_prefix("HTTP_")?,
    };
    // Python's str.title(): upper case after every non-letter, lower case elsewhere.
    let mut out = String::with_capacity(raw.len());
    let mut start = true;
    for c in raw.chars() {
        let c = if c == '_' { '-' } else { c };
        if c.is_ascii_alphabetic() {
            out.push(if start {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            });
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    Some(out)
}

/// The request headers as a case-insensitive view of the environ
/// (`webob.headers.EnvironHeaders`, `req.headers`).
pub struct EnvironHeaders<'a> {
    environ: &'a Environ,
}

impl<'a> EnvironHeaders<'a> {
    pub fn new(environ: &'a Environ) -> EnvironHeaders<'a> {
        EnvironHeaders { environ }
    }

    /// `req.headers[name]`, any case: `get("user-agent")` reads `HTTP_USER_AGENT`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.environ.get(&environ_key(name))
    }

    /// `name in req.headers`.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every header, named as WebOb names them (`User-Agent`), in environ order.
    pub fn items(&self) -> Vec<(String, &'a str)> {
        self.environ
            .items()
            .into_iter()
            .filter_map(|(key, value)| header_name(&key).map(|name| (name, value)))
            .collect()
    }

    /// The header names.
    pub fn keys(&self) -> Vec<String> {
        self.items().into_iter().map(|(k, _)| k).collect()
    }
}

impl std::fmt::Debug for EnvironHeaders<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.items()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wsgi::Input;

    #[test]
    fn response_headers_are_multi_and_case_blind() {
        let mut h = ResponseHeaders::new();
        h.add("Set-Cookie", "a=1");
        h.add("set-cookie", "b=2");
        h.add("Content-Type", "text/plain");
        assert_eq!(h.get("SET-COOKIE"), Some("b=2"));
        assert_eq!(h.get_all("Set-Cookie"), vec!["a=1", "b=2"]);
        h.set("content-type", "text/html");
        assert_eq!(h.iter().last(), Some(("content-type", "text/html")));
        assert_eq!(h.remove("Set-Cookie"), 2);
        assert_eq!(h.len(), 1);
        assert!(!h.contains("set-cookie"));
    }

    #[test]
    fn names_and_keys() {
        assert_eq!(environ_key("Content-Type"), "CONTENT_TYPE");
        assert_eq!(environ_key("x-auth-token"), "HTTP_X_AUTH_TOKEN");
        assert_eq!(header_name("HTTP_X_AUTH_TOKEN").as_deref(), Some("X-Auth-Token"));
        assert_eq!(header_name("CONTENT_LENGTH").as_deref(), Some("Content-Length"));
        assert_eq!(header_name("HTTP_X_V2_ID").as_deref(), Some("X-V2-Id"));
        assert_eq!(header_name("PATH_INFO"), None);
    }

    #[test]
    fn environ_headers_view() {
        let e = Environ::for_request(
            "POST",
            "/",
            &[("Host", "h"), ("Content-Type", "text/plain"), ("X-Auth-Token", "t")],
            Input::empty(),
        );
        let h = EnvironHeaders::new(&e);
        assert_eq!(h.get("content-type"), Some("text/plain"));
        assert_eq!(h.get("X-AUTH-TOKEN"), Some("t"));
        assert!(h.contains("host"));
        assert!(!h.contains("accept"));
        let names = h.keys();
        assert!(names.contains(&"Content-Type".to_owned()));
        assert!(names.contains(&"X-Auth-Token".to_owned()));
        assert!(names.contains(&"Host".to_owned()));
    }
}
