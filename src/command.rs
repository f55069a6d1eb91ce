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
use crate::state::StateStore;

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
        Command::Check { lint } => check(&config_path, lint, env),
        Command::Explain { task_id, task_json } => match load(&config_path, env) {
            Ok(config) => match (task_json, task_id) {
                (Some(file), _) => match crate::explain::explain_file(&file, &config.rules) {
                    Ok(text) => Outcome::success(text),
                    Err(e) => Outcome::failure(Exit::Failure, format!("error: {e}")),
                },
                (None, Some(id)) => explain_live(&config, &id, env).await,
                (None, None) => Outcome::failure(
                    Exit::Failure,
                    "error: give a TASK_ID or --task-json FILE".to_owned(),
                ),
            },
            Err(outcome) => outcome,
        },
        Command::Once { dry_run } => once(&config_path, dry_run, env).await,
        Command::Run { dry_run } => run(&config_path, dry_run, env).await,
        Command::Demo => demo().await,
        Command::Healthcheck { max_age } => healthcheck(&config_path, max_age, env),
    }
}

fn load(path: &std::path::Path, env: EnvLookup<'_>) -> Result<Config, Outcome> {
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

fn check(path: &std::path::Path, strict: bool, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
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
    if config.daemon.dry_run {
        out.push_str("; dry run");
    }
    if !config.lints.is_empty() {
        let _ = write!(out, "; {} warning(s)", config.lints.len());
    }
    out.push('\n');
    let exit = if strict && !config.lints.is_empty() {
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

async fn explain_live(config: &Config, task_id: &str, env: EnvLookup<'_>) -> Outcome {
    let options = match client_options(config, env) {
        Ok(options) => options,
        Err(e) => return Outcome::failure(Exit::Config, format!("error: {e}")),
    };
    let client = match Client::new(options) {
        Ok(client) => client,
        Err(e) => return build_failure(&e),
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
                config.server.email
            ),
        );
    };
    // Show what the daemon already sent, read from its state file without changing it.
    let decided = StateStore::read_only(&config.daemon.state_file).decided(&task.id);
    Outcome::success(crate::plan::plan(task, &config.rules, &decided).render())
}

/// The client could not be set up from the config.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No usable password.
    #[error(transparent)]
    Password(#[from] config::PasswordError),
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
        read(store)?
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

/// Client options from a config: credentials, CA certificates, timeouts.
pub fn client_options(config: &Config, env: EnvLookup<'_>) -> Result<ClientOptions, SetupError> {
    let credentials = match &config.server.refresh_token_file {
        Some(file) => {
            let store = refresh_token_store(&config.daemon.state_file);
            Credentials::RefreshToken {
                token: initial_refresh_token(file, &store)?,
                store: Some(store),
                source_file: file.clone(),
            }
        }
        None => Credentials::Password(config::resolve_password(&config.server.password, env)?),
    };
    let mut options = ClientOptions::new(
        config.server.api_base.clone(),
        config.server.email.clone(),
        SecretString::from(String::new()),
    );
    options.credentials = credentials;
    if let Some(ca_file) = &config.server.ca_file {
        options.extra_roots_pem = std::fs::read(ca_file).map_err(|source| SetupError::Read {
            key: "server.ca_file",
            path: ca_file.clone(),
            source,
        })?;
    }
    options.accept_invalid_certs = config.server.accept_invalid_certs;
    options.timeout = config.server.timeout;
    options.connect_timeout = config.server.connect_timeout;
    options.retries = config.server.retries;
    Ok(options)
}

/// A CA file without certificates is a config problem (78); anything else is a failure.
fn build_failure(error: &BuildError) -> Outcome {
    let exit = match error {
        BuildError::CaFile(_) => Exit::Config,
        BuildError::Http(_) => Exit::Failure,
    };
    Outcome::failure(exit, format!("error: {error}"))
}

fn build_daemon(
    config: &Config,
    force_dry_run: bool,
    env: EnvLookup<'_>,
    heartbeat: bool,
) -> Result<Daemon, Outcome> {
    let options = client_options(config, env)
        .map_err(|e| Outcome::failure(Exit::Config, format!("error: {e}")))?;
    let client = Client::new(options).map_err(|e| build_failure(&e))?;
    let (state, warnings) = StateStore::load(&config.daemon.state_file);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let heartbeat: Option<PathBuf> =
        heartbeat.then(|| daemon::heartbeat_path(&config.daemon.state_file));
    Ok(Daemon::new(
        client,
        Settings::from_config(config, force_dry_run),
        state,
        heartbeat,
    ))
}

async fn once(path: &std::path::Path, dry_run: bool, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let daemon = match build_daemon(&config, dry_run, env, false) {
        Ok(daemon) => daemon,
        Err(outcome) => return outcome,
    };
    let report = daemon.tick().await;
    let mut stdout = String::new();
    if daemon.settings().dry_run {
        for plan in report.plans.iter().filter(|p| {
            p.changes().is_some() || matches!(p.outcome, crate::plan::Outcome::Refused(_))
        }) {
            let _ = writeln!(stdout, "{}", plan.render());
        }
        let _ = writeln!(stdout, "dry run: {}; nothing was sent", report.summary());
    }
    let exit = if report.succeeded() {
        Exit::Success
    } else {
        Exit::Failure
    };
    let stderr = match (&report.error, report.failed) {
        (Some(e), _) => format!("error: {e}"),
        (None, 0) => String::new(),
        (None, failed) => format!("error: {failed} task(s) could not be changed; see the log"),
    };
    Outcome {
        exit,
        stdout,
        stderr,
    }
}

async fn run(path: &std::path::Path, dry_run: bool, env: EnvLookup<'_>) -> Outcome {
    let config = match load(path, env) {
        Ok(config) => config,
        Err(outcome) => return outcome,
    };
    let daemon = match build_daemon(&config, dry_run, env, true) {
        Ok(daemon) => Arc::new(daemon),
        Err(outcome) => return outcome,
    };
    for lint in &config.lints {
        tracing::warn!("{}", lint.render(path));
    }
    tracing::info!(
        config = %path.display(),
        rules = config.rules.rules().len(),
        state_file = %config.daemon.state_file.display(),
        dry_run = daemon.settings().dry_run,
        "cloudreve-autoselect starting"
    );
    let reload_path = path.to_owned();
    let options = RunOptions {
        config,
        reload: Box::new(move || config::load(&reload_path, &process_env)),
        force_dry_run: dry_run,
        grace: Duration::from_secs(20),
    };
    match daemon::run(daemon, options).await {
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

fn healthcheck(path: &std::path::Path, max_age: Duration, env: EnvLookup<'_>) -> Outcome {
    let config = match config::load(path, env) {
        Ok(config) => config,
        Err(e) => return Outcome::failure(Exit::Failure, format!("unhealthy: {e}")),
    };
    let heartbeat = daemon::heartbeat_path(&config.daemon.state_file);
    match crate::healthcheck::check(&heartbeat, max_age, chrono::Utc::now()) {
        Ok(line) => Outcome::success(format!("{line}\n")),
        Err(line) => Outcome::failure(Exit::Failure, line),
    }
}
