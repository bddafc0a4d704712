//! The competition's chat protocol, defined once and used by both sides: the load generator speaks it
//! to any team's server, the reference server serves it to real `socket.io-client`s.
//!
//! Nothing here does I/O. Types are plain serde models whose field names are the wire names of the
//! original service (camelCase, Mongo-style `_id`); decoding is lenient where foreign servers are known to
//! differ (missing optional fields, numeric timestamps) and strict where a mistake would hide a bug
//! (framing).
//!
//! # Layout
//! - [`engineio`]: Engine.IO v4 packets (open, close, ping, pong, message, upgrade, noop) and the
//!   long-polling payload format.
//! - [`socketio`]: Socket.IO v4 packets carried in Engine.IO messages: CONNECT (with auth),
//!   CONNECT_ERROR, EVENT, ACK, DISCONNECT, namespaces and ack ids. Decoding borrows from the frame.
//! - [`rest`]: every REST request and response body.
//! - [`events`]: every socket event name and payload, both directions.
//! - [`token`]: the JWT claims shape (`{user:{id}, sessionId}`).
//! - [`time`](mod@time): the wire timestamp (ISO 8601 string, tolerant of epoch milliseconds on input).

pub mod engineio;
pub mod events;
pub mod rest;
pub mod socketio;
pub mod time;
pub mod token;

/// The path both Socket.IO and Engine.IO serve on, with the query the websocket transport uses.
pub const SOCKET_PATH: &str = "/socket.io/";
