//! The scenario file as written: serde structs mirroring the TOML one to one, every table with
//! `deny_unknown_fields` so a misspelt key is an error instead of a silently ignored setting.
//!
//! Nothing here is checked beyond types; [`validate`](super::validate) turns a [`ScenarioFile`] into a
//! [`Scenario`](super::Scenario) or a list of precise problems. Names with a closed set of values
//! (`kind`, `assignment`, `metric`) are plain strings here so validation can answer with the allowed
//! values in the same words as every other error.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::duration::DurationValue;

/// A whole scenario file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Scenario name; defaults to the file stem.
    pub name: Option<String>,
    /// One line for people reading results.
    pub description: Option<String>,
    /// Seed of every random choice; `--seed` overrides it.
    pub seed: Option<u64>,
    /// Load phases, run one after the other (`[[phase]]`).
    #[serde(default)]
    pub phase: Vec<PhaseFile>,
    /// Room assignment (`[rooms]`).
    #[serde(default)]
    pub rooms: RoomsFile,
    /// Chat message shape (`[messages]`).
    #[serde(default)]
    pub messages: MessagesFile,
    /// Step budget and delivery deadline (`[timeouts]`).
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    /// Delivery verification policy (`[verify]`).
    #[serde(default)]
    pub verify: VerifyFile,
    /// VU flows (`[[flow]]`).
    #[serde(default)]
    pub flow: Vec<FlowFile>,
    /// Pass/fail rules (`[[threshold]]`).
    #[serde(default)]
    pub threshold: Vec<ThresholdFile>,
}

/// One `[[phase]]`. Which keys apply depends on `kind`; validation says which ones when they are mixed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    /// Name in reports; defaults to the kind.
    pub name: Option<String>,
    /// `ramp`, `constant` or `arrival_rate`.
    pub kind: Option<String>,
    /// ramp: users at the first step (absolute).
    pub start_users: Option<u32>,
    /// ramp: users added at each further step.
    pub step_users: Option<u32>,
    /// ramp: time between steps.
    pub step_every: Option<DurationValue>,
    /// ramp: the last step's user count (absolute).
    pub max_users: Option<u32>,
    /// ramp: time spent at `max_users` from the step that reaches it.
    pub hold: Option<DurationValue>,
    /// ramp, constant: window over which each step's new users start, evenly spaced.
    pub spread: Option<DurationValue>,
    /// constant: users to run (absolute).
    pub users: Option<u32>,
    /// constant, arrival_rate: phase length.
    pub duration: Option<DurationValue>,
    /// arrival_rate: new users per second.
    pub rate: Option<f64>,
    /// arrival_rate: length of each reported user level.
    pub level_every: Option<DurationValue>,
}

/// `[rooms]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomsFile {
    /// `groups` or `shared`.
    pub assignment: Option<String>,
    /// groups: users per room.
    pub users_per_room: Option<u32>,
    /// shared: number of rooms.
    pub rooms: Option<u32>,
    /// Share of users sent to one common hot room.
    pub hot_room_share: Option<f64>,
    /// Room password.
    pub password: Option<String>,
}

/// `[messages]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesFile {
    /// Text of each message.
    pub text: Option<String>,
    /// Pad messages to this many bytes.
    pub size: Option<u32>,
}

/// `[timeouts]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    /// Budget of one step.
    pub step: Option<DurationValue>,
    /// Delivery deadline of one message to every other member.
    pub delivery: Option<DurationValue>,
    /// Deadline of a read receipt or reaction update to every other member.
    pub receipt: Option<DurationValue>,
}

/// `[verify]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyFile {
    /// Whether a delivery finding also fails the receiving VU.
    pub delivery_fails_vu: Option<bool>,
    /// A delivery slower than this is counted as late.
    pub late_after: Option<DurationValue>,
}

/// One `[[flow]]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    /// Name in reports; defaults to `flow<N>`.
    pub name: Option<String>,
    /// Relative weight; defaults to 1.
    pub weight: Option<u32>,
    /// Steps in order.
    #[serde(default)]
    pub steps: Vec<StepFile>,
}

/// One `[[threshold]]`. Which keys apply depends on `metric`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdFile {
    /// `vu_failure_ratio`, `request_failure_ratio`, `latency` or `delivery_missing`.
    pub metric: Option<String>,
    /// Ratio or count limit.
    pub max: Option<f64>,
    /// latency: operation name.
    pub op: Option<String>,
    /// latency: percentile.
    pub percentile: Option<f64>,
    /// latency: limit in milliseconds.
    pub max_ms: Option<f64>,
}

/// One step as written: a bare name (`"health"`) or a one-key table of parameters
/// (`{ list_rooms = { page_size = 10 } }`). Every parameter has a default except `think.min`, so any
/// step may also be written bare.
#[derive(Debug, Clone, PartialEq)]
pub enum StepFile {
    /// `register = { login = true }`.
    Register {
        /// Also log in (default true, as the UI did).
        login: Option<bool>,
    },
    /// `health`.
    Health,
    /// `list_rooms = { page_size = 10 }`.
    ListRooms {
        /// Page size (default 10).
        page_size: Option<u32>,
    },
    /// `enter_room`.
    EnterRoom,
    /// `connect`.
    Connect,
    /// `get_room`.
    GetRoom,
    /// `join_room`.
    JoinRoom,
    /// `fetch_history = { pages = 1 }`.
    FetchHistory {
        /// Pages (default 1).
        pages: Option<u32>,
    },
    /// `send_messages = { count = 3, interval = "1s", mark_read = true, read_every = "1s" }`.
    SendMessages {
        /// Messages to send; omitted = until the run ends.
        count: Option<u32>,
        /// Pace (default 1 s).
        interval: Option<DurationValue>,
        /// Before each message, mark what arrived since as read (default false).
        mark_read: Option<bool>,
        /// Between messages, mark what arrived as read this often (default never).
        read_every: Option<DurationValue>,
    },
    /// `react = { reaction = "👍" }`.
    React {
        /// Emoji (default 👍).
        reaction: Option<String>,
    },
    /// `mark_read`.
    MarkRead,
    /// `upload_file = { bytes = 10240, mime = "image/png" }`.
    UploadFile {
        /// Size (default 10 KiB).
        bytes: Option<u32>,
        /// MIME type (default image/png).
        mime: Option<String>,
    },
    /// `profile_image = { bytes = 4096 }`.
    ProfileImage {
        /// Size (default 4 KiB).
        bytes: Option<u32>,
    },
    /// `ai_mention = { ai = "wayneAI" }`.
    AiMention {
        /// AI name (default wayneAI).
        ai: Option<String>,
    },
    /// `think = { min = "1s", max = "3s" }`.
    Think {
        /// Shortest wait (required).
        min: Option<DurationValue>,
        /// Longest wait (default = min).
        max: Option<DurationValue>,
    },
    /// `hold`.
    Hold,
    /// `leave_room`.
    LeaveRoom,
}

/// Every step name, in protocol order, as error messages list them.
pub const STEP_NAMES: [&str; 17] = [
    "register",
    "health",
    "list_rooms",
    "enter_room",
    "connect",
    "get_room",
    "join_room",
    "fetch_history",
    "send_messages",
    "react",
    "mark_read",
    "upload_file",
    "profile_image",
    "ai_mention",
    "think",
    "hold",
    "leave_room",
];

impl StepFile {
    /// The step's name as written in files.
    pub fn name(&self) -> &'static str {
        match self {
            StepFile::Register { .. } => "register",
            StepFile::Health => "health",
            StepFile::ListRooms { .. } => "list_rooms",
            StepFile::EnterRoom => "enter_room",
            StepFile::Connect => "connect",
            StepFile::GetRoom => "get_room",
            StepFile::JoinRoom => "join_room",
            StepFile::FetchHistory { .. } => "fetch_history",
            StepFile::SendMessages { .. } => "send_messages",
            StepFile::React { .. } => "react",
            StepFile::MarkRead => "mark_read",
            StepFile::UploadFile { .. } => "upload_file",
            StepFile::ProfileImage { .. } => "profile_image",
            StepFile::AiMention { .. } => "ai_mention",
            StepFile::Think { .. } => "think",
            StepFile::Hold => "hold",
            StepFile::LeaveRoom => "leave_room",
        }
    }
}

// Parameter tables of the steps that have some; `deny_unknown_fields` makes a misspelt parameter an
// error naming the ones allowed.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterParams {
    login: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListRoomsParams {
    page_size: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchHistoryParams {
    pages: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendMessagesParams {
    count: Option<u32>,
    interval: Option<DurationValue>,
    mark_read: Option<bool>,
    read_every: Option<DurationValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReactParams {
    reaction: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadFileParams {
    bytes: Option<u32>,
    mime: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileImageParams {
    bytes: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AiMentionParams {
    ai: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThinkParams {
    min: Option<DurationValue>,
    max: Option<DurationValue>,
}

fn unknown_step<E: de::Error>(name: &str) -> E {
    E::custom(format!(
        "unknown step {name:?}; allowed: {}",
        STEP_NAMES.join(", ")
    ))
}

impl<'de> Deserialize<'de> for StepFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = StepFile;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            r#"a step: a name like "health" or a table like { list_rooms = { page_size = 10 } }"#,
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<StepFile, E> {
        Ok(match name {
            "register" => StepFile::Register { login: None },
            "health" => StepFile::Health,
            "list_rooms" => StepFile::ListRooms { page_size: None },
            "enter_room" => StepFile::EnterRoom,
            "connect" => StepFile::Connect,
            "get_room" => StepFile::GetRoom,
            "join_room" => StepFile::JoinRoom,
            "fetch_history" => StepFile::FetchHistory { pages: None },
            "send_messages" => StepFile::SendMessages {
                count: None,
                interval: None,
                mark_read: None,
                read_every: None,
            },
            "react" => StepFile::React { reaction: None },
            "mark_read" => StepFile::MarkRead,
            "upload_file" => StepFile::UploadFile {
                bytes: None,
                mime: None,
            },
            "profile_image" => StepFile::ProfileImage { bytes: None },
            "ai_mention" => StepFile::AiMention { ai: None },
            // Validation reports the missing `min` with the field path and an example.
            "think" => StepFile::Think {
                min: None,
                max: None,
            },
            "hold" => StepFile::Hold,
            "leave_room" => StepFile::LeaveRoom,
            other => return Err(unknown_step(other)),
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StepFile, A::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::custom(
                r#"empty step table; write a step name like "health" or { list_rooms = { page_size = 10 } }"#,
            ));
        };
        let step = match name.as_str() {
            "register" => {
                let p: RegisterParams = map.next_value()?;
                StepFile::Register { login: p.login }
            }
            "list_rooms" => {
                let p: ListRoomsParams = map.next_value()?;
                StepFile::ListRooms {
                    page_size: p.page_size,
                }
            }
            "fetch_history" => {
                let p: FetchHistoryParams = map.next_value()?;
                StepFile::FetchHistory { pages: p.pages }
            }
            "send_messages" => {
                let p: SendMessagesParams = map.next_value()?;
                StepFile::SendMessages {
                    count: p.count,
                    interval: p.interval,
                    mark_read: p.mark_read,
                    read_every: p.read_every,
                }
            }
            "react" => {
                let p: ReactParams = map.next_value()?;
                StepFile::React {
                    reaction: p.reaction,
                }
            }
            "upload_file" => {
                let p: UploadFileParams = map.next_value()?;
                StepFile::UploadFile {
                    bytes: p.bytes,
                    mime: p.mime,
                }
            }
            "profile_image" => {
                let p: ProfileImageParams = map.next_value()?;
                StepFile::ProfileImage { bytes: p.bytes }
            }
            "ai_mention" => {
                let p: AiMentionParams = map.next_value()?;
                StepFile::AiMention { ai: p.ai }
            }
            "think" => {
                let p: ThinkParams = map.next_value()?;
                StepFile::Think {
                    min: p.min,
                    max: p.max,
                }
            }
            other => {
                // Steps without parameters accept an empty table, so `{ health = {} }` works too.
                let step = self.visit_str::<A::Error>(other)?;
                let NoParams {} = map.next_value()?;
                step
            }
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "a step table has exactly one key, the step name; found {name:?} and {extra:?} \
                 (put each step in its own table)"
            )));
        }
        Ok(step)
    }
}
