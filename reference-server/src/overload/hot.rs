//! Hot rooms (LINE OpenChat): detection and push thinning, pure and clock-injected.
//!
//! - [`TokenBucket`] / [`RoomBuckets`]: a bucket per room, one token per chat message or history load;
//!   a room that finds its bucket empty is hot. The bucket detects, it never refuses: a message in a
//!   hot room is stored and delivered like any other.
//! - [`HotSet`]: which rooms are hot until when (this instance's view; [`coord`](super::coord) keeps
//!   instances in agreement).
//! - [`Thinner`]: for hot rooms, decides per member whether a recoverable push goes out now, and
//!   remembers what each member missed so that it converges.
//!
//! What "converges" means here, per push class:
//! - `participantsUpdate` and `messageReactionUpdate` carry the *whole* state of their subject (the
//!   room's participant list, one message's reactions). A member that misses one is owed the latest
//!   state of that subject — unless a newer push of the same subject reaches it first, which carries
//!   the same state.
//! - `messagesRead` carries a delta (these ids were read by this reader). A member that misses one is
//!   owed the union of the reader's missed ids — the newest `owed_receipt_ids` of them: a member
//!   converges on the read state of the messages it shows, and the readers of older ones come with
//!   them when it fetches them (history carries readers). That bound is what keeps a hot room's
//!   receipts from costing as many bytes as without thinning: every reader's receipt carries every
//!   message it read, and in a room of hundreds that is most of what the room sends. Repeating ids
//!   a member already has is harmless (marking read is idempotent).
//! - `aiMessageChunk` carries the reply so far, and every stream ends with `aiMessageComplete` or
//!   `aiMessageError`, which are never thinned: a missed chunk is made good by the next chunk the
//!   member gets, or by the end of the stream. Nothing is owed.
//! - Chat messages (`message`) are never thinned.
//!
//! Two guarantees hold for every member of a hot room: it gets at least `min_pushes` thinnable pushes
//! per `min_interval` when there are that many (the first ones of the interval), so no one starves;
//! and what it is owed reaches it `converge_within` after the first push of that subject it missed,
//! merged with everything of the subject it missed since, so everyone converges. The member that
//! caused a push (the reactor) always gets it: it is waiting for it.
//!
//! Owing is where the saving is: a subject that changes several times within `converge_within`
//! (a reader who marks messages read every few seconds, a message collecting reactions) reaches the
//! members that missed those pushes once, not once per change. Each subject's deadline runs from its
//! own first miss, so what is owed goes out spread over time, not in one burst per interval.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::config::HotConfig;
use crate::frame::Frame;
use crate::store::Id;

/// A token bucket with the clock passed in.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `size` tokens at `now`.
    pub fn full(size: u32, now: Instant) -> Self {
        TokenBucket {
            tokens: f64::from(size),
            last: now,
        }
    }

    /// Refills for the time since the last call (up to `size`), then takes one token. False when the
    /// bucket was empty.
    pub fn take(&mut self, now: Instant, size: u32, refill_per_sec: f64) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * refill_per_sec).min(f64::from(size));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Tokens in the bucket as of the last call.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }
}

/// Buckets kept before pruning: a bucket that has refilled entirely is the same as a fresh one, so
/// full buckets are dropped when the map reaches this size.
const PRUNE_AT: usize = 4096;

/// A token bucket per room.
#[derive(Debug, Default)]
pub struct RoomBuckets {
    buckets: HashMap<Id, TokenBucket>,
}

impl RoomBuckets {
    /// Takes a token from `room`'s bucket; false when the bucket was empty (the room is hot).
    pub fn take(&mut self, room: &str, now: Instant, config: &HotConfig) -> bool {
        if self.buckets.len() >= PRUNE_AT {
            let (size, rate) = (f64::from(config.bucket_size), config.refill_per_sec);
            self.buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < size
            });
        }
        let bucket = match self.buckets.get_mut(room) {
            Some(bucket) => bucket,
            None => self
                .buckets
                .entry(room.to_owned())
                .or_insert_with(|| TokenBucket::full(config.bucket_size, now)),
        };
        bucket.take(now, config.bucket_size, config.refill_per_sec)
    }

    /// Rooms with a bucket.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no room has a bucket.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// Which rooms are hot, and until when.
#[derive(Debug, Default)]
pub struct HotSet {
    until: HashMap<Id, Instant>,
}

impl HotSet {
    /// Marks `room` hot until `until` (a later mark extends, an earlier one does not shorten).
    pub fn mark(&mut self, room: &str, until: Instant) {
        let slot = self.until.entry(room.to_owned()).or_insert(until);
        *slot = (*slot).max(until);
    }

    /// True while `room` is hot.
    pub fn is_hot(&self, room: &str, now: Instant) -> bool {
        self.until.get(room).is_some_and(|&until| now < until)
    }

    /// When `room` stops being hot, if it is.
    pub fn until(&self, room: &str) -> Option<Instant> {
        self.until.get(room).copied()
    }

    /// Forgets expired marks; returns the rooms that stopped being hot.
    pub fn expire(&mut self, now: Instant) -> Vec<Id> {
        let mut ended = Vec::new();
        self.until.retain(|room, &mut until| {
            let hot = now < until;
            if !hot {
                ended.push(room.clone());
            }
            hot
        });
        ended
    }

    /// Rooms with a mark, expired or not.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// True when no room has a mark.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }

    /// Rooms hot at `now`.
    pub fn count(&self, now: Instant) -> usize {
        self.until.values().filter(|&&until| now < until).count()
    }
}

/// The kinds of push that may be thinned (for configuration and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushClass {
    /// `messagesRead`.
    Receipts,
    /// `messageReactionUpdate`.
    Reactions,
    /// `participantsUpdate`.
    Participants,
    /// `aiMessageChunk`.
    AiChunks,
}

impl PushClass {
    /// Every class, in a fixed order.
    pub const ALL: [PushClass; 4] = [
        PushClass::Receipts,
        PushClass::Reactions,
        PushClass::Participants,
        PushClass::AiChunks,
    ];

    /// Stable snake_case name (config and metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            PushClass::Receipts => "receipts",
            PushClass::Reactions => "reactions",
            PushClass::Participants => "participants",
            PushClass::AiChunks => "ai_chunks",
        }
    }

    /// Index into per-class arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// True when `config` thins this class.
    pub fn thinned_by(self, config: &HotConfig) -> bool {
        let t = &config.thin;
        match self {
            PushClass::Receipts => t.receipts,
            PushClass::Reactions => t.reactions,
            PushClass::Participants => t.participants,
            PushClass::AiChunks => t.ai_chunks,
        }
    }
}

/// What a thinnable push carries, which decides what a member that misses it is owed.
#[derive(Debug, Clone)]
pub enum Push {
    /// Superseded by later pushes and by a final push that is never thinned: nothing is owed.
    Transient(Frame),
    /// The whole current state of `key`: a member that misses it is owed the latest state of `key`.
    State {
        /// The subject (`participants`, or a message id).
        key: String,
        /// The encoded event.
        frame: Frame,
    },
    /// `messagesRead` of one reader: a member that misses it is owed the ids.
    Receipt {
        /// Who read.
        reader: Id,
        /// What they read.
        message_ids: Vec<Id>,
    },
}

/// Who a push is for, besides the room's members.
#[derive(Debug, Clone, Copy, Default)]
pub struct Audience<'a> {
    /// Never sent to this member (the reader of its own receipt).
    pub except: Option<&'a str>,
    /// Always sent to this member (whoever caused the push and waits for it).
    pub actor: Option<&'a str>,
}

/// One member's count of thinnable pushes in its current interval.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    sent: u32,
}

/// Latest missed state of one subject, who misses it, and since when.
#[derive(Debug)]
struct OwedState {
    frame: Frame,
    owed: HashSet<Arc<str>>,
    since: Instant,
}

/// Missed receipts of one reader (the newest `owed_receipt_ids` of them), who misses them, and
/// since when.
#[derive(Debug)]
struct OwedReceipts {
    ids: VecDeque<Id>,
    seen: HashSet<Id>,
    owed: HashSet<Arc<str>>,
    since: Instant,
}

#[derive(Debug, Default)]
struct RoomThinning {
    windows: HashMap<Arc<str>, Window>,
    states: HashMap<String, OwedState>,
    receipts: HashMap<Id, OwedReceipts>,
}

/// What to send for a push: the frame, and who gets it now.
#[derive(Debug)]
pub struct Decision {
    /// Members that get the push now.
    pub now: Vec<Arc<str>>,
    /// Members that do not (their convergence is recorded).
    pub thinned: usize,
}

/// Something owed, now due: one frame's worth for every member in `members`.
#[derive(Debug)]
pub struct OwedBatch {
    /// The hot room.
    pub room: Id,
    /// What each of them gets.
    pub owed: Owed,
    /// Who is owed it (members that left since may be among them).
    pub members: Vec<Arc<str>>,
}

/// What is owed.
#[derive(Debug, Clone)]
pub enum Owed {
    /// Send this frame (the latest state of a subject).
    Frame(Frame),
    /// Send `messagesRead {userId: reader, messageIds}`.
    Receipt {
        /// Who read.
        reader: Id,
        /// Everything of theirs the member missed.
        message_ids: Vec<Id>,
    },
}

/// Thinning state of every hot room, with its own randomness. The caller owns the clock and the
/// member lists.
#[derive(Debug)]
pub struct Thinner {
    rooms: HashMap<Id, RoomThinning>,
    rng: SmallRng,
}

impl Default for Thinner {
    fn default() -> Self {
        Thinner::seeded(rand::random())
    }
}

impl Thinner {
    /// Rooms with thinning state (windows, owed pushes).
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// A thinner whose draws are reproducible from `seed` (tests).
    pub fn seeded(seed: u64) -> Self {
        Thinner {
            rooms: HashMap::new(),
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Decides who among `members` gets `push` now. Members left out are recorded as owed what the
    /// push carried (see the module docs).
    pub fn thin(
        &mut self,
        room: &str,
        members: &[Arc<str>],
        audience: Audience<'_>,
        push: &Push,
        now: Instant,
        config: &HotConfig,
    ) -> Decision {
        let state = self.rooms.entry(room.to_owned()).or_default();
        let mut send = Vec::with_capacity(members.len());
        let mut skipped = Vec::new();
        for sid in members {
            if audience.except == Some(sid.as_ref()) {
                continue;
            }
            let window = state.windows.entry(Arc::clone(sid)).or_insert(Window {
                start: now,
                sent: 0,
            });
            if now.saturating_duration_since(window.start) >= config.min_interval {
                *window = Window {
                    start: now,
                    sent: 0,
                };
            }
            let deliver = audience.actor == Some(sid.as_ref())
                || window.sent < config.min_pushes
                || self.rng.random_bool(config.push_probability);
            if deliver {
                window.sent += 1;
                send.push(Arc::clone(sid));
            } else {
                skipped.push(Arc::clone(sid));
            }
        }
        let thinned = skipped.len();
        match push {
            Push::Transient(_) => {}
            Push::State { key, frame } => {
                // Whoever got this push now holds the latest state; whoever missed it is owed it.
                let entry = state.states.entry(key.clone()).or_insert(OwedState {
                    frame: frame.clone(),
                    owed: HashSet::new(),
                    since: now,
                });
                entry.frame = frame.clone();
                for sid in &send {
                    entry.owed.remove(sid);
                }
                entry.owed.extend(skipped);
                if entry.owed.is_empty() {
                    state.states.remove(key);
                }
            }
            Push::Receipt {
                reader,
                message_ids,
            } => {
                if !skipped.is_empty() {
                    // A member that got this receipt may still owe earlier ones: nobody is removed.
                    let entry =
                        state
                            .receipts
                            .entry(reader.clone())
                            .or_insert_with(|| OwedReceipts {
                                ids: VecDeque::new(),
                                seen: HashSet::new(),
                                owed: HashSet::new(),
                                since: now,
                            });
                    for id in message_ids {
                        if entry.seen.insert(id.clone()) {
                            entry.ids.push_back(id.clone());
                            if entry.ids.len() > config.owed_receipt_ids as usize
                                && let Some(oldest) = entry.ids.pop_front()
                            {
                                entry.seen.remove(&oldest);
                            }
                        }
                    }
                    entry.owed.extend(skipped);
                }
            }
        }
        Decision { now: send, thinned }
    }

    /// Takes what is due: every subject whose first miss is `converge_within` old, with the members
    /// owed it, and forgets it. Windows of members quiet for two intervals are dropped (they restart
    /// fresh), then rooms with nothing left.
    pub fn flush(&mut self, now: Instant, config: &HotConfig) -> Vec<OwedBatch> {
        let due = |since: Instant| now.saturating_duration_since(since) >= config.converge_within;
        let mut out = Vec::new();
        for (room, state) in &mut self.rooms {
            for (_, owed) in state.states.extract_if(|_, o| due(o.since)) {
                out.push(OwedBatch {
                    room: room.clone(),
                    owed: Owed::Frame(owed.frame),
                    members: owed.owed.into_iter().collect(),
                });
            }
            for (reader, owed) in state.receipts.extract_if(|_, o| due(o.since)) {
                out.push(OwedBatch {
                    room: room.clone(),
                    owed: Owed::Receipt {
                        reader,
                        message_ids: owed.ids.into(),
                    },
                    members: owed.owed.into_iter().collect(),
                });
            }
            state
                .windows
                .retain(|_, w| now.saturating_duration_since(w.start) < config.min_interval * 2);
        }
        self.rooms
            .retain(|_, s| !(s.windows.is_empty() && s.states.is_empty() && s.receipts.is_empty()));
        out
    }

    /// Rooms with thinning state.
    pub fn rooms(&self) -> usize {
        self.rooms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn config(p: f64, min: u32) -> HotConfig {
        HotConfig {
            push_probability: p,
            min_pushes: min,
            min_interval: s(1),
            converge_within: s(1),
            ..HotConfig::default()
        }
    }

    /// Each member's owed frames (receipts written `reader:ids`), sorted.
    fn by_member(batches: Vec<OwedBatch>) -> HashMap<Arc<str>, Vec<String>> {
        let mut out: HashMap<Arc<str>, Vec<String>> = HashMap::new();
        for batch in batches {
            assert_eq!(batch.room, "r");
            let text = match batch.owed {
                Owed::Frame(frame) => frame.to_string(),
                Owed::Receipt {
                    reader,
                    message_ids,
                } => format!("{reader}:{}", message_ids.join(",")),
            };
            for sid in batch.members {
                out.entry(sid).or_default().push(text.clone());
            }
        }
        for frames in out.values_mut() {
            frames.sort();
        }
        out
    }

    fn members(n: usize) -> Vec<Arc<str>> {
        (0..n).map(|i| Arc::from(format!("m{i}"))).collect()
    }

    fn state(key: &str, version: u32) -> Push {
        Push::State {
            key: key.into(),
            frame: Frame::from(format!("{key}@{version}")),
        }
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_refill_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::full(3, t0);
        assert!(b.take(t0, 3, 2.0));
        assert!(b.take(t0, 3, 2.0));
        assert!(b.take(t0, 3, 2.0));
        assert!(!b.take(t0, 3, 2.0), "burst of 3 spent");
        // 2 tokens per second: one more after half a second, not before.
        assert!(!b.take(t0 + Duration::from_millis(400), 3, 2.0));
        assert!(b.take(t0 + Duration::from_millis(500), 3, 2.0));
        // A long pause refills to the size, never beyond.
        assert!(b.take(t0 + s(100), 3, 2.0));
        assert!((b.tokens() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_room_is_hot_when_its_bucket_runs_dry() {
        let c = HotConfig {
            bucket_size: 5,
            refill_per_sec: 1.0,
            ..HotConfig::default()
        };
        let t0 = Instant::now();
        let mut buckets = RoomBuckets::default();
        for _ in 0..5 {
            assert!(buckets.take("busy", t0, &c));
        }
        assert!(!buckets.take("busy", t0, &c));
        // Another room has its own bucket.
        assert!(buckets.take("quiet", t0, &c));

        let mut hot = HotSet::default();
        hot.mark("busy", t0 + s(30));
        hot.mark("busy", t0 + s(10)); // an earlier mark does not shorten
        assert!(hot.is_hot("busy", t0 + s(29)));
        assert!(!hot.is_hot("busy", t0 + s(30)));
        assert_eq!(hot.count(t0), 1);
        assert_eq!(hot.expire(t0 + s(30)), vec!["busy".to_owned()]);
        assert_eq!(hot.until("busy"), None);
    }

    #[test]
    fn thinning_delivers_about_the_configured_share() {
        let c = config(0.25, 0);
        let mut thinner = Thinner::seeded(7);
        let m = members(100);
        let t0 = Instant::now();
        let mut sent = 0;
        let pushes = 200;
        for i in 0..pushes {
            let push = Push::Transient(Frame::from("chunk"));
            let d = thinner.thin(
                "r",
                &m,
                Audience::default(),
                &push,
                t0 + Duration::from_millis(i),
                &c,
            );
            assert_eq!(d.now.len() + d.thinned, 100);
            sent += d.now.len();
        }
        let share = sent as f64 / (pushes as f64 * 100.0);
        assert!((share - 0.25).abs() < 0.01, "delivered share {share}");
    }

    #[test]
    fn every_member_gets_the_guaranteed_minimum_per_interval() {
        // Probability 0: only the guarantee delivers anything.
        let c = config(0.0, 2);
        let mut thinner = Thinner::seeded(1);
        let m = members(10);
        let t0 = Instant::now();
        let mut got: HashMap<Arc<str>, u32> = HashMap::new();
        for i in 0..50 {
            // 50 pushes within one interval.
            let d = thinner.thin(
                "r",
                &m,
                Audience::default(),
                &Push::Transient(Frame::from("x")),
                t0 + Duration::from_millis(i * 10),
                &c,
            );
            for sid in d.now {
                *got.entry(sid).or_default() += 1;
            }
        }
        assert_eq!(got.len(), 10);
        assert!(got.values().all(|&n| n == 2), "{got:?}");
        // The next interval starts a new allowance.
        let d = thinner.thin(
            "r",
            &m,
            Audience::default(),
            &Push::Transient(Frame::from("x")),
            t0 + s(1),
            &c,
        );
        assert_eq!(d.now.len(), 10);
    }

    #[test]
    fn the_actor_always_gets_its_push_and_the_excepted_never() {
        let c = config(0.0, 0);
        let mut thinner = Thinner::seeded(1);
        let m = members(3);
        let t0 = Instant::now();
        let d = thinner.thin(
            "r",
            &m,
            Audience {
                except: Some("m0"),
                actor: Some("m1"),
            },
            &state("reactions:x", 1),
            t0,
            &c,
        );
        assert_eq!(d.now, vec![Arc::<str>::from("m1")]);
        assert_eq!(d.thinned, 1);
    }

    #[test]
    fn members_that_missed_state_converge_on_the_latest_state() {
        let c = config(0.0, 1);
        let mut thinner = Thinner::seeded(3);
        let m = members(4);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Five versions of one message's reactions, and two of the participant list, in one
        // interval. Each member gets only its guaranteed first push.
        let mut last_seen: HashMap<Arc<str>, String> = HashMap::new();
        let mut pushes = vec![state("participants", 1)];
        pushes.extend((1..=5).map(|v| state("msg-1", v)));
        pushes.push(state("participants", 2));
        for (i, push) in pushes.iter().enumerate() {
            let d = thinner.thin("r", &m, Audience::default(), push, t0 + ms(i as u64), &c);
            let Push::State { frame, .. } = push else {
                unreachable!("state pushes only")
            };
            for sid in d.now {
                last_seen.insert(sid, frame.to_string());
            }
        }
        assert!(last_seen.values().all(|f| f == "participants@1"));
        // converge_within (1 s) after the last first miss: each member is owed exactly the latest
        // state of each subject.
        let due = t0 + s(1) + ms(pushes.len() as u64);
        let owed = by_member(thinner.flush(due, &c));
        assert_eq!(owed.len(), 4);
        for frames in owed.values() {
            assert_eq!(frames, &["msg-1@5", "participants@2"]);
        }
        // Nothing is owed twice.
        assert!(thinner.flush(due, &c).is_empty());
    }

    #[test]
    fn a_newer_push_that_arrives_settles_what_was_owed() {
        // Member m0 misses version 1, then gets version 2 by chance: it owes nothing, and it must
        // not be sent version 1 (stale) afterwards.
        let c = config(1.0, 0);
        let mut thinner = Thinner::seeded(3);
        let m = members(1);
        let t0 = Instant::now();
        let never = config(0.0, 0);
        thinner.thin("r", &m, Audience::default(), &state("k", 1), t0, &never);
        let d = thinner.thin("r", &m, Audience::default(), &state("k", 2), t0, &c);
        assert_eq!(d.now.len(), 1);
        assert!(thinner.flush(t0 + s(1), &c).is_empty());
    }

    #[test]
    fn missed_receipts_are_owed_as_one_merged_receipt_per_reader() {
        let c = config(0.0, 0);
        let mut thinner = Thinner::seeded(3);
        let m = members(2);
        let t0 = Instant::now();
        for ids in [vec!["a", "b"], vec!["b", "c"]] {
            let push = Push::Receipt {
                reader: "reader".into(),
                message_ids: ids.into_iter().map(String::from).collect(),
            };
            let d = thinner.thin("r", &m, Audience::default(), &push, t0, &c);
            assert!(d.now.is_empty());
        }
        let owed = by_member(thinner.flush(t0 + s(1), &c));
        assert_eq!(owed.len(), 2);
        assert!(owed.values().all(|f| f == &["reader:a,b,c"]), "{owed:?}");
    }

    #[test]
    fn an_owed_receipt_carries_the_newest_ids_only() {
        let c = HotConfig {
            owed_receipt_ids: 3,
            ..config(0.0, 0)
        };
        let mut thinner = Thinner::seeded(5);
        let m = members(2);
        let t0 = Instant::now();
        for ids in [vec!["a", "b"], vec!["c", "b", "d"], vec!["e"]] {
            let push = Push::Receipt {
                reader: "reader".into(),
                message_ids: ids.into_iter().map(String::from).collect(),
            };
            thinner.thin("r", &m, Audience::default(), &push, t0, &c);
        }
        let owed = by_member(thinner.flush(t0 + s(1), &c));
        assert_eq!(owed.len(), 2);
        assert!(owed.values().all(|f| f == &["reader:c,d,e"]), "{owed:?}");
    }

    #[test]
    fn what_is_owed_waits_for_its_deadline_and_merges_what_came_meanwhile() {
        // 10 s to converge; a reader marks messages read every 4 s, a message's reactions change
        // every 3 s. Members get nothing by chance, so all of it is owed.
        let c = HotConfig {
            converge_within: s(10),
            ..config(0.0, 0)
        };
        let mut thinner = Thinner::seeded(5);
        let m = members(3);
        let t0 = Instant::now();
        let receipt = |ids: &[&str]| Push::Receipt {
            reader: "reader".into(),
            message_ids: ids.iter().map(|id| id.to_string()).collect(),
        };
        let audience = Audience::default();
        thinner.thin("r", &m, audience, &receipt(&["a"]), t0, &c);
        thinner.thin("r", &m, audience, &state("msg-1", 1), t0 + s(2), &c);
        thinner.thin("r", &m, audience, &receipt(&["b"]), t0 + s(4), &c);
        thinner.thin("r", &m, audience, &state("msg-1", 2), t0 + s(5), &c);
        thinner.thin("r", &m, audience, &receipt(&["c"]), t0 + s(8), &c);
        thinner.thin("r", &m, audience, &state("msg-1", 3), t0 + s(8), &c);
        // Before the first deadline nothing goes out.
        assert!(thinner.flush(t0 + s(9), &c).is_empty());
        // 10 s after the first missed receipt: the three receipts, merged into one per member.
        let owed = by_member(thinner.flush(t0 + s(10), &c));
        assert_eq!(owed.len(), 3);
        assert!(owed.values().all(|f| f == &["reader:a,b,c"]), "{owed:?}");
        // 10 s after the first missed reaction update: only its latest state.
        assert!(thinner.flush(t0 + s(11), &c).is_empty());
        let owed = by_member(thinner.flush(t0 + s(12), &c));
        assert!(owed.values().all(|f| f == &["msg-1@3"]), "{owed:?}");
        assert_eq!(owed.len(), 3);
        // A later read starts a new deadline of its own.
        thinner.thin("r", &m, audience, &receipt(&["d"]), t0 + s(13), &c);
        assert!(thinner.flush(t0 + s(22), &c).is_empty());
        let owed = by_member(thinner.flush(t0 + s(23), &c));
        assert!(owed.values().all(|f| f == &["reader:d"]), "{owed:?}");
    }

    #[test]
    fn quiet_members_and_rooms_are_forgotten() {
        let c = config(1.0, 0);
        let mut thinner = Thinner::seeded(3);
        let t0 = Instant::now();
        thinner.thin(
            "r",
            &members(3),
            Audience::default(),
            &state("k", 1),
            t0,
            &c,
        );
        assert_eq!(thinner.rooms(), 1);
        thinner.flush(t0 + s(1), &c);
        assert_eq!(thinner.rooms(), 1);
        thinner.flush(t0 + s(2), &c);
        assert_eq!(thinner.rooms(), 0);
    }
}
