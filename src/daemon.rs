//! The imperative shell: one tick (sign in, list, plan, PATCH, record), and `run`, which wires
//! ticks to the cron schedule, signals, reloads and shutdown.
//!
//! Invariants: ticks never overlap (one worker task runs them; the cron job and the metadata
//! re-check only send it a trigger, and `tick` itself holds a lock); a failing task never
//! aborts a tick; a decision is recorded durably before the next task is handled; shutdown
//! finishes the request in flight and is bounded by a grace period.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cloudreve::{self, Client};
use crate::config::Config;
use crate::plan::{self, FileAction, Outcome, Plan};
use crate::rules::RuleSet;
use crate::state::StateStore;
use crate::task::TaskId;

/// The settings a reload may change without a restart.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The rules.
    pub rules: Arc<RuleSet>,
    /// Plan and log only.
    pub dry_run: bool,
    /// Delay before re-checking tasks that wait for metadata (zero disables).
    pub metadata_recheck: Duration,
}

impl Settings {
    /// The reloadable part of a config.
    pub fn from_config(config: &Config, force_dry_run: bool) -> Self {
        Self {
            rules: Arc::new(config.rules.clone()),
            dry_run: config.daemon.dry_run || force_dry_run,
            metadata_recheck: config.daemon.metadata_recheck,
        }
    }
}

/// Which tasks a tick looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickScope {
    /// Every listed task.
    All,
    /// Only these (the metadata re-check).
    Only(BTreeSet<TaskId>),
}

/// What one tick did.
#[derive(Debug, Default)]
pub struct TickReport {
    /// Tasks in the list.
    pub seen: usize,
    /// Tasks whose selection could be changed.
    pub eligible: usize,
    /// `PATCHes` sent (or, in a dry run, that would have been sent).
    pub patched: usize,
    /// Files deselected by those `PATCHes`.
    pub deselected: usize,
    /// Files selected by those `PATCHes`.
    pub selected: usize,
    /// Tasks whose plan was refused (it would have deselected every file).
    pub refused: usize,
    /// Tasks whose PATCH failed.
    pub failed: usize,
    /// Tasks forgotten because they left the list.
    pub pruned: usize,
    /// Otherwise eligible tasks still waiting for metadata.
    pub metadata_pending: BTreeSet<TaskId>,
    /// Plans of the tasks in scope, for dry runs, `demo` and tests.
    pub plans: Vec<Plan>,
    /// Sign-in or listing failed: the tick did nothing.
    pub error: Option<cloudreve::Error>,
    /// The state could not be written.
    pub state_error: Option<String>,
    /// The tick did not run because another one was running.
    pub skipped_overlap: bool,
    /// The tick stopped early because of shutdown.
    pub interrupted: bool,
    /// How long the tick took.
    pub duration: Duration,
}

impl TickReport {
    /// One line of counts, for people.
    pub fn summary(&self) -> String {
        format!(
            "{} seen, {} eligible, {} patched, {} deselected, {} selected, {} refused, {} failed, {} waiting for metadata",
            self.seen,
            self.eligible,
            self.patched,
            self.deselected,
            self.selected,
            self.refused,
            self.failed,
            self.metadata_pending.len()
        )
    }

    /// Every eligible task was handled and the server was reached.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self.failed == 0
            && self.state_error.is_none()
            && !self.skipped_overlap
    }
}

/// The daemon: a client, the current settings, and the state.
pub struct Daemon {
    client: Client,
    settings: RwLock<Arc<Settings>>,
    state: Mutex<StateStore>,
    running: Mutex<()>,
    heartbeat: Option<PathBuf>,
    shutdown: CancellationToken,
    tick_started: std::sync::Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// The heartbeat file that sits beside a state file.
pub fn heartbeat_path(state_file: &std::path::Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".heartbeat");
    PathBuf::from(name)
}

impl Daemon {
    /// A daemon. `heartbeat`, when set, is rewritten after every tick.
    pub fn new(
        client: Client,
        settings: Settings,
        state: StateStore,
        heartbeat: Option<PathBuf>,
    ) -> Self {
        Self {
            client,
            settings: RwLock::new(Arc::new(settings)),
            state: Mutex::new(state),
            running: Mutex::new(()),
            heartbeat,
            shutdown: CancellationToken::new(),
            tick_started: std::sync::Mutex::new(None),
        }
    }

    /// The token that stops the daemon: ticks stop between tasks once it is cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The current settings.
    pub fn settings(&self) -> Arc<Settings> {
        Arc::clone(&self.settings.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in new settings; the next tick uses them.
    pub fn replace_settings(&self, settings: Settings) {
        *self
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(settings);
    }

    /// How long the current tick has been running, if one is.
    pub fn current_tick_age(&self) -> Option<Duration> {
        self.tick_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|t| t.elapsed())
    }

    /// One full poll of every listed task.
    pub async fn tick(&self) -> TickReport {
        self.tick_scoped(&TickScope::All).await
    }

    /// One poll limited to `scope`.
    #[tracing::instrument(name = "tick", skip_all)]
    pub async fn tick_scoped(&self, scope: &TickScope) -> TickReport {
        let started = Instant::now();
        let Ok(_running) = self.running.try_lock() else {
            tracing::warn!("previous tick still running; this one is skipped");
            return TickReport {
                skipped_overlap: true,
                ..TickReport::default()
            };
        };
        *self
            .tick_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(started);
        let mut report = TickReport::default();
        self.tick_inner(scope, &mut report).await;
        report.duration = started.elapsed();
        *self
            .tick_started
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        self.write_heartbeat(&report);
        let settings = self.settings();
        tracing::info!(
            seen = report.seen,
            eligible = report.eligible,
            patched = report.patched,
            deselected = report.deselected,
            selected = report.selected,
            refused = report.refused,
            failed = report.failed,
            waiting_for_metadata = report.metadata_pending.len(),
            dry_run = settings.dry_run,
            duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            "tick finished"
        );
        report
    }

    async fn tick_inner(&self, scope: &TickScope, report: &mut TickReport) {
        let settings = self.settings();
        let listed = tokio::select! {
            () = self.shutdown.cancelled() => {
                report.interrupted = true;
                return;
            }
            listed = async {
                self.client.ensure_signed_in().await?;
                self.client.list_downloading().await
            } => listed,
        };
        let list = match listed {
            Ok(list) => list,
            Err(e) => {
                if e.needs_operator() {
                    tracing::error!(error = %e, "cannot sign in to Cloudreve; fix the account or config");
                } else {
                    tracing::warn!(error = %e, "cannot list downloads; will try again next tick");
                }
                report.error = Some(e);
                return;
            }
        };
        for skipped in &list.skipped {
            tracing::warn!(task = skipped.id.as_deref().unwrap_or("(unreadable id)"), reason = %skipped.reason, "task skipped: the list shows it malformed");
        }
        report.seen = list.tasks.len();
        let mut state = self.state.lock().await;
        // A skipped task is still listed; one without a readable id makes pruning unsafe.
        if !settings.dry_run
            && let Some(listed_ids) = list.listed_ids()
        {
            report.pruned = state.prune(&listed_ids);
        }
        for task in &list.tasks {
            if let TickScope::Only(ids) = scope
                && !ids.contains(&task.id)
            {
                continue;
            }
            if self.shutdown.is_cancelled() {
                report.interrupted = true;
                break;
            }
            let plan = plan::plan(task, &settings.rules, &state.decided(&task.id));
            self.handle_plan(&plan, &settings, &mut state, report).await;
            report.plans.push(plan);
        }
        if !settings.dry_run
            && let Err(e) = state.save()
        {
            tracing::error!(error = %e, "could not write the state file");
            report.state_error = Some(e.to_string());
        }
    }

    #[tracing::instrument(skip_all, fields(task_id = %plan.task_id))]
    async fn handle_plan(
        &self,
        plan: &Plan,
        settings: &Settings,
        state: &mut StateStore,
        report: &mut TickReport,
    ) {
        match &plan.outcome {
            Outcome::Ineligible(reason) => {
                if reason.is_metadata_pending() {
                    report.metadata_pending.insert(plan.task_id.clone());
                }
                tracing::debug!(task = %plan.task_name, %reason, "task skipped");
                return;
            }
            Outcome::NoChange => {
                report.eligible += 1;
                tracing::debug!(task = %plan.task_name, "nothing to change");
            }
            Outcome::Refused(_) => {
                report.eligible += 1;
                report.refused += 1;
                let first = settings.dry_run || state.mark_refused(&plan.task_id);
                let reason = plan.reason_for_nothing().unwrap_or_default();
                if first {
                    tracing::warn!(task = %plan.task_name, "{reason}");
                } else {
                    tracing::debug!(task = %plan.task_name, "{reason}");
                }
            }
            Outcome::Apply(_) => report.eligible += 1,
        }
        for file in &plan.files {
            if let Some(rule) = file.verdict.rule() {
                tracing::debug!(index = file.index, path = %file.path, size = file.size.bytes(), %rule, action = ?file.action, "file decided");
            }
        }
        let Some(changes) = plan.changes() else {
            return;
        };
        let deselected = changes.iter().filter(|c| !c.download).count();
        let selected = changes.len() - deselected;
        let rules: BTreeSet<&str> = plan
            .files
            .iter()
            .filter(|f| matches!(f.action, FileAction::Send(_)))
            .filter_map(|f| f.verdict.rule().map(crate::rules::RuleName::as_str))
            .collect();
        let rules = rules.into_iter().collect::<Vec<_>>().join(",");
        if settings.dry_run {
            tracing::info!(task = %plan.task_name, deselected, selected, %rules, body = plan.patch_body().unwrap_or_default(), "dry run: would change the selection");
            report.patched += 1;
            report.deselected += deselected;
            report.selected += selected;
            return;
        }
        match self.client.set_selection(&plan.task_id, changes).await {
            Ok(()) => {
                tracing::info!(task = %plan.task_name, deselected, selected, %rules, "selection changed");
                report.patched += 1;
                report.deselected += deselected;
                report.selected += selected;
                if let Err(e) = state.record(&plan.task_id, changes) {
                    tracing::error!(error = %e, "could not record the decision; it may be sent again");
                    report.state_error = Some(e.to_string());
                }
            }
            Err(e) => {
                report.failed += 1;
                if e.api_code() == Some(404) {
                    tracing::warn!(error = %e, "task can no longer be changed (it finished or left the monitor phase)");
                } else {
                    tracing::warn!(error = %e, "could not change the selection; will try again next tick");
                }
            }
        }
    }

    fn write_heartbeat(&self, report: &TickReport) {
        let Some(path) = &self.heartbeat else { return };
        let outcome = match (&report.error, report.failed) {
            _ if report.skipped_overlap => return,
            (Some(e), _) => format!("error: {e}"),
            (None, 0) => "ok".to_owned(),
            (None, failed) => format!("{failed} task(s) failed"),
        };
        let line = format!("{} {outcome}\n", chrono::Utc::now().to_rfc3339());
        if let Err(e) = crate::state::write_atomically(path, line.as_bytes()) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the heartbeat file");
        }
    }
}

/// Why a tick is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Startup,
    Cron,
}

/// How `run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunExit {
    /// A signal asked to stop and the daemon stopped cleanly.
    Stopped,
    /// A second signal arrived during shutdown: stop at once.
    Forced,
}

/// `run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The scheduler failed.
    #[error("the scheduler failed: {0}")]
    Scheduler(String),
    /// Signal handlers could not be installed.
    #[error("could not install signal handlers: {0}")]
    Signals(#[source] std::io::Error),
}

/// How to reload the config on SIGHUP.
pub type Reloader = Box<dyn Fn() -> Result<Config, crate::config::ConfigError> + Send + Sync>;

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

fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// The service: a tick at start-up and on every cron fire, never overlapping; SIGHUP reloads
/// the rules; SIGTERM/SIGINT stop after the request in flight; a second signal stops at once.
pub async fn run(daemon: Arc<Daemon>, options: RunOptions) -> Result<RunExit, RunError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;
    let mut config = options.config;

    let (trigger_tx, trigger_rx) = mpsc::channel::<Trigger>(1);
    let mut scheduler =
        start_scheduler(config.daemon.schedule.as_str(), trigger_tx.clone()).await?;
    if let Some(next) = config
        .daemon
        .schedule
        .next_runs(chrono::Utc::now(), 1)
        .first()
    {
        tracing::info!(schedule = config.daemon.schedule.as_str(), next_run = %next, "scheduler started (UTC)");
    }
    let _ = trigger_tx.try_send(Trigger::Startup);

    let worker = tokio::spawn(worker_loop(Arc::clone(&daemon), trigger_rx));
    let mut watchdog =
        sd_notify::watchdog_enabled().map(|timeout| tokio::time::interval(timeout / 2));
    let shutdown = daemon.shutdown_token();

    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!(signal = "SIGTERM", "shutting down"); break; }
            _ = interrupt.recv() => { tracing::info!(signal = "SIGINT", "shutting down"); break; }
            () = shutdown.cancelled() => break,
            _ = hangup.recv() => {
                notify(&[sd_notify::NotifyState::Reloading]);
                if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
                    notify(&[now]);
                }
                match (options.reload)() {
                    Ok(new) => {
                        for warning in &new.warnings {
                            tracing::warn!("{warning}");
                        }
                        if new.daemon.schedule.as_str() != config.daemon.schedule.as_str() {
                            match start_scheduler(new.daemon.schedule.as_str(), trigger_tx.clone()).await {
                                Ok(replacement) => {
                                    let _ = scheduler.shutdown().await;
                                    scheduler = replacement;
                                }
                                Err(e) => tracing::error!(error = %e, "could not apply the new schedule; keeping the old one"),
                            }
                        }
                        if new.server.api_base != config.server.api_base || new.server.email != config.server.email {
                            tracing::warn!("server settings changed; restart the service to apply them");
                        }
                        if new.daemon.state_file != config.daemon.state_file {
                            tracing::warn!("daemon.state_file changed; restart the service to apply it");
                        }
                        daemon.replace_settings(Settings::from_config(&new, options.force_dry_run));
                        tracing::info!(rules = new.rules.rules().len(), globs = new.rules.glob_count(), "rules reloaded");
                        config = new;
                    }
                    Err(e) => tracing::error!("rules not reloaded, keeping the previous rules: {e}"),
                }
                notify(&[sd_notify::NotifyState::Ready]);
            }
            () = async { match watchdog.as_mut() { Some(w) => { w.tick().await; } None => std::future::pending().await } } => {
                let wedged = daemon.current_tick_age().is_some_and(|age| age > Duration::from_secs(600));
                if !worker.is_finished() && !wedged {
                    notify(&[sd_notify::NotifyState::Watchdog]);
                }
            }
        }
    }

    notify(&[sd_notify::NotifyState::Stopping]);
    let _ = scheduler.shutdown().await;
    shutdown.cancel();
    tokio::select! {
        joined = tokio::time::timeout(options.grace, worker) => {
            if joined.is_err() {
                tracing::warn!(grace_secs = options.grace.as_secs(), "the tick in flight did not finish within the grace period");
            }
            tracing::info!("stopped");
            Ok(RunExit::Stopped)
        }
        _ = terminate.recv() => Ok(RunExit::Forced),
        _ = interrupt.recv() => Ok(RunExit::Forced),
    }
}

async fn start_scheduler(
    schedule: &str,
    trigger: mpsc::Sender<Trigger>,
) -> Result<tokio_cron_scheduler::JobScheduler, RunError> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let failed = |e: tokio_cron_scheduler::JobSchedulerError| RunError::Scheduler(e.to_string());
    let scheduler = JobScheduler::new().await.map_err(failed)?;
    let job = Job::new_async(schedule, move |_id, _scheduler| {
        let trigger = trigger.clone();
        Box::pin(async move {
            if trigger.try_send(Trigger::Cron).is_err() {
                tracing::debug!("a tick is already pending; this fire is coalesced");
            }
        })
    })
    .map_err(failed)?;
    scheduler.add(job).await.map_err(failed)?;
    scheduler.start().await.map_err(failed)?;
    Ok(scheduler)
}

/// The single worker: runs a tick per trigger and the metadata re-checks, one at a time.
async fn worker_loop(daemon: Arc<Daemon>, mut triggers: mpsc::Receiver<Trigger>) {
    let shutdown = daemon.shutdown_token();
    let mut announced_ready = false;
    let mut pending = BTreeSet::new();
    let mut recheck_at: Option<tokio::time::Instant> = None;
    loop {
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
                match recheck_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => TickScope::Only(std::mem::take(&mut pending)),
        };
        let report = daemon.tick_scoped(&scope).await;
        if !announced_ready {
            notify(&[sd_notify::NotifyState::Ready]);
            announced_ready = true;
        }
        if report.skipped_overlap {
            continue;
        }
        pending = report.metadata_pending;
        let delay = daemon.settings().metadata_recheck;
        recheck_at =
            (!pending.is_empty() && !delay.is_zero()).then(|| tokio::time::Instant::now() + delay);
    }
}
