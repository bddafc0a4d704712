//! Extractors that turn every malformed request into an [`ApiError`] with a message that says what
//! was wrong, instead of axum's plain-text rejections: JSON bodies, query strings, and the
//! authenticated user.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use protocol::rest::{AUTH_TOKEN_HEADER, SESSION_ID_HEADER};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::AuthError;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UserRecord;

/// A JSON body; rejections become 4xx `{success:false,message}`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            // Wrong field types are a 400 like every other validation error (axum says 422).
            Err(rejection) => Err(ApiError::Rejected {
                status: match rejection.status() {
                    StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
                    other => other,
                },
                message: rejection.body_text(),
            }),
        }
    }
}

/// A JSON body that may be absent (empty body, any content type): absent means `T::default()`.
/// For routes the original's clients call with or without a body, like joining a room.
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes =
            Bytes::from_request(req, state)
                .await
                .map_err(|rejection| ApiError::Rejected {
                    status: rejection.status(),
                    message: rejection.body_text(),
                })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }
}

/// A multipart body; a request that is not `multipart/form-data` becomes a 4xx JSON error.
pub struct ApiMultipart(pub Multipart);

impl<S: Send + Sync> FromRequest<S> for ApiMultipart {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Multipart::from_request(req, state)
            .await
            .map(ApiMultipart)
            .map_err(|rejection| ApiError::Rejected {
                status: rejection.status(),
                message: format!(
                    "{}; send multipart/form-data with the file in its field",
                    rejection.body_text()
                ),
            })
    }
}

/// A query string; rejections become 400 naming the bad parameter and the allowed values.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Authed {
    /// The user.
    pub user: UserRecord,
    /// Their live session id.
    pub session_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TokenQuery {
    token: String,
    session_id: String,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => ApiError::Unauthorized(
                "Authentication required: send the x-auth-token and x-session-id headers".into(),
            ),
            AuthError::Store(e) => ApiError::Store(e),
            other => ApiError::Unauthorized(other.to_string()),
        }
    }
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let mut token = header(AUTH_TOKEN_HEADER);
        let mut session_id = header(SESSION_ID_HEADER);
        // File views are opened by <img>/<a> tags, which cannot send headers, so file routes also
        // accept `?token=&sessionId=`. Other routes do not: query strings end up in logs.
        if (token.is_empty() || session_id.is_empty())
            && parts.uri.path().starts_with("/api/files/")
            && let Ok(Query(q)) = Query::<TokenQuery>::try_from_uri(&parts.uri)
        {
            token = q.token;
            session_id = q.session_id;
        }
        let user = state
            .auth
            .authenticate(state.store.as_ref(), &token, &session_id)
            .await?;
        Ok(Authed { user, session_id })
    }
}
