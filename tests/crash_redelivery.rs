//! At-least-once across a crash: the real binary is SIGKILLed while its first delivery
//! attempt is in flight (the digest committed, the receiver holding the request
//! unanswered); the next run sends the same digest, under the same id, exactly once.

mod util;

use std::process::{Command, Stdio};
use std::time::Duration;

use feedwatch::store::{DigestStatus, Store, StoredDigest};
use util::http::{self, HttpReceiver};
use util::outbox::{matching, rss};

fn bin(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    cmd.args(["run", "--once", "--config"])
        .arg(dir.join("feedwatch.toml"))
        .current_dir(dir);
    for var in [
        "FEEDWATCH_CONFIG",
        "RUST_LOG",
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

async fn run_once(dir: &std::path::Path) -> std::process::Output {
    let mut cmd = bin(dir);
    tokio::task::spawn_blocking(move || cmd.output().expect("run feedwatch"))
        .await
        .expect("blocking task")
}

/// Every digest in the state file, read without writing to it.
fn digests(dir: &std::path::Path, ids: &[String]) -> Vec<StoredDigest> {
    let store = Store::open_read_only(dir.join("feedwatch.db")).expect("open state read-only");
    ids.iter()
        .filter_map(|id| store.digest(id).expect("read digest"))
        .collect()
}

fn pending_count(dir: &std::path::Path) -> usize {
    let store = Store::open_read_only(dir.join("feedwatch.db")).expect("open state read-only");
    store
        .destinations_status(&["hook"])
        .expect("status")
        .iter()
        .map(|s| s.pending_digests)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_send_redelivers_the_same_digest_once() {
    // The first request is held unanswered; everything after it gets 200.
    let rx = HttpReceiver::start(vec![http::Reply::Hang]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\n\
         [[feed]]\nname = \"news\"\nurl = \"news.xml\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = 'CSTO'\n\n\
         [destination.hook]\ntype = \"webhook\"\nurl = \"{}\"\ntimeout = \"60s\"\n\
         secret_file = \"hook-secret\"\n",
        rx.url("/hook")
    );
    std::fs::write(dir.path().join("feedwatch.toml"), config).expect("write config");
    std::fs::write(dir.path().join("hook-secret"), "crash-secret").expect("write secret");
    std::fs::write(dir.path().join("news.xml"), rss(&matching("k", 2))).expect("write feed");

    let mut child = bin(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start feedwatch");
    let arrived = rx.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(arrived.len(), 1, "the first attempt never arrived");
    let id = arrived[0].header("webhook-id").unwrap_or_default();
    assert!(!id.is_empty());
    // The digest was committed before the attempt and is still pending.
    let before = digests(dir.path(), std::slice::from_ref(&id));
    assert_eq!(before.len(), 1);
    assert_eq!(
        (before[0].status, before[0].attempts),
        (DigestStatus::Pending, 0)
    );
    assert_eq!(
        child.try_wait().expect("child status"),
        None,
        "still sending"
    );
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reap child");
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }
    assert_eq!(pending_count(dir.path()), 1);

    let again = run_once(dir.path()).await;
    assert!(again.status.success(), "{again:?}");
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2, "redelivered once after the restart");
    let second = &reqs[1];
    assert_eq!(second.header("webhook-id"), Some(id.clone()));
    assert_eq!(second.json()["id"], id.as_str());
    assert_eq!(second.json()["items"], arrived[0].json()["items"]);
    assert!(second.signature_valid("crash-secret"));
    let after = digests(dir.path(), std::slice::from_ref(&id));
    assert_eq!(
        (after[0].status, after[0].attempts),
        (DigestStatus::Sent, 1)
    );
    assert_eq!(pending_count(dir.path()), 0);

    // Nothing else goes out: the items are seen, the digest is sent.
    let third = run_once(dir.path()).await;
    assert!(third.status.success(), "{third:?}");
    assert_eq!(rx.requests().len(), 2, "nothing sent a second time");
}
