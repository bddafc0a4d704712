//! Receiving one file from a multipart body into the blob store: type checks, size limits enforced
//! while streaming (an oversized upload is cut off, not buffered), and a generated safe name.

use std::io;

use axum::body::Body;
use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use futures_util::StreamExt;

use crate::blob::{Blob, BlobError, BlobKey, BlobStore, Namespace};
use crate::error::ApiError;
use crate::store::{UnixMillis, hex};

const MB: u64 = 1024 * 1024;

/// A family of accepted files, with the original's size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileClass {
    /// Images: 10 MB.
    Image,
    /// Video: 50 MB.
    Video,
    /// Audio: 20 MB.
    Audio,
    /// PDF and Word documents: 20 MB.
    Document,
}

impl FileClass {
    /// Largest accepted size in bytes.
    pub fn max_size(self) -> u64 {
        match self {
            FileClass::Image => 10 * MB,
            FileClass::Video => 50 * MB,
            FileClass::Audio | FileClass::Document => 20 * MB,
        }
    }

    fn label(self) -> &'static str {
        match self {
            FileClass::Image => "image",
            FileClass::Video => "video",
            FileClass::Audio => "audio",
            FileClass::Document => "document",
        }
    }
}

/// An accepted MIME type and the extensions that may carry it.
struct FileType {
    mime: &'static str,
    extensions: &'static [&'static str],
    class: FileClass,
}

/// The original's accepted chat file types.
const CHAT_FILE_TYPES: &[FileType] = &[
    FileType {
        mime: "image/jpeg",
        extensions: &["jpg", "jpeg"],
        class: FileClass::Image,
    },
    FileType {
        mime: "image/png",
        extensions: &["png"],
        class: FileClass::Image,
    },
    FileType {
        mime: "image/gif",
        extensions: &["gif"],
        class: FileClass::Image,
    },
    FileType {
        mime: "image/webp",
        extensions: &["webp"],
        class: FileClass::Image,
    },
    FileType {
        mime: "video/mp4",
        extensions: &["mp4"],
        class: FileClass::Video,
    },
    FileType {
        mime: "video/webm",
        extensions: &["webm"],
        class: FileClass::Video,
    },
    FileType {
        mime: "video/quicktime",
        extensions: &["mov"],
        class: FileClass::Video,
    },
    FileType {
        mime: "audio/mpeg",
        extensions: &["mp3"],
        class: FileClass::Audio,
    },
    FileType {
        mime: "audio/wav",
        extensions: &["wav"],
        class: FileClass::Audio,
    },
    FileType {
        mime: "audio/ogg",
        extensions: &["ogg"],
        class: FileClass::Audio,
    },
    FileType {
        mime: "application/pdf",
        extensions: &["pdf"],
        class: FileClass::Document,
    },
    FileType {
        mime: "application/msword",
        extensions: &["doc"],
        class: FileClass::Document,
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        extensions: &["docx"],
        class: FileClass::Document,
    },
];

/// Largest profile image.
pub const PROFILE_IMAGE_MAX: u64 = 5 * MB;

/// The largest upload any route accepts, plus room for multipart framing: the request body limit of
/// the upload routes (a body above it is cut off before it is read).
pub const UPLOAD_BODY_LIMIT: usize = (50 * MB + 64 * 1024) as usize;
/// Request body limit of the profile image route.
pub const PROFILE_BODY_LIMIT: usize = (PROFILE_IMAGE_MAX + 64 * 1024) as usize;

/// Which files a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Chat files: images, video, audio, pdf, doc(x).
    ChatFile,
    /// Profile images: jpeg, png, gif, webp up to 5 MB.
    ProfileImage,
}

impl Policy {
    /// The size limit for a file of `mime` named `*.ext`, or why it is refused.
    fn check(self, mime: &str, ext: &str) -> Result<u64, ApiError> {
        let allowed = match self {
            Policy::ChatFile => {
                "images (jpg, jpeg, png, gif, webp), video (mp4, webm, mov), \
                                 audio (mp3, wav, ogg), pdf, doc, docx"
            }
            Policy::ProfileImage => "images (jpg, jpeg, png, gif, webp)",
        };
        let Some(kind) = CHAT_FILE_TYPES
            .iter()
            .find(|t| t.mime == mime)
            .filter(|t| self == Policy::ChatFile || t.class == FileClass::Image)
        else {
            return Err(ApiError::BadRequest(format!(
                "Unsupported file type {mime:?}; allowed: {allowed}"
            )));
        };
        if !kind.extensions.contains(&ext) {
            return Err(ApiError::BadRequest(format!(
                "File extension {ext:?} does not match type {mime}; expected: {}",
                kind.extensions.join(", ")
            )));
        }
        Ok(match self {
            Policy::ChatFile => kind.class.max_size(),
            Policy::ProfileImage => PROFILE_IMAGE_MAX,
        })
    }

    fn class_label(self, mime: &str) -> &'static str {
        match self {
            Policy::ProfileImage => "profile image",
            Policy::ChatFile => CHAT_FILE_TYPES
                .iter()
                .find(|t| t.mime == mime)
                .map_or("file", |t| t.class.label()),
        }
    }
}

/// The MIME type to serve a stored name with (by its extension, which the upload checked).
pub fn mime_for_name(name: &str) -> &'static str {
    let ext = extension(name);
    CHAT_FILE_TYPES
        .iter()
        .find(|t| t.extensions.contains(&ext.as_str()))
        .map_or("application/octet-stream", |t| t.mime)
}

/// A stored blob as a response body with its type and length; callers add disposition and caching.
pub fn blob_response(blob: Blob, mimetype: &str) -> Response {
    let mut response = Response::new(Body::from_stream(blob.body));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(mimetype)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(blob.len));
    // The declared type is the uploader's word: browsers must not sniff HTML out of an "image".
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A file that was stored.
#[derive(Debug, Clone)]
pub struct Received {
    /// Where it was stored.
    pub key: BlobKey,
    /// The uploader's name for it (without any directory part).
    pub originalname: String,
    /// Its MIME type.
    pub mimetype: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Why a streamed upload was cut off.
#[derive(Debug, thiserror::Error)]
enum Abort {
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("{message}")]
    Multipart { status: StatusCode, message: String },
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::Rejected {
        status: e.status(),
        message: format!("invalid multipart body: {}", e.body_text()),
    }
}

/// The lowercase extension of a file name, without the dot; empty when there is none.
fn extension(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

/// The uploader's file name without directories or control characters, at most 255 characters.
fn clean_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    if clean.trim().is_empty() {
        "file".into()
    } else {
        clean
    }
}

/// Finds the multipart field `field`, checks it against `policy`, and streams it into `blobs` under a
/// generated name in `namespace`.
pub async fn receive(
    multipart: &mut Multipart,
    field: &str,
    policy: Policy,
    blobs: &dyn BlobStore,
    namespace: Namespace,
) -> Result<Received, ApiError> {
    let part = loop {
        match multipart.next_field().await.map_err(multipart_error)? {
            Some(part) if part.name() == Some(field) => break part,
            Some(_) => continue,
            None => {
                return Err(ApiError::BadRequest(format!(
                    "No file uploaded: send multipart/form-data with the file in field `{field}`"
                )));
            }
        }
    };
    let originalname = clean_name(part.file_name().unwrap_or_default());
    let mimetype = part
        .content_type()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ext = extension(&originalname);
    let limit = policy.check(&mimetype, &ext)?;
    // `{ms}_{random}.{ext}` like the original; the extension was just checked against a fixed list,
    // so the name is always a valid key.
    let name = format!(
        "{}_{}.{ext}",
        UnixMillis::now().0,
        hex(&rand::random::<[u8; 8]>())
    );
    let key = BlobKey::new(namespace, &name).map_err(|e| ApiError::Internal(e.to_string()))?;

    let mut seen = 0u64;
    let body = part.map(move |chunk| {
        let chunk = chunk.map_err(|e| {
            io::Error::other(Abort::Multipart {
                status: e.status(),
                message: e.body_text(),
            })
        })?;
        seen += chunk.len() as u64;
        if seen > limit {
            return Err(io::Error::other(Abort::TooLarge { limit }));
        }
        Ok(chunk)
    });
    let size = match blobs.put(&key, Box::pin(body)).await {
        Ok(size) => size,
        Err(BlobError::Aborted(e)) => {
            return Err(match e.get_ref().and_then(|e| e.downcast_ref::<Abort>()) {
                Some(Abort::TooLarge { limit }) => ApiError::PayloadTooLarge(format!(
                    "File too large: a {} may be at most {} MB",
                    policy.class_label(&mimetype),
                    limit / MB
                )),
                Some(Abort::Multipart { status, message }) => ApiError::Rejected {
                    status: *status,
                    message: format!("invalid multipart body: {message}"),
                },
                None => ApiError::BadRequest(format!("upload failed: {e}")),
            });
        }
        Err(e) => return Err(e.into()),
    };
    if size == 0 {
        let _ = blobs.delete(&key).await;
        return Err(ApiError::BadRequest("The uploaded file is empty".into()));
    }
    Ok(Received {
        key,
        originalname,
        mimetype,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_check_type_extension_and_size() {
        assert_eq!(Policy::ChatFile.check("image/png", "png").unwrap(), 10 * MB);
        assert_eq!(Policy::ChatFile.check("video/mp4", "mp4").unwrap(), 50 * MB);
        assert_eq!(
            Policy::ChatFile.check("audio/mpeg", "mp3").unwrap(),
            20 * MB
        );
        assert_eq!(
            Policy::ChatFile.check("application/pdf", "pdf").unwrap(),
            20 * MB
        );
        let err = Policy::ChatFile
            .check("application/x-sh", "sh")
            .unwrap_err();
        assert!(err.to_string().contains("allowed: images"), "{err}");
        let err = Policy::ChatFile.check("image/png", "exe").unwrap_err();
        assert!(err.to_string().contains("expected: png"), "{err}");
        assert_eq!(
            Policy::ProfileImage.check("image/jpeg", "jpg").unwrap(),
            5 * MB
        );
        assert!(
            Policy::ProfileImage
                .check("application/pdf", "pdf")
                .is_err()
        );
    }

    #[test]
    fn names_lose_directories_and_keep_extensions() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\Users\\me\\cat.PNG"), "cat.PNG");
        assert_eq!(clean_name(""), "file");
        assert_eq!(extension("cat.PNG"), "png");
        assert_eq!(extension(".bashrc"), "");
        assert_eq!(extension("noext"), "");
        assert_eq!(mime_for_name("1_ab.jpeg"), "image/jpeg");
        assert_eq!(mime_for_name("x"), "application/octet-stream");
    }
}
