//! Expectations: unit tests for a user's own rules (`[[expect]]`, `check --expect FILE`).
//!
//! Each expectation names a file (path, size, and optionally the task's name and source) and
//! the verdict the rules must give it, optionally with the rule that must decide it.
//! Expectations are evaluated with the real planner: expectations that share a `task` (and
//! `source`) form one synthetic task, so whole-task effects (`keep_largest`, `only`, shares of
//! the task's size) apply as they would on a real task; an expectation without `task` is a task
//! of its own with an empty name. The `[safety]` net is left out: expectations check what the
//! rules decide, not what the safety net makes of a task where every file is junk.
//! Pure: no I/O.

use std::fmt::Write as _;

use crate::plan::{self, Decided, Verdict};
use crate::rules::{OnAllJunk, RuleName, RuleSet};
use crate::task::{
    DownloadState, DownloadStatus, DownloadTask, Phase, TaskFile, TaskId, TaskKind, TaskStatus,
};

/// The verdict an expectation wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVerdict {
    /// A rule deselects the file.
    Skip,
    /// A rule selects the file.
    Keep,
    /// No rule decides the file.
    Untouched,
}

impl std::fmt::Display for ExpectedVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Skip => "skip",
            Self::Keep => "keep",
            Self::Untouched => "untouched",
        })
    }
}

/// One `[[expect]]` table, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// The file's path inside the torrent, root folder included.
    pub path: String,
    /// The file's size in bytes (0 when not given).
    pub size: u64,
    /// The task's (torrent's) name.
    pub task: Option<String>,
    /// The task's source URL or magnet.
    pub source: Option<String>,
    /// The wanted verdict.
    pub verdict: ExpectedVerdict,
    /// The rule that must decide it.
    pub rule: Option<RuleName>,
    /// Where it is written, `file:line`.
    pub location: String,
}

/// An expectation that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The expectation.
    pub expectation: Expectation,
    /// What the rules decided instead.
    pub got: Verdict,
}

/// The result of evaluating expectations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// How many expectations were evaluated.
    pub total: usize,
    /// Those that do not hold, in file order.
    pub failures: Vec<Failure>,
}

/// Evaluates every expectation against the rules with the real planner.
pub fn evaluate(expectations: &[Expectation], rules: &RuleSet) -> Report {
    let rules = rules.clone().with_on_all_junk(OnAllJunk::Leave);
    // Group by (task, source), in order of first appearance; task-less expectations stand alone.
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (idx, expectation) in expectations.iter().enumerate() {
        let shared = expectation.task.as_ref().and_then(|_| {
            groups.iter_mut().find(|group| {
                group
                    .first()
                    .and_then(|&first| expectations.get(first))
                    .is_some_and(|first| {
                        first.task == expectation.task && first.source == expectation.source
                    })
            })
        });
        match shared {
            Some(group) => group.push(idx),
            None => groups.push(vec![idx]),
        }
    }
    let mut got: Vec<Option<Verdict>> = vec![None; expectations.len()];
    for (group_idx, group) in groups.iter().enumerate() {
        let members: Vec<&Expectation> =
            group.iter().filter_map(|&i| expectations.get(i)).collect();
        let Some(first) = members.first() else {
            continue;
        };
        let files = members
            .iter()
            .zip(1u64..)
            .map(|(e, index)| TaskFile {
                index,
                path: e.path.as_str().into(),
                size: e.size,
                selected: true,
            })
            .collect();
        let task = DownloadTask {
            id: TaskId::new(format!("expect-{}", group_idx + 1)),
            kind: TaskKind::RemoteDownload,
            status: TaskStatus::Processing,
            phase: Phase::Monitor,
            source: first.source.clone().unwrap_or_default(),
            download: Some(DownloadStatus {
                name: first.task.clone().unwrap_or_default(),
                state: DownloadState::Downloading,
                files: Some(files),
            }),
        };
        let plan = plan::plan(&task, &rules, &Decided::new());
        for (&idx, decision) in group.iter().zip(&plan.files) {
            if let Some(slot) = got.get_mut(idx) {
                *slot = Some(decision.verdict.clone());
            }
        }
    }
    let failures = expectations
        .iter()
        .zip(got)
        .filter_map(|(expectation, got)| {
            let got = got.unwrap_or(Verdict::Untouched);
            (!holds(expectation, &got)).then(|| Failure {
                expectation: expectation.clone(),
                got,
            })
        })
        .collect();
    Report {
        total: expectations.len(),
        failures,
    }
}

fn holds(expectation: &Expectation, got: &Verdict) -> bool {
    let verdict_holds = matches!(
        (expectation.verdict, got),
        (ExpectedVerdict::Skip, Verdict::Skip(_))
            | (ExpectedVerdict::Keep, Verdict::Keep(_))
            | (ExpectedVerdict::Untouched, Verdict::Untouched)
    );
    verdict_holds
        && expectation
            .rule
            .as_ref()
            .is_none_or(|wanted| got.rule() == Some(wanted))
}

fn verdict_word(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Untouched => "untouched",
        Verdict::Keep(_) => "keep",
        Verdict::Skip(_) => "skip",
    }
}

impl Report {
    /// `N expectations hold`, or a table of the failures: where, path, expected, got, and the
    /// rule that decided.
    pub fn render(&self) -> String {
        if self.failures.is_empty() {
            return format!(
                "{} expectation{} hold{}\n",
                self.total,
                if self.total == 1 { "" } else { "s" },
                if self.total == 1 { "s" } else { "" }
            );
        }
        let rows: Vec<[String; 5]> = self
            .failures
            .iter()
            .map(|failure| {
                let e = &failure.expectation;
                let expected = match &e.rule {
                    Some(rule) => format!("{} by {rule}", e.verdict),
                    None => e.verdict.to_string(),
                };
                [
                    e.location.clone(),
                    e.path.clone(),
                    expected,
                    verdict_word(&failure.got).to_owned(),
                    failure
                        .got
                        .rule()
                        .map_or_else(|| "-".to_owned(), ToString::to_string),
                ]
            })
            .collect();
        let header = ["where", "path", "expected", "got", "deciding rule"];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = format!(
            "{} of {} expectation{} failed:\n",
            self.failures.len(),
            self.total,
            if self.total == 1 { "" } else { "s" }
        );
        let header = header.map(str::to_owned);
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(widths) {
                let _ = write!(line, "{cell:<width$}  ");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Action, ByteSize, RuleSpec, compile_glob};

    fn rules(specs: Vec<RuleSpec>) -> RuleSet {
        RuleSet::new(specs, OnAllJunk::KeepLargest).unwrap()
    }

    fn glob_rule(name: &str, action: Action, glob: &str) -> RuleSpec {
        RuleSpec {
            globs: vec![compile_glob(glob, false).unwrap()],
            ..RuleSpec::new(name, action)
        }
    }

    fn expect(path: &str, size: u64, task: Option<&str>, verdict: ExpectedVerdict) -> Expectation {
        Expectation {
            path: path.into(),
            size,
            task: task.map(Into::into),
            source: None,
            verdict,
            rule: None,
            location: "rules.toml:1".into(),
        }
    }

    #[test]
    fn verdicts_and_deciding_rules_are_checked() {
        let rules = rules(vec![glob_rule("junk", Action::Skip, "*.exe")]);
        let mut by_other = expect("a/x.exe", 1, None, ExpectedVerdict::Skip);
        by_other.rule = Some(RuleName::new("other"));
        let report = evaluate(
            &[
                expect("a/x.exe", 1, None, ExpectedVerdict::Skip),
                expect("a/x.mkv", 1, None, ExpectedVerdict::Untouched),
                expect("a/y.mkv", 1, None, ExpectedVerdict::Skip),
                by_other,
            ],
            &rules,
        );
        assert_eq!(report.total, 4);
        let failed: Vec<&str> = report
            .failures
            .iter()
            .map(|f| f.expectation.path.as_str())
            .collect();
        assert_eq!(failed, ["a/y.mkv", "a/x.exe"]);
    }

    #[test]
    fn expectations_sharing_a_task_see_whole_task_effects() {
        let movie = RuleSpec {
            keep_largest: Some(1),
            ..glob_rule("movie", Action::Skip, "*.mkv")
        };
        let rules = rules(vec![movie]);
        let task = Some("Film.2024");
        let report = evaluate(
            &[
                expect("Film/film.mkv", 4_000, task, ExpectedVerdict::Keep),
                expect("Film/sample.mkv", 40, task, ExpectedVerdict::Skip),
                // A task of its own: the largest of one file is kept.
                expect("Other/sample.mkv", 40, None, ExpectedVerdict::Keep),
            ],
            &rules,
        );
        assert!(report.failures.is_empty(), "{}", report.render());
        assert_eq!(report.render(), "3 expectations hold\n");
    }

    #[test]
    fn the_safety_net_does_not_hide_a_skip() {
        let tiny = RuleSpec {
            max_size: Some(ByteSize(10)),
            ..RuleSpec::new("tiny", Action::Skip)
        };
        let report = evaluate(
            &[expect("a/readme", 5, None, ExpectedVerdict::Skip)],
            &rules(vec![tiny]),
        );
        assert!(report.failures.is_empty(), "{}", report.render());
    }

    #[test]
    fn failures_render_as_a_table() {
        let rules = rules(vec![glob_rule("samples", Action::Skip, "**/sample/*")]);
        let mut wanted = expect("Show/Sample/s.mkv", 1, None, ExpectedVerdict::Untouched);
        wanted.location = "rules.toml:40".into();
        let report = evaluate(&[wanted], &rules);
        assert_eq!(
            report.render(),
            "1 of 1 expectation failed:\n\
             where          path               expected   got   deciding rule\n\
             rules.toml:40  Show/Sample/s.mkv  untouched  skip  samples\n"
        );
    }
}
