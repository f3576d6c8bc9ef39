//! The response side of HTTP/1.1 as bytes: status lines, the Date header, chunked
//! encoding and the server's own error answers.
//!
//! The gateway (`wsgi::start_response`) decides *what* goes in a head; this file knows how
//! it is spelled on the wire. Everything writes into a caller's `Vec<u8>`, so the connection
//! loop can gather a head and a small body into one `write`.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The reason phrase for the statuses the server itself produces.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

thread_local! {
    // An HTTP date changes once a second; formatting it for every response would cost more
    // than the rest of a hello-world head. Each scheduler thread keeps the last Date line.
    static DATE: RefCell<(u64, [u8; DATE_LINE_LEN])> = const { RefCell::new((u64::MAX, [0; DATE_LINE_LEN])) };
}

/// "Date: " + IMF-fixdate (29 bytes) + CRLF.
const DATE_LINE_LEN: usize = 6 + 29 + 2;

/// Seconds since the Unix epoch from the kernel's coarse clock: a date to the second needs
/// no better, and it is read without the cycle counter (a third of the precise clock's cost).
fn unix_seconds() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // Safety: `ts` is a valid place for the kernel (the vDSO) to write the time into.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        u64::try_from(ts.tv_sec).unwrap_or(0)
    } else {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// Appends the Date header line for now: "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n".
pub fn push_date_line(out: &mut Vec<u8>) {
    let secs = unix_seconds();
    DATE.with_borrow_mut(|(cached_secs, line)| {
        if *cached_secs != secs {
            let formatted = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
            line[..6].copy_from_slice(b"Date: ");
            line[6..35].copy_from_slice(&formatted.as_bytes()[..29]);
            line[35..].copy_from_slice(b"\r\n");
            *cached_secs = secs;
        }
        out.extend_from_slice(line);
    });
}

/// Appends `n` in decimal without going through `fmt`.
pub fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The line that opens one chunk of `len` bytes ("1a2b\r\n"), built on the stack.
pub struct ChunkLine {
    bytes: [u8; 18],
    start: usize,
}

impl ChunkLine {
    pub fn new(len: usize) -> ChunkLine {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; 18];
        bytes[16] = b'\r';
        bytes[17] = b'\n';
        let mut start = 16;
        let mut n = len;
        loop {
            start -= 1;
            bytes[start] = HEX[n & 15];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        ChunkLine { bytes, start }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[self.start..]
    }
}

/// The chunk that ends a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The interim answer to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// A complete response the server writes on its own behalf (framing errors, app panics):
/// a short text body and `Connection: close`. Returns the body's length.
pub fn push_error(out: &mut Vec<u8>, status: u16, detail: &str) -> usize {
    let body_len = reason(status).len() + 2 + detail.len() + 1;
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    push_decimal(out, body_len as u64);
    out.extend_from_slice(b"\r\nConnection: close\r\n");
    push_date_line(out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(detail.as_bytes());
    out.push(b'\n');
    body_len
}

/// Whether a response with this status may carry a body (RFC 9110 6.4.1).
pub fn status_has_body(status: u16) -> bool {
    !(100..200).contains(&status) && status != 204 && status != 304
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_hex() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            let mut out = Vec::new();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0usize, 9, 10, 255, 65536, usize::MAX] {
            assert_eq!(ChunkLine::new(n).as_bytes(), format!("{n:x}\r\n").as_bytes());
        }
    }

    #[test]
    fn date_is_an_http_date() {
        let mut out = Vec::new();
        push_date_line(&mut out);
        let line = String::from_utf8(out).unwrap();
        let text = line
            .strip_prefix("Date: ")
            .and_then(|t| t.strip_suffix("\r\n"))
            .expect(&line);
        let date = httpdate::parse_http_date(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(text.ends_with(" GMT"));
        // The coarse clock is behind by a tick at most; the second may have turned since.
        let now = SystemTime::now();
        let behind = now.duration_since(date).unwrap_or_default();
        let ahead = date.duration_since(now).unwrap_or_default();
        assert!(behind <= Duration::from_secs(2) && ahead.is_zero(), "{text}");
    }

    #[test]
    fn error_response_is_framed() {
        let mut out = Vec::new();
        push_error(&mut out, 414, "request line too long");
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"));
        assert!(head.contains("Connection: close"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
        assert_eq!(body, "URI Too Long: request line too long\n");
    }

    #[test]
    fn bodiless_statuses() {
        assert!(!status_has_body(101) && !status_has_body(204) && !status_has_body(304));
        assert!(status_has_body(200) && status_has_body(404));
    }
}
