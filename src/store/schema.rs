//! Opening the database file: pragmas, refusal of foreign or newer files, and forward
//! migrations keyed on `PRAGMA user_version`.

use std::path::Path;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::{StoreError, sql};

/// How long a writer waits for another process's lock (for example `feedwatch retry` while
/// the daemon commits) before giving up with [`StoreError::Busy`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The writer's page cache, as SQLite's negative-KiB `cache_size` (32 MiB).
pub(super) const CACHE_KIB: i64 = -32 * 1024;

/// Schema migrations; `MIGRATIONS[i]` takes the schema from version `i` to `i + 1`.
/// Never edit a released entry: append a new one.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

const V1: &str = "
CREATE TABLE feeds (
    name           TEXT PRIMARY KEY,
    etag           TEXT,
    last_modified  TEXT,
    last_poll      INTEGER,
    last_success   INTEGER,
    http_status    INTEGER,
    failures       INTEGER NOT NULL DEFAULT 0,
    next_poll      INTEGER,
    last_error     TEXT,
    last_new_at    INTEGER,
    polled_ok      INTEGER NOT NULL DEFAULT 0,
    health         TEXT NOT NULL DEFAULT 'ok' CHECK (health IN ('ok', 'failing')),
    health_since   INTEGER,
    stale_notified INTEGER NOT NULL DEFAULT 0,
    flood_notified INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE items (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL,
    guid       TEXT,
    norm_link  TEXT,
    title      TEXT NOT NULL,
    link       TEXT,
    published  INTEGER,
    summary    TEXT NOT NULL,
    first_seen INTEGER NOT NULL
);
CREATE INDEX items_guid ON items(guid) WHERE guid IS NOT NULL;
CREATE INDEX items_norm_link ON items(norm_link) WHERE norm_link IS NOT NULL;
CREATE INDEX items_key ON items(key) WHERE norm_link IS NULL;
CREATE TABLE seen (
    feed       TEXT NOT NULL,
    key        TEXT NOT NULL,
    item_id    INTEGER NOT NULL REFERENCES items(id),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (feed, key)
) WITHOUT ROWID;
-- No index on last_seen: only the daily prune reads it, and a scan there is cheaper than
-- moving an index entry on every re-seen item of every poll.
CREATE INDEX seen_item ON seen(item_id);
-- A rowid table: the rowid orders feeds that brought an item within the same second.
CREATE TABLE item_feeds (
    item_id    INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    feed       TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (item_id, feed)
);
CREATE TABLE digests (
    id            TEXT PRIMARY KEY,
    destination   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL,
    first_attempt INTEGER,
    last_attempt  INTEGER,
    last_error    TEXT,
    sent_at       INTEGER,
    payload       TEXT NOT NULL
);
CREATE INDEX digests_queue ON digests(destination, status, next_attempt);
CREATE TABLE outbox (
    item_id     INTEGER NOT NULL REFERENCES items(id),
    destination TEXT NOT NULL CHECK (destination <> ''),
    rules       TEXT NOT NULL,
    matched     TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    digest_id   TEXT REFERENCES digests(id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, destination)
);
CREATE INDEX outbox_pending ON outbox(destination, created_at) WHERE digest_id IS NULL;
CREATE INDEX outbox_digest ON outbox(digest_id) WHERE digest_id IS NOT NULL;
CREATE TABLE destinations (
    name          TEXT PRIMARY KEY,
    next_due      INTEGER,
    last_delivery INTEGER
);
";

/// Version 2: each feed row remembers which source it was polled from (a hash, see
/// `identity::feed_source_id`), so a feed renamed in the config keeps its state.
const V2: &str = "ALTER TABLE feeds ADD COLUMN source TEXT;";

/// Opens (creating if missing) a database for the single writer.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        // WAL needs to create `-wal` and `-shm` next to the file. The permission bits are
        // checked by hand because SQLite (and root) would otherwise get further and fail
        // later with a vaguer message, or silently fall back to read-only.
        if is_read_only(dir) {
            return Err(StoreError::ReadOnly {
                path: path.to_path_buf(),
                detail: format!("its folder {} is not writable", dir.display()),
            });
        }
    }
    if path.exists() && is_read_only(path) {
        return Err(StoreError::ReadOnly {
            path: path.to_path_buf(),
            detail: "the file is not writable".into(),
        });
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(path, flags).map_err(sql(path, "opening"))?;
    if conn.is_readonly("main").map_err(sql(path, "opening"))? {
        return Err(StoreError::ReadOnly {
            path: path.to_path_buf(),
            detail: "SQLite could open it for reading only".into(),
        });
    }
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql(path, "setting the busy timeout"))?;
    // The first read of the header is where a foreign or zeroed file shows itself.
    let version = user_version(&conn, path)?;
    refuse_newer(path, version)?;
    if version == 0 && table_count(&conn, path)? == 0 {
        // Only settable before the first table exists; lets `prune` give pages back.
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(sql(path, "setting auto_vacuum"))?;
    }
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(sql(path, "switching to WAL"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::ReadOnly {
            path: path.to_path_buf(),
            detail: format!("SQLite refused WAL mode and stayed in {mode} mode"),
        });
    }
    // NORMAL: in WAL mode a commit is atomic and survives a process crash (SIGKILL); only
    // power loss can roll back the last commits, never corrupt the file. Losing a poll
    // commit only makes its items new again. The one commit that must not be lost once
    // acted upon is a digest's assembly (its id goes out on the wire), so that path
    // switches to FULL for its own transaction, which also syncs every earlier WAL frame.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql(path, "setting synchronous"))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(sql(path, "enabling foreign keys"))?;
    // The default 2 MB cache holds a small part of the indexes a cold cycle of thousands
    // of feeds walks; every miss is a read system call. Pages are allocated as used.
    conn.pragma_update(None, "cache_size", CACHE_KIB)
        .map_err(sql(path, "setting the cache size"))?;
    // A group commit runs each poll in a savepoint, and SQLite keeps the original of every
    // page a savepoint changes in a statement journal, spilled to a temporary file past
    // 64 KiB: a pwrite per page per poll. In memory it is a copy, freed at each release.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql(path, "keeping temporary data in memory"))?;
    // Without the query planner stability guarantee, SQLite marks a parameter compared with
    // an indexed column as plan-relevant (checking whether a partial index applies, for
    // example) and then re-prepares the statement on every new value bound: a full parse
    // per item of every poll.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(sql(path, "fixing query plans"))?;
    // Every statement of the hot paths is cached; the default 16 would evict some.
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Opens an existing database for reading while the daemon may be writing to it.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = open_existing(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let version = user_version(&conn, path)?;
    refuse_newer(path, version)?;
    if version < LATEST {
        return Err(StoreError::Outdated {
            path: path.to_path_buf(),
            found: version,
            expected: LATEST,
        });
    }
    Ok(conn)
}

fn is_read_only(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().readonly())
}

fn user_version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql(path, "reading the schema version"))
}

fn table_count(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(sql(path, "reading the schema"))
}

fn refuse_newer(path: &Path, version: i64) -> Result<(), StoreError> {
    if version > LATEST {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            supported: LATEST,
        });
    }
    if version < 0 {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: format!("negative schema version {version}"),
        });
    }
    Ok(())
}

/// Applies every missing migration in one transaction, so a crash leaves the old schema.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql(path, "starting the schema upgrade"))?;
    // Read again under the write lock: another process may have migrated meanwhile.
    let version = user_version(&tx, path)?;
    refuse_newer(path, version)?;
    if version == LATEST {
        return Ok(());
    }
    if version == 0 && table_count(&tx, path)? > 0 {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: "it is an SQLite database of some other program (tables but no schema version)"
                .into(),
        });
    }
    for step in &MIGRATIONS[usize::try_from(version).unwrap_or(0)..] {
        tx.execute_batch(step)
            .map_err(sql(path, "upgrading the schema"))?;
    }
    tx.pragma_update(None, "user_version", LATEST)
        .map_err(sql(path, "recording the schema version"))?;
    tx.commit()
        .map_err(sql(path, "committing the schema upgrade"))
}

/// Opens a connection to an existing database that only runs WAL checkpoints (see
/// [`super::Checkpointer`]): no schema is read and nothing else is written through it.
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection, StoreError> {
    open_existing(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
}

/// A second connection to a database that must already exist (never created here).
fn open_existing(path: &Path, access: OpenFlags) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing {
            path: path.to_path_buf(),
        });
    }
    let flags = access | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql(path, "opening"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql(path, "setting the busy timeout"))?;
    Ok(conn)
}
