//! One tick: sign in, list, plan, PATCH, record; and the tick's summary line.

use std::collections::BTreeSet;
use std::time::Instant;

use super::{Daemon, Settings, TickScope, heartbeat_line, refusal};
use crate::cloudreve::{self, Delivery};
use crate::escape::Escaped;
use crate::outcome::{ChangedFile, OperatorEvent, TaskOutcome, TaskResult};
use crate::plan::{self, FileAction, Plan, Resolution};
use crate::report::TickReport;
use crate::state::StateStore;

impl Daemon {
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
                || matches!(
                    plan.resolution,
                    Resolution::Apply(_) | Resolution::Refused(_)
                )
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
        match &plan.resolution {
            Resolution::Ineligible(reason) => {
                tracing::debug!(task = %Escaped(&plan.task_name), %reason, "task left alone");
                return if reason.is_metadata_pending() {
                    TaskResult::WaitingForMetadata
                } else {
                    TaskResult::Ineligible {
                        reason: reason.to_string(),
                    }
                };
            }
            Resolution::Refused(plan::Refusal::AllDeselected { files }) => {
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
            Resolution::NoChange | Resolution::Apply(_) => {}
        }
        let touched = changed_files(plan);
        if settings.dry_run {
            if let Some(body) = plan.changes().map(crate::cloudreve::patch_body) {
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
