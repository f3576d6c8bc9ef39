//! The examples, built and run as a user would run them, each asked what it demonstrates.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use common::*;

#[test]
fn hello_world() {
    let p = Process::start(&example("hello_world"), &["0"], "Serving on port ");
    let r = get(p.addr, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.body, b"Hello World");
}

#[test]
fn echo_server() {
    let p = Process::start(&example("echo_server"), &["0"], "listening on port ");
    let mut clients: Vec<_> = (0..3).map(|_| TcpStream::connect(p.addr).unwrap()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        c.write_all(format!("line {i}\nsecond {i}\n").as_bytes()).unwrap();
    }
    for (i, c) in clients.into_iter().enumerate() {
        let mut reader = BufReader::new(c);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("line {i}\n"));
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, format!("second {i}\n"));
    }
}

#[test]
fn streaming() {
    let p = Process::start(&example("streaming"), &["0"], "Serving on port ");
    let r = get(p.addr, "/?3");
    assert_eq!(r.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r.text(), "tick 0\ntick 1\ntick 2\n");
}

#[test]
fn middleware() {
    let p = Process::start(&example("middleware"), &["0"], "Serving on port ");
    let r = get(p.addr, "/api/items");
    assert_eq!(r.text(), "script=/api path=/items\n");
    assert!(r.header("X-Elapsed").unwrap().parse::<f64>().is_ok());
    assert_eq!(get(p.addr, "/elsewhere").status, 404);
}

#[cfg(feature = "json")]
#[test]
fn webob_port() {
    let p = Process::start(&example("webob_port"), &["0"], "Serving on port ");
    let created = exchange(
        p.addr,
        b"POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"text\": \"hi\"}\n",
    );
    assert_eq!(created.status, 201);
    assert_eq!(created.text(), r#"{"id":"1","text":"hi"}"#);
    assert_eq!(created.header("Location"), Some("http://t/notes/1"));
    let form = exchange(
        p.addr,
        b"POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 14\r\nConnection: close\r\n\r\ntext=from+form",
    );
    assert_eq!(form.text(), r#"{"id":"2","text":"from form"}"#);
    assert_eq!(
        get(p.addr, "/notes").text(),
        r#"{"notes":[{"id":"1","text":"hi"},{"id":"2","text":"from form"}]}"#
    );
    let note = get(p.addr, "/notes/1");
    assert_eq!((note.status, note.text().as_str()), (200, "hi"));
    let etag = note.header("ETag").unwrap().to_owned();
    let again = exchange(
        p.addr,
        format!("GET /notes/1 HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(again.status, 304);
    let missing = exchange(
        p.addr,
        b"GET /notes/9 HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("no note 9"));
    let wrong = exchange(
        p.addr,
        b"DELETE /notes HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((wrong.status, wrong.header("Allow")), (405, Some("GET, POST")));
}

#[test]
fn eventlet_port() {
    // A batch program, not a server: run it to its end (a hang fails, never blocks).
    let mut child = Command::new(example("eventlet_port"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the example starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("eventlet_port ran for a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{status}: {out}");
    // The same two lines the Python original prints.
    assert_eq!(out, "produced 30, handled 30: a0 .. c9\nreport timed out\n");
}

#[test]
fn eventlet_port_is_the_one_in_the_porting_guide() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("examples/eventlet_port.rs")).unwrap();
    let guide = std::fs::read_to_string(root.join("docs/porting.md")).unwrap();
    // The code after the `//!` header, as the guide shows it.
    let code = &example[example.find("use std::sync::LazyLock;").unwrap()..];
    assert!(
        guide.contains(code),
        "docs/porting.md shows another eventlet_port.rs: copy the example's code into it"
    );
}

#[test]
fn pingpong_measures_both_models() {
    // Few rounds and workers: the figures are noise here, only their presence is checked.
    let (code, out, err) = run_command(Command::new(example("pingpong")).args(["200", "20"]), None);
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    for line in [
        "switch, coroutine",
        "switch, OS thread",
        "parked coroutine, 128 KiB stack",
        "parked OS thread, 2 MiB stack",
    ] {
        assert!(out.contains(line), "{line:?} missing from:\n{out}");
    }
    assert!(!out.contains("NaN") && !out.contains("inf"), "{out}");
}
