//! Hostile HTTP servers against the real binary: compression bombs, endless and trickling
//! bodies, servers that never answer, redirect loops, and 200s that are not feeds. Each
//! must end in a clear per-feed error (or a correct parse) within the configured deadline,
//! while a good feed in the same config is still polled and delivered, and the process
//! must stay under the daemon's memory budget.
//!
//! The servers are raw TCP (a tokio listener on 127.0.0.1) so they can misbehave in ways a
//! well-behaved HTTP library would refuse to: lie about encodings, never finish a chunked
//! body, stall after the request, or send a byte a second.

mod support;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress};
use support::{Env, rss, stdout};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The daemon's whole budget (issue 7).
const PEAK_LIMIT_KB: u64 = 200 * 1024;
/// What every bomb inflates to.
const BOMB_SIZE: u64 = 1 << 30;
/// The fetch deadline in every config; a stalled server must be cut off at it.
const TIMEOUT_SECS: u64 = 2;
/// Generous: an unoptimised binary on a shared two-core machine, plus the good feed.
const RUN_LIMIT: Duration = Duration::from_secs(30);

/// How the raw server answers a path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// A correct RSS feed with one matching item.
    Good,
    /// `Content-Encoding: gzip`, a body that inflates to 1 GiB of zeros.
    GzipBomb,
    /// `Content-Encoding: br`, under 10 KB that inflate to 1 GiB of zeros.
    BrotliBomb,
    /// A chunked body that never ends.
    EndlessChunked,
    /// Reads the request, then says nothing and holds the connection.
    Silent,
    /// The whole response, headers included, one byte a second.
    TrickleHead,
    /// Headers at once, then the body one byte a second.
    TrickleBody,
    /// 302 back to itself.
    RedirectLoop,
    /// 200 with a shop's HTML page.
    Html,
    /// 200 with `Content-Length: 0`.
    Empty,
}

impl Mode {
    fn path(self) -> &'static str {
        match self {
            Mode::Good => "/good.xml",
            Mode::GzipBomb => "/gzip-bomb.xml",
            Mode::BrotliBomb => "/brotli-bomb.xml",
            Mode::EndlessChunked => "/endless.xml",
            Mode::Silent => "/silent.xml",
            Mode::TrickleHead => "/trickle-head.xml",
            Mode::TrickleBody => "/trickle-body.xml",
            Mode::RedirectLoop => "/loop.xml",
            Mode::Html => "/page.html",
            Mode::Empty => "/empty.xml",
        }
    }

    const ALL: [Mode; 10] = [
        Mode::Good,
        Mode::GzipBomb,
        Mode::BrotliBomb,
        Mode::EndlessChunked,
        Mode::Silent,
        Mode::TrickleHead,
        Mode::TrickleBody,
        Mode::RedirectLoop,
        Mode::Html,
        Mode::Empty,
    ];
}

/// A misbehaving server on 127.0.0.1, on its own thread and runtime.
struct RawServer {
    addr: SocketAddr,
    /// Requests for the good feed, to see it polled while the others misbehave.
    good_requests: Arc<AtomicUsize>,
}

impl RawServer {
    fn start() -> RawServer {
        let good_requests = Arc::new(AtomicUsize::new(0));
        let counter = good_requests.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        continue;
                    };
                    let counter = counter.clone();
                    tokio::spawn(async move {
                        // The client hanging up is how most of these cases end.
                        let _ = answer(sock, counter).await;
                    });
                }
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server start");
        RawServer {
            addr,
            good_requests,
        }
    }

    fn url(&self, mode: Mode) -> String {
        format!("http://{}{}", self.addr, mode.path())
    }
}

async fn answer(mut sock: TcpStream, good: Arc<AtomicUsize>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split(' ').nth(1).unwrap_or("");
    let Some(mode) = Mode::ALL.into_iter().find(|m| m.path() == path) else {
        return sock
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    };
    let fixed = |ct: &str, extra: &str, body_len: usize| {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\n{extra}Content-Length: {body_len}\r\nConnection: close\r\n\r\n"
        )
    };
    match mode {
        Mode::Good => {
            good.fetch_add(1, Ordering::SeqCst);
            let body = good_feed();
            sock.write_all(fixed("application/rss+xml", "", body.len()).as_bytes())
                .await?;
            sock.write_all(body.as_bytes()).await?;
        }
        Mode::GzipBomb | Mode::BrotliBomb => {
            let (body, encoding) = if mode == Mode::GzipBomb {
                (gzip_bomb(), "gzip")
            } else {
                (brotli_bomb(), "br")
            };
            let extra = format!("Content-Encoding: {encoding}\r\n");
            sock.write_all(fixed("application/rss+xml", &extra, body.len()).as_bytes())
                .await?;
            sock.write_all(body).await?;
        }
        Mode::EndlessChunked => {
            sock.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
            .await?;
            let mut chunk = b"<rss version=\"2.0\"><channel><title>endless</title>".to_vec();
            chunk.resize(16 * 1024, b' ');
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            loop {
                sock.write_all(&framed).await?;
            }
        }
        Mode::Silent => {
            // Hold the connection open and say nothing until the client gives up.
            let _ = sock.read(&mut buf).await;
        }
        Mode::TrickleHead | Mode::TrickleBody => {
            let body = good_feed();
            let head = fixed("application/rss+xml", "", body.len());
            if mode == Mode::TrickleBody {
                sock.write_all(head.as_bytes()).await?;
            }
            let slow: Vec<u8> = if mode == Mode::TrickleHead {
                [head.as_bytes(), body.as_bytes()].concat()
            } else {
                body.into_bytes()
            };
            for b in slow {
                sock.write_all(&[b]).await?;
                sock.flush().await?;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Mode::RedirectLoop => {
            let resp = format!(
                "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                Mode::RedirectLoop.path()
            );
            sock.write_all(resp.as_bytes()).await?;
        }
        Mode::Html => {
            let body = "<!DOCTYPE html>\n<html><head><title>Garden shop</title></head>\
                        <body><h1>Spring sale</h1><p>Bulbs, seeds and tools.</p></body></html>\n";
            sock.write_all(fixed("text/html; charset=utf-8", "", body.len()).as_bytes())
                .await?;
            sock.write_all(body.as_bytes()).await?;
        }
        Mode::Empty => {
            sock.write_all(fixed("application/rss+xml", "", 0).as_bytes())
                .await?;
        }
    }
    sock.shutdown().await
}

fn good_feed() -> String {
    rss(&[("urn:good:1", "CSTO ministers meet", "x")])
}

/// Gzip of `chunks` MiB of zeros, built without compressing them all: after a full flush
/// the deflate state is reset, so every further MiB of zeros compresses to the same bytes
/// and can be repeated. Deflate tops out near 1032:1, so 1 GiB needs about 1 MB.
fn gzip_of_zeros(chunks: usize) -> Vec<u8> {
    assert!(chunks >= 3);
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut step = |input: &[u8], flush: FlushCompress| -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * 1024);
        let before = c.total_in();
        c.compress_vec(input, &mut out, flush)
            .expect("deflate zeros");
        assert_eq!(
            (c.total_in() - before) as usize,
            input.len(),
            "one step takes it all"
        );
        out
    };
    let first = step(&zeros, FlushCompress::Full);
    let second = step(&zeros, FlushCompress::Full);
    assert_eq!(
        second,
        step(&zeros, FlushCompress::Full),
        "a flushed MiB of zeros always deflates the same"
    );
    let last = step(&[], FlushCompress::Finish);

    let mut one = flate2::Crc::new();
    one.update(&zeros);
    let mut crc = flate2::Crc::new();
    for _ in 0..chunks {
        crc.combine(&one);
    }
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff];
    out.extend_from_slice(&first);
    for _ in 0..chunks - 2 {
        out.extend_from_slice(&second);
    }
    // Three chunks went in; the repeats account for the rest.
    out.extend_from_slice(&second);
    out.extend_from_slice(&last);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(((chunks as u64) << 20) as u32).to_le_bytes());
    out
}

/// Brotli of `chunks` × 4 MiB of zeros, by the same repeat-after-flush construction.
fn brotli_of_zeros(chunks: usize) -> Vec<u8> {
    assert!(chunks >= 3);
    let zeros = vec![0u8; 4 << 20];
    let mut w = brotli::CompressorWriter::new(Vec::new(), 64 * 1024, 5, 22);
    let step = |w: &mut brotli::CompressorWriter<Vec<u8>>| -> Vec<u8> {
        w.write_all(&zeros).expect("brotli zeros");
        w.flush().expect("brotli flush");
        std::mem::take(w.get_mut())
    };
    let first = step(&mut w);
    let second = step(&mut w);
    assert_eq!(
        second,
        step(&mut w),
        "a flushed 4 MiB of zeros always compresses the same"
    );
    let last = w.into_inner();
    let mut out = first;
    for _ in 0..chunks - 2 {
        out.extend_from_slice(&second);
    }
    out.extend_from_slice(&second);
    out.extend_from_slice(&last);
    out
}

fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| gzip_of_zeros((BOMB_SIZE >> 20) as usize))
}

fn brotli_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| brotli_of_zeros((BOMB_SIZE >> 22) as usize))
}

/// Built before the binary runs, so the time spent building them does not count against
/// its fetch deadline.
fn prebuild_bombs() {
    gzip_bomb();
    brotli_bomb();
}

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
