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
//! its own vocabulary: `account.rs`, `notify.rs`, `metrics.rs`, `lists.rs`, `expect.rs`, and
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
mod check;
mod credentials;
mod expect;
mod lint;
pub mod lists;
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
    pub lists: Vec<lists::ListInfo>,
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
    let mut checker = Checker::new(text, path, lists);
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
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
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
