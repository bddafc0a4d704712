//! Protocol clients a VU drives, as typestates: a [`Guest`] registers or logs in and becomes
//! [`Authed`]; only an `Authed` user can open a [`SioSocket`]; only a [`Joined`] room (built from the
//! server's `joinRoomSuccess`) can receive chat messages. Every failure comes back classified as a
//! [`Failure`] so the engine can count it by kind without looking at strings.
//!
//! # Layout
//! - [`error`]: [`Failure`] and the classification of I/O, HTTP and websocket errors.
//! - [`rest`]: the shared HTTP pool and the REST typestates.
//! - [`socket`]: the Socket.IO v4 client over the Engine.IO websocket transport.

pub mod error;
pub mod rest;
pub mod socket;

pub use error::Failure;
pub use rest::{Authed, Guest, HttpPool};
pub use socket::{ConnectTimings, Inbound, Joined, SioSocket, SocketOptions};
