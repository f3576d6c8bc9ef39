//! Shared by the integration tests: start a server on 127.0.0.1 port 0, talk raw HTTP to
//! it over a real socket, and read responses back the way a strict client would. Tests that
//! drive a server run once per worker class: written as plain functions, they are named in
//! a [`both_classes!`] at the end of their file, which makes `coroutine::NAME` and
//! `thread::NAME` tests of them.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use may_wsgi::{AccessLogTarget, Application, Server, ServerConfig, ServerHandle, WorkerClass};

/// Every read in a test gives up after this: a bug shows as a failure, never a hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A quiet configuration for tests, for the running test's worker class ([`class`]): no
/// access log on stderr.
pub fn config() -> ServerConfig {
    ServerConfig {
        access_log: AccessLogTarget::Off,
        ..ServerConfig::for_class(class())
    }
}

/// Starts `app` on a free loopback port.
pub fn start(app: impl Application, config: ServerConfig) -> ServerHandle {
    Server::bind("127.0.0.1:0", app, config).unwrap().start().unwrap()
}

/// Starts the demo app.
pub fn start_demo() -> ServerHandle {
    start(may_wsgi::demo::app, config())
}

/// A response as a client sees it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn closes(&self) -> bool {
        self.header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw client connection.
pub struct Client {
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).unwrap();
    }

    /// Sends, ignoring a failure (the server may already have closed on us).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_mut().write_all(bytes)
    }

    /// Reads one response to a request with the given method.
    pub fn response_to(&mut self, method: &str) -> io::Result<Response> {
        read_response(&mut self.reader, method == "HEAD")
    }

    pub fn response(&mut self) -> Response {
        self.response_to("GET").unwrap()
    }

    /// True when the server has closed the connection (EOF or reset, and nothing else).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        }
    }

    /// Everything until the server closes.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let _ = self.reader.read_to_end(&mut rest);
        rest
    }
}

/// One GET on a fresh connection.
pub fn get(addr: SocketAddr, target: &str) -> Response {
    let mut c = Client::connect(addr);
    c.send(format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    c.response()
}

/// Sends raw bytes on a fresh connection and returns the one response.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    let _ = c.try_send(raw);
    c.response()
}

fn read_line(r: &mut impl BufRead) -> io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads a response, skipping 1xx interim ones, framing the body as RFC 9112 says.
pub fn read_response(r: &mut impl BufRead, head_request: bool) -> io::Result<Response> {
    loop {
        let status_line = read_line(r)?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("bad status line {status_line:?}")))?;
        let mut head = status_line.clone() + "\r\n";
        let mut headers = Vec::new();
        loop {
            let line = read_line(r)?;
            if line.is_empty() {
                break;
            }
            head.push_str(&line);
            head.push_str("\r\n");
            let (name, value) = line.split_once(':').expect("header line");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut resp = Response {
            status,
            head,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 {
            return Ok(resp);
        }
        if resp
            .header("Transfer-Encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size_line = read_line(r)?;
                let size = usize::from_str_radix(size_line.split(';').next().unwrap().trim(), 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "bad chunk size"))?;
                if size == 0 {
                    while !read_line(r)?.is_empty() {}
                    break;
                }
                let mut chunk = vec![0; size];
                r.read_exact(&mut chunk)?;
                resp.body.extend_from_slice(&chunk);
                read_line(r)?;
            }
        } else if let Some(len) = resp.header("Content-Length") {
            let len: usize = len.parse().unwrap();
            resp.body = vec![0; len];
            r.read_exact(&mut resp.body)?;
        } else {
            r.read_to_end(&mut resp.body)?;
        }
        return Ok(resp);
    }
}

/// A program of ours running in its own process, killed when dropped.
pub struct Process {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// What it printed (stdout and stderr), line by line, as it goes.
    pub output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    /// Starts `program` and waits for it to print the port it listens on: a line holding
    /// `marker` followed by the port (or by `host:port`).
    pub fn start(program: &std::path::Path, args: &[&str], marker: &str) -> Process {
        use std::process::{Command, Stdio};
        use std::sync::{mpsc, Arc, Mutex};
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let output = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipes: Vec<Box<dyn Read + Send>> = vec![
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for pipe in pipes {
            let (tx, output, marker) = (tx.clone(), output.clone(), marker.to_owned());
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let port = line.find(&marker).map(|at| {
                        let rest = &line[at + marker.len()..];
                        let port: String = rest
                            .rsplit(':')
                            .next()
                            .unwrap_or(rest)
                            .chars()
                            .take_while(|c| c.is_ascii_digit())
                            .collect();
                        port.parse::<u16>().ok()
                    });
                    // Kept before the port is told: a test that reads the output as soon
                    // as `start` returns finds the line that said where it listens.
                    output.lock().unwrap().push(line);
                    if let Some(port) = port {
                        let _ = tx.send(port);
                    }
                }
            });
        }
        let port = rx.recv_timeout(IO_TIMEOUT).ok().flatten().unwrap_or_else(|| {
            panic!(
                "{} never said where it listens: {:?}",
                program.display(),
                output.lock().unwrap()
            )
        });
        Process {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            output,
        }
    }

    pub fn output_text(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

/// Runs a command to completion with a time limit, returning (status, stdout, stderr).
pub fn run_command(cmd: &mut std::process::Command, stdin: Option<&[u8]>) -> (i32, Vec<u8>, String) {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("command starts");
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let id = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => {
            let out = out.unwrap();
            (
                out.status.code().unwrap_or(-1),
                out.stdout,
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(id.to_string())
                .status();
            panic!("command did not finish in 60 s: {cmd:?}");
        }
    }
}

/// Polls `cond` until it holds, for up to 20 s: for states the server reaches on its own
/// time (a worker respawned, a connection gone home). False if it never held.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

thread_local! {
    /// The worker class this test runs with (see [`both_classes!`]).
    static CLASS: std::cell::Cell<WorkerClass> = const { std::cell::Cell::new(WorkerClass::Coroutine) };
}

/// The worker class of the running test: what [`config`] and the binary's flags use.
pub fn class() -> WorkerClass {
    CLASS.with(std::cell::Cell::get)
}

/// Runs `test` with `class` as the running test's worker class.
pub fn with_class(class: WorkerClass, test: fn()) {
    CLASS.with(|c| c.set(class));
    test()
}

/// The running test's worker class as the binary's flag.
pub fn class_args() -> [&'static str; 2] {
    ["--worker-class", class().name()]
}

/// Makes each named test function (a plain `fn()`, no `#[test]`) a test for each worker
/// class: `coroutine::NAME` and `thread::NAME`. The same body runs twice; only what
/// [`config`] and [`class_args`] give differs.
#[allow(unused_macros)]
macro_rules! both_classes {
    ($($name:ident),* $(,)?) => {
        /// The tests above, with request coroutines.
        mod coroutine {
            $(
                #[test]
                fn $name() {
                    super::common::with_class(may_wsgi::WorkerClass::Coroutine, super::$name)
                }
            )*
        }
        /// The tests above, with request threads.
        mod thread {
            $(
                #[test]
                fn $name() {
                    super::common::with_class(may_wsgi::WorkerClass::Thread, super::$name)
                }
            )*
        }
    };
}

/// An example's binary from this build's profile, built (or found up to date) first: a
/// `cargo test --test NAME` alone does not build examples, and an old binary would be
/// judged instead of the code at hand. Cargo holds no lock while tests run.
pub fn example(name: &str) -> std::path::PathBuf {
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_may-wsgi"));
    let profile_dir = bin.parent().unwrap();
    let mut cargo = std::process::Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "--example", name]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("cargo runs");
    assert!(status.success(), "building example {name}");
    profile_dir.join("examples").join(name)
}

/// The live children of `pid` and how many of its children are zombies, from /proc.
pub fn children_and_zombies(pid: u32) -> (std::collections::HashSet<u32>, usize) {
    let (mut live, mut zombies) = (std::collections::HashSet::new(), 0);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces, so read after the last ')'.
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
        if fields[1].parse::<u32>() == Ok(pid) {
            if fields[0] == "Z" {
                zombies += 1;
            } else {
                live.insert(child);
            }
        }
    }
    (live, zombies)
}

/// The live children of `pid` (a master's workers), from /proc.
pub fn children(pid: u32) -> std::collections::HashSet<u32> {
    children_and_zombies(pid).0
}

/// How many sockets a process has open (its listener, its connections, ...).
pub fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |fds| {
        fds.flatten()
            .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().starts_with("socket:")))
            .count()
    })
}

pub fn signal(pid: u32, sig: libc::c_int) {
    // Safety: kill(2) on a process the test started (or one of its children).
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// A free loopback port for a program that cannot be told to pick one.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
