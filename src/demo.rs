//! The demo application `may-wsgi` serves: a few routes to point curl, a proxy or a load
//! generator at, each a small lesson in one part of the WSGI contract.
//!
//! | route | what it shows |
//! |---|---|
//! | `/` | the hello world: a bytes body, its length known |
//! | `/echo` | `wsgi.input` streamed back as it is read (an iterator body) |
//! | `/environ`, `/environ/...` | every environ key, sorted |
//! | `/stream?chunks=N&size=B` | an iterator body of unknown length (chunked) |
//! | `/download?mib=N&seed=S` | N MiB of bytes a client can check ([`download_bytes`]), length known, streamed |
//! | `/sleep?seconds=S` | I/O-bound: a coroutine sleeping without blocking its thread |
//! | `/block?seconds=S` | the mistake: blocking the OS thread (what `--timeout` catches; harmless to the others under `--worker-class thread`) |
//! | `/hash?kib=N` | CPU-bound: N KiB hashed, the work neither class can wait away |
//! | `/pid` | which worker process answered |
//! | `/panic` | a panicking app: 500, and the worker goes on |
//! | `/recurse` | a bug that recurses without bound: the stack overflows, the connection closes, the worker is replaced |
//! | `/status/NNN` | any status |
//! | `/leak?kib=N` | a test aid: leaks N KiB on purpose (what `--max-worker-memory` is for) |
//! | `OPTIONS *` | the methods the demo serves, in `Allow` |

use std::io::Read;
use std::time::Duration;

use crate::wsgi::{Body, Environ, StartResponse};

const TEXT: [(&str, &str); 1] = [("Content-Type", "text/plain")];

/// The methods the demo's routes are meant for: GET and HEAD everywhere, POST and PUT for
/// `/echo`, and OPTIONS.
const ALLOW: &str = "GET, HEAD, POST, PUT, OPTIONS";

/// The demo application.
pub fn app(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let path = environ.get_or("PATH_INFO", "/");
    if path == "*" && environ.get("REQUEST_METHOD") == Some("OPTIONS") {
        // `OPTIONS *` asks about the server as a whole, not one resource (RFC 9110 9.3.7):
        // what it can do, here which methods it serves. No content, so Content-Length: 0.
        start_response.call("200 OK", [("Allow", ALLOW)]);
        return Body::Empty;
    }
    if path == "/" {
        start_response.call("200 OK", TEXT);
        return Body::from("Hello World");
    }
    if path == "/echo" {
        return echo(environ, start_response);
    }
    if path == "/environ" || path.starts_with("/environ/") {
        return dump_environ(environ, start_response);
    }
    if path == "/stream" {
        return stream(environ, start_response);
    }
    if path == "/download" {
        return download(environ, start_response);
    }
    if path == "/sleep" {
        return sleep(environ, start_response);
    }
    if path == "/block" {
        return block(environ, start_response);
    }
    if path == "/hash" {
        return hash(environ, start_response);
    }
    if path == "/recurse" {
        start_response.call("200 OK", TEXT);
        return Body::from(format!("{}\n", recurse(0)));
    }
    if path == "/pid" {
        start_response.call("200 OK", TEXT);
        return Body::from(format!("{}\n", std::process::id()));
    }
    if path == "/panic" {
        panic!("the demo app was asked to panic");
    }
    if path == "/leak" {
        return leak(environ, start_response);
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let code = code.to_owned();
        return status(&code, start_response);
    }
    start_response.call("404 Not Found", TEXT);
    Body::from("Not Found\n")
}

fn bad_request(start_response: &mut StartResponse, why: String) -> Body {
    start_response.call("400 Bad Request", TEXT);
    Body::from(why + "\n")
}

/// The value of `name` in a query string, if present.
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A numeric query parameter within bounds, or the default when absent.
fn bounded<T: std::str::FromStr + PartialOrd + Copy + std::fmt::Display>(
    environ: &Environ,
    name: &str,
    default: T,
    max: T,
) -> Result<T, String> {
    match query_param(environ.get_or("QUERY_STRING", ""), name) {
        None => Ok(default),
        Some(text) => match text.parse::<T>() {
            Ok(v) if v <= max => Ok(v),
            _ => Err(format!("{name} must be a number no larger than {max}, not {text:?}")),
        },
    }
}

fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let content_type = environ.get_or("CONTENT_TYPE", "application/octet-stream").to_owned();
    let mut headers = vec![("Content-Type".to_owned(), content_type)];
    if let Some(length) = environ.get("CONTENT_LENGTH") {
        headers.push(("Content-Length".to_owned(), length.to_owned()));
    }
    start_response.call("200 OK", headers);
    let mut input = environ.take_input();
    // Each read becomes one piece of the response: the body is never held whole.
    Body::iter(std::iter::from_fn(move || {
        let mut piece = vec![0u8; 64 * 1024];
        match input.read(&mut piece) {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                piece.truncate(n);
                Some(piece)
            }
        }
    }))
}

/// Every key and value, sorted, each value written back as the bytes it arrived as (the
/// Python demo's `environ[k].encode('latin-1')`): a header byte 0xE9 comes back as 0xE9,
/// not as the two UTF-8 bytes of "é".
fn dump_environ(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let keys: Vec<String> = environ.items().into_iter().map(|(k, _)| k.into_owned()).collect();
    let mut lines: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| {
            let mut line = format!("{k}=").into_bytes();
            line.extend_from_slice(&environ.get_bytes(k).unwrap_or_default());
            line.push(b'\n');
            line
        })
        .collect();
    lines.sort();
    start_response.call("200 OK", TEXT);
    Body::from(lines.concat())
}

fn stream(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let chunks = bounded(environ, "chunks", 10usize, 1_000_000);
    let size = bounded(environ, "size", 1024usize, 16 * 1024 * 1024);
    let (chunks, size) = match (chunks, size) {
        (Ok(c), Ok(s)) => (c, s),
        (Err(why), _) | (_, Err(why)) => return bad_request(start_response, why),
    };
    start_response.call("200 OK", TEXT);
    Body::iter((0..chunks).map(move |_| vec![b'x'; size]))
}

/// The bytes `/download?seed=S` sends, from `offset` on, into `out`: each 8-byte word is
/// a mix of the seed and the word's index (the SplitMix64 finalizer), little-endian. A
/// client that knows the seed can check every byte of a download without a copy of it, and
/// a piece sent twice, lost or swapped (a proxy bug, a worker mixing up responses) never
/// matches, since no two words of one download are alike.
pub fn download_bytes(seed: u64, offset: u64, out: &mut [u8]) {
    let (mut at, mut rest) = (offset, out);
    while !rest.is_empty() {
        let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (at / 8);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let word = z.to_le_bytes();
        let skip = (at % 8) as usize;
        let n = (8 - skip).min(rest.len());
        rest[..n].copy_from_slice(&word[skip..skip + n]);
        rest = &mut rest[n..];
        at += n as u64;
    }
}

/// `mib` MiB (at most 1024; 1 when absent) of [`download_bytes`] for `seed` (0 when
/// absent), in 64 KiB pieces made as they are sent: a large download through a proxy with
/// the length known, which the proxy and the client can check end to end.
fn download(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let mib = bounded(environ, "mib", 1u64, 1024);
    let seed = bounded(environ, "seed", 0u64, u64::MAX);
    let (mib, seed) = match (mib, seed) {
        (Ok(m), Ok(s)) => (m, s),
        (Err(why), _) | (_, Err(why)) => return bad_request(start_response, why),
    };
    const PIECE: u64 = 64 * 1024;
    let length = mib * 1024 * 1024;
    let length_text = length.to_string();
    start_response.call(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            ("Content-Length", &length_text),
        ],
    );
    Body::iter((0..length / PIECE).map(move |n| {
        let mut piece = vec![0u8; PIECE as usize];
        download_bytes(seed, n * PIECE, &mut piece);
        piece
    }))
}

/// Recurses until the stack runs out, as a parser does on input nested too deep: each
/// level keeps a little data alive so the compiler cannot turn it into a loop.
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    if std::hint::black_box(depth) == u64::MAX {
        return frame[0];
    }
    recurse(depth + 1).wrapping_add(frame[15])
}

/// The `seconds` parameter of /sleep and /block: 0 to 3600, 1 when absent.
fn seconds_param(environ: &Environ) -> Result<f64, String> {
    match bounded(environ, "seconds", 1.0f64, 3600.0)? {
        s if s >= 0.0 => Ok(s),
        s => Err(format!("seconds must not be negative, not {s}")),
    }
}

fn sleep(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let seconds = match seconds_param(environ) {
        Ok(s) => s,
        Err(why) => return bad_request(start_response, why),
    };
    // Parks this coroutine only: its thread goes on serving other connections.
    may::coroutine::sleep(Duration::from_secs_f64(seconds));
    start_response.call("200 OK", TEXT);
    Body::from(format!("slept {seconds} seconds in worker {}\n", std::process::id()))
}

fn block(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let seconds = match seconds_param(environ) {
        Ok(s) => s,
        Err(why) => return bad_request(start_response, why),
    };
    // Blocks the whole OS thread, and every coroutine scheduled on it: the classic
    // green-thread mistake (a C library call, a busy loop). The heartbeat stops with it.
    std::thread::sleep(Duration::from_secs_f64(seconds));
    start_response.call("200 OK", TEXT);
    Body::from(format!("blocked {seconds} seconds\n"))
}

/// FNV-1a over `kib` KiB of a byte pattern: a fixed amount of CPU per request, with no
/// waiting, the same loop in Python (`benches/models_app.py`) for a fair comparison.
pub fn fnv1a_kib(kib: usize) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for i in 0..kib * 1024 {
        hash ^= (i & 0xff) as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn hash(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let kib = match bounded(environ, "kib", 64usize, 65536) {
        Ok(k) => k,
        Err(why) => return bad_request(start_response, why),
    };
    let hash = fnv1a_kib(std::hint::black_box(kib));
    start_response.call("200 OK", TEXT);
    Body::from(format!("{hash:016x}\n"))
}

/// A test aid: memory that is never freed, every page written so that it is resident, as
/// a leak in an application or a C library would be. `--max-worker-memory` retires the
/// worker that holds it.
fn leak(environ: &mut Environ, start_response: &mut StartResponse) -> Body {
    let kib = match bounded(environ, "kib", 1024usize, 1024 * 1024) {
        Ok(k) => k,
        Err(why) => return bad_request(start_response, why),
    };
    std::mem::forget(vec![1u8; kib * 1024]);
    start_response.call("200 OK", TEXT);
    Body::from(format!("leaked {kib} KiB in worker {}\n", std::process::id()))
}

fn status(code: &str, start_response: &mut StartResponse) -> Body {
    match code.parse::<u16>() {
        Ok(n) if (200..=599).contains(&n) => {
            start_response.call(&format!("{n} Status {n}"), TEXT);
            Body::from(format!("{n}\n"))
        }
        _ => bad_request(
            start_response,
            format!("status must be a number from 200 to 599, not {code:?}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        assert_eq!(query_param("chunks=3&size=10", "size"), Some("10"));
        assert_eq!(query_param("flag&x=1", "flag"), Some(""));
        assert_eq!(query_param("a=1", "b"), None);
    }

    #[test]
    fn download_bytes_are_the_same_however_they_are_cut() {
        let mut whole = vec![0u8; 100];
        download_bytes(7, 0, &mut whole);
        let mut tail = vec![0u8; 37];
        download_bytes(7, 63, &mut tail);
        assert_eq!(&whole[63..], &tail[..]);
        let mut other = vec![0u8; 100];
        download_bytes(8, 0, &mut other);
        assert_ne!(whole, other, "another seed, other bytes");
        // The first word for seed 0 is the SplitMix64 finalizer of 0 (which is 0), then of 1.
        download_bytes(0, 0, &mut other);
        assert_eq!(&other[..8], &[0; 8]);
        assert_eq!(
            u64::from_le_bytes(other[8..16].try_into().unwrap()),
            0x5692_161D_100B_05E5
        );
    }

    #[test]
    fn fnv1a_matches_its_definition() {
        // FNV-1a of no bytes is the offset basis; one KiB is the pattern 0, 1, ..., 255 four times.
        assert_eq!(fnv1a_kib(0), 0xcbf2_9ce4_8422_2325);
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in (0..4).flat_map(|_| 0u8..=255) {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        assert_eq!(fnv1a_kib(1), h);
    }
}
