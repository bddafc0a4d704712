//! The session order of a flow's steps: what each step needs done before it (a login, a room, a
//! socket, a joined room), which steps may appear once, and which steps can never run. Checks the
//! order only; each step's parameters are `flows`'s.

use super::Problems;
use crate::scenario::model::StepFile;

/// Checks that a flow's steps follow the protocol's session order:
/// `register → enter_room → connect → join_room → room steps`, `hold` last, and an endless
/// `send_messages` followed by nothing but `hold`. A missing prerequisite is reported once, at the
/// first step that needs it.
///
/// Why here and not only in the engine: a VU that emits `joinRoom` without a socket fails at its
/// first step, so a slip in the file would show up as every VU failing — charged to the server
/// under test, minutes into a run. The engine's typestates still hold the line at run time.
pub(super) fn check_order(steps: &[StepFile], flow: &str, p: &mut Problems) {
    const ORDER: &str = "the session order is register → enter_room → connect → join_room";
    // The session a VU would have after each step, played through without a server.
    let mut authed = false;
    let mut entered = false;
    let mut connected = false;
    let mut joined = false;
    let mut endless_send: Option<usize> = None;
    let last = steps.len().saturating_sub(1);
    for (i, step) in steps.iter().enumerate() {
        let path = format!("{flow}.steps[{i}]");
        let name = step.name();
        if let Some(send) = endless_send
            && !matches!(step, StepFile::Hold)
        {
            p.push(
                path.clone(),
                format!(
                    "{name} can never run: steps[{send}] is send_messages without count, which sends \
                     until the run ends; give it a count or make it the last step (only hold may follow it)"
                ),
            );
            endless_send = None; // once is enough
        }
        let mut need = |ok: &mut bool, what: &str, why: &str| {
            if !*ok {
                p.push(
                    path.clone(),
                    format!("{name} needs {what} first ({why}); {ORDER}"),
                );
                *ok = true; // report each missing prerequisite once
            }
        };
        match step {
            StepFile::Register { .. } => {
                if authed {
                    p.push(
                        path.clone(),
                        "register may appear only once per flow (each VU is one user)",
                    );
                }
                authed = true;
            }
            // `GET /health` needs no login; a think is only a pause.
            StepFile::Health | StepFile::Think { .. } => {}
            StepFile::ListRooms { .. } | StepFile::ProfileImage { .. } => {
                need(&mut authed, "register", "the server requires a login");
            }
            StepFile::EnterRoom => {
                need(&mut authed, "register", "the server requires a login");
                if entered {
                    p.push(
                        path.clone(),
                        "enter_room may appear only once per flow (each VU has one room)",
                    );
                }
                entered = true;
            }
            StepFile::GetRoom => {
                need(&mut entered, "enter_room", "it reads the VU's room");
            }
            StepFile::Connect => {
                need(
                    &mut authed,
                    "register",
                    "the socket authenticates with the login's token",
                );
                if connected {
                    p.push(
                        path.clone(),
                        "connect may appear only once per flow: a second socket of the same user \
                         triggers the server's duplicate-login handling",
                    );
                }
                connected = true;
            }
            StepFile::JoinRoom => {
                need(
                    &mut entered,
                    "enter_room",
                    "the VU must be a member of the room",
                );
                need(&mut connected, "connect", "joinRoom is a socket event");
                if joined {
                    p.push(
                        path.clone(),
                        "join_room: the VU is already in its room (leave_room first to join again)",
                    );
                }
                joined = true;
            }
            StepFile::FetchHistory { .. }
            | StepFile::SendMessages { .. }
            | StepFile::React { .. }
            | StepFile::MarkRead
            | StepFile::UploadFile { .. }
            | StepFile::AiMention { .. }
            | StepFile::LeaveRoom => {
                need(&mut entered, "enter_room", "it acts in the VU's room");
                need(&mut connected, "connect", "it runs on the socket");
                need(&mut joined, "join_room", "the socket must be in the room");
                match step {
                    // The VU stays a member of its room (`entered`), so it may join again.
                    StepFile::LeaveRoom => joined = false,
                    StepFile::SendMessages { count: None, .. } => endless_send = Some(i),
                    _ => {}
                }
            }
            // A hold needs a socket, not a room: a connected user who joined nothing is a
            // realistic idle user too.
            StepFile::Hold => {
                need(&mut connected, "connect", "hold keeps the socket open");
                if i != last {
                    p.push(
                        path.clone(),
                        format!(
                            "hold must be the last step (it keeps the session until the run ends), \
                             but {} step(s) follow it",
                            last - i
                        ),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;
    use crate::scenario::validate::tests::{FILE, assert_error, with};

    #[test]
    fn protocol_order_is_checked() {
        assert_error(
            &with(r#""connect", "join_room""#, r#""join_room""#),
            "flow[0].steps[2]",
            &[
                "join_room needs connect first",
                "register → enter_room → connect → join_room",
            ],
        );
        assert_error(
            &with(r#""register", "enter_room""#, r#""enter_room""#),
            "flow[0].steps[0]",
            &["enter_room needs register first"],
        );
        assert_error(
            &with(r#""join_room", { send"#, r#"{ send"#),
            "flow[0].steps[3]",
            &["send_messages needs join_room first"],
        );
        assert_error(
            &with(r#""hold"]"#, r#""hold", "health"]"#),
            "flow[0].steps[5]",
            &["hold must be the last step", "1 step(s) follow it"],
        );
        assert_error(
            &with("{ count = 3 }", r#"{ interval = "2s" }"#)
                .replace(r#""hold""#, r#""mark_read", "hold""#),
            "flow[0].steps[5]",
            &[
                "mark_read can never run",
                "send_messages without count",
                "only hold may follow",
            ],
        );
        assert_error(
            &with(r#""connect","#, r#""connect", "connect","#),
            "flow[0].steps[3]",
            &["connect may appear only once", "duplicate-login"],
        );
        // An endless send as the last step, and leave/join cycles, are fine.
        Scenario::from_toml(
            &with("{ count = 3 } }, \"hold\"", "{ interval = \"2s\" } }"),
            FILE,
        )
        .unwrap();
        Scenario::from_toml(
            &with(r#""hold""#, r#""leave_room", "join_room", "hold""#),
            FILE,
        )
        .unwrap();
    }
}
