//! [`Coordination`]: how instances agree on hot rooms and on the overload config. This module owns
//! the shared state and its transport; it does not decide anything (that is [`Overload`](super::Overload)).
//!
//! - [`LocalCoordination`]: one instance; marks and revisions live in this process.
//! - [`RedisCoordination`]: many instances behind one Redis, standalone or a Cluster. A hot mark is
//!   a key with a TTL (`SET … PX`), so every instance agrees and the mark disappears on its own;
//!   config revisions come from one counter (`INCR`), so they are global and increasing; both are
//!   announced on one pub/sub channel, and the latest config is kept under a key for instances that
//!   start later.
//!
//! Every instance also receives its own announcements; applying them is idempotent (a mark extends
//! to the same time, a revision not newer than the running one is ignored).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::{PushInfo, PushKind};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::redis::{RedisConn, RedisTarget, Timeouts};

/// Announcements an instance hears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// `room` is hot for `ttl_ms` from now.
    Hot {
        /// The room id.
        room: String,
        /// How long it stays hot.
        ttl_ms: u64,
    },
    /// A new config revision (the whole TOML document).
    Config {
        /// Its global revision.
        revision: u64,
        /// The document.
        toml: String,
    },
}

/// A coordination backend failed.
#[derive(Debug, thiserror::Error)]
#[error("coordination backend: {0}")]
pub struct CoordError(String);

impl From<redis::RedisError> for CoordError {
    fn from(e: redis::RedisError) -> Self {
        CoordError(e.to_string())
    }
}

/// Shared hot marks and config revisions.
#[async_trait::async_trait]
pub trait Coordination: Send + Sync + 'static {
    /// Marks `room` hot for `ttl` on every instance.
    async fn mark_hot(&self, room: &str, ttl: Duration) -> Result<(), CoordError>;
    /// True while some instance's mark on `room` lasts.
    async fn is_hot(&self, room: &str) -> Result<bool, CoordError>;
    /// Stores `toml` as the newest config and announces it; returns its revision.
    async fn publish_config(&self, toml: &str) -> Result<u64, CoordError>;
    /// The newest published config, if any.
    async fn latest_config(&self) -> Result<Option<(u64, String)>, CoordError>;
    /// Announcements from now on (this instance's own included).
    fn subscribe(&self) -> broadcast::Receiver<Notice>;
    /// `local` or `redis`, for `/health` and logs.
    fn name(&self) -> &'static str;
}

/// Announcements buffered per subscriber before it starts missing some (it then resynchronizes
/// from [`Coordination::latest_config`]).
const NOTICE_BUFFER: usize = 1024;

/// A single instance's coordination.
#[derive(Debug)]
pub struct LocalCoordination {
    hot: Mutex<HashMap<String, Instant>>,
    revision: AtomicU64,
    latest: Mutex<Option<(u64, String)>>,
    notices: broadcast::Sender<Notice>,
}

impl Default for LocalCoordination {
    fn default() -> Self {
        LocalCoordination {
            hot: Mutex::default(),
            revision: AtomicU64::new(0),
            latest: Mutex::default(),
            notices: broadcast::channel(NOTICE_BUFFER).0,
        }
    }
}

#[async_trait::async_trait]
impl Coordination for LocalCoordination {
    async fn mark_hot(&self, room: &str, ttl: Duration) -> Result<(), CoordError> {
        let until = Instant::now() + ttl;
        {
            let mut hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            hot.retain(|_, u| *u > now);
            let slot = hot.entry(room.to_owned()).or_insert(until);
            *slot = (*slot).max(until);
        }
        let _ = self.notices.send(Notice::Hot {
            room: room.to_owned(),
            ttl_ms: ttl.as_millis() as u64,
        });
        Ok(())
    }

    async fn is_hot(&self, room: &str) -> Result<bool, CoordError> {
        let hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(hot.get(room).is_some_and(|u| *u > Instant::now()))
    }

    async fn publish_config(&self, toml: &str) -> Result<u64, CoordError> {
        let revision = self.revision.fetch_add(1, Ordering::AcqRel) + 1;
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((revision, toml.to_owned()));
        let _ = self.notices.send(Notice::Config {
            revision,
            toml: toml.to_owned(),
        });
        Ok(revision)
    }

    async fn latest_config(&self) -> Result<Option<(u64, String)>, CoordError> {
        Ok(self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    fn name(&self) -> &'static str {
        "local"
    }
}

/// Redis keys and channel of one deployment, all under its prefix (the chat store's, so deployments
/// sharing a Redis keep apart). The config keys and the channel share a hash tag, so on a Redis
/// Cluster the script that updates them and publishes runs on one slot, and the (sharded) channel
/// lives on the same shard: after a failover of that shard all three move together.
#[derive(Debug, Clone)]
struct Keys {
    revision: String,
    config: String,
    channel: String,
    hot_prefix: String,
}

impl Keys {
    fn new(prefix: &str) -> Keys {
        Keys {
            revision: format!("{{{prefix}:overload}}:revision"),
            config: format!("{{{prefix}:overload}}:config"),
            channel: format!("{{{prefix}:overload}}:notices"),
            hot_prefix: format!("{prefix}:overload:hot:"),
        }
    }

    fn hot(&self, room: &str) -> String {
        format!("{}{room}", self.hot_prefix)
    }
}

/// Next revision, newest config and its announcement in one atomic step, so concurrent publishers
/// cannot leave an older document stored under a newer revision. ARGV[3] is the publish command:
/// `SPUBLISH` on a cluster (the channel is in the keys' slot), `PUBLISH` standalone.
const PUBLISH_CONFIG: &str = r#"
local revision = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], revision .. '\n' .. ARGV[1])
redis.call(ARGV[3], ARGV[2], cjson.encode({config = {revision = revision, toml = ARGV[1]}}))
return revision
"#;

/// How long the listener waits between attempts to subscribe again after a lost connection: a
/// failover promotes a replica within a few seconds, and the cluster client learns the new slot
/// map only when asked.
const RESUBSCRIBE_EVERY: Duration = Duration::from_millis(250);

/// Coordination through Redis: a standalone server or a Cluster (over the chat store's connection
/// type, so it follows slot moves and failovers the same way).
pub struct RedisCoordination {
    conn: RedisConn,
    keys: Keys,
    publish: redis::Script,
    notices: broadcast::Sender<Notice>,
    stop: CancellationToken,
}

impl std::fmt::Debug for RedisCoordination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisCoordination")
    }
}

impl Drop for RedisCoordination {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl RedisCoordination {
    /// Connects to `target` and starts listening for announcements; every key and the channel
    /// start with `prefix`. Connecting and each reply time out after `timeouts`.
    pub async fn connect(
        target: &RedisTarget,
        prefix: &str,
        timeouts: Timeouts,
    ) -> Result<RedisCoordination, CoordError> {
        let keys = Keys::new(prefix);
        let (pushes, inbox) = mpsc::unbounded_channel();
        let conn = RedisConn::connect(target, timeouts, pushes).await?;
        // Subscribed before returning, so nothing published after `connect` is missed.
        conn.subscribe(&keys.channel).await?;
        let coordination = RedisCoordination {
            conn,
            keys,
            publish: redis::Script::new(PUBLISH_CONFIG),
            notices: broadcast::channel(NOTICE_BUFFER).0,
            stop: CancellationToken::new(),
        };
        let listener = Listener {
            conn: coordination.conn.clone(),
            keys: coordination.keys.clone(),
            notices: coordination.notices.clone(),
            stop: coordination.stop.clone(),
        };
        tokio::spawn(listen(listener, inbox));
        Ok(coordination)
    }
}

/// The listener task's share of a [`RedisCoordination`] (not the whole of it, so dropping the
/// coordination stops the task).
struct Listener {
    conn: RedisConn,
    keys: Keys,
    notices: broadcast::Sender<Notice>,
    stop: CancellationToken,
}

/// Forwards the channel's messages to subscribers, until `stop`. After a lost connection (Redis
/// restarted, or the channel's shard failed over to its replica) it subscribes again until that
/// succeeds, then announces the newest stored config, since revisions published meanwhile were
/// missed (applying one is idempotent). Hot marks missed meanwhile are not replayed: they are short,
/// and `is_hot` reads them from Redis.
async fn listen(l: Listener, mut inbox: mpsc::UnboundedReceiver<PushInfo>) {
    loop {
        let push = tokio::select! {
            () = l.stop.cancelled() => return,
            push = inbox.recv() => push,
        };
        let Some(push) = push else { return };
        match push.kind {
            PushKind::Message | PushKind::SMessage => {
                let mut data = push.data.into_iter();
                let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                    continue;
                };
                let channel: Option<String> = redis::from_redis_value(channel).ok();
                if channel.as_deref() != Some(l.keys.channel.as_str()) {
                    continue;
                }
                let Ok(payload) = redis::from_redis_value::<Vec<u8>>(payload) else {
                    continue;
                };
                match serde_json::from_slice::<Notice>(&payload) {
                    Ok(notice) => {
                        let _ = l.notices.send(notice);
                    }
                    Err(e) => tracing::warn!(error = %e, "ignoring a malformed overload notice"),
                }
            }
            PushKind::Disconnection => {
                tracing::warn!("overload notices: Redis connection lost; subscribing again");
                if !resubscribe(&l).await {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Subscribes to the notices channel again until that works (false: stopped first), then
/// announces the newest stored config.
async fn resubscribe(l: &Listener) -> bool {
    for attempt in 0u32.. {
        match l.conn.subscribe(&l.keys.channel).await {
            Ok(()) => break,
            // Every 20th failure is logged (one line per 5 s while Redis stays away).
            Err(e) if attempt % 20 == 0 => {
                tracing::warn!(error = %e, attempt, "overload notices: subscribing again failed");
            }
            Err(_) => {}
        }
        tokio::select! {
            () = l.stop.cancelled() => return false,
            () = tokio::time::sleep(RESUBSCRIBE_EVERY) => {}
        }
    }
    tracing::info!("overload notices: subscribed again");
    match latest_config(&l.conn, &l.keys).await {
        Ok(Some((revision, toml))) => {
            let _ = l.notices.send(Notice::Config { revision, toml });
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "overload notices: reading the newest config failed"),
    }
    true
}

/// The newest config stored under `keys`.
async fn latest_config(conn: &RedisConn, keys: &Keys) -> Result<Option<(u64, String)>, CoordError> {
    let stored: Option<String> = redis::cmd("GET")
        .arg(&keys.config)
        .query_async(&mut conn.clone())
        .await?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let (revision, toml) = stored
        .split_once('\n')
        .and_then(|(r, t)| Some((r.parse().ok()?, t.to_owned())))
        .ok_or_else(|| CoordError(format!("malformed config under {}", keys.config)))?;
    Ok(Some((revision, toml)))
}

#[async_trait::async_trait]
impl Coordination for RedisCoordination {
    async fn mark_hot(&self, room: &str, ttl: Duration) -> Result<(), CoordError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let notice = serde_json::to_string(&Notice::Hot {
            room: room.to_owned(),
            ttl_ms,
        })
        .map_err(|e| CoordError(e.to_string()))?;
        // The mark and the announcement are two commands: on a cluster the mark lives in the room's
        // slot and the channel in the coordination slot. A mark whose announcement fails is still
        // seen by `is_hot` on every instance.
        let mut conn = self.conn.clone();
        redis::cmd("SET")
            .arg(self.keys.hot(room))
            .arg(1)
            .arg("PX")
            .arg(ttl_ms)
            .exec_async(&mut conn)
            .await?;
        let mut publish = redis::cmd(self.conn.publish_command());
        publish.arg(&self.keys.channel).arg(notice);
        self.conn.to_master_of(&self.keys.channel, publish).await?;
        Ok(())
    }

    async fn is_hot(&self, room: &str) -> Result<bool, CoordError> {
        let mut conn = self.conn.clone();
        let exists: bool = redis::cmd("EXISTS")
            .arg(self.keys.hot(room))
            .query_async(&mut conn)
            .await?;
        Ok(exists)
    }

    async fn publish_config(&self, toml: &str) -> Result<u64, CoordError> {
        let mut conn = self.conn.clone();
        let revision: u64 = self
            .publish
            .key(&self.keys.revision)
            .key(&self.keys.config)
            .arg(toml)
            .arg(&self.keys.channel)
            .arg(self.conn.publish_command())
            .invoke_async(&mut conn)
            .await?;
        Ok(revision)
    }

    async fn latest_config(&self) -> Result<Option<(u64, String)>, CoordError> {
        latest_config(&self.conn, &self.keys).await
    }

    fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_marks_expire_and_revisions_increase() {
        let c = LocalCoordination::default();
        let mut notices = c.subscribe();
        c.mark_hot("r", Duration::from_millis(50)).await.unwrap();
        assert!(c.is_hot("r").await.unwrap());
        assert!(!c.is_hot("other").await.unwrap());
        assert_eq!(
            notices.recv().await.unwrap(),
            Notice::Hot {
                room: "r".into(),
                ttl_ms: 50
            }
        );
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert!(!c.is_hot("r").await.unwrap());

        assert_eq!(c.latest_config().await.unwrap(), None);
        assert_eq!(c.publish_config("a = 1").await.unwrap(), 1);
        assert_eq!(c.publish_config("a = 2").await.unwrap(), 2);
        assert_eq!(
            c.latest_config().await.unwrap(),
            Some((2, "a = 2".to_owned()))
        );
    }

    #[test]
    fn notices_are_json_the_lua_script_can_write() {
        // The script writes {"config":{"revision":N,"toml":"…"}} with cjson; it must parse.
        let from_lua = r#"{"config":{"toml":"enabled = true\n","revision":7}}"#;
        assert_eq!(
            serde_json::from_str::<Notice>(from_lua).unwrap(),
            Notice::Config {
                revision: 7,
                toml: "enabled = true\n".into()
            }
        );
    }
}
