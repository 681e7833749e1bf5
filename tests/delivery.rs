//! Delivery against real servers on 127.0.0.1: an SMTP sink (mailin) and an HTTP
//! receiver (axum), both answering from scripts.

mod util;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{TimeZone, Utc};
use feedwatch::config::{
    DestinationConfig, DestinationKind, EmailConfig, EmailTransport, Secret, TlsMode,
    WebhookConfig, WebhookFormat,
};
use feedwatch::deliver::{Deliverer, DeliveryError, ErrorKind};
use feedwatch::model::{Digest, DigestItem};
use feedwatch::schedule::Schedule;
use util::http::{self, HttpReceiver};
use util::smtp::{self, SmtpSink, header, parts, split};

const HOSTILE_TITLE: &str = "<script>alert(1)</script> Evil\r\nBcc: x@y";

fn digest(id: &str) -> Digest {
    let at = |h, m| Some(Utc.with_ymd_and_hms(2026, 12, 1, h, m, 0).unwrap());
    let item = |n: u32, title: &str, rules: &[&str], matched: &[&str], summary: &str, published| {
        DigestItem {
            id: format!("guid-{n}"),
            feed: "tass".into(),
            feeds: vec!["tass".into()],
            title: title.into(),
            link: Some(format!("https://example.org/news/{n}")),
            published,
            summary: summary.into(),
            rules: rules.iter().map(|s| s.to_string()).collect(),
            matched: matched.iter().map(|s| s.to_string()).collect(),
        }
    };
    Digest {
        id: id.into(),
        destination: "ops-mail".into(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 11, 30, 0).unwrap(),
        items: vec![
            item(
                1,
                "CSTO summit opens in Bishkek",
                &["csto"],
                &["CSTO"],
                "Leaders of the CSTO met on Monday.",
                at(11, 5),
            ),
            item(
                2,
                "Lavrov visits Kyrgyzstan",
                &["lavrov-kyrgyzstan", "csto"],
                &["Lavrov", "CSTO"],
                "Sergei Lavrov discussed CSTO matters.",
                at(9, 0),
            ),
            item(
                3,
                HOSTILE_TITLE,
                &["csto"],
                &["csto"],
                "A <b>csto</b> story with markup.",
                None,
            ),
        ],
    }
}

fn destination(name: &str, kind: DestinationKind, timeout: Duration) -> DestinationConfig {
    DestinationConfig {
        name: name.into(),
        kind,
        digest: Schedule::Immediate,
        timezone: chrono_tz::Europe::Moscow,
        max_items: 100,
        retry_for: Duration::from_secs(3 * 24 * 3600),
        timeout,
    }
}

fn email_dest(
    port: u16,
    username: Option<&str>,
    password: Option<&str>,
    timeout: Duration,
) -> DestinationConfig {
    let kind = DestinationKind::Email(EmailConfig {
        to: vec![
            "analyst@example.org".parse().unwrap(),
            "Second <second@example.org>".parse().unwrap(),
        ],
        from: "feedwatch <feedwatch@example.org>".parse().unwrap(),
        transport: EmailTransport::Smtp {
            host: "127.0.0.1".into(),
            port,
            tls: TlsMode::None,
            username: username.map(String::from),
            password: password.map(|p| Secret::new(p.into())),
        },
    });
    destination("ops-mail", kind, timeout)
}

fn webhook_dest(url: url::Url, format: WebhookFormat, secret: Option<&str>) -> DestinationConfig {
    let kind = DestinationKind::Webhook(WebhookConfig {
        url,
        format,
        secret: secret.map(|s| Secret::new(s.into())),
        template: None,
        content_type: "application/json".into(),
        chat_id: Some("-100123".into()),
        headers: vec![],
    });
    destination("team-hook", kind, Duration::from_secs(10))
}

fn deliverer() -> Deliverer {
    Deliverer::new().expect("HTTP client")
}

const SECS: Duration = Duration::from_secs(10);

// ---- email ----------------------------------------------------------------------------

#[tokio::test]
async fn smtp_sink_receives_the_digest() {
    let mut sink = SmtpSink::start(vec![]).await;
    let d = digest("d-smtp-1");
    deliverer()
        .deliver(&email_dest(sink.addr.port(), None, None, SECS), &d)
        .await
        .expect("delivered");
    let got = sink.next().await.expect("a message");
    assert_eq!(got.reply, Some(250));
    let mut to = got.to.clone();
    to.sort();
    assert_eq!(
        to,
        vec!["analyst@example.org", "second@example.org"],
        "only the configured recipients"
    );
    assert_eq!(got.from, "feedwatch@example.org");

    let raw = got.text();
    let (headers, parts) = parts(&raw);
    assert_eq!(
        header(&headers, "subject"),
        Some("[feedwatch] 3 new: csto (3), lavrov-kyrgyzstan (1)")
    );
    assert_eq!(header(&headers, "message-id"), Some("<d-smtp-1@feedwatch>"));
    assert_eq!(header(&headers, "auto-submitted"), Some("auto-generated"));
    assert_eq!(header(&headers, "list-id"), Some("<ops-mail.feedwatch>"));
    assert_eq!(
        header(&headers, "date"),
        Some("Tue, 01 Dec 2026 11:30:00 +0000")
    );
    assert!(
        header(&headers, "bcc").is_none(),
        "a title must not inject a header: {raw}"
    );
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("multipart/alternative")
    );

    assert_eq!(parts.len(), 2);
    let text = parts
        .iter()
        .find(|p| p.headers["content-type"].starts_with("text/plain"))
        .expect("text part");
    let html = parts
        .iter()
        .find(|p| p.headers["content-type"].starts_with("text/html"))
        .expect("html part");
    assert!(text.body.contains("* CSTO summit opens in Bishkek\n  tass · 2026-12-01 14:05 MSK\n  https://example.org/news/1\n  Leaders of the *CSTO* met on Monday.\n"), "{}", text.body);
    assert!(
        text.body.contains("*Lavrov* discussed *CSTO* matters"),
        "{}",
        text.body
    );
    assert!(
        text.body
            .contains("* <script>alert(1)</script> Evil Bcc: x@y\n"),
        "hostile title on one line: {}",
        text.body
    );
    assert!(
        html.body.contains(
            "<a href=\"https://example.org/news/1\"><b>CSTO</b> summit opens in Bishkek</a>"
        ),
        "{}",
        html.body
    );
    assert!(
        html.body
            .contains("Leaders of the <b>CSTO</b> met on Monday."),
        "{}",
        html.body
    );
    assert!(
        html.body
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; Evil Bcc: x@y"),
        "{}",
        html.body
    );
    assert!(!html.body.contains("<script>"), "{}", html.body);
    assert!(
        html.body.contains("A &lt;b&gt;<b>csto</b>&lt;/b&gt; story"),
        "{}",
        html.body
    );
}

#[tokio::test]
async fn smtp_451_is_transient_and_the_retry_reuses_the_message_id() {
    let mut sink = SmtpSink::start(vec![
        smtp::Reply::code(451, "greylisted, try later"),
        smtp::Reply::code(451, "greylisted, try later"),
    ])
    .await;
    let dest = email_dest(sink.addr.port(), None, None, SECS);
    let d = digest("d-smtp-451");
    let del = deliverer();
    for _ in 0..2 {
        let err = del.deliver(&dest, &d).await.unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::Transient { retry_after: None },
            "{err:?}"
        );
        assert!(
            err.message.contains("451") && err.message.contains("greylisted, try later"),
            "{}",
            err.message
        );
    }
    del.deliver(&dest, &d)
        .await
        .expect("third attempt accepted");
    let seen: Vec<_> = sink.drain();
    assert_eq!(
        seen.iter().map(|m| m.reply).collect::<Vec<_>>(),
        vec![Some(451), Some(451), Some(250)]
    );
    assert_eq!(
        seen.iter().filter(|m| m.accepted()).count(),
        1,
        "delivered exactly once"
    );
    let ids: Vec<String> = seen
        .iter()
        .map(|m| {
            header(&split(&m.text()).0, "message-id")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(
        ids.iter().all(|id| id == "<d-smtp-451@feedwatch>"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn smtp_550_is_permanent_with_the_reply_text() {
    let sink = SmtpSink::start(vec![smtp::Reply::code(
        550,
        "mailbox unavailable: no such user",
    )])
    .await;
    let err = deliverer()
        .deliver(
            &email_dest(sink.addr.port(), None, None, SECS),
            &digest("d-550"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent, "{}", err.message);
    assert!(
        err.message
            .starts_with("SMTP 550 mailbox unavailable: no such user"),
        "{}",
        err.message
    );
}

fn assert_deadline(err: &DeliveryError, started: Instant) {
    assert!(err.is_transient(), "{err:?}");
    assert!(
        err.message.contains("no complete reply within 300ms"),
        "{}",
        err.message
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn smtp_server_that_never_answers_hits_the_deadline() {
    let addr = SmtpSink::start_silent().await;
    let started = Instant::now();
    let err = deliverer()
        .deliver(
            &email_dest(addr.port(), None, None, Duration::from_millis(300)),
            &digest("d-silent"),
        )
        .await
        .unwrap_err();
    assert_deadline(&err, started);
}

#[tokio::test]
async fn smtp_server_that_stalls_after_data_hits_the_deadline() {
    let mut sink = SmtpSink::start(vec![smtp::Reply::Hang]).await;
    let started = Instant::now();
    let err = deliverer()
        .deliver(
            &email_dest(sink.addr.port(), None, None, Duration::from_millis(300)),
            &digest("d-hang"),
        )
        .await
        .unwrap_err();
    assert_deadline(&err, started);
    assert_eq!(
        sink.next().await.map(|m| m.reply),
        Some(None),
        "the message reached the server, unanswered"
    );
}

#[tokio::test]
async fn smtp_auth_uses_the_configured_credentials() {
    let opts = smtp::Options {
        script: vec![],
        auth: Some(("feedwatch".into(), "s3cret".into())),
    };
    let mut sink = SmtpSink::start_with(opts.clone()).await;
    deliverer()
        .deliver(
            &email_dest(sink.addr.port(), Some("feedwatch"), Some("s3cret"), SECS),
            &digest("d-auth"),
        )
        .await
        .expect("authenticated delivery");
    assert_eq!(
        sink.next().await.and_then(|m| m.user).as_deref(),
        Some("feedwatch")
    );

    let sink = SmtpSink::start_with(opts).await;
    let err = deliverer()
        .deliver(
            &email_dest(
                sink.addr.port(),
                Some("feedwatch"),
                Some("wrong-password"),
                SECS,
            ),
            &digest("d-auth"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent);
    assert!(err.message.starts_with("SMTP 535"), "{}", err.message);
    assert!(!err.message.contains("wrong-password"), "{}", err.message);
}

async fn closed_port() -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn smtp_connection_refused_is_transient() {
    let port = closed_port().await;
    let err = deliverer()
        .deliver(&email_dest(port, None, None, SECS), &digest("d-refused"))
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(err.message.contains("127.0.0.1"), "{}", err.message);
}

fn sendmail_dest(command: &std::path::Path) -> DestinationConfig {
    let kind = DestinationKind::Email(EmailConfig {
        to: vec!["analyst@example.org".parse().unwrap()],
        from: "feedwatch@example.org".parse().unwrap(),
        transport: EmailTransport::Sendmail {
            command: Some(command.to_path_buf()),
        },
    });
    destination("local-mta", kind, SECS)
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[tokio::test]
async fn sendmail_transport_hands_the_message_to_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.eml");
    let args = dir.path().join("args");
    let ok = script(
        dir.path(),
        "ok-sendmail",
        &format!(
            "echo \"$@\" > '{}'; cat > '{}'",
            args.display(),
            out.display()
        ),
    );
    deliverer()
        .deliver(&sendmail_dest(&ok), &digest("d-sendmail"))
        .await
        .expect("sendmail accepted");
    let raw = std::fs::read_to_string(&out).unwrap();
    assert!(raw.contains("Message-ID: <d-sendmail@feedwatch>"), "{raw}");
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        "-i -f feedwatch@example.org -- analyst@example.org"
    );

    let tempfail = script(
        dir.path(),
        "busy-sendmail",
        "cat > /dev/null; echo 'queue is full' >&2; exit 75",
    );
    let err = deliverer()
        .deliver(&sendmail_dest(&tempfail), &digest("d-sendmail"))
        .await
        .unwrap_err();
    assert!(
        err.is_transient() && err.message.contains("queue is full"),
        "{err:?}"
    );

    let err = deliverer()
        .deliver(
            &sendmail_dest(&dir.path().join("missing")),
            &digest("d-sendmail"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent, "{err:?}");
}

// ---- webhooks -------------------------------------------------------------------------

#[tokio::test]
async fn webhook_json_schema_and_signature() {
    let secret = format!(
        "whsec_{}",
        BASE64.encode(b"a shared secret of 32 bytes.....")
    );
    let rx = HttpReceiver::start(vec![]).await;
    let d = digest("d-hook-1");
    deliverer()
        .deliver(
            &webhook_dest(rx.url("/feedwatch"), WebhookFormat::Json, Some(&secret)),
            &d,
        )
        .await
        .expect("delivered");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.uri.path(), "/feedwatch");
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        req.header("user-agent").as_deref(),
        Some(feedwatch::USER_AGENT)
    );
    assert_eq!(req.header("webhook-id").as_deref(), Some("d-hook-1"));
    let ts: i64 = req.header("webhook-timestamp").unwrap().parse().unwrap();
    assert!((Utc::now().timestamp() - ts).abs() < 60);
    assert!(req.signature_valid(&secret), "signature must verify");

    let body = req.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(
        keys_sorted,
        vec![
            "created_at",
            "destination",
            "id",
            "items",
            "type",
            "version"
        ]
    );
    assert_eq!(body["type"], "feedwatch.digest");
    assert_eq!(body["version"], 1);
    assert_eq!(body["id"], "d-hook-1");
    assert_eq!(body["destination"], "ops-mail");
    assert_eq!(body["created_at"], "2026-12-01T11:30:00Z");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let mut item_keys: Vec<&str> = items[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    item_keys.sort();
    assert_eq!(
        item_keys,
        vec![
            "feed",
            "feeds",
            "id",
            "link",
            "matched",
            "published",
            "rules",
            "summary",
            "title"
        ]
    );
    assert_eq!(
        items[1]["rules"],
        serde_json::json!(["lavrov-kyrgyzstan", "csto"])
    );
    assert_eq!(items[0]["published"], "2026-12-01T11:05:00Z");
    assert_eq!(items[2]["published"], serde_json::Value::Null);
    assert_eq!(
        items[2]["title"], HOSTILE_TITLE,
        "JSON carries the title as is; receivers escape"
    );

    // Tampering breaks verification.
    let mut tampered = req.clone();
    tampered.body = axum::body::Bytes::from(req.body.iter().rev().copied().collect::<Vec<u8>>());
    assert!(!tampered.signature_valid(&secret));
}

#[tokio::test]
async fn webhook_status_classification_against_a_real_server() {
    let cases: Vec<(http::Reply, ErrorKind, &str)> = vec![
        (
            http::Reply::with_body(500, "upstream exploded"),
            ErrorKind::Transient { retry_after: None },
            "HTTP 500 Internal Server Error: upstream exploded",
        ),
        (
            http::Reply::with_body(400, "invalid_payload"),
            ErrorKind::Permanent,
            "HTTP 400 Bad Request: invalid_payload",
        ),
        (
            http::Reply::with_header(429, "Retry-After", "7"),
            ErrorKind::Transient {
                retry_after: Some(Duration::from_secs(7)),
            },
            "HTTP 429 Too Many Requests",
        ),
        (
            http::Reply::with_body(410, "channel archived"),
            ErrorKind::Permanent,
            "HTTP 410 Gone: channel archived",
        ),
        (
            http::Reply::with_header(302, "Location", "http://elsewhere.example/"),
            ErrorKind::Permanent,
            "HTTP 302 Found",
        ),
    ];
    for (reply, kind, message) in cases {
        let rx = HttpReceiver::start(vec![reply]).await;
        let err = deliverer()
            .deliver(
                &webhook_dest(rx.url("/hook"), WebhookFormat::Json, None),
                &digest("d-status"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, kind, "{message}");
        assert!(
            err.message.starts_with(message),
            "{} vs {message}",
            err.message
        );
        assert_eq!(
            rx.requests().len(),
            1,
            "one attempt per call, redirects not followed"
        );
    }
}

#[tokio::test]
async fn webhook_id_is_the_digest_id_on_every_send() {
    let rx = HttpReceiver::start(vec![http::Reply::status(500), http::Reply::status(500)]).await;
    let dest = webhook_dest(rx.url("/hook"), WebhookFormat::Json, Some("plain-secret"));
    let d = digest("d-same-id");
    let del = deliverer();
    for _ in 0..2 {
        assert!(del.deliver(&dest, &d).await.unwrap_err().is_transient());
    }
    del.deliver(&dest, &d).await.expect("third send accepted");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 3);
    for r in &reqs {
        assert_eq!(r.header("webhook-id").as_deref(), Some("d-same-id"));
        assert_eq!(r.body, reqs[0].body, "a retry sends the same body");
        assert!(
            r.signature_valid("plain-secret"),
            "a secret without whsec_ is used as raw bytes"
        );
    }
}

#[tokio::test]
async fn webhook_that_never_answers_hits_the_deadline() {
    let rx = HttpReceiver::start(vec![http::Reply::Hang]).await;
    let mut dest = webhook_dest(rx.url("/hook"), WebhookFormat::Json, None);
    dest.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let err = deliverer()
        .deliver(&dest, &digest("d-hook-hang"))
        .await
        .unwrap_err();
    assert_deadline(&err, started);
}

#[tokio::test]
async fn webhook_errors_never_show_secrets_from_the_url() {
    let rx = HttpReceiver::start(vec![http::Reply::with_body(500, "nope")]).await;
    let mut url = rx.url("/botTOKEN123/sendMessage");
    url.set_username("user").unwrap();
    url.set_password(Some("hunter2")).unwrap();
    let err = deliverer()
        .deliver(
            &webhook_dest(url, WebhookFormat::Telegram, None),
            &digest("d-userinfo"),
        )
        .await
        .unwrap_err();
    assert!(
        !err.message.contains("hunter2") && !err.message.contains("TOKEN123"),
        "{}",
        err.message
    );
    let req = &rx.requests()[0];
    assert_eq!(
        req.header("authorization"),
        Some(format!("Basic {}", BASE64.encode("user:hunter2")))
    );

    let refused = url::Url::parse(&format!(
        "http://127.0.0.1:{}/botTOKEN123/sendMessage",
        closed_port().await
    ))
    .unwrap();
    let err = deliverer()
        .deliver(
            &webhook_dest(refused, WebhookFormat::Telegram, None),
            &digest("d-refused"),
        )
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert!(!err.message.contains("TOKEN123"), "{}", err.message);
}

#[tokio::test]
async fn chat_formats_post_what_the_services_accept() {
    let rx = HttpReceiver::start(vec![]).await;
    let del = deliverer();
    let d = digest("d-chat");
    for format in [
        WebhookFormat::Slack,
        WebhookFormat::Discord,
        WebhookFormat::Telegram,
        WebhookFormat::Ntfy,
    ] {
        del.deliver(&webhook_dest(rx.url("/chat"), format, None), &d)
            .await
            .expect("delivered");
    }
    let reqs = rx.requests();
    let slack = reqs[0].json();
    assert_eq!(
        slack["text"],
        "[feedwatch] 3 new: csto (3), lavrov-kyrgyzstan (1)"
    );
    assert!(
        slack["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*<https://example.org/news/1|CSTO summit opens in Bishkek>*")
    );
    let discord = reqs[1].json();
    assert_eq!(discord["embeds"].as_array().unwrap().len(), 3);
    assert_eq!(discord["allowed_mentions"]["parse"], serde_json::json!([]));
    let telegram = reqs[2].json();
    assert_eq!(telegram["chat_id"], "-100123");
    assert_eq!(telegram["parse_mode"], "HTML");
    assert!(
        telegram["text"]
            .as_str()
            .unwrap()
            .contains("&lt;script&gt;")
    );
    let ntfy = &reqs[3];
    assert_eq!(ntfy.header("markdown").as_deref(), Some("yes"));
    assert_eq!(
        ntfy.header("click").as_deref(),
        Some("https://example.org/news/1")
    );
    assert!(
        String::from_utf8_lossy(&ntfy.body)
            .contains("**[CSTO summit opens in Bishkek](https://example.org/news/1)**")
    );
    for r in &reqs {
        assert_eq!(r.header("webhook-id").as_deref(), Some("d-chat"));
    }
}

#[tokio::test]
async fn template_format_uses_the_configured_content_type() {
    let rx = HttpReceiver::start(vec![]).await;
    let mut dest = webhook_dest(rx.url("/t"), WebhookFormat::Template, None);
    if let DestinationKind::Webhook(w) = &mut dest.kind {
        w.template = Some("{% for i in digest.items %}{{ i.title }}\n{% endfor %}".into());
        w.content_type = "text/plain; charset=utf-8".into();
    }
    deliverer()
        .deliver(&dest, &digest("d-tpl"))
        .await
        .expect("delivered");
    let req = &rx.requests()[0];
    assert_eq!(
        req.header("content-type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        String::from_utf8_lossy(&req.body)
            .starts_with("CSTO summit opens in Bishkek\nLavrov visits Kyrgyzstan\n")
    );
}

#[tokio::test]
async fn stdout_destination_writes() {
    let dest = destination("console", DestinationKind::Stdout, SECS);
    deliverer()
        .deliver(&dest, &digest("d-stdout"))
        .await
        .expect("stdout written");
}
