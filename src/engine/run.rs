//! The ramp controller and the run's lifecycle.
//!
//! One loop walks the plan in time order: it opens each level, starts each arrival's VUs (one per
//! team, the team order rotating with every arrival so that no team gets the generator first), and
//! closes each level with the gauges read at that instant. Beside it run the aggregator (ticks,
//! seconds, snapshots, the generator's self-check) and the delivery sweeper. At the end of the plan,
//! or on interrupt, every VU is stopped, given a grace period to close its socket, and the measurements
//! are handed back — an interrupted run returns results too, marked partial.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::delivery::DeliveryTracker;
use super::plan::LoadPlan;
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
    let deadline_micros = plan.delivery_deadline.as_micros() as u64;
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
                tracker: DeliveryTracker::new(vus, deadline_micros),
            })
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let stop = CancellationToken::new();
    let ctx = Arc::new(RunCtx {
        plan: Arc::clone(&plan),
        teams,
        nonce: nonce(),
        stop: stop.clone(),
        source_ips: options.source_ips,
    });

    let started_at = SystemTime::now();
    let start = Instant::now();
    let hub = Hub::starting_at(targets.len(), start);
    let infos: Vec<TeamInfo> = targets
        .iter()
        .map(|t| TeamInfo {
            name: t.name.clone(),
            target: t.url.clone(),
        })
        .collect();
    let aggregator = Aggregator::new(Arc::clone(&hub), infos, plan.levels.clone(), plan.duration);
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

    // Stop every VU and let them close their sockets.
    stop.cancel();
    vus_tracker.close();
    let _ = tokio::time::timeout(STOP_GRACE, vus_tracker.wait()).await;

    // Expectations whose deadline passed are judged by a last sweep; later ones cannot be, and are
    // left out. Only then does the aggregator take its final drain.
    sweep_stop.cancel();
    let _ = sweep_task.await;
    agg_stop.cancel();
    let teams = agg_task.await.unwrap_or_default();
    Ok(RunOutcome {
        teams,
        started_at,
        elapsed,
        interrupted,
    })
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
            next_arrival += 1;
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

/// Turns expectations past their deadline into `delivery_missing` findings.
async fn sweep(ctx: Arc<RunCtx>, hub: Arc<Hub>, stop: CancellationToken) {
    let recorders: Vec<_> = (0..ctx.teams.len())
        .map(|t| hub.recorder(t as u16, 0))
        .collect();
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        let last = tokio::select! {
            () = stop.cancelled() => true,
            _ = ticker.tick() => false,
        };
        let now = hub.start().elapsed().as_micros() as u64;
        for (team, rec) in ctx.teams.iter().zip(&recorders) {
            for m in team.tracker.sweep(now) {
                rec.finding_in(m.level, Op::Delivery, FailureKind::DeliveryMissing, || {
                    format!(
                        "vu {} never received message {} of vu {} within {} ms",
                        m.recipient,
                        m.seq,
                        m.sender,
                        ctx.plan.delivery_deadline.as_millis()
                    )
                });
            }
        }
        if last {
            break;
        }
    }
}

/// A short random tag that keeps this run's users, rooms and markers apart from any other run's.
fn nonce() -> String {
    format!("{:08x}", rand::random::<u32>())
}
