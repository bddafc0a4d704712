//! `/api/files/*`: upload, download and inline view (only for the uploader and participants of a room
//! the file was posted in), delete (only by the uploader).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use protocol::rest::{StatusResponse, UploadResponse};

use super::extract::{ApiMultipart, Authed};
use super::unposted::held_by;
use super::upload::{self, Policy};
use crate::blob::{BlobKey, Namespace};
use crate::error::ApiError;
use crate::limit::UnpostedLimits;
use crate::state::AppState;
use crate::store::{FileRecord, NewFile};
use crate::views;

/// `POST /api/files/upload` (multipart, field `file`).
pub async fn upload(
    State(state): State<AppState>,
    authed: Authed,
    headers: HeaderMap,
    ApiMultipart(mut multipart): ApiMultipart,
) -> Result<Json<UploadResponse>, ApiError> {
    // The quota is checked before the body is read (by its declared length), and again with the
    // file's size once it is stored, against what the user holds then.
    let limits = state.config.unposted;
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    limits.admit(
        held_by(&state, &authed.user.id).await?,
        UnpostedLimits::declared(declared),
    )?;
    let received = upload::receive(
        &mut multipart,
        "file",
        Policy::ChatFile,
        state.blobs.as_ref(),
        Namespace::Files,
    )
    .await?;
    let held = held_by(&state, &authed.user.id).await;
    if let Err(e) = held.and_then(|held| limits.admit(held, received.size)) {
        let _ = state.blobs.delete(&received.key).await;
        return Err(e);
    }
    let stored = state
        .store
        .create_file(NewFile {
            filename: received.key.name().to_owned(),
            originalname: received.originalname,
            mimetype: received.mimetype,
            size: received.size,
            owner: authed.user.id,
        })
        .await;
    let file = match stored {
        Ok(file) => file,
        Err(e) => {
            // No record points at the blob, so it would never be served or deleted.
            let _ = state.blobs.delete(&received.key).await;
            return Err(e.into());
        }
    };
    Ok(Json(UploadResponse {
        success: true,
        message: "File uploaded.".into(),
        file: views::file_info(&file),
    }))
}

/// How a file is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Attachment,
    Inline,
}

/// `GET /api/files/download/:filename`.
pub async fn download(
    State(state): State<AppState>,
    authed: Authed,
    Path(filename): Path<String>,
) -> Result<Response, ApiError> {
    serve(&state, &authed, &filename, Disposition::Attachment).await
}

/// `GET /api/files/view/:filename`: inline, for images, video, audio and pdf only.
pub async fn view(
    State(state): State<AppState>,
    authed: Authed,
    Path(filename): Path<String>,
) -> Result<Response, ApiError> {
    serve(&state, &authed, &filename, Disposition::Inline).await
}

/// True when `user` may read `file`: they uploaded it, or it was posted in a room they are in.
async fn may_read(state: &AppState, file: &FileRecord, user: &str) -> Result<bool, ApiError> {
    if file.owner == user {
        return Ok(true);
    }
    for room in &file.rooms {
        if let Some(room) = state.store.room(room).await?
            && room.participants.iter().any(|p| p == user)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn serve(
    state: &AppState,
    authed: &Authed,
    filename: &str,
    disposition: Disposition,
) -> Result<Response, ApiError> {
    // Names with separators or dots in front never reach the store or the disk.
    let key = BlobKey::new(Namespace::Files, filename)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let file = state
        .store
        .file_by_name(filename)
        .await?
        .ok_or_else(|| ApiError::NotFound("File not found".into()))?;
    if !may_read(state, &file, &authed.user.id).await? {
        return Err(ApiError::Forbidden(
            "You may not access this file: it was not posted in a room you are in".into(),
        ));
    }
    let previewable = ["image/", "video/", "audio/", "application/pdf"]
        .iter()
        .any(|prefix| file.mimetype.starts_with(prefix));
    if disposition == Disposition::Inline && !previewable {
        return Err(ApiError::UnsupportedMediaType(
            "This file type cannot be viewed inline; download it instead".into(),
        ));
    }
    let blob = state.blobs.get(&key).await?;
    let mut response = upload::blob_response(blob, &file.mimetype);
    let headers = response.headers_mut();
    let kind = match disposition {
        Disposition::Attachment => "attachment",
        Disposition::Inline => "inline",
    };
    if let Ok(v) = HeaderValue::from_str(&content_disposition(kind, &file.originalname)) {
        headers.insert(CONTENT_DISPOSITION, v);
    }
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache, no-store, must-revalidate"),
    );
    Ok(response)
}

/// `kind; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266), so any name survives.
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// `DELETE /api/files/:id`: only the uploader.
pub async fn delete(
    State(state): State<AppState>,
    authed: Authed,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<StatusResponse>), ApiError> {
    let file = state
        .store
        .file(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("File not found".into()))?;
    if file.owner != authed.user.id {
        return Err(ApiError::Forbidden(
            "Only the uploader may delete this file".into(),
        ));
    }
    if let Ok(key) = BlobKey::new(Namespace::Files, &file.filename) {
        state.blobs.delete(&key).await?;
    }
    state.store.delete_file(&file.id).await?;
    Ok((
        StatusCode::OK,
        Json(StatusResponse {
            success: true,
            message: Some("File deleted.".into()),
            error: None,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn content_disposition_survives_any_name() {
        assert_eq!(
            content_disposition("inline", "cat 1.png"),
            "inline; filename=\"cat 1.png\"; filename*=UTF-8''cat%201.png"
        );
        let v = content_disposition("attachment", "고양이\"\r\n.png");
        assert!(v.is_ascii());
        assert!(!v.contains('\r'));
        assert!(v.contains("filename*=UTF-8''%EA%B3%A0"));
    }
}
