//! What each subcommand does with its resolved config. `main` calls exactly one of these.

use std::fmt::Write as _;

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::config::{MergeConfig, RunConfig, ValidateConfig};
use super::exit::{CliError, Exit};
use super::metrics_listen::MetricsListener;
use super::progress;
use super::signals;
use crate::engine::plan::{LoadPlan, RoomAssignment, Step};
use crate::engine::segment::Segment;
use crate::engine::{EngineOptions, Target};
use crate::metrics::Snapshot;
use crate::report::render_text;
use crate::runner::{self, Destination, Written};
use crate::scenario::Scenario;
use crate::scenario::duration::format_duration;
use crate::tui::{self, TuiOptions};

/// `stampede run`: checks the target answers, runs the plan against it with the chosen view, writes
/// results to `config.out_dir`, prints the summary, and exits by the thresholds.
pub fn run(config: RunConfig) -> Result<Exit, CliError> {
    if let Some(workers) = config.split.workers {
        return super::workers::run(config, workers);
    }
    let metrics = MetricsListener::bind_flag(config.metrics_listen)?;
    runtime()?.block_on(async {
        let target = config.target.to_engine();
        preflight(&target).await?;
        let destinations = [Destination {
            target,
            team: None,
            dir: config.out_dir.clone(),
        }];
        let options = EngineOptions {
            source_ips: config.source_ips.clone(),
            start_at: config.split.start_at,
            ..EngineOptions::default()
        };
        let view = View::of(config.split.progress_json, config.tui);
        let written =
            execute_with_view(Arc::new(config.plan), &destinations, options, view, metrics).await?;
        if config.split.progress_json {
            // Stdout carries the snapshots; the summary is in the results directory.
            return Ok(Exit::from_thresholds(
                written.iter().all(|w| w.summary.thresholds_passed()),
            ));
        }
        Ok(report(&written))
    })
}

/// How a run shows its progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The terminal scoreboard.
    Scoreboard,
    /// Plain progress lines (indicatif, or a status line every few seconds without a terminal).
    Progress,
    /// Every snapshot as one JSON line on stdout, for a process that combines several runs.
    Json,
}

impl View {
    /// The view `--progress-json` and the scoreboard setting ask for (JSON wins).
    pub fn of(progress_json: bool, tui: bool) -> View {
        if progress_json {
            View::Json
        } else if tui {
            View::Scoreboard
        } else {
            View::Progress
        }
    }
}

/// A multi-threaded runtime for one command.
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        // The generator's self-check counts only these threads' CPU (see `metrics::health`).
        .thread_name(format!(
            "{}worker",
            crate::metrics::health::ENGINE_THREAD_PREFIX
        ))
        .enable_all()
        .build()
        .map_err(|e| CliError::Environment(format!("cannot start the async runtime: {e}")))
}

/// Fails fast when nothing answers at the target, instead of recording a run of connection errors.
pub(super) async fn preflight(target: &Target) -> Result<(), CliError> {
    runner::check_target(target)
        .await
        .map_err(|reason| CliError::Unreachable {
            target: target.url.clone(),
            reason,
        })
}

/// Runs with signal handling and a live view; an interrupt still writes every result file.
///
/// Ctrl-C, SIGTERM and SIGHUP stop the run in order, a second one at once ([`signals`]). With `tui`
/// the view is the terminal scoreboard, whose `q` (confirmed) and Ctrl-C cancel the same `interrupt`
/// token (raw mode turns Ctrl-C into a key, so the signal handler does not see it then). Either way
/// the run ends normally and writes its results, and the view has finished (the terminal is back to
/// normal) before this returns and the summary prints. With `metrics`, the snapshots are also
/// served there while the run lasts.
pub async fn execute_with_view(
    plan: Arc<LoadPlan>,
    destinations: &[Destination],
    options: EngineOptions,
    view: View,
    metrics: Option<MetricsListener>,
) -> Result<Vec<Written>, CliError> {
    let interrupt = CancellationToken::new();
    let on_signal = signals::listen(
        interrupt.clone(),
        options.stop.clone(),
        "stopping the load, judging what is still awaited, then writing the results \
         (again to stop at once)…",
    );
    let (tx, rx) = watch::channel(Snapshot::default());
    let endpoint = metrics.map(|m| m.serve(rx.clone()));
    let view = match view {
        View::Scoreboard => {
            let mut tui_options = TuiOptions::new(view_title(&plan, destinations));
            tui_options.stop = options.stop.clone();
            tokio::spawn(scoreboard(rx, interrupt.clone(), tui_options))
        }
        View::Progress => tokio::spawn(progress::show(rx)),
        View::Json => tokio::spawn(progress::json_lines(rx)),
    };
    let result = runner::execute(plan, destinations, options, interrupt, tx).await;
    on_signal.abort();
    if let Some(endpoint) = endpoint {
        endpoint.abort();
    }
    let _ = view.await;
    Ok(result?)
}

/// The scoreboard, or the progress display if the terminal cannot host it (the run goes on either
/// way: a view never decides whether results are written).
pub(super) async fn scoreboard(
    rx: watch::Receiver<Snapshot>,
    interrupt: CancellationToken,
    options: TuiOptions,
) {
    if let Err(e) = tui::run(rx.clone(), interrupt, options).await {
        eprintln!("the live scoreboard stopped ({e}); showing progress lines instead");
        progress::show(rx).await;
    }
}

/// `scenario → target` for a run, `scenario: a vs b` for a match.
fn view_title(plan: &LoadPlan, destinations: &[Destination]) -> String {
    let names: Vec<&str> = destinations
        .iter()
        .map(|d| d.team.as_deref().unwrap_or(&d.target.name))
        .collect();
    match names.as_slice() {
        [one] => format!("{} → {one}", plan.scenario),
        many => format!("{}: {}", plan.scenario, many.join(" vs ")),
    }
}

/// Prints each summary and where it was written; the exit code follows the thresholds.
pub fn report(written: &[Written]) -> Exit {
    let mut all_held = true;
    for w in written {
        crate::outln!("{}", render_text(&w.summary));
        if let Some(dir) = w.files.summary_json.parent() {
            crate::outln!("results written to {}", dir.display());
        }
        all_held &= w.summary.thresholds_passed();
    }
    Exit::from_thresholds(all_held)
}

/// What segment `segment` of `plan` runs: its users, per level, and its rooms.
fn segment_share(plan: &LoadPlan, segment: Segment) -> String {
    let mine: Vec<_> = plan.own_arrivals().collect();
    let mut per_level = Vec::new();
    for span in &plan.levels {
        let started = mine.iter().filter(|a| a.at < span.end).count();
        per_level.push(started.to_string());
    }
    per_level.dedup();
    let rooms = match plan.conduct.rooms.assignment {
        RoomAssignment::Groups { size } => {
            format!(
                "group rooms of {size} whole (group n runs in segment n mod {})",
                segment.count
            )
        }
        RoomAssignment::Shared { .. } => "shared rooms span segments".to_owned(),
    };
    let hot = if plan.conduct.rooms.hot_room_share > 0.0 {
        "; the hot room spans segments"
    } else {
        ""
    };
    format!(
        "{segment}: {} of {} users (started by the end of each level: {}); {rooms}{hot}",
        mine.len(),
        plan.arrivals.len(),
        per_level.join(", ")
    )
}

/// `stampede merge`: the segments' results merged into one result directory, printed like a run's
/// (or, for the segments of a match, one match directory judged on the whole load).
pub fn merge(config: MergeConfig) -> Result<Exit, CliError> {
    if config
        .dirs
        .first()
        .is_some_and(|d| crate::contest::merge::is_match_dir(d))
    {
        let played =
            crate::contest::merge::merge_matches(&config.out, &config.dirs, config.allow_missing)
                .map_err(|e| CliError::Input(e.to_string()))?;
        crate::out!("{}", super::contest::match_text(&played.file, &config.out));
        return Ok(if played.verdict().void.is_some() {
            Exit::NotDecided
        } else {
            Exit::Ok
        });
    }
    let merged = crate::merge::merge_dirs(&config.out, &config.dirs, config.allow_missing)?;
    crate::outln!("{}", render_text(&merged.summary));
    crate::outln!(
        "merged {} segment(s) into {}",
        merged.summary.segments.len(),
        config.out.display()
    );
    Ok(Exit::from_thresholds(merged.summary.thresholds_passed()))
}

/// `stampede completions SHELL`: the completion script of every subcommand and flag, on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, CliError> {
    use clap::CommandFactory;
    use std::io::Write as _;
    let mut command = super::args::Cli::command();
    // Into memory first: the generator panics on a failed write, e.g. to a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "stampede", &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        // The reader stopped early (`| head`): nothing is wrong with the script.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Environment(
            format!("cannot write the completion script: {e}"),
        )),
        _ => Ok(Exit::Ok),
    }
}

/// `stampede validate`: the file is valid (resolution already loaded and lowered it); print what it
/// will do.
pub fn validate(config: ValidateConfig) -> Result<Exit, CliError> {
    crate::out!(
        "{}: ok\n{}",
        config.file.display(),
        plan_summary(&config.scenario, &config.plan)
    );
    Ok(Exit::Ok)
}

/// A short, human description of a plan: phases, levels, users, duration, flows, rooms, budgets and
/// thresholds.
pub fn plan_summary(scenario: &Scenario, plan: &LoadPlan) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail; `let _` keeps the lines short.
    let mut line = |label: &str, value: String| {
        let _ = writeln!(out, "{label:<11} {value}");
    };
    let description = scenario
        .description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    line("scenario", format!("{}{description}", plan.scenario));
    line(
        "seed",
        format!("{}    time scale {}", plan.seed, plan.time_scale),
    );
    line("phases", scenario.phases.len().to_string());
    for phase in &scenario.phases {
        let levels: Vec<_> = plan
            .levels
            .iter()
            .filter(|l| l.phase == phase.name)
            .collect();
        let span = match (levels.first(), levels.last()) {
            (Some(first), Some(last)) => format!(
                "{} level(s), {} → {}",
                levels.len(),
                format_duration(first.start),
                format_duration(last.end)
            ),
            _ => "no time at this scale".to_owned(),
        };
        line("", format!("{}  {}  ({span})", phase.name, phase.shape));
    }
    line("levels", plan.levels.len().to_string());
    line("max users", plan.arrivals.len().to_string());
    line("duration", format_duration(plan.duration));
    if let Some(segment) = plan.segment {
        line("segment", segment_share(plan, segment));
    }

    let total_weight: u64 = plan.flows.iter().map(|f| u64::from(f.weight)).sum();
    line("flows", plan.flows.len().to_string());
    for (index, flow) in plan.flows.iter().enumerate() {
        let users = plan
            .arrivals
            .iter()
            .filter(|a| usize::from(a.flow) == index)
            .count();
        let steps: Vec<&str> = flow.steps.iter().map(step_name).collect();
        line(
            "",
            format!(
                "{}  weight {} ({:.0} %), {users} users: {}",
                flow.name,
                flow.weight,
                100.0 * f64::from(flow.weight) / total_weight as f64,
                steps.join(" → ")
            ),
        );
    }

    let mut rooms = match plan.conduct.rooms.assignment {
        RoomAssignment::Groups { size } => format!("groups of {size}"),
        RoomAssignment::Shared { rooms } => format!("{rooms} shared room(s)"),
    };
    if plan.conduct.rooms.hot_room_share > 0.0 {
        let _ = write!(
            rooms,
            ", {} % to one hot room",
            plan.conduct.rooms.hot_room_share * 100.0
        );
    }
    if plan.conduct.rooms.password.is_some() {
        rooms.push_str(", with password");
    }
    line("rooms", rooms);
    line(
        "timeouts",
        format!(
            "step {}, delivery {}, receipts {} (not time-scaled); late after {}; delivery \
             findings {}",
            format_duration(plan.conduct.step_timeout),
            format_duration(plan.conduct.verify.delivery_deadline),
            format_duration(plan.conduct.verify.receipt_deadline),
            format_duration(plan.conduct.verify.late_after),
            if plan.conduct.verify.fails_vu {
                "fail the VU"
            } else {
                "count against the run only"
            }
        ),
    );
    if plan.conduct.thresholds.is_empty() {
        line("thresholds", "none".to_owned());
    }
    for (i, threshold) in plan.conduct.thresholds.iter().enumerate() {
        let label = if i == 0 { "thresholds" } else { "" };
        line(label, crate::report::thresholds::describe(threshold));
    }
    out
}

/// The step's name as scenario files write it.
fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Register { .. } => "register",
        Step::Health => "health",
        Step::ListRooms { .. } => "list_rooms",
        Step::EnterRoom => "enter_room",
        Step::Connect => "connect",
        Step::GetRoom => "get_room",
        Step::JoinRoom => "join_room",
        Step::FetchHistory { .. } => "fetch_history",
        Step::SendMessages { count: None, .. } => "send_messages (until the end)",
        Step::SendMessages { .. } => "send_messages",
        Step::React { .. } => "react",
        Step::MarkRead => "mark_read",
        Step::UploadFile { .. } => "upload_file",
        Step::ProfileImage { .. } => "profile_image",
        Step::AiMention { .. } => "ai_mention",
        Step::Think { .. } => "think",
        Step::Hold => "hold",
        Step::LeaveRoom => "leave_room",
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::scenario::LowerOptions;

    #[test]
    fn summary_of_the_competition_profile() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/ktb-2024.toml");
        let scenario = Scenario::load(&path).unwrap();
        let plan = scenario.lower(&LowerOptions::default());
        let summary = plan_summary(&scenario, &plan);
        for needle in [
            "scenario    ktb-2024: Kakao Tech Bootcamp 2024 final",
            "seed        2024    time scale 1",
            "ramp  ramp: 100 users, +100 every 30s up to 3000, hold 2m  (30 level(s), 0s → 16m30s)",
            "levels      30",
            "max users   3000",
            "duration    16m30s",
            "competition  weight 1 (100 %), 3000 users: register → health → list_rooms",
            "rooms       groups of 10",
            "timeouts    step 30s, delivery 10s, receipts 20s (not time-scaled); late after 1s",
            "thresholds  vu_failure_ratio <= 0.01",
        ] {
            assert!(summary.contains(needle), "{needle:?} not in:\n{summary}");
        }
    }
}
