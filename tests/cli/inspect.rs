//! `feedwatch inspect SOURCE [--json]`: items as rules see them.

use crate::support::{FeedServer, Route, repo_path};
use crate::{feedwatch, sample};

/// HTML in the description (escaped, as feeds carry it), named entities that XML does not
/// define, an inline tag inside a word, a block tag between words, `ё`, a diacritic, and
/// a second item with neither guid nor link.
const HTML_FEED: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>HTML feed</title><link>http://example.org/</link><description>t</description>
<item><guid isPermaLink="false">h1</guid><title>Ёлка &amp; CSTO</title>
<link>HTTP://Example.ORG/a?utm_source=x&amp;id=3#top</link><pubDate>Sun, 12 Apr 2026 09:30:00 GMT</pubDate>
<description>&lt;p&gt;Foreign ministers met in &lt;b&gt;Bish&lt;/b&gt;kek&amp;nbsp;on Sunday.&lt;/p&gt;&lt;p&gt;Japárov said&lt;br&gt;yes &amp;eacute;t&amp;eacute;&lt;/p&gt;</description></item>
<item><title>No guid here</title><description>plain</description></item>
</channel></rss>
"#;

#[test]
fn text_output_shows_key_title_link_date_text_and_words() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("h.xml");
    std::fs::write(&path, HTML_FEED).expect("write");
    let ran = feedwatch(dir.path(), &["inspect", "h.xml"]);
    ran.expect(0);
    let want = "HTML feed: 2 items\n\n\
                key:        guid:h1\n\
                title:      Ёлка & CSTO\n\
                link:       http://example.org/a?utm_source=x&id=3#top\n\
                published:  2026-04-12T09:30:00+00:00\n\
                summary:    Foreign ministers met in Bishkek on Sunday. Japárov said yes été\n\
                words:      елка csto foreign ministers met in bishkek on sunday japarov said yes ete\n";
    assert!(ran.stdout.starts_with(want), "{}", ran.stdout);
    // No guid and no link: a stable hash key, and dashes for what is missing.
    let second = ran.stdout.split("\n\n").nth(2).unwrap_or_default();
    assert!(second.starts_with("key:        hash:"), "{second}");
    assert!(
        second.contains("link:       -\npublished:  -\n"),
        "{second}"
    );
    let again = feedwatch(dir.path(), &["inspect", "h.xml"]);
    assert_eq!(again.stdout, ran.stdout, "keys never change between runs");
}

#[test]
fn json_output_has_one_object_per_item() {
    let server = FeedServer::start();
    server.set("/h.xml", Route::xml(HTML_FEED));
    let ran = feedwatch(
        &repo_path("."),
        &["inspect", "--json", &server.url("/h.xml")],
    );
    ran.expect(0);
    let items: Vec<serde_json::Value> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(items.len(), 2, "{}", ran.stdout);
    let first = &items[0];
    assert_eq!(first["key"], "guid:h1");
    assert_eq!(first["id"], "h1");
    assert_eq!(first["title"], "Ёлка & CSTO");
    assert_eq!(first["normalised_link"], "//example.org/a?id=3");
    assert_eq!(first["published"], "2026-04-12T09:30:00+00:00");
    assert_eq!(
        first["summary"],
        "Foreign ministers met in Bishkek on Sunday. Japárov said yes été"
    );
    let words: Vec<&str> = first["words"]
        .as_array()
        .map(|a| a.iter().filter_map(|w| w.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        words,
        [
            "елка",
            "csto",
            "foreign",
            "ministers",
            "met",
            "in",
            "bishkek",
            "on",
            "sunday",
            "japarov",
            "said",
            "yes",
            "ete"
        ]
    );
    assert_eq!(items[1]["id"], serde_json::Value::Null);
    assert_eq!(items[1]["link"], serde_json::Value::Null);
}

#[test]
fn the_windows_1251_sample_is_shown_in_utf8() {
    let ran = feedwatch(&repo_path("."), &["inspect", &sample("ru-news-1251.xml")]);
    ran.expect(0);
    assert!(
        ran.stdout.starts_with("Пример новостей: 6 items\n"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("title:      Министры иностранных дел ОДКБ встретились в Бишкеке\n"),
        "{}",
        ran.stdout
    );
    // Folding: ё becomes е in the words rules see.
    assert!(ran.stdout.contains("пройдет"), "{}", ran.stdout);
}

#[test]
fn a_bad_source_exits_2() {
    let ran = feedwatch(&repo_path("."), &["inspect", "/nonexistent/feed.xml"]);
    ran.expect(2);
    assert!(
        ran.stderr.contains("/nonexistent/feed.xml"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stdout, "");
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let items: Vec<(String, String, String)> = (0..3000)
        .map(|i| (format!("g{i}"), format!("Item {i}"), "CSTO ".repeat(40)))
        .collect();
    let refs: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, d)| (g.as_str(), t.as_str(), d.as_str()))
        .collect();
    std::fs::write(dir.path().join("big.xml"), crate::support::rss(&refs)).expect("write");
    let mut child = crate::support::bin()
        .args(["inspect", "big.xml"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    // Like `| head`: the reader goes away while megabytes are still to come.
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
