//! The crew: every request worker of a server, watched so that one that dies without
//! finishing (a coroutine whose stack overflowed, a panic outside the application) never
//! hangs a client or loses a place in the pool.
//!
//! A stackful coroutine has a fixed stack. Application code that recurses too deep (a
//! request whose JSON nests a few hundred levels, say) runs into the guard page below it;
//! may's generator catches the fault and ends the coroutine on the spot, without unwinding:
//! nothing of its frames is dropped, so the client's socket, the pool place and the
//! connection's entry in the waiting room would stay taken for ever, and a graceful stop
//! would wait its whole timeout.
//!
//! So each request coroutine keeps a [`Note`] of what it is doing (the connection's fd and
//! place, the request line), and the sweeper calls [`Crew::check`] every tick: a coroutine
//! that ended without saying so is mourned here. The client's socket is shut (it sees the
//! connection close at once; the fd itself stays with the abandoned frames), the request is
//! named in the error log, the waiting room and the pool get their places back, and the
//! server asks to be retired: a worker process is replaced by its master, a single process
//! goes on serving and says what leaked.
//!
//! The overflow half is the coroutine class's alone: an OS thread that overflows its stack
//! ends the whole process (Rust's guard-page handler aborts), and the master replaces the
//! worker. A request thread that panics is mourned here like a coroutine.

use std::any::Any;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::waiting_room::Token;

/// What a request coroutine is doing, as far as the crew must know to clean up after it.
#[derive(Default)]
pub(crate) struct Note {
    current: Mutex<Option<Current>>,
    /// The request line being served: where the environ keeps it. Two stores per request
    /// instead of a copy; read only once the coroutine died of an overflow, when its frames
    /// (and the environ's heap memory they own) are abandoned for good, never freed.
    line: AtomicPtr<u8>,
    line_len: AtomicUsize,
    /// The coroutine ended as it should (its place given back already).
    ended: AtomicBool,
}

/// The connection a request coroutine serves.
pub(crate) struct Current {
    pub room: usize,
    pub token: Token,
    pub fd: RawFd,
    /// The request line being served, for the error log (filled in by the crew).
    pub request: String,
}

impl Note {
    fn lock(&self) -> MutexGuard<'_, Option<Current>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serving a connection now.
    pub fn connection(&self, room: usize, token: Token, fd: RawFd) {
        *self.lock() = Some(Current {
            room,
            token,
            fd,
            request: String::new(),
        });
    }

    /// Serving this request; `line` must stay where it is until the next call (the
    /// environ's copy of the head does).
    pub fn request(&self, line: &[u8]) {
        self.line_len.store(line.len(), Ordering::Relaxed);
        self.line.store(line.as_ptr().cast_mut(), Ordering::Release);
    }

    /// Between requests: the environ that held the last line may now serve another
    /// coroutine's request.
    pub fn between_requests(&self) {
        self.line.store(std::ptr::null_mut(), Ordering::Release);
    }

    /// The connection went home or closed.
    pub fn idle(&self) {
        self.between_requests();
        *self.lock() = None;
    }

    /// The request line of a coroutine that overflowed.
    fn abandoned_request(&self) -> String {
        let ptr = self.line.load(Ordering::Acquire);
        if ptr.is_null() {
            return "-".to_owned();
        }
        // Safety: the coroutine is dead without having unwound: the environ that owns
        // these bytes is never dropped, so they stay valid (see the field's comment).
        let line = unsafe { std::slice::from_raw_parts(ptr, self.line_len.load(Ordering::Relaxed)) };
        String::from_utf8_lossy(line).into_owned()
    }

    /// The coroutine is ending normally.
    pub fn ended(&self) {
        self.ended.store(true, Ordering::Release);
    }
}

/// How a request coroutine died.
pub(crate) enum Death {
    /// Its stack overflowed: its frames were abandoned, nothing of them dropped.
    Overflow,
    /// A panic outside the application's own (which is caught per request): its frames
    /// were unwound, so the socket is already closed.
    Panic(String),
}

/// A request coroutine that died: what it was serving, and how.
pub(crate) struct Casualty {
    pub current: Option<Current>,
    pub death: Death,
}

/// A request worker as the crew holds it: a coroutine's handle or a thread's.
pub(crate) enum Member {
    Coroutine(may::coroutine::JoinHandle<()>),
    Thread(std::thread::JoinHandle<()>),
}

impl Member {
    fn is_done(&self) -> bool {
        match self {
            Member::Coroutine(h) => h.is_done(),
            Member::Thread(h) => h.is_finished(),
        }
    }

    fn join(self) -> Result<(), Box<dyn Any + Send>> {
        match self {
            Member::Coroutine(h) => h.join(),
            Member::Thread(h) => h.join(),
        }
    }
}

/// Every request worker of one server.
#[derive(Default)]
pub(crate) struct Crew {
    members: Mutex<Vec<(Member, Arc<Note>)>>,
}

impl Crew {
    pub fn enlist(&self, handle: Member, note: Arc<Note>) {
        self.members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((handle, note));
    }

    /// Forgets the coroutines that ended, and returns those that died.
    pub fn check(&self) -> Vec<Casualty> {
        let finished: Vec<_> = {
            let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
            let (done, alive): (Vec<_>, Vec<_>) = members.drain(..).partition(|(h, _)| h.is_done());
            *members = alive;
            done
        };
        let mut dead = Vec::new();
        for (handle, note) in finished {
            if note.ended.load(Ordering::Acquire) {
                continue;
            }
            let death = match handle.join() {
                Err(payload) => death_of(payload.as_ref()),
                Ok(()) => Death::Panic("ended without giving its place back".to_owned()),
            };
            let mut current = note.lock().take();
            if let (Some(c), Death::Overflow) = (current.as_mut(), &death) {
                c.request = note.abandoned_request();
            }
            dead.push(Casualty { current, death });
        }
        dead
    }
}

/// A panic carries text; an overflow carries the generator's own error value.
fn death_of(payload: &(dyn Any + Send)) -> Death {
    if let Some(s) = payload.downcast_ref::<&str>() {
        Death::Panic((*s).to_owned())
    } else if let Some(s) = payload.downcast_ref::<String>() {
        Death::Panic(s.clone())
    } else {
        Death::Overflow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coroutine_that_ends_normally_is_not_mourned_and_one_that_panics_is() {
        let crew = Crew::default();
        for fail in [false, true] {
            let note = Arc::new(Note::default());
            let n = note.clone();
            // Safety (may's rule for spawn): the coroutine owns all it uses.
            let handle = unsafe {
                may::coroutine::spawn(move || {
                    n.connection(0, Token::new(7, 1), -1);
                    n.request(b"GET /x HTTP/1.1");
                    if fail {
                        panic!("boom");
                    }
                    n.idle();
                    n.ended();
                })
            };
            crew.enlist(Member::Coroutine(handle), note);
        }
        let mut dead = Vec::new();
        for _ in 0..500 {
            dead.extend(crew.check());
            if crew.members.lock().unwrap().is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(dead.len(), 1);
        // A panic unwound the frames: the connection is known, its request line is not read.
        assert!(dead[0].current.is_some(), "it was serving");
        assert!(matches!(&dead[0].death, Death::Panic(m) if m == "boom"));
    }
}
