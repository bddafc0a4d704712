//! [`ChatStore`] on Redis, standalone or Cluster (ARCHITECTURE-server.md has the data model).
//!
//! Every key of one room shares the hash tag `{r:<id>}`, every key of one user `{u:<id>}`, every key
//! of one file `{f:<id>}`, so each multi-step rule is one Lua script on one slot ([`lua`]) and is
//! atomic on a Cluster too. Only the unique indexes (e-mail → user, file name → file, message →
//! room) and the room list's sorted sets live elsewhere; they are written in an order that never
//! exposes a half-made entity (claim the unique name first, index a room after it exists).
//!
//! This module also owns what instances on one Redis share besides chat state: the room event log
//! ([`log`]), kept on the room's slot so a message and its event are written by one script, and
//! presence ([`presence`]). The cross-instance bus (`gateway::bus`) uses them through the methods
//! and types they export; key names, scripts and wire formats stay here.
//!
//! # Layout
//! - [`conn`]: `--store` URL parsing and the connection (standalone or cluster).
//! - [`lua`]: the scripts.
//! - [`log`]: the room event log: append, publish, catch up; [`Envelope`].
//! - [`durability`]: replicas each shard has connected, the `--redis-durability` policy, the
//!   degraded marks.
//! - `records`: decoding hashes and replies into the store's records; Redis errors sorted.
//! - [`presence`]: sockets per user, running AI streams, instance control channels, and what
//!   arrives on the pub/sub connection ([`Incoming`]).

pub mod conn;
pub mod durability;
pub mod log;
pub mod lua;
pub mod presence;
mod records;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use protocol::events::ReactionOp;
use protocol::rest::{RoomListQuery, RoomSortField, SortOrder};
use redis::{AsyncCommands, Script, Value};
use tokio::sync::mpsc::UnboundedSender;

use super::{
    Appended, ChatStore, FileRecord, Id, MessagePage, MessageRecord, NewFile, NewMessage, NewRoom,
    NewUser, Reacted, ReactionCaps, RoomPage, RoomRecord, SessionRecord, StoreError, UnixMillis,
    UserRecord, UserUpdate, new_object_id, room_page,
};
pub use conn::{RedisConn, RedisTarget, Timeouts};
pub use durability::{Durability, Shortfall};
pub use log::{Envelope, FrameTemplate, LoggedEvent};
pub use presence::Incoming;
use records::{
    corrupt, file_from, id_of_member, kind_str, message_from, pairs, reactions_from, room_from,
    session_from, store_error, strings, user_from,
};
/// What the Redis connection pushes (pub/sub messages, subscription confirmations, disconnects);
/// [`RedisStore::incoming`] says what each one means.
pub use redis::PushInfo;

/// Sessions live as long as the tokens that name them (`auth::TOKEN_TTL_SECS`).
const SESSION_TTL_SECS: u64 = 24 * 60 * 60;

/// Settings of the Redis backend, resolved (see [`RedisSettings::options`]).
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// Prefix of every key and channel, so several deployments (or tests) can share one Redis.
    /// No braces: they would change the hash tags.
    pub prefix: String,
    /// Connect and reply timeouts: short, so requests fail fast while Redis is away.
    pub timeouts: Timeouts,
    /// Replicas that must hold a room event before it is published (`WAIT`); 0 skips the wait.
    pub replica_acks: u32,
    /// What a room event does when its shard has fewer connected replicas than `replica_acks`.
    pub durability: Durability,
    /// Events kept per room for subscribers that missed some (reconnects, failovers;
    /// `--redis-log-cap`). A subscriber that missed more skips the rest and sends `resync`.
    pub log_cap: u32,
    /// How long a sender's `clientMessageId` key lives (`--client-message-id-ttl-secs`).
    pub client_id_ttl: Duration,
    /// Times a logged event whose publish failed is published again, in the background
    /// (`--redis-publish-retries`; 0: never).
    pub publish_retries: u32,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "chat".into(),
            timeouts: Timeouts {
                connect: Duration::from_secs(1),
                response: Duration::from_millis(1000),
            },
            replica_acks: 0,
            durability: Durability::Available,
            log_cap: 1000,
            client_id_ttl: super::CLIENT_ID_TTL,
            publish_retries: 5,
        }
    }
}

/// Settings of the Redis store as configured (`--redis-*`); part of [`ServerConfig`](crate::ServerConfig).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// Prefix of every key and channel (several deployments can share one Redis).
    pub prefix: String,
    /// Replicas that must hold a room event before it is published (Redis `WAIT`), so a failover
    /// never takes back a message a client saw. `None`: 1 on a cluster, 0 on a standalone server.
    pub replica_acks: Option<u32>,
    /// What a room event does when its shard has fewer connected replicas than asked.
    pub durability: Durability,
    /// Connect and reply timeout: requests fail this fast while Redis is away.
    pub timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            prefix: "chat".into(),
            replica_acks: None,
            durability: Durability::Available,
            timeout: Duration::from_millis(1000),
        }
    }
}

impl RedisSettings {
    /// The backend's options for a store at `target`: the same timeout for connecting and for
    /// replies, and the replica acknowledgements a cluster needs unless told otherwise.
    pub fn options(&self, target: &RedisTarget) -> RedisOptions {
        RedisOptions {
            prefix: self.prefix.clone(),
            timeouts: Timeouts {
                connect: self.timeout,
                response: self.timeout,
            },
            replica_acks: self.replica_acks.unwrap_or(u32::from(target.is_cluster())),
            durability: self.durability,
            ..RedisOptions::default()
        }
    }
}

/// The key scheme (documented in ARCHITECTURE-server.md).
#[derive(Debug, Clone)]
struct Keys {
    p: String,
}

impl Keys {
    fn user(&self, id: &str) -> String {
        format!("{}:{{u:{id}}}", self.p)
    }
    fn session(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:session", self.p)
    }
    fn sockets(&self, user: &str) -> String {
        format!("{}:{{u:{user}}}:sockets", self.p)
    }
    fn email(&self, email: &str) -> String {
        format!("{}:email:{{{email}}}", self.p)
    }
    fn room(&self, id: &str) -> String {
        format!("{}:{{r:{id}}}", self.p)
    }
    fn members(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:members", self.p)
    }
    fn msgs(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:msgs", self.p)
    }
    fn message_prefix(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:m:", self.p)
    }
    fn message(&self, room: &str, id: &str) -> String {
        format!("{}:{{r:{room}}}:m:{id}", self.p)
    }
    /// A sender's idempotency key, on the room's slot so the append script can check and set it.
    fn client_id(&self, room: &str, sender: &str, client_id: &str) -> String {
        format!("{}:{{r:{room}}}:cid:{sender}:{client_id}", self.p)
    }
    fn log(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:log", self.p)
    }
    fn streams(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:streams", self.p)
    }
    fn channel(&self, room: &str) -> String {
        format!("{}:{{r:{room}}}:ev", self.p)
    }
    /// The room id in a channel name made by [`channel`](Self::channel).
    fn room_of_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(&self.p)?
            .strip_prefix(":{r:")?
            .strip_suffix("}:ev")
    }
    fn instance_channel(&self, instance: &str) -> String {
        format!("{}:{{i:{instance}}}:ctl", self.p)
    }
    /// The instance id in a channel name made by [`instance_channel`](Self::instance_channel).
    fn instance_of_channel<'a>(&self, channel: &'a str) -> Option<&'a str> {
        channel
            .strip_prefix(&self.p)?
            .strip_prefix(":{i:")?
            .strip_suffix("}:ctl")
    }
    fn message_room(&self, id: &str) -> String {
        format!("{}:mroom:{{{id}}}", self.p)
    }
    fn rooms_by(&self, field: RoomSortField) -> String {
        let name = match field {
            RoomSortField::CreatedAt => "created",
            RoomSortField::Name => "name",
            RoomSortField::ParticipantsCount => "count",
        };
        // One tag for the three indexes: a new room enters all of them in one MULTI.
        format!("{}:{{rooms}}:{name}", self.p)
    }
    fn file(&self, id: &str) -> String {
        format!("{}:{{f:{id}}}", self.p)
    }
    fn file_name(&self, name: &str) -> String {
        format!("{}:fname:{{{name}}}", self.p)
    }
    /// One owner's uploads not posted yet: file id scored by upload time.
    fn unposted_of(&self, owner: &str) -> String {
        format!("{}:unposted:{{{owner}}}", self.p)
    }
    /// Every upload not posted yet, file id scored by upload time: what the sweeper reads.
    fn unposted(&self) -> String {
        format!("{}:{{unposted}}", self.p)
    }
}

/// Member of the by-name room index: sorts by name bytes, then id, like the memory store. NUL bytes
/// in the name are escaped (`\0` → `\0\x01`) and the name ends with `\0\0`, which keeps the order of
/// any two names; the id is the last 24 bytes.
fn name_member(name: &str, id: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 26);
    for b in name.bytes() {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(id.as_bytes());
    out
}

/// The scripts, hashed once (`EVALSHA`, falling back to `EVAL` after a restart or failover).
struct Scripts {
    event: Script,
    append: Script,
    publish: Script,
    fetch: Script,
    seq: Script,
    create_room: Script,
    membership: Script,
    room: Script,
    is_participant: Script,
    history: Script,
    message: Script,
    mark_read: Script,
    react: Script,
    delete_session: Script,
    mark_file_posted: Script,
    delete_unposted_file: Script,
    update_user: Script,
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            event: Script::new(&lua::event()),
            append: Script::new(&lua::append_message()),
            publish: Script::new(lua::PUBLISH),
            fetch: Script::new(lua::FETCH_EVENTS),
            seq: Script::new(lua::SEQ),
            create_room: Script::new(lua::CREATE_ROOM),
            membership: Script::new(lua::MEMBERSHIP),
            room: Script::new(lua::ROOM),
            is_participant: Script::new(lua::IS_PARTICIPANT),
            history: Script::new(&lua::history()),
            message: Script::new(&lua::message()),
            mark_read: Script::new(lua::MARK_READ),
            react: Script::new(lua::REACT),
            delete_session: Script::new(lua::DELETE_SESSION),
            mark_file_posted: Script::new(lua::MARK_FILE_POSTED),
            delete_unposted_file: Script::new(lua::DELETE_UNPOSTED_FILE),
            update_user: Script::new(lua::UPDATE_USER),
        }
    }
}

/// Chat state in Redis.
pub struct RedisStore {
    conn: RedisConn,
    keys: Keys,
    options: RedisOptions,
    target: RedisTarget,
    scripts: Scripts,
    /// Connected replicas per slot, and the shards found short (see [`durability`]).
    replicas: durability::ReplicaBook,
}

impl RedisStore {
    /// Message `id` of `room`, when it is stored.
    pub(super) async fn message_in(
        &self,
        room: &str,
        id: &str,
    ) -> Result<Option<MessageRecord>, StoreError> {
        let parts: Vec<Value> = self
            .scripts
            .message
            .key(self.keys.message(room, id))
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        if parts.is_empty() {
            return Ok(None);
        }
        message_from(room, id, parts).map(Some)
    }

    /// Connects to `target` and checks it answers. Pub/sub pushes go to `pushes` (the fan-out reads
    /// them); pass a sender whose receiver is dropped when there is no fan-out.
    pub async fn connect(
        target: RedisTarget,
        options: RedisOptions,
        pushes: UnboundedSender<PushInfo>,
    ) -> Result<RedisStore, StoreError> {
        if options.prefix.contains(['{', '}']) || options.prefix.is_empty() {
            return Err(StoreError::Backend(format!(
                "key prefix {:?} must be non-empty and have no braces",
                options.prefix
            )));
        }
        let conn = RedisConn::connect(&target, options.timeouts, pushes)
            .await
            .map_err(store_error)?;
        Ok(RedisStore {
            conn,
            keys: Keys {
                p: options.prefix.clone(),
            },
            options,
            target,
            scripts: Scripts::new(),
            replicas: durability::ReplicaBook::default(),
        })
    }

    /// Where this store keeps its data.
    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// Its settings.
    pub fn options(&self) -> &RedisOptions {
        &self.options
    }

    fn conn(&self) -> RedisConn {
        self.conn.clone()
    }

    async fn room_reply(
        &self,
        script: &Script,
        id: &str,
        args: &[&str],
    ) -> Result<Value, StoreError> {
        let mut inv = script.key(self.keys.room(id));
        inv.key(self.keys.members(id));
        for a in args {
            inv.arg(*a);
        }
        inv.invoke_async(&mut self.conn())
            .await
            .map_err(store_error)
    }

    async fn index_room(&self, room: &RoomRecord) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .zadd(
                self.keys.rooms_by(RoomSortField::CreatedAt),
                &room.id,
                room.created_at.0,
            )
            .zadd(
                self.keys.rooms_by(RoomSortField::Name),
                name_member(&room.name, &room.id),
                0,
            )
            .zadd(
                self.keys.rooms_by(RoomSortField::ParticipantsCount),
                &room.id,
                room.participants.len(),
            );
        pipe.exec_async(&mut self.conn()).await.map_err(store_error)
    }

    async fn membership(
        &self,
        room_id: &str,
        user_id: &str,
        add: bool,
    ) -> Result<RoomRecord, StoreError> {
        let reply = self
            .room_reply(
                &self.scripts.membership,
                room_id,
                &[user_id, if add { "1" } else { "0" }],
            )
            .await?;
        if matches!(&reply, Value::Array(v) if v.first() == Some(&Value::Int(-1))) {
            return Err(StoreError::NotFound("room"));
        }
        let room = room_from(room_id, strings(reply)?)?.ok_or(StoreError::NotFound("room"))?;
        // The count index is written with the absolute count, so a lost write heals on the next one.
        let _: () = self
            .conn()
            .zadd(
                self.keys.rooms_by(RoomSortField::ParticipantsCount),
                room_id,
                room.participants.len(),
            )
            .await
            .map_err(store_error)?;
        Ok(room)
    }

    /// The room ids of one page, for a query without search: straight from the sorted index.
    async fn page_ids(&self, query: &RoomListQuery) -> Result<Vec<String>, StoreError> {
        let size = query.page_size as isize;
        let start = (query.page as isize).saturating_mul(size);
        let stop = start + size - 1;
        let key = self.keys.rooms_by(query.sort_field);
        let mut conn = self.conn();
        let members: Vec<Vec<u8>> = match query.sort_order {
            SortOrder::Asc => conn.zrange(key, start, stop).await,
            SortOrder::Desc => conn.zrevrange(key, start, stop).await,
        }
        .map_err(store_error)?;
        Ok(members.into_iter().map(|m| id_of_member(&m)).collect())
    }
}

#[async_trait]
impl ChatStore for RedisStore {
    async fn create_user(&self, user: NewUser) -> Result<UserRecord, StoreError> {
        let id = new_object_id();
        let mut conn = self.conn();
        let record = UserRecord {
            id,
            name: user.name,
            email: user.email,
            password_hash: user.password_hash,
            profile_image: String::new(),
            created_at: UnixMillis::now(),
        };
        // The user first, the e-mail claim second (they live on different slots, so no script can
        // do both): an e-mail is only ever taken by a user that exists. Redis failing between the
        // two leaves a user hash nothing points at — unreachable and harmless — never an e-mail
        // taken for good by nobody. A reply lost after the claim leaves a complete user (its
        // sender may log in).
        let _: () = conn
            .hset_multiple(
                self.keys.user(&record.id),
                &[
                    ("name", record.name.as_str()),
                    ("email", record.email.as_str()),
                    ("pw", record.password_hash.as_str()),
                    ("img", ""),
                    ("at", &record.created_at.0.to_string()),
                ],
            )
            .await
            .map_err(store_error)?;
        // Claiming with NX keeps uniqueness atomic; the loser removes its user hash.
        let claimed = redis::cmd("SET")
            .arg(self.keys.email(&record.email))
            .arg(&record.id)
            .arg("NX")
            .query_async::<Option<String>>(&mut conn)
            .await
            .map_err(store_error)?
            .is_some();
        if !claimed {
            let _: Result<(), _> = conn.del(self.keys.user(&record.id)).await;
            return Err(StoreError::Conflict("user with this email"));
        }
        Ok(record)
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let h: HashMap<String, String> = self
            .conn()
            .hgetall(self.keys.user(id))
            .await
            .map_err(store_error)?;
        if h.is_empty() {
            return Ok(None);
        }
        user_from(id, h).map(Some)
    }

    async fn users(&self, ids: &[Id]) -> Result<Vec<UserRecord>, StoreError> {
        // One request per user, all in flight at once on the multiplexed connection(s).
        let found = try_join_all(ids.iter().map(|id| self.user(id))).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let id: Option<String> = self
            .conn()
            .get(self.keys.email(email))
            .await
            .map_err(store_error)?;
        match id {
            Some(id) => self.user(&id).await,
            None => Ok(None),
        }
    }

    async fn update_user(&self, id: &str, update: UserUpdate) -> Result<UserRecord, StoreError> {
        let keep = "\0".to_owned();
        let h: Vec<String> = self
            .scripts
            .update_user
            .key(self.keys.user(id))
            .arg(update.name.unwrap_or_else(|| keep.clone()))
            .arg(update.profile_image.unwrap_or(keep))
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        if h.is_empty() {
            return Err(StoreError::NotFound("user"));
        }
        user_from(id, pairs(h))
    }

    async fn replace_session(
        &self,
        user_id: &str,
        session: SessionRecord,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let value = format!("{}|{}", session.session_id, session.created_at.0);
        let old: Option<String> = redis::cmd("SET")
            .arg(self.keys.session(user_id))
            .arg(value)
            .arg("GET")
            .arg("EX")
            .arg(SESSION_TTL_SECS)
            .query_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        Ok(old.as_deref().and_then(session_from))
    }

    async fn session(&self, user_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let v: Option<String> = self
            .conn()
            .get(self.keys.session(user_id))
            .await
            .map_err(store_error)?;
        Ok(v.as_deref().and_then(session_from))
    }

    async fn delete_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .scripts
            .delete_session
            .key(self.keys.session(user_id))
            .arg(session_id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        Ok(n == 1)
    }

    async fn create_room(&self, room: NewRoom) -> Result<RoomRecord, StoreError> {
        let record = RoomRecord {
            id: new_object_id(),
            name: room.name,
            participants: vec![room.creator.clone()],
            creator: room.creator,
            password_hash: room.password_hash,
            created_at: UnixMillis::now(),
        };
        let _: i64 = self
            .room_reply(
                &self.scripts.create_room,
                &record.id,
                &[
                    &record.name,
                    &record.creator,
                    record.password_hash.as_deref().unwrap_or(""),
                    &record.created_at.0.to_string(),
                ],
            )
            .await
            .and_then(|v| redis::from_redis_value(v).map_err(|_| corrupt("room reply")))?;
        self.index_room(&record).await?;
        Ok(record)
    }

    async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        let reply = self.room_reply(&self.scripts.room, id, &[]).await?;
        room_from(id, strings(reply)?)
    }

    async fn list_rooms(&self, query: &RoomListQuery) -> Result<RoomPage, StoreError> {
        let needle = query.search.trim().to_lowercase();
        if needle.is_empty() {
            let total: u64 = self
                .conn()
                .zcard(self.keys.rooms_by(RoomSortField::CreatedAt))
                .await
                .map_err(store_error)?;
            let ids = self.page_ids(query).await?;
            let rooms = try_join_all(ids.iter().map(|id| self.room(id))).await?;
            return Ok(RoomPage {
                rooms: rooms.into_iter().flatten().collect(),
                total,
            });
        }
        // A search reads every name (the index holds them all) and sorts the matches here, exactly as
        // the memory store does; search is rare next to plain listing.
        let members: Vec<Vec<u8>> = self
            .conn()
            .zrange(self.keys.rooms_by(RoomSortField::Name), 0, -1)
            .await
            .map_err(store_error)?;
        let ids: Vec<String> = members
            .iter()
            .filter(|m| {
                let name = &m[..m.len().saturating_sub(26)];
                String::from_utf8_lossy(name)
                    .replace("\0\u{1}", "\0")
                    .to_lowercase()
                    .contains(&needle)
            })
            .map(|m| id_of_member(m))
            .collect();
        let matching: Vec<RoomRecord> = try_join_all(ids.iter().map(|id| self.room(id)))
            .await?
            .into_iter()
            .flatten()
            .collect();
        let (rooms, total) = room_page(matching, query);
        Ok(RoomPage { rooms, total })
    }

    async fn add_participant(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<RoomRecord, StoreError> {
        self.membership(room_id, user_id, true).await
    }

    async fn is_participant(&self, room_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let n: i64 = self
            .room_reply(&self.scripts.is_participant, room_id, &[user_id])
            .await
            .and_then(|v| redis::from_redis_value(v).map_err(|_| corrupt("membership reply")))?;
        match n {
            -1 => Err(StoreError::NotFound("room")),
            n => Ok(n == 1),
        }
    }

    async fn remove_participant(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<RoomRecord, StoreError> {
        self.membership(room_id, user_id, false).await
    }

    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError> {
        self.append_with_event(new_object_id(), message, None)
            .await
            .map(|(appended, _)| appended)
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        let room: Option<String> = self
            .conn()
            .get(self.keys.message_room(id))
            .await
            .map_err(store_error)?;
        let Some(room) = room else {
            return Ok(None);
        };
        self.message_in(&room, id).await
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before: Option<UnixMillis>,
        limit: usize,
    ) -> Result<MessagePage, StoreError> {
        let before = before.map_or_else(|| "+inf".to_owned(), |b| b.0.to_string());
        let reply: Vec<Value> = self
            .scripts
            .history
            .key(self.keys.msgs(room_id))
            .arg(before)
            .arg(limit)
            .arg(self.keys.message_prefix(room_id))
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        let mut reply = reply.into_iter();
        let has_more: i64 = reply
            .next()
            .and_then(|v| redis::from_redis_value(v).ok())
            .ok_or_else(|| corrupt("history reply"))?;
        let mut messages = reply
            .map(|entry| {
                let mut parts: Vec<Value> =
                    redis::from_redis_value(entry).map_err(|_| corrupt("history entry"))?;
                if parts.is_empty() {
                    return Err(corrupt("history entry"));
                }
                let id: String = redis::from_redis_value(parts.remove(0))
                    .map_err(|_| corrupt("history entry"))?;
                message_from(room_id, &id, parts)
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The script walks newest first; a page is oldest first.
        messages.reverse();
        Ok(MessagePage {
            messages,
            has_more: has_more == 1,
        })
    }

    async fn mark_read(
        &self,
        room_id: &str,
        user_id: &str,
        message_ids: &[Id],
        at: UnixMillis,
    ) -> Result<Vec<Id>, StoreError> {
        // Ids are checked before they become key names: nothing a client sends can name another key.
        let ids: Vec<&Id> = message_ids
            .iter()
            .filter(|id| super::is_object_id(id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.scripts.mark_read.key(self.keys.room(room_id));
        inv.arg(self.keys.message_prefix(room_id))
            .arg(user_id)
            .arg(at.0);
        for id in ids {
            inv.arg(id.as_str());
        }
        let found: Vec<Id> = inv
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        Ok(found)
    }

    async fn react(
        &self,
        message_id: &str,
        reaction: &str,
        user_id: &str,
        op: ReactionOp,
        caps: ReactionCaps,
    ) -> Result<Reacted, StoreError> {
        let room: Option<String> = self
            .conn()
            .get(self.keys.message_room(message_id))
            .await
            .map_err(store_error)?;
        let room = room.ok_or(StoreError::NotFound("message"))?;
        let key = self.keys.message(&room, message_id);
        let reply: Value = self
            .scripts
            .react
            .key(&key)
            .key(format!("{key}:reactions"))
            .arg(reaction)
            .arg(user_id)
            .arg(match op {
                ReactionOp::Add => "add",
                ReactionOp::Remove => "remove",
            })
            .arg(caps.per_message)
            .arg(caps.per_user)
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        match &reply {
            Value::Array(v) if v.first() == Some(&Value::Int(-1)) => {
                Err(StoreError::NotFound("message"))
            }
            Value::Array(v) if v.first() == Some(&Value::Int(-2)) => Ok(Reacted::TooManyKinds),
            Value::Array(v) if v.first() == Some(&Value::Int(-3)) => Ok(Reacted::TooManyOfUser),
            _ => Ok(Reacted::Updated(reactions_from(pairs(strings(reply)?)))),
        }
    }

    async fn create_file(&self, file: NewFile) -> Result<FileRecord, StoreError> {
        let id = new_object_id();
        let mut conn = self.conn();
        let claimed: Option<String> = redis::cmd("SET")
            .arg(self.keys.file_name(&file.filename))
            .arg(&id)
            .arg("NX")
            .query_async(&mut conn)
            .await
            .map_err(store_error)?;
        if claimed.is_none() {
            return Err(StoreError::Conflict("file with this name"));
        }
        let record = FileRecord {
            id,
            filename: file.filename,
            originalname: file.originalname,
            mimetype: file.mimetype,
            size: file.size,
            owner: file.owner,
            uploaded_at: UnixMillis::now(),
            rooms: Vec::new(),
        };
        let written: Result<(), _> = conn
            .hset_multiple(
                self.keys.file(&record.id),
                &[
                    ("filename", record.filename.as_str()),
                    ("originalname", record.originalname.as_str()),
                    ("mimetype", record.mimetype.as_str()),
                    ("size", &record.size.to_string()),
                    ("owner", record.owner.as_str()),
                    ("at", &record.uploaded_at.0.to_string()),
                    ("rooms", ""),
                ],
            )
            .await;
        if let Err(e) = written {
            let _: Result<(), _> = conn.del(self.keys.file_name(&record.filename)).await;
            return Err(store_error(e));
        }
        // The indexes of unposted uploads (quota, sweeper). Different slots, so not atomic with
        // the record: a file missing from them is merely never swept nor counted.
        let at = record.uploaded_at.0;
        let _: () = conn
            .zadd(self.keys.unposted_of(&record.owner), &record.id, at)
            .await
            .map_err(store_error)?;
        let _: () = conn
            .zadd(self.keys.unposted(), &record.id, at)
            .await
            .map_err(store_error)?;
        Ok(record)
    }

    async fn file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let h: HashMap<String, String> = self
            .conn()
            .hgetall(self.keys.file(id))
            .await
            .map_err(store_error)?;
        if h.is_empty() {
            return Ok(None);
        }
        file_from(id, h).map(Some)
    }

    async fn file_by_name(&self, filename: &str) -> Result<Option<FileRecord>, StoreError> {
        let id: Option<String> = self
            .conn()
            .get(self.keys.file_name(filename))
            .await
            .map_err(store_error)?;
        match id {
            Some(id) => self.file(&id).await,
            None => Ok(None),
        }
    }

    async fn files(&self, ids: &[Id]) -> Result<Vec<FileRecord>, StoreError> {
        let found = try_join_all(ids.iter().map(|id| self.file(id))).await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn mark_file_posted(&self, file_id: &str, room_id: &str) -> Result<(), StoreError> {
        let reply: Value = self
            .scripts
            .mark_file_posted
            .key(self.keys.file(file_id))
            .arg(room_id)
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        match reply {
            Value::Int(0) => Err(StoreError::NotFound("file")),
            Value::BulkString(owner) => {
                // First posted: no longer counted against its owner, no longer swept.
                let owner = String::from_utf8_lossy(&owner).into_owned();
                self.forget_unposted(&owner, file_id).await
            }
            _ => Ok(()),
        }
    }

    async fn delete_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let Some(file) = self.file(id).await? else {
            return Ok(None);
        };
        let mut conn = self.conn();
        let _: () = conn.del(self.keys.file(id)).await.map_err(store_error)?;
        let _: () = conn
            .del(self.keys.file_name(&file.filename))
            .await
            .map_err(store_error)?;
        self.forget_unposted(&file.owner, id).await?;
        Ok(Some(file))
    }

    async fn unposted_files(&self, owner: &str) -> Result<Vec<FileRecord>, StoreError> {
        let ids: Vec<String> = self
            .conn()
            .zrange(self.keys.unposted_of(owner), 0, -1)
            .await
            .map_err(store_error)?;
        let files = self.files(&ids).await?;
        Ok(files.into_iter().filter(|f| f.rooms.is_empty()).collect())
    }

    async fn unposted_before(
        &self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let ids: Vec<String> = self
            .conn()
            .zrangebyscore_limit(
                self.keys.unposted(),
                "-inf",
                before.0 - 1,
                0,
                limit as isize,
            )
            .await
            .map_err(store_error)?;
        let files = self.files(&ids).await?;
        Ok(files.into_iter().filter(|f| f.rooms.is_empty()).collect())
    }

    async fn delete_unposted_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let reply: Value = self
            .scripts
            .delete_unposted_file
            .key(self.keys.file(id))
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        let h: HashMap<String, String> = pairs(strings(reply)?);
        if h.is_empty() {
            return Ok(None);
        }
        let file = file_from(id, h)?;
        let _: () = self
            .conn()
            .del(self.keys.file_name(&file.filename))
            .await
            .map_err(store_error)?;
        self.forget_unposted(&file.owner, id).await?;
        Ok(Some(file))
    }
}

impl RedisStore {
    /// Takes a file out of the indexes of unposted uploads.
    async fn forget_unposted(&self, owner: &str, file_id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let _: () = conn
            .zrem(self.keys.unposted_of(owner), file_id)
            .await
            .map_err(store_error)?;
        conn.zrem(self.keys.unposted(), file_id)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_members_sort_like_names_then_ids() {
        let id = "0123456789abcdef01234567";
        let mut names = ["b", "a\0z", "a", "A", "a\0", "ab"];
        let mut members: Vec<Vec<u8>> = names.iter().map(|n| name_member(n, id)).collect();
        members.sort();
        names.sort();
        let back: Vec<Vec<u8>> = names.iter().map(|n| name_member(n, id)).collect();
        assert_eq!(members, back);
        assert_eq!(id_of_member(&name_member("x", id)), id);
    }

    #[test]
    fn keys_share_a_slot_per_room() {
        let k = Keys { p: "chat".into() };
        let slot = |key: &str| redis::cluster_routing::Slot::for_key(key);
        let room = "0123456789abcdef01234567";
        for key in [
            k.members(room),
            k.msgs(room),
            k.message(room, "ffffffffffffffffffffffff"),
            k.log(room),
            k.channel(room),
        ] {
            assert_eq!(slot(&key), slot(&k.room(room)), "{key}");
        }
        assert_eq!(slot(&k.session("u")), slot(&k.user("u")));
        assert_eq!(k.room_of_channel(&k.channel(room)), Some(room));
        assert_eq!(
            k.instance_of_channel(&k.instance_channel("ab12")),
            Some("ab12")
        );
        assert_eq!(k.instance_of_channel(&k.channel(room)), None);
    }
}
