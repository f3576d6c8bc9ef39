//! Keeps a request coroutine's stack overflow from ending the whole process.
//!
//! may's generator puts a guard page below every coroutine stack; when application code
//! recurses into it, the generator's SIGSEGV handler ends the coroutine on the spot (see
//! `crew.rs` for what the server then cleans up). But as may drops the dead coroutine it
//! measures how much of the stack was used, from sentinel words the generator wrote at the
//! bottom, and a stack used to its last word makes may call `process::exit(1)`. Whether the
//! overflowing frames happened to write over those words before touching the guard page is
//! chance: sometimes the process lives, sometimes it is gone, with every request in it.
//!
//! So the server puts its own handler in front of the generator's. On a fault just below
//! the bottom of a request coroutine's stack (the guard page), it writes the sentinel back
//! at the bottom (those words belong to frames that will never run again), then hands the
//! fault on to the generator's handler, which ends the coroutine as before. may then finds
//! the stack not quite full and lets the process live. Any other fault goes straight to
//! the handler that was there before, as if this one did not exist.
//!
//! This leans on two facts of generator 0.8 (the version may 0.3 uses): the sentinel is the
//! word `0xDEAD_BEEF` at the lowest address of the usable stack, and the guard page lies
//! directly below it. Request coroutines are spawned with a stack size of their own
//! ([`worker_stack_words`]), so may never caches and reuses a stack that overflowed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// generator's marker of an untouched stack word.
const STACK_SENTINEL: usize = 0xDEAD_BEEF;
/// How far (in pages) the estimated bottom of a stack may be from the real one.
const SLACK_PAGES: usize = 4;
/// Request coroutines watched at once; more simply go unwatched.
const SLOTS: usize = 4096;

/// The estimated bottoms of the live request coroutines' stacks (0: a free slot).
static BOTTOMS: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
/// The handler that was installed before ours (the generator's), to pass faults on to.
static PREVIOUS: Mutex<Option<libc::sigaction>> = Mutex::new(None);
static INSTALL: Once = Once::new();

/// The stack size, in words, for request coroutines of `bytes`: never equal to may's
/// configured size, so that a finished request coroutine is freed, not cached.
pub(crate) fn worker_stack_words(bytes: usize) -> usize {
    let words = bytes.max(16 * 1024) / std::mem::size_of::<usize>();
    // An even size keeps the generator's cheap usage sampling (odd asks for full tracking).
    let words = words + 2;
    if words == may::config().get_stack_size() {
        words + 2
    } else {
        words
    }
}

/// The page size, read once at install: the fault handler must not call sysconf, which is
/// not async-signal-safe.
static PAGE: AtomicUsize = AtomicUsize::new(4096);

fn page_size() -> usize {
    PAGE.load(Ordering::Relaxed)
}

/// A request coroutine's stack, watched while the guard is alive.
pub(crate) struct Guard {
    slot: Option<usize>,
}

impl Guard {
    /// Watches the calling coroutine's stack, of `words` words. Call it first thing in the
    /// coroutine: the stack's top is then just above the caller's frame.
    pub fn watch(words: usize) -> Guard {
        INSTALL.call_once(install);
        let page = page_size();
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        // The top of the mapping is the next page boundary above us (give or take the
        // spawn closure stored at the top); the usable stack is `words` below it.
        let top = (here + page) & !(page - 1);
        let bottom = top.saturating_sub(words * std::mem::size_of::<usize>());
        let slot = BOTTOMS.iter().position(|s| {
            s.compare_exchange(0, bottom, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        });
        Guard { slot }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            BOTTOMS[slot].store(0, Ordering::Release);
        }
    }
}

fn install() {
    // Safety: sysconf is a plain query.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    PAGE.store(usize::try_from(size).unwrap_or(4096), Ordering::Relaxed);
    // Safety: sigaction with a zeroed struct we fill in; the old action is kept.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGSEGV, &action, &mut old) == 0 {
            *PREVIOUS.lock().unwrap_or_else(|e| e.into_inner()) = Some(old);
        }
    }
}

/// The bottom of the request coroutine stack whose guard page holds `addr`, if any.
fn guarded_bottom(addr: usize) -> Option<usize> {
    let page = page_size();
    let slack = SLACK_PAGES * page;
    let hit = BOTTOMS.iter().any(|s| {
        let bottom = s.load(Ordering::Acquire);
        bottom != 0 && addr + slack >= bottom && addr < bottom + slack
    });
    // A fault in the guard page: the usable stack starts at the next page boundary.
    hit.then(|| (addr & !(page - 1)) + page)
}

extern "C" fn on_fault(signum: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // Safety: the kernel hands a valid siginfo for SIGSEGV.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some(bottom) = guarded_bottom(addr) {
        // Safety: `bottom` is the lowest word of the faulting coroutine's usable stack,
        // mapped and writable; the frames that used it will never run again.
        unsafe { (bottom as *mut usize).write_volatile(STACK_SENTINEL) };
    }
    // Hand the fault on. The lock is only ever taken at install time, before any fault of
    // ours; try_lock keeps a signal handler from waiting.
    let previous = PREVIOUS.try_lock().ok().and_then(|p| *p);
    // Safety: calling or restoring the handler that was installed before ours.
    unsafe {
        match previous {
            Some(old) if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN => {
                if old.sa_flags & libc::SA_SIGINFO != 0 {
                    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(old.sa_sigaction);
                    handler(signum, info, ctx);
                } else {
                    let handler: extern "C" fn(libc::c_int) = std::mem::transmute(old.sa_sigaction);
                    handler(signum);
                }
            }
            _ => {
                // No one else wanted it: the default action, when the fault repeats.
                libc::signal(signum, libc::SIG_DFL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_stacks_never_take_may_s_size() {
        for bytes in [16 * 1024, 64 * 1024, 128 * 1024, 1 << 20] {
            let words = worker_stack_words(bytes);
            assert_ne!(words, may::config().get_stack_size());
            assert_eq!(words % 2, 0, "even: sampled, not fully tracked");
            assert!(words * 8 >= bytes);
        }
    }

    #[test]
    fn only_faults_next_to_a_watched_bottom_are_ours() {
        let page = page_size();
        let bottom = 0x7000_0000_0000usize;
        let slot = BOTTOMS
            .iter()
            .position(|s| {
                s.compare_exchange(0, bottom, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })
            .unwrap();
        assert_eq!(guarded_bottom(bottom - 8), Some(bottom));
        assert_eq!(guarded_bottom(bottom - page + 1), Some(bottom));
        assert_eq!(guarded_bottom(bottom + 100 * page), None);
        assert_eq!(guarded_bottom(0x1000), None);
        BOTTOMS[slot].store(0, Ordering::Release);
    }
}
