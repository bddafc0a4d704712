//! What instances sharing one Redis tell each other besides room events: where each user's sockets
//! are (`P:{u:ID}:sockets`, socket id → instance), the AI streams running in each room
//! (`P:{r:ID}:streams`, stream id → JSON with the text so far), and a control channel per instance
//! (`P:{i:ID}:ctl`) for "end this socket" notices. Also turns what arrives on the pub/sub
//! connection into [`Incoming`] values, so the bus above never sees a channel name.
//!
//! Every call here is best effort for its caller: the bus logs a failure and carries on, because a
//! lost presence entry costs at most a two-second wait on a later login, and a lost stream entry a
//! missing `activeStreams` item.

use std::collections::HashMap;

use redis::{AsyncCommands, PushInfo, PushKind};

use super::{RedisStore, store_error};
use crate::store::StoreError;

/// How long a running AI stream's entry outlives its last update: it is removed when the stream
/// ends, so only an instance that died mid-stream leaves one, and not for longer than this.
const STREAM_TTL_SECS: i64 = 60;

/// Something that arrived on the pub/sub connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A room event, as published: an [`Envelope`](super::Envelope) to parse.
    Event {
        /// The room.
        room: String,
        /// The envelope's text.
        payload: String,
    },
    /// A notice on an instance's control channel.
    Control {
        /// The instance whose channel it came on.
        instance: String,
        /// The notice's text.
        payload: String,
    },
    /// A room subscription was (re)confirmed; also sent when the client resubscribes by itself
    /// after a reconnect or failover, so events published meanwhile were missed.
    Subscribed {
        /// The room.
        room: String,
    },
    /// The connection was lost; subscriptions have to be made again (after a failover a room's
    /// channel lives on another node, which the client learns only when asked).
    Disconnected,
}

impl RedisStore {
    /// What `push` (from the pushes channel given to [`connect`](RedisStore::connect)) means;
    /// `None` for anything this store did not subscribe to.
    pub fn incoming(&self, push: PushInfo) -> Option<Incoming> {
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let mut data = push.data.into_iter();
                let (channel, payload) = (data.next()?, data.next()?);
                let channel: String = redis::from_redis_value(channel).ok()?;
                let payload: String = redis::from_redis_value(payload).ok()?;
                if let Some(room) = self.keys.room_of_channel(&channel) {
                    return Some(Incoming::Event {
                        room: room.to_owned(),
                        payload,
                    });
                }
                let instance = self.keys.instance_of_channel(&channel)?;
                Some(Incoming::Control {
                    instance: instance.to_owned(),
                    payload,
                })
            }
            PushKind::Subscribe | PushKind::SSubscribe => {
                let channel: String =
                    redis::from_redis_value(push.data.into_iter().next()?).ok()?;
                let room = self.keys.room_of_channel(&channel)?;
                Some(Incoming::Subscribed {
                    room: room.to_owned(),
                })
            }
            PushKind::Disconnection => Some(Incoming::Disconnected),
            _ => None,
        }
    }

    /// Subscribes to `instance`'s control channel.
    pub async fn subscribe_instance(&self, instance: &str) -> Result<(), StoreError> {
        self.conn()
            .subscribe(&self.keys.instance_channel(instance))
            .await
            .map_err(store_error)
    }

    /// Publishes `notice` on `instance`'s control channel. On a cluster the channel is sharded like
    /// a key, so it goes to the master of its slot.
    pub async fn notify_instance(&self, instance: &str, notice: &str) -> Result<(), StoreError> {
        let channel = self.keys.instance_channel(instance);
        let mut cmd = redis::cmd(self.conn.publish_command());
        cmd.arg(&channel).arg(notice);
        self.conn
            .to_master_of(&channel, cmd)
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    /// Records socket `sid` of `user` as connected to `instance`.
    pub async fn add_socket(
        &self,
        user: &str,
        sid: &str,
        instance: &str,
    ) -> Result<(), StoreError> {
        self.conn()
            .hset(self.keys.sockets(user), sid, instance)
            .await
            .map_err(store_error)
    }

    /// Forgets socket `sid` of `user`.
    pub async fn remove_sockets(&self, user: &str, sids: &[&str]) -> Result<(), StoreError> {
        self.conn()
            .hdel(self.keys.sockets(user), sids)
            .await
            .map_err(store_error)
    }

    /// Every connected socket of `user`: socket id → instance.
    pub async fn sockets(&self, user: &str) -> Result<HashMap<String, String>, StoreError> {
        self.conn()
            .hgetall(self.keys.sockets(user))
            .await
            .map_err(store_error)
    }

    /// Which of `sids` are still recorded for `user` (in the order given).
    pub async fn sockets_left(&self, user: &str, sids: &[&str]) -> Result<Vec<bool>, StoreError> {
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keys.sockets(user)).arg(sids);
        let left: Vec<Option<String>> = cmd
            .query_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        Ok(left.iter().map(Option::is_some).collect())
    }

    /// Records the running AI stream `id` of `room` as `json`, for another 60 seconds
    /// (`STREAM_TTL_SECS`).
    pub async fn record_stream(&self, room: &str, id: &str, json: &str) -> Result<(), StoreError> {
        let key = self.keys.streams(room);
        let mut pipe = redis::pipe();
        pipe.hset(&key, id, json)
            .ignore()
            .expire(&key, STREAM_TTL_SECS)
            .ignore();
        pipe.query_async(&mut self.conn())
            .await
            .map_err(store_error)
    }

    /// Forgets the AI stream `id` of `room`.
    pub async fn remove_stream(&self, room: &str, id: &str) -> Result<(), StoreError> {
        self.conn()
            .hdel(self.keys.streams(room), id)
            .await
            .map_err(store_error)
    }

    /// The JSON entries of the AI streams running in `room`, on any instance.
    pub async fn stream_entries(&self, room: &str) -> Result<Vec<String>, StoreError> {
        let all: HashMap<String, String> = self
            .conn()
            .hgetall(self.keys.streams(room))
            .await
            .map_err(store_error)?;
        Ok(all.into_values().collect())
    }
}
