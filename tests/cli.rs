//! The `may-wsgi` binary as users meet it: flags, and real clients (curl, Python's
//! http.client) against the demo app on 127.0.0.1.

#[macro_use]
mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const BIN: &str = env!("CARGO_BIN_EXE_may-wsgi");

fn serve(extra: &[&str]) -> Process {
    let mut args = vec!["--bind", "127.0.0.1:0", "--scheduler-threads", "2"];
    args.extend_from_slice(&class_args());
    args.extend_from_slice(extra);
    Process::start(Path::new(BIN), &args, "listening at http://")
}

fn curl(args: &[&str], stdin: Option<&[u8]>) -> (i32, Vec<u8>, String) {
    run_command(Command::new("curl").args(["-sS", "--max-time", "30"]).args(args), stdin)
}

#[test]
fn bad_flags_exit_2_with_a_message() {
    for (args, says) in [
        (&["--threads", "many"][..], "--threads"),
        (&["--bind", "127.0.0.1:notaport"][..], "--bind"),
        (&["--keep-alive", "soon"][..], "--keep-alive"),
        (&["--limit-request-line", "0"][..], "out of range"),
        (&["--frobnicate"][..], "frobnicate"),
        (&["--log-level", "shouty"][..], "shouty"),
        (&["--limit-request-body", "1M"][..], "--limit-request-body"),
        (&["--forwarded-allow-ips", "localhost"][..], "--forwarded-allow-ips"),
        (&["--max-worker-memory", "lots"][..], "--max-worker-memory"),
    ] {
        let (code, _, err) = run_command(Command::new(BIN).args(args), None);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn help_and_version() {
    let (code, out, _) = run_command(Command::new(BIN).arg("--help"), None);
    assert_eq!(code, 0);
    let text = String::from_utf8_lossy(&out);
    for flag in [
        "--bind",
        "--threads",
        "--worker-connections",
        "--keep-alive",
        "--client-timeout",
        "--access-logfile",
        "--limit-request-body",
        "--forwarded-allow-ips",
        "--proxy-protocol",
        "--max-worker-memory",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
    let (code, out, _) = run_command(Command::new(BIN).arg("-V"), None);
    assert_eq!(code, 0);
    assert!(String::from_utf8_lossy(&out).starts_with("may-wsgi "));
}

fn a_busy_port_is_a_clear_error() {
    let first = serve(&[]);
    let addr = first.addr.to_string();
    let (code, _, err) = run_command(Command::new(BIN).args(["--bind", &addr, "--bind-retry", "0"]), None);
    assert_eq!(code, 1);
    assert!(err.contains("address in use"), "{err}");
}

fn curl_keep_alive_reuses_the_connection() {
    let server = serve(&["--no-access-log"]);
    let url = format!("http://{}/", server.addr);
    let (code, out, err) = curl(&["-v", &url, &url], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"Hello WorldHello World");
    assert!(err.contains("Re-using existing connection"), "{err}");
}

fn curl_chunked_upload_is_echoed() {
    let server = serve(&["--no-access-log"]);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let url = format!("http://{}/echo", server.addr);
    let (code, out, err) = curl(&["-v", "-T", "-", &url], Some(&data));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Transfer-Encoding: chunked"), "curl sent chunked: {err}");
    assert_eq!(out.len(), data.len());
    assert!(out == data);
}

fn curl_expect_100_continue() {
    let server = serve(&["--no-access-log"]);
    let url = format!("http://{}/echo", server.addr);
    let (code, out, err) = curl(
        &[
            "-v",
            "-H",
            "Expect: 100-continue",
            "-H",
            "Content-Type: text/x-test",
            "--data-binary",
            "@-",
            &url,
        ],
        Some(b"continue me"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("HTTP/1.1 100 Continue"), "{err}");
    assert!(err.contains("Content-Type: text/x-test"), "{err}");
    assert_eq!(out, b"continue me");
}

fn curl_http10_and_head() {
    let server = serve(&["--no-access-log"]);
    let url = format!("http://{}/stream?chunks=3&size=4", server.addr);
    let (code, out, err) = curl(&["-0", &url], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"xxxxxxxxxxxx");
    let (code, out, _) = curl(&["-I", &format!("http://{}/", server.addr)], None);
    assert_eq!(code, 0);
    let head = String::from_utf8_lossy(&out);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains("Content-Length: 11"), "{head}");
}

const PY_CLIENT: &str = r#"
import http.client, sys
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
for _ in range(3):
    conn.request("GET", "/")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b"Hello World", r.status
def chunks():
    yield b"py"
    yield b"thon"
conn.request("POST", "/echo", body=chunks(), encode_chunked=True, headers={"Content-Type": "text/x-py"})
r = conn.getresponse()
assert r.getheader("Content-Type") == "text/x-py"
assert r.read() == b"python"
conn.request("HEAD", "/")
r = conn.getresponse()
assert r.getheader("Content-Length") == "11" and r.read() == b""
conn.request("GET", "/environ/x?q=1", headers={"X-Custom": "v"})
r = conn.getresponse()
text = r.read().decode()
assert "HTTP_X_CUSTOM=v\n" in text and "PATH_INFO=/environ/x\n" in text and "QUERY_STRING=q=1\n" in text, text
conn.request("GET", "/stream?chunks=5&size=1000")
r = conn.getresponse()
assert r.getheader("Transfer-Encoding") == "chunked" and r.read() == b"x" * 5000
conn.request("GET", "/status/418")
r = conn.getresponse()
assert r.status == 418, r.status
r.read()
conn.request("GET", "/panic")
r = conn.getresponse()
assert r.status == 500 and r.getheader("Connection") == "close"
r.read()
conn.close()
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
conn.request("GET", "/sleep?seconds=0.1")
assert conn.getresponse().status == 200
print("OK")
"#;

fn python_http_client() {
    let server = serve(&[]);
    let port = server.addr.port().to_string();
    let (code, out, err) = run_command(Command::new("python3").args(["-c", PY_CLIENT, &port]), None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(String::from_utf8_lossy(&out).trim(), "OK");
    // The default access log (stderr) has the requests, in eventlet's format.
    let deadline = std::time::Instant::now() + IO_TIMEOUT;
    while !server.output_text().contains("\"GET /sleep?seconds=0.1 HTTP/1.1\" 200")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let log = server.output_text();
    assert!(log.contains("\"GET / HTTP/1.1\" 200 11 "), "{log}");
    assert!(log.contains("\"GET /panic HTTP/1.1\" 500 "), "{log}");
    assert!(log.contains("Error handling request GET /panic HTTP/1.1"), "{log}");
}

#[test]
fn many_concurrent_sleepers_on_one_thread() {
    // 40 requests each sleeping 0.3 s on one scheduler thread all succeed: the sleeps are
    // coroutine sleeps, not thread sleeps.
    let server = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--scheduler-threads",
            "1",
            "--no-access-log",
        ],
        "listening at http://",
    );
    let addr = server.addr;
    let clients: Vec<_> = (0..40)
        .map(|_| std::thread::spawn(move || get(addr, "/sleep?seconds=0.3").status))
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap(), 200);
    }
}

#[test]
fn the_old_threads_flag_still_sets_scheduler_threads_with_a_warning() {
    // `--threads` was the scheduler threads; with the coroutine class it still is, and says
    // that the spelling is deprecated. With the thread class it is gunicorn's: request threads.
    let old = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--threads",
            "1",
            "--no-access-log",
        ],
        "listening at http://",
    );
    assert!(eventually(|| old.output_text().contains("write --scheduler-threads 1")));
    assert!(old
        .output_text()
        .contains("worker class coroutine, 1 scheduler threads"));
    let gthread = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "-k",
            "gthread",
            "--threads",
            "5",
            "--no-access-log",
        ],
        "listening at http://",
    );
    let log = gthread.output_text();
    assert!(
        log.contains("worker class thread") && log.contains("and 5 requests at once"),
        "{log}"
    );
    assert!(!log.contains("deprecated"), "{log}");
}

#[test]
fn a_blocking_request_under_the_thread_class_stalls_no_other_request() {
    // Four requests block their OS threads (std::thread::sleep, as a database driver or a
    // C extension would) in a process with one scheduler thread. Under the thread class
    // each blocks only its own request thread: the waiting room (on the scheduler thread)
    // goes on accepting and the other request threads serve `/` and `/sleep` meanwhile.
    // Under the coroutine class the same four requests would block the one scheduler
    // thread and everything on it, waiting room included, until they end: see
    // docs/coroutines-vs-threads.md, and `a_worker_blocking_its_thread_past_the_timeout_is_replaced`
    // in tests/master.rs for what the master does about it.
    let server = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--scheduler-threads",
            "1",
            "--worker-class",
            "thread",
            "--no-access-log",
        ],
        "listening at http://",
    );
    let mut blocked: Vec<Client> = (0..4)
        .map(|_| {
            let mut c = Client::connect(server.addr);
            c.send(b"GET /block?seconds=600 HTTP/1.1\r\nHost: t\r\n\r\n");
            c
        })
        .collect();
    // Served while the four block (each read gives up after IO_TIMEOUT, so a stall fails).
    for _ in 0..3 {
        assert_eq!(get(server.addr, "/").text(), "Hello World");
        assert_eq!(get(server.addr, "/sleep?seconds=0.1").status, 200);
    }
    // And the four are still blocked: nothing of their answers has come.
    for c in &mut blocked {
        c.reader.get_ref().set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let read = std::io::Read::read(c.reader.get_mut(), &mut byte);
        assert_eq!(read.unwrap_err().kind(), std::io::ErrorKind::WouldBlock);
    }
}

fn ipv6_bind() {
    // Loopback IPv6 is part of every Linux network stack this runs on; the demo answers there.
    let server = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "[::1]:0",
            "--scheduler-threads",
            "1",
            "--no-access-log",
            "--worker-class",
            class().name(),
        ],
        "listening at http://",
    );
    let addr = std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, server.addr.port()));
    let r = get(addr, "/environ");
    assert!(r.text().contains("REMOTE_ADDR=::1\n"), "{}", r.text());
}

#[test]
fn a_ported_program_has_its_own_name_version_and_options() {
    let bin = example("own_program");
    let (code, out, _) = run_command(Command::new(&bin).arg("--help"), None);
    assert_eq!(code, 0);
    let help = String::from_utf8_lossy(&out);
    let usage = help.lines().next().unwrap();
    assert!(
        usage.starts_with("Usage: ") && usage.ends_with("own_program [OPTIONS]"),
        "{usage}"
    );
    assert!(help.contains("A ported image service, on may_wsgi."), "{help}");
    for own in [
        "--data-dir DIR",
        "(default /var/lib/images)",
        "--show-image-direct-url",
        "[own-program]",
    ] {
        assert!(help.contains(own), "{own} missing from --help: {help}");
    }
    assert!(help.contains("--workers") && !help.contains("may-wsgi"), "{help}");
    let (code, out, _) = run_command(Command::new(&bin).arg("--version"), None);
    assert_eq!(
        (code, String::from_utf8_lossy(&out).as_ref()),
        (0, "own-program 2.1.0\n")
    );
    let (code, _, err) = run_command(Command::new(&bin).arg("--frobnicate"), None);
    assert_eq!(code, 2);
    assert!(err.starts_with("own-program: ") && err.contains("frobnicate"), "{err}");

    let args = [
        "--data-dir",
        "/x",
        "--show-image-direct-url",
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "0",
    ];
    let p = Process::start(&bin, &args, "listening at http://");
    assert_eq!(get(p.addr, "/").text(), "data-dir=/x direct=true workers=0\n");
    assert!(
        p.output_text().contains("own-program 2.1.0 listening at"),
        "{}",
        p.output_text()
    );
}

#[test]
fn a_real_glance_api_conf_is_accepted_by_a_ported_program() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/glance-api.conf");
    let conf = conf.to_str().unwrap();
    // What the file says, as the program reads it: ours applied, Glance's skipped, the
    // program's own section read.
    let program = may_wsgi::cli::Program::new("own-program", "2.1.0")
        .option("data-dir", "DIR", "where images live", Some("/var/lib/images"))
        .flag("show-image-direct-url", "show where each image is stored");
    let Ok(may_wsgi::cli::Command::Serve(c)) = program.parse("own-program", &["--config".to_owned(), conf.to_owned()])
    else {
        panic!("{conf} refused")
    };
    assert_eq!((c.workers, c.server.debug), (2, true));
    assert_eq!(c.bind.to_string(), "0.0.0.0:9292", "bind_host, and Glance's port");
    assert_eq!(c.app.get("data-dir"), Some("/srv/images"));
    assert!(
        !c.app.flag("show-image-direct-url"),
        "Glance's show_image_direct_url = false"
    );

    // And served from it, with flags over the file.
    let p = Process::start(
        &example("own_program"),
        &["--config", conf, "--bind", "127.0.0.1:0", "--workers", "0"],
        "listening at http://",
    );
    assert_eq!(get(p.addr, "/").text(), "data-dir=/srv/images direct=false workers=0\n");

    // A misspelling of ours among Glance's keys is still an error.
    let dir = std::env::temp_dir().join(format!("may_wsgi_glance_conf_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let typo = dir.join("glance-api.conf");
    let text = std::fs::read_to_string(conf)
        .unwrap()
        .replace("workers = 2", "worker = 2");
    std::fs::write(&typo, text).unwrap();
    let (code, _, err) = run_command(
        Command::new(example("own_program")).args(["--config", typo.to_str().unwrap()]),
        None,
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown key \"worker\" (did you mean \"workers\"?)"),
        "{err}"
    );
}
both_classes!(
    a_busy_port_is_a_clear_error,
    curl_keep_alive_reuses_the_connection,
    curl_chunked_upload_is_echoed,
    curl_expect_100_continue,
    curl_http10_and_head,
    python_http_client,
    ipv6_bind,
);
