//! Identity under bad publishers, through the real binary (`run --once`) against a local
//! HTTP server: guids that change on every fetch (the flood guard and its one notice per
//! flood), edited and re-dated items, links that gain tracking parameters and switch to
//! https, items that leave and come back, several items sharing one guid, and a
//! configurable `flood_limit`.

mod support;

use support::{Env, FeedServer, Route, stderr, stdout};

/// One RSS `<item>`; `guid` and `date` are left out when `None`.
fn item(guid: Option<&str>, title: &str, link: Option<&str>, date: Option<&str>) -> String {
    let mut s = String::from("<item>");
    if let Some(g) = guid {
        s.push_str(&format!("<guid isPermaLink=\"false\">{g}</guid>"));
    }
    s.push_str(&format!("<title>{title}</title>"));
    if let Some(l) = link {
        s.push_str(&format!("<link>{l}</link>"));
    }
    if let Some(d) = date {
        s.push_str(&format!("<pubDate>{d}</pubDate>"));
    }
    s.push_str("<description>Security talks</description></item>\n");
    s
}

fn doc(items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Bad publisher</title>\
         <link>http://example.org/</link><description>t</description>\n{}</channel></rss>\n",
        items.concat()
    )
}

/// `n` items whose guids carry `round`: a publisher that mints new guids on every fetch.
fn churned(round: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            item(
                Some(&format!("{round}-{i}")),
                &format!("CSTO report {i}"),
                Some(&format!("http://example.org/report/{i}")),
                None,
            )
        })
        .collect()
}

fn config(url: &str, daemon_extra: &str) -> String {
    format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"seen\"\nmax_age = \"off\"\ntimeout = \"2s\"\n\
         health_notify = [\"console\"]\n{daemon_extra}\n\n[[feed]]\nname = \"a\"\nurl = \"{url}\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n[destination.console]\ntype = \"stdout\"\n"
    )
}

struct Publisher {
    server: FeedServer,
    env: Env,
}

impl Publisher {
    fn new(daemon_extra: &str) -> Publisher {
        let server = FeedServer::start();
        let env = Env::new(&config(&server.url("/a.xml"), daemon_extra));
        Publisher { server, env }
    }

    /// Serves `items` and runs `run --once`; returns its stdout.
    fn poll(&self, items: &[String]) -> String {
        self.server.set("/a.xml", Route::xml(doc(items)));
        let out = self.env.run(&["run", "--once"]);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    }

    fn seen_keys(&self) -> Vec<String> {
        let db = self.env.db();
        let mut stmt = db
            .prepare("SELECT key FROM seen WHERE feed = 'a' ORDER BY key")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

#[test]
fn guids_changing_on_every_fetch_give_no_alerts_and_one_notice_per_flood() {
    let p = Publisher::new("");
    let first = p.poll(&churned("r1", 60));
    assert!(
        first.contains("a: 60 items, 60 new, 0 matches (first poll"),
        "{first}"
    );

    // Three polls in a row where every guid is fresh: held, and one notice in all.
    let mut flood = String::new();
    for round in ["r2", "r3", "r4"] {
        let out = p.poll(&churned(round, 60));
        assert!(
            out.contains("a: 60 items, 60 new, 0 matches (flood guard"),
            "{round}: {out}"
        );
        flood.push_str(&out);
    }
    assert_eq!(count(&flood, "CSTO report"), 0, "nothing alerted: {flood}");
    assert_eq!(count(&flood, "feed flooding: a"), 1, "{flood}");
    assert!(
        flood.contains("flood_limit = 50"),
        "the notice says why: {flood}"
    );

    // A normal poll (the last document plus one real new item) ends the flood.
    let mut items = churned("r4", 60);
    items.insert(
        0,
        item(
            Some("real-1"),
            "CSTO summit in Bishkek",
            Some("http://example.org/summit"),
            None,
        ),
    );
    let normal = p.poll(&items);
    assert!(normal.contains("a: 61 items, 1 new, 1 matches"), "{normal}");
    assert_eq!(count(&normal, "CSTO summit in Bishkek"), 1, "{normal}");
    assert_eq!(count(&normal, "feed flooding"), 0, "{normal}");
    let flood_notified: bool = p
        .env
        .db()
        .query_row(
            "SELECT flood_notified FROM feeds WHERE name = 'a'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!flood_notified, "a normal poll ends the flood");

    // A later flood is a new flood, with its own notice.
    let again = p.poll(&churned("r6", 60));
    assert!(again.contains("(flood guard"), "{again}");
    assert_eq!(count(&again, "feed flooding: a"), 1, "{again}");
    assert_eq!(count(&again, "CSTO report"), 0, "{again}");
}

#[test]
fn flood_limit_is_configurable_and_only_more_than_it_is_held() {
    let p = Publisher::new("flood_limit = 5");
    p.poll(&churned("r1", 2));
    // 6 new > 5: held.
    let held = p.poll(&churned("r2", 6));
    assert!(
        held.contains("a: 6 items, 6 new, 0 matches (flood guard"),
        "{held}"
    );
    assert_eq!(count(&held, "feed flooding: a"), 1, "{held}");
    assert!(held.contains("flood_limit = 5"), "{held}");
    assert_eq!(count(&held, "CSTO report"), 0, "{held}");
    // Exactly 5 new is not a flood: all five are alerted.
    let sent = p.poll(&churned("r3", 5));
    assert!(sent.contains("a: 5 items, 5 new, 5 matches"), "{sent}");
    assert!(!sent.contains("flood guard"), "{sent}");
    for i in 0..5 {
        assert_eq!(count(&sent, &format!("* CSTO report {i}\n")), 1, "{sent}");
    }
}

#[test]
fn an_edited_and_redated_item_is_not_new_again() {
    let p = Publisher::new("");
    p.poll(&[item(
        Some("x"),
        "Old news",
        Some("http://example.org/old"),
        None,
    )]);
    let original = item(
        Some("story-7"),
        "CSTO ministers meet",
        Some("http://example.org/story/7"),
        Some("Mon, 02 Mar 2026 10:00:00 GMT"),
    );
    let out = p.poll(&[original]);
    assert_eq!(count(&out, "* CSTO ministers meet\n"), 1, "{out}");
    let edited = item(
        Some("story-7"),
        "CSTO ministers meet again in Bishkek (updated)",
        Some("http://example.org/story/7"),
        Some("Tue, 03 Mar 2026 18:30:00 GMT"),
    );
    let out = p.poll(&[edited]);
    assert!(out.contains("a: 1 items, 0 new, 0 matches"), "{out}");
    assert!(!out.contains("updated"), "{out}");
}

#[test]
fn a_link_gaining_tracking_parameters_then_https_is_not_new() {
    let p = Publisher::new("");
    p.poll(&[item(None, "Old news", Some("http://example.org/old"), None)]);
    // No guid: the link is the item's identity.
    let links = [
        "http://example.org/story?id=7",
        "http://example.org/story?id=7&utm_source=rss&utm_medium=feed&fbclid=IwAR0abc",
        "https://example.org/story?utm_campaign=x&id=7&fbclid=IwAR0def#comments",
        "https://EXAMPLE.org:443/story?id=7",
    ];
    for (n, link) in links.iter().enumerate() {
        let link = link.replace('&', "&amp;");
        let out = p.poll(&[item(None, "CSTO ministers meet", Some(&link), None)]);
        let want = if n == 0 {
            "a: 1 items, 1 new, 1 matches"
        } else {
            "a: 1 items, 0 new, 0 matches"
        };
        assert!(out.contains(want), "link {link}: {out}");
        assert_eq!(
            count(&out, "* CSTO ministers meet\n"),
            usize::from(n == 0),
            "link {link}: {out}"
        );
    }
    assert_eq!(
        p.seen_keys(),
        ["link://example.org/old", "link://example.org/story?id=7"]
    );
}

#[test]
fn items_that_leave_the_feed_and_come_back_are_not_new() {
    let p = Publisher::new("");
    let a = item(Some("a"), "CSTO one", Some("http://example.org/a"), None);
    let b = item(Some("b"), "CSTO two", Some("http://example.org/b"), None);
    let c = item(Some("c"), "CSTO three", Some("http://example.org/c"), None);
    p.poll(std::slice::from_ref(&a));
    let out = p.poll(&[b.clone(), a.clone()]);
    assert!(out.contains("1 new, 1 matches"), "{out}");
    // b and a drop out for a few polls, then come back (in another order).
    for _ in 0..2 {
        let out = p.poll(std::slice::from_ref(&c));
        assert!(!out.contains("CSTO two"), "{out}");
    }
    let out = p.poll(&[a, c, b]);
    assert!(out.contains("a: 3 items, 0 new, 0 matches"), "{out}");
    assert!(!out.contains("* CSTO"), "{out}");
}

#[test]
fn items_sharing_one_guid_are_told_apart_stably_and_none_is_lost() {
    for guid in ["1", "tag:example.org,2026:home"] {
        let p = Publisher::new("");
        let old = |n: &str| {
            item(
                Some("other"),
                &format!("Old {n}"),
                Some(&format!("http://example.org/old/{n}")),
                None,
            )
        };
        p.poll(&[old("x")]);
        let shared = |n: &str, title: &str| {
            item(
                Some(guid),
                title,
                Some(&format!("http://example.org/s/{n}")),
                None,
            )
        };
        let (one, two, three) = (
            shared("1", "CSTO first"),
            shared("2", "CSTO second"),
            shared("3", "CSTO third"),
        );
        let out = p.poll(&[one.clone(), two.clone(), three.clone(), old("x")]);
        assert!(
            out.contains("a: 4 items, 3 new, 3 matches"),
            "{guid}: {out}"
        );
        for title in ["CSTO first", "CSTO second", "CSTO third"] {
            assert_eq!(count(&out, &format!("* {title}\n")), 1, "{guid}: {out}");
        }
        let keys = p.seen_keys();
        assert_eq!(keys.len(), 4, "{guid}: {keys:?}");

        let again = p.poll(&[one.clone(), two.clone(), three.clone(), old("x")]);
        assert!(
            again.contains("a: 4 items, 0 new, 0 matches"),
            "{guid}: {again}"
        );
        assert_eq!(p.seen_keys(), keys, "{guid}: the same keys on every parse");

        // A new item pushed on top and the rest reordered: only the new one is new.
        let four = shared("4", "CSTO fourth");
        let out = p.poll(&[four, three, one, old("x"), two]);
        assert!(
            out.contains("a: 5 items, 1 new, 1 matches"),
            "{guid}: {out}"
        );
        assert_eq!(count(&out, "* CSTO fourth\n"), 1, "{guid}: {out}");
        for title in ["CSTO first", "CSTO second", "CSTO third"] {
            assert!(!out.contains(title), "{guid}: {out}");
        }
    }
}
