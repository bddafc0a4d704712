//! The chat events a connected socket sends, and the AI reply stream a mention starts.
//!
//! Each handler validates its payload, checks that the user may act on the room, updates the store,
//! and emits through the gateway's fan-out. Failures become the event-specific error the original
//! sent (`joinRoomError`, `error {code:'MESSAGE_ERROR'}`, `error {type:'LOAD_ERROR'}`, …); store
//! failures are logged and reported as a generic error.

use std::sync::Arc;
use std::time::Duration;

use protocol::events::{
    ActiveStream, AiMessageChunk, AiMessageComplete, AiMessageError, AiMessageStart,
    ChatMessageRequest, ErrorEvent, FetchPreviousMessagesRequest, JoinRoomError, JoinRoomSuccess,
    MarkMessagesAsReadRequest, MessageReactionRequest, MessageReactionUpdate, MessageType,
    PreviousMessagesLoaded, UserLeft, name,
};
use protocol::socketio::Event;
use serde::Deserialize;

use super::GatewayState;
use super::conn::Conn;
use super::{send_bare, send_event};
use crate::ai;
use crate::overload::{Audience, Push, PushClass, Rejection, RequestKind};
use crate::store::{Id, MessageRecord, NewMessage, Reacted, StoreError, UnixMillis, UserRecord};
use crate::views;

/// Messages per history batch (the original's `BATCH_SIZE`).
pub const HISTORY_BATCH: usize = 30;
/// Longest text of a chat message, in characters: every message is fanned out to a whole room.
pub const MAX_CONTENT_CHARS: usize = 10_000;
/// Longest reaction, in bytes (an emoji sequence fits easily).
pub const MAX_REACTION_BYTES: usize = 64;

/// The Socket.IO-level state of a connected socket.
pub(crate) struct SocketState {
    /// Socket.IO session id (distinct from the Engine.IO sid, as in Socket.IO v4).
    pub sid: String,
    /// The authenticated user, as of CONNECT.
    pub user: UserRecord,
    /// The room this socket joined with `joinRoom`, if any.
    pub room: Option<Id>,
}

/// How a failed event is reported to the client.
#[derive(Debug, Clone, Copy)]
enum ErrorReply {
    /// `joinRoomError {message}`.
    JoinRoomError,
    /// `error {code, message}`.
    Code(&'static str),
    /// `error {type, message}`.
    Type(&'static str),
    /// `error {code:'OVERLOADED', message, retry, retryAfterMs, level}`.
    Overloaded {
        /// When to retry; `None`: do not.
        retry_after_ms: Option<u64>,
        /// The load level.
        level: u8,
    },
}

/// A failed event: what to tell the client.
#[derive(Debug)]
pub(crate) struct EventError {
    reply: ErrorReply,
    message: String,
}

impl EventError {
    /// An event name the server does not handle.
    pub(crate) fn unknown(event: &str) -> Self {
        EventError {
            reply: ErrorReply::Code("UNKNOWN_EVENT"),
            message: format!(
                "unknown event {:?}; the server handles: joinRoom, chatMessage, \
                 fetchPreviousMessages, markMessagesAsRead, messageReaction, leaveRoom",
                event.chars().take(64).collect::<String>()
            ),
        }
    }

    /// A frame that is not a valid Engine.IO / Socket.IO packet.
    pub(crate) fn invalid_packet(message: impl Into<String>) -> Self {
        EventError {
            reply: ErrorReply::Code("INVALID_PACKET"),
            message: message.into(),
        }
    }

    /// Work refused by overload control.
    pub(crate) fn overloaded(refusal: &Rejection) -> Self {
        EventError {
            reply: ErrorReply::Overloaded {
                retry_after_ms: refusal.retry_after.map(|d| d.as_millis() as u64),
                level: refusal.level,
            },
            message: refusal.message(),
        }
    }

    /// The explanation sent to the client.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    /// Sends the error event.
    pub(crate) fn emit(&self, conn: &Conn) {
        match self.reply {
            ErrorReply::JoinRoomError => send_event(
                conn,
                name::JOIN_ROOM_ERROR,
                &JoinRoomError {
                    message: self.message.clone(),
                },
            ),
            ErrorReply::Code(code) => send_event(
                conn,
                name::ERROR,
                &ErrorEvent {
                    code: Some(code.into()),
                    kind: None,
                    message: self.message.clone(),
                },
            ),
            ErrorReply::Type(kind) => send_event(
                conn,
                name::ERROR,
                &ErrorEvent {
                    code: None,
                    kind: Some(kind.into()),
                    message: self.message.clone(),
                },
            ),
            ErrorReply::Overloaded {
                retry_after_ms,
                level,
            } => send_event(
                conn,
                name::ERROR,
                &serde_json::json!({
                    "code": "OVERLOADED",
                    "message": self.message,
                    "retry": retry_after_ms.is_some(),
                    "retryAfterMs": retry_after_ms,
                    "level": level,
                }),
            ),
        };
    }
}

/// Why a handler stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The client asked for something invalid or not allowed; the text says what.
    Invalid(String),
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Invalid(m) => f.write_str(m),
            Failure::Store(e) => write!(f, "{e}"),
        }
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::Invalid(message.into())
}

/// Runs the handler of a client event.
pub(crate) async fn handle(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &mut SocketState,
    event: &Event<'_>,
) -> Result<(), EventError> {
    let (reply, result) = match event.name.as_ref() {
        name::JOIN_ROOM => (
            ErrorReply::JoinRoomError,
            join_room(state, conn, socket, event).await,
        ),
        name::CHAT_MESSAGE => (
            ErrorReply::Code("MESSAGE_ERROR"),
            chat_message(state, conn, socket, event).await,
        ),
        name::FETCH_PREVIOUS_MESSAGES => (
            ErrorReply::Type("LOAD_ERROR"),
            fetch_previous(state, conn, socket, event).await,
        ),
        name::MARK_MESSAGES_AS_READ => (
            ErrorReply::Type("READ_ERROR"),
            mark_read(state, conn, socket, event).await,
        ),
        name::MESSAGE_REACTION => (
            ErrorReply::Type("REACTION_ERROR"),
            react(state, conn, socket, event).await,
        ),
        name::LEAVE_ROOM => (
            ErrorReply::Type("LEAVE_ERROR"),
            leave_room(state, conn, socket, event).await,
        ),
        other => return Err(EventError::unknown(other)),
    };
    result.map_err(|failure| EventError {
        reply,
        message: match failure {
            Failure::Invalid(message) => message,
            Failure::Store(StoreError::Unavailable(e)) => {
                tracing::warn!(error = %e, event = %event.name, "store unavailable during event");
                "Service temporarily unavailable: storage cannot be reached; try again".into()
            }
            Failure::Store(StoreError::Underreplicated(why)) => {
                format!("Service temporarily unavailable: {why}; try again")
            }
            Failure::Store(e) => {
                tracing::error!(error = %e, event = %event.name, "store failed during event");
                "Internal server error".into()
            }
        },
    })
}

/// Parses argument 0, naming the expected shape on failure.
fn payload<'a, T: Deserialize<'a>>(event: &Event<'a>, shape: &str) -> Result<T, Failure> {
    event.arg(0).map_err(|e| {
        invalid(format!(
            "invalid {} payload ({e}); expected {shape}",
            event.name
        ))
    })
}

/// Checks that the room exists and `user` is one of its participants.
async fn require_participant(
    state: &GatewayState,
    room_id: &str,
    user: &UserRecord,
) -> Result<(), Failure> {
    match state.store.is_participant(room_id, &user.id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(invalid(
            "You are not a participant of this room; join it first",
        )),
        Err(StoreError::NotFound(_)) => Err(invalid("Room not found")),
        Err(e) => Err(e.into()),
    }
}

fn system_message(room: &str, content: String) -> NewMessage {
    NewMessage {
        room: room.to_owned(),
        kind: MessageType::System,
        content,
        sender: None,
        file: None,
        ai_type: None,
        mentions: Vec::new(),
        client_id: None,
    }
}

/// Marks what a user was just shown as read by them, as the original's history loader did.
async fn mark_shown_as_read(state: &GatewayState, room: &str, user: &str, shown: &[MessageRecord]) {
    let ids: Vec<Id> = shown.iter().map(|m| m.id.clone()).collect();
    if ids.is_empty() {
        return;
    }
    if let Err(e) = state
        .store
        .mark_read(room, user, &ids, UnixMillis::now())
        .await
    {
        tracing::warn!(error = %e, "could not mark loaded messages as read");
    }
}

/// `joinRoom roomId`: leave the previous room, join this one, reply with recent history, and tell the
/// room.
async fn join_room(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &mut SocketState,
    event: &Event<'_>,
) -> Result<(), Failure> {
    let room_id: String = payload(event, "the room id as a string")?;
    let store = state.store.as_ref();
    let gateway = &state.gateway;
    let room = store
        .room(&room_id)
        .await?
        .ok_or_else(|| invalid("Room not found"))?;
    let member = room.participants.contains(&socket.user.id);
    // The original let any socket into a password room; here the password is checked by the REST
    // join, and the socket join requires that to have happened.
    if room.password_hash.is_some() && !member {
        return Err(invalid(
            "This room has a password: join it with POST /api/rooms/:id/join first",
        ));
    }
    let rejoin = socket.room.as_deref() == Some(room_id.as_str());
    if !rejoin {
        // Strict durability refuses before anything is stored or the previous room is left, not
        // at the join notice after them.
        gateway.check_durability(&room_id).await?;
    }
    if !rejoin && let Some(previous) = socket.room.take() {
        gateway.leave_room(&previous, conn);
        let left = UserLeft {
            user_id: socket.user.id.clone(),
            name: socket.user.name.clone(),
        };
        gateway
            .emit_to_room(&previous, name::USER_LEFT, &left, None)
            .await?;
    }
    let room = if member {
        room
    } else {
        store.add_participant(&room_id, &socket.user.id).await?
    };
    gateway.enter_room(&room_id, conn).await?;
    socket.room = Some(room_id.clone());

    // Joining the room one is already in re-sends the history but announces nothing. The notice
    // goes to the others now and to the joiner right after `joinRoomSuccess`, as in the original.
    let notice = if rejoin {
        None
    } else {
        let text = format!("{} joined the room.", socket.user.name);
        let render = |r: &MessageRecord| views::message(r.clone(), None, None);
        Some(
            gateway
                .post_message(
                    store,
                    system_message(&room_id, text),
                    render,
                    Some(conn.sid().as_ref()),
                )
                .await?
                .message,
        )
    };
    let page = store.messages_before(&room_id, None, HISTORY_BATCH).await?;
    let shown = page.messages.clone();
    let messages = views::messages(store, page.messages).await?;
    let members = store.users(&room.participants).await?;
    let success = JoinRoomSuccess {
        room_id: room_id.clone(),
        participants: members.iter().map(views::summary).collect(),
        oldest_timestamp: messages.first().map(|m| m.timestamp.clone()),
        messages,
        has_more: page.has_more,
        active_streams: gateway.active_streams(&room_id).await,
    };
    send_event(conn, name::JOIN_ROOM_SUCCESS, &success);
    if let Some(notice) = notice {
        send_event(conn, name::MESSAGE, &views::message(notice, None, None));
        let participants: Vec<_> = members.iter().map(views::profile).collect();
        push_participants(state, &room_id, &participants, Some(conn.sid())).await?;
    }
    mark_shown_as_read(state, &room_id, &socket.user.id, &shown).await;
    Ok(())
}

/// `chatMessage {room, type, content, fileData?}`: store and broadcast to the whole room, sender
/// included; start AI streams for mentions.
async fn chat_message(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &SocketState,
    event: &Event<'_>,
) -> Result<(), Failure> {
    let request: ChatMessageRequest = payload(
        event,
        "{room, type: 'text'|'file', content, fileData?: {_id}}",
    )?;
    if request.room.is_empty() {
        return Err(invalid("room is required"));
    }
    if let Some(id) = &request.client_message_id
        && !protocol::events::valid_client_message_id(id)
    {
        return Err(invalid(format!(
            "clientMessageId must be 1 to {} printable ASCII characters",
            protocol::events::MAX_CLIENT_MESSAGE_ID
        )));
    }
    let content = request.content.trim();
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(invalid(format!(
            "content is too long: at most {MAX_CONTENT_CHARS} characters"
        )));
    }
    let store = state.store.as_ref();
    require_participant(state, &request.room, &socket.user).await?;
    let file = match request.kind {
        MessageType::Text if content.is_empty() => return Ok(()),
        MessageType::Text => None,
        MessageType::File => {
            let file_id = request
                .file_data
                .as_ref()
                .map(|f| f.id.as_str())
                .filter(|id| !id.is_empty())
                .ok_or_else(|| invalid("fileData._id is required for file messages"))?;
            let file = store
                .file(file_id)
                .await?
                .filter(|f| f.owner == socket.user.id)
                .ok_or_else(|| invalid("File not found, or not uploaded by you"))?;
            store.mark_file_posted(&file.id, &request.room).await?;
            Some(file)
        }
        MessageType::System | MessageType::Ai => {
            return Err(invalid("type must be 'text' or 'file'"));
        }
    };
    let mentions = ai::mentions(content);
    let new = NewMessage {
        room: request.room.clone(),
        kind: request.kind,
        content: content.to_owned(),
        sender: Some(socket.user.id.clone()),
        file: file.as_ref().map(|f| f.id.clone()),
        ai_type: None,
        mentions: mentions.clone(),
        client_id: request.client_message_id.clone(),
    };
    let render = |r: &MessageRecord| views::message(r.clone(), Some(&socket.user), file.as_ref());
    // Stored before it is broadcast: the sender's echo means the message is kept.
    let appended = state.gateway.post_message(store, new, render, None).await?;
    if appended.replay {
        // A retry of a message stored already (its first answer was lost): the sender gets the
        // first message as its echo again; the room saw it once, and its AI replies ran once.
        send_event(conn, name::MESSAGE, &render(&appended.message));
        return Ok(());
    }
    state
        .overload
        .count_message(state.gateway.room_size(&request.room));
    state.overload.room_activity(&request.room);
    if !mentions.is_empty() {
        let (state, room, content) = (state.clone(), request.room.clone(), content.to_owned());
        let conn = Arc::clone(conn);
        state.gateway.tracker().clone().spawn(async move {
            // Waits (boundedly) for an AI slot here, not in the connection's task. A refusal is
            // told to the asker alone; the message itself was delivered.
            let _in_flight = match state.overload.enter(RequestKind::Ai).await {
                Ok(in_flight) => in_flight,
                Err(refusal) => {
                    EventError::overloaded(&refusal).emit(&conn);
                    return;
                }
            };
            // Several bots mentioned at once answer one after another, as in the original.
            for bot in mentions {
                let query = ai::query_for(&content, &bot);
                stream_ai_reply(&state, &room, &bot, &query).await;
            }
        });
    }
    Ok(())
}

/// Streams one bot's reply to a room: `aiMessageStart`, chunks, then the stored message's
/// `aiMessageComplete` (or `aiMessageError`). Stops early when the server shuts down.
pub(crate) async fn stream_ai_reply(state: &GatewayState, room: &str, bot: &str, query: &str) {
    let gateway = &state.gateway;
    let started = UnixMillis::now();
    let stream_id = format!(
        "{bot}-{}-{}",
        started.0,
        &crate::store::new_object_id()[18..]
    );
    let mut active = ActiveStream {
        id: stream_id.clone(),
        kind: "ai".into(),
        ai_type: bot.to_owned(),
        content: String::new(),
        timestamp: started.to_wire(),
        is_streaming: true,
    };
    gateway.update_stream(room, &active).await;
    let start = AiMessageStart {
        message_id: stream_id.clone(),
        ai_type: bot.to_owned(),
        timestamp: started.to_wire(),
    };
    emit_or_log(
        gateway
            .emit_to_room(room, name::AI_MESSAGE_START, &start, None)
            .await,
    );

    let bounds = &gateway.settings().bounds;
    let query = ai::cap_question(query, bounds.ai_question_bytes);
    let reply = ai::reply(bot, &query);
    let mut interrupted = false;
    for chunk in ai::chunks(&reply, bounds.ai_max_chunks) {
        // Read per chunk: at high load levels the stream speeds up and frees its slot sooner.
        let delay = state
            .overload
            .ai_chunk_delay(gateway.settings().ai_chunk_delay);
        if !pause(state, delay).await {
            interrupted = true;
            break;
        }
        active.content.push_str(&chunk.text);
        let event = AiMessageChunk {
            message_id: stream_id.clone(),
            current_chunk: chunk.text,
            full_content: active.content.clone(),
            is_code_block: chunk.in_code_block,
            timestamp: UnixMillis::now().to_wire(),
            ai_type: bot.to_owned(),
            is_complete: false,
        };
        gateway.update_stream(room, &active).await;
        // Thinnable in a hot room: each chunk carries the whole text so far, and the stream always
        // ends with aiMessageComplete or aiMessageError, which are not thinned.
        if let Some(frame) = super::encode(name::AI_MESSAGE_CHUNK, Some(&event)) {
            emit_or_log(
                gateway
                    .push(
                        &state.overload,
                        room,
                        PushClass::AiChunks,
                        Push::Transient(frame),
                        Audience::default(),
                    )
                    .await,
            );
        }
    }
    gateway.end_stream(room, &stream_id).await;

    let stored = if interrupted {
        Err("the server is shutting down".to_owned())
    } else {
        state
            .store
            .append_message(NewMessage {
                room: room.to_owned(),
                kind: MessageType::Ai,
                content: active.content.clone(),
                sender: None,
                file: None,
                ai_type: Some(bot.to_owned()),
                mentions: Vec::new(),
                client_id: None,
            })
            .await
            .map(|appended| appended.message)
            .map_err(|e| {
                tracing::error!(error = %e, "could not store an AI reply");
                "could not store the reply".to_owned()
            })
    };
    match stored {
        Ok(record) => {
            let complete = AiMessageComplete {
                message_id: stream_id,
                id: record.id,
                content: record.content,
                ai_type: bot.to_owned(),
                timestamp: record.timestamp.to_wire(),
                is_complete: true,
                query,
            };
            emit_or_log(
                gateway
                    .emit_to_room(room, name::AI_MESSAGE_COMPLETE, &complete, None)
                    .await,
            );
        }
        Err(error) => {
            let failed = AiMessageError {
                message_id: stream_id,
                error,
                ai_type: bot.to_owned(),
            };
            emit_or_log(
                gateway
                    .emit_to_room(room, name::AI_MESSAGE_ERROR, &failed, None)
                    .await,
            );
        }
    }
}

/// AI stream events have nobody to report a failed broadcast to: it is logged.
fn emit_or_log(result: Result<(), StoreError>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not broadcast an AI stream event");
    }
}

/// Waits `delay`; false when the server began shutting down meanwhile.
async fn pause(state: &GatewayState, delay: Duration) -> bool {
    let shutdown = state.gateway.shutdown_token();
    if delay.is_zero() {
        tokio::task::yield_now().await;
        return !shutdown.is_cancelled();
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = shutdown.cancelled() => false,
    }
}

/// `fetchPreviousMessages {roomId, before?}`: `messageLoadStart`, then one batch older than `before`.
async fn fetch_previous(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &SocketState,
    event: &Event<'_>,
) -> Result<(), Failure> {
    let request: FetchPreviousMessagesRequest =
        payload(event, "{roomId, before?: ISO-8601 timestamp}")?;
    let before = match &request.before {
        Some(ts) if !ts.is_empty() => {
            Some(UnixMillis::parse_wire(ts.as_str()).ok_or_else(|| {
                invalid("before must be an ISO-8601 timestamp or epoch milliseconds")
            })?)
        }
        _ => None,
    };
    require_participant(state, &request.room_id, &socket.user).await?;
    state.overload.room_activity(&request.room_id);
    send_bare(conn, name::MESSAGE_LOAD_START);
    let store = state.store.as_ref();
    let page = store
        .messages_before(&request.room_id, before, HISTORY_BATCH)
        .await?;
    let shown = page.messages.clone();
    let messages = views::messages(store, page.messages).await?;
    let loaded = PreviousMessagesLoaded {
        oldest_timestamp: messages.first().map(|m| m.timestamp.clone()),
        messages,
        has_more: page.has_more,
    };
    send_event(conn, name::PREVIOUS_MESSAGES_LOADED, &loaded);
    mark_shown_as_read(state, &request.room_id, &socket.user.id, &shown).await;
    Ok(())
}

/// `markMessagesAsRead {roomId, messageIds}`: record, then tell the *other* members.
async fn mark_read(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &SocketState,
    event: &Event<'_>,
) -> Result<(), Failure> {
    let request: MarkMessagesAsReadRequest =
        payload(event, "{roomId, messageIds: [message id, …]}")?;
    if request.message_ids.is_empty() {
        return Ok(());
    }
    require_participant(state, &request.room_id, &socket.user).await?;
    // Beyond the cap, ids are ignored: a receipt costs every other member its size.
    let mut request = request;
    request
        .message_ids
        .truncate(state.gateway.settings().bounds.read_ids_per_event);
    // Only ids of this room's messages, each once: ids that do not exist or belong elsewhere are
    // nothing the room needs to hear. Ids read before are forwarded again: the server itself marks
    // the history it shows (join, fetch) without telling anyone, and clients mark it once more.
    let marked = state
        .store
        .mark_read(
            &request.room_id,
            &socket.user.id,
            &request.message_ids,
            UnixMillis::now(),
        )
        .await?;
    if marked.is_empty() {
        return Ok(());
    }
    state
        .gateway
        .push(
            &state.overload,
            &request.room_id,
            PushClass::Receipts,
            Push::Receipt {
                reader: socket.user.id.clone(),
                message_ids: marked,
            },
            Audience {
                except: Some(conn.sid().as_ref()),
                actor: None,
            },
        )
        .await?;
    Ok(())
}

/// `messageReaction {messageId, reaction, type}`: update, then tell the whole room.
async fn react(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &SocketState,
    event: &Event<'_>,
) -> Result<(), Failure> {
    let request: MessageReactionRequest =
        payload(event, "{messageId, reaction, type: 'add'|'remove'}")?;
    if request.reaction.is_empty() || request.reaction.len() > MAX_REACTION_BYTES {
        return Err(invalid(format!(
            "reaction must be 1-{MAX_REACTION_BYTES} bytes (an emoji)"
        )));
    }
    let store = state.store.as_ref();
    let message = store
        .message(&request.message_id)
        .await?
        .ok_or_else(|| invalid("Message not found"))?;
    require_participant(state, &message.room, &socket.user).await?;
    let caps = state.gateway.settings().bounds.reactions;
    let reacted = store
        .react(
            &message.id,
            &request.reaction,
            &socket.user.id,
            request.op,
            caps,
        )
        .await?;
    let reactions = match reacted {
        Reacted::Updated(reactions) => reactions,
        Reacted::TooManyKinds => {
            return Err(invalid(format!(
                "this message already has {} different reactions, the most allowed",
                caps.per_message
            )));
        }
        Reacted::TooManyOfUser => {
            return Err(invalid(format!(
                "you already reacted {} times to this message, the most allowed",
                caps.per_user
            )));
        }
    };
    let update = MessageReactionUpdate {
        message_id: message.id.clone(),
        reactions,
    };
    // The whole reaction state of the message: in a hot room a member that misses it gets the
    // latest one within `hot.converge_within`. The reactor always gets it (it waits for it).
    if let Some(frame) = super::encode(name::MESSAGE_REACTION_UPDATE, Some(&update)) {
        state
            .gateway
            .push(
                &state.overload,
                &message.room,
                PushClass::Reactions,
                Push::State {
                    key: message.id,
                    frame,
                },
                Audience {
                    except: None,
                    actor: Some(conn.sid().as_ref()),
                },
            )
            .await?;
    }
    Ok(())
}

/// `leaveRoom roomId`: leave the socket's current room (anything else is ignored, as in the original).
async fn leave_room(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &mut SocketState,
    event: &Event<'_>,
) -> Result<(), Failure> {
    let room_id: String = payload(event, "the room id as a string")?;
    if socket.room.as_deref() != Some(room_id.as_str()) {
        return Ok(());
    }
    socket.room = None;
    depart(state, conn, socket, &room_id, Departure::Left).await
}

/// How a user left a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// `leaveRoom`.
    Left,
    /// The connection ended.
    Disconnected,
}

/// Takes the socket out of the room and the user out of its participants, stores the notice, and
/// tells the remaining members.
pub(crate) async fn depart(
    state: &GatewayState,
    conn: &Arc<Conn>,
    socket: &SocketState,
    room_id: &str,
    how: Departure,
) -> Result<(), Failure> {
    let store = state.store.as_ref();
    state.gateway.leave_room(room_id, conn);
    let room = match store.remove_participant(room_id, &socket.user.id).await {
        Ok(room) => room,
        // The room vanished meanwhile: nobody is left to tell.
        Err(StoreError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let text = match how {
        Departure::Left => format!("{} left the room.", socket.user.name),
        Departure::Disconnected => format!("{} disconnected.", socket.user.name),
    };
    let render = |r: &MessageRecord| views::message(r.clone(), None, None);
    state
        .gateway
        .post_message(store, system_message(room_id, text), render, None)
        .await?;
    let participants = views::participants(store, &room).await?;
    push_participants(state, room_id, &participants, None).await?;
    Ok(())
}

/// `participantsUpdate`: the whole participant list, so in a hot room a member that misses one gets
/// the latest list within `hot.converge_within`. `joiner` (already sent the list in
/// `joinRoomSuccess`) is not skipped either way.
async fn push_participants<T: serde::Serialize>(
    state: &GatewayState,
    room: &str,
    participants: &T,
    joiner: Option<&Arc<str>>,
) -> Result<(), StoreError> {
    let Some(frame) = super::encode(name::PARTICIPANTS_UPDATE, Some(participants)) else {
        return Ok(());
    };
    state
        .gateway
        .push(
            &state.overload,
            room,
            PushClass::Participants,
            Push::State {
                key: "participants".into(),
                frame,
            },
            Audience {
                except: None,
                actor: joiner.map(AsRef::as_ref),
            },
        )
        .await
}
