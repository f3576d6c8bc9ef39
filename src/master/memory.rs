//! A worker's resident memory, for `--max-worker-memory`: read from `/proc/self/statm`
//! (Linux), whose second field is the resident set in pages. The worker's loop in
//! `master/mod.rs` reads it once a second and retires the worker, as `--max-requests`
//! does, once it passes the limit: a leak in an application (or a library under it) then
//! costs a graceful restart of one worker, not the machine's memory.

/// The resident set size of this process in bytes; `None` where /proc cannot say.
pub(crate) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    resident_of(&statm, page_size())
}

/// The resident bytes a `statm` line gives (`size resident shared text lib data dt`).
fn resident_of(statm: &str, page: u64) -> Option<u64> {
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page)
}

fn page_size() -> u64 {
    // Safety: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().filter(|&p| p > 0).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statm_gives_the_resident_pages() {
        assert_eq!(resident_of("2580 612 430 1 0 161 0\n", 4096), Some(612 * 4096));
        assert_eq!(resident_of("", 4096), None);
        assert_eq!(resident_of("12 x", 4096), None);
    }

    #[test]
    fn this_process_has_a_resident_set_that_grows_with_what_it_touches() {
        let before = resident_bytes().expect("Linux has /proc/self/statm");
        assert!(before > 0);
        // 64 MiB, every page written: the resident set grows by about as much.
        // (black_box: an optimised build would not make a vector nobody reads.)
        let touched = std::hint::black_box(vec![1u8; 64 << 20]);
        let after = resident_bytes().unwrap();
        assert!(after >= before + (32 << 20), "{before} -> {after}");
        drop(touched);
    }
}
