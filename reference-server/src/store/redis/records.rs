//! Records as Redis keeps them, read back: hashes and flat replies decoded into the store's
//! records ([`UserRecord`], [`RoomRecord`], [`MessageRecord`], …), with a corrupt or missing field
//! reported as [`StoreError::Backend`] rather than a panic; and Redis errors sorted into
//! [`StoreError::Unavailable`] (retry later) and [`StoreError::Backend`].

use std::collections::HashMap;

use protocol::events::{MessageType, Reactions};
use redis::{RedisError, Value};

use crate::store::{
    FileRecord, MessageRecord, ReaderRecord, RoomRecord, SessionRecord, StoreError, UnixMillis,
    UserRecord,
};

/// Why a [`StoreError`] is what it is.
pub(super) fn store_error(e: RedisError) -> StoreError {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
        || matches!(
            e.kind(),
            redis::ErrorKind::Server(
                redis::ServerErrorKind::TryAgain
                    | redis::ServerErrorKind::ClusterDown
                    | redis::ServerErrorKind::MasterDown
                    | redis::ServerErrorKind::BusyLoading
                    | redis::ServerErrorKind::ReadOnly
            )
        )
    {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Backend(format!("corrupt {what} record in Redis"))
}

/// Flat field/value list → map.
pub(super) fn pairs(values: Vec<String>) -> HashMap<String, String> {
    let mut map = HashMap::with_capacity(values.len() / 2);
    let mut it = values.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        map.insert(k, v);
    }
    map
}

pub(super) fn strings(v: Value) -> Result<Vec<String>, StoreError> {
    redis::from_redis_value(v).map_err(|_| corrupt("reply"))
}

pub(super) fn millis(map: &HashMap<String, String>, field: &str) -> UnixMillis {
    UnixMillis(map.get(field).and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub(super) fn user_from(id: &str, h: HashMap<String, String>) -> Result<UserRecord, StoreError> {
    let mut h = h;
    let created_at = millis(&h, "at");
    Ok(UserRecord {
        id: id.to_owned(),
        name: h.remove("name").ok_or_else(|| corrupt("user"))?,
        email: h.remove("email").ok_or_else(|| corrupt("user"))?,
        password_hash: h.remove("pw").unwrap_or_default(),
        profile_image: h.remove("img").unwrap_or_default(),
        created_at,
    })
}

/// A room from the `{hash…, '', member…}` reply of the room scripts.
pub(super) fn room_from(id: &str, flat: Vec<String>) -> Result<Option<RoomRecord>, StoreError> {
    if flat.is_empty() {
        return Ok(None);
    }
    let split = flat
        .iter()
        .position(String::is_empty)
        .filter(|i| i % 2 == 0)
        .ok_or_else(|| corrupt("room"))?;
    let mut flat = flat;
    let participants = flat.split_off(split + 1);
    flat.pop();
    let mut h = pairs(flat);
    let created_at = millis(&h, "at");
    Ok(Some(RoomRecord {
        id: id.to_owned(),
        name: h.remove("name").ok_or_else(|| corrupt("room"))?,
        creator: h.remove("creator").unwrap_or_default(),
        password_hash: h.remove("pw"),
        participants,
        created_at,
    }))
}

pub(super) fn kind_str(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Text => "text",
        MessageType::File => "file",
        MessageType::System => "system",
        MessageType::Ai => "ai",
    }
}

pub(super) fn kind_from(s: &str) -> Result<MessageType, StoreError> {
    Ok(match s {
        "text" => MessageType::Text,
        "file" => MessageType::File,
        "system" => MessageType::System,
        "ai" => MessageType::Ai,
        _ => return Err(corrupt("message")),
    })
}

pub(super) fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

/// A message from `{hash, readers, reactions}`.
pub(super) fn message_from(
    room: &str,
    id: &str,
    parts: Vec<Value>,
) -> Result<MessageRecord, StoreError> {
    let mut parts = parts.into_iter();
    let mut h = pairs(strings(parts.next().ok_or_else(|| corrupt("message"))?)?);
    let readers = pairs(strings(parts.next().unwrap_or(Value::Nil))?);
    let reactions = pairs(strings(parts.next().unwrap_or(Value::Nil))?);
    let mut readers: Vec<(u64, ReaderRecord)> = readers
        .into_iter()
        .filter_map(|(user, v)| {
            let (order, at) = v.split_once(':')?;
            Some((
                order.parse().ok()?,
                ReaderRecord {
                    user,
                    at: UnixMillis(at.parse().ok()?),
                },
            ))
        })
        .collect();
    readers.sort_by_key(|(order, _)| *order);
    let mentions: Vec<String> = h
        .get("mentions")
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    Ok(MessageRecord {
        id: id.to_owned(),
        room: room.to_owned(),
        kind: kind_from(h.get("kind").map(String::as_str).unwrap_or(""))?,
        content: h.remove("content").unwrap_or_default(),
        sender: non_empty(h.remove("sender")),
        file: non_empty(h.remove("file")),
        ai_type: non_empty(h.remove("ai")),
        mentions,
        timestamp: millis(&h, "ts"),
        readers: readers.into_iter().map(|(_, r)| r).collect(),
        reactions: reactions_from(reactions),
    })
}

pub(super) fn reactions_from(map: HashMap<String, String>) -> Reactions {
    map.into_iter()
        .map(|(emoji, users)| (emoji, users.split_whitespace().map(str::to_owned).collect()))
        .filter(|(_, users): &(String, Vec<String>)| !users.is_empty())
        .collect()
}

pub(super) fn file_from(id: &str, h: HashMap<String, String>) -> Result<FileRecord, StoreError> {
    let mut h = h;
    let uploaded_at = millis(&h, "at");
    Ok(FileRecord {
        id: id.to_owned(),
        filename: h.remove("filename").ok_or_else(|| corrupt("file"))?,
        originalname: h.remove("originalname").unwrap_or_default(),
        mimetype: h.remove("mimetype").unwrap_or_default(),
        size: h.get("size").and_then(|s| s.parse().ok()).unwrap_or(0),
        owner: h.remove("owner").unwrap_or_default(),
        uploaded_at,
        rooms: h
            .remove("rooms")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

pub(super) fn id_of_member(member: &[u8]) -> String {
    let tail = &member[member.len().saturating_sub(24)..];
    String::from_utf8_lossy(tail).into_owned()
}

pub(super) fn session_from(v: &str) -> Option<SessionRecord> {
    let (id, at) = v.split_once('|')?;
    Some(SessionRecord {
        session_id: id.to_owned(),
        created_at: UnixMillis(at.parse().ok()?),
    })
}
