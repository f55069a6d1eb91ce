//! The subcommands. Each returns what to print and how to exit; only `main` prints and exits.

use crate::cli::{Cli, Command};
use crate::config::{self, Config, EnvLookup};

mod check;
mod demo;
mod explain;
mod forget;
mod healthcheck;
pub mod login;
mod notify_test;
pub mod oauth;
mod once;
mod run;
mod sources;
mod stats;
mod wiring;

use check::check;
use demo::demo;
use explain::{explain_live, explain_task_json, explain_torrent};
use healthcheck::healthcheck;
use notify_test::notify_test;
use once::once;
use run::run;
use stats::stats;

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
pub struct Output {
    /// How to exit.
    pub exit: Exit,
    /// For stdout.
    pub stdout: String,
    /// For stderr (errors that end the command).
    pub stderr: String,
}

impl Output {
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
pub async fn execute(cli: Cli, env: EnvLookup<'_>) -> Output {
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| config::default_config_path(env));
    match cli.command {
        Command::Check {
            lint,
            expect,
            rules_only,
        } => check(&config_path, lint, expect.as_deref(), rules_only, env).await,
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
                (None, None) => Output::failure(
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
        } => login::command(&config_path, account.as_deref(), open, code, env).await,
        Command::Forget { task_id, account } => {
            forget::forget(&config_path, &task_id, account.as_deref(), env)
        }
    }
}

pub(crate) fn load(path: &std::path::Path, env: EnvLookup<'_>) -> Result<Config, Output> {
    match config::load(path, env) {
        Ok(config) => {
            for warning in &config.warnings {
                tracing::warn!("{warning}");
            }
            Ok(config)
        }
        Err(e) => Err(Output::failure(Exit::Config, format!("error: {e}"))),
    }
}

/// The account `--account NAME` names (the first one without it), or the failure that lists
/// the accounts there are.
fn choose_account<'a>(
    config: &'a crate::config::Config,
    name: Option<&str>,
) -> Result<&'a crate::config::Account, Output> {
    let chosen = match name {
        None => config.accounts.first(),
        Some(name) => config.accounts.iter().find(|a| a.name == name),
    };
    chosen.ok_or_else(|| {
        let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
        Output::failure(
            Exit::Failure,
            format!(
                "error: no account {:?}; the accounts are {}",
                name.unwrap_or_default(),
                names.join(", ")
            ),
        )
    })
}
