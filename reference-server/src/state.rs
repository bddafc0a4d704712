//! [`AppState`]: the wired server every door is handed. The REST handlers take it whole; the
//! gateway's doors take their share ([`GatewayState`], through axum's [`FromRef`]), so the gateway
//! never names the state that holds it and the layers stay free of circles.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::auth::Auth;
use crate::blob::BlobStore;
use crate::config::ServerConfig;
use crate::gateway::{Gateway, GatewayState};
use crate::limit::RateLimiter;
use crate::overload::Overload;
use crate::store::ChatStore;

/// Everything a handler or socket task needs; cheap to clone. Built by `AppState::new` in the
/// crate root.
#[derive(Clone)]
pub struct AppState {
    /// The settings the server runs with.
    pub config: Arc<ServerConfig>,
    /// Chat state.
    pub store: Arc<dyn ChatStore>,
    /// File contents.
    pub blobs: Arc<dyn BlobStore>,
    /// Password hashing and tokens.
    pub auth: Arc<Auth>,
    /// Connections, rooms and fan-out.
    pub gateway: Arc<Gateway>,
    /// Overload control: admission, levels, hot rooms, live config.
    pub overload: Arc<Overload>,
    pub(crate) room_list_limiter: Option<Arc<RateLimiter>>,
    /// Login attempts per e-mail address and per client address, when limited.
    pub(crate) login_limiters: Arc<LoginLimiters>,
}

/// Login attempt limits: `None` is off.
#[derive(Debug, Default)]
pub(crate) struct LoginLimiters {
    pub(crate) per_account: Option<RateLimiter>,
    pub(crate) per_address: Option<RateLimiter>,
}

impl FromRef<AppState> for GatewayState {
    fn from_ref(state: &AppState) -> Self {
        GatewayState {
            gateway: Arc::clone(&state.gateway),
            store: Arc::clone(&state.store),
            auth: Arc::clone(&state.auth),
            overload: Arc::clone(&state.overload),
        }
    }
}
