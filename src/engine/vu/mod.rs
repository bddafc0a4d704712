//! One virtual user: a task that walks its flow step by step, then holds its session.
//!
//! Whatever step it is on, a connected VU keeps serving its socket: it answers pings, timestamps
//! every `message`, `messagesRead` and `messageReactionUpdate` the moment it is read (so latency never
//! includes time spent waiting for the VU's own REST call), checks its own echoes against their
//! deadlines and reports what it received to the team's trackers. The first failure ends the VU, as in
//! the competition; the end of the run (or an interrupt) stops it without counting against it: it
//! stops stepping, keeps reading while the run drains, and closes its socket when the run closes.
//!
//! # Layout
//! - this file: the shared state ([`RunCtx`], [`TeamCtx`]), one VU's own state, [`run_vu`] (the
//!   step loop, the drain, the end), and the step dispatch;
//! - `socket`: serving the socket while waiting, and handling every event as its frame is read;
//! - `chat`: the socket steps (connect, join, history, paced sends, reactions, read marks, AI);
//! - `rest`: the REST steps (sign-up, rooms, uploads).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::time::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

use std::sync::atomic::{AtomicU64, Ordering};

mod chat;
mod rest;
mod socket;

use super::delivery::DeliveryTracker;
use super::expect::Members;
use super::plan::{LoadPlan, Step};
use super::receipts::{ReactionTracker, ReadTracker};
use super::rooms::RoomDirectory;
use crate::client::{Authed, Failure, HttpPool, Joined, SioSocket};
use crate::metrics::{FailureKind, Op, Recorder};

/// Unread message ids kept for `markMessagesAsRead` (the UI marks what is on screen; 30 is one page).
const UNREAD_KEPT: usize = 30;

/// Everything one team's VUs share.
#[derive(Debug)]
pub struct TeamCtx {
    /// HTTP clients for the team's target.
    pub http: HttpPool,
    /// Rooms and members.
    pub rooms: RoomDirectory,
    /// Which VUs can still receive.
    pub members: Members,
    /// Outstanding chat deliveries.
    pub deliveries: DeliveryTracker,
    /// Outstanding read receipts.
    pub reads: ReadTracker,
    /// Outstanding reaction updates.
    pub reactions: ReactionTracker,
    /// Sends whose own echo is still awaited, over every VU of the team (the drain waits for them).
    pub echoes_awaited: AtomicU64,
}

/// Everything all VUs of a run share.
#[derive(Debug)]
pub struct RunCtx {
    /// The plan being run.
    pub plan: Arc<LoadPlan>,
    /// Per-team state, indexed by team.
    pub teams: Vec<TeamCtx>,
    /// Random tag of this run: in e-mails, room names and delivery markers, so runs never collide.
    pub nonce: String,
    /// Fired at the end of the load or on interrupt: every VU stops stepping and sending, and keeps
    /// reading until `close`.
    pub stop: CancellationToken,
    /// Fired once the run has judged what it awaited: every VU closes its socket and ends.
    pub close: CancellationToken,
    /// Local addresses to spread sockets over; empty for the default.
    pub source_ips: Vec<IpAddr>,
    /// In a segment of a split plan, which of the plan's VUs it runs (by VU index); `None` runs all.
    /// Worked out once: every copy of a message a member receives is checked against it.
    pub held: Option<Box<[bool]>>,
}

impl RunCtx {
    /// Which VUs of `plan` this process runs: `None` for a whole plan.
    pub fn held_of(plan: &LoadPlan) -> Option<Box<[bool]>> {
        let segment = plan.segment?;
        let mut held = vec![false; plan.arrivals.len()];
        for a in &plan.arrivals {
            if let Some(h) = held.get_mut(a.vu as usize) {
                *h = segment.holds(plan, a.vu);
            }
        }
        Some(held.into_boxed_slice())
    }

    /// True when this process runs VU `vu` (always, for a whole plan).
    pub fn holds(&self, vu: u32) -> bool {
        self.held
            .as_ref()
            .is_none_or(|h| h.get(vu as usize).copied().unwrap_or(false))
    }
}

/// Why a VU stopped before finishing its flow.
#[derive(Debug)]
enum Halt {
    /// The run ended; not the VU's fault.
    Stopped,
    /// A step failed.
    Failed(Op, Failure),
}

type StepResult<T = ()> = Result<T, Halt>;

fn failed(op: Op, f: Failure) -> Halt {
    Halt::Failed(op, f)
}

fn timed_out(op: Op, budget: Duration) -> Halt {
    Halt::Failed(
        op,
        Failure::new(
            FailureKind::Timeout,
            format!("{} took longer than {} ms", op.name(), budget.as_millis()),
        ),
    )
}

/// A sent message waiting for its own echo.
#[derive(Debug, Clone, Copy)]
struct OwnSend {
    seq: u32,
    t0: u64,
    /// Level it was sent in: the echo's latency belongs there.
    level: u32,
    op: Op,
    deadline: Instant,
}

/// An open socket and what the VU knows about its room.
#[derive(Debug)]
struct Conn {
    sock: SioSocket,
    joined: Option<Joined>,
    oldest: Option<Timestamp>,
    /// Sequence number of the last message this VU sent.
    seq: u32,
    /// Number of the last read mark (and of the last reaction) this VU sent.
    marks: u32,
    own: VecDeque<OwnSend>,
    last_seq: HashMap<u32, u32>,
    unread: VecDeque<String>,
    last_message: Option<String>,
    ai_starts: VecDeque<(String, u64)>,
}

impl Conn {
    fn new(sock: SioSocket) -> Conn {
        Conn {
            sock,
            joined: None,
            oldest: None,
            seq: 0,
            marks: 0,
            own: VecDeque::new(),
            last_seq: HashMap::new(),
            unread: VecDeque::new(),
            last_message: None,
            ai_starts: VecDeque::new(),
        }
    }

    fn note_message(&mut self, id: &str, track_unread: bool) {
        if id.is_empty() {
            return;
        }
        if track_unread {
            if self.unread.len() == UNREAD_KEPT {
                self.unread.pop_front();
            }
            self.unread.push_back(id.to_owned());
        }
        self.last_message = Some(id.to_owned());
    }
}

/// One VU.
struct Vu {
    ctx: Arc<RunCtx>,
    team: u16,
    id: u32,
    rec: Recorder,
    rng: SmallRng,
    authed: Option<Authed>,
    room: Option<String>,
    conn: Option<Conn>,
    track_unread: bool,
    step_timeout: Duration,
    fails_vu_on_delivery: bool,
    /// Set once the load has stopped: the VU only reads, until the run closes.
    draining: bool,
}

/// Runs VU `id` of `team` through `flow` until it finishes, fails, or the run stops.
///
/// `rec` was marked started by the ramp controller, so level counts are exact even before this
/// task first runs.
pub async fn run_vu(ctx: Arc<RunCtx>, team: u16, id: u32, flow: u16, rec: Recorder) {
    let plan = Arc::clone(&ctx.plan);
    let Some(flow) = plan.flows.get(flow as usize) else {
        return;
    };
    let mut vu = Vu {
        // Seeded by (plan seed, VU, team): a VU makes the same choices (think times) in every run
        // of the plan, whichever process or segment runs it.
        rng: SmallRng::seed_from_u64(plan.seed ^ (u64::from(id) << 16) ^ u64::from(team)),
        team,
        id,
        rec,
        authed: None,
        room: None,
        conn: None,
        track_unread: flow.steps.iter().any(|s| match s {
            Step::MarkRead => true,
            Step::SendMessages {
                mark_read,
                read_every,
                ..
            } => *mark_read || read_every.is_some(),
            _ => false,
        }),
        step_timeout: plan.conduct.step_timeout,
        fails_vu_on_delivery: plan.conduct.verify.fails_vu,
        draining: false,
        ctx,
    };
    // The first failure ends the flow (as in the competition); the stop of the load ends it too,
    // but without counting against the VU.
    let mut outcome = Ok(());
    for step in &flow.steps {
        // Boxed so the VU's own future stays small while it holds: only the step in progress
        // occupies memory, and REST futures are freed as soon as they finish.
        outcome = Box::pin(vu.step(step)).await;
        if outcome.is_err() {
            break;
        }
    }
    if let Err(Halt::Stopped) = outcome {
        // The load is over but the run is not: keep reading what other members' last messages,
        // receipts and reactions bring, and wait for this VU's own echoes, until the run closes.
        vu.draining = true;
        outcome = Box::pin(vu.serve(far_future(), Op::Hold, &mut |_| false))
            .await
            .map(|_| ());
    }
    if let Err(Halt::Failed(op, f)) = outcome {
        vu.rec
            .failure(op, f.kind, true, || format!("vu {}: {}", vu.id, f.message));
    }
    Box::pin(vu.finish()).await;
}

/// An instant no run reaches: serving until it ends only by the run's tokens or a failure.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

impl Vu {
    fn team(&self) -> &TeamCtx {
        &self.ctx.teams[self.team as usize]
    }

    fn now_micros(&self) -> u64 {
        self.rec.now_micros()
    }

    fn micros_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.rec.hub().start())
            .as_micros() as u64
    }

    fn authed(&self, op: Op) -> StepResult<Authed> {
        self.authed
            .clone()
            .ok_or_else(|| failed(op, Failure::protocol("step needs a signed-in user")))
    }

    fn room_id(&self, op: Op) -> StepResult<String> {
        self.room
            .clone()
            .ok_or_else(|| failed(op, Failure::protocol("step needs a room (enter_room)")))
    }

    fn joined(&self, op: Op) -> StepResult<Joined> {
        self.conn
            .as_ref()
            .and_then(|c| c.joined.clone())
            .ok_or_else(|| {
                failed(
                    op,
                    Failure::protocol("step needs a joined room (join_room)"),
                )
            })
    }

    fn credentials(&self) -> (String, String, String) {
        let nonce = &self.ctx.nonce;
        (
            format!("VU {} {nonce}", self.id),
            format!("vu{}.{nonce}@stampede.test", self.id),
            format!("stampede-{nonce}"),
        )
    }

    /// Runs one step. Every arm is boxed: an async fn's state is as large as its largest await, and a
    /// holding VU must not keep a REST call's worth of state alive for the rest of the run.
    async fn step(&mut self, step: &Step) -> StepResult {
        match step {
            Step::Register { login } => Box::pin(self.register(*login)).await,
            Step::Health => Box::pin(self.health()).await,
            Step::ListRooms { page_size } => Box::pin(self.list_rooms(*page_size)).await,
            Step::EnterRoom => Box::pin(self.enter_room()).await,
            Step::Connect => Box::pin(self.connect()).await,
            Step::GetRoom => Box::pin(self.get_room()).await,
            Step::JoinRoom => Box::pin(self.join_room()).await,
            Step::FetchHistory { pages } => Box::pin(self.history(*pages)).await,
            Step::SendMessages {
                count,
                interval,
                mark_read,
                read_every,
            } => Box::pin(self.send_messages(*count, *interval, *mark_read, *read_every)).await,
            Step::React { reaction } => Box::pin(self.react(reaction)).await,
            Step::MarkRead => Box::pin(self.mark_read()).await,
            Step::UploadFile { bytes, mime } => Box::pin(self.upload_file(*bytes, mime)).await,
            Step::ProfileImage { bytes } => Box::pin(self.profile_image(*bytes)).await,
            Step::AiMention { ai } => Box::pin(self.ai_mention(ai)).await,
            Step::Think { min, max } => {
                let wait = if max > min {
                    self.rng.random_range(*min..=*max)
                } else {
                    *min
                };
                Box::pin(self.serve(Instant::now() + wait, Op::Hold, &mut |_| false))
                    .await
                    .map(|_| ())
            }
            Step::Hold => loop {
                // Serve in long slices; only a failure or the end of the run ends a hold.
                let until = Instant::now() + Duration::from_secs(3600);
                Box::pin(self.serve(until, Op::Hold, &mut |_| false)).await?;
            },
            Step::LeaveRoom => Box::pin(self.leave_room()).await,
        }
    }

    /// Leaves the run: no longer a member, socket closed politely, gauges updated when `rec` drops.
    /// Echoes still awaited when the run closed (within their step budget) could not be judged.
    async fn finish(mut self) {
        let team = &self.ctx.teams[self.team as usize];
        team.members.set_alive(self.id, false);
        if let Some(room) = &self.room {
            team.rooms.leave(room, self.id);
        }
        if let Some(conn) = self.conn.take() {
            let closed_by_run = self.ctx.close.is_cancelled() && !self.rec.has_failed();
            for own in &conn.own {
                team.echoes_awaited.fetch_sub(1, Ordering::Relaxed);
                if closed_by_run {
                    self.rec.unjudged_in(own.level, own.op, 1);
                }
            }
            self.rec.set_connected(false);
            conn.sock.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::socket::Reply;
    use super::*;
    use crate::engine::plan::{Conduct, MessageSpec, RoomAssignment, RoomPolicy};

    fn ctx() -> Arc<RunCtx> {
        let plan = LoadPlan {
            scenario: String::new(),
            seed: 0,
            time_scale: 1.0,
            arrivals: vec![],
            levels: vec![],
            duration: Duration::ZERO,
            flows: vec![],
            conduct: Conduct {
                rooms: RoomPolicy {
                    assignment: RoomAssignment::Groups { size: 2 },
                    hot_room_share: 0.0,
                    password: None,
                },
                messages: MessageSpec {
                    text: String::new(),
                    size: 0,
                },
                step_timeout: Duration::ZERO,
                verify: crate::engine::plan::Verify {
                    delivery_deadline: Duration::ZERO,
                    receipt_deadline: Duration::ZERO,
                    late_after: Duration::ZERO,
                    fails_vu: false,
                },
                thresholds: vec![],
            },
            segment: None,
        };
        Arc::new(RunCtx {
            plan: Arc::new(plan),
            teams: vec![],
            nonce: String::new(),
            stop: CancellationToken::new(),
            close: CancellationToken::new(),
            source_ips: vec![],
            held: None,
        })
    }

    /// A VU's task lives as long as the run, so its future's size is paid by every idle VU. These
    /// bounds catch a step whose state is accidentally inlined (a REST call is ~10 KiB of state).
    #[test]
    fn an_idle_vu_keeps_little_state() {
        let hub = crate::metrics::Hub::new(1);
        let task = run_vu(ctx(), 0, 0, 0, hub.recorder(0, 0));
        assert!(
            std::mem::size_of_val(&task) <= 3 * 1024,
            "run_vu: {}",
            std::mem::size_of_val(&task)
        );
        let mut vu = Vu {
            ctx: ctx(),
            team: 0,
            id: 0,
            rec: hub.recorder(0, 1),
            rng: SmallRng::seed_from_u64(0),
            authed: None,
            room: None,
            conn: None,
            track_unread: false,
            step_timeout: Duration::ZERO,
            fails_vu_on_delivery: false,
            draining: false,
        };
        let step = vu.step(&Step::Hold);
        assert!(
            std::mem::size_of_val(&step) <= 256,
            "step: {}",
            std::mem::size_of_val(&step)
        );
        drop(step);
        let mut never = |_: &Reply| false;
        let serve = vu.serve(Instant::now(), Op::Hold, &mut never);
        assert!(
            std::mem::size_of_val(&serve) <= 1024,
            "serve: {}",
            std::mem::size_of_val(&serve)
        );
    }
}
