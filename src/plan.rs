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

use std::collections::BTreeMap;
use std::fmt::Write as _;

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
pub enum Outcome {
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
    pub outcome: Outcome,
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
                outcome: Outcome::Ineligible(reason),
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

    let mut outcome = outcome_of(&decisions, decided);
    if matches!(outcome, Outcome::Refused(_)) && rules.on_all_junk() == OnAllJunk::KeepLargest {
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
            outcome = outcome_of(&decisions, decided);
        }
    }
    Plan {
        task_id: task.id.clone(),
        task_name,
        files: decisions,
        profile,
        outcome,
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

/// The outcome of a set of file decisions: the changes to send, or a refusal.
fn outcome_of(decisions: &[FileDecision], decided: &Decided) -> Outcome {
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
        Outcome::NoChange
    } else if !decisions.iter().any(|d| remains_selected(d, decided)) {
        Outcome::Refused(Refusal::AllDeselected {
            files: decisions.len(),
        })
    } else {
        Outcome::Apply(changes)
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
        match &self.outcome {
            Outcome::Apply(changes) => Some(changes),
            Outcome::Ineligible(_) | Outcome::NoChange | Outcome::Refused(_) => None,
        }
    }

    /// The files this plan decides for the first time, each with its wanted `download` value,
    /// sorted by index: what the state records before anything is sent (write-ahead). Empty
    /// for a refused or ineligible plan: those decide nothing.
    pub fn decisions(&self) -> Vec<SelectionChange> {
        if !matches!(self.outcome, Outcome::Apply(_) | Outcome::NoChange) {
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

    /// The PATCH body this plan would send, as compact JSON.
    pub fn patch_body(&self) -> Option<String> {
        let mut body = String::new();
        self.patch_body_into(&mut body).then_some(body)
    }

    /// [`Self::patch_body`] appended to `out`; false (and nothing appended) if nothing is sent.
    fn patch_body_into(&self, out: &mut String) -> bool {
        let Some(changes) = self.changes() else {
            return false;
        };
        out.push_str("{\"files\":[");
        for (n, change) in changes.iter().enumerate() {
            // As `write!` would draw it, without the formatting machinery (`explain` draws a
            // body per task).
            out.push_str(if n > 0 { ",{\"index\":" } else { "{\"index\":" });
            out.push_str(itoa::Buffer::new().format(change.index));
            out.push_str(if change.download {
                ",\"download\":true}"
            } else {
                ",\"download\":false}"
            });
        }
        out.push_str("]}");
        true
    }

    /// A one-line reason why nothing is sent, or `None` if the plan sends a PATCH.
    pub fn reason_for_nothing(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Apply(_) => None,
            Outcome::Ineligible(reason) => Some(format!("task left alone: {reason}")),
            Outcome::NoChange => Some(
                if self.files.iter().any(|f| f.verdict != Verdict::Untouched) {
                    "nothing to send: every file the rules decide is already as wanted or was decided before (then the user's choice stands)".to_owned()
                } else {
                    "nothing to send: no rule matches any file".to_owned()
                },
            ),
            Outcome::Refused(Refusal::AllDeselected { files }) => Some(format!(
                "refused: the rules would deselect all {files} files of this task; nothing is sent (Cloudreve would fail a qBittorrent task and delete its data)"
            )),
        }
    }

    /// The stable text table shown by `explain`, `once --dry-run` and `demo`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// [`Self::render_into`] with the task's profile above the table: what `explain` prints.
    pub fn render_explained_into(&self, out: &mut String) {
        self.draw_into(out, true);
    }

    /// [`Self::render`] appended to `out` (`explain` draws a batch of tasks into one text).
    pub fn render_into(&self, out: &mut String) {
        self.draw_into(out, false);
    }

    fn draw_into(&self, out: &mut String, with_profile: bool) {
        use crate::table::{Align, Cell, Table};
        let _ = writeln!(
            out,
            "task {} {:?} ({} files)",
            self.task_id,
            self.task_name,
            self.files.len()
        );
        if with_profile {
            let _ = writeln!(out, "profile: {}", self.profile);
        }
        if !self.files.is_empty() {
            let mut table = Table::with_capacity(
                &[
                    ("index", Align::Right),
                    ("selected", Align::Left),
                    ("verdict", Align::Left),
                    ("rule", Align::Left),
                    ("change", Align::Left),
                    ("size", Align::Right),
                    ("path", Align::Left),
                ],
                self.files.len(),
            );
            for file in &self.files {
                let verdict = match &file.verdict {
                    Verdict::Untouched => "-",
                    Verdict::Keep(_) => "keep",
                    Verdict::Skip(_) => "skip",
                };
                let rule = file.verdict.rule().map_or("-", RuleName::as_str);
                let change = match file.action {
                    FileAction::Nothing => "-",
                    FileAction::AlreadyAsWanted => "as wanted",
                    FileAction::Send(true) => "select",
                    FileAction::Send(false) => "deselect",
                    FileAction::DecidedBefore => "decided before",
                };
                table.push([
                    Cell::Number(file.index),
                    Cell::Text(if file.selected { "yes" } else { "no" }),
                    Cell::Text(verdict),
                    Cell::Text(rule),
                    Cell::Text(change),
                    Cell::Size(file.size),
                    Cell::Text(&file.path),
                ]);
            }
            table.render_into(out);
        }
        if self.changes().is_some() {
            let _ = write!(out, "PATCH /api/v4/workflow/download/{} ", self.task_id);
            self.patch_body_into(out);
            out.push('\n');
        } else if let Some(reason) = self.reason_for_nothing() {
            let _ = writeln!(out, "{reason}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{RuleSpec, Share, compile_glob};
    use crate::task::{DownloadState, DownloadStatus, Phase, TaskFile, TaskKind, TaskStatus};
    use proptest::prelude::*;

    use super::plan as plan_fn;

    fn skip(name: &str, globs: &[&str]) -> RuleSpec {
        RuleSpec {
            globs: globs
                .iter()
                .map(|g| compile_glob(g, false).unwrap())
                .collect(),
            ..RuleSpec::new(name, Action::Skip)
        }
    }

    fn keep(name: &str, globs: &[&str]) -> RuleSpec {
        RuleSpec {
            action: Action::Keep,
            ..skip(name, globs)
        }
    }

    fn task(files: &[(u64, &str, u64, bool)]) -> DownloadTask {
        DownloadTask {
            id: TaskId::new("kku7"),
            kind: TaskKind::RemoteDownload,
            status: TaskStatus::Processing,
            phase: Phase::Monitor,
            source: "magnet:?xt=urn:btih:0123".into(),
            download: Some(DownloadStatus {
                name: "Some.Show.S01".into(),
                state: DownloadState::Downloading,
                files: Some(
                    files
                        .iter()
                        .map(|&(index, path, size, selected)| TaskFile {
                            index,
                            path: path.into(),
                            size,
                            selected,
                        })
                        .collect(),
                ),
            }),
        }
    }

    fn sample_task() -> DownloadTask {
        task(&[
            (1, "Some.Show.S01/E01.mkv", 1_503_238_553, true),
            (2, "Some.Show.S01/E02.mkv", 1_497_366_528, true),
            (3, "Some.Show.S01/Sample/sample.mkv", 52_428_800, true),
            (4, "Some.Show.S01/RARBG.txt", 31, true),
            (5, "Some.Show.S01/www.ads.example.url", 120, false),
        ])
    }

    fn deselect(index: u64) -> SelectionChange {
        SelectionChange {
            index,
            download: false,
        }
    }

    fn rules(specs: Vec<RuleSpec>) -> RuleSet {
        RuleSet::new(specs, OnAllJunk::Leave).unwrap()
    }

    fn only(name: &str, globs: &[&str]) -> RuleSpec {
        RuleSpec {
            action: Action::Only,
            ..skip(name, globs)
        }
    }

    fn apply(task: &mut DownloadTask, changes: &[SelectionChange]) {
        let files = task.download.as_mut().unwrap().files.as_mut().unwrap();
        for change in changes {
            for file in files.iter_mut().filter(|f| f.index == change.index) {
                file.selected = change.download;
            }
        }
    }

    #[test]
    fn deselects_junk_and_names_the_rule() {
        let rules = rules(vec![
            skip("junk", &["*.txt", "*.url"]),
            skip("samples", &["**/Sample/**"]),
        ]);
        let plan = plan(&sample_task(), &rules, &Decided::new());
        assert_eq!(
            plan.outcome,
            Outcome::Apply(vec![deselect(3), deselect(4),])
        );
        assert_eq!(
            plan.files[2].verdict,
            Verdict::Skip(RuleName::new("samples"))
        );
        assert_eq!(plan.files[3].verdict, Verdict::Skip(RuleName::new("junk")));
        // Already deselected: decided by the rule, but nothing to send.
        assert_eq!(plan.files[4].verdict, Verdict::Skip(RuleName::new("junk")));
        assert_eq!(plan.files[4].action, FileAction::AlreadyAsWanted);
        assert_eq!(
            plan.patch_body().unwrap(),
            r#"{"files":[{"index":3,"download":false},{"index":4,"download":false}]}"#
        );
    }

    #[test]
    fn keep_rule_selects_and_protects_from_later_rules() {
        let rules = rules(vec![
            keep("ads-ok", &["*.url"]),
            skip("junk", &["*.url", "*.txt"]),
        ]);
        let plan = plan(&sample_task(), &rules, &Decided::new());
        assert_eq!(
            plan.changes().unwrap(),
            &[
                deselect(4),
                SelectionChange {
                    index: 5,
                    download: true
                },
            ]
        );
        assert_eq!(
            plan.patch_body().unwrap(),
            r#"{"files":[{"index":4,"download":false},{"index":5,"download":true}]}"#
        );
    }

    #[test]
    fn decided_files_are_never_sent_again() {
        let rules = rules(vec![skip("junk", &["*.txt"])]);
        // The list lags: file 4 still shows selected, but the daemon sent `false` before.
        let decided = Decided::from([(4, false)]);
        let plan = plan(&sample_task(), &rules, &decided);
        assert_eq!(plan.outcome, Outcome::NoChange);
        assert_eq!(plan.files[3].action, FileAction::DecidedBefore);
    }

    #[test]
    fn a_kept_file_the_user_unticks_stays_unticked() {
        // Rules keep *.srt, skip *.nfo. First sight: the nfo is deselected and the srt, already
        // selected, is decided as kept although nothing is sent for it.
        let rules = rules(vec![keep("subs", &["*.srt"]), skip("nfo", &["*.nfo"])]);
        let mut task = task(&[
            (1, "M/movie.mkv", 9_000, true),
            (2, "M/subs.srt", 10, true),
            (3, "M/info.nfo", 5, true),
        ]);
        let first = plan(&task, &rules, &Decided::new());
        assert_eq!(first.changes().unwrap(), &[deselect(3)]);
        assert_eq!(first.files[1].action, FileAction::AlreadyAsWanted);
        let decided: Decided = first
            .decisions()
            .iter()
            .map(|c| (c.index, c.download))
            .collect();
        assert_eq!(decided, Decided::from([(2, true), (3, false)]));
        apply(&mut task, first.changes().unwrap());
        // The user unticks the subtitles in the web UI.
        apply(
            &mut task,
            &[SelectionChange {
                index: 2,
                download: false,
            }],
        );
        let second = plan(&task, &rules, &decided);
        assert_eq!(second.outcome, Outcome::NoChange);
        assert_eq!(second.files[1].action, FileAction::DecidedBefore);
        assert!(second.decisions().is_empty());
    }

    #[test]
    fn only_rule_decisions_are_kept_when_the_user_drops_an_episode() {
        let rules = rules(vec![only("videos", &["*.mkv"])]);
        let mut task = task(&[
            (0, "S/e1.mkv", 900, true),
            (1, "S/e2.mkv", 900, true),
            (2, "S/readme.txt", 1, true),
        ]);
        let first = plan(&task, &rules, &Decided::new());
        assert_eq!(first.changes().unwrap(), &[deselect(2)]);
        let decided: Decided = first
            .decisions()
            .iter()
            .map(|c| (c.index, c.download))
            .collect();
        assert_eq!(decided.len(), 3);
        apply(&mut task, first.changes().unwrap());
        apply(&mut task, &[deselect(1)]);
        assert_eq!(plan(&task, &rules, &decided).outcome, Outcome::NoChange);
    }

    #[test]
    fn a_refused_plan_decides_nothing() {
        let rules = rules(vec![skip("everything", &["*"])]);
        let plan = plan(&sample_task(), &rules, &Decided::new());
        assert!(matches!(plan.outcome, Outcome::Refused(_)));
        assert!(plan.decisions().is_empty());
    }

    #[test]
    fn refuses_to_deselect_every_file() {
        let rules = rules(vec![skip("everything", &["*"])]);
        let plan = plan(&sample_task(), &rules, &Decided::new());
        assert_eq!(
            plan.outcome,
            Outcome::Refused(Refusal::AllDeselected { files: 5 })
        );
        assert!(plan.patch_body().is_none());
        assert!(plan.render().contains("refused"));
    }

    #[test]
    fn refusal_counts_earlier_deselections_even_if_list_lags() {
        // Files 1..=2 were deselected by the daemon earlier; the list still shows them selected.
        let rules = rules(vec![skip("mkv", &["E0*.mkv"]), skip("rest", &["*"])]);
        let decided = Decided::from([(1, false), (2, false)]);
        let plan = plan(&sample_task(), &rules, &decided);
        assert!(matches!(plan.outcome, Outcome::Refused(_)));
    }

    #[test]
    fn ineligible_tasks_get_no_plan() {
        let mut queued = sample_task();
        queued.status = TaskStatus::Queued;
        let rules = rules(vec![skip("junk", &["*.txt"])]);
        assert!(matches!(
            plan(&queued, &rules, &Decided::new()).outcome,
            Outcome::Ineligible(Ineligible::Status(TaskStatus::Queued))
        ));
        let mut transfer = sample_task();
        transfer.phase = Phase::Transfer;
        assert!(matches!(
            plan(&transfer, &rules, &Decided::new()).outcome,
            Outcome::Ineligible(Ineligible::Phase(Phase::Transfer))
        ));
        let metadata = task(&[(1, "METADATA]Some.Show.S01", 0, true)]);
        assert!(matches!(
            plan(&metadata, &rules, &Decided::new()).outcome,
            Outcome::Ineligible(Ineligible::MetadataPending)
        ));
    }

    #[test]
    fn keep_largest_keeps_the_n_largest_matches() {
        let task = task(&[
            (1, "M/movie.mkv", 9_000, true),
            (2, "M/extra.mkv", 2_000, true),
            (3, "M/other.mkv", 2_000, true),
            (4, "M/info.nfo", 10, true),
        ]);
        let just_the_movie = RuleSpec {
            keep_largest: Some(1),
            ..skip("main-file", &["*.mkv"])
        };
        let plan = plan(&task, &rules(vec![just_the_movie]), &Decided::new());
        assert_eq!(
            plan.files[0].verdict,
            Verdict::Keep(RuleName::new("main-file"))
        );
        assert_eq!(plan.changes().unwrap(), &[deselect(2), deselect(3)]);
        assert_eq!(plan.files[3].verdict, Verdict::Untouched);
    }

    #[test]
    fn only_keeps_matches_and_skips_the_rest_but_never_an_unmatched_task() {
        let rules = rules(vec![
            skip("samples", &["**/Sample/**"]),
            only("videos", &["*.mkv"]),
        ]);
        let plan = plan(&sample_task(), &rules, &Decided::new());
        assert_eq!(
            plan.files[0].verdict,
            Verdict::Keep(RuleName::new("videos"))
        );
        assert_eq!(
            plan.files[2].verdict,
            Verdict::Skip(RuleName::new("samples"))
        );
        assert_eq!(
            plan.files[3].verdict,
            Verdict::Skip(RuleName::new("videos"))
        );
        assert_eq!(plan.changes().unwrap(), &[deselect(3), deselect(4)]);
        let no_video = task(&[(1, "A/a.flac", 10, true), (2, "A/b.txt", 1, true)]);
        assert_eq!(
            plan_fn(&no_video, &rules, &Decided::new()).outcome,
            Outcome::NoChange
        );
    }

    #[test]
    fn on_all_junk_keep_largest_keeps_one_file() {
        let all = RuleSet::new(vec![skip("everything", &["*"])], OnAllJunk::KeepLargest).unwrap();
        let plan = plan(&sample_task(), &all, &Decided::new());
        assert_eq!(
            plan.files[0].verdict,
            Verdict::Keep(RuleName::new(SAFETY_RULE))
        );
        assert_eq!(
            plan.changes().unwrap(),
            &[deselect(2), deselect(3), deselect(4),]
        );
    }

    #[test]
    fn qbittorrent_zero_based_indices_are_used_verbatim() {
        let task = task(&[(0, "S/a.mkv", 100, true), (1, "S/a.txt", 1, true)]);
        let plan = plan(
            &task,
            &rules(vec![skip("junk", &["*.txt"])]),
            &Decided::new(),
        );
        assert_eq!(plan.changes().unwrap(), &[deselect(1)]);
    }

    #[test]
    fn render_is_stable() {
        let rules = rules(vec![skip("junk", &["*.txt", "*.url"])]);
        let rendered = plan(&sample_task(), &rules, &Decided::new()).render();
        let expected = "\
task kku7 \"Some.Show.S01\" (5 files)
index  selected  verdict  rule  change         size  path
    1  yes       -        -     -           1.4 GiB  Some.Show.S01/E01.mkv
    2  yes       -        -     -           1.4 GiB  Some.Show.S01/E02.mkv
    3  yes       -        -     -          50.0 MiB  Some.Show.S01/Sample/sample.mkv
    4  yes       skip     junk  deselect       31 B  Some.Show.S01/RARBG.txt
    5  no        skip     junk  as wanted     120 B  Some.Show.S01/www.ads.example.url
PATCH /api/v4/workflow/download/kku7 {\"files\":[{\"index\":4,\"download\":false}]}
";
        assert_eq!(rendered, expected);
    }

    #[test]
    fn render_sizes_columns_to_their_contents() {
        let rules = rules(vec![
            skip("disguised-executables", &["*.mkv.exe"]),
            skip("junk", &["*.txt"]),
        ]);
        let task = task(&[
            (1, "Some.Show.S01/E01.mkv", 1_503_238_553, true),
            (2, "Some.Show.S01/E01.mkv.exe", 1_200, true),
            (10, "Some.Show.S01/RARBG.txt", 31, true),
        ]);
        let rendered = plan(&task, &rules, &Decided::new()).render();
        let expected = "\
task kku7 \"Some.Show.S01\" (3 files)
index  selected  verdict  rule                   change       size  path
    1  yes       -        -                      -         1.4 GiB  Some.Show.S01/E01.mkv
    2  yes       skip     disguised-executables  deselect  1.2 KiB  Some.Show.S01/E01.mkv.exe
   10  yes       skip     junk                   deselect     31 B  Some.Show.S01/RARBG.txt
PATCH /api/v4/workflow/download/kku7 {\"files\":[{\"index\":2,\"download\":false},{\"index\":10,\"download\":false}]}
";
        assert_eq!(rendered, expected);
    }

    // Property tests over random file lists and rule sets.

    const NAMES: &[&str] = &["a.mkv", "b.txt", "c.exe", "Sample/d.mkv", "e.nfo", "f.srt"];
    const GLOBS: &[&str] = &[
        "*.mkv",
        "*.txt",
        "*.exe",
        "**/Sample/**",
        "*.nfo",
        "*",
        "*.srt",
    ];

    fn arb_task() -> impl Strategy<Value = DownloadTask> {
        (
            0u64..2,
            prop::collection::vec((0..NAMES.len(), 0u64..2000, any::<bool>()), 1..12),
        )
            .prop_map(|(base, files)| {
                let files: Vec<(u64, String, u64, bool)> = files
                    .into_iter()
                    .enumerate()
                    .map(|(pos, (name, size, selected))| {
                        (
                            pos as u64 + base,
                            format!("T/{pos}/{}", NAMES[name]),
                            size,
                            selected,
                        )
                    })
                    .collect();
                let refs: Vec<(u64, &str, u64, bool)> = files
                    .iter()
                    .map(|(i, p, s, sel)| (*i, p.as_str(), *s, *sel))
                    .collect();
                task(&refs)
            })
    }

    /// Random rule sets using every kind of condition and action, and either safety policy.
    fn arb_rules() -> impl Strategy<Value = RuleSet> {
        let rule = (
            0u8..3,
            prop::collection::vec(0..GLOBS.len(), 0..3),
            prop::option::of(0u64..2000),
            prop::option::of(0u64..60),
            prop::option::of(1usize..3),
        );
        (prop::collection::vec(rule, 1..6), any::<bool>()).prop_map(|(specs, safety)| {
            let specs = specs
                .into_iter()
                .enumerate()
                .map(|(n, (kind, globs, max, max_share, keep_largest))| {
                    let globs: Vec<&str> = globs.into_iter().map(|g| GLOBS[g]).collect();
                    let name = format!("r{n}");
                    let mut spec = match kind {
                        0 => keep(&name, &globs),
                        1 => only(&name, &globs),
                        _ => RuleSpec {
                            keep_largest,
                            ..skip(&name, &globs)
                        },
                    };
                    spec.max_size = max.map(ByteSize);
                    spec.max_share = max_share.map(|p| Share::parse(&format!("{p}%")).unwrap());
                    spec
                })
                .collect();
            RuleSet::new(
                specs,
                if safety {
                    OnAllJunk::KeepLargest
                } else {
                    OnAllJunk::Leave
                },
            )
            .unwrap()
        })
    }

    fn arb_decided() -> impl Strategy<Value = Decided> {
        prop::collection::btree_map(0u64..13, any::<bool>(), 0..4)
    }

    proptest! {
        #[test]
        fn never_deselects_every_file(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
            let plan = plan(&task, &rules, &decided);
            if let Some(changes) = plan.changes() {
                // The worst case the list can hide: every file the daemon ever wanted deselected
                // really is deselected (the list lags and the user re-selected nothing).
                let mut truth = task.clone();
                let forced: Vec<SelectionChange> = decided
                    .iter()
                    .filter(|&(_, &wanted)| !wanted)
                    .map(|(&index, _)| deselect(index))
                    .collect();
                apply(&mut truth, &forced);
                apply(&mut truth, changes);
                let files = truth.download.unwrap().files.unwrap();
                prop_assert!(files.iter().any(|f| f.selected), "plan {:?} leaves nothing selected", plan);
            }
        }

        /// Any sequence of ticks (some seeing a lagging list), user changes in the web UI and
        /// restarts: no file is ever sent twice, and no user change made after the daemon
        /// decided a file is ever reverted.
        #[test]
        fn the_users_hand_wins_over_any_sequence(
            task in arb_task(),
            rules in arb_rules(),
            steps in prop::collection::vec((0u8..4, 0usize..12, any::<bool>()), 1..24),
        ) {
            let mut server = task.clone();
            let mut lagging = task.clone();
            // What is durable: the decisions recorded before each PATCH (write-ahead).
            let mut journal: Vec<SelectionChange> = Vec::new();
            let mut decided = Decided::new();
            let mut decided_at: BTreeMap<u64, usize> = BTreeMap::new();
            let mut sent: Vec<(usize, u64)> = Vec::new();
            let mut user: Vec<(usize, u64, bool)> = Vec::new();
            let indices: Vec<u64> = task.download.as_ref().unwrap().files.as_ref().unwrap().iter().map(|f| f.index).collect();
            for (step, (kind, pick, value)) in steps.into_iter().enumerate() {
                match kind {
                    // A tick, on the current or on the lagging list.
                    0 | 1 => {
                        let seen = if kind == 0 { server.clone() } else { lagging.clone() };
                        let plan = plan(&seen, &rules, &decided);
                        // The model: a file is decided at the first tick whose plan (not
                        // refused) had a rule's verdict on it.
                        if !matches!(plan.outcome, Outcome::Refused(_)) {
                            for f in plan.files.iter().filter(|f| f.verdict != Verdict::Untouched) {
                                decided_at.entry(f.index).or_insert(step);
                            }
                        }
                        for d in plan.decisions() {
                            journal.push(d);
                            decided.insert(d.index, d.download);
                        }
                        lagging = server.clone();
                        if let Some(changes) = plan.changes() {
                            for c in changes {
                                sent.push((step, c.index));
                            }
                            apply(&mut server, changes);
                        }
                    }
                    // The user changes one file in the web UI.
                    2 => {
                        let index = indices[pick % indices.len()];
                        lagging = server.clone();
                        apply(&mut server, &[SelectionChange { index, download: value }]);
                        user.push((step, index, value));
                    }
                    // A restart: the daemon's memory is rebuilt from what is durable.
                    _ => {
                        decided = journal.iter().map(|c| (c.index, c.download)).collect();
                    }
                }
            }
            let mut once = std::collections::BTreeSet::new();
            for (_, index) in &sent {
                prop_assert!(once.insert(*index), "file {} sent twice: {:?}", index, sent);
            }
            for &(at, index, _) in &user {
                if decided_at.get(&index).is_some_and(|&d| d < at) {
                    prop_assert!(
                        !sent.iter().any(|&(s, i)| i == index && s > at),
                        "user change to file {} at step {} was overridden: sent {:?}", index, at, sent
                    );
                }
            }
            // The server ends with each such file as the user last left it.
            let files = server.download.as_ref().unwrap().files.as_ref().unwrap();
            for f in files {
                if let Some(&(at, _, value)) = user.iter().rev().find(|u| u.1 == f.index)
                    && decided_at.get(&f.index).is_some_and(|&d| d < at)
                {
                    prop_assert_eq!(f.selected, value, "file {} does not show the user's choice", f.index);
                }
            }
        }

        #[test]
        fn idempotent(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
            let first = plan(&task, &rules, &decided);
            let mut after = task.clone();
            let mut decided_after = decided.clone();
            if let Some(changes) = first.changes() {
                apply(&mut after, changes);
                for change in changes {
                    decided_after.insert(change.index, change.download);
                }
            }
            prop_assert_eq!(plan(&after, &rules, &decided_after).outcome.clone(), if matches!(first.outcome, Outcome::Refused(_)) { first.outcome.clone() } else { Outcome::NoChange });
            // Even without recording the decisions, the applied state needs nothing more.
            if first.changes().is_some() {
                prop_assert!(plan(&after, &rules, &decided).changes().is_none());
            }
        }

        #[test]
        fn deterministic(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
            prop_assert_eq!(plan(&task, &rules, &decided), plan(&task, &rules, &decided));
        }

        #[test]
        fn indices_only_from_input(task in arb_task(), rules in arb_rules(), decided in arb_decided()) {
            let plan = plan(&task, &rules, &decided);
            let indices: Vec<u64> = task.download.as_ref().unwrap().files.as_ref().unwrap().iter().map(|f| f.index).collect();
            for change in plan.changes().unwrap_or_default() {
                prop_assert!(indices.contains(&change.index));
                prop_assert!(!decided.contains_key(&change.index));
            }
        }
    }
}
