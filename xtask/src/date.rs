//! Civil dates in UTC, for timestamps in release artifacts and the advisory database's age:
//! Howard Hinnant's `days_from_civil` and `civil_from_days`, for dates from 1970-01-01 on, so
//! that xtask needs no date crate.

use anyhow::{Context, Result, bail, ensure};

pub const SECONDS_PER_DAY: u64 = 86_400;

/// `epoch` (seconds, UTC) as RFC 3339, e.g. `2023-11-14T22:13:20Z`.
pub fn rfc3339(epoch: u64) -> String {
    let (days, secs) = (epoch / SECONDS_PER_DAY, epoch % SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Seconds since the epoch at 00:00 UTC of `YYYY-MM-DD`.
pub fn epoch_of_date(date: &str) -> Result<u64> {
    let parts: Vec<&str> = date.split('-').collect();
    let [year, month, day] = parts[..] else { bail!("{date:?} is not a date YYYY-MM-DD") };
    let parse = |s: &str, what: &str| s.parse::<u64>().with_context(|| format!("{date:?}: bad {what}"));
    let (year, month, day) = (parse(year, "year")?, parse(month, "month")?, parse(day, "day")?);
    ensure!(year >= 1970 && (1..=12).contains(&month) && (1..=31).contains(&day), "{date:?} is not a date YYYY-MM-DD");
    Ok(days_from_civil(year, month, day) * SECONDS_PER_DAY)
}

/// Days from 1970-01-01 to `year-month-day` (`days_from_civil`; the date must not be earlier).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let (era, yoe) = (y / 400, y % 400);
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, as (year, month, day) (`civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn dates_are_midnight_utc() {
        assert_eq!(epoch_of_date("1970-01-01").unwrap(), 0);
        assert_eq!(epoch_of_date("2000-03-01").unwrap(), 951_868_800);
        assert_eq!(rfc3339(epoch_of_date("2026-08-21").unwrap()), "2026-08-21T00:00:00Z");
        assert_eq!(rfc3339(epoch_of_date("2024-02-29").unwrap()), "2024-02-29T00:00:00Z");
        assert!(epoch_of_date("2026-13-01").is_err());
        assert!(epoch_of_date("1969-12-31").is_err());
    }

    #[test]
    fn days_and_civil_dates_convert_both_ways() {
        for days in (0..200_000).step_by(7) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
        }
    }
}
