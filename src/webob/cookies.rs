//! Cookies, `webob.cookies`: the request's `Cookie` header read as WebOb reads it
//! (`req.cookies`), and `Set-Cookie` values written as WebOb writes them
//! (`resp.set_cookie(...)`, `make_cookie`).
//!
//! Reading follows WebOb's regular expression by hand: `name=value` pairs are found
//! wherever they stand, values may be quoted (with `\"` and `\ooo` escapes), names must be
//! tokens that do not start with `$` and are not attribute names, and a later cookie of the
//! same name wins. Writing quotes a value that holds bytes cookies may not carry, as WebOb
//! does (it warns; the value is still sent, quoted and octal-escaped).

use std::time::{Duration, SystemTime};

use super::util::cookie_date;

/// `_legal_special_chars` plus `\w`: the bytes a cookie name (and an unquoted value) may
/// hold when reading.
fn is_legal(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b"~!@#$%^&*()_+=-`.?|:/(){}<>'".contains(&b)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// RFC 2616 token bytes: what a cookie name may be made of.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Attribute names, which are never cookie names.
const ATTRIBUTES: &[&str] = &[
    "path", "comment", "domain", "max-age", "expires", "secure", "httponly", "samesite",
];

/// `_valid_cookie_name`.
pub(crate) fn valid_cookie_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.iter().all(|&b| is_token(b))
        && name[0] != b'$'
        && !ATTRIBUTES.iter().any(|a| a.as_bytes().eq_ignore_ascii_case(name))
}

/// The `"(?:\\"|.)*?"` alternative: a quoted string at `s[0]`, its length.
fn quoted_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            // `.` does not match a newline
            b'\n' => return None,
            b'\\' if s.get(i + 1) == Some(&b'"') => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The `\w{3},\s[\w\d-]{9,11}\s[\d:]{8}\sGMT` alternative (an old `expires` date).
fn expires_len(s: &[u8]) -> Option<usize> {
    let w = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    if s.len() < 3
        || !s[..3].iter().all(|&b| w(b))
        || s.get(3) != Some(&b',')
        || !s.get(4).is_some_and(|&b| is_space(b))
    {
        return None;
    }
    let mut i = 5;
    let start = i;
    while i < s.len() && i - start < 11 && (w(s[i]) || s[i] == b'-') {
        i += 1;
    }
    // The class is greedy but may give back down to 9 chars for the rest to match.
    for n in (9..=i - start).rev() {
        let j = start + n;
        if !s.get(j).is_some_and(|&b| is_space(b)) {
            continue;
        }
        let t = j + 1;
        if s.len() >= t + 8 && s[t..t + 8].iter().all(|&b| b.is_ascii_digit() || b == b':') {
            let g = t + 8;
            if s.get(g).is_some_and(|&b| is_space(b)) && s.get(g + 1..g + 4) == Some(b"GMT") {
                return Some(g + 4);
            }
        }
    }
    None
}

/// The unquoted alternative: legal bytes or backslash escapes.
fn unquoted_len(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() {
        if is_legal(s[i]) {
            i += 1;
        } else if s[i] == b'\\' && i + 1 < s.len() {
            let octal = s.len() >= i + 4
                && (b'0'..=b'3').contains(&s[i + 1])
                && s[i + 2..i + 4].iter().all(|b| (b'0'..=b'7').contains(b));
            i += if octal {
                4
            } else if s[i + 1] != b'\n' {
                2
            } else {
                break;
            };
        } else {
            break;
        }
    }
    i
}

/// `_unquote`: strips surrounding quotes and resolves `\ooo` and `\c` escapes.
fn unquote(v: &[u8]) -> Vec<u8> {
    let v = if v.len() >= 2 && v[0] == b'"' && v[v.len() - 1] == b'"' {
        &v[1..v.len() - 1]
    } else {
        v
    };
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'\\' && i + 1 < v.len() {
            let octal = v.len() >= i + 4
                && (b'0'..=b'3').contains(&v[i + 1])
                && v[i + 2..i + 4].iter().all(|b| (b'0'..=b'7').contains(b));
            if octal {
                out.push((v[i + 1] - b'0') * 64 + (v[i + 2] - b'0') * 8 + (v[i + 3] - b'0'));
                i += 4;
            } else {
                out.push(v[i + 1]);
                i += 2;
            }
        } else {
            out.push(v[i]);
            i += 1;
        }
    }
    out
}

/// `parse_cookie(header)`: every `(name, value)` in the header, in order, names valid.
/// `header` is environ text (bytes as latin-1 chars); names and values are read as UTF-8
/// (U+FFFD for bad bytes, where WebOb raises).
pub fn parse_cookie(header: &str) -> Vec<(String, String)> {
    let bytes = super::util::latin1_bytes(header);
    let s: &[u8] = &bytes;
    let mut out = Vec::new();
    let mut pos = 0;
    'scan: while pos < s.len() {
        // The key is the shortest run of legal bytes followed by `\s*=`.
        let mut end = pos;
        while end < s.len() && is_legal(s[end]) {
            end += 1;
            let mut eq = end;
            while eq < s.len() && is_space(s[eq]) {
                eq += 1;
            }
            if s.get(eq) != Some(&b'=') {
                continue;
            }
            let mut v = eq + 1;
            while v < s.len() && is_space(s[v]) {
                v += 1;
            }
            let rest = &s[v..];
            let len = quoted_len(rest)
                .or_else(|| expires_len(rest))
                .unwrap_or_else(|| unquoted_len(rest));
            let name = &s[pos..end];
            if valid_cookie_name(name) {
                out.push((
                    String::from_utf8_lossy(name).into_owned(),
                    String::from_utf8_lossy(&unquote(&rest[..len])).into_owned(),
                ));
            }
            pos = v + len;
            continue 'scan;
        }
        pos += 1;
    }
    out
}

/// The bytes a cookie value may hold unquoted (RFC 6265 4.1.1).
fn allowed_in_value(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'()*+-./:<=>?@[]^_`{|}~".contains(&b)
}

/// `_escape_char` over every byte: allowed bytes and space as they are, others `\ooo`.
fn escape_bytes(v: &[u8]) -> String {
    let mut out = String::with_capacity(v.len());
    for &b in v {
        if allowed_in_value(b) || b == b' ' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\{b:03o}"));
        }
    }
    out
}

/// `_value_quote`: the value as it is when every byte is allowed, else quoted and escaped.
fn value_quote(v: &[u8]) -> String {
    if v.iter().all(|&b| allowed_in_value(b)) {
        String::from_utf8_lossy(v).into_owned()
    } else {
        format!("\"{}\"", escape_bytes(v))
    }
}

/// The `SameSite` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// Why a cookie could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieError {
    /// The name is not an RFC 2616 token, starts with `$`, or is an attribute name.
    InvalidName(String),
    /// `SameSite=None` without `Secure`, which browsers reject.
    SameSiteNoneNeedsSecure,
}

impl std::fmt::Display for CookieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CookieError::InvalidName(n) => write!(f, "invalid cookie name {n:?}"),
            CookieError::SameSiteNoneNeedsSecure => f.write_str(
                "Incompatible cookie attributes: when the samesite equals 'none', then the secure must be True",
            ),
        }
    }
}

impl std::error::Error for CookieError {}

/// A `Set-Cookie` to send: the arguments of WebOb's `response.set_cookie(name, value,
/// max_age=None, path='/', domain=None, secure=False, httponly=False, comment=None,
/// samesite=None)`, as a builder.
///
/// ```
/// use may_wsgi::webob::SetCookie;
/// let c = SetCookie::new("session", "abc").max_age(3600).http_only(true);
/// assert!(c.to_header_at(std::time::UNIX_EPOCH).unwrap().starts_with("session=abc; Max-Age=3600; Path=/; expires="));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    /// `None` deletes the cookie (empty value, `Max-Age=0`, an expiry in the past).
    pub value: Option<String>,
    pub max_age: Option<i64>,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub secure: bool,
    pub http_only: bool,
    pub comment: Option<String>,
    pub same_site: Option<SameSite>,
}

impl SetCookie {
    /// A cookie with WebOb's defaults: `Path=/`, nothing else.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> SetCookie {
        SetCookie {
            name: name.into(),
            value: Some(value.into()),
            max_age: None,
            path: Some("/".to_owned()),
            domain: None,
            secure: false,
            http_only: false,
            comment: None,
            same_site: None,
        }
    }

    /// The deletion of a cookie: `delete_cookie(name, path, domain)`.
    pub fn delete(name: impl Into<String>) -> SetCookie {
        SetCookie {
            value: None,
            ..SetCookie::new(name, "")
        }
    }

    /// `max_age` in seconds; also sets `expires` to now plus that.
    pub fn max_age(mut self, seconds: i64) -> SetCookie {
        self.max_age = Some(seconds);
        self
    }

    /// `path`; `None` sends no Path.
    pub fn path(mut self, path: Option<&str>) -> SetCookie {
        self.path = path.map(str::to_owned);
        self
    }

    pub fn domain(mut self, domain: &str) -> SetCookie {
        self.domain = Some(domain.to_owned());
        self
    }

    pub fn secure(mut self, secure: bool) -> SetCookie {
        self.secure = secure;
        self
    }

    pub fn http_only(mut self, http_only: bool) -> SetCookie {
        self.http_only = http_only;
        self
    }

    pub fn comment(mut self, comment: &str) -> SetCookie {
        self.comment = Some(comment.to_owned());
        self
    }

    pub fn same_site(mut self, same_site: SameSite) -> SetCookie {
        self.same_site = Some(same_site);
        self
    }

    /// The header value, `expires` counted from now.
    pub fn to_header(&self) -> Result<String, CookieError> {
        self.to_header_at(SystemTime::now())
    }

    /// The header value with `expires` counted from `now` (`make_cookie` + `serialize`):
    /// `name=value; Comment=..; Domain=..; Max-Age=..; Path=..; expires=..; secure;
    /// HttpOnly; SameSite=..`, in WebOb's order.
    pub fn to_header_at(&self, now: SystemTime) -> Result<String, CookieError> {
        if !valid_cookie_name(self.name.as_bytes()) {
            return Err(CookieError::InvalidName(self.name.clone()));
        }
        if self.same_site == Some(SameSite::None) && !self.secure {
            return Err(CookieError::SameSiteNoneNeedsSecure);
        }
        let (value, max_age, expires) = match &self.value {
            None => ("", Some(0), Some("Wed, 31-Dec-97 23:59:59 GMT".to_owned())),
            Some(v) => {
                let expires = self.max_age.map(|secs| {
                    let at = if secs >= 0 {
                        now + Duration::from_secs(secs as u64)
                    } else {
                        now.checked_sub(Duration::from_secs(secs.unsigned_abs())).unwrap_or(now)
                    };
                    cookie_date(at)
                });
                (v.as_str(), self.max_age, expires)
            }
        };
        let mut parts = vec![format!("{}={}", self.name, value_quote(value.as_bytes()))];
        if let Some(comment) = &self.comment {
            parts.push(format!("Comment={}", value_quote(comment.as_bytes())));
        }
        if let Some(domain) = &self.domain {
            parts.push(format!("Domain={}", escape_bytes(domain.as_bytes())));
        }
        if let Some(age) = max_age {
            parts.push(format!("Max-Age={}", escape_bytes(age.to_string().as_bytes())));
        }
        if let Some(path) = self.path.as_deref().filter(|p| !p.is_empty()) {
            parts.push(format!("Path={}", escape_bytes(path.as_bytes())));
        }
        if let Some(expires) = expires {
            parts.push(format!("expires={expires}"));
        }
        if self.secure {
            parts.push("secure".to_owned());
        }
        if self.http_only {
            parts.push("HttpOnly".to_owned());
        }
        if let Some(same_site) = self.same_site {
            parts.push(format!("SameSite={}", same_site.as_str()));
        }
        Ok(parts.join("; "))
    }
}

/// The name of the cookie a `Set-Cookie` value sets.
pub(crate) fn set_cookie_name(header: &str) -> Option<&str> {
    header.split(';').next()?.split_once('=').map(|(n, _)| n.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(header: &str) -> Vec<(String, String)> {
        parse_cookie(header)
    }

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn request_cookies_like_webob() {
        assert_eq!(pairs("a=1; b=2"), p(&[("a", "1"), ("b", "2")]));
        assert_eq!(pairs("a=\"x y\\\"z\"; b = 2"), p(&[("a", "x y\"z"), ("b", "2")]));
        assert_eq!(pairs("a=\\303\\251"), p(&[("a", "é")]));
        assert_eq!(
            pairs("$Version=1; a=1; Path=/; expires=Wed, 09 Jun 2021 10:18:14 GMT"),
            p(&[("a", "1")])
        );
        assert_eq!(pairs("foo bar=baz"), p(&[("bar", "baz")]));
        assert_eq!(pairs("a=; b"), p(&[("a", "")]));
        assert_eq!(pairs("a==b"), p(&[("a", "=b")]));
        assert_eq!(pairs(""), p(&[]));
        assert_eq!(pairs("garbage"), p(&[]));
        assert_eq!(
            pairs("d=Wed, 09-Jun-2021 10:18:14 GMT; e=5"),
            p(&[("d", "Wed, 09-Jun-2021 10:18:14 GMT"), ("e", "5")])
        );
        assert_eq!(pairs("a=1,b=2"), p(&[("a", "1"), ("b", "2")]));
    }

    #[test]
    fn request_cookies_however_split() {
        // Cutting the header between two cookies never changes either cookie.
        let header = "a=1; session=\"x y\"; theme=dark; b=\\101";
        let whole = pairs(header);
        assert_eq!(
            whole,
            p(&[("a", "1"), ("session", "x y"), ("theme", "dark"), ("b", "A")])
        );
        for (i, _) in header.match_indices("; ") {
            let mut joined = pairs(&header[..i]);
            joined.extend(pairs(&header[i + 2..]));
            assert_eq!(joined, whole, "cut at {i}");
        }
        // A byte at a time: every prefix parses without panicking and yields a prefix of
        // the cookies (the last one possibly cut short).
        for cut in 0..=header.len() {
            let part = pairs(&header[..cut]);
            for (a, b) in part.iter().zip(&whole).take(part.len().saturating_sub(1)) {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn set_cookie_like_webob() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_780_660_800);
        assert_eq!(SetCookie::new("a", "b").to_header_at(now).unwrap(), "a=b; Path=/");
        assert_eq!(
            SetCookie::new("s", "v")
                .max_age(60)
                .domain("example.com")
                .secure(true)
                .http_only(true)
                .comment("hi")
                .same_site(SameSite::Lax)
                .to_header_at(now)
                .unwrap(),
            "s=v; Comment=hi; Domain=example.com; Max-Age=60; Path=/; expires=Fri, 05-Jun-2026 12:01:00 GMT; secure; HttpOnly; SameSite=Lax"
        );
        assert_eq!(
            SetCookie::delete("a").to_header_at(now).unwrap(),
            "a=; Max-Age=0; Path=/; expires=Wed, 31-Dec-97 23:59:59 GMT"
        );
        assert_eq!(
            SetCookie::new("a", "x y;\"é").to_header_at(now).unwrap(),
            "a=\"x y\\073\\042\\303\\251\"; Path=/"
        );
        assert_eq!(SetCookie::new("a", "b").path(None).to_header_at(now).unwrap(), "a=b");
        assert!(matches!(
            SetCookie::new("bad name", "x").to_header(),
            Err(CookieError::InvalidName(_))
        ));
        assert!(matches!(
            SetCookie::new("path", "x").to_header(),
            Err(CookieError::InvalidName(_))
        ));
        assert_eq!(
            SetCookie::new("a", "b").same_site(SameSite::None).to_header(),
            Err(CookieError::SameSiteNoneNeedsSecure)
        );
        assert_eq!(set_cookie_name("a=b; Path=/"), Some("a"));
    }
}
