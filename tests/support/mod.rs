//! Test support: a real HTTP feed server on 127.0.0.1 whose answers tests change between
//! polls, and helpers to run the real `feedwatch` binary against a config in a temp dir.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How the server answers one path.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: String,
    /// Sent as `ETag`; a request with a matching `If-None-Match` gets 304.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// Compress the body with gzip and say so.
    pub gzip: bool,
    /// Wait this long before answering.
    pub delay: Option<Duration>,
    /// Redirect (302) to this path instead.
    pub redirect: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Route {
    pub fn xml(body: impl Into<Vec<u8>>) -> Route {
        Route {
            status: 200,
            body: body.into(),
            content_type: "application/rss+xml".into(),
            etag: None,
            last_modified: None,
            gzip: false,
            delay: None,
            redirect: None,
            headers: Vec::new(),
        }
    }
    pub fn etag(mut self, etag: &str) -> Route {
        self.etag = Some(etag.into());
        self
    }
    pub fn content_type(mut self, ct: &str) -> Route {
        self.content_type = ct.into();
        self
    }
    pub fn gzip(mut self) -> Route {
        self.gzip = true;
        self
    }
    pub fn delay(mut self, d: Duration) -> Route {
        self.delay = Some(d);
        self
    }
    pub fn status(mut self, s: u16) -> Route {
        self.status = s;
        self
    }
    pub fn header(mut self, k: &str, v: &str) -> Route {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn redirect(to: &str) -> Route {
        let mut r = Route::xml(Vec::new());
        r.status = 302;
        r.redirect = Some(to.into());
        r
    }
}

/// One request the server saw.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    routes: HashMap<String, Route>,
    seen: Vec<Seen>,
    /// Requests being answered now, per Host header, and in all.
    active: HashMap<String, usize>,
    active_total: usize,
    /// The most seen at once, per Host header, and in all.
    peak: HashMap<String, usize>,
    peak_total: usize,
}

/// A feed server on 127.0.0.1:random, running on its own thread with its own runtime so
/// tests that spawn the real binary need no async code.
#[derive(Clone)]
pub struct FeedServer {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FeedServer {
    pub fn start() -> FeedServer {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let state = inner.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                tx.send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let app = Router::new().fallback(handle).with_state(state);
                axum::serve(listener, app).await.expect("serve");
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server start");
        FeedServer { addr, inner }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.inner.lock().unwrap().routes.insert(path.into(), route);
    }

    /// The most requests answered at once for one `Host` (host:port), and in all.
    pub fn peak_concurrency(&self, host: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .peak
            .get(host)
            .copied()
            .unwrap_or(0)
    }

    pub fn peak_total(&self) -> usize {
        self.inner.lock().unwrap().peak_total
    }

    pub fn requests(&self, path: &str) -> Vec<Seen> {
        self.inner
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

async fn handle(State(state): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let route = state.lock().unwrap().routes.get(&path).cloned();
    let Some(route) = route else {
        state.lock().unwrap().seen.push(Seen {
            path,
            headers,
            status: 404,
        });
        return (StatusCode::NOT_FOUND, "no such feed").into_response();
    };
    if let Some(d) = route.delay {
        let host = headers.get("host").cloned().unwrap_or_default();
        {
            let mut st = state.lock().unwrap();
            let n = {
                let a = st.active.entry(host.clone()).or_default();
                *a += 1;
                *a
            };
            st.active_total += 1;
            let total = st.active_total;
            let p = st.peak.entry(host.clone()).or_default();
            *p = (*p).max(n);
            st.peak_total = st.peak_total.max(total);
        }
        tokio::time::sleep(d).await;
        let mut st = state.lock().unwrap();
        if let Some(a) = st.active.get_mut(&host) {
            *a -= 1;
        }
        st.active_total -= 1;
    }
    let not_modified = route
        .etag
        .as_ref()
        .is_some_and(|e| headers.get("if-none-match") == Some(e));
    let status = if not_modified { 304 } else { route.status };
    state.lock().unwrap().seen.push(Seen {
        path,
        headers: headers.clone(),
        status,
    });
    let mut h = HeaderMap::new();
    for (k, v) in &route.headers {
        h.insert(
            header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    if let Some(e) = &route.etag {
        h.insert(header::ETAG, HeaderValue::from_str(e).unwrap());
    }
    if not_modified {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    if let Some(to) = &route.redirect {
        h.insert(header::LOCATION, HeaderValue::from_str(to).unwrap());
        return (StatusCode::FOUND, h).into_response();
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&route.content_type).unwrap(),
    );
    let body = if route.gzip
        && headers
            .get("accept-encoding")
            .is_some_and(|a| a.contains("gzip"))
    {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&route.body).unwrap();
        enc.finish().unwrap()
    } else {
        route.body.clone()
    };
    (StatusCode::from_u16(status).unwrap(), h, Body::from(body)).into_response()
}

/// An RSS 2.0 document with `(guid, title, description)` items.
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Test feed</title><link>http://example.org/</link><description>t</description>\n",
    );
    for (guid, title, desc) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><link>http://example.org/{guid}</link><description>{desc}</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// A temp dir with a config file, and the real binary run against it.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new(config: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("feedwatch.toml"), config).expect("write config");
        Env { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn config_path(&self) -> PathBuf {
        self.path("feedwatch.toml")
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) {
        std::fs::write(self.path(name), contents).expect("write");
    }

    /// Runs `feedwatch ARGS --config <this config>`.
    pub fn run(&self, args: &[&str]) -> Output {
        let mut cmd = bin();
        cmd.args(args).arg("--config").arg(self.config_path());
        cmd.current_dir(self.dir.path());
        cmd.output().expect("run feedwatch")
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path("feedwatch.db")).expect("open db")
    }
}

/// The real binary, with a clean environment for the variables it reads.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    for var in [
        "FEEDWATCH_CONFIG",
        "RUST_LOG",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "JOURNAL_STREAM",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
