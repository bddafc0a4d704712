//! `Failure`: what a client call reports when it goes wrong, already classified for counting.

use std::fmt;

use crate::base::kinds::FailureKind;

/// A classified failure with a human-readable message (kept only as a bounded sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The kind it is counted as.
    pub kind: FailureKind,
    /// What happened, for the failure samples.
    pub message: String,
}

impl Failure {
    /// A failure of `kind`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            message: message.into(),
        }
    }

    /// A response or frame that does not follow the protocol.
    pub fn protocol(message: impl Into<String>) -> Failure {
        Failure::new(FailureKind::Protocol, message)
    }

    /// Classifies an I/O error from a socket.
    pub fn io(context: &str, e: &std::io::Error) -> Failure {
        use std::io::ErrorKind::*;
        let kind = match e.kind() {
            ConnectionRefused => FailureKind::ConnectRefused,
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                FailureKind::ConnectionReset
            }
            TimedOut => FailureKind::Timeout,
            _ => FailureKind::Transport,
        };
        Failure::new(kind, format!("{context}: {e}"))
    }

    /// Classifies a reqwest error by walking its source chain down to the I/O error, if any.
    pub fn http(context: &str, e: &reqwest::Error) -> Failure {
        if e.is_timeout() {
            return Failure::new(FailureKind::Timeout, format!("{context}: {e}"));
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = source {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                let mut f = Failure::io(context, io);
                f.message = format!("{context}: {}", chain(e));
                return f;
            }
            source = err.source();
        }
        let kind = if e.is_decode() || e.is_body() {
            FailureKind::Protocol
        } else if e.is_connect() {
            FailureKind::Transport
        } else if e.is_request() {
            // hyper reports a connection the server closed mid-request as an incomplete message.
            FailureKind::ConnectionReset
        } else {
            FailureKind::Transport
        };
        Failure::new(kind, format!("{context}: {}", chain(e)))
    }

    /// Classifies a websocket error.
    pub fn ws(context: &str, e: &tokio_tungstenite::tungstenite::Error) -> Failure {
        use tokio_tungstenite::tungstenite::Error as W;
        match e {
            W::Io(io) => Failure::io(context, io),
            W::ConnectionClosed | W::AlreadyClosed => Failure::new(
                FailureKind::UnexpectedDisconnect,
                format!("{context}: connection closed"),
            ),
            W::Protocol(p) => Failure::new(
                FailureKind::ConnectionReset,
                format!("{context}: websocket protocol error: {p}"),
            ),
            W::Http(resp) => Failure::new(
                FailureKind::HttpStatus,
                format!(
                    "{context}: websocket upgrade refused with HTTP {}",
                    resp.status()
                ),
            ),
            W::Utf8(_) => Failure::protocol(format!("{context}: {e}")),
            other => Failure::new(FailureKind::Transport, format!("{context}: {other}")),
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        let text = err.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = err.source();
    }
    s
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Failure {}
