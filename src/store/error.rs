//! Errors of the state store. Every message names the database file and says what to do.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// Why the state store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the folder {} for the state database: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "state database {} does not exist; start the daemon (or `feedwatch run --once`) to create it",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error(
        "state database {} is read-only ({detail}); make it and its folder writable by the feedwatch user",
        path.display()
    )]
    ReadOnly { path: PathBuf, detail: String },
    #[error(
        "{} is not a usable feedwatch state database ({detail}); feedwatch will not recreate it: \
         move it away to start fresh, or restore it from a backup",
        path.display()
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error(
        "state database {} has schema version {found}, newer than the {supported} this feedwatch \
         understands; upgrade feedwatch or point `state` at another file",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "state database {} has schema version {found} but this feedwatch needs {expected}; \
         start the daemon (or `feedwatch run --once`) once to upgrade it",
        path.display()
    )]
    Outdated {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error(
        "state database {} stayed locked by another process; is another feedwatch writing to it?",
        path.display()
    )]
    Busy { path: PathBuf },
    #[error("state database {}: no digest with id {id}", path.display())]
    UnknownDigest { path: PathBuf, id: String },
    #[error("state database {}: invalid request: {what}", path.display())]
    Invalid { path: PathBuf, what: String },
    #[error("state database task failed: {0}")]
    Task(String),
    #[error("state database {}: {context}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Classifies a SQLite error: the few causes a user can act on get their own variant.
    pub(crate) fn sqlite(path: &Path, context: &'static str, source: rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::NotADatabase {
                    path,
                    detail: source.to_string(),
                }
            }
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly {
                path,
                detail: source.to_string(),
            },
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy { path },
            _ => StoreError::Sqlite {
                path,
                context,
                source,
            },
        }
    }
}

/// `map_err` helper: `.map_err(sql(&self.path, "reading feed state"))`.
pub(crate) fn sql(path: &Path, context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::sqlite(path, context, e)
}
