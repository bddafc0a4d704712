//! Overload control against the real server: bulkhead rejections over REST (503 + Retry-After) and
//! over the socket (`error {code:'OVERLOADED'}`), shedding and background refusals by level, the
//! admin endpoint and the watched file changing the config while the server runs, `/metrics`, and
//! thinning in a hot room (chat messages all delivered; everyone converges on the latest state).

mod common;

use std::time::Duration;

use common::{TestServer, WAIT, start_with};
use reference_server::overload::{OverloadConfig, Reason, RequestKind};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN: &str = "admin-token-for-tests";

async fn server(config: OverloadConfig) -> TestServer {
    start_with(|c| {
        c.overload.config = config;
        c.overload.admin_token = Some(ADMIN.into());
    })
    .await
}

/// `PATCH /admin/overload` with a TOML body.
async fn patch(t: &TestServer, toml: &str) -> reqwest::Response {
    t.http
        .patch(t.url("/admin/overload"))
        .bearer_auth(ADMIN)
        .body(toml.to_owned())
        .send()
        .await
        .unwrap()
}

/// Waits until `/health` reports `level` (the sampler applies a forced level within one sample).
async fn wait_level(t: &TestServer, level: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while t.health().await["load"]["level"] != level {
        assert!(
            tokio::time::Instant::now() < deadline,
            "level {level} never reached: {}",
            t.health().await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_full_bulkhead_fails_fast_with_503_and_retry_after() {
    let mut config = OverloadConfig::default();
    config.bulkheads.room_list.limit = 1;
    config.bulkheads.room_list.queue = 0;
    let t = server(config).await;
    let user = t.user("Alice").await;
    // The one room-list slot is taken (as by a slow request in progress).
    let held = t
        .server
        .state()
        .overload
        .enter(RequestKind::RoomList)
        .await
        .unwrap();
    let response = t.get("/api/rooms", &user).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["x-load-level"], "0");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "OVERLOADED");
    assert_eq!(body["retry"], true);
    assert_eq!(body["retryAfterMs"], 2000);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("too many room list requests"),
        "{body}"
    );
    // Other kinds are not affected, and the slot comes back when the work ends.
    assert_eq!(
        t.get("/api/users/profile", &user)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    drop(held);
    assert_eq!(
        t.get("/api/rooms", &user).send().await.unwrap().status(),
        200
    );
    let overload = &t.server.state().overload;
    assert_eq!(
        overload.rejected(RequestKind::RoomList, Reason::BulkheadFull),
        1
    );
}

#[tokio::test]
async fn a_full_bulkhead_answers_socket_events_with_overloaded() {
    let mut config = OverloadConfig::default();
    config.bulkheads.message_send.limit = 1;
    config.bulkheads.message_send.queue = 0;
    let t = server(config).await;
    let mut p = t.pair("busy").await;
    let held = t
        .server
        .state()
        .overload
        .enter(RequestKind::MessageSend)
        .await
        .unwrap();
    p.a.emit_with_ack(
        "chatMessage",
        &json!({"room": p.room.id, "type": "text", "content": "hi"}),
        7,
    )
    .await;
    let error = p.a.expect("error").await;
    assert_eq!(error["code"], "OVERLOADED", "{error}");
    assert_eq!(error["retry"], true);
    assert_eq!(error["retryAfterMs"], 2000);
    let ack = p.a.expect_other().await;
    assert!(
        ack.starts_with("437[") && ack.contains("\"success\":false"),
        "{ack}"
    );
    // Nothing was stored or sent.
    p.b.expect_none("message", Duration::from_millis(200)).await;
    drop(held);
    p.a.emit(
        "chatMessage",
        &json!({"room": p.room.id, "type": "text", "content": "hi again"}),
    )
    .await;
    assert_eq!(p.b.expect("message").await["content"], "hi again");
}

#[tokio::test]
async fn high_levels_shed_history_and_room_lists_but_not_messages() {
    let t = server(OverloadConfig::default()).await;
    let mut p = t.pair("shed").await;
    assert_eq!(patch(&t, "levels.force = 3").await.status(), 200);
    wait_level(&t, 3).await;

    let response = t.get("/api/rooms", &p.alice).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Level 3 is past no_retry_at: no Retry-After, an explicit "do not retry".
    assert_eq!(response.headers()["x-retry"], "no");
    assert!(response.headers().get("retry-after").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["retry"], false);
    assert!(
        body["message"].as_str().unwrap().contains("do not retry"),
        "{body}"
    );

    p.a.emit("fetchPreviousMessages", &json!({"roomId": p.room.id}))
        .await;
    let error = p.a.expect("error").await;
    assert_eq!(error["code"], "OVERLOADED");
    assert_eq!(error["retry"], false);

    p.a.emit(
        "chatMessage",
        &json!({"room": p.room.id, "type": "text", "content": "still here"}),
    )
    .await;
    assert_eq!(p.b.expect("message").await["content"], "still here");
    // Every other response says so too.
    let profile = t.get("/api/users/profile", &p.alice).send().await.unwrap();
    assert_eq!(profile.status(), 200);
    assert_eq!(profile.headers()["x-retry"], "no");
    assert_eq!(profile.headers()["x-load-level"], "3");

    // Back to the measured level: served again.
    assert_eq!(patch(&t, "levels.force = 0").await.status(), 200);
    wait_level(&t, 0).await;
    assert_eq!(
        t.get("/api/rooms", &p.alice).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn background_logins_are_refused_from_their_level_and_told_not_to_retry() {
    let t = server(OverloadConfig::default()).await;
    let user = t.user("Alice").await;
    let login = |background: bool| {
        let mut request = t
            .http
            .post(t.url("/api/auth/login"))
            .json(&json!({"email": user.email, "password": common::PASSWORD}));
        if background {
            request = request.header("x-client-state", "background");
        }
        request.send()
    };
    assert_eq!(
        login(true).await.unwrap().status(),
        200,
        "level 0 serves all"
    );

    assert_eq!(patch(&t, "levels.force = 1").await.status(), 200);
    wait_level(&t, 1).await;
    let refused = login(true).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(refused.headers()["x-retry"], "no");
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("background logins are refused at load level 1"),
        "{body}"
    );
    // A foreground login is served at the same level.
    let fresh = t.login(&user.email).await;

    // The socket's CONNECT may say the same in its auth object.
    let mut socket = common::Socket::open(&t.ws_url()).await;
    let frame = protocol::socketio::encode_connect(
        "/",
        Some(&json!({"token": fresh.token, "sessionId": fresh.session_id, "clientState": "background"})),
    )
    .unwrap();
    socket.send_raw(&frame).await;
    let answer = socket.expect_other().await;
    assert!(
        answer.starts_with("44") && answer.contains("background logins are refused"),
        "{answer}"
    );
    // Without the background mark, the same user connects.
    t.socket(&fresh).await;
}

#[tokio::test]
async fn the_admin_endpoint_is_authenticated_validates_and_versions_changes() {
    let t = server(OverloadConfig::default()).await;
    let url = t.url("/admin/overload");
    assert_eq!(
        t.http.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        t.http
            .get(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let current: Value = t
        .http
        .get(&url)
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["revision"], 0);
    assert_eq!(current["source"], "startup");
    assert_eq!(current["coordination"], "local");
    assert_eq!(current["config"]["hot"]["push_probability"], 0.1);
    assert!(
        current["toml"]
            .as_str()
            .unwrap()
            .contains("[bulkheads.auth]")
    );

    // A bad value: 400, every problem named, the old config stays.
    let bad = patch(&t, "hot.push_probability = 1.5\nbulkheads.ai.limit = 0").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let body: Value = bad.json().await.unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("hot.push_probability = 1.5 is out of range: 0.0 to 1.0")
            && message.contains("bulkheads.ai.limit = 0")
            && message.contains("the running config (revision 0) is unchanged"),
        "{message}"
    );
    let bad = patch(&t, "[hot\n").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // A good one: the next revision, in force at once (the room-list cap drops to 1).
    let ok = patch(
        &t,
        "bulkheads.room_list.limit = 1\nbulkheads.room_list.queue = 0",
    )
    .await;
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body["revision"], 1);
    assert_eq!(body["source"], "admin");
    assert_eq!(body["config"]["bulkheads"]["room_list"]["limit"], 1);
    let overload = &t.server.state().overload;
    assert_eq!(overload.bulkhead(RequestKind::RoomList).limit(), 1);
    let user = t.user("Alice").await;
    let _held = overload.enter(RequestKind::RoomList).await.unwrap();
    assert_eq!(
        t.get("/api/rooms", &user).send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    // PUT replaces the whole document: what it leaves out goes back to the defaults.
    let put = t
        .http
        .put(&url)
        .bearer_auth(ADMIN)
        .body("enabled = false")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let body: Value = put.json().await.unwrap();
    assert_eq!(body["revision"], 2);
    assert_eq!(body["config"]["enabled"], false);
    assert_eq!(body["config"]["bulkheads"]["room_list"]["limit"], 64);
    // Control off: the held slot no longer refuses anything.
    assert_eq!(
        t.get("/api/rooms", &user).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn without_an_admin_token_the_endpoint_is_off() {
    let t = start_with(|_| {}).await;
    let response = t
        .http
        .get(t.url("/admin/overload"))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("--admin-token"),
        "{body}"
    );
}

#[tokio::test]
async fn a_watched_file_changes_the_config_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("overload.toml");
    std::fs::write(&path, "[levels]\nforce = 0\n").unwrap();
    let file = path.clone();
    let t = start_with(move |c| {
        c.overload.config = OverloadConfig::parse("[levels]\nforce = 0\n").unwrap();
        c.overload.file = Some(file);
    })
    .await;
    wait_level(&t, 0).await;
    std::fs::write(&path, "[levels]\nforce = 2\n").unwrap();
    wait_level(&t, 2).await;
    assert_eq!(t.health().await["load"]["configRevision"], 1);
    // A bad file is refused; level and revision stay.
    std::fs::write(&path, "[levels]\nforce = 7\n").unwrap();
    let overload = &t.server.state().overload;
    assert!(common::eventually(Duration::from_secs(5), || overload.file_error().is_some()).await);
    assert!(overload.file_error().unwrap().contains("levels.force = 7"));
    assert_eq!(t.health().await["load"]["level"], 2);
    assert_eq!(overload.live().revision, 1);
}

#[tokio::test]
async fn metrics_are_prometheus_text_with_the_overload_figures() {
    let mut config = OverloadConfig::default();
    config.bulkheads.room_list.limit = 1;
    config.bulkheads.room_list.queue = 0;
    let t = server(config).await;
    let mut p = t.pair("metrics").await;
    p.a.emit(
        "chatMessage",
        &json!({"room": p.room.id, "type": "text", "content": "counted"}),
    )
    .await;
    p.b.expect("message").await;
    let _held = t
        .server
        .state()
        .overload
        .enter(RequestKind::RoomList)
        .await
        .unwrap();
    t.get("/api/rooms", &p.alice).send().await.unwrap();
    let response = t.http.get(t.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    for line in [
        "chat_connections 2",
        "chat_in_flight{kind=\"room_list\"} 1",
        "chat_rejections_total{kind=\"room_list\",reason=\"bulkhead_full\"} 1",
        "chat_overload_level 0",
        "chat_overload_enabled 1",
        "chat_hot_rooms 0",
        "chat_messages_in_total 1",
        "chat_messages_out_total 2",
        "chat_pushes_thinned_total{class=\"reactions\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // Both members got at least their handshake, join replies and the message: packets and bytes
    // written are counted.
    let written = |name: &str| -> u64 {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap();
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    };
    assert!(written("chat_packets_written_total ") >= 6, "{text}");
    assert!(written("chat_bytes_written_total ") > 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_busy_worker_ratio_is_shown_and_follows_busy_workers() {
    let mut config = OverloadConfig::default();
    config.levels.sample_every = Duration::from_millis(50);
    let t = server(config).await;
    let ratio = |v: &Value| v.as_f64().filter(|r| (0.0..=1.0).contains(r));
    assert!(ratio(&t.health().await["load"]["busyRatio"]).is_some());
    let text = t.metrics().await;
    let line = text
        .lines()
        .find(|l| l.starts_with("chat_runtime_busy_ratio "))
        .unwrap_or_else(|| panic!("no chat_runtime_busy_ratio in\n{text}"));
    let value: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
    assert!((0.0..=1.0).contains(&value), "{line}");

    // A task blocking one of the two workers for 600 ms (a blocking call where none belongs) keeps
    // it busy through whole sample intervals: at least half the runtime's time is busy in them,
    // however loaded the machine is (busy time is the worker's wall time between parks). A worker
    // reports its busy time when it parks, so the intervals after the block show it.
    let overload = std::sync::Arc::clone(&t.server.state().overload);
    let blocker = tokio::spawn(async { std::thread::sleep(Duration::from_millis(600)) });
    let mut highest = 0.0f64;
    let until = tokio::time::Instant::now() + Duration::from_millis(1500);
    while tokio::time::Instant::now() < until {
        highest = highest.max(overload.busy_ratio());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    blocker.await.unwrap();
    assert!(highest >= 0.45, "busy ratio peaked at {highest}");
}

#[tokio::test]
async fn a_hot_room_thins_recoverable_pushes_delivers_every_message_and_converges() {
    // A room is hot after 4 messages; members get no thinnable push by chance, only what they
    // are owed, 300 ms after they missed it.
    let config = OverloadConfig::parse(
        "[hot]\nbucket_size = 4\nrefill_per_sec = 0.01\npush_probability = 0.0\n\
         min_pushes = 0\nmin_interval = \"300ms\"\nconverge_within = \"300ms\"\n",
    )
    .unwrap();
    let t = server(config).await;
    let mut p = t.pair("celebrity").await;
    let carol = t.user("Carol").await;
    assert_eq!(t.join_room(&carol, &p.room.id, None).await.status(), 200);
    let mut c = t.joined(&carol, &p.room.id).await;
    c.expect_announcement().await;
    p.a.expect_announcement().await;
    p.b.expect_announcement().await;

    // Five messages: the fifth finds the bucket empty. Every one reaches everyone.
    for i in 0..5 {
        p.a.emit(
            "chatMessage",
            &json!({"room": p.room.id, "type": "text", "content": format!("m{i}")}),
        )
        .await;
    }
    let mut last_id = String::new();
    for socket in [&mut p.a, &mut p.b, &mut c] {
        for i in 0..5 {
            let m = socket.expect("message").await;
            assert_eq!(m["content"], format!("m{i}"));
            last_id = m["_id"].as_str().unwrap().to_owned();
        }
    }
    assert!(t.server.state().overload.is_hot(&p.room.id));

    // Bob reacts three times: he gets each update (he waits for them); Carol, by chance, none —
    // then the latest state 300 ms after the first miss.
    for emoji in ["👍", "🎉", "❤️"] {
        p.b.emit(
            "messageReaction",
            &json!({"messageId": last_id, "reaction": emoji, "type": "add"}),
        )
        .await;
        let update = p.b.expect("messageReactionUpdate").await;
        assert!(update["reactions"][emoji].is_array(), "{update}");
    }
    // (A deadline may pass between two reactions: then an intermediate state comes first.)
    let mut owed = c.expect("messageReactionUpdate").await;
    for _ in 0..2 {
        if owed["reactions"].as_object().unwrap().len() == 3 {
            break;
        }
        owed = c.expect("messageReactionUpdate").await;
    }
    assert_eq!(owed["reactions"].as_object().unwrap().len(), 3, "{owed}");
    c.expect_none("messageReactionUpdate", Duration::from_millis(500))
        .await;

    // A read receipt: Carol misses it when it happens and gets it 300 ms later.
    let ids: Vec<String> = vec![last_id.clone()];
    p.a.emit(
        "markMessagesAsRead",
        &json!({"roomId": p.room.id, "messageIds": ids}),
    )
    .await;
    let read = c.expect("messagesRead").await;
    assert_eq!(read["userId"], p.alice.id);
    assert_eq!(read["messageIds"], json!([last_id]));

    // A fourth member joining: the others converge on a participant list of four.
    let dave = t.user("Dave").await;
    assert_eq!(t.join_room(&dave, &p.room.id, None).await.status(), 200);
    let mut d = t.joined(&dave, &p.room.id).await;
    let notice = c.expect("message").await;
    assert_eq!(notice["type"], "system");
    let participants = c.expect("participantsUpdate").await;
    assert_eq!(participants.as_array().unwrap().len(), 4);
    // The joiner itself is never left out.
    d.expect("participantsUpdate").await;

    let reactions = t
        .metric("chat_pushes_thinned_total{class=\"reactions\"}")
        .await;
    assert!(reactions >= 6, "{reactions} reaction pushes thinned");
    let receipts = t
        .metric("chat_pushes_thinned_total{class=\"receipts\"}")
        .await;
    assert!(receipts >= 1, "{receipts} receipt pushes thinned");
    assert_eq!(t.metric("chat_hot_rooms").await, 1);
}
