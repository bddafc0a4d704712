//! Hostile REST input, each probe as a client or attacker would send it: HTML uploaded as an image,
//! names with control characters, login timing that would tell registered e-mails apart, and
//! pages of other origins calling the API or the admin routes with the user's credentials.

mod common;

use std::time::{Duration, Instant};

use protocol::rest::UploadResponse;
use reference_server::KdfParams;
use serde_json::{Value, json};

/// An HTML page behind a PNG signature (so it passes the upload's signature check) comes back with
/// `nosniff`, so no browser runs it as HTML. (Plain HTML as `evil.png` is refused at upload:
/// `tests/rejections.rs`.)
#[tokio::test]
async fn file_responses_forbid_sniffing() {
    let t = common::start().await;
    let user = t.user("Mallory").await;
    let html = [
        b"\x89PNG\r\n\x1a\n".as_slice(),
        b"<html><script>alert(document.cookie)</script></html>",
    ]
    .concat();
    let form = common::file_form("file", "evil.png", "image/png", html);
    let response = t
        .post("/api/files/upload", &user)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let uploaded: UploadResponse = response.json().await.unwrap();
    for route in ["download", "view"] {
        let path = format!("/api/files/{route}/{}", uploaded.file.filename);
        let response = t.get(&path, &user).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["x-content-type-options"],
            "nosniff",
            "{path}"
        );
    }
}

async fn status_and_message(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    let message = body["message"]
        .as_str()
        .or(body["error"].as_str())
        .unwrap_or_default()
        .to_owned();
    (status, message)
}

/// Names with `\0`, line breaks or escape sequences are refused with a 400 that says why, at
/// sign-up, on a profile change and for a room.
#[tokio::test]
async fn names_with_control_characters_are_refused() {
    let t = common::start().await;
    let user = t.user("Alice").await;
    for bad in ["Al\0ice", "Al\nice", "\u{1b}[31mAlice", "Al\u{7f}ice"] {
        let register = t
            .http
            .post(t.url("/api/auth/register"))
            .json(&json!({"name": bad, "email": "x@example.com", "password": "secret123"}))
            .send()
            .await
            .unwrap();
        let (status, message) = status_and_message(register).await;
        assert_eq!(status, 400, "register {bad:?}");
        assert!(message.contains("control characters"), "{message}");

        let profile = t
            .http
            .put(t.url("/api/users/profile"))
            .header("x-auth-token", &user.token)
            .header("x-session-id", &user.session_id)
            .json(&json!({"name": bad}))
            .send()
            .await
            .unwrap();
        let (status, message) = status_and_message(profile).await;
        assert_eq!(status, 400, "profile {bad:?}");
        assert!(message.contains("control characters"), "{message}");

        let room = t
            .post("/api/rooms", &user)
            .json(&json!({"name": bad}))
            .send()
            .await
            .unwrap();
        let (status, message) = status_and_message(room).await;
        assert_eq!(status, 400, "room {bad:?}");
        assert!(message.contains("control characters"), "{message}");
    }
    // Letters from any script, spaces and punctuation stay fine.
    let room = t
        .post("/api/rooms", &user)
        .json(&json!({"name": "고양이 café — #1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(room.status(), 201);
}

/// Median time of `runs` logins with `email` and a wrong password.
async fn median_login(t: &common::TestServer, email: &str, runs: usize) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let response = t
            .http
            .post(t.url("/api/auth/login"))
            .json(&json!({"email": email, "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(response.status(), 401, "login {email}");
    }
    times.sort();
    times[runs / 2]
}

/// A login for an unknown e-mail costs a password hash like a wrong password does, so its timing
/// does not tell which e-mails are registered (without it, in a debug build: 0.1 ms against 87 ms).
#[tokio::test]
async fn unknown_emails_take_as_long_as_wrong_passwords() {
    let t = common::start_with(|c| c.kdf = KdfParams::default()).await;
    let user = t.user("Bob").await;
    // Warm up both paths (connection, blocking pool).
    median_login(&t, &user.email, 1).await;
    median_login(&t, "nobody@example.com", 1).await;
    let known = median_login(&t, &user.email, 7).await;
    let unknown = median_login(&t, "nobody@example.com", 7).await;
    eprintln!("median login: registered e-mail {known:?}, unknown e-mail {unknown:?}");
    assert!(
        unknown * 2 >= known,
        "unknown e-mail {unknown:?} vs registered e-mail {known:?}"
    );
}

/// The `Access-Control-Allow-Origin` a preflight from `origin` to `path` gets, if any.
async fn preflight(t: &common::TestServer, path: &str, origin: &str) -> Option<String> {
    let response = t
        .http
        .request(reqwest::Method::OPTIONS, t.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "PATCH")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// With `--cors-origins`, only the listed origins may call the API from a browser; the admin
/// routes answer no origin at all, even in the open development default.
#[tokio::test]
async fn cors_follows_the_allow_list_and_never_opens_admin_routes() {
    let evil = "https://evil.example";
    let open = common::start().await;
    assert_eq!(
        preflight(&open, "/api/rooms", evil).await.as_deref(),
        Some(evil),
        "the development default stays open"
    );
    for path in ["/admin/overload", "/metrics"] {
        assert_eq!(preflight(&open, path, evil).await, None, "{path}");
    }

    let good = "https://chat.example.com";
    let listed = common::start_with(|c| c.cors_origins = Some(vec![good.to_owned()])).await;
    assert_eq!(
        preflight(&listed, "/api/rooms", good).await.as_deref(),
        Some(good)
    );
    assert_eq!(preflight(&listed, "/api/rooms", evil).await, None);
    assert_eq!(preflight(&listed, "/socket.io/", evil).await, None);
}

/// A PATCH without the admin token announcing a 1 MB body it never sends is refused at once:
/// the token is checked before any of the body is read.
#[tokio::test]
async fn admin_token_is_checked_before_the_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = common::start_with(|c| c.overload.admin_token = Some("admin-secret".into())).await;
    let mut tcp = tokio::net::TcpStream::connect(t.server.local_addr())
        .await
        .unwrap();
    tcp.write_all(b"PATCH /admin/overload HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut head))
        .await
        .expect("no answer within 2 s: the server waits for the body before checking the token")
        .unwrap();
    let head = String::from_utf8_lossy(&head[..read]);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
}

async fn login_status(t: &common::TestServer, email: &str, password: &str) -> u16 {
    t.http
        .post(t.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Password guessing is cut off with 429: per account (even the right password then waits for
/// the next minute) and per client address across accounts.
#[tokio::test]
async fn login_attempts_are_limited_per_account_and_per_address() {
    use std::num::NonZeroU32;
    let t = common::start_with(|c| {
        c.login_rate_limit_per_account = NonZeroU32::new(3);
        c.login_rate_limit_per_address = NonZeroU32::new(8);
    })
    .await;
    let user = t.user("Carol").await; // one login
    for _ in 0..2 {
        assert_eq!(login_status(&t, &user.email, "guess").await, 401);
    }
    assert_eq!(login_status(&t, &user.email, common::PASSWORD).await, 429);
    // 4 attempts so far from this address; 4 more on other accounts, then the address is cut off.
    for i in 0..4 {
        let email = format!("nobody{i}@example.com");
        assert_eq!(login_status(&t, &email, "guess").await, 401, "{email}");
    }
    assert_eq!(login_status(&t, "other@example.com", "guess").await, 429);
}

/// An Engine.IO session that never sends its Socket.IO CONNECT is closed at the connect deadline
/// (`--connect-timeout-ms`), not at the next heartbeat: unauthenticated sessions do not hold their
/// slot for the 45 s Socket.IO allows by default. A session that connects in time stays.
#[tokio::test]
async fn a_session_that_never_connects_is_closed_at_the_deadline() {
    let t = common::start_with(|c| {
        c.connect_timeout = Duration::from_millis(300);
        c.ping_interval = Duration::from_secs(20);
    })
    .await;
    let opened = Instant::now();
    let mut silent = common::Socket::open(&t.ws_url()).await;
    let user = t.user("Timely").await;
    let mut timely = common::Socket::open(&t.ws_url()).await;
    timely.connect(&user.auth()).await.unwrap();
    let closed = silent.next_frame_within(Duration::from_secs(5)).await;
    assert_eq!(closed, Some(None), "the silent session is closed");
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    // The connected session outlives the deadline.
    assert_eq!(timely.next_frame_within(Duration::from_secs(1)).await, None);
}

/// Reads from `tcp` until the server closes it or `within` passes: how long it took to close, or
/// `None` when still open.
async fn closed_within(tcp: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), tcp.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

/// A silent connection, one trickling its headers a byte at a time, and a kept-alive connection
/// left idle are all closed at the header-read deadline (`--header-read-timeout-ms`); before, all
/// three stayed open for as long as the client liked.
#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let t = common::start_with(|c| {
        c.connections.header_read_timeout = Duration::from_millis(400);
    })
    .await;
    let addr = t.server.local_addr();
    let limit = Duration::from_secs(3);

    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let waited = closed_within(&mut silent, limit).await;
    assert!(
        waited.is_some_and(|w| w >= Duration::from_millis(400)),
        "silent: {waited:?}"
    );

    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let trickle = tokio::spawn(async move {
        for byte in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*byte]).await.is_err() {
                return slow;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slow
    });
    let mut slow = trickle.await.unwrap();
    let waited = closed_within(&mut slow, limit).await;
    assert!(waited.is_some(), "trickling headers: still open");

    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let waited = closed_within(&mut idle, limit).await;
    assert!(waited.is_some(), "idle after a request: still open");
}

/// With `--max-connections-per-peer 2`, a third connection from the same address is closed at
/// once while the first two are served; without a cap (the default) nothing is refused.
#[tokio::test]
async fn a_peer_holds_at_most_its_cap_of_connections() {
    use tokio::io::AsyncWriteExt;
    let t = common::start_with(|c| {
        c.connections.per_peer = std::num::NonZeroUsize::new(2);
    })
    .await;
    let addr = t.server.local_addr();
    let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _second = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        closed_within(&mut third, Duration::from_secs(2))
            .await
            .is_some(),
        "the third connection is refused"
    );
    first
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut first, &mut answer)
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

/// Sends `head` and the first `sent` bytes of a body announced as `length` bytes long, then
/// trickles one more byte every 100 ms: the status line the server answers with and how long the
/// answer took, or `None` when nothing came within `within`.
async fn trickled_body(
    addr: std::net::SocketAddr,
    head: &str,
    length: usize,
    sent: &[u8],
    within: Duration,
) -> Option<(String, Duration)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    let started = Instant::now();
    write
        .write_all(format!("{head}Content-Length: {length}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    write.write_all(sent).await.unwrap();
    let left = length.saturating_sub(sent.len() + 1);
    let trickle = tokio::spawn(async move {
        for _ in 0..left {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    let status = loop {
        match tokio::time::timeout_at((started + within).into(), read.read(&mut buf)).await {
            Err(_) | Ok(Err(_)) => break None,
            Ok(Ok(0)) => break Some(()),
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
        }
    };
    trickle.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    status.map(|()| {
        (
            text.lines().next().unwrap_or("").to_owned(),
            started.elapsed(),
        )
    })
}

/// With overload control off (the default), a body trickling in a byte at a time is cut at the
/// body deadline (`--body-timeout-ms`) with 408 and the connection closed — on a JSON route, the
/// upload route and the Engine.IO polling POST alike. Before, each held its connection (and the
/// upload route its buffers) for as long as the client kept trickling.
#[tokio::test]
async fn a_trickling_body_is_cut_at_the_body_deadline() {
    let t = common::start_with(|c| {
        c.connections.body_timeout = Duration::from_millis(500);
        c.overload.pinned_off = true;
    })
    .await;
    assert!(!t.server.state().overload.enabled());
    let addr = t.server.local_addr();
    let user = t.user("Trickler").await;
    let sid = t.polling_handshake().await;
    let boundary = "XyZ";
    let upload_start = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nhello"
    );
    let cases = [
        (
            "login",
            "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                .to_owned(),
            br#"{"email":"#.to_vec(),
        ),
        (
            "upload",
            format!(
                "POST /api/files/upload HTTP/1.1\r\nHost: x\r\nx-auth-token: {}\r\n\
                 x-session-id: {}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n",
                user.token, user.session_id
            ),
            upload_start.into_bytes(),
        ),
        (
            "polling",
            format!("POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"),
            b"40".to_vec(),
        ),
    ];
    for (name, head, sent) in cases {
        let answered = trickled_body(addr, &head, 400, &sent, Duration::from_secs(4)).await;
        let Some((status, took)) = answered else {
            panic!("{name}: no answer and still open after 4 s");
        };
        assert_eq!(status, "HTTP/1.1 408 Request Timeout", "{name}");
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_secs(3),
            "{name}: answered after {took:?}"
        );
    }
    // A body that arrives in time is served as before.
    let status = t
        .http
        .post(t.url("/api/auth/login"))
        .json(&serde_json::json!({"email": user.email, "password": "wrong-password"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
}

/// With `--max-unauthenticated-per-peer 2`, a third Engine.IO handshake from one address while two
/// sessions wait for their Socket.IO CONNECT is refused with 429 (polling and websocket alike); a
/// CONNECT gives its place back at once, a session closed at the connect deadline gives its place
/// back then, and the per-address map ends empty.
#[tokio::test]
async fn a_peer_holds_at_most_its_cap_of_sessions_without_connect() {
    let t = common::start_with(|c| {
        c.unauthenticated_per_peer = std::num::NonZeroUsize::new(2);
        c.connect_timeout = Duration::from_millis(800);
    })
    .await;
    let handshake = || async {
        t.http
            .get(t.url("/socket.io/?EIO=4&transport=polling"))
            .send()
            .await
            .unwrap()
    };
    let user = t.user("Capped").await;
    let first = t.polling_handshake().await;
    let _second = t.polling_handshake().await;
    let refused = handshake().await;
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("without a Socket.IO CONNECT")),
        "{body}"
    );
    let ws = tokio_tungstenite::connect_async(t.ws_url()).await;
    assert!(
        matches!(&ws, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 429),
        "websocket handshake: {:?}",
        ws.as_ref().map(|_| ())
    );

    // The first session connects: its place is free again.
    let url = t.url(&format!("/socket.io/?EIO=4&transport=polling&sid={first}"));
    let auth = serde_json::to_string(&user.auth()).unwrap();
    let posted = t.http.post(&url).body(format!("40{auth}")).send().await;
    assert_eq!(posted.unwrap().status(), 200);
    let polled = t.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(polled.contains("40{"), "{polled}");
    assert_eq!(handshake().await.status(), 200);

    // The two left without CONNECT are closed at the deadline, and their places come back.
    let gateway = &t.server.state().gateway;
    let freed = common::eventually(Duration::from_secs(5), || {
        gateway.map_sizes().unauthenticated_peers == 0
    })
    .await;
    assert!(freed, "{:?}", gateway.map_sizes());
    assert_eq!(handshake().await.status(), 200);
    assert_eq!(handshake().await.status(), 200);
}

/// Uploads never posted in a message count against a quota per user (files and bytes), answered
/// 429 `UPLOAD_QUOTA_EXCEEDED` with nothing kept; posting one frees its place. Before, a client
/// could upload without end.
#[tokio::test]
async fn unposted_uploads_have_a_quota_per_user() {
    use reference_server::limit::UnpostedLimits;
    let t = common::start_with(|c| {
        c.unposted = UnpostedLimits {
            bytes: Some(3000),
            files: Some(2),
            ttl: None,
        }
    })
    .await;
    let alice = t.user("Uploader").await;
    let bob = t.user("Other").await;
    let room = t.create_room(&alice, "quota", None).await;
    let upload = |user: &common::User, size: usize| {
        let pdf = [b"%PDF-".as_slice(), &vec![b'a'; size - 5]].concat();
        t.post("/api/files/upload", user)
            .multipart(common::file_form("file", "doc.pdf", "application/pdf", pdf))
            .send()
    };
    let first: serde_json::Value = upload(&alice, 1000).await.unwrap().json().await.unwrap();
    assert_eq!(upload(&alice, 1000).await.unwrap().status(), 200);
    let refused = upload(&alice, 10).await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UPLOAD_QUOTA_EXCEEDED", "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("2 uploads not yet posted")),
        "{body}"
    );
    assert_eq!(upload(&bob, 10).await.unwrap().status(), 200, "per user");

    // Posting one frees its place.
    let mut socket = t.joined(&alice, &room.id).await;
    socket
        .emit(
            "chatMessage",
            &serde_json::json!({"room": room.id, "type": "file", "content": "", "fileData": first["file"]}),
        )
        .await;
    socket.expect("message").await;
    // 1,000 bytes held: 2,500 more would pass the 3,000 allowed, and nothing of it is kept.
    let files_dir = &t.server.state().config.files_dir;
    let blobs = || std::fs::read_dir(files_dir).unwrap().count();
    let before = blobs();
    let refused = upload(&alice, 2500).await.unwrap();
    assert_eq!(refused.status(), 429);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("3000")),
        "{body}"
    );
    assert_eq!(blobs(), before, "the refused upload's file is deleted");
    assert_eq!(upload(&alice, 1500).await.unwrap().status(), 200);
}

/// An upload not posted within the TTL is deleted — record and file, so its URL answers 404 — by
/// the sweeper; a posted one stays.
#[tokio::test]
async fn unposted_uploads_expire() {
    use reference_server::limit::UnpostedLimits;
    let t = common::start_with(|c| {
        c.unposted = UnpostedLimits {
            ttl: Some(Duration::from_millis(400)),
            ..UnpostedLimits::DEFAULT
        }
    })
    .await;
    let alice = t.user("Forgetful").await;
    let room = t.create_room(&alice, "expiry", None).await;
    let upload = || {
        let pdf = [b"%PDF-".as_slice(), &[b'a'; 100]].concat();
        t.post("/api/files/upload", &alice)
            .multipart(common::file_form("file", "doc.pdf", "application/pdf", pdf))
            .send()
    };
    let kept: serde_json::Value = upload().await.unwrap().json().await.unwrap();
    let forgotten: serde_json::Value = upload().await.unwrap().json().await.unwrap();
    let mut socket = t.joined(&alice, &room.id).await;
    socket
        .emit(
            "chatMessage",
            &serde_json::json!({"room": room.id, "type": "file", "content": "", "fileData": kept["file"]}),
        )
        .await;
    socket.expect("message").await;
    let t = &t;
    let alice = &alice;
    let download = |file: &serde_json::Value| {
        let name = file["file"]["filename"].as_str().unwrap().to_owned();
        async move {
            t.get(&format!("/api/files/download/{name}"), alice)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(download(&forgotten).await, 200);
    let files_dir = t.server.state().config.files_dir.clone();
    let name = forgotten["file"]["filename"].as_str().unwrap().to_owned();
    let mut gone = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if download(&forgotten).await == 404 {
            gone = true;
            break;
        }
    }
    assert!(gone, "the unposted upload is still served after 4 s");
    assert!(!files_dir.join(&name).exists(), "its file is deleted too");
    assert_eq!(download(&kept).await, 200, "the posted upload stays");
}
