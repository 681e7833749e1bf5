use chrono::{TimeZone, Utc};
use chrono_tz::Tz;

use super::*;

fn item(id: &str, title: &str, rules: &[&str], matched: &[&str], summary: &str) -> DigestItem {
    DigestItem {
        id: id.into(),
        feed: "tass".into(),
        feeds: vec!["tass".into(), "ria".into()],
        title: title.into(),
        link: Some(format!("https://example.org/{id}")),
        published: Some(Utc.with_ymd_and_hms(2026, 12, 1, 11, 5, 0).unwrap()),
        summary: summary.into(),
        rules: rules.iter().map(|s| s.to_string()).collect(),
        matched: matched.iter().map(|s| s.to_string()).collect(),
    }
}

fn digest(items: Vec<DigestItem>) -> Digest {
    Digest {
        id: "d-42".into(),
        destination: "ops-mail".into(),
        created_at: Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap(),
        items,
    }
}

fn three() -> Digest {
    digest(vec![
        item(
            "a",
            "CSTO summit opens",
            &["csto"],
            &["CSTO"],
            "Leaders of the CSTO met today.",
        ),
        item(
            "b",
            "Lavrov in Bishkek",
            &["lavrov-kyrgyzstan", "csto"],
            &["Lavrov", "CSTO"],
            "Lavrov spoke about CSTO.",
        ),
        item(
            "c",
            "Other CSTO news",
            &["csto"],
            &["csto"],
            "More on csto.",
        ),
    ])
}

const MSK: Tz = chrono_tz::Europe::Moscow;

#[test]
fn subject_counts_per_rule_by_count_then_name() {
    let d = digest(vec![
        item("a", "t", &["csto"], &[], ""),
        item("b", "t", &["lavrov-kyrgyzstan", "csto"], &[], ""),
        item("c", "t", &["zeta"], &[], ""),
    ]);
    // 3 items; csto has 2, the two 1-count rules are ordered by name.
    assert_eq!(
        subject(&d),
        "[feedwatch] 3 new: csto (2), lavrov-kyrgyzstan (1), zeta (1)"
    );
    let d = digest(vec![
        item("a", "t", &["csto"], &[], ""),
        item("b", "t", &["lavrov-kyrgyzstan"], &[], ""),
        item("c", "t", &["csto"], &[], ""),
    ]);
    assert_eq!(
        subject(&d),
        "[feedwatch] 3 new: csto (2), lavrov-kyrgyzstan (1)"
    );
}

#[test]
fn subject_edge_cases() {
    assert_eq!(subject(&digest(vec![])), "[feedwatch] 0 new");
    assert_eq!(
        subject(&digest(vec![item("a", "t", &[], &[], "")])),
        "[feedwatch] 1 new: (no rule) (1)"
    );
    // A duplicated rule name on one item counts once.
    assert_eq!(
        subject(&digest(vec![item("a", "t", &["x", "x"], &[], "")])),
        "[feedwatch] 1 new: x (1)"
    );
    // Control characters in a rule name never reach the header.
    assert_eq!(
        subject(&digest(vec![item("a", "t", &["bad\r\nBcc: x"], &[], "")])),
        "[feedwatch] 1 new: bad Bcc: x (1)"
    );
}

#[test]
fn subject_with_many_rules_is_bounded() {
    let names: Vec<String> = (0..60)
        .map(|i| format!("a-rather-long-rule-name-{i:02}"))
        .collect();
    let items = names.iter().map(|n| item(n, "t", &[n], &[], "")).collect();
    let s = subject(&digest(items));
    assert!(
        s.chars().count() <= SUBJECT_MAX_CHARS,
        "{} chars: {s}",
        s.chars().count()
    );
    assert!(
        s.starts_with("[feedwatch] 60 new: a-rather-long-rule-name-00 (1), "),
        "{s}"
    );
    assert!(s.ends_with(" more rules"), "{s}");
}

#[test]
fn grouping_puts_an_item_under_each_rule() {
    let d = three();
    let groups = group_by_rule(&d);
    let shape: Vec<(&str, Vec<&str>)> = groups
        .iter()
        .map(|g| (g.rule, g.items.iter().map(|i| i.id.as_str()).collect()))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("csto", vec!["a", "b", "c"]),
            ("lavrov-kyrgyzstan", vec!["b"])
        ]
    );
}

#[test]
fn time_in_destination_zone() {
    let t = Utc.with_ymd_and_hms(2026, 12, 1, 11, 5, 0).unwrap();
    assert_eq!(format_time(t, MSK), "2026-12-01 14:05 MSK");
    assert_eq!(format_time(t, chrono_tz::UTC), "2026-12-01 11:05 UTC");
    // Summer time is applied where the zone has it.
    let summer = Utc.with_ymd_and_hms(2026, 7, 1, 11, 5, 0).unwrap();
    assert_eq!(
        format_time(summer, chrono_tz::Europe::Berlin),
        "2026-07-01 13:05 CEST"
    );
}

#[test]
fn safe_link_cases() {
    let mut it = item("a", "t", &[], &[], "");
    let cases = [
        (
            Some("https://example.org/a b"),
            Some("https://example.org/a%20b"),
        ),
        (Some("http://example.org/"), Some("http://example.org/")),
        (Some("javascript:alert(1)"), None),
        (Some("data:text/html,hi"), None),
        (Some("/relative"), None),
        (
            Some("https://example.org/\"><script>"),
            Some("https://example.org/%22%3E%3Cscript%3E"),
        ),
        (None, None),
    ];
    for (link, want) in cases {
        it.link = link.map(String::from);
        assert_eq!(safe_link(&it).as_deref(), want, "{link:?}");
    }
}

#[test]
fn text_rendering() {
    let out = render_text(&three(), MSK);
    let expected_start = "[feedwatch] 3 new: csto (3), lavrov-kyrgyzstan (1)\n\
        Digest d-42 for ops-mail, 2026-12-01 15:00 MSK\n\ncsto (3)\n========\n\n\
        * CSTO summit opens\n  tass, ria · 2026-12-01 14:05 MSK\n  https://example.org/a\n\
        \x20 Leaders of the *CSTO* met today.\n";
    assert!(out.starts_with(expected_start), "{out}");
    assert!(
        out.contains("lavrov-kyrgyzstan (1)\n=====================\n\n* Lavrov in Bishkek\n"),
        "{out}"
    );
    assert!(out.contains("  *Lavrov* spoke about *CSTO*.\n"), "{out}");
    assert!(out.contains("  More on *csto*.\n"), "{out}");
}

#[test]
fn text_rendering_cleans_hostile_title() {
    let d = digest(vec![item(
        "a",
        "Evil\r\nBcc: x@y\u{1b}[2J",
        &["r"],
        &[],
        "",
    )]);
    let out = render_text(&d, MSK);
    assert!(out.contains("* Evil Bcc: x@y [2J\n"), "{out}");
    assert!(!out.contains('\u{1b}') && !out.contains('\r'));
}

#[test]
fn html_rendering_escapes_and_highlights() {
    let mut hostile = item(
        "x",
        "<script>alert(1)</script> CSTO & co",
        &["csto"],
        &["CSTO"],
        "a <i>CSTO</i> b",
    );
    hostile.link = Some("javascript:alert(1)".into());
    let d = digest(vec![
        item(
            "a",
            "CSTO summit opens",
            &["csto"],
            &["CSTO"],
            "Leaders of the CSTO met.",
        ),
        hostile,
    ]);
    let out = render_html(&d, MSK);
    assert!(
        out.contains("<a href=\"https://example.org/a\"><b>CSTO</b> summit opens</a>"),
        "{out}"
    );
    assert!(out.contains("Leaders of the <b>CSTO</b> met."), "{out}");
    assert!(
        out.contains("&lt;script&gt;alert(1)&lt;/script&gt; <b>CSTO</b> &amp; co"),
        "{out}"
    );
    assert!(out.contains("a &lt;i&gt;<b>CSTO</b>&lt;/i&gt; b"), "{out}");
    assert!(!out.contains("<script>"));
    assert!(
        !out.contains("javascript:"),
        "non-http links are not linked"
    );
    assert!(out.contains("tass, ria · 2026-12-01 14:05 MSK"), "{out}");
    assert!(out.starts_with("<!DOCTYPE html>") && out.trim_end().ends_with("</html>"));
}

#[test]
fn sample_digest_renders_everywhere() {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap();
    let d = sample_digest("team-hook", now);
    assert_eq!(d.id, "test-20261201T120000Z");
    assert_eq!(d.destination, "team-hook");
    assert_eq!(subject(&d), "[feedwatch] 2 new: test (2), escaping (1)");
    let html = render_html(&d, MSK);
    assert!(html.contains("&lt;b&gt;not bold&lt;/b&gt; &amp;"), "{html}");
    assert!(render_text(&d, MSK).contains("*test* digest"));
}
