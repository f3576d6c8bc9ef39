//! What production does to a server (issue 9), over real sockets: bodies past
//! `--limit-request-body`, proxies that tell us who the client is (trusted
//! `X-Forwarded-*` headers, the PROXY protocol), and the faults a long-running server
//! meets (descriptors running out, a leaking worker, a client that stops reading).

#[macro_use]
mod common;

use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use may_wsgi::{Body, Environ, ServerConfig, StartResponse};

// --- --limit-request-body -------------------------------------------------------------

const LIMIT: u64 = 1000;

/// What the body-limit app saw: how often it ran, and how its read of wsgi.input ended.
#[derive(Default)]
struct Seen {
    calls: AtomicUsize,
    outcome: Mutex<Vec<Result<usize, std::io::ErrorKind>>>,
}

/// An app that reads the whole body (after sending its head first when the path is
/// `/stream-first`) and answers with its length.
fn body_app(seen: Arc<Seen>) -> impl Fn(&mut Environ, &mut StartResponse) -> Body + Send + Sync + 'static {
    move |environ: &mut Environ, sr: &mut StartResponse| {
        seen.calls.fetch_add(1, Ordering::SeqCst);
        let stream_first = environ.get("PATH_INFO") == Some("/stream-first");
        if stream_first {
            let mut write = sr.call("200 OK", [("Content-Type", "text/plain")]);
            use std::io::Write;
            let _ = write.write_all(b"started\n");
        }
        let mut body = Vec::new();
        let outcome = environ.input().read_to_end(&mut body).map_err(|e| e.kind());
        seen.outcome.lock().unwrap().push(outcome);
        if !stream_first {
            sr.call("200 OK", [("Content-Type", "text/plain")]);
        }
        Body::from(format!("{}\n", body.len()))
    }
}

fn limited() -> ServerConfig {
    ServerConfig {
        limit_request_body: Some(LIMIT),
        ..config()
    }
}

fn chunked(pieces: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    for &n in pieces {
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'x', n));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn a_content_length_past_the_limit_is_413_before_the_app_runs() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), limited());
    let addr = server.local_addr();
    for (len, expect) in [(LIMIT, ""), (LIMIT + 1, ""), (10 * LIMIT, "Expect: 100-continue\r\n")] {
        let mut c = Client::connect(addr);
        c.send(format!("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n{expect}\r\n").as_bytes());
        if expect.is_empty() {
            let _ = c.try_send(&vec![b'x'; len as usize]);
        }
        // A client waiting for 100 Continue gets the refusal instead (read_response
        // would skip a 100; the head must be the 413's own).
        let r = c.response();
        if len <= LIMIT {
            assert_eq!((r.status, r.text()), (200, format!("{len}\n")));
            continue;
        }
        assert_eq!(r.status, 413, "{}", r.head);
        assert!(r.head.starts_with("HTTP/1.1 413"), "no 100 Continue first: {}", r.head);
        assert!(r.closes(), "{}", r.head);
        assert!(c.is_closed(), "the connection ends after a 413");
    }
    assert_eq!(
        seen.calls.load(Ordering::SeqCst),
        1,
        "the app ran only for the body within the limit"
    );
}

fn a_chunked_body_growing_past_the_limit_fails_wsgi_input_and_is_413() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), limited());
    let addr = server.local_addr();
    let within = chunked(&[600, 400]);
    let past = chunked(&[600, 400, 1]);
    let r = exchange(
        addr,
        &[
            &b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            &within,
        ]
        .concat(),
    );
    assert_eq!((r.status, r.text()), (200, format!("{LIMIT}\n")));
    let mut c = Client::connect(addr);
    c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = c.try_send(&past);
    let r = c.response();
    assert_eq!(r.status, 413, "the app's 200 is replaced: {}", r.head);
    assert!(r.closes() && c.is_closed());
    assert_eq!(
        *seen.outcome.lock().unwrap(),
        vec![Ok(LIMIT as usize), Err(std::io::ErrorKind::FileTooLarge)],
        "the app saw the refusal as an io::Error of kind FileTooLarge"
    );
}

fn a_chunked_body_past_the_limit_after_the_head_went_out_cuts_the_connection() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), limited());
    let mut c = Client::connect(server.local_addr());
    c.send(b"POST /stream-first HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = c.try_send(&chunked(&[LIMIT as usize + 1]));
    // The 200 head and its first chunk went out before the body failed: the response
    // cannot become a 413, so it is cut short (no last chunk), which a client sees as an
    // error, never as a complete answer.
    let cut = c.response_to("GET");
    assert!(cut.is_err(), "{cut:?}");
    assert_eq!(
        *seen.outcome.lock().unwrap(),
        vec![Err(std::io::ErrorKind::FileTooLarge)]
    );
}

// --- trusted proxy headers (--forwarded-allow-ips) -------------------------------------

/// The environ the demo's `/environ` shows for a request with these extra header lines,
/// sent over `stream`.
fn environ_over(stream: impl std::io::Read + std::io::Write, extra: &str) -> (u16, Vec<(String, String)>) {
    let mut reader = std::io::BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("GET /environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n").as_bytes())
        .unwrap();
    let r = read_response(&mut reader, false).unwrap();
    let keys = r
        .text()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (r.status, keys)
}

fn value<'a>(keys: &'a [(String, String)], key: &str) -> Option<&'a str> {
    keys.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

const FORWARDED: &str = "X-Forwarded-For: 10.9.9.9, 203.0.113.7\r\nX-Forwarded-Proto: https\r\n";

fn demo_with(config: ServerConfig) -> may_wsgi::ServerHandle {
    start(may_wsgi::demo::app, config)
}

fn a_trusted_proxy_sets_remote_addr_and_the_scheme() {
    // The default trusts 127.0.0.1, where the test's client is.
    let server = demo_with(config());
    let tcp = || std::net::TcpStream::connect(server.local_addr()).unwrap();
    let (status, keys) = environ_over(tcp(), FORWARDED);
    assert_eq!(status, 200);
    assert_eq!(
        value(&keys, "REMOTE_ADDR"),
        Some("203.0.113.7"),
        "the rightmost untrusted hop"
    );
    assert_eq!(value(&keys, "wsgi.url_scheme"), Some("https"));
    assert_eq!(
        value(&keys, "REMOTE_PORT"),
        None,
        "the proxy's port says nothing of the client"
    );
    assert_eq!(
        value(&keys, "HTTP_X_FORWARDED_FOR"),
        Some("10.9.9.9, 203.0.113.7"),
        "the header itself stays"
    );
    for ssl in ["X-Forwarded-Ssl: on\r\n", "X-Forwarded-Protocol: ssl\r\n"] {
        assert_eq!(
            value(&environ_over(tcp(), ssl).1, "wsgi.url_scheme"),
            Some("https"),
            "{ssl}"
        );
    }
    // Without the headers, the peer as before.
    let (_, keys) = environ_over(tcp(), "");
    assert_eq!(value(&keys, "REMOTE_ADDR"), Some("127.0.0.1"));
    assert!(value(&keys, "REMOTE_PORT").is_some_and(|p| p.parse::<u16>().is_ok()));
    assert_eq!(value(&keys, "wsgi.url_scheme"), Some("http"));
}

fn conflicting_scheme_headers_from_a_trusted_proxy_are_400() {
    let seen = Arc::new(Seen::default());
    let server = start(body_app(seen.clone()), config());
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-Ssl: on\r\nX-Forwarded-Proto: http\r\n\r\n");
    let r = c.response();
    assert_eq!(r.status, 400, "{}", r.head);
    assert!(r.text().contains("scheme"), "{}", r.text());
    assert!(r.closes() && c.is_closed());
    assert_eq!(seen.calls.load(Ordering::SeqCst), 0, "the app never ran");
}

fn an_untrusted_peer_s_forwarding_headers_change_nothing() {
    let untrusted = ServerConfig {
        forwarded_allow_ips: may_wsgi::http::ForwardedAllow::parse("10.0.0.1").unwrap(),
        ..config()
    };
    let server = demo_with(untrusted.clone());
    let tcp = || std::net::TcpStream::connect(server.local_addr()).unwrap();
    let conflicting = "X-Forwarded-Ssl: on\r\nX-Forwarded-Proto: http\r\n";
    for extra in [FORWARDED, conflicting] {
        let (status, keys) = environ_over(tcp(), extra);
        assert_eq!(status, 200, "not even a conflict is looked at: {extra}");
        assert_eq!(value(&keys, "REMOTE_ADDR"), Some("127.0.0.1"));
        assert_eq!(value(&keys, "wsgi.url_scheme"), Some("http"));
    }
    // A Unix-domain peer is trusted whatever the list says (gunicorn's rule): only local
    // processes with the socket's permissions can connect.
    let dir = std::env::temp_dir().join(format!("may_wsgi_fwd_{}_{}", class().name(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let unix = may_wsgi::Server::from_listener(listener, may_wsgi::demo::app, untrusted)
        .unwrap()
        .start()
        .unwrap();
    let stream = std::os::unix::net::UnixStream::connect(&path).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let (_, keys) = environ_over(stream, FORWARDED);
    assert_eq!(value(&keys, "REMOTE_ADDR"), Some("203.0.113.7"));
    assert_eq!(value(&keys, "wsgi.url_scheme"), Some("https"));
    drop(unix);
    let _ = std::fs::remove_dir_all(&dir);
}

// --- PROXY protocol (--proxy-protocol) -------------------------------------------------

fn proxied(allow: &str) -> may_wsgi::ServerHandle {
    demo_with(ServerConfig {
        proxy_protocol: true,
        forwarded_allow_ips: may_wsgi::http::ForwardedAllow::parse(allow).unwrap(),
        ..config()
    })
}

/// Sends `header` and then `requests` keep-alive requests for `/environ` on one
/// connection: the REMOTE_ADDR and REMOTE_PORT each saw.
fn through_proxy(addr: std::net::SocketAddr, header: &[u8], requests: usize) -> Vec<(String, String)> {
    let mut c = Client::connect(addr);
    c.send(header);
    (0..requests)
        .map(|i| {
            if i > 0 {
                // Long enough for the connection to go home to the waiting room between
                // requests: what the header said must travel with it.
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            c.send(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n");
            let text = c.response().text();
            let key = |k: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(&format!("{k}=")))
                    .unwrap_or("")
                    .to_owned()
            };
            (key("REMOTE_ADDR"), key("REMOTE_PORT"))
        })
        .collect()
}

fn v2_header(command: u8, family: u8, body: &[u8]) -> Vec<u8> {
    let mut out = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    out.extend_from_slice(&[command, family]);
    out.extend_from_slice(&(body.len() as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn a_proxy_protocol_header_names_the_client_for_the_whole_connection() {
    let server = proxied("127.0.0.1");
    let addr = server.local_addr();
    let client = |a: &str, p: &str| (a.to_owned(), p.to_owned());
    assert_eq!(
        through_proxy(addr, b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\n", 2),
        vec![client("203.0.113.7", "51000"); 2]
    );
    assert_eq!(
        through_proxy(addr, b"PROXY TCP6 2001:db8::7 2001:db8::1 4242 443\r\n", 1),
        vec![client("2001:db8::7", "4242")]
    );
    let v4 = [203, 0, 113, 8, 192, 0, 2, 1, 0xC7, 0x38, 0x01, 0xBB];
    assert_eq!(
        through_proxy(addr, &v2_header(0x21, 0x11, &v4), 2),
        vec![client("203.0.113.8", "51000"); 2]
    );
    // UNKNOWN and LOCAL: the socket peer stands.
    for header in [b"PROXY UNKNOWN\r\n".to_vec(), v2_header(0x20, 0x00, &[])] {
        let seen = through_proxy(addr, &header, 1);
        assert_eq!(seen[0].0, "127.0.0.1", "{header:?}");
        assert!(seen[0].1.parse::<u16>().is_ok());
    }
    // The header and the request in one write, and byte by byte.
    let header = b"PROXY TCP4 203.0.113.9 192.0.2.1 1 443\r\n";
    let mut c = Client::connect(addr);
    c.send(&[&header[..], b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n"].concat());
    assert!(c.response().text().contains("REMOTE_ADDR=203.0.113.9\n"));
    let mut c = Client::connect(addr);
    for byte in header.iter().chain(b"GET /environ HTTP/1.1\r\nHost: t\r\n\r\n") {
        c.send(&[*byte]);
    }
    assert!(c.response().text().contains("REMOTE_ADDR=203.0.113.9\n"));
}

fn a_missing_broken_or_untrusted_proxy_header_closes_the_connection_unanswered() {
    let server = proxied("127.0.0.1");
    let addr = server.local_addr();
    for raw in [
        &b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"PROXY TCP4 203.0.113.7 192.0.2.1 51000\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"PROXY TCP4 999.0.113.7 192.0.2.1 1 2\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n",
        b"\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c",
    ] {
        let mut c = Client::connect(addr);
        let _ = c.try_send(raw);
        assert_eq!(
            c.read_to_close(),
            b"",
            "closed without an answer: {:?}",
            String::from_utf8_lossy(raw)
        );
    }
    // A valid header from a peer that is not a trusted proxy: anyone could send one.
    let server = proxied("10.0.0.1");
    let mut c = Client::connect(server.local_addr());
    let _ = c.try_send(b"PROXY TCP4 203.0.113.7 192.0.2.1 51000 443\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_to_close(), b"");
    assert!(eventually(|| server.connections() == 0));
}

/// A real HAProxy in front of the server: `send-proxy` on one frontend, `send-proxy-v2` on
/// another, each adding X-Forwarded-For and X-Forwarded-Proto as a TLS-terminating proxy
/// would. curl connects from 127.0.0.2, so the client is not the proxy's own address.
fn behind_a_real_haproxy_with_send_proxy_v1_and_v2() {
    let Ok(version) = std::process::Command::new("haproxy").arg("-v").output() else {
        eprintln!("NOTE: haproxy is not installed (.ci/deps, run by make test, installs it); the raw-byte PROXY tests stand in");
        return;
    };
    assert!(version.status.success());
    let server = proxied("127.0.0.1");
    let backend = server.local_addr();
    let (v1, v2) = (free_port(), free_port());
    let dir = std::env::temp_dir().join(format!("may_wsgi_haproxy_{}_{}", class().name(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  maxconn 64\n\
             defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
             frontend v1\n  bind 127.0.0.1:{v1}\n  option forwardfor\n  http-request set-header X-Forwarded-Proto https\n  default_backend app_v1\n\
             frontend v2\n  bind 127.0.0.1:{v2}\n  option forwardfor\n  http-request set-header X-Forwarded-Proto https\n  default_backend app_v2\n\
             backend app_v1\n  server app {backend} send-proxy\n\
             backend app_v2\n  server app {backend} send-proxy-v2\n"
        ),
    )
    .unwrap();
    let haproxy = std::process::Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("haproxy starts");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _haproxy = Kill(haproxy);
    for port in [v1, v2] {
        assert!(
            eventually(|| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()),
            "haproxy listens on {port}"
        );
        let url = format!("http://127.0.0.1:{port}/environ");
        let (code, out, err) = run_command(
            std::process::Command::new("curl").args([
                "-sS",
                "--max-time",
                "20",
                "--interface",
                "127.0.0.2",
                "-w",
                "LOCAL_PORT=%{local_port}\n",
                &url,
                &url,
            ]),
            None,
        );
        assert_eq!(code, 0, "{err}");
        let text = String::from_utf8_lossy(&out);
        let values = |key: &str| -> Vec<&str> { text.lines().filter_map(|l| l.strip_prefix(key)).collect() };
        // Two requests (curl reuses its connection to haproxy): each one names curl's
        // address and port, not haproxy's.
        assert_eq!(values("REMOTE_ADDR="), ["127.0.0.2", "127.0.0.2"], "{text}");
        assert_eq!(values("REMOTE_PORT="), values("LOCAL_PORT="), "{text}");
        assert_eq!(values("wsgi.url_scheme="), ["https", "https"], "{text}");
        assert_eq!(values("HTTP_X_FORWARDED_FOR="), ["127.0.0.2", "127.0.0.2"], "{text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// --- --max-worker-memory --------------------------------------------------------------

const BIN: &str = env!("CARGO_BIN_EXE_may-wsgi");

fn serve(args: &[&str]) -> Process {
    let mut all = vec!["--bind", "127.0.0.1:0", "--no-access-log"];
    all.extend_from_slice(&class_args());
    all.extend_from_slice(args);
    Process::start(std::path::Path::new(BIN), &all, "listening at http://")
}

fn a_worker_past_max_worker_memory_is_replaced_and_no_request_fails() {
    let p = serve(&["--workers", "1", "--max-worker-memory", "96"]);
    let pid = |p: &Process| get(p.addr, "/pid").text();
    let first = pid(&p);
    let mut replaced = false;
    // 16 MiB a request: the worker passes 96 MiB within a few, and keeps answering
    // until the master has put a new one in its place.
    for _ in 0..40 {
        let r = get(p.addr, "/leak?kib=16384");
        assert_eq!(r.status, 200, "{}", r.text());
        let now = get(p.addr, "/pid");
        assert_eq!(now.status, 200);
        if now.text() != first {
            replaced = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(replaced, "the worker was never replaced: {}", p.output_text());
    assert!(
        p.output_text().contains("passed --max-worker-memory 96 MiB"),
        "{}",
        p.output_text()
    );
}

// --- file descriptors running out ------------------------------------------------------

/// User plus system CPU time of a process so far, in clock ticks (from /proc/PID/stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after "(comm)": state is the 1st, utime the 12th, stime the 13th.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as u64
}

/// Sets a process's open-file limit (soft and hard) from outside, as `prlimit --nofile`.
fn set_nofile(pid: u32, limit: u64) {
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // Safety: prlimit on a valid struct; the process is our own child.
    let rc = unsafe { libc::prlimit(pid as libc::pid_t, libc::RLIMIT_NOFILE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

/// One keep-alive request on an open connection.
fn ask(c: &mut Client) -> u16 {
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    c.response_to("GET").map_or(0, |r| r.status)
}

fn out_of_descriptors_the_server_serves_what_it_holds_without_spinning_and_recovers() {
    // One process: its CPU time is the whole server's.
    let p = serve(&["--workers", "0", "--keep-alive", "30"]);
    let pid = p.child.id();
    let mut held: Vec<Client> = (0..10).map(|_| Client::connect(p.addr)).collect();
    for c in &mut held {
        assert_eq!(ask(c), 200);
    }
    // The descriptor table is now nearly full: a few more connections fit, then accept
    // fails with EMFILE while the rest wait in the listen backlog.
    set_nofile(pid, open_fds(pid) + 4);
    let out_since = std::time::Instant::now();
    let mut extra: Vec<Client> = (0..100).map(|_| Client::connect(p.addr)).collect();
    for c in &mut extra {
        let _ = c.try_send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    let wall = std::time::Duration::from_secs(2);
    let before = cpu_ticks(pid);
    std::thread::sleep(wall);
    let used = cpu_ticks(pid) - before;
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        used * 2 < hz * wall.as_secs(),
        "the server spun: {used} ticks of CPU in {wall:?} (at {hz} a second)"
    );
    // What it holds is served, again and again.
    for _ in 0..3 {
        for c in &mut held {
            assert_eq!(ask(c), 200, "a held keep-alive connection is still served");
        }
    }
    let complaints = |p: &Process| p.output_text().lines().filter(|l| l.contains("accept failed")).count();
    assert!(complaints(&p) >= 1, "EMFILE was met and logged: {}", p.output_text());
    let seconds = out_since.elapsed().as_secs() + 1;
    assert!(
        complaints(&p) as u64 <= seconds,
        "at most once a second, in {seconds} s: {}",
        p.output_text()
    );
    assert!(p.output_text().contains("Too many open files"), "{}", p.output_text());
    // Descriptors come free as clients leave: the backlog drains and new clients are served.
    drop(extra);
    drop(held.split_off(5));
    assert!(
        eventually(|| {
            let mut c = Client::connect(p.addr);
            c.reader
                .get_ref()
                .set_read_timeout(Some(std::time::Duration::from_secs(2)))
                .unwrap();
            ask(&mut c) == 200
        }),
        "a new client is served once descriptors free up"
    );
    for c in &mut held {
        assert_eq!(ask(c), 200);
    }
}

/// Lets this test process hold a thousand sockets of its own (the soft limit is often 1024).
fn raise_own_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: getrlimit/setrlimit on a valid struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max.min(8192);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

fn a_thousand_clients_against_256_descriptors() {
    raise_own_nofile();
    // The server under `ulimit -n 256`: it holds 192 connections (the limit less its
    // reserve of 64), and the rest wait in the backlog.
    let p = Process::start(
        std::path::Path::new("sh"),
        &[
            "-c",
            &format!(
                "ulimit -n 256 && exec {BIN} --bind 127.0.0.1:0 --no-access-log --workers 0 --worker-class {}",
                class().name()
            ),
        ],
        "listening at http://",
    );
    let pid = p.child.id();
    assert!(
        eventually(|| p.output_text().contains("clipped to 192")),
        "{}",
        p.output_text()
    );
    // A thousand clients, each with a request: idle keep-alive connections make room for
    // newcomers (nginx's reuse), so every one is answered.
    let mut clients: Vec<Client> = (0..1000).map(|_| Client::connect(p.addr)).collect();
    for c in &mut clients {
        c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        let r = c.response_to("GET").unwrap_or_else(|e| panic!("client {i}: {e}"));
        assert_eq!(r.status, 200, "client {i}");
    }
    drop(clients);
    // Now 250 clients that hold their places with heads still arriving (never idle, so
    // never reclaimed): 192 are held, 58 wait, and the server waits without spinning.
    let mut slow: Vec<Client> = (0..250).map(|_| Client::connect(p.addr)).collect();
    for c in &mut slow {
        c.send(b"GET / HTTP/1.1\r\n");
    }
    assert!(eventually(|| open_fds(pid) >= 192));
    let wall = std::time::Duration::from_secs(2);
    let before = cpu_ticks(pid);
    std::thread::sleep(wall);
    let used = cpu_ticks(pid) - before;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    assert!(
        used * 2 < hz * wall.as_secs(),
        "the server spun: {used} ticks in {wall:?}"
    );
    // The heads complete: those held are served, their places free, the rest get in.
    for c in &mut slow {
        c.send(b"Host: t\r\nConnection: close\r\n\r\n");
    }
    for (i, c) in slow.iter_mut().enumerate() {
        assert_eq!(
            c.response_to("GET").map(|r| r.status).ok(),
            Some(200),
            "slow client {i}"
        );
    }
    assert_eq!(get(p.addr, "/").status, 200);
}

// --- a client that stops reading --------------------------------------------------------

/// A response that never ends, 1 MiB a piece; `dropped` is set when the server drops it
/// (WSGI's close()).
fn endless_app(
    dropped: Arc<std::sync::atomic::AtomicBool>,
) -> impl Fn(&mut Environ, &mut StartResponse) -> Body + Send + Sync + 'static {
    move |_: &mut Environ, sr: &mut StartResponse| {
        struct Endless(Arc<std::sync::atomic::AtomicBool>);
        impl Iterator for Endless {
            type Item = Vec<u8>;
            fn next(&mut self) -> Option<Vec<u8>> {
                Some(vec![b'x'; 1 << 20])
            }
        }
        impl Drop for Endless {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        sr.call("200 OK", [("Content-Type", "application/octet-stream")]);
        Body::iter(Endless(dropped.clone()))
    }
}

fn a_client_that_stops_reading_is_cut_at_the_client_timeout() {
    let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = start(
        endless_app(dropped.clone()),
        ServerConfig {
            client_timeout: std::time::Duration::from_secs(1),
            ..config()
        },
    );
    let mut c = Client::connect(server.local_addr());
    c.send(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
    // The client reads nothing: the socket buffers fill, the server's write stalls, and
    // after a stall of the client timeout the connection is cut and its body dropped.
    assert!(eventually(|| server.connections() == 1));
    assert!(
        eventually(|| server.connections() == 0),
        "the stalled connection is closed"
    );
    assert!(
        dropped.load(Ordering::SeqCst),
        "the response body was dropped (close())"
    );
    // What did arrive is a response cut short, never a complete one.
    let cut = c.response_to("GET");
    assert!(cut.is_err(), "{:?}", cut.map(|r| r.body.len()));
}

/// Resident memory of a process, in KiB (VmRSS from /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn clients_that_stop_reading_large_responses_give_their_memory_back() {
    let p = Process::start(
        std::path::Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "0",
            "--client-timeout",
            "1",
            "--worker-class",
            class().name(),
        ],
        "listening at http://",
    );
    let pid = p.child.id();
    assert_eq!(
        get(p.addr, "/stream?chunks=4&size=1048576").body.len(),
        4 << 20,
        "warm up"
    );
    let baseline = rss_kib(pid);
    // Twenty clients ask for 100 GiB each, 1 MiB a piece, and never read.
    let stalled: Vec<Client> = (0..20)
        .map(|_| {
            let mut c = Client::connect(p.addr);
            c.send(b"GET /stream?chunks=102400&size=1048576 HTTP/1.1\r\nHost: t\r\n\r\n");
            c
        })
        .collect();
    // Each is cut at the client timeout; the access log names every one.
    assert!(
        eventually(|| p.output_text().matches("GET /stream?chunks=102400").count() == 20),
        "{}",
        p.output_text()
    );
    // Memory comes back (freed buffers are trimmed once a second).
    assert!(
        eventually(|| rss_kib(pid) < baseline + 4096),
        "RSS {} KiB, was {baseline} KiB",
        rss_kib(pid)
    );
    drop(stalled);
    assert_eq!(get(p.addr, "/").status, 200);
}

both_classes!(
    a_content_length_past_the_limit_is_413_before_the_app_runs,
    a_chunked_body_growing_past_the_limit_fails_wsgi_input_and_is_413,
    a_chunked_body_past_the_limit_after_the_head_went_out_cuts_the_connection,
    a_trusted_proxy_sets_remote_addr_and_the_scheme,
    conflicting_scheme_headers_from_a_trusted_proxy_are_400,
    an_untrusted_peer_s_forwarding_headers_change_nothing,
    a_proxy_protocol_header_names_the_client_for_the_whole_connection,
    a_missing_broken_or_untrusted_proxy_header_closes_the_connection_unanswered,
    behind_a_real_haproxy_with_send_proxy_v1_and_v2,
    a_worker_past_max_worker_memory_is_replaced_and_no_request_fails,
    out_of_descriptors_the_server_serves_what_it_holds_without_spinning_and_recovers,
    a_thousand_clients_against_256_descriptors,
    a_client_that_stops_reading_is_cut_at_the_client_timeout,
    clients_that_stop_reading_large_responses_give_their_memory_back,
);
