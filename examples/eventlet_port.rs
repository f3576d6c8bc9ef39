//! eventlet producers and consumers, translated line by line with `may_wsgi::eventlet`:
//! a bounded `Queue`, `spawn` and `wait`, an `Event`, a `Semaphore`, `sleep` and a
//! `Timeout`. The Python original (`examples/ports/eventlet_port.py`) and the mapping are in
//! docs/porting.md ("Worked example"). The Python is 38 lines of code, this 50 (not blank,
//! not only a comment: "Three ports, measured" in the same page). Run:
//! `cargo run --example eventlet_port`; it prints `produced 30, handled 30: a0 .. c9` and
//! `report timed out`, as the Python does.

use std::sync::LazyLock;
use std::time::Duration;

use may_wsgi::eventlet::{self, Event, Queue, Semaphore, Timeout};

// bounded: a producer waits while four jobs wait
static JOBS: LazyLock<Queue<(char, u32)>> = LazyLock::new(|| Queue::new(4));
// sent once every producer is done
static FINISHED: LazyLock<Event<u32>> = LazyLock::new(Event::new);
// at most two "database calls" at once
static DB: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

fn producer(name: char, count: u32) -> u32 {
    for i in 0..count {
        JOBS.put((name, i));
        eventlet::sleep(Duration::from_millis(1));
    }
    count
}

fn consumer() -> Vec<String> {
    let mut handled = Vec::new();
    loop {
        let Ok((name, i)) = JOBS.get_timeout(Duration::from_millis(50)) else {
            // Empty
            if FINISHED.ready() && JOBS.empty() {
                return handled;
            }
            continue;
        };
        {
            let _db = DB.acquire();
            eventlet::sleep(Duration::from_millis(2)); // the slow call
        }
        handled.push(format!("{name}{i}"));
    }
}

fn slow_report() -> &'static str {
    eventlet::sleep(Duration::from_secs(10));
    "report"
}

fn main() {
    let producers: Vec<_> = "abc"
        .chars()
        .map(|name| eventlet::spawn(move || producer(name, 10)))
        .collect();
    let consumers: Vec<_> = (0..3).map(|_| eventlet::spawn(consumer)).collect();
    let produced: u32 = producers.into_iter().map(|p| p.wait()).sum();
    FINISHED.send(produced).expect("sent once");
    let mut handled: Vec<String> = consumers.into_iter().flat_map(|c| c.wait()).collect();
    handled.sort();
    let (first, last) = (&handled[0], &handled[handled.len() - 1]);
    println!("produced {produced}, handled {}: {first} .. {last}", handled.len());

    match Timeout::new(Duration::from_millis(100)).run(slow_report) {
        Ok(report) => println!("{report}"),
        Err(_timeout) => println!("report timed out"),
    }
}
