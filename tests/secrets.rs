//! Secrets never reach logs, command output or `status`, at the most verbose log level:
//! an SMTP password from a file, a webhook signing secret from the environment, a feed
//! URL with userinfo and a webhook URL with tokens in its path and query. Every command
//! that touches them runs as the real binary, with `RUST_LOG=trace` and, where it makes
//! a difference, `--log-level trace`; the daemon runs for a few seconds too.

mod support;
mod util;

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use support::{Env, FeedServer, Route, bin, rss};
use util::smtp::{Options, SmtpSink};

const SMTP_USER: &str = "alerts";
const SMTP_PASSWORD: &str = "smtp-Pa55-s3cret-ZQ";
const HOOK_SECRET: &str = "whsec-hook-s3cret-XY";
const FEED_USER: &str = "feeduser";
const FEED_PASSWORD: &str = "pa55word-FEED";
const PATH_TOKEN: &str = "tok-PATH-9f3k";
const QUERY_TOKEN: &str = "tok-QUERY-77x";

/// Every secret, and the encodings in which a library would put it on the wire.
fn secret_strings() -> Vec<String> {
    let mut s: Vec<String> = [
        SMTP_PASSWORD,
        HOOK_SECRET,
        FEED_USER,
        FEED_PASSWORD,
        PATH_TOKEN,
        QUERY_TOKEN,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    s.push(BASE64.encode(format!("{FEED_USER}:{FEED_PASSWORD}")));
    s.push(BASE64.encode(format!("\0{SMTP_USER}\0{SMTP_PASSWORD}")));
    s.push(BASE64.encode(SMTP_PASSWORD));
    s
}

struct Setup {
    env: Env,
    server: FeedServer,
    sink: SmtpSink,
    rt: tokio::runtime::Runtime,
    hook_path: String,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sink = rt.block_on(SmtpSink::start_with(Options {
        script: vec![],
        auth: Some((SMTP_USER.into(), SMTP_PASSWORD.into())),
    }));
    let server = FeedServer::start();
    server.set(
        "/feed.xml",
        Route::xml(rss(&[("s1", "CSTO ministers meet", "In Bishkek")])),
    );
    server.set("/locked.xml", Route::xml("no").status(401));
    let hook_path = format!("/hook/{PATH_TOKEN}");
    // The webhook fails at first, so error messages and failed digests are produced too.
    server.set(&hook_path, Route::xml("down").status(500));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let port = server.addr.port();
    let userinfo = format!("{FEED_USER}:{FEED_PASSWORD}@127.0.0.1");
    let config = format!(
        "[daemon]\nstate = \"feedwatch.db\"\nfirst_poll = \"alert\"\nmax_age = \"off\"\n\
         interval = \"1s\"\ntimeout = \"2s\"\nmax_backoff = \"2s\"\nhealth_notify = [\"hook\"]\n\n\
         [health]\nfailures = 1\n\n\
         [[feed]]\nname = \"private\"\nurl = \"http://{userinfo}:{port}/feed.xml\"\n\n\
         [[feed]]\nname = \"locked\"\nurl = \"http://{userinfo}:{port}/locked.xml\"\n\n\
         [[feed]]\nname = \"down\"\nurl = \"http://{userinfo}:{closed}/feed.xml\"\n\n\
         [[rule]]\nname = \"csto\"\nquery = \"CSTO\"\n\n\
         [destination.hook]\ntype = \"webhook\"\n\
         url = \"http://127.0.0.1:{port}{hook_path}?token={QUERY_TOKEN}\"\nsecret_env = \"FW_HOOK_SECRET\"\n\n\
         [destination.mail]\ntype = \"email\"\nto = \"ops@example.org\"\nfrom = \"feedwatch@example.org\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\nusername = \"{SMTP_USER}\"\n\
         password_file = \"smtp-password\"\n\n\
         [destination.mail-down]\ntype = \"email\"\nto = \"ops@example.org\"\nfrom = \"feedwatch@example.org\"\n\
         smtp_host = \"127.0.0.1\"\nsmtp_port = {closed}\ntls = \"none\"\nusername = \"{SMTP_USER}\"\n\
         password_file = \"smtp-password\"\n",
        sink.addr.port()
    );
    let env = Env::new(&config);
    env.write("smtp-password", format!("{SMTP_PASSWORD}\n"));
    std::fs::set_permissions(
        env.path("smtp-password"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    Setup {
        env,
        server,
        sink,
        rt,
        hook_path,
    }
}

/// The binary with the secret in its environment and every log level opened.
fn cmd(s: &Setup, args: &[&str]) -> Command {
    let mut c = bin();
    c.args(args)
        .arg("--config")
        .arg(s.env.config_path())
        .current_dir(s.env.dir.path())
        .env("FW_HOOK_SECRET", HOOK_SECRET)
        .env("RUST_LOG", "trace");
    c
}

/// Runs a command; returns everything it printed, labelled for failure messages.
fn run(s: &Setup, args: &[&str]) -> (Option<i32>, String) {
    transcript(args, cmd(s, args))
}

/// Runs a command that takes no config (`test-rule`, `inspect`, `discover`).
fn run_without_config(args: &[&str]) -> (Option<i32>, String) {
    let mut c = bin();
    c.args(args).env("RUST_LOG", "trace");
    transcript(args, c)
}

fn transcript(args: &[&str], mut cmd: Command) -> (Option<i32>, String) {
    let out = cmd.output().expect("run feedwatch");
    // The label is the test's own text: it shows the command without the credentials.
    let label = args
        .join(" ")
        .replace(&format!("{FEED_USER}:{FEED_PASSWORD}@"), "USERINFO@");
    let text = format!(
        "$ feedwatch {label}\n--- stdout\n{}\n--- stderr\n{}\n",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("panicked"), "{text}");
    (out.status.code(), text)
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in secret_strings() {
        assert!(
            !text.contains(&secret),
            "{what} shows the secret `{secret}`:\n{text}"
        );
    }
}

#[test]
fn no_secret_appears_in_logs_output_or_status_at_any_level() {
    let mut s = setup();
    let mut transcript = String::new();

    let (code, out) = run(&s, &["check"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("readable by every user"), "{out}");
    transcript.push_str(&out);

    // One cycle with JSON logs: the feed is fetched with its credentials, the webhook
    // fails, one mail server is down, and the library logs stay capped at info.
    let (code, out) = run(
        &s,
        &[
            "run",
            "--once",
            "--log-level",
            "trace",
            "--log-format",
            "json",
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    for line in out.split("--- stderr\n").nth(1).unwrap_or_default().lines() {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let level = event["level"].as_str().unwrap_or_default();
        let target = event["target"].as_str().unwrap_or_default();
        assert!(
            !matches!(level, "DEBUG" | "TRACE") || target.starts_with("feedwatch"),
            "a dependency logged at {level}: {line}"
        );
    }
    assert!(out.contains("locked: "), "{out}");
    transcript.push_str(&out);

    // The credentials really were used: the test would prove nothing otherwise.
    let feed_reqs = s.server.requests("/feed.xml");
    let basic = format!(
        "Basic {}",
        BASE64.encode(format!("{FEED_USER}:{FEED_PASSWORD}"))
    );
    assert!(
        feed_reqs
            .iter()
            .any(|r| r.headers.get("authorization") == Some(&basic)),
        "{feed_reqs:?}"
    );
    let mail = s.rt.block_on(s.sink.next()).expect("a digest by mail");
    assert_eq!(mail.user.as_deref(), Some(SMTP_USER));

    for dest in ["hook", "mail", "mail-down"] {
        let (_, out) = run(&s, &["test-destination", dest, "--log-level", "trace"]);
        transcript.push_str(&out);
    }
    let (code, out) = run(&s, &["status"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("last error"), "{out}");
    transcript.push_str(&out);
    let (code, out) = run(&s, &["status", "--json"]);
    assert_eq!(code, Some(0), "{out}");
    transcript.push_str(&out);
    let (_, out) = run(&s, &["retry", "hook"]);
    transcript.push_str(&out);

    // One-shot commands given a URL with userinfo show it without.
    let port = s.server.addr.port();
    let with_userinfo =
        |path: &str| format!("http://{FEED_USER}:{FEED_PASSWORD}@127.0.0.1:{port}{path}");
    let (code, out) =
        run_without_config(&["test-rule", "--json", "CSTO", &with_userinfo("/feed.xml")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("\"source\":\"http://127.0.0.1:{port}/feed.xml\"")),
        "{out}"
    );
    transcript.push_str(&out);
    for args in [
        vec!["test-rule", "CSTO"],
        vec!["inspect"],
        vec!["inspect", "--json"],
        vec!["discover"],
    ] {
        for path in ["/feed.xml", "/locked.xml", "/missing.xml"] {
            let url = with_userinfo(path);
            let mut a = args.clone();
            a.push(&url);
            a.extend(["--log-level", "trace"]);
            transcript.push_str(&run_without_config(&a).1);
        }
    }

    // The daemon for a few seconds, now with a working webhook.
    s.server.set(&s.hook_path, Route::xml("ok"));
    transcript.push_str(&run_daemon(&s));
    let hook_reqs = s.server.requests(&s.hook_path);
    assert!(
        hook_reqs.iter().any(|r| r.status == 200)
            && hook_reqs
                .iter()
                .all(|r| r.headers.contains_key("webhook-signature")),
        "{hook_reqs:?}"
    );
    let (_, out) = run(&s, &["status", "--json"]);
    transcript.push_str(&out);

    assert_no_secret("command output or logs", &transcript);
    let db = std::fs::read(s.env.path("feedwatch.db")).expect("state database");
    assert_no_secret("the state database", &String::from_utf8_lossy(&db));
    s.rt.block_on(async { drop(s.sink.drain()) });
}

fn run_daemon(s: &Setup) -> String {
    let out_path = s.env.path("daemon.out");
    let err_path = s.env.path("daemon.err");
    let mut child = cmd(s, &["run", "--log-level", "trace"])
        .stdout(Stdio::from(File::create(&out_path).expect("create")))
        .stderr(Stdio::from(File::create(&err_path).expect("create")))
        .spawn()
        .expect("spawn daemon");
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(15) {
        let delivered = s
            .server
            .requests(&s.hook_path)
            .iter()
            .any(|r| r.status == 200);
        if delivered && t.elapsed() > Duration::from_secs(4) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t = Instant::now();
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if t.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let text = format!("$ feedwatch run (daemon)\n--- stdout\n{out}\n--- stderr\n{err}\n");
    assert_eq!(code, Some(0), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    text
}

#[test]
fn a_secret_file_readable_by_everyone_gives_a_warning() {
    let s = setup();
    let secret = s.env.path("smtp-password");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (code, out) = run(&s, &["check"]);
    assert_eq!(code, Some(0), "a warning, not an error: {out}");
    let warning = out
        .lines()
        .find(|l| l.contains("readable by every user"))
        .unwrap_or_else(|| panic!("no warning:\n{out}"));
    assert!(warning.starts_with("warning: "), "{warning}");
    assert!(
        warning.contains("feedwatch.toml:"),
        "names the config line: {warning}"
    );
    assert!(warning.contains("chmod 600"), "says what to do: {warning}");
    assert_no_secret("the warning", &out);
}
