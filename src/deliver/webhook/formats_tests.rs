use chrono::{TimeZone, Utc};

use super::*;

fn item(n: usize, title: &str, summary: &str) -> DigestItem {
    DigestItem {
        id: format!("id-{n}"),
        feed: "tass".into(),
        feeds: vec!["tass".into()],
        title: title.into(),
        link: Some(format!("https://example.org/{n}")),
        published: Some(Utc.with_ymd_and_hms(2026, 12, 1, 11, 5, 0).unwrap()),
        summary: summary.into(),
        rules: vec!["csto".into()],
        matched: vec!["CSTO".into()],
    }
}

fn digest(items: Vec<DigestItem>) -> Digest {
    Digest {
        id: "d-1".into(),
        destination: "chat".into(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        items,
    }
}

fn many(n: usize, summary_len: usize) -> Digest {
    let summary = format!("The CSTO {}", "word ".repeat(summary_len / 5));
    digest(
        (0..n)
            .map(|i| item(i, &format!("Item {i} about CSTO"), &summary))
            .collect(),
    )
}

const HOSTILE: &str = "<script>x</script> & @everyone *bold* [a](b) | CSTO";

const TZ: Tz = chrono_tz::Europe::Moscow;

#[test]
fn slack_shape_and_escaping() {
    let v = slack(&digest(vec![item(1, HOSTILE, "a <b> CSTO")]), TZ);
    assert_eq!(v["text"], "[feedwatch] 1 new: csto (1)");
    assert_eq!(v["blocks"][0]["type"], "header");
    let text = v["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("*<https://example.org/1|&lt;script&gt;x&lt;/script&gt; &amp; @everyone *bold* [a](b) ¦ CSTO>*\n"),
        "{text}"
    );
    assert!(
        text.contains("_tass · 2026-12-01 14:05 MSK · csto_"),
        "{text}"
    );
    assert!(text.ends_with("\n>a &lt;b&gt; *CSTO*"), "{text}");
}

#[test]
fn slack_limits() {
    let v = slack(&many(60, 5000), TZ);
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 50);
    assert_eq!(blocks[49]["elements"][0]["text"], "… and 12 more");
    for b in &blocks[1..49] {
        assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 3000);
    }
    assert_eq!(
        slack(&many(49, 10), TZ)["blocks"].as_array().unwrap().len(),
        50,
        "49 items fit without a note"
    );
}

#[test]
fn discord_shape_and_limits() {
    let v = discord(&digest(vec![item(1, HOSTILE, "CSTO")]), TZ);
    assert_eq!(v["allowed_mentions"]["parse"], serde_json::json!([]));
    let e = &v["embeds"][0];
    assert_eq!(e["url"], "https://example.org/1");
    assert_eq!(e["timestamp"], "2026-12-01T11:05:00Z");
    assert_eq!(e["description"], "**CSTO**");

    let v = discord(&many(30, 280), TZ);
    let embeds = v["embeds"].as_array().unwrap();
    assert!(embeds.len() <= 10);
    let total: usize = embeds
        .iter()
        .map(|e| {
            ["title", "description"]
                .iter()
                .map(|k| e[k].as_str().unwrap_or("").chars().count())
                .sum::<usize>()
                + e["footer"]["text"].as_str().unwrap_or("").chars().count()
        })
        .sum();
    assert!(total <= 6000, "{total}");
    let content = v["content"].as_str().unwrap();
    assert!(
        content.ends_with(&format!("… and {} more", 30 - embeds.len())),
        "{content}"
    );
    assert!(content.chars().count() <= 2000);
}

#[test]
fn ntfy_body_is_bounded() {
    let m = ntfy(&many(100, 300), TZ);
    assert!(m.body.len() <= 4096, "{}", m.body.len());
    assert!(m.body.ends_with(" more"), "{}", m.body);
    assert_eq!(m.click.as_deref(), Some("https://example.org/0"));
    let one = ntfy(&digest(vec![item(1, HOSTILE, "the CSTO")]), TZ);
    assert!(one.body.starts_with("**[\\<script\\>x\\</script\\> & @everyone \\*bold\\* \\[a\\]\\(b\\) \\| CSTO](https://example.org/1)**"), "{}", one.body);
    assert!(one.body.ends_with("the **CSTO**"), "{}", one.body);
}

#[test]
fn telegram_text_is_escaped_and_bounded() {
    let text = telegram_text(&digest(vec![item(1, HOSTILE, "a <b> CSTO")]), TZ);
    assert!(text.starts_with("<b>[feedwatch] 1 new: csto (1)</b>\n\n<a href=\"https://example.org/1\">&lt;script&gt;x&lt;/script&gt; &amp; "), "{text}");
    assert!(text.ends_with("a &lt;b&gt; <b>CSTO</b>"), "{text}");
    let long = telegram_text(&many(100, 300), TZ);
    assert!(long.chars().count() <= 4096, "{}", long.chars().count());
    assert!(long.ends_with(" more"));
    // Cut between items only: every opened tag is closed.
    assert_eq!(long.matches("<a ").count(), long.matches("</a>").count());
    let v = telegram(&many(1, 10), TZ, "-100123");
    assert_eq!(v["chat_id"], "-100123");
    assert_eq!(v["parse_mode"], "HTML");
    assert_eq!(v["disable_web_page_preview"], true);
}

#[test]
fn template_escapes_for_its_content_type() {
    let d = digest(vec![item(1, "Say \"hi\" <now>", "CSTO")]);
    let json_out = template(
        r#"{"n": {{ digest.items|length }}, "t": {{ digest.items[0].title }}, "s": {{ subject }}}"#,
        "application/json",
        &d,
        TZ,
    )
    .unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(parsed["t"], "Say \"hi\" <now>");
    assert_eq!(parsed["n"], 1);
    assert_eq!(parsed["s"], "[feedwatch] 1 new: csto (1)");
    let html = template("<p>{{ digest.items[0].title }}</p>", "text/html", &d, TZ).unwrap();
    assert_eq!(html, "<p>Say &quot;hi&quot; &lt;now&gt;</p>");
    let raw = template(
        "{% for i in digest.items %}{{ i.id }} {{ i.published }}{% endfor %}",
        "text/plain",
        &d,
        TZ,
    )
    .unwrap();
    assert_eq!(raw, "id-1 2026-12-01T11:05:00Z");
    let err = template("{{ digest.missing }}", "text/plain", &d, TZ).unwrap_err();
    assert!(err.contains("undefined"), "{err}");
    assert!(template("{% for %}", "text/plain", &d, TZ).is_err());
}

#[test]
fn documented_template_example_renders_valid_json() {
    let source = "{\"text\": {{ subject }}, \"attachments\": [\n{% for item in digest.items %}  {\"title\": {{ item.title }}, \"title_link\": {{ item.link }}}{% if not loop.last %},{% endif %}\n{% endfor %}]}";
    let mut d = digest(vec![item(1, HOSTILE, "CSTO"), item(2, "second", "CSTO")]);
    d.items[1].link = None;
    let out = template(source, "application/json", &d, TZ).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["attachments"][0]["title"], HOSTILE);
    assert_eq!(v["attachments"][1]["title_link"], serde_json::Value::Null);
}
