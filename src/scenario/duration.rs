//! Human durations in scenario files: `"30s"`, `"500ms"`, `"2m"`, `"1h"`, `"1.5s"`, `"1m30s"`.
//!
//! Parsing is exact (decimal fractions become whole nanoseconds, no floating point), so `"0.1s"` is
//! exactly 100 ms and two files that say the same thing lower to the same plan.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Units a duration may use, longest suffix first so `ms` is not read as `m` followed by `s`.
const UNITS: [(&str, u128); 4] = [
    ("ms", 1_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
];

/// The hint every duration error ends with.
pub const DURATION_HINT: &str = r#"write e.g. "30s", "500ms", "2m", "1h", "1.5s""#;

/// Parses a duration such as `"30s"`, `"500ms"`, `"2m"`, `"1h"`, `"1.5s"` or `"1m30s"`.
///
/// A number without a unit is refused on purpose: `"30"` could mean seconds or milliseconds, and a
/// scenario that guesses wrong runs a different competition.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let not_a_duration = || format!("{text:?} is not a duration ({DURATION_HINT})");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(not_a_duration());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(not_a_duration)?;
        let (number, after) = rest.split_at(number_len);
        let (unit, scale) = UNITS
            .iter()
            .find(|(unit, _)| after.starts_with(unit))
            .ok_or_else(not_a_duration)?;
        total = total
            .checked_add(scaled(number, *scale).ok_or_else(not_a_duration)?)
            .ok_or_else(|| format!("{text:?} is too long"))?;
        rest = &after[unit.len()..];
    }
    u64::try_from(total)
        .map(Duration::from_nanos)
        .map_err(|_| format!("{text:?} is too long"))
}

/// `number × scale` nanoseconds for a decimal `number` like `1.5`, truncating below a nanosecond.
fn scaled(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
    {
        return None; // a second '.'
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole.checked_mul(scale)?;
    // Digits past the 20th cannot change the result by a nanosecond at any unit we accept.
    let fraction = &fraction[..fraction.len().min(20)];
    if !fraction.is_empty() {
        let digits: u128 = fraction.parse().ok()?;
        nanos = nanos.checked_add(digits * scale / 10u128.pow(fraction.len() as u32))?;
    }
    Some(nanos)
}

/// Formats a duration the way scenario files write them: `"15m"`, `"2m30s"`, `"1.5s"`, `"250ms"`.
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_owned();
    }
    if d < Duration::from_secs(1) {
        let micros = d.as_micros();
        return if micros.is_multiple_of(1000) {
            format!("{}ms", micros / 1000)
        } else {
            format!("{}ms", d.as_secs_f64() * 1000.0)
        };
    }
    let secs = d.as_secs();
    let (hours, minutes, seconds) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if hours > 0 {
        out.push_str(&format!("{hours}h"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}m"));
    }
    let millis = d.subsec_millis();
    if millis > 0 {
        let fraction = format!("{:03}", millis);
        out.push_str(&format!("{seconds}.{}s", fraction.trim_end_matches('0')));
    } else if seconds > 0 {
        out.push_str(&format!("{seconds}s"));
    }
    out
}

/// A duration as written in a scenario file. Deserializes from a string like `"30s"`; a bare number
/// is refused with a hint to add a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = DurationValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a duration string ({DURATION_HINT})")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        parse_duration(v).map(DurationValue).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "{v} is not a duration: durations are strings with a unit ({DURATION_HINT})"
        )))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_i64(v.min(i64::MAX as u64) as i64)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "{v} is not a duration: durations are strings with a unit ({DURATION_HINT})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_exactly() {
        let ok = [
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("1.5s", Duration::from_millis(1500)),
            ("0.1s", Duration::from_millis(100)),
            (".5s", Duration::from_millis(500)),
            ("0.25ms", Duration::from_micros(250)),
            ("1m30s", Duration::from_secs(90)),
            ("1h2m3s4ms", Duration::from_millis(3_723_004)),
            ("0s", Duration::ZERO),
            (" 10s ", Duration::from_secs(10)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn refuses_numbers_without_units_and_junk() {
        for text in [
            "30", "", "s", "1.2.3s", "10 s", "-1s", "3d", "1sm", "1e3s", ".",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("is not a duration"), "{text}: {err}");
            assert!(err.contains(r#""500ms""#), "{text}: {err}");
        }
        assert!(
            parse_duration("99999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn formats_like_scenario_files() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(900), "15m"),
            (Duration::from_secs(3600 + 2), "1h2s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_duration(d), want);
            assert_eq!(parse_duration(want), Ok(d), "round trip of {want}");
        }
    }
}
