//! Drawing a plan: its PATCH body, the reason nothing is sent, and its table.

use std::fmt::Write as _;

use crate::rules::RuleName;

use super::{FileAction, Outcome, Plan, Refusal, Verdict};

impl Plan {
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
