//! `--metrics-listen ADDR`: the live [`Snapshot`]s served as Prometheus text at `GET /metrics`.
//!
//! A view like the progress lines: it reads the same watch channel and never reaches into the
//! engine. It is a deliberately small HTTP/1.1 responder (one request per connection, then close)
//! so the load tool needs no HTTP server crate: requests are bounded in size and time, anything
//! but `GET`/`HEAD /metrics` gets 404 or 405. The socket is bound before any load starts, so an
//! address in use is reported as bad input and nothing runs.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use super::exit::CliError;
use crate::metrics::Snapshot;
use crate::metrics::exposition::{CONTENT_TYPE, Exposition};

/// Largest request head read; a scraper's is a few hundred bytes.
const MAX_REQUEST: usize = 8 * 1024;
/// Time a client gets to send its request head, and to take the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections answered at once; more wait to be accepted.
const MAX_CONNECTIONS: usize = 16;

/// The bound `--metrics-listen` socket, not yet serving.
#[derive(Debug)]
pub struct MetricsListener {
    listener: std::net::TcpListener,
    addr: SocketAddr,
}

impl MetricsListener {
    /// Binds `addr` now, before any load: a bad or busy address is an input error (exit 2).
    pub fn bind(addr: SocketAddr) -> Result<MetricsListener, CliError> {
        let fail = |e: std::io::Error| {
            CliError::flag(
                "--metrics-listen",
                format!(
                    "cannot listen on {addr}: {e} (give a free IP:PORT, e.g. 127.0.0.1:9464, or \
                     port 0 for any free port)"
                ),
            )
        };
        let listener = std::net::TcpListener::bind(addr).map_err(fail)?;
        listener.set_nonblocking(true).map_err(fail)?;
        let addr = listener.local_addr().map_err(fail)?;
        Ok(MetricsListener { listener, addr })
    }

    /// Binds when the flag was given, telling on stderr where the metrics are.
    pub fn bind_flag(addr: Option<SocketAddr>) -> Result<Option<MetricsListener>, CliError> {
        let Some(addr) = addr else {
            return Ok(None);
        };
        let listener = MetricsListener::bind(addr)?;
        eprintln!("metrics at http://{}/metrics", listener.addr);
        Ok(Some(listener))
    }

    /// The address bound (with the port the OS chose for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `snapshots` until the returned task is aborted. Must be called inside a runtime.
    pub fn serve(self, snapshots: watch::Receiver<Snapshot>) -> JoinHandle<()> {
        let exposition = Arc::new(Mutex::new(Exposition::new()));
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let std_listener = self.listener;
        tokio::spawn(async move {
            let listener = match TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("--metrics-listen: cannot serve: {e}");
                    return;
                }
            };
            loop {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                // A failed accept (a connection reset before it was taken, too many open files)
                // concerns one client; the endpoint goes on.
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let snapshots = snapshots.clone();
                let exposition = exposition.clone();
                tokio::spawn(async move {
                    let _ = answer(stream, &snapshots, &exposition).await;
                    drop(permit);
                });
            }
        })
    }
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// `GET /metrics` (with `head`: `HEAD`, no body).
    Metrics { head: bool },
    /// Another method on `/metrics`.
    Method,
    /// Any other path.
    NotFound,
    /// Not an HTTP/1.x request line.
    Bad,
}

/// Reads one request head and answers it, then closes.
async fn answer(
    mut stream: TcpStream,
    snapshots: &watch::Receiver<Snapshot>,
    exposition: &Mutex<Exposition>,
) -> std::io::Result<()> {
    let head = tokio::time::timeout(IO_TIMEOUT, read_head(&mut stream)).await;
    let (status, content_type, body, send_body) = match head {
        Err(_) => return Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => (
            "431 Request Header Fields Too Large",
            "text/plain",
            "request too large\n".to_owned(),
            true,
        ),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(head)) => match parse(&head) {
            Request::Metrics { head } => {
                // Rendered from a borrow of the latest snapshot; neither lock outlives this block.
                let text = {
                    let snapshot = snapshots.borrow();
                    let mut exposition = exposition.lock().unwrap_or_else(|p| p.into_inner());
                    exposition.render(&snapshot)
                };
                ("200 OK", CONTENT_TYPE, text, !head)
            }
            Request::Method => (
                "405 Method Not Allowed",
                "text/plain",
                "only GET and HEAD\n".to_owned(),
                true,
            ),
            Request::NotFound => (
                "404 Not Found",
                "text/plain",
                "not found: the metrics are at /metrics\n".to_owned(),
                true,
            ),
            Request::Bad => ("400 Bad Request", "text/plain", String::new(), true),
        },
    };
    let allow = if status.starts_with("405") {
        "Allow: GET, HEAD\r\n"
    } else {
        ""
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if send_body {
        response.extend_from_slice(body.as_bytes());
    }
    tokio::time::timeout(IO_TIMEOUT, async {
        stream.write_all(&response).await?;
        stream.shutdown().await
    })
    .await
    .unwrap_or(Ok(()))
}

/// The request head, up to the blank line; `InvalidData` past [`MAX_REQUEST`] bytes.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(head);
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Ok(head);
        }
        if head.len() > MAX_REQUEST {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
    }
}

/// The request line's method and path (a query string is ignored).
fn parse(head: &[u8]) -> Request {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return Request::Bad;
    };
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Request::Bad;
    };
    if !version.starts_with("HTTP/1.") {
        return Request::Bad;
    }
    let path = target.split('?').next().unwrap_or_default();
    match (path, method) {
        ("/metrics", "GET") => Request::Metrics { head: false },
        ("/metrics", "HEAD") => Request::Metrics { head: true },
        ("/metrics", _) => Request::Method,
        _ => Request::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let req = |s: &str| parse(s.as_bytes());
        assert_eq!(
            req("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics { head: false }
        );
        assert_eq!(
            req("GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Request::Metrics { head: false }
        );
        assert_eq!(
            req("HEAD /metrics HTTP/1.1\r\n\r\n"),
            Request::Metrics { head: true }
        );
        assert_eq!(req("POST /metrics HTTP/1.1\r\n\r\n"), Request::Method);
        assert_eq!(req("GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(req("GET /metricsx HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(req("hello\r\n\r\n"), Request::Bad);
        assert_eq!(req("GET /metrics SPDY/3\r\n\r\n"), Request::Bad);
    }

    #[tokio::test]
    async fn serves_the_latest_snapshot_and_refuses_the_rest() {
        let listener = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr();
        let (tx, rx) = watch::channel(Snapshot::default());
        let server = listener.serve(rx);
        let ask = |request: String| async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(request.as_bytes()).await.unwrap();
            let mut answer = String::new();
            s.read_to_string(&mut answer).await.unwrap();
            answer
        };
        tx.send_modify(|s| s.level = 4);
        let ok = ask("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".into()).await;
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(
            ok.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")),
            "{ok}"
        );
        assert!(ok.contains("\nstampede_level 4\n"), "{ok}");
        let missing = ask("GET /other HTTP/1.1\r\n\r\n".into()).await;
        assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
        let huge = ask(format!(
            "GET /metrics HTTP/1.1\r\nX: {}\r\n",
            "a".repeat(20_000)
        ))
        .await;
        assert!(huge.starts_with("HTTP/1.1 431 "), "{huge}");
        server.abort();
    }

    #[test]
    fn an_address_in_use_is_bad_input() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let err = MetricsListener::bind(taken.local_addr().unwrap()).unwrap_err();
        assert_eq!(err.exit(), super::super::exit::Exit::BadInput);
        assert!(
            err.to_string()
                .starts_with("--metrics-listen: cannot listen on 127.0.0.1:")
        );
    }
}
