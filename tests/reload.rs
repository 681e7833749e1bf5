//! SIGHUP through the real daemon against a local HTTP server: renaming and reordering
//! feeds and rules neither re-sends nor drops anything (sent or pending); added feeds
//! start under `first_poll`; removed feeds are no longer fetched; a removed destination's
//! delivery loop stops.

mod support;

use std::fs::File;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Env, FeedServer, Route, bin};

struct Daemon {
    child: Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Daemon {
    fn start(env: &Env) -> Daemon {
        let out = env.path("daemon.out");
        let err = env.path("daemon.err");
        let child = bin()
            .args(["run", "--log-level", "debug", "--config"])
            .arg(env.config_path())
            .stdout(Stdio::from(File::create(&out).unwrap()))
            .stderr(Stdio::from(File::create(&err).unwrap()))
            .spawn()
            .expect("spawn daemon");
        Daemon { child, out, err }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Sends SIGHUP and waits until the daemon says it reloaded.
    fn reload(&self) {
        let before = self.stderr().matches("config reloaded").count();
        let ok = std::process::Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -HUP");
        self.wait_for("the reload", Duration::from_secs(10), |d| {
            d.stderr().matches("config reloaded").count() > before
        });
    }

    fn wait_for(&self, what: &str, timeout: Duration, mut cond: impl FnMut(&Daemon) -> bool) {
        let t = Instant::now();
        while !cond(self) {
            assert!(
                t.elapsed() < timeout,
                "timed out waiting for {what}\n--- stdout\n{}\n--- stderr\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An RSS document of `(guid, title)` items without links: short feed-local guids are all
/// that identifies them, as with many small publishers.
fn feed(items: &[(&str, &str)]) -> Route {
    let mut s = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>http://example.org/</link><description>d</description>\n",
    );
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title><description>text</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    Route::xml(s)
}

struct Setup<'a> {
    first_poll: &'a str,
    /// `(name, path on the server)`, in config order.
    feeds: &'a [(&'a str, &'a str)],
    /// `(name, query)`, in config order.
    rules: &'a [(&'a str, &'a str)],
    /// `(name, digest schedule)`, stdout destinations in config order.
    destinations: &'a [(&'a str, &'a str)],
}

fn config(server: &FeedServer, s: &Setup<'_>) -> String {
    let mut c = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"{}\"\nmax_age = \"off\"\ninterval = \"1s\"\n\
         timeout = \"2s\"\n\n",
        s.first_poll
    );
    for (name, path) in s.feeds {
        c.push_str(&format!(
            "[[feed]]\nname = \"{name}\"\nurl = \"{}\"\n\n",
            server.url(path)
        ));
    }
    for (name, query) in s.rules {
        c.push_str(&format!(
            "[[rule]]\nname = \"{name}\"\nquery = \"{query}\"\n\n"
        ));
    }
    for (name, digest) in s.destinations {
        c.push_str(&format!(
            "[destination.{name}]\ntype = \"stdout\"\ndigest = \"{digest}\"\n\n"
        ));
    }
    c
}

fn pending(env: &Env) -> i64 {
    env.db()
        .query_row(
            "SELECT count(*) FROM outbox WHERE digest_id IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn polled_ok(env: &Env, feed: &str) -> bool {
    env.db()
        .query_row("SELECT polled_ok FROM feeds WHERE name = ?1", [feed], |r| {
            r.get(0)
        })
        .unwrap_or(false)
}

/// Feed `a` is renamed `b` (same URL) while a match is pending in a scheduled digest, and
/// feeds and rules are reordered; an item published right after the reload must arrive.
fn rename_keeps_everything_exactly_once(first_poll: &str) {
    let server = FeedServer::start();
    server.set("/x.xml", feed(&[("x0", "Weather")]));
    server.set("/a.xml", feed(&[("0", "Old news")]));
    let before = Setup {
        first_poll,
        feeds: &[("a", "/a.xml"), ("x", "/x.xml")],
        rules: &[("csto", "CSTO"), ("sco", "SCO")],
        destinations: &[("digest", "every 4s")],
    };
    let env = Env::new(&config(&server, &before));
    let d = Daemon::start(&env);
    d.wait_for("the first poll", Duration::from_secs(15), |_| {
        polled_ok(&env, "a")
    });

    server.set("/a.xml", feed(&[("1", "CSTO one"), ("0", "Old news")]));
    d.wait_for("the first digest", Duration::from_secs(15), |d| {
        d.stdout().contains("* CSTO one\n")
    });
    // Right after a digest went out: the next match waits ~4 s for the next one.
    server.set(
        "/a.xml",
        feed(&[("2", "SCO two"), ("1", "CSTO one"), ("0", "Old news")]),
    );
    d.wait_for("a pending match", Duration::from_secs(3), |_| {
        pending(&env) >= 1
    });

    let after = Setup {
        first_poll,
        feeds: &[("x", "/x.xml"), ("b", "/a.xml")],
        rules: &[("sco", "SCO"), ("csto", "CSTO")],
        destinations: &[("digest", "every 4s")],
    };
    env.write("feedwatch.toml", config(&server, &after));
    assert!(pending(&env) >= 1, "the match is still pending at reload");
    d.reload();
    server.set(
        "/a.xml",
        feed(&[
            ("3", "CSTO three"),
            ("2", "SCO two"),
            ("1", "CSTO one"),
            ("0", "Old news"),
        ]),
    );
    d.wait_for(
        "the item published after the reload",
        Duration::from_secs(15),
        |d| d.stdout().contains("* CSTO three\n"),
    );
    // Give a duplicate the time to show up: two more digest periods of polls.
    std::thread::sleep(Duration::from_secs(8));
    let out = d.stdout();
    for title in ["CSTO one", "SCO two", "CSTO three"] {
        assert_eq!(
            out.matches(&format!("* {title}\n")).count(),
            1,
            "{first_poll}: {title} exactly once\n{out}\n{}",
            d.stderr()
        );
    }
    assert!(!out.contains("Old news"), "{out}");
    assert_eq!(pending(&env), 0, "nothing left behind");
    // The renamed feed carries on where the old name left off: no first poll again.
    let names: Vec<String> = {
        let db = env.db();
        let mut stmt = db.prepare("SELECT name FROM feeds ORDER BY name").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(names, ["b", "x"], "{}", d.stderr());
}

#[test]
fn renaming_and_reordering_with_first_poll_seen_drops_nothing() {
    rename_keeps_everything_exactly_once("seen");
}

#[test]
fn renaming_and_reordering_with_first_poll_alert_resends_nothing() {
    rename_keeps_everything_exactly_once("alert");
}

#[test]
fn added_feeds_start_under_first_poll_and_removed_feeds_and_destinations_stop() {
    let server = FeedServer::start();
    server.set("/a.xml", feed(&[("a0", "Old a")]));
    server.set("/x.xml", feed(&[("x0", "Old x")]));
    server.set(
        "/y.xml",
        feed(&[("y0", "CSTO yankee old"), ("y00", "CSTO yankee older")]),
    );
    let before = Setup {
        first_poll: "seen",
        feeds: &[("a", "/a.xml"), ("x", "/x.xml")],
        rules: &[("csto", "CSTO")],
        destinations: &[("console", "immediate"), ("gone", "every 2s")],
    };
    let env = Env::new(&config(&server, &before));
    let d = Daemon::start(&env);
    d.wait_for("first polls", Duration::from_secs(15), |_| {
        polled_ok(&env, "a") && polled_ok(&env, "x")
    });
    server.set("/a.xml", feed(&[("a1", "CSTO alpha"), ("a0", "Old a")]));
    d.wait_for("both destinations", Duration::from_secs(15), |d| {
        d.stdout().matches("* CSTO alpha\n").count() == 2
    });
    assert!(d.stdout().contains("destination gone,"));

    let after = Setup {
        first_poll: "seen",
        feeds: &[("a", "/a.xml"), ("y", "/y.xml")],
        rules: &[("csto", "CSTO")],
        destinations: &[("console", "immediate")],
    };
    env.write("feedwatch.toml", config(&server, &after));
    d.reload();
    // A poll of x already in flight at the reload may still finish.
    std::thread::sleep(Duration::from_millis(2500));
    let x_polls = server.requests("/x.xml").len();
    let gone_digests = d.stdout().matches("destination gone,").count();
    let gone_due = || -> Option<i64> {
        env.db()
            .query_row(
                "SELECT next_due FROM destinations WHERE name = 'gone'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let gone_due_at_reload = gone_due();

    // The added feed: its first poll marks what it has seen, and only what comes later is sent.
    d.wait_for("y's first poll", Duration::from_secs(15), |_| {
        polled_ok(&env, "y")
    });
    server.set(
        "/y.xml",
        feed(&[
            ("y1", "CSTO yankee new"),
            ("y0", "CSTO yankee old"),
            ("y00", "CSTO yankee older"),
        ]),
    );
    server.set(
        "/a.xml",
        feed(&[
            ("a2", "CSTO alpha two"),
            ("a1", "CSTO alpha"),
            ("a0", "Old a"),
        ]),
    );
    d.wait_for("y's new item", Duration::from_secs(15), |d| {
        d.stdout().contains("* CSTO yankee new\n") && d.stdout().contains("* CSTO alpha two\n")
    });
    std::thread::sleep(Duration::from_secs(3));

    let out = d.stdout();
    assert!(!out.contains("yankee old"), "first_poll = seen: {out}");
    assert_eq!(out.matches("* CSTO yankee new\n").count(), 1, "{out}");
    assert_eq!(out.matches("* CSTO alpha two\n").count(), 1, "{out}");
    assert_eq!(out.matches("* CSTO alpha\n").count(), 2, "{out}");
    assert_eq!(
        server.requests("/x.xml").len(),
        x_polls,
        "the removed feed is not fetched any more"
    );
    assert_eq!(
        out.matches("destination gone,").count(),
        gone_digests,
        "{out}"
    );
    assert_eq!(
        gone_due(),
        gone_due_at_reload,
        "the removed destination's schedule no longer advances"
    );
    assert!(
        server.requests("/a.xml").len() >= 4,
        "the kept feed is still polled"
    );
}

#[test]
fn a_feed_renamed_between_two_one_shot_runs_keeps_its_state() {
    let server = FeedServer::start();
    server.set("/a.xml", feed(&[("1", "CSTO one")]));
    let config_named = |name: &str| {
        config(
            &server,
            &Setup {
                first_poll: "alert",
                feeds: &[(name, "/a.xml")],
                rules: &[("csto", "CSTO")],
                destinations: &[("console", "immediate")],
            },
        )
    };
    let env = Env::new(&config_named("a"));
    let run = |env: &Env| {
        let out = env.run(&["run", "--once"]);
        assert!(out.status.success(), "{}", support::stderr(&out));
        support::stdout(&out)
    };
    let first = run(&env);
    assert_eq!(first.matches("* CSTO one\n").count(), 1, "{first}");
    server.set("/a.xml", feed(&[("2", "CSTO two"), ("1", "CSTO one")]));
    env.write("feedwatch.toml", config_named("renamed"));
    let second = run(&env);
    assert!(
        second.contains("renamed: 2 items, 1 new, 1 matches"),
        "{second}"
    );
    assert_eq!(second.matches("* CSTO two\n").count(), 1, "{second}");
    assert!(!second.contains("CSTO one"), "{second}");
}
