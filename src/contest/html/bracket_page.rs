//! The page of a bracket: the bracket drawn, the standings, links to every match's page.

use crate::contest::files::BracketFile;
use crate::report::html::REPORT_HTML;
use crate::report::html::format::{int, num};
use crate::report::html::markup::{Html, rel_href};
use crate::report::html::page::{Cell, badge, page, section, table};
use crate::score::bracket::Stage;
use crate::score::{Bracket, MatchId, MatchStatus, Outcome};
use crate::view::bracket::bracket_view;
use crate::view::bracket::{MatchState, MatchView};

/// The page of a bracket: the bracket drawn (a tree for single elimination, the rounds side by side
/// otherwise), the standings, and every match with links to its report.
pub fn bracket_page(file: &BracketFile, bracket: &Bracket, playing: Option<&MatchId>) -> String {
    let subtitle = format!(
        "{} of {} teams · {} · {} · seed {} · time scale {}",
        file.format.title(),
        file.teams.len(),
        file.scenario,
        file.mode.name(),
        file.seed,
        num(file.time_scale, 3)
    );
    let mut b = Html::new();
    section(&mut b, "verdict", "Where it stands");
    match (&file.champion, file.finished) {
        (Some(c), _) => {
            b.open("span", &[("class", "badge ok"), ("data-champion", c)]);
            b.text(&format!("champion: {c}"));
            b.close("span");
        }
        (None, true) => badge(&mut b, "info", "finished: first place is shared"),
        (None, false) => badge(&mut b, "warn", "in progress"),
    }
    if let Some(p) = playing {
        badge(&mut b, "info", &format!("playing {p}"));
    }
    b.close("section");

    section(&mut b, "bracket", "The bracket");
    b.append(&drawing(file, bracket, playing));
    b.close("section");

    section(
        &mut b,
        "standings",
        if file.finished {
            "Standings"
        } else {
            "Standings (provisional)"
        },
    );
    let round_robin = file.format == crate::score::Format::RoundRobin;
    let mut columns = vec!["place", "team", "seed", "won", "drawn", "lost"];
    if round_robin {
        columns.extend(["points", "head to head"]);
    }
    columns.extend(["users over its matches", "out in"]);
    let rows: Vec<Vec<Cell>> = file
        .standings
        .iter()
        .map(|s| {
            let mut row = vec![
                Cell::num(s.place.to_string()),
                Cell::text(s.team.clone()),
                Cell::num(s.seed.to_string()),
                Cell::num(s.wins.to_string()),
                Cell::num(s.draws.to_string()),
                Cell::num(s.losses.to_string()),
            ];
            if round_robin {
                row.extend([
                    Cell::num(s.points.to_string()),
                    Cell::num(s.head_to_head.to_string()),
                ]);
            }
            row.extend([
                Cell::num(int(s.total_users)),
                Cell::text(
                    s.eliminated_in
                        .as_ref()
                        .map(|m| m.0.clone())
                        .unwrap_or_default(),
                ),
            ]);
            row
        })
        .collect();
    table(
        &mut b,
        "standings",
        &columns.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        &rows,
    );
    b.close("section");

    section(&mut b, "matches", "Matches");
    let columns = ["match", "teams", "result", "why", "reports"]
        .map(String::from)
        .to_vec();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for m in &file.matches {
        let teams = match &m.status {
            MatchStatus::Ready { teams } => teams.join(" vs "),
            MatchStatus::Played { winner, loser } => format!("{winner} vs {loser}"),
            MatchStatus::Bye { advanced } => {
                format!("{} (bye)", advanced.as_deref().unwrap_or("–"))
            }
            MatchStatus::NotNeeded => "not needed".into(),
            MatchStatus::Waiting => "to be decided".into(),
        };
        let (result, class) = match m.result.as_ref().map(|r| &r.outcome) {
            Some(Outcome::Won { winner }) => (format!("{winner} won"), "ok"),
            Some(Outcome::Draw) => ("draw".to_string(), ""),
            Some(Outcome::Void) => ("void".to_string(), "warn"),
            None if playing == Some(&m.id) => ("playing".to_string(), "warn"),
            None if !m.voids.is_empty() => (format!("void ×{}", m.voids.len()), "warn"),
            None => (String::new(), ""),
        };
        let why = m
            .result
            .as_ref()
            .map(|r| r.reason.clone())
            .or_else(|| m.voids.last().cloned())
            .unwrap_or_default();
        rows.push(vec![
            Cell::text(m.id.0.clone()),
            Cell::text(teams),
            Cell::class(result, class),
            Cell::text(why),
            Cell::text(String::new()),
        ]);
    }
    // The reports column links every attempt; a table cell holds one link, so it is drawn by hand.
    b.open("div", &[("class", "scroll")]);
    b.raw("<table class=\"matches\"><thead><tr>");
    for c in &columns {
        b.el("th", &[], c);
    }
    b.raw("</tr></thead><tbody>");
    for (m, row) in file.matches.iter().zip(&rows) {
        b.open("tr", &[("data-match", &m.id.0)]);
        for cell in &row[..4] {
            b.el("td", &[("class", cell.class)], &cell.text);
        }
        b.raw("<td>");
        for (i, dir) in m.attempts.iter().enumerate() {
            let segments: Vec<&str> = dir.split('/').chain([REPORT_HTML]).collect();
            if let Some(href) = rel_href(0, &segments) {
                let label = if m.attempts.len() > 1 {
                    format!("attempt {}", i + 1)
                } else {
                    "report".into()
                };
                b.el("a", &[("href", &href)], &label);
                b.raw(" ");
            }
        }
        b.raw("</td></tr>");
    }
    b.raw("</tbody></table></div>");
    b.close("section");
    page("bracket", &file.title, &subtitle, &Html::new(), &b)
}

/// The report link of a match: its last attempt (the one that counted, or the latest void one).
pub(super) fn match_href(file: &BracketFile, id: &MatchId) -> Option<String> {
    let m = file.matches.iter().find(|m| &m.id == id)?;
    let dir = m.attempts.last()?;
    let segments: Vec<&str> = dir.split('/').chain([REPORT_HTML]).collect();
    rel_href(0, &segments)
}

/// The bracket as SVG: one column per round, a box per match with its teams and scores; a single
/// elimination tree has its wires, other formats their rounds side by side.
pub(super) fn drawing(file: &BracketFile, bracket: &Bracket, playing: Option<&MatchId>) -> Html {
    const COL: f64 = 210.0;
    const BOX_W: f64 = 180.0;
    const BOX_H: f64 = 42.0;
    const GAP: f64 = 16.0;
    const HEAD: f64 = 22.0;
    let view = bracket_view(&file.title, bracket, playing);
    // The view groups matches by stage in first-appearance order; the ids follow the same order.
    let mut ids: Vec<(Stage, Vec<MatchId>)> = Vec::new();
    for m in bracket.matches() {
        match ids.iter_mut().find(|(s, _)| *s == m.stage) {
            Some((_, v)) => v.push(m.id.clone()),
            None => ids.push((m.stage, vec![m.id.clone()])),
        }
    }
    let tallest = view
        .rounds
        .iter()
        .map(|r| r.matches.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let height = HEAD + tallest as f64 * (BOX_H + GAP);
    let width = view.rounds.len().max(1) as f64 * COL;
    let mut h = Html::new();
    h.open("div", &[("class", "bracket")]);
    h.open(
        "svg",
        &[
            ("viewBox", &format!("0 0 {width} {height}")),
            ("role", "img"),
            ("aria-label", &format!("{} bracket", file.format.title())),
            ("style", &format!("max-width:{width}px")),
        ],
    );
    // Vertical centre of match `i` of a round of `n` matches: a tree spreads each round over the
    // whole height, so a match sits between the two that feed it.
    let centre = |i: usize, n: usize| -> f64 {
        if view.tree {
            HEAD + (height - HEAD) / n.max(1) as f64 * (i as f64 + 0.5)
        } else {
            HEAD + (BOX_H + GAP) * i as f64 + BOX_H / 2.0
        }
    };
    for (r, round) in view.rounds.iter().enumerate() {
        let x = r as f64 * COL + 4.0;
        h.el(
            "text",
            &[("class", "round"), ("x", &x.to_string()), ("y", "14")],
            &round.name,
        );
        let round_ids = ids.get(r).map(|(_, v)| v.as_slice()).unwrap_or_default();
        for (i, m) in round.matches.iter().enumerate() {
            let cy = centre(i, round.matches.len());
            let y = cy - BOX_H / 2.0;
            if view.tree && r + 1 < view.rounds.len() {
                let next = centre(i / 2, view.rounds[r + 1].matches.len());
                let (x1, x2) = (x + BOX_W, (r + 1) as f64 * COL + 4.0);
                let xm = (x1 + x2) / 2.0;
                h.void(
                    "path",
                    &[
                        ("class", "wire"),
                        ("d", &format!("M{x1} {cy:.1}H{xm}V{next:.1}H{x2}")),
                    ],
                );
            }
            let id = round_ids.get(i);
            let href = id.and_then(|id| match_href(file, id));
            if let Some(href) = &href {
                h.open("a", &[("href", href)]);
            }
            match_box(&mut h, m, id, x, y, BOX_W, BOX_H);
            if href.is_some() {
                h.close("a");
            }
        }
    }
    h.close("svg");
    h.close("div");
    h
}

pub(super) fn match_box(
    h: &mut Html,
    m: &MatchView,
    id: Option<&MatchId>,
    x: f64,
    y: f64,
    w: f64,
    bh: f64,
) {
    let playing = m.state == MatchState::Playing;
    h.open("g", &[("data-match", id.map_or("", |i| i.0.as_str()))]);
    let d = format!("M{x} {y:.1}h{w}v{bh}h-{w}Z");
    h.open(
        "path",
        &[
            ("class", if playing { "box playing" } else { "box" }),
            ("d", &d),
        ],
    );
    let status = match &m.state {
        MatchState::Waiting => "waiting".to_string(),
        MatchState::Playing => "playing now".to_string(),
        MatchState::Finished { note, .. } => note.clone(),
    };
    h.el(
        "title",
        &[],
        &format!("{}: {status}", id.map_or("", |i| i.0.as_str())),
    );
    h.close("path");
    for k in 0..2 {
        let ty = y + 16.0 + 18.0 * k as f64;
        let name = m.teams.get(k).cloned().flatten();
        let (class, score) = match &m.state {
            MatchState::Finished { winner, scores, .. } => {
                let class = match winner {
                    Some(w) if *w == k => "team won",
                    Some(_) => "team lost",
                    None => "team",
                };
                (class, scores.get(k).cloned().unwrap_or_default())
            }
            _ => ("team", String::new()),
        };
        let class = if name.is_none() { "team tbd" } else { class };
        let shown = name.unwrap_or_else(|| match &m.state {
            MatchState::Finished { .. } => "bye".into(),
            _ => "TBD".into(),
        });
        h.el(
            "text",
            &[
                ("class", class),
                ("x", &format!("{:.1}", x + 8.0)),
                ("y", &format!("{ty:.1}")),
            ],
            &clip(&shown, 20),
        );
        if !score.is_empty() {
            h.el(
                "text",
                &[
                    ("class", "score"),
                    ("x", &format!("{:.1}", x + w - 6.0)),
                    ("y", &format!("{ty:.1}")),
                    ("text-anchor", "end"),
                ],
                &score,
            );
        }
    }
    if let Some(id) = id {
        h.el(
            "text",
            &[
                ("class", "note"),
                ("x", &format!("{:.1}", x + w - 6.0)),
                ("y", &format!("{:.1}", y - 2.0)),
                ("text-anchor", "end"),
            ],
            &id.0,
        );
    }
    h.close("g");
}

pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(max - 1).collect();
        c.push('…');
        c
    }
}
