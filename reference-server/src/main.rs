//! `reference-server`: parse flags (each also an environment variable), run until Ctrl-C or SIGTERM,
//! then shut down gracefully within the configured deadline.
//!
//! Exit codes, as the load tool's: 2 when the server cannot start (a setting out of range, a
//! listen address in use, a store or bucket it cannot reach), with one `error: …` line saying what
//! and no backtrace; 1 when shutting down failed; 0 otherwise.

use std::process::ExitCode;

use clap::Parser;
use reference_server::config::Args;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = match Args::parse().into_config() {
        Ok(config) => config,
        Err(e) => return fail(&e, 2),
    };
    let server = match reference_server::start(config).await {
        Ok(server) => server,
        Err(e) => return fail(&e, 2),
    };
    tracing::info!(url = %server.url(), "serving; Ctrl-C or SIGTERM to stop");
    stop_signal().await;
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, 1),
    }
}

/// Prints `error: …` with every cause on one line and returns `code`.
fn fail(error: &dyn std::error::Error, code: u8) -> ExitCode {
    let mut line = format!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // thiserror messages often quote their source already; do not say it twice.
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    eprintln!("{line}");
    ExitCode::from(code)
}

/// Resolves on Ctrl-C, or SIGTERM where there is one.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
