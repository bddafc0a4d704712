//! Chat state behind one async trait: users, the one live session per user, rooms, messages and file
//! metadata. File *contents* are not here; they live in a [`BlobStore`](crate::blob::BlobStore).
//!
//! The trait is shaped so a networked backend (Redis standalone or Cluster) is a natural fit:
//! - every method is async and returns owned records, never references into internal maps;
//! - the store assigns message ids and timestamps on append, and timestamps are **strictly increasing
//!   within a room**, so paging by `before` (a timestamp) never skips or repeats a message;
//! - multi-step invariants (unique e-mail, one session per user, unique reader per message) are single
//!   calls, so a backend can make each one atomic (a Lua script, a `MULTI`).
//!
//! Records hold ids, not embedded users or files; [`views`](crate::views) joins them into wire DTOs with
//! batched lookups ([`ChatStore::users`], [`ChatStore::files`]).

pub mod memory;
pub mod redis;

/// The room event log and presence on Redis, as the cross-instance bus (`gateway::bus`) reads and
/// writes them: the store owns their keys, scripts and wire format.
pub use redis::{Envelope, FrameTemplate, Incoming, LoggedEvent, RedisStore};

use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use protocol::events::{MessageType, ReactionOp, Reactions};
use protocol::rest::RoomListQuery;
use protocol::time::Timestamp;

/// An entity id: 24 lowercase hex characters, like a MongoDB ObjectId.
pub type Id = String;

/// Milliseconds since the Unix epoch: the store's clock. Wire timestamps are derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub i64);

impl UnixMillis {
    /// The current time.
    pub fn now() -> Self {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        UnixMillis((nanos / 1_000_000) as i64)
    }

    /// The wire form: ISO 8601 in UTC with milliseconds, as JavaScript's `Date#toJSON` writes it.
    pub fn to_wire(self) -> Timestamp {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        // Formatting a valid date with a static description only fails on I/O, which a String never has.
        Timestamp::new(at.format(&format).unwrap_or_default())
    }

    /// Reads a client-supplied timestamp: ISO 8601 / RFC 3339, or epoch milliseconds as digits.
    pub fn parse_wire(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(ms) = text.parse::<i64>() {
            return Some(UnixMillis(ms));
        }
        let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()?;
        Some(UnixMillis((at.unix_timestamp_nanos() / 1_000_000) as i64))
    }
}

/// A new id in the MongoDB ObjectId layout: 4 bytes of seconds, 5 bytes fixed per process, a 3-byte
/// counter. Ids created later in the same process sort after earlier ones (within a second, by counter).
pub fn new_object_id() -> Id {
    static PROCESS: OnceLock<[u8; 5]> = OnceLock::new();
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let process = PROCESS.get_or_init(rand::random);
    let secs = (UnixMillis::now().0 / 1000) as u32;
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&secs.to_be_bytes());
    bytes[4..9].copy_from_slice(process);
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    hex(&bytes)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// True when `id` has the shape of an id this store hands out (24 hex characters).
pub fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The named entity does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was violated (e.g. the e-mail is taken).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// The backend failed (corrupt record, script error).
    #[error("store backend error: {0}")]
    Backend(String),
    /// The backend cannot be reached now (connection lost, timeout, failover in progress): the
    /// request may succeed when retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Refused before writing: the data's shard has fewer replicas than the durability policy
    /// requires (`--redis-durability strict`). The text is meant for the client.
    #[error("{0}")]
    Underreplicated(String),
}

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// User id.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// E-mail, lowercased; unique.
    pub email: String,
    /// Argon2 PHC string; never leaves the server.
    pub password_hash: String,
    /// Path of the profile image (`/uploads/<name>`), empty when none.
    pub profile_image: String,
    /// Registration time.
    pub created_at: UnixMillis,
}

/// What registration stores.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Display name.
    pub name: String,
    /// E-mail, already lowercased.
    pub email: String,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// A partial update of a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    /// New display name.
    pub name: Option<String>,
    /// New profile image path (empty to clear).
    pub profile_image: Option<String>,
}

/// The live session of a user. There is at most one per user: a login replaces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Random session id the client sends as `x-session-id`.
    pub session_id: String,
    /// When the session began.
    pub created_at: UnixMillis,
}

/// A chat room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomRecord {
    /// Room id.
    pub id: Id,
    /// Room name.
    pub name: String,
    /// Who created it.
    pub creator: Id,
    /// Argon2 PHC string of the room password, if it has one.
    pub password_hash: Option<String>,
    /// Participants in join order, each at most once.
    pub participants: Vec<Id>,
    /// Creation time.
    pub created_at: UnixMillis,
}

/// What room creation stores.
#[derive(Debug, Clone)]
pub struct NewRoom {
    /// Room name.
    pub name: String,
    /// Creator, who becomes the first participant.
    pub creator: Id,
    /// Hashed room password.
    pub password_hash: Option<String>,
}

/// One page of the room list.
#[derive(Debug, Clone, Default)]
pub struct RoomPage {
    /// The rooms on this page, in the requested order.
    pub rooms: Vec<RoomRecord>,
    /// Rooms matching the search, over all pages.
    pub total: u64,
}

/// Sorts `rooms` in the room list's one order — the query's field and direction, ties by id (ids
/// grow with creation time, so every sort is total and stable across calls and stores) — and returns
/// the query's page of them with how many there were in all.
pub(crate) fn room_page<R: std::borrow::Borrow<RoomRecord>>(
    mut rooms: Vec<R>,
    query: &RoomListQuery,
) -> (Vec<R>, u64) {
    use protocol::rest::{RoomSortField, SortOrder};
    rooms.sort_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        let primary = match query.sort_field {
            RoomSortField::CreatedAt => a.created_at.cmp(&b.created_at),
            RoomSortField::Name => a.name.cmp(&b.name),
            RoomSortField::ParticipantsCount => a.participants.len().cmp(&b.participants.len()),
        };
        let ordered = primary.then_with(|| a.id.cmp(&b.id));
        match query.sort_order {
            SortOrder::Asc => ordered,
            SortOrder::Desc => ordered.reverse(),
        }
    });
    let total = rooms.len() as u64;
    let size = query.page_size as usize;
    let page = rooms
        .into_iter()
        .skip((query.page as usize).saturating_mul(size))
        .take(size)
        .collect();
    (page, total)
}

/// One reader of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderRecord {
    /// Who read it.
    pub user: Id,
    /// When.
    pub at: UnixMillis,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Message id, assigned by the store.
    pub id: Id,
    /// Room it belongs to.
    pub room: Id,
    /// Text, file, system or AI.
    pub kind: MessageType,
    /// Text (caption for files).
    pub content: String,
    /// Author; `None` for system and AI messages.
    pub sender: Option<Id>,
    /// Posted file, for file messages.
    pub file: Option<Id>,
    /// Which AI answered, for AI messages.
    pub ai_type: Option<String>,
    /// AI names mentioned in the text.
    pub mentions: Vec<String>,
    /// Assigned by the store; strictly increasing within the room.
    pub timestamp: UnixMillis,
    /// Readers, each user at most once, in reading order.
    pub readers: Vec<ReaderRecord>,
    /// Emoji → users who reacted with it; no empty lists.
    pub reactions: Reactions,
}

/// What appending a message stores; the store adds id, timestamp, readers and reactions.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Room id.
    pub room: Id,
    /// Kind.
    pub kind: MessageType,
    /// Text.
    pub content: String,
    /// Author.
    pub sender: Option<Id>,
    /// Posted file.
    pub file: Option<Id>,
    /// Which AI answered.
    pub ai_type: Option<String>,
    /// AI names mentioned.
    pub mentions: Vec<String>,
    /// The sender's idempotency key (`clientMessageId`): a second append to the same room with the
    /// same sender and key within the store's TTL ([`CLIENT_ID_TTL`] by default) stores nothing
    /// and returns the first message.
    pub client_id: Option<String>,
}

/// How long a `clientMessageId` keeps pointing at its message by default
/// (`--client-message-id-ttl-secs`): long enough for any client retry (seconds), short enough that
/// the keys stay few (one per message sent in this window).
pub const CLIENT_ID_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// What [`ChatStore::append_message`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The stored message: the new one, or on a replay the one first stored under the key.
    pub message: MessageRecord,
    /// True when the sender's `client_id` was already used and nothing new was stored.
    pub replay: bool,
}

/// Caps on one message's reactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactionCaps {
    /// Distinct reactions on the message.
    pub per_message: usize,
    /// One user's reactions on it.
    pub per_user: usize,
}

/// What a reaction change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reacted {
    /// Done (or nothing to do): every reaction of the message now.
    Updated(Reactions),
    /// Refused: the message has [`ReactionCaps::per_message`] distinct reactions already.
    TooManyKinds,
    /// Refused: the user has [`ReactionCaps::per_user`] reactions on the message already.
    TooManyOfUser,
}

/// A page of history: the newest messages older than a point, oldest first.
#[derive(Debug, Clone, Default)]
pub struct MessagePage {
    /// Oldest first.
    pub messages: Vec<MessageRecord>,
    /// True when older messages exist.
    pub has_more: bool,
}

/// Metadata of an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    /// File id.
    pub id: Id,
    /// Generated, path-safe name; the blob key and the name in download URLs; unique.
    pub filename: String,
    /// Name the uploader gave.
    pub originalname: String,
    /// MIME type.
    pub mimetype: String,
    /// Size in bytes.
    pub size: u64,
    /// Uploader; only they may delete it or post it.
    pub owner: Id,
    /// Upload time.
    pub uploaded_at: UnixMillis,
    /// Rooms it was posted in; their participants may download it.
    pub rooms: Vec<Id>,
}

/// What an upload stores.
#[derive(Debug, Clone)]
pub struct NewFile {
    /// Generated, path-safe name.
    pub filename: String,
    /// Name the uploader gave.
    pub originalname: String,
    /// MIME type.
    pub mimetype: String,
    /// Size in bytes.
    pub size: u64,
    /// Uploader.
    pub owner: Id,
}

/// All chat state the server keeps, behind `Arc<dyn ChatStore>`.
///
/// Lookups of absent entities return `Ok(None)`; updates of absent entities return
/// [`StoreError::NotFound`].
#[async_trait]
pub trait ChatStore: Send + Sync + 'static {
    /// Creates a user; [`StoreError::Conflict`] when the e-mail is taken.
    async fn create_user(&self, user: NewUser) -> Result<UserRecord, StoreError>;
    /// A user by id.
    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Users by id, in the order given, skipping unknown ids (one round trip for a whole room).
    async fn users(&self, ids: &[Id]) -> Result<Vec<UserRecord>, StoreError>;
    /// A user by (lowercased) e-mail.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Applies a partial update and returns the new record.
    async fn update_user(&self, id: &str, update: UserUpdate) -> Result<UserRecord, StoreError>;

    /// Makes `session` the user's only session, returning the one it replaced.
    async fn replace_session(
        &self,
        user_id: &str,
        session: SessionRecord,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// The user's live session.
    async fn session(&self, user_id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends the user's session if it is `session_id`; true when one was ended.
    async fn delete_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError>;

    /// Creates a room whose only participant is its creator.
    async fn create_room(&self, room: NewRoom) -> Result<RoomRecord, StoreError>;
    /// A room by id.
    async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError>;
    /// One page of rooms matching `query.search`, sorted as asked (ties broken by creation order).
    /// `query.page_size` is used as given; callers clamp it.
    async fn list_rooms(&self, query: &RoomListQuery) -> Result<RoomPage, StoreError>;
    /// Adds a participant (no-op when present) and returns the room.
    async fn add_participant(&self, room_id: &str, user_id: &str)
    -> Result<RoomRecord, StoreError>;
    /// Whether `user_id` is a participant of the room; [`StoreError::NotFound`] when there is no such
    /// room. The per-message check, so it must not copy the participant list.
    async fn is_participant(&self, room_id: &str, user_id: &str) -> Result<bool, StoreError>;
    /// Removes a participant (no-op when absent) and returns the room.
    async fn remove_participant(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<RoomRecord, StoreError>;

    /// Appends a message to an existing room, assigning its id and a timestamp later than every
    /// earlier message of that room. With a `client_id` the check for an earlier message under the
    /// same (sender, key) and the append are one atomic step, so a retry never stores twice.
    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError>;
    /// A message by id.
    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError>;
    /// The newest `limit` messages of a room strictly older than `before` (all when `None`),
    /// oldest first.
    async fn messages_before(
        &self,
        room_id: &str,
        before: Option<UnixMillis>,
        limit: usize,
    ) -> Result<MessagePage, StoreError>;
    /// Records `user_id` as a reader of those `message_ids` that belong to `room_id` and that they
    /// have not read yet; returns the ids given that are messages of `room_id`, in the order given,
    /// each once (newly marked or read before), so that only they are forwarded as a receipt.
    async fn mark_read(
        &self,
        room_id: &str,
        user_id: &str,
        message_ids: &[Id],
        at: UnixMillis,
    ) -> Result<Vec<Id>, StoreError>;
    /// Adds or removes one user's reaction and returns all reactions of the message afterwards;
    /// an add past `caps` changes nothing (checked in one step with the write).
    async fn react(
        &self,
        message_id: &str,
        reaction: &str,
        user_id: &str,
        op: ReactionOp,
        caps: ReactionCaps,
    ) -> Result<Reacted, StoreError>;

    /// Stores an uploaded file's metadata; [`StoreError::Conflict`] when the filename is taken.
    async fn create_file(&self, file: NewFile) -> Result<FileRecord, StoreError>;
    /// A file by id.
    async fn file(&self, id: &str) -> Result<Option<FileRecord>, StoreError>;
    /// A file by its generated name.
    async fn file_by_name(&self, filename: &str) -> Result<Option<FileRecord>, StoreError>;
    /// Files by id, in the order given, skipping unknown ids.
    async fn files(&self, ids: &[Id]) -> Result<Vec<FileRecord>, StoreError>;
    /// Records that a file was posted in a room (no-op when already recorded).
    async fn mark_file_posted(&self, file_id: &str, room_id: &str) -> Result<(), StoreError>;
    /// Deletes a file's metadata and returns it.
    async fn delete_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError>;
    /// Uploads of `owner` not posted in any room yet (what the upload quota counts).
    async fn unposted_files(&self, owner: &str) -> Result<Vec<FileRecord>, StoreError>;
    /// Up to `limit` uploads not posted in any room, uploaded before `before`, oldest first.
    async fn unposted_before(
        &self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError>;
    /// Deletes a file's metadata only if it was never posted (in one step with the check, so a
    /// file posted meanwhile stays); the deleted record.
    async fn delete_unposted_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_timestamps_have_milliseconds_and_z() {
        assert_eq!(
            UnixMillis(1_733_045_400_123).to_wire().as_str(),
            "2024-12-01T09:30:00.123Z"
        );
        assert_eq!(UnixMillis(0).to_wire().as_str(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn wire_timestamps_parse_back() {
        for ms in [0, 1, 1_733_045_400_123, 4_102_444_800_000] {
            let wire = UnixMillis(ms).to_wire();
            assert_eq!(UnixMillis::parse_wire(wire.as_str()), Some(UnixMillis(ms)));
        }
        assert_eq!(
            UnixMillis::parse_wire("1733045400123"),
            Some(UnixMillis(1_733_045_400_123))
        );
        assert_eq!(
            UnixMillis::parse_wire("2024-12-01T18:30:00.5+09:00"),
            Some(UnixMillis(1_733_045_400_500))
        );
        assert_eq!(UnixMillis::parse_wire("yesterday"), None);
        assert_eq!(UnixMillis::parse_wire(""), None);
    }

    #[test]
    fn object_ids_are_24_hex_and_unique() {
        let a = new_object_id();
        let b = new_object_id();
        assert!(is_object_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_object_id("../etc/passwd"));
        assert!(!is_object_id("0123456789abcdef0123456z"));
    }
}
