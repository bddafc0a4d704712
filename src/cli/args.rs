//! Raw command-line flags (clap derive). Nothing here is validated beyond its type; [`config`]
//! resolves these into checked configs, and nothing past `config` sees a clap struct.
//!
//! Every flag that makes sense in a CI job also reads a `STAMPEDE_*` environment variable; a flag
//! given on the command line wins over the variable. Pieces shared by several subcommands
//! ([`PlanArgs`], [`OutputArgs`], [`NetworkArgs`]) are flattened in, so later subcommands (`match`,
//! `bracket`, `rescore`) reuse them as they are.
//!
//! [`config`]: super::config

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Load-test chat servers the way the competition did: real Socket.IO users, honest measurement.
#[derive(Debug, Parser)]
#[command(name = "stampede", version, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 ok (a run held every threshold, a match was decided, a bracket \
                  finished), 1 a threshold was broken, a match was void (replay it) or a bracket \
                  stopped before its end (resume it), 2 bad input (flags, scenario, teams, rules, \
                  an unreachable target), 3 the run could not be carried out."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario against one target and write its results.
    Run(RunArgs),
    /// Run the built-in demo scenario against the embedded reference server.
    #[cfg_attr(not(feature = "demo"), command(hide = true))]
    Demo(DemoArgs),
    /// Check a scenario file and print the plan it lowers to.
    Validate(ValidateArgs),
    /// Play a match: two or more teams under the same seeded plan, scored head to head.
    Match(MatchArgs),
    /// Play a bracket of matches (single or double elimination, round robin) with standings.
    Bracket(BracketArgs),
    /// Re-judge a played match or bracket offline from its saved results.
    Rescore(RescoreArgs),
    /// Merge the results of a run's segments (--segment I/N) into one result.
    Merge(MergeArgs),
    /// Write report.html again from the saved results of a run, match, bracket or merged directory.
    Report(ReportArgs),
    /// Two runs (or two matches) of the same scenario side by side, p99 changes judged against noise
    ///
    /// Per level and per operation: users held, failures, deliveries and latency percentiles of B
    /// against A (the baseline). Whether a p99 difference is beyond run-to-run noise is estimated
    /// from each run's per-second HDR histograms (latency.hlog) by a block bootstrap: 5-second
    /// blocks drawn with replacement, 400 resamples per side, a 95 % interval of p99(B) / p99(A);
    /// the difference is real when the whole interval lies above (worse) or below (better) 1.
    /// Failure ratios use a one-sided two-proportion z-test. See docs/reports.md.
    Compare(CompareArgs),
    /// Print the shell completion script of every subcommand and flag
    ///
    /// e.g. `stampede completions bash > ~/.local/share/bash-completion/completions/stampede`, or
    /// `stampede completions zsh > "${fpath[1]}/_stampede"`.
    Completions(CompletionsArgs),
}

/// `stampede run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of the server under test, e.g. http://127.0.0.1:5000
    ///
    /// http:// or https://, a host and optionally a port; no path (the tool adds /api/… and
    /// /socket.io/ itself). Several comma-separated URLs name the instances of one deployment: user i
    /// talks to instance i mod n, so room members sit on different instances and every delivery is
    /// checked across them.
    #[arg(long, env = "STAMPEDE_TARGET", value_name = "URL")]
    pub target: String,
    /// Scenario file (TOML), e.g. scenarios/ktb-2024.toml.
    #[arg(long, env = "STAMPEDE_SCENARIO", value_name = "FILE")]
    pub scenario: PathBuf,
    /// How the plan is shaped.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where results go and how progress is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// How connections are made.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// How the run is split over processes.
    #[command(flatten)]
    pub split: SplitArgs,
}

/// `stampede demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Run against one embedded server instead of playing a match of two
    #[arg(long, env = "STAMPEDE_DEMO_SINGLE")]
    pub single: bool,
    /// How the plan is shaped.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where results go and how progress is shown.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `stampede validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Scenario file (TOML) to check.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Options to lower the plan with (the same as `run` takes).
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Print the share of the plan segment I of N runs (0-based), e.g. 0/4.
    #[arg(long, value_name = "I/N")]
    pub segment: Option<String>,
}

/// `stampede match`.
#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Scenario file (TOML) every team runs.
    #[arg(long, env = "STAMPEDE_SCENARIO", value_name = "FILE")]
    pub scenario: PathBuf,
    /// A team and its server's base URL, e.g. --team alpha=http://127.0.0.1:5001 (twice or more)
    ///
    /// Names are 1 to 32 ASCII letters, digits, `-` or `_` (each team's results go in a directory
    /// of that name).
    #[arg(long = "team", value_name = "NAME=URL", required = true)]
    pub teams: Vec<String>,
    /// How the teams are run
    ///
    /// concurrent: one engine ramps every team at once with the same seeded plan, each arrival
    /// handed to the teams in a rotating order so no team gets the generator first. sequential:
    /// the same plan and seed against one team after another.
    #[arg(long, value_enum, default_value_t = ModeArg::Concurrent)]
    pub mode: ModeArg,
    /// Scoring rules file (TOML; see docs/scoring-rules.toml) [default: built-in rules]
    #[arg(long, env = "STAMPEDE_RULES", value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// How the plan is shaped.
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where results go and how progress is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// How connections are made.
    #[command(flatten)]
    pub network: NetworkArgs,
    /// How the match is split over processes.
    #[command(flatten)]
    pub split: SplitArgs,
}

/// `stampede bracket`.
#[derive(Debug, Args)]
pub struct BracketArgs {
    /// Teams file (TOML): `[[team]]` tables with `name`, `target` and an optional `seed`
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "resume",
        conflicts_with = "resume"
    )]
    pub teams: Option<PathBuf>,
    /// Scenario file (TOML) every match runs.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "resume",
        conflicts_with = "resume"
    )]
    pub scenario: Option<PathBuf>,
    /// Bracket format.
    #[arg(long, value_enum, default_value_t = FormatArg::Single, conflicts_with = "resume")]
    pub format: FormatArg,
    /// How teams are seeded
    ///
    /// file: by the teams file's `seed` numbers, teams without one after them in file order.
    /// qualify: by the ranking of one qualifying match of every team (in --mode) played first.
    #[arg(long, value_enum, default_value_t = SeedingArg::File, conflicts_with = "resume")]
    pub seeding: SeedingArg,
    /// How each match runs its teams (see `stampede match --help`).
    #[arg(long, value_enum, default_value_t = ModeArg::Concurrent, conflicts_with = "resume")]
    pub mode: ModeArg,
    /// Scoring rules file (TOML; see docs/scoring-rules.toml) [default: built-in rules]
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub rules: Option<PathBuf>,
    /// Continue the interrupted bracket in DIR: finished matches are kept, the rest are played
    ///
    /// Plays the plan, teams and rules saved in DIR when the bracket started (so the plan flags and
    /// --out do not apply).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Times a void match (the generator was unhealthy) is played again in a row before the
    /// bracket stops (it can then be resumed).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 2,
        allow_negative_numbers = true
    )]
    pub void_retries: u32,
    /// Play every match's runs as N processes of this machine, their results merged
    #[arg(
        long,
        env = "STAMPEDE_WORKERS",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub workers: Option<u32>,
    /// How the plan is shaped (not with --resume).
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where results go and how progress is shown.
    #[command(flatten)]
    pub output: OutputArgs,
    /// How connections are made.
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// `stampede merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Where the merged result goes (the layout of a single run's results).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Merge the segments given even when some are missing (the result is marked partial).
    #[arg(long)]
    pub allow_missing: bool,
    /// The segments' results directories (each written by a run with --segment I/N).
    #[arg(value_name = "SEGMENT_DIR", required = true)]
    pub dirs: Vec<PathBuf>,
}

/// `stampede report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results directory written by `stampede run`, `match`, `bracket` or `merge`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// `stampede compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run's (or merged run's) results directory, or a match directory.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The one compared with it: the same kind of directory as A, of the same scenario.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Also write the comparison as a self-contained HTML page to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Exit 1 when B is worse than A by more than PCT percent beyond noise (a p99, sustained users
    /// or the request failure ratio), for CI.
    #[arg(long, value_name = "PCT")]
    pub fail_if_worse: Option<f64>,
}

/// `stampede completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `stampede rescore`.
#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// A match or bracket directory written by `stampede match` or `stampede bracket`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Scoring rules file (TOML) [default: the rules the match or bracket was played under]
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    /// One engine, every team at once.
    Concurrent,
    /// One team after another, same plan and seed.
    Sequential,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Single elimination (byes for the top seeds when the count is not a power of two).
    Single,
    /// Double elimination with a bracket reset.
    Double,
    /// Everyone meets everyone once.
    RoundRobin,
}

/// `--seeding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SeedingArg {
    /// The teams file's seed numbers, then file order.
    File,
    /// The ranking of a qualifying match of every team.
    Qualify,
}

/// Options that change the plan a scenario lowers to.
#[derive(Debug, Clone, Default, Args)]
pub struct PlanArgs {
    /// Speed factor of the load shape: 0.1 runs ten times faster (0 < F <= 100) [default: 1]
    ///
    /// Multiplies every duration of the load shape (step_every, hold, duration, spread, level_every),
    /// think times and message intervals by F. The step timeout and the delivery deadline are not
    /// scaled: they judge the server, whose speed a rehearsal does not change. 0 < F <= 100
    /// [default: 1]
    #[arg(
        long,
        env = "STAMPEDE_TIME_SCALE",
        value_name = "F",
        allow_negative_numbers = true
    )]
    pub time_scale: Option<f64>,
    /// Cap every phase at N users: a ramp stops at N and then holds.
    #[arg(
        long,
        env = "STAMPEDE_MAX_USERS",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub max_users: Option<u32>,
    /// Seed of every random choice (overrides the scenario's `seed`).
    #[arg(
        long,
        env = "STAMPEDE_SEED",
        value_name = "S",
        allow_negative_numbers = true
    )]
    pub seed: Option<u64>,
}

/// Where results go and how progress is shown.
#[derive(Debug, Clone, Default, Args)]
pub struct OutputArgs {
    /// Results directory; by default a new one under `results/` named after the UTC time and the
    /// scenario.
    #[arg(
        long,
        env = "STAMPEDE_OUT",
        value_name = "DIR",
        help = "Results directory [default: results/<UTC YYYYmmdd-HHMMSS>-<scenario>/]"
    )]
    pub out: Option<PathBuf>,
    /// Plain progress lines instead of the live scoreboard
    ///
    /// Also the behaviour when stdout is not a terminal.
    #[arg(long, env = "STAMPEDE_NO_TUI")]
    pub no_tui: bool,
    /// Serve live metrics in the Prometheus text format at http://ADDR/metrics during the run
    ///
    /// ADDR is IP:PORT, e.g. 127.0.0.1:9464 (port 0: any free port, printed at the start). A match
    /// or bracket serves every team's figures, a run split over --workers the combined view.
    #[arg(long, env = "STAMPEDE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

/// How one run is split over several processes or machines.
#[derive(Debug, Clone, Default, Args)]
pub struct SplitArgs {
    /// Run only segment I of N of the plan (I counted from 0), e.g. --segment 0/4
    ///
    /// The plan is split by room: each group room's members are all in one segment; shared and hot
    /// rooms span segments. Every segment needs the same --start-at; `stampede merge` adds the
    /// segments' results up. In a Kubernetes Indexed Job: --segment $(JOB_COMPLETION_INDEX)/N.
    #[arg(
        long,
        env = "STAMPEDE_SEGMENT",
        value_name = "I/N",
        conflicts_with = "workers"
    )]
    pub segment: Option<String>,
    /// When the run starts, wall-clock: RFC 3339 (2026-12-05T10:00:00Z) or Unix seconds
    ///
    /// Every segment of a split run must be given the same time; each waits for it and records how
    /// late it actually started.
    #[arg(long, env = "STAMPEDE_START_AT", value_name = "TIME")]
    pub start_at: Option<String>,
    /// Split the run over N processes of this machine and merge their results into --out
    ///
    /// Each process runs one segment (results in OUT/segments/I), sockets spread over
    /// 127.0.0.x source addresses when the target is on loopback.
    #[arg(
        long,
        env = "STAMPEDE_WORKERS",
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub workers: Option<u32>,
    /// Write the live progress to stdout as JSON lines (one snapshot each) instead of a view
    #[arg(long, env = "STAMPEDE_PROGRESS_JSON")]
    pub progress_json: bool,
}

/// How connections are made.
#[derive(Debug, Clone, Default, Args)]
pub struct NetworkArgs {
    /// Local addresses to open connections from, comma-separated (needed beyond ~28k connections)
    ///
    /// Connections are spread over these addresses in turn. One source address can hold only about
    /// 28,000 connections to one target address (the ephemeral port range), so runs beyond that need
    /// several. On loopback any 127.x.y.z works as a source, e.g.
    /// --source-ips 127.0.0.1,127.0.0.2,127.0.0.3 [default: chosen by the OS]
    #[arg(
        long,
        env = "STAMPEDE_SOURCE_IPS",
        value_name = "IP,...",
        value_delimiter = ','
    )]
    pub source_ips: Vec<String>,
}
