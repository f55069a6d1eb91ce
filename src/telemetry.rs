//! Logging: `tracing` to stderr, as text or JSON, filtered by `RUST_LOG`.
//!
//! The default shows this program's `info` and other crates' `warn`. A `RUST_LOG` that is a
//! bare level (`info`, `debug`, ...), as the systemd unit and the Docker image set it, sets this
//! program's level and keeps other crates at `warn` (or quieter, for `error` and `off`), so the
//! scheduler's and HTTP stack's chatter stays out of the journal. Any other value is a filter
//! in `tracing-subscriber`'s `EnvFilter` syntax and is used as written
//! (`RUST_LOG=debug,hyper=trace`). Under systemd (`JOURNAL_STREAM` set) lines carry no
//! timestamp: journald adds its own.
//!
//! A closed or full stderr (`demo 2>&1 | head -3`, a log reader that went away, a full disk)
//! never ends the process or its tick: log lines that cannot be written are dropped
//! ([`Stderr`]), and `tracing-subscriber` is told not to report its own write errors (it would
//! report them with `eprintln!`, which panics on the same closed stderr).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::cli::LogFormat;

/// This program's target in filter directives.
const OWN_TARGET: &str = "cloudreve_autoselect";

/// The filter used when `RUST_LOG` is unset, empty or invalid.
pub const DEFAULT_FILTER: &str = "cloudreve_autoselect=info,warn";

/// The filter directives for a `RUST_LOG` value (see the module documentation).
pub fn filter_directives(rust_log: Option<&str>) -> String {
    let Some(value) = rust_log.map(str::trim).filter(|v| !v.is_empty()) else {
        return DEFAULT_FILTER.to_owned();
    };
    match value.parse::<LevelFilter>() {
        // A more verbose filter compares greater; others get the quieter of warn and the level.
        Ok(level) => {
            format!("{OWN_TARGET}={level},{}", level.min(LevelFilter::WARN)).to_lowercase()
        }
        Err(_) => value.to_owned(),
    }
}

/// stderr for log lines: a write that fails is dropped silently. Nobody is left to read the
/// line, and the daemon must go on deciding whatever happened to its terminal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Claimed written either way: a short or failed write must not make the caller retry.
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Installs the global subscriber, filtered by `RUST_LOG` as `filter_directives` reads it.
/// `journald` drops timestamps.
pub fn init(format: LogFormat, journald: bool) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let directives = filter_directives(rust_log.as_deref());
    let (filter, invalid) = match EnvFilter::builder().parse(&directives) {
        Ok(filter) => (filter, None),
        Err(e) => (EnvFilter::new(DEFAULT_FILTER), Some(e)),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !journald;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .log_internal_errors(false)
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
    if let Some(error) = invalid {
        tracing::warn!(
            rust_log = directives,
            error = %error,
            default = DEFAULT_FILTER,
            "RUST_LOG is not a valid filter; using the default"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_applies_to_this_program_and_other_crates_stay_at_warn() {
        for (rust_log, expected) in [
            (None, "cloudreve_autoselect=info,warn"),
            (Some(""), "cloudreve_autoselect=info,warn"),
            (Some("info"), "cloudreve_autoselect=info,warn"),
            (Some(" INFO "), "cloudreve_autoselect=info,warn"),
            (Some("debug"), "cloudreve_autoselect=debug,warn"),
            (Some("trace"), "cloudreve_autoselect=trace,warn"),
            (Some("warn"), "cloudreve_autoselect=warn,warn"),
            (Some("error"), "cloudreve_autoselect=error,error"),
            (Some("off"), "cloudreve_autoselect=off,off"),
            (Some("debug,hyper=trace"), "debug,hyper=trace"),
            (
                Some("cloudreve_autoselect=debug"),
                "cloudreve_autoselect=debug",
            ),
        ] {
            assert_eq!(filter_directives(rust_log), expected, "{rust_log:?}");
        }
    }

    #[test]
    fn the_filters_keep_the_schedulers_info_out() {
        use tracing_subscriber::layer::SubscriberExt as _;
        for rust_log in [None, Some("info")] {
            let filter = EnvFilter::builder()
                .parse(filter_directives(rust_log))
                .unwrap();
            let subscriber = tracing_subscriber::registry().with(filter);
            tracing::subscriber::with_default(subscriber, || {
                assert!(tracing::enabled!(
                    target: "tokio_cron_scheduler::job_scheduler",
                    tracing::Level::WARN
                ));
                assert!(!tracing::enabled!(
                    target: "tokio_cron_scheduler::job_scheduler",
                    tracing::Level::INFO
                ));
                assert!(tracing::enabled!(
                    target: "cloudreve_autoselect::daemon",
                    tracing::Level::INFO
                ));
                assert!(!tracing::enabled!(
                    target: "cloudreve_autoselect::daemon",
                    tracing::Level::DEBUG
                ));
            });
        }
    }
}
