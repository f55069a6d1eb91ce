//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`), as text or JSON.
//! Under systemd (`JOURNAL_STREAM` set) lines carry no timestamp: journald adds its own.

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,tokio_cron_scheduler=warn";

/// Installs the global subscriber. `journald` drops timestamps.
pub fn init(format: LogFormat, journald: bool) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !journald;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false);
    let result = match (format, journald) {
        (LogFormat::Text, false) => builder.try_init(),
        (LogFormat::Text, true) => builder.without_time().try_init(),
        (LogFormat::Json, false) => builder.json().try_init(),
        (LogFormat::Json, true) => builder.json().without_time().try_init(),
    };
    // A second initialisation (only possible in tests) keeps the first subscriber.
    drop(result);
}
