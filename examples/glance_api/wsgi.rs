//! The parts of `glance/common/wsgi.py` the Images API needs beyond the kit's `Router`,
//! `Resource` and `RejectMethodController`: `Request.get_content_type`,
//! `Request.get_range_from_request`, `JSONRequestDeserializer.default`/`from_json`, and
//! `JSONResponseSerializer` (JSON written as Python's `json.dumps` writes it: `", "` and
//! `": "` between items, non-ASCII as is). Hands on to the deserializers and serializers
//! of `images.rs`, `image_data.rs`, `versions.rs`.

use may_wsgi::routes::{has_body, Fault};
use may_wsgi::webob::{exc, ByteRange, ContentRange, Range, Request};
use may_wsgi::{Body, Environ, StartResponse};
use serde_json::Value;

/// Appends `s` as a JSON string.
pub fn push_json_str(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// `JSONRequestDeserializer.from_json`.
pub fn from_json(datastring: &[u8]) -> Result<Value, Fault> {
    match serde_json::from_slice::<Value>(datastring) {
        Ok(v @ (Value::Object(_) | Value::Array(_))) => Ok(v),
        Ok(_) => Err(Fault::bad_request("Unexpected body type. Expected list/dict.")),
        Err(_) => Err(Fault::bad_request("Malformed JSON in request body.")),
    }
}

/// `JSONRequestDeserializer.default`: `{'body': ...}` when there is a body.
pub fn default_body(environ: &mut Environ) -> Result<Option<Value>, Fault> {
    if !has_body(environ) {
        return Ok(None);
    }
    let body = Request::new(environ).body().map_err(Fault::from)?;
    from_json(&body).map(Some)
}

/// `Request.get_content_type(allowed_content_types)`: `Err` is `InvalidContentType`'s
/// message.
pub fn get_content_type(environ: &Environ, allowed: &[&str]) -> Result<String, String> {
    let Some(header) = environ.get("CONTENT_TYPE") else {
        return Err("Invalid content type None".into());
    };
    // webob's `content_type`: the media type without parameters.
    let content_type = header.split(';').next().unwrap_or("").trim().to_owned();
    if allowed.contains(&content_type.as_str()) {
        Ok(content_type)
    } else {
        Err(format!("Invalid content type {content_type}"))
    }
}

/// What `get_range_from_request` found: webob's `Range` (start, end exclusive; a negative
/// start is a suffix) or, from a `Content-Range` request header, `ContentRange`.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeVal {
    Range { start: i64, end: Option<u64> },
    ContentRange { start: u64, stop: u64 },
}

/// `Request.get_range_from_request(image_size)`.
pub fn get_range_from_request(environ: &Environ, image_size: u64) -> Result<Option<RangeVal>, Fault> {
    let not_satisfiable = |msg: String| Fault::from(exc::HTTPRequestRangeNotSatisfiable().with_detail(msg));
    let start_msg = |what: &str| {
        format!(
            "Invalid start position in {what} header. Start position MUST be in the inclusive range [0, {}].",
            image_size as i64 - 1
        )
    };
    if let Some(range_str) = environ.get("HTTP_RANGE") {
        if range_str.contains(',') {
            return Err(Fault::bad_request(
                "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.",
            ));
        }
        let range = Range::parse(range_str).and_then(|r| r.ranges().first().copied());
        let (start, end) = match range {
            Some(ByteRange::FromTo(first, last)) => (first as i64, Some(last + 1)),
            Some(ByteRange::From(first)) => (first as i64, None),
            Some(ByteRange::Suffix(n)) if n > 0 => (-(n as i64), None),
            _ => return Err(not_satisfiable("Invalid Range header.".into())),
        };
        if start >= 0 && start as u64 >= image_size {
            return Err(not_satisfiable(start_msg("Range")));
        }
        return Ok(Some(RangeVal::Range { start, end }));
    }
    if let Some(c_range_str) = environ.get("HTTP_CONTENT_RANGE") {
        let Some(ContentRange {
            range: Some((start, stop)),
            length,
        }) = ContentRange::parse(c_range_str)
        else {
            return Err(not_satisfiable("Invalid Content-Range header.".into()));
        };
        if length.is_none() && stop > image_size {
            return Err(not_satisfiable(format!(
                "Invalid stop position in Content-Range header. The stop position MUST be in the inclusive range [0, {}].",
                image_size as i64 - 1
            )));
        }
        if start >= image_size {
            return Err(not_satisfiable(start_msg("Content-Range")));
        }
        return Ok(Some(RangeVal::ContentRange { start, stop }));
    }
    Ok(None)
}

/// A JSON answer: `Content-Type: application/json` (no charset) and its length.
pub fn json_response(start_response: &mut StartResponse, status: &str, body: String, extra: &[(&str, &str)]) -> Body {
    let length = body.len().to_string();
    let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json"), ("Content-Length", &length)];
    headers.extend_from_slice(extra);
    start_response.call(status, headers);
    Body::from(body)
}

/// webob's default `Response()` with a status and no body: `text/html; charset=UTF-8`,
/// `Content-Length: 0` (Glance's 204s).
pub fn empty_response(start_response: &mut StartResponse, status: &str) -> Body {
    start_response.call(
        status,
        [("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", "0")],
    );
    Body::Empty
}

#[cfg(test)]
mod tests {
    use super::*;
    use may_wsgi::Input;

    fn environ(headers: &[(&str, &str)]) -> Environ {
        let mut all = vec![("Host", "h")];
        all.extend_from_slice(headers);
        Environ::for_request("GET", "/", &all, Input::empty())
    }

    #[test]
    fn ranges_as_glance_reads_them() {
        let r = |h: &str| get_range_from_request(&environ(&[("Range", h)]), 11);
        assert_eq!(
            r("bytes=0-4").unwrap(),
            Some(RangeVal::Range { start: 0, end: Some(5) })
        );
        assert_eq!(r("bytes=6-").unwrap(), Some(RangeVal::Range { start: 6, end: None }));
        assert_eq!(r("bytes=-5").unwrap(), Some(RangeVal::Range { start: -5, end: None }));
        assert_eq!(r("bytes=11-").unwrap_err().code, 416);
        assert_eq!(r("garbage").unwrap_err().detail, "Invalid Range header.");
        assert_eq!(r("bytes=0-1,3-4").unwrap_err().code, 400);
        let c = get_range_from_request(&environ(&[("Content-Range", "bytes 1-3/11")]), 11).unwrap();
        assert_eq!(c, Some(RangeVal::ContentRange { start: 1, stop: 4 }));
        assert_eq!(get_range_from_request(&environ(&[]), 11).unwrap(), None);
    }

    #[test]
    fn json_as_python_writes_it() {
        let mut out = String::new();
        push_json_str(&mut out, "é\"");
        assert_eq!(out, r#""é\"""#);
        assert_eq!(
            from_json(b"5").unwrap_err().explanation,
            "Unexpected body type. Expected list/dict."
        );
        assert_eq!(
            from_json(b"{").unwrap_err().explanation,
            "Malformed JSON in request body."
        );
    }
}
