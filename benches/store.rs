//! State-store throughput: items per second committed in one transaction per feed poll
//! (50 realistic items each), for new items (cold inserts, 2% matching into the outbox)
//! and for items the feed already showed (re-seen updates), plus the `unseen` check the
//! pipeline runs before matching.
//!
//!     cargo bench -p feedwatch-benches --bench store

#[path = "store_items.rs"]
mod store_items;

use chrono::{DateTime, Utc};
use divan::Bencher;
use divan::counter::ItemsCount;
use feedwatch::store::Store;
use store_items::{commit, item, scratch};

const PER_POLL: u64 = 50;
/// Items already in the database when a benchmark starts.
const PREFILL: u64 = 50_000;

fn main() {
    divan::main();
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
}

/// A database holding `PREFILL` items over 100 feeds.
fn prefilled(name: &str) -> Store {
    let dir = scratch(name);
    let mut store = Store::open(dir.join("state.db")).unwrap_or_else(|e| panic!("{e}"));
    for batch in 0..PREFILL / PER_POLL {
        let feed = format!("feed{}", batch % 100);
        let items = (0..PER_POLL)
            .map(|i| {
                let n = batch * PER_POLL + i;
                (n, item(&feed, n, t0()))
            })
            .collect();
        store
            .commit_poll(&commit(&feed, t0(), items, &|_| true))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    store
}

/// 50 items this feed never showed: item rows, seen keys, feed links, outbox rows.
#[divan::bench(sample_count = 30, sample_size = 10)]
fn commit_new_items(bencher: Bencher) {
    let mut store = prefilled("bench-new");
    let mut next = PREFILL;
    bencher
        .counter(ItemsCount::new(PER_POLL))
        .with_inputs(|| {
            let feed = format!("feed{}", next / PER_POLL % 100);
            let items = (next..next + PER_POLL)
                .map(|n| (n, item(&feed, n, t0())))
                .collect();
            next += PER_POLL;
            commit(&feed, t0(), items, &|_| true)
        })
        .bench_local_values(|c| store.commit_poll(&c).map(|s| s.new_items));
}

/// The same 50 items again: one `UPDATE seen` per item.
#[divan::bench(sample_count = 30, sample_size = 10)]
fn commit_reseen_items(bencher: Bencher) {
    let mut store = prefilled("bench-reseen");
    let feed = "feed0";
    // Batches 0, 100, 200… went to feed0, so it has shown items 0..50.
    let items: Vec<_> = (0..PER_POLL).map(|n| (n, item(feed, n, t0()))).collect();
    let again = commit(feed, t0(), items, &|_| false);
    bencher
        .counter(ItemsCount::new(PER_POLL))
        .bench_local(|| store.commit_poll(&again).map(|s| s.new_items));
}

/// `unseen` over a poll of 50 items, half of them known.
#[divan::bench(sample_count = 30, sample_size = 10)]
fn unseen_check(bencher: Bencher) {
    let store = prefilled("bench-unseen");
    let items: Vec<_> = (0..PER_POLL)
        .map(|i| item("feed0", if i % 2 == 0 { i } else { 10 * PREFILL + i }, t0()))
        .collect();
    bencher
        .counter(ItemsCount::new(PER_POLL))
        .bench_local(|| store.unseen("feed0", &items).map(|u| u.len()));
}
