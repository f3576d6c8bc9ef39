//! The pre-fork master driven as an operator would: the real binary, real signals, load
//! running while workers are killed, reloaded and stopped; counting failed requests and
//! leftover processes. No assertion is about how long anything took.

#[macro_use]
mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use may_wsgi::WorkerClass;

const BIN: &str = env!("CARGO_BIN_EXE_may-wsgi");

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn master(args: &[&str]) -> Process {
    let mut all = vec!["--bind", "127.0.0.1:0", "--no-access-log", "--graceful-timeout", "10"];
    all.extend_from_slice(&class_args());
    all.extend_from_slice(args);
    Process::start(Path::new(BIN), &all, "listening at http://")
}

/// Waits for the master to have exactly `n` workers, and returns them.
fn workers(p: &Process, n: usize) -> HashSet<u32> {
    let master = p.child.id();
    assert!(
        common::eventually(|| children(master).len() == n),
        "wanted {n} workers, have {:?}",
        children(master)
    );
    children(master)
}

fn wait_exit(p: &mut Process) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the master did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A fresh directory of this test's own: the worker class is in the name, because both
/// variants of a test run at the same time in one process.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "may_wsgi_{name}_{}_{}",
        common::class().name(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn n_workers_come_up_and_all_serve() {
    // One connection per worker at a time: three slow requests at once land on three
    // workers. (Tried a few times, in case a loaded machine starts one client late.)
    let p = master(&["--workers", "3", "--worker-connections", "1"]);
    let pids = workers(&p, 3);
    let addr = p.addr;
    let mut served = HashSet::new();
    for _ in 0..5 {
        let start = Arc::new(std::sync::Barrier::new(3));
        let bodies: Vec<_> = (0..3)
            .map(|_| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    get(addr, "/sleep?seconds=1").text()
                })
            })
            .collect();
        served = bodies
            .into_iter()
            .map(|b| b.join().unwrap().trim().rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        if served == pids {
            break;
        }
    }
    assert_eq!(served, pids);
}

fn a_killed_worker_is_replaced_and_the_others_never_fail() {
    let p = master(&["--workers", "2"]);
    let before = workers(&p, 2);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n");
    let survivor: u32 = c.response().text().trim().parse().unwrap();
    let victim = *before.iter().find(|&&w| w != survivor).unwrap();
    signal(victim, libc::SIGKILL);
    // Requests to the survivor go on, one after another, while the victim is replaced.
    let mut served = 0;
    let replaced = common::eventually(|| {
        c.send(b"GET /pid HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c
            .response_to("GET")
            .unwrap_or_else(|e| panic!("request {served} to {survivor} failed: {e}\n{}", p.output_text()));
        assert_eq!(r.status, 200);
        assert_eq!(r.text().trim(), survivor.to_string());
        served += 1;
        let now = children(p.child.id());
        now.len() == 2 && !now.contains(&victim)
    });
    assert!(replaced, "the killed worker was not replaced");
    assert!(served > 0);
    let replacement = *children(p.child.id()).iter().find(|&&w| w != survivor).unwrap();
    assert!(common::eventually(
        || (0..20).any(|_| get(p.addr, "/pid").text().trim() == replacement.to_string())
    ));
    assert!(p
        .output_text()
        .contains(&format!("worker {victim} was killed by signal 9")));
}

fn term_finishes_fifty_requests_in_flight_then_frees_the_port() {
    let mut p = master(&["--workers", "2"]);
    let pids = workers(&p, 2);
    let idle: usize = pids.iter().map(|&w| sockets(w)).sum();
    let addr = p.addr;
    let clients: Vec<_> = (0..50)
        .map(|_| std::thread::spawn(move || get(addr, "/sleep?seconds=2").status))
        .collect();
    // The stop comes once the workers have accepted all fifty connections.
    assert!(common::eventually(
        || pids.iter().map(|&w| sockets(w)).sum::<usize>() >= idle + 50
    ));
    signal(p.child.id(), libc::SIGTERM);
    for c in clients {
        assert_eq!(c.join().unwrap(), 200);
    }
    assert_eq!(wait_exit(&mut p), 0);
    assert!(std::net::TcpListener::bind(addr).is_ok(), "the port is free");
    assert!(children(p.child.id()).is_empty());
}

fn hup_under_load_replaces_every_worker_and_no_request_fails() {
    let p = master(&["--workers", "2"]);
    let before = workers(&p, 2);
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let addr = p.addr;
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let mut c = Client::connect(addr);
                    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
                    match c.response_to("GET") {
                        Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::SeqCst),
                        _ => failed.fetch_add(1, Ordering::SeqCst),
                    };
                }
            })
        })
        .collect();
    assert!(common::eventually(|| ok.load(Ordering::SeqCst) > 50));
    signal(p.child.id(), libc::SIGHUP);
    assert!(common::eventually(|| {
        let now = children(p.child.id());
        now.len() == 2 && now.is_disjoint(&before)
    }));
    let at_reload = ok.load(Ordering::SeqCst);
    assert!(common::eventually(|| ok.load(Ordering::SeqCst) > at_reload + 50));
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::SeqCst), 0, "{} served", ok.load(Ordering::SeqCst));
}

fn ttin_and_ttou_change_the_worker_count_but_never_below_one() {
    let p = master(&["--workers", "2"]);
    workers(&p, 2);
    signal(p.child.id(), libc::SIGTTIN);
    workers(&p, 3);
    for _ in 0..4 {
        signal(p.child.id(), libc::SIGTTOU);
        std::thread::sleep(Duration::from_millis(100));
    }
    workers(&p, 1);
    assert_eq!(get(p.addr, "/").status, 200);
}

fn usr1_reopens_the_access_log_after_it_was_moved() {
    let dir = temp_dir("usr1");
    let log = dir.join("access.log");
    let log_arg = log.to_string_lossy().into_owned();
    let p = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--access-logfile",
            &log_arg,
            "--worker-class",
            class().name(),
        ],
        "listening at http://",
    );
    workers(&p, 1);
    get(p.addr, "/status/201");
    assert!(common::eventually(
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains("/status/201"))
    ));
    let rotated = dir.join("access.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    signal(p.child.id(), libc::SIGUSR1);
    // Requests until one lands in a new file by the old name.
    assert!(common::eventually(|| {
        get(p.addr, "/status/202");
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("/status/202"))
    }));
    assert!(std::fs::read_to_string(&rotated).unwrap().contains("/status/201"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_worker_blocking_its_thread_past_the_timeout_is_replaced() {
    let p = master(&["--workers", "1", "--timeout", "1"]);
    let before = workers(&p, 1);
    let stuck = *before.iter().next().unwrap();
    let addr = p.addr;
    let blocked = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.send(b"GET /block?seconds=30 HTTP/1.1\r\nHost: t\r\n\r\n");
        c.response_to("GET").is_ok()
    });
    assert!(common::eventually(|| p
        .output_text()
        .contains(&format!("WORKER TIMEOUT (pid:{stuck})"))));
    assert!(common::eventually(|| {
        let now = children(p.child.id());
        now.len() == 1 && !now.contains(&stuck)
    }));
    assert!(!blocked.join().unwrap(), "the stuck request died with its worker");
    assert_eq!(get(p.addr, "/").status, 200);
}

#[test]
fn a_thread_worker_blocking_one_request_past_the_timeout_keeps_beating() {
    // The thread class's answer to the test above: /block stops one request thread, not
    // the scheduler thread that beats, so the worker is not aborted, serves others
    // meanwhile, and the blocked request ends with its answer.
    common::with_class(WorkerClass::Thread, thread_worker_keeps_beating);
}

fn thread_worker_keeps_beating() {
    let p = master(&["--workers", "1", "--timeout", "1"]);
    let before = workers(&p, 1);
    let addr = p.addr;
    let blocked = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.send(b"GET /block?seconds=3 HTTP/1.1\r\nHost: t\r\n\r\n");
        c.response_to("GET").map(|r| r.status).ok()
    });
    let pid = |r: Response| r.text().trim().parse::<u32>().unwrap();
    assert!(before.contains(&pid(get(addr, "/pid"))));
    assert_eq!(blocked.join().unwrap(), Some(200), "the blocked request was answered");
    assert!(before.contains(&pid(get(addr, "/pid"))), "by the same worker");
    assert!(!p.output_text().contains("WORKER TIMEOUT"), "{}", p.output_text());
}

fn a_busy_port_that_frees_within_the_retry_window_is_taken() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(800));
        drop(holder);
    });
    let p = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            &addr,
            "--workers",
            "1",
            "--bind-retry",
            "15",
            "--no-access-log",
            "--worker-class",
            class().name(),
        ],
        "listening at http://",
    );
    release.join().unwrap();
    assert!(p.output_text().contains("in use; retrying"), "{}", p.output_text());
    assert!(common::eventually(|| get(p.addr, "/").status == 200));
}

#[test]
fn a_port_that_stays_busy_is_a_clear_error() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = holder.local_addr().unwrap().to_string();
    let (code, _, err) = run_command(Command::new(BIN).args(["--bind", &addr, "--bind-retry", "1"]), None);
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!("could not bind to {addr} after trying for 1 seconds")),
        "{err}"
    );
}

fn pidfile_is_written_refused_while_live_and_removed_at_exit() {
    let dir = temp_dir("pid");
    let pidfile = dir.join("may.pid");
    let pid_arg = pidfile.to_string_lossy().into_owned();
    let mut p = master(&["--workers", "1", "--pid", &pid_arg]);
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap().trim(),
        p.child.id().to_string()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&pidfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640, "created under the default umask 027");
    let (code, _, err) = run_command(
        Command::new(BIN).args(["--bind", "127.0.0.1:0", "--workers", "1", "--pid", &pid_arg]),
        None,
    );
    assert_eq!(code, 1);
    assert!(err.contains("still running"), "{err}");
    signal(p.child.id(), libc::SIGTERM);
    assert_eq!(wait_exit(&mut p), 0);
    assert!(!pidfile.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn config_file_sets_what_flags_do_not_and_reports_errors_with_the_line() {
    let dir = temp_dir("conf");
    let conf = dir.join("may.conf");
    std::fs::write(
        &conf,
        "[DEFAULT]\nworkers = 3\nmax_header_line = 100\nenabled_backends = fs:file\n[database]\nconnection = x\n",
    )
    .unwrap();
    let conf_arg = conf.to_string_lossy().into_owned();
    // The file's workers = 3 loses to the flag; its header line limit holds; Glance's own
    // keys in the shared [DEFAULT] section are Glance's business.
    let p = master(&["--config", &conf_arg, "--workers", "1"]);
    workers(&p, 1);
    let long = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(150));
    assert_eq!(exchange(p.addr, long.as_bytes()).status, 414);
    drop(p);

    std::fs::write(&conf, "workers = 2\n\nkeep-alive = soon\n").unwrap();
    let (code, _, err) = run_command(Command::new(BIN).args(["--config", &conf_arg]), None);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{conf_arg}:3: keep-alive")), "{err}");
    for (text, want) in [
        (
            "[may-wsgi]\nworkers = 2\nbogus_key = 1\n",
            ":3: unknown key \"bogus_key\"",
        ),
        (
            "[DEFAULT]\nworker = 2\n",
            ":2: unknown key \"worker\" (did you mean \"workers\"?)",
        ),
    ] {
        std::fs::write(&conf, text).unwrap();
        let (code, _, err) = run_command(Command::new(BIN).args(["--config", &conf_arg]), None);
        assert_eq!(code, 2, "{text}");
        assert!(err.contains(&format!("{conf_arg}{want}")), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn hup_with_a_broken_config_keeps_the_old_one_running() {
    let dir = temp_dir("hupconf");
    let conf = dir.join("may.conf");
    std::fs::write(&conf, "workers = 1\n").unwrap();
    let conf_arg = conf.to_string_lossy().into_owned();
    let p = master(&["--config", &conf_arg]);
    let before = workers(&p, 1);
    std::fs::write(&conf, "workers = many\n").unwrap();
    signal(p.child.id(), libc::SIGHUP);
    assert!(common::eventually(|| p
        .output_text()
        .contains("configuration not reloaded")));
    assert!(
        p.output_text().contains(":1: workers: expected a whole number"),
        "{}",
        p.output_text()
    );
    assert_eq!(children(p.child.id()), before);
    assert_eq!(get(p.addr, "/").status, 200);
    // Mended, the next HUP takes it.
    std::fs::write(&conf, "workers = 3\n").unwrap();
    signal(p.child.id(), libc::SIGHUP);
    // The old worker may still be finishing while the new three start: wait for the
    // generation to be all new (counting three could catch two new and the old one).
    assert!(
        common::eventually(|| {
            let now = children(p.child.id());
            now.len() == 3 && now.is_disjoint(&before)
        }),
        "{:?} (before: {before:?})",
        children(p.child.id())
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn a_worker_that_cannot_boot_stops_the_master() {
    let mut p = Process::start(
        Path::new(BIN),
        &[
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--access-logfile",
            "/nonexistent/dir/access.log",
            "--worker-class",
            class().name(),
        ],
        "listening at http://",
    );
    assert_ne!(wait_exit(&mut p), 0);
    assert!(p.output_text().contains("failed to boot"), "{}", p.output_text());
}

fn workers_leave_when_the_master_is_gone() {
    let mut p = master(&["--workers", "2"]);
    let pids = workers(&p, 2);
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    assert!(
        common::eventually(|| pids.iter().all(|&w| !alive(w))),
        "orphaned workers still running: {:?}",
        pids.iter()
            .map(|w| std::fs::read_to_string(format!("/proc/{w}/stat")))
            .collect::<Vec<_>>()
    );
}

fn max_requests_recycles_a_worker_without_failing_requests() {
    let p = master(&["--workers", "1", "--max-requests", "5"]);
    let first = workers(&p, 1);
    for _ in 0..30 {
        assert_eq!(get(p.addr, "/").status, 200);
    }
    assert!(common::eventually(|| {
        let now = children(p.child.id());
        now.len() == 1 && now.is_disjoint(&first)
    }));
    assert!(p.output_text().contains("retiring after"));
}

#[test]
fn unix_socket_bind() {
    let dir = temp_dir("unix");
    let path = dir.join("may.sock");
    let bind = format!("unix:{}", path.display());
    let mut child = Command::new(BIN)
        .args(["--bind", &bind, "--workers", "1", "--no-access-log"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answer = common::eventually(|| {
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(&path) else {
            return false;
        };
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.write_all(b"GET /environ HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.starts_with("HTTP/1.1 200 OK") && out.contains(&format!("SERVER_NAME={}\n", path.display()))
    });
    signal(child.id(), libc::SIGTERM);
    child.wait().unwrap();
    assert!(answer);
    assert!(!path.exists(), "the socket file is removed at exit");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn systemd_socket_activation_and_ready_notification() {
    use std::os::unix::process::CommandExt;
    let dir = temp_dir("systemd");
    let notify_path = dir.join("notify");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    // systemd's protocol: the socket as fd 3, and LISTEN_PID naming the process itself,
    // which only a shell exec can know in advance.
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!("LISTEN_PID=$$ LISTEN_FDS=1 exec {BIN} --workers 1 --no-access-log --bind 127.0.0.1:1"),
    ])
    .env("NOTIFY_SOCKET", &notify_path)
    .stderr(std::process::Stdio::null());
    // Safety: between fork and exec only dup2, which is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(listener);
    let mut buf = [0u8; 64];
    let n = notify.recv(&mut buf).unwrap();
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    let r = get(addr, "/");
    signal(child.id(), libc::SIGTERM);
    child.wait().unwrap();
    assert_eq!(ready, "READY=1");
    assert_eq!(
        r.body, b"Hello World",
        "served on the socket systemd passed, not on port 1"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn quit_stops_at_once() {
    let mut p = master(&["--workers", "2"]);
    workers(&p, 2);
    let addr = p.addr;
    let in_flight = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.send(b"GET /sleep?seconds=60 HTTP/1.1\r\nHost: t\r\n\r\n");
        c.response_to("GET").is_ok()
    });
    std::thread::sleep(Duration::from_millis(300));
    signal(p.child.id(), libc::SIGQUIT);
    assert_eq!(wait_exit(&mut p), 0);
    assert!(
        !in_flight.join().unwrap(),
        "a quick stop does not wait for the 60 s request"
    );
    assert!(children(p.child.id()).is_empty());
}

fn reuse_port_workers_each_bind_and_every_connection_is_served() {
    let p = master(&["--workers", "2", "--reuse-port"]);
    workers(&p, 2);
    // Once the workers listen, every new connection must be answered: none may land on a
    // socket nobody accepts on.
    assert!(common::eventually(|| std::net::TcpStream::connect(p.addr).is_ok()));
    for _ in 0..40 {
        assert_eq!(get(p.addr, "/pid").status, 200);
    }
}

fn a_single_process_stops_on_term_and_int_and_shrugs_off_hup() {
    let dir = temp_dir("single");
    let pidfile = dir.join("single.pid");
    let pid_arg = pidfile.to_string_lossy().into_owned();
    for stop in [libc::SIGTERM, libc::SIGINT] {
        let mut p = master(&["--workers", "0", "--pid", &pid_arg]);
        assert!(children(p.child.id()).is_empty(), "no workers");
        signal(p.child.id(), libc::SIGHUP);
        assert!(common::eventually(|| p
            .output_text()
            .contains("reloading needs a master")));
        assert_eq!(get(p.addr, "/").status, 200, "still serving after HUP");
        signal(p.child.id(), stop);
        assert_eq!(wait_exit(&mut p), 0);
        assert!(!pidfile.exists(), "pidfile removed after signal {stop}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn a_worker_whose_request_overflowed_its_stack_is_replaced() {
    let p = master(&["--workers", "1"]);
    let before = workers(&p, 1);
    let mut c = Client::connect(p.addr);
    c.send(b"GET /recurse HTTP/1.1\r\nHost: t\r\n\r\n");
    assert!(c.response_to("GET").is_err(), "the connection is closed, not answered");
    assert!(common::eventually(|| {
        let now = children(p.child.id());
        now.len() == 1 && now.is_disjoint(&before)
    }));
    assert_eq!(get(p.addr, "/").status, 200);
    let log = p.output_text();
    match class() {
        // The coroutine is mourned and the worker retires (see server/crew.rs).
        WorkerClass::Coroutine => {
            assert!(log.contains("Error handling request GET /recurse HTTP/1.1"), "{log}");
            assert!(log.contains("retiring after losing a request coroutine"), "{log}");
        }
        // An OS thread's overflow ends the whole process, and the master respawns it.
        WorkerClass::Thread => assert!(log.contains("killed by signal 11; respawning"), "{log}"),
    }
}

both_classes!(
    a_worker_whose_request_overflowed_its_stack_is_replaced,
    n_workers_come_up_and_all_serve,
    a_killed_worker_is_replaced_and_the_others_never_fail,
    term_finishes_fifty_requests_in_flight_then_frees_the_port,
    hup_under_load_replaces_every_worker_and_no_request_fails,
    ttin_and_ttou_change_the_worker_count_but_never_below_one,
    usr1_reopens_the_access_log_after_it_was_moved,
    a_busy_port_that_frees_within_the_retry_window_is_taken,
    pidfile_is_written_refused_while_live_and_removed_at_exit,
    config_file_sets_what_flags_do_not_and_reports_errors_with_the_line,
    hup_with_a_broken_config_keeps_the_old_one_running,
    a_worker_that_cannot_boot_stops_the_master,
    workers_leave_when_the_master_is_gone,
    max_requests_recycles_a_worker_without_failing_requests,
    quit_stops_at_once,
    reuse_port_workers_each_bind_and_every_connection_is_served,
    a_single_process_stops_on_term_and_int_and_shrugs_off_hup,
);
