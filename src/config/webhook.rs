//! `[destination.NAME]` with `type = "webhook"`.

use std::io::Read;

use toml::de::DeValue;
use url::Url;

use super::feeds::{read_headers, redact};
use super::read::{Diag, Tab, check_header};
use super::secret::read_secret;
use super::{Env, WebhookConfig, WebhookFormat};

pub(crate) const WEBHOOK_KEYS: &[&str] = &[
    "url",
    "format",
    "secret_file",
    "secret_env",
    "template",
    "template_file",
    "content_type",
    "chat_id",
    "headers",
];

const MAX_TEMPLATE: u64 = 1024 * 1024;

fn only_for(tab: &Tab<'_, '_>, diag: &mut Diag, key: &str, format: &str) {
    if let Some(span) = tab.key_span(key) {
        let msg = format!("is only used with format = \"{format}\"");
        tab.key_error(diag, key, &span, &msg);
    }
}

fn read_url(tab: &Tab<'_, '_>, diag: &mut Diag) -> Option<Url> {
    let s = tab.required_string(diag, "url")?;
    let problem = match Url::parse(s.value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => return Some(u),
        Ok(u) => format!("`{}` is not an http:// or https:// URL", redact(&u)),
        Err(e) => format!("invalid URL: {e}"),
    };
    tab.key_error(diag, "url", &s.span, &problem);
    None
}

/// The template text (inline or from `template_file`), checked to compile.
fn read_template(tab: &Tab<'_, '_>, diag: &mut Diag) -> Option<String> {
    let inline = tab.string(diag, "template");
    let file = tab.string(diag, "template_file");
    let (text, span, key) = match (inline, file) {
        (Some(_), Some(f)) => {
            tab.key_error(
                diag,
                "template_file",
                &f.span,
                "set only one of `template` and `template_file`",
            );
            return None;
        }
        (Some(t), None) => (t.value, t.span, "template"),
        (None, Some(f)) => {
            let path = tab.src.resolve(&f.value);
            let mut text = String::new();
            let read = std::fs::File::open(&path)
                .and_then(|file| file.take(MAX_TEMPLATE).read_to_string(&mut text));
            if let Err(e) = read {
                let msg = format!("cannot read `{}`: {e}", path.display());
                tab.key_error(diag, "template_file", &f.span, &msg);
                return None;
            }
            (text, f.span, "template_file")
        }
        (None, None) => {
            let msg = format!(
                "{} has format = \"template\" but no `template` or `template_file`",
                tab.what
            );
            tab.error(diag, &tab.span, msg);
            return None;
        }
    };
    let env = minijinja::Environment::new();
    if let Err(e) = env.template_from_str(&text) {
        let line = e
            .line()
            .map_or_else(String::new, |l| format!(" (template line {l})"));
        let detail = e.detail().unwrap_or("syntax error");
        let msg = format!("the template does not compile: {detail}{line}");
        tab.key_error(diag, key, &span, &msg);
        return None;
    }
    Some(text)
}

fn read_chat_id(tab: &Tab<'_, '_>, diag: &mut Diag) -> Option<String> {
    let Some(v) = tab.value("chat_id") else {
        let msg = format!("{} has format = \"telegram\" but no `chat_id`", tab.what);
        tab.error(diag, &tab.span, msg);
        return None;
    };
    match v.get_ref() {
        DeValue::Integer(i) => Some(i.as_str().to_string()),
        DeValue::String(s) if !s.trim().is_empty() => Some(s.to_string()),
        _ => {
            tab.key_error(
                diag,
                "chat_id",
                &v.span(),
                "expected a chat id such as -1001234567890 or \"@channel\"",
            );
            None
        }
    }
}

pub(crate) fn read_webhook(
    tab: &Tab<'_, '_>,
    env: &Env<'_>,
    diag: &mut Diag,
) -> Option<WebhookConfig> {
    let before = diag.errors.len();
    let url = read_url(tab, diag);
    let format = tab
        .choice(
            diag,
            "format",
            &[
                ("json", WebhookFormat::Json),
                ("slack", WebhookFormat::Slack),
                ("discord", WebhookFormat::Discord),
                ("ntfy", WebhookFormat::Ntfy),
                ("telegram", WebhookFormat::Telegram),
                ("template", WebhookFormat::Template),
            ],
        )
        .unwrap_or(WebhookFormat::Json);
    let secret = read_secret(tab, diag, env, "secret_file", "secret_env");
    let mut template = None;
    let mut content_type = "application/json".to_string();
    if format == WebhookFormat::Template {
        template = read_template(tab, diag);
        if let Some(ct) = tab.string(diag, "content_type") {
            match check_header("Content-Type", &ct.value) {
                Ok(()) if !ct.value.trim().is_empty() => content_type = ct.value,
                Ok(()) => tab.key_error(diag, "content_type", &ct.span, "must not be empty"),
                Err(e) => tab.key_error(diag, "content_type", &ct.span, &e),
            }
        }
    } else {
        for key in ["template", "template_file", "content_type"] {
            only_for(tab, diag, key, "template");
        }
    }
    let chat_id = if format == WebhookFormat::Telegram {
        read_chat_id(tab, diag)
    } else {
        only_for(tab, diag, "chat_id", "telegram");
        None
    };
    let headers = read_headers(tab, diag);
    if diag.errors.len() > before {
        return None;
    }
    Some(WebhookConfig {
        url: url?,
        format,
        secret,
        template,
        content_type,
        chat_id,
        headers,
    })
}
