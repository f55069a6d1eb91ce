//! A tick's report: its per-task outcomes and operator events, and the counts every consumer
//! (the log summary, the heartbeat, the exit status, the notifier, the metrics) reads.
//! It carries the client's error of a failed list, so it sits beside the shell's modules, not
//! in the pure core with `outcome`; the consumers import it from here, never from `daemon`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cloudreve;
use crate::outcome::{OperatorEvent, TaskOutcome, TaskResult};
use crate::plan::Plan;
use crate::task::{SkippedTask, TaskId};

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
    /// daemon `keeping_all_plans`, of every task in scope. (Not all of them
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
