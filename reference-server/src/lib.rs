//! The reference chat server: the competition's chat protocol (REST + Socket.IO v4, see
//! `docs/protocol.md`) served well enough for the original web frontend and the real
//! `socket.io-client`, as the system under test for stampede's demos, tests and benchmarks.
//!
//! Run it in-process with [`start`] (tests and `stampede demo` bind `127.0.0.1:0`), or as the
//! `reference-server` binary. [`app`] builds the router alone, for handler tests without a socket.
//!
//! # Layout
//! - [`config`]: [`ServerConfig`] and the command line that resolves into it.
//! - [`store`]: the [`ChatStore`] trait (users, sessions, rooms, messages, file
//!   metadata) and its implementations in memory and on Redis (standalone or Cluster).
//! - [`blob`]: the [`BlobStore`] trait (file contents) and its local-directory
//!   implementation.
//! - [`auth`]: password hashing, tokens, the one authentication check.
//! - [`api`]: REST handlers.
//! - [`gateway`]: the Socket.IO server — Engine.IO transports, rooms, fan-out (here and, over
//!   Redis, across instances), chat events.
//! - [`ai`]: the deterministic AI bot.
//! - [`overload`]: overload control — request classification, load levels, bulkheads, hot rooms,
//!   live configuration, `/metrics` and `/admin/overload`.
//! - [`views`]: store records → wire DTOs.
//! - [`error`], [`peer`], [`limit`]: REST errors; who is on the other end of a request; request
//!   counting per client.
//! - [`serve`]: the accept loop: hyper with a header-read deadline and a per-peer connection cap.
//! - [`state`]: [`AppState`], what every door is handed; the gateway takes only its share of it
//!   ([`gateway::GatewayState`]), so nothing below the root imports the root.
//! - [`frame`]: the encoded event frame every layer that moves events shares.

pub mod ai;
pub mod api;
pub mod auth;
pub mod blob;
pub mod config;
pub mod error;
pub mod frame;
pub mod gateway;
pub mod limit;
pub mod overload;
pub mod peer;
pub mod serve;
pub mod state;
pub mod store;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::Auth;
pub use crate::auth::KdfParams;
use crate::blob::BlobStore;
use crate::blob::local::LocalBlobStore;
use crate::blob::s3::S3BlobStore;
pub use crate::config::{ServerConfig, StoreConfig};
use crate::gateway::bus::{Bus, Local};
use crate::gateway::{Gateway, GatewaySettings};
use crate::limit::RateLimiter;
use crate::overload::Overload;
pub use crate::state::AppState;
use crate::store::ChatStore;
use crate::store::memory::MemoryStore;
use crate::store::redis::{RedisOptions, RedisStore};

/// The window of every per-client request limit (room list, logins): their flags count per minute.
const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is out of range.
    #[error("invalid configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// Argon2 refused the KDF parameters.
    #[error("invalid password hashing cost: {0}")]
    Kdf(argon2::Error),
    /// The files directory cannot be used.
    #[error("cannot use files directory {path}: {source}")]
    FilesDir {
        /// The directory.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The S3 bucket cannot be used.
    #[error("cannot use files at {place}: {reason}")]
    Files {
        /// The bucket (and endpoint).
        place: String,
        /// Why.
        reason: String,
    },
    /// The store cannot be used (Redis unreachable at start, say).
    #[error("cannot use the store at {url}: {reason}")]
    Store {
        /// The store's URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Overload coordination (Redis) could not be set up.
    #[error("cannot set up overload coordination: {0}")]
    Coordination(#[from] overload::coord::CoordError),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl AppState {
    /// Wires the server's parts around the given stores. Draws a random token secret (with a warning)
    /// when the config has none.
    pub fn new(
        config: ServerConfig,
        store: Arc<dyn ChatStore>,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Self, StartError> {
        config.validate()?;
        let secret = match &config.jwt_secret {
            Some(secret) => secret.as_bytes().to_vec(),
            None => {
                tracing::warn!(
                    "no JWT secret configured: using a random one; tokens will not work on any \
                     other instance (set JWT_SECRET for multi-instance deployments)"
                );
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        let auth = Auth::new(config.kdf, &secret).map_err(StartError::Kdf)?;
        let gateway = Gateway::new(GatewaySettings::from(&config), config.max_connections);
        let room_list_limiter = config
            .room_list_rate_limit
            .map(|limit| Arc::new(RateLimiter::new(limit, MINUTE)));
        let overload = Arc::new(Overload::new(&config.overload));
        let login_limiters = Arc::new(state::LoginLimiters {
            per_account: config
                .login_rate_limit_per_account
                .map(|limit| RateLimiter::new(limit, MINUTE)),
            per_address: config
                .login_rate_limit_per_address
                .map(|limit| RateLimiter::new(limit, MINUTE)),
        });
        gateway.attach_overload(Arc::clone(&overload));
        Ok(AppState {
            config: Arc::new(config),
            store,
            blobs,
            auth: Arc::new(auth),
            gateway: Arc::new(gateway),
            overload,
            room_list_limiter,
            login_limiters,
        })
    }
}

/// The whole HTTP surface: REST, `/health`, profile images, and Socket.IO on `/socket.io/`.
pub fn app(state: AppState) -> Router {
    let socket = get(gateway::engine::get).post(gateway::engine::post);
    let cors = cors_layer(state.config.cors_origins.as_deref());
    api::router(&state)
        .route(protocol::SOCKET_PATH, socket.clone())
        .route("/socket.io", socket)
        .layer(cors)
        // Merged after the CORS layer: no browser page of another origin may call the admin routes.
        .merge(api::admin::router())
        .with_state(state)
}

/// CORS with credentials for `origins`, or for any origin when `None` (the development default).
fn cors_layer(origins: Option<&[String]>) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    match origins {
        None => CorsLayer::very_permissive(),
        Some(origins) => {
            let origins: Vec<axum::http::HeaderValue> = origins
                .iter()
                .filter_map(|o| axum::http::HeaderValue::from_str(o).ok())
                .collect();
            CorsLayer::very_permissive().allow_origin(AllowOrigin::list(origins))
        }
    }
}

/// A server running in this process.
pub struct RunningServer {
    local_addr: SocketAddr,
    state: AppState,
    stop: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

/// Why a graceful shutdown was not clean.
#[derive(Debug, thiserror::Error)]
pub enum ShutdownError {
    /// Work was still running at the deadline and was abandoned.
    #[error("shutdown deadline of {0:?} passed; remaining work abandoned")]
    DeadlineExceeded(std::time::Duration),
    /// The HTTP server failed.
    #[error("server error: {0}")]
    Server(#[from] std::io::Error),
}

/// Starts the server with the store and blob store its config names, bound to `config.listen`.
/// With a Redis store the instance joins the cross-instance fan-out of every instance on that Redis.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    config.validate()?;
    let blobs: Arc<dyn BlobStore> = match &config.s3 {
        Some(s3) => Arc::new(S3BlobStore::open(s3).await.map_err(|e| StartError::Files {
            place: s3.describe(),
            reason: e.to_string(),
        })?),
        None => Arc::new(
            LocalBlobStore::open(&config.files_dir)
                .await
                .map_err(|source| StartError::FilesDir {
                    path: config.files_dir.clone(),
                    source,
                })?,
        ),
    };
    match config.store.clone() {
        StoreConfig::Memory => {
            let store = MemoryStore::with_client_id_ttl(config.client_message_id_ttl);
            let state = AppState::new(config, Arc::new(store), blobs)?;
            start_with(state).await
        }
        StoreConfig::Redis(target) => {
            let url = target.to_string();
            let failed = |e: &dyn std::fmt::Display| StartError::Store {
                url: url.clone(),
                reason: e.to_string(),
            };
            let options = RedisOptions {
                client_id_ttl: config.client_message_id_ttl,
                publish_retries: config.redis_publish_retries,
                log_cap: config.redis_log_cap,
                ..config.redis.options(&target)
            };
            let (pushes, inbox) = tokio::sync::mpsc::unbounded_channel();
            let store = RedisStore::connect(target, options, pushes)
                .await
                .map_err(|e| failed(&e))?;
            store.check_replicas().await.map_err(|e| failed(&e))?;
            let store = Arc::new(store);
            let state = AppState::new(config, Arc::clone(&store) as _, blobs)?;
            let stop = state.gateway.shutdown_token().clone();
            let local: std::sync::Weak<dyn Local> = Arc::downgrade(&state.gateway) as _;
            let bus = Bus::start(store, inbox, local, stop)
                .await
                .map_err(|e| failed(&e))?;
            state.gateway.attach_bus(bus);
            start_with(state).await
        }
    }
}

/// Starts the server around an already wired state (other stores, shared test fixtures).
pub async fn start_with(state: AppState) -> Result<RunningServer, StartError> {
    let (tracker, stop) = (
        state.gateway.tracker(),
        state.gateway.shutdown_token().clone(),
    );
    overload::start(
        &state.overload,
        &state.config.overload,
        &state.config.redis,
        tracker,
        &stop,
    )
    .await?;
    tracker.spawn(gateway::push::flush_owed(
        Arc::clone(&state.gateway),
        Arc::clone(&state.overload),
        stop.clone(),
    ));
    tracker.spawn(api::unposted::sweep(state.clone(), stop));
    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    let local_addr = listener
        .local_addr()
        .map_err(|source| StartError::Bind { addr, source })?;
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve::serve(
        listener,
        app(state.clone()),
        state.config.connections,
        stop.clone(),
    ));
    tracing::info!(%local_addr, "reference server listening");
    Ok(RunningServer {
        local_addr,
        state,
        stop,
        server,
    })
}

impl RunningServer {
    /// The bound address (the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<local_addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The running server's state (store, gateway, …), for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Graceful shutdown: stop accepting, send every socket a Socket.IO disconnect, let in-flight
    /// requests and socket cleanups finish, all within the configured deadline.
    pub async fn shutdown(self) -> Result<(), ShutdownError> {
        let deadline = self.state.config.shutdown_deadline;
        self.stop.cancel();
        self.state.gateway.begin_shutdown();
        let mut server = self.server;
        let gateway = Arc::clone(&self.state.gateway);
        let drained = async {
            let served = (&mut server).await;
            gateway.wait_idle().await;
            served
        };
        match tokio::time::timeout(deadline, drained).await {
            Ok(Ok(result)) => result.map_err(ShutdownError::from),
            Ok(Err(join)) => Err(ShutdownError::Server(std::io::Error::other(join))),
            Err(_) => {
                server.abort();
                Err(ShutdownError::DeadlineExceeded(deadline))
            }
        }
    }
}
