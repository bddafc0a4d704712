//! The REST side of a chat session, as typestates: a [`Guest`] can only register, log in or check
//! health; an [`Authed`] user holds a token and can do everything else, including opening the socket.
//!
//! All VUs share a few `reqwest::Client`s (one per source address), so connections are pooled and a
//! VU costs nothing on the HTTP side while it is idle.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use protocol::rest::{
    AUTH_TOKEN_HEADER, AuthResponse, CreateRoomRequest, FileInfo, HealthResponse, JoinRoomRequest,
    LoginRequest, ProfileImageResponse, RegisterRequest, Room, RoomListQuery, RoomListResponse,
    RoomResponse, SESSION_ID_HEADER, UploadResponse, UserProfile,
};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;

use super::error::Failure;
use crate::base::kinds::FailureKind;

/// Longest response body excerpt kept in a failure message.
const BODY_EXCERPT: usize = 200;

/// The shared HTTP side of a run against one target.
#[derive(Debug, Clone)]
pub struct HttpPool {
    /// One base URL per instance of the target's deployment (usually one).
    bases: Arc<[Arc<str>]>,
    clients: Arc<[reqwest::Client]>,
}

impl HttpPool {
    /// Clients for `base` (`http://host:port`), one per source address (or one default client).
    ///
    /// `base` may list several instances of one deployment, comma-separated
    /// (`http://10.0.0.1:5000,http://10.0.0.2:5000`): VU `i` then talks to instance `i mod n` for
    /// REST and its socket alike, so the members of a room sit on different instances and every
    /// delivery the run verifies crosses between them.
    pub fn new(base: &str, source_ips: &[IpAddr]) -> Result<HttpPool, String> {
        let builder = || {
            reqwest::Client::builder()
                .tcp_nodelay(true)
                // Below servers' idle-connection deadlines (the reference server's: 30 s), so a
                // pooled connection is never reused just as the server closes it.
                .pool_idle_timeout(Duration::from_secs(20))
                // Enough idle connections for the bursts of a ramp step without hoarding sockets.
                .pool_max_idle_per_host(128)
                .user_agent(concat!("stampede/", env!("CARGO_PKG_VERSION")))
        };
        let clients: Vec<reqwest::Client> = if source_ips.is_empty() {
            vec![builder().build().map_err(|e| e.to_string())?]
        } else {
            source_ips
                .iter()
                .map(|ip| {
                    builder()
                        .local_address(*ip)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<Result<_, _>>()?
        };
        let bases: Vec<Arc<str>> = base
            .split(',')
            .map(|b| b.trim().trim_end_matches('/'))
            .filter(|b| !b.is_empty())
            .map(Arc::from)
            .collect();
        if bases.is_empty() {
            return Err(format!("{base:?} names no base URL"));
        }
        Ok(HttpPool {
            bases: bases.into(),
            clients: clients.into(),
        })
    }

    /// The target's (first instance's) base URL.
    pub fn base(&self) -> &str {
        &self.bases[0]
    }

    /// A guest session for VU `vu`, spread over the source addresses and the instances.
    pub fn guest(&self, vu: u32) -> Guest {
        let client = self.clients[vu as usize % self.clients.len()].clone();
        Guest {
            rest: Rest {
                client,
                base: Arc::clone(&self.bases[vu as usize % self.bases.len()]),
            },
        }
    }
}

/// A client bound to one target, without credentials.
#[derive(Debug, Clone)]
struct Rest {
    client: reqwest::Client,
    base: Arc<str>,
}

impl Rest {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
    }

    /// Sends a request and decodes a 2xx JSON body; anything else is a classified failure.
    async fn send<T: DeserializeOwned>(
        &self,
        what: &str,
        req: RequestBuilder,
    ) -> Result<T, Failure> {
        let resp = req.send().await.map_err(|e| Failure::http(what, &e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| Failure::http(what, &e))?;
        if !status.is_success() {
            let excerpt =
                String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT)]).into_owned();
            return Err(Failure::new(
                FailureKind::HttpStatus,
                format!("{what} → HTTP {}: {excerpt}", status.as_u16()),
            ));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Failure::protocol(format!("{what}: response is not the expected JSON: {e}"))
        })
    }
}

/// A session before login.
#[derive(Debug, Clone)]
pub struct Guest {
    rest: Rest,
}

impl Guest {
    /// `GET /health`.
    pub async fn health(&self) -> Result<HealthResponse, Failure> {
        self.rest
            .send("GET /health", self.rest.request(Method::GET, "/health"))
            .await
    }

    /// `POST /api/auth/register`; the response carries a token, so the user is signed in.
    pub async fn register(self, req: &RegisterRequest) -> Result<Authed, Failure> {
        let what = "POST /api/auth/register";
        let resp: AuthResponse = self
            .rest
            .send(
                what,
                self.rest
                    .request(Method::POST, "/api/auth/register")
                    .json(req),
            )
            .await?;
        Authed::from_response(self.rest, what, resp)
    }

    /// `POST /api/auth/login`.
    pub async fn login(self, req: &LoginRequest) -> Result<Authed, Failure> {
        let what = "POST /api/auth/login";
        let resp: AuthResponse = self
            .rest
            .send(
                what,
                self.rest.request(Method::POST, "/api/auth/login").json(req),
            )
            .await?;
        Authed::from_response(self.rest, what, resp)
    }
}

/// A signed-in session: token, session id and user.
#[derive(Debug, Clone)]
pub struct Authed {
    rest: Rest,
    token: String,
    session_id: String,
    user: UserProfile,
}

impl Authed {
    fn from_response(rest: Rest, what: &str, resp: AuthResponse) -> Result<Authed, Failure> {
        if resp.token.is_empty() {
            return Err(Failure::protocol(format!("{what}: response has no token")));
        }
        Ok(Authed {
            rest,
            token: resp.token,
            session_id: resp.session_id,
            user: resp.user,
        })
    }

    /// Back to a guest (to log in again).
    pub fn into_guest(self) -> Guest {
        Guest { rest: self.rest }
    }

    /// The signed-in user.
    pub fn user(&self) -> &UserProfile {
        &self.user
    }

    /// Access token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// The target's base URL.
    pub fn base(&self) -> &str {
        &self.rest.base
    }

    fn authed(&self, method: Method, path: &str) -> RequestBuilder {
        self.rest
            .request(method, path)
            .header(AUTH_TOKEN_HEADER, &self.token)
            .header(SESSION_ID_HEADER, &self.session_id)
    }

    /// `GET /health` (signed-in users call it too).
    pub async fn health(&self) -> Result<HealthResponse, Failure> {
        self.rest
            .send("GET /health", self.rest.request(Method::GET, "/health"))
            .await
    }

    /// `GET /api/rooms`.
    pub async fn list_rooms(&self, query: &RoomListQuery) -> Result<RoomListResponse, Failure> {
        let req = self.authed(Method::GET, "/api/rooms").query(query);
        self.rest.send("GET /api/rooms", req).await
    }

    /// `POST /api/rooms`.
    pub async fn create_room(&self, req: &CreateRoomRequest) -> Result<Room, Failure> {
        let resp: RoomResponse = self
            .rest
            .send(
                "POST /api/rooms",
                self.authed(Method::POST, "/api/rooms").json(req),
            )
            .await?;
        Ok(resp.data)
    }

    /// `POST /api/rooms/:id/join`.
    pub async fn join_room(&self, room_id: &str, password: Option<&str>) -> Result<Room, Failure> {
        let body = JoinRoomRequest {
            password: password.map(str::to_owned),
        };
        let path = format!("/api/rooms/{room_id}/join");
        let resp: RoomResponse = self
            .rest
            .send(
                "POST /api/rooms/:id/join",
                self.authed(Method::POST, &path).json(&body),
            )
            .await?;
        Ok(resp.data)
    }

    /// `GET /api/rooms/:id`.
    pub async fn get_room(&self, room_id: &str) -> Result<Room, Failure> {
        let path = format!("/api/rooms/{room_id}");
        let resp: RoomResponse = self
            .rest
            .send("GET /api/rooms/:id", self.authed(Method::GET, &path))
            .await?;
        Ok(resp.data)
    }

    /// `POST /api/files/upload` with a multipart field `file`.
    pub async fn upload_file(
        &self,
        name: &str,
        mime: &str,
        bytes: Vec<u8>,
    ) -> Result<FileInfo, Failure> {
        let what = "POST /api/files/upload";
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(mime)
            .map_err(|e| Failure::protocol(format!("{what}: bad MIME type {mime:?}: {e}")))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let resp: UploadResponse = self
            .rest
            .send(
                what,
                self.authed(Method::POST, "/api/files/upload")
                    .multipart(form),
            )
            .await?;
        Ok(resp.file)
    }

    /// `POST /api/users/profile-image` with a multipart field `profileImage`.
    pub async fn upload_profile_image(&self, bytes: Vec<u8>) -> Result<String, Failure> {
        let what = "POST /api/users/profile-image";
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("avatar.png")
            .mime_str("image/png")
            .map_err(|e| Failure::protocol(format!("{what}: {e}")))?;
        let form = reqwest::multipart::Form::new().part("profileImage", part);
        let resp: ProfileImageResponse = self
            .rest
            .send(
                what,
                self.authed(Method::POST, "/api/users/profile-image")
                    .multipart(form),
            )
            .await?;
        Ok(resp.image_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vus_are_spread_over_a_deployments_instances() {
        let pool = HttpPool::new("http://a:1/, http://b:2", &[]).unwrap();
        let bases: Vec<String> = (0..4)
            .map(|vu| pool.guest(vu).rest.base.to_string())
            .collect();
        assert_eq!(
            bases,
            ["http://a:1", "http://b:2", "http://a:1", "http://b:2"]
        );
        assert_eq!(pool.base(), "http://a:1");
        assert!(HttpPool::new(" , ", &[]).is_err());
    }
}
