//! REST bodies under `/api`, plus `GET /health`.
//!
//! Response types derive `Default` and mark optional parts `#[serde(default)]` so a load generator can read
//! a team's server that omits fields the original sent; request types are what clients send and are strict.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Header carrying the access token on authenticated requests.
pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";
/// Header carrying the session id on authenticated requests.
pub const SESSION_ID_HEADER: &str = "x-session-id";

/// `POST /api/auth/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Display name, at least 2 characters.
    pub name: String,
    /// Unique e-mail address.
    pub email: String,
    /// At least 6 characters.
    pub password: String,
}

/// `POST /api/auth/login`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// E-mail the user registered with.
    pub email: String,
    /// The user's password.
    pub password: String,
}

/// Response of register (201), login, and refresh-token.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AuthResponse {
    /// Always true on success.
    pub success: bool,
    /// Human-readable outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// JWT to send as `x-auth-token`.
    pub token: String,
    /// Session id to send as `x-session-id`.
    pub session_id: String,
    /// The signed-in user.
    pub user: UserProfile,
}

/// A user as auth and profile endpoints return it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct UserProfile {
    /// User id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Path of the profile image, empty when none.
    pub profile_image: String,
}

/// A user as rooms list them (creator, participants).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UserSummary {
    /// User id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
}

/// `POST /api/auth/verify-token` response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct VerifyTokenResponse {
    /// True when the token and session are valid.
    pub success: bool,
    /// The token's user.
    pub user: UserProfile,
}

/// A plain `{success, message}` body (logout, deletes, and every error).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusResponse {
    /// False on errors.
    pub success: bool,
    /// What happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine-readable error, when the route defines one (e.g. `TOO_MANY_REQUESTS`, `OVERLOADED`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

impl StatusResponse {
    /// An error body whose `message` and `error.message` both say `message`, under `code`.
    pub fn failure(code: &str, message: impl Into<String>) -> StatusResponse {
        let message = message.into();
        StatusResponse {
            success: false,
            message: Some(message.clone()),
            error: Some(ErrorDetail {
                code: code.to_owned(),
                message: Some(message),
            }),
        }
    }
}

/// The `error` object of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    /// Stable error code.
    pub code: String,
    /// Human-readable explanation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthResponse {
    /// `ok` when serving.
    pub status: String,
    /// Server time.
    pub timestamp: Timestamp,
    /// Extra fields a server adds (the reference server reports its load level here).
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Sort field of the room list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RoomSortField {
    /// Creation time (the default).
    #[default]
    CreatedAt,
    /// Room name.
    Name,
    /// Number of participants.
    ParticipantsCount,
}

/// Sort order of the room list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first (the default).
    #[default]
    Desc,
}

/// Largest page size `GET /api/rooms` accepts.
pub const MAX_ROOM_PAGE_SIZE: u32 = 50;

/// Query of `GET /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomListQuery {
    /// Zero-based page.
    pub page: u32,
    /// Rooms per page, 1..=50.
    pub page_size: u32,
    /// Sort key.
    pub sort_field: RoomSortField,
    /// Sort direction.
    pub sort_order: SortOrder,
    /// Case-insensitive substring of the room name; empty for all.
    pub search: String,
}

impl Default for RoomListQuery {
    fn default() -> Self {
        RoomListQuery {
            page: 0,
            page_size: 10,
            sort_field: RoomSortField::CreatedAt,
            sort_order: SortOrder::Desc,
            search: String::new(),
        }
    }
}

/// A chat room.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Room {
    /// Room id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Room name.
    pub name: String,
    /// True when joining needs a password.
    pub has_password: bool,
    /// Who created it.
    pub creator: Option<UserSummary>,
    /// Current participants.
    pub participants: Vec<UserSummary>,
    /// `participants.len()`, sent separately by the original.
    pub participants_count: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// True when the requesting user created the room.
    pub is_creator: bool,
}

/// `GET /api/rooms` response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomListResponse {
    /// True on success.
    pub success: bool,
    /// One page of rooms.
    pub data: Vec<Room>,
    /// Paging information.
    pub metadata: RoomListMetadata,
}

/// Paging information of a room list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomListMetadata {
    /// Rooms matching the search.
    pub total: u64,
    /// This page.
    pub page: u32,
    /// Requested page size.
    pub page_size: u32,
    /// Pages in all.
    pub total_pages: u64,
    /// True when later pages exist.
    pub has_more: bool,
    /// Rooms on this page.
    pub current_count: u64,
    /// The sort that was applied.
    pub sort: RoomListSort,
}

/// The `sort` object of [`RoomListMetadata`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomListSort {
    /// Sort key.
    pub field: RoomSortField,
    /// Sort direction.
    pub order: SortOrder,
}

/// `POST /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateRoomRequest {
    /// Room name.
    pub name: String,
    /// Optional room password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /api/rooms/:id/join`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JoinRoomRequest {
    /// The room password, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `{success, data: room}` of create, get and join.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomResponse {
    /// True on success.
    pub success: bool,
    /// The room.
    pub data: Room,
}

/// An uploaded file's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileInfo {
    /// File id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Stored name, used in download/view URLs.
    pub filename: String,
    /// Name the uploader gave.
    pub originalname: String,
    /// MIME type.
    pub mimetype: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time.
    #[serde(skip_serializing_if = "Timestamp::is_empty")]
    pub upload_date: Timestamp,
}

/// `POST /api/files/upload` response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadResponse {
    /// True on success.
    pub success: bool,
    /// Human-readable outcome.
    pub message: String,
    /// The stored file.
    pub file: FileInfo,
}

/// `GET /api/users/profile` and `PUT /api/users/profile` response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ProfileResponse {
    /// True on success.
    pub success: bool,
    /// Outcome of an update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The user.
    pub user: UserProfile,
}

/// `PUT /api/users/profile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProfileRequest {
    /// New display name.
    pub name: String,
}

/// `POST /api/users/profile-image` response.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProfileImageResponse {
    /// True on success.
    pub success: bool,
    /// Human-readable outcome.
    pub message: String,
    /// Path of the new image.
    pub image_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_uses_wire_names() {
        let room = Room {
            id: "r1".into(),
            name: "n".into(),
            has_password: true,
            participants_count: 2,
            ..Room::default()
        };
        let v = serde_json::to_value(&room).unwrap();
        assert_eq!(v["_id"], "r1");
        assert_eq!(v["hasPassword"], true);
        assert_eq!(v["participantsCount"], 2);
        assert!(v.get("isCreator").is_some());
    }

    #[test]
    fn responses_tolerate_missing_fields() {
        let auth: AuthResponse = serde_json::from_str(
            r#"{"success":true,"token":"t","sessionId":"s","user":{"_id":"u"}}"#,
        )
        .unwrap();
        assert_eq!(auth.session_id, "s");
        assert_eq!(auth.user.id, "u");
        assert_eq!(auth.user.profile_image, "");
        let list: RoomListResponse = serde_json::from_str(r#"{"success":true,"data":[]}"#).unwrap();
        assert!(!list.metadata.has_more);
    }

    #[test]
    fn room_list_query_parses_wire_values() {
        let q: RoomListQuery = serde_json::from_str(
            r#"{"page":2,"pageSize":20,"sortField":"participantsCount","sortOrder":"asc","search":"x"}"#,
        )
        .unwrap();
        assert_eq!(q.sort_field, RoomSortField::ParticipantsCount);
        assert_eq!(q.sort_order, SortOrder::Asc);
        assert!(serde_json::from_str::<RoomListQuery>(r#"{"sortField":"bogus"}"#).is_err());
    }

    #[test]
    fn health_keeps_extra_fields() {
        let h: HealthResponse =
            serde_json::from_str(r#"{"status":"ok","timestamp":"t","loadLevel":2}"#).unwrap();
        assert_eq!(h.extra["loadLevel"], 2);
    }
}
