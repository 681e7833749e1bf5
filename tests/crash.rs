//! Crash safety of the real daemon: SIGKILLed at random (seeded) moments while its feeds
//! gain items and a slow webhook receiver takes digests, it loses no match, never sends an
//! item under two digest ids and leaves an intact SQLite file. Also the state file's bad
//! states: a zeroed first page is refused and left alone, a missing file starts fresh
//! under `first_poll`, a read-only one is a clear error.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use support::{Env, FeedServer, Route, bin, rss, stderr, stdout};

const FEEDS: [&str; 3] = ["a", "b", "c"];
/// Kill/restart cycles of the main test.
const ROUNDS: usize = 32;
const DEFAULT_SEED: u64 = 0x00fe_edfa_11ed;

/// splitmix64: the same seed gives the same feed growth and the same kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One POST as it reached the receiver (recorded before the receiver answers).
#[derive(Clone)]
struct Arrival {
    digest: String,
    items: Vec<String>,
    body: Bytes,
}

/// A webhook receiver that answers 200 after a delay of 0-400 ms, so that kills land
/// between "sent" and "marked sent" as well as elsewhere.
#[derive(Clone)]
struct Receiver {
    url: String,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

async fn receive(State(arrivals): State<Arc<Mutex<Vec<Arrival>>>>, body: Bytes) -> &'static str {
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json digest body");
    let digest = v["id"].as_str().expect("digest id").to_string();
    let items = v["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|i| i["id"].as_str().expect("item id").to_string())
        .collect();
    let n = {
        let mut a = arrivals.lock().unwrap();
        a.push(Arrival {
            digest,
            items,
            body,
        });
        a.len() as u64
    };
    tokio::time::sleep(Duration::from_millis((n * 137) % 400)).await;
    "ok"
}

impl Receiver {
    fn start() -> Receiver {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let state = arrivals.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("receiver runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind receiver");
                tx.send(listener.local_addr().expect("addr")).expect("send");
                let app = Router::new().fallback(receive).with_state(state);
                axum::serve(listener, app).await.expect("serve");
            });
        });
        let addr = rx.recv_timeout(Duration::from_secs(10)).expect("receiver");
        Receiver {
            url: format!("http://{addr}/hook"),
            arrivals,
        }
    }

    fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    fn delivered_items(&self) -> BTreeSet<String> {
        self.arrivals().into_iter().flat_map(|a| a.items).collect()
    }
}

/// The feeds as the test publishes them, and every match they must produce.
struct Feeds {
    server: FeedServer,
    /// feed → (guid, title), newest first.
    items: BTreeMap<&'static str, Vec<(String, String)>>,
    expected: BTreeSet<String>,
    version: u32,
    serial: u32,
}

impl Feeds {
    fn new() -> Feeds {
        Feeds {
            server: FeedServer::start(),
            items: FEEDS.iter().map(|f| (*f, Vec::new())).collect(),
            expected: BTreeSet::new(),
            version: 0,
            serial: 0,
        }
    }

    /// Adds a few items to some feeds: about half match a rule, some (a story carried by
    /// two feeds) arrive through two feeds in the same or a later round.
    fn grow(&mut self, rng: &mut Rng, carried: &mut Vec<String>) {
        for feed in FEEDS {
            for _ in 0..rng.below(3) {
                self.serial += 1;
                let guid = format!("urn:crash:{feed}:{}", self.serial);
                let title = match rng.below(4) {
                    0 => format!("CSTO ministers meet, part {}", self.serial),
                    1 => format!("SCO and CSTO summit {}", self.serial),
                    _ => format!("Weather report {}", self.serial),
                };
                self.push(feed, guid, title);
            }
        }
        if let Some(guid) = carried.pop() {
            self.push("b", guid.clone(), format!("CSTO shared story {guid}"));
        }
        if rng.below(3) == 0 {
            self.serial += 1;
            let guid = format!("urn:crash:shared:{}", self.serial);
            self.push("a", guid.clone(), format!("CSTO shared story {guid}"));
            carried.push(guid);
        }
        self.publish();
    }

    fn push(&mut self, feed: &'static str, guid: String, title: String) {
        if title.contains("CSTO") || title.contains("SCO") {
            self.expected.insert(guid.clone());
        }
        let list = self.items.get_mut(feed).expect("known feed");
        list.insert(0, (guid, title));
        // Old items leave the feed, as on a real site.
        list.truncate(25);
    }

    fn publish(&mut self) {
        self.version += 1;
        for (feed, list) in &self.items {
            let items: Vec<(&str, &str, &str)> = list
                .iter()
                .map(|(g, t)| (g.as_str(), t.as_str(), "Report."))
                .collect();
            let etag = format!("\"{feed}-{}\"", self.version);
            self.server
                .set(&format!("/{feed}.xml"), Route::xml(rss(&items)).etag(&etag));
        }
    }
}

fn daemon_config(feeds: &FeedServer, hook: &str) -> String {
    let mut s = String::from(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\
         interval = \"1s\"\ntimeout = \"2s\"\nshutdown_grace = \"2s\"\n\n",
    );
    for f in FEEDS {
        s.push_str(&format!(
            "[[feed]]\nname = \"{f}\"\nurl = \"{}\"\n\n",
            feeds.url(&format!("/{f}.xml"))
        ));
    }
    s.push_str(&format!(
        "[[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n[[rule]]\nname = \"sco\"\nquery = \"SCO\"\n\n\
         [destination.hook]\ntype = \"webhook\"\nurl = \"{hook}\"\nformat = \"json\"\n\
         max_items = 3\ntimeout = \"3s\"\n"
    ));
    s
}

struct Daemon {
    child: Child,
    err: PathBuf,
}

impl Daemon {
    fn start(env: &Env, tag: &str) -> Daemon {
        let err = env.path(&format!("daemon-{tag}.err"));
        let child = bin()
            .args(["run", "--log-level", "debug", "--config"])
            .arg(env.config_path())
            .current_dir(env.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&err).expect("log file")))
            .spawn()
            .expect("spawn daemon");
        Daemon { child, err }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGKILL: no handler runs, nothing is flushed or closed.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -TERM {pid}");
        self.wait_exit(Duration::from_secs(15))
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let t = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(
                t.elapsed() < timeout,
                "daemon still running:\n{}",
                self.stderr()
            );
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

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open db");
    conn.busy_timeout(Duration::from_secs(5))
        .expect("busy timeout");
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_never_renames_a_digest() {
    let seed = std::env::var("FEEDWATCH_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    eprintln!("crash harness seed: {seed} (set FEEDWATCH_CRASH_SEED to replay another)");
    let mut rng = Rng(seed);
    let receiver = Receiver::start();
    let mut feeds = Feeds::new();
    let env = Env::new(&daemon_config(&feeds.server, &receiver.url));
    let db = env.path("feedwatch.db");
    let started = Instant::now();
    let mut carried = Vec::new();

    for round in 0..ROUNDS {
        feeds.grow(&mut rng, &mut carried);
        let d = Daemon::start(&env, &round.to_string());
        std::thread::sleep(Duration::from_millis(50 + rng.below(700)));
        // Feeds also change while the daemon runs.
        if rng.below(2) == 0 {
            feeds.grow(&mut rng, &mut carried);
        }
        std::thread::sleep(Duration::from_millis(rng.below(700)));
        d.kill();
    }
    let killed_after = started.elapsed();
    feeds.publish();

    // A clean run drains whatever the kills left pending.
    let d = Daemon::start(&env, "final");
    let t = Instant::now();
    loop {
        let done = feeds.expected.is_subset(&receiver.delivered_items())
            && count(&db, "SELECT count(*) FROM outbox WHERE digest_id IS NULL") == 0
            && count(&db, "SELECT count(*) FROM digests WHERE status <> 'sent'") == 0;
        if done {
            break;
        }
        if t.elapsed() > Duration::from_secs(25) {
            let missing: Vec<_> = feeds
                .expected
                .difference(&receiver.delivered_items())
                .cloned()
                .collect();
            panic!("not drained; missing {missing:?}\n{}", d.stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGTERM before the handlers are installed would simply kill it: wait for them.
    while !d.stderr().contains("feedwatch started") {
        assert!(t.elapsed() < Duration::from_secs(30), "{}", d.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(d.terminate(), Some(0), "clean stop");

    let arrivals = receiver.arrivals();
    let mut digests_of: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut body_of: HashMap<&str, &Bytes> = HashMap::new();
    for a in &arrivals {
        for item in &a.items {
            digests_of.entry(item).or_default().insert(&a.digest);
        }
        // A digest re-sent after a kill is the same bytes, not a regrouping.
        let first = body_of.entry(&a.digest).or_insert(&a.body);
        assert_eq!(*first, &a.body, "digest {} changed between sends", a.digest);
    }
    for (item, ids) in &digests_of {
        assert_eq!(ids.len(), 1, "item {item} arrived under digests {ids:?}");
    }
    let delivered: BTreeSet<String> = digests_of.keys().map(|s| s.to_string()).collect();
    assert_eq!(
        delivered, feeds.expected,
        "exactly the matching items arrived"
    );
    assert!(
        feeds.expected.len() >= 40,
        "too few matches to mean anything"
    );

    let conn = rusqlite::Connection::open(&db).expect("open db");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok");
    let resent = arrivals.len() - body_of.len();
    eprintln!(
        "{ROUNDS} kills in {killed_after:?}; {} matches, {} digests, {resent} re-sent after a kill",
        feeds.expected.len(),
        body_of.len()
    );
    assert!(started.elapsed() < Duration::from_secs(90));
}

// ---- the state file's bad states ---------------------------------------------------

fn file_config(state: &str, first_poll: &str) -> String {
    format!(
        "[daemon]\nstate = \"{state}\"\nfirst_poll = \"{first_poll}\"\nmax_age = \"off\"\n\n\
         [[feed]]\nname = \"local\"\nurl = \"feed.xml\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n[destination.console]\ntype = \"stdout\"\n"
    )
}

fn write_feed(env: &Env, titles: &[&str]) {
    let items: Vec<(String, &str)> = titles
        .iter()
        .map(|t| (format!("urn:state:{}", t.replace(' ', "-")), *t))
        .collect();
    let items: Vec<(&str, &str, &str)> = items.iter().map(|(g, t)| (g.as_str(), *t, "x")).collect();
    env.write("feed.xml", rss(&items));
}

/// Runs the daemon until it exits by itself (it must, here) and returns its output.
fn daemon_refuses(env: &Env) -> Output {
    let mut child = bin()
        .args(["run", "--config"])
        .arg(env.config_path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn daemon");
    let t = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if t.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the daemon started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("daemon output")
}

#[test]
fn a_zeroed_first_page_is_refused_and_never_recreated() {
    let env = Env::new(&file_config("feedwatch.db", "alert"));
    write_feed(&env, &["CSTO one"]);
    let first = env.run(&["run", "--once"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let db = env.path("feedwatch.db");
    let mut bytes = std::fs::read(&db).expect("db");
    let page = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    assert!(page >= 512 && bytes.len() > page, "page size {page}");
    bytes[..page].fill(0);
    std::fs::write(&db, &bytes).expect("zero the first page");

    for out in [env.run(&["run", "--once"]), daemon_refuses(&env)] {
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains("not a usable feedwatch state database"),
            "{err}"
        );
        assert!(err.contains("will not recreate it"), "{err}");
        assert!(err.contains(&db.display().to_string()), "{err}");
        assert!(!stdout(&out).contains("CSTO"), "nothing polled or sent");
        assert_eq!(
            std::fs::read(&db).expect("db"),
            bytes,
            "the file was touched"
        );
    }
    let status = env.run(&["status"]);
    assert_ne!(status.status.code(), Some(0));
    assert!(
        stderr(&status).contains("not a usable"),
        "{}",
        stderr(&status)
    );
}

#[test]
fn a_missing_database_starts_fresh_under_first_poll() {
    let env = Env::new(&file_config("state/deep/feedwatch.db", "seen"));
    let db = env.path("state/deep/feedwatch.db");
    write_feed(&env, &["CSTO one"]);
    let run = |expect: &[&str], refuse: &[&str]| {
        let out = env.run(&["run", "--once"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        for e in expect {
            assert!(text.contains(e), "want {e:?} in {text}");
        }
        for r in refuse {
            assert!(!text.contains(r), "{r:?} must not be sent: {text}");
        }
        text
    };
    // Missing file and folders: created, and the first poll only marks items seen.
    let text = run(&["first poll: items marked seen"], &["CSTO one"]);
    assert!(text.contains("1 new"), "{text}");
    assert!(db.exists());
    write_feed(&env, &["CSTO two", "CSTO one"]);
    run(&["CSTO two"], &["CSTO one"]);

    // The file disappears: the next run starts over, again under first_poll = "seen".
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    write_feed(&env, &["CSTO three", "CSTO two", "CSTO one"]);
    run(&["first poll: items marked seen"], &["CSTO"]);
    write_feed(&env, &["CSTO four", "CSTO three", "CSTO two", "CSTO one"]);
    run(&["CSTO four"], &["CSTO three", "CSTO two", "CSTO one"]);

    // Under first_poll = "alert" a fresh file alerts on what the feed holds.
    std::fs::remove_dir_all(env.path("state")).expect("remove state");
    env.write(
        "feedwatch.toml",
        file_config("state/deep/feedwatch.db", "alert"),
    );
    run(&["CSTO four", "CSTO one"], &["first poll"]);
}

#[test]
fn a_read_only_database_is_a_clear_error() {
    let env = Env::new(&file_config("state/feedwatch.db", "alert"));
    write_feed(&env, &["CSTO one"]);
    let first = env.run(&["run", "--once"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let db = env.path("state/feedwatch.db");
    let before = std::fs::read(&db).expect("db");
    write_feed(&env, &["CSTO two", "CSTO one"]);

    let set_mode = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    for (what, path, mode) in [
        ("the file is not writable", db.clone(), 0o444),
        ("is not writable", env.path("state"), 0o555),
    ] {
        set_mode(&path, mode);
        for out in [env.run(&["run", "--once"]), daemon_refuses(&env)] {
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(3), "{err}");
            assert!(err.contains("is read-only"), "{err}");
            assert!(err.contains(what), "{err}");
            assert!(err.contains("make it and its folder writable"), "{err}");
            assert!(!stdout(&out).contains("CSTO two"), "nothing sent");
        }
        set_mode(&path, if mode == 0o444 { 0o644 } else { 0o755 });
        assert_eq!(std::fs::read(&db).expect("db"), before, "unchanged");
    }
    // `status` only reads, so a read-only file still answers.
    set_mode(&db, 0o444);
    let status = env.run(&["status"]);
    assert!(status.status.success(), "{}", stderr(&status));
    set_mode(&db, 0o644);
    // Writable again: the pending item goes out.
    let out = env.run(&["run", "--once"]);
    assert!(stdout(&out).contains("CSTO two"), "{}", stdout(&out));
}

#[test]
fn run_once_and_the_daemon_prune_keys_that_left_their_feed() {
    let env = Env::new(
        &file_config("feedwatch.db", "alert")
            .replace("[daemon]\n", "[daemon]\nretention = \"2s\"\n"),
    );
    let db = env.path("feedwatch.db");
    let seen = || count(&db, "SELECT count(*) FROM seen");
    write_feed(&env, &["CSTO one", "CSTO two", "Weather"]);
    let out = env.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(seen(), 3);
    // "CSTO one" and "Weather" leave the feed; after the retention they are forgotten,
    // and the item nothing refers to any more goes with them.
    write_feed(&env, &["CSTO two"]);
    std::thread::sleep(Duration::from_millis(3100));
    let out = env.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(seen(), 1);
    assert_eq!(
        count(&db, "SELECT count(*) FROM items"),
        2,
        "sent items stay with their digest"
    );

    // The daemon prunes at start (and daily).
    write_feed(&env, &[]);
    env.write(
        "feedwatch.toml",
        file_config("feedwatch.db", "alert").replace(
            "[daemon]\n",
            "[daemon]\nretention = \"2s\"\ninterval = \"1h\"\n",
        ),
    );
    std::thread::sleep(Duration::from_millis(3100));
    let d = Daemon::start(&env, "prune");
    let t = Instant::now();
    while seen() != 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "{}", d.stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        d.stderr().contains("pruned the state database"),
        "{}",
        d.stderr()
    );
    assert_eq!(d.terminate(), Some(0));
}
