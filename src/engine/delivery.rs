//! Delivery verification: every chat message a VU sends must reach every other member of its room,
//! exactly once, in the sender's order, within the deadline.
//!
//! The sender registers an expectation *before* emitting (so no receipt can race ahead of it) with
//! the members that had joined the room by then; each member reports receipts; a sweeper turns
//! expectations past their deadline into `delivery_missing` findings. Messages are recognised by a
//! short marker appended to their text, so this works against any server that stores text as sent.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// What a receipt turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// First copy for an expected member; latency from the intended send time.
    Delivered {
        /// Microseconds from intended send to receipt.
        latency_micros: u64,
    },
    /// This member already received this message.
    Duplicate,
    /// Not expected for this member (it joined after the send, or the deadline already passed).
    Unexpected,
}

/// A delivery that did not happen in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missing {
    /// Member who did not receive it.
    pub recipient: u32,
    /// Sender.
    pub sender: u32,
    /// Sender's sequence number.
    pub seq: u32,
    /// Level the message was sent in.
    pub level: u32,
}

#[derive(Debug)]
struct Pending {
    t0: u64,
    level: u32,
    deadline: u64,
    expected: Vec<u32>,
    got: Vec<u32>,
}

/// Pending messages of one shard, keyed by (sender VU, sequence number).
type Shard = Mutex<HashMap<(u32, u32), Pending>>;

/// Outstanding deliveries of one team's run.
#[derive(Debug)]
pub struct DeliveryTracker {
    shards: Box<[Shard]>,
    alive: Box<[AtomicBool]>,
    deadline_micros: u64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a shard leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DeliveryTracker {
    /// A tracker for VUs `0..vus` with the given deadline.
    pub fn new(vus: usize, deadline_micros: u64) -> DeliveryTracker {
        DeliveryTracker {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            alive: (0..vus).map(|_| AtomicBool::new(false)).collect(),
            deadline_micros,
        }
    }

    fn shard(&self, sender: u32, seq: u32) -> &Shard {
        &self.shards[(sender as usize).wrapping_add(seq as usize) % SHARDS]
    }

    /// Marks a member able (or no longer able) to receive. Deliveries to members that died are not
    /// counted as missing: their own failure is already counted.
    pub fn set_alive(&self, vu: u32, alive: bool) {
        if let Some(a) = self.alive.get(vu as usize) {
            a.store(alive, Ordering::Relaxed);
        }
    }

    /// Registers a message about to be sent at intended time `t0` (µs since run start), in `level`, to
    /// `recipients`.
    pub fn expect(&self, sender: u32, seq: u32, t0: u64, level: u32, recipients: Vec<u32>) {
        if recipients.is_empty() {
            return;
        }
        let pending = Pending {
            t0,
            level,
            deadline: t0 + self.deadline_micros,
            got: Vec::with_capacity(recipients.len()),
            expected: recipients,
        };
        lock(self.shard(sender, seq)).insert((sender, seq), pending);
    }

    /// Withdraws an expectation whose message could not be sent.
    pub fn cancel(&self, sender: u32, seq: u32) {
        lock(self.shard(sender, seq)).remove(&(sender, seq));
    }

    /// A member received (`sender`, `seq`) at `now` (µs since run start).
    pub fn receive(&self, recipient: u32, sender: u32, seq: u32, now: u64) -> Receipt {
        let mut shard = lock(self.shard(sender, seq));
        let Some(p) = shard.get_mut(&(sender, seq)) else {
            return Receipt::Unexpected;
        };
        if let Some(i) = p.expected.iter().position(|&r| r == recipient) {
            p.expected.swap_remove(i);
            p.got.push(recipient);
            Receipt::Delivered {
                latency_micros: now.saturating_sub(p.t0),
            }
        } else if p.got.contains(&recipient) {
            Receipt::Duplicate
        } else {
            Receipt::Unexpected
        }
    }

    /// Removes expectations whose deadline has passed by `now` and returns the deliveries that never
    /// happened (to members still alive). Entries are kept until their deadline even when complete,
    /// so late duplicates are still recognised.
    pub fn sweep(&self, now: u64) -> Vec<Missing> {
        let mut missing = Vec::new();
        for shard in self.shards.iter() {
            lock(shard).retain(|&(sender, seq), p| {
                if p.deadline > now {
                    return true;
                }
                for &recipient in &p.expected {
                    let alive = self
                        .alive
                        .get(recipient as usize)
                        .is_some_and(|a| a.load(Ordering::Relaxed));
                    if alive {
                        missing.push(Missing {
                            recipient,
                            sender,
                            seq,
                            level: p.level,
                        });
                    }
                }
                false
            });
        }
        missing
    }

    /// Expectations still open (their deadline has not passed).
    pub fn open(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
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
        let t = DeliveryTracker::new(10, 1_000);
        for vu in 0..10 {
            t.set_alive(vu, true);
        }
        t.expect(0, 1, 100, 4, vec![1, 2, 3]);
        assert_eq!(
            t.receive(1, 0, 1, 150),
            Receipt::Delivered { latency_micros: 50 }
        );
        assert_eq!(t.receive(1, 0, 1, 160), Receipt::Duplicate);
        assert_eq!(t.receive(9, 0, 1, 160), Receipt::Unexpected);
        assert_eq!(t.receive(1, 0, 2, 160), Receipt::Unexpected);
        t.set_alive(3, false);
        assert!(t.sweep(1_099).is_empty());
        assert_eq!(t.open(), 1);
        let missing = t.sweep(1_100);
        assert_eq!(
            missing,
            vec![Missing {
                recipient: 2,
                sender: 0,
                seq: 1,
                level: 4,
            }]
        );
        assert_eq!(t.open(), 0);
        // After the deadline, a late copy is not counted as delivered.
        assert_eq!(t.receive(2, 0, 1, 2_000), Receipt::Unexpected);
    }

    #[test]
    fn cancelled_sends_are_forgotten() {
        let t = DeliveryTracker::new(2, 10);
        t.set_alive(1, true);
        t.expect(0, 1, 0, 0, vec![1]);
        t.cancel(0, 1);
        assert!(t.sweep(100).is_empty());
    }
}
