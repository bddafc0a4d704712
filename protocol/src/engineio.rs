//! Engine.IO protocol 4: the transport layer under Socket.IO.
//!
//! Every text frame of the websocket transport is one packet: a type digit followed by its data. The
//! long-polling transport carries several packets per HTTP body, separated by the record separator
//! (`0x1e`). Binary packets are not part of the competition protocol and are reported as
//! [`DecodeError::Binary`] rather than guessed at.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Engine.IO protocol revision spoken here (`EIO=4` in the handshake query).
pub const PROTOCOL_VERSION: u8 = 4;

/// Separates packets in a long-polling payload.
pub const RECORD_SEPARATOR: char = '\x1e';

/// Data of the `open` packet the server sends first on a new connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenPacket {
    /// Engine.IO session id.
    pub sid: String,
    /// Transports the client may upgrade to (empty on the websocket transport).
    #[serde(default)]
    pub upgrades: Vec<String>,
    /// Milliseconds between the server's pings.
    pub ping_interval: u64,
    /// Milliseconds the server waits for a pong before closing.
    pub ping_timeout: u64,
    /// Largest payload in bytes the server accepts (the original's default is 1,000,000).
    #[serde(default = "default_max_payload")]
    pub max_payload: u64,
}

fn default_max_payload() -> u64 {
    1_000_000
}

/// One Engine.IO packet, borrowing its data from the frame it was decoded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0{...}`: the handshake; data is the JSON of an [`OpenPacket`], parsed on demand.
    Open(&'a str),
    /// `1`: the peer closes the session.
    Close,
    /// `2[data]`: heartbeat from the server (or the `probe` of an upgrade).
    Ping(&'a str),
    /// `3[data]`: answer to a ping.
    Pong(&'a str),
    /// `4<payload>`: a message; on Socket.IO connections the payload is a Socket.IO packet.
    Message(&'a str),
    /// `5`: transport upgrade completed.
    Upgrade,
    /// `6`: no operation (used to close a pending poll during an upgrade).
    Noop,
}

/// Why a frame is not a valid Engine.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame had no bytes at all.
    #[error("empty Engine.IO packet")]
    Empty,
    /// The first character is not one of the packet type digits 0-6.
    #[error("unknown Engine.IO packet type {0:?} (allowed: 0-6)")]
    UnknownType(char),
    /// A base64 binary packet (`b...`) on a text transport.
    #[error("binary Engine.IO packets are not supported")]
    Binary,
    /// The open packet's JSON is not a valid handshake.
    #[error("invalid Engine.IO open packet: {0}")]
    BadOpen(String),
}

impl<'a> Packet<'a> {
    /// Decodes one packet from a text frame.
    pub fn decode(frame: &'a str) -> Result<Self, DecodeError> {
        let mut chars = frame.chars();
        let kind = chars.next().ok_or(DecodeError::Empty)?;
        // The type is always a single ASCII character, so the rest starts at byte 1.
        let data = &frame[kind.len_utf8()..];
        Ok(match kind {
            '0' => Packet::Open(data),
            '1' => Packet::Close,
            '2' => Packet::Ping(data),
            '3' => Packet::Pong(data),
            '4' => Packet::Message(data),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            'b' => return Err(DecodeError::Binary),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// Appends the packet's wire form to `out`.
    pub fn encode_into(&self, out: &mut String) {
        match self {
            Packet::Open(data) => {
                out.push('0');
                out.push_str(data);
            }
            Packet::Close => out.push('1'),
            Packet::Ping(data) => {
                out.push('2');
                out.push_str(data);
            }
            Packet::Pong(data) => {
                out.push('3');
                out.push_str(data);
            }
            Packet::Message(data) => {
                out.push('4');
                out.push_str(data);
            }
            Packet::Upgrade => out.push('5'),
            Packet::Noop => out.push('6'),
        }
    }

    /// The packet's wire form as a new string.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        self.encode_into(&mut out);
        out
    }
}

impl OpenPacket {
    /// Parses the data of an `open` packet.
    pub fn parse(data: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(data).map_err(|e| DecodeError::BadOpen(e.to_string()))
    }

    /// The full `0{...}` frame for this handshake.
    pub fn encode(&self) -> String {
        let mut out = String::from("0");
        // Serializing a struct of strings and integers cannot fail.
        let json = serde_json::to_string(self).unwrap_or_default();
        out.push_str(&json);
        out
    }
}

/// The server's heartbeat frame.
pub const PING: &str = "2";
/// The client's answer to [`PING`].
pub const PONG: &str = "3";
/// The upgrade probe a client sends on the new websocket before switching from polling.
pub const PROBE_PING: &str = "2probe";
/// The server's answer to [`PROBE_PING`].
pub const PROBE_PONG: &str = "3probe";

/// Splits a long-polling payload into its packets.
pub fn split_payload(body: &str) -> impl Iterator<Item = &str> {
    body.split(RECORD_SEPARATOR).filter(|p| !p.is_empty())
}

/// Joins encoded packets into one long-polling payload.
pub fn join_payload<'a>(packets: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, p) in packets.into_iter().enumerate() {
        if i > 0 {
            out.push(RECORD_SEPARATOR);
        }
        let _ = write!(out, "{p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_packet_type() {
        assert_eq!(Packet::decode("0{}").unwrap(), Packet::Open("{}"));
        assert_eq!(Packet::decode("1").unwrap(), Packet::Close);
        assert_eq!(Packet::decode("2").unwrap(), Packet::Ping(""));
        assert_eq!(Packet::decode("2probe").unwrap(), Packet::Ping("probe"));
        assert_eq!(Packet::decode("3").unwrap(), Packet::Pong(""));
        assert_eq!(Packet::decode("4hello").unwrap(), Packet::Message("hello"));
        assert_eq!(Packet::decode("5").unwrap(), Packet::Upgrade);
        assert_eq!(Packet::decode("6").unwrap(), Packet::Noop);
    }

    #[test]
    fn round_trips() {
        for frame in [
            "0{\"sid\":\"x\"}",
            "1",
            "2",
            "3probe",
            "4",
            "42[\"a\"]",
            "5",
            "6",
        ] {
            assert_eq!(Packet::decode(frame).unwrap().encode(), frame);
        }
    }

    #[test]
    fn rejects_malformed_frames() {
        assert_eq!(Packet::decode(""), Err(DecodeError::Empty));
        assert_eq!(Packet::decode("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(Packet::decode("x4"), Err(DecodeError::UnknownType('x')));
        assert_eq!(Packet::decode("é"), Err(DecodeError::UnknownType('é')));
        assert_eq!(Packet::decode("bAQID"), Err(DecodeError::Binary));
    }

    #[test]
    fn open_packet_matches_the_spec_example() {
        let wire = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
        let Packet::Open(data) = Packet::decode(wire).unwrap() else {
            panic!("not an open packet")
        };
        let open = OpenPacket::parse(data).unwrap();
        assert_eq!(open.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(open.ping_interval, 25_000);
        assert_eq!(open.ping_timeout, 20_000);
        assert_eq!(open.max_payload, 1_000_000);
        assert_eq!(open.encode(), wire);
    }

    #[test]
    fn open_packet_errors_are_typed() {
        assert!(matches!(
            OpenPacket::parse("{"),
            Err(DecodeError::BadOpen(_))
        ));
        assert!(matches!(
            OpenPacket::parse(r#"{"sid":1}"#),
            Err(DecodeError::BadOpen(_))
        ));
        let huge = r#"{"sid":"a","pingInterval":99999999999999999999999,"pingTimeout":1}"#;
        assert!(matches!(
            OpenPacket::parse(huge),
            Err(DecodeError::BadOpen(_))
        ));
    }

    #[test]
    fn polling_payloads_split_and_join() {
        let body = "40\x1e42[\"a\"]\x1e2";
        let parts: Vec<_> = split_payload(body).collect();
        assert_eq!(parts, ["40", "42[\"a\"]", "2"]);
        assert_eq!(join_payload(parts), body);
    }
}
