//! The room event log: how every instance on one Redis sees one room's events in one order.
//!
//! An event gets the room's next sequence number (`seq` in the room hash) and goes into the room's
//! capped log (a sorted set by `seq`) in one script on the room's slot; a chat message is stored by
//! the *same* script ([`RedisStore::append_with_event`]), so a room's event order is its history
//! order. The publisher then waits for replicas ([`RedisStore::wait_replicas`]) and publishes
//! ([`RedisStore::publish`]), which also advances the room's `committed` mark. Subscribers deliver
//! by `seq` and read what they missed back from the log ([`RedisStore::fetch_events`]), never past
//! `committed`: everything up to it is on a replica, so a failover cannot take it back.
//!
//! The cross-instance bus (`gateway::bus`) is built on these calls; the key names, the scripts and
//! the envelope format stay here.

use protocol::events::Reactions;
use redis::{AsyncCommands, Value};

use super::{RedisStore, corrupt, kind_str, store_error};
use crate::store::{Appended, Id, MessageRecord, NewMessage, StoreError, UnixMillis};

/// A message event to log together with the message: the `message` frame split around its
/// timestamp, which only the store knows once it has ordered the message.
#[derive(Debug, Clone)]
pub struct FrameTemplate {
    /// Everything before the timestamp.
    pub prefix: String,
    /// Everything after it.
    pub suffix: String,
    /// Engine.IO sid that must not receive it.
    pub except: Option<String>,
}

/// A logged room event, ready to publish.
#[derive(Debug, Clone)]
pub struct LoggedEvent {
    /// Its place in the room's order.
    pub seq: u64,
    /// The [`Envelope`] as published.
    pub envelope: String,
}

/// One room event as subscribers receive it and as the log keeps it:
/// `seq \n except [\t tag] \n frame` — written by the log script, whose `except` argument is the
/// whole middle line. A session id never holds a tab and a JSON tag never a raw newline, so the
/// split is unambiguous; the frame may hold anything after the second newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The event's place in the room's order.
    pub seq: u64,
    /// Engine.IO sid that must not receive it.
    pub except: Option<String>,
    /// What the publisher attached for the receiving instances (the gateway's push tag).
    pub tag: Option<String>,
    /// The encoded event.
    pub frame: String,
}

impl Envelope {
    /// Parses an envelope; `None` when it is malformed.
    pub fn parse(text: &str) -> Option<Envelope> {
        let (seq, rest) = text.split_once('\n')?;
        let (head, frame) = rest.split_once('\n')?;
        let (except, tag) = match head.split_once('\t') {
            Some((except, tag)) => (except, Some(tag.to_owned())),
            None => (head, None),
        };
        Some(Envelope {
            seq: seq.parse().ok()?,
            except: (!except.is_empty()).then(|| except.to_owned()),
            tag,
            frame: frame.to_owned(),
        })
    }
}

/// The envelope's middle line: the excepted session, and the tag after a tab.
fn envelope_head(except: Option<&str>, tag: Option<&str>) -> Option<String> {
    match (except, tag) {
        (except, Some(tag)) => Some(format!("{}\t{tag}", except.unwrap_or(""))),
        (Some(except), None) => Some(except.to_owned()),
        (None, None) => None,
    }
}

impl RedisStore {
    /// Logs a room event that stores nothing else (participants, receipts, reactions, AI stream
    /// events); `None` when the room does not exist. `except` and `tag` travel in the envelope's
    /// head (see [`Envelope`]).
    pub async fn log_event(
        &self,
        room: &str,
        except: Option<&str>,
        tag: Option<&str>,
        frame: &str,
    ) -> Result<Option<LoggedEvent>, StoreError> {
        let head = envelope_head(except, tag);
        let reply: Vec<Value> = self
            .scripts
            .event
            .key(self.keys.room(room))
            .key(self.keys.log(room))
            .arg(head.as_deref().unwrap_or(""))
            .arg(frame)
            .arg(self.options.log_cap)
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        logged(reply)
    }

    /// Stores a message and logs its `message` event in one script: the room's event order is its
    /// history order. A replay (the sender's `client_id` already stored a message) stores and logs
    /// nothing and returns the first message.
    pub async fn append_with_event(
        &self,
        id: Id,
        message: NewMessage,
        template: Option<&FrameTemplate>,
    ) -> Result<(Appended, Option<LoggedEvent>), StoreError> {
        let room = message.room.clone();
        // The index first: a message that exists is always findable by id. An index entry whose
        // script then fails points at nothing, which reads as "no such message".
        let _: () = self
            .conn()
            .set(self.keys.message_room(&id), &room)
            .await
            .map_err(store_error)?;
        let mentions = serde_json::to_string(&message.mentions).unwrap_or_else(|_| "[]".into());
        let mut inv = self.scripts.append.key(self.keys.room(&room));
        inv.key(self.keys.msgs(&room))
            .key(self.keys.message(&room, &id))
            .key(self.keys.log(&room))
            .arg(&id)
            .arg(UnixMillis::now().0)
            .arg(kind_str(message.kind))
            .arg(&message.content)
            .arg(message.sender.as_deref().unwrap_or(""))
            .arg(message.file.as_deref().unwrap_or(""))
            .arg(message.ai_type.as_deref().unwrap_or(""))
            .arg(&mentions)
            .arg(self.options.client_id_ttl.as_millis() as u64);
        if let (Some(client), Some(sender)) = (&message.client_id, &message.sender) {
            inv.key(self.keys.client_id(&room, sender, client));
        }
        if let Some(t) = template {
            inv.arg(t.except.as_deref().unwrap_or(""))
                .arg(&t.prefix)
                .arg(&t.suffix)
                .arg(self.options.log_cap);
        }
        let reply: Vec<Value> = inv
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        let mut reply = reply.into_iter();
        let ts: i64 = reply
            .next()
            .and_then(|v| redis::from_redis_value(v).ok())
            .ok_or_else(|| corrupt("append reply"))?;
        if ts < 0 {
            let _: Result<(), _> = self.conn().del(self.keys.message_room(&id)).await;
            if ts == -2 {
                let first: String = reply
                    .next()
                    .and_then(|v| redis::from_redis_value(v).ok())
                    .ok_or_else(|| corrupt("append reply"))?;
                let message = self
                    .message_in(&room, &first)
                    .await?
                    .ok_or_else(|| corrupt("idempotency key of a missing message"))?;
                let replay = Appended {
                    message,
                    replay: true,
                };
                return Ok((replay, None));
            }
            return Err(StoreError::NotFound("room"));
        }
        let event = logged(reply.collect())?;
        let record = MessageRecord {
            id,
            room,
            kind: message.kind,
            content: message.content,
            sender: message.sender,
            file: message.file,
            ai_type: message.ai_type,
            mentions: message.mentions,
            timestamp: UnixMillis(ts),
            readers: Vec::new(),
            reactions: Reactions::new(),
        };
        let appended = Appended {
            message: record,
            replay: false,
        };
        Ok((appended, event.filter(|e| e.seq > 0)))
    }

    /// Waits until `want` replicas hold everything written to `room`'s master so far (`want` from
    /// [`check_durability`](RedisStore::check_durability)).
    pub async fn wait_replicas(&self, room: &str, want: u32) -> Result<(), StoreError> {
        if want == 0 {
            return Ok(());
        }
        let timeout = self.options.timeouts.response.as_millis() as u64;
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(want).arg(timeout);
        let got: i64 = redis::from_redis_value(
            self.conn
                .to_master_of(&self.keys.room(room), cmd)
                .await
                .map_err(store_error)?,
        )
        .map_err(|_| corrupt("WAIT reply"))?;
        if got < i64::from(want) {
            return Err(StoreError::Unavailable(format!(
                "only {got} of {want} replicas acknowledged within {timeout} ms"
            )));
        }
        Ok(())
    }

    /// Fails when `replica_acks` replicas do not acknowledge a write (a cluster without replicas, a
    /// replica that is down): every room event would fail the same way later.
    pub async fn check_replicas(&self) -> Result<(), StoreError> {
        if self.options.replica_acks == 0 {
            return Ok(());
        }
        let probe = format!("{}:probe", self.options.prefix);
        let _: () = self
            .conn()
            .set(self.keys.room(&probe), 1)
            .await
            .map_err(store_error)?;
        self.wait_replicas(&probe, self.options.replica_acks)
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "{e}; give every master {} replica(s) or lower --redis-replica-acks",
                    self.options.replica_acks
                ))
            })
    }

    /// Publishes a logged event and advances the room's committed mark.
    pub async fn publish(&self, room: &str, event: &LoggedEvent) -> Result<(), StoreError> {
        let _: Value = self
            .scripts
            .publish
            .key(self.keys.room(room))
            .arg(event.seq)
            .arg(self.conn.publish_command())
            .arg(self.keys.channel(room))
            .arg(&event.envelope)
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Logged events of `room` with `from <= seq <= to` (`to` = `None`: up to the committed mark),
    /// oldest first, and the committed mark. An entry that does not parse is left out: a gap the
    /// caller skips like a trimmed one.
    pub async fn fetch_events(
        &self,
        room: &str,
        from: u64,
        to: Option<u64>,
    ) -> Result<(u64, Vec<Envelope>), StoreError> {
        let reply: Vec<Value> = self
            .scripts
            .fetch
            .key(self.keys.room(room))
            .key(self.keys.log(room))
            .arg(from)
            .arg(to.unwrap_or(0))
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)?;
        let mut reply = reply.into_iter();
        let committed: u64 = reply
            .next()
            .and_then(|v| redis::from_redis_value(v).ok())
            .ok_or_else(|| corrupt("log reply"))?;
        let envs: Vec<String> = reply
            .map(|v| redis::from_redis_value(v).map_err(|_| corrupt("log entry")))
            .collect::<Result<_, _>>()?;
        Ok((
            committed,
            envs.iter().filter_map(|e| Envelope::parse(e)).collect(),
        ))
    }

    /// The last seq of `room`'s events.
    pub async fn room_seq(&self, room: &str) -> Result<u64, StoreError> {
        self.scripts
            .seq
            .key(self.keys.room(room))
            .invoke_async(&mut self.conn())
            .await
            .map_err(store_error)
    }

    /// Subscribes this instance to `room`'s events (they arrive on the pushes channel given to
    /// [`connect`](RedisStore::connect); see [`RedisStore::incoming`]). Returns once Redis has
    /// confirmed, so every event published afterwards is received.
    pub async fn subscribe_room(&self, room: &str) -> Result<(), StoreError> {
        self.conn()
            .subscribe(&self.keys.channel(room))
            .await
            .map_err(store_error)
    }

    /// Stops receiving `room`'s events.
    pub async fn unsubscribe_room(&self, room: &str) -> Result<(), StoreError> {
        self.conn()
            .unsubscribe(&self.keys.channel(room))
            .await
            .map_err(store_error)
    }
}

fn logged(reply: Vec<Value>) -> Result<Option<LoggedEvent>, StoreError> {
    let mut it = reply.into_iter();
    let seq: i64 = match it.next() {
        Some(v) => redis::from_redis_value(v).map_err(|_| corrupt("event reply"))?,
        None => return Ok(None),
    };
    if seq < 0 {
        return Ok(None);
    }
    let envelope: String = it
        .next()
        .map(redis::from_redis_value)
        .transpose()
        .map_err(|_| corrupt("event reply"))?
        .unwrap_or_default();
    Ok(Some(LoggedEvent {
        seq: seq as u64,
        envelope,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        let e = Envelope::parse("12\nabc\n42[\"message\",{\"a\":\"x\\ny\"}]").unwrap();
        assert_eq!(e.seq, 12);
        assert_eq!(e.except.as_deref(), Some("abc"));
        assert_eq!(e.frame, "42[\"message\",{\"a\":\"x\\ny\"}]");
        assert!(Envelope::parse("12\n\nf").unwrap().except.is_none());
        assert!(Envelope::parse("x\n\nf").is_none());
    }

    #[test]
    fn tagged_envelopes_round_trip() {
        for (except, tag) in [
            (
                Some("sid1"),
                Some(r#"{"class":"receipts","kind":"transient"}"#),
            ),
            (None, Some("t")),
            (Some("sid1"), None),
            (None, None),
        ] {
            let head = envelope_head(except, tag).unwrap_or_default();
            let e = Envelope::parse(&format!("3\n{head}\n42[\"x\"]")).unwrap();
            assert_eq!(e.except.as_deref(), except);
            assert_eq!(e.tag.as_deref(), tag);
            assert_eq!(e.frame, "42[\"x\"]");
        }
    }
}
