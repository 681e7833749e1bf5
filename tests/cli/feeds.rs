//! `feedwatch import-opml FILE` and `feedwatch discover URL`: the printed `[[feed]]`
//! tables parse as TOML and, pasted into a config, pass `feedwatch check`.

use crate::feedwatch;
use crate::support::{FeedServer, Route};

const OPML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>subscriptions</title></head><body>
  <outline text="World News" title="World News">
    <outline type="rss" text="TASS &amp; Co" xmlUrl="https://tass.com/rss/v2.xml"/>
    <outline type="rss" text="Кабар" xmlUrl="http://kabar.kg/rss?x=1&amp;y=2"/>
  </outline>
  <outline type="rss" text="TASS &amp; Co" xmlUrl="https://tass.com/rss/other.xml"/>
</body></opml>
"#;

/// The `[[feed]]` tables of `printed` as (name, url, tags), after checking it is TOML.
fn feeds_of(printed: &str) -> Vec<(String, String, Vec<String>)> {
    let doc: toml::Table = printed
        .parse()
        .unwrap_or_else(|e| panic!("printed tables are not TOML ({e}):\n{printed}"));
    let feeds = doc
        .get("feed")
        .and_then(|f| f.as_array())
        .unwrap_or_else(|| panic!("no [[feed]] tables:\n{printed}"));
    feeds
        .iter()
        .map(|f| {
            let s = |k: &str| {
                f.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let tags = f
                .get("tags")
                .and_then(|t| t.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            (s("name"), s("url"), tags)
        })
        .collect()
}

/// Pastes `tables` into a config with a rule and a destination and runs `check` on it.
fn check_pasted(tables: &str, feeds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[daemon]\nstate = \"feedwatch.db\"\n\n{tables}\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n\
         [destination.console]\ntype = \"stdout\"\n"
    );
    std::fs::write(dir.path().join("feedwatch.toml"), &config).expect("write config");
    let ran = feedwatch(dir.path(), &["check"]);
    ran.expect(0);
    assert!(
        ran.stdout
            .contains(&format!("OK: {feeds} feeds, 1 rules, 1 destinations")),
        "{config}\n{}",
        ran.stdout
    );
}

#[test]
fn import_opml_prints_feed_tables_that_check_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("subs.opml"), OPML).expect("write");
    let ran = feedwatch(dir.path(), &["import-opml", "subs.opml"]);
    ran.expect(0);
    let feeds = feeds_of(&ran.stdout);
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        feeds,
        [
            (
                "tass-co".into(),
                "https://tass.com/rss/v2.xml".into(),
                tags(&["world-news"])
            ),
            (
                "кабар".into(),
                "http://kabar.kg/rss?x=1&y=2".into(),
                tags(&["world-news"])
            ),
            (
                "tass-co-2".into(),
                "https://tass.com/rss/other.xml".into(),
                tags(&[])
            ),
        ]
    );
    check_pasted(&ran.stdout, 3);
}

#[test]
fn import_opml_errors_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("empty.opml"), "<opml><body></body></opml>").expect("write");
    std::fs::write(
        dir.path().join("broken.opml"),
        "<opml><body><outline></body>",
    )
    .expect("write");
    for (file, want) in [
        ("empty.opml", "lists no feeds"),
        ("broken.opml", "not valid OPML"),
        ("missing.opml", "cannot read"),
    ] {
        let ran = feedwatch(dir.path(), &["import-opml", file]);
        ran.expect(2);
        assert!(ran.stderr.contains(want), "{file}: {}", ran.stderr);
        assert_eq!(ran.stdout, "", "{file}");
    }
}

#[test]
fn discover_finds_alternate_links_and_prints_tables_that_check_accepts() {
    let server = FeedServer::start();
    server.set(
        "/news/index.html",
        Route::xml(
            r#"<!doctype html><html><head><title>News</title>
            <link rel="stylesheet" href="/style.css">
            <LINK REL="alternate" TYPE="application/rss+xml" TITLE="Главные новости" HREF="../rss/main.xml">
            <link rel="alternate" type="application/atom+xml" title="World &amp; Region" href="/atom?lang=en&amp;x=1">
            <link rel="alternate" type="application/feed+json" href="https://other.example.org/feed.json">
            <link rel="alternate" type="text/html" hreflang="ru" href="/ru/">
            </head><body>…</body></html>"#,
        )
        .content_type("text/html; charset=utf-8"),
    );
    let ran = feedwatch(
        &crate::support::repo_path("."),
        &["discover", &server.url("/news/index.html")],
    );
    ran.expect(0);
    let feeds = feeds_of(&ran.stdout);
    let names: Vec<&str> = feeds.iter().map(|f| f.0.as_str()).collect();
    let urls: Vec<&str> = feeds.iter().map(|f| f.1.as_str()).collect();
    assert_eq!(
        names,
        ["главные-новости", "world-region", "other-example-org"]
    );
    assert_eq!(
        urls,
        [
            server.url("/rss/main.xml").as_str(),
            server.url("/atom?lang=en&x=1").as_str(),
            "https://other.example.org/feed.json",
        ]
    );
    check_pasted(&ran.stdout, 3);
}

#[test]
fn discover_on_a_page_without_feeds_says_so() {
    let server = FeedServer::start();
    server.set(
        "/plain.html",
        Route::xml("<html><head><title>x</title></head></html>").content_type("text/html"),
    );
    let ran = feedwatch(
        &crate::support::repo_path("."),
        &["discover", &server.url("/plain.html")],
    );
    ran.expect(1);
    assert!(ran.stderr.contains("links no feeds"), "{}", ran.stderr);
    let ran = feedwatch(
        &crate::support::repo_path("."),
        &["discover", &server.url("/missing.html")],
    );
    ran.expect(2);
    assert!(ran.stderr.contains("404"), "{}", ran.stderr);
}
