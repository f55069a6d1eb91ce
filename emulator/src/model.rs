//! The emulated server's state: the account, tokens, tasks and their downloaders. No HTTP here;
//! `super` turns requests into calls on this model. Behaviour follows `cloudreve-api.md`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Offset as _, TimeDelta, Utc};
use serde_json::{Value, json};

/// Which downloader backs a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// aria2: file indices from 1; a `METADATA]` placeholder file until metadata arrives;
    /// deselecting every file is silently ignored.
    Aria2,
    /// qBittorrent: file indices from 0; no `files` until metadata arrives; deselecting every
    /// file makes the task fail on the next poll (Cloudreve then deletes its data).
    Qbittorrent,
}

/// A task to add to the emulator.
#[derive(Debug, Clone)]
pub struct TaskSpec {
    /// The torrent's name.
    pub name: String,
    /// The downloader.
    pub backend: Backend,
    /// Files: path inside the torrent (root folder included) and size.
    pub files: Vec<(String, u64)>,
    /// Source URL or magnet.
    pub source: String,
    /// Whether the torrent's metadata (its file list) is known yet.
    pub metadata_ready: bool,
    /// Queue status: `queued`, `processing`, `suspending`, ...
    pub status: String,
    /// Remote-download phase; `None` before the task starts.
    pub phase: Option<String>,
    /// Task type; `remote_download` unless testing other kinds.
    pub kind: String,
}

impl TaskSpec {
    /// A downloading task in the monitor phase with its metadata known.
    pub fn new(backend: Backend, name: &str, files: &[(&str, u64)]) -> Self {
        Self {
            name: name.to_owned(),
            backend,
            files: files.iter().map(|&(p, s)| (p.to_owned(), s)).collect(),
            source: format!("magnet:?xt=urn:btih:{:040x}&dn={name}", name.len()),
            metadata_ready: true,
            status: "processing".to_owned(),
            phase: Some("monitor".to_owned()),
            kind: "remote_download".to_owned(),
        }
    }

    /// The same task, still waiting for its metadata.
    #[must_use]
    pub fn metadata_pending(mut self) -> Self {
        self.metadata_ready = false;
        self
    }

    /// The same task with another status and phase.
    #[must_use]
    pub fn with_state(mut self, status: &str, phase: Option<&str>) -> Self {
        status.clone_into(&mut self.status);
        self.phase = phase.map(str::to_owned);
        self
    }
}

/// One file of an emulated torrent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmuFile {
    /// The server's index (1-based for aria2, 0-based for qBittorrent).
    pub index: u64,
    /// Path including the root folder.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Live selection state in the downloader.
    pub selected: bool,
}

#[derive(Debug, Clone)]
pub(super) struct EmuTask {
    pub(super) num: u64,
    pub(super) id: String,
    pub(super) spec: TaskSpec,
    pub(super) files: Vec<EmuFile>,
    /// In Cloudreve's in-memory registry (PATCH/DELETE can reach it).
    pub(super) in_registry: bool,
    pub(super) error: Option<String>,
    pub(super) cancel_requested: bool,
    /// The "database" copy the list shows: refreshed by `poll`.
    pub(super) snapshot: Value,
}

/// The account's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Can sign in.
    Active,
    /// Not activated (40018).
    Inactive,
    /// Banned (40017).
    Banned,
}

/// Options of an emulated server.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// The account's email.
    pub email: String,
    /// The account's password.
    pub password: String,
    /// The account's status.
    pub user_status: UserStatus,
    /// Whether the account has two-factor sign-in (sign-in answers 203).
    pub two_factor: bool,
    /// Whether login captcha is on (sign-in answers 40026).
    pub login_captcha: bool,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// Simulated downloader polls happen this often; `None` means only when `poll` is called.
    pub auto_poll: Option<Duration>,
    /// Serve the site under this path, as behind a reverse proxy (e.g. `/cloud`); empty: at `/`.
    pub path_prefix: String,
    /// Split the downloading list into pages of this size with a `next_token` cursor. Real
    /// Cloudreve never does for this category; it tests that the client follows cursors.
    pub downloading_page_size: Option<usize>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            email: "bot@example.com".to_owned(),
            password: "correct horse battery staple".to_owned(),
            user_status: UserStatus::Active,
            two_factor: false,
            login_captcha: false,
            access_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(1_209_600),
            auto_poll: None,
            path_prefix: String::new(),
            downloading_page_size: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone)]
pub(super) struct TokenRecord {
    pub(super) kind: TokenKind,
    pub(super) expires: DateTime<Utc>,
    pub(super) family: u64,
}

/// Who a request's `Authorization` header says the caller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No header, or a token that is unknown, expired or garbage (Cloudreve only logs those).
    Anonymous,
    /// A valid access token.
    User,
    /// A valid refresh token sent as an access token: 40020 on every route.
    RefreshAsAccess,
}

pub(super) struct Model {
    pub(super) options: EmulatorOptions,
    pub(super) tokens: HashMap<String, TokenRecord>,
    pub(super) revoked_families: Vec<u64>,
    pub(super) next_token: u64,
    pub(super) next_family: u64,
    pub(super) tasks: Vec<EmuTask>,
    pub(super) next_task: u64,
    pub(super) polls: u64,
    pub(super) all_deselected_attempts: u64,
    /// The serialized downloading list, until a snapshot changes.
    list_cache: Option<std::sync::Arc<str>>,
}

const HASH_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HASH_MULTIPLIER: u64 = 7919;
const TASK_TAG: u64 = 11;

/// An opaque, hashid-like task id; `decode_task_id` rejects anything it did not make.
pub(super) fn encode_task_id(num: u64) -> String {
    let mut n = num * HASH_MULTIPLIER + TASK_TAG;
    let mut out = Vec::new();
    while n > 0 {
        out.push(HASH_ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

pub(super) fn decode_task_id(id: &str) -> Option<u64> {
    if id.is_empty() || id.len() > 11 {
        return None;
    }
    let mut n: u64 = 0;
    for byte in id.bytes() {
        let digit = HASH_ALPHABET.iter().position(|&c| c == byte)? as u64;
        n = n.checked_mul(62)?.checked_add(digit)?;
    }
    let raw = n.checked_sub(TASK_TAG)?;
    (raw % HASH_MULTIPLIER == 0).then_some(raw / HASH_MULTIPLIER)
}

fn rfc3339_cst(t: DateTime<Utc>) -> String {
    // Cloudreve answers in the server's local offset with nanoseconds; +08:00 exercises both.
    let offset = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix());
    t.with_timezone(&offset)
        .format("%Y-%m-%dT%H:%M:%S%.9f%:z")
        .to_string()
}

impl Model {
    pub(super) fn new(options: EmulatorOptions) -> Self {
        Self {
            options,
            tokens: HashMap::new(),
            revoked_families: Vec::new(),
            next_token: 1,
            next_family: 1,
            tasks: Vec::new(),
            next_task: 1,
            polls: 0,
            all_deselected_attempts: 0,
            list_cache: None,
        }
    }

    pub(super) fn caller(&self, authorization: Option<&str>) -> Caller {
        let Some(header) = authorization else {
            return Caller::Anonymous;
        };
        let token = header.strip_prefix("Bearer ").unwrap_or(header);
        if token.is_empty() {
            return Caller::Anonymous;
        }
        match self.tokens.get(token) {
            Some(record) if record.expires > Utc::now() => match record.kind {
                TokenKind::Access => Caller::User,
                TokenKind::Refresh if self.revoked_families.contains(&record.family) => {
                    Caller::Anonymous
                }
                TokenKind::Refresh => Caller::RefreshAsAccess,
            },
            _ => Caller::Anonymous,
        }
    }

    fn issue(&mut self, kind: TokenKind, family: u64, ttl: Duration) -> (String, DateTime<Utc>) {
        let number = self.next_token;
        self.next_token += 1;
        let name = match kind {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        };
        let token = format!("emu.{name}.{number}.{}", uuid::Uuid::new_v4().simple());
        let expires = Utc::now() + TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX);
        self.tokens.insert(
            token.clone(),
            TokenRecord {
                kind,
                expires,
                family,
            },
        );
        (token, expires)
    }

    pub(super) fn token_pair(&mut self, family: Option<u64>) -> Value {
        let family = family.unwrap_or_else(|| {
            self.next_family += 1;
            self.next_family
        });
        let (access, access_expires) =
            self.issue(TokenKind::Access, family, self.options.access_ttl);
        let (refresh, refresh_expires) =
            self.issue(TokenKind::Refresh, family, self.options.refresh_ttl);
        json!({
            "access_token": access,
            "refresh_token": refresh,
            "access_expires": rfc3339_cst(access_expires),
            "refresh_expires": rfc3339_cst(refresh_expires),
        })
    }

    /// A refresh token's family, if it may be exchanged.
    pub(super) fn refresh_family(&self, token: &str) -> Option<u64> {
        let record = self.tokens.get(token)?;
        (record.kind == TokenKind::Refresh
            && record.expires > Utc::now()
            && !self.revoked_families.contains(&record.family)
            && self.options.user_status == UserStatus::Active)
            .then_some(record.family)
    }

    pub(super) fn expire_access_tokens(&mut self) {
        let past = Utc::now() - TimeDelta::seconds(1);
        for record in self.tokens.values_mut() {
            if record.kind == TokenKind::Access {
                record.expires = past;
            }
        }
    }

    pub(super) fn expire_token(&mut self, token: &str) {
        if let Some(record) = self.tokens.get_mut(token) {
            record.expires = Utc::now() - TimeDelta::seconds(1);
        }
    }

    pub(super) fn revoke_refresh_tokens(&mut self) {
        let families: Vec<u64> = self.tokens.values().map(|r| r.family).collect();
        self.revoked_families.extend(families);
    }

    pub(super) fn add_task(&mut self, spec: TaskSpec) -> String {
        let num = self.next_task;
        self.next_task += 1;
        let id = encode_task_id(num);
        let base = match spec.backend {
            Backend::Aria2 => 1,
            Backend::Qbittorrent => 0,
        };
        let files = spec
            .files
            .iter()
            .enumerate()
            .map(|(pos, (path, size))| EmuFile {
                index: pos as u64 + base,
                path: path.clone(),
                size: *size,
                selected: true,
            })
            .collect();
        let in_registry = matches!(spec.status.as_str(), "queued" | "processing" | "suspending");
        let mut task = EmuTask {
            num,
            id: id.clone(),
            spec,
            files,
            in_registry,
            error: None,
            cancel_requested: false,
            snapshot: Value::Null,
        };
        task.snapshot = render_task(&task);
        self.tasks.push(task);
        self.list_cache = None;
        id
    }

    pub(super) fn task_mut(&mut self, id: &str) -> Option<&mut EmuTask> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// One simulated downloader poll: apply consequences, then refresh every list snapshot.
    pub(super) fn poll(&mut self) {
        self.polls += 1;
        self.list_cache = None;
        for task in &mut self.tasks {
            if task.in_registry && task.cancel_requested {
                "canceled".clone_into(&mut task.spec.status);
                task.in_registry = false;
            }
            if task.in_registry
                && task.spec.backend == Backend::Qbittorrent
                && task.spec.metadata_ready
                && task.spec.phase.as_deref() == Some("monitor")
                && !task.files.is_empty()
                && task.files.iter().all(|f| !f.selected)
            {
                "error".clone_into(&mut task.spec.status);
                task.error = Some(
                    "failed to validate files: no selected file found in download task (non-retryable error)"
                        .to_owned(),
                );
                // Cleanup deletes the torrent and its files.
                task.in_registry = false;
            }
            if task.in_registry && task.spec.status == "processing" {
                // Between monitor iterations the task rests as `suspending`, and back.
                "suspending".clone_into(&mut task.spec.status);
            } else if task.in_registry && task.spec.status == "suspending" {
                "processing".clone_into(&mut task.spec.status);
            }
            task.snapshot = render_task(task);
        }
    }

    /// One page of the downloading list after the cursor `after` (a task id), when paging.
    pub(super) fn list_downloading_page(&self, page_size: usize, after: Option<&str>) -> Value {
        let all = self.list_downloading();
        let tasks = all["tasks"].as_array().cloned().unwrap_or_default();
        let start = after
            .and_then(|id| tasks.iter().position(|t| t["id"] == id).map(|p| p + 1))
            .unwrap_or(0);
        let page: Vec<Value> = tasks.iter().skip(start).take(page_size).cloned().collect();
        let mut pagination = json!({"page": 0, "page_size": page_size, "is_cursor": true});
        if let Some(last) = page.last().filter(|_| start + page.len() < tasks.len()) {
            pagination["next_token"] = last["id"].clone();
        }
        json!({"tasks": page, "pagination": pagination})
    }

    /// The `data` of the downloading list as JSON text, cached until a snapshot changes.
    pub(super) fn list_downloading_json(&mut self) -> std::sync::Arc<str> {
        if let Some(cached) = &self.list_cache {
            return std::sync::Arc::clone(cached);
        }
        let text: std::sync::Arc<str> = self.list_downloading().to_string().into();
        self.list_cache = Some(std::sync::Arc::clone(&text));
        text
    }

    pub(super) fn list_downloading(&self) -> Value {
        let mut tasks: Vec<&EmuTask> = self
            .tasks
            .iter()
            .filter(|t| {
                t.snapshot["type"] == "remote_download"
                    && matches!(
                        t.snapshot["status"].as_str(),
                        Some("queued" | "processing" | "suspending")
                    )
            })
            .collect();
        tasks.sort_by_key(|t| std::cmp::Reverse(t.num));
        json!({
            "tasks": tasks.iter().map(|t| t.snapshot.clone()).collect::<Vec<_>>(),
            "pagination": {"page": 0, "page_size": 32765, "is_cursor": true},
        })
    }
}

/// The `TaskResponse` JSON of a task as the database copy holds it now.
fn render_task(task: &EmuTask) -> Value {
    let spec = &task.spec;
    let download = if spec.status == "queued" {
        Value::Null
    } else if !spec.metadata_ready {
        match spec.backend {
            Backend::Aria2 => json!({
                "name": format!("[METADATA]{}", spec.name),
                "state": "downloading",
                "total": 0, "downloaded": 0, "download_speed": 0, "uploaded": 0, "upload_speed": 0,
                "files": [{"index": 1, "name": format!("METADATA]{}", spec.name), "size": 0, "progress": 0, "selected": true}],
            }),
            Backend::Qbittorrent => json!({
                "name": spec.name,
                "state": "downloading",
                "total": 0, "downloaded": 0, "download_speed": 0, "uploaded": 0, "upload_speed": 0,
            }),
        }
    } else {
        let total: u64 = task
            .files
            .iter()
            .filter(|f| f.selected)
            .map(|f| f.size)
            .sum();
        let state = match spec.phase.as_deref() {
            Some("seeding") => "seeding",
            Some("transfer") => "completed",
            _ if spec.status == "error" => "error",
            _ => "downloading",
        };
        json!({
            "name": spec.name,
            "state": state,
            "total": total,
            "downloaded": total / 3,
            "download_speed": 5_242_880,
            "uploaded": 0,
            "upload_speed": 0,
            "hash": format!("{:040x}", task.num),
            "files": task.files.iter().map(|f| json!({
                "index": f.index, "name": f.path, "size": f.size,
                "progress": if f.selected { 0.25 } else { 0.0 }, "selected": f.selected,
            })).collect::<Vec<_>>(),
            "pieces": "AAAA//8A",
            "num_pieces": 1456,
        })
    };
    let mut summary = json!({
        "props": {
            "src_str": spec.source,
            "src": "",
            "dst": "cloudreve://my/Downloads",
            "failed": 0,
            "download": download,
        }
    });
    if let Some(phase) = &spec.phase {
        summary["phase"] = json!(phase);
    }
    let mut value = json!({
        "created_at": "2025-06-21T12:00:01.52+08:00",
        "updated_at": "2025-06-21T12:10:42.913+08:00",
        "id": task.id,
        "status": spec.status,
        "type": spec.kind,
        "summary": summary,
        "duration": 4210,
        "resume_time": 1_750_479_052,
    });
    if spec.status != "queued" {
        value["node"] =
            json!({"id": "Y9Tb", "name": "Master", "type": "master", "capabilities": "Dg=="});
    }
    if let Some(error) = &task.error {
        value["error"] = json!(error);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_round_trip_and_reject_foreign_ones() {
        for num in [1, 2, 61, 62, 1000, 123_456] {
            assert_eq!(decode_task_id(&encode_task_id(num)), Some(num));
        }
        assert_eq!(decode_task_id("not-a-hashid"), None);
        assert_eq!(decode_task_id(""), None);
        assert_eq!(decode_task_id("zz"), None);
    }
}
