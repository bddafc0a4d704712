//! REST API against the real server: auth and sessions, rooms, files, profiles, limits, bad input.

mod common;

use std::time::Duration;

use common::{PASSWORD, TestServer, file_form, start, start_with};
use protocol::rest::{
    AuthResponse, ProfileImageResponse, ProfileResponse, Room, RoomListResponse, RoomResponse,
    StatusResponse, UploadResponse,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn status_and_message(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: StatusResponse = response.json().await.expect("JSON error body");
    assert!(!body.success);
    (status, body.message.unwrap_or_default())
}

#[tokio::test]
async fn health_reports_ok_and_load() {
    let t = start().await;
    let v = t.health().await;
    assert_eq!(v["status"], "ok");
    assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["connections"], 0);
    assert!(v["load"]["auth"]["inFlight"].is_number());
}

#[tokio::test]
async fn register_validates_and_refuses_duplicates() {
    let t = start().await;
    let register = |body: Value| t.http.post(t.url("/api/auth/register")).json(&body).send();

    let response = register(json!({"name": "A", "email": "nope", "password": "123"}))
        .await
        .unwrap();
    let (status, message) = status_and_message(response).await;
    assert_eq!(status, 400);
    for part in [
        "name must be 2-",
        "email must be a valid address",
        "password must be at least 6",
    ] {
        assert!(message.contains(part), "{message}");
    }

    let response =
        register(json!({"name": "Alice", "email": "Alice@Example.com", "password": PASSWORD}))
            .await
            .unwrap();
    assert_eq!(response.status(), 201);
    let auth: AuthResponse = response.json().await.unwrap();
    assert!(auth.success);
    assert_eq!(auth.user.email, "alice@example.com");
    assert_eq!(auth.user.id.len(), 24);
    assert!(!auth.token.is_empty() && auth.session_id.len() == 64);

    let response =
        register(json!({"name": "Alice2", "email": "alice@example.com", "password": PASSWORD}))
            .await
            .unwrap();
    assert_eq!(status_and_message(response).await.0, 409);

    // Missing fields and wrong types are 400 with serde's explanation, never a crash.
    let response = register(json!({"name": "Bob"})).await.unwrap();
    let (status, message) = status_and_message(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("missing field"), "{message}");
    let response = register(json!({"name": 5, "email": [], "password": null}))
        .await
        .unwrap();
    assert_eq!(status_and_message(response).await.0, 400);
}

#[tokio::test]
async fn passwords_are_never_returned() {
    let t = start().await;
    let user = t.user("Carol").await;
    let body = t
        .get("/api/users/profile", &user)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !body.contains(PASSWORD) && !body.contains("argon2") && !body.contains("password"),
        "{body}"
    );
}

#[tokio::test]
async fn login_refuses_bad_credentials() {
    let t = start().await;
    let user = t.user("Dave").await;
    for (email, password) in [
        (user.email.as_str(), "wrong-password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let response = t
            .http
            .post(t.url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(status_and_message(response).await.0, 401);
    }
}

#[tokio::test]
async fn a_new_login_ends_the_old_session() {
    let t = start().await;
    let first = t.user("Erin").await;
    let second = t.login(&first.email).await;
    assert_ne!(first.session_id, second.session_id);
    let old = t.get("/api/users/profile", &first).send().await.unwrap();
    let (status, message) = status_and_message(old).await;
    assert_eq!(status, 401);
    assert_eq!(message, "Invalid session");
    assert_eq!(
        t.get("/api/users/profile", &second)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn verify_refresh_and_logout() {
    let t = start().await;
    let user = t.user("Frank").await;
    let verified: Value = t
        .post("/api/auth/verify-token", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["success"], true);
    assert_eq!(verified["user"]["_id"], user.id.as_str());

    let refreshed: AuthResponse = t
        .post("/api/auth/refresh-token", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(refreshed.session_id, user.session_id);
    assert_eq!(
        t.get("/api/users/profile", &user)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    let user = common::User {
        token: refreshed.token,
        session_id: refreshed.session_id,
        ..user
    };
    assert_eq!(
        t.get("/api/users/profile", &user)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(
        t.post("/api/auth/logout", &user)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        t.get("/api/users/profile", &user)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn bad_tokens_are_401_with_a_reason() {
    let t = start().await;
    let user = t.user("Grace").await;
    let forge = reference_server::auth::Auth::new(
        reference_server::KdfParams::MINIMAL,
        common::SECRET.as_bytes(),
    )
    .unwrap();
    let expired = forge.issue_expired_token(&user.id, &user.session_id, Duration::from_secs(3600));
    let other_secret = reference_server::auth::Auth::new(
        reference_server::KdfParams::MINIMAL,
        b"some-other-secret-123",
    )
    .unwrap();
    let cases = [
        (None, "Authentication required"),
        (
            Some(("garbage".to_owned(), user.session_id.clone())),
            "Invalid token",
        ),
        (Some((expired, user.session_id.clone())), "Token expired"),
        (
            Some((
                other_secret.issue_token(&user.id, &user.session_id),
                user.session_id.clone(),
            )),
            "Invalid token",
        ),
        (
            Some((user.token.clone(), "0".repeat(64))),
            "Invalid session",
        ),
    ];
    for (credentials, expected) in cases {
        let mut request = t.http.get(t.url("/api/rooms"));
        if let Some((token, session)) = credentials {
            request = request
                .header("x-auth-token", token)
                .header("x-session-id", session);
        }
        let (status, message) = status_and_message(request.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert!(message.starts_with(expected), "{message} vs {expected}");
    }
}

async fn list(t: &TestServer, user: &common::User, query: &str) -> RoomListResponse {
    let response = t
        .get(&format!("/api/rooms?{query}"), user)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn rooms_page_sort_and_search() {
    let t = start().await;
    let owner = t.user("Owner").await;
    let other = t.user("Other").await;
    let mut ids = Vec::new();
    for name in ["delta", "alpha", "charlie", "bravo", "echo"] {
        ids.push(t.create_room(&owner, name, None).await.id);
    }
    // "charlie" gets a second participant.
    assert_eq!(t.join_room(&other, &ids[2], None).await.status(), 200);

    let page = list(
        &t,
        &owner,
        "page=0&pageSize=2&sortField=createdAt&sortOrder=desc",
    )
    .await;
    let names: Vec<_> = page.data.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["echo", "bravo"]);
    assert_eq!(page.metadata.total, 5);
    assert_eq!(page.metadata.total_pages, 3);
    assert!(page.metadata.has_more);
    assert_eq!(page.metadata.current_count, 2);
    assert!(page.data[0].is_creator);

    let last = list(&t, &owner, "page=2&pageSize=2").await;
    assert_eq!(last.data.len(), 1);
    assert!(!last.metadata.has_more);

    let by_name = list(&t, &other, "sortField=name&sortOrder=asc").await;
    let names: Vec<_> = by_name.data.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["alpha", "bravo", "charlie", "delta", "echo"]);
    assert!(!by_name.data[0].is_creator);

    let busiest = list(
        &t,
        &owner,
        "sortField=participantsCount&sortOrder=desc&pageSize=1",
    )
    .await;
    assert_eq!(busiest.data[0].name, "charlie");
    assert_eq!(busiest.data[0].participants_count, 2);

    let found = list(&t, &owner, "search=HAR").await;
    assert_eq!(found.metadata.total, 1);
    assert_eq!(found.data[0].name, "charlie");

    // pageSize is clamped to 50 like the original; bad sort values are refused with the allowed ones.
    assert_eq!(
        list(&t, &owner, "pageSize=500").await.metadata.page_size,
        50
    );
    let response = t
        .get("/api/rooms?sortField=bogus", &owner)
        .send()
        .await
        .unwrap();
    let (status, message) = status_and_message(response).await;
    assert_eq!(status, 400);
    assert!(message.contains("participantsCount"), "{message}");
}

#[tokio::test]
async fn room_get_join_and_passwords() {
    let t = start().await;
    let owner = t.user("Owner").await;
    let guest = t.user("Guest").await;
    let room = t.create_room(&owner, "secret room", Some("pw1234")).await;
    assert!(room.has_password);
    assert_eq!(room.participants.len(), 1);
    assert_eq!(room.creator.as_ref().unwrap().id, owner.id);

    let got: RoomResponse = t
        .get(&format!("/api/rooms/{}", room.id), &guest)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got.data.name, "secret room");
    let missing = t
        .get("/api/rooms/000000000000000000000000", &guest)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(missing).await.0, 404);

    let wrong = t.join_room(&guest, &room.id, Some("nope")).await;
    assert_eq!(status_and_message(wrong).await.0, 401);
    let none = t.join_room(&guest, &room.id, None).await;
    assert_eq!(status_and_message(none).await.0, 401);
    let ok = t.join_room(&guest, &room.id, Some("pw1234")).await;
    assert_eq!(ok.status(), 200);
    let joined: RoomResponse = ok.json().await.unwrap();
    assert_eq!(joined.data.participants_count, 2);
    let body = serde_json::to_string(&joined).unwrap();
    assert!(!body.contains("pw1234") && !body.contains("argon2"));

    // Joining without any body (some clients send none) works for open rooms.
    let open = t.create_room(&owner, "open", None).await;
    let response = t
        .post(&format!("/api/rooms/{}/join", open.id), &guest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let empty_name = t
        .post("/api/rooms", &owner)
        .json(&json!({"name": "  "}))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(empty_name).await.0, 400);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_are_4xx_json() {
    let t = start().await;
    let response = t
        .http
        .post(t.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(response).await.0, 400);

    let response = t
        .http
        .post(t.url("/api/auth/login"))
        .body("email=a")
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(response).await.0, 415);

    let huge = json!({"email": "a@b.co", "password": "x".repeat(300 * 1024)});
    let response = t
        .http
        .post(t.url("/api/auth/login"))
        .json(&huge)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(response).await.0, 413);

    let response = t.http.get(t.url("/api/nothing-here")).send().await.unwrap();
    assert_eq!(status_and_message(response).await.0, 404);
    let response = t.http.get(t.url("/api/auth/login")).send().await.unwrap();
    assert_eq!(status_and_message(response).await.0, 405);

    // And the server still serves.
    assert_eq!(
        t.http.get(t.url("/health")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn room_list_rate_limit_when_enabled() {
    let t = start_with(|c| c.room_list_rate_limit = std::num::NonZeroU32::new(3)).await;
    let user = t.user("Heavy").await;
    for _ in 0..3 {
        assert_eq!(
            t.get("/api/rooms", &user).send().await.unwrap().status(),
            200
        );
    }
    let response = t.get("/api/rooms", &user).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "TOO_MANY_REQUESTS");
    // Other routes are not limited.
    assert_eq!(
        t.get("/api/users/profile", &user)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn room_list_is_unlimited_by_default() {
    let t = start().await;
    let user = t.user("Heavy").await;
    for _ in 0..80 {
        assert_eq!(
            t.get("/api/rooms", &user).send().await.unwrap().status(),
            200
        );
    }
}

/// `len` bytes that start like an image of `mime` (the server checks an image's signature).
fn image_bytes(mime: &str, len: usize) -> Vec<u8> {
    let magic: &[u8] = match mime {
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/jpeg" => b"\xFF\xD8\xFF\xE0",
        other => panic!("no signature for {other}"),
    };
    let mut bytes = magic.to_vec();
    bytes.resize(len.max(16), 42);
    bytes
}

async fn upload(
    t: &TestServer,
    user: &common::User,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    t.post("/api/files/upload", user)
        .multipart(file_form("file", name, mime, bytes))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn uploads_check_type_and_size() {
    let t = start().await;
    let user = t.user("Uploader").await;
    let response = upload(
        &t,
        &user,
        "cat.png",
        "image/png",
        image_bytes("image/png", 1024),
    )
    .await;
    assert_eq!(response.status(), 200);
    let uploaded: UploadResponse = response.json().await.unwrap();
    assert!(uploaded.success);
    assert_eq!(uploaded.file.originalname, "cat.png");
    assert_eq!(uploaded.file.size, 1024);
    assert!(uploaded.file.filename.ends_with(".png"));
    assert_ne!(uploaded.file.filename, "cat.png");

    let (status, message) =
        status_and_message(upload(&t, &user, "run.sh", "application/x-sh", vec![1]).await).await;
    assert_eq!(status, 400);
    assert!(message.contains("allowed:"), "{message}");
    let (status, _) =
        status_and_message(upload(&t, &user, "cat.exe", "image/png", vec![1]).await).await;
    assert_eq!(status, 400);

    let too_big = image_bytes("image/png", 10 * 1024 * 1024 + 1);
    let (status, message) =
        status_and_message(upload(&t, &user, "big.png", "image/png", too_big).await).await;
    assert_eq!(status, 413);
    assert!(message.contains("10 MB"), "{message}");
    // Audio may be larger than an image.
    let song = vec![0u8; 11 * 1024 * 1024];
    assert_eq!(
        upload(&t, &user, "song.mp3", "audio/mpeg", song)
            .await
            .status(),
        200
    );

    let not_multipart = t
        .post("/api/files/upload", &user)
        .json(&json!({"file": "cat.png"}))
        .send()
        .await
        .unwrap();
    let (status, message) = status_and_message(not_multipart).await;
    assert_eq!(status, 400);
    assert!(message.contains("multipart/form-data"), "{message}");

    let no_field = t
        .post("/api/files/upload", &user)
        .multipart(file_form("other", "a.png", "image/png", vec![1]))
        .send()
        .await
        .unwrap();
    let (status, message) = status_and_message(no_field).await;
    assert_eq!(status, 400);
    assert!(message.contains("field `file`"), "{message}");

    // Nothing half-written was left next to the stored files.
    let dir = t.server.state().config.files_dir.join("files");
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with('.')));
}

#[tokio::test]
async fn file_access_path_traversal_and_delete() {
    let t = start().await;
    let owner = t.user("Owner").await;
    let stranger = t.user("Stranger").await;
    let uploaded: UploadResponse = upload(
        &t,
        &owner,
        "doc.pdf",
        "application/pdf",
        b"%PDF-1.4".to_vec(),
    )
    .await
    .json()
    .await
    .unwrap();
    let name = &uploaded.file.filename;

    // The uploader may view it; a stranger may not; query-string credentials work for views.
    let view = t
        .get(&format!("/api/files/view/{name}"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    assert_eq!(view.headers()["content-type"], "application/pdf");
    assert_eq!(view.bytes().await.unwrap().as_ref(), b"%PDF-1.4");
    let denied = t
        .get(&format!("/api/files/download/{name}"), &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(denied).await.0, 403);
    let by_query = t
        .http
        .get(t.url(&format!(
            "/api/files/download/{name}?token={}&sessionId={}",
            owner.token, owner.session_id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    assert!(
        by_query.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    // Query credentials are only for file routes.
    let elsewhere = t
        .http
        .get(t.url(&format!(
            "/api/users/profile?token={}&sessionId={}",
            owner.token, owner.session_id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 401);

    for bad in [
        "..%2F..%2F..%2Fetc%2Fpasswd",
        "%2Fetc%2Fpasswd",
        ".hidden",
        "a%5C..%5Cb",
    ] {
        let response = t
            .get(&format!("/api/files/view/{bad}"), &owner)
            .send()
            .await
            .unwrap();
        let (status, _) = status_and_message(response).await;
        assert_eq!(status, 400, "{bad}");
    }
    let unknown = t
        .get("/api/files/view/123_abc.png", &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(unknown).await.0, 404);

    let not_owner = t
        .http
        .delete(t.url(&format!("/api/files/{}", uploaded.file.id)))
        .header("x-auth-token", &stranger.token)
        .header("x-session-id", &stranger.session_id)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(not_owner).await.0, 403);
    let deleted = t
        .http
        .delete(t.url(&format!("/api/files/{}", uploaded.file.id)))
        .header("x-auth-token", &owner.token)
        .header("x-session-id", &owner.session_id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let gone = t
        .get(&format!("/api/files/view/{name}"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(gone).await.0, 404);
}

#[tokio::test]
async fn profile_update_and_image() {
    let t = start().await;
    let user = t.user("Ivy").await;
    let updated: ProfileResponse = t
        .http
        .put(t.url("/api/users/profile"))
        .header("x-auth-token", &user.token)
        .header("x-session-id", &user.session_id)
        .json(&json!({"name": "Ivy Two"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated.user.name, "Ivy Two");

    let image = image_bytes("image/jpeg", 2048);
    let response = t
        .post("/api/users/profile-image", &user)
        .multipart(file_form(
            "profileImage",
            "me.jpg",
            "image/jpeg",
            image.clone(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let uploaded: ProfileImageResponse = response.json().await.unwrap();
    assert!(uploaded.image_url.starts_with("/uploads/"));
    let served = t.http.get(t.url(&uploaded.image_url)).send().await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "image/jpeg");
    assert_eq!(served.bytes().await.unwrap().to_vec(), image);
    let profile: ProfileResponse = t
        .get("/api/users/profile", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile.user.profile_image, uploaded.image_url);

    let pdf = t
        .post("/api/users/profile-image", &user)
        .multipart(file_form(
            "profileImage",
            "me.pdf",
            "application/pdf",
            vec![1],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(pdf).await.0, 400);
    let big = t
        .post("/api/users/profile-image", &user)
        .multipart(file_form(
            "profileImage",
            "me.png",
            "image/png",
            image_bytes("image/png", 5 * 1024 * 1024 + 1),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_message(big).await.0, 413);

    let deleted = t
        .http
        .delete(t.url("/api/users/profile-image"))
        .header("x-auth-token", &user.token)
        .header("x-session-id", &user.session_id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let profile: ProfileResponse = t
        .get("/api/users/profile", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile.user.profile_image, "");
    assert_eq!(
        t.http
            .get(t.url(&uploaded.image_url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn every_route_is_classified_for_overload_control() {
    let t = start().await;
    let user = t.user("Kim").await;
    let room: Room = t.create_room(&user, "r", None).await;
    t.get("/api/rooms", &user).send().await.unwrap();
    t.get(&format!("/api/rooms/{}", room.id), &user)
        .send()
        .await
        .unwrap();
    upload(
        &t,
        &user,
        "a.png",
        "image/png",
        image_bytes("image/png", 16),
    )
    .await;
    let load = &t.server.state().overload;
    use reference_server::overload::RequestKind::*;
    assert_eq!(load.started(Auth), 2, "register + login");
    assert_eq!(load.started(RoomList), 1);
    assert_eq!(load.started(RoomOps), 2);
    assert_eq!(load.started(Files), 1);
    for kind in reference_server::overload::RequestKind::ALL {
        assert_eq!(load.in_flight(kind), 0);
    }
}
