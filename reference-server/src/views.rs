//! Store records → wire DTOs of the `protocol` crate. Joins (a room's creator and participants, a
//! message's sender and file) are done here with one batched store call per kind of record, so a page
//! of 30 messages costs two lookups, not sixty.

use std::collections::{HashMap, HashSet};

use protocol::events::{Message, Reader, Sender};
use protocol::rest::{FileInfo, Room, UserProfile, UserSummary};

use crate::store::{ChatStore, FileRecord, Id, MessageRecord, RoomRecord, StoreError, UserRecord};

/// A user as auth and profile endpoints show them.
pub fn profile(user: &UserRecord) -> UserProfile {
    UserProfile {
        id: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        profile_image: user.profile_image.clone(),
    }
}

/// A user as rooms list them.
pub fn summary(user: &UserRecord) -> UserSummary {
    UserSummary {
        id: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
    }
}

/// A user as the author of a message.
pub fn sender(user: &UserRecord) -> Sender {
    Sender {
        id: user.id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        profile_image: user.profile_image.clone(),
    }
}

/// A file's public metadata.
pub fn file_info(file: &FileRecord) -> FileInfo {
    FileInfo {
        id: file.id.clone(),
        filename: file.filename.clone(),
        originalname: file.originalname.clone(),
        mimetype: file.mimetype.clone(),
        size: file.size,
        upload_date: file.uploaded_at.to_wire(),
    }
}

/// One message with its sender and file already looked up.
pub fn message(
    record: MessageRecord,
    author: Option<&UserRecord>,
    file: Option<&FileRecord>,
) -> Message {
    Message {
        id: record.id,
        room: record.room,
        content: record.content,
        kind: record.kind,
        sender: author.map(sender),
        file: file.map(file_info),
        ai_type: record.ai_type,
        mentions: record.mentions,
        timestamp: record.timestamp.to_wire(),
        readers: record
            .readers
            .into_iter()
            .map(|r| Reader {
                user_id: r.user,
                read_at: r.at.to_wire(),
            })
            .collect(),
        reactions: record.reactions,
    }
}

/// Ids in first-seen order without repeats (a room's participants can number thousands).
fn unique<'a>(ids: impl Iterator<Item = &'a Id>) -> Vec<Id> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).cloned().collect()
}

/// Messages with senders and files joined, in the order given.
pub async fn messages(
    store: &dyn ChatStore,
    records: Vec<MessageRecord>,
) -> Result<Vec<Message>, StoreError> {
    let users: HashMap<Id, UserRecord> = store
        .users(&unique(records.iter().filter_map(|m| m.sender.as_ref())))
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    let files: HashMap<Id, FileRecord> = store
        .files(&unique(records.iter().filter_map(|m| m.file.as_ref())))
        .await?
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
    Ok(records
        .into_iter()
        .map(|m| {
            let author = m.sender.as_ref().and_then(|id| users.get(id));
            let file = m.file.as_ref().and_then(|id| files.get(id));
            message(m, author, file)
        })
        .collect())
}

/// The participants of a room as full profiles (for `participantsUpdate`), in join order.
pub async fn participants(
    store: &dyn ChatStore,
    room: &RoomRecord,
) -> Result<Vec<UserProfile>, StoreError> {
    Ok(store
        .users(&room.participants)
        .await?
        .iter()
        .map(profile)
        .collect())
}

/// Rooms with creators and participants joined; `viewer` decides `isCreator`.
pub async fn rooms(
    store: &dyn ChatStore,
    records: &[RoomRecord],
    viewer: Option<&str>,
) -> Result<Vec<Room>, StoreError> {
    let ids = unique(
        records
            .iter()
            .flat_map(|r| std::iter::once(&r.creator).chain(&r.participants)),
    );
    let users: HashMap<Id, UserRecord> = store
        .users(&ids)
        .await?
        .into_iter()
        .map(|u| (u.id.clone(), u))
        .collect();
    Ok(records
        .iter()
        .map(|r| Room {
            id: r.id.clone(),
            name: r.name.clone(),
            has_password: r.password_hash.is_some(),
            creator: users.get(&r.creator).map(summary),
            participants: r
                .participants
                .iter()
                .filter_map(|p| users.get(p).map(summary))
                .collect(),
            participants_count: r.participants.len() as u64,
            created_at: r.created_at.to_wire(),
            is_creator: viewer == Some(r.creator.as_str()),
        })
        .collect())
}

/// One room with creator and participants joined.
pub async fn room(
    store: &dyn ChatStore,
    record: &RoomRecord,
    viewer: Option<&str>,
) -> Result<Room, StoreError> {
    Ok(rooms(store, std::slice::from_ref(record), viewer)
        .await?
        .pop()
        .unwrap_or_default())
}
