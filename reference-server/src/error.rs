//! [`ApiError`]: what a REST handler can fail with, and how each failure looks on the wire
//! (`{success:false, message}` with a 4xx/5xx status). Internal failures are logged here and reach
//! the client only as a generic message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::rest::{ErrorDetail, StatusResponse};

use crate::blob::BlobError;
use crate::store::StoreError;

/// A failed REST request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed or invalid; the message says what is wrong and what is allowed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: missing, invalid, expired or replaced credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: authenticated, but not allowed to touch this resource.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with existing state (e.g. the e-mail is taken).
    #[error("{0}")]
    Conflict(String),
    /// 413: a body or file above its limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: a file type that is not accepted here.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: the client exceeded a rate limit.
    #[error("too many requests")]
    TooManyRequests,
    /// 429: the user's uploads not yet posted in a message fill their quota; the message says
    /// which limit and how to free it.
    #[error("{0}")]
    UploadQuota(String),
    /// An extractor refused the request (bad JSON, bad query, body too large); keeps its status.
    #[error("{message}")]
    Rejected {
        /// The status the extractor chose.
        status: StatusCode,
        /// Its explanation.
        message: String,
    },
    /// The chat store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store failed.
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Anything else that is the server's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests | ApiError::UploadQuota(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Rejected { status, .. } => *status,
            ApiError::Store(StoreError::NotFound(_)) | ApiError::Blob(BlobError::NotFound(_)) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Store(StoreError::Conflict(_)) => StatusCode::CONFLICT,
            ApiError::Store(StoreError::Unavailable(_) | StoreError::Underreplicated(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Store(StoreError::Backend(_)) | ApiError::Blob(_) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match &self {
            ApiError::TooManyRequests => StatusResponse::failure(
                "TOO_MANY_REQUESTS",
                "Too many requests; try again in a minute.",
            ),
            ApiError::Store(StoreError::Unavailable(cause)) => {
                tracing::warn!(%cause, "request failed: store unavailable");
                StatusResponse {
                    success: false,
                    message: Some(
                        "Service temporarily unavailable: storage cannot be reached; try again"
                            .into(),
                    ),
                    error: Some(ErrorDetail {
                        code: "STORE_UNAVAILABLE".into(),
                        message: None,
                    }),
                }
            }
            ApiError::UploadQuota(why) => StatusResponse::failure("UPLOAD_QUOTA_EXCEEDED", why),
            ApiError::Store(StoreError::Underreplicated(why)) => StatusResponse {
                success: false,
                message: Some(format!("Service temporarily unavailable: {why}; try again")),
                error: Some(ErrorDetail {
                    code: "STORE_UNDERREPLICATED".into(),
                    message: None,
                }),
            },
            _ if status.is_server_error() => {
                // The cause stays in the log: it may name internals a client has no use for.
                tracing::error!(error = %self, "request failed");
                StatusResponse {
                    success: false,
                    message: Some("Internal server error".into()),
                    error: None,
                }
            }
            _ => StatusResponse {
                success: false,
                message: Some(self.to_string()),
                error: None,
            },
        };
        (status, axum::Json(body)).into_response()
    }
}
