//! The rules file: TOML parsed straight into validated types.
//!
//! Two layers: `Raw*` structs mirror the file (serde, `deny_unknown_fields`, spans kept on every
//! value that is checked later), and `Config` holds only ready-to-use values (compiled globs,
//! sizes in bytes, a parsed cron schedule, a URL). Every problem is collected, not just the first,
//! and each one names the line, the column, the key and the value at fault.
//!
//! The layers live in their own files: `raw.rs` (the serde mirror of the file), `check.rs`
//! (validation into the types below), `schedule.rs`, `credentials.rs` (password and
//! credentials directory), `paths.rs` (default locations), and one file per section that grew
//! its own vocabulary: `account.rs`, `notify.rs`, `metrics.rs`, `blocklists.rs`, `expect.rs`, and
//! `lint.rs` for likely mistakes. This file holds the result types, loading and error rendering.
//!
//! This module (with `command.rs`) is the only code that reads the environment; the environment
//! is passed in as a function so tests never mutate the process environment.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use crate::rules::{
    Action, ByteSize, OnAllJunk, RuleName, RuleSet, RuleSpec, Share, compile_glob,
    compile_source_glob, regex_source,
};

mod account;
pub mod blocklists;
mod check;
mod credentials;
mod expect;
mod lint;
mod metrics;
mod notify;
mod oauth;
mod paths;
mod presets;
mod raw;
mod schedule;
mod unknown;

pub use account::{Account, DEFAULT_ACCOUNT, account_state_file};
pub use credentials::{
    CREDENTIAL_ID, PASSWORD_CREDENTIAL, PasswordError, REFRESH_TOKEN_CREDENTIAL, credential_file,
    resolve_password,
};
pub use expect::{load_expect_file, parse_expect_file};
pub use metrics::MetricsConfig;
pub use notify::{NotifierConfig, NotifyEvent, NotifyKind, NotifySecret, NotifyTarget};
pub use oauth::{
    CLIENT_SECRET_CREDENTIAL, ClientSecretError, DEFAULT_REDIRECT_PORT, OAuthSettings,
    TOKEN_CREDENTIAL, default_token_file, resolve_client_secret,
};
pub use paths::{default_config_path, default_state_file, default_state_file_for};
pub use schedule::Schedule;

use check::{Checker, is_loopback};
#[allow(
    clippy::wildcard_imports,
    reason = "the raw layer's types are this module's vocabulary"
)]
use raw::*;

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
    /// Sign in with a scoped OAuth token obtained by `login` (no password is then used).
    pub oauth: Option<OAuthSettings>,
    /// Extra trusted CA certificates (PEM), added to the system's.
    pub ca_file: Option<PathBuf>,
    /// Accept any TLS certificate (dangerous; needs `allow_insecure`).
    pub accept_invalid_certs: bool,
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
    pub blocklists: Vec<blocklists::BlocklistInfo>,
    /// `[[expect]]` tables: what the rules must decide (`check`).
    pub expectations: Vec<crate::expect::Expectation>,
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
    parse_with_blocklists(text, path, env, &blocklists::read_from_disk)
}

/// `parse`, with the lists' texts coming from `lists` (tests, and `check` with a list it just
/// fetched).
pub fn parse_with_blocklists(
    text: &str,
    path: &Path,
    env: EnvLookup<'_>,
    blocklists: blocklists::BlocklistLookup<'_>,
) -> Result<Config, ConfigError> {
    let invalid = |problems| ConfigError::Invalid {
        path: path.to_owned(),
        problems,
    };
    // Every unknown key at once, in file order, beside the problems of the values.
    let (raw, unknown) = unknown::parse::<RawConfig>(text);
    let mut unknown: Vec<Problem> = unknown
        .into_iter()
        .map(|key| locate(text, key.span, "", key.message))
        .collect();
    unknown.sort_by_key(|problem| (problem.line, problem.column));
    let raw = match raw {
        Ok(raw) => raw,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end_matches('.').to_owned();
            unknown.push(locate(text, span, "", message));
            return Err(invalid(unknown));
        }
    };
    let mut checker = Checker::new(text, path, blocklists);
    checker.problems.append(&mut unknown);
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
    for list in &checker.blocklist_infos {
        if let blocklists::BlocklistStatus::Loaded { skipped, .. } = &list.status {
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
            blocklists: checker.blocklist_infos,
            expectations,
        }),
        _ => Err(invalid(checker.problems)),
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

#[cfg(test)]
mod tests;
