//! The match view: every team of the match side by side with the same figures, the live leader, and
//! users and delivery p99 of every team over time on shared charts. Teams keep their column (snapshot
//! order) so nobody jumps around on the projector; the rank is in each column's title. With too many
//! teams for columns, one table row per team, in rank order.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Chart, Paragraph, Row, Table, Widget};

use super::run_view::{line_set, ms_axis, time_axis};
use super::{
    ACCENT, BAD, OK, count_of, failure_style, figure, kv, panel, ramp, team_color, waiting,
};
use crate::metrics::snapshot::TeamSnapshot;
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::leader::{Place, held, leader};

/// Narrowest team column; below it the view switches to a table.
const MIN_COLUMN: u16 = 30;
/// Widest team column: wider only spreads labels and figures apart.
const MAX_COLUMN: u16 = 56;
/// Height of a team column.
const COLUMN_HEIGHT: u16 = 14;

/// Draws the match view into `area`.
pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let snapshot = &app.board().snapshot;
    let [ramp_area, leader_area, body] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(3),
        Constraint::Fill(1),
    ])
    .areas(area);
    ramp(snapshot, ramp_area, buf);
    let teams = &snapshot.teams;
    if teams.is_empty() {
        waiting(
            Rect {
                y: leader_area.y,
                height: area.bottom().saturating_sub(leader_area.y),
                ..area
            },
            buf,
            "Waiting for the first measurements…",
        );
        return;
    }
    let places = app.places();
    leader_banner(teams, &places, leader_area, buf);

    let n = teams.len() as u16;
    if body.width / n >= MIN_COLUMN {
        let [columns, charts] = Layout::vertical([
            Constraint::Length(COLUMN_HEIGHT.min(body.height)),
            Constraint::Fill(1),
        ])
        .areas(body);
        let width = (MAX_COLUMN * n).min(columns.width);
        let columns = Rect {
            x: columns.x + (columns.width - width) / 2,
            width,
            ..columns
        };
        let areas = Layout::horizontal(vec![Constraint::Ratio(1, u32::from(n)); teams.len()])
            .split(columns);
        for (i, (team, area)) in teams.iter().zip(areas.iter()).enumerate() {
            let rank = places.iter().find(|p| p.team == i).map_or(0, |p| p.rank);
            let leads = leader(&places) == Some(i);
            team_column(i, team, rank, leads, *area, buf);
        }
        if charts.height >= 8 {
            over_time(teams, charts, buf);
        }
    } else {
        let rows = teams.len() as u16 + 3;
        let [table, charts] = Layout::vertical([
            Constraint::Length(rows.min(body.height)),
            Constraint::Fill(1),
        ])
        .areas(body);
        team_table(teams, &places, table, buf);
        if charts.height >= 8 {
            over_time(teams, charts, buf);
        }
    }
}

/// `★ LEADER  bravo  holds 2,950 users · ahead of alpha by 35`.
fn leader_banner(teams: &[TeamSnapshot], places: &[Place], area: Rect, buf: &mut Buffer) {
    let ranks: Vec<String> = places
        .iter()
        .map(|p| format!("{} {}", p.rank, teams[p.team].name))
        .collect();
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .title(Span::styled(
            " Live leader ",
            Style::new().fg(ACCENT).bold(),
        ))
        .title_bottom(Line::from(format!(" {} ", ranks.join(" · "))).right_aligned());
    let line = if teams.len() < 2 {
        Line::from(format!(
            "One team in this run ({}): a match compares two or more. Press 1 for the run view.",
            teams[0].name
        ))
        .italic()
    } else if let Some(first) = leader(places) {
        let t = &teams[first];
        let second = &teams[places[1].team];
        let lead = held(t).saturating_sub(held(second));
        let mut spans = vec![
            Span::styled(" ★ LEADER ", Style::new().fg(Color::Black).bg(OK).bold()),
            Span::raw("  "),
            Span::styled(t.name.clone(), Style::new().fg(team_color(first)).bold()),
            Span::raw("  holds "),
            Span::styled(count_of(held(t), "user", "users"), figure()),
        ];
        if lead > 0 {
            spans.push(Span::raw(format!(
                " · {} more than {}",
                format::int(lead),
                second.name
            )));
        } else {
            spans.push(Span::raw(format!(
                " · level with {} on users, ahead on the tie-breaks",
                second.name
            )));
        }
        spans.push(Span::raw(" · "));
        spans.push(Span::styled(
            count_of(t.gauges.failed, "failed user", "failed users"),
            failure_style(t.gauges.failed),
        ));
        Line::from(spans)
    } else {
        Line::from("No leader yet: the teams are level on every measure.").italic()
    };
    Paragraph::new(line).block(block).render(area, buf);
}

/// One team's figures in a column titled with its rank.
fn team_column(i: usize, t: &TeamSnapshot, rank: usize, leads: bool, area: Rect, buf: &mut Buffer) {
    let w = area.width.saturating_sub(2);
    let color = team_color(i);
    let title = Line::from(vec![
        Span::styled(format!(" #{rank} "), Style::new().bold()),
        Span::styled(
            format!("{}{} ", if leads { "★ " } else { "" }, t.name),
            Style::new().fg(color).bold(),
        ),
    ]);
    let block = Block::bordered()
        .border_type(if leads {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(Style::new().fg(color))
        .title(title);
    let d = &t.delivery;
    let p99_trend: Vec<Option<f64>> = t
        .history
        .iter()
        .map(|r| (r.messages_delivered > 0).then_some(r.delivery_p99_ms))
        .collect();
    let mut failures = t.failures.clone();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let failure_line = if failures.is_empty() {
        Line::styled("✔ no failures", Style::new().fg(OK))
    } else {
        let text: Vec<String> = failures
            .iter()
            .map(|(k, n)| format!("{} {}", k.name(), format::int(*n)))
            .collect();
        Line::styled(
            format::truncate(&text.join(" · "), w as usize),
            Style::new().fg(BAD),
        )
    };
    let slowest = t
        .ops
        .iter()
        .filter(|s| s.recent.count > 0)
        .max_by(|a, b| a.recent.p99_ms.total_cmp(&b.recent.p99_ms));
    let lines = vec![
        kv(
            "users held",
            format::int(held(t)),
            Style::new().fg(OK).bold(),
            w,
        ),
        kv("connected", format::int(t.gauges.connected), figure(), w),
        kv(
            "failed users",
            format::int(t.gauges.failed),
            failure_style(t.gauges.failed),
            w,
        ),
        kv(
            "requests ok",
            format::int(t.requests.ok),
            Style::new().fg(OK),
            w,
        ),
        kv(
            "requests failed",
            format::int(t.requests.failed),
            failure_style(t.requests.failed),
            w,
        ),
        kv(
            "messages / s",
            format::rate(t.messages_per_sec),
            figure(),
            w,
        ),
        kv("delivered", format::int(t.delivered), figure(), w),
        kv(
            "missing deliveries",
            format::int(t.missing),
            failure_style(t.missing),
            w,
        ),
        kv(
            "delivery p50 / p99",
            format!("{} / {}", format::ms(d.p50_ms), format::ms(d.p99_ms)),
            figure(),
            w,
        ),
        Line::from(vec![
            Span::raw("p99 "),
            Span::styled(
                format::spark(&p99_trend, (w as usize).saturating_sub(4)),
                Style::new().fg(color),
            ),
        ]),
        match slowest {
            Some(s) => kv(
                &format!("slowest: {}", s.op.name()),
                format::ms(s.recent.p99_ms),
                figure(),
                w,
            ),
            None => Line::raw(""),
        },
        failure_line,
    ];
    Paragraph::new(lines).block(block).render(area, buf);
}

/// One row per team, in rank order, when columns would be too narrow.
fn team_table(teams: &[TeamSnapshot], places: &[Place], area: Rect, buf: &mut Buffer) {
    let first = leader(places);
    let header = Row::new(
        [
            "#",
            "team",
            "held",
            "connected",
            "failed",
            "req ok",
            "req failed",
            "msg/s",
            "deliv p99",
        ]
        .map(|h| {
            if h == "team" {
                Cell::from(h)
            } else {
                Cell::from(Line::from(h).right_aligned())
            }
        }),
    )
    .style(Style::new().fg(ACCENT).bold());
    let rows = places.iter().map(|p| {
        let t = &teams[p.team];
        let name = if first == Some(p.team) {
            format!("★ {}", t.name)
        } else {
            t.name.clone()
        };
        let right = |text: String| Cell::from(Line::from(text).right_aligned());
        Row::new([
            right(p.rank.to_string()),
            Cell::from(name).style(Style::new().fg(team_color(p.team)).bold()),
            right(format::int(held(t))).style(Style::new().fg(OK).bold()),
            right(format::int(t.gauges.connected)),
            right(format::int(t.gauges.failed)).style(failure_style(t.gauges.failed)),
            right(format::int(t.requests.ok)),
            right(format::int(t.requests.failed)).style(failure_style(t.requests.failed)),
            right(format::rate(t.messages_per_sec)),
            right(format::ms(t.delivery.p99_ms)),
        ])
    });
    // Figures get the width their headers and values need; the team name gets the rest.
    let widths = [
        Constraint::Length(2),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(7),
        Constraint::Length(9),
    ];
    Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .block(panel("Teams"))
        .render(area, buf);
}

/// Connected users and delivery p99 of every team over time.
fn over_time(teams: &[TeamSnapshot], area: Rect, buf: &mut Buffer) {
    let [users_area, p99_area] = Layout::horizontal([Constraint::Ratio(1, 2); 2]).areas(area);
    let series =
        |f: &dyn Fn(&crate::base::summary::TimelineRow) -> Option<f64>| -> Vec<Vec<(f64, f64)>> {
            teams
                .iter()
                .map(|t| {
                    t.history
                        .iter()
                        .filter_map(|r| f(r).map(|v| (r.t_secs, v)))
                        .collect()
                })
                .collect()
        };
    let users = series(&|r| Some(r.connected_users as f64));
    let p99 = series(&|r| (r.messages_delivered > 0).then_some(r.delivery_p99_ms));
    let first = teams
        .iter()
        .filter_map(|t| t.history.first())
        .map(|r| r.t_secs - 1.0)
        .fold(f64::INFINITY, f64::min);
    let last = teams
        .iter()
        .filter_map(|t| t.history.last())
        .map(|r| r.t_secs)
        .fold(0.0, f64::max);
    if !first.is_finite() {
        let block = panel("Over time");
        let inner = block.inner(area);
        block.render(area, buf);
        waiting(inner, buf, "no second measured yet");
        return;
    }
    let (first, last) = (first.max(0.0), last.max(first + 1.0));

    let top_users = users.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let datasets = teams
        .iter()
        .zip(&users)
        .enumerate()
        .map(|(i, (t, data))| line_set(&t.name, data, team_color(i)))
        .collect();
    Chart::new(datasets)
        .block(panel("Connected users"))
        .x_axis(time_axis(first, last))
        .y_axis(
            ratatui::widgets::Axis::default()
                .bounds([0.0, top_users])
                .labels([
                    "0".to_owned(),
                    format::int((top_users / 2.0) as u64),
                    format::int(top_users as u64),
                ])
                .style(Style::new().fg(Color::Gray)),
        )
        .render(users_area, buf);

    let top_ms = p99.iter().flatten().map(|p| p.1).fold(1.0, f64::max) * 1.1;
    let datasets = teams
        .iter()
        .zip(&p99)
        .enumerate()
        .map(|(i, (t, data))| line_set(&t.name, data, team_color(i)))
        .collect();
    Chart::new(datasets)
        .block(panel("Delivery p99"))
        .x_axis(time_axis(first, last))
        .y_axis(ms_axis(top_ms))
        .render(p99_area, buf);
}
