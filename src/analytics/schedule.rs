//! When a rule is armed: a list of daily/weekly windows in the site's time zone.
//!
//! Window syntax, one string each:
//!
//! | window                   | meaning                                              |
//! |--------------------------|------------------------------------------------------|
//! | `"22:00-05:00"`          | every day, 22:00 until 05:00 the next morning        |
//! | `"fri,sat 21:00-06:00"`  | starting Friday and Saturday evenings                |
//! | `"mon-fri 22:00-05:00"`  | day ranges (may wrap: `"fri-mon"`)                   |
//! | `"always"`               | always armed                                         |
//!
//! - Windows are half-open, `[start, end)`, in the civil (wall-clock) time of the zone, so
//!   they follow DST changes: `"22:00-05:00"` means 22:00 local on every calendar day.
//! - A window whose end is not after its start crosses midnight; the weekday names the day
//!   the window **starts**: `"sat 22:00-05:00"` covers Saturday 22:00 to Sunday 05:00.
//! - End equal to start means 24 hours from the start. `24:00` is accepted as an end.
//! - An en dash (`22:00–05:00`) works like a hyphen. Day names are case-insensitive and may
//!   be written in full (`friday`).

use jiff::Timestamp;
use jiff::tz::TimeZone;

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FULL_DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Window {
    Always,
    Daily {
        /// Indexed by days from Monday (Monday = 0).
        days: [bool; 7],
        /// Seconds after local midnight.
        start: u32,
        end: u32,
    },
}

/// A parsed schedule. See the module docs for the syntax. Two schedules are equal when
/// their windows and time zone are (a reload compares zones with it).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    windows: Vec<Window>,
    tz: TimeZone,
}

impl Schedule {
    /// Parses every window; the first bad one is reported, named by its text, e.g.
    /// `window "25:00-05:00": hour 25 out of range 0-23`.
    /// An empty list is refused (use `"always"`).
    pub fn parse(windows: &[String], tz: TimeZone) -> Result<Schedule, String> {
        if windows.is_empty() {
            return Err("no windows given; use \"always\" for a rule that is always on".into());
        }
        let windows = windows
            .iter()
            .map(|w| parse_window(w).map_err(|e| format!("window \"{w}\": {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Schedule { windows, tz })
    }

    /// Always armed (time zone UTC, which then does not matter).
    pub fn always() -> Schedule {
        Schedule {
            windows: vec![Window::Always],
            tz: TimeZone::UTC,
        }
    }

    /// Whether any window is open at `ts`, judged in the civil time of the zone.
    pub fn is_active(&self, ts: Timestamp) -> bool {
        let z = ts.to_zoned(self.tz.clone());
        let today = z.weekday().to_monday_zero_offset() as usize;
        let yesterday = (today + 6) % 7;
        let s = z.hour() as u32 * 3600 + z.minute() as u32 * 60 + z.second() as u32;
        self.windows.iter().any(|w| match *w {
            Window::Always => true,
            Window::Daily { days, start, end } => {
                if start < end {
                    days[today] && s >= start && s < end
                } else {
                    // Crosses midnight (end == start: 24 h).
                    (days[today] && s >= start) || (days[yesterday] && s < end)
                }
            }
        })
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
}

const FORMAT_HINT: &str = "expected HH:MM-HH:MM, optionally prefixed by days like \"fri,sat\"";

fn parse_window(text: &str) -> Result<Window, String> {
    let lower = text.trim().to_ascii_lowercase().replace('\u{2013}', "-");
    if lower == "always" {
        return Ok(Window::Always);
    }
    let parts: Vec<&str> = lower.split_whitespace().collect();
    let (days, range) = match parts.as_slice() {
        [range] => ([true; 7], *range),
        [days, range] => (parse_days(days)?, *range),
        _ => return Err(FORMAT_HINT.into()),
    };
    let (a, b) = range.split_once('-').ok_or(FORMAT_HINT)?;
    let start = parse_hhmm(a, false)?;
    let end = parse_hhmm(b, true)?;
    Ok(Window::Daily {
        days,
        start,
        end: end % 86_400,
    })
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for item in text.split(',') {
        let (a, b) = match item.split_once('-') {
            Some((a, b)) => (day_index(a)?, day_index(b)?),
            None => {
                let d = day_index(item)?;
                (d, d)
            }
        };
        let mut d = a;
        loop {
            days[d] = true;
            if d == b {
                break;
            }
            d = (d + 1) % 7;
        }
    }
    Ok(days)
}

fn day_index(name: &str) -> Result<usize, String> {
    DAY_NAMES
        .iter()
        .position(|d| *d == name)
        .or_else(|| FULL_DAY_NAMES.iter().position(|d| *d == name))
        .ok_or_else(|| {
            if name.is_empty() {
                FORMAT_HINT.to_string()
            } else {
                format!("unknown day \"{name}\", use mon tue wed thu fri sat sun")
            }
        })
}

/// `H:MM` or `HH:MM` → seconds after midnight. `24:00` only as an end.
fn parse_hhmm(text: &str, is_end: bool) -> Result<u32, String> {
    let (h, m) = text.split_once(':').ok_or(FORMAT_HINT)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return Err(FORMAT_HINT.into());
    }
    let h: u32 = h.parse().map_err(|_| FORMAT_HINT)?;
    let m: u32 = m.parse().map_err(|_| FORMAT_HINT)?;
    if is_end && h == 24 && m == 0 {
        return Ok(24 * 3600);
    }
    if h > 23 {
        return Err(format!("hour {h} out of range 0-23"));
    }
    if m > 59 {
        return Err(format!("minute {m} out of range 0-59"));
    }
    Ok(h * 3600 + m * 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::DateTime;

    fn hcm() -> TimeZone {
        TimeZone::get("Asia/Ho_Chi_Minh").unwrap()
    }

    fn sched(w: &[&str], tz: TimeZone) -> Schedule {
        let w: Vec<String> = w.iter().map(|s| s.to_string()).collect();
        Schedule::parse(&w, tz).unwrap()
    }

    fn err(w: &str) -> String {
        Schedule::parse(&[w.to_string()], hcm()).unwrap_err()
    }

    /// Civil time in the schedule's zone.
    fn at(s: &Schedule, civil: &str) -> bool {
        let dt: DateTime = civil.parse().unwrap();
        s.is_active(dt.to_zoned(s.time_zone().clone()).unwrap().timestamp())
    }

    #[test]
    fn crosses_midnight() {
        let s = sched(&["22:00-05:00"], hcm());
        // 2026-11-26 is a Thursday.
        assert!(!at(&s, "2026-11-26T21:59:59"));
        assert!(at(&s, "2026-11-26T22:00:00"));
        assert!(at(&s, "2026-11-26T23:59:59"));
        assert!(at(&s, "2026-11-27T00:00:00"));
        assert!(at(&s, "2026-11-27T04:59:59"));
        assert!(!at(&s, "2026-11-27T05:00:00"));
        assert!(!at(&s, "2026-11-27T12:00:00"));
    }

    #[test]
    fn same_day_window() {
        let s = sched(&["08:30-17:00"], hcm());
        assert!(!at(&s, "2026-11-26T08:29:00"));
        assert!(at(&s, "2026-11-26T08:30:00"));
        assert!(at(&s, "2026-11-26T16:59:59"));
        assert!(!at(&s, "2026-11-26T17:00:00"));
    }

    #[test]
    fn weekday_names_the_start_day() {
        let s = sched(&["sat 22:00-05:00"], hcm());
        // 2026-11-28 is a Saturday.
        assert!(!at(&s, "2026-11-27T23:00:00")); // Friday night
        assert!(!at(&s, "2026-11-28T04:00:00")); // Saturday early morning: Friday's window
        assert!(at(&s, "2026-11-28T22:00:00")); // Saturday night
        assert!(at(&s, "2026-11-29T04:59:00")); // Sunday early morning
        assert!(!at(&s, "2026-11-29T22:30:00")); // Sunday night
    }

    #[test]
    fn day_lists_and_ranges() {
        let s = sched(&["fri,sat 21:00-06:00"], hcm());
        assert!(at(&s, "2026-11-27T21:00:00")); // Fri
        assert!(at(&s, "2026-11-29T05:00:00")); // Sun morning, Sat's window
        assert!(!at(&s, "2026-11-29T21:00:00")); // Sun
        let s = sched(&["mon-fri 22:00-05:00"], hcm());
        assert!(at(&s, "2026-11-23T23:00:00")); // Mon
        assert!(at(&s, "2026-11-28T01:00:00")); // Sat morning, Fri's window
        assert!(!at(&s, "2026-11-28T23:00:00")); // Sat
        assert!(!at(&s, "2026-11-23T01:00:00")); // Mon morning: Sunday's window
        let s = sched(&["fri-mon 23:00-01:00"], hcm()); // wraps over the week end
        assert!(at(&s, "2026-11-29T23:30:00")); // Sun
        assert!(at(&s, "2026-11-24T00:30:00")); // Tue morning, Mon's window
        assert!(!at(&s, "2026-11-24T23:30:00")); // Tue
        let s = sched(&["Friday 22:00-23:00"], hcm());
        assert!(at(&s, "2026-11-27T22:30:00"));
    }

    #[test]
    fn several_windows_any_open() {
        let s = sched(&["mon-thu 23:00-05:00", "fri,sat 21:00-06:00"], hcm());
        assert!(!at(&s, "2026-11-26T22:00:00")); // Thu 22:00
        assert!(at(&s, "2026-11-27T22:00:00")); // Fri 22:00
        assert!(at(&s, "2026-11-26T23:00:00")); // Thu 23:00
    }

    #[test]
    fn end_equals_start_is_24h() {
        let s = sched(&["sat 12:00-12:00"], hcm());
        assert!(!at(&s, "2026-11-28T11:59:00"));
        assert!(at(&s, "2026-11-28T12:00:00"));
        assert!(at(&s, "2026-11-29T11:59:59"));
        assert!(!at(&s, "2026-11-29T12:00:00"));
        let s = sched(&["00:00-00:00"], hcm());
        assert!(at(&s, "2026-11-28T11:59:00"));
        let s = sched(&["18:00-24:00"], hcm());
        assert!(at(&s, "2026-11-28T23:59:59"));
        assert!(!at(&s, "2026-11-29T00:00:00"));
    }

    #[test]
    fn always() {
        let s = Schedule::always();
        assert!(s.is_active(Timestamp::UNIX_EPOCH));
        let s = sched(&["ALWAYS"], hcm());
        assert!(at(&s, "2026-11-28T11:59:00"));
    }

    #[test]
    fn dst_uses_civil_time() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let s = sched(&["22:00-05:00"], berlin);
        // Summer (UTC+2) and winter (UTC+1): 22:00 local both times.
        let summer: Timestamp = "2026-07-01T19:59:00Z".parse().unwrap(); // 21:59 CEST
        assert!(!s.is_active(summer));
        let summer: Timestamp = "2026-07-01T20:00:00Z".parse().unwrap(); // 22:00 CEST
        assert!(s.is_active(summer));
        let winter: Timestamp = "2026-01-15T20:59:00Z".parse().unwrap(); // 21:59 CET
        assert!(!s.is_active(winter));
        let winter: Timestamp = "2026-01-15T21:00:00Z".parse().unwrap(); // 22:00 CET
        assert!(s.is_active(winter));
        // The spring-forward night (2026-03-29, 02:00 → 03:00) is still 22:00–05:00 local:
        // 04:59 CEST = 02:59 UTC is open, 05:00 CEST = 03:00 UTC is closed.
        assert!(s.is_active("2026-03-29T02:59:00Z".parse().unwrap()));
        assert!(!s.is_active("2026-03-29T03:00:00Z".parse().unwrap()));
        // Fall back (2026-10-25, 03:00 → 02:00): a window 02:00-02:30 is open during both
        // passes through 02:00–02:30 local.
        let s = sched(&["02:00-02:30"], TimeZone::get("Europe/Berlin").unwrap());
        assert!(s.is_active("2026-10-25T00:15:00Z".parse().unwrap())); // 02:15 CEST
        assert!(s.is_active("2026-10-25T01:15:00Z".parse().unwrap())); // 02:15 CET
        assert!(!s.is_active("2026-10-25T01:45:00Z".parse().unwrap())); // 02:45 CET
    }

    #[test]
    fn malformed() {
        assert_eq!(
            err("25:00-05:00"),
            "window \"25:00-05:00\": hour 25 out of range 0-23"
        );
        assert_eq!(
            err("22:60-05:00"),
            "window \"22:60-05:00\": minute 60 out of range 0-59"
        );
        assert_eq!(
            err("22:00"),
            "window \"22:00\": expected HH:MM-HH:MM, optionally prefixed by days like \"fri,sat\""
        );
        assert_eq!(
            err("fri,xyz 22:00-05:00"),
            "window \"fri,xyz 22:00-05:00\": unknown day \"xyz\", use mon tue wed thu fri sat sun"
        );
        for bad in [
            "",
            "22-05",
            "22:0-05:00",
            "22:00-05:00-06:00",
            "fri sat 22:00-05:00",
            "fri, 22:00-05:00",
            "+1:00-05:00",
            "24:00-05:00",
        ] {
            assert!(
                err(bad).starts_with(&format!("window \"{bad}\": ")),
                "{bad}"
            );
        }
        assert_eq!(
            err("24:00-05:00"),
            "window \"24:00-05:00\": hour 24 out of range 0-23"
        );
        assert!(Schedule::parse(&[], hcm()).is_err());
        // The first bad window is named.
        let e = Schedule::parse(&["22:00-05:00".into(), "sun 9:00-26:00".into()], hcm());
        assert_eq!(
            e.unwrap_err(),
            "window \"sun 9:00-26:00\": hour 26 out of range 0-23"
        );
    }
}
