//! Rejections a client can read. A handler that refuses an upload (no credentials, too large, a
//! type not accepted, overload control saying no) answers before it has read the body; if the
//! connection then closed with the rest unread, the client — still sending — would see a reset
//! (`EPIPE` in Node's `fetch`, a network error in browsers) instead of the answer. This layer sits
//! in front of the upload routes, reads the body on the handler's behalf, and after a refusal keeps
//! reading what the client still sends, up to [`DRAIN_LIMIT`] bytes and for [`DRAIN_DEADLINE`], so
//! the answer arrives on a connection the client has finished writing to. A body larger or slower
//! than that is cut off and the answer says `Connection: close`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use tokio::sync::mpsc;

/// Most bytes read and thrown away after a refusal: the largest upload the routes accept.
pub const DRAIN_LIMIT: u64 = super::upload::UPLOAD_BODY_LIMIT as u64;

/// Longest time spent reading a refused body.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Route middleware: the handler reads the body through a channel; when it answers with an error
/// and has stopped reading, the rest is drained (bounded) before the answer goes out.
pub async fn read_rest_on_rejection(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let (tx, rx) = mpsc::channel::<Result<Bytes, axum::Error>>(4);
    // The pump owns the client's body: it feeds the handler while the handler reads, then drains.
    // It answers whether the body was read to its end.
    let pump = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut feeding = true;
        let mut drained = 0u64;
        while let Some(chunk) = stream.next().await {
            let bytes = match chunk {
                Ok(bytes) => bytes,
                Err(e) => {
                    // The handler must see the failure (a body deadline, a reset), not a body that
                    // merely ended early and might parse.
                    if feeding {
                        let _ = tx.send(Err(e)).await;
                    }
                    return false;
                }
            };
            if feeding {
                let len = bytes.len() as u64;
                if tx.send(Ok(bytes)).await.is_err() {
                    // The handler dropped its body: it has answered or given up.
                    feeding = false;
                    drained += len;
                }
            } else {
                drained += bytes.len() as u64;
            }
            if drained > DRAIN_LIMIT {
                return false;
            }
        }
        true
    });
    let handler_body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let mut response = next.run(Request::from_parts(parts, handler_body)).await;
    if response.status().is_success() {
        // A handler that succeeded read what it needed; whatever the pump still has is the
        // transport's business, as without this layer.
        return response;
    }
    let read_to_end = matches!(
        tokio::time::timeout(DRAIN_DEADLINE, pump).await,
        Ok(Ok(true))
    );
    if !read_to_end {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
