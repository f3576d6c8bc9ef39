//! Property tests of the head parser and the chunked decoder: fuzzing on stable Rust.
//!
//! cargo-fuzz needs a nightly compiler, so these run under `cargo test` instead. A seeded
//! generator builds requests from parts and mutates a corpus of valid and invalid ones
//! (modelled on gunicorn's `tests/requests/{valid,invalid}` fixtures, plus cases of our
//! own), and every input must hold to what is true of any input:
//!
//! - nothing panics, and nothing stalls: "need more" always means every byte was taken;
//! - the verdict (a head of `len` bytes and what it says, "need more", or which refusal
//!   for which reason) is the same whole, line by line, byte by byte, and in random pieces;
//! - a refusal is one of the statuses the server answers heads with;
//! - a parsed head stands alone: its spans lie inside it, its bytes alone parse to it
//!   again, and the environ built from it gives CONTENT_LENGTH as the framing's number,
//!   HTTP_HOST as the target's authority when it has one, and a PATH_INFO.
//!
//! `cargo test` runs a few hundred cases of each property from a fixed seed, in seconds.
//! `make fuzz` runs many more from a fresh seed, for a bounded time. The knobs:
//!
//! | variable | meaning | under `cargo test` |
//! |---|---|---|
//! | `FUZZ_CASES` | cases per property | 300 |
//! | `FUZZ_SECONDS` | stop each property after this long | no limit |
//! | `FUZZ_SEED` | the generator's seed | fixed |
//!
//! A failing input is shrunk (bytes taken out while it still fails) and printed with the
//! seed that found it, so `FUZZ_SEED=... make fuzz` finds it again.

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use super::testing::{decode_in, feed_head, ways_to_cut, Rng};
use super::{parse_head, Framing, Head, HttpError, Limits, Span, TargetForm};
use crate::wsgi::{ConnInfo, Environ};

/// Requests that parse, one per rule they exercise.
const VALID_HEADS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET /keep HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://example.com:8080/p?q HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
    b"GET https://[::1]/ HTTP/1.1\r\nHost: [::1]\r\n\r\n",
    b"GET http://a?x HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.2\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: 10.0.0.1:80\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\n",
    b"GET /test HTTP/1.1\r\nUser-Agent: curl/7.18.0 (i486-pc-linux-gnu) libcurl/7.18.0\r\nHost: 0.0.0.0=5000\r\nAccept: */*\r\n\r\n",
    b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n",
];

/// Requests refused, one per rule (gunicorn's invalid fixtures and ours).
const INVALID_HEADS: &[&[u8]] = &[
    b"GET /foo FTP/1.1\r\n\r\n",
    b"GET HTTP/1.1\r\n\r\n",
    b"GET\n/\nHTTP/1.1\r\n\r\n",
    b"bla:rgh /foo HTTP/1.1\r\n\r\n",
    b"GET /foo HTTP/1.1\r\nba\x00z: bar\r\n\r\n",
    b"GET /test HTTP/111\r\nHost: localhost\r\n\r\n",
    b"GET /foo HTTP/0.99\r\n\r\n",
    b"GET /foo HTTP/2.0\r\n\r\n",
    b"GET / HTTP/1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/01.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
    b"PUT s://]ufd/: HTTP/1.1\r\n\r\n",
    b"GET foo/bar HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: b/c\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a, b\r\n\r\n",
    b"GET /stuff/here?foo=bar HTTP/1.1\r\nHost: localhost\r\nHost: evil.example.com\r\n\r\n",
    b"GET /stuff/here?foo=bar HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Type: text/html\r\n\r\n",
    b"GET /stuff/here?foo=bar HTTP/1.1\r\nContent-Length : 3\r\n\r\nxyz",
    b"GET /stuff/here?foo=bar HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 2\r\n\r\nxyz",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello",
    b"GET /first HTTP/1.0\r\nContent-Length: -0\r\n\r\n",
    b"GET /first HTTP/1.0\r\nContent-Length: 0_1\r\n\r\n",
    b"GET /first HTTP/1.0\r\nContent-Length: +1\r\n\r\n",
    b"GET /stuff/here?foo=bar HTTP/1.1\r\nHost: a\r\nContent-Length: 3 1\r\n\r\nxyz",
    b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /double_chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked, identity, chunked\r\n\r\n",
    b"POST /chunked_not_last HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /chunked_HTTP_1.0 HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: bogus\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nNewline: a\nContent-Length: 26\r\nGET / HTTP/1.1\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nLong: one\r\n two\r\nHost: localhost\r\n\r\n",
    b"GET /foo HTTP/1.1\r\nHost: example.com\r\nX-Value: plain\x07injected\r\n\r\n",
    b"GET /foo HTTP/1.1\r\nHost: example.com\r\nX-Value: plain\x7finjected\r\n\r\n",
    b"GET\x00PROXY /foo HTTP/1.1\r\n\r\n",
    b"GET: /stuff/here?foo=bar HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz",
    b"GET\xc3\x9f /germans.. HTTP/1.1\r\nContent-Length: 3\r\n\r\n",
    b"GET /the/future HTTP/1111111111111111111111111111111111.1\r\nContent-Length: 7\r\n\r\nOld Man",
    b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
];

/// Pieces a mutation inserts into a head: delimiters, odd bytes, and rule-laden fragments.
const HEAD_WORDS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b",",
    b";",
    b"=",
    b"#",
    b"*",
    b"/",
    b"?",
    b"@",
    b"[",
    b"]",
    b"%",
    b"\"",
    b"\x00",
    b"\x01",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\xc3\xa9",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/1.2",
    b"HTTP/2.0",
    b"HTTP/1",
    b"Host: ",
    b"Host: a\r\n",
    b"Content-Length: ",
    b"Content-Length: 5, 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Type: a\r\n",
    b"Expect: 100-continue\r\n",
    b"Connection: close\r\n",
    b"http://",
    b"https://",
    b"CONNECT ",
    b"OPTIONS ",
    b"GET ",
    b"[::1]",
    b":80",
    b"0",
    b"5",
    b"\r\n\r\n",
];

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "HEAD", "OPTIONS", "CONNECT", "DELETE", "get", "G(T", "M-SEARCH",
];

const TARGETS: &[&str] = &[
    "/",
    "/a/b?x=1",
    "//x",
    "/%zz",
    "/%C3%A9",
    "*",
    "http://a/p?q",
    "https://[::1]:8443",
    "HTTP://h",
    "http://a?b",
    "http://",
    "http://u@h/",
    "example.com:443",
    "[::1]:443",
    "foo/bar",
    "/a#f",
    "s://]ufd/:",
    "ftp://a/",
    "?x",
    "/a b",
];

const VERSIONS: &[&str] = &[
    "HTTP/1.1",
    "HTTP/1.1",
    "HTTP/1.0",
    "HTTP/1.2",
    "HTTP/2.0",
    "HTTP/0.9",
    "HTTP/1",
    "HTTP/01.1",
    "HTTP/1.1x",
    "http/1.1",
];

const FIELDS: &[&str] = &[
    "Host: a",
    "Host: example.com:8080",
    "Host: [::1]:80",
    "Host:",
    "Host: a@b",
    "Host: a, b",
    "Host: b/c",
    "Content-Length: 5",
    "Content-Length: 5, 5",
    "Content-Length: 5, 6",
    "Content-Length: 007",
    "Content-Length: x",
    "Content-Type: text/plain",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: chunked, identity",
    "Expect: 100-continue",
    "Expect: nothing",
    "Connection: close",
    "Connection: keep-alive",
    "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "X-Under_Score: 1",
    "Bad Name: x",
    " Leading: space",
    "X-Fold: a\r\n folded",
];

/// Chunked bodies, valid and not (gunicorn's chunked fixtures and ours).
const BODIES: &[&[u8]] = &[
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"5;name=value\r\nhello\r\n0;a;b=\"c;d\\\"e\"\r\nX-Trailer: 1\r\n\r\nGET /next",
    b"A\r\n0123456789\r\n1a;x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n",
    b"000005\r\nhello\r\n0000\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"10000000000000000\r\n",
    b"5\r\nhello\r\n6_0\r\n world\r\n0\r\n\r\n",
    b"5\r\nhello\r\n0 \r\n\r\n",
    b"5\r\nhello\r\n 0\r\n\r\n",
    b"5\n;\r\nhello\r\n0\r\n\r\n",
    b" ;foo=bar\r\nhello\r\n0\r\n\r\n",
    b"\r\nhello\r\n0\r\n\r\n",
    b"5;ext=val\rue\r\nhello\r\n0\r\n\r\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"0\r\n",
    b"5\r\nhelloXX0\r\n\r\n",
    b"5;\r\nhello\r\n0\r\n\r\n",
    b"5; a=b\r\nhello\r\n0\r\n\r\n",
];

const BODY_WORDS: &[&[u8]] = &[
    b"\r\n",
    b"\r",
    b"\n",
    b";",
    b"=",
    b"\"",
    b"\\",
    b" ",
    b"\t",
    b"0",
    b"f",
    b"F",
    b"x",
    b"\x00",
    b"\x80",
    b"ffffffffffffffff",
    b"0\r\n\r\n",
    b";a=b",
    b";a=\"b c\"",
    b"X: 1\r\n",
];

const EXTENSIONS: &[&str] = &[
    "",
    "",
    ";a",
    ";a=b",
    ";a=\"b;c\"",
    ";a=\"\\\"\"",
    ";",
    "; a",
    ";a=",
    ";a b",
    " ",
];

/// How many cases, for how long, from which seed.
struct Budget {
    cases: usize,
    time: Option<Duration>,
    seed: u64,
}

impl Budget {
    fn from_env() -> Budget {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
        Budget {
            cases: var("FUZZ_CASES").map_or(300, |n| n as usize),
            time: var("FUZZ_SECONDS").map(Duration::from_secs),
            seed: var("FUZZ_SEED").unwrap_or(0x5EED),
        }
    }
}

/// Runs `check` on `budget` inputs made by `make`; on a failure, shrinks the input and
/// fails the test with it.
fn property<P: std::fmt::Debug>(
    name: &str,
    make: impl Fn(&mut Rng) -> (Vec<u8>, P),
    check: impl Fn(&[u8], &P) -> Result<(), String>,
) {
    let budget = Budget::from_env();
    let name_hash = name
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = Rng::new(budget.seed ^ name_hash);
    let started = Instant::now();
    let mut done = 0;
    while done < budget.cases && budget.time.is_none_or(|t| started.elapsed() < t) {
        let (input, param) = make(&mut rng);
        if let Err(why) = run_check(&check, &input, &param) {
            let small = shrink(&check, input, &param);
            let again = run_check(&check, &small, &param).err().unwrap_or_default();
            panic!(
                "{name}, case {done}, FUZZ_SEED={}: {why}\nshrunk to b\"{}\" with {param:?}:\n{again}",
                budget.seed,
                small.escape_ascii()
            );
        }
        done += 1;
    }
    eprintln!(
        "{name}: {done} cases from seed {} in {:.1?}",
        budget.seed,
        started.elapsed()
    );
}

/// The check's verdict, with a panic turned into a failure.
fn run_check<P>(check: &impl Fn(&[u8], &P) -> Result<(), String>, input: &[u8], param: &P) -> Result<(), String> {
    match panic::catch_unwind(AssertUnwindSafe(|| check(input, param))) {
        Ok(verdict) => verdict,
        Err(payload) => {
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            Err(format!("panicked: {message}"))
        }
    }
}

/// Takes bytes out of a failing input, halves then smaller runs, as long as it still fails.
fn shrink<P>(check: &impl Fn(&[u8], &P) -> Result<(), String>, mut input: Vec<u8>, param: &P) -> Vec<u8> {
    // The panics of a check that keeps failing would flood the output: silence them while
    // shrinking (the test is failing anyway).
    panic::set_hook(Box::new(|_| {}));
    let mut run = input.len() / 2;
    while run > 0 {
        let mut at = 0;
        while at + run <= input.len() {
            let mut smaller = input.clone();
            smaller.drain(at..at + run);
            if run_check(check, &smaller, param).is_err() {
                input = smaller;
            } else {
                at += run;
            }
        }
        run /= 2;
    }
    let _ = panic::take_hook();
    input
}

/// Changes `v` in one to four random ways.
fn mutate(rng: &mut Rng, v: &mut Vec<u8>, words: &[&[u8]], corpus: &[&[u8]]) {
    for _ in 0..rng.below(4) + 1 {
        let at = rng.below(v.len() + 1);
        match rng.below(8) {
            0 if !v.is_empty() => {
                let word = rng.pick(words);
                let i = rng.below(v.len());
                v[i] = word[rng.below(word.len())];
            }
            1 => {
                let word = rng.pick(words);
                v.splice(at..at, word.iter().copied());
            }
            2 => {
                let end = (at + rng.below(8) + 1).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 => {
                let end = (at + rng.below(16) + 1).min(v.len());
                let copy = v[at.min(end)..end].to_vec();
                v.splice(at.min(end)..at.min(end), copy);
            }
            4 => {
                // A line from another input, at a line start.
                let other = rng.pick(corpus);
                let lines: Vec<&[u8]> = other.split_inclusive(|&b| b == b'\n').collect();
                let line = rng.pick(&lines).to_vec();
                let starts: Vec<usize> = (0..=v.len()).filter(|&i| i == 0 || v[i - 1] == b'\n').collect();
                let start = rng.pick(&starts);
                v.splice(start..start, line);
            }
            5 => {
                // One byte many times over: what breaks a limit.
                let byte = if v.is_empty() { b'a' } else { v[rng.below(v.len())] };
                let n = rng.below(400) + 1;
                v.splice(at..at, std::iter::repeat_n(byte, n));
            }
            6 => v.truncate(at),
            _ => {
                let ends: Vec<usize> = (1..v.len()).filter(|&i| v[i - 1] == b'\r' && v[i] == b'\n').collect();
                if ends.is_empty() {
                    v.splice(at..at, *b"\r\n");
                } else {
                    v.remove(ends[rng.below(ends.len())] - 1);
                }
            }
        }
    }
}

/// A head built from parts: method, target, version, a few fields, the line endings.
fn build_head(rng: &mut Rng) -> Vec<u8> {
    let eol = if rng.one_in(8) { "\n" } else { "\r\n" };
    let mut head = format!(
        "{} {} {}{eol}",
        rng.pick(METHODS),
        rng.pick(TARGETS),
        rng.pick(VERSIONS)
    );
    for _ in 0..rng.below(6) {
        head.push_str(rng.pick(FIELDS));
        head.push_str(eol);
    }
    if rng.one_in(10) {
        head.push_str(rng.pick(FIELDS));
    } else {
        head.push_str(eol);
    }
    let mut raw = head.into_bytes();
    if rng.one_in(4) {
        raw.extend_from_slice(rng.pick(VALID_HEADS));
    }
    raw
}

/// Limits as configured (half the time) or small enough for random inputs to break.
fn some_limits(rng: &mut Rng) -> Limits {
    if rng.one_in(2) {
        return Limits::default();
    }
    Limits {
        request_line: 8 + rng.below(120),
        fields: 1 + rng.below(8),
        field_size: 8 + rng.below(80),
        head_total: 16 + rng.below(400),
    }
}

/// What a head parse ended with, in a form two runs can be compared by.
#[derive(Debug, PartialEq)]
struct Parsed {
    len: usize,
    method: Span,
    target: Span,
    form: TargetForm,
    path: Span,
    authority: Option<Span>,
    minor_version: u8,
    headers: Vec<(Span, Span)>,
    framing: Option<Framing>,
    content_length: Option<Span>,
    keep_alive: bool,
    expect_continue: bool,
}

fn parsed(r: Result<Option<Head>, HttpError>) -> Result<Option<Parsed>, HttpError> {
    r.map(|h| {
        h.map(|h| Parsed {
            len: h.len,
            method: h.method,
            target: h.target,
            form: h.form,
            path: h.path,
            authority: h.authority,
            minor_version: h.minor_version,
            headers: h.headers,
            framing: h.framing,
            content_length: h.content_length,
            keep_alive: h.keep_alive,
            expect_continue: h.expect_continue,
        })
    })
}

/// The statuses a head may be refused with.
const HEAD_STATUSES: &[u16] = &[400, 414, 417, 431, 501, 505];

fn check_head(raw: &[u8], limits: &Limits) -> Result<(), String> {
    let whole = parsed(feed_head(raw, &[], limits));
    let mut ways = ways_to_cut(raw, &mut Rng::new(raw.len() as u64), 8);
    if raw.len() > 3000 {
        ways.remove(1); // byte by byte costs the square of the length
    }
    for cuts in ways {
        let other = parsed(feed_head(raw, &cuts, limits));
        if other != whole {
            return Err(format!("whole: {whole:?}\ncut at {cuts:?}: {other:?}"));
        }
    }
    match whole {
        Err(e) if !HEAD_STATUSES.contains(&e.status) => Err(format!("refused with an unknown status: {e:?}")),
        Ok(Some(_)) => check_parsed_head(raw, limits),
        _ => Ok(()),
    }
}

/// What holds of a head that parsed.
fn check_parsed_head(raw: &[u8], limits: &Limits) -> Result<(), String> {
    let mut head = Head::default();
    let len = parse_head(raw, limits, &mut head)
        .ok()
        .flatten()
        .ok_or("parsed once but not twice")?;
    let spans = [head.method, head.target, head.path, head.request_line]
        .into_iter()
        .chain(head.authority)
        .chain(head.content_length)
        .chain(head.headers.iter().flat_map(|&(n, v)| [n, v]));
    for span in spans {
        if span.start > span.end || span.end as usize > len {
            return Err(format!("span {span:?} outside the head of {len} bytes"));
        }
    }
    let mut alone = Head::default();
    if parse_head(&raw[..len], limits, &mut alone) != Ok(Some(len)) {
        return Err("the head's own bytes do not parse to it".into());
    }

    let mut environ = Environ::new(ConnInfo::default());
    environ.begin(raw, &head);
    let _ = environ.items();
    let method = environ.get("REQUEST_METHOD").unwrap_or_default();
    if method.as_bytes() != head.method.get(raw) {
        return Err(format!("REQUEST_METHOD {method:?}"));
    }
    let content_length = environ.get("CONTENT_LENGTH").map(str::parse::<u64>);
    match (head.framing, content_length) {
        (Some(Framing::Length(n)), Some(Ok(m))) if n == m => {}
        (None | Some(Framing::Chunked), None) => {}
        (framing, cl) => return Err(format!("framing {framing:?} but CONTENT_LENGTH {cl:?}")),
    }
    if let Some(authority) = head.authority {
        let host = environ.get("HTTP_HOST").unwrap_or_default();
        if host.as_bytes() != authority.get(raw) {
            return Err(format!("HTTP_HOST {host:?} is not the target's authority"));
        }
    }
    if environ.get("PATH_INFO").is_none_or(str::is_empty) {
        return Err("no PATH_INFO".into());
    }
    Ok(())
}

/// A chunked body built from parts: chunks with sizes right or wrong, extensions good and
/// bad, trailers, and sometimes the next request after it.
fn build_chunked(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..rng.below(4) {
        let size = rng.below(20);
        let digits = match rng.below(3) {
            0 => format!("{size:x}"),
            1 => format!("{size:X}"),
            _ => format!("00{size:x}"),
        };
        v.extend_from_slice(digits.as_bytes());
        v.extend_from_slice(rng.pick(EXTENSIONS).as_bytes());
        v.extend_from_slice(if rng.one_in(10) { b"\n" } else { b"\r\n" });
        let data_len = if rng.one_in(10) { size + 1 } else { size };
        v.extend((0..data_len).map(|_| rng.pick(&b"abc\r\n;0 "[..])));
        v.extend_from_slice(b"\r\n");
    }
    v.push(b'0');
    v.extend_from_slice(rng.pick(EXTENSIONS).as_bytes());
    v.extend_from_slice(b"\r\n");
    for _ in 0..rng.below(3) {
        v.extend_from_slice(b"X-Trailer: yes\r\n");
    }
    v.extend_from_slice(b"\r\n");
    if rng.one_in(3) {
        v.extend_from_slice(b"GET /next HTTP/1.1\r\n");
    }
    v
}

fn check_body(raw: &[u8], framing: &Framing) -> Result<(), String> {
    let whole = decode_in(*framing, raw, &[]);
    for cuts in ways_to_cut(raw, &mut Rng::new(raw.len() as u64), 8) {
        let other = decode_in(*framing, raw, &cuts);
        if other != whole {
            return Err(format!("whole: {whole:?}\ncut at {cuts:?}: {other:?}"));
        }
    }
    match (whole, framing) {
        // Status 0 is the test harness's "the input ran out first".
        (Err(e), _) if ![0, 400, 431].contains(&e.status) => Err(format!("refused with {e:?}")),
        (Ok((_, taken)), _) if taken > raw.len() => Err(format!("took {taken} of {} bytes", raw.len())),
        (Ok((body, _)), Framing::Length(n)) if body.len() as u64 != *n => Err(format!("{} bytes of {n}", body.len())),
        _ => Ok(()),
    }
}

#[test]
fn the_head_corpus_holds_every_property() {
    let small = Limits {
        request_line: 20,
        fields: 2,
        field_size: 24,
        head_total: 60,
    };
    for raw in VALID_HEADS.iter().chain(INVALID_HEADS) {
        for limits in [Limits::default(), small] {
            if let Err(why) = run_check(&check_head, raw, &limits) {
                panic!("b\"{}\" with {limits:?}: {why}", raw.escape_ascii());
            }
        }
    }
    for raw in VALID_HEADS {
        let mut head = Head::default();
        let verdict = parse_head(raw, &Limits::default(), &mut head);
        assert!(
            matches!(verdict, Ok(Some(_))),
            "b\"{}\": {verdict:?}",
            raw.escape_ascii()
        );
    }
    for raw in INVALID_HEADS {
        let verdict = parse_head(raw, &Limits::default(), &mut Head::default());
        assert!(verdict.is_err(), "b\"{}\": {verdict:?}", raw.escape_ascii());
    }
}

#[test]
fn random_heads_hold_every_property() {
    let corpus: Vec<&[u8]> = VALID_HEADS.iter().chain(INVALID_HEADS).copied().collect();
    property(
        "heads",
        |rng| {
            let mut raw = if rng.one_in(2) {
                build_head(rng)
            } else {
                rng.pick(&corpus).to_vec()
            };
            if !rng.one_in(3) {
                mutate(rng, &mut raw, HEAD_WORDS, &corpus);
            }
            (raw, some_limits(rng))
        },
        check_head,
    );
}

#[test]
fn the_body_corpus_holds_every_property() {
    for raw in BODIES {
        if let Err(why) = run_check(&check_body, raw, &Framing::Chunked) {
            panic!("b\"{}\": {why}", raw.escape_ascii());
        }
    }
}

#[test]
fn random_bodies_hold_every_property() {
    property(
        "chunked bodies",
        |rng| {
            let mut raw = if rng.one_in(2) {
                build_chunked(rng)
            } else {
                rng.pick(BODIES).to_vec()
            };
            if !rng.one_in(4) {
                mutate(rng, &mut raw, BODY_WORDS, BODIES);
            }
            let framing = if rng.one_in(10) {
                Framing::Length(rng.below(raw.len() + 5) as u64)
            } else {
                Framing::Chunked
            };
            (raw, framing)
        },
        check_body,
    );
}
