//! The hot path: how a VU records what happened to it.
//!
//! A VU never touches a histogram. It appends a 16-byte [`Event`] to one of a few sharded buffers
//! (a short `std::sync::Mutex` push, never held across an `.await`) and bumps a few atomic gauges;
//! the single aggregator task drains the buffers every tick and owns every histogram. This keeps
//! the per-VU cost to a few bytes of state, so memory per idle VU stays tiny, and keeps histograms
//! in one place, so percentiles are always computed over complete data (never averaged).

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::base::kinds::{FailureKind, Op};

/// Number of event buffers. More shards than cores keeps lock contention negligible.
const SHARDS: usize = 16;

/// Failure messages kept per (team, kind, op): enough to diagnose, bounded so a failing server
/// cannot make the generator format and store millions of strings.
pub const SAMPLES_PER_KEY: u8 = 5;

/// Longest failure sample kept, in characters: samples quote what the server said, and a server
/// must not be able to fill a report with one answer.
pub const SAMPLE_CHARS: usize = 400;

/// A failure message made safe to keep: control characters (escape sequences, carriage returns,
/// new lines a server put in its error text) are written out as escapes, so a sample cannot move
/// a terminal's cursor or forge lines in a log or CSV, and it is cut at [`SAMPLE_CHARS`].
pub fn clean_sample(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(SAMPLE_CHARS));
    for (i, c) in message.chars().enumerate() {
        if i == SAMPLE_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One thing that happened, attributed to a team and a user level: the level in force when it
/// happened, except for what other members receive (deliveries, receipts, reaction updates, echoes),
/// which belongs to the level its message was sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Team (target) index.
    pub team: u16,
    /// Level index it belongs to.
    pub level: u16,
    /// What happened.
    pub what: What,
}

/// The payload of an [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    /// A request succeeded after `micros`.
    Ok {
        /// The operation.
        op: Op,
        /// Latency in microseconds.
        micros: u64,
    },
    /// A request succeeded and is not timed (fire-and-forget emits).
    Done {
        /// The operation.
        op: Op,
    },
    /// A request (or a delivery check) failed.
    Failed {
        /// The operation.
        op: Op,
        /// Why.
        kind: FailureKind,
    },
    /// Something verified was sent: a chat message (`SendAck`, `FileMessage`) or a read mark
    /// (`MarkRead`).
    Sent {
        /// What was sent.
        op: Op,
    },
    /// A copy of a message another segment of a split plan sent (not verified here).
    Foreign,
    /// A `resync` event: the server said this member missed room events it will not send.
    Resync,
    /// Expectations the run could not judge: it was cut short while they were awaited.
    Unjudged {
        /// What was awaited (`Delivery`, `SendAck` for the sender's echo, `Receipt`,
        /// `ReactionUpdate`).
        op: Op,
        /// How many.
        count: u32,
    },
}

/// A failure message kept as a sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureSample {
    /// Team index.
    pub team: u16,
    /// Failure kind.
    pub kind: FailureKind,
    /// Operation.
    pub op: Op,
    /// The message.
    pub message: String,
}

/// Live per-team VU gauges, written by VUs and read by the aggregator and the ramp controller.
#[derive(Debug, Default)]
pub struct TeamGauges {
    /// VUs started.
    pub started: AtomicU64,
    /// VUs running (started, not yet finished or failed).
    pub active: AtomicU64,
    /// VUs holding an open socket.
    pub connected: AtomicU64,
    /// VUs that failed.
    pub failed: AtomicU64,
    /// Highest `connected` seen.
    pub peak_connected: AtomicU64,
}

/// Copy of a team's gauges at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GaugeValues {
    /// VUs started.
    pub started: u64,
    /// VUs running.
    pub active: u64,
    /// VUs holding an open socket.
    pub connected: u64,
    /// VUs failed.
    pub failed: u64,
    /// Highest `connected` seen.
    pub peak_connected: u64,
}

impl TeamGauges {
    /// Reads all gauges.
    pub fn read(&self) -> GaugeValues {
        GaugeValues {
            started: self.started.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            connected: self.connected.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            peak_connected: self.peak_connected.load(Ordering::Relaxed),
        }
    }
}

/// Shared state between recorders and the aggregator.
#[derive(Debug)]
pub struct Hub {
    start: Instant,
    level: AtomicU32,
    gauges: Box<[TeamGauges]>,
    shards: Box<[Mutex<Vec<Event>>]>,
    samples: Mutex<Vec<FailureSample>>,
    /// Samples taken per (team, kind, op), to bound them without taking a lock first.
    sample_slots: Box<[AtomicU8]>,
    /// Per team, per level: expectations still awaited within their deadline (from the sweeper).
    pending: Mutex<Vec<Vec<u64>>>,
    /// Set once the load has stopped and the run is waiting for what is still awaited.
    draining: AtomicBool,
}

impl Hub {
    /// A hub for `teams` teams, with the run starting now.
    pub fn new(teams: usize) -> Arc<Hub> {
        Hub::starting_at(teams, Instant::now())
    }

    /// A hub for `teams` teams whose run started at `start`.
    pub fn starting_at(teams: usize, start: Instant) -> Arc<Hub> {
        let slots = teams * FailureKind::COUNT * Op::COUNT;
        Arc::new(Hub {
            start,
            level: AtomicU32::new(0),
            gauges: (0..teams).map(|_| TeamGauges::default()).collect(),
            shards: (0..SHARDS).map(|_| Mutex::new(Vec::new())).collect(),
            samples: Mutex::new(Vec::new()),
            sample_slots: (0..slots).map(|_| AtomicU8::new(0)).collect(),
            pending: Mutex::new(vec![Vec::new(); teams]),
            draining: AtomicBool::new(false),
        })
    }

    /// When the run started.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Number of teams.
    pub fn teams(&self) -> usize {
        self.gauges.len()
    }

    /// The level in force.
    pub fn level(&self) -> u32 {
        self.level.load(Ordering::Relaxed)
    }

    /// Moves to another level; events recorded from now on belong to it.
    pub fn set_level(&self, level: u32) {
        self.level.store(level, Ordering::Relaxed);
    }

    /// Gauges of `team`.
    pub fn gauges(&self, team: usize) -> &TeamGauges {
        &self.gauges[team]
    }

    /// Publishes what `team` still awaits, per level (deliveries, receipts, reaction updates whose
    /// deadline has not passed): a level with any is still being judged.
    pub fn set_pending(&self, team: usize, by_level: Vec<u64>) {
        if let Some(p) = lock(&self.pending).get_mut(team) {
            *p = by_level;
        }
    }

    /// What `team` still awaits in `level`, as last published.
    pub fn pending(&self, team: usize, level: usize) -> u64 {
        lock(&self.pending)
            .get(team)
            .and_then(|p| p.get(level).copied())
            .unwrap_or(0)
    }

    /// What `team` still awaits over every level, as last published.
    pub fn pending_total(&self, team: usize) -> u64 {
        lock(&self.pending).get(team).map_or(0, |p| p.iter().sum())
    }

    /// Marks the run as draining: no more load, waiting for what is still awaited.
    pub fn set_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// True once the run is draining.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// A recorder for one VU of `team`.
    pub fn recorder(self: &Arc<Self>, team: u16, vu: u32) -> Recorder {
        Recorder {
            hub: Arc::clone(self),
            team,
            shard: (vu as usize % SHARDS) as u8,
            failed: false,
            started: false,
            connected: false,
        }
    }

    /// Takes every event recorded since the last drain, appending them to `out`.
    pub fn drain_into(&self, out: &mut Vec<Event>) {
        for shard in self.shards.iter() {
            let mut buf = lock(shard);
            out.append(&mut buf);
        }
    }

    /// Takes the failure samples recorded since the last call.
    pub fn take_samples(&self) -> Vec<FailureSample> {
        std::mem::take(&mut *lock(&self.samples))
    }

    fn push(&self, shard: u8, event: Event) {
        lock(&self.shards[shard as usize]).push(event);
    }

    fn slot(&self, team: u16, kind: FailureKind, op: Op) -> &AtomicU8 {
        let i = (team as usize * FailureKind::COUNT + kind.index()) * Op::COUNT + op.index();
        &self.sample_slots[i]
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the buffers hold plain
/// counters whose worst case after a panic is one lost event, never an invalid state.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One VU's handle for recording. Cheap (an `Arc` and a few bytes); not shared between VUs.
///
/// It also tracks the VU's own lifecycle so the gauges stay consistent whatever path the VU takes:
/// dropping a recorder of a started VU marks it finished and disconnected.
#[derive(Debug)]
pub struct Recorder {
    hub: Arc<Hub>,
    team: u16,
    shard: u8,
    failed: bool,
    started: bool,
    connected: bool,
}

impl Recorder {
    /// Team index.
    pub fn team(&self) -> u16 {
        self.team
    }

    /// The hub this recorder writes to.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Microseconds since the run started.
    pub fn now_micros(&self) -> u64 {
        self.hub.start.elapsed().as_micros() as u64
    }

    fn event(&self, what: What) {
        self.event_in(self.hub.level(), what);
    }

    fn event_in(&self, level: u32, what: What) {
        let level = level.min(u16::MAX as u32) as u16;
        self.hub.push(
            self.shard,
            Event {
                team: self.team,
                level,
                what,
            },
        );
    }

    /// Records a successful timed request.
    pub fn ok(&self, op: Op, micros: u64) {
        self.event(What::Ok { op, micros });
    }

    /// Records a timed success that belongs to an earlier level: a delivery, receipt or echo is
    /// charged to the level its message was sent in, however late it arrives.
    pub fn ok_in(&self, level: u32, op: Op, micros: u64) {
        self.event_in(level, What::Ok { op, micros });
    }

    /// Records a copy of another segment's message.
    pub fn foreign(&self) {
        self.event(What::Foreign);
    }

    /// Records a `resync` event from the server (a reference-server extension).
    pub fn resync(&self) {
        self.event(What::Resync);
    }

    /// Records `count` expectations of `level` that the run could not judge.
    pub fn unjudged_in(&self, level: u32, op: Op, count: u64) {
        if count > 0 {
            let count = count.min(u64::from(u32::MAX)) as u32;
            self.event_in(level, What::Unjudged { op, count });
        }
    }

    /// Records a successful untimed request.
    pub fn done(&self, op: Op) {
        self.event(What::Done { op });
    }

    /// Records a sent chat message (`SendAck`, `FileMessage`) or read mark (`MarkRead`).
    pub fn sent(&self, op: Op) {
        self.event(What::Sent { op });
    }

    /// Records a failure; `message` is only built when a sample slot is free.
    ///
    /// Marks the VU failed when `fails_vu` is set (every failure except, by default, delivery
    /// findings, which are the server's fault towards another member).
    pub fn failure(
        &mut self,
        op: Op,
        kind: FailureKind,
        fails_vu: bool,
        message: impl FnOnce() -> String,
    ) {
        self.finding(op, kind, message);
        if fails_vu {
            self.mark_failed();
        }
    }

    /// Records a finding that belongs to an earlier level (a late duplicate or reordered copy of a
    /// message sent then), failing the VU when `fails_vu` is set.
    pub fn failure_in(
        &mut self,
        level: u32,
        op: Op,
        kind: FailureKind,
        fails_vu: bool,
        message: impl FnOnce() -> String,
    ) {
        self.finding_in(level, op, kind, message);
        if fails_vu {
            self.mark_failed();
        }
    }

    /// Records a failure without touching the VU's own state.
    pub fn finding(&self, op: Op, kind: FailureKind, message: impl FnOnce() -> String) {
        self.finding_in(self.hub.level(), op, kind, message);
    }

    /// Records a failure that belongs to an earlier level: the delivery sweeper finds a message
    /// missing only after its deadline, but the loss belongs to the level it was sent in.
    pub fn finding_in(
        &self,
        level: u32,
        op: Op,
        kind: FailureKind,
        message: impl FnOnce() -> String,
    ) {
        self.event_in(level, What::Failed { op, kind });
        let slot = self.hub.slot(self.team, kind, op);
        if slot.load(Ordering::Relaxed) < SAMPLES_PER_KEY
            && slot.fetch_add(1, Ordering::Relaxed) < SAMPLES_PER_KEY
        {
            lock(&self.hub.samples).push(FailureSample {
                team: self.team,
                kind,
                op,
                message: clean_sample(&message()),
            });
        }
    }

    /// True once the VU has failed.
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Marks the VU failed (once); it stops counting as active.
    pub fn mark_failed(&mut self) {
        if self.failed {
            return;
        }
        self.failed = true;
        let g = self.hub.gauges(self.team as usize);
        g.failed.fetch_add(1, Ordering::Relaxed);
        if self.started {
            g.active.fetch_sub(1, Ordering::Relaxed);
            self.started = false;
        }
        self.set_connected(false);
    }

    /// Marks the VU started and active.
    pub fn mark_started(&mut self) {
        let g = self.hub.gauges(self.team as usize);
        g.started.fetch_add(1, Ordering::Relaxed);
        g.active.fetch_add(1, Ordering::Relaxed);
        self.started = true;
    }

    /// Marks the VU's socket open or closed.
    pub fn set_connected(&mut self, connected: bool) {
        if connected == self.connected {
            return;
        }
        self.connected = connected;
        let g = self.hub.gauges(self.team as usize);
        if connected {
            let now = g.connected.fetch_add(1, Ordering::Relaxed) + 1;
            g.peak_connected.fetch_max(now, Ordering::Relaxed);
        } else {
            g.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.set_connected(false);
        if self.started {
            self.hub
                .gauges(self.team as usize)
                .active
                .fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_team_and_level() {
        let hub = Hub::new(2);
        let r = hub.recorder(1, 7);
        r.ok(Op::Login, 1500);
        hub.set_level(3);
        r.sent(Op::SendAck);
        let mut out = Vec::new();
        hub.drain_into(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].team, 1);
        assert_eq!(out[0].level, 0);
        assert_eq!(out[1].level, 3);
        assert_eq!(out[1].what, What::Sent { op: Op::SendAck });
        out.clear();
        hub.drain_into(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn samples_are_bounded_per_key() {
        let hub = Hub::new(1);
        let mut r = hub.recorder(0, 0);
        let mut built = 0;
        for _ in 0..100 {
            r.failure(Op::Login, FailureKind::Timeout, false, || {
                built += 1;
                "timed out".into()
            });
        }
        assert_eq!(built, SAMPLES_PER_KEY as usize);
        assert_eq!(hub.take_samples().len(), SAMPLES_PER_KEY as usize);
        let mut out = Vec::new();
        hub.drain_into(&mut out);
        assert_eq!(out.len(), 100);
    }

    #[test]
    fn samples_are_cleaned_of_control_characters_and_cut() {
        let hub = Hub::new(1);
        let r = hub.recorder(0, 0);
        r.finding(Op::Hold, FailureKind::ServerError, || {
            "error event X: \u{1b}[2J\u{1b}[31mboom\r\nforged line\u{7}".into()
        });
        let samples = hub.take_samples();
        assert_eq!(
            samples[0].message,
            "error event X: \\u{1b}[2J\\u{1b}[31mboom\\r\\nforged line\\u{7}"
        );
        let long = clean_sample(&"é".repeat(1000));
        assert_eq!(long.chars().count(), SAMPLE_CHARS + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn gauges_follow_the_vu_lifecycle() {
        let hub = Hub::new(1);
        {
            let mut a = hub.recorder(0, 0);
            let mut b = hub.recorder(0, 1);
            a.mark_started();
            b.mark_started();
            a.set_connected(true);
            b.set_connected(true);
            let g = hub.gauges(0).read();
            assert_eq!(
                (g.started, g.active, g.connected, g.peak_connected),
                (2, 2, 2, 2)
            );
            b.failure(Op::JoinRoom, FailureKind::Timeout, true, || "x".into());
            b.failure(Op::JoinRoom, FailureKind::Timeout, true, || "x".into());
            let g = hub.gauges(0).read();
            assert_eq!((g.active, g.connected, g.failed), (1, 1, 1));
        }
        let g = hub.gauges(0).read();
        assert_eq!(
            (g.started, g.active, g.connected, g.failed, g.peak_connected),
            (2, 0, 0, 1, 2)
        );
    }
}
