//! Serde types mirroring Cloudreve v4's JSON. They never leave the `cloudreve` module: each is
//! converted into a domain type right after decoding. Unknown fields are ignored, and every field
//! the server may omit (`omitempty` in its Go source) is optional.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::task::{
    DownloadState, DownloadStatus, DownloadTask, Phase, SelectionChange, TaskFile, TaskId,
    TaskKind, TaskStatus,
};

/// The `{code, msg, data}` envelope with its payload.
#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    pub(super) code: i64,
    #[serde(default)]
    pub(super) msg: String,
    pub(super) data: Option<T>,
    pub(super) correlation_id: Option<String>,
}

/// The envelope without its payload, for answers whose `data` is not the expected type.
#[derive(Deserialize)]
pub(super) struct EnvelopeHead {
    pub(super) code: i64,
    #[serde(default)]
    pub(super) msg: String,
    pub(super) correlation_id: Option<String>,
}

/// `POST /session/token` body. Not `Debug`: it holds the password.
#[derive(Serialize)]
pub(super) struct SignInRequest<'a> {
    pub(super) email: &'a str,
    pub(super) password: &'a str,
}

/// `POST /session/token/refresh` body. Not `Debug`: it holds a token.
#[derive(Serialize)]
pub(super) struct RefreshRequest<'a> {
    pub(super) refresh_token: &'a str,
}

/// `data` of a successful sign-in. The `user` object is ignored.
#[derive(Deserialize)]
pub(super) struct SignInData {
    pub(super) token: TokenPair,
}

/// A token pair as Cloudreve issues it. Not `Debug`: it holds tokens.
#[derive(Deserialize)]
pub(super) struct TokenPair {
    pub(super) access_token: String,
    pub(super) refresh_token: String,
    #[serde(default)]
    pub(super) access_expires: String,
}

/// Parses Cloudreve's RFC 3339 timestamps (variable fractional digits, any offset).
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `data` of `GET /workflow`.
#[derive(Deserialize)]
pub(super) struct TaskListData {
    #[serde(default)]
    pub(super) tasks: Vec<TaskResponse>,
    #[serde(default)]
    pub(super) pagination: Option<Pagination>,
}

/// `pagination` of a task list.
#[derive(Deserialize)]
pub(super) struct Pagination {
    #[serde(default)]
    pub(super) next_token: Option<String>,
}

/// One task of the list.
#[derive(Deserialize)]
pub(super) struct TaskResponse {
    id: String,
    #[serde(default)]
    status: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    summary: Option<Summary>,
}

#[derive(Deserialize)]
struct Summary {
    #[serde(default)]
    phase: Option<String>,
    #[serde(default)]
    props: Option<Props>,
}

#[derive(Deserialize)]
struct Props {
    #[serde(default)]
    src_str: Option<String>,
    #[serde(default)]
    download: Option<DownloadWire>,
}

#[derive(Deserialize)]
struct DownloadWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    files: Option<Vec<FileWire>>,
}

#[derive(Deserialize)]
struct FileWire {
    index: u64,
    #[serde(default)]
    name: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    selected: bool,
}

impl TaskResponse {
    /// Converts into the domain type.
    pub(super) fn into_domain(self) -> DownloadTask {
        let (phase, props) = match self.summary {
            Some(summary) => (summary.phase, summary.props),
            None => (None, None),
        };
        let (source, download) = match props {
            Some(props) => (props.src_str.unwrap_or_default(), props.download),
            None => (String::new(), None),
        };
        DownloadTask {
            id: TaskId::new(self.id),
            kind: match self.kind.as_str() {
                "remote_download" => TaskKind::RemoteDownload,
                _ => TaskKind::Other(self.kind),
            },
            status: match self.status.as_str() {
                "queued" => TaskStatus::Queued,
                "processing" => TaskStatus::Processing,
                "suspending" => TaskStatus::Suspending,
                "error" => TaskStatus::Error,
                "canceled" => TaskStatus::Canceled,
                "completed" => TaskStatus::Completed,
                _ => TaskStatus::Other(self.status),
            },
            phase: match phase.as_deref() {
                None | Some("") => Phase::NotStarted,
                Some("monitor") => Phase::Monitor,
                Some("transfer") => Phase::Transfer,
                Some("seeding") => Phase::Seeding,
                Some(other) => Phase::Other(other.to_owned()),
            },
            source,
            download: download.map(|d| DownloadStatus {
                state: match d.state.as_str() {
                    "downloading" => DownloadState::Downloading,
                    "seeding" => DownloadState::Seeding,
                    "completed" => DownloadState::Completed,
                    "error" => DownloadState::Error,
                    _ => DownloadState::Other(d.state),
                },
                name: d.name,
                files: d.files.map(|files| {
                    files
                        .into_iter()
                        .map(|f| TaskFile {
                            index: f.index,
                            path: f.name,
                            size: f.size,
                            selected: f.selected,
                        })
                        .collect()
                }),
            }),
        }
    }
}

/// `PATCH /workflow/download/{id}` body; `download` is always written.
#[derive(Serialize)]
pub(super) struct SetFilesRequest {
    pub(super) files: Vec<FileSelection>,
}

/// One entry of the PATCH body.
#[derive(Serialize)]
pub(super) struct FileSelection {
    pub(super) index: u64,
    pub(super) download: bool,
}

impl From<&SelectionChange> for FileSelection {
    fn from(change: &SelectionChange) -> Self {
        Self {
            index: change.index,
            download: change.download,
        }
    }
}

/// Decodes tasks from a `GET /workflow` answer or from one task object, for `explain`.
pub(super) fn decode_tasks_document(text: &str) -> Result<Vec<DownloadTask>, serde_json::Error> {
    #[derive(Deserialize)]
    struct ListDocument {
        tasks: Vec<TaskResponse>,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Document {
        Envelope(Envelope<TaskListData>),
        Task(TaskResponse),
        List(ListDocument),
        Tasks(Vec<TaskResponse>),
    }
    let tasks = match serde_json::from_str::<Document>(text)? {
        Document::Envelope(envelope) => envelope.data.map(|d| d.tasks).unwrap_or_default(),
        Document::List(list) => list.tasks,
        Document::Task(task) => vec![task],
        Document::Tasks(tasks) => tasks,
    };
    Ok(tasks.into_iter().map(TaskResponse::into_domain).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"code":0,"data":{"tasks":[{"created_at":"2025-06-21T12:00:01.52+08:00","id":"kku7","status":"suspending","type":"remote_download","node":{"id":"Y9Tb","name":"Master","type":"master","capabilities":"Dg=="},"summary":{"phase":"monitor","props":{"src_str":"magnet:?xt=urn:btih:01","src":"","dst":"cloudreve://my/Downloads","failed":0,"download":{"name":"Some.Show.S01","state":"downloading","total":3052994560,"downloaded":786432000,"hash":"0123","files":[{"index":1,"name":"Some.Show.S01/E01.mkv","size":1503238553,"progress":0.42,"selected":true},{"index":5,"name":"Some.Show.S01/ads.url","size":120,"progress":0,"selected":false}],"pieces":"AAAA//8A","num_pieces":1456,"new_field":{"x":1}}}},"duration":4210,"resume_time":1750479052},{"id":"YJOCZ","status":"queued","type":"remote_download","summary":{"props":{"src_str":"magnet:?","download":null}}},{"id":"9B0O","status":"processing","type":"remote_download"}],"pagination":{"page":0,"page_size":32765,"is_cursor":true}},"msg":""}"#;

    #[test]
    fn decodes_the_documented_sample_and_tolerates_missing_fields() {
        let tasks = decode_tasks_document(SAMPLE).unwrap();
        assert_eq!(tasks.len(), 3);
        let first = &tasks[0];
        assert_eq!(first.id.as_str(), "kku7");
        assert_eq!(first.phase, Phase::Monitor);
        assert_eq!(first.status, TaskStatus::Suspending);
        let files = first.download.as_ref().unwrap().files.as_ref().unwrap();
        assert_eq!(files[1].index, 5);
        assert!(!files[1].selected);
        assert_eq!(tasks[1].download, None);
        assert_eq!(tasks[1].phase, Phase::NotStarted);
        assert_eq!(tasks[2].source, "");
    }

    #[test]
    fn unknown_enum_values_are_kept_not_rejected() {
        let task: TaskResponse = serde_json::from_str(
            r#"{"id":"a","status":"paused_by_admin","type":"future_kind","summary":{"phase":"verify"}}"#,
        )
        .unwrap();
        let task = task.into_domain();
        assert_eq!(task.status, TaskStatus::Other("paused_by_admin".into()));
        assert_eq!(task.kind, TaskKind::Other("future_kind".into()));
        assert_eq!(task.phase, Phase::Other("verify".into()));
    }

    #[test]
    fn patch_body_always_writes_download() {
        let body = SetFilesRequest {
            files: vec![FileSelection {
                index: 7,
                download: false,
            }],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"files":[{"index":7,"download":false}]}"#
        );
    }

    #[test]
    fn lenient_timestamps() {
        assert!(parse_time("2025-06-21T13:03:08.123456789+08:00").is_some());
        assert!(parse_time("2025-06-21T13:03:08Z").is_some());
        assert!(parse_time("not a time").is_none());
    }
}
