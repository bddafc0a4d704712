//! Hostile input on the decoding path every received frame takes: Engine.IO packets and payloads,
//! Socket.IO packets, and each client event's typed payload. Large (up to a megabyte, the server's
//! default max payload) and deep (nesting far past serde_json's recursion limit) inputs must come
//! back as typed errors or values, never as a panic or a stack overflow.

use proptest::prelude::*;
use protocol::events::{
    ChatMessageRequest, ConnectAuth, FetchPreviousMessagesRequest, MarkMessagesAsReadRequest,
    MessageReactionRequest,
};
use protocol::{engineio, socketio};

/// The server's default `--max-payload`.
const MAX_PAYLOAD: usize = 1_000_000;

/// JSON nested `depth` deep, arrays and objects mixed by `shape`'s bits, around `leaf`.
fn nested(depth: usize, shape: u64, leaf: &str) -> String {
    let mut out = String::with_capacity(depth * 6 + leaf.len());
    for i in 0..depth {
        out.push_str(if shape >> (i % 64) & 1 == 1 {
            "{\"a\":"
        } else {
            "["
        });
    }
    out.push_str(leaf);
    for i in (0..depth).rev() {
        out.push(if shape >> (i % 64) & 1 == 1 { '}' } else { ']' });
    }
    out
}

/// Decodes `frame` the way the server does: Engine.IO first, then Socket.IO, then every client
/// event's payload type from argument 0.
fn decode_all(frame: &str) {
    let _ = engineio::Packet::decode(frame);
    let Ok(Some(packet)) = socketio::Packet::decode_frame(frame) else {
        return;
    };
    match packet.body {
        socketio::Body::Event { event, .. } => {
            let _ = event.arg::<ChatMessageRequest>(0);
            let _ = event.arg::<FetchPreviousMessagesRequest>(0);
            let _ = event.arg::<MarkMessagesAsReadRequest>(0);
            let _ = event.arg::<MessageReactionRequest>(0);
            let _ = event.arg::<String>(0);
            let _ = event.arg::<serde_json::Value>(5);
        }
        socketio::Body::Connect(Some(auth)) => {
            let _ = serde_json::from_str::<ConnectAuth>(auth.get());
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Nesting up to 100,000 levels, as an event argument, as the event array itself and as CONNECT
    /// auth: serde_json stops at its recursion limit with an error.
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow(
        depth in 0usize..100_000,
        shape in any::<u64>(),
        event in prop::sample::select(vec!["chatMessage", "joinRoom", "markMessagesAsRead"]),
    ) {
        let deep = nested(depth, shape, "1");
        decode_all(&format!("42[\"{event}\",{deep}]"));
        decode_all(&format!("42{deep}"));
        decode_all(&format!("40{deep}"));
        decode_all(&format!("4212{deep}"));
        // The frame may decode (arguments stay raw), but no typed payload is that deep.
        if depth > 200 {
            let frame = format!("42[\"{event}\",{deep}]");
            if let Ok(Some(socketio::Packet {
                body: socketio::Body::Event { event, .. },
                ..
            })) = socketio::Packet::decode_frame(&frame)
            {
                prop_assert!(event.arg::<serde_json::Value>(0).is_err(), "{depth} levels parsed");
            }
        }
    }

    /// Packet-shaped frames near the payload limit: long strings, long ack ids, long namespaces,
    /// long arrays of ids.
    #[test]
    fn large_frames_decode_or_fail_cleanly(
        len in 0usize..MAX_PAYLOAD,
        filler in prop::sample::select(vec!['a', '"', '\\', '[', '{', ',', '9', 'é', '\u{1e}', '/']),
        kind in 0usize..6,
    ) {
        let blob: String = std::iter::repeat_n(filler, len / filler.len_utf8()).collect();
        let frame = match kind {
            0 => format!("42[\"chatMessage\",{{\"room\":\"r\",\"content\":\"{blob}\"}}]"),
            1 => format!("42{blob}[\"joinRoom\",\"r\"]"),
            2 => format!("4/{blob},[\"joinRoom\"]"),
            3 => format!("43{blob}[]"),
            4 => {
                let ids = vec!["\"0123456789abcdef01234567\""; len / 27 + 1].join(",");
                format!("42[\"markMessagesAsRead\",{{\"roomId\":\"r\",\"messageIds\":[{ids}]}}]")
            }
            _ => blob.clone(),
        };
        decode_all(&frame);
        // A polling body is split on the record separator first.
        for packet in engineio::split_payload(&frame) {
            decode_all(packet);
        }
    }

    /// Arbitrary text with Socket.IO's prefixes.
    #[test]
    fn arbitrary_text_after_every_prefix(
        prefix in prop::sample::select(vec!["", "4", "40", "41", "42", "43", "44", "45", "46", "2", "3", "5", "6"]),
        text in "\\PC{0,2000}",
    ) {
        decode_all(&format!("{prefix}{text}"));
    }
}
