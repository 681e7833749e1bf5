//! Hostile documents through `parse::parse_feed`: each must end in a clear error or a
//! correct parse, quickly and with bounded memory, and must never reach for a file or a
//! URL it names.
//!
//! Every case runs in a child process (this test binary re-run on that one test), so the
//! peak resident size it reports (`VmHWM`) is the case's own and not that of whatever
//! other tests ran in parallel.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use feedwatch::model::ParsedFeed;
use feedwatch::parse::{ParseError, parse_feed};

/// The daemon's whole budget (issue 7); one parse must stay well inside it.
const PEAK_LIMIT_KB: u64 = 200 * 1024;
/// Generous: tests run unoptimised on a shared machine.
const TIME_LIMIT: Duration = Duration::from_secs(60);
const CHILD_ENV: &str = "FEEDWATCH_HOSTILE_CASE";

/// Runs `case` in a child process and checks its peak memory and time. In the child,
/// runs it and reports.
fn measured(name: &str, case: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        let start = Instant::now();
        case();
        // On lines of their own: the harness prints the test name without a newline.
        println!("\nHOSTILE_MS={}", start.elapsed().as_millis());
        println!("HOSTILE_VMHWM_KB={}", vm_hwm_kb().unwrap_or(0));
        return;
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("own executable: {e}"));
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .output()
        .unwrap_or_else(|e| panic!("running the child for {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{name} failed in its child process:\n{stdout}\n{stderr}"
    );
    let value = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.find(key).map(|at| &l[at + key.len()..]))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}: the child printed no {key}:\n{stdout}"))
    };
    let (ms, kb) = (value("HOSTILE_MS="), value("HOSTILE_VMHWM_KB="));
    eprintln!("{name}: {ms} ms, peak {} MB", kb / 1024);
    assert!(
        kb > 0 && kb < PEAK_LIMIT_KB,
        "{name}: peak memory {kb} kB is over the limit of {PEAK_LIMIT_KB} kB"
    );
    assert!(
        Duration::from_millis(ms) < TIME_LIMIT,
        "{name}: took {ms} ms"
    );
}

fn vm_hwm_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn rss(prolog: &str, items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>{prolog}<rss version=\"2.0\"><channel>\
         <title>Hostile</title><link>https://example.org/</link>{items}</channel></rss>"
    )
}

fn item(n: usize, title: &str, description: &str) -> String {
    format!(
        "<item><guid>urn:item:{n}</guid><title>{title}</title>\
         <link>https://example.org/{n}</link><description>{description}</description></item>"
    )
}

fn expect_error(result: Result<ParsedFeed, ParseError>, words: &[&str]) -> String {
    match result {
        Ok(feed) => panic!("expected an error, got {} items", feed.items.len()),
        Err(e) => {
            let msg = e.to_string();
            for w in words {
                assert!(msg.contains(w), "error {msg:?} lacks {w:?}");
            }
            msg
        }
    }
}

fn expect_feed(result: Result<ParsedFeed, ParseError>) -> ParsedFeed {
    result.unwrap_or_else(|e| panic!("expected a feed, got: {e}"))
}

#[test]
fn billion_laughs_is_refused() {
    measured("billion_laughs_is_refused", || {
        let mut dtd = String::from("<!DOCTYPE rss [<!ENTITY lol \"lol\">");
        for n in 1..10 {
            let prev = if n == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", n - 1)
            };
            dtd.push_str(&format!(
                "<!ENTITY lol{n} \"{}\">",
                format!("&{prev};").repeat(10)
            ));
        }
        dtd.push_str("]>");
        let doc = rss(&dtd, &item(1, "&lol9;", "&lol9;"));
        expect_error(parse_feed(doc.as_bytes(), None, None), &["entit", "lol"]);
    });
}

#[test]
fn one_large_entity_referenced_often_is_refused() {
    measured("one_large_entity_referenced_often_is_refused", || {
        let dtd = format!("<!DOCTYPE rss [<!ENTITY big \"{}\">]>", "A".repeat(1000));
        let doc = rss(&dtd, &item(1, "big", &"&big;".repeat(100_000)));
        expect_error(parse_feed(doc.as_bytes(), None, None), &["entit", "big"]);
    });
}

#[test]
fn small_internal_entities_still_expand() {
    let dtd = "<!DOCTYPE rss [<!ENTITY org \"ODKB &amp; CSTO\"><!ENTITY who \"Lavrov, &org;\">]>";
    let doc = rss(dtd, &item(1, "&who; meet", "about &org;"));
    let feed = expect_feed(parse_feed(doc.as_bytes(), None, None));
    assert_eq!(feed.items[0].title, "Lavrov, ODKB & CSTO meet");
    assert_eq!(feed.items[0].summary, "about ODKB & CSTO");
}

/// Documents that name `target` as an external entity, external DTD and parameter entity.
fn external_references(target: &str) -> Vec<String> {
    vec![
        rss(
            &format!("<!DOCTYPE rss [<!ENTITY xxe SYSTEM \"{target}\">]>"),
            &item(1, "&xxe;", "<![CDATA[x]]>&xxe;"),
        ),
        rss(
            &format!("<!DOCTYPE rss SYSTEM \"{target}\">"),
            &item(1, "&canary;", "&canary;"),
        ),
        rss(
            &format!("<!DOCTYPE rss PUBLIC \"-//X//DTD X//EN\" \"{target}\">"),
            &item(1, "&canary;", "x"),
        ),
        rss(
            &format!("<!DOCTYPE rss [<!ENTITY % ext SYSTEM \"{target}\"> %ext;]>"),
            &item(1, "&canary;", "&ext;"),
        ),
        format!(
            "<?xml version=\"1.0\"?><!DOCTYPE feed [<!ENTITY xxe SYSTEM \"{target}\">]>\
             <feed xmlns=\"http://www.w3.org/2005/Atom\"><title>&xxe;</title>\
             <entry><id>urn:1</id><title>&xxe;</title><content type=\"html\">&xxe;</content>\
             <link href=\"&xxe;\"/></entry></feed>"
        ),
    ]
}

#[test]
fn external_entities_never_read_local_files() {
    measured("external_entities_never_read_local_files", || {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let canary = "CANARY-7f3a9-local-file";
        let text_file = dir.path().join("canary.txt");
        std::fs::write(&text_file, canary).unwrap_or_else(|e| panic!("{e}"));
        let dtd_file = dir.path().join("canary.dtd");
        std::fs::write(&dtd_file, format!("<!ENTITY canary \"{canary}\">"))
            .unwrap_or_else(|e| panic!("{e}"));
        for target in [
            format!("file://{}", text_file.display()),
            format!("file://{}", dtd_file.display()),
            text_file.display().to_string(),
            dtd_file.display().to_string(),
        ] {
            for doc in external_references(&target) {
                let result = parse_feed(doc.as_bytes(), None, None);
                let shown = format!("{result:?}");
                assert!(!shown.contains(canary), "{target}: {shown}");
                if let Ok(feed) = result {
                    assert_eq!(feed.items.len(), 1, "{doc}");
                }
            }
        }
    });
}

#[test]
fn external_entities_never_fetch_urls() {
    measured("external_entities_never_fetch_urls", || {
        let listener =
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind canary: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("{e}"));
        for doc in external_references(&format!("http://127.0.0.1:{port}/canary")) {
            let result = parse_feed(doc.as_bytes(), None, None);
            if let Ok(feed) = result {
                assert_eq!(feed.items.len(), 1, "{doc}");
            }
        }
        std::thread::sleep(Duration::from_millis(300));
        match listener.accept() {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("canary listener: {e}"),
            Ok((_, from)) => panic!("the canary URL received a connection from {from}"),
        }
    });
}

#[test]
fn many_namespace_declarations_on_one_tag() {
    measured("many_namespace_declarations_on_one_tag", || {
        let decls: String = (0..100_000)
            .map(|n| format!(" xmlns:n{n}=\"urn:ns:{n}\""))
            .collect();
        let doc = format!(
            "<rss version=\"2.0\"{decls}><channel><title>t</title>{}</channel></rss>",
            item(1, "one", "x")
        );
        expect_error(
            parse_feed(doc.as_bytes(), None, None),
            &["100000 namespaces"],
        );
        // A feed with a normal number of them is fine.
        let decls: String = (0..50)
            .map(|n| format!(" xmlns:n{n}=\"urn:ns:{n}\""))
            .collect();
        let doc = format!(
            "<rss version=\"2.0\"{decls}><channel><title>t</title>{}</channel></rss>",
            item(1, "one", "x")
        );
        assert_eq!(
            expect_feed(parse_feed(doc.as_bytes(), None, None)).items[0].title,
            "one"
        );
    });
}

#[test]
fn a_million_nested_elements() {
    measured("a_million_nested_elements", || {
        let depth = 1_000_000;
        let nested = format!("{}x{}", "<x>".repeat(depth), "</x>".repeat(depth));
        let doc = rss(
            "",
            &format!(
                "{}<item><title>in</title>{nested}</item>",
                item(1, "before", "x")
            ),
        );
        expect_error(
            parse_feed(doc.as_bytes(), None, None),
            &["nests elements", "deep"],
        );
        // Unclosed: never closes, same answer, no stack overflow.
        let doc = rss("", &"<x>".repeat(depth));
        expect_error(parse_feed(doc.as_bytes(), None, None), &["nests elements"]);
    });
}

#[test]
fn a_ten_megabyte_single_line_title() {
    measured("a_ten_megabyte_single_line_title", || {
        let title = "word ".repeat(2 * 1024 * 1024);
        let doc = rss(
            "",
            &format!("{}{}", item(1, &title, "x"), item(2, "next", "y")),
        );
        let feed = expect_feed(parse_feed(doc.as_bytes(), None, None));
        assert_eq!(feed.items.len(), 2);
        assert_eq!(feed.items[0].title, title.trim_end());
        assert_eq!(feed.items[1].title, "next");
    });
}

#[test]
fn twenty_thousand_items() {
    measured("twenty_thousand_items", || {
        let items: String = (0..20_000)
            .map(|n| item(n, &format!("Item {n}"), "<p>body</p>"))
            .collect();
        let doc = rss("", &items);
        let feed = expect_feed(parse_feed(doc.as_bytes(), None, None));
        assert_eq!(feed.items.len(), 20_000);
        let keys: HashSet<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys.len(), 20_000, "keys must be unique");
        assert_eq!(feed.items[19_999].title, "Item 19999");
        // Without guids or links the keys are still unique (and not random).
        let items: String = (0..20_000)
            .map(|n| {
                format!(
                    "<item><title>Same title</title><description>{}</description></item>",
                    n % 7
                )
            })
            .collect();
        let feed = expect_feed(parse_feed(rss("", &items).as_bytes(), None, None));
        let keys: HashSet<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys.len(), 20_000, "keys must be unique");
    });
}

#[test]
fn one_bad_item_of_ten_spoils_only_itself() {
    let titles: Vec<String> = (0..10).map(|n| format!("Лавров в Бишкеке {n}")).collect();
    let mut doc = Vec::new();
    doc.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>t</title>",
    );
    for (n, t) in titles.iter().enumerate() {
        if n == 4 {
            doc.extend_from_slice(
                item(n, &format!("{t} @BAD@ &#0;"), "bad @BAD@ &#0; end").as_bytes(),
            );
        } else {
            doc.extend_from_slice(item(n, t, "ОДКБ &amp; СНГ").as_bytes());
        }
    }
    doc.extend_from_slice(b"</channel></rss>");
    // A truncated two-byte sequence, a byte that is never UTF-8, a lone continuation byte.
    let doc = replace_bytes(&doc, b"@BAD@", b"\xC3\x28\xFF\x80");
    assert!(std::str::from_utf8(&doc).is_err());
    let feed = expect_feed(parse_feed(&doc, None, None));
    assert_eq!(feed.items.len(), 10);
    for (n, got) in feed.items.iter().enumerate() {
        if n == 4 {
            assert!(got.title.starts_with(&titles[n]), "{:?}", got.title);
            assert!(got.title.contains('\u{FFFD}'), "{:?}", got.title);
            assert!(got.summary.starts_with("bad"), "{:?}", got.summary);
            assert!(got.summary.ends_with("end"), "{:?}", got.summary);
            assert!(!got.summary.contains('\0'));
        } else {
            assert_eq!(got.title, titles[n]);
            assert_eq!(got.summary, "ОДКБ & СНГ");
            assert_eq!(got.key, format!("guid:urn:item:{n}"));
        }
    }
}

fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn a_lying_charset_declaration() {
    let title = "Лавров прибыл в Бишкек на переговоры";
    let utf8_doc = |declared: &str| {
        rss("", &item(1, title, "саммит ОДКБ"))
            .replacen("encoding=\"utf-8\"", &format!("encoding=\"{declared}\""), 1)
            .into_bytes()
    };
    // Declares utf-8, as `rss` writes it.
    let doc = rss("", &item(1, title, "саммит ОДКБ"));
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(&doc);
    let (koi8, _, _) = encoding_rs::KOI8_R.encode(&doc);
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        (
            "UTF-8 declared windows-1251",
            utf8_doc("windows-1251"),
            None,
        ),
        (
            "UTF-8 declared koi8-r, header windows-1251",
            utf8_doc("koi8-r"),
            Some("windows-1251"),
        ),
        ("windows-1251 declared utf-8", cp1251.to_vec(), None),
        (
            "windows-1251 declared utf-8, header utf-8",
            cp1251.to_vec(),
            Some("utf-8"),
        ),
        ("koi8-r declared utf-8", koi8.to_vec(), None),
    ];
    for (what, bytes, header) in cases {
        let feed = expect_feed(parse_feed(&bytes, header, None));
        assert_eq!(feed.items[0].title, title, "{what}");
        assert_eq!(feed.items[0].summary, "саммит ОДКБ", "{what}");
    }
}

/// Every input under fuzz/regressions/ goes through the checks of its fuzz target.
#[test]
fn fuzz_regressions_hold() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let files = |target: &str| -> Vec<(String, Vec<u8>)> {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let bytes = std::fs::read(e.path()).ok()?;
                Some((e.path().display().to_string(), bytes))
            })
            .collect()
    };
    const CHARSETS: [Option<&str>; 5] = [
        None,
        Some("utf-8"),
        Some("windows-1251"),
        Some("koi8-r"),
        Some("utf-16"),
    ];
    for (name, file) in files("parse") {
        // The target reads the first byte as its choice of HTTP charset; try them all.
        let body = file.get(1..).unwrap_or_default();
        for (bytes, charset) in [&file[..], body]
            .into_iter()
            .flat_map(|b| CHARSETS.map(|c| (b, c)))
        {
            if let Ok(feed) = parse_feed(bytes, charset, Some("https://example.org/feed/")) {
                let keys: HashSet<&str> = feed.items.iter().map(|i| i.key.as_str()).collect();
                assert_eq!(keys.len(), feed.items.len(), "{name}: unique keys");
            }
        }
    }
    for (name, bytes) in files("rule_parser") {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        if let Ok(q) = feedwatch::rules::Query::parse(text) {
            let printed = q.to_string();
            let again = feedwatch::rules::Query::parse(&printed);
            assert_eq!(
                again.as_ref().ok(),
                Some(&q),
                "{name}: {text:?} printed as {printed:?}"
            );
        }
    }
}
