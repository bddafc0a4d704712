//! Socket.IO protocol 5 (the one `socket.io` v4 speaks), carried in Engine.IO `message` packets.
//!
//! Wire form of a packet: `<type>[<namespace>,][<ack id>][<JSON data>]`, for example
//! `2["chatMessage",{"room":"r1"}]` or `3/admin,12[true]`. Decoding borrows from the frame and
//! validates the shape each packet type allows; encoders here return whole Engine.IO text frames
//! (with the leading `4`), because that is what both sides put on the socket.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The default namespace.
pub const DEFAULT_NAMESPACE: &str = "/";

/// Socket.IO packet type digits.
mod kind {
    pub const CONNECT: u8 = b'0';
    pub const DISCONNECT: u8 = b'1';
    pub const EVENT: u8 = b'2';
    pub const ACK: u8 = b'3';
    pub const CONNECT_ERROR: u8 = b'4';
    pub const BINARY_EVENT: u8 = b'5';
    pub const BINARY_ACK: u8 = b'6';
}

/// A decoded Socket.IO packet, borrowing from its frame.
#[derive(Debug, Clone)]
pub struct Packet<'a> {
    /// Namespace, `/` when the packet names none.
    pub namespace: &'a str,
    /// What the packet carries.
    pub body: Body<'a>,
}

/// The payload of a [`Packet`], one variant per packet type.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    /// `0`: connect request (client, with optional auth object) or acceptance (server, `{"sid"}`).
    Connect(Option<&'a RawValue>),
    /// `1`: leave the namespace.
    Disconnect,
    /// `2`: an event, optionally asking for an acknowledgement.
    Event {
        /// Ack id the receiver must answer with, if any.
        ack: Option<u64>,
        /// Name and arguments.
        event: Event<'a>,
    },
    /// `3`: the answer to an event that carried an ack id.
    Ack {
        /// The ack id being answered.
        id: u64,
        /// The acknowledgement's arguments.
        args: Vec<&'a RawValue>,
    },
    /// `4`: the server refused the connect; data is `{"message":...}` (or a bare string from old servers).
    ConnectError(&'a RawValue),
}

/// An event name with its JSON arguments, still unparsed.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The event name (first element of the data array).
    pub name: Cow<'a, str>,
    /// The remaining elements, each raw JSON.
    pub args: Vec<&'a RawValue>,
}

impl<'a> Event<'a> {
    /// Parses argument `i` as `T`; a missing argument is parsed from `null`.
    pub fn arg<T: Deserialize<'a>>(&self, i: usize) -> Result<T, DecodeError> {
        let raw: &'a str = match self.args.get(i) {
            Some(v) => v.get(),
            None => "null",
        };
        serde_json::from_str(raw).map_err(|e| DecodeError::Json(e.to_string()))
    }
}

/// Why a message is not a valid Socket.IO packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Nothing after the Engine.IO message type.
    #[error("empty Socket.IO packet")]
    Empty,
    /// The type digit is not 0-6.
    #[error("unknown Socket.IO packet type {0:?} (allowed: 0-6)")]
    UnknownType(char),
    /// BINARY_EVENT / BINARY_ACK: attachments are not part of the competition protocol.
    #[error("binary Socket.IO packets (attachments) are not supported")]
    Binary,
    /// A namespace that starts with `/` but is not terminated by `,` before the data.
    #[error("namespace is not terminated by ','")]
    BadNamespace,
    /// An ack id larger than 2^64-1.
    #[error("ack id does not fit in 64 bits")]
    AckIdOverflow,
    /// An ACK packet without its id.
    #[error("ACK packet without an ack id")]
    MissingAckId,
    /// The data is not valid JSON.
    #[error("invalid JSON in Socket.IO packet: {0}")]
    Json(String),
    /// The data is valid JSON of a shape the packet type does not allow.
    #[error("invalid {packet} payload: {expected}")]
    Shape {
        /// Packet type that was being decoded.
        packet: &'static str,
        /// What that type requires.
        expected: &'static str,
    },
}

/// Why an outgoing packet could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode Socket.IO payload: {0}")]
pub struct EncodeError(#[from] serde_json::Error);

impl<'a> Packet<'a> {
    /// Decodes the payload of an Engine.IO `message` packet (the part after the leading `4`).
    pub fn decode(msg: &'a str) -> Result<Self, DecodeError> {
        let bytes = msg.as_bytes();
        let &type_byte = bytes.first().ok_or(DecodeError::Empty)?;
        let mut i = 1;
        match type_byte {
            kind::CONNECT..=kind::CONNECT_ERROR => {}
            kind::BINARY_EVENT | kind::BINARY_ACK => return Err(DecodeError::Binary),
            _ => {
                let c = msg.chars().next().unwrap_or('\0');
                return Err(DecodeError::UnknownType(c));
            }
        }

        let mut namespace = DEFAULT_NAMESPACE;
        if bytes.get(i) == Some(&b'/') {
            let rest = &msg[i..];
            match rest.find(',') {
                Some(end) => {
                    namespace = &rest[..end];
                    i += end + 1;
                }
                // A namespace with nothing after it is legal: `0/admin`.
                None if !rest.contains(['[', '{', '"']) => {
                    namespace = rest;
                    i = msg.len();
                }
                None => return Err(DecodeError::BadNamespace),
            }
        }

        let digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        let ack = if digits > 0 {
            let id = msg[i..i + digits]
                .parse::<u64>()
                .map_err(|_| DecodeError::AckIdOverflow)?;
            i += digits;
            Some(id)
        } else {
            None
        };

        let data = &msg[i..];
        let body = match type_byte {
            kind::CONNECT => {
                let raw = parse_raw(data)?;
                if let Some(v) = raw
                    && !v.get().starts_with('{')
                {
                    return Err(shape("CONNECT", "an object or nothing"));
                }
                Body::Connect(raw)
            }
            kind::DISCONNECT => Body::Disconnect,
            kind::EVENT => {
                let raw = parse_raw(data)?.ok_or(shape("EVENT", "a non-empty array"))?;
                Body::Event {
                    ack,
                    event: parse_event(raw)?,
                }
            }
            kind::ACK => {
                let id = ack.ok_or(DecodeError::MissingAckId)?;
                let raw = parse_raw(data)?.ok_or(shape("ACK", "an array"))?;
                let args: Vec<&RawValue> =
                    serde_json::from_str(raw.get()).map_err(|_| shape("ACK", "an array"))?;
                Body::Ack { id, args }
            }
            _ => {
                let raw = parse_raw(data)?.ok_or(shape("CONNECT_ERROR", "an object or string"))?;
                Body::ConnectError(raw)
            }
        };
        Ok(Packet { namespace, body })
    }

    /// Decodes a whole Engine.IO text frame that must be a `message` packet (`4...`).
    ///
    /// Returns `Ok(None)` for any other Engine.IO packet so callers can handle pings themselves.
    pub fn decode_frame(frame: &'a str) -> Result<Option<Self>, DecodeError> {
        match frame.strip_prefix('4') {
            Some(msg) => Packet::decode(msg).map(Some),
            None => Ok(None),
        }
    }
}

impl Body<'_> {
    /// The message carried by a CONNECT_ERROR, whether sent as `{"message":…}` or as a bare string.
    pub fn connect_error_message(&self) -> Option<String> {
        let Body::ConnectError(raw) = self else {
            return None;
        };
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Object { message: String },
            Text(String),
        }
        match serde_json::from_str::<Shape>(raw.get()) {
            Ok(Shape::Object { message } | Shape::Text(message)) => Some(message),
            Err(_) => Some(raw.get().to_owned()),
        }
    }
}

fn shape(packet: &'static str, expected: &'static str) -> DecodeError {
    DecodeError::Shape { packet, expected }
}

fn parse_raw(data: &str) -> Result<Option<&RawValue>, DecodeError> {
    if data.is_empty() {
        return Ok(None);
    }
    serde_json::from_str::<&RawValue>(data)
        .map(Some)
        .map_err(|e| DecodeError::Json(e.to_string()))
}

fn parse_event(raw: &RawValue) -> Result<Event<'_>, DecodeError> {
    let mut items: Vec<&RawValue> =
        serde_json::from_str(raw.get()).map_err(|_| shape("EVENT", "a non-empty array"))?;
    if items.is_empty() {
        return Err(shape("EVENT", "a non-empty array"));
    }
    let name_raw = items.remove(0);
    let name: Cow<'_, str> = serde_json::from_str(name_raw.get()).map_err(|_| {
        shape(
            "EVENT",
            "an array whose first element is the event name string",
        )
    })?;
    Ok(Event { name, args: items })
}

/// Starts an Engine.IO message frame for a Socket.IO packet: `4<type>[<ns>,]`.
fn head(type_byte: u8, namespace: &str, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity + namespace.len() + 8);
    out.push('4');
    out.push(type_byte as char);
    if namespace != DEFAULT_NAMESPACE && !namespace.is_empty() {
        out.push_str(namespace);
        out.push(',');
    }
    out
}

fn push_json<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), EncodeError> {
    // serde_json writes valid UTF-8, so extending the String's bytes keeps it valid.
    let json = serde_json::to_string(value)?;
    out.push_str(&json);
    Ok(())
}

/// `40[ns,][auth]`: the client's connect request.
pub fn encode_connect<T: Serialize + ?Sized>(
    namespace: &str,
    auth: Option<&T>,
) -> Result<String, EncodeError> {
    let mut out = head(kind::CONNECT, namespace, 64);
    if let Some(auth) = auth {
        push_json(&mut out, auth)?;
    }
    Ok(out)
}

/// `40[ns,]{"sid":…}`: the server accepts a connect.
pub fn encode_connect_ok(namespace: &str, sid: &str) -> String {
    let mut out = head(kind::CONNECT, namespace, sid.len() + 10);
    out.push_str("{\"sid\":");
    // A JSON string of a plain string cannot fail to encode.
    out.push_str(&serde_json::to_string(sid).unwrap_or_default());
    out.push('}');
    out
}

/// `44[ns,]{"message":…}`: the server refuses a connect.
pub fn encode_connect_error(namespace: &str, message: &str) -> String {
    let mut out = head(kind::CONNECT_ERROR, namespace, message.len() + 16);
    out.push_str("{\"message\":");
    out.push_str(&serde_json::to_string(message).unwrap_or_default());
    out.push('}');
    out
}

/// `41[ns,]`: leave a namespace.
pub fn encode_disconnect(namespace: &str) -> String {
    head(kind::DISCONNECT, namespace, 0)
}

/// `42[ns,][ack]["name",payload]`, or `["name"]` when `payload` is `None`.
pub fn encode_event<T: Serialize + ?Sized>(
    namespace: &str,
    ack: Option<u64>,
    name: &str,
    payload: Option<&T>,
) -> Result<String, EncodeError> {
    let mut out = head(kind::EVENT, namespace, name.len() + 64);
    if let Some(id) = ack {
        out.push_str(&id.to_string());
    }
    out.push('[');
    push_json(&mut out, name)?;
    if let Some(payload) = payload {
        out.push(',');
        push_json(&mut out, payload)?;
    }
    out.push(']');
    Ok(out)
}

/// `43[ns,]<id>[args…]`: acknowledges an event; `args` must serialize to a JSON array.
pub fn encode_ack<T: Serialize + ?Sized>(
    namespace: &str,
    id: u64,
    args: &T,
) -> Result<String, EncodeError> {
    let mut out = head(kind::ACK, namespace, 32);
    out.push_str(&id.to_string());
    push_json(&mut out, args)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event_of(msg: &str) -> (Option<u64>, String, Vec<String>) {
        let p = Packet::decode(msg).unwrap();
        let Body::Event { ack, event } = p.body else {
            panic!("not an event: {msg}")
        };
        let args = event.args.iter().map(|a| a.get().to_owned()).collect();
        (ack, event.name.into_owned(), args)
    }

    // Wire strings from the Socket.IO v4 protocol documentation.
    #[test]
    fn spec_examples_decode() {
        let p = Packet::decode("0").unwrap();
        assert_eq!(p.namespace, "/");
        assert!(matches!(p.body, Body::Connect(None)));

        let p = Packet::decode("0/admin,").unwrap();
        assert_eq!(p.namespace, "/admin");
        assert!(matches!(p.body, Body::Connect(None)));

        let p = Packet::decode(r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#).unwrap();
        assert_eq!(p.namespace, "/admin");
        let Body::Connect(Some(raw)) = p.body else {
            panic!()
        };
        assert_eq!(raw.get(), r#"{"sid":"oSO0OpakMV_3jnilAAAA"}"#);

        let p = Packet::decode(r#"4{"message":"Not authorized"}"#).unwrap();
        assert_eq!(
            p.body.connect_error_message().as_deref(),
            Some("Not authorized")
        );

        assert_eq!(
            event_of(r#"2["foo"]"#),
            (None, "foo".into(), Vec::<String>::new())
        );
        assert_eq!(
            event_of(r#"2/admin,["bar"]"#),
            (None, "bar".into(), Vec::<String>::new())
        );
        assert_eq!(
            event_of(r#"212["foo"]"#),
            (Some(12), "foo".into(), Vec::<String>::new())
        );

        let p = Packet::decode(r#"3/admin,13["bar"]"#).unwrap();
        assert_eq!(p.namespace, "/admin");
        let Body::Ack { id, args } = p.body else {
            panic!()
        };
        assert_eq!(id, 13);
        assert_eq!(args[0].get(), r#""bar""#);

        let p = Packet::decode("1/admin,").unwrap();
        assert!(matches!(p.body, Body::Disconnect));
    }

    #[test]
    fn spec_examples_encode() {
        assert_eq!(encode_connect::<()>("/", None).unwrap(), "40");
        assert_eq!(
            encode_connect(
                "/",
                Some(&crate::events::ConnectAuth {
                    token: "t".into(),
                    session_id: "s".into()
                })
            )
            .unwrap(),
            r#"40{"token":"t","sessionId":"s"}"#
        );
        assert_eq!(encode_connect_ok("/", "abc"), r#"40{"sid":"abc"}"#);
        assert_eq!(
            encode_connect_ok("/admin", "abc"),
            r#"40/admin,{"sid":"abc"}"#
        );
        assert_eq!(
            encode_connect_error("/", "Not authorized"),
            r#"44{"message":"Not authorized"}"#
        );
        assert_eq!(encode_disconnect("/admin"), "41/admin,");
        assert_eq!(
            encode_event::<()>("/", None, "messageLoadStart", None).unwrap(),
            r#"42["messageLoadStart"]"#
        );
        assert_eq!(
            encode_event("/", Some(12), "foo", Some(&json!({"a":1}))).unwrap(),
            r#"4212["foo",{"a":1}]"#
        );
        assert_eq!(
            encode_ack("/admin", 13, &json!(["bar"])).unwrap(),
            r#"43/admin,13["bar"]"#
        );
    }

    #[test]
    fn round_trip_every_type() {
        let frames = [
            encode_connect("/", Some(&json!({"token":"x"}))).unwrap(),
            encode_connect_ok("/chat", "sid1"),
            encode_connect_error("/", "bad token"),
            encode_disconnect("/"),
            encode_event(
                "/",
                Some(7),
                "chatMessage",
                Some(&json!({"room":"r","content":"hi \"q\""})),
            )
            .unwrap(),
            encode_ack("/", 7, &json!([{"ok":true}])).unwrap(),
        ];
        for frame in &frames {
            let p = Packet::decode_frame(frame).unwrap().unwrap();
            let again = match &p.body {
                Body::Connect(raw) => {
                    if p.namespace == "/chat" {
                        encode_connect_ok(p.namespace, "sid1")
                    } else {
                        encode_connect(p.namespace, raw.map(|r| r as &RawValue)).unwrap()
                    }
                }
                Body::ConnectError(_) => {
                    encode_connect_error(p.namespace, &p.body.connect_error_message().unwrap())
                }
                Body::Disconnect => encode_disconnect(p.namespace),
                Body::Event { ack, event } => {
                    let arg: serde_json::Value = event.arg(0).unwrap();
                    encode_event(p.namespace, *ack, &event.name, Some(&arg)).unwrap()
                }
                Body::Ack { id, args } => encode_ack(p.namespace, *id, args).unwrap(),
            };
            assert_eq!(&again, frame);
        }
    }

    #[test]
    fn escaped_event_names_are_unescaped() {
        let (_, name, _) = event_of(r#"2["a\"b"]"#);
        assert_eq!(name, "a\"b");
    }

    #[test]
    fn typed_args() {
        let p = Packet::decode(r#"2["x",{"n":5},"s"]"#).unwrap();
        let Body::Event { event, .. } = p.body else {
            panic!()
        };
        #[derive(Deserialize)]
        struct N {
            n: u32,
        }
        assert_eq!(event.arg::<N>(0).unwrap().n, 5);
        assert_eq!(event.arg::<&str>(1).unwrap(), "s");
        assert_eq!(event.arg::<Option<u32>>(2).unwrap(), None);
        assert!(matches!(event.arg::<N>(1), Err(DecodeError::Json(_))));
    }

    #[test]
    fn malformed_input_gives_typed_errors() {
        assert_eq!(Packet::decode("").unwrap_err(), DecodeError::Empty);
        assert_eq!(
            Packet::decode("9[]").unwrap_err(),
            DecodeError::UnknownType('9')
        );
        assert_eq!(
            Packet::decode("x").unwrap_err(),
            DecodeError::UnknownType('x')
        );
        assert_eq!(
            Packet::decode(r#"51-["a",{"_placeholder":true,"num":0}]"#).unwrap_err(),
            DecodeError::Binary
        );
        assert_eq!(
            Packet::decode(r#"2/admin["a"]"#).unwrap_err(),
            DecodeError::BadNamespace
        );
        assert_eq!(
            Packet::decode(r#"299999999999999999999999["a"]"#).unwrap_err(),
            DecodeError::AckIdOverflow
        );
        assert_eq!(
            Packet::decode(r#"3["a"]"#).unwrap_err(),
            DecodeError::MissingAckId
        );
        // truncated JSON
        assert!(matches!(
            Packet::decode(r#"2["chatMessage",{"room":"#).unwrap_err(),
            DecodeError::Json(_)
        ));
        // wrong shapes
        for bad in [
            r#"2{"a":1}"#,
            "2[]",
            "2[1]",
            "2",
            r#"0"str""#,
            "3",
            "31{}",
            "4",
        ] {
            assert!(
                matches!(
                    Packet::decode(bad).unwrap_err(),
                    DecodeError::Shape { .. } | DecodeError::MissingAckId
                ),
                "{bad}"
            );
        }
        // trailing garbage after JSON
        assert!(matches!(
            Packet::decode(r#"2["a"]xyz"#).unwrap_err(),
            DecodeError::Json(_)
        ));
    }

    #[test]
    fn huge_numbers_in_data_are_not_errors_of_framing() {
        // Numbers beyond f64 are still valid JSON; arguments stay raw until a type asks for them.
        let p = Packet::decode(r#"2["n",1e400]"#);
        match p {
            Ok(p) => {
                let Body::Event { event, .. } = p.body else {
                    panic!()
                };
                assert!(event.arg::<u64>(0).is_err());
            }
            Err(e) => assert!(matches!(e, DecodeError::Json(_))),
        }
    }

    #[test]
    fn non_message_frames_are_left_to_the_caller() {
        assert!(Packet::decode_frame("2").unwrap().is_none());
        assert!(Packet::decode_frame("3probe").unwrap().is_none());
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(s in "\\PC*") {
            let _ = Packet::decode(&s);
            let _ = crate::engineio::Packet::decode(&s);
        }

        #[test]
        fn decode_never_panics_on_packet_like_input(
            t in "[0-7]", ns in "(/[a-z]{0,4},?)?", id in "[0-9]{0,25}", data in "(\\[.{0,20}\\]|\\{.{0,20}\\}|\".{0,5}\")?"
        ) {
            let _ = Packet::decode(&format!("{t}{ns}{id}{data}"));
        }

        #[test]
        fn events_round_trip(name in "[a-zA-Z\"\\\\ ]{1,12}", ack in proptest::option::of(0u64..u64::MAX), text in ".{0,40}") {
            let frame = encode_event("/", ack, &name, Some(&serde_json::json!({"content": text}))).unwrap();
            let p = Packet::decode_frame(&frame).unwrap().unwrap();
            let Body::Event { ack: got_ack, event } = p.body else { panic!() };
            proptest::prop_assert_eq!(got_ack, ack);
            proptest::prop_assert_eq!(event.name.as_ref(), name.as_str());
            let v: serde_json::Value = event.arg(0).unwrap();
            proptest::prop_assert_eq!(v["content"].as_str().unwrap(), text.as_str());
        }
    }
}
