//! The state store seen from async code: one writer thread that owns the writing
//! connection, and a small pool of read-only connections for the reads of a poll.
//!
//! Every write goes through the writer thread's queue, in order. Consecutive poll
//! records ([`StoreHandle::call_batched`]) are group-committed: the writer takes all that
//! are queued (up to [`MAX_BATCH`]), runs each in a savepoint of one transaction and
//! commits once, and only then answers each caller, so nothing is reported recorded
//! before it is durable. Under load this turns thousands of small transactions, each
//! rewriting the same index pages, into a few hundred; when idle, a batch is one poll.
//!
//! Reads that only concern one feed's own rows ([`StoreHandle::read_blocking`]: the
//! unseen check of a poll, the feed's state) run on the caller's blocking thread through
//! a read-only connection, concurrently with the writer (WAL mode). A feed's earlier
//! commits are always visible to them: its poll waits for each commit's answer.
//!
//! A third thread checkpoints the WAL (copies it back into the database file) shortly
//! after writes, so commits never wait for that copying and its `fsync`s.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::store::{Checkpointer, Store, StoreError};

/// Poll records group-committed at most per transaction: bounds how long one commit
/// holds the write lock (short commands such as `feedwatch retry` wait for it).
pub const MAX_BATCH: usize = 64;

/// Read-only connections open at most. More would not read faster on a small machine,
/// and each one opened costs a schema parse and its own page cache: a read that finds
/// all of them busy waits for one instead of opening another.
pub const MAX_READERS: usize = 4;

/// What a batched job leaves to do once its batch is committed (or failed to commit).
type Finish = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
type BatchedJob = Box<dyn FnOnce(&mut Store) -> (bool, Finish) + Send>;

enum Job {
    /// Runs on its own, in its own transactions.
    One(Box<dyn FnOnce(&mut Store) + Send>),
    /// Runs inside a group commit (all its writes or none); answers after the commit.
    /// Returns whether it succeeded.
    Batched(BatchedJob),
}

struct Inner {
    jobs: Option<mpsc::Sender<Job>>,
    writer: Option<JoinHandle<()>>,
    readers: Mutex<Readers>,
    /// Signalled when a reader is returned to the pool.
    reader_free: Condvar,
    path: PathBuf,
}

/// The read-only connections: the idle ones, and how many are open in all.
#[derive(Default)]
struct Readers {
    idle: Vec<Store>,
    open: usize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread once it has run what was queued;
        // waiting for it lets the connection close (and checkpoint) before exit.
        self.jobs = None;
        if let Some(writer) = self.writer.take()
            && writer.thread().id() != std::thread::current().id()
        {
            let _ = writer.join();
        }
    }
}

/// A cloneable handle to the state store (see the module doc).
#[derive(Clone)]
pub struct StoreHandle {
    inner: Arc<Inner>,
}

fn closed() -> StoreError {
    StoreError::Task("the state database's writer has stopped".into())
}

impl StoreHandle {
    /// Starts the writer thread, which owns `store` from now on.
    pub fn new(store: Store) -> StoreHandle {
        let path = store.path().to_path_buf();
        let (tx, rx) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("feedwatch-store".into())
            .spawn(move || writer_loop(store, rx));
        let (jobs, writer) = match writer {
            Ok(handle) => (Some(tx), Some(handle)),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the state database's writer thread");
                (None, None)
            }
        };
        StoreHandle {
            inner: Arc::new(Inner {
                jobs,
                writer,
                readers: Mutex::new(Readers::default()),
                reader_free: Condvar::new(),
                path,
            }),
        }
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        self.inner
            .jobs
            .as_ref()
            .ok_or_else(closed)?
            .send(job)
            .map_err(|_| closed())
    }

    /// Runs `f` with the store on the writer thread, after everything queued before it.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::One(Box::new(move |s| {
            let _ = tx.send(f(s));
        })))?;
        rx.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Like [`StoreHandle::call`] for a poll's record (commit, 304, failure): it may share
    /// one transaction with other queued records, and is answered once that commits.
    /// `f` must only write through the store's own methods (each is one savepoint).
    pub async fn call_batched<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Job::Batched(Box::new(move |s| {
            let out = f(s);
            let ok = out.is_ok();
            let finish: Finish = Box::new(move |committed: Result<(), &StoreError>| {
                let out = match committed {
                    Ok(()) => out,
                    Err(e) if out.is_ok() => Err(StoreError::Task(format!(
                        "the poll's record was not committed: {e}"
                    ))),
                    Err(_) => out,
                };
                let _ = tx.send(out);
            });
            (ok, finish)
        })))?;
        rx.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Runs a read on the calling (blocking) thread through a read-only connection; when
    /// none can be opened, on the writer thread instead. Never call from async code.
    pub fn read_blocking<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let Some(reader) = self.take_reader() else {
            let (tx, rx) = mpsc::channel();
            self.send(Job::One(Box::new(move |s| {
                let _ = tx.send(f(s));
            })))?;
            return rx.recv().unwrap_or_else(|_| Err(closed()));
        };
        let lent = Lent {
            handle: self,
            reader: Some(reader),
        };
        lent.reader.as_ref().map_or_else(|| Err(closed()), f)
    }

    /// An idle reader, or a new one while fewer than [`MAX_READERS`] are open, or else the
    /// next one returned. `None` when none can be opened (the caller reads on the writer).
    fn take_reader(&self) -> Option<Store> {
        let mut readers = self.lock_readers();
        loop {
            if let Some(r) = readers.idle.pop() {
                return Some(r);
            }
            if readers.open < MAX_READERS {
                readers.open += 1;
                drop(readers);
                return match Store::open_read_only(&self.inner.path) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        self.lock_readers().open -= 1;
                        tracing::debug!(error = %e, "no read-only connection; reading on the writer");
                        None
                    }
                };
            }
            readers = self
                .inner
                .reader_free
                .wait(readers)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// [`StoreHandle::read_blocking`] from async code, on a blocking thread.
    pub async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&Store) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let handle = self.clone();
        tokio::task::spawn_blocking(move || handle.read_blocking(f))
            .await
            .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
    }

    /// Closes the idle read-only connections (and so frees their page caches).
    pub fn close_idle_readers(&self) {
        let mut readers = self.lock_readers();
        readers.open -= readers.idle.len();
        readers.idle.clear();
    }

    fn lock_readers(&self) -> std::sync::MutexGuard<'_, Readers> {
        self.inner
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A reader taken from the pool, returned when dropped; after a panic in the read it is
/// closed instead (and the pool may open a fresh one), so a panic never leaks a slot.
struct Lent<'a> {
    handle: &'a StoreHandle,
    reader: Option<Store>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let mut readers = self.handle.lock_readers();
        match self.reader.take() {
            Some(r) if !std::thread::panicking() => readers.idle.push(r),
            _ => readers.open -= 1,
        }
        drop(readers);
        self.handle.inner.reader_free.notify_one();
    }
}

fn writer_loop(mut store: Store, jobs: mpsc::Receiver<Job>) {
    let checkpoints = CheckpointThread::start(&store);
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        match job {
            Job::One(f) => run_guarded(|| f(&mut store)),
            Job::Batched(first) => {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(Job::Batched(f)) => batch.push(f),
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                run_batch(&mut store, batch);
            }
        }
        if let Some(c) = &checkpoints {
            c.wake();
        }
    }
    // The checkpointer's connection closes first, so the writer's, the last one, folds
    // the WAL back into the database file.
    if let Some(c) = checkpoints {
        c.stop();
    }
}

/// The thread that checkpoints the WAL for the writer (see [`Store::leave_checkpoints`]).
struct CheckpointThread {
    wake: mpsc::SyncSender<()>,
    thread: JoinHandle<()>,
}

impl CheckpointThread {
    /// Starts it, or returns `None` and leaves the checkpoints to the writer's connection.
    fn start(store: &Store) -> Option<CheckpointThread> {
        let checkpointer = store
            .checkpointer()
            .map_err(|e| tracing::debug!(error = %e, "the writer checkpoints by itself"))
            .ok()?;
        let (wake, woken) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name("feedwatch-ckpt".into())
            .spawn(move || checkpoint_loop(&checkpointer, &woken))
            .map_err(|e| tracing::debug!(error = %e, "the writer checkpoints by itself"))
            .ok()?;
        let started = CheckpointThread { wake, thread };
        if let Err(e) = store.leave_checkpoints() {
            tracing::debug!(error = %e, "the writer checkpoints by itself");
            started.stop();
            return None;
        }
        Some(started)
    }

    /// After a write: a checkpoint is due within [`CHECKPOINT_DELAY`].
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    fn stop(self) {
        drop(self.wake);
        let _ = self.thread.join();
    }
}

/// How long writes gather before a checkpoint copies them: a page written many times in
/// that while is copied once, and there are at most this many checkpoints a second.
const CHECKPOINT_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

fn checkpoint_loop(checkpointer: &Checkpointer, woken: &mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    while woken.recv().is_ok() {
        let due = std::time::Instant::now() + CHECKPOINT_DELAY;
        loop {
            match woken.recv_timeout(due.saturating_duration_since(std::time::Instant::now())) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if let Err(e) = checkpointer.checkpoint() {
            // The writer's backstop checkpoints keep the WAL bounded meanwhile.
            tracing::debug!(error = %e, "a background checkpoint failed");
        }
    }
}

/// Runs a job; a panic in it loses only that job (its caller sees the writer's error).
fn run_guarded(f: impl FnOnce()) {
    if std::panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
        tracing::error!("a state database task panicked; its caller gets an error");
    }
}

fn run_batch(store: &mut Store, batch: Vec<BatchedJob>) {
    // A single record gains nothing from a batch: it runs in its own transaction.
    let grouped = batch.len() > 1
        && match store.begin_batch() {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(error = %e, "no group commit; recording polls one by one");
                false
            }
        };
    let mut finishes = Vec::with_capacity(batch.len());
    for job in batch {
        let share = grouped && store.begin_batch_item().is_ok();
        let (ok, finish) = match std::panic::catch_unwind(AssertUnwindSafe(|| job(store))) {
            Ok((ok, finish)) => (ok, Some(finish)),
            Err(_) => {
                tracing::error!("a state database task panicked; its caller gets an error");
                (false, None)
            }
        };
        if share && let Err(e) = store.end_batch_item(ok) {
            tracing::error!(error = %e, "cannot close a poll's share of a group commit");
        }
        finishes.extend(finish);
    }
    let committed = if grouped {
        store.end_batch(true)
    } else {
        Ok(())
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, "cannot commit the recorded polls");
    }
    for finish in finishes {
        finish(committed.as_ref().map(|_| ()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("state.db")).expect("open store");
        (dir, store)
    }

    #[tokio::test]
    async fn calls_run_in_order_and_batches_answer_after_commit() {
        let (_dir, store) = temp_store();
        let handle = StoreHandle::new(store);
        let now = chrono::Utc::now();
        // Many batched writes queued at once: each answers Ok, and every one of them is
        // visible to a reader afterwards.
        let mut calls = Vec::new();
        for i in 0..200 {
            let h = handle.clone();
            calls.push(tokio::spawn(async move {
                h.call_batched(move |s| s.record_not_modified(&format!("feed-{i}"), now, now))
                    .await
            }));
        }
        for c in calls {
            c.await.expect("task").expect("recorded");
        }
        let found = handle
            .read(|s| {
                (0..200)
                    .map(|i| s.feed_state(&format!("feed-{i}")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .expect("read");
        assert!(found.iter().all(Option::is_some));
    }

    #[tokio::test]
    async fn a_failing_record_leaves_the_others_of_its_batch() {
        let (_dir, store) = temp_store();
        let handle = StoreHandle::new(store);
        let now = chrono::Utc::now();
        // Occupy the writer so the next records queue up and share one batch.
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let blocker = {
            let h = handle.clone();
            tokio::spawn(async move {
                h.call(move |_| {
                    let _ = release_rx.recv();
                    Ok(())
                })
                .await
            })
        };
        let good = {
            let h = handle.clone();
            tokio::spawn(async move {
                h.call_batched(move |s| s.record_not_modified("good", now, now))
                    .await
            })
        };
        let bad = {
            let h = handle.clone();
            tokio::spawn(async move {
                h.call_batched(move |s| {
                    s.record_not_modified("bad", now, now)?;
                    // Fails after writing: its own write must be rolled back.
                    s.mark_sent("no-such-digest", now)
                })
                .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        release_tx.send(()).expect("release");
        blocker.await.expect("task").expect("blocker");
        good.await.expect("task").expect("good recorded");
        assert!(bad.await.expect("task").is_err());
        let (good, bad) = handle
            .read(|s| Ok((s.feed_state("good")?, s.feed_state("bad")?)))
            .await
            .expect("read");
        assert!(good.is_some());
        assert!(
            bad.is_none(),
            "the failed record's own write was rolled back"
        );
    }

    #[tokio::test]
    async fn the_wal_is_checkpointed_off_the_writer_thread() {
        let (dir, store) = temp_store();
        let db = dir.path().join("state.db");
        let handle = StoreHandle::new(store);
        let now = chrono::Utc::now();
        let before = std::fs::metadata(&db).expect("db file").len();
        // ~600 pages of feed rows: under SQLite's own 1,000-page autocheckpoint, so only
        // the checkpoint thread can move them from the WAL into the database file.
        for batch in 0..20 {
            handle
                .call(move |s| {
                    for i in 0..100 {
                        let name = format!("feed-{batch}-{i}-{}", "x".repeat(400));
                        s.record_not_modified(&name, now, now)?;
                    }
                    Ok(())
                })
                .await
                .expect("recorded");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut size = before;
        while size < before + 500_000 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            size = std::fs::metadata(&db).expect("db file").len();
        }
        assert!(
            size >= before + 500_000,
            "database file {before} -> {size} bytes: the WAL was not checkpointed"
        );
        // The writer keeps working, and closing folds everything back.
        handle
            .call(move |s| s.record_not_modified("after", now, now))
            .await
            .expect("the writer still runs");
        drop(handle);
        let wal = dir.path().join("state.db-wal");
        assert!(!wal.exists() || std::fs::metadata(&wal).expect("wal").len() == 0);
        let store = Store::open(&db).expect("reopen");
        assert!(store.feed_state("after").expect("read").is_some());
    }

    #[tokio::test]
    async fn a_panicking_job_loses_only_itself() {
        let (_dir, store) = temp_store();
        let handle = StoreHandle::new(store);
        let r: Result<(), StoreError> = handle.call(|_| panic!("boom")).await;
        assert!(r.is_err());
        let now = chrono::Utc::now();
        handle
            .call(move |s| s.record_not_modified("after", now, now))
            .await
            .expect("the writer still runs");
    }

    #[test]
    fn readers_are_bounded_and_a_panicking_read_frees_its_slot() {
        let (_dir, store) = temp_store();
        let handle = StoreHandle::new(store);
        // Four times as many concurrent reads as readers: all are answered, and never
        // more than MAX_READERS connections are open.
        let most = Arc::new(Mutex::new(0usize));
        std::thread::scope(|scope| {
            for _ in 0..MAX_READERS * 4 {
                let (h, most) = (handle.clone(), most.clone());
                scope.spawn(move || {
                    let watcher = h.clone();
                    h.read_blocking(move |s| {
                        let open = watcher.lock_readers().open;
                        let mut m = most.lock().unwrap_or_else(|p| p.into_inner());
                        *m = (*m).max(open);
                        drop(m);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        s.feed_state("none")
                    })
                    .expect("read")
                });
            }
        });
        let most = *most.lock().unwrap_or_else(|p| p.into_inner());
        assert!((1..=MAX_READERS).contains(&most), "{most} readers open");

        // Every slot lost to a panic would leave later reads waiting forever.
        for _ in 0..MAX_READERS + 1 {
            let h = handle.clone();
            let crashed = std::thread::spawn(move || {
                h.read_blocking(|_| -> Result<(), StoreError> { panic!("a read panics") })
            })
            .join();
            assert!(crashed.is_err());
        }
        let (open, idle) = {
            let readers = handle.lock_readers();
            (readers.open, readers.idle.len())
        };
        assert_eq!(open, idle);
        assert!(handle.read_blocking(|s| s.feed_state("none")).is_ok());
    }
}
