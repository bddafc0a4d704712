//! `stampede` binary: parse → resolve → dispatch → exit code. Everything else lives in the library.

use std::process::ExitCode;

use clap::Parser;
use stampede::cli::args::{Cli, Command};
use stampede::cli::config::{
    BracketConfig, DemoConfig, Invocation, MatchConfig, MergeConfig, RescoreConfig, RunConfig,
    ValidateConfig,
};
use stampede::cli::exit::Exit;
use stampede::cli::report::{CompareConfig, ReportConfig};
use stampede::cli::{commands, contest, demo, report};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap formats its own usage errors (exit 2) and --help/--version (exit 0).
        Err(e) => {
            let argv: Vec<_> = std::env::args_os().collect();
            match stampede::cli::origin::clap_error_with_origin(&e, &argv) {
                Some(text) => eprint!("{text}"),
                None => drop(e.print()),
            }
            return if e.use_stderr() {
                Exit::BadInput
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    let invocation = Invocation::current();
    let outcome = match cli.command {
        Command::Run(args) => RunConfig::resolve(args, &invocation).and_then(commands::run),
        Command::Demo(args) => DemoConfig::resolve(args, &invocation).and_then(demo::demo),
        Command::Validate(args) => ValidateConfig::resolve(args).and_then(commands::validate),
        Command::Match(args) => {
            MatchConfig::resolve(args, &invocation).and_then(contest::play_match)
        }
        Command::Bracket(args) => {
            BracketConfig::resolve(args, &invocation).and_then(contest::play_bracket)
        }
        Command::Rescore(args) => RescoreConfig::resolve(args).and_then(contest::rescore),
        Command::Merge(args) => MergeConfig::resolve(args).and_then(commands::merge),
        Command::Report(args) => ReportConfig::resolve(args).and_then(report::report),
        Command::Compare(args) => CompareConfig::resolve(args).and_then(report::compare_dirs),
        Command::Completions(args) => commands::completions(args.shell),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            let argv: Vec<_> = std::env::args_os().collect();
            eprintln!("error: {}", e.message(&argv));
            e.exit().into()
        }
    }
}
