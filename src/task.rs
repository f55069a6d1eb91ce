//! Domain types for a Cloudreve remote-download task, in the daemon's own words.
//!
//! These are plain data: no serde, no I/O. The `cloudreve` module converts the wire JSON into them,
//! and `plan` decides over them. Eligibility (may the daemon touch this task at all?) is decided
//! here because it is a pure property of the task.

use std::fmt;

/// A Cloudreve task id: an opaque, case-sensitive hashid such as `kku7`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(String);

impl TaskId {
    /// Wraps an id exactly as the server spelled it.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as the server spelled it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Shown with controls escaped (the id comes from the server); [`TaskId::as_str`] is the id.
impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::escape::Escaped(&self.0).fmt(f)
    }
}

/// What kind of task this is (`type` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    /// `remote_download`: the only kind the daemon touches.
    RemoteDownload,
    /// Any other kind (archive, extract, relocate, import, or one a newer server added).
    Other(String),
}

/// The task's queue status (`status` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for a worker; the file list cannot be changed yet.
    Queued,
    /// Running.
    Processing,
    /// Waiting between monitor iterations.
    Suspending,
    /// Failed.
    Error,
    /// Cancelled by the user.
    Canceled,
    /// Done.
    Completed,
    /// A status this version does not know.
    Other(String),
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Queued => f.write_str("queued"),
            Self::Processing => f.write_str("processing"),
            Self::Suspending => f.write_str("suspending"),
            Self::Error => f.write_str("error"),
            Self::Canceled => f.write_str("canceled"),
            Self::Completed => f.write_str("completed"),
            Self::Other(other) => f.write_str(other),
        }
    }
}

/// The phase of a remote download (`summary.phase` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// No phase yet: the task has not started.
    NotStarted,
    /// `monitor`: the downloader is downloading; the only phase in which the selection can change.
    Monitor,
    /// `transfer`: files are being copied into Cloudreve storage.
    Transfer,
    /// `seeding`: transferred, waiting for seeding to finish.
    Seeding,
    /// A phase this version does not know.
    Other(String),
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotStarted => f.write_str("not started"),
            Self::Monitor => f.write_str("monitor"),
            Self::Transfer => f.write_str("transfer"),
            Self::Seeding => f.write_str("seeding"),
            Self::Other(other) => f.write_str(other),
        }
    }
}

/// The downloader's own state (`summary.props.download.state` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadState {
    /// Downloading (also paused or waiting in the downloader).
    Downloading,
    /// Complete and seeding.
    Seeding,
    /// Complete.
    Completed,
    /// The downloader reported an error.
    Error,
    /// Any other state, including `unknown`.
    Other(String),
}

impl fmt::Display for DownloadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Downloading => f.write_str("downloading"),
            Self::Seeding => f.write_str("seeding"),
            Self::Completed => f.write_str("completed"),
            Self::Error => f.write_str("error"),
            Self::Other(other) => f.write_str(other),
        }
    }
}

/// A file's path inside its torrent: a slice of one buffer that every path of the task shares.
///
/// A list of ten thousand torrents holds hundreds of thousands of paths; one buffer per task
/// makes that one allocation per task instead of one per file, and a copy (the plan and the
/// report keep the path) costs a reference count. Compared, hashed and shown as the text.
#[derive(Clone)]
pub struct FilePath {
    buffer: std::sync::Arc<str>,
    range: std::ops::Range<usize>,
}

impl FilePath {
    /// A path with a buffer of its own.
    pub fn new(path: &str) -> Self {
        Self {
            buffer: std::sync::Arc::from(path),
            range: 0..path.len(),
        }
    }

    /// The paths at `ranges` of one shared `buffer`, in order. A range that is not a slice of
    /// `buffer` on character boundaries gives an empty path.
    pub fn shared(
        buffer: &str,
        ranges: impl IntoIterator<Item = std::ops::Range<usize>>,
    ) -> impl Iterator<Item = Self> {
        let buffer: std::sync::Arc<str> = std::sync::Arc::from(buffer);
        ranges.into_iter().map(move |range| {
            let range = if buffer.get(range.clone()).is_some() {
                range
            } else {
                0..0
            };
            Self {
                buffer: std::sync::Arc::clone(&buffer),
                range,
            }
        })
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        self.buffer.get(self.range.clone()).unwrap_or_default()
    }
}

impl std::ops::Deref for FilePath {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for FilePath {
    fn from(path: &str) -> Self {
        Self::new(path)
    }
}

impl PartialEq for FilePath {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for FilePath {}

impl std::hash::Hash for FilePath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a torrent, as the downloader reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFile {
    /// The downloader's own index: 1-based for aria2, 0-based for qBittorrent. Sent back verbatim.
    pub index: u64,
    /// Path inside the torrent, `/`-separated, including the torrent's root folder.
    pub path: FilePath,
    /// Size in bytes.
    pub size: u64,
    /// Whether the file is currently selected for download (as of the server's last poll).
    pub selected: bool,
}

/// What the downloader reports about a task (`summary.props.download`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadStatus {
    /// The torrent's name.
    pub name: String,
    /// The downloader's state.
    pub state: DownloadState,
    /// The file list, `None` when the server sent none (metadata not there yet).
    pub files: Option<Vec<TaskFile>>,
}

/// A remote-download task as listed by `GET /workflow?category=downloading`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadTask {
    /// The task's id.
    pub id: TaskId,
    /// The task's kind.
    pub kind: TaskKind,
    /// The task's queue status.
    pub status: TaskStatus,
    /// The remote-download phase.
    pub phase: Phase,
    /// The source URL or magnet link (`summary.props.src_str`), empty for an uploaded torrent file.
    pub source: String,
    /// The downloader's report, `None` before the first successful downloader poll.
    pub download: Option<DownloadStatus>,
}

impl DownloadTask {
    /// The torrent's name, or an empty string before the downloader reported one.
    pub fn name(&self) -> &str {
        self.download.as_ref().map_or("", |d| d.name.as_str())
    }

    /// The files the daemon may decide over, or why this task must be left alone.
    pub fn eligible_files(&self) -> Result<&[TaskFile], Ineligible> {
        if self.kind != TaskKind::RemoteDownload {
            return Err(Ineligible::NotRemoteDownload);
        }
        if !matches!(self.status, TaskStatus::Processing | TaskStatus::Suspending) {
            return Err(Ineligible::Status(self.status.clone()));
        }
        if self.phase != Phase::Monitor {
            return Err(Ineligible::Phase(self.phase.clone()));
        }
        let Some(download) = &self.download else {
            return Err(Ineligible::MetadataPending);
        };
        if download.state != DownloadState::Downloading {
            return Err(Ineligible::DownloadState(download.state.clone()));
        }
        match download.files.as_deref() {
            None | Some([]) => Err(Ineligible::MetadataPending),
            Some([only]) if only.path.contains("METADATA]") => Err(Ineligible::MetadataPending),
            Some(files) => Ok(files),
        }
    }
}

/// Why a task is not eligible for a selection change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ineligible {
    /// Not a remote download.
    #[error("not a remote download")]
    NotRemoteDownload,
    /// Status other than processing/suspending.
    #[error("status is {0}, not processing or suspending")]
    Status(TaskStatus),
    /// Phase other than monitor.
    #[error("phase is {0}, not monitor")]
    Phase(Phase),
    /// The downloader is not downloading.
    #[error("downloader state is {0}, not downloading")]
    DownloadState(DownloadState),
    /// The file list is not there yet (magnet metadata still being fetched).
    #[error("waiting for metadata: no file list yet")]
    MetadataPending,
}

impl Ineligible {
    /// True when the task may become eligible once its metadata arrives.
    pub fn is_metadata_pending(&self) -> bool {
        matches!(self, Self::MetadataPending)
    }
}

/// One entry of the select-files PATCH body: set file `index` to `download`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SelectionChange {
    /// The file index, exactly as the server gave it.
    pub index: u64,
    /// `true` selects the file, `false` deselects it.
    pub download: bool,
}

/// The ongoing downloads, as one complete and well-formed list answer gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskList {
    /// The tasks that could be read, in the server's order (newest first).
    pub tasks: Vec<DownloadTask>,
    /// The tasks that could not be read (a value of the wrong type, a file without an index)
    /// and were left out; the others are unaffected.
    pub skipped: Vec<SkippedTask>,
}

/// A task of a list answer that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedTask {
    /// The task's id, when it could be read.
    pub id: Option<String>,
    /// What was wrong, naming the field (never its value), e.g.
    /// `summary.props.download.files[3].index is a string, not a non-negative integer`.
    pub reason: String,
}

impl TaskList {
    /// The ids of every listed task, skipped ones included, or `None` when a skipped task's
    /// id could not be read: then nobody can tell which task left the list, and nothing
    /// should be forgotten because of this answer.
    pub fn listed_ids(&self) -> Option<std::collections::HashSet<&str>> {
        let mut ids: std::collections::HashSet<&str> =
            self.tasks.iter().map(|t| t.id.as_str()).collect();
        for skipped in &self.skipped {
            ids.insert(skipped.id.as_deref()?);
        }
        Some(ids)
    }
}
