//! An instance that falls further behind a room than the room's Redis log reaches (`--redis-log-cap`)
//! skips what the log no longer has and tells its members of that room, and only them, with a
//! `resync` event; the events the log still had follow, in order, and the history holds everything.
//!
//! The faults are real, on two instances sharing one `redis-server` (or one 6-node Redis Cluster,
//! the same ACL set on every node), each under its own ACL user:
//! instance B's connection is killed and its user disabled while A's member sends more than the cap
//! (a partition between B and Redis: B catches up from the log when it is back), or A's user may
//! not PUBLISH while it sends (the events are logged but reach no instance: both find the gap at
//! the next published event and read the log).

mod common;

use std::time::{Duration, Instant};

use common::redis::{RedisCluster, RedisNode};
use common::{Socket, TestServer};
use reference_server::store::redis::RedisTarget;
use reference_server::{ServerConfig, StoreConfig};
use serde_json::{Value, json};

/// The room log's cap in this test: small, so a short outage outruns it.
const LOG_CAP: u32 = 20;
/// Messages sent while instance B is cut off: more than the cap.
const SENT: usize = 50;
/// How long B may take to come back and catch up once its Redis user works again.
const RECOVERY: Duration = Duration::from_secs(20);

/// The Redis both instances use: one server, or a cluster (ACL users are per node, so every
/// command below runs on each).
enum Backend {
    Standalone(RedisNode),
    Cluster(RedisCluster),
}

impl Backend {
    fn start(cluster: bool) -> Backend {
        if cluster {
            Backend::Cluster(RedisCluster::start())
        } else {
            Backend::Standalone(RedisNode::start(false))
        }
    }

    fn nodes(&self) -> &[RedisNode] {
        match self {
            Backend::Standalone(node) => std::slice::from_ref(node),
            Backend::Cluster(cluster) => &cluster.nodes,
        }
    }

    /// The store target for Redis user `user` (password `pw`).
    fn target(&self, user: &str) -> RedisTarget {
        let with_user = |url: String| url.replace("redis://", &format!("redis://{user}:pw@"));
        match self {
            Backend::Standalone(node) => RedisTarget::parse(&with_user(node.url())).unwrap(),
            Backend::Cluster(cluster) => {
                RedisTarget::Cluster(cluster.nodes.iter().map(|n| with_user(n.url())).collect())
            }
        }
    }
}

/// Runs `ACL …`/`CLIENT …` on every node of `redis`, failing the test if one refuses.
fn redis(redis: &Backend, line: &str) {
    let args: Vec<&str> = line.split(' ').collect();
    for node in redis.nodes() {
        assert!(node.cli(&args).is_some(), "{line}");
    }
}

/// An instance on `backend` as Redis user `user`, under `prefix`, with the small log, and
/// `tweak`ed.
async fn instance(
    backend: &Backend,
    user: &str,
    prefix: &str,
    tweak: impl Fn(&mut ServerConfig),
) -> TestServer {
    redis(backend, &format!("ACL SETUSER {user} on >pw ~* &* +@all"));
    let target = backend.target(user);
    let prefix = prefix.to_owned();
    common::start_with(|c| {
        c.store = StoreConfig::Redis(target.clone());
        c.redis.prefix = prefix;
        c.redis_log_cap = LOG_CAP;
        tweak(c);
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

/// Alice on A and Bob on B share "busy"; Carol on B is alone in "quiet". Each socket is past its
/// join traffic, and Bob has had one message from Alice.
struct Rooms {
    node: Backend,
    a: TestServer,
    b: TestServer,
    busy: String,
    sa: Socket,
    sb: Socket,
    sc: Socket,
}

async fn rooms(cluster: bool, tweak: impl Fn(&mut ServerConfig) + Clone) -> Rooms {
    let node = Backend::start(cluster);
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let a = instance(&node, "a", &prefix, tweak.clone()).await;
    let b = instance(&node, "b", &prefix, tweak).await;
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
    sa.emit("chatMessage", &say(&busy.id, "before")).await;
    sa.expect("message").await;
    assert_eq!(sb.expect("message").await["content"], "before");
    Rooms {
        node,
        a,
        b,
        busy: busy.id,
        sa,
        sb,
        sc,
    }
}

fn say(room: &str, text: &str) -> Value {
    json!({"room": room, "type": "text", "content": text})
}

/// Reads `socket` until it has had `messages` messages (within [`RECOVERY`]) and returns what came,
/// in order, with how long it took until a `resync` was among it.
async fn catch_up(socket: &mut Socket, messages: usize) -> (Vec<(String, Value)>, Duration) {
    let started = Instant::now();
    let mut got: Vec<(String, Value)> = Vec::new();
    let mut resync_after = None;
    while got.iter().filter(|(n, _)| n == "message").count() < messages {
        let left = RECOVERY.saturating_sub(started.elapsed());
        assert!(!left.is_zero(), "no catch-up in {RECOVERY:?}: {got:?}");
        got.extend(socket.drain(left.min(Duration::from_millis(200))).await);
        if resync_after.is_none() && got.iter().any(|(n, _)| n == "resync") {
            resync_after = Some(started.elapsed());
        }
    }
    (got, resync_after.unwrap_or(RECOVERY))
}

/// Asserts that `got` is one `resync` of `room` for `missed` events, then messages `texts`.
fn resync_then(got: &[(String, Value)], room: &str, missed: usize, texts: &[String]) {
    let (first, resync) = &got[0];
    assert_eq!(first, "resync", "{got:?}");
    assert_eq!(
        *resync,
        json!({"roomId": room, "reason": "events_skipped", "missed": missed}),
    );
    let live: Vec<&str> = got[1..]
        .iter()
        .map(|(name, m)| {
            assert_eq!(name, "message", "{got:?}");
            m["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(live, texts);
}

fn texts(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("m{i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_room_an_instance_fell_behind_get_resync_and_the_history_has_it_all() {
    fell_behind(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_members_of_a_room_an_instance_fell_behind_get_resync() {
    fell_behind(true).await;
}

async fn fell_behind(cluster: bool) {
    let Rooms {
        node,
        a,
        b,
        busy,
        mut sa,
        mut sb,
        mut sc,
    } = rooms(cluster, |_| {}).await;
    // B loses Redis and cannot come back (its user is off) while Alice sends more than the log
    // keeps; each send is stored and published (its echo came back through A's subscription).
    redis(&node, "ACL SETUSER b off");
    redis(&node, "CLIENT KILL USER b");
    for i in 0..SENT {
        sa.emit("chatMessage", &say(&busy, &format!("m{i}"))).await;
        assert_eq!(sa.expect("message").await["content"], format!("m{i}"));
    }
    redis(&node, "ACL SETUSER b on");

    // Bob: the resync, then the events the log still had, in order.
    let missed = SENT - LOG_CAP as usize;
    let (got, resync_after) = catch_up(&mut sb, LOG_CAP as usize).await;
    resync_then(&got, &busy, missed, &texts(missed..SENT));
    eprintln!("resync {resync_after:?} after B's Redis user came back");

    // What the client does on resync: the history has every message, the skipped ones included.
    let mut all = vec!["before".to_owned()];
    all.extend(texts(0..SENT));
    assert_eq!(history(&mut sb, &busy).await, all);

    // Only the room with the hole: Carol (same instance, other room) and Alice (other instance)
    // get no resync, and the counters say one member was told of 30 events.
    sc.expect_none("resync", Duration::from_millis(500)).await;
    sa.expect_none("resync", Duration::from_millis(100)).await;
    assert_eq!(b.metric("chat_room_resyncs_total").await, 1);
    assert_eq!(
        b.metric("chat_room_events_skipped_total").await,
        missed as u64
    );
    assert_eq!(a.metric("chat_room_resyncs_total").await, 0);

    // Fan-out is whole again: the next message reaches Bob live, with no further resync.
    sa.emit("chatMessage", &say(&busy, "after")).await;
    assert_eq!(sb.expect("message").await["content"], "after");
    sb.expect_none("resync", Duration::from_millis(300)).await;
    for server in [a, b] {
        let _ = server.server.shutdown().await;
    }
}

/// Publishes lost for good (A's Redis user may not PUBLISH, and re-publishing is off) while Alice
/// sends more than the log keeps: the events are logged but reach no instance. The next published
/// event reveals the gap on both instances, which read the log 100 ms later: the members of the
/// room on both get `resync`, then what the log still had.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_publishes_past_the_log_resync_the_room_on_every_instance() {
    lost_publishes(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_lost_publishes_past_the_log_resync_the_room_on_every_instance() {
    lost_publishes(true).await;
}

async fn lost_publishes(cluster: bool) {
    let Rooms {
        node,
        a,
        b,
        busy,
        mut sa,
        mut sb,
        mut sc,
    } = rooms(cluster, |c| c.redis_publish_retries = 0).await;
    let lost = 30;
    // PUBLISH on a standalone Redis, SPUBLISH (sharded) on a cluster.
    redis(&node, "ACL SETUSER a -publish -spublish");
    for i in 0..lost {
        sa.emit("chatMessage", &say(&busy, &format!("m{i}"))).await;
        assert_eq!(sa.expect("error").await["code"], "MESSAGE_ERROR");
    }
    redis(&node, "ACL SETUSER a +publish +spublish");
    sa.emit("chatMessage", &say(&busy, "after")).await;

    // The log's newest LOG_CAP events: the last LOG_CAP - 1 lost ones and "after".
    let missed = lost + 1 - LOG_CAP as usize;
    let mut kept = texts(missed..lost);
    kept.push("after".into());
    for (socket, server) in [(&mut sa, &a), (&mut sb, &b)] {
        let (got, resync_after) = catch_up(socket, kept.len()).await;
        resync_then(&got, &busy, missed, &kept);
        eprintln!("resync {resync_after:?} after the next published event");
        assert_eq!(server.metric("chat_room_resyncs_total").await, 1);
        assert_eq!(
            server.metric("chat_room_events_skipped_total").await,
            missed as u64
        );
    }
    sc.expect_none("resync", Duration::from_millis(300)).await;
    let mut all = vec!["before".to_owned()];
    all.extend(texts(0..lost));
    all.push("after".into());
    assert_eq!(history(&mut sb, &busy).await, all);
    for server in [a, b] {
        let _ = server.server.shutdown().await;
    }
}
