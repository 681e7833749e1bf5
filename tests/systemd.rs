//! `systemd/feedwatch.service`: the directives the daemon relies on, a comment on every
//! hardening line, and — where `systemd-analyze` is installed — `verify` without a single
//! message and an offline `security` exposure of 2.0 or better.

use std::path::{Path, PathBuf};
use std::process::Command;

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/feedwatch.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(line number, key, value)` of every directive in section `[name]`.
fn directives(text: &str, name: &str) -> Vec<(usize, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
        } else if section == name
            && !line.starts_with('#')
            && let Some((k, v)) = line.split_once('=')
        {
            out.push((i, k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn value<'a>(service: &'a [(usize, String, String)], key: &str) -> Vec<&'a str> {
    service
        .iter()
        .filter(|(_, k, _)| k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

#[test]
fn the_unit_has_the_directives_the_daemon_relies_on() {
    let text = unit_text();
    let service = directives(&text, "Service");
    assert_eq!(value(&service, "Type"), ["notify"]);
    let reload = value(&service, "ExecReload");
    assert!(
        reload.len() == 1 && reload[0].contains("kill -HUP $MAINPID"),
        "{reload:?}"
    );
    assert_eq!(value(&service, "DynamicUser"), ["yes"]);
    assert_eq!(value(&service, "StateDirectory"), ["feedwatch"]);
    assert_eq!(value(&service, "ConfigurationDirectory"), ["feedwatch"]);
    assert!(!value(&service, "WatchdogSec").is_empty(), "WatchdogSec");
    let exec = value(&service, "ExecStart");
    assert!(
        exec.len() == 1 && exec[0].contains(" run --config /etc/feedwatch/feedwatch.toml"),
        "{exec:?}"
    );
    // LoadCredential= may stay commented out (a fresh install has no secrets), but the
    // unit must show it and say where the daemon reads credentials.
    assert!(
        text.lines().any(|l| l
            .trim_start_matches(['#', ' '])
            .starts_with("LoadCredential=")),
        "no LoadCredential= line"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with('#') && l.contains("$CREDENTIALS_DIRECTORY")),
        "no comment saying the daemon reads $CREDENTIALS_DIRECTORY"
    );
    // The subcommand and flag ExecStart uses exist.
    let help = Command::new(env!("CARGO_BIN_EXE_feedwatch"))
        .args(["run", "--help"])
        .output()
        .expect("run feedwatch");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--config"));
}

/// Directive names that restrict the service; each needs a comment saying why.
const HARDENING: &[&str] = &[
    "NoNewPrivileges",
    "Protect",
    "Private",
    "Restrict",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "SystemCall",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "DevicePolicy",
    "DeviceAllow",
    "ProcSubset",
    "UMask",
    "DynamicUser",
    "IPAddress",
    "RemoveIPC",
    "KeyringMode",
    "ReadOnlyPaths",
    "ReadWritePaths",
    "InaccessiblePaths",
];

#[test]
fn every_hardening_line_has_a_comment_above_it() {
    let text = unit_text();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.contains("--- Hardening ---"))
        .unwrap_or(usize::MAX);
    let mut missing = Vec::new();
    let mut hardening = 0;
    for (i, key, _) in directives(&text, "Service") {
        let is_hardening = i > start || HARDENING.iter().any(|h| key.starts_with(h));
        if !is_hardening {
            continue;
        }
        hardening += 1;
        let above = i
            .checked_sub(1)
            .and_then(|j| lines.get(j))
            .copied()
            .unwrap_or("");
        if !above.trim_start().starts_with('#') {
            missing.push(format!("line {}: {}", i + 1, lines[i]));
        }
    }
    assert!(hardening >= 20, "only {hardening} hardening directives");
    assert!(
        missing.is_empty(),
        "no comment above:\n{}",
        missing.join("\n")
    );
}

fn systemd_analyze() -> Option<PathBuf> {
    let out = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from("systemd-analyze"))
}

/// The unit in a temp dir, with ExecStart pointing at the binary under test (verify
/// checks that the executable exists).
fn unit_for_test() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_feedwatch");
    let text: String = unit_text()
        .lines()
        .map(|l| match l.strip_prefix("ExecStart=") {
            Some(cmd) => {
                let args = cmd.split_once(' ').map_or("", |(_, a)| a);
                format!("ExecStart={bin} {args}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert!(text.contains(&format!("ExecStart={bin} run ")), "{text}");
    let path = dir.path().join("feedwatch.service");
    std::fs::write(&path, text).expect("write unit");
    (dir, path)
}

#[test]
fn systemd_analyze_verify_says_nothing() {
    let Some(tool) = systemd_analyze() else {
        eprintln!("notice: systemd-analyze is not installed; skipping `systemd-analyze verify`");
        return;
    };
    let (_dir, unit) = unit_for_test();
    let out = Command::new(tool)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify exits 0 on warnings, so any output at all is a failure.
    assert!(
        out.status.success() && said.trim().is_empty(),
        "systemd-analyze verify ({}):\n{said}",
        out.status
    );
}

#[test]
fn systemd_analyze_security_rates_it_2_or_better() {
    let Some(tool) = systemd_analyze() else {
        eprintln!("notice: systemd-analyze is not installed; skipping `systemd-analyze security`");
        return;
    };
    let (_dir, unit) = unit_for_test();
    let out = Command::new(tool)
        .args(["security", "--offline=true", "--threshold=20", "--no-pager"])
        .arg(&unit)
        .env("SYSTEMD_COLORS", "0")
        .output()
        .expect("run systemd-analyze");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "systemd-analyze security failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let score = stdout
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for feedwatch.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{stdout}"));
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{stdout}");
    eprintln!("systemd-analyze security: exposure {score}");
}
