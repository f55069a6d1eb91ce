//! What the state remembers of PATCH outcomes besides decisions: how often Cloudreve refused a
//! task's PATCH in a row (the daemon's back-off reads it), which files were sent with an unknown
//! outcome (`explain` names them), and `forget`, which lets an operator re-open a task.
//!
//! These fields are optional in the version 2 format: older files read without them, and an
//! older program reading a newer file ignores them (the document has no `deny_unknown_fields`).

use serde::{Deserialize, Serialize};

use super::{JournalEntry, StateError, StateStore};
use crate::task::TaskId;

/// A task's PATCH requests that Cloudreve refused in a row, each answered "nothing was done".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchRefusals {
    /// How many in a row.
    pub count: u32,
    /// The first of them (RFC 3339).
    pub first: String,
    /// The last of them (RFC 3339).
    pub last: String,
    /// The daemon gave up on this task: nothing is sent until an operator runs `forget`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gave_up: bool,
}

impl StateStore {
    /// The refusals of this task's PATCH requests since its last applied one.
    pub fn patch_refusals(&self, task_id: &TaskId) -> Option<&PatchRefusals> {
        self.document
            .tasks
            .get(task_id.as_str())
            .and_then(|r| r.patch_refusals.as_ref())
    }

    /// Counts one more refusal of this task's PATCH at `now` (RFC 3339); returns the record.
    pub fn record_patch_refusal(&mut self, task_id: &TaskId, now: &str) -> PatchRefusals {
        let record = self
            .document
            .tasks
            .entry(task_id.as_str().to_owned())
            .or_default();
        let refusals = record.patch_refusals.get_or_insert_with(|| PatchRefusals {
            count: 0,
            first: now.to_owned(),
            last: now.to_owned(),
            gave_up: false,
        });
        refusals.count = refusals.count.saturating_add(1);
        now.clone_into(&mut refusals.last);
        self.dirty = true;
        refusals.clone()
    }

    /// Marks that the daemon gave up sending this task's PATCH.
    pub fn give_up_patching(&mut self, task_id: &TaskId) {
        if let Some(refusals) = self
            .document
            .tasks
            .get_mut(task_id.as_str())
            .and_then(|r| r.patch_refusals.as_mut())
        {
            refusals.gave_up = true;
            self.dirty = true;
        }
    }

    /// Forgets the refusals of a task whose PATCH was applied.
    pub fn clear_patch_refusals(&mut self, task_id: &TaskId) {
        if let Some(record) = self.document.tasks.get_mut(task_id.as_str())
            && record.patch_refusals.take().is_some()
        {
            self.dirty = true;
        }
    }

    /// Whether the daemon gave up on any task.
    pub fn gave_up_on_any(&self) -> bool {
        self.document
            .tasks
            .values()
            .any(|r| r.patch_refusals.as_ref().is_some_and(|p| p.gave_up))
    }

    /// Marks files whose PATCH got no clear answer (sent, outcome unknown).
    pub fn mark_outcome_unknown(&mut self, task_id: &TaskId, indices: &[u64]) {
        let record = self
            .document
            .tasks
            .entry(task_id.as_str().to_owned())
            .or_default();
        record.unknown.extend(indices);
        self.dirty |= !indices.is_empty();
    }

    /// Files of this task sent with an unknown outcome.
    pub fn outcome_unknown(&self, task_id: &TaskId) -> Vec<u64> {
        self.document
            .tasks
            .get(task_id.as_str())
            .map(|r| r.unknown.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Removes everything the state holds of a task (its decisions, refusals and unknown
    /// outcomes) and writes the state, so the next tick judges its files afresh. Returns how
    /// many decided files were forgotten, or `None` if the state knew nothing of the task.
    pub fn forget(&mut self, task_id: &TaskId) -> Result<Option<usize>, StateError> {
        let Some(record) = self.document.tasks.get(task_id.as_str()) else {
            return Ok(None);
        };
        let indices: Vec<u64> = record.decided.keys().copied().collect();
        // Withdrawn through the journal first, as a PATCH that never left is, so a crash before
        // the full write below cannot bring the decisions back.
        self.append(JournalEntry {
            task: task_id.as_str().to_owned(),
            decide: Vec::new(),
            retract: indices.clone(),
            files: Vec::new(),
        })?;
        self.document.tasks.remove(task_id.as_str());
        self.dirty = true;
        self.save()?;
        Ok(Some(indices.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_unknown_outcomes_survive_a_restart_and_forget_clears_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let task = TaskId::new("t");
        {
            let (mut store, _) = StateStore::open(&path).unwrap();
            store
                .decide(
                    &task,
                    &[crate::task::SelectionChange {
                        index: 2,
                        download: false,
                    }],
                )
                .unwrap();
            store.record_patch_refusal(&task, "2026-01-01T00:00:00+00:00");
            store.record_patch_refusal(&task, "2026-01-01T00:01:00+00:00");
            store.mark_outcome_unknown(&task, &[2]);
            store.save().unwrap();
        }
        let (mut store, _) = StateStore::open(&path).unwrap();
        let refusals = store.patch_refusals(&task).unwrap();
        assert_eq!(
            (refusals.count, refusals.first.as_str()),
            (2, "2026-01-01T00:00:00+00:00")
        );
        assert_eq!(store.outcome_unknown(&task), [2]);
        assert_eq!(store.forget(&task).unwrap(), Some(1));
        drop(store);
        let (store, _) = StateStore::open(&path).unwrap();
        assert!(store.decided(&task).is_empty());
        assert!(store.patch_refusals(&task).is_none());
        assert!(store.outcome_unknown(&task).is_empty());
    }

    #[test]
    fn a_version_2_file_without_the_new_fields_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"version":2,"tasks":{"a":{"decided":{"4":false},"refused":true}}}"#,
        )
        .unwrap();
        let store = StateStore::read_only(&path).unwrap();
        assert!(store.patch_refusals(&TaskId::new("a")).is_none());
        assert_eq!(store.decided(&TaskId::new("a")).len(), 1);
    }
}
