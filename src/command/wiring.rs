//! The wiring that builds daemons: one client per account, the notifiers and metrics as sinks,
//! and how a build failure exits.

use std::path::PathBuf;
use std::sync::Arc;

use super::oauth;
use super::{Exit, Output};
use crate::account::account_client_options;
use crate::cloudreve::{BuildError, Client, Credentials};
use crate::config::{self, Config, EnvLookup};
use crate::daemon::{self, Daemon, Settings};
use crate::metrics::Metrics;
use crate::notify::{self, DeliveryOptions, Notifiers};
use crate::sink::TickSink;
use crate::state::StateStore;

/// A CA file without certificates is a config problem (78); anything else is a failure.
pub(super) fn build_failure(error: &BuildError, account: &config::Account) -> Output {
    let exit = match error {
        BuildError::CaFile(_) => Exit::Config,
        BuildError::Http(_) => Exit::Failure,
    };
    Output::failure(exit, format!("error: {}", build_error_text(error, account)))
}

/// A client build error, naming the account's CA file when it is the culprit.
pub(super) fn build_error_text(error: &BuildError, account: &config::Account) -> String {
    match (error, &account.server.ca_file) {
        (BuildError::CaFile(detail), Some(path)) => format!(
            "server.ca_file {} holds no usable PEM certificate: {detail}",
            path.display()
        ),
        _ => error.to_string(),
    }
}

/// A notifier's secret is a config problem (78); the HTTP client a failure.
pub(super) fn notify_failure(error: &notify::NotifierSetupError) -> Output {
    let exit = match error {
        notify::NotifierSetupError::Transport(_) => Exit::Failure,
        _ => Exit::Config,
    };
    Output::failure(exit, format!("error: {error}"))
}

/// One daemon per account, sharing one shutdown token and the sinks: the notifiers, and the
/// metrics when `with_metrics`. Each takes its state's lock, unless it only plans (a dry run
/// reads the state and writes nothing).
pub(super) fn build_daemons(
    config: &Config,
    force_dry_run: bool,
    env: EnvLookup<'_>,
    heartbeat: bool,
    with_metrics: bool,
) -> Result<(Vec<Daemon>, Option<Arc<Metrics>>), Output> {
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
            Output::failure(
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
                .map_err(|e| Output::failure(Exit::Failure, format!("error: {e}")))?
        } else {
            let (state, warnings) = StateStore::open(state_file)
                .map_err(|e| Output::failure(Exit::Failure, format!("error: {e}")))?;
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
pub(super) async fn check_servers(daemons: &[Arc<Daemon>]) -> Result<(), Output> {
    for daemon in daemons {
        oauth::check_server(daemon.client(), daemon.account())
            .await
            .map_err(|e| Output::failure(Exit::Config, format!("error: {e}")))?;
    }
    Ok(())
}
