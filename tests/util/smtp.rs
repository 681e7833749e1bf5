//! An SMTP sink on 127.0.0.1: a real SMTP state machine (mailin) behind a small tokio
//! loop. Each message that reaches the end of DATA is recorded and answered from a
//! script (`451, 451, 250`, `550`, or hang without answering); once the script is used
//! up every message is accepted with 250.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin::{Action, AuthMechanism, Handler, Response, SessionBuilder, response};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The sink's answer to one message at the end of DATA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Reply with this code and text (250 accepts).
    Code(u16, String),
    /// Never answer, keeping the connection open.
    Hang,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Code(250, "OK queued".into())
    }
    pub fn code(code: u16, text: &str) -> Reply {
        Reply::Code(code, text.into())
    }
}

/// One message as the sink saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The raw RFC 5322 message (headers and body, dot-unstuffed).
    pub data: Vec<u8>,
    /// What the sink answered (None: it hung).
    pub reply: Option<u16>,
    /// The AUTH PLAIN user, when the client authenticated.
    pub user: Option<String>,
}

impl Received {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
    pub fn accepted(&self) -> bool {
        self.reply.is_some_and(|c| (200..300).contains(&c))
    }
}

/// Options for [`SmtpSink::start_with`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub script: Vec<Reply>,
    /// Require AUTH PLAIN with these credentials (offered without TLS).
    pub auth: Option<(String, String)>,
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    rx: mpsc::UnboundedReceiver<Received>,
}

struct Sink {
    tx: mpsc::UnboundedSender<Received>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    auth: Option<(String, String)>,
    user: Option<String>,
    cur: Option<Received>,
    /// The scripted end-of-DATA answer, taken by the connection loop. mailin keeps its
    /// state machine in DATA after an error reply from `data_end`, so the handler always
    /// reports success to mailin and the loop puts the scripted reply on the wire.
    end_of_data: Arc<Mutex<Option<Reply>>>,
}

impl Handler for Sink {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        if self.auth.is_some() && self.user.is_none() {
            return response::AUTHENTICATION_REQUIRED;
        }
        response::OK
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.cur = Some(Received {
            from: from.into(),
            to: to.to_vec(),
            data: Vec::new(),
            reply: None,
            user: self.user.clone(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(c) = &mut self.cur {
            c.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let reply = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(Reply::ok);
        if let Some(mut m) = self.cur.take() {
            if let Reply::Code(code, _) = &reply {
                m.reply = Some(*code);
            }
            let _ = self.tx.send(m);
        }
        *self.end_of_data.lock().unwrap() = Some(reply);
        response::OK
    }

    fn auth_plain(&mut self, _authz: &str, authn: &str, password: &str) -> Response {
        match &self.auth {
            Some((u, p)) if u == authn && p == password => {
                self.user = Some(authn.to_string());
                response::AUTH_OK
            }
            _ => response::INVALID_CREDENTIALS,
        }
    }
}

impl SmtpSink {
    /// A sink answering from `script`, then accepting.
    pub async fn start(script: Vec<Reply>) -> SmtpSink {
        SmtpSink::start_with(Options { script, auth: None }).await
    }

    pub async fn start_with(opts: Options) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind SMTP sink");
        let addr = listener.local_addr().expect("SMTP sink address");
        let (tx, rx) = mpsc::unbounded_channel();
        let mut builder = SessionBuilder::new("sink.test");
        if opts.auth.is_some() {
            builder
                .enable_auth(AuthMechanism::Plain)
                .insecure_enable_plaintext_auth();
        }
        let script = Arc::new(Mutex::new(VecDeque::from(opts.script)));
        let auth = opts.auth;
        tokio::spawn(async move {
            while let Ok((sock, peer)) = listener.accept().await {
                let end_of_data = Arc::new(Mutex::new(None));
                let handler = Sink {
                    tx: tx.clone(),
                    script: script.clone(),
                    auth: auth.clone(),
                    user: None,
                    cur: None,
                    end_of_data: end_of_data.clone(),
                };
                let mut session = builder.build(peer.ip(), handler);
                tokio::spawn(async move {
                    let mut stream = BufReader::new(sock);
                    let Ok(greeting) = session.greeting().buffer() else {
                        return;
                    };
                    if stream.write_all(&greeting).await.is_err() {
                        return;
                    }
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        if stream.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                            break;
                        }
                        let mut r = session.process(&line);
                        let scripted = end_of_data.lock().unwrap().take();
                        match scripted {
                            None => {}
                            Some(Reply::Code(code, text)) => r = Response::custom(code, text),
                            // Hold the connection open and say nothing, like a stuck server.
                            Some(Reply::Hang) => std::future::pending::<()>().await,
                        }
                        let Ok(buf) = r.buffer() else { break };
                        match r.action {
                            Action::Reply => {
                                if stream.write_all(&buf).await.is_err() {
                                    break;
                                }
                            }
                            Action::Close => {
                                let _ = stream.write_all(&buf).await;
                                break;
                            }
                            Action::NoReply => {}
                            Action::UpgradeTls => break,
                        }
                    }
                });
            }
        });
        SmtpSink { addr, rx }
    }

    /// A server that accepts connections and never sends a byte, not even a greeting.
    pub async fn start_silent() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind silent server");
        let addr = listener.local_addr().expect("silent server address");
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((sock, _)) = listener.accept().await {
                held.push(sock);
            }
        });
        addr
    }

    /// The next message that reached the end of DATA (waits up to 5 s).
    pub async fn next(&mut self) -> Option<Received> {
        tokio::time::timeout(Duration::from_secs(5), self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Messages already received, without waiting.
    pub fn drain(&mut self) -> Vec<Received> {
        let mut out = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            out.push(m);
        }
        out
    }
}

// ---- a little MIME, enough to read what lettre sends ------------------------------

/// One MIME part: headers (names lowercased) and the decoded body with LF line ends.
pub struct Part {
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// Splits header section and body; unfolds headers; names lowercased.
pub fn split(raw: &str) -> (Vec<(String, String)>, String) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    (headers, body.to_string())
}

fn decode_qp(s: &str) -> String {
    let bytes = s.replace("=\r\n", "").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'='
            && let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).expect("QP decodes to UTF-8")
}

fn decode(body: &str, cte: &str) -> String {
    let decoded = match cte.to_ascii_lowercase().as_str() {
        "base64" => String::from_utf8(
            BASE64
                .decode(body.split_whitespace().collect::<String>())
                .unwrap(),
        )
        .unwrap(),
        "quoted-printable" => decode_qp(body),
        _ => body.to_string(),
    };
    decoded.replace("\r\n", "\n")
}

/// The top-level headers and the parts of a multipart message.
pub fn parts(raw: &str) -> (Vec<(String, String)>, Vec<Part>) {
    let (headers, body) = split(raw);
    let ct = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let boundary = ct
        .split("boundary=")
        .nth(1)
        .expect("multipart boundary")
        .trim_matches('"')
        .to_string();
    let mut out = Vec::new();
    for chunk in body.split(&format!("--{boundary}")).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let (h, b) = split(chunk.trim_start_matches("\r\n"));
        let h: HashMap<String, String> = h.into_iter().collect();
        let b = b.strip_suffix("\r\n").unwrap_or(&b).to_string();
        let cte = h
            .get("content-transfer-encoding")
            .cloned()
            .unwrap_or_default();
        out.push(Part {
            body: decode(&b, &cte),
            headers: h,
        });
    }
    (headers, out)
}

/// The first header called `name` (lowercase).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
