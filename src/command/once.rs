//! `once`: one tick of every account, then exit.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::check::{FetchedInMemory, fetch_in_memory};
use super::wiring::{build_daemons, check_servers};
use super::{Exit, Output, load};
use crate::config::{Config, EnvLookup};
use crate::daemon::Daemon;
use crate::report::TickReport;

/// For `once`: the lists a running daemon would fetch now (no copy, or an old one) are fetched
/// first, and kept as the daemon keeps them; in a dry run they are only held in memory.
pub(super) async fn once_blocklists(
    config: Config,
    path: &std::path::Path,
    env: EnvLookup<'_>,
    dry_run: bool,
) -> Result<Config, Output> {
    let due: Vec<crate::blocklist_fetch::UrlBlocklist> =
        crate::blocklist_fetch::url_blocklists(&config)
            .into_iter()
            .filter(crate::blocklist_fetch::is_due)
            .collect();
    if due.is_empty() {
        return Ok(config);
    }
    if dry_run {
        let urls = due.into_iter().map(|list| list.url).collect();
        let FetchedInMemory { config, errors, .. } =
            fetch_in_memory(config, path, env, urls).await?;
        for line in errors.lines() {
            tracing::warn!("{}", line.trim_start_matches("error: "));
        }
        return Ok(config);
    }
    let downloader = match crate::blocklist_fetch::downloader(&config) {
        Ok(downloader) => downloader,
        Err(e) => {
            tracing::error!(error = %e, "cannot fetch shared lists");
            return Ok(config);
        }
    };
    let mut updated = false;
    for list in &due {
        match crate::blocklist_fetch::refresh(&downloader, list).await {
            Ok(refreshed) => updated |= refreshed == crate::blocklist_fetch::Refreshed::Updated,
            Err(e) => {
                tracing::warn!(rule = %list.rule, error = %e, "could not fetch a shared list");
            }
        }
    }
    if !updated {
        return Ok(config);
    }
    load(path, env)
}

pub(super) async fn once(path: &std::path::Path, dry_run: bool, env: EnvLookup<'_>) -> Output {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let config = match once_blocklists(config, path, env, dry_run).await {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    crate::rules_watch::log_inactive_blocklists(&config);
    let daemons: Vec<Arc<Daemon>> = match build_daemons(&config, dry_run, env, false, false) {
        Ok((daemons, _)) => daemons.into_iter().map(Arc::new).collect(),
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = check_servers(&daemons).await {
        return outcome;
    }
    // Every account at once: one slow server does not hold up the others.
    let reports = tick_all(&daemons).await;
    let notified_by = tokio::time::Instant::now() + Duration::from_secs(10);
    for daemon in &daemons {
        daemon.flush_sinks(notified_by).await;
    }
    let several = daemons.len() > 1;
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut exit = Exit::Success;
    for (daemon, report) in daemons.iter().zip(&reports) {
        let daemon: &Daemon = daemon;
        let account = if several {
            format!("account {}: ", daemon.account())
        } else {
            String::new()
        };
        if daemon.settings().dry_run {
            for plan in report.plans.iter().filter(|p| {
                p.changes().is_some() || matches!(p.resolution, crate::plan::Resolution::Refused(_))
            }) {
                let _ = writeln!(stdout, "{}", plan.render(crate::cloudreve::draw_patch));
            }
            let _ = writeln!(
                stdout,
                "{account}dry run: {}; nothing was sent",
                report.summary()
            );
        }
        if !report.succeeded() {
            exit = Exit::Failure;
        }
        let line = match (&report.error, report.failed(), &report.state_error) {
            (Some(e), _, _) => format!("error: {account}{e}"),
            (None, 0, None) => continue,
            (None, 0, Some(e)) => format!("error: {account}{e}"),
            (None, failed, _) => format!(
                "error: {account}{failed} task(s) could not be changed or may not have been; see the log"
            ),
        };
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        stderr.push_str(&line);
    }
    Output {
        exit,
        stdout,
        stderr,
    }
}

/// One tick of every daemon, concurrently; the reports in the daemons' order.
pub(super) async fn tick_all(daemons: &[Arc<Daemon>]) -> Vec<TickReport> {
    let mut set = tokio::task::JoinSet::new();
    for (n, daemon) in daemons.iter().enumerate() {
        let daemon = Arc::clone(daemon);
        set.spawn(async move { (n, daemon.tick().await) });
    }
    let mut reports: Vec<(usize, TickReport)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(e) => tracing::error!(error = %e, "a tick task ended abnormally"),
        }
    }
    reports.sort_by_key(|(n, _)| *n);
    reports.into_iter().map(|(_, report)| report).collect()
}
