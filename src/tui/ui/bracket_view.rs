//! The bracket view: the tree of rounds (finished results, the match being played, matches to come),
//! the standings, and one line on the match in play from the live snapshot.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Widget};

use super::{ACCENT, OK, WARN, figure, panel, waiting};
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::leader::{held, leader};
use crate::view::bracket::{BracketView, MatchState, MatchView};

/// Width of the connector lines between two rounds.
const GAP: u16 = 4;
/// Width of the standings table beside the tree.
const STANDINGS_WIDTH: u16 = 50;
/// Most lines a first-round match takes, blank lines included: taller looks scattered.
const MAX_SLOT: u16 = 4;
/// Narrowest round column of a tree; narrower, the rounds are listed instead.
const MIN_COLUMN: u16 = 8;

/// Draws the bracket view into `area`.
pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let Some(bracket) = &app.board().bracket else {
        let block = panel("Bracket");
        let inner = block.inner(area);
        block.render(area, buf);
        waiting(
            inner,
            buf,
            "No bracket in this run: `stampede bracket` fills this view. 1: run view · 2: match view",
        );
        return;
    };
    let [now, body] = Layout::vertical([Constraint::Length(3), Constraint::Fill(1)]).areas(area);
    now_playing(app, bracket, now, buf);
    let (tree_area, standings_area) = if body.width >= 100 {
        let [t, s] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(STANDINGS_WIDTH)])
            .areas(body);
        (t, s)
    } else {
        let rows = (bracket.standings.len() as u16 + 3).min(body.height / 2);
        let [t, s] = Layout::vertical([Constraint::Fill(1), Constraint::Length(rows)]).areas(body);
        (t, s)
    };
    let title = if bracket.title.is_empty() {
        "Bracket".to_owned()
    } else {
        format!("Bracket · {}", bracket.title)
    };
    let block = panel(title);
    let inner = block.inner(tree_area);
    block.render(tree_area, buf);
    tree(bracket, inner, buf);
    standings(bracket, standings_area, buf);
}

/// `▶ Now playing  alpha vs bravo · level 12 of 30 · leader alpha (2,950 users)`.
fn now_playing(app: &App, bracket: &BracketView, area: Rect, buf: &mut Buffer) {
    let snapshot = &app.board().snapshot;
    let mut spans = Vec::new();
    if let Some((r, m)) = bracket.playing() {
        let names: Vec<String> = bracket.rounds[r].matches[m]
            .teams
            .iter()
            .map(|t| t.clone().unwrap_or_else(|| "TBD".to_owned()))
            .collect();
        spans.push(Span::styled(
            " ▶ NOW PLAYING ",
            Style::new().fg(Color::Black).bg(WARN).bold(),
        ));
        spans.push(Span::styled(format!("  {}", names.join(" vs ")), figure()));
        spans.push(Span::raw(format!("  · {}", bracket.rounds[r].name)));
        if !snapshot.teams.is_empty() && snapshot.levels > 0 {
            spans.push(Span::raw(format!(
                " · level {} of {}",
                (snapshot.level + 1).min(snapshot.levels),
                snapshot.levels
            )));
            let places = app.places();
            if let Some(first) = leader(&places) {
                let t = &snapshot.teams[first];
                spans.push(Span::raw(" · leader "));
                spans.push(Span::styled(
                    format!("{} ({} users)", t.name, format::int(held(t))),
                    Style::new().fg(OK).bold(),
                ));
            }
        }
    } else if bracket.finished {
        let champion = bracket.standings.first().map_or("–", |s| s.team.as_str());
        spans.push(Span::styled(
            " ✔ BRACKET FINISHED ",
            Style::new().fg(Color::Black).bg(OK).bold(),
        ));
        spans.push(Span::raw("  winner "));
        spans.push(Span::styled(
            champion.to_owned(),
            Style::new().fg(OK).bold(),
        ));
    } else {
        spans.push(Span::raw(" between matches"));
    }
    Paragraph::new(Line::from(spans))
        .block(panel("Now"))
        .render(area, buf);
}

/// Rounds as columns, left to right; each match's rows centred between the two it follows. A
/// bracket that is not a tree, or too wide to draw as one here, is listed instead.
fn tree(bracket: &BracketView, area: Rect, buf: &mut Buffer) {
    let rounds = &bracket.rounds;
    if rounds.is_empty() || area.width == 0 || area.height == 0 {
        return;
    }
    let n = rounds.len() as u16;
    let column = area.width.saturating_sub(GAP * (n - 1)) / n;
    if !bracket.tree || column < MIN_COLUMN || area.height < 3 {
        list(bracket, area, buf);
        return;
    }
    // Row 0 is the round names. Spread the first round's matches over the height: each match is one
    // line per team, plus at least a blank line between matches when it fits.
    let first_round = rounds[0].matches.len().max(1) as u16;
    let teams_per_match = rounds[0]
        .matches
        .iter()
        .map(|m| m.teams.len())
        .max()
        .unwrap_or(2) as u16;
    let slot = (area.height.saturating_sub(1) / first_round)
        .clamp(teams_per_match, MAX_SLOT.max(teams_per_match));
    let mut tops: Vec<Vec<u16>> = Vec::with_capacity(rounds.len());
    for (r, round) in rounds.iter().enumerate() {
        let row: Vec<u16> = (0..round.matches.len())
            .map(|i| {
                let fed = r
                    .checked_sub(1)
                    .map(|p| &tops[p])
                    .and_then(
                        |prev: &Vec<u16>| match (prev.get(2 * i), prev.get(2 * i + 1)) {
                            (Some(a), Some(b)) => Some((a + b) / 2),
                            (Some(a), None) => Some(*a),
                            _ => None,
                        },
                    );
                fed.unwrap_or(1 + i as u16 * slot + slot.saturating_sub(teams_per_match) / 2)
            })
            .collect();
        tops.push(row);
    }
    for (r, round) in rounds.iter().enumerate() {
        let x = area.x + r as u16 * (column + GAP);
        put(
            buf,
            area,
            x,
            area.y,
            &format::truncate(&round.name, column as usize),
            Style::new()
                .fg(ACCENT)
                .bold()
                .add_modifier(Modifier::UNDERLINED),
        );
        for (i, m) in round.matches.iter().enumerate() {
            let y = area.y + tops[r][i];
            match_lines(m, x, y, column, area, buf);
            // Connector into the next round's match i / 2 (drawn from the first team's row).
            if let Some(next) = tops.get(r + 1).and_then(|t| t.get(i / 2)) {
                connector(buf, area, x + column, y, area.y + next, i % 2 == 0);
            }
        }
    }
}

/// Rounds one under another, a match per line (`alpha 3,250 ✓  v  hotel 2,100  · held 1,150
/// more`). When that is longer than `area`, the part shown starts a little above the match in play
/// (or the next to play; the last lines once all are played).
fn list(bracket: &BracketView, area: Rect, buf: &mut Buffer) {
    let mut lines = Vec::new();
    let mut playing = None;
    let mut next = None;
    for (r, round) in bracket.rounds.iter().enumerate() {
        if r > 0 && area.height as usize > bracket.rounds.len() * 3 {
            lines.push(Line::default());
        }
        lines.push(Line::styled(
            round.name.clone(),
            Style::new()
                .fg(ACCENT)
                .bold()
                .add_modifier(Modifier::UNDERLINED),
        ));
        for m in &round.matches {
            match m.state {
                MatchState::Playing => playing = playing.or(Some(lines.len())),
                MatchState::Waiting => next = next.or(Some(lines.len())),
                MatchState::Finished { .. } => {}
            }
            lines.push(match_line(m));
        }
    }
    let height = area.height as usize;
    let last_page = lines.len().saturating_sub(height);
    let top = playing
        .or(next)
        .map_or(last_page, |focus| focus.saturating_sub(height / 3))
        .min(last_page);
    Paragraph::new(lines.split_off(top)).render(area, buf);
}

/// How team `k` of a match looks in either layout.
struct TeamLook<'a> {
    /// Its name, `TBD` while an earlier match decides it.
    name: &'a str,
    /// Coloured by the match's state: live, won, lost (dimmed), or still to come.
    style: Style,
    /// Its figure once the match is played (may be empty).
    score: &'a str,
    /// It won the match.
    won: bool,
}

fn team_look(m: &MatchView, k: usize) -> TeamLook<'_> {
    let (name, style) = match &m.teams[k] {
        Some(name) => (name.as_str(), Style::new()),
        None => ("TBD", Style::new().fg(Color::Gray).italic()),
    };
    match &m.state {
        MatchState::Waiting => TeamLook {
            name,
            style,
            score: "",
            won: false,
        },
        MatchState::Playing => TeamLook {
            name,
            style: style.fg(WARN).bold(),
            score: "",
            won: false,
        },
        MatchState::Finished { winner, scores, .. } => {
            let won = *winner == Some(k);
            TeamLook {
                name,
                style: if won {
                    style.fg(OK).bold()
                } else {
                    style.add_modifier(Modifier::DIM)
                },
                score: scores.get(k).map_or("", String::as_str),
                won,
            }
        }
    }
}

/// A match on one line: each team with its score (the winner ✓), then `▶ live` or the result's note.
fn match_line(m: &MatchView) -> Line<'static> {
    let mut spans = vec![Span::raw("  ")];
    for k in 0..m.teams.len() {
        if k > 0 {
            spans.push(Span::styled("  v  ", Style::new().fg(Color::Gray)));
        }
        let look = team_look(m, k);
        let mut text = look.name.to_owned();
        if !look.score.is_empty() {
            text.push(' ');
            text.push_str(look.score);
        }
        if look.won {
            text.push_str(" ✓");
        }
        spans.push(Span::styled(text, look.style));
    }
    match &m.state {
        MatchState::Playing => spans.push(Span::styled("  ▶ live", Style::new().fg(WARN).bold())),
        MatchState::Finished { note, .. } if !note.is_empty() => {
            spans.push(Span::styled(
                format!("  · {note}"),
                Style::new().fg(Color::Gray),
            ));
        }
        _ => {}
    }
    Line::from(spans)
}

/// A match in a tree: one line per team, `name  score ✓`, coloured by state.
fn match_lines(m: &MatchView, x: u16, y: u16, width: u16, area: Rect, buf: &mut Buffer) {
    for k in 0..m.teams.len() {
        let look = team_look(m, k);
        let score = if m.state == MatchState::Playing && k == 0 {
            "▶ live".to_owned()
        } else if look.won {
            format!("{} ✓", look.score)
        } else {
            look.score.to_owned()
        };
        let room = (width as usize).saturating_sub(score.chars().count() + 1);
        let name = format::truncate(look.name, room);
        let pad = (width as usize).saturating_sub(name.chars().count() + score.chars().count());
        let text = format!("{name}{}{score}", " ".repeat(pad));
        put(buf, area, x, y + k as u16, &text, look.style);
    }
}

/// `─┐` from an upper feeder, `─┘` from a lower one, a vertical run between them, and `├─` into the
/// next round's match at `to`.
fn connector(buf: &mut Buffer, area: Rect, x: u16, from: u16, to: u16, upper: bool) {
    let style = Style::new().fg(Color::Gray);
    if from == to {
        put(buf, area, x, from, &"─".repeat(GAP as usize), style);
        return;
    }
    put(buf, area, x, from, if upper { "─┐" } else { "─┘" }, style);
    let (lo, hi) = if from < to {
        (from + 1, to)
    } else {
        (to + 1, from)
    };
    for y in lo..hi {
        put(buf, area, x + 1, y, "│", style);
    }
    put(buf, area, x + 1, to, "├─", style);
    put(buf, area, x + 3, to, "─", style);
}

/// Writes `text` at (`x`, `y`) if that is inside `area`, clipped to its right edge.
fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, text: &str, style: Style) {
    if y < area.top() || y >= area.bottom() || x < area.left() || x >= area.right() {
        return;
    }
    buf.set_stringn(x, y, text, (area.right() - x) as usize, style);
}

/// The standings table.
fn standings(bracket: &BracketView, area: Rect, buf: &mut Buffer) {
    let header = Row::new(["#", "team", "P", "W", "L", "best"].map(Cell::from))
        .style(Style::new().fg(ACCENT).bold());
    let rows = bracket.standings.iter().map(|s| {
        let style = if s.alive {
            Style::new()
        } else {
            Style::new().add_modifier(Modifier::DIM)
        };
        Row::new([
            Cell::from(s.rank.to_string()),
            Cell::from(s.team.clone()).style(Style::new().bold()),
            Cell::from(s.played.to_string()),
            Cell::from(s.won.to_string()).style(Style::new().fg(OK)),
            Cell::from(s.lost.to_string()),
            Cell::from(s.best.clone()),
        ])
        .style(style)
    });
    let name = bracket
        .standings
        .iter()
        .map(|s| s.team.chars().count() as u16)
        .max()
        .unwrap_or(4)
        .clamp(4, 16);
    Table::new(
        rows,
        [
            Constraint::Length(2),
            Constraint::Length(name),
            Constraint::Length(2),
            Constraint::Length(2),
            Constraint::Length(2),
            Constraint::Fill(1),
        ],
    )
    .header(header)
    .column_spacing(1)
    .block(panel("Standings"))
    .render(area, buf);
}
