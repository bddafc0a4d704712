//! The REST API: `/api/*`, `/health`, and profile images under `/uploads/`. Handlers return
//! `Result<_, ApiError>`; every route is tagged with its [`RequestKind`] for the overload layer.
//!
//! # Layout
//! - [`extract`]: JSON, query and authentication extractors with clear 4xx errors.
//! - [`auth`]: register, login (one session per user), logout, verify, refresh.
//! - [`rooms`]: list, create, get, join.
//! - [`files`]: upload, download, view, delete.
//! - [`users`]: profile, profile image, and serving profile images.
//! - [`upload`]: the multipart → blob store path shared by file and profile image uploads.
//! - [`unposted`]: uploads never posted in a message — a quota per user, and their expiry.
//! - [`drain`]: refused uploads answered on a connection the client has finished writing to.
//! - [`rate_limit`]: the optional per-IP limit of the room list.
//! - [`admission`]: overload control's route layer and the REST look of its refusals.
//! - [`admin`]: `/admin/overload` (live overload config) and `/metrics`.

pub mod admin;
pub mod admission;
pub mod auth;
pub mod drain;
pub mod extract;
pub mod files;
pub mod rate_limit;
pub mod rooms;
pub mod unposted;
pub mod upload;
pub mod users;

use std::sync::Arc;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, Uri};
use axum::routing::{MethodRouter, get, post};
use axum::{Router, middleware};
use protocol::rest::HealthResponse;

use crate::error::ApiError;
use crate::overload::RequestKind;
use crate::state::AppState;
use crate::store::UnixMillis;
use admission::Route;

/// Largest JSON body accepted (the original's `express.json()` default: 100 kB).
pub const JSON_BODY_LIMIT: usize = 100 * 1024;

/// Tags a route with its kind: admitted by overload control, counted in flight while it runs.
fn kind(
    state: &AppState,
    kind: RequestKind,
    route: MethodRouter<AppState>,
) -> MethodRouter<AppState> {
    tagged(state, Route { kind, login: false }, route)
}

/// Tags a login route (register, login): a background client's may be refused by load level.
fn login(state: &AppState, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    let login = Route {
        kind: RequestKind::Auth,
        login: true,
    };
    tagged(state, login, route)
}

fn tagged(state: &AppState, tag: Route, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.layer(middleware::from_fn_with_state(
        (Arc::clone(&state.overload), tag),
        admission::track,
    ))
}

/// The REST routes.
pub fn router(state: &AppState) -> Router<AppState> {
    use RequestKind::{Auth, Files, RoomList, RoomOps};
    let k = |k, route| kind(state, k, route);
    let uploads = |limit, route: MethodRouter<AppState>| route.layer(DefaultBodyLimit::max(limit));
    // Outermost on the upload routes, so every refusal (overload control's too) is readable.
    let readable = |route: MethodRouter<AppState>| {
        route.layer(middleware::from_fn(drain::read_rest_on_rejection))
    };
    let room_list = get(rooms::list).layer(middleware::from_fn_with_state(
        state.clone(),
        rate_limit::limit_room_list,
    ));
    Router::new()
        .route("/health", get(health))
        .route("/api/auth/register", login(state, post(auth::register)))
        .route("/api/auth/login", login(state, post(auth::login)))
        .route("/api/auth/logout", k(Auth, post(auth::logout)))
        .route("/api/auth/verify-token", k(Auth, post(auth::verify_token)))
        .route(
            "/api/auth/refresh-token",
            k(Auth, post(auth::refresh_token)),
        )
        .route(
            "/api/rooms",
            k(RoomList, room_list).merge(k(RoomOps, post(rooms::create))),
        )
        .route("/api/rooms/{id}", k(RoomOps, get(rooms::get)))
        .route("/api/rooms/{id}/join", k(RoomOps, post(rooms::join)))
        .route(
            "/api/files/upload",
            readable(k(
                Files,
                uploads(upload::UPLOAD_BODY_LIMIT, post(files::upload)),
            )),
        )
        .route(
            "/api/files/download/{filename}",
            k(Files, get(files::download)),
        )
        .route("/api/files/view/{filename}", k(Files, get(files::view)))
        .route(
            "/api/files/{id}",
            k(Files, axum::routing::delete(files::delete)),
        )
        .route(
            "/api/users/profile",
            k(Auth, get(users::get_profile).put(users::update_profile)),
        )
        .route(
            "/api/users/profile-image",
            readable(k(
                Files,
                uploads(upload::PROFILE_BODY_LIMIT, post(users::upload_image))
                    .delete(users::delete_image),
            )),
        )
        .route("/uploads/{filename}", k(Files, get(users::serve_image)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
}

/// `GET /health`: `{status:'ok', timestamp, connections, load}`.
async fn health(State(state): State<AppState>) -> Json<HealthResponse> {
    let mut extra = serde_json::Map::new();
    extra.insert(
        "connections".into(),
        state.gateway.connection_count().into(),
    );
    extra.insert("load".into(), state.overload.report());
    if let Some(bus) = state.gateway.bus() {
        let (policy, short) = bus.shortfalls();
        extra.insert(
            "redis".into(),
            serde_json::json!({
                "durability": policy,
                "degraded": !short.is_empty(),
                "shortfalls": short,
            }),
        );
    }
    Json(HealthResponse {
        status: "ok".into(),
        timestamp: UnixMillis::now().to_wire(),
        extra,
    })
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::Rejected {
        status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{method} is not allowed on {}", uri.path()),
    }
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("No route for {method} {}", uri.path()))
}
