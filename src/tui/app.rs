//! Scoreboard state: which view is up, whether the display is frozen, the overlays, the selected team,
//! and the figures on show. It owns no terminal and no engine handle: [`event`](super::event) changes
//! it, [`ui`](super::ui) draws it, and the loop in [`terminal`](super::terminal) feeds it snapshots.

use std::collections::VecDeque;

use super::leader::{Ranker, default_ranker};
use crate::metrics::snapshot::SNAPSHOT_HISTORY;
use crate::metrics::{Op, Snapshot};
use crate::view::bracket::BracketView;

/// The three views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// One team in detail (the selected one in a match).
    Run,
    /// The teams of a match side by side, with the live leader.
    Match,
    /// The bracket tree and standings.
    Bracket,
}

impl View {
    /// Every view, in key order (`1`, `2`, `3`).
    pub const ALL: [View; 3] = [View::Run, View::Match, View::Bracket];

    /// Its name on the tab bar.
    pub fn name(self) -> &'static str {
        match self {
            View::Run => "Run",
            View::Match => "Match",
            View::Bracket => "Bracket",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    /// The next view, wrapping around.
    pub fn next(self) -> View {
        View::ALL[(self.index() + 1) % View::ALL.len()]
    }

    /// The previous view, wrapping around.
    pub fn previous(self) -> View {
        View::ALL[(self.index() + View::ALL.len() - 1) % View::ALL.len()]
    }
}

/// Per-second p99 of each operation of one team, built up from the snapshots as they arrive (the
/// snapshot carries only the latest second per operation; its timeline has no per-step columns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepTrend {
    /// `t_secs` of the last timeline row recorded.
    last_t: Option<f64>,
    /// Seconds recorded so far (capped at [`SNAPSHOT_HISTORY`]); every series has this length.
    len: usize,
    /// One series per operation seen, oldest second first; `None` for a second without samples.
    series: Vec<(Op, VecDeque<Option<f64>>)>,
}

impl StepTrend {
    /// The p99 series of `op`, oldest first; empty if the operation has not run.
    pub fn p99(&self, op: Op) -> Vec<Option<f64>> {
        self.series
            .iter()
            .find(|(o, _)| *o == op)
            .map(|(_, s)| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Records the team's latest second if it is new.
    fn observe(&mut self, team: &crate::metrics::snapshot::TeamSnapshot) {
        let Some(t) = team.history.last().map(|r| r.t_secs) else {
            return;
        };
        // Seconds close about once a second; a gap means views missed some (e.g. a slow frame), which
        // are kept as gaps so the series stays aligned with time.
        let missed = match self.last_t {
            Some(last) if t <= last + 1e-9 => return,
            Some(last) => ((t - last).round() as usize).saturating_sub(1),
            None => 0,
        };
        self.last_t = Some(t);
        for _ in 0..missed.min(SNAPSHOT_HISTORY) {
            self.push(|_| None);
        }
        for stat in &team.ops {
            if !self.series.iter().any(|(op, _)| *op == stat.op) {
                let gaps = VecDeque::from(vec![None; self.len]);
                self.series.push((stat.op, gaps));
            }
        }
        self.push(|op| {
            team.ops
                .iter()
                .find(|s| s.op == op && s.recent.count > 0)
                .map(|s| s.recent.p99_ms)
        });
    }

    fn push(&mut self, value: impl Fn(Op) -> Option<f64>) {
        for (op, series) in &mut self.series {
            series.push_back(value(*op));
            if series.len() > SNAPSHOT_HISTORY {
                series.pop_front();
            }
        }
        self.len = (self.len + 1).min(SNAPSHOT_HISTORY);
    }
}

/// Everything one frame draws from: the latest snapshot, the per-step trends, the bracket.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Board {
    /// The engine's latest snapshot.
    pub snapshot: Snapshot,
    /// One trend per team, in snapshot order.
    pub steps: Vec<StepTrend>,
    /// The bracket, when a bracket is being played.
    pub bracket: Option<BracketView>,
}

/// The scoreboard's state.
pub struct App {
    /// What is being run, e.g. the scenario name; shown in the title bar.
    title: String,
    view: View,
    /// False until the user picks a view; until then the view follows the number of teams.
    view_chosen: bool,
    paused: bool,
    help: bool,
    confirm_stop: bool,
    stopping: bool,
    selected: usize,
    /// Always up to date, paused or not.
    live: Board,
    /// What the display shows while paused.
    frozen: Option<Board>,
    ranker: Ranker,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("title", &self.title)
            .field("view", &self.view)
            .field("paused", &self.paused)
            .field("help", &self.help)
            .field("confirm_stop", &self.confirm_stop)
            .field("stopping", &self.stopping)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl App {
    /// A scoreboard titled `title`, on the run view, waiting for its first snapshot.
    pub fn new(title: impl Into<String>) -> App {
        App {
            title: title.into(),
            view: View::Run,
            view_chosen: false,
            paused: false,
            help: false,
            confirm_stop: false,
            stopping: false,
            selected: 0,
            live: Board::default(),
            frozen: None,
            ranker: default_ranker(),
        }
    }

    /// Replaces the live-leader rule (see [`leader`](super::leader)).
    pub fn with_ranker(mut self, ranker: Ranker) -> App {
        self.ranker = ranker;
        self
    }

    /// Takes in a new snapshot. The display changes only when not paused.
    pub fn ingest(&mut self, snapshot: Snapshot) {
        // Other teams (the next match of a bracket, the next team of a sequential match): their
        // trends start afresh, and their clock from zero.
        let same_teams = self.live.snapshot.teams.len() == snapshot.teams.len()
            && self
                .live
                .snapshot
                .teams
                .iter()
                .zip(&snapshot.teams)
                .all(|(a, b)| a.name == b.name);
        if !same_teams {
            self.live.steps.clear();
        }
        self.live
            .steps
            .resize_with(snapshot.teams.len(), Default::default);
        for (trend, team) in self.live.steps.iter_mut().zip(&snapshot.teams) {
            trend.observe(team);
        }
        self.live.snapshot = snapshot;
        let teams = self.live.snapshot.teams.len();
        if !self.view_chosen && self.live.bracket.is_none() {
            self.view = if teams > 1 { View::Match } else { View::Run };
        }
        self.selected = self.selected.min(teams.saturating_sub(1));
    }

    /// Takes in a new state of the bracket.
    pub fn ingest_bracket(&mut self, bracket: BracketView) {
        if self.live.bracket.is_none() && !self.view_chosen {
            // A bracket is what the audience came for; the user can switch to the match.
            self.view = View::Bracket;
        }
        self.live.bracket = Some(bracket);
    }

    /// The snapshot feed closed: nothing more will come, so the live board counts as finished.
    pub fn feed_closed(&mut self) {
        self.live.snapshot.done = true;
    }

    /// True when the scoreboard has shown the end and may close: the last snapshot arrived (and the
    /// bracket, if any, is finished) and the display is not frozen on something older.
    pub fn finished(&self) -> bool {
        !self.paused
            && self.live.snapshot.done
            && self.live.bracket.as_ref().is_none_or(|b| b.finished)
    }

    /// The run has ended (its last snapshot arrived), whatever the display shows.
    pub fn run_over(&self) -> bool {
        self.live.snapshot.done
    }

    /// What the display shows: the frozen board while paused, else the live one.
    pub fn board(&self) -> &Board {
        self.frozen.as_ref().unwrap_or(&self.live)
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view
    }

    /// Switches to `view`.
    pub fn set_view(&mut self, view: View) {
        self.view = view;
        self.view_chosen = true;
    }

    /// True while the display is frozen.
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Freezes or unfreezes the display. The engine keeps running and the live board keeps up.
    pub fn toggle_pause(&mut self) {
        self.paused = !self.paused;
        self.frozen = self.paused.then(|| self.live.clone());
    }

    /// True while the help overlay is up.
    pub fn help(&self) -> bool {
        self.help
    }

    /// Shows or hides the help overlay.
    pub fn set_help(&mut self, on: bool) {
        self.help = on;
    }

    /// True while the "stop the run?" question is up.
    pub fn confirm_stop(&self) -> bool {
        self.confirm_stop
    }

    /// Asks (or stops asking) whether to stop the run.
    pub fn set_confirm_stop(&mut self, on: bool) {
        self.confirm_stop = on;
    }

    /// True once the user asked the run to stop.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Records that the run was asked to stop; the caller cancels it.
    pub fn mark_stopping(&mut self) {
        self.stopping = true;
        self.confirm_stop = false;
    }

    /// Index of the selected team (the run view's team in a match).
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Selects the next (`+1`) or previous (`-1`) team, wrapping around.
    pub fn select_step(&mut self, step: isize) {
        let n = self.board().snapshot.teams.len();
        if n > 0 {
            self.selected = (self.selected as isize + step).rem_euclid(n as isize) as usize;
        }
    }

    /// The live order of the teams shown.
    pub fn places(&self) -> Vec<super::leader::Place> {
        (self.ranker)(&self.board().snapshot.teams)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::summary::TimelineRow;
    use crate::metrics::snapshot::{OpStat, Percentiles, TeamSnapshot};

    fn team_at(t: f64, ops: &[(Op, f64)]) -> TeamSnapshot {
        TeamSnapshot {
            history: vec![TimelineRow {
                t_secs: t,
                ..TimelineRow::default()
            }],
            ops: ops
                .iter()
                .map(|&(op, p99)| OpStat {
                    op,
                    total: Percentiles::default(),
                    recent: Percentiles {
                        count: u64::from(p99 > 0.0),
                        p99_ms: p99,
                        ..Percentiles::default()
                    },
                })
                .collect(),
            ..TeamSnapshot::default()
        }
    }

    #[test]
    fn step_trends_record_each_second_once_and_keep_gaps() {
        let mut trend = StepTrend::default();
        trend.observe(&team_at(1.0, &[(Op::Register, 10.0)]));
        trend.observe(&team_at(1.0, &[(Op::Register, 99.0)])); // same second again: ignored
        trend.observe(&team_at(2.0, &[(Op::Register, 0.0), (Op::JoinRoom, 5.0)]));
        trend.observe(&team_at(4.0, &[(Op::Register, 30.0), (Op::JoinRoom, 6.0)]));
        assert_eq!(
            trend.p99(Op::Register),
            [Some(10.0), None, None, Some(30.0)]
        );
        assert_eq!(trend.p99(Op::JoinRoom), [None, Some(5.0), None, Some(6.0)]);
        assert!(trend.p99(Op::History).is_empty());
    }

    #[test]
    fn step_trends_are_bounded() {
        let mut trend = StepTrend::default();
        for s in 1..=(SNAPSHOT_HISTORY as u32 + 50) {
            trend.observe(&team_at(f64::from(s), &[(Op::Health, f64::from(s))]));
        }
        let series = trend.p99(Op::Health);
        assert_eq!(series.len(), SNAPSHOT_HISTORY);
        assert_eq!(
            series.last(),
            Some(&Some(f64::from(SNAPSHOT_HISTORY as u32 + 50)))
        );
    }

    #[test]
    fn other_teams_start_their_trends_afresh() {
        let mut app = App::new("t");
        let named = |name: &str, t: f64| {
            let mut team = team_at(t, &[(Op::Register, t)]);
            team.name = name.into();
            Snapshot {
                teams: vec![team],
                ..Snapshot::default()
            }
        };
        app.ingest(named("alpha", 5.0));
        app.ingest(named("alpha", 6.0));
        assert_eq!(app.board().steps[0].p99(Op::Register).len(), 2);
        // The next run of a sequential match: bravo, its clock back at 1 s.
        app.ingest(named("bravo", 1.0));
        assert_eq!(app.board().steps[0].p99(Op::Register), [Some(1.0)]);
    }

    #[test]
    fn pause_freezes_the_display_but_not_the_feed() {
        let mut app = App::new("t");
        let first = Snapshot {
            level: 1,
            ..Snapshot::default()
        };
        app.ingest(first.clone());
        app.toggle_pause();
        app.ingest(Snapshot {
            level: 2,
            done: true,
            ..Snapshot::default()
        });
        assert_eq!(app.board().snapshot.level, 1);
        assert!(app.run_over());
        assert!(
            !app.finished(),
            "a frozen display has not shown the end yet"
        );
        app.toggle_pause();
        assert_eq!(app.board().snapshot.level, 2);
        assert!(app.finished());
    }

    #[test]
    fn the_view_follows_the_teams_until_chosen() {
        let mut app = App::new("t");
        let teams = |n| Snapshot {
            teams: vec![TeamSnapshot::default(); n],
            ..Snapshot::default()
        };
        app.ingest(teams(1));
        assert_eq!(app.view(), View::Run);
        app.ingest(teams(3));
        assert_eq!(app.view(), View::Match);
        app.set_view(View::Run);
        app.ingest(teams(3));
        assert_eq!(app.view(), View::Run);
    }

    #[test]
    fn a_bracket_waits_for_its_end() {
        let mut app = App::new("t");
        app.ingest_bracket(BracketView::default());
        assert_eq!(app.view(), View::Bracket);
        app.ingest(Snapshot {
            done: true,
            ..Snapshot::default()
        });
        assert!(!app.finished());
        app.ingest_bracket(BracketView {
            finished: true,
            ..BracketView::default()
        });
        assert!(app.finished());
    }

    #[test]
    fn selection_wraps_and_survives_fewer_teams() {
        let mut app = App::new("t");
        app.ingest(Snapshot {
            teams: vec![TeamSnapshot::default(); 3],
            ..Snapshot::default()
        });
        app.select_step(-1);
        assert_eq!(app.selected(), 2);
        app.select_step(1);
        assert_eq!(app.selected(), 0);
        app.select_step(1);
        app.select_step(1);
        app.ingest(Snapshot {
            teams: vec![TeamSnapshot::default(); 1],
            ..Snapshot::default()
        });
        assert_eq!(app.selected(), 0);
    }
}
