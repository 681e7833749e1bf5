use chrono::TimeZone;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap_or_else(|| panic!("bad test time"))
}

fn parsed(text: &str) -> Schedule {
    Schedule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn canonical_text_round_trips() {
    for (text, canonical) in [
        ("immediate", "immediate"),
        ("IMMEDIATE", "immediate"),
        ("every 30m", "every 30m"),
        ("every 90m", "every 1h30m"),
        ("hourly", "hourly"),
        ("daily 8:00", "daily 08:00"),
        ("daily  08:05", "daily 08:05"),
        ("weekly Monday 8:00", "weekly mon 08:00"),
        ("weekly sun 23:59", "weekly sun 23:59"),
        ("cron 0 8 * * 1-5", "cron 0 8 * * 1-5"),
        ("cron   0  8 * * MON-FRI", "cron 0 8 * * MON-FRI"),
    ] {
        let s = parsed(text);
        assert_eq!(s.to_string(), canonical, "{text}");
        assert_eq!(parsed(canonical), s, "{canonical}");
    }
}

#[test]
fn bad_schedules_say_why() {
    for (text, needle) in [
        ("", "empty digest schedule"),
        ("dialy 08:00", "did you mean `daily`?"),
        ("daily 25:00", "invalid time `25:00`"),
        ("daily 08:60", "invalid time `08:60`"),
        ("daily 8", "invalid time `8`"),
        ("daily", "unknown digest schedule"),
        ("weekly moon 08:00", "invalid weekday `moon`"),
        ("every 0s", "at least 1s"),
        ("every soon", "invalid duration"),
        ("cron 0 8 * *", "invalid cron pattern"),
        ("cron 0 0 8 * * *", "invalid cron pattern"),
        ("cron 61 8 * * *", "invalid cron pattern"),
        ("fortnightly", "expected \"immediate\""),
    ] {
        let err = Schedule::parse(text).err().unwrap_or_default();
        assert!(err.contains(needle), "{text}: {err}");
    }
}

#[test]
fn immediate_and_every() {
    let t = utc(2025, 1, 1, 12, 0);
    assert_eq!(Schedule::Immediate.next_due(t, Tz::UTC), None);
    assert_eq!(
        parsed("every 30m").next_due(t, Tz::UTC),
        Some(utc(2025, 1, 1, 12, 30))
    );
}

#[test]
fn next_due_is_strictly_after() {
    let s = parsed("daily 08:00");
    let at_eight = utc(2025, 6, 2, 8, 0);
    assert_eq!(s.next_due(at_eight, Tz::UTC), Some(utc(2025, 6, 3, 8, 0)));
    let just_before = at_eight - chrono::Duration::milliseconds(500);
    assert_eq!(s.next_due(just_before, Tz::UTC), Some(at_eight));
}

#[test]
fn daily_in_moscow_is_utc_plus_three() {
    let s = parsed("daily 08:00");
    let tz = Tz::Europe__Moscow;
    assert_eq!(
        s.next_due(utc(2025, 3, 30, 0, 0), tz),
        Some(utc(2025, 3, 30, 5, 0))
    );
    // Moscow has had no DST since 2014: same UTC hour in summer and winter.
    assert_eq!(
        s.next_due(utc(2025, 7, 1, 6, 0), tz),
        Some(utc(2025, 7, 2, 5, 0))
    );
}

#[test]
fn berlin_summer_and_winter_time() {
    let s = parsed("daily 08:00");
    let tz = Tz::Europe__Berlin;
    assert_eq!(
        s.next_due(utc(2025, 1, 15, 0, 0), tz),
        Some(utc(2025, 1, 15, 7, 0))
    );
    assert_eq!(
        s.next_due(utc(2025, 7, 15, 0, 0), tz),
        Some(utc(2025, 7, 15, 6, 0))
    );
    // Across spring-forward (2025-03-30, 02:00 CET → 03:00 CEST) 08:00 stays 08:00.
    assert_eq!(
        s.next_due(utc(2025, 3, 29, 7, 0), tz),
        Some(utc(2025, 3, 30, 6, 0))
    );
    // Across fall-back (2025-10-26, 03:00 CEST → 02:00 CET).
    assert_eq!(
        s.next_due(utc(2025, 10, 25, 6, 0), tz),
        Some(utc(2025, 10, 26, 7, 0))
    );
}

#[test]
fn time_skipped_by_spring_forward_fires_after_the_gap() {
    let s = parsed("daily 02:30");
    let tz = Tz::Europe__Berlin;
    // 02:30 does not exist on 2025-03-30: it fires at 03:00 CEST = 01:00 UTC.
    let first = s.next_due(utc(2025, 3, 29, 23, 0), tz);
    assert_eq!(first, Some(utc(2025, 3, 30, 1, 0)));
    // and the day after at 02:30 CEST again.
    assert_eq!(
        s.next_due(utc(2025, 3, 30, 1, 0), tz),
        Some(utc(2025, 3, 31, 0, 30))
    );
}

#[test]
fn time_repeated_by_fall_back_fires_once() {
    let s = parsed("daily 02:30");
    let tz = Tz::Europe__London;
    // London 2025-10-26: 02:00 BST → 01:00 GMT; 02:30 happens once, at 02:30 GMT.
    let s1 = parsed("daily 01:30");
    let first = s1.next_due(utc(2025, 10, 25, 23, 0), tz);
    assert_eq!(first, Some(utc(2025, 10, 26, 0, 30)), "first 01:30 (BST)");
    let second = first.and_then(|t| s1.next_due(t, tz));
    assert_eq!(
        second,
        Some(utc(2025, 10, 27, 1, 30)),
        "01:30 GMT the same day is skipped"
    );
    assert_eq!(
        s.next_due(utc(2025, 10, 25, 23, 0), tz),
        Some(utc(2025, 10, 26, 2, 30))
    );
}

#[test]
fn hourly_counts_real_hours_through_fall_back() {
    let s = parsed("hourly");
    let tz = Tz::Europe__Berlin;
    let mut t = utc(2025, 10, 25, 23, 30);
    let mut seen = Vec::new();
    for _ in 0..4 {
        let next = s.next_due(t, tz);
        let Some(next) = next else {
            panic!("hourly never ends")
        };
        seen.push(next);
        t = next;
    }
    let expect: Vec<_> = (0..4).map(|h| utc(2025, 10, 26, h, 0)).collect();
    assert_eq!(seen, expect);
}

#[test]
fn weekly_and_cron() {
    let tz = Tz::UTC;
    // 2025-06-04 is a Wednesday.
    let wed = utc(2025, 6, 4, 12, 0);
    assert_eq!(
        parsed("weekly mon 08:00").next_due(wed, tz),
        Some(utc(2025, 6, 9, 8, 0))
    );
    assert_eq!(
        parsed("weekly sun 08:00").next_due(wed, tz),
        Some(utc(2025, 6, 8, 8, 0))
    );
    let weekdays = parsed("cron 0 8 * * 1-5");
    // Friday 2025-06-06 after 08:00 → Monday 2025-06-09.
    assert_eq!(
        weekdays.next_due(utc(2025, 6, 6, 9, 0), tz),
        Some(utc(2025, 6, 9, 8, 0))
    );
}
