//! Figures as the HTML pages print them: thousands separators, latencies with about three
//! significant figures (what HdrHistogram keeps), percentages and run clocks. "No samples" is a
//! dash, never `0`, so missing data never reads as "instant" or "none failed".

/// `1,234,567`: the verdicts' thousands separators, so figures read the same on every page.
pub use crate::score::words::int;

/// A latency with its unit: `0.85 ms`, `12.3 ms`, `456 ms`, `1.23 s`; `–` for none.
pub fn ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v >= 0.0 => {
            if v < 10.0 {
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
        _ => "–".into(),
    }
}

/// `part` of `whole` as a percentage with two decimals; `–` when `whole` is 0.
pub fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.2} %", part as f64 * 100.0 / whole as f64)
    }
}

/// A plain number with up to `decimals` decimals, trailing zeros dropped: `1.5`, `100`, `0.25`.
pub fn num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Seconds since the start as `m:ss` (`h:mm:ss` past an hour).
pub fn clock(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Bytes as `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1_234_567), "1,234,567");
        assert_eq!(ms(None), "–");
        assert_eq!(ms(Some(0.853)), "0.85 ms");
        assert_eq!(ms(Some(12.34)), "12.3 ms");
        assert_eq!(ms(Some(1234.0)), "1.23 s");
        assert_eq!(pct(1, 0), "–");
        assert_eq!(pct(1, 8), "12.50 %");
        assert_eq!(num(1.50, 2), "1.5");
        assert_eq!(num(100.0, 2), "100");
        assert_eq!(clock(61.4), "1:01");
        assert_eq!(clock(3723.0), "1:02:03");
        assert_eq!(bytes(1536), "1.5 KiB");
    }
}
