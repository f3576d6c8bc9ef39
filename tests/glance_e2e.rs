//! examples/glance_api end to end, judged by a real client: python-glanceclient 4.13.0 (its
//! `glance` CLI and its Python API) plus raw http.client checks, in
//! examples/glance_api/e2e/scenario.py. This test only finds the two programs, the example's
//! binary (built for this profile first: a no-op after `cargo test --all-targets`) and a
//! virtualenv's Python with glanceclient, and runs the scenario, which starts the port with
//! `--workers 2` on port 0 and a temporary data dir, stops it, restarts it and kills it on
//! that dir. Every expectation there comes from /work/shared/glance-images-v2.md, observed on
//! a real Glance 33.0.0.
//!
//! The virtualenv is `$GLANCE_VENV`, else the project's `.ci/venv`; `.ci/glance-venv` installs
//! the client there (`.ci/deps`, which `make test` runs, calls it). Without it the test fails, saying so: glanceclient is
//! what this test is about, so it must not pass without it (as tests/ports.rs does).
#![cfg(feature = "json")]

mod common;

use common::example;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The whole scenario takes well under a minute on a quiet machine; this bound is for a
/// hang, never for speed.
const LIMIT: Duration = Duration::from_secs(600);

/// The virtualenv's Python, or a failure that says how to make it.
fn venv_python() -> PathBuf {
    let venv = std::env::var_os("GLANCE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists() && venv.join("bin/glance").exists(),
        "no python-glanceclient in the virtualenv {}: run `.ci/glance-venv` (or `.ci/deps`, which `make test` runs), or set \
         GLANCE_VENV to one that has `pip install python-glanceclient==4.13.0`",
        venv.display()
    );
    python
}

#[test]
fn glanceclient_cli_api_and_wire_against_the_port() {
    let python = venv_python();
    let binary = example("glance_api");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/glance_api/e2e/scenario.py");
    // CI sizes: an 8 MiB CLI upload and 4 x 32 MiB at once; tens of MiB, not GiB.
    let mut child = Command::new(&python)
        .arg(&scenario)
        .arg("--server")
        .arg(&binary)
        .args(["--workers", "2", "--mib", "8", "--concurrent-mib", "32"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut readers = Vec::new();
    for mut pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        readers.push(std::thread::spawn(move || {
            let mut out = String::new();
            let _ = pipe.read_to_string(&mut out);
            out
        }));
    }
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > LIMIT {
            // SIGTERM first: the scenario then stops the server it started before it exits.
            // Safety: kill(2) on a process this test started.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            std::thread::sleep(Duration::from_secs(5));
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output: Vec<String> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let (stdout, stderr) = (&output[0], &output[1]);
    match status {
        Some(s) if s.success() => {
            assert!(
                stdout.contains(" passed, 0 failed"),
                "the scenario exited 0 without its summary:\n{stdout}\n{stderr}"
            );
        }
        Some(s) => panic!("the glanceclient scenario failed ({s}):\n{stdout}\n--- stderr ---\n{stderr}"),
        None => panic!("the glanceclient scenario did not finish in {LIMIT:?}:\n{stdout}\n--- stderr ---\n{stderr}"),
    }
}
