//! End to end: the real binary's `run --once` against a real HTTP server on 127.0.0.1
//! whose feeds change between polls, with a real SQLite state file.

mod support;

use std::time::Duration;

use support::{Env, FeedServer, Route, rss, stderr, stdout};

fn config(feeds: &[(&str, String)], rules: &[(&str, &str)], extra_daemon: &str) -> String {
    let mut s = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\ntimeout = \"2s\"\n{extra_daemon}\n"
    );
    for (name, url) in feeds {
        s.push_str(&format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n\n"));
    }
    for (name, query) in rules {
        s.push_str(&format!(
            "[[rule]]\nname = \"{name}\"\nquery = '{query}'\n\n"
        ));
    }
    s.push_str("[destination.console]\ntype = \"stdout\"\n");
    s
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn new_items_once_then_conditional_get_changes_nothing() {
    let server = FeedServer::start();
    server.set(
        "/a.xml",
        Route::xml(rss(&[
            ("a1", "CSTO ministers meet in Bishkek", "Security talks"),
            ("a2", "Weather", "Rain"),
        ]))
        .etag("\"v1\""),
    );
    let env = Env::new(&config(
        &[("a", server.url("/a.xml"))],
        &[("csto", "CSTO")],
        "",
    ));

    let first = env.run(&["run", "--once"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let out = stdout(&first);
    assert!(out.contains("a: 2 items, 2 new, 1 matches"), "{out}");
    assert_eq!(count(&out, "CSTO ministers meet in Bishkek"), 1, "{out}");
    assert!(!out.contains("Weather"), "{out}");

    // Second run: the stored ETag goes back verbatim, the server answers 304, nothing changes.
    let second = env.run(&["run", "--once"]);
    assert!(second.status.success(), "{}", stderr(&second));
    let out2 = stdout(&second);
    assert!(out2.contains("a: not modified"), "{out2}");
    assert!(!out2.contains("CSTO ministers"), "{out2}");
    let reqs = server.requests("/a.xml");
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(reqs[1].status, 304);
    let ua = reqs[0]
        .headers
        .get("user-agent")
        .cloned()
        .unwrap_or_default();
    assert!(
        ua.starts_with("feedwatch/") && ua.contains("+https://"),
        "{ua}"
    );

    // The feed changes: only the new item is new, and an edited old one is not.
    server.set(
        "/a.xml",
        Route::xml(rss(&[
            ("a3", "CSTO summit closes", "Final statement"),
            (
                "a1",
                "CSTO ministers meet in Bishkek (updated)",
                "Security talks, edited",
            ),
            ("a2", "Weather", "Rain"),
        ]))
        .etag("\"v2\""),
    );
    let third = env.run(&["run", "--once"]);
    let out3 = stdout(&third);
    assert!(out3.contains("a: 3 items, 1 new, 1 matches"), "{out3}");
    assert_eq!(count(&out3, "CSTO summit closes"), 1, "{out3}");
    assert!(!out3.contains("(updated)"), "{out3}");

    // State survived three separate processes.
    let seen: i64 = env
        .db()
        .query_row("SELECT count(*) FROM seen", [], |r| r.get(0))
        .unwrap();
    assert_eq!(seen, 3);
}

#[test]
fn gzip_and_redirects_work() {
    let server = FeedServer::start();
    server.set(
        "/gz.xml",
        Route::xml(rss(&[("g1", "CSTO via gzip", "x")])).gzip(),
    );
    server.set("/old.xml", Route::redirect("/new.xml"));
    server.set(
        "/new.xml",
        Route::xml(rss(&[("r1", "CSTO via redirect", "x")])),
    );
    let env = Env::new(&config(
        &[
            ("gz", server.url("/gz.xml")),
            ("moved", server.url("/old.xml")),
        ],
        &[("csto", "CSTO")],
        "",
    ));
    let o = env.run(&["run", "--once"]);
    let out = stdout(&o);
    assert!(out.contains("gz: 1 items, 1 new, 1 matches"), "{out}");
    assert!(out.contains("moved: 1 items, 1 new, 1 matches"), "{out}");
    assert!(
        out.contains("CSTO via gzip") && out.contains("CSTO via redirect"),
        "{out}"
    );
    let gz = server.requests("/gz.xml");
    assert!(
        gz[0]
            .headers
            .get("accept-encoding")
            .is_some_and(|a| a.contains("gzip"))
    );
}

#[test]
fn bad_feeds_fail_alone_and_lose_no_seen_state() {
    let server = FeedServer::start();
    let good = rss(&[("ok1", "CSTO good feed item", "x")]);
    server.set("/good.xml", Route::xml(good.clone()));
    server.set(
        "/big.xml",
        Route::xml(rss(&[("b1", &"CSTO ".repeat(40_000), "x")])),
    );
    server.set(
        "/slow.xml",
        Route::xml(good.replace("ok1", "s1")).delay(Duration::from_secs(6)),
    );
    server.set(
        "/html.xml",
        Route::xml("<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>")
            .content_type("text/html"),
    );
    // The truncated feed first works, then breaks: its seen state must survive.
    server.set(
        "/trunc.xml",
        Route::xml(rss(&[("t1", "CSTO truncated feed item", "x")])),
    );
    let feeds = [
        ("good", server.url("/good.xml")),
        ("big", server.url("/big.xml")),
        ("slow", server.url("/slow.xml")),
        ("html", server.url("/html.xml")),
        ("trunc", server.url("/trunc.xml")),
    ];
    let env = Env::new(&config(&feeds, &[("csto", "CSTO")], "max_body = 100000"));
    let first = env.run(&["run", "--once"]);
    let out = stdout(&first);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(out.contains("good: 1 items, 1 new, 1 matches"), "{out}");
    assert!(out.contains("trunc: 1 items, 1 new, 1 matches"), "{out}");
    assert!(
        out.contains("big: error:") && out.contains("max_body"),
        "{out}"
    );
    assert!(
        out.contains("slow: error:") && out.contains("no answer within"),
        "{out}"
    );
    assert!(
        out.contains("html: error:") && out.contains("HTML page"),
        "{out}"
    );

    let full = rss(&[
        ("t2", "CSTO second item", "x"),
        ("t1", "CSTO truncated feed item", "x"),
    ]);
    server.set(
        "/trunc.xml",
        Route::xml(full[..full.len() / 2 + 40].to_string()),
    );
    let second = env.run(&["run", "--once"]);
    let out2 = stdout(&second);
    assert!(out2.contains("trunc: error:"), "{out2}");
    let seen: i64 = env
        .db()
        .query_row("SELECT count(*) FROM seen WHERE feed = 'trunc'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(seen, 1, "a failed poll must not touch the seen state");

    // Repaired: only the genuinely new item alerts.
    server.set("/trunc.xml", Route::xml(full));
    let third = env.run(&["run", "--once"]);
    let out3 = stdout(&third);
    assert!(out3.contains("trunc: 2 items, 1 new, 1 matches"), "{out3}");
    assert_eq!(count(&out3, "CSTO second item"), 1);
    assert_eq!(count(&out3, "CSTO truncated feed item"), 0);
}

#[test]
fn guidless_items_and_tracking_parameters_do_not_duplicate() {
    let server = FeedServer::start();
    let doc = |q: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>t</title>\
             <item><title>CSTO no guid</title><link>http://example.org/story{q}</link></item>\
             <item><title>CSTO no guid, no link</title><description>only text</description></item>\
             </channel></rss>"
        )
    };
    server.set("/g.xml", Route::xml(doc("")));
    let env = Env::new(&config(
        &[("g", server.url("/g.xml"))],
        &[("csto", "CSTO")],
        "",
    ));
    let first = stdout(&env.run(&["run", "--once"]));
    assert!(first.contains("g: 2 items, 2 new, 2 matches"), "{first}");
    server.set(
        "/g.xml",
        Route::xml(doc("?utm_source=rss&utm_medium=feed#comments")),
    );
    let second = stdout(&env.run(&["run", "--once"]));
    assert!(second.contains("g: 2 items, 0 new, 0 matches"), "{second}");
    let third = stdout(&env.run(&["run", "--once"]));
    assert!(third.contains("g: 2 items, 0 new, 0 matches"), "{third}");
}

#[test]
fn same_item_through_two_feeds_is_reported_once_naming_both() {
    let server = FeedServer::start();
    let item = rss(&[("shared-guid-1", "CSTO story carried by two feeds", "x")]);
    server.set("/one.xml", Route::xml(item.clone()));
    server.set("/two.xml", Route::xml(item));
    let env = Env::new(&config(
        &[
            ("one", server.url("/one.xml")),
            ("two", server.url("/two.xml")),
        ],
        &[("csto", "CSTO")],
        "",
    ));
    let out = stdout(&env.run(&["run", "--once"]));
    assert_eq!(count(&out, "CSTO story carried by two feeds"), 1, "{out}");
    assert!(out.contains("one") && out.contains("two"), "{out}");
    let rows: i64 = env
        .db()
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}

#[test]
fn windows_1251_and_utf16_feeds_match_cyrillic_rules() {
    let server = FeedServer::start();
    let text = "<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss version=\"2.0\"><channel><title>Новости</title>\
                <item><guid>ru1</guid><title>Лавров прибыл в Бишкек</title><description>Визит в Киргизию</description></item>\
                </channel></rss>";
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(text);
    server.set(
        "/ru.xml",
        Route::xml(cp1251.into_owned()).content_type("application/rss+xml"),
    );
    let text16 = "<?xml version=\"1.0\" encoding=\"utf-16\"?><rss version=\"2.0\"><channel><title>Новости</title>\
                  <item><guid>ru2</guid><title>ЛАВРОВ и ОДКБ</title><description>встреча</description></item>\
                  </channel></rss>";
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in text16.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    server.set("/ru16.xml", Route::xml(utf16));
    let env = Env::new(&config(
        &[
            ("ru", server.url("/ru.xml")),
            ("ru16", server.url("/ru16.xml")),
        ],
        &[("lavrov", "лавров")],
        "",
    ));
    let o = env.run(&["run", "--once"]);
    let out = stdout(&o);
    assert!(
        out.contains("ru: 1 items, 1 new, 1 matches"),
        "{out}\n{}",
        stderr(&o)
    );
    assert!(out.contains("ru16: 1 items, 1 new, 1 matches"), "{out}");
    assert!(out.contains("Лавров прибыл в Бишкек"), "{out}");
}

#[test]
fn first_poll_seen_marks_items_without_alerting() {
    let server = FeedServer::start();
    server.set("/a.xml", Route::xml(rss(&[("a1", "CSTO old news", "x")])));
    let cfg = config(&[("a", server.url("/a.xml"))], &[("csto", "CSTO")], "")
        .replace("first_poll = \"alert\"", "first_poll = \"seen\"");
    let env = Env::new(&cfg);
    let out = stdout(&env.run(&["run", "--once"]));
    assert!(out.contains("first poll"), "{out}");
    assert!(!out.contains("CSTO old news"), "{out}");
    server.set(
        "/a.xml",
        Route::xml(rss(&[
            ("a2", "CSTO fresh news", "x"),
            ("a1", "CSTO old news", "x"),
        ])),
    );
    let out2 = stdout(&env.run(&["run", "--once"]));
    assert_eq!(count(&out2, "CSTO fresh news"), 1, "{out2}");
    assert!(!out2.contains("CSTO old news"), "{out2}");
}

#[test]
fn invalid_config_exits_2_and_names_the_problem() {
    let env = Env::new("[daemon]\nintervall = \"5m\"\n");
    let o = env.run(&["run", "--once"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("intervall") && err.contains("interval"),
        "{err}"
    );
    assert!(err.contains("feedwatch.toml:2:"), "{err}");
}

#[test]
fn polls_run_concurrently_within_global_and_per_host_limits() {
    let server = FeedServer::start();
    let mut feeds = Vec::new();
    for i in 0..6 {
        let path = format!("/f{i}.xml");
        server.set(
            &path,
            Route::xml(rss(&[(&format!("g{i}"), "x", "y")])).delay(Duration::from_millis(400)),
        );
        feeds.push((format!("ip{i}"), server.url(&path)));
        feeds.push((
            format!("name{i}"),
            format!("http://localhost:{}{path}", server.addr.port()),
        ));
    }
    let feeds: Vec<(&str, String)> = feeds.iter().map(|(n, u)| (n.as_str(), u.clone())).collect();
    let env = Env::new(&config(&feeds, &[("csto", "CSTO")], "concurrency = 3"));
    let o = env.run(&["run", "--once"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).matches(": 1 items, 1 new").count(),
        12,
        "{}",
        stdout(&o)
    );
    let ip = format!("127.0.0.1:{}", server.addr.port());
    let name = format!("localhost:{}", server.addr.port());
    assert!(
        server.peak_concurrency(&ip) <= 2,
        "per-host limit: {}",
        server.peak_concurrency(&ip)
    );
    assert!(
        server.peak_concurrency(&name) <= 2,
        "per-host limit: {}",
        server.peak_concurrency(&name)
    );
    assert!(
        server.peak_total() <= 3,
        "global limit: {}",
        server.peak_total()
    );
    assert!(
        server.peak_total() >= 2,
        "polls ran one at a time: {}",
        server.peak_total()
    );
}

#[test]
fn a_rule_scoped_by_feed_name_or_tag_matches_only_those_feeds() {
    let server = FeedServer::start();
    for (feed, guid) in [("tass", "t1"), ("ap", "p1"), ("blog", "b1")] {
        server.set(
            &format!("/{feed}.xml"),
            Route::xml(rss(&[(guid, &format!("CSTO news from {feed}"), "x")])),
        );
    }
    let mut cfg = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\n\
         [[feed]]\nname = \"tass\"\nurl = \"{}\"\ntags = [\"ru\", \"news\"]\n\n\
         [[feed]]\nname = \"ap\"\nurl = \"{}\"\ntags = [\"en\", \"news\"]\n\n\
         [[feed]]\nname = \"blog\"\nurl = \"{}\"\n\n",
        server.url("/tass.xml"),
        server.url("/ap.xml"),
        server.url("/blog.xml")
    );
    for (rule, scope) in [
        ("everywhere", None),
        ("ru-only", Some(r#"["tag:ru"]"#)),
        ("blog-or-en", Some(r#"["blog", "tag:en"]"#)),
        ("news-twice", Some(r#"["tag:news", "tass", "tag:news"]"#)),
    ] {
        cfg.push_str(&format!("[[rule]]\nname = \"{rule}\"\nquery = \"CSTO\"\n"));
        if let Some(scope) = scope {
            cfg.push_str(&format!("feeds = {scope}\n"));
        }
        cfg.push('\n');
    }
    cfg.push_str("[destination.console]\ntype = \"stdout\"\n");
    let env = Env::new(&cfg);
    let ran = env.run(&["run", "--once"]);
    assert!(ran.status.success(), "{}", stderr(&ran));

    let db = env.db();
    let mut rows = db
        .prepare(
            "SELECT f.feed, o.rules FROM outbox o JOIN item_feeds f ON f.item_id = o.item_id
             ORDER BY f.feed",
        )
        .unwrap();
    let got: Vec<(String, String)> = rows
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        got,
        [
            (
                "ap".to_string(),
                r#"["everywhere","blog-or-en","news-twice"]"#.to_string()
            ),
            ("blog".into(), r#"["everywhere","blog-or-en"]"#.into()),
            (
                "tass".into(),
                r#"["everywhere","ru-only","news-twice"]"#.into()
            ),
        ]
    );
}
