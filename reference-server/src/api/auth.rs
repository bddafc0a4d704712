//! `/api/auth/*`: register, login, logout, token verification and refresh. A login replaces the
//! user's session (one per user) and ends the socket of the session it replaced.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::rest::{
    AuthResponse, LoginRequest, RegisterRequest, StatusResponse, VerifyTokenResponse,
};

use super::extract::{ApiJson, Authed};
use crate::auth::SessionEnd;
use crate::auth::new_session_id;
use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;
use crate::store::{NewUser, SessionRecord, StoreError, UnixMillis, UserRecord};
use crate::views;

/// Longest accepted e-mail address (RFC 5321's limit).
const MAX_EMAIL: usize = 254;
/// Longest accepted display name, in characters.
pub const MAX_NAME: usize = 50;

/// The problem with a display or room name, if it has one: control characters (`\0`, line breaks,
/// escapes) would reach every client's screen and log, and the Redis store reads `\0` as "keep the
/// old value".
pub fn name_problem(name: &str) -> Option<&'static str> {
    name.chars()
        .any(char::is_control)
        .then_some("name must not contain control characters")
}

/// Checks the shape of an e-mail address: one `@`, a non-empty local part, a dotted domain.
fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    email.len() <= MAX_EMAIL
        && !local.is_empty()
        && !domain.contains('@')
        && !email.chars().any(char::is_whitespace)
        && domain
            .split_once('.')
            .is_some_and(|(host, tld)| !host.is_empty() && !tld.is_empty() && !tld.ends_with('.'))
}

/// Starts a new session for `user` (ending any other) and signs its token.
async fn new_session(state: &AppState, user: &UserRecord) -> Result<(String, String), ApiError> {
    let session_id = new_session_id();
    state
        .store
        .replace_session(
            &user.id,
            SessionRecord {
                session_id: session_id.clone(),
                created_at: UnixMillis::now(),
            },
        )
        .await?;
    Ok((state.auth.issue_token(&user.id, &session_id), session_id))
}

/// `POST /api/auth/register {name,email,password}` → 201 with a session, like the original.
pub async fn register(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<AuthResponse>), ApiError> {
    let name = request.name.trim();
    let email = request.email.trim().to_lowercase();
    let mut problems = Vec::new();
    let name_len = name.chars().count();
    if !(2..=MAX_NAME).contains(&name_len) {
        problems.push(format!("name must be 2-{MAX_NAME} characters"));
    }
    if let Some(problem) = name_problem(name) {
        problems.push(problem.to_owned());
    }
    if !valid_email(&email) {
        problems.push("email must be a valid address like user@example.com".to_owned());
    }
    if request.password.chars().count() < 6 {
        problems.push("password must be at least 6 characters".to_owned());
    }
    if !problems.is_empty() {
        return Err(ApiError::BadRequest(problems.join("; ")));
    }
    let taken = || ApiError::Conflict("This email is already registered".into());
    // Checked before hashing so a duplicate costs no KDF time; the store re-checks atomically.
    if state.store.user_by_email(&email).await?.is_some() {
        return Err(taken());
    }
    let password_hash = state
        .auth
        .hash_password(&request.password)
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))?;
    let user = state
        .store
        .create_user(NewUser {
            name: name.to_owned(),
            email,
            password_hash,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => taken(),
            other => other.into(),
        })?;
    let (token, session_id) = new_session(&state, &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(AuthResponse {
            success: true,
            message: Some("Registered.".into()),
            token,
            session_id,
            user: views::profile(&user),
        }),
    ))
}

/// `POST /api/auth/login {email,password}`: replaces the user's session; the socket of the old one
/// gets `duplicate_login` and `session_ended` and is disconnected before this returns.
pub async fn login(
    State(state): State<AppState>,
    peer: Peer,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<AuthResponse>, ApiError> {
    let email = request.email.trim().to_lowercase();
    if email.is_empty() || request.password.is_empty() {
        return Err(ApiError::BadRequest(
            "email and password are required".into(),
        ));
    }
    let limits = &state.login_limiters;
    let now = tokio::time::Instant::now();
    if limits
        .per_address
        .as_ref()
        .is_some_and(|l| !l.check(&peer.ip, now))
        || limits
            .per_account
            .as_ref()
            .is_some_and(|l| !l.check(&email, now))
    {
        return Err(ApiError::TooManyRequests);
    }
    let refused = || ApiError::Unauthorized("Invalid email or password".into());
    let Some(user) = state.store.user_by_email(&email).await? else {
        state.auth.dummy_password_check(&request.password).await;
        return Err(refused());
    };
    if !state
        .auth
        .verify_password(&request.password, &user.password_hash)
        .await
    {
        return Err(refused());
    }
    let (token, session_id) = new_session(&state, &user).await?;
    state
        .gateway
        .end_user_session(
            &user.id,
            SessionEnd::DuplicateLogin {
                device_info: peer.user_agent,
                ip_address: peer.ip,
            },
        )
        .await;
    Ok(Json(AuthResponse {
        success: true,
        message: None,
        token,
        session_id,
        user: views::profile(&user),
    }))
}

/// `POST /api/auth/logout`: ends the session and its socket.
pub async fn logout(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<StatusResponse>, ApiError> {
    state
        .store
        .delete_session(&authed.user.id, &authed.session_id)
        .await?;
    state
        .gateway
        .end_user_session(&authed.user.id, SessionEnd::Logout)
        .await;
    Ok(Json(StatusResponse {
        success: true,
        message: Some("Logged out.".into()),
        error: None,
    }))
}

/// `POST /api/auth/verify-token`: the token's user, if token and session are valid.
pub async fn verify_token(authed: Authed) -> Json<VerifyTokenResponse> {
    Json(VerifyTokenResponse {
        success: true,
        user: views::profile(&authed.user),
    })
}

/// `POST /api/auth/refresh-token`: a new session and token for the same user, as the original did.
/// The user's socket stays connected (it authenticated when it connected).
pub async fn refresh_token(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<AuthResponse>, ApiError> {
    let (token, session_id) = new_session(&state, &authed.user).await?;
    Ok(Json(AuthResponse {
        success: true,
        message: Some("Token refreshed.".into()),
        token,
        session_id,
        user: views::profile(&authed.user),
    }))
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn email_shapes() {
        for ok in ["a@b.co", "first.last+tag@sub.example.com"] {
            assert!(valid_email(ok), "{ok}");
        }
        for bad in [
            "", "a", "a@b", "@b.co", "a@.co", "a@b.", "a b@c.de", "a@b@c.de",
        ] {
            assert!(!valid_email(bad), "{bad}");
        }
    }
}
