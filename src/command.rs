//! The subcommands. Each returns what to print and how to exit; only `main` prints and exits.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::{Cli, Command};
use crate::cloudreve::{Client, ClientOptions};
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
        Err(e) => return Outcome::failure(Exit::Failure, format!("error: {e}")),
    };
    let tasks = match client.list_downloading().await {
        Ok(tasks) => tasks,
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

/// Client options from a config, with the password resolved.
pub fn client_options(
    config: &Config,
    env: EnvLookup<'_>,
) -> Result<ClientOptions, config::PasswordError> {
    let password = config::resolve_password(&config.server.password, env)?;
    let mut options = ClientOptions::new(
        config.server.api_base.clone(),
        config.server.email.clone(),
        password,
    );
    options.timeout = config.server.timeout;
    options.connect_timeout = config.server.connect_timeout;
    options.retries = config.server.retries;
    Ok(options)
}

fn build_daemon(
    config: &Config,
    force_dry_run: bool,
    env: EnvLookup<'_>,
    heartbeat: bool,
) -> Result<Daemon, Outcome> {
    let options = client_options(config, env)
        .map_err(|e| Outcome::failure(Exit::Config, format!("error: {e}")))?;
    let client =
        Client::new(options).map_err(|e| Outcome::failure(Exit::Failure, format!("error: {e}")))?;
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
        let _ = writeln!(
            stdout,
            "dry run: {} task(s) seen, {} eligible, {} PATCH(es) would be sent ({} file(s) deselected, {} selected), {} refused; nothing was sent",
            report.seen,
            report.eligible,
            report.patched,
            report.deselected,
            report.selected,
            report.refused
        );
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
