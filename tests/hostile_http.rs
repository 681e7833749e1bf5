//! Hostile HTTP servers against the real binary: compression bombs, endless and trickling
//! bodies, servers that never answer, redirect loops, and 200s that are not feeds. Each
//! must end in a clear per-feed error (or a correct parse) within the configured deadline,
//! while a good feed in the same config is still polled and delivered, and the process
//! must stay under the daemon's memory budget.
//!
//! The servers are raw TCP (a tokio listener on 127.0.0.1) so they can misbehave in ways a
//! well-behaved HTTP library would refuse to: lie about encodings, never finish a chunked
//! body, stall after the request, or send a byte a second.

#[path = "hostile_http/raw.rs"]
mod raw;
mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use raw::{
    Mode, RawServer, brotli_bomb, brotli_of_zeros, gzip_bomb, gzip_of_zeros, prebuild_bombs,
};
use support::{Env, stdout};

/// The daemon's whole budget (issue 7).
const PEAK_LIMIT_KB: u64 = 200 * 1024;
/// The fetch deadline in every config; a stalled server must be cut off at it.
const TIMEOUT_SECS: u64 = 2;
/// Generous: an unoptimised binary on a shared two-core machine, plus the good feed.
const RUN_LIMIT: Duration = Duration::from_secs(30);

fn config(feeds: &[(&str, String)], interval: &str) -> String {
    let mut s = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\
         interval = \"{interval}\"\ntimeout = \"{TIMEOUT_SECS}s\"\nmax_body = \"1MiB\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n[destination.console]\ntype = \"stdout\"\n\n"
    );
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n\n"));
    }
    s
}

/// The real binary under `/usr/bin/time -v`: its output, peak resident size and wall time.
fn run_measured(env: &Env, args: &[&str]) -> (Output, u64, Duration) {
    let report = env.path("time-v.txt");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-v")
        .arg("-o")
        .arg(&report)
        .arg(env!("CARGO_BIN_EXE_feedwatch"))
        .args(args)
        .arg("--config")
        .arg(env.config_path())
        .current_dir(env.dir.path());
    for var in [
        "FEEDWATCH_CONFIG",
        "RUST_LOG",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
    ] {
        cmd.env_remove(var);
    }
    let start = Instant::now();
    let out = cmd.output().expect("run /usr/bin/time -v feedwatch");
    let took = start.elapsed();
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let kb = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak size in the time report:\n{text}"));
    (out, kb, took)
}

/// One `run --once` with the hostile feed next to the good one: the hostile feed's report
/// line must contain every one of `expect`, the good feed must be polled and delivered.
fn once(mode: Mode, expect: &[&str]) {
    prebuild_bombs();
    let server = RawServer::start();
    let env = Env::new(&config(
        &[
            ("hostile", server.url(mode)),
            ("good", server.url(Mode::Good)),
        ],
        "15m",
    ));
    let (out, kb, took) = run_measured(&env, &["run", "--once"]);
    let text = stdout(&out);
    let err = support::stderr(&out);
    eprintln!("{mode:?}: {took:?}, peak {} MB", kb / 1024);
    assert!(out.status.success(), "{mode:?}: {text}\n{err}");
    let line = text
        .lines()
        .find(|l| l.starts_with("hostile: "))
        .unwrap_or_else(|| panic!("{mode:?}: no report for the hostile feed:\n{text}\n{err}"));
    for e in expect {
        assert!(line.contains(e), "{mode:?}: want {e:?} in {line:?}");
    }
    assert!(
        text.lines().any(|l| l == "good: 1 items, 1 new, 1 matches"),
        "{mode:?}: the good feed was not processed:\n{text}"
    );
    assert!(
        text.contains("CSTO ministers meet"),
        "{mode:?}: the good feed's item was not delivered:\n{text}"
    );
    assert!(
        kb < PEAK_LIMIT_KB,
        "{mode:?}: peak memory {kb} kB is over {PEAK_LIMIT_KB} kB"
    );
    assert!(took < RUN_LIMIT, "{mode:?}: took {took:?}");
    if matches!(mode, Mode::Silent | Mode::TrickleHead | Mode::TrickleBody) {
        assert!(
            took < Duration::from_secs(TIMEOUT_SECS * 5),
            "{mode:?}: the {TIMEOUT_SECS}s deadline was not kept: {took:?}"
        );
    }
}

const TOO_LARGE: &[&str] = &[
    "error:",
    "larger than 1048576 bytes once decoded",
    "max_body",
];
const TIMED_OUT: &[&str] = &["error:", "no answer within 2s", "body included"];

#[test]
fn a_gzip_bomb_stops_at_the_cap() {
    once(Mode::GzipBomb, TOO_LARGE);
}

#[test]
fn a_brotli_bomb_stops_at_the_cap() {
    once(Mode::BrotliBomb, TOO_LARGE);
}

#[test]
fn an_endless_chunked_body_stops_at_the_cap() {
    once(Mode::EndlessChunked, TOO_LARGE);
}

#[test]
fn a_server_that_never_answers_times_out() {
    once(Mode::Silent, TIMED_OUT);
}

#[test]
fn headers_at_a_byte_a_second_time_out() {
    once(Mode::TrickleHead, TIMED_OUT);
}

#[test]
fn a_body_at_a_byte_a_second_times_out() {
    once(Mode::TrickleBody, TIMED_OUT);
}

#[test]
fn a_redirect_loop_is_named() {
    once(Mode::RedirectLoop, &["error:", "more than 5 redirects"]);
}

#[test]
fn an_html_page_is_named() {
    once(Mode::Html, &["error:", "HTML page", "discover"]);
}

#[test]
fn an_empty_body_is_named() {
    once(Mode::Empty, &["error:", "empty body"]);
}

/// The bombs are what they claim: small, and valid streams of exactly the promised size
/// (checked in full on a smaller build of the same construction).
#[test]
fn the_bombs_are_real() {
    let gz = gzip_bomb();
    let br = brotli_bomb();
    eprintln!(
        "gzip bomb {} bytes, brotli bomb {} bytes",
        gz.len(),
        br.len()
    );
    assert!(gz.len() < 1100 * 1024, "gzip bomb {} bytes", gz.len());
    assert!(br.len() < 12 * 1024, "brotli bomb {} bytes", br.len());

    let small = gzip_of_zeros(8);
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&small[..]), &mut inflated)
        .expect("a valid gzip stream, CRC and length included");
    assert_eq!(inflated.len(), 8 << 20);
    assert!(inflated.iter().all(|&b| b == 0));

    let small = brotli_of_zeros(4);
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli::Decompressor::new(&small[..], 64 * 1024),
        &mut inflated,
    )
    .expect("a valid brotli stream");
    assert_eq!(inflated.len(), 16 << 20);
    assert!(inflated.iter().all(|&b| b == 0));
}

/// The daemon with every hostile feed at once next to the good one: it keeps polling the
/// good feed on schedule and delivering, stays under budget across repeated polls of the
/// bombs, and stops promptly on SIGTERM even with connections stalled.
#[test]
fn the_daemon_keeps_serving_the_good_feed_among_all_of_them() {
    prebuild_bombs();
    let server = RawServer::start();
    let feeds: Vec<(&str, String)> = Mode::ALL
        .iter()
        .map(|&m| {
            let name = if m == Mode::Good {
                "good"
            } else {
                m.path().trim_start_matches('/')
            };
            (name, server.url(m))
        })
        .collect();
    let env = Env::new(&config(&feeds, "1s"));
    let out = env.path("daemon.out");
    let err = env.path("daemon.err");
    let mut child = support::bin()
        .args(["run", "--config"])
        .arg(env.config_path())
        .current_dir(env.dir.path())
        .stdout(Stdio::from(std::fs::File::create(&out).expect("out")))
        .stderr(Stdio::from(std::fs::File::create(&err).expect("err")))
        .spawn()
        .expect("spawn daemon");
    let guard = KillOnDrop(&mut child);
    let pid = guard.0.id();
    let start = Instant::now();
    let mut peak_kb = 0;
    while start.elapsed() < Duration::from_secs(12) {
        peak_kb = peak_kb.max(vm_hwm_kb(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(100));
    }
    let polls = server.good_requests.load(Ordering::SeqCst);
    let delivered = std::fs::read_to_string(&out).unwrap_or_default();
    let logs = std::fs::read_to_string(&err).unwrap_or_default();
    let stopped = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -TERM {pid}");
    let code = loop {
        if let Some(status) = guard.0.try_wait().expect("try_wait") {
            break status.code();
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(15),
            "the daemon did not stop on SIGTERM\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "daemon: {polls} polls of the good feed, peak {} MB, stopped in {:?}",
        peak_kb / 1024,
        stopped.elapsed()
    );
    assert_eq!(code, Some(0), "{logs}");
    assert!(peak_kb > 0, "no VmHWM for {pid}");
    assert!(
        peak_kb < PEAK_LIMIT_KB,
        "daemon peak memory {peak_kb} kB is over {PEAK_LIMIT_KB} kB"
    );
    assert!(
        polls >= 3,
        "the good feed was polled {polls} times in 12 s at a 1 s interval\n{logs}"
    );
    assert!(
        delivered.contains("CSTO ministers meet"),
        "the good feed's item was not delivered:\n{delivered}\n{logs}"
    );
    for expect in [
        "larger than 1048576 bytes once decoded",
        "no answer within 2s",
        "more than 5 redirects",
        "empty body",
    ] {
        assert!(
            logs.contains(expect),
            "want {expect:?} in the logs:\n{logs}"
        );
    }
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
