//! `reference-server`: parse flags (each also an environment variable), run until Ctrl-C or SIGTERM,
//! then shut down gracefully within the configured deadline.

use clap::Parser;
use reference_server::config::Args;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let config = Args::parse().into_config()?;
    let server = reference_server::start(config).await?;
    tracing::info!(url = %server.url(), "serving; Ctrl-C or SIGTERM to stop");
    stop_signal().await;
    tracing::info!("shutting down");
    server.shutdown().await?;
    Ok(())
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
