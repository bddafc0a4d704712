//! Server settings: the validated [`ServerConfig`] the library runs with, and the command line
//! ([`Args`]) that the binary resolves into it. Every flag is also an environment variable.
//!
//! Library callers (tests, `stampede demo`) build a [`ServerConfig`] directly, usually from
//! [`ServerConfig::default`]; the clap struct never travels past `main`.

use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::KdfParams;
use crate::blob::s3::S3Settings;
use crate::gateway::GatewaySettings;
use crate::gateway::bounds::Bounds;
use crate::limit::UnpostedLimits;
use crate::overload::{OverloadConfig, OverloadSettings};
use crate::serve::ConnectionLimits;
use crate::store::ReactionCaps;
use crate::store::redis::{Durability, RedisSettings, RedisTarget};

/// Where uploads go by default: under `data/`, the one directory of the working directory the server
/// writes to (git-ignored), rather than a loose `uploads/` beside the sources.
pub const DEFAULT_FILES_DIR: &str = "data/uploads";

/// Everything the server needs to run, already validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free one (see [`RunningServer::local_addr`](crate::RunningServer::local_addr)).
    pub listen: SocketAddr,
    /// HS256 secret for access tokens. `None` draws a random one per process, which is fine for a
    /// single instance but makes tokens useless on any other instance.
    pub jwt_secret: Option<String>,
    /// Password hashing cost.
    pub kdf: KdfParams,
    /// Time between the server's Engine.IO pings (the original's default: 25 s).
    pub ping_interval: Duration,
    /// How long the server waits for a pong before dropping the client (the original's default: 20 s).
    pub ping_timeout: Duration,
    /// How long an Engine.IO session may stay without its Socket.IO CONNECT before it is closed
    /// (`connect timeout`): unauthenticated sessions hold a connection slot meanwhile.
    pub connect_timeout: Duration,
    /// Engine.IO sessions one peer address may hold without their Socket.IO CONNECT; `None`: no cap.
    pub unauthenticated_per_peer: Option<NonZeroUsize>,
    /// Quota and expiry of uploads never posted in a message.
    pub unposted: UnpostedLimits,
    /// Limits on connections and requests: the header-read deadline, the body deadline, the
    /// per-peer cap.
    pub connections: ConnectionLimits,
    /// Largest Engine.IO packet/websocket message accepted, in bytes (the original's default: 1,000,000).
    pub max_payload: usize,
    /// Pause between chunks of an AI reply stream.
    pub ai_chunk_delay: Duration,
    /// Directory of the local blob store (uploaded files and profile images); unused with
    /// [`s3`](Self::s3).
    pub files_dir: PathBuf,
    /// Keep uploaded files and profile images in an S3 bucket instead of `files_dir`.
    pub s3: Option<S3Settings>,
    /// Most Engine.IO sessions open at once; each holds one permit.
    pub max_connections: usize,
    /// Frames queued for one connection before it counts as a slow consumer and is dropped.
    ///
    /// A queued frame costs its connection one 32-byte slot: the frame's bytes are shared by every
    /// recipient of the broadcast, and slots are allocated only while frames wait. A burst in a busy
    /// room queues (members × messages) frames at once — 200 members sending 10 each is 2,000 per
    /// connection, which a 512-frame bound turned into mass disconnects of healthy clients — so the
    /// bound is generous. A client that stops reading altogether is caught by the write timeout
    /// (the ping timeout) instead.
    pub outbound_queue: usize,
    /// How long a graceful shutdown may take before remaining work is abandoned.
    pub shutdown_deadline: Duration,
    /// `GET /api/rooms` requests allowed per client IP per minute; `None` disables the limit.
    pub room_list_rate_limit: Option<NonZeroU32>,
    /// Where chat state lives: in this process, or in Redis shared by every instance.
    pub store: StoreConfig,
    /// Settings of the Redis store, when [`store`](Self::store) is Redis.
    pub redis: RedisSettings,
    /// Overload control: the starting config, the watched file, the admin token, coordination.
    pub overload: OverloadSettings,

    // Hostile clients.
    /// Limits on what one client's input may cost the server and the other members.
    pub bounds: Bounds,
    /// Browser origins allowed to call the REST API and Socket.IO with credentials; `None` allows
    /// any origin (the development default). Admin routes and `/metrics` never answer CORS.
    pub cors_origins: Option<Vec<String>>,
    /// Login attempts per e-mail address per minute; `None` is off.
    pub login_rate_limit_per_account: Option<NonZeroU32>,
    /// Login attempts per client address per minute; `None` is off.
    pub login_rate_limit_per_address: Option<NonZeroU32>,

    // Redis faults.
    /// How long a `chatMessage`'s `clientMessageId` keeps answering a retry with the first message
    /// (in either store). Each keyed message holds one small entry this long.
    pub client_message_id_ttl: Duration,
    /// Times a logged room event whose Redis publish failed is published again in the background
    /// (waits of 100 ms, doubling), so other instances' members get it without waiting for the
    /// room's next event. 0: never.
    pub redis_publish_retries: u32,
    /// Events each room's Redis log keeps for instances that missed some (a lost connection, a
    /// failover). An instance that misses more than this of a room skips the rest and sends its
    /// members `resync`. Each entry holds the whole event frame.
    pub redis_log_cap: u32,
}

/// Where chat state lives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreConfig {
    /// In this process (lost on exit; one instance only).
    #[default]
    Memory,
    /// In Redis, standalone or Cluster; instances on the same Redis share rooms and fan-out.
    Redis(RedisTarget),
}

impl StoreConfig {
    /// Parses `memory`, `redis://…` or `redis+cluster://host:port,host:port`.
    pub fn parse(text: &str) -> Result<StoreConfig, ConfigError> {
        if text.trim() == "memory" {
            return Ok(StoreConfig::Memory);
        }
        RedisTarget::parse(text)
            .map(StoreConfig::Redis)
            .map_err(|message| ConfigError::Invalid {
                name: "--store",
                message,
            })
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            jwt_secret: None,
            kdf: KdfParams::default(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            unauthenticated_per_peer: None,
            unposted: UnpostedLimits::DEFAULT,
            connections: ConnectionLimits::DEFAULT,
            max_payload: 1_000_000,
            ai_chunk_delay: Duration::from_millis(50),
            files_dir: PathBuf::from(DEFAULT_FILES_DIR),
            max_connections: 10_000,
            outbound_queue: 8192,
            shutdown_deadline: Duration::from_secs(10),
            room_list_rate_limit: None,
            store: StoreConfig::Memory,
            redis: RedisSettings::default(),
            s3: None,
            overload: OverloadSettings::default(),
            bounds: Bounds::DEFAULT,
            cors_origins: None,
            login_rate_limit_per_account: NonZeroU32::new(DEFAULT_LOGIN_RATE_LIMIT_PER_ACCOUNT),
            login_rate_limit_per_address: None,
            client_message_id_ttl: crate::store::CLIENT_ID_TTL,
            redis_publish_retries: 5,
            redis_log_cap: DEFAULT_REDIS_LOG_CAP,
        }
    }
}

impl From<&ServerConfig> for GatewaySettings {
    fn from(config: &ServerConfig) -> Self {
        GatewaySettings {
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            connect_timeout: config.connect_timeout,
            unauthenticated_per_peer: config.unauthenticated_per_peer,
            max_payload: config.max_payload,
            outbound_queue: config.outbound_queue,
            ai_chunk_delay: config.ai_chunk_delay,
            bounds: config.bounds.clone(),
        }
    }
}

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value is out of its allowed range.
    #[error("{name} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// What was given.
        value: String,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A value cannot be used; the message says why and what would work.
    #[error("{name}: {message}")]
    Invalid {
        /// The flag.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The overload config file cannot be read or is invalid.
    #[error("overload config {path}: {message}")]
    OverloadFile {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ServerConfig {
    /// Checks every setting; the server refuses to start on the first bad one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn check(
            ok: bool,
            name: &'static str,
            value: impl ToString,
            allowed: &'static str,
        ) -> Result<(), ConfigError> {
            if ok {
                Ok(())
            } else {
                Err(ConfigError::OutOfRange {
                    name,
                    value: value.to_string(),
                    allowed,
                })
            }
        }
        check(
            self.kdf.memory_kib >= 8,
            "kdf memory KiB",
            self.kdf.memory_kib,
            "at least 8",
        )?;
        check(
            self.kdf.iterations >= 1,
            "kdf iterations",
            self.kdf.iterations,
            "at least 1",
        )?;
        for (duration, name) in [
            (self.ping_interval, "ping interval"),
            (self.ping_timeout, "ping timeout"),
            (self.connections.header_read_timeout, "header read timeout"),
            (self.connections.body_timeout, "body timeout"),
            (self.connect_timeout, "connect timeout"),
            (self.redis.timeout, "redis timeout"),
        ] {
            check(
                !duration.is_zero(),
                name,
                format!("{duration:?}"),
                "more than 0 ms",
            )?;
        }
        check(
            self.max_payload >= 1024,
            "max payload",
            self.max_payload,
            "at least 1024 bytes",
        )?;
        check(
            self.max_connections >= 1,
            "max connections",
            self.max_connections,
            "at least 1",
        )?;
        check(
            self.outbound_queue >= 8,
            "outbound queue",
            self.outbound_queue,
            "at least 8 frames",
        )?;
        check(
            (1..=86_400).contains(&self.client_message_id_ttl.as_secs())
                && self.client_message_id_ttl.subsec_nanos() == 0,
            "client message id ttl",
            format!("{:?}", self.client_message_id_ttl),
            "1 to 86400 whole seconds",
        )?;
        check(
            self.redis_publish_retries <= 10,
            "redis publish retries",
            self.redis_publish_retries,
            "0 to 10 (the tenth waits 51 s)",
        )?;
        check(
            REDIS_LOG_CAP.contains(&self.redis_log_cap),
            "--redis-log-cap",
            self.redis_log_cap,
            "10 to 100000 events per room",
        )?;
        if self.redis.prefix.is_empty() || self.redis.prefix.contains(['{', '}']) {
            return Err(ConfigError::Invalid {
                name: "--redis-prefix",
                message: format!(
                    "{:?} must be non-empty and have no braces (they decide Redis Cluster slots)",
                    self.redis.prefix
                ),
            });
        }
        if let Some(secret) = &self.jwt_secret {
            check(
                secret.len() >= 16,
                "jwt secret length",
                secret.len(),
                "at least 16 bytes",
            )?;
        }
        if let Some(message) = self.bounds.problem() {
            return Err(ConfigError::Invalid {
                name: "amplification bounds",
                message,
            });
        }
        Ok(())
    }
}

/// Command line of the `reference-server` binary; each flag can also come from the environment.
#[derive(Debug, clap::Parser)]
#[command(
    name = "reference-server",
    version,
    about = "Reference chat server: the competition protocol over REST and Socket.IO v4"
)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "CHAT_LISTEN", default_value = "127.0.0.1:5000")]
    pub listen: SocketAddr,
    /// HS256 secret for access tokens (at least 16 bytes). Unset: random per process, so tokens only
    /// work on this instance; multi-instance deployments must share one.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Argon2id memory per password hash, KiB. A slow hash caps registrations + logins per second.
    #[arg(long, env = "CHAT_KDF_MEMORY_KIB", default_value_t = KdfParams::default().memory_kib)]
    pub kdf_memory_kib: u32,
    /// Argon2id passes per password hash.
    #[arg(long, env = "CHAT_KDF_ITERATIONS", default_value_t = KdfParams::default().iterations)]
    pub kdf_iterations: u32,
    /// Milliseconds between server pings (the competition winner used 60000).
    #[arg(long, env = "CHAT_PING_INTERVAL_MS", default_value_t = 25_000)]
    pub ping_interval_ms: u64,
    /// Milliseconds to wait for a pong before dropping a client (the competition winner used 120000).
    #[arg(long, env = "CHAT_PING_TIMEOUT_MS", default_value_t = 20_000)]
    pub ping_timeout_ms: u64,
    /// Milliseconds an Engine.IO session may wait for its Socket.IO CONNECT before it is closed
    /// (Socket.IO's own default is 45000; a client sends CONNECT right after the handshake).
    #[arg(long, env = "CHAT_CONNECT_TIMEOUT_MS", default_value_t = DEFAULT_CONNECT_TIMEOUT_MS)]
    pub connect_timeout_ms: u64,
    /// Milliseconds a connection has to send a request's headers, on a new connection and between
    /// requests on a kept-alive one (a silent or idle connection is closed then). Keep it above
    /// clients' idle-connection timeouts (stampede's: 20 s).
    #[arg(long, env = "CHAT_HEADER_READ_TIMEOUT_MS", default_value_t = ConnectionLimits::DEFAULT.header_read_timeout.as_millis() as u64)]
    pub header_read_timeout_ms: u64,
    /// Connections one client address may hold open at once; 0 = no cap (the default: a load test
    /// opens thousands from one address).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_PEER", default_value_t = 0)]
    pub max_connections_per_peer: usize,
    /// Engine.IO sessions one client address may hold open without their Socket.IO CONNECT (each
    /// waits at most --connect-timeout-ms); over it a handshake is answered 429. 0 = no cap (the
    /// default: a load test ramping thousands of users from one address has hundreds between
    /// handshake and CONNECT when the server is slow).
    #[arg(long, env = "CHAT_MAX_UNAUTHENTICATED_PER_PEER", default_value_t = 0)]
    pub max_unauthenticated_per_peer: usize,
    /// Milliseconds a request's body may take to arrive, counted from its headers, whether or not
    /// overload control is on; a body still arriving then is answered 408 and its connection
    /// closed.
    #[arg(long, env = "CHAT_BODY_TIMEOUT_MS", default_value_t = ConnectionLimits::DEFAULT.body_timeout.as_millis() as u64)]
    pub body_timeout_ms: u64,
    /// Bytes of one user's uploads not yet posted in a message; over it an upload is answered
    /// 429. 0 = no cap.
    #[arg(long, env = "CHAT_UNPOSTED_UPLOAD_BYTES", default_value_t = UnpostedLimits::DEFAULT.bytes.unwrap_or(0))]
    pub unposted_upload_bytes: u64,
    /// Uploads one user may hold not yet posted in a message; over it an upload is answered 429.
    /// 0 = no cap.
    #[arg(long, env = "CHAT_UNPOSTED_UPLOAD_FILES", default_value_t = UnpostedLimits::DEFAULT.files.unwrap_or(0))]
    pub unposted_upload_files: usize,
    /// Seconds after which an upload never posted in a message is deleted (file and record).
    /// 0 = kept for ever.
    #[arg(long, env = "CHAT_UNPOSTED_UPLOAD_TTL_SECS", default_value_t = UnpostedLimits::DEFAULT.ttl.map_or(0, |t| t.as_secs()))]
    pub unposted_upload_ttl_secs: u64,
    /// Largest Engine.IO packet / websocket message, bytes.
    #[arg(long, env = "CHAT_MAX_PAYLOAD", default_value_t = 1_000_000)]
    pub max_payload: usize,
    /// Milliseconds between chunks of the AI bot's streamed reply.
    #[arg(long, env = "CHAT_AI_CHUNK_DELAY_MS", default_value_t = 50)]
    pub ai_chunk_delay_ms: u64,
    /// Where uploaded files and profile images go: a directory (`dir:PATH` or a plain path) or a
    /// bucket (`s3://bucket[/prefix]`, with the --s3-* settings).
    #[arg(
        long,
        alias = "files-dir",
        env = "CHAT_FILES",
        default_value = DEFAULT_FILES_DIR
    )]
    pub files: String,
    /// S3 endpoint, for S3-compatible services (e.g. http://127.0.0.1:9000); unset for AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub s3_endpoint: Option<String>,
    /// S3 region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// S3 access key id (unset: the environment's credentials).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Most Socket.IO connections open at once (one permit each).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,
    /// Frames queued per connection before it is dropped as a slow consumer.
    #[arg(long, env = "CHAT_OUTBOUND_QUEUE", default_value_t = 8192)]
    pub outbound_queue: usize,
    /// Milliseconds a graceful shutdown may take.
    #[arg(long, env = "CHAT_SHUTDOWN_DEADLINE_MS", default_value_t = 10_000)]
    pub shutdown_deadline_ms: u64,
    /// `GET /api/rooms` requests per client IP per minute (the original allowed 60); 0 = off. Off by
    /// default because a load test sends everything from one IP.
    #[arg(long, env = "CHAT_ROOM_LIST_RATE_LIMIT", default_value_t = 0)]
    pub room_list_rate_limit: u32,
    /// Where chat state lives: `memory`, `redis://host:port` or
    /// `redis+cluster://host:port,host:port`. Instances on one Redis share rooms; give them the same
    /// --jwt-secret.
    #[arg(long, env = "CHAT_STORE", default_value = "memory")]
    pub store: String,
    /// Prefix of every Redis key and channel.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat")]
    pub redis_prefix: String,
    /// Replicas that must acknowledge a room event before it is published (Redis WAIT), so a
    /// failover never loses a message a client saw. Default: 1 on a cluster, 0 standalone.
    #[arg(long, env = "CHAT_REDIS_REPLICA_ACKS")]
    pub redis_replica_acks: Option<u32>,
    /// Milliseconds a Redis request may take; while Redis is away requests fail after this.
    #[arg(long, env = "CHAT_REDIS_TIMEOUT_MS", default_value_t = 1000)]
    pub redis_timeout_ms: u64,

    // Redis faults: what a room event does when its shard is short of replicas.
    /// When the Redis shard of a room has fewer connected replicas than --redis-replica-acks
    /// (a replica died, or a master was promoted and has none yet): `available` stores the event,
    /// waits for the replicas there are and marks the server degraded on /health and /metrics;
    /// `strict` refuses it before writing (Redis's min-replicas-to-write).
    #[arg(long, env = "CHAT_REDIS_DURABILITY", value_enum, default_value_t = Durability::Available)]
    pub redis_durability: Durability,
    /// Overload control (load levels, bulkheads, hot rooms). `off` keeps it off for the whole run,
    /// whatever the config file or the admin endpoint say.
    #[arg(long, env = "CHAT_OVERLOAD", value_enum, default_value_t = Switch::On)]
    pub overload: Switch,
    /// TOML file of overload thresholds, read at startup and watched: a valid change applies at
    /// once, an invalid one is refused and logged.
    #[arg(long, env = "CHAT_OVERLOAD_CONFIG")]
    pub overload_config: Option<PathBuf>,
    /// Bearer token of `/admin/overload` (GET, PUT, PATCH). Unset: the endpoint is off.
    #[arg(long, env = "CHAT_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Redis shared by instances for hot rooms and config revisions: `redis://host:port/db` or
    /// `redis+cluster://host:port,host:port`. Unset: the --store Redis (standalone or Cluster);
    /// with the memory store, this instance decides alone.
    #[arg(long, env = "CHAT_OVERLOAD_REDIS")]
    pub overload_redis: Option<String>,

    // Hostile clients.
    /// Comma-separated browser origins (`https://chat.example.com,http://localhost:3000`) allowed
    /// to call the API with credentials; `*` allows any origin (the development default — set a
    /// list in any deployment a browser reaches). Admin routes never answer CORS.
    #[arg(long, env = "CHAT_CORS_ORIGINS", default_value = "*")]
    pub cors_origins: String,
    /// Login attempts per e-mail address per minute (429 above it); 0 = off. A user logs in a few
    /// times a minute at most, so 30 only slows password guessing on one account.
    #[arg(long, env = "CHAT_LOGIN_RATE_LIMIT_PER_ACCOUNT", default_value_t = DEFAULT_LOGIN_RATE_LIMIT_PER_ACCOUNT)]
    pub login_rate_limit_per_account: u32,
    /// Login attempts per client address per minute (429 above it); 0 = off. Off by default: a load
    /// test logs thousands of users in from one address.
    #[arg(long, env = "CHAT_LOGIN_RATE_LIMIT_PER_ADDRESS", default_value_t = 0)]
    pub login_rate_limit_per_address: u32,

    /// Amplification bounds.
    #[command(flatten)]
    pub bounds: BoundsArgs,

    // Redis faults: sends retried, publishes lost, instances left behind.
    /// Seconds a `chatMessage`'s `clientMessageId` answers a retry with the first message instead
    /// of storing it again (1 to 86400).
    #[arg(long, env = "CHAT_CLIENT_MESSAGE_ID_TTL_SECS", default_value_t = crate::store::CLIENT_ID_TTL.as_secs())]
    pub client_message_id_ttl_secs: u64,
    /// Times a logged room event whose Redis publish failed is published again in the background
    /// (after 100 ms, then doubling), 0 to 10; 0 leaves it to the room's next event.
    #[arg(long, env = "CHAT_REDIS_PUBLISH_RETRIES", default_value_t = 5)]
    pub redis_publish_retries: u32,
    /// Events each room's Redis log keeps for instances that missed some (10 to 100000). An
    /// instance that misses more of a room than this skips them and sends its members there a
    /// `resync` event, so their clients refetch the history.
    #[arg(long, env = "CHAT_REDIS_LOG_CAP", default_value_t = DEFAULT_REDIS_LOG_CAP)]
    pub redis_log_cap: u32,
}

/// Flags of [`Bounds`]: limits on what one client's input may cost the server and the room.
#[derive(Debug, clap::Args)]
pub struct BoundsArgs {
    /// Bytes queued per connection before it is dropped as a slow consumer (unread backlog).
    #[arg(long, env = "CHAT_OUTBOUND_QUEUE_BYTES", default_value_t = Bounds::DEFAULT.outbound_queue_bytes)]
    pub outbound_queue_bytes: usize,
    /// Most `aiMessageChunk` events per AI reply (each carries the whole text so far).
    #[arg(long, env = "CHAT_AI_MAX_CHUNKS", default_value_t = Bounds::DEFAULT.ai_max_chunks)]
    pub ai_max_chunks: usize,
    /// Longest question, in bytes, an AI reply echoes; longer ones are cut.
    #[arg(long, env = "CHAT_AI_QUESTION_BYTES", default_value_t = Bounds::DEFAULT.ai_question_bytes)]
    pub ai_question_bytes: usize,
    /// Most message ids one `markMessagesAsRead` records and forwards.
    #[arg(long, env = "CHAT_READ_IDS_PER_EVENT", default_value_t = Bounds::DEFAULT.read_ids_per_event)]
    pub read_ids_per_event: usize,
    /// Most distinct reactions on one message.
    #[arg(long, env = "CHAT_REACTIONS_PER_MESSAGE", default_value_t = Bounds::DEFAULT.reactions.per_message)]
    pub reactions_per_message: usize,
    /// Most distinct reactions one user may put on one message.
    #[arg(long, env = "CHAT_REACTIONS_PER_USER", default_value_t = Bounds::DEFAULT.reactions.per_user)]
    pub reactions_per_user: usize,
}

impl From<BoundsArgs> for Bounds {
    fn from(args: BoundsArgs) -> Self {
        Bounds {
            outbound_queue_bytes: args.outbound_queue_bytes,
            ai_max_chunks: args.ai_max_chunks,
            ai_question_bytes: args.ai_question_bytes,
            read_ids_per_event: args.read_ids_per_event,
            reactions: ReactionCaps {
                per_message: args.reactions_per_message,
                per_user: args.reactions_per_user,
            },
        }
    }
}

/// Default of `--connect-timeout-ms`.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;

/// Default of `--redis-log-cap`: a thousand events cover an instance's reconnect or a failover in a
/// busy room, at a few hundred KB of Redis memory per room.
pub const DEFAULT_REDIS_LOG_CAP: u32 = 1000;

/// Allowed `--redis-log-cap`: below 10 even a healthy subscriber of a busy room would skip events
/// while it waits out a gap; above 100,000 one room's log could hold gigabytes.
const REDIS_LOG_CAP: std::ops::RangeInclusive<u32> = 10..=100_000;

/// Default of `--login-rate-limit-per-account`.
pub const DEFAULT_LOGIN_RATE_LIMIT_PER_ACCOUNT: u32 = 30;

/// `on` / `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl Args {
    /// `--files` (with the `--s3-*` flags) → a directory or a bucket.
    fn files(&self) -> Result<(PathBuf, Option<S3Settings>), ConfigError> {
        let files = self.files.trim();
        if !files.starts_with("s3://") {
            let dir = files.strip_prefix("dir:").unwrap_or(files);
            if dir.is_empty() {
                return Err(ConfigError::Invalid {
                    name: "--files",
                    message: "is empty; give a directory or s3://bucket".into(),
                });
            }
            return Ok((PathBuf::from(dir), None));
        }
        let invalid = |message: String| ConfigError::Invalid {
            name: "--files",
            message,
        };
        let (bucket, prefix) = S3Settings::parse_url(files).map_err(invalid)?;
        if self.s3_access_key_id.is_some() != self.s3_secret_access_key.is_some() {
            return Err(invalid(
                "give both --s3-access-key-id and --s3-secret-access-key, or neither".into(),
            ));
        }
        if let Some(endpoint) = &self.s3_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                name: "--s3-endpoint",
                message: format!("{endpoint:?} must be an http:// or https:// URL"),
            });
        }
        let s3 = S3Settings {
            bucket,
            prefix,
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
        };
        Ok((PathBuf::from(DEFAULT_FILES_DIR), Some(s3)))
    }

    /// `--cors-origins` → `None` for `*`, else the listed origins, each `http(s)://host[:port]`.
    fn cors_origins(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let list = self.cors_origins.trim();
        if list == "*" {
            return Ok(None);
        }
        let mut origins = Vec::new();
        for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            let valid = rest.is_some_and(|host| {
                !host.is_empty()
                    && !host.contains('/')
                    && host.bytes().all(|b| b.is_ascii_graphic())
            });
            if !valid {
                return Err(ConfigError::Invalid {
                    name: "--cors-origins",
                    message: format!(
                        "{origin:?} is not an origin like https://chat.example.com (scheme and \
                         host, no path); give a comma-separated list or *"
                    ),
                });
            }
            origins.push(origin.to_owned());
        }
        if origins.is_empty() {
            return Err(ConfigError::Invalid {
                name: "--cors-origins",
                message: "is empty; give a comma-separated list of origins or *".into(),
            });
        }
        Ok(Some(origins))
    }

    /// Resolves the flags into a validated config.
    pub fn into_config(self) -> Result<ServerConfig, ConfigError> {
        let (files_dir, s3) = self.files()?;
        let cors_origins = self.cors_origins()?;
        let store = StoreConfig::parse(&self.store)?;
        // Instances on one Redis (standalone or Cluster) coordinate overload control there too,
        // unless told otherwise.
        let given = self
            .overload_redis
            .filter(|u| !u.is_empty())
            .map(|url| RedisTarget::parse(&url))
            .transpose()
            .map_err(|message| ConfigError::Invalid {
                name: "--overload-redis",
                message,
            })?;
        let overload_redis = given.or_else(|| match &store {
            StoreConfig::Redis(target) => Some(target.clone()),
            StoreConfig::Memory => None,
        });
        let config = ServerConfig {
            listen: self.listen,
            jwt_secret: self.jwt_secret.filter(|s| !s.is_empty()),
            kdf: KdfParams {
                memory_kib: self.kdf_memory_kib,
                iterations: self.kdf_iterations,
            },
            ping_interval: Duration::from_millis(self.ping_interval_ms),
            ping_timeout: Duration::from_millis(self.ping_timeout_ms),
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            unauthenticated_per_peer: NonZeroUsize::new(self.max_unauthenticated_per_peer),
            unposted: UnpostedLimits {
                bytes: (self.unposted_upload_bytes > 0).then_some(self.unposted_upload_bytes),
                files: (self.unposted_upload_files > 0).then_some(self.unposted_upload_files),
                ttl: (self.unposted_upload_ttl_secs > 0)
                    .then(|| Duration::from_secs(self.unposted_upload_ttl_secs)),
            },
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
                body_timeout: Duration::from_millis(self.body_timeout_ms),
                per_peer: NonZeroUsize::new(self.max_connections_per_peer),
            },
            max_payload: self.max_payload,
            ai_chunk_delay: Duration::from_millis(self.ai_chunk_delay_ms),
            files_dir,
            s3,
            max_connections: self.max_connections,
            outbound_queue: self.outbound_queue,
            shutdown_deadline: Duration::from_millis(self.shutdown_deadline_ms),
            room_list_rate_limit: NonZeroU32::new(self.room_list_rate_limit),
            store,
            redis: RedisSettings {
                prefix: self.redis_prefix,
                replica_acks: self.redis_replica_acks,
                durability: self.redis_durability,
                timeout: Duration::from_millis(self.redis_timeout_ms),
            },
            overload: OverloadSettings {
                config: match &self.overload_config {
                    None => OverloadConfig::default(),
                    Some(path) => read_overload_config(path)?,
                },
                pinned_off: self.overload == Switch::Off,
                file: self.overload_config,
                admin_token: self.admin_token.filter(|t| !t.is_empty()),
                redis: overload_redis,
            },
            bounds: self.bounds.into(),
            cors_origins,
            login_rate_limit_per_account: NonZeroU32::new(self.login_rate_limit_per_account),
            login_rate_limit_per_address: NonZeroU32::new(self.login_rate_limit_per_address),
            client_message_id_ttl: Duration::from_secs(self.client_message_id_ttl_secs),
            redis_publish_retries: self.redis_publish_retries,
            redis_log_cap: self.redis_log_cap,
        };
        config.validate()?;
        Ok(config)
    }
}

/// Reads and validates the overload config file; the server does not start on a bad one.
fn read_overload_config(path: &std::path::Path) -> Result<OverloadConfig, ConfigError> {
    let fail = |message: String| ConfigError::OverloadFile {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    OverloadConfig::parse(&text).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn defaults_match_the_original_service() {
        let config = Args::parse_from(["reference-server"])
            .into_config()
            .unwrap();
        assert_eq!(config.listen, "127.0.0.1:5000".parse().unwrap());
        assert_eq!(config.ping_interval, Duration::from_secs(25));
        assert_eq!(config.ping_timeout, Duration::from_secs(20));
        assert_eq!(config.max_payload, 1_000_000);
        assert_eq!(config.room_list_rate_limit, None);
        assert!(config.overload.config.enabled);
        assert!(!config.overload.pinned_off);
        assert_eq!(config.overload.admin_token, None);
    }

    #[test]
    fn amplification_bounds_have_flags_and_refuse_unworkable_values() {
        let config = Args::parse_from(["reference-server"])
            .into_config()
            .unwrap();
        assert_eq!(config.bounds, Bounds::DEFAULT);
        let config = Args::parse_from([
            "reference-server",
            "--outbound-queue-bytes",
            "1048576",
            "--ai-max-chunks",
            "8",
            "--ai-question-bytes",
            "100",
            "--read-ids-per-event",
            "50",
            "--reactions-per-message",
            "10",
            "--reactions-per-user",
            "2",
        ])
        .into_config()
        .unwrap();
        assert_eq!(
            config.bounds,
            Bounds {
                outbound_queue_bytes: 1 << 20,
                ai_max_chunks: 8,
                ai_question_bytes: 100,
                read_ids_per_event: 50,
                reactions: ReactionCaps {
                    per_message: 10,
                    per_user: 2,
                },
            }
        );
        for (flag, value, says) in [
            ("--outbound-queue-bytes", "1000", "at least 65536"),
            ("--ai-max-chunks", "0", "4 to 1000"),
            ("--ai-question-bytes", "1", "16 to 100000"),
            ("--read-ids-per-event", "0", "1 to 100000"),
            ("--reactions-per-message", "0", "1 to 1000"),
            (
                "--reactions-per-user",
                "50",
                "1 to --reactions-per-message (20)",
            ),
        ] {
            let err = Args::parse_from(["reference-server", flag, value])
                .into_config()
                .unwrap_err()
                .to_string();
            assert!(err.contains(flag) && err.contains(says), "{flag}: {err}");
        }
    }

    #[test]
    fn overload_flags_and_file() {
        let config = Args::parse_from(["reference-server", "--overload", "off"])
            .into_config()
            .unwrap();
        assert!(config.overload.pinned_off);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.toml");
        std::fs::write(&path, "[hot]\npush_probability = 0.5\n").unwrap();
        let arg = path.to_str().unwrap();
        let config = Args::parse_from(["reference-server", "--overload-config", arg])
            .into_config()
            .unwrap();
        assert_eq!(config.overload.config.hot.push_probability, 0.5);
        assert_eq!(config.overload.file.as_deref(), Some(path.as_path()));
        std::fs::write(&path, "[hot]\npush_probability = 5\n").unwrap();
        let err = Args::parse_from(["reference-server", "--overload-config", arg])
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("hot.push_probability"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_the_allowed_range() {
        let err = Args::parse_from(["reference-server", "--ping-interval-ms", "0"])
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("more than 0 ms"), "{err}");
        let err = Args::parse_from(["reference-server", "--jwt-secret", "short"])
            .into_config()
            .unwrap_err();
        assert!(err.to_string().contains("at least 16 bytes"), "{err}");
        let ok = Args::parse_from(["reference-server", "--room-list-rate-limit", "60"])
            .into_config()
            .unwrap();
        assert_eq!(ok.room_list_rate_limit, NonZeroU32::new(60));
    }

    #[test]
    fn files_go_to_a_directory_or_a_bucket() {
        let parse = |args: &[&str]| {
            let mut all = vec!["reference-server"];
            all.extend_from_slice(args);
            Args::parse_from(all).into_config()
        };
        let c = parse(&["--files", "dir:/tmp/up"]).unwrap();
        assert_eq!((c.files_dir, c.s3), (PathBuf::from("/tmp/up"), None));
        assert_eq!(
            parse(&["--files-dir", "x"]).unwrap().files_dir,
            PathBuf::from("x")
        );
        let c = parse(&[
            "--files",
            "s3://chat/prod",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-access-key-id",
            "ak",
            "--s3-secret-access-key",
            "sk",
        ])
        .unwrap();
        let s3 = c.s3.unwrap();
        assert_eq!((s3.bucket.as_str(), s3.prefix.as_str()), ("chat", "prod"));
        assert!(!format!("{s3:?}").contains("sk"), "no secret in logs");
        let err = parse(&["--files", "s3://chat", "--s3-access-key-id", "ak"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--s3-secret-access-key"), "{err}");
        let err = parse(&["--files", "s3://chat", "--s3-endpoint", "localhost:9000"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("http://"), "{err}");
    }

    #[test]
    fn overload_coordinates_on_the_store_redis_unless_told_otherwise() {
        let coordination = |args: &[&str]| {
            let mut all = vec!["reference-server"];
            all.extend_from_slice(args);
            Args::parse_from(all).into_config().unwrap().overload.redis
        };
        assert_eq!(coordination(&[]), None);
        assert_eq!(
            coordination(&["--store", "redis://127.0.0.1:6379/"]),
            Some(RedisTarget::Standalone("redis://127.0.0.1:6379/".into()))
        );
        assert_eq!(
            coordination(&["--store", "redis+cluster://127.0.0.1:7000"]),
            Some(RedisTarget::Cluster(vec!["redis://127.0.0.1:7000".into()]))
        );
        let err = Args::parse_from(["reference-server", "--overload-redis", "mongodb://x"])
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("--overload-redis"), "{err}");
        assert_eq!(
            coordination(&[
                "--store",
                "redis://127.0.0.1:6379/",
                "--overload-redis",
                "redis://127.0.0.2:6379/"
            ]),
            Some(RedisTarget::Standalone("redis://127.0.0.2:6379/".into()))
        );
    }

    #[test]
    fn client_message_id_ttl_is_seconds_within_a_day() {
        let parse = |secs: &str| {
            Args::parse_from(["reference-server", "--client-message-id-ttl-secs", secs])
                .into_config()
        };
        assert_eq!(
            parse("60").unwrap().client_message_id_ttl,
            Duration::from_secs(60)
        );
        for bad in ["0", "86401"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("1 to 86400 whole seconds"), "{err}");
        }
        assert_eq!(
            Args::parse_from(["reference-server"])
                .into_config()
                .unwrap()
                .client_message_id_ttl,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn redis_publish_retries_are_at_most_ten() {
        let parse = |n: &str| {
            Args::parse_from(["reference-server", "--redis-publish-retries", n]).into_config()
        };
        assert_eq!(parse("0").unwrap().redis_publish_retries, 0);
        let err = parse("11").unwrap_err().to_string();
        assert!(err.contains("0 to 10"), "{err}");
    }

    #[test]
    fn redis_log_cap_is_ten_to_a_hundred_thousand() {
        let parse =
            |n: &str| Args::parse_from(["reference-server", "--redis-log-cap", n]).into_config();
        assert_eq!(
            Args::parse_from(["reference-server"])
                .into_config()
                .unwrap()
                .redis_log_cap,
            1000
        );
        assert_eq!(parse("10").unwrap().redis_log_cap, 10);
        for bad in ["9", "100001"] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(
                err.contains("--redis-log-cap") && err.contains("10 to 100000"),
                "{err}"
            );
        }
    }

    #[test]
    fn stores_parse_and_bad_ones_say_what_works() {
        let parse =
            |store: &str| Args::parse_from(["reference-server", "--store", store]).into_config();
        assert_eq!(parse("memory").unwrap().store, StoreConfig::Memory);
        assert!(matches!(
            parse("redis+cluster://127.0.0.1:7000,127.0.0.1:7001").unwrap().store,
            StoreConfig::Redis(t) if t.is_cluster()
        ));
        let err = parse("postgres://x").unwrap_err().to_string();
        assert!(
            err.starts_with("--store:") && err.contains("redis://host:port"),
            "{err}"
        );
        let err = Args::parse_from(["reference-server", "--redis-prefix", "a{b}"])
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("no braces"), "{err}");
    }

    #[test]
    fn cors_origins_are_star_or_a_list_of_origins() {
        let parse = |list: &str| {
            Args::parse_from(["reference-server", "--cors-origins", list]).into_config()
        };
        assert_eq!(parse("*").unwrap().cors_origins, None);
        assert_eq!(
            parse("https://chat.example.com, http://localhost:3000")
                .unwrap()
                .cors_origins,
            Some(vec![
                "https://chat.example.com".to_owned(),
                "http://localhost:3000".to_owned()
            ])
        );
        for bad in [
            "chat.example.com",
            "https://chat.example.com/app",
            ",",
            "ftp://x",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("--cors-origins:"), "{bad}: {err}");
        }
    }
}
