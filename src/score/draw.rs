//! A bracket as plain text: the tree with finished results and the match being played, then the
//! standings.
//!
//! Elimination brackets are drawn as trees (one per part of a double-elimination bracket: winners,
//! losers, grand final), each match joining its two inputs with box-drawing lines; a round robin is
//! drawn round by round. Only presentation lives here; the state is [`Bracket`]'s.

use std::fmt::Write as _;

use super::bracket::{Bracket, Format, MatchId, Outcome, Slot, Source, Stage, State};
use super::words;

/// Lines of a drawn subtree and the row its result comes out at.
struct Block {
    lines: Vec<String>,
    out: usize,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

impl Block {
    fn leaf(text: String) -> Block {
        Block {
            lines: vec![text],
            out: 0,
        }
    }

    /// `a` above `b` with a blank row between, joined at the middle row:
    ///
    /// ```text
    /// (1) alpha ──┐
    ///             ├─ alpha  R1-1 2,400–1,900
    /// (8) hotel ──┘
    /// ```
    fn join(a: Block, b: Block, label: String) -> Block {
        let w = a
            .lines
            .iter()
            .chain(&b.lines)
            .map(|l| width(l))
            .max()
            .unwrap_or(0);
        let a_out = a.out;
        let b_out = a.lines.len() + 1 + b.out;
        let mid = (a_out + b_out) / 2;
        let rows = a
            .lines
            .into_iter()
            .chain(std::iter::once(String::new()))
            .chain(b.lines);
        let lines = rows
            .enumerate()
            .map(|(i, text)| {
                let pad = w - width(&text);
                let mut line = if i == a_out || i == b_out {
                    format!("{text} {}", "─".repeat(pad + 1))
                } else {
                    format!("{text}{}", " ".repeat(pad + 2))
                };
                line.push(match i {
                    _ if i == a_out => '┐',
                    _ if i == b_out => '┘',
                    _ if i == mid => '├',
                    _ if i > a_out && i < b_out => '│',
                    _ => ' ',
                });
                if i == mid {
                    line.push_str("─ ");
                    line.push_str(&label);
                }
                line.trim_end().to_string()
            })
            .collect();
        Block { lines, out: mid }
    }
}

/// Which tree a stage is drawn in.
fn part(stage: Stage) -> u8 {
    match stage {
        Stage::Round(_) | Stage::Winners(_) => 0,
        Stage::Losers(_) => 1,
        Stage::GrandFinal | Stage::Reset => 2,
        Stage::RoundRobin(_) => 3,
    }
}

struct Ctx<'a> {
    bracket: &'a Bracket,
    states: Vec<State>,
    playing: Option<&'a MatchId>,
}

impl Ctx<'_> {
    fn index(&self, id: &MatchId) -> usize {
        self.bracket
            .matches()
            .iter()
            .position(|m| &m.id == id)
            .expect("sources refer to matches of the bracket")
    }

    fn team(&self, slot: Slot) -> Option<&str> {
        match slot {
            Slot::Team(t) => Some(self.bracket.teams()[t].as_str()),
            _ => None,
        }
    }

    fn seeded(&self, t: usize) -> String {
        format!("({}) {}", t + 1, self.bracket.teams()[t])
    }

    fn leaf(&self, src: &Source) -> String {
        let decided = |id: &MatchId| match self.states[self.index(id)] {
            State::Decided { winner, loser, .. } => Some((winner, loser)),
            _ => None,
        };
        match src {
            Source::Seed(s) => self.seeded(*s as usize - 1),
            Source::Bye => "bye".to_string(),
            Source::WinnerOf(id) => match decided(id).map(|(w, _)| w) {
                Some(Slot::Team(t)) => format!("{} (won {id})", self.seeded(t)),
                Some(_) => "bye".to_string(),
                None => format!("winner of {id}"),
            },
            Source::LoserOf(id) => match decided(id).map(|(_, l)| l) {
                Some(Slot::Team(t)) => format!("{} (lost {id})", self.seeded(t)),
                Some(_) => "bye".to_string(),
                None => format!("loser of {id}"),
            },
        }
    }

    /// What a match node says: its winner and score, or where it stands.
    fn label(&self, i: usize) -> String {
        let m = &self.bracket.matches()[i];
        // A round robin lists the match name in its own column.
        let id = if matches!(m.stage, Stage::RoundRobin(_)) {
            String::new()
        } else {
            format!("{} ", m.id)
        };
        let mut text = match self.states[i] {
            State::Decided {
                winner,
                loser,
                played: true,
            } => {
                let (w, l) = (
                    self.team(winner).unwrap_or_default(),
                    self.team(loser).unwrap_or_default(),
                );
                let users = |t: &str| {
                    m.result
                        .as_ref()
                        .and_then(|r| r.users_of(t))
                        .map_or("?".to_string(), |u| words::int(u64::from(u)))
                };
                let draw = matches!(m.result.as_ref().map(|r| &r.outcome), Some(Outcome::Draw));
                if draw {
                    format!("{w}  {id}draw {}–{}, better seed", users(w), users(l))
                } else {
                    format!("{w}  {id}{}–{}", users(w), users(l))
                }
            }
            State::Decided { winner, .. } => match self.team(winner) {
                Some(w) => format!("{w}  (bye)"),
                None => "—".to_string(),
            },
            State::Ready(..) if self.playing == Some(&m.id) => format!("▶ {id}playing"),
            State::Ready(..) => format!("{id}next"),
            State::Waiting => id.trim_end().to_string(),
            State::NotNeeded => format!("{id}not needed"),
        };
        if !m.voids.is_empty() {
            let _ = write!(text, "  (void ×{})", m.voids.len());
        }
        text
    }

    /// The subtree ending in match `i`, expanding inputs from the same part of the bracket.
    fn tree(&self, i: usize) -> Block {
        let m = &self.bracket.matches()[i];
        let [a, b] = &m.slots;
        let child = |src: &Source| match src {
            Source::WinnerOf(id)
                if part(self.bracket.matches()[self.index(id)].stage) == part(m.stage) =>
            {
                self.tree(self.index(id))
            }
            other => Block::leaf(self.leaf(other)),
        };
        Block::join(child(a), child(b), self.label(i))
    }
}

impl Bracket {
    /// The bracket drawn as text: a header, the tree(s) or rounds with every finished result and
    /// `playing` marked, then the standings.
    pub fn render_text(&self, playing: Option<&MatchId>) -> String {
        let ctx = Ctx {
            bracket: self,
            states: self.states(),
            playing,
        };
        let played = ctx
            .states
            .iter()
            .filter(|s| matches!(s, State::Decided { played: true, .. }))
            .count();
        let standings = self.standings();
        let mut out = format!(
            "{} · {} · {} played",
            self.format().title(),
            plural(self.teams().len(), "team", "teams"),
            plural(played, "match", "matches")
        );
        match (playing, &standings.champion) {
            (Some(id), _) => {
                let _ = write!(out, " · playing {id}");
            }
            (None, Some(c)) if standings.finished => {
                let _ = write!(out, " · champion: {c}");
            }
            _ if standings.finished => out.push_str(" · finished"),
            _ => {}
        }
        out.push('\n');
        let last_of = |p: u8| self.matches().iter().rposition(|m| part(m.stage) == p);
        match self.format() {
            Format::Single | Format::Double if self.matches().is_empty() => {
                let _ = writeln!(out, "\n{} advances unopposed", self.teams()[0]);
            }
            Format::Single => {
                out.push('\n');
                push_block(&mut out, ctx.tree(self.matches().len() - 1));
            }
            Format::Double => {
                for (p, title) in [(0, "Winners bracket"), (1, "Losers bracket")] {
                    if let Some(i) = last_of(p) {
                        let _ = writeln!(out, "\n{title}");
                        push_block(&mut out, ctx.tree(i));
                    }
                }
                let _ = writeln!(out, "\nGrand final");
                let n = self.matches().len();
                push_block(&mut out, ctx.tree(n - 2));
                let reset = &self.matches()[n - 1];
                let _ = writeln!(out, "{}: bracket reset, {}", reset.id, {
                    match ctx.states[n - 1] {
                        State::NotNeeded => {
                            "not needed (the winners-bracket champion won GF1)".to_string()
                        }
                        State::Waiting => {
                            "played only if the losers-bracket champion wins GF1".to_string()
                        }
                        _ => {
                            let label = ctx.label(n - 1);
                            let [a, b] = &reset.slots;
                            format!("{} vs {} → {label}", ctx.leaf(a), ctx.leaf(b))
                        }
                    }
                });
            }
            Format::RoundRobin => {
                let mut round = 0;
                for (i, m) in self.matches().iter().enumerate() {
                    if let Stage::RoundRobin(r) = m.stage
                        && r != round
                    {
                        round = r;
                        let _ = writeln!(out, "\nRound {r}");
                    }
                    let [a, b] = &m.slots;
                    let _ = writeln!(
                        out,
                        "  {:<7} {} vs {}  →  {}",
                        m.id.to_string(),
                        ctx.leaf(a),
                        ctx.leaf(b),
                        ctx.label(i)
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "\nStandings{}",
            if standings.finished { "" } else { " (so far)" }
        );
        let name_width = standings
            .rows
            .iter()
            .map(|r| width(&r.team) + r.seed.to_string().len() + 3)
            .max()
            .unwrap_or(0);
        for r in &standings.rows {
            let alive = r.eliminated_in.is_none() && standings.champion.as_deref() != Some(&r.team);
            // Teams still in an unfinished elimination bracket have no place yet.
            let place = if alive && !standings.finished && self.format() != Format::RoundRobin {
                "  ".to_string()
            } else {
                format!("{:>2}.", r.place)
            };
            let name = format!("{} ({})", r.team, r.seed);
            let _ = write!(
                out,
                "  {place:<3} {name}{}  W{} D{} L{}",
                " ".repeat(name_width - width(&name)),
                r.wins,
                r.draws,
                r.losses
            );
            if self.format() == Format::RoundRobin {
                let _ = write!(
                    out,
                    "  {:>2} pts  {} users",
                    r.points,
                    words::int(r.total_users)
                );
            } else if standings.champion.as_deref() == Some(r.team.as_str()) {
                out.push_str("  champion");
            } else if let Some(id) = &r.eliminated_in {
                let _ = write!(out, "  out in {id}");
            } else {
                out.push_str("  still in");
            }
            out.push('\n');
        }
        out
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn push_block(out: &mut String, block: Block) {
    for line in block.lines {
        out.push_str(&line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::bracket::tests::{names, won};

    fn play(b: &mut Bracket, id: &str, w: &str) {
        let r = won(b, id, w);
        b.record(&id.into(), r).unwrap();
    }

    /// Compares line by line, so that a failure shows the first differing line.
    fn same(actual: &str, expected: &str) {
        for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
            assert_eq!(a, e, "line {}:\n{actual}", i + 1);
        }
        assert_eq!(
            actual.lines().count(),
            expected.lines().count(),
            "\n{actual}"
        );
    }

    #[test]
    fn single_elimination_in_progress_marks_the_match_being_played() {
        let mut b = Bracket::new(Format::Single, names(4)).unwrap();
        play(&mut b, "R1-1", "alpha");
        same(
            &b.render_text(Some(&"R1-2".into())),
            "\
Single elimination · 4 teams · 1 match played · playing R1-2

(1) alpha ─┐
           ├─ alpha  R1-1 2,000–1,000 ─┐
(4) delta ─┘                           │
                                       ├─ R2-1
(2) bravo ───┐                         │
             ├─ ▶ R1-2 playing ────────┘
(3) charlie ─┘

Standings (so far)
      alpha (1)    W1 D0 L0  still in
      bravo (2)    W0 D0 L0  still in
      charlie (3)  W0 D0 L0  still in
   4. delta (4)    W0 D0 L1  out in R1-1
",
        );
        play(&mut b, "R1-2", "charlie");
        play(&mut b, "R2-1", "charlie");
        same(
            &b.render_text(None),
            "\
Single elimination · 4 teams · 3 matches played · champion: charlie

(1) alpha ─┐
           ├─ alpha  R1-1 2,000–1,000 ─────┐
(4) delta ─┘                               │
                                           ├─ charlie  R2-1 2,000–1,000
(2) bravo ───┐                             │
             ├─ charlie  R1-2 2,000–1,000 ─┘
(3) charlie ─┘

Standings
   1. charlie (3)  W2 D0 L0  champion
   2. alpha (1)    W1 D0 L1  out in R2-1
   3. bravo (2)    W0 D0 L1  out in R1-2
   3. delta (4)    W0 D0 L1  out in R1-1
",
        );
    }

    #[test]
    fn byes_are_drawn_as_such() {
        let b = Bracket::new(Format::Single, names(3)).unwrap();
        let text = b.render_text(None);
        assert!(
            text.contains("(1) alpha ─┐\n           ├─ alpha  (bye)"),
            "{text}"
        );
        assert!(text.contains("bye ───────┘"), "{text}");
        assert!(text.contains("├─ R1-2 next"), "{text}");
    }

    #[test]
    fn double_elimination_draws_three_trees_and_the_reset() {
        let mut b = Bracket::new(Format::Double, names(4)).unwrap();
        for (id, w) in [
            ("W1-1", "alpha"),
            ("W1-2", "charlie"),
            ("W2-1", "alpha"),
            ("L1-1", "bravo"),
            ("L2-1", "bravo"),
            ("GF1", "bravo"),
        ] {
            play(&mut b, id, w);
        }
        same(
            &b.render_text(Some(&"GF2".into())),
            "\
Double elimination · 4 teams · 6 matches played · playing GF2

Winners bracket
(1) alpha ─┐
           ├─ alpha  W1-1 2,000–1,000 ─────┐
(4) delta ─┘                               │
                                           ├─ alpha  W2-1 2,000–1,000
(2) bravo ───┐                             │
             ├─ charlie  W1-2 2,000–1,000 ─┘
(3) charlie ─┘

Losers bracket
(4) delta (lost W1-1) ─┐
                       ├─ bravo  L1-1 2,000–1,000 ─┐
(2) bravo (lost W1-2) ─┘                           ├─ bravo  L2-1 2,000–1,000
                                                   │
(3) charlie (lost W2-1) ───────────────────────────┘

Grand final
(1) alpha (won W2-1) ─┐
                      ├─ bravo  GF1 2,000–1,000
(2) bravo (won L2-1) ─┘
GF2: bracket reset, (2) bravo (won GF1) vs (1) alpha (lost GF1) → ▶ GF2 playing

Standings (so far)
      alpha (1)    W2 D0 L1  still in
      bravo (2)    W3 D0 L1  still in
   3. charlie (3)  W1 D0 L2  out in L2-1
   4. delta (4)    W0 D0 L2  out in L1-1
",
        );
    }

    #[test]
    fn round_robin_lists_rounds_and_shows_void_attempts() {
        let mut b = Bracket::new(Format::RoundRobin, names(3)).unwrap();
        let void = crate::score::MatchResult {
            outcome: crate::score::Outcome::Void,
            ..won(&b, "RR1-1", "bravo")
        };
        b.record(&"RR1-1".into(), void).unwrap();
        play(&mut b, "RR2-1", "alpha");
        same(
            &b.render_text(Some(&"RR1-1".into())),
            "\
Round robin · 3 teams · 1 match played · playing RR1-1

Round 1
  RR1-1   (2) bravo vs (3) charlie  →  ▶ playing  (void ×1)

Round 2
  RR2-1   (1) alpha vs (3) charlie  →  alpha  2,000–1,000

Round 3
  RR3-1   (1) alpha vs (2) bravo  →  next

Standings (so far)
   1. alpha (1)    W1 D0 L0   2 pts  2,000 users
   2. charlie (3)  W0 D0 L1   0 pts  1,000 users
   3. bravo (2)    W0 D0 L0   0 pts  0 users
",
        );
    }

    #[test]
    fn a_lone_team_advances_unopposed() {
        let b = Bracket::new(Format::Double, names(1)).unwrap();
        let text = b.render_text(None);
        assert!(
            text.starts_with("Double elimination · 1 team · 0 matches played · champion: alpha\n"),
            "{text}"
        );
        assert!(text.contains("alpha advances unopposed"), "{text}");
    }
}
