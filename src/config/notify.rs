//! `[[notify]]` tables: where to send a message after a tick, checked into ready-to-use
//! targets (the URL to POST to, the ntfy topic, the Apprise mode) and where the secret comes
//! from. The secret itself is read when the notifiers are built, as the password is.

use std::path::PathBuf;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use toml::Spanned;
use url::Url;

use super::{Checker, is_loopback};

/// One `[[notify]]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNotify {
    kind: Spanned<String>,
    url: Spanned<String>,
    name: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    token: Option<Spanned<String>>,
    events: Option<Spanned<Vec<Spanned<String>>>>,
    title_prefix: Option<Spanned<String>>,
}

/// What a notifier can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NotifyEvent {
    /// A task's selection was changed (with the files, rules and bytes saved).
    Changed,
    /// A task was left alone because the rules would deselect every file (once per task).
    Refused,
    /// A task's PATCH failed or may not have been applied (each tick it happens: noisy).
    Failed,
    /// Something only a person can fix: sign-in refused, token rejected, state not
    /// writable (once per incident).
    Error,
    /// Every open incident cleared.
    Recovered,
}

impl NotifyEvent {
    /// Every event, in order of increasing severity of what it reports.
    pub const ALL: [Self; 5] = [
        Self::Changed,
        Self::Recovered,
        Self::Refused,
        Self::Failed,
        Self::Error,
    ];

    /// The events a notifier gets when its table has no `events` key: all but `failed`,
    /// which repeats every tick while a server keeps failing.
    pub const DEFAULT: [Self; 4] = [Self::Changed, Self::Refused, Self::Error, Self::Recovered];

    /// The name used in the config and in webhook bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Refused => "refused",
            Self::Failed => "failed",
            Self::Error => "error",
            Self::Recovered => "recovered",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

/// The service a notifier talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyKind {
    /// ntfy, JSON publishing.
    Ntfy,
    /// Gotify's `POST /message`.
    Gotify,
    /// The Apprise API.
    Apprise,
    /// Our own versioned JSON.
    Webhook,
}

impl NotifyKind {
    /// The `kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ntfy => "ntfy",
            Self::Gotify => "gotify",
            Self::Apprise => "apprise",
            Self::Webhook => "webhook",
        }
    }
}

/// Where a notifier POSTs, checked per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// ntfy: the JSON goes to the server's root URL and names the topic.
    Ntfy {
        /// The root URL (the configured URL without its topic).
        root: Url,
        /// The topic (the configured URL's last path segment).
        topic: String,
    },
    /// Gotify: `<server>/message`.
    Gotify {
        /// The message endpoint.
        message_url: Url,
    },
    /// Apprise API: `/notify/{KEY}` (configuration stored under a key) or stateless `/notify`
    /// (the secret holds the Apprise URLs).
    Apprise {
        /// The notify endpoint as configured.
        notify_url: Url,
        /// `/notify` without a key: the secret is sent as `urls`.
        stateless: bool,
    },
    /// Our JSON, sent as it is.
    Webhook {
        /// The endpoint.
        url: Url,
    },
}

impl NotifyTarget {
    /// The URL requests go to.
    pub fn post_url(&self) -> &Url {
        match self {
            Self::Ntfy { root, .. } => root,
            Self::Gotify { message_url } => message_url,
            Self::Apprise { notify_url, .. } => notify_url,
            Self::Webhook { url } => url,
        }
    }
}

/// Where a notifier's secret comes from.
#[derive(Debug, Clone)]
pub enum NotifySecret {
    /// Neither key: `$CREDENTIALS_DIRECTORY/<name>` if that file exists, else no secret.
    Credential,
    /// `token_file`.
    File(PathBuf),
    /// `token` (accepted with a warning).
    Inline(SecretString),
}

impl PartialEq for NotifySecret {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Credential, Self::Credential) => true,
            (Self::File(a), Self::File(b)) => a == b,
            (Self::Inline(a), Self::Inline(b)) => a.expose_secret() == b.expose_secret(),
            _ => false,
        }
    }
}

/// One validated `[[notify]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifierConfig {
    /// Unique among the notifiers; names its credential file, its log lines and its metrics.
    pub name: String,
    /// The service.
    pub kind: NotifyKind,
    /// Where requests go.
    pub target: NotifyTarget,
    /// Where the token (ntfy, Gotify, webhook) or the Apprise URLs (stateless Apprise) come
    /// from.
    pub secret: NotifySecret,
    /// What it is told about.
    pub events: Vec<NotifyEvent>,
    /// Put before every title, e.g. `"[nas] "`.
    pub title_prefix: String,
}

impl NotifierConfig {
    /// Whether this notifier cannot work without a secret.
    pub fn needs_secret(&self) -> bool {
        matches!(
            self.target,
            NotifyTarget::Gotify { .. }
                | NotifyTarget::Apprise {
                    stateless: true,
                    ..
                }
        )
    }
}

/// Names whose credential files are the Cloudreve account's.
const RESERVED_NAMES: [&str; 2] = ["password", "refresh-token"];

/// A name usable as a file name and a metric label.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Checker<'_> {
    /// Checks every `[[notify]]` table; warnings go to `warnings`.
    pub(super) fn notifiers(
        &mut self,
        raw: &[Spanned<RawNotify>],
        warnings: &mut Vec<String>,
        path: &std::path::Path,
    ) -> Vec<NotifierConfig> {
        let mut out: Vec<NotifierConfig> = Vec::new();
        let mut names: Vec<(String, usize)> = Vec::new();
        for (idx, table) in raw.iter().enumerate() {
            if let Some(notifier) = self.notifier(idx, table, &mut names, warnings, path) {
                out.push(notifier);
            }
        }
        out
    }

    fn notifier(
        &mut self,
        idx: usize,
        table: &Spanned<RawNotify>,
        names: &mut Vec<(String, usize)>,
        warnings: &mut Vec<String>,
        path: &std::path::Path,
    ) -> Option<NotifierConfig> {
        let raw = table.get_ref();
        let key = |field: &str| format!("notify[{idx}].{field}");
        let problems_before = self.problems.len();
        let kind = match raw.kind.get_ref().as_str() {
            "ntfy" => Some(NotifyKind::Ntfy),
            "gotify" => Some(NotifyKind::Gotify),
            "apprise" => Some(NotifyKind::Apprise),
            "webhook" => Some(NotifyKind::Webhook),
            other => {
                self.problem(
                    raw.kind.span(),
                    &key("kind"),
                    other,
                    "unknown kind; expected \"ntfy\", \"gotify\", \"apprise\" or \"webhook\""
                        .to_owned(),
                );
                None
            }
        };
        let name = match &raw.name {
            Some(name) => self.notifier_name(name, &key("name")),
            None => kind.map(|k| (k.as_str().to_owned(), table.span())),
        };
        if let Some((name, span)) = &name {
            match names.iter().find(|(seen, _)| seen == name) {
                None => names.push((name.clone(), idx)),
                Some((_, first)) => self.problem(
                span.clone(),
                &key("name"),
                name,
                    format!(
                        "duplicate notifier name; notify[{first}] already uses it (give each [[notify]] of the same kind a `name`)"
                    ),
                ),
            }
        }
        let target = kind.and_then(|kind| self.notify_target(kind, &raw.url, &key("url")));
        let secret = match (&raw.token_file, &raw.token) {
            (Some(_), Some(token)) => {
                self.problem(
                    token.span(),
                    &key("token"),
                    "",
                    "set either token or token_file, not both".to_owned(),
                );
                NotifySecret::Credential
            }
            (Some(_), None) => self
                .path(raw.token_file.as_ref(), &key("token_file"))
                .map_or(NotifySecret::Credential, NotifySecret::File),
            (None, Some(token)) => {
                warnings.push(format!(
                    "{}: {} holds a secret in the rules file; prefer token_file or $CREDENTIALS_DIRECTORY/<name>",
                    path.display(),
                    key("token")
                ));
                NotifySecret::Inline(SecretString::from(token.get_ref().clone()))
            }
            (None, None) => NotifySecret::Credential,
        };
        let events = match &raw.events {
            None => NotifyEvent::DEFAULT.to_vec(),
            Some(list) => self.notify_events(list.get_ref(), &key("events")),
        };
        if let Some(url) = target.as_ref().map(NotifyTarget::post_url)
            && url.scheme() == "http"
            && !is_loopback(url)
        {
            warnings.push(format!(
                "{}: {} is plain http:// to a host that is not this machine: the messages and any token cross the network in clear",
                path.display(),
                key("url")
            ));
        }
        // A webhook's JSON has no title: the key would do nothing.
        if kind == Some(NotifyKind::Webhook)
            && let Some(prefix) = &raw.title_prefix
        {
            self.lint(
                prefix.span(),
                &key("title_prefix"),
                "title_prefix does nothing for kind \"webhook\": a webhook's JSON carries no title (only ntfy, Gotify and Apprise show one); remove it",
            );
        }
        if self.problems.len() != problems_before {
            return None;
        }
        Some(NotifierConfig {
            name: name?.0,
            kind: kind?,
            target: target?,
            secret,
            events,
            title_prefix: raw
                .title_prefix
                .as_ref()
                .map(|prefix| prefix.get_ref().clone())
                .unwrap_or_default(),
        })
    }

    /// A `name` that can name a credential file and a metric label.
    fn notifier_name(
        &mut self,
        name: &Spanned<String>,
        key: &str,
    ) -> Option<(String, std::ops::Range<usize>)> {
        let message = if RESERVED_NAMES.contains(&name.get_ref().as_str()) {
            "reserved: $CREDENTIALS_DIRECTORY/password and refresh-token hold the Cloudreve credentials, which a notifier must never send; choose another name"
        } else if !valid_name(name.get_ref()) {
            "a notifier name is 1 to 64 letters, digits, '-' or '_' (it names the file $CREDENTIALS_DIRECTORY/<name>)"
        } else {
            return Some((name.get_ref().clone(), name.span()));
        };
        self.problem(name.span(), key, name.get_ref(), message.to_owned());
        None
    }

    fn notify_events(&mut self, list: &[Spanned<String>], key: &str) -> Vec<NotifyEvent> {
        let mut events = Vec::new();
        for (i, item) in list.iter().enumerate() {
            match NotifyEvent::parse(item.get_ref()) {
                Some(event) if !events.contains(&event) => events.push(event),
                Some(_) => {}
                None => self.problem(
                    item.span(),
                    &format!("{key}[{i}]"),
                    item.get_ref(),
                    "unknown event; expected \"changed\", \"refused\", \"failed\", \"error\" or \"recovered\"".to_owned(),
                ),
            }
        }
        events
    }

    fn notify_target(
        &mut self,
        kind: NotifyKind,
        raw: &Spanned<String>,
        key: &str,
    ) -> Option<NotifyTarget> {
        let text = raw.get_ref().trim();
        let span = raw.span();
        let fail = |checker: &mut Self, message: &str| {
            checker.problem(span.clone(), key, text, message.to_owned());
            None
        };
        let Ok(url) = Url::parse(text) else {
            return fail(self, "invalid URL");
        };
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return fail(self, "the URL must be http:// or https:// with a host");
        }
        if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
            return fail(
                self,
                "the URL must not have a fragment or user info; put secrets into token_file",
            );
        }
        if kind != NotifyKind::Webhook && url.query().is_some() {
            return fail(self, "the URL must not have a query");
        }
        let segments: Vec<&str> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        match kind {
            NotifyKind::Ntfy => {
                let Some((topic, parents)) = segments.split_last() else {
                    return fail(
                        self,
                        "give the topic's URL, e.g. \"https://ntfy.sh/mytopic\"; messages are published as JSON to the server's root",
                    );
                };
                if !valid_name(topic) {
                    return fail(
                        self,
                        "an ntfy topic is 1 to 64 letters, digits, '-' or '_' (the URL's last path segment)",
                    );
                }
                let topic = (*topic).to_owned();
                let mut root = url.clone();
                root.set_path(&format!("/{}", join_dir(parents)));
                Some(NotifyTarget::Ntfy { root, topic })
            }
            NotifyKind::Gotify => {
                if segments.last() == Some(&"message") {
                    return fail(
                        self,
                        "give the Gotify server's base URL; /message is appended",
                    );
                }
                let mut message_url = url.clone();
                message_url.set_path(&format!("/{}message", join_dir(&segments)));
                Some(NotifyTarget::Gotify { message_url })
            }
            NotifyKind::Apprise => match segments.as_slice() {
                [.., "notify"] => Some(NotifyTarget::Apprise {
                    notify_url: url,
                    stateless: true,
                }),
                [.., "notify", key] if valid_name(key) => Some(NotifyTarget::Apprise {
                    notify_url: url,
                    stateless: false,
                }),
                _ => fail(
                    self,
                    "give the Apprise API's notify URL: \"http://host:8000/notify/{KEY}\" for a stored configuration, or \"http://host:8000/notify\" with the Apprise URLs in token_file",
                ),
            },
            NotifyKind::Webhook => Some(NotifyTarget::Webhook { url }),
        }
    }
}

/// `a/b/` from `["a", "b"]`; empty for none.
fn join_dir(segments: &[&str]) -> String {
    segments.iter().fold(String::new(), |mut dir, s| {
        dir.push_str(s);
        dir.push('/');
        dir
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{Config, parse};

    const SERVER: &str =
        "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

    fn parse_ok(tables: &str) -> Config {
        let none = |_: &str| None;
        parse(&format!("{SERVER}{tables}"), Path::new("rules.toml"), &none).unwrap()
    }

    fn parse_err(tables: &str) -> String {
        let none = |_: &str| None;
        parse(&format!("{SERVER}{tables}"), Path::new("rules.toml"), &none)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn each_kind_gets_its_target_and_the_default_events() {
        let config = parse_ok(
            r#"
[[notify]]
kind = "ntfy"
url = "https://ntfy.example.com/sub/alerts"

[[notify]]
kind = "gotify"
url = "https://push.example.com/gotify/"
token_file = "/run/gotify-token"

[[notify]]
kind = "apprise"
url = "http://127.0.0.1:8000/notify/abc123"
events = ["error", "recovered", "error"]

[[notify]]
kind = "apprise"
name = "stateless"
url = "http://127.0.0.1:8000/notify/"

[[notify]]
kind = "webhook"
url = "https://hooks.example.com/x?source=nas"
title_prefix = "[nas] "
"#,
        );
        let targets: Vec<(&str, &str)> = config
            .notify
            .iter()
            .map(|n| (n.name.as_str(), n.target.post_url().as_str()))
            .collect();
        assert_eq!(
            targets,
            [
                ("ntfy", "https://ntfy.example.com/sub/"),
                ("gotify", "https://push.example.com/gotify/message"),
                ("apprise", "http://127.0.0.1:8000/notify/abc123"),
                ("stateless", "http://127.0.0.1:8000/notify/"),
                ("webhook", "https://hooks.example.com/x?source=nas"),
            ]
        );
        assert!(
            matches!(&config.notify[0].target, NotifyTarget::Ntfy { topic, .. } if topic == "alerts")
        );
        assert_eq!(config.notify[0].events, NotifyEvent::DEFAULT);
        assert_eq!(
            config.notify[1].secret,
            NotifySecret::File(PathBuf::from("/run/gotify-token"))
        );
        assert_eq!(
            config.notify[2].events,
            [NotifyEvent::Error, NotifyEvent::Recovered]
        );
        assert!(config.notify[3].needs_secret() && !config.notify[2].needs_secret());
        assert_eq!(config.notify[4].title_prefix, "[nas] ");
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn every_problem_is_located() {
        let err = parse_err(
            r#"
[[notify]]
kind = "slack"
url = "https://hooks.example.com/x"

[[notify]]
kind = "ntfy"
url = "https://ntfy.sh/"
events = ["changed", "sometimes"]

[[notify]]
kind = "gotify"
url = "https://push.example.com/message"
token = "a"
token_file = "/b"

[[notify]]
kind = "webhook"
name = "a/b"
url = "https://hooks.example.com/y"

[[notify]]
kind = "webhook"
url = "https://hooks.example.com/z"

[[notify]]
kind = "webhook"
url = "https://hooks.example.com/zz"
"#,
        );
        assert_eq!(
            err,
            r#"invalid config file rules.toml: 7 problems
rules.toml:6:8: notify[0].kind: unknown kind; expected "ntfy", "gotify", "apprise" or "webhook" (got "slack")
  |
6 | kind = "slack"
  |        ^^^^^^^
rules.toml:11:7: notify[1].url: give the topic's URL, e.g. "https://ntfy.sh/mytopic"; messages are published as JSON to the server's root (got "https://ntfy.sh/")
   |
11 | url = "https://ntfy.sh/"
   |       ^^^^^^^^^^^^^^^^^^
rules.toml:12:22: notify[1].events[1]: unknown event; expected "changed", "refused", "failed", "error" or "recovered" (got "sometimes")
   |
12 | events = ["changed", "sometimes"]
   |                      ^^^^^^^^^^^
rules.toml:16:7: notify[2].url: give the Gotify server's base URL; /message is appended (got "https://push.example.com/message")
   |
16 | url = "https://push.example.com/message"
   |       ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
rules.toml:17:9: notify[2].token: set either token or token_file, not both
   |
17 | token = "a"
   |         ^^^
rules.toml:22:8: notify[3].name: a notifier name is 1 to 64 letters, digits, '-' or '_' (it names the file $CREDENTIALS_DIRECTORY/<name>) (got "a/b")
   |
22 | name = "a/b"
   |        ^^^^^
rules.toml:29:1: notify[5].name: duplicate notifier name; notify[4] already uses it (give each [[notify]] of the same kind a `name`) (got "webhook")
   |
29 | [[notify]]
   | ^^^^^^^^^^"#
        );
    }

    #[test]
    fn a_notifier_cannot_be_named_after_the_cloudreve_credentials() {
        for name in ["password", "refresh-token"] {
            let err = parse_err(&format!(
                "[[notify]]\nkind = \"webhook\"\nname = \"{name}\"\nurl = \"https://h.example/x\"\n"
            ));
            assert!(
                err.contains(&format!("notify[0].name: reserved: $CREDENTIALS_DIRECTORY/password and refresh-token hold the Cloudreve credentials, which a notifier must never send; choose another name (got \"{name}\")")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_token_inline_or_in_clear_is_accepted_with_a_warning() {
        let config = parse_ok(
            r#"
[[notify]]
kind = "gotify"
url = "http://push.lan"
token = "AiOLxxDxYOCc7bY"
"#,
        );
        assert_eq!(
            config.warnings,
            [
                "rules.toml: notify[0].token holds a secret in the rules file; prefer token_file or $CREDENTIALS_DIRECTORY/<name>",
                "rules.toml: notify[0].url is plain http:// to a host that is not this machine: the messages and any token cross the network in clear",
            ]
        );
        assert!(!format!("{config:?}").contains("AiOLxx"));
    }
}
