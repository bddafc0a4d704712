//! [`ChatStore`] in process memory: the default backend, and the reference the other backends are
//! tested against. State is lost on exit.
//!
//! Data model: one `RwLock` per table, never two held at once, never held across an `.await` (the
//! methods are async only to fit the trait). Each table keeps the secondary index its queries need:
//! users by e-mail, messages by room (a vector ordered by timestamp, so a history page is a binary
//! search and a slice), files by name.

use std::collections::{HashMap, VecDeque};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use protocol::events::{ReactionOp, Reactions};
use protocol::rest::RoomListQuery;

use super::{
    Appended, CLIENT_ID_TTL, ChatStore, FileRecord, Id, MessagePage, MessageRecord, NewFile,
    NewMessage, NewRoom, NewUser, Reacted, ReactionCaps, ReaderRecord, RoomPage, RoomRecord,
    SessionRecord, StoreError, UnixMillis, UserRecord, UserUpdate, new_object_id, room_page,
};

/// All chat state in memory.
pub struct MemoryStore {
    /// How long a sender's `clientMessageId` answers a retry.
    client_id_ttl: std::time::Duration,
    users: RwLock<Users>,
    sessions: RwLock<HashMap<Id, SessionRecord>>,
    rooms: RwLock<HashMap<Id, RoomRecord>>,
    messages: RwLock<Messages>,
    files: RwLock<Files>,
}

#[derive(Default)]
struct Users {
    by_id: HashMap<Id, UserRecord>,
    by_email: HashMap<String, Id>,
}

#[derive(Default)]
struct Messages {
    by_id: HashMap<Id, MessageRecord>,
    /// Per room, `(timestamp, id)` in append order, which is also strictly increasing timestamp order.
    by_room: HashMap<Id, Vec<(UnixMillis, Id)>>,
    /// (room, sender, client message id) → message id, while the key is fresh. Per room, as in
    /// Redis, where the key must share the room's slot to be set in the append script.
    by_client_id: HashMap<(Id, Id, String), Id>,
    /// The same keys with their expiry, oldest first: expired ones are dropped on each append, so
    /// the map holds only the last TTL's worth of keyed messages.
    client_id_expiry: VecDeque<(std::time::Instant, (Id, Id, String))>,
}

#[derive(Default)]
struct Files {
    by_id: HashMap<Id, FileRecord>,
    by_name: HashMap<String, Id>,
}

impl Files {
    /// Removes a file's record and its name; the removed record.
    fn remove(&mut self, id: &str) -> Option<FileRecord> {
        let removed = self.by_id.remove(id)?;
        self.by_name.remove(&removed.filename);
        Some(removed)
    }
}

// A panic while a lock is held cannot leave a table half-updated (every write is a single insert or
// field update), so a poisoned lock is still safe to use.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore {
            client_id_ttl: CLIENT_ID_TTL,
            users: RwLock::default(),
            sessions: RwLock::default(),
            rooms: RwLock::default(),
            messages: RwLock::default(),
            files: RwLock::default(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose `clientMessageId`s answer retries for `ttl`.
    pub fn with_client_id_ttl(ttl: std::time::Duration) -> Self {
        MemoryStore {
            client_id_ttl: ttl,
            ..Self::default()
        }
    }
}

#[async_trait]
impl ChatStore for MemoryStore {
    async fn create_user(&self, user: NewUser) -> Result<UserRecord, StoreError> {
        let mut users = write(&self.users);
        if users.by_email.contains_key(&user.email) {
            return Err(StoreError::Conflict("user with this email"));
        }
        let record = UserRecord {
            id: new_object_id(),
            name: user.name,
            email: user.email,
            password_hash: user.password_hash,
            profile_image: String::new(),
            created_at: UnixMillis::now(),
        };
        users
            .by_email
            .insert(record.email.clone(), record.id.clone());
        users.by_id.insert(record.id.clone(), record.clone());
        Ok(record)
    }

    async fn user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(read(&self.users).by_id.get(id).cloned())
    }

    async fn users(&self, ids: &[Id]) -> Result<Vec<UserRecord>, StoreError> {
        let users = read(&self.users);
        Ok(ids
            .iter()
            .filter_map(|id| users.by_id.get(id).cloned())
            .collect())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let users = read(&self.users);
        Ok(users
            .by_email
            .get(email)
            .and_then(|id| users.by_id.get(id))
            .cloned())
    }

    async fn update_user(&self, id: &str, update: UserUpdate) -> Result<UserRecord, StoreError> {
        let mut users = write(&self.users);
        let user = users
            .by_id
            .get_mut(id)
            .ok_or(StoreError::NotFound("user"))?;
        if let Some(name) = update.name {
            user.name = name;
        }
        if let Some(image) = update.profile_image {
            user.profile_image = image;
        }
        Ok(user.clone())
    }

    async fn replace_session(
        &self,
        user_id: &str,
        session: SessionRecord,
    ) -> Result<Option<SessionRecord>, StoreError> {
        Ok(write(&self.sessions).insert(user_id.to_owned(), session))
    }

    async fn session(&self, user_id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(read(&self.sessions).get(user_id).cloned())
    }

    async fn delete_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError> {
        let mut sessions = write(&self.sessions);
        // Only the named session ends: a stale logout must not end the session of a newer login.
        if sessions
            .get(user_id)
            .is_some_and(|s| s.session_id == session_id)
        {
            sessions.remove(user_id);
            return Ok(true);
        }
        Ok(false)
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
        write(&self.rooms).insert(record.id.clone(), record.clone());
        Ok(record)
    }

    async fn room(&self, id: &str) -> Result<Option<RoomRecord>, StoreError> {
        Ok(read(&self.rooms).get(id).cloned())
    }

    async fn list_rooms(&self, query: &RoomListQuery) -> Result<RoomPage, StoreError> {
        let needle = query.search.trim().to_lowercase();
        let rooms = read(&self.rooms);
        let matching: Vec<&RoomRecord> = rooms
            .values()
            .filter(|r| needle.is_empty() || r.name.to_lowercase().contains(&needle))
            .collect();
        let (page, total) = room_page(matching, query);
        Ok(RoomPage {
            rooms: page.into_iter().cloned().collect(),
            total,
        })
    }

    async fn add_participant(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<RoomRecord, StoreError> {
        let mut rooms = write(&self.rooms);
        let room = rooms.get_mut(room_id).ok_or(StoreError::NotFound("room"))?;
        if !room.participants.iter().any(|p| p == user_id) {
            room.participants.push(user_id.to_owned());
        }
        Ok(room.clone())
    }

    async fn is_participant(&self, room_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let rooms = read(&self.rooms);
        let room = rooms.get(room_id).ok_or(StoreError::NotFound("room"))?;
        Ok(room.participants.iter().any(|p| p == user_id))
    }

    async fn remove_participant(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<RoomRecord, StoreError> {
        let mut rooms = write(&self.rooms);
        let room = rooms.get_mut(room_id).ok_or(StoreError::NotFound("room"))?;
        room.participants.retain(|p| p != user_id);
        Ok(room.clone())
    }

    async fn append_message(&self, message: NewMessage) -> Result<Appended, StoreError> {
        if !read(&self.rooms).contains_key(&message.room) {
            return Err(StoreError::NotFound("room"));
        }
        let mut messages = write(&self.messages);
        let now_instant = std::time::Instant::now();
        while let Some((expires, _)) = messages.client_id_expiry.front()
            && *expires <= now_instant
        {
            if let Some((_, key)) = messages.client_id_expiry.pop_front() {
                messages.by_client_id.remove(&key);
            }
        }
        // Checked and recorded under the same write lock as the append: one atomic step.
        let client_key = message
            .client_id
            .as_ref()
            .zip(message.sender.as_ref())
            .map(|(client, sender)| (message.room.clone(), sender.clone(), client.clone()));
        if let Some(key) = &client_key
            && let Some(first) = messages.by_client_id.get(key)
            && let Some(first) = messages.by_id.get(first)
        {
            return Ok(Appended {
                message: first.clone(),
                replay: true,
            });
        }
        let index = messages.by_room.entry(message.room.clone()).or_default();
        // Two messages in the same millisecond would make `before` paging ambiguous, so a message
        // that would tie (or, after a clock step back, precede) the last one gets the next millisecond.
        let now = UnixMillis::now();
        let timestamp = match index.last() {
            Some(&(last, _)) if last >= now => UnixMillis(last.0 + 1),
            _ => now,
        };
        let record = MessageRecord {
            id: new_object_id(),
            room: message.room,
            kind: message.kind,
            content: message.content,
            sender: message.sender,
            file: message.file,
            ai_type: message.ai_type,
            mentions: message.mentions,
            timestamp,
            readers: Vec::new(),
            reactions: Reactions::new(),
        };
        index.push((timestamp, record.id.clone()));
        messages.by_id.insert(record.id.clone(), record.clone());
        if let Some(key) = client_key {
            messages.by_client_id.insert(key.clone(), record.id.clone());
            messages
                .client_id_expiry
                .push_back((now_instant + self.client_id_ttl, key));
        }
        Ok(Appended {
            message: record,
            replay: false,
        })
    }

    async fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(read(&self.messages).by_id.get(id).cloned())
    }

    async fn messages_before(
        &self,
        room_id: &str,
        before: Option<UnixMillis>,
        limit: usize,
    ) -> Result<MessagePage, StoreError> {
        let messages = read(&self.messages);
        let Some(index) = messages.by_room.get(room_id) else {
            return Ok(MessagePage::default());
        };
        let end = match before {
            Some(before) => index.partition_point(|&(ts, _)| ts < before),
            None => index.len(),
        };
        let start = end.saturating_sub(limit);
        Ok(MessagePage {
            messages: index[start..end]
                .iter()
                .filter_map(|(_, id)| messages.by_id.get(id).cloned())
                .collect(),
            has_more: start > 0,
        })
    }

    async fn mark_read(
        &self,
        room_id: &str,
        user_id: &str,
        message_ids: &[Id],
        at: UnixMillis,
    ) -> Result<Vec<Id>, StoreError> {
        let mut messages = write(&self.messages);
        let mut found: Vec<Id> = Vec::new();
        for id in message_ids {
            let Some(message) = messages.by_id.get_mut(id) else {
                continue;
            };
            // A receipt carries a page of ids at most (capped above), so a scan beats a set.
            if message.room != room_id || found.contains(id) {
                continue;
            }
            found.push(id.clone());
            if !message.readers.iter().any(|r| r.user == user_id) {
                message.readers.push(ReaderRecord {
                    user: user_id.to_owned(),
                    at,
                });
            }
        }
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
        let mut messages = write(&self.messages);
        let message = messages
            .by_id
            .get_mut(message_id)
            .ok_or(StoreError::NotFound("message"))?;
        match op {
            ReactionOp::Add => {
                let present = message
                    .reactions
                    .get(reaction)
                    .is_some_and(|users| users.iter().any(|u| u == user_id));
                if !present {
                    if !message.reactions.contains_key(reaction)
                        && message.reactions.len() >= caps.per_message
                    {
                        return Ok(Reacted::TooManyKinds);
                    }
                    let mine = message
                        .reactions
                        .values()
                        .filter(|users| users.iter().any(|u| u == user_id))
                        .count();
                    if mine >= caps.per_user {
                        return Ok(Reacted::TooManyOfUser);
                    }
                    let users = message.reactions.entry(reaction.to_owned()).or_default();
                    users.push(user_id.to_owned());
                }
            }
            ReactionOp::Remove => {
                if let Some(users) = message.reactions.get_mut(reaction) {
                    users.retain(|u| u != user_id);
                    if users.is_empty() {
                        message.reactions.remove(reaction);
                    }
                }
            }
        }
        Ok(Reacted::Updated(message.reactions.clone()))
    }

    async fn create_file(&self, file: NewFile) -> Result<FileRecord, StoreError> {
        let mut files = write(&self.files);
        if files.by_name.contains_key(&file.filename) {
            return Err(StoreError::Conflict("file with this name"));
        }
        let record = FileRecord {
            id: new_object_id(),
            filename: file.filename,
            originalname: file.originalname,
            mimetype: file.mimetype,
            size: file.size,
            owner: file.owner,
            uploaded_at: UnixMillis::now(),
            rooms: Vec::new(),
        };
        files
            .by_name
            .insert(record.filename.clone(), record.id.clone());
        files.by_id.insert(record.id.clone(), record.clone());
        Ok(record)
    }

    async fn file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        Ok(read(&self.files).by_id.get(id).cloned())
    }

    async fn file_by_name(&self, filename: &str) -> Result<Option<FileRecord>, StoreError> {
        let files = read(&self.files);
        Ok(files
            .by_name
            .get(filename)
            .and_then(|id| files.by_id.get(id))
            .cloned())
    }

    async fn files(&self, ids: &[Id]) -> Result<Vec<FileRecord>, StoreError> {
        let files = read(&self.files);
        Ok(ids
            .iter()
            .filter_map(|id| files.by_id.get(id).cloned())
            .collect())
    }

    async fn mark_file_posted(&self, file_id: &str, room_id: &str) -> Result<(), StoreError> {
        let mut files = write(&self.files);
        let file = files
            .by_id
            .get_mut(file_id)
            .ok_or(StoreError::NotFound("file"))?;
        if !file.rooms.iter().any(|r| r == room_id) {
            file.rooms.push(room_id.to_owned());
        }
        Ok(())
    }

    async fn delete_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        Ok(write(&self.files).remove(id))
    }

    async fn unposted_files(&self, owner: &str) -> Result<Vec<FileRecord>, StoreError> {
        let files = read(&self.files);
        Ok(files
            .by_id
            .values()
            .filter(|f| f.owner == owner && f.rooms.is_empty())
            .cloned()
            .collect())
    }

    async fn unposted_before(
        &self,
        before: UnixMillis,
        limit: usize,
    ) -> Result<Vec<FileRecord>, StoreError> {
        let files = read(&self.files);
        let mut old: Vec<FileRecord> = files
            .by_id
            .values()
            .filter(|f| f.rooms.is_empty() && f.uploaded_at < before)
            .cloned()
            .collect();
        old.sort_by(|a, b| (a.uploaded_at, &a.id).cmp(&(b.uploaded_at, &b.id)));
        old.truncate(limit);
        Ok(old)
    }

    async fn delete_unposted_file(&self, id: &str) -> Result<Option<FileRecord>, StoreError> {
        let mut files = write(&self.files);
        if files.by_id.get(id).is_none_or(|f| !f.rooms.is_empty()) {
            return Ok(None);
        }
        Ok(files.remove(id))
    }
}
