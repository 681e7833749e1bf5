//! Configs that load: defaults, includes, secrets and warnings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::{DaemonConfig, DestinationKind};
use super::{Fixture, short, write_secret};

#[test]
fn minimal_config_gets_every_default() {
    let fx = Fixture::new();
    fx.write(
        "feedwatch.toml",
        "[[feed]]\nname = \"a\"\nurl = \"http://example.org/a\"\n",
    );
    let c = fx.load(&[]).unwrap_or_else(|e| panic!("{e}"));
    let expect = DaemonConfig::defaults(PathBuf::from(
        "/home/test/.local/state/feedwatch/feedwatch.db",
    ));
    assert_eq!(format!("{:?}", c.daemon), format!("{expect:?}"));
    assert_eq!(c.daemon.max_age, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(c.daemon.max_body, 15 * 1024 * 1024);
    assert_eq!(c.daemon.user_agent, crate::USER_AGENT);
    assert_eq!(c.feeds[0].interval, Duration::from_secs(900));
    assert!(c.rules.is_empty() && c.destinations.is_empty() && c.warnings.is_empty());
}

#[test]
fn default_state_file_follows_systemd_then_xdg_then_home() {
    let fx = Fixture::new();
    fx.write("feedwatch.toml", "");
    let state = |vars: &[(&str, &str)]| {
        fx.load(vars)
            .map(|c| c.daemon.state)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        state(&[
            ("STATE_DIRECTORY", "/var/lib/feedwatch:/var/lib/other"),
            ("XDG_STATE_HOME", "/x")
        ]),
        Ok(PathBuf::from("/var/lib/feedwatch/feedwatch.db"))
    );
    assert_eq!(
        state(&[("XDG_STATE_HOME", "/x/state")]),
        Ok(PathBuf::from("/x/state/feedwatch/feedwatch.db"))
    );
    assert_eq!(
        state(&[("XDG_STATE_HOME", "relative")]),
        Ok(PathBuf::from(
            "/home/test/.local/state/feedwatch/feedwatch.db"
        )),
        "a relative XDG_STATE_HOME is ignored"
    );
    let err = state(&[("HOME", "")]).err().unwrap_or_default();
    assert!(
        err.contains("cannot choose a state file") && err.contains("set `state` in [daemon]"),
        "{err}"
    );
}

#[test]
fn shipped_reference_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/feedwatch.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fx = Fixture::new();
    fx.write("feedwatch.toml", &text);
    let c = fx
        .load(&[("SMTP_PASSWORD", "x"), ("HOOK_SECRET", "y")])
        .unwrap_or_else(|e| panic!("config/feedwatch.toml does not load:\n{e}"));
    assert_eq!(
        (c.feeds.len(), c.rules.len(), c.destinations.len()),
        (2, 2, 3)
    );
    assert_eq!(
        c.warnings.len(),
        1,
        "only the empty rules.d glob: {:?}",
        c.warnings
    );
    assert!(
        c.warnings[0].contains("matches no files"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn errors_from_every_file_are_reported_in_order() {
    let fx = Fixture::new();
    fx.write(
        "feedwatch.toml",
        "[daemon]\ninclude = [\"a.toml\", \"b/*.toml\"]\ninterval = \"soon\"\n[[feed]]\nname = \"x\"\nurl = \"gopher://h/\"\n[destination.out]\ntype = \"stdout\"\n",
    );
    fx.write(
        "a.toml",
        "[[feed]]\nname = \"y\"\nurl = \"y.xml\"\ntgas = [\"news\"]\n",
    );
    fx.write("b/1.toml", "[destination.out]\ntype = \"stdout\"\n");
    fx.write("b/2.toml", "[daemon]\ninterval = \"1m\"\n");
    fx.write(
        "b/3.toml",
        "[[rule]]\nname = \"r\"\nquery = \"q\"\nfeeds = [\"z\"]\n",
    );
    let errors = fx.load(&[]).err().map(|e| short(&e)).unwrap_or_default();
    let expect = [
        "feedwatch.toml:3:12: `interval` in [daemon]: invalid duration `soon`",
        "feedwatch.toml:6:7: `url` in feed `x`: unsupported URL scheme `gopher:`",
        "a.toml:4:1: unknown key `tgas` in feed `y`; did you mean `tags`?",
        "1.toml:1:14: duplicate destination name `out` (first defined at ",
        "2.toml:1:2: [daemon] is only allowed in the main config file, not in an included one",
        "3.toml:4:10: rule `r` names unknown feed `z`",
    ];
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    for (got, want) in errors.iter().zip(expect) {
        assert!(
            got.starts_with(want),
            "\n  expected {want}\n  got      {got}"
        );
    }
    assert!(errors[3].ends_with("feedwatch.toml:7:14)"), "{}", errors[3]);
}

#[test]
fn include_problems() {
    let fx = Fixture::new();
    fx.write(
        "feedwatch.toml",
        "[daemon]\ninclude = [\"missing.toml\", \"none/*.toml\", \"[bad\"]\n",
    );
    let errors = fx.load(&[]).err().map(|e| short(&e)).unwrap_or_default();
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors[0].starts_with("feedwatch.toml:2:12: included file `missing.toml` not found"),
        "{}",
        errors[0]
    );
    assert!(
        errors[1].starts_with(
            "feedwatch.toml:2:43: invalid include pattern `[bad`: invalid range pattern"
        ),
        "{}",
        errors[1]
    );

    let fx = Fixture::new();
    fx.write(
        "feedwatch.toml",
        "[daemon]\ninclude = \"*.toml\"\n[[feed]]\nname = \"a\"\nurl = \"a.xml\"\n",
    );
    fx.write("more.toml", "[[feed]]\nname = \"b\"\nurl = \"b.xml\"\n");
    let c = fx.load(&[]).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = c.feeds.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["a", "b"],
        "the main file matching its own glob is read once"
    );
}

#[test]
fn syntax_error_in_an_include_names_that_file_and_skips_reference_checks() {
    let fx = Fixture::new();
    fx.write(
        "feedwatch.toml",
        "[daemon]\ninclude = [\"feeds.toml\"]\n[[rule]]\nname = \"r\"\nquery = \"q\"\nfeeds = [\"defined-in-broken-file\"]\n",
    );
    fx.write(
        "feeds.toml",
        "[[feed]]\nname = \"defined-in-broken-file\nurl = \"x\"\n",
    );
    let errors = fx.load(&[]).err().map(|e| short(&e)).unwrap_or_default();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(errors[0].starts_with("feeds.toml:2:"), "{}", errors[0]);
    assert!(errors[0].contains("TOML syntax error"), "{}", errors[0]);
}

#[test]
fn secret_file_search_order() {
    let fx = Fixture::new();
    let hook = "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/\"\nsecret_file = \"s\"\n";
    fx.write("feedwatch.toml", hook);
    write_secret(&fx, "s", "from-config-dir", 0o600);
    write_secret(&fx, "creds/s", "from-credentials", 0o600);
    let secret = |vars: &[(&str, &str)]| {
        let c = fx.load(vars).unwrap_or_else(|e| panic!("{e}"));
        match &c.destinations[0].kind {
            DestinationKind::Webhook(w) => w.secret.as_ref().map(|s| s.expose().to_string()),
            _ => None,
        }
    };
    let creds = fx.path("creds").to_string_lossy().into_owned();
    assert_eq!(
        secret(&[("CREDENTIALS_DIRECTORY", &creds)]).as_deref(),
        Some("from-credentials")
    );
    assert_eq!(secret(&[]).as_deref(), Some("from-config-dir"));
    let empty_creds = fx.path("nothing-here").to_string_lossy().into_owned();
    assert_eq!(
        secret(&[("CREDENTIALS_DIRECTORY", &empty_creds)]).as_deref(),
        Some("from-config-dir")
    );
}
