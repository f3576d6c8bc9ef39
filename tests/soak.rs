//! The short soak in `make test`: benches/soak.py (the script behind `make soak`) for 20
//! seconds against the binary, with a HUP every 5 s and a worker killed every 8 s under
//! mixed load (hello, 1 MiB uploads and downloads checked, slow clients, idle keep-alive
//! connections). The script asserts what the soak promises (no request fails outside a
//! killed worker, no body changed, RSS and descriptors flat, no zombie, a clean TERM) and
//! exits 1 when anything does not hold; this test passes its report on. Once per worker
//! class.

#[macro_use]
mod common;

use std::process::Command;

fn a_short_soak_holds_its_invariants() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/soak.py");
    let (code, out, err) = common::run_command(
        Command::new("python3").args([
            script,
            "--binary",
            env!("CARGO_BIN_EXE_may-wsgi"),
            "--seconds",
            "20",
            "--hup-every",
            "5",
            "--kill-every",
            "8",
            "--warm-up",
            "3",
            "--scale",
            "1",
            "--worker-class",
            common::class().name(),
        ]),
        None,
    );
    let report = String::from_utf8_lossy(&out);
    eprintln!("{report}{err}");
    assert_eq!(code, 0, "the soak failed:\n{report}{err}");
    assert!(report.contains("soak: passed"));
}

both_classes!(a_short_soak_holds_its_invariants);
