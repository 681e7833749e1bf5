//! Known security advisories against the locked dependency tree (issue 7, item 7).
//!
//! `cargo audit` and `cargo deny` both read the RustSec advisory database, a git
//! repository this project's machines and CI cannot fetch (they reach crates.io, PyPI,
//! Debian and npm only, and none of those carries a copy of the database). Until one
//! can run, this test holds the line by hand: it reads Cargo.lock and requires every
//! locked version of each crate below to be outside the affected range of the advisories
//! that apply to our tree. When `cargo update` pulls a crate back into an affected
//! range, or a new advisory lands for a crate we use, this is where it is recorded.
//!
//! Each row copies the advisory's `patched` (and `unaffected`) ranges. A crate that
//! leaves the tree fails the test too, so a misspelt name can never make a row vacuous:
//! delete the row then.

use std::cmp::Ordering;
use std::path::Path;

/// A version range `[from, below)`; `below: None` is unbounded.
#[derive(Clone, Copy)]
struct Range {
    from: &'static str,
    below: Option<&'static str>,
}

const fn at_least(from: &'static str) -> Range {
    Range { from, below: None }
}

const fn between(from: &'static str, below: &'static str) -> Range {
    Range {
        from,
        below: Some(below),
    }
}

/// Everything below `below` (for `unaffected = ["< x"]`).
const fn before(below: &'static str) -> Range {
    Range {
        from: "0.0.0",
        below: Some(below),
    }
}

struct Advisory {
    id: &'static str,
    krate: &'static str,
    what: &'static str,
    /// A locked version is fine when it lies in one of these (patched or unaffected).
    fine: &'static [Range],
}

const ADVISORIES: &[Advisory] = &[
    // The namespace-declaration memory bomb issue 7 names: feed-rs parses every feed with
    // quick-xml's NsReader, so one start tag with 100,000 xmlns attributes from a hostile
    // feed could take gigabytes before feedwatch ever saw the event.
    Advisory {
        id: "RUSTSEC-2026-0195",
        krate: "quick-xml",
        what: "unbounded namespace-declaration allocation in NsReader (memory exhaustion)",
        fine: &[at_least("0.41.0")],
    },
    Advisory {
        id: "RUSTSEC-2026-0194",
        krate: "quick-xml",
        what: "quadratic duplicate-attribute check on one start tag (CPU exhaustion)",
        fine: &[at_least("0.41.0")],
    },
    // feed-rs before 2.4 pinned a quick-xml without the fix above.
    Advisory {
        id: "RUSTSEC-2026-0195 (via feed-rs)",
        krate: "feed-rs",
        what: "depends on a quick-xml affected by the namespace memory bomb",
        fine: &[at_least("2.4.0")],
    },
    // Fetching feeds: HTTP/2 and TLS are reachable by every feed server.
    Advisory {
        id: "RUSTSEC-2024-0332",
        krate: "h2",
        what: "CONTINUATION frame flood",
        fine: &[between("0.3.26", "0.4.0"), at_least("0.4.4")],
    },
    Advisory {
        id: "RUSTSEC-2026-0258",
        krate: "h2",
        what: "unbounded empty DATA frames",
        fine: &[at_least("0.4.16")],
    },
    Advisory {
        id: "RUSTSEC-2024-0336",
        krate: "rustls",
        what: "complete_io infinite loop on close_notify during the handshake",
        fine: &[
            at_least("0.23.5"),
            between("0.22.4", "0.23.0"),
            between("0.21.11", "0.22.0"),
        ],
    },
    Advisory {
        id: "RUSTSEC-2024-0399",
        krate: "rustls",
        what: "panic on a fragmented ClientHello in Acceptor::accept",
        fine: &[at_least("0.23.18"), before("0.23.13")],
    },
    Advisory {
        id: "RUSTSEC-2026-0285",
        krate: "rustls",
        what: "TLS 1.3 handshake messages accepted across encryption levels",
        fine: &[at_least("0.23.45"), before("0.23.13")],
    },
    Advisory {
        id: "RUSTSEC-2026-0049",
        krate: "rustls-webpki",
        what: "CRL distribution point matching",
        fine: &[at_least("0.103.10")],
    },
    Advisory {
        id: "RUSTSEC-2026-0098/0099",
        krate: "rustls-webpki",
        what: "name constraints ignored for URI names and wildcard certificates",
        fine: &[at_least("0.103.12")],
    },
    Advisory {
        id: "RUSTSEC-2026-0104",
        krate: "rustls-webpki",
        what: "panic parsing a certificate revocation list",
        fine: &[
            between("0.103.13", "0.104.0-alpha.1"),
            at_least("0.104.0-alpha.7"),
        ],
    },
    Advisory {
        id: "RUSTSEC-2025-0009",
        krate: "ring",
        what: "AES functions may panic with overflow checks on",
        fine: &[at_least("0.17.12")],
    },
    Advisory {
        id: "RUSTSEC-2024-0421",
        krate: "idna",
        what: "Punycode labels that decode to ASCII accepted (host name confusion)",
        fine: &[at_least("1.0.0")],
    },
    Advisory {
        id: "RUSTSEC-2026-0007",
        krate: "bytes",
        what: "integer overflow in BytesMut::reserve",
        fine: &[at_least("1.11.1"), before("1.2.1")],
    },
    // The runtime and what it carries.
    Advisory {
        id: "RUSTSEC-2025-0023",
        krate: "tokio",
        what: "broadcast channel clones values in parallel without Sync",
        fine: &[
            between("1.38.2", "1.39.0"),
            between("1.43.1", "1.44.0"),
            at_least("1.44.2"),
        ],
    },
    Advisory {
        id: "RUSTSEC-2025-0047",
        krate: "slab",
        what: "out-of-bounds access in get_disjoint_mut",
        fine: &[at_least("0.4.11"), before("0.4.10")],
    },
    Advisory {
        id: "RUSTSEC-2026-0097",
        krate: "rand",
        what: "unsound with a custom logger using rand::rng()",
        fine: &[
            at_least("0.10.1"),
            between("0.9.3", "0.10.0"),
            before("0.7.0"),
        ],
    },
    // Feed titles reach the logs: escape sequences in them must not reach a terminal.
    Advisory {
        id: "RUSTSEC-2025-0055",
        krate: "tracing-subscriber",
        what: "ANSI escape sequence injection through logged input",
        fine: &[at_least("0.3.20")],
    },
    // Rules are regexes written by the operator, feed text is matched against them.
    Advisory {
        id: "RUSTSEC-2022-0013",
        krate: "regex",
        what: "large repetitions of empty sub-expressions take very long to parse",
        fine: &[at_least("1.5.5")],
    },
    // The bundled SQLite holds the state.
    Advisory {
        id: "RUSTSEC-2022-0090",
        krate: "libsqlite3-sys",
        what: "bundled SQLite printf array-bounds overflow (CVE-2022-35737)",
        fine: &[at_least("0.25.1")],
    },
    Advisory {
        id: "RUSTSEC-2026-0141",
        krate: "lettre",
        what: "TLS hostname verification off with the boring-tls backend",
        fine: &[at_least("0.11.22"), before("0.10.1")],
    },
];

/// A semver version as Cargo.lock writes it: `1.2.3`, `1.2.3-alpha.1`, `1.2.2+spec-1.1.0`.
#[derive(Debug, PartialEq, Eq)]
struct Version {
    release: [u64; 3],
    pre: Option<String>,
}

fn parse_version(text: &str) -> Option<Version> {
    // Build metadata never takes part in comparisons.
    let text = text.split('+').next()?;
    let (release, pre) = match text.split_once('-') {
        Some((r, p)) => (r, Some(p.to_string())),
        None => (text, None),
    };
    let mut parts = release.split('.').map(|p| p.parse::<u64>().ok());
    let version = Version {
        release: [parts.next()??, parts.next()??, parts.next()??],
        pre,
    };
    parts.next().is_none().then_some(version)
}

fn compare(a: &Version, b: &Version) -> Ordering {
    a.release
        .cmp(&b.release)
        .then_with(|| match (&a.pre, &b.pre) {
            (None, None) => Ordering::Equal,
            // A pre-release sorts before its release.
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => compare_pre(x, y),
        })
}

/// Dot-separated identifiers; numeric ones compare as numbers and sort before text.
fn compare_pre(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let order = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

fn in_range(version: &Version, range: &Range) -> bool {
    let bound =
        |s: &str| parse_version(s).unwrap_or_else(|| panic!("bad bound {s:?} in the table"));
    compare(version, &bound(range.from)) != Ordering::Less
        && range
            .below
            .is_none_or(|below| compare(version, &bound(below)) == Ordering::Less)
}

/// Every `(name, version)` in Cargo.lock.
fn locked_packages() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let lock: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()));
    let packages = lock
        .get("package")
        .and_then(|p| p.as_array())
        .unwrap_or_else(|| panic!("{} has no [[package]] entries", path.display()));
    packages
        .iter()
        .map(|p| {
            let field = |k: &str| {
                p.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_else(|| panic!("a [[package]] in Cargo.lock has no `{k}`: {p:?}"))
                    .to_string()
            };
            (field("name"), field("version"))
        })
        .collect()
}

/// One line per locked version inside an affected range, and per table row whose crate
/// is not in `packages` at all.
fn problems(packages: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for adv in ADVISORIES {
        let versions: Vec<&str> = packages
            .iter()
            .filter(|(name, _)| name == adv.krate)
            .map(|(_, v)| v.as_str())
            .collect();
        if versions.is_empty() {
            problems.push(format!(
                "{} ({}): `{}` is no longer in Cargo.lock; delete its row here",
                adv.id, adv.what, adv.krate
            ));
        }
        for v in versions {
            let Some(parsed) = parse_version(v) else {
                problems.push(format!(
                    "{}: cannot read version {v:?} of {}",
                    adv.id, adv.krate
                ));
                continue;
            };
            if !adv.fine.iter().any(|r| in_range(&parsed, r)) {
                problems.push(format!(
                    "{} {v} is affected by {} ({}); run `cargo update -p {}` to a patched version",
                    adv.krate, adv.id, adv.what, adv.krate
                ));
            }
        }
    }
    problems
}

#[test]
fn no_locked_crate_is_in_an_affected_range() {
    let found = problems(&locked_packages());
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn an_affected_or_missing_crate_is_reported() {
    // The real lock with quick-xml moved back to 0.40 and tokio taken out.
    let mut packages: Vec<(String, String)> = locked_packages()
        .into_iter()
        .filter(|(name, _)| name != "tokio")
        .collect();
    for (name, version) in &mut packages {
        if name == "quick-xml" {
            *version = "0.40.1".into();
        }
    }
    let found = problems(&packages);
    let quick_xml: Vec<&String> = found
        .iter()
        .filter(|p| p.starts_with("quick-xml 0.40.1"))
        .collect();
    assert_eq!(quick_xml.len(), 2, "both quick-xml advisories: {found:#?}");
    assert!(quick_xml[0].contains("RUSTSEC-2026-0195"), "{found:#?}");
    assert!(
        found
            .iter()
            .any(|p| p.contains("`tokio` is no longer in Cargo.lock")),
        "{found:#?}"
    );
    assert_eq!(found.len(), 3, "{found:#?}");
}

#[test]
fn feeds_are_parsed_by_a_single_patched_quick_xml() {
    // Two quick-xml versions would mean one of the XML paths (ours or feed-rs's) could
    // drift back to an unpatched release unnoticed.
    let packages = locked_packages();
    let quick_xml: Vec<&str> = packages
        .iter()
        .filter(|(n, _)| n == "quick-xml")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        quick_xml.len(),
        1,
        "quick-xml versions in Cargo.lock: {quick_xml:?}"
    );
}

#[test]
fn version_ranges_compare_like_semver() {
    let v = |s: &str| parse_version(s).unwrap_or_else(|| panic!("{s}"));
    let cases: &[(&str, Range, bool)] = &[
        ("0.41.0", at_least("0.41.0"), true),
        ("0.40.9", at_least("0.41.0"), false),
        ("0.42.0", at_least("0.41.0"), true),
        ("1.0.0", at_least("0.41.0"), true),
        ("0.41.0-rc.1", at_least("0.41.0"), false),
        ("1.2.2+spec-1.1.0", at_least("1.2.2"), true),
        ("0.3.26", between("0.3.26", "0.4.0"), true),
        ("0.3.99", between("0.3.26", "0.4.0"), true),
        ("0.4.0", between("0.3.26", "0.4.0"), false),
        (
            "0.104.0-alpha.1",
            between("0.103.13", "0.104.0-alpha.1"),
            false,
        ),
        ("0.104.0-alpha.6", at_least("0.104.0-alpha.7"), false),
        ("0.104.0-alpha.10", at_least("0.104.0-alpha.7"), true),
        ("0.104.0", at_least("0.104.0-alpha.7"), true),
        ("0.6.9", before("0.7.0"), true),
        ("0.7.0", before("0.7.0"), false),
    ];
    for (version, range, expect) in cases {
        assert_eq!(
            in_range(&v(version), range),
            *expect,
            "{version} in [{}, {:?})",
            range.from,
            range.below
        );
    }
    for bad in ["1.2", "1.2.x", "", "1.2.3.4"] {
        assert_eq!(parse_version(bad), None, "{bad:?}");
    }
}
