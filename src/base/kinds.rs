//! The small, closed sets a run counts by: timed operations and failure kinds.
//!
//! Both are `Copy` enums with a stable snake_case name used in every report, so the hot path counts
//! into fixed arrays indexed by discriminant instead of maps keyed by strings.

use serde::{Deserialize, Serialize};

/// A timed operation of a VU. Each has its own latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `POST /api/auth/register`.
    Register,
    /// `POST /api/auth/login`.
    Login,
    /// `GET /health`.
    Health,
    /// `GET /api/rooms`.
    ListRooms,
    /// `POST /api/rooms`.
    CreateRoom,
    /// `POST /api/rooms/:id/join`.
    EnterRoom,
    /// `GET /api/rooms/:id`.
    GetRoom,
    /// TCP connect plus websocket upgrade.
    WsConnect,
    /// Engine.IO open plus Socket.IO CONNECT until the server's CONNECT reply.
    SioConnect,
    /// `joinRoom` → `joinRoomSuccess`.
    JoinRoom,
    /// `fetchPreviousMessages` → `previousMessagesLoaded`.
    History,
    /// `chatMessage` → the sender's own copy of the `message` broadcast (from the intended send time).
    SendAck,
    /// `chatMessage` → receipt by each other member of the room (from the intended send time).
    Delivery,
    /// `messageReaction` → `messageReactionUpdate`.
    React,
    /// A reaction → the `messageReactionUpdate` showing it, at each other member of the room (from the
    /// emit). Verified like deliveries; not a request in the competition's sense.
    ReactionUpdate,
    /// `markMessagesAsRead` (fire and forget: counted, not timed).
    MarkRead,
    /// `markMessagesAsRead` → the `messagesRead` covering its ids, at each other member of the room
    /// (from the emit). Verified like deliveries; not a request in the competition's sense.
    Receipt,
    /// `POST /api/files/upload`.
    Upload,
    /// File `chatMessage` → its echo.
    FileMessage,
    /// `POST /api/users/profile-image`.
    ProfileImage,
    /// AI mention → `aiMessageStart`.
    AiFirstChunk,
    /// AI mention → `aiMessageComplete`.
    AiComplete,
    /// `leaveRoom` (fire and forget).
    LeaveRoom,
    /// Holding the session until the end of the run (failures only: disconnects, ping timeouts).
    Hold,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Op; 24] = [
        Op::Register,
        Op::Login,
        Op::Health,
        Op::ListRooms,
        Op::CreateRoom,
        Op::EnterRoom,
        Op::GetRoom,
        Op::WsConnect,
        Op::SioConnect,
        Op::JoinRoom,
        Op::History,
        Op::SendAck,
        Op::Delivery,
        Op::React,
        Op::ReactionUpdate,
        Op::MarkRead,
        Op::Receipt,
        Op::Upload,
        Op::FileMessage,
        Op::ProfileImage,
        Op::AiFirstChunk,
        Op::AiComplete,
        Op::LeaveRoom,
        Op::Hold,
    ];

    /// Number of operations.
    pub const COUNT: usize = Op::ALL.len();

    /// Stable index into per-op arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in reports and thresholds.
    pub fn name(self) -> &'static str {
        match self {
            Op::Register => "register",
            Op::Login => "login",
            Op::Health => "health",
            Op::ListRooms => "list_rooms",
            Op::CreateRoom => "create_room",
            Op::EnterRoom => "enter_room",
            Op::GetRoom => "get_room",
            Op::WsConnect => "ws_connect",
            Op::SioConnect => "sio_connect",
            Op::JoinRoom => "join_room",
            Op::History => "history",
            Op::SendAck => "send_ack",
            Op::Delivery => "delivery",
            Op::React => "react",
            Op::ReactionUpdate => "reaction_update",
            Op::MarkRead => "mark_read",
            Op::Receipt => "receipt",
            Op::Upload => "upload",
            Op::FileMessage => "file_message",
            Op::ProfileImage => "profile_image",
            Op::AiFirstChunk => "ai_first_chunk",
            Op::AiComplete => "ai_complete",
            Op::LeaveRoom => "leave_room",
            Op::Hold => "hold",
        }
    }

    /// Looks an operation up by its report name.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// True for operations that are requests in the competition's sense (counted in request
    /// success/failure ratios). Each expected delivery to one member counts as one request, so a
    /// server that loses messages shows it in its failure ratio; holding the session is not a request,
    /// and neither are read receipts and reaction updates, which the competition never checked (they
    /// have their own counts, and scoring rules can count them: `docs/scoring.md`).
    pub fn is_request(self) -> bool {
        !matches!(self, Op::Hold | Op::Receipt | Op::ReactionUpdate)
    }

    /// True for the verified pushes that are not chat deliveries: read receipts and reaction
    /// updates, each expected at every other member of the room.
    pub fn is_receipt(self) -> bool {
        matches!(self, Op::Receipt | Op::ReactionUpdate)
    }
}

/// Why something failed. Counted per (kind, op) with a bounded sample of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// TCP connection refused.
    ConnectRefused,
    /// Connection reset or closed by the peer mid-request.
    ConnectionReset,
    /// Any other transport error (DNS, TLS, websocket upgrade rejected, …).
    Transport,
    /// The step ran over its time budget.
    Timeout,
    /// HTTP response with a 4xx/5xx status (the sample names it).
    HttpStatus,
    /// Socket.IO CONNECT_ERROR.
    ConnectError,
    /// `joinRoomError`.
    JoinRoomError,
    /// The socket closed while the VU was still using it (the sample gives the reason).
    UnexpectedDisconnect,
    /// The server stopped pinging within `pingInterval + pingTimeout`.
    PingTimeout,
    /// A response or frame that does not parse as the protocol says.
    Protocol,
    /// A server `error` event (or `aiMessageError`).
    ServerError,
    /// `session_ended` / `duplicate_login` received.
    SessionEnded,
    /// A member of the room did not receive a message within the delivery deadline.
    DeliveryMissing,
    /// A member received the same message more than once.
    DeliveryDuplicate,
    /// A member received a sender's messages out of order.
    DeliveryReordered,
    /// A member never learnt, within the receipt deadline, that another member read messages
    /// (`markMessagesAsRead` without a `messagesRead` covering its ids).
    ReceiptMissing,
    /// A member was told the same read receipt again (a `messagesRead` that covered nothing new).
    ReceiptDuplicate,
    /// A member never saw another member's reaction (no `messageReactionUpdate` containing it within
    /// the receipt deadline).
    ReactionMissing,
}

impl FailureKind {
    /// Every kind, in report order.
    pub const ALL: [FailureKind; 18] = [
        FailureKind::ConnectRefused,
        FailureKind::ConnectionReset,
        FailureKind::Transport,
        FailureKind::Timeout,
        FailureKind::HttpStatus,
        FailureKind::ConnectError,
        FailureKind::JoinRoomError,
        FailureKind::UnexpectedDisconnect,
        FailureKind::PingTimeout,
        FailureKind::Protocol,
        FailureKind::ServerError,
        FailureKind::SessionEnded,
        FailureKind::DeliveryMissing,
        FailureKind::DeliveryDuplicate,
        FailureKind::DeliveryReordered,
        FailureKind::ReceiptMissing,
        FailureKind::ReceiptDuplicate,
        FailureKind::ReactionMissing,
    ];

    /// Number of kinds.
    pub const COUNT: usize = FailureKind::ALL.len();

    /// Stable index into per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake_case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::ConnectRefused => "connect_refused",
            FailureKind::ConnectionReset => "connection_reset",
            FailureKind::Transport => "transport",
            FailureKind::Timeout => "timeout",
            FailureKind::HttpStatus => "http_status",
            FailureKind::ConnectError => "connect_error",
            FailureKind::JoinRoomError => "join_room_error",
            FailureKind::UnexpectedDisconnect => "unexpected_disconnect",
            FailureKind::PingTimeout => "ping_timeout",
            FailureKind::Protocol => "protocol",
            FailureKind::ServerError => "server_error",
            FailureKind::SessionEnded => "session_ended",
            FailureKind::DeliveryMissing => "delivery_missing",
            FailureKind::DeliveryDuplicate => "delivery_duplicate",
            FailureKind::DeliveryReordered => "delivery_reordered",
            FailureKind::ReceiptMissing => "receipt_missing",
            FailureKind::ReceiptDuplicate => "receipt_duplicate",
            FailureKind::ReactionMissing => "reaction_missing",
        }
    }

    /// True for verification findings about what another member received (chat deliveries, read
    /// receipts, reaction updates): the server's fault towards that member. Whether they also fail
    /// the member's VU is the scenario's choice (`delivery_fails_vu`).
    pub fn is_delivery(self) -> bool {
        matches!(
            self,
            FailureKind::DeliveryMissing
                | FailureKind::DeliveryDuplicate
                | FailureKind::DeliveryReordered
                | FailureKind::ReceiptMissing
                | FailureKind::ReceiptDuplicate
                | FailureKind::ReactionMissing
        )
    }

    /// True when a finding of this kind makes its request a failed one. A missing or duplicated
    /// delivery is a failed request; a reordered copy is not: it was delivered (and timed), and a
    /// copy that is late because the server delayed it is judged by the delivery latency SLO, not
    /// counted a second time as a failure (`docs/scoring.md`).
    pub fn fails_request(self) -> bool {
        self != FailureKind::DeliveryReordered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_match_positions() {
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
            assert_eq!(Op::from_name(op.name()), Some(*op));
            let json = serde_json::to_string(op).unwrap();
            assert_eq!(json, format!("\"{}\"", op.name()));
        }
        for (i, k) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
            let json = serde_json::to_string(k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.name()));
        }
    }
}
