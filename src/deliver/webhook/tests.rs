use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::deliver::ErrorKind;

fn digest() -> Digest {
    Digest {
        id: "d-1".into(),
        destination: "team-hook".into(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        items: vec![DigestItem {
            id: "guid-1".into(),
            feed: "tass".into(),
            feeds: vec!["tass".into(), "ria".into()],
            title: "CSTO summit".into(),
            link: Some("https://example.org/1".into()),
            published: Some(Utc.with_ymd_and_hms(2026, 12, 1, 11, 5, 0).unwrap()),
            summary: "The CSTO met.".into(),
            rules: vec!["csto".into()],
            matched: vec!["CSTO".into()],
        }],
    }
}

fn cfg(format: WebhookFormat) -> WebhookConfig {
    WebhookConfig {
        url: "https://hooks.example.org/feedwatch".parse().unwrap(),
        format,
        secret: None,
        template: None,
        content_type: "application/json".into(),
        chat_id: None,
        headers: vec![],
    }
}

#[test]
fn json_body_is_the_documented_schema() {
    let mut d = digest();
    d.items[0].published = None;
    let body: serde_json::Value = serde_json::to_value(Payload::new(&d)).unwrap();
    assert_eq!(
        body,
        json!({
            "type": "feedwatch.digest", "version": 1, "id": "d-1", "destination": "team-hook",
            "created_at": "2026-12-01T12:00:00Z",
            "items": [{
                "id": "guid-1", "feed": "tass", "feeds": ["tass", "ria"], "title": "CSTO summit",
                "link": "https://example.org/1", "published": null, "summary": "The CSTO met.",
                "rules": ["csto"], "matched": ["CSTO"]
            }]
        })
    );
    let published = serde_json::to_value(Payload::new(&digest())).unwrap();
    assert_eq!(published["items"][0]["published"], "2026-12-01T11:05:00Z");
}

#[test]
fn signature_matches_standard_webhooks_vector() {
    // The example from the Standard Webhooks specification.
    let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
    let sig = signature(
        &secret,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        br#"{"test": 2432232314}"#,
    )
    .unwrap();
    assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn signature_key_forms() {
    // Without the prefix the secret's bytes are the key.
    let raw = signature(&Secret::new("s3cret".into()), "id", 1, b"{}").unwrap();
    let prefixed = signature(
        &Secret::new(format!("whsec_{}", BASE64.encode("s3cret"))),
        "id",
        1,
        b"{}",
    )
    .unwrap();
    assert_eq!(raw, prefixed);
    let bad = signature(&Secret::new("whsec_not base64!".into()), "id", 1, b"{}").unwrap_err();
    assert_eq!(bad.kind, ErrorKind::Permanent);
    assert!(
        !bad.message.contains("not base64!"),
        "the secret must not appear: {}",
        bad.message
    );
}

#[test]
fn headers_without_and_with_secret() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 5).unwrap();
    let req = build_request(&cfg(WebhookFormat::Json), &digest(), chrono_tz::UTC, now).unwrap();
    assert_eq!(req.headers["webhook-id"], "d-1");
    assert_eq!(req.headers["content-type"], "application/json");
    assert_eq!(req.headers["user-agent"], crate::USER_AGENT);
    assert!(req.headers.get("webhook-signature").is_none());
    assert!(req.headers.get("webhook-timestamp").is_none());

    let mut c = cfg(WebhookFormat::Json);
    c.secret = Some(Secret::new("s3cret".into()));
    c.headers = vec![
        ("Authorization".into(), "Bearer t".into()),
        ("webhook-id".into(), "forged".into()),
    ];
    let req = build_request(&c, &digest(), chrono_tz::UTC, now).unwrap();
    assert_eq!(
        req.headers["webhook-id"], "d-1",
        "our id wins over a configured header"
    );
    assert_eq!(req.headers["authorization"], "Bearer t");
    assert_eq!(
        req.headers["webhook-timestamp"],
        now.timestamp().to_string().as_str()
    );
    let want = signature(
        c.secret.as_ref().unwrap(),
        "d-1",
        now.timestamp(),
        &req.body,
    )
    .unwrap();
    assert_eq!(req.headers["webhook-signature"], want.as_str());
}

#[test]
fn configuration_faults_are_permanent() {
    let mut bad_header = cfg(WebhookFormat::Json);
    bad_header.headers = vec![("X-Token".into(), "line\r\nbreak".into())];
    let mut bad_name = cfg(WebhookFormat::Json);
    bad_name.headers = vec![("bad name".into(), "v".into())];
    let no_chat = cfg(WebhookFormat::Telegram);
    let no_template = cfg(WebhookFormat::Template);
    let mut broken_template = cfg(WebhookFormat::Template);
    broken_template.template = Some("{{ digest.nope }}".into());
    for (c, want) in [
        (
            bad_header,
            "webhook header `X-Token` has a value that is not valid in HTTP",
        ),
        (
            bad_name,
            "webhook header name `bad name` is not a valid HTTP header name",
        ),
        (no_chat, "the telegram format needs `chat_id`"),
        (no_template, "the template format needs `template`"),
        (broken_template, "the webhook template does not render"),
    ] {
        let err = build_request(&c, &digest(), chrono_tz::UTC, Utc::now()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Permanent);
        assert!(err.message.starts_with(want), "{} vs {want}", err.message);
        assert!(
            !err.message.contains("break"),
            "header values are never echoed"
        );
    }
}

#[test]
fn ntfy_headers() {
    let mut d = digest();
    d.items[0].rules = vec!["одкб".into()];
    let req = build_request(&cfg(WebhookFormat::Ntfy), &d, chrono_tz::UTC, Utc::now()).unwrap();
    let title = req.headers["title"].to_str().unwrap();
    assert!(
        title.starts_with("=?UTF-8?B?") && title.ends_with("?="),
        "{title}"
    );
    let decoded = BASE64.decode(&title[10..title.len() - 2]).unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "[feedwatch] 1 new: одкб (1)"
    );
    assert_eq!(req.headers["click"], "https://example.org/1");
    assert_eq!(req.headers["markdown"], "yes");
    assert!(
        req.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[test]
fn status_classification() {
    let s = Some(Duration::from_secs(7));
    let cases: &[(u16, Option<Duration>, &str, ErrorKind)] = &[
        (500, None, "", ErrorKind::Transient { retry_after: None }),
        (503, s, "", ErrorKind::Transient { retry_after: s }),
        (502, None, "", ErrorKind::Transient { retry_after: None }),
        (408, None, "", ErrorKind::Transient { retry_after: None }),
        (429, s, "", ErrorKind::Transient { retry_after: s }),
        (
            429,
            None,
            r#"{"retry_after": 1.5}"#,
            ErrorKind::Transient {
                retry_after: Some(Duration::from_millis(1500)),
            },
        ),
        (
            429,
            None,
            r#"{"ok":false,"parameters":{"retry_after":12}}"#,
            ErrorKind::Transient {
                retry_after: Some(Duration::from_secs(12)),
            },
        ),
        (400, None, "", ErrorKind::Permanent),
        (401, None, "", ErrorKind::Permanent),
        (404, None, "", ErrorKind::Permanent),
        (410, None, "", ErrorKind::Permanent),
        (301, None, "", ErrorKind::Permanent),
    ];
    for (status, wait, body, want) in cases {
        assert_eq!(
            classify_status(*status, None, *wait, body).kind,
            *want,
            "{status} {body}"
        );
    }
}

#[test]
fn status_message_has_status_and_body_start() {
    let body = format!("invalid_blocks\n{}", "x".repeat(500));
    let e = classify_status(400, Some("Bad Request"), None, &body);
    assert!(
        e.message
            .starts_with("HTTP 400 Bad Request: invalid_blocks xxx"),
        "{}",
        e.message
    );
    assert!(
        e.message.chars().count() < 260,
        "{}",
        e.message.chars().count()
    );
    assert_eq!(
        classify_status(500, Some("Internal Server Error"), None, "").message,
        "HTTP 500 Internal Server Error"
    );
}

#[test]
fn retry_after_values() {
    let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).unwrap();
    let cases: &[(&str, Option<u64>)] = &[
        ("7", Some(7)),
        (" 120 ", Some(120)),
        ("0", Some(0)),
        ("999999999999999999999999", Some(86400)),
        ("172800", Some(86400)),
        ("Wed, 21 Oct 2015 07:28:00 GMT", Some(60)),
        ("Wednesday, 21-Oct-15 07:28:00 GMT", Some(60)),
        ("Wed Oct 21 07:28:00 2015", Some(60)),
        ("Wed, 21 Oct 2015 07:00:00 GMT", Some(0)),
        ("-5", None),
        ("soon", None),
        ("", None),
    ];
    for (v, want) in cases {
        assert_eq!(
            parse_retry_after(v, now),
            want.map(Duration::from_secs),
            "{v:?}"
        );
    }
}
