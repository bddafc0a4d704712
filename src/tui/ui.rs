//! Drawing: `impl Widget for &App`. A pure function of the app's state into a buffer, so render tests
//! draw into ratatui's `TestBackend` and compare with snapshot files.
//!
//! Every frame has a title bar (what runs, the view tabs, live/paused/stopping), one view, and a key
//! bar; overlays (help, "stop the run?") go on top. Colours carry meaning and nothing else: green is
//! healthy, red is failure, yellow is a warning or a frozen display; team colours only tell teams
//! apart. Panels drop detail, never panic, as the terminal shrinks.
//!
//! # Layout
//! - this file: the frame, the title and key bars, overlays, and the pieces every view uses.
//! - `run_view`: one team in detail.
//! - `match_view`: the teams side by side with the live leader.
//! - `bracket_view`: the bracket tree and standings.

mod bracket_view;
mod match_view;
mod run_view;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Cell, Clear, Gauge, Paragraph, Row, Table, Widget, Wrap,
};

use super::app::{App, View};
use super::format;
use crate::metrics::Snapshot;

/// Healthy figures.
const OK: Color = Color::Green;
/// Failures.
const BAD: Color = Color::Red;
/// Warnings and frozen display.
const WARN: Color = Color::Yellow;
/// Panel titles and accents.
const ACCENT: Color = Color::Cyan;

/// Colours that tell teams apart (by snapshot index). None of them is green, red or yellow, which
/// already mean something.
const TEAM_COLORS: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::LightBlue,
    Color::White,
    Color::LightCyan,
    Color::LightMagenta,
];

/// The colour of team `i`.
fn team_color(i: usize) -> Color {
    TEAM_COLORS[i % TEAM_COLORS.len()]
}

impl Widget for &App {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < 2 || area.height < 2 {
            return;
        }
        let [top, body, keys] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(area);
        title_bar(self, top, buf);
        match self.view() {
            View::Run => run_view::render(self, body, buf),
            View::Match => match_view::render(self, body, buf),
            View::Bracket => bracket_view::render(self, body, buf),
        }
        key_bar(self, keys, buf);
        if self.help() {
            help(area, buf);
        }
        if self.confirm_stop() {
            confirm_stop(area, buf);
        }
    }
}

/// `STAMPEDE  title  1 Run  2 Match  3 Bracket` on the left, the run's state on the right.
fn title_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let snapshot = &app.board().snapshot;
    let mut spans = vec![
        Span::styled(
            " STAMPEDE ",
            Style::new().fg(Color::Black).bg(ACCENT).bold(),
        ),
        Span::raw(" "),
        Span::styled(app.title().to_owned(), Style::new().bold()),
        Span::raw("  "),
    ];
    for (i, view) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, view.name());
        spans.push(if *view == app.view() {
            Span::styled(label, Style::new().reversed().bold())
        } else {
            Span::raw(label)
        });
    }
    Paragraph::new(Line::from(spans)).render(area, buf);

    let status = if app.stopping() && !snapshot.done {
        Span::styled(
            " ■ STOPPING: writing results… ",
            Style::new().fg(Color::Black).bg(WARN).bold(),
        )
    } else if app.paused() && app.run_over() {
        Span::styled(
            " ❚❚ PAUSED · the run has ended: p to see the end, q to leave ",
            Style::new().fg(Color::Black).bg(WARN).bold(),
        )
    } else if app.paused() {
        Span::styled(
            " ❚❚ PAUSED · the run goes on: p to resume ",
            Style::new().fg(Color::Black).bg(WARN).bold(),
        )
    } else if snapshot.done {
        Span::styled(" ✔ FINISHED ", Style::new().fg(Color::Black).bg(OK).bold())
    } else {
        Span::styled(" ● LIVE ", Style::new().fg(OK).bold())
    };
    let width = status.width() as u16;
    if width < area.width {
        let right = Rect {
            x: area.right() - width,
            width,
            ..area
        };
        status.render(right, buf);
    }
}

/// The keys, in the words a first-time viewer needs.
fn key_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let key = |k: &str| Span::styled(format!(" {k} "), Style::new().reversed());
    let text = |t: &str| Span::raw(format!(" {t}  "));
    let mut spans = vec![
        key("1 2 3"),
        text("views"),
        key("←→"),
        text("team"),
        key("p"),
        text(if app.paused() { "resume" } else { "pause" }),
        key("?"),
        text("help"),
    ];
    if app.run_over() {
        spans.extend([key("q"), text("leave")]);
    } else if app.stopping() {
        spans.push(Span::styled(
            " every user is being stopped; the results will be written ",
            Style::new().fg(WARN),
        ));
    } else {
        spans.extend([key("q"), text("stop the run")]);
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// The key list and the leader rule.
fn help(area: Rect, buf: &mut Buffer) {
    let keys: [(&str, &str); 8] = [
        ("1  2  3", "run view · match view · bracket view"),
        ("Tab  Shift-Tab", "next · previous view"),
        ("← → ↑ ↓", "select a team (the run view shows it)"),
        ("p  Space", "pause the display; the run goes on"),
        ("?  h", "this help (Esc closes it)"),
        ("q  Esc", "stop the run: asks first, q again confirms"),
        ("Ctrl-C", "stop the run at once"),
        ("", "A stopped run still writes every result file."),
    ];
    let popup = centered(area, 72, 17);
    Clear.render(popup, buf);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(Style::new().fg(ACCENT))
        .title(" Keys ")
        .title_bottom(Line::from(" Esc or ? to close ").right_aligned());
    let inner = block.inner(popup);
    block.render(popup, buf);
    let [table, rule] = Layout::vertical([
        Constraint::Length(keys.len() as u16 + 1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let rows = keys.iter().map(|(k, what)| {
        Row::new([
            Cell::from(Line::from(*k).right_aligned()).style(Style::new().fg(ACCENT).bold()),
            Cell::from(*what),
        ])
    });
    Table::new(rows, [Constraint::Length(15), Constraint::Fill(1)])
        .column_spacing(2)
        .render(table, buf);
    Paragraph::new(vec![
        Line::from(Span::styled(
            "Live leader (match view)",
            Style::new().fg(ACCENT).bold(),
        )),
        Line::raw(
            "most users connected without a failure at the current level, then fewer failed \
             users, then more messages delivered, then lower delivery p99.",
        ),
    ])
    .wrap(Wrap { trim: true })
    .render(rule, buf);
}

/// "Stop the run?" with what stopping means.
fn confirm_stop(area: Rect, buf: &mut Buffer) {
    let lines = vec![
        Line::raw(""),
        Line::from("Every user stops now. The results so far are written,").centered(),
        Line::from("marked partial.").centered(),
        Line::raw(""),
        Line::from(vec![
            Span::styled(" q ", Style::new().reversed().bold()),
            Span::raw(" / "),
            Span::styled(" y ", Style::new().reversed().bold()),
            Span::raw(" / "),
            Span::styled(" Enter ", Style::new().reversed().bold()),
            Span::raw(" stop      "),
            Span::styled(" Esc ", Style::new().reversed().bold()),
            Span::raw(" / "),
            Span::styled(" n ", Style::new().reversed().bold()),
            Span::raw(" keep running"),
        ])
        .centered(),
    ];
    let popup = centered(area, 62, 7);
    Clear.render(popup, buf);
    Paragraph::new(lines)
        .block(
            Block::bordered()
                .border_type(BorderType::Thick)
                .border_style(Style::new().fg(BAD).bold())
                .title(Line::from(" Stop the run? ").bold().centered()),
        )
        .render(popup, buf);
}

/// A `width`×`height` rectangle in the middle of `area`, shrunk to fit.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

/// A bordered panel with a bold title.
fn panel(title: impl Into<String>) -> Block<'static> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .title(Span::styled(
            format!(" {} ", title.into()),
            Style::new().fg(ACCENT).bold(),
        ))
}

/// `label ........ value`, the value right-aligned to `width`.
fn kv(label: &str, value: String, style: Style, width: u16) -> Line<'static> {
    let pad = (width as usize).saturating_sub(label.chars().count() + value.chars().count());
    Line::from(vec![
        Span::raw(label.to_owned()),
        Span::raw(" ".repeat(pad.max(1))),
        Span::styled(value, style),
    ])
}

/// Green when zero, red otherwise: for counts of failures.
fn failure_style(count: u64) -> Style {
    if count == 0 {
        Style::new().fg(OK)
    } else {
        Style::new().fg(BAD).bold()
    }
}

/// `1 failed user`, `2 failed users`.
fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", format::int(n), if n == 1 { one } else { many })
}

/// Bold, for figures that must read from the back of a room.
fn figure() -> Style {
    Style::new().bold()
}

/// The ramp: level, phase, target users, time, and a progress bar.
fn ramp(snapshot: &Snapshot, area: Rect, buf: &mut Buffer) {
    let level = if snapshot.levels == 0 {
        "–".to_owned()
    } else {
        format!(
            "{} of {}",
            (snapshot.level + 1).min(snapshot.levels),
            snapshot.levels
        )
    };
    let phase = if snapshot.phase.is_empty() {
        String::new()
    } else {
        format!(" ({})", snapshot.phase)
    };
    let title = Line::from(vec![
        Span::styled(" Level ", Style::new().fg(ACCENT).bold()),
        Span::styled(level, Style::new().bold()),
        Span::styled(format!("{phase} · target "), Style::new().fg(ACCENT)),
        Span::styled(
            format!("{} users", format::int(u64::from(snapshot.target_users))),
            figure(),
        ),
        Span::styled(" ", Style::new()),
    ]);
    let block = Block::bordered()
        .border_type(BorderType::Rounded)
        .title(title);
    let ratio = if snapshot.planned.is_zero() {
        0.0
    } else {
        (snapshot.elapsed.as_secs_f64() / snapshot.planned.as_secs_f64()).clamp(0.0, 1.0)
    };
    let mut label = format!(
        "{} of {} · {}",
        format::clock(snapshot.elapsed),
        format::clock(snapshot.planned),
        format::percent(
            snapshot.elapsed.as_secs_f64(),
            snapshot.planned.as_secs_f64()
        )
    );
    if snapshot.draining && !snapshot.done {
        let outstanding: u64 = snapshot.teams.iter().map(|t| t.pending).sum();
        label.push_str(&format!(
            " · load stopped, draining: {} outstanding",
            format::int(outstanding)
        ));
    }
    let unjudged: u64 = snapshot.teams.iter().map(|t| t.unjudged).sum();
    if unjudged > 0 {
        label.push_str(&format!(" · {} UNJUDGED", format::int(unjudged)));
    }
    Gauge::default()
        .block(block)
        .ratio(ratio)
        .label(Span::styled(label, Style::new().bold()))
        .gauge_style(Style::new().fg(ACCENT).bg(Color::Black))
        .use_unicode(true)
        .render(area, buf);
}

/// "Waiting for the first measurements…" in the middle of `area`.
fn waiting(area: Rect, buf: &mut Buffer, text: &str) {
    let y = area.y + area.height / 2;
    if area.height == 0 {
        return;
    }
    Paragraph::new(text.to_owned())
        .alignment(Alignment::Center)
        .style(Style::new().add_modifier(Modifier::ITALIC))
        .render(
            Rect {
                y,
                height: 1,
                ..area
            },
            buf,
        );
}
