//! Drawing a plan: the reason nothing is sent, and its table. The request it sends is drawn by
//! the caller's [`DrawPatch`] (the `cloudreve` module's), so the core writes no wire format.

use std::fmt::Write as _;

use crate::rules::RuleName;
use crate::task::{SelectionChange, TaskId};

use super::{FileAction, Plan, Refusal, Resolution, Verdict};

/// Appends the request that sends `changes` to a task, and a newline: what a table shows below
/// its rows when the plan sends something (`cloudreve::draw_patch`).
pub type DrawPatch = fn(&mut String, &TaskId, &[SelectionChange]);

impl Plan {
    /// A one-line reason why nothing is sent, or `None` if the plan sends a PATCH.
    pub fn reason_for_nothing(&self) -> Option<String> {
        match &self.resolution {
            Resolution::Apply(_) => None,
            Resolution::Ineligible(reason) => Some(format!("task left alone: {reason}")),
            Resolution::NoChange => Some(
                if self.files.iter().any(|f| f.verdict != Verdict::Untouched) {
                    "nothing to send: every file the rules decide is already as wanted or was decided before (then the user's choice stands)".to_owned()
                } else {
                    "nothing to send: no rule matches any file".to_owned()
                },
            ),
            Resolution::Refused(Refusal::AllDeselected { files }) => Some(format!(
                "refused: the rules would deselect all {files} files of this task; nothing is sent (Cloudreve would fail a qBittorrent task and delete its data)"
            )),
        }
    }

    /// The stable text table shown by `explain`, `once --dry-run` and `demo`, with the request
    /// the plan sends drawn by `patch`.
    pub fn render(&self, patch: DrawPatch) -> String {
        let mut out = String::new();
        self.render_into(&mut out, patch);
        out
    }

    /// [`Self::render_into`] with the task's profile above the table: what `explain` prints.
    pub fn render_explained_into(&self, out: &mut String, patch: DrawPatch) {
        self.draw_into(out, true, patch);
    }

    /// [`Self::render`] appended to `out` (`explain` draws a batch of tasks into one text).
    pub fn render_into(&self, out: &mut String, patch: DrawPatch) {
        self.draw_into(out, false, patch);
    }

    fn draw_into(&self, out: &mut String, with_profile: bool, patch: DrawPatch) {
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
        if let Some(changes) = self.changes() {
            patch(out, &self.task_id, changes);
        } else if let Some(reason) = self.reason_for_nothing() {
            let _ = writeln!(out, "{reason}");
        }
    }
}
