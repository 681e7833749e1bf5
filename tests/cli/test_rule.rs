//! `feedwatch test-rule QUERY SOURCE...` on the shipped samples, a `file://` URL and an
//! `http://` URL: output, JSON lines and exit codes.

use crate::support::{FeedServer, Route, repo_path, rss};
use crate::{closed_port, feedwatch, sample};

fn here() -> std::path::PathBuf {
    repo_path(".")
}

#[test]
fn a_match_names_feed_title_link_and_words() {
    let ran = feedwatch(
        &here(),
        &["test-rule", "CSTO AND Bishkek", &sample("agency-news.xml")],
    );
    ran.expect(0);
    assert_eq!(
        ran.stdout,
        "Example Agency News: CSTO foreign ministers meet in Bishkek\n\
         \x20 https://news.example.org/2026/04/12/csto-ministers-bishkek\n\
         \x20 matched: CSTO, Bishkek\n",
    );
}

#[test]
fn json_lines_carry_source_id_title_link_and_matched() {
    let src = sample("world-atom.xml");
    let ran = feedwatch(&here(), &["test-rule", "--json", "Lavrov OR CSTO", &src]);
    ran.expect(0);
    let lines: Vec<serde_json::Value> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 2, "{}", ran.stdout);
    let first = &lines[0];
    assert_eq!(first["source"], src.as_str());
    assert_eq!(first["id"], "tag:world.example.net,2026:lavrov-bishkek");
    assert_eq!(first["title"], "Lavrov in Bishkek: what is on the table");
    assert!(
        first["link"].as_str().is_some_and(
            |l| l.starts_with("https://news.example.org/2026/04/12/lavrov-kyrgyzstan-visit")
        ),
        "{first}"
    );
    assert_eq!(first["matched"], serde_json::json!(["Lavrov"]));
    assert_eq!(lines[1]["id"], "tag:world.example.net,2026:csto-statement");
    assert_eq!(lines[1]["matched"], serde_json::json!(["CSTO"]));
}

#[test]
fn russian_queries_on_the_windows_1251_sample() {
    let src = sample("ru-news-1251.xml");
    let ran = feedwatch(&here(), &["test-rule", "--json", "ОДКБ", &src]);
    ran.expect(0);
    let hit: serde_json::Value = serde_json::from_str(ran.stdout.trim()).expect("one JSON line");
    assert_eq!(hit["id"], "ru-2026-0412-02");
    assert_eq!(
        hit["title"],
        "Министры иностранных дел ОДКБ встретились в Бишкеке"
    );
    assert_eq!(hit["matched"], serde_json::json!(["ОДКБ"]));

    // Case folding: a lower-case query finds the capitalised word.
    let ran = feedwatch(&here(), &["test-rule", "лавров", &src]);
    ran.expect(0);
    assert!(
        ran.stdout
            .contains("Пример новостей: Лавров прибыл в Киргизию с рабочим визитом\n"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("  matched: Лавров\n"), "{}", ran.stdout);

    let ran = feedwatch(
        &here(),
        &["test-rule", "--json", "Лавров AND Киргиз*", &src],
    );
    ran.expect(0);
    let ids: Vec<String> = ran
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(ids, ["ru-2026-0412-01"], "{}", ran.stdout);
}

#[test]
fn file_urls_and_http_urls_work_like_paths() {
    let path = repo_path("config/samples/agency-news.xml");
    let file_url = url::Url::from_file_path(&path)
        .expect("file URL")
        .to_string();
    let ran = feedwatch(&here(), &["test-rule", "--json", "Kyrgyz*", &file_url]);
    ran.expect(0);
    assert_eq!(ran.stdout.lines().count(), 2, "{}", ran.stdout);
    assert!(ran.stdout.contains(&format!("\"source\":\"{file_url}\"")));

    let server = FeedServer::start();
    server.set(
        "/feed.xml",
        Route::xml(rss(&[
            ("n1", "Foreign ministers of the CSTO meet", "In Bishkek"),
            ("n2", "Weather", "Rain"),
        ])),
    );
    let url = server.url("/feed.xml");
    let ran = feedwatch(&here(), &["test-rule", "title:CSTO", &url]);
    ran.expect(0);
    assert_eq!(
        ran.stdout,
        "Test feed: Foreign ministers of the CSTO meet\n  http://example.org/n1\n  matched: CSTO\n"
    );
    assert_eq!(server.requests("/feed.xml").len(), 1);
}

#[test]
fn no_match_exits_1_with_nothing_printed() {
    let ran = feedwatch(
        &here(),
        &[
            "test-rule",
            "Lavrov AND NOT Kyrgyzstan",
            &sample("agency-news.xml"),
            &sample("releases.json"),
        ],
    );
    ran.expect(1);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr, "");
}

#[test]
fn a_bad_query_exits_2_with_a_caret() {
    let cases: &[(&str, &str)] = &[
        (
            "CSTO AND (Lavrov",
            "expected `)` to close the `(` at column 10\n  CSTO AND (Lavrov\n                  ^",
        ),
        (
            "tilte:CSTO",
            "unknown field `tilte`: fields are title, summary, content, author, category, link, feed",
        ),
        ("NOT sport", "would match nearly everything"),
        ("\"\"", "empty phrase"),
        ("/(/", "invalid regex: unclosed group\n  /(/\n  ^"),
        (
            "CSTO AND",
            "expected a term after `AND`\n  CSTO AND\n          ^",
        ),
    ];
    for (query, want) in cases {
        let ran = feedwatch(&here(), &["test-rule", query, &sample("agency-news.xml")]);
        ran.expect(2);
        assert_eq!(ran.stdout, "", "{query}");
        assert!(
            ran.stderr.to_lowercase().contains(&want.to_lowercase()),
            "{query}: expected {want:?} in\n{}",
            ran.stderr
        );
    }
}

#[test]
fn unreadable_or_unparsable_sources_exit_2() {
    let server = FeedServer::start();
    server.set(
        "/page.html",
        Route::xml("<!doctype html><html><body>Not a feed</body></html>").content_type("text/html"),
    );
    server.set(
        "/cut.xml",
        Route::xml("<rss version=\"2.0\"><channel><title>x"),
    );
    let closed = closed_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let unreadable = dir.path().join("feed.xml");
    std::fs::create_dir(&unreadable).expect("a folder where a file is expected");
    let cases: Vec<(String, &str)> = vec![
        ("/nonexistent/feed.xml".into(), "/nonexistent/feed.xml"),
        (unreadable.display().to_string(), "feed.xml"),
        (repo_path("Cargo.toml").display().to_string(), "not a feed"),
        (server.url("/page.html"), "/page.html"),
        (server.url("/missing.xml"), "404"),
        (server.url("/cut.xml"), "/cut.xml"),
        (
            format!("http://127.0.0.1:{closed}/feed.xml"),
            "cannot connect",
        ),
        ("file://host/x.xml".into(), "file://"),
    ];
    for (source, want) in &cases {
        let ran = feedwatch(&here(), &["test-rule", "CSTO", source]);
        ran.expect(2);
        assert!(
            ran.stderr.contains(want),
            "{source}: expected {want:?} in\n{}",
            ran.stderr
        );
    }
    // A bad source among good ones: the matches are printed, and the exit code says error.
    let ran = feedwatch(
        &here(),
        &[
            "test-rule",
            "CSTO",
            "/nonexistent/feed.xml",
            &sample("agency-news.xml"),
        ],
    );
    ran.expect(2);
    assert!(
        ran.stdout.contains("CSTO foreign ministers"),
        "{}",
        ran.stdout
    );
}
