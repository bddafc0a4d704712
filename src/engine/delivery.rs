//! Delivery verification: every chat message a VU sends must reach every other member of its room,
//! exactly once, in the sender's order, within the deadline.
//!
//! The sender registers an expectation *before* emitting (so no receipt can race ahead of it) with
//! the members that had joined the room by then; each member reports receipts; a sweeper turns
//! expectations past their deadline into `delivery_missing` findings. Messages are recognised by a
//! short marker appended to their text, so this works against any server that stores text as sent.

use std::collections::HashMap;
use std::sync::Mutex;

use super::expect::{Entry, Judged, Members};

/// Number of shards of the pending table.
const SHARDS: usize = 16;

/// Appends the delivery marker of (`vu`, `seq`) to a message text.
pub fn with_marker(text: &str, nonce: &str, vu: u32, seq: u32) -> String {
    format!("{text} [sp:{nonce}:{vu}:{seq}]")
}

/// Finds the marker of this run (`nonce`) in a message text: the sender VU and its sequence number.
pub fn parse_marker(content: &str, nonce: &str) -> Option<(u32, u32)> {
    let start = content.rfind("[sp:")? + 4;
    let end = start + content[start..].find(']')?;
    let rest = &content[start..end];
    let mut parts = rest.splitn(3, ':');
    if parts.next()? != nonce {
        return None;
    }
    let vu = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some((vu, seq))
}

/// What a copy turned out to be. Every variant that counts names the level the thing was *sent*
/// in: a late copy belongs to the level whose load produced it, not to the one it arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// First copy for an expected member; latency from the intended send time.
    Delivered {
        /// Microseconds from intended send to receipt.
        latency_micros: u64,
        /// Level it was sent in.
        level: u32,
    },
    /// This member already received it.
    Duplicate {
        /// Level it was sent in.
        level: u32,
    },
    /// Not expected for this member (it joined after the send, or the deadline already passed).
    Unexpected,
}

/// Something a member did not see in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// Member who did not see it.
    pub recipient: u32,
    /// Sender (of the message, the receipt or the reaction).
    pub sender: u32,
    /// Sender's sequence number.
    pub seq: u32,
    /// Level it was sent in.
    pub level: u32,
}

/// What a sweep found: misses, and what is still pending per level (deadline not reached yet).
#[derive(Debug, Default)]
pub struct Sweep {
    /// Expectations past their deadline with members still waiting.
    pub missing: Vec<Missing>,
    /// Members still waiting, per level, for expectations not yet past their deadline.
    pub pending: Judged,
}

/// Pending messages of one shard, keyed by (sender VU, sequence number).
type Shard = Mutex<HashMap<(u32, u32), Entry<u32>>>;

/// Outstanding deliveries of one team's run.
#[derive(Debug)]
pub struct DeliveryTracker {
    shards: Box<[Shard]>,
    deadline_micros: u64,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a shard leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeliveryTracker {
    /// A tracker with the given deadline.
    pub fn new(deadline_micros: u64) -> DeliveryTracker {
        DeliveryTracker {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            deadline_micros,
        }
    }

    fn shard(&self, sender: u32, seq: u32) -> &Shard {
        &self.shards[(sender as usize).wrapping_add(seq as usize) % SHARDS]
    }

    /// Registers a message about to be sent at intended time `t0` (µs since run start), in `level`, to
    /// `recipients`.
    pub fn expect(&self, sender: u32, seq: u32, t0: u64, level: u32, recipients: Vec<u32>) {
        if recipients.is_empty() {
            return;
        }
        let entry = Entry::new(t0, level, self.deadline_micros, recipients);
        lock(self.shard(sender, seq)).insert((sender, seq), entry);
    }

    /// Withdraws an expectation whose message could not be sent.
    pub fn cancel(&self, sender: u32, seq: u32) {
        lock(self.shard(sender, seq)).remove(&(sender, seq));
    }

    /// A member received (`sender`, `seq`) at `now` (µs since run start).
    pub fn receive(&self, recipient: u32, sender: u32, seq: u32, now: u64) -> Receipt {
        let mut shard = lock(self.shard(sender, seq));
        let Some(e) = shard.get_mut(&(sender, seq)) else {
            return Receipt::Unexpected;
        };
        if let Some(i) = e.waiting_index(recipient) {
            Receipt::Delivered {
                latency_micros: e.complete(i, now),
                level: e.level,
            }
        } else if e.done.contains(&recipient) {
            Receipt::Duplicate { level: e.level }
        } else {
            Receipt::Unexpected
        }
    }

    /// Removes expectations whose deadline has passed by `now`, returning the deliveries that never
    /// happened (to members still alive) and what is still pending. Entries are kept until their
    /// deadline even when complete, so late duplicates are still recognised.
    pub fn sweep(&self, now: u64, members: &Members) -> Sweep {
        let mut out = Sweep::default();
        for shard in self.shards.iter() {
            lock(shard).retain(|&(sender, seq), e| {
                e.sweep(now, members, &mut out.pending, |recipient| {
                    out.missing.push(Missing {
                        recipient,
                        sender,
                        seq,
                        level: e.level,
                    })
                })
            });
        }
        out
    }

    /// Ends verification: the deliveries still awaited by live members, per level, which the run
    /// can no longer judge. The table is empty afterwards.
    pub fn take_unjudged(&self, members: &Members) -> Judged {
        let mut judged = Judged::default();
        for shard in self.shards.iter() {
            for e in lock(shard).drain().map(|(_, e)| e) {
                judged.add_pending(e.level, e.unjudged(members));
            }
        }
        judged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip() {
        let text = with_marker("hello", "ab12", 42, 7);
        assert_eq!(text, "hello [sp:ab12:42:7]");
        assert_eq!(parse_marker(&text, "ab12"), Some((42, 7)));
        assert_eq!(parse_marker(&text, "other"), None);
        assert_eq!(parse_marker("hello", "ab12"), None);
        assert_eq!(parse_marker("[sp:ab12:x:1]", "ab12"), None);
        // A server that appends to the text still lets the marker be found.
        assert_eq!(
            parse_marker("@wayneAI hi [sp:ab12:3:4] (edited)", "ab12"),
            Some((3, 4))
        );
        assert_eq!(parse_marker("x [sp:ab12:3:4] y]", "ab12"), Some((3, 4)));
        assert_eq!(parse_marker("x [sp:ab12:3:4", "ab12"), None);
    }

    #[test]
    fn delivered_duplicate_missing_and_dead_members() {
        let t = DeliveryTracker::new(1_000);
        let members = Members::new(10);
        for vu in 0..10 {
            members.set_alive(vu, true);
        }
        t.expect(0, 1, 100, 4, vec![1, 2, 3]);
        assert_eq!(
            t.receive(1, 0, 1, 150),
            Receipt::Delivered {
                latency_micros: 50,
                level: 4
            }
        );
        assert_eq!(t.receive(1, 0, 1, 160), Receipt::Duplicate { level: 4 });
        assert_eq!(t.receive(9, 0, 1, 160), Receipt::Unexpected);
        assert_eq!(t.receive(1, 0, 2, 160), Receipt::Unexpected);
        members.set_alive(3, false);
        let early = t.sweep(1_099, &members);
        assert!(early.missing.is_empty());
        assert_eq!(
            early.pending.by_level,
            vec![0, 0, 0, 0, 1],
            "member 2, in level 4"
        );
        let missing = t.sweep(1_100, &members).missing;
        assert_eq!(
            missing,
            vec![Missing {
                recipient: 2,
                sender: 0,
                seq: 1,
                level: 4,
            }]
        );
        assert_eq!(t.sweep(1_100, &members).pending.total(), 0);
        // After the deadline, a late copy is not counted as delivered.
        assert_eq!(t.receive(2, 0, 1, 2_000), Receipt::Unexpected);
    }

    #[test]
    fn cancelled_sends_are_forgotten() {
        let t = DeliveryTracker::new(10);
        let members = Members::new(2);
        members.set_alive(1, true);
        t.expect(0, 1, 0, 0, vec![1]);
        t.cancel(0, 1);
        assert!(t.sweep(100, &members).missing.is_empty());
    }

    #[test]
    fn what_a_cut_run_could_not_judge_is_counted_by_level() {
        let t = DeliveryTracker::new(1_000);
        let members = Members::new(4);
        for vu in 0..3 {
            members.set_alive(vu, true);
        }
        t.expect(0, 1, 0, 0, vec![1, 2, 3]);
        t.expect(0, 2, 500, 1, vec![1, 2]);
        t.receive(1, 0, 1, 10);
        let unjudged = t.take_unjudged(&members);
        assert_eq!(unjudged.by_level, vec![1, 2], "member 3 never joined");
        assert_eq!(t.take_unjudged(&members).total(), 0);
    }
}
