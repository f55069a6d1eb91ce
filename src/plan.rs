//! The decision: which files of one task to select or deselect, and why. Pure.
//!
//! `plan(task, rules, decided)` has no I/O, no async, no clock and no logging. Its invariants,
//! each pinned by a test:
//! 1. Deterministic: the same inputs always give the same `Plan`.
//! 2. Never empty: a plan that would leave no file of the task selected is `Refused`, and
//!    nothing is sent (with qBittorrent Cloudreve would fail the task and delete its data; with
//!    aria2 the call is silently ignored). Files the daemon deselected before count as
//!    deselected even while the server's list still shows them selected.
//! 3. Idempotent: applying the changes of a plan and planning again yields nothing to send.
//! 4. Decide once, and the user's hand wins: the first time the daemon sees a task's real file
//!    list, every file a rule decides is decided, whether or not a change has to be sent
//!    ([`Plan::decisions`] lists them for the state). A file index in `decided` is never sent
//!    again, so whatever the user changes afterwards (re-selecting a skipped file, unticking a
//!    kept one) stays. A refused plan decides nothing.
//! 5. Explainable: every change names the rule that made it.
//! 6. Indices are the server's own (1-based for aria2, 0-based for qBittorrent), never positions.

mod render;

pub use render::DrawPatch;

use std::collections::BTreeMap;

use crate::rules::{Action, ByteSize, MatchScratch, OnAllJunk, Profile, RuleName, RuleSet};
use crate::task::{DownloadTask, Ineligible, SelectionChange, TaskFile, TaskId};

/// What the daemon already decided for one task: file index to the wanted `download` value,
/// whether or not it had to be sent.
pub type Decided = BTreeMap<u64, bool>;

/// What the rules say about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No rule matched: the file is left as it is.
    Untouched,
    /// A `keep` rule matched: the file should be selected.
    Keep(RuleName),
    /// A `skip` rule matched: the file should be deselected.
    Skip(RuleName),
}

impl Verdict {
    /// The wanted `selected` state, if any rule decided.
    pub fn wanted(&self) -> Option<bool> {
        match self {
            Self::Untouched => None,
            Self::Keep(_) => Some(true),
            Self::Skip(_) => Some(false),
        }
    }

    /// The deciding rule, if any.
    pub fn rule(&self) -> Option<&RuleName> {
        match self {
            Self::Untouched => None,
            Self::Keep(rule) | Self::Skip(rule) => Some(rule),
        }
    }
}

/// What happens to one file in this plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileAction {
    /// Nothing: no rule decided, or the task may not be changed now.
    Nothing,
    /// Decided now and already as wanted: recorded, nothing to send.
    AlreadyAsWanted,
    /// Decided now and sent in this plan's PATCH: `true` selects, `false` deselects.
    Send(bool),
    /// The daemon decided this file before; its current state is left to the user.
    DecidedBefore,
}

/// The decision for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDecision {
    /// The server's file index.
    pub index: u64,
    /// Path inside the torrent.
    pub path: crate::task::FilePath,
    /// Size.
    pub size: ByteSize,
    /// Selected according to the server's list.
    pub selected: bool,
    /// What the rules say.
    pub verdict: Verdict,
    /// What this plan does about it.
    pub action: FileAction,
}

/// Why a plan sends nothing although the rules asked for changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Applying the changes would leave no file of the task selected.
    AllDeselected {
        /// How many files the task has.
        files: usize,
    },
}

/// The plan's overall result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The task may not be changed now.
    Ineligible(Ineligible),
    /// Nothing to send.
    NoChange,
    /// Send one PATCH with these changes (sorted by index, never empty).
    Apply(Vec<SelectionChange>),
    /// The rules asked for changes, but sending them is refused.
    Refused(Refusal),
}

/// The decision for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The task.
    pub task_id: TaskId,
    /// The task's (torrent's) name.
    pub task_name: String,
    /// One entry per file, in the server's order.
    pub files: Vec<FileDecision>,
    /// What kind of torrent the task is, from its files; rules with `kind` see it.
    pub profile: Profile,
    /// What to do.
    pub resolution: Resolution,
}

/// Decides over one task. See the module documentation for the invariants.
pub fn plan(task: &DownloadTask, rules: &RuleSet, decided: &Decided) -> Plan {
    let task_name = task.name().to_owned();
    let files = match task.eligible_files() {
        Ok(files) => files,
        Err(reason) => {
            // Still show what the rules say about whatever files are listed, but change nothing.
            let listed = task
                .download
                .as_ref()
                .and_then(|d| d.files.as_deref())
                .unwrap_or_default();
            let profile = profile_of(listed);
            return Plan {
                task_id: task.id.clone(),
                files: decide_files(task, listed, &profile, rules, |_, _| FileAction::Nothing),
                task_name,
                profile,
                resolution: Resolution::Ineligible(reason),
            };
        }
    };
    let profile = profile_of(files);
    let action_for = |file: &TaskFile, verdict: &Verdict| match verdict.wanted() {
        _ if decided.contains_key(&file.index) => FileAction::DecidedBefore,
        Some(wanted) if wanted != file.selected => FileAction::Send(wanted),
        Some(_) => FileAction::AlreadyAsWanted,
        None => FileAction::Nothing,
    };
    let mut decisions = decide_files(task, files, &profile, rules, action_for);

    let mut resolution = resolution_of(&decisions, decided);
    if matches!(resolution, Resolution::Refused(_)) && rules.on_all_junk() == OnAllJunk::KeepLargest
    {
        // Keep the largest file the daemon has not decided before (or kept and still selected);
        // ties: lower index.
        let largest = decisions
            .iter_mut()
            .filter(|d| match decided.get(&d.index) {
                None => true,
                Some(&sent) => sent && d.selected,
            })
            .max_by_key(|d| (d.size, std::cmp::Reverse(d.index)));
        if let Some(largest) = largest {
            largest.verdict = Verdict::Keep(RuleName::new(SAFETY_RULE));
            largest.action = if largest.selected {
                FileAction::AlreadyAsWanted
            } else {
                FileAction::Send(true)
            };
            resolution = resolution_of(&decisions, decided);
        }
    }
    Plan {
        task_id: task.id.clone(),
        task_name,
        files: decisions,
        profile,
        resolution,
    }
}

/// The task's profile, from its listed files.
fn profile_of(files: &[TaskFile]) -> Profile {
    Profile::of(files.iter().map(|file| (&*file.path, file.size)))
}

/// The rules' verdict on each file, and what `action_for` makes of it.
///
/// Three steps: the first matching rule per file; then each `keep_largest` rule keeps the N
/// largest of the files it matched (ties: lower index first) and skips the rest; then, if any
/// file was matched by an `only` rule, every file no rule decided is skipped by the first such
/// rule.
fn decide_files(
    task: &DownloadTask,
    files: &[TaskFile],
    profile: &Profile,
    rules: &RuleSet,
    action_for: impl Fn(&TaskFile, &Verdict) -> FileAction,
) -> Vec<FileDecision> {
    // Shares are of every file, padding included (the profile leaves padding out).
    let total = files.iter().fold(0u64, |sum, f| sum.saturating_add(f.size));
    let scope = rules.scope_of(task.name(), &task.source, total, Some(profile.kind()));
    let mut scratch = SCRATCH.take();
    let deciding: Vec<Option<usize>> = files
        .iter()
        .map(|file| rules.first_match(&scope, &file.path, file.size, &mut scratch))
        .collect();
    SCRATCH.set(scratch);
    // Only allocated when a rule keeps the largest files.
    let mut kept_as_largest = Vec::new();
    for (rule_idx, rule) in rules.rules().iter().enumerate() {
        let Some(keep) = rule.keep_largest() else {
            continue;
        };
        kept_as_largest.resize(files.len(), false);
        let mut matched: Vec<usize> = (0..files.len())
            .filter(|&pos| deciding[pos] == Some(rule_idx))
            .collect();
        matched.sort_by_key(|&pos| (std::cmp::Reverse(files[pos].size), files[pos].index));
        for &pos in matched.iter().take(keep) {
            kept_as_largest[pos] = true;
        }
    }
    let only_rule = deciding
        .iter()
        .flatten()
        .copied()
        .filter(|&rule_idx| rules.rules()[rule_idx].action() == Action::Only)
        .min();
    files
        .iter()
        .zip(&deciding)
        .enumerate()
        .map(|(pos, (file, deciding))| {
            let kept = kept_as_largest.get(pos).copied().unwrap_or(false);
            let verdict = match (deciding, only_rule) {
                (None, None) => Verdict::Untouched,
                (None, Some(only_idx)) => Verdict::Skip(rules.rules()[only_idx].name().clone()),
                (Some(rule_idx), _) => {
                    let rule = &rules.rules()[*rule_idx];
                    match rule.action() {
                        Action::Keep | Action::Only => Verdict::Keep(rule.name().clone()),
                        Action::Skip if kept => Verdict::Keep(rule.name().clone()),
                        Action::Skip => Verdict::Skip(rule.name().clone()),
                    }
                }
            };
            FileDecision {
                index: file.index,
                path: file.path.clone(),
                size: ByteSize(file.size),
                selected: file.selected,
                action: action_for(file, &verdict),
                verdict,
            }
        })
        .collect()
}

thread_local! {
    /// The matcher's buffers, reused from task to task and from file to file. Only a cache of
    /// allocations: what it holds between calls never affects a decision.
    static SCRATCH: std::cell::Cell<MatchScratch> = const {
        std::cell::Cell::new(MatchScratch::new())
    };
}

/// The pseudo-rule named when `[safety] on_all_junk = "keep_largest"` keeps a file.
pub const SAFETY_RULE: &str = "safety.on_all_junk";

/// The resolution of a set of file decisions: the changes to send, or a refusal.
fn resolution_of(decisions: &[FileDecision], decided: &Decided) -> Resolution {
    let mut changes: Vec<SelectionChange> = decisions
        .iter()
        .filter_map(|d| match d.action {
            FileAction::Send(download) => Some(SelectionChange {
                index: d.index,
                download,
            }),
            FileAction::Nothing | FileAction::AlreadyAsWanted | FileAction::DecidedBefore => None,
        })
        .collect();
    changes.sort_unstable();
    changes.dedup_by_key(|c| c.index);
    if changes.is_empty() {
        Resolution::NoChange
    } else if !decisions.iter().any(|d| remains_selected(d, decided)) {
        Resolution::Refused(Refusal::AllDeselected {
            files: decisions.len(),
        })
    } else {
        Resolution::Apply(changes)
    }
}

/// Whether a file stays selected once the plan is applied, counted conservatively: a file the
/// daemon deselected before counts as deselected even if the (lagging) list still shows it.
fn remains_selected(decision: &FileDecision, decided: &Decided) -> bool {
    match decision.action {
        FileAction::Send(download) => download,
        FileAction::Nothing | FileAction::AlreadyAsWanted | FileAction::DecidedBefore => {
            decision.selected && decided.get(&decision.index) != Some(&false)
        }
    }
}

impl Plan {
    /// The changes to send, if this plan sends any.
    pub fn changes(&self) -> Option<&[SelectionChange]> {
        match &self.resolution {
            Resolution::Apply(changes) => Some(changes),
            Resolution::Ineligible(_) | Resolution::NoChange | Resolution::Refused(_) => None,
        }
    }

    /// The files this plan decides for the first time, each with its wanted `download` value,
    /// sorted by index: what the state records before anything is sent (write-ahead). Empty
    /// for a refused or ineligible plan: those decide nothing.
    pub fn decisions(&self) -> Vec<SelectionChange> {
        if !matches!(self.resolution, Resolution::Apply(_) | Resolution::NoChange) {
            return Vec::new();
        }
        let mut decisions: Vec<SelectionChange> =
            self.files
                .iter()
                .filter_map(|f| match (f.action, f.verdict.wanted()) {
                    (FileAction::Send(download), _)
                    | (FileAction::AlreadyAsWanted, Some(download)) => Some(SelectionChange {
                        index: f.index,
                        download,
                    }),
                    _ => None,
                })
                .collect();
        decisions.sort_unstable();
        decisions.dedup_by_key(|c| c.index);
        decisions
    }
}

#[cfg(test)]
mod tests;
