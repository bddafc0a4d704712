//! What every verified push shares: a chat delivery, a read receipt and a reaction update are each an
//! expectation that some members of a room see something within a deadline.
//!
//! An [`Entry`] remembers when the thing was (intended to be) sent, the level it was sent in (every
//! finding and latency sample belongs to that level, however late it is found), its deadline, who still
//! has to see it and who has. [`Members`] says which members can still receive: deliveries to a member
//! whose own VU ended are not expected, its own failure is already counted. [`Judged`] collects what a
//! sweep found, per level. The trackers (`delivery`, `receipts`) own the tables; this module owns the
//! rules of judging, so that the three kinds are judged alike.

use std::sync::atomic::{AtomicBool, Ordering};

/// Which VUs of a team can receive: set when a VU joins its room, cleared when it ends.
#[derive(Debug)]
pub struct Members {
    alive: Box<[AtomicBool]>,
}

impl Members {
    /// Flags for VUs `0..vus`, none alive yet.
    pub fn new(vus: usize) -> Members {
        Members {
            alive: (0..vus).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// Marks a member able (or no longer able) to receive.
    pub fn set_alive(&self, vu: u32, alive: bool) {
        if let Some(a) = self.alive.get(vu as usize) {
            a.store(alive, Ordering::Relaxed);
        }
    }

    /// True when `vu` can receive.
    pub fn is_alive(&self, vu: u32) -> bool {
        self.alive
            .get(vu as usize)
            .is_some_and(|a| a.load(Ordering::Relaxed))
    }
}

/// A member an entry is waiting for: a VU index, plus whatever the kind needs to know what is still
/// missing (a read receipt waits for several ids).
pub trait Waiter {
    /// The member's VU index.
    fn vu(&self) -> u32;
}

impl Waiter for u32 {
    fn vu(&self) -> u32 {
        *self
    }
}

/// One expectation: something sent at `t0` in `level` that `waiting` must see by `deadline`.
#[derive(Debug)]
pub struct Entry<W> {
    /// Intended send time, µs since the run started; latency counts from here.
    pub t0: u64,
    /// Level the thing was sent in.
    pub level: u32,
    /// Past this (µs since the run started) a member still waiting has missed it.
    pub deadline: u64,
    /// Members that still have to see it.
    pub waiting: Vec<W>,
    /// Members that saw it (kept until the deadline, so a second copy is recognised).
    pub done: Vec<u32>,
}

impl<W: Waiter> Entry<W> {
    /// A new expectation for `waiting`.
    pub fn new(t0: u64, level: u32, deadline_micros: u64, waiting: Vec<W>) -> Entry<W> {
        Entry {
            t0,
            level,
            deadline: t0 + deadline_micros,
            done: Vec::with_capacity(waiting.len()),
            waiting,
        }
    }

    /// Position of `vu` among the waiting members.
    pub fn waiting_index(&self, vu: u32) -> Option<usize> {
        self.waiting.iter().position(|w| w.vu() == vu)
    }

    /// Moves the waiting member at `i` to the done list; returns the latency of its copy at `now`.
    pub fn complete(&mut self, i: usize, now: u64) -> u64 {
        let w = self.waiting.swap_remove(i);
        self.done.push(w.vu());
        now.saturating_sub(self.t0)
    }

    /// Judges the entry at `now` for a sweep: past its deadline, every live member still waiting is
    /// a miss (handed to `missed`) and the entry can go (`false`); before it, the live members still
    /// waiting are counted as pending in its level and the entry stays (`true`).
    pub fn sweep(
        &self,
        now: u64,
        members: &Members,
        judged: &mut Judged,
        mut missed: impl FnMut(u32),
    ) -> bool {
        let live = self.waiting.iter().filter(|w| members.is_alive(w.vu()));
        if self.deadline > now {
            judged.add_pending(self.level, live.count() as u64);
            return true;
        }
        for w in live {
            missed(w.vu());
        }
        false
    }

    /// Live members still waiting: when a run is cut short these could not be judged.
    pub fn unjudged(&self, members: &Members) -> u64 {
        self.waiting
            .iter()
            .filter(|w| members.is_alive(w.vu()))
            .count() as u64
    }
}

/// Counts per level, from a sweep (still pending) or from the end of a cut run (never judged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judged {
    /// Count per level index.
    pub by_level: Vec<u64>,
}

impl Judged {
    /// Adds `n` in `level`.
    pub fn add_pending(&mut self, level: u32, n: u64) {
        if n == 0 {
            return;
        }
        let i = level as usize;
        if self.by_level.len() <= i {
            self.by_level.resize(i + 1, 0);
        }
        self.by_level[i] += n;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Judged) {
        for (level, &n) in other.by_level.iter().enumerate() {
            self.add_pending(level as u32, n);
        }
    }

    /// Sum over every level.
    pub fn total(&self) -> u64 {
        self.by_level.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_judge_only_live_members() {
        let members = Members::new(4);
        for vu in 0..3 {
            members.set_alive(vu, true);
        }
        let mut e = Entry::new(100, 2, 1_000, vec![0u32, 1, 2, 3]);
        let i = e.waiting_index(1).unwrap();
        assert_eq!(e.complete(i, 400), 300);
        assert_eq!(e.waiting_index(1), None);
        assert_eq!(e.done, vec![1]);

        let mut judged = Judged::default();
        let mut missed = Vec::new();
        assert!(e.sweep(1_099, &members, &mut judged, |vu| missed.push(vu)));
        assert_eq!(
            judged.by_level,
            vec![0, 0, 2],
            "0 and 2 are live; 3 never was"
        );
        assert!(missed.is_empty());
        assert_eq!(e.unjudged(&members), 2);

        members.set_alive(2, false);
        let mut judged = Judged::default();
        assert!(!e.sweep(1_100, &members, &mut judged, |vu| missed.push(vu)));
        assert_eq!(missed, vec![0]);
        assert_eq!(judged.total(), 0);
    }
}
