//! `[[flow]]`: flow names and weights, and each step's parameters checked and converted, unscaled,
//! into the plan's [`Step`]. The order the steps may come in is `order`'s; scaling think times and
//! intervals is `scenario::lower`'s.

use std::collections::HashMap;
use std::time::Duration;

use super::Problems;
use super::order::check_order;
use crate::engine::plan::{Flow, Step};
use crate::scenario::duration::format_duration;
use crate::scenario::model::{FlowFile, StepFile};

/// Largest profile image the protocol accepts (5 MB).
const MAX_PROFILE_IMAGE: u32 = 5 * 1024 * 1024;
/// Rooms per `list_rooms` page when the step does not say.
const DEFAULT_PAGE_SIZE: u32 = 10;
/// Pace of `send_messages` when the step does not say: one message a second per VU.
const DEFAULT_SEND_INTERVAL: Duration = Duration::from_secs(1);
/// Bounds of `read_every`: a client with the room open reports reads at most a few times a second,
/// and a period of more than an hour would mark nothing in any run.
const MIN_READ_EVERY: Duration = Duration::from_millis(100);
const MAX_READ_EVERY: Duration = Duration::from_secs(3600);
/// The AIs the protocol knows (a mention is `@wayneAI` or `@consultingAI`); the first is the
/// default.
const AIS: [&str; 2] = ["wayneAI", "consultingAI"];

/// Every `[[flow]]`: names, weights, each step's parameters, and (through `order`) the order of
/// its steps.
pub(super) fn flows(files: &[FlowFile], p: &mut Problems) -> Vec<Flow> {
    if files.is_empty() {
        p.push(
            "flow",
            r#"at least one [[flow]] is required, e.g. [[flow]] with steps = [{ register = { login = true } }, "enter_room", "connect", "join_room", "hold"]"#,
        );
        return Vec::new();
    }
    // The plan names each VU's flow with a `u16` (`Arrival::flow`), to keep an arrival small.
    if files.len() > usize::from(u16::MAX) + 1 {
        p.push("flow", "at most 65536 flows are supported");
        return Vec::new();
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut total_weight: u64 = 0;
    let mut flows = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let path = format!("flow[{i}]");
        // Reports list results per flow, so every flow has a name, written or by position.
        let name = file
            .name
            .as_deref()
            .map(str::trim)
            .map_or_else(|| format!("flow{i}"), str::to_owned);
        if name.is_empty() {
            p.push(format!("{path}.name"), "must not be empty");
        } else if let Some(first) = names.insert(name.clone(), i) {
            p.push(
                format!("{path}.name"),
                format!("{name:?} is already used by flow[{first}]; flow names must be unique"),
            );
        }
        let weight = file.weight.unwrap_or(1);
        if weight == 0 {
            p.push(
                format!("{path}.weight"),
                "must be at least 1, got 0 (remove a flow nobody should run)",
            );
        }
        total_weight += u64::from(weight);
        if file.steps.is_empty() {
            p.push(
                format!("{path}.steps"),
                format!(
                    "must list at least one step; allowed steps: {}",
                    crate::scenario::model::STEP_NAMES.join(", ")
                ),
            );
        }
        let steps = file
            .steps
            .iter()
            .enumerate()
            .filter_map(|(j, step)| step_params(step, &format!("{path}.steps[{j}]"), p))
            .collect();
        check_order(&file.steps, &path, p);
        flows.push(Flow {
            name,
            weight,
            steps,
        });
    }
    // Lowering draws each VU's flow with one weighted index over the `u32` weights, whose sum must
    // fit a `u32` too.
    if total_weight > u64::from(u32::MAX) {
        p.push(
            "flow",
            format!("the weights add up to {total_weight}; keep the sum below 4294967296"),
        );
    }
    flows
}

/// Mime families the protocol's upload accepts, with their size limits. A step outside them would
/// be refused by every conforming server, so a run would measure refusals instead of uploads.
fn upload_limit(mime: &str) -> Option<u32> {
    const MB: u32 = 1024 * 1024;
    let family = mime.split('/').next().unwrap_or("");
    match (family, mime) {
        ("image", _) => Some(10 * MB),
        ("video", _) => Some(50 * MB),
        ("audio", _) => Some(20 * MB),
        (
            _,
            "application/pdf"
            | "application/msword"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ) => Some(20 * MB),
        _ => None,
    }
}

/// Checks one step's parameters and converts it, unscaled, to the plan's [`Step`]. `register` logs
/// in too unless told not to, as the competition's UI did.
fn step_params(step: &StepFile, path: &str, p: &mut Problems) -> Option<Step> {
    let name = step.name();
    let at = |field: &str| format!("{path}.{name}.{field}");
    Some(match step {
        StepFile::Register { login } => Step::Register {
            login: login.unwrap_or(true),
        },
        StepFile::Health => Step::Health,
        StepFile::ListRooms { page_size } => {
            let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
            if !(1..=50).contains(&page_size) {
                p.push(
                    at("page_size"),
                    format!("must be from 1 to 50 (the server's largest page), got {page_size}"),
                );
            }
            Step::ListRooms { page_size }
        }
        StepFile::EnterRoom => Step::EnterRoom,
        StepFile::Connect => Step::Connect,
        StepFile::GetRoom => Step::GetRoom,
        StepFile::JoinRoom => Step::JoinRoom,
        StepFile::FetchHistory { pages } => {
            let pages = pages.unwrap_or(1);
            if pages == 0 {
                p.push(at("pages"), "must be at least 1, got 0");
            }
            Step::FetchHistory { pages }
        }
        StepFile::SendMessages {
            count,
            interval,
            mark_read,
            read_every,
        } => {
            // `count = 0` is surely a slip: a step that sends nothing. Omitting `count` is the
            // way to say "until the run ends".
            if *count == Some(0) {
                p.push(
                    at("count"),
                    "must be at least 1, got 0 (omit count to send until the run ends)",
                );
            }
            let interval = interval.map_or(DEFAULT_SEND_INTERVAL, |d| d.0);
            // A counted burst may go out at once, but an endless send without a pause would be
            // a busy loop that measures the generator rather than the server.
            if count.is_none() && interval.is_zero() {
                p.push(
                    at("interval"),
                    "must be longer than 0s when count is omitted (sending until the run ends)",
                );
            }
            let read_every = read_every.map(|d| d.0);
            if let Some(every) = read_every
                && !(MIN_READ_EVERY..=MAX_READ_EVERY).contains(&every)
            {
                p.push(
                    at("read_every"),
                    format!(
                        "must be from {} to {}, got {} (omit it to mark nothing read between messages)",
                        format_duration(MIN_READ_EVERY),
                        format_duration(MAX_READ_EVERY),
                        format_duration(every)
                    ),
                );
            }
            Step::SendMessages {
                count: *count,
                interval,
                mark_read: mark_read.unwrap_or(false),
                read_every,
            }
        }
        StepFile::React { reaction } => {
            let reaction = reaction.clone().unwrap_or_else(|| "👍".to_owned());
            if reaction.trim().is_empty() {
                p.push(at("reaction"), r#"must not be empty, e.g. reaction = "👍""#);
            }
            Step::React { reaction }
        }
        StepFile::MarkRead => Step::MarkRead,
        StepFile::UploadFile { bytes, mime } => {
            let bytes = bytes.unwrap_or(10 * 1024);
            let mime = mime.clone().unwrap_or_else(|| "image/png".to_owned());
            match upload_limit(&mime) {
                None => p.push(
                    at("mime"),
                    format!(
                        "{mime:?} is not a type the server accepts; allowed: image/*, video/*, audio/*, \
                         application/pdf, application/msword, \
                         application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                    ),
                ),
                Some(limit) if bytes == 0 || bytes > limit => p.push(
                    at("bytes"),
                    format!("must be from 1 to {limit} for {mime}, got {bytes}"),
                ),
                Some(_) => {}
            }
            Step::UploadFile { bytes, mime }
        }
        StepFile::ProfileImage { bytes } => {
            let bytes = bytes.unwrap_or(4096);
            if bytes == 0 || bytes > MAX_PROFILE_IMAGE {
                p.push(
                    at("bytes"),
                    format!("must be from 1 to {MAX_PROFILE_IMAGE} (5 MB), got {bytes}"),
                );
            }
            Step::ProfileImage { bytes }
        }
        StepFile::AiMention { ai } => {
            let ai = ai.clone().unwrap_or_else(|| AIS[0].to_owned());
            if !AIS.contains(&ai.as_str()) {
                p.push(
                    at("ai"),
                    format!("unknown AI {ai:?}; allowed: {}", AIS.join(", ")),
                );
            }
            Step::AiMention { ai }
        }
        StepFile::Think { min, max } => {
            let Some(min) = min else {
                p.push(
                    at("min"),
                    r#"missing; write e.g. { think = { min = "1s", max = "3s" } }"#,
                );
                return None;
            };
            // Without `max` the think time is fixed at `min`; the VU draws from [min, max].
            let max = max.unwrap_or(*min);
            if max.0 < min.0 {
                p.push(
                    at("max"),
                    format!(
                        "{} is shorter than min = {}",
                        format_duration(max.0),
                        format_duration(min.0)
                    ),
                );
            }
            Step::Think {
                min: min.0,
                max: max.0,
            }
        }
        StepFile::Hold => Step::Hold,
        StepFile::LeaveRoom => Step::LeaveRoom,
    })
}

#[cfg(test)]
mod tests {
    use super::DEFAULT_SEND_INTERVAL;
    use crate::engine::plan::Step;
    use crate::scenario::Scenario;
    use crate::scenario::validate::tests::{BASE, FILE, assert_error, with};

    #[test]
    fn send_messages_may_mark_what_arrived_as_read() {
        let step = |params: &str| {
            let text = with("{ count = 3 }", params);
            Scenario::from_toml(&text, FILE).unwrap().flows[0].steps[4].clone()
        };
        assert_eq!(
            step("{ count = 3, mark_read = true }"),
            Step::SendMessages {
                count: Some(3),
                interval: DEFAULT_SEND_INTERVAL,
                mark_read: true,
                read_every: None,
            }
        );
        assert_eq!(
            step("{ count = 3 }"),
            Step::SendMessages {
                count: Some(3),
                interval: DEFAULT_SEND_INTERVAL,
                mark_read: false,
                read_every: None,
            }
        );
        assert_eq!(
            step(r#"{ count = 3, read_every = "1s" }"#),
            Step::SendMessages {
                count: Some(3),
                interval: DEFAULT_SEND_INTERVAL,
                mark_read: false,
                read_every: Some(std::time::Duration::from_secs(1)),
            }
        );
        assert_error(
            &with("{ count = 3 }", r#"{ count = 3, read_every = "10ms" }"#),
            "flow[0].steps[4].send_messages.read_every",
            &["must be from 100ms to 1h, got 10ms"],
        );
    }

    #[test]
    fn ranges_say_what_is_allowed() {
        assert_error(
            &with(
                r#""register", "enter_room""#,
                r#""register", { list_rooms = { page_size = 60 } }, "enter_room""#,
            ),
            "flow[0].steps[1].list_rooms.page_size",
            &["from 1 to 50", "got 60"],
        );
    }

    #[test]
    fn closed_sets_list_their_members() {
        assert_error(
            &with(r#""hold""#, r#"{ ai_mention = { ai = "gpt" } }, "hold""#),
            "flow[0].steps[5].ai_mention.ai",
            &["allowed: wayneAI, consultingAI"],
        );
        assert_error(
            &with(
                r#""hold""#,
                r#"{ upload_file = { mime = "text/html" } }, "hold""#,
            ),
            "flow[0].steps[5].upload_file.mime",
            &["image/*", "application/pdf"],
        );
    }

    #[test]
    fn think_needs_a_min() {
        assert_error(
            &with(
                r#"{ send_messages = { count = 3 } }"#,
                r#"{ think = { max = "1s" } }"#,
            ),
            "flow[0].steps[4].think.min",
            &["missing", r#"{ think = { min = "1s", max = "3s" } }"#],
        );
    }

    #[test]
    fn weights_names_and_presence() {
        assert_error(
            &with("[[flow]]", "[[flow]]\nweight = 0"),
            "flow[0].weight",
            &["must be at least 1, got 0"],
        );
        let two_flows = format!("{BASE}\n[[flow]]\nname = \"flow0\"\nsteps = [\"health\"]\n");
        assert_error(
            &two_flows,
            "flow[1].name",
            &[r#""flow0" is already used by flow[0]"#],
        );
        let no_flow = BASE.split("[[flow]]").next().unwrap();
        assert_error(no_flow, "flow", &["at least one [[flow]] is required"]);
    }
}
