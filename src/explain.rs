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
}

/// Renders the plan of every task in the JSON file, as if nothing had been decided before.
///
/// The file is decoded in one pass by the daemon's own list decoder; a task that cannot be
/// read is named with the reason and the others are explained.
pub fn explain_file(path: &Path, rules: &RuleSet) -> Result<String, ExplainError> {
    let bytes = std::fs::read(path).map_err(|source| ExplainError::Read {
        path: path.to_owned(),
        source,
    })?;
    let list = cloudreve::decode_task_document(&bytes).map_err(|source| ExplainError::Decode {
        path: path.to_owned(),
        source,
    })?;
    // The table is about as long as the JSON it explains: one allocation for all of it.
    let mut out = String::with_capacity(bytes.len());
    drop(bytes);
    for skipped in &list.skipped {
        let _ = writeln!(
            out,
            "task {} skipped: {}",
            skipped.id.as_deref().unwrap_or("with an unreadable id"),
            skipped.reason
        );
    }
    if list.tasks.is_empty() {
        let _ = writeln!(out, "{}: no tasks", path.display());
        return Ok(out);
    }
    let decided = Decided::new();
    for (n, task) in list.tasks.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        plan::plan(task, rules, &decided).render_into(&mut out);
    }
    Ok(out)
}
