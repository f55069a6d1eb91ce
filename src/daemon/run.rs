//! `run`: ticks wired to the cron schedule, signals, reloads and shutdown, one worker per
//! account.

use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::reload::Reload;
use super::scheduler::{Reloader, RunError, Trigger, notify, start_scheduler};
use super::{Daemon, RecheckSchedule, TickScope};
use crate::config::Config;

/// How `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// A signal asked to stop and the daemon stopped cleanly.
    Stopped,
    /// A second signal arrived during shutdown: stop at once.
    Forced,
}

/// Options of `run`.
pub struct RunOptions {
    /// The config the daemon started with.
    pub config: Config,
    /// Reads the config again (SIGHUP).
    pub reload: Reloader,
    /// `--dry-run` given on the command line: stays on across reloads.
    pub force_dry_run: bool,
    /// How long shutdown waits for the tick in flight.
    pub grace: Duration,
}

/// The service: a tick at start-up and on every cron fire, never overlapping; SIGHUP reloads
/// the rules; SIGTERM/SIGINT stop after the request in flight; a second signal stops at once.
/// One worker per account: an account's outage or slow server never delays another's tick.
/// The daemons must share one shutdown token ([`Daemon::with_shutdown`]).
pub async fn run(daemons: Vec<Arc<Daemon>>, options: RunOptions) -> Result<RunExit, RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;
    let RunOptions {
        config: running,
        reload,
        force_dry_run,
        grace,
    } = options;
    // The schedule in force: a reload changes it.
    let schedule = running.daemon.schedule.clone();

    // Before each tick a worker asks whether the rules changed (rules_watch).
    let (precheck_tx, mut precheck_rx) = mpsc::channel(1);
    let interval = Arc::new(std::sync::Mutex::new(schedule.interval(chrono::Utc::now())));
    let (triggers, workers) = spawn_workers(&daemons, &precheck_tx, &interval);
    drop(precheck_tx);
    let scheduler = start_scheduler(schedule.as_str(), triggers.clone()).await?;
    if let Some(next) = schedule.next_runs(chrono::Utc::now(), 1).first() {
        tracing::info!(schedule = schedule.as_str(), next_run = %next, accounts = daemons.len(), "scheduler started (UTC)");
    }
    let mut watchdog =
        sd_notify::watchdog_enabled().map(|timeout| tokio::time::interval(timeout / 2));
    let shutdown = daemons
        .first()
        .map_or_else(CancellationToken::new, |d| d.shutdown_token());
    let mut applied = Reload {
        rules_watch: crate::rules_watch::RulesWatch::new(&running),
        blocklists: crate::blocklist_fetch::Refresher::spawn(&running, shutdown.clone()),
        config: running.clone(),
        running,
        schedule,
        scheduler,
        triggers,
        interval,
        read_config: reload,
        force_dry_run,
    };

    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!(signal = "SIGTERM", "shutting down"); break; }
            _ = interrupt.recv() => { tracing::info!(signal = "SIGINT", "shutting down"); break; }
            () = shutdown.cancelled() => break,
            (trigger, ack) = next_reload(&mut hangup, &mut precheck_rx, &mut applied.rules_watch, &applied.config) => {
                applied.apply(trigger, ack, &daemons).await;
            }
            () = async { match watchdog.as_mut() { Some(w) => { w.tick().await; } None => std::future::pending().await } } => {
                if workers.iter().any(tokio::task::JoinHandle::is_finished) {
                    tracing::error!("a worker stopped; no more watchdog pings");
                } else if let Some(daemon) = daemons.iter().find(|d| d.is_wedged()) {
                    tracing::error!(account = daemon.account(), quiet_secs = daemon.time_since_progress().map_or(0, |d| d.as_secs()), deadline_secs = daemon.client().step_deadline().as_secs(), "the tick in flight is wedged; no more watchdog pings, systemd will restart the service");
                } else {
                    notify(&[sd_notify::NotifyState::Watchdog]);
                }
            }
        }
    }

    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = applied.scheduler.shutdown().await;
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + grace;
    tokio::select! {
        joined = drain(&daemons, workers, deadline) => {
            if joined.is_err() {
                tracing::warn!(grace_secs = grace.as_secs(), "the tick in flight did not finish within the grace period");
            }
            tracing::info!("stopped");
            Ok(RunExit::Stopped)
        }
        _ = terminate.recv() => Ok(RunExit::Forced),
        _ = interrupt.recv() => Ok(RunExit::Forced),
    }
}

/// One worker per daemon, each with a start-up trigger queued: the senders for the scheduler
/// and the workers' handles.
fn spawn_workers(
    daemons: &[Arc<Daemon>],
    precheck: &mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    interval: &Arc<std::sync::Mutex<Duration>>,
) -> (Vec<mpsc::Sender<Trigger>>, Vec<tokio::task::JoinHandle<()>>) {
    let mut triggers = Vec::new();
    let mut workers = Vec::new();
    for daemon in daemons {
        let (trigger_tx, trigger_rx) = mpsc::channel::<Trigger>(1);
        let _ = trigger_tx.try_send(Trigger::Startup);
        triggers.push(trigger_tx);
        workers.push(tokio::spawn(worker_loop(
            Arc::clone(daemon),
            trigger_rx,
            precheck.clone(),
            Arc::clone(interval),
        )));
    }
    (triggers, workers)
}

/// Waits for the workers, then lets every daemon's sinks flush, all by `deadline`; an error if
/// the workers did not finish in time.
async fn drain(
    daemons: &[Arc<Daemon>],
    workers: Vec<tokio::task::JoinHandle<()>>,
    deadline: tokio::time::Instant,
) -> Result<(), tokio::time::error::Elapsed> {
    let all_workers = async {
        for worker in workers {
            let _ = worker.await;
        }
    };
    let joined = tokio::time::timeout_at(deadline, all_workers).await;
    // The daemons may share sinks; a second flush of a sink finds nothing left.
    for daemon in daemons {
        daemon.flush_sinks(deadline).await;
    }
    joined
}

/// What wakes a reload: SIGHUP, or a tick about to start while the rules changed on disk. A
/// tick about to start with unchanged rules is let go at once (after logging inactive lists).
async fn next_reload(
    hangup: &mut tokio::signal::unix::Signal,
    precheck: &mut mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
    watch: &mut crate::rules_watch::RulesWatch,
    config: &Config,
) -> (&'static str, Option<tokio::sync::oneshot::Sender<()>>) {
    loop {
        tokio::select! {
            _ = hangup.recv() => return ("SIGHUP", None),
            ack = precheck.recv() => {
                let Some(ack) = ack else {
                    // The worker is gone: only a signal can ask for a reload now.
                    let _ = hangup.recv().await;
                    return ("SIGHUP", None);
                };
                if watch.changed() {
                    return ("rules file changed", Some(ack));
                }
                crate::rules_watch::log_inactive_blocklists(config);
                let _ = ack.send(());
            }
        }
    }
}

/// The single worker: runs a tick per trigger and the metadata re-checks, one at a time.
async fn worker_loop(
    daemon: Arc<Daemon>,
    mut triggers: mpsc::Receiver<Trigger>,
    precheck: mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    interval: Arc<std::sync::Mutex<Duration>>,
) {
    let shutdown = daemon.shutdown_token();
    let mut announced_ready = false;
    let mut rechecks = RecheckSchedule::default();
    loop {
        let next_due = rechecks.next_due();
        let scope = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            trigger = triggers.recv() => match trigger {
                Some(trigger) => {
                    tracing::debug!(?trigger, "tick triggered");
                    TickScope::All
                }
                None => break,
            },
            () = async {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => TickScope::Only(rechecks.due(tokio::time::Instant::now())),
        };
        // Let `run` reload changed rules before this tick.
        let (ack, reloaded) = tokio::sync::oneshot::channel();
        if precheck.send(ack).await.is_ok() {
            tokio::select! {
                _ = reloaded => {}
                () = shutdown.cancelled() => break,
            }
        }
        let report = daemon.tick_scoped(&scope).await;
        if !announced_ready {
            notify(&[sd_notify::NotifyState::Ready]);
            announced_ready = true;
        }
        let rechecked = match &scope {
            TickScope::All => BTreeSet::new(),
            TickScope::Only(ids) => ids.clone(),
        };
        // A tick that learned nothing (the list failed, or it did not run) leaves the waiting
        // tasks waiting: a re-check among them still backs off, so a failing server is not
        // asked again at once, and again.
        let pending = if report.skipped_overlap || report.error.is_some() {
            rechecked.clone()
        } else {
            report.metadata_pending()
        };
        if (report.skipped_overlap || report.error.is_some()) && rechecked.is_empty() {
            continue;
        }
        let interval = *interval.lock().unwrap_or_else(PoisonError::into_inner);
        rechecks.after_tick(
            tokio::time::Instant::now(),
            &pending,
            &rechecked,
            daemon.settings().metadata_recheck,
            interval,
        );
    }
}
