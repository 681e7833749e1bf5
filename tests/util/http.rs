//! A webhook receiver on 127.0.0.1 (axum): records every request and answers from a
//! script (`500, 500, 200`, `400`, `429` with `Retry-After`, or hang); once the script is
//! used up it answers 200.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The receiver's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Never answer, keeping the connection open.
    Hang,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            headers: vec![],
            body: String::new(),
        }
    }
    pub fn with_body(status: u16, body: &str) -> Reply {
        Reply::Status {
            status,
            headers: vec![],
            body: body.into(),
        }
    }
    pub fn with_header(status: u16, name: &str, value: &str) -> Reply {
        Reply::Status {
            status,
            headers: vec![(name.into(), value.into())],
            body: String::new(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request reached the handler.
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
    /// Verifies the Standard Webhooks signature the way a receiver would (the key is the
    /// base64 after `whsec_`, else the secret's bytes).
    pub fn signature_valid(&self, secret: &str) -> bool {
        let id = self.header("webhook-id").unwrap_or_default();
        let ts = self.header("webhook-timestamp").unwrap_or_default();
        let key = match secret.strip_prefix("whsec_") {
            Some(b64) => BASE64.decode(b64).expect("whsec_ secret is base64"),
            None => secret.as_bytes().to_vec(),
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC key");
        mac.update(format!("{id}.{ts}.").as_bytes());
        mac.update(&self.body);
        let want = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
        self.header("webhook-signature")
            .unwrap_or_default()
            .split(' ')
            .any(|s| s == want)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }
}

#[derive(Clone, Default)]
struct Shared {
    script: Arc<Mutex<VecDeque<Reply>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

pub struct HttpReceiver {
    pub addr: SocketAddr,
    shared: Shared,
}

async fn handle(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.requests.lock().unwrap().push(Recorded {
        method,
        uri,
        headers,
        body,
        at: Instant::now(),
    });
    let reply = s
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| Reply::with_body(200, "ok"));
    match reply {
        Reply::Hang => std::future::pending::<Response>().await,
        Reply::Status {
            status,
            headers,
            body,
        } => {
            let mut resp =
                (StatusCode::from_u16(status).expect("valid status"), body).into_response();
            for (k, v) in headers {
                resp.headers_mut().insert(
                    HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                    HeaderValue::from_str(&v).expect("header value"),
                );
            }
            resp
        }
    }
}

impl HttpReceiver {
    pub async fn start(script: Vec<Reply>) -> HttpReceiver {
        let shared = Shared::default();
        shared.script.lock().unwrap().extend(script);
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpReceiver { addr, shared }
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> url::Url {
        url::Url::parse(&format!("http://{}{path}", self.addr)).expect("receiver URL")
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Waits up to `limit` until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Recorded> {
        let deadline = Instant::now() + limit;
        loop {
            let seen = self.requests();
            if seen.len() >= n || Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
