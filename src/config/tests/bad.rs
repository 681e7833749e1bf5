//! A table of broken configs, each with the exact error and its position.

use super::{Fixture, short};

const DEST: &str = "[destination.out]\ntype = \"stdout\"\n";

struct Case {
    what: &'static str,
    /// Extra files (a name ending in `/` is created as a folder).
    files: &'static [(&'static str, &'static str)],
    vars: &'static [(&'static str, &'static str)],
    config: &'static str,
    /// The one error expected, as `file:line:col: message`, matched as a prefix.
    expect: &'static str,
}

const CASES: &[Case] = &[
    Case {
        what: "syntax error",
        files: &[],
        vars: &[],
        config: "[daemon]\ninterval = \"5m\nconcurrency = 4\n",
        expect: "feedwatch.toml:2:15: TOML syntax error: invalid basic string, expected `\"`",
    },
    Case {
        what: "wrong type",
        files: &[],
        vars: &[],
        config: "[daemon]\nconcurrency = \"16\"\n",
        expect: "feedwatch.toml:2:15: `concurrency` in [daemon]: expected an integer, found a string",
    },
    Case {
        what: "wrong type in a feed",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = 5\nurl = \"https://example.org/feed\"\n",
        expect: "feedwatch.toml:2:8: `name` in [[feed]] #1: expected a string, found an integer",
    },
    Case {
        what: "unknown key with suggestion",
        files: &[],
        vars: &[],
        config: "[daemon]\nintervall = \"5m\"\n",
        expect: "feedwatch.toml:2:1: unknown key `intervall` in [daemon]; did you mean `interval`? (valid keys: state, interval, first_poll,",
    },
    Case {
        what: "unknown top-level table",
        files: &[],
        vars: &[],
        config: "[deamon]\ninterval = \"5m\"\n",
        expect: "feedwatch.toml:1:2: unknown top-level key `deamon`; did you mean `daemon`? (valid: daemon, health, feed, rule, destination)",
    },
    Case {
        what: "bad duration",
        files: &[],
        vars: &[],
        config: "[daemon]\ninterval = \"5 minutes\"\n",
        expect: "feedwatch.toml:2:12: `interval` in [daemon]: invalid duration `5 minutes`: unknown unit `i`;",
    },
    Case {
        what: "duration given as a number",
        files: &[],
        vars: &[],
        config: "[daemon]\ntimeout = 30\n",
        expect: "feedwatch.toml:2:11: `timeout` in [daemon]: expected a duration string such as \"30s\", \"5m\" or \"1h30m\", found an integer",
    },
    Case {
        what: "interval below 1s",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ninterval = \"0s\"\n",
        expect: "feedwatch.toml:4:12: `interval` in feed `a`: must be at least 1s",
    },
    Case {
        what: "bad size",
        files: &[],
        vars: &[],
        config: "[daemon]\nmax_body = \"15 parsecs\"\n",
        expect: "feedwatch.toml:2:12: `max_body` in [daemon]: invalid size `15 parsecs`: unknown unit `parsecs`",
    },
    Case {
        what: "bad URL scheme",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"ftp://example.org/feed\"\n",
        expect: "feedwatch.toml:3:7: `url` in feed `a`: unsupported URL scheme `ftp:` (use http://, https://, file:// or a plain path)",
    },
    Case {
        what: "URL without a host",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"https://\"\n",
        expect: "feedwatch.toml:3:7: `url` in feed `a`: invalid URL: empty host",
    },
    Case {
        what: "host without scheme",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"example.org:8080/feed\"\n",
        expect: "feedwatch.toml:3:7: `url` in feed `a`: unsupported URL scheme `example.org:`; did you mean `http://example.org:8080/feed`?",
    },
    Case {
        what: "missing url",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\n",
        expect: "feedwatch.toml:1:1: feed `a` has no `url`: it is required",
    },
    Case {
        what: "feed name with a colon",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"tag:x\"\nurl = \"a.xml\"\n",
        expect: "feedwatch.toml:2:8: `name` in [[feed]] #1: feed name `tag:x` must not contain `:` (it would be read as `tag:`)",
    },
    Case {
        what: "duplicate feed names",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\n[[feed]]\nname = \"a\"\nurl = \"b.xml\"\n",
        expect: "feedwatch.toml:5:8: duplicate feed name `a` (first defined at ",
    },
    Case {
        what: "duplicate rule names",
        files: &[],
        vars: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"x\"\n[[rule]]\nname = \"r\"\nquery = \"y\"\n",
        expect: "feedwatch.toml:5:8: duplicate rule name `r` (first defined at ",
    },
    Case {
        what: "rule naming an unknown feed",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"tass\"\nurl = \"a.xml\"\n[[rule]]\nname = \"r\"\nquery = \"x\"\nfeeds = [\"tas\"]\n",
        expect: "feedwatch.toml:7:10: rule `r` names unknown feed `tas`; did you mean `tass`?",
    },
    Case {
        what: "rule naming an unknown tag",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"tass\"\nurl = \"a.xml\"\ntags = [\"news\"]\n[[rule]]\nname = \"r\"\nquery = \"x\"\nfeeds = [\"tag:nwes\"]\n",
        expect: "feedwatch.toml:8:10: rule `r` names tag `nwes`, which no feed has; did you mean `news`?",
    },
    Case {
        what: "rule naming an unknown destination",
        files: &[],
        vars: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"x\"\nnotify = [\"ot\"]\n[destination.out]\ntype = \"stdout\"\n",
        expect: "feedwatch.toml:4:11: rule `r` names unknown destination `ot`; did you mean `out`?",
    },
    Case {
        what: "health_notify naming an unknown destination",
        files: &[],
        vars: &[],
        config: "[daemon]\nhealth_notify = [\"pager\"]\n",
        expect: "feedwatch.toml:2:18: `health_notify` in [daemon] names unknown destination `pager`",
    },
    Case {
        what: "empty feeds list",
        files: &[],
        vars: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"x\"\nfeeds = []\n",
        expect: "feedwatch.toml:4:1: `feeds` in rule `r`: is empty, so the rule would never fire; remove `feeds` to mean all",
    },
    Case {
        what: "missing secret file",
        files: &[],
        vars: &[],
        config: "[destination.m]\ntype = \"email\"\nto = \"a@example.org\"\nfrom = \"b@example.org\"\nsmtp_host = \"smtp.example.org\"\nusername = \"u\"\npassword_file = \"nope\"\n",
        expect: "feedwatch.toml:7:17: `password_file` in [destination.m]: secret file `nope` not found (looked for `",
    },
    Case {
        what: "unreadable secret file",
        files: &[("secret/", "")],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsecret_file = \"secret\"\n",
        expect: "feedwatch.toml:4:15: `secret_file` in [destination.h]: `",
    },
    Case {
        what: "empty secret file",
        files: &[("secret", "\n")],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsecret_file = \"secret\"\n",
        expect: "feedwatch.toml:4:15: `secret_file` in [destination.h]: `",
    },
    Case {
        what: "unset env secret",
        files: &[],
        vars: &[("EMPTY", "")],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsecret_env = \"EMPTY\"\n",
        expect: "feedwatch.toml:4:14: `secret_env` in [destination.h]: environment variable `EMPTY` is not set or is empty",
    },
    Case {
        what: "two sources for one secret",
        files: &[],
        vars: &[("S", "x")],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsecret_file = \"s\"\nsecret_env = \"S\"\n",
        expect: "feedwatch.toml:5:14: `secret_env` in [destination.h]: set only one of `secret_file` and `secret_env`",
    },
    Case {
        what: "tls none on a remote host",
        files: &[],
        vars: &[],
        config: "[destination.m]\ntype = \"email\"\nto = \"a@example.org\"\nfrom = \"b@example.org\"\nsmtp_host = \"smtp.example.org\"\ntls = \"none\"\n",
        expect: "feedwatch.toml:6:7: `tls` in [destination.m]: tls = \"none\" is refused for `smtp.example.org`",
    },
    Case {
        what: "bad mailbox",
        files: &[],
        vars: &[],
        config: "[destination.m]\ntype = \"email\"\nto = [\"not an address\"]\nfrom = \"b@example.org\"\ntransport = \"sendmail\"\n",
        expect: "feedwatch.toml:3:7: `to` in [destination.m]: `not an address` is not a mailbox",
    },
    Case {
        what: "smtp key with sendmail",
        files: &[],
        vars: &[],
        config: "[destination.m]\ntype = \"email\"\nto = \"a@example.org\"\nfrom = \"b@example.org\"\ntransport = \"sendmail\"\nsmtp_port = 25\n",
        expect: "feedwatch.toml:6:1: `smtp_port` in [destination.m]: is only used with transport = \"smtp\"",
    },
    Case {
        what: "email key on a webhook",
        files: &[],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsmtp_host = \"x\"\n",
        expect: "feedwatch.toml:4:1: unknown key `smtp_host` in [destination.h] (valid keys: type, digest, timezone,",
    },
    Case {
        what: "webhook to a file URL",
        files: &[],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"file:///tmp/x\"\n",
        expect: "feedwatch.toml:3:7: `url` in [destination.h]: `file:///tmp/x` is not an http:// or https:// URL",
    },
    Case {
        what: "missing template",
        files: &[],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nformat = \"template\"\n",
        expect: "feedwatch.toml:1:1: [destination.h] has format = \"template\" but no `template` or `template_file`",
    },
    Case {
        what: "template that does not compile",
        files: &[],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nformat = \"template\"\ntemplate = \"{{ items \"\n",
        expect: "feedwatch.toml:5:12: `template` in [destination.h]: the template does not compile: unexpected end of input",
    },
    Case {
        what: "telegram without chat_id",
        files: &[],
        vars: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://api.telegram.org/botX/sendMessage\"\nformat = \"telegram\"\n",
        expect: "feedwatch.toml:1:1: [destination.h] has format = \"telegram\" but no `chat_id`",
    },
    Case {
        what: "missing type",
        files: &[],
        vars: &[],
        config: "[destination.out]\ndigest = \"hourly\"\n",
        expect: "feedwatch.toml:1:1: [destination.out] has no `type`: set it to \"stdout\", \"email\" or \"webhook\"",
    },
    Case {
        what: "unknown type",
        files: &[],
        vars: &[],
        config: "[destination.out]\ntype = \"stdot\"\n",
        expect: "feedwatch.toml:2:8: `type` in [destination.out]: unknown value \"stdot\"; did you mean `stdout`? (expected one of \"stdout\", \"email\", \"webhook\")",
    },
    Case {
        what: "bad timezone",
        files: &[],
        vars: &[],
        config: "[destination.out]\ntype = \"stdout\"\ntimezone = \"Europe/Mscow\"\n",
        expect: "feedwatch.toml:3:12: `timezone` in [destination.out]: unknown timezone `Europe/Mscow`; did you mean `Europe/Moscow`?",
    },
    Case {
        what: "bad schedule",
        files: &[],
        vars: &[],
        config: "[destination.out]\ntype = \"stdout\"\ndigest = \"daily 8am\"\n",
        expect: "feedwatch.toml:3:10: `digest` in [destination.out]: invalid time `8am`: write a 24-hour time such as 08:00",
    },
    Case {
        what: "header injection",
        files: &[],
        vars: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\nheaders = { X-A = \"1\\r\\nEvil: yes\" }\n",
        expect: "feedwatch.toml:4:13: `headers` in feed `a`: the value of header `X-A` contains a line break or control character",
    },
    Case {
        what: "single [feed] table",
        files: &[],
        vars: &[],
        config: "[feed]\nname = \"a\"\n",
        expect: "feedwatch.toml:1:1: `feed` must be written as [[feed]] tables, found a table",
    },
    Case {
        what: "key written twice",
        files: &[],
        vars: &[],
        config: "[daemon]\ninterval = \"1m\"\ninterval = \"2m\"\n",
        expect: "feedwatch.toml:3:1: TOML syntax error: duplicate key",
    },
    Case {
        what: "unknown choice",
        files: &[],
        vars: &[],
        config: "[daemon]\nfirst_poll = \"alerts\"\n",
        expect: "feedwatch.toml:2:14: `first_poll` in [daemon]: unknown value \"alerts\"; did you mean `alert`? (expected one of \"seen\", \"alert\")",
    },
    Case {
        what: "username without a password",
        files: &[],
        vars: &[],
        config: "[destination.m]\ntype = \"email\"\nto = \"a@example.org\"\nfrom = \"b@example.org\"\nsmtp_host = \"smtp.example.org\"\nusername = \"u\"\n",
        expect: "feedwatch.toml:6:12: `username` in [destination.m]: needs `password_file` or `password_env`",
    },
    Case {
        what: "empty query",
        files: &[],
        vars: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"  \"\n",
        expect: "feedwatch.toml:3:9: `query` in rule `r`: must not be empty",
    },
];

#[test]
fn each_broken_config_gives_its_error() {
    let mut failures = Vec::new();
    for case in CASES {
        let fx = Fixture::new();
        for (name, text) in case.files {
            if let Some(dir) = name.strip_suffix('/') {
                std::fs::create_dir_all(fx.path(dir)).unwrap_or_else(|e| panic!("mkdir: {e}"));
            } else {
                fx.write(name, text);
            }
        }
        let config = format!(
            "{}{}",
            case.config,
            if case.config.contains("[destination.") {
                ""
            } else {
                DEST
            }
        );
        fx.write("feedwatch.toml", &config);
        let errors = match fx.load(case.vars) {
            Ok(_) => vec!["(loaded without error)".to_string()],
            Err(e) => short(&e),
        };
        if errors.len() != 1 || !errors[0].starts_with(case.expect) {
            failures.push(format!(
                "{}:\n  expected {}\n  got      {}",
                case.what,
                case.expect,
                errors.join("\n           ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
