//! Small pieces the rest of `webob` shares, each the Rust twin of a Python helper WebOb
//! leans on: `urllib.parse.quote` and `urljoin`, `webob.util.html_escape`, `json.dumps` of a
//! string, `string.Template.safe_substitute`, the status reason table (`webob.util
//! .status_reasons`) and HTTP dates. Nothing here knows a request or a response; it hands
//! plain strings and bytes back.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `urllib.parse.quote(bytes, safe)`: percent-encodes every byte but ASCII letters, digits,
/// `_.-~` and the bytes in `safe`, with upper-case hex as Python does.
pub(crate) fn url_quote(bytes: &[u8], safe: &str) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || (b.is_ascii() && safe.as_bytes().contains(&b)) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[(b >> 4) as usize]));
            out.push(char::from(b"0123456789ABCDEF"[(b & 15) as usize]));
        }
    }
    out
}

/// The characters WebOb leaves unquoted in paths (`webob.request.PATH_SAFE`).
pub(crate) const PATH_SAFE: &str = "/~!$&'()*+,;=:@";

/// Text that carries bytes as latin-1 chars (PEP 3333's "native strings") back to bytes;
/// chars beyond U+00FF (which such text never holds) are given as UTF-8.
pub(crate) fn latin1_bytes(text: &str) -> Cow<'_, [u8]> {
    if text.is_ascii() || text.chars().any(|c| (c as u32) > 0xFF) {
        Cow::Borrowed(text.as_bytes())
    } else {
        Cow::Owned(text.chars().map(|c| c as u8).collect())
    }
}

/// Bytes as latin-1 text, one char per byte (Python's `bytes.decode('latin-1')`).
pub(crate) fn latin1_text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// `environ` text holding UTF-8 bytes as latin-1 chars, decoded: WebOb's
/// `environ['PATH_INFO'].encode('latin-1').decode('utf-8')`. Bytes that are not UTF-8 become
/// U+FFFD, where Python would raise.
pub(crate) fn decode_native(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    match latin1_bytes(text) {
        Cow::Borrowed(_) => Cow::Borrowed(text),
        Cow::Owned(bytes) => Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()),
    }
}

/// The opposite of [`decode_native`]: UTF-8 text as the latin-1 text the environ holds.
pub(crate) fn encode_native(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(latin1_text(text.as_bytes()))
    }
}

/// Percent-decoding as WebOb's `webob.util.unquote` does it, except that a `%` not followed
/// by two hex digits is kept as it is (Python raises there).
pub(crate) fn percent_decode(bytes: &[u8]) -> Cow<'_, [u8]> {
    if !bytes.contains(&b'%') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(out)
}

/// `webob.util.html_escape`: `html.escape(s, quote=True)`, then every non-ASCII char as a
/// decimal character reference (`xmlcharrefreplace`).
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c if c.is_ascii() => out.push(c),
            c => {
                out.push_str("&#");
                out.push_str(&(c as u32).to_string());
                out.push(';');
            }
        }
    }
    out
}

/// Appends `text` as a JSON string exactly as Python's `json.dumps` writes it (its default
/// `ensure_ascii=True`: non-ASCII as `\uXXXX`, astral chars as surrogate pairs).
pub(crate) fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `string.Template(template).safe_substitute(lookup)`: `$$` is `$`, `$name` and `${name}`
/// (an identifier: ASCII letter or `_`, then letters, digits, `_`) are replaced by what
/// `lookup` gives, and left as they are when it gives nothing.
pub(crate) fn template_substitute(template: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    fn ident_len(s: &[u8]) -> usize {
        match s.first() {
            Some(b) if b.is_ascii_alphabetic() || *b == b'_' => {
                1 + s[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count()
            }
            _ => 0,
        }
    }
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut i = 0;
    let mut copied = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&template[copied..i]);
        let rest = &bytes[i + 1..];
        if rest.first() == Some(&b'$') {
            out.push('$');
            i += 2;
        } else if rest.first() == Some(&b'{') {
            let n = ident_len(&rest[1..]);
            if n > 0 && rest.get(1 + n) == Some(&b'}') {
                let name = &template[i + 2..i + 2 + n];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&template[i..i + 3 + n]),
                }
                i += 3 + n;
            } else {
                out.push('$');
                i += 1;
            }
        } else {
            let n = ident_len(rest);
            if n > 0 {
                let name = &template[i + 1..i + 1 + n];
                match lookup(name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&template[i..i + 1 + n]),
                }
                i += 1 + n;
            } else {
                out.push('$');
                i += 1;
            }
        }
        copied = i;
    }
    out.push_str(&template[copied..]);
    out
}

/// `webob.util.status_reasons`, with `status_generic_reasons` for codes it lacks.
pub fn status_reason(code: u16) -> &'static str {
    known_reason(code).unwrap_or(match code / 100 {
        1 => "Continue",
        2 => "Success",
        3 => "Multiple Choices",
        4 => "Unknown Client Error",
        _ => "Unknown Server Error",
    })
}

fn known_reason(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi Status",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable for Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

/// An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`, or the two obsolete forms) as a time.
pub(crate) fn parse_http_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text.trim()).ok()
}

/// A time as an HTTP date, whole seconds.
pub(crate) fn format_http_date(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

/// Seconds since the epoch, clamped at 0 for earlier times.
pub(crate) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs()
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A cookie `expires` date as WebOb writes it: `Wed, 05-Jun-2026 12:00:00 GMT` (dashes, the
/// Netscape form browsers all read).
pub(crate) fn cookie_date(time: SystemTime) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = unix_seconds(time) as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {:02}-{}-{:04} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        day,
        MONTHS[month as usize - 1],
        year,
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `urllib.parse.urljoin(base, reference)` for an absolute `base` (`scheme://host/path?q`):
/// RFC 3986 section 5.2 reference resolution, dot segments removed.
pub(crate) fn urljoin(base: &str, reference: &str) -> String {
    if reference.is_empty() {
        return base.to_owned();
    }
    if has_scheme(reference) {
        return reference.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let base_rest = &rest[authority_end..];
    let base_path_end = base_rest.find(['?', '#']).unwrap_or(base_rest.len());
    let base_path = &base_rest[..base_path_end];
    let base_query = base_rest[base_path_end..].split('#').next().unwrap_or("");
    let prefix = format!("{scheme}://");
    if let Some(net) = reference.strip_prefix("//") {
        return format!("{scheme}://{net}");
    }
    let (ref_path, ref_tail) = match reference.find(['?', '#']) {
        Some(i) => (&reference[..i], &reference[i..]),
        None => (reference, ""),
    };
    if ref_path.is_empty() {
        // "?q" or "#f": the base path, and the base query unless a new one is given.
        let query = if ref_tail.starts_with('?') { "" } else { base_query };
        return format!("{prefix}{authority}{base_path}{query}{ref_tail}");
    }
    let merged = if ref_path.starts_with('/') {
        ref_path.to_owned()
    } else if base_path.is_empty() {
        format!("/{ref_path}")
    } else {
        let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        format!("{dir}{ref_path}")
    };
    format!("{prefix}{authority}{}{ref_tail}", remove_dot_segments(&merged))
}

/// True when `url` starts with a URI scheme (`http:`, `mailto:`).
pub(crate) fn has_scheme(url: &str) -> bool {
    let Some(colon) = url.find(':') else {
        return false;
    };
    let scheme = &url[..colon];
    !scheme.is_empty()
        && scheme.as_bytes()[0].is_ascii_alphabetic()
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// RFC 3986 section 5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if path.starts_with('/') && !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_like_python() {
        assert_eq!(url_quote(b"/a b/\xc3\xa9~_.-", PATH_SAFE), "/a%20b/%C3%A9~_.-");
        assert_eq!(url_quote(b"a/b?c", "/"), "a/b%3Fc");
        assert_eq!(url_quote(b"$&'()*+,;=:@!", PATH_SAFE), "$&'()*+,;=:@!");
    }

    #[test]
    fn native_strings_round_trip() {
        let native = encode_native("/café");
        assert_eq!(native, "/caf\u{c3}\u{a9}");
        assert_eq!(decode_native(&native), "/café");
        assert_eq!(latin1_bytes(&native).as_ref(), "/café".as_bytes());
        assert_eq!(decode_native("/caf\u{e9}"), "/caf\u{fffd}");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode(b"a%20b%2fc").as_ref(), b"a b/c");
        assert_eq!(percent_decode(b"%zz%4").as_ref(), b"%zz%4");
        assert_eq!(percent_decode(b"%41%").as_ref(), b"A%");
    }

    #[test]
    fn html_escape_like_webob() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a> é"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt; &#233;"
        );
    }

    #[test]
    fn json_strings_like_python() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\n\r\t\u{1}é€😀/");
        assert_eq!(s, r#""a\"b\\c\n\r\t\u0001\u00e9\u20ac\ud83d\ude00/""#);
    }

    #[test]
    fn templates_like_python() {
        let lookup = |name: &str| match name {
            "a" => Some("A".to_owned()),
            "REQUEST_METHOD" => Some("GET".to_owned()),
            _ => None,
        };
        assert_eq!(
            template_substitute("$a ${a} $$ $b ${b} $ ${REQUEST_METHOD}.", &lookup),
            "A A $ $b ${b} $ GET."
        );
        assert_eq!(template_substitute("${a", &lookup), "${a");
        assert_eq!(template_substitute("$1 $a_b", &lookup), "$1 $a_b");
    }

    #[test]
    fn cookie_dates() {
        assert_eq!(cookie_date(UNIX_EPOCH), "Thu, 01-Jan-1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(1_780_660_800); // 2026-06-05 12:00:00
        assert_eq!(cookie_date(t), "Fri, 05-Jun-2026 12:00:00 GMT");
        assert_eq!(format_http_date(t), "Fri, 05 Jun 2026 12:00:00 GMT");
        assert_eq!(parse_http_date("Fri, 05 Jun 2026 12:00:00 GMT"), Some(t));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    #[test]
    fn urljoin_like_python() {
        let base = "http://h:8080/a/b/c?q=1";
        assert_eq!(urljoin(base, "d"), "http://h:8080/a/b/d");
        assert_eq!(urljoin(base, "/x"), "http://h:8080/x");
        assert_eq!(urljoin(base, "../x"), "http://h:8080/a/x");
        assert_eq!(urljoin(base, "./"), "http://h:8080/a/b/");
        assert_eq!(urljoin(base, "?z"), "http://h:8080/a/b/c?z");
        assert_eq!(urljoin(base, "//other/p"), "http://other/p");
        assert_eq!(urljoin(base, "https://e.com/"), "https://e.com/");
        assert_eq!(urljoin(base, ""), base);
        assert_eq!(urljoin("http://h", "x"), "http://h/x");
        assert_eq!(urljoin("http://h/a/", "../../x"), "http://h/x");
        assert_eq!(urljoin("http://h/a", "/%2fevil.com"), "http://h/%2fevil.com");
    }

    #[test]
    fn reasons() {
        assert_eq!(status_reason(416), "Requested Range Not Satisfiable");
        assert_eq!(status_reason(299), "Success");
        assert_eq!(status_reason(599), "Unknown Server Error");
    }
}
