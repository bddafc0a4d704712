//! Several server instances on one Redis (standalone and Cluster): room events cross instances
//! exactly once and in the room's order, a login on one instance ends the socket on another, an AI
//! stream running on one instance shows in `joinRoomSuccess` on another, a Redis outage fails
//! requests fast (503, `error` events) and heals by itself, a retried `clientMessageId` is stored and
//! broadcast once, and a failed publish is repaired without waiting for the room's next event.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::redis::{RedisCluster, RedisNode};
use common::{Socket, TestServer, User};
use protocol::events::JoinRoomSuccess;
use protocol::rest::Room;
use reference_server::overload::OverloadConfig;
use reference_server::store::redis::RedisTarget;
use reference_server::{ServerConfig, StoreConfig};
use serde_json::{Value, json};

static CLUSTER: OnceLock<RedisCluster> = OnceLock::new();
static STANDALONE: OnceLock<RedisNode> = OnceLock::new();

/// `n` instances sharing one Redis under a fresh key prefix.
async fn instances(url: &str, n: usize) -> Vec<TestServer> {
    instances_with(url, n, |_| {}).await
}

/// [`instances`], each config changed by `tweak` too.
async fn instances_with(url: &str, n: usize, tweak: impl Fn(&mut ServerConfig)) -> Vec<TestServer> {
    let prefix = format!("t{:08x}", rand::random::<u32>());
    let mut out = Vec::new();
    for _ in 0..n {
        let target = RedisTarget::parse(url).unwrap();
        let prefix = prefix.clone();
        out.push(
            common::start_with(|c| {
                // Overload control coordinates on the store's Redis, as `--store` sets up.
                c.overload.redis = Some(target.clone());
                c.store = StoreConfig::Redis(target);
                c.redis.prefix = prefix;
                tweak(c);
            })
            .await,
        );
    }
    out
}

/// Alice on instance `a` and Bob on instance `b`, in a new room `name` that Alice made: both joined,
/// each past the join announcements.
struct Across {
    alice: User,
    room: Room,
    sa: Socket,
    sb: Socket,
}

async fn room_across(a: &TestServer, b: &TestServer, name: &str) -> Across {
    let alice = a.user("Alice").await;
    let bob = b.user("Bob").await;
    let room = a.create_room(&alice, name, None).await;
    assert_eq!(b.join_room(&bob, &room.id, None).await.status(), 200);
    let mut sa = a.joined(&alice, &room.id).await;
    sa.expect_announcement().await;
    let mut sb = b.joined(&bob, &room.id).await;
    sb.expect_announcement().await;
    sa.expect_announcement().await;
    Across {
        alice,
        room,
        sa,
        sb,
    }
}

fn cluster_url() -> String {
    CLUSTER.get_or_init(RedisCluster::start).url()
}

fn standalone_url() -> String {
    STANDALONE.get_or_init(common::redis::standalone).url()
}

/// Each of three users, each on its own instance, sends `per_user` messages as fast as it can;
/// every member receives every message once, and all members see one and the same order, which is
/// the order of the room's history.
async fn messages_cross_instances(url: &str) {
    let servers = instances(url, 3).await;
    let names = ["Alice", "Bob", "Carol"];
    let mut users: Vec<User> = Vec::new();
    for (server, name) in servers.iter().zip(names) {
        users.push(server.user(name).await);
    }
    let room = servers[0].create_room(&users[0], "shared", None).await;
    for (server, user) in servers.iter().zip(&users).skip(1) {
        assert_eq!(server.join_room(user, &room.id, None).await.status(), 200);
    }
    let mut sockets: Vec<Socket> = Vec::new();
    for (i, (server, user)) in servers.iter().zip(&users).enumerate() {
        let mut socket = server.joined(user, &room.id).await;
        // The joiner's own notice, then the participant list.
        socket.expect_announcement().await;
        // Everyone already in the room hears this join, whatever instance they are on.
        for earlier in sockets.iter_mut() {
            let notice = earlier.expect_announcement().await;
            assert_eq!(notice["content"], format!("{} joined the room.", names[i]));
        }
        sockets.push(socket);
    }

    let per_user = 25;
    for (i, socket) in sockets.iter_mut().enumerate() {
        for k in 0..per_user {
            socket
                .emit(
                    "chatMessage",
                    &json!({"room": room.id, "type": "text", "content": format!("{i}-{k}")}),
                )
                .await;
        }
    }
    let total = per_user * sockets.len();
    let mut orders: Vec<Vec<String>> = Vec::new();
    for socket in sockets.iter_mut() {
        let mut seen = Vec::new();
        while seen.len() < total {
            let m = socket.expect("message").await;
            seen.push(m["content"].as_str().unwrap().to_owned());
        }
        socket
            .expect_none("message", Duration::from_millis(300))
            .await;
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for c in &seen {
            *counts.entry(c.as_str()).or_default() += 1;
        }
        assert_eq!(counts.len(), total, "every message exactly once");
        assert!(counts.values().all(|&n| n == 1));
        // Each sender's messages in the order sent.
        for i in 0..sockets_len(total, per_user) {
            let mine: Vec<&String> = seen
                .iter()
                .filter(|c| c.starts_with(&format!("{i}-")))
                .collect();
            let sent: Vec<String> = (0..per_user).map(|k| format!("{i}-{k}")).collect();
            assert_eq!(mine, sent.iter().collect::<Vec<_>>());
        }
        orders.push(seen);
    }
    assert!(
        orders.windows(2).all(|w| w[0] == w[1]),
        "every member sees the room's one order"
    );
    // That order is the history's.
    sockets[1]
        .emit(
            "fetchPreviousMessages",
            &json!({"roomId": room.id, "before": null}),
        )
        .await;
    let page = sockets[1].expect("previousMessagesLoaded").await;
    let history: Vec<String> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["type"] == "text")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(history, orders[0][total - history.len()..]);
    // Timestamps in live events (written by the store's script) equal the stored ones.
    let live_last = &orders[0][total - 1];
    let stored_last = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|m| &m["content"] == live_last)
        .unwrap();
    assert!(stored_last["timestamp"].as_str().unwrap().ends_with('Z'));

    // Reactions and read receipts cross too.
    let target = stored_last["_id"].as_str().unwrap().to_owned();
    sockets[2]
        .emit(
            "messageReaction",
            &json!({"messageId": target, "reaction": "👍", "type": "add"}),
        )
        .await;
    for socket in sockets.iter_mut() {
        let update = socket.expect("messageReactionUpdate").await;
        assert_eq!(update["reactions"]["👍"], json!([users[2].id]));
    }
    sockets[0]
        .emit(
            "markMessagesAsRead",
            &json!({"roomId": room.id, "messageIds": [target]}),
        )
        .await;
    for socket in sockets.iter_mut().skip(1) {
        let read = socket.expect("messagesRead").await;
        assert_eq!(read["userId"], users[0].id);
    }
    sockets[0]
        .expect_none("messagesRead", Duration::from_millis(200))
        .await;
    // An AI reply streams to every instance.
    sockets[1]
        .emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": "@wayneAI hi"}),
        )
        .await;
    for socket in sockets.iter_mut() {
        socket.expect("aiMessageStart").await;
        let done = socket.expect("aiMessageComplete").await;
        assert!(!done["content"].as_str().unwrap().is_empty());
    }
    for server in servers {
        let _ = server.server.shutdown().await;
    }
}

fn sockets_len(total: usize, per_user: usize) -> usize {
    total / per_user
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_instances_on_a_cluster_exactly_once_in_order() {
    messages_cross_instances(&cluster_url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_instances_on_standalone_redis_exactly_once_in_order() {
    messages_cross_instances(&standalone_url()).await;
}

/// A `chatMessage` retried with the same `clientMessageId` on a Cluster: the append script finds the
/// key, so nothing is logged or published again. The sender gets two echoes with one `_id`; the
/// member on the other instance hears it once; history holds it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_client_message_id_crosses_instances_once() {
    let servers = instances(&cluster_url(), 2).await;
    let Across {
        room,
        sa: mut a,
        sb: mut b,
        ..
    } = room_across(&servers[0], &servers[1], "retry").await;

    let send = json!({"room": room.id, "type": "text", "content": "once", "clientMessageId": "k"});
    a.emit("chatMessage", &send).await;
    let first = a.expect("message").await;
    a.emit("chatMessage", &send).await;
    let echo = a.expect("message").await;
    assert_eq!(echo["_id"], first["_id"]);
    assert_eq!(echo["timestamp"], first["timestamp"]);
    assert_eq!(b.expect("message").await["_id"], first["_id"]);
    b.expect_none("message", Duration::from_millis(500)).await;

    b.emit("fetchPreviousMessages", &json!({"roomId": room.id}))
        .await;
    b.expect("messageLoadStart").await;
    let page = b.expect("previousMessagesLoaded").await;
    let once = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == "once")
        .count();
    assert_eq!(once, 1, "{page}");
}

/// A message whose publish fails after it was logged (the Redis user may not PUBLISH for a moment)
/// still reaches the member on the other instance once publishing works again, with no later
/// event in the room to reveal the gap: the sender's instance publishes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_publish_is_repaired_without_a_next_event() {
    let node = RedisNode::start(false);
    let acl = |rule: &str| {
        let line = format!("ACL SETUSER chat on >pw ~* &* +@all {rule}");
        let args: Vec<&str> = line.split(' ').collect();
        assert!(node.cli(&args).is_some(), "{line}");
    };
    acl("+publish");
    let url = node.url().replace("redis://", "redis://chat:pw@");
    let servers = instances(&url, 2).await;
    let Across {
        room,
        sa: mut a,
        sb: mut b,
        ..
    } = room_across(&servers[0], &servers[1], "repair").await;

    acl("-publish");
    let send = json!({"room": room.id, "type": "text", "content": "late", "clientMessageId": "p"});
    a.emit("chatMessage", &send).await;
    assert_eq!(a.expect("error").await["code"], "MESSAGE_ERROR");
    acl("+publish");
    let started = Instant::now();
    let got = b.expect("message").await;
    assert_eq!(got["content"], "late");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The sender hears it too, once; a retry of it is answered, not stored again.
    assert_eq!(a.expect("message").await["_id"], got["_id"]);
    a.emit("chatMessage", &send).await;
    assert_eq!(a.expect("message").await["_id"], got["_id"]);
    b.expect_none("message", Duration::from_millis(500)).await;
}

/// A room hot on one instance is hot on all; each instance thins the recoverable pushes for its own
/// members, every chat message still reaches everyone once, and members on either instance converge
/// on the latest reaction state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_room_is_thinned_on_every_instance_and_everyone_converges() {
    // Hot after 4 messages; no thinnable push by chance, only what is owed, 300 ms after the miss.
    let hot = OverloadConfig::parse(
        "[hot]\nbucket_size = 4\nrefill_per_sec = 0.01\npush_probability = 0.0\n\
         min_pushes = 0\nmin_interval = \"300ms\"\nconverge_within = \"300ms\"\n",
    )
    .unwrap();
    let servers = instances_with(&standalone_url(), 2, |c| c.overload.config = hot.clone()).await;
    let (a, b) = (&servers[0], &servers[1]);
    let alice = a.user("Alice").await;
    let bob = b.user("Bob").await;
    let carol = b.user("Carol").await;
    let room = a.create_room(&alice, "celebrity", None).await;
    for user in [&bob, &carol] {
        assert_eq!(b.join_room(user, &room.id, None).await.status(), 200);
    }
    let mut sa = a.joined(&alice, &room.id).await;
    sa.expect_announcement().await;
    let mut sb = b.joined(&bob, &room.id).await;
    sb.expect_announcement().await;
    sa.expect_announcement().await;
    let mut sc = b.joined(&carol, &room.id).await;
    sc.expect_announcement().await;
    sa.expect_announcement().await;
    sb.expect_announcement().await;

    for i in 0..5 {
        sa.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": format!("m{i}")}),
        )
        .await;
    }
    let mut last_id = String::new();
    for socket in [&mut sa, &mut sb, &mut sc] {
        for i in 0..5 {
            let m = socket.expect("message").await;
            assert_eq!(m["content"], format!("m{i}"));
            last_id = m["_id"].as_str().unwrap().to_owned();
        }
    }
    let b_overload = &b.server.state().overload;
    assert!(
        common::eventually(common::WAIT, || b_overload.is_hot(&room.id)).await,
        "instance b never heard the room is hot"
    );

    // Bob (on b) reacts three times and gets every update; Alice (on a) and Carol (on b) get the
    // latest state 300 ms after the first miss instead.
    for emoji in ["👍", "🎉", "❤️"] {
        sb.emit(
            "messageReaction",
            &json!({"messageId": last_id, "reaction": emoji, "type": "add"}),
        )
        .await;
        let update = sb.expect("messageReactionUpdate").await;
        assert!(update["reactions"][emoji].is_array(), "{update}");
    }
    for socket in [&mut sa, &mut sc] {
        let mut owed = socket.expect("messageReactionUpdate").await;
        // (A deadline may pass between two reactions: then an intermediate state comes first.)
        for _ in 0..2 {
            if owed["reactions"].as_object().unwrap().len() == 3 {
                break;
            }
            owed = socket.expect("messageReactionUpdate").await;
        }
        assert_eq!(owed["reactions"].as_object().unwrap().len(), 3, "{owed}");
    }
    for server in [a, b] {
        let thinned = server
            .metric("chat_pushes_thinned_total{class=\"reactions\"}")
            .await;
        assert!(thinned >= 1, "{thinned}");
    }
    for server in servers {
        let _ = server.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_one_instance_ends_the_socket_on_another() {
    let servers = instances(&cluster_url(), 2).await;
    let (a, b) = (&servers[0], &servers[1]);
    let (alice, bob, room) = a.room_of_two("dupes").await;
    let mut old = b.joined(&alice, &room.id).await;
    old.expect_announcement().await;
    let mut watcher = a.joined(&bob, &room.id).await;
    watcher.expect_announcement().await;
    old.expect_announcement().await;

    // Alice logs in again through instance A; her socket on B is ended before the login returns.
    let started = Instant::now();
    let fresh = a.login(&alice.email).await;
    let notice = old.expect("duplicate_login").await;
    assert_eq!(notice["type"], "new_login_attempt");
    assert_eq!(notice["deviceInfo"], common::USER_AGENT);
    assert_eq!(
        old.expect("session_ended").await["reason"],
        "duplicate_login"
    );
    old.expect_closed(common::WAIT).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        watcher.expect("message").await["content"],
        "Alice disconnected."
    );

    // A second CONNECT of the same user on another instance replaces the first socket too.
    let mut on_a = a.socket(&fresh).await;
    let mut on_b = b.socket(&fresh).await;
    assert_eq!(
        on_a.expect("session_ended").await["reason"],
        "duplicate_login"
    );
    on_a.expect_closed(common::WAIT).await;
    // The survivor works.
    on_b.emit("joinRoom", &room.id).await;
    on_b.expect("joinRoomSuccess").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_running_on_one_instance_shows_when_joining_on_another() {
    // Chunks 40 ms apart: a few seconds of stream, long enough to join during it.
    let servers = instances_with(&standalone_url(), 2, |c| {
        c.ai_chunk_delay = Duration::from_millis(40);
    })
    .await;
    let (a, b) = (&servers[0], &servers[1]);
    let (alice, bob, room) = a.room_of_two("slow ai").await;
    let mut on_a = a.joined(&alice, &room.id).await;
    on_a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "@consultingAI help"}),
    )
    .await;
    let first = on_a.expect("aiMessageChunk").await;

    // Bob joins through B, which has no member of the room yet and runs no stream.
    let mut on_b = b.socket(&bob).await;
    on_b.emit("joinRoom", &room.id).await;
    let success: JoinRoomSuccess =
        serde_json::from_value(on_b.expect("joinRoomSuccess").await).unwrap();
    assert_eq!(success.active_streams.len(), 1, "{success:?}");
    let stream = &success.active_streams[0];
    assert_eq!(stream.id, first["messageId"].as_str().unwrap());
    assert_eq!(stream.ai_type, "consultingAI");
    assert!(stream.is_streaming);
    assert!(!stream.content.is_empty(), "the text so far comes along");

    // Once it has ended, no instance lists it.
    on_a.expect("aiMessageComplete").await;
    let mut again = b.socket(&alice).await;
    again.emit("joinRoom", &room.id).await;
    let success: JoinRoomSuccess =
        serde_json::from_value(again.expect("joinRoomSuccess").await).unwrap();
    assert!(success.active_streams.is_empty(), "{success:?}");
}

/// Redis goes away in the middle of a session: REST answers 503 fast, socket events get `error`
/// events, sockets stay up, and once Redis is back everything works again by itself, with nothing
/// that was acknowledged lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lost_fails_fast_and_recovers_by_itself() {
    let mut redis = RedisNode::persistent();
    let servers = instances(&redis.url(), 2).await;
    let (a, b) = (&servers[0], &servers[1]);
    let Across {
        alice,
        room,
        mut sa,
        mut sb,
    } = room_across(a, b, "outage").await;
    let say = |text: &str| json!({"room": room.id, "type": "text", "content": text});
    sa.emit("chatMessage", &say("before")).await;
    assert_eq!(sb.expect("message").await["content"], "before");
    sa.expect("message").await;

    redis.kill();
    let started = Instant::now();
    let response = a.get("/api/rooms", &alice).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    sa.emit("chatMessage", &say("during")).await;
    let error = sa.expect("error").await;
    assert_eq!(error["code"], "MESSAGE_ERROR");
    assert!(
        error["message"].as_str().unwrap().contains("unavailable"),
        "{error}"
    );

    redis.restart();
    // Recovery needs no restart of the servers: retry until the store answers again.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = a.get("/api/rooms", &alice).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both sockets survived the outage, and fan-out resubscribed.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    let delivered = loop {
        n += 1;
        let text = format!("after-{n}");
        sa.emit("chatMessage", &say(&text)).await;
        let mut got = None;
        for (name, payload) in sb.drain(Duration::from_millis(500)).await {
            if name == "message" && payload["content"] == text.as_str() {
                got = Some(payload);
            }
        }
        if got.is_some() || Instant::now() > deadline {
            break got;
        }
    };
    assert!(
        delivered.is_some(),
        "messages cross instances again after the outage"
    );
    // Nothing acknowledged was lost: "before" is still in the history.
    let history = a
        .get(&format!("/api/rooms/{}", room.id), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200);
    sb.emit(
        "fetchPreviousMessages",
        &json!({"roomId": room.id, "before": null}),
    )
    .await;
    let page = sb.expect("previousMessagesLoaded").await;
    let contents: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(contents.contains(&"before"), "{contents:?}");
    assert!(!contents.contains(&"during"), "{contents:?}");
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("redis://127.0.0.1:{port}");
    let files = tempfile::tempdir().unwrap();
    let mut config = common::test_config(files.path());
    config.store = StoreConfig::Redis(RedisTarget::parse(&url).unwrap());
    let started = Instant::now();
    let err = reference_server::start(config)
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.contains(&url), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
