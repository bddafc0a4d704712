//! [`OverloadConfig`]: every threshold of overload control, as one TOML document that can be replaced
//! while the server runs. This module owns the format (serde), the defaults and their reasons, and
//! validation with messages that name the field and what is allowed; it does not own where a config
//! comes from (file, admin endpoint, other instances: [`watch`](super::watch),
//! [`admin`](crate::api::admin), [`coord`](super::coord)) nor how it is applied ([`Overload`](super::Overload)).
//!
//! A config is applied whole or not at all: [`OverloadConfig::parse`] and [`OverloadConfig::validate`]
//! run before anything changes, so a bad document leaves the running revision in place.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::kind::RequestKind;

/// The whole overload configuration. Every field has a default, so a file names only what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverloadConfig {
    /// Master switch. Off: work is counted and the load level is still measured and reported, but
    /// nothing is refused, queued, shed or thinned — the server behaves as if the module were absent.
    pub enabled: bool,
    /// How the load level is computed.
    pub levels: LevelsConfig,
    /// What each level does.
    pub actions: ActionsConfig,
    /// Concurrency caps per kind of work.
    pub bulkheads: BulkheadsConfig,
    /// Hot-room detection and push thinning.
    pub hot: HotConfig,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        OverloadConfig {
            enabled: true,
            levels: LevelsConfig::default(),
            actions: ActionsConfig::default(),
            bulkheads: BulkheadsConfig::default(),
            hot: HotConfig::default(),
        }
    }
}

/// Load level: a utilization signal (0.0 = idle, 1.0 = full) mapped to levels 0–3 with hysteresis.
///
/// Utilization is the larger of two ratios: work in flight against the sum of all bulkhead limits
/// (KakaoTalk's busy-threads ratio, for a server whose "threads" are permits), and the scheduler lag
/// measured by a sampling task against `lag_at_full`. On an async runtime the second is what moves
/// first: CPU saturation shows up as tasks waiting to be polled, not as more requests in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LevelsConfig {
    /// How often the level is recomputed (and the scheduler lag sampled).
    #[serde(with = "duration")]
    pub sample_every: Duration,
    /// Scheduler lag that counts as 100 % utilization.
    #[serde(with = "duration")]
    pub lag_at_full: Duration,
    /// Utilization at which levels 1, 2 and 3 begin; strictly increasing.
    pub enter: [f64; 3],
    /// A level begins only when the signal has asked for it (or more) this long: one late wake-up
    /// is not a surge.
    #[serde(with = "duration")]
    pub rise_after: Duration,
    /// A level ends only when utilization is this far below the threshold that began it...
    pub exit_margin: f64,
    /// ...and has stayed there this long (so a level does not flap at its boundary).
    #[serde(with = "duration")]
    pub cool_down: Duration,
    /// Pins the level (0–3) regardless of the signal: for drills, tests and emergencies.
    pub force: Option<u8>,
}

impl Default for LevelsConfig {
    fn default() -> Self {
        LevelsConfig {
            sample_every: Duration::from_millis(250),
            // A chat message reaches its room within tens of milliseconds when all is well. Level 1
            // (200 ms of lag on every task) is where people start to notice; level 2 at 500 ms;
            // level 3 (900 ms) is where deliveries are past the competition's 1 s budget anyway, so
            // shedding there costs nothing that was not already lost. Measured: shedding at 450 ms
            // failed users on a CPU-starved server whose twin without control still delivered
            // within 1 s at that load.
            lag_at_full: Duration::from_secs(1),
            enter: [0.2, 0.5, 0.9],
            // Measured: a step of 100 sign-ups on a CPU-capped server makes single samples of
            // 500 ms lag followed by 10 ms; a second of persistence tells a burst from a surge.
            rise_after: Duration::from_secs(1),
            exit_margin: 0.15,
            cool_down: Duration::from_secs(5),
            force: None,
        }
    }
}

/// A level at which an action starts, or `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// From this level (1–3) up.
    At(u8),
    /// Never.
    Never,
}

impl Trigger {
    /// True when the action applies at `level`.
    pub fn active(self, level: u8) -> bool {
        match self {
            Trigger::At(at) => level >= at,
            Trigger::Never => false,
        }
    }

    /// The level, with `Never` above every real level (for ordering checks).
    fn rank(self) -> u8 {
        match self {
            Trigger::At(at) => at,
            Trigger::Never => u8::MAX,
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::At(level) => write!(f, "{level}"),
            Trigger::Never => f.write_str("\"never\""),
        }
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Trigger::At(level) => s.serialize_u8(*level),
            Trigger::Never => s.serialize_str("never"),
        }
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Trigger;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a load level 1, 2 or 3, or \"never\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Trigger, E> {
                match u8::try_from(v) {
                    Ok(level @ 1..=3) => Ok(Trigger::At(level)),
                    _ => Err(E::custom(format!(
                        "{v} is not a load level: write 1, 2, 3 or \"never\""
                    ))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Trigger, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Trigger, E> {
                match v {
                    "never" => Ok(Trigger::Never),
                    _ => Err(E::custom(format!(
                        "{v:?} is not a load level: write 1, 2, 3 or \"never\""
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// What the server does on purpose at each level (KakaoTalk's degradations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActionsConfig {
    /// Refuse logins and registrations from clients that say they run in the background
    /// (`x-client-state: background`), with 503 and "do not retry".
    pub refuse_background_logins_at: Trigger,
    /// Tell clients not to retry: every response carries `x-retry: no`, and rejections say
    /// `retry: false` instead of a `Retry-After`.
    pub no_retry_at: Trigger,
    /// Use the short server-side timeouts below.
    pub short_timeouts_at: Trigger,
    /// Most time a REST request may take before it is answered 503 (normal levels).
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// The same at `short_timeouts_at` and above.
    #[serde(with = "duration")]
    pub short_request_timeout: Duration,
    /// Pause between AI reply chunks at `short_timeouts_at` and above (a stream holds its AI permit
    /// for chunks × pause; shortening it frees the permit sooner).
    #[serde(with = "duration")]
    pub short_ai_chunk_delay: Duration,
    /// `Retry-After` of a rejection while retries are allowed.
    #[serde(with = "duration")]
    pub retry_after: Duration,
    /// Level at which each kind of work is refused outright: low-priority work goes first.
    pub shed: ShedConfig,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        ActionsConfig {
            refuse_background_logins_at: Trigger::At(1),
            no_retry_at: Trigger::At(2),
            short_timeouts_at: Trigger::At(2),
            // The competition's harness gave every step 30 s.
            request_timeout: Duration::from_secs(30),
            short_request_timeout: Duration::from_secs(10),
            short_ai_chunk_delay: Duration::from_millis(5),
            retry_after: Duration::from_secs(2),
            shed: ShedConfig::default(),
        }
    }
}

/// Shedding level per kind of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShedConfig {
    /// Register, login, profile.
    pub auth: Trigger,
    /// `GET /api/rooms`.
    pub room_list: Trigger,
    /// Create, get, join, leave rooms.
    pub room_ops: Trigger,
    /// History pages.
    pub history: Trigger,
    /// Messages, reactions, read receipts.
    pub message_send: Trigger,
    /// Files and profile images.
    pub files: Trigger,
    /// AI reply streams.
    pub ai: Trigger,
}

impl Default for ShedConfig {
    fn default() -> Self {
        ShedConfig {
            auth: Trigger::Never,
            // A room list or an older page can be fetched again a moment later; a lost chat cannot.
            room_list: Trigger::At(3),
            room_ops: Trigger::Never,
            history: Trigger::At(3),
            message_send: Trigger::Never,
            files: Trigger::Never,
            ai: Trigger::Never,
        }
    }
}

impl ShedConfig {
    /// The shedding level of `kind`.
    pub fn of(&self, kind: RequestKind) -> Trigger {
        match kind {
            RequestKind::Auth => self.auth,
            RequestKind::RoomList => self.room_list,
            RequestKind::RoomOps => self.room_ops,
            RequestKind::History => self.history,
            RequestKind::MessageSend => self.message_send,
            RequestKind::Files => self.files,
            RequestKind::Ai => self.ai,
        }
    }
}

/// One bulkhead: at most `limit` units of a kind at once, at most `queue` more waiting (each at most
/// `max_wait`); anything beyond fails at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Units running at once.
    pub limit: usize,
    /// Units allowed to wait for a slot; 0 fails overflow immediately.
    pub queue: usize,
    /// Longest wait for a slot before failing.
    #[serde(with = "duration")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        BulkheadConfig::new(64, 64, Duration::from_secs(1))
    }
}

impl BulkheadConfig {
    const fn new(limit: usize, queue: usize, max_wait: Duration) -> Self {
        BulkheadConfig {
            limit,
            queue,
            max_wait,
        }
    }
}

/// A bulkhead per kind of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadsConfig {
    /// Register, login, profile.
    pub auth: BulkheadConfig,
    /// `GET /api/rooms`.
    pub room_list: BulkheadConfig,
    /// Create, get, join, leave rooms.
    pub room_ops: BulkheadConfig,
    /// History pages.
    pub history: BulkheadConfig,
    /// Messages, reactions, read receipts.
    pub message_send: BulkheadConfig,
    /// Files and profile images.
    pub files: BulkheadConfig,
    /// AI reply streams.
    pub ai: BulkheadConfig,
}

impl Default for BulkheadsConfig {
    fn default() -> Self {
        let s = Duration::from_secs;
        BulkheadsConfig {
            // Register and login each run one argon2 hash (15 ms of a core at the default cost) on
            // the blocking pool. Unbounded, a step of 100 sign-ups starts 100 hashing threads that
            // crowd the runtime's workers off the CPU and stall every chat for the length of the
            // burst (KakaoTalk's earthquake). Hashing on at most half the cores leaves the other
            // half to chat, while the queue absorbs a whole step of arrivals (200 hashes on one
            // core drain in 3 s). The wait is the competition's 30 s step budget, the longest its
            // client waits: any shorter and a refusal fails a sign-up that would have succeeded
            // late (measured: 10 s failed 137 of 1,500 users on a CPU-starved server that served
            // them all without the cap; 25 s failed 48 at the 1,000-user step of a ramp at the
            // default hashing cost, where uncapped hashing still served them within 30 s).
            auth: BulkheadConfig::new(half_the_cores(), 1024, s(30)),
            room_list: BulkheadConfig::new(64, 64, s(2)),
            room_ops: BulkheadConfig::new(256, 512, s(5)),
            // Socket events wait in their connection's task, so their queues wait briefly.
            history: BulkheadConfig::new(64, 128, s(2)),
            message_send: BulkheadConfig::new(1024, 1024, s(5)),
            // An upload holds up to its body limit in memory and a file handle while it streams.
            files: BulkheadConfig::new(32, 256, s(10)),
            // A stream holds its permit for the whole reply (chunks × chunk delay).
            ai: BulkheadConfig::new(256, 256, s(10)),
        }
    }
}

/// Half the cores this process may run on, at least one.
fn half_the_cores() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .div_ceil(2)
}

impl BulkheadsConfig {
    /// The bulkhead of `kind`.
    pub fn of(&self, kind: RequestKind) -> &BulkheadConfig {
        match kind {
            RequestKind::Auth => &self.auth,
            RequestKind::RoomList => &self.room_list,
            RequestKind::RoomOps => &self.room_ops,
            RequestKind::History => &self.history,
            RequestKind::MessageSend => &self.message_send,
            RequestKind::Files => &self.files,
            RequestKind::Ai => &self.ai,
        }
    }
}

/// Hot rooms (LINE OpenChat): detection by a token bucket per room, then probabilistic thinning of
/// the pushes a client can recover from a later push or a fetch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HotConfig {
    /// Tokens a room's bucket holds: the burst of messages and history loads it may take at once.
    pub bucket_size: u32,
    /// Tokens added per second: the sustained rate a room may keep up without counting as hot.
    pub refill_per_sec: f64,
    /// How long a room stays hot after its bucket ran dry (the TTL of the mark in Redis).
    #[serde(with = "duration")]
    pub hot_for: Duration,
    /// Chance that a member of a hot room gets a thinnable push when it happens.
    pub push_probability: f64,
    /// The interval of `min_pushes`.
    #[serde(with = "duration")]
    pub min_interval: Duration,
    /// Thinnable pushes every member gets per interval regardless of chance, so no one starves.
    pub min_pushes: u32,
    /// How long after missing a push of a subject (a reader's receipts, a message's reactions, the
    /// participant list) a member gets what it missed of it, merged into one push: the bound on how
    /// stale a member's view gets, and where thinning saves (several changes, one push).
    #[serde(with = "duration")]
    pub converge_within: Duration,
    /// The newest message ids an owed receipt carries per reader. Readers of older messages reach a
    /// member when it fetches those messages (history carries readers).
    pub owed_receipt_ids: u32,
    /// Which pushes may be thinned. Chat messages never are.
    pub thin: ThinConfig,
}

impl Default for HotConfig {
    fn default() -> Self {
        HotConfig {
            // A room of 10 people chatting briskly stays well under 20 messages/s; a room where
            // hundreds talk at once does not.
            bucket_size: 100,
            refill_per_sec: 20.0,
            hot_for: Duration::from_secs(30),
            push_probability: 0.1,
            min_interval: Duration::from_secs(1),
            min_pushes: 1,
            // Read receipts and reactions up to 10 s late in a room hundreds talk in, which no
            // one can follow read by read anyway.
            converge_within: Duration::from_secs(10),
            // More than a screenful (joinRoomSuccess and each history page carry 30 messages).
            owed_receipt_ids: 50,
            thin: ThinConfig::default(),
        }
    }
}

/// Which push classes are thinned in hot rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThinConfig {
    /// `messagesRead`.
    pub receipts: bool,
    /// `messageReactionUpdate`.
    pub reactions: bool,
    /// `participantsUpdate`.
    pub participants: bool,
    /// `aiMessageChunk` (every chunk carries the full text so far; `aiMessageComplete` is never
    /// thinned).
    pub ai_chunks: bool,
}

impl Default for ThinConfig {
    fn default() -> Self {
        ThinConfig {
            receipts: true,
            reactions: true,
            participants: true,
            ai_chunks: true,
        }
    }
}

/// Why a config document was refused. The message names every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not TOML, or a field of the wrong type or name.
    #[error("overload config is not valid TOML for this format: {0}")]
    Syntax(String),
    /// Parsed, but values are out of range or contradict each other.
    #[error("overload config refused: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl OverloadConfig {
    /// Parses a TOML document and validates it. Fields it leaves out take their defaults — the
    /// defaults of *that* table: `[bulkheads.auth] limit = 2` keeps the auth queue's own default.
    pub fn parse(text: &str) -> Result<OverloadConfig, ConfigError> {
        OverloadConfig::default().patched(text)
    }

    /// Applies a partial TOML document over this config (tables merge, values replace), then
    /// validates the result.
    pub fn patched(&self, patch: &str) -> Result<OverloadConfig, ConfigError> {
        let syntax = |e: &dyn fmt::Display| ConfigError::Syntax(one_line(&e.to_string()));
        // Names and types are checked against the text itself, so errors point at its lines.
        toml::from_str::<OverloadConfig>(patch).map_err(|e| syntax(&e))?;
        let patch: toml::Table = toml::from_str(patch).map_err(|e| syntax(&e))?;
        let toml::Value::Table(mut base) = toml::Value::try_from(self).map_err(|e| syntax(&e))?
        else {
            unreachable!("a struct serializes to a table")
        };
        merge(&mut base, patch);
        let config: OverloadConfig = toml::Value::Table(base)
            .try_into()
            .map_err(|e| syntax(&e))?;
        config.validate()?;
        Ok(config)
    }

    /// The config as a TOML document.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks every value; the error lists all problems, each with its field and what is allowed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, problem: String| {
            if !ok {
                problems.push(problem);
            }
        };
        let l = &self.levels;
        check(
            (Duration::from_millis(10)..=Duration::from_secs(10)).contains(&l.sample_every),
            format!(
                "levels.sample_every = {} is out of range: 10ms to 10s",
                show(l.sample_every)
            ),
        );
        check(
            l.rise_after <= Duration::from_secs(60),
            format!(
                "levels.rise_after = {} is out of range: 0ms to 60s",
                show(l.rise_after)
            ),
        );
        check(
            !l.lag_at_full.is_zero(),
            "levels.lag_at_full must be more than 0ms".into(),
        );
        check(
            l.enter
                .iter()
                .all(|e| e.is_finite() && *e > 0.0 && *e <= 1.0)
                && l.enter[0] < l.enter[1]
                && l.enter[1] < l.enter[2],
            format!(
                "levels.enter = {:?} must be three utilizations in (0.0, 1.0], strictly increasing \
                 (where levels 1, 2 and 3 begin)",
                l.enter
            ),
        );
        check(
            l.exit_margin.is_finite() && (0.0..l.enter[0].max(0.0)).contains(&l.exit_margin),
            format!(
                "levels.exit_margin = {} must be at least 0.0 and below levels.enter[0] ({})",
                l.exit_margin, l.enter[0]
            ),
        );
        check(
            l.force.is_none_or(|f| f <= 3),
            format!(
                "levels.force = {} is not a load level: 0 to 3",
                l.force.unwrap_or(0)
            ),
        );
        let a = &self.actions;
        check(
            !a.request_timeout.is_zero() && !a.short_request_timeout.is_zero(),
            "actions.request_timeout and actions.short_request_timeout must be more than 0ms"
                .into(),
        );
        check(
            a.short_request_timeout <= a.request_timeout,
            format!(
                "actions.short_request_timeout = {} must not exceed actions.request_timeout = {}",
                show(a.short_request_timeout),
                show(a.request_timeout)
            ),
        );
        check(
            a.retry_after >= Duration::from_secs(1),
            format!(
                "actions.retry_after = {} must be at least 1s (Retry-After counts whole seconds)",
                show(a.retry_after)
            ),
        );
        // Messages are what the service is for: anything shed must go no later than they do.
        let msg = a.shed.message_send;
        for (name, t) in [("room_list", a.shed.room_list), ("history", a.shed.history)] {
            check(
                t.rank() <= msg.rank(),
                format!(
                    "actions.shed.{name} = {t} must not be later than actions.shed.message_send = \
                     {msg}: low-priority work is shed before messages"
                ),
            );
        }
        for kind in RequestKind::ALL {
            let b = self.bulkheads.of(kind);
            let name = kind.config_name();
            check(
                (1..=1_000_000).contains(&b.limit),
                format!(
                    "bulkheads.{name}.limit = {} is out of range: 1 to 1000000",
                    b.limit
                ),
            );
            check(
                b.queue <= 1_000_000,
                format!(
                    "bulkheads.{name}.queue = {} is out of range: 0 to 1000000",
                    b.queue
                ),
            );
            check(
                b.max_wait <= Duration::from_secs(60),
                format!(
                    "bulkheads.{name}.max_wait = {} is out of range: 0ms to 60s",
                    show(b.max_wait)
                ),
            );
        }
        let h = &self.hot;
        check(
            h.bucket_size >= 1,
            "hot.bucket_size must be at least 1".into(),
        );
        check(
            h.refill_per_sec.is_finite() && h.refill_per_sec > 0.0,
            format!(
                "hot.refill_per_sec = {} must be more than 0 tokens per second",
                h.refill_per_sec
            ),
        );
        check(
            (Duration::from_secs(1)..=Duration::from_secs(24 * 3600)).contains(&h.hot_for),
            format!(
                "hot.hot_for = {} is out of range: 1s to 24h",
                show(h.hot_for)
            ),
        );
        check(
            h.push_probability.is_finite() && (0.0..=1.0).contains(&h.push_probability),
            format!(
                "hot.push_probability = {} is out of range: 0.0 to 1.0",
                h.push_probability
            ),
        );
        check(
            (Duration::from_millis(50)..=Duration::from_secs(60)).contains(&h.min_interval),
            format!(
                "hot.min_interval = {} is out of range: 50ms to 60s",
                show(h.min_interval)
            ),
        );
        check(
            (Duration::from_millis(50)..=Duration::from_secs(600)).contains(&h.converge_within),
            format!(
                "hot.converge_within = {} is out of range: 50ms to 10m",
                show(h.converge_within)
            ),
        );
        check(
            (1..=10_000).contains(&h.owed_receipt_ids),
            format!(
                "hot.owed_receipt_ids = {} is out of range: 1 to 10000",
                h.owed_receipt_ids
            ),
        );
        check(
            h.min_pushes <= 1000,
            format!(
                "hot.min_pushes = {} is out of range: 0 to 1000",
                h.min_pushes
            ),
        );
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// Merges `patch` into `base`: tables recursively, everything else replaced.
fn merge(base: &mut toml::Table, patch: toml::Table) {
    for (key, value) in patch {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(p)) => merge(b, p),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// TOML errors span several lines (a caret under the offending text); one line reads better in a
/// JSON body and a log.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.chars().all(|c| "|^ ".contains(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A duration the way the config writes them.
pub fn show(d: Duration) -> String {
    duration::format(d)
}

/// Durations in the config are strings with a unit — `"250ms"`, `"5s"`, `"1.5s"`, `"2m"` — so a
/// value cannot be misread as the wrong unit.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses `"250ms"`, `"5s"`, `"1.5s"`, `"2m"`, `"1h"`.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let bad = || format!("{text:?} is not a duration: write e.g. \"250ms\", \"5s\", \"2m\"");
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, unit) = t.split_at(split);
        let value: f64 = number.parse().map_err(|_| bad())?;
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => return Err(bad()),
        };
        Duration::try_from_secs_f64(seconds).map_err(|_| bad())
    }

    /// `"250ms"` below 10 s unless whole seconds, `"5s"`, `"1.5s"`.
    pub fn format(d: Duration) -> String {
        let ms = d.as_millis();
        if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else if ms < 10_000 {
            format!("{ms}ms")
        } else {
            format!("{}s", d.as_secs_f64())
        }
    }

    /// Serde: write as a string with a unit.
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*d))
    }

    /// Serde: read a string with a unit.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_round_trip_through_toml() {
        let config = OverloadConfig::default();
        config.validate().unwrap();
        let text = config.to_toml();
        assert_eq!(OverloadConfig::parse(&text).unwrap(), config);
        assert_eq!(OverloadConfig::parse("").unwrap(), config);
    }

    #[test]
    fn the_example_file_writes_out_every_default() {
        let example: toml::Table =
            toml::from_str(include_str!("../../overload.example.toml")).unwrap();
        let toml::Value::Table(mut defaults) =
            toml::Value::try_from(OverloadConfig::default()).unwrap()
        else {
            unreachable!("a struct serializes to a table")
        };
        // The one machine-dependent default (half the cores) is described, not written.
        defaults["bulkheads"]["auth"]
            .as_table_mut()
            .unwrap()
            .remove("limit");
        assert_eq!(example, defaults);
    }

    #[test]
    fn durations_have_units() {
        assert_eq!(duration::parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration::parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration::parse("2m"), Ok(Duration::from_secs(120)));
        assert!(duration::parse("30").is_err());
        assert!(duration::parse("-1s").is_err());
        assert_eq!(duration::format(Duration::from_millis(250)), "250ms");
        assert_eq!(duration::format(Duration::from_secs(30)), "30s");
        assert_eq!(duration::format(Duration::from_millis(12_500)), "12.5s");
    }

    #[test]
    fn a_partial_document_changes_only_what_it_names() {
        let config = OverloadConfig::parse(
            "[hot]\npush_probability = 0.5\n[bulkheads.auth]\nlimit = 2\n\
             [actions.shed]\nhistory = 2\nroom_list = \"never\"\nmessage_send = \"never\"",
        )
        .unwrap();
        assert_eq!(config.hot.push_probability, 0.5);
        assert_eq!(config.bulkheads.auth.limit, 2);
        assert_eq!(config.bulkheads.auth.queue, 1024);
        assert_eq!(config.actions.shed.history, Trigger::At(2));
        assert_eq!(config.actions.shed.room_list, Trigger::Never);
        assert_eq!(config.levels, LevelsConfig::default());
    }

    #[test]
    fn patches_merge_over_the_current_config() {
        let base = OverloadConfig::parse("[hot]\nbucket_size = 7").unwrap();
        let patched = base.patched("hot.push_probability = 0.25").unwrap();
        assert_eq!(patched.hot.bucket_size, 7);
        assert_eq!(patched.hot.push_probability, 0.25);
        let off = base.patched("enabled = false").unwrap();
        assert!(!off.enabled);
    }

    #[test]
    fn bad_values_are_refused_with_every_problem_named() {
        let err = OverloadConfig::parse(
            "[hot]\npush_probability = 1.5\n[levels]\nenter = [0.9, 0.5, 0.95]\n\
             [bulkheads.history]\nlimit = 0",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("hot.push_probability = 1.5 is out of range: 0.0 to 1.0"),
            "{text}"
        );
        assert!(text.contains("levels.enter"), "{text}");
        assert!(text.contains("bulkheads.history.limit = 0"), "{text}");

        let err = OverloadConfig::parse("[actions.shed]\nmessage_send = 2").unwrap_err();
        assert!(
            err.to_string()
                .contains("low-priority work is shed before messages"),
            "{err}"
        );
        let err = OverloadConfig::parse("[hot]\nbucket = 3").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax(_)), "{err}");
        assert!(err.to_string().contains("bucket"), "{err}");
        let err = OverloadConfig::parse("[actions]\nno_retry_at = 5").unwrap_err();
        assert!(err.to_string().contains("not a load level"), "{err}");
        let err = OverloadConfig::parse("[levels]\nsample_every = \"5\"").unwrap_err();
        assert!(err.to_string().contains("not a duration"), "{err}");
    }
}
