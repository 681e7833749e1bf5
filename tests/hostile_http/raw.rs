//! The misbehaving server and the compression bombs it serves.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use flate2::{Compress, Compression, FlushCompress};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::rss;

/// What every bomb inflates to.
pub const BOMB_SIZE: u64 = 1 << 30;

/// How the raw server answers a path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
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
    pub fn path(self) -> &'static str {
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

    pub const ALL: [Mode; 10] = [
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
pub struct RawServer {
    addr: SocketAddr,
    /// Requests for the good feed, to see it polled while the others misbehave.
    pub good_requests: Arc<AtomicUsize>,
}

impl RawServer {
    pub fn start() -> RawServer {
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

    pub fn url(&self, mode: Mode) -> String {
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
pub fn gzip_of_zeros(chunks: usize) -> Vec<u8> {
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
pub fn brotli_of_zeros(chunks: usize) -> Vec<u8> {
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

pub fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| gzip_of_zeros((BOMB_SIZE >> 20) as usize))
}

pub fn brotli_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| brotli_of_zeros((BOMB_SIZE >> 22) as usize))
}

/// Built before the binary runs, so the time spent building them does not count against
/// its fetch deadline.
pub fn prebuild_bombs() {
    gzip_bomb();
    brotli_bomb();
}
