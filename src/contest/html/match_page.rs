//! The page of a match: the verdict and what decided it, the teams on the same axes, the
//! per-level table of both teams, the rules, links to each team's run page.

use crate::base::summary::{LevelRow, RunSummary};
use crate::contest::files::MatchFile;
use crate::report::html::REPORT_HTML;
use crate::report::html::chart::{BarChart, Limit, Series, TimeChart, Unit};
use crate::report::html::format::{int, ms, num, pct};
use crate::report::html::markup::{Html, rel_href};
use crate::report::html::page::{Cell, badge, page, section, table};
use crate::report::html::series::{Agg, level_markers, timeline};
use crate::score::{Decision, TeamScore};

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
pub(super) fn deciding_users(file: &MatchFile) -> Option<u32> {
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

pub(super) fn match_verdict(h: &mut Html, file: &MatchFile) {
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

pub(super) fn match_headline(h: &mut Html, file: &MatchFile) {
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
                Cell::failures(x.users_failed),
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
                Cell::failures(x.deliveries_missing),
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

pub(super) fn match_charts(h: &mut Html, file: &MatchFile, teams: &[(&str, Option<&RunSummary>)]) {
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

pub(super) fn slo(file: &MatchFile) -> Limit {
    let y = file.verdict.rules.delivery_p99_slo_ms;
    Limit {
        y,
        label: format!("SLO {}", ms(Some(y))),
    }
}

/// The plan's levels: every team ran the same plan, so the longest list of rows covers them all.
pub(super) fn plan_levels<'a>(teams: &[(&str, Option<&'a RunSummary>)]) -> &'a [LevelRow] {
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
        Cell::failures(l.vus_failed_in_level)
    }),
    ("requests ok", |l| Cell::num(int(l.requests.ok))),
    ("requests failed", |l| Cell::failures(l.requests.failed)),
    ("missing", |l| Cell::failures(l.deliveries_missing)),
    ("delivery p99", |l| {
        Cell::num(ms((l.deliveries > 0).then_some(l.delivery_p99_ms)))
    }),
];

pub(super) fn match_levels(h: &mut Html, file: &MatchFile, teams: &[(&str, Option<&RunSummary>)]) {
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

pub(super) fn match_rules(h: &mut Html, file: &MatchFile) {
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
