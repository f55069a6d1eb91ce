//! `notify-test`: a test message to every configured notifier.

use std::fmt::Write as _;

use super::wiring::notify_failure;
use super::{Exit, Output, load};
use crate::config::EnvLookup;
use crate::notify::{self};

pub(super) async fn notify_test(path: &std::path::Path, env: EnvLookup<'_>) -> Output {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    if config.notify.is_empty() {
        return Output::failure(
            Exit::Failure,
            format!(
                "error: {} has no [[notify]] table; nothing to test",
                path.display()
            ),
        );
    }
    let targets = match notify::targets(&config.notify, env, notify::Timeouts::default()) {
        Ok(targets) => targets,
        Err(e) => return notify_failure(&e),
    };
    let accounts: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
    let results = notify::test_all(&targets, &accounts.join(", ")).await;
    let mut stdout = String::new();
    let mut failed = 0;
    for (target, result) in targets.iter().zip(&results) {
        let (name, kind, origin) = (target.name(), target.kind(), target.origin());
        match result {
            Ok(()) => {
                let _ = writeln!(stdout, "ok: {name} ({kind}, {origin})");
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(stdout, "failed: {name} ({kind}, {origin}): {e}");
            }
        }
    }
    if failed == 0 {
        return Output::success(stdout);
    }
    Output {
        exit: Exit::Failure,
        stdout,
        stderr: format!("error: {failed} of {} notifiers failed", targets.len()),
    }
}
