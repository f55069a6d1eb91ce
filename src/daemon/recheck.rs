//! The metadata re-check schedule: when to look again at tasks still waiting for metadata.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::task::TaskId;

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
