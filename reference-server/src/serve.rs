//! Accepting connections: the router served over HTTP/1.1 by hyper, with what `axum::serve` leaves
//! out — a deadline for each request's headers, which also closes a connection that stays silent
//! or idle between requests, and a cap on the connections one peer address may hold — and the
//! graceful shutdown it has. Every accepted socket gets `TCP_NODELAY`, every request its peer's
//! address (`ConnectInfo`), and websocket upgrades work as under `axum::serve`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Limits on connections before any request is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a connection has to send a request's headers, counted from when the server starts
    /// waiting for them: on a new connection, and between requests on a kept-alive one.
    pub header_read_timeout: Duration,
    /// Connections one peer address may hold open at once; `None`: no cap.
    pub per_peer: Option<NonZeroUsize>,
}

impl ConnectionLimits {
    /// The defaults: 30 s for headers (hyper's own default, which `axum::serve` never turns on),
    /// no per-peer cap (load tests open thousands of connections from one address).
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(30),
        per_peer: None,
    };
}

/// Open connections per peer address. A [`PeerSlot`] gives its place back when dropped.
#[derive(Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    /// A place for one more connection of `ip`, or `None` when it holds `cap` already.
    fn take(self: &Arc<Self>, ip: IpAddr, cap: Option<NonZeroUsize>) -> Option<PeerSlot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(ip).or_insert(0);
        if cap.is_some_and(|cap| *count >= cap.get()) {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            peers: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `stop` is cancelled, then closes every connection gracefully
/// (requests in flight finish, idle connections close) and returns once all have ended.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let peers = Arc::new(Peers::default());
    let connections = TaskTracker::new();
    loop {
        let (tcp, remote) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin (what
                    // axum::serve does too); the listener itself stays.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = peers.take(remote.ip(), limits.per_peer) else {
            tracing::debug!(%remote, "connection refused: the peer holds its cap of connections");
            continue;
        };
        // Chat frames are small and latency is the product: never let Nagle's algorithm hold a
        // frame back waiting for the peer's ACK (up to 40 ms on loopback, more on a network).
        let _ = tcp.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.map(Body::new)
            });
        let stop = stop.clone();
        connections.spawn(async move {
            let _slot = slot;
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout);
            let connection = http
                .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                () = stop.cancelled() => connection.as_mut().graceful_shutdown(),
            }
            let _ = connection.await;
        });
    }
    connections.close();
    connections.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_holds_at_most_its_cap_and_gets_places_back() {
        let peers = Arc::new(Peers::default());
        let ip: IpAddr = [127, 0, 0, 2].into();
        let other: IpAddr = [127, 0, 0, 3].into();
        let cap = NonZeroUsize::new(2);
        let a = peers.take(ip, cap).unwrap();
        let _b = peers.take(ip, cap).unwrap();
        assert!(peers.take(ip, cap).is_none());
        assert!(
            peers.take(other, cap).is_some(),
            "another address has its own cap"
        );
        drop(a);
        assert!(peers.take(ip, cap).is_some());
        assert!(peers.take(ip, None).is_some(), "no cap");
    }
}
