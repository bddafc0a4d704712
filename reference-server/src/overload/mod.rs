//! Overload control. Today this module classifies work and counts it; it is the one place the later
//! controls plug in: load levels (busy ratio → degrade on purpose), a bulkhead per [`RequestKind`]
//! (overflow fails fast with `OVERLOADED` instead of queueing), hot-room throttling of fan-out, and live
//! configuration of all their thresholds.
//!
//! Every REST route is tagged with its kind by [`track`] (a route layer), every socket event by
//! [`RequestKind::of_event`] in the gateway's dispatch, and every AI stream while it runs; all of them
//! pass through [`Overload::enter`], which is where admission decisions will be made.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use protocol::events::name;

/// The kinds of work the server tells apart, each a future bulkhead.
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

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters per kind: work in flight now, and work started since the server began.
#[derive(Debug, Default)]
pub struct Overload {
    in_flight: [AtomicU64; 7],
    started: [AtomicU64; 7],
}

/// Marks one unit of work in flight until dropped.
#[derive(Debug)]
pub struct InFlight {
    overload: Arc<Overload>,
    kind: RequestKind,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.overload.in_flight[self.kind.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Overload {
    /// Admits one unit of work of `kind`. Always admits today; bulkheads will make this fallible.
    pub fn enter(self: &Arc<Self>, kind: RequestKind) -> InFlight {
        self.in_flight[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.started[kind.index()].fetch_add(1, Ordering::Relaxed);
        InFlight {
            overload: Arc::clone(self),
            kind,
        }
    }

    /// Work of `kind` in flight now.
    pub fn in_flight(&self, kind: RequestKind) -> u64 {
        self.in_flight[kind.index()].load(Ordering::Relaxed)
    }

    /// Work of `kind` started so far.
    pub fn started(&self, kind: RequestKind) -> u64 {
        self.started[kind.index()].load(Ordering::Relaxed)
    }

    /// `{kind: {inFlight, started}}` for `/health`.
    pub fn report(&self) -> serde_json::Value {
        let map = RequestKind::ALL
            .iter()
            .map(|&k| {
                (
                    k.as_str().to_owned(),
                    serde_json::json!({"inFlight": self.in_flight(k), "started": self.started(k)}),
                )
            })
            .collect::<serde_json::Map<_, _>>();
        serde_json::Value::Object(map)
    }
}

/// Route middleware: tags the request with its kind (as a request extension) and counts it in flight.
pub async fn track(
    State((overload, kind)): State<(Arc<Overload>, RequestKind)>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(kind);
    let _in_flight = overload.enter(kind);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_event_has_a_kind() {
        for event in [
            name::JOIN_ROOM,
            name::CHAT_MESSAGE,
            name::FETCH_PREVIOUS_MESSAGES,
            name::MARK_MESSAGES_AS_READ,
            name::MESSAGE_REACTION,
            name::LEAVE_ROOM,
        ] {
            assert!(RequestKind::of_event(event).is_some(), "{event}");
        }
        assert_eq!(RequestKind::of_event("joinRoomSuccess"), None);
        assert_eq!(RequestKind::of_event("bogus"), None);
    }

    #[test]
    fn in_flight_counts_follow_guards() {
        let overload = Arc::new(Overload::default());
        let a = overload.enter(RequestKind::History);
        let b = overload.enter(RequestKind::History);
        assert_eq!(overload.in_flight(RequestKind::History), 2);
        drop(a);
        drop(b);
        assert_eq!(overload.in_flight(RequestKind::History), 0);
        assert_eq!(overload.started(RequestKind::History), 2);
        assert_eq!(overload.report()["history"]["started"], 2);
        // Indexes line up with ALL.
        for (i, k) in RequestKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
