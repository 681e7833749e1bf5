use super::*;
use crate::rules::tests::reference_match;

fn scratch(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("loadbench-{tag}-{}", std::process::id()))
}

static TAGS: std::sync::LazyLock<regex::Regex> =
    std::sync::LazyLock::new(|| regex::Regex::new(r"<[^>]*>").unwrap_or_else(|e| panic!("{e}")));

fn words(text: &str) -> Vec<String> {
    TAGS.replace_all(text, " ")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn parse(path: &Path) -> feed_rs::model::Feed {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    feed_rs::parser::parse(bytes.as_slice()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn five_percent_grow_spread_out() {
    for n in [1, 19, 20, 21, 1000, 10_000] {
        let picked: Vec<usize> = (0..n).filter(|i| grows(*i, n, 5)).collect();
        assert_eq!(picked.len(), (n * 5).div_ceil(100), "n={n}");
    }
    let picked: Vec<usize> = (0..1000).filter(|i| grows(*i, 1000, 5)).collect();
    assert_eq!(&picked[..3], &[0, 20, 40]);
}

#[test]
fn generation_is_deterministic_and_versions_swap() -> Result<(), BenchError> {
    let tmp = scratch("corpus");
    let rules = crate::rules::generate(11, 40);
    let (a, served_a) = Corpus::generate(11, 30, rules.clone(), 4, 10, &tmp.join("a"))?;
    let (b, served_b) = Corpus::generate(11, 30, rules, 4, 10, &tmp.join("b"))?;
    assert_eq!(
        a.total_matches(Version::Grown),
        b.total_matches(Version::Grown)
    );
    for (x, y) in served_a.iter().zip(&served_b) {
        assert_eq!(x.etag, y.etag);
        assert!(x.gzip_bytes > 0 && x.gzip_bytes < x.bytes);
    }
    assert_eq!(a.grown_count(), 3);
    assert!(a.total_items(Version::Grown) > a.total_items(Version::Base));
    // Growing changes the file, its ETag and Last-Modified; going back restores them.
    let grown = a.set_version(Version::Grown)?;
    let (i, g) = &grown[0];
    assert_ne!(g.etag, served_a[*i].etag);
    assert!(g.last_modified > served_a[*i].last_modified);
    let m = &a.feeds[*i];
    assert_eq!(parse(&g.plain).entries.len(), m.base_items + m.grown_items);
    let back = a.set_version(Version::Base)?;
    assert_eq!(back[0].1.etag, served_a[*i].etag);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// The expected counts, checked on the XML as a feed parser reads it back, against a
/// separate statement of each rule's meaning: every planted positive matches exactly one
/// rule, and no near miss or background text matches any.
#[test]
fn expected_matches_hold_on_the_parsed_feeds() -> Result<(), BenchError> {
    let tmp = scratch("reference");
    let rules = crate::rules::generate(3, 130);
    let (corpus, _) = Corpus::generate(3, 60, rules, 3, 20, &tmp)?;
    let (mut rss, mut atom, mut ru, mut matched) = (0, 0, 0, 0);
    for version in [Version::Base, Version::Grown] {
        let files = corpus.set_version(version)?;
        for m in &corpus.feeds {
            let path = files.iter().find(|(i, _)| *i == m.index).map_or_else(
                || tmp.join(format!("{}.xml", m.name)),
                |(_, s)| s.plain.clone(),
            );
            let feed = parse(&path);
            let want_items = m.base_items
                + if version == Version::Grown {
                    m.grown_items
                } else {
                    0
                };
            assert_eq!(feed.entries.len(), want_items, "{}", m.name);
            let mut hits = 0;
            for e in &feed.entries {
                let title = words(
                    &e.title
                        .as_ref()
                        .map(|t| t.content.clone())
                        .unwrap_or_default(),
                );
                let body = words(
                    &e.summary
                        .as_ref()
                        .map(|t| t.content.clone())
                        .unwrap_or_default(),
                );
                let n = corpus
                    .rules
                    .iter()
                    .filter(|r| reference_match(r, &title, &body, m.lang))
                    .count();
                assert!(n <= 1, "{} {}: matches {n} rules", m.name, e.id);
                hits += n;
                let guid_ok =
                    e.id.starts_with(&format!("urn:feedwatch-bench:{}:", m.name));
                assert!(guid_ok, "{}", e.id);
            }
            let want = m.base_matches
                + if version == Version::Grown {
                    m.grown_matches
                } else {
                    0
                };
            assert_eq!(hits, want, "{} at {version:?}", m.name);
            if version == Version::Base {
                matched += hits;
                match m.format {
                    Format::Rss => rss += 1,
                    Format::Atom => atom += 1,
                }
                ru += usize::from(m.lang == Lang::Ru);
            }
        }
    }
    // Both formats, both languages, and a few percent of items matching.
    assert!(rss > 10 && atom > 10 && ru > 5, "{rss} {atom} {ru}");
    let items = corpus.total_items(Version::Base);
    assert!(
        matched * 100 > items * 3 && matched * 100 < items * 12,
        "{matched} of {items}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
