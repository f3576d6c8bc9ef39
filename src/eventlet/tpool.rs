//! eventlet.tpool: `execute(f)`, which runs blocking work (a C library call, a slow disk,
//! a host-name lookup) on a pool of OS threads while the green thread that asked waits
//! parked, so the scheduler thread it came from goes on running the others.
//!
//! The pool has `EVENTLET_THREADPOOL_SIZE` threads (eventlet's variable; 20 by default),
//! started on first use. Jobs reach them through a may channel, and each answer comes back
//! through a may channel of its own, so the asking side parks as a green thread should
//! and the pool threads block as OS threads may.

use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use may::sync::mpmc;
use may::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// The pool's job queue, its threads started with it.
fn jobs() -> &'static mpmc::Sender<Job> {
    static JOBS: OnceLock<mpmc::Sender<Job>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let size = std::env::var("EVENTLET_THREADPOOL_SIZE")
            .ok()
            .and_then(|n| n.parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(20);
        let (tx, rx) = mpmc::channel::<Job>();
        for n in 0..size {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("tpool-{n}"))
                .spawn(move || {
                    // A plain OS thread: this recv blocks it, which is what it is for.
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .expect("cannot start a tpool thread");
        }
        tx
    })
}

/// eventlet's `tpool.execute(func, *args)`: runs `f` on a pool thread and returns its
/// value; the calling green thread waits parked. A panic in `f` is raised again here.
/// Called from a plain OS thread, it runs `f` right there (that thread may block).
///
/// If the calling green thread is killed while it waits, `f` still runs to its end on
/// the pool thread (an OS thread cannot be interrupted); its value is dropped.
pub fn execute<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if !may::coroutine::is_coroutine() {
        return f();
    }
    let (tx, rx) = mpsc::channel();
    let job: Job = Box::new(move || {
        // The asker may be gone (killed); its answer is then dropped.
        let _ = tx.send(panic::catch_unwind(AssertUnwindSafe(f)));
    });
    if jobs().send(job).is_err() {
        unreachable!("the pool threads never stop");
    }
    match rx.recv() {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => panic::resume_unwind(panic),
        Err(_) => unreachable!("a pool thread always answers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eventlet::spawn;
    use std::time::Duration;

    #[test]
    fn blocking_work_runs_off_the_scheduler() {
        let gt = spawn(|| {
            execute(|| {
                // std::thread::sleep is fine here: this is a pool thread.
                std::thread::sleep(Duration::from_millis(5));
                std::thread::current().name().map(str::to_owned)
            })
        });
        let name = gt.wait().expect("pool threads are named");
        assert!(name.starts_with("tpool-"), "ran on {name}");
    }

    #[test]
    fn many_at_once_and_panics_come_back() {
        let threads: Vec<_> = (0..30u64).map(|i| spawn(move || execute(move || i * 2))).collect();
        let sum: u64 = threads.into_iter().map(|t| t.wait()).sum();
        assert_eq!(sum, (0..30u64).map(|i| i * 2).sum::<u64>());
        let gt = spawn(|| execute(|| -> u8 { panic!("in the pool") }));
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| gt.wait())).unwrap_err();
        assert_eq!(caught.downcast_ref::<&str>(), Some(&"in the pool"));
    }

    #[test]
    fn from_a_plain_thread_it_runs_in_place() {
        let here = std::thread::current().id();
        assert!(execute(move || std::thread::current().id() == here));
    }
}
