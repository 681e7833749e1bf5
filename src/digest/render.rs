//! The plain-text and HTML bodies of a digest.

use std::fmt::Write as _;

use chrono_tz::Tz;
use html_escape::{encode_double_quoted_attribute, encode_text};

use super::{
    Highlighter, Marked, SNIPPET_CHARS, feed_names, format_time, group_by_rule, item_snippet,
    one_line, safe_link, subject,
};
use crate::model::{Digest, DigestItem};

/// Plain text, items grouped by rule; matched words in the snippet are `*starred*`.
/// Feed text is reduced to single clean lines, so a title cannot forge structure.
pub fn render_text(digest: &Digest, tz: Tz) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", subject(digest));
    let _ = writeln!(
        out,
        "Digest {} for {}, {}",
        one_line(&digest.id),
        one_line(&digest.destination),
        format_time(digest.created_at, tz)
    );
    for group in group_by_rule(digest) {
        let heading = format!("{} ({})", one_line(group.rule), group.items.len());
        let _ = write!(
            out,
            "\n{heading}\n{}\n",
            "=".repeat(heading.chars().count())
        );
        for item in group.items {
            out.push('\n');
            text_item(&mut out, item, tz);
        }
    }
    out
}

fn text_item(out: &mut String, item: &DigestItem, tz: Tz) {
    let title = one_line(&item.title);
    let _ = writeln!(
        out,
        "* {}",
        if title.is_empty() {
            "(untitled)"
        } else {
            &title
        }
    );
    let mut meta = feed_names(item);
    if let Some(t) = item.published {
        meta.push_str(" · ");
        meta.push_str(&format_time(t, tz));
    }
    let _ = writeln!(out, "  {meta}");
    if let Some(link) = safe_link(item) {
        let _ = writeln!(out, "  {link}");
    }
    let snip = item_snippet(item, SNIPPET_CHARS);
    if !snip.text.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            snip.render(str::to_string, |m| format!("*{m}*"))
        );
    }
}

fn esc(s: &str) -> String {
    encode_text(s).into_owned()
}

fn bold(s: &str) -> String {
    format!("<b>{}</b>", encode_text(s))
}

/// A complete HTML document, items grouped by rule, titles linking to the articles,
/// matched words in `<b>`. All feed text is escaped; only http(s) links become hrefs.
pub fn render_html(digest: &Digest, tz: Tz) -> String {
    let mut out = String::new();
    let subj = subject(digest);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.4; max-width: 50em\">\n",
        esc(&subj)
    );
    let _ = writeln!(out, "<p style=\"color: #555\">{}</p>", esc(&subj));
    for group in group_by_rule(digest) {
        let _ = writeln!(
            out,
            "<h2 style=\"font-size: 1.1em\">{} ({})</h2>\n<ul>",
            esc(&one_line(group.rule)),
            group.items.len()
        );
        for item in group.items {
            html_item(&mut out, item, tz);
        }
        out.push_str("</ul>\n");
    }
    let _ = writeln!(
        out,
        "<p style=\"color: #888; font-size: 0.85em\">feedwatch digest {} for {}, {}</p>\n</body></html>",
        esc(&one_line(&digest.id)),
        esc(&one_line(&digest.destination)),
        esc(&format_time(digest.created_at, tz))
    );
    out
}

fn html_item(out: &mut String, item: &DigestItem, tz: Tz) {
    let hl = Highlighter::new(&item.matched);
    let mut title = one_line(&item.title);
    if title.is_empty() {
        title = "(untitled)".into();
    }
    let title = Marked::new(title, &hl).render(esc, bold);
    out.push_str("<li style=\"margin-bottom: 0.8em\">");
    match safe_link(item) {
        Some(link) => {
            let _ = write!(
                out,
                "<a href=\"{}\">{title}</a>",
                encode_double_quoted_attribute(&link)
            );
        }
        None => out.push_str(&title),
    }
    let mut meta = esc(&feed_names(item));
    if let Some(t) = item.published {
        meta.push_str(" · ");
        meta.push_str(&esc(&format_time(t, tz)));
    }
    let _ = write!(out, "<br><small style=\"color: #555\">{meta}</small>");
    let snip = item_snippet(item, SNIPPET_CHARS);
    if !snip.text.is_empty() {
        let _ = write!(out, "<br>{}", snip.render(esc, bold));
    }
    out.push_str("</li>\n");
}
