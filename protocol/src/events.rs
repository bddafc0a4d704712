//! Socket events of the chat protocol: names and payloads, both directions.
//!
//! Payload types derive `Default` and accept missing fields, because the load generator reads them from
//! servers it did not write; what the reference server sends is always complete.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rest::{FileInfo, UserSummary};
use crate::time::Timestamp;

/// Event names, exactly as on the wire.
pub mod name {
    // client → server
    /// `joinRoom roomId`.
    pub const JOIN_ROOM: &str = "joinRoom";
    /// `chatMessage {room,type,content,fileData?}`.
    pub const CHAT_MESSAGE: &str = "chatMessage";
    /// `fetchPreviousMessages {roomId,before?}`.
    pub const FETCH_PREVIOUS_MESSAGES: &str = "fetchPreviousMessages";
    /// `markMessagesAsRead {roomId,messageIds}`.
    pub const MARK_MESSAGES_AS_READ: &str = "markMessagesAsRead";
    /// `messageReaction {messageId,reaction,type}`.
    pub const MESSAGE_REACTION: &str = "messageReaction";
    /// `leaveRoom roomId`.
    pub const LEAVE_ROOM: &str = "leaveRoom";

    // server → client
    /// Reply to `joinRoom`.
    pub const JOIN_ROOM_SUCCESS: &str = "joinRoomSuccess";
    /// `joinRoom` failed.
    pub const JOIN_ROOM_ERROR: &str = "joinRoomError";
    /// A chat, system, AI or file message.
    pub const MESSAGE: &str = "message";
    /// The room's participant list changed.
    pub const PARTICIPANTS_UPDATE: &str = "participantsUpdate";
    /// A user left the room.
    pub const USER_LEFT: &str = "userLeft";
    /// The room's metadata changed.
    pub const ROOM_UPDATE: &str = "roomUpdate";
    /// History loading started.
    pub const MESSAGE_LOAD_START: &str = "messageLoadStart";
    /// A page of history.
    pub const PREVIOUS_MESSAGES_LOADED: &str = "previousMessagesLoaded";
    /// Another member read messages.
    pub const MESSAGES_READ: &str = "messagesRead";
    /// A message's reactions changed.
    pub const MESSAGE_REACTION_UPDATE: &str = "messageReactionUpdate";
    /// An AI reply stream began.
    pub const AI_MESSAGE_START: &str = "aiMessageStart";
    /// One chunk of an AI reply.
    pub const AI_MESSAGE_CHUNK: &str = "aiMessageChunk";
    /// The AI reply is complete.
    pub const AI_MESSAGE_COMPLETE: &str = "aiMessageComplete";
    /// The AI reply failed.
    pub const AI_MESSAGE_ERROR: &str = "aiMessageError";
    /// A server-side error for the last request.
    pub const ERROR: &str = "error";
    /// Someone logged in as this user elsewhere.
    pub const DUPLICATE_LOGIN: &str = "duplicate_login";
    /// This session is over; the socket is about to close.
    pub const SESSION_ENDED: &str = "session_ended";
    /// Extension (the reference server's): room events were lost on their way to this socket;
    /// refetch the room's history.
    pub const RESYNC: &str = "resync";
}

/// Auth object of the Socket.IO CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ConnectAuth {
    /// Access token from login.
    pub token: String,
    /// Session id from login.
    pub session_id: String,
}

/// Kind of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// Plain text.
    #[default]
    Text,
    /// A posted file.
    File,
    /// Join/leave/disconnect notices.
    System,
    /// An AI reply.
    Ai,
}

/// Payload of `chatMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageRequest {
    /// Room id.
    pub room: String,
    /// `text` or `file`.
    #[serde(rename = "type", default)]
    pub kind: MessageType,
    /// Text (or the caption of a file).
    #[serde(default)]
    pub content: String,
    /// The uploaded file, for `file` messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileInfo>,
    /// Extension: the sender's own id for this message, so a retry after a failure or a timeout is
    /// stored once (the retry is answered with the original message). At most
    /// [`MAX_CLIENT_MESSAGE_ID`] printable ASCII characters; old clients omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<String>,
}

/// The longest `clientMessageId` a server accepts, in (ASCII) characters.
pub const MAX_CLIENT_MESSAGE_ID: usize = 64;

/// True when `id` is a valid `clientMessageId`: 1 to [`MAX_CLIENT_MESSAGE_ID`] printable ASCII
/// characters (space to `~`).
pub fn valid_client_message_id(id: &str) -> bool {
    (1..=MAX_CLIENT_MESSAGE_ID).contains(&id.len())
        && id.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Payload of `fetchPreviousMessages`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchPreviousMessagesRequest {
    /// Room id.
    pub room_id: String,
    /// Only messages strictly older than this; newest page when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Timestamp>,
}

/// Payload of `markMessagesAsRead`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkMessagesAsReadRequest {
    /// Room id.
    pub room_id: String,
    /// Messages read.
    pub message_ids: Vec<String>,
}

/// Whether a reaction is added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReactionOp {
    /// Add the reaction.
    #[default]
    Add,
    /// Remove the reaction.
    Remove,
}

/// Payload of `messageReaction`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageReactionRequest {
    /// Message reacted to.
    pub message_id: String,
    /// The emoji.
    pub reaction: String,
    /// Add or remove.
    #[serde(rename = "type", default)]
    pub op: ReactionOp,
}

/// The sender of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Sender {
    /// User id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Profile image path, empty when none.
    pub profile_image: String,
}

/// One reader of a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Reader {
    /// Who read it.
    pub user_id: String,
    /// When.
    pub read_at: Timestamp,
}

/// Reactions of a message: emoji → user ids.
pub type Reactions = BTreeMap<String, Vec<String>>;

/// A stored message, as `message` events and history pages carry it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Message {
    /// Message id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Room id.
    pub room: String,
    /// Text.
    pub content: String,
    /// Kind.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// Author; absent on system messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
    /// The posted file, for `file` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileInfo>,
    /// Which AI answered, for `ai` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_type: Option<String>,
    /// AI names mentioned in the text.
    pub mentions: Vec<String>,
    /// When the server stored it.
    pub timestamp: Timestamp,
    /// Who has read it.
    pub readers: Vec<Reader>,
    /// Reactions.
    pub reactions: Reactions,
}

/// An AI stream still running when a member joins.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ActiveStream {
    /// Stream id (the future message id).
    #[serde(rename = "_id")]
    pub id: String,
    /// Message type; `ai` from the reference server.
    #[serde(rename = "type")]
    pub kind: String,
    /// Which AI (`wayneAI`, `consultingAI`), as the original sent it.
    pub ai_type: String,
    /// Text so far.
    pub content: String,
    /// When the stream started.
    pub timestamp: Timestamp,
    /// Always true for a running stream.
    pub is_streaming: bool,
}

/// Payload of `joinRoomSuccess`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JoinRoomSuccess {
    /// Room id.
    pub room_id: String,
    /// Current participants.
    pub participants: Vec<UserSummary>,
    /// Newest messages, at most 30, oldest first.
    pub messages: Vec<Message>,
    /// True when older messages exist.
    pub has_more: bool,
    /// Timestamp of the oldest message sent, for paging.
    pub oldest_timestamp: Option<Timestamp>,
    /// AI streams in progress.
    pub active_streams: Vec<ActiveStream>,
}

/// Payload of `previousMessagesLoaded`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PreviousMessagesLoaded {
    /// Up to 30 messages, oldest first.
    pub messages: Vec<Message>,
    /// True when older messages exist.
    pub has_more: bool,
    /// Timestamp of the oldest message sent, for the next page.
    pub oldest_timestamp: Option<Timestamp>,
}

/// Payload of `messagesRead`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessagesRead {
    /// Who read.
    pub user_id: String,
    /// What they read.
    pub message_ids: Vec<String>,
}

/// Payload of `messageReactionUpdate`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessageReactionUpdate {
    /// The message.
    pub message_id: String,
    /// All its reactions after the change.
    pub reactions: Reactions,
}

/// Payload of `userLeft`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserLeft {
    /// Who left.
    pub user_id: String,
    /// Their name.
    pub name: String,
}

/// Payload of `aiMessageStart`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AiMessageStart {
    /// Stream id.
    pub message_id: String,
    /// Which AI (`wayneAI`, `consultingAI`).
    pub ai_type: String,
    /// When it started.
    pub timestamp: Timestamp,
}

/// Payload of `aiMessageChunk`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AiMessageChunk {
    /// Stream id.
    pub message_id: String,
    /// This chunk's text.
    pub current_chunk: String,
    /// All text so far.
    pub full_content: String,
    /// True while inside a code block.
    pub is_code_block: bool,
    /// When it was sent.
    pub timestamp: Timestamp,
    /// Which AI.
    pub ai_type: String,
    /// Always false on chunks.
    pub is_complete: bool,
}

/// Payload of `aiMessageComplete`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AiMessageComplete {
    /// Stream id.
    pub message_id: String,
    /// Id of the stored AI message.
    #[serde(rename = "_id")]
    pub id: String,
    /// The whole reply.
    pub content: String,
    /// Which AI.
    pub ai_type: String,
    /// When it completed.
    pub timestamp: Timestamp,
    /// Always true.
    pub is_complete: bool,
    /// The user's question.
    pub query: String,
}

/// Payload of `aiMessageError`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AiMessageError {
    /// Stream id.
    pub message_id: String,
    /// What went wrong.
    pub error: String,
    /// Which AI.
    pub ai_type: String,
}

/// Payload of `error`: the original sends either `code` or `type` with a message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorEvent {
    /// Stable code (`MESSAGE_ERROR`, `OVERLOADED`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Alternative to `code` used by some handlers.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Human-readable explanation.
    pub message: String,
}

/// Payload of `joinRoomError`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct JoinRoomError {
    /// Why the join failed.
    pub message: String,
}

/// Payload of `duplicate_login`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DuplicateLogin {
    /// Always `new_login_attempt`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Client description of the new login.
    pub device_info: String,
    /// Address of the new login.
    pub ip_address: String,
    /// When it happened.
    pub timestamp: Timestamp,
}

/// Payload of `session_ended`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionEnded {
    /// Machine-readable reason (`duplicate_login`, `logout`, …).
    pub reason: String,
    /// Human-readable explanation.
    pub message: String,
}

/// The one `reason` of [`Resync`] so far: room events were no longer in the server's log when the
/// socket's server instance came to deliver them.
pub const RESYNC_EVENTS_SKIPPED: &str = "events_skipped";

/// Payload of `resync` (an extension of the reference server; other servers never send it, and
/// old clients ignore it): this socket missed `missed` events of room `room_id` (messages,
/// participant lists, receipts, reactions, AI chunks). The client refetches: the newest history page
/// with `fetchPreviousMessages`, paging back with `before` until it reaches what it has.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Resync {
    /// The room whose events were missed.
    pub room_id: String,
    /// Why ([`RESYNC_EVENTS_SKIPPED`]).
    pub reason: String,
    /// How many room events were missed.
    pub missed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn chat_message_request_wire_shape() {
        let req = ChatMessageRequest {
            room: "r".into(),
            kind: MessageType::Text,
            content: "hi".into(),
            file_data: None,
            client_message_id: None,
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({"room":"r","type":"text","content":"hi"})
        );
        let file: ChatMessageRequest = serde_json::from_value(
            json!({"room":"r","type":"file","content":"","fileData":{"_id":"f","filename":"a.png"}}),
        )
        .unwrap();
        assert_eq!(file.file_data.unwrap().filename, "a.png");
    }

    #[test]
    fn message_round_trips_and_tolerates_foreign_shapes() {
        let m = Message {
            id: "m1".into(),
            room: "r".into(),
            content: "hello".into(),
            kind: MessageType::Text,
            sender: Some(Sender {
                id: "u".into(),
                ..Sender::default()
            }),
            timestamp: Timestamp::new("2024-12-01T00:00:00.000Z"),
            ..Message::default()
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["_id"], "m1");
        assert_eq!(v["type"], "text");
        assert_eq!(serde_json::from_value::<Message>(v).unwrap(), m);

        let foreign: Message = serde_json::from_value(
            json!({"_id":"x","content":"c","type":"system","timestamp":1733000000000u64,"extra":1}),
        )
        .unwrap();
        assert_eq!(foreign.kind, MessageType::System);
        assert_eq!(foreign.timestamp.as_str(), "1733000000000");
        assert!(foreign.sender.is_none());
    }

    #[test]
    fn reaction_request_uses_type_field() {
        let r: MessageReactionRequest =
            serde_json::from_value(json!({"messageId":"m","reaction":"👍","type":"remove"}))
                .unwrap();
        assert_eq!(r.op, ReactionOp::Remove);
    }

    #[test]
    fn error_event_accepts_code_or_type() {
        let e: ErrorEvent =
            serde_json::from_value(json!({"type":"Unauthorized","message":"m"})).unwrap();
        assert_eq!(e.kind.as_deref(), Some("Unauthorized"));
        let e: ErrorEvent =
            serde_json::from_value(json!({"code":"MESSAGE_ERROR","message":"m"})).unwrap();
        assert_eq!(e.code.as_deref(), Some("MESSAGE_ERROR"));
    }

    #[test]
    fn resync_wire_shape() {
        let r = Resync {
            room_id: "r".into(),
            reason: RESYNC_EVENTS_SKIPPED.into(),
            missed: 30,
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"roomId":"r","reason":"events_skipped","missed":30})
        );
        assert_eq!(
            serde_json::from_value::<Resync>(json!({"roomId":"r"})).unwrap(),
            Resync {
                room_id: "r".into(),
                ..Resync::default()
            }
        );
    }
}
