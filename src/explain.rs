//! `explain`: what the rules decide for tasks read from a saved JSON answer, as a table.

use std::fmt::Write as _;
use std::path::Path;

use crate::cloudreve;
use crate::plan::{self, Decided};
use crate::rules::RuleSet;
use crate::task::TaskList;

mod input;

/// The task file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    /// It could not be read.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// It is not a task, a task list or a complete list answer.
    #[error("{path} is not a Cloudreve task or task list: {source}")]
    Decode {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: cloudreve::DocumentError,
    },
    /// No task of the file could be explained (it holds none, or none that reads).
    #[error("nothing in {path} could be explained: {reason}")]
    NothingExplained {
        /// The file.
        path: std::path::PathBuf,
        /// `no tasks`, or how many tasks could not be read.
        reason: String,
    },
    /// The table could not be written out.
    #[error("could not write the explanation: {source}")]
    Write {
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ExplainError {
    fn read(path: &Path, source: std::io::Error) -> Self {
        Self::Read {
            path: path.to_owned(),
            source,
        }
    }
}

/// Writes the plan of every task in the JSON file to `out`, as if nothing had been decided
/// before, with the rules `load_rules` gives; `Err` is its error, the file then unexplained.
///
/// The rules are loaded, the file is read once and decoded whole with the daemon's own list
/// decoder, then each task is planned and drawn in turn. Nothing is written before the whole
/// document is judged usable, so a saved error answer or a cut-off file prints only the error.
/// A task that cannot be read is named with the reason and the others are explained.
pub fn explain_file<E>(
    path: &Path,
    load_rules: impl FnOnce() -> Result<RuleSet, E>,
    out: &mut dyn std::io::Write,
) -> Result<Result<(), ExplainError>, E> {
    let rules = load_rules()?;
    Ok(explain_with(path, &rules, out))
}

fn explain_with(
    path: &Path,
    rules: &RuleSet,
    out: &mut dyn std::io::Write,
) -> Result<(), ExplainError> {
    let bytes = input::read(path)?;
    let list = cloudreve::decode_task_document(&bytes).map_err(|source| ExplainError::Decode {
        path: path.to_owned(),
        source,
    })?;
    drop(bytes);
    write(path, &list, rules, out)
}

/// Writes out the explanation: the tasks that could not be read, then the table of each task.
fn write(
    path: &Path,
    list: &TaskList,
    rules: &RuleSet,
    out: &mut dyn std::io::Write,
) -> Result<(), ExplainError> {
    let mut text = String::new();
    for skipped in &list.skipped {
        let _ = writeln!(
            text,
            "task {} skipped: {}",
            crate::escape::Escaped(skipped.id.as_deref().unwrap_or("with an unreadable id")),
            skipped.reason
        );
    }
    if list.tasks.is_empty() {
        let _ = writeln!(text, "{}: no tasks", path.display());
    }
    let decided = Decided::new();
    let write_error = |source| ExplainError::Write { source };
    for (n, task) in list.tasks.iter().enumerate() {
        if n > 0 {
            text.push('\n');
        }
        plan::plan(task, rules, &decided)
            .render_explained_into(&mut text, crate::cloudreve::draw_patch);
        // Written out a few tables at a time: one buffer, reused. A reader that went away
        // (`| head`) wants no more, so the tasks left are not planned.
        if text.len() >= 64 * 1024 {
            out.write_all(text.as_bytes()).map_err(write_error)?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(write_error)?;
    if list.tasks.is_empty() {
        return Err(ExplainError::NothingExplained {
            path: path.to_owned(),
            reason: match list.skipped.len() {
                0 => "it holds no tasks".to_owned(),
                n => format!("none of its {n} task(s) could be read"),
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Action, OnAllJunk, RuleSpec, compile_glob};

    fn rules() -> RuleSet {
        let spec = |name: &str, action, glob: &str| RuleSpec {
            globs: vec![compile_glob(glob, false).unwrap()],
            ..RuleSpec::new(name, action)
        };
        RuleSet::new(
            vec![
                spec("keep-subs", Action::Keep, "*.srt"),
                spec("junk", Action::Skip, "*.txt"),
            ],
            OnAllJunk::Leave,
        )
        .unwrap()
    }

    fn task(n: usize, files: usize) -> String {
        let files: Vec<String> = (0..files)
            .map(|i| {
                let ext = ["mkv", "srt", "txt"][i % 3];
                format!(
                    r#"{{"index":{i},"name":"Show.{n}/f{i}.{ext}","size":{},"selected":true}}"#,
                    1000 + i
                )
            })
            .collect();
        format!(
            r#"{{"id":"t{n}","status":"processing","type":"remote_download","summary":{{"phase":"monitor","props":{{"download":{{"name":"Show.{n}","state":"downloading","files":[{}]}}}}}}}}"#,
            files.join(",")
        )
    }

    /// Tasks of every size, so that batches end inside and between them, and one task that
    /// cannot be read.
    fn tasks(from: usize, count: usize) -> String {
        let mut tasks: Vec<String> = (from..from + count)
            .map(|n| task(n, [1, 7, 300, 0, 50][n % 5]))
            .collect();
        tasks.insert(count / 2, r#"{"id":"bad","status":7}"#.to_owned());
        tasks.join(",")
    }

    /// The explanation drawn the plain way: the whole document decoded, then each task planned
    /// and drawn in turn.
    fn drawn_in_turn(path: &Path, bytes: &[u8], rules: &RuleSet) -> String {
        let list = cloudreve::decode_task_document(bytes).unwrap();
        let mut text = String::new();
        for skipped in &list.skipped {
            let id =
                crate::escape::Escaped(skipped.id.as_deref().unwrap_or("with an unreadable id"));
            let _ = writeln!(text, "task {id} skipped: {}", skipped.reason);
        }
        if list.tasks.is_empty() {
            let _ = writeln!(text, "{}: no tasks", path.display());
        }
        for (n, task) in list.tasks.iter().enumerate() {
            if n > 0 {
                text.push('\n');
            }
            plan::plan(task, rules, &Decided::new())
                .render_explained_into(&mut text, crate::cloudreve::draw_patch);
        }
        text
    }

    /// Explains `text`, and what the plain way draws for it.
    fn explain(text: &str) -> (Result<(), ExplainError>, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.json");
        std::fs::write(&path, text).unwrap();
        let mut out = Vec::new();
        let result = explain_file(&path, || Ok::<_, ()>(rules()), &mut out).unwrap();
        let expected = match cloudreve::decode_task_document(text.as_bytes()) {
            Ok(_) => drawn_in_turn(&path, text.as_bytes(), &rules()),
            Err(_) => String::new(),
        };
        (result, String::from_utf8(out).unwrap(), expected)
    }

    #[test]
    fn every_shape_is_explained_as_if_each_task_were_drawn_in_turn() {
        let many = tasks(0, 400);
        let documents = [
            format!("[{many}]"),
            format!(r#"{{"tasks":[{many}],"pagination":{{}}}}"#),
            format!(
                r#"{{"code":0,"msg":"","data":{{"pagination":{{"page":0}},"tasks":[{many}]}}}}"#
            ),
            task(1, 20),
            "[]".to_owned(),
            r#"[{"id":"bad","status":7}]"#.to_owned(),
            format!("[{}]", tasks(0, 3)),
            // A whole answer's tasks are those of its `data`.
            format!(
                r#"{{"code":0,"data":{{"tasks":[{}]}},"tasks":[{many}]}}"#,
                tasks(500, 20)
            ),
        ];
        for document in documents {
            let (result, out, expected) = explain(&document);
            // A file with nothing to explain says so, and is an error.
            let nothing = document == "[]" || document.starts_with(r#"[{"id":"bad""#);
            assert_eq!(
                matches!(result, Err(ExplainError::NothingExplained { .. })),
                nothing,
                "{result:?}"
            );
            if !nothing {
                result.unwrap();
            }
            assert!(!out.is_empty());
            assert_eq!(out, expected, "{}", &document[..80.min(document.len())]);
        }
    }

    /// A repeated key is not a document serde reads (the streaming scanner kept the last
    /// `tasks` array): it is refused with its position, and nothing is written.
    #[test]
    fn a_repeated_tasks_key_is_refused() {
        let document = format!(
            r#"{{"tasks":[{}],"tasks":[{}]}}"#,
            tasks(0, 3),
            tasks(1000, 5)
        );
        let (result, out, _) = explain(&document);
        let error = result.unwrap_err();
        assert!(matches!(error, ExplainError::Decode { .. }), "{error:?}");
        assert!(error.to_string().contains("line 1 column"), "{error}");
        assert_eq!(out, "");
    }

    /// Known unusable only at its end: nothing is written, though every task was drawn.
    #[test]
    fn an_unusable_document_writes_nothing() {
        let many = tasks(0, 300);
        for document in [
            format!(r#"{{"data":{{"tasks":[{many}]}},"code":401,"msg":"login required"}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{many}],"pagination":{{"next_token":7}}}}}}"#),
            format!("[{many}"),
            format!(r#"{{"code":0,"data":{{"tasks":[{many}]}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{many},]}}}}"#),
        ] {
            let (result, out, _) = explain(&document);
            assert!(
                matches!(result, Err(ExplainError::Decode { .. })),
                "{result:?}"
            );
            assert_eq!(out, "");
        }
    }

    #[test]
    fn rules_that_do_not_load_leave_the_file_unexplained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.json");
        std::fs::write(&path, format!("[{}]", tasks(0, 20))).unwrap();
        let mut out = Vec::new();
        let result = explain_file(&path, || Err::<RuleSet, _>("no rules"), &mut out);
        assert!(matches!(result, Err("no rules")));
        assert!(out.is_empty());
    }

    /// A task holding text that is not UTF-8 is skipped with its reason, as in the daemon's
    /// list (the whole-document decoder used to refuse the document).
    #[test]
    fn a_task_that_is_not_utf8_is_skipped_and_the_others_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.json");
        let mut document = format!("[{},", task(1, 2)).into_bytes();
        document.extend_from_slice(b"{\"id\":\"latin\",\"summary\":{\"props\":{\"download\":{\"files\":[{\"index\":1,\"name\":\"Caf\xe9.mkv\"}]}}}}]");
        std::fs::write(&path, &document).unwrap();
        let mut out = Vec::new();
        explain_file(&path, || Ok::<_, ()>(rules()), &mut out)
            .unwrap()
            .unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("task latin skipped: tasks[1] holds a string that is not UTF-8 text\n"),
            "{out}"
        );
        assert!(out.contains("task t1 "), "{out}");
    }

    /// Writes `budget` bytes, then fails as a closed pipe does; counts the writes asked for.
    struct ClosingPipe {
        budget: usize,
        writes: usize,
    }

    impl std::io::Write for ClosingPipe {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.writes += 1;
            if self.budget == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let written = buf.len().min(self.budget);
            self.budget -= written;
            Ok(written)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A reader that goes away ends the explanation at that write: the error is returned and
    /// nothing more is written.
    #[test]
    fn a_reader_that_goes_away_ends_the_explanation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.json");
        std::fs::write(&path, format!("[{}]", tasks(0, 2_000))).unwrap();
        let mut pipe = ClosingPipe {
            budget: 100_000,
            writes: 0,
        };
        let error = explain_file(&path, || Ok::<_, ()>(rules()), &mut pipe)
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&error, ExplainError::Write { source } if source.kind() == std::io::ErrorKind::BrokenPipe),
            "{error:?}"
        );
        // The first batch fits; the second fills the budget and fails on its rest.
        assert_eq!(pipe.writes, 3, "{error}");
    }

    #[test]
    fn a_missing_file_names_itself() {
        let mut out = Vec::new();
        let result = explain_file(
            Path::new("/nonexistent/tasks.json"),
            || Ok::<_, ()>(rules()),
            &mut out,
        );
        let error = result.unwrap().unwrap_err();
        assert!(matches!(error, ExplainError::Read { .. }));
        assert!(
            error.to_string().contains("/nonexistent/tasks.json"),
            "{error}"
        );
    }
}
