//! Parse throughput: feedwatch's decode + parse + normalise (HTML to text, identity)
//! against bare feed-rs on the same documents.
//!
//! `cargo bench -p feedwatch-benches --bench parse`
//!
//! Documents: 40 generated news feeds (RSS 2.0 and Atom 1.0, 50 items each, English and
//! Russian, HTML descriptions with entities), and, when `../shared/corpus/real` (or
//! `$FEEDWATCH_CORPUS/real`) is present, every well-formed real-world feed in it.

use std::path::PathBuf;

use divan::counter::BytesCount;
use feedwatch_benches::{NewsItem, items};

fn main() {
    let docs = documents();
    let bytes: usize = docs.iter().map(|(_, d)| d.len()).sum();
    eprintln!("{} documents, {:.1} MB", docs.len(), bytes as f64 / 1e6);
    divan::main();
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rss(items: &[NewsItem], n: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"><channel><title>Feed {n}</title><link>https://news.example/</link><description>d</description><ttl>15</ttl>\n"
    );
    for (i, it) in items.iter().enumerate() {
        let html = format!(
            "<p>{}</p><p>&nbsp;&mdash; <b>{}</b></p>",
            escape(&it.summary),
            escape(&it.title)
        );
        s.push_str(&format!(
            "<item><title>{}</title><link>{}</link><guid>feed{n}-{i}</guid><pubDate>Tue, 01 Dec 2026 10:{:02}:00 GMT</pubDate><category>{}</category><description>{}</description></item>\n",
            escape(&it.title),
            it.link,
            i % 60,
            escape(&it.categories[0]),
            escape(&html)
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn atom(items: &[NewsItem], n: usize) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Feed {n}</title><id>urn:feed:{n}</id><updated>2026-12-01T10:00:00Z</updated>\n"
    );
    for (i, it) in items.iter().enumerate() {
        s.push_str(&format!(
            "<entry><title>{}</title><link href=\"{}\"/><id>urn:feed:{n}:{i}</id><updated>2026-12-01T10:{:02}:00Z</updated><summary type=\"html\">{}</summary></entry>\n",
            escape(&it.title),
            it.link,
            i % 60,
            escape(&format!("<p>{}</p>", escape(&it.summary)))
        ));
    }
    s.push_str("</feed>\n");
    s
}

fn documents() -> Vec<(String, Vec<u8>)> {
    let all = items(2000, 7);
    let mut docs: Vec<(String, Vec<u8>)> = all
        .chunks(50)
        .enumerate()
        .map(|(n, chunk)| {
            let text = if n % 2 == 0 {
                rss(chunk, n)
            } else {
                atom(chunk, n)
            };
            (format!("generated-{n}"), text.into_bytes())
        })
        .collect();
    let corpus = std::env::var_os("FEEDWATCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"))
        .join("real");
    if let Ok(manifest) = std::fs::read_to_string(corpus.join("MANIFEST.tsv")) {
        for line in manifest.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (Some(path), Some(wf)) = (cols.first(), cols.get(7)) else {
                continue;
            };
            if !wf.starts_with("ok") {
                continue;
            }
            let p = corpus.join(path);
            if let Ok(bytes) = std::fs::read(&p) {
                // Only what bare feed-rs accepts, so both sides do the same work.
                if feed_rs::parser::parse(bytes.as_slice()).is_ok() {
                    docs.push((path.to_string(), bytes));
                }
            }
        }
    }
    docs
}

static DOCS: std::sync::LazyLock<Vec<(String, Vec<u8>)>> = std::sync::LazyLock::new(documents);

fn total_bytes() -> usize {
    DOCS.iter().map(|(_, d)| d.len()).sum()
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn bare_feed_rs(b: divan::Bencher) {
    b.counter(BytesCount::new(total_bytes())).bench(|| {
        let mut entries = 0;
        for (_, d) in DOCS.iter() {
            if let Ok(f) = feed_rs::parser::parse(d.as_slice()) {
                entries += f.entries.len();
            }
        }
        entries
    });
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn feedwatch_decode_parse_normalise(b: divan::Bencher) {
    b.counter(BytesCount::new(total_bytes())).bench(|| {
        let mut items = 0;
        for (_, d) in DOCS.iter() {
            if let Ok(f) = feedwatch::parse::parse_feed(d, None, None) {
                items += f.items.len();
            }
        }
        items
    });
}
