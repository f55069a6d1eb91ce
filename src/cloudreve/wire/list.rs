//! Decodes a `GET /workflow` answer, or a saved task document for `explain`, with serde.
//!
//! The body is held whole and read in two steps: the envelope (`code`, `msg`, `data` with its
//! `tasks` and `pagination`) into borrowed wire structs with each task kept as its raw text
//! (`RawValue`), then each task alone into the wire structs of [`task`], converted into
//! `task::DownloadTask`. So a task that does not read costs only itself, skipped with its id.
//!
//! The leaves of every wire struct accept any JSON value ([`Scalar`], [`Obj`], [`Arr`]), so
//! serde never produces a type error, whose message would quote the value: a value of the wrong
//! kind is named by its field path and its JSON kind when the task is converted.
//!
//! JSON is UTF-8, and `serde_json` reads text: a body that is not UTF-8 is read with each bad
//! sequence replaced by U+FFFD, the offsets noted. A task holding one is skipped as "not UTF-8"
//! (its id read from the replaced text when the id itself is intact); a bad sequence outside
//! every task (`msg`, a cursor) refuses the whole answer, with its position.

mod task;

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::super::error::{DecodeCategory, DecodeProblem, JsonKind, ListProblem};
use crate::task::{DownloadTask, SkippedTask, TaskList};

/// A list answer as decoded, before its completeness is judged by the caller.
pub(in crate::cloudreve) struct ListAnswer {
    /// The envelope's `code`, `None` when absent or not an integer.
    pub(in crate::cloudreve) code: Option<i64>,
    /// The envelope's `msg`.
    pub(in crate::cloudreve) msg: String,
    /// The envelope's `correlation_id`.
    pub(in crate::cloudreve) correlation_id: Option<String>,
    /// The tasks and the next page's cursor, or what makes the answer an incomplete list.
    page: Result<(TaskList, Option<String>), ListProblem>,
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
        self.page.map(|(tasks, next_token)| ListPage {
            tasks,
            next_token,
            bytes: 0,
        })
    }
}

/// Why a body is not a list answer or a task document at all.
#[derive(Debug)]
pub(in crate::cloudreve) enum Refused {
    /// Not JSON, cut off, or (for a list answer) not an object.
    Json(DecodeProblem),
    /// Bytes that are not UTF-8 outside every task, at this position.
    NotUtf8(DecodeProblem),
}

/// What a saved task document turned out to be.
pub(in crate::cloudreve) enum Document {
    /// A whole list answer (an object with `code`).
    Answer(ListAnswer),
    /// A list's `data` (`{"tasks": [...]}`), an array of tasks, or a single task.
    Tasks(TaskList),
    /// A JSON value that is none of these.
    Other,
}

/// Decodes a list answer.
///
/// A UTF-8 body is read in one pass, each task straight into its wire struct; only when that
/// fails (a key listed twice, or not JSON) or the body is not UTF-8 is each task kept as its
/// raw text first and read on its own, so that one task costs only itself.
pub(in crate::cloudreve) fn decode_list(bytes: &[u8]) -> Result<ListAnswer, Refused> {
    let text = Text::new(bytes);
    if text.replaced.is_empty()
        && let Ok(Obj::Found(top)) = serde_json::from_str::<Obj<Top<'_, ReadTask>>>(&text.utf8)
    {
        return Ok(top.answer(read_tasks));
    }
    let top = serde_json::from_str::<Obj<Top<'_, &RawValue>>>(&text.utf8).map_err(|e| json(&e))?;
    let Obj::Found(top) = top else {
        return Err(Refused::Json(DecodeProblem {
            category: DecodeCategory::Shape,
            line: 1,
            column: 1,
        }));
    };
    let mut read = Vec::new();
    let answer = top.answer(|tasks| tasks_of(&text, &tasks, &mut read));
    text.check_outside(&read)?;
    Ok(answer)
}

/// Decodes a saved task document: a list answer, its `data`, an array of tasks, or one task.
/// The list's fast path is tried first, as in [`decode_list`].
pub(in crate::cloudreve) fn decode_document(bytes: &[u8]) -> Result<Document, Refused> {
    let text = Text::new(bytes);
    if text.replaced.is_empty() {
        let fast = match text.utf8.trim_start().as_bytes().first() {
            Some(b'[') => serde_json::from_str::<Arr<ReadTask>>(&text.utf8)
                .ok()
                .and_then(|tasks| match tasks {
                    Arr::Found(tasks) => Some(Document::Tasks(read_tasks(tasks))),
                    _ => None,
                }),
            Some(b'{') => match serde_json::from_str::<Obj<Top<'_, ReadTask>>>(&text.utf8) {
                Ok(Obj::Found(top)) if !matches!(top.code, Scalar::Missing) => {
                    Some(Document::Answer(top.answer(read_tasks)))
                }
                Ok(Obj::Found(Top {
                    tasks: Arr::Found(tasks),
                    ..
                })) => Some(Document::Tasks(read_tasks(tasks))),
                // A single task, or not a document: read the slow way.
                _ => None,
            },
            _ => None,
        };
        if let Some(document) = fast {
            return Ok(document);
        }
    }
    let raw: &RawValue = serde_json::from_str(&text.utf8).map_err(|e| json(&e))?;
    let mut read = Vec::new();
    let document = match kind(raw) {
        JsonKind::Array => {
            let tasks: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|e| json(&e))?;
            Document::Tasks(tasks_of(&text, &tasks, &mut read))
        }
        JsonKind::Object => {
            let top: Top<'_, &RawValue> = serde_json::from_str(raw.get()).map_err(|e| json(&e))?;
            if !matches!(top.code, Scalar::Missing) {
                Document::Answer(top.answer(|tasks| tasks_of(&text, &tasks, &mut read)))
            } else if let Arr::Found(tasks) = &top.tasks {
                Document::Tasks(tasks_of(&text, tasks, &mut read))
            } else if !matches!(top.tasks, Arr::Missing) || matches!(top.id, Scalar::Missing) {
                Document::Other
            } else {
                Document::Tasks(tasks_of(&text, &[raw], &mut read))
            }
        }
        _ => Document::Other,
    };
    text.check_outside(&read)?;
    Ok(document)
}

/// The tasks of the fast path, in order.
fn read_tasks(tasks: Vec<ReadTask>) -> TaskList {
    let mut list = TaskList::default();
    list.tasks.reserve_exact(tasks.len());
    for (position, ReadTask(task)) in tasks.into_iter().enumerate() {
        match task {
            Ok(task) => list.tasks.push(task),
            Err(Ok(skipped)) => list.skipped.push(skipped),
            Err(Err(kind)) => list.skipped.push(not_an_object(position, kind)),
        }
    }
    list
}

/// A task of the list's fast path, converted as soon as it is read, so that the wire structs of
/// one task only are alive at a time: the task, why it was skipped, or the kind of a value that
/// is not an object.
struct ReadTask(Result<DownloadTask, Result<SkippedTask, JsonKind>>);

thread_local! {
    /// The path buffer reused from task to task by [`ReadTask`].
    static SCRATCH: std::cell::RefCell<task::Scratch> = const {
        std::cell::RefCell::new(task::Scratch::new())
    };
}

impl<'de> Deserialize<'de> for ReadTask {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self(
            match Obj::<task::WireTask<'de>>::deserialize(deserializer)? {
                Obj::Found(wire) => {
                    SCRATCH.with_borrow_mut(|scratch| task::convert(wire, scratch).map_err(Ok))
                }
                Obj::Missing | Obj::Null => Err(Err(JsonKind::Null)),
                Obj::Wrong(kind) => Err(Err(kind)),
            },
        ))
    }
}

fn not_an_object(position: usize, kind: JsonKind) -> SkippedTask {
    SkippedTask {
        id: None,
        reason: format!("tasks[{position}] is {kind}, not an object"),
    }
}

fn json(error: &serde_json::Error) -> Refused {
    Refused::Json(DecodeProblem::from(error))
}

// ---------------------------------------------------------------------------------------------
// The envelope.

/// The fields of a list answer's envelope and of a list's `data`, which a saved document may
/// hold at its top, and a task's `id`, which tells a single task.
///
/// `T` is a task as read in the envelope's pass: its raw text, or (in the list's fast path) the
/// task's wire struct itself.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Top<'a, T> {
    #[serde(borrow, default)]
    code: Scalar<'a>,
    #[serde(borrow, default)]
    msg: Scalar<'a>,
    #[serde(borrow, default)]
    correlation_id: Scalar<'a>,
    #[serde(borrow, default)]
    data: Obj<Data<'a, T>>,
    #[serde(default)]
    tasks: Arr<T>,
    #[serde(borrow, default)]
    id: Scalar<'a>,
}

/// A list's `data`.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct Data<'a, T> {
    #[serde(default)]
    tasks: Arr<T>,
    #[serde(borrow, default)]
    pagination: Obj<Pagination<'a>>,
}

/// `data.pagination`: only its cursor matters.
#[derive(Deserialize)]
struct Pagination<'a> {
    #[serde(borrow, default)]
    next_token: Scalar<'a>,
}

impl<T> Top<'_, T> {
    /// The answer, its tasks read by `read_tasks`.
    fn answer(self, read_tasks: impl FnOnce(Vec<T>) -> TaskList) -> ListAnswer {
        let string = |value: Scalar<'_>| match value {
            Scalar::Str(text) => Some(text.into_owned()),
            _ => None,
        };
        let page = match self.data {
            Obj::Found(data) => match data.tasks {
                Arr::Found(tasks) => {
                    cursor(data.pagination).map(|next_token| (read_tasks(tasks), next_token))
                }
                Arr::Missing => Err(ListProblem::TasksMissing),
                Arr::Null => Err(ListProblem::TasksNull),
                Arr::Wrong(kind) => Err(ListProblem::TasksNotArray(kind)),
            },
            Obj::Missing => Err(ListProblem::DataMissing),
            Obj::Null => Err(ListProblem::DataNull),
            Obj::Wrong(kind) => Err(ListProblem::DataNotObject(kind)),
        };
        let code = match self.code {
            Scalar::Unsigned(code) => i64::try_from(code).ok(),
            Scalar::Negative(code) => Some(code),
            _ => None,
        };
        ListAnswer {
            code,
            msg: string(self.msg).unwrap_or_default(),
            correlation_id: string(self.correlation_id),
            page,
        }
    }
}

/// The next page's cursor: absent, `null` or empty is none; a pagination that is not an object
/// has none.
fn cursor(pagination: Obj<Pagination<'_>>) -> Result<Option<String>, ListProblem> {
    let Obj::Found(pagination) = pagination else {
        return Ok(None);
    };
    match pagination.next_token {
        Scalar::Str(token) => Ok(Some(token.into_owned()).filter(|t| !t.is_empty())),
        Scalar::Missing | Scalar::Null => Ok(None),
        other => Err(ListProblem::CursorNotString(other.kind())),
    }
}

/// Decodes each task of an array, noting the span of text each was read from.
fn tasks_of(
    text: &Text<'_>,
    tasks: &[&RawValue],
    read: &mut Vec<std::ops::Range<usize>>,
) -> TaskList {
    let mut list = TaskList::default();
    list.tasks.reserve_exact(tasks.len());
    let mut scratch = task::Scratch::new();
    for (position, raw) in tasks.iter().enumerate() {
        let span = text.span(raw);
        let decoded = match kind(raw) {
            JsonKind::Object if text.replaced_within(&span) => Err(SkippedTask {
                id: task::id_of(raw.get()).filter(|id| !id.contains(char::REPLACEMENT_CHARACTER)),
                reason: format!("tasks[{position}] holds a string that is not UTF-8 text"),
            }),
            JsonKind::Object => task::decode(raw.get(), &mut scratch),
            other => Err(not_an_object(position, other)),
        };
        read.push(span);
        match decoded {
            Ok(task) => list.tasks.push(task),
            Err(skipped) => list.skipped.push(skipped),
        }
    }
    list
}

/// The JSON kind of a raw value, by its first byte (a raw value starts at its value).
fn kind(raw: &RawValue) -> JsonKind {
    match raw.get().as_bytes().first() {
        Some(b'n') => JsonKind::Null,
        Some(b't' | b'f') => JsonKind::Bool,
        Some(b'"') => JsonKind::String,
        Some(b'[') => JsonKind::Array,
        Some(b'{') => JsonKind::Object,
        _ => JsonKind::Number,
    }
}

// ---------------------------------------------------------------------------------------------
// Text that may not be UTF-8.

/// The body as text: borrowed when it is UTF-8, else with each bad sequence replaced.
struct Text<'b> {
    utf8: Cow<'b, str>,
    /// Each replacement: its offset in `text` and the bad sequence's offset in the body.
    replaced: Vec<(usize, usize)>,
    bytes: &'b [u8],
}

impl<'b> Text<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return Self {
                utf8: Cow::Borrowed(text),
                replaced: Vec::new(),
                bytes,
            };
        }
        let mut text = String::with_capacity(bytes.len() + 16);
        let mut replaced = Vec::new();
        let mut at = 0;
        for chunk in bytes.utf8_chunks() {
            text.push_str(chunk.valid());
            at += chunk.valid().len();
            if !chunk.invalid().is_empty() {
                replaced.push((text.len(), at));
                text.push(char::REPLACEMENT_CHARACTER);
                at += chunk.invalid().len();
            }
        }
        Self {
            utf8: Cow::Owned(text),
            replaced,
            bytes,
        }
    }

    /// Where `raw`, borrowed from this text, lies in it.
    fn span(&self, raw: &RawValue) -> std::ops::Range<usize> {
        let start = raw
            .get()
            .as_ptr()
            .addr()
            .wrapping_sub(self.utf8.as_ptr().addr());
        start..start.saturating_add(raw.get().len())
    }

    fn replaced_within(&self, span: &std::ops::Range<usize>) -> bool {
        self.replaced.iter().any(|(at, _)| span.contains(at))
    }

    /// Refuses a replacement outside every span read as a task.
    fn check_outside(&self, read: &[std::ops::Range<usize>]) -> Result<(), Refused> {
        let outside = self
            .replaced
            .iter()
            .find(|(at, _)| !read.iter().any(|span| span.contains(at)));
        let Some(&(_, offset)) = outside else {
            return Ok(());
        };
        let before = self.bytes.get(..offset).unwrap_or_default();
        let lines = before.split(|&b| b == b'\n');
        let column = 1 + lines.clone().next_back().map_or(0, <[u8]>::len);
        Err(Refused::NotUtf8(DecodeProblem {
            category: DecodeCategory::Syntax,
            line: lines.count(),
            column,
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// Leaves that accept any JSON value.

/// Any JSON value: containers are skipped (not built), strings borrowed where possible.
#[derive(Default)]
enum Scalar<'a> {
    #[default]
    Missing,
    Null,
    Bool(bool),
    Unsigned(u64),
    Negative(i64),
    /// A number with a fraction or an exponent, or beyond 64 bits.
    OtherNumber,
    Str(Cow<'a, str>),
    Container(JsonKind),
}

impl Scalar<'_> {
    fn kind(&self) -> JsonKind {
        match self {
            Self::Missing | Self::Null => JsonKind::Null,
            Self::Bool(_) => JsonKind::Bool,
            Self::Unsigned(_) | Self::Negative(_) | Self::OtherNumber => JsonKind::Number,
            Self::Str(_) => JsonKind::String,
            Self::Container(kind) => *kind,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor::<Self>(PhantomData))
    }
}

/// An object read as `T`, or what was found instead.
#[derive(Default)]
enum Obj<T> {
    #[default]
    Missing,
    Null,
    Found(T),
    Wrong(JsonKind),
}

/// An array of `T`, or what was found instead.
#[derive(Default)]
enum Arr<T> {
    #[default]
    Missing,
    Null,
    Found(Vec<T>),
    Wrong(JsonKind),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor::<Self>(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Arr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(AnyVisitor::<Self>(PhantomData))
    }
}

/// How each lenient leaf is made of each kind of value.
trait Kinds<'de>: Sized {
    fn null() -> Self;
    fn wrong(kind: JsonKind) -> Self;
    fn scalar(value: Scalar<'de>) -> Self {
        Self::wrong(value.kind())
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        drain(map, |map| {
            Ok(map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some())
        })?;
        Ok(Self::wrong(JsonKind::Object))
    }
    fn seq<A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        drain(seq, |seq| Ok(seq.next_element::<IgnoredAny>()?.is_some()))?;
        Ok(Self::wrong(JsonKind::Array))
    }
}

fn drain<T, E>(mut access: T, mut next: impl FnMut(&mut T) -> Result<bool, E>) -> Result<(), E> {
    while next(&mut access)? {}
    Ok(())
}

impl<'de: 'a, 'a> Kinds<'de> for Scalar<'a> {
    fn null() -> Self {
        Self::Null
    }
    fn wrong(kind: JsonKind) -> Self {
        Self::Container(kind)
    }
    fn scalar(value: Scalar<'de>) -> Self {
        value
    }
}

impl<'de, T: Deserialize<'de>> Kinds<'de> for Obj<T> {
    fn null() -> Self {
        Self::Null
    }
    fn wrong(kind: JsonKind) -> Self {
        Self::Wrong(kind)
    }
    fn map<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Self::Found)
    }
}

impl<'de, T: Deserialize<'de>> Kinds<'de> for Arr<T> {
    fn null() -> Self {
        Self::Null
    }
    fn wrong(kind: JsonKind) -> Self {
        Self::Wrong(kind)
    }
    fn seq<A: SeqAccess<'de>>(mut seq: A) -> Result<Self, A::Error> {
        let mut found = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(element) = seq.next_element()? {
            found.push(element);
        }
        Ok(Self::Found(found))
    }
}

/// Reads any JSON value into the leaf `K`.
struct AnyVisitor<K>(PhantomData<K>);

impl<'de, K: Kinds<'de>> Visitor<'de> for AnyVisitor<K> {
    type Value = K;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<K, E> {
        Ok(K::scalar(Scalar::Bool(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<K, E> {
        Ok(K::scalar(Scalar::Unsigned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<K, E> {
        Ok(K::scalar(
            u64::try_from(v).map_or(Scalar::Negative(v), Scalar::Unsigned),
        ))
    }
    fn visit_f64<E>(self, _: f64) -> Result<K, E> {
        Ok(K::scalar(Scalar::OtherNumber))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<K, E> {
        Ok(K::scalar(Scalar::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<K, E> {
        Ok(K::scalar(Scalar::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_unit<E>(self) -> Result<K, E> {
        Ok(K::null())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<K, A::Error> {
        K::map(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<K, A::Error> {
        K::seq(seq)
    }
}
