//! Engine.IO / Socket.IO transport behaviour: handshakes, heartbeat, long polling and the upgrade,
//! acks, namespaces, malformed and oversized input, connection permits, slow consumers, shutdown.

mod common;

use std::time::Duration;

use common::{Socket, TestServer, WAIT, start, start_with};
use futures_util::SinkExt;
use protocol::engineio::{self, OpenPacket};
use protocol::events::ConnectAuth;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn websocket_handshake_announces_the_configured_heartbeat() {
    let t = start_with(|c| {
        c.ping_interval = Duration::from_millis(60_000);
        c.ping_timeout = Duration::from_millis(120_000);
    })
    .await;
    let socket = Socket::open(&t.ws_url()).await;
    assert_eq!(socket.open.ping_interval, 60_000);
    assert_eq!(socket.open.ping_timeout, 120_000);
    assert_eq!(socket.open.max_payload, 1_000_000);
    assert!(socket.open.upgrades.is_empty());
    assert!(!socket.open.sid.is_empty());
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_ping_timeout() {
    let t = start_with(|c| {
        c.ping_interval = Duration::from_millis(100);
        c.ping_timeout = Duration::from_millis(100);
    })
    .await;
    let other = t.user("Silent").await;
    let mut silent = Socket::open(&t.ws_url()).await;
    silent.connect(&other.auth()).await.unwrap();
    silent.auto_pong = false;

    // The silent client sees a ping and then its connection closes.
    assert_eq!(silent.next_frame().await.as_deref(), Some(engineio::PING));
    silent.expect_closed(Duration::from_secs(2)).await;

    let user = t.user("Answers").await;
    let mut alive = t.socket(&user).await;
    // The client that answers stays, across several ping intervals (it keeps answering while the
    // checks run).
    let gateway = std::sync::Arc::clone(&t.server.state().gateway);
    let check = async {
        assert!(common::eventually(WAIT, || gateway.connection_count() == 1).await);
        let health = t.health().await;
        assert_eq!(health["connections"], 1);
    };
    tokio::join!(check, alive.expect_none("anything", Duration::from_secs(1)));
    assert_eq!(gateway.connection_count(), 1);
}

/// A tiny Engine.IO long-polling client.
struct Poller<'a> {
    t: &'a TestServer,
    sid: String,
}

impl Poller<'_> {
    fn url(&self) -> String {
        self.t.url(&format!(
            "/socket.io/?EIO=4&transport=polling&sid={}",
            self.sid
        ))
    }

    async fn post(&self, packets: &[&str]) -> reqwest::Response {
        let body = engineio::join_payload(packets.iter().copied());
        self.t
            .http
            .post(self.url())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self) -> String {
        let response = self.t.http.get(self.url()).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// GETs until a payload contains `needle`, answering pings; returns all packets seen.
    async fn get_until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..20 {
            let body = self.get().await;
            for packet in engineio::split_payload(&body) {
                if packet == engineio::PING {
                    assert_eq!(self.post(&[engineio::PONG]).await.status(), 200);
                }
                seen.push(packet.to_owned());
            }
            if body.contains(needle) {
                return seen;
            }
        }
        panic!("{needle} never arrived; saw {seen:?}");
    }
}

async fn polling_handshake(t: &TestServer) -> OpenPacket {
    let response = t
        .http
        .get(t.url("/socket.io/?EIO=4&transport=polling&t=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    let engineio::Packet::Open(data) = engineio::Packet::decode(&body).unwrap() else {
        panic!("not an open packet: {body}");
    };
    OpenPacket::parse(data).unwrap()
}

#[tokio::test]
async fn long_polling_then_upgrade_to_websocket() {
    let t = start().await;
    let user = t.user("Poller").await;
    let room = t.create_room(&user, "polled", None).await;
    let open = polling_handshake(&t).await;
    assert_eq!(open.upgrades, ["websocket"]);
    let poller = Poller {
        t: &t,
        sid: open.sid.clone(),
    };

    // CONNECT and an event in one POST body, answered over GETs.
    let connect = protocol::socketio::encode_connect("/", Some(&user.auth())).unwrap();
    let join = protocol::socketio::encode_event("/", None, "joinRoom", Some(&room.id)).unwrap();
    let response = poller.post(&[&connect, &join]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    let seen = poller.get_until("joinRoomSuccess").await;
    assert!(seen[0].starts_with("40{\"sid\":"), "{seen:?}");

    // Upgrade: a pending GET is released with a noop once the probe is answered.
    let pending = {
        let url = poller.url();
        let http = t.http.clone();
        tokio::spawn(async move { http.get(url).send().await.unwrap().text().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ws_url = format!("{}&sid={}", t.ws_url(), open.sid);
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url).await.unwrap();
    ws.send(Message::Text("2probe".into())).await.unwrap();
    let answer = futures_util::StreamExt::next(&mut ws)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.into_text().unwrap().as_str(), "3probe");
    let released = tokio::time::timeout(WAIT, pending).await.unwrap().unwrap();
    // The poll may also carry frames queued just before; it must end with the noop.
    assert!(released.ends_with('6'), "{released:?}");
    ws.send(Message::Text("5".into())).await.unwrap();

    // From now on the websocket carries everything; polling is refused.
    let chat = protocol::socketio::encode_event(
        "/",
        None,
        "chatMessage",
        Some(&json!({"room": room.id, "type": "text", "content": "over ws"})),
    )
    .unwrap();
    ws.send(Message::Text(chat.into())).await.unwrap();
    let mut got = false;
    for _ in 0..20 {
        let frame = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if frame.into_text().unwrap().contains("over ws") {
            got = true;
            break;
        }
    }
    assert!(got);
    let refused = t.http.get(poller.url()).send().await.unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn polling_errors_use_engine_io_codes() {
    let t = start().await;
    let get = |q: &'static str| t.http.get(t.url(&format!("/socket.io/?{q}"))).send();
    let body = |r: reqwest::Response| async move { (r.status(), r.json::<Value>().await.unwrap()) };
    let (status, v) = body(get("EIO=3&transport=polling").await.unwrap()).await;
    assert_eq!((status.as_u16(), v["code"].as_u64()), (400, Some(5)));
    let (status, v) = body(get("EIO=4&transport=carrier-pigeon").await.unwrap()).await;
    assert_eq!((status.as_u16(), v["code"].as_u64()), (400, Some(0)));
    let (status, v) = body(get("EIO=4&transport=polling&sid=nope").await.unwrap()).await;
    assert_eq!((status.as_u16(), v["code"].as_u64()), (400, Some(1)));
    // A websocket transport without an upgrade request is a bad request.
    let (status, v) = body(get("EIO=4&transport=websocket").await.unwrap()).await;
    assert_eq!((status.as_u16(), v["code"].as_u64()), (400, Some(3)));

    let open = polling_handshake(&t).await;
    let poller = Poller {
        t: &t,
        sid: open.sid,
    };
    let huge = "4".repeat(1_000_001);
    let response = t.http.post(poller.url()).body(huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn connect_errors_for_bad_credentials_and_namespaces() {
    let t = start().await;
    let user = t.user("Auth").await;
    let forge = reference_server::auth::Auth::new(
        reference_server::KdfParams::MINIMAL,
        common::SECRET.as_bytes(),
    )
    .unwrap();
    let expired = forge.issue_expired_token(&user.id, &user.session_id, Duration::from_secs(3600));
    let cases = [
        (ConnectAuth::default(), "Authentication error"),
        (
            ConnectAuth {
                token: "garbage".into(),
                session_id: user.session_id.clone(),
            },
            "Invalid token",
        ),
        (
            ConnectAuth {
                token: expired,
                session_id: user.session_id.clone(),
            },
            "Token expired",
        ),
        (
            ConnectAuth {
                token: user.token.clone(),
                session_id: "other".into(),
            },
            "Invalid session",
        ),
    ];
    for (auth, expected) in cases {
        let mut socket = Socket::open(&t.ws_url()).await;
        assert_eq!(socket.connect(&auth).await.unwrap_err(), expected);
        // The engine session stays; a corrected CONNECT on it succeeds.
        socket.connect(&user.auth()).await.unwrap();
    }

    let mut socket = Socket::open(&t.ws_url()).await;
    socket.send_raw("40/admin,{}").await;
    assert_eq!(
        socket.next_frame().await.unwrap(),
        r#"44/admin,{"message":"Invalid namespace"}"#
    );
    // A CONNECT without any auth object is missing credentials.
    socket.send_raw("40").await;
    assert_eq!(
        socket.next_frame().await.unwrap(),
        r#"44{"message":"Authentication error"}"#
    );
}

#[tokio::test]
async fn malformed_input_gets_errors_and_the_connection_keeps_working() {
    let t = start().await;
    let user = t.user("Fuzz").await;
    let room = t.create_room(&user, "fuzz", None).await;
    let mut s = t.joined(&user, &room.id).await;
    s.expect_announcement().await;

    for garbage in [
        "",
        "x",
        "9",
        "4",
        "42",
        "42[",
        "42{\"a\":1}",
        "42[1]",
        "4999[\"a\"]",
        "b4AAA",
        "42[\"joinRoom\"]trailing",
        "45-[\"a\",{\"_placeholder\":true,\"num\":0}]",
    ] {
        s.send_raw(garbage).await;
        let err = s.expect("error").await;
        assert!(
            err["code"] == "INVALID_PACKET"
                || err.get("type").is_some()
                || err["code"] == "UNKNOWN_EVENT",
            "{garbage:?} -> {err}"
        );
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    s.emit("bogusEvent", &json!({})).await;
    let err = s.expect("error").await;
    assert_eq!(err["code"], "UNKNOWN_EVENT");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("joinRoom, chatMessage")
    );
    s.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": "not a list"}),
    )
    .await;
    assert_eq!(s.expect("error").await["type"], "READ_ERROR");
    s.emit("messageReaction", &json!({"messageId": 1})).await;
    assert_eq!(s.expect("error").await["type"], "REACTION_ERROR");
    s.emit("fetchPreviousMessages", &Value::Null).await;
    assert_eq!(s.expect("error").await["type"], "LOAD_ERROR");
    s.send_raw("42[\"chatMessage\",{\"room\":\"x\",\"content\":\"\\ud800\"}]")
        .await;
    s.expect("error").await;

    // Still connected and serving.
    s.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "still here"}),
    )
    .await;
    assert_eq!(s.expect("message").await["content"], "still here");
}

#[tokio::test]
async fn acks_are_answered_after_the_handler() {
    let t = start().await;
    let user = t.user("Acker").await;
    let room = t.create_room(&user, "acks", None).await;
    let mut s = t.socket(&user).await;
    s.emit_with_ack("joinRoom", &room.id, 7).await;
    s.expect("joinRoomSuccess").await;
    assert_eq!(s.expect_other().await, r#"437[{"success":true}]"#);
    s.emit_with_ack("nope", &json!({}), 8).await;
    let ack = s.expect_other().await;
    assert!(
        ack.starts_with(r#"438[{"message":"unknown event"#)
            || ack.starts_with(r#"438[{"success":false"#),
        "{ack}"
    );
    s.expect("error").await;
}

#[tokio::test]
async fn oversized_frames_close_only_that_connection() {
    let t = start_with(|c| c.max_payload = 64 * 1024).await;
    let common::Pair {
        room, mut a, mut b, ..
    } = t.pair("big").await;

    let huge = format!(
        "42[\"chatMessage\",{{\"room\":\"{}\",\"type\":\"text\",\"content\":\"{}\"}}]",
        room.id,
        "x".repeat(100 * 1024)
    );
    b.send_raw(&huge).await;
    b.expect_closed(WAIT).await;

    // Alice is served as before, and hears that Bob is gone.
    assert_eq!(a.expect("message").await["content"], "Bob disconnected.");
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "ok"}),
    )
    .await;
    assert_eq!(a.expect("message").await["content"], "ok");
    assert_eq!(
        t.http.get(t.url("/health")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn connection_permits_cap_open_sessions() {
    let t = start_with(|c| c.max_connections = 2).await;
    let _one = Socket::open(&t.ws_url()).await;
    let _two = Socket::open(&t.ws_url()).await;
    let refused = tokio_tungstenite::connect_async(t.ws_url()).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("third connection was not refused: {:?}", other.map(|_| ())),
    }
    let polling = t
        .http
        .get(t.url("/socket.io/?EIO=4&transport=polling"))
        .send()
        .await
        .unwrap();
    assert_eq!(polling.status(), 503);
    drop(_one);
    assert!(common::eventually(WAIT, || t.server.state().gateway.connection_count() == 1).await);
    let _three = Socket::open(&t.ws_url()).await;
}

#[tokio::test]
async fn a_slow_consumer_is_dropped_not_buffered() {
    let t = start_with(|c| c.outbound_queue = 8).await;
    let common::Pair { room, mut a, b, .. } = t.pair("firehose").await; // b is never read again
    let gateway = std::sync::Arc::clone(&t.server.state().gateway);
    let payload = "y".repeat(9_000);
    let mut sent = 0;
    while gateway.room_size(&room.id) == 2 && sent < 5_000 {
        a.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": payload}),
        )
        .await;
        a.expect("message").await;
        sent += 1;
    }
    assert!(
        common::eventually(WAIT, || gateway.room_size(&room.id) == 1).await,
        "Bob was never dropped after {sent} messages"
    );
    // Alice is unaffected.
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "fine"}),
    )
    .await;
    let mut last = a.expect("message").await;
    while last["content"] != "fine" {
        last = a.expect("message").await;
    }
    drop(b);
}

#[tokio::test]
async fn graceful_shutdown_disconnects_sockets_and_stops_listening() {
    let t = start().await;
    let user = t.user("Last").await;
    let mut s = t.socket(&user).await;
    let addr = t.server.local_addr();
    let common::TestServer { server, .. } = t;
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(s.expect_other().await, "41");
    s.expect_closed(WAIT).await;
    tokio::time::timeout(WAIT, stopping)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
