//! The HTTP side of `/socket.io/`: Engine.IO handshakes for both transports, the long-polling GET and
//! POST, websocket upgrades, and the probe that moves a polling session onto a websocket.
//!
//! Transport facts the real `socket.io-client` relies on: a polling handshake offers
//! `upgrades:["websocket"]`; a client upgrades by opening a websocket with the same `sid`, sending
//! `2probe` (answered `3probe`), waiting for its pending GET to return (the server answers it with a `6`
//! noop), and sending `5`. Websocket-only clients (`transports:['websocket']`) skip all of this.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::ws::{
    Message, WebSocket, WebSocketUpgrade, rejection::WebSocketUpgradeRejection,
};
use axum::extract::{Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::engineio::{OpenPacket, PROBE_PING, PROBE_PONG, RECORD_SEPARATOR};
use serde::Deserialize;
use tokio::sync::{Mutex as AsyncMutex, Notify, mpsc, oneshot};

use super::GatewayState;
use super::conn::{Conn, Frame, OutboundRx, OutboundTx, Polling, outbound_queue};
use super::session::{Link, Outbound, Session, random_sid};
use crate::limit::PeerSlot;
use crate::overload::Overload;
use crate::peer::Peer;

/// Websocket read buffer per connection, allocated up front and kept while the socket is idle.
/// Tungstenite's default (128 KiB) would dominate an idle chat connection's memory; clients send
/// small frames (a chat message, a receipt, a pong), and a larger one is read in steps of this
/// size into room reserved for the whole frame. 1 KiB instead of 4 saves 3 KiB per idle
/// connection (`examples/conn_memory.rs`: 11.6 → 8.6 KiB).
pub const WS_READ_BUFFER: usize = 1024;
/// Bytes of frames buffered before they are written to the socket. The buffer grows only when
/// written to, so it costs an idle connection nothing; fan-out bursts are written in steps of this.
pub const WS_WRITE_BUFFER: usize = 4 * 1024;
/// POST bodies queued for one polling session before the poster waits.
const POLL_INBOUND_QUEUE: usize = 4;

/// The query of every `/socket.io/` request.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EngineQuery {
    /// Engine.IO protocol revision; only `4` is served.
    #[serde(rename = "EIO")]
    pub eio: Option<String>,
    /// `polling` or `websocket`.
    pub transport: Option<String>,
    /// Session id, on every request after the handshake.
    pub sid: Option<String>,
}

/// Engine.IO's error codes for refused requests.
#[derive(Debug, Clone, Copy)]
enum EngineError {
    UnknownTransport,
    UnknownSid,
    BadRequest,
    UnsupportedVersion,
    TooManyConnections,
    TooManyUnauthenticated,
    PayloadTooLarge,
}

impl IntoResponse for EngineError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            EngineError::UnknownTransport => (StatusCode::BAD_REQUEST, 0, "Transport unknown"),
            EngineError::UnknownSid => (StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
            EngineError::BadRequest => (StatusCode::BAD_REQUEST, 3, "Bad request"),
            EngineError::UnsupportedVersion => {
                (StatusCode::BAD_REQUEST, 5, "Unsupported protocol version")
            }
            EngineError::TooManyConnections => (
                StatusCode::SERVICE_UNAVAILABLE,
                3,
                "Server is at its connection limit",
            ),
            EngineError::TooManyUnauthenticated => (
                StatusCode::TOO_MANY_REQUESTS,
                3,
                "Too many sessions without a Socket.IO CONNECT from this address",
            ),
            EngineError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, 3, "Payload too large"),
        };
        (
            status,
            axum::Json(serde_json::json!({ "code": code, "message": message })),
        )
            .into_response()
    }
}

fn text(body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    response
}

fn check_version(query: &EngineQuery) -> Result<(), EngineError> {
    match query.eio.as_deref() {
        Some("4") => Ok(()),
        _ => Err(EngineError::UnsupportedVersion),
    }
}

/// `GET /socket.io/`: handshakes, polling GETs and websocket upgrades.
pub async fn get(
    State(state): State<GatewayState>,
    query: Result<Query<EngineQuery>, axum::extract::rejection::QueryRejection>,
    peer: Peer,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return EngineError::BadRequest.into_response();
    };
    if let Err(e) = check_version(&query) {
        return e.into_response();
    }
    match (query.transport.as_deref(), query.sid) {
        (Some("websocket"), sid) => {
            let Ok(ws) = ws else {
                return EngineError::BadRequest.into_response();
            };
            let ws = configure(ws, state.gateway.settings().max_payload);
            match sid {
                None => open_websocket(state, ws, peer),
                Some(sid) => upgrade_polling(&state, ws, &sid),
            }
        }
        (Some("polling"), None) => open_polling(state, peer),
        (Some("polling"), Some(sid)) => match state.gateway.lookup(&sid) {
            Some(conn) if conn.is_polling() => {
                poll(conn, state.gateway.settings().max_payload, &state.overload).await
            }
            Some(_) => EngineError::BadRequest.into_response(),
            None => EngineError::UnknownSid.into_response(),
        },
        _ => EngineError::UnknownTransport.into_response(),
    }
}

/// `POST /socket.io/`: packets from a polling client.
pub async fn post(
    State(state): State<GatewayState>,
    query: Result<Query<EngineQuery>, axum::extract::rejection::QueryRejection>,
    request: Request,
) -> Response {
    let Ok(Query(query)) = query else {
        return EngineError::BadRequest.into_response();
    };
    if let Err(e) = check_version(&query) {
        return e.into_response();
    }
    if query.transport.as_deref() != Some("polling") {
        return EngineError::UnknownTransport.into_response();
    }
    let Some(conn) = query
        .sid
        .as_deref()
        .and_then(|sid| state.gateway.lookup(sid))
    else {
        return EngineError::UnknownSid.into_response();
    };
    let Some(polling) = conn.polling.as_ref().filter(|_| conn.is_polling()) else {
        return EngineError::BadRequest.into_response();
    };
    let max = state.gateway.settings().max_payload;
    let Ok(bytes) = to_bytes(request.into_body(), max).await else {
        return EngineError::PayloadTooLarge.into_response();
    };
    let Ok(body) = String::from_utf8(bytes.to_vec()) else {
        return EngineError::BadRequest.into_response();
    };
    if polling.inbound.send(body).await.is_err() {
        return EngineError::UnknownSid.into_response();
    }
    let mut response = text("ok");
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

fn configure(ws: WebSocketUpgrade, max_payload: usize) -> WebSocketUpgrade {
    ws.read_buffer_size(WS_READ_BUFFER)
        .write_buffer_size(WS_WRITE_BUFFER)
        .max_message_size(max_payload)
        .max_frame_size(max_payload)
}

fn open_packet(state: &GatewayState, sid: &str, upgrades: &[&str]) -> String {
    let settings = state.gateway.settings();
    OpenPacket {
        sid: sid.to_owned(),
        upgrades: upgrades.iter().map(|u| (*u).to_owned()).collect(),
        ping_interval: settings.ping_interval.as_millis() as u64,
        ping_timeout: settings.ping_timeout.as_millis() as u64,
        max_payload: settings.max_payload as u64,
    }
    .encode()
}

/// What a new session holds from its handshake: its connection permit, and its place among its
/// peer's sessions without a CONNECT (given back once it connects).
pub(crate) struct Admission {
    pub(crate) permit: tokio::sync::OwnedSemaphorePermit,
    pub(crate) pending: Option<PeerSlot>,
}

/// A new session's admission, or the reason there is none.
fn admit(state: &GatewayState, peer: &Peer) -> Result<Admission, EngineError> {
    if state.gateway.shutdown_token().is_cancelled() {
        return Err(EngineError::TooManyConnections);
    }
    let pending = peer
        .addr
        .map(|addr| {
            state
                .gateway
                .admit_unauthenticated(addr)
                .ok_or(EngineError::TooManyUnauthenticated)
        })
        .transpose()?;
    let permit = Arc::clone(state.gateway.permits())
        .try_acquire_owned()
        .map_err(|_| EngineError::TooManyConnections)?;
    Ok(Admission { permit, pending })
}

/// A new session's outbound queue, bounded in frames and in bytes by the settings.
fn new_outbound_queue(state: &GatewayState) -> (OutboundTx, OutboundRx) {
    let settings = state.gateway.settings();
    outbound_queue(
        settings.outbound_queue,
        settings.bounds.outbound_queue_bytes,
    )
}

/// A websocket-only session: the open packet is the first frame on the socket.
fn open_websocket(state: GatewayState, ws: WebSocketUpgrade, peer: Peer) -> Response {
    let admission = match admit(&state, &peer) {
        Ok(admission) => admission,
        Err(e) => return e.into_response(),
    };
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        let sid: Arc<str> = random_sid().into();
        let (tx, rx) = new_outbound_queue(&state);
        let conn = Arc::new(Conn::new(Arc::clone(&sid), tx, None));
        let open = open_packet(&state, &sid, &[]);
        if socket.send(Message::Text(open.into())).await.is_err() {
            return;
        }
        state.gateway.register(Arc::clone(&conn));
        let link = Link::WebSocket {
            ws: socket,
            outbound: Outbound::Owned(rx),
        };
        let session = Session::new(state.clone(), conn, peer, admission);
        state
            .gateway
            .tracker()
            .track_future(session.run(link))
            .await;
    })
}

/// A polling session: the open packet is the handshake's response body.
fn open_polling(state: GatewayState, peer: Peer) -> Response {
    let admission = match admit(&state, &peer) {
        Ok(admission) => admission,
        Err(e) => return e.into_response(),
    };
    let sid: Arc<str> = random_sid().into();
    let (tx, rx) = new_outbound_queue(&state);
    let (inbound_tx, inbound_rx) = mpsc::channel(POLL_INBOUND_QUEUE);
    let (upgrade_tx, upgrade_rx) = oneshot::channel();
    let polling = Polling {
        outbound: Arc::new(AsyncMutex::new(rx)),
        inbound: inbound_tx,
        upgrade: std::sync::Mutex::new(Some(upgrade_tx)),
        upgraded: AtomicBool::new(false),
        noop: Notify::new(),
    };
    let conn = Arc::new(Conn::new(Arc::clone(&sid), tx, Some(polling)));
    state.gateway.register(Arc::clone(&conn));
    let link = Link::Polling {
        inbound: inbound_rx,
        upgrade: Some(upgrade_rx),
    };
    let session = Session::new(state.clone(), conn, peer, admission);
    state.gateway.tracker().spawn(session.run(link));
    text(open_packet(&state, &sid, &["websocket"]))
}

/// A polling GET: waits for outbound frames and returns them as one payload; `6` when an upgrade
/// needs the poll out of the way; `1` when the session is closed.
async fn poll(conn: Arc<Conn>, max_payload: usize, overload: &Overload) -> Response {
    let Some(polling) = conn.polling.as_ref() else {
        return EngineError::BadRequest.into_response();
    };
    // Engine.IO allows one GET at a time; a second one is a client bug and ends the session.
    let Ok(mut rx) = Arc::clone(&polling.outbound).try_lock_owned() else {
        conn.close(super::DisconnectReason::TransportError);
        return EngineError::BadRequest.into_response();
    };
    let first = tokio::select! {
        // Queued frames first, so a session closing with a goodbye still delivers it.
        biased;
        frame = rx.recv() => frame,
        () = polling.noop.notified() => return text("6"),
        () = conn.closing() => None,
    };
    let Some(first) = first else {
        return text("1");
    };
    let mut payload = String::from(first.as_str());
    let mut packets = 1;
    while payload.len() < max_payload {
        match rx.try_recv() {
            Ok(frame) => {
                payload.push(RECORD_SEPARATOR);
                payload.push_str(&frame);
                packets += 1;
            }
            Err(_) => break,
        }
    }
    overload.count_written(packets, payload.len() as u64);
    text(payload)
}

/// A websocket for an existing polling session: run the probe, then hand the socket to the session.
fn upgrade_polling(state: &GatewayState, ws: WebSocketUpgrade, sid: &str) -> Response {
    let Some(conn) = state.gateway.lookup(sid) else {
        return EngineError::UnknownSid.into_response();
    };
    if !conn.is_polling() {
        return EngineError::BadRequest.into_response();
    }
    let timeout = state.gateway.settings().ping_timeout;
    ws.on_upgrade(move |socket| probe(conn, socket, timeout))
}

async fn probe(conn: Arc<Conn>, mut socket: WebSocket, timeout: Duration) {
    let Some(polling) = conn.polling.as_ref() else {
        return;
    };
    let dance = async {
        match socket.recv().await {
            Some(Ok(Message::Text(t))) if t.as_str() == PROBE_PING => {}
            _ => return None,
        }
        socket
            .send(Message::Text(Frame::from_static(PROBE_PONG)))
            .await
            .ok()?;
        polling.noop.notify_one();
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(t))) if t.as_str() == "5" => return Some(()),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                _ => return None,
            }
        }
    };
    if tokio::time::timeout(timeout, dance).await != Ok(Some(())) || conn.is_closing() {
        // The client keeps polling; nothing changed for the session.
        return;
    }
    let sender = polling
        .upgrade
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    // `upgraded` is set by the session task when it takes over, not here: until then polling
    // requests still belong to the session.
    if let Some(sender) = sender {
        let _ = sender.send(socket);
    }
}
