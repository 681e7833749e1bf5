//! Broken configs through the real binary: each `feedwatch check` exits 2, names the file,
//! line and column and the thing at fault, and never panics.

use crate::Ran;
use crate::support::Env;

const DEST: &str = "\n[destination.out]\ntype = \"stdout\"\n";

struct Case {
    what: &'static str,
    /// Extra files next to the config (raw bytes); a name ending in `/` is a folder.
    files: &'static [(&'static str, &'static [u8])],
    config: &'static str,
    /// `FILE:line:col: message` prefix of the first error, FILE relative to the temp dir.
    expect: &'static str,
}

const CASES: &[Case] = &[
    Case {
        what: "TOML syntax error",
        files: &[],
        config: "[daemon]\ninterval = \"5m\nconcurrency = 4\n",
        expect: "feedwatch.toml:2:15: TOML syntax error: invalid basic string",
    },
    Case {
        what: "wrong type",
        files: &[],
        config: "[daemon]\nconcurrency = \"16\"\n",
        expect: "feedwatch.toml:2:15: `concurrency` in [daemon]: expected an integer, found a string",
    },
    Case {
        what: "wrong type in a list",
        files: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\ntags = [\"x\", 3]\n",
        expect: "feedwatch.toml:4:",
    },
    Case {
        what: "unknown key",
        files: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\nintervl = \"5m\"\n",
        expect: "feedwatch.toml:4:1: unknown key `intervl` in feed `a`; did you mean `interval`?",
    },
    Case {
        what: "bad duration",
        files: &[],
        config: "[daemon]\nmax_age = \"7 days\"\n",
        expect: "feedwatch.toml:2:11: `max_age` in [daemon]: invalid duration `7 days`",
    },
    Case {
        what: "bad URL scheme",
        files: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"gopher://example.org/\"\n",
        expect: "feedwatch.toml:3:7: `url` in feed `a`: unsupported URL scheme `gopher:`",
    },
    Case {
        what: "bad URL host",
        files: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"http://exa mple.org/hook\"\n",
        expect: "feedwatch.toml:3:7: `url` in [destination.h]: invalid URL:",
    },
    Case {
        what: "duplicate feed names",
        files: &[],
        config: "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\n\n[[feed]]\nname = \"a\"\nurl = \"b.xml\"\n",
        expect: "feedwatch.toml:6:8: duplicate feed name `a` (first defined at ",
    },
    Case {
        what: "duplicate destination tables",
        files: &[],
        config: "[destination.out]\ntype = \"stdout\"\n[destination.out]\ntype = \"stdout\"\n",
        expect: "feedwatch.toml:3:",
    },
    Case {
        what: "rule naming an unknown feed",
        files: &[],
        config: "[[feed]]\nname = \"tass\"\nurl = \"a.xml\"\n[[rule]]\nname = \"r\"\nquery = \"x\"\nfeeds = [\"tas\"]\n",
        expect: "feedwatch.toml:7:10: rule `r` names unknown feed `tas`; did you mean `tass`?",
    },
    Case {
        what: "rule naming an unknown destination",
        files: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"x\"\nnotify = [\"ot\"]\n[destination.out]\ntype = \"stdout\"\n",
        expect: "feedwatch.toml:4:11: rule `r` names unknown destination `ot`; did you mean `out`?",
    },
    Case {
        what: "missing secret file",
        files: &[],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsecret_file = \"nope\"\n",
        expect: "feedwatch.toml:4:15: `secret_file` in [destination.h]: secret file `nope` not found",
    },
    Case {
        what: "secret file that is a folder",
        files: &[("secret/", b"")],
        config: "[destination.h]\ntype = \"webhook\"\nurl = \"https://example.org/hook\"\nsecret_file = \"secret\"\n",
        expect: "feedwatch.toml:4:15: `secret_file` in [destination.h]: `",
    },
    Case {
        what: "secret file that is not text",
        files: &[("pw", b"\xff\xfe\x00")],
        config: "[destination.m]\ntype = \"email\"\nto = \"a@example.org\"\nfrom = \"b@example.org\"\n\
                 smtp_host = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword_file = \"pw\"\n",
        expect: "feedwatch.toml:8:17: `password_file` in [destination.m]: `",
    },
    Case {
        what: "regex over the size limit",
        files: &[],
        config: "[[rule]]\nname = \"r\"\nquery = '/(a{1000}){1000}/'\n",
        expect: "feedwatch.toml:3:10: rule `r`: regex is too large",
    },
    Case {
        what: "regex over the size limit, written with escapes",
        files: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"title:/\\\\w{500}\\\\w{500}/i\"\n",
        expect: "feedwatch.toml:3:16: rule `r`: regex is too large",
    },
    Case {
        what: "invalid regex",
        files: &[],
        config: "[[rule]]\nname = \"r\"\nquery = 'CSTO OR /(unclosed/'\n",
        expect: "feedwatch.toml:3:18: rule `r`:",
    },
    Case {
        what: "unbalanced parenthesis",
        files: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"(CSTO OR SCO\"\n",
        expect: "feedwatch.toml:3:",
    },
    Case {
        what: "all-negative rule",
        files: &[],
        config: "[[rule]]\nname = \"r\"\nquery = \"NOT sport\"\n",
        expect: "feedwatch.toml:3:10: rule `r`:",
    },
    Case {
        what: "error in an included file",
        files: &[
            ("rules.d/", b""),
            (
                "rules.d/a.toml",
                b"[[rule]]\nname = \"r\"\nquery = \"title:(CSTO\"\nfeeds = 3\n",
            ),
        ],
        config: "[daemon]\ninclude = [\"rules.d/*.toml\"]\n",
        expect: "rules.d/a.toml:3:",
    },
    Case {
        what: "include that is not TOML",
        files: &[("extra.toml", b"[[rule]\nname = 1\n")],
        config: "[daemon]\ninclude = [\"extra.toml\"]\n",
        expect: "extra.toml:1:",
    },
];

#[test]
fn each_broken_config_exits_2_with_its_position_and_no_panic() {
    let mut failures = Vec::new();
    for case in CASES {
        let config = if case.config.contains("[destination.") {
            case.config.to_string()
        } else {
            format!("{}{DEST}", case.config)
        };
        let env = Env::new(&config);
        for (name, bytes) in case.files {
            match name.strip_suffix('/') {
                Some(dir) => std::fs::create_dir_all(env.path(dir)).expect("mkdir"),
                None => env.write(name, bytes),
            }
        }
        let ran = Ran::from(env.run(&["check"]));
        let want = format!("{}/{}", env.dir.path().display(), case.expect);
        let first = ran.stderr.lines().next().unwrap_or_default();
        let ok = ran.code == Some(2)
            && first.starts_with(&want)
            && !ran.stderr.contains("panicked")
            && ran.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: exit {:?}\n  expected {want}\n  stderr   {}",
                case.what,
                ran.code,
                ran.stderr.replace('\n', "\n           ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
