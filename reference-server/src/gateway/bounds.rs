//! [`Bounds`]: the limits that keep one client's input from costing the server or the other members
//! of a room more than a small multiple of that input — bytes queued per connection, the length and
//! chunking of AI replies, the ids a read receipt may carry. What each limit protects is written on
//! its field; the defaults are the figures `tests/hostile.rs` measures against.

use crate::store::ReactionCaps;

/// Limits on amplification by hostile or careless clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    /// Bytes queued for one connection (websocket or polling) before it is dropped as a slow
    /// consumer. The frame bound counts slots; this one counts what they hold: a polling client that
    /// posts 150 `fetchPreviousMessages` and never polls queued 43 MiB under the frame bound alone.
    pub outbound_queue_bytes: usize,
    /// Most chunks one AI reply is cut into, besides the two its code block may add. Every
    /// `aiMessageChunk` carries the whole text so far (`fullContent`, as the protocol documents), so
    /// a reply of `L` bytes in `n` chunks costs each member about `L·(n+3)/2` bytes: the chunk count,
    /// not the reply length, sets the multiple.
    pub ai_max_chunks: usize,
    /// Longest question (in bytes) an AI reply and its `aiMessageComplete.query` echo; longer ones
    /// are cut at a character boundary and end in `…`.
    pub ai_question_bytes: usize,
    /// Most message ids one `markMessagesAsRead` may carry; the rest of a longer list is ignored.
    pub read_ids_per_event: usize,
    /// Most distinct reactions on one message (`per_message`) and of one user on one message
    /// (`per_user`), checked by the store in one step with the write. Every
    /// `messageReactionUpdate` carries the message's whole reaction map to the room, so the map's
    /// size is what each update costs each member.
    pub reactions: ReactionCaps,
}

impl Bounds {
    /// The defaults: 4 MiB queued (a few hundred full chat messages, far above what a reading client
    /// holds at once), 16 chunks, a 500-byte question, 500 ids per receipt (the ids one screen
    /// of history plus everything that arrived meanwhile), 20 distinct reactions per message (what
    /// chat products commonly allow) and 5 per user and message.
    pub const DEFAULT: Bounds = Bounds {
        outbound_queue_bytes: 4 << 20,
        ai_max_chunks: 16,
        ai_question_bytes: 500,
        read_ids_per_event: 500,
        reactions: ReactionCaps {
            per_message: 20,
            per_user: 5,
        },
    };

    /// Why these limits cannot work, naming the flag; `None` when they can.
    pub fn problem(&self) -> Option<String> {
        if self.outbound_queue_bytes < 64 << 10 {
            return Some(format!(
                "--outbound-queue-bytes = {} is too small: at least 65536 (one history page must fit)",
                self.outbound_queue_bytes
            ));
        }
        if !(4..=1000).contains(&self.ai_max_chunks) {
            return Some(format!(
                "--ai-max-chunks = {} is out of range: 4 to 1000",
                self.ai_max_chunks
            ));
        }
        if !(16..=100_000).contains(&self.ai_question_bytes) {
            return Some(format!(
                "--ai-question-bytes = {} is out of range: 16 to 100000",
                self.ai_question_bytes
            ));
        }
        if !(1..=100_000).contains(&self.read_ids_per_event) {
            return Some(format!(
                "--read-ids-per-event = {} is out of range: 1 to 100000",
                self.read_ids_per_event
            ));
        }
        let reactions = self.reactions;
        if !(1..=1000).contains(&reactions.per_message) {
            return Some(format!(
                "--reactions-per-message = {} is out of range: 1 to 1000",
                reactions.per_message
            ));
        }
        if !(1..=reactions.per_message).contains(&reactions.per_user) {
            return Some(format!(
                "--reactions-per-user = {} is out of range: 1 to --reactions-per-message ({})",
                reactions.per_user, reactions.per_message
            ));
        }
        None
    }
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds::DEFAULT
    }
}
