//! `healthcheck`: whether the heartbeat is fresh and healthy.

use std::time::Duration;

use super::{Exit, Output};
use crate::config::{self, EnvLookup};
use crate::daemon::{self};

pub(super) fn healthcheck(
    path: &std::path::Path,
    max_age: Option<Duration>,
    env: EnvLookup<'_>,
) -> Output {
    let config = match config::load(path, env) {
        Ok(config) => config,
        Err(e) => return Output::failure(Exit::Failure, format!("unhealthy: {e}")),
    };
    let now = chrono::Utc::now();
    let max_age = max_age
        .unwrap_or_else(|| crate::healthcheck::default_max_age(&config.daemon.schedule, now));
    let several = config.accounts.len() > 1;
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for account in &config.accounts {
        let heartbeat = daemon::heartbeat_path(&account.state_file);
        let prefix = if several {
            format!("account {}: ", account.name)
        } else {
            String::new()
        };
        match crate::healthcheck::check(&heartbeat, max_age, now) {
            Ok(line) => healthy.push(format!("{prefix}{line}")),
            Err(line) => unhealthy.push(format!("{prefix}{line}")),
        }
    }
    if unhealthy.is_empty() {
        Output::success(format!("{}\n", healthy.join("\n")))
    } else {
        Output {
            exit: Exit::Failure,
            stdout: healthy.iter().fold(String::new(), |mut out, line| {
                out.push_str(line);
                out.push('\n');
                out
            }),
            stderr: unhealthy.join("\n"),
        }
    }
}
