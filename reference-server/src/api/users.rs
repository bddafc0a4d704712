//! `/api/users/*` and `/uploads/*`: profile read and update, profile image upload and delete, and
//! serving profile images (public, as the original's static `/uploads`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::Response;
use protocol::rest::{ProfileImageResponse, ProfileResponse, StatusResponse, UpdateProfileRequest};

use super::auth::MAX_NAME;
use super::extract::{ApiJson, ApiMultipart, Authed};
use super::upload::{self, Policy};
use crate::blob::{BlobKey, Namespace};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UserUpdate;
use crate::views;

/// URL prefix profile images are served under.
pub const UPLOADS_PREFIX: &str = "/uploads/";

/// `GET /api/users/profile`.
pub async fn get_profile(authed: Authed) -> Json<ProfileResponse> {
    Json(ProfileResponse {
        success: true,
        message: None,
        user: views::profile(&authed.user),
    })
}

/// `PUT /api/users/profile {name}`.
pub async fn update_profile(
    State(state): State<AppState>,
    authed: Authed,
    ApiJson(request): ApiJson<UpdateProfileRequest>,
) -> Result<Json<ProfileResponse>, ApiError> {
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::BadRequest(format!(
            "name is required and must be at most {MAX_NAME} characters"
        )));
    }
    if let Some(problem) = super::auth::name_problem(name) {
        return Err(ApiError::BadRequest(problem.into()));
    }
    let user = state
        .store
        .update_user(
            &authed.user.id,
            UserUpdate {
                name: Some(name.to_owned()),
                profile_image: None,
            },
        )
        .await?;
    Ok(Json(ProfileResponse {
        success: true,
        message: Some("Profile updated.".into()),
        user: views::profile(&user),
    }))
}

/// The blob key of a stored profile image path (`/uploads/<name>`), if it is one of ours.
fn image_key(path: &str) -> Option<BlobKey> {
    let name = path.strip_prefix(UPLOADS_PREFIX)?;
    BlobKey::new(Namespace::ProfileImages, name).ok()
}

/// `POST /api/users/profile-image` (multipart, field `profileImage`, image ≤ 5 MB); replaces the old
/// image.
pub async fn upload_image(
    State(state): State<AppState>,
    authed: Authed,
    ApiMultipart(mut multipart): ApiMultipart,
) -> Result<Json<ProfileImageResponse>, ApiError> {
    let received = upload::receive(
        &mut multipart,
        "profileImage",
        Policy::ProfileImage,
        state.blobs.as_ref(),
        Namespace::ProfileImages,
    )
    .await?;
    let image_url = format!("{UPLOADS_PREFIX}{}", received.key.name());
    let updated = state
        .store
        .update_user(
            &authed.user.id,
            UserUpdate {
                name: None,
                profile_image: Some(image_url.clone()),
            },
        )
        .await;
    if let Err(e) = updated {
        let _ = state.blobs.delete(&received.key).await;
        return Err(e.into());
    }
    if let Some(old) = image_key(&authed.user.profile_image) {
        // A leftover old image wastes space but harms nobody, so a failure here is only logged.
        if let Err(e) = state.blobs.delete(&old).await {
            tracing::warn!(error = %e, "could not delete a replaced profile image");
        }
    }
    Ok(Json(ProfileImageResponse {
        success: true,
        message: "Profile image updated.".into(),
        image_url,
    }))
}

/// `DELETE /api/users/profile-image`.
pub async fn delete_image(
    State(state): State<AppState>,
    authed: Authed,
) -> Result<Json<StatusResponse>, ApiError> {
    if let Some(old) = image_key(&authed.user.profile_image) {
        state.blobs.delete(&old).await?;
    }
    state
        .store
        .update_user(
            &authed.user.id,
            UserUpdate {
                name: None,
                profile_image: Some(String::new()),
            },
        )
        .await?;
    Ok(Json(StatusResponse {
        success: true,
        message: Some("Profile image deleted.".into()),
        error: None,
    }))
}

/// `GET /uploads/:filename`: a profile image, public like the original's static directory.
pub async fn serve_image(
    State(state): State<AppState>,
    Path(filename): Path<String>,
) -> Result<Response, ApiError> {
    let key = BlobKey::new(Namespace::ProfileImages, &filename)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let blob = state.blobs.get(&key).await?;
    let mut response = upload::blob_response(blob, upload::mime_for_name(&filename));
    response.headers_mut().insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    Ok(response)
}
