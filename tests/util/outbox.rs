//! An outbox under test: a temp dir holding a config (one file feed, one rule `csto`
//! matching "CSTO", the destinations a test gives), a real SQLite state file and the
//! [`Engine`] built from them, so tests poll for real and drive delivery with their own
//! clock.

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use feedwatch::pipeline::{DeliveryReport, Engine, FeedReport, StoreHandle};
use feedwatch::store::{DestinationStatus, Store, StoreError, StoredDigest};

pub struct Outbox {
    pub dir: tempfile::TempDir,
    pub engine: Arc<Engine>,
}

/// The config header every outbox test shares: alert on the first poll, no age limit.
fn config(destinations: &str) -> String {
    format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\n\
         [[feed]]\nname = \"news\"\nurl = \"news.xml\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = 'CSTO'\n\n{destinations}"
    )
}

/// An RSS document with one item per `(guid, title)`.
pub fn rss(items: &[(String, String)]) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>News</title><link>http://example.org/</link><description>t</description>\n",
    );
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
             <link>http://example.org/{guid}</link><description>{title}</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// `n` items that match the `csto` rule, guids `{prefix}-0` …
pub fn matching(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("{prefix}-{i}"), format!("CSTO story {prefix} {i}")))
        .collect()
}

/// A whole-second instant (what the store keeps), `secs` after `t`.
pub fn at(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    let t = DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t);
    t + chrono::Duration::seconds(secs)
}

impl Outbox {
    /// A config with these `[destination.NAME]` tables and an empty feed.
    pub fn new(destinations: &str) -> Outbox {
        Outbox::new_with(destinations, &[])
    }

    /// Like [`Outbox::new`], with extra files (secrets) written next to the config first.
    pub fn new_with(destinations: &str, files: &[(&str, &str)]) -> Outbox {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents).expect("write file");
        }
        std::fs::write(dir.path().join("feedwatch.toml"), config(destinations))
            .expect("write config");
        std::fs::write(dir.path().join("news.xml"), rss(&[])).expect("write feed");
        let cfg = feedwatch::config::load(&dir.path().join("feedwatch.toml"))
            .unwrap_or_else(|e| panic!("test config does not load:\n{e}"));
        let store = Store::open(&cfg.daemon.state).expect("open state");
        let engine = Arc::new(
            Engine::new(Arc::new(cfg), StoreHandle::new(store)).expect("engine from config"),
        );
        Outbox { dir, engine }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Replaces the feed's content.
    pub fn feed(&self, items: &[(String, String)]) {
        std::fs::write(self.path("news.xml"), rss(items)).expect("write feed");
    }

    /// Writes the feed and polls it once; returns the new matches recorded.
    pub async fn poll(&self, items: &[(String, String)]) -> usize {
        self.feed(items);
        let reports: Vec<FeedReport> = self.engine.poll_all().await;
        match reports.as_slice() {
            [r] => match &r.outcome {
                feedwatch::pipeline::FeedOutcome::Polled { matches, .. } => *matches,
                other => panic!("poll did not succeed: {other:?}"),
            },
            other => panic!("expected one feed report, got {other:?}"),
        }
    }

    pub async fn deliver(&self, now: DateTime<Utc>, cycle_done: bool) -> Vec<DeliveryReport> {
        self.engine.deliver_due(now, cycle_done).await
    }

    pub async fn store<R, F>(&self, f: F) -> R
    where
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        self.engine.store().call(f).await.expect("store call")
    }

    pub async fn status(&self, name: &str) -> DestinationStatus {
        let name = name.to_string();
        self.store(move |s| s.destinations_status(&[name]))
            .await
            .pop()
            .expect("one status")
    }

    pub async fn digest(&self, id: &str) -> StoredDigest {
        let id = id.to_string();
        self.store(move |s| s.digest(&id))
            .await
            .expect("digest is stored")
    }

    /// Runs the real binary with `ARGS --config <this config>` (on a blocking thread, so
    /// the in-process servers keep answering).
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
        cmd.args(args)
            .arg("--config")
            .arg(self.path("feedwatch.toml"))
            .current_dir(self.dir.path());
        for var in [
            "FEEDWATCH_CONFIG",
            "RUST_LOG",
            "NOTIFY_SOCKET",
            "WATCHDOG_USEC",
        ] {
            cmd.env_remove(var);
        }
        tokio::task::spawn_blocking(move || cmd.output().expect("run feedwatch"))
            .await
            .expect("blocking task")
    }
}
