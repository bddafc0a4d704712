//! The JWT claims the original service signs (HS256): `{user:{id}, sessionId, iat, exp}`.
//!
//! Signing and verification live in the reference server; a load generator never needs to look inside a
//! token, but tests and tools may.

use serde::{Deserialize, Serialize};

/// Lifetime of a token in the original service: 24 hours.
pub const TOKEN_TTL_SECS: u64 = 24 * 60 * 60;

/// Claims carried by an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claims {
    /// Whose token this is.
    pub user: ClaimsUser,
    /// The session the token belongs to; a newer login ends it.
    pub session_id: String,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: u64,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// The `user` object inside [`Claims`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimsUser {
    /// The user's `_id`.
    pub id: String,
}
