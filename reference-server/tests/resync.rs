//! An instance that falls further behind a room than the room's Redis log reaches (`--redis-log-cap`)
//! skips what the log no longer has and tells its members of that room, and only them, with a
//! `resync` event; the events the log still had follow, in order, and the history holds everything.
//!
//! The fault is real: two instances on one `redis-server`, each under its own ACL user, and instance
//! B's connection is killed and its user disabled while A's member sends more than the cap, as a
//! network partition between B and Redis would.

mod common;

use std::time::{Duration, Instant};

use common::redis::RedisNode;
use common::{Socket, TestServer};
use reference_server::StoreConfig;
use reference_server::store::redis::RedisTarget;
use serde_json::{Value, json};

/// The room log's cap in this test: small, so a short outage outruns it.
const LOG_CAP: u32 = 20;
/// Messages sent while instance B is cut off: more than the cap.
const SENT: usize = 50;
/// How long B may take to come back and catch up once its Redis user works again.
const RECOVERY: Duration = Duration::from_secs(20);

/// Runs `ACL …`/`CLIENT …` on `node`, failing the test if Redis refuses.
fn redis(node: &RedisNode, line: &str) {
    let args: Vec<&str> = line.split(' ').collect();
    assert!(node.cli(&args).is_some(), "{line}");
}

/// An instance on `node` as Redis user `user`, under `prefix`, with the small log.
async fn instance(node: &RedisNode, user: &str, prefix: &str) -> TestServer {
    redis(node, &format!("ACL SETUSER {user} on >pw ~* &* +@all"));
    let url = node
        .url()
        .replace("redis://", &format!("redis://{user}:pw@"));
    let prefix = prefix.to_owned();
    common::start_with(|c| {
        c.store = StoreConfig::Redis(RedisTarget::parse(&url).unwrap());
        c.redis.prefix = prefix;
        c.redis_log_cap = LOG_CAP;
    })
    .await
}

/// Every text message of `room` in the history, oldest first, read as a client would after a
/// `resync`: the newest page, then pages `before` the oldest one seen until there are no more.
async fn history(socket: &mut Socket, room: &str) -> Vec<String> {
    let mut texts = Vec::new();
    let mut before = Value::Null;
    for _ in 0..10 {
        socket
            .emit(
                "fetchPreviousMessages",
                &json!({"roomId": room, "before": before}),
            )
            .await;
        socket.expect("messageLoadStart").await;
        let page = socket.expect("previousMessagesLoaded").await;
        let mut older: Vec<String> = page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["type"] == "text")
            .map(|m| m["content"].as_str().unwrap().to_owned())
            .collect();
        older.append(&mut texts);
        texts = older;
        if page["hasMore"] != true {
            return texts;
        }
        before = page["oldestTimestamp"].clone();
    }
    panic!("history did not end within 10 pages: {texts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_room_an_instance_fell_behind_get_resync_and_the_history_has_it_all() {
    let node = RedisNode::start(false);
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let a = instance(&node, "a", &prefix).await;
    let b = instance(&node, "b", &prefix).await;

    // Alice on A and Bob on B share "busy"; Carol on B is alone in "quiet".
    let alice = a.user("Alice").await;
    let bob = b.user("Bob").await;
    let carol = b.user("Carol").await;
    let busy = a.create_room(&alice, "busy", None).await;
    assert_eq!(b.join_room(&bob, &busy.id, None).await.status(), 200);
    let quiet = b.create_room(&carol, "quiet", None).await;
    let mut sa = a.joined(&alice, &busy.id).await;
    sa.expect_announcement().await;
    let mut sb = b.joined(&bob, &busy.id).await;
    sb.expect_announcement().await;
    sa.expect_announcement().await;
    let mut sc = b.joined(&carol, &quiet.id).await;
    sc.expect_announcement().await;

    let say = |text: &str| json!({"room": busy.id, "type": "text", "content": text});
    sa.emit("chatMessage", &say("before")).await;
    sa.expect("message").await;
    assert_eq!(sb.expect("message").await["content"], "before");

    // B loses Redis and cannot come back (its user is off) while Alice sends more than the log
    // keeps; each send is stored and published (its echo came back through A's subscription).
    redis(&node, "ACL SETUSER b off");
    redis(&node, "CLIENT KILL USER b");
    for i in 0..SENT {
        sa.emit("chatMessage", &say(&format!("m{i}"))).await;
        assert_eq!(sa.expect("message").await["content"], format!("m{i}"));
    }
    redis(&node, "ACL SETUSER b on");
    let back = Instant::now();

    // Bob: the resync, then the events the log still had, in order.
    let kept: Vec<String> = (SENT - LOG_CAP as usize..SENT)
        .map(|i| format!("m{i}"))
        .collect();
    let mut got: Vec<(String, Value)> = Vec::new();
    let mut resync_after = None;
    while got.iter().filter(|(n, _)| n == "message").count() < kept.len() {
        let left = RECOVERY.saturating_sub(back.elapsed());
        assert!(
            !left.is_zero(),
            "B did not catch up in {RECOVERY:?}: {got:?}"
        );
        got.extend(sb.drain(left.min(Duration::from_millis(200))).await);
        if resync_after.is_none() && got.iter().any(|(n, _)| n == "resync") {
            resync_after = Some(back.elapsed());
        }
    }
    let (first, resync) = &got[0];
    assert_eq!(first, "resync", "{got:?}");
    assert_eq!(
        *resync,
        json!({"roomId": busy.id, "reason": "events_skipped", "missed": SENT - LOG_CAP as usize}),
    );
    let live: Vec<&str> = got[1..]
        .iter()
        .map(|(name, m)| {
            assert_eq!(name, "message", "{got:?}");
            m["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(live, kept);
    eprintln!(
        "resync {:?} after B's Redis user came back",
        resync_after.unwrap()
    );

    // What the client does on resync: the history has every message, the skipped ones included.
    let texts = history(&mut sb, &busy.id).await;
    let mut all = vec!["before".to_owned()];
    all.extend((0..SENT).map(|i| format!("m{i}")));
    assert_eq!(texts, all);

    // Only the room with the hole: Carol (same instance, other room) and Alice (other instance)
    // get no resync, and the counters say one member was told of 30 events.
    sc.expect_none("resync", Duration::from_millis(500)).await;
    sa.expect_none("resync", Duration::from_millis(100)).await;
    assert_eq!(b.metric("chat_room_resyncs_total").await, 1);
    assert_eq!(
        b.metric("chat_room_events_skipped_total").await,
        (SENT - LOG_CAP as usize) as u64
    );
    assert_eq!(a.metric("chat_room_resyncs_total").await, 0);

    // Fan-out is whole again: the next message reaches Bob live, with no further resync.
    sa.emit("chatMessage", &say("after")).await;
    assert_eq!(sb.expect("message").await["content"], "after");
    sb.expect_none("resync", Duration::from_millis(300)).await;
    for server in [a, b] {
        let _ = server.server.shutdown().await;
    }
}
