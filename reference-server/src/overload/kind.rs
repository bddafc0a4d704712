//! The shared words of overload control: the kinds of work it tells apart ([`RequestKind`]), why it
//! refuses ([`Reason`]) and the refusal itself ([`Rejection`]). The layers above (REST, the gateway)
//! turn a refusal into a 503 or an `error` event; this module only says what was refused and why.

use std::time::Duration;

use protocol::events::name;

/// The kinds of work the server tells apart, each with its own bulkhead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// Register, login, logout, token checks, profile reads and updates.
    Auth,
    /// `GET /api/rooms`.
    RoomList,
    /// Creating, reading, joining and leaving rooms (REST and socket).
    RoomOps,
    /// Loading message history.
    History,
    /// Sending messages, reactions and read receipts.
    MessageSend,
    /// Uploads, downloads, views and deletes of files and profile images.
    Files,
    /// AI reply streams.
    Ai,
}

impl RequestKind {
    /// Every kind, in a fixed order.
    pub const ALL: [RequestKind; 7] = [
        RequestKind::Auth,
        RequestKind::RoomList,
        RequestKind::RoomOps,
        RequestKind::History,
        RequestKind::MessageSend,
        RequestKind::Files,
        RequestKind::Ai,
    ];

    /// Stable camelCase name (used in `/health` and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Auth => "auth",
            RequestKind::RoomList => "roomList",
            RequestKind::RoomOps => "roomOps",
            RequestKind::History => "history",
            RequestKind::MessageSend => "messageSend",
            RequestKind::Files => "files",
            RequestKind::Ai => "ai",
        }
    }

    /// Stable snake_case name (the config file's tables and the metrics' `kind` label).
    pub fn config_name(self) -> &'static str {
        match self {
            RequestKind::Auth => "auth",
            RequestKind::RoomList => "room_list",
            RequestKind::RoomOps => "room_ops",
            RequestKind::History => "history",
            RequestKind::MessageSend => "message_send",
            RequestKind::Files => "files",
            RequestKind::Ai => "ai",
        }
    }

    /// The kind of a client → server socket event; `None` for events the server does not serve.
    pub fn of_event(event: &str) -> Option<RequestKind> {
        Some(match event {
            name::JOIN_ROOM | name::LEAVE_ROOM => RequestKind::RoomOps,
            name::FETCH_PREVIOUS_MESSAGES => RequestKind::History,
            name::CHAT_MESSAGE | name::MARK_MESSAGES_AS_READ | name::MESSAGE_REACTION => {
                RequestKind::MessageSend
            }
            _ => return None,
        })
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Why a unit of work was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The kind's bulkhead and its queue were full.
    BulkheadFull,
    /// Waited in the bulkhead's queue for `max_wait` without a slot.
    QueueTimeout,
    /// The kind is shed at the current level.
    Shed,
    /// A background client's login at a level that refuses them.
    Background,
    /// The request ran past the server-side timeout.
    Timeout,
}

impl Reason {
    /// Every reason, in a fixed order.
    pub const ALL: [Reason; 5] = [
        Reason::BulkheadFull,
        Reason::QueueTimeout,
        Reason::Shed,
        Reason::Background,
        Reason::Timeout,
    ];

    /// Stable snake_case name (metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BulkheadFull => "bulkhead_full",
            Reason::QueueTimeout => "queue_timeout",
            Reason::Shed => "shed",
            Reason::Background => "background",
            Reason::Timeout => "timeout",
        }
    }
}

/// A refused unit of work and what to tell the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The kind refused.
    pub kind: RequestKind,
    /// Why.
    pub reason: Reason,
    /// The load level when it was refused.
    pub level: u8,
    /// When to retry; `None` means "do not retry".
    pub retry_after: Option<Duration>,
}

impl Rejection {
    /// The explanation sent to the client.
    pub fn message(&self) -> String {
        let what = match self.reason {
            Reason::BulkheadFull => format!(
                "too many {} requests in progress",
                self.kind.config_name().replace('_', " ")
            ),
            Reason::QueueTimeout => format!(
                "{} requests waited too long for a free slot",
                self.kind.config_name().replace('_', " ")
            ),
            Reason::Shed => format!(
                "{} requests are paused at load level {}",
                self.kind.config_name().replace('_', " "),
                self.level
            ),
            Reason::Background => {
                format!("background logins are refused at load level {}", self.level)
            }
            Reason::Timeout => "the request took longer than the server allows right now".into(),
        };
        match self.retry_after {
            Some(after) => format!(
                "Server overloaded: {what}; retry in {} s",
                after.as_secs().max(1)
            ),
            None => format!("Server overloaded: {what}; do not retry"),
        }
    }
}
