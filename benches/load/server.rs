//! The feed server: one HTTP/1.1 listener per loopback address (127.0.0.1, .2, ...), so a
//! client's per-host limit sees several hosts, serving the generated files from disk with
//! `ETag`, `Last-Modified`, `304 Not Modified` on `If-None-Match` / `If-Modified-Since`,
//! and the precompressed `.gz` when the client accepts gzip (what nginx does with
//! `gzip_static on`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use crate::corpus::Served;
use crate::error::BenchError;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub plain: u64,
    pub gzip: u64,
    pub not_modified: u64,
    pub not_found: u64,
}

#[derive(Default)]
struct Shared {
    files: RwLock<HashMap<String, Served>>,
    plain: AtomicU64,
    gzip: AtomicU64,
    not_modified: AtomicU64,
    not_found: AtomicU64,
}

pub struct Server {
    rt: tokio::runtime::Runtime,
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
}

/// The ETag of the gzip representation: a different representation needs its own tag.
fn gzip_etag(etag: &str) -> String {
    match etag.strip_suffix('"') {
        Some(open) => format!("{open}-gz\""),
        None => format!("{etag}-gz"),
    }
}

fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut pieces = part.split(';');
            let coding = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = pieces.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
            });
            (coding == "gzip" || coding == "x-gzip" || coding == "*") && !refused
        })
}

/// Whether the request's validators say the client already has this version.
fn not_modified(headers: &HeaderMap, file: &Served) -> bool {
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    {
        let gz = gzip_etag(&file.etag);
        return inm.split(',').map(|t| t.trim()).any(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || t == file.etag || t == gz
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        .is_some_and(|since| file.last_modified <= since.with_timezone(&Utc))
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

async fn serve_feed(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let file = shared
        .files
        .read()
        .map(|m| m.get(&name).cloned())
        .unwrap_or_else(|p| p.into_inner().get(&name).cloned());
    let Some(file) = file else {
        shared.not_found.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_FOUND, "no such feed\n").into_response();
    };
    let gzip = accepts_gzip(&headers);
    let etag = if gzip {
        gzip_etag(&file.etag)
    } else {
        file.etag.clone()
    };
    let mut out = HeaderMap::new();
    out.insert(header::ETAG, header_value(&etag));
    out.insert(
        header::LAST_MODIFIED,
        header_value(&http_date(file.last_modified)),
    );
    out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if not_modified(&headers, &file) {
        shared.not_modified.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    let path = if gzip { &file.gzip } else { &file.plain };
    let body = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}: {e}\n", path.display()),
            )
                .into_response();
        }
    };
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    if gzip {
        out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        shared.gzip.fetch_add(1, Ordering::Relaxed);
    } else {
        shared.plain.fetch_add(1, Ordering::Relaxed);
    }
    (StatusCode::OK, out, body).into_response()
}

impl Server {
    /// Listens on 127.0.0.1 ..= 127.0.0.`hosts`, each on a free port, serving `files`
    /// (keyed by file name, e.g. `f00001.xml`).
    pub fn start(hosts: usize, files: Vec<(String, Served)>) -> Result<Server, BenchError> {
        if hosts == 0 || hosts > 254 {
            return Err(BenchError::Usage(format!(
                "--hosts {hosts}: use 1 to 254 loopback addresses"
            )));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(BenchError::Runtime)?;
        let shared = Arc::new(Shared {
            files: RwLock::new(files.into_iter().collect()),
            ..Shared::default()
        });
        let mut addrs = Vec::with_capacity(hosts);
        for k in 0..hosts {
            let addr = format!("127.0.0.{}:0", k + 1);
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(&addr))
                .map_err(|source| BenchError::Listen {
                    addr: addr.clone(),
                    source,
                })?;
            addrs.push(
                listener
                    .local_addr()
                    .map_err(|source| BenchError::Listen { addr, source })?,
            );
            let app = axum::Router::new()
                .route("/{name}", axum::routing::get(serve_feed))
                .with_state(shared.clone());
            rt.spawn(async move { axum::serve(listener, app).await });
        }
        Ok(Server { rt, addrs, shared })
    }

    pub fn url(&self, host: usize, file: &str) -> String {
        let addr = self
            .addrs
            .get(host % self.addrs.len().max(1))
            .map(|a| a.to_string())
            .unwrap_or_default();
        format!("http://{addr}/{file}")
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Serves a new version of a file from now on.
    pub fn update(&self, file: String, served: Served) {
        let mut map = self.shared.files.write().unwrap_or_else(|p| p.into_inner());
        map.insert(file, served);
    }

    /// Requests answered since the last call, by kind.
    pub fn take_counts(&self) -> Counts {
        let s = &self.shared;
        Counts {
            plain: s.plain.swap(0, Ordering::Relaxed),
            gzip: s.gzip.swap(0, Ordering::Relaxed),
            not_modified: s.not_modified.swap(0, Ordering::Relaxed),
            not_found: s.not_found.swap(0, Ordering::Relaxed),
        }
    }

    pub fn shutdown(self) {
        self.rt.shutdown_background();
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
