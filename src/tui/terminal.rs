//! The scoreboard's loop and its hold on the terminal.
//!
//! [`run`] enters the alternate screen in raw mode, then waits on two things at once: key events and a
//! frame clock. On each frame it takes the latest snapshot from the engine's `watch` channel if a new
//! one arrived (a non-blocking read of one slot: the engine never waits for the view) and redraws when
//! something changed, so drawing is bounded by [`FRAME`] whatever the engine publishes. Keys go
//! through [`handle_key`]; "stop" cancels the run's token, and the loop keeps drawing until the
//! engine's last snapshot arrives, so the results are written while the user watches.
//!
//! The terminal is restored on every way out: [`TerminalGuard`] restores it on drop (normal return,
//! `?`, a panic unwinding through the loop), and a panic hook installed for the guard's lifetime
//! restores it *before* the panic message prints, from whatever thread panicked.

use std::io::{self, Stdout};
use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::StreamExt;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::app::App;
use super::event::{Action, handle_key};
use super::leader::{Ranker, default_ranker};
use crate::engine::StopControl;
use crate::metrics::Snapshot;
use crate::view::bracket::BracketView;

/// Time between frames: at most 10 a second. Snapshots come every 250 ms, so this shows each one
/// promptly without drawing more often than a person can read.
pub const FRAME: Duration = Duration::from_millis(100);

/// What the scoreboard shows besides the run's snapshots.
pub struct TuiOptions {
    /// Shown in the title bar: the scenario, or the match or bracket name.
    pub title: String,
    /// The bracket being played, if any. With a bracket the scoreboard stays up until it is
    /// finished (or its sender is dropped), across the matches' runs.
    pub bracket: Option<watch::Receiver<BracketView>>,
    /// The live-leader rule of the match view.
    pub ranker: Ranker,
    /// Told why the run stops (`q`, Ctrl-C) and cut when Ctrl-C is pressed again while it stops.
    pub stop: StopControl,
}

impl TuiOptions {
    /// A run or match titled `title`, no bracket, the default leader rule.
    pub fn new(title: impl Into<String>) -> TuiOptions {
        TuiOptions {
            title: title.into(),
            bracket: None,
            ranker: default_ranker(),
            stop: StopControl::default(),
        }
    }
}

impl std::fmt::Debug for TuiOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TuiOptions")
            .field("title", &self.title)
            .field("bracket", &self.bracket.is_some())
            .finish_non_exhaustive()
    }
}

/// Shows the scoreboard until the run is over and its end has been shown, or the user leaves.
///
/// `q` (confirmed) or Ctrl-C cancel `interrupt`, the run's own token: the engine stops the load, waits
/// for what other members still await, and the results are written, marked partial, exactly as after
/// a Ctrl-C without the scoreboard. Ctrl-C pressed again while it stops cuts that wait short
/// (`options.stop.cut`) and leaves the scoreboard. The
/// function returns once the last snapshot (`done`) has been drawn (or the snapshot channel closed),
/// with the terminal back to normal, so the caller can print the summary. While the display is
/// paused it waits for the user to resume or leave.
///
/// Errors only when the terminal cannot be set up or written to; the run is unaffected by them.
pub async fn run(
    mut snapshots: watch::Receiver<Snapshot>,
    interrupt: CancellationToken,
    options: TuiOptions,
) -> io::Result<()> {
    let stop = options.stop;
    let mut app = App::new(options.title).with_ranker(options.ranker);
    let mut bracket = options.bracket;
    // What is there already: a view may start after the first snapshots.
    app.ingest(snapshots.borrow_and_update().clone());
    if let Some(rx) = &mut bracket {
        app.ingest_bracket(rx.borrow_and_update().clone());
    }

    let mut terminal = TerminalGuard::enter()?;
    let mut keys = EventStream::new();
    let mut keys_open = true;
    let mut frames = tokio::time::interval(FRAME);
    frames.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut snapshots_open = true;
    let mut dirty = true;
    loop {
        tokio::select! {
            _ = frames.tick() => {
                if terminal.lost() {
                    // Another thread panicked and its hook gave the terminal back; drawing now
                    // would scribble over the panic message.
                    break;
                }
                if snapshots_open {
                    match snapshots.has_changed() {
                        Ok(true) => {
                            app.ingest(snapshots.borrow_and_update().clone());
                            dirty = true;
                        }
                        Ok(false) => {}
                        Err(_) => {
                            snapshots_open = false;
                            app.feed_closed();
                            dirty = true;
                        }
                    }
                }
                if let Some(rx) = &mut bracket {
                    match rx.has_changed() {
                        Ok(true) => {
                            app.ingest_bracket(rx.borrow_and_update().clone());
                            dirty = true;
                        }
                        Ok(false) => {}
                        Err(_) => {
                            // Nobody will update the bracket again: it is as finished as it gets.
                            let mut last = rx.borrow().clone();
                            last.finished = true;
                            app.ingest_bracket(last);
                            bracket = None;
                            dirty = true;
                        }
                    }
                }
                if dirty {
                    terminal.draw(&app)?;
                    dirty = false;
                }
                if app.finished() {
                    break;
                }
            }
            event = keys.next(), if keys_open => match event {
                Some(Ok(Event::Key(key))) => match handle_key(&mut app, key) {
                    Action::Nothing => {}
                    Action::Redraw => terminal.draw(&app)?,
                    Action::Cancel => {
                        stop.set_reason("stopped from the scoreboard");
                        interrupt.cancel();
                        terminal.draw(&app)?;
                    }
                    Action::Leave => {
                        if !app.run_over() {
                            stop.cut.cancel();
                        }
                        break;
                    }
                },
                // ratatui resizes its buffers on the next draw.
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                // No more input (stdin closed): keep showing the run; the engine ends it.
                None => keys_open = false,
            },
        }
    }
    Ok(())
}

/// The terminal in raw mode on the alternate screen, given back on drop and on any panic.
pub struct TerminalGuard {
    terminal: Terminal<CrosstermBackend<Stdout>>,
    /// Shared with the panic hook.
    state: Arc<HoldState>,
    /// The hook that was installed before ours, put back on drop.
    previous_hook: Arc<PanicHook>,
}

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// What the guard and its panic hook share.
#[derive(Debug, Default)]
struct HoldState {
    /// True while the terminal is ours (raw mode on); whoever flips it back restores the terminal,
    /// so restoring happens exactly once however many ways out fire.
    held: AtomicBool,
    /// Set when a panic hook gave the terminal back.
    lost: AtomicBool,
}

impl TerminalGuard {
    /// Installs the panic hook, then enters raw mode and the alternate screen. On error, whatever was
    /// already changed is undone (the half-built guard drops).
    pub fn enter() -> io::Result<TerminalGuard> {
        let state = Arc::new(HoldState::default());
        let previous_hook: Arc<PanicHook> = Arc::new(std::panic::take_hook());
        std::panic::set_hook(Box::new({
            let previous = Arc::clone(&previous_hook);
            let state = Arc::clone(&state);
            move |info| {
                if restore(&state) {
                    state.lost.store(true, Ordering::SeqCst);
                }
                previous(info);
            }
        }));
        // Built before the terminal is touched, so any failure below runs the guard's drop.
        let mut guard = TerminalGuard {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
            state,
            previous_hook,
        };
        enable_raw_mode()?;
        guard.state.held.store(true, Ordering::SeqCst);
        execute!(io::stdout(), EnterAlternateScreen)?;
        guard.terminal.hide_cursor()?;
        guard.terminal.clear()?;
        Ok(guard)
    }

    /// True once a panic hook has given the terminal back.
    pub fn lost(&self) -> bool {
        self.state.lost.load(Ordering::SeqCst)
    }

    /// Draws one frame of `app`.
    pub fn draw(&mut self, app: &App) -> io::Result<()> {
        self.terminal
            .draw(|frame| frame.render_widget(app, frame.area()))
            .map(|_| ())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore(&self.state);
        // Setting a hook while panicking would abort; ours stays then, and it only restores the
        // terminal (a no-op from now on) before calling the previous one.
        if !std::thread::panicking() {
            let previous = Arc::clone(&self.previous_hook);
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

/// Leaves the alternate screen, shows the cursor, and leaves raw mode, if the terminal is still held.
/// Returns whether it did. Errors are ignored: there is nobody left to tell.
fn restore(state: &HoldState) -> bool {
    if !state.held.swap(false, Ordering::SeqCst) {
        return false;
    }
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
    let _ = disable_raw_mode();
    true
}
