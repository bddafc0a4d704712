//! `LoadPlan`: everything the engine needs to run, already lowered from a scenario.
//!
//! Every load shape (ramp, constant, arrival rate, several phases) becomes the same two lists: when each
//! VU starts ([`Arrival`]) and which user level is in force when ([`LevelSpan`]). The engine runs one
//! loop over these lists and never knows which shape produced them. All durations here are already
//! time-scaled; nothing downstream multiplies by the scale again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::base::spec::{LevelSpan, Threshold};

/// A complete, validated plan for one run against one or more targets.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadPlan {
    /// Scenario name (file stem unless the file names it), used in result paths and reports.
    pub scenario: String,
    /// Seed every random choice of the run derives from.
    pub seed: u64,
    /// Factor applied to every duration of the load shape and to think times (1.0 = real time).
    pub time_scale: f64,
    /// VU starts, sorted by `at`. `vu` indexes are 0..arrivals.len() in order.
    pub arrivals: Vec<Arrival>,
    /// The user levels, in time order, covering `0..duration` without gaps.
    pub levels: Vec<LevelSpan>,
    /// Total run time; at this point every VU still running is stopped and counted.
    pub duration: Duration,
    /// The VU flows; `Arrival::flow` indexes this list.
    pub flows: Vec<Flow>,
    /// Rooms, messages, step budget, verification and thresholds, as the scenario gave them.
    pub conduct: Conduct,
    /// When this is one segment of a plan split over several processes: which one. It then starts
    /// only the VUs it holds ([`LoadPlan::own_arrivals`]); `arrivals` stays the whole plan's.
    pub segment: Option<super::segment::Segment>,
}

/// What a scenario hands its plan unchanged: how users are put into rooms, what they write, how
/// long a step may take, how what they receive is judged and what decides the exit code. None of
/// it is time-scaled, so [`Scenario`](crate::scenario::Scenario) and [`LoadPlan`] share this one
/// definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Conduct {
    /// How VUs are put into rooms.
    pub rooms: RoomPolicy,
    /// What chat messages look like.
    pub messages: MessageSpec,
    /// Budget of a single step unless the step sets its own (the competition used 30 s).
    pub step_timeout: Duration,
    /// Deadlines and rules of delivery, receipt and reaction verification.
    pub verify: Verify,
    /// Rules deciding the exit code.
    pub thresholds: Vec<Threshold>,
}

/// One VU start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// Offset from the start of the run.
    pub at: Duration,
    /// VU index, unique within the run.
    pub vu: u32,
    /// Index into [`LoadPlan::flows`].
    pub flow: u16,
}

/// A weighted sequence of steps; each VU runs exactly one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Name, for reports.
    pub name: String,
    /// Relative weight among flows (> 0).
    pub weight: u32,
    /// Steps in order.
    pub steps: Vec<Step>,
}

/// One step of a VU's flow, in protocol order. The engine enforces the order a session allows:
/// REST steps need a login, socket steps need `Connect`, room steps need `EnterRoom`/`JoinRoom`.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// `POST /api/auth/register`, then `POST /api/auth/login` when `login` is set (the UI did both).
    Register {
        /// Also log in after registering.
        login: bool,
    },
    /// `GET /health`.
    Health,
    /// `GET /api/rooms?page=0&pageSize=N&sortField=createdAt&sortOrder=desc`.
    ListRooms {
        /// Page size, 1..=50.
        page_size: u32,
    },
    /// Create or join a room over REST, as [`RoomPolicy`] decides for this VU.
    EnterRoom,
    /// Open the socket: websocket upgrade, Engine.IO open, Socket.IO CONNECT with `{token,sessionId}`.
    Connect,
    /// `GET /api/rooms/:id`.
    GetRoom,
    /// Emit `joinRoom`, await `joinRoomSuccess`.
    JoinRoom,
    /// Emit `fetchPreviousMessages` `pages` times (paging with `before`), await each
    /// `previousMessagesLoaded`.
    FetchHistory {
        /// Pages to load (stops early when the server says `hasMore: false`).
        pages: u32,
    },
    /// Send chat messages at a fixed pace; each one is timed from its intended send time.
    SendMessages {
        /// Messages to send; `None` sends until the run ends.
        count: Option<u32>,
        /// Interval between intended send times.
        interval: Duration,
        /// Before each message, mark every message that arrived since the last one as read, as a
        /// client with the room open does (in a big room: a receipt storm).
        mark_read: bool,
        /// Between messages, every this often, mark what arrived as read: a client with the room
        /// open that reports what it shows as it shows it, at most this often.
        read_every: Option<Duration>,
    },
    /// React to the latest message received from someone else (or its own), await
    /// `messageReactionUpdate`.
    React {
        /// The emoji.
        reaction: String,
    },
    /// Emit `markMessagesAsRead` for messages received so far (fire and forget, as the UI does).
    MarkRead,
    /// Upload a file (`POST /api/files/upload`), then post it as a `file` chat message and await its echo.
    UploadFile {
        /// File size in bytes.
        bytes: u32,
        /// MIME type sent.
        mime: String,
    },
    /// `POST /api/users/profile-image` with an image of this size.
    ProfileImage {
        /// Image size in bytes.
        bytes: u32,
    },
    /// Mention an AI in a message and await its stream to complete.
    AiMention {
        /// `wayneAI` or `consultingAI`.
        ai: String,
    },
    /// Wait a random time in `min..=max` (already time-scaled), still answering pings and receiving.
    Think {
        /// Shortest wait.
        min: Duration,
        /// Longest wait.
        max: Duration,
    },
    /// Keep the session open, answering pings and verifying deliveries, until the run ends.
    Hold,
    /// Emit `leaveRoom`.
    LeaveRoom,
}

/// How VUs are put into rooms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomPolicy {
    /// The room assignment.
    pub assignment: RoomAssignment,
    /// Share of VUs (0.0..=1.0) sent to one common hot room instead, chosen by seeded draw.
    pub hot_room_share: f64,
    /// Password given to rooms the VUs create (and used to join them).
    pub password: Option<String>,
}

/// Which room a VU enters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoomAssignment {
    /// Consecutive VUs fill rooms of `size`; the first VU of a group creates the room, the rest join it.
    Groups {
        /// Users per room.
        size: u32,
    },
    /// `rooms` rooms shared by everyone; each VU picks one by seeded draw.
    Shared {
        /// Number of rooms.
        rooms: u32,
    },
}

/// What chat messages look like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSpec {
    /// Text of each message; the engine appends a short unique marker used to verify delivery.
    pub text: String,
    /// Pad the text with filler up to this many bytes (0 = no padding).
    pub size: u32,
}

/// How what other members receive is verified. None of it is time-scaled: it judges the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verify {
    /// How long a sent message may take to reach every other member before it counts as missing.
    pub delivery_deadline: Duration,
    /// How long a read receipt (`messagesRead`) or a reaction update may take to reach every other
    /// member before it counts as missing. Longer than the delivery deadline by default: servers
    /// may merge and delay receipts on purpose (overload control), converging within seconds.
    pub receipt_deadline: Duration,
    /// A delivery slower than this is counted as late (`deliveries_late`); it is still delivered.
    pub late_after: Duration,
    /// Whether a finding about what another member received (missing, duplicate, reordered, receipt
    /// and reaction findings) also fails that member's VU. Either way it is counted against the run.
    pub fails_vu: bool,
}

impl Verify {
    /// The longest any verified push may take: how long the end of a run waits for the last ones.
    pub fn longest_deadline(&self) -> Duration {
        self.delivery_deadline.max(self.receipt_deadline)
    }
}
