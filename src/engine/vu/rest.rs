//! The VU's REST steps: sign-up and login, the health check, the room list, entering a room (the
//! first member creates it), the room page, uploads and the profile image. Each runs within the
//! step budget through [`Vu::call`](super::Vu), which keeps serving the socket meanwhile, so a
//! slow REST call never delays a delivery's timestamp.

use std::time::{Duration, Instant};

use protocol::rest::{CreateRoomRequest, LoginRequest, RegisterRequest, RoomListQuery, SortOrder};

use super::socket::Reply;
use super::{StepResult, Vu};
use crate::client::{Authed, Failure};
use crate::engine::rooms::{RoomKey, assign};
use crate::metrics::Op;

/// How often a segment looks for a shared room another segment creates.
const FIND_ROOM_EVERY: Duration = Duration::from_millis(250);

/// Waits until a room named `name` exists and returns its id (the caller bounds the wait with the
/// step budget). Found with the room list's `search`, then by exact name; the oldest of
/// several namesakes wins, so every segment settles on the same one.
async fn find_room(authed: &Authed, name: &str) -> Result<String, Failure> {
    let query = RoomListQuery {
        page_size: 50,
        sort_order: SortOrder::Asc,
        search: name.to_owned(),
        ..RoomListQuery::default()
    };
    loop {
        let page = authed.list_rooms(&query).await?;
        if let Some(room) = page.data.into_iter().find(|r| r.name == name) {
            return Ok(room.id);
        }
        tokio::time::sleep(FIND_ROOM_EVERY).await;
    }
}

impl Vu {
    pub(super) async fn health(&mut self) -> StepResult {
        let guest = self.team().http.guest(self.id);
        let (_, t) = self
            .call(Op::Health, async move { guest.health().await })
            .await?;
        self.rec.ok(Op::Health, t);
        Ok(())
    }

    pub(super) async fn list_rooms(&mut self, page_size: u32) -> StepResult {
        let authed = self.authed(Op::ListRooms)?;
        let query = RoomListQuery {
            page_size,
            ..RoomListQuery::default()
        };
        let (_, t) = self
            .call(
                Op::ListRooms,
                async move { authed.list_rooms(&query).await },
            )
            .await?;
        self.rec.ok(Op::ListRooms, t);
        Ok(())
    }

    pub(super) async fn get_room(&mut self) -> StepResult {
        let authed = self.authed(Op::GetRoom)?;
        let room = self.room_id(Op::GetRoom)?;
        let (_, t) = self
            .call(Op::GetRoom, async move { authed.get_room(&room).await })
            .await?;
        self.rec.ok(Op::GetRoom, t);
        Ok(())
    }

    pub(super) async fn profile_image(&mut self, bytes: u32) -> StepResult {
        let authed = self.authed(Op::ProfileImage)?;
        let data = fake_file("image/png", bytes, self.id);
        let (_, t) = self
            .call(Op::ProfileImage, async move {
                authed.upload_profile_image(data).await
            })
            .await?;
        self.rec.ok(Op::ProfileImage, t);
        Ok(())
    }

    pub(super) async fn register(&mut self, login: bool) -> StepResult {
        let (name, email, password) = self.credentials();
        let guest = self.team().http.guest(self.id);
        let req = RegisterRequest {
            name,
            email: email.clone(),
            password: password.clone(),
        };
        let (authed, t) = self
            .call(Op::Register, async move { guest.register(&req).await })
            .await?;
        self.rec.ok(Op::Register, t);
        let authed = if login {
            let guest = authed.into_guest();
            let req = LoginRequest { email, password };
            let (authed, t) = self
                .call(Op::Login, async move { guest.login(&req).await })
                .await?;
            self.rec.ok(Op::Login, t);
            authed
        } else {
            authed
        };
        self.authed = Some(authed);
        Ok(())
    }

    pub(super) async fn enter_room(&mut self) -> StepResult {
        let authed = self.authed(Op::EnterRoom)?;
        let policy = &self.ctx.plan.conduct.rooms;
        let key: RoomKey = assign(policy, self.ctx.plan.seed, self.id);
        let password = policy.password.clone();
        let slot = self.team().rooms.slot(key);
        let create = CreateRoomRequest {
            name: key.name(&self.ctx.nonce),
            password: password.clone(),
        };
        // The first VU of the room creates it; others wait for its id. Only the creator times the
        // creation, so waiting does not pollute `create_room` latency. In a segment of a split plan a
        // shared room may be another segment's to create: it is then found by name (the first time
        // this process needs it) as soon as it exists.
        let plan = &self.ctx.plan;
        let ours = plan.segment.is_none_or(|s| s.creates(plan, key));
        let mut created: Option<u64> = None;
        let creator = authed.clone();
        let (room_id, _) = self
            .call(Op::CreateRoom, async {
                slot.get_or_try_init(|| async {
                    if !ours {
                        return find_room(&creator, &create.name).await;
                    }
                    let started = Instant::now();
                    let room = creator.create_room(&create).await?;
                    created = Some(started.elapsed().as_micros() as u64);
                    Ok::<_, Failure>(room.id)
                })
                .await
                .cloned()
            })
            .await?;
        if let Some(t) = created {
            self.rec.ok(Op::CreateRoom, t);
        }
        let joiner = room_id.clone();
        let (_, t) = self
            .call(Op::EnterRoom, async move {
                authed.join_room(&joiner, password.as_deref()).await
            })
            .await?;
        self.rec.ok(Op::EnterRoom, t);
        self.room = Some(room_id);
        Ok(())
    }

    pub(super) async fn upload_file(&mut self, bytes: u32, mime: &str) -> StepResult {
        let joined = self.joined(Op::Upload)?;
        let authed = self.authed(Op::Upload)?;
        let data = fake_file(mime, bytes, self.id);
        let file_name = format!("stampede-{}.{}", self.id, extension(mime));
        let mime_owned = mime.to_owned();
        let (file, t) = self
            .call(Op::Upload, async move {
                authed.upload_file(&file_name, &mime_owned, data).await
            })
            .await?;
        self.rec.ok(Op::Upload, t);
        let seq = self
            .send_chat(&joined, "file", Some(file), Op::FileMessage, Instant::now())
            .await?;
        self.await_reply(
            Op::FileMessage,
            &mut |r| matches!(r, Reply::Echo { seq: s } if *s == seq),
        )
        .await?;
        Ok(())
    }
}

/// File extension for a MIME type the protocol allows.
fn extension(mime: &str) -> &'static str {
    match mime {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "audio/mpeg" => "mp3",
        "application/pdf" => "pdf",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        _ => "bin",
    }
}

/// Bytes of a plausible file of `mime`: the format's magic number, then filler.
fn fake_file(mime: &str, size: u32, seed: u32) -> Vec<u8> {
    let magic: &[u8] = match mime {
        "image/png" => b"\x89PNG\r\n\x1a\n",
        "image/jpeg" => b"\xff\xd8\xff\xe0",
        "image/gif" => b"GIF89a",
        "image/webp" => b"RIFF\0\0\0\0WEBP",
        "application/pdf" => b"%PDF-1.4\n",
        _ => b"",
    };
    let mut data = Vec::with_capacity(size as usize);
    data.extend_from_slice(magic);
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    while data.len() < size as usize {
        // xorshift: cheap filler that does not compress to nothing.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push(x as u8);
    }
    data.truncate(size.max(magic.len() as u32) as usize);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn fake_files_have_their_magic_and_size() {
        let png = fake_file("image/png", 100, 1);
        assert_eq!(png.len(), 100);
        assert!(png.starts_with(b"\x89PNG"));
        assert_eq!(fake_file("application/pdf", 3, 1), b"%PDF-1.4\n");
        assert_eq!(extension("application/pdf"), "pdf");
    }
}
