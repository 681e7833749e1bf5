//! Runs a command under `/usr/bin/time -v` and reads wall time, CPU time and peak RSS
//! from its report (written to its own file with `-o`, so the command's stderr stays
//! the command's).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::BenchError;

pub const TIME: &str = "/usr/bin/time";

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measurement {
    pub wall_s: f64,
    pub user_s: f64,
    pub sys_s: f64,
    pub max_rss_kb: u64,
    /// The command's exit status; `None` when a signal ended it.
    pub exit: Option<i32>,
}

impl Measurement {
    pub fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
}

/// `h:mm:ss` or `m:ss.cc` → seconds.
fn clock(s: &str) -> Option<f64> {
    let mut total = 0.0;
    for part in s.trim().split(':') {
        total = total * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(total)
}

/// Parses a GNU time `-v` report.
pub fn parse_report(text: &str, path: &Path) -> Result<Measurement, BenchError> {
    let bad = |message: &str| BenchError::TimeReport {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let mut m = Measurement::default();
    let (mut wall, mut user, mut sys, mut rss, mut exit, mut signalled) =
        (false, false, false, false, false, false);
    for line in text.lines().map(str::trim) {
        if line.starts_with("Command terminated by signal") {
            signalled = true;
            continue;
        }
        let Some((key, value)) = line.rsplit_once(": ") else {
            continue;
        };
        match key {
            "User time (seconds)" => {
                (m.user_s, user) = (
                    value.trim().parse().map_err(|_| bad("bad user time"))?,
                    true,
                )
            }
            "System time (seconds)" => {
                (m.sys_s, sys) = (
                    value.trim().parse().map_err(|_| bad("bad system time"))?,
                    true,
                )
            }
            "Maximum resident set size (kbytes)" => {
                (m.max_rss_kb, rss) = (
                    value.trim().parse().map_err(|_| bad("bad maximum RSS"))?,
                    true,
                )
            }
            "Exit status" => (m.exit, exit) = (value.trim().parse().ok(), true),
            k if k.starts_with("Elapsed (wall clock) time") => {
                (m.wall_s, wall) = (clock(value).ok_or_else(|| bad("bad elapsed time"))?, true)
            }
            _ => {}
        }
    }
    if signalled {
        m.exit = None;
    }
    match (wall, user, sys, rss, exit) {
        (true, true, true, true, true) => Ok(m),
        _ => Err(bad(
            "missing one of: elapsed, user, system, maximum resident set size, exit status",
        )),
    }
}

/// Where a timed run leaves its output.
#[derive(Debug, Clone)]
pub struct RunFiles {
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub report: PathBuf,
}

impl RunFiles {
    pub fn under(dir: &Path, label: &str) -> RunFiles {
        RunFiles {
            stdout: dir.join(format!("{label}.stdout")),
            stderr: dir.join(format!("{label}.stderr")),
            report: dir.join(format!("{label}.time")),
        }
    }
}

/// Runs `program args` under `/usr/bin/time -v` with `env` added, stdout and stderr to
/// files (stdout to /dev/null when `keep_stdout` is false).
pub fn run_timed(
    program: &Path,
    args: &[String],
    env: &[(&str, String)],
    files: &RunFiles,
    keep_stdout: bool,
) -> Result<Measurement, BenchError> {
    let tool = program.display().to_string();
    let stdout = if keep_stdout {
        File::create(&files.stdout).map_err(BenchError::io(&files.stdout))?
    } else {
        null()?
    };
    let stderr = File::create(&files.stderr).map_err(BenchError::io(&files.stderr))?;
    let mut cmd = Command::new(TIME);
    cmd.arg("-v")
        .arg("-o")
        .arg(&files.report)
        .arg(program)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // The command's own status is in the report; time's only says whether it ran.
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .status()
        .map_err(|e| BenchError::Tool {
            tool: format!("{TIME} -v {tool}"),
            message: format!("{e} (install GNU time: apt-get install time)"),
        })?;
    let text = std::fs::read_to_string(&files.report).map_err(BenchError::io(&files.report))?;
    parse_report(&text, &files.report)
}

fn null() -> Result<File, BenchError> {
    File::create("/dev/null").map_err(BenchError::io("/dev/null"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\tCommand being timed: \"feedwatch run --once\"\n\tUser time (seconds): 12.34\n\
        \tSystem time (seconds): 1.50\n\tPercent of CPU this job got: 150%\n\
        \tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n\tMaximum resident set size (kbytes): 81234\n\
        \tExit status: 0\n";

    #[test]
    fn reads_a_report() {
        let m = parse_report(REPORT, Path::new("r"));
        let m = m.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            m,
            Measurement {
                wall_s: 62.5,
                user_s: 12.34,
                sys_s: 1.5,
                max_rss_kb: 81234,
                exit: Some(0)
            }
        );
        assert!((m.cpu_s() - 13.84).abs() < 1e-9);
    }

    #[test]
    fn clock_formats() {
        for (text, want) in [
            ("0:00.10", Some(0.1)),
            ("1:02.50", Some(62.5)),
            ("1:00:03", Some(3603.0)),
            ("x", None),
            ("", None),
        ] {
            assert_eq!(clock(text), want, "{text}");
        }
    }

    #[test]
    fn failures_and_bad_reports() {
        let failed = format!(
            "\tCommand exited with non-zero status 2\n{}",
            REPORT.replace("Exit status: 0", "Exit status: 2")
        );
        assert_eq!(
            parse_report(&failed, Path::new("r"))
                .ok()
                .and_then(|m| m.exit),
            Some(2)
        );
        let killed = format!("\tCommand terminated by signal 9\n{REPORT}");
        assert_eq!(
            parse_report(&killed, Path::new("r")).ok().map(|m| m.exit),
            Some(None)
        );
        let err = parse_report("User time (seconds): 1.0\n", Path::new("/tmp/x.time"));
        assert!(err.is_err_and(|e| {
            e.to_string()
                .starts_with("/tmp/x.time: not a `/usr/bin/time -v` report")
        }));
        assert!(parse_report(&REPORT.replace("81234", "lots"), Path::new("r")).is_err());
    }

    #[test]
    fn times_a_real_command() {
        let dir = std::env::temp_dir().join(format!("loadbench-measure-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let files = RunFiles::under(&dir, "sh");
        let args = vec![
            "-c".to_string(),
            "echo out; echo err >&2; exit 3".to_string(),
        ];
        let m = run_timed(Path::new("/bin/sh"), &args, &[], &files, true)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.exit, Some(3));
        assert!(m.max_rss_kb > 0 && m.wall_s < 5.0);
        assert_eq!(
            std::fs::read_to_string(&files.stdout).unwrap_or_default(),
            "out\n"
        );
        assert_eq!(
            std::fs::read_to_string(&files.stderr).unwrap_or_default(),
            "err\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
