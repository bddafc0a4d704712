//! Server memory per idle Socket.IO connection, measured: the evidence behind building the gateway on
//! the `protocol` crate rather than a Socket.IO library.
//!
//! `cargo run --release -p reference-server --example conn_memory -- [connections]` (default 2000)
//!
//! For each server (the reference server, then a minimal `socketioxide` server with its default
//! settings) this starts the server in a child process, opens N websocket sessions that complete the
//! Socket.IO CONNECT to `/` and then stay idle, and prints the child's `VmRSS` (read from
//! `/proc/self/status` by the child itself) before and after. Users are registered before the first
//! reading, so the difference is the connections alone. Pings are set to 60 s / 120 s so none
//! happen during the measurement.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::events::ConnectAuth;
use protocol::rest::AuthResponse;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

/// Connections opened at once while ramping up.
const PARALLEL: usize = 64;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        serve(args.get(2).map_or("reference", String::as_str)).await;
        return;
    }
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    println!("{n} idle Socket.IO connections per server (websocket transport, CONNECT to /)");
    println!(
        "{:<14} {:>12} {:>12} {:>14}",
        "server", "RSS before", "RSS after", "per connection"
    );
    for kind in ["reference", "socketioxide"] {
        measure(kind, n).await;
    }
}

/// Child side: run one server and answer `rss` on stdin with `RSS <KiB>` until stdin closes.
async fn serve(kind: &str) {
    match kind {
        "socketioxide" => serve_socketioxide().await,
        _ => serve_reference().await,
    }
}

/// Announces the address, then answers RSS requests until the parent closes stdin.
async fn report_until_eof(addr: SocketAddr) {
    println!("ADDR {addr}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.trim() == "rss" {
            println!("RSS {}", vm_rss_kib());
        }
    }
}

fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn serve_reference() {
    let files = std::env::temp_dir().join(format!("conn-memory-{}", std::process::id()));
    let config = reference_server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some("conn-memory-secret-0123456789".into()),
        kdf: reference_server::KdfParams::MINIMAL,
        ping_interval: Duration::from_secs(60),
        ping_timeout: Duration::from_secs(120),
        max_connections: 100_000,
        files_dir: files,
        ..reference_server::ServerConfig::default()
    };
    let server = reference_server::start(config).await.unwrap();
    report_until_eof(server.local_addr()).await;
    let _ = server.shutdown().await;
}

async fn serve_socketioxide() {
    use socketioxide::SocketIo;
    use socketioxide::extract::SocketRef;
    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_secs(60))
        .ping_timeout(Duration::from_secs(120))
        .build_layer();
    io.ns("/", async |_socket: SocketRef| {});
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    report_until_eof(addr).await;
}

/// Parent side: one server, N connections, two readings.
async fn measure(kind: &str, n: usize) {
    let exe = std::env::current_exe().unwrap();
    let mut child = tokio::process::Command::new(exe)
        .args(["--serve", kind])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: SocketAddr = lines
        .next_line()
        .await
        .unwrap()
        .and_then(|l| l.strip_prefix("ADDR ").map(str::to_owned))
        .unwrap()
        .parse()
        .unwrap();

    let auths = if kind == "reference" {
        register(addr, n).await
    } else {
        vec![ConnectAuth::default(); n]
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rss = async || {
        stdin.write_all(b"rss\n").await.unwrap();
        let line = lines.next_line().await.unwrap().unwrap();
        line.strip_prefix("RSS ").unwrap().parse::<u64>().unwrap()
    };
    let before = rss().await;

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let sockets: Vec<_> = futures_util::stream::iter(auths)
        .map(|auth| {
            let url = url.clone();
            async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
                let open = ws.next().await.unwrap().unwrap();
                assert!(open.to_text().unwrap().starts_with('0'));
                let connect = protocol::socketio::encode_connect("/", Some(&auth)).unwrap();
                ws.send(Message::Text(connect.into())).await.unwrap();
                loop {
                    let answer = ws.next().await.unwrap().unwrap();
                    let text = answer.to_text().unwrap();
                    if text == "2" {
                        ws.send(Message::Text("3".into())).await.unwrap();
                        continue;
                    }
                    assert!(text.starts_with("40"), "CONNECT refused: {text}");
                    break ws;
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss().await;
    let per = (after.saturating_sub(before)) as f64 / sockets.len() as f64;
    println!("{kind:<14} {before:>9} KiB {after:>9} KiB {per:>10.1} KiB");
    drop(sockets);
    drop(stdin);
    let _ = child.wait().await;
}

/// Registers and logs in `n` users; one socket per user (a second one would replace the first).
async fn register(addr: SocketAddr, n: usize) -> Vec<ConnectAuth> {
    let http = reqwest::Client::new();
    futures_util::stream::iter(0..n)
        .map(|i| {
            let http = http.clone();
            async move {
                let email = format!("user{i}@example.com");
                let body = serde_json::json!({"name": format!("user{i}"), "email": email, "password": "secret123"});
                let response = http
                    .post(format!("http://{addr}/api/auth/register"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                let auth: AuthResponse = response.json().await.unwrap();
                ConnectAuth {
                    token: auth.token,
                    session_id: auth.session_id,
                }
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await
}
