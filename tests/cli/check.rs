//! `feedwatch check`: the summary line, every error with its position, config discovery,
//! and no network access.

use crate::support::{Env, FeedServer, Route, rss};
use crate::{closed_port, feedwatch, feedwatch_with, support};

const GOOD: &str = r#"
[daemon]
state = "feedwatch.db"

[[feed]]
name = "a"
url = "samples/a.xml"
tags = ["news"]

[[rule]]
name = "csto"
query = "CSTO OR ОДКБ"

[[rule]]
name = "lavrov"
query = "Lavrov AND Kyrgyz*"
feeds = ["tag:news"]

[destination.console]
type = "stdout"
"#;

#[test]
fn a_valid_config_prints_one_summary_line() {
    let example = support::repo_path("config/example.toml");
    let ran = feedwatch(
        &support::repo_path("."),
        &["check", "--config", &example.display().to_string()],
    );
    ran.expect(0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(
        lines,
        [format!(
            "{}: OK: 4 feeds, 3 rules, 1 destinations",
            example.display()
        )],
        "{}",
        ran.stdout
    );
    assert_eq!(ran.stderr, "", "no warnings for the example config");
}

#[test]
fn a_broken_config_prints_every_error_with_its_position() {
    let env = Env::new(
        "[daemon]\n\
         interval = \"5 minutes\"\n\
         include = [\"rules.d/*.toml\"]\n\
         concurrency = \"x\"\n\
         \n\
         [[feed]]\n\
         name = \"a\"\n\
         url = \"ftp://example.org/feed\"\n\
         \n\
         [[rule]]\n\
         name = \"r\"\n\
         query = \"CSTO AND (\"\n\
         feeds = [\"b\"]\n\
         \n\
         [destination.out]\n\
         type = \"stdout\"\n",
    );
    std::fs::create_dir(env.path("rules.d")).expect("mkdir");
    env.write(
        "rules.d/more.toml",
        "[[rule]]\nname = \"r2\"\nquery = \"title:x\"\nnotfy = [\"out\"]\n",
    );
    let ran = env.run(&["check"]);
    let ran = crate::Ran::from(ran);
    ran.expect(2);
    assert_eq!(ran.stdout, "", "no summary for a broken config");
    let main = env.config_path().display().to_string();
    let include = env.path("rules.d/more.toml").display().to_string();
    let expected = [
        format!("{main}:2:12: `interval` in [daemon]: invalid duration `5 minutes`"),
        format!("{main}:4:15: `concurrency` in [daemon]: expected an integer, found a string"),
        format!("{main}:8:7: `url` in feed `a`: unsupported URL scheme `ftp:`"),
        format!("{main}:12:20: rule `r`: expected a term after `(`"),
        format!("{main}:13:10: rule `r` names unknown feed `b`; did you mean `a`?"),
        format!("{include}:4:1: unknown key `notfy` in rule `r2`; did you mean `notify`?"),
    ];
    for want in &expected {
        assert!(
            ran.stderr.lines().any(|l| l.starts_with(want.as_str())),
            "missing {want}\n--- stderr\n{}",
            ran.stderr
        );
    }
    // The query error shows the query with a caret under the position.
    assert!(
        ran.stderr.contains("  CSTO AND (\n            ^"),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr
            .trim_end()
            .ends_with(&format!("{main} has errors; nothing was started")),
        "{}",
        ran.stderr
    );
}

#[test]
fn discovery_uses_feedwatch_config_then_the_current_folder() {
    let by_env = Env::new(GOOD);
    let in_cwd = Env::new(&GOOD.replace("name = \"lavrov\"", "name = \"lavrov2\""));
    let elsewhere = tempfile::tempdir().expect("tempdir");

    // $FEEDWATCH_CONFIG, from a folder that has no feedwatch.toml.
    let env_path = by_env.config_path().display().to_string();
    let ran = feedwatch_with(elsewhere.path(), &["check"], |c| {
        c.env("FEEDWATCH_CONFIG", &env_path);
    });
    ran.expect(0);
    assert_eq!(
        ran.stdout.trim(),
        format!("{env_path}: OK: 1 feeds, 2 rules, 1 destinations")
    );

    // $FEEDWATCH_CONFIG wins over ./feedwatch.toml.
    let ran = feedwatch_with(in_cwd.dir.path(), &["check"], |c| {
        c.env("FEEDWATCH_CONFIG", &env_path);
    });
    ran.expect(0);
    assert!(ran.stdout.starts_with(&env_path), "{}", ran.stdout);

    // Without it, ./feedwatch.toml in the current folder.
    let ran = feedwatch(in_cwd.dir.path(), &["check"]);
    ran.expect(0);
    assert!(
        ran.stdout.contains("feedwatch.toml: OK: 1 feeds, 2 rules"),
        "{}",
        ran.stdout
    );
    assert!(
        !ran.stdout.starts_with(&env_path),
        "used the other config: {}",
        ran.stdout
    );

    // --config wins over both.
    let ran = feedwatch_with(in_cwd.dir.path(), &["check", "--config", &env_path], |c| {
        c.env("FEEDWATCH_CONFIG", "/nonexistent/feedwatch.toml");
    });
    ran.expect(0);
    assert!(ran.stdout.starts_with(&env_path), "{}", ran.stdout);

    // A $FEEDWATCH_CONFIG naming a missing file is an error, not a silent fallback.
    let ran = feedwatch_with(in_cwd.dir.path(), &["check"], |c| {
        c.env("FEEDWATCH_CONFIG", "/nonexistent/feedwatch.toml");
    });
    ran.expect(2);
    assert!(
        ran.stderr.contains("/nonexistent/feedwatch.toml"),
        "{}",
        ran.stderr
    );
}

#[test]
fn no_config_anywhere_says_where_it_looked() {
    if std::path::Path::new("/etc/feedwatch/feedwatch.toml").exists() {
        eprintln!("notice: /etc/feedwatch/feedwatch.toml exists here; discovery would find it");
        return;
    }
    let empty = tempfile::tempdir().expect("tempdir");
    let ran = feedwatch(empty.path(), &["check"]);
    ran.expect(2);
    assert!(ran.stderr.contains("FEEDWATCH_CONFIG"), "{}", ran.stderr);
    assert!(ran.stderr.contains("feedwatch.toml"), "{}", ran.stderr);
}

#[test]
fn check_makes_no_network_access() {
    let server = FeedServer::start();
    server.set("/feed.xml", Route::xml(rss(&[("a1", "CSTO", "x")])));
    let closed = closed_port();
    let env = Env::new(&format!(
        "[daemon]\nstate = \"feedwatch.db\"\n\n\
         [[feed]]\nname = \"served\"\nurl = \"{}\"\n\n\
         [[feed]]\nname = \"closed\"\nurl = \"http://127.0.0.1:{closed}/feed.xml\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n\
         [destination.hook]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{closed}/hook\"\n\n\
         [destination.mail]\ntype = \"email\"\nto = \"a@example.org\"\nfrom = \"b@example.org\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {closed}\ntls = \"none\"\n",
        server.url("/feed.xml")
    ));
    let ran = crate::Ran::from(env.run(&["check"]));
    ran.expect(0);
    assert!(
        ran.stdout.contains("OK: 2 feeds, 1 rules, 2 destinations"),
        "{}",
        ran.stdout
    );
    assert!(
        server.requests("/feed.xml").is_empty(),
        "check fetched a feed"
    );
    assert!(
        !env.path("feedwatch.db").exists(),
        "check must not create the state database"
    );
}
