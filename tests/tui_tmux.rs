//! The live scoreboard on a real terminal: tmux runs it, `capture-pane` reads the screen.
//!
//! - `scoreboard_shows_a_live_run_and_q_stops_it` runs `scripts/tui-smoke` (the same check a person
//!   can run by hand) with the built binary against the npm socket.io server on loopback.
//! - `scoreboard_shows_a_live_match_side_by_side_and_q_stops_it` does the same with `--match`: two
//!   teams side by side with the live leader, then `q q` leaves a void match on disk.
//! - `a_panic_in_the_scoreboard_gives_the_terminal_back` makes the scoreboard panic mid-draw (a
//!   leader rule that panics) inside a tmux pane and checks the terminal is restored *before* the
//!   panic message prints: the message is readable on the main screen and the tty is not raw.
//!
//! tmux is required: scripts/test installs it. Without it these tests fail and say so.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{NodeServer, repo};

fn require_tmux() {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "tmux is missing: these tests drive the scoreboard in a real terminal. \
         Run scripts/test (it installs tmux) or `apt-get install tmux`."
    );
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn scoreboard_shows_a_live_run_and_q_stops_it() {
    require_tmux();
    let server = NodeServer::start(&[]);
    let out = Command::new("bash")
        .arg(repo().join("scripts/tui-smoke"))
        .arg(env!("CARGO_BIN_EXE_stampede"))
        .arg(&server.url)
        .current_dir(repo())
        .output()
        .expect("bash runs scripts/tui-smoke");
    let report = text(&out);
    assert!(out.status.success(), "scripts/tui-smoke failed:\n{report}");
    assert!(report.contains("tui-smoke: ok"), "{report}");
}

#[test]
fn scoreboard_shows_a_live_match_side_by_side_and_q_stops_it() {
    require_tmux();
    let server = NodeServer::start(&[]);
    let out = Command::new("bash")
        .arg(repo().join("scripts/tui-smoke"))
        .arg("--match")
        .arg(env!("CARGO_BIN_EXE_stampede"))
        .arg(&server.url)
        .current_dir(repo())
        .output()
        .expect("bash runs scripts/tui-smoke");
    let report = text(&out);
    assert!(
        out.status.success(),
        "scripts/tui-smoke --match failed:\n{report}"
    );
    assert!(report.contains("tui-smoke: ok (match"), "{report}");
}

/// Set in the pane that runs the panicking scoreboard (this same test binary, re-run).
const CHILD: &str = "STAMPEDE_TUI_PANIC_CHILD";
/// What the panicking leader rule says.
const PANIC_MESSAGE: &str = "a leader rule with a bug";

/// A tmux server of our own (private socket), killed on drop with everything in it.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// A 120x40 session `t` running `command`, on a private socket named after `name`.
    fn start(name: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("{name}-{}", std::process::id()),
        };
        let out = Command::new("tmux")
            .args(["-L", &tmux.socket, "-f", "/dev/null"])
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "120",
                "-y",
                "40",
                command,
            ])
            .output()
            .expect("tmux runs");
        assert!(out.status.success(), "tmux new-session: {}", text(&out));
        tmux
    }

    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }

    fn alternate_on(&self) -> String {
        let out = self.cmd(&["display-message", "-p", "-t", "t", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // kill-server leaves the socket file behind; remove it too.
        let out = self.cmd(&["display-message", "-p", "#{socket_path}"]);
        let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let _ = self.cmd(&["kill-server"]);
        if !path.is_empty() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn wait_for(path: &Path, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn a_panic_in_the_scoreboard_gives_the_terminal_back() {
    if std::env::var_os(CHILD).is_some() {
        panicking_scoreboard();
        return;
    }
    require_tmux();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tui-panic-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let exe = std::env::current_exe().expect("the test binary");
    // The pane re-runs this test as the child, then records how it left the terminal (the exit
    // file last: it is what the test waits for) and stays open so the screen can be read.
    let script = dir.join("pane.sh");
    std::fs::write(
        &script,
        format!(
            "{CHILD}=1 RUST_BACKTRACE=0 '{exe}' --exact a_panic_in_the_scoreboard_gives_the_terminal_back \
             --nocapture --test-threads 1\n\
             code=$?\n\
             stty -a > '{dir}/stty'\n\
             echo $code > '{dir}/exit.tmp' && mv '{dir}/exit.tmp' '{dir}/exit'\n\
             exec sleep 600\n",
            exe = exe.display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    let tmux = Tmux::start("tui-panic", &format!("bash '{}'", script.display()));
    assert!(
        wait_for(&dir.join("exit"), Duration::from_secs(30)),
        "the panicking scoreboard did not end; screen:\n{}",
        tmux.screen()
    );
    // Give tmux a moment to process the last output.
    std::thread::sleep(Duration::from_millis(200));
    let screen = tmux.screen();
    let code = std::fs::read_to_string(dir.join("exit")).unwrap();
    assert_eq!(
        code.trim(),
        "101",
        "the child test should fail by panicking:\n{screen}"
    );
    assert!(
        screen.contains(PANIC_MESSAGE),
        "the panic message must print after the terminal is restored (else it is lost with the \
         alternate screen):\n{screen}"
    );
    assert!(
        !screen.contains("STAMPEDE"),
        "the scoreboard must not be left on screen:\n{screen}"
    );
    assert_eq!(tmux.alternate_on(), "0", "still on the alternate screen");
    let stty = std::fs::read_to_string(dir.join("stty")).unwrap();
    let words: Vec<&str> = stty.split_whitespace().collect();
    assert!(
        words.contains(&"icanon") && words.contains(&"echo"),
        "the terminal was left in raw mode: {stty}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child: a two-team match (so the match view asks the leader rule) with a rule that panics.
fn panicking_scoreboard() {
    use stampede::metrics::Snapshot;
    use stampede::metrics::snapshot::TeamSnapshot;
    use stampede::tui::{self, TuiOptions};
    use tokio::sync::watch;
    use tokio_util::sync::CancellationToken;

    let team = |name: &str| TeamSnapshot {
        name: name.into(),
        ..TeamSnapshot::default()
    };
    let (_tx, rx) = watch::channel(Snapshot {
        levels: 3,
        teams: vec![team("alpha"), team("bravo")],
        ..Snapshot::default()
    });
    let mut options = TuiOptions::new("panic test");
    options.ranker = Arc::new(|_| panic!("{PANIC_MESSAGE}"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(tui::run(rx, CancellationToken::new(), options));
    // Not reached: the first frame panics.
    panic!("the scoreboard returned {result:?} instead of panicking");
}
