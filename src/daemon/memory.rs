//! Memory at rest: what the daemon does so that, between poll cycles, it holds little more
//! than its code and its configuration (issue 6: idle RSS ≤ 20 MB with 100 feeds).
//!
//! Two things keep freed memory resident in a long-running process on glibc. Each thread
//! that allocates while another holds the main arena gets an arena of its own (up to eight
//! per core), and the arenas outlive the threads. And free chunks inside an arena go back
//! to the kernel only when they sit at its very top. So the daemon bounds its threads
//! (tokio's blocking pool, which parses feeds and reads the store, at
//! [`blocking_threads`]) and caps the arenas at one per thread ([`limit_arenas`]), and
//! when it is about to sleep it empties SQLite's page cache and asks malloc to return
//! every free page ([`release_free_memory`]). Elsewhere (musl, other systems) the
//! allocator calls are no-ops.
//!
//! One arena per thread, not fewer: threads that share an arena take turns at its lock
//! on every allocation that misses the per-thread cache, and the store's writer thread,
//! which every poll waits for, allocates on each statement. With two arenas for the
//! sixty-odd threads an unbounded pool grew to, the writer spent a third of a cold
//! cycle asleep on that lock.

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    /// `M_ARENA_MAX` from glibc's `<malloc.h>`.
    pub const M_ARENA_MAX: c_int = -8;

    unsafe extern "C" {
        pub fn mallopt(param: c_int, value: c_int) -> c_int;
        pub fn malloc_trim(pad: usize) -> c_int;
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The most threads the async runtime's blocking pool runs at once: one per core for
/// parsing and matching, one for each of the store's read connections (a poll's reads
/// wait for one), and two more, so that file reads, DNS lookups and writes to standard
/// output seldom queue behind those (the pool reserves nothing: its tasks are served
/// in order). More would only share the cores and hold more parsed feeds at once.
pub fn blocking_threads() -> usize {
    cores() + crate::pipeline::MAX_READERS + 2
}

/// Caps glibc's malloc arenas at one per thread the daemon runs (the runtime's workers,
/// its blocking pool, the main thread and the store's writer and checkpointer), unless
/// the operator chose a number with `MALLOC_ARENA_MAX`. Call before the runtime starts
/// its threads.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let threads = cores() + blocking_threads() + 3;
        let arenas = std::ffi::c_int::try_from(threads).unwrap_or(std::ffi::c_int::MAX);
        // SAFETY: mallopt only sets a tunable of glibc's allocator; M_ARENA_MAX takes any
        // positive value, and it is called before any other thread exists.
        let accepted = unsafe { glibc::mallopt(glibc::M_ARENA_MAX, arenas) };
        if accepted != 1 {
            tracing::debug!(arenas, "malloc did not accept M_ARENA_MAX");
        }
    }
}

/// Gives the allocator's free pages back to the kernel. Cheap (a walk over a few arenas'
/// free lists); the daemon calls it once each time it goes to sleep after polling.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes each arena's lock itself and may be called from any
        // thread at any time; pad 0 keeps nothing in reserve.
        unsafe {
            glibc::malloc_trim(0);
        }
    }
}

/// Empties SQLite's page cache, then trims the heap. The next cycle reads the pages it
/// needs again, from the OS page cache as a rule.
pub async fn release_free_memory(store: &crate::pipeline::StoreHandle) {
    if let Err(e) = store.call(|s| s.release_memory()).await {
        tracing::debug!(error = %e, "cannot release the state database's cache");
    }
    store.close_idle_readers();
    trim_heap();
}
