//! Overload control: the server degrades on purpose instead of falling over. Every unit of work is
//! classified ([`RequestKind`]: REST routes by the API's `track` layer, socket events in the
//! gateway's dispatch, AI streams while they run) and admitted by [`Overload::enter`], the one
//! admission point.
//!
//! The layers, each in its own module and each testable without a server:
//! - [`config`]: the live [`OverloadConfig`] (TOML, validated, revisioned).
//! - [`levels`]: utilization → load level 0–3 with hysteresis (KakaoTalk).
//! - [`bulkhead`]: a concurrency cap per kind; overflow fails fast (KakaoTalk).
//! - [`hot`]: token bucket per room → hot rooms; probabilistic thinning of recoverable pushes with a
//!   guaranteed minimum and convergence (LINE OpenChat).
//! - [`coord`]: agreement between instances on hot rooms and config (local, or Redis).
//! - [`kind`]: the kinds of work, refusal reasons and refusals every layer above speaks of.
//! - [`watch`]: the watched config file; [`metrics`]: the Prometheus text (served by the REST API,
//!   with `/admin/overload`).
//! - `tasks`: what runs beside the server ([`start`]): the level sampler and the listener for other
//!   instances' notices.
//!
//! This file holds [`Overload`], which ties them together: admission (shed by level, then the
//! bulkhead), the degradations of the current level, hot-room decisions (which push to thin, what
//! is owed and due) and config changes; `tasks` runs the rest beside the server. Reads on the hot
//! path are lock-free (`arc-swap` for the config, atomics for the level).
//!
//! It decides and never sends: it imports no gateway type and encodes no frame. The gateway asks
//! ([`Overload::thins`], [`Overload::thin`], [`Overload::owed_due`]) and carries the answer out.

pub mod bulkhead;
pub mod config;
pub mod coord;
pub mod hot;
pub mod kind;
pub mod levels;
pub mod metrics;
mod tasks;
pub mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::time::Instant;

use crate::store::UnixMillis;
use crate::store::redis::RedisTarget;
pub use bulkhead::{Bulkhead, Refusal};
pub use config::{ConfigError, OverloadConfig, Trigger};
pub use coord::{Coordination, LocalCoordination, Notice, RedisCoordination};
pub use hot::{Audience, Push, PushClass};
pub use hot::{Decision, Owed, OwedBatch};
use hot::{HotSet, RoomBuckets, Thinner};
pub use kind::{Reason, Rejection, RequestKind};
use levels::LevelTracker;
pub use tasks::start;

/// How the server is told about overload control at startup; part of
/// [`ServerConfig`](crate::ServerConfig).
#[derive(Debug, Clone, Default)]
pub struct OverloadSettings {
    /// The config to start with (from the file, when one is given).
    pub config: OverloadConfig,
    /// `--overload off`: control stays off whatever a file or the admin endpoint says later.
    pub pinned_off: bool,
    /// A TOML file watched for changes.
    pub file: Option<PathBuf>,
    /// Bearer token of `/admin/overload`; `None` turns the endpoint off.
    pub admin_token: Option<String>,
    /// The Redis (standalone or Cluster) for hot marks and config propagation between instances;
    /// `None`: this instance only.
    pub redis: Option<RedisTarget>,
}

/// Where the running config came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Flags and the file as read at startup.
    Startup,
    /// The watched file changed.
    File,
    /// `PUT`/`PATCH /admin/overload`.
    Admin,
    /// Another instance (through [`Coordination`]).
    Peer,
}

impl Source {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Startup => "startup",
            Source::File => "file",
            Source::Admin => "admin",
            Source::Peer => "peer",
        }
    }
}

/// The config in force, with its revision.
#[derive(Debug, Clone)]
pub struct Live {
    /// Revision: 0 at startup, then the revision each change got (global when coordinated).
    pub revision: u64,
    /// The config.
    pub config: OverloadConfig,
    /// Where it came from.
    pub source: Source,
    /// When it was applied here.
    pub applied_at: UnixMillis,
}

/// Counters exported by `/metrics`.
#[derive(Debug, Default)]
struct Stats {
    rejected: [[AtomicU64; 5]; 7],
    thinned: [AtomicU64; 4],
    pushed: [AtomicU64; 4],
    owed_sent: [AtomicU64; 4],
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    packets_written: AtomicU64,
    bytes_written: AtomicU64,
    hot_marks: AtomicU64,
    config_changes: AtomicU64,
    config_refused: AtomicU64,
}

#[derive(Debug, Default)]
struct HotState {
    buckets: RoomBuckets,
    rooms: HotSet,
}

/// Overload control of one server instance.
pub struct Overload {
    in_flight: [AtomicU64; 7],
    started: [AtomicU64; 7],
    live: ArcSwap<Live>,
    pinned_off: bool,
    bulkheads: [Arc<Bulkhead>; 7],
    level: AtomicU8,
    utilization: AtomicU64,
    lag_micros: AtomicU64,
    busy_ratio: AtomicU64,
    tracker: Mutex<LevelTracker>,
    hot: Mutex<HotState>,
    thinner: Mutex<Thinner>,
    coord: RwLock<Arc<dyn Coordination>>,
    /// Serializes config changes (reads never wait for it).
    changes: tokio::sync::Mutex<()>,
    file_error: Mutex<Option<String>>,
    stats: Stats,
}

impl std::fmt::Debug for Overload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overload")
            .field("revision", &self.live.load().revision)
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl Default for Overload {
    fn default() -> Self {
        Overload::new(&OverloadSettings::default())
    }
}

/// Marks one unit of work in flight (and holds its bulkhead slot) until dropped.
#[derive(Debug)]
pub struct InFlight {
    overload: Arc<Overload>,
    kind: RequestKind,
    _permit: Option<bulkhead::Permit>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.overload.in_flight[self.kind.index()].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why a config change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The document is invalid; the running config is unchanged.
    #[error("{0}")]
    Invalid(#[from] ConfigError),
    /// `--overload off` pins control off.
    #[error(
        "overload control was switched off with --overload off; restart without it to enable it"
    )]
    PinnedOff,
    /// Other instances could not be told; the running config is unchanged.
    #[error("{0}")]
    Coordination(#[from] coord::CoordError),
}

impl Overload {
    /// Overload control starting from `settings` (single-instance coordination until
    /// [`set_coordination`](Self::set_coordination)).
    pub fn new(settings: &OverloadSettings) -> Self {
        let mut config = settings.config.clone();
        if settings.pinned_off {
            config.enabled = false;
        }
        let bulkheads = RequestKind::ALL.map(|k| Bulkhead::new(config.bulkheads.of(k).limit));
        Overload {
            in_flight: Default::default(),
            started: Default::default(),
            live: ArcSwap::from_pointee(Live {
                revision: 0,
                config,
                source: Source::Startup,
                applied_at: UnixMillis::now(),
            }),
            pinned_off: settings.pinned_off,
            bulkheads,
            level: AtomicU8::new(0),
            utilization: AtomicU64::new(0f64.to_bits()),
            lag_micros: AtomicU64::new(0),
            busy_ratio: AtomicU64::new(0f64.to_bits()),
            tracker: Mutex::new(LevelTracker::new()),
            hot: Mutex::default(),
            thinner: Mutex::new(Thinner::default()),
            coord: RwLock::new(Arc::new(LocalCoordination::default())),
            changes: tokio::sync::Mutex::new(()),
            file_error: Mutex::new(None),
            stats: Stats::default(),
        }
    }

    /// Uses `coord` to agree with other instances from now on.
    pub fn set_coordination(&self, coord: Arc<dyn Coordination>) {
        *self.coord.write().unwrap_or_else(PoisonError::into_inner) = coord;
    }

    /// The coordination in use.
    pub fn coordination(&self) -> Arc<dyn Coordination> {
        Arc::clone(&self.coord.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The config in force.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// True when overload control acts (not switched off by config or `--overload off`).
    pub fn enabled(&self) -> bool {
        self.live.load().config.enabled
    }

    // ---------------------------------------------------------------- admission

    /// Admits one unit of work of `kind`, or refuses it: shed at the current level, or its bulkhead
    /// (and bulkhead queue) full. May wait in the bulkhead's bounded queue. With control off it
    /// only counts.
    pub async fn enter(self: &Arc<Self>, kind: RequestKind) -> Result<InFlight, Rejection> {
        let live = self.live.load_full();
        let permit = if live.config.enabled {
            let level = self.level();
            if live.config.actions.shed.of(kind).active(level) {
                return Err(self.reject(kind, Reason::Shed, &live.config));
            }
            let b = live.config.bulkheads.of(kind);
            match self.bulkheads[kind.index()]
                .acquire(b.queue, b.max_wait)
                .await
            {
                Ok(permit) => Some(permit),
                Err(Refusal::Full) => {
                    return Err(self.reject(kind, Reason::BulkheadFull, &live.config));
                }
                Err(Refusal::TimedOut) => {
                    return Err(self.reject(kind, Reason::QueueTimeout, &live.config));
                }
            }
        } else {
            None
        };
        self.in_flight[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.started[kind.index()].fetch_add(1, Ordering::Relaxed);
        Ok(InFlight {
            overload: Arc::clone(self),
            kind,
            _permit: permit,
        })
    }

    /// Counts a refusal and describes it.
    fn reject(&self, kind: RequestKind, reason: Reason, config: &OverloadConfig) -> Rejection {
        self.stats.rejected[kind.index()][reason as usize].fetch_add(1, Ordering::Relaxed);
        let level = self.level();
        let retry_after =
            (!config.actions.no_retry_at.active(level)).then_some(config.actions.retry_after);
        Rejection {
            kind,
            reason,
            level,
            retry_after,
        }
    }

    /// A refusal when background logins are refused at the current level.
    pub fn refuse_background(&self) -> Option<Rejection> {
        let live = self.live.load();
        let refuse = live.config.enabled
            && live
                .config
                .actions
                .refuse_background_logins_at
                .active(self.level());
        // A background client is told not to retry whatever the level: it has nobody waiting.
        refuse.then(|| {
            let mut r = self.reject(RequestKind::Auth, Reason::Background, &live.config);
            r.retry_after = None;
            r
        })
    }

    /// A refusal for a request that ran past its timeout.
    pub fn timed_out(&self, kind: RequestKind) -> Rejection {
        self.reject(kind, Reason::Timeout, &self.live.load().config)
    }

    /// Server-side budget of a REST request at the current level; `None` with control off.
    pub fn request_timeout(&self) -> Option<Duration> {
        let live = self.live.load();
        let a = &live.config.actions;
        live.config.enabled.then(|| {
            if a.short_timeouts_at.active(self.level()) {
                a.short_request_timeout
            } else {
                a.request_timeout
            }
        })
    }

    /// Pause between AI chunks at the current level, given the configured one.
    pub fn ai_chunk_delay(&self, normal: Duration) -> Duration {
        let live = self.live.load();
        let a = &live.config.actions;
        if live.config.enabled && a.short_timeouts_at.active(self.level()) {
            normal.min(a.short_ai_chunk_delay)
        } else {
            normal
        }
    }

    /// True when clients should not retry failed requests.
    pub fn no_retry(&self) -> bool {
        let live = self.live.load();
        live.config.enabled && live.config.actions.no_retry_at.active(self.level())
    }

    // ---------------------------------------------------------------- level

    /// The load level now (0–3).
    pub fn level(&self) -> u8 {
        self.level.load(Ordering::Relaxed)
    }

    /// Entries of the per-room maps, for leak checks: `(rooms with a token bucket, rooms marked
    /// hot, rooms with thinning state)`. Buckets stay per room that was active (pruned once full
    /// at 4,096); marks and thinning state end with the room's heat.
    pub fn map_sizes(&self) -> (usize, usize, usize) {
        let hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
        let thinned = self
            .thinner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .room_count();
        (hot.buckets.len(), hot.rooms.len(), thinned)
    }

    /// The last utilization sample.
    pub fn utilization(&self) -> f64 {
        f64::from_bits(self.utilization.load(Ordering::Relaxed))
    }

    /// The last scheduler lag sample.
    pub fn scheduler_lag(&self) -> Duration {
        Duration::from_micros(self.lag_micros.load(Ordering::Relaxed))
    }

    /// Share of the last sample interval the runtime's worker threads spent busy (0–1): KakaoTalk's
    /// load signal, the busy-worker ratio. Shown in `/health` and `/metrics`; the level does not use
    /// it (yet).
    pub fn busy_ratio(&self) -> f64 {
        f64::from_bits(self.busy_ratio.load(Ordering::Relaxed))
    }

    /// Records the busy-worker ratio of the last sample interval.
    pub fn observe_busy_ratio(&self, ratio: f64) {
        self.busy_ratio.store(ratio.to_bits(), Ordering::Relaxed);
    }

    /// Feeds one sample: `lag` measured at `now`. Recomputes utilization and level.
    pub fn sample(&self, lag: Duration, now: Instant) -> u8 {
        let live = self.live.load();
        let config = &live.config;
        let in_flight: u64 = self
            .in_flight
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum();
        let capacity: u64 = RequestKind::ALL
            .iter()
            .map(|&k| config.bulkheads.of(k).limit as u64)
            .sum();
        let u = levels::utilization(in_flight, capacity, lag, config.levels.lag_at_full);
        let level = self
            .tracker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .observe(u, now, &config.levels);
        let previous = self.level.swap(level, Ordering::Relaxed);
        if previous != level {
            tracing::info!(
                from = previous,
                to = level,
                utilization = u,
                lag_ms = lag.as_millis() as u64,
                "load level changed"
            );
        }
        self.utilization.store(u.to_bits(), Ordering::Relaxed);
        self.lag_micros
            .store(lag.as_micros() as u64, Ordering::Relaxed);
        self.hot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rooms
            .expire(now);
        level
    }

    // ---------------------------------------------------------------- hot rooms

    /// Counts one message or history load in `room`. A room whose bucket runs dry is marked hot
    /// here and, through [`Coordination`], on every instance.
    pub fn room_activity(self: &Arc<Self>, room: &str) {
        let live = self.live.load();
        if !live.config.enabled {
            return;
        }
        let hot = &live.config.hot;
        let now = Instant::now();
        let mark = {
            let mut state = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
            if state.buckets.take(room, now, hot) {
                false
            } else {
                // Re-marked when half the mark has passed, so a room that stays busy stays hot
                // without a Redis write per message.
                let fresh = state
                    .rooms
                    .until(room)
                    .is_some_and(|until| until > now + hot.hot_for / 2);
                if !fresh {
                    state.rooms.mark(room, now + hot.hot_for);
                }
                !fresh
            }
        };
        if mark {
            self.stats.hot_marks.fetch_add(1, Ordering::Relaxed);
            tracing::info!(room, for_s = hot.hot_for.as_secs(), "room is hot");
            let coord = self.coordination();
            let (room, ttl) = (room.to_owned(), hot.hot_for);
            // Never on the message path: the mark is already in force here.
            tokio::spawn(async move {
                if let Err(e) = coord.mark_hot(&room, ttl).await {
                    tracing::warn!(error = %e, room, "could not share a hot mark");
                }
            });
        }
    }

    /// True while `room` is hot (as this instance knows).
    pub fn is_hot(&self, room: &str) -> bool {
        self.hot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rooms
            .is_hot(room, Instant::now())
    }

    /// Rooms hot now.
    pub fn hot_rooms(&self) -> usize {
        self.hot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rooms
            .count(Instant::now())
    }

    fn mark_hot_locally(&self, room: &str, ttl: Duration) {
        self.hot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .rooms
            .mark(room, Instant::now() + ttl);
    }

    /// Whether a recoverable push of `class` to `room` is thinned now: control on, the class thinned
    /// by the running config, and the room hot. When not, every member gets it.
    pub fn thins(&self, room: &str, class: PushClass) -> bool {
        let live = self.live.load();
        live.config.enabled && class.thinned_by(&live.config.hot) && self.is_hot(room)
    }

    /// Which of `members` (this instance's, in order) get `push` now; the others are owed it
    /// `hot.converge_within` after their first miss. Counts both. Only for a push that
    /// [`thins`](Self::thins).
    pub fn thin(
        &self,
        room: &str,
        class: PushClass,
        push: &Push,
        members: &[Arc<str>],
        audience: Audience<'_>,
    ) -> Decision {
        let live = self.live.load();
        let decision = {
            let mut thinner = self.thinner.lock().unwrap_or_else(PoisonError::into_inner);
            thinner.thin(
                room,
                members,
                audience,
                push,
                Instant::now(),
                &live.config.hot,
            )
        };
        self.stats.pushed[class.index()].fetch_add(decision.now.len() as u64, Ordering::Relaxed);
        self.stats.thinned[class.index()].fetch_add(decision.thinned as u64, Ordering::Relaxed);
        decision
    }

    /// Counts `recipients` deliveries of an unthinned push of `class`.
    pub fn count_pushed(&self, class: PushClass, recipients: u64) {
        self.stats.pushed[class.index()].fetch_add(recipients, Ordering::Relaxed);
    }

    /// What members of hot rooms are owed and is due now, taken off the books: the caller sends it.
    pub fn owed_due(&self) -> Vec<OwedBatch> {
        let live = self.live.load();
        let mut thinner = self.thinner.lock().unwrap_or_else(PoisonError::into_inner);
        thinner.flush(Instant::now(), &live.config.hot)
    }

    /// Counts `sent` owed pushes of `class` delivered.
    pub fn count_owed_sent(&self, class: PushClass, sent: u64) {
        self.stats.owed_sent[class.index()].fetch_add(sent, Ordering::Relaxed);
    }

    /// How often owed pushes are checked for: a quarter of `hot.converge_within` (50 ms to 1 s), so
    /// a push is at most that much later than its deadline.
    pub fn owed_check_every(&self) -> Duration {
        (self.live.load().config.hot.converge_within / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1))
    }

    /// Counts a chat message received and its deliveries on this instance.
    pub fn count_message(&self, recipients: usize) {
        self.stats.messages_in.fetch_add(1, Ordering::Relaxed);
        self.stats
            .messages_out
            .fetch_add(recipients as u64, Ordering::Relaxed);
    }

    /// Counts Engine.IO packets written to clients (websocket frames, or records of a polling
    /// response) and their bytes.
    pub fn count_written(&self, packets: u64, bytes: u64) {
        self.stats
            .packets_written
            .fetch_add(packets, Ordering::Relaxed);
        self.stats.bytes_written.fetch_add(bytes, Ordering::Relaxed);
    }

    // ---------------------------------------------------------------- config changes

    /// Validates and applies a new config from `source`: it gets the next revision (from
    /// [`Coordination`], so other instances apply it too). On error nothing changes.
    pub async fn change(&self, config: OverloadConfig, source: Source) -> Result<u64, ChangeError> {
        config.validate()?;
        if self.pinned_off && config.enabled {
            return Err(ChangeError::PinnedOff);
        }
        let _serial = self.changes.lock().await;
        let revision = self
            .coordination()
            .publish_config(&config.to_toml())
            .await?;
        self.install(revision, config, source);
        Ok(revision)
    }

    /// Applies a config announced by another instance (or our own announcement coming back), when
    /// it is newer than the running one and valid.
    pub async fn apply_notice(&self, revision: u64, toml: &str) {
        let _serial = self.changes.lock().await;
        if revision <= self.live.load().revision {
            return;
        }
        match OverloadConfig::parse(toml) {
            Ok(mut config) => {
                if self.pinned_off {
                    config.enabled = false;
                }
                self.install(revision, config, Source::Peer);
            }
            Err(e) => {
                self.stats.config_refused.fetch_add(1, Ordering::Relaxed);
                tracing::error!(revision, error = %e, "refused a config revision from another instance");
            }
        }
    }

    fn install(&self, revision: u64, config: OverloadConfig, source: Source) {
        for kind in RequestKind::ALL {
            self.bulkheads[kind.index()].resize(config.bulkheads.of(kind).limit);
        }
        self.live.store(Arc::new(Live {
            revision,
            config,
            source,
            applied_at: UnixMillis::now(),
        }));
        self.stats.config_changes.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            revision,
            source = source.as_str(),
            "overload config applied"
        );
    }

    /// Records that the watched file holds a config that was refused (or `None` once it is fine).
    pub(crate) fn set_file_error(&self, error: Option<String>) {
        if error.is_some() {
            self.stats.config_refused.fetch_add(1, Ordering::Relaxed);
        }
        *self
            .file_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = error;
    }

    /// Why the watched file's latest content was refused, if it was.
    pub fn file_error(&self) -> Option<String> {
        self.file_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    // ---------------------------------------------------------------- reporting

    /// Work of `kind` in flight now.
    pub fn in_flight(&self, kind: RequestKind) -> u64 {
        self.in_flight[kind.index()].load(Ordering::Relaxed)
    }

    /// Work of `kind` started so far.
    pub fn started(&self, kind: RequestKind) -> u64 {
        self.started[kind.index()].load(Ordering::Relaxed)
    }

    /// Refusals of `kind` for `reason` so far.
    pub fn rejected(&self, kind: RequestKind, reason: Reason) -> u64 {
        self.stats.rejected[kind.index()][reason as usize].load(Ordering::Relaxed)
    }

    /// The bulkhead of `kind`.
    pub fn bulkhead(&self, kind: RequestKind) -> &Bulkhead {
        &self.bulkheads[kind.index()]
    }

    /// `{kind: {inFlight, started}, level, …}` for `/health`.
    pub fn report(&self) -> serde_json::Value {
        let mut map = RequestKind::ALL
            .iter()
            .map(|&k| {
                (
                    k.as_str().to_owned(),
                    serde_json::json!({
                        "inFlight": self.in_flight(k),
                        "started": self.started(k),
                        "rejected": Reason::ALL.iter().map(|&r| self.rejected(k, r)).sum::<u64>(),
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>();
        let live = self.live.load();
        map.insert("level".into(), self.level().into());
        map.insert("utilization".into(), self.utilization().into());
        map.insert("busyRatio".into(), self.busy_ratio().into());
        map.insert("control".into(), live.config.enabled.into());
        map.insert("hotRooms".into(), self.hot_rooms().into());
        map.insert("configRevision".into(), live.revision.into());
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use protocol::events::name;

    use super::*;

    fn overload(config: OverloadConfig) -> Arc<Overload> {
        Arc::new(Overload::new(&OverloadSettings {
            config,
            ..OverloadSettings::default()
        }))
    }

    fn forced(level: u8) -> OverloadConfig {
        let mut config = OverloadConfig::default();
        config.levels.force = Some(level);
        config
    }

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

    #[tokio::test]
    async fn in_flight_counts_follow_guards() {
        let overload = Arc::new(Overload::default());
        let a = overload.enter(RequestKind::History).await.unwrap();
        let b = overload.enter(RequestKind::History).await.unwrap();
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

    #[tokio::test]
    async fn low_priority_work_is_shed_at_its_level_and_messages_are_not() {
        let o = overload(forced(3));
        o.sample(Duration::ZERO, Instant::now());
        assert_eq!(o.level(), 3);
        let refusal = o.enter(RequestKind::History).await.unwrap_err();
        assert_eq!(refusal.reason, Reason::Shed);
        // Level 3 is at or above no_retry_at (2): the client is told not to retry.
        assert_eq!(refusal.retry_after, None);
        assert!(
            refusal.message().contains("do not retry"),
            "{}",
            refusal.message()
        );
        assert!(o.enter(RequestKind::RoomList).await.is_err());
        assert!(o.enter(RequestKind::MessageSend).await.is_ok());
        assert_eq!(o.rejected(RequestKind::History, Reason::Shed), 1);
    }

    #[tokio::test]
    async fn a_full_bulkhead_refuses_with_a_retry_hint_below_the_no_retry_level() {
        let mut config = OverloadConfig::default();
        config.bulkheads.files.limit = 1;
        config.bulkheads.files.queue = 0;
        let o = overload(config);
        let _held = o.enter(RequestKind::Files).await.unwrap();
        let refusal = o.enter(RequestKind::Files).await.unwrap_err();
        assert_eq!(refusal.reason, Reason::BulkheadFull);
        assert_eq!(refusal.retry_after, Some(Duration::from_secs(2)));
        // Other kinds are untouched.
        assert!(o.enter(RequestKind::Auth).await.is_ok());
    }

    #[tokio::test]
    async fn with_control_off_nothing_is_refused_but_levels_are_still_measured() {
        let mut config = forced(3);
        config.enabled = false;
        config.bulkheads.files.limit = 1;
        let o = overload(config);
        o.sample(Duration::ZERO, Instant::now());
        assert_eq!(o.level(), 3);
        let _a = o.enter(RequestKind::Files).await.unwrap();
        let _b = o.enter(RequestKind::Files).await.unwrap();
        assert!(o.enter(RequestKind::History).await.is_ok());
        assert!(o.refuse_background().is_none());
        assert_eq!(o.request_timeout(), None);
    }

    #[tokio::test]
    async fn degradations_follow_the_level() {
        let o = overload(OverloadConfig::default());
        let normal = Duration::from_millis(50);
        assert!(o.refuse_background().is_none());
        assert_eq!(o.request_timeout(), Some(Duration::from_secs(30)));
        assert_eq!(o.ai_chunk_delay(normal), normal);
        assert!(!o.no_retry());
        for (level, background, short, no_retry) in [
            (1, true, false, false),
            (2, true, true, true),
            (3, true, true, true),
        ] {
            o.change(forced(level), Source::Admin).await.unwrap();
            o.sample(Duration::ZERO, Instant::now());
            assert_eq!(o.refuse_background().is_some(), background, "level {level}");
            assert_eq!(
                o.request_timeout() == Some(Duration::from_secs(10)),
                short,
                "level {level}"
            );
            assert_eq!(o.ai_chunk_delay(normal) < normal, short, "level {level}");
            assert_eq!(o.no_retry(), no_retry, "level {level}");
        }
    }

    #[tokio::test]
    async fn the_level_follows_scheduler_lag() {
        let o = overload(OverloadConfig::default());
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // lag_at_full is 1 s: 200 ms is 0.2 (level 1), 900 ms is 0.9 (level 3); a level begins
        // when the signal has asked for it for rise_after (1 s).
        assert_eq!(o.sample(Duration::from_millis(10), t0), 0);
        assert_eq!(o.sample(Duration::from_millis(200), t0), 0);
        assert_eq!(o.sample(Duration::from_millis(200), t0 + s(1)), 1);
        assert_eq!(o.sample(Duration::from_millis(900), t0 + s(2)), 1);
        assert_eq!(o.sample(Duration::from_millis(900), t0 + s(3)), 3);
        assert!((o.utilization() - 0.9).abs() < 1e-9);
        assert_eq!(o.report()["level"], 3);
    }

    #[tokio::test]
    async fn changes_get_revisions_and_resize_bulkheads_and_bad_ones_change_nothing() {
        let o = overload(OverloadConfig::default());
        assert_eq!(o.live().revision, 0);
        let mut config = OverloadConfig::default();
        config.bulkheads.ai.limit = 3;
        assert_eq!(o.change(config.clone(), Source::Admin).await.unwrap(), 1);
        assert_eq!(o.bulkhead(RequestKind::Ai).limit(), 3);
        assert_eq!(o.live().source, Source::Admin);
        config.hot.push_probability = 2.0;
        let err = o.change(config, Source::Admin).await.unwrap_err();
        assert!(err.to_string().contains("hot.push_probability"), "{err}");
        assert_eq!(o.live().revision, 1);
        assert_eq!(o.live().config.hot.push_probability, 0.1);
        // A notice of an older revision is ignored; a newer one applies.
        o.apply_notice(1, "enabled = false").await;
        assert!(o.live().config.enabled);
        o.apply_notice(5, "enabled = false").await;
        assert!(!o.live().config.enabled);
        assert_eq!(o.live().source, Source::Peer);
    }

    #[tokio::test]
    async fn pinned_off_stays_off() {
        let o = Arc::new(Overload::new(&OverloadSettings {
            pinned_off: true,
            ..OverloadSettings::default()
        }));
        assert!(!o.live().config.enabled);
        let err = o
            .change(OverloadConfig::default(), Source::Admin)
            .await
            .unwrap_err();
        assert!(matches!(err, ChangeError::PinnedOff));
        o.apply_notice(9, "enabled = true").await;
        assert!(!o.live().config.enabled);
    }

    #[tokio::test]
    async fn a_busy_room_becomes_hot_and_a_quiet_one_does_not() {
        let mut config = OverloadConfig::default();
        config.hot.bucket_size = 5;
        config.hot.refill_per_sec = 0.001;
        let o = overload(config);
        for _ in 0..5 {
            o.room_activity("busy");
            o.room_activity("quiet");
        }
        assert!(!o.is_hot("busy"));
        o.room_activity("busy");
        assert!(o.is_hot("busy"));
        assert!(!o.is_hot("quiet"));
        assert_eq!(o.hot_rooms(), 1);
        // Shared through coordination too.
        tokio::task::yield_now().await;
        assert!(o.coordination().is_hot("busy").await.unwrap());
    }
}
