//! The Socket.IO server: Engine.IO sessions over websocket and long polling, the Socket.IO namespace
//! handshake, the chat events, rooms and fan-out. Built on the `protocol` crate's framing rather than a
//! Socket.IO library so that per-connection memory, encode-once broadcast, backpressure and the overload
//! hooks are ours to decide (ARCHITECTURE-server.md has the measurements).
//!
//! # Layout
//! - [`bounds`]: limits on amplification (bytes queued, AI reply size, receipt ids).
//! - [`bus`]: room events across instances over Redis pub/sub, in order, exactly once.
//! - [`conn`]: the shared handle of one session — bounded outbound queue, close signal.
//! - [`engine`]: the HTTP side of `/socket.io/`: handshakes, polling GET/POST, websocket upgrades and
//!   the upgrade probe.
//! - [`session`](mod@session): the one task per connection — heartbeat, decoding, CONNECT
//!   authentication, dispatch, and cleanup on disconnect.
//! - [`events`]: the chat events (`joinRoom`, `chatMessage`, …) and the AI reply stream.
//! - [`push`]: recoverable pushes, delivered as overload control decides (thinned in hot rooms,
//!   owed pushes flushed when due).
//!
//! [`Gateway`] (here) is the registry those parts share: live sessions by sid, the one connected
//! session per user, room membership, running AI streams. Locks on it are held only for map updates,
//! never across an `.await`.

pub mod bounds;
pub mod bus;
pub mod conn;
pub mod engine;
pub mod events;
pub mod push;
pub mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use protocol::events::{ActiveStream, name};
use protocol::socketio;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, SessionEnd};
use crate::limit::{PeerSlot, PeerSlots};
use crate::overload::Overload;
use crate::store::{Appended, ChatStore, Id, MessageRecord, NewMessage, StoreError};
use bus::Bus;
pub use conn::{Conn, DisconnectReason, Frame};

/// What the socket doors (`/socket.io/` and every task they start) are handed: the registry and
/// the services below the gateway. The server builds it from its whole state, so the gateway never
/// names the layer that wires it.
#[derive(Clone)]
pub struct GatewayState {
    /// Connections, rooms and fan-out.
    pub gateway: Arc<Gateway>,
    /// Chat state.
    pub store: Arc<dyn ChatStore>,
    /// Tokens: socket CONNECT is authenticated like REST.
    pub auth: Arc<Auth>,
    /// Overload control: admission, levels, hot rooms.
    pub overload: Arc<Overload>,
}

/// How long a new login or CONNECT waits for the replaced socket to finish its cleanup.
const KICK_WAIT: Duration = Duration::from_secs(2);

/// Settings the gateway reads on every connection.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Time between pings.
    pub ping_interval: Duration,
    /// Time to wait for a pong.
    pub ping_timeout: Duration,
    /// Time a session may stay without its Socket.IO CONNECT.
    pub connect_timeout: Duration,
    /// Sessions one peer address may hold open without their Socket.IO CONNECT; `None`: no cap.
    pub unauthenticated_per_peer: Option<NonZeroUsize>,
    /// Largest packet / message accepted.
    pub max_payload: usize,
    /// Outbound queue capacity per connection, in frames.
    pub outbound_queue: usize,
    /// Pause between AI reply chunks.
    pub ai_chunk_delay: Duration,
    /// Limits on amplification.
    pub bounds: bounds::Bounds,
}

/// Sizes of the gateway's maps (see [`Gateway::map_sizes`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GatewayMaps {
    /// Live sessions.
    pub sessions: usize,
    /// Users with a connected session.
    pub users: usize,
    /// Rooms with a member here.
    pub rooms: usize,
    /// Room memberships.
    pub members: usize,
    /// Bytes waiting in every session's outbound queue.
    pub queued_bytes: usize,
    /// Rooms with an AI stream running.
    pub streams: usize,
    /// Peer addresses holding sessions without a Socket.IO CONNECT.
    pub unauthenticated_peers: usize,
}

#[derive(Default)]
struct Registry {
    /// Every live session, by Engine.IO sid.
    conns: HashMap<Arc<str>, Arc<Conn>>,
    /// The Socket.IO-connected session of each user; a newer CONNECT or login replaces (and kicks) it.
    users: HashMap<Id, Arc<Conn>>,
    /// Room id → members by sid. A session is in at most one room (the original's rule).
    rooms: HashMap<Id, HashMap<Arc<str>, Arc<Conn>>>,
}

/// Registry of connections, rooms and AI streams; the one fan-out point.
pub struct Gateway {
    settings: GatewaySettings,
    permits: Arc<Semaphore>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    registry: RwLock<Registry>,
    streams: Mutex<HashMap<Id, Vec<ActiveStream>>>,
    /// Sessions without their Socket.IO CONNECT, per peer address.
    unauthenticated: Arc<PeerSlots>,
    /// Cross-instance fan-out, when the store is shared (Redis); without it delivery is local.
    bus: OnceLock<Arc<Bus>>,
    /// Overload control, which thins tagged events from the bus (recoverable pushes in hot rooms).
    overload: OnceLock<Arc<Overload>>,
}

impl Gateway {
    /// A gateway allowing `max_connections` sessions at once.
    pub fn new(settings: GatewaySettings, max_connections: usize) -> Self {
        Gateway {
            settings,
            permits: Arc::new(Semaphore::new(max_connections)),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            registry: RwLock::default(),
            streams: Mutex::default(),
            unauthenticated: Arc::default(),
            bus: OnceLock::new(),
            overload: OnceLock::new(),
        }
    }

    /// Thins tagged events from the bus with `overload` from now on (set once, at start).
    pub fn attach_overload(&self, overload: Arc<Overload>) {
        let _ = self.overload.set(overload);
    }

    /// Delivers a room event from the bus: tagged ones (recoverable pushes) thinned by overload
    /// control, the others to every local member.
    pub(crate) fn deliver_from_bus(
        &self,
        room: &str,
        frame: &Frame,
        except: Option<&str>,
        tag: Option<&str>,
    ) {
        match (tag, self.overload.get()) {
            (Some(tag), Some(overload)) => self.deliver_tagged(overload, room, frame, except, tag),
            _ => self.deliver_local(room, frame, except),
        }
    }

    /// Routes every room event through `bus` from now on (set once, at start).
    pub fn attach_bus(&self, bus: Arc<Bus>) {
        let _ = self.bus.set(bus);
    }

    /// The cross-instance fan-out, if any.
    pub fn bus(&self) -> Option<&Arc<Bus>> {
        self.bus.get()
    }

    /// The settings connections run with.
    pub fn settings(&self) -> &GatewaySettings {
        &self.settings
    }

    /// Sessions open now.
    pub fn connection_count(&self) -> usize {
        self.read().conns.len()
    }

    /// Entries of every per-session, per-user and per-room map, for leak checks: all of them
    /// return to zero once every session has ended and every stream has finished.
    pub fn map_sizes(&self) -> GatewayMaps {
        let registry = self.read();
        GatewayMaps {
            sessions: registry.conns.len(),
            users: registry.users.len(),
            rooms: registry.rooms.len(),
            members: registry.rooms.values().map(HashMap::len).sum(),
            queued_bytes: registry.conns.values().map(|c| c.queued_bytes()).sum(),
            streams: self
                .streams
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
            unauthenticated_peers: self.unauthenticated.addresses(),
        }
    }

    /// A place for one more session of `addr` without its Socket.IO CONNECT (held until the
    /// CONNECT succeeds or the session ends), or `None` when the address holds its cap already.
    pub fn admit_unauthenticated(&self, addr: IpAddr) -> Option<PeerSlot> {
        self.unauthenticated
            .take(addr, self.settings.unauthenticated_per_peer)
    }

    /// Sessions currently members of `room`.
    pub fn room_size(&self, room: &str) -> usize {
        self.read().rooms.get(room).map_or(0, HashMap::len)
    }

    /// The sessions in `room` now (for fan-out that picks recipients: hot-room thinning).
    pub fn members(&self, room: &str) -> Vec<Arc<Conn>> {
        self.read()
            .rooms
            .get(room)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        self.registry.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Registry> {
        self.registry
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The tracker of every task the gateway spawns (sessions, AI streams), awaited on shutdown.
    pub(crate) fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Cancelled when the server begins shutting down.
    pub(crate) fn shutdown_token(&self) -> &CancellationToken {
        &self.shutdown
    }

    pub(crate) fn permits(&self) -> &Arc<Semaphore> {
        &self.permits
    }

    pub(crate) fn register(&self, conn: Arc<Conn>) {
        self.write()
            .conns
            .insert(Arc::clone(conn.sid()), Arc::clone(&conn));
        // A session that registers after shutdown began missed the close sweep: close it here, or
        // shutdown would wait for it until the deadline.
        if self.shutdown.is_cancelled() {
            conn.close(DisconnectReason::ServerShuttingDown);
        }
    }

    pub(crate) fn lookup(&self, sid: &str) -> Option<Arc<Conn>> {
        self.read().conns.get(sid).cloned()
    }

    /// Removes a finished session from every index.
    pub(crate) fn unregister(&self, conn: &Arc<Conn>, user: Option<&str>, room: Option<&str>) {
        let mut reg = self.write();
        reg.conns.remove(conn.sid().as_ref());
        if let Some(user) = user
            && reg.users.get(user).is_some_and(|c| Arc::ptr_eq(c, conn))
        {
            reg.users.remove(user);
        }
        if let Some(room) = room {
            Self::remove_member(&mut reg, room, conn.sid());
        }
    }

    /// Makes `conn` the user's connected session and returns the one it replaced, if any.
    pub(crate) fn bind_user(&self, user: &str, conn: &Arc<Conn>) -> Option<Arc<Conn>> {
        self.write()
            .users
            .insert(user.to_owned(), Arc::clone(conn))
            .filter(|prev| !Arc::ptr_eq(prev, conn))
    }

    pub(crate) fn join_room(&self, room: &str, conn: &Arc<Conn>) {
        self.write()
            .rooms
            .entry(room.to_owned())
            .or_default()
            .insert(Arc::clone(conn.sid()), Arc::clone(conn));
    }

    pub(crate) fn leave_room(&self, room: &str, conn: &Arc<Conn>) {
        Self::remove_member(&mut self.write(), room, conn.sid());
    }

    fn remove_member(reg: &mut Registry, room: &str, sid: &Arc<str>) {
        if let Some(members) = reg.rooms.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                reg.rooms.remove(room);
            }
        }
    }

    /// **The** fan-out: delivers one encoded frame to every session in `room` except `except`, on
    /// every instance.
    ///
    /// Every room-wide event goes through here. Alone, it delivers locally; with a [`Bus`] it logs and
    /// publishes the event, and every instance (this one included) delivers it from its
    /// subscription, in the room's order. The frame is shared, not copied, per recipient. Fails only
    /// with a bus, when Redis cannot take the event.
    pub async fn broadcast(
        &self,
        room: &str,
        frame: &Frame,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        match self.bus.get() {
            Some(bus) => bus.publish(room, frame, except).await,
            None => {
                self.deliver_local(room, frame, except);
                Ok(())
            }
        }
    }

    /// Delivers to this instance's members of `room` (the bus calls this for every event it
    /// receives, in order).
    pub(crate) fn deliver_local(&self, room: &str, frame: &Frame, except: Option<&str>) {
        let reg = self.read();
        let Some(members) = reg.rooms.get(room) else {
            return;
        };
        for (sid, conn) in members {
            if except != Some(sid.as_ref()) {
                // A full queue closes that one connection; the others still get the frame.
                conn.send(frame.clone());
            }
        }
    }

    /// Encodes `event` once and broadcasts it to `room`.
    pub async fn emit_to_room<T: Serialize + ?Sized>(
        &self,
        room: &str,
        event: &str,
        payload: &T,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        match encode(event, Some(payload)) {
            Some(frame) => self.broadcast(room, &frame, except).await,
            None => {
                tracing::error!(event, "could not encode broadcast");
                Ok(())
            }
        }
    }

    /// Refuses (`StoreError::Underreplicated`) a write to `room` that its broadcast would refuse
    /// under `--redis-durability strict`, before the caller writes anything; see
    /// [`Bus::check_durability`]. Always admits without a bus.
    pub async fn check_durability(&self, room: &str) -> Result<(), StoreError> {
        match self.bus.get() {
            Some(bus) => bus.check_durability(room).await,
            None => Ok(()),
        }
    }

    /// Stores a chat message and broadcasts its `message` event. With a bus both happen in one step
    /// on the room's shard, so the room's event order is its history order. `render` turns the
    /// stored record into the event's payload. A replay (the sender's `client_id` was used already)
    /// broadcasts nothing: the first message went out when it was stored.
    pub async fn post_message(
        &self,
        store: &dyn ChatStore,
        message: NewMessage,
        render: impl Fn(&MessageRecord) -> protocol::events::Message,
        except: Option<&str>,
    ) -> Result<Appended, StoreError> {
        let Some(bus) = self.bus.get() else {
            let appended = store.append_message(message).await?;
            if !appended.replay {
                let record = &appended.message;
                self.emit_to_room(&record.room, name::MESSAGE, &render(record), except)
                    .await?;
            }
            return Ok(appended);
        };
        bus.post_message(
            message,
            |stub| {
                // The store decides the timestamp; the frame is split where it goes. The marker is
                // random, so no message text can contain it.
                let marker = format!("@ts-{}@", crate::store::hex(&rand::random::<[u8; 16]>()));
                let mut dto = render(stub);
                dto.timestamp = protocol::time::Timestamp::new(marker.clone());
                let frame = encode(name::MESSAGE, Some(&dto))?;
                let (prefix, suffix) = frame.as_str().split_once(&marker)?;
                Some((prefix.to_owned(), suffix.to_owned()))
            },
            except,
        )
        .await
    }

    /// Adds `conn` to `room`; with a bus, first makes sure this instance receives the room's events.
    pub async fn enter_room(&self, room: &str, conn: &Arc<Conn>) -> Result<(), StoreError> {
        match self.bus.get() {
            Some(bus) => bus.subscribe(room, || self.join_room(room, conn)).await,
            None => {
                self.join_room(room, conn);
                Ok(())
            }
        }
    }

    /// Ends the local socket `sid` on behalf of another instance.
    pub(crate) fn kick_sid(&self, sid: &str, why: SessionEnd) {
        if let Some(conn) = self.lookup(sid) {
            self.tracker.spawn(async move { kick(&conn, &why).await });
        }
    }

    /// Records `conn` as the user's connected socket across instances and ends the user's sockets
    /// on other instances.
    pub(crate) async fn claim_user(&self, user: &str, conn: &Arc<Conn>, why: &SessionEnd) {
        if let Some(bus) = self.bus.get() {
            bus.claim_user(user, conn.sid(), why).await;
        }
    }

    /// Forgets `conn` as a connected socket of `user` across instances.
    pub(crate) async fn release_user(&self, user: &str, conn: &Arc<Conn>) {
        if let Some(bus) = self.bus.get() {
            bus.release_user(user, conn.sid()).await;
        }
    }

    /// Ends the user's socket, if one is connected: it gets `duplicate_login` (for a new login) and
    /// `session_ended`, then a Socket.IO disconnect. Waits (briefly) until it has left its room, so
    /// the caller's next step cannot race the old socket's cleanup.
    pub async fn end_user_session(&self, user: &str, why: SessionEnd) {
        let local = self.read().users.get(user).cloned();
        if let Some(conn) = local {
            kick(&conn, &why).await;
        }
        if let Some(bus) = self.bus.get() {
            bus.end_remote(user, None, &why).await;
        }
    }

    /// The AI streams running in `room`, for `joinRoomSuccess`: this instance's, and with a bus
    /// those running on other instances too.
    pub async fn active_streams(&self, room: &str) -> Vec<ActiveStream> {
        let mut list = self
            .streams
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room)
            .cloned()
            .unwrap_or_default();
        if let Some(bus) = self.bus.get() {
            for remote in bus.streams(room).await {
                if !list.iter().any(|s| s.id == remote.id) {
                    list.push(remote);
                }
            }
        }
        list
    }

    /// Records the text so far of a stream running on this instance.
    pub(crate) async fn update_stream(&self, room: &str, stream: &ActiveStream) {
        {
            let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            let list = streams.entry(room.to_owned()).or_default();
            match list.iter_mut().find(|s| s.id == stream.id) {
                Some(slot) => slot.clone_from(stream),
                None => list.push(stream.clone()),
            }
        }
        if let Some(bus) = self.bus.get() {
            bus.stream_running(room, stream).await;
        }
    }

    /// Forgets a stream of this instance that has ended.
    pub(crate) async fn end_stream(&self, room: &str, id: &str) {
        {
            let mut streams = self.streams.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(list) = streams.get_mut(room) {
                list.retain(|s| s.id != id);
                if list.is_empty() {
                    streams.remove(room);
                }
            }
        }
        if let Some(bus) = self.bus.get() {
            bus.stream_ended(room, id).await;
        }
    }

    /// Starts shutting down: stops AI streams and closes every session with a Socket.IO disconnect.
    /// Returns at once; await [`Gateway::wait_idle`] for the sessions to finish.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        let conns: Vec<Arc<Conn>> = self.read().conns.values().cloned().collect();
        for conn in conns {
            conn.close(DisconnectReason::ServerShuttingDown);
        }
    }

    /// Resolves when every session and AI stream task has finished (after [`begin_shutdown`](Self::begin_shutdown)).
    pub async fn wait_idle(&self) {
        self.tracker.wait().await;
    }
}

/// The bus hands this instance's share of every room event, and other instances' session ends, to
/// the registry.
impl bus::Local for Gateway {
    fn deliver(&self, room: &str, frame: &Frame, except: Option<&str>, tag: Option<&str>) {
        self.deliver_from_bus(room, frame, except, tag);
    }

    fn end_socket(&self, sid: &str, why: SessionEnd) {
        self.kick_sid(sid, why);
    }

    fn has_members(&self, room: &str) -> bool {
        self.room_size(room) > 0
    }

    fn resync(&self, room: &str, missed: u64) -> u64 {
        let payload = protocol::events::Resync {
            room_id: room.to_owned(),
            reason: protocol::events::RESYNC_EVENTS_SKIPPED.into(),
            missed,
        };
        let Some(frame) = encode(name::RESYNC, Some(&payload)) else {
            return 0;
        };
        // Every member, thinning or not: it is rare, and without it the member never learns
        // that its view of the room has a hole. The normal bounded queue, like any room event.
        self.members(room)
            .iter()
            .filter(|conn| conn.send(frame.clone()))
            .count() as u64
    }
}

/// Sends the end-of-session events to `conn`, closes it and waits for its cleanup.
pub(crate) async fn kick(conn: &Arc<Conn>, why: &SessionEnd) {
    if let SessionEnd::DuplicateLogin {
        device_info,
        ip_address,
    } = why
    {
        let payload = protocol::events::DuplicateLogin {
            kind: "new_login_attempt".into(),
            device_info: device_info.clone(),
            ip_address: ip_address.clone(),
            timestamp: crate::store::UnixMillis::now().to_wire(),
        };
        send_event(conn, name::DUPLICATE_LOGIN, &payload);
    }
    let ended = match why {
        SessionEnd::DuplicateLogin { .. } => protocol::events::SessionEnded {
            reason: "duplicate_login".into(),
            message: "You logged in on another device, so this session has ended.".into(),
        },
        SessionEnd::Logout => protocol::events::SessionEnded {
            reason: "logout".into(),
            message: "You logged out.".into(),
        },
    };
    send_event(conn, name::SESSION_ENDED, &ended);
    conn.close(DisconnectReason::ServerNamespaceDisconnect);
    if tokio::time::timeout(KICK_WAIT, conn.finished())
        .await
        .is_err()
    {
        tracing::warn!(sid = %conn.sid(), "replaced socket did not finish its cleanup in time");
    }
}

/// Encodes a server → client event frame for the default namespace.
pub fn encode<T: Serialize + ?Sized>(event: &str, payload: Option<&T>) -> Option<Frame> {
    socketio::encode_event(socketio::DEFAULT_NAMESPACE, None, event, payload)
        .ok()
        .map(Frame::from)
}

/// Encodes and queues one event for one connection.
pub fn send_event<T: Serialize + ?Sized>(conn: &Conn, event: &str, payload: &T) -> bool {
    match encode(event, Some(payload)) {
        Some(frame) => conn.send(frame),
        None => {
            tracing::error!(event, "could not encode event");
            false
        }
    }
}

/// Queues an event without a payload (`42["name"]`) for one connection.
pub fn send_bare(conn: &Conn, event: &str) -> bool {
    match encode::<()>(event, None) {
        Some(frame) => conn.send(frame),
        None => false,
    }
}
