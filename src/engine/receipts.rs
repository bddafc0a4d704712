//! Read receipts and reaction updates, verified like chat deliveries.
//!
//! When a VU emits `markMessagesAsRead {roomId, messageIds}`, every other member that had joined the
//! room by then must be told, by `messagesRead {userId, messageIds}` events from the server, that this
//! reader read every one of those ids — in one event or several, merged with other marks or not —
//! within the receipt deadline. When a VU reacts to a message, every other member must see a
//! `messageReactionUpdate` for that message whose reactions contain the VU's reaction. What is not
//! seen in time is `receipt_missing` / `reaction_missing`; a `messagesRead` that tells a member nothing
//! it had not been told already about marks still tracked is `receipt_duplicate`.
//!
//! Members know the reader only by the user id the server gave it, so marks are indexed by (a hash of
//! the reader's user id, a hash of the message id): a receipt is matched without any directory of
//! users. A mark holds at most [`MAX_MARK_IDS`] ids, so which of them a member has been told about is
//! one bit mask per member.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use protocol::events::Reactions;

use super::delivery::{Missing, Receipt, Sweep, lock};
use super::expect::{Entry, Judged, Members, Waiter};

/// Number of shards of each table.
const SHARDS: usize = 16;

/// Most ids one mark is verified for (the newest ones). A client marks what it shows, a page of 30.
pub const MAX_MARK_IDS: usize = 32;

/// A stable 64-bit hash of an id: FNV-1a, the same in every process and on every machine. Every
/// member hashes every id of every receipt it is told (in a hot room, hundreds of thousands a
/// second), so this is a few multiplications per byte rather than SipHash; ids are chosen by the
/// server, but a collision only makes one receipt look told, it cannot hide a lost one in bulk.
pub fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Hashes keys that are already hashes (or small integers) with one multiply, instead of the
/// standard library's SipHash: the tables here are looked up once per id of every receipt.
#[derive(Debug, Default, Clone, Copy)]
struct PrehashedKey(u64);

impl Hasher for PrehashedKey {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        // Fold into the state with a Fibonacci multiply, so composite keys mix their parts.
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A map keyed by hashes.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PrehashedKey>>;

/// A member waiting for a mark's receipt, with the ids (bit `i` = the mark's `i`-th id) it has not
/// been told about yet.
#[derive(Debug, Clone, Copy)]
struct ReadWaiter {
    vu: u32,
    unseen: u32,
}

impl Waiter for ReadWaiter {
    fn vu(&self) -> u32 {
        self.vu
    }
}

#[derive(Debug)]
struct Mark {
    reader: u32,
    ids: Vec<u64>,
    entry: Entry<ReadWaiter>,
}

#[derive(Debug, Default)]
struct ReadShard {
    /// Marks by (reader's user-id hash, the reader's mark number).
    marks: FastMap<(u64, u32), Mark>,
    /// (reader's user-id hash, message-id hash) → the mark that holds the id.
    by_id: FastMap<(u64, u64), u32>,
}

/// Outstanding read receipts of one team's run.
#[derive(Debug)]
pub struct ReadTracker {
    shards: Box<[Mutex<ReadShard>]>,
    deadline_micros: u64,
}

impl ReadTracker {
    /// A tracker with the given deadline.
    pub fn new(deadline_micros: u64) -> ReadTracker {
        ReadTracker {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(ReadShard::default()))
                .collect(),
            deadline_micros,
        }
    }

    fn shard(&self, user: u64) -> &Mutex<ReadShard> {
        &self.shards[(user % SHARDS as u64) as usize]
    }

    /// Registers mark number `mark` of VU `reader` (server user id hash `user`), emitted at `t0` in
    /// `level`, for the other members `recipients`. Only the newest [`MAX_MARK_IDS`] ids are
    /// verified, and an id this reader marked in a mark still tracked is not expected twice.
    #[allow(clippy::too_many_arguments)]
    pub fn expect(
        &self,
        reader: u32,
        user: u64,
        mark: u32,
        ids: &[String],
        t0: u64,
        level: u32,
        recipients: Vec<u32>,
    ) {
        if recipients.is_empty() || ids.is_empty() {
            return;
        }
        let mut shard = lock(self.shard(user));
        let mut hashes: Vec<u64> = Vec::with_capacity(ids.len().min(MAX_MARK_IDS));
        for id in ids.iter().rev() {
            let h = id_hash(id);
            if hashes.len() == MAX_MARK_IDS {
                break;
            }
            if !hashes.contains(&h) && !shard.by_id.contains_key(&(user, h)) {
                hashes.push(h);
            }
        }
        if hashes.is_empty() {
            return;
        }
        let all = if hashes.len() == 32 {
            u32::MAX
        } else {
            (1u32 << hashes.len()) - 1
        };
        for &h in &hashes {
            shard.by_id.insert((user, h), mark);
        }
        let waiting = recipients
            .into_iter()
            .map(|vu| ReadWaiter { vu, unseen: all })
            .collect();
        let entry = Entry::new(t0, level, self.deadline_micros, waiting);
        shard.marks.insert(
            (user, mark),
            Mark {
                reader,
                ids: hashes,
                entry,
            },
        );
    }

    /// Withdraws a mark whose emit failed.
    pub fn cancel(&self, user: u64, mark: u32) {
        let mut shard = lock(self.shard(user));
        if let Some(m) = shard.marks.remove(&(user, mark)) {
            for h in m.ids {
                shard.by_id.remove(&(user, h));
            }
        }
    }

    /// Member `vu` was told at `now` that the user with id hash `user` read `ids`. Returns a
    /// [`Receipt::Delivered`] for every mark this completes for the member, or one
    /// [`Receipt::Duplicate`] when the event covered only marks the member already had complete.
    pub fn receive<'a>(
        &self,
        vu: u32,
        user: u64,
        ids: impl IntoIterator<Item = &'a str>,
        now: u64,
    ) -> Vec<Receipt> {
        let mut shard = lock(self.shard(user));
        let ReadShard { marks, by_id } = &mut *shard;
        let mut out = Vec::new();
        let mut news = false;
        let mut repeat: Option<u32> = None;
        for id in ids {
            let h = id_hash(id);
            let Some(&mark) = by_id.get(&(user, h)) else {
                continue;
            };
            let Some(m) = marks.get_mut(&(user, mark)) else {
                by_id.remove(&(user, h));
                continue;
            };
            let Some(bit) = m.ids.iter().position(|&x| x == h) else {
                continue;
            };
            match m.entry.waiting_index(vu) {
                Some(i) => {
                    let w = &mut m.entry.waiting[i];
                    if w.unseen & (1 << bit) != 0 {
                        news = true;
                        w.unseen &= !(1 << bit);
                    }
                    if w.unseen == 0 {
                        out.push(Receipt::Delivered {
                            latency_micros: m.entry.complete(i, now),
                            level: m.entry.level,
                        });
                    }
                }
                None if m.entry.done.contains(&vu) => {
                    repeat.get_or_insert(m.entry.level);
                }
                None => {}
            }
        }
        if !news && let Some(level) = repeat {
            out.push(Receipt::Duplicate { level });
        }
        out
    }

    /// Removes marks past their deadline, returning the receipts never completed for live members
    /// (`sender` is the reader, `seq` the mark number) and what is still pending.
    pub fn sweep(&self, now: u64, members: &Members) -> Sweep {
        let mut out = Sweep::default();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let ReadShard { marks, by_id } = &mut *shard;
            marks.retain(|&(user, mark), m| {
                let keep = m.entry.sweep(now, members, &mut out.pending, |recipient| {
                    out.missing.push(Missing {
                        recipient,
                        sender: m.reader,
                        seq: mark,
                        level: m.entry.level,
                    })
                });
                if !keep {
                    for h in &m.ids {
                        by_id.remove(&(user, *h));
                    }
                }
                keep
            });
        }
        out
    }

    /// Ends verification: receipts still awaited by live members, per level. Empties the tracker.
    pub fn take_unjudged(&self, members: &Members) -> Judged {
        let mut judged = Judged::default();
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            shard.by_id.clear();
            for m in shard.marks.drain().map(|(_, m)| m) {
                judged.add_pending(m.entry.level, m.entry.unjudged(members));
            }
        }
        judged
    }
}

#[derive(Debug)]
struct Reaction {
    reactor: u32,
    seq: u32,
    user: Box<str>,
    reaction: Box<str>,
    entry: Entry<u32>,
}

/// Reactions awaited, by message-id hash.
type ReactionShard = Mutex<FastMap<u64, Vec<Reaction>>>;

/// Outstanding reaction updates of one team's run, by message.
#[derive(Debug)]
pub struct ReactionTracker {
    shards: Box<[ReactionShard]>,
    deadline_micros: u64,
}

impl ReactionTracker {
    /// A tracker with the given deadline.
    pub fn new(deadline_micros: u64) -> ReactionTracker {
        ReactionTracker {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(FastMap::default()))
                .collect(),
            deadline_micros,
        }
    }

    fn shard(&self, message: u64) -> &ReactionShard {
        &self.shards[(message % SHARDS as u64) as usize]
    }

    /// Registers reaction number `seq` of VU `reactor` (server user id `user`): `reaction` on
    /// `message_id`, emitted at `t0` in `level`, to be seen by `recipients`.
    #[allow(clippy::too_many_arguments)]
    pub fn expect(
        &self,
        reactor: u32,
        seq: u32,
        user: &str,
        message_id: &str,
        reaction: &str,
        t0: u64,
        level: u32,
        recipients: Vec<u32>,
    ) {
        if recipients.is_empty() {
            return;
        }
        let message = id_hash(message_id);
        lock(self.shard(message))
            .entry(message)
            .or_default()
            .push(Reaction {
                reactor,
                seq,
                user: user.into(),
                reaction: reaction.into(),
                entry: Entry::new(t0, level, self.deadline_micros, recipients),
            });
    }

    /// Withdraws a reaction whose emit failed.
    pub fn cancel(&self, reactor: u32, seq: u32, message_id: &str) {
        let message = id_hash(message_id);
        let mut shard = lock(self.shard(message));
        if let Some(list) = shard.get_mut(&message) {
            list.retain(|r| (r.reactor, r.seq) != (reactor, seq));
            if list.is_empty() {
                shard.remove(&message);
            }
        }
    }

    /// Member `vu` saw `reactions` on `message_id` at `now`: one [`Receipt::Delivered`] per expected
    /// reaction this update shows for the first time to this member.
    pub fn receive(
        &self,
        vu: u32,
        message_id: &str,
        reactions: &Reactions,
        now: u64,
    ) -> Vec<Receipt> {
        let message = id_hash(message_id);
        let mut shard = lock(self.shard(message));
        let Some(list) = shard.get_mut(&message) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in list.iter_mut() {
            let shown = reactions
                .get(&*r.reaction)
                .is_some_and(|users| users.iter().any(|u| **u == *r.user));
            if shown && let Some(i) = r.entry.waiting_index(vu) {
                out.push(Receipt::Delivered {
                    latency_micros: r.entry.complete(i, now),
                    level: r.entry.level,
                });
            }
        }
        out
    }

    /// Removes reactions past their deadline, returning the updates never seen by live members
    /// (`sender` is the reactor, `seq` its reaction number) and what is still pending.
    pub fn sweep(&self, now: u64, members: &Members) -> Sweep {
        let mut out = Sweep::default();
        for shard in self.shards.iter() {
            lock(shard).retain(|_, list| {
                list.retain(|r| {
                    r.entry.sweep(now, members, &mut out.pending, |recipient| {
                        out.missing.push(Missing {
                            recipient,
                            sender: r.reactor,
                            seq: r.seq,
                            level: r.entry.level,
                        })
                    })
                });
                !list.is_empty()
            });
        }
        out
    }

    /// Ends verification: updates still awaited by live members, per level. Empties the tracker.
    pub fn take_unjudged(&self, members: &Members) -> Judged {
        let mut judged = Judged::default();
        for shard in self.shards.iter() {
            for r in lock(shard).drain().flat_map(|(_, list)| list) {
                judged.add_pending(r.entry.level, r.entry.unjudged(members));
            }
        }
        judged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("m{i}")).collect()
    }

    fn members(n: u32) -> Members {
        let m = Members::new(n as usize);
        for vu in 0..n {
            m.set_alive(vu, true);
        }
        m
    }

    #[test]
    fn id_hashes_are_stable_and_spread() {
        // FNV-1a's published value for "a": the same in every process, so segments agree.
        assert_eq!(id_hash("a"), 0xaf63_dc4c_8601_ec8c);
        let hashes: std::collections::HashSet<u64> = (0..10_000)
            .map(|i| id_hash(&format!("65f0c3a1b2{i:014x}")))
            .collect();
        assert_eq!(hashes.len(), 10_000);
    }

    #[test]
    fn a_mark_completes_when_every_id_was_told_in_any_number_of_events() {
        let t = ReadTracker::new(1_000);
        let alice = id_hash("alice");
        t.expect(0, alice, 1, &ids(3), 100, 2, vec![1, 2]);
        // Member 1 learns in two events, the second also carrying an id nobody marked.
        assert!(t.receive(1, alice, ["m0", "m2"], 150).is_empty());
        assert_eq!(
            t.receive(1, alice, ["m1", "zz"], 180),
            vec![Receipt::Delivered {
                latency_micros: 80,
                level: 2
            }]
        );
        // The same news again tells member 1 nothing new.
        assert_eq!(
            t.receive(1, alice, ["m1"], 190),
            vec![Receipt::Duplicate { level: 2 }]
        );
        // Another reader's receipt for the same ids does not count for alice's mark.
        assert!(
            t.receive(2, id_hash("bob"), ["m0", "m1", "m2"], 200)
                .is_empty()
        );
        let s = t.sweep(1_099, &members(3));
        assert_eq!(s.pending.by_level, vec![0, 0, 1]);
        let s = t.sweep(1_100, &members(3));
        assert_eq!(
            s.missing,
            vec![Missing {
                recipient: 2,
                sender: 0,
                seq: 1,
                level: 2
            }]
        );
        // Gone after its deadline: a late receipt is neither delivered nor duplicate.
        assert!(t.receive(2, alice, ["m0", "m1", "m2"], 1_200).is_empty());
    }

    #[test]
    fn one_receipt_can_complete_several_merged_marks() {
        let t = ReadTracker::new(1_000);
        let alice = id_hash("alice");
        t.expect(0, alice, 1, &["a".into(), "b".into()], 0, 0, vec![1]);
        t.expect(0, alice, 2, &["c".into()], 10, 1, vec![1]);
        let got = t.receive(1, alice, ["a", "b", "c"], 50);
        assert_eq!(
            got,
            vec![
                Receipt::Delivered {
                    latency_micros: 50,
                    level: 0
                },
                Receipt::Delivered {
                    latency_micros: 40,
                    level: 1
                },
            ]
        );
    }

    #[test]
    fn ids_marked_again_are_expected_once_and_marks_are_capped() {
        let t = ReadTracker::new(1_000);
        let alice = id_hash("alice");
        t.expect(0, alice, 1, &["a".into()], 0, 0, vec![1]);
        // "a" again (a duplicated message marked twice) plus "b": only "b" is expected of mark 2.
        t.expect(0, alice, 2, &["a".into(), "b".into()], 10, 0, vec![1]);
        assert_eq!(t.receive(1, alice, ["b"], 20).len(), 1);
        assert_eq!(t.receive(1, alice, ["a"], 30).len(), 1);
        // Only the newest 32 ids of a long mark are verified.
        t.expect(0, alice, 3, &ids(40), 0, 0, vec![1]);
        let newest: Vec<String> = ids(40).split_off(8);
        let got = t.receive(1, alice, newest.iter().map(String::as_str), 40);
        assert_eq!(got.len(), 1);
        assert_eq!(t.take_unjudged(&members(2)).total(), 0);
    }

    #[test]
    fn reactions_are_seen_when_an_update_contains_them() {
        let t = ReactionTracker::new(1_000);
        t.expect(0, 1, "alice", "m1", "👍", 100, 3, vec![1, 2]);
        let mut r = Reactions::new();
        r.insert("👍".into(), vec!["bob".into()]);
        assert!(t.receive(1, "m1", &r, 150).is_empty(), "not alice's");
        r.insert("👍".into(), vec!["bob".into(), "alice".into()]);
        assert_eq!(
            t.receive(1, "m1", &r, 160),
            vec![Receipt::Delivered {
                latency_micros: 60,
                level: 3
            }]
        );
        assert!(t.receive(1, "m1", &r, 170).is_empty(), "seen once");
        let all = members(3);
        assert_eq!(t.sweep(1_099, &all).pending.by_level, vec![0, 0, 0, 1]);
        let s = t.sweep(1_100, &all);
        assert_eq!(s.missing.len(), 1);
        assert_eq!(s.missing[0].recipient, 2);
        t.expect(0, 2, "alice", "m2", "❤", 2_000, 4, vec![1]);
        assert_eq!(t.take_unjudged(&all).by_level, vec![0, 0, 0, 0, 1]);
    }
}
