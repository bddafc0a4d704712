//! Which room each VU enters, who creates it, and who is in it right now.
//!
//! Room assignment is a pure function of the policy, the seed and the VU index, so every team of a
//! match gets the same rooms. The first VU that needs a room creates it while later ones wait for its
//! id (a failed creation lets the next VU try). Membership here is the engine's own record of which
//! VUs have been accepted into a room (by `joinRoomSuccess`) and are still alive: it decides who must
//! receive each message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::OnceCell;

use super::plan::{RoomAssignment, RoomPolicy};

/// Which of the run's rooms a VU belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomKey {
    /// Group `n` of consecutive VUs.
    Group(u32),
    /// Shared room `n`.
    Shared(u32),
    /// The hot room.
    Hot,
}

impl RoomKey {
    /// The room's name on the server.
    pub fn name(self, nonce: &str) -> String {
        match self {
            RoomKey::Group(n) => format!("stampede {nonce} group {n}"),
            RoomKey::Shared(n) => format!("stampede {nonce} shared {n}"),
            RoomKey::Hot => format!("stampede {nonce} hot"),
        }
    }
}

/// The room a VU enters under `policy`; deterministic in (`seed`, `vu`).
pub fn assign(policy: &RoomPolicy, seed: u64, vu: u32) -> RoomKey {
    // One stream per VU, independent of how many draws other VUs made.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x726f_6f6d_u64.wrapping_mul(vu as u64 + 1));
    if policy.hot_room_share > 0.0 && rng.random::<f64>() < policy.hot_room_share {
        return RoomKey::Hot;
    }
    match policy.assignment {
        RoomAssignment::Groups { size } => RoomKey::Group(vu / size.max(1)),
        RoomAssignment::Shared { rooms } => RoomKey::Shared(rng.random_range(0..rooms.max(1))),
    }
}

/// The rooms of one team's run.
#[derive(Debug, Default)]
pub struct RoomDirectory {
    slots: Mutex<HashMap<RoomKey, Arc<OnceCell<String>>>>,
    members: Mutex<HashMap<String, Vec<u32>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RoomDirectory {
    /// The id cell of a room: empty until some VU has created it.
    pub fn slot(&self, key: RoomKey) -> Arc<OnceCell<String>> {
        Arc::clone(lock(&self.slots).entry(key).or_default())
    }

    /// Records that `vu` was accepted into `room`.
    pub fn join(&self, room: &str, vu: u32) {
        let mut members = lock(&self.members);
        let list = members.entry(room.to_owned()).or_default();
        if !list.contains(&vu) {
            list.push(vu);
        }
    }

    /// Records that `vu` left `room` (or died).
    pub fn leave(&self, room: &str, vu: u32) {
        if let Some(list) = lock(&self.members).get_mut(room) {
            list.retain(|&m| m != vu);
        }
    }

    /// Everyone in `room` except `vu`: the members a message from `vu` must reach.
    pub fn others(&self, room: &str, vu: u32) -> Vec<u32> {
        lock(&self.members)
            .get(room)
            .map(|l| l.iter().copied().filter(|&m| m != vu).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(assignment: RoomAssignment, hot: f64) -> RoomPolicy {
        RoomPolicy {
            assignment,
            hot_room_share: hot,
            password: None,
        }
    }

    #[test]
    fn groups_fill_consecutively() {
        let p = policy(RoomAssignment::Groups { size: 10 }, 0.0);
        assert_eq!(assign(&p, 1, 0), RoomKey::Group(0));
        assert_eq!(assign(&p, 1, 9), RoomKey::Group(0));
        assert_eq!(assign(&p, 1, 10), RoomKey::Group(1));
    }

    #[test]
    fn shared_and_hot_are_seeded() {
        let p = policy(RoomAssignment::Shared { rooms: 5 }, 0.2);
        let a: Vec<_> = (0..200).map(|vu| assign(&p, 7, vu)).collect();
        let b: Vec<_> = (0..200).map(|vu| assign(&p, 7, vu)).collect();
        assert_eq!(a, b);
        let hot = a.iter().filter(|k| **k == RoomKey::Hot).count();
        assert!((20..=60).contains(&hot), "{hot} of 200 in the hot room");
        assert!(a.iter().all(|k| match k {
            RoomKey::Shared(n) => *n < 5,
            RoomKey::Hot => true,
            RoomKey::Group(_) => false,
        }));
    }

    #[test]
    fn membership() {
        let d = RoomDirectory::default();
        d.join("r", 1);
        d.join("r", 2);
        d.join("r", 2);
        assert_eq!(d.others("r", 1), vec![2]);
        d.leave("r", 2);
        assert!(d.others("r", 1).is_empty());
        assert!(d.others("nope", 1).is_empty());
    }
}
