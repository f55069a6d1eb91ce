//! `explain`: what the rules decide for tasks read from a saved JSON answer, as a table.

use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

use crate::cloudreve::{self, StreamedTasks, TaskDocumentStream};
use crate::plan::{self, Decided};
use crate::rules::RuleSet;
use crate::task::DownloadTask;

mod input;

use input::Input;

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

    fn decode(path: &Path, source: cloudreve::DocumentError) -> Self {
        Self::Decode {
            path: path.to_owned(),
            source,
        }
    }
}

/// Tasks are handed from the decoding thread to the planner in batches of about this many
/// files: one wake-up per batch, not per task.
const BATCH_FILES: usize = 1024;

/// Batches waiting for the planner at most. When this many wait, the decoding thread draws the
/// next batch itself rather than queue it.
const BATCHES_AHEAD: usize = 4;

/// The file is read in pieces of this size, decoded as they arrive.
const PIECE: usize = 256 * 1024;

/// A document the decoding thread cannot stream (it is not a list answer, so it is held whole
/// until its end) is read whole instead once this much of it is held.
const HELD_AT_MOST: usize = 1024 * 1024;

/// Writes the plan of every task in the JSON file to `out`, as if nothing had been decided
/// before, with the rules `load_rules` gives; `Err` is its error, the file then unexplained.
///
/// Two threads share the work. One reads the file in pieces and decodes them as they arrive with
/// the daemon's own list decoder, handing the tasks over in batches as soon as they are decoded;
/// this one loads the rules meanwhile, then plans and draws each batch. Decoding is the quicker
/// half, so when the planner falls behind (a few batches wait), the decoding thread plans and
/// draws the next batch itself and hands over the text; it never waits for the planner.
/// Batches keep their order either way. A document the pieces cannot be followed in (one that
/// is not a list answer, or not valid JSON) is read again and decoded whole, what was drawn
/// from it before being dropped.
///
/// The tables are written out only once the whole document is judged, since only then is it
/// known to be usable (a saved error answer is not) and which of its arrays holds its tasks. A
/// task that cannot be read is named with the reason and the others are explained. Without a
/// second thread, all of it happens on this one, each task drawn as it is decoded from the
/// whole text.
pub fn explain_file<E>(
    path: &Path,
    load_rules: impl FnOnce() -> Result<RuleSet, E>,
    out: &mut dyn std::io::Write,
) -> Result<Result<(), ExplainError>, E> {
    explain_with(path, load_rules, out, Some(BATCHES_AHEAD))
}

/// [`explain_file`] with a queue of `ahead` batches, or on this thread alone (`None`).
fn explain_with<E>(
    path: &Path,
    load_rules: impl FnOnce() -> Result<RuleSet, E>,
    out: &mut dyn std::io::Write,
    ahead: Option<usize>,
) -> Result<Result<(), ExplainError>, E> {
    let loaded = OnceLock::new();
    let waiting = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (sender, receiver) = std::sync::mpsc::channel::<Handed>();
        let queue = Queue {
            sender,
            waiting: &waiting,
            ahead: ahead.unwrap_or(0),
        };
        let shared = &loaded;
        let decoding_thread = match ahead {
            Some(_) => std::thread::Builder::new()
                .name("explain-decode".to_owned())
                .spawn_scoped(scope, move || decode_in_batches(path, shared, &queue))
                .ok(),
            None => None,
        };
        // On failure the receiver is dropped, so the decoder stops at its next hand-over.
        let rules = load_rules()?;
        let rules = loaded.get_or_init(|| rules);
        let decided = Decided::new();
        let mut drawn = Vec::new();
        let document = match decoding_thread {
            Some(thread) => {
                for handed in receiver {
                    drawn.push(match handed {
                        Handed::Tasks(batch) => {
                            waiting.fetch_sub(1, Ordering::Relaxed);
                            Drawn::of(&batch, rules, &decided)
                        }
                        Handed::Drawn(tables) => tables,
                        Handed::Restart => {
                            drawn.clear();
                            continue;
                        }
                    });
                }
                thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            }
            None => Input::open(path).and_then(Input::whole).and_then(|bytes| {
                decode(path, &bytes, &mut |array, task| {
                    if drawn.last().is_none_or(|last| last.array != array) {
                        drawn.push(Drawn::new(array));
                    }
                    if let Some(last) = drawn.last_mut() {
                        last.draw(&task, rules, &decided);
                    }
                    ControlFlow::Continue(())
                })
            }),
        };
        Ok(document.and_then(|streamed| write(path, &drawn, &streamed, rules, out)))
    })
}

/// The decoding thread's way to the planner. The queue never blocks the decoding thread: with
/// `ahead` batches waiting (a count that only steers who draws; the order is the channel's), it
/// draws the next batch itself, once the rules are loaded.
struct Queue<'w> {
    sender: Sender<Handed>,
    /// Batches of tasks sent and not yet taken by the planner.
    waiting: &'w AtomicUsize,
    ahead: usize,
}

/// What the decoding thread hands to the planner.
enum Handed {
    /// Tasks to plan and draw.
    Tasks(Batch),
    /// Tasks the decoding thread planned and drew itself.
    Drawn(Drawn),
    /// What was handed over so far is not the document's: it is decoded again from the start.
    Restart,
}

/// Decoded tasks of one array.
struct Batch {
    array: usize,
    tasks: Vec<DownloadTask>,
}

/// The decoding thread: reads and decodes the file, handing the tasks over in batches; once the
/// rules are loaded, draws a batch itself when the planner is behind.
fn decode_in_batches(
    path: &Path,
    rules: &OnceLock<RuleSet>,
    queue: &Queue<'_>,
) -> Result<StreamedTasks, ExplainError> {
    let decided = Decided::new();
    let hand_over = |batch: Batch| {
        let handed = match rules.get() {
            Some(rules) if queue.waiting.load(Ordering::Relaxed) >= queue.ahead => {
                Handed::Drawn(Drawn::of(&batch, rules, &decided))
            }
            _ => {
                queue.waiting.fetch_add(1, Ordering::Relaxed);
                Handed::Tasks(batch)
            }
        };
        match queue.sender.send(handed) {
            Ok(()) => ControlFlow::Continue(()),
            // The planner is gone (the rules did not load): nobody wants the rest.
            Err(_) => ControlFlow::Break(()),
        }
    };
    let mut batcher = Batcher::new(&hand_over);
    let mut input = Input::open(path)?;
    let streamed = stream_file(path, &mut input, &mut |array, task| {
        batcher.take(array, task)
    })?;
    let streamed = if let Some(streamed) = streamed {
        streamed
    } else {
        // A planner that is gone (the rules did not load) reports that, not this.
        queue
            .sender
            .send(Handed::Restart)
            .map_err(|_| ExplainError::decode(path, cloudreve::DocumentError::Stopped))?;
        let bytes = input.whole()?;
        batcher = Batcher::new(&hand_over);
        decode(path, &bytes, &mut |array, task| batcher.take(array, task))
    };
    batcher.finish();
    streamed
}

/// Gathers tasks into batches of about [`BATCH_FILES`] files of one array.
struct Batcher<'h, H> {
    batch: Batch,
    files: usize,
    hand_over: &'h H,
}

impl<'h, H: Fn(Batch) -> ControlFlow<()>> Batcher<'h, H> {
    fn new(hand_over: &'h H) -> Self {
        Self {
            batch: Batch {
                array: 0,
                tasks: Vec::new(),
            },
            files: 0,
            hand_over,
        }
    }

    /// Adds a task of array `array`, handing the batch over when it is full or when the task
    /// begins another array.
    fn take(&mut self, array: usize, task: DownloadTask) -> ControlFlow<()> {
        if array != self.batch.array && !self.batch.tasks.is_empty() {
            self.hand_over()?;
        }
        self.batch.array = array;
        // A task counts as one file at least, so that empty tasks are batched too.
        self.files += 1 + task
            .download
            .as_ref()
            .and_then(|download| download.files.as_ref())
            .map_or(0, Vec::len);
        self.batch.tasks.push(task);
        if self.files >= BATCH_FILES {
            self.hand_over()?;
        }
        ControlFlow::Continue(())
    }

    fn hand_over(&mut self) -> ControlFlow<()> {
        self.files = 0;
        let tasks = std::mem::take(&mut self.batch.tasks);
        (self.hand_over)(Batch {
            array: self.batch.array,
            tasks,
        })
    }

    /// Hands over the last batch.
    fn finish(mut self) {
        if !self.batch.tasks.is_empty() {
            // A planner that is gone has an error of its own to report.
            let _ = self.hand_over();
        }
    }
}

/// Reads the file in pieces and decodes them as they arrive, each task to `each`. `None` when
/// the document could not be followed that way and must be decoded whole.
fn stream_file(
    path: &Path,
    input: &mut Input<'_>,
    each: &mut (dyn FnMut(usize, DownloadTask) -> ControlFlow<()> + Send),
) -> Result<Option<Result<StreamedTasks, ExplainError>>, ExplainError> {
    let mut buffer = vec![0; PIECE];
    let mut stream = TaskDocumentStream::new(each);
    loop {
        let piece = input.piece(&mut buffer)?;
        if piece.is_empty() {
            break;
        }
        stream.feed(piece);
        if stream.held() > HELD_AT_MOST {
            return Ok(None);
        }
    }
    Ok(stream
        .finish()
        .map(|streamed| streamed.map_err(|source| ExplainError::decode(path, source))))
}

fn decode(
    path: &Path,
    bytes: &[u8],
    each: &mut dyn FnMut(usize, DownloadTask) -> ControlFlow<()>,
) -> Result<StreamedTasks, ExplainError> {
    cloudreve::stream_task_document(bytes, each)
        .map_err(|source| ExplainError::decode(path, source))
}

/// Writes out the explanation of the judged document: the tasks that could not be read, then
/// the tables of its tasks (those drawn for its array, in order, then the rest).
fn write(
    path: &Path,
    drawn: &[Drawn],
    streamed: &StreamedTasks,
    rules: &RuleSet,
    out: &mut dyn std::io::Write,
) -> Result<(), ExplainError> {
    let mut rest = Drawn::new(0);
    for task in &streamed.rest.tasks {
        rest.draw(task, rules, &Decided::new());
    }
    let tables: Vec<&Drawn> = drawn
        .iter()
        .filter(|tables| Some(tables.array) == streamed.array)
        .chain(std::iter::once(&rest))
        .filter(|tables| tables.tasks > 0)
        .collect();
    let mut head = String::new();
    for skipped in &streamed.rest.skipped {
        let _ = writeln!(
            head,
            "task {} skipped: {}",
            crate::escape::Escaped(skipped.id.as_deref().unwrap_or("with an unreadable id")),
            skipped.reason
        );
    }
    if tables.is_empty() {
        let _ = writeln!(head, "{}: no tasks", path.display());
    }
    let mut written = out.write_all(head.as_bytes());
    for (n, tables) in tables.iter().enumerate() {
        if n > 0 {
            written = written.and_then(|()| out.write_all(b"\n"));
        }
        written = written.and_then(|()| out.write_all(tables.text.as_bytes()));
    }
    written
        .and_then(|()| out.flush())
        .map_err(|source| ExplainError::Write { source })?;
    if tables.is_empty() {
        return Err(ExplainError::NothingExplained {
            path: path.to_owned(),
            reason: match streamed.rest.skipped.len() {
                0 => "it holds no tasks".to_owned(),
                n => format!("none of its {n} task(s) could be read"),
            },
        });
    }
    Ok(())
}

/// The tables of consecutive tasks of one array, a blank line between them.
struct Drawn {
    array: usize,
    text: String,
    tasks: usize,
}

impl Drawn {
    fn new(array: usize) -> Self {
        Self {
            array,
            text: String::new(),
            tasks: 0,
        }
    }

    /// The tables of a batch.
    fn of(batch: &Batch, rules: &RuleSet, decided: &Decided) -> Self {
        let mut drawn = Self::new(batch.array);
        for task in &batch.tasks {
            drawn.draw(task, rules, decided);
        }
        drawn
    }

    /// Plans `task` and appends its table.
    fn draw(&mut self, task: &DownloadTask, rules: &RuleSet, decided: &Decided) {
        if self.tasks > 0 {
            self.text.push('\n');
        }
        plan::plan(task, rules, decided)
            .render_explained_into(&mut self.text, crate::cloudreve::draw_patch);
        self.tasks += 1;
    }
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

    /// Explains `text` with two threads, the queue as in use and without room (the decoding
    /// thread then draws whenever the planner is busy), and with one thread: the same result
    /// and the same output each time, which is returned beside the plain way's.
    fn explain(text: &str) -> (Result<(), ExplainError>, String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tasks.json");
        std::fs::write(&path, text).unwrap();
        let outcomes = [Some(BATCHES_AHEAD), Some(0), None].map(|ahead| {
            let mut out = Vec::new();
            let result = explain_with(&path, || Ok::<_, ()>(rules()), &mut out, ahead).unwrap();
            (result, String::from_utf8(out).unwrap())
        });
        for (result, out) in &outcomes[1..] {
            assert_eq!(out, &outcomes[0].1);
            assert_eq!(format!("{result:?}"), format!("{:?}", outcomes[0].0));
        }
        let expected = match cloudreve::decode_task_document(text.as_bytes()) {
            Ok(_) => drawn_in_turn(&path, text.as_bytes(), &rules()),
            Err(_) => String::new(),
        };
        let [(result, out), ..] = outcomes;
        (result, out, expected)
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
            // Streamed, then found to hold a `data` the pieces cannot follow (its key written
            // with escapes): decoded again, whole.
            format!(
                r#"{{"code":0,"data":{{"tasks":[{many}]}},"d\u0061ta":{{"tasks":[{}]}}}}"#,
                tasks(500, 3)
            ),
            // Streamed, then given up on: its `tasks` at the top is too long to hold. The
            // tasks of `data` are handed over twice, and explained once.
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

    /// A repeated `tasks` key: the last array is the document's, as in the list decoder,
    /// though the first one's tasks were handed over and drawn too.
    #[test]
    fn of_two_tasks_arrays_the_last_is_explained() {
        // The first array ends inside a batch, or is one small task.
        for first in [tasks(0, 300), task(0, 1)] {
            let document = format!(r#"{{"tasks":[{first}],"tasks":[{}]}}"#, tasks(1000, 5));
            let (result, out, expected) = explain(&document);
            result.unwrap();
            assert_eq!(out, expected);
            assert!(
                out.contains("task t1000 ") && !out.contains("task t0 "),
                "{out}"
            );
        }
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
        std::fs::write(&path, format!("[{}]", tasks(0, 2000))).unwrap();
        for ahead in [Some(BATCHES_AHEAD), Some(0), None] {
            let mut out = Vec::new();
            let result = explain_with(&path, || Err::<RuleSet, _>("no rules"), &mut out, ahead);
            assert!(matches!(result, Err("no rules")));
            assert!(out.is_empty());
        }
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
