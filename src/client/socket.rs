//! A Socket.IO v4 client over the Engine.IO websocket transport, built for many thousands of
//! instances per process.
//!
//! Each socket is one tokio-tungstenite stream with a 4 KiB read buffer and no write buffering,
//! plus one timer for the server's heartbeat. Pings are answered inside [`SioSocket::next`], so a VU
//! that is only reading keeps its session alive; frames are handed out undecoded so the caller parses
//! each event exactly once.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use protocol::engineio::{OpenPacket, Packet as EioPacket};
use protocol::events::{ChatMessageRequest, ConnectAuth, JoinRoomSuccess, name};
use protocol::socketio::{self, Body, Event};
use serde::Serialize;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Sleep;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::error::Failure;
use super::rest::Authed;
use crate::base::kinds::{FailureKind, Op};

/// Read buffer per socket. Chat frames are a few hundred bytes; a larger buffer would only cost
/// memory on every idle VU (tungstenite's default is 128 KiB).
pub const READ_BUFFER: usize = 4 * 1024;

/// Largest frame accepted from the server: the protocol's default `maxPayload`.
pub const MAX_MESSAGE: usize = 1_000_000;

/// How a socket is opened.
#[derive(Debug, Clone, Default)]
pub struct SocketOptions {
    /// Local address to bind (to spread connections over several loopback addresses).
    pub source_ip: Option<IpAddr>,
}

/// How long each stage of opening a socket took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectTimings {
    /// TCP connect plus websocket upgrade.
    pub ws: Duration,
    /// Engine.IO open plus Socket.IO CONNECT.
    pub sio: Duration,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// An open Socket.IO session on the default namespace.
#[derive(Debug)]
pub struct SioSocket {
    ws: Ws,
    heartbeat: Pin<Box<Sleep>>,
    heartbeat_window: Duration,
    sid: String,
}

/// An event frame received from the server, not yet decoded.
#[derive(Debug, Clone)]
pub struct Inbound {
    frame: Utf8Bytes,
}

impl Inbound {
    /// Decodes the event (name and raw arguments), borrowing from the frame.
    pub fn event(&self) -> Result<Event<'_>, Failure> {
        match socketio::Packet::decode_frame(self.frame.as_str()) {
            Ok(Some(socketio::Packet {
                body: Body::Event { event, .. },
                ..
            })) => Ok(event),
            Ok(_) => Err(Failure::protocol("expected an EVENT packet")),
            Err(e) => Err(Failure::protocol(format!("undecodable frame: {e}"))),
        }
    }

    /// The raw frame text.
    pub fn as_str(&self) -> &str {
        self.frame.as_str()
    }
}

/// Proof that the server accepted this VU into a room (built only from `joinRoomSuccess`), required to
/// send chat messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    room_id: String,
}

impl Joined {
    /// Accepts a `joinRoomSuccess` for the room that was asked for.
    pub fn from_success(asked: &str, success: &JoinRoomSuccess) -> Result<Joined, Failure> {
        // The original replies with the room id; servers that omit it are taken at their word.
        if !success.room_id.is_empty() && success.room_id != asked {
            return Err(Failure::protocol(format!(
                "joinRoomSuccess for room {} while joining {asked}",
                success.room_id
            )));
        }
        Ok(Joined {
            room_id: asked.to_owned(),
        })
    }

    /// The room.
    pub fn room_id(&self) -> &str {
        &self.room_id
    }
}

/// The websocket URL of a target's Socket.IO endpoint.
pub fn socket_url(base: &str) -> Result<reqwest::Url, Failure> {
    let mut url = reqwest::Url::parse(base).map_err(|e| {
        Failure::new(
            FailureKind::Transport,
            format!("bad target URL {base}: {e}"),
        )
    })?;
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|_| Failure::new(FailureKind::Transport, format!("bad target URL {base}")))?;
    url.set_path(protocol::SOCKET_PATH);
    url.set_query(Some("EIO=4&transport=websocket"));
    Ok(url)
}

impl SioSocket {
    /// Opens a socket for a signed-in user: websocket upgrade, Engine.IO open, Socket.IO CONNECT with
    /// `{token, sessionId}`. Failures name the stage ([`Op::WsConnect`] or [`Op::SioConnect`]).
    pub async fn connect(
        authed: &Authed,
        opts: &SocketOptions,
    ) -> Result<(SioSocket, ConnectTimings), (Op, Failure)> {
        let started = Instant::now();
        let url = socket_url(authed.base()).map_err(|f| (Op::WsConnect, f))?;
        let ws = open_ws(&url, opts).await.map_err(|f| (Op::WsConnect, f))?;
        let ws_done = Instant::now();
        let auth = ConnectAuth {
            token: authed.token().to_owned(),
            session_id: authed.session_id().to_owned(),
        };
        let socket = handshake(ws, &auth)
            .await
            .map_err(|f| (Op::SioConnect, f))?;
        Ok((
            socket,
            ConnectTimings {
                ws: ws_done - started,
                sio: ws_done.elapsed(),
            },
        ))
    }

    /// Engine.IO session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Sends a pre-encoded frame.
    async fn send_frame(&mut self, frame: String) -> Result<(), Failure> {
        self.ws
            .send(Message::Text(frame.into()))
            .await
            .map_err(|e| Failure::ws("socket send", &e))
    }

    /// Emits `name` with one payload argument.
    pub async fn emit<T: Serialize + ?Sized>(
        &mut self,
        name: &str,
        payload: &T,
    ) -> Result<(), Failure> {
        let frame = socketio::encode_event("/", None, name, Some(payload))
            .map_err(|e| Failure::protocol(e.to_string()))?;
        self.send_frame(frame).await
    }

    /// Emits `joinRoom`; the reply arrives through [`SioSocket::next`].
    pub async fn join_room(&mut self, room_id: &str) -> Result<(), Failure> {
        self.emit(name::JOIN_ROOM, room_id).await
    }

    /// Emits a `chatMessage` into a joined room.
    pub async fn chat(&mut self, room: &Joined, msg: &ChatMessageRequest) -> Result<(), Failure> {
        debug_assert_eq!(msg.room, room.room_id);
        self.emit(name::CHAT_MESSAGE, msg).await
    }

    /// Waits for the next event, answering pings on the way. Ends with a failure when the session
    /// ends in any way: close, Engine.IO or Socket.IO disconnect, or a missed heartbeat.
    pub async fn next(&mut self) -> Result<Inbound, Failure> {
        loop {
            let msg = tokio::select! {
                m = self.ws.next() => m,
                () = self.heartbeat.as_mut() => {
                    return Err(Failure::new(
                        FailureKind::PingTimeout,
                        format!("no ping from the server for {} ms", self.heartbeat_window.as_millis()),
                    ));
                }
            };
            let text = match msg {
                None => {
                    return Err(Failure::new(
                        FailureKind::UnexpectedDisconnect,
                        "transport close: connection closed by the server",
                    ));
                }
                Some(Err(e)) => return Err(Failure::ws("socket read", &e)),
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(frame))) => {
                    let reason = frame
                        .map(|f| format!("{} {}", f.code, f.reason))
                        .unwrap_or_default();
                    return Err(Failure::new(
                        FailureKind::UnexpectedDisconnect,
                        format!("transport close: websocket closed by the server {reason}"),
                    ));
                }
                Some(Ok(Message::Binary(_))) => {
                    return Err(Failure::protocol(
                        "binary frame: not part of the chat protocol",
                    ));
                }
                // Websocket-level pings are answered by tungstenite itself.
                Some(Ok(_)) => continue,
            };
            let bytes = text.as_bytes();
            match (bytes.first(), bytes.get(1)) {
                (Some(b'4'), Some(b'2')) => return Ok(Inbound { frame: text }),
                (Some(b'2'), _) => {
                    let pong = format!("3{}", &text.as_str()[1..]);
                    self.send_frame(pong).await?;
                    self.reset_heartbeat();
                }
                (Some(b'4'), Some(b'1')) => {
                    return Err(Failure::new(
                        FailureKind::UnexpectedDisconnect,
                        "io server disconnect: the server disconnected the socket",
                    ));
                }
                (Some(b'4'), Some(b'4')) => {
                    let msg = socketio::Packet::decode_frame(text.as_str())
                        .ok()
                        .flatten()
                        .and_then(|p| p.body.connect_error_message())
                        .unwrap_or_default();
                    return Err(Failure::new(FailureKind::ConnectError, msg));
                }
                (Some(b'1'), _) => {
                    return Err(Failure::new(
                        FailureKind::UnexpectedDisconnect,
                        "transport close: the server closed the Engine.IO session",
                    ));
                }
                // Acks, CONNECT repeats, noops and pongs carry nothing a VU waits for.
                (Some(b'4' | b'3' | b'6'), _) => continue,
                _ => {
                    let excerpt: String = text.as_str().chars().take(80).collect();
                    return Err(Failure::protocol(format!(
                        "unexpected Engine.IO frame {excerpt:?}"
                    )));
                }
            }
        }
    }

    fn reset_heartbeat(&mut self) {
        let deadline = tokio::time::Instant::now() + self.heartbeat_window;
        self.heartbeat.as_mut().reset(deadline);
    }

    /// Leaves politely: Socket.IO disconnect, then a websocket close. Errors are ignored; the
    /// session is over either way.
    pub async fn close(mut self) {
        let _ = self.send_frame(socketio::encode_disconnect("/")).await;
        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
    }
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

async fn open_ws(url: &reqwest::Url, opts: &SocketOptions) -> Result<Ws, Failure> {
    let host = url
        .host_str()
        .ok_or_else(|| Failure::new(FailureKind::Transport, "target URL has no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addr: SocketAddr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| Failure::io("resolve", &e))?
        .next()
        .ok_or_else(|| Failure::new(FailureKind::Transport, format!("{host} has no address")))?;
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| Failure::io("socket", &e))?;
    if let Some(ip) = opts.source_ip {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| Failure::io("bind source address", &e))?;
    }
    let stream = socket
        .connect(addr)
        .await
        .map_err(|e| Failure::io("connect", &e))?;
    let _ = stream.set_nodelay(true);
    let request = url
        .as_str()
        .into_client_request()
        .map_err(|e| Failure::ws("websocket request", &e))?;
    let (ws, _) =
        tokio_tungstenite::client_async_tls_with_config(request, stream, Some(ws_config()), None)
            .await
            .map_err(|e| Failure::ws("websocket upgrade", &e))?;
    Ok(ws)
}

/// Reads the Engine.IO open packet, sends CONNECT with auth, awaits the server's CONNECT reply.
async fn handshake(mut ws: Ws, auth: &ConnectAuth) -> Result<SioSocket, Failure> {
    let open = match read_text(&mut ws).await? {
        t if t.as_bytes().first() == Some(&b'0') => match EioPacket::decode(t.as_str()) {
            Ok(EioPacket::Open(data)) => {
                OpenPacket::parse(data).map_err(|e| Failure::protocol(e.to_string()))?
            }
            _ => return Err(Failure::protocol("bad Engine.IO open packet")),
        },
        other => {
            let excerpt: String = other.as_str().chars().take(80).collect();
            return Err(Failure::protocol(format!(
                "expected the Engine.IO open packet, got {excerpt:?}"
            )));
        }
    };
    let connect =
        socketio::encode_connect("/", Some(auth)).map_err(|e| Failure::protocol(e.to_string()))?;
    ws.send(Message::Text(connect.into()))
        .await
        .map_err(|e| Failure::ws("socket send", &e))?;
    let heartbeat_window = Duration::from_millis(open.ping_interval + open.ping_timeout);
    loop {
        let text = read_text(&mut ws).await?;
        match socketio::Packet::decode_frame(text.as_str()) {
            Ok(Some(p)) => match p.body {
                Body::Connect(_) => break,
                Body::ConnectError(_) => {
                    let msg = p.body.connect_error_message().unwrap_or_default();
                    return Err(Failure::new(FailureKind::ConnectError, msg));
                }
                _ => return Err(Failure::protocol("event before the CONNECT reply")),
            },
            // A ping can arrive before the CONNECT reply on a slow server.
            Ok(None) if text.as_str().starts_with('2') => {
                let pong = format!("3{}", &text.as_str()[1..]);
                ws.send(Message::Text(pong.into()))
                    .await
                    .map_err(|e| Failure::ws("socket send", &e))?;
            }
            Ok(None) => {
                return Err(Failure::protocol(
                    "unexpected frame before the CONNECT reply",
                ));
            }
            Err(e) => return Err(Failure::protocol(format!("bad CONNECT reply: {e}"))),
        }
    }
    Ok(SioSocket {
        ws,
        heartbeat: Box::pin(tokio::time::sleep(heartbeat_window)),
        heartbeat_window,
        sid: open.sid,
    })
}

async fn read_text(ws: &mut Ws) -> Result<Utf8Bytes, Failure> {
    loop {
        match ws.next().await {
            None => {
                return Err(Failure::new(
                    FailureKind::UnexpectedDisconnect,
                    "connection closed during the handshake",
                ));
            }
            Some(Err(e)) => return Err(Failure::ws("socket read", &e)),
            Some(Ok(Message::Text(t))) => return Ok(t),
            Some(Ok(Message::Close(_))) => {
                return Err(Failure::new(
                    FailureKind::UnexpectedDisconnect,
                    "websocket closed during the handshake",
                ));
            }
            Some(Ok(_)) => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_urls() {
        assert_eq!(
            socket_url("http://127.0.0.1:5000").unwrap().as_str(),
            "ws://127.0.0.1:5000/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            socket_url("https://chat.example/").unwrap().as_str(),
            "wss://chat.example/socket.io/?EIO=4&transport=websocket"
        );
    }
}
