//! The harness's errors: each names the file, address or tool at fault.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {addr}: {source} (loopback addresses 127.0.0.2 and up must route to lo; try --hosts 1)"
    )]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime for the feed server: {0}")]
    Runtime(std::io::Error),
    #[error("cannot run {tool}: {message}")]
    Tool { tool: String, message: String },
    #[error("{}: not a `/usr/bin/time -v` report: {message}", path.display())]
    TimeReport { path: PathBuf, message: String },
    #[error("the generated rules clash with the background text: {0}")]
    Corpus(String),
    #[error("{0}")]
    Usage(String),
}

impl BenchError {
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BenchError {
        let path = path.into();
        move |source| BenchError::Io { path, source }
    }
}
