//! RFC 3339 times, as Kubernetes writes them, for `expires`.

use std::time::{Duration, SystemTime};

/// `2027-03-31T00:00:00Z`, with optional fractional seconds and a `Z` or `±hh:mm` offset;
/// `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let time = chrono::DateTime::parse_from_rfc3339(text.trim()).ok()?;
    let seconds = time.timestamp();
    let nanos = time.timestamp_subsec_nanos();
    if seconds >= 0 {
        Some(SystemTime::UNIX_EPOCH + Duration::new(u64::try_from(seconds).ok()?, nanos))
    } else {
        // Before 1970: valid, and long expired.
        SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_times_parse() {
        let at = |seconds: u64| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(seconds));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), at(0));
        assert_eq!(parse_rfc3339("2026-11-28T03:07:56Z"), at(1_795_835_276));
        assert_eq!(parse_rfc3339("2026-11-28T05:07:56+02:00"), at(1_795_835_276));
        assert!(parse_rfc3339("2026-11-28T03:07:56.5Z").is_some());
        assert_eq!(parse_rfc3339("2026-11-28"), None);
        assert_eq!(parse_rfc3339("tomorrow"), None);
        assert!(parse_rfc3339("1969-12-31T23:59:59Z").unwrap() < SystemTime::UNIX_EPOCH);
    }
}
