//! What one notifier is told about one tick, as plain data: a [`Digest`] picked from the tick's
//! outcome list by the notifier's events, and its text for people (title and body, grouped
//! with counts above ten tasks). Pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::NotifyEvent;
use crate::escape::Escaped;
use crate::outcome::{OperatorEvent, TaskOutcome, TaskResult};
use crate::report::TickReport;
use crate::rules::ByteSize;
use crate::sink::DEFAULT_ACCOUNT;

/// Above this many tasks a message lists counts per event instead of one line per task.
pub const GROUP_ABOVE: usize = 10;

/// Above this many bytes of task lines (long names, long errors) a message lists counts per
/// event instead, as above [`GROUP_ABOVE`] tasks: below ntfy's cut, so no line is cut in two.
pub const LINES_MAX_BYTES: usize = 3000;

/// One file a change deselected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeselectedFile {
    /// The server's file index.
    pub index: u64,
    /// Path inside the torrent.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// The rule that decided it.
    pub rule: String,
}

/// What happened to one task, as far as notifications care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskDetail {
    /// Its selection was changed.
    Changed {
        /// The files deselected.
        deselected: Vec<DeselectedFile>,
        /// How many files were selected (by `keep` rules).
        selected: usize,
    },
    /// Left alone: the rules would deselect every file.
    Refused {
        /// How many files the task has.
        files: usize,
    },
    /// Its PATCH failed, may not have been applied, or its decisions could not be recorded.
    Failed {
        /// Why.
        error: String,
    },
}

/// One task in a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEntry {
    /// `Changed`, `Refused` or `Failed`.
    pub event: NotifyEvent,
    /// The task id.
    pub id: String,
    /// The task's (torrent's) name.
    pub name: String,
    /// What happened.
    pub detail: TaskDetail,
}

impl TaskEntry {
    /// Bytes this task's change deselected.
    pub fn bytes_saved(&self) -> u64 {
        match &self.detail {
            TaskDetail::Changed { deselected, .. } => deselected
                .iter()
                .fold(0u64, |sum, f| sum.saturating_add(f.size)),
            _ => 0,
        }
    }
}

/// An operator incident that opened (`Error`) or cleared (`Recovered`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// `Error` or `Recovered`.
    pub event: NotifyEvent,
    /// The incident kind, e.g. `sign_in_refused`.
    pub kind: String,
    /// For people.
    pub message: String,
}

/// Everything one message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// The account the tick served.
    pub account: String,
    /// Nothing was sent or recorded: the changes are what would have been sent.
    pub dry_run: bool,
    /// A test message (`notify-test`), with no tasks.
    pub test: bool,
    /// The tasks, in list order.
    pub tasks: Vec<TaskEntry>,
    /// The incidents.
    pub incidents: Vec<Incident>,
}

/// Per-rule totals of a digest's deselected files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RuleTotal {
    /// Files.
    pub files: u64,
    /// Bytes.
    pub bytes: u64,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl Digest {
    /// The part of `report` a notifier that wants `events` is told about; `keep` may drop
    /// individual task entries (the notifier drops repeats of a dry run). `None` when nothing
    /// is left.
    pub fn from_report(
        account: &str,
        report: &TickReport,
        events: &[NotifyEvent],
        mut keep: impl FnMut(&TaskOutcome, NotifyEvent) -> bool,
    ) -> Option<Self> {
        let mut tasks = Vec::new();
        for outcome in &report.tasks {
            let Some((event, detail)) = task_detail(&outcome.result) else {
                continue;
            };
            if events.contains(&event) && keep(outcome, event) {
                tasks.push(TaskEntry {
                    event,
                    id: outcome.task_id.as_str().to_owned(),
                    name: outcome.task_name.clone(),
                    detail,
                });
            }
        }
        let incidents: Vec<Incident> = report
            .events
            .iter()
            .map(|e| Incident {
                event: match e {
                    OperatorEvent::Recovered { .. } => NotifyEvent::Recovered,
                    _ => NotifyEvent::Error,
                },
                kind: e.kind().to_owned(),
                message: e.message(),
            })
            .filter(|i| events.contains(&i.event))
            .collect();
        (!tasks.is_empty() || !incidents.is_empty()).then(|| Self {
            account: account.to_owned(),
            dry_run: report.dry_run,
            test: false,
            tasks,
            incidents,
        })
    }

    /// The message `notify-test` sends.
    pub fn test(account: &str) -> Self {
        Self {
            account: account.to_owned(),
            dry_run: false,
            test: true,
            tasks: Vec::new(),
            incidents: Vec::new(),
        }
    }

    /// The events present, in [`NotifyEvent::ALL`] order (increasing severity).
    pub fn events(&self) -> Vec<NotifyEvent> {
        NotifyEvent::ALL
            .into_iter()
            .filter(|e| {
                self.tasks.iter().any(|t| t.event == *e)
                    || self.incidents.iter().any(|i| i.event == *e)
            })
            .collect()
    }

    /// The most severe event present (`None` for a test message).
    pub fn severity(&self) -> Option<NotifyEvent> {
        self.events().last().copied()
    }

    fn count(&self, event: NotifyEvent) -> usize {
        self.tasks.iter().filter(|t| t.event == event).count()
    }

    /// Files deselected in all.
    pub fn files_deselected(&self) -> usize {
        self.tasks
            .iter()
            .map(|t| match &t.detail {
                TaskDetail::Changed { deselected, .. } => deselected.len(),
                _ => 0,
            })
            .sum()
    }

    /// Bytes deselected in all: what this tick saved.
    pub fn bytes_saved(&self) -> u64 {
        self.tasks
            .iter()
            .fold(0u64, |sum, t| sum.saturating_add(t.bytes_saved()))
    }

    /// Deselected files and bytes per rule, by rule name.
    pub fn rule_totals(&self) -> BTreeMap<String, RuleTotal> {
        let mut totals: BTreeMap<String, RuleTotal> = BTreeMap::new();
        for task in &self.tasks {
            if let TaskDetail::Changed { deselected, .. } = &task.detail {
                for file in deselected {
                    let total = totals.entry(file.rule.clone()).or_default();
                    total.files += 1;
                    total.bytes = total.bytes.saturating_add(file.size);
                }
            }
        }
        totals
    }

    /// The title: one part per event present, most severe first, after `prefix`.
    pub fn title(&self, prefix: &str) -> String {
        let mut parts = Vec::new();
        if self.test {
            parts.push("Test notification".to_owned());
        }
        for event in self.events().into_iter().rev() {
            let n = self.count(event);
            parts.push(match event {
                NotifyEvent::Error => {
                    let kinds: Vec<&str> = self
                        .incidents
                        .iter()
                        .filter(|i| i.event == NotifyEvent::Error)
                        .map(|i| incident_words(&i.kind))
                        .collect();
                    format!("Needs attention: {}", kinds.join(", "))
                }
                NotifyEvent::Failed => format!("{} not changed", plural(n, "task", "tasks")),
                NotifyEvent::Refused => format!("{} left alone", plural(n, "task", "tasks")),
                NotifyEvent::Recovered => "Recovered".to_owned(),
                NotifyEvent::Changed => format!(
                    "{} {} ({}) in {}",
                    if self.dry_run {
                        "Would deselect"
                    } else {
                        "Deselected"
                    },
                    plural(self.files_deselected(), "file", "files"),
                    ByteSize(self.bytes_saved()),
                    plural(n, "task", "tasks")
                ),
            });
        }
        let account = if self.account == DEFAULT_ACCOUNT {
            String::new()
        } else {
            format!("[{}] ", self.account)
        };
        format!("{prefix}{account}{}", parts.join("; "))
    }

    /// The body: one line per task (or per event above ten tasks), then the incidents.
    pub fn body(&self) -> String {
        let mut lines: Vec<String> = Vec::new();
        if self.test {
            lines.push(format!(
                "cloudreve-autoselect {} reaches this notifier (account {}).",
                env!("CARGO_PKG_VERSION"),
                self.account
            ));
        }
        let task_lines: Vec<String> = if self.tasks.len() > GROUP_ABOVE {
            Vec::new()
        } else {
            self.tasks.iter().map(task_line).collect()
        };
        if self.tasks.len() > GROUP_ABOVE
            || task_lines.iter().map(String::len).sum::<usize>() > LINES_MAX_BYTES
        {
            self.grouped_lines(&mut lines);
        } else {
            lines.extend(task_lines);
        }
        for incident in &self.incidents {
            lines.push(incident.message.clone());
        }
        if self.dry_run {
            lines.push("Dry run: nothing was sent.".to_owned());
        }
        lines.join("\n")
    }

    fn grouped_lines(&self, lines: &mut Vec<String>) {
        let changed = self.count(NotifyEvent::Changed);
        if changed > 0 {
            let mut line = format!(
                "{}: {} {} ({})",
                plural(changed, "task", "tasks"),
                if self.dry_run {
                    "would deselect"
                } else {
                    "deselected"
                },
                plural(self.files_deselected(), "file", "files"),
                ByteSize(self.bytes_saved())
            );
            let mut totals: Vec<(String, RuleTotal)> = self.rule_totals().into_iter().collect();
            totals.sort_by(|a, b| b.1.bytes.cmp(&a.1.bytes).then_with(|| a.0.cmp(&b.0)));
            let by_rule: Vec<String> = totals
                .iter()
                .map(|(rule, t)| format!("{rule} {} ({})", t.files, ByteSize(t.bytes)))
                .collect();
            if !by_rule.is_empty() {
                let _ = write!(line, "; by rule: {}", by_rule.join(", "));
            }
            lines.push(line);
        }
        let refused = self.count(NotifyEvent::Refused);
        if refused > 0 {
            lines.push(format!(
                "{} left alone: the rules would deselect every file",
                plural(refused, "task", "tasks")
            ));
        }
        let failed = self.count(NotifyEvent::Failed);
        if failed > 0 {
            lines.push(format!(
                "{} could not be changed; see the log",
                plural(failed, "task", "tasks")
            ));
        }
    }
}

fn task_line(task: &TaskEntry) -> String {
    match &task.detail {
        TaskDetail::Changed {
            deselected,
            selected,
        } => {
            let mut rules: Vec<&str> = deselected.iter().map(|f| f.rule.as_str()).collect();
            rules.sort_unstable();
            rules.dedup();
            let mut line = format!(
                "{}: {} ({}) by {}",
                Escaped(&task.name),
                plural(deselected.len(), "file", "files"),
                ByteSize(task.bytes_saved()),
                if rules.is_empty() {
                    "no rule".to_owned()
                } else {
                    rules.join(", ")
                }
            );
            if *selected > 0 {
                let _ = write!(line, "; {} selected", plural(*selected, "file", "files"));
            }
            line
        }
        TaskDetail::Refused { files } => format!(
            "{}: left alone, the rules would deselect all {}",
            Escaped(&task.name),
            plural(*files, "file", "files")
        ),
        TaskDetail::Failed { error } => format!("{}: not changed: {error}", Escaped(&task.name)),
    }
}

fn incident_words(kind: &str) -> &str {
    match kind {
        "sign_in_refused" => "sign-in refused",
        "token_rejected" => "refresh token rejected",
        "state_not_writable" => "state file not writable",
        "token_expiring" => "OAuth token expires soon",
        other => other,
    }
}

/// The notification event of a task result, with its detail; `None` for results nobody is
/// told about (no change, waiting, ineligible, finished, a refusal already reported).
fn task_detail(result: &TaskResult) -> Option<(NotifyEvent, TaskDetail)> {
    match result {
        TaskResult::Changed { files } => Some((
            NotifyEvent::Changed,
            TaskDetail::Changed {
                deselected: files
                    .iter()
                    .filter(|f| !f.download)
                    .map(|f| DeselectedFile {
                        index: f.index,
                        path: f.path.clone(),
                        size: f.size,
                        rule: f.rule.clone(),
                    })
                    .collect(),
                selected: files.iter().filter(|f| f.download).count(),
            },
        )),
        TaskResult::Refused {
            first_time: true,
            files,
        } => Some((NotifyEvent::Refused, TaskDetail::Refused { files: *files })),
        TaskResult::Retry { error }
        | TaskResult::Uncertain { error, .. }
        | TaskResult::GaveUp { error }
        | TaskResult::StateNotWritable { error } => Some((
            NotifyEvent::Failed,
            TaskDetail::Failed {
                error: error.clone(),
            },
        )),
        TaskResult::Refused {
            first_time: false, ..
        }
        | TaskResult::NoChange
        | TaskResult::WaitingForMetadata
        | TaskResult::Ineligible { .. }
        | TaskResult::Finished => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::ChangedFile;
    use crate::task::TaskId;

    fn changed(id: &str, name: &str, files: &[(&str, u64, &str)]) -> TaskOutcome {
        TaskOutcome {
            task_id: TaskId::new(id),
            task_name: name.to_owned(),
            result: TaskResult::Changed {
                files: files
                    .iter()
                    .enumerate()
                    .map(|(i, (path, size, rule))| ChangedFile {
                        index: i as u64,
                        path: (*path).to_owned(),
                        size: *size,
                        rule: (*rule).to_owned(),
                        download: false,
                    })
                    .collect(),
            },
        }
    }

    fn report(tasks: Vec<TaskOutcome>, events: Vec<OperatorEvent>) -> TickReport {
        TickReport {
            seen: tasks.len(),
            tasks,
            events,
            ..TickReport::default()
        }
    }

    #[test]
    fn a_change_names_its_task_files_rules_and_bytes() {
        let report = report(
            vec![changed(
                "a",
                "Some.Show.S01",
                &[
                    ("x/sample.mkv", 52_428_800, "samples"),
                    ("x/a.txt", 31, "junk"),
                ],
            )],
            vec![],
        );
        let digest =
            Digest::from_report("default", &report, &NotifyEvent::DEFAULT, |_, _| true).unwrap();
        assert_eq!(digest.title(""), "Deselected 2 files (50.0 MiB) in 1 task");
        assert_eq!(
            digest.body(),
            "Some.Show.S01: 2 files (50.0 MiB) by junk, samples"
        );
        assert_eq!(digest.bytes_saved(), 52_428_831);
    }

    #[test]
    fn a_task_name_with_controls_is_escaped_in_the_text() {
        let report = report(
            vec![changed("a", "A\u{1b}[2J\nB", &[("a.exe", 10, "junk")])],
            vec![],
        );
        let digest =
            Digest::from_report("default", &report, &NotifyEvent::DEFAULT, |_, _| true).unwrap();
        assert_eq!(digest.body(), "A\\u{1b}[2J\\nB: 1 file (10 B) by junk");
    }

    #[test]
    fn long_task_lines_become_counts() {
        let long = "n".repeat(LINES_MAX_BYTES);
        let report = report(vec![changed("a", &long, &[("a.exe", 10, "junk")])], vec![]);
        let digest =
            Digest::from_report("default", &report, &NotifyEvent::DEFAULT, |_, _| true).unwrap();
        assert_eq!(
            digest.body(),
            "1 task: deselected 1 file (10 B); by rule: junk 1 (10 B)"
        );
    }

    #[test]
    fn events_not_asked_for_are_left_out_and_nothing_left_means_no_message() {
        let report = report(
            vec![changed("a", "A", &[("a.exe", 10, "junk")])],
            vec![OperatorEvent::Recovered {
                kinds: vec!["sign_in_refused".into()],
            }],
        );
        let only_errors =
            Digest::from_report("default", &report, &[NotifyEvent::Error], |_, _| true);
        assert_eq!(only_errors, None);
        let recovered =
            Digest::from_report("default", &report, &[NotifyEvent::Recovered], |_, _| true)
                .unwrap();
        assert_eq!(recovered.title("[nas] "), "[nas] Recovered");
        assert_eq!(recovered.body(), "recovered from sign_in_refused");
    }

    #[test]
    fn a_refusal_is_told_once() {
        let refused = |first_time| TaskOutcome {
            task_id: TaskId::new("r"),
            task_name: "Installer".into(),
            result: TaskResult::Refused {
                first_time,
                files: 2,
            },
        };
        let first = report(vec![refused(true)], vec![]);
        let again = report(vec![refused(false)], vec![]);
        let digest =
            Digest::from_report("default", &first, &NotifyEvent::DEFAULT, |_, _| true).unwrap();
        assert_eq!(digest.title(""), "1 task left alone");
        assert_eq!(
            digest.body(),
            "Installer: left alone, the rules would deselect all 2 files"
        );
        assert_eq!(
            Digest::from_report("default", &again, &NotifyEvent::DEFAULT, |_, _| true),
            None
        );
    }

    #[test]
    fn above_ten_tasks_the_body_has_counts() {
        let tasks: Vec<TaskOutcome> = (0..11)
            .map(|i| {
                changed(
                    &format!("t{i}"),
                    &format!("Task {i}"),
                    &[("a.exe", 1024, "junk"), ("b/sample.mkv", 2048, "samples")],
                )
            })
            .collect();
        let digest = Digest::from_report(
            "default",
            &report(tasks, vec![]),
            &NotifyEvent::DEFAULT,
            |_, _| true,
        )
        .unwrap();
        assert_eq!(
            digest.body(),
            "11 tasks: deselected 22 files (33.0 KiB); by rule: samples 11 (22.0 KiB), junk 11 (11.0 KiB)"
        );
        assert_eq!(
            digest.title(""),
            "Deselected 22 files (33.0 KiB) in 11 tasks"
        );
    }

    #[test]
    fn an_error_comes_first_in_the_title_and_another_account_is_named() {
        let report = report(
            vec![changed("a", "A", &[("a.exe", 10, "junk")])],
            vec![OperatorEvent::StateNotWritable {
                message: "could not write the state file".into(),
            }],
        );
        let digest =
            Digest::from_report("nas", &report, &NotifyEvent::DEFAULT, |_, _| true).unwrap();
        assert_eq!(
            digest.title(""),
            "[nas] Needs attention: state file not writable; Deselected 1 file (10 B) in 1 task"
        );
        assert_eq!(digest.severity(), Some(NotifyEvent::Error));
    }

    #[test]
    fn an_oauth_token_near_its_expiry_is_an_incident_in_words() {
        let report = report(
            Vec::new(),
            vec![OperatorEvent::TokenExpiring {
                message: "account default: the OAuth token expires in 2 days 3 hours".into(),
            }],
        );
        let digest =
            Digest::from_report("nas", &report, &NotifyEvent::DEFAULT, |_, _| true).unwrap();
        assert_eq!(
            digest.title(""),
            "[nas] Needs attention: OAuth token expires soon"
        );
        assert!(
            digest.body().contains("expires in 2 days 3 hours"),
            "{}",
            digest.body()
        );
    }
}
