//! `explain`: what the rules decide for tasks read from a saved JSON answer, as a table.

use std::fmt::Write as _;
use std::path::Path;

use crate::cloudreve;
use crate::plan::{self, Decided};
use crate::rules::RuleSet;

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
    /// The table could not be written out.
    #[error("could not write the explanation: {source}")]
    Write {
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Writes the plan of every task in the JSON file to `out`, as if nothing had been decided
/// before.
///
/// The file is decoded in one pass by the daemon's own list decoder; a task that cannot be
/// read is named with the reason and the others are explained. Each task's table is drawn into
/// one reused buffer and written out before the next, so the whole explanation (about as long
/// as the JSON) is never held at once.
pub fn explain_file(
    path: &Path,
    rules: &RuleSet,
    out: &mut dyn std::io::Write,
) -> Result<(), ExplainError> {
    let bytes = std::fs::read(path).map_err(|source| ExplainError::Read {
        path: path.to_owned(),
        source,
    })?;
    let list = cloudreve::decode_task_document(&bytes).map_err(|source| ExplainError::Decode {
        path: path.to_owned(),
        source,
    })?;
    drop(bytes);
    let write = |out: &mut dyn std::io::Write, text: &str| {
        out.write_all(text.as_bytes())
            .map_err(|source| ExplainError::Write { source })
    };
    let mut text = String::new();
    for skipped in &list.skipped {
        let _ = writeln!(
            text,
            "task {} skipped: {}",
            skipped.id.as_deref().unwrap_or("with an unreadable id"),
            skipped.reason
        );
    }
    if list.tasks.is_empty() {
        let _ = writeln!(text, "{}: no tasks", path.display());
    }
    write(out, &text)?;
    let decided = Decided::new();
    for (n, task) in list.tasks.iter().enumerate() {
        text.clear();
        if n > 0 {
            text.push('\n');
        }
        plan::plan(task, rules, &decided).render_into(&mut text);
        write(out, &text)?;
    }
    out.flush().map_err(|source| ExplainError::Write { source })
}
