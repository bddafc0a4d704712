//! Chat over Socket.IO against the real server: joining, messages, history, receipts, reactions, the
//! AI stream, leaving, disconnects, duplicate logins, file messages.

mod common;

use std::time::Duration;

use common::{USER_AGENT, WAIT, start};
use protocol::events::{JoinRoomSuccess, Message, MessageType, PreviousMessagesLoaded};
use protocol::rest::UploadResponse;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

fn message(v: Value) -> Message {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn join_room_replies_then_announces() {
    let t = start().await;
    let alice = t.user("Alice").await;
    let bob = t.user("Bob").await;
    let room = t.create_room(&alice, "lobby", None).await;
    let mut a = t.joined(&alice, &room.id).await;
    a.expect("message").await;
    a.expect("participantsUpdate").await;

    assert_eq!(t.join_room(&bob, &room.id, None).await.status(), 200);
    let update = a.expect("roomUpdate").await;
    assert_eq!(update["participantsCount"], 2);

    let mut b = t.socket(&bob).await;
    b.emit("joinRoom", &room.id).await;
    let success: JoinRoomSuccess =
        serde_json::from_value(b.expect("joinRoomSuccess").await).unwrap();
    assert_eq!(success.room_id, room.id);
    assert_eq!(success.participants.len(), 2);
    assert!(!success.has_more);
    // Alice's and Bob's join notices, oldest first.
    let notices: Vec<_> = success
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(notices, ["Alice joined the room.", "Bob joined the room."]);
    assert!(
        success
            .messages
            .iter()
            .all(|m| m.kind == MessageType::System)
    );
    assert_eq!(
        success.oldest_timestamp.as_ref(),
        Some(&success.messages[0].timestamp)
    );
    assert!(success.active_streams.is_empty());

    // Both, Bob included, get the notice and the participant list.
    for socket in [&mut a, &mut b] {
        let notice = message(socket.expect("message").await);
        assert_eq!(notice.content, "Bob joined the room.");
        let participants = socket.expect("participantsUpdate").await;
        assert_eq!(participants.as_array().unwrap().len(), 2);
        assert!(participants[1].get("profileImage").is_some());
    }

    let carol = t.user("Carol").await;
    let mut c = t.socket(&carol).await;
    c.emit("joinRoom", "000000000000000000000000").await;
    assert_eq!(c.expect("joinRoomError").await["message"], "Room not found");
    c.emit("joinRoom", &json!({"not": "a string"})).await;
    let err = c.expect("joinRoomError").await;
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("expected the room id"),
        "{err}"
    );
}

#[tokio::test]
async fn password_rooms_need_the_rest_join_first() {
    let t = start().await;
    let owner = t.user("Owner").await;
    let guest = t.user("Guest").await;
    let room = t.create_room(&owner, "locked", Some("pw1234")).await;
    let mut g = t.socket(&guest).await;
    g.emit("joinRoom", &room.id).await;
    let err = g.expect("joinRoomError").await;
    assert!(
        err["message"].as_str().unwrap().contains("password"),
        "{err}"
    );
    assert_eq!(
        t.join_room(&guest, &room.id, Some("pw1234")).await.status(),
        200
    );
    g.emit("joinRoom", &room.id).await;
    g.expect("joinRoomSuccess").await;
}

#[tokio::test]
async fn messages_reach_every_member_including_the_sender() {
    let t = start().await;
    let common::Pair {
        alice,
        room,
        mut a,
        mut b,
        ..
    } = t.pair("chat").await;
    let outsider = t.user("Outsider").await;

    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "  hello  "}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let m = message(socket.expect("message").await);
        assert_eq!(m.content, "hello");
        assert_eq!(m.kind, MessageType::Text);
        assert_eq!(m.room, room.id);
        let sender = m.sender.unwrap();
        assert_eq!(sender.id, alice.id);
        assert_eq!(sender.name, "Alice");
        assert_eq!(m.id.len(), 24);
        assert!(m.timestamp.as_str().ends_with('Z') && m.timestamp.as_str().len() == 24);
    }

    // Empty text is ignored: nobody hears anything, no error either.
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "   "}),
    )
    .await;
    b.expect_none("message", QUIET).await;
    a.expect_none("error", Duration::ZERO).await;

    // A non-participant cannot post.
    let mut o = t.socket(&outsider).await;
    o.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "let me in"}),
    )
    .await;
    let err = o.expect("error").await;
    assert_eq!(err["code"], "MESSAGE_ERROR");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a participant"),
        "{err}"
    );
    b.expect_none("message", QUIET).await;

    // Wrong shapes are MESSAGE_ERRORs that say what was expected.
    a.emit("chatMessage", &json!({"room": 5})).await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "MESSAGE_ERROR");
    assert!(
        err["message"].as_str().unwrap().contains("expected {room"),
        "{err}"
    );
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "system", "content": "fake"}),
    )
    .await;
    assert_eq!(a.expect("error").await["code"], "MESSAGE_ERROR");
}

/// A retry with the same `clientMessageId` (its first answer lost, say) is stored once: the sender
/// gets the first message again as its echo, the other member hears it once, history holds it once.
#[tokio::test]
async fn a_retried_client_message_id_is_stored_and_broadcast_once() {
    let t = start().await;
    let common::Pair {
        mut a, mut b, room, ..
    } = t.pair("retry").await;
    let send =
        json!({"room": room.id, "type": "text", "content": "once", "clientMessageId": "c-1"});
    a.emit("chatMessage", &send).await;
    let first = message(a.expect("message").await);
    assert_eq!(message(b.expect("message").await).id, first.id);
    // The retry: same key, even with other text.
    let retry =
        json!({"room": room.id, "type": "text", "content": "twice", "clientMessageId": "c-1"});
    a.emit("chatMessage", &retry).await;
    let echo = message(a.expect("message").await);
    assert_eq!(echo.id, first.id, "{echo:?}");
    assert_eq!(echo.content, "once");
    assert_eq!(echo.timestamp, first.timestamp);
    b.expect_none("message", QUIET).await;

    a.emit("fetchPreviousMessages", &json!({"roomId": room.id}))
        .await;
    a.expect("messageLoadStart").await;
    let page: PreviousMessagesLoaded =
        serde_json::from_value(a.expect("previousMessagesLoaded").await).unwrap();
    let texts: Vec<&str> = page
        .messages
        .iter()
        .filter(|m| m.kind == MessageType::Text)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(texts, ["once"]);

    // Over 64 characters, or a control character, is refused before anything is stored.
    for bad in ["x".repeat(65), "tab\there".to_owned(), String::new()] {
        let send =
            json!({"room": room.id, "type": "text", "content": "no", "clientMessageId": bad});
        a.emit("chatMessage", &send).await;
        let err = a.expect("error").await;
        assert_eq!(err["code"], "MESSAGE_ERROR");
        assert!(
            err["message"].as_str().unwrap().contains("clientMessageId"),
            "{err}"
        );
    }
    b.expect_none("message", QUIET).await;
    // Exactly 64 printable characters is fine.
    let longest = json!({"room": room.id, "type": "text", "content": "max", "clientMessageId": "~".repeat(64)});
    a.emit("chatMessage", &longest).await;
    assert_eq!(message(b.expect("message").await).content, "max");
}

#[tokio::test]
async fn history_pages_30_30_10() {
    let t = start().await;
    let alice = t.user("Alice").await;
    let room = t.create_room(&alice, "history", None).await;
    let mut a = t.joined(&alice, &room.id).await; // stores message 1: the join notice
    a.expect_announcement().await;
    for i in 2..=70 {
        a.emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": format!("m{i}")}),
        )
        .await;
    }
    for _ in 2..=70 {
        a.expect("message").await;
    }

    let mut contents = Vec::new();
    let mut before: Option<String> = None;
    let mut shape = Vec::new();
    loop {
        let mut request = json!({"roomId": room.id});
        if let Some(b) = &before {
            request["before"] = b.clone().into();
        }
        a.emit("fetchPreviousMessages", &request).await;
        a.expect("messageLoadStart").await;
        let page: PreviousMessagesLoaded =
            serde_json::from_value(a.expect("previousMessagesLoaded").await).unwrap();
        shape.push((page.messages.len(), page.has_more));
        assert!(
            page.messages
                .windows(2)
                .all(|w| w[0].timestamp < w[1].timestamp),
            "ascending"
        );
        assert_eq!(
            page.oldest_timestamp.as_ref(),
            page.messages.first().map(|m| &m.timestamp)
        );
        let mut page_contents: Vec<String> =
            page.messages.iter().map(|m| m.content.clone()).collect();
        page_contents.append(&mut contents);
        contents = page_contents;
        before = page.oldest_timestamp.map(|ts| ts.as_str().to_owned());
        if !page.has_more {
            break;
        }
    }
    assert_eq!(shape, [(30, true), (30, true), (10, false)]);
    let mut expected = vec!["Alice joined the room.".to_owned()];
    expected.extend((2..=70).map(|i| format!("m{i}")));
    assert_eq!(contents, expected);

    // joinRoomSuccess carries the newest 30 and says there is more.
    a.emit("joinRoom", &room.id).await;
    let success: JoinRoomSuccess =
        serde_json::from_value(a.expect("joinRoomSuccess").await).unwrap();
    assert_eq!(success.messages.len(), 30);
    assert!(success.has_more);
    assert_eq!(success.messages.last().unwrap().content, "m70");

    a.emit(
        "fetchPreviousMessages",
        &json!({"roomId": room.id, "before": "last tuesday"}),
    )
    .await;
    let err = a.expect("error").await;
    assert_eq!(err["type"], "LOAD_ERROR");
    assert!(
        err["message"].as_str().unwrap().contains("ISO-8601"),
        "{err}"
    );
}

#[tokio::test]
async fn read_receipts_go_to_the_others_only() {
    let t = start().await;
    let common::Pair {
        bob,
        room,
        mut a,
        mut b,
        ..
    } = t.pair("receipts").await;

    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "read me"}),
    )
    .await;
    let sent = message(a.expect("message").await);
    b.expect("message").await;

    b.emit(
        "markMessagesAsRead",
        &json!({"roomId": room.id, "messageIds": [sent.id]}),
    )
    .await;
    let read = a.expect("messagesRead").await;
    assert_eq!(read["userId"], bob.id.as_str());
    assert_eq!(read["messageIds"], json!([sent.id]));
    b.expect_none("messagesRead", QUIET).await;

    a.emit("fetchPreviousMessages", &json!({"roomId": room.id}))
        .await;
    let page: PreviousMessagesLoaded =
        serde_json::from_value(a.expect("previousMessagesLoaded").await).unwrap();
    let stored = page.messages.iter().find(|m| m.id == sent.id).unwrap();
    assert!(
        stored
            .readers
            .iter()
            .any(|r| r.user_id == bob.id && r.read_at.as_str().ends_with('Z'))
    );
}

#[tokio::test]
async fn reactions_are_broadcast_to_the_room() {
    let t = start().await;
    let common::Pair {
        bob,
        room,
        mut a,
        mut b,
        ..
    } = t.pair("reactions").await;
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "react"}),
    )
    .await;
    let sent = message(a.expect("message").await);
    b.expect("message").await;

    b.emit(
        "messageReaction",
        &json!({"messageId": sent.id, "reaction": "👍", "type": "add"}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let update = socket.expect("messageReactionUpdate").await;
        assert_eq!(
            update,
            json!({"messageId": sent.id, "reactions": {"👍": [bob.id]}})
        );
    }
    b.emit(
        "messageReaction",
        &json!({"messageId": sent.id, "reaction": "👍", "type": "remove"}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        assert_eq!(
            socket.expect("messageReactionUpdate").await["reactions"],
            json!({})
        );
    }
    b.emit(
        "messageReaction",
        &json!({"messageId": "000000000000000000000000", "reaction": "👍", "type": "add"}),
    )
    .await;
    assert_eq!(b.expect("error").await["message"], "Message not found");
}

#[tokio::test]
async fn ai_mentions_stream_in_order_and_are_stored() {
    let t = start().await;
    let common::Pair {
        room, mut a, mut b, ..
    } = t.pair("ai").await;

    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "@wayneAI what is Rust?"}),
    )
    .await;
    for socket in [&mut a, &mut b] {
        let asked = message(socket.expect("message").await);
        assert_eq!(asked.mentions, ["wayneAI"]);
        let mut events = Vec::new();
        loop {
            let event = socket.next_event().await;
            let done = event.0 == "aiMessageComplete";
            events.push(event);
            if done {
                break;
            }
        }
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"aiMessageStart"));
        assert_eq!(names.last(), Some(&"aiMessageComplete"));
        assert!(
            names[1..names.len() - 1]
                .iter()
                .all(|n| *n == "aiMessageChunk"),
            "{names:?}"
        );
        assert!(names.len() > 10);
        let stream_id = events[0].1["messageId"].as_str().unwrap().to_owned();
        assert_eq!(events[0].1["aiType"], "wayneAI");
        let mut full = String::new();
        for (_, chunk) in &events[1..events.len() - 1] {
            assert_eq!(chunk["messageId"], stream_id.as_str());
            assert_eq!(chunk["isComplete"], false);
            full.push_str(chunk["currentChunk"].as_str().unwrap());
            assert_eq!(chunk["fullContent"], full.as_str());
        }
        let complete = &events.last().unwrap().1;
        assert_eq!(complete["messageId"], stream_id.as_str());
        assert_eq!(complete["content"], full.as_str());
        assert_eq!(complete["isComplete"], true);
        assert_eq!(complete["query"], "what is Rust?");
        assert!(full.contains("what is Rust?"));
        assert_eq!(complete["_id"].as_str().unwrap().len(), 24);
    }

    a.emit("fetchPreviousMessages", &json!({"roomId": room.id}))
        .await;
    let page: PreviousMessagesLoaded =
        serde_json::from_value(a.expect("previousMessagesLoaded").await).unwrap();
    let stored = page.messages.last().unwrap();
    assert_eq!(stored.kind, MessageType::Ai);
    assert_eq!(stored.ai_type.as_deref(), Some("wayneAI"));
    assert!(stored.sender.is_none());
}

#[tokio::test]
async fn a_running_stream_shows_in_join_room_success() {
    let t = common::start_with(|c| c.ai_chunk_delay = Duration::from_millis(200)).await;
    let (alice, bob, room) = t.room_of_two("slow ai").await;
    let mut a = t.joined(&alice, &room.id).await;
    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "text", "content": "@consultingAI help"}),
    )
    .await;
    a.expect("aiMessageChunk").await;
    let mut b = t.socket(&bob).await;
    b.emit("joinRoom", &room.id).await;
    let success: JoinRoomSuccess =
        serde_json::from_value(b.expect("joinRoomSuccess").await).unwrap();
    assert_eq!(success.active_streams.len(), 1);
    let stream = &success.active_streams[0];
    assert_eq!(stream.ai_type, "consultingAI");
    assert!(stream.is_streaming);
    assert!(!stream.content.is_empty());
}

#[tokio::test]
async fn leaving_and_disconnecting_are_announced() {
    let t = start().await;
    let common::Pair {
        bob,
        room,
        mut a,
        mut b,
        ..
    } = t.pair("exits").await;
    let other = t.create_room(&bob, "elsewhere", None).await;

    b.emit("leaveRoom", &room.id).await;
    assert_eq!(
        message(a.expect("message").await).content,
        "Bob left the room."
    );
    assert_eq!(
        a.expect("participantsUpdate")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Switching rooms tells the old room that the user left.
    b.emit("joinRoom", &room.id).await;
    b.expect("joinRoomSuccess").await;
    a.expect_announcement().await;
    b.emit("joinRoom", &other.id).await;
    b.expect("joinRoomSuccess").await;
    let left = a.expect("userLeft").await;
    assert_eq!(left, json!({"userId": bob.id, "name": "Bob"}));
    b.emit("joinRoom", &room.id).await;
    b.expect("joinRoomSuccess").await;
    a.expect_announcement().await;

    // Dropping the connection is a "disconnected" notice and a shorter participant list.
    b.close().await;
    assert_eq!(
        message(a.expect("message").await).content,
        "Bob disconnected."
    );
    let participants = a.expect("participantsUpdate").await;
    assert_eq!(participants.as_array().unwrap().len(), 1);
    assert!(common::eventually(WAIT, || t.server.state().gateway.room_size(&room.id) == 1).await);
}

#[tokio::test]
async fn duplicate_login_ends_the_old_socket_at_once() {
    let t = start().await;
    let common::Pair {
        alice,
        room,
        a: mut old,
        mut b,
        ..
    } = t.pair("dupes").await;

    let started = std::time::Instant::now();
    let fresh = t.login(&alice.email).await;
    let notice = old.expect("duplicate_login").await;
    assert_eq!(notice["type"], "new_login_attempt");
    assert_eq!(notice["deviceInfo"], USER_AGENT);
    assert_eq!(notice["ipAddress"], "127.0.0.1");
    assert!(notice["timestamp"].as_str().unwrap().ends_with('Z'));
    let ended = old.expect("session_ended").await;
    assert_eq!(ended["reason"], "duplicate_login");
    assert!(!ended["message"].as_str().unwrap().is_empty());
    assert_eq!(old.expect_other().await, "41");
    old.expect_closed(WAIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no 10 s stall: {:?}",
        started.elapsed()
    );

    // The room hears that the old socket went away.
    assert_eq!(
        message(b.expect("message").await).content,
        "Alice disconnected."
    );

    let stale = t.get("/api/users/profile", &alice).send().await.unwrap();
    assert_eq!(stale.status(), 401);
    let mut refused = common::Socket::open(&t.ws_url()).await;
    assert_eq!(
        refused.connect(&alice.auth()).await.unwrap_err(),
        "Invalid session"
    );

    let mut again = t.joined(&fresh, &room.id).await;
    again
        .emit(
            "chatMessage",
            &json!({"room": room.id, "type": "text", "content": "back"}),
        )
        .await;
    assert_eq!(
        message(b.expect("message").await).content,
        "Alice joined the room."
    );
    assert_eq!(message(b.expect("message").await).content, "back");
}

#[tokio::test]
async fn a_second_socket_of_the_same_session_replaces_the_first() {
    let t = start().await;
    let alice = t.user("Alice").await;
    let mut first = t.socket(&alice).await;
    let _second = t.socket(&alice).await;
    first.expect("duplicate_login").await;
    assert_eq!(
        first.expect("session_ended").await["reason"],
        "duplicate_login"
    );
    first.expect_closed(WAIT).await;
    assert!(common::eventually(WAIT, || t.server.state().gateway.connection_count() == 1).await);
}

#[tokio::test]
async fn logout_ends_the_socket() {
    let t = start().await;
    let alice = t.user("Alice").await;
    let mut s = t.socket(&alice).await;
    assert_eq!(
        t.post("/api/auth/logout", &alice)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(s.expect("session_ended").await["reason"], "logout");
    s.expect_closed(WAIT).await;
}

#[tokio::test]
async fn file_messages_open_the_file_to_room_members() {
    let t = start().await;
    let common::Pair {
        alice,
        bob,
        room,
        mut a,
        mut b,
    } = t.pair("files").await;
    let carol = t.user("Carol").await;

    let form = Form::new().part(
        "file",
        Part::bytes([b"\xFF\xD8\xFF\xE0".as_slice(), &[9u8; 508]].concat())
            .file_name("photo.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let uploaded: UploadResponse = t
        .post("/api/files/upload", &alice)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let view = format!("/api/files/view/{}", uploaded.file.filename);
    assert_eq!(t.get(&view, &bob).send().await.unwrap().status(), 403);

    // Someone else cannot post Alice's file.
    b.emit("chatMessage", &json!({"room": room.id, "type": "file", "content": "", "fileData": {"_id": uploaded.file.id}})).await;
    assert_eq!(b.expect("error").await["code"], "MESSAGE_ERROR");

    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "file", "content": "look", "fileData": uploaded.file}),
    )
    .await;
    let posted = message(b.expect("message").await);
    assert_eq!(posted.kind, MessageType::File);
    assert_eq!(posted.file.as_ref().unwrap().id, uploaded.file.id);
    assert_eq!(posted.file.as_ref().unwrap().originalname, "photo.jpg");

    let seen = t.get(&view, &bob).send().await.unwrap();
    assert_eq!(seen.status(), 200);
    assert_eq!(seen.bytes().await.unwrap().len(), 512);
    assert_eq!(t.get(&view, &carol).send().await.unwrap().status(), 403);

    a.emit(
        "chatMessage",
        &json!({"room": room.id, "type": "file", "content": ""}),
    )
    .await;
    let err = a.expect("error").await;
    assert!(
        err["message"].as_str().unwrap().contains("fileData._id"),
        "{err}"
    );
}
