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
//! - [`demo`]: `stampede demo`, a match of two embedded reference servers (or one run with `--single`).
//! - [`target`]: a server's base URL as given on the command line, checked.
//! - [`teams`]: `--team NAME=URL` flags and teams files.
//! - [`workers`]: `--workers N`: one run split over N local processes, their results merged.
//! - [`exit`]: [`Exit`](exit::Exit) codes and [`CliError`](exit::CliError).
//! - [`progress`]: the plain progress display used when the terminal scoreboard is off.
//! - [`signals`]: Ctrl-C, SIGTERM and SIGHUP: an orderly stop, then a stop at once.

pub mod args;
pub mod commands;
pub mod config;
pub mod contest;
pub mod demo;
pub mod exit;
pub mod progress;
pub mod signals;
pub mod target;
pub mod teams;
pub mod workers;
