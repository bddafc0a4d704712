//! Resolved, validated configs: raw flags ([`args`](super::args)) plus the scenario file plus
//! defaults, in that order of precedence (a flag beats its `STAMPEDE_*` variable, which clap applies,
//! and both beat the file). Once a config exists every value in it is usable; the engine takes these
//! and never a clap struct.

use std::io::IsTerminal;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;
use time::macros::format_description;

use super::args::{
    BracketArgs, DemoArgs, FormatArg, MatchArgs, MergeArgs, ModeArg, NetworkArgs, OutputArgs,
    PlanArgs, RescoreArgs, RunArgs, SeedingArg, SplitArgs, ValidateArgs,
};
use super::exit::CliError;
use super::target::{Target, parse_target};
use super::teams::{load_teams_file, parse_team_specs};
use crate::contest::files::CONTEST_SCHEMA_VERSION;
use crate::contest::teams::SavedTeam;
use crate::contest::{BracketSetup, MatchSetup, Mode, NewRules, SeedBy, Start, TeamEntry};
use crate::engine::plan::LoadPlan;
use crate::engine::segment::Segment;
use crate::scenario::{LowerOptions, Scenario};
use crate::score::{Format, ScoringRules};

/// The demo scenario, compiled into the binary so `stampede demo` works from any directory.
pub const DEMO_SCENARIO: &str = include_str!("../../scenarios/demo.toml");

/// Largest `--time-scale`: slower than 100× real time is never useful and hides typos like `1000`.
pub const MAX_TIME_SCALE: f64 = 100.0;

/// Facts about this invocation that resolution depends on, gathered once by `main` so resolution
/// itself stays a pure function (and tests can fix the clock).
#[derive(Debug, Clone, Copy)]
pub struct Invocation {
    /// Now, for the default results directory name.
    pub now: OffsetDateTime,
    /// Whether stdout is a terminal (the live view needs one).
    pub interactive: bool,
}

impl Invocation {
    /// The real clock and terminal.
    pub fn current() -> Invocation {
        Invocation {
            now: OffsetDateTime::now_utc(),
            interactive: std::io::stdout().is_terminal(),
        }
    }
}

/// Everything `stampede run` needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server under test.
    pub target: Target,
    /// The plan, lowered with the run's options.
    pub plan: LoadPlan,
    /// Where results are written (not created yet).
    pub out_dir: PathBuf,
    /// Whether to show the live terminal view.
    pub tui: bool,
    /// Where to serve live metrics (`--metrics-listen`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Local addresses to spread connections over; empty lets the OS choose.
    pub source_ips: Vec<IpAddr>,
    /// How the run is split over processes.
    pub split: Split,
    /// The scenario file as named on the command line, and the options the plan was lowered with:
    /// what worker processes are started with.
    pub source: PlanSource,
}

/// Where a plan came from, to start worker processes with the same one.
#[derive(Debug, Clone)]
pub struct PlanSource {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The options it was lowered with.
    pub options: LowerOptions,
}

/// How one run is split over processes or machines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    /// This process runs only this segment of the plan.
    pub segment: Option<Segment>,
    /// When the run (every segment of it) starts.
    pub start_at: Option<SystemTime>,
    /// Split over this many local processes.
    pub workers: Option<u32>,
    /// Live progress as JSON lines on stdout.
    pub progress_json: bool,
}

/// Most `--workers`: one process per core of a large machine, with room to spare.
pub const MAX_WORKERS: u32 = 256;

/// Everything `stampede merge` needs.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// The merged result's directory.
    pub out: PathBuf,
    /// The segments' directories.
    pub dirs: Vec<PathBuf>,
    /// Merge what is there when segments are missing.
    pub allow_missing: bool,
}

impl MergeConfig {
    /// Resolves `stampede merge` flags.
    pub fn resolve(args: MergeArgs) -> Result<MergeConfig, CliError> {
        for dir in &args.dirs {
            if !dir.is_dir() {
                return Err(CliError::Input(format!(
                    "{} is not a directory (give each segment's results directory)",
                    dir.display()
                )));
            }
        }
        Ok(MergeConfig {
            out: args.out,
            dirs: args.dirs,
            allow_missing: args.allow_missing,
        })
    }
}

/// Parses `--start-at`: RFC 3339, or Unix seconds (fractions allowed).
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return Err(format!("{text:?} is not a time after 1970"));
        }
        return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| {
            format!(
                "{text:?} is neither RFC 3339 (2026-12-05T10:00:00Z) nor Unix seconds (1796464800)"
            )
        })
}

/// Parses `--segment`.
fn segment_flag(text: Option<&str>) -> Result<Option<Segment>, CliError> {
    text.map(Segment::parse)
        .transpose()
        .map_err(|m| CliError::flag("--segment", m))
}

/// Checks the split flags.
pub fn split(args: &SplitArgs) -> Result<Split, CliError> {
    let segment = segment_flag(args.segment.as_deref())?;
    let start_at = args
        .start_at
        .as_deref()
        .map(parse_start_at)
        .transpose()
        .map_err(|m| CliError::flag("--start-at", m))?;
    if segment.is_some() && start_at.is_none() {
        return Err(CliError::flag(
            "--segment",
            "needs --start-at: every segment of a run must start at the same instant, e.g. \
             --start-at $(date -u -d '+1 min' +%s) given to all of them",
        ));
    }
    Ok(Split {
        segment,
        start_at,
        workers: workers(args.workers)?,
        progress_json: args.progress_json,
    })
}

/// Everything `stampede demo` needs; the target is the embedded reference server it starts.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// The built-in demo plan, lowered with the run's options.
    pub plan: LoadPlan,
    /// One server and a plain run instead of a match of two.
    pub single: bool,
    /// Where results are written (not created yet).
    pub out_dir: PathBuf,
    /// Whether to show the live terminal view.
    pub tui: bool,
    /// Where to serve live metrics (`--metrics-listen`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
}

/// Everything `stampede validate` needs.
#[derive(Debug, Clone)]
pub struct ValidateConfig {
    /// The file as named on the command line.
    pub file: PathBuf,
    /// The validated scenario (for describing its phases).
    pub scenario: Scenario,
    /// The plan it lowers to.
    pub plan: LoadPlan,
}

/// Everything `stampede match` needs.
#[derive(Debug, Clone)]
pub struct MatchConfig {
    /// The plan, the teams, the mode and the rules.
    pub setup: MatchSetup,
    /// Where the match directory goes (not created yet).
    pub out_dir: PathBuf,
    /// Whether to show the live terminal view.
    pub tui: bool,
    /// Where to serve live metrics (`--metrics-listen`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Local addresses to spread connections over; empty lets the OS choose.
    pub source_ips: Vec<IpAddr>,
    /// How the match is split over processes.
    pub split: Split,
    /// Where the plan came from (`None` for the built-in demo), the teams and rules as given: what
    /// worker processes are started with.
    pub source: Option<PlanSource>,
    /// `--team` as given.
    pub team_specs: Vec<String>,
    /// `--rules` as given.
    pub rules_file: Option<PathBuf>,
}

/// Everything `stampede bracket` needs.
#[derive(Debug, Clone)]
pub struct BracketConfig {
    /// A new bracket with its setup, or a resume of the one in `dir`.
    pub start: Start,
    /// The bracket directory.
    pub dir: PathBuf,
    /// Void replays in a row before the bracket stops.
    pub void_retries: u32,
    /// Whether to show the live terminal view.
    pub tui: bool,
    /// Where to serve live metrics (`--metrics-listen`), if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    /// Local addresses to spread connections over; empty lets the OS choose.
    pub source_ips: Vec<IpAddr>,
    /// Play every run as this many local processes.
    pub workers: Option<u32>,
}

/// Everything `stampede rescore` needs.
#[derive(Debug, Clone)]
pub struct RescoreConfig {
    /// The match or bracket directory.
    pub dir: PathBuf,
    /// Rules to judge by instead of the ones it was played under.
    pub rules: Option<NewRules>,
}

impl MatchConfig {
    /// Resolves `stampede match` flags.
    pub fn resolve(args: MatchArgs, invocation: &Invocation) -> Result<MatchConfig, CliError> {
        let teams = parse_team_specs(&args.teams)?;
        let options = lower_options(&args.plan)?;
        let split = split(&args.split)?;
        let targets: Vec<Target> = teams.iter().map(cli_target).collect::<Result<_, _>>()?;
        let source_ips = source_ips(&args.network, &targets)?;
        let rules = match &args.rules {
            Some(path) => load_rules(path)?,
            None => ScoringRules::default(),
        };
        let scenario = Scenario::load(&args.scenario)?;
        let mut plan = scenario.lower(&options);
        if let Some(segment) = split.segment {
            plan = plan.segment(segment);
        }
        let out_dir = out_dir(
            &args.output,
            &format!("{}-match", plan.scenario),
            invocation,
        )?;
        Ok(MatchConfig {
            setup: MatchSetup {
                plan: std::sync::Arc::new(plan),
                teams,
                mode: mode(args.mode),
                rules,
            },
            out_dir,
            tui: tui(&args.output, invocation) && !split.progress_json,
            metrics_listen: args.output.metrics_listen,
            source_ips,
            split,
            source: Some(PlanSource {
                scenario: args.scenario,
                options,
            }),
            team_specs: args.teams,
            rules_file: args.rules,
        })
    }
}

impl BracketConfig {
    /// Resolves `stampede bracket` flags: a new bracket from a teams file and a scenario, or
    /// `--resume DIR` from the setup saved there.
    pub fn resolve(args: BracketArgs, invocation: &Invocation) -> Result<BracketConfig, CliError> {
        if let Some(dir) = &args.resume {
            let setup = BracketSetup::load(dir)?;
            let targets: Vec<Target> = setup
                .entries()
                .iter()
                .map(cli_target)
                .collect::<Result<_, _>>()?;
            let ignored: Vec<&str> = [
                ("--time-scale", args.plan.time_scale.is_some()),
                ("--max-users", args.plan.max_users.is_some()),
                ("--seed", args.plan.seed.is_some()),
                ("--out", args.output.out.is_some()),
            ]
            .into_iter()
            .filter_map(|(flag, given)| given.then_some(flag))
            .collect();
            if !ignored.is_empty() {
                eprintln!(
                    "note: --resume plays the bracket as it was set up in {}; ignoring {}",
                    dir.join(crate::contest::files::SETUP_JSON).display(),
                    ignored.join(", ")
                );
            }
            return Ok(BracketConfig {
                start: Start::Resume,
                dir: dir.clone(),
                void_retries: args.void_retries,
                tui: tui(&args.output, invocation),
                metrics_listen: args.output.metrics_listen,
                source_ips: source_ips(&args.network, &targets)?,
                workers: workers(args.workers)?,
            });
        }
        // clap requires both without --resume.
        let (Some(teams_path), Some(scenario_path)) = (&args.teams, &args.scenario) else {
            return Err(CliError::flag(
                "--teams",
                "--teams FILE and --scenario FILE are needed to start a bracket (or --resume DIR)",
            ));
        };
        let options = lower_options(&args.plan)?;
        let teams = load_teams_file(teams_path)?;
        let targets: Vec<Target> = teams
            .teams
            .iter()
            .map(cli_target)
            .collect::<Result<_, _>>()?;
        let source_ips = source_ips(&args.network, &targets)?;
        let rules = match &args.rules {
            Some(path) => load_rules(path)?,
            None => ScoringRules::default(),
        };
        let scenario_file = scenario_path.display().to_string();
        let scenario_toml = std::fs::read_to_string(scenario_path).map_err(|source| {
            crate::scenario::ScenarioError::Read {
                file: scenario_file.clone(),
                source,
            }
        })?;
        let plan = Scenario::from_toml(&scenario_toml, &scenario_file)?.lower(&options);
        let format = format(args.format);
        let dir = out_dir(
            &args.output,
            &format!("{}-bracket", plan.scenario),
            invocation,
        )?;
        let setup = BracketSetup {
            schema_version: CONTEST_SCHEMA_VERSION,
            title: teams
                .title
                .unwrap_or_else(|| format!("{} · {}", plan.scenario, format.title())),
            scenario_file,
            scenario_toml,
            options,
            mode: mode(args.mode),
            format,
            seeding: match args.seeding {
                SeedingArg::File => SeedBy::File,
                SeedingArg::Qualify => SeedBy::Qualify,
            },
            teams: teams.teams.iter().map(SavedTeam::from).collect(),
            rules,
        };
        Ok(BracketConfig {
            start: Start::New(Box::new(setup)),
            dir,
            void_retries: args.void_retries,
            tui: tui(&args.output, invocation),
            metrics_listen: args.output.metrics_listen,
            source_ips,
            workers: workers(args.workers)?,
        })
    }
}

/// Checks `--workers`.
fn workers(n: Option<u32>) -> Result<Option<u32>, CliError> {
    match n {
        Some(n) if !(1..=MAX_WORKERS).contains(&n) => Err(CliError::flag(
            "--workers",
            format!("must be 1 to {MAX_WORKERS} processes, got {n}"),
        )),
        n => Ok(n),
    }
}

impl RescoreConfig {
    /// Resolves `stampede rescore` flags.
    pub fn resolve(args: RescoreArgs) -> Result<RescoreConfig, CliError> {
        let rules = match &args.rules {
            Some(path) => Some(NewRules {
                rules: load_rules(path)?,
                from: path.display().to_string(),
            }),
            None => None,
        };
        Ok(RescoreConfig {
            dir: args.dir,
            rules,
        })
    }
}

/// Reads a scoring rules file. Errors name the file, the field and what is allowed.
pub fn load_rules(path: &Path) -> Result<ScoringRules, CliError> {
    let file = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Input(format!("{file}: cannot read the rules file: {e}")))?;
    ScoringRules::from_toml_str(&text).map_err(|e| CliError::Input(format!("{file}: {e}")))
}

fn mode(arg: ModeArg) -> Mode {
    match arg {
        ModeArg::Concurrent => Mode::Concurrent,
        ModeArg::Sequential => Mode::Sequential,
    }
}

fn format(arg: FormatArg) -> Format {
    match arg {
        FormatArg::Single => Format::Single,
        FormatArg::Double => Format::Double,
        FormatArg::RoundRobin => Format::RoundRobin,
    }
}

/// A team's target as the network checks see it.
fn cli_target(team: &TeamEntry) -> Result<Target, CliError> {
    parse_target(&team.target.url).map_err(|m| CliError::Input(format!("team {}: {m}", team.name)))
}

impl RunConfig {
    /// Resolves `stampede run` flags. Checks the cheap things first so a bad flag is reported without
    /// reading the scenario.
    pub fn resolve(args: RunArgs, invocation: &Invocation) -> Result<RunConfig, CliError> {
        let target = parse_target(&args.target).map_err(|m| CliError::flag("--target", m))?;
        let options = lower_options(&args.plan)?;
        let split = split(&args.split)?;
        let source_ips = source_ips(&args.network, std::slice::from_ref(&target))?;
        let scenario = Scenario::load(&args.scenario)?;
        let mut plan = scenario.lower(&options);
        if let Some(segment) = split.segment {
            plan = plan.segment(segment);
        }
        let out_dir = out_dir(&args.output, &plan.scenario, invocation)?;
        Ok(RunConfig {
            target,
            plan,
            out_dir,
            tui: tui(&args.output, invocation) && !split.progress_json,
            metrics_listen: args.output.metrics_listen,
            source_ips,
            split,
            source: PlanSource {
                scenario: args.scenario,
                options,
            },
        })
    }
}

impl DemoConfig {
    /// Resolves `stampede demo` flags against the built-in demo scenario.
    pub fn resolve(args: DemoArgs, invocation: &Invocation) -> Result<DemoConfig, CliError> {
        let options = lower_options(&args.plan)?;
        let scenario = Scenario::from_toml(DEMO_SCENARIO, "scenarios/demo.toml")?;
        let plan = scenario.lower(&options);
        let out_dir = out_dir(&args.output, &plan.scenario, invocation)?;
        Ok(DemoConfig {
            plan,
            single: args.single,
            out_dir,
            tui: tui(&args.output, invocation),
            metrics_listen: args.output.metrics_listen,
        })
    }
}

impl ValidateConfig {
    /// Loads, validates and lowers the scenario (with defaults unless plan flags are given).
    pub fn resolve(args: ValidateArgs) -> Result<ValidateConfig, CliError> {
        let options = lower_options(&args.plan)?;
        let segment = segment_flag(args.segment.as_deref())?;
        let scenario = Scenario::load(&args.scenario)?;
        let mut plan = scenario.lower(&options);
        if let Some(segment) = segment {
            plan = plan.segment(segment);
        }
        Ok(ValidateConfig {
            file: args.scenario,
            scenario,
            plan,
        })
    }
}

/// Checks the plan flags. The seed falls back to the scenario's inside lowering.
pub fn lower_options(args: &PlanArgs) -> Result<LowerOptions, CliError> {
    let time_scale = args.time_scale.unwrap_or(1.0);
    // NaN fails this test too.
    if !(time_scale > 0.0 && time_scale <= MAX_TIME_SCALE) {
        return Err(CliError::flag(
            "--time-scale",
            format!(
                "must be above 0 and at most {MAX_TIME_SCALE} (1 = real time, 0.1 = ten times \
                 faster), got {time_scale}"
            ),
        ));
    }
    if args.max_users == Some(0) {
        return Err(CliError::flag(
            "--max-users",
            "must be at least 1, got 0 (omit it to run the scenario's own user counts)",
        ));
    }
    Ok(LowerOptions {
        time_scale,
        max_users: args.max_users,
        seed: args.seed,
    })
}

/// Parses `--source-ips` and checks each address can be used as a source here, towards every target.
fn source_ips(args: &NetworkArgs, targets: &[Target]) -> Result<Vec<IpAddr>, CliError> {
    let bad = |message: String| CliError::flag("--source-ips", message);
    // Each target's family, when its host is an address literal (a name may resolve to either).
    let target_ips: Vec<(IpAddr, &Target)> = targets
        .iter()
        .filter_map(|target| {
            let ip = target
                .url
                .host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
                .and_then(|h| h.parse().ok())?;
            Some((ip, target))
        })
        .collect();
    let mut ips: Vec<IpAddr> = Vec::new();
    for text in args.source_ips.iter().map(|s| s.trim()) {
        if text.is_empty() {
            continue; // tolerate "a,,b" and a trailing comma
        }
        let ip: IpAddr = text.parse().map_err(|_| {
            bad(format!(
                "{text:?} is not an IP address; write e.g. 127.0.0.1,127.0.0.2"
            ))
        })?;
        if ip.is_unspecified() {
            return Err(bad(format!(
                "{ip} means \"any address\"; list the addresses to send from"
            )));
        }
        if ips.contains(&ip) {
            return Err(bad(format!("{ip} is listed twice")));
        }
        if let Some((_, target)) = target_ips
            .iter()
            .find(|(target_ip, _)| target_ip.is_ipv4() != ip.is_ipv4())
        {
            return Err(bad(format!(
                "{ip} cannot reach the target {}: one is IPv4, the other IPv6",
                target.name
            )));
        }
        // Binding a throwaway UDP socket is the cheapest proof the address is local.
        UdpSocket::bind((ip, 0)).map_err(|e| {
            bad(format!(
                "{ip} is not an address of this machine (binding to it failed: {e})"
            ))
        })?;
        ips.push(ip);
    }
    Ok(ips)
}

/// The results directory: `--out`, else [`default_out_dir`].
fn out_dir(
    args: &OutputArgs,
    scenario: &str,
    invocation: &Invocation,
) -> Result<PathBuf, CliError> {
    let dir = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out_dir(scenario, invocation.now),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(CliError::flag(
            "--out",
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    Ok(dir)
}

/// `results/<UTC YYYYmmdd-HHMMSS>-<scenario>`, with the name reduced to characters safe in paths.
pub fn default_out_dir(scenario: &str, now: OffsetDateTime) -> PathBuf {
    let stamp = now
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .expect("a fixed numeric format cannot fail");
    let name: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    Path::new("results").join(format!("{stamp}-{name}"))
}

/// The live view needs a terminal; `--no-tui` or a pipe gives plain progress lines.
fn tui(args: &OutputArgs, invocation: &Invocation) -> bool {
    !args.no_tui && invocation.interactive
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn time_scale_and_max_users_ranges() {
        let opts = |time_scale, max_users| {
            lower_options(&PlanArgs {
                time_scale,
                max_users,
                seed: None,
            })
        };
        assert_eq!(opts(None, None).unwrap().time_scale, 1.0);
        assert_eq!(opts(Some(0.1), Some(5)).unwrap().max_users, Some(5));
        assert_eq!(opts(Some(100.0), None).unwrap().time_scale, 100.0);
        for bad in [0.0, -1.0, 100.5, f64::NAN, f64::INFINITY] {
            let err = opts(Some(bad), None).unwrap_err().to_string();
            assert!(
                err.starts_with("--time-scale: must be above 0 and at most 100"),
                "{err}"
            );
        }
        let err = opts(None, Some(0)).unwrap_err().to_string();
        assert!(err.starts_with("--max-users: must be at least 1"), "{err}");
    }

    #[test]
    fn default_out_dir_is_utc_stamped_and_path_safe() {
        let now = datetime!(2024-12-05 09:03:07 +09:00);
        assert_eq!(
            default_out_dir("ktb-2024", now),
            Path::new("results/20241205-000307-ktb-2024")
        );
        assert_eq!(
            default_out_dir("a b/c", now),
            Path::new("results/20241205-000307-a-b-c")
        );
    }

    #[test]
    fn source_ips_are_checked() {
        let target = parse_target("http://127.0.0.1:5000").unwrap();
        let ips = |list: &[&str]| {
            source_ips(
                &NetworkArgs {
                    source_ips: list.iter().map(|s| s.to_string()).collect(),
                },
                std::slice::from_ref(&target),
            )
        };
        assert_eq!(ips(&[]).unwrap(), Vec::<IpAddr>::new());
        assert_eq!(
            ips(&["127.0.0.1", " 127.0.0.2", ""]).unwrap(),
            [
                "127.0.0.1".parse::<IpAddr>().unwrap(),
                "127.0.0.2".parse().unwrap()
            ]
        );
        let err = |list: &[&str]| ips(list).unwrap_err().to_string();
        assert!(err(&["127.0.0.x"]).contains("is not an IP address"));
        assert!(err(&["127.0.0.1", "127.0.0.1"]).contains("listed twice"));
        assert!(err(&["0.0.0.0"]).contains("any address"));
        assert!(err(&["::1"]).contains("IPv4, the other IPv6"));
        // TEST-NET-3 is never assigned to a local interface.
        assert!(err(&["203.0.113.7"]).contains("not an address of this machine"));
    }

    #[test]
    fn tui_needs_a_terminal() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let on = OutputArgs::default();
        let off = OutputArgs {
            no_tui: true,
            ..OutputArgs::default()
        };
        let term = Invocation {
            now,
            interactive: true,
        };
        let pipe = Invocation {
            now,
            interactive: false,
        };
        assert!(tui(&on, &term));
        assert!(!tui(&off, &term));
        assert!(!tui(&on, &pipe));
    }

    #[test]
    fn demo_is_built_in_and_valid() {
        let config = DemoConfig::resolve(
            DemoArgs {
                single: false,
                plan: PlanArgs {
                    time_scale: Some(0.5),
                    ..PlanArgs::default()
                },
                output: OutputArgs::default(),
            },
            &Invocation {
                now: datetime!(2025-01-02 03:04:05 UTC),
                interactive: false,
            },
        )
        .unwrap();
        assert_eq!(config.plan.scenario, "demo");
        assert_eq!(config.plan.time_scale, 0.5);
        assert_eq!(config.out_dir, Path::new("results/20250102-030405-demo"));
        assert!(!config.tui);
    }
}
