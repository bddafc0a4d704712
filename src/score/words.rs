//! Numbers as verdicts print them: `3,400 users`, `3.2% > 1.0%`, `1,250 ms`.
//!
//! Only formatting; what the numbers mean belongs to the modules that print them.

/// An integer with thousands separators: `3400` → `3,400`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio and its limit as percentages with enough decimals that they read differently when they
/// differ: `0.0104` vs `0.01` is `1.04% > 1.00%`, not `1.0% > 1.0%`.
pub(crate) fn pct_pair(actual: f64, limit: f64) -> (String, String) {
    pair(actual * 100.0, limit * 100.0, 1, "%")
}

/// Milliseconds and their limit, same idea: `1,250 ms` vs `1,000 ms`, `999.6 ms` vs `999.5 ms`.
pub(crate) fn ms_pair(actual: f64, limit: f64) -> (String, String) {
    let decimals = if actual.max(limit) >= 100.0 { 0 } else { 1 };
    pair(actual, limit, decimals, " ms")
}

fn pair(a: f64, b: f64, min_decimals: usize, unit: &str) -> (String, String) {
    let mut decimals = min_decimals;
    loop {
        let (x, y) = (num(a, decimals), num(b, decimals));
        if x != y || a == b || decimals >= 4 {
            return (format!("{x}{unit}"), format!("{y}{unit}"));
        }
        decimals += 1;
    }
}

/// A non-negative number with thousands separators in its integer part.
fn num(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    match text.split_once('.') {
        Some((whole, frac)) => match whole.parse::<u64>() {
            Ok(w) => format!("{}.{frac}", int(w)),
            Err(_) => text,
        },
        None => text.parse::<u64>().map(int).unwrap_or(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(3400), "3,400");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(int(u64::MAX), "18,446,744,073,709,551,615");
    }

    #[test]
    fn pairs_differ_when_values_do() {
        assert_eq!(
            pct_pair(0.032, 0.01),
            ("3.2%".to_string(), "1.0%".to_string())
        );
        assert_eq!(
            pct_pair(0.0104, 0.01),
            ("1.04%".to_string(), "1.00%".to_string())
        );
        assert_eq!(
            ms_pair(1250.0, 1000.0),
            ("1,250 ms".to_string(), "1,000 ms".to_string())
        );
        assert_eq!(
            ms_pair(1000.4, 1000.0),
            ("1,000.4 ms".to_string(), "1,000.0 ms".to_string())
        );
        assert_eq!(ms_pair(12.34, 12.34).0, "12.3 ms");
    }
}
