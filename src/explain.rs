//! `explain`: what the rules decide for tasks read from a saved JSON answer, as a table.

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
    /// It is not a task, a task list or a list answer.
    #[error("{path} is not a Cloudreve task or task list: {source}")]
    Decode {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Renders the plan of every task in the JSON file, as if nothing had been decided before.
pub fn explain_file(path: &Path, rules: &RuleSet) -> Result<String, ExplainError> {
    let text = std::fs::read_to_string(path).map_err(|source| ExplainError::Read {
        path: path.to_owned(),
        source,
    })?;
    let tasks = cloudreve::decode_task_document(&text).map_err(|source| ExplainError::Decode {
        path: path.to_owned(),
        source,
    })?;
    if tasks.is_empty() {
        return Ok(format!("{}: no tasks\n", path.display()));
    }
    let rendered: Vec<String> = tasks
        .iter()
        .map(|task| plan::plan(task, rules, &Decided::new()).render())
        .collect();
    Ok(rendered.join("\n"))
}
