//! The VU's socket steps: connecting, joining the room, loading history, sending paced chat
//! messages (each registered with the delivery tracker *before* the emit), reacting and marking
//! messages read (each registered for every other member, too), leaving, and the AI mention.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use protocol::events::{
    ChatMessageRequest, FetchPreviousMessagesRequest, MarkMessagesAsReadRequest,
    MessageReactionRequest, MessageType, ReactionOp, name,
};
use protocol::rest::FileInfo;

use super::socket::Reply;
use super::{Conn, Halt, OwnSend, StepResult, Vu, failed, timed_out};
use crate::client::{Failure, Joined, SioSocket, SocketOptions};
use crate::engine::delivery::with_marker;
use crate::engine::receipts::id_hash;
use crate::metrics::{FailureKind, Op};

impl Vu {
    pub(super) async fn leave_room(&mut self) -> StepResult {
        let joined = self.joined(Op::LeaveRoom)?;
        let conn = self.conn.as_mut().expect("joined implies connected");
        conn.sock
            .emit(name::LEAVE_ROOM, joined.room_id())
            .await
            .map_err(|f| failed(Op::LeaveRoom, f))?;
        conn.joined = None;
        self.team().rooms.leave(joined.room_id(), self.id);
        self.rec.done(Op::LeaveRoom);
        Ok(())
    }

    pub(super) async fn connect(&mut self) -> StepResult {
        let authed = self.authed(Op::WsConnect)?;
        let opts = SocketOptions {
            source_ip: match self.ctx.source_ips.len() {
                0 => None,
                n => Some(self.ctx.source_ips[self.id as usize % n]),
            },
        };
        let budget = self.step_timeout;
        let result = tokio::select! {
            () = self.ctx.stop.cancelled() => return Err(Halt::Stopped),
            r = tokio::time::timeout(budget, SioSocket::connect(&authed, &opts)) => r,
        };
        let (sock, timings) = match result {
            Err(_) => return Err(timed_out(Op::SioConnect, budget)),
            Ok(Err((op, f))) => return Err(failed(op, f)),
            Ok(Ok(ok)) => ok,
        };
        self.rec.ok(Op::WsConnect, timings.ws.as_micros() as u64);
        self.rec.ok(Op::SioConnect, timings.sio.as_micros() as u64);
        self.rec.set_connected(true);
        self.conn = Some(Conn::new(sock));
        Ok(())
    }

    pub(super) async fn join_room(&mut self) -> StepResult {
        let room = self.room_id(Op::JoinRoom)?;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| failed(Op::JoinRoom, Failure::protocol("join_room needs connect")))?;
        let started = Instant::now();
        conn.sock
            .join_room(&room)
            .await
            .map_err(|f| failed(Op::JoinRoom, f))?;
        let reply = self
            .await_reply(Op::JoinRoom, &mut |r| {
                matches!(r, Reply::JoinSuccess(_) | Reply::JoinError(_))
            })
            .await?;
        let success = match reply {
            Reply::JoinSuccess(s) => s,
            Reply::JoinError(msg) => {
                return Err(failed(
                    Op::JoinRoom,
                    Failure::new(FailureKind::JoinRoomError, msg),
                ));
            }
            _ => unreachable!("filtered by await_reply"),
        };
        let joined = Joined::from_success(&room, &success).map_err(|f| failed(Op::JoinRoom, f))?;
        self.rec
            .ok(Op::JoinRoom, started.elapsed().as_micros() as u64);
        let track = self.track_unread;
        let conn = self.conn.as_mut().expect("checked above");
        for m in &success.messages {
            conn.note_message(&m.id, track);
        }
        conn.oldest = success.oldest_timestamp.clone();
        conn.joined = Some(joined);
        let team = &self.ctx.teams[self.team as usize];
        team.rooms.join(&room, self.id);
        team.members.set_alive(self.id, true);
        Ok(())
    }

    pub(super) async fn history(&mut self, pages: u32) -> StepResult {
        let joined = self.joined(Op::History)?;
        for _ in 0..pages {
            let conn = self.conn.as_mut().expect("joined implies connected");
            let req = FetchPreviousMessagesRequest {
                room_id: joined.room_id().to_owned(),
                before: conn.oldest.clone(),
            };
            let started = Instant::now();
            conn.sock
                .emit(name::FETCH_PREVIOUS_MESSAGES, &req)
                .await
                .map_err(|f| failed(Op::History, f))?;
            let Reply::History(page) = self
                .await_reply(Op::History, &mut |r| matches!(r, Reply::History(_)))
                .await?
            else {
                unreachable!("filtered by await_reply")
            };
            self.rec
                .ok(Op::History, started.elapsed().as_micros() as u64);
            let conn = self.conn.as_mut().expect("joined implies connected");
            if page.oldest_timestamp.is_some() {
                conn.oldest = page.oldest_timestamp;
            }
            if !page.has_more {
                break;
            }
        }
        Ok(())
    }

    pub(super) async fn send_messages(
        &mut self,
        count: Option<u32>,
        interval: Duration,
        mark_read: bool,
        read_every: Option<Duration>,
    ) -> StepResult {
        let joined = self.joined(Op::SendAck)?;
        let start = Instant::now();
        let mut next_read = read_every.map(|every| start + every);
        let mut k: u32 = 0;
        while count.is_none_or(|c| k < c) {
            // Open-loop pacing: the k-th message is due at start + k·interval whatever happened to
            // the previous ones, and its latency counts from that intended time.
            let intended = start + interval * k;
            // Reading along until then: what arrived is marked read every `read_every`.
            while let (Some(every), Some(due)) = (read_every, next_read)
                && due < intended
            {
                self.serve(due, Op::SendAck, &mut |_| false).await?;
                self.mark_arrivals_read().await?;
                // A VU that fell behind reads once and carries on, it does not catch up.
                next_read = Some((due + every).max(Instant::now()));
            }
            self.serve(intended, Op::SendAck, &mut |_| false).await?;
            if mark_read {
                self.mark_arrivals_read().await?;
            }
            let text = self.message_text();
            self.send_chat(&joined, &text, None, Op::SendAck, intended)
                .await?;
            k += 1;
        }
        self.drain_echoes().await
    }

    pub(super) fn message_text(&self) -> String {
        let spec = &self.ctx.plan.conduct.messages;
        let mut text = spec.text.clone();
        let size = spec.size as usize;
        if text.len() < size {
            text.extend(std::iter::repeat_n('x', size - text.len()));
        }
        text
    }

    /// Registers the delivery expectation, then emits. Returns the sequence number used.
    pub(super) async fn send_chat(
        &mut self,
        joined: &Joined,
        text: &str,
        file: Option<FileInfo>,
        op: Op,
        intended: Instant,
    ) -> StepResult<u32> {
        let t0 = self.micros_at(intended);
        let team = &self.ctx.teams[self.team as usize];
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| failed(op, Failure::protocol("not connected")))?;
        conn.seq += 1;
        let seq = conn.seq;
        let content = with_marker(text, &self.ctx.nonce, self.id, seq);
        let recipients = team.rooms.others(joined.room_id(), self.id);
        let level = self.rec.hub().level();
        team.deliveries.expect(self.id, seq, t0, level, recipients);
        let msg = ChatMessageRequest {
            room: joined.room_id().to_owned(),
            kind: if file.is_some() {
                MessageType::File
            } else {
                MessageType::Text
            },
            content,
            file_data: file,
            // The generator never retries a send, so it needs no idempotency key.
            client_message_id: None,
        };
        if let Err(f) = conn.sock.chat(joined, &msg).await {
            team.deliveries.cancel(self.id, seq);
            return Err(failed(op, f));
        }
        self.rec.sent(op);
        team.echoes_awaited.fetch_add(1, Ordering::Relaxed);
        conn.own.push_back(OwnSend {
            seq,
            t0,
            level,
            op,
            deadline: Instant::now() + self.step_timeout,
        });
        Ok(seq)
    }

    /// Serves until every own message has come back (or one is overdue).
    pub(super) async fn drain_echoes(&mut self) -> StepResult {
        while self.conn.as_ref().is_some_and(|c| !c.own.is_empty()) {
            let until = Instant::now() + self.step_timeout * 2;
            self.serve(until, Op::SendAck, &mut |r| matches!(r, Reply::Echo { .. }))
                .await?;
        }
        Ok(())
    }

    pub(super) async fn react(&mut self, reaction: &str) -> StepResult {
        self.joined(Op::React)?;
        let conn = self.conn.as_mut().expect("joined implies connected");
        let Some(message_id) = conn.last_message.clone() else {
            // Nothing on screen to react to yet: the UI would not offer the button.
            return Ok(());
        };
        let user_id = self
            .authed
            .as_ref()
            .map(|a| a.user().id.clone())
            .unwrap_or_default();
        let req = MessageReactionRequest {
            message_id: message_id.clone(),
            reaction: reaction.to_owned(),
            op: ReactionOp::Add,
        };
        let started = Instant::now();
        // Every other member must see the reaction: expected before the emit, like a message.
        let team = &self.ctx.teams[self.team as usize];
        conn.marks += 1;
        let seq = conn.marks;
        if let Some(room) = conn.joined.as_ref().map(|j| j.room_id()) {
            team.reactions.expect(
                self.id,
                seq,
                &user_id,
                &message_id,
                reaction,
                self.rec.now_micros(),
                self.rec.hub().level(),
                team.rooms.others(room, self.id),
            );
        }
        if let Err(f) = conn.sock.emit(name::MESSAGE_REACTION, &req).await {
            team.reactions.cancel(self.id, seq, &message_id);
            return Err(failed(Op::React, f));
        }
        self.await_reply(Op::React, &mut |r| match r {
            Reply::Reaction {
                message_id: id,
                reactions,
            } => {
                id == &message_id
                    && (user_id.is_empty()
                        || reactions
                            .get(reaction)
                            .is_some_and(|users| users.contains(&user_id)))
            }
            _ => false,
        })
        .await?;
        self.rec.ok(Op::React, started.elapsed().as_micros() as u64);
        Ok(())
    }

    /// Marks what arrived as read, if anything did: a client reporting what it shows, not a
    /// `mark_read` step (which counts even when there is nothing to mark).
    pub(super) async fn mark_arrivals_read(&mut self) -> StepResult {
        if self.conn.as_ref().is_some_and(|c| !c.unread.is_empty()) {
            self.mark_read().await?;
        }
        Ok(())
    }

    pub(super) async fn mark_read(&mut self) -> StepResult {
        let joined = self.joined(Op::MarkRead)?;
        let user = self.authed.as_ref().map(|a| id_hash(&a.user().id));
        let team = &self.ctx.teams[self.team as usize];
        let conn = self.conn.as_mut().expect("joined implies connected");
        let ids: Vec<String> = conn.unread.drain(..).collect();
        if !ids.is_empty() {
            // Every other member must be told: expected before the emit, like a message.
            conn.marks += 1;
            let mark = conn.marks;
            if let Some(user) = user {
                team.reads.expect(
                    self.id,
                    user,
                    mark,
                    &ids,
                    self.rec.now_micros(),
                    self.rec.hub().level(),
                    team.rooms.others(joined.room_id(), self.id),
                );
            }
            let req = MarkMessagesAsReadRequest {
                room_id: joined.room_id().to_owned(),
                message_ids: ids,
            };
            if let Err(f) = conn.sock.emit(name::MARK_MESSAGES_AS_READ, &req).await {
                if let Some(user) = user {
                    team.reads.cancel(user, mark);
                }
                return Err(failed(Op::MarkRead, f));
            }
            self.rec.sent(Op::MarkRead);
        }
        self.rec.done(Op::MarkRead);
        Ok(())
    }

    pub(super) async fn ai_mention(&mut self, ai: &str) -> StepResult {
        let joined = self.joined(Op::AiComplete)?;
        let started = Instant::now();
        let t0 = self.micros_at(started);
        let text = format!("@{ai} {}", self.ctx.plan.conduct.messages.text);
        let seq = self
            .send_chat(&joined, &text, None, Op::SendAck, started)
            .await?;
        let marker = with_marker("", &self.ctx.nonce, self.id, seq);
        let marker = marker.trim();
        // Streams of other members' mentions share the room; ours is the one whose query carries our
        // marker (or, for servers that strip it, the first stream that starts after our echo).
        let mut echoed_at: Option<u64> = None;
        // One budget for the whole stream, however many other replies arrive meanwhile.
        let deadline = started + self.step_timeout;
        let reply = loop {
            let reply = self
                .serve(deadline, Op::AiComplete, &mut |r| {
                    matches!(
                        r,
                        Reply::AiComplete { .. } | Reply::AiError { .. } | Reply::Echo { .. }
                    )
                })
                .await?
                .ok_or_else(|| timed_out(Op::AiComplete, self.step_timeout))?;
            match reply {
                Reply::Echo { seq: s } if s == seq => echoed_at = Some(self.now_micros()),
                Reply::Echo { .. } => {}
                Reply::AiComplete {
                    ref message_id,
                    ref query,
                } => {
                    let ours = query.contains(marker)
                        || (!query.contains("[sp:")
                            && self.first_start_after(echoed_at) == Some(message_id.clone()));
                    if ours {
                        break reply;
                    }
                }
                Reply::AiError { .. } => break reply,
                _ => {}
            }
        };
        match reply {
            Reply::AiComplete { message_id, .. } => {
                let conn = self.conn.as_ref().expect("joined implies connected");
                if let Some((_, at)) = conn.ai_starts.iter().find(|(id, _)| *id == message_id) {
                    self.rec.ok(Op::AiFirstChunk, at.saturating_sub(t0));
                }
                self.rec
                    .ok(Op::AiComplete, started.elapsed().as_micros() as u64);
                Ok(())
            }
            Reply::AiError { message_id, error } => Err(failed(
                Op::AiComplete,
                Failure::new(
                    FailureKind::ServerError,
                    format!("aiMessageError for {message_id}: {error}"),
                ),
            )),
            _ => unreachable!("loop breaks only on AI replies"),
        }
    }

    pub(super) fn first_start_after(&self, after: Option<u64>) -> Option<String> {
        let after = after?;
        let conn = self.conn.as_ref()?;
        conn.ai_starts
            .iter()
            .find(|(_, at)| *at >= after)
            .map(|(id, _)| id.clone())
    }
}
