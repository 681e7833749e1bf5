//! The real binary's one-shot commands end to end: `check` (valid, broken, discovery, no
//! network), `test-rule`, `inspect`, `import-opml`, `discover`, the log options, and a
//! table of broken configs. Each test runs `feedwatch` as a child process in a temp dir.

mod support;

#[path = "cli/broken.rs"]
mod broken;
#[path = "cli/check.rs"]
mod check;
#[path = "cli/feeds.rs"]
mod feeds;
#[path = "cli/inspect.rs"]
mod inspect;
#[path = "cli/logs.rs"]
mod logs;
#[path = "cli/test_rule.rs"]
mod test_rule;

use std::path::Path;
use std::process::{Command, Output};

/// What one run of the binary left behind.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// Asserts the exit code, showing both streams when it differs; never a panic inside.
    pub fn expect(&self, code: i32) -> &Ran {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the binary panicked:\n{}",
            self.stderr
        );
        self
    }
}

impl From<Output> for Ran {
    fn from(o: Output) -> Ran {
        Ran {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs the binary (clean environment, see [`support::bin`]) with `args` in `dir`.
pub fn feedwatch(dir: &Path, args: &[&str]) -> Ran {
    feedwatch_with(dir, args, |_| {})
}

/// Like [`feedwatch`], letting the caller add environment variables.
pub fn feedwatch_with(dir: &Path, args: &[&str], setup: impl FnOnce(&mut Command)) -> Ran {
    let mut cmd = support::bin();
    cmd.args(args).current_dir(dir);
    setup(&mut cmd);
    cmd.output().expect("run feedwatch").into()
}

/// A 127.0.0.1 port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A sample feed shipped under `config/samples/`, as an absolute path string.
pub fn sample(name: &str) -> String {
    support::repo_path(&format!("config/samples/{name}"))
        .display()
        .to_string()
}
