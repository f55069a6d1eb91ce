//! The wire format of each notifier kind, as plain data: the URL, the authentication and the
//! JSON body of one request. Pure; `transport` sends it.
//!
//! - ntfy, JSON publishing (docs.ntfy.sh, "Publish as JSON"): `POST` to the server's root URL
//!   with `{"topic", "title", "message", "tags", "priority"}`; an access token as
//!   `Authorization: Bearer`, `user:password` as Basic. The message is cut to 4,000 bytes:
//!   ntfy turns longer ones into attachments.
//! - Gotify (`POST /message`, the server's API spec): `{"title", "message", "priority"}` with the
//!   application token in `X-Gotify-Key`.
//! - Apprise API (its README): `POST /notify/{KEY}` with `{"title", "body", "type"}`, or the
//!   stateless `POST /notify` with the Apprise URLs in `urls` as well.
//! - `webhook`: our own JSON, [`WebhookBody`], version [`WEBHOOK_VERSION`].

use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;
use url::Url;

use super::message::{Digest, TaskDetail};
use crate::config::{NotifierConfig, NotifyEvent, NotifyTarget};

/// The version of the webhook body; it changes only when a field changes meaning or goes away.
pub const WEBHOOK_VERSION: u32 = 1;

/// The largest ntfy message sent; ntfy turns longer ones (over 4,096 bytes) into attachments.
const NTFY_MESSAGE_MAX: usize = 4000;

/// At most this many tasks are listed in a webhook body; the counts cover them all.
pub const WEBHOOK_TASKS_MAX: usize = 100;

/// At most about this many bytes of deselected files are listed in a webhook body (a tick that
/// touched 500,000 files once made a 23.8 MB POST); the files beyond are counted in
/// `files_omitted`, and `files_deselected`, `bytes_saved` and `rules` still cover them all.
pub const WEBHOOK_FILES_MAX_BYTES: usize = 64 * 1024;

/// A task's name or id, a file's path or rule, an error: each cut to this many bytes.
pub const TEXT_MAX_BYTES: usize = 1024;

/// The largest Gotify or Apprise message body (the grouped body is far below it; a long
/// incident message is what it bounds).
const MESSAGE_MAX: usize = 16 * 1024;

/// How a request authenticates.
pub enum Auth {
    /// Nothing.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// `Authorization: Basic` of user and password.
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: SecretString,
    },
    /// A header holding the secret.
    Header {
        /// Its name.
        name: &'static str,
        /// The secret.
        value: SecretString,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Bearer(_) => "Bearer([REDACTED])",
            Self::Basic { .. } => "Basic([REDACTED])",
            Self::Header { .. } => "Header([REDACTED])",
        })
    }
}

/// One request to send: always a JSON `POST`.
#[derive(Debug)]
pub struct OutboundRequest {
    /// Where.
    pub url: Url,
    /// How it authenticates.
    pub auth: Auth,
    /// The JSON body.
    pub body: Vec<u8>,
}

#[derive(Serialize)]
struct NtfyBody<'a> {
    topic: &'a str,
    title: &'a str,
    message: &'a str,
    tags: Vec<&'static str>,
    priority: u8,
}

#[derive(Serialize)]
struct GotifyBody<'a> {
    title: &'a str,
    message: &'a str,
    priority: u8,
}

#[derive(Serialize)]
struct AppriseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    urls: Option<&'a str>,
    title: &'a str,
    body: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The webhook's JSON body (version 1). Field order is the serialization order.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WebhookBody {
    /// [`WEBHOOK_VERSION`].
    pub version: u32,
    /// `"tick"`, or `"test"` from `notify-test`.
    pub event: &'static str,
    /// The account the tick served.
    pub account: String,
    /// Nothing was sent: the changes are what would have been.
    pub dry_run: bool,
    /// The events present: `changed`, `recovered`, `refused`, `failed`, `error`.
    pub events: Vec<&'static str>,
    /// Bytes deselected by this tick's changes: what it saved.
    pub bytes_saved: u64,
    /// Files deselected by this tick's changes.
    pub files_deselected: u64,
    /// Tasks per event (every task, also those left out of `tasks`).
    pub counts: WebhookCounts,
    /// Deselected files and bytes per rule, by rule name.
    pub rules: Vec<WebhookRule>,
    /// The tasks, in list order, at most [`WEBHOOK_TASKS_MAX`].
    pub tasks: Vec<WebhookTask>,
    /// How many tasks were left out of `tasks`.
    pub tasks_omitted: u64,
    /// Incidents that opened (`error`) or cleared (`recovered`).
    pub incidents: Vec<WebhookIncident>,
}

/// Tasks per event.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WebhookCounts {
    /// Tasks changed.
    pub changed: u64,
    /// Tasks left alone because every file is junk.
    pub refused: u64,
    /// Tasks whose change failed.
    pub failed: u64,
}

/// One rule's share of a tick.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WebhookRule {
    /// The rule's name.
    pub rule: String,
    /// Files it deselected.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One task.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WebhookTask {
    /// `changed`, `refused` or `failed`.
    pub event: &'static str,
    /// The task id.
    pub id: String,
    /// The task's (torrent's) name.
    pub name: String,
    /// `changed`: bytes deselected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_saved: Option<u64>,
    /// `changed`: the files deselected, as many as fit in [`WEBHOOK_FILES_MAX_BYTES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<WebhookFile>>,
    /// `changed`: deselected files left out of `files` for size (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_omitted: Option<u64>,
    /// `changed`: how many files were selected (by keep rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_selected: Option<u64>,
    /// `refused`: how many files the task has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_total: Option<u64>,
    /// `failed`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One deselected file.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WebhookFile {
    /// The server's file index.
    pub index: u64,
    /// Path inside the torrent.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// The rule that deselected it.
    pub rule: String,
}

/// One incident.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct WebhookIncident {
    /// `error` or `recovered`.
    pub event: &'static str,
    /// `sign_in_refused`, `token_rejected`, `token_expiring`, `state_not_writable`, or
    /// `recovered`.
    pub kind: String,
    /// For people.
    pub message: String,
}

fn as_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl WebhookBody {
    /// The body for a digest.
    pub fn of(digest: &Digest) -> Self {
        let count = |event| as_u64(digest.tasks.iter().filter(|t| t.event == event).count());
        let mut files_budget = WEBHOOK_FILES_MAX_BYTES;
        let cut = |text: &str| truncate(text, TEXT_MAX_BYTES);
        let tasks: Vec<WebhookTask> = digest
            .tasks
            .iter()
            .take(WEBHOOK_TASKS_MAX)
            .map(|task| {
                let mut entry = WebhookTask {
                    event: task.event.as_str(),
                    id: cut(&task.id),
                    name: cut(&task.name),
                    bytes_saved: None,
                    files: None,
                    files_omitted: None,
                    files_selected: None,
                    files_total: None,
                    error: None,
                };
                match &task.detail {
                    TaskDetail::Changed {
                        deselected,
                        selected,
                    } => {
                        entry.bytes_saved = Some(task.bytes_saved());
                        let listed: Vec<WebhookFile> = deselected
                            .iter()
                            .map_while(|f| {
                                // The file's JSON: its two texts and about 50 bytes of keys and
                                // numbers.
                                let cost = f.path.len().min(TEXT_MAX_BYTES)
                                    + f.rule.len().min(TEXT_MAX_BYTES)
                                    + 50;
                                let Some(left) = files_budget.checked_sub(cost) else {
                                    files_budget = 0;
                                    return None;
                                };
                                files_budget = left;
                                Some(WebhookFile {
                                    index: f.index,
                                    path: cut(&f.path),
                                    size: f.size,
                                    rule: cut(&f.rule),
                                })
                            })
                            .collect();
                        let omitted = deselected.len() - listed.len();
                        entry.files_omitted = (omitted > 0).then(|| as_u64(omitted));
                        entry.files = Some(listed);
                        entry.files_selected = Some(as_u64(*selected));
                    }
                    TaskDetail::Refused { files } => entry.files_total = Some(as_u64(*files)),
                    TaskDetail::Failed { error } => entry.error = Some(cut(error)),
                }
                entry
            })
            .collect();
        Self {
            version: WEBHOOK_VERSION,
            event: if digest.test { "test" } else { "tick" },
            account: digest.account.clone(),
            dry_run: digest.dry_run,
            events: digest
                .events()
                .into_iter()
                .map(NotifyEvent::as_str)
                .collect(),
            bytes_saved: digest.bytes_saved(),
            files_deselected: as_u64(digest.files_deselected()),
            counts: WebhookCounts {
                changed: count(NotifyEvent::Changed),
                refused: count(NotifyEvent::Refused),
                failed: count(NotifyEvent::Failed),
            },
            rules: digest
                .rule_totals()
                .into_iter()
                .map(|(rule, t)| WebhookRule {
                    rule,
                    files: t.files,
                    bytes: t.bytes,
                })
                .collect(),
            tasks_omitted: as_u64(digest.tasks.len().saturating_sub(WEBHOOK_TASKS_MAX)),
            tasks,
            incidents: digest
                .incidents
                .iter()
                .map(|i| WebhookIncident {
                    event: i.event.as_str(),
                    kind: i.kind.clone(),
                    message: truncate(&i.message, MESSAGE_MAX),
                })
                .collect(),
        }
    }
}

/// ntfy priority (1 min .. 5 max), Gotify priority (0 .. 10), Apprise type and ntfy tag of the
/// most severe event.
fn urgency(event: Option<NotifyEvent>) -> (u8, u8, &'static str, &'static str) {
    match event {
        Some(NotifyEvent::Error) => (4, 8, "failure", "rotating_light"),
        Some(NotifyEvent::Failed) => (4, 6, "failure", "x"),
        Some(NotifyEvent::Refused) => (3, 5, "warning", "warning"),
        Some(NotifyEvent::Recovered) => (3, 5, "success", "white_check_mark"),
        Some(NotifyEvent::Changed) => (3, 4, "info", "wastebasket"),
        None => (3, 4, "info", "bell"),
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn json(value: &impl Serialize) -> Vec<u8> {
    // Serializing these plain structs cannot fail (string keys, no maps of other keys).
    serde_json::to_vec(value).unwrap_or_default()
}

/// The request one notifier sends for one digest.
pub fn request(
    config: &NotifierConfig,
    secret: Option<&SecretString>,
    digest: &Digest,
) -> OutboundRequest {
    let title = digest.title(&config.title_prefix);
    let body = digest.body();
    let (ntfy_priority, gotify_priority, apprise_type, _) = urgency(digest.severity());
    let bearer = || secret.map_or(Auth::None, |s| Auth::Bearer(s.clone()));
    match &config.target {
        NotifyTarget::Ntfy { root, topic } => {
            let tags = digest
                .events()
                .into_iter()
                .rev()
                .map(|e| urgency(Some(e)).3)
                .chain(digest.test.then_some(urgency(None).3))
                .collect();
            let message = truncate(&body, NTFY_MESSAGE_MAX);
            let auth = match secret {
                None => Auth::None,
                Some(s) => match s.expose_secret().split_once(':') {
                    Some((user, password)) => Auth::Basic {
                        user: user.to_owned(),
                        password: SecretString::from(password.to_owned()),
                    },
                    None => Auth::Bearer(s.clone()),
                },
            };
            OutboundRequest {
                url: root.clone(),
                auth,
                body: json(&NtfyBody {
                    topic,
                    title: &title,
                    message: &message,
                    tags,
                    priority: ntfy_priority,
                }),
            }
        }
        NotifyTarget::Gotify { message_url } => OutboundRequest {
            url: message_url.clone(),
            auth: secret.map_or(Auth::None, |s| Auth::Header {
                name: "X-Gotify-Key",
                value: s.clone(),
            }),
            body: json(&GotifyBody {
                title: &title,
                message: &truncate(&body, MESSAGE_MAX),
                priority: gotify_priority,
            }),
        },
        NotifyTarget::Apprise {
            notify_url,
            stateless,
        } => OutboundRequest {
            url: notify_url.clone(),
            auth: if *stateless { Auth::None } else { bearer() },
            body: json(&AppriseBody {
                urls: if *stateless {
                    secret.map(secrecy::ExposeSecret::expose_secret)
                } else {
                    None
                },
                title: &title,
                body: &truncate(&body, MESSAGE_MAX),
                kind: apprise_type,
            }),
        },
        NotifyTarget::Webhook { url } => OutboundRequest {
            url: url.clone(),
            auth: bearer(),
            body: json(&WebhookBody::of(digest)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{NotifyKind, NotifySecret};
    use crate::notify::message::{DeselectedFile, Incident, TaskEntry};

    /// A tick that touched 500,000 files, with long names, a long error and a long incident.
    fn huge_digest() -> Digest {
        let long = "x".repeat(100_000);
        let files = |task: usize, count: usize| TaskDetail::Changed {
            deselected: (0..count)
                .map(|i| DeselectedFile {
                    index: i as u64,
                    path: format!("Some.Show.{task}/Season 1/Episode {i:06} sample.mkv"),
                    size: 1000,
                    rule: "samples".into(),
                })
                .collect(),
            selected: 0,
        };
        let mut tasks: Vec<TaskEntry> = (0..5)
            .map(|task| TaskEntry {
                event: NotifyEvent::Changed,
                id: format!("t{task}"),
                name: long.clone(),
                detail: files(task, 100_000),
            })
            .collect();
        tasks.push(TaskEntry {
            event: NotifyEvent::Failed,
            id: long.clone(),
            name: long.clone(),
            detail: TaskDetail::Failed {
                error: long.clone(),
            },
        });
        Digest {
            account: "default".into(),
            dry_run: false,
            test: false,
            tasks,
            incidents: vec![Incident {
                event: NotifyEvent::Error,
                kind: "state_not_writable".into(),
                message: long,
            }],
        }
    }

    #[test]
    fn a_huge_tick_makes_a_small_message_of_every_kind_with_counts_for_what_is_left_out() {
        let digest = huge_digest();
        let url: Url = "http://127.0.0.1:9/x".parse().unwrap();
        let targets = [
            (
                NotifyKind::Ntfy,
                NotifyTarget::Ntfy {
                    root: url.clone(),
                    topic: "t".into(),
                },
            ),
            (
                NotifyKind::Gotify,
                NotifyTarget::Gotify {
                    message_url: url.clone(),
                },
            ),
            (
                NotifyKind::Apprise,
                NotifyTarget::Apprise {
                    notify_url: url.clone(),
                    stateless: false,
                },
            ),
            (NotifyKind::Webhook, NotifyTarget::Webhook { url }),
        ];
        for (kind, target) in targets {
            let config = NotifierConfig {
                name: "n".into(),
                kind,
                target,
                secret: NotifySecret::Credential,
                events: NotifyEvent::ALL.to_vec(),
                title_prefix: String::new(),
            };
            let request = request(&config, None, &digest);
            assert!(
                request.body.len() < 128 * 1024,
                "{kind:?}: {} bytes",
                request.body.len()
            );
        }
        let body = WebhookBody::of(&digest);
        assert_eq!(body.files_deselected, 500_000);
        assert_eq!(body.bytes_saved, 500_000_000);
        assert_eq!(body.rules[0].files, 500_000);
        let listed: usize = body
            .tasks
            .iter()
            .filter_map(|t| t.files.as_ref())
            .map(Vec::len)
            .sum();
        let omitted: u64 = body.tasks.iter().filter_map(|t| t.files_omitted).sum();
        assert!(listed > 500, "{listed}");
        assert_eq!(listed as u64 + omitted, 500_000);
        assert!(body.tasks.iter().all(|t| t.name.len() <= TEXT_MAX_BYTES));
        // A small tick lists everything and omits nothing.
        let small = WebhookBody::of(&Digest {
            tasks: vec![TaskEntry {
                event: NotifyEvent::Changed,
                id: "a".into(),
                name: "A".into(),
                detail: TaskDetail::Changed {
                    deselected: vec![DeselectedFile {
                        index: 1,
                        path: "a.exe".into(),
                        size: 1,
                        rule: "junk".into(),
                    }],
                    selected: 0,
                },
            }],
            ..huge_digest()
        });
        assert_eq!(small.tasks[0].files.as_ref().map(Vec::len), Some(1));
        assert_eq!(small.tasks[0].files_omitted, None);
    }

    #[test]
    fn long_ntfy_messages_are_cut_on_a_character_boundary() {
        let text = "é".repeat(3000);
        let cut = truncate(&text, NTFY_MESSAGE_MAX);
        assert!(cut.len() <= NTFY_MESSAGE_MAX);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short", NTFY_MESSAGE_MAX), "short");
    }
}
