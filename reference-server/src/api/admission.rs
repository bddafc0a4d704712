//! The REST side of overload control: [`track`], the route layer that admits every request through
//! [`Overload::enter`] and bounds it by the level's timeout, and how a [`Rejection`] looks to a REST
//! client (503, `Retry-After` or `x-retry: no`, a JSON body it can read). Overload control decides;
//! this module answers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::overload::{Overload, Rejection, RequestKind};

/// Response header: `no` when clients should not retry failed requests.
pub const X_RETRY: HeaderName = HeaderName::from_static("x-retry");
/// Response header: the load level.
pub const X_LOAD_LEVEL: HeaderName = HeaderName::from_static("x-load-level");
/// Request header a client sets to `background` when it runs in the background.
pub const X_CLIENT_STATE: HeaderName = HeaderName::from_static("x-client-state");

/// What a REST route is, for [`track`].
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// Its kind.
    pub kind: RequestKind,
    /// True for register and login: the routes a background client may be refused.
    pub login: bool,
}

/// Route middleware: tags the request with its kind (as a request extension), refuses background
/// logins when the level says so, admits it through [`Overload::enter`], bounds it by the level's
/// timeout, and labels the response with the level (and `x-retry: no` when clients should not
/// retry).
pub async fn track(
    State((overload, route)): State<(Arc<Overload>, Route)>,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(route.kind);
    let background = request
        .headers()
        .get(X_CLIENT_STATE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"background"));
    if route.login
        && background
        && let Some(refusal) = overload.refuse_background()
    {
        return refusal.into_response();
    }
    let in_flight = match overload.enter(route.kind).await {
        Ok(in_flight) => in_flight,
        Err(refusal) => return refusal.into_response(),
    };
    let mut response = match overload.request_timeout() {
        None => next.run(request).await,
        Some(budget) => match tokio::time::timeout(budget, next.run(request)).await {
            Ok(response) => response,
            Err(_) => overload.timed_out(route.kind).into_response(),
        },
    };
    drop(in_flight);
    if overload.enabled() {
        let headers = response.headers_mut();
        headers.insert(X_LOAD_LEVEL, HeaderValue::from(u16::from(overload.level())));
        if overload.no_retry() {
            headers.insert(X_RETRY, HeaderValue::from_static("no"));
        }
    }
    response
}

impl IntoResponse for Rejection {
    /// The REST response: 503, `Retry-After` or `x-retry: no`, and a JSON body a client can read.
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "success": false,
            "message": self.message(),
            "error": {"code": "OVERLOADED", "message": self.message()},
            "retry": self.retry_after.is_some(),
            "retryAfterMs": self.retry_after.map(|d| d.as_millis() as u64),
            "level": self.level,
        });
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match self.retry_after {
            Some(after) => {
                headers.insert(
                    axum::http::header::RETRY_AFTER,
                    HeaderValue::from(after.as_secs().max(1)),
                );
            }
            None => {
                headers.insert(X_RETRY, HeaderValue::from_static("no"));
            }
        }
        headers.insert(X_LOAD_LEVEL, HeaderValue::from(u16::from(self.level)));
        response
    }
}
