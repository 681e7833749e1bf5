use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::store::StoreError;
use crate::store::schema::LATEST;

fn pragma_i64(store: &Store, name: &str) -> i64 {
    store
        .conn
        .pragma_query_value(None, name, |r| r.get(0))
        .unwrap()
}

#[test]
fn creates_folder_and_file_with_the_chosen_settings() {
    let (dir, store) = fresh();
    assert!(dir.path().join("state/feedwatch.db").is_file());
    let mode: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(pragma_i64(&store, "auto_vacuum"), 2, "incremental");
    assert_eq!(pragma_i64(&store, "foreign_keys"), 1);
    assert_eq!(pragma_i64(&store, "synchronous"), 1, "normal");
    assert_eq!(
        pragma_i64(&store, "temp_store"),
        2,
        "statement journals in memory"
    );
    assert_eq!(pragma_i64(&store, "user_version"), LATEST);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn state_survives_reopening() {
    let (dir, mut store) = fresh();
    poll(&mut store, "tass", at(0, 0), vec![item("a")], &[]);
    drop(store);
    let store = Store::open(dir.path().join("state/feedwatch.db")).unwrap();
    assert_eq!(
        store.unseen("tass", &[item("a"), item("b")]).unwrap(),
        [false, true]
    );
    assert_eq!(
        store.feed_state("tass").unwrap().unwrap().etag.as_deref(),
        Some("\"v1\"")
    );
}

#[test]
fn releasing_memory_keeps_the_state_and_the_connection_usable() {
    let (_dir, mut store) = fresh();
    let items: Vec<Item> = (0..500).map(|i| item(&format!("n{i}"))).collect();
    poll(&mut store, "tass", at(0, 0), items, &[(0, "r", "console")]);
    store.release_memory().unwrap();
    // Everything is read back from the file, and writing goes on.
    assert_eq!(
        store
            .unseen("tass", &[item("n0"), item("n499"), item("new")])
            .unwrap(),
        [false, false, true]
    );
    poll(&mut store, "tass", at(0, 1), vec![item("new")], &[]);
    store.release_memory().unwrap();
    assert_eq!(store.feeds_status().unwrap()[0].items_seen, 501);
}

/// Writes `bytes` over the start of the file and returns the whole file after.
fn overwrite_start(path: &std::path::Path, bytes: &[u8]) -> Vec<u8> {
    let mut data = fs::read(path).unwrap();
    data[..bytes.len()].copy_from_slice(bytes);
    fs::write(path, &data).unwrap();
    data
}

#[test]
fn zeroed_first_page_is_refused_and_left_alone() {
    let (dir, mut store) = fresh();
    poll(&mut store, "tass", at(0, 0), vec![item("a")], &[]);
    drop(store); // a clean close checkpoints the WAL into the file
    let path = dir.path().join("state/feedwatch.db");
    let before = overwrite_start(&path, &[0; 4096]);
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(msg.contains("will not recreate"), "{msg}");
    assert!(msg.contains("move it away"), "{msg}");
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "the file must not be touched"
    );
    let err = Store::open_read_only(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
}

#[test]
fn foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.db");
    fs::write(&text, "these are my notes, not a database\n".repeat(200)).unwrap();
    assert!(matches!(
        Store::open(&text),
        Err(StoreError::NotADatabase { .. })
    ));

    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).unwrap();
    conn.execute_batch("CREATE TABLE photos (id INTEGER)")
        .unwrap();
    drop(conn);
    let err = Store::open(&other).unwrap_err();
    assert!(err.to_string().contains("some other program"), "{err}");
}

#[test]
fn newer_schema_is_refused() {
    let (dir, store) = fresh();
    store
        .conn
        .pragma_update(None, "user_version", LATEST + 1)
        .unwrap();
    drop(store);
    let path = dir.path().join("state/feedwatch.db");
    for err in [
        Store::open(&path).unwrap_err(),
        Store::open_read_only(&path).unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::TooNew { found, .. } if found == LATEST + 1));
        assert!(err.to_string().contains("upgrade feedwatch"), "{err}");
    }
}

#[test]
fn read_only_file_or_folder_gives_a_clear_error() {
    let (dir, store) = fresh();
    drop(store);
    let folder = dir.path().join("state");
    let path = folder.join("feedwatch.db");

    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    let err = Store::open(&path).unwrap_err();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains(&path.display().to_string()));
    assert!(err.to_string().contains("make it and its folder writable"));

    fs::set_permissions(&folder, fs::Permissions::from_mode(0o555)).unwrap();
    let err = Store::open(&path).unwrap_err();
    // Readers need no write access.
    let reader = Store::open_read_only(&path).map(drop);
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(err.to_string().contains("is not writable"), "{err}");
    reader.unwrap();
}

#[test]
fn reader_never_creates_and_sees_the_writers_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feedwatch.db");
    assert!(matches!(
        Store::open_read_only(&path),
        Err(StoreError::Missing { .. })
    ));
    assert!(!path.exists());

    let mut writer = Store::open(&path).unwrap();
    let mut reader = Store::open_read_only(&path).unwrap();
    poll(
        &mut writer,
        "tass",
        at(0, 0),
        vec![item("a"), item("b")],
        &[],
    );
    let status = reader.feeds_status().unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].items_seen, 2);
    assert!(
        reader
            .record_failure("tass", at(0, 1), None, "x", at(0, 2))
            .is_err()
    );
}

#[test]
fn committed_state_survives_a_crash_and_uncommitted_does_not() {
    let (dir, mut store) = fresh();
    poll(
        &mut store,
        "tass",
        at(0, 0),
        vec![item("a")],
        &[(0, "r", "console")],
    );
    // An open transaction with many uncommitted pages spilled into the WAL…
    store.conn.pragma_update(None, "cache_size", 2).unwrap();
    let tx = store.conn.unchecked_transaction().unwrap();
    for i in 0..2000 {
        tx.execute(
            "INSERT INTO seen (feed, key, item_id, first_seen, last_seen) VALUES ('x', ?1, 1, 0, 0)",
            [format!("{i:0>200}")],
        )
        .unwrap();
    }
    // …and the machine stops: what is on disk now is what a restart finds.
    let src = dir.path().join("state");
    let crashed = dir.path().join("crashed");
    fs::create_dir(&crashed).unwrap();
    for name in ["feedwatch.db", "feedwatch.db-wal"] {
        fs::copy(src.join(name), crashed.join(name)).unwrap();
    }
    let wal_len = fs::metadata(crashed.join("feedwatch.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal_len > 100_000,
        "uncommitted pages reached the WAL ({wal_len} bytes)"
    );
    drop(tx);

    let reopened = Store::open(crashed.join("feedwatch.db")).unwrap();
    assert_eq!(reopened.integrity_check().unwrap(), "ok");
    assert_eq!(reopened.unseen("tass", &[item("a")]).unwrap(), [false]);
    assert_eq!(reopened.pending_matches("console").unwrap(), 1);
    assert_eq!(count(&reopened, "seen"), 1, "nothing uncommitted survives");
}

#[test]
fn a_writer_blocked_by_another_process_gets_a_clear_error() {
    let (dir, daemon) = fresh();
    let path = dir.path().join("state/feedwatch.db");
    let mut cli = Store::open(&path).unwrap();
    cli.conn
        .busy_timeout(std::time::Duration::from_millis(50))
        .unwrap();
    daemon.conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let err = cli.retry_failed("hook", at(0, 0)).unwrap_err();
    assert!(matches!(err, StoreError::Busy { .. }), "{err:?}");
    assert!(err.to_string().contains("another feedwatch"), "{err}");
    daemon.conn.execute_batch("COMMIT").unwrap();
    assert_eq!(cli.retry_failed("hook", at(0, 0)).unwrap(), 0);
}
