//! The operator's side: `GET|PUT|PATCH /admin/overload` (bearer token from `--admin-token` /
//! `CHAT_ADMIN_TOKEN`) and `GET /metrics` (open, as Prometheus scrapes are).
//!
//! - `GET` → the config in force as JSON and TOML, its revision and source, the level, and the
//!   watched file's last error.
//! - `PUT` with a TOML body → replaces the whole config (fields left out take their defaults).
//! - `PATCH` with a TOML body → changes only the fields it names (`hot.push_probability = 0.05`).
//!
//! A change is validated first: a bad document gets 400 with every problem named, and the running
//! config (its revision in the answer) stays. A good one gets the next revision and is propagated to
//! every instance through [`Coordination`](crate::overload::Coordination).

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::overload::{ChangeError, ConfigError, OverloadConfig, Source, metrics};
use crate::state::AppState;

/// The admin and metrics routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/overload", get(show).put(replace).patch(patch))
        .route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>) -> Response {
    let mut text = metrics::render(&state.overload, state.gateway.connection_count());
    if let Some(bus) = state.gateway.bus() {
        text.push_str(&redis_metrics(&bus.shortfalls().1));
        text.push_str(&skip_metrics(bus.skips()));
    }
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// The Redis durability lines of `/metrics`: degraded or not, and each short shard.
fn redis_metrics(short: &[crate::store::redis::Shortfall]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "# HELP chat_redis_degraded 1 when a Redis shard has fewer replicas than --redis-replica-acks.\n\
         # TYPE chat_redis_degraded gauge\n",
    );
    let _ = writeln!(out, "chat_redis_degraded {}", u8::from(!short.is_empty()));
    out.push_str(
        "# HELP chat_redis_shard_replicas_missing Replicas a short shard lacks (by a slot it serves).\n\
         # TYPE chat_redis_shard_replicas_missing gauge\n",
    );
    for s in short {
        let _ = writeln!(
            out,
            "chat_redis_shard_replicas_missing{{slot=\"{}\"}} {}",
            s.slot,
            s.wanted.saturating_sub(s.connected)
        );
    }
    out
}

/// The bus's skip lines of `/metrics`: room events gone from the log, and the `resync` events that
/// told local members about them.
fn skip_metrics(skips: crate::gateway::bus::Skips) -> String {
    format!(
        "# HELP chat_room_events_skipped_total Room events no longer in the Redis log when this instance read them back.\n\
         # TYPE chat_room_events_skipped_total counter\n\
         chat_room_events_skipped_total {}\n\
         # HELP chat_room_resyncs_total resync events queued for members on this instance after skipped room events.\n\
         # TYPE chat_room_resyncs_total counter\n\
         chat_room_resyncs_total {}\n",
        skips.events, skips.resyncs
    )
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({"success": false, "message": message})),
    )
        .into_response()
}

/// Compares in time independent of where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `None` when the request carries the admin token, else the refusal to send.
fn unauthorized(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &state.config.overload.admin_token else {
        return Some(refuse(
            StatusCode::NOT_FOUND,
            "the admin endpoint is off: start the server with --admin-token (or CHAT_ADMIN_TOKEN)"
                .into(),
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(given) if same(given.trim().as_bytes(), token.as_bytes()) => None,
        _ => {
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                "admin requests need `Authorization: Bearer <admin token>`".into(),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            Some(response)
        }
    }
}

fn current(state: &AppState) -> Response {
    let o = &state.overload;
    let live = o.live();
    axum::Json(json!({
        "success": true,
        "revision": live.revision,
        "source": live.source.as_str(),
        "appliedAt": live.applied_at.to_wire(),
        "level": o.level(),
        "utilization": o.utilization(),
        "coordination": o.coordination().name(),
        "fileError": o.file_error(),
        "config": live.config,
        "toml": live.config.to_toml(),
    }))
    .into_response()
}

async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refusal) = unauthorized(&state, &headers) {
        return refusal;
    }
    current(&state)
}

/// Largest admin body read: an overload config is a few KiB of TOML.
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// The body as text, read only after the token was checked (so a caller without it never makes
/// the server read up to the default 2 MB), or the refusal to send.
async fn admin_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<String, Response> {
    if let Some(refusal) = unauthorized(state, headers) {
        return Err(refusal);
    }
    let bytes = axum::body::to_bytes(body, MAX_ADMIN_BODY)
        .await
        .map_err(|_| {
            refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("admin bodies are TOML of at most {MAX_ADMIN_BODY} bytes"),
            )
        })?;
    String::from_utf8(bytes.to_vec()).map_err(|_| {
        refuse(
            StatusCode::BAD_REQUEST,
            "the body must be UTF-8 TOML".into(),
        )
    })
}

async fn replace(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match admin_body(&state, &headers, body).await {
        Ok(body) => apply(&state, OverloadConfig::parse(&body)).await,
        Err(refusal) => refusal,
    }
}

async fn patch(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match admin_body(&state, &headers, body).await {
        Ok(body) => {
            let patched = state.overload.live().config.patched(&body);
            apply(&state, patched).await
        }
        Err(refusal) => refusal,
    }
}

async fn apply(state: &AppState, config: Result<OverloadConfig, ConfigError>) -> Response {
    let result = match config {
        Ok(config) => state.overload.change(config, Source::Admin).await,
        Err(e) => Err(ChangeError::Invalid(e)),
    };
    match result {
        Ok(_) => current(state),
        Err(e) => {
            let status = match e {
                ChangeError::Invalid(_) => StatusCode::BAD_REQUEST,
                ChangeError::PinnedOff => StatusCode::CONFLICT,
                ChangeError::Coordination(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            let revision = state.overload.live().revision;
            let mut response = refuse(
                status,
                format!("{e}; the running config (revision {revision}) is unchanged"),
            );
            if let Ok(value) = axum::http::HeaderValue::from_str(&revision.to_string()) {
                response.headers_mut().insert("x-config-revision", value);
            }
            response
        }
    }
}
