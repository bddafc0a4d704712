//! Accepting connections: the router served over HTTP/1.1 by hyper, with what `axum::serve` leaves
//! out — a deadline for each request's headers, which also closes a connection that stays silent
//! or idle between requests, a deadline for each request's body (whether or not overload control
//! bounds the request), and a cap on the connections one peer address may hold — and the graceful
//! shutdown it has. Every accepted socket gets `TCP_NODELAY`, every request its peer's
//! address (`ConnectInfo`), and websocket upgrades work as under `axum::serve`.

use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body::Body as _;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use protocol::rest::StatusResponse;
use tokio::net::TcpListener;
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::limit::PeerSlots;

/// Limits on connections before any request is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a connection has to send a request's headers, counted from when the server starts
    /// waiting for them: on a new connection, and between requests on a kept-alive one.
    pub header_read_timeout: Duration,
    /// Time a request's body has to arrive whole, counted from its headers; a body still arriving
    /// then fails its handler's read, and the answer is 408 with `Connection: close`.
    pub body_timeout: Duration,
    /// Connections one peer address may hold open at once; `None`: no cap.
    pub per_peer: Option<NonZeroUsize>,
}

impl ConnectionLimits {
    /// The defaults: 30 s for headers (hyper's own default, which `axum::serve` never turns on),
    /// 60 s for a body (the largest upload, 10 MB, at 1.4 Mbit/s), no per-peer cap (load tests
    /// open thousands of connections from one address).
    pub const DEFAULT: ConnectionLimits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(60),
        per_peer: None,
    };
}

/// Serves `app` on `listener` until `stop` is cancelled, then closes every connection gracefully
/// (requests in flight finish, idle connections close) and returns once all have ended.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let peers = Arc::new(PeerSlots::default());
    let app = app.layer(middleware::from_fn_with_state(
        limits.body_timeout,
        body_deadline,
    ));
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

/// Middleware: the request's body must arrive whole within `budget` of its headers. The handler
/// reads it as usual; past the deadline its read fails, and whatever the handler answered then is
/// replaced by 408 with `Connection: close` (the rest of the body is never read).
async fn body_deadline(State(budget): State<Duration>, request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(budget)),
            expired: Arc::clone(&expired),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Relaxed) {
        return response;
    }
    let body = StatusResponse::failure(
        "BODY_TIMEOUT",
        format!(
            "The request body did not arrive within {} ms (--body-timeout-ms).",
            budget.as_millis()
        ),
    );
    let mut response = (StatusCode::REQUEST_TIMEOUT, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The reason a [`DeadlineBody`] gives its reader.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within its deadline")]
struct BodyTimedOut;

/// A request body that fails once its deadline has passed (and keeps failing: a read that ended
/// early must never look like a body that ended).
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if !this.expired.load(Ordering::Relaxed) {
            // What has arrived is handed on even at the deadline; only waiting for more is cut.
            if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
                return Poll::Ready(frame);
            }
            if this.deadline.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.expired.store(true, Ordering::Relaxed);
        }
        Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
