//! [`ChatStore`] in process memory: the default backend, and the reference the other backends are
//! tested against. State is lost on exit.
//!
//! Data model: one `RwLock` per table, never two held at once, never held across an `.await` (the
//! methods are async only to fit the trait). Each table keeps the secondary index its queries need:
//! users by e-mail, messages by room (a vector ordered by timestamp, so a history page is a binary
//! search and a slice), files by name.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use protocol::events::{ReactionOp, Reactions};
use protocol::rest::{RoomListQuery, RoomSortField, SortOrder};

use super::{
    ChatStore, FileRecord, Id, MessagePage, MessageRecord, NewFile, NewMessage, NewRoom, NewUser,
    ReaderRecord, RoomPage, RoomRecord, SessionRecord, StoreError, UnixMillis, UserRecord,
    UserUpdate, new_object_id,
};

/// All chat state in memory.
#[derive(Default)]
pub struct MemoryStore {
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
}

#[derive(Default)]
struct Files {
    by_id: HashMap<Id, FileRecord>,
    by_name: HashMap<String, Id>,
}

// A panic while a lock is held cannot leave a table half-updated (every write is a single insert or
// field update), so a poisoned lock is still safe to use.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
        let mut matching: Vec<&RoomRecord> = rooms
            .values()
            .filter(|r| needle.is_empty() || r.name.to_lowercase().contains(&needle))
            .collect();
        // Ids grow with creation time, so they make every sort total and stable across calls.
        matching.sort_by(|a, b| {
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
        let total = matching.len() as u64;
        let size = query.page_size as usize;
        let rooms = matching
            .into_iter()
            .skip((query.page as usize).saturating_mul(size))
            .take(size)
            .cloned()
            .collect();
        Ok(RoomPage { rooms, total })
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

    async fn append_message(&self, message: NewMessage) -> Result<MessageRecord, StoreError> {
        if !read(&self.rooms).contains_key(&message.room) {
            return Err(StoreError::NotFound("room"));
        }
        let mut messages = write(&self.messages);
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
        Ok(record)
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
    ) -> Result<usize, StoreError> {
        let mut messages = write(&self.messages);
        let mut marked = 0;
        for id in message_ids {
            let Some(message) = messages.by_id.get_mut(id) else {
                continue;
            };
            if message.room != room_id || message.readers.iter().any(|r| r.user == user_id) {
                continue;
            }
            message.readers.push(ReaderRecord {
                user: user_id.to_owned(),
                at,
            });
            marked += 1;
        }
        Ok(marked)
    }

    async fn react(
        &self,
        message_id: &str,
        reaction: &str,
        user_id: &str,
        op: ReactionOp,
    ) -> Result<Reactions, StoreError> {
        let mut messages = write(&self.messages);
        let message = messages
            .by_id
            .get_mut(message_id)
            .ok_or(StoreError::NotFound("message"))?;
        match op {
            ReactionOp::Add => {
                let users = message.reactions.entry(reaction.to_owned()).or_default();
                if !users.iter().any(|u| u == user_id) {
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
        Ok(message.reactions.clone())
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
        let mut files = write(&self.files);
        let removed = files.by_id.remove(id);
        if let Some(file) = &removed {
            files.by_name.remove(&file.filename);
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use protocol::events::MessageType;

    use super::*;

    async fn user(store: &MemoryStore, email: &str) -> UserRecord {
        store
            .create_user(NewUser {
                name: "n".into(),
                email: email.into(),
                password_hash: "h".into(),
            })
            .await
            .unwrap()
    }

    async fn room(store: &MemoryStore, name: &str, creator: &str) -> RoomRecord {
        store
            .create_room(NewRoom {
                name: name.into(),
                creator: creator.into(),
                password_hash: None,
            })
            .await
            .unwrap()
    }

    fn text(room: &str, content: &str) -> NewMessage {
        NewMessage {
            room: room.into(),
            kind: MessageType::Text,
            content: content.into(),
            sender: None,
            file: None,
            ai_type: None,
            mentions: Vec::new(),
        }
    }

    #[tokio::test]
    async fn emails_are_unique() {
        let store = MemoryStore::new();
        let a = user(&store, "a@x.io").await;
        let err = store
            .create_user(NewUser {
                name: "other".into(),
                email: "a@x.io".into(),
                password_hash: "h".into(),
            })
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        assert_eq!(
            store.user_by_email("a@x.io").await.unwrap().unwrap().id,
            a.id
        );
    }

    #[tokio::test]
    async fn one_session_per_user_and_stale_logout_is_harmless() {
        let store = MemoryStore::new();
        let s = |id: &str| SessionRecord {
            session_id: id.into(),
            created_at: UnixMillis(0),
        };
        assert_eq!(store.replace_session("u", s("one")).await.unwrap(), None);
        assert_eq!(
            store.replace_session("u", s("two")).await.unwrap(),
            Some(s("one"))
        );
        assert!(!store.delete_session("u", "one").await.unwrap());
        assert_eq!(store.session("u").await.unwrap(), Some(s("two")));
        assert!(store.delete_session("u", "two").await.unwrap());
        assert_eq!(store.session("u").await.unwrap(), None);
    }

    #[tokio::test]
    async fn timestamps_strictly_increase_within_a_room() {
        let store = MemoryStore::new();
        let r = room(&store, "r", "u").await;
        let mut last = UnixMillis(i64::MIN);
        // Far more appends than milliseconds pass, so ties are certain without the store's rule.
        for i in 0..500 {
            let m = store
                .append_message(text(&r.id, &i.to_string()))
                .await
                .unwrap();
            assert!(m.timestamp > last);
            last = m.timestamp;
        }
    }

    #[tokio::test]
    async fn appending_to_a_missing_room_fails() {
        let store = MemoryStore::new();
        let err = store.append_message(text("nope", "x")).await.unwrap_err();
        assert_eq!(err, StoreError::NotFound("room"));
    }

    #[tokio::test]
    async fn history_pages_walk_back_without_gaps_or_repeats() {
        let store = MemoryStore::new();
        let r = room(&store, "r", "u").await;
        for i in 0..70 {
            store
                .append_message(text(&r.id, &i.to_string()))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut before = None;
        let mut sizes = Vec::new();
        loop {
            let page = store.messages_before(&r.id, before, 30).await.unwrap();
            sizes.push((page.messages.len(), page.has_more));
            let contents: Vec<String> = page.messages.iter().map(|m| m.content.clone()).collect();
            seen.splice(0..0, contents);
            before = page.messages.first().map(|m| m.timestamp);
            if !page.has_more {
                break;
            }
        }
        assert_eq!(sizes, [(30, true), (30, true), (10, false)]);
        let expected: Vec<String> = (0..70).map(|i| i.to_string()).collect();
        assert_eq!(seen, expected);
        let empty = store.messages_before("other", None, 30).await.unwrap();
        assert!(empty.messages.is_empty() && !empty.has_more);
    }

    #[tokio::test]
    async fn readers_are_recorded_once_and_only_in_the_named_room() {
        let store = MemoryStore::new();
        let r1 = room(&store, "r1", "u").await;
        let r2 = room(&store, "r2", "u").await;
        let m1 = store.append_message(text(&r1.id, "a")).await.unwrap();
        let m2 = store.append_message(text(&r2.id, "b")).await.unwrap();
        let ids = vec![m1.id.clone(), m2.id.clone(), "missing".to_owned()];
        assert_eq!(
            store
                .mark_read(&r1.id, "u2", &ids, UnixMillis(5))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .mark_read(&r1.id, "u2", &ids, UnixMillis(6))
                .await
                .unwrap(),
            0
        );
        let m1 = store.message(&m1.id).await.unwrap().unwrap();
        assert_eq!(
            m1.readers,
            [ReaderRecord {
                user: "u2".into(),
                at: UnixMillis(5)
            }]
        );
        assert!(
            store
                .message(&m2.id)
                .await
                .unwrap()
                .unwrap()
                .readers
                .is_empty()
        );
    }

    #[tokio::test]
    async fn reactions_add_once_and_remove_empty_keys() {
        let store = MemoryStore::new();
        let r = room(&store, "r", "u").await;
        let m = store.append_message(text(&r.id, "a")).await.unwrap();
        store
            .react(&m.id, "👍", "u1", ReactionOp::Add)
            .await
            .unwrap();
        store
            .react(&m.id, "👍", "u1", ReactionOp::Add)
            .await
            .unwrap();
        let all = store
            .react(&m.id, "👍", "u2", ReactionOp::Add)
            .await
            .unwrap();
        assert_eq!(all["👍"], ["u1", "u2"]);
        store
            .react(&m.id, "👍", "u1", ReactionOp::Remove)
            .await
            .unwrap();
        let all = store
            .react(&m.id, "👍", "u2", ReactionOp::Remove)
            .await
            .unwrap();
        assert!(all.is_empty());
        let err = store
            .react("missing", "👍", "u1", ReactionOp::Add)
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound("message"));
    }

    #[tokio::test]
    async fn room_list_sorts_searches_and_pages() {
        let store = MemoryStore::new();
        let names = ["delta", "Alpha", "charlie", "bravo", "alphabet"];
        let mut ids = Vec::new();
        for name in names {
            ids.push(room(&store, name, "u").await.id);
        }
        // Give "charlie" three participants and "bravo" two.
        for u in ["a", "b"] {
            store.add_participant(&ids[2], u).await.unwrap();
        }
        store.add_participant(&ids[3], "a").await.unwrap();
        store.add_participant(&ids[3], "a").await.unwrap();

        let q = |field, order, page, size, search: &str| RoomListQuery {
            page,
            page_size: size,
            sort_field: field,
            sort_order: order,
            search: search.into(),
        };
        let names_of = |p: RoomPage| p.rooms.into_iter().map(|r| r.name).collect::<Vec<_>>();

        let page = store
            .list_rooms(&q(RoomSortField::CreatedAt, SortOrder::Desc, 0, 2, ""))
            .await
            .unwrap();
        assert_eq!(page.total, 5);
        assert_eq!(names_of(page), ["alphabet", "bravo"]);
        let page = store
            .list_rooms(&q(RoomSortField::CreatedAt, SortOrder::Desc, 2, 2, ""))
            .await
            .unwrap();
        assert_eq!(names_of(page), ["delta"]);
        let page = store
            .list_rooms(&q(RoomSortField::Name, SortOrder::Asc, 0, 10, ""))
            .await
            .unwrap();
        assert_eq!(
            names_of(page),
            ["Alpha", "alphabet", "bravo", "charlie", "delta"]
        );
        let page = store
            .list_rooms(&q(
                RoomSortField::ParticipantsCount,
                SortOrder::Desc,
                0,
                2,
                "",
            ))
            .await
            .unwrap();
        assert_eq!(names_of(page), ["charlie", "bravo"]);
        let page = store
            .list_rooms(&q(RoomSortField::Name, SortOrder::Asc, 0, 10, "ALPHA"))
            .await
            .unwrap();
        assert_eq!(page.total, 2);
        assert_eq!(names_of(page), ["Alpha", "alphabet"]);
    }

    #[tokio::test]
    async fn participants_are_a_set() {
        let store = MemoryStore::new();
        let r = room(&store, "r", "u").await;
        store.add_participant(&r.id, "v").await.unwrap();
        let after = store.add_participant(&r.id, "v").await.unwrap();
        assert_eq!(after.participants, ["u", "v"]);
        assert!(store.is_participant(&r.id, "v").await.unwrap());
        assert!(!store.is_participant(&r.id, "w").await.unwrap());
        assert_eq!(
            store.is_participant("missing", "v").await.unwrap_err(),
            StoreError::NotFound("room")
        );
        let after = store.remove_participant(&r.id, "u").await.unwrap();
        assert_eq!(after.participants, ["v"]);
        assert_eq!(
            store.add_participant("missing", "v").await.unwrap_err(),
            StoreError::NotFound("room")
        );
    }

    #[tokio::test]
    async fn files_by_name_and_posted_rooms() {
        let store = MemoryStore::new();
        let f = store
            .create_file(NewFile {
                filename: "1_ab.png".into(),
                originalname: "cat.png".into(),
                mimetype: "image/png".into(),
                size: 3,
                owner: "u".into(),
            })
            .await
            .unwrap();
        store.mark_file_posted(&f.id, "r").await.unwrap();
        store.mark_file_posted(&f.id, "r").await.unwrap();
        let by_name = store.file_by_name("1_ab.png").await.unwrap().unwrap();
        assert_eq!(by_name.rooms, ["r"]);
        assert_eq!(store.delete_file(&f.id).await.unwrap().unwrap().id, f.id);
        assert_eq!(store.file_by_name("1_ab.png").await.unwrap(), None);
    }
}
