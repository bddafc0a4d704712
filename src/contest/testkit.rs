//! Test-only [`Executor`] that writes prepared summaries instead of running the engine: each team
//! has a capacity (the users it holds; above that a level's new users fail), and the script can make
//! the generator unhealthy, a target unreachable, or the run interrupted — what the real engine
//! cannot be made to do on demand. Integration tests play the same code against real servers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::play::Executor;
use super::teams::SavedTeam;
use super::tournament::{BracketSetup, SeedBy, Start, play_bracket};
use crate::base::summary::RunSummary;
use crate::engine::Target;
use crate::engine::plan::LoadPlan;
use crate::report::write_run;
use crate::runner::{Destination, RunnerError, Written};
use crate::score::testkit::{Lvl, summary};
use crate::score::{Format, ScoringRules};

/// The plan of `scenarios/smoke.toml` as lowered by default: what scripted matches and brackets
/// play (the scripted executor writes their results; the plan only has to be a real one).
pub(crate) fn smoke_plan() -> Arc<LoadPlan> {
    let scenario = crate::scenario::Scenario::from_toml(
        include_str!("../../scenarios/smoke.toml"),
        "smoke.toml",
    )
    .expect("the smoke scenario is valid");
    Arc::new(scenario.lower(&crate::scenario::LowerOptions::default()))
}

/// A bracket of `teams` (targets `http://NAME:1`, seeded in that order) playing the smoke scenario
/// concurrently under the default rules.
pub(crate) fn smoke_setup(title: &str, teams: &[&str], format: Format) -> BracketSetup {
    BracketSetup {
        schema_version: super::files::CONTEST_SCHEMA_VERSION,
        title: title.into(),
        scenario_file: "smoke.toml".into(),
        scenario_toml: include_str!("../../scenarios/smoke.toml").into(),
        options: crate::scenario::LowerOptions::default(),
        mode: super::Mode::Concurrent,
        format,
        seeding: SeedBy::File,
        teams: teams
            .iter()
            .map(|n| SavedTeam {
                name: n.to_string(),
                target: format!("http://{n}:1"),
                seed: None,
            })
            .collect(),
        rules: ScoringRules::default(),
    }
}

/// Plays a new bracket of `setup` in `dir` to its end with `exec`, two matches at a time.
pub(crate) async fn play_to_end(dir: &Path, setup: BracketSetup, exec: &mut Scripted) {
    play_bracket(
        dir,
        Start::New(Box::new(setup)),
        2,
        exec,
        &CancellationToken::new(),
        &mut |_| {},
    )
    .await
    .expect("the scripted bracket plays to its end");
}

/// User levels of every scripted run: 10, 20, … 90.
pub(crate) const LEVELS: [u32; 9] = [10, 20, 30, 40, 50, 60, 70, 80, 90];

/// A scripted executor. Runs are counted in `runs` (one per `execute`, listing its teams).
#[derive(Debug, Default)]
pub(crate) struct Scripted {
    /// Users each team holds.
    pub capacity: BTreeMap<String, u32>,
    /// Teams whose target does not answer.
    pub down: BTreeSet<String>,
    /// How many of the next runs report an unhealthy generator.
    pub unhealthy_runs: u32,
    /// Cancel this token during the n-th run (1-based), leaving partial results.
    pub interrupt_run: Option<(usize, CancellationToken)>,
    /// The teams of each run, in order.
    pub runs: Vec<Vec<String>>,
}

impl Scripted {
    /// Teams `a`, `b`, … with these capacities.
    pub fn with(capacities: &[(&str, u32)]) -> Scripted {
        Scripted {
            capacity: capacities
                .iter()
                .map(|(n, c)| (n.to_string(), *c))
                .collect(),
            ..Scripted::default()
        }
    }
}

/// The run of a team holding `capacity` users.
pub(crate) fn run_of(capacity: u32) -> RunSummary {
    summary(
        LEVELS
            .iter()
            .map(|&t| {
                if t <= capacity {
                    Lvl::clean(t)
                } else {
                    Lvl::vu_failures(t, u64::from(t - capacity))
                }
            })
            .collect(),
    )
}

impl Executor for Scripted {
    async fn check(&self, target: &Target) -> Result<(), String> {
        if self.down.contains(&target.name) {
            Err("connection refused".into())
        } else {
            Ok(())
        }
    }

    async fn execute(
        &mut self,
        _plan: Arc<LoadPlan>,
        destinations: &[Destination],
        interrupt: CancellationToken,
    ) -> Result<Vec<Written>, RunnerError> {
        self.runs
            .push(destinations.iter().map(|d| d.target.name.clone()).collect());
        if let Some((n, token)) = &self.interrupt_run
            && *n == self.runs.len()
        {
            token.cancel();
        }
        let unhealthy = self.unhealthy_runs > 0;
        self.unhealthy_runs = self.unhealthy_runs.saturating_sub(1);
        let mut written = Vec::new();
        for d in destinations {
            let mut s = run_of(self.capacity[&d.target.name]);
            s.team = d.team.clone();
            s.target = d.target.url.clone();
            if unhealthy {
                s.generator.bottleneck = true;
                s.generator.warnings = vec!["scheduler lag p99 120 ms > 50 ms".into()];
            }
            if interrupt.is_cancelled() {
                s.partial = true;
                s.stop_reason = Some("interrupted before the end of the plan".into());
                if let Some(last) = s.levels.last_mut() {
                    last.incomplete = true;
                }
            }
            let files = write_run(&d.dir, &s, &[])?;
            written.push(Written { summary: s, files });
        }
        Ok(written)
    }
}

/// Every file under `dir` with its modification time, to prove a directory was left alone.
pub(crate) fn stamps(dir: &Path) -> BTreeMap<String, std::time::SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                out.insert(p.display().to_string(), m);
            }
        }
    }
    out
}
