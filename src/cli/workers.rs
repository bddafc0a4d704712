//! `--workers N`: one run split over N processes of this machine, with the same mechanism as a run
//! split over machines. This process starts N copies of itself, each running segment `I/N` of the
//! plan from one start time into `OUT/segments/I`, shows one live view fed by the copies' snapshots
//! (JSON lines on their stdout), passes a stop on to every copy (the first Ctrl-C, SIGTERM or `q`
//! stops them in order, the next one at once), and merges their results into `OUT` at the end. A
//! copy that dies is reported, and the merged result is then partial.

use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::commands::{View, preflight, runtime};
use super::config::{MatchConfig, RunConfig};
use super::contest::Session;
use super::exit::{CliError, Exit};
use super::metrics_listen::MetricsListener;
use crate::contest::Executor;
use crate::engine::StopControl;
use crate::engine::plan::LoadPlan;
use crate::metrics::Snapshot;
use crate::metrics::snapshot::combine;
use crate::report::render_text;
use crate::runner::{Destination, RunnerError, Written};
use crate::scenario::LowerOptions;

/// Time the copies get to start (and check their target) before the run's start time.
const STARTUP: Duration = Duration::from_secs(3);

/// How often the combined view is refreshed.
const COMBINE_EVERY: Duration = Duration::from_millis(250);

/// Where worker `index`'s results go under `out`.
pub fn segment_dir(out: &Path, index: u32) -> PathBuf {
    out.join("segments").join(index.to_string())
}

/// What every worker runs, besides its own segment, start time and results directory.
struct Job {
    /// Where the merged result goes; the workers' under `segments/`.
    out_dir: PathBuf,
    /// When the run starts; a few seconds from now when `None`.
    start_at: Option<SystemTime>,
    /// The subcommand and its flags, as every worker gets them.
    args: Vec<OsString>,
    /// The addresses given with --source-ips.
    source_ips: Vec<IpAddr>,
    /// Whether the targets are on loopback (each worker then gets a source address of its own).
    loopback: bool,
}

/// Runs `config` as `workers` processes and merges their results into `config.out_dir`.
pub fn run(config: RunConfig, workers: u32) -> Result<Exit, CliError> {
    let metrics = MetricsListener::bind_flag(config.metrics_listen)?;
    runtime()?.block_on(async move {
        let target = config.target.to_engine();
        preflight(&target).await?;
        let mut args: Vec<OsString> = vec!["run".into(), "--target".into(), target.url.into()];
        args.extend(plan_args(
            &config.source.scenario,
            &config.source.options,
            config.plan.seed,
        ));
        let job = Job {
            out_dir: config.out_dir.clone(),
            start_at: config.split.start_at,
            args,
            source_ips: config.source_ips.clone(),
            loopback: is_loopback(&config.target.url),
        };
        let present = in_session(
            &job,
            workers,
            format!(
                "{} → {} ({workers} workers)",
                config.plan.scenario, config.target.name
            ),
            View::of(config.split.progress_json, config.tui),
            metrics,
        )
        .await?;
        let merged = crate::merge::merge_dirs(&config.out_dir, &present, true)?;
        crate::outln!("{}", render_text(&merged.summary));
        crate::outln!(
            "results of {} worker(s) merged into {}",
            present.len(),
            config.out_dir.display()
        );
        Ok(Exit::from_thresholds(merged.summary.thresholds_passed()))
    })
}

/// What the first stop prints.
const STOPPING: &str = "stopping every worker in order: the load stops, what is still awaited \
                        is judged, then every result is written and merged (again to stop at once)…";

/// Plays `config` as `workers` processes, each a segment of the match, and merges them into one
/// match directory judged on the whole load.
pub fn play_match(config: MatchConfig, workers: u32) -> Result<Exit, CliError> {
    let source = config.source.clone().ok_or_else(|| {
        CliError::Environment("this match has no scenario file to start workers with".into())
    })?;
    let metrics = MetricsListener::bind_flag(config.metrics_listen)?;
    runtime()?.block_on(async move {
        let mut down = Vec::new();
        for t in &config.setup.teams {
            if let Err(reason) = crate::runner::check_target(&t.target).await {
                down.push(crate::contest::Unreachable {
                    team: t.name.clone(),
                    target: t.target.url.clone(),
                    reason,
                });
            }
        }
        if !down.is_empty() {
            return Err(crate::contest::ContestError::Unreachable(down).into());
        }
        let mut args: Vec<OsString> = vec!["match".into()];
        args.extend(plan_args(
            &source.scenario,
            &source.options,
            config.setup.plan.seed,
        ));
        args.extend(["--mode".into(), config.setup.mode.name().into()]);
        if let Some(rules) = &config.rules_file {
            args.extend(["--rules".into(), rules.clone().into_os_string()]);
        }
        for spec in &config.team_specs {
            args.extend(["--team".into(), spec.into()]);
        }
        let names: Vec<&str> = config.setup.teams.iter().map(|t| t.name.as_str()).collect();
        let job = Job {
            out_dir: config.out_dir.clone(),
            start_at: config.split.start_at,
            args,
            source_ips: config.source_ips.clone(),
            loopback: config
                .setup
                .teams
                .iter()
                .all(|t| is_loopback_url(&t.target.url)),
        };
        let present = in_session(
            &job,
            workers,
            format!(
                "{}: {} ({workers} workers)",
                config.setup.plan.scenario,
                names.join(" vs ")
            ),
            View::of(config.split.progress_json, config.tui),
            metrics,
        )
        .await?;
        let played = crate::contest::merge::merge_matches(&config.out_dir, &present, true)
            .map_err(|e| CliError::Input(e.to_string()))?;
        crate::out!(
            "{}",
            super::contest::match_text(&played.file, &config.out_dir)
        );
        Ok(if played.verdict().void.is_some() {
            Exit::NotDecided
        } else {
            Exit::Ok
        })
    })
}

/// The runs of a bracket (`bracket --workers N`), each played as `workers` processes: a match's
/// teams as a split match, a sequential match's single team as a split run. Each team's results
/// are merged into its directory of the match, so the bracket judges and journals them as usual;
/// the workers' own results stay beside them (`segments/`, `segments-<team>/`).
pub struct WorkersExecutor {
    workers: u32,
    scenario: PathBuf,
    options: LowerOptions,
    source_ips: Vec<IpAddr>,
    feed: watch::Sender<Snapshot>,
    cut: CancellationToken,
}

impl WorkersExecutor {
    /// Plays with `workers` processes, from the bracket's `scenario` file lowered with `options`.
    pub fn new(
        workers: u32,
        scenario: PathBuf,
        options: LowerOptions,
        source_ips: Vec<IpAddr>,
        feed: watch::Sender<Snapshot>,
        cut: CancellationToken,
    ) -> WorkersExecutor {
        WorkersExecutor {
            workers,
            scenario,
            options,
            source_ips,
            feed,
            cut,
        }
    }
}

impl Executor for WorkersExecutor {
    async fn check(&self, target: &crate::engine::Target) -> Result<(), String> {
        crate::runner::check_target(target).await
    }

    async fn execute(
        &mut self,
        plan: Arc<LoadPlan>,
        destinations: &[Destination],
        interrupt: CancellationToken,
    ) -> Result<Vec<Written>, RunnerError> {
        let Some(first) = destinations.first() else {
            return Ok(Vec::new());
        };
        let match_dir = first.dir.parent().unwrap_or(&first.dir).to_path_buf();
        let (mut args, out_dir): (Vec<OsString>, PathBuf) = if let [one] = destinations {
            let name = one.team.clone().unwrap_or_else(|| one.target.name.clone());
            (
                vec![
                    "run".into(),
                    "--target".into(),
                    one.target.url.clone().into(),
                ],
                match_dir.join(format!("segments-{name}")),
            )
        } else {
            let mut args: Vec<OsString> =
                vec!["match".into(), "--mode".into(), "concurrent".into()];
            for d in destinations {
                let name = d.team.clone().unwrap_or_else(|| d.target.name.clone());
                args.extend(["--team".into(), format!("{name}={}", d.target.url).into()]);
            }
            (args, match_dir.clone())
        };
        args.extend(plan_args(&self.scenario, &self.options, plan.seed));
        let job = Job {
            out_dir: out_dir.clone(),
            start_at: None,
            args,
            source_ips: self.source_ips.clone(),
            loopback: destinations.iter().all(|d| is_loopback_url(&d.target.url)),
        };
        let present = run_workers(&job, self.workers, &self.feed, &interrupt, &self.cut)
            .await
            .map_err(|e| RunnerError::Workers(e.to_string()))?;
        let mut written = Vec::new();
        for d in destinations {
            let sub = if destinations.len() == 1 {
                PathBuf::new()
            } else {
                PathBuf::from(d.team.clone().unwrap_or_else(|| d.target.name.clone()))
            };
            let runs = present
                .iter()
                .map(|p| crate::merge::load_segment(&p.join(&sub)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| RunnerError::Workers(e.to_string()))?;
            let (runs, missing) = crate::merge::check_segments(runs, true)
                .map_err(|e| RunnerError::Workers(e.to_string()))?;
            let (mut summary, hlog) = crate::merge::merge_runs(&runs, &missing);
            summary.team = d.team.clone();
            let files = crate::report::write_run(&d.dir, &summary, &hlog)?;
            written.push(Written { summary, files });
        }
        Ok(written)
    }
}

/// The flags that lower the plan, as given (the scenario, time scale, user cap) and with the seed
/// it was lowered with, so a scenario's own seed and a --seed agree in every worker.
fn plan_args(scenario: &Path, options: &LowerOptions, seed: u64) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "--scenario".into(),
        scenario.as_os_str().to_owned(),
        "--time-scale".into(),
        options.time_scale.to_string().into(),
        "--seed".into(),
        seed.to_string().into(),
    ];
    if let Some(n) = options.max_users {
        args.extend(["--max-users".into(), n.to_string().into()]);
    }
    args
}

/// Runs the workers of `job` with a live view titled `title` and signal handling of their own
/// (a split run or match; a bracket's workers share the bracket's).
async fn in_session(
    job: &Job,
    workers: u32,
    title: String,
    view: View,
    metrics: Option<MetricsListener>,
) -> Result<Vec<PathBuf>, CliError> {
    let session = Session::start(
        title,
        view,
        None,
        &StopControl::default(),
        STOPPING,
        metrics,
    );
    let present = run_workers(
        job,
        workers,
        &session.feed,
        &session.interrupt,
        &session.stop.cut,
    )
    .await;
    session.finish().await;
    present
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback())
}

/// The same for the engine's comma-separated instance list: every instance on loopback.
fn is_loopback_url(urls: &str) -> bool {
    urls.split(',')
        .all(|u| reqwest::Url::parse(u.trim()).is_ok_and(|u| is_loopback(&u)))
}

/// Starts the workers, feeds their combined progress to `feed`, passes stops on (`interrupt`:
/// in order, `cut`: at once), waits for them, and returns the directories of those that wrote
/// results (the others are reported on stderr).
async fn run_workers(
    job: &Job,
    workers: u32,
    feed: &watch::Sender<Snapshot>,
    interrupt: &CancellationToken,
    cut: &CancellationToken,
) -> Result<Vec<PathBuf>, CliError> {
    crate::runner::ensure_writable(&job.out_dir).map_err(crate::runner::RunnerError::from)?;
    let start_at = job.start_at.unwrap_or_else(|| SystemTime::now() + STARTUP);
    let exe = std::env::current_exe().map_err(|e| {
        CliError::Environment(format!(
            "cannot find this program to start its workers: {e}"
        ))
    })?;
    let mut children = Vec::new();
    for index in 0..workers {
        let dir = segment_dir(&job.out_dir, index);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Environment(format!("cannot create {}: {e}", dir.display())))?;
        let sources = sources_of(&job.source_ips, index, workers, job.loopback);
        children.push(spawn(
            &exe, &job.args, index, workers, start_at, &dir, &sources,
        )?);
    }
    eprintln!(
        "{workers} workers started, the run begins at {}; their results go in {}",
        crate::runner::rfc3339(start_at),
        job.out_dir.join("segments").display()
    );

    let pids: Vec<Option<u32>> = children.iter().map(|c| c.id()).collect();
    let forward = tokio::spawn(forward_stops(pids, interrupt.clone(), cut.clone()));
    let statuses = feed_and_wait(children, feed.clone()).await;
    forward.abort();

    let mut present = Vec::new();
    for (index, status) in statuses.iter().enumerate() {
        let dir = segment_dir(&job.out_dir, index as u32);
        let log = dir.join("worker.log");
        let wrote = std::fs::read_dir(&dir).is_ok_and(|mut entries| {
            entries.any(|e| {
                e.is_ok_and(|e| {
                    let p = e.path();
                    p.join(crate::report::write::SUMMARY_JSON).exists()
                        || p.file_name()
                            .is_some_and(|n| n == crate::report::write::SUMMARY_JSON)
                })
            })
        });
        match status {
            Ok(code) if wrote && *code != 3 => present.push(dir),
            Ok(code) => eprintln!(
                "worker {index} ended with exit code {code}{}; see {}",
                if wrote { "" } else { " without results" },
                log.display()
            ),
            Err(e) => eprintln!("worker {index} died: {e}; see {}", log.display()),
        }
    }
    if present.is_empty() {
        return Err(CliError::Environment(format!(
            "no worker wrote results; see the worker.log files under {}",
            job.out_dir.join("segments").display()
        )));
    }
    Ok(present)
}

/// The source addresses worker `index` of `workers` opens its connections from: its share of the
/// addresses given, or on loopback (where any 127.x.y.z will do) an address of its own, so the
/// workers together hold far more than one address pair's ~28,000 connections.
fn sources_of(given: &[IpAddr], index: u32, workers: u32, loopback: bool) -> Vec<IpAddr> {
    if given.len() >= workers as usize {
        // Enough addresses for every worker to have its own: every `workers`-th one.
        return given
            .iter()
            .skip(index as usize)
            .step_by(workers as usize)
            .copied()
            .collect();
    }
    if !given.is_empty() {
        return vec![given[index as usize % given.len()]];
    }
    if loopback {
        // 127.0.1.1, 127.0.1.2, …: clear of 127.0.0.1, where the target may listen.
        let n = index + 1;
        return vec![IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            1 + (n / 250) as u8,
            (n % 250) as u8 + 1,
        ))];
    }
    Vec::new()
}

fn spawn(
    exe: &Path,
    args: &[OsString],
    index: u32,
    workers: u32,
    start_at: SystemTime,
    dir: &Path,
    sources: &[IpAddr],
) -> Result<Child, CliError> {
    let start = start_at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .args(["--segment", &format!("{index}/{workers}")])
        .args(["--start-at", &format!("{start:.3}")])
        .arg("--out")
        .arg(dir)
        .args(["--no-tui", "--progress-json"]);
    if !sources.is_empty() {
        let list: Vec<String> = sources.iter().map(IpAddr::to_string).collect();
        cmd.args(["--source-ips", &list.join(",")]);
    }
    // Flags only: a worker must not pick up this shell's STAMPEDE_* settings a second time.
    for (key, _) in std::env::vars() {
        if key.starts_with("STAMPEDE_") {
            cmd.env_remove(key);
        }
    }
    let log = std::fs::File::create(dir.join("worker.log")).map_err(|e| {
        CliError::Environment(format!(
            "cannot create {}: {e}",
            dir.join("worker.log").display()
        ))
    })?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    cmd.spawn()
        .map_err(|e| CliError::Environment(format!("cannot start worker {index}: {e}")))
}

/// Feeds the view with the workers' combined snapshots until every worker has ended; returns each
/// worker's exit code (or why it has none).
async fn feed_and_wait(
    children: Vec<Child>,
    tx: watch::Sender<Snapshot>,
) -> Vec<Result<i32, String>> {
    let n = children.len();
    let (parts_tx, parts_rx) = watch::channel(vec![Snapshot::default(); n]);
    let parts_tx = Arc::new(parts_tx);
    let mut waits = Vec::new();
    for (index, mut child) in children.into_iter().enumerate() {
        let stdout = child.stdout.take();
        let parts = Arc::clone(&parts_tx);
        waits.push(tokio::spawn(async move {
            if let Some(stdout) = stdout {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(snap) = serde_json::from_str::<Snapshot>(&line) {
                        parts.send_modify(|all| all[index] = snap);
                    }
                }
            }
            match child.wait().await {
                Ok(status) => status
                    .code()
                    .ok_or_else(|| format!("stopped by a signal ({status})")),
                Err(e) => Err(e.to_string()),
            }
        }));
    }
    let combiner = tokio::spawn({
        let mut parts_rx = parts_rx;
        async move {
            let mut tick = tokio::time::interval(COMBINE_EVERY);
            loop {
                tick.tick().await;
                let snap = {
                    let parts = parts_rx.borrow_and_update();
                    let mut snap = combine(&parts);
                    snap.done = false;
                    snap
                };
                tx.send_replace(snap);
                if parts_rx.has_changed().is_err() {
                    // The feed outlives these workers (a bracket plays more matches): whoever owns
                    // it ends the view.
                    let mut last = combine(&parts_rx.borrow());
                    last.done = false;
                    tx.send_replace(last);
                    return;
                }
            }
        }
    });
    let mut statuses = Vec::new();
    for w in waits {
        statuses.push(w.await.unwrap_or_else(|e| Err(e.to_string())));
    }
    drop(parts_tx);
    let _ = combiner.await;
    statuses
}

/// Passes a stop on to the workers: SIGTERM to each when the run is interrupted (they stop in
/// order), and again when it is cut (they stop at once).
async fn forward_stops(
    pids: Vec<Option<u32>>,
    interrupt: CancellationToken,
    cut: CancellationToken,
) {
    interrupt.cancelled().await;
    terminate(&pids);
    cut.cancelled().await;
    terminate(&pids);
}

#[cfg(unix)]
fn terminate(pids: &[Option<u32>]) {
    use rustix::process::{Pid, Signal, kill_process};
    for pid in pids.iter().flatten() {
        if let Some(pid) = i32::try_from(*pid).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::TERM);
        }
    }
}

#[cfg(not(unix))]
fn terminate(_pids: &[Option<u32>]) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_their_own_source_addresses() {
        assert_eq!(
            sources_of(&[], 0, 4, true),
            vec!["127.0.1.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            sources_of(&[], 3, 4, true),
            vec!["127.0.1.5".parse::<IpAddr>().unwrap()]
        );
        assert!(sources_of(&[], 0, 4, false).is_empty());
        let given: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(sources_of(&given, 1, 2, false), vec![given[1], given[3]]);
        // More workers than addresses: they share.
        assert_eq!(sources_of(&given[..1], 3, 4, false), vec![given[0]]);
    }
}
