//! Looks at a decoded document before and after feed-rs: what its root element is,
//! whether it is an HTML page (or a bot-protection wall) rather than a feed, whether it was
//! cut off, and the RSS elements feed-rs does not keep (`skipHours`, `skipDays`).

/// The root element of an XML document: its name and its whole start tag.
pub struct Root<'a> {
    pub name: &'a str,
    /// Byte range of the start tag in the text.
    pub tag: std::ops::Range<usize>,
}

/// Finds the first element start tag, skipping the declaration, comments, PIs and DOCTYPE.
pub fn root(text: &str) -> Option<Root<'_>> {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(off) = text[i..].find('<') {
        let at = i + off;
        let rest = &text[at..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            i = at + 4 + comment.find("-->")? + 3;
        } else if rest.starts_with("<?") || rest.starts_with("<!") {
            i = at + rest.find('>')? + 1;
        } else {
            let name_start = at + 1;
            let mut j = name_start;
            while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'>' | b'/') {
                j += 1;
            }
            let end = text[j..].find('>').map_or(text.len(), |e| j + e + 1);
            return Some(Root {
                name: &text[name_start..j],
                tag: at..end,
            });
        }
    }
    None
}

/// The local name of a qualified name (`rdf:RDF` → `RDF`).
pub fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Why a document that is not a feed looks like an HTML page, if it does.
pub fn html_page_hint(text: &str) -> Option<String> {
    let is_html = text
        .as_bytes()
        .get(..14)
        .is_some_and(|h| h.eq_ignore_ascii_case(b"<!doctype html"))
        || root(text).is_some_and(|r| r.name.eq_ignore_ascii_case("html"));
    if !is_html {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    let walls = [
        "just a moment",
        "cf-browser-verification",
        "challenge-platform",
        "cf-chl-",
        "captcha",
        "attention required",
        "access denied",
        "ddos-guard",
    ];
    if walls.iter().any(|w| lower.contains(w)) {
        return Some(
            "the URL returned a bot-protection page (a Cloudflare \"Just a moment\" check or a \
             captcha), not a feed; the site may accept a browser-like `user_agent` set for this \
             feed, or publish its feed at another address"
                .to_string(),
        );
    }
    Some(
        "the URL returned an HTML page, not a feed; if it is the site's home page, try \
         `feedwatch discover URL`"
            .to_string(),
    )
}

/// True when the root element `name` is closed somewhere after `from`: a cut-off download
/// loses the closing tag of the root first.
pub fn root_closed(text: &str, name: &str, from: usize) -> bool {
    let close = format!("</{name}");
    let Some(at) = text.rfind(&close) else {
        return false;
    };
    at >= from && text[at + close.len()..].trim_start().starts_with('>')
}

/// `skipHours` and `skipDays` ([`skip_hours`], [`skip_days`]) in one scan of the whole
/// document: almost no feed has either, and then one fast substring check is all it costs.
pub fn skip_schedule(text: &str) -> (Vec<u32>, Vec<u32>) {
    // `contains` is vectorised where `find` is not; check before locating.
    if !text.contains("<skip") {
        return (Vec::new(), Vec::new());
    }
    let from = text.find("<skip").map_or(text, |at| &text[at..]);
    (skip_hours(from), skip_days(from))
}

/// Hours (0-23) from `<skipHours><hour>..</hour></skipHours>`.
pub fn skip_hours(text: &str) -> Vec<u32> {
    let mut hours: Vec<u32> = children_text(text, "skipHours", "hour")
        .into_iter()
        .filter_map(|h| h.trim().parse::<u32>().ok())
        // RSS says 0-23; some feeds write 24 for midnight.
        .map(|h| if h == 24 { 0 } else { h })
        .filter(|h| *h < 24)
        .collect();
    hours.sort_unstable();
    hours.dedup();
    hours
}

/// Days (0 = Monday .. 6 = Sunday) from `<skipDays><day>Monday</day></skipDays>`.
pub fn skip_days(text: &str) -> Vec<u32> {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let mut days: Vec<u32> = children_text(text, "skipDays", "day")
        .into_iter()
        .filter_map(|d| {
            let d = d.trim().to_ascii_lowercase();
            DAYS.iter()
                .position(|name| *name == d || (d.len() >= 3 && name.starts_with(&d)))
        })
        .map(|d| d as u32)
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// The text of each `<child>` inside the first `<parent>` element (no nesting, no
/// attributes expected: these RSS elements are that simple).
fn children_text<'a>(text: &'a str, parent: &str, child: &str) -> Vec<&'a str> {
    let open = format!("<{parent}>");
    let close = format!("</{parent}>");
    let body = text
        .find(&open)
        .and_then(|s| {
            let start = s + open.len();
            text[start..].find(&close).map(|e| &text[start..start + e])
        })
        .unwrap_or("");
    let open_child = format!("<{child}>");
    let close_child = format!("</{child}>");
    body.split(open_child.as_str())
        .skip(1)
        .filter_map(|part| part.find(close_child.as_str()).map(|e| &part[..e]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_detection() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "<?xml version=\"1.0\"?><!-- c --><rss version=\"2.0\">",
                Some("rss"),
            ),
            ("<!DOCTYPE html><html lang=en>", Some("html")),
            ("<rdf:RDF xmlns:rdf='x'>", Some("rdf:RDF")),
            ("<feed/>", Some("feed")),
            ("no markup", None),
        ];
        for (text, want) in cases {
            assert_eq!(root(text).map(|r| r.name), *want, "text: {text:?}");
        }
    }

    #[test]
    fn html_hints() {
        assert!(
            html_page_hint("<!DOCTYPE html><html><body>Shop</body></html>")
                .is_some_and(|h| h.contains("feedwatch discover"))
        );
        assert!(
            html_page_hint("<html><title>Just a moment...</title></html>")
                .is_some_and(|h| h.contains("user_agent"))
        );
        assert!(html_page_hint("<rss version=\"2.0\"><channel/></rss>").is_none());
    }

    #[test]
    fn truncation() {
        assert!(root_closed(
            "<rss><channel></channel></rss>\n<!-- 0.1s -->",
            "rss",
            0
        ));
        assert!(root_closed("<rss></rss >", "rss", 0));
        assert!(!root_closed("<rss><channel><item><title>Cut", "rss", 0));
    }

    #[test]
    fn skip_elements() {
        let t = "<rss><channel><skipHours><hour>0</hour><hour>23</hour><hour>24</hour><hour>x</hour></skipHours>\
                 <skipDays><day>Saturday</day><day>sunday</day><day>Funday</day></skipDays></channel></rss>";
        assert_eq!(skip_hours(t), vec![0, 23]);
        assert_eq!(skip_days(t), vec![5, 6]);
        assert!(skip_hours("<rss/>").is_empty());
    }
}
