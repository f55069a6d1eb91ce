//! The subcommands. Each returns what to print and how to exit; only `main` prints and exits.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::cli::{Cli, Command};
use crate::cloudreve::{BuildError, Client, ClientOptions, Credentials};
use crate::config::{self, Config, EnvLookup};
use crate::daemon::{self, Daemon, RunExit, RunOptions, Settings};
use crate::metrics::Metrics;
use crate::notify::{self, DeliveryOptions, Notifiers};
use crate::sink::TickSink;
use crate::state::StateStore;

mod forget;
pub mod oauth;
mod sources;

/// How the process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: success.
    Success,
    /// 1: the work failed (server unreachable, a PATCH failed, unhealthy).
    Failure,
    /// 78 (`EX_CONFIG`): the rules file or the password source is invalid.
    Config,
    /// 130: a second signal forced the exit during shutdown.
    Interrupted,
}

impl Exit {
    /// The numeric exit status.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failure => 1,
            Self::Config => 78,
            Self::Interrupted => 130,
        }
    }
}

/// What a command produced.
#[derive(Debug)]
pub struct Outcome {
    /// How to exit.
    pub exit: Exit,
    /// For stdout.
    pub stdout: String,
    /// For stderr (errors that end the command).
    pub stderr: String,
}

impl Outcome {
    fn success(stdout: String) -> Self {
        Self {
            exit: Exit::Success,
            stdout,
            stderr: String::new(),
        }
    }

    fn failure(exit: Exit, stderr: String) -> Self {
        Self {
            exit,
            stdout: String::new(),
            stderr,
        }
    }
}

/// The environment of the process, read-only.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Runs the command the command line names.
pub async fn execute(cli: Cli, env: EnvLookup<'_>) -> Outcome {
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| config::default_config_path(env));
    match cli.command {
        Command::Check { lint, expect } => check(&config_path, lint, expect.as_deref(), env).await,
        Command::Explain {
            task_json: Some(file),
            torrent: None,
            ..
        } => explain_task_json(&file, &config_path, env),
        // `--task-json` without `--torrent` was taken above.
        Command::Explain {
            task_id,
            torrent,
            account,
            ..
        } => match load(&config_path, env) {
            Ok(config) => match (task_id, torrent) {
                (_, Some(file)) => explain_torrent(&file, &config),
                (Some(id), None) => explain_live(&config, account.as_deref(), &id, env).await,
                (None, None) => Outcome::failure(
                    Exit::Failure,
                    "error: give a TASK_ID or --task-json FILE".to_owned(),
                ),
            },
            Err(outcome) => outcome,
        },
        Command::Once { dry_run } => once(&config_path, dry_run, env).await,
        Command::Run { dry_run } => run(&config_path, dry_run, env).await,
        Command::Demo => {
            let mut outcome = demo().await;
            if let Some(given) = &cli.config {
                let note = format!(
                    "note: demo ignores the config {}: it runs its own emulated Cloudreve with the built-in rules.example.toml",
                    given.display()
                );
                outcome.stderr = [note, outcome.stderr].join("\n");
            }
            outcome
        }
        Command::Stats { json } => stats(&config_path, json, env),
        Command::NotifyTest => notify_test(&config_path, env).await,
        Command::Healthcheck { max_age } => healthcheck(&config_path, max_age, env),
        Command::Login {
            account,
            open,
            code,
        } => crate::login::command(&config_path, account.as_deref(), open, code, env).await,
        Command::Forget { task_id, account } => {
            forget::forget(&config_path, &task_id, account.as_deref(), env)
        }
    }
}

pub(crate) fn load(path: &std::path::Path, env: EnvLookup<'_>) -> Result<Config, Outcome> {
    match config::load(path, env) {
        Ok(config) => {
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            Ok(config)
        }
        Err(e) => Err(Outcome::failure(Exit::Config, format!("error: {e}"))),
    }
}

async fn check(
    path: &std::path::Path,
    strict: bool,
    expect_file: Option<&std::path::Path>,
    env: EnvLookup<'_>,
) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    // What the service reads at its start besides this file: a problem there is its exit 78.
    if let Some(outcome) = sources::check(&config, env) {
        return outcome;
    }
    let (config, list_lines, list_warnings, list_errors) =
        match check_lists(config, path, env).await {
            Ok(checked) => checked,
            Err(outcome) => return outcome,
        };
    let mut expectations = config.expectations.clone();
    if let Some(file) = expect_file {
        match config::load_expect_file(file, &config.rules) {
            Ok(more) => expectations.extend(more),
            Err(e) => return Outcome::failure(Exit::Config, format!("error: {e}")),
        }
    }
    let report = crate::expect::evaluate(&expectations, &config.rules);
    let mut warnings = String::new();
    for lint in &config.lints {
        let _ = writeln!(warnings, "warning: {}", lint.render(path));
    }
    let runs: Vec<String> = config
        .daemon
        .schedule
        .next_runs(chrono::Utc::now(), 3)
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .collect();
    let mut out = format!(
        "ok: {}: {} rules, {} globs; schedule \"{}\" (UTC), next runs {}; server {}",
        path.display(),
        config.rules.rules().len(),
        config.rules.glob_count(),
        config.daemon.schedule.as_str(),
        runs.join(", "),
        config.server.api_base,
    );
    let _ = write!(out, "; state file {}", config.daemon.state_file.display());
    if config.accounts.len() > 1
        || config
            .accounts
            .iter()
            .any(|a| a.name != config::DEFAULT_ACCOUNT)
    {
        let accounts: Vec<String> = config
            .accounts
            .iter()
            .map(|a| {
                format!(
                    "{} ({} as {}{}, state {})",
                    a.name,
                    a.server.url,
                    a.server.email,
                    if a.dry_run { ", dry run" } else { "" },
                    a.state_file.display()
                )
            })
            .collect();
        let _ = write!(out, "; accounts: {}", accounts.join(", "));
    }
    oauth::describe_credentials(&config, env, &mut out, &mut warnings);
    if !config.notify.is_empty() {
        let names: Vec<&str> = config.notify.iter().map(|n| n.name.as_str()).collect();
        let _ = write!(out, "; notifiers {}", names.join(", "));
    }
    if let Some(metrics) = &config.metrics {
        let _ = write!(out, "; metrics on http://{}/metrics", metrics.listen);
    }
    if config.daemon.dry_run {
        out.push_str("; dry run");
    }
    if !config.lints.is_empty() {
        let _ = write!(out, "; {} warning(s)", config.lints.len());
    }
    out.push('\n');
    out.push_str(&crate::rules::preset::listing(config.rules.rules()));
    out.push_str(&list_lines);
    if !expectations.is_empty() {
        out.push_str(&report.render());
    }
    warnings.push_str(&list_warnings);
    warnings.push_str(&list_errors);
    let exit = if (strict && !config.lints.is_empty())
        || !report.failures.is_empty()
        || !list_errors.is_empty()
    {
        Exit::Failure
    } else {
        Exit::Success
    };
    Outcome {
        exit,
        stdout: out,
        stderr: warnings,
    }
}

/// For `check`: a line per shared list, a warning per skipped line of a fetched list, and an
/// error per list that is not available. A
/// `list_url` that was never fetched is fetched now (not kept: the daemon keeps its own copy),
/// and the rules are read again with it so that the expectations see it.
async fn check_lists(
    config: Config,
    path: &std::path::Path,
    env: EnvLookup<'_>,
) -> Result<(Config, String, String, String), Outcome> {
    use crate::config::lists::{ListSource, ListStatus};
    let missing: Vec<url::Url> = config
        .lists
        .iter()
        .filter_map(|list| match (&list.source, &list.status) {
            (ListSource::Url { url, cache, .. }, ListStatus::Unavailable(_)) if !cache.exists() => {
                Some(url.clone())
            }
            _ => None,
        })
        .collect();
    let (config, fetched, mut errors) = fetch_in_memory(config, path, env, missing).await?;
    let mut lines = String::new();
    let mut warnings = String::new();
    for list in &config.lists {
        let fetched_now =
            matches!(&list.source, ListSource::Url { url, .. } if fetched.contains(url));
        match &list.status {
            ListStatus::Loaded { patterns, skipped } => {
                let _ = write!(
                    lines,
                    "list of rule {:?}: {patterns} pattern(s) from {}",
                    list.rule.as_str(),
                    list.source
                );
                if fetched_now {
                    lines.push_str(" (fetched now; the daemon fetches and keeps its own copy)");
                }
                if !skipped.is_empty() {
                    let _ = write!(lines, "; {} line(s) skipped", skipped.len());
                }
                lines.push('\n');
                for line in skipped {
                    let _ = writeln!(
                        warnings,
                        "warning: list {}: {line}; the line is skipped",
                        list.source
                    );
                }
            }
            ListStatus::Unavailable(reason) => {
                if !errors.contains(&list.source.to_string()) {
                    let _ = writeln!(
                        errors,
                        "error: rule {:?} is inactive: list {}: {reason}",
                        list.rule.as_str(),
                        list.source
                    );
                }
            }
        }
    }
    Ok((config, lines, warnings, errors))
}

/// Fetches `urls` without keeping them and reads the rules again with them: the config, the
/// URLs fetched, and an error line per URL that could not be fetched.
async fn fetch_in_memory(
    config: Config,
    path: &std::path::Path,
    env: EnvLookup<'_>,
    urls: Vec<url::Url>,
) -> Result<(Config, Vec<url::Url>, String), Outcome> {
    use crate::config::lists::ListSource;
    let mut fetched: Vec<(url::Url, String)> = Vec::new();
    let mut errors = String::new();
    if !urls.is_empty() {
        match crate::list_fetch::downloader(&config) {
            Ok(downloader) => {
                for url in urls {
                    match crate::list_fetch::fetch(&downloader, &url).await {
                        Ok(text) => fetched.push((url, text)),
                        Err(e) => {
                            let copy = config.lists.iter().find_map(|list| match &list.source {
                                ListSource::Url { url: u, cache, .. } if *u == url => {
                                    cache.exists().then_some(cache)
                                }
                                _ => None,
                            });
                            let _ = match copy {
                                Some(cache) => writeln!(
                                    errors,
                                    "error: list {}: fetching it now failed, so the copy at {} stays in force: {e}",
                                    crate::cloudreve::redacted(&url),
                                    cache.display()
                                ),
                                None => writeln!(
                                    errors,
                                    "error: list {}: never fetched, and fetching it now failed: {e}",
                                    crate::cloudreve::redacted(&url)
                                ),
                            };
                        }
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(errors, "error: cannot fetch shared lists: {e}");
            }
        }
    }
    if fetched.is_empty() {
        return Ok((config, Vec::new(), errors));
    }
    let lookup = |source: &ListSource| match source {
        ListSource::Url { url, .. } => fetched.iter().find(|(u, _)| u == url).map_or_else(
            || config::lists::read_from_disk(source),
            |(_, text)| Ok(text.clone()),
        ),
        ListSource::File(_) => config::lists::read_from_disk(source),
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        Outcome::failure(
            Exit::Config,
            format!("error: could not read {}: {e}", path.display()),
        )
    })?;
    let config = config::parse_with_lists(&text, path, env, &lookup)
        .map_err(|e| Outcome::failure(Exit::Config, format!("error: {e}")))?;
    Ok((
        config,
        fetched.into_iter().map(|(url, _)| url).collect(),
        errors,
    ))
}

/// For `once`: the lists a running daemon would fetch now (no copy, or an old one) are fetched
/// first, and kept as the daemon keeps them; in a dry run they are only held in memory.
async fn once_lists(
    config: Config,
    path: &std::path::Path,
    env: EnvLookup<'_>,
    dry_run: bool,
) -> Result<Config, Outcome> {
    let due: Vec<crate::list_fetch::UrlList> = crate::list_fetch::url_lists(&config)
        .into_iter()
        .filter(crate::list_fetch::is_due)
        .collect();
    if due.is_empty() {
        return Ok(config);
    }
    if dry_run {
        let urls = due.into_iter().map(|list| list.url).collect();
        let (config, _, errors) = fetch_in_memory(config, path, env, urls).await?;
        for line in errors.lines() {
            tracing::warn!("{}", line.trim_start_matches("error: "));
        }
        return Ok(config);
    }
    let downloader = match crate::list_fetch::downloader(&config) {
        Ok(downloader) => downloader,
        Err(e) => {
            tracing::error!(error = %e, "cannot fetch shared lists");
            return Ok(config);
        }
    };
    let mut updated = false;
    for list in &due {
        match crate::list_fetch::refresh(&downloader, list).await {
            Ok(refreshed) => updated |= refreshed == crate::list_fetch::Refreshed::Updated,
            Err(e) => {
                tracing::warn!(rule = %list.rule, error = %e, "could not fetch a shared list");
            }
        }
    }
    if !updated {
        return Ok(config);
    }
    load(path, env)
}

/// `explain --task-json`: the rules file is loaded while the task file is read and decoded
/// (see [`crate::explain::explain_file`]); the tables go to stdout (about as long as the JSON,
/// which may be tens of megabytes), not into the outcome.
fn explain_task_json(
    file: &std::path::Path,
    config_path: &std::path::Path,
    env: EnvLookup<'_>,
) -> Outcome {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let load_rules = || load(config_path, env).map(|config| config.rules);
    match crate::explain::explain_file(file, load_rules, &mut out) {
        Ok(Ok(())) => Outcome::success(String::new()),
        // A reader that went away (`| head`) wanted no more.
        Ok(Err(crate::explain::ExplainError::Write { source }))
            if source.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Outcome::success(String::new())
        }
        Ok(Err(e)) => Outcome::failure(Exit::Failure, format!("error: {e}")),
        Err(config_failure) => config_failure,
    }
}

fn explain_torrent(file: &std::path::Path, config: &Config) -> Outcome {
    use std::io::Read as _;
    let read = std::fs::File::open(file).and_then(|f| {
        let mut bytes = Vec::new();
        f.take(crate::torrent::MAX_TORRENT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map(|_| bytes)
    });
    let bytes = match read {
        Ok(bytes) if bytes.len() > crate::torrent::MAX_TORRENT_BYTES => {
            return Outcome::failure(
                Exit::Failure,
                format!("error: {} is larger than any torrent file", file.display()),
            );
        }
        Ok(bytes) => bytes,
        Err(e) => {
            return Outcome::failure(
                Exit::Failure,
                format!("error: could not read {}: {e}", file.display()),
            );
        }
    };
    match crate::torrent::parse(&bytes) {
        Ok(torrent) => Outcome::success(crate::torrent::explain(&torrent, &config.rules)),
        Err(e) => Outcome::failure(Exit::Failure, format!("error: {}: {e}", file.display())),
    }
}

async fn explain_live(
    config: &Config,
    account: Option<&str>,
    task_id: &str,
    env: EnvLookup<'_>,
) -> Outcome {
    let chosen = match account {
        None => config.accounts.first(),
        Some(name) => config.accounts.iter().find(|a| a.name == name),
    };
    let Some(account) = chosen else {
        let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
        return Outcome::failure(
            Exit::Failure,
            format!(
                "error: no account {:?}; the accounts are {}",
                account.unwrap_or_default(),
                names.join(", ")
            ),
        );
    };
    let options = match account_client_options(account, env) {
        Ok(options) => options,
        Err(e) => return Outcome::failure(Exit::Config, format!("error: {e}")),
    };
    let client = match Client::new(options) {
        Ok(client) => client,
        Err(e) => return build_failure(&e, account),
    };
    let tasks = match client.list_downloading().await {
        Ok(list) => list.tasks,
        Err(e) => return Outcome::failure(Exit::Failure, format!("error: {e}")),
    };
    let Some(task) = tasks.iter().find(|t| t.id.as_str() == task_id) else {
        return Outcome::failure(
            Exit::Failure,
            format!(
                "error: task {task_id} is not among the {} ongoing downloads of {}",
                tasks.len(),
                account.server.email
            ),
        );
    };
    // Show what the daemon already decided, read from its state file without changing it.
    let (decided, unknown, stderr) = match StateStore::read_only(&account.state_file) {
        Ok(state) => (
            state.decided(&task.id),
            state.outcome_unknown(&task.id),
            String::new(),
        ),
        Err(e) => (
            crate::plan::Decided::new(),
            Vec::new(),
            format!(
                "warning: {e}\nwarning: the table below does not know what the daemon decided before for this task"
            ),
        ),
    };
    let mut stdout = String::new();
    crate::plan::plan(task, &config.rules, &decided).render_explained_into(&mut stdout);
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(u64::to_string).collect();
        let _ = writeln!(
            stdout,
            "sent, outcome unknown: file(s) {} (the PATCH got no clear answer; they are not the user's choice: check them in Cloudreve's web UI, or run `forget {}` to judge them again)",
            list.join(", "),
            task.id
        );
    }
    Outcome {
        exit: Exit::Success,
        stdout,
        stderr,
    }
}

/// The client could not be set up from the config.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No usable password.
    #[error(transparent)]
    Password(#[from] config::PasswordError),
    /// A named account has no credential.
    #[error(
        "no password or refresh token for account {account}: set password_file or refresh_token_file in its [[account]] table, or put {account}.password or {account}.refresh-token into $CREDENTIALS_DIRECTORY"
    )]
    AccountCredentials {
        /// The account.
        account: String,
    },
    /// A file named in the config could not be read.
    #[error("could not read {key} {path}: {source}")]
    Read {
        /// The config key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The OAuth token store is missing or unreadable.
    #[error(transparent)]
    OAuthStore(#[from] crate::cloudreve::StoreError),
    /// The OAuth token store is not this account's.
    #[error(
        "the OAuth token store {path} {what}; run `cloudreve-autoselect login --account {account}`"
    )]
    OAuthMismatch {
        /// The store.
        path: PathBuf,
        /// What differs.
        what: String,
        /// The account.
        account: String,
    },
    /// The refresh-token file is empty.
    #[error(
        "server.refresh_token_file {path} is empty; paste the refresh token from the browser's local storage into it"
    )]
    EmptyToken {
        /// The file.
        path: PathBuf,
    },
}

/// Where the rotated refresh tokens are kept: beside the state file, mode 0600.
pub fn refresh_token_store(state_file: &std::path::Path) -> PathBuf {
    let mut name = state_file.as_os_str().to_owned();
    name.push(".refresh-token");
    PathBuf::from(name)
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The refresh token to start from: the newest of the configured file and the kept rotation.
fn initial_refresh_token(
    configured: &std::path::Path,
    store: &std::path::Path,
) -> Result<SecretString, SetupError> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|source| SetupError::Read {
            key: "server.refresh_token_file",
            path: path.to_owned(),
            source,
        })
    };
    let use_store = matches!((modified(store), modified(configured)), (Some(kept), Some(given)) if kept >= given)
        || (store.exists() && !configured.exists());
    let text = if use_store {
        read_kept_token(store)?
    } else {
        read(configured)?
    };
    let token = text.trim();
    if token.is_empty() {
        return Err(SetupError::EmptyToken {
            path: configured.to_owned(),
        });
    }
    Ok(SecretString::from(token.to_owned()))
}

/// The refresh token the daemon kept: its own file, so never through a link, and small.
fn read_kept_token(path: &std::path::Path) -> Result<String, SetupError> {
    crate::durable::read_capped(path, 64 * 1024)
        .and_then(|bytes| {
            String::from_utf8(bytes)
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
        })
        .map_err(|source| SetupError::Read {
            key: "server.refresh_token_file",
            path: path.to_owned(),
            source,
        })
}

/// Sign-in from a `refresh-token` credential (systemd `LoadCredential=`, a Docker secret).
///
/// systemd copies a credential afresh at every start, so its modification time says nothing
/// about its age and [`initial_refresh_token`]'s comparison cannot work. Instead the rotated
/// tokens are kept under a name derived from the delivered token: a restart with the same
/// credential continues from the newest rotation, and a new credential starts afresh.
fn delivered_refresh_token(
    file: &std::path::Path,
    state_file: &std::path::Path,
) -> Result<Credentials, SetupError> {
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .map_err(|source| SetupError::Read {
                key: "refresh-token credential",
                path: path.to_owned(),
                source,
            })
    };
    let delivered = read(file)?;
    if delivered.is_empty() {
        return Err(SetupError::EmptyToken {
            path: file.to_owned(),
        });
    }
    let mut store = refresh_token_store(state_file).into_os_string();
    store.push(format!("-{:016x}", fingerprint(&delivered)));
    let store = PathBuf::from(store);
    let token = match read_kept_token(&store) {
        Ok(kept) if !kept.trim().is_empty() => kept.trim().to_owned(),
        _ => delivered,
    };
    // Name the file the operator edits rather than systemd's private copy.
    let prefix = format!("{}_", config::CREDENTIAL_ID);
    let name = file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let source_file = match name.strip_prefix(&prefix) {
        Some(credential) => PathBuf::from(format!(
            "/etc/credstore/{}/{credential} (the unit's LoadCredential= directory; delivered as {})",
            config::CREDENTIAL_ID,
            file.display()
        )),
        None => file.to_owned(),
    };
    Ok(Credentials::RefreshToken {
        token: SecretString::from(token),
        store: Some(store),
        source_file,
    })
}

/// FNV-1a, 64 bits: a stable name for a token (not a secret-keeping hash; the store it names
/// holds a live token anyway and is readable only by the daemon's user).
fn fingerprint(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Client options from a config for its first account: credentials, CA certificates, timeouts.
pub fn client_options(config: &Config, env: EnvLookup<'_>) -> Result<ClientOptions, SetupError> {
    match config.accounts.first() {
        Some(account) => account_client_options(account, env),
        None => Err(SetupError::Password(config::PasswordError::Missing)),
    }
}

/// The credentials of a named (non-default) account whose table sets no password: its own
/// credentials `<name>.password`, else `<name>.refresh-token`, found as every credential is
/// ([`config::credential_file`]: a Docker secret, or a systemd directory credential with its
/// `<id>_` prefix).
fn named_account_credentials(
    account: &config::Account,
    env: EnvLookup<'_>,
) -> Result<Option<Credentials>, SetupError> {
    if let Some(password) = config::credential_file(&format!("{}.password", account.name), env) {
        let setting = config::PasswordSetting::File(password);
        return Ok(Some(Credentials::Password(config::resolve_password(
            &setting, env,
        )?)));
    }
    match config::credential_file(&format!("{}.refresh-token", account.name), env) {
        Some(token) => delivered_refresh_token(&token, &account.state_file).map(Some),
        None => Ok(None),
    }
}

/// Client options for one account: credentials, CA certificates, timeouts.
pub fn account_client_options(
    account: &config::Account,
    env: EnvLookup<'_>,
) -> Result<ClientOptions, SetupError> {
    let server = &account.server;
    let named = account.name != config::DEFAULT_ACCOUNT;
    let credentials = match &server.refresh_token_file {
        // An OAuth account uses its token only, never a password found in the environment.
        _ if server.oauth.is_some() => oauth::credentials_of(account, env)?,
        Some(file) => {
            let store = refresh_token_store(&account.state_file);
            Credentials::RefreshToken {
                token: initial_refresh_token(file, &store)?,
                store: Some(store),
                source_file: file.clone(),
            }
        }
        None if named && matches!(server.password, config::PasswordSetting::FromEnvironment) => {
            named_account_credentials(account, env)?.ok_or_else(|| {
                SetupError::AccountCredentials {
                    account: account.name.clone(),
                }
            })?
        }
        // A password from any source wins over a `refresh-token` credential.
        None => match config::resolve_password(&server.password, env) {
            Ok(password) => Credentials::Password(password),
            Err(config::PasswordError::Missing) => {
                match config::credential_file(config::REFRESH_TOKEN_CREDENTIAL, env) {
                    Some(file) => delivered_refresh_token(&file, &account.state_file)?,
                    None => return Err(config::PasswordError::Missing.into()),
                }
            }
            Err(e) => return Err(e.into()),
        },
    };
    let mut options = connection_options(account)?;
    options.credentials = credentials;
    options.credential_source = sources::password_source(account, env);
    Ok(options)
}

/// Client options for one account without its credentials: CA certificates, timeouts.
pub fn connection_options(account: &config::Account) -> Result<ClientOptions, SetupError> {
    let server = &account.server;
    let mut options = ClientOptions::new(
        server.api_base.clone(),
        server.email.clone(),
        SecretString::from(String::new()),
    );
    if let Some(ca_file) = &server.ca_file {
        options.extra_roots_pem = std::fs::read(ca_file).map_err(|source| SetupError::Read {
            key: "server.ca_file",
            path: ca_file.clone(),
            source,
        })?;
    }
    options.accept_invalid_certs = server.accept_invalid_certs;
    options.timeout = server.timeout;
    options.connect_timeout = server.connect_timeout;
    options.retries = server.retries;
    Ok(options)
}

/// A CA file without certificates is a config problem (78); anything else is a failure.
fn build_failure(error: &BuildError, account: &config::Account) -> Outcome {
    let exit = match error {
        BuildError::CaFile(_) => Exit::Config,
        BuildError::Http(_) => Exit::Failure,
    };
    Outcome::failure(exit, format!("error: {}", build_error_text(error, account)))
}

/// A client build error, naming the account's CA file when it is the culprit.
fn build_error_text(error: &BuildError, account: &config::Account) -> String {
    match (error, &account.server.ca_file) {
        (BuildError::CaFile(detail), Some(path)) => format!(
            "server.ca_file {} holds no usable PEM certificate: {detail}",
            path.display()
        ),
        _ => error.to_string(),
    }
}

/// A notifier's secret is a config problem (78); the HTTP client a failure.
fn notify_failure(error: &notify::SetupError) -> Outcome {
    let exit = match error {
        notify::SetupError::Transport(_) => Exit::Failure,
        _ => Exit::Config,
    };
    Outcome::failure(exit, format!("error: {error}"))
}

/// One daemon per account, sharing one shutdown token and the sinks: the notifiers, and the
/// metrics when `with_metrics`. Each takes its state's lock, unless it only plans (a dry run
/// reads the state and writes nothing).
fn build_daemons(
    config: &Config,
    force_dry_run: bool,
    env: EnvLookup<'_>,
    heartbeat: bool,
    with_metrics: bool,
) -> Result<(Vec<Daemon>, Option<Arc<Metrics>>), Outcome> {
    let targets = notify::targets(&config.notify, env, notify::Timeouts::default())
        .map_err(|e| notify_failure(&e))?;
    let notifiers = Arc::new(Notifiers::start(targets, DeliveryOptions::default()));
    let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
    let metrics = with_metrics.then(|| Arc::new(Metrics::new(&names, notifiers.stats())));
    let mut sinks: Vec<Arc<dyn TickSink>> = Vec::new();
    if !notifiers.is_empty() {
        sinks.push(notifiers);
    }
    if let Some(metrics) = &metrics {
        sinks.push(Arc::clone(metrics) as Arc<dyn TickSink>);
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut daemons = Vec::new();
    for account in &config.accounts {
        let mut options = account_client_options(account, env).map_err(|e| {
            Outcome::failure(
                Exit::Config,
                format!("error: account {}: {e}", account.name),
            )
        })?;
        if let Some(metrics) = &metrics {
            options.on_request = Some(metrics.request_observer(&account.name));
        }
        let settings = Settings::for_account(config, &account.name, force_dry_run);
        if settings.dry_run
            && let Credentials::RefreshToken { store, .. } = &mut options.credentials
        {
            // A dry run writes nothing: the rotated token is not kept (the one it started
            // from stays valid, Cloudreve does not invalidate a used refresh token).
            *store = None;
        }
        let client = Client::new(options).map_err(|e| build_failure(&e, account))?;
        let state_file = &account.state_file;
        let state = if settings.dry_run {
            // A dry run writes nothing, so it needs no lock and runs beside the service.
            StateStore::read_only(state_file)
                .map_err(|e| Outcome::failure(Exit::Failure, format!("error: {e}")))?
        } else {
            let (state, warnings) = StateStore::open(state_file)
                .map_err(|e| Outcome::failure(Exit::Failure, format!("error: {e}")))?;
            for warning in warnings {
                tracing::warn!(account = %account.name, "{warning}");
            }
            state
        };
        let heartbeat: Option<PathBuf> = heartbeat.then(|| daemon::heartbeat_path(state_file));
        daemons.push(
            Daemon::new(client, settings, state, heartbeat)
                .for_account(&account.name)
                .with_shutdown(shutdown.clone())
                .with_sinks(sinks.clone()),
        );
    }
    Ok((daemons, metrics))
}

/// The servers of OAuth accounts, asked their version: OAuth needs 4.12 (exit 78 otherwise),
/// and before 4.16.1 the token is not limited (a warning at every start).
async fn check_servers(daemons: &[Arc<Daemon>]) -> Result<(), Outcome> {
    for daemon in daemons {
        oauth::check_server(daemon.client(), daemon.account())
            .await
            .map_err(|e| Outcome::failure(Exit::Config, format!("error: {e}")))?;
    }
    Ok(())
}

async fn once(path: &std::path::Path, dry_run: bool, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let config = match once_lists(config, path, env, dry_run).await {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    crate::rules_watch::log_inactive_lists(&config);
    let daemons: Vec<Arc<Daemon>> = match build_daemons(&config, dry_run, env, false, false) {
        Ok((daemons, _)) => daemons.into_iter().map(Arc::new).collect(),
        Err(outcome) => return outcome,
    };
    if let Err(outcome) = check_servers(&daemons).await {
        return outcome;
    }
    // Every account at once: one slow server does not hold up the others.
    let reports = tick_all(&daemons).await;
    let notified_by = tokio::time::Instant::now() + Duration::from_secs(10);
    for daemon in &daemons {
        daemon.flush_sinks(notified_by).await;
    }
    let several = daemons.len() > 1;
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut exit = Exit::Success;
    for (daemon, report) in daemons.iter().zip(&reports) {
        let daemon: &Daemon = daemon;
        let account = if several {
            format!("account {}: ", daemon.account())
        } else {
            String::new()
        };
        if daemon.settings().dry_run {
            for plan in report.plans.iter().filter(|p| {
                p.changes().is_some() || matches!(p.outcome, crate::plan::Outcome::Refused(_))
            }) {
                let _ = writeln!(stdout, "{}", plan.render());
            }
            let _ = writeln!(
                stdout,
                "{account}dry run: {}; nothing was sent",
                report.summary()
            );
        }
        if !report.succeeded() {
            exit = Exit::Failure;
        }
        let line = match (&report.error, report.failed(), &report.state_error) {
            (Some(e), _, _) => format!("error: {account}{e}"),
            (None, 0, None) => continue,
            (None, 0, Some(e)) => format!("error: {account}{e}"),
            (None, failed, _) => format!(
                "error: {account}{failed} task(s) could not be changed or may not have been; see the log"
            ),
        };
        if !stderr.is_empty() {
            stderr.push('\n');
        }
        stderr.push_str(&line);
    }
    Outcome {
        exit,
        stdout,
        stderr,
    }
}

/// One tick of every daemon, concurrently; the reports in the daemons' order.
async fn tick_all(daemons: &[Arc<Daemon>]) -> Vec<daemon::TickReport> {
    let mut set = tokio::task::JoinSet::new();
    for (n, daemon) in daemons.iter().enumerate() {
        let daemon = Arc::clone(daemon);
        set.spawn(async move { (n, daemon.tick().await) });
    }
    let mut reports: Vec<(usize, daemon::TickReport)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(report) => reports.push(report),
            Err(e) => tracing::error!(error = %e, "a tick task ended abnormally"),
        }
    }
    reports.sort_by_key(|(n, _)| *n);
    reports.into_iter().map(|(_, report)| report).collect()
}

async fn run(path: &std::path::Path, dry_run: bool, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let (daemons, metrics) =
        match build_daemons(&config, dry_run, env, true, config.metrics.is_some()) {
            Ok((daemons, metrics)) => (
                daemons
                    .into_iter()
                    .map(Arc::new)
                    .collect::<Vec<Arc<Daemon>>>(),
                metrics,
            ),
            Err(outcome) => return outcome,
        };
    if let Err(outcome) = check_servers(&daemons).await {
        return outcome;
    }
    if let (Some(listen), Some(metrics), Some(first)) = (
        config.metrics.as_ref().map(|m| m.listen),
        metrics,
        daemons.first(),
    ) {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                return Outcome::failure(
                    Exit::Failure,
                    format!("error: could not listen on metrics.listen {listen}: {e}"),
                );
            }
        };
        let addr = listener.local_addr().unwrap_or(listen);
        tracing::info!(url = %format!("http://{addr}/metrics"), "serving metrics");
        // The daemons share one shutdown token.
        let shutdown = first.shutdown_token();
        tokio::spawn(async move {
            if let Err(e) = crate::metrics::serve(listener, metrics, shutdown).await {
                tracing::error!(error = %e, "the metrics endpoint stopped");
            }
        });
    }
    for lint in &config.lints {
        tracing::warn!("{}", lint.render(path));
    }
    for daemon in &daemons {
        let account = config.accounts.iter().find(|a| a.name == daemon.account());
        tracing::info!(
            config = %path.display(),
            account = daemon.account(),
            rules = config.rules.rules().len(),
            state_file = %account.map_or_else(|| config.daemon.state_file.display().to_string(), |a| a.state_file.display().to_string()),
            dry_run = daemon.settings().dry_run,
            "cloudreve-autoselect starting"
        );
    }
    let reload_path = path.to_owned();
    let options = RunOptions {
        config,
        reload: Box::new(move || config::load(&reload_path, &process_env)),
        force_dry_run: dry_run,
        grace: Duration::from_secs(20),
    };
    match daemon::run(daemons, options).await {
        Ok(RunExit::Stopped) => Outcome::success(String::new()),
        Ok(RunExit::Forced) => Outcome::failure(
            Exit::Interrupted,
            "stopped at once by a second signal".to_owned(),
        ),
        Err(e) => Outcome::failure(Exit::Failure, format!("error: {e}")),
    }
}

#[cfg(feature = "demo")]
async fn demo() -> Outcome {
    match crate::demo::run().await {
        Ok(report) => Outcome::success(report),
        Err(e) => Outcome::failure(Exit::Failure, format!("error: {e}")),
    }
}

#[cfg(not(feature = "demo"))]
async fn demo() -> Outcome {
    Outcome::failure(
        Exit::Failure,
        "error: this build has no demo; rebuild with the `demo` feature".to_owned(),
    )
}

fn stats(path: &std::path::Path, json: bool, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let mut states = Vec::new();
    for account in &config.accounts {
        match StateStore::read_only(&account.state_file) {
            Ok(state) => states.push((account, state)),
            Err(e) => return Outcome::failure(Exit::Failure, format!("error: {e}")),
        }
    }
    let totals: Vec<(&str, &crate::state::Stats)> = states
        .iter()
        .map(|(account, state)| (account.name.as_str(), state.stats()))
        .collect();
    if json {
        return Outcome::success(crate::stats::json(&totals));
    }
    let tables: Vec<String> = states
        .iter()
        .map(|(account, state)| {
            crate::stats::table(state.stats(), &account.name, &account.state_file)
        })
        .collect();
    Outcome::success(tables.join("\n"))
}

async fn notify_test(path: &std::path::Path, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    if config.notify.is_empty() {
        return Outcome::failure(
            Exit::Failure,
            format!(
                "error: {} has no [[notify]] table; nothing to test",
                path.display()
            ),
        );
    }
    let targets = match notify::targets(&config.notify, env, notify::Timeouts::default()) {
        Ok(targets) => targets,
        Err(e) => return notify_failure(&e),
    };
    let accounts: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
    let results = notify::test_all(&targets, &accounts.join(", ")).await;
    let mut stdout = String::new();
    let mut failed = 0;
    for (target, result) in targets.iter().zip(&results) {
        let (name, kind, origin) = (target.name(), target.kind(), target.origin());
        match result {
            Ok(()) => {
                let _ = writeln!(stdout, "ok: {name} ({kind}, {origin})");
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(stdout, "failed: {name} ({kind}, {origin}): {e}");
            }
        }
    }
    if failed == 0 {
        return Outcome::success(stdout);
    }
    Outcome {
        exit: Exit::Failure,
        stdout,
        stderr: format!("error: {failed} of {} notifiers failed", targets.len()),
    }
}

fn healthcheck(path: &std::path::Path, max_age: Option<Duration>, env: EnvLookup<'_>) -> Outcome {
    let config = match config::load(path, env) {
        Ok(config) => config,
        Err(e) => return Outcome::failure(Exit::Failure, format!("unhealthy: {e}")),
    };
    let now = chrono::Utc::now();
    let max_age = max_age
        .unwrap_or_else(|| crate::healthcheck::default_max_age(&config.daemon.schedule, now));
    let several = config.accounts.len() > 1;
    let mut healthy = Vec::new();
    let mut unhealthy = Vec::new();
    for account in &config.accounts {
        let heartbeat = daemon::heartbeat_path(&account.state_file);
        let prefix = if several {
            format!("account {}: ", account.name)
        } else {
            String::new()
        };
        match crate::healthcheck::check(&heartbeat, max_age, now) {
            Ok(line) => healthy.push(format!("{prefix}{line}")),
            Err(line) => unhealthy.push(format!("{prefix}{line}")),
        }
    }
    if unhealthy.is_empty() {
        Outcome::success(format!("{}\n", healthy.join("\n")))
    } else {
        Outcome {
            exit: Exit::Failure,
            stdout: healthy.iter().fold(String::new(), |mut out, line| {
                out.push_str(line);
                out.push('\n');
                out
            }),
            stderr: unhealthy.join("\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    fn refresh_token_of(options: &ClientOptions) -> (String, PathBuf) {
        match &options.credentials {
            Credentials::RefreshToken { token, store, .. } => (
                token.expose_secret().to_owned(),
                store.clone().unwrap_or_default(),
            ),
            _ => panic!("expected a refresh token"),
        }
    }

    #[test]
    fn refresh_token_credential_continues_from_its_rotation_and_password_wins() {
        let dir = tempfile::tempdir().unwrap();
        let credentials = dir.path().join("credentials");
        std::fs::create_dir(&credentials).unwrap();
        let token_file = credentials.join("cloudreve-autoselect_refresh-token");
        std::fs::write(&token_file, "first\n").unwrap();
        let text = format!(
            "[server]\nurl = \"https://cloud.example.com\"\nemail = \"bot@example.com\"\n[daemon]\nstate_file = \"{}\"\n",
            dir.path().join("state.json").display()
        );
        let creds_dir = credentials.to_str().unwrap().to_owned();
        let env = move |key: &str| (key == "CREDENTIALS_DIRECTORY").then(|| creds_dir.clone());
        let config = config::parse(&text, std::path::Path::new("rules.toml"), &env).unwrap();

        let (token, store) = refresh_token_of(&client_options(&config, &env).unwrap());
        assert_eq!(token, "first");
        // The client rotates the token; systemd copies the credential again at the next start,
        // newer than the rotation: the rotation still wins.
        std::fs::write(&store, "rotated").unwrap();
        std::fs::write(&token_file, "first\n").unwrap();
        assert_eq!(
            refresh_token_of(&client_options(&config, &env).unwrap()),
            ("rotated".to_owned(), store.clone())
        );
        // The operator delivers a new token: it starts afresh.
        std::fs::write(&token_file, "second\n").unwrap();
        let (token, new_store) = refresh_token_of(&client_options(&config, &env).unwrap());
        assert_eq!(token, "second");
        assert_ne!(new_store, store);
        // A password beside it wins.
        std::fs::write(credentials.join("cloudreve-autoselect_password"), "pw\n").unwrap();
        assert!(matches!(
            client_options(&config, &env).unwrap().credentials,
            Credentials::Password(_)
        ));
    }

    #[test]
    fn fingerprint_is_fnv1a() {
        // Published FNV-1a 64 test vectors: the name must not change between builds.
        assert_eq!(fingerprint(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fingerprint("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fingerprint("foobar"), 0x8594_4171_f739_67e8);
    }
}
