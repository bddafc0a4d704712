//! [`Peer`]: who is on the other end of a request — address and user agent — for the duplicate-login
//! notice and per-IP rate limiting. Forwarding headers are ignored: they are trivially spoofed, and
//! the reference server is not deployed behind a trusted proxy.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

/// Address and user agent of a client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peer {
    /// Client IP, empty when the server was not started with connect info (router-only tests).
    pub ip: String,
    /// The same address, for limits per address; `None` without connect info.
    pub addr: Option<IpAddr>,
    /// The `User-Agent` header, empty when absent.
    pub user_agent: String,
}

impl Peer {
    /// Reads the peer from request parts.
    pub fn of(parts: &Parts) -> Self {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = addr.map(|a| a.to_string()).unwrap_or_default();
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect();
        Peer {
            ip,
            addr,
            user_agent,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Peer::of(parts))
    }
}
