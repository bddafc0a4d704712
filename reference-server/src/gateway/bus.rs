//! [`Bus`]: cross-instance fan-out over Redis pub/sub: any number of server instances on one Redis (standalone
//! or Cluster) share rooms, and every member of a room receives every room event exactly once, in the
//! room's order, whichever instance it is connected to. Also carries "end this socket" notices
//! between instances (a login on A ends the user's socket on B).
//!
//! How (ARCHITECTURE-server.md, "Fan-out across instances", has the reasoning):
//! 1. **Log, then publish.** A room event gets the room's next sequence number and is appended to the
//!    room's capped log by one script on the room's slot; a chat message is stored by the *same*
//!    script, so event order is history order. Then `WAIT` (when replicas are required), then the
//!    event is published (`SPUBLISH` on a cluster: the channel lives on the room's shard) and the
//!    room's `committed` mark advances.
//! 2. **Deliver by sequence.** Each instance subscribes to the rooms it has members in and keeps, per
//!    room, the next sequence it expects. An event below it is a duplicate and dropped; the next one is
//!    delivered; one beyond it waits briefly for the missing ones, which are then read from the log.
//!    After a reconnect or failover the subscription comes back (the client resubscribes) and the room
//!    catches up from the log to `committed`. Local members get events only this way, never directly,
//!    so an instance's own events are not delivered twice.
//! 3. **Tell what is lost.** Events no longer in the log when they are read back (trimmed: this
//!    instance was away for more than the log's cap of the room's events) are skipped, and every
//!    local member of the room gets a `resync` event saying how many it missed, between the events
//!    before the gap and those after it, so its client refetches the history.
//!
//! Without a bus (the memory store) the gateway delivers locally and none of this runs.
//!
//! The bus delivers to this instance through [`Local`], which the gateway implements: it holds no
//! gateway type. What the events look like in Redis (keys, scripts, the envelope) is the store's
//! ([`store::redis::log`](crate::store::redis::log), [`presence`](crate::store::redis::presence)).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use protocol::events::ActiveStream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use crate::auth::SessionEnd;
use crate::frame::Frame;
use crate::store::redis::{Durability, PushInfo, Shortfall};
use crate::store::{
    Appended, Envelope, FrameTemplate, Id, Incoming, LoggedEvent, MessageRecord, NewMessage,
    RedisStore, StoreError, UnixMillis, hex, new_object_id,
};

/// How long an event beyond a gap waits for the missing ones before they are read from the log.
/// Publishers of one room race only by their `WAIT`s, which take well under this.
const GAP_WAIT: Duration = Duration::from_millis(100);
/// How often gaps, catch-ups and idle subscriptions are looked at.
const TICK: Duration = Duration::from_millis(50);
/// A room without local members keeps its subscription this long (a rejoin costs no resubscribe).
const IDLE_UNSUBSCRIBE: Duration = Duration::from_secs(10);
/// How long ending a socket on another instance may take before its presence entry is dropped as
/// stale (its instance is gone).
const KICK_WAIT: Duration = Duration::from_secs(2);

/// One room event on its way to local members.
struct Event {
    seq: u64,
    except: Option<String>,
    /// What the publisher attached for the receiving instances (see [`Local::deliver`]).
    tag: Option<String>,
    frame: Frame,
}

impl From<Envelope> for Event {
    fn from(env: Envelope) -> Self {
        Event {
            seq: env.seq,
            except: env.except,
            tag: env.tag,
            frame: Frame::from(env.frame),
        }
    }
}

/// This instance's side of the bus: where it hands what it receives. The gateway implements it, so
/// the bus needs no gateway type (and is held by the gateway, not the other way round).
pub trait Local: Send + Sync {
    /// Delivers a room event, in the room's order, to this instance's members of `room` except
    /// `except`; `tag` is what the publisher attached (a push to thin), if anything.
    fn deliver(&self, room: &str, frame: &Frame, except: Option<&str>, tag: Option<&str>);
    /// Ends the local socket `sid` on behalf of another instance.
    fn end_socket(&self, sid: &str, why: SessionEnd);
    /// True while this instance has members in `room`.
    fn has_members(&self, room: &str) -> bool;
    /// Tells this instance's members of `room` that `missed` of its events were skipped (gone from
    /// the log), so they refetch; returns how many members it was queued for.
    fn resync(&self, room: &str, missed: u64) -> u64;
}

/// What the bus has skipped since this instance started (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skips {
    /// Room events no longer in the log when this instance read them back.
    pub events: u64,
    /// `resync` events queued for local members because of them.
    pub resyncs: u64,
}

/// Subscription state of one room on this instance.
struct RoomSub {
    /// Sequence of the next event to deliver; 0 until the subscription is confirmed and the start
    /// point read (events meanwhile wait in `pending`).
    next: u64,
    /// Events that arrived ahead of `next`.
    pending: BTreeMap<u64, Event>,
    /// Since when `pending` holds an event beyond a gap.
    gap_since: Option<Instant>,
    /// The subscription came back after a reconnect: catch up from the log.
    stale: bool,
    /// The connection to the room's shard was lost: subscribe again (after a failover the channel
    /// lives on another node, which the client only learns when asked), then catch up.
    resubscribe: bool,
    /// When the room last had a local member.
    last_used: Instant,
}

/// A notice to another instance.
#[derive(Debug, Serialize, Deserialize)]
struct Kick {
    sid: String,
    reason: String,
    #[serde(default)]
    device_info: String,
    #[serde(default)]
    ip_address: String,
}

/// Wait before the first re-publish of an event whose publish failed; each later one waits twice
/// as long (100 ms, 200 ms, … — five tries span 3.1 s, about three Redis timeouts).
const PUBLISH_RETRY_FIRST: Duration = Duration::from_millis(100);

/// The fan-out of one instance.
pub struct Bus {
    store: Arc<RedisStore>,
    instance: String,
    rooms: Mutex<HashMap<Id, RoomSub>>,
    /// Serializes subscribe and unsubscribe, so a room is never being both.
    sub_lock: tokio::sync::Mutex<()>,
    /// Held from taking events out of a room's queue until they are handed to the gateway, by the
    /// two tasks that do so (live events, and events read back from the log): without it, events
    /// one task took out could reach members after later ones the other took out next. Taken
    /// before `rooms`, never while holding it.
    delivering: Mutex<()>,
    local: Weak<dyn Local>,
    /// [`Skips::events`].
    skipped_events: AtomicU64,
    /// [`Skips::resyncs`].
    resyncs_sent: AtomicU64,
}

impl Bus {
    /// Starts the fan-out for `local` (this instance's gateway) on `store`'s connection, whose
    /// pushes arrive on `pushes`. Runs until `stop` fires.
    pub async fn start(
        store: Arc<RedisStore>,
        pushes: UnboundedReceiver<PushInfo>,
        local: Weak<dyn Local>,
        stop: CancellationToken,
    ) -> Result<Arc<Bus>, StoreError> {
        let bus = Arc::new(Bus {
            store,
            instance: hex(&rand::random::<[u8; 8]>()),
            rooms: Mutex::default(),
            sub_lock: tokio::sync::Mutex::new(()),
            delivering: Mutex::default(),
            local,
            skipped_events: AtomicU64::new(0),
            resyncs_sent: AtomicU64::new(0),
        });
        bus.store.subscribe_instance(&bus.instance).await?;
        tokio::spawn(Arc::clone(&bus).dispatch(pushes, stop.clone()));
        tokio::spawn(Arc::clone(&bus).repair(stop));
        Ok(bus)
    }

    /// Rooms this instance is subscribed to (one per room with a local member), for leak checks.
    pub fn room_count(&self) -> usize {
        self.rooms().len()
    }

    /// Room events skipped and `resync` events sent so far.
    pub fn skips(&self) -> Skips {
        Skips {
            events: self.skipped_events.load(Ordering::Relaxed),
            resyncs: self.resyncs_sent.load(Ordering::Relaxed),
        }
    }

    /// This instance's id (in presence entries).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, HashMap<Id, RoomSub>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The turn to take events out of a room and deliver them (see `delivering`).
    fn delivering(&self) -> std::sync::MutexGuard<'_, ()> {
        self.delivering
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes sure this instance receives `room`'s events, then runs `join` (which adds the local
    /// member) before any other subscribe or unsubscribe can interleave. Every event logged after this
    /// returns reaches the member.
    pub async fn subscribe(&self, room: &str, join: impl FnOnce()) -> Result<(), StoreError> {
        let _guard = self.sub_lock.lock().await;
        let ready = self.rooms().get(room).is_some_and(|s| s.next > 0);
        if !ready {
            self.rooms().entry(room.to_owned()).or_insert(RoomSub {
                next: 0,
                pending: BTreeMap::new(),
                gap_since: None,
                stale: false,
                resubscribe: false,
                last_used: Instant::now(),
            });
            let started = async {
                self.store.subscribe_room(room).await?;
                // Read after the subscription is confirmed: every later event is received, every
                // earlier one belongs before this member's time in the room.
                self.store.room_seq(room).await
            }
            .await;
            let seq = match started {
                Ok(seq) => seq,
                Err(e) => {
                    self.rooms().remove(room);
                    let _ = self.store.unsubscribe_room(room).await;
                    return Err(e);
                }
            };
            let _turn = self.delivering();
            let out = {
                let mut rooms = self.rooms();
                let sub = rooms
                    .get_mut(room)
                    .expect("inserted above, under the sub lock");
                sub.next = seq + 1;
                sub.pending.retain(|&s, _| s > seq);
                drain(sub)
            };
            self.deliver(room, out);
        }
        if let Some(sub) = self.rooms().get_mut(room) {
            sub.last_used = Instant::now();
        }
        join();
        Ok(())
    }

    /// Logs and publishes a room event that stores nothing else (participants, receipts, reactions,
    /// AI stream events).
    pub async fn publish(
        &self,
        room: &str,
        frame: &Frame,
        except: Option<&str>,
    ) -> Result<(), StoreError> {
        self.publish_tagged(room, frame, except, None).await
    }

    /// [`publish`](Self::publish) with a tag that each receiving instance's [`Local::deliver`]
    /// gets with the frame.
    pub async fn publish_tagged(
        &self,
        room: &str,
        frame: &Frame,
        except: Option<&str>,
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        let want = self.store.check_durability(room).await?;
        let Some(event) = self
            .store
            .log_event(room, except, tag, frame.as_str())
            .await?
        else {
            // A room that does not exist has no members to tell.
            return Ok(());
        };
        self.commit(room, &event, want).await
    }

    /// Stores a message and its `message` event in one step, then publishes the event. `render`
    /// builds the event from the record (its timestamp is filled in by the store). A replay logs
    /// and publishes nothing.
    pub async fn post_message(
        &self,
        message: NewMessage,
        render: impl FnOnce(&MessageRecord) -> Option<(String, String)>,
        except: Option<&str>,
    ) -> Result<Appended, StoreError> {
        let id = new_object_id();
        let stub = MessageRecord {
            id: id.clone(),
            room: message.room.clone(),
            kind: message.kind,
            content: message.content.clone(),
            sender: message.sender.clone(),
            file: message.file.clone(),
            ai_type: message.ai_type.clone(),
            mentions: message.mentions.clone(),
            timestamp: UnixMillis(0),
            readers: Vec::new(),
            reactions: Default::default(),
        };
        let template = render(&stub).map(|(prefix, suffix)| FrameTemplate {
            prefix,
            suffix,
            except: except.map(str::to_owned),
        });
        let room = message.room.clone();
        let want = self.store.check_durability(&room).await?;
        let (appended, event) = self
            .store
            .append_with_event(id, message, template.as_ref())
            .await?;
        if let Some(event) = event {
            self.commit(&room, &event, want).await?;
        }
        Ok(appended)
    }

    /// Refuses under `--redis-durability strict`, before anything is written, a write to `room`
    /// whose shard is short of replicas: for callers that store something of the room before they
    /// publish its event (a join adds the participant, then announces it), since the publish would
    /// refuse only after the write.
    pub async fn check_durability(&self, room: &str) -> Result<(), StoreError> {
        self.store.check_durability(room).await.map(|_| ())
    }

    /// Redis shards with fewer connected replicas than `--redis-replica-acks` (empty: none, or
    /// the policy asks for none), and the policy in force.
    pub fn shortfalls(&self) -> (Durability, Vec<Shortfall>) {
        (self.store.durability(), self.store.shortfalls())
    }

    /// `WAIT`s for `want` replicas (what [`RedisStore::check_durability`] allowed before the
    /// write), then publishes. An event that fails here is in the log already; subscribers may
    /// still pick it up from there, but its sender is told it failed.
    async fn commit(&self, room: &str, event: &LoggedEvent, want: u32) -> Result<(), StoreError> {
        self.store.wait_replicas(room, want).await?;
        let published = self.store.publish(room, event).await;
        if published.is_err() {
            // The event is logged and on its replicas: publishing it later is safe, and saves the
            // other members from waiting for the room's next event to notice the gap. The sender is
            // still told it failed (a retry with its clientMessageId gets the stored message).
            let retries = self.store.options().publish_retries;
            let (store, room, event) = (Arc::clone(&self.store), room.to_owned(), event.clone());
            tokio::spawn(async move {
                let mut delay = PUBLISH_RETRY_FIRST;
                for _ in 0..retries {
                    tokio::time::sleep(delay).await;
                    if store.publish(&room, &event).await.is_ok() {
                        return;
                    }
                    delay *= 2;
                }
                tracing::warn!(room, seq = event.seq, "gave up publishing a logged event");
            });
        }
        published
    }

    /// Registers `sid` as a connected socket of `user` on this instance and ends every other socket
    /// of the user elsewhere (one connected socket per user, across instances).
    pub async fn claim_user(&self, user: &str, sid: &str, why: &SessionEnd) {
        if let Err(e) = self.store.add_socket(user, sid, &self.instance).await {
            tracing::warn!(error = %e, "could not record a socket's presence");
            return;
        }
        self.end_remote(user, Some(sid), why).await;
    }

    /// Records `stream` as running in `room` (text so far included) for every instance's
    /// `joinRoomSuccess`.
    pub async fn stream_running(&self, room: &str, stream: &ActiveStream) {
        let Ok(json) = serde_json::to_string(stream) else {
            return;
        };
        if let Err(e) = self.store.record_stream(room, &stream.id, &json).await {
            tracing::warn!(error = %e, "could not record a running AI stream");
        }
    }

    /// Forgets the stream `id` of `room` (it has ended).
    pub async fn stream_ended(&self, room: &str, id: &str) {
        if let Err(e) = self.store.remove_stream(room, id).await {
            tracing::warn!(error = %e, "could not clear an ended AI stream");
        }
    }

    /// The AI streams running in `room` on any instance (none when Redis does not answer).
    pub async fn streams(&self, room: &str) -> Vec<ActiveStream> {
        let all = match self.store.stream_entries(room).await {
            Ok(all) => all,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the running AI streams");
                return Vec::new();
            }
        };
        let mut streams: Vec<ActiveStream> = all
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect();
        streams.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.id.cmp(&b.id)));
        streams
    }

    /// Forgets `sid` (its socket has finished).
    pub async fn release_user(&self, user: &str, sid: &str) {
        if let Err(e) = self.store.remove_sockets(user, &[sid]).await {
            tracing::warn!(error = %e, "could not clear a socket's presence");
        }
    }

    /// Ends `user`'s sockets on other instances (all but `keep`) and waits, briefly, until they
    /// have finished their cleanup.
    pub async fn end_remote(&self, user: &str, keep: Option<&str>, why: &SessionEnd) {
        let sockets: HashMap<String, String> = match self.store.sockets(user).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "could not read a user's sockets");
                return;
            }
        };
        let remote: Vec<(String, String)> = sockets
            .into_iter()
            .filter(|(sid, inst)| Some(sid.as_str()) != keep && *inst != self.instance)
            .collect();
        if remote.is_empty() {
            return;
        }
        let (reason, device_info, ip_address) = match why {
            SessionEnd::DuplicateLogin {
                device_info,
                ip_address,
            } => ("duplicate_login", device_info.clone(), ip_address.clone()),
            SessionEnd::Logout => ("logout", String::new(), String::new()),
        };
        for (sid, inst) in &remote {
            let kick = Kick {
                sid: sid.clone(),
                reason: reason.into(),
                device_info: device_info.clone(),
                ip_address: ip_address.clone(),
            };
            let Ok(body) = serde_json::to_string(&kick) else {
                continue;
            };
            if let Err(e) = self.store.notify_instance(inst, &body).await {
                tracing::warn!(error = %e, "could not send a session end to another instance");
            }
        }
        let deadline = Instant::now() + KICK_WAIT;
        let sids: Vec<&str> = remote.iter().map(|(sid, _)| sid.as_str()).collect();
        while Instant::now() < deadline {
            let left = match self.store.sockets_left(user, &sids).await {
                Ok(left) => left,
                Err(_) => return,
            };
            if !left.contains(&true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nobody answered: those sockets' instance is gone. Their entries would stall every later
        // login of this user.
        tracing::warn!(
            user,
            "sockets on another instance did not end in time; dropping them"
        );
        let _ = self.store.remove_sockets(user, &sids).await;
    }

    /// Reads pushes: room events, control notices, and resubscription confirmations.
    async fn dispatch(
        self: Arc<Self>,
        mut pushes: UnboundedReceiver<PushInfo>,
        stop: CancellationToken,
    ) {
        loop {
            let push = tokio::select! {
                () = stop.cancelled() => return,
                push = pushes.recv() => match push {
                    Some(push) => push,
                    None => return,
                },
            };
            match self.store.incoming(push) {
                Some(Incoming::Event { room, payload }) => match Envelope::parse(&payload) {
                    Some(env) => self.on_event(&room, env.into()),
                    None => tracing::warn!(room, "malformed room event dropped"),
                },
                Some(Incoming::Control { instance, payload }) if instance == self.instance => {
                    self.on_kick(&payload);
                }
                Some(Incoming::Subscribed { room }) => {
                    // Also sent when the client resubscribes after a reconnect or failover: events
                    // published meanwhile were missed, so the room catches up from its log.
                    if let Some(sub) = self.rooms().get_mut(&room)
                        && sub.next > 0
                    {
                        sub.stale = true;
                    }
                }
                Some(Incoming::Disconnected) => {
                    tracing::warn!("redis connection lost; subscriptions will catch up on return");
                    for sub in self.rooms().values_mut() {
                        if sub.next > 0 {
                            sub.resubscribe = true;
                        }
                    }
                }
                Some(Incoming::Control { .. }) | None => {}
            }
        }
    }

    fn on_event(&self, room: &str, env: Event) {
        let _turn = self.delivering();
        let out = {
            let mut rooms = self.rooms();
            let Some(sub) = rooms.get_mut(room) else {
                return;
            };
            if sub.next == 0 {
                // Still subscribing: kept until the start point is known.
                sub.pending.insert(env.seq, env);
                return;
            }
            if env.seq < sub.next {
                return; // already delivered (read from the log first)
            }
            sub.pending.insert(env.seq, env);
            let out = drain(sub);
            if !sub.pending.is_empty() && sub.gap_since.is_none() {
                sub.gap_since = Some(Instant::now());
            }
            out
        };
        self.deliver(room, out);
    }

    fn deliver(&self, room: &str, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let Some(local) = self.local.upgrade() else {
            return;
        };
        for env in events {
            local.deliver(room, &env.frame, env.except.as_deref(), env.tag.as_deref());
        }
    }

    fn on_kick(&self, payload: &str) {
        let Ok(kick) = serde_json::from_str::<Kick>(payload) else {
            tracing::warn!("malformed session notice dropped");
            return;
        };
        let Some(local) = self.local.upgrade() else {
            return;
        };
        let why = if kick.reason == "logout" {
            SessionEnd::Logout
        } else {
            SessionEnd::DuplicateLogin {
                device_info: kick.device_info,
                ip_address: kick.ip_address,
            }
        };
        local.end_socket(&kick.sid, why);
    }

    /// Every tick: fills gaps that did not close by themselves, catches up rooms whose subscription
    /// came back, and drops subscriptions of rooms without local members.
    async fn repair(self: Arc<Self>, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sweep = Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let again: Vec<Id> = self
                .rooms()
                .iter()
                .filter(|(_, s)| s.resubscribe && s.next > 0)
                .map(|(room, _)| room.clone())
                .collect();
            for room in again {
                let ok = self.store.subscribe_room(&room).await.is_ok();
                if let Some(sub) = self.rooms().get_mut(&room)
                    && ok
                {
                    sub.resubscribe = false;
                    sub.stale = true;
                }
            }
            let work: Vec<(Id, u64, Option<u64>)> = {
                let mut rooms = self.rooms();
                rooms
                    .iter_mut()
                    .filter(|(_, s)| s.next > 0)
                    .filter_map(|(room, s)| {
                        if s.stale {
                            s.stale = false;
                            return Some((room.clone(), s.next, None));
                        }
                        let gap = s.gap_since.is_some_and(|t| t.elapsed() >= GAP_WAIT);
                        let first = s.pending.keys().next().copied()?;
                        gap.then(|| (room.clone(), s.next, Some(first - 1)))
                    })
                    .collect()
            };
            let fetched =
                futures_util::future::join_all(work.into_iter().map(|(room, from, to)| {
                    let bus = Arc::clone(&self);
                    async move {
                        let result = bus.store.fetch_events(&room, from, to).await;
                        (room, to, result)
                    }
                }))
                .await;
            for (room, to, result) in fetched {
                match result {
                    Ok((committed, envs)) => self.merge(&room, to.unwrap_or(committed), envs),
                    Err(e) => {
                        tracing::warn!(error = %e, room, "could not catch up a room; retrying");
                        if let Some(sub) = self.rooms().get_mut(&room) {
                            sub.resubscribe = true;
                        }
                    }
                }
            }
            if last_sweep.elapsed() >= IDLE_UNSUBSCRIBE / 2 {
                last_sweep = Instant::now();
                self.sweep().await;
                // A shard marked degraded is counted again even if no room event goes there.
                self.store.recount_shortfalls().await;
            }
        }
    }

    /// Adds events read from the log and delivers what is now in order. Whatever is still missing up
    /// to `upto` is gone from the log (trimmed, or an entry that did not parse): it is skipped, and
    /// the local members are told so with a `resync` event, after the events before the gap and
    /// before those after it.
    fn merge(&self, room: &str, upto: u64, envs: Vec<Envelope>) {
        let _turn = self.delivering();
        let (before, missed, after) = {
            let mut rooms = self.rooms();
            let Some(sub) = rooms.get_mut(room) else {
                return;
            };
            for env in envs {
                if env.seq >= sub.next {
                    sub.pending.entry(env.seq).or_insert_with(|| env.into());
                }
            }
            let before = drain(sub);
            let (missed, after) = skip_to(sub, upto);
            if missed > 0 {
                tracing::warn!(
                    room,
                    missed,
                    to = upto,
                    "room events no longer in the log were skipped"
                );
            }
            sub.gap_since = (!sub.pending.is_empty()).then(Instant::now);
            (before, missed, after)
        };
        self.deliver(room, before);
        if missed > 0 {
            self.skipped_events.fetch_add(missed, Ordering::Relaxed);
            if let Some(local) = self.local.upgrade() {
                let told = local.resync(room, missed);
                self.resyncs_sent.fetch_add(told, Ordering::Relaxed);
            }
        }
        self.deliver(room, after);
    }

    /// Unsubscribes rooms that have had no local member for a while.
    async fn sweep(&self) {
        let Some(local) = self.local.upgrade() else {
            return;
        };
        let _guard = self.sub_lock.lock().await;
        let idle: Vec<Id> = {
            let mut rooms = self.rooms();
            let now = Instant::now();
            let mut idle = Vec::new();
            for (room, sub) in rooms.iter_mut() {
                if local.has_members(room) {
                    sub.last_used = now;
                } else if now.duration_since(sub.last_used) >= IDLE_UNSUBSCRIBE {
                    idle.push(room.clone());
                }
            }
            for room in &idle {
                rooms.remove(room);
            }
            idle
        };
        for room in &idle {
            if let Err(e) = self.store.unsubscribe_room(room).await {
                tracing::debug!(error = %e, "unsubscribe failed");
            }
        }
    }
}

/// Moves `sub` past everything up to `upto`: returns how many of those events are missing (never to
/// come: gone from the log) and, in order, the ones it holds from there on — those within the range
/// (the log still had them, or they arrived live) and the ones that follow without a gap.
fn skip_to(sub: &mut RoomSub, upto: u64) -> (u64, Vec<Event>) {
    if sub.next > upto {
        return (0, Vec::new());
    }
    let later = sub.pending.split_off(&(upto + 1));
    let within = std::mem::replace(&mut sub.pending, later);
    // `pending` holds nothing below `next`, so `within` is a subset of next..=upto.
    let missed = (upto + 1 - sub.next).saturating_sub(within.len() as u64);
    sub.next = upto + 1;
    let mut out: Vec<Event> = within.into_values().collect();
    out.extend(drain(sub));
    (missed, out)
}

/// Takes the events that are next in order out of `pending`.
fn drain(sub: &mut RoomSub) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(env) = sub.pending.remove(&sub.next) {
        sub.next += 1;
        out.push(env);
    }
    if sub.pending.is_empty() {
        sub.gap_since = None;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(seq: u64) -> Event {
        Event {
            seq,
            except: None,
            tag: None,
            frame: Frame::from(seq.to_string()),
        }
    }

    fn room_sub(next: u64) -> RoomSub {
        RoomSub {
            next,
            pending: BTreeMap::new(),
            gap_since: None,
            stale: false,
            resubscribe: false,
            last_used: Instant::now(),
        }
    }

    #[test]
    fn events_come_out_in_order_once() {
        let mut sub = room_sub(5);
        sub.pending.insert(7, env(7));
        assert!(drain(&mut sub).is_empty());
        sub.pending.insert(5, env(5));
        let out: Vec<u64> = drain(&mut sub).iter().map(|e| e.seq).collect();
        assert_eq!(out, [5]);
        sub.pending.insert(6, env(6));
        let out: Vec<u64> = drain(&mut sub).iter().map(|e| e.seq).collect();
        assert_eq!(out, [6, 7]);
        assert_eq!(sub.next, 8);
        assert!(sub.gap_since.is_none());
    }

    /// A log trimmed below what it still holds: the trimmed events are counted as missed, and the
    /// ones the log (or a live push) still had are delivered, not dropped with them.
    #[test]
    fn skipping_a_trimmed_prefix_keeps_what_the_log_still_had() {
        let mut sub = room_sub(1);
        for seq in (31..=50).chain([52]) {
            sub.pending.insert(seq, env(seq));
        }
        assert!(drain(&mut sub).is_empty());
        let (missed, out) = skip_to(&mut sub, 50);
        assert_eq!(missed, 30);
        let seqs: Vec<u64> = out.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (31..=50).collect::<Vec<_>>());
        assert_eq!(sub.next, 51);
        assert_eq!(sub.pending.keys().copied().collect::<Vec<_>>(), [52]);
        // Holes inside the range count too; nothing is skipped when nothing is missing.
        let mut sub = room_sub(2);
        sub.pending.insert(3, env(3));
        sub.pending.insert(5, env(5));
        let (missed, out) = skip_to(&mut sub, 6);
        assert_eq!((missed, out.len(), sub.next), (3, 2, 7));
        let (missed, out) = skip_to(&mut sub, 6);
        assert_eq!((missed, out.len(), sub.next), (0, 0, 7));
    }
}
