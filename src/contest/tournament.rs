//! Playing a bracket for real: seeding, every match played as a [`play_match`], the journal on disk,
//! resuming an interrupted bracket, and the bracket's files.
//!
//! The bracket itself (who meets whom, standings) is the pure [`Journal`]/[`Bracket`] of
//! [`score`](crate::score); this module runs its matches and keeps its file. The order of writes is
//! what makes it crash-safe:
//!
//! 1. `setup.json` (what to play) is written before anything else, atomically;
//! 2. each journal line is appended with one write and `sync_data`'d before the next match starts;
//! 3. only then are the views (`bracket.json`, `bracket.txt`, `standings.csv`) rewritten, atomically.
//!
//! A resume reads `setup.json` and replays the journal (cutting a torn last line), so a match whose
//! line is in the journal is never played again, and a match that was being played when the process
//! stopped is played again from scratch in the same directory (which no journal line refers to).
//!
//! # Decisions
//! - **Interrupted match** (Ctrl-C, `q`): nothing is journaled for it and the bracket stops; resume
//!   plays it again. An interruption is not a result, whatever the rules say about partial runs.
//! - **Void match** (the generator was unhealthy): journaled as void (the attempt's directory is
//!   kept) and played again in `matches/<id>-a<n>`, up to `void_retries` times in a row in one
//!   session; then the bracket stops with a message, and `--resume` tries again.
//! - **Unreachable team** at match time: it loses that match by forfeit (journaled with a reason and
//!   no directory) instead of stopping the bracket; if neither team answers, the bracket stops
//!   (nothing can be decided) and can be resumed once they are back.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::files::Mode;
use super::files::{
    BRACKET_JSON, BRACKET_TXT, BracketFile, CONTEST_SCHEMA_VERSION, JOURNAL, MATCHES_DIR, PlanInfo,
    QUALIFYING_DIR, SETUP_JSON, STANDINGS_CSV, standings_csv, write_json_file,
};
use super::play::{Executor, MatchSetup, PlayedMatch, play_match};
use super::teams::{SavedTeam, TeamEntry, check_teams};
use super::{ContestError, Unreachable};
use crate::engine::plan::LoadPlan;
use crate::report::{ReportError, write_file_atomic};
use crate::scenario::{LowerOptions, Scenario};
use crate::score::journal::{Entry, Journal, JournalError, Seeding};
use crate::score::{
    Bracket, Entrant, Format, MatchId, MatchResult, MatchScore, NextMatch, Outcome, ScoringRules,
    seed_order, seed_order_from_ranking,
};

/// Default number of times a void match is played again in a row before the bracket stops.
pub const DEFAULT_VOID_RETRIES: u32 = 2;

/// How the seed order is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeedBy {
    /// From the teams file: its `seed` numbers, then file order.
    #[default]
    File,
    /// From the ranking of one qualifying match of every team.
    Qualify,
}

/// `setup.json`: everything a bracket plays, saved before it starts so `--resume` needs nothing
/// else. The scenario's text is kept, not its path, so a resumed bracket plays the same plan even
/// if the file changed since.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BracketSetup {
    /// [`CONTEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The event's name.
    pub title: String,
    /// The scenario file as it was named (its stem is the scenario's default name).
    pub scenario_file: String,
    /// The scenario file's text.
    pub scenario_toml: String,
    /// `--time-scale`, `--max-users` and `--seed` as given (saved as three fields of their own).
    #[serde(flatten)]
    pub options: LowerOptions,
    /// How each match runs its teams.
    pub mode: Mode,
    /// Bracket format.
    pub format: Format,
    /// How teams are seeded.
    pub seeding: SeedBy,
    /// The teams, in file order.
    pub teams: Vec<SavedTeam>,
    /// The rules matches are judged by (the journal keeps its own copy once created).
    pub rules: ScoringRules,
}

impl BracketSetup {
    /// Reads `DIR/setup.json`.
    pub fn load(dir: &Path) -> Result<BracketSetup, ContestError> {
        let path = dir.join(SETUP_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| ContestError::Invalid {
            path: dir.to_path_buf(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                format!("not a bracket directory: it has no {SETUP_JSON}")
            } else {
                format!("cannot read {SETUP_JSON}: {e}")
            },
        })?;
        let setup: BracketSetup =
            serde_json::from_str(&text).map_err(|e| ContestError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if setup.schema_version != CONTEST_SCHEMA_VERSION {
            return Err(ContestError::Invalid {
                path,
                message: format!(
                    "schema_version {}, but this build reads {CONTEST_SCHEMA_VERSION}",
                    setup.schema_version
                ),
            });
        }
        Ok(setup)
    }

    /// The plan every match plays.
    pub fn plan(&self) -> Result<LoadPlan, crate::scenario::ScenarioError> {
        let scenario = Scenario::from_toml(&self.scenario_toml, &self.scenario_file)?;
        Ok(scenario.lower(&self.options))
    }

    /// The teams to play with.
    pub fn entries(&self) -> Vec<TeamEntry> {
        self.teams.iter().map(TeamEntry::from).collect()
    }
}

/// Start a new bracket, or resume the one in the directory.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new bracket: the directory must not hold one already.
    New(Box<BracketSetup>),
    /// Carry on from `setup.json` and the journal.
    Resume,
}

/// What happened, for views and logs. Nothing depends on what the observer does with it.
#[derive(Debug)]
pub enum BracketEvent<'a> {
    /// The qualifying match (attempt `attempt`) is starting.
    Qualifying {
        /// 1 for the first attempt.
        attempt: u32,
    },
    /// The qualifying match ended (void or not).
    Qualified {
        /// It.
        played: &'a PlayedMatch,
    },
    /// The bracket exists (created or replayed from the journal) and is about to go on.
    Ready {
        /// The journal as it stands.
        journal: &'a Journal,
        /// True when it was replayed from an existing journal.
        resumed: bool,
        /// True when a torn last line was cut off.
        torn_tail: bool,
    },
    /// A match is starting.
    Playing {
        /// Its id.
        id: &'a MatchId,
        /// Its teams.
        teams: &'a [String; 2],
        /// 1 for the first attempt.
        attempt: u32,
        /// The bracket.
        bracket: &'a Bracket,
    },
    /// A match's result was journaled (a void one included).
    Recorded {
        /// Its id.
        id: &'a MatchId,
        /// What was recorded.
        result: &'a MatchResult,
        /// The bracket after it.
        bracket: &'a Bracket,
    },
}

/// Why a bracket stopped before its end. Either way it can be resumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Interrupted (Ctrl-C, `q`); `during` is the match in play, `None` between matches or during
    /// qualifying. Nothing was journaled for it.
    Interrupted {
        /// The match that was being played.
        during: Option<MatchId>,
    },
    /// A match (`None`: the qualifying match) was void too many times in a row.
    VoidLimit {
        /// The match.
        id: Option<MatchId>,
        /// Attempts played this session, all void.
        attempts: u32,
        /// The last void reason.
        reason: String,
    },
}

/// What [`play_bracket`] ended with.
#[derive(Debug, Clone)]
pub struct BracketOutcome {
    /// What was played.
    pub setup: BracketSetup,
    /// The journal (`None` when stopped before the bracket was created, during qualifying).
    pub journal: Option<Journal>,
    /// Why it stopped early, if it did.
    pub stopped: Option<Stopped>,
    /// Attempts played in this session, in order (void ones included).
    pub played: Vec<MatchId>,
}

/// Plays (or resumes) the bracket in `dir` to its end, or until interrupted or stuck on a void
/// match. See the module docs for the guarantees; `observe` hears about each step.
pub async fn play_bracket(
    dir: &Path,
    start: Start,
    void_retries: u32,
    executor: &mut impl Executor,
    interrupt: &CancellationToken,
    observe: &mut dyn FnMut(BracketEvent<'_>),
) -> Result<BracketOutcome, ContestError> {
    let setup = match start {
        Start::New(setup) => {
            create(dir, &setup)?;
            *setup
        }
        Start::Resume => BracketSetup::load(dir)?,
    };
    let plan = Arc::new(setup.plan().map_err(|e| ContestError::Invalid {
        path: dir.join(SETUP_JSON),
        message: e.to_string(),
    })?);
    let teams = setup.entries();
    check_teams(&teams).map_err(|message| ContestError::Invalid {
        path: dir.join(SETUP_JSON),
        message,
    })?;
    let mut outcome = BracketOutcome {
        setup: setup.clone(),
        journal: None,
        stopped: None,
        played: Vec::new(),
    };

    let journal_path = dir.join(JOURNAL);
    let (mut journal, mut file) = match JournalFile::open(&journal_path)? {
        Some((journal, file, torn_tail)) => {
            check_matches_setup(&journal, &setup, &journal_path)?;
            observe(BracketEvent::Ready {
                journal: &journal,
                resumed: true,
                torn_tail,
            });
            (journal, file)
        }
        None => {
            let (order, seeding) = match setup.seeding {
                SeedBy::Qualify if teams.len() > 1 => {
                    match qualify(
                        dir,
                        &setup,
                        &plan,
                        &teams,
                        void_retries,
                        executor,
                        interrupt,
                        observe,
                    )
                    .await?
                    {
                        Ok(order) => (order, Seeding::Qualifying),
                        Err(stopped) => {
                            outcome.stopped = Some(stopped);
                            return Ok(outcome);
                        }
                    }
                }
                SeedBy::Qualify => (names(&teams), Seeding::Qualifying),
                SeedBy::File => file_order(&teams, &dir.join(SETUP_JSON))?,
            };
            let (journal, line) =
                Journal::create(setup.format, order, seeding, setup.rules.clone())
                    .map_err(|e| journal_error(&journal_path, e))?;
            let mut file = JournalFile::create(&journal_path)?;
            file.append(&line)?;
            observe(BracketEvent::Ready {
                journal: &journal,
                resumed: false,
                torn_tail: false,
            });
            (journal, file)
        }
    };

    let mut attempts = journal_attempts(&journal);
    // Void attempts in a row per match, this session only: a resume gets a fresh allowance.
    let mut voids_in_a_row: BTreeMap<MatchId, u32> = BTreeMap::new();
    loop {
        write_views(dir, &setup, &plan, &journal, &attempts, None)?;
        if interrupt.is_cancelled() {
            outcome.stopped = Some(Stopped::Interrupted { during: None });
            break;
        }
        let Some(next) = journal.bracket().next_matches().into_iter().next() else {
            break;
        };
        let attempt = 1 + journal
            .entries()
            .iter()
            .filter(|e| matches!(e, Entry::MatchVoid { id, .. } if *id == next.id))
            .count() as u32;
        let rel = match_dir(&next.id, attempt);
        let match_dir = dir.join(&rel);
        // No journal line refers to this directory (its attempt number is not used yet): whatever
        // is there is a match that was cut off, and it is played again from scratch.
        remove_stale(&match_dir)?;
        write_views(dir, &setup, &plan, &journal, &attempts, Some(&next.id))?;
        observe(BracketEvent::Playing {
            id: &next.id,
            teams: &next.teams,
            attempt,
            bracket: journal.bracket(),
        });
        outcome.played.push(next.id.clone());
        let match_setup = MatchSetup {
            plan: Arc::clone(&plan),
            teams: next
                .teams
                .iter()
                .map(|name| {
                    teams
                        .iter()
                        .find(|t| &t.name == name)
                        .cloned()
                        .expect("bracket teams come from the setup")
                })
                .collect(),
            mode: setup.mode,
            rules: journal.rules().clone(),
        };
        let (result, recorded_dir) =
            match play_match(&match_setup, &match_dir, executor, interrupt).await {
                Ok(played) if played.interrupted() => {
                    outcome.stopped = Some(Stopped::Interrupted {
                        during: Some(next.id.clone()),
                    });
                    break;
                }
                Ok(played) => (MatchResult::from_verdict(played.verdict()), Some(rel)),
                Err(ContestError::Unreachable(down)) if down.len() == 1 => {
                    (forfeit(&next, &down[0]), None)
                }
                Err(e) => return Err(e),
            };
        let line = journal
            .record(&next.id, result.clone(), recorded_dir.clone())
            .map_err(|e| journal_error(&journal_path, e))?;
        file.append(&line)?;
        if let Some(d) = recorded_dir {
            attempts.push((next.id.clone(), d));
        }
        observe(BracketEvent::Recorded {
            id: &next.id,
            result: &result,
            bracket: journal.bracket(),
        });
        if result.outcome == Outcome::Void {
            let n = voids_in_a_row.entry(next.id.clone()).or_default();
            *n += 1;
            if *n > void_retries {
                outcome.stopped = Some(Stopped::VoidLimit {
                    id: Some(next.id.clone()),
                    attempts: *n,
                    reason: result.reason.clone(),
                });
                write_views(dir, &setup, &plan, &journal, &attempts, None)?;
                break;
            }
        }
    }
    outcome.journal = Some(journal);
    Ok(outcome)
}

/// Creates the bracket directory and its `setup.json`; refuses a directory that holds a bracket.
fn create(dir: &Path, setup: &BracketSetup) -> Result<(), ContestError> {
    for name in [SETUP_JSON, JOURNAL] {
        if dir.join(name).exists() {
            return Err(ContestError::Invalid {
                path: dir.to_path_buf(),
                message: format!(
                    "already holds a bracket ({name}); continue it with `stampede bracket --resume {}` \
                     or choose another --out",
                    dir.display()
                ),
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    write_json_file(&dir.join(SETUP_JSON), setup)?;
    Ok(())
}

/// The journal must be the one this setup started: same format and teams.
fn check_matches_setup(
    journal: &Journal,
    setup: &BracketSetup,
    path: &Path,
) -> Result<(), ContestError> {
    let mut in_journal: Vec<&str> = journal
        .bracket()
        .teams()
        .iter()
        .map(String::as_str)
        .collect();
    let mut in_setup: Vec<&str> = setup.teams.iter().map(|t| t.name.as_str()).collect();
    in_journal.sort_unstable();
    in_setup.sort_unstable();
    if in_journal != in_setup || journal.bracket().format() != setup.format {
        return Err(ContestError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "the journal is a {} bracket of {}, but {SETUP_JSON} sets up a {} bracket of {}",
                journal.bracket().format(),
                in_journal.join(", "),
                setup.format,
                in_setup.join(", ")
            ),
        });
    }
    Ok(())
}

fn names(teams: &[TeamEntry]) -> Vec<String> {
    teams.iter().map(|t| t.name.clone()).collect()
}

/// Seed order from the teams file: seed numbers first, then file order.
fn file_order(teams: &[TeamEntry], setup: &Path) -> Result<(Vec<String>, Seeding), ContestError> {
    let entrants: Vec<Entrant> = teams
        .iter()
        .map(|t| Entrant {
            name: t.name.clone(),
            seed: t.seed,
        })
        .collect();
    let order = seed_order(&entrants).map_err(|e| ContestError::Invalid {
        path: setup.to_path_buf(),
        message: e.to_string(),
    })?;
    let seeding = if teams.iter().any(|t| t.seed.is_some()) {
        Seeding::SeedNumbers
    } else {
        Seeding::FileOrder
    };
    Ok((order, seeding))
}

/// Plays the qualifying match until it is not void (or too many times) and returns the seed order.
#[allow(clippy::too_many_arguments)]
async fn qualify(
    dir: &Path,
    setup: &BracketSetup,
    plan: &Arc<LoadPlan>,
    teams: &[TeamEntry],
    void_retries: u32,
    executor: &mut impl Executor,
    interrupt: &CancellationToken,
    observe: &mut dyn FnMut(BracketEvent<'_>),
) -> Result<Result<Vec<String>, Stopped>, ContestError> {
    let match_setup = MatchSetup {
        plan: Arc::clone(plan),
        teams: teams.to_vec(),
        mode: setup.mode,
        rules: setup.rules.clone(),
    };
    let mut attempt = 1;
    loop {
        if interrupt.is_cancelled() {
            return Ok(Err(Stopped::Interrupted { during: None }));
        }
        let qdir = dir.join(attempt_name(QUALIFYING_DIR, attempt));
        remove_stale(&qdir)?;
        observe(BracketEvent::Qualifying { attempt });
        let played = play_match(&match_setup, &qdir, executor, interrupt).await?;
        observe(BracketEvent::Qualified { played: &played });
        if played.interrupted() {
            return Ok(Err(Stopped::Interrupted { during: None }));
        }
        if played.verdict().void.is_none() {
            return Ok(Ok(seed_order_from_ranking(played.verdict())));
        }
        if attempt > void_retries {
            return Ok(Err(Stopped::VoidLimit {
                id: None,
                attempts: attempt,
                reason: played.verdict().reason.clone(),
            }));
        }
        attempt += 1;
    }
}

/// `base` for the first attempt, `base-a<n>` for the n-th.
fn attempt_name(base: &str, attempt: u32) -> String {
    if attempt <= 1 {
        base.to_string()
    } else {
        format!("{base}-a{attempt}")
    }
}

/// A match's directory relative to the bracket directory: `matches/R1-1`, `matches/R1-1-a2`, ….
pub fn match_dir(id: &MatchId, attempt: u32) -> String {
    format!("{MATCHES_DIR}/{}", attempt_name(&id.0, attempt))
}

/// Removes a directory left by a match that was cut off.
fn remove_stale(dir: &Path) -> Result<(), ContestError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ReportError::Write {
            path: dir.to_path_buf(),
            source,
        }
        .into()),
    }
}

/// The `(match, dir)` of a journal entry that saved results.
fn attempt_dir(entry: &Entry) -> Option<(MatchId, String)> {
    match entry {
        Entry::MatchFinished {
            id, dir: Some(d), ..
        }
        | Entry::MatchVoid {
            id, dir: Some(d), ..
        } => Some((id.clone(), d.clone())),
        _ => None,
    }
}

/// The result of a match one of whose teams did not answer: the other wins, nobody scores.
fn forfeit(next: &NextMatch, down: &Unreachable) -> MatchResult {
    let winner = next
        .teams
        .iter()
        .find(|t| **t != down.team)
        .cloned()
        .unwrap_or_default();
    MatchResult {
        outcome: Outcome::Won {
            winner: winner.clone(),
        },
        scores: next
            .teams
            .iter()
            .map(|t| MatchScore {
                team: t.clone(),
                sustained_users: 0,
            })
            .collect(),
        reason: format!(
            "{winner} wins by forfeit: {} ({}) failed the check when the match was due to start: {}",
            down.team, down.target, down.reason
        ),
    }
}

fn journal_error(path: &Path, e: JournalError) -> ContestError {
    ContestError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Rewrites `bracket.json`, `bracket.txt`, `standings.csv` and `report.html` from the journal's
/// bracket.
fn write_views(
    dir: &Path,
    setup: &BracketSetup,
    plan: &LoadPlan,
    journal: &Journal,
    attempts: &[(MatchId, String)],
    playing: Option<&MatchId>,
) -> Result<(), ContestError> {
    let file = bracket_file(
        setup,
        plan,
        journal,
        journal.bracket(),
        journal.rules(),
        attempts,
        playing,
    );
    write_bracket_views(
        dir,
        [BRACKET_JSON, BRACKET_TXT, STANDINGS_CSV],
        &file,
        journal.bracket(),
        playing,
    )?;
    super::html::write_bracket_report(dir, &file, journal.bracket(), playing)?;
    Ok(())
}

/// The `bracket.json` view of `bracket`.
pub(crate) fn bracket_file(
    setup: &BracketSetup,
    plan: &LoadPlan,
    journal: &Journal,
    bracket: &Bracket,
    rules: &ScoringRules,
    attempts: &[(MatchId, String)],
    playing: Option<&MatchId>,
) -> BracketFile {
    BracketFile::new(
        &setup.title,
        &PlanInfo::of(plan),
        setup.mode,
        journal.seeding(),
        rules,
        &setup.teams,
        bracket,
        attempts,
        playing,
    )
}

/// Writes a bracket's three views under the given names: the CSV and the drawing, then the JSON.
pub(crate) fn write_bracket_views(
    dir: &Path,
    [json, txt, csv]: [&str; 3],
    file: &BracketFile,
    bracket: &Bracket,
    playing: Option<&MatchId>,
) -> Result<(), ContestError> {
    write_file_atomic(&dir.join(csv), &standings_csv(&file.standings))?;
    let drawing = format!("{}\n\n{}", file.title, bracket.render_text(playing));
    write_file_atomic(&dir.join(txt), drawing.as_bytes())?;
    write_json_file(&dir.join(json), file)?;
    Ok(())
}

/// Every `(match, dir)` the journal refers to, in order.
pub(crate) fn journal_attempts(journal: &Journal) -> Vec<(MatchId, String)> {
    journal.entries().iter().filter_map(attempt_dir).collect()
}

/// The journal file, opened for appending.
struct JournalFile {
    file: File,
    path: PathBuf,
}

impl JournalFile {
    /// A new, empty journal.
    fn create(path: &Path) -> Result<JournalFile, ContestError> {
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(path)
            .map_err(|source| write_error(path, source))?;
        // The new name must survive a crash too: sync the directory that holds it.
        if let Some(parent) = path.parent()
            && let Ok(d) = File::open(parent)
        {
            let _ = d.sync_all();
        }
        Ok(JournalFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Replays an existing journal and opens it for appending, cut after its last complete line.
    /// `None` when there is no journal yet (or only a torn first line: the bracket was never
    /// created, so it is created again).
    fn open(path: &Path) -> Result<Option<(Journal, JournalFile, bool)>, ContestError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ReportError::Read {
                    path: path.to_path_buf(),
                    source,
                }
                .into());
            }
        };
        // Complete lines are whole UTF-8; only a torn tail can be cut mid-character, and replay
        // ignores everything after the last newline anyway.
        let text = String::from_utf8_lossy(&bytes);
        let replayed = match Journal::replay(&text) {
            Ok(r) => r,
            Err(JournalError::Empty) => {
                std::fs::remove_file(path).map_err(|source| write_error(path, source))?;
                return Ok(None);
            }
            Err(e) => return Err(journal_error(path, e)),
        };
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|source| write_error(path, source))?;
        if replayed.torn_tail {
            file.set_len(replayed.valid_len as u64)
                .and_then(|()| file.sync_data())
                .map_err(|source| write_error(path, source))?;
        }
        Ok(Some((
            replayed.journal,
            JournalFile {
                file,
                path: path.to_path_buf(),
            },
            replayed.torn_tail,
        )))
    }

    /// Appends one line with one write and syncs it: once this returns, the entry survives a crash.
    fn append(&mut self, line: &str) -> Result<(), ContestError> {
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|source| write_error(&self.path, source))
    }
}

fn write_error(path: &Path, source: std::io::Error) -> ContestError {
    ReportError::Write {
        path: path.to_path_buf(),
        source,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contest::files::{BracketFile, MatchFile};
    use crate::contest::testkit::{Scripted, stamps};

    const CAPACITIES: [(&str, u32); 4] = [("a", 20), ("b", 40), ("c", 60), ("d", 80)];

    fn setup(format: Format, seeding: SeedBy) -> BracketSetup {
        BracketSetup {
            schema_version: CONTEST_SCHEMA_VERSION,
            title: "Test cup".into(),
            scenario_file: "scenarios/smoke.toml".into(),
            scenario_toml: include_str!("../../scenarios/smoke.toml").into(),
            options: LowerOptions::default(),
            mode: Mode::Concurrent,
            format,
            seeding,
            // Weakest seeded first, so the bracket has to overturn its seeding.
            teams: CAPACITIES
                .iter()
                .enumerate()
                .map(|(i, (n, _))| SavedTeam {
                    name: n.to_string(),
                    target: format!("http://{n}.test:1"),
                    seed: Some(i as u32 + 1),
                })
                .collect(),
            rules: ScoringRules::default(),
        }
    }

    async fn play(
        dir: &Path,
        start: Start,
        exec: &mut Scripted,
        interrupt: &CancellationToken,
    ) -> Result<BracketOutcome, ContestError> {
        play_bracket(
            dir,
            start,
            DEFAULT_VOID_RETRIES,
            exec,
            interrupt,
            &mut |_| {},
        )
        .await
    }

    /// Plays to the end, never interrupted.
    async fn play_to_end(
        dir: &Path,
        start: Start,
        exec: &mut Scripted,
    ) -> Result<BracketOutcome, ContestError> {
        play(dir, start, exec, &CancellationToken::new()).await
    }

    fn new(format: Format) -> Start {
        Start::New(Box::new(setup(format, SeedBy::File)))
    }

    fn places(o: &BracketOutcome) -> Vec<(u32, String)> {
        let standings = o.journal.as_ref().unwrap().bracket().standings();
        assert!(standings.finished);
        standings
            .rows
            .iter()
            .map(|r| (r.place, r.team.clone()))
            .collect()
    }

    fn place_list(list: &[(u32, &str)]) -> Vec<(u32, String)> {
        list.iter().map(|(p, t)| (*p, t.to_string())).collect()
    }

    fn journal_lines(dir: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(dir.join(JOURNAL))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn every_format_ends_with_standings_that_follow_capacity() {
        for (format, expected, played) in [
            (
                Format::Single,
                vec![(1, "d"), (2, "c"), (3, "a"), (3, "b")],
                3,
            ),
            // d never loses, so no reset: 2n - 2 matches.
            (
                Format::Double,
                vec![(1, "d"), (2, "c"), (3, "b"), (4, "a")],
                6,
            ),
            (
                Format::RoundRobin,
                vec![(1, "d"), (2, "c"), (3, "b"), (4, "a")],
                6,
            ),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let mut exec = Scripted::with(&CAPACITIES);
            let o = play_to_end(tmp.path(), new(format), &mut exec)
                .await
                .unwrap();
            assert_eq!(o.stopped, None);
            assert_eq!(places(&o), place_list(&expected), "{format}");
            assert_eq!(o.played.len(), played, "{format}");
            assert_eq!(exec.runs.len(), played);
            assert!(exec.runs.iter().all(|r| r.len() == 2), "two teams a match");
            // Every match directory is a match directory, and the views say the bracket is over.
            for id in &o.played {
                let m =
                    MatchFile::load(&tmp.path().join(match_dir(id, 1)).join("match.json")).unwrap();
                assert!(m.verdict.winner.is_some(), "{id}: {}", m.verdict.reason);
            }
            let view: BracketFile = serde_json::from_str(
                &std::fs::read_to_string(tmp.path().join(BRACKET_JSON)).unwrap(),
            )
            .unwrap();
            assert!(view.finished);
            assert_eq!(view.champion.as_deref(), Some("d"));
            assert_eq!(view.playing, None);
            assert_eq!(view.seeding, Seeding::SeedNumbers);
            let csv = std::fs::read_to_string(tmp.path().join(STANDINGS_CSV)).unwrap();
            assert_eq!(csv.lines().count(), 5, "{csv}");
            assert!(csv.lines().nth(1).unwrap().starts_with("1,d,4,"), "{csv}");
            let txt = std::fs::read_to_string(tmp.path().join(BRACKET_TXT)).unwrap();
            assert!(txt.starts_with("Test cup\n\n"), "{txt}");
            assert_eq!(journal_lines(tmp.path()).len(), 1 + played);
        }
    }

    #[tokio::test]
    async fn a_void_match_is_journaled_and_played_again_in_its_own_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&CAPACITIES);
        exec.unhealthy_runs = 1;
        let mut events = Vec::new();
        let o = play_bracket(
            tmp.path(),
            new(Format::Single),
            DEFAULT_VOID_RETRIES,
            &mut exec,
            &CancellationToken::new(),
            &mut |e| {
                if let BracketEvent::Playing { id, attempt, .. } = e {
                    events.push(format!("{id}#{attempt}"));
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(events, ["R1-1#1", "R1-1#2", "R1-2#1", "R2-1#1"]);
        assert_eq!(places(&o)[0].1, "d");
        let lines = journal_lines(tmp.path());
        assert_eq!(lines[1]["entry"], "match_void");
        assert_eq!(lines[1]["dir"], "matches/R1-1");
        let reason = lines[1]["reason"].as_str().unwrap();
        assert!(reason.starts_with("void: the load generator"), "{reason}");
        assert_eq!(lines[2]["entry"], "match_finished");
        assert_eq!(lines[2]["dir"], "matches/R1-1-a2");
        // The void attempt's results are kept for rescoring.
        assert!(tmp.path().join("matches/R1-1/a/summary.json").exists());
        let view: BracketFile =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(BRACKET_JSON)).unwrap())
                .unwrap();
        let r11 = &view.matches[0];
        assert_eq!(r11.attempts, ["matches/R1-1", "matches/R1-1-a2"]);
        assert_eq!(r11.voids.len(), 1);
    }

    #[tokio::test]
    async fn a_match_void_too_often_stops_the_bracket_and_resume_carries_on() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&CAPACITIES);
        exec.unhealthy_runs = 100;
        let o = play_to_end(tmp.path(), new(Format::Single), &mut exec)
            .await
            .unwrap();
        match &o.stopped {
            Some(Stopped::VoidLimit {
                id: Some(id),
                attempts: 3,
                reason,
            }) => {
                assert_eq!(id.0, "R1-1");
                assert!(reason.contains("replay the match"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(exec.runs.len(), 1 + DEFAULT_VOID_RETRIES as usize);
        // The generator is healthy again: the resumed bracket replays R1-1 as attempt 4.
        exec.unhealthy_runs = 0;
        let o = play_to_end(tmp.path(), Start::Resume, &mut exec)
            .await
            .unwrap();
        assert_eq!(o.stopped, None);
        assert!(tmp.path().join("matches/R1-1-a4/match.json").exists());
        assert_eq!(places(&o)[0].1, "d");
    }

    #[tokio::test]
    async fn an_unreachable_team_forfeits_and_two_stop_the_bracket() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&CAPACITIES);
        exec.down.insert("d".into());
        let o = play_to_end(tmp.path(), new(Format::Single), &mut exec)
            .await
            .unwrap();
        // Seeds 1 v 4 is a v d: d does not answer, a goes through without a run.
        let lines = journal_lines(tmp.path());
        assert_eq!(lines[1]["match"], "R1-1");
        assert_eq!(lines[1]["result"]["winner"], "a");
        assert!(lines[1].get("dir").is_none());
        let reason = lines[1]["result"]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("a wins by forfeit: d (http://d.test:1) failed the check"),
            "{reason}"
        );
        assert!(!tmp.path().join("matches/R1-1").exists());
        assert_eq!(places(&o)[0].1, "c");

        let tmp = tempfile::tempdir().unwrap();
        exec.down.insert("a".into());
        let err = play_to_end(tmp.path(), new(Format::Single), &mut exec)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ContestError::Unreachable(v) if v.len() == 2),
            "{err}"
        );
        // Nothing was decided, so nothing was journaled past the creation.
        assert_eq!(journal_lines(tmp.path()).len(), 1);
    }

    #[tokio::test]
    async fn an_interrupted_bracket_resumes_without_replaying_finished_matches() {
        let reference = {
            let tmp = tempfile::tempdir().unwrap();
            let mut exec = Scripted::with(&CAPACITIES);
            let o = play_to_end(tmp.path(), new(Format::Double), &mut exec)
                .await
                .unwrap();
            places(&o)
        };

        // Stopped between matches, right after the first one was journaled.
        let tmp = tempfile::tempdir().unwrap();
        let interrupt = CancellationToken::new();
        let mut exec = Scripted::with(&CAPACITIES);
        let stop = interrupt.clone();
        let o = play_bracket(
            tmp.path(),
            new(Format::Double),
            DEFAULT_VOID_RETRIES,
            &mut exec,
            &interrupt,
            &mut |e| {
                if let BracketEvent::Recorded { .. } = e {
                    stop.cancel();
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(o.stopped, Some(Stopped::Interrupted { during: None }));
        assert_eq!(o.played.len(), 1);
        let first = tmp.path().join("matches/W1-1");
        let before = stamps(&first);
        assert!(!before.is_empty());

        // Stopped in the middle of the second match: it is not journaled.
        let interrupt = CancellationToken::new();
        let mut exec = Scripted::with(&CAPACITIES);
        exec.interrupt_run = Some((1, interrupt.clone()));
        let o = play(tmp.path(), Start::Resume, &mut exec, &interrupt)
            .await
            .unwrap();
        assert_eq!(
            o.stopped,
            Some(Stopped::Interrupted {
                during: Some("W1-2".into())
            })
        );
        let cut: MatchFile = MatchFile::load(&tmp.path().join("matches/W1-2/match.json")).unwrap();
        assert!(cut.interrupted);
        assert_eq!(journal_lines(tmp.path()).len(), 2, "created + W1-1");

        // A crash while writing a line leaves a torn tail; resume cuts it off and finishes.
        let mut f = OpenOptions::new()
            .append(true)
            .open(tmp.path().join(JOURNAL))
            .unwrap();
        f.write_all(b"{\"entry\":\"match_fini").unwrap();
        drop(f);
        let mut exec = Scripted::with(&CAPACITIES);
        let mut torn = false;
        let o = play_bracket(
            tmp.path(),
            Start::Resume,
            DEFAULT_VOID_RETRIES,
            &mut exec,
            &CancellationToken::new(),
            &mut |e| {
                if let BracketEvent::Ready { torn_tail, .. } = e {
                    torn = torn_tail;
                }
            },
        )
        .await
        .unwrap();
        assert!(torn);
        assert_eq!(o.stopped, None);
        assert_eq!(
            places(&o),
            reference,
            "same standings as without interruptions"
        );
        assert!(
            !o.played.contains(&"W1-1".into()),
            "a finished match is not played again"
        );
        assert_eq!(o.played[0].0, "W1-2", "the cut-off match is played again");
        assert_eq!(stamps(&first), before, "its directory is untouched");
        let lines = journal_lines(tmp.path());
        let w11 = lines.iter().filter(|l| l["match"] == "W1-1").count();
        assert_eq!(w11, 1, "W1-1 is journaled once");
        assert!(!cut.teams.is_empty());
        let replayed = MatchFile::load(&tmp.path().join("matches/W1-2/match.json")).unwrap();
        assert!(!replayed.interrupted, "the cut-off attempt was replaced");
    }

    #[tokio::test]
    async fn a_qualifying_match_seeds_the_bracket() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&CAPACITIES);
        let start = Start::New(Box::new(setup(Format::Single, SeedBy::Qualify)));
        let o = play_to_end(tmp.path(), start, &mut exec).await.unwrap();
        assert_eq!(
            exec.runs[0],
            ["a", "b", "c", "d"],
            "everyone qualifies at once"
        );
        let j = o.journal.as_ref().unwrap();
        assert_eq!(j.seeding(), Seeding::Qualifying);
        assert_eq!(j.bracket().teams(), ["d", "c", "b", "a"]);
        assert!(tmp.path().join("qualifying/match.json").exists());
        // Seeded by strength, the top two meet in the final.
        let lines = journal_lines(tmp.path());
        assert_eq!(
            lines.last().unwrap()["result"]["scores"]
                .as_array()
                .map(Vec::len),
            Some(2)
        );
        assert_eq!(places(&o)[..2], place_list(&[(1, "d"), (2, "c")]));
    }

    #[tokio::test]
    async fn a_directory_holding_a_bracket_is_not_started_again() {
        let tmp = tempfile::tempdir().unwrap();
        let mut exec = Scripted::with(&CAPACITIES);
        play_to_end(tmp.path(), new(Format::Single), &mut exec)
            .await
            .unwrap();
        let err = play_to_end(tmp.path(), new(Format::Single), &mut exec)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("already holds a bracket"), "{err}");
        assert!(err.contains("--resume"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        let err = play_to_end(empty.path(), Start::Resume, &mut exec)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a bracket directory"), "{err}");
    }
}
