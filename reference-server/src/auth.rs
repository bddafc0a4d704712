//! Credentials: argon2id password hashing, HS256 access tokens, and the one check every authenticated
//! REST call and every socket CONNECT goes through ([`Auth::authenticate`]).
//!
//! Not here: who may do what to a room or file (the handlers decide), and kicking the old socket on a
//! new login (the gateway does, when the login handler asks it to; [`SessionEnd`] says why).

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use protocol::token::{Claims, ClaimsUser, TOKEN_TTL_SECS};

use crate::store::{ChatStore, StoreError, UserRecord, hex};

/// Argon2id cost of password hashing.
///
/// The default (19 MiB, 2 passes) is OWASP's recommended minimum for argon2id. Measured on the 2-core
/// development box with `cargo run --release -p reference-server --example kdf_cost`: 15.5 ms per
/// hash, 62 hashes/s with both cores busy (the original's bcrypt cost 10 was slower still). Every
/// register and every login costs one hash, so this caps sign-ups + logins at ~60/s and takes CPU
/// from chat while it does; for load tests that sign users up fast, 4096 KiB × 1 pass gives 1.6 ms
/// and ~675 hashes/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory per hash in KiB (at least 8).
    pub memory_kib: u32,
    /// Passes over the memory (at least 1).
    pub iterations: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

impl KdfParams {
    /// The cheapest cost argon2 allows: for tests only.
    pub const MINIMAL: KdfParams = KdfParams {
        memory_kib: 8,
        iterations: 1,
    };
}

/// Why a user's session, and with it the user's socket, is ended from outside that socket (a
/// REST login or logout, here or on another instance).
#[derive(Debug, Clone)]
pub enum SessionEnd {
    /// The user logged in again elsewhere.
    DuplicateLogin {
        /// User agent of the new login.
        device_info: String,
        /// Address of the new login.
        ip_address: String,
    },
    /// The user logged out.
    Logout,
}

/// Why credentials were refused. The messages are the original service's, so clients that match on
/// them (its frontend shows them) keep working.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token or no session id was sent.
    #[error("Authentication error")]
    Missing,
    /// The token is malformed or its signature is wrong.
    #[error("Invalid token")]
    InvalidToken,
    /// The token's `exp` has passed.
    #[error("Token expired")]
    Expired,
    /// The session is not the user's live one (logged out, or replaced by a newer login).
    #[error("Invalid session")]
    InvalidSession,
    /// The token names a user that does not exist.
    #[error("User not found")]
    UserNotFound,
    /// The store failed while checking.
    #[error("Authentication failed")]
    Store(#[from] StoreError),
}

/// Password hashing and token signing, shared by REST and the gateway.
pub struct Auth {
    argon: Argon2<'static>,
    /// One permit per core. Each hash holds `kdf.memory_kib` of memory while it runs, and the blocking
    /// pool would otherwise run hundreds at once during a sign-up storm (100 users at a ramp step ×
    /// 19 MiB ≈ 2 GiB) without finishing any sooner: the cores are the limit either way.
    hashing: tokio::sync::Semaphore,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Auth {
    /// Builds the hasher for `kdf` and the token keys for `secret`.
    pub fn new(kdf: KdfParams, secret: &[u8]) -> Result<Self, argon2::Error> {
        let params = Params::new(kdf.memory_kib, kdf.iterations, 1, None)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Auth {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            hashing: tokio::sync::Semaphore::new(cores),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation: Validation::new(jsonwebtoken::Algorithm::HS256),
        })
    }

    /// Hashes a password into a PHC string. Runs on the blocking pool: one hash takes tens of
    /// milliseconds of CPU at the default cost and would stall every socket on this worker.
    pub async fn hash_password(
        &self,
        password: &str,
    ) -> Result<String, argon2::password_hash::Error> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        // The semaphore is never closed, so acquiring only waits.
        let _permit = self.hashing.acquire().await;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
            Ok(argon.hash_password(password.as_bytes(), &salt)?.to_string())
        })
        .await
        .unwrap_or(Err(argon2::password_hash::Error::Crypto))
    }

    /// Does the work of one password check and throws it away, so a login for an unknown e-mail
    /// takes as long as one with a wrong password and its timing tells no registered e-mail apart.
    pub async fn dummy_password_check(&self, password: &str) {
        let _ = self.hash_password(password).await;
    }

    /// Checks a password against a PHC string, with the cost recorded in that string (so changing
    /// the configured cost never locks existing users out). Also on the blocking pool.
    pub async fn verify_password(&self, password: &str, phc: &str) -> bool {
        let argon = self.argon.clone();
        let password = password.to_owned();
        let phc = phc.to_owned();
        let _permit = self.hashing.acquire().await;
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&phc)
                .is_ok_and(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .unwrap_or(false)
    }

    /// Signs a 24-hour access token for a user's session.
    pub fn issue_token(&self, user_id: &str, session_id: &str) -> String {
        self.issue_token_with_ttl(user_id, session_id, Duration::from_secs(TOKEN_TTL_SECS))
    }

    /// Signs a token with a chosen lifetime (tests use it to make already-expired tokens).
    pub fn issue_token_with_ttl(&self, user_id: &str, session_id: &str, ttl: Duration) -> String {
        self.sign(user_id, session_id, now_secs(), ttl.as_secs())
    }

    /// Signs a token that expired `ago` before now.
    pub fn issue_expired_token(&self, user_id: &str, session_id: &str, ago: Duration) -> String {
        let exp = now_secs().saturating_sub(ago.as_secs());
        self.sign(
            user_id,
            session_id,
            exp.saturating_sub(TOKEN_TTL_SECS),
            TOKEN_TTL_SECS,
        )
    }

    fn sign(&self, user_id: &str, session_id: &str, iat: u64, ttl: u64) -> String {
        let claims = Claims {
            user: ClaimsUser {
                id: user_id.to_owned(),
            },
            session_id: session_id.to_owned(),
            iat,
            exp: iat + ttl,
        };
        // HS256 over a serializable struct cannot fail.
        jsonwebtoken::encode(&Header::default(), &claims, &self.encoding).unwrap_or_default()
    }

    /// Checks a token's signature and expiry.
    pub fn verify_token(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::InvalidToken,
            })
    }

    /// The full check of a token + session id pair: signature, expiry, the session id matching both the
    /// token and the user's live session, and the user existing.
    pub async fn authenticate(
        &self,
        store: &dyn ChatStore,
        token: &str,
        session_id: &str,
    ) -> Result<UserRecord, AuthError> {
        if token.is_empty() || session_id.is_empty() {
            return Err(AuthError::Missing);
        }
        let claims = self.verify_token(token)?;
        if claims.session_id != session_id {
            return Err(AuthError::InvalidSession);
        }
        let live = store.session(&claims.user.id).await?;
        if live.is_none_or(|s| s.session_id != session_id) {
            return Err(AuthError::InvalidSession);
        }
        store
            .user(&claims.user.id)
            .await?
            .ok_or(AuthError::UserNotFound)
    }
}

/// A new random session id: 64 hex characters, like the original's `randomBytes(32)`.
pub fn new_session_id() -> String {
    hex(&rand::random::<[u8; 32]>())
}

fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[cfg(test)]
mod tests {
    use crate::store::memory::MemoryStore;
    use crate::store::{NewUser, SessionRecord, UnixMillis};

    use super::*;

    fn auth(secret: &[u8]) -> Auth {
        Auth::new(KdfParams::MINIMAL, secret).unwrap()
    }

    #[tokio::test]
    async fn passwords_verify_only_with_the_right_password() {
        let auth = auth(b"0123456789abcdef");
        let phc = auth.hash_password("hunter22").await.unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("hunter22"));
        assert!(auth.verify_password("hunter22", &phc).await);
        assert!(!auth.verify_password("hunter23", &phc).await);
        assert!(!auth.verify_password("hunter22", "not a phc string").await);
        // A hash made at another cost still verifies: the cost travels inside the PHC string.
        let other = Auth::new(
            KdfParams {
                memory_kib: 16,
                iterations: 2,
            },
            b"0123456789abcdef",
        )
        .unwrap();
        assert!(other.verify_password("hunter22", &phc).await);
    }

    #[test]
    fn tokens_round_trip_and_carry_the_wire_claims() {
        let auth = auth(b"0123456789abcdef");
        let token = auth.issue_token("u1", "s1");
        let claims = auth.verify_token(&token).unwrap();
        assert_eq!(claims.user.id, "u1");
        assert_eq!(claims.session_id, "s1");
        assert_eq!(claims.exp - claims.iat, TOKEN_TTL_SECS);
    }

    #[test]
    fn bad_tokens_are_told_apart_from_expired_ones() {
        let auth = auth(b"0123456789abcdef");
        let other = super::Auth::new(KdfParams::MINIMAL, b"another secret!!").unwrap();
        assert_eq!(
            auth.verify_token(&other.issue_token("u", "s")),
            Err(AuthError::InvalidToken)
        );
        assert_eq!(auth.verify_token("garbage"), Err(AuthError::InvalidToken));
        // Beyond the validator's 60 s leeway.
        let expired = auth.issue_expired_token("u", "s", Duration::from_secs(120));
        assert_eq!(auth.verify_token(&expired), Err(AuthError::Expired));
    }

    #[tokio::test]
    async fn authenticate_requires_the_live_session() {
        let auth = auth(b"0123456789abcdef");
        let store = MemoryStore::new();
        let user = store
            .create_user(NewUser {
                name: "n".into(),
                email: "e@x.io".into(),
                password_hash: "h".into(),
            })
            .await
            .unwrap();
        let session = |id: &str| SessionRecord {
            session_id: id.into(),
            created_at: UnixMillis(0),
        };
        let token = auth.issue_token(&user.id, "s1");
        assert_eq!(
            auth.authenticate(&store, &token, "s1").await,
            Err(AuthError::InvalidSession)
        );
        store
            .replace_session(&user.id, session("s1"))
            .await
            .unwrap();
        assert_eq!(
            auth.authenticate(&store, &token, "s1").await.unwrap().id,
            user.id
        );
        assert_eq!(
            auth.authenticate(&store, &token, "s2").await,
            Err(AuthError::InvalidSession)
        );
        assert_eq!(
            auth.authenticate(&store, "", "s1").await,
            Err(AuthError::Missing)
        );
        store
            .replace_session(&user.id, session("s2"))
            .await
            .unwrap();
        assert_eq!(
            auth.authenticate(&store, &token, "s1").await,
            Err(AuthError::InvalidSession)
        );
        let ghost = auth.issue_token("000000000000000000000000", "s9");
        store
            .replace_session("000000000000000000000000", session("s9"))
            .await
            .unwrap();
        assert_eq!(
            auth.authenticate(&store, &ghost, "s9").await,
            Err(AuthError::UserNotFound)
        );
    }

    #[test]
    fn session_ids_are_64_hex() {
        let s = new_session_id();
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
