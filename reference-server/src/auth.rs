//! Credentials: argon2id password hashing, HS256 access tokens, and the one check every authenticated
//! REST call and every socket CONNECT goes through ([`Auth::authenticate`]).
//!
//! Not here: who may do what to a room or file (the handlers decide), and kicking the old socket on a
//! new login (the gateway does, when the login handler asks it to; [`SessionEnd`] says why).

use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use std::cell::RefCell;

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// A password hash to compute on a hashing thread.
type HashJob = Box<dyn FnOnce() + Send>;

/// The threads password hashes run on: one per core, fed in arrival order, for the life of the
/// [`Auth`] that owns them.
///
/// Why not tokio's blocking pool: each hash allocates `kdf.memory_kib` (4–19 MiB) and frees it, and
/// the allocator keeps what a thread freed in that thread's arena for its next allocation. Spread
/// over the blocking pool's changing threads, a sign-up storm left a hash's worth of memory in each
/// of up to 8 arenas per core, and small allocations settling in the freed space made the next hash
/// take new memory again — 87 MiB at 4 MiB per hash after 10,000 sign-ups, about 9 KiB per user that
/// never came back. Here each thread keeps one working memory ([`BLOCKS`]) and every hash on it
/// reuses it: what stays is one hash's memory per core. Running more at once would not finish any sooner:
/// the cores are the limit either way.
struct Hashers {
    jobs: mpsc::Sender<HashJob>,
}

impl Hashers {
    /// Starts `threads` hashing threads (at least one). They end when the `Hashers` is dropped.
    fn start(threads: usize) -> Hashers {
        let (jobs, queue) = mpsc::channel::<HashJob>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job; a poisoned lock
                        // guards nothing a panic could have left half-done.
                        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match job {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Hashers { jobs }
    }

    /// Runs `work` on a hashing thread; `None` when no hashing thread is left to run it.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

thread_local! {
    /// The argon2 working memory of this hashing thread, kept from one hash to the next (see
    /// [`Hashers`]): grown to the largest cost seen, never freed while the thread runs.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `work` with this thread's argon2 working memory, at least `count` blocks of it.
fn with_blocks<T>(count: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        work(&mut blocks[..count])
    })
}

/// `argon`'s PHC string of `password` with a fresh salt: what `PasswordHasher::hash_password`
/// writes, computed in this thread's kept working memory instead of a new allocation.
fn hash_in_place(argon: &Argon2<'_>, password: &[u8]) -> Result<String, password_hash::Error> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())?;
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut raw_salt)?;
    let params = argon.params();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, raw_salt, &mut out, blocks)
    })?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `phc`, hashed with the algorithm, version and cost
/// recorded in it (so changing the configured cost never locks existing users out), in this
/// thread's kept working memory. The comparison takes the same time wherever the hashes differ.
fn verify_in_place(password: &[u8], phc: &str) -> bool {
    let check = || -> Result<bool, password_hash::Error> {
        let parsed = PasswordHash::new(phc)?;
        let expected = parsed.hash.ok_or(password_hash::Error::Crypto)?;
        let algorithm = Algorithm::try_from(parsed.algorithm)?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v)?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed)?;
        let argon = Argon2::new(algorithm, version, params.clone());
        let salt = parsed.salt.ok_or(password_hash::Error::Crypto)?;
        let mut raw_salt = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut raw_salt)?;
        let mut out = [0u8; Output::MAX_LENGTH];
        let out = &mut out[..expected.len()];
        with_blocks(params.block_count(), |blocks| {
            argon.hash_password_into_with_memory(password, raw_salt, out, blocks)
        })?;
        Ok(Output::new(out)? == expected)
    };
    check().unwrap_or(false)
}

/// Password hashing and token signing, shared by REST and the gateway.
pub struct Auth {
    argon: Argon2<'static>,
    hashers: Hashers,
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
            hashers: Hashers::start(cores),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation: Validation::new(jsonwebtoken::Algorithm::HS256),
        })
    }

    /// Hashes a password into a PHC string, on the server's hashing threads: one hash takes
    /// tens of milliseconds of CPU at the default cost and would stall every socket on this worker.
    pub async fn hash_password(&self, password: &str) -> Result<String, password_hash::Error> {
        let argon = self.argon.clone();
        let password = password.to_owned();
        self.hashers
            .run(move || hash_in_place(&argon, password.as_bytes()))
            .await
            .unwrap_or(Err(password_hash::Error::Crypto))
    }

    /// Does the work of one password check and throws it away, so a login for an unknown e-mail
    /// takes as long as one with a wrong password and its timing tells no registered e-mail apart.
    pub async fn dummy_password_check(&self, password: &str) {
        let _ = self.hash_password(password).await;
    }

    /// Checks a password against a PHC string, with the cost recorded in that string (so changing
    /// the configured cost never locks existing users out). Also on the hashing threads.
    pub async fn verify_password(&self, password: &str, phc: &str) -> bool {
        let password = password.to_owned();
        let phc = phc.to_owned();
        self.hashers
            .run(move || verify_in_place(password.as_bytes(), &phc))
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

    /// Hashing in kept working memory writes exactly what the argon2 crate's own hasher and
    /// verifier read, and reads what they write: stores keep hashes across versions of the server.
    #[tokio::test]
    async fn kept_memory_hashes_are_the_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let auth = auth(b"0123456789abcdef");
        let ours = auth.hash_password("hunter22").await.unwrap();
        let argon = Argon2::default();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon.verify_password(b"hunter22", &parsed).is_ok());
        assert!(argon.verify_password(b"hunter23", &parsed).is_err());

        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let params = Params::new(32, 3, 1, None).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"hunter22", &salt)
            .unwrap()
            .to_string();
        assert!(auth.verify_password("hunter22", &theirs).await);
        assert!(!auth.verify_password("hunter2", &theirs).await);
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
