//! The one duration parser of every rtmon flag and config field, bounded so that no
//! value can overflow a deadline computation, and the checked arithmetic that turns a
//! duration into a deadline.
//!
//! Syntax (Prometheus'): `1h30m`, `15s`, `500ms`, `2m`, `1.5s`, `1d`, `1w`, `1y`; a bare
//! number means seconds. Every duration is at most [`MAX`] (10 years): larger values,
//! negative ones, NaN and infinities are errors, never a panic.
//!
//! Hand-written on purpose: `humantime` reads another syntax (`M` is a month, `y` is
//! 365.25 days, no bare seconds) and has no bound; Prometheus' syntax is what users type.
//!
//! ```
//! use std::time::Duration;
//! assert_eq!(rtmon::duration::parse("1m30s"), Ok(Duration::from_secs(90)));
//! assert!(rtmon::duration::parse("1e30").is_err());
//! assert!(rtmon::duration::from_secs_f64(1e30).is_err());
//! ```

use std::time::{Duration, Instant};

/// The longest duration any flag or config field accepts: 10 years. Far below what
/// `Instant + Duration` or `Duration::from_secs_f64` can overflow on.
pub const MAX: Duration = Duration::from_secs(10 * 365 * 86_400);

/// `MAX` as written in error messages.
const MAX_TEXT: &str = "10y";

/// Parses a duration (see the module docs), at most [`MAX`].
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || s.parse::<f64>().is_ok_and(|f| !f.is_nan())
    {
        let secs: f64 = s.parse().map_err(|_| format!("invalid duration {s:?}"))?;
        return from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"));
    }
    // Exact integer arithmetic (nanoseconds): `1.5s` + `200ms` has no rounding error
    // and a sum beyond the bound is an error, not an overflow.
    let max_ns = MAX.as_nanos();
    let mut total: u128 = 0;
    let mut rest = s;
    let unknown = || {
        format!(
            "invalid duration {s:?}: expected a number followed by a unit (ms, s, m, h, d, w, y)"
        )
    };
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("invalid duration {s:?}: missing unit (ms, s, m, h, d, w, y)")
            })?;
        if num_len == 0 {
            return Err(unknown());
        }
        let num = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_ns: u128 = match &rest[..unit_len] {
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "d" => 86_400_000_000_000,
            "w" => 604_800_000_000_000,
            "y" => 31_536_000_000_000_000,
            u => {
                return Err(format!(
                    "invalid duration {s:?}: unknown unit {u:?} (use ms, s, m, h, d, w, y)"
                ))
            }
        };
        rest = &rest[unit_len..];
        let (int, frac) = num.split_once('.').unwrap_or((num, ""));
        if frac.contains('.') || (int.is_empty() && frac.is_empty()) {
            return Err(format!("invalid duration {s:?}"));
        }
        let too_long = || format!("invalid duration {s:?}: too long (at most {MAX_TEXT})");
        let mut n: u128 = 0;
        for b in int.bytes() {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u128::from(b - b'0')))
                .filter(|n| *n <= max_ns)
                .ok_or_else(too_long)?;
        }
        let mut part = n.checked_mul(unit_ns).ok_or_else(too_long)?;
        // Fraction digits beyond nanosecond precision are dropped.
        let mut scale = unit_ns;
        for b in frac.bytes() {
            scale /= 10;
            part += u128::from(b - b'0') * scale;
        }
        total = total.checked_add(part).ok_or_else(too_long)?;
        if total > max_ns {
            return Err(too_long());
        }
    }
    let secs =
        u64::try_from(total / 1_000_000_000).map_err(|_| format!("invalid duration {s:?}"))?;
    let nanos =
        u32::try_from(total % 1_000_000_000).map_err(|_| format!("invalid duration {s:?}"))?;
    Ok(Duration::new(secs, nanos))
}

/// A number of seconds as a duration, at most [`MAX`]; negative, NaN and infinite
/// values are errors.
pub fn from_secs_f64(secs: f64) -> Result<Duration, String> {
    if secs.is_nan() {
        return Err("not a number".into());
    }
    if secs < 0.0 {
        return Err("must not be negative".into());
    }
    if secs > MAX.as_secs_f64() {
        return Err(format!("too long (at most {MAX_TEXT})"));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// `at + d`, or `at + MAX` when that overflows (it cannot with durations from [`parse`],
/// but deadlines are computed from sums of them).
pub fn saturating_add(at: Instant, d: Duration) -> Instant {
    at.checked_add(d)
        .or_else(|| at.checked_add(MAX))
        .unwrap_or(at)
}

/// The deadline `d` from now (checked: see [`saturating_add`]).
pub fn deadline_in(d: Duration) -> Instant {
    saturating_add(Instant::now(), d)
}

/// Renders a duration the way [`parse`] reads it back (`1m30s`, `500ms`, `2h`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, len) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if rest >= len {
            out.push_str(&format!("{}{unit}", rest / len));
            rest %= len;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_durations() {
        assert_eq!(parse("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("1e3"), Ok(Duration::from_secs(1000)));
        assert_eq!(parse("2w"), Ok(Duration::from_secs(14 * 86400)));
        assert_eq!(parse("10y"), Ok(MAX));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn out_of_range_and_garbage_are_errors_not_panics() {
        for bad in [
            "1e30",
            "1e300",
            "1e25",
            "99999999999999999999s",
            "99999999999999999999h",
            "10000000000000000000",
            "11y",
            "inf",
            "-inf",
            "NaN",
            "-1",
            "-1s",
            "",
            "s",
            "5 parsecs",
            "1.2.3s",
            "1e5s",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("duration"), "{bad}: {e}");
        }
        assert!(parse("1e30").unwrap_err().contains("at most 10y"));
        assert!(from_secs_f64(f64::MAX).is_err());
        assert!(from_secs_f64(f64::INFINITY).is_err());
        assert!(from_secs_f64(-0.5).is_err());
        assert_eq!(from_secs_f64(1.0), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn deadlines_saturate() {
        let now = Instant::now();
        assert_eq!(
            saturating_add(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        let far = saturating_add(now, Duration::MAX);
        assert!(far >= now);
        assert!(deadline_in(MAX) > now);
    }

    #[test]
    fn format_round_trips() {
        for s in ["1m30s", "500ms", "2h", "1d2h3m4s5ms", "0s"] {
            let d = parse(s).expect(s);
            assert_eq!(format(d), s);
            assert_eq!(parse(&format(d)), Ok(d));
        }
    }
}
