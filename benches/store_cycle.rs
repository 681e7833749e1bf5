//! A cold poll cycle: `--feeds` feeds (10,000 by default) each answering for the first
//! time with `--items` new items (60), one `commit_poll` per feed into an empty database,
//! 2% of the items matching. Prints wall and CPU time (user + system of this process,
//! from `/proc/self/stat`), because the shared machine makes wall time pessimistic.
//!
//!     cargo bench -p feedwatch-benches --bench store_cycle
//!     cargo bench -p feedwatch-benches --bench store_cycle -- --feeds 2000

#[path = "store_items.rs"]
mod store_items;

use std::time::Instant;

use chrono::{DateTime, Utc};
use feedwatch::store::Store;
use store_items::{commit, item, scratch, size_on_disk};

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let field = |n: usize| {
        rest.split_whitespace()
            .nth(n)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Clock ticks; 100 per second on every Linux configuration in use.
    (field(11) / 100.0, field(12) / 100.0)
}

fn main() {
    let (mut feeds, mut per_feed) = (10_000u64, 60u64);
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut num = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--feeds" => feeds = num(),
            "--items" => per_feed = num(),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let dir = scratch("cycle");
    let db = dir.join("state.db");
    let mut store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    // Built beforehand so that only the store's work is timed.
    let commits: Vec<_> = (0..feeds)
        .map(|f| {
            let feed = format!("feed{f:05}");
            let items = (0..per_feed)
                .map(|i| {
                    let n = f * per_feed + i;
                    (n, item(&feed, n, t0()))
                })
                .collect();
            commit(&feed, t0(), items, &|_| true)
        })
        .collect();
    let (u0, s0) = cpu_seconds();
    let started = Instant::now();
    for c in &commits {
        store.commit_poll(c).unwrap_or_else(|e| panic!("{e}"));
    }
    let wall = started.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let (user, sys) = (u1 - u0, s1 - s0);
    let total = (feeds * per_feed) as f64;
    println!(
        "{feeds} feeds x {per_feed} new items: {wall:.1} s wall ({:.0} items/s), \
         {:.1} s CPU ({user:.1} user, {sys:.1} system; {:.0} items/s of CPU), {:.1} MiB",
        total / wall,
        user + sys,
        total / (user + sys).max(0.01),
        size_on_disk(&db) as f64 / (1024.0 * 1024.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
