//! The three ports of docs/porting.md ("Three ports, measured"), each run beside its Python
//! original (`examples/ports/*.py`, under WebOb, Routes and eventlet): the same requests
//! to both, and the same statuses, headers and bodies back; the same output from the batch
//! program. The line counts in the porting guide and in each example's header are checked
//! against the files here too.
//!
//! The Python needs `webob`, `routes` and `eventlet`: `.ci/deps` (run by `make test`)
//! installs them into `.ci/venv`; `PORTS_PYTHON=/path/to/python` names another interpreter
//! that has them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A Python that can import what the originals import. Missing, it is a failure, not a
/// skip: these tests are what shows the ports behave as the Python does.
fn python() -> PathBuf {
    let candidates = [
        std::env::var_os("PORTS_PYTHON").map(PathBuf::from),
        Some(root().join(".ci/venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    for python in candidates.into_iter().flatten() {
        let ok = Command::new(&python)
            .args(["-W", "ignore", "-c", "import webob, routes, eventlet"])
            .output()
            .is_ok_and(|out| out.status.success());
        if ok {
            return python;
        }
    }
    panic!(
        "no Python with webob, routes and eventlet: run .ci/deps (it makes .ci/venv; `make test` runs it), or set \
         PORTS_PYTHON to an interpreter that has them (pip install webob routes eventlet)"
    );
}

/// The Rust port and its Python original, both serving on loopback ports.
struct Pair {
    rust: Process,
    python: Process,
}

impl Pair {
    fn start(name: &str) -> Pair {
        let script = root().join(format!("examples/ports/{name}.py"));
        Pair {
            rust: Process::start(&example(name), &["0"], "Serving on port "),
            python: Process::start(
                &python(),
                &["-W", "ignore", script.to_str().unwrap(), "0"],
                "Serving on port ",
            ),
        }
    }

    /// Sends `request` (without its Host header and final blank line) to both and checks
    /// they answer alike; returns the Rust port's answer for further checks.
    fn same(&self, request: &str, body: &str) -> Response {
        let raw = format!(
            "{request}\r\nHost: t\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let ours = exchange(self.rust.addr, raw.as_bytes());
        let theirs = exchange(self.python.addr, raw.as_bytes());
        let what = request.lines().next().unwrap();
        assert_eq!(ours.status, theirs.status, "{what}: status");
        assert_eq!(ours.text(), theirs.text(), "{what}: body");
        // Every header the Python sends, the port sends alike; the server's own headers
        // (date, framing) may differ: wsgiref speaks HTTP/1.0, closing after each response.
        for (name, value) in &theirs.headers {
            let name = name.to_ascii_lowercase();
            if matches!(name.as_str(), "date" | "server") {
                continue;
            }
            let mine: Vec<String> = ours
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
                .map(|(_, v)| without_expires(v))
                .collect();
            assert!(
                mine.contains(&without_expires(value)),
                "{what}: {name}: {value:?}, the port sent {mine:?}"
            );
        }
        for (name, _) in &ours.headers {
            let server_s = ["date", "server", "transfer-encoding", "connection"];
            assert!(
                server_s.contains(&name.to_ascii_lowercase().as_str()) || theirs.header(name).is_some(),
                "{what}: the port adds {name}"
            );
        }
        ours
    }
}

/// A Set-Cookie's `expires` is the clock's: two servers a moment apart may differ.
fn without_expires(value: &str) -> String {
    value
        .split("; ")
        .filter(|attr| !attr.starts_with("expires="))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn forms_csv_answers_as_the_python_does() {
    let pair = Pair::start("forms_csv");
    let form = "POST /expenses HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
    let r = pair.same("GET /?who=ann HTTP/1.1", "");
    assert_eq!(r.text(), "ann spent 0 in 0 expenses\n");
    let r = pair.same(form, "who=ann&what=tea%2C+cake&amount=12");
    assert_eq!((r.status, r.header("Location")), (303, Some("http://t/")));
    assert!(r
        .header("Set-Cookie")
        .unwrap()
        .starts_with("who=ann; Max-Age=3600; Path=/; expires="));
    pair.same(form, "who=bob&what=say+%22hi%22&amount=3");
    pair.same(form, "who=ann&what=bus&amount=5");
    for bad in ["who=bob&amount=x", "amount=3", "who=bob&amount=-3", "who=bob"] {
        assert_eq!(pair.same(form, bad).status, 400, "{bad}");
    }
    let r = pair.same("GET / HTTP/1.1\r\nCookie: who=ann", "");
    assert_eq!(r.text(), "ann spent 17 in 2 expenses\n");
    pair.same("GET /?who=bob HTTP/1.1\r\nCookie: who=ann", "");
    pair.same("GET / HTTP/1.1", "");
    let r = pair.same("GET /expenses.csv HTTP/1.1", "");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"), "streamed");
    assert_eq!(
        r.text(),
        "who,what,amount\nann,\"tea, cake\",12\nbob,\"say \"\"hi\"\"\",3\nann,bus,5\n"
    );
    let r = pair.same("GET /expenses.csv?who=bob&who=zed HTTP/1.1", "");
    assert_eq!(r.text(), "who,what,amount\nbob,\"say \"\"hi\"\"\",3\n");
    // WebOb's error bodies, chosen by Accept.
    for accept in ["text/html", "application/json", "text/plain", "*/*"] {
        assert_eq!(
            pair.same(&format!("GET /nope HTTP/1.1\r\nAccept: {accept}"), "").status,
            404
        );
        pair.same(&format!("{form}\r\nAccept: {accept}"), "who=");
    }
    assert_eq!(pair.same("GET /expenses HTTP/1.1", "").status, 404);
}

#[cfg(feature = "json")]
#[test]
fn glance_style_answers_as_the_python_does() {
    let pair = Pair::start("glance_style");
    let admin = "\r\nX-Roles: admin";
    let json = "\r\nContent-Type: application/json";
    let r = pair.same("GET /images HTTP/1.1", "");
    assert_eq!(r.text(), r#"{"images":[]}"#);
    assert_eq!(r.header("x-openstack-request-id"), Some("req-1"));
    let r = pair.same(&format!("POST /images HTTP/1.1{admin}{json}"), r#"{"name": "cirros"}"#);
    assert_eq!((r.status, r.header("Location")), (201, Some("http://t/images/1")));
    assert_eq!(r.text(), r#"{"id":"1","name":"cirros","status":"queued","tags":[]}"#);
    pair.same(&format!("POST /images HTTP/1.1{admin}{json}"), r#"{"name": "fedora"}"#);
    assert_eq!(
        pair.same(&format!("PUT /images/1/tags/small HTTP/1.1{admin}"), "")
            .status,
        204
    );
    pair.same(&format!("PUT /images/1/tags/small HTTP/1.1{admin}"), "");
    let r = pair.same("GET /images/1 HTTP/1.1", "");
    assert_eq!(
        r.text(),
        r#"{"id":"1","name":"cirros","status":"queued","tags":["small"]}"#
    );
    pair.same("GET /images?name=fedora HTTP/1.1", "");
    pair.same("GET /images?name=nothing HTTP/1.1", "");
    // Errors, each with WebOb's body for the Accept header.
    for accept in [
        "",
        "\r\nAccept: application/json",
        "\r\nAccept: text/html",
        "\r\nAccept: text/plain",
    ] {
        let cases: &[(&str, &str, u16)] = &[
            ("GET /images/9 HTTP/1.1", "", 404),
            ("GET /nowhere HTTP/1.1", "", 404),
            ("PATCH /images/1 HTTP/1.1\r\nX-Roles: admin", "", 405),
            ("HEAD /images HTTP/1.1\r\nX-Roles: admin", "", 405),
            ("BREW /images/1/tags/x HTTP/1.1\r\nX-Roles: admin", "", 405),
            ("BREW /nowhere HTTP/1.1\r\nX-Roles: admin", "", 501),
            ("DELETE /images/1 HTTP/1.1", "", 403),
            ("POST /images HTTP/1.1\r\nX-Roles: admin", "", 400),
            ("POST /images HTTP/1.1\r\nX-Roles: admin", "{bad", 400),
            ("POST /images HTTP/1.1\r\nX-Roles: admin", r#"{"name": 5}"#, 400),
            ("POST /images HTTP/1.1\r\nX-Roles: admin", "[1]", 400),
            ("GET /images/1 HTTP/1.1", "a body", 400),
        ];
        for (request, body, status) in cases {
            let r = pair.same(&format!("{request}{accept}"), body);
            assert_eq!(r.status, *status, "{request} {accept:?}");
        }
    }
    let r = pair.same("PATCH /images/1 HTTP/1.1\r\nX-Roles: admin", "");
    assert_eq!(r.header("Allow"), Some("GET, DELETE"));
    assert_eq!(pair.same(&format!("DELETE /images/1 HTTP/1.1{admin}"), "").status, 204);
    assert_eq!(pair.same("GET /images/1 HTTP/1.1", "").status, 404);
    let r = pair.same("GET /images HTTP/1.1", "");
    assert_eq!(
        r.text(),
        r#"{"images":[{"id":"2","name":"fedora","status":"queued","tags":[]}]}"#
    );
}

#[test]
fn eventlet_port_prints_what_the_python_prints() {
    let script = root().join("examples/ports/eventlet_port.py");
    let (code, theirs, err) = run_command(Command::new(python()).args(["-W", "ignore"]).arg(&script), None);
    assert_eq!(code, 0, "{err}");
    let (code, ours, err) = run_command(&mut Command::new(example("eventlet_port")), None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
    assert_eq!(ours, b"produced 30, handled 30: a0 .. c9\nreport timed out\n");
}

/// Lines of code: not blank, not only a comment (`#` in Python, `//` and `//!` in Rust).
fn code_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let comment = if path.extension().is_some_and(|e| e == "py") {
        "#"
    } else {
        "//"
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(comment))
        .count()
}

#[test]
fn the_line_counts_in_the_guide_and_the_examples_are_the_files_own() {
    let guide = std::fs::read_to_string(root().join("docs/porting.md")).unwrap();
    for name in ["glance_style", "forms_csv", "eventlet_port"] {
        let python = code_lines(&root().join(format!("examples/ports/{name}.py")));
        let rust = code_lines(&root().join(format!("examples/{name}.rs")));
        let row = format!("| `{name}` | {python} | {rust} | {:.2} |", rust as f64 / python as f64);
        assert!(
            guide.contains(&row),
            "docs/porting.md's table should have the row {row:?}"
        );
        let example = std::fs::read_to_string(root().join(format!("examples/{name}.rs"))).unwrap();
        let header = format!("The Python is {python} lines of code, this {rust}");
        assert!(example.contains(&header), "examples/{name}.rs should say {header:?}");
    }
}
