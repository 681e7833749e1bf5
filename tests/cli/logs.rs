//! Log options: `--log-format json`, journald (`JOURNAL_STREAM`), `--log-level` and
//! `RUST_LOG`, and that every feed, rule and destination event names the thing.

use std::process::Command;

use crate::support::Env;
use crate::{Ran, sample};

fn env() -> Env {
    Env::new(&format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\n\
         [[feed]]\nname = \"agency\"\nurl = \"{}\"\n\n\
         [[feed]]\nname = \"gone\"\nurl = \"missing.xml\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n\
         [destination.console]\ntype = \"stdout\"\n",
        sample("agency-news.xml")
    ))
}

/// `run --once` on a fresh state (so there is something to match and deliver).
fn run_once(args: &[&str], setup: impl FnOnce(&mut Command)) -> Ran {
    let env = env();
    let mut cmd = crate::support::bin();
    cmd.arg("run")
        .arg("--once")
        .args(args)
        .arg("--config")
        .arg(env.config_path())
        .current_dir(env.dir.path());
    setup(&mut cmd);
    let ran = Ran::from(cmd.output().expect("run feedwatch"));
    ran.expect(0);
    ran
}

fn json_lines(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

fn starts_with_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 20 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[10] == b'T'
}

#[test]
fn json_format_gives_json_lines_naming_feed_rule_and_destination() {
    let ran = run_once(&["--log-format", "json", "--log-level", "debug"], |_| {});
    let events = json_lines(&ran.stderr);
    let find = |msg: &str| {
        events
            .iter()
            .find(|e| e["message"] == msg)
            .unwrap_or_else(|| panic!("no `{msg}` event in\n{}", ran.stderr))
    };
    let failed = find("poll failed");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["feed"], "gone");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("missing.xml")),
        "{failed}"
    );
    assert_eq!(find("polled")["feed"], "agency");
    let matched = find("rule matched");
    assert_eq!(matched["rule"], "csto");
    assert_eq!(matched["feed"], "agency");
    assert_eq!(find("digest delivered")["destination"], "console");
    for e in &events {
        assert!(e["timestamp"].is_string() && e["level"].is_string(), "{e}");
        let target = e["target"].as_str().unwrap_or_default();
        // Events about feeds, rules and destinations always say which.
        if target.starts_with("feedwatch::pipeline") || target.starts_with("feedwatch::health") {
            assert!(
                ["feed", "rule", "destination"]
                    .iter()
                    .any(|k| e[*k].is_string()),
                "event names no feed, rule or destination: {e}"
            );
        }
    }
    // The digest itself is command output, on stdout, not mixed with logs.
    assert!(
        ran.stdout.contains("CSTO foreign ministers"),
        "{}",
        ran.stdout
    );
}

#[test]
fn under_journald_text_logs_carry_no_timestamp() {
    let plain = run_once(&["--log-level", "info"], |_| {});
    let line = plain
        .stderr
        .lines()
        .find(|l| l.contains("poll failed"))
        .unwrap_or_else(|| panic!("no poll failure logged:\n{}", plain.stderr));
    assert!(starts_with_timestamp(line), "{line}");
    assert!(line.contains("feed=gone"), "{line}");
    assert!(
        !plain.stderr.contains('\x1b'),
        "colour codes when not a terminal"
    );

    let journal = run_once(&["--log-level", "info"], |c| {
        c.env("JOURNAL_STREAM", "8:12345");
    });
    let lines: Vec<&str> = journal.stderr.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("WARN poll failed feed=gone")),
        "{}",
        journal.stderr
    );
    for l in &lines {
        assert!(
            !starts_with_timestamp(l.trim_start()),
            "timestamp under journald: {l}"
        );
    }
    assert!(
        !journal.stderr.contains('\x1b'),
        "colour codes under journald"
    );
}

#[test]
fn levels_come_from_log_level_then_rust_log() {
    let has_debug = |r: &Ran| r.stderr.contains("rule matched");
    let has_info = |r: &Ran| r.stderr.contains("INFO");

    // One-shot commands default to warnings only.
    let quiet = run_once(&[], |_| {});
    assert!(!has_info(&quiet) && !has_debug(&quiet), "{}", quiet.stderr);
    assert!(quiet.stderr.contains("WARN"), "{}", quiet.stderr);

    let debug = run_once(&["--log-level", "debug"], |_| {});
    assert!(has_debug(&debug), "{}", debug.stderr);

    let by_env = run_once(&[], |c| {
        c.env("RUST_LOG", "feedwatch=debug");
    });
    assert!(has_debug(&by_env), "{}", by_env.stderr);

    // --log-level wins over RUST_LOG.
    let flag_wins = run_once(&["--log-level", "warn"], |c| {
        c.env("RUST_LOG", "debug");
    });
    assert!(!has_debug(&flag_wins), "{}", flag_wins.stderr);

    // A typo is reported, not silently turned into "log nothing".
    let typo = run_once(&["--log-level", "verbose"], |_| {});
    assert!(
        typo.stderr.contains("--log-level `verbose` is not a level"),
        "{}",
        typo.stderr
    );
    assert!(typo.stderr.contains("poll failed"), "{}", typo.stderr);
}
