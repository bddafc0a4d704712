//! The human summary printed at the end of a run (and saved as `summary.txt`).
//!
//! Plain text, no colours, at most [`WIDTH`] columns: prose is wrapped and long samples are cut.
//! It shows what a person deciding "did the server hold?" needs first (totals, latency, levels,
//! failures, thresholds), then how far to trust it (generator health, measurement notes). Everything
//! comes from the [`RunSummary`]; nothing is computed here that the JSON does not also hold.

use std::fmt::Write as _;

use super::thresholds::describe;
use crate::base::spec::Threshold;
use crate::base::summary::{RunSummary, ThresholdResult};

/// Widest line the summary prints.
pub const WIDTH: usize = 100;

/// How many failure rows the summary lists (the CSV has them all).
const TOP_FAILURES: usize = 10;

/// Renders the summary of a run.
pub fn render_text(s: &RunSummary) -> String {
    let mut out = String::new();
    header(&mut out, s);
    totals(&mut out, s);
    latency(&mut out, s);
    levels(&mut out, s);
    failures(&mut out, s);
    thresholds(&mut out, s);
    generator(&mut out, s);
    notes(&mut out, s);
    out
}

fn header(out: &mut String, s: &RunSummary) {
    let _ = writeln!(out, "{} {} run summary", s.tool.name, s.tool.version);
    let team = s
        .team
        .as_ref()
        .map(|t| format!(" (team {t})"))
        .unwrap_or_default();
    field(out, "target", &format!("{}{team}", s.target));
    field(
        out,
        "scenario",
        &format!(
            "{} (seed {}, time scale {})",
            s.scenario, s.seed, s.time_scale
        ),
    );
    field(out, "started", &s.started_at);
    let mut duration = format!(
        "{:.1} s of {:.1} s planned",
        s.duration_secs, s.planned_duration_secs
    );
    if s.partial {
        duration.push_str(" -- PARTIAL");
        if let Some(reason) = &s.stop_reason {
            let _ = write!(duration, ": {reason}");
        }
        duration.push_str(" (figures cover only the part that ran)");
    } else if let Some(reason) = &s.stop_reason {
        let _ = write!(duration, " (stopped: {reason})");
    }
    field(out, "duration", &duration);
}

fn totals(out: &mut String, s: &RunSummary) {
    out.push('\n');
    let u = &s.users;
    field(
        out,
        "users",
        &format!(
            "started {} of {} planned, passed {}, failed {} ({}), peak connected {}",
            u.started,
            u.planned,
            u.passed,
            u.failed,
            pct(u.failed, u.started),
            u.peak_connected
        ),
    );
    let r = &s.requests;
    let all = r.ok.saturating_add(r.failed);
    field(
        out,
        "requests",
        &format!(
            "ok {}, failed {} (failure ratio {})",
            r.ok,
            r.failed,
            pct(r.failed, all)
        ),
    );
    let m = &s.messages;
    let mut messages = format!(
        "sent {}, echoed {}, delivered {} of {} expected, missing {}, duplicate {}, reordered {}, \
         late {} (over {} ms)",
        m.sent,
        m.echoed,
        m.delivered,
        m.deliveries_expected,
        m.missing,
        m.duplicate,
        m.reordered,
        m.late,
        s.verify.late_after_ms
    );
    if m.unjudged + m.echoes_unjudged > 0 {
        let _ = write!(
            messages,
            "; UNJUDGED {} deliveries and {} echoes (the run was stopped again before they \
             could be judged; not counted as delivered or missing)",
            m.unjudged, m.echoes_unjudged
        );
    }
    if m.resyncs > 0 {
        let _ = write!(
            messages,
            "; resync {} (the server skipped room events it could not deliver)",
            m.resyncs
        );
    }
    field(out, "messages", &messages);
    let (r, x) = (&s.receipts, &s.reactions);
    let mut receipts = format!(
        "marks {}, told {} of {} expected, missing {}, duplicate {}; reactions seen {} of {} \
         expected, missing {}",
        r.marks,
        r.delivered,
        r.expected,
        r.missing,
        r.duplicate,
        x.delivered,
        x.expected,
        x.missing
    );
    if r.unjudged + x.unjudged > 0 {
        let _ = write!(
            receipts,
            "; UNJUDGED {} receipts and {} reaction updates",
            r.unjudged, x.unjudged
        );
    }
    field(out, "receipts", &receipts);
}

fn latency(out: &mut String, s: &RunSummary) {
    section(out, "Latency (ms)");
    if s.latency.is_empty() {
        out.push_str("  (no operation completed)\n");
        return;
    }
    let mut t = Table::new(&["op", "count", "p50", "p95", "p99", "max"]);
    for l in &s.latency {
        t.row(vec![
            l.op.name().to_string(),
            l.count.to_string(),
            ms(l.p50_ms),
            ms(l.p95_ms),
            ms(l.p99_ms),
            ms(l.max_ms),
        ]);
    }
    t.render(out);
}

fn levels(out: &mut String, s: &RunSummary) {
    section(out, "Levels");
    if s.levels.is_empty() {
        out.push_str("  (no level reached)\n");
        return;
    }
    let mut t = Table::new(&[
        "level",
        "users",
        "passed",
        "failed",
        "failed in lvl",
        "req ok",
        "req failed",
        "dlv p99 ms",
        "late",
        "rcpt miss",
    ]);
    let mut incomplete = false;
    let mut unjudged = 0;
    for l in &s.levels {
        incomplete |= l.incomplete;
        unjudged += l.unjudged;
        t.row(vec![
            format!("{}{}", l.index, if l.incomplete { "*" } else { "" }),
            l.target_users.to_string(),
            l.vus_passed.to_string(),
            l.vus_failed.to_string(),
            l.vus_failed_in_level.to_string(),
            l.requests.ok.to_string(),
            l.requests.failed.to_string(),
            if l.deliveries == 0 {
                "-".to_string()
            } else {
                ms(l.delivery_p99_ms)
            },
            l.deliveries_late.to_string(),
            (l.receipts_missing + l.reactions_missing).to_string(),
        ]);
    }
    t.render(out);
    if incomplete {
        out.push_str("  * cut short when the run ended\n");
    }
    wrap(
        out,
        "Deliveries, receipts and their latency belong to the level the message or mark was sent \
         in; late = delivered but slower than the late bound; rcpt miss = read receipts and \
         reaction updates some member was never told.",
        "  ",
        "  ",
    );
    if unjudged > 0 {
        let _ = writeln!(
            out,
            "  {unjudged} deliveries, echoes and receipts were left unjudged (the run was stopped \
             again while waiting for them)"
        );
    }
}

fn failures(out: &mut String, s: &RunSummary) {
    section(out, "Top failures");
    if s.failures.is_empty() {
        out.push_str("  (none)\n");
        return;
    }
    let mut rows: Vec<_> = s.failures.iter().collect();
    // Most frequent first; ties in report order of kind, then operation, so the listing is stable.
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(a.kind.cmp(&b.kind))
            .then(a.op.cmp(&b.op))
    });
    let mut t = Table::new(&["count", "kind", "op", "sample"]);
    t.left(&[1, 2, 3]);
    for f in rows.iter().take(TOP_FAILURES) {
        t.row(vec![
            f.count.to_string(),
            f.kind.name().to_string(),
            f.op.name().to_string(),
            f.samples.first().cloned().unwrap_or_default(),
        ]);
    }
    t.render(out);
    if rows.len() > TOP_FAILURES {
        let _ = writeln!(
            out,
            "  ... and {} more (see failures.csv)",
            rows.len() - TOP_FAILURES
        );
    }
}

fn thresholds(out: &mut String, s: &RunSummary) {
    if s.thresholds.is_empty() {
        return;
    }
    let held = s.thresholds.iter().filter(|t| t.passed).count();
    section(
        out,
        &format!("Thresholds: {held} of {} held", s.thresholds.len()),
    );
    let mut t = Table::new(&["rule", "actual"]);
    t.left(&[0, 1]);
    t.headerless();
    for r in &s.thresholds {
        let mark = if r.passed { "✓" } else { "✗" };
        t.row(vec![
            format!("{mark} {}", describe(&r.threshold)),
            actual(r),
        ]);
    }
    t.render(out);
}

fn actual(r: &ThresholdResult) -> String {
    match (r.actual, &r.threshold) {
        (None, _) => r.note.clone().unwrap_or_else(|| "not measured".into()),
        (Some(v), Threshold::Latency { .. }) => format!("actual {} ms", ms(v)),
        (
            Some(v),
            Threshold::DeliveryMissing { .. }
            | Threshold::ReceiptMissing { .. }
            | Threshold::ReactionMissing { .. },
        ) => format!("actual {v}"),
        (Some(v), _) => format!("actual {v:.4}"),
    }
}

fn generator(out: &mut String, s: &RunSummary) {
    section(out, "Load generator");
    let g = &s.generator;
    let mib = g.peak_rss_bytes as f64 / (1024.0 * 1024.0);
    wrap(
        out,
        &format!(
            "CPU mean {:.1}%, max {:.1}% of one core ({} cores); scheduler lag p99 {} ms, \
             max {} ms; peak RSS {mib:.1} MiB",
            g.cpu_percent_mean,
            g.cpu_percent_max,
            g.cores,
            ms(g.scheduler_lag_p99_ms),
            ms(g.scheduler_lag_max_ms),
        ),
        "  ",
        "  ",
    );
    if g.bottleneck {
        out.push_str(&format!("  {}\n", "!".repeat(WIDTH - 2)));
        wrap(
            out,
            "WARNING: THE LOAD GENERATOR MAY HAVE BEEN THE BOTTLENECK. Latency and failures above \
             may be the generator's, not the target's. Re-run with more generator capacity \
             (or fewer users) before trusting or comparing these results.",
            "  ! ",
            "  ! ",
        );
        out.push_str(&format!("  {}\n", "!".repeat(WIDTH - 2)));
    }
    for w in &g.warnings {
        wrap(out, &format!("- {w}"), "  ", "    ");
    }
}

fn notes(out: &mut String, s: &RunSummary) {
    section(out, "Measurement");
    if s.measurement_notes.is_empty() {
        out.push_str("  (no measurement notes recorded)\n");
    }
    for n in &s.measurement_notes {
        wrap(out, n, "  ", "  ");
    }
}

// ---- formatting helpers ----

/// Milliseconds with about three significant figures (HdrHistogram keeps three).
fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "0.00%".into()
    } else {
        format!("{:.2}%", part as f64 * 100.0 / whole as f64)
    }
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}");
}

fn field(out: &mut String, name: &str, value: &str) {
    let first = format!("  {name:<10} ");
    wrap(out, value, &first, &" ".repeat(first.len()));
}

/// Word-wraps `text` to [`WIDTH`], the first line after `first`, the rest after `rest` (both the
/// same width). A word longer than a line is cut, so no line ever exceeds the width.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    let room = WIDTH.saturating_sub(first.chars().count()).max(10);
    let mut line = String::new();
    let mut prefix = first.to_string();
    for word in text.split_whitespace() {
        let word = clip(word, room);
        let len = line.chars().count();
        if len > 0 && len + 1 + word.chars().count() > room {
            let _ = writeln!(out, "{}", format!("{prefix}{line}").trim_end());
            rest.clone_into(&mut prefix);
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    let _ = writeln!(out, "{}", format!("{prefix}{line}").trim_end());
}

/// `s` cut to at most `max` characters, ending in `…` when cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(max.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

/// A table with a two-space margin and two spaces between columns. Columns are right-aligned
/// (numbers) unless marked left; the last column is cut so a line fits [`WIDTH`].
struct Table {
    header: Vec<String>,
    left: Vec<bool>,
    show_header: bool,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        let mut left = vec![false; header.len()];
        left[0] = true;
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            left,
            show_header: true,
            rows: Vec::new(),
        }
    }

    /// Marks columns as left-aligned (text); column 0 already is. Column 0 becomes right-aligned
    /// unless listed, for tables that lead with a number.
    fn left(&mut self, cols: &[usize]) {
        self.left = (0..self.header.len()).map(|i| cols.contains(&i)).collect();
    }

    fn headerless(&mut self) {
        self.show_header = false;
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let n = self.header.len();
        let mut widths: Vec<usize> = (0..n)
            .map(|i| {
                self.rows
                    .iter()
                    .map(|r| r[i].chars().count())
                    .chain(self.show_header.then(|| self.header[i].chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Margin, the columns before the last, and the gaps between them.
        let fixed: usize = 2 + widths[..n - 1].iter().sum::<usize>() + 2 * (n - 1);
        widths[n - 1] = widths[n - 1].min(WIDTH.saturating_sub(fixed));
        let header = self.show_header.then_some(&self.header);
        for cells in header.into_iter().chain(&self.rows) {
            let mut line = String::from("  ");
            for (i, cell) in cells.iter().enumerate() {
                let cell = clip(cell, widths[i]);
                let pad = widths[i] - cell.chars().count();
                if i > 0 {
                    line.push_str("  ");
                }
                if self.left[i] {
                    line.push_str(&cell);
                    // No trailing spaces after the last column.
                    if i + 1 < n {
                        line.push_str(&" ".repeat(pad));
                    }
                } else {
                    line.push_str(&" ".repeat(pad));
                    line.push_str(&cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    fn lines_after<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
        text.lines()
            .skip_while(|l| !l.starts_with(title))
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect()
    }

    #[test]
    fn fits_the_width() {
        let mut s = fixture::summary();
        s.failures[0].samples[0] = "x".repeat(300);
        s.generator
            .warnings
            .push(format!("long {}", "word ".repeat(60)));
        s.measurement_notes.push("y".repeat(150));
        let text = render_text(&s);
        for line in text.lines() {
            assert!(
                line.chars().count() <= WIDTH,
                "{} > {WIDTH}: {line}",
                line.len()
            );
            assert_eq!(line, line.trim_end(), "trailing spaces: {line:?}");
        }
    }

    #[test]
    fn shows_the_headline_figures() {
        let text = render_text(&fixture::summary());
        for needle in [
            "target     http://127.0.0.1:5000 (team team-a)",
            "scenario   competition (seed 42, time scale 1)",
            "PARTIAL: interrupted (Ctrl-C)",
            "started 300 of 300 planned, passed 294, failed 6 (2.00%), peak connected 292",
            "ok 9000, failed 21 (failure ratio 0.23%)",
            "delivered 2000 of 2003 expected, missing 3, duplicate 1,",
            "             reordered 2",
            "Thresholds: 2 of 5 held",
            "✓ vu_failure_ratio <= 0.05",
            "✗ latency p99 of delivery <= 100 ms  actual 178 ms",
            "not measured: `upload` recorded no samples",
            "THE LOAD GENERATOR MAY HAVE BEEN THE BOTTLENECK",
            "- CPU at or above 90% of all cores",
            "corrected for coordinated",
            "* cut short when the run ended",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn a_complete_run_is_not_called_partial() {
        let mut s = fixture::summary();
        s.partial = false;
        s.stop_reason = None;
        s.generator.bottleneck = false;
        let text = render_text(&s);
        assert!(!text.contains("PARTIAL"));
        assert!(!text.contains("BOTTLENECK"));
    }

    #[test]
    fn latency_table_is_aligned() {
        let s = fixture::summary();
        let text = render_text(&s);
        let table = lines_after(&text, "Latency (ms)");
        assert_eq!(table.len(), 1 + s.latency.len());
        // Right-aligned numbers end in the same column on every line.
        let len = table[0].chars().count();
        assert!(table.iter().all(|l| l.chars().count() == len), "{table:#?}");
        assert!(table[0].starts_with("  op "));
        let delivery = table.iter().find(|l| l.contains("delivery")).unwrap();
        let d = s.latency_of(crate::metrics::Op::Delivery).unwrap();
        assert!(delivery.ends_with(&ms(d.max_ms)), "{delivery}");
        assert!(delivery.contains(&format!(" {} ", d.count)));
    }

    #[test]
    fn levels_and_failures_are_listed() {
        let s = fixture::summary();
        let text = render_text(&s);
        let levels = lines_after(&text, "Levels");
        assert_eq!(levels.len(), 1 + 3 + 4, "{levels:#?}");
        assert!(levels.iter().all(|l| l.chars().count() <= WIDTH));
        assert!(!levels[0].contains('…'), "the header fits: {}", levels[0]);
        assert!(levels[0].ends_with("late  rcpt miss"), "{}", levels[0]);
        assert!(levels[3].trim_start().starts_with("2*"));
        assert!(levels[3].ends_with("2          1"), "{}", levels[3]);
        let failures = lines_after(&text, "Top failures");
        // Most frequent first, one sample each.
        assert!(failures[1].contains("13  timeout"), "{failures:#?}");
        assert!(failures[1].ends_with("joinRoom: no joinRoomSuccess within 30s"));
        assert!(failures.iter().any(|l| l.contains("ping_timeout")));
    }

    #[test]
    fn an_empty_run_renders() {
        let mut s = fixture::summary();
        s.latency.clear();
        s.levels.clear();
        s.failures.clear();
        s.thresholds.clear();
        s.measurement_notes.clear();
        s.users = Default::default();
        s.requests = Default::default();
        let text = render_text(&s);
        assert!(text.contains("(no operation completed)"));
        assert!(text.contains("(no level reached)"));
        assert!(text.contains("failed 0 (0.00%)"));
        assert!(!text.contains("Thresholds"));
    }
}
