//! End to end: the real daemon (`feedwatch run`) with short intervals against a local HTTP
//! server: schedules, restarts, Retry-After, health notices, SIGHUP, SIGTERM, sd_notify.

mod support;
mod util;

use std::fs::File;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{Env, FeedServer, Route, bin, rss};

struct Daemon {
    child: Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Daemon {
    fn start(env: &Env, extra_env: &[(&str, &str)]) -> Daemon {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let out = env.path(&format!("daemon-{n}.out"));
        let err = env.path(&format!("daemon-{n}.err"));
        let mut cmd = bin();
        cmd.args(["run", "--log-level", "debug", "--config"])
            .arg(env.config_path());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd
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

    fn signal(&self, sig: &str) {
        let ok = std::process::Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM, then the exit status and how long it took.
    fn stop(mut self) -> (Option<i32>, Duration) {
        let t = Instant::now();
        self.signal("TERM");
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code(), t.elapsed());
            }
            if t.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("daemon did not stop within 30 s\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn config(feed_url: &str, interval: &str, rules: &str, daemon_extra: &str) -> String {
    format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\ninterval = \"{interval}\"\n\
         timeout = \"2s\"\n{daemon_extra}\n\n[[feed]]\nname = \"a\"\nurl = \"{feed_url}\"\n\n{rules}\n\
         [destination.console]\ntype = \"stdout\"\n"
    )
}

const CSTO_RULE: &str = "[[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n";

#[test]
fn polls_on_schedule_and_a_restart_does_not_repoll_early() {
    let server = FeedServer::start();
    server.set(
        "/a.xml",
        Route::xml(rss(&[("a1", "CSTO meets", "x")])).etag("\"e1\""),
    );
    let env = Env::new(&config(&server.url("/a.xml"), "1s", CSTO_RULE, ""));
    let d = Daemon::start(&env, &[]);
    wait_for("three polls", Duration::from_secs(15), || {
        server.requests("/a.xml").len() >= 3
    });
    wait_for("the digest", Duration::from_secs(10), || {
        d.stdout().contains("CSTO meets")
    });
    let (code, took) = d.stop();
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(12), "{took:?}");
    assert_eq!(d_count(&server), server.requests("/a.xml").len());

    // Now a long interval: after one poll, a restart must wait for the stored next poll.
    env.write(
        "feedwatch.toml",
        config(&server.url("/a.xml"), "1h", CSTO_RULE, ""),
    );
    let d = Daemon::start(&env, &[]);
    let before = server.requests("/a.xml").len();
    wait_for("one poll", Duration::from_secs(10), || {
        server.requests("/a.xml").len() > before
    });
    let (code, _) = d.stop();
    assert_eq!(code, Some(0));
    let after_first = server.requests("/a.xml").len();
    let d = Daemon::start(&env, &[]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        server.requests("/a.xml").len(),
        after_first,
        "restart re-polled early"
    );
    let out = d.stdout();
    assert_eq!(
        out.matches("CSTO meets").count(),
        0,
        "nothing is sent twice: {out}"
    );
    drop(d);
}

fn d_count(server: &FeedServer) -> usize {
    server.requests("/a.xml").len()
}

#[test]
fn retry_after_delays_the_next_request() {
    let server = FeedServer::start();
    server.set(
        "/a.xml",
        Route::xml("busy").status(429).header("Retry-After", "4"),
    );
    let env = Env::new(&config(&server.url("/a.xml"), "1s", CSTO_RULE, ""));
    let d = Daemon::start(&env, &[]);
    wait_for("first request", Duration::from_secs(10), || {
        !server.requests("/a.xml").is_empty()
    });
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(3000));
    assert_eq!(
        server.requests("/a.xml").len(),
        1,
        "polled again before Retry-After"
    );
    wait_for("second request", Duration::from_secs(10), || {
        server.requests("/a.xml").len() >= 2
    });
    assert!(t.elapsed() >= Duration::from_secs(3));
    drop(d);
}

#[test]
fn a_failing_feed_backs_off_and_sends_one_failing_and_one_recovered_notice() {
    let server = FeedServer::start();
    server.set("/a.xml", Route::xml("oops").status(500));
    let cfg = config(
        &server.url("/a.xml"),
        "1s",
        CSTO_RULE,
        "max_backoff = \"2s\"\nhealth_notify = [\"console\"]\n\n[health]\nfailures = 2",
    );
    let env = Env::new(&cfg);
    let d = Daemon::start(&env, &[]);
    wait_for("failing notice", Duration::from_secs(20), || {
        d.stdout().contains("feed failing: a")
    });
    wait_for("more failures", Duration::from_secs(20), || {
        server.requests("/a.xml").len() >= 4
    });
    server.set("/a.xml", Route::xml(rss(&[("a1", "CSTO back", "x")])));
    wait_for("recovered notice", Duration::from_secs(20), || {
        d.stdout().contains("feed recovered: a")
    });
    wait_for("a few good polls", Duration::from_secs(20), || {
        server
            .requests("/a.xml")
            .iter()
            .filter(|r| r.status == 200)
            .count()
            >= 3
    });
    let out = d.stdout();
    assert_eq!(out.matches("feed failing: a").count(), 1, "{out}");
    assert_eq!(out.matches("feed recovered: a").count(), 1, "{out}");
    assert!(
        out.contains("HTTP 500"),
        "the notice carries the error: {out}"
    );

    let status = env.run(&["status", "--json"]);
    assert!(status.status.success(), "{}", support::stderr(&status));
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status json");
    let feed = &v["feeds"][0];
    assert_eq!(feed["name"], "a");
    assert_eq!(feed["failures"], 0);
    assert_eq!(feed["http_status"], 200);
    drop(d);
}

#[test]
fn sighup_reloads_rules_and_a_broken_config_keeps_the_old_one() {
    let server = FeedServer::start();
    server.set("/a.xml", Route::xml(rss(&[("a1", "CSTO meets", "x")])));
    let env = Env::new(&config(&server.url("/a.xml"), "1s", CSTO_RULE, ""));
    let d = Daemon::start(&env, &[]);
    wait_for("first digest", Duration::from_secs(10), || {
        d.stdout().contains("CSTO meets")
    });

    // A broken config is refused; the daemon keeps running with the old rules.
    env.write("feedwatch.toml", "[daemon]\ninterval = \"nonsense\"\n");
    d.signal("HUP");
    wait_for("reload refusal", Duration::from_secs(10), || {
        d.stderr().contains("reload refused")
    });
    server.set(
        "/a.xml",
        Route::xml(rss(&[("a2", "CSTO again", "x"), ("a1", "CSTO meets", "x")])),
    );
    wait_for("old rules still work", Duration::from_secs(10), || {
        d.stdout().contains("CSTO again")
    });

    // A good config with a new rule applies to items found from then on.
    let rules = format!("{CSTO_RULE}\n[[rule]]\nname = \"sco\"\nquery = \"SCO\"\n");
    env.write(
        "feedwatch.toml",
        config(&server.url("/a.xml"), "1s", &rules, ""),
    );
    d.signal("HUP");
    wait_for("reload", Duration::from_secs(10), || {
        d.stderr().contains("config reloaded")
    });
    server.set(
        "/a.xml",
        Route::xml(rss(&[
            ("a3", "SCO summit opens", "x"),
            ("a2", "CSTO again", "x"),
            ("a1", "CSTO meets", "x"),
        ])),
    );
    wait_for("new rule fires", Duration::from_secs(10), || {
        d.stdout().contains("SCO summit opens")
    });
    let out = d.stdout();
    assert_eq!(out.matches("CSTO meets").count(), 1, "{out}");
    let (code, _) = d.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn notify_socket_gets_ready_and_watchdog_pings() {
    let server = FeedServer::start();
    server.set("/a.xml", Route::xml(rss(&[("a1", "CSTO", "x")])));
    let env = Env::new(&config(&server.url("/a.xml"), "1s", CSTO_RULE, ""));
    let sock_path = env.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let d = Daemon::start(
        &env,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "600000"),
        ],
    );
    let mut got = String::new();
    let t = Instant::now();
    let mut buf = [0u8; 4096];
    while t.elapsed() < Duration::from_secs(15)
        && !(got.contains("READY=1")
            && got.matches("WATCHDOG=1").count() >= 2
            && got.contains("STATUS="))
    {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
            got.push('\n');
        }
    }
    assert!(got.contains("READY=1"), "{got}");
    assert!(got.contains("STATUS="), "{got}");
    assert!(got.matches("WATCHDOG=1").count() >= 2, "{got}");
    let ready_at = got.find("READY=1").unwrap();
    let first_ping = got.find("WATCHDOG=1").unwrap();
    assert!(
        ready_at < first_ping,
        "READY comes before the first ping: {got}"
    );
    let (code, _) = d.stop();
    assert_eq!(code, Some(0));
}

#[test]
fn sigterm_exits_within_the_grace_period_and_leaves_the_digest_pending() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hook = rt.block_on(util::http::HttpReceiver::start(vec![
        util::http::Reply::Hang,
    ]));
    let server = FeedServer::start();
    server.set("/a.xml", Route::xml(rss(&[("a1", "CSTO meets", "x")])));
    let cfg = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\ninterval = \"2s\"\n\
         shutdown_grace = \"1s\"\n\n[[feed]]\nname = \"a\"\nurl = \"{}\"\n\n{CSTO_RULE}\n\
         [destination.hook]\ntype = \"webhook\"\nurl = \"{}\"\ntimeout = \"60s\"\n",
        server.url("/a.xml"),
        hook.url("/hook")
    );
    let env = Env::new(&cfg);
    let d = Daemon::start(&env, &[]);
    let t = Instant::now();
    while hook.requests().is_empty() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no delivery attempt:\n{}\n{}",
            d.stdout(),
            d.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (code, took) = d.stop();
    assert_eq!(code, Some(0));
    assert!(
        took < Duration::from_secs(6),
        "grace period is 1 s, took {took:?}"
    );
    let (status, attempts): (String, i64) = env
        .db()
        .query_row("SELECT status, attempts FROM digests", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(status, "pending", "the cut-off digest stays in the outbox");
    assert_eq!(attempts, 0);
}

#[test]
fn a_feed_with_nothing_new_for_stale_after_gets_one_notice() {
    let server = FeedServer::start();
    server.set(
        "/a.xml",
        Route::xml(rss(&[("a1", "CSTO meets", "x")])).etag("\"s1\""),
    );
    let cfg = config(
        &server.url("/a.xml"),
        "1s",
        CSTO_RULE,
        "health_notify = [\"console\"]",
    )
    .replace(
        "[[feed]]\nname = \"a\"\n",
        "[[feed]]\nname = \"a\"\nstale_after = \"2s\"\n",
    );
    let env = Env::new(&cfg);
    let d = Daemon::start(&env, &[]);
    wait_for("stale notice", Duration::from_secs(20), || {
        d.stdout().contains("feed stale: a")
    });
    // Several more polls with nothing new: still one notice.
    let polls = server.requests("/a.xml").len();
    wait_for("more polls", Duration::from_secs(20), || {
        server.requests("/a.xml").len() >= polls + 3
    });
    assert_eq!(
        d.stdout().matches("feed stale: a").count(),
        1,
        "{}",
        d.stdout()
    );
    server.set(
        "/a.xml",
        Route::xml(rss(&[("a2", "CSTO again", "x"), ("a1", "CSTO meets", "x")])).etag("\"s2\""),
    );
    wait_for("recovered notice", Duration::from_secs(20), || {
        d.stdout().contains("feed recovered: a")
    });
    let out = d.stdout();
    assert_eq!(out.matches("feed stale: a").count(), 1, "{out}");
    assert_eq!(out.matches("feed recovered: a").count(), 1, "{out}");
    assert!(out.contains("stale_after = 2s"), "{out}");
    drop(d);
}
