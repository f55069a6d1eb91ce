//! Serde types mirroring Cloudreve v4's JSON. They never leave the `cloudreve` module: each is
//! converted into a domain type right after decoding. Unknown fields are ignored, and every field
//! the server may omit (`omitempty` in its Go source) is optional.
//!
//! The task list, by far the largest answer, is decoded in [`list`]: the envelope first, each
//! task then on its own, so one task that does not read costs only itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::task::{SelectionChange, TaskId};

pub(super) mod list;

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
    #[serde(default)]
    pub(super) refresh_expires: String,
}

/// Parses Cloudreve's RFC 3339 timestamps (variable fractional digits, any offset).
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
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

/// The select-files PATCH body for `changes`, as [`super::Client::set_selection`] sends it.
pub fn patch_body(changes: &[SelectionChange]) -> String {
    let body = SetFilesRequest {
        files: changes.iter().map(FileSelection::from).collect(),
    };
    // Integers and booleans into a string: serde_json has no error to report here.
    serde_json::to_string(&body).unwrap_or_default()
}

/// Appends the PATCH that `changes` make to a task as the dry run and `explain` print it:
/// `PATCH /api/v4/workflow/download/{id} {body}` and a newline (the id escaped, not encoded).
/// The drawer [`crate::plan::Plan::render`] is given.
pub fn draw_patch(out: &mut String, task_id: &TaskId, changes: &[SelectionChange]) {
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "PATCH /api/v4/workflow/download/{task_id} {}",
        patch_body(changes)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_drawn_patch_is_the_sent_body() {
        let changes = [
            SelectionChange {
                index: 2,
                download: false,
            },
            SelectionChange {
                index: 10,
                download: true,
            },
        ];
        let body = patch_body(&changes);
        assert_eq!(
            body,
            r#"{"files":[{"index":2,"download":false},{"index":10,"download":true}]}"#
        );
        let mut out = String::from("table\n");
        draw_patch(&mut out, &TaskId::new("kku7"), &changes);
        assert_eq!(
            out,
            format!("table\nPATCH /api/v4/workflow/download/kku7 {body}\n")
        );
    }

    #[test]
    fn lenient_timestamps() {
        assert!(parse_time("2025-06-21T13:03:08.123456789+08:00").is_some());
        assert!(parse_time("2025-06-21T13:03:08Z").is_some());
        assert!(parse_time("not a time").is_none());
    }
}
