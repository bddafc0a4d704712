//! Hostile and careless clients against the real server: each test is an attack that used to make
//! the server hold or send far more than the attacker sent (an unpolled polling session, a long AI
//! mention, receipts of ids that do not exist), measured in bytes, with the bound it now keeps.

mod common;

use std::time::Duration;

use common::{TestServer, User, WAIT, start, start_with};
use protocol::engineio;
use reference_server::gateway::bounds::Bounds;
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

/// A bare Engine.IO long-polling session.
struct Poller<'a> {
    t: &'a TestServer,
    sid: String,
}

impl<'a> Poller<'a> {
    /// Handshakes and connects to `/` as `user`.
    async fn connect(t: &'a TestServer, user: &User) -> Poller<'a> {
        let sid = t.polling_handshake().await;
        let poller = Poller { t, sid };
        let auth = serde_json::to_string(&user.auth()).unwrap();
        poller.post(&format!("40{auth}")).await;
        let connected = poller.get().await.expect("connect reply");
        assert!(connected.starts_with("40{"), "{connected}");
        poller
    }

    fn url(&self) -> String {
        self.t.url(&format!(
            "/socket.io/?EIO=4&transport=polling&sid={}",
            self.sid
        ))
    }

    async fn post(&self, body: &str) {
        let response = self
            .t
            .http
            .post(self.url())
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// One GET's payload; `None` once the session is gone or closed.
    async fn get(&self) -> Option<String> {
        let response = self.t.http.get(self.url()).send().await.unwrap();
        if response.status() != 200 {
            return None;
        }
        let body = response.text().await.unwrap();
        (body != "1").then_some(body)
    }
}

/// Length of an event's payload as it travelled (re-serialized: the same bytes up to key order).
fn size(payload: &Value) -> usize {
    serde_json::to_string(payload).unwrap().len()
}

/// Probe: a polling client posts many history requests and never polls. Each answer is a page of
/// 30 long messages (~300 KB); under a bound in frames only, 30 of them (9 MB) waited in memory for a
/// GET that never came — 150 held 43 MiB. Now the session ends as a slow consumer once its queue
/// holds more than `--outbound-queue-bytes`. Measured (peak queued, sampled every millisecond):
/// 9,330,960 bytes without the byte bound, 4,042,549 with the 4 MiB default; a late GET collects
/// nothing (the session is gone).
// Two workers: the sampler runs while the session task fills the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpolled_polling_session_is_bounded_in_bytes() {
    let t = start().await;
    let (alice, bob, room) = t.room_of_two("backlog").await;
    let mut a = t.joined(&alice, &room.id).await;
    let long = "x".repeat(10_000);
    for _ in 0..30 {
        a.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": long}),
        )
        .await;
        a.expect("message").await;
    }

    let poller = Poller::connect(&t, &bob).await;
    let fetch = format!(r#"42["fetchPreviousMessages",{{"roomId":"{}"}}]"#, room.id);
    let requests = vec![fetch.as_str(); 30];
    let gateway = &t.server.state().gateway;
    // The most the server held queued at once while the attack ran, sampled every millisecond.
    let done = tokio_util::sync::CancellationToken::new();
    let sampler = async {
        let mut peak = 0;
        while !done.is_cancelled() {
            peak = peak.max(gateway.map_sizes().queued_bytes);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        peak
    };
    let attack = async {
        poller
            .post(&engineio::join_payload(requests.iter().copied()))
            .await;
        // Until the session is gone, or long enough for all 30 answers to be queued.
        common::eventually(Duration::from_secs(2), || gateway.connection_count() == 1).await;
        done.cancel();
    };
    let (peak, ()) = tokio::join!(sampler, attack);
    let bound = Bounds::DEFAULT.outbound_queue_bytes;
    println!("peak bytes queued during the attack: {peak} (bound {bound})");
    assert!(peak <= bound, "{peak} bytes queued, bound {bound}");

    // Alice's websocket stays; Bob's session is dropped.
    assert!(
        common::eventually(WAIT, || gateway.connection_count() == 1).await,
        "the unpolled session is still open with {} connections",
        gateway.connection_count()
    );
    let mut held = 0;
    for _ in 0..60 {
        match poller.get().await {
            Some(body) => held += body.len(),
            None => break,
        }
    }
    println!("bytes a late GET still collected: {held}");
    assert!(held <= bound, "{held} bytes held, bound {bound}");
}

/// Probe: a long question to a bot. Each `aiMessageChunk` carries the whole text so far, and replies
/// used to be cut one word per chunk and echo the whole question, so a 2 KB mention cost every other
/// member 4.66 MB (2,229×). Now the question is capped at 500 bytes and a reply is at most 16
/// chunks (plus two at its code block): each member receives at most 16× the reply. Measured: a
/// 2,049-byte mention, a 1,204-byte reply in 17 chunks, 17,913 bytes per member (14.9× the reply,
/// 8.7× the mention).
#[tokio::test]
async fn an_ai_mention_costs_each_member_a_small_multiple_of_the_reply() {
    let t = start().await;
    let common::Pair {
        room, mut a, mut b, ..
    } = t.pair("ai-amplification").await;
    let mention = format!("@wayneAI {}", "lorem ".repeat(340));
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": mention}),
    )
    .await;
    b.expect("message").await;

    let mut received = 0;
    let mut chunks = 0;
    let reply = loop {
        let (name, payload) = b.next_event().await;
        if name.starts_with("ai") {
            received += size(&payload);
        }
        match name.as_str() {
            "aiMessageChunk" => chunks += 1,
            "aiMessageComplete" => break payload["content"].as_str().unwrap().to_owned(),
            "aiMessageError" => panic!("{payload}"),
            _ => {}
        }
    };
    let multiple = received as f64 / reply.len() as f64;
    println!(
        "mention {} B, reply {} B in {chunks} chunks, {received} B per member: {multiple:.1}× the \
         reply, {:.1}× the mention",
        mention.len(),
        reply.len(),
        received as f64 / mention.len() as f64
    );
    assert!(
        chunks <= Bounds::DEFAULT.ai_max_chunks + 2,
        "{chunks} chunks"
    );
    assert!(reply.len() <= 300 + 2 * Bounds::DEFAULT.ai_question_bytes);
    assert!(multiple <= 20.0, "{multiple:.1}× the reply");
    assert!(
        received <= 16 * mention.len(),
        "{received} bytes per member"
    );
}

/// Probe: receipts for 5,000 ids that do not exist used to be broadcast to every member as sent
/// (~140 KB each). Now only ids of the room's messages are forwarded, each once — none here.
#[tokio::test]
async fn receipts_forward_only_ids_of_the_room() {
    let t = start().await;
    let common::Pair {
        bob,
        room,
        mut a,
        mut b,
        ..
    } = t.pair("receipts").await;
    let ghosts: Vec<String> = (0..5_000u32).map(|i| format!("{i:024x}")).collect();
    b.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": ghosts}),
    )
    .await;
    a.expect_none("messagesRead", QUIET).await;

    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "read me"}),
    )
    .await;
    let sent = a.expect("message").await["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    b.expect("message").await;
    // The real id once, among repeats and ghosts: forwarded once.
    b.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": [&sent, &sent, &ghosts[0], &sent]}),
    )
    .await;
    let read = a.expect("messagesRead").await;
    assert_eq!(read["userId"], bob.id.as_str());
    assert_eq!(read["messageIds"], json!([sent]));
    // Another room's message is not this room's business.
    let carol = t.user("Carol").await;
    let other = t.create_room(&carol, "elsewhere", None).await;
    let mut elsewhere = t.joined(&carol, &other.id).await;
    elsewhere
        .emit(
            "chatMessage",
            &json!({"room": other.id, "type": "text", "content": "elsewhere"}),
        )
        .await;
    let foreign = elsewhere.expect("message").await["_id"].clone();
    b.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": [foreign]}),
    )
    .await;
    a.expect_none("messagesRead", QUIET).await;
    // Bob's socket is still there: a real id is still forwarded.
    b.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": [&sent]}),
    )
    .await;
    assert_eq!(a.expect("messagesRead").await["messageIds"], json!([sent]));
}

/// One receipt records and forwards at most `--read-ids-per-event` ids.
#[tokio::test]
async fn receipts_are_capped_per_event() {
    let t = start_with(|c| c.bounds.read_ids_per_event = 2).await;
    let common::Pair {
        room, mut a, mut b, ..
    } = t.pair("receipt-cap").await;
    let mut ids = Vec::new();
    for n in 0..3 {
        a.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": format!("m{n}")}),
        )
        .await;
        ids.push(a.expect("message").await["_id"].clone());
        b.expect("message").await;
    }
    b.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": ids}),
    )
    .await;
    let read = a.expect("messagesRead").await;
    assert_eq!(read["messageIds"], json!(ids[..2]));
}

/// Probe: reactions per message were unbounded, and every update carries the whole map to the room:
/// one user adding 200 distinct "emoji" made each update ~2 KB and growing. Now a message holds at
/// most `--reactions-per-message` distinct reactions and a user at most `--reactions-per-user` of
/// them; a refused one gets an `error` and no broadcast.
#[tokio::test]
async fn reactions_are_capped_per_message_and_per_user() {
    let t = start_with(|c| {
        c.bounds.reactions.per_message = 3;
        c.bounds.reactions.per_user = 2;
    })
    .await;
    let common::Pair {
        room, mut a, mut b, ..
    } = t.pair("reaction-cap").await;
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "react"}),
    )
    .await;
    let id = a.expect("message").await["_id"].clone();
    b.expect("message").await;
    let react = |reaction: &str| json!({"messageId": id, "reaction": reaction, "type": "add"});

    for reaction in ["r1", "r2"] {
        a.emit("messageReaction", &react(reaction)).await;
        a.expect("messageReactionUpdate").await;
        b.expect("messageReactionUpdate").await;
    }
    // A third of Alice's own: refused, nobody hears of it.
    a.emit("messageReaction", &react("r3")).await;
    let refused = a.expect("error").await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("you already reacted 2 times"),
        "{refused}"
    );
    b.expect_none("messageReactionUpdate", QUIET).await;
    // Repeating one she has is no new reaction.
    a.emit("messageReaction", &react("r1")).await;
    a.expect("messageReactionUpdate").await;
    b.expect("messageReactionUpdate").await;

    b.emit("messageReaction", &react("r3")).await;
    b.expect("messageReactionUpdate").await;
    // A fourth kind: over the message's bound. Joining an existing kind still works.
    b.emit("messageReaction", &react("r4")).await;
    let refused = b.expect("error").await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("3 different reactions"),
        "{refused}"
    );
    b.emit("messageReaction", &react("r1")).await;
    let update = b.expect("messageReactionUpdate").await;
    assert_eq!(update["reactions"].as_object().unwrap().len(), 3);
    assert_eq!(update["reactions"]["r1"].as_array().unwrap().len(), 2);

    // Reaction strings stay short.
    a.emit("messageReaction", &react(&"x".repeat(65))).await;
    assert!(
        a.expect("error").await["message"]
            .as_str()
            .unwrap()
            .contains("1-64 bytes")
    );
}
