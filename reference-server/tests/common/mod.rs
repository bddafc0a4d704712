//! Test harness: the real server on `127.0.0.1:0` (through the library API), a REST client, and a
//! minimal Socket.IO client over tokio-tungstenite built on the `protocol` crate's framing.

#![allow(dead_code)] // Each test binary uses a different part of the harness.

pub mod redis;

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::engineio::{self, OpenPacket};
use protocol::events::ConnectAuth;
use protocol::rest::{AuthResponse, Room, RoomResponse};
use protocol::socketio::{self, Body};
use reference_server::{KdfParams, RunningServer, ServerConfig};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The token secret every test server uses, so tests can forge tokens.
pub const SECRET: &str = "stampede-test-secret-0123456789";
/// User agent of the test REST client (shows up in `duplicate_login`).
pub const USER_AGENT: &str = "stampede-tests/1.0";
/// The password every test user gets.
pub const PASSWORD: &str = "secret123";
/// How long any expected event may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// A server under test, with its own files directory.
pub struct TestServer {
    pub server: RunningServer,
    pub http: reqwest::Client,
    _files: tempfile::TempDir,
}

/// Test settings: cheapest KDF, fixed secret, fast AI stream, loopback on a free port.
pub fn test_config(files: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some(SECRET.into()),
        kdf: KdfParams::MINIMAL,
        ai_chunk_delay: Duration::from_millis(1),
        files_dir: files.to_path_buf(),
        shutdown_deadline: Duration::from_secs(5),
        ..ServerConfig::default()
    }
}

pub async fn start() -> TestServer {
    start_with(|_| {}).await
}

pub async fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let files = tempfile::tempdir().unwrap();
    let mut config = test_config(files.path());
    tweak(&mut config);
    let server = reference_server::start(config).await.unwrap();
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .build()
        .unwrap();
    TestServer {
        server,
        http,
        _files: files,
    }
}

/// A multipart body with one file: field `field`, named `name`, of type `mime`.
pub fn file_form(field: &str, name: &str, mime: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        field.to_owned(),
        reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .unwrap(),
    )
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub token: String,
    pub session_id: String,
}

impl User {
    pub fn auth(&self) -> ConnectAuth {
        ConnectAuth {
            token: self.token.clone(),
            session_id: self.session_id.clone(),
        }
    }
}

fn unique_email(name: &str) -> String {
    format!(
        "{}-{}@example.com",
        name.to_lowercase(),
        rand::random::<u32>()
    )
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// `GET /health` as JSON.
    pub async fn health(&self) -> Value {
        self.http
            .get(self.url("/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Opens an Engine.IO long-polling session (the handshake GET) and answers its sid.
    pub async fn polling_handshake(&self) -> String {
        let open = self
            .http
            .get(self.url("/socket.io/?EIO=4&transport=polling"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let protocol::engineio::Packet::Open(data) =
            protocol::engineio::Packet::decode(&open).unwrap()
        else {
            panic!("not an open packet: {open}");
        };
        protocol::engineio::OpenPacket::parse(data).unwrap().sid
    }

    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}/socket.io/?EIO=4&transport=websocket",
            self.server.local_addr()
        )
    }

    pub fn get(&self, path: &str, user: &User) -> reqwest::RequestBuilder {
        self.http
            .get(self.url(path))
            .header("x-auth-token", &user.token)
            .header("x-session-id", &user.session_id)
    }

    /// The server's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let response = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The value of the sample `series` (name and labels, as written) in `/metrics`.
    pub async fn metric(&self, series: &str) -> u64 {
        let text = self.metrics().await;
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .parse()
            .unwrap()
    }

    pub fn post(&self, path: &str, user: &User) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("x-auth-token", &user.token)
            .header("x-session-id", &user.session_id)
    }

    /// Registers then logs in (as the original UI does).
    pub async fn user(&self, name: &str) -> User {
        let email = unique_email(name);
        let response = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&json!({"name": name, "email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "register {name}");
        self.login(&email).await
    }

    pub async fn login(&self, email: &str) -> User {
        let response = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "login {email}");
        let auth: AuthResponse = response.json().await.unwrap();
        User {
            id: auth.user.id,
            name: auth.user.name,
            email: auth.user.email,
            token: auth.token,
            session_id: auth.session_id,
        }
    }

    pub async fn create_room(&self, owner: &User, name: &str, password: Option<&str>) -> Room {
        let mut body = json!({"name": name});
        if let Some(p) = password {
            body["password"] = p.into();
        }
        let response = self
            .post("/api/rooms", owner)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        response.json::<RoomResponse>().await.unwrap().data
    }

    pub async fn join_room(
        &self,
        user: &User,
        room: &str,
        password: Option<&str>,
    ) -> reqwest::Response {
        self.post(&format!("/api/rooms/{room}/join"), user)
            .json(&json!({"password": password}))
            .send()
            .await
            .unwrap()
    }

    /// A websocket Socket.IO client, connected to `/` as `user`.
    pub async fn socket(&self, user: &User) -> Socket {
        let mut socket = Socket::open(&self.ws_url()).await;
        socket.connect(&user.auth()).await.expect("socket connect");
        socket
    }

    /// A connected socket that has joined `room` (and consumed its join traffic).
    pub async fn joined(&self, user: &User, room: &str) -> Socket {
        let mut socket = self.socket(user).await;
        socket.emit("joinRoom", &room).await;
        socket.expect("joinRoomSuccess").await;
        socket
    }
}

/// Alice and Bob, both participants of a new room of Alice's, each with a socket that joined it and
/// has consumed everything the joins sent it.
pub struct Pair {
    pub alice: User,
    pub bob: User,
    pub room: Room,
    pub a: Socket,
    pub b: Socket,
}

impl TestServer {
    /// Alice's room `room_name` with Bob a member too (joined over REST); neither has a socket yet.
    pub async fn room_of_two(&self, room_name: &str) -> (User, User, Room) {
        let alice = self.user("Alice").await;
        let bob = self.user("Bob").await;
        let room = self.create_room(&alice, room_name, None).await;
        assert_eq!(self.join_room(&bob, &room.id, None).await.status(), 200);
        (alice, bob, room)
    }

    pub async fn pair(&self, room_name: &str) -> Pair {
        let (alice, bob, room) = self.room_of_two(room_name).await;
        // Each socket join announces itself to the room: a notice, then the participant list.
        let mut a = self.joined(&alice, &room.id).await;
        a.expect_announcement().await;
        let mut b = self.joined(&bob, &room.id).await;
        for socket in [&mut a, &mut b] {
            socket.expect_announcement().await;
        }
        Pair {
            alice,
            bob,
            room,
            a,
            b,
        }
    }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A minimal Socket.IO v4 client over a websocket.
pub struct Socket {
    ws: Ws,
    pub open: OpenPacket,
    /// Events received but not yet asked for.
    backlog: VecDeque<(String, Value)>,
    /// Other Socket.IO packets (acks, disconnects, connect errors) received, as raw frames.
    pub other: VecDeque<String>,
    /// Answer server pings (turn off to play a dead client).
    pub auto_pong: bool,
}

impl Socket {
    /// Opens the websocket and reads the Engine.IO open packet.
    pub async fn open(url: &str) -> Socket {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let first = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("open packet in time")
            .expect("socket open")
            .unwrap();
        let text = first.into_text().unwrap();
        let engineio::Packet::Open(data) = engineio::Packet::decode(&text).unwrap() else {
            panic!("first frame is not an open packet: {text}");
        };
        Socket {
            open: OpenPacket::parse(data).unwrap(),
            ws,
            backlog: VecDeque::new(),
            other: VecDeque::new(),
            auto_pong: true,
        }
    }

    pub async fn send_raw(&mut self, frame: &str) {
        self.ws
            .send(Message::Text(frame.to_owned().into()))
            .await
            .unwrap();
    }

    /// Like [`send_raw`](Self::send_raw), but false when the server has closed the socket.
    pub async fn try_send_raw(&mut self, frame: &str) -> bool {
        self.ws
            .send(Message::Text(frame.to_owned().into()))
            .await
            .is_ok()
    }

    /// Sends CONNECT and waits for the answer: the Socket.IO sid, or the CONNECT_ERROR message.
    pub async fn connect(&mut self, auth: &ConnectAuth) -> Result<String, String> {
        let frame = socketio::encode_connect("/", Some(auth)).unwrap();
        self.send_raw(&frame).await;
        loop {
            let frame = self.next_frame().await.expect("answer to CONNECT");
            let Some(packet) = socketio::Packet::decode_frame(&frame).unwrap() else {
                continue;
            };
            match &packet.body {
                Body::Connect(Some(raw)) => {
                    let v: Value = serde_json::from_str(raw.get()).unwrap();
                    return Ok(v["sid"].as_str().unwrap().to_owned());
                }
                Body::ConnectError(_) => {
                    return Err(packet.body.connect_error_message().unwrap());
                }
                _ => panic!("unexpected answer to CONNECT: {frame}"),
            }
        }
    }

    pub async fn emit<T: Serialize + ?Sized>(&mut self, event: &str, payload: &T) {
        let frame = socketio::encode_event("/", None, event, Some(payload)).unwrap();
        self.send_raw(&frame).await;
    }

    pub async fn emit_with_ack<T: Serialize + ?Sized>(
        &mut self,
        event: &str,
        payload: &T,
        id: u64,
    ) {
        let frame = socketio::encode_event("/", Some(id), event, Some(payload)).unwrap();
        self.send_raw(&frame).await;
    }

    /// The next text frame, answering pings on the way; `None` when the socket closed. Panics after
    /// [`WAIT`].
    pub async fn next_frame(&mut self) -> Option<String> {
        self.next_frame_within(WAIT)
            .await
            .unwrap_or_else(|| panic!("no frame within {WAIT:?}; backlog: {:?}", self.backlog))
    }

    /// Like [`next_frame`](Self::next_frame) but `None` on timeout, `Some(None)` on close.
    pub async fn next_frame_within(&mut self, wait: Duration) -> Option<Option<String>> {
        // One deadline for the whole call: answered pings must not extend it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => return Some(None),
                Ok(Some(Ok(msg))) => msg,
            };
            match msg {
                Message::Text(text) => {
                    let text = text.to_string();
                    if text == engineio::PING && self.auto_pong {
                        self.send_raw(engineio::PONG).await;
                        continue;
                    }
                    return Some(Some(text));
                }
                Message::Close(_) => return Some(None),
                _ => continue,
            }
        }
    }

    /// Reads one frame and files it: events to the backlog, anything else to `other`. False once
    /// the socket is closed.
    async fn pump(&mut self, wait: Duration) -> Option<bool> {
        let frame = self.next_frame_within(wait).await?;
        let Some(frame) = frame else {
            return Some(false);
        };
        match socketio::Packet::decode_frame(&frame) {
            Ok(Some(socketio::Packet {
                body: Body::Event { event, .. },
                ..
            })) => {
                let payload = event.arg::<Value>(0).unwrap_or(Value::Null);
                self.backlog.push_back((event.name.into_owned(), payload));
            }
            _ => self.other.push_back(frame),
        }
        Some(true)
    }

    /// Waits for the next event named `name`, keeping others in the backlog.
    pub async fn expect(&mut self, name: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(i) = self.backlog.iter().position(|(n, _)| n == name) {
                return self.backlog.remove(i).unwrap().1;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.pump(left).await {
                Some(true) => {}
                Some(false) => panic!(
                    "socket closed while waiting for {name}; backlog: {:?}",
                    self.backlog
                ),
                None => panic!(
                    "no {name} within {WAIT:?}; backlog: {:?}; other: {:?}",
                    self.backlog, self.other
                ),
            }
        }
    }

    /// A join or leave as the room hears it: the system notice, then the participant list. Returns
    /// the notice.
    pub async fn expect_announcement(&mut self) -> Value {
        let notice = self.expect("message").await;
        assert_eq!(notice["type"], "system", "{notice}");
        self.expect("participantsUpdate").await;
        notice
    }

    /// The next event, whatever its name.
    pub async fn next_event(&mut self) -> (String, Value) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(event) = self.backlog.pop_front() {
                return event;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.pump(left).await {
                Some(true) => {}
                _ => panic!("no event within {WAIT:?}; other: {:?}", self.other),
            }
        }
    }

    /// Asserts that no event named `name` arrives within `wait`.
    pub async fn expect_none(&mut self, name: &str, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some((_, v)) = self.backlog.iter().find(|(n, _)| n == name) {
                panic!("unexpected {name}: {v}");
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.pump(left).await {
                Some(true) => {}
                Some(false) | None => return,
            }
        }
    }

    /// Every event received within `wait`, in order (including the backlog).
    pub async fn drain(&mut self, wait: Duration) -> Vec<(String, Value)> {
        while let Some(true) = self.pump(wait).await {}
        self.backlog.drain(..).collect()
    }

    /// Waits for the next non-event frame (ack, disconnect, connect error).
    pub async fn expect_other(&mut self) -> String {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(frame) = self.other.pop_front() {
                return frame;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.pump(left).await {
                Some(true) => {}
                _ => panic!("no non-event frame; backlog: {:?}", self.backlog),
            }
        }
    }

    /// Waits until the server closes the socket; panics if it stays open longer than `wait`.
    pub async fn expect_closed(&mut self, wait: Duration) {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.pump(left).await {
                Some(true) => {}
                Some(false) => return,
                None => panic!("socket still open after {wait:?}"),
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// Polls `check` until it holds or `wait` passes.
pub async fn eventually(wait: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + wait;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}
