//! CSV renderings of a [`RunSummary`] for spreadsheets and plotting: `levels.csv`, `timeline.csv` and
//! `failures.csv`. Rows are serde structs written through the `csv` crate; the header is always
//! written, even with no rows, so a reader can rely on it.
//!
//! Header names are snake_case and stable: renaming or reordering one is a breaking change, and the
//! tests pin them. Latencies are milliseconds, times are seconds since the run started.
//!
//! `levels.csv`, one row per user level: `index, phase, target_users, start_secs, end_secs,
//! incomplete, users_started, users_active, users_connected, vus_passed, vus_failed,
//! vus_failed_in_level, requests_ok, requests_failed, messages_sent, deliveries, deliveries_missing,
//! delivery_p50_ms, delivery_p95_ms, delivery_p99_ms, request_p99_ms, deliveries_late, receipts,
//! receipts_missing, receipt_p99_ms, reaction_updates, reactions_missing, unjudged`, then the failure
//! columns. Everything about deliveries, receipts and reaction updates (counts, latency, findings)
//! belongs to the level the message, mark or reaction was *sent* in, wherever it arrived.
//!
//! `timeline.csv`, one row per second: `t_secs, level, target_users, active_users, connected_users,
//! vus_failed, requests_ok, requests_failed, messages_sent, messages_delivered, delivery_p50_ms,
//! delivery_p95_ms, delivery_p99_ms, request_p99_ms, scheduler_lag_ms, cpu_percent`, then the
//! failure columns. Unlike the levels, the timeline counts by *arrival*: a second's deliveries and
//! delivery latency are those of the copies that arrived in it.
//!
//! A latency cell with no sample behind it is empty, not 0: delivery percentiles of a level without
//! deliveries or a second in which none arrived, `receipt_p99_ms` without receipts, `request_p99_ms`
//! without requests. (`summary.json` keeps 0 there, with the count beside it.)
//!
//! Failure columns: one `failures_<kind>` per [`FailureKind`] in [`FailureKind::ALL`] order
//! (`failures_connect_refused` … `failures_delivery_reordered`), 0 when the kind did not occur, then
//! `failures_other` for kind names this build does not know (from a newer summary), so a row's
//! failure columns always add up to its failures.
//!
//! `failures.csv`, one row per (kind, operation): `kind, op, count, samples`, the sampled messages
//! joined with `" | "`.

use std::collections::BTreeMap;
use std::io;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::base::kinds::FailureKind;
use crate::base::summary::{FailureRow, LevelRow, RunSummary, TimelineRow};

/// Names of the per-kind failure columns, in [`FailureKind::ALL`] order. Static because serde field
/// names must be; a test keeps it in step with the kinds, and its length is tied to
/// [`FailureKind::COUNT`] so a new kind does not compile without a column.
pub const FAILURE_COLUMNS: [&str; FailureKind::COUNT] = [
    "failures_connect_refused",
    "failures_connection_reset",
    "failures_transport",
    "failures_timeout",
    "failures_http_status",
    "failures_connect_error",
    "failures_join_room_error",
    "failures_unexpected_disconnect",
    "failures_ping_timeout",
    "failures_protocol",
    "failures_server_error",
    "failures_session_ended",
    "failures_delivery_missing",
    "failures_delivery_duplicate",
    "failures_delivery_reordered",
    "failures_receipt_missing",
    "failures_receipt_duplicate",
    "failures_reaction_missing",
];

/// Column for failure kinds outside [`FailureKind::ALL`].
pub const FAILURE_OTHER_COLUMN: &str = "failures_other";

/// Columns of `levels.csv` before the failure columns.
pub const LEVEL_COLUMNS: [&str; 28] = [
    "index",
    "phase",
    "target_users",
    "start_secs",
    "end_secs",
    "incomplete",
    "users_started",
    "users_active",
    "users_connected",
    "vus_passed",
    "vus_failed",
    "vus_failed_in_level",
    "requests_ok",
    "requests_failed",
    "messages_sent",
    "deliveries",
    "deliveries_missing",
    "delivery_p50_ms",
    "delivery_p95_ms",
    "delivery_p99_ms",
    "request_p99_ms",
    "deliveries_late",
    "receipts",
    "receipts_missing",
    "receipt_p99_ms",
    "reaction_updates",
    "reactions_missing",
    "unjudged",
];

/// Columns of `timeline.csv` before the failure columns.
pub const TIMELINE_COLUMNS: [&str; 16] = [
    "t_secs",
    "level",
    "target_users",
    "active_users",
    "connected_users",
    "vus_failed",
    "requests_ok",
    "requests_failed",
    "messages_sent",
    "messages_delivered",
    "delivery_p50_ms",
    "delivery_p95_ms",
    "delivery_p99_ms",
    "request_p99_ms",
    "scheduler_lag_ms",
    "cpu_percent",
];

/// Columns of `failures.csv`.
pub const FAILURE_ROW_COLUMNS: [&str; 4] = ["kind", "op", "count", "samples"];

/// Separator of sampled messages in `failures.csv`.
pub const SAMPLE_SEPARATOR: &str = " | ";

#[derive(serde::Serialize)]
struct LevelCsv<'a> {
    index: u32,
    phase: &'a str,
    target_users: u32,
    start_secs: f64,
    end_secs: f64,
    incomplete: bool,
    users_started: u64,
    users_active: u64,
    users_connected: u64,
    vus_passed: u64,
    vus_failed: u64,
    vus_failed_in_level: u64,
    requests_ok: u64,
    requests_failed: u64,
    messages_sent: u64,
    deliveries: u64,
    deliveries_missing: u64,
    delivery_p50_ms: Option<f64>,
    delivery_p95_ms: Option<f64>,
    delivery_p99_ms: Option<f64>,
    request_p99_ms: Option<f64>,
    deliveries_late: u64,
    receipts: u64,
    receipts_missing: u64,
    receipt_p99_ms: Option<f64>,
    reaction_updates: u64,
    reactions_missing: u64,
    unjudged: u64,
}

impl<'a> From<&'a LevelRow> for LevelCsv<'a> {
    fn from(l: &'a LevelRow) -> Self {
        let delivered = l.deliveries > 0;
        // Older summaries carry no request histogram; their request count says the same.
        let requested = !l.request_histogram.is_empty() || l.requests.ok + l.requests.failed > 0;
        LevelCsv {
            index: l.index,
            phase: &l.phase,
            target_users: l.target_users,
            start_secs: l.start_secs,
            end_secs: l.end_secs,
            incomplete: l.incomplete,
            users_started: l.users_started,
            users_active: l.users_active,
            users_connected: l.users_connected,
            vus_passed: l.vus_passed,
            vus_failed: l.vus_failed,
            vus_failed_in_level: l.vus_failed_in_level,
            requests_ok: l.requests.ok,
            requests_failed: l.requests.failed,
            messages_sent: l.messages_sent,
            deliveries: l.deliveries,
            deliveries_missing: l.deliveries_missing,
            delivery_p50_ms: measured(l.delivery_p50_ms, delivered),
            delivery_p95_ms: measured(l.delivery_p95_ms, delivered),
            delivery_p99_ms: measured(l.delivery_p99_ms, delivered),
            request_p99_ms: measured(l.request_p99_ms, requested),
            deliveries_late: l.deliveries_late,
            receipts: l.receipts,
            receipts_missing: l.receipts_missing,
            receipt_p99_ms: measured(l.receipt_p99_ms, l.receipts > 0),
            reaction_updates: l.reaction_updates,
            reactions_missing: l.reactions_missing,
            unjudged: l.unjudged,
        }
    }
}

#[derive(serde::Serialize)]
struct TimelineCsv {
    t_secs: f64,
    level: u32,
    target_users: u32,
    active_users: u64,
    connected_users: u64,
    vus_failed: u64,
    requests_ok: u64,
    requests_failed: u64,
    messages_sent: u64,
    messages_delivered: u64,
    delivery_p50_ms: Option<f64>,
    delivery_p95_ms: Option<f64>,
    delivery_p99_ms: Option<f64>,
    request_p99_ms: Option<f64>,
    scheduler_lag_ms: f64,
    cpu_percent: f64,
}

impl From<&TimelineRow> for TimelineCsv {
    fn from(t: &TimelineRow) -> Self {
        let delivered = t.messages_delivered > 0;
        let requested = t.requests_ok + t.requests_failed > 0;
        TimelineCsv {
            t_secs: t.t_secs,
            level: t.level,
            target_users: t.target_users,
            active_users: t.active_users,
            connected_users: t.connected_users,
            vus_failed: t.vus_failed,
            requests_ok: t.requests_ok,
            requests_failed: t.requests_failed,
            messages_sent: t.messages_sent,
            messages_delivered: t.messages_delivered,
            delivery_p50_ms: measured(t.delivery_p50_ms, delivered),
            delivery_p95_ms: measured(t.delivery_p95_ms, delivered),
            delivery_p99_ms: measured(t.delivery_p99_ms, delivered),
            request_p99_ms: measured(t.request_p99_ms, requested),
            scheduler_lag_ms: t.scheduler_lag_ms,
            cpu_percent: t.cpu_percent,
        }
    }
}

/// A latency cell: the value when samples were behind it, else `None`, which the `csv` crate writes
/// as an empty cell (a 0.0 would read as "instant").
fn measured(value: f64, samples: bool) -> Option<f64> {
    samples.then_some(value)
}

#[derive(serde::Serialize)]
struct FailureCsv {
    kind: &'static str,
    op: &'static str,
    count: u64,
    samples: String,
}

/// A failures map spread over the fixed [`FAILURE_COLUMNS`] plus [`FAILURE_OTHER_COLUMN`]. Serialized
/// as a struct (not a map, which the `csv` crate refuses) so it can follow a row struct in a tuple.
struct FailureColumns {
    by_kind: [u64; FailureKind::COUNT],
    other: u64,
}

impl FailureColumns {
    fn new(failures: &BTreeMap<String, u64>) -> Self {
        let mut cols = FailureColumns {
            by_kind: [0; FailureKind::COUNT],
            other: 0,
        };
        for (name, &count) in failures {
            match FailureKind::ALL.iter().find(|k| k.name() == name) {
                Some(k) => cols.by_kind[k.index()] += count,
                None => cols.other += count,
            }
        }
        cols
    }
}

impl Serialize for FailureColumns {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("FailureColumns", FailureKind::COUNT + 1)?;
        for (name, count) in FAILURE_COLUMNS.iter().zip(&self.by_kind) {
            s.serialize_field(name, count)?;
        }
        s.serialize_field(FAILURE_OTHER_COLUMN, &self.other)?;
        s.end()
    }
}

fn header<'a>(fixed: &'a [&'a str]) -> impl Iterator<Item = &'a str> {
    fixed
        .iter()
        .copied()
        .chain(FAILURE_COLUMNS)
        .chain([FAILURE_OTHER_COLUMN])
}

/// A writer whose header is written by hand, once, so it is there even without rows.
fn writer<W: io::Write>(out: W) -> ::csv::Writer<W> {
    ::csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out)
}

/// Writes `levels.csv`.
pub fn write_levels<W: io::Write>(out: W, summary: &RunSummary) -> Result<(), ::csv::Error> {
    let mut w = writer(out);
    w.write_record(header(&LEVEL_COLUMNS))?;
    for l in &summary.levels {
        w.serialize((LevelCsv::from(l), FailureColumns::new(&l.failures)))?;
    }
    w.flush()?;
    Ok(())
}

/// Writes `timeline.csv`.
pub fn write_timeline<W: io::Write>(out: W, summary: &RunSummary) -> Result<(), ::csv::Error> {
    let mut w = writer(out);
    w.write_record(header(&TIMELINE_COLUMNS))?;
    for t in &summary.timeline {
        w.serialize((TimelineCsv::from(t), FailureColumns::new(&t.failures)))?;
    }
    w.flush()?;
    Ok(())
}

/// Writes `failures.csv`.
pub fn write_failures<W: io::Write>(out: W, summary: &RunSummary) -> Result<(), ::csv::Error> {
    let mut w = writer(out);
    w.write_record(FAILURE_ROW_COLUMNS)?;
    for f in &summary.failures {
        w.serialize(failure_row(f))?;
    }
    w.flush()?;
    Ok(())
}

fn failure_row(f: &FailureRow) -> FailureCsv {
    FailureCsv {
        kind: f.kind.name(),
        op: f.op.name(),
        count: f.count,
        samples: f.samples.join(SAMPLE_SEPARATOR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    type Table = (Vec<String>, Vec<Vec<String>>);

    fn read(bytes: &[u8]) -> Table {
        let mut r = ::csv::Reader::from_reader(bytes);
        let header = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| rec.unwrap().iter().map(String::from).collect())
            .collect();
        (header, rows)
    }

    fn render(
        f: fn(&mut Vec<u8>, &RunSummary) -> Result<(), ::csv::Error>,
        s: &RunSummary,
    ) -> Table {
        let mut buf = Vec::new();
        f(&mut buf, s).unwrap();
        read(&buf)
    }

    fn col<'a>(t: &'a Table, row: usize, name: &str) -> &'a str {
        let i =
            t.0.iter()
                .position(|h| h == name)
                .unwrap_or_else(|| panic!("no column {name}"));
        &t.1[row][i]
    }

    #[test]
    fn failure_columns_follow_the_kinds() {
        for (k, col) in FailureKind::ALL.iter().zip(FAILURE_COLUMNS) {
            assert_eq!(col, format!("failures_{}", k.name()));
        }
    }

    /// The serde structs must produce exactly the documented header, in order; the hand-written
    /// header is what the file gets, so a renamed field would otherwise go unnoticed.
    #[test]
    fn serde_field_names_match_the_documented_header() {
        fn serde_header<T: Serialize>(row: T) -> Vec<String> {
            let mut w = ::csv::Writer::from_writer(Vec::new());
            w.serialize(row).unwrap();
            read(&w.into_inner().unwrap()).0
        }
        let s = fixture::summary();
        let cols = |fixed: &[&str]| header(fixed).map(String::from).collect::<Vec<_>>();
        let l = &s.levels[0];
        assert_eq!(
            serde_header((LevelCsv::from(l), FailureColumns::new(&l.failures))),
            cols(&LEVEL_COLUMNS)
        );
        let t = &s.timeline[0];
        assert_eq!(
            serde_header((TimelineCsv::from(t), FailureColumns::new(&t.failures))),
            cols(&TIMELINE_COLUMNS)
        );
        assert_eq!(
            serde_header(failure_row(&s.failures[0])),
            FAILURE_ROW_COLUMNS
        );
    }

    #[test]
    fn levels_one_row_per_level() {
        let s = fixture::summary();
        let t = render(|w, s| write_levels(w, s), &s);
        assert_eq!(t.0.len(), LEVEL_COLUMNS.len() + FailureKind::COUNT + 1);
        assert_eq!(t.1.len(), 3);
        assert_eq!(col(&t, 2, "target_users"), "300");
        assert_eq!(col(&t, 2, "incomplete"), "true");
        assert_eq!(col(&t, 2, "end_secs"), "71.5");
        assert_eq!(col(&t, 1, "requests_ok"), "3000");
        assert_eq!(col(&t, 1, "requests_failed"), "7");
        assert_eq!(col(&t, 2, "failures_timeout"), "9");
        assert_eq!(col(&t, 2, "failures_delivery_missing"), "2");
        assert_eq!(col(&t, 2, "failures_connect_refused"), "0");
        assert_eq!(col(&t, 0, "failures_other"), "0");
        assert_eq!(
            col(&t, 2, "delivery_p99_ms").parse::<f64>().unwrap(),
            s.levels[2].delivery_p99_ms
        );
    }

    #[test]
    fn unknown_failure_kinds_go_to_other() {
        let mut s = fixture::summary();
        s.timeline[0].failures = [
            ("timeout".to_string(), 2),
            ("teleport_failed".to_string(), 5),
        ]
        .into_iter()
        .collect();
        let t = render(|w, s| write_timeline(w, s), &s);
        assert_eq!(col(&t, 0, "failures_timeout"), "2");
        assert_eq!(col(&t, 0, "failures_other"), "5");
    }

    #[test]
    fn timeline_one_row_per_second() {
        let s = fixture::summary();
        let t = render(|w, s| write_timeline(w, s), &s);
        assert_eq!(t.0[..TIMELINE_COLUMNS.len()], TIMELINE_COLUMNS);
        assert_eq!(t.1.len(), s.timeline.len());
        assert_eq!(col(&t, 0, "t_secs"), "1.0");
        assert_eq!(col(&t, 0, "failures_connect_refused"), "1");
        assert_eq!(col(&t, 1, "failures_connect_refused"), "0");
        assert_eq!(col(&t, 4, "cpu_percent"), "40.0");
    }

    #[test]
    fn latency_cells_without_samples_are_empty() {
        let mut s = fixture::summary();
        let l = &mut s.levels[0];
        (l.deliveries, l.receipts) = (0, 0);
        (l.requests.ok, l.requests.failed) = (0, 0);
        l.request_histogram.clear();
        (l.delivery_p50_ms, l.delivery_p99_ms, l.request_p99_ms) = (0.0, 0.0, 0.0);
        s.levels[1].deliveries = 5;
        s.levels[1].delivery_p99_ms = 0.0;
        let t = &mut s.timeline[0];
        (t.messages_delivered, t.requests_ok, t.requests_failed) = (0, 0, 0);
        let levels = render(|w, s| write_levels(w, s), &s);
        for column in [
            "delivery_p50_ms",
            "delivery_p95_ms",
            "delivery_p99_ms",
            "request_p99_ms",
            "receipt_p99_ms",
        ] {
            assert_eq!(col(&levels, 0, column), "", "{column}");
        }
        assert_eq!(col(&levels, 0, "deliveries"), "0", "counts stay 0");
        assert_eq!(
            col(&levels, 1, "delivery_p99_ms"),
            "0.0",
            "a measured 0 is still written"
        );
        let timeline = render(|w, s| write_timeline(w, s), &s);
        for column in ["delivery_p50_ms", "delivery_p99_ms", "request_p99_ms"] {
            assert_eq!(col(&timeline, 0, column), "", "{column}");
        }
        assert_ne!(col(&timeline, 0, "cpu_percent"), "");
    }

    #[test]
    fn failures_join_samples() {
        let s = fixture::summary();
        let t = render(|w, s| write_failures(w, s), &s);
        assert_eq!(t.0, FAILURE_ROW_COLUMNS);
        assert_eq!(t.1.len(), s.failures.len());
        assert_eq!(t.1[0][0..3], ["timeout", "join_room", "13"]);
        assert_eq!(
            t.1[0][3],
            "joinRoom: no joinRoomSuccess within 30s | joinRoom: no joinRoomSuccess within 30s (room r-7)"
        );
        assert_eq!(t.1[3][3], "", "no samples is an empty cell");
    }

    #[test]
    fn empty_tables_still_have_headers() {
        let mut s = fixture::summary();
        s.levels.clear();
        s.timeline.clear();
        s.failures.clear();
        let t = render(|w, s| write_levels(w, s), &s);
        assert_eq!(t.0[0], "index");
        assert!(t.1.is_empty());
        let t = render(|w, s| write_timeline(w, s), &s);
        assert_eq!(t.0[0], "t_secs");
        let t = render(|w, s| write_failures(w, s), &s);
        assert_eq!(t.0, FAILURE_ROW_COLUMNS);
    }
}
