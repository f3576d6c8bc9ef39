//! eventlet producers and consumers, translated line by line with `may_wsgi::eventlet`:
//! a bounded `Queue`, `spawn` and `wait`, an `Event`, a `Semaphore`, `sleep` and a
//! `Timeout`. The Python original and the mapping are in docs/porting.md ("Worked
//! example"). Run: `cargo run --example eventlet_port`; it prints
//! `produced 30, handled 30: a0 .. c9` and `report timed out`, as the Python does.

use std::time::Duration;

use may_wsgi::eventlet::{self, queue::Empty, Event, Queue, Semaphore, Timeout};

type Job = (char, u32);

fn producer(jobs: Queue<Job>, name: char, count: u32) -> u32 {
    for i in 0..count {
        jobs.put((name, i));
        eventlet::sleep(Duration::from_millis(1));
    }
    count
}

fn consumer(jobs: Queue<Job>, finished: Event<u32>, db: Semaphore) -> Vec<String> {
    let mut handled = Vec::new();
    loop {
        let (name, i) = match jobs.get_timeout(Duration::from_millis(50)) {
            Ok(job) => job,
            Err(Empty) => {
                if finished.ready() && jobs.empty() {
                    return handled;
                }
                continue;
            }
        };
        {
            let _db = db.acquire();
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
    let jobs = Queue::new(4); // bounded: a producer waits while four jobs wait
    let finished = Event::new(); // sent once every producer is done
    let db = Semaphore::new(2); // at most two "database calls" at once

    let producers: Vec<_> = "abc"
        .chars()
        .map(|name| {
            let jobs = jobs.clone();
            eventlet::spawn(move || producer(jobs, name, 10))
        })
        .collect();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let (jobs, finished, db) = (jobs.clone(), finished.clone(), db.clone());
            eventlet::spawn(move || consumer(jobs, finished, db))
        })
        .collect();
    let produced: u32 = producers.into_iter().map(|p| p.wait()).sum();
    finished.send(produced).expect("sent once");
    let mut handled: Vec<String> = consumers.into_iter().flat_map(|c| c.wait()).collect();
    handled.sort();
    let (first, last) = (&handled[0], &handled[handled.len() - 1]);
    println!("produced {produced}, handled {}: {first} .. {last}", handled.len());

    match Timeout::new(Duration::from_millis(100)).run(slow_report) {
        Ok(report) => println!("{report}"),
        Err(_timeout) => println!("report timed out"),
    }
}
