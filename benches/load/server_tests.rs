//! The feed server over real sockets, with a bare HTTP/1.1 client so nothing of the
//! server's own stack is on the client side.

use std::io::{Read, Write};
use std::net::TcpStream;

use super::*;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get(url: &str, extra: &[(&str, &str)]) -> Reply {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (addr, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("{addr}: {e}"));
    let mut req = format!("GET /{path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .unwrap_or_else(|e| panic!("{e}"));
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let body = raw.get(split + 4..).map(<[u8]>::to_vec).unwrap_or_default();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: dechunk(body),
    }
}

/// Hyper sends small bodies with Content-Length but may chunk; undo chunking if present.
fn dechunk(body: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&body);
    let Some((size, _)) = text.split_once("\r\n") else {
        return body;
    };
    if usize::from_str_radix(size.trim(), 16).is_err() || body.is_empty() {
        return body;
    }
    let mut out = Vec::new();
    let mut rest = body.as_slice();
    while let Some(pos) = rest.windows(2).position(|w| w == b"\r\n") {
        let n =
            usize::from_str_radix(String::from_utf8_lossy(&rest[..pos]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(rest.get(pos + 2..pos + 2 + n).unwrap_or(&[]));
        rest = rest.get(pos + 4 + n..).unwrap_or(&[]);
    }
    out
}

fn fixture(dir: &std::path::Path, name: &str, body: &str, stamp: i64) -> (String, Served) {
    let plain = dir.join(format!("{name}.xml"));
    let gzip = dir.join(format!("{name}.xml.gz"));
    std::fs::write(&plain, body).unwrap_or_else(|e| panic!("{e}"));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&gzip, enc.finish().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let served = Served {
        plain,
        gzip,
        etag: format!("\"{name}-{stamp}\""),
        last_modified: DateTime::from_timestamp(stamp, 0).unwrap_or_default(),
        content_type: "application/rss+xml; charset=utf-8",
        bytes: body.len() as u64,
        gzip_bytes: 0,
    };
    (format!("{name}.xml"), served)
}

#[test]
fn conditional_requests_and_gzip() {
    let dir = std::env::temp_dir().join(format!("loadbench-server-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let body = "<rss version=\"2.0\"><channel><title>Wire</title></channel></rss>\n".repeat(20);
    let files = vec![fixture(&dir, "a", &body, 1_767_225_600)];
    let server = Server::start(3, files).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(server.addrs().len(), 3);
    let url = server.url(2, "a.xml");
    assert!(url.starts_with("http://127.0.0.3:"), "{url}");

    let plain = get(&url, &[]);
    assert_eq!(plain.status, 200);
    assert_eq!(plain.body, body.as_bytes());
    assert_eq!(plain.header("etag"), Some("\"a-1767225600\""));
    assert_eq!(
        plain.header("last-modified"),
        Some("Thu, 01 Jan 2026 00:00:00 GMT")
    );
    assert_eq!(plain.header("content-encoding"), None);

    let gz = get(&url, &[("Accept-Encoding", "br;q=1.0, gzip;q=0.8")]);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("etag"), Some("\"a-1767225600-gz\""));
    let mut unpacked = String::new();
    flate2::read::GzDecoder::new(gz.body.as_slice())
        .read_to_string(&mut unpacked)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(unpacked, body);
    assert!(gz.body.len() < body.len() / 4);
    assert_eq!(
        get(&url, &[("Accept-Encoding", "gzip;q=0")]).header("content-encoding"),
        None
    );

    // (extra headers, expected status)
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("If-None-Match", "\"a-1767225600\"")], 304),
        (
            &[
                ("If-None-Match", "\"a-1767225600-gz\""),
                ("Accept-Encoding", "gzip"),
            ],
            304,
        ),
        (&[("If-None-Match", "\"x\", W/\"a-1767225600\"")], 304),
        (&[("If-None-Match", "\"stale\"")], 200),
        // If-None-Match wins over If-Modified-Since.
        (
            &[
                ("If-None-Match", "\"stale\""),
                ("If-Modified-Since", "Thu, 01 Jan 2026 00:00:00 GMT"),
            ],
            200,
        ),
        (
            &[("If-Modified-Since", "Thu, 01 Jan 2026 00:00:00 GMT")],
            304,
        ),
        (
            &[("If-Modified-Since", "Fri, 02 Jan 2026 10:00:00 GMT")],
            304,
        ),
        (
            &[("If-Modified-Since", "Wed, 31 Dec 2025 23:59:59 GMT")],
            200,
        ),
        (&[("If-Modified-Since", "not a date")], 200),
    ];
    for (headers, want) in cases {
        let r = get(&url, headers);
        assert_eq!(r.status, *want, "{headers:?}");
        if r.status == 304 {
            assert!(r.body.is_empty());
            assert!(r.header("etag").is_some());
        }
    }
    assert_eq!(get(&server.url(0, "missing.xml"), &[]).status, 404);

    // A new version: the old validators no longer hold.
    let (name, newer) = fixture(&dir, "a", &format!("{body}<!-- more -->"), 1_767_312_000);
    server.update(name, newer);
    assert_eq!(
        get(&url, &[("If-None-Match", "\"a-1767225600\"")]).status,
        200
    );
    assert_eq!(
        get(
            &url,
            &[("If-Modified-Since", "Thu, 01 Jan 2026 00:00:00 GMT")]
        )
        .status,
        200
    );

    let counts = server.take_counts();
    assert_eq!(counts.not_found, 1);
    assert_eq!(counts.not_modified, 5);
    assert_eq!(counts.gzip, 1);
    assert_eq!(
        counts.plain + counts.gzip + counts.not_modified + counts.not_found,
        15
    );
    assert_eq!(server.take_counts(), Counts::default());
    server.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
