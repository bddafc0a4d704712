//! The one task per connection: it owns the transport (a websocket, or the inbound side of long
//! polling), runs the heartbeat, decodes every packet, authenticates the Socket.IO CONNECT, dispatches
//! events in arrival order, and cleans up when the connection ends for any reason.
//!
//! Memory per idle connection is this task's future plus the [`Conn`] and the websocket buffers, so the
//! future is kept small: event handlers run in boxed futures that exist only while an event is handled.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::SinkExt;
use protocol::engineio::{self, Packet as EnginePacket, split_payload};
use protocol::events::ConnectAuth;
use protocol::socketio::{self, Body, DEFAULT_NAMESPACE};
use serde_json::value::RawValue;
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, mpsc, oneshot};
use tokio::time::{Instant, sleep_until};

use super::GatewayState;
use super::conn::{Conn, DisconnectReason, Frame, OutboundRx};
use super::engine::Admission;
use super::events::{self, EventError, SocketState};
use super::kick;
use crate::auth::AuthError;
use crate::auth::SessionEnd;
use crate::limit::PeerSlot;
use crate::overload::RequestKind;
use crate::peer::Peer;

/// How long a server-initiated close spends delivering what is still queued.
const FLUSH_ON_CLOSE: Duration = Duration::from_secs(1);
/// Frames written per flush: enough to batch a burst, few enough to get back to reading soon.
const WRITE_BATCH: usize = 64;

/// Where outbound frames come from once the session writes to a websocket itself.
pub(crate) enum Outbound {
    /// A websocket-only session owns its queue.
    Owned(OutboundRx),
    /// An upgraded session took the queue polling GETs used to drain.
    Shared(OwnedMutexGuard<OutboundRx>),
}

impl Outbound {
    fn rx(&mut self) -> &mut OutboundRx {
        match self {
            Outbound::Owned(rx) => rx,
            Outbound::Shared(guard) => guard,
        }
    }
}

/// The transport a session currently reads from.
// The websocket is big, but exactly one Link exists per connection and it must live somewhere:
// boxing it would add an allocation without saving a byte.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Link {
    /// Long polling: POST bodies arrive on `inbound`; GET handlers drain the outbound queue.
    Polling {
        /// POST bodies.
        inbound: mpsc::Receiver<String>,
        /// The probed websocket, once the client upgrades; `None` after the upgrade was abandoned.
        upgrade: Option<oneshot::Receiver<WebSocket>>,
    },
    /// A websocket this task reads and writes.
    WebSocket {
        /// The socket.
        ws: WebSocket,
        /// Frames to write.
        outbound: Outbound,
    },
}

/// Engine.IO heartbeat: ping every interval, expect the pong within the timeout.
struct Heartbeat {
    deadline: Instant,
    awaiting_pong: bool,
}

enum Step {
    Closing,
    Tick,
    Outbound(Option<Frame>),
    Ws(Option<Result<Message, axum::Error>>),
    Poll(Option<String>),
    // Boxed: a Step lives in the task's future across awaits, and idle connections should not
    // carry a second websocket's worth of bytes for a variant used once.
    Upgrade(Option<Box<WebSocket>>),
}

/// One connection's state, owned by its task.
pub(crate) struct Session {
    state: GatewayState,
    conn: Arc<Conn>,
    peer: Peer,
    opened: Instant,
    heartbeat: Heartbeat,
    socket: Option<SocketState>,
    _permit: OwnedSemaphorePermit,
    /// The peer's place among its sessions without a CONNECT, until the CONNECT succeeds.
    pending: Option<PeerSlot>,
}

impl Session {
    pub(crate) fn new(
        state: GatewayState,
        conn: Arc<Conn>,
        peer: Peer,
        admission: Admission,
    ) -> Self {
        let now = Instant::now();
        let interval = state.gateway.settings().ping_interval;
        Session {
            state,
            conn,
            peer,
            opened: now,
            heartbeat: Heartbeat {
                deadline: now + interval,
                awaiting_pong: false,
            },
            socket: None,
            _permit: admission.permit,
            pending: admission.pending,
        }
    }

    /// Runs the connection until it ends, then cleans up.
    pub(crate) async fn run(mut self, mut link: Link) {
        let reason = 'session: loop {
            // Until CONNECT, also wake for its deadline: a session that never authenticates must
            // not hold its slot until the next heartbeat.
            let deadline = match self.socket {
                None => self
                    .heartbeat
                    .deadline
                    .min(self.opened + self.state.gateway.settings().connect_timeout),
                Some(_) => self.heartbeat.deadline,
            };
            let step = match &mut link {
                Link::WebSocket { ws, outbound } => tokio::select! {
                    biased;
                    () = self.conn.closing() => Step::Closing,
                    () = sleep_until(deadline) => Step::Tick,
                    frame = outbound.rx().recv() => Step::Outbound(frame),
                    msg = ws.recv() => Step::Ws(msg),
                },
                Link::Polling { inbound, upgrade } => tokio::select! {
                    biased;
                    () = self.conn.closing() => Step::Closing,
                    () = sleep_until(deadline) => Step::Tick,
                    ws = async { upgrade.as_mut()?.await.ok().map(Box::new) }, if upgrade.is_some() => Step::Upgrade(ws),
                    body = inbound.recv() => Step::Poll(body),
                },
            };
            match step {
                Step::Closing => {
                    break self
                        .conn
                        .reason()
                        .unwrap_or(DisconnectReason::TransportClose);
                }
                Step::Tick => {
                    if let Some(reason) = self.on_tick() {
                        break reason;
                    }
                }
                Step::Outbound(Some(frame)) => {
                    if let Link::WebSocket { ws, outbound } = &mut link {
                        let timeout = self.state.gateway.settings().ping_timeout;
                        // A write blocked on a peer that stopped reading must not outlive a close
                        // (its queue overflowing is exactly how such a peer gets closed).
                        let result = tokio::select! {
                            result = write_batch(ws, outbound.rx(), frame, timeout) => result.map(
                                |(packets, bytes)| self.state.overload.count_written(packets, bytes),
                            ),
                            () = self.conn.closing() => {
                                Err(self.conn.reason().unwrap_or(DisconnectReason::TransportClose))
                            }
                        };
                        if let Err(reason) = result {
                            break reason;
                        }
                    }
                }
                // The websocket stream ended: the peer went away.
                Step::Ws(None) => break DisconnectReason::TransportClose,
                // The Conn holds both senders for as long as this task runs; treat it as a close.
                Step::Outbound(None) | Step::Poll(None) => break DisconnectReason::TransportClose,
                Step::Ws(Some(Err(_))) => break DisconnectReason::TransportError,
                Step::Ws(Some(Ok(msg))) => match msg {
                    Message::Text(text) => {
                        if let Some(reason) = self.on_frame(&text).await {
                            break reason;
                        }
                    }
                    Message::Binary(_) => self.invalid_packet(
                        "binary frames are not supported: send Engine.IO text packets",
                    ),
                    Message::Close(_) => break DisconnectReason::TransportClose,
                    // Websocket-level pings are answered by the websocket layer itself.
                    Message::Ping(_) | Message::Pong(_) => {}
                },
                Step::Poll(Some(body)) => {
                    for packet in split_payload(&body) {
                        if let Some(reason) = self.on_frame(packet).await {
                            break 'session reason;
                        }
                    }
                }
                Step::Upgrade(Some(ws)) => link = self.upgrade(link, *ws).await,
                Step::Upgrade(None) => {
                    if let Link::Polling { upgrade, .. } = &mut link {
                        *upgrade = None;
                    }
                }
            }
        };
        self.finish(link, reason).await;
    }

    /// Switches a polling session to the websocket that passed the probe.
    async fn upgrade(&mut self, link: Link, ws: WebSocket) -> Link {
        let Link::Polling { mut inbound, .. } = link else {
            return link;
        };
        let conn = Arc::clone(&self.conn);
        let Some(polling) = &conn.polling else {
            return Link::Polling {
                inbound,
                upgrade: None,
            };
        };
        polling.upgraded.store(true, Ordering::Release);
        // Packets POSTed before the switch are still ours to handle, in order.
        while let Ok(body) = inbound.try_recv() {
            for packet in split_payload(&body) {
                if let Some(reason) = self.on_frame(packet).await {
                    self.conn.close(reason);
                }
            }
        }
        // The pending GET was told to answer `6`; once it lets go of the queue, the websocket drains it.
        let outbound = Arc::clone(&polling.outbound).lock_owned().await;
        Link::WebSocket {
            ws,
            outbound: Outbound::Shared(outbound),
        }
    }

    fn on_tick(&mut self) -> Option<DisconnectReason> {
        let settings = self.state.gateway.settings();
        if self.socket.is_none() && self.opened.elapsed() >= settings.connect_timeout {
            return Some(DisconnectReason::ConnectTimeout);
        }
        if Instant::now() < self.heartbeat.deadline {
            // Woken for the CONNECT deadline, not the heartbeat.
            return None;
        }
        if self.heartbeat.awaiting_pong {
            return Some(DisconnectReason::PingTimeout);
        }
        self.conn.send(Frame::from_static(engineio::PING));
        self.heartbeat = Heartbeat {
            deadline: Instant::now() + settings.ping_timeout,
            awaiting_pong: true,
        };
        None
    }

    /// Handles one Engine.IO packet; returns a reason when it ends the session.
    async fn on_frame(&mut self, frame: &str) -> Option<DisconnectReason> {
        match EnginePacket::decode(frame) {
            Ok(EnginePacket::Pong(_)) => {
                self.heartbeat = Heartbeat {
                    deadline: Instant::now() + self.state.gateway.settings().ping_interval,
                    awaiting_pong: false,
                };
                None
            }
            Ok(EnginePacket::Ping(data)) => {
                self.conn
                    .send(Frame::from(EnginePacket::Pong(data).encode()));
                None
            }
            Ok(EnginePacket::Message(msg)) => self.on_message(msg).await,
            Ok(EnginePacket::Close) => Some(DisconnectReason::TransportClose),
            Ok(EnginePacket::Open(_) | EnginePacket::Upgrade | EnginePacket::Noop) => None,
            Err(e) => {
                self.invalid_packet(e.to_string());
                None
            }
        }
    }

    /// Handles one Socket.IO packet.
    async fn on_message(&mut self, msg: &str) -> Option<DisconnectReason> {
        // Deliberately lenient: the original closes the connection on a parse error; an `error` event
        // tells a load generator what it got wrong and keeps its other work going.
        let packet = match socketio::Packet::decode(msg) {
            Ok(packet) => packet,
            Err(e) => {
                self.invalid_packet(e.to_string());
                return None;
            }
        };
        let default_ns = packet.namespace == DEFAULT_NAMESPACE;
        match packet.body {
            Body::Connect(_) if !default_ns => {
                self.conn.send(Frame::from(socketio::encode_connect_error(
                    packet.namespace,
                    "Invalid namespace",
                )));
                None
            }
            Body::Connect(auth) => {
                match &self.socket {
                    // A repeated CONNECT is answered like the first one.
                    Some(socket) => {
                        let ok = socketio::encode_connect_ok(DEFAULT_NAMESPACE, &socket.sid);
                        self.conn.send(Frame::from(ok));
                    }
                    None => Box::pin(self.connect(auth)).await,
                }
                None
            }
            Body::Disconnect if default_ns && self.socket.is_some() => {
                Some(DisconnectReason::ClientNamespaceDisconnect)
            }
            // Events for a namespace the client has not joined are dropped, as Socket.IO does.
            Body::Event { ack, event } if default_ns && self.socket.is_some() => {
                self.dispatch(ack, event).await;
                None
            }
            _ => None,
        }
    }

    /// Authenticates a CONNECT to `/` and, on success, makes this the user's one connected socket.
    async fn connect(&mut self, auth: Option<&RawValue>) {
        // A missing or malformed auth object is just missing credentials.
        let credentials: ConnectAuth = auth
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default();
        let state = &self.state;
        // KakaoTalk's background login: a client that says it runs in the background is refused
        // at the levels configured for it, and told not to retry.
        if auth
            .and_then(|raw| serde_json::from_str::<ClientState>(raw.get()).ok())
            .is_some_and(|c| c.client_state.eq_ignore_ascii_case("background"))
            && let Some(refusal) = state.overload.refuse_background()
        {
            let message = refusal.message();
            self.conn.send(Frame::from(socketio::encode_connect_error(
                DEFAULT_NAMESPACE,
                &message,
            )));
            return;
        }
        let user = match state
            .auth
            .authenticate(
                state.store.as_ref(),
                &credentials.token,
                &credentials.session_id,
            )
            .await
        {
            Ok(user) => user,
            Err(e) => {
                if let AuthError::Store(cause) = &e {
                    tracing::error!(error = %cause, "store failed during socket authentication");
                }
                let refusal = socketio::encode_connect_error(DEFAULT_NAMESPACE, &e.to_string());
                self.conn.send(Frame::from(refusal));
                return;
            }
        };
        // The original stalled the new socket 10 s here; the old one is ended at once instead.
        let why = SessionEnd::DuplicateLogin {
            device_info: self.peer.user_agent.clone(),
            ip_address: self.peer.ip.clone(),
        };
        if let Some(previous) = state.gateway.bind_user(&user.id, &self.conn) {
            kick(&previous, &why).await;
        }
        state.gateway.claim_user(&user.id, &self.conn, &why).await;
        let sid = random_sid();
        self.conn.send(Frame::from(socketio::encode_connect_ok(
            DEFAULT_NAMESPACE,
            &sid,
        )));
        self.socket = Some(SocketState {
            sid,
            user,
            room: None,
        });
        self.pending = None;
    }

    /// Runs one event through its handler, then answers its ack, if it asked for one.
    ///
    /// Acks: the original's handlers take none, so the server answers an ack id with
    /// `[{"success":true}]` after the handler finished, or `[{"success":false,"message":…}]` after
    /// it failed (the failure's error event is sent as well).
    async fn dispatch(&mut self, ack: Option<u64>, event: socketio::Event<'_>) {
        let Some(socket) = self.socket.as_mut() else {
            return;
        };
        let result = match RequestKind::of_event(&event.name) {
            None => Err(EventError::unknown(&event.name)),
            // Boxed like the handler: an idle connection's task must not carry the admission
            // future's state.
            Some(kind) => match Box::pin(self.state.overload.enter(kind)).await {
                Err(refusal) => Err(EventError::overloaded(&refusal)),
                Ok(in_flight) => {
                    let result =
                        Box::pin(events::handle(&self.state, &self.conn, socket, &event)).await;
                    drop(in_flight);
                    result
                }
            },
        };
        if let Err(e) = &result {
            e.emit(&self.conn);
        }
        if let Some(id) = ack {
            let body = match &result {
                Ok(()) => serde_json::json!([{ "success": true }]),
                Err(e) => serde_json::json!([{ "success": false, "message": e.message() }]),
            };
            if let Ok(frame) = socketio::encode_ack(DEFAULT_NAMESPACE, id, &body) {
                self.conn.send(Frame::from(frame));
            }
        }
    }

    fn invalid_packet(&self, message: impl Into<String>) {
        EventError::invalid_packet(message).emit(&self.conn);
    }

    /// Says goodbye if the server chose to end the session, leaves the room with a notice, and
    /// unregisters.
    async fn finish(mut self, link: Link, reason: DisconnectReason) {
        let bye = (reason.is_server_decision() && self.socket.is_some())
            .then(|| Frame::from(socketio::encode_disconnect(DEFAULT_NAMESPACE)));
        match link {
            Link::WebSocket {
                mut ws,
                mut outbound,
            } => {
                if reason.is_server_decision() {
                    let rx = outbound.rx();
                    let goodbye = async {
                        while let Ok(frame) = rx.try_recv() {
                            ws.feed(Message::Text(frame)).await?;
                        }
                        if let Some(bye) = bye {
                            ws.feed(Message::Text(bye)).await?;
                        }
                        ws.flush().await?;
                        ws.close().await
                    };
                    let _ = tokio::time::timeout(FLUSH_ON_CLOSE, goodbye).await;
                }
            }
            Link::Polling { .. } => {
                if let Some(bye) = bye {
                    self.conn.send(bye);
                }
                if reason.is_server_decision() {
                    // Give the client's next GET a moment to collect what is queued.
                    let drained = async {
                        while !self.conn.queue_is_empty() {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    let _ = tokio::time::timeout(FLUSH_ON_CLOSE, drained).await;
                }
            }
        }
        if let Some(socket) = self.socket.as_mut()
            && let Some(room) = socket.room.take()
        {
            if reason == DisconnectReason::ClientNamespaceDisconnect {
                // A client that deliberately leaves the namespace keeps its room membership and gets
                // no "disconnected" notice, as in the original.
                self.state.gateway.leave_room(&room, &self.conn);
            } else {
                let departure = events::depart(
                    &self.state,
                    &self.conn,
                    socket,
                    &room,
                    events::Departure::Disconnected,
                );
                if let Err(e) = Box::pin(departure).await {
                    tracing::warn!(error = %e, room, "could not record a disconnect");
                }
            }
        }
        let user = self.socket.as_ref().map(|s| s.user.id.as_str());
        self.state.gateway.unregister(&self.conn, user, None);
        if let Some(user) = user {
            self.state.gateway.release_user(user, &self.conn).await;
        }
        self.conn.close(reason);
        self.conn.mark_finished();
        tracing::debug!(sid = %self.conn.sid(), reason = reason.as_str(), "session ended");
    }
}

/// Writes `first` and whatever else is queued (up to a batch), then flushes; returns the packets and
/// bytes written. A write that takes longer than `timeout` means the peer stopped reading: it is a
/// slow consumer.
async fn write_batch(
    ws: &mut WebSocket,
    rx: &mut OutboundRx,
    first: Frame,
    timeout: Duration,
) -> Result<(u64, u64), DisconnectReason> {
    let write = async {
        let mut bytes = first.len() as u64;
        ws.feed(Message::Text(first)).await?;
        let mut packets = 1;
        for _ in 0..WRITE_BATCH {
            match rx.try_recv() {
                Ok(frame) => {
                    bytes += frame.len() as u64;
                    packets += 1;
                    ws.feed(Message::Text(frame)).await?;
                }
                Err(_) => break,
            }
        }
        ws.flush().await.map(|()| (packets, bytes))
    };
    match tokio::time::timeout(timeout, write).await {
        Ok(Ok(written)) => Ok(written),
        Ok(Err(_)) => Err(DisconnectReason::TransportError),
        Err(_) => Err(DisconnectReason::SlowConsumer),
    }
}

/// The optional `clientState` of a CONNECT's auth object (`"background"` or `"foreground"`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientState {
    client_state: String,
}

/// A random id in Socket.IO's style: 20 URL-safe characters.
pub(crate) fn random_sid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes: [u8; 20] = rand::random();
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 63)] as char)
        .collect()
}
