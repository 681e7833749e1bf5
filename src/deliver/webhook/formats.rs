//! Bodies for the chat formats (Slack, Discord, ntfy, Telegram) and the template
//! format. Each fits its service's size limits by leaving items out and saying
//! "… and N more", never by sending something the service rejects.

use chrono_tz::Tz;
use serde_json::{Value, json};

use crate::digest::{
    SNIPPET_CHARS, feed_names, format_time, item_snippet, one_line, safe_link, subject,
    truncate_chars,
};
use crate::model::{Digest, DigestItem};

/// Titles longer than this are cut in chat messages.
const TITLE_CHARS: usize = 300;
/// Links longer than this are not linked in chat messages (they would eat the budget).
const LINK_CHARS: usize = 1000;

fn more(n: usize) -> String {
    format!("… and {n} more")
}

fn title_of(item: &DigestItem) -> String {
    let t = truncate_chars(&one_line(&item.title), TITLE_CHARS);
    if t.is_empty() { "(untitled)".into() } else { t }
}

fn chat_link(item: &DigestItem) -> Option<String> {
    safe_link(item).filter(|l| l.len() <= LINK_CHARS)
}

/// `tass, ria · 2026-12-01 14:05 MSK · csto, lavrov`
fn meta_line(item: &DigestItem, tz: Tz) -> String {
    let mut parts = vec![feed_names(item)];
    if let Some(t) = item.published {
        parts.push(format_time(t, tz));
    }
    if !item.rules.is_empty() {
        parts.push(one_line(&item.rules.join(", ")));
    }
    parts.join(" · ")
}

/// Takes rendered pieces in order while `fits(kept, next)` holds; returns how many fit.
fn take_while_fits(pieces: &[String], budget: usize, size: impl Fn(&str) -> usize) -> usize {
    let mut used = 0;
    for (i, p) in pieces.iter().enumerate() {
        used += size(p);
        if used > budget {
            return i;
        }
    }
    pieces.len()
}

// ---- Slack ---------------------------------------------------------------------------

const SLACK_MAX_BLOCKS: usize = 50;
const SLACK_SECTION_CHARS: usize = 3000;
const SLACK_HEADER_CHARS: usize = 150;

/// Slack mrkdwn needs only `&`, `<` and `>` escaped.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn slack_section(item: &DigestItem, tz: Tz) -> String {
    let title = slack_escape(&title_of(item)).replace('|', "¦");
    let head = match chat_link(item) {
        Some(l) => format!("*<{}|{title}>*", l.replace('|', "%7C")),
        None => format!("*{title}*"),
    };
    let snip = item_snippet(item, SNIPPET_CHARS)
        .render(slack_escape, |m| format!("*{}*", slack_escape(m)));
    let mut text = format!("{head}\n_{}_", slack_escape(&meta_line(item, tz)));
    if !snip.is_empty() {
        text.push_str("\n>");
        text.push_str(&snip);
    }
    // Parts are bounded well below the limit; this only guards pathological metadata.
    truncate_chars(&text, SLACK_SECTION_CHARS)
}

/// `{"text": subject, "blocks": [header, one section per item, "… and N more"]}`.
pub fn slack(digest: &Digest, tz: Tz) -> Value {
    let subj = subject(digest);
    let mut blocks = vec![json!({
        "type": "header",
        "text": {"type": "plain_text", "text": truncate_chars(&subj, SLACK_HEADER_CHARS), "emoji": false}
    })];
    let n = digest.items.len();
    let room = SLACK_MAX_BLOCKS - 1;
    let shown = if n <= room { n } else { room - 1 };
    for item in &digest.items[..shown] {
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": slack_section(item, tz)}}),
        );
    }
    if shown < n {
        blocks.push(
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": more(n - shown)}]}),
        );
    }
    json!({"text": subj, "blocks": blocks})
}

// ---- Discord -------------------------------------------------------------------------

const DISCORD_MAX_EMBEDS: usize = 10;
const DISCORD_TITLE_CHARS: usize = 256;
const DISCORD_DESCRIPTION_CHARS: usize = 4096;
const DISCORD_FOOTER_CHARS: usize = 2048;
const DISCORD_EMBEDS_TOTAL: usize = 6000;
const DISCORD_CONTENT_CHARS: usize = 2000;

/// Backslash-escapes Discord/CommonMark markup so feed text shows literally.
fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\*_~`|>[]()#<".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn discord_embed(item: &DigestItem, tz: Tz) -> (Value, usize) {
    let title = truncate_chars(&title_of(item), DISCORD_TITLE_CHARS);
    let description = truncate_chars(
        &item_snippet(item, SNIPPET_CHARS).render(md_escape, |m| format!("**{}**", md_escape(m))),
        DISCORD_DESCRIPTION_CHARS,
    );
    let footer = truncate_chars(&meta_line(item, tz), DISCORD_FOOTER_CHARS);
    let size = title.chars().count() + description.chars().count() + footer.chars().count();
    let mut embed = json!({"title": title, "description": description, "footer": {"text": footer}});
    if let Some(l) = chat_link(item) {
        embed["url"] = Value::String(l);
    }
    if let Some(t) = item.published {
        embed["timestamp"] = Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    (embed, size)
}

/// `{"content": subject, "embeds": [one per item, ≤ 10, ≤ 6000 chars in all]}`, with
/// mentions disabled so a title containing `@everyone` pings nobody.
pub fn discord(digest: &Digest, tz: Tz) -> Value {
    let mut embeds = Vec::new();
    let mut total = 0;
    for item in digest.items.iter().take(DISCORD_MAX_EMBEDS) {
        let (embed, size) = discord_embed(item, tz);
        if total + size > DISCORD_EMBEDS_TOTAL {
            break;
        }
        total += size;
        embeds.push(embed);
    }
    let mut content = md_escape(&subject(digest));
    let left = digest.items.len() - embeds.len();
    if left > 0 {
        content.push('\n');
        content.push_str(&more(left));
    }
    json!({
        "content": truncate_chars(&content, DISCORD_CONTENT_CHARS),
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    })
}

// ---- ntfy ----------------------------------------------------------------------------

const NTFY_BODY_BYTES: usize = 4096;

/// The ntfy message: Markdown, one block per item, at most 4096 bytes (ntfy turns
/// longer bodies into attachments).
pub struct Ntfy {
    pub title: String,
    pub click: Option<String>,
    pub body: String,
}

fn ntfy_item(item: &DigestItem, tz: Tz) -> String {
    let title = md_escape(&title_of(item));
    let head = match chat_link(item) {
        Some(l) => format!(
            "**[{title}]({})**",
            l.replace('(', "%28").replace(')', "%29")
        ),
        None => format!("**{title}**"),
    };
    let snip = item_snippet(item, 200).render(md_escape, |m| format!("**{}**", md_escape(m)));
    format!(
        "{head}  \n{}  \n{snip}\n\n",
        md_escape(&meta_line(item, tz))
    )
}

pub fn ntfy(digest: &Digest, tz: Tz) -> Ntfy {
    let pieces: Vec<String> = digest.items.iter().map(|i| ntfy_item(i, tz)).collect();
    // Room for the "… and N more" line.
    let budget = NTFY_BODY_BYTES - 32;
    let shown = take_while_fits(&pieces, budget, str::len);
    let mut body: String = pieces[..shown].concat();
    if shown < pieces.len() {
        body.push_str(&more(pieces.len() - shown));
    }
    if shown == 0 && !pieces.is_empty() {
        // One item alone is too big: send its cut-down first line rather than nothing.
        body = truncate_bytes(&pieces[0], budget) + "\n\n" + &more(pieces.len() - 1);
    }
    Ntfy {
        title: subject(digest),
        click: digest.items.iter().find_map(chat_link),
        body: body.trim_end().to_string(),
    }
}

fn truncate_bytes(s: &str, max: usize) -> String {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

// ---- Telegram ------------------------------------------------------------------------

const TELEGRAM_TEXT_CHARS: usize = 4096;

fn tg_escape(s: &str) -> String {
    html_escape::encode_text(s).into_owned()
}

fn telegram_item(item: &DigestItem, tz: Tz) -> String {
    let title = tg_escape(&title_of(item));
    let head = match chat_link(item) {
        Some(l) => format!(
            "<a href=\"{}\">{title}</a>",
            html_escape::encode_double_quoted_attribute(&l)
        ),
        None => format!("<b>{title}</b>"),
    };
    let snip =
        item_snippet(item, SNIPPET_CHARS).render(tg_escape, |m| format!("<b>{}</b>", tg_escape(m)));
    format!(
        "{head}\n<i>{}</i>\n{snip}\n\n",
        tg_escape(&meta_line(item, tz))
    )
}

/// The `text` of a Telegram `sendMessage` in HTML parse mode, at most 4096 characters,
/// cut only between items so no tag or entity is ever split.
pub fn telegram_text(digest: &Digest, tz: Tz) -> String {
    let header = format!("<b>{}</b>\n\n", tg_escape(&subject(digest)));
    let pieces: Vec<String> = digest.items.iter().map(|i| telegram_item(i, tz)).collect();
    let budget = TELEGRAM_TEXT_CHARS.saturating_sub(header.chars().count() + 32);
    let shown = take_while_fits(&pieces, budget, |p| p.chars().count());
    let mut text = header + &pieces[..shown].concat();
    if shown < pieces.len() {
        text.push_str(&more(pieces.len() - shown));
    }
    text.trim_end().to_string()
}

pub fn telegram(digest: &Digest, tz: Tz, chat_id: &str) -> Value {
    json!({
        "chat_id": chat_id,
        "text": telegram_text(digest, tz),
        "parse_mode": "HTML",
        "disable_web_page_preview": true,
    })
}

// ---- template ------------------------------------------------------------------------

/// Renders a user template with `digest` (the webhook JSON schema's fields), `subject`
/// and `text` (the plain-text rendering) in context. Values are auto-escaped for the
/// content type: JSON content types print every value as a JSON literal, HTML/XML ones
/// HTML-escape; others print raw. Undefined variables are errors, so typos surface in
/// `feedwatch test-destination` instead of as empty fields.
pub fn template(
    source: &str,
    content_type: &str,
    digest: &Digest,
    tz: Tz,
) -> Result<String, String> {
    use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value as J, context};
    let ct = content_type.to_ascii_lowercase();
    let escape = if ct.contains("json") {
        AutoEscape::Json
    } else if ct.contains("html") || ct.contains("xml") {
        AutoEscape::Html
    } else {
        AutoEscape::None
    };
    let mut env = Environment::new();
    env.set_auto_escape_callback(move |_| escape.clone());
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    let payload = super::Payload::new(digest);
    let ctx = context! {
        digest => J::from(minijinja::value::Serde(&payload)),
        subject => subject(digest),
        text => crate::digest::render_text(digest, tz),
    };
    env.render_str(source, ctx).map_err(|e| {
        let mut msg = e.to_string();
        if let Some(detail) = e.detail()
            && !msg.contains(detail)
        {
            msg.push_str(": ");
            msg.push_str(detail);
        }
        msg
    })
}

#[cfg(test)]
#[path = "formats_tests.rs"]
mod tests;
