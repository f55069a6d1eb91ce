//! Decodes a `GET /workflow` answer, or a saved task document for `explain`, straight into
//! domain types in one pass over the bytes.
//!
//! The list is by far the largest answer the daemon reads (tens of megabytes for ten thousand
//! torrents), so it gets hand-written serde visitors instead of derived wire structs:
//! - only the fields the daemon uses are read; every other value (progress, pieces, node,
//!   timestamps) is skipped by the parser without being built;
//! - strings without escapes are borrowed from the body; a value is allocated only when the
//!   domain keeps it (ids, paths, names, sources), once, and the status words are matched
//!   in place;
//! - a value of the wrong type inside one task makes that task skipped, naming the field,
//!   while the other tasks are returned; only a body that is not JSON at all fails as a whole;
//! - nothing here ever puts a value from the answer into a message: problems name the field
//!   path and the JSON kind found.
//!
//! Every visitor accepts any JSON value (`deserialize_any`), so `serde_json` never produces a
//! type error (whose message would quote the value); its only errors are syntax errors.

mod stream;

#[cfg(test)]
mod hostile_tests;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::error::{DecodeProblem, JsonKind, ListProblem};
use crate::task::{
    DownloadState, DownloadStatus, DownloadTask, FilePath, Phase, SkippedTask, TaskFile, TaskId,
    TaskKind, TaskList, TaskStatus,
};

pub(in crate::cloudreve) use stream::{DocumentStreamError, ListStream, StreamError};

/// A list answer as decoded, before its completeness is judged by the caller.
pub(in crate::cloudreve) struct ListAnswer {
    /// The envelope's `code`, `None` when absent or not an integer.
    pub(in crate::cloudreve) code: Option<i64>,
    /// The envelope's `msg`.
    pub(in crate::cloudreve) msg: String,
    /// The envelope's `correlation_id`.
    pub(in crate::cloudreve) correlation_id: Option<String>,
    /// `data`.
    data: Field<ListData>,
}

/// The `data` of a list answer.
struct ListData {
    tasks: Field<TaskArray>,
    next_token: Field<String>,
}

/// One page of a complete list.
pub(in crate::cloudreve) struct ListPage {
    /// Its tasks.
    pub(in crate::cloudreve) tasks: TaskList,
    /// The cursor of the next page, if there is one.
    pub(in crate::cloudreve) next_token: Option<String>,
    /// The bytes of its answer (the whole list's are capped together).
    pub(in crate::cloudreve) bytes: usize,
}

impl ListAnswer {
    /// The page, or what makes this code-0 answer unusable as a complete list.
    pub(in crate::cloudreve) fn into_page(self) -> Result<ListPage, ListProblem> {
        self.into_parts().map(|(tasks, next_token)| ListPage {
            tasks: tasks.list,
            next_token,
            bytes: 0,
        })
    }

    /// The page's tasks array, or what makes this code-0 answer unusable as a complete list.
    pub(in crate::cloudreve) fn into_task_array(self) -> Result<TaskArray, ListProblem> {
        self.into_parts().map(|(tasks, _)| tasks)
    }

    fn into_parts(self) -> Result<(TaskArray, Option<String>), ListProblem> {
        let data = match self.data {
            Field::Found(data) => data,
            Field::Missing => return Err(ListProblem::DataMissing),
            Field::Null => return Err(ListProblem::DataNull),
            Field::Wrong(kind) => return Err(ListProblem::DataNotObject(kind)),
        };
        let tasks = match data.tasks {
            Field::Found(tasks) => tasks,
            Field::Missing => return Err(ListProblem::TasksMissing),
            Field::Null => return Err(ListProblem::TasksNull),
            Field::Wrong(kind) => return Err(ListProblem::TasksNotArray(kind)),
        };
        let next_token = match data.next_token {
            Field::Found(token) => Some(token).filter(|t| !t.is_empty()),
            Field::Missing | Field::Null => None,
            Field::Wrong(kind) => return Err(ListProblem::CursorNotString(kind)),
        };
        Ok((tasks, next_token))
    }
}

/// Decodes a list answer. Fails only on a body that is not one JSON object.
pub(in crate::cloudreve) fn decode_list(bytes: &[u8]) -> Result<ListAnswer, DecodeProblem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut decoding = Decoding::new(None);
    let answer = ObjectOr(AnswerHandler {
        decoding: &mut decoding,
    })
    .deserialize(&mut deserializer)
    .and_then(|answer| deserializer.end().map(|()| answer))
    .map_err(|e| DecodeProblem::from(&e))?;
    match answer {
        Field::Found(answer) => Ok(answer),
        Field::Missing | Field::Null | Field::Wrong(_) => Err(not_an_object()),
    }
}

fn not_an_object() -> DecodeProblem {
    DecodeProblem {
        category: super::super::error::DecodeCategory::Shape,
        line: 1,
        column: 1,
    }
}

/// What a saved task document turned out to be.
pub(in crate::cloudreve) enum Document {
    /// A whole list answer (the envelope).
    Answer(ListAnswer),
    /// A list's `data` (`{"tasks": [...]}`), an array of tasks, or a single task.
    Tasks(TaskArray),
    /// A JSON value that is none of these.
    Other,
}

/// Decodes a saved task document: a list answer, its `data`, an array of tasks, or one task.
///
/// With a tap, every task read from a `tasks` array goes to the tap as soon as it is decoded
/// instead of into the array's list (see [`TaskTap`]).
pub(in crate::cloudreve) fn decode_document(
    bytes: &[u8],
    tap: Option<TaskTap<'_>>,
) -> Result<Document, DecodeProblem> {
    decode_document_counted(bytes, tap).map(|(document, _)| document)
}

/// [`decode_document`], and how many `tasks` arrays it numbered.
fn decode_document_counted(
    bytes: &[u8],
    tap: Option<TaskTap<'_>>,
) -> Result<(Document, usize), DecodeProblem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut decoding = Decoding::new(tap);
    DocumentSeed {
        decoding: &mut decoding,
    }
    .deserialize(&mut deserializer)
    .and_then(|document| deserializer.end().map(|()| document))
    .map(|document| (document, decoding.arrays))
    .map_err(|e| DecodeProblem::from(&e))
}

// ---------------------------------------------------------------------------------------------
// Generic pieces: a field's presence and kind, any-value scalars, object and array seeds.

/// A field as found: absent, `null`, of the expected shape, or of another kind.
#[derive(Default)]
enum Field<T> {
    #[default]
    Missing,
    Null,
    Found(T),
    Wrong(JsonKind),
}

impl<T> Field<T> {
    fn found(self) -> Option<T> {
        match self {
            Self::Found(value) => Some(value),
            Self::Missing | Self::Null | Self::Wrong(_) => None,
        }
    }
}

/// Any JSON value, with containers skipped (not built) and strings borrowed where possible.
enum Scalar<'de> {
    Null,
    Bool(bool),
    Unsigned(u64),
    Negative(i64),
    /// A number with a fraction or an exponent, or beyond 64 bits.
    OtherNumber,
    Str(Cow<'de, str>),
    Container(JsonKind),
}

impl Scalar<'_> {
    fn kind(&self) -> JsonKind {
        match self {
            Self::Null => JsonKind::Null,
            Self::Bool(_) => JsonKind::Bool,
            Self::Unsigned(_) | Self::Negative(_) | Self::OtherNumber => JsonKind::Number,
            Self::Str(_) => JsonKind::String,
            Self::Container(kind) => *kind,
        }
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u64::try_from(v).map_or(Scalar::Negative(v), Scalar::Unsigned))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::OtherNumber)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Scalar::Container(JsonKind::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        drain_map(map)?;
        Ok(Scalar::Container(JsonKind::Object))
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A map key as raw bytes, borrowed from the body unless it has escapes. Keys are only compared
/// with known ASCII names, so they are not checked for UTF-8 (the parser's largest cost after
/// the strings themselves). `serde_json` does not check raw keys for control characters either,
/// which JSON forbids in a string: a key borrowed whole is checked here (found by fuzzing); one
/// with escapes is not, as its raw text is gone (a `\n` escape is valid, a raw line feed not).
struct Key<'de>(Cow<'de, [u8]>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                if v.iter().any(|&b| b < 0x20) {
                    return Err(E::custom(
                        "control character (\\u0000-\\u001F) found while parsing a key",
                    ));
                }
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        deserializer.deserialize_bytes(KeyVisitor)
    }
}

/// Reads an object's entries; `ObjectOr` supplies every other kind of value.
trait ObjectHandler<'de> {
    type Output;
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Output, A::Error>;
}

/// Reads an array's elements; `ArrayOr` supplies every other kind of value.
trait ArrayHandler<'de> {
    type Output;
    fn array<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Output, A::Error>;
}

/// An object read by `H`, or the kind of value found instead.
struct ObjectOr<H>(H);
/// An array read by `H`, or the kind of value found instead.
struct ArrayOr<H>(H);

/// The visitor methods for the kinds a seed does not want: consume the value, report its kind.
macro_rules! other_kinds {
    ($($skip:ident)*) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Field::Wrong(JsonKind::Bool))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Field::Wrong(JsonKind::Number))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Field::Wrong(JsonKind::Number))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Field::Wrong(JsonKind::Number))
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Field::Wrong(JsonKind::String))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Field::Null)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Field::Null)
        }
        $(other_kinds!(@ $skip);)*
    };
    (@ seq) => {
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            drain_seq(seq)?;
            Ok(Field::Wrong(JsonKind::Array))
        }
    };
    (@ map) => {
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map)?;
            Ok(Field::Wrong(JsonKind::Object))
        }
    };
}

impl<'de, H: ObjectHandler<'de>> DeserializeSeed<'de> for ObjectOr<H> {
    type Value = Field<H::Output>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, H: ObjectHandler<'de>> Visitor<'de> for ObjectOr<H> {
    type Value = Field<H::Output>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.object(map).map(Field::Found)
    }
    other_kinds!(seq);
}

impl<'de, H: ArrayHandler<'de>> DeserializeSeed<'de> for ArrayOr<H> {
    type Value = Field<H::Output>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, H: ArrayHandler<'de>> Visitor<'de> for ArrayOr<H> {
    type Value = Field<H::Output>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.array(seq).map(Field::Found)
    }
    other_kinds!(map);
}

// ---------------------------------------------------------------------------------------------
// Problems inside one task.

/// What makes one task unreadable: the field's path relative to the task, and what was wrong.
struct Problem {
    path: String,
    what: ProblemKind,
}

enum ProblemKind {
    Wrong {
        found: JsonKind,
        expected: &'static str,
    },
    Missing,
    Empty,
    /// The index of an earlier element of the same array (`[first]`).
    Repeated {
        first: usize,
    },
}

impl Problem {
    fn wrong(field: &str, found: JsonKind, expected: &'static str) -> Self {
        Self {
            path: field.to_owned(),
            what: ProblemKind::Wrong { found, expected },
        }
    }

    fn missing(field: &str) -> Self {
        Self {
            path: field.to_owned(),
            what: ProblemKind::Missing,
        }
    }

    /// The same problem, seen from the object holding `field`.
    fn within(mut self, field: &str) -> Self {
        let separator = if self.path.starts_with('[') { "" } else { "." };
        self.path = format!("{field}{separator}{}", self.path);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            ProblemKind::Wrong { found, expected } => {
                write!(f, "{} is {found}, not {expected}", self.path)
            }
            ProblemKind::Missing => write!(f, "{} is missing", self.path),
            ProblemKind::Empty => write!(f, "{} is empty", self.path),
            ProblemKind::Repeated { first } => write!(
                f,
                "{} repeats the index of files[{first}]; a task listing an index twice is not planned",
                self.path
            ),
        }
    }
}

const A_STRING: &str = "a string";
const AN_OBJECT: &str = "an object";
const AN_ARRAY: &str = "an array";
const AN_INDEX: &str = "a non-negative integer";
const A_BOOL: &str = "a boolean";

/// An optional string: absent and `null` give `None`.
fn optional_str<'de>(value: Scalar<'de>, field: &str) -> Result<Option<Cow<'de, str>>, Problem> {
    match value {
        Scalar::Str(s) => Ok(Some(s)),
        Scalar::Null => Ok(None),
        other => Err(Problem::wrong(field, other.kind(), A_STRING)),
    }
}

/// A nested object: absent and `null` give `None`; its own problem is reported within `field`.
fn nested<T>(value: Field<Result<T, Problem>>, field: &str) -> Result<Option<T>, Problem> {
    match value {
        Field::Found(Ok(found)) => Ok(Some(found)),
        Field::Found(Err(problem)) => Err(problem.within(field)),
        Field::Missing | Field::Null => Ok(None),
        Field::Wrong(kind) => Err(Problem::wrong(field, kind, AN_OBJECT)),
    }
}

/// Keeps the first problem; after it, the rest of the object is skipped rather than built.
fn note<T>(first: &mut Option<Problem>, result: Result<T, Problem>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(problem) => {
            first.get_or_insert(problem);
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The list answer and the document shapes.

/// The fields of the envelope and of a list's `data` that a document may hold at its top.
#[derive(Default)]
struct TopLevel {
    code: Field<i64>,
    msg: String,
    correlation_id: Option<String>,
    data: Option<Field<ListData>>,
    tasks: Option<Field<TaskArray>>,
    pagination: Option<Field<Field<String>>>,
}

impl TopLevel {
    /// Reads `key` if it belongs to the envelope or a list's `data`; false otherwise.
    fn entry<'de, A: MapAccess<'de>>(
        &mut self,
        key: &[u8],
        map: &mut A,
        decoding: &mut Decoding<'_>,
    ) -> Result<bool, A::Error> {
        match key {
            b"code" => {
                self.code = match map.next_value::<Scalar<'de>>()? {
                    Scalar::Unsigned(code) => {
                        i64::try_from(code).map_or(Field::Wrong(JsonKind::Number), Field::Found)
                    }
                    Scalar::Negative(code) => Field::Found(code),
                    other => Field::Wrong(other.kind()),
                };
            }
            b"msg" => {
                if let Scalar::Str(msg) = map.next_value::<Scalar<'de>>()? {
                    self.msg = msg.into_owned();
                }
            }
            b"correlation_id" => {
                if let Scalar::Str(id) = map.next_value::<Scalar<'de>>()? {
                    self.correlation_id = Some(id.into_owned());
                }
            }
            b"data" => {
                self.data = Some(map.next_value_seed(ObjectOr(DataHandler { decoding }))?);
            }
            b"tasks" => {
                self.tasks = Some(map.next_value_seed(ArrayOr(TasksHandler { decoding }))?);
            }
            b"pagination" => self.pagination = Some(map.next_value_seed(ObjectOr(Pagination))?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn data(tasks: Option<Field<TaskArray>>, pagination: Option<Field<Field<String>>>) -> ListData {
        ListData {
            tasks: tasks.unwrap_or(Field::Missing),
            next_token: match pagination {
                Some(Field::Found(token)) => token,
                // A pagination that is absent, null or not an object has no cursor.
                _ => Field::Missing,
            },
        }
    }
}

/// The envelope `{code, msg, data, correlation_id}`.
struct AnswerHandler<'s, 't> {
    decoding: &'s mut Decoding<'t>,
}

impl<'de> ObjectHandler<'de> for AnswerHandler<'_, '_> {
    type Output = ListAnswer;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<ListAnswer, A::Error> {
        let mut top = TopLevel::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if !top.entry(&key, &mut map, self.decoding)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ListAnswer {
            code: top.code.found(),
            msg: top.msg,
            correlation_id: top.correlation_id,
            data: top.data.unwrap_or(Field::Missing),
        })
    }
}

/// A list's `data`: `{tasks, pagination}`.
struct DataHandler<'s, 't> {
    decoding: &'s mut Decoding<'t>,
}

impl<'de> ObjectHandler<'de> for DataHandler<'_, '_> {
    type Output = ListData;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<ListData, A::Error> {
        let mut tasks = None;
        let mut pagination = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                b"tasks" => {
                    tasks = Some(map.next_value_seed(ArrayOr(TasksHandler {
                        decoding: &mut *self.decoding,
                    }))?);
                }
                b"pagination" => pagination = Some(map.next_value_seed(ObjectOr(Pagination))?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(TopLevel::data(tasks, pagination))
    }
}

/// `pagination`: only its `next_token` matters.
struct Pagination;

impl<'de> ObjectHandler<'de> for Pagination {
    type Output = Field<String>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<String>, A::Error> {
        let mut token = Field::Missing;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if *key == *b"next_token" {
                token = match map.next_value::<Scalar<'de>>()? {
                    Scalar::Str(s) => Field::Found(s.into_owned()),
                    Scalar::Null => Field::Null,
                    other => Field::Wrong(other.kind()),
                };
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(token)
    }
}

/// Where a reader that wants each task as soon as it is decoded takes it, with the number of
/// its `tasks` array in the document (0 for the first, counted wherever it is). The document's
/// tasks are then those of the one array the decoded [`Document`] names (a later array with the
/// same key replaces an earlier one, as in the list); `Break` stops the decoding with an error.
pub(in crate::cloudreve) type TaskTap<'t> =
    &'t mut dyn FnMut(usize, DownloadTask) -> std::ops::ControlFlow<()>;

/// What one decoding carries through the document.
struct Decoding<'t> {
    scratch: FileScratch,
    /// `tasks` arrays begun so far.
    arrays: usize,
    tap: Option<TaskTap<'t>>,
}

impl<'t> Decoding<'t> {
    fn new(tap: Option<TaskTap<'t>>) -> Self {
        Self {
            scratch: FileScratch::new(),
            arrays: 0,
            tap,
        }
    }
}

/// The tasks of one `tasks` array (those that went to a tap are not in `list`), or of a
/// document that is a single task.
pub(in crate::cloudreve) struct TaskArray {
    /// The tasks that stayed here, and every task that could not be read.
    pub(in crate::cloudreve) list: TaskList,
    /// The array's number, as given to the tap; `None` for a single task.
    pub(in crate::cloudreve) array: Option<usize>,
}

/// The `tasks` array: every element read, a malformed one skipped.
struct TasksHandler<'s, 't> {
    decoding: &'s mut Decoding<'t>,
}

impl<'de> ArrayHandler<'de> for TasksHandler<'_, '_> {
    type Output = TaskArray;

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TaskArray, A::Error> {
        let decoding = self.decoding;
        let array = decoding.arrays;
        decoding.arrays += 1;
        let mut list = TaskList::default();
        if decoding.tap.is_none()
            && let Some(hint) = seq.size_hint()
        {
            list.tasks.reserve(hint);
        }
        let mut position = 0;
        while let Some(task) = seq.next_element_seed(ObjectOr(TaskHandler {
            scratch: &mut decoding.scratch,
        }))? {
            match (task, decoding.tap.as_deref_mut()) {
                (Field::Found(Ok(task)), Some(tap)) => {
                    if tap(array, task).is_break() {
                        return Err(de::Error::custom("the reader stopped taking tasks"));
                    }
                }
                (task, _) => push_task(&mut list, task, position),
            }
            position += 1;
        }
        list.tasks.shrink_to_fit();
        Ok(TaskArray {
            list,
            array: Some(array),
        })
    }
}

fn push_task(list: &mut TaskList, task: Field<Result<DownloadTask, SkippedTask>>, position: usize) {
    match task {
        Field::Found(Ok(task)) => list.tasks.push(task),
        Field::Found(Err(skipped)) => list.skipped.push(skipped),
        Field::Missing | Field::Null | Field::Wrong(_) => {
            let kind = match task {
                Field::Wrong(kind) => kind,
                _ => JsonKind::Null,
            };
            list.skipped.push(SkippedTask {
                id: None,
                reason: format!("tasks[{position}] is {kind}, not an object"),
            });
        }
    }
}

/// A saved document: whichever of the accepted shapes it turns out to be.
struct DocumentSeed<'s, 't> {
    decoding: &'s mut Decoding<'t>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_, '_> {
    type Value = Document;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_, '_> {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a task, a task list or a list answer")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document, A::Error> {
        TasksHandler {
            decoding: self.decoding,
        }
        .array(seq)
        .map(Document::Tasks)
    }

    /// One pass over an object whose shape is known only at its end: the envelope's keys, a
    /// list's keys and a task's keys do not overlap, so each is read as what it must be.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut top = TopLevel::default();
        let mut task = TaskFields::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if !top.entry(&key, &mut map, self.decoding)?
                && !task.entry(&key, &mut map, &mut self.decoding.scratch)?
            {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(if !matches!(top.code, Field::Missing) {
            Document::Answer(ListAnswer {
                code: top.code.found(),
                msg: top.msg,
                correlation_id: top.correlation_id,
                data: top.data.unwrap_or(Field::Missing),
            })
        } else if top.tasks.is_some() {
            match TopLevel::data(top.tasks, top.pagination).tasks {
                Field::Found(tasks) => Document::Tasks(tasks),
                Field::Missing | Field::Null | Field::Wrong(_) => Document::Other,
            }
        } else if !matches!(task.id, Field::Missing) {
            let mut list = TaskList::default();
            push_task(&mut list, Field::Found(task.finish()), 0);
            Document::Tasks(TaskArray { list, array: None })
        } else {
            Document::Other
        })
    }

    fn visit_bool<E>(self, _: bool) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_str<E>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_unit<E>(self) -> Result<Document, E> {
        Ok(Document::Other)
    }
}

// ---------------------------------------------------------------------------------------------
// One task.

/// One `TaskResponse`.
struct TaskHandler<'s> {
    scratch: &'s mut FileScratch,
}

impl<'de> ObjectHandler<'de> for TaskHandler<'_> {
    type Output = Result<DownloadTask, SkippedTask>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Output, A::Error> {
        let mut task = TaskFields::default();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if !task.entry(&key, &mut map, self.scratch)? {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(task.finish())
    }
}

/// The fields of a task read so far.
#[derive(Default)]
struct TaskFields {
    /// Present but unreadable is `Wrong`, with the problem noted.
    id: Field<String>,
    status: Option<TaskStatus>,
    kind: Option<TaskKind>,
    summary: Option<SummaryFields>,
    problem: Option<Problem>,
}

#[derive(Default)]
struct SummaryFields {
    phase: Option<Phase>,
    source: Option<String>,
    download: Option<DownloadStatus>,
}

impl TaskFields {
    /// Reads `key` if it is one of a task's fields the daemon uses; false otherwise.
    fn entry<'de, A: MapAccess<'de>>(
        &mut self,
        key: &[u8],
        map: &mut A,
        scratch: &mut FileScratch,
    ) -> Result<bool, A::Error> {
        match key {
            b"id" => {
                let value = map.next_value::<Scalar<'de>>()?;
                self.id = match value {
                    Scalar::Str(id) if !id.is_empty() => Field::Found(id.into_owned()),
                    Scalar::Str(_) => {
                        self.problem.get_or_insert(Problem {
                            path: "id".to_owned(),
                            what: ProblemKind::Empty,
                        });
                        Field::Wrong(JsonKind::String)
                    }
                    other => {
                        self.problem
                            .get_or_insert(Problem::wrong("id", other.kind(), A_STRING));
                        Field::Wrong(other.kind())
                    }
                };
            }
            _ if self.problem.is_some() => return Ok(false),
            b"status" => {
                let value = optional_str(map.next_value::<Scalar<'de>>()?, "status");
                self.status = note(&mut self.problem, value).map(|s| status(s.as_deref()));
            }
            b"type" => {
                let value = optional_str(map.next_value::<Scalar<'de>>()?, "type");
                self.kind = note(&mut self.problem, value).map(|s| kind(s.as_deref()));
            }
            b"summary" => {
                let value = map.next_value_seed(ObjectOr(SummaryHandler { scratch }))?;
                self.summary = note(&mut self.problem, nested(value, "summary")).flatten();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn finish(self) -> Result<DownloadTask, SkippedTask> {
        let Field::Found(id) = self.id else {
            return Err(SkippedTask {
                id: None,
                reason: self
                    .problem
                    .unwrap_or_else(|| Problem::missing("id"))
                    .to_string(),
            });
        };
        if let Some(problem) = self.problem {
            return Err(SkippedTask {
                id: Some(id),
                reason: problem.to_string(),
            });
        }
        let summary = self.summary.unwrap_or_default();
        Ok(DownloadTask {
            id: TaskId::new(id),
            kind: self.kind.unwrap_or_else(|| kind(None)),
            status: self.status.unwrap_or_else(|| status(None)),
            phase: summary.phase.unwrap_or(Phase::NotStarted),
            source: summary.source.unwrap_or_default(),
            download: summary.download,
        })
    }
}

fn status(text: Option<&str>) -> TaskStatus {
    match text.unwrap_or("") {
        "queued" => TaskStatus::Queued,
        "processing" => TaskStatus::Processing,
        "suspending" => TaskStatus::Suspending,
        "error" => TaskStatus::Error,
        "canceled" => TaskStatus::Canceled,
        "completed" => TaskStatus::Completed,
        other => TaskStatus::Other(other.to_owned()),
    }
}

fn kind(text: Option<&str>) -> TaskKind {
    match text.unwrap_or("") {
        "remote_download" => TaskKind::RemoteDownload,
        other => TaskKind::Other(other.to_owned()),
    }
}

fn phase(text: Option<&str>) -> Phase {
    match text {
        None | Some("") => Phase::NotStarted,
        Some("monitor") => Phase::Monitor,
        Some("transfer") => Phase::Transfer,
        Some("seeding") => Phase::Seeding,
        Some(other) => Phase::Other(other.to_owned()),
    }
}

fn download_state(text: Option<&str>) -> DownloadState {
    match text.unwrap_or("") {
        "downloading" => DownloadState::Downloading,
        "seeding" => DownloadState::Seeding,
        "completed" => DownloadState::Completed,
        "error" => DownloadState::Error,
        other => DownloadState::Other(other.to_owned()),
    }
}

/// `summary`: `{phase, props}`.
struct SummaryHandler<'s> {
    scratch: &'s mut FileScratch,
}

impl<'de> ObjectHandler<'de> for SummaryHandler<'_> {
    type Output = Result<SummaryFields, Problem>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Output, A::Error> {
        let mut summary = SummaryFields::default();
        let mut problem = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                _ if problem.is_some() => {
                    map.next_value::<IgnoredAny>()?;
                }
                b"phase" => {
                    let value = optional_str(map.next_value::<Scalar<'de>>()?, "phase");
                    summary.phase = note(&mut problem, value).map(|p| phase(p.as_deref()));
                }
                b"props" => {
                    let value = map.next_value_seed(ObjectOr(PropsHandler {
                        scratch: self.scratch,
                        summary: &mut summary,
                    }))?;
                    note(&mut problem, nested(value, "props"));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(problem.map_or(Ok(summary), Err))
    }
}

/// `summary.props`: `{src_str, download}`; writes into the summary being read.
struct PropsHandler<'s, 'f> {
    scratch: &'s mut FileScratch,
    summary: &'f mut SummaryFields,
}

impl<'de> ObjectHandler<'de> for PropsHandler<'_, '_> {
    type Output = Result<(), Problem>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Output, A::Error> {
        let mut problem = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                _ if problem.is_some() => {
                    map.next_value::<IgnoredAny>()?;
                }
                b"src_str" => {
                    let value = optional_str(map.next_value::<Scalar<'de>>()?, "src_str");
                    self.summary.source = note(&mut problem, value).flatten().map(Cow::into_owned);
                }
                b"download" => {
                    let value = map.next_value_seed(ObjectOr(DownloadHandler {
                        scratch: &mut *self.scratch,
                    }))?;
                    self.summary.download = note(&mut problem, nested(value, "download")).flatten();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(problem.map_or(Ok(()), Err))
    }
}

/// `summary.props.download`: `{name, state, files}`.
struct DownloadHandler<'s> {
    scratch: &'s mut FileScratch,
}

impl<'de> ObjectHandler<'de> for DownloadHandler<'_> {
    type Output = Result<DownloadStatus, Problem>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Output, A::Error> {
        let mut name = None;
        let mut state = None;
        let mut files = None;
        let mut problem = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                _ if problem.is_some() => {
                    map.next_value::<IgnoredAny>()?;
                }
                b"name" => {
                    let value = optional_str(map.next_value::<Scalar<'de>>()?, "name");
                    name = note(&mut problem, value).flatten().map(Cow::into_owned);
                }
                b"state" => {
                    let value = optional_str(map.next_value::<Scalar<'de>>()?, "state");
                    state = note(&mut problem, value).map(|s| download_state(s.as_deref()));
                }
                b"files" => {
                    let value = map.next_value_seed(ArrayOr(FilesHandler {
                        scratch: &mut *self.scratch,
                    }))?;
                    let value = match value {
                        Field::Found(Ok(found)) => Ok(Some(found)),
                        Field::Found(Err(problem)) => Err(problem.within("files")),
                        Field::Missing | Field::Null => Ok(None),
                        Field::Wrong(kind) => Err(Problem::wrong("files", kind, AN_ARRAY)),
                    };
                    files = note(&mut problem, value).flatten();
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        Ok(Ok(DownloadStatus {
            name: name.unwrap_or_default(),
            state: state.unwrap_or_else(|| download_state(None)),
            files,
        }))
    }
}

/// The files of the task being decoded, reused from task to task: a vector allocated per task
/// and grown by doubling costs more in the allocator than the decoding itself. The paths go
/// into one buffer, shared by the task's [`FilePath`]s once its list is complete.
#[derive(Default)]
pub(in crate::cloudreve) struct FileScratch {
    files: Vec<RawFile>,
    paths: String,
}

impl FileScratch {
    /// Empty (usable in a `const` context, such as a thread-local).
    pub(in crate::cloudreve) const fn new() -> Self {
        Self {
            files: Vec::new(),
            paths: String::new(),
        }
    }

    fn clear(&mut self) {
        self.files.clear();
        self.paths.clear();
    }
}

/// One file as read, its path a range of [`FileScratch::paths`].
struct RawFile {
    index: u64,
    path: std::ops::Range<usize>,
    size: u64,
    selected: bool,
}

/// `files`: each `{index, name, size, selected}`, collected through the reused scratch, then
/// made into the task's files with one shared path buffer.
struct FilesHandler<'s> {
    scratch: &'s mut FileScratch,
}

impl<'de> ArrayHandler<'de> for FilesHandler<'_> {
    type Output = Result<Vec<TaskFile>, Problem>;

    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Output, A::Error> {
        self.scratch.clear();
        let mut problem = None;
        let mut position = 0usize;
        loop {
            if problem.is_some() {
                drain_seq(seq)?;
                break;
            }
            let Some(file) = seq.next_element_seed(ObjectOr(FileHandler {
                paths: &mut self.scratch.paths,
            }))?
            else {
                break;
            };
            match file {
                Field::Found(Ok(file)) => self.scratch.files.push(file),
                Field::Found(Err(inner)) => problem = Some(inner.within(&format!("[{position}]"))),
                Field::Missing | Field::Null | Field::Wrong(_) => {
                    let found = match file {
                        Field::Wrong(kind) => kind,
                        _ => JsonKind::Null,
                    };
                    problem = Some(Problem::wrong(&format!("[{position}]"), found, AN_OBJECT));
                }
            }
            position += 1;
        }
        let problem = problem.or_else(|| repeated_index(&self.scratch.files));
        if let Some(problem) = problem {
            self.scratch.clear();
            return Ok(Err(problem));
        }
        let FileScratch { files, paths } = &mut *self.scratch;
        let shared = FilePath::shared(paths, files.iter().map(|f| f.path.clone()));
        let task_files = files
            .iter()
            .zip(shared)
            .map(|(file, path)| TaskFile {
                index: file.index,
                path,
                size: file.size,
                selected: file.selected,
            })
            .collect();
        self.scratch.clear();
        Ok(Ok(task_files))
    }
}

/// An index listed twice (`[position].index`, naming the first), which would let two verdicts
/// on one file defeat "never deselect every file". Indices in increasing order, as servers
/// send them, cost one pass; others are sorted.
fn repeated_index(files: &[RawFile]) -> Option<Problem> {
    if files.windows(2).all(|pair| pair[0].index < pair[1].index) {
        return None;
    }
    let mut order: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(position, file)| (file.index, position))
        .collect();
    order.sort_unstable();
    order
        .windows(2)
        .find(|pair| pair[0].0 == pair[1].0)
        .map(|pair| Problem {
            path: format!("[{}].index", pair[1].1),
            what: ProblemKind::Repeated { first: pair[0].1 },
        })
}

/// One file: `{index, name, size, selected}`; `index` is required, the rest default. Its path
/// is appended to the task's path buffer.
struct FileHandler<'p> {
    paths: &'p mut String,
}

impl<'de> ObjectHandler<'de> for FileHandler<'_> {
    type Output = Result<RawFile, Problem>;

    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Output, A::Error> {
        let mut index = None;
        let start = self.paths.len();
        let mut path = start..start;
        let mut size = None;
        let mut selected = None;
        let mut problem = None;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match &*key {
                _ if problem.is_some() => {
                    map.next_value::<IgnoredAny>()?;
                }
                b"index" => {
                    index = match map.next_value::<Scalar<'de>>()? {
                        Scalar::Unsigned(index) => Some(index),
                        other => {
                            problem = Some(Problem::wrong("index", other.kind(), AN_INDEX));
                            None
                        }
                    };
                }
                b"name" => {
                    let value = optional_str(map.next_value::<Scalar<'de>>()?, "name");
                    if let Some(name) = note(&mut problem, value).flatten() {
                        // A repeated key: the last value wins, as in a derived decoder.
                        self.paths.truncate(start);
                        self.paths.push_str(&name);
                        path = start..self.paths.len();
                    }
                }
                b"size" => {
                    size = match map.next_value::<Scalar<'de>>()? {
                        Scalar::Unsigned(size) => Some(size),
                        Scalar::Null => None,
                        other => {
                            problem = Some(Problem::wrong("size", other.kind(), AN_INDEX));
                            None
                        }
                    };
                }
                b"selected" => {
                    selected = match map.next_value::<Scalar<'de>>()? {
                        Scalar::Bool(selected) => Some(selected),
                        Scalar::Null => None,
                        other => {
                            problem = Some(Problem::wrong("selected", other.kind(), A_BOOL));
                            None
                        }
                    };
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some(problem) = problem {
            return Ok(Err(problem));
        }
        let Some(index) = index else {
            return Ok(Err(Problem::missing("index")));
        };
        Ok(Ok(RawFile {
            index,
            path,
            size: size.unwrap_or(0),
            selected: selected.unwrap_or(false),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"code":0,"data":{"tasks":[{"created_at":"2025-06-21T12:00:01.52+08:00","id":"kku7","status":"suspending","type":"remote_download","node":{"id":"Y9Tb","name":"Master","type":"master","capabilities":"Dg=="},"summary":{"phase":"monitor","props":{"src_str":"magnet:?xt=urn:btih:01","src":"","dst":"cloudreve://my/Downloads","failed":0,"download":{"name":"Some.Show.S01","state":"downloading","total":3052994560,"downloaded":786432000,"hash":"0123","files":[{"index":1,"name":"Some.Show.S01/E01.mkv","size":1503238553,"progress":0.42,"selected":true},{"index":5,"name":"Some.Show.S01/ads.url","size":120,"progress":0,"selected":false}],"pieces":"AAAA//8A","num_pieces":1456,"new_field":{"x":[1,{"y":null}]}}}},"duration":4210,"resume_time":1750479052},{"id":"YJOCZ","status":"queued","type":"remote_download","summary":{"props":{"src_str":"magnet:?","download":null}}},{"id":"9B0O","status":"processing","type":"remote_download"}],"pagination":{"page":0,"page_size":32765,"is_cursor":true}},"msg":""}"#;

    fn page(body: &str) -> Result<ListPage, ListProblem> {
        let answer = decode_list(body.as_bytes()).unwrap();
        assert_eq!(answer.code, Some(0));
        answer.into_page()
    }

    fn tasks(body: &str) -> TaskList {
        page(body).ok().unwrap().tasks
    }

    /// A list answer with these task objects.
    fn list_of(tasks: &[&str]) -> String {
        format!(
            r#"{{"code":0,"msg":"","data":{{"tasks":[{}]}}}}"#,
            tasks.join(",")
        )
    }

    const GOOD: &str = r#"{"id":"good","status":"processing","type":"remote_download","summary":{"phase":"monitor","props":{"download":{"name":"T","state":"downloading","files":[{"index":1,"name":"T/a.mkv","size":5,"selected":true}]}}}}"#;

    #[test]
    fn decodes_the_documented_sample_and_tolerates_missing_fields() {
        let list = tasks(SAMPLE);
        assert!(list.skipped.is_empty());
        let tasks = list.tasks;
        assert_eq!(tasks.len(), 3);
        let first = &tasks[0];
        assert_eq!(first.id.as_str(), "kku7");
        assert_eq!(first.phase, Phase::Monitor);
        assert_eq!(first.status, TaskStatus::Suspending);
        assert_eq!(first.kind, TaskKind::RemoteDownload);
        assert_eq!(first.source, "magnet:?xt=urn:btih:01");
        let download = first.download.as_ref().unwrap();
        assert_eq!(download.name, "Some.Show.S01");
        assert_eq!(download.state, DownloadState::Downloading);
        let files = download.files.as_ref().unwrap();
        assert_eq!(
            files[0],
            TaskFile {
                index: 1,
                path: "Some.Show.S01/E01.mkv".into(),
                size: 1_503_238_553,
                selected: true
            }
        );
        assert_eq!(files[1].index, 5);
        assert!(!files[1].selected);
        assert_eq!(tasks[1].download, None);
        assert_eq!(tasks[1].phase, Phase::NotStarted);
        assert_eq!(tasks[1].status, TaskStatus::Queued);
        assert_eq!(tasks[2].source, "");
        assert_eq!(tasks[2].download, None);
    }

    #[test]
    fn escaped_strings_and_keys_decode_like_plain_ones() {
        let list = tasks(&list_of(&[
            r#"{"\u0069d":"a\u00e9","status":"processing","summary":{"props":{"download":{"files":[{"index":0,"n\u0061me":"T/\"q\"\\b.mkv"}]}}}}"#,
        ]));
        let task = &list.tasks[0];
        assert_eq!(task.id.as_str(), "aé");
        let files = task.download.as_ref().unwrap().files.as_ref().unwrap();
        assert_eq!(&*files[0].path, r#"T/"q"\b.mkv"#);
        assert_eq!(files[0].size, 0);
        assert!(!files[0].selected);
    }

    /// A task's paths share one buffer; each file still gets exactly its own path, a repeated
    /// `name` keeps its last value, a file without a name has an empty path, and a task whose
    /// files are malformed leaves nothing behind for the next task.
    #[test]
    fn the_paths_of_a_task_are_each_files_own() {
        let list = tasks(&list_of(&[
            r#"{"id":"a","status":"processing","summary":{"props":{"download":{"files":[{"index":1,"name":"A/é.mkv"},{"index":2},{"index":3,"name":"first","name":"A/über.srt"},{"index":4,"name":""}]}}}}"#,
            r#"{"id":"bad","status":"processing","summary":{"props":{"download":{"files":[{"index":1,"name":"B/leftover.mkv"},{"index":"x","name":"B/2"}]}}}}"#,
            r#"{"id":"c","status":"processing","summary":{"props":{"download":{"files":[{"name":"C/x.mkv","index":7}]}}}}"#,
        ]));
        let paths = |task: &DownloadTask| -> Vec<(u64, String)> {
            task.download
                .as_ref()
                .unwrap()
                .files
                .as_ref()
                .unwrap()
                .iter()
                .map(|f| (f.index, f.path.to_string()))
                .collect()
        };
        assert_eq!(
            paths(&list.tasks[0]),
            [
                (1, "A/é.mkv".to_owned()),
                (2, String::new()),
                (3, "A/über.srt".to_owned()),
                (4, String::new())
            ]
        );
        assert_eq!(list.skipped.len(), 1);
        assert_eq!(list.skipped[0].id.as_deref(), Some("bad"));
        assert_eq!(paths(&list.tasks[1]), [(7, "C/x.mkv".to_owned())]);
        // The same through the streaming decoder, fed in small pieces.
        let body = list_of(&[
            GOOD,
            r#"{"id":"c","status":"processing","summary":{"props":{"download":{"files":[{"name":"C/x.mkv","index":7},{"index":8,"name":"C/y"}]}}}}"#,
        ]);
        let mut stream = ListStream::default();
        for piece in body.as_bytes().chunks(7) {
            stream.feed(piece);
        }
        let streamed = stream.finish().unwrap().into_page().unwrap().tasks;
        assert_eq!(paths(&streamed.tasks[0]), [(1, "T/a.mkv".to_owned())]);
        assert_eq!(
            paths(&streamed.tasks[1]),
            [(7, "C/x.mkv".to_owned()), (8, "C/y".to_owned())]
        );
    }

    #[test]
    fn unknown_enum_values_are_kept_not_rejected() {
        let list = tasks(&list_of(&[
            r#"{"id":"a","status":"paused_by_admin","type":"future_kind","summary":{"phase":"verify","props":{"download":{"state":"checking"}}}}"#,
        ]));
        let task = &list.tasks[0];
        assert_eq!(task.status, TaskStatus::Other("paused_by_admin".into()));
        assert_eq!(task.kind, TaskKind::Other("future_kind".into()));
        assert_eq!(task.phase, Phase::Other("verify".into()));
        let download = task.download.as_ref().unwrap();
        assert_eq!(download.state, DownloadState::Other("checking".into()));
        assert_eq!(download.files, None);
    }

    #[test]
    fn nulls_count_as_absent_for_optional_fields() {
        let list = tasks(&list_of(&[
            r#"{"id":"a","status":null,"type":null,"summary":{"phase":null,"props":{"src_str":null,"download":{"name":null,"state":null,"files":null}}}}"#,
        ]));
        assert!(list.skipped.is_empty());
        let task = &list.tasks[0];
        assert_eq!(task.phase, Phase::NotStarted);
        assert_eq!(task.download.as_ref().unwrap().files, None);
    }

    #[test]
    fn one_malformed_task_is_skipped_with_its_id_and_the_field_path() {
        let cases = [
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":1},{"index":"2","name":"x"}]}}}}"#,
                "summary.props.download.files[1].index is a string, not a non-negative integer",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":[{"name":"x"}]}}}}"#,
                "summary.props.download.files[0].index is missing",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":-1}]}}}}"#,
                "summary.props.download.files[0].index is a number, not a non-negative integer",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":1,"size":1.5}]}}}}"#,
                "summary.props.download.files[0].size is a number, not a non-negative integer",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":[{"index":1,"selected":"true"}]}}}}"#,
                "summary.props.download.files[0].selected is a string, not a boolean",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":[7]}}}}"#,
                "summary.props.download.files[0] is a number, not an object",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":{"files":{"0":{}}}}}}"#,
                "summary.props.download.files is an object, not an array",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"download":"ready"}}}"#,
                "summary.props.download is a string, not an object",
            ),
            (
                r#"{"id":"bad","summary":{"props":{"src_str":["a"]}}}"#,
                "summary.props.src_str is an array, not a string",
            ),
            (
                r#"{"id":"bad","summary":{"phase":1}}"#,
                "summary.phase is a number, not a string",
            ),
            (
                r#"{"id":"bad","summary":[]}"#,
                "summary is an array, not an object",
            ),
            (
                r#"{"id":"bad","status":true}"#,
                "status is a boolean, not a string",
            ),
        ];
        for (bad, reason) in cases {
            let list = tasks(&list_of(&[GOOD, bad, GOOD]));
            assert_eq!(list.tasks.len(), 2, "{bad}");
            assert!(list.tasks.iter().all(|t| t.id.as_str() == "good"));
            assert_eq!(
                list.skipped,
                vec![SkippedTask {
                    id: Some("bad".into()),
                    reason: reason.into()
                }],
                "{bad}"
            );
        }
    }

    #[test]
    fn a_task_without_a_readable_id_is_skipped_without_one() {
        let list = tasks(&list_of(&[
            GOOD,
            r#"{"status":"processing"}"#,
            r#"{"id":7}"#,
            r#"{"id":""}"#,
            "null",
            r#""x""#,
        ]));
        assert_eq!(list.tasks.len(), 1);
        let reasons: Vec<(Option<String>, String)> =
            list.skipped.into_iter().map(|s| (s.id, s.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                (None, "id is missing".to_owned()),
                (None, "id is a number, not a string".to_owned()),
                (None, "id is empty".to_owned()),
                (None, "tasks[4] is null, not an object".to_owned()),
                (None, "tasks[5] is a string, not an object".to_owned()),
            ]
        );
    }

    #[test]
    fn the_id_is_read_even_after_the_problem() {
        let list = tasks(&list_of(&[
            r#"{"summary":{"props":{"download":{"files":[{"index":"1"}]}}},"status":"processing","id":"late"}"#,
        ]));
        assert_eq!(list.skipped[0].id.as_deref(), Some("late"));
    }

    #[test]
    fn an_incomplete_answer_is_a_problem_not_an_empty_list() {
        let cases = [
            (r#"{"code":0,"msg":""}"#, ListProblem::DataMissing),
            (r#"{"code":0,"msg":"","data":null}"#, ListProblem::DataNull),
            (
                r#"{"code":0,"msg":"","data":"eyJhbGciOiJIUzI1NiJ9.secret"}"#,
                ListProblem::DataNotObject(JsonKind::String),
            ),
            (
                r#"{"code":0,"msg":"","data":{}}"#,
                ListProblem::TasksMissing,
            ),
            (
                r#"{"code":0,"msg":"","data":{"tasks":null}}"#,
                ListProblem::TasksNull,
            ),
            (
                r#"{"code":0,"msg":"","data":{"tasks":{"a":1}}}"#,
                ListProblem::TasksNotArray(JsonKind::Object),
            ),
            (
                r#"{"code":0,"msg":"","data":{"tasks":[],"pagination":{"next_token":5}}}"#,
                ListProblem::CursorNotString(JsonKind::Number),
            ),
        ];
        for (body, problem) in cases {
            assert_eq!(page(body).err(), Some(problem), "{body}");
        }
        let next =
            page(r#"{"code":0,"msg":"","data":{"pagination":{"next_token":"abc"},"tasks":[]}}"#)
                .ok()
                .unwrap();
        assert_eq!(next.next_token.as_deref(), Some("abc"));
        let last =
            page(r#"{"code":0,"msg":"","data":{"tasks":[],"pagination":{"next_token":""}}}"#)
                .ok()
                .unwrap();
        assert_eq!(last.next_token, None);
    }

    #[test]
    fn error_codes_and_non_objects() {
        let answer =
            decode_list(br#"{"code":404,"msg":"Task not found","correlation_id":"c1"}"#).unwrap();
        assert_eq!(answer.code, Some(404));
        assert_eq!(answer.msg, "Task not found");
        assert_eq!(answer.correlation_id.as_deref(), Some("c1"));
        assert_eq!(
            decode_list(br#"{"code":-1,"msg":""}"#).unwrap().code,
            Some(-1)
        );
        assert_eq!(decode_list(br#"{"msg":""}"#).unwrap().code, None);
        assert!(decode_list(b"[1,2]").is_err());
        assert!(decode_list(b"").is_err());
        assert!(decode_list(br#"{"code":0,"data":{"tasks":[{"id":"a"#).is_err());
        assert!(decode_list(br#"{"code":0} trailing"#).is_err());
    }

    #[test]
    fn documents_of_every_accepted_shape() {
        let shapes = [
            SAMPLE.to_owned(),
            format!(r#"{{"tasks":[{GOOD}],"pagination":{{"page":0}}}}"#),
            format!("[{GOOD},{GOOD}]"),
            GOOD.to_owned(),
        ];
        let counts: Vec<usize> = shapes
            .iter()
            .map(
                |text| match decode_document(text.as_bytes(), None).unwrap() {
                    Document::Answer(answer) => answer.into_page().ok().unwrap().tasks.tasks.len(),
                    Document::Tasks(tasks) => tasks.list.tasks.len(),
                    Document::Other => 0,
                },
            )
            .collect();
        assert_eq!(counts, [3, 1, 2, 1]);
        for other in [r#"{"name":"x"}"#, "7", r#""text""#, "null"] {
            assert!(
                matches!(decode_document(other.as_bytes(), None), Ok(Document::Other)),
                "{other}"
            );
        }
        assert!(decode_document(b"{", None).is_err());
    }
}
