//! A config using every key loads, and every value reads back as written.

use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;

use super::super::{
    Config, DestinationKind, EmailTransport, FeedSource, FirstPoll, TlsMode, WebhookFormat,
};
use super::{Fixture, write_secret};

const FULL: &str = r#"
[daemon]
state = "state/fw.db"
interval = "10m"
first_poll = "alert"
max_age = "off"
include = ["rules.d/*.toml"]
concurrency = 8
per_host = 1
timeout = "20s"
max_body = 1048576
user_agent = "fw-test/1"
max_backoff = "2h"
health_notify = ["ops-mail"]
flood_limit = 20
retention = "30d"
shutdown_grace = "0s"

[health]
failures = 3

[[feed]]
name = "tass"
url = "https://tass.com/rss/v2.xml"
interval = "5m"
tags = ["news", "ru", "news"]
user_agent = "Mozilla/5.0 (compatible)"
headers = { Accept-Language = "ru", X-Token = "t" }
stale_after = "2d"

[[feed]]
name = "local"
url = "samples/news.xml"

[[feed]]
name = "abs"
url = "file:///srv/feeds/a.xml"
tags = ["news"]

[[rule]]
name = "lavrov-kyrgyzstan"
query = "Lavrov AND Kyrgyzstan"
feeds = ["tag:news", "tass", "local"]
notify = ["console"]

[[rule]]
name = "csto"
query = "CSTO"

[destination.console]
type = "stdout"

[destination.ops-mail]
type = "email"
to = ["analyst@example.org", "Duty <duty@example.org>"]
from = "feedwatch <feedwatch@example.org>"
smtp_host = "smtp.example.org"
tls = "tls"
username = "feedwatch"
password_file = "smtp-password"
digest = "daily 08:00"
timezone = "Europe/Moscow"
max_items = 25
retry_for = "1d"
timeout = "15s"

[destination.local-mta]
type = "email"
to = "root@localhost"
from = "feedwatch@localhost"
transport = "sendmail"
sendmail_command = "/usr/sbin/sendmail"

[destination.team-hook]
type = "webhook"
url = "https://hooks.example.org/feedwatch"
format = "template"
template_file = "digest.j2"
content_type = "text/plain"
secret_file = "hook-secret"
headers = { X-Team = "analysts" }
digest = "weekly mon 09:30"

[destination.tg]
type = "webhook"
url = "https://api.telegram.org/botTOKEN/sendMessage"
format = "telegram"
chat_id = -1001234567890
secret_env = "TG_SECRET"
"#;

const EXTRA: &str = r#"
[[feed]]
name = "extra"
url = "extra.xml"
tags = ["ru"]

[[rule]]
name = "extra-rule"
query = "Bishkek"
feeds = ["tag:ru"]

[destination.plain-smtp]
type = "email"
to = "a@example.org"
from = "b@example.org"
smtp_host = "127.0.0.1"
tls = "none"
"#;

fn load_full(fx: &Fixture) -> Config {
    fx.write("feedwatch.toml", FULL);
    fx.write("rules.d/extra.toml", EXTRA);
    fx.write(
        "digest.j2",
        "{% for i in items %}{{ i.title }}\n{% endfor %}",
    );
    write_secret(fx, "creds/smtp-password", "s3cret-smtp\n", 0o600);
    write_secret(fx, "hook-secret", "s3cret-hook", 0o644);
    let creds = fx.path("creds");
    let creds = creds.to_string_lossy();
    fx.load(&[
        ("CREDENTIALS_DIRECTORY", &creds),
        ("TG_SECRET", "s3cret-tg"),
        ("TZ", "Asia/Bishkek"),
    ])
    .unwrap_or_else(|e| panic!("full config did not load:\n{e}"))
}

#[test]
fn full_config_reads_every_value() {
    let fx = Fixture::new();
    let c = load_full(&fx);
    let dir = fx.dir.path();
    assert_eq!(c.path, dir.join("feedwatch.toml"));
    let d = &c.daemon;
    assert_eq!(d.state, dir.join("state/fw.db"));
    assert_eq!(d.interval, Duration::from_secs(600));
    assert_eq!(d.first_poll, FirstPoll::Alert);
    assert_eq!(d.max_age, None);
    assert_eq!((d.concurrency, d.per_host), (8, 1));
    assert_eq!(d.fetch_timeout, Duration::from_secs(20));
    assert_eq!(d.max_body, 1_048_576);
    assert_eq!(d.user_agent, "fw-test/1");
    assert_eq!(d.max_backoff, Duration::from_secs(7_200));
    assert_eq!(d.health_notify, ["ops-mail"]);
    assert_eq!(d.health_failures, 3);
    assert_eq!(d.flood_limit, 20);
    assert_eq!(d.retention, Duration::from_secs(30 * 86_400));
    assert_eq!(d.shutdown_grace, Duration::ZERO);

    let names: Vec<&str> = c.feeds.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["tass", "local", "abs", "extra"]);
    let tass = &c.feeds[0];
    assert_eq!(tass.source.to_string(), "https://tass.com/rss/v2.xml");
    assert_eq!(tass.interval, Duration::from_secs(300));
    assert_eq!(tass.tags, ["news", "ru"]);
    assert_eq!(tass.user_agent, "Mozilla/5.0 (compatible)");
    assert_eq!(
        tass.headers,
        [
            ("Accept-Language".to_string(), "ru".to_string()),
            ("X-Token".into(), "t".into())
        ]
    );
    assert_eq!(tass.stale_after, Some(Duration::from_secs(2 * 86_400)));
    let local = &c.feeds[1];
    assert_eq!(local.source, FeedSource::File(dir.join("samples/news.xml")));
    assert_eq!(
        local.interval,
        Duration::from_secs(600),
        "inherits [daemon] interval"
    );
    assert_eq!(
        local.user_agent, "fw-test/1",
        "inherits [daemon] user_agent"
    );
    assert_eq!(local.stale_after, None);
    assert_eq!(
        c.feeds[2].source,
        FeedSource::File(PathBuf::from("/srv/feeds/a.xml"))
    );
    assert_eq!(
        c.feeds[3].source,
        FeedSource::File(dir.join("rules.d/extra.xml")),
        "relative to the included file"
    );

    let rules: Vec<&str> = c.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rules, ["lavrov-kyrgyzstan", "csto", "extra-rule"]);
    let r = &c.rules[0];
    assert_eq!(r.query_text, "Lavrov AND Kyrgyzstan");
    let in_scope = |r: &crate::config::RuleConfig| -> Option<Vec<String>> {
        let scope = r.feeds.as_ref()?;
        Some(scope.feeds(&c.feeds).map(|f| f.name.clone()).collect())
    };
    assert_eq!(in_scope(r).unwrap_or_default(), ["tass", "local", "abs"]);
    assert_eq!(r.notify, ["console"]);
    assert_eq!(c.rules[1].feeds, None);
    let all_dests: Vec<&str> = c.destinations.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        all_dests,
        [
            "console",
            "ops-mail",
            "local-mta",
            "team-hook",
            "tg",
            "plain-smtp"
        ]
    );
    assert_eq!(c.rules[1].notify, all_dests);
    assert_eq!(in_scope(&c.rules[2]).unwrap_or_default(), ["tass", "extra"]);

    check_destinations(&c);
}

fn check_destinations(c: &Config) {
    let console = &c.destinations[0];
    assert!(matches!(console.kind, DestinationKind::Stdout));
    assert_eq!(console.digest.to_string(), "immediate");
    assert_eq!(
        console.timezone,
        Tz::Asia__Bishkek,
        "the system's, from $TZ"
    );
    assert_eq!(
        (console.max_items, console.retry_for, console.timeout),
        (
            100,
            Duration::from_secs(3 * 86_400),
            Duration::from_secs(30)
        )
    );

    let mail = &c.destinations[1];
    assert_eq!(mail.digest.to_string(), "daily 08:00");
    assert_eq!(mail.timezone, Tz::Europe__Moscow);
    assert_eq!(
        (mail.max_items, mail.retry_for, mail.timeout),
        (25, Duration::from_secs(86_400), Duration::from_secs(15))
    );
    let DestinationKind::Email(e) = &mail.kind else {
        panic!("ops-mail is not email")
    };
    let to: Vec<String> = e.to.iter().map(ToString::to_string).collect();
    assert_eq!(to, ["analyst@example.org", "Duty <duty@example.org>"]);
    assert_eq!(e.from.to_string(), "feedwatch <feedwatch@example.org>");
    let EmailTransport::Smtp {
        host,
        port,
        tls,
        username,
        password,
    } = &e.transport
    else {
        panic!("not smtp")
    };
    assert_eq!(
        (host.as_str(), *port, *tls),
        ("smtp.example.org", 465, TlsMode::Implicit)
    );
    assert_eq!(username.as_deref(), Some("feedwatch"));
    assert_eq!(
        password.as_ref().map(|p| p.expose()),
        Some("s3cret-smtp"),
        "from $CREDENTIALS_DIRECTORY, newline trimmed"
    );

    let DestinationKind::Email(mta) = &c.destinations[2].kind else {
        panic!("local-mta is not email")
    };
    assert_eq!(
        mta.transport,
        EmailTransport::Sendmail {
            command: Some(PathBuf::from("/usr/sbin/sendmail"))
        }
    );

    let hook = &c.destinations[3];
    assert_eq!(hook.digest.to_string(), "weekly mon 09:30");
    let DestinationKind::Webhook(w) = &hook.kind else {
        panic!("team-hook is not a webhook")
    };
    assert_eq!(w.url.as_str(), "https://hooks.example.org/feedwatch");
    assert_eq!(w.format, WebhookFormat::Template);
    assert_eq!(
        w.template.as_deref(),
        Some("{% for i in items %}{{ i.title }}\n{% endfor %}")
    );
    assert_eq!(w.content_type, "text/plain");
    assert_eq!(w.secret.as_ref().map(|s| s.expose()), Some("s3cret-hook"));
    assert_eq!(w.headers, [("X-Team".to_string(), "analysts".to_string())]);
    assert_eq!(w.chat_id, None);

    let DestinationKind::Webhook(tg) = &c.destinations[4].kind else {
        panic!("tg is not a webhook")
    };
    assert_eq!(tg.format, WebhookFormat::Telegram);
    assert_eq!(tg.chat_id.as_deref(), Some("-1001234567890"));
    assert_eq!(tg.content_type, "application/json");
    assert_eq!(tg.secret.as_ref().map(|s| s.expose()), Some("s3cret-tg"));

    let DestinationKind::Email(plain) = &c.destinations[5].kind else {
        panic!("plain-smtp is not email")
    };
    assert!(matches!(
        plain.transport,
        EmailTransport::Smtp {
            port: 25,
            tls: TlsMode::None,
            ..
        }
    ));

    // The world-readable hook secret is the one warning; it names the file, never the secret.
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    let w = &c.warnings[0];
    assert!(
        w.contains("hook-secret")
            && w.contains("readable by every user")
            && w.contains("chmod 600"),
        "{w}"
    );
    let hook_line = FULL
        .lines()
        .position(|l| l.starts_with("secret_file"))
        .map_or(0, |i| i + 1);
    assert!(
        w.contains(&format!("feedwatch.toml:{hook_line}:15:")),
        "{w}"
    );
    let debug = format!("{c:?}");
    for secret in ["s3cret-smtp", "s3cret-hook", "s3cret-tg"] {
        assert!(
            !debug.contains(secret) && !w.contains(secret),
            "{secret} leaked"
        );
    }
}
