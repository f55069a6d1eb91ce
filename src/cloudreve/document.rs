//! Explain's document API: tasks read from a saved `GET /workflow` answer or task array.

use crate::task::TaskList;

use super::{DecodeProblem, ListProblem, wire};

/// A saved task document that cannot be explained.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// Not JSON, or cut off.
    #[error("{0}")]
    Json(DecodeProblem),
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
    /// The reader of a streamed document stopped taking tasks.
    #[error("the reader stopped taking tasks")]
    Stopped,
}

/// Reads tasks from a saved `GET /workflow` answer, a list's `data`, an array of tasks or a
/// single task object, with the same one-pass decoder as the daemon's list.
pub fn decode_task_document(bytes: &[u8]) -> Result<TaskList, DocumentError> {
    let document = wire::list::decode_document(bytes, None).map_err(DocumentError::Json)?;
    judge_document(document).map(|tasks| tasks.list)
}

/// A saved task document read by [`stream_task_document`].
#[derive(Debug)]
pub struct StreamedTasks {
    /// The number of the array whose tasks, as handed over, are the document's tasks; `None`
    /// when none of the tasks handed over are (the document is a single task, in `rest`).
    pub array: Option<usize>,
    /// The document's tasks that were not handed over (a single task), and every task of its
    /// array that could not be read.
    pub rest: TaskList,
}

/// [`decode_task_document`], handing every task of a `tasks` array to `each` as soon as it is
/// decoded, with the number of its array (0 for the first), so that a reader can work on the
/// tasks while the rest of the document is decoded.
///
/// Only once the whole document is judged is it known which array holds the document's tasks
/// (almost always the one array; a later duplicate key replaces an earlier array, as in the
/// list) or whether it is usable at all (a saved error answer is not): the answer names the
/// array, and an error means no task handed over is the document's. `each` returning `Break`
/// stops the decoding with [`DocumentError::Stopped`].
pub fn stream_task_document(
    bytes: &[u8],
    each: &mut dyn FnMut(usize, crate::task::DownloadTask) -> std::ops::ControlFlow<()>,
) -> Result<StreamedTasks, DocumentError> {
    let mut stopped = false;
    let mut tap = |array, task| {
        let flow = each(array, task);
        stopped |= flow.is_break();
        flow
    };
    let decoded = wire::list::decode_document(bytes, Some(&mut tap));
    if stopped {
        return Err(DocumentError::Stopped);
    }
    let tasks = judge_document(decoded.map_err(DocumentError::Json)?)?;
    Ok(StreamedTasks {
        array: tasks.array,
        rest: tasks.list,
    })
}

/// A saved task document read piece by piece, as [`stream_task_document`] reads it whole: the
/// document is never held whole when it is a list answer (its `data.tasks` elements are decoded
/// as they complete), so reading and decoding overlap and memory stays small.
///
/// The pieces go through the same scanner as the list the daemon downloads (see
/// `wire::list::ListStream`). It cannot follow everything the parser of the whole text
/// accepts (a key written with escapes), and its errors are not positioned within the file:
/// for such a document [`Self::finish`] answers `None`, and the caller decodes the whole text
/// with [`stream_task_document`] instead, whose answer is then the document's. Tasks handed
/// over before that are not the document's.
pub struct TaskDocumentStream<'t> {
    stream: wire::list::ListStream<'t>,
}

impl<'t> TaskDocumentStream<'t> {
    /// A stream that hands every task of a `tasks` array to `each` as soon as it is decoded,
    /// numbered as [`stream_task_document`] numbers them. Each array's tasks come in order;
    /// only the arrays of a list's `data` come as they arrive, the others (a `tasks` array at
    /// the top, a document that is an array) at the end.
    pub fn new(
        each: &'t mut (
                    dyn FnMut(usize, crate::task::DownloadTask) -> std::ops::ControlFlow<()> + Send
                ),
    ) -> Self {
        Self {
            stream: wire::list::ListStream::with_tap(each),
        }
    }

    /// Takes the next piece of the document.
    pub fn feed(&mut self, piece: &[u8]) {
        self.stream.feed(piece);
    }

    /// Bytes held for the end, outside the streamed arrays: the whole document so far when
    /// it is not a list answer. A caller may give up streaming when it grows large.
    pub fn held(&self) -> usize {
        self.stream.skeleton().len()
    }

    /// What [`stream_task_document`] would answer for the document, or `None` when the stream
    /// could not follow it (then the whole text must be decoded instead).
    pub fn finish(self) -> Option<Result<StreamedTasks, DocumentError>> {
        let streamed = match self.stream.finish_document() {
            Ok(streamed) => streamed,
            Err(wire::list::DocumentStreamError::Stopped) => {
                return Some(Err(DocumentError::Stopped));
            }
            Err(wire::list::DocumentStreamError::Unfollowed) => return None,
        };
        Some(judge_document(streamed.document).map(|mut tasks| {
            // The streamed array's place in the skeleton is empty: its tasks are here.
            if tasks.array.is_some() && tasks.array == streamed.array {
                tasks.list.tasks.extend(streamed.rest.tasks);
                tasks.list.skipped.extend(streamed.rest.skipped);
            }
            StreamedTasks {
                array: tasks.array,
                rest: tasks.list,
            }
        }))
    }
}

fn judge_document(document: wire::list::Document) -> Result<wire::list::TaskArray, DocumentError> {
    match document {
        wire::list::Document::Tasks(tasks) => Ok(tasks),
        wire::list::Document::Answer(answer) => match answer.code {
            Some(0) => answer.into_task_array().map_err(DocumentError::Incomplete),
            Some(code) => Err(DocumentError::Api {
                code,
                msg: answer.msg,
            }),
            None => Err(DocumentError::Shape),
        },
        wire::list::Document::Other => Err(DocumentError::Shape),
    }
}
