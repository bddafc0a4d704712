//! The page of one run: what a person deciding "did the server hold, and where did it break?" looks
//! at first (verdict badges, headline figures, users and traffic over time with the level
//! boundaries, latency per operation over time, failures by kind), then the per-level and
//! per-operation tables, every failure with its samples, the thresholds, the generator's health and
//! how the run was made.
//!
//! Rows and columns are driven by the data: failure kinds by [`FailureKind::ALL`](crate::base::kinds::FailureKind::ALL) (and any other
//! name a newer summary holds), operations by [`Op::ALL`], levels by the summary's rows, so a new kind
//! or count shows up without touching this file.

use super::chart::{BarChart, Limit, Series, TimeChart, Unit};
use super::format::{bytes, clock, int, ms, num, pct};
use super::markup::{Html, rel_href};
use super::page::{Cell, badge, figure, page, section, table};
use super::series::{Agg, kind_names, level_markers, op_percentiles, timeline};
use crate::base::hist::HlogEntry;
use crate::base::kinds::Op;
use crate::base::summary::{LevelRow, RunSummary};
use crate::engine::plan::Threshold;
use crate::report::thresholds::describe;

/// The delivery p99 SLO of the default scoring rules (`score::rules::DEFAULT_DELIVERY_P99_SLO_MS`,
/// kept equal by a test there), drawn on a run's per-level chart when its scenario sets no delivery
/// p99 threshold of its own.
pub const SCORING_SLO_MS: f64 = 1000.0;

/// The run page of `s`, with latency over time from `intervals` (the contents of `latency.hlog`;
/// empty when it is not available, and then only delivery, from the timeline, is drawn over time).
pub fn run_page(s: &RunSummary, intervals: &[HlogEntry]) -> String {
    let who = s.team.as_deref().unwrap_or(&s.target);
    let title = format!("{} → {}", s.scenario, who);
    let subtitle = format!(
        "run of {} against {} · started {} · {} of {} planned · seed {} · time scale {}",
        s.scenario,
        s.target,
        s.started_at,
        clock(s.duration_secs),
        clock(s.planned_duration_secs),
        s.seed,
        num(s.time_scale, 3),
    );
    let mut nav = Html::new();
    if s.team.is_some() {
        nav.open("nav", &[]);
        nav.el(
            "a",
            &[("href", &rel_href(1, &["report.html"]).unwrap_or_default())],
            "← the match",
        );
        nav.close("nav");
    }
    let mut b = Html::new();
    verdict(&mut b, s);
    headline(&mut b, s);
    charts(&mut b, s, intervals);
    levels(&mut b, s);
    latency(&mut b, s);
    failures(&mut b, s);
    thresholds(&mut b, s);
    generator(&mut b, s);
    how(&mut b, s);
    page("run", &title, &subtitle, &nav, &b)
}

fn verdict(h: &mut Html, s: &RunSummary) {
    h.open("section", &[("id", "verdict")]);
    if s.thresholds.is_empty() {
        badge(h, "info", "no thresholds");
    } else if s.thresholds_passed() {
        badge(h, "ok", "every threshold held");
    } else {
        let broken = s.thresholds.iter().filter(|t| !t.passed).count();
        badge(
            h,
            "bad",
            &format!("{broken} of {} thresholds broken", s.thresholds.len()),
        );
    }
    if s.generator.bottleneck {
        badge(h, "warn", "the generator may have been the bottleneck");
    } else {
        badge(h, "ok", "generator healthy");
    }
    if s.partial {
        let why = s.stop_reason.as_deref().unwrap_or("stopped early");
        badge(h, "warn", &format!("partial run: {why}"));
    }
    h.close("section");
}

fn headline(h: &mut Html, s: &RunSummary) {
    section(h, "headline", "Headline");
    h.open("dl", &[("class", "figures")]);
    let u = &s.users;
    figure(h, "users_started", "users started", &int(u.started), "");
    figure(h, "users_passed", "users passed", &int(u.passed), "ok");
    figure(
        h,
        "users_failed",
        "users failed",
        &int(u.failed),
        if u.failed > 0 { "bad" } else { "" },
    );
    figure(
        h,
        "peak_connected",
        "peak connected",
        &int(u.peak_connected),
        "",
    );
    figure(h, "requests_ok", "requests ok", &int(s.requests.ok), "");
    figure(
        h,
        "requests_failed",
        "requests failed",
        &format!(
            "{} ({})",
            int(s.requests.failed),
            pct(s.requests.failed, s.requests.ok + s.requests.failed)
        ),
        if s.requests.failed > 0 { "bad" } else { "" },
    );
    let m = &s.messages;
    figure(h, "messages_sent", "messages sent", &int(m.sent), "");
    figure(
        h,
        "delivered",
        "delivered of expected",
        &format!("{} of {}", int(m.delivered), int(m.deliveries_expected)),
        "",
    );
    figure(
        h,
        "missing",
        "deliveries missing",
        &int(m.missing),
        if m.missing > 0 { "bad" } else { "" },
    );
    let p99 = s.latency_of(Op::Delivery).map(|l| l.p99_ms);
    figure(h, "delivery_p99", "delivery p99", &ms(p99), "");
    let echo = s.latency_of(Op::SendAck).map(|l| l.p99_ms);
    figure(h, "send_ack_p99", "echo p99", &ms(echo), "");
    h.close("dl");
    h.close("section");
}

fn charts(h: &mut Html, s: &RunSummary, intervals: &[HlogEntry]) {
    section(h, "charts", "Over time");
    let x_max = s
        .duration_secs
        .max(s.timeline.last().map_or(0.0, |r| r.t_secs));
    let markers = level_markers(&s.levels);
    let rows = &s.timeline;
    h.open("div", &[("class", "charts")]);

    let mut users = TimeChart::new("Users", Unit::Count, x_max);
    users.series = vec![
        Series::new(
            "target",
            timeline(rows, Agg::Last, |r| Some(f64::from(r.target_users))),
        )
        .dashed()
        .colour(9),
        Series::new(
            "active",
            timeline(rows, Agg::Last, |r| Some(r.active_users as f64)),
        )
        .colour(0),
        Series::new(
            "connected",
            timeline(rows, Agg::Last, |r| Some(r.connected_users as f64)),
        )
        .colour(2),
        Series::new(
            "failed so far",
            timeline(rows, Agg::Last, |r| Some(r.vus_failed as f64)),
        )
        .colour(5),
    ];
    users.markers = markers.clone();
    h.append(&users.render());

    let mut traffic = TimeChart::new("Requests and messages per second", Unit::PerSec, x_max);
    traffic.series = vec![
        Series::new(
            "requests ok",
            timeline(rows, Agg::Mean, |r| Some(r.requests_ok as f64)),
        ),
        Series::new(
            "requests failed",
            timeline(rows, Agg::Mean, |r| Some(r.requests_failed as f64)),
        )
        .colour(5),
        Series::new(
            "messages sent",
            timeline(rows, Agg::Mean, |r| Some(r.messages_sent as f64)),
        )
        .colour(1),
        Series::new(
            "deliveries",
            timeline(rows, Agg::Mean, |r| Some(r.messages_delivered as f64)),
        )
        .colour(2),
    ];
    traffic.markers = markers.clone();
    h.append(&traffic.render());

    // Latency per operation over time: delivery and the sender's echo first, then the others.
    let mut per_op = op_percentiles(intervals, x_max);
    per_op.sort_by_key(|(op, _)| match op {
        Op::Delivery => 0,
        Op::SendAck => 1,
        _ => 2,
    });
    if per_op.iter().all(|(op, _)| *op != Op::Delivery) {
        // No interval log: the timeline still has delivery.
        let mut c = TimeChart::new("delivery latency", Unit::Ms, x_max);
        let has = |r: &crate::base::summary::TimelineRow| r.messages_delivered > 0;
        c.series = vec![
            Series::new(
                "p50",
                timeline(rows, Agg::Max, |r| has(r).then_some(r.delivery_p50_ms)),
            ),
            Series::new(
                "p95",
                timeline(rows, Agg::Max, |r| has(r).then_some(r.delivery_p95_ms)),
            ),
            Series::new(
                "p99",
                timeline(rows, Agg::Max, |r| has(r).then_some(r.delivery_p99_ms)),
            ),
        ];
        c.markers = markers.clone();
        h.append(&c.render());
    }
    for (op, [p50, p95, p99]) in per_op {
        let mut c = TimeChart::new(format!("{} latency", op.name()), Unit::Ms, x_max);
        c.series = vec![
            Series::new("p50", p50),
            Series::new("p95", p95),
            Series::new("p99", p99),
        ];
        c.markers = markers.clone();
        h.append(&c.render());
    }

    let kinds = kind_names(rows.iter().flat_map(|r| r.failures.keys()));
    let mut fails = TimeChart::new("Failures per second by kind", Unit::PerSec, x_max);
    fails.stacked = true;
    fails.series = kinds
        .iter()
        .map(|k| {
            Series::new(
                k.clone(),
                timeline(rows, Agg::Mean, |r| {
                    Some(*r.failures.get(k).unwrap_or(&0) as f64)
                }),
            )
        })
        .collect();
    fails.markers = markers.clone();
    h.append(&fails.render());

    let mut cpu = TimeChart::new("Generator CPU (% of one core)", Unit::Percent, x_max);
    cpu.series = vec![Series::new(
        "cpu",
        timeline(rows, Agg::Mean, |r| Some(r.cpu_percent)),
    )];
    cpu.limits = vec![Limit {
        y: f64::from(s.generator.cores.max(1)) * 100.0,
        label: format!("{} cores", s.generator.cores.max(1)),
    }];
    h.append(&cpu.render());
    let mut lag = TimeChart::new("Generator scheduler lag", Unit::Ms, x_max);
    lag.series = vec![
        Series::new(
            "worst lag",
            timeline(rows, Agg::Max, |r| Some(r.scheduler_lag_ms)),
        )
        .colour(1),
    ];
    h.append(&lag.render());

    h.close("div");
    h.close("section");
}

/// The SLO drawn on the per-level delivery chart: the scenario's own delivery p99 threshold, else the
/// default scoring rules'.
fn slo(s: &RunSummary) -> Limit {
    let own = s.thresholds.iter().find_map(|t| match &t.threshold {
        Threshold::Latency {
            op,
            percentile,
            max_ms,
        } if op == Op::Delivery.name() && *percentile == 99.0 => Some(*max_ms),
        _ => None,
    });
    match own {
        Some(y) => Limit {
            y,
            label: format!("threshold {}", ms(Some(y))),
        },
        None => Limit {
            y: SCORING_SLO_MS,
            label: format!("scoring SLO {}", ms(Some(SCORING_SLO_MS))),
        },
    }
}

/// A column of the per-level table: its header and its cell for one level.
type LevelColumn = (&'static str, fn(&LevelRow) -> Cell);

/// The per-level table's columns before the failure kinds. Add a column here and it appears.
const LEVEL_COLUMNS: &[LevelColumn] = &[
    ("level", |l| Cell::num(l.index.to_string())),
    ("phase", |l| Cell::text(l.phase.clone())),
    ("users", |l| Cell::num(int(u64::from(l.target_users)))),
    ("from", |l| Cell::num(clock(l.start_secs))),
    ("to", |l| {
        Cell::num(format!(
            "{}{}",
            clock(l.end_secs),
            if l.incomplete { " (cut)" } else { "" }
        ))
    }),
    ("started", |l| Cell::num(int(l.users_started))),
    ("active", |l| Cell::num(int(l.users_active))),
    ("connected", |l| Cell::num(int(l.users_connected))),
    ("VUs failed in level", |l| {
        Cell::failures(l.vus_failed_in_level)
    }),
    ("VUs failed so far", |l| Cell::num(int(l.vus_failed))),
    ("requests ok", |l| Cell::num(int(l.requests.ok))),
    ("requests failed", |l| Cell::failures(l.requests.failed)),
    ("sent", |l| Cell::num(int(l.messages_sent))),
    ("delivered", |l| Cell::num(int(l.deliveries))),
    ("missing", |l| Cell::failures(l.deliveries_missing)),
    ("delivery p50", |l| {
        Cell::num(ms((l.deliveries > 0).then_some(l.delivery_p50_ms)))
    }),
    ("delivery p95", |l| {
        Cell::num(ms((l.deliveries > 0).then_some(l.delivery_p95_ms)))
    }),
    ("delivery p99", |l| {
        Cell::num(ms((l.deliveries > 0).then_some(l.delivery_p99_ms)))
    }),
    ("request p99", |l| {
        Cell::num(ms(
            (l.requests.ok > l.deliveries).then_some(l.request_p99_ms)
        ))
    }),
];

fn levels(h: &mut Html, s: &RunSummary) {
    section(h, "levels", "Per user level");
    let limit = slo(s);
    let chart = BarChart {
        title: "Delivery p99 per level".into(),
        unit: Unit::Ms,
        categories: s
            .levels
            .iter()
            .map(|l| int(u64::from(l.target_users)))
            .collect(),
        groups: vec![(
            "delivery p99".into(),
            s.levels
                .iter()
                .map(|l| (l.deliveries > 0).then_some(l.delivery_p99_ms))
                .collect(),
        )],
        limits: vec![limit],
    };
    h.append(&chart.render());
    let kinds = kind_names(s.levels.iter().flat_map(|l| l.failures.keys()));
    let mut columns: Vec<String> = LEVEL_COLUMNS
        .iter()
        .map(|(name, _)| (*name).to_string())
        .collect();
    columns.extend(kinds.iter().cloned());
    let rows: Vec<Vec<Cell>> = s
        .levels
        .iter()
        .map(|l| {
            let mut row: Vec<Cell> = LEVEL_COLUMNS.iter().map(|(_, cell)| cell(l)).collect();
            row.extend(kinds.iter().map(|k| {
                let n = l.failures.get(k).copied().unwrap_or(0);
                if n > 0 {
                    Cell::class(int(n), "bad")
                } else {
                    Cell::num("")
                }
            }));
            row
        })
        .collect();
    table(h, "levels", &columns, &rows);
    h.close("section");
}

fn latency(h: &mut Html, s: &RunSummary) {
    section(h, "latency", "Latency per operation");
    let columns = [
        "operation",
        "samples",
        "min",
        "mean",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<Cell>> = Op::ALL
        .iter()
        .filter_map(|op| s.latency_of(*op))
        .map(|l| {
            let mut row = vec![Cell::text(l.op.name()), Cell::num(int(l.count))];
            for v in [
                l.min_ms, l.mean_ms, l.p50_ms, l.p90_ms, l.p95_ms, l.p99_ms, l.p999_ms, l.max_ms,
            ] {
                row.push(Cell::num(ms(Some(v))));
            }
            row
        })
        .collect();
    table(h, "latency", &columns, &rows);
    h.close("section");
}

fn failures(h: &mut Html, s: &RunSummary) {
    section(h, "failures", "Failures");
    if s.failures.is_empty() {
        h.el("p", &[], "No failure of any kind.");
        h.close("section");
        return;
    }
    // Totals by kind first, in report order.
    let mut by_kind: Vec<(String, u64)> = Vec::new();
    for row in &s.failures {
        let name = row.kind.name().to_string();
        match by_kind.iter_mut().find(|(k, _)| *k == name) {
            Some((_, n)) => *n += row.count,
            None => by_kind.push((name, row.count)),
        }
    }
    let names: Vec<String> = by_kind.iter().map(|(k, _)| k.clone()).collect();
    let order = kind_names(&names);
    h.open("dl", &[("class", "figures")]);
    for name in &order {
        let n = by_kind
            .iter()
            .find(|(k, _)| k == name)
            .map_or(0, |(_, n)| *n);
        h.raw("<div>");
        h.el("dt", &[], name);
        h.el("dd", &[("class", "bad")], &int(n));
        h.raw("</div>");
    }
    h.close("dl");
    h.open("div", &[("class", "scroll")]);
    h.raw("<table class=\"failures\"><thead><tr><th>kind</th><th>operation</th><th>count</th><th>samples</th></tr></thead><tbody>");
    let mut rows: Vec<_> = s.failures.iter().collect();
    rows.sort_by_key(|r| (order.iter().position(|k| k == r.kind.name()), r.op));
    for r in rows {
        h.raw("<tr>");
        h.el("td", &[], r.kind.name());
        h.el("td", &[], r.op.name());
        h.el("td", &[("class", "num")], &int(r.count));
        h.raw("<td><ul>");
        for sample in &r.samples {
            h.el("li", &[("class", "sample")], sample);
        }
        h.raw("</ul></td></tr>");
    }
    h.raw("</tbody></table></div>");
    h.close("section");
}

fn thresholds(h: &mut Html, s: &RunSummary) {
    section(h, "thresholds", "Thresholds");
    if s.thresholds.is_empty() {
        h.el("p", &[], "The scenario sets no thresholds.");
        h.close("section");
        return;
    }
    let columns = ["rule", "measured", "result", "note"]
        .map(String::from)
        .to_vec();
    let rows: Vec<Vec<Cell>> = s
        .thresholds
        .iter()
        .map(|t| {
            let measured = match (&t.threshold, t.actual) {
                (_, None) => "–".to_string(),
                (Threshold::Latency { .. }, Some(v)) => ms(Some(v)),
                (Threshold::DeliveryMissing { .. }, Some(v)) => num(v, 0),
                (_, Some(v)) => format!("{} %", num(v * 100.0, 3)),
            };
            vec![
                Cell::text(describe(&t.threshold)),
                Cell::num(measured),
                if t.passed {
                    Cell::class("held", "ok")
                } else {
                    Cell::class("BROKEN", "bad")
                },
                Cell::text(t.note.clone().unwrap_or_default()),
            ]
        })
        .collect();
    table(h, "thresholds", &columns, &rows);
    h.close("section");
}

fn generator(h: &mut Html, s: &RunSummary) {
    let g = &s.generator;
    section(h, "generator", "The load generator");
    if g.bottleneck {
        badge(
            h,
            "warn",
            "the generator may have been the bottleneck: the figures may describe it rather than the server",
        );
    } else {
        badge(
            h,
            "ok",
            "the generator kept up: the figures describe the server",
        );
    }
    h.open("dl", &[("class", "figures")]);
    figure(
        h,
        "cpu_mean",
        "CPU mean",
        &format!("{} %", num(g.cpu_percent_mean, 1)),
        "",
    );
    figure(
        h,
        "cpu_max",
        "CPU max (1 s)",
        &format!("{} %", num(g.cpu_percent_max, 1)),
        "",
    );
    figure(h, "cores", "cores", &g.cores.to_string(), "");
    figure(
        h,
        "lag_p99",
        "scheduler lag p99",
        &ms(Some(g.scheduler_lag_p99_ms)),
        "",
    );
    figure(
        h,
        "lag_max",
        "scheduler lag max",
        &ms(Some(g.scheduler_lag_max_ms)),
        "",
    );
    figure(h, "rss", "peak memory", &bytes(g.peak_rss_bytes), "");
    h.close("dl");
    if !g.warnings.is_empty() {
        h.open("ul", &[]);
        for w in &g.warnings {
            h.el("li", &[], w);
        }
        h.close("ul");
    }
    h.close("section");
}

fn how(h: &mut Html, s: &RunSummary) {
    section(h, "scenario", "How it was run");
    let columns = ["", ""].map(String::from).to_vec();
    let mut rows = vec![
        vec![Cell::text("scenario"), Cell::text(s.scenario.clone())],
        vec![Cell::text("target"), Cell::text(s.target.clone())],
    ];
    if let Some(team) = &s.team {
        rows.push(vec![Cell::text("team"), Cell::text(team.clone())]);
    }
    rows.extend([
        vec![Cell::text("seed"), Cell::text(s.seed.to_string())],
        vec![Cell::text("time scale"), Cell::text(num(s.time_scale, 3))],
        vec![Cell::text("started"), Cell::text(s.started_at.clone())],
        vec![
            Cell::text("lasted"),
            Cell::text(format!(
                "{} s of {} s planned{}",
                num(s.duration_secs, 1),
                num(s.planned_duration_secs, 1),
                if s.partial { " (partial)" } else { "" }
            )),
        ],
        vec![
            Cell::text("users planned"),
            Cell::text(int(s.users.planned)),
        ],
        vec![Cell::text("levels"), Cell::text(s.levels.len().to_string())],
        vec![
            Cell::text("tool"),
            Cell::text(format!("{} {}", s.tool.name, s.tool.version)),
        ],
    ]);
    if let Some(reason) = &s.stop_reason {
        rows.push(vec![Cell::text("stopped"), Cell::text(reason.clone())]);
    }
    table(h, "how", &columns, &rows);
    h.open("ul", &[("class", "notes")]);
    for note in &s.measurement_notes {
        h.el("li", &[], note);
    }
    h.close("ul");
    h.close("section");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::kinds::FailureKind;
    use crate::base::summary::FailureRow;
    use crate::report::fixture;
    use crate::report::html::testkit::{HOSTILE, NEVER};

    #[test]
    fn every_section_is_there_with_its_figures() {
        let s = fixture::summary();
        let html = run_page(&s, &fixture::hlog());
        for id in [
            "verdict",
            "headline",
            "charts",
            "levels",
            "latency",
            "failures",
            "thresholds",
            "generator",
            "scenario",
        ] {
            assert!(html.contains(&format!("<section id=\"{id}\">")), "{id}");
        }
        assert!(
            html.contains("data-figure=\"users_started\" class=\"\">300<"),
            "users started"
        );
        assert!(html.contains("2,000 of 2,003"));
        assert!(html.contains("partial run: interrupted (Ctrl-C)"));
        assert!(html.contains("3 of 5 thresholds broken"));
        assert!(html.contains("delivery latency") && html.contains("login latency"));
        assert!(html.contains("joinRoom: no joinRoomSuccess within 30s (room r-7)"));
        // A failure kind that only a newer build knows still gets its column.
        assert!(html.contains("<th>timeout</th>"));
        assert!(
            html.contains("threshold 100 ms"),
            "the scenario's own delivery SLO is drawn"
        );
        assert!(!html.contains("<script"), "no script at all");
    }

    #[test]
    fn a_three_hour_run_stays_well_under_two_megabytes() {
        // A full competition ramp is under an hour; three hours of seconds, with six operations
        // timed every second, is the size bound's worst case.
        const SECONDS: usize = 3 * 3600;
        let mut s = fixture::summary();
        let rows = s.timeline.clone();
        s.timeline = (0..SECONDS)
            .map(|i| {
                let mut row = rows[i % rows.len()].clone();
                row.t_secs = (i + 1) as f64;
                row
            })
            .collect();
        s.duration_secs = SECONDS as f64;
        let one = fixture::hlog();
        let ops = [
            Op::Login,
            Op::Delivery,
            Op::SendAck,
            Op::JoinRoom,
            Op::History,
            Op::Register,
        ];
        let hlog: Vec<HlogEntry> = (0..SECONDS)
            .flat_map(|i| {
                let e = &one[i % one.len()];
                ops.map(|op| HlogEntry {
                    start_secs: i as f64,
                    op,
                    ..e.clone()
                })
            })
            .collect();
        let html = run_page(&s, &hlog);
        assert!(html.len() < 1_000_000, "{} bytes", html.len());
        assert!(html.contains("<section id=\"latency\">"));
    }

    #[test]
    fn a_hostile_servers_words_are_text() {
        let mut s = fixture::summary();
        s.team = Some(HOSTILE[0].into());
        s.target = HOSTILE[2].into();
        s.scenario = HOSTILE[3].into();
        s.stop_reason = Some(HOSTILE[1].into());
        s.failures.push(FailureRow {
            kind: FailureKind::ServerError,
            op: Op::JoinRoom,
            count: 6,
            samples: HOSTILE.iter().map(|x| x.to_string()).collect(),
        });
        s.levels[1].failures.insert(HOSTILE[4].into(), 1);
        s.timeline[0].failures.insert(HOSTILE[5].into(), 1);
        s.generator.warnings.push(HOSTILE[2].into());
        s.measurement_notes.push(HOSTILE[1].into());
        let html = run_page(&s, &fixture::hlog());
        for bad in NEVER {
            assert!(!html.contains(bad), "{bad} got through");
        }
        assert!(html.contains("&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;"));
        assert!(html.contains("]]&gt;&lt;svg onload"));
    }

    #[test]
    fn a_run_without_samples_says_so_instead_of_zero() {
        let mut s = fixture::summary();
        for l in &mut s.levels {
            l.deliveries = 0;
        }
        s.latency.clear();
        let html = run_page(&s, &[]);
        assert!(html.contains("data-figure=\"delivery_p99\" class=\"\">–<"));
        assert!(html.contains("no samples"));
    }

    #[test]
    fn the_scoring_slo_is_drawn_without_a_scenario_threshold() {
        let mut s = fixture::summary();
        s.thresholds.clear();
        assert!(run_page(&s, &[]).contains("scoring SLO 1.00 s"));
    }
}
