//! How many replicas a room event waits for, and what happens when its shard has fewer than asked.
//!
//! Modelled on Redis's own `min-replicas-to-write` and `WAIT`: the store learns how many replicas
//! the master of a room's slot has connected now (`ROLE` on that master, cached per slot for
//! [`REPLICA_TTL`] so it costs one command per slot per second, not one per message) and then
//! - *available* (the default) waits for `min(replica_acks, connected)`: a master whose replica
//!   died (or that was just promoted and has none yet) keeps taking messages, and the shard is
//!   reported as degraded on `/health` and `/metrics` until its replicas are back;
//! - *strict* refuses a room event before writing it when the shard has fewer connected replicas
//!   than asked (what `min-replicas-to-write` does on the master), so a client is told at once
//!   instead of after a `WAIT` that cannot succeed.
//!
//! The bus calls [`RedisStore::check_durability`] before writing and [`RedisStore::wait_replicas`]
//! after; the counting and the degraded marks live here.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::Value;
use redis::cluster_routing::Slot;

use super::{RedisStore, corrupt, store_error};
use crate::store::StoreError;

/// How long a counted replica number is trusted: a promotion or a replica's return shows within
/// this much (about the cluster's own failure-detection granularity).
pub const REPLICA_TTL: Duration = Duration::from_secs(1);

/// What a room event does when its shard has fewer connected replicas than `--redis-replica-acks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Store it, wait for the replicas there are, and mark the server degraded.
    #[default]
    Available,
    /// Refuse it before writing (Redis's `min-replicas-to-write`).
    Strict,
}

/// A shard that has fewer connected replicas than asked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shortfall {
    /// A hash slot the shard serves (the first one a room event was seen on).
    pub slot: u16,
    /// Replicas connected to its master.
    pub connected: u32,
    /// Replicas asked for.
    pub wanted: u32,
}

/// Per-slot replica counts and the shards found short; shared by every room event of a store.
#[derive(Debug, Default)]
pub(super) struct ReplicaBook {
    inner: Mutex<Book>,
}

#[derive(Debug, Default)]
struct Book {
    /// Slot → (when counted, connected replicas).
    counts: HashMap<u16, (Instant, u32)>,
    /// Slots whose master was short when last counted: connected replicas, and a key of the slot
    /// to count them again by.
    short: HashMap<u16, (u32, String)>,
}

impl ReplicaBook {
    fn cached(&self, slot: u16) -> Option<u32> {
        let book = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        book.counts
            .get(&slot)
            .filter(|(at, _)| at.elapsed() < REPLICA_TTL)
            .map(|&(_, n)| n)
    }

    /// Records a count; logs when the slot's shard becomes short or recovers (once per change).
    fn record(&self, slot: u16, connected: u32, wanted: u32, key: &str) {
        let mut book = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        book.counts.insert(slot, (Instant::now(), connected));
        let was = book.short.get(&slot).map(|&(n, _)| n);
        if connected < wanted {
            if was != Some(connected) {
                tracing::warn!(
                    slot,
                    connected,
                    wanted,
                    "redis shard has fewer replicas than --redis-replica-acks; degraded"
                );
            }
            book.short.insert(slot, (connected, key.to_owned()));
        } else if was.is_some() {
            tracing::info!(
                slot,
                connected,
                wanted,
                "redis shard has its replicas again"
            );
            book.short.remove(&slot);
        }
    }

    /// Shards short when last counted (one entry per slot seen short; see
    /// [`RedisStore::recount_shortfalls`]).
    fn shortfalls(&self, wanted: u32) -> Vec<Shortfall> {
        let book = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<Shortfall> = book
            .short
            .iter()
            .map(|(&slot, &(connected, _))| Shortfall {
                slot,
                connected,
                wanted,
            })
            .collect();
        out.sort_by_key(|s| s.slot);
        out
    }
}

impl ReplicaBook {
    /// The short slots whose count is older than [`REPLICA_TTL`], each with a key to count by.
    fn stale_short(&self) -> Vec<(u16, String)> {
        let book = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        book.short
            .iter()
            .filter(|(slot, _)| {
                book.counts
                    .get(slot)
                    .is_none_or(|(at, _)| at.elapsed() >= REPLICA_TTL)
            })
            .map(|(&slot, (_, key))| (slot, key.clone()))
            .collect()
    }
}

/// The replicas a `ROLE` reply of a master lists (they are the connected ones).
fn replicas_in_role(reply: Value) -> Result<u32, StoreError> {
    let parts: Vec<Value> = redis::from_redis_value(reply).map_err(|_| corrupt("ROLE reply"))?;
    let mut parts = parts.into_iter();
    let role: String = parts
        .next()
        .map(redis::from_redis_value)
        .transpose()
        .map_err(|_| corrupt("ROLE reply"))?
        .unwrap_or_default();
    if role != "master" {
        // Routed to a node that is no longer the master: nothing can be acknowledged there.
        return Ok(0);
    }
    let replicas: Vec<Value> = parts
        .nth(1)
        .map(redis::from_redis_value)
        .transpose()
        .map_err(|_| corrupt("ROLE reply"))?
        .unwrap_or_default();
    Ok(u32::try_from(replicas.len()).unwrap_or(u32::MAX))
}

impl RedisStore {
    /// Replicas connected to the master of `room`'s slot now (cached for [`REPLICA_TTL`]).
    async fn connected_replicas(&self, room: &str) -> Result<(u16, u32), StoreError> {
        let key = self.keys.room(room);
        let slot = slot_of(&key);
        if let Some(n) = self.replicas.cached(slot) {
            return Ok((slot, n));
        }
        let reply = self
            .conn
            .to_master_of(&key, redis::cmd("ROLE"))
            .await
            .map_err(store_error)?;
        let n = replicas_in_role(reply)?;
        self.replicas
            .record(slot, n, self.options.replica_acks, &key);
        Ok((slot, n))
    }

    /// Counts again the replicas of every shard marked short whose count is over a second old, so
    /// the degraded mark clears when the replicas are back even if nothing is written there. The bus
    /// calls it every few seconds; a shard that does not answer stays as it was.
    pub async fn recount_shortfalls(&self) {
        for (slot, key) in self.replicas.stale_short() {
            let reply = self.conn.to_master_of(&key, redis::cmd("ROLE")).await;
            match reply.map_err(store_error).and_then(replicas_in_role) {
                Ok(n) => self
                    .replicas
                    .record(slot, n, self.options.replica_acks, &key),
                Err(e) => tracing::debug!(error = %e, slot, "could not count a shard's replicas"),
            }
        }
    }

    /// Replicas a room event of `room` waits for: `replica_acks`, or fewer when the shard has
    /// fewer and the policy is *available*. Under *strict* a shortfall is refused here, before
    /// anything is written.
    pub async fn check_durability(&self, room: &str) -> Result<u32, StoreError> {
        let want = self.options.replica_acks;
        if want == 0 {
            return Ok(0);
        }
        let (slot, have) = self.connected_replicas(room).await?;
        if have >= want {
            return Ok(want);
        }
        match self.options.durability {
            Durability::Available => Ok(have),
            Durability::Strict => Err(StoreError::Underreplicated(format!(
                "the room's storage shard (slot {slot}) has {have} of the {want} replica(s) \
                 required (--redis-durability strict); nothing was stored"
            ))),
        }
    }

    /// Shards that had fewer connected replicas than `--redis-replica-acks` when last written to.
    pub fn shortfalls(&self) -> Vec<Shortfall> {
        self.replicas.shortfalls(self.options.replica_acks)
    }

    /// The durability policy in force.
    pub fn durability(&self) -> Durability {
        self.options.durability
    }
}

/// The cluster hash slot of `key` (also used, harmlessly, on a standalone server).
fn slot_of(key: &str) -> u16 {
    // `Slot` keeps its number private; its Debug form is `Slot(n)`.
    let slot = Slot::for_key(key);
    format!("{slot:?}")
        .trim_start_matches("Slot(")
        .trim_end_matches(')')
        .parse()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_replies_count_replicas() {
        let master = Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(10),
            Value::Array(vec![Value::Array(vec![
                Value::BulkString(b"127.0.0.1".to_vec()),
                Value::BulkString(b"7001".to_vec()),
                Value::BulkString(b"10".to_vec()),
            ])]),
        ]);
        assert_eq!(replicas_in_role(master).unwrap(), 1);
        let alone = Value::Array(vec![
            Value::BulkString(b"master".to_vec()),
            Value::Int(10),
            Value::Array(vec![]),
        ]);
        assert_eq!(replicas_in_role(alone).unwrap(), 0);
    }

    #[test]
    fn slots_match_the_cluster_spec() {
        // CLUSTER KEYSLOT foo = 12182; hash tags count only the braces' content.
        assert_eq!(slot_of("foo"), 12182);
        assert_eq!(slot_of("x:{foo}:y"), 12182);
    }

    #[test]
    fn shortfalls_are_marked_and_cleared() {
        let book = ReplicaBook::default();
        book.record(5, 0, 1, "chat:{r:a}");
        assert!(book.stale_short().is_empty(), "just counted");
        assert_eq!(
            book.shortfalls(1),
            [Shortfall {
                slot: 5,
                connected: 0,
                wanted: 1
            }]
        );
        book.record(5, 1, 1, "chat:{r:a}");
        assert!(book.shortfalls(1).is_empty());
        assert!(book.stale_short().is_empty());
    }
}
