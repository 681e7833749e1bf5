//! `[destination.NAME]`: keys common to every type, and email.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;

use super::error::did_you_mean;
use super::read::{Diag, Located, Tab, check_name};
use super::secret::read_secret;
use super::webhook::{WEBHOOK_KEYS, read_webhook};
use super::{DestinationConfig, DestinationKind, EmailConfig, EmailTransport, Env, TlsMode};
use crate::schedule::Schedule;

pub(crate) const COMMON_KEYS: &[&str] = &[
    "type",
    "digest",
    "timezone",
    "max_items",
    "retry_for",
    "timeout",
];

pub(crate) const EMAIL_KEYS: &[&str] = &[
    "to",
    "from",
    "transport",
    "sendmail_command",
    "smtp_host",
    "smtp_port",
    "tls",
    "username",
    "password_file",
    "password_env",
];

const SMTP_ONLY: &[&str] = &[
    "smtp_host",
    "smtp_port",
    "tls",
    "username",
    "password_file",
    "password_env",
];

pub(crate) struct DestDraft {
    pub config: DestinationConfig,
    pub name: Located,
}

#[derive(Clone, Copy)]
enum Type {
    Stdout,
    Email,
    Webhook,
}

/// `localhost`, 127.0.0.0/8 or ::1: where plain-text SMTP cannot be sniffed.
pub(crate) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.eq_ignore_ascii_case("localhost.")
        || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn allowed_keys(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON_KEYS.iter().chain(extra).copied().collect()
}

pub(crate) fn read_destination(
    tab: &mut Tab<'_, '_>,
    name: Located,
    env: &Env<'_>,
    system_tz: &dyn Fn() -> Tz,
    diag: &mut Diag,
) -> DestDraft {
    if let Err(e) = check_name(&name.value, true) {
        tab.error(diag, &name.span, format!("destination name {e}"));
    }
    let ty = if tab.has("type") {
        tab.choice(
            diag,
            "type",
            &[
                ("stdout", Type::Stdout),
                ("email", Type::Email),
                ("webhook", Type::Webhook),
            ],
        )
    } else {
        let msg = format!(
            "{} has no `type`: set it to \"stdout\", \"email\" or \"webhook\"",
            tab.what
        );
        tab.error(diag, &tab.span, msg);
        None
    };
    let digest = tab.string(diag, "digest").and_then(|s| {
        Schedule::parse(&s.value)
            .map_err(|e| tab.key_error(diag, "digest", &s.span, &e))
            .ok()
    });
    let timezone = match tab.string(diag, "timezone") {
        Some(s) => match s.value.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
                let hint = did_you_mean(&s.value, names);
                let msg = format!(
                    "unknown timezone `{}`{hint} (use an IANA name such as \"Europe/Moscow\" or \"UTC\")",
                    s.value
                );
                tab.key_error(diag, "timezone", &s.span, &msg);
                Tz::UTC
            }
        },
        None => system_tz(),
    };
    let max_items = tab
        .integer(diag, "max_items", 1, 100_000)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(100);
    let retry_for = tab
        .duration(diag, "retry_for", Duration::ZERO)
        .unwrap_or(Duration::from_secs(3 * 86_400));
    let timeout = tab
        .duration(diag, "timeout", Duration::from_secs(1))
        .unwrap_or(Duration::from_secs(30));
    let kind = match ty {
        Some(Type::Stdout) => {
            tab.check_keys(diag, COMMON_KEYS);
            Some(DestinationKind::Stdout)
        }
        Some(Type::Email) => {
            tab.check_keys(diag, &allowed_keys(EMAIL_KEYS));
            read_email(tab, env, diag).map(DestinationKind::Email)
        }
        Some(Type::Webhook) => {
            tab.check_keys(diag, &allowed_keys(WEBHOOK_KEYS));
            read_webhook(tab, env, diag).map(DestinationKind::Webhook)
        }
        None => None,
    };
    DestDraft {
        config: DestinationConfig {
            name: name.value.clone(),
            // A placeholder when the type is wrong: the load fails anyway, and keeping
            // the name avoids spurious "unknown destination" errors.
            kind: kind.unwrap_or(DestinationKind::Stdout),
            digest: digest.unwrap_or(Schedule::Immediate),
            timezone,
            max_items,
            retry_for,
            timeout,
        },
        name,
    }
}

fn mailbox(tab: &Tab<'_, '_>, diag: &mut Diag, key: &str, s: &Located) -> Option<Mailbox> {
    match s.value.parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            let msg = format!(
                "`{}` is not a mailbox ({e}); write \"user@example.org\" or \"Name <user@example.org>\"",
                s.value
            );
            tab.key_error(diag, key, &s.span, &msg);
            None
        }
    }
}

fn read_email(tab: &Tab<'_, '_>, env: &Env<'_>, diag: &mut Diag) -> Option<EmailConfig> {
    let before = diag.errors.len();
    let mut to = Vec::new();
    if !tab.has("to") {
        let msg = format!("{} has no `to`: list the recipients' addresses", tab.what);
        tab.error(diag, &tab.span, msg);
    }
    if let Some(list) = tab.string_or_strings(diag, "to") {
        if list.is_empty()
            && let Some(span) = tab.key_span("to")
        {
            tab.key_error(diag, "to", &span, "must name at least one recipient");
        }
        to = list
            .iter()
            .filter_map(|s| mailbox(tab, diag, "to", s))
            .collect();
    }
    let from = tab
        .required_string(diag, "from")
        .and_then(|s| mailbox(tab, diag, "from", &s));
    let sendmail =
        tab.choice(diag, "transport", &[("smtp", false), ("sendmail", true)]) == Some(true);
    let transport = if sendmail {
        for key in SMTP_ONLY {
            if let Some(span) = tab.key_span(key) {
                tab.key_error(diag, key, &span, "is only used with transport = \"smtp\"");
            }
        }
        let command = tab.string(diag, "sendmail_command").and_then(|c| {
            if c.value.trim().is_empty() {
                tab.key_error(diag, "sendmail_command", &c.span, "must not be empty");
                None
            } else {
                Some(PathBuf::from(c.value))
            }
        });
        Some(EmailTransport::Sendmail { command })
    } else {
        if let Some(span) = tab.key_span("sendmail_command") {
            tab.key_error(
                diag,
                "sendmail_command",
                &span,
                "is only used with transport = \"sendmail\"",
            );
        }
        read_smtp(tab, env, diag)
    };
    if diag.errors.len() > before {
        return None;
    }
    Some(EmailConfig {
        to,
        from: from?,
        transport: transport?,
    })
}

fn read_smtp(tab: &Tab<'_, '_>, env: &Env<'_>, diag: &mut Diag) -> Option<EmailTransport> {
    let host = tab.required_string(diag, "smtp_host");
    if let Some(h) = &host
        && (h.value.trim().is_empty() || h.value.contains(char::is_whitespace))
    {
        tab.key_error(
            diag,
            "smtp_host",
            &h.span,
            "must be a host name or IP address",
        );
    }
    let tls = tab
        .choice(
            diag,
            "tls",
            &[
                ("starttls", TlsMode::StartTls),
                ("tls", TlsMode::Implicit),
                ("none", TlsMode::None),
            ],
        )
        .unwrap_or(TlsMode::StartTls);
    if tls == TlsMode::None
        && let (Some(h), Some(v)) = (&host, tab.value("tls"))
        && !is_loopback(&h.value)
    {
        let msg = format!(
            "tls = \"none\" is refused for `{}`: the password and mail would cross the network in clear text; use \"starttls\" or \"tls\" (\"none\" is only for localhost)",
            h.value
        );
        tab.key_error(diag, "tls", &v.span(), &msg);
    }
    let port = tab
        .integer(diag, "smtp_port", 1, 65_535)
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(match tls {
            TlsMode::StartTls => 587,
            TlsMode::Implicit => 465,
            TlsMode::None => 25,
        });
    let username = tab.string(diag, "username");
    let password = read_secret(tab, diag, env, "password_file", "password_env");
    let has_password = tab.has("password_file") || tab.has("password_env");
    match (&username, has_password) {
        (Some(u), false) => tab.key_error(
            diag,
            "username",
            &u.span,
            "needs `password_file` or `password_env`",
        ),
        (None, true) => {
            let msg = format!("{} sets a password but no `username`", tab.what);
            tab.error(diag, &tab.span, msg);
        }
        _ => {}
    }
    Some(EmailTransport::Smtp {
        host: host?.value,
        port,
        tls,
        username: username.map(|u| u.value),
        password,
    })
}
