//! Explain's document API: tasks read from a saved `GET /workflow` answer or task array.

use crate::task::TaskList;

use super::{DecodeProblem, ListProblem, wire};

/// A saved task document that cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON, or cut off.
    #[error("{0}")]
    Json(DecodeProblem),
    /// Bytes that are not UTF-8 outside every task (inside a task they cost only that task).
    #[error(
        "text that is not UTF-8 outside any task at line {} column {}",
        .0.line,
        .0.column
    )]
    NotUtf8(DecodeProblem),
    /// A saved list answer carrying an error code.
    #[error("the saved answer is Cloudreve error {code}: {msg:?}")]
    Api {
        /// The envelope's `code`.
        code: i64,
        /// The envelope's `msg`.
        msg: String,
    },
    /// A saved list answer that is not a complete list.
    #[error("the saved answer is not a complete list: {0}")]
    Incomplete(ListProblem),
    /// JSON, but not a task, a task list or a list answer.
    #[error(
        "expected a task object, an array of tasks, a list's data or a whole list answer (from GET /api/v4/workflow)"
    )]
    Shape,
}

/// Reads tasks from a saved `GET /workflow` answer, a list's `data`, an array of tasks or a
/// single task object, with the same decoder as the daemon's list.
pub fn decode_task_document(bytes: &[u8]) -> Result<TaskList, DocumentError> {
    let document = wire::list::decode_document(bytes).map_err(|refused| match refused {
        wire::list::Refused::Json(problem) => DocumentError::Json(problem),
        wire::list::Refused::NotUtf8(problem) => DocumentError::NotUtf8(problem),
    })?;
    match document {
        wire::list::Document::Tasks(tasks) => Ok(tasks),
        wire::list::Document::Answer(answer) => match answer.code {
            Some(0) => answer
                .into_page()
                .map(|page| page.tasks)
                .map_err(DocumentError::Incomplete),
            Some(code) => Err(DocumentError::Api {
                code,
                msg: answer.msg,
            }),
            None => Err(DocumentError::Shape),
        },
        wire::list::Document::Other => Err(DocumentError::Shape),
    }
}
