//! [`Conn`]: the shared handle of one Engine.IO session — what rooms, the user index and broadcasts
//! hold. It owns the bounded outbound queue and the close signal; the session task
//! ([`session`](super::session)) owns everything else about the connection.
//!
//! Invariant: nothing ever waits on a connection's queue. Senders use `try_send`; a full queue means
//! the client reads slower than the room talks, and the connection is closed as a slow consumer
//! instead of buffering without bound. "Full" is counted twice: in frames (slots) and in bytes, since
//! a few large frames (history pages, AI chunks) a polling client never collects would otherwise pin
//! megabytes per session.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    pub outbound: Arc<tokio::sync::Mutex<OutboundRx>>,
    /// POST bodies for the session task; bounded so a fast poster waits instead of piling up.
    pub inbound: mpsc::Sender<String>,
    /// Hands the probed websocket to the session task.
    pub upgrade: Mutex<Option<oneshot::Sender<WebSocket>>>,
    /// Set once the websocket took over; polling requests are refused from then on.
    pub upgraded: AtomicBool,
    /// Wakes a pending GET so it answers `6` (noop) while the client upgrades.
    pub noop: Notify,
}

/// Creates a connection's outbound queue, bounded to `frames` frames and `bytes` bytes queued.
pub(crate) fn outbound_queue(frames: usize, bytes: usize) -> (OutboundTx, OutboundRx) {
    let (tx, rx) = mpsc::channel(frames);
    let queued = Arc::new(AtomicUsize::new(0));
    let tx = OutboundTx {
        tx,
        queued: Arc::clone(&queued),
        max_bytes: bytes,
    };
    (tx, OutboundRx { rx, queued })
}

/// The sending half of an outbound queue, held by the [`Conn`].
pub(crate) struct OutboundTx {
    tx: mpsc::Sender<Frame>,
    /// Bytes of the frames sent and not yet received; the receiving half subtracts.
    queued: Arc<AtomicUsize>,
    max_bytes: usize,
}

/// The receiving half of an outbound queue: the session task's or the polling GET's.
pub(crate) struct OutboundRx {
    rx: mpsc::Receiver<Frame>,
    queued: Arc<AtomicUsize>,
}

impl OutboundRx {
    /// The next frame; `None` once every sender is gone.
    pub(crate) async fn recv(&mut self) -> Option<Frame> {
        let frame = self.rx.recv().await?;
        self.queued.fetch_sub(frame.len(), Ordering::AcqRel);
        Some(frame)
    }

    /// The next frame if one is queued.
    pub(crate) fn try_recv(&mut self) -> Result<Frame, mpsc::error::TryRecvError> {
        let frame = self.rx.try_recv()?;
        self.queued.fetch_sub(frame.len(), Ordering::AcqRel);
        Ok(frame)
    }
}

/// Shared handle of one Engine.IO session.
pub struct Conn {
    sid: Arc<str>,
    tx: OutboundTx,
    closing: CancellationToken,
    reason: OnceLock<DisconnectReason>,
    finished: CancellationToken,
    pub(crate) polling: Option<Polling>,
}

impl Conn {
    pub(crate) fn new(sid: Arc<str>, tx: OutboundTx, polling: Option<Polling>) -> Self {
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
    /// or its queue is full (in frames or in bytes), in which case the connection is closed as a slow
    /// consumer.
    pub fn send(&self, frame: Frame) -> bool {
        let len = frame.len();
        // Reserve the bytes first, so concurrent senders cannot all slip under the bound.
        let before = self.tx.queued.fetch_add(len, Ordering::AcqRel);
        if before.saturating_add(len) > self.tx.max_bytes && before > 0 {
            // One frame larger than the whole bound still goes through an empty queue: frames are
            // already capped by the payload limits, and refusing it would end a healthy reader.
            self.tx.queued.fetch_sub(len, Ordering::AcqRel);
            self.close(DisconnectReason::SlowConsumer);
            return false;
        }
        match self.tx.tx.try_send(frame) {
            Ok(()) => true,
            Err(e) => {
                self.tx.queued.fetch_sub(len, Ordering::AcqRel);
                if matches!(e, mpsc::error::TrySendError::Full(_)) {
                    self.close(DisconnectReason::SlowConsumer);
                }
                false
            }
        }
    }

    /// Bytes queued for this connection and not yet taken by its writer.
    pub fn queued_bytes(&self) -> usize {
        self.tx.queued.load(Ordering::Acquire)
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
        self.tx.tx.capacity() == self.tx.tx.max_capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_closes_the_connection_as_a_slow_consumer() {
        let (tx, mut rx) = outbound_queue(2, 1 << 20);
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

    #[test]
    fn queued_bytes_over_the_bound_close_the_connection_as_a_slow_consumer() {
        let (tx, mut rx) = outbound_queue(100, 10);
        let conn = Conn::new("s".into(), tx, None);
        // A single frame over the bound passes an empty queue.
        assert!(conn.send(Frame::from("0123456789abc")));
        assert_eq!(conn.queued_bytes(), 13);
        assert_eq!(rx.try_recv().unwrap().as_str(), "0123456789abc");
        assert_eq!(conn.queued_bytes(), 0);
        assert!(conn.send(Frame::from("01234")));
        assert!(conn.send(Frame::from("56789")));
        assert!(!conn.is_closing());
        assert!(!conn.send(Frame::from("x")));
        assert_eq!(conn.reason(), Some(DisconnectReason::SlowConsumer));
        assert_eq!(conn.queued_bytes(), 10);
    }
}
