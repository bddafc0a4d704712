//! `stampede demo`: the product in one minute, with no setup. Two reference servers are started inside
//! this process — `alpha` as shipped, `beta` the same server capped at [`BETA_SOCKETS`] sockets, like a
//! deployment sized too small — and the built-in demo ramp is played against both as a match, with the
//! live scoreboard, a verdict and each team's results. `--single` runs the demo plan against one server
//! instead.
//!
//! The servers run on a runtime of their own (threads named `refserver-*`), so the generator's
//! self-check, which counts only the engine's `stampede-*` threads, does not mistake their work for
//! its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use reference_server::{KdfParams, RunningServer, ServerConfig};

use super::config::{DemoConfig, MatchConfig};
use super::exit::{CliError, Exit};
use crate::contest::{MatchSetup, Mode, TeamEntry};
use crate::engine::{EngineOptions, Target};
use crate::runner::Destination;
use crate::score::ScoringRules;

/// Sockets `beta` accepts: enough for the first levels of the demo ramp, not for its top.
pub const BETA_SOCKETS: usize = 60;

/// Password hashing cost of the demo servers: the demo is about chat, and the shipped default
/// (19 MiB, 2 passes, ~15 ms a hash) would spend most of a short demo's CPU on sign-ups.
const DEMO_KDF: KdfParams = KdfParams {
    memory_kib: 4 * 1024,
    iterations: 1,
};

/// Reference servers running on their own runtime.
struct Embedded {
    runtime: tokio::runtime::Runtime,
    servers: Vec<RunningServer>,
    files: PathBuf,
}

impl Embedded {
    /// Starts one server per config on a free loopback port; uploads go to a scratch directory.
    fn start(configs: Vec<ServerConfig>) -> Result<Embedded, CliError> {
        let env = |what: &str, e: &dyn std::fmt::Display| {
            CliError::Environment(format!("cannot start the reference server: {what}: {e}"))
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("refserver-worker")
            .enable_all()
            .build()
            .map_err(|e| env("runtime", &e))?;
        let files = std::env::temp_dir().join(format!("stampede-demo-{}", std::process::id()));
        let mut servers = Vec::new();
        for (i, config) in configs.into_iter().enumerate() {
            let config = ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                files_dir: files.join(i.to_string()),
                kdf: DEMO_KDF,
                ..config
            };
            let server = runtime
                .block_on(reference_server::start(config))
                .map_err(|e| env("start", &e))?;
            servers.push(server);
        }
        Ok(Embedded {
            runtime,
            servers,
            files,
        })
    }

    fn url(&self, i: usize) -> String {
        self.servers[i].url()
    }

    /// Shuts every server down gracefully and removes the scratch files.
    fn stop(self) {
        let Embedded {
            runtime,
            servers,
            files,
        } = self;
        for server in servers {
            if let Err(e) = runtime.block_on(server.shutdown()) {
                eprintln!("reference server: {e}");
            }
        }
        let _ = std::fs::remove_dir_all(files);
    }
}

/// `stampede demo`.
pub fn demo(config: DemoConfig) -> Result<Exit, CliError> {
    if config.single {
        return single(config);
    }
    let capped = ServerConfig {
        max_connections: BETA_SOCKETS,
        ..ServerConfig::default()
    };
    let servers = Embedded::start(vec![ServerConfig::default(), capped])?;
    eprintln!(
        "reference servers: alpha {} (as shipped), beta {} (at most {BETA_SOCKETS} sockets)",
        servers.url(0),
        servers.url(1)
    );
    let setup = MatchSetup {
        plan: Arc::new(config.plan),
        teams: vec![
            TeamEntry::new("alpha", servers.url(0)),
            TeamEntry::new("beta", servers.url(1)),
        ],
        mode: Mode::Concurrent,
        rules: ScoringRules::default(),
    };
    let result = super::contest::play_match(MatchConfig {
        setup,
        out_dir: config.out_dir,
        tui: config.tui,
        metrics_listen: config.metrics_listen,
        source_ips: Vec::new(),
        split: Default::default(),
        source: None,
        team_specs: Vec::new(),
        rules_file: None,
    });
    servers.stop();
    result
}

/// `stampede demo --single`: the demo plan against one server, with the run's summary.
fn single(config: DemoConfig) -> Result<Exit, CliError> {
    let metrics = super::metrics_listen::MetricsListener::bind_flag(config.metrics_listen)?;
    let server = Embedded::start(vec![ServerConfig::default()])?;
    eprintln!("reference server listening on {}", server.url(0));
    let destinations = [Destination {
        target: Target {
            name: "reference-server".into(),
            url: server.url(0),
        },
        team: None,
        dir: config.out_dir,
    }];
    let result = super::commands::runtime().and_then(|rt| {
        rt.block_on(super::commands::execute_with_view(
            Arc::new(config.plan),
            &destinations,
            EngineOptions::default(),
            if config.tui {
                super::commands::View::Scoreboard
            } else {
                super::commands::View::Progress
            },
            metrics,
        ))
    });
    server.stop();
    Ok(super::commands::report(&result?))
}
