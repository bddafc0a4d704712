//! Render tests: each view drawn into ratatui's `TestBackend` from hand-built runs and compared with
//! the snapshot files in `snapshots/` (review changes with `cargo insta review`, or run with
//! `INSTA_UPDATE=always` and read the diff). Colours are not in the text snapshots, so the meaning of
//! colours is checked cell by cell; and drawing at any size must never panic.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::app::{App, View};
use super::fixture::{self, ALPHA, BRAVO, CHARLIE};
use crate::metrics::Snapshot;

/// Draws `app` on a `width`×`height` test terminal.
fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| frame.render_widget(app, frame.area()))
        .expect("draw");
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    terminal.backend().to_string()
}

/// A one-team run at 1:35 (level 4 of 11).
fn one_team() -> App {
    fixture::app("smoke → 127.0.0.1:5000", &[ALPHA], 95)
}

/// A three-team match at 1:35, with failures.
fn three_teams() -> App {
    fixture::app("semi-final 2", &[ALPHA, BRAVO, CHARLIE], 95)
}

fn in_bracket() -> App {
    let mut app = fixture::app("KTB 2024 final", &[BRAVO, CHARLIE], 95);
    app.ingest_bracket(fixture::bracket());
    app
}

fn in_double_elimination() -> App {
    let mut app = fixture::app("KTB 2024 final", &[BRAVO, CHARLIE], 95);
    app.ingest_bracket(fixture::double_elimination());
    app
}

#[test]
fn run_view_one_team() {
    let app = one_team();
    assert_eq!(app.view(), View::Run);
    insta::assert_snapshot!("run_one_team_120x40", text(&draw(&app, 120, 40)));
    insta::assert_snapshot!("run_one_team_80x24", text(&draw(&app, 80, 24)));
}

#[test]
fn run_view_of_the_selected_team_in_a_match() {
    let mut app = three_teams();
    app.set_view(View::Run);
    app.select_step(1);
    insta::assert_snapshot!("run_three_teams_bravo_120x40", text(&draw(&app, 120, 40)));
}

#[test]
fn match_view_three_teams() {
    let app = three_teams();
    assert_eq!(app.view(), View::Match, "a match opens on the match view");
    insta::assert_snapshot!("match_three_teams_120x40", text(&draw(&app, 120, 40)));
    // Too narrow for three columns: one row per team.
    insta::assert_snapshot!("match_three_teams_80x24", text(&draw(&app, 80, 24)));
}

#[test]
fn match_view_of_a_single_team_says_so() {
    let mut app = one_team();
    app.set_view(View::Match);
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("One team in this run (alpha)"), "{screen}");
}

#[test]
fn bracket_view() {
    let app = in_bracket();
    assert_eq!(
        app.view(),
        View::Bracket,
        "a bracket opens on the bracket view"
    );
    insta::assert_snapshot!("bracket_120x40", text(&draw(&app, 120, 40)));
    insta::assert_snapshot!("bracket_80x24", text(&draw(&app, 80, 24)));
}

#[test]
fn a_double_elimination_bracket_is_listed_round_by_round() {
    let app = in_double_elimination();
    let tall = text(&draw(&app, 120, 40));
    insta::assert_snapshot!("bracket_double_120x40", tall);
    // Every round is there by name, each match on one line with its result or state.
    for round in [
        "Winners 1",
        "Winners 3",
        "Losers 1",
        "Losers 4",
        "Grand final",
        "Reset",
    ] {
        assert!(tall.contains(round), "{round} missing:\n{tall}");
    }
    assert!(tall.contains("▶ live"), "{tall}");
    // Too short for all of it: the part around the match in play is shown.
    let short = text(&draw(&app, 80, 24));
    insta::assert_snapshot!("bracket_double_80x24", short);
    assert!(short.contains("▶ live"), "{short}");
}

#[test]
fn bracket_view_without_a_bracket() {
    let mut app = one_team();
    app.set_view(View::Bracket);
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("No bracket in this run"), "{screen}");
}

#[test]
fn overlays_and_states() {
    let mut app = three_teams();
    app.set_help(true);
    insta::assert_snapshot!("help_120x40", text(&draw(&app, 120, 40)));
    app.set_help(false);
    app.set_confirm_stop(true);
    insta::assert_snapshot!("confirm_stop_80x24", text(&draw(&app, 80, 24)));

    app.mark_stopping();
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("STOPPING: writing results"), "{screen}");
    assert!(!screen.contains("Stop the run?"), "{screen}");

    let mut app = one_team();
    app.toggle_pause();
    app.ingest(fixture::snapshot(&[ALPHA], 200));
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("PAUSED"), "{screen}");
    assert!(
        screen.contains("1:35 of 5:30"),
        "the display stays frozen: {screen}"
    );
}

#[test]
fn before_the_first_snapshot() {
    let app = App::new("smoke");
    insta::assert_snapshot!("waiting_80x24", text(&draw(&app, 80, 24)));
    let mut app = App::new("smoke");
    app.set_view(View::Match);
    assert!(text(&draw(&app, 80, 24)).contains("Waiting for the first measurements"));
}

#[test]
fn the_end_of_the_run() {
    let mut app = one_team();
    let mut last = fixture::snapshot(&[ALPHA], 96);
    last.done = true;
    app.ingest(last);
    assert!(app.finished());
    let screen = text(&draw(&app, 120, 40));
    assert!(screen.contains("FINISHED"), "{screen}");
    assert!(screen.contains(" q  leave"), "{screen}");
}

/// The first cell whose row contains `needle` at or after its start, as (x, y).
fn find(buf: &Buffer, needle: &str) -> (u16, u16) {
    for y in 0..buf.area.height {
        let row: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_owned())
            .collect();
        if let Some(byte) = row.find(needle) {
            let x = row[..byte].chars().count() as u16;
            return (x, y);
        }
    }
    panic!("{needle:?} not on screen");
}

/// The colour of the figure that ends the panel row labelled `label` (the last digit before the
/// panel's right border).
fn value_color(buf: &Buffer, label: &str) -> Color {
    let (x, y) = find(buf, label);
    // From after the label's own border.
    (x + 1..buf.area.width)
        .map(|x| &buf[(x, y)])
        .take_while(|c| !matches!(c.symbol(), "│" | "┃"))
        .filter(|c| c.symbol().chars().any(|ch| ch.is_ascii_digit()))
        .last()
        .map(|c| c.fg)
        .unwrap_or_else(|| panic!("no figure after {label:?}"))
}

#[test]
fn colours_carry_meaning() {
    let terminal = draw(&three_teams(), 120, 40);
    let buf = terminal.backend().buffer();
    // Match view, charlie's column: failures in red, users held in green.
    let (cx, _) = find(buf, "charlie-with-a-long");
    let (_, fy) = find(buf, "│failed users");
    let failed = (cx..buf.area.width)
        .map(|x| &buf[(x, fy)])
        .filter(|c| c.symbol().chars().any(|ch| ch.is_ascii_digit()))
        .map(|c| c.fg)
        .next()
        .expect("a failed-users figure in charlie's column");
    assert_eq!(failed, Color::Red);
    assert_eq!(value_color(buf, "┃users held"), Color::Green);

    let mut app = one_team();
    app.set_view(View::Run);
    let terminal = draw(&app, 120, 40);
    let buf = terminal.backend().buffer();
    assert_eq!(value_color(buf, "│connected"), Color::Green);
    assert_eq!(value_color(buf, "│failed users"), Color::Red);
    assert_eq!(
        value_color(buf, "│deliveries missing"),
        Color::Green,
        "zero is good"
    );

    // A generator that may be the bottleneck says so in white on red.
    let mut app = App::new("t");
    let mut snapshot = fixture::snapshot(&[ALPHA], 40);
    snapshot.generator.bottleneck = true;
    app.ingest(snapshot);
    let terminal = draw(&app, 120, 40);
    let buf = terminal.backend().buffer();
    let (x, y) = find(buf, "MAY BE THE BOTTLENECK");
    assert_eq!(buf[(x, y)].bg, Color::Red);
}

#[test]
fn drawing_at_any_size_never_panics() {
    let mut apps = vec![
        App::new("empty"),
        one_team(),
        three_teams(),
        in_bracket(),
        in_double_elimination(),
    ];
    let mut overlays = three_teams();
    overlays.set_help(true);
    overlays.set_confirm_stop(true);
    apps.push(overlays);
    let mut eight = fixture::app(
        "eight teams",
        &[ALPHA, BRAVO, CHARLIE, ALPHA, BRAVO, CHARLIE, ALPHA, BRAVO],
        45,
    );
    eight.ingest_bracket(fixture::bracket());
    apps.push(eight);
    let mut odd = App::new("odd");
    odd.ingest(Snapshot {
        levels: 0,
        teams: vec![Default::default()],
        ..Snapshot::default()
    });
    apps.push(odd);
    let widths = [
        0, 1, 2, 3, 5, 8, 13, 21, 30, 40, 55, 79, 80, 99, 100, 119, 120, 200,
    ];
    let heights = [0, 1, 2, 3, 4, 5, 8, 10, 13, 17, 20, 24, 30, 33, 34, 40, 60];
    for app in &mut apps {
        for view in View::ALL {
            app.set_view(view);
            for w in widths {
                for h in heights {
                    draw(app, w, h);
                }
            }
        }
    }
}
