//! Server settings: the validated [`ServerConfig`] the library runs with, and the command line
//! ([`Args`]) that the binary resolves into it. Every flag is also an environment variable.
//!
//! Library callers (tests, `stampede demo`) build a [`ServerConfig`] directly, usually from
//! [`ServerConfig::default`]; the clap struct never travels past `main`.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use crate::overload::{OverloadConfig, OverloadSettings};

/// Argon2id cost of password hashing.
///
/// The default (19 MiB, 2 passes) is OWASP's recommended minimum for argon2id. Measured on the 2-core
/// development box with `cargo run --release -p reference-server --example kdf_cost`: 15.5 ms per
/// hash, 62 hashes/s with both cores busy (the original's bcrypt cost 10 was slower still). Every
/// register and every login costs one hash, so this caps sign-ups + logins at ~60/s and takes CPU
/// from chat while it does; for load tests that sign users up fast, 4096 KiB × 1 pass gives 1.6 ms
/// and ~675 hashes/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory per hash in KiB (at least 8).
    pub memory_kib: u32,
    /// Passes over the memory (at least 1).
    pub iterations: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl KdfParams {
    /// The cheapest cost argon2 allows: for tests only.
    pub const MINIMAL: KdfParams = KdfParams {
        memory_kib: 8,
        iterations: 1,
    };
}

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
    /// Largest Engine.IO packet/websocket message accepted, in bytes (the original's default: 1,000,000).
    pub max_payload: usize,
    /// Pause between chunks of an AI reply stream.
    pub ai_chunk_delay: Duration,
    /// Directory of the local blob store (uploaded files and profile images).
    pub files_dir: PathBuf,
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
    /// Overload control: the starting config, the watched file, the admin token, coordination.
    pub overload: OverloadSettings,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5000)),
            jwt_secret: None,
            kdf: KdfParams::default(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            max_payload: 1_000_000,
            ai_chunk_delay: Duration::from_millis(50),
            files_dir: PathBuf::from("uploads"),
            max_connections: 10_000,
            outbound_queue: 8192,
            shutdown_deadline: Duration::from_secs(10),
            room_list_rate_limit: None,
            overload: OverloadSettings::default(),
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
        check(
            !self.ping_interval.is_zero(),
            "ping interval",
            format!("{:?}", self.ping_interval),
            "more than 0 ms",
        )?;
        check(
            !self.ping_timeout.is_zero(),
            "ping timeout",
            format!("{:?}", self.ping_timeout),
            "more than 0 ms",
        )?;
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
        if let Some(secret) = &self.jwt_secret {
            check(
                secret.len() >= 16,
                "jwt secret length",
                secret.len(),
                "at least 16 bytes",
            )?;
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
    /// Largest Engine.IO packet / websocket message, bytes.
    #[arg(long, env = "CHAT_MAX_PAYLOAD", default_value_t = 1_000_000)]
    pub max_payload: usize,
    /// Milliseconds between chunks of the AI bot's streamed reply.
    #[arg(long, env = "CHAT_AI_CHUNK_DELAY_MS", default_value_t = 50)]
    pub ai_chunk_delay_ms: u64,
    /// Directory for uploaded files and profile images.
    #[arg(long, env = "CHAT_FILES_DIR", default_value = "uploads")]
    pub files_dir: PathBuf,
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
    /// Redis URL (`redis://host:port/db`) shared by instances for hot rooms and config revisions.
    /// Unset: this instance decides alone.
    #[arg(long, env = "CHAT_OVERLOAD_REDIS")]
    pub overload_redis: Option<String>,
}

/// `on` / `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

impl Args {
    /// Resolves the flags into a validated config.
    pub fn into_config(self) -> Result<ServerConfig, ConfigError> {
        let config = ServerConfig {
            listen: self.listen,
            jwt_secret: self.jwt_secret.filter(|s| !s.is_empty()),
            kdf: KdfParams {
                memory_kib: self.kdf_memory_kib,
                iterations: self.kdf_iterations,
            },
            ping_interval: Duration::from_millis(self.ping_interval_ms),
            ping_timeout: Duration::from_millis(self.ping_timeout_ms),
            max_payload: self.max_payload,
            ai_chunk_delay: Duration::from_millis(self.ai_chunk_delay_ms),
            files_dir: self.files_dir,
            max_connections: self.max_connections,
            outbound_queue: self.outbound_queue,
            shutdown_deadline: Duration::from_millis(self.shutdown_deadline_ms),
            room_list_rate_limit: NonZeroU32::new(self.room_list_rate_limit),
            overload: OverloadSettings {
                config: match &self.overload_config {
                    None => OverloadConfig::default(),
                    Some(path) => read_overload_config(path)?,
                },
                pinned_off: self.overload == Switch::Off,
                file: self.overload_config,
                admin_token: self.admin_token.filter(|t| !t.is_empty()),
                redis_url: self.overload_redis.filter(|u| !u.is_empty()),
            },
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
}
