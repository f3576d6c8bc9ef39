//! Two costs the coroutine and thread models differ by, measured on this machine: a switch
//! from one worker to another, and a parked worker's memory. The numbers quoted in
//! `docs/coroutines-vs-threads.md` come from here.
//!
//! ```text
//! cargo run --release --example pingpong            # 200,000 round trips, 2,000 workers
//! cargo run --release --example pingpong 1000 100   # quick
//! ```
//!
//! 1. **Ping-pong.** Two workers hand a token back and forth over a channel: each hand-over
//!    wakes the other and puts itself to sleep, a context switch. Two may coroutines on one
//!    scheduler thread switch in user space (registers saved and restored, no system call);
//!    two OS threads switch through the kernel (a futex wake, a futex wait, the scheduler).
//!    The Python of the same, for comparison:
//!
//! ```python
//! # eventlet: two green threads, one OS thread; the hub switches greenlets
//! import eventlet; from eventlet.queue import LightQueue
//! a, b = LightQueue(1), LightQueue(1)
//! def pong():
//!     for _ in range(N): b.put(a.get())
//! eventlet.spawn(pong)
//! for i in range(N): a.put(i); b.get()
//!
//! # threading: two OS threads; the kernel switches them (and the GIL changes hands)
//! import threading, queue
//! a, b = queue.Queue(1), queue.Queue(1)
//! threading.Thread(target=lambda: [b.put(a.get()) for _ in range(N)]).start()
//! for i in range(N): a.put(i); b.get()
//! ```
//!
//! 2. **A parked worker.** Start many workers that each wait on a channel, and read the
//!    process's resident memory (VmRSS) and address space (VmSize) before and after: a
//!    coroutine with the server's stack size (128 KiB) against a thread with the thread
//!    class's (2 MiB). Only the pages a stack touches are resident; the rest is reserved
//!    address space.
//!
//! Hands on nothing: it prints its figures and exits.

use std::time::{Duration, Instant};

/// One line of /proc/self/status, in KiB.
fn status_kib(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn per_switch(elapsed: Duration, rounds: u64) -> f64 {
    // A round trip is two hand-overs, each a switch.
    elapsed.as_nanos() as f64 / (2 * rounds) as f64
}

/// Two coroutines on one scheduler thread, a token back and forth.
fn coroutine_pingpong(rounds: u64) -> f64 {
    let (to_pong, from_ping) = may::sync::mpsc::channel::<u64>();
    let (to_ping, from_pong) = may::sync::mpsc::channel::<u64>();
    let started = Instant::now();
    // Safety (may's rule for spawn): each coroutine owns what it uses.
    let pong = unsafe {
        may::coroutine::spawn(move || {
            for _ in 0..rounds {
                let token = from_ping.recv().expect("ping is there");
                to_ping.send(token + 1).expect("ping is there");
            }
        })
    };
    let ping = unsafe {
        may::coroutine::spawn(move || {
            for i in 0..rounds {
                to_pong.send(i).expect("pong is there");
                from_pong.recv().expect("pong is there");
            }
        })
    };
    ping.join().expect("ping ends");
    pong.join().expect("pong ends");
    per_switch(started.elapsed(), rounds)
}

/// Two OS threads, the same token.
fn thread_pingpong(rounds: u64) -> f64 {
    let (to_pong, from_ping) = std::sync::mpsc::channel::<u64>();
    let (to_ping, from_pong) = std::sync::mpsc::channel::<u64>();
    let started = Instant::now();
    let pong = std::thread::spawn(move || {
        for _ in 0..rounds {
            let token = from_ping.recv().expect("ping is there");
            to_ping.send(token + 1).expect("ping is there");
        }
    });
    for i in 0..rounds {
        to_pong.send(i).expect("pong is there");
        from_pong.recv().expect("pong is there");
    }
    pong.join().expect("pong ends");
    per_switch(started.elapsed(), rounds)
}

/// What `workers` parked coroutines cost: (resident KiB, address space KiB, start µs) each.
fn parked_coroutines(workers: usize) -> (f64, f64, f64) {
    let (rss, vm) = (status_kib("VmRSS:"), status_kib("VmSize:"));
    let (release, wait) = may::sync::mpsc::channel::<()>();
    let wait = std::sync::Arc::new(may::sync::Mutex::new(wait));
    let (ready, all_ready) = may::sync::mpsc::channel::<()>();
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (wait, ready) = (wait.clone(), ready.clone());
            // Safety (may's rule for spawn): the coroutine owns what it uses.
            unsafe {
                may::coroutine::spawn(move || {
                    ready.send(()).expect("main is there");
                    let _ = wait.lock().expect("not poisoned").recv();
                })
            }
        })
        .collect();
    for _ in 0..workers {
        all_ready.recv().expect("a worker is there");
    }
    let start = started.elapsed().as_secs_f64() * 1e6 / workers as f64;
    let each = |now: u64, before: u64| now.saturating_sub(before) as f64 / workers as f64;
    let cost = (each(status_kib("VmRSS:"), rss), each(status_kib("VmSize:"), vm), start);
    drop(release);
    for h in handles {
        let _ = h.join();
    }
    cost
}

/// The same for OS threads with the thread class's stack.
fn parked_threads(workers: usize, stack: usize) -> (f64, f64, f64) {
    let (rss, vm) = (status_kib("VmRSS:"), status_kib("VmSize:"));
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Arc::new(std::sync::Mutex::new(wait));
    let (ready, all_ready) = std::sync::mpsc::channel::<()>();
    let started = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let (wait, ready) = (wait.clone(), ready.clone());
            std::thread::Builder::new()
                .stack_size(stack)
                .spawn(move || {
                    ready.send(()).expect("main is there");
                    let _ = wait.lock().expect("not poisoned").recv();
                })
                .expect("a thread starts")
        })
        .collect();
    for _ in 0..workers {
        all_ready.recv().expect("a worker is there");
    }
    let start = started.elapsed().as_secs_f64() * 1e6 / workers as f64;
    let each = |now: u64, before: u64| now.saturating_sub(before) as f64 / workers as f64;
    let cost = (each(status_kib("VmRSS:"), rss), each(status_kib("VmSize:"), vm), start);
    drop(release);
    for h in handles {
        let _ = h.join();
    }
    cost
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let workers: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2_000);
    // The server's own may settings, with one scheduler thread: both coroutines on it.
    may_wsgi::cli::configure_may(1, false);

    let co = coroutine_pingpong(rounds);
    let th = thread_pingpong(rounds);
    println!("switch, coroutine (may, one scheduler thread): {co:.0} ns");
    println!(
        "switch, OS thread (std, kernel futex):          {th:.0} ns ({:.1}x)",
        th / co
    );

    let (co_rss, co_vm, co_start) = parked_coroutines(workers);
    let (th_rss, th_vm, th_start) = parked_threads(workers, 2 * 1024 * 1024);
    println!(
        "parked coroutine, 128 KiB stack: {co_rss:.1} KiB resident, {co_vm:.0} KiB address space, {co_start:.1} us to start ({workers} of them)"
    );
    println!(
        "parked OS thread, 2 MiB stack:   {th_rss:.1} KiB resident, {th_vm:.0} KiB address space, {th_start:.1} us to start ({workers} of them)"
    );
}
