//! Playing one match: every team under the same seeded plan, then the verdict and the match files.
//!
//! - **concurrent** (the default): one engine run against every team at once. The engine hands each
//!   arrival to every team in a rotating order, so no team gets the generator first, and all teams
//!   meet the same generator at the same moment.
//! - **sequential**: the same plan (same seed) run against one team after another, each its own
//!   engine run. Slower, but a team never shares the generator.
//!
//! Runs go through an [`Executor`]: [`LiveExecutor`] is the engine (what the commands use); a test
//! can substitute one that writes prepared summaries, to drive what the real engine cannot be made
//! to produce on demand (an unhealthy generator).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::ContestError;
use super::Unreachable;
use super::files::{LEVELS_CSV, MATCH_JSON, MatchFile, Mode, PlanInfo, levels_csv};
use super::teams::{SavedTeam, TeamEntry};
use crate::base::summary::RunSummary;
use crate::engine::plan::LoadPlan;
use crate::engine::{EngineOptions, Target};
use crate::metrics::Snapshot;
use crate::report::write_file_atomic;
use crate::runner::{self, Destination, RunnerError, Written};
use crate::score::{Decision, MatchVerdict, ScoringRules, judge};

/// Runs plans against targets and writes their results; see the module docs.
pub trait Executor {
    /// Checks that `target` answers; `Err` holds why not.
    fn check(&self, target: &Target) -> impl Future<Output = Result<(), String>>;

    /// Runs `plan` against every destination at once and writes each one's results into its
    /// directory, as [`runner::execute`] does.
    fn execute(
        &mut self,
        plan: Arc<LoadPlan>,
        destinations: &[Destination],
        interrupt: CancellationToken,
    ) -> impl Future<Output = Result<Vec<Written>, RunnerError>>;
}

/// The real thing: [`runner::execute`] with the engine, its snapshots forwarded to one feed that
/// outlives each run, so a view can follow a sequential match or a whole bracket.
#[derive(Debug, Default)]
pub struct LiveExecutor {
    options: EngineOptions,
    feed: Option<watch::Sender<Snapshot>>,
}

impl LiveExecutor {
    /// An executor with these engine options and no view.
    pub fn new(options: EngineOptions) -> LiveExecutor {
        LiveExecutor {
            options,
            feed: None,
        }
    }

    /// Forwards every run's snapshots to `feed`. Forwarded snapshots never say `done`: the feed
    /// stays open across runs, and its owner ends it (by dropping the sender) when the match or
    /// bracket is over.
    pub fn with_feed(mut self, feed: watch::Sender<Snapshot>) -> LiveExecutor {
        self.feed = Some(feed);
        self
    }
}

impl Executor for LiveExecutor {
    async fn check(&self, target: &Target) -> Result<(), String> {
        runner::check_target(target).await
    }

    async fn execute(
        &mut self,
        plan: Arc<LoadPlan>,
        destinations: &[Destination],
        interrupt: CancellationToken,
    ) -> Result<Vec<Written>, RunnerError> {
        let (tx, rx) = watch::channel(Snapshot::default());
        let forward = self
            .feed
            .clone()
            .map(|feed| tokio::spawn(forward(rx, feed)));
        let result = runner::execute(plan, destinations, self.options.clone(), interrupt, tx).await;
        if let Some(f) = forward {
            // The run's sender is gone, so the forwarder ends after passing on the last snapshot.
            let _ = f.await;
        }
        result
    }
}

/// Copies snapshots from one run's channel into the long-lived feed, `done` cleared.
async fn forward(mut rx: watch::Receiver<Snapshot>, feed: watch::Sender<Snapshot>) {
    // `changed` still reports the last value sent before the run dropped its sender.
    while rx.changed().await.is_ok() {
        let mut snapshot = rx.borrow_and_update().clone();
        snapshot.done = false;
        feed.send_replace(snapshot);
    }
}

/// What to play.
#[derive(Debug, Clone)]
pub struct MatchSetup {
    /// The plan every team runs.
    pub plan: Arc<LoadPlan>,
    /// At least two teams with distinct, checked names.
    pub teams: Vec<TeamEntry>,
    /// How they run.
    pub mode: Mode,
    /// What the verdict is judged by.
    pub rules: ScoringRules,
}

/// A match played and written.
#[derive(Debug, Clone)]
pub struct PlayedMatch {
    /// What `match.json` holds (the verdict included).
    pub file: MatchFile,
    /// Each team's summary, in team order; `None` for a team that never ran.
    pub summaries: Vec<Option<RunSummary>>,
}

impl PlayedMatch {
    /// The verdict.
    pub fn verdict(&self) -> &MatchVerdict {
        &self.file.verdict
    }

    /// True when the match was stopped before every run ended.
    pub fn interrupted(&self) -> bool {
        self.file.interrupted
    }
}

/// Plays a match into `dir`: checks every target answers, runs the teams by `setup.mode`, judges
/// them, and writes `match.json`, `levels.csv`, `report.html` and each team's results under
/// `dir/<team>/`.
///
/// A target that does not answer fails the match before anything runs
/// ([`ContestError::Unreachable`], naming every such team). `interrupt` stops the runs; what ran is
/// still judged and written, marked `interrupted` (void under the default rules, since the runs are
/// partial), and teams of a sequential match that never got their turn make it void.
pub async fn play_match(
    setup: &MatchSetup,
    dir: &Path,
    executor: &mut impl Executor,
    interrupt: &CancellationToken,
) -> Result<PlayedMatch, ContestError> {
    let mut unreachable = Vec::new();
    for team in &setup.teams {
        if let Err(reason) = executor.check(&team.target).await {
            unreachable.push(Unreachable {
                team: team.name.clone(),
                target: team.target.url.clone(),
                reason,
            });
        }
    }
    if !unreachable.is_empty() {
        return Err(ContestError::Unreachable(unreachable));
    }

    let destinations: Vec<Destination> = setup
        .teams
        .iter()
        .map(|t| Destination {
            target: t.target.clone(),
            team: Some(t.name.clone()),
            dir: dir.join(&t.name),
        })
        .collect();
    let mut summaries: Vec<Option<RunSummary>> = vec![None; setup.teams.len()];
    match setup.mode {
        Mode::Concurrent => {
            let written = executor
                .execute(Arc::clone(&setup.plan), &destinations, interrupt.clone())
                .await?;
            for (slot, w) in summaries.iter_mut().zip(written) {
                *slot = Some(w.summary);
            }
        }
        Mode::Sequential => {
            for (slot, dest) in summaries.iter_mut().zip(&destinations) {
                if interrupt.is_cancelled() {
                    break;
                }
                let mut written = executor
                    .execute(
                        Arc::clone(&setup.plan),
                        std::slice::from_ref(dest),
                        interrupt.clone(),
                    )
                    .await?;
                *slot = written.pop().map(|w| w.summary);
            }
        }
    }

    let named: Vec<(String, Option<RunSummary>)> = setup
        .teams
        .iter()
        .map(|t| t.name.clone())
        .zip(summaries.iter().cloned())
        .collect();
    let verdict = verdict_of(&named, &setup.rules);
    let interrupted = interrupt.is_cancelled() || summaries.iter().flatten().any(|s| s.partial);

    let teams: Vec<(SavedTeam, Option<RunSummary>)> = setup
        .teams
        .iter()
        .map(SavedTeam::from)
        .zip(summaries.iter().cloned())
        .collect();
    let file = MatchFile::new(
        PlanInfo::of(&setup.plan),
        setup.mode,
        interrupted,
        &teams,
        verdict,
    );
    write_match_files(dir, &file, &summaries, MATCH_JSON, LEVELS_CSV)?;
    super::html::write_match_report(dir, &file, &summaries)?;
    Ok(PlayedMatch { file, summaries })
}

/// Judges the teams that ran. Teams that never ran (a sequential match stopped before their turn)
/// make the match void: it did not compare everyone.
pub(crate) fn verdict_of(
    teams: &[(String, Option<RunSummary>)],
    rules: &ScoringRules,
) -> MatchVerdict {
    let ran: Vec<(String, RunSummary)> = teams
        .iter()
        .filter_map(|(t, s)| s.clone().map(|s| (t.clone(), s)))
        .collect();
    let mut verdict = judge(&ran, rules);
    if let Some(seg) = ran.iter().find_map(|(_, s)| s.segment.as_ref()) {
        // A segment measured a share of the load: judging it alone would judge the wrong thing.
        let why = format!(
            "this is segment {}/{} of a split match; `stampede merge` every segment's directory \
             for the verdict",
            seg.index, seg.count
        );
        verdict.reason = format!("void: {why}");
        verdict.void = Some(why);
        verdict.winner = None;
        verdict.decision = Decision::Void;
        return verdict;
    }
    let missing: Vec<&str> = teams
        .iter()
        .filter(|(_, s)| s.is_none())
        .map(|(t, _)| t.as_str())
        .collect();
    if !missing.is_empty() {
        let why = format!("the match was stopped before {} ran", missing.join(" and "));
        verdict.reason = format!("void: {why}; replay the match");
        verdict.void = Some(why);
        verdict.winner = None;
        verdict.decision = Decision::Void;
    }
    verdict
}

/// Writes `levels.csv` (as `levels_name`) and then the match file (as `json_name`, last, so a
/// `match.json` on disk always comes with everything it refers to).
pub(crate) fn write_match_files(
    dir: &Path,
    file: &MatchFile,
    summaries: &[Option<RunSummary>],
    json_name: &str,
    levels_name: &str,
) -> Result<(), ContestError> {
    std::fs::create_dir_all(dir).map_err(|source| crate::report::ReportError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let columns: Vec<_> = file
        .teams
        .iter()
        .zip(summaries)
        .map(|(t, s)| {
            (
                t.name.clone(),
                s.as_ref(),
                file.verdict.team(&t.name).map(|r| &r.score),
            )
        })
        .collect();
    write_file_atomic(&dir.join(levels_name), &levels_csv(&columns))?;
    file.write(&dir.join(json_name))?;
    Ok(())
}
