//! The original's per-IP limit on `GET /api/rooms` (express-rate-limit: 60 requests per minute, fixed
//! window, 429 `{success:false,error:{code:'TOO_MANY_REQUESTS'}}`). Off unless configured: a load test
//! sends every request from one IP and would hit it at once.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::error::ApiError;
use crate::peer::Peer;
use crate::state::AppState;

/// Route middleware enforcing the room-list limit, when one is configured.
pub async fn limit_room_list(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(limiter) = &state.room_list_limiter {
        let (parts, body) = request.into_parts();
        let peer = Peer::of(&parts);
        if !limiter.check(&peer.ip, Instant::now()) {
            return ApiError::TooManyRequests.into_response();
        }
        return next.run(Request::from_parts(parts, body)).await;
    }
    next.run(request).await
}
