//! Matching throughput: items per second through the compiled [`RuleSet`] at 10, 100,
//! 1,000 and 10,000 rules, against the naive one-regex-per-rule baseline and the
//! reference evaluator. Run with `cargo bench -p feedwatch-benches --bench matching`.

use divan::Bencher;
use divan::counter::ItemsCount;
use feedwatch::rules::{Document, Query, RuleSet, reference};
use feedwatch_benches::{NaiveRule, NewsItem, items, naive_text, parse_all, rules, rules_with};

const ITEMS: usize = 400;
const SEED: u64 = 0x00fe_edc0_ffee;

fn doc(item: &NewsItem) -> Document<'_> {
    Document {
        title: &item.title,
        summary: &item.summary,
        categories: &item.categories,
        link: &item.link,
        feed: "bench",
        ..Document::default()
    }
}

fn setup(n: usize) -> (Vec<Query>, Vec<NewsItem>) {
    (parse_all(&rules(n, SEED)), items(ITEMS, SEED ^ 1))
}

#[divan::bench(args = [10, 100, 1_000, 10_000], max_time = 4)]
fn rule_set(bencher: Bencher, n: usize) {
    let (qs, items) = setup(n);
    let refs: Vec<&Query> = qs.iter().collect();
    let set = RuleSet::new(&refs);
    bencher
        .counter(ItemsCount::new(items.len()))
        .bench_local(|| {
            let mut hits = 0;
            for it in &items {
                hits += set.matches(&doc(it), &|_| true).len();
            }
            hits
        });
}

#[divan::bench(args = [10, 100, 1_000], sample_count = 5, sample_size = 1, max_time = 20)]
fn naive_regex(bencher: Bencher, n: usize) {
    let (qs, items) = setup(n);
    let naive: Vec<NaiveRule> = qs.iter().filter_map(NaiveRule::new).collect();
    let items = &items[..ITEMS / 8];
    let texts: Vec<String> = items.iter().map(naive_text).collect();
    bencher
        .counter(ItemsCount::new(texts.len()))
        .bench_local(|| {
            let mut hits = 0;
            for t in &texts {
                hits += naive.iter().filter(|r| r.matches(t)).count();
            }
            hits
        });
}

#[divan::bench(args = [10, 100, 1_000], sample_count = 5, sample_size = 1, max_time = 20)]
fn reference_evaluator(bencher: Bencher, n: usize) {
    let (qs, items) = setup(n);
    let items = &items[..ITEMS / 8];
    bencher
        .counter(ItemsCount::new(items.len()))
        .bench_local(|| {
            let mut hits = 0;
            for it in items {
                let d = doc(it);
                hits += qs.iter().filter(|q| reference::matches(q, &d)).count();
            }
            hits
        });
}

/// CPU time this thread has run, from /proc/thread-self/schedstat (Linux); unlike wall
/// time it does not grow when other processes compete for the cores.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Items per second of CPU time for `f`, over repeated passes totalling at least
/// `min_cpu_s` seconds of CPU (schedstat is only updated at scheduler ticks).
fn cpu_rate(
    items: &[NewsItem],
    min_cpu_s: f64,
    mut f: impl FnMut(&NewsItem) -> usize,
) -> Option<f64> {
    let t0 = cpu_ns()?;
    let wall = std::time::Instant::now();
    let (mut done, mut hits) = (0usize, 0usize);
    loop {
        for it in items {
            hits += f(it);
        }
        done += items.len();
        let dt = (cpu_ns()? - t0) as f64 / 1e9;
        if dt >= min_cpu_s || wall.elapsed().as_secs() > 60 {
            std::hint::black_box(hits);
            return Some(done as f64 / dt.max(1e-9));
        }
    }
}

/// `threads` threads sharing `set` by reference, each matching its own share of the
/// items, over repeated passes of at least `min_s` seconds: (wall-clock items/s, items
/// per second of CPU time summed over the threads). With `threads` = 1 these are the
/// single-thread figures to set them against; on loaded shared vCPUs the wall clock
/// mostly measures the other processes, while the CPU-time rate shows what sharing the
/// set costs each thread.
fn threaded_rate(set: &RuleSet, items: &[NewsItem], threads: usize, min_s: f64) -> (f64, f64) {
    let t0 = std::time::Instant::now();
    // Each thread runs for the whole period (not one spawn per pass), so that
    // schedstat, updated at scheduler ticks, measures its CPU time accurately.
    let per_thread: Vec<(usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| {
                s.spawn(move || {
                    let c0 = cpu_ns().unwrap_or(0);
                    let mut done = 0;
                    while t0.elapsed().as_secs_f64() < min_s {
                        std::hint::black_box(profile_pass(set, part));
                        done += part.len();
                    }
                    (done, cpu_ns().unwrap_or(0).saturating_sub(c0))
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let done: usize = per_thread.iter().map(|p| p.0).sum();
    let cpu: u64 = per_thread.iter().map(|p| p.1).sum();
    (
        done as f64 / t0.elapsed().as_secs_f64(),
        done as f64 / (cpu as f64 / 1e9).max(1e-9),
    )
}

/// Prints what the benchmark works on: memory of the compiled sets and how many rules
/// match per item, so the numbers can be judged for realism.
fn report() {
    let items = items(ITEMS, SEED ^ 1);
    let bytes: usize = items.iter().map(|i| i.title.len() + i.summary.len()).sum();
    println!("items: {ITEMS}, mean title+summary {} bytes", bytes / ITEMS);
    // Calibration: a trivial pass over the same bytes, to compare machines and load.
    let spaces = cpu_rate(&items, 1.0, |it| {
        it.title
            .bytes()
            .chain(it.summary.bytes())
            .filter(|&b| b == b' ')
            .count()
    });
    if let Some(r) = spaces {
        println!(
            "calibration: counting spaces runs at {r:.0} items/s ({:.0} MB/s) of CPU time",
            r * (bytes / ITEMS) as f64 / 1e6
        );
    }
    // FEEDWATCH_BENCH_RULES=1000 limits the report to one size (handy under a profiler).
    let only: Option<usize> = std::env::var("FEEDWATCH_BENCH_RULES")
        .ok()
        .and_then(|v| v.parse().ok());
    for n in [10, 100, 1_000, 10_000] {
        if only.is_some_and(|o| o != n) {
            continue;
        }
        let qs = parse_all(&rules(n, SEED));
        let refs: Vec<&Query> = qs.iter().collect();
        let set = RuleSet::new(&refs);
        let matches: usize = items
            .iter()
            .map(|i| set.matches(&doc(i), &|_| true).len())
            .sum();
        println!(
            "{n:>6} rules ({} parsed): compiled set ~{:.2} MB, {:.2} matching rules per item",
            qs.len(),
            set.heap_bytes() as f64 / 1e6,
            matches as f64 / ITEMS as f64
        );
        let (mut words, mut occ, mut cands) = (0, 0, 0);
        for it in &items {
            let (w, o, c) = set.scan_stats(&doc(it));
            (words, occ, cands) = (words + w, occ + o, cands + c);
        }
        println!(
            "        per item: {} words, {} recorded occurrences, {} candidate rules evaluated",
            words / ITEMS,
            occ / ITEMS,
            cands / ITEMS
        );
        let fast = cpu_rate(&items, 2.0, |it| set.matches(&doc(it), &|_| true).len());
        let plain = parse_all(&rules_with(n, SEED, false));
        let plain_refs: Vec<&Query> = plain.iter().collect();
        let plain_set = RuleSet::new(&plain_refs);
        let no_regex = cpu_rate(&items, 2.0, |it| {
            plain_set.matches(&doc(it), &|_| true).len()
        });
        let naive =
            (n <= 1_000 && std::env::var_os("FEEDWATCH_BENCH_NO_NAIVE").is_none()).then(|| {
                let naive: Vec<NaiveRule> = qs.iter().filter_map(NaiveRule::new).collect();
                let texts: Vec<String> = items[..ITEMS / 8].iter().map(naive_text).collect();
                let mut i = 0;
                cpu_rate(&items[..ITEMS / 8], 2.0, |_| {
                    i += 1;
                    let t = &texts[i % texts.len()];
                    naive.iter().filter(|r| r.matches(t)).count()
                })
            });
        // Alternated so both see the same load; best of three of each.
        let (mut one, mut two) = ((0f64, 0f64), (0f64, 0f64));
        for _ in 0..3 {
            let (w1, c1) = threaded_rate(&set, &items, 1, 2.0);
            let (w2, c2) = threaded_rate(&set, &items, 2, 2.0);
            one = (one.0.max(w1), one.1.max(c1));
            two = (two.0.max(w2), two.1.max(c2));
        }
        println!(
            "        2 THREADS sharing the set: wall clock {:.0} items/s (1 thread, same run: {:.0}); items per CPU-second, both threads together: {:.0} (1 thread: {:.0})",
            two.0, one.0, two.1, one.1
        );
        let show = |r: Option<f64>| r.map_or("n/a".to_string(), |r| format!("{:.0} items/s", r));
        println!(
            "        CPU-time throughput: rule set {} ({} with the regex rules left out), naive regex {}",
            show(fast),
            show(no_regex),
            naive.map_or("not run".to_string(), show)
        );
    }
}

/// One pass of `set` over `items`; a separate, never-inlined function so that
/// `valgrind --tool=callgrind --toggle-collect='*profile_pass*'` counts only matching.
#[inline(never)]
fn profile_pass(set: &RuleSet, items: &[NewsItem]) -> usize {
    items
        .iter()
        .map(|it| set.matches(&doc(it), &|_| true).len())
        .sum()
}

/// `FEEDWATCH_BENCH_PASSES=n`: instead of the report, runs `n` passes over the items
/// for each rule count (or the one in `FEEDWATCH_BENCH_RULES`), with and without the
/// regex rules, for instruction counting under callgrind.
fn profile(passes: usize) {
    let only: Option<usize> = std::env::var("FEEDWATCH_BENCH_RULES")
        .ok()
        .and_then(|v| v.parse().ok());
    let items = items(ITEMS, SEED ^ 1);
    let no_regex = std::env::var_os("FEEDWATCH_BENCH_NO_REGEX").is_some();
    for n in [10, 100, 1_000, 10_000] {
        if only.is_some_and(|o| o != n) {
            continue;
        }
        let qs = parse_all(&rules_with(n, SEED, !no_regex));
        let refs: Vec<&Query> = qs.iter().collect();
        let set = RuleSet::new(&refs);
        let mut hits = 0;
        for _ in 0..passes {
            hits += profile_pass(&set, &items);
        }
        println!(
            "{n} rules: {passes} passes of {ITEMS} items, {hits} matches (divide callgrind's Ir by {})",
            passes * ITEMS
        );
    }
}

fn main() {
    if let Some(passes) = std::env::var("FEEDWATCH_BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        profile(passes);
        return;
    }
    report();
    // FEEDWATCH_BENCH_REPORT_ONLY=1 skips the divan runs.
    if std::env::var_os("FEEDWATCH_BENCH_REPORT_ONLY").is_none() {
        divan::main();
    }
}
