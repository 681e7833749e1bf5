//! Durations ("30s", "1h30m", "7d") and sizes ("15MiB") as written in the config.

use std::time::Duration;

/// The longest duration accepted anywhere (100 years): larger values are typos and
/// would overflow time arithmetic downstream.
const MAX_SECS: u64 = 100 * 365 * 86_400;

/// Parses a duration: one or more `<integer><unit>` parts, units `s`, `m`, `h`, `d`, `w`
/// (`"30s"`, `"5m"`, `"2h"`, `"7d"`, `"1h30m"`). Spaces between parts are allowed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let hint = "write a number and a unit (s, m, h, d, w), e.g. \"30s\", \"5m\", \"1h30m\", \"7d\"";
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(format!("empty duration: {hint}"));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in compact.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            'w' => 604_800,
            _ => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{c}`; {hint}"
                ));
            }
        };
        if digits.is_empty() {
            return Err(format!(
                "invalid duration `{text}`: `{c}` has no number before it; {hint}"
            ));
        }
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: number too large"))?;
        digits.clear();
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .filter(|v| *v <= MAX_SECS)
            .ok_or_else(|| format!("invalid duration `{text}`: longer than 100 years"))?;
    }
    if !digits.is_empty() {
        return Err(format!(
            "invalid duration `{text}`: `{digits}` has no unit; {hint}"
        ));
    }
    Ok(Duration::from_secs(total))
}

/// Formats a duration in the config's own syntax, largest units first ("1h30m", "0s").
pub fn format_duration(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return if d.is_zero() {
            "0s".to_string()
        } else {
            format!("{}ms", d.as_millis())
        };
    }
    let mut out = String::new();
    for (unit, name) in [
        (604_800, 'w'),
        (86_400, 'd'),
        (3_600, 'h'),
        (60, 'm'),
        (1, 's'),
    ] {
        if secs >= unit {
            out.push_str(&(secs / unit).to_string());
            out.push(name);
            secs %= unit;
        }
    }
    out
}

/// Parses a byte size: a plain number of bytes or a number with a unit
/// (`B`, `KB`, `MB`, `GB` = powers of 1000; `KiB`, `MiB`, `GiB` = powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let hint = "write a number of bytes or a size such as \"15MiB\" or \"500KB\"";
    if num.is_empty() {
        return Err(format!("invalid size `{text}`: {hint}"));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size `{text}`: number too large"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "invalid size `{text}`: unknown unit `{other}`; {hint}"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid size `{text}`: too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_durations() {
        for (text, secs) in [
            ("30s", 30),
            ("5m", 300),
            ("2h", 7_200),
            ("7d", 604_800),
            ("1h30m", 5_400),
            ("1w", 604_800),
            ("0s", 0),
            ("1H 30M", 5_400),
            ("90m", 5_400),
        ] {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_durations() {
        for (text, needle) in [
            ("", "empty duration"),
            ("30", "`30` has no unit"),
            ("5x", "unknown unit `x`"),
            ("m", "`m` has no number"),
            ("-5m", "unknown unit `-`"),
            ("1.5h", "unknown unit `.`"),
            ("99999999999999999999s", "number too large"),
            ("36600d", "longer than 100 years"),
        ] {
            let err = parse_duration(text).err().unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn format_round_trips() {
        for secs in [0, 1, 59, 60, 5_400, 86_400, 90_061, 604_800 + 3_600] {
            let d = Duration::from_secs(secs);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("15MiB"), Ok(15 * 1024 * 1024));
        assert_eq!(parse_size("15 MiB"), Ok(15 * 1024 * 1024));
        assert_eq!(parse_size("500KB"), Ok(500_000));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        assert!(parse_size("99999999999GiB").is_err());
    }
}
