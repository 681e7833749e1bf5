//! What the host says when the config is silent: the system timezone.

use std::path::Path;

use chrono_tz::Tz;

use super::Env;

/// Reads an IANA name from `TZ`-style text: `Europe/Berlin`, `:Europe/Berlin` or a path
/// ending in `zoneinfo/Europe/Berlin`.
fn tz_from_text(text: &str) -> Option<Tz> {
    let t = text.trim().trim_start_matches(':');
    let name = t.rsplit_once("zoneinfo/").map_or(t, |(_, n)| n);
    name.parse().ok()
}

/// The system timezone from its usual sources, in order: `$TZ`, `/etc/timezone`, the
/// target of the `/etc/localtime` symlink; UTC when none names an IANA zone.
pub(crate) fn timezone_from(
    tz_var: Option<&str>,
    etc_timezone: Option<&str>,
    localtime_target: Option<&Path>,
) -> Tz {
    tz_var
        .and_then(tz_from_text)
        .or_else(|| etc_timezone.and_then(tz_from_text))
        .or_else(|| {
            localtime_target
                .and_then(|p| p.to_str())
                .and_then(tz_from_text)
        })
        .unwrap_or(Tz::UTC)
}

/// The system timezone as seen through `env`.
pub(crate) fn system_timezone(env: &Env<'_>) -> Tz {
    let tz_var = (env.var)("TZ").filter(|v| !v.is_empty());
    if let Some(tz) = tz_var.as_deref().and_then(tz_from_text) {
        return tz;
    }
    let etc = std::fs::read_to_string("/etc/timezone").ok();
    let link = std::fs::read_link("/etc/localtime").ok();
    timezone_from(None, etc.as_deref(), link.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezone_sources_in_order() {
        let berlin = Some("Europe/Berlin");
        let link = Path::new("/usr/share/zoneinfo/Asia/Bishkek");
        assert_eq!(
            timezone_from(berlin, Some("Europe/Moscow"), Some(link)),
            Tz::Europe__Berlin
        );
        assert_eq!(
            timezone_from(Some(":Europe/Berlin"), None, None),
            Tz::Europe__Berlin
        );
        assert_eq!(
            timezone_from(Some("bogus"), Some("Europe/Moscow\n"), None),
            Tz::Europe__Moscow
        );
        assert_eq!(timezone_from(None, None, Some(link)), Tz::Asia__Bishkek);
        assert_eq!(timezone_from(None, Some(""), None), Tz::UTC);
    }
}
