//! SQLite growth under steady churn, on a simulated clock: 50 feeds polled hourly, each
//! listing its latest 50 items, 1,000 new items a day in all (2% matching, sent in
//! hourly digests), and a prune at each simulated midnight, as the daemon does. Prints
//! the file size and row counts per day. A second mode measures the size of one million
//! items seen.
//!
//!     cargo bench -p feedwatch-benches --bench growth                  # 30 days, retention 90d
//!     cargo bench -p feedwatch-benches --bench growth -- --days 60 --retention-days 7
//!     cargo bench -p feedwatch-benches --bench growth -- --million

#[path = "store_items.rs"]
mod store_items;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use feedwatch::store::{SENT_RETENTION, Store};
use store_items::{commit, item, scratch, size_on_disk};

const FEEDS: u64 = 50;
const WINDOW: usize = 50;

struct Args {
    days: u64,
    per_day: u64,
    retention_days: u64,
    million: bool,
}

fn args() -> Args {
    let mut a = Args {
        days: 30,
        per_day: 1000,
        retention_days: 90,
        million: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        let mut num = || {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--days" => a.days = num(),
            "--per-day" => a.per_day = num(),
            "--retention-days" => a.retention_days = num(),
            "--million" => a.million = true,
            // `cargo bench` passes --bench; anything else is a mistake.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000 / 86_400 * 86_400, 0).unwrap_or_default()
}

fn main() {
    let a = args();
    if a.million {
        million();
    } else {
        simulate(&a);
    }
}

fn simulate(a: &Args) {
    let dir = scratch("growth");
    let db = dir.join("state.db");
    let mut store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let retention = Duration::from_secs(a.retention_days * 86_400);
    let mut windows: Vec<VecDeque<u64>> = vec![VecDeque::new(); FEEDS as usize];
    let mut next_item = 0u64;
    let started = Instant::now();
    println!(
        "{} days, {} new items/day over {FEEDS} feeds polled hourly, retention {}d, sent digests kept {}d",
        a.days,
        a.per_day,
        a.retention_days,
        SENT_RETENTION.as_secs() / 86_400
    );
    println!(
        "day | items seen | size MiB | seen rows | items rows | outbox | digests | pruned seen"
    );
    for day in 0..a.days {
        for hour in 0..24u64 {
            let h = day * 24 + hour;
            let now = t0() + chrono::Duration::hours(h as i64);
            // Spread the day's items evenly over its hours.
            let due = (h + 1) * a.per_day / 24;
            let fresh_from = next_item;
            while next_item < due {
                let w = &mut windows[(next_item % FEEDS) as usize];
                w.push_front(next_item);
                w.truncate(WINDOW);
                next_item += 1;
            }
            for (f, w) in windows.iter().enumerate() {
                let feed = format!("feed{f}");
                let items = w.iter().map(|&n| (n, item(&feed, n, now))).collect();
                let c = commit(&feed, now, items, &|n| n >= fresh_from);
                store.commit_poll(&c).unwrap_or_else(|e| panic!("{e}"));
            }
            for id in store
                .assemble_digests("hook", 100, now)
                .unwrap_or_else(|e| panic!("{e}"))
            {
                store.mark_sent(&id, now).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let midnight = t0() + chrono::Duration::days(day as i64 + 1);
        let stats = store
            .prune(midnight, retention, SENT_RETENTION)
            .unwrap_or_else(|e| panic!("{e}"));
        let rows = store.size_stats().unwrap_or_else(|e| panic!("{e}"));
        println!(
            "{:>3} | {:>10} | {:>8.2} | {:>9} | {:>10} | {:>6} | {:>7} | {:>6}",
            day + 1,
            next_item,
            size_on_disk(&db) as f64 / (1024.0 * 1024.0),
            rows.seen,
            rows.items,
            rows.outbox,
            rows.digests,
            stats.seen
        );
    }
    println!("simulated in {:.1?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// One million items seen, 50 per commit over 100 feeds, 2% matching (no prune).
fn million() {
    let dir = scratch("million");
    let db = dir.join("state.db");
    let mut store = Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let total = 1_000_000u64;
    for batch in 0..total / 50 {
        let feed = format!("feed{}", batch % 100);
        let now = t0() + chrono::Duration::seconds(batch as i64);
        let items = (batch * 50..batch * 50 + 50)
            .map(|n| (n, item(&feed, n, now)))
            .collect();
        store
            .commit_poll(&commit(&feed, now, items, &|_| true))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let took = started.elapsed();
    // A prune with nothing to remove still checkpoints the WAL into the file.
    store
        .prune(t0(), Duration::from_secs(3650 * 86_400), SENT_RETENTION)
        .unwrap_or_else(|e| panic!("{e}"));
    let size = size_on_disk(&db);
    let rows = store.size_stats().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "1,000,000 items seen ({} matched, in the outbox): {:.1} MiB on disk, {} bytes per item; \
         inserted in {took:.1?} ({:.0} items/s)",
        rows.outbox,
        size as f64 / (1024.0 * 1024.0),
        size / total,
        total as f64 / took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
