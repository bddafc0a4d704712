//! Fuzzing and soak against the real server: proptest-generated payloads for every client event
//! through a real Socket.IO session (the server answers with typed errors and keeps serving), raw
//! garbage frames, and many connect/disconnect cycles after which every per-session, per-user and
//! per-room map is back to where it started — on the memory store and on Redis (where the bus's
//! room subscriptions must end too).

mod common;

use std::time::Duration;

use common::{TestServer, User, WAIT, start_with};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use reference_server::gateway::GatewayMaps;
use reference_server::{ServerConfig, StoreConfig};
use serde_json::{Value, json};

/// Any JSON value: scalars, strings up to 300 KB, arrays and objects up to 6 levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        "[0-9a-f]{24}".prop_map(Value::from),
        (0usize..300_000).prop_map(|n| Value::from("é".repeat(n / 2))),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object with the keys the chat events read, each holding any value: closer to valid input, so
/// the handlers past the shape check are reached too.
fn shaped(room: String) -> impl Strategy<Value = Value> {
    let keys = prop::sample::subsequence(
        vec![
            "room",
            "roomId",
            "content",
            "type",
            "messageId",
            "messageIds",
            "reaction",
            "before",
            "fileData",
        ],
        0..=9,
    );
    (keys, prop::collection::vec(json_value(), 9), any::<bool>()).prop_map(
        move |(keys, values, real_room)| {
            let mut object = serde_json::Map::new();
            for (key, value) in keys.into_iter().zip(values) {
                let value = match key {
                    "room" | "roomId" if real_room => Value::from(room.as_str()),
                    "type" if real_room => json!("text"),
                    _ => value,
                };
                object.insert(key.to_owned(), value);
            }
            Value::Object(object)
        },
    )
}

const EVENTS: [&str; 8] = [
    "joinRoom",
    "chatMessage",
    "fetchPreviousMessages",
    "markMessagesAsRead",
    "messageReaction",
    "leaveRoom",
    "noSuchEvent",
    "",
];

/// Every client event with 500 generated payloads (deterministic seed), through one real session;
/// every 25, the session must still answer a valid request. Every error it sent is a typed error
/// event with a message, and the connection count never moved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_with_generated_payloads_gets_typed_errors_and_the_session_survives() {
    let t = start_with(|_| {}).await;
    let common::Pair {
        room, mut a, b: _b, ..
    } = t.pair("fuzz").await;
    let strategy = (
        prop::sample::select(EVENTS.to_vec()),
        prop_oneof![json_value(), shaped(room.id.clone())],
        prop::collection::vec(json_value(), 0..3),
    );
    let mut runner = TestRunner::deterministic();
    let gateway = &t.server.state().gateway;
    for case in 0..500 {
        let (event, payload, extra) = strategy.new_tree(&mut runner).unwrap().current();
        let mut args = vec![Value::from(event), payload];
        args.extend(extra);
        let frame = format!("42{}", Value::Array(args));
        // Over the max payload the transport ends the session by design; that is not this test.
        if frame.len() > ServerConfig::default().max_payload {
            continue;
        }
        a.send_raw(&frame).await;
        if case % 25 == 24 {
            a.emit("fetchPreviousMessages", &json!({"roomId": room.id}))
                .await;
            a.expect("previousMessagesLoaded").await;
        }
    }
    a.emit("fetchPreviousMessages", &json!({"roomId": room.id}))
        .await;
    a.expect("previousMessagesLoaded").await;
    let mut errors = 0;
    for (name, payload) in a.drain(Duration::from_millis(500)).await {
        if name == "error" || name == "joinRoomError" {
            errors += 1;
            let message = payload["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{name} without a message: {payload}");
        }
    }
    assert!(
        errors > 100,
        "only {errors} errors for 500 generated payloads"
    );
    assert_eq!(gateway.connection_count(), 2);
}

/// Raw frames that are not Socket.IO: random text after every packet prefix, deep nesting, huge
/// ack ids. The server may end such a session (a protocol error), but never panics: each frame goes
/// on a fresh connection when the last one was closed, and the server still serves afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_frames_end_at_most_their_own_session() {
    let t = start_with(|_| {}).await;
    let alice = t.user("Alice").await;
    let strategy = (
        prop::sample::select(vec![
            "", "0", "1", "2", "3", "4", "40", "41", "42", "43", "45", "6",
        ]),
        prop_oneof![
            "\\PC{0,200}",
            (0usize..20_000).prop_map(|depth| "[".repeat(depth)),
            "[0-9]{20,40}\\[\"joinRoom\"\\]",
        ],
    );
    let mut runner = TestRunner::deterministic();
    let mut socket = t.socket(&alice).await;
    for _ in 0..200 {
        let (prefix, text) = strategy.new_tree(&mut runner).unwrap().current();
        let sent = socket.try_send_raw(&format!("{prefix}{text}")).await;
        if !sent || socket.next_frame_within(Duration::from_millis(5)).await == Some(None) {
            socket = t.socket(&alice).await;
        }
    }
    let room = t.create_room(&alice, "after", None).await;
    let mut fresh = t.joined(&alice, &room.id).await;
    fresh.expect("message").await;
}

/// Cycles per worker.
const CYCLES: usize = 25;

/// Four kinds of session end, 100 cycles over 4 concurrent workers: a clean close after an AI
/// mention (the stream outlives the member), a dropped TCP connection, a duplicate login that kicks
/// the older socket, and a polling session abandoned after CONNECT (reaped by the ping timeout).
async fn cycles(t: &TestServer, users: &[User], rooms: &[String], kinds: usize) {
    let work = users.iter().enumerate().map(|(w, user)| async move {
        for i in 0..CYCLES {
            let room = &rooms[(w + i) % rooms.len()];
            match i % kinds {
                0 => {
                    let mut s = t.joined(user, room).await;
                    s.emit(
                        "chatMessage",
                        &json!({"room": room, "type": "text", "content": "@wayneAI hi"}),
                    )
                    .await;
                    s.expect("message").await;
                    s.close().await;
                }
                1 => drop(t.joined(user, room).await),
                2 => {
                    let _older = t.joined(user, room).await;
                    let newer = t.joined(user, room).await;
                    newer.close().await;
                }
                _ => {
                    let sid = t.polling_handshake().await;
                    let auth = serde_json::to_string(&user.auth()).unwrap();
                    let url = t.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"));
                    let posted = t.http.post(&url).body(format!("40{auth}")).send().await;
                    assert_eq!(posted.unwrap().status(), 200);
                    // The POST is answered before the CONNECT is handled: poll once for the
                    // CONNECT reply, or this login could land after the next cycle's and kick it.
                    let polled = t.http.get(&url).send().await.unwrap().text().await.unwrap();
                    assert!(polled.contains("40{"), "{polled}");
                }
            }
        }
    });
    futures_util::future::join_all(work).await;
}

/// Runs the cycles (the first `kinds` kinds) on a server from `config` and checks that every map
/// is back to empty.
async fn soak(kinds: usize, tweak: impl FnOnce(&mut ServerConfig)) {
    let t = start_with(|c| {
        c.ping_interval = Duration::from_millis(200);
        c.ping_timeout = Duration::from_millis(200);
        tweak(c);
    })
    .await;
    let owner = t.user("Owner").await;
    let mut rooms = Vec::new();
    for n in 0..3 {
        rooms.push(t.create_room(&owner, &format!("soak{n}"), None).await.id);
    }
    let mut users = Vec::new();
    for n in 0..4 {
        let user = t.user(&format!("U{n}")).await;
        for room in &rooms {
            assert_eq!(t.join_room(&user, room, None).await.status(), 200);
        }
        users.push(user);
    }
    let state = t.server.state();
    assert_eq!(state.gateway.map_sizes(), GatewayMaps::default());
    let started = std::time::Instant::now();
    cycles(&t, &users, &rooms, kinds).await;
    let empty =
        common::eventually(WAIT, || state.gateway.map_sizes() == GatewayMaps::default()).await;
    assert!(empty, "after the cycles: {:?}", state.gateway.map_sizes());
    if let Some(bus) = state.gateway.bus() {
        // Subscriptions are per room, not per session, and end after 10 s without a member (the
        // bus sweeps every 5 s).
        assert!(bus.room_count() <= rooms.len(), "{}", bus.room_count());
        let swept = common::eventually(Duration::from_secs(20), || bus.room_count() == 0).await;
        assert!(swept, "{} rooms still subscribed", bus.room_count());
    }
    let (buckets, hot, thinned) = state.overload.map_sizes();
    assert!(buckets <= rooms.len(), "{buckets} token buckets");
    assert_eq!((hot, thinned), (0, 0));
    println!("{} cycles in {:?}", 4 * CYCLES, started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_disconnect_cycles_leave_every_map_empty() {
    soak(4, |_| {}).await;
}

/// The same four kinds on the Redis store, where presence and the kick cross instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_disconnect_cycles_leave_every_map_empty_on_redis() {
    let redis = common::redis::standalone();
    let target = reference_server::store::redis::RedisTarget::parse(&redis.url()).unwrap();
    soak(4, |c| {
        c.store = StoreConfig::Redis(target);
        c.redis.prefix = format!("soak{:08x}", rand::random::<u32>());
    })
    .await;
}
