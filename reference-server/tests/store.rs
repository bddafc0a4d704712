//! One conformance suite for every [`ChatStore`] backend: memory, Redis standalone and Redis Cluster.
//! The harness starts its own `redis-server` processes on free ports (one standalone server and one
//! 6-node cluster per test binary, shared through key prefixes) and stops them when the binary ends.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use common::redis::{RedisCluster, RedisNode};
use protocol::events::{MessageType, ReactionOp};
use protocol::rest::{RoomListQuery, RoomSortField, SortOrder};
use redis::AsyncCommands;
use reference_server::store::memory::MemoryStore;
use reference_server::store::redis::{RedisOptions, RedisStore, RedisTarget};
use reference_server::store::{
    ChatStore, NewFile, NewMessage, NewRoom, NewUser, Reacted, ReactionCaps, ReaderRecord,
    RoomPage, RoomRecord, SessionRecord, StoreError, UnixMillis, UserRecord, UserUpdate,
};

type Store = Arc<dyn ChatStore>;
type Factory = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Store>>>>;

static STANDALONE: OnceLock<RedisNode> = OnceLock::new();
static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();

fn prefix() -> String {
    format!("t{:08x}", rand::random::<u32>())
}

async fn redis_store(target: RedisTarget) -> Store {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let options = RedisOptions {
        prefix: prefix(),
        ..RedisOptions::default()
    };
    Arc::new(RedisStore::connect(target, options, tx).await.unwrap())
}

fn memory() -> Factory {
    Box::new(|| Box::pin(async { Arc::new(MemoryStore::new()) as Store }))
}

fn standalone() -> Factory {
    let url = STANDALONE.get_or_init(common::redis::standalone).url();
    Box::new(move || {
        let target = RedisTarget::parse(&url).unwrap();
        Box::pin(redis_store(target))
    })
}

fn cluster() -> Factory {
    let url = CLUSTER.get_or_init(RedisCluster::start).url();
    Box::new(move || {
        let target = RedisTarget::parse(&url).unwrap();
        Box::pin(redis_store(target))
    })
}

async fn user(store: &Store, email: &str) -> UserRecord {
    store
        .create_user(NewUser {
            name: "n".into(),
            email: email.into(),
            password_hash: "h".into(),
        })
        .await
        .unwrap()
}

async fn room(store: &Store, name: &str, creator: &str) -> RoomRecord {
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
        sender: Some("0123456789abcdef01234567".into()),
        file: None,
        ai_type: None,
        mentions: vec!["wayneAI".into()],
        client_id: None,
    }
}

/// Runs every check against fresh stores from `make`.
async fn conformance(make: Factory) {
    users(make().await).await;
    sessions(make().await).await;
    timestamps(make().await).await;
    client_ids(make().await).await;
    history(make().await).await;
    readers(make().await).await;
    reactions(make().await).await;
    room_list(make().await).await;
    participants(make().await).await;
    files(make().await).await;
    unposted_uploads(make().await).await;
}

async fn users(store: Store) {
    let a = user(&store, "a@x.io").await;
    let err = store
        .create_user(NewUser {
            name: "other".into(),
            email: "a@x.io".into(),
            password_hash: "h".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.user_by_email("a@x.io").await.unwrap().unwrap(), a);
    assert_eq!(store.user(&a.id).await.unwrap().unwrap(), a);
    assert_eq!(store.user("ffffffffffffffffffffffff").await.unwrap(), None);
    let b = user(&store, "b@x.io").await;
    let both = store
        .users(&[b.id.clone(), "nobody".into(), a.id.clone()])
        .await
        .unwrap();
    assert_eq!(both, [b.clone(), a.clone()]);
    let renamed = store
        .update_user(
            &a.id,
            UserUpdate {
                name: Some("Ann".into()),
                profile_image: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Ann");
    let pictured = store
        .update_user(
            &a.id,
            UserUpdate {
                name: None,
                profile_image: Some("/uploads/p.png".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (pictured.name.as_str(), pictured.profile_image.as_str()),
        ("Ann", "/uploads/p.png")
    );
    let err = store
        .update_user("ffffffffffffffffffffffff", UserUpdate::default())
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound("user"));
}

async fn sessions(store: Store) {
    let s = |id: &str| SessionRecord {
        session_id: id.into(),
        created_at: UnixMillis(7),
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

async fn timestamps(store: Store) {
    let r = room(&store, "r", "u").await;
    let mut last = UnixMillis(i64::MIN);
    // Far more appends than milliseconds pass, so ties are certain without the store's rule.
    for i in 0..500 {
        let m = store
            .append_message(text(&r.id, &i.to_string()))
            .await
            .unwrap()
            .message;
        assert!(m.timestamp > last);
        last = m.timestamp;
    }
    let err = store
        .append_message(text("ffffffffffffffffffffffff", "x"))
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound("room"));
}

/// A sender's `client_id` stores one message: a retry (same sender, same key) gets the first record
/// back, marked as a replay, and history holds it once; the same key from another sender, in
/// another room, or another key, is a new message.
async fn client_ids(store: Store) {
    let r = room(&store, "r", "u").await;
    let elsewhere = room(&store, "r2", "u").await;
    let keyed = |sender: &str, key: &str, content: &str| NewMessage {
        sender: Some(sender.into()),
        client_id: Some(key.into()),
        ..text(&r.id, content)
    };
    let (a, b) = ("0123456789abcdef0000000a", "0123456789abcdef0000000b");
    let first = store
        .append_message(keyed(a, "k-1", "hello"))
        .await
        .unwrap();
    assert!(!first.replay);
    // The retry's text differs on purpose: the key alone decides.
    let retry = store
        .append_message(keyed(a, "k-1", "again"))
        .await
        .unwrap();
    assert!(retry.replay);
    assert_eq!(retry.message, first.message);
    let other_sender = store.append_message(keyed(b, "k-1", "hi")).await.unwrap();
    let other_key = store.append_message(keyed(a, "k-2", "more")).await.unwrap();
    let unkeyed = store.append_message(text(&r.id, "plain")).await.unwrap();
    let other_room = NewMessage {
        room: elsewhere.id.clone(),
        ..keyed(a, "k-1", "there")
    };
    let other_room = store.append_message(other_room).await.unwrap();
    for fresh in [&other_sender, &other_key, &unkeyed, &other_room] {
        assert!(!fresh.replay);
        assert_ne!(fresh.message.id, first.message.id);
    }
    let page = store.messages_before(&r.id, None, 30).await.unwrap();
    let contents: Vec<&str> = page.messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["hello", "hi", "more", "plain"]);
    // A key whose message could not be stored (no such room) stays free.
    let missing = NewMessage {
        room: "ffffffffffffffffffffffff".into(),
        ..keyed(a, "k-3", "x")
    };
    assert_eq!(
        store.append_message(missing).await.unwrap_err(),
        StoreError::NotFound("room")
    );
    assert!(
        !store
            .append_message(keyed(a, "k-3", "y"))
            .await
            .unwrap()
            .replay
    );
}

async fn history(store: Store) {
    let r = room(&store, "r", "u").await;
    let mut appended = Vec::new();
    for i in 0..70 {
        appended.push(
            store
                .append_message(text(&r.id, &i.to_string()))
                .await
                .unwrap()
                .message,
        );
    }
    // Records read back are the records appended.
    assert_eq!(
        store.message(&appended[5].id).await.unwrap().unwrap(),
        appended[5]
    );
    assert_eq!(
        store.message("ffffffffffffffffffffffff").await.unwrap(),
        None
    );
    let mut seen = Vec::new();
    let mut before = None;
    let mut sizes = Vec::new();
    loop {
        let page = store.messages_before(&r.id, before, 30).await.unwrap();
        sizes.push((page.messages.len(), page.has_more));
        seen.splice(0..0, page.messages.clone());
        before = page.messages.first().map(|m| m.timestamp);
        if !page.has_more {
            break;
        }
    }
    assert_eq!(sizes, [(30, true), (30, true), (10, false)]);
    assert_eq!(seen, appended);
    let empty = store
        .messages_before("ffffffffffffffffffffffff", None, 30)
        .await
        .unwrap();
    assert!(empty.messages.is_empty() && !empty.has_more);
}

async fn readers(store: Store) {
    let r1 = room(&store, "r1", "u").await;
    let r2 = room(&store, "r2", "u").await;
    let m1 = store
        .append_message(text(&r1.id, "a"))
        .await
        .unwrap()
        .message;
    let m2 = store
        .append_message(text(&r2.id, "b"))
        .await
        .unwrap()
        .message;
    // Another room's message, an unknown id and a repeat: only m1 counts, once.
    let ids = vec![
        m1.id.clone(),
        m2.id.clone(),
        "missing".to_owned(),
        m1.id.clone(),
    ];
    let u2 = "0123456789abcdef0123456a";
    let u3 = "0123456789abcdef0123456b";
    assert_eq!(
        store
            .mark_read(&r1.id, u3, &ids, UnixMillis(4))
            .await
            .unwrap(),
        vec![m1.id.clone()]
    );
    assert_eq!(
        store
            .mark_read(&r1.id, u2, &ids, UnixMillis(5))
            .await
            .unwrap(),
        vec![m1.id.clone()]
    );
    assert_eq!(
        store
            .mark_read(&r1.id, u2, &ids, UnixMillis(6))
            .await
            .unwrap(),
        vec![m1.id.clone()]
    );
    let m1 = store.message(&m1.id).await.unwrap().unwrap();
    assert_eq!(
        m1.readers,
        [
            ReaderRecord {
                user: u3.into(),
                at: UnixMillis(4)
            },
            ReaderRecord {
                user: u2.into(),
                at: UnixMillis(5)
            }
        ]
    );
    let m2 = store.message(&m2.id).await.unwrap().unwrap();
    assert!(m2.readers.is_empty());
}

async fn reactions(store: Store) {
    const OPEN: ReactionCaps = ReactionCaps {
        per_message: 20,
        per_user: 5,
    };
    let react = |id: String, reaction: &'static str, user: &'static str, op: ReactionOp| {
        let store = Arc::clone(&store);
        async move {
            match store.react(&id, reaction, user, op, OPEN).await.unwrap() {
                Reacted::Updated(all) => all,
                refused => panic!("{refused:?}"),
            }
        }
    };
    let r = room(&store, "r", "u").await;
    let m = store
        .append_message(text(&r.id, "a"))
        .await
        .unwrap()
        .message;
    for u in ["u1", "u1", "u2"] {
        react(m.id.clone(), "👍", u, ReactionOp::Add).await;
    }
    let all = react(m.id.clone(), "🎉", "u3", ReactionOp::Add).await;
    assert_eq!(all["👍"], ["u1", "u2"]);
    assert_eq!(all["🎉"], ["u3"]);
    react(m.id.clone(), "👍", "u1", ReactionOp::Remove).await;
    let all = react(m.id.clone(), "👍", "u2", ReactionOp::Remove).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let read = store.message(&m.id).await.unwrap().unwrap();
    assert_eq!(read.reactions, all);
    let err = store
        .react(
            "ffffffffffffffffffffffff",
            "👍",
            "u1",
            ReactionOp::Add,
            OPEN,
        )
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound("message"));

    // The caps hold in one step with the write: 18 concurrent adds of six reactions by three
    // users (caps: 4 kinds, 3 per user) leave at most 4 kinds and at most 3 of each user.
    let caps = ReactionCaps {
        per_message: 4,
        per_user: 3,
    };
    let m = store
        .append_message(text(&r.id, "b"))
        .await
        .unwrap()
        .message;
    let emoji = ["a", "b", "c", "d", "e", "f"];
    let adds = emoji
        .iter()
        .flat_map(|e| ["u1", "u2", "u3"].map(|u| (*e, u)));
    let outcomes = futures_util::future::join_all(adds.map(|(e, u)| {
        let store = Arc::clone(&store);
        let id = m.id.clone();
        async move { store.react(&id, e, u, ReactionOp::Add, caps).await.unwrap() }
    }))
    .await;
    let refused = outcomes
        .iter()
        .filter(|o| !matches!(o, Reacted::Updated(_)))
        .count();
    let kept = store.message(&m.id).await.unwrap().unwrap().reactions;
    assert!(kept.len() <= 4, "{kept:?}");
    for u in ["u1", "u2", "u3"] {
        let mine = kept.values().filter(|us| us.iter().any(|x| x == u)).count();
        assert!(mine <= 3, "{u}: {mine} in {kept:?}");
    }
    let added: usize = kept.values().map(Vec::len).sum();
    assert_eq!(added + refused, 18, "every add either kept or refused");
    assert!(
        refused >= 6,
        "{refused} refused: the caps allow at most 9 of 18"
    );
    // Adding a reaction the user already has is not refused at the caps.
    let (first, users) = kept.iter().next().unwrap();
    let again = store
        .react(&m.id, first, &users[0], ReactionOp::Add, caps)
        .await
        .unwrap();
    assert_eq!(again, Reacted::Updated(kept.clone()));
}

async fn room_list(store: Store) {
    let names = ["delta", "Alpha", "charlie", "bravo", "alphabet"];
    let mut ids = Vec::new();
    for name in names {
        ids.push(room(&store, name, "u").await.id);
        // Creation times must differ for the created-at order to be by more than the id.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
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
    let list = |query: RoomListQuery| {
        let store = Arc::clone(&store);
        async move { store.list_rooms(&query).await.unwrap() }
    };

    let page = list(q(RoomSortField::CreatedAt, SortOrder::Desc, 0, 2, "")).await;
    assert_eq!(page.total, 5);
    assert_eq!(names_of(page), ["alphabet", "bravo"]);
    let page = list(q(RoomSortField::CreatedAt, SortOrder::Desc, 2, 2, "")).await;
    assert_eq!(names_of(page), ["delta"]);
    let page = list(q(RoomSortField::Name, SortOrder::Asc, 0, 10, "")).await;
    assert_eq!(
        names_of(page),
        ["Alpha", "alphabet", "bravo", "charlie", "delta"]
    );
    let page = list(q(RoomSortField::Name, SortOrder::Desc, 0, 2, "")).await;
    assert_eq!(names_of(page), ["delta", "charlie"]);
    let page = list(q(
        RoomSortField::ParticipantsCount,
        SortOrder::Desc,
        0,
        2,
        "",
    ))
    .await;
    assert_eq!(names_of(page), ["charlie", "bravo"]);
    let page = list(q(RoomSortField::Name, SortOrder::Asc, 0, 10, "ALPHA")).await;
    assert_eq!(page.total, 2);
    assert_eq!(names_of(page), ["Alpha", "alphabet"]);
    let page = list(q(
        RoomSortField::ParticipantsCount,
        SortOrder::Asc,
        0,
        10,
        "a",
    ))
    .await;
    // Ties (one participant each) fall back to creation order.
    assert_eq!(
        names_of(page),
        ["delta", "Alpha", "alphabet", "bravo", "charlie"]
    );
}

async fn participants(store: Store) {
    let r = room(&store, "r", "u").await;
    assert_eq!(store.room(&r.id).await.unwrap().unwrap(), r);
    store.add_participant(&r.id, "v").await.unwrap();
    let after = store.add_participant(&r.id, "v").await.unwrap();
    assert_eq!(after.participants, ["u", "v"]);
    assert!(store.is_participant(&r.id, "v").await.unwrap());
    assert!(!store.is_participant(&r.id, "w").await.unwrap());
    assert_eq!(
        store
            .is_participant("ffffffffffffffffffffffff", "v")
            .await
            .unwrap_err(),
        StoreError::NotFound("room")
    );
    let after = store.remove_participant(&r.id, "u").await.unwrap();
    assert_eq!(after.participants, ["v"]);
    let again = store.add_participant(&r.id, "u").await.unwrap();
    assert_eq!(again.participants, ["v", "u"], "a rejoin goes to the end");
    assert_eq!(
        store
            .add_participant("ffffffffffffffffffffffff", "v")
            .await
            .unwrap_err(),
        StoreError::NotFound("room")
    );
    assert_eq!(store.room("ffffffffffffffffffffffff").await.unwrap(), None);
    let locked = store
        .create_room(NewRoom {
            name: "locked".into(),
            creator: "u".into(),
            password_hash: Some("$argon2id$x".into()),
        })
        .await
        .unwrap();
    assert_eq!(store.room(&locked.id).await.unwrap().unwrap(), locked);
}

async fn files(store: Store) {
    let new = |name: &str| NewFile {
        filename: name.into(),
        originalname: "고양이 cat.png".into(),
        mimetype: "image/png".into(),
        size: 3,
        owner: "u".into(),
    };
    let f = store.create_file(new("1_ab.png")).await.unwrap();
    let err = store.create_file(new("1_ab.png")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    store.mark_file_posted(&f.id, "r").await.unwrap();
    store.mark_file_posted(&f.id, "r").await.unwrap();
    store.mark_file_posted(&f.id, "s").await.unwrap();
    let by_name = store.file_by_name("1_ab.png").await.unwrap().unwrap();
    assert_eq!(by_name.rooms, ["r", "s"]);
    assert_eq!(by_name.originalname, "고양이 cat.png");
    assert_eq!(
        store.files(std::slice::from_ref(&f.id)).await.unwrap(),
        [by_name]
    );
    assert_eq!(
        store
            .mark_file_posted("ffffffffffffffffffffffff", "r")
            .await
            .unwrap_err(),
        StoreError::NotFound("file")
    );
    assert_eq!(store.delete_file(&f.id).await.unwrap().unwrap().id, f.id);
    assert_eq!(store.file_by_name("1_ab.png").await.unwrap(), None);
    assert_eq!(store.delete_file(&f.id).await.unwrap(), None);
}

/// Uploads not posted yet are listed per owner (the quota) and by age (the sweeper); posting one
/// takes it out of both, and deleting "only if unposted" leaves a posted file alone.
async fn unposted_uploads(store: Store) {
    let new = |name: &str, owner: &str, size: u64| NewFile {
        filename: name.into(),
        originalname: "a.txt".into(),
        mimetype: "text/plain".into(),
        size,
        owner: owner.into(),
    };
    let a1 = store.create_file(new("a1.txt", "a", 10)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let a2 = store.create_file(new("a2.txt", "a", 20)).await.unwrap();
    let b1 = store.create_file(new("b1.txt", "b", 40)).await.unwrap();
    let ids = |files: Vec<reference_server::store::FileRecord>| {
        let mut ids: Vec<String> = files.into_iter().map(|f| f.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        ids(store.unposted_files("a").await.unwrap()),
        sorted(vec![a1.id.clone(), a2.id.clone()])
    );
    let later = reference_server::store::UnixMillis(b1.uploaded_at.0 + 1);
    let oldest = store.unposted_before(later, 1).await.unwrap();
    assert_eq!(oldest.len(), 1);
    assert_eq!(oldest[0].id, a1.id, "oldest first");
    assert_eq!(store.unposted_before(later, 10).await.unwrap().len(), 3);
    assert!(
        store
            .unposted_before(a1.uploaded_at, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing uploaded before the first"
    );

    store.mark_file_posted(&a1.id, "r").await.unwrap();
    assert_eq!(
        ids(store.unposted_files("a").await.unwrap()),
        vec![a2.id.clone()]
    );
    assert_eq!(
        store.delete_unposted_file(&a1.id).await.unwrap(),
        None,
        "a posted file is kept"
    );
    assert!(store.file(&a1.id).await.unwrap().is_some());
    let gone = store.delete_unposted_file(&a2.id).await.unwrap().unwrap();
    assert_eq!((gone.id.as_str(), gone.size), (a2.id.as_str(), 20));
    assert_eq!(store.file_by_name("a2.txt").await.unwrap(), None);
    assert!(store.unposted_files("a").await.unwrap().is_empty());
    store.delete_file(&b1.id).await.unwrap();
    assert!(store.unposted_before(later, 10).await.unwrap().is_empty());
}

/// A key answers retries for the configured TTL and no longer: after it a resend is a new message
/// (the key is gone, in Redis by its own expiry).
async fn client_ids_expire(store: Store) {
    let r = room(&store, "r", "u").await;
    let keyed = NewMessage {
        client_id: Some("k".into()),
        ..text(&r.id, "a")
    };
    assert!(!store.append_message(keyed.clone()).await.unwrap().replay);
    assert!(store.append_message(keyed.clone()).await.unwrap().replay);
    tokio::time::sleep(SHORT_TTL * 3).await;
    assert!(!store.append_message(keyed).await.unwrap().replay);
}

const SHORT_TTL: std::time::Duration = std::time::Duration::from_millis(200);

#[tokio::test]
async fn client_ids_expire_in_memory_and_redis() {
    client_ids_expire(Arc::new(MemoryStore::with_client_id_ttl(SHORT_TTL))).await;
    let url = STANDALONE.get_or_init(common::redis::standalone).url();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let options = RedisOptions {
        prefix: prefix(),
        client_id_ttl: SHORT_TTL,
        ..RedisOptions::default()
    };
    let target = RedisTarget::parse(&url).unwrap();
    let store = RedisStore::connect(target, options, tx).await.unwrap();
    client_ids_expire(Arc::new(store)).await;
}

/// A registration whose user write fails (here: a Redis user refused HSET and DEL, as a Redis
/// dying between the steps would refuse them) leaves the e-mail free: the next registration with it
/// succeeds, instead of finding it taken by a user that does not exist.
#[tokio::test]
async fn a_failed_registration_leaves_the_email_free() {
    let node = STANDALONE.get_or_init(common::redis::standalone);
    let acl = "ACL SETUSER nowrite on >pw ~* &* +@all -hset -hmset -del -unlink";
    let args: Vec<&str> = acl.split(' ').collect();
    assert!(node.cli(&args).is_some(), "ACL SETUSER failed");
    let prefix = prefix();
    let connect = |url: String| {
        let prefix = prefix.clone();
        async move {
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let options = RedisOptions {
                prefix,
                ..RedisOptions::default()
            };
            let target = RedisTarget::parse(&url).unwrap();
            Arc::new(RedisStore::connect(target, options, tx).await.unwrap()) as Store
        }
    };
    let limited = connect(node.url().replace("redis://", "redis://nowrite:pw@")).await;
    let new = NewUser {
        name: "n".into(),
        email: "lost@x.io".into(),
        password_hash: "h".into(),
    };
    limited.create_user(new.clone()).await.unwrap_err();
    let store = connect(node.url()).await;
    assert_eq!(store.user_by_email("lost@x.io").await.unwrap(), None);
    let user = store.create_user(new).await.unwrap();
    assert_eq!(store.user_by_email("lost@x.io").await.unwrap(), Some(user));
}

#[tokio::test]
async fn memory_store_conforms() {
    conformance(memory()).await;
}

#[tokio::test]
async fn redis_standalone_store_conforms() {
    conformance(standalone()).await;
}

#[tokio::test]
async fn redis_cluster_store_conforms() {
    conformance(cluster()).await;
}

/// The Lua formatter that writes timestamps into logged `message` frames agrees with
/// `UnixMillis::to_wire` (leap years, centuries, the epoch, millisecond edges).
#[tokio::test]
async fn lua_timestamps_match_the_wire_format() {
    let url = STANDALONE.get_or_init(common::redis::standalone).url();
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let script = redis::Script::new(&format!(
        "{}\nlocal out = {{}}\nfor i = 1, #ARGV do out[i] = iso(tonumber(ARGV[i])) end\nreturn out",
        reference_server::store::redis::lua::ISO
    ));
    let mut samples: Vec<i64> = vec![
        0,
        999,
        1_000,
        86_399_999,
        951_782_400_000,   // 2000-02-29
        4_107_542_399_999, // 2100-02-28T23:59:59.999
        4_107_542_400_000, // 2100-03-01
        1_733_045_400_123,
        253_402_300_799_999, // 9999-12-31T23:59:59.999
    ];
    let mut x: i64 = 1;
    for _ in 0..500 {
        x = (x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1)) & 0x7fff_ffff_ffff;
        samples.push(x % 4_102_444_800_000);
    }
    let mut inv = script.prepare_invoke();
    for s in &samples {
        inv.arg(*s);
    }
    let got: Vec<String> = inv.invoke_async(&mut conn).await.unwrap();
    for (ms, iso) in samples.iter().zip(got) {
        assert_eq!(iso, UnixMillis(*ms).to_wire().as_str(), "{ms}");
    }
    let _: () = conn.set("probe", 1).await.unwrap();
}
