//! The command line: raw flags, their resolution into validated configs, the subcommands, and the
//! exit-code policy. It owns everything between `argv` and the engine, and nothing after: the engine
//! receives a [`RunConfig`](config::RunConfig), never a clap struct.
//!
//! # Layout
//! - [`args`]: clap structs, one per subcommand, built from shared pieces (`PlanArgs`, `OutputArgs`,
//!   `NetworkArgs`) so new subcommands reuse them.
//! - [`config`]: flag > `STAMPEDE_*` env > scenario file > default, into `RunConfig`, `DemoConfig`,
//!   `ValidateConfig`, `MatchConfig`, `BracketConfig`, `RescoreConfig`.
//! - [`commands`]: what `run`, `demo` and `validate` do with their config.
//! - [`contest`]: what `match`, `bracket` and `rescore` do with theirs.
//! - [`report`](mod@report): `stampede report DIR` (pages written again) and `stampede compare A B`.
//! - [`demo`]: `stampede demo`, a match of two embedded reference servers (or one run with `--single`);
//!   in a build without the `demo` feature, an error that says so.
//! - [`target`]: a server's base URL as given on the command line, checked.
//! - [`teams`]: `--team NAME=URL` flags and teams files.
//! - [`workers`]: `--workers N`: one run split over N local processes, their results merged.
//! - [`exit`]: [`Exit`](exit::Exit) codes and [`CliError`](exit::CliError).
//! - [`origin`]: whether a flag's value came from its `STAMPEDE_*` variable, for error messages.
//! - [`progress`]: the plain progress display used when the terminal scoreboard is off.
//! - [`metrics_listen`]: `--metrics-listen`, the live snapshots as Prometheus text over HTTP.
//! - [`signals`]: Ctrl-C, SIGTERM and SIGHUP: an orderly stop, then a stop at once.
//! - [`stdout`](mod@stdout): `out!`/`outln!`, printing that stops quietly when the reader has gone.

pub mod args;
pub mod commands;
pub mod config;
pub mod contest;
#[cfg(feature = "demo")]
pub mod demo;
pub mod exit;
pub mod metrics_listen;
pub mod origin;
pub mod progress;
pub mod report;
pub mod signals;
pub mod stdout;
pub mod target;
pub mod teams;
pub mod workers;

/// `stampede demo` in a build without the `demo` feature, which is what embeds the reference
/// server: the subcommand is hidden from `--help`, and running it says how to get it rather than
/// clap's bare "unrecognized subcommand".
#[cfg(not(feature = "demo"))]
pub mod demo {
    use super::config::DemoConfig;
    use super::exit::{CliError, Exit};

    /// Refuses with exit code 2: nothing ran.
    pub fn demo(_config: DemoConfig) -> Result<Exit, CliError> {
        Err(CliError::Input(
            "this stampede was built without the `demo` feature (the embedded reference server); \
             build it with default features (`cargo build --release`) for `stampede demo`, or \
             point `stampede run --target URL` at a server of your own"
                .into(),
        ))
    }
}
