//! The run view: one team in detail (the selected one, in a match). Ramp progress, users, requests and
//! messages, failures by kind, the generator's health, delivery latency over time, every step's
//! latency with its per-second p99, and the finished levels.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Cell, Chart, Dataset, GraphType, Paragraph, Row, Table, Tabs, Widget,
};

use super::{ACCENT, BAD, OK, WARN, failure_style, figure, kv, panel, ramp, team_color, waiting};
use crate::metrics::Snapshot;
use crate::metrics::health::{CPU_BUSY_SHARE, LAG_P99_LIMIT_MS};
use crate::metrics::snapshot::{GeneratorSnapshot, TeamSnapshot};
use crate::tui::app::{App, StepTrend};
use crate::tui::format;

/// Body height from which the finished-levels table is shown.
const LEVELS_FROM_HEIGHT: u16 = 34;

/// Draws the run view into `area`.
pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let board = app.board();
    let snapshot = &board.snapshot;
    let multi = snapshot.teams.len() > 1;
    // A quarter of a tall screen, so a long ramp shows more of its history.
    let levels_height = if area.height >= LEVELS_FROM_HEIGHT {
        (area.height / 4).max(9)
    } else {
        0
    };
    let [ramp_area, tabs_area, stats_area, charts_area, levels_area] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(u16::from(multi)),
        Constraint::Length(10),
        Constraint::Fill(1),
        Constraint::Length(levels_height),
    ])
    .areas(area);
    ramp(snapshot, ramp_area, buf);
    let Some(selected) = snapshot
        .teams
        .len()
        .checked_sub(1)
        .map(|last| app.selected().min(last))
    else {
        waiting(
            Rect {
                y: stats_area.y,
                height: area.bottom().saturating_sub(stats_area.y),
                ..area
            },
            buf,
            "Waiting for the first measurements…",
        );
        return;
    };
    let team = &snapshot.teams[selected];
    if multi {
        team_tabs(snapshot, selected, tabs_area, buf);
    }

    let [users, requests, failures, generator] =
        Layout::horizontal([Constraint::Ratio(1, 4); 4]).areas(stats_area);
    users_panel(snapshot, team, users, buf);
    requests_panel(team, requests, buf);
    failures_panel(team, failures, buf);
    generator_panel(&snapshot.generator, team, generator, buf);

    let [chart, steps] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(charts_area);
    delivery_chart(team, chart, buf);
    let empty = StepTrend::default();
    steps_table(
        team,
        board.steps.get(selected).unwrap_or(&empty),
        steps,
        buf,
    );
    if levels_height > 0 {
        levels_table(team, levels_area, buf);
    }
}

/// `Team  alpha │ bravo │ charlie   (←/→)` with the selected one highlighted.
fn team_tabs(snapshot: &Snapshot, selected: usize, area: Rect, buf: &mut Buffer) {
    let [label, tabs] =
        Layout::horizontal([Constraint::Length(6), Constraint::Fill(1)]).areas(area);
    Span::styled(" Team ", Style::new().fg(ACCENT).bold()).render(label, buf);
    let titles = snapshot
        .teams
        .iter()
        .enumerate()
        .map(|(i, t)| Line::styled(t.name.clone(), Style::new().fg(team_color(i))));
    Tabs::new(titles)
        .select(selected)
        .highlight_style(Style::new().reversed().bold())
        .divider("│")
        .render(tabs, buf);
}

/// Long labels when the panel is wide enough, short ones otherwise.
fn label<'a>(width: u16, long: &'a str, short: &'a str) -> &'a str {
    if width >= 26 { long } else { short }
}

fn users_panel(snapshot: &Snapshot, team: &TeamSnapshot, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(2);
    let g = &team.gauges;
    let lines = vec![
        kv(
            label(w, "target users", "target"),
            format::int(u64::from(snapshot.target_users)),
            figure(),
            w,
        ),
        kv("started", format::int(g.started), figure(), w),
        kv("active", format::int(g.active), figure(), w),
        kv(
            "connected",
            format::int(g.connected),
            Style::new().fg(OK).bold(),
            w,
        ),
        kv(
            label(w, "passed (no failure)", "passed"),
            format::int(team.passed()),
            Style::new().fg(OK).bold(),
            w,
        ),
        kv(
            label(w, "failed users", "failed"),
            format::int(g.failed),
            failure_style(g.failed),
            w,
        ),
        kv(
            label(w, "peak connected", "peak conn."),
            format::int(g.peak_connected),
            figure(),
            w,
        ),
    ];
    Paragraph::new(lines)
        .block(panel("Users"))
        .render(area, buf);
}

fn requests_panel(team: &TeamSnapshot, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(2);
    let lines = vec![
        kv(
            label(w, "requests ok", "req ok"),
            format::int(team.requests.ok),
            Style::new().fg(OK).bold(),
            w,
        ),
        kv(
            label(w, "requests failed", "req failed"),
            format::int(team.requests.failed),
            failure_style(team.requests.failed),
            w,
        ),
        kv(
            label(w, "messages sent", "sent"),
            format::int(team.messages_sent),
            figure(),
            w,
        ),
        kv(
            label(w, "deliveries verified", "delivered"),
            format::int(team.delivered),
            Style::new().fg(OK).bold(),
            w,
        ),
        kv(
            label(w, "deliveries missing", "missing"),
            format::int(team.missing),
            failure_style(team.missing),
            w,
        ),
        kv(
            label(w, "receipts missing", "rcpt miss"),
            format::int(team.receipts.missing + team.reactions.missing),
            failure_style(team.receipts.missing + team.reactions.missing),
            w,
        ),
        kv(
            label(w, "messages / s", "msg/s"),
            format::rate(team.messages_per_sec),
            figure(),
            w,
        ),
        kv(
            label(w, "deliveries / s", "deliv/s"),
            format::rate(team.deliveries_per_sec),
            figure(),
            w,
        ),
    ];
    Paragraph::new(lines)
        .block(panel(label(w, "Requests & messages", "Requests")))
        .render(area, buf);
}

fn failures_panel(team: &TeamSnapshot, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(2);
    let rows = area.height.saturating_sub(2) as usize;
    let total: u64 = team.failures.iter().map(|(_, n)| n).sum();
    let mut kinds = team.failures.clone();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let lines: Vec<Line> = if kinds.is_empty() {
        vec![Line::styled("✔ no failures", Style::new().fg(OK).bold())]
    } else {
        let max = kinds[0].1.max(1);
        // A bar after the count when there is room for one worth reading.
        let bar_width = (w as usize).saturating_sub(24).min(12);
        let shown = if kinds.len() > rows {
            rows.saturating_sub(1)
        } else {
            kinds.len()
        };
        let mut lines: Vec<Line> = kinds
            .iter()
            .take(shown)
            .map(|(kind, n)| {
                let text_width = w.saturating_sub(bar_width as u16 + u16::from(bar_width > 0));
                let mut line = kv(
                    kind.name(),
                    format::int(*n),
                    Style::new().fg(BAD).bold(),
                    text_width,
                );
                if bar_width > 0 {
                    let len = ((*n as f64 / max as f64) * bar_width as f64).ceil() as usize;
                    line.push_span(Span::raw(" "));
                    line.push_span(Span::styled("█".repeat(len.max(1)), Style::new().fg(BAD)));
                }
                line
            })
            .collect();
        if shown < kinds.len() {
            lines.push(Line::raw(format!("+ {} more kinds", kinds.len() - shown)));
        }
        lines
    };
    let title = if total == 0 {
        "Failures by kind".to_owned()
    } else {
        format!("Failures by kind · {}", format::int(total))
    };
    Paragraph::new(lines)
        .block(panel(title).border_style(if total > 0 {
            Style::new().fg(BAD)
        } else {
            Style::new()
        }))
        .render(area, buf);
}

fn generator_panel(g: &GeneratorSnapshot, team: &TeamSnapshot, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(2);
    let busy = g.cores > 0 && g.cpu_percent >= f64::from(g.cores) * 100.0 * CPU_BUSY_SHARE;
    let warn_if = |bad: bool| {
        if bad {
            Style::new().fg(WARN).bold()
        } else {
            figure()
        }
    };
    let cpu_trend: Vec<Option<f64>> = team.history.iter().map(|r| Some(r.cpu_percent)).collect();
    let status = if g.bottleneck {
        Line::styled(
            format::truncate("⚠ MAY BE THE BOTTLENECK", w as usize),
            Style::new().fg(Color::White).bg(BAD).bold(),
        )
    } else {
        Line::styled("✔ healthy", Style::new().fg(OK).bold())
    };
    let lines = vec![
        kv("CPU", format!("{:.0} %", g.cpu_percent), warn_if(busy), w),
        kv("cores", g.cores.to_string(), figure(), w),
        kv(
            label(w, "scheduler lag", "lag"),
            format::ms(g.scheduler_lag_ms),
            warn_if(g.scheduler_lag_ms > LAG_P99_LIMIT_MS),
            w,
        ),
        kv(
            label(w, "memory (RSS)", "memory"),
            format::bytes(g.rss_bytes),
            figure(),
            w,
        ),
        Line::from(vec![
            Span::raw("trend "),
            Span::styled(
                format::spark(&cpu_trend, (w as usize).saturating_sub(6)),
                Style::new().fg(ACCENT),
            ),
        ]),
        Line::raw(""),
        status,
    ];
    let block = panel("Generator").border_style(if g.bottleneck {
        Style::new().fg(BAD)
    } else {
        Style::new()
    });
    Paragraph::new(lines).block(block).render(area, buf);
}

/// Delivery p50/p95/p99 per second over the team's history, by arrival (the levels table, by
/// contrast, charges each delivery to the level its message was sent in).
fn delivery_chart(team: &TeamSnapshot, area: Rect, buf: &mut Buffer) {
    let block = panel(if area.width >= 60 {
        "Delivery by arrival"
    } else {
        "Delivery"
    })
    .title(delivery_legend(team, area.width.saturating_sub(14)));
    let rows: Vec<_> = team
        .history
        .iter()
        .filter(|r| r.messages_delivered > 0)
        .collect();
    if rows.is_empty() {
        let inner = block.inner(area);
        block.render(area, buf);
        waiting(inner, buf, "no message delivered yet");
        return;
    }
    let p50: Vec<(f64, f64)> = rows.iter().map(|r| (r.t_secs, r.delivery_p50_ms)).collect();
    let p95: Vec<(f64, f64)> = rows.iter().map(|r| (r.t_secs, r.delivery_p95_ms)).collect();
    let p99: Vec<(f64, f64)> = rows.iter().map(|r| (r.t_secs, r.delivery_p99_ms)).collect();
    let first = team
        .history
        .first()
        .map_or(0.0, |r| r.t_secs - 1.0)
        .max(0.0);
    let last = team
        .history
        .last()
        .map_or(1.0, |r| r.t_secs)
        .max(first + 1.0);
    let top = p99.iter().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let datasets = vec![
        line_set("p50", &p50, P50),
        line_set("p95", &p95, P95),
        line_set("p99", &p99, P99),
    ];
    // The title is the legend; the chart's own legend box would cover the newest points.
    Chart::new(datasets)
        .block(block)
        .legend_position(None)
        .x_axis(time_axis(first, last))
        .y_axis(ms_axis(top))
        .render(area, buf);
}

/// Colours of the delivery percentiles, in the chart and in its legend.
const P50: Color = Color::Cyan;
const P95: Color = Color::LightBlue;
const P99: Color = Color::Magenta;

/// The last second's percentiles in their lines' colours, as many as fit in `width`: this is the
/// chart's legend and its current reading at once.
fn delivery_legend(team: &TeamSnapshot, width: u16) -> Line<'static> {
    let d = &team.delivery;
    let all = [
        ("p50", d.p50_ms, P50),
        ("p95", d.p95_ms, P95),
        ("p99", d.p99_ms, P99),
    ];
    // Drop p50, then p95, until it fits; p99 always stays.
    for skip in 0..all.len() {
        let spans: Vec<Span> = all[skip..]
            .iter()
            .map(|(name, v, color)| {
                Span::styled(
                    format!(" {name} {} ", format::ms(*v)),
                    Style::new().fg(*color).bold(),
                )
            })
            .collect();
        let line = Line::from(spans);
        if line.width() <= width as usize || skip == all.len() - 1 {
            return line;
        }
    }
    Line::default()
}

/// One line of a chart.
pub(super) fn line_set<'a>(name: &'a str, data: &'a [(f64, f64)], color: Color) -> Dataset<'a> {
    Dataset::default()
        .name(name)
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(Style::new().fg(color))
        .data(data)
}

/// An x axis of run time, labelled with clocks at both ends.
pub(super) fn time_axis(first: f64, last: f64) -> Axis<'static> {
    let clock = |s: f64| format::clock(std::time::Duration::from_secs_f64(s.max(0.0)));
    Axis::default()
        .bounds([first, last])
        .labels([clock(first), clock(last)])
        .style(Style::new().fg(Color::Gray))
}

/// A y axis of milliseconds from 0 to `top`.
pub(super) fn ms_axis(top: f64) -> Axis<'static> {
    Axis::default()
        .bounds([0.0, top])
        .labels([
            "0".to_owned(),
            format::ms_short(top / 2.0),
            format::ms_short(top),
        ])
        .style(Style::new().fg(Color::Gray))
}

/// Every step's latency: whole-run percentiles, the last second's p99 ("p99 now"), and p99 per
/// second.
fn steps_table(team: &TeamSnapshot, trend: &StepTrend, area: Rect, buf: &mut Buffer) {
    let inner = area.width.saturating_sub(2);
    // Columns by priority; the rest of the width goes to the per-second sparkline.
    const NAME: u16 = 14;
    const NUM: u16 = 9;
    let mut columns: Vec<&str> = vec!["p99", "p99 now"];
    let mut used = NAME + 2 * (NUM + 1);
    for optional in ["count", "p95", "p50"] {
        if inner >= used + NUM + 1 + 16 {
            columns.push(optional);
            used += NUM + 1;
        }
    }
    let order = ["count", "p50", "p95", "p99", "p99 now"];
    columns.sort_by_key(|c| order.iter().position(|o| o == c));
    let spark_width = inner.saturating_sub(used + 1) as usize;

    let header = Row::new(
        std::iter::once(Cell::from("step"))
            .chain(
                columns
                    .iter()
                    .map(|c| Cell::from(Line::from(*c).right_aligned())),
            )
            .chain(std::iter::once(Cell::from(if spark_width >= 14 {
                "p99 per second"
            } else {
                "p99/s"
            }))),
    )
    .style(Style::new().fg(ACCENT).bold());
    let rows = team.ops.iter().map(|stat| {
        let value = |c: &str| match c {
            "count" => format::int(stat.total.count),
            "p50" => format::ms(stat.total.p50_ms),
            "p95" => format::ms(stat.total.p95_ms),
            "p99" => format::ms(stat.total.p99_ms),
            _ if stat.recent.count > 0 => format::ms(stat.recent.p99_ms),
            _ => "–".to_owned(),
        };
        let cells = std::iter::once(Cell::from(stat.op.name()))
            .chain(
                columns
                    .iter()
                    .map(|c| Cell::from(Line::from(value(c)).right_aligned())),
            )
            .chain(std::iter::once(Cell::from(Span::styled(
                format::spark(&trend.p99(stat.op), spark_width),
                Style::new().fg(ACCENT),
            ))));
        Row::new(cells)
    });
    let widths = std::iter::once(Constraint::Length(NAME))
        .chain(columns.iter().map(|_| Constraint::Length(NUM)))
        .chain(std::iter::once(Constraint::Fill(1)));
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(panel("Steps · latency over the whole run"))
        .render(area, buf);
}

/// The finished levels, latest last: what the competition judges ("successes and failures at the
/// same number of users").
fn levels_table(team: &TeamSnapshot, area: Rect, buf: &mut Buffer) {
    let visible = area.height.saturating_sub(3) as usize;
    let levels = &team.levels[team.levels.len().saturating_sub(visible)..];
    let header = Row::new(
        [
            "level",
            "users",
            "connected",
            "passed",
            "failed",
            "new failed",
            "req ok",
            "req failed",
            "deliv p99",
            "late",
            "req p99",
        ]
        .map(|h| Cell::from(Line::from(h).right_aligned())),
    )
    .style(Style::new().fg(ACCENT).bold());
    let rows = levels.iter().map(|l| {
        let n = |v: u64| Cell::from(Line::from(format::int(v)).right_aligned());
        let bad =
            |v: u64| Cell::from(Line::from(format::int(v)).right_aligned()).style(failure_style(v));
        let ms = |v: f64| Cell::from(Line::from(format::ms(v)).right_aligned());
        let mut level = format!("{}", l.index + 1);
        if l.incomplete {
            level.push('*');
        }
        if l.pending > 0 {
            // Messages sent in it are still awaited: its figures may still change.
            level.push('~');
        }
        Row::new([
            Cell::from(Line::from(level).right_aligned()),
            n(u64::from(l.target_users)),
            n(l.users_connected),
            Cell::from(Line::from(format::int(l.vus_passed)).right_aligned())
                .style(Style::new().fg(OK)),
            bad(l.vus_failed),
            bad(l.vus_failed_in_level),
            n(l.requests.ok),
            bad(l.requests.failed),
            ms(l.delivery_p99_ms),
            bad(l.deliveries_late),
            ms(l.request_p99_ms),
        ])
    });
    let block = panel(if levels.iter().any(|l| l.pending > 0) {
        "Finished levels · successes and failures at each number of users · ~ still being judged"
    } else {
        "Finished levels · successes and failures at each number of users"
    });
    if levels.is_empty() {
        let inner = block.inner(area);
        block.render(area, buf);
        waiting(inner, buf, "no level finished yet");
        return;
    }
    Table::new(rows, [Constraint::Fill(1); 11])
        .header(header)
        .column_spacing(1)
        .block(block)
        .render(area, buf);
}
