//! What a match or bracket directory holds: the names of its files, the models of `match.json` and
//! `bracket.json`, and the side-by-side CSVs. Rendering only: deciding what goes in them is
//! [`play`](super::play) and [`tournament`](super::tournament)'s, and every file is written with
//! [`write_file_atomic`], so a reader (or a crash) never sees half a file.
//!
//! # A match directory
//! ```text
//! DIR/match.json       teams, headline figures, the verdict (ranking with each TeamScore, reason)
//! DIR/levels.csv       one row per user level, the teams side by side
//! DIR/<team>/          each team's full results: summary.json, summary.txt, csv files, latency.hlog
//! DIR/rescored.json    written by `stampede rescore` (match.json's layout, new verdict)
//! DIR/rescored-levels.csv
//! ```
//!
//! # A bracket directory
//! ```text
//! DIR/setup.json       what to play: scenario text, plan options, teams, rules (read on --resume)
//! DIR/journal.jsonl    the crash-safe journal (the only state a resume reads besides setup.json)
//! DIR/bracket.json     a view of the journal's bracket: matches, results, attempts, standings
//! DIR/bracket.txt      the bracket drawn as text, then the standings
//! DIR/standings.csv    one row per team
//! DIR/qualifying/      the qualifying match, when seeding by one (a match directory)
//! DIR/matches/<id>/    each match (a match directory); a replay after a void in <id>-a2, -a3, …
//! DIR/rescored-bracket.json, rescored-bracket.txt, rescored-standings.csv   from `stampede rescore`
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::teams::SavedTeam;
use crate::base::summary::RunSummary;
use crate::metrics::Op;
use crate::report::{ReportError, write_file_atomic};
use crate::score::bracket::{Source, Stage};
use crate::score::journal::Seeding;
use crate::score::{
    Bracket, Format, MatchId, MatchResult, MatchStatus, MatchVerdict, ScoringRules, Standing,
    TeamScore,
};

/// How a match runs its teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One engine, every team at once, arrivals interleaved.
    #[default]
    Concurrent,
    /// One engine run per team, one after another, same plan and seed.
    Sequential,
}

impl Mode {
    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Concurrent => "concurrent",
            Mode::Sequential => "sequential",
        }
    }
}

/// The match file.
pub const MATCH_JSON: &str = "match.json";
/// The teams side by side per user level.
pub const LEVELS_CSV: &str = "levels.csv";
/// A match re-judged offline.
pub const RESCORED_JSON: &str = "rescored.json";
/// [`LEVELS_CSV`] of a re-judged match.
pub const RESCORED_LEVELS_CSV: &str = "rescored-levels.csv";
/// What a bracket plays.
pub const SETUP_JSON: &str = "setup.json";
/// The bracket's journal.
pub const JOURNAL: &str = "journal.jsonl";
/// The bracket as JSON.
pub const BRACKET_JSON: &str = "bracket.json";
/// The bracket drawn as text.
pub const BRACKET_TXT: &str = "bracket.txt";
/// The standings.
pub const STANDINGS_CSV: &str = "standings.csv";
/// [`BRACKET_JSON`] of a re-scored bracket.
pub const RESCORED_BRACKET_JSON: &str = "rescored-bracket.json";
/// [`BRACKET_TXT`] of a re-scored bracket.
pub const RESCORED_BRACKET_TXT: &str = "rescored-bracket.txt";
/// [`STANDINGS_CSV`] of a re-scored bracket.
pub const RESCORED_STANDINGS_CSV: &str = "rescored-standings.csv";
/// Where a bracket's qualifying match goes.
pub const QUALIFYING_DIR: &str = "qualifying";
/// Where a bracket's matches go.
pub const MATCHES_DIR: &str = "matches";

/// Version of the `match.json` and `bracket.json` layouts. Bump on incompatible changes.
pub const CONTEST_SCHEMA_VERSION: u32 = 1;

/// `match.json`: who played, under which plan, their headline figures, and the verdict.
///
/// The verdict's fields (`ranking` with each team's full [`TeamScore`], `winner`, `void`,
/// `decision`, `reason`, `rules`) sit at the top level, so `jq .reason match.json` answers "who won
/// and why".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchFile {
    /// [`CONTEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Scenario name.
    pub scenario: String,
    /// Seed every team's plan was drawn with.
    pub seed: u64,
    /// Time scale of the plan.
    pub time_scale: f64,
    /// How the teams were run.
    pub mode: Mode,
    /// True when the match was stopped (Ctrl-C, `q`) before every run ended.
    pub interrupted: bool,
    /// The teams, in the order they were given.
    pub teams: Vec<MatchTeam>,
    /// The verdict.
    #[serde(flatten)]
    pub verdict: MatchVerdict,
    /// Set in `rescored.json`: what the verdict was before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescored: Option<RescoreNote>,
}

/// One team in `match.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchTeam {
    /// Team name (also its directory).
    pub name: String,
    /// Base URL of its server.
    pub target: String,
    /// Its `summary.json`, relative to the match directory; `None` when it never ran (a sequential
    /// match stopped before its turn).
    pub summary: Option<String>,
    /// Rank in the verdict (shared ranks allowed).
    pub rank: Option<u32>,
    /// Its score: users of the highest level sustained without problems.
    pub sustained_users: u32,
    /// The score's one-line explanation.
    pub explanation: String,
    /// Totals of its run.
    pub headline: Option<Headline>,
}

/// The totals of one team's run that people look at first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Headline {
    /// VUs started.
    pub users_started: u64,
    /// VUs without any failure.
    pub users_passed: u64,
    /// VUs with at least one failure.
    pub users_failed: u64,
    /// Most VUs holding a socket at once.
    pub peak_connected: u64,
    /// Successful requests (deliveries included).
    pub requests_ok: u64,
    /// Failed requests (missing deliveries included).
    pub requests_failed: u64,
    /// Chat messages sent.
    pub messages_sent: u64,
    /// Deliveries verified.
    pub delivered: u64,
    /// Deliveries missing.
    pub deliveries_missing: u64,
    /// Delivery p99 over the run, ms; `None` without deliveries.
    pub delivery_p99_ms: Option<f64>,
    /// The run was cut short.
    pub partial: bool,
    /// The generator reported itself as a possible bottleneck.
    pub generator_bottleneck: bool,
}

impl Headline {
    /// The headline of a run.
    pub fn of(s: &RunSummary) -> Headline {
        Headline {
            users_started: s.users.started,
            users_passed: s.users.passed,
            users_failed: s.users.failed,
            peak_connected: s.users.peak_connected,
            requests_ok: s.requests.ok,
            requests_failed: s.requests.failed,
            messages_sent: s.messages.sent,
            delivered: s.messages.delivered,
            deliveries_missing: s.messages.missing,
            delivery_p99_ms: s.latency_of(Op::Delivery).map(|l| l.p99_ms),
            partial: s.partial,
            generator_bottleneck: s.generator.bottleneck,
        }
    }
}

/// What a re-judged file was judged from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RescoreNote {
    /// The file re-judged (`match.json`, `journal.jsonl`).
    pub from: String,
    /// Where the rules came from: a rules file, or the rules the file was played under.
    pub rules_from: String,
    /// The verdict's reason before.
    pub previous_reason: String,
    /// True when the outcome (winner, tie, void) differs from before.
    pub changed: bool,
}

impl MatchFile {
    /// The match file of teams `teams` (in the order given), each with its summary if it ran.
    pub fn new(
        plan_info: PlanInfo,
        mode: Mode,
        interrupted: bool,
        teams: &[(SavedTeam, Option<RunSummary>)],
        verdict: MatchVerdict,
    ) -> MatchFile {
        let teams = teams
            .iter()
            .map(|(team, summary)| MatchTeam::new(team, summary.as_ref(), &verdict))
            .collect();
        MatchFile {
            schema_version: CONTEST_SCHEMA_VERSION,
            scenario: plan_info.scenario,
            seed: plan_info.seed,
            time_scale: plan_info.time_scale,
            mode,
            interrupted,
            teams,
            verdict,
            rescored: None,
        }
    }

    /// Reads a `match.json`. Errors name the file.
    pub fn load(path: &Path) -> Result<MatchFile, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|source| ReportError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ReportError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes it atomically as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        write_json_file(path, self)
    }

    /// The same match judged again: new ranks and scores per team, the new verdict.
    pub fn rejudged(&self, verdict: MatchVerdict, note: RescoreNote) -> MatchFile {
        let teams = self
            .teams
            .iter()
            .map(|t| {
                let ranked = verdict.team(&t.name);
                MatchTeam {
                    rank: ranked.map(|r| r.rank),
                    sustained_users: ranked.map_or(0, |r| r.score.sustained_users),
                    explanation: ranked.map_or_else(String::new, |r| r.score.explanation.clone()),
                    ..t.clone()
                }
            })
            .collect();
        MatchFile {
            teams,
            verdict,
            rescored: Some(note),
            ..self.clone()
        }
    }
}

impl MatchTeam {
    fn new(team: &SavedTeam, summary: Option<&RunSummary>, verdict: &MatchVerdict) -> MatchTeam {
        let ranked = verdict.team(&team.name);
        MatchTeam {
            name: team.name.clone(),
            target: team.target.clone(),
            summary: summary.map(|_| format!("{}/summary.json", team.name)),
            rank: ranked.map(|r| r.rank),
            sustained_users: ranked.map_or(0, |r| r.score.sustained_users),
            explanation: ranked.map_or_else(
                || "did not run: the match was stopped before its turn".to_string(),
                |r| r.score.explanation.clone(),
            ),
            headline: summary.map(Headline::of),
        }
    }
}

/// What `match.json` and `bracket.json` say about the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInfo {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// Time scale.
    pub time_scale: f64,
}

impl PlanInfo {
    /// The figures of a plan.
    pub fn of(plan: &crate::engine::plan::LoadPlan) -> PlanInfo {
        PlanInfo {
            scenario: plan.scenario.clone(),
            seed: plan.seed,
            time_scale: plan.time_scale,
        }
    }
}

/// Columns per team in `levels.csv`, each prefixed by `<team>_`.
pub const TEAM_LEVEL_COLUMNS: [&str; 8] = [
    "vus_passed",
    "vus_failed",
    "vus_failed_in_level",
    "requests_ok",
    "requests_failed",
    "deliveries_missing",
    "delivery_p99_ms",
    "ok",
];

/// `levels.csv`: one row per user level of the plan, with `index, phase, target_users`, then for
/// each team (in `teams` order) the [`TEAM_LEVEL_COLUMNS`] prefixed by its name. Figures come from
/// the team's level rows: VUs passed and failed so far, VUs failed in the level, the level's requests
/// (deliveries included), missing deliveries, the delivery p99 of the messages delivered; `ok` is the
/// score's judgement of the level (`true`: it broke no rule). A team without that level (it did not
/// run, or its run stopped earlier) has empty cells.
pub fn levels_csv(teams: &[(String, Option<&RunSummary>, Option<&TeamScore>)]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["index".to_string(), "phase".into(), "target_users".into()];
    for (name, _, _) in teams {
        header.extend(TEAM_LEVEL_COLUMNS.iter().map(|c| format!("{name}_{c}")));
    }
    // Writing into a Vec cannot fail; the csv crate still returns Results.
    let _ = w.write_record(&header);
    // The plan's levels: every team ran the same plan, so the longest list of rows covers them all.
    let plan = teams
        .iter()
        .filter_map(|(_, s, _)| *s)
        .max_by_key(|s| s.levels.len());
    for row in plan.map(|s| s.levels.as_slice()).unwrap_or_default() {
        let mut record = vec![
            row.index.to_string(),
            row.phase.clone(),
            row.target_users.to_string(),
        ];
        for (_, summary, score) in teams {
            let level = summary.and_then(|s| s.levels.iter().find(|l| l.index == row.index));
            let judged = score.and_then(|s| s.level(row.index));
            match level {
                Some(l) => {
                    record.extend([
                        l.vus_passed.to_string(),
                        l.vus_failed.to_string(),
                        l.vus_failed_in_level.to_string(),
                        l.requests.ok.to_string(),
                        l.requests.failed.to_string(),
                        l.deliveries_missing.to_string(),
                        // Empty, not 0, when nothing was delivered to measure.
                        if l.deliveries > 0 {
                            l.delivery_p99_ms.to_string()
                        } else {
                            String::new()
                        },
                        judged.map(|j| j.ok.to_string()).unwrap_or_default(),
                    ]);
                }
                None => record.extend(TEAM_LEVEL_COLUMNS.iter().map(|_| String::new())),
            }
        }
        let _ = w.write_record(&record);
    }
    w.into_inner().unwrap_or_default()
}

/// Columns of `standings.csv`.
pub const STANDINGS_COLUMNS: [&str; 10] = [
    "place",
    "team",
    "seed",
    "wins",
    "draws",
    "losses",
    "points",
    "head_to_head",
    "total_users",
    "eliminated_in",
];

/// `standings.csv`: one row per team, best place first, with the [`STANDINGS_COLUMNS`]. Places are
/// provisional until the bracket is finished (`bracket.json` says whether it is).
pub fn standings_csv(rows: &[Standing]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(STANDINGS_COLUMNS);
    for r in rows {
        let _ = w.write_record([
            r.place.to_string(),
            r.team.clone(),
            r.seed.to_string(),
            r.wins.to_string(),
            r.draws.to_string(),
            r.losses.to_string(),
            r.points.to_string(),
            r.head_to_head.to_string(),
            r.total_users.to_string(),
            r.eliminated_in
                .as_ref()
                .map(|m| m.0.clone())
                .unwrap_or_default(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// `bracket.json`: a view of the journal's bracket (never read back to resume).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BracketFile {
    /// [`CONTEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The event's name.
    pub title: String,
    /// Scenario name.
    pub scenario: String,
    /// Seed of every match's plan.
    pub seed: u64,
    /// Time scale of the plan.
    pub time_scale: f64,
    /// How each match runs its two teams.
    pub mode: Mode,
    /// Bracket format.
    pub format: Format,
    /// How the seed order was decided.
    pub seeding: Seeding,
    /// The rules every match is judged by.
    pub rules: ScoringRules,
    /// Teams in seed order.
    pub teams: Vec<BracketTeam>,
    /// True when every match is decided.
    pub finished: bool,
    /// The champion, once known.
    pub champion: Option<String>,
    /// The match being played when the file was written.
    pub playing: Option<MatchId>,
    /// Standings (provisional until `finished`).
    pub standings: Vec<Standing>,
    /// Every match of the bracket.
    pub matches: Vec<BracketMatch>,
    /// Set in `rescored-bracket.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rescored: Option<BracketRescoreNote>,
}

/// A team in `bracket.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BracketTeam {
    /// Bracket seed, 1-based.
    pub seed: u32,
    /// Team name.
    pub name: String,
    /// Base URL of its server.
    pub target: String,
}

/// A match in `bracket.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BracketMatch {
    /// Its id.
    pub id: MatchId,
    /// Where it sits.
    pub stage: Stage,
    /// Where its teams come from.
    pub slots: [Source; 2],
    /// Where it stands.
    pub status: MatchStatus,
    /// Its result, once recorded.
    pub result: Option<MatchResult>,
    /// Reasons of its void attempts.
    pub voids: Vec<String>,
    /// Directories of its attempts, relative to the bracket directory, oldest first (a forfeit
    /// has none).
    pub attempts: Vec<String>,
}

/// What `rescored-bracket.json` adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BracketRescoreNote {
    /// Where the rules came from.
    pub rules_from: String,
    /// Matches whose outcome changed.
    pub changed: Vec<crate::score::Changed>,
    /// The first journaled match the new results no longer lead to; from there on the bracket
    /// would have to be played again.
    pub diverged_at: Option<MatchId>,
}

impl BracketFile {
    /// The view of `bracket`. `attempts` lists `(match, dir)` in journal order.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        title: &str,
        plan: &PlanInfo,
        mode: Mode,
        seeding: Seeding,
        rules: &ScoringRules,
        targets: &[SavedTeam],
        bracket: &Bracket,
        attempts: &[(MatchId, String)],
        playing: Option<&MatchId>,
    ) -> BracketFile {
        let standings = bracket.standings();
        let teams = bracket
            .teams()
            .iter()
            .enumerate()
            .map(|(i, name)| BracketTeam {
                seed: i as u32 + 1,
                name: name.clone(),
                target: targets
                    .iter()
                    .find(|t| &t.name == name)
                    .map(|t| t.target.clone())
                    .unwrap_or_default(),
            })
            .collect();
        let matches = bracket
            .matches()
            .iter()
            .map(|m| BracketMatch {
                id: m.id.clone(),
                stage: m.stage,
                slots: m.slots.clone(),
                status: bracket.status(&m.id).unwrap_or(MatchStatus::Waiting),
                result: m.result.clone(),
                voids: m.voids.clone(),
                attempts: attempts
                    .iter()
                    .filter(|(id, _)| id == &m.id)
                    .map(|(_, d)| d.clone())
                    .collect(),
            })
            .collect();
        BracketFile {
            schema_version: CONTEST_SCHEMA_VERSION,
            title: title.to_string(),
            scenario: plan.scenario.clone(),
            seed: plan.seed,
            time_scale: plan.time_scale,
            mode,
            format: bracket.format(),
            seeding,
            rules: rules.clone(),
            teams,
            finished: standings.finished,
            champion: standings.champion,
            playing: playing.cloned(),
            standings: standings.rows,
            matches,
            rescored: None,
        }
    }
}

/// Writes `value` atomically as pretty JSON with a final newline.
pub fn write_json_file<T: Serialize>(path: &Path, value: &T) -> Result<(), ReportError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| ReportError::Encode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    write_file_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::testkit::{Lvl, summary};
    use crate::score::{judge, score};

    fn team(name: &str) -> SavedTeam {
        SavedTeam {
            name: name.into(),
            target: format!("http://{name}:1"),
            seed: None,
        }
    }

    #[test]
    fn match_json_round_trips_with_the_verdict_at_the_top() {
        let a = summary(vec![
            Lvl::clean(10),
            Lvl::clean(20),
            Lvl::vu_failures(30, 5),
        ]);
        let b = summary(vec![
            Lvl::clean(10),
            Lvl::vu_failures(20, 5),
            Lvl::clean(30),
        ]);
        let rules = ScoringRules::default();
        let verdict = judge(&[("a".into(), a.clone()), ("b".into(), b.clone())], &rules);
        let info = PlanInfo {
            scenario: "s".into(),
            seed: 3,
            time_scale: 0.2,
        };
        let file = MatchFile::new(
            info,
            Mode::Concurrent,
            false,
            &[(team("a"), Some(a)), (team("b"), Some(b))],
            verdict.clone(),
        );
        let text = serde_json::to_string_pretty(&file).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["winner"], "a");
        assert_eq!(value["reason"], verdict.reason.as_str());
        assert_eq!(value["mode"], "concurrent");
        assert_eq!(value["teams"][1]["summary"], "b/summary.json");
        assert_eq!(value["teams"][0]["sustained_users"], 20);
        assert!(value["ranking"][0]["score"]["levels"].is_array());
        assert!(value.get("rescored").is_none());
        let back: MatchFile = serde_json::from_str(&text).unwrap();
        assert_eq!(back, file, "match.json reads back exactly");
    }

    #[test]
    fn levels_csv_puts_teams_side_by_side() {
        let a = summary(vec![Lvl::clean(10), Lvl::vu_failures(20, 5)]);
        let b = summary(vec![Lvl::clean(10)]);
        let rules = ScoringRules::default();
        let (sa, sb) = (score(&a, &rules), score(&b, &rules));
        let bytes = levels_csv(&[
            ("a".into(), Some(&a), Some(&sa)),
            ("b".into(), Some(&b), Some(&sb)),
            ("c".into(), None, None),
        ]);
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "index,phase,target_users,\
             a_vus_passed,a_vus_failed,a_vus_failed_in_level,a_requests_ok,a_requests_failed,\
             a_deliveries_missing,a_delivery_p99_ms,a_ok,\
             b_vus_passed,b_vus_failed,b_vus_failed_in_level,b_requests_ok,b_requests_failed,\
             b_deliveries_missing,b_delivery_p99_ms,b_ok,\
             c_vus_passed,c_vus_failed,c_vus_failed_in_level,c_requests_ok,c_requests_failed,\
             c_deliveries_missing,c_delivery_p99_ms,c_ok"
        );
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].starts_with("0,ramp,10,10,0,0,100,0,0,"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(",true,"), "{}", lines[1]);
        let row2: Vec<&str> = lines[2].split(',').collect();
        assert_eq!(&row2[..6], ["1", "ramp", "20", "15", "5", "5"]);
        assert_eq!(row2[10], "false", "a broke at 20");
        assert!(
            row2[11..].iter().all(|c| c.is_empty()),
            "b has no 20-user level"
        );
    }

    #[test]
    fn standings_csv_has_a_stable_header() {
        let mut b = Bracket::new(Format::Single, vec!["a".into(), "b".into()]).unwrap();
        b.record(
            &"R1-1".into(),
            MatchResult {
                outcome: crate::score::Outcome::Won { winner: "b".into() },
                scores: vec![
                    crate::score::MatchScore {
                        team: "b".into(),
                        sustained_users: 40,
                    },
                    crate::score::MatchScore {
                        team: "a".into(),
                        sustained_users: 20,
                    },
                ],
                reason: "b wins".into(),
            },
        )
        .unwrap();
        let text = String::from_utf8(standings_csv(&b.standings().rows)).unwrap();
        assert_eq!(
            text,
            "place,team,seed,wins,draws,losses,points,head_to_head,total_users,eliminated_in\n\
             1,b,2,1,0,0,0,0,40,\n\
             2,a,1,0,0,1,0,0,20,R1-1\n"
        );
    }
}
