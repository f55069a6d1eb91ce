//! The rules file: TOML parsed straight into validated types.
//!
//! Two layers: `Raw*` structs mirror the file (serde, `deny_unknown_fields`, spans kept on every
//! value that is checked later), and `Config` holds only ready-to-use values (compiled globs,
//! sizes in bytes, a parsed cron schedule, a URL). Every problem is collected, not just the first,
//! and each one names the line, the column, the key and the value at fault.
//!
//! This module and `password` are the only code that reads the environment; the environment is
//! passed in as a function so tests never mutate the process environment.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;
use url::Url;

use crate::rules::{
    Action, ByteSize, OnAllJunk, RuleName, RuleSet, RuleSpec, Share, compile_glob,
    compile_source_glob, regex_source,
};

mod account;
mod expect;
mod lint;
pub mod lists;
mod metrics;
mod notify;

pub use account::{Account, DEFAULT_ACCOUNT, account_state_file};
pub use expect::{load_expect_file, parse_expect_file};
pub use metrics::MetricsConfig;
pub use notify::{NotifierConfig, NotifyEvent, NotifyKind, NotifySecret, NotifyTarget};

/// Where `--config` points when neither the flag nor `CLOUDREVE_AUTOSELECT_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/cloudreve-autoselect/rules.toml";
/// The default poll schedule: every 30 seconds.
pub const DEFAULT_SCHEDULE: &str = "*/30 * * * * *";
/// The environment variable that may hold the password.
pub const PASSWORD_ENV: &str = "CLOUDREVE_AUTOSELECT_PASSWORD";

/// A function that looks up an environment variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One problem in the rules file, located precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The TOML key at fault, e.g. `rule[2].max_size`; empty when unknown (syntax errors).
    pub key: String,
    /// The offending text as written in the file.
    pub value: String,
    /// What is wrong, and how to fix it.
    pub message: String,
    /// The whole source line, for display.
    pub source_line: String,
}

/// The rules file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("could not read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than any rules file should be (`MAX_CONFIG_BYTES`).
    #[error(
        "config file {path} is larger than {limit} bytes; is --config pointing at the rules file?"
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The file was read but is invalid; every problem is listed.
    #[error("{}", render_problems(path, problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
}

fn render_problems(path: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "invalid config file {}: {} problem{}",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for problem in problems {
        out.push('\n');
        out.push_str(&problem.render(path));
    }
    out
}

impl Problem {
    /// `file:line:column: key: message`, then the source line with a caret under the value.
    pub fn render(&self, path: &Path) -> String {
        let key = if self.key.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.key)
        };
        if self.source_line.is_empty() {
            // Nothing to point at (a lint about something missing, or the end of the file).
            return format!(
                "{}:{}:{}: {key}{}",
                path.display(),
                self.line,
                self.column,
                self.message
            );
        }
        let gutter = self.line.to_string().len();
        let width = self.value.chars().count().clamp(1, 80);
        format!(
            "{}:{}:{}: {key}{}\n{:gutter$} |\n{} | {}\n{:gutter$} | {}{}",
            path.display(),
            self.line,
            self.column,
            self.message,
            "",
            self.line,
            self.source_line,
            "",
            " ".repeat(self.column.saturating_sub(1)),
            "^".repeat(width),
        )
    }
}

/// Where the password comes from, as configured (resolved when the client is built).
#[derive(Debug, Clone)]
pub enum PasswordSetting {
    /// `server.password_file`.
    File(PathBuf),
    /// `server.password` (accepted with a warning).
    Inline(SecretString),
    /// Neither key: the environment or a credential (see [`credential_file`]) must provide it.
    FromEnvironment,
}

/// `[server]`: how to reach and sign in to Cloudreve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The base URL as configured, normalised to end with `/`.
    pub url: Url,
    /// The API base: `url` + `api/v4/`.
    pub api_base: Url,
    /// The account's email.
    pub email: String,
    /// Where the password comes from.
    pub password: PasswordSetting,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// How many times a failed idempotent request is retried.
    pub retries: u32,
    /// Sign in with this refresh token instead of a password (two-factor or captcha sites).
    pub refresh_token_file: Option<PathBuf>,
    /// Extra trusted CA certificates (PEM), added to the system's.
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate (dangerous; needs `allow_insecure`).
    pub accept_invalid_certs: bool,
}

/// A validated cron schedule (seconds first, evaluated in UTC).
#[derive(Debug, Clone)]
pub struct Schedule {
    pattern: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a schedule exactly as tokio-cron-scheduler's `Job::new_async` does.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Required)
            .dom_and_dow(true)
            .build()
            .parse(pattern)
            .map_err(|e| {
                let detail = e.to_string();
                let detail = detail.strip_prefix("Invalid pattern: ").unwrap_or(&detail);
                format!(
                    "invalid cron schedule: {}; the format is seconds-first with 6 or 7 fields, e.g. \"*/30 * * * * *\" (every 30 seconds), evaluated in UTC",
                    detail.trim_end_matches('.').to_lowercase()
                )
            })?;
        Ok(Self {
            pattern: pattern.to_owned(),
            cron,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// The next `n` fire times strictly after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        self.cron.clone().iter_after(after).take(n).collect()
    }

    /// The typical time between two fires: the shortest gap among the next few fires after
    /// `after` (a schedule such as "0 0 9,17 * * *" has uneven gaps; the shortest is what
    /// rate limits care about). One hour if the schedule never fires.
    pub fn interval(&self, after: DateTime<Utc>) -> Duration {
        self.next_runs(after, 6)
            .windows(2)
            .filter_map(|pair| match pair {
                [a, b] => (*b - *a).to_std().ok(),
                _ => None,
            })
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }

    /// The longest time between two fires among the next few after `after`: what a health
    /// check must allow. One hour if the schedule never fires.
    pub fn longest_gap(&self, after: DateTime<Utc>) -> Duration {
        self.next_runs(after, 8)
            .windows(2)
            .filter_map(|pair| match pair {
                [a, b] => (*b - *a).to_std().ok(),
                _ => None,
            })
            .max()
            .unwrap_or(Duration::from_secs(3600))
    }
}

/// `[daemon]`: when and how to run.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// When to poll.
    pub schedule: Schedule,
    /// Plan and log, but send nothing and change no state.
    pub dry_run: bool,
    /// Where the daemon remembers what it decided.
    pub state_file: PathBuf,
    /// How long to wait before looking again at a task still waiting for metadata (0 = never).
    pub metadata_recheck: Duration,
}

/// A validated rules file.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// The first account's server: `[server]`, or the first `[[account]]` without one.
    pub server: ServerConfig,
    /// Every account: the `[server]` table as `default`, then the `[[account]]` tables.
    pub accounts: Vec<Account>,
    /// `[daemon]`.
    pub daemon: DaemonConfig,
    /// `[[rule]]` tables, compiled.
    pub rules: RuleSet,
    /// `[[notify]]` tables.
    pub notify: Vec<NotifierConfig>,
    /// `[metrics]`, when it has a `listen` address.
    pub metrics: Option<MetricsConfig>,
    /// Things that work but deserve the operator's attention.
    pub warnings: Vec<String>,
    /// Rule-writing mistakes that are not errors (`check --lint`), located like problems.
    pub lints: Vec<Problem>,
    /// The shared lists of rules with `list_file` or `list_url`, and what became of them.
    pub lists: Vec<lists::ListInfo>,
    /// `[[expect]]` tables: what the rules must decide (`check`).
    pub expectations: Vec<crate::expect::Expectation>,
}

// ---------------------------------------------------------------------------------------------
// Raw layer.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    server: Option<Spanned<RawServer>>,
    #[serde(default, rename = "account")]
    accounts: Vec<Spanned<account::RawAccount>>,
    #[serde(default)]
    daemon: Option<RawDaemon>,
    #[serde(default)]
    safety: Option<RawSafety>,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RawRule>>,
    #[serde(default)]
    notify: Vec<Spanned<notify::RawNotify>>,
    #[serde(default)]
    metrics: Option<metrics::RawMetrics>,
    #[serde(default)]
    expect: Vec<Spanned<expect::RawExpect>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    url: Spanned<String>,
    email: Spanned<String>,
    password: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    refresh_token_file: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    retries: Option<Spanned<i64>>,
    ca_file: Option<Spanned<String>>,
    accept_invalid_certs: Option<Spanned<bool>>,
    allow_insecure: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    schedule: Option<Spanned<String>>,
    dry_run: Option<bool>,
    state_file: Option<Spanned<String>>,
    metadata_recheck: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    glob: Option<Spanned<GlobList>>,
    regex: Option<Spanned<GlobList>>,
    min_size: Option<Spanned<SizeLiteral>>,
    max_size: Option<Spanned<SizeLiteral>>,
    min_share: Option<Spanned<String>>,
    max_share: Option<Spanned<String>>,
    extensionless: Option<bool>,
    double_extension: Option<bool>,
    keep_largest: Option<Spanned<i64>>,
    task: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    case_sensitive: Option<bool>,
    list_file: Option<Spanned<String>>,
    list_url: Option<Spanned<String>>,
    refresh: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSafety {
    on_all_junk: Option<Spanned<String>>,
}

/// `glob = "x"` or `glob = ["x", "y"]`, keeping each element's span where TOML gives one.
struct GlobList(Vec<(String, Option<Range<usize>>)>);

impl<'de> Deserialize<'de> for GlobList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct GlobListVisitor;
        impl<'de> Visitor<'de> for GlobListVisitor {
            type Value = GlobList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a glob string or an array of glob strings")
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<GlobList, E> {
                Ok(GlobList(vec![(value.to_owned(), None)]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GlobList, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<String>>()? {
                    let span = item.span();
                    items.push((item.into_inner(), Some(span)));
                }
                Ok(GlobList(items))
            }
        }
        deserializer.deserialize_any(GlobListVisitor)
    }
}

/// A size as written: a string with a unit, or a bare integer (bytes).
#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "a size: a string such as \"5 MiB\" or an integer number of bytes"
)]
enum SizeLiteral {
    Bytes(i64),
    Text(String),
}

// ---------------------------------------------------------------------------------------------
// Loading and validation.

/// The largest rules file `load` reads: far beyond any real rules file, small enough that
/// `--config /dev/zero` or a log file named by mistake cannot exhaust memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Reads at most `MAX_CONFIG_BYTES` of a rules file as UTF-8.
fn read_capped(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let read_error = |source| ConfigError::Read {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigError::TooLarge {
            path: path.to_owned(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        ))
    })
}

/// Reads and validates a rules file.
pub fn load(path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    let text = read_capped(path)?;
    let mut config = parse(&text, path, env)?;
    if matches!(config.server.password, PasswordSetting::Inline(_)) {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(metadata) = std::fs::metadata(path) {
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                config.warnings.push(format!(
                    "{} holds server.password and is readable by group or others (mode {mode:04o}); run chmod 600 on it, or move the password to server.password_file",
                    path.display()
                ));
            }
        }
    }
    Ok(config)
}

/// Validates the text of a rules file; `path` names it in messages and locates relative
/// `list_file`s. Lists are read from disk (`list_url`s from their cache).
pub fn parse(text: &str, path: &Path, env: EnvLookup<'_>) -> Result<Config, ConfigError> {
    parse_with_lists(text, path, env, &lists::read_from_disk)
}

/// `parse`, with the lists' texts coming from `lists` (tests, and `check` with a list it just
/// fetched).
pub fn parse_with_lists(
    text: &str,
    path: &Path,
    env: EnvLookup<'_>,
    lists: lists::ListLookup<'_>,
) -> Result<Config, ConfigError> {
    let invalid = |problems| ConfigError::Invalid {
        path: path.to_owned(),
        problems,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end_matches('.').to_owned();
        invalid(vec![locate(text, span, "", message)])
    })?;
    let mut checker = Checker::new(text, path, lists);
    let daemon = checker.daemon(&raw.daemon.unwrap_or_default(), path, env);
    let default_state = daemon
        .as_ref()
        .map_or_else(|| default_state_file(env), |d| d.state_file.clone());
    checker.state_file.clone_from(&default_state);
    let accounts = checker.accounts(raw.server, raw.accounts, &default_state);
    let specs = checker.rules(&raw.rules);
    let rule_names: Vec<RuleName> = specs.iter().map(|spec| spec.name.clone()).collect();
    let expectations = checker.expectations(&raw.expect, &rule_names);
    let on_all_junk = checker.safety(raw.safety.as_ref());
    let mut warnings = Vec::new();
    for account in &accounts {
        let section = if account.name == DEFAULT_ACCOUNT {
            "server".to_owned()
        } else {
            format!("account \"{}\"", account.name)
        };
        if account.server.accept_invalid_certs {
            warnings.push(format!(
                "{}: {section}: accept_invalid_certs = true: TLS certificates are not checked; anyone between here and {} can read the credentials",
                path.display(),
                account.server.url
            ));
        }
        if matches!(account.server.password, PasswordSetting::Inline(_)) {
            warnings.push(format!(
                "{}: {section}: password holds the password in the rules file; prefer password_file, ${PASSWORD_ENV} or $CREDENTIALS_DIRECTORY/password",
                path.display()
            ));
        }
    }
    let notify = checker.notifiers(&raw.notify, &mut warnings, path);
    let metrics = checker.metrics(raw.metrics.as_ref());
    for list in &checker.list_infos {
        if let lists::ListStatus::Loaded { skipped, .. } = &list.status {
            for line in skipped {
                warnings.push(format!(
                    "rule {:?}: list {}: {line}; the line is skipped",
                    list.rule.as_str(),
                    list.source
                ));
            }
        }
    }
    let rules = match RuleSet::new(specs, on_all_junk) {
        Ok(rules) => Some(rules),
        Err(e) => {
            checker.problem(0..0, "rule", "", e.to_string());
            None
        }
    };
    match (accounts.first().map(|a| a.server.clone()), daemon, rules) {
        (Some(server), Some(daemon), Some(rules)) if checker.problems.is_empty() => Ok(Config {
            path: path.to_owned(),
            server,
            accounts,
            daemon,
            rules,
            notify,
            metrics,
            warnings,
            lints: checker.lints,
            lists: checker.list_infos,
            expectations,
        }),
        _ => Err(invalid(checker.problems)),
    }
}

/// Whether the URL's host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `text` with the password of every `scheme://user:password@` in it replaced by `***`, so that
/// no report repeats a password written into a URL. The password is taken to run to the last
/// `@` before a space or quote, since an unencoded password may itself hold `@`, `:` or `/`.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme_end + 3);
        out.push_str(head);
        let token_end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let (token, after) = tail.split_at(token_end);
        match (token.find(':'), token.rfind('@')) {
            (Some(colon), Some(at_sign)) if colon < at_sign => {
                let (user, _) = token.split_at(colon + 1);
                let (_, host) = token.split_at(at_sign);
                out.push_str(user);
                out.push_str("***");
                out.push_str(host);
            }
            _ => out.push_str(token),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Turns a byte span into a located problem.
fn locate(text: &str, span: Range<usize>, key: &str, message: String) -> Problem {
    let start = span.start.min(text.len());
    let end = span.end.clamp(start, text.len());
    let before = text.get(..start).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text.get(line_start..start).map_or(0, |s| s.chars().count()) + 1;
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let source_line = text
        .get(line_start..line_end)
        .unwrap_or("")
        .trim_end()
        .to_owned();
    let value = text
        .get(start..end.min(line_end.max(start)))
        .unwrap_or("")
        .to_owned();
    Problem {
        line,
        column,
        key: key.to_owned(),
        value: redact_userinfo(&value),
        message: if message.contains("://") {
            redact_userinfo(&message)
        } else {
            message
        },
        source_line: redact_userinfo(&source_line),
    }
}

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
    lints: Vec<Problem>,
    /// The rules file (messages, relative `list_file`s).
    path: &'a Path,
    /// Where fetched lists are cached beside.
    state_file: PathBuf,
    lists: lists::ListLookup<'a>,
    list_infos: Vec<lists::ListInfo>,
}

impl<'a> Checker<'a> {
    fn new(text: &'a str, path: &'a Path, lists: lists::ListLookup<'a>) -> Self {
        Self {
            text,
            problems: Vec::new(),
            lints: Vec::new(),
            path,
            state_file: PathBuf::from("cloudreve-autoselect-state.json"),
            lists,
            list_infos: Vec::new(),
        }
    }

    fn problem(&mut self, span: Range<usize>, key: &str, value: &str, message: String) {
        let message = if value.is_empty() {
            message
        } else {
            format!("{message} (got {:?})", redact_userinfo(value))
        };
        self.problems.push(locate(self.text, span, key, message));
    }

    fn duration(
        &mut self,
        raw: Option<&Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> Duration {
        let Some(raw) = raw else { return default };
        match humantime::parse_duration(raw.get_ref()) {
            Ok(duration) => duration,
            Err(e) => {
                self.problem(
                    raw.span(),
                    key,
                    raw.get_ref(),
                    format!("invalid duration: {e}; write e.g. \"30s\", \"2m\" or \"1h 30m\""),
                );
                default
            }
        }
    }

    fn server(&mut self, raw: Spanned<RawServer>) -> Option<ServerConfig> {
        let raw = raw.into_inner();
        let url = self.base_url(&raw.url);
        let email = raw.email.get_ref().trim().to_owned();
        if email.is_empty() || !email.contains('@') {
            self.problem(
                raw.email.span(),
                "server.email",
                raw.email.get_ref(),
                "not an email address; Cloudreve signs in by email".to_owned(),
            );
        }
        let password = self.password(&raw);
        let refresh_token_file =
            self.path(raw.refresh_token_file.as_ref(), "server.refresh_token_file");
        let ca_file = self.path(raw.ca_file.as_ref(), "server.ca_file");
        if let Some((parsed, _)) = &url {
            self.insecure_transport(&raw, parsed);
        }
        let timeout = self.duration(
            raw.timeout.as_ref(),
            "server.timeout",
            Duration::from_secs(30),
        );
        let connect_timeout = self.duration(
            raw.connect_timeout.as_ref(),
            "server.connect_timeout",
            Duration::from_secs(10),
        );
        for (value, raw_value, key) in [
            (timeout, &raw.timeout, "server.timeout"),
            (
                connect_timeout,
                &raw.connect_timeout,
                "server.connect_timeout",
            ),
        ] {
            if value.is_zero()
                && let Some(raw_value) = raw_value
            {
                self.problem(
                    raw_value.span(),
                    key,
                    raw_value.get_ref(),
                    format!(
                        "{} must be more than zero",
                        key.trim_start_matches("server.")
                    ),
                );
            }
        }
        let retries = match &raw.retries {
            None => 3,
            Some(r) => match u32::try_from(*r.get_ref()) {
                Ok(n) if n <= 10 => n,
                _ => {
                    self.problem(
                        r.span(),
                        "server.retries",
                        &r.get_ref().to_string(),
                        "retries must be between 0 and 10".to_owned(),
                    );
                    3
                }
            },
        };
        let (url, api_base) = url?;
        Some(ServerConfig {
            url,
            api_base,
            email,
            password: password?,
            timeout,
            connect_timeout,
            retries,
            refresh_token_file,
            ca_file,
            accept_invalid_certs: raw
                .accept_invalid_certs
                .as_ref()
                .is_some_and(|a| *a.get_ref()),
        })
    }

    /// A path-valued key; empty is a problem.
    fn path(&mut self, raw: Option<&Spanned<String>>, key: &str) -> Option<PathBuf> {
        let raw = raw?;
        if raw.get_ref().trim().is_empty() {
            self.problem(raw.span(), key, "", "empty path".to_owned());
            return None;
        }
        Some(PathBuf::from(raw.get_ref()))
    }

    /// Where the password comes from; at most one of the password keys and the refresh token.
    fn password(&mut self, raw: &RawServer) -> Option<PasswordSetting> {
        if let (Some(token), true) = (
            &raw.refresh_token_file,
            raw.password.is_some() || raw.password_file.is_some(),
        ) {
            self.problem(
                token.span(),
                "server.refresh_token_file",
                "",
                "set either a password or server.refresh_token_file, not both".to_owned(),
            );
        }
        match (&raw.password, &raw.password_file) {
            (Some(inline), Some(_)) => {
                self.problem(
                    inline.span(),
                    "server.password",
                    "",
                    "set either server.password or server.password_file, not both".to_owned(),
                );
                None
            }
            (Some(inline), None) if inline.get_ref().is_empty() => {
                self.problem(
                    inline.span(),
                    "server.password",
                    "",
                    "empty password".to_owned(),
                );
                None
            }
            (Some(inline), None) => Some(PasswordSetting::Inline(SecretString::from(
                inline.get_ref().clone(),
            ))),
            (None, Some(_)) => self
                .path(raw.password_file.as_ref(), "server.password_file")
                .map(PasswordSetting::File),
            (None, None) => Some(PasswordSetting::FromEnvironment),
        }
    }

    /// Credentials in clear or to an unverified server need `allow_insecure = true`.
    fn insecure_transport(&mut self, raw: &RawServer, url: &Url) {
        if raw.allow_insecure.unwrap_or(false) {
            return;
        }
        if url.scheme() == "http" && !is_loopback(url) {
            self.problem(
                raw.url.span(),
                "server.url",
                raw.url.get_ref(),
                "plain http:// to a host that is not this machine would send the password or token in clear; use https://, or set server.allow_insecure = true if this network is trusted".to_owned(),
            );
        }
        if let Some(flag) = raw.accept_invalid_certs.as_ref().filter(|a| *a.get_ref()) {
            self.problem(
                flag.span(),
                "server.accept_invalid_certs",
                "",
                "accepting any certificate lets whoever sits between here and the server read the password or token; prefer server.ca_file, or set server.allow_insecure = true as well".to_owned(),
            );
        }
    }

    fn base_url(&mut self, raw: &Spanned<String>) -> Option<(Url, Url)> {
        let text = raw.get_ref().trim();
        let parsed = match Url::parse(text) {
            Ok(url) => url,
            Err(e) => {
                self.problem(
                    raw.span(),
                    "server.url",
                    text,
                    format!("invalid URL: {e}; write e.g. \"https://cloud.example.com\""),
                );
                return None;
            }
        };
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "the URL must be http:// or https:// with a host".to_owned(),
            );
            return None;
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "the URL must not hold a user name or password: put the account in server.email and the password in server.password_file (or another password source)".to_owned(),
            );
            return None;
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "the URL must not have a query or fragment".to_owned(),
            );
            return None;
        }
        let mut base = parsed;
        let path = base.path().trim_end_matches('/').to_owned();
        if path.ends_with("/api/v4") {
            self.problem(
                raw.span(),
                "server.url",
                text,
                "give the site's base URL; the client appends /api/v4 itself".to_owned(),
            );
            return None;
        }
        base.set_path(&format!("{path}/"));
        match base.join("api/v4/") {
            Ok(api) => Some((base, api)),
            Err(e) => {
                self.problem(raw.span(), "server.url", text, format!("invalid URL: {e}"));
                None
            }
        }
    }

    fn daemon(
        &mut self,
        raw: &RawDaemon,
        config_path: &Path,
        env: EnvLookup<'_>,
    ) -> Option<DaemonConfig> {
        let schedule = match &raw.schedule {
            None => Schedule::parse(DEFAULT_SCHEDULE).ok(),
            Some(pattern) => match Schedule::parse(pattern.get_ref()) {
                Ok(schedule) => Some(schedule),
                Err(message) => {
                    self.problem(
                        pattern.span(),
                        "daemon.schedule",
                        pattern.get_ref(),
                        message,
                    );
                    None
                }
            },
        };
        let state_file = match &raw.state_file {
            Some(file) if file.get_ref().trim().is_empty() => {
                self.problem(
                    file.span(),
                    "daemon.state_file",
                    "",
                    "empty path".to_owned(),
                );
                PathBuf::new()
            }
            // A relative path is relative to the rules file, not to wherever a command runs.
            Some(file) => config_path
                .parent()
                .unwrap_or(Path::new(""))
                .join(file.get_ref()),
            None => default_state_file(env),
        };
        let metadata_recheck = self.duration(
            raw.metadata_recheck.as_ref(),
            "daemon.metadata_recheck",
            Duration::from_secs(5),
        );
        Some(DaemonConfig {
            schedule: schedule?,
            dry_run: raw.dry_run.unwrap_or(false),
            state_file,
            metadata_recheck,
        })
    }

    fn rules(&mut self, raw_rules: &[Spanned<RawRule>]) -> Vec<RuleSpec> {
        if raw_rules.is_empty() {
            self.lint(self.text.len()..self.text.len(), "rule", lint::NO_RULES);
        }
        let mut specs = Vec::with_capacity(raw_rules.len());
        let mut seen: Vec<(String, usize)> = Vec::new();
        let mut shapes: Vec<lint::RuleShape> = Vec::new();
        for (rule_idx, spanned) in raw_rules.iter().enumerate() {
            let raw = spanned.get_ref();
            let name = self.rule_name(rule_idx, spanned, &mut seen);
            let Some(spec) = self.rule(rule_idx, spanned.span(), raw) else {
                continue;
            };
            let Some(name) = name else { continue };
            let spec = match self.rule_list(rule_idx, raw, &name) {
                Some(list) => {
                    let inactive = list.info.is_unavailable();
                    self.list_infos.push(list.info);
                    RuleSpec {
                        from_list: true,
                        list_globs: list.globs,
                        list_folded: list.folded,
                        list_patterns: list.patterns,
                        list_regexes: list.regexes,
                        inactive,
                        ..spec
                    }
                }
                None => spec,
            };
            let shape = lint::RuleShape::of(rule_idx, name.as_str(), raw, &spec);
            if let Some(earlier) = shapes.iter().find(|earlier| earlier.shadows(&shape)) {
                let span = raw
                    .name
                    .as_ref()
                    .map_or_else(|| spanned.span(), Spanned::span);
                let message = format!(
                    "this rule never decides a file: rule[{}] ({:?}) comes first and matches every file it matches",
                    earlier.index, earlier.name
                );
                self.lint(span, &format!("rule[{rule_idx}]"), &message);
            }
            shapes.push(shape);
            specs.push(RuleSpec { name, ..spec });
        }
        specs
    }

    fn lint(&mut self, span: Range<usize>, key: &str, message: &str) {
        self.lints
            .push(locate(self.text, span, key, message.to_owned()));
    }

    fn rule_name(
        &mut self,
        rule_idx: usize,
        spanned: &Spanned<RawRule>,
        seen: &mut Vec<(String, usize)>,
    ) -> Option<RuleName> {
        let key = format!("rule[{rule_idx}].name");
        match &spanned.get_ref().name {
            None => {
                self.problem(
                    spanned.span(),
                    &format!("rule[{rule_idx}]"),
                    "",
                    "missing `name`; every rule needs a unique name".to_owned(),
                );
                None
            }
            Some(name) if name.get_ref().trim().is_empty() => {
                self.problem(name.span(), &key, "", "empty rule name".to_owned());
                None
            }
            Some(name) => {
                if let Some(&(_, first)) = seen
                    .iter()
                    .find(|(seen_name, _)| seen_name == name.get_ref())
                {
                    self.problem(
                        name.span(),
                        &key,
                        name.get_ref(),
                        format!("duplicate rule name; rule[{first}] already uses it"),
                    );
                } else {
                    seen.push((name.get_ref().clone(), rule_idx));
                }
                Some(RuleName::new(name.get_ref().clone()))
            }
        }
    }

    /// Validates one rule's conditions; its name is checked by `rule_name`.
    fn rule(
        &mut self,
        rule_idx: usize,
        rule_span: Range<usize>,
        raw: &RawRule,
    ) -> Option<RuleSpec> {
        let key = |field: &str| format!("rule[{rule_idx}].{field}");
        let problems_before = self.problems.len();
        let action = self.action(rule_idx, rule_span.clone(), raw.action.as_ref());
        let case_sensitive = raw.case_sensitive.unwrap_or(false);
        let globs = self.globs(rule_idx, raw.glob.as_ref(), case_sensitive);
        let regexes = self.regexes(rule_idx, raw.regex.as_ref(), case_sensitive);
        if let (Some(_), Some(regex)) = (&raw.glob, &raw.regex) {
            self.problem(
                regex.span(),
                &key("regex"),
                "",
                "a rule has either `glob` or `regex`, not both; split it into two rules".to_owned(),
            );
        }

        let min_size = self.size(raw.min_size.as_ref(), &key("min_size"));
        let max_size = self.size(raw.max_size.as_ref(), &key("max_size"));
        if let (Some(min), Some(max), Some(raw_max)) = (min_size, max_size, &raw.max_size)
            && min > max
        {
            self.problem(
                raw_max.span(),
                &key("max_size"),
                "",
                format!("max_size ({max}) is below min_size ({min}); no file could ever match"),
            );
        }
        let min_share = self.share(raw.min_share.as_ref(), &key("min_share"));
        let max_share = self.share(raw.max_share.as_ref(), &key("max_share"));
        if let (Some(min), Some(max), Some(raw_max)) = (min_share, max_share, &raw.max_share)
            && min > max
        {
            self.problem(
                raw_max.span(),
                &key("max_share"),
                "",
                format!("max_share ({max}) is below min_share ({min}); no file could ever match"),
            );
        }
        let keep_largest =
            self.keep_largest(raw.keep_largest.as_ref(), action, &key("keep_largest"));
        let has_condition = raw.glob.is_some()
            || raw.regex.is_some()
            || raw.list_file.is_some()
            || raw.list_url.is_some()
            || raw.min_size.is_some()
            || raw.max_size.is_some()
            || raw.min_share.is_some()
            || raw.max_share.is_some()
            || raw.extensionless.is_some()
            || raw.double_extension.is_some();
        if !has_condition {
            self.problem(
                rule_span,
                &format!("rule[{rule_idx}]"),
                "",
                "a rule needs at least one condition: `glob`, `regex`, `min_size`, `max_size`, `min_share`, `max_share`, `extensionless`, `double_extension`, `list_file` or `list_url`".to_owned(),
            );
        }
        let task = raw.task.as_ref().and_then(|task| {
            let glob = task.get_ref();
            if !glob.contains(['*', '?', '[', '{']) {
                self.lint(
                    task.span(),
                    &key("task"),
                    &format!("matches only a task named exactly {glob:?}; write \"*{glob}*\" to match names containing it"),
                );
            }
            if let Some(warning) = lint::bracket_warning(glob, case_sensitive) {
                self.lint(task.span(), &key("task"), &warning);
            }
            self.compiled(task, &key("task"), compile_glob(glob, case_sensitive))
        });
        let source = raw.source.as_ref().and_then(|source| {
            self.compiled(
                source,
                &key("source"),
                compile_source_glob(source.get_ref(), case_sensitive),
            )
        });
        (self.problems.len() == problems_before).then(|| RuleSpec {
            globs,
            regexes,
            min_size,
            max_size,
            min_share,
            max_share,
            extensionless: raw.extensionless,
            double_extension: raw.double_extension,
            keep_largest,
            task,
            source,
            ..RuleSpec::new("", action)
        })
    }

    fn action(
        &mut self,
        rule_idx: usize,
        rule_span: Range<usize>,
        raw: Option<&Spanned<String>>,
    ) -> Action {
        let Some(action) = raw else {
            self.problem(
                rule_span,
                &format!("rule[{rule_idx}]"),
                "",
                "missing `action`; write action = \"skip\", \"keep\" or \"only\"".to_owned(),
            );
            return Action::Skip;
        };
        match action.get_ref().as_str() {
            "skip" => Action::Skip,
            "keep" => Action::Keep,
            "only" => Action::Only,
            other => {
                self.problem(
                    action.span(),
                    &format!("rule[{rule_idx}].action"),
                    other,
                    "unknown action; expected \"skip\" (deselect), \"keep\" (select) or \"only\" (keep these, skip the rest of the task)".to_owned(),
                );
                Action::Skip
            }
        }
    }

    fn keep_largest(
        &mut self,
        raw: Option<&Spanned<i64>>,
        action: Action,
        key: &str,
    ) -> Option<usize> {
        let n = raw?;
        if action != Action::Skip {
            self.problem(
                n.span(),
                key,
                "",
                "keep_largest works with action = \"skip\": the rule keeps the N largest files it matches and skips the others".to_owned(),
            );
            return None;
        }
        match usize::try_from(*n.get_ref()) {
            Ok(count) if count >= 1 => Some(count),
            _ => {
                self.problem(
                    n.span(),
                    key,
                    &n.get_ref().to_string(),
                    "keep_largest must be 1 or more".to_owned(),
                );
                None
            }
        }
    }

    fn compiled(
        &mut self,
        raw: &Spanned<String>,
        key: &str,
        glob: Result<globset::Glob, globset::Error>,
    ) -> Option<globset::Glob> {
        glob.map_err(|e| {
            self.problem(
                raw.span(),
                key,
                raw.get_ref(),
                format!("invalid glob: {}", e.kind()),
            );
        })
        .ok()
    }

    /// Each element of a `glob` or `regex` list with its own key and span.
    fn list_items<'l>(
        &mut self,
        rule_idx: usize,
        field: &str,
        list: &'l Spanned<GlobList>,
    ) -> Vec<(String, Range<usize>, &'l str)> {
        let items = &list.get_ref().0;
        if items.is_empty() {
            self.problem(
                list.span(),
                &format!("rule[{rule_idx}].{field}"),
                "",
                format!("empty {field} list; remove the key or add a pattern"),
            );
        }
        let mut out = Vec::with_capacity(items.len());
        for (item_idx, (pattern, span)) in items.iter().enumerate() {
            let span = span.clone().unwrap_or_else(|| list.span());
            let key = if items.len() > 1 || span != list.span() {
                format!("rule[{rule_idx}].{field}[{item_idx}]")
            } else {
                format!("rule[{rule_idx}].{field}")
            };
            if pattern.is_empty() {
                self.problem(span, &key, "", format!("empty {field}"));
                continue;
            }
            out.push((key, span, pattern.as_str()));
        }
        out
    }

    fn globs(
        &mut self,
        rule_idx: usize,
        list: Option<&Spanned<GlobList>>,
        case_sensitive: bool,
    ) -> Vec<globset::Glob> {
        let Some(list) = list else { return Vec::new() };
        let mut globs = Vec::new();
        for (key, span, pattern) in self.list_items(rule_idx, "glob", list) {
            for warning in lint::glob_warnings(pattern, case_sensitive) {
                self.lint(span.clone(), &key, &warning);
            }
            match compile_glob(pattern, case_sensitive) {
                Ok(glob) => globs.push(glob),
                Err(e) => self.problem(span, &key, pattern, format!("invalid glob: {}", e.kind())),
            }
        }
        globs
    }

    fn regexes(
        &mut self,
        rule_idx: usize,
        list: Option<&Spanned<GlobList>>,
        case_sensitive: bool,
    ) -> Vec<String> {
        let Some(list) = list else { return Vec::new() };
        let mut regexes = Vec::new();
        for (key, span, pattern) in self.list_items(rule_idx, "regex", list) {
            let source = regex_source(pattern, case_sensitive);
            match regex::Regex::new(&source) {
                Ok(_) => regexes.push(source),
                Err(e) => {
                    let detail = e.to_string();
                    let detail = detail
                        .lines()
                        .last()
                        .unwrap_or(&detail)
                        .trim()
                        .trim_start_matches("error: ")
                        .to_owned();
                    self.problem(span, &key, pattern, format!("invalid regex: {detail}"));
                }
            }
        }
        regexes
    }

    fn share(&mut self, raw: Option<&Spanned<String>>, key: &str) -> Option<Share> {
        let raw = raw?;
        Share::parse(raw.get_ref())
            .map_err(|e| {
                self.problem(
                    raw.span(),
                    key,
                    raw.get_ref(),
                    format!("invalid share: {e}"),
                );
            })
            .ok()
    }

    fn safety(&mut self, raw: Option<&RawSafety>) -> OnAllJunk {
        let Some(value) = raw.and_then(|r| r.on_all_junk.as_ref()) else {
            return OnAllJunk::Leave;
        };
        match value.get_ref().as_str() {
            "leave" => OnAllJunk::Leave,
            "keep_largest" => OnAllJunk::KeepLargest,
            other => {
                self.problem(
                    value.span(),
                    "safety.on_all_junk",
                    other,
                    "expected \"leave\" (send nothing) or \"keep_largest\" (keep the largest file, skip the rest)".to_owned(),
                );
                OnAllJunk::Leave
            }
        }
    }

    fn size(&mut self, raw: Option<&Spanned<SizeLiteral>>, key: &str) -> Option<ByteSize> {
        let raw = raw?;
        let (parsed, shown) = match raw.get_ref() {
            SizeLiteral::Bytes(n) => (ByteSize::from_integer(*n), n.to_string()),
            SizeLiteral::Text(text) => (ByteSize::parse(text), text.clone()),
        };
        match parsed {
            Ok(size) => Some(size),
            Err(e) => {
                self.problem(raw.span(), key, &shown, format!("invalid size: {e}"));
                None
            }
        }
    }
}

/// The one state file of an installation, whichever command runs and from wherever:
/// `$STATE_DIRECTORY/state.json` under systemd; otherwise, for root,
/// `/var/lib/cloudreve-autoselect/state.json` (the file the systemd unit uses, through its
/// `StateDirectory`); for other users `$XDG_STATE_HOME/cloudreve-autoselect/state.json`
/// (default `~/.local/state/cloudreve-autoselect/state.json`).
pub fn default_state_file(env: EnvLookup<'_>) -> PathBuf {
    default_state_file_for(env, nix::unistd::geteuid().is_root())
}

/// [`default_state_file`] for a given user kind.
pub fn default_state_file_for(env: EnvLookup<'_>, root: bool) -> PathBuf {
    let first = |dirs: String| dirs.split(':').next().map(PathBuf::from);
    if let Some(dir) = env("STATE_DIRECTORY")
        .filter(|d| !d.is_empty())
        .and_then(first)
    {
        return dir.join("state.json");
    }
    if root {
        return PathBuf::from("/var/lib/cloudreve-autoselect/state.json");
    }
    let base = env("XDG_STATE_HOME")
        .filter(|d| d.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|home| Path::new(&home).join(".local/state"))
        })
        .unwrap_or_else(|| PathBuf::from("/var/tmp"));
    base.join("cloudreve-autoselect/state.json")
}

/// The config path: the flag, else `CLOUDREVE_AUTOSELECT_CONFIG` (clap handles both), else
/// `$CONFIGURATION_DIRECTORY/rules.toml` under systemd, else the default.
pub fn default_config_path(env: EnvLookup<'_>) -> PathBuf {
    match env("CONFIGURATION_DIRECTORY") {
        Some(dirs) if !dirs.is_empty() => {
            let first = dirs.split(':').next().unwrap_or(&dirs);
            Path::new(first).join("rules.toml")
        }
        _ => PathBuf::from(DEFAULT_CONFIG_PATH),
    }
}

// ---------------------------------------------------------------------------------------------
// Password resolution.

/// The password could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// A password file could not be read.
    #[error("could not read the password from {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A password file was empty.
    #[error("the password file {path} is empty")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// No source holds a password.
    #[error(
        "no password configured: set server.password_file, or ${PASSWORD_ENV}, or put a file `password` or `refresh-token` into $CREDENTIALS_DIRECTORY (systemd: /etc/credstore/cloudreve-autoselect/; Docker: a secret of that name)"
    )]
    Missing,
}

/// The id the systemd unit loads its credential directory under
/// (`LoadCredential=cloudreve-autoselect:/etc/credstore/cloudreve-autoselect`): each file of the
/// directory arrives as `$CREDENTIALS_DIRECTORY/cloudreve-autoselect_<file name>`.
pub const CREDENTIAL_ID: &str = "cloudreve-autoselect";
/// The credential holding the password.
pub const PASSWORD_CREDENTIAL: &str = "password";
/// The credential holding a refresh token (accounts with two-factor sign-in or a login captcha).
pub const REFRESH_TOKEN_CREDENTIAL: &str = "refresh-token";

/// The file of credential `name` in `$CREDENTIALS_DIRECTORY`, if there is one: `name` itself
/// (Docker secrets, `LoadCredential=name:FILE`) or `cloudreve-autoselect_name` (a systemd
/// directory credential).
pub fn credential_file(name: &str, env: EnvLookup<'_>) -> Option<PathBuf> {
    let dir = env("CREDENTIALS_DIRECTORY").filter(|v| !v.is_empty())?;
    let dir = Path::new(&dir);
    [dir.join(name), dir.join(format!("{CREDENTIAL_ID}_{name}"))]
        .into_iter()
        .find(|path| path.exists())
}

/// Finds the password, in this order: `server.password_file`, `server.password`,
/// `$CLOUDREVE_AUTOSELECT_PASSWORD`, the `password` credential (see [`credential_file`]).
pub fn resolve_password(
    setting: &PasswordSetting,
    env: EnvLookup<'_>,
) -> Result<SecretString, PasswordError> {
    match setting {
        PasswordSetting::File(path) => read_password_file(path),
        PasswordSetting::Inline(secret) => Ok(secret.clone()),
        PasswordSetting::FromEnvironment => {
            if let Some(value) = env(PASSWORD_ENV).filter(|v| !v.is_empty()) {
                return Ok(SecretString::from(value));
            }
            match credential_file(PASSWORD_CREDENTIAL, env) {
                Some(path) => read_password_file(&path),
                None => Err(PasswordError::Missing),
            }
        }
    }
}

fn read_password_file(path: &Path) -> Result<SecretString, PasswordError> {
    let mut text = std::fs::read_to_string(path).map_err(|source| PasswordError::Read {
        path: path.to_owned(),
        source,
    })?;
    // One trailing newline is what `echo` and editors add; it is not part of the password.
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.is_empty() {
        return Err(PasswordError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    const SERVER: &str =
        "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n";

    fn parse_ok(text: &str) -> Config {
        parse(text, Path::new("rules.toml"), &no_env).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("rules.toml"), &no_env)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let config = parse_ok(SERVER);
        assert_eq!(config.daemon.schedule.as_str(), DEFAULT_SCHEDULE);
        assert!(!config.daemon.dry_run);
        assert_eq!(config.daemon.state_file, default_state_file(&no_env));
        assert_eq!(
            config.server.api_base.as_str(),
            "https://cloud.example.com/api/v4/"
        );
        assert!(matches!(
            config.server.password,
            PasswordSetting::FromEnvironment
        ));
        assert_eq!(config.server.timeout, Duration::from_secs(30));
    }

    #[test]
    fn every_command_finds_the_same_state_file_wherever_it_runs() {
        let none = |_: &str| None;
        assert_eq!(
            default_state_file_for(&none, true),
            PathBuf::from("/var/lib/cloudreve-autoselect/state.json")
        );
        let home = |key: &str| (key == "HOME").then(|| "/home/ann".to_owned());
        assert_eq!(
            default_state_file_for(&home, false),
            PathBuf::from("/home/ann/.local/state/cloudreve-autoselect/state.json")
        );
        let xdg = |key: &str| match key {
            "HOME" => Some("/home/ann".to_owned()),
            "XDG_STATE_HOME" => Some("/data/state".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_state_file_for(&xdg, false),
            PathBuf::from("/data/state/cloudreve-autoselect/state.json")
        );
        // A relative state_file is relative to the rules file.
        let text = format!("{SERVER}\n[daemon]\nstate_file = \"data/state.json\"\n");
        let config = parse(&text, Path::new("/etc/cra/rules.toml"), &no_env).unwrap();
        assert_eq!(
            config.daemon.state_file,
            PathBuf::from("/etc/cra/data/state.json")
        );
    }

    #[test]
    fn state_file_defaults_to_state_directory() {
        let env = |key: &str| (key == "STATE_DIRECTORY").then(|| "/var/lib/cra".to_owned());
        let config = parse(SERVER, Path::new("r.toml"), &env).unwrap();
        assert_eq!(
            config.daemon.state_file,
            PathBuf::from("/var/lib/cra/state.json")
        );
    }

    #[test]
    fn sub_path_and_trailing_slashes_do_not_matter() {
        for url in [
            "https://host/cloud",
            "https://host/cloud/",
            "https://host/cloud//",
        ] {
            let text = SERVER.replace("https://cloud.example.com", url);
            assert_eq!(
                parse_ok(&text).server.api_base.as_str(),
                "https://host/cloud/api/v4/"
            );
        }
    }

    #[test]
    fn glob_string_or_array() {
        let config = parse_ok(&format!(
            "{SERVER}[[rule]]\nname = \"a\"\naction = \"skip\"\nglob = \"*.exe\"\n[[rule]]\nname = \"b\"\naction = \"keep\"\nglob = [\"*.srt\", \"**/Subs/*\"]\nmax_size = 1024\n"
        ));
        assert_eq!(config.rules.rules().len(), 2);
        assert_eq!(config.rules.glob_count(), 3);
        assert_eq!(config.rules.rules()[1].max_size(), Some(ByteSize(1024)));
    }

    #[test]
    fn inline_password_warns() {
        let config = parse_ok(&SERVER.replace("email", "password = \"hunter22\"\nemail"));
        assert_eq!(config.warnings.len(), 1);
        assert!(!config.warnings[0].contains("hunter22"));
        assert!(!format!("{config:?}").contains("hunter22"));
    }

    #[test]
    fn each_password_source_works_and_one_trailing_newline_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), "from-credentials\n").unwrap();
        let dir_str = dir.path().to_str().unwrap().to_owned();
        let creds = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| dir_str.clone());
        let secret = resolve_password(&PasswordSetting::FromEnvironment, &creds).unwrap();
        assert_eq!(secret.expose_secret(), "from-credentials");
        let env = |key: &str| (key == PASSWORD_ENV).then(|| "from-env".to_owned());
        assert_eq!(
            resolve_password(&PasswordSetting::FromEnvironment, &env)
                .unwrap()
                .expose_secret(),
            "from-env"
        );
        assert!(matches!(
            resolve_password(&PasswordSetting::FromEnvironment, &no_env),
            Err(PasswordError::Missing)
        ));
        let file = dir.path().join("pw");
        std::fs::write(&file, "\n").unwrap();
        assert!(matches!(
            resolve_password(&PasswordSetting::File(file), &no_env),
            Err(PasswordError::Empty { .. })
        ));
    }

    #[test]
    fn password_sources_are_tried_in_order_when_several_are_set() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("password"), "from-credentials\n").unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let dir_str = dir.path().to_str().unwrap().to_owned();
        let everything = move |key: &str| match key {
            PASSWORD_ENV => Some("from-env".to_owned()),
            "CREDENTIALS_DIRECTORY" => Some(dir_str.clone()),
            _ => None,
        };
        let resolved = |setting: &PasswordSetting| {
            resolve_password(setting, &everything)
                .unwrap()
                .expose_secret()
                .to_owned()
        };
        assert_eq!(resolved(&PasswordSetting::File(file)), "from-file");
        assert_eq!(
            resolved(&PasswordSetting::Inline(SecretString::from("inline"))),
            "inline"
        );
        assert_eq!(resolved(&PasswordSetting::FromEnvironment), "from-env");
        // And through parse: the configured keys decide which setting applies.
        let with_file = parse(
            &SERVER.replace("email", "password_file = \"/run/pw\"\nemail"),
            Path::new("rules.toml"),
            &everything,
        )
        .unwrap();
        assert!(
            matches!(with_file.server.password, PasswordSetting::File(ref p) if p == Path::new("/run/pw"))
        );
    }

    #[test]
    fn url_with_user_info_is_refused_without_echoing_the_password() {
        for url in [
            "https://bot:s3cret-pw@cloud.example.com",
            "https://bot:s3cret-pw@cloud.example.com/cloud/",
            "https://:s3cret-pw@cloud.example.com",
        ] {
            let text = SERVER.replace("https://cloud.example.com", url);
            let message = parse_err(&text);
            assert!(
                message.contains(
                    "rules.toml:2:7: server.url: the URL must not hold a user name or password"
                ),
                "{url}: {message}"
            );
            assert!(!message.contains("s3cret"), "{url}: {message}");
            assert!(message.contains(":***@"), "{url}: {message}");
        }
        // A password holding an unencoded `/` makes the URL unreadable; still no echo.
        let message = parse_err(&SERVER.replace("https://", "https://bot:s3cret/pw@x@"));
        assert!(message.contains("server.url: invalid URL"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
        let message = parse_err(&SERVER.replace("https://", "https://bot@"));
        assert!(message.contains("must not hold a user name"), "{message}");
        // A syntax error on the same line does not show the password either.
        let message = parse_err("[server]\nurl = \"https://bot:s3cret-pw@host\nemail = \"a@b\"\n");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn redaction_keeps_everything_but_the_password() {
        assert_eq!(
            redact_userinfo(r#"url = "https://bot:pw@host/x" # and ftp://a:b@c"#),
            r#"url = "https://bot:***@host/x" # and ftp://a:***@c"#
        );
        assert_eq!(
            redact_userinfo("https://host:8443/cloud/ and https://, or not"),
            "https://host:8443/cloud/ and https://, or not"
        );
    }

    #[test]
    fn connect_timeout_has_the_same_lower_bound_as_timeout() {
        for key in ["timeout", "connect_timeout"] {
            let message = parse_err(&format!("{SERVER}{key} = \"0s\"\n"));
            assert!(
                message.contains(&format!(
                    "rules.toml:4:{}: server.{key}: {key} must be more than zero (got \"0s\")",
                    key.len() + 4
                )),
                "{message}"
            );
        }
        let config = parse_ok(&format!("{SERVER}connect_timeout = \"1ms\"\n"));
        assert_eq!(config.server.connect_timeout, Duration::from_millis(1));
    }

    #[test]
    fn the_rules_file_is_read_with_a_size_cap() {
        let no_env = |_: &str| None;
        let error = load(Path::new("/dev/zero"), &no_env).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::TooLarge {
                    limit: MAX_CONFIG_BYTES,
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            "config file /dev/zero is larger than 1048576 bytes; is --config pointing at the rules file?"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.toml");
        let cap = usize::try_from(MAX_CONFIG_BYTES).unwrap();
        let mut text = format!("{SERVER}# ");
        text.push_str(&"x".repeat(cap - text.len() - 1));
        text.push('\n');
        std::fs::write(&path, &text).unwrap();
        assert!(load(&path, &no_env).is_ok(), "exactly the cap is accepted");
        text.insert(0, '\n');
        std::fs::write(&path, &text).unwrap();
        assert!(matches!(
            load(&path, &no_env),
            Err(ConfigError::TooLarge { .. })
        ));
        std::fs::write(&path, b"[server]\xff\n").unwrap();
        let error = load(&path, &no_env).unwrap_err().to_string();
        assert!(error.contains("not UTF-8 text"), "{error}");
    }

    #[test]
    fn lints_flag_a_bracketed_tag_and_a_file_without_rules() {
        let config = parse_ok(&format!(
            "{SERVER}[[rule]]\nname = \"a\"\naction = \"skip\"\ntask = \"[SubsPlease]*\"\nglob = \"*[1080p]*.mkv\"\n"
        ));
        let lints: Vec<String> = config
            .lints
            .iter()
            .map(|l| l.render(Path::new("rules.toml")))
            .collect();
        assert_eq!(lints.len(), 2, "{lints:#?}");
        assert!(
            lints[0].starts_with("rules.toml:8:8: rule[0].glob: [1080p] is a character class"),
            "{lints:#?}"
        );
        assert!(
            lints[1].starts_with("rules.toml:7:8: rule[0].task: [SubsPlease] is a character class"),
            "{lints:#?}"
        );
        assert!(lints[1].contains(r"write '\[SubsPlease\]*'"), "{lints:#?}");

        let config = parse_ok(SERVER);
        let lints: Vec<String> = config
            .lints
            .iter()
            .map(|l| l.render(Path::new("rules.toml")))
            .collect();
        assert_eq!(
            lints,
            [
                "rules.toml:4:1: rule: no [[rule]] tables: the daemon signs in and lists the downloads, but never changes a selection; add rules (rules.example.toml is a start)"
            ]
        );
    }

    #[test]
    fn credentials_with_and_without_the_directory_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let dir_str = dir.path().to_str().unwrap().to_owned();
        let creds = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| dir_str.clone());
        assert_eq!(credential_file(REFRESH_TOKEN_CREDENTIAL, &creds), None);
        assert_eq!(credential_file(PASSWORD_CREDENTIAL, &no_env), None);
        // A systemd directory credential: LoadCredential=cloudreve-autoselect:/etc/credstore/...
        let prefixed = dir.path().join("cloudreve-autoselect_refresh-token");
        std::fs::write(&prefixed, "token\n").unwrap();
        assert_eq!(
            credential_file(REFRESH_TOKEN_CREDENTIAL, &creds),
            Some(prefixed)
        );
        std::fs::write(
            dir.path().join("cloudreve-autoselect_password"),
            "prefixed\n",
        )
        .unwrap();
        assert_eq!(
            resolve_password(&PasswordSetting::FromEnvironment, &creds)
                .unwrap()
                .expose_secret(),
            "prefixed"
        );
        // A Docker secret (no prefix) is looked at first.
        std::fs::write(dir.path().join("password"), "plain\n").unwrap();
        assert_eq!(
            resolve_password(&PasswordSetting::FromEnvironment, &creds)
                .unwrap()
                .expose_secret(),
            "plain"
        );
        // Another unit's credential is not ours.
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("other_password"), "x\n").unwrap();
        let other_str = other.path().to_str().unwrap().to_owned();
        let other_env =
            move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| other_str.clone());
        assert!(matches!(
            resolve_password(&PasswordSetting::FromEnvironment, &other_env),
            Err(PasswordError::Missing)
        ));
    }

    #[test]
    fn next_runs_follow_the_schedule() {
        let schedule = Schedule::parse("*/30 * * * * *").unwrap();
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:10Z")
            .unwrap()
            .with_timezone(&Utc);
        let runs: Vec<String> = schedule
            .next_runs(start, 3)
            .iter()
            .map(chrono::DateTime::to_rfc3339)
            .collect();
        assert_eq!(
            runs,
            [
                "2026-01-01T00:00:30+00:00",
                "2026-01-01T00:01:00+00:00",
                "2026-01-01T00:01:30+00:00"
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let message = parse_err(&format!(
            "{SERVER}[daemon]\nschedule = \"*/5 * * * *\"\n[[rule]]\nname = \"a\"\naction = \"skip\"\nglob = [\"[abc\"]\n[[rule]]\nname = \"a\"\naction = \"skip\"\nmin_size = \"5 MiBs\"\n"
        ));
        assert!(
            message.starts_with("invalid config file rules.toml: 4 problems\n"),
            "{message}"
        );
        assert_eq!(message.matches("\nrules.toml:").count(), 4, "{message}");
        assert!(
            message.contains("rules.toml:5:12: daemon.schedule"),
            "{message}"
        );
        assert!(
            message.contains("rules.toml:9:9: rule[0].glob[0]: invalid glob"),
            "{message}"
        );
        assert!(
            message.contains("rule[1].name: duplicate rule name"),
            "{message}"
        );
        assert!(
            message.contains("rule[1].min_size: invalid size"),
            "{message}"
        );
    }
}
