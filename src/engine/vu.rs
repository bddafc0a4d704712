//! One virtual user: a task that walks its flow step by step, then holds its session.
//!
//! Whatever step it is on, a connected VU keeps serving its socket: it answers pings, timestamps
//! every `message`, `messagesRead` and `messageReactionUpdate` the moment it is read (so latency never
//! includes time spent waiting for the VU's own REST call), checks its own echoes against their
//! deadlines and reports what it received to the team's trackers. The first failure ends the VU, as in
//! the competition; the end of the run (or an interrupt) stops it without counting against it: it
//! stops stepping, keeps reading while the run drains, and closes its socket when the run closes.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::events::{
    ChatMessageRequest, FetchPreviousMessagesRequest, JoinRoomSuccess, MarkMessagesAsReadRequest,
    MessageReactionRequest, MessageType, PreviousMessagesLoaded, ReactionOp, Reactions, name,
};
use protocol::rest::{CreateRoomRequest, FileInfo, LoginRequest, RegisterRequest, RoomListQuery};
use protocol::time::Timestamp;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use std::sync::atomic::{AtomicU64, Ordering};

use super::delivery::{DeliveryTracker, Receipt, parse_marker, with_marker};
use super::expect::Members;
use super::plan::{LoadPlan, Step};
use super::receipts::{ReactionTracker, ReadTracker, id_hash};
use super::rooms::{RoomDirectory, RoomKey, assign};
use crate::client::{Authed, Failure, HttpPool, Inbound, Joined, SioSocket, SocketOptions};
use crate::metrics::{FailureKind, Op, Recorder};

/// Unread message ids kept for `markMessagesAsRead` (the UI marks what is on screen; 30 is one page).
const UNREAD_KEPT: usize = 30;

/// AI stream starts remembered while waiting for a completion.
const AI_STARTS_KEPT: usize = 16;

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

/// A reply some step may be waiting for.
#[derive(Debug)]
enum Reply {
    JoinSuccess(Box<JoinRoomSuccess>),
    JoinError(String),
    History(PreviousMessagesLoaded),
    Reaction {
        message_id: String,
        reactions: Reactions,
    },
    Echo {
        seq: u32,
    },
    AiComplete {
        message_id: String,
        query: String,
    },
    AiError {
        message_id: String,
        error: String,
    },
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

/// The parts of a `message` event the VU needs, borrowed from the frame.
#[derive(Deserialize)]
struct MessageLite<'a> {
    #[serde(rename = "_id", default, borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    content: Cow<'a, str>,
}

/// The parts of a `messagesRead` event the VU needs, borrowed from the frame.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadLite<'a> {
    #[serde(default, borrow)]
    user_id: Cow<'a, str>,
    #[serde(default, borrow)]
    message_ids: Vec<Cow<'a, str>>,
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
        step_timeout: plan.step_timeout,
        fails_vu_on_delivery: plan.verify.fails_vu,
        draining: false,
        ctx,
    };
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

    async fn health(&mut self) -> StepResult {
        let guest = self.team().http.guest(self.id);
        let (_, t) = self
            .call(Op::Health, async move { guest.health().await })
            .await?;
        self.rec.ok(Op::Health, t);
        Ok(())
    }

    async fn list_rooms(&mut self, page_size: u32) -> StepResult {
        let authed = self.authed(Op::ListRooms)?;
        let query = RoomListQuery {
            page_size,
            ..RoomListQuery::default()
        };
        let (_, t) = self
            .call(
                Op::ListRooms,
                async move { authed.list_rooms(&query).await },
            )
            .await?;
        self.rec.ok(Op::ListRooms, t);
        Ok(())
    }

    async fn get_room(&mut self) -> StepResult {
        let authed = self.authed(Op::GetRoom)?;
        let room = self.room_id(Op::GetRoom)?;
        let (_, t) = self
            .call(Op::GetRoom, async move { authed.get_room(&room).await })
            .await?;
        self.rec.ok(Op::GetRoom, t);
        Ok(())
    }

    async fn profile_image(&mut self, bytes: u32) -> StepResult {
        let authed = self.authed(Op::ProfileImage)?;
        let data = fake_file("image/png", bytes, self.id);
        let (_, t) = self
            .call(Op::ProfileImage, async move {
                authed.upload_profile_image(data).await
            })
            .await?;
        self.rec.ok(Op::ProfileImage, t);
        Ok(())
    }

    async fn leave_room(&mut self) -> StepResult {
        let joined = self.joined(Op::LeaveRoom)?;
        let conn = self.conn.as_mut().expect("joined implies connected");
        conn.sock
            .emit(name::LEAVE_ROOM, joined.room_id())
            .await
            .map_err(|f| failed(Op::LeaveRoom, f))?;
        conn.joined = None;
        self.team().rooms.leave(joined.room_id(), self.id);
        self.rec.done(Op::LeaveRoom);
        Ok(())
    }

    async fn register(&mut self, login: bool) -> StepResult {
        let (name, email, password) = self.credentials();
        let guest = self.team().http.guest(self.id);
        let req = RegisterRequest {
            name,
            email: email.clone(),
            password: password.clone(),
        };
        let (authed, t) = self
            .call(Op::Register, async move { guest.register(&req).await })
            .await?;
        self.rec.ok(Op::Register, t);
        let authed = if login {
            let guest = authed.into_guest();
            let req = LoginRequest { email, password };
            let (authed, t) = self
                .call(Op::Login, async move { guest.login(&req).await })
                .await?;
            self.rec.ok(Op::Login, t);
            authed
        } else {
            authed
        };
        self.authed = Some(authed);
        Ok(())
    }

    async fn enter_room(&mut self) -> StepResult {
        let authed = self.authed(Op::EnterRoom)?;
        let policy = &self.ctx.plan.rooms;
        let key: RoomKey = assign(policy, self.ctx.plan.seed, self.id);
        let password = policy.password.clone();
        let slot = self.team().rooms.slot(key);
        let create = CreateRoomRequest {
            name: key.name(&self.ctx.nonce),
            password: password.clone(),
        };
        // The first VU of the room creates it; others wait for its id. Only the creator times the
        // creation, so waiting does not pollute `create_room` latency.
        let mut created: Option<u64> = None;
        let creator = authed.clone();
        let (room_id, _) = self
            .call(Op::CreateRoom, async {
                slot.get_or_try_init(|| async {
                    let started = Instant::now();
                    let room = creator.create_room(&create).await?;
                    created = Some(started.elapsed().as_micros() as u64);
                    Ok::<_, Failure>(room.id)
                })
                .await
                .cloned()
            })
            .await?;
        if let Some(t) = created {
            self.rec.ok(Op::CreateRoom, t);
        }
        let joiner = room_id.clone();
        let (_, t) = self
            .call(Op::EnterRoom, async move {
                authed.join_room(&joiner, password.as_deref()).await
            })
            .await?;
        self.rec.ok(Op::EnterRoom, t);
        self.room = Some(room_id);
        Ok(())
    }

    async fn connect(&mut self) -> StepResult {
        let authed = self.authed(Op::WsConnect)?;
        let opts = SocketOptions {
            source_ip: match self.ctx.source_ips.len() {
                0 => None,
                n => Some(self.ctx.source_ips[self.id as usize % n]),
            },
        };
        let budget = self.step_timeout;
        let result = tokio::select! {
            () = self.ctx.stop.cancelled() => return Err(Halt::Stopped),
            r = tokio::time::timeout(budget, SioSocket::connect(&authed, &opts)) => r,
        };
        let (sock, timings) = match result {
            Err(_) => return Err(timed_out(Op::SioConnect, budget)),
            Ok(Err((op, f))) => return Err(failed(op, f)),
            Ok(Ok(ok)) => ok,
        };
        self.rec.ok(Op::WsConnect, timings.ws.as_micros() as u64);
        self.rec.ok(Op::SioConnect, timings.sio.as_micros() as u64);
        self.rec.set_connected(true);
        self.conn = Some(Conn::new(sock));
        Ok(())
    }

    async fn join_room(&mut self) -> StepResult {
        let room = self.room_id(Op::JoinRoom)?;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| failed(Op::JoinRoom, Failure::protocol("join_room needs connect")))?;
        let started = Instant::now();
        conn.sock
            .join_room(&room)
            .await
            .map_err(|f| failed(Op::JoinRoom, f))?;
        let reply = self
            .await_reply(Op::JoinRoom, &mut |r| {
                matches!(r, Reply::JoinSuccess(_) | Reply::JoinError(_))
            })
            .await?;
        let success = match reply {
            Reply::JoinSuccess(s) => s,
            Reply::JoinError(msg) => {
                return Err(failed(
                    Op::JoinRoom,
                    Failure::new(FailureKind::JoinRoomError, msg),
                ));
            }
            _ => unreachable!("filtered by await_reply"),
        };
        let joined = Joined::from_success(&room, &success).map_err(|f| failed(Op::JoinRoom, f))?;
        self.rec
            .ok(Op::JoinRoom, started.elapsed().as_micros() as u64);
        let track = self.track_unread;
        let conn = self.conn.as_mut().expect("checked above");
        for m in &success.messages {
            conn.note_message(&m.id, track);
        }
        conn.oldest = success.oldest_timestamp.clone();
        conn.joined = Some(joined);
        let team = &self.ctx.teams[self.team as usize];
        team.rooms.join(&room, self.id);
        team.members.set_alive(self.id, true);
        Ok(())
    }

    async fn history(&mut self, pages: u32) -> StepResult {
        let joined = self.joined(Op::History)?;
        for _ in 0..pages {
            let conn = self.conn.as_mut().expect("joined implies connected");
            let req = FetchPreviousMessagesRequest {
                room_id: joined.room_id().to_owned(),
                before: conn.oldest.clone(),
            };
            let started = Instant::now();
            conn.sock
                .emit(name::FETCH_PREVIOUS_MESSAGES, &req)
                .await
                .map_err(|f| failed(Op::History, f))?;
            let Reply::History(page) = self
                .await_reply(Op::History, &mut |r| matches!(r, Reply::History(_)))
                .await?
            else {
                unreachable!("filtered by await_reply")
            };
            self.rec
                .ok(Op::History, started.elapsed().as_micros() as u64);
            let conn = self.conn.as_mut().expect("joined implies connected");
            if page.oldest_timestamp.is_some() {
                conn.oldest = page.oldest_timestamp;
            }
            if !page.has_more {
                break;
            }
        }
        Ok(())
    }

    async fn send_messages(
        &mut self,
        count: Option<u32>,
        interval: Duration,
        mark_read: bool,
        read_every: Option<Duration>,
    ) -> StepResult {
        let joined = self.joined(Op::SendAck)?;
        let start = Instant::now();
        let mut next_read = read_every.map(|every| start + every);
        let mut k: u32 = 0;
        while count.is_none_or(|c| k < c) {
            // Open-loop pacing: the k-th message is due at start + k·interval whatever happened to
            // the previous ones, and its latency counts from that intended time.
            let intended = start + interval * k;
            // Reading along until then: what arrived is marked read every `read_every`.
            while let (Some(every), Some(due)) = (read_every, next_read)
                && due < intended
            {
                self.serve(due, Op::SendAck, &mut |_| false).await?;
                self.mark_arrivals_read().await?;
                // A VU that fell behind reads once and carries on, it does not catch up.
                next_read = Some((due + every).max(Instant::now()));
            }
            self.serve(intended, Op::SendAck, &mut |_| false).await?;
            if mark_read {
                self.mark_arrivals_read().await?;
            }
            let text = self.message_text();
            self.send_chat(&joined, &text, None, Op::SendAck, intended)
                .await?;
            k += 1;
        }
        self.drain_echoes().await
    }

    fn message_text(&self) -> String {
        let spec = &self.ctx.plan.messages;
        let mut text = spec.text.clone();
        let size = spec.size as usize;
        if text.len() < size {
            text.extend(std::iter::repeat_n('x', size - text.len()));
        }
        text
    }

    /// Registers the delivery expectation, then emits. Returns the sequence number used.
    async fn send_chat(
        &mut self,
        joined: &Joined,
        text: &str,
        file: Option<FileInfo>,
        op: Op,
        intended: Instant,
    ) -> StepResult<u32> {
        let t0 = self.micros_at(intended);
        let team = &self.ctx.teams[self.team as usize];
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| failed(op, Failure::protocol("not connected")))?;
        conn.seq += 1;
        let seq = conn.seq;
        let content = with_marker(text, &self.ctx.nonce, self.id, seq);
        let recipients = team.rooms.others(joined.room_id(), self.id);
        let level = self.rec.hub().level();
        team.deliveries.expect(self.id, seq, t0, level, recipients);
        let msg = ChatMessageRequest {
            room: joined.room_id().to_owned(),
            kind: if file.is_some() {
                MessageType::File
            } else {
                MessageType::Text
            },
            content,
            file_data: file,
        };
        if let Err(f) = conn.sock.chat(joined, &msg).await {
            team.deliveries.cancel(self.id, seq);
            return Err(failed(op, f));
        }
        self.rec.sent(op);
        team.echoes_awaited.fetch_add(1, Ordering::Relaxed);
        conn.own.push_back(OwnSend {
            seq,
            t0,
            level,
            op,
            deadline: Instant::now() + self.step_timeout,
        });
        Ok(seq)
    }

    /// Serves until every own message has come back (or one is overdue).
    async fn drain_echoes(&mut self) -> StepResult {
        while self.conn.as_ref().is_some_and(|c| !c.own.is_empty()) {
            let until = Instant::now() + self.step_timeout * 2;
            self.serve(until, Op::SendAck, &mut |r| matches!(r, Reply::Echo { .. }))
                .await?;
        }
        Ok(())
    }

    async fn react(&mut self, reaction: &str) -> StepResult {
        self.joined(Op::React)?;
        let conn = self.conn.as_mut().expect("joined implies connected");
        let Some(message_id) = conn.last_message.clone() else {
            // Nothing on screen to react to yet: the UI would not offer the button.
            return Ok(());
        };
        let user_id = self
            .authed
            .as_ref()
            .map(|a| a.user().id.clone())
            .unwrap_or_default();
        let req = MessageReactionRequest {
            message_id: message_id.clone(),
            reaction: reaction.to_owned(),
            op: ReactionOp::Add,
        };
        let started = Instant::now();
        // Every other member must see the reaction: expected before the emit, like a message.
        let team = &self.ctx.teams[self.team as usize];
        conn.marks += 1;
        let seq = conn.marks;
        if let Some(room) = conn.joined.as_ref().map(|j| j.room_id()) {
            team.reactions.expect(
                self.id,
                seq,
                &user_id,
                &message_id,
                reaction,
                self.rec.now_micros(),
                self.rec.hub().level(),
                team.rooms.others(room, self.id),
            );
        }
        if let Err(f) = conn.sock.emit(name::MESSAGE_REACTION, &req).await {
            team.reactions.cancel(self.id, seq, &message_id);
            return Err(failed(Op::React, f));
        }
        self.await_reply(Op::React, &mut |r| match r {
            Reply::Reaction {
                message_id: id,
                reactions,
            } => {
                id == &message_id
                    && (user_id.is_empty()
                        || reactions
                            .get(reaction)
                            .is_some_and(|users| users.contains(&user_id)))
            }
            _ => false,
        })
        .await?;
        self.rec.ok(Op::React, started.elapsed().as_micros() as u64);
        Ok(())
    }

    /// Marks what arrived as read, if anything did: a client reporting what it shows, not a
    /// `mark_read` step (which counts even when there is nothing to mark).
    async fn mark_arrivals_read(&mut self) -> StepResult {
        if self.conn.as_ref().is_some_and(|c| !c.unread.is_empty()) {
            self.mark_read().await?;
        }
        Ok(())
    }

    async fn mark_read(&mut self) -> StepResult {
        let joined = self.joined(Op::MarkRead)?;
        let user = self.authed.as_ref().map(|a| id_hash(&a.user().id));
        let team = &self.ctx.teams[self.team as usize];
        let conn = self.conn.as_mut().expect("joined implies connected");
        let ids: Vec<String> = conn.unread.drain(..).collect();
        if !ids.is_empty() {
            // Every other member must be told: expected before the emit, like a message.
            conn.marks += 1;
            let mark = conn.marks;
            if let Some(user) = user {
                team.reads.expect(
                    self.id,
                    user,
                    mark,
                    &ids,
                    self.rec.now_micros(),
                    self.rec.hub().level(),
                    team.rooms.others(joined.room_id(), self.id),
                );
            }
            let req = MarkMessagesAsReadRequest {
                room_id: joined.room_id().to_owned(),
                message_ids: ids,
            };
            if let Err(f) = conn.sock.emit(name::MARK_MESSAGES_AS_READ, &req).await {
                if let Some(user) = user {
                    team.reads.cancel(user, mark);
                }
                return Err(failed(Op::MarkRead, f));
            }
            self.rec.sent(Op::MarkRead);
        }
        self.rec.done(Op::MarkRead);
        Ok(())
    }

    async fn upload_file(&mut self, bytes: u32, mime: &str) -> StepResult {
        let joined = self.joined(Op::Upload)?;
        let authed = self.authed(Op::Upload)?;
        let data = fake_file(mime, bytes, self.id);
        let file_name = format!("stampede-{}.{}", self.id, extension(mime));
        let mime_owned = mime.to_owned();
        let (file, t) = self
            .call(Op::Upload, async move {
                authed.upload_file(&file_name, &mime_owned, data).await
            })
            .await?;
        self.rec.ok(Op::Upload, t);
        let seq = self
            .send_chat(&joined, "file", Some(file), Op::FileMessage, Instant::now())
            .await?;
        self.await_reply(
            Op::FileMessage,
            &mut |r| matches!(r, Reply::Echo { seq: s } if *s == seq),
        )
        .await?;
        Ok(())
    }

    async fn ai_mention(&mut self, ai: &str) -> StepResult {
        let joined = self.joined(Op::AiComplete)?;
        let started = Instant::now();
        let t0 = self.micros_at(started);
        let text = format!("@{ai} {}", self.ctx.plan.messages.text);
        let seq = self
            .send_chat(&joined, &text, None, Op::SendAck, started)
            .await?;
        let marker = with_marker("", &self.ctx.nonce, self.id, seq);
        let marker = marker.trim();
        // Streams of other members' mentions share the room; ours is the one whose query carries our
        // marker (or, for servers that strip it, the first stream that starts after our echo).
        let mut echoed_at: Option<u64> = None;
        // One budget for the whole stream, however many other replies arrive meanwhile.
        let deadline = started + self.step_timeout;
        let reply = loop {
            let reply = self
                .serve(deadline, Op::AiComplete, &mut |r| {
                    matches!(
                        r,
                        Reply::AiComplete { .. } | Reply::AiError { .. } | Reply::Echo { .. }
                    )
                })
                .await?
                .ok_or_else(|| timed_out(Op::AiComplete, self.step_timeout))?;
            match reply {
                Reply::Echo { seq: s } if s == seq => echoed_at = Some(self.now_micros()),
                Reply::Echo { .. } => {}
                Reply::AiComplete {
                    ref message_id,
                    ref query,
                } => {
                    let ours = query.contains(marker)
                        || (!query.contains("[sp:")
                            && self.first_start_after(echoed_at) == Some(message_id.clone()));
                    if ours {
                        break reply;
                    }
                }
                Reply::AiError { .. } => break reply,
                _ => {}
            }
        };
        match reply {
            Reply::AiComplete { message_id, .. } => {
                let conn = self.conn.as_ref().expect("joined implies connected");
                if let Some((_, at)) = conn.ai_starts.iter().find(|(id, _)| *id == message_id) {
                    self.rec.ok(Op::AiFirstChunk, at.saturating_sub(t0));
                }
                self.rec
                    .ok(Op::AiComplete, started.elapsed().as_micros() as u64);
                Ok(())
            }
            Reply::AiError { message_id, error } => Err(failed(
                Op::AiComplete,
                Failure::new(
                    FailureKind::ServerError,
                    format!("aiMessageError for {message_id}: {error}"),
                ),
            )),
            _ => unreachable!("loop breaks only on AI replies"),
        }
    }

    fn first_start_after(&self, after: Option<u64>) -> Option<String> {
        let after = after?;
        let conn = self.conn.as_ref()?;
        conn.ai_starts
            .iter()
            .find(|(_, at)| *at >= after)
            .map(|(id, _)| id.clone())
    }

    /// Waits (within the step budget) for a reply accepted by `want`, serving the socket meanwhile.
    async fn await_reply(
        &mut self,
        op: Op,
        want: &mut (dyn FnMut(&Reply) -> bool + Send),
    ) -> StepResult<Reply> {
        let budget = self.step_timeout;
        match self.serve(Instant::now() + budget, op, want).await? {
            Some(r) => Ok(r),
            None => Err(timed_out(op, budget)),
        }
    }

    /// Serves the socket until `until`, returning early with the first reply accepted by `want`.
    /// Without a socket it simply waits. Own echoes past their deadline fail the VU.
    async fn serve(
        &mut self,
        until: Instant,
        op: Op,
        want: &mut (dyn FnMut(&Reply) -> bool + Send),
    ) -> StepResult<Option<Reply>> {
        loop {
            // While stepping, the stop of the load ends the wait; while draining, the close.
            let halt = if self.draining {
                &self.ctx.close
            } else {
                &self.ctx.stop
            };
            let Some(conn) = self.conn.as_mut() else {
                tokio::select! {
                    () = halt.cancelled() => return Err(Halt::Stopped),
                    () = tokio::time::sleep_until(until.into()) => return Ok(None),
                }
            };
            let echo = conn.own.front().copied();
            let wake = echo.map_or(until, |o| o.deadline.min(until));
            let inbound = tokio::select! {
                biased;
                () = halt.cancelled() => return Err(Halt::Stopped),
                r = conn.sock.next() => r.map_err(|f| failed(op, f))?,
                () = tokio::time::sleep_until(wake.into()) => {
                    if let Some(o) = echo.filter(|o| o.deadline <= Instant::now()) {
                        return Err(timed_out(o.op, self.step_timeout));
                    }
                    if Instant::now() >= until {
                        return Ok(None);
                    }
                    continue;
                }
            };
            if let Some(reply) = self.handle(op, &inbound)?
                && want(&reply)
            {
                return Ok(Some(reply));
            }
        }
    }

    /// Runs `fut` within the step budget while serving the socket; returns its output and how long
    /// it took in microseconds.
    async fn call<T>(
        &mut self,
        op: Op,
        fut: impl Future<Output = Result<T, Failure>>,
    ) -> StepResult<(T, u64)> {
        let started = Instant::now();
        let budget = self.step_timeout;
        let deadline = started + budget;
        let mut fut = std::pin::pin!(fut);
        loop {
            let inbound = match self.conn.as_mut() {
                None => tokio::select! {
                    () = self.ctx.stop.cancelled() => return Err(Halt::Stopped),
                    r = &mut fut => {
                        let t = started.elapsed().as_micros() as u64;
                        return r.map(|v| (v, t)).map_err(|f| failed(op, f));
                    }
                    () = tokio::time::sleep_until(deadline.into()) => return Err(timed_out(op, budget)),
                },
                Some(conn) => tokio::select! {
                    () = self.ctx.stop.cancelled() => return Err(Halt::Stopped),
                    r = &mut fut => {
                        let t = started.elapsed().as_micros() as u64;
                        return r.map(|v| (v, t)).map_err(|f| failed(op, f));
                    }
                    () = tokio::time::sleep_until(deadline.into()) => return Err(timed_out(op, budget)),
                    r = conn.sock.next() => r.map_err(|f| failed(Op::Hold, f))?,
                },
            };
            self.handle(op, &inbound)?;
        }
    }

    /// Handles one event: deliveries and echoes are timed here, the moment the frame is read.
    fn handle(&mut self, op: Op, inbound: &Inbound) -> StepResult<Option<Reply>> {
        let now = self.now_micros();
        let event = inbound.event().map_err(|f| failed(op, f))?;
        let parse_err = |e: protocol::socketio::DecodeError| {
            failed(
                op,
                Failure::protocol(format!("{} payload: {e}", event.name)),
            )
        };
        let team = &self.ctx.teams[self.team as usize];
        let conn = self
            .conn
            .as_mut()
            .expect("events only arrive on a connection");
        let reply = match event.name.as_ref() {
            name::MESSAGE => {
                let m: MessageLite<'_> = event.arg(0).map_err(parse_err)?;
                conn.note_message(&m.id, self.track_unread);
                let Some((sender, seq)) = parse_marker(&m.content, &self.ctx.nonce) else {
                    return Ok(None);
                };
                if sender == self.id {
                    if let Some(i) = conn.own.iter().position(|o| o.seq == seq) {
                        let own = conn.own.remove(i).expect("index just found");
                        team.echoes_awaited.fetch_sub(1, Ordering::Relaxed);
                        self.rec
                            .ok_in(own.level, own.op, now.saturating_sub(own.t0));
                    }
                    Some(Reply::Echo { seq })
                } else {
                    let fails = self.fails_vu_on_delivery;
                    let last = conn.last_seq.entry(sender).or_insert(0);
                    let out_of_order = seq < *last;
                    *last = (*last).max(seq);
                    let id = self.id;
                    // Findings and latency belong to the level the message was sent in.
                    match team.deliveries.receive(self.id, sender, seq, now) {
                        Receipt::Delivered {
                            latency_micros,
                            level,
                        } => {
                            self.rec.ok_in(level, Op::Delivery, latency_micros);
                            if out_of_order {
                                self.rec.failure_in(level, Op::Delivery, FailureKind::DeliveryReordered, fails, || {
                                    format!("vu {id} got message {seq} of vu {sender} after a later one")
                                });
                            }
                        }
                        Receipt::Duplicate { level } => {
                            self.rec.failure_in(
                                level,
                                Op::Delivery,
                                FailureKind::DeliveryDuplicate,
                                fails,
                                || format!("vu {id} got message {seq} of vu {sender} again"),
                            );
                        }
                        Receipt::Unexpected => {}
                    }
                    None
                }
            }
            name::JOIN_ROOM_SUCCESS => Some(Reply::JoinSuccess(Box::new(
                event.arg(0).map_err(parse_err)?,
            ))),
            name::JOIN_ROOM_ERROR => {
                #[derive(Deserialize)]
                struct E {
                    #[serde(default)]
                    message: String,
                }
                let e: Option<E> = event.arg(0).unwrap_or(None);
                Some(Reply::JoinError(e.map(|e| e.message).unwrap_or_default()))
            }
            name::PREVIOUS_MESSAGES_LOADED => {
                let page: PreviousMessagesLoaded = event.arg(0).map_err(parse_err)?;
                Some(Reply::History(page))
            }
            name::MESSAGE_REACTION_UPDATE => {
                let u: protocol::events::MessageReactionUpdate = event.arg(0).map_err(parse_err)?;
                for r in team
                    .reactions
                    .receive(self.id, &u.message_id, &u.reactions, now)
                {
                    if let Receipt::Delivered {
                        latency_micros,
                        level,
                    } = r
                    {
                        self.rec.ok_in(level, Op::ReactionUpdate, latency_micros);
                    }
                }
                Some(Reply::Reaction {
                    message_id: u.message_id,
                    reactions: u.reactions,
                })
            }
            name::MESSAGES_READ => {
                let r: ReadLite<'_> = event.arg(0).map_err(parse_err)?;
                let reader = id_hash(&r.user_id);
                let ids = r.message_ids.iter().map(|id| id.as_ref());
                for got in team.reads.receive(self.id, reader, ids, now) {
                    match got {
                        Receipt::Delivered {
                            latency_micros,
                            level,
                        } => self.rec.ok_in(level, Op::Receipt, latency_micros),
                        Receipt::Duplicate { level } => {
                            let (id, user) = (self.id, r.user_id.clone());
                            self.rec.failure_in(
                                level,
                                Op::Receipt,
                                FailureKind::ReceiptDuplicate,
                                self.fails_vu_on_delivery,
                                || format!("vu {id} was told again what user {user} read"),
                            );
                        }
                        Receipt::Unexpected => {}
                    }
                }
                None
            }
            name::AI_MESSAGE_START => {
                let s: protocol::events::AiMessageStart = event.arg(0).map_err(parse_err)?;
                if conn.ai_starts.len() == AI_STARTS_KEPT {
                    conn.ai_starts.pop_front();
                }
                conn.ai_starts.push_back((s.message_id, now));
                None
            }
            name::AI_MESSAGE_COMPLETE => {
                let c: protocol::events::AiMessageComplete = event.arg(0).map_err(parse_err)?;
                Some(Reply::AiComplete {
                    message_id: c.message_id,
                    query: c.query,
                })
            }
            name::AI_MESSAGE_ERROR => {
                let e: protocol::events::AiMessageError = event.arg(0).map_err(parse_err)?;
                Some(Reply::AiError {
                    message_id: e.message_id,
                    error: e.error,
                })
            }
            name::ERROR => {
                let e: protocol::events::ErrorEvent = event.arg(0).unwrap_or_default();
                let code = e.code.or(e.kind).unwrap_or_default();
                return Err(failed(
                    op,
                    Failure::new(
                        FailureKind::ServerError,
                        format!("error event {code}: {}", e.message),
                    ),
                ));
            }
            name::SESSION_ENDED | name::DUPLICATE_LOGIN => {
                return Err(failed(
                    op,
                    Failure::new(
                        FailureKind::SessionEnded,
                        format!("{} received: {}", event.name, inbound.as_str()),
                    ),
                ));
            }
            _ => None,
        };
        Ok(reply)
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

/// File extension for a MIME type the protocol allows.
fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "audio/mpeg" => "mp3",
        "application/pdf" => "pdf",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        _ => "bin",
    }
}

/// Bytes of a plausible file of `mime`: the format's magic number, then filler.
fn fake_file(mime: &str, size: u32, seed: u32) -> Vec<u8> {
    let magic: &[u8] = match mime {
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/jpeg" => b"\xff\xd8\xff\xe0",
        "image/gif" => b"GIF89a",
        "application/pdf" => b"%PDF-1.4\n",
        _ => b"",
    };
    let mut data = Vec::with_capacity(size as usize);
    data.extend_from_slice(magic);
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    while data.len() < size as usize {
        // xorshift: cheap filler that does not compress to nothing.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push(x as u8);
    }
    data.truncate(size.max(magic.len() as u32) as usize);
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::plan::{MessageSpec, RoomAssignment, RoomPolicy};

    fn ctx() -> Arc<RunCtx> {
        let plan = LoadPlan {
            scenario: String::new(),
            seed: 0,
            time_scale: 1.0,
            arrivals: vec![],
            levels: vec![],
            duration: Duration::ZERO,
            flows: vec![],
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
        };
        Arc::new(RunCtx {
            plan: Arc::new(plan),
            teams: vec![],
            nonce: String::new(),
            stop: CancellationToken::new(),
            close: CancellationToken::new(),
            source_ips: vec![],
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

    #[test]
    fn fake_files_have_their_magic_and_size() {
        let png = fake_file("image/png", 100, 1);
        assert_eq!(png.len(), 100);
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(fake_file("application/pdf", 3, 1), b"%PDF-1.4\n");
        assert_eq!(extension("application/pdf"), "pdf");
    }
}
