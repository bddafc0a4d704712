//! The ramp controller and the run's lifecycle.
//!
//! One loop walks the plan in time order: it opens each level, starts each arrival's VUs (one per
//! team, the team order rotating with every arrival so that no team gets the generator first), and
//! closes each level with the gauges read at that instant. Beside it run the aggregator (ticks,
//! seconds, snapshots, the generator's self-check) and the sweeper, which turns expectations past
//! their deadline into findings.
//!
//! A run ends in three stages, whether the plan is over or it was interrupted:
//! 1. **stop**: VUs stop starting steps and sending, but every connected member keeps reading;
//! 2. **drain**: the run waits until everything other members await (deliveries, read receipts,
//!    reaction updates, the senders' echoes) has arrived or passed its deadline — at most the longest
//!    verification deadline — so that every message sent, up to the last second, is judged. A cut
//!    ([`StopControl::cut`], the second Ctrl-C or SIGTERM) ends the drain at once;
//! 3. **judge and close**: what passed its deadline is missing, what was still awaited (only after a
//!    cut) is `unjudged`, counted apart and never as delivered or missing; then sockets close.
//!
//! The measurements are handed back in every case — an interrupted run returns results too, marked
//! partial.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::delivery::{DeliveryTracker, Missing};
use super::expect::{Judged, Members};
use super::plan::LoadPlan;
use super::receipts::{ReactionTracker, ReadTracker};
use super::rooms::RoomDirectory;
use super::vu::{RunCtx, TeamCtx, run_vu};
use crate::client::HttpPool;
use crate::metrics::health::HealthTracker;
use crate::metrics::{
    Aggregator, FailureKind, GaugeValues, Hub, Op, Snapshot, TeamInfo, TeamResult,
};

/// Aggregator tick: how often events are drained and a snapshot is published.
const TICK: Duration = Duration::from_millis(250);

/// Ticks per timeline interval (one second).
const TICKS_PER_INTERVAL: u32 = 4;

/// How long VUs get to close their sockets once the run ends.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How long VUs get to close their sockets after a cut: the user asked for an end at once.
const CUT_GRACE: Duration = Duration::from_secs(2);

/// How often the drain checks whether anything is still awaited.
const DRAIN_POLL: Duration = Duration::from_millis(100);

/// Added to the longest verification deadline to bound the drain: expectations registered just
/// before the stop are past their deadline by then, and their misses are counted.
const DRAIN_MARGIN: Duration = Duration::from_millis(500);

/// A target of the run: a team's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Team name (for a plain run, the target's host:port).
    pub name: String,
    /// Base URL, `http://host:port`; or the base URLs of several instances of one deployment,
    /// comma-separated, which the team's VUs are spread over round-robin (VU `i` uses instance
    /// `i mod n` for REST and its socket), so deliveries are verified across instances.
    pub url: String,
}

impl Target {
    /// Each instance's base URL: `url` may list several instances of one deployment, comma-separated.
    pub fn instances(&self) -> impl Iterator<Item = &str> {
        self.url
            .split(',')
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| !u.is_empty())
    }
}

/// Engine settings that are not part of the plan.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Local addresses to spread connections over (more than ~28k sockets per address pair).
    pub source_ips: Vec<IpAddr>,
    /// The second stage of stopping a run from outside, and why it was stopped.
    pub stop: StopControl,
    /// When the run starts, wall-clock: every segment of a split plan is given the same instant, and
    /// times its plan from it. `None` starts now.
    pub start_at: Option<SystemTime>,
}

/// What the outside world can say to a run besides its interrupt token (which starts an orderly
/// stop): end the drain at once, and why the run was stopped. Clones share the same state, so one
/// control serves every run of a match or bracket.
#[derive(Debug, Clone, Default)]
pub struct StopControl {
    /// Cancelled to end the drain at once (the second Ctrl-C, SIGTERM or SIGHUP): what was still
    /// awaited is reported as unjudged.
    pub cut: CancellationToken,
    /// Why the run was interrupted (`Ctrl-C`, `SIGTERM`, `q in the scoreboard`): set once, by whoever
    /// interrupted it first.
    pub reason: Arc<OnceLock<String>>,
}

impl StopControl {
    /// Records why the run is being stopped, unless a reason was recorded already.
    pub fn set_reason(&self, reason: &str) {
        let _ = self.reason.set(reason.to_owned());
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// One result per target, in target order.
    pub teams: Vec<TeamResult>,
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// How long the run lasted.
    pub elapsed: Duration,
    /// True when interrupted before the plan's end.
    pub interrupted: bool,
    /// True when the drain was cut short, so some expectations were left unjudged.
    pub cut: bool,
    /// Why the run was interrupted, when it was and someone said.
    pub interrupted_by: Option<String>,
    /// How late the run started after its `start_at` (zero without one, or when on time).
    pub started_late: Duration,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A run needs at least one target.
    #[error("no target given")]
    NoTargets,
    /// The HTTP client could not be built for a target.
    #[error("cannot set up a client for {target}: {reason}")]
    Client {
        /// The target URL.
        target: String,
        /// What failed.
        reason: String,
    },
}

/// What the ramp controller tells the aggregator about levels.
enum LevelMsg {
    Open(u32),
    Close {
        index: u32,
        at: Duration,
        gauges: Vec<GaugeValues>,
        incomplete: bool,
    },
}

/// Runs `plan` against every target at once and returns the measurements. `interrupt` ends the run
/// early (results are still returned, marked interrupted). Snapshots are published on `snapshots`.
pub async fn run(
    plan: Arc<LoadPlan>,
    targets: &[Target],
    options: EngineOptions,
    interrupt: CancellationToken,
    snapshots: watch::Sender<Snapshot>,
) -> Result<RunOutcome, EngineError> {
    if targets.is_empty() {
        return Err(EngineError::NoTargets);
    }
    let vus = plan.arrivals.len();
    let micros = |d: Duration| d.as_micros() as u64;
    let teams = targets
        .iter()
        .map(|t| {
            Ok(TeamCtx {
                http: HttpPool::new(&t.url, &options.source_ips).map_err(|reason| {
                    EngineError::Client {
                        target: t.url.clone(),
                        reason,
                    }
                })?,
                rooms: RoomDirectory::default(),
                members: Members::new(vus),
                deliveries: DeliveryTracker::new(micros(plan.conduct.verify.delivery_deadline)),
                reads: ReadTracker::new(micros(plan.conduct.verify.receipt_deadline)),
                reactions: ReactionTracker::new(micros(plan.conduct.verify.receipt_deadline)),
                echoes_awaited: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let stop = CancellationToken::new();
    let close = CancellationToken::new();
    let ctx = Arc::new(RunCtx {
        plan: Arc::clone(&plan),
        teams,
        nonce: nonce(&plan, options.start_at),
        stop: stop.clone(),
        close: close.clone(),
        source_ips: options.source_ips,
        held: RunCtx::held_of(&plan),
    });

    // A run given a start time waits for it; one that got there late times its plan from that
    // instant all the same (its first arrivals are then due at once), so that the segments of a
    // plan keep their levels aligned, and says how late it was.
    let (started_at, start, started_late) = match options.start_at {
        None => (SystemTime::now(), Instant::now(), Duration::ZERO),
        Some(at) => {
            let wait = at
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            tokio::select! {
                () = interrupt.cancelled() => {}
                () = tokio::time::sleep(wait) => {}
            }
            let late = SystemTime::now()
                .duration_since(at)
                .unwrap_or(Duration::ZERO);
            (at, Instant::now() - late, late)
        }
    };
    let hub = Hub::starting_at(targets.len(), start);
    let infos: Vec<TeamInfo> = targets
        .iter()
        .map(|t| TeamInfo {
            name: t.name.clone(),
            target: t.url.clone(),
        })
        .collect();
    let aggregator = Aggregator::new(
        Arc::clone(&hub),
        infos,
        plan.levels.clone(),
        plan.duration,
        plan.conduct.verify.late_after,
    );
    let (level_tx, level_rx) = mpsc::unbounded_channel();
    let agg_stop = CancellationToken::new();
    let sweep_stop = CancellationToken::new();
    let agg_task = tokio::spawn(aggregate(
        aggregator,
        Arc::clone(&hub),
        level_rx,
        snapshots,
        agg_stop.clone(),
    ));
    let sweep_task = tokio::spawn(sweep(
        Arc::clone(&ctx),
        Arc::clone(&hub),
        sweep_stop.clone(),
    ));

    let vus_tracker = TaskTracker::new();
    let interrupted = ramp(&ctx, &hub, &level_tx, &vus_tracker, &interrupt, start).await;

    // The level in force ends here; read its gauges before VUs start leaving.
    let elapsed = start.elapsed();
    let gauges = (0..targets.len()).map(|t| hub.gauges(t).read()).collect();
    let _ = level_tx.send(LevelMsg::Close {
        index: hub.level(),
        at: elapsed.min(plan.duration),
        gauges,
        incomplete: interrupted,
    });
    drop(level_tx);

    // The load stops; members keep reading until everything they await is judged.
    hub.set_draining();
    stop.cancel();
    let cut = drain(&ctx, &hub, &options.stop.cut).await;

    // Judge: a last sweep counts what passed its deadline as missing; what is still awaited could
    // not be judged. Members are still connected and alive here, so nothing is excused by the close.
    judge(&ctx, &hub);
    close.cancel();
    vus_tracker.close();
    let grace = if cut { CUT_GRACE } else { STOP_GRACE };
    let _ = tokio::time::timeout(grace, vus_tracker.wait()).await;

    // Only then does the aggregator take its final drain.
    sweep_stop.cancel();
    let _ = sweep_task.await;
    agg_stop.cancel();
    let teams = agg_task.await.unwrap_or_default();
    Ok(RunOutcome {
        teams,
        started_at,
        elapsed,
        interrupted,
        cut,
        interrupted_by: interrupted
            .then(|| options.stop.reason.get().cloned())
            .flatten(),
        started_late,
    })
}

/// Waits until nothing is awaited any more (every expectation met or past its deadline, every echo
/// back or past its step budget), or the longest of those deadlines (plus a margin) has passed, or
/// `cut` fires. Returns true when cut.
async fn drain(ctx: &Arc<RunCtx>, hub: &Arc<Hub>, cut: &CancellationToken) -> bool {
    let recorders = recorders(ctx, hub);
    // An echo is judged by its sender's step budget, which may be longer than any push deadline:
    // waiting less would close sockets on echoes that could still come back in time.
    let longest = ctx
        .plan
        .conduct
        .verify
        .longest_deadline()
        .max(ctx.plan.conduct.step_timeout);
    let until = tokio::time::Instant::now() + longest + DRAIN_MARGIN;
    loop {
        // Sweeping here (as well as in the sweeper) makes the count exact at this instant.
        let awaited = sweep_once(ctx, hub, &recorders)
            + ctx
                .teams
                .iter()
                .map(|t| t.echoes_awaited.load(Ordering::Relaxed))
                .sum::<u64>();
        if awaited == 0 {
            return false;
        }
        tokio::select! {
            () = cut.cancelled() => return true,
            () = tokio::time::sleep(DRAIN_POLL) => {}
        }
        if tokio::time::Instant::now() >= until {
            return cut.is_cancelled();
        }
    }
}

/// The end of verification: a last sweep, then whatever is still awaited is recorded as unjudged
/// in the level it was sent in. After a full drain nothing is left here (everything met its
/// deadline); after a cut, whatever was still within its deadline is.
fn judge(ctx: &Arc<RunCtx>, hub: &Arc<Hub>) {
    let recorders = recorders(ctx, hub);
    sweep_once(ctx, hub, &recorders);
    for ((i, team), rec) in ctx.teams.iter().enumerate().zip(&recorders) {
        let unjudged: [(Op, Judged); 3] = [
            (Op::Delivery, team.deliveries.take_unjudged(&team.members)),
            (Op::Receipt, team.reads.take_unjudged(&team.members)),
            (
                Op::ReactionUpdate,
                team.reactions.take_unjudged(&team.members),
            ),
        ];
        for (op, judged) in unjudged {
            for (level, &n) in judged.by_level.iter().enumerate() {
                rec.unjudged_in(level as u32, op, n);
            }
        }
        hub.set_pending(i, Vec::new());
    }
}

/// Starts VUs on schedule and moves through the levels. Returns true when interrupted.
async fn ramp(
    ctx: &Arc<RunCtx>,
    hub: &Arc<Hub>,
    levels: &mpsc::UnboundedSender<LevelMsg>,
    vus: &TaskTracker,
    interrupt: &CancellationToken,
    start: Instant,
) -> bool {
    let plan = &ctx.plan;
    let teams = ctx.teams.len();
    let mut next_arrival = 0;
    let at = |d: Duration| tokio::time::Instant::from_std(start + d);
    for (i, span) in plan.levels.iter().enumerate() {
        hub.set_level(span.index);
        let _ = levels.send(LevelMsg::Open(span.index));
        while let Some(arrival) = plan.arrivals.get(next_arrival) {
            if arrival.at >= span.end && i + 1 < plan.levels.len() {
                break;
            }
            next_arrival += 1;
            if !ctx.holds(arrival.vu) {
                // Another segment starts this one.
                continue;
            }
            tokio::select! {
                () = interrupt.cancelled() => return true,
                () = tokio::time::sleep_until(at(arrival.at)) => {}
            }
            for k in 0..teams {
                let team = ((arrival.vu as usize + k) % teams) as u16;
                let mut rec = hub.recorder(team, arrival.vu);
                rec.mark_started();
                vus.spawn(run_vu(Arc::clone(ctx), team, arrival.vu, arrival.flow, rec));
            }
        }
        let end = if i + 1 == plan.levels.len() {
            plan.duration
        } else {
            span.end
        };
        tokio::select! {
            () = interrupt.cancelled() => return true,
            () = tokio::time::sleep_until(at(end)) => {}
        }
        if i + 1 < plan.levels.len() {
            let gauges = (0..teams).map(|t| hub.gauges(t).read()).collect();
            let _ = levels.send(LevelMsg::Close {
                index: span.index,
                at: end,
                gauges,
                incomplete: false,
            });
        }
    }
    false
}

/// The aggregator task: drains every tick, closes a second every [`TICKS_PER_INTERVAL`] ticks,
/// publishes snapshots, and finishes when `stop` fires.
async fn aggregate(
    mut agg: Aggregator,
    hub: Arc<Hub>,
    mut levels: mpsc::UnboundedReceiver<LevelMsg>,
    snapshots: watch::Sender<Snapshot>,
    stop: CancellationToken,
) -> Vec<TeamResult> {
    let mut health = HealthTracker::new();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut ticks = 0u32;
    let start = hub.start();
    loop {
        tokio::select! {
            biased;
            Some(msg) = levels.recv() => match msg {
                LevelMsg::Open(i) => agg.open_level(i),
                LevelMsg::Close { index, at, gauges, incomplete } => {
                    agg.drain();
                    agg.close_level(index, at, &gauges, incomplete);
                }
            },
            () = stop.cancelled() => break,
            scheduled = ticker.tick() => {
                // How late this tick fired is the scheduler lag every VU timer suffers too.
                health.record_lag(tokio::time::Instant::now().saturating_duration_since(scheduled));
                ticks += 1;
                agg.drain();
                if ticks.is_multiple_of(TICKS_PER_INTERVAL) {
                    let h = health.close_interval();
                    agg.close_interval(start.elapsed(), h, health.bottleneck_now());
                }
                snapshots.send_replace(agg.snapshot(start.elapsed(), false));
            }
        }
    }
    let end = start.elapsed();
    let last = health.close_interval();
    let verdict = health.verdict();
    let results = agg.finish(end, last, &verdict);
    // The final snapshot, so views can show the end state.
    let mut done = Snapshot {
        elapsed: end,
        done: true,
        ..snapshots.borrow().clone()
    };
    done.generator.bottleneck = verdict.bottleneck;
    snapshots.send_replace(done);
    results
}

/// The sweeper task: turns expectations past their deadline into findings every tick.
async fn sweep(ctx: Arc<RunCtx>, hub: Arc<Hub>, stop: CancellationToken) {
    let recorders = recorders(&ctx, &hub);
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = ticker.tick() => {}
        }
        sweep_once(&ctx, &hub, &recorders);
    }
}

/// One recorder per team for findings that belong to no VU of the finder's own.
fn recorders(ctx: &RunCtx, hub: &Arc<Hub>) -> Vec<crate::metrics::Recorder> {
    (0..ctx.teams.len())
        .map(|t| hub.recorder(t as u16, 0))
        .collect()
}

/// Sweeps every tracker of every team once: records what passed its deadline as missing (in the
/// level it was sent in), publishes what is still pending per level, and returns how many
/// expectations are still awaited over all teams.
fn sweep_once(ctx: &RunCtx, hub: &Hub, recorders: &[crate::metrics::Recorder]) -> u64 {
    let now = hub.start().elapsed().as_micros() as u64;
    let v = &ctx.plan.conduct.verify;
    let mut awaited = 0;
    for ((i, team), rec) in ctx.teams.iter().enumerate().zip(recorders) {
        let mut pending = Judged::default();
        let sweeps = [
            (
                team.deliveries.sweep(now, &team.members),
                Op::Delivery,
                FailureKind::DeliveryMissing,
                v.delivery_deadline,
            ),
            (
                team.reads.sweep(now, &team.members),
                Op::Receipt,
                FailureKind::ReceiptMissing,
                v.receipt_deadline,
            ),
            (
                team.reactions.sweep(now, &team.members),
                Op::ReactionUpdate,
                FailureKind::ReactionMissing,
                v.receipt_deadline,
            ),
        ];
        for (sweep, op, kind, deadline) in sweeps {
            for m in &sweep.missing {
                rec.finding_in(m.level, op, kind, || missing_text(kind, m, deadline));
            }
            pending.merge(&sweep.pending);
        }
        awaited += pending.total();
        hub.set_pending(i, pending.by_level);
    }
    awaited
}

/// The sample message of a miss found by a sweep.
fn missing_text(kind: FailureKind, m: &Missing, deadline: Duration) -> String {
    let ms = deadline.as_millis();
    match kind {
        FailureKind::ReceiptMissing => format!(
            "vu {} was never told (messagesRead) what vu {} read in its mark {} within {ms} ms",
            m.recipient, m.sender, m.seq
        ),
        FailureKind::ReactionMissing => format!(
            "vu {} never saw reaction {} of vu {} (messageReactionUpdate) within {ms} ms",
            m.recipient, m.seq, m.sender
        ),
        _ => format!(
            "vu {} never received message {} of vu {} within {ms} ms",
            m.recipient, m.seq, m.sender
        ),
    }
}

/// A short tag that keeps this run's users, rooms and markers apart from any other run's: random,
/// except for the segments of a split plan, which must agree on it (their rooms are shared, and a
/// marker from another segment must be recognised): there it derives from the plan and its start.
fn nonce(plan: &LoadPlan, start_at: Option<SystemTime>) -> String {
    match (plan.segment, start_at) {
        (Some(_), Some(at)) => {
            let since = at
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default();
            let seed = format!("{}@{}", plan.fingerprint(), since.as_millis());
            format!("{:08x}", super::receipts::id_hash(&seed) as u32)
        }
        _ => format!("{:08x}", rand::random::<u32>()),
    }
}
