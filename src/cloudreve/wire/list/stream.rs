//! Decodes a list answer while it arrives, one task at a time, so that the body is never held
//! whole: peak memory is the decoded tasks plus one task's bytes, not the body beside them.
//!
//! A small structural scanner (strings, escapes, brackets; no values) follows the bytes. It
//! finds the `tasks` array of the envelope's `data` and hands each element, as soon as it is
//! complete, to the same task decoder as [`super::decode_list`]. Everything outside that array
//! (the envelope, `pagination`, an error answer, a body that is not JSON at all) is kept as a
//! small "skeleton" with `"tasks":[]` in place of the elements, and decoded at the end by
//! [`super::decode_list`], whose answer then receives the streamed tasks.
//!
//! The scanner only splits; the parser judges. Every byte reaches `serde_json` exactly once,
//! either in an element or in the skeleton, and the scanner refuses what it cannot split
//! (an empty element, a stray comma, a mismatched bracket), so no body that is not valid JSON
//! is accepted. A key written with escapes is not recognised: its array then stays in the
//! skeleton and is decoded there, whole.
//!
//! `explain --task-json` reads saved documents the same way, with a tap: each streamed task goes
//! to the reader at once, numbered by `tasks` array as the parser of the whole document numbers
//! them, and the skeleton is decoded as a document ([`super::decode_document`]). A document it
//! cannot follow exactly (not valid JSON, or an array whose key is written with escapes, which
//! would shift the numbers) is refused as a whole, and the caller decodes the whole text.

use serde::de::{Deserialize, DeserializeSeed, Deserializer};

use super::{
    Document, Field, FileScratch, ListAnswer, ObjectOr, TaskHandler, decode_document_counted,
    decode_list, push_task,
};
use crate::cloudreve::error::DecodeProblem;
use crate::task::{DownloadTask, SkippedTask, TaskList};

/// A [`super::TaskTap`] that can go to another thread with the stream.
pub(in crate::cloudreve) type SendTap<'t> =
    &'t mut (dyn FnMut(usize, DownloadTask) -> std::ops::ControlFlow<()> + Send);

/// One element of the tasks array, for `serde_json`'s stream deserializer, which reports where
/// the element ended.
struct TaskElement(Field<Result<DownloadTask, SkippedTask>>);

thread_local! {
    /// The files of the task being decoded, reused from task to task: a vector allocated
    /// per task and grown by doubling costs more in the allocator than the decoding itself.
    static SCRATCH: std::cell::Cell<FileScratch> = const { std::cell::Cell::new(FileScratch::new()) };
}

impl<'de> Deserialize<'de> for TaskElement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut scratch = SCRATCH.take();
        let element = ObjectOr(TaskHandler {
            scratch: &mut scratch,
        })
        .deserialize(deserializer)
        .map(TaskElement);
        scratch.clear();
        SCRATCH.set(scratch);
        element
    }
}

/// An element that `serde_json` refused only because a string in it is not UTF-8 (a file name
/// in a legacy encoding): the one task is skipped, named by its id when the id itself is text,
/// and the rest of the list stands. Read again with the bad bytes replaced, to find the id and
/// to be sure nothing else is wrong; `None` when the element is otherwise not valid either.
fn not_utf8(bytes: &[u8], position: usize, scratch: &mut FileScratch) -> Option<SkippedTask> {
    if std::str::from_utf8(bytes).is_ok() {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    let mut deserializer = serde_json::Deserializer::from_str(&text);
    let decoded = ObjectOr(TaskHandler { scratch })
        .deserialize(&mut deserializer)
        .and_then(|task| deserializer.end().map(|()| task))
        .ok()?;
    let id = match decoded {
        Field::Found(Ok(task)) => Some(task.id.as_str().to_owned()),
        Field::Found(Err(skipped)) => skipped.id,
        Field::Missing | Field::Null | Field::Wrong(_) => return None,
    };
    Some(SkippedTask {
        // An id that was not text is no id: the list then prunes nothing this tick.
        id: id.filter(|id| !id.contains(char::REPLACEMENT_CHARACTER)),
        reason: format!("tasks[{position}] holds a string that is not UTF-8 text"),
    })
}

/// Where the tasks of streamed arrays go.
enum Destination<'t> {
    /// Into the stream's list.
    List,
    /// To a tap (only the elements that are not tasks stay in the list).
    Tap(SendTap<'t>),
    /// The tap asked for no more tasks: the rest is not read.
    Stopped,
}

/// A streamed document, before it is judged.
pub(in crate::cloudreve) struct StreamedDocument {
    /// The skeleton, decoded: the streamed arrays in it are empty.
    pub(in crate::cloudreve) document: Document,
    /// The tasks of the last streamed array that did not go to the tap.
    pub(in crate::cloudreve) rest: TaskList,
    /// The number of the last streamed array, if any was streamed.
    pub(in crate::cloudreve) array: Option<usize>,
}

/// Where the scanner is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Outside the tasks array: bytes go to the skeleton.
    Skeleton,
    /// In the tasks array, between elements.
    Between {
        /// A comma was read: an element must follow.
        need_element: bool,
    },
    /// Inside an element of the tasks array.
    Element,
    /// Just after an element: a `,` or the `]` must follow.
    AfterElement,
}

/// Why a streamed answer does not decode.
#[derive(Debug)]
pub(in crate::cloudreve) enum StreamError {
    /// The skeleton (the envelope, or the whole body when it is not a list) does not decode.
    Skeleton(DecodeProblem),
    /// A task element is not valid JSON.
    Element {
        /// Its position in `data.tasks`.
        index: usize,
        /// What is wrong, positioned within the element.
        problem: DecodeProblem,
    },
    /// The tasks array is not a comma-separated list of values (an empty element, a stray
    /// comma, a mismatched bracket).
    Structure {
        /// Bytes read when it was noticed.
        offset: usize,
    },
}

/// Why a streamed document was not decoded.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::cloudreve) enum DocumentStreamError {
    /// The tap asked for no more tasks.
    Stopped,
    /// Not followed: it is not valid JSON (the parser of the whole text says where), or the
    /// skeleton holds a `tasks` array the scanner did not see (its key written with escapes),
    /// so the numbers given to the tap may not be the parser's.
    Unfollowed,
}

/// A list answer (or a saved task document) being decoded as it arrives.
pub(in crate::cloudreve) struct ListStream<'t> {
    mode: Mode,
    /// Open containers (0 = outside any).
    depth: usize,
    /// The kinds (`{` or `[`) of the containers at depths 1 to 3.
    kinds: [u8; 3],
    in_string: bool,
    escape: bool,
    /// The string being read at depth 1 or 2 outside the tasks array (a key, perhaps).
    string: Vec<u8>,
    /// The last complete string at depths 1 and 2.
    last_string: [Vec<u8>; 2],
    /// The current key at depths 1 and 2.
    key: [Vec<u8>; 2],
    /// Inside the envelope's `data` object.
    in_data: bool,
    skeleton: Vec<u8>,
    /// The start of the current element, from earlier chunks.
    element: Vec<u8>,
    /// The tasks of the last streamed array (with a tap, only those that could not be read).
    tasks: TaskList,
    /// Elements of the last streamed array so far.
    position: usize,
    /// Where the tasks of streamed arrays go.
    destination: Destination<'t>,
    /// `tasks` arrays begun so far, counted as the parser of the whole document counts them
    /// for a tap: a document that is an array, `tasks` at the top and `tasks` in `data`.
    arrays: usize,
    /// The number of the last streamed array.
    array: Option<usize>,
    scratch: FileScratch,
    error: Option<StreamError>,
    /// Bytes received so far.
    received: usize,
}

impl Default for ListStream<'_> {
    fn default() -> Self {
        Self {
            mode: Mode::Skeleton,
            depth: 0,
            kinds: [0; 3],
            in_string: false,
            escape: false,
            string: Vec::new(),
            last_string: [Vec::new(), Vec::new()],
            key: [Vec::new(), Vec::new()],
            in_data: false,
            skeleton: Vec::new(),
            element: Vec::new(),
            tasks: TaskList::default(),
            position: 0,
            destination: Destination::List,
            arrays: 0,
            array: None,
            scratch: FileScratch::new(),
            error: None,
            received: 0,
        }
    }
}

impl<'t> ListStream<'t> {
    /// A stream that hands each task of a `tasks` array to `tap` as soon as it is decoded,
    /// numbered as [`super::decode_document`] numbers them; see [`Self::finish_document`].
    pub(in crate::cloudreve) fn with_tap(tap: SendTap<'t>) -> Self {
        Self {
            destination: Destination::Tap(tap),
            ..Self::default()
        }
    }

    /// Bytes received so far.
    pub(in crate::cloudreve) fn received(&self) -> usize {
        self.received
    }

    /// The skeleton: the whole body when it was not a list, for describing it in an error.
    pub(in crate::cloudreve) fn skeleton(&self) -> &[u8] {
        &self.skeleton
    }

    /// Takes the next piece of the body.
    pub(in crate::cloudreve) fn feed(&mut self, chunk: &[u8]) {
        if self.halted() {
            self.received += chunk.len();
            return;
        }
        let mut i = 0;
        // Where the current run of skeleton or element bytes started in this chunk.
        let mut run = 0;
        while i < chunk.len() {
            match self.mode {
                Mode::Element if self.element.is_empty() => {
                    i = self.start_element(chunk, i);
                    run = i;
                    if self.halted() {
                        break;
                    }
                }
                Mode::AfterElement => {
                    match chunk.get(i).copied().unwrap_or_default() {
                        b' ' | b'\t' | b'\n' | b'\r' => {}
                        b',' => self.mode = Mode::Between { need_element: true },
                        b']' => self.close_tasks(),
                        _ => {
                            self.fail_structure(i);
                            break;
                        }
                    }
                    i += 1;
                    run = i;
                }
                Mode::Element => {
                    let Some(end) = self.element_end(chunk, i) else {
                        i = chunk.len();
                        continue;
                    };
                    let closing = chunk.get(end).copied();
                    self.finish_element(chunk.get(run..end).unwrap_or_default());
                    if self.halted() {
                        break;
                    }
                    if closing == Some(b']') {
                        self.close_tasks();
                    } else {
                        self.mode = Mode::Between { need_element: true };
                    }
                    i = end + 1;
                    run = i;
                }
                Mode::Between { need_element } => {
                    let byte = chunk.get(i).copied().unwrap_or_default();
                    match byte {
                        b' ' | b'\t' | b'\n' | b'\r' => i += 1,
                        b']' if !need_element => {
                            self.close_tasks();
                            i += 1;
                        }
                        b',' | b']' | b'}' => {
                            self.fail_structure(i);
                            break;
                        }
                        _ => self.mode = Mode::Element,
                    }
                    run = i;
                }
                Mode::Skeleton => {
                    let opened_tasks =
                        self.skeleton_byte(chunk.get(i).copied().unwrap_or_default());
                    i += 1;
                    if opened_tasks {
                        // A repeated `tasks` key replaces the array before it, as in the
                        // parser of the whole body.
                        self.tasks = TaskList::default();
                        self.position = 0;
                        self.array = Some(self.arrays);
                        self.arrays += 1;
                        self.skeleton
                            .extend_from_slice(chunk.get(run..i).unwrap_or_default());
                        self.mode = Mode::Between {
                            need_element: false,
                        };
                        run = i;
                    }
                }
            }
        }
        self.received += chunk.len();
        if self.halted() {
            return;
        }
        let rest = chunk.get(run..).unwrap_or_default();
        match self.mode {
            Mode::Skeleton => self.skeleton.extend_from_slice(rest),
            Mode::Element => self.element.extend_from_slice(rest),
            Mode::Between { .. } | Mode::AfterElement => {}
        }
    }

    /// An element that starts at `start`. The fast path: most elements end in the chunk they
    /// start in, and the parser finds the end while decoding. One that runs past the chunk
    /// (the parser's error may also be a number cut in two, `0.`, which it calls invalid
    /// rather than cut off) or that is bad is scanned: its bytes are kept until its end
    /// arrives, or it is decoded at once for the parser's complaint. Returns where to go on.
    fn start_element(&mut self, chunk: &[u8], start: usize) -> usize {
        let rest = chunk.get(start..).unwrap_or_default();
        let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<TaskElement>();
        if let Some(Ok(TaskElement(task))) = values.next()
            // A number or literal that reaches the chunk's end may go on in the next one.
            && (values.byte_offset() < rest.len()
                || matches!(rest.first(), Some(b'{' | b'[' | b'"')))
        {
            self.take(task);
            self.mode = Mode::AfterElement;
            return start + values.byte_offset();
        }
        match self.element_end(chunk, start) {
            None => self.element.extend_from_slice(rest),
            Some(end) => {
                if self.finish_element(chunk.get(start..end).unwrap_or_default()) {
                    // Skipped for text that is not UTF-8: go on after it.
                    if chunk.get(end) == Some(&b']') {
                        self.close_tasks();
                    } else {
                        self.mode = Mode::Between { need_element: true };
                    }
                    return end + 1;
                }
                if self.error.is_none() {
                    self.fail_structure(end);
                }
            }
        }
        chunk.len()
    }

    /// Follows an element from `start`; the position of the `,` or `]` that ends it, if it
    /// ends in this chunk.
    fn element_end(&mut self, chunk: &[u8], start: usize) -> Option<usize> {
        let mut depth = self.depth;
        let mut in_string = self.in_string;
        let mut escape = self.escape;
        let mut end = None;
        for (offset, &byte) in chunk.get(start..).unwrap_or_default().iter().enumerate() {
            if in_string {
                if escape {
                    escape = false;
                } else if byte == b'\\' {
                    escape = true;
                } else if byte == b'"' {
                    in_string = false;
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' if depth > 3 => depth -= 1,
                b',' | b']' if depth == 3 => {
                    end = Some(start + offset);
                    break;
                }
                // A `}` closing the tasks array: the element parser will refuse the element
                // or the skeleton the rest.
                _ => {}
            }
        }
        self.depth = depth;
        self.in_string = in_string;
        self.escape = escape;
        end
    }

    /// Decodes one complete element: its start from earlier chunks, then `tail`. True when the
    /// element held text that is not UTF-8 and was skipped as one malformed task.
    fn finish_element(&mut self, tail: &[u8]) -> bool {
        let index = self.position;
        let bytes: &[u8] = if self.element.is_empty() {
            tail
        } else {
            self.element.extend_from_slice(tail);
            &self.element
        };
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let decoded = ObjectOr(TaskHandler {
            scratch: &mut self.scratch,
        })
        .deserialize(&mut deserializer)
        .and_then(|task| deserializer.end().map(|()| task));
        let mut confined = false;
        match decoded {
            Ok(task) => self.take(task),
            Err(e) => match not_utf8(bytes, index, &mut self.scratch) {
                Some(skipped) => {
                    self.take(Field::Found(Err(skipped)));
                    confined = true;
                }
                None => {
                    self.error = Some(StreamError::Element {
                        index,
                        problem: DecodeProblem::from(&e),
                    });
                }
            },
        }
        self.element.clear();
        confined
    }

    /// A decoded element: to the tap if it is a task and there is one, else kept.
    fn take(&mut self, task: Field<Result<DownloadTask, SkippedTask>>) {
        let position = self.position;
        self.position += 1;
        match (task, &mut self.destination) {
            (Field::Found(Ok(task)), Destination::Tap(tap)) => {
                if tap(self.array.unwrap_or(0), task).is_break() {
                    self.destination = Destination::Stopped;
                }
            }
            (Field::Found(Ok(_)), Destination::Stopped) => {}
            (task, _) => push_task(&mut self.tasks, task, position),
        }
    }

    /// Nothing more is read: the stream failed, or the tap asked for no more tasks.
    fn halted(&self) -> bool {
        self.error.is_some() || matches!(self.destination, Destination::Stopped)
    }

    fn close_tasks(&mut self) {
        self.skeleton.push(b']');
        self.depth = 2;
        self.mode = Mode::Skeleton;
    }

    fn fail_structure(&mut self, at: usize) {
        self.error = Some(StreamError::Structure {
            offset: self.received + at,
        });
    }

    /// Follows one byte outside the tasks array; true when it opened the tasks array.
    fn skeleton_byte(&mut self, byte: u8) -> bool {
        let depth = self.depth;
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if byte == b'\\' {
                self.escape = true;
            } else if byte == b'"' {
                self.in_string = false;
                if let Some(last) = depth
                    .checked_sub(1)
                    .and_then(|d| self.last_string.get_mut(d))
                {
                    std::mem::swap(last, &mut self.string);
                }
                return false;
            }
            // Only short strings can be the keys looked for.
            if (1..=2).contains(&depth) && self.string.len() <= 16 {
                self.string.push(byte);
            }
            return false;
        }
        match byte {
            b'"' => {
                self.in_string = true;
                self.string.clear();
            }
            b':' => {
                if let (Some(key), Some(last)) = (
                    depth.checked_sub(1).and_then(|d| self.key.get_mut(d)),
                    depth.checked_sub(1).and_then(|d| self.last_string.get(d)),
                ) {
                    key.clone_from(last);
                }
            }
            b'{' | b'[' => {
                let in_object = |d: usize| self.kinds.get(d) == Some(&b'{');
                let opens_tasks = byte == b'['
                    && depth == 2
                    && self.in_data
                    && in_object(1)
                    && self.key.get(1).is_some_and(|k| k == b"tasks");
                // Arrays the parser will number in the skeleton: the document itself, or
                // `tasks` at its top.
                if byte == b'['
                    && (depth == 0
                        || depth == 1
                            && in_object(0)
                            && self.key.first().is_some_and(|k| k == b"tasks"))
                {
                    self.arrays += 1;
                }
                if byte == b'{'
                    && depth == 1
                    && in_object(0)
                    && self.key.first().is_some_and(|k| k == b"data")
                {
                    self.in_data = true;
                    if let Some(key) = self.key.get_mut(1) {
                        key.clear();
                    }
                }
                if let Some(kind) = self.kinds.get_mut(depth) {
                    *kind = byte;
                }
                self.depth += 1;
                return opens_tasks;
            }
            b'}' | b']' => {
                self.depth = depth.saturating_sub(1);
                if self.depth == 1 {
                    self.in_data = false;
                }
            }
            _ => {}
        }
        false
    }

    /// The document: the skeleton decoded (its tasks to the tap too), with the tasks of the
    /// last streamed array that did not go to the tap, and that array's number.
    pub(in crate::cloudreve) fn finish_document(
        mut self,
    ) -> Result<StreamedDocument, DocumentStreamError> {
        let tap = match std::mem::replace(&mut self.destination, Destination::List) {
            Destination::Stopped => return Err(DocumentStreamError::Stopped),
            Destination::Tap(tap) => Some(tap as _),
            Destination::List => None,
        };
        if self.error.is_some() || self.mode != Mode::Skeleton {
            return Err(DocumentStreamError::Unfollowed);
        }
        let (document, arrays) = decode_document_counted(&self.skeleton, tap)
            .map_err(|_| DocumentStreamError::Unfollowed)?;
        if arrays != self.arrays {
            return Err(DocumentStreamError::Unfollowed);
        }
        Ok(StreamedDocument {
            document,
            rest: self.tasks,
            array: self.array,
        })
    }

    /// The answer: the skeleton decoded, with the streamed tasks in its `data.tasks`.
    pub(in crate::cloudreve) fn finish(self) -> Result<ListAnswer, StreamError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.mode != Mode::Skeleton {
            // The body ended inside the tasks array.
            return Err(StreamError::Structure {
                offset: self.received,
            });
        }
        let mut answer = decode_list(&self.skeleton).map_err(StreamError::Skeleton)?;
        let streamed = self.tasks;
        if streamed.tasks.is_empty() && streamed.skipped.is_empty() {
            return Ok(answer);
        }
        if let Field::Found(data) = &mut answer.data {
            match &mut data.tasks {
                Field::Found(tasks) => {
                    let parsed = std::mem::replace(&mut tasks.list, streamed);
                    tasks.list.tasks.extend(parsed.tasks);
                    tasks.list.skipped.extend(parsed.skipped);
                }
                // The tasks array was read, so a later duplicate key replaced it: as the
                // parser of the whole body would, keep the last.
                Field::Missing | Field::Null | Field::Wrong(_) => {}
            }
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudreve::error::ListProblem;

    /// With a string holding brackets, an escaped quote, and numbers that pieces cut in two
    /// (`0.` is invalid to the parser, not cut off).
    const GOOD: &str = r#"{"id":"t1","status":"processing","resume_time":1750479052,"summary":{"props":{"download":{"name":"T","files":[{"index":1,"name":"T/a\"],{.mkv","progress":0.25,"size":5,"selected":true},{"index":2,"progress":1e-3,"selected":false}]}}}}"#;

    /// Feeds `body` in pieces of every size from 1 to 7 bytes and whole, and checks that each
    /// way gives what decoding it in one piece gives.
    fn streamed(body: &str) -> Result<ListAnswer, StreamError> {
        let whole = {
            let mut stream = ListStream::default();
            stream.feed(body.as_bytes());
            stream.finish()
        };
        for size in 1..=7 {
            let mut stream = ListStream::default();
            for piece in body.as_bytes().chunks(size) {
                stream.feed(piece);
            }
            let pieces = stream.finish();
            // Bad JSON may be caught by the parser or by the scanner, depending on where
            // the pieces break; that it is refused is what matters.
            if whole.is_ok() || pieces.is_ok() {
                assert_eq!(
                    describe(&pieces),
                    describe(&whole),
                    "pieces of {size} bytes: {body}"
                );
            }
        }
        whole
    }

    fn describe(result: &Result<ListAnswer, StreamError>) -> String {
        match result {
            Ok(answer) => {
                let data = match &answer.data {
                    Field::Found(data) => match &data.tasks {
                        Field::Found(list) => format!(
                            "tasks {:?} skipped {:?} next {:?}",
                            list.list.tasks,
                            list.list.skipped,
                            match &data.next_token {
                                Field::Found(t) => Some(t.clone()),
                                _ => None,
                            }
                        ),
                        Field::Missing => "tasks missing".into(),
                        Field::Null => "tasks null".into(),
                        Field::Wrong(kind) => format!("tasks {kind}"),
                    },
                    Field::Missing => "data missing".into(),
                    Field::Null => "data null".into(),
                    Field::Wrong(kind) => format!("data {kind}"),
                };
                format!("code {:?} msg {:?} {data}", answer.code, answer.msg)
            }
            Err(StreamError::Skeleton(_)) => "skeleton error".into(),
            Err(StreamError::Element { index, .. }) => format!("element {index} error"),
            Err(StreamError::Structure { .. }) => "structure error".into(),
        }
    }

    fn whole_body(body: &str) -> String {
        describe(&decode_list(body.as_bytes()).map_err(StreamError::Skeleton))
    }

    #[test]
    fn streaming_gives_what_decoding_the_whole_body_gives() {
        let bodies = [
            format!(
                r#"{{"code":0,"data":{{"tasks":[{GOOD},{GOOD}],"pagination":{{"next_token":"n"}}}},"msg":""}}"#
            ),
            format!(
                r#" {{ "code" : 0 , "data" : {{ "pagination" : {{"page":0}} , "tasks" : [ {GOOD} , {{"id":"bad","status":1}} , null ] }} , "msg" : "" }} "#
            ),
            r#"{"msg":"","data":{"tasks":[]},"code":0}"#.to_owned(),
            format!(r#"{{"code":0,"data":{{"x":{{"tasks":[{GOOD}]}},"tasks":[{GOOD}]}}}}"#),
            format!(r#"{{"code":0,"other":{{"tasks":[1]}},"data":{{"tasks":[{GOOD}]}}}}"#),
            format!(r#"{{"code":0,"d\u0061ta":{{"tasks":[{GOOD}]}}}}"#),
            r#"{"code":0,"msg":"","data":null}"#.to_owned(),
            r#"{"code":0,"msg":"","data":{"tasks":null}}"#.to_owned(),
            r#"{"code":401,"msg":"Login required"}"#.to_owned(),
            r#"{"code":0,"data":{"tasks":[12345,"x",[2],true,{"id":"a"}]}}"#.to_owned(),
            // A repeated key: the last array is the list, as for the whole-body parser.
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD},{GOOD}],"tasks":[{{"id":"b"}}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD}],"tasks":null}}}}"#),
        ];
        for body in &bodies {
            let result = streamed(body);
            assert!(result.is_ok(), "{body}");
            assert_eq!(describe(&result), whole_body(body), "{body}");
        }
    }

    #[test]
    fn what_is_not_valid_json_is_refused() {
        let bodies = [
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD},]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[,{GOOD}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD},,{GOOD}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD} {GOOD}]}}}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD}}}}}"#),
            r#"{"code":0,"data":{"tasks":[{"id":"a",}]}}"#.to_owned(),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD}]}}"#),
            format!(r#"{{"code":0,"data":{{"tasks":[{GOOD}]}}}} x"#),
            "<html>502 Bad Gateway</html>".to_owned(),
            String::new(),
        ];
        for body in &bodies {
            assert!(streamed(body).is_err(), "{body}");
            assert!(decode_list(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn the_body_is_not_kept() {
        let tasks = vec![GOOD; 200].join(",");
        let body = format!(r#"{{"code":0,"msg":"","data":{{"tasks":[{tasks}]}}}}"#);
        let mut stream = ListStream::default();
        for piece in body.as_bytes().chunks(1000) {
            stream.feed(piece);
            assert!(stream.element.capacity() < 2 * GOOD.len() + 1000);
        }
        assert!(stream.skeleton().len() < 50, "{}", stream.skeleton().len());
        assert_eq!(stream.received(), body.len());
        let answer = stream.finish().ok().unwrap();
        let page = answer.into_page().ok().unwrap();
        assert_eq!(page.tasks.tasks.len(), 200);
        assert!(matches!(
            {
                let mut s = ListStream::default();
                s.feed(br#"{"code":0,"msg":"","data":null}"#);
                s.finish().ok().unwrap().into_page()
            },
            Err(ListProblem::DataNull)
        ));
    }
}
