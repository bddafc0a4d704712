//! The tables a file has at most one of: `[rooms]` (how VUs are put into rooms), `[messages]` (what
//! a chat message holds), `[timeouts]` and `[verify]` (the step budget and how deliveries, receipts
//! and reactions are judged). Defaults are the competition's. Phases, flows and thresholds are
//! checked in their own files.

use std::time::Duration;

use super::{MAX_MESSAGE_SIZE, Problems, check_ratio, positive};
use crate::engine::plan::{MessageSpec, RoomAssignment, RoomPolicy, Verify};
use crate::scenario::duration::DurationValue;
use crate::scenario::model::{MessagesFile, RoomsFile, TimeoutsFile, VerifyFile};

/// Budget of one step when `[timeouts]` does not set one, as the competition ran.
const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a message may take to reach every other member by default, as the competition ran.
const DEFAULT_DELIVERY_DEADLINE: Duration = Duration::from_secs(10);
/// Added to the delivery deadline for receipts and reaction updates by default: how long a server
/// may take to converge on pushes it thinned under load (the reference server's `converge_within`).
const RECEIPT_CONVERGENCE: Duration = Duration::from_secs(10);
/// Default bound above which a delivery counts as late: the default delivery SLO of the scoring
/// rules (`delivery_p99_slo_ms`), so levels.csv shows how many deliveries broke it.
const DEFAULT_LATE_AFTER: Duration = Duration::from_secs(1);
/// Room size of the `groups` assignment when the file does not set one.
const DEFAULT_USERS_PER_ROOM: u32 = 10;

/// The room assignments, as problems list them.
const ASSIGNMENTS: &str = "groups, shared";

/// `[rooms]`: `groups` fills rooms of `users_per_room` one after the other, so rooms stay small as
/// the load grows; `shared` spreads every VU over a fixed number of rooms, so rooms (and the
/// fan-out of each message) grow with the load. The keys of the other assignment are refused.
pub(super) fn rooms(file: &RoomsFile, p: &mut Problems) -> RoomPolicy {
    let assignment = match file.assignment.as_deref().unwrap_or("groups") {
        "groups" => {
            p.not_used(
                "rooms",
                "rooms",
                file.rooms.is_some(),
                "with assignment = \"groups\" (it takes users_per_room)",
            );
            let size = file.users_per_room.unwrap_or(DEFAULT_USERS_PER_ROOM);
            if size < 2 {
                p.push(
                    "rooms.users_per_room",
                    format!(
                        "must be at least 2, got {size} (a room needs someone to deliver messages to)"
                    ),
                );
            }
            RoomAssignment::Groups { size }
        }
        "shared" => {
            p.not_used(
                "rooms",
                "users_per_room",
                file.users_per_room.is_some(),
                "with assignment = \"shared\" (it takes rooms)",
            );
            let rooms = p
                .required(
                    file.rooms,
                    "rooms.rooms".to_owned(),
                    "shared assignment needs the number of rooms, e.g. rooms = 20",
                )
                // A stand-in so the rest is still checked; the problem is already reported.
                .unwrap_or(1);
            if rooms == 0 {
                p.push("rooms.rooms", "must be at least 1, got 0");
            }
            RoomAssignment::Shared { rooms }
        }
        other => {
            p.push(
                "rooms.assignment",
                format!("unknown assignment {other:?}; allowed: {ASSIGNMENTS}"),
            );
            // A stand-in, as above.
            RoomAssignment::Groups {
                size: DEFAULT_USERS_PER_ROOM,
            }
        }
    };
    let hot_room_share = file.hot_room_share.unwrap_or(0.0);
    check_ratio(hot_room_share, "rooms.hot_room_share", p);
    // Rooms without a password are written by leaving the key out; `password = ""` is most likely
    // a placeholder left in, and would send an empty password with every join.
    if file.password.as_deref() == Some("") {
        p.push(
            "rooms.password",
            "must not be empty; omit it for rooms without a password",
        );
    }
    RoomPolicy {
        assignment,
        hot_room_share,
        password: file.password.clone(),
    }
}

/// `[messages]`: the text of each chat message and the size it is padded to. The engine appends a
/// marker to every message to verify its delivery, so the text need not be unique.
pub(super) fn messages(file: &MessagesFile, p: &mut Problems) -> MessageSpec {
    let text = file.text.clone().unwrap_or_else(|| "hello".to_owned());
    if text.trim().is_empty() {
        p.push(
            "messages.text",
            "must not be empty (the server ignores empty messages)",
        );
    }
    let size = file.size.unwrap_or(0);
    if size > MAX_MESSAGE_SIZE {
        p.push(
            "messages.size",
            format!(
                "must be at most {MAX_MESSAGE_SIZE} bytes (Socket.IO's default max payload is 1 MB), \
                 got {size}"
            ),
        );
    }
    MessageSpec { text, size }
}

/// The step budget and the verification settings: `[timeouts]` and `[verify]`.
pub(super) fn timeouts(
    file: &TimeoutsFile,
    verify: &VerifyFile,
    p: &mut Problems,
) -> (Duration, Verify) {
    // A zero value is reported by `positive`; the zero stand-in is never used, since the file is
    // refused.
    let mut duration = |d: Option<DurationValue>, default: Duration, path: &str| match d {
        None => default,
        Some(d) => positive(Some(d), path.to_owned(), p).unwrap_or_default(),
    };
    let step = duration(file.step, DEFAULT_STEP_TIMEOUT, "timeouts.step");
    let delivery = duration(
        file.delivery,
        DEFAULT_DELIVERY_DEADLINE,
        "timeouts.delivery",
    );
    // Receipts may be merged and delayed on purpose: they get the delivery deadline plus the
    // convergence time the protocol documents for owed pushes.
    let receipt = duration(
        file.receipt,
        delivery + RECEIPT_CONVERGENCE,
        "timeouts.receipt",
    );
    let late_after = duration(verify.late_after, DEFAULT_LATE_AFTER, "verify.late_after");
    (
        step,
        Verify {
            delivery_deadline: delivery,
            receipt_deadline: receipt,
            late_after,
            // Off by default: a finding counts against the run either way, and failing the
            // member's VU as well would take load off a server right after it slipped.
            fails_vu: verify.delivery_fails_vu.unwrap_or(false),
        },
    )
}

#[cfg(test)]
mod tests {
    use crate::scenario::validate::tests::{BASE, assert_error};

    #[test]
    fn ranges_say_what_is_allowed() {
        assert_error(
            &format!("{BASE}\n[rooms]\nusers_per_room = 1\n"),
            "rooms.users_per_room",
            &["must be at least 2, got 1"],
        );
        assert_error(
            &format!("{BASE}\n[rooms]\nhot_room_share = 1.5\n"),
            "rooms.hot_room_share",
            &["ratio from 0.0 to 1.0", "got 1.5"],
        );
        assert_error(
            &format!("{BASE}\n[messages]\ntext = \"  \"\n"),
            "messages.text",
            &["must not be empty"],
        );
    }

    #[test]
    fn closed_sets_list_their_members() {
        assert_error(
            &format!("{BASE}\n[rooms]\nassignment = \"random\"\n"),
            "rooms.assignment",
            &[r#"unknown assignment "random""#, "allowed: groups, shared"],
        );
    }

    #[test]
    fn keys_of_another_kind_are_refused_with_the_right_ones() {
        assert_error(
            &format!("{BASE}\n[rooms]\nassignment = \"shared\"\n"),
            "rooms.rooms",
            &["missing", "rooms = 20"],
        );
    }
}
