//! Recoverable pushes (typing, reactions, participants, receipts, AI chunks) on their way to members:
//! overload control decides who gets one now and what is owed ([`Overload::thins`],
//! [`Overload::thin`], [`Overload::owed_due`]); the gateway, which owns the sockets, encodes and sends.
//! With a cross-instance bus a push travels with a `PushTag`, so every instance thins it for its
//! own members.

use std::collections::HashSet;
use std::sync::Arc;

use protocol::events::{MessagesRead, name};
use tokio_util::sync::CancellationToken;

use super::{Frame, Gateway};
use crate::overload::{Audience, Overload, Owed, Push, PushClass};
use crate::store::{Id, StoreError};

impl Gateway {
    /// Sends a recoverable push to `room`, on every instance. Each instance delivers it to its own
    /// members through [`deliver_push`](Self::deliver_push): to all of them when the room is not hot
    /// (or thinning is off for the class), else to the ones overload control picks. Fails only with
    /// a cross-instance bus, when Redis cannot take the event.
    pub async fn push(
        &self,
        overload: &Overload,
        room: &str,
        class: PushClass,
        push: Push,
        audience: Audience<'_>,
    ) -> Result<(), StoreError> {
        let Some(frame) = push_frame(&push) else {
            return Ok(());
        };
        let Some(bus) = self.bus() else {
            self.deliver_push(overload, room, class, push, frame, audience);
            return Ok(());
        };
        let tag = PushTag::new(class, &push, audience.actor);
        bus.publish_tagged(room, &frame, audience.except, Some(&tag.encode()))
            .await
    }

    /// Delivers a recoverable push, encoded as `frame`, to this instance's members of `room`,
    /// thinned when the room is hot; what a member misses is owed to it `hot.converge_within` after
    /// its first miss.
    pub fn deliver_push(
        &self,
        overload: &Overload,
        room: &str,
        class: PushClass,
        push: Push,
        frame: Frame,
        audience: Audience<'_>,
    ) {
        if !overload.thins(room, class) {
            self.deliver_local(room, &frame, audience.except);
            overload.count_pushed(class, self.room_size(room) as u64);
            return;
        }
        let members = self.members(room);
        let sids: Vec<Arc<str>> = members.iter().map(|c| Arc::clone(c.sid())).collect();
        let decision = overload.thin(room, class, &push, &sids, audience);
        // `decision.now` keeps the members' order: walk both lists once.
        let mut chosen = decision.now.iter().peekable();
        for conn in &members {
            if chosen
                .peek()
                .is_some_and(|sid| Arc::ptr_eq(sid, conn.sid()))
            {
                chosen.next();
                conn.send(frame.clone());
            }
        }
    }

    /// Delivers a tagged push that came over the bus: thinned for this instance's members like one
    /// published here. An unreadable tag is delivered unthinned.
    pub(crate) fn deliver_tagged(
        &self,
        overload: &Overload,
        room: &str,
        frame: &Frame,
        except: Option<&str>,
        tag: &str,
    ) {
        match PushTag::decode(tag, frame) {
            Some((class, push, actor)) => self.deliver_push(
                overload,
                room,
                class,
                push,
                // The frame that travelled: a receipt is not encoded again here.
                frame.clone(),
                Audience {
                    except,
                    actor: actor.as_deref(),
                },
            ),
            None => {
                tracing::warn!(room, "push with an unreadable tag delivered unthinned");
                self.deliver_local(room, frame, except);
            }
        }
    }

    /// Sends members of hot rooms what they are owed and is now due: each owed push encoded once,
    /// for every member owed it that is still here. Yields between rooms' batches, so chat traffic
    /// is not held up behind them.
    pub async fn flush_owed(&self, overload: &Overload) {
        for batch in overload.owed_due() {
            let (class, frame) = match batch.owed {
                Owed::Frame(frame) => (owed_class(&frame), Some(frame)),
                Owed::Receipt {
                    reader,
                    message_ids,
                } => (PushClass::Receipts, receipt_frame(&reader, &message_ids)),
            };
            let Some(frame) = frame else { continue };
            let owed: HashSet<Arc<str>> = batch.members.into_iter().collect();
            let mut sent = 0;
            // A member that left meanwhile is owed nothing here.
            for conn in self.members(&batch.room) {
                if owed.contains(conn.sid()) {
                    conn.send(frame.clone());
                    sent += 1;
                }
            }
            overload.count_owed_sent(class, sent);
            tokio::task::yield_now().await;
        }
    }
}

/// Sends members of hot rooms what they are owed as it falls due, every
/// [`Overload::owed_check_every`], until `stop`.
pub async fn flush_owed(gateway: Arc<Gateway>, overload: Arc<Overload>, stop: CancellationToken) {
    loop {
        let every = overload.owed_check_every();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        gateway.flush_owed(&overload).await;
    }
}

/// The frame a push sends (a receipt is encoded here).
fn push_frame(push: &Push) -> Option<Frame> {
    match push {
        Push::Transient(frame) | Push::State { frame, .. } => Some(frame.clone()),
        Push::Receipt {
            reader,
            message_ids,
        } => receipt_frame(reader, message_ids),
    }
}

/// What another instance needs, besides the frame, to thin a push for its own members: travels with
/// the room event on the bus.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct PushTag {
    class: String,
    #[serde(flatten)]
    kind: TagKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor: Option<String>,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum TagKind {
    Transient,
    State { key: String },
    Receipt { reader: Id, message_ids: Vec<Id> },
}

impl PushTag {
    fn new(class: PushClass, push: &Push, actor: Option<&str>) -> PushTag {
        let kind = match push {
            Push::Transient(_) => TagKind::Transient,
            Push::State { key, .. } => TagKind::State { key: key.clone() },
            Push::Receipt {
                reader,
                message_ids,
            } => TagKind::Receipt {
                reader: reader.clone(),
                message_ids: message_ids.clone(),
            },
        };
        PushTag {
            class: class.as_str().to_owned(),
            kind,
            actor: actor.map(str::to_owned),
        }
    }

    fn encode(&self) -> String {
        // A tag is plain strings: encoding cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The class and the push again, around the frame that travelled with the tag.
    fn decode(text: &str, frame: &Frame) -> Option<(PushClass, Push, Option<String>)> {
        let tag: PushTag = serde_json::from_str(text).ok()?;
        let class = PushClass::ALL
            .into_iter()
            .find(|c| c.as_str() == tag.class)?;
        let push = match tag.kind {
            TagKind::Transient => Push::Transient(frame.clone()),
            TagKind::State { key } => Push::State {
                key,
                frame: frame.clone(),
            },
            TagKind::Receipt {
                reader,
                message_ids,
            } => Push::Receipt {
                reader,
                message_ids,
            },
        };
        Some((class, push, tag.actor))
    }
}

/// `messagesRead {userId, messageIds}`, encoded.
fn receipt_frame(reader: &str, message_ids: &[Id]) -> Option<Frame> {
    super::encode(
        name::MESSAGES_READ,
        Some(&MessagesRead {
            user_id: reader.to_owned(),
            message_ids: message_ids.to_vec(),
        }),
    )
}

/// The class of an owed state frame, from its event name (for metrics only).
fn owed_class(frame: &Frame) -> PushClass {
    if frame.as_str().contains(name::PARTICIPANTS_UPDATE) {
        PushClass::Participants
    } else {
        PushClass::Reactions
    }
}
