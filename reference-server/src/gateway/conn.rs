//! [`Conn`]: the shared handle of one Engine.IO session — what rooms, the user index and broadcasts
//! hold. It owns the bounded outbound queue and the close signal; the session task
//! ([`session`](super::session)) owns everything else about the connection.
//!
//! Invariant: nothing ever waits on a connection's queue. Senders use `try_send`; a full queue means
//! the client reads slower than the room talks, and the connection is closed as a slow consumer
//! instead of buffering without bound.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::ws::WebSocket;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use crate::frame::Frame;

/// Why a connection ended, in Socket.IO's words where Socket.IO has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The client closed the transport.
    TransportClose,
    /// The transport failed (I/O error, oversized frame).
    TransportError,
    /// No pong within the ping timeout.
    PingTimeout,
    /// The client left the namespace (`41`).
    ClientNamespaceDisconnect,
    /// The server ended the session (duplicate login, logout).
    ServerNamespaceDisconnect,
    /// The server is shutting down.
    ServerShuttingDown,
    /// The outbound queue overflowed.
    SlowConsumer,
    /// No Socket.IO CONNECT arrived in time.
    ConnectTimeout,
}

impl DisconnectReason {
    /// The reason string (Socket.IO's `disconnect` reasons, plus `slow consumer`).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::SlowConsumer => "slow consumer",
            DisconnectReason::ConnectTimeout => "connect timeout",
        }
    }

    /// True when the server chose to end a healthy connection, so the client is owed a Socket.IO
    /// DISCONNECT (`41`) and whatever is still queued for it.
    pub fn is_server_decision(self) -> bool {
        matches!(
            self,
            DisconnectReason::ServerNamespaceDisconnect | DisconnectReason::ServerShuttingDown
        )
    }
}

/// The parts of a session that exist only while it uses (or upgrades from) long polling.
pub(crate) struct Polling {
    /// Outbound frames; a GET locks it to wait for frames, the session task takes it on upgrade.
    pub outbound: Arc<tokio::sync::Mutex<mpsc::Receiver<Frame>>>,
    /// POST bodies for the session task; bounded so a fast poster waits instead of piling up.
    pub inbound: mpsc::Sender<String>,
    /// Hands the probed websocket to the session task.
    pub upgrade: Mutex<Option<oneshot::Sender<WebSocket>>>,
    /// Set once the websocket took over; polling requests are refused from then on.
    pub upgraded: AtomicBool,
    /// Wakes a pending GET so it answers `6` (noop) while the client upgrades.
    pub noop: Notify,
}

/// Shared handle of one Engine.IO session.
pub struct Conn {
    sid: Arc<str>,
    tx: mpsc::Sender<Frame>,
    closing: CancellationToken,
    reason: OnceLock<DisconnectReason>,
    finished: CancellationToken,
    pub(crate) polling: Option<Polling>,
}

impl Conn {
    pub(crate) fn new(sid: Arc<str>, tx: mpsc::Sender<Frame>, polling: Option<Polling>) -> Self {
        Conn {
            sid,
            tx,
            closing: CancellationToken::new(),
            reason: OnceLock::new(),
            finished: CancellationToken::new(),
            polling,
        }
    }

    /// The Engine.IO session id; also the connection's identity in rooms.
    pub fn sid(&self) -> &Arc<str> {
        &self.sid
    }

    /// Queues a frame without waiting. Returns false when it was not queued: the connection is closed,
    /// or its queue is full, in which case the connection is closed as a slow consumer.
    pub fn send(&self, frame: Frame) -> bool {
        match self.tx.try_send(frame) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.close(DisconnectReason::SlowConsumer);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Asks the session to end; the first reason given wins.
    pub fn close(&self, reason: DisconnectReason) {
        let _ = self.reason.set(reason);
        self.closing.cancel();
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closing(&self) -> bool {
        self.closing.is_cancelled()
    }

    /// Resolves when the session is asked to end.
    pub async fn closing(&self) {
        self.closing.cancelled().await;
    }

    /// The reason given to [`close`](Self::close), if any.
    pub fn reason(&self) -> Option<DisconnectReason> {
        self.reason.get().copied()
    }

    /// Resolves when the session task has finished its cleanup (left its room, unregistered).
    pub async fn finished(&self) {
        self.finished.cancelled().await;
    }

    pub(crate) fn mark_finished(&self) {
        self.finished.cancel();
    }

    /// True when the session started on long polling and has not upgraded yet.
    pub(crate) fn is_polling(&self) -> bool {
        self.polling
            .as_ref()
            .is_some_and(|p| !p.upgraded.load(Ordering::Acquire))
    }

    /// True when no frame is waiting in the outbound queue.
    pub(crate) fn queue_is_empty(&self) -> bool {
        self.tx.capacity() == self.tx.max_capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_closes_the_connection_as_a_slow_consumer() {
        let (tx, mut rx) = mpsc::channel(2);
        let conn = Conn::new("s".into(), tx, None);
        assert!(conn.send(Frame::from("a")));
        assert!(conn.send(Frame::from("b")));
        assert!(!conn.is_closing());
        assert!(!conn.send(Frame::from("c")));
        assert!(conn.is_closing());
        assert_eq!(conn.reason(), Some(DisconnectReason::SlowConsumer));
        // The first reason wins.
        conn.close(DisconnectReason::PingTimeout);
        assert_eq!(conn.reason(), Some(DisconnectReason::SlowConsumer));
        assert_eq!(rx.try_recv().unwrap().as_str(), "a");
    }
}
