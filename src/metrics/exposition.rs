//! A [`Snapshot`] in the Prometheus text exposition format (version 0.0.4), for `--metrics-listen`.
//!
//! It owns the names, help texts and types of every `stampede_*` metric, and keeps counters
//! monotonic across the runs of one command (a match or bracket starts a new engine per run, whose
//! counts start again at 0). It does not serve HTTP: the command line does.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::snapshot::{Percentiles, Snapshot};

/// The `Content-Type` of [`Exposition::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Reads one percentile, in milliseconds, out of [`Percentiles`].
type Field = fn(&Percentiles) -> f64;

/// The quantiles every latency summary exposes, with the snapshot field each comes from.
const QUANTILES: [(&str, Field); 3] = [
    ("0.5", |p| p.p50_ms),
    ("0.95", |p| p.p95_ms),
    ("0.99", |p| p.p99_ms),
];

/// Renders snapshots, remembering what each counter showed so that none ever goes down.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Per series (name and labels as written): what earlier runs counted, and the last raw value.
    counters: HashMap<String, Carried>,
}

/// One counter series across runs.
#[derive(Debug, Default, Clone, Copy)]
struct Carried {
    /// The totals of runs that have ended (their counts are added under the new run's).
    base: u64,
    /// The last raw value seen; a smaller one means a new run started.
    last: u64,
}

impl Exposition {
    /// A renderer with no history.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// The snapshot as exposition text: every family once, with `# HELP` and `# TYPE`, its samples
    /// one per team (and per kind, result, operation or quantile).
    pub fn render(&mut self, s: &Snapshot) -> String {
        let mut out = Out {
            text: String::with_capacity(8 * 1024),
            counters: &mut self.counters,
        };
        let run = [
            (
                "stampede_run_elapsed_seconds",
                "Time since the run started.",
                s.elapsed.as_secs_f64(),
            ),
            (
                "stampede_run_planned_seconds",
                "Planned length of the run.",
                s.planned.as_secs_f64(),
            ),
            (
                "stampede_level",
                "Index of the level (ramp step) in force, from 0.",
                f64::from(s.level),
            ),
            (
                "stampede_levels",
                "Number of levels in the plan.",
                f64::from(s.levels),
            ),
            (
                "stampede_target_users",
                "Users the load shape aims for now.",
                f64::from(s.target_users),
            ),
            (
                "stampede_run_draining",
                "1 while the load has stopped and the run waits for what is still awaited.",
                bool_value(s.draining),
            ),
            (
                "stampede_run_done",
                "1 once the run has ended.",
                bool_value(s.done),
            ),
        ];
        for (name, help, value) in run {
            out.family(name, "gauge", help);
            out.sample(name, &[], value);
        }

        let teams = &s.teams;
        out.team_gauges(
            "stampede_users_active",
            "Virtual users running.",
            teams,
            |t| t.gauges.active,
        );
        out.team_gauges(
            "stampede_users_connected",
            "Virtual users holding an open socket.",
            teams,
            |t| t.gauges.connected,
        );
        out.team_counters(
            "stampede_users_started_total",
            "Virtual users started.",
            teams,
            |t| t.gauges.started,
        );
        out.team_counters(
            "stampede_users_failed_total",
            "Virtual users that failed (a user stops at its first failure).",
            teams,
            |t| t.gauges.failed,
        );

        out.family(
            "stampede_requests_total",
            "counter",
            "Requests made, by result.",
        );
        for t in teams {
            for (result, n) in [("ok", t.requests.ok), ("failed", t.requests.failed)] {
                out.counter(
                    "stampede_requests_total",
                    &[("team", &t.name), ("result", result)],
                    n,
                );
            }
        }

        out.family(
            "stampede_failures_total",
            "counter",
            "Failures by kind (only kinds that occurred).",
        );
        for t in teams {
            for &(kind, n) in &t.failures {
                out.counter(
                    "stampede_failures_total",
                    &[("team", &t.name), ("kind", kind.name())],
                    n,
                );
            }
        }

        out.team_counters(
            "stampede_messages_sent_total",
            "Chat messages sent.",
            teams,
            |t| t.messages_sent,
        );
        out.family(
            "stampede_deliveries_total",
            "counter",
            "Deliveries of chat messages to other members, by result: delivered (verified) or \
             missing (past the deadline).",
        );
        for t in teams {
            for (result, n) in [("delivered", t.delivered), ("missing", t.missing)] {
                out.counter(
                    "stampede_deliveries_total",
                    &[("team", &t.name), ("result", result)],
                    n,
                );
            }
        }
        out.team_counters(
            "stampede_deliveries_late_total",
            "Deliveries verified but slower than the late bound.",
            teams,
            |t| t.late,
        );
        out.family(
            "stampede_receipts_total",
            "counter",
            "Read receipts owed to other members, by result.",
        );
        for t in teams {
            let r = &t.receipts;
            for (result, n) in [
                ("delivered", r.delivered),
                ("missing", r.missing),
                ("duplicate", r.duplicate),
            ] {
                out.counter(
                    "stampede_receipts_total",
                    &[("team", &t.name), ("result", result)],
                    n,
                );
            }
        }
        out.family(
            "stampede_reactions_total",
            "counter",
            "Reaction updates owed to other members, by result.",
        );
        for t in teams {
            let r = &t.reactions;
            for (result, n) in [("delivered", r.delivered), ("missing", r.missing)] {
                out.counter(
                    "stampede_reactions_total",
                    &[("team", &t.name), ("result", result)],
                    n,
                );
            }
        }
        out.team_gauges(
            "stampede_expectations_pending",
            "Deliveries, receipts and reaction updates still awaited within their deadline.",
            teams,
            |t| t.pending,
        );

        // Summaries in the manner of a client library's sliding window: the quantiles cover the
        // last interval (NaN when it had no sample), the count covers the whole run. No `_sum`:
        // the snapshot carries no sum of latencies.
        out.family(
            "stampede_delivery_latency_seconds",
            "summary",
            "Delivery latency from the intended send time, over the last interval; count: \
             deliveries verified.",
        );
        for t in teams {
            out.summary(
                "stampede_delivery_latency_seconds",
                &[("team", &t.name)],
                &t.delivery,
                t.delivered,
            );
        }
        out.family(
            "stampede_operation_latency_seconds",
            "summary",
            "Latency of each operation over the last interval; count: samples over the run.",
        );
        for t in teams {
            for op in &t.ops {
                out.summary(
                    "stampede_operation_latency_seconds",
                    &[("team", &t.name), ("op", op.op.name())],
                    &op.recent,
                    op.total.count,
                );
            }
        }

        let g = &s.generator;
        let generator = [
            (
                "stampede_generator_cpu_cores",
                "CPU the generator used over the last interval, in cores (1 = one core busy).",
                g.cpu_percent / 100.0,
            ),
            (
                "stampede_generator_cores_available",
                "Cores available to the generator.",
                f64::from(g.cores),
            ),
            (
                "stampede_generator_scheduler_lag_seconds",
                "Worst scheduler lag of the generator over the last interval.",
                g.scheduler_lag_ms / 1000.0,
            ),
            (
                "stampede_generator_resident_memory_bytes",
                "Resident memory of the generator.",
                g.rss_bytes as f64,
            ),
            (
                "stampede_generator_bottleneck",
                "1 while the generator may be limiting the results.",
                bool_value(g.bottleneck),
            ),
        ];
        for (name, help, value) in generator {
            out.family(name, "gauge", help);
            out.sample(name, &[], value);
        }
        out.text
    }
}

/// The text being written and the counters' memory.
struct Out<'a> {
    text: String,
    counters: &'a mut HashMap<String, Carried>,
}

impl Out<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// One sample line; `name` may carry a suffix (`_count`).
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        let series = series(name, labels);
        let _ = writeln!(self.text, "{series} {}", format_value(value));
    }

    /// A counter sample, never below what this series showed before.
    fn counter(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        let series = series(name, labels);
        let carried = self.counters.entry(series.clone()).or_default();
        if value < carried.last {
            // The counts started again: a new run of the same match, bracket or split run.
            carried.base += carried.last;
        }
        carried.last = value;
        let _ = writeln!(self.text, "{series} {}", carried.base + value);
    }

    fn team_gauges(
        &mut self,
        name: &str,
        help: &str,
        teams: &[super::snapshot::TeamSnapshot],
        value: impl Fn(&super::snapshot::TeamSnapshot) -> u64,
    ) {
        self.family(name, "gauge", help);
        for t in teams {
            self.sample(name, &[("team", &t.name)], value(t) as f64);
        }
    }

    fn team_counters(
        &mut self,
        name: &str,
        help: &str,
        teams: &[super::snapshot::TeamSnapshot],
        value: impl Fn(&super::snapshot::TeamSnapshot) -> u64,
    ) {
        self.family(name, "counter", help);
        for t in teams {
            self.counter(name, &[("team", &t.name)], value(t));
        }
    }

    /// A summary's quantile samples (from `recent`, in seconds) and its `_count`.
    fn summary(&mut self, name: &str, labels: &[(&str, &str)], recent: &Percentiles, count: u64) {
        for (quantile, field) in QUANTILES {
            let mut with_quantile = labels.to_vec();
            with_quantile.push(("quantile", quantile));
            let value = if recent.count == 0 {
                f64::NAN
            } else {
                field(recent) / 1000.0
            };
            self.sample(name, &with_quantile, value);
        }
        self.counter(&format!("{name}_count"), labels, count);
    }
}

/// `name{a="x",b="y"}`, label values escaped.
fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut s = String::from(name);
    if !labels.is_empty() {
        s.push('{');
        for (i, (key, value)) in labels.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{key}=\"{}\"", escape_label(value));
        }
        s.push('}');
    }
    s
}

/// A label value as the format requires: backslash, double quote and line feed escaped. Team names
/// come from the command line and teams files, so any of them can occur.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A help text as the format requires: backslash and line feed escaped.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A sample value: `NaN`, `+Inf`, `-Inf` or a plain decimal.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::base::kinds::{FailureKind, Op};
    use crate::metrics::snapshot::{OpStat, TeamSnapshot};

    fn team(name: &str, requests: u64) -> TeamSnapshot {
        let mut t = TeamSnapshot {
            name: name.into(),
            messages_sent: requests,
            delivered: requests,
            failures: vec![(FailureKind::Timeout, 1)],
            delivery: Percentiles {
                count: 4,
                p50_ms: 12.0,
                p95_ms: 40.0,
                p99_ms: 250.0,
            },
            ops: vec![OpStat {
                op: Op::Register,
                total: Percentiles {
                    count: requests,
                    ..Percentiles::default()
                },
                recent: Percentiles::default(),
            }],
            ..TeamSnapshot::default()
        };
        t.requests.ok = requests;
        t.gauges.active = 3;
        t
    }

    #[test]
    fn families_are_typed_once_and_values_are_in_seconds() {
        let s = Snapshot {
            elapsed: Duration::from_millis(1500),
            level: 2,
            teams: vec![team("a", 10), team("b", 7)],
            ..Snapshot::default()
        };
        let text = Exposition::new().render(&s);
        for family in [
            "stampede_requests_total",
            "stampede_delivery_latency_seconds",
        ] {
            let typed = format!("# TYPE {family} ");
            assert_eq!(text.matches(&typed).count(), 1, "{family}:\n{text}");
        }
        for line in [
            "stampede_run_elapsed_seconds 1.5",
            "stampede_level 2",
            "stampede_users_active{team=\"b\"} 3",
            "stampede_requests_total{team=\"a\",result=\"ok\"} 10",
            "stampede_failures_total{team=\"a\",kind=\"timeout\"} 1",
            "stampede_delivery_latency_seconds{team=\"a\",quantile=\"0.99\"} 0.25",
            "stampede_delivery_latency_seconds_count{team=\"a\"} 10",
            // No sample in the last interval: NaN, as client libraries' summaries show.
            "stampede_operation_latency_seconds{team=\"a\",op=\"register\",quantile=\"0.5\"} NaN",
            "stampede_operation_latency_seconds_count{team=\"a\",op=\"register\"} 10",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let s = Snapshot {
            teams: vec![team("evil\"\\\nteam", 1)],
            ..Snapshot::default()
        };
        let text = Exposition::new().render(&s);
        assert!(
            text.contains("stampede_users_active{team=\"evil\\\"\\\\\\nteam\"} 3"),
            "{text}"
        );
        // Every line is a comment or one sample: no raw line feed from a label broke one apart.
        for line in text.lines() {
            assert!(
                line.starts_with("# ") || line.starts_with("stampede_"),
                "{line:?}"
            );
        }
    }

    #[test]
    fn counters_carry_over_when_a_new_run_starts_again_at_zero() {
        let mut exposition = Exposition::new();
        let at = |requests| Snapshot {
            teams: vec![team("a", requests)],
            ..Snapshot::default()
        };
        let value = |text: &str| -> u64 {
            let line = text
                .lines()
                .find(|l| l.starts_with("stampede_requests_total{team=\"a\",result=\"ok\"}"))
                .unwrap();
            line.rsplit(' ').next().unwrap().parse().unwrap()
        };
        assert_eq!(value(&exposition.render(&at(10))), 10);
        assert_eq!(value(&exposition.render(&at(25))), 25);
        // The next match's run counts from 0 again; the series goes on from 25.
        assert_eq!(value(&exposition.render(&at(4))), 29);
        assert_eq!(value(&exposition.render(&at(6))), 31);
    }
}
