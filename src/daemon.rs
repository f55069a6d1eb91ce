//! The imperative shell: one tick (sign in, list, plan, PATCH, record), and `run`, which wires
//! ticks to the cron schedule, signals, reloads and shutdown.
//!
//! Invariants: ticks never overlap (one worker task runs them; the cron job and the metadata
//! re-check only send it a trigger, and `tick` itself holds a lock); a failing task never
//! aborts a tick; a task's decisions are written ahead (journal + fsync) before its PATCH is
//! sent, and a PATCH whose outcome is unknown stays decided; state is pruned only after a
//! complete, well-formed list; shutdown finishes the request in flight and is bounded by a
//! grace period. A tick yields a [`TickReport`]: per-task outcomes and operator events that the
//! log summary, the heartbeat and the exit status read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use crate::cloudreve::{self, Client, Delivery};

mod refusal;
use crate::config::Config;
use crate::escape::Escaped;
use crate::outcome::{ChangedFile, OperatorEvent, TaskOutcome, TaskResult};
use crate::plan::{self, FileAction, Outcome, Plan};
use crate::rules::RuleSet;
use crate::sink::TickSink;
use crate::state::StateStore;
use crate::task::{SkippedTask, TaskId};

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

    /// The reloadable part of a config for one account (its own `dry_run` adds to the
    /// daemon's).
    pub fn for_account(config: &Config, account: &str, force_dry_run: bool) -> Self {
        let own = config
            .accounts
            .iter()
            .any(|a| a.name == account && a.dry_run);
        Self::from_config(config, force_dry_run || own)
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

/// What one tick did: the per-task outcomes and operator events, and how the tick ended.
#[derive(Debug, Default)]
pub struct TickReport {
    /// The account this tick worked for.
    pub account: String,
    /// Tasks in the list.
    pub seen: usize,
    /// One entry per task in scope, in list order.
    pub tasks: Vec<TaskOutcome>,
    /// Tasks the list carried in a shape the daemon could not read.
    pub skipped: Vec<SkippedTask>,
    /// Incidents that opened or cleared with this tick.
    pub events: Vec<OperatorEvent>,
    /// Tasks forgotten because they left the list.
    pub pruned: usize,
    /// Plans of the tasks in scope that sent or refused something; in a dry run, or for a
    /// daemon [`Daemon::keeping_all_plans`], of every task in scope. (Not all of them
    /// otherwise: at ten thousand tasks they would cost more memory than the list.)
    pub plans: Vec<Plan>,
    /// Sign-in or listing failed: the tick did nothing.
    pub error: Option<cloudreve::Error>,
    /// The state could not be written.
    pub state_error: Option<String>,
    /// The tick did not run because another one was running.
    pub skipped_overlap: bool,
    /// The tick stopped early because of shutdown.
    pub interrupted: bool,
    /// A dry run: nothing was sent or recorded.
    pub dry_run: bool,
    /// How long the tick took.
    pub duration: Duration,
    /// What needs attention soon, though the tick went well (an OAuth token near its expiry).
    pub warnings: Vec<String>,
}

impl TickReport {
    fn count(&self, pred: impl Fn(&TaskResult) -> bool) -> usize {
        self.tasks.iter().filter(|t| pred(&t.result)).count()
    }

    fn changed_files(&self, download: bool) -> usize {
        self.tasks
            .iter()
            .map(|t| match &t.result {
                TaskResult::Changed { files } => {
                    files.iter().filter(|f| f.download == download).count()
                }
                _ => 0,
            })
            .sum()
    }

    /// Tasks whose selection could be changed.
    pub fn eligible(&self) -> usize {
        self.count(|r| {
            !matches!(
                r,
                TaskResult::WaitingForMetadata | TaskResult::Ineligible { .. }
            )
        })
    }

    /// `PATCHes` answered with success (in a dry run: that would be sent).
    pub fn patched(&self) -> usize {
        self.count(|r| matches!(r, TaskResult::Changed { .. }))
    }

    /// Files deselected by those `PATCHes`.
    pub fn deselected(&self) -> usize {
        self.changed_files(false)
    }

    /// Files selected by those `PATCHes`.
    pub fn selected(&self) -> usize {
        self.changed_files(true)
    }

    /// Bytes deselected by those `PATCHes`.
    pub fn bytes_deselected(&self) -> u64 {
        self.tasks
            .iter()
            .fold(0u64, |sum, t| sum.saturating_add(t.bytes_deselected()))
    }

    /// Tasks whose plan was refused (it would have deselected every file).
    pub fn refused(&self) -> usize {
        self.count(|r| matches!(r, TaskResult::Refused { .. }))
    }

    /// Tasks that finished between the list and their PATCH.
    pub fn finished(&self) -> usize {
        self.count(|r| matches!(r, TaskResult::Finished))
    }

    /// Tasks whose PATCH failed or whose outcome is unknown.
    pub fn failed(&self) -> usize {
        self.count(TaskResult::is_failure)
    }

    /// Otherwise eligible tasks still waiting for metadata.
    pub fn metadata_pending(&self) -> BTreeSet<TaskId> {
        self.tasks
            .iter()
            .filter(|t| t.result == TaskResult::WaitingForMetadata)
            .map(|t| t.task_id.clone())
            .collect()
    }

    /// One line of counts, for people (a dry run's says what it would do).
    pub fn summary(&self) -> String {
        if self.dry_run {
            let tasks = self.patched();
            return format!(
                "would deselect {} files ({}) in {tasks} {}, select {}; {} seen, {} eligible, {} refused, {} waiting for metadata, {} unreadable",
                self.deselected(),
                crate::rules::ByteSize(self.bytes_deselected()),
                if tasks == 1 { "task" } else { "tasks" },
                self.selected(),
                self.seen,
                self.eligible(),
                self.refused(),
                self.metadata_pending().len(),
                self.skipped.len(),
            );
        }
        format!(
            "{} seen, {} eligible, {} patched, {} deselected ({}), {} selected, {} refused, {} finished, {} failed, {} waiting for metadata, {} unreadable",
            self.seen,
            self.eligible(),
            self.patched(),
            self.deselected(),
            crate::rules::ByteSize(self.bytes_deselected()),
            self.selected(),
            self.refused(),
            self.finished(),
            self.failed(),
            self.metadata_pending().len(),
            self.skipped.len(),
        )
    }

    /// Every eligible task was handled and the server was reached.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && self.failed() == 0
            && self.state_error.is_none()
            && !self.skipped_overlap
    }

    /// The tick failed for a reason only a person can fix (sign-in refused, token rejected,
    /// state not writable), with that reason.
    pub fn needs_operator(&self) -> Option<String> {
        if let Some(e) = self.error.as_ref().filter(|e| e.needs_operator()) {
            return Some(e.to_string());
        }
        if let Some(e) = &self.state_error {
            return Some(e.clone());
        }
        self.tasks.iter().find_map(|t| match &t.result {
            TaskResult::StateNotWritable { error } | TaskResult::GaveUp { error } => {
                Some(error.clone())
            }
            _ => None,
        })
    }
}

/// The daemon: a client, the current settings, and the state.
pub struct Daemon {
    account: String,
    keep_all_plans: bool,
    client: Client,
    settings: RwLock<Arc<Settings>>,
    state: Mutex<StateStore>,
    running: Mutex<()>,
    heartbeat: Option<PathBuf>,
    shutdown: CancellationToken,
    /// When the running tick last made progress (started, listed, finished a task).
    progress: std::sync::Mutex<Option<Instant>>,
    /// What consumes every tick's report besides the log (notifier, metrics).
    sinks: Vec<Arc<dyn TickSink>>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("account", &self.account)
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

/// The heartbeat's status word: `ok`, `warning` (all went well, but something needs attention
/// soon: an OAuth token near its expiry), `degraded` (the server or a task failed; the daemon
/// tries again by itself) or `needs-operator` (only a person can fix it).
pub fn heartbeat_line(report: &TickReport, now: chrono::DateTime<chrono::Utc>) -> String {
    let (status, detail) = if let Some(reason) = report.needs_operator() {
        ("needs-operator", reason)
    } else if let Some(e) = &report.error {
        ("degraded", e.to_string())
    } else if report.failed() > 0 {
        ("degraded", format!("{} task(s) failed", report.failed()))
    } else if !report.warnings.is_empty() {
        ("warning", report.warnings.join("; "))
    } else {
        ("ok", report.summary())
    };
    // One line, whatever the messages hold.
    let detail = detail.replace(['\n', '\r'], " ");
    format!("{} {status}: {detail}\n", now.to_rfc3339())
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
            account: crate::config::DEFAULT_ACCOUNT.to_owned(),
            keep_all_plans: false,
            client,
            settings: RwLock::new(Arc::new(settings)),
            state: Mutex::new(state),
            running: Mutex::new(()),
            heartbeat,
            shutdown: CancellationToken::new(),
            progress: std::sync::Mutex::new(None),
            sinks: Vec::new(),
        }
    }

    /// The same daemon, handing every tick's report to `sinks` as well.
    #[must_use]
    pub fn with_sinks(mut self, sinks: Vec<Arc<dyn TickSink>>) -> Self {
        self.sinks = sinks;
        self
    }

    /// Lets every sink finish what it can before `deadline` (shutdown).
    pub async fn flush_sinks(&self, deadline: tokio::time::Instant) {
        for sink in &self.sinks {
            sink.flush(deadline).await;
        }
    }

    /// This daemon works for the account `name` (logs and reports carry it).
    #[must_use]
    pub fn for_account(mut self, name: &str) -> Self {
        name.clone_into(&mut self.account);
        self
    }

    /// Every tick's report keeps the plans of all tasks in scope (for `demo`).
    #[must_use]
    pub fn keeping_all_plans(mut self) -> Self {
        self.keep_all_plans = true;
        self
    }

    /// The account's name.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Shares another daemon's shutdown token, so one signal stops every account.
    #[must_use]
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        self.shutdown = token;
        self
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

    fn mark_progress(&self, running: bool) {
        *self.progress.lock().unwrap_or_else(PoisonError::into_inner) = running.then(Instant::now);
    }

    /// How long the running tick has gone without progress, if a tick is running.
    pub fn time_since_progress(&self) -> Option<Duration> {
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map(|t| t.elapsed())
    }

    /// Whether the running tick is wedged: no progress for longer than the slowest step
    /// (one task's sign-in, refresh, PATCH and retry) can take with the client's timeouts and
    /// retries. A tick with many slow `PATCHes` makes progress after each; a wedged one does not.
    pub fn is_wedged(&self) -> bool {
        self.time_since_progress()
            .is_some_and(|quiet| quiet > self.client.step_deadline())
    }

    /// One full poll of every listed task.
    pub async fn tick(&self) -> TickReport {
        self.tick_scoped(&TickScope::All).await
    }

    /// One poll limited to `scope`.
    #[tracing::instrument(name = "tick", skip_all, fields(account = %self.account))]
    pub async fn tick_scoped(&self, scope: &TickScope) -> TickReport {
        let started = Instant::now();
        let Ok(_running) = self.running.try_lock() else {
            tracing::warn!("previous tick still running; this one is skipped");
            return TickReport {
                skipped_overlap: true,
                ..TickReport::default()
            };
        };
        self.mark_progress(true);
        let settings = self.settings();
        let mut report = TickReport {
            account: self.account.clone(),
            dry_run: settings.dry_run,
            ..TickReport::default()
        };
        self.tick_inner(scope, &settings, &mut report).await;
        report.duration = started.elapsed();
        self.mark_progress(false);
        self.write_heartbeat(&report);
        log_report(&report);
        for sink in &self.sinks {
            sink.observe(&self.account, &report);
        }
        report
    }

    async fn tick_inner(&self, scope: &TickScope, settings: &Settings, report: &mut TickReport) {
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
        self.mark_progress(true);
        let mut state = self.state.lock().await;
        let list = match listed {
            Ok(list) => list,
            Err(e) => {
                Self::list_failed(e, &mut state, settings, report);
                return;
            }
        };
        let expiring = self.token_expiry(&mut state, report);
        for skipped in &list.skipped {
            tracing::warn!(task = %Escaped(skipped.id.as_deref().unwrap_or("(unreadable id)")), reason = %skipped.reason, "task skipped: the list shows it malformed");
        }
        report.seen = list.tasks.len();
        // A skipped task is still listed; one without a readable id makes pruning unsafe.
        if !settings.dry_run
            && let Some(listed_ids) = list.listed_ids()
        {
            report.pruned = state.prune(&listed_ids, chrono::Utc::now());
        }
        report.skipped.clone_from(&list.skipped);
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
            let plan = plan::plan(task, &settings.rules, state.decided_ref(&task.id));
            let result = self.handle_plan(&plan, settings, &mut state).await;
            if let TaskResult::StateNotWritable { error } = &result {
                open_incident(
                    &mut state,
                    OperatorEvent::StateNotWritable {
                        message: error.clone(),
                    },
                    report,
                );
            }
            if let TaskResult::GaveUp { error } = &result {
                let message = format!("task {} ({}): {error}", plan.task_id, plan.task_name);
                open_incident(&mut state, OperatorEvent::PatchRefused { message }, report);
            }
            report.tasks.push(TaskOutcome {
                task_id: plan.task_id.clone(),
                task_name: plan.task_name.clone(),
                result,
            });
            if settings.dry_run
                || self.keep_all_plans
                || matches!(plan.outcome, Outcome::Apply(_) | Outcome::Refused(_))
            {
                report.plans.push(plan);
            }
            self.mark_progress(true);
        }
        if report.error.is_none() && report.needs_operator().is_none() {
            let kept: &[&str] = if expiring.is_some() {
                &["token_expiring"]
            } else {
                &[]
            };
            let closed = state.close_incidents_except(kept);
            if !closed.is_empty() {
                tracing::info!(incidents = %closed.join(","), "recovered");
                report
                    .events
                    .push(OperatorEvent::Recovered { kinds: closed });
            }
        }
        Self::save(&mut state, settings, report);
    }

    /// A tick whose sign-in or list failed: an incident when only a person can fix it, and the
    /// report and state saved with nothing pruned or sent.
    fn list_failed(
        e: cloudreve::Error,
        state: &mut StateStore,
        settings: &Settings,
        report: &mut TickReport,
    ) {
        if e.needs_operator() {
            tracing::error!(error = %e, "cannot sign in to Cloudreve; fix the account or config");
            let event = match e {
                cloudreve::Error::RefreshTokenRejected { .. }
                | cloudreve::Error::OAuthTokenRejected { .. } => OperatorEvent::TokenRejected {
                    message: e.to_string(),
                },
                _ => OperatorEvent::SignInRefused {
                    message: e.to_string(),
                },
            };
            open_incident(state, event, report);
        } else {
            tracing::warn!(error = %e, "cannot list downloads; nothing pruned or sent, will try again next tick");
        }
        report.error = Some(e);
        Self::save(state, settings, report);
    }

    fn save(state: &mut StateStore, settings: &Settings, report: &mut TickReport) {
        if settings.dry_run {
            return;
        }
        if let Err(e) = state.save() {
            tracing::error!(error = %e, "could not write the state file; decisions stay in its journal");
            report.state_error = Some(e.to_string());
        }
    }

    #[tracing::instrument(skip_all, fields(task_id = %plan.task_id))]
    async fn handle_plan(
        &self,
        plan: &Plan,
        settings: &Settings,
        state: &mut StateStore,
    ) -> TaskResult {
        for file in &plan.files {
            if let Some(rule) = file.verdict.rule() {
                tracing::debug!(index = file.index, path = %Escaped(&file.path), size = file.size.bytes(), %rule, action = ?file.action, "file decided");
            }
        }
        match &plan.outcome {
            Outcome::Ineligible(reason) => {
                tracing::debug!(task = %Escaped(&plan.task_name), %reason, "task left alone");
                return if reason.is_metadata_pending() {
                    TaskResult::WaitingForMetadata
                } else {
                    TaskResult::Ineligible {
                        reason: reason.to_string(),
                    }
                };
            }
            Outcome::Refused(plan::Refusal::AllDeselected { files }) => {
                let first_time = settings.dry_run || state.mark_refused(&plan.task_id);
                let reason = plan.reason_for_nothing().unwrap_or_default();
                if first_time {
                    tracing::warn!(task = %Escaped(&plan.task_name), "{reason}");
                } else {
                    tracing::debug!(task = %Escaped(&plan.task_name), "{reason}");
                }
                return TaskResult::Refused {
                    first_time,
                    files: *files,
                };
            }
            Outcome::NoChange | Outcome::Apply(_) => {}
        }
        let touched = changed_files(plan);
        if settings.dry_run {
            if let Some(body) = plan.patch_body() {
                tracing::info!(task = %Escaped(&plan.task_name), deselected = touched.iter().filter(|f| !f.download).count(), selected = touched.iter().filter(|f| f.download).count(), rules = %rules_of(&touched), %body, "dry run: would change the selection");
                return TaskResult::Changed { files: touched };
            }
            return TaskResult::NoChange;
        }
        if plan.changes().is_some()
            && let Some(result) = refusal::backoff(plan, state, chrono::Utc::now())
        {
            return result;
        }
        // Write ahead: every decision of this task is durable before anything is sent.
        if let Err(e) = state.decide(&plan.task_id, &plan.decisions()) {
            tracing::error!(task = %Escaped(&plan.task_name), error = %e, "could not record the decisions; nothing sent for this task");
            return TaskResult::StateNotWritable {
                error: e.to_string(),
            };
        }
        let Some(changes) = plan.changes() else {
            tracing::debug!(task = %Escaped(&plan.task_name), "nothing to send");
            return TaskResult::NoChange;
        };
        let deselected = touched.iter().filter(|f| !f.download).count();
        let selected = touched.len() - deselected;
        let rules = rules_of(&touched);
        match self.client.set_selection(&plan.task_id, changes).await {
            Ok(()) => {
                let bytes = touched
                    .iter()
                    .filter(|f| !f.download)
                    .fold(0u64, |sum, f| sum.saturating_add(f.size));
                tracing::info!(task = %Escaped(&plan.task_name), deselected, selected, bytes_deselected = bytes, %rules, "selection changed");
                state.clear_patch_refusals(&plan.task_id);
                for file in touched.iter().filter(|f| !f.download) {
                    state.count_deselected(&file.rule, 1, file.size);
                }
                TaskResult::Changed { files: touched }
            }
            Err(e) => {
                let indices: Vec<u64> = changes.iter().map(|c| c.index).collect();
                match e.delivery {
                    Delivery::NotSent | Delivery::NotApplied => {
                        refusal::withdraw(plan, state, &indices, &e, chrono::Utc::now())
                    }
                    Delivery::Gone => {
                        tracing::info!(task = %Escaped(&plan.task_name), "task finished or left the monitor phase before its PATCH; nothing to do");
                        TaskResult::Finished
                    }
                    Delivery::Unknown => {
                        let files: Vec<String> = touched
                            .iter()
                            .map(|f| format!("{} ({})", f.index, Escaped(&f.path)))
                            .collect();
                        tracing::warn!(task = %Escaped(&plan.task_name), error = %e, files = %files.join(", "), "the PATCH may not have been applied; these files count as decided and are not sent again: check them in Cloudreve's web UI");
                        state.mark_outcome_unknown(&plan.task_id, &indices);
                        TaskResult::Uncertain {
                            files: touched,
                            error: e.to_string(),
                        }
                    }
                }
            }
        }
    }

    /// An OAuth token near its expiry: a warning in the heartbeat and one notification per
    /// incident (kept open while it holds). Whether it is near.
    fn token_expiry(&self, state: &mut StateStore, report: &mut TickReport) -> Option<()> {
        let grant = self.client.oauth_grant()?;
        let message = grant.expiry_warning(&self.account, chrono::Utc::now())?;
        tracing::warn!("{message}");
        report.warnings.push(message.clone());
        open_incident(state, OperatorEvent::TokenExpiring { message }, report);
        Some(())
    }

    fn write_heartbeat(&self, report: &TickReport) {
        let Some(path) = &self.heartbeat else { return };
        if report.skipped_overlap {
            return;
        }
        let line = heartbeat_line(report, chrono::Utc::now());
        if let Err(e) = crate::durable::write_atomically(path, line.as_bytes()) {
            tracing::warn!(path = %path.display(), error = %e, "could not write the heartbeat file");
        }
    }
}

/// Opens an incident in the state; reports it once per incident.
fn open_incident(state: &mut StateStore, event: OperatorEvent, report: &mut TickReport) {
    if state.open_incident(event.kind(), &chrono::Utc::now().to_rfc3339()) {
        report.events.push(event);
    }
}

/// The files a plan changes, each with its deciding rule.
fn changed_files(plan: &Plan) -> Vec<ChangedFile> {
    plan.files
        .iter()
        .filter_map(|f| match f.action {
            FileAction::Send(download) => Some(ChangedFile {
                index: f.index,
                path: f.path.to_string(),
                size: f.size.bytes(),
                rule: f
                    .verdict
                    .rule()
                    .map_or_else(String::new, |r| r.as_str().to_owned()),
                download,
            }),
            FileAction::Nothing | FileAction::AlreadyAsWanted | FileAction::DecidedBefore => None,
        })
        .collect()
}

fn rules_of(files: &[ChangedFile]) -> String {
    let rules: BTreeSet<&str> = files.iter().map(|f| f.rule.as_str()).collect();
    rules.into_iter().collect::<Vec<_>>().join(",")
}

/// The tick's summary line: fields first, at info.
fn log_report(report: &TickReport) {
    if report.skipped_overlap {
        return;
    }
    if report.dry_run {
        tracing::info!(
            seen = report.seen,
            would_patch = report.patched(),
            would_deselect = report.deselected(),
            would_select = report.selected(),
            refused = report.refused(),
            duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
            "dry run finished: {}; nothing was sent",
            report.summary()
        );
        return;
    }
    tracing::info!(
        seen = report.seen,
        eligible = report.eligible(),
        patched = report.patched(),
        deselected = report.deselected(),
        bytes_deselected = report.bytes_deselected(),
        selected = report.selected(),
        refused = report.refused(),
        finished = report.finished(),
        failed = report.failed(),
        waiting_for_metadata = report.metadata_pending().len(),
        unreadable = report.skipped.len(),
        pruned = report.pruned,
        dry_run = report.dry_run,
        duration_ms = u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
        "tick finished"
    );
}

/// When to look again at tasks still waiting for metadata: each task's delay starts at
/// `metadata_recheck` and doubles after every re-check that still finds no files; once it
/// exceeds the schedule's interval the task gets no extra requests (the scheduled ticks still
/// see it). A task whose files appear is forgotten, so its next wait starts over.
#[derive(Debug, Default)]
pub struct RecheckSchedule {
    /// Per waiting task: its current delay and when it is due (`None`: backed off fully).
    tasks: BTreeMap<TaskId, (Duration, Option<tokio::time::Instant>)>,
}

impl RecheckSchedule {
    /// Takes in the tasks a tick found waiting. `rechecked` are the tasks that tick was a
    /// re-check of (empty for a scheduled tick).
    pub fn after_tick(
        &mut self,
        now: tokio::time::Instant,
        pending: &BTreeSet<TaskId>,
        rechecked: &BTreeSet<TaskId>,
        first_delay: Duration,
        interval: Duration,
    ) {
        // A full tick forgets every task it no longer found waiting; a re-check only the tasks
        // it looked at.
        self.tasks.retain(|id, _| {
            pending.contains(id) || (!rechecked.is_empty() && !rechecked.contains(id))
        });
        if first_delay.is_zero() {
            self.tasks.clear();
            return;
        }
        for id in pending {
            match self.tasks.get_mut(id) {
                None => {
                    self.tasks
                        .insert(id.clone(), (first_delay, Some(now + first_delay)));
                }
                Some((delay, due)) if rechecked.contains(id) => {
                    *delay = delay.saturating_mul(2);
                    *due = (*delay <= interval).then(|| now + *delay);
                }
                Some(_) => {}
            }
        }
    }

    /// When the next re-check is due.
    pub fn next_due(&self) -> Option<tokio::time::Instant> {
        self.tasks.values().filter_map(|(_, due)| *due).min()
    }

    /// The tasks due at `now`.
    pub fn due(&self, now: tokio::time::Instant) -> BTreeSet<TaskId> {
        self.tasks
            .iter()
            .filter(|(_, (_, due))| due.is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect()
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

/// The settings of `new` that differ from those the process runs with and that only a
/// restart applies, by their config key.
pub fn restart_needed(running: &Config, new: &Config) -> Vec<String> {
    let mut keys = Vec::new();
    let names = |c: &Config| {
        c.accounts
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    };
    if names(running) != names(new) {
        keys.push("the accounts ([server] and [[account]] tables)".to_owned());
    }
    for old in &running.accounts {
        let Some(now) = new.accounts.iter().find(|a| a.name == old.name) else {
            continue;
        };
        let prefix = if old.name == crate::config::DEFAULT_ACCOUNT {
            "server".to_owned()
        } else {
            format!("account \"{}\"", old.name)
        };
        for key in server_differences(&old.server, &now.server) {
            keys.push(format!("{prefix}.{key}"));
        }
        if old.state_file != now.state_file {
            keys.push(if old.name == crate::config::DEFAULT_ACCOUNT {
                "daemon.state_file".to_owned()
            } else {
                format!("daemon.state_file (account \"{}\")", old.name)
            });
        }
    }
    if running.notify != new.notify {
        keys.push("notify".to_owned());
    }
    if running.metrics != new.metrics {
        keys.push("metrics".to_owned());
    }
    keys
}

fn server_differences(
    a: &crate::config::ServerConfig,
    b: &crate::config::ServerConfig,
) -> Vec<&'static str> {
    use crate::config::PasswordSetting;
    use secrecy::ExposeSecret as _;
    let same_password = match (&a.password, &b.password) {
        (PasswordSetting::File(x), PasswordSetting::File(y)) => x == y,
        (PasswordSetting::Inline(x), PasswordSetting::Inline(y)) => {
            x.expose_secret() == y.expose_secret()
        }
        (PasswordSetting::FromEnvironment, PasswordSetting::FromEnvironment) => true,
        _ => false,
    };
    [
        ("url", a.url != b.url),
        ("email", a.email != b.email),
        ("password/password_file", !same_password),
        (
            "refresh_token_file",
            a.refresh_token_file != b.refresh_token_file,
        ),
        ("oauth_client_id/token_file", a.oauth != b.oauth),
        ("timeout", a.timeout != b.timeout),
        ("connect_timeout", a.connect_timeout != b.connect_timeout),
        ("retries", a.retries != b.retries),
        ("ca_file", a.ca_file != b.ca_file),
        (
            "accept_invalid_certs",
            a.accept_invalid_certs != b.accept_invalid_certs,
        ),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
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
    // What the process runs with (accounts, servers, state files): only a restart changes it.
    let running = options.config;
    // The schedule and rules in force: a reload changes them.
    let mut schedule = running.daemon.schedule.clone();

    // The rules in force, as last applied (the rules watch and the shared lists follow it).
    let mut config = running.clone();
    // Before each tick a worker asks whether the rules changed (rules_watch).
    let (precheck_tx, mut precheck_rx) = mpsc::channel(1);
    let interval = Arc::new(std::sync::Mutex::new(schedule.interval(chrono::Utc::now())));
    let (triggers, workers) = spawn_workers(&daemons, &precheck_tx, &interval);
    drop(precheck_tx);
    let mut scheduler = start_scheduler(schedule.as_str(), triggers.clone()).await?;
    if let Some(next) = schedule.next_runs(chrono::Utc::now(), 1).first() {
        tracing::info!(schedule = schedule.as_str(), next_run = %next, accounts = daemons.len(), "scheduler started (UTC)");
    }
    let mut watchdog =
        sd_notify::watchdog_enabled().map(|timeout| tokio::time::interval(timeout / 2));
    let shutdown = daemons
        .first()
        .map_or_else(CancellationToken::new, |d| d.shutdown_token());
    let mut rules_watch = crate::rules_watch::RulesWatch::new(&config);
    let lists = crate::list_fetch::Refresher::spawn(&config, shutdown.clone());

    loop {
        tokio::select! {
            _ = terminate.recv() => { tracing::info!(signal = "SIGTERM", "shutting down"); break; }
            _ = interrupt.recv() => { tracing::info!(signal = "SIGINT", "shutting down"); break; }
            () = shutdown.cancelled() => break,
            (trigger, ack) = next_reload(&mut hangup, &mut precheck_rx, &mut rules_watch, &config) => {
                tracing::info!(trigger, "reloading the rules");
                notify(&[sd_notify::NotifyState::Reloading]);
                if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
                    notify(&[now]);
                }
                // Stamp the files before reading them: a change made meanwhile is seen again.
                rules_watch.changed();
                match (options.reload)() {
                    Ok(new) => {
                        for warning in &new.warnings {
                            tracing::warn!("{warning}");
                        }
                        if new.daemon.schedule.as_str() != schedule.as_str() {
                            match start_scheduler(new.daemon.schedule.as_str(), triggers.clone()).await {
                                Ok(replacement) => {
                                    let _ = scheduler.shutdown().await;
                                    scheduler = replacement;
                                    schedule = new.daemon.schedule.clone();
                                    *interval.lock().unwrap_or_else(PoisonError::into_inner) = schedule.interval(chrono::Utc::now());
                                }
                                Err(e) => tracing::error!(error = %e, "could not apply the new schedule; keeping the old one"),
                            }
                        }
                        // Named at every reload until a restart applies them.
                        let pending = restart_needed(&running, &new);
                        if !pending.is_empty() {
                            tracing::warn!(settings = %pending.join(", "), "these settings changed but apply only after a restart; the daemon keeps using the old values");
                        }
                        for daemon in &daemons {
                            daemon.replace_settings(Settings::for_account(&new, daemon.account(), options.force_dry_run));
                        }
                        tracing::info!(rules = new.rules.rules().len(), globs = new.rules.glob_count(), schedule = schedule.as_str(), dry_run = new.daemon.dry_run || options.force_dry_run, metadata_recheck = ?new.daemon.metadata_recheck, "rules reloaded");
                        rules_watch.follow(&new);
                        lists.update(&new);
                        config = new;
                    }
                    Err(e) => tracing::error!("rules not reloaded, keeping the previous rules: {e}"),
                }
                notify(&[sd_notify::NotifyState::Ready]);
                if let Some(ack) = ack {
                    crate::rules_watch::log_inactive_lists(&config);
                    let _ = ack.send(());
                }
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
    let _ = scheduler.shutdown().await;
    shutdown.cancel();
    let deadline = tokio::time::Instant::now() + options.grace;
    tokio::select! {
        joined = drain(&daemons, workers, deadline) => {
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

async fn start_scheduler(
    schedule: &str,
    triggers: Vec<mpsc::Sender<Trigger>>,
) -> Result<tokio_cron_scheduler::JobScheduler, RunError> {
    use tokio_cron_scheduler::{Job, JobScheduler};
    let failed = |e: tokio_cron_scheduler::JobSchedulerError| RunError::Scheduler(e.to_string());
    let scheduler = JobScheduler::new().await.map_err(failed)?;
    let job = Job::new_async(schedule, move |_id, _scheduler| {
        let triggers = triggers.clone();
        Box::pin(async move {
            for trigger in &triggers {
                if trigger.try_send(Trigger::Cron).is_err() {
                    tracing::debug!("a tick is already pending; this fire is coalesced");
                }
            }
        })
    })
    .map_err(failed)?;
    scheduler.add(job).await.map_err(failed)?;
    scheduler.start().await.map_err(failed)?;
    Ok(scheduler)
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
                crate::rules_watch::log_inactive_lists(config);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(names: &[&str]) -> BTreeSet<TaskId> {
        names.iter().map(|n| TaskId::new(*n)).collect()
    }

    /// Simulates the worker's timing with a clock of our own: scheduled ticks every
    /// `schedule`, re-checks whenever the schedule says one is due, for `span`; returns how
    /// many lists the daemon would make.
    fn lists_made(schedule: Duration, recheck: Duration, span: Duration) -> usize {
        let start = tokio::time::Instant::now();
        let waiting = ids(&["magnet"]);
        let mut rechecks = RecheckSchedule::default();
        let mut next_scheduled = start;
        let mut lists = 0;
        loop {
            let due = rechecks.next_due();
            let (now, scope) = match due {
                Some(d) if d < next_scheduled => (d, rechecks.due(d)),
                _ => {
                    let now = next_scheduled;
                    next_scheduled += schedule;
                    (now, BTreeSet::new())
                }
            };
            if now > start + span {
                return lists;
            }
            lists += 1;
            rechecks.after_tick(now, &waiting, &scope, recheck, schedule);
        }
    }

    #[test]
    fn a_dead_magnet_costs_few_extra_lists() {
        // Schedule every 10 s, re-check after 1 s, one magnet that never resolves, 40 s:
        // 5 scheduled lists plus re-checks at 1, 3, 7 and 15 s.
        let lists = lists_made(
            Duration::from_secs(10),
            Duration::from_secs(1),
            Duration::from_secs(40),
        );
        assert!(lists <= 14, "{lists} lists in 40 s");
        assert_eq!(lists, 9);
    }

    #[test]
    fn a_task_whose_files_appear_starts_its_backoff_over() {
        let now = tokio::time::Instant::now();
        let mut rechecks = RecheckSchedule::default();
        let second = Duration::from_secs(1);
        let interval = Duration::from_secs(60);
        rechecks.after_tick(now, &ids(&["a"]), &BTreeSet::new(), second, interval);
        assert_eq!(rechecks.next_due(), Some(now + second));
        rechecks.after_tick(now + second, &ids(&["a"]), &ids(&["a"]), second, interval);
        assert_eq!(rechecks.next_due(), Some(now + second * 3));
        // Its files appear: forgotten.
        rechecks.after_tick(
            now + second * 3,
            &BTreeSet::new(),
            &ids(&["a"]),
            second,
            interval,
        );
        assert_eq!(rechecks.next_due(), None);
        // It waits again later: the delay starts over.
        rechecks.after_tick(
            now + second * 10,
            &ids(&["a"]),
            &BTreeSet::new(),
            second,
            interval,
        );
        assert_eq!(rechecks.next_due(), Some(now + second * 11));
    }

    fn config(text: &str) -> Config {
        let none = |_: &str| None;
        crate::config::parse(text, std::path::Path::new("/etc/cra/rules.toml"), &none).unwrap()
    }

    #[test]
    fn every_setting_that_needs_a_restart_is_named_until_restarted() {
        let running = config(
            "[server]\nurl = \"https://a.example\"\nemail = \"bot@example.com\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n",
        );
        let edited = config(
            "[server]\nurl = \"https://b.example\"\nemail = \"bot@example.com\"\ntimeout = \"10s\"\n[daemon]\nstate_file = \"/srv/state.json\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = [\"*.exe\", \"*.url\"]\n",
        );
        assert_eq!(
            restart_needed(&running, &edited),
            vec!["server.url", "server.timeout", "daemon.state_file"]
        );
        let with_account = config(
            "[server]\nurl = \"https://a.example\"\nemail = \"bot@example.com\"\n[[account]]\nname = \"bob\"\nurl = \"https://b.example\"\nemail = \"b@example.com\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n",
        );
        assert_eq!(
            restart_needed(&running, &with_account),
            vec!["the accounts ([server] and [[account]] tables)"]
        );
        // A second reload that changes only rules still names them: the comparison is with
        // what the process runs with, not with the previous reload.
        let rules_only = config(
            "[server]\nurl = \"https://b.example\"\nemail = \"bot@example.com\"\ntimeout = \"10s\"\n[daemon]\nstate_file = \"/srv/state.json\"\n[[rule]]\nname = \"j\"\naction = \"skip\"\nglob = \"*.exe\"\n",
        );
        assert_eq!(restart_needed(&running, &rules_only).len(), 3);
        assert!(restart_needed(&running, &running).is_empty());
    }

    #[test]
    fn a_step_may_take_as_long_as_its_timeouts_and_retries_allow() {
        let api = url::Url::parse("http://127.0.0.1:9/api/v4/").unwrap();
        let mut options = crate::cloudreve::ClientOptions::new(api, "a@b.c".into(), "pw".into());
        options.timeout = Duration::from_secs(30);
        options.retries = 3;
        options.retry_max_delay = Duration::from_secs(10);
        let slow = Client::new(options.clone()).unwrap().step_deadline();
        // Every call of a step may use all its attempts and back-off: far beyond 600 s.
        assert!(
            slow >= Duration::from_secs(5 * (4 * 30 + 3 * 10)),
            "{slow:?}"
        );
        options.timeout = Duration::from_secs(2);
        options.retries = 0;
        let fast = Client::new(options).unwrap().step_deadline();
        assert!(fast < Duration::from_secs(60), "{fast:?}");
    }

    #[test]
    fn a_tick_is_wedged_only_after_a_step_without_progress() {
        let api = url::Url::parse("http://127.0.0.1:9/api/v4/").unwrap();
        let mut options = crate::cloudreve::ClientOptions::new(api, "a@b.c".into(), "pw".into());
        options.timeout = Duration::from_secs(2);
        options.retries = 0;
        let daemon = Daemon::new(
            Client::new(options).unwrap(),
            Settings {
                rules: Arc::new(RuleSet::new(Vec::new(), crate::rules::OnAllJunk::Leave).unwrap()),
                dry_run: false,
                metadata_recheck: Duration::ZERO,
            },
            StateStore::in_memory(),
            None,
        );
        let deadline = daemon.client().step_deadline();
        // No tick running: never wedged.
        assert!(!daemon.is_wedged());
        // A long tick that made progress a moment ago (after each of many slow PATCHes).
        daemon.mark_progress(true);
        assert!(!daemon.is_wedged());
        // The same tick, silent for longer than any step can take.
        let Some(long_ago) = Instant::now().checked_sub(deadline + Duration::from_secs(1)) else {
            return;
        };
        *daemon.progress.lock().unwrap() = Some(long_ago);
        assert!(daemon.is_wedged());
        daemon.mark_progress(false);
        assert!(!daemon.is_wedged());
    }

    #[test]
    fn a_recheck_leaves_the_other_waiting_tasks_as_they_were() {
        let now = tokio::time::Instant::now();
        let second = Duration::from_secs(1);
        let interval = Duration::from_secs(60);
        let mut rechecks = RecheckSchedule::default();
        rechecks.after_tick(now, &ids(&["a"]), &BTreeSet::new(), second, interval);
        rechecks.after_tick(
            now + second / 2,
            &ids(&["a", "b"]),
            &BTreeSet::new(),
            second,
            interval,
        );
        // The re-check of a (its files appeared) says nothing of b, still due at 1.5 s.
        rechecks.after_tick(
            now + second,
            &BTreeSet::new(),
            &ids(&["a"]),
            second,
            interval,
        );
        assert_eq!(rechecks.next_due(), Some(now + second + second / 2));
        assert_eq!(rechecks.due(now + second * 2), ids(&["b"]));
        // A re-check whose list failed learned nothing: b still waits, twice as long.
        rechecks.after_tick(
            now + second * 2,
            &ids(&["b"]),
            &ids(&["b"]),
            second,
            interval,
        );
        assert_eq!(rechecks.next_due(), Some(now + second * 4));
    }

    #[test]
    fn zero_recheck_disables_rechecks() {
        let now = tokio::time::Instant::now();
        let mut rechecks = RecheckSchedule::default();
        rechecks.after_tick(
            now,
            &ids(&["a"]),
            &BTreeSet::new(),
            Duration::ZERO,
            Duration::from_secs(10),
        );
        assert_eq!(rechecks.next_due(), None);
    }
}
