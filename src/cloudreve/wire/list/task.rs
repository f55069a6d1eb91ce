//! One task of a list, decoded from its raw text into borrowed wire structs, then converted
//! into `task::DownloadTask`, or skipped with the path of the field that does not read.

use std::fmt;

use serde::Deserialize;

use super::{Arr, JsonKind, Obj, Scalar};
use crate::task::{
    DownloadState, DownloadStatus, DownloadTask, FilePath, Phase, SkippedTask, TaskFile, TaskId,
    TaskKind, TaskStatus,
};

/// `TaskResponse`: only the fields the daemon uses.
#[derive(Deserialize)]
pub(super) struct WireTask<'a> {
    #[serde(borrow, default)]
    id: Scalar<'a>,
    #[serde(borrow, default)]
    status: Scalar<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Scalar<'a>,
    #[serde(borrow, default)]
    summary: Obj<WireSummary<'a>>,
}

#[derive(Deserialize)]
struct WireSummary<'a> {
    #[serde(borrow, default)]
    phase: Scalar<'a>,
    #[serde(borrow, default)]
    props: Obj<WireProps<'a>>,
}

#[derive(Deserialize)]
struct WireProps<'a> {
    #[serde(borrow, default)]
    src_str: Scalar<'a>,
    #[serde(borrow, default)]
    download: Obj<WireDownload<'a>>,
}

#[derive(Deserialize)]
struct WireDownload<'a> {
    #[serde(borrow, default)]
    name: Scalar<'a>,
    #[serde(borrow, default)]
    state: Scalar<'a>,
    #[serde(borrow, default)]
    files: Arr<Obj<WireFile<'a>>>,
}

#[derive(Deserialize)]
struct WireFile<'a> {
    #[serde(borrow, default)]
    index: Scalar<'a>,
    #[serde(borrow, default)]
    name: Scalar<'a>,
    #[serde(borrow, default)]
    size: Scalar<'a>,
    #[serde(borrow, default)]
    selected: Scalar<'a>,
}

/// Only the id, for a task that is skipped anyway.
#[derive(Deserialize)]
struct WireId<'a> {
    #[serde(borrow, default)]
    id: Scalar<'a>,
}

/// Reused from task to task: the path buffer and files of the task being converted.
pub(super) struct Scratch {
    paths: String,
    files: Vec<RawFile>,
}

impl Scratch {
    /// Empty (usable in a `const` context, such as a thread-local).
    pub(super) const fn new() -> Self {
        Self {
            paths: String::new(),
            files: Vec::new(),
        }
    }
}

/// One file as read, its path a range of [`Scratch::paths`].
struct RawFile {
    index: u64,
    path: std::ops::Range<usize>,
    size: u64,
    selected: bool,
}

/// The task's id, if it reads as a non-empty string.
pub(super) fn id_of(raw: &str) -> Option<String> {
    match serde_json::from_str::<WireId<'_>>(raw).ok()?.id {
        Scalar::Str(id) if !id.is_empty() => Some(id.into_owned()),
        _ => None,
    }
}

/// Decodes one task object from its raw text.
pub(super) fn decode(raw: &str, scratch: &mut Scratch) -> Result<DownloadTask, SkippedTask> {
    let wire = serde_json::from_str::<WireTask<'_>>(raw).map_err(|_| SkippedTask {
        id: id_of(raw),
        reason: repeated_field(raw),
    })?;
    convert(wire, scratch)
}

/// Converts one task's wire struct into the domain's task, or says why it does not read.
pub(super) fn convert(
    wire: WireTask<'_>,
    scratch: &mut Scratch,
) -> Result<DownloadTask, SkippedTask> {
    let id = match &wire.id {
        Scalar::Str(id) if !id.is_empty() => id.clone().into_owned(),
        Scalar::Str(_) => return Err(skipped(None, "id is empty".to_owned())),
        Scalar::Missing => return Err(skipped(None, "id is missing".to_owned())),
        other => return Err(skipped(None, wrong("id", other.kind(), A_STRING))),
    };
    task_of(wire, &id, scratch).map_err(|reason| skipped(Some(id), reason))
}

fn skipped(id: Option<String>, reason: String) -> SkippedTask {
    SkippedTask { id, reason }
}

/// Why a task that is valid JSON did not decode: its leaves take any value, so only a key
/// listed twice in one object (serde refuses it) is left; `serde_path_to_error` names where.
fn repeated_field(raw: &str) -> String {
    let mut deserializer = serde_json::Deserializer::from_str(raw);
    match serde_path_to_error::deserialize::<_, WireTask<'_>>(&mut deserializer) {
        Err(e) if e.path().iter().next().is_some() => {
            format!("{} lists a field twice", e.path())
        }
        _ => "the task lists a field twice".to_owned(),
    }
}

const A_STRING: &str = "a string";
const AN_OBJECT: &str = "an object";
const AN_ARRAY: &str = "an array";
const AN_INDEX: &str = "a non-negative integer";
const A_BOOL: &str = "a boolean";

fn wrong(path: impl fmt::Display, found: JsonKind, expected: &str) -> String {
    format!("{path} is {found}, not {expected}")
}

/// An optional string: absent and `null` give `None`.
fn text<'a>(value: Scalar<'a>, path: &str) -> Result<Option<std::borrow::Cow<'a, str>>, String> {
    match value {
        Scalar::Str(s) => Ok(Some(s)),
        Scalar::Missing | Scalar::Null => Ok(None),
        other => Err(wrong(path, other.kind(), A_STRING)),
    }
}

/// A nested object: absent and `null` give `None`.
fn object<T>(value: Obj<T>, path: &str) -> Result<Option<T>, String> {
    match value {
        Obj::Found(found) => Ok(Some(found)),
        Obj::Missing | Obj::Null => Ok(None),
        Obj::Wrong(kind) => Err(wrong(path, kind, AN_OBJECT)),
    }
}

fn task_of(wire: WireTask<'_>, id: &str, scratch: &mut Scratch) -> Result<DownloadTask, String> {
    let status = text(wire.status, "status")?;
    let kind = text(wire.kind, "type")?;
    let mut task = DownloadTask {
        id: TaskId::new(id),
        kind: match kind.as_deref().unwrap_or("") {
            "remote_download" => TaskKind::RemoteDownload,
            other => TaskKind::Other(other.to_owned()),
        },
        status: match status.as_deref().unwrap_or("") {
            "queued" => TaskStatus::Queued,
            "processing" => TaskStatus::Processing,
            "suspending" => TaskStatus::Suspending,
            "error" => TaskStatus::Error,
            "canceled" => TaskStatus::Canceled,
            "completed" => TaskStatus::Completed,
            other => TaskStatus::Other(other.to_owned()),
        },
        phase: Phase::NotStarted,
        source: String::new(),
        download: None,
    };
    let Some(summary) = object(wire.summary, "summary")? else {
        return Ok(task);
    };
    task.phase = match text(summary.phase, "summary.phase")?.as_deref() {
        None | Some("") => Phase::NotStarted,
        Some("monitor") => Phase::Monitor,
        Some("transfer") => Phase::Transfer,
        Some("seeding") => Phase::Seeding,
        Some(other) => Phase::Other(other.to_owned()),
    };
    let Some(props) = object(summary.props, "summary.props")? else {
        return Ok(task);
    };
    task.source = text(props.src_str, "summary.props.src_str")?
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_default();
    let Some(download) = object(props.download, "summary.props.download")? else {
        return Ok(task);
    };
    let name = text(download.name, "summary.props.download.name")?;
    let state = text(download.state, "summary.props.download.state")?;
    let files = match download.files {
        Arr::Found(files) => Some(files_of(files, scratch)?),
        Arr::Missing | Arr::Null => None,
        Arr::Wrong(kind) => {
            return Err(wrong("summary.props.download.files", kind, AN_ARRAY));
        }
    };
    task.download = Some(DownloadStatus {
        name: name.map(std::borrow::Cow::into_owned).unwrap_or_default(),
        state: match state.as_deref().unwrap_or("") {
            "downloading" => DownloadState::Downloading,
            "seeding" => DownloadState::Seeding,
            "completed" => DownloadState::Completed,
            "error" => DownloadState::Error,
            other => DownloadState::Other(other.to_owned()),
        },
        files,
    });
    Ok(task)
}

/// The task's files, their paths in one buffer shared by the task's [`FilePath`]s (one
/// allocation per task for its paths, which the plan and the report keep by reference count).
fn files_of(files: Vec<Obj<WireFile<'_>>>, scratch: &mut Scratch) -> Result<Vec<TaskFile>, String> {
    const FILES: &str = "summary.props.download.files";
    scratch.paths.clear();
    scratch.files.clear();
    for (position, file) in files.into_iter().enumerate() {
        let field = |name: &str| format!("{FILES}[{position}].{name}");
        let file = match file {
            Obj::Found(file) => file,
            Obj::Missing | Obj::Null => {
                return Err(wrong(
                    field("").trim_end_matches('.'),
                    JsonKind::Null,
                    AN_OBJECT,
                ));
            }
            Obj::Wrong(kind) => {
                return Err(wrong(field("").trim_end_matches('.'), kind, AN_OBJECT));
            }
        };
        let index = match file.index {
            Scalar::Unsigned(index) => index,
            Scalar::Missing => return Err(format!("{} is missing", field("index"))),
            other => return Err(wrong(field("index"), other.kind(), AN_INDEX)),
        };
        let size = match file.size {
            Scalar::Unsigned(size) => size,
            Scalar::Missing | Scalar::Null => 0,
            other => return Err(wrong(field("size"), other.kind(), AN_INDEX)),
        };
        let selected = match file.selected {
            Scalar::Bool(selected) => selected,
            Scalar::Missing | Scalar::Null => false,
            other => return Err(wrong(field("selected"), other.kind(), A_BOOL)),
        };
        let start = scratch.paths.len();
        match file.name {
            Scalar::Str(name) => scratch.paths.push_str(&name),
            Scalar::Missing | Scalar::Null => {}
            other => return Err(wrong(field("name"), other.kind(), A_STRING)),
        }
        scratch.files.push(RawFile {
            index,
            path: start..scratch.paths.len(),
            size,
            selected,
        });
    }
    if let Some(problem) = repeated_index(&scratch.files) {
        return Err(problem);
    }
    let shared = FilePath::shared(&scratch.paths, scratch.files.iter().map(|f| f.path.clone()));
    Ok(scratch
        .files
        .iter()
        .zip(shared)
        .map(|(file, path)| TaskFile {
            index: file.index,
            path,
            size: file.size,
            selected: file.selected,
        })
        .collect())
}

/// An index listed twice (naming the first), which would let two verdicts on one file defeat
/// "never deselect every file". Indices in increasing order, as servers send them, cost one
/// pass; others are sorted.
fn repeated_index(files: &[RawFile]) -> Option<String> {
    if files.windows(2).all(|pair| pair[0].index < pair[1].index) {
        return None;
    }
    let mut order: Vec<(u64, usize)> = files
        .iter()
        .enumerate()
        .map(|(position, file)| (file.index, position))
        .collect();
    order.sort_unstable();
    order.windows(2).find(|pair| pair[0].0 == pair[1].0).map(|pair| {
        format!(
            "summary.props.download.files[{}].index repeats the index of files[{}]; a task listing an index twice is not planned",
            pair[1].1, pair[0].1
        )
    })
}
