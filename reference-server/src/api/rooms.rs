//! `/api/rooms`: list (paged, sorted, searched), create, get, join (with the room password).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::events::name;
use protocol::rest::{
    CreateRoomRequest, JoinRoomRequest, MAX_ROOM_PAGE_SIZE, RoomListMetadata, RoomListQuery,
    RoomListResponse, RoomListSort, RoomResponse,
};

use super::extract::{ApiJson, ApiQuery, Authed, OptionalJson};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{NewRoom, RoomRecord};
use crate::views;

/// Longest room name, in characters.
pub const MAX_ROOM_NAME: usize = 100;

fn not_found() -> ApiError {
    ApiError::NotFound("Room not found".into())
}

async fn find(state: &AppState, id: &str) -> Result<RoomRecord, ApiError> {
    state.store.room(id).await?.ok_or_else(not_found)
}

/// `GET /api/rooms?page&pageSize&sortField&sortOrder&search`. `pageSize` is clamped to 1-50 as the
/// original did; an unknown `sortField`/`sortOrder` is a 400 naming the allowed values.
pub async fn list(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(mut query): ApiQuery<RoomListQuery>,
) -> Result<Json<RoomListResponse>, ApiError> {
    query.page_size = query.page_size.clamp(1, MAX_ROOM_PAGE_SIZE);
    let page = state.store.list_rooms(&query).await?;
    let data = views::rooms(state.store.as_ref(), &page.rooms, Some(&authed.user.id)).await?;
    let size = u64::from(query.page_size);
    let shown_through = u64::from(query.page) * size + data.len() as u64;
    Ok(Json(RoomListResponse {
        success: true,
        metadata: RoomListMetadata {
            total: page.total,
            page: query.page,
            page_size: query.page_size,
            total_pages: page.total.div_ceil(size),
            has_more: shown_through < page.total,
            current_count: data.len() as u64,
            sort: RoomListSort {
                field: query.sort_field,
                order: query.sort_order,
            },
        },
        data,
    }))
}

/// `POST /api/rooms {name,password?}` → 201; the creator is the first participant.
pub async fn create(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<CreateRoomRequest>,
) -> Result<(StatusCode, Json<RoomResponse>), ApiError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_ROOM_NAME {
        return Err(ApiError::BadRequest(format!(
            "name is required and must be at most {MAX_ROOM_NAME} characters"
        )));
    }
    if let Some(problem) = super::auth::name_problem(name) {
        return Err(ApiError::BadRequest(problem.into()));
    }
    let password_hash = match request.password.as_deref() {
        Some(password) if !password.is_empty() => Some(
            state
                .auth
                .hash_password(password)
                .await
                .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))?,
        ),
        _ => None,
    };
    let room = state
        .store
        .create_room(NewRoom {
            name: name.to_owned(),
            creator: authed.user.id.clone(),
            password_hash,
        })
        .await?;
    let data = views::room(state.store.as_ref(), &room, Some(&authed.user.id)).await?;
    Ok((
        StatusCode::CREATED,
        Json(RoomResponse {
            success: true,
            data,
        }),
    ))
}

/// `GET /api/rooms/:id`.
pub async fn get(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<Json<RoomResponse>, ApiError> {
    let room = find(&state, &id).await?;
    let data = views::room(state.store.as_ref(), &room, Some(&authed.user.id)).await?;
    Ok(Json(RoomResponse {
        success: true,
        data,
    }))
}

/// `POST /api/rooms/:id/join {password?}`: 401 on a wrong room password (participants rejoin without
/// one); emits `roomUpdate` to the room; 503 `STORE_UNDERREPLICATED`, with nothing stored, when
/// `--redis-durability strict` refuses the room's shard.
pub async fn join(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
    OptionalJson(request): OptionalJson<JoinRoomRequest>,
) -> Result<Json<RoomResponse>, ApiError> {
    let room = find(&state, &id).await?;
    let member = room.participants.contains(&authed.user.id);
    if let Some(hash) = &room.password_hash
        && !member
        && !state
            .auth
            .verify_password(request.password.as_deref().unwrap_or_default(), hash)
            .await
    {
        return Err(ApiError::Unauthorized("Wrong room password".into()));
    }
    // Strict durability refuses before the participant is stored, not at the `roomUpdate` after it.
    state.gateway.check_durability(&id).await?;
    let room = state.store.add_participant(&id, &authed.user.id).await?;
    let store = state.store.as_ref();
    let data = views::room(store, &room, Some(&authed.user.id)).await?;
    // The broadcast copy is the same for every member, so it carries no per-viewer `isCreator`.
    let update = protocol::rest::Room {
        is_creator: false,
        ..data.clone()
    };
    state
        .gateway
        .emit_to_room(&room.id, name::ROOM_UPDATE, &update, None)
        .await?;
    Ok(Json(RoomResponse {
        success: true,
        data,
    }))
}
