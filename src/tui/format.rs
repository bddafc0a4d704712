//! Number and time formatting for the scoreboard: thousands separators, latencies with about three
//! significant figures (what HdrHistogram keeps), clocks, sizes and text sparklines. Pure functions,
//! so every panel formats the same figure the same way.

use std::time::Duration;

/// An integer with thousands separators: `1,234,567` (the verdicts' formatting, so figures read the
/// same on the scoreboard and in the reports).
pub use crate::score::words::int;

/// A rate per second: one decimal below 1,000, then a whole number with separators.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec <= 0.0 {
        "0".to_owned()
    } else if per_sec < 1000.0 {
        format!("{per_sec:.1}")
    } else {
        int(per_sec.round() as u64)
    }
}

/// A latency in milliseconds, with its unit: `0.85 ms`, `12.3 ms`, `456 ms`, `1.23 s`, `12.3 s`.
/// Zero (no samples) is shown as a dash, so "no data" never reads as "instant".
pub fn ms(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        "–".to_owned()
    } else if v < 10.0 {
        format!("{v:.2} ms")
    } else if v < 100.0 {
        format!("{v:.1} ms")
    } else if v < 1000.0 {
        format!("{v:.0} ms")
    } else if v < 10_000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{:.1} s", v / 1000.0)
    }
}

/// A short latency for axis labels: `0`, `850µs`, `45ms`, `1.2s`.
pub fn ms_short(v: f64) -> String {
    if !v.is_finite() || v <= 0.0 {
        "0".to_owned()
    } else if v < 1.0 {
        format!("{:.0}µs", v * 1000.0)
    } else if v < 1000.0 {
        format!("{v:.0}ms")
    } else {
        format!("{:.1}s", v / 1000.0)
    }
}

/// A run clock: `m:ss`, or `h:mm:ss` past an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// A memory size in binary units: `512 KiB`, `45.2 MiB`, `1.50 GiB`.
pub fn bytes(b: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = b as f64;
    if b < KIB * KIB {
        format!("{:.0} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / (KIB * KIB))
    } else {
        format!("{:.2} GiB", b / (KIB * KIB * KIB))
    }
}

/// A percentage with no decimals: `43 %`.
pub fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 {
        "0 %".to_owned()
    } else {
        format!("{:.0} %", (part / whole * 100.0).clamp(0.0, 100.0))
    }
}

/// Cuts `s` to at most `max` characters, ending in `…` when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else if max == 0 {
        String::new()
    } else {
        s.chars()
            .take(max - 1)
            .chain(std::iter::once('…'))
            .collect()
    }
}

/// The eight heights of a text sparkline, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The last `width` values as a one-line sparkline scaled to their own maximum; `None` (no samples
/// that second) is a space. Used inside table cells, where the `Sparkline` widget cannot go.
pub fn spark(values: &[Option<f64>], width: usize) -> String {
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().flatten().copied().fold(0.0, f64::max);
    tail.iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if max <= 0.0 => BARS[0],
            Some(v) => {
                let level = (v / max * (BARS.len() - 1) as f64).round() as usize;
                BARS[level.min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_keep_three_figures_and_show_no_data_as_a_dash() {
        assert_eq!(ms(0.0), "–");
        assert_eq!(ms(f64::NAN), "–");
        assert_eq!(ms(0.854), "0.85 ms");
        assert_eq!(ms(12.34), "12.3 ms");
        assert_eq!(ms(456.4), "456 ms");
        assert_eq!(ms(1234.0), "1.23 s");
        assert_eq!(ms(30_000.0), "30.0 s");
        assert_eq!(ms_short(0.5), "500µs");
        assert_eq!(ms_short(1500.0), "1.5s");
    }

    #[test]
    fn clocks_sizes_rates() {
        assert_eq!(clock(Duration::from_secs(65)), "1:05");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        assert_eq!(bytes(512 * 1024), "512 KiB");
        assert_eq!(bytes(45 * 1024 * 1024 + 200 * 1024), "45.2 MiB");
        assert_eq!(rate(12.34), "12.3");
        assert_eq!(rate(12_345.6), "12,346");
        assert_eq!(percent(1.0, 3.0), "33 %");
        assert_eq!(truncate("a-long-team-name", 8), "a-long-…");
    }

    #[test]
    fn sparklines_scale_to_their_maximum_and_keep_gaps() {
        let v = [Some(0.0), Some(50.0), None, Some(100.0)];
        assert_eq!(spark(&v, 10), "▁▅ █");
        assert_eq!(spark(&v, 2), " █");
        assert_eq!(spark(&[Some(0.0), Some(0.0)], 5), "▁▁");
    }
}
