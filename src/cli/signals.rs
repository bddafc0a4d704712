//! Stopping a command from outside. Ctrl-C (SIGINT), SIGTERM (`timeout`, `docker stop`,
//! Kubernetes) and SIGHUP (the terminal went away) all mean the same: the first one stops the run in
//! order (the load stops, what is awaited is judged, every result file is written, marked partial
//! with the signal's name); the next one cuts the wait short (what was still awaited is reported as
//! unjudged) and the files are still written. Later ones only say that the results are being written.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::engine::StopControl;

/// Listens for the stop signals until aborted: the first cancels `interrupt` (after recording its
/// name as the reason and printing `first`), the second cancels `stop.cut`. When something else
/// (the scoreboard's `q`) has already interrupted the run, the first signal counts as the second.
pub fn listen(
    interrupt: CancellationToken,
    stop: StopControl,
    first: &'static str,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut signals = match Signals::new() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("cannot listen for stop signals ({e}); Ctrl-C will end the process");
                return;
            }
        };
        loop {
            let Some(name) = signals.next().await else {
                return;
            };
            if !interrupt.is_cancelled() {
                stop.set_reason(name);
                eprintln!("\n{name}: {first}");
                interrupt.cancel();
            } else if !stop.cut.is_cancelled() {
                eprintln!(
                    "\n{name} again: stopping at once; what is still awaited is reported as \
                     unjudged, and every result file is still written…"
                );
                stop.cut.cancel();
            } else {
                eprintln!("\n{name}: already stopping, writing the results…");
            }
        }
    })
}

/// The stop signals this platform has, as one stream of names.
struct Signals {
    #[cfg(unix)]
    streams: [(tokio::signal::unix::Signal, &'static str); 3],
}

impl Signals {
    #[cfg(unix)]
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            streams: [
                (signal(SignalKind::interrupt())?, "Ctrl-C"),
                (signal(SignalKind::terminate())?, "SIGTERM"),
                (signal(SignalKind::hangup())?, "SIGHUP"),
            ],
        })
    }

    #[cfg(not(unix))]
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {})
    }

    /// The next signal's name; `None` when no more can arrive.
    #[cfg(unix)]
    async fn next(&mut self) -> Option<&'static str> {
        let [(int, a), (term, b), (hup, c)] = &mut self.streams;
        tokio::select! {
            s = int.recv() => s.map(|()| *a),
            s = term.recv() => s.map(|()| *b),
            s = hup.recv() => s.map(|()| *c),
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Option<&'static str> {
        tokio::signal::ctrl_c().await.ok().map(|()| "Ctrl-C")
    }
}
