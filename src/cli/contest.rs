//! `stampede match`, `stampede bracket` and `stampede rescore`: the [`contest`]
//! library wrapped with Ctrl-C handling, a live view, and what gets printed. `main` calls one of
//! [`play_match`], [`play_bracket`], [`rescore`].

use std::fmt::Write as _;
use std::path::Path;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::commands::{View, runtime, scoreboard};
use super::config::{BracketConfig, MatchConfig, RescoreConfig};
use super::exit::{CliError, Exit};
use super::metrics_listen::MetricsListener;
use super::progress;
use super::signals;
use crate::contest::files::{MatchFile, SETUP_JSON};
use crate::contest::{
    self, BracketEvent, BracketOutcome, BracketSetup, Executor, LiveExecutor, Rescored, Start,
    Stopped,
};
use crate::engine::{EngineOptions, StopControl};
use crate::metrics::Snapshot;
use crate::score::{Bracket, MatchId, Outcome};
use crate::tui::TuiOptions;
use crate::view::bracket::{BracketView, bracket_view};

/// `stampede match`: checks every team answers, plays the match with the chosen view, writes the
/// match directory and prints the verdict. Exit 0 when decided (a winner or a tie), 1 when void.
pub fn play_match(config: MatchConfig) -> Result<Exit, CliError> {
    if let Some(workers) = config.split.workers {
        return super::workers::play_match(config, workers);
    }
    let metrics = MetricsListener::bind_flag(config.metrics_listen)?;
    runtime()?.block_on(async {
        let setup = &config.setup;
        let names: Vec<&str> = setup.teams.iter().map(|t| t.name.as_str()).collect();
        let title = format!("{}: {}", setup.plan.scenario, names.join(" vs "));
        let options = EngineOptions {
            source_ips: config.source_ips.clone(),
            start_at: config.split.start_at,
            ..EngineOptions::default()
        };
        // Checked before the view starts, so an unreachable team is reported on a normal terminal.
        let mut down = Vec::new();
        let probe = LiveExecutor::new(options.clone());
        for t in &setup.teams {
            if let Err(reason) = probe.check(&t.target).await {
                down.push(contest::Unreachable {
                    team: t.name.clone(),
                    target: t.target.url.clone(),
                    reason,
                });
            }
        }
        if !down.is_empty() {
            return Err(contest::ContestError::Unreachable(down).into());
        }
        eprintln!(
            "match {title} ({}), results in {}",
            setup.mode.name(),
            config.out_dir.display()
        );
        let session = Session::start(
            title,
            View::of(config.split.progress_json, config.tui),
            None,
            &options.stop,
            "stopping every team's load, judging what is still awaited, then writing the results \
             (again to stop at once)…",
            metrics,
        );
        let result = {
            let mut executor = LiveExecutor::new(options).with_feed(session.feed.clone());
            contest::play_match(setup, &config.out_dir, &mut executor, &session.interrupt).await
        };
        session.finish().await;
        let played = result?;
        if setup.plan.segment.is_some() {
            // A segment's share is judged only once merged with the others: it did its part.
            return Ok(if played.interrupted() {
                Exit::NotDecided
            } else {
                Exit::Ok
            });
        }
        crate::out!("{}", match_text(&played.file, &config.out_dir));
        Ok(if played.verdict().void.is_some() {
            Exit::NotDecided
        } else {
            Exit::Ok
        })
    })
}

/// The match as printed at its end: the teams side by side, each score's explanation, the verdict.
pub fn match_text(file: &MatchFile, dir: &Path) -> String {
    let mut out = String::new();
    let names: Vec<&str> = file.teams.iter().map(|t| t.name.as_str()).collect();
    let _ = writeln!(
        out,
        "\n{}: {} · {} · seed {} · time scale {}{}\n",
        file.scenario,
        names.join(" vs "),
        file.mode.name(),
        file.seed,
        file.time_scale,
        if file.interrupted {
            " · INTERRUPTED"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:>4}  {:<16} {:>12}  {:>19}  {:>21}  {:>12}",
        "rank", "team", "sustained", "VUs passed/failed", "requests ok/failed", "delivery p99"
    );
    let mut teams: Vec<_> = file.teams.iter().collect();
    teams.sort_by_key(|t| t.rank.unwrap_or(u32::MAX));
    for t in &teams {
        let (vus, requests, p99) = match &t.headline {
            Some(h) => (
                format!("{} / {}", int(h.users_passed), int(h.users_failed)),
                format!("{} / {}", int(h.requests_ok), int(h.requests_failed)),
                h.delivery_p99_ms
                    .map_or_else(|| "–".to_string(), |ms| format!("{ms:.1} ms")),
            ),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "{:>4}  {:<16} {:>12}  {vus:>19}  {requests:>21}  {p99:>12}",
            t.rank.map_or_else(|| "–".to_string(), |r| r.to_string()),
            t.name,
            format!("{} users", int(u64::from(t.sustained_users))),
        );
    }
    out.push('\n');
    for t in &teams {
        let _ = writeln!(out, "{}: {}", t.name, t.explanation);
    }
    out.push('\n');
    let v = &file.verdict;
    if v.void.is_some() {
        let _ = writeln!(out, "VOID MATCH — nothing was decided.");
        let _ = writeln!(out, "{}", v.reason);
        let _ = writeln!(out, "Replay it with the same command.");
    } else {
        let _ = writeln!(out, "{}", v.reason);
    }
    let _ = writeln!(
        out,
        "\nresults: {} (match.json, levels.csv, {})",
        dir.display(),
        names
            .iter()
            .map(|n| format!("{n}/"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    out
}

/// `stampede bracket`: plays or resumes a bracket with the chosen view, printing each match as it
/// ends (without the scoreboard), then the bracket drawn with its standings. Exit 0 when finished,
/// 1 when it stopped early (interrupted, or a match void too often): resume it.
pub fn play_bracket(config: BracketConfig) -> Result<Exit, CliError> {
    let metrics = MetricsListener::bind_flag(config.metrics_listen)?;
    runtime()?.block_on(async {
        let dir = config.dir.clone();
        let title = match &config.start {
            Start::New(setup) => setup.title.clone(),
            Start::Resume => BracketSetup::load(&dir)?.title,
        };
        eprintln!("bracket {title}, results in {}", dir.display());
        let session = Session::start(
            title.clone(),
            View::of(false, config.tui),
            Some(BracketView {
                title: title.clone(),
                ..BracketView::default()
            }),
            &StopControl::default(),
            "stopping the match in play, judging what is still awaited; finished matches are \
             kept and the bracket can be resumed (again to stop at once)…",
            metrics,
        );
        let quiet = config.tui;
        // Everything holding a sender of the session (the view updates, the executor) lives in
        // this block, so the view sees both feeds end when `finish` drops the session's own.
        let result = {
            let views = session.bracket.clone();
            let show = |bracket: &Bracket, playing: Option<&MatchId>| {
                if let Some(views) = &views {
                    views.send_replace(bracket_view(&title, bracket, playing));
                }
            };
            let mut observe = |event: BracketEvent<'_>| {
                match &event {
                    BracketEvent::Ready { journal, .. } => show(journal.bracket(), None),
                    BracketEvent::Playing { id, bracket, .. } => show(bracket, Some(id)),
                    BracketEvent::Recorded { bracket, .. } => show(bracket, None),
                    _ => {}
                }
                if !quiet {
                    crate::out!("{}", event_text(&event));
                }
            };
            let options = EngineOptions {
                source_ips: config.source_ips.clone(),
                stop: session.stop.clone(),
                ..EngineOptions::default()
            };
            let mut executor = match config.workers {
                None => BracketExecutor::Live(
                    LiveExecutor::new(options).with_feed(session.feed.clone()),
                ),
                Some(n) => BracketExecutor::Workers(workers_executor(
                    &config,
                    &dir,
                    n,
                    session.feed.clone(),
                    session.stop.cut.clone(),
                )?),
            };
            contest::play_bracket(
                &dir,
                config.start.clone(),
                config.void_retries,
                &mut executor,
                &session.interrupt,
                &mut observe,
            )
            .await
        };
        session.finish().await;
        let resume = format!("stampede bracket --resume {}", dir.display());
        match result {
            Ok(outcome) => Ok(print_bracket_end(&outcome, &dir, &resume)),
            Err(e) => {
                // Not for a directory refused as it is (it holds another bracket, a bad setup).
                let resumable = !matches!(e, contest::ContestError::Invalid { .. });
                if resumable && dir.join(SETUP_JSON).exists() {
                    eprintln!(
                        "The bracket so far is saved in {}; once this is fixed, continue it with: \
                         {resume}",
                        dir.display()
                    );
                }
                Err(e.into())
            }
        }
    })
}

/// The bracket's scenario written beside its journal, for its worker processes to read, and the
/// executor that starts them.
fn workers_executor(
    config: &BracketConfig,
    dir: &Path,
    workers: u32,
    feed: watch::Sender<Snapshot>,
    cut: tokio_util::sync::CancellationToken,
) -> Result<super::workers::WorkersExecutor, CliError> {
    let setup = match &config.start {
        Start::New(setup) => (**setup).clone(),
        Start::Resume => BracketSetup::load(dir)?,
    };
    // The file keeps its stem: a scenario without `name` is named after its file.
    let stem = Path::new(&setup.scenario_file)
        .file_stem()
        .map_or_else(|| "scenario".into(), |s| s.to_os_string());
    let file = dir.join("workers").join(stem).with_extension("toml");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(file.parent().unwrap_or(dir))?;
        std::fs::write(&file, &setup.scenario_toml)
    };
    write().map_err(|e| CliError::Environment(format!("cannot write {}: {e}", file.display())))?;
    Ok(super::workers::WorkersExecutor::new(
        workers,
        file,
        setup.options,
        config.source_ips.clone(),
        feed,
        cut,
    ))
}

/// The executor of a bracket: the engine in this process, or worker processes.
enum BracketExecutor {
    Live(LiveExecutor),
    Workers(super::workers::WorkersExecutor),
}

impl Executor for BracketExecutor {
    async fn check(&self, target: &crate::engine::Target) -> Result<(), String> {
        match self {
            BracketExecutor::Live(e) => e.check(target).await,
            BracketExecutor::Workers(e) => e.check(target).await,
        }
    }

    async fn execute(
        &mut self,
        plan: std::sync::Arc<crate::engine::plan::LoadPlan>,
        destinations: &[crate::runner::Destination],
        interrupt: tokio_util::sync::CancellationToken,
    ) -> Result<Vec<crate::runner::Written>, crate::runner::RunnerError> {
        match self {
            BracketExecutor::Live(e) => e.execute(plan, destinations, interrupt).await,
            BracketExecutor::Workers(e) => e.execute(plan, destinations, interrupt).await,
        }
    }
}

/// One line (or a few) about a bracket event.
fn event_text(event: &BracketEvent<'_>) -> String {
    match event {
        BracketEvent::Qualifying { attempt } => {
            format!(
                "▶ qualifying match of every team{}\n",
                attempt_text(*attempt)
            )
        }
        BracketEvent::Qualified { played } => {
            format!("  qualifying: {}\n", played.verdict().reason)
        }
        BracketEvent::Ready {
            journal,
            resumed: true,
            torn_tail,
        } => {
            let decided = journal
                .bracket()
                .matches()
                .iter()
                .filter(|m| m.result.is_some())
                .count();
            format!(
                "resuming: {decided} match(es) already decided are kept{}\n",
                if *torn_tail {
                    "; a journal line torn by the interruption was cut off"
                } else {
                    ""
                }
            )
        }
        BracketEvent::Ready { journal, .. } => format!(
            "{} of {} teams, in seed order: {}\n",
            journal.bracket().format().title(),
            journal.bracket().teams().len(),
            journal.bracket().teams().join(", ")
        ),
        BracketEvent::Playing {
            id, teams, attempt, ..
        } => format!(
            "▶ {id}: {} vs {}{}\n",
            teams[0],
            teams[1],
            attempt_text(*attempt)
        ),
        BracketEvent::Recorded { id, result, .. } => match result.outcome {
            Outcome::Void => format!("  {id}: VOID, it will be played again: {}\n", result.reason),
            _ => format!("  {id}: {}\n", result.reason),
        },
    }
}

fn attempt_text(attempt: u32) -> String {
    if attempt > 1 {
        format!(" (attempt {attempt})")
    } else {
        String::new()
    }
}

/// Prints the bracket and how it ended; returns the exit code.
fn print_bracket_end(outcome: &BracketOutcome, dir: &Path, resume: &str) -> Exit {
    if let Some(journal) = &outcome.journal {
        crate::outln!(
            "\n{}\n\n{}",
            outcome.setup.title,
            journal.bracket().render_text(None)
        );
    }
    crate::outln!(
        "results: {} (bracket.txt, bracket.json, standings.csv, journal.jsonl, matches/)",
        dir.display()
    );
    match &outcome.stopped {
        None => {
            let champion = outcome
                .journal
                .as_ref()
                .and_then(|j| j.bracket().champion());
            match champion {
                Some(c) => crate::outln!("champion: {c}"),
                None => crate::outln!("finished: first place is shared"),
            }
            Exit::Ok
        }
        Some(Stopped::Interrupted { during }) => {
            match during {
                Some(id) => crate::outln!(
                    "INTERRUPTED during {id}: it is not recorded and will be played again."
                ),
                None => crate::outln!("INTERRUPTED: the bracket is not finished."),
            }
            crate::outln!("Continue it with: {resume}");
            Exit::NotDecided
        }
        Some(Stopped::VoidLimit {
            id,
            attempts,
            reason,
        }) => {
            let name = id
                .as_ref()
                .map_or_else(|| "the qualifying match".to_string(), |id| id.to_string());
            crate::outln!(
                "STOPPED: {name} was void {attempts} times in a row. Last time: {reason}\n\
                 The load generator was not healthy enough to judge the teams: give it more room \
                 (fewer users, more cores, --source-ips, another machine) and continue with: {resume}"
            );
            Exit::NotDecided
        }
    }
}

/// `stampede rescore`: re-judges a match or bracket directory offline and prints what changed.
/// Exit 0 when the result stands decided, 1 when the re-judged match is void or the re-judged
/// bracket no longer leads to the matches that were played (or is not finished).
pub fn rescore(config: RescoreConfig) -> Result<Exit, CliError> {
    let dir = &config.dir;
    match contest::rescore(dir, config.rules)? {
        Rescored::Match { before, after } => {
            let note = after.rescored.as_ref().expect("rescore notes its source");
            crate::outln!(
                "rescored {} with {}",
                dir.join("match.json").display(),
                note.rules_from
            );
            crate::outln!("  as played: {}", before.verdict.reason);
            crate::outln!("  now:       {}", after.verdict.reason);
            crate::outln!(
                "{}",
                if note.changed {
                    "THE OUTCOME CHANGED"
                } else {
                    "the outcome is unchanged"
                }
            );
            crate::outln!(
                "written: {}, {}",
                dir.join(contest::files::RESCORED_JSON).display(),
                dir.join(contest::files::RESCORED_LEVELS_CSV).display()
            );
            Ok(if after.verdict.void.is_some() {
                Exit::NotDecided
            } else {
                Exit::Ok
            })
        }
        Rescored::Bracket {
            before,
            after,
            bracket,
        } => {
            let note = after.rescored.as_ref().expect("rescore notes its source");
            crate::outln!(
                "rescored {} with {}",
                dir.join(contest::files::JOURNAL).display(),
                note.rules_from
            );
            let outcome = |o: &Outcome| match o {
                Outcome::Won { winner } => format!("won by {winner}"),
                Outcome::Draw => "a draw".into(),
                Outcome::Void => "void".into(),
            };
            if note.changed.is_empty() {
                crate::outln!("no match outcome changed");
            }
            for c in &note.changed {
                crate::outln!(
                    "changed: {} {} → {}",
                    c.id,
                    outcome(&c.before),
                    outcome(&c.after)
                );
            }
            if let Some(id) = &note.diverged_at {
                crate::outln!(
                    "DIVERGED at {id}: under these rules other teams would have met there, so the \
                     bracket from {id} on would have to be played again"
                );
            }
            let was = before.bracket().champion();
            crate::outln!("\n{}\n\n{}", after.title, bracket.render_text(None));
            crate::outln!(
                "champion as played: {}; as re-scored: {}",
                was.as_deref().unwrap_or("–"),
                after.champion.as_deref().unwrap_or("– (not decided)")
            );
            crate::outln!(
                "written: {}, {}, {}",
                dir.join(contest::files::RESCORED_BRACKET_JSON).display(),
                dir.join(contest::files::RESCORED_BRACKET_TXT).display(),
                dir.join(contest::files::RESCORED_STANDINGS_CSV).display()
            );
            Ok(if note.diverged_at.is_some() || !after.finished {
                Exit::NotDecided
            } else {
                Exit::Ok
            })
        }
    }
}

/// A match's, bracket's or split run's live view and signal handling, alive across all its runs.
pub(super) struct Session {
    /// Cancelled by Ctrl-C, SIGTERM, SIGHUP, or by the scoreboard's `q`.
    pub(super) interrupt: CancellationToken,
    /// Every run's snapshots, forwarded (see [`LiveExecutor::with_feed`]).
    pub(super) feed: watch::Sender<Snapshot>,
    /// The bracket view, when playing a bracket.
    bracket: Option<watch::Sender<BracketView>>,
    view: JoinHandle<()>,
    on_signal: JoinHandle<()>,
    /// The `--metrics-listen` endpoint, serving the same snapshots as the view.
    endpoint: Option<JoinHandle<()>>,
    /// Shared with every run: cut by a second signal, told why the session stopped.
    pub(super) stop: StopControl,
}

impl Session {
    /// Starts the view (and the bracket view, with `bracket`) and the signal handling; the first
    /// stop prints `on_interrupt`.
    pub(super) fn start(
        title: String,
        view: View,
        bracket: Option<BracketView>,
        stop: &StopControl,
        on_interrupt: &'static str,
        metrics: Option<MetricsListener>,
    ) -> Session {
        let interrupt = CancellationToken::new();
        let stop = stop.clone();
        let on_signal = signals::listen(interrupt.clone(), stop.clone(), on_interrupt);
        let (feed, snapshots) = watch::channel(Snapshot::default());
        let endpoint = metrics.map(|m| m.serve(snapshots.clone()));
        let (bracket, bracket_rx) = match bracket {
            Some(v) => {
                let (tx, rx) = watch::channel(v);
                (Some(tx), Some(rx))
            }
            None => (None, None),
        };
        let view = match view {
            View::Scoreboard => {
                let mut options = TuiOptions::new(title);
                options.bracket = bracket_rx;
                options.stop = stop.clone();
                tokio::spawn(scoreboard(snapshots, interrupt.clone(), options))
            }
            View::Progress => tokio::spawn(progress::show(snapshots)),
            View::Json => tokio::spawn(progress::json_lines(snapshots)),
        };
        Session {
            interrupt,
            feed,
            bracket,
            view,
            on_signal,
            endpoint,
            stop,
        }
    }

    /// Ends the feeds (the view sees the end and returns, giving the terminal back) and waits for
    /// the view. Every clone of the feed (executors) must be gone by now.
    pub(super) async fn finish(self) {
        self.on_signal.abort();
        if let Some(endpoint) = self.endpoint {
            endpoint.abort();
        }
        drop(self.feed);
        drop(self.bracket);
        let _ = self.view.await;
    }
}

fn int(n: u64) -> String {
    crate::tui::format::int(n)
}
