//! Serving the socket while a VU waits — for a reply, a REST call, its next send, or the end of the
//! run — and handling every event the moment its frame is read: deliveries, echoes, read receipts
//! and reaction updates are timed and reported to the team's trackers here, and the replies a step
//! waits for are handed back to it.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Instant;

use protocol::events::{JoinRoomSuccess, PreviousMessagesLoaded, Reactions, name};
use serde::Deserialize;

use super::{Halt, StepResult, Vu, failed, timed_out};
use crate::client::{Failure, Inbound};
use crate::engine::delivery::{Receipt, parse_marker};
use crate::engine::receipts::id_hash;
use crate::metrics::{FailureKind, Op};

/// AI stream starts remembered while waiting for a completion.
const AI_STARTS_KEPT: usize = 16;

/// A reply some step may be waiting for.
#[derive(Debug)]
pub(super) enum Reply {
    JoinSuccess(Box<JoinRoomSuccess>),
    JoinError(String),
    History(PreviousMessagesLoaded),
    Reaction {
        message_id: String,
        reactions: Reactions,
    },
    Echo {
        seq: u32,
    },
    AiComplete {
        message_id: String,
        query: String,
    },
    AiError {
        message_id: String,
        error: String,
    },
}

/// The parts of a `message` event the VU needs, borrowed from the frame.
#[derive(Deserialize)]
struct MessageLite<'a> {
    #[serde(rename = "_id", default, borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    content: Cow<'a, str>,
}

/// The parts of a `messagesRead` event the VU needs, borrowed from the frame.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadLite<'a> {
    #[serde(default, borrow)]
    user_id: Cow<'a, str>,
    #[serde(default, borrow)]
    message_ids: Vec<Cow<'a, str>>,
}

impl Vu {
    /// Waits (within the step budget) for a reply accepted by `want`, serving the socket meanwhile.
    pub(super) async fn await_reply(
        &mut self,
        op: Op,
        want: &mut (dyn FnMut(&Reply) -> bool + Send),
    ) -> StepResult<Reply> {
        let budget = self.step_timeout;
        match self.serve(Instant::now() + budget, op, want).await? {
            Some(r) => Ok(r),
            None => Err(timed_out(op, budget)),
        }
    }

    /// Serves the socket until `until`, returning early with the first reply accepted by `want`.
    /// Without a socket it simply waits. Own echoes past their deadline fail the VU.
    pub(super) async fn serve(
        &mut self,
        until: Instant,
        op: Op,
        want: &mut (dyn FnMut(&Reply) -> bool + Send),
    ) -> StepResult<Option<Reply>> {
        loop {
            // While stepping, the stop of the load ends the wait; while draining, the close.
            let halt = if self.draining {
                &self.ctx.close
            } else {
                &self.ctx.stop
            };
            let Some(conn) = self.conn.as_mut() else {
                tokio::select! {
                    () = halt.cancelled() => return Err(Halt::Stopped),
                    () = tokio::time::sleep_until(until.into()) => return Ok(None),
                }
            };
            let echo = conn.own.front().copied();
            let wake = echo.map_or(until, |o| o.deadline.min(until));
            let inbound = tokio::select! {
                biased;
                () = halt.cancelled() => return Err(Halt::Stopped),
                r = conn.sock.next() => r.map_err(|f| failed(op, f))?,
                () = tokio::time::sleep_until(wake.into()) => {
                    if let Some(o) = echo.filter(|o| o.deadline <= Instant::now()) {
                        return Err(timed_out(o.op, self.step_timeout));
                    }
                    if Instant::now() >= until {
                        return Ok(None);
                    }
                    continue;
                }
            };
            if let Some(reply) = self.handle(op, &inbound)?
                && want(&reply)
            {
                return Ok(Some(reply));
            }
        }
    }

    /// Runs `fut` within the step budget while serving the socket; returns its output and how long
    /// it took in microseconds.
    pub(super) async fn call<T>(
        &mut self,
        op: Op,
        fut: impl Future<Output = Result<T, Failure>>,
    ) -> StepResult<(T, u64)> {
        let started = Instant::now();
        let budget = self.step_timeout;
        let deadline = started + budget;
        let mut fut = std::pin::pin!(fut);
        loop {
            let inbound = match self.conn.as_mut() {
                None => tokio::select! {
                    () = self.ctx.stop.cancelled() => return Err(Halt::Stopped),
                    r = &mut fut => {
                        let t = started.elapsed().as_micros() as u64;
                        return r.map(|v| (v, t)).map_err(|f| failed(op, f));
                    }
                    () = tokio::time::sleep_until(deadline.into()) => return Err(timed_out(op, budget)),
                },
                Some(conn) => tokio::select! {
                    () = self.ctx.stop.cancelled() => return Err(Halt::Stopped),
                    r = &mut fut => {
                        let t = started.elapsed().as_micros() as u64;
                        return r.map(|v| (v, t)).map_err(|f| failed(op, f));
                    }
                    () = tokio::time::sleep_until(deadline.into()) => return Err(timed_out(op, budget)),
                    r = conn.sock.next() => r.map_err(|f| failed(Op::Hold, f))?,
                },
            };
            self.handle(op, &inbound)?;
        }
    }

    /// Handles one event: deliveries and echoes are timed here, the moment the frame is read.
    pub(super) fn handle(&mut self, op: Op, inbound: &Inbound) -> StepResult<Option<Reply>> {
        let now = self.now_micros();
        let event = inbound.event().map_err(|f| failed(op, f))?;
        let parse_err = |e: protocol::socketio::DecodeError| {
            failed(
                op,
                Failure::protocol(format!("{} payload: {e}", event.name)),
            )
        };
        let team = &self.ctx.teams[self.team as usize];
        let conn = self
            .conn
            .as_mut()
            .expect("events only arrive on a connection");
        let reply = match event.name.as_ref() {
            name::MESSAGE => {
                let m: MessageLite<'_> = event.arg(0).map_err(parse_err)?;
                conn.note_message(&m.id, self.track_unread);
                let Some((sender, seq)) = parse_marker(&m.content, &self.ctx.nonce) else {
                    return Ok(None);
                };
                if !self.ctx.holds(sender) {
                    // Another segment's message in a room that spans segments: that segment
                    // verifies it for its own members; here it is only counted.
                    self.rec.foreign();
                    return Ok(None);
                }
                if sender == self.id {
                    if let Some(i) = conn.own.iter().position(|o| o.seq == seq) {
                        let own = conn.own.remove(i).expect("index just found");
                        team.echoes_awaited.fetch_sub(1, Ordering::Relaxed);
                        self.rec
                            .ok_in(own.level, own.op, now.saturating_sub(own.t0));
                    }
                    Some(Reply::Echo { seq })
                } else {
                    let fails = self.fails_vu_on_delivery;
                    let last = conn.last_seq.entry(sender).or_insert(0);
                    let out_of_order = seq < *last;
                    *last = (*last).max(seq);
                    let id = self.id;
                    // Findings and latency belong to the level the message was sent in.
                    match team.deliveries.receive(self.id, sender, seq, now) {
                        Receipt::Delivered {
                            latency_micros,
                            level,
                        } => {
                            self.rec.ok_in(level, Op::Delivery, latency_micros);
                            if out_of_order {
                                self.rec.failure_in(level, Op::Delivery, FailureKind::DeliveryReordered, fails, || {
                                    format!("vu {id} got message {seq} of vu {sender} after a later one")
                                });
                            }
                        }
                        Receipt::Duplicate { level } => {
                            self.rec.failure_in(
                                level,
                                Op::Delivery,
                                FailureKind::DeliveryDuplicate,
                                fails,
                                || format!("vu {id} got message {seq} of vu {sender} again"),
                            );
                        }
                        Receipt::Unexpected => {}
                    }
                    None
                }
            }
            name::JOIN_ROOM_SUCCESS => Some(Reply::JoinSuccess(Box::new(
                event.arg(0).map_err(parse_err)?,
            ))),
            name::JOIN_ROOM_ERROR => {
                #[derive(Deserialize)]
                struct E {
                    #[serde(default)]
                    message: String,
                }
                let e: Option<E> = event.arg(0).unwrap_or(None);
                Some(Reply::JoinError(e.map(|e| e.message).unwrap_or_default()))
            }
            name::PREVIOUS_MESSAGES_LOADED => {
                let page: PreviousMessagesLoaded = event.arg(0).map_err(parse_err)?;
                Some(Reply::History(page))
            }
            name::MESSAGE_REACTION_UPDATE => {
                let u: protocol::events::MessageReactionUpdate = event.arg(0).map_err(parse_err)?;
                for r in team
                    .reactions
                    .receive(self.id, &u.message_id, &u.reactions, now)
                {
                    if let Receipt::Delivered {
                        latency_micros,
                        level,
                    } = r
                    {
                        self.rec.ok_in(level, Op::ReactionUpdate, latency_micros);
                    }
                }
                Some(Reply::Reaction {
                    message_id: u.message_id,
                    reactions: u.reactions,
                })
            }
            name::MESSAGES_READ => {
                let r: ReadLite<'_> = event.arg(0).map_err(parse_err)?;
                let reader = id_hash(&r.user_id);
                let ids = r.message_ids.iter().map(|id| id.as_ref());
                for got in team.reads.receive(self.id, reader, ids, now) {
                    match got {
                        Receipt::Delivered {
                            latency_micros,
                            level,
                        } => self.rec.ok_in(level, Op::Receipt, latency_micros),
                        Receipt::Duplicate { level } => {
                            let (id, user) = (self.id, r.user_id.clone());
                            self.rec.failure_in(
                                level,
                                Op::Receipt,
                                FailureKind::ReceiptDuplicate,
                                self.fails_vu_on_delivery,
                                || format!("vu {id} was told again what user {user} read"),
                            );
                        }
                        Receipt::Unexpected => {}
                    }
                }
                None
            }
            name::AI_MESSAGE_START => {
                let s: protocol::events::AiMessageStart = event.arg(0).map_err(parse_err)?;
                if conn.ai_starts.len() == AI_STARTS_KEPT {
                    conn.ai_starts.pop_front();
                }
                conn.ai_starts.push_back((s.message_id, now));
                None
            }
            name::AI_MESSAGE_COMPLETE => {
                let c: protocol::events::AiMessageComplete = event.arg(0).map_err(parse_err)?;
                Some(Reply::AiComplete {
                    message_id: c.message_id,
                    query: c.query,
                })
            }
            name::AI_MESSAGE_ERROR => {
                let e: protocol::events::AiMessageError = event.arg(0).map_err(parse_err)?;
                Some(Reply::AiError {
                    message_id: e.message_id,
                    error: e.error,
                })
            }
            name::ERROR => {
                let e: protocol::events::ErrorEvent = event.arg(0).unwrap_or_default();
                let code = e.code.or(e.kind).unwrap_or_default();
                return Err(failed(
                    op,
                    Failure::new(
                        FailureKind::ServerError,
                        format!("error event {code}: {}", e.message),
                    ),
                ));
            }
            name::RESYNC => {
                // The server skipped room events this member will not get live (a reference
                // server extension). Counted; the skipped messages are judged as usual.
                self.rec.resync();
                None
            }
            name::SESSION_ENDED | name::DUPLICATE_LOGIN => {
                return Err(failed(
                    op,
                    Failure::new(
                        FailureKind::SessionEnded,
                        format!("{} received: {}", event.name, inbound.as_str()),
                    ),
                ));
            }
            _ => None,
        };
        Ok(reply)
    }
}
