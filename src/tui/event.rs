//! Keys to actions. [`handle_key`] is pure: it changes the [`App`] and says what the loop must do, so
//! every key is tested without a terminal. The loop in [`terminal`](super::terminal) owns the side
//! effects (cancelling the run, closing the scoreboard).
//!
//! | key | effect |
//! | --- | --- |
//! | `1` `2` `3` | run, match, bracket view |
//! | Tab, Shift-Tab | next, previous view |
//! | ← → ↑ ↓ | select the previous/next team (the run view shows the selected one) |
//! | `p`, Space | pause the display (the run goes on) / resume |
//! | `?`, `h` | help overlay (Esc or the same key closes it) |
//! | `q`, Esc | ask "stop the run?"; a second `q` (or `y`, Enter) stops it, Esc/`n`/any other key keeps it running |
//! | Ctrl-C | stop the run at once; pressed again while stopping, leave the scoreboard |
//!
//! Stopping asks first because the scoreboard is on a projector during an event, where a stray `q`
//! would end a match; Ctrl-C is deliberate enough to act at once. Once the run is over, `q`, Esc or
//! Ctrl-C just close the scoreboard.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, View};

/// What the loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing changed.
    Nothing,
    /// The display changed: draw now rather than at the next frame.
    Redraw,
    /// Cancel the run through its cancellation token (results are still written, marked partial).
    Cancel,
    /// Close the scoreboard now (the run is over, or the user insists while it stops).
    Leave,
}

/// Applies one key to the app.
pub fn handle_key(app: &mut App, key: KeyEvent) -> Action {
    // Terminals that report releases and repeats (Windows, kitty protocol) must not toggle twice.
    if key.kind == KeyEventKind::Release {
        return Action::Nothing;
    }
    let ctrl_c =
        key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c'));
    if ctrl_c {
        return if app.run_over() || app.stopping() {
            Action::Leave
        } else {
            app.mark_stopping();
            Action::Cancel
        };
    }
    if app.confirm_stop() {
        return match key.code {
            KeyCode::Char('q' | 'Q' | 'y' | 'Y') | KeyCode::Enter => {
                app.mark_stopping();
                Action::Cancel
            }
            _ => {
                app.set_confirm_stop(false);
                Action::Redraw
            }
        };
    }
    match key.code {
        KeyCode::Esc if app.help() => {
            app.set_help(false);
            Action::Redraw
        }
        KeyCode::Char('q' | 'Q') | KeyCode::Esc => {
            if app.run_over() {
                Action::Leave
            } else if app.stopping() {
                Action::Nothing
            } else {
                app.set_confirm_stop(true);
                Action::Redraw
            }
        }
        KeyCode::Char('?' | 'h' | 'H') => {
            app.set_help(!app.help());
            Action::Redraw
        }
        KeyCode::Char('1') => view(app, View::Run),
        KeyCode::Char('2') => view(app, View::Match),
        KeyCode::Char('3') => view(app, View::Bracket),
        KeyCode::Tab => view(app, app.view().next()),
        KeyCode::BackTab => view(app, app.view().previous()),
        KeyCode::Char('p' | 'P' | ' ') => {
            app.toggle_pause();
            Action::Redraw
        }
        KeyCode::Left | KeyCode::Up => {
            app.select_step(-1);
            Action::Redraw
        }
        KeyCode::Right | KeyCode::Down => {
            app.select_step(1);
            Action::Redraw
        }
        _ => Action::Nothing,
    }
}

fn view(app: &mut App, view: View) -> Action {
    app.set_view(view);
    Action::Redraw
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyEventState;

    use super::*;
    use crate::metrics::Snapshot;
    use crate::metrics::snapshot::TeamSnapshot;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    fn ctrl_c() -> KeyEvent {
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)
    }

    /// An app in the middle of a three-team match.
    fn match_app() -> App {
        let mut app = App::new("test");
        app.ingest(Snapshot {
            teams: vec![TeamSnapshot::default(); 3],
            ..Snapshot::default()
        });
        app
    }

    #[test]
    fn number_keys_and_tab_switch_views() {
        let mut app = match_app();
        assert_eq!(app.view(), View::Match);
        assert_eq!(handle_key(&mut app, ch('1')), Action::Redraw);
        assert_eq!(app.view(), View::Run);
        handle_key(&mut app, ch('3'));
        assert_eq!(app.view(), View::Bracket);
        handle_key(&mut app, ch('2'));
        assert_eq!(app.view(), View::Match);
        handle_key(&mut app, key(KeyCode::Tab));
        assert_eq!(app.view(), View::Bracket);
        handle_key(&mut app, key(KeyCode::Tab));
        assert_eq!(app.view(), View::Run);
        handle_key(&mut app, key(KeyCode::BackTab));
        assert_eq!(app.view(), View::Bracket);
    }

    #[test]
    fn p_and_space_pause_and_resume() {
        let mut app = match_app();
        for k in [ch('p'), ch(' ')] {
            assert_eq!(handle_key(&mut app, k), Action::Redraw);
            assert!(app.paused());
            handle_key(&mut app, k);
            assert!(!app.paused());
        }
    }

    #[test]
    fn help_opens_with_question_mark_or_h_and_closes_with_esc() {
        let mut app = match_app();
        for k in [ch('?'), ch('h')] {
            handle_key(&mut app, k);
            assert!(app.help());
            handle_key(&mut app, k);
            assert!(!app.help());
        }
        handle_key(&mut app, ch('?'));
        assert_eq!(handle_key(&mut app, key(KeyCode::Esc)), Action::Redraw);
        assert!(!app.help());
        assert!(
            !app.confirm_stop(),
            "Esc closing help does not also ask to stop"
        );
    }

    #[test]
    fn arrows_select_teams() {
        let mut app = match_app();
        handle_key(&mut app, key(KeyCode::Right));
        assert_eq!(app.selected(), 1);
        handle_key(&mut app, key(KeyCode::Down));
        assert_eq!(app.selected(), 2);
        handle_key(&mut app, key(KeyCode::Right));
        assert_eq!(app.selected(), 0, "wraps");
        handle_key(&mut app, key(KeyCode::Left));
        assert_eq!(app.selected(), 2);
        handle_key(&mut app, key(KeyCode::Up));
        assert_eq!(app.selected(), 1);
    }

    #[test]
    fn q_asks_and_a_second_q_cancels() {
        let mut app = match_app();
        assert_eq!(handle_key(&mut app, ch('q')), Action::Redraw);
        assert!(app.confirm_stop());
        assert_eq!(handle_key(&mut app, ch('q')), Action::Cancel);
        assert!(app.stopping());
        assert!(!app.confirm_stop());
        // Already stopping: q does nothing more.
        assert_eq!(handle_key(&mut app, ch('q')), Action::Nothing);
    }

    #[test]
    fn the_stop_question_accepts_y_and_enter_and_anything_else_keeps_running() {
        for confirm in [ch('y'), key(KeyCode::Enter), ch('Q')] {
            let mut app = match_app();
            handle_key(&mut app, key(KeyCode::Esc));
            assert!(app.confirm_stop(), "Esc asks too");
            assert_eq!(handle_key(&mut app, confirm), Action::Cancel);
        }
        for keep in [key(KeyCode::Esc), ch('n'), ch('1'), ch(' ')] {
            let mut app = match_app();
            handle_key(&mut app, ch('q'));
            assert_eq!(handle_key(&mut app, keep), Action::Redraw);
            assert!(!app.confirm_stop());
            assert!(!app.stopping());
            assert_eq!(
                app.view(),
                View::Match,
                "the dismissing key does nothing else"
            );
            assert!(!app.paused());
        }
    }

    #[test]
    fn ctrl_c_cancels_at_once_and_leaves_when_pressed_again() {
        let mut app = match_app();
        assert_eq!(handle_key(&mut app, ctrl_c()), Action::Cancel);
        assert!(app.stopping());
        assert_eq!(handle_key(&mut app, ctrl_c()), Action::Leave);
        // Also during the stop question.
        let mut app = match_app();
        handle_key(&mut app, ch('q'));
        assert_eq!(handle_key(&mut app, ctrl_c()), Action::Cancel);
    }

    #[test]
    fn after_the_run_quitting_just_leaves() {
        for k in [ch('q'), key(KeyCode::Esc), ctrl_c()] {
            let mut app = match_app();
            app.toggle_pause();
            app.ingest(Snapshot {
                done: true,
                ..Snapshot::default()
            });
            assert_eq!(handle_key(&mut app, k), Action::Leave);
            assert!(!app.stopping(), "nothing to cancel");
        }
    }

    #[test]
    fn releases_and_unknown_keys_do_nothing() {
        let mut app = match_app();
        let mut release = ch('p');
        release.kind = KeyEventKind::Release;
        release.state = KeyEventState::NONE;
        assert_eq!(handle_key(&mut app, release), Action::Nothing);
        assert!(!app.paused());
        assert_eq!(handle_key(&mut app, ch('x')), Action::Nothing);
        assert_eq!(handle_key(&mut app, key(KeyCode::F(5))), Action::Nothing);
        // Plain 'c' is not Ctrl-C.
        assert_eq!(handle_key(&mut app, ch('c')), Action::Nothing);
        assert!(!app.stopping());
    }
}
