//! `report.html` of a match and of a bracket, drawn with the pieces of
//! [`report::html`](crate::report::html) from the models this module's neighbours write
//! (`match.json`'s [`MatchFile`] with each team's [`RunSummary`]; `bracket.json`'s [`BracketFile`]
//! with the bracket itself), and [`rebuild`], which writes every page of a results directory again
//! from its saved files (`stampede report DIR`).
//!
//! Pages are written where their files are: a match directory's next to `match.json` (each team's
//! run page is in the team's directory, written with its other results), a bracket's next to
//! `bracket.json`, rewritten with the other views after every match. Links between them are
//! relative, so a whole directory can be copied or mailed and still be browsed.

use std::path::{Path, PathBuf};

use super::ContestError;
use super::files::{
    BracketFile, JOURNAL, MATCH_JSON, MATCHES_DIR, MatchFile, QUALIFYING_DIR, SETUP_JSON,
};
use super::tournament::{BracketSetup, bracket_file, journal_attempts};
use crate::base::summary::{LevelRow, RunSummary};
use crate::report::hlog::read_hlog;
use crate::report::html::chart::{BarChart, Limit, Series, TimeChart, Unit};
use crate::report::html::format::{int, ms, num, pct};
use crate::report::html::markup::{Html, rel_href};
use crate::report::html::page::{Cell, badge, page, section, table};
use crate::report::html::series::{Agg, level_markers, timeline};
use crate::report::html::{REPORT_HTML, run_page};
use crate::report::write::{LATENCY_HLOG, SUMMARY_JSON};
use crate::report::{ReportError, write_file_atomic};
use crate::score::bracket::Stage;
use crate::score::journal::Journal;
use crate::score::{Bracket, Decision, MatchId, MatchStatus, Outcome, TeamScore};
use crate::view::bracket::bracket_view;
use crate::view::bracket::{MatchState, MatchView};

/// Where a match page sits relative to a bracket's page, for its link back: `matches/<id>/` is two
/// levels below, `qualifying/` one.
fn bracket_above(dir: &Path) -> Option<usize> {
    let parent = dir.parent()?;
    if parent.join(SETUP_JSON).is_file() {
        return Some(1);
    }
    let grand = parent.parent()?;
    (parent.file_name()? == MATCHES_DIR && grand.join(SETUP_JSON).is_file()).then_some(2)
}

/// Writes `DIR/report.html` of a played match.
pub fn write_match_report(
    dir: &Path,
    file: &MatchFile,
    summaries: &[Option<RunSummary>],
) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT_HTML);
    write_file_atomic(
        &path,
        match_page(file, summaries, bracket_above(dir)).as_bytes(),
    )?;
    Ok(path)
}

/// Writes `DIR/report.html` of a bracket as it stands (`playing`: the match in play, if any).
pub fn write_bracket_report(
    dir: &Path,
    file: &BracketFile,
    bracket: &Bracket,
    playing: Option<&MatchId>,
) -> Result<PathBuf, ReportError> {
    let path = dir.join(REPORT_HTML);
    write_file_atomic(&path, bracket_page(file, bracket, playing).as_bytes())?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// The match page
// ---------------------------------------------------------------------------------------------

/// The page of a match: the verdict and what decided it, the teams on the same axes, the per-level
/// table of every team, links to each team's run page. `bracket_up`: how many directories up the
/// bracket's page is, when the match is part of one.
pub fn match_page(
    file: &MatchFile,
    summaries: &[Option<RunSummary>],
    bracket_up: Option<usize>,
) -> String {
    let names: Vec<&str> = file.teams.iter().map(|t| t.name.as_str()).collect();
    let title = format!("{}: {}", file.scenario, names.join(" vs "));
    let subtitle = format!(
        "match · {} · seed {} · time scale {}{}",
        file.mode.name(),
        file.seed,
        num(file.time_scale, 3),
        if file.interrupted {
            " · INTERRUPTED"
        } else {
            ""
        }
    );
    let mut nav = Html::new();
    nav.open("nav", &[]);
    if let Some(up) = bracket_up {
        nav.el(
            "a",
            &[("href", &rel_href(up, &[REPORT_HTML]).unwrap_or_default())],
            "← the bracket",
        );
    }
    for t in &file.teams {
        if t.summary.is_some()
            && let Some(href) = rel_href(0, &[&t.name, REPORT_HTML])
        {
            nav.el("a", &[("href", &href)], &format!("{} run →", t.name));
        }
    }
    nav.close("nav");

    let teams: Vec<(&str, Option<&RunSummary>)> = file
        .teams
        .iter()
        .zip(
            summaries
                .iter()
                .map(Option::as_ref)
                .chain(std::iter::repeat(None)),
        )
        .map(|(t, s)| (t.name.as_str(), s))
        .collect();
    let mut b = Html::new();
    match_verdict(&mut b, file);
    match_headline(&mut b, file);
    match_charts(&mut b, file, &teams);
    match_levels(&mut b, file, &teams);
    match_rules(&mut b, file);
    page("match", &title, &subtitle, &nav, &b)
}

/// The user count of the level that decided, when a level did.
fn deciding_users(file: &MatchFile) -> Option<u32> {
    match &file.verdict.decision {
        Decision::Sustained { .. } => {
            let runner_up = file.verdict.ranking.get(1)?;
            let broke = runner_up.score.broke_at?;
            runner_up.score.level(broke).map(|l| l.target_users)
        }
        Decision::TieBreak { level_users, .. } => Some(*level_users),
        _ => None,
    }
}

fn match_verdict(h: &mut Html, file: &MatchFile) {
    let v = &file.verdict;
    section(h, "verdict", "Verdict");
    if v.void.is_some() {
        badge(h, "warn", "VOID: nothing was decided; replay the match");
    } else if let Some(w) = &v.winner {
        h.open("span", &[("class", "badge ok"), ("data-winner", w)]);
        h.text(&format!("{w} wins"));
        h.close("span");
    } else {
        badge(h, "info", "a tie");
    }
    if file.interrupted {
        badge(h, "warn", "interrupted");
    }
    h.el(
        "p",
        &[
            (
                "class",
                if v.void.is_some() {
                    "reason void"
                } else {
                    "reason"
                },
            ),
            ("id", "reason"),
        ],
        &v.reason,
    );
    let decided = match &v.decision {
        Decision::Sustained {
            users,
            runner_up_users,
        } => Some(format!(
            "Decided by sustained users: {} against {}{}.",
            int(u64::from(*users)),
            int(u64::from(*runner_up_users)),
            deciding_users(file)
                .map(|u| format!(
                    "; the runner-up broke at the {}-user level",
                    int(u64::from(u))
                ))
                .unwrap_or_default()
        )),
        Decision::TieBreak {
            users,
            level_users,
            criterion,
            ..
        } => Some(format!(
            "Tie at {} users, broken by {} at the {}-user level.",
            int(u64::from(*users)),
            criterion.name(),
            int(u64::from(*level_users))
        )),
        _ => None,
    };
    if let Some(d) = decided {
        h.el("p", &[("id", "decision")], &d);
    }
    let columns = [
        "rank",
        "team",
        "sustained users",
        "score",
        "why below the one before",
    ]
    .map(String::from)
    .to_vec();
    let mut rows: Vec<Vec<Cell>> = Vec::new();
    for t in &file.teams {
        let ranked = v.team(&t.name);
        let href = t
            .summary
            .as_ref()
            .and_then(|_| rel_href(0, &[&t.name, REPORT_HTML]));
        rows.push(vec![
            Cell::num(t.rank.map_or_else(|| "–".into(), |r| r.to_string())),
            Cell::link(t.name.clone(), href),
            Cell::num(int(u64::from(t.sustained_users))),
            Cell::text(t.explanation.clone()),
            Cell::text(ranked.and_then(|r| r.behind.clone()).unwrap_or_default()),
        ]);
    }
    rows.sort_by_key(|r| r[0].text.parse::<u32>().unwrap_or(u32::MAX));
    table(h, "ranking", &columns, &rows);
    h.close("section");
}

fn match_headline(h: &mut Html, file: &MatchFile) {
    section(h, "headline", "Each team's run");
    let columns = [
        "team",
        "users started",
        "passed",
        "failed",
        "peak connected",
        "requests ok",
        "requests failed",
        "messages sent",
        "delivered",
        "missing",
        "delivery p99",
        "run",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<Cell>> = file
        .teams
        .iter()
        .map(|t| match &t.headline {
            Some(x) => vec![
                Cell::text(t.name.clone()),
                Cell::num(int(x.users_started)),
                Cell::num(int(x.users_passed)),
                Cell::class(
                    int(x.users_failed),
                    if x.users_failed > 0 { "bad" } else { "num" },
                ),
                Cell::num(int(x.peak_connected)),
                Cell::num(int(x.requests_ok)),
                Cell::class(
                    format!(
                        "{} ({})",
                        int(x.requests_failed),
                        pct(x.requests_failed, x.requests_ok + x.requests_failed)
                    ),
                    if x.requests_failed > 0 { "bad" } else { "num" },
                ),
                Cell::num(int(x.messages_sent)),
                Cell::num(int(x.delivered)),
                Cell::class(
                    int(x.deliveries_missing),
                    if x.deliveries_missing > 0 {
                        "bad"
                    } else {
                        "num"
                    },
                ),
                Cell::num(ms(x.delivery_p99_ms)),
                Cell::class(
                    match (x.partial, x.generator_bottleneck) {
                        (false, false) => "complete",
                        (true, false) => "partial",
                        (false, true) => "generator unhealthy",
                        (true, true) => "partial, generator unhealthy",
                    },
                    if x.partial || x.generator_bottleneck {
                        "warn"
                    } else {
                        ""
                    },
                ),
            ],
            None => {
                let mut row = vec![Cell::text(t.name.clone())];
                row.extend((0..10).map(|_| Cell::num("–")));
                row.push(Cell::class("did not run", "warn"));
                row
            }
        })
        .collect();
    table(h, "teams", &columns, &rows);
    h.close("section");
}

fn match_charts(h: &mut Html, file: &MatchFile, teams: &[(&str, Option<&RunSummary>)]) {
    section(h, "charts", "The teams over time");
    let ran: Vec<(&str, &RunSummary)> = teams
        .iter()
        .filter_map(|(n, s)| s.map(|s| (*n, s)))
        .collect();
    let x_max = ran
        .iter()
        .map(|(_, s)| {
            s.duration_secs
                .max(s.timeline.last().map_or(0.0, |r| r.t_secs))
        })
        .fold(0.0, f64::max);
    let markers = ran
        .iter()
        .map(|(_, s)| &s.levels)
        .max_by_key(|l| l.len())
        .map(|l| level_markers(l))
        .unwrap_or_default();
    h.open("div", &[("class", "charts")]);
    type Pick = fn(&crate::base::summary::TimelineRow) -> Option<f64>;
    let charts: [(&str, Unit, Agg, Pick); 5] = [
        ("Connected users", Unit::Count, Agg::Last, |r| {
            Some(r.connected_users as f64)
        }),
        ("VUs failed so far", Unit::Count, Agg::Last, |r| {
            Some(r.vus_failed as f64)
        }),
        ("Deliveries per second", Unit::PerSec, Agg::Mean, |r| {
            Some(r.messages_delivered as f64)
        }),
        ("Delivery p99", Unit::Ms, Agg::Max, |r| {
            (r.messages_delivered > 0).then_some(r.delivery_p99_ms)
        }),
        ("Failed requests per second", Unit::PerSec, Agg::Mean, |r| {
            Some(r.requests_failed as f64)
        }),
    ];
    for (title, unit, agg, pick) in charts {
        let mut c = TimeChart::new(title, unit, x_max);
        c.series = ran
            .iter()
            .map(|(name, s)| Series::new(*name, timeline(&s.timeline, agg, pick)))
            .collect();
        c.markers = markers.clone();
        if unit == Unit::Ms {
            c.limits = vec![slo(file)];
        }
        h.append(&c.render());
    }
    let levels = plan_levels(teams);
    let bars = BarChart {
        title: "Delivery p99 per level".into(),
        unit: Unit::Ms,
        categories: levels
            .iter()
            .map(|l| int(u64::from(l.target_users)))
            .collect(),
        groups: teams
            .iter()
            .map(|(name, s)| {
                (
                    name.to_string(),
                    levels
                        .iter()
                        .map(|l| {
                            let row =
                                s.and_then(|s| s.levels.iter().find(|x| x.index == l.index))?;
                            (row.deliveries > 0).then_some(row.delivery_p99_ms)
                        })
                        .collect(),
                )
            })
            .collect(),
        limits: vec![slo(file)],
    };
    h.append(&bars.render());
    h.close("div");
    h.close("section");
}

fn slo(file: &MatchFile) -> Limit {
    let y = file.verdict.rules.delivery_p99_slo_ms;
    Limit {
        y,
        label: format!("SLO {}", ms(Some(y))),
    }
}

/// The plan's levels: every team ran the same plan, so the longest list of rows covers them all.
fn plan_levels<'a>(teams: &[(&str, Option<&'a RunSummary>)]) -> &'a [LevelRow] {
    teams
        .iter()
        .filter_map(|(_, s)| *s)
        .max_by_key(|s| s.levels.len())
        .map(|s| s.levels.as_slice())
        .unwrap_or_default()
}

/// A team's column in the per-level table: its header and its cell for one level.
type TeamColumn = (&'static str, fn(&LevelRow) -> Cell);

/// Each team's columns of the per-level table, before its judgement. Add one here and it appears
/// for every team.
const TEAM_COLUMNS: &[TeamColumn] = &[
    ("active", |l| Cell::num(int(l.users_active))),
    ("VUs failed in level", |l| {
        Cell::class(
            int(l.vus_failed_in_level),
            if l.vus_failed_in_level > 0 {
                "bad"
            } else {
                "num"
            },
        )
    }),
    ("requests ok", |l| Cell::num(int(l.requests.ok))),
    ("requests failed", |l| {
        Cell::class(
            int(l.requests.failed),
            if l.requests.failed > 0 { "bad" } else { "num" },
        )
    }),
    ("missing", |l| {
        Cell::class(
            int(l.deliveries_missing),
            if l.deliveries_missing > 0 {
                "bad"
            } else {
                "num"
            },
        )
    }),
    ("delivery p99", |l| {
        Cell::num(ms((l.deliveries > 0).then_some(l.delivery_p99_ms)))
    }),
];

fn match_levels(h: &mut Html, file: &MatchFile, teams: &[(&str, Option<&RunSummary>)]) {
    section(h, "levels", "Per user level, side by side");
    let levels = plan_levels(teams);
    let scores: Vec<Option<&TeamScore>> = teams
        .iter()
        .map(|(n, _)| file.verdict.team(n).map(|r| &r.score))
        .collect();
    let decided = deciding_users(file);
    h.open("div", &[("class", "scroll")]);
    h.raw("<table class=\"levels\"><thead><tr><th rowspan=\"2\">level</th><th rowspan=\"2\">users</th>");
    for (name, _) in teams {
        h.open("th", &[("colspan", &(TEAM_COLUMNS.len() + 1).to_string())]);
        h.text(name);
        h.close("th");
    }
    h.raw("</tr><tr>");
    for _ in teams {
        for (col, _) in TEAM_COLUMNS {
            h.el("th", &[], col);
        }
        h.el("th", &[], "judged");
    }
    h.raw("</tr></thead><tbody>");
    for l in levels {
        let class = if decided == Some(l.target_users) {
            "decided"
        } else {
            ""
        };
        h.open(
            "tr",
            &[
                ("class", class),
                ("data-users", &l.target_users.to_string()),
            ],
        );
        h.el("td", &[("class", "num")], &l.index.to_string());
        h.el("td", &[("class", "num")], &int(u64::from(l.target_users)));
        for ((_, summary), score) in teams.iter().zip(&scores) {
            let row = summary.and_then(|s| s.levels.iter().find(|x| x.index == l.index));
            match row {
                Some(row) => {
                    for (_, cell) in TEAM_COLUMNS {
                        let c = cell(row);
                        h.el("td", &[("class", c.class)], &c.text);
                    }
                }
                None => {
                    for _ in TEAM_COLUMNS {
                        h.el("td", &[], "");
                    }
                }
            }
            match score.and_then(|s| s.level(l.index)) {
                Some(j) if j.ok => {
                    h.el("td", &[("class", "ok")], "held");
                }
                Some(j) => {
                    h.el(
                        "td",
                        &[("class", "bad")],
                        &format!("broke: {}", j.broken_text()),
                    );
                }
                None => {
                    h.el("td", &[], "");
                }
            }
        }
        h.raw("</tr>");
    }
    h.raw("</tbody></table></div>");
    h.close("section");
}

fn match_rules(h: &mut Html, file: &MatchFile) {
    section(h, "rules", "Rules");
    let r = &file.verdict.rules;
    let rows = vec![
        vec![
            Cell::text("VU failure ratio at most"),
            Cell::text(format!("{} %", num(r.max_vu_failure_ratio * 100.0, 3))),
        ],
        vec![
            Cell::text("request failure ratio at most"),
            Cell::text(format!("{} %", num(r.max_request_failure_ratio * 100.0, 3))),
        ],
        vec![
            Cell::text("delivery p99 at most"),
            Cell::text(ms(Some(r.delivery_p99_slo_ms))),
        ],
        vec![
            Cell::text("request p99 at most"),
            Cell::text(r.request_p99_slo_ms.map_or("off".into(), |v| ms(Some(v)))),
        ],
        vec![
            Cell::text("levels must be contiguous"),
            Cell::text(r.require_contiguous.to_string()),
        ],
        vec![
            Cell::text("cut-short levels count"),
            Cell::text(r.count_incomplete_levels.to_string()),
        ],
        vec![
            Cell::text("void when the generator was unhealthy"),
            Cell::text(r.void_on_generator_bottleneck.to_string()),
        ],
        vec![
            Cell::text("void when a run was interrupted"),
            Cell::text(r.void_on_partial_run.to_string()),
        ],
        vec![
            Cell::text("tie-break order"),
            Cell::text(
                r.tie_break
                    .iter()
                    .map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ],
    ];
    table(h, "rules", &["rule", "value"].map(String::from), &rows);
    if let Some(note) = &file.rescored {
        h.el(
            "p",
            &[],
            &format!(
                "Re-judged with {}; before: {}",
                note.rules_from, note.previous_reason
            ),
        );
    }
    h.close("section");
}

// ---------------------------------------------------------------------------------------------
// The bracket page
// ---------------------------------------------------------------------------------------------

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
fn match_href(file: &BracketFile, id: &MatchId) -> Option<String> {
    let m = file.matches.iter().find(|m| &m.id == id)?;
    let dir = m.attempts.last()?;
    let segments: Vec<&str> = dir.split('/').chain([REPORT_HTML]).collect();
    rel_href(0, &segments)
}

/// The bracket as SVG: one column per round, a box per match with its teams and scores; a single
/// elimination tree has its wires, other formats their rounds side by side.
fn drawing(file: &BracketFile, bracket: &Bracket, playing: Option<&MatchId>) -> Html {
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

fn match_box(h: &mut Html, m: &MatchView, id: Option<&MatchId>, x: f64, y: f64, w: f64, bh: f64) {
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

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(max - 1).collect();
        c.push('…');
        c
    }
}

// ---------------------------------------------------------------------------------------------
// Rebuilding every page of a directory
// ---------------------------------------------------------------------------------------------

/// Writes every page of a results directory again from its saved files: a run directory's
/// (`summary.json`, `latency.hlog`), a match directory's (each team's run, then the match) or a
/// bracket directory's (every match attempt and the qualifying match, then the bracket). Returns the
/// pages written, in order.
pub fn rebuild(dir: &Path) -> Result<Vec<PathBuf>, ContestError> {
    if !dir.is_dir() {
        return Err(ContestError::Invalid {
            path: dir.to_path_buf(),
            message: if dir.exists() {
                "is not a directory".into()
            } else {
                "does not exist".into()
            },
        });
    }
    let mut written = Vec::new();
    if dir.join(JOURNAL).exists() {
        rebuild_bracket(dir, &mut written)?;
    } else if dir.join(MATCH_JSON).exists() {
        rebuild_match(dir, &mut written)?;
    } else if dir.join(SUMMARY_JSON).exists() || dir.join(format!("{SUMMARY_JSON}.gz")).exists() {
        written.push(rebuild_run(dir)?);
    } else {
        return Err(ContestError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "holds neither {SUMMARY_JSON} (a run), {MATCH_JSON} (a match) nor {JOURNAL} (a \
                 bracket); give a directory `stampede run`, `match` or `bracket` wrote"
            ),
        });
    }
    Ok(written)
}

/// A run directory's page; without a readable `latency.hlog`, latency over time is drawn from the
/// summary's timeline only.
fn rebuild_run(dir: &Path) -> Result<PathBuf, ContestError> {
    let summary = RunSummary::load(&dir.join(SUMMARY_JSON))?;
    let intervals = std::fs::read(dir.join(LATENCY_HLOG))
        .ok()
        .and_then(|bytes| read_hlog(&bytes).ok())
        .unwrap_or_default();
    let path = dir.join(REPORT_HTML);
    write_file_atomic(&path, run_page(&summary, &intervals).as_bytes())?;
    Ok(path)
}

fn rebuild_match(dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), ContestError> {
    let file = MatchFile::load(&dir.join(MATCH_JSON))?;
    let mut summaries = Vec::new();
    for t in &file.teams {
        match &t.summary {
            Some(rel) => {
                let path = dir.join(rel);
                let summary = RunSummary::load(&path)?;
                if let Some(team_dir) = path.parent() {
                    written.push(rebuild_run(team_dir)?);
                }
                summaries.push(Some(summary));
            }
            None => summaries.push(None),
        }
    }
    written.push(write_match_report(dir, &file, &summaries)?);
    Ok(())
}

fn rebuild_bracket(dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), ContestError> {
    let setup = BracketSetup::load(dir)?;
    let journal_path = dir.join(JOURNAL);
    let bytes = std::fs::read(&journal_path).map_err(|source| ReportError::Read {
        path: journal_path.clone(),
        source,
    })?;
    let journal = Journal::replay(&String::from_utf8_lossy(&bytes))
        .map_err(|e| ContestError::Invalid {
            path: journal_path.clone(),
            message: e.to_string(),
        })?
        .journal;
    // The qualifying match and its replays, then every journaled attempt.
    let mut qualifying: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| ReportError::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(QUALIFYING_DIR))
                && p.join(MATCH_JSON).is_file()
        })
        .collect();
    qualifying.sort();
    for q in qualifying {
        rebuild_match(&q, written)?;
    }
    let attempts = journal_attempts(&journal);
    for (_, rel) in &attempts {
        rebuild_match(&dir.join(rel), written)?;
    }
    let plan = setup.plan().map_err(|e| ContestError::Invalid {
        path: dir.join(SETUP_JSON),
        message: e.to_string(),
    })?;
    let file = bracket_file(
        &setup,
        &plan,
        &journal,
        journal.bracket(),
        journal.rules(),
        &attempts,
        None,
    );
    written.push(write_bracket_report(dir, &file, journal.bracket(), None)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::contest::files::Mode;
    use crate::contest::play::{MatchSetup, play_match};
    use crate::contest::teams::{SavedTeam, TeamEntry};
    use crate::contest::testkit::Scripted;
    use crate::contest::tournament::{SeedBy, Start, play_bracket};
    use crate::report::html::run::SCORING_SLO_MS;
    use crate::report::html::testkit::{HOSTILE, NEVER};
    use crate::score::{Format, ScoringRules};

    fn plan() -> Arc<crate::engine::plan::LoadPlan> {
        let scenario = crate::scenario::Scenario::from_toml(
            include_str!("../../scenarios/smoke.toml"),
            "smoke.toml",
        )
        .unwrap();
        Arc::new(scenario.lower(&crate::scenario::LowerOptions::default()))
    }

    #[test]
    fn the_run_pages_slo_is_the_scoring_default() {
        assert_eq!(
            SCORING_SLO_MS,
            crate::score::rules::DEFAULT_DELIVERY_P99_SLO_MS
        );
    }

    #[tokio::test]
    async fn a_match_page_shows_the_verdict_both_teams_and_links() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&[("a", 20), ("b", 40)]);
        let setup = MatchSetup {
            plan: plan(),
            teams: vec![
                TeamEntry::new("a", "http://a:1"),
                TeamEntry::new("b", "http://b:1"),
            ],
            mode: Mode::Concurrent,
            rules: ScoringRules::default(),
        };
        let played = play_match(&setup, tmp.path(), &mut exec, &CancellationToken::new())
            .await
            .unwrap();
        let html = std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap();
        assert_eq!(html, match_page(&played.file, &played.summaries, None));
        assert!(
            html.contains("data-winner=\"b\""),
            "the winner is on the page"
        );
        assert!(
            html.contains(
                &crate::report::html::markup::escape(&played.verdict().reason).into_owned()
            )
        );
        assert!(html.contains("href=\"a/report.html\"") && html.contains("href=\"b/report.html\""));
        assert!(
            html.contains("class=\"decided\""),
            "the deciding level is marked"
        );
        assert!(
            html.contains("<th colspan=\"7\">a</th>") && html.contains("<th colspan=\"7\">b</th>")
        );

        let pages = rebuild(tmp.path()).unwrap();
        assert_eq!(pages.len(), 3, "{pages:?}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap(),
            html,
            "rebuilt the same"
        );
    }

    #[test]
    fn a_hostile_team_and_reason_are_text() {
        let mut s = crate::report::fixture::summary();
        s.team = Some(HOSTILE[0].into());
        let name = HOSTILE[2].to_string();
        let verdict = crate::score::judge(&[(name.clone(), s.clone())], &ScoringRules::default());
        let mut file = MatchFile::new(
            crate::contest::files::PlanInfo {
                scenario: HOSTILE[3].into(),
                seed: 1,
                time_scale: 1.0,
            },
            Mode::Concurrent,
            false,
            &[(
                SavedTeam {
                    name: name.clone(),
                    target: HOSTILE[1].into(),
                    seed: None,
                },
                Some(s.clone()),
            )],
            verdict,
        );
        file.verdict.reason = HOSTILE.join(" ");
        let html = match_page(&file, &[Some(s)], Some(2));
        for bad in NEVER {
            assert!(!html.contains(bad), "{bad} got through");
        }
        assert!(
            html.contains("%22%3E%3Cimg"),
            "a team's link is percent-encoded"
        );
    }

    #[tokio::test]
    async fn a_bracket_page_draws_every_match_and_links_its_reports() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&[("a", 20), ("b", 40), ("c", 60)]);
        let setup = crate::contest::BracketSetup {
            schema_version: crate::contest::files::CONTEST_SCHEMA_VERSION,
            title: "Cup <b>".into(),
            scenario_file: "smoke.toml".into(),
            scenario_toml: include_str!("../../scenarios/smoke.toml").into(),
            options: crate::scenario::lower::LowerOptions::default(),
            mode: Mode::Concurrent,
            format: Format::Single,
            seeding: SeedBy::File,
            teams: ["a", "b", "c"]
                .iter()
                .map(|n| SavedTeam {
                    name: n.to_string(),
                    target: format!("http://{n}:1"),
                    seed: None,
                })
                .collect(),
            rules: ScoringRules::default(),
        };
        play_bracket(
            tmp.path(),
            Start::New(Box::new(setup)),
            2,
            &mut exec,
            &CancellationToken::new(),
            &mut |_| {},
        )
        .await
        .unwrap();
        let html = std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap();
        assert!(html.contains("data-champion=\"c\""), "c holds the most");
        assert!(html.contains("Cup &lt;b&gt;"));
        for id in ["R1-1", "R1-2", "R2-1"] {
            assert!(html.contains(&format!("data-match=\"{id}\"")), "{id}");
        }
        assert!(html.contains("href=\"matches/R2-1/report.html\""));
        assert!(html.contains("class=\"wire\""), "a tree has wires");
        let m = std::fs::read_to_string(tmp.path().join("matches/R2-1/report.html")).unwrap();
        assert!(
            m.contains("href=\"../../report.html\""),
            "a bracket's match links back"
        );
        let pages = rebuild(tmp.path()).unwrap();
        assert_eq!(pages.last().unwrap(), &tmp.path().join(REPORT_HTML));
        assert_eq!(
            pages.len(),
            2 * 3 + 1,
            "two matches of two teams, and the bracket"
        );
    }

    #[tokio::test]
    async fn double_elimination_and_round_robin_pages_draw_and_link_every_match() {
        for format in [Format::Double, Format::RoundRobin] {
            let tmp = tempfile::tempdir().unwrap();
            let mut exec = Scripted::with(&[("a", 20), ("b", 40), ("c", 60)]);
            let setup = crate::contest::BracketSetup {
                schema_version: crate::contest::files::CONTEST_SCHEMA_VERSION,
                title: "Cup".into(),
                scenario_file: "smoke.toml".into(),
                scenario_toml: include_str!("../../scenarios/smoke.toml").into(),
                options: crate::scenario::lower::LowerOptions::default(),
                mode: Mode::Concurrent,
                format,
                seeding: SeedBy::File,
                teams: ["a", "b", "c"]
                    .iter()
                    .map(|n| SavedTeam {
                        name: n.to_string(),
                        target: format!("http://{n}:1"),
                        seed: None,
                    })
                    .collect(),
                rules: ScoringRules::default(),
            };
            play_bracket(
                tmp.path(),
                Start::New(Box::new(setup)),
                2,
                &mut exec,
                &CancellationToken::new(),
                &mut |_| {},
            )
            .await
            .unwrap();
            let html = std::fs::read_to_string(tmp.path().join(REPORT_HTML)).unwrap();
            let name = format.name();
            assert!(html.contains("<svg"), "{name}: the bracket is drawn");
            assert!(
                html.contains("data-champion=\"c\""),
                "{name}: c holds the most"
            );
            let mut played = 0;
            for e in std::fs::read_dir(tmp.path().join("matches")).unwrap() {
                let id = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    html.contains(&format!("data-match=\"{id}\"")),
                    "{name}: {id} drawn"
                );
                assert!(
                    html.contains(&format!("href=\"matches/{id}/report.html\"")),
                    "{name}: {id} linked"
                );
                played += 1;
            }
            // Round robin: everyone meets everyone once; double elimination needs more than two.
            assert!(played >= 3, "{name}: {played} matches");
        }
    }

    #[test]
    fn rebuilding_a_directory_that_is_not_one_says_what_it_is() {
        let tmp = tempfile::tempdir().unwrap();
        let err = rebuild(&tmp.path().join("nope")).unwrap_err().to_string();
        assert!(err.ends_with("nope: does not exist"), "{err}");
        let err = rebuild(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("holds neither summary.json"), "{err}");
    }
}
