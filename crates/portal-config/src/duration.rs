//! [`Duration`]: a positive time span written the way operators write it (`200ms`, `2s`, `1m30s`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use crate::{Error, Result};

/// What a duration may look like; used in every duration error message.
pub(crate) const EXPECTED: &str =
    "a duration greater than zero: whole numbers with a unit ms, s, m or h, e.g. 200ms, 2s, 1m or 1m30s";

/// A time span greater than zero, with millisecond precision.
///
/// Written as one or more whole numbers each followed by a unit, largest first or not:
/// `ms`, `s`, `m`, `h` (`200ms`, `2s`, `1m`, `1m30s`). It is printed in the same form, so what
/// `portal run --print-config` prints reads back to the same value. Zero is rejected: every
/// duration in the configuration is a wait or an interval, where zero is a mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    // Invariant: > 0.
    millis: u64,
}

impl Duration {
    /// A duration of `millis` milliseconds, or `None` for zero.
    pub const fn from_millis(millis: u64) -> Option<Duration> {
        if millis == 0 { None } else { Some(Duration { millis }) }
    }

    /// The length in whole milliseconds (at least 1).
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// The same span as a [`std::time::Duration`], for timers.
    pub const fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(duration: Duration) -> std::time::Duration {
        duration.as_std()
    }
}

impl FromStr for Duration {
    type Err = Error;

    fn from_str(text: &str) -> Result<Duration> {
        let invalid = || Error::InvalidValue { value: text.to_owned(), expected: EXPECTED };
        let mut rest = text.trim();
        if rest.is_empty() {
            return Err(invalid());
        }
        let mut millis: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            let unit_len = rest[digits..].find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len() - digits);
            let (number, unit) = (&rest[..digits], &rest[digits..digits + unit_len]);
            let factor = match unit {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => return Err(invalid()),
            };
            let number: u64 = number.parse().map_err(|_| invalid())?;
            millis = number.checked_mul(factor).and_then(|part| millis.checked_add(part)).ok_or_else(invalid)?;
            rest = &rest[digits + unit_len..];
        }
        Duration::from_millis(millis).ok_or_else(invalid)
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form, largest unit first: `1h`, `1m30s`, `1s500ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.millis;
        for (unit, factor) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
            if rest >= factor {
                write!(f, "{}{unit}", rest / factor)?;
                rest %= factor;
            }
        }
        Ok(())
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(EXPECTED)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                text.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        for (text, millis, printed) in [
            ("200ms", 200, "200ms"),
            ("2s", 2_000, "2s"),
            ("1m", 60_000, "1m"),
            ("1h", 3_600_000, "1h"),
            ("1m30s", 90_000, "1m30s"),
            ("90s", 90_000, "1m30s"),
            ("1500ms", 1_500, "1s500ms"),
            (" 5s ", 5_000, "5s"),
            ("0s1ms", 1, "1ms"),
        ] {
            let duration: Duration = text.parse().unwrap();
            assert_eq!(duration.as_millis(), millis, "{text}");
            assert_eq!(duration.to_string(), printed, "{text}");
            assert_eq!(printed.parse::<Duration>().unwrap(), duration, "{printed} reads back");
        }
    }

    #[test]
    fn rejects_what_is_not_a_positive_duration() {
        for text in [
            "",
            "  ",
            "0",
            "0s",
            "0ms",
            "200",
            "ms",
            "2 s",
            "1.5s",
            "-1s",
            "2d",
            "2S",
            "s2",
            "1m 30s",
            "99999999999999999999h",
        ] {
            let error = text.parse::<Duration>().unwrap_err();
            assert_eq!(error.to_string(), format!("invalid value {text:?}: expected {EXPECTED}"));
        }
    }

    #[test]
    fn converts_to_std() {
        let duration = Duration::from_millis(250).unwrap();
        assert_eq!(std::time::Duration::from(duration), std::time::Duration::from_millis(250));
        assert_eq!(Duration::from_millis(0), None);
    }
}
