//! Values written as Go writes them, where CEL's text is Go's: `%g` doubles, RFC 3339
//! timestamps and duration seconds.

/// Go's `%g` of a double: the shortest decimal that reads back as the same double, in
/// exponent form when the exponent is below -4 or at least 6 (`2e-09`, `1.234567e+06`).
pub(crate) fn go_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` is the shortest round-trip form too: `1.234567e6`, `-2e-9`.
    let shortest = format!("{f:e}");
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs());
    }
    // Plain notation with the same digits: Rust's `{}` is shortest round-trip as well.
    format!("{f}")
}

/// A duration as cel-go's `string()` writes it: seconds, with as many decimals as it needs.
pub(crate) fn go_duration(duration: &chrono::Duration) -> String {
    let seconds = duration.num_seconds();
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        return format!("{seconds}s");
    }
    let sign = if seconds < 0 || nanos < 0 { "-" } else { "" };
    let fraction = format!("{:09}", nanos.unsigned_abs());
    format!("{sign}{}.{}s", seconds.unsigned_abs(), fraction.trim_end_matches('0'))
}

/// Go's `time.RFC3339Nano` layout: the fraction without trailing zeros (none when it is zero),
/// and `Z` for a zero offset.
pub(crate) fn go_rfc3339_nano(time: &chrono::DateTime<chrono::FixedOffset>) -> String {
    let mut text = time.format("%Y-%m-%dT%H:%M:%S").to_string();
    let nanos = time.timestamp_subsec_nanos() % 1_000_000_000;
    if nanos != 0 {
        let fraction = format!("{nanos:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    if time.offset().local_minus_utc() == 0 {
        text.push('Z');
    } else {
        text.push_str(&time.format("%:z").to_string());
    }
    text
}
